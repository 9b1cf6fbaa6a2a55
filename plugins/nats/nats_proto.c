/* nats_proto.c - names, keys, values and NATS's JSON answers, pure. See nats_proto.h. */
#include "nats_proto.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/hex.h"

/* ---- subjects and names ------------------------------------------------------------- */

int
skt_np_subjects(const char *prefix, char *out[3])
{
    static const char *const tail[3] = {"", "#comms#req", "#comms#res"};
    int has = prefix && *prefix;
    for (int i = 0; i < 3; i++) {
        size_t n = (has ? strlen(prefix) + 1 : 0) + strlen("nats-adapter") + strlen(tail[i]) + 1;
        if (!(out[i] = malloc(n))) {
            while (i-- > 0)
                free(out[i]);
            return -1;
        }
        snprintf(out[i], n, "%s%snats-adapter%s", has ? prefix : "", has ? "#" : "", tail[i]);
    }
    return 0;
}

/* 1 for the bytes a bucket name and a key token keep as they are. */
static int
np_plain(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

char *
skt_np_bucket(const char *subject, const char *what)
{
    size_t n = strlen(subject), w = strlen(what);
    char *b = malloc(n + 1 + w + 1);
    if (!b)
        return NULL;
    for (size_t i = 0; i < n; i++)
        b[i] = np_plain((unsigned char)subject[i]) ? subject[i] : '_';
    b[n] = '-';
    memcpy(b + n + 1, what, w + 1);
    return b;
}

char *
skt_np_token(const char *s)
{
    size_t n = strlen(s);
    char *t = malloc(n * 3 + 2);
    if (!t)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (np_plain(c)) {
            t[o++] = (char)c;
        } else {
            t[o++] = '=';
            t[o++] = skt_hex_digit(c >> 4, 1);
            t[o++] = skt_hex_digit(c, 1);
        }
    }
    if (o == 0)
        t[o++] = '='; /* a token cannot be empty; "=" alone is no escape */
    t[o] = '\0';
    return t;
}

/* bucket is a name skt_np_bucket made: nothing in it needs escaping in JSON. */
char *
skt_np_bucket_config(const char *bucket, long max_age_s, int replicas)
{
    static const char fmt[] =
        "{\"name\":\"KV_%s\",\"subjects\":[\"$KV.%s.>\"],\"max_age\":%lld,"
        "\"max_msgs_per_subject\":1,\"storage\":\"memory\",\"duplicate_window\":1000000000,"
        "\"allow_direct\":true,\"allow_rollup_hdrs\":true,\"deny_delete\":true,"
        "\"num_replicas\":%d}";
    size_t n = sizeof(fmt) + 2 * strlen(bucket) + 48;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, fmt, bucket, bucket, (long long)max_age_s * 1000000000LL,
                 replicas > 0 ? replicas : 1);
    return s;
}

