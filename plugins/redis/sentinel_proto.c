/* sentinel_proto.c - Redis Sentinel as pure functions: the configured sentinels and the
 * replies of sentinels and masters. See sentinel_proto.h.
 */
#include "sentinel_proto.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Copies a host name of len bytes into addr->host. Returns 0, or -1 when it is empty, too
 * long, or holds a space or a control character (nothing a resolver would take). */
static int
set_host(skt_rsen_addr_t *addr, const char *s, size_t len)
{
    if (len == 0 || len > SKT_RSEN_HOST_MAX)
        return -1;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
            return -1;
    memcpy(addr->host, s, len);
    addr->host[len] = '\0';
    return 0;
}

/* A TCP port from len bytes of decimal digits. Returns it, or -1. */
static long
parse_port(const char *s, size_t len)
{
    long port = 0;
    if (len == 0 || len > 5)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        port = port * 10 + (s[i] - '0');
    }
    return port >= 1 && port <= 65535 ? port : -1;
}

/* ---- the configuration -------------------------------------------------------------- */

/* Reads one entry of the sentinels array. Returns 0, or -1 with the reason in err. */
static int
parse_sentinel(json_t *e, size_t i, skt_rsen_addr_t *out, char *err, size_t errlen)
{
    if (!json_is_object(e)) {
        snprintf(err, errlen, "database.redis.sentinels[%zu] is not an object", i);
        return -1;
    }
    json_t *h = json_object_get(e, "host"), *p = json_object_get(e, "port");
    const char *host = "localhost";
    if (h && !json_is_null(h)) {
        if (!json_is_string(h)) {
            snprintf(err, errlen, "database.redis.sentinels[%zu].host is not a string", i);
            return -1;
        }
        host = json_string_value(h);
    }
    if (set_host(out, host, strlen(host)) != 0) {
        snprintf(err, errlen, "database.redis.sentinels[%zu].host is not a host name", i);
        return -1;
    }
    out->port = SKT_RSEN_DEFAULT_PORT;
    if (json_is_integer(p))
        out->port = json_integer_value(p) >= 1 && json_integer_value(p) <= 65535
                        ? (long)json_integer_value(p)
                        : -1;
    else if (json_is_string(p))
        out->port = parse_port(json_string_value(p), json_string_length(p));
    else if (p && !json_is_null(p))
        out->port = -1;
    if (out->port < 0) {
        snprintf(err, errlen, "database.redis.sentinels[%zu].port is not a TCP port", i);
        return -1;
    }
    return 0;
}

int
skt_rsen_parse_sentinels(const char *json_text, skt_rsen_addr_t *out, int max, char *err,
                         size_t errlen)
{
    if (!json_text || !*json_text || strcmp(json_text, "null") == 0)
        return 0;
    json_error_t jerr;
    json_t *a = json_loads(json_text, JSON_DECODE_ANY, &jerr);
    int n = -1;
    if (!a) {
        snprintf(err, errlen, "database.redis.sentinels is not JSON: %s", jerr.text);
    } else if (json_is_null(a)) {
        n = 0;
    } else if (!json_is_array(a)) {
        snprintf(err, errlen, "database.redis.sentinels must be an array of {host, port}");
    } else if (json_array_size(a) > (size_t)max) {
        snprintf(err, errlen,
                 "database.redis.sentinels lists %zu sentinels, at most %d are "
                 "supported",
                 json_array_size(a), max);
    } else {
        n = (int)json_array_size(a);
        for (int i = 0; i < n; i++)
            if (parse_sentinel(json_array_get(a, (size_t)i), (size_t)i, &out[i], err, errlen)) {
                n = -1;
                break;
            }
    }
    json_decref(a);
    return n;
}

/* ---- replies ------------------------------------------------------------------------ */

int
skt_rsen_parse_master_reply(const redisReply *reply, skt_rsen_addr_t *addr)
{
    if (!reply)
        return SKT_RSEN_MALFORMED;
    if (reply->type == REDIS_REPLY_NIL)
        return SKT_RSEN_UNKNOWN;
    if (reply->type == REDIS_REPLY_ERROR)
        return SKT_RSEN_REFUSED;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
        reply->element[0]->type != REDIS_REPLY_STRING ||
        reply->element[1]->type != REDIS_REPLY_STRING)
        return SKT_RSEN_MALFORMED;
    const redisReply *h = reply->element[0], *p = reply->element[1];
    long port = parse_port(p->str, p->len);
    if (port < 0 || set_host(addr, h->str, h->len) != 0)
        return SKT_RSEN_MALFORMED;
    addr->port = port;
    return SKT_RSEN_FOUND;
}

int
skt_rsen_parse_switch(const char *msg, size_t len, const char *name, skt_rsen_addr_t *addr)
{
    /* five fields separated by single spaces */
    const char *field[5];
    size_t flen[5];
    size_t at = 0;
    for (int i = 0; i < 5; i++) {
        size_t start = at;
        while (at < len && msg[at] != ' ')
            at++;
        field[i] = msg + start;
        flen[i] = at - start;
        if (flen[i] == 0 || (i < 4 && at == len))
            return -1;
        if (i < 4)
            at++; /* the space */
    }
    if (at != len)
        return -1;
    skt_rsen_addr_t next;
    long port = parse_port(field[4], flen[4]);
    if (port < 0 || parse_port(field[2], flen[2]) < 0 || set_host(&next, field[3], flen[3]) != 0)
        return -1;
    if (strlen(name) != flen[0] || memcmp(name, field[0], flen[0]) != 0)
        return 0;
    next.port = port;
    *addr = next;
    return 1;
}

int
skt_rsen_parse_role(const redisReply *reply, char *role, size_t rolelen)
{
    if (role && rolelen)
        snprintf(role, rolelen, "?");
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 ||
        reply->element[0]->type != REDIS_REPLY_STRING)
        return -1;
    const redisReply *r = reply->element[0];
    if (role && rolelen)
        snprintf(role, rolelen, "%.*s", (int)(r->len < 32 ? r->len : 32), r->str);
    return r->len == 6 && memcmp(r->str, "master", 6) == 0 ? 1 : 0;
}
