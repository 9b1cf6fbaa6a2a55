/* sql_row.c - a row's columns as a JSON object text, and quoted table names (sql_row.h). */
#include "sql_row.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

void
skt_sql_row_begin(skt_sql_row_t *r, size_t max)
{
    skt_jw_init(&r->w, NULL, 0, max);
    r->columns = 0;
    skt_jw_lit(&r->w, "{");
}

/* Digits: at least one; answers where they end. */
static size_t
digits(const char *s, size_t i, size_t len, int *any)
{
    size_t start = i;
    while (i < len && s[i] >= '0' && s[i] <= '9')
        i++;
    *any = i > start;
    return i;
}

int
skt_sql_is_json_number(const char *s, size_t len)
{
    size_t i = 0;
    int any;
    if (i < len && s[i] == '-')
        i++;
    if (i < len && s[i] == '0')
        i++;
    else if (i < len && s[i] >= '1' && s[i] <= '9')
        i = digits(s, i, len, &any);
    else
        return 0;
    if (i < len && s[i] == '.') {
        i = digits(s, i + 1, len, &any);
        if (!any)
            return 0;
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        i = digits(s, i, len, &any);
        if (!any)
            return 0;
    }
    return i == len;
}

/* A string when it is UTF-8 (jansson refuses anything else), else null. */
static void
add_text(skt_jw_t *w, const char *text, size_t len)
{
    json_t *s = json_stringn(text, len);
    if (s)
        skt_jw_str(w, text, len);
    else
        skt_jw_lit(w, "null");
    json_decref(s);
}

static void
add_json(skt_jw_t *w, const char *text, size_t len)
{
    json_t *v = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (v)
        skt_jw_json(w, v);
    else
        add_text(w, text, len);
    json_decref(v);
}

static int
is_true(const char *t, size_t len)
{
    return (len == 1 && (t[0] == 't' || t[0] == '1')) || (len == 4 && memcmp(t, "true", 4) == 0);
}

void
skt_sql_row_add(skt_sql_row_t *r, const char *name, size_t name_len, skt_sql_kind_t kind,
                const char *text, size_t len)
{
    if (r->columns++)
        skt_jw_lit(&r->w, ",");
    skt_jw_str(&r->w, name, name_len);
    skt_jw_lit(&r->w, ":");
    switch (kind) {
    case SKT_SQL_NULL:
        skt_jw_lit(&r->w, "null");
        break;
    case SKT_SQL_NUMBER:
        if (skt_sql_is_json_number(text, len))
            skt_jw_raw(&r->w, text, len);
        else
            add_text(&r->w, text, len);
        break;
    case SKT_SQL_BOOL:
        skt_jw_bool(&r->w, is_true(text, len));
        break;
    case SKT_SQL_JSON:
        add_json(&r->w, text, len);
        break;
    case SKT_SQL_TEXT:
    default:
        add_text(&r->w, text, len);
        break;
    }
}

const char *
skt_sql_row_end(skt_sql_row_t *r, size_t *len)
{
    skt_jw_lit(&r->w, "}");
    return skt_jw_cstr(&r->w, len);
}

void
skt_sql_row_free(skt_sql_row_t *r)
{
    skt_jw_free(&r->w);
}

char *
skt_sql_quote_table(skt_sql_quote_t style, const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0)
        return NULL;
    /* Worst case: every byte a quote (doubled), plus two quotes per part. */
    char *out = malloc(n * 4 + 3);
    if (!out)
        return NULL;
    char q = (char)style, *o = out;
    *o++ = q;
    for (size_t i = 0; i < n; i++) {
        if (name[i] == '.') {
            *o++ = q;
            *o++ = '.';
            *o++ = q;
        } else {
            if (name[i] == q)
                *o++ = q;
            *o++ = name[i];
        }
    }
    *o++ = q;
    *o = '\0';
    return out;
}
