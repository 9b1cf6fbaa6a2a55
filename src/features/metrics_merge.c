/* metrics_merge.c - sums Prometheus texts per family and sample (metrics_merge.h). */
#include "features/metrics_merge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "features/metrics.h"
#include "util/map.h"

typedef struct mm_sample_s {
    char *key; /* "name{labels}" */
    double value;
    struct mm_sample_s *next; /* in its family, in order */
} mm_sample_t;

typedef struct mm_family_s {
    char *name;
    char *help; /* the whole "# HELP ..." line, or NULL */
    char *type; /* the whole "# TYPE ..." line, or NULL */
    int keep_min;
    mm_sample_t *first, **tail;
    struct mm_family_s *next;
} mm_family_t;

typedef struct mm_s {
    skt_map_t *families, *samples;
    mm_family_t *first, **tail;
    int oom;
} mm_t;

static int
ends_with(const char *s, size_t len, const char *suffix)
{
    size_t sl = strlen(suffix);
    return len >= sl && memcmp(s + len - sl, suffix, sl) == 0;
}

static mm_family_t *
mm_family(mm_t *m, const char *name, size_t len)
{
    mm_family_t *f = skt_map_get(m->families, name, len);
    if (f)
        return f;
    if (!(f = calloc(1, sizeof(*f))) || !(f->name = strndup(name, len)) ||
        skt_map_put(m->families, f->name, len, f) != 0) {
        if (f)
            free(f->name);
        free(f);
        m->oom = 1;
        return NULL;
    }
    f->keep_min = ends_with(name, len, "process_start_time_seconds");
    f->tail = &f->first;
    *m->tail = f;
    m->tail = &f->next;
    return f;
}

/* "# HELP name ..." or "# TYPE name ...": the family, its line kept when first seen. */
static mm_family_t *
mm_comment(mm_t *m, const char *line, size_t len)
{
    int help = len > 7 && memcmp(line, "# HELP ", 7) == 0;
    if (!help && !(len > 7 && memcmp(line, "# TYPE ", 7) == 0))
        return NULL;
    const char *name = line + 7, *end = memchr(name, ' ', len - 7);
    size_t nlen = end ? (size_t)(end - name) : len - 7;
    mm_family_t *f = nlen ? mm_family(m, name, nlen) : NULL;
    char **slot = f ? (help ? &f->help : &f->type) : NULL;
    if (slot && !*slot && !(*slot = strndup(line, len)))
        m->oom = 1;
    return f;
}

static void
mm_sample(mm_t *m, mm_family_t *f, const char *line, size_t len)
{
    const char *sp = line + len;
    while (sp > line && sp[-1] != ' ')
        sp--;
    if (sp <= line + 1)
        return;
    size_t klen = (size_t)(sp - 1 - line);
    char num[64], *end;
    size_t vlen = (size_t)(line + len - sp);
    if (vlen == 0 || vlen >= sizeof(num))
        return;
    memcpy(num, sp, vlen);
    num[vlen] = 0;
    double v = strtod(num, &end);
    if (*end)
        return;
    if (!f) {
        size_t nlen = strcspn(line, "{ ");
        if (!(f = mm_family(m, line, nlen < klen ? nlen : klen)))
            return;
    }
    mm_sample_t *s = skt_map_get(m->samples, line, klen);
    if (s) {
        s->value = f->keep_min ? (v < s->value ? v : s->value) : s->value + v;
        return;
    }
    if (!(s = calloc(1, sizeof(*s))) || !(s->key = strndup(line, klen)) ||
        skt_map_put(m->samples, s->key, klen, s) != 0) {
        if (s)
            free(s->key);
        free(s);
        m->oom = 1;
        return;
    }
    s->value = v;
    *f->tail = s;
    f->tail = &s->next;
}

static void
mm_text(mm_t *m, const char *text)
{
    mm_family_t *cur = NULL;
    for (const char *p = text; *p && !m->oom;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len && p[0] == '#') {
            mm_family_t *f = mm_comment(m, p, len);
            cur = f ? f : cur; /* other comments are left out */
        } else if (len) {
            mm_sample(m, cur, p, len);
        }
        p += len + (nl ? 1 : 0);
    }
}

/* Appends the families to out (open_memstream). */
static void
mm_write(const mm_t *m, FILE *out)
{
    for (const mm_family_t *f = m->first; f; f = f->next) {
        if (f->help)
            fprintf(out, "%s\n", f->help);
        if (f->type)
            fprintf(out, "%s\n", f->type);
        for (const mm_sample_t *s = f->first; s; s = s->next) {
            char num[SKT_METRICS_NUMBER_MAX];
            skt_metrics_number(s->value, num);
            fprintf(out, "%s %s\n", s->key, num);
        }
        fputc('\n', out);
    }
}

static void
mm_free(mm_t *m)
{
    for (mm_family_t *f = m->first, *fn; f; f = fn) {
        fn = f->next;
        for (mm_sample_t *s = f->first, *sn; s; s = sn) {
            sn = s->next;
            free(s->key);
            free(s);
        }
        free(f->name);
        free(f->help);
        free(f->type);
        free(f);
    }
    skt_map_free(m->families);
    skt_map_free(m->samples);
}

char *
skt_metrics_merge(const char *const *texts, size_t n)
{
    mm_t m = {.families = skt_map_new(), .samples = skt_map_new()};
    m.tail = &m.first;
    m.oom = !m.families || !m.samples;
    for (size_t i = 0; i < n && !m.oom; i++)
        mm_text(&m, texts[i]);
    char *out = NULL;
    size_t out_len = 0;
    FILE *f = m.oom ? NULL : open_memstream(&out, &out_len);
    if (f) {
        mm_write(&m, f);
        if (fclose(f) != 0) {
            free(out);
            out = NULL;
        }
    }
    mm_free(&m);
    return out;
}
