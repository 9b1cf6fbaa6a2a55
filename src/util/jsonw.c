/* jsonw.c - a JSON text writer: messages written straight into one buffer (jsonw.h). */
#include "util/jsonw.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/hex.h"

void
skt_jw_init(skt_jw_t *w, char *buf, size_t cap, size_t max)
{
    memset(w, 0, sizeof(*w));
    w->p = w->stack = buf;
    w->cap = w->stack_cap = buf ? cap : 0;
    w->max = max;
}

void
skt_jw_free(skt_jw_t *w)
{
    if (w->p != w->stack)
        free(w->p);
    w->p = w->stack;
    w->cap = w->stack_cap;
    w->len = 0;
}

void
skt_jw_reset(skt_jw_t *w)
{
    w->len = 0;
    w->nested = 0;
    w->failed = 0;
    if (w->p)
        w->p[0] = '\0';
}

void
skt_jw_trim(skt_jw_t *w, size_t max_keep)
{
    if (w->p != w->stack && w->cap > max_keep)
        skt_jw_free(w);
    skt_jw_reset(w);
}

/* Makes room for n more bytes plus a NUL. Returns 0, or -1 with w->failed set. */
static int
jw_room(skt_jw_t *w, size_t n)
{
    if (w->failed)
        return -1;
    if (n > SIZE_MAX / 4 || (w->max && w->len + n > w->max)) {
        w->failed = 1;
        return -1;
    }
    if (w->len + n + 1 <= w->cap)
        return 0;
    size_t ncap = w->cap > 256 ? w->cap : 256;
    while (ncap < w->len + n + 1)
        ncap *= 2;
    char *np = w->p == w->stack ? malloc(ncap) : realloc(w->p, ncap);
    if (!np) {
        w->failed = 1;
        return -1;
    }
    if (w->p == w->stack && w->len)
        memcpy(np, w->stack, w->len);
    w->p = np;
    w->cap = ncap;
    return 0;
}

/* Appends n bytes as they are. */
static void
jw_append(skt_jw_t *w, const char *s, size_t n)
{
    if (n == 0 || jw_room(w, n) != 0)
        return;
    memcpy(w->p + w->len, s, n);
    w->len += n;
    w->p[w->len] = '\0';
}

/* The escape sequence of byte c inside a JSON string, or 0 when c needs none (jansson's
 * and JSON.stringify's rule: '"', '\\' and the control characters). */
static size_t
jw_escape(const skt_jw_t *w, unsigned char c, char out[6])
{
    if (c >= 0x20 && c != '"' && c != '\\')
        return 0;
    out[0] = '\\';
    switch (c) {
    case '"':
    case '\\':
        out[1] = (char)c;
        return 2;
    case '\b':
        out[1] = 'b';
        return 2;
    case '\f':
        out[1] = 'f';
        return 2;
    case '\n':
        out[1] = 'n';
        return 2;
    case '\r':
        out[1] = 'r';
        return 2;
    case '\t':
        out[1] = 't';
        return 2;
    default:
        memcpy(out + 1, "u00", 3);
        out[4] = skt_hex_digit(c >> 4, !w->lower_hex);
        out[5] = skt_hex_digit(c, !w->lower_hex);
        return 6;
    }
}

typedef void (*jw_sink_fn)(skt_jw_t *w, const char *s, size_t n);

/* Writes n bytes as the content of a JSON string through sink: runs that need no escaping
 * go in one piece, each other byte as its escape sequence. */
static void
jw_escape_into(skt_jw_t *w, const char *s, size_t n, jw_sink_fn sink)
{
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        char esc[6];
        size_t el = jw_escape(w, (unsigned char)s[i], esc);
        if (!el)
            continue;
        sink(w, s + run, i - run);
        sink(w, esc, el);
        run = i + 1;
    }
    sink(w, s + run, n - run);
}

/* Writes bytes of JSON text: as they are, or escaped once more inside a text value. */
static void
jw_put(skt_jw_t *w, const char *s, size_t n)
{
    if (w->nested)
        jw_escape_into(w, s, n, jw_append);
    else
        jw_append(w, s, n);
}

void
skt_jw_raw(skt_jw_t *w, const char *s, size_t n)
{
    jw_put(w, s, n);
}

/* 1 when s[0..n) is an integer's text as jansson and JavaScript write one. */
static int
jw_integer_text(const char *s, size_t n)
{
    size_t i = n && s[0] == '-';
    if (n == i || n - i > 19)
        return 0;
    for (; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

void
skt_jw_id(skt_jw_t *w, const char *s, size_t n, int as_number)
{
    if (as_number && jw_integer_text(s, n))
        jw_put(w, s, n);
    else
        skt_jw_str(w, s, n);
}

void
skt_jw_lit(skt_jw_t *w, const char *s)
{
    jw_put(w, s, strlen(s));
}

void
skt_jw_str(skt_jw_t *w, const char *s, size_t n)
{
    /* Inside a text value the escaped string goes through jw_put, escaped once more. */
    jw_put(w, "\"", 1);
    jw_escape_into(w, s, n, jw_put);
    jw_put(w, "\"", 1);
}

void
skt_jw_cstr_value(skt_jw_t *w, const char *s)
{
    skt_jw_str(w, s, strlen(s));
}

void
skt_jw_int(skt_jw_t *w, long long v)
{
    char num[24];
    int n = snprintf(num, sizeof(num), "%lld", v);
    jw_put(w, num, (size_t)n);
}

void
skt_jw_bool(skt_jw_t *w, int v)
{
    skt_jw_lit(w, v ? "true" : "false");
}

/* json_dump_callback's sink: the dumped text goes through jw_put like any other. */
static int
jw_dump_cb(const char *buffer, size_t size, void *data)
{
    skt_jw_t *w = data;
    jw_put(w, buffer, size);
    return w->failed ? -1 : 0;
}

void
skt_jw_json(skt_jw_t *w, const json_t *v)
{
    if (!v) {
        skt_jw_lit(w, "null");
        return;
    }
    if (json_dump_callback(v, jw_dump_cb, w,
                           JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER) != 0)
        w->failed = 1;
}

void
skt_jw_key(skt_jw_t *w, const char *key, int first)
{
    if (!first)
        jw_put(w, ",", 1);
    skt_jw_cstr_value(w, key);
    jw_put(w, ":", 1);
}

void
skt_jw_text_begin(skt_jw_t *w)
{
    jw_put(w, "\"", 1);
    w->nested++;
}

void
skt_jw_text_end(skt_jw_t *w)
{
    if (w->nested)
        w->nested--;
    jw_put(w, "\"", 1);
}

const char *
skt_jw_cstr(skt_jw_t *w, size_t *len)
{
    if (w->failed || jw_room(w, 0) != 0)
        return NULL;
    w->p[w->len] = '\0';
    if (len)
        *len = w->len;
    return w->p;
}
