/* jsonw.c - a JSON text writer: messages written straight into one buffer (jsonw.h). */
#include "util/jsonw.h"

#include <float.h>
#include <math.h>
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
    if (w->count_only) {
        w->len += n;
        return;
    }
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

/* Splits d (finite, not 0) into the shortest decimal digits that read back as d (the
 * closest such, as ECMAScript's Number::toString picks them) and the exponent n of
 * 0.d1d2...dk x 10^n; the digits' count. At most 15 digits read back as one double only
 * (DBL_DIG), so if 15 correctly rounded digits read back, they are the shortest once their
 * trailing zeros are cut; else 16 or 17 digits, the closest of each count: three tries at
 * the most, whatever the text a client sends (a subnormal, whose digits are fewer, tries
 * from 1). */
static int
jw_shortest(double d, char digits[18], int *n)
{
    char e[32];
    for (int p = (d < 0 ? -d : d) < DBL_MIN ? 1 : 15; p <= 17; p++) { /* subnormals hold fewer */
        snprintf(e, sizeof(e), "%.*e", p - 1, d);
        if (p == 17 || strtod(e, NULL) == d)
            break;
    }
    int k = 0;
    const char *s = e + (e[0] == '-');
    for (; *s && *s != 'e'; s++)
        if (*s != '.')
            digits[k++] = *s;
    while (k > 1 && digits[k - 1] == '0')
        k--;
    *n = atoi(s + 1) + 1;
    return k;
}

void
skt_jw_real(skt_jw_t *w, double d)
{
    if (!isfinite(d) || d == 0) { /* JSON.stringify: NaN and ±Infinity are null, -0 is 0 */
        skt_jw_lit(w, isfinite(d) ? "0" : "null");
        return;
    }
    char digits[18], out[40];
    int n, k = jw_shortest(d, digits, &n);
    size_t o = 0;
    if (d < 0)
        out[o++] = '-';
    if (k <= n && n <= 21) { /* 1234500 */
        memcpy(out + o, digits, (size_t)k);
        memset(out + o + k, '0', (size_t)(n - k));
        o += (size_t)n;
    } else if (0 < n && n <= 21) { /* 12.345 */
        memcpy(out + o, digits, (size_t)n);
        out[o + (size_t)n] = '.';
        memcpy(out + o + n + 1, digits + n, (size_t)(k - n));
        o += (size_t)k + 1;
    } else if (-6 < n && n <= 0) { /* 0.00012345 */
        memcpy(out + o, "0.", 2);
        memset(out + o + 2, '0', (size_t)-n);
        memcpy(out + o + 2 - n, digits, (size_t)k);
        o += (size_t)(2 - n + k);
    } else { /* 1.2345e+21, 1e-7 */
        out[o++] = digits[0];
        if (k > 1) {
            out[o++] = '.';
            memcpy(out + o, digits + 1, (size_t)k - 1);
            o += (size_t)k - 1;
        }
        o += (size_t)snprintf(out + o, sizeof(out) - o, "e%c%d", n - 1 < 0 ? '-' : '+', abs(n - 1));
    }
    jw_put(w, out, o);
}

void
skt_jw_json(skt_jw_t *w, const json_t *v)
{
    const char *key;
    size_t klen, i;
    json_t *item;
    int first = 1;
    switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_OBJECT: /* iterating does not change the object */
        jw_put(w, "{", 1);
        json_object_keylen_foreach((json_t *)v, key, klen, item)
        {
            if (!first)
                jw_put(w, ",", 1);
            first = 0;
            skt_jw_str(w, key, klen);
            jw_put(w, ":", 1);
            skt_jw_json(w, item);
        }
        jw_put(w, "}", 1);
        break;
    case JSON_ARRAY:
        jw_put(w, "[", 1);
        json_array_foreach(v, i, item)
        {
            if (i)
                jw_put(w, ",", 1);
            skt_jw_json(w, item);
        }
        jw_put(w, "]", 1);
        break;
    case JSON_STRING:
        skt_jw_str(w, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        skt_jw_int(w, (long long)json_integer_value(v));
        break;
    case JSON_REAL:
        skt_jw_real(w, json_real_value(v));
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        skt_jw_bool(w, json_is_true(v));
        break;
    case JSON_NULL:
        skt_jw_lit(w, "null");
        break;
    }
}

size_t
skt_jw_json_len(const json_t *v)
{
    skt_jw_t w = {.count_only = 1};
    skt_jw_json(&w, v);
    return w.len;
}

char *
skt_jw_dump(const json_t *v, size_t *len)
{
    skt_jw_t w;
    skt_jw_init(&w, NULL, 0, 0);
    skt_jw_json(&w, v);
    size_t n = 0;
    const char *text = skt_jw_cstr(&w, &n);
    if (!text) {
        skt_jw_free(&w);
        return NULL;
    }
    if (len)
        *len = n;
    return w.p; /* on the heap: the writer started without a buffer */
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