char *
skt_np_connz_request(const char *subject)
{
    json_t *o = json_pack("{s:s, s:i}", "filter_subject", subject, "limit", 100000);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

/* ---- answers ------------------------------------------------------------------------ */

/* text as a JSON object, or NULL. */
static json_t *
np_object(const char *json, size_t len)
{
    json_t *o = json && len ? json_loadb(json, len, 0, NULL) : NULL;
    if (o && !json_is_object(o)) {
        json_decref(o);
        o = NULL;
    }
    return o;
}

/* Reads o's "error" object, if any: 1 with its code and description, else 0. */
static int
np_error_of(const json_t *o, long *err_code, char *desc, size_t desclen)
{
    json_t *e = json_object_get(o, "error");
    if (!json_is_object(e))
        return 0;
    json_t *code = json_object_get(e, "err_code");
    if (!json_is_integer(code))
        code = json_object_get(e, "code");
    *err_code = json_is_integer(code) ? (long)json_integer_value(code) : 0;
    if (desc && desclen) {
        const char *d = json_string_value(json_object_get(e, "description"));
        snprintf(desc, desclen, "%s", d ? d : "no description");
    }
    return 1;
}

int
skt_np_api_error(const char *json, size_t len, long *err_code, char *desc, size_t desclen)
{
    json_t *o = np_object(json, len);
    if (!o)
        return -1;
    int rv = np_error_of(o, err_code, desc, desclen);
    json_decref(o);
    return rv;
}

int
skt_np_puback(const char *json, size_t len, uint64_t *seq, long *err_code)
{
    json_t *o = np_object(json, len);
    if (!o)
        return -1;
    int rv = -1;
    json_t *s = json_object_get(o, "seq");
    if (np_error_of(o, err_code, NULL, 0))
        rv = 1;
    else if (json_is_integer(s) && json_integer_value(s) > 0) {
        *seq = (uint64_t)json_integer_value(s);
        rv = 0;
    }
    json_decref(o);
    return rv;
}

long
skt_np_connz_count(const char *json, size_t len)
{
    json_t *o = np_object(json, len);
    json_t *n = json_object_get(json_object_get(o, "data"), "num_connections");
    long rv = json_is_integer(n) && json_integer_value(n) >= 0 ? (long)json_integer_value(n) : -1;
    json_decref(o);
    return rv;
}

/* ---- holders ------------------------------------------------------------------------ */

char *
skt_np_holders_key(const char *app_id, const char *channel, const char *user_id)
{
    int presence = user_id && strncmp(channel, "presence-", 9) == 0;
    char *a = skt_np_token(app_id), *c = skt_np_token(channel);
    char *u = user_id && !presence ? skt_np_token(user_id) : NULL;
    char *k = NULL;
    if (a && c && (u || !user_id || presence)) {
        size_t n = strlen(a) + strlen(c) + (u ? strlen(u) : 0) + 8;
        if ((k = malloc(n)))
            snprintf(k, n, "%s.%s.%s%s%s",
                     !user_id   ? "o"
                     : presence ? "p"
                                : "u",
                     a, c, u ? "." : "", u ? u : "");
    }
    free(a);
    free(c);
    free(u);
    return k;
}

json_t *
skt_np_holders_load(const char *value, size_t len, int64_t now_ms)
{
    json_t *in = np_object(value, len);
    json_t *out = json_object();
    const char *user, *node;
    json_t *nodes, *exp;
    if (!out) {
        json_decref(in);
        return NULL;
    }
    json_object_foreach(in, user, nodes)
    {
        json_t *kept = json_is_object(nodes) ? json_object() : NULL;
        json_object_foreach(nodes, node, exp)
        {
            if (kept && json_is_integer(exp) && json_integer_value(exp) > now_ms)
                json_object_set(kept, node, exp);
        }
        if (kept && json_object_size(kept) > 0)
            json_object_set(out, user, kept);
        json_decref(kept);
    }
    json_decref(in);
    return out;
}

long
skt_np_others(const json_t *holders, const char *user, const char *node)
{
    json_t *nodes = json_object_get(holders, user);
    long n = (long)json_object_size(nodes);
    return json_object_get(nodes, node) ? n - 1 : n;
}

/* 1 when user is one of mine[0..n). */
static int
np_listed(const char *user, const char *const *mine, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(mine[i], user) == 0)
            return 1;
    return 0;
}

size_t
skt_np_users(const json_t *holders, const char *node, const char *const *mine, size_t n)
{
    size_t users = n;
    const char *user;
    json_t *nodes;
    json_object_foreach((json_t *)holders, user, nodes)
    {
        if (!np_listed(user, mine, n) && skt_np_others(holders, user, node) > 0)
            users++;
    }
    return users;
}

int
skt_np_hold(json_t *holders, const char *node, const char *const *mine, size_t n,
            int64_t expires_ms)
{
    const char *user;
    json_t *nodes;
    void *tmp;
    json_object_foreach_safe(holders, tmp, user, nodes)
    {
        json_object_del(nodes, node);
        if (json_object_size(nodes) == 0)
            json_object_del(holders, user);
    }
    for (size_t i = 0; i < n; i++) {
        nodes = json_object_get(holders, mine[i]);
        if (!nodes) {
            if (!(nodes = json_object()) || json_object_set_new(holders, mine[i], nodes) != 0)
                return -1;
        }
        if (json_object_set_new(nodes, node, json_integer(expires_ms)) != 0)
            return -1;
    }
    return 0;
}

char *
skt_np_holders_dump(const json_t *holders)
{
    return json_dumps(holders, JSON_COMPACT | JSON_SORT_KEYS);
}

/* ---- rate limit windows ------------------------------------------------------------- */

void
skt_np_window_load(const char *value, size_t len, skt_np_window_t *w)
{
    json_t *o = np_object(value, len);
    json_t *p = json_object_get(o, "p"), *e = json_object_get(o, "e");
    w->used = 0;
    w->end_ms = 0;
    if (json_is_integer(p) && json_is_integer(e) && json_integer_value(p) >= 0) {
        w->used = (long)json_integer_value(p);
        w->end_ms = (int64_t)json_integer_value(e);
    }
    json_decref(o);
}

void
skt_np_window_consume(skt_np_window_t *w, long points, long window_ms, int64_t now_ms, long *used,
                      long *ms_left)
{
    if (w->end_ms <= now_ms) {
        w->used = 0;
        w->end_ms = now_ms + (window_ms > 0 ? window_ms : 1);
    }
    w->used = points > 0 && w->used > __LONG_MAX__ - points ? __LONG_MAX__ : w->used + points;
    *used = w->used;
    *ms_left = (long)(w->end_ms - now_ms);
}

size_t
skt_np_window_dump(const skt_np_window_t *w, char *buf, size_t size)
{
    int n = snprintf(buf, size, "{\"p\":%ld,\"e\":%" PRId64 "}", w->used, w->end_ms);
    return n > 0 && (size_t)n < size ? (size_t)n : 0;
}
