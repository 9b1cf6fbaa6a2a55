/* cluster_slots.c - Redis Cluster routing as pure functions: key slots, the slot map from
 * CLUSTER SLOTS, MOVED/ASK errors, and the seed node list. See cluster_slots.h.
 */
#include "cluster_slots.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- key slots ------------------------------------------------------------------------ */

uint16_t
skt_rcs_crc16(const char *buf, size_t len)
{
    uint16_t crc = 0;
    for (size_t i = 0; i < len; i++) {
        crc ^= (uint16_t)((uint16_t)(unsigned char)buf[i] << 8);
        for (int bit = 0; bit < 8; bit++)
            crc = (uint16_t)(crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1);
    }
    return crc;
}

unsigned
skt_rcs_key_slot(const char *key, size_t len)
{
    const char *open = memchr(key, '{', len);
    if (open) {
        size_t from = (size_t)(open - key) + 1;
        const char *close = memchr(key + from, '}', len - from);
        if (close && close > key + from)
            return skt_rcs_crc16(key + from, (size_t)(close - (key + from))) & (SKT_RCS_SLOTS - 1);
    }
    return skt_rcs_crc16(key, len) & (SKT_RCS_SLOTS - 1);
}

/* ---- addresses ------------------------------------------------------------------------ */

/* A port from n bytes of decimal text, or -1. */
static int
parse_port(const char *s, size_t n)
{
    if (n == 0 || n > 5)
        return -1;
    int port = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        port = port * 10 + (s[i] - '0');
    }
    return port >= 1 && port <= 65535 ? port : -1;
}

/* Splits "host:port", "[v6]:port" or "host" (n bytes) into a host span and a port
 * (default_port when none is given). Returns 0 or -1. */
static int
split_host_port(const char *s, size_t n, const char **host, size_t *host_len, int *port,
                int default_port)
{
    if (n && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close)
            return -1;
        *host = s + 1;
        *host_len = (size_t)(close - s) - 1;
        size_t rest = n - (size_t)(close - s) - 1;
        if (rest == 0) {
            *port = default_port;
        } else if (close[1] != ':' || (*port = parse_port(close + 2, rest - 1)) < 0) {
            return -1;
        }
        return *host_len ? 0 : -1;
    }
    const char *colon = NULL;
    for (size_t i = n; i-- > 0;)
        if (s[i] == ':') {
            colon = s + i;
            break;
        }
    /* more than one colon without brackets: a bare IPv6 address, no port */
    if (colon && memchr(s, ':', (size_t)(colon - s)))
        colon = NULL;
    *host = s;
    if (!colon) {
        *host_len = n;
        *port = default_port;
    } else {
        *host_len = (size_t)(colon - s);
        if ((*port = parse_port(colon + 1, n - *host_len - 1)) < 0)
            return -1;
    }
    return *host_len ? 0 : -1;
}

int
skt_rcs_parse_addr(const char *s, skt_rcs_addr_t *out)
{
    memset(out, 0, sizeof(*out));
    size_t n = strlen(s);
    const char *host;
    size_t host_len;
    int port;
    if (n == 0)
        return -1;
    if (strspn(s, "0123456789") == n) {
        if ((port = parse_port(s, n)) < 0)
            return -1;
        host = "127.0.0.1";
        host_len = strlen(host);
    } else {
        const char *scheme = strstr(s, "://");
        if (scheme) {
            if (!((scheme - s == 5 && strncmp(s, "redis", 5) == 0) ||
                  (scheme - s == 6 && strncmp(s, "rediss", 6) == 0)))
                return -1;
            s = scheme + 3;
            size_t end = strcspn(s, "/?#");
            const char *at = memchr(s, '@', end);
            if (at) {
                end -= (size_t)(at + 1 - s);
                s = at + 1;
            }
            n = end;
        }
        if (split_host_port(s, n, &host, &host_len, &port, SKT_RCS_DEFAULT_PORT) != 0)
            return -1;
    }
    if (!(out->host = strndup(host, host_len)))
        return -1;
    out->port = port;
    return 0;
}

void
skt_rcs_addrs_free(skt_rcs_addr_t *addrs, size_t n)
{
    for (size_t i = 0; addrs && i < n; i++)
        free(addrs[i].host);
    free(addrs);
}

/* Reads one clusterNodes item into out. Returns 0, or -1 with err filled. */
static int
seed_from_json(const json_t *item, size_t i, skt_rcs_addr_t *out, char *err, size_t errlen)
{
    if (json_is_string(item)) {
        if (skt_rcs_parse_addr(json_string_value(item), out) == 0)
            return 0;
        snprintf(err, errlen, "clusterNodes[%zu] \"%s\" is not host:port", i,
                 json_string_value(item));
        return -1;
    }
    if (json_is_integer(item)) {
        json_int_t p = json_integer_value(item);
        if (p < 1 || p > 65535 || !(out->host = strdup("127.0.0.1"))) {
            snprintf(err, errlen, "clusterNodes[%zu] is not a TCP port", i);
            return -1;
        }
        out->port = (int)p;
        return 0;
    }
    if (!json_is_object(item)) {
        snprintf(err, errlen, "clusterNodes[%zu] must be \"host:port\" or {\"host\", \"port\"}", i);
        return -1;
    }
    const json_t *h = json_object_get(item, "host"), *p = json_object_get(item, "port");
    const char *host = "127.0.0.1";
    int port = SKT_RCS_DEFAULT_PORT;
    if (h && !json_is_null(h)) {
        if (!json_is_string(h) || !*json_string_value(h)) {
            snprintf(err, errlen, "clusterNodes[%zu].host must be a non-empty string", i);
            return -1;
        }
        host = json_string_value(h);
    }
    if (p && !json_is_null(p)) {
        if (json_is_integer(p) && json_integer_value(p) >= 1 && json_integer_value(p) <= 65535)
            port = (int)json_integer_value(p);
        else if (!json_is_string(p) ||
                 (port = parse_port(json_string_value(p), strlen(json_string_value(p)))) < 0) {
            snprintf(err, errlen, "clusterNodes[%zu].port is not a TCP port", i);
            return -1;
        }
    }
    if (!(out->host = strdup(host))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    out->port = port;
    return 0;
}

int
skt_rcs_parse_seeds(const char *json_text, skt_rcs_addr_t **out, size_t *n, char *err,
                    size_t errlen)
{
    *out = NULL;
    *n = 0;
    json_error_t jerr;
    json_t *arr = json_loads(json_text, JSON_DECODE_ANY, &jerr);
    if (!json_is_array(arr)) {
        snprintf(err, errlen, "clusterNodes must be a JSON array of nodes");
        json_decref(arr);
        return -1;
    }
    size_t count = json_array_size(arr), got = 0;
    skt_rcs_addr_t *addrs = count ? calloc(count, sizeof(*addrs)) : NULL;
    if (count && !addrs) {
        snprintf(err, errlen, "out of memory");
        json_decref(arr);
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        skt_rcs_addr_t a;
        memset(&a, 0, sizeof(a));
        if (seed_from_json(json_array_get(arr, i), i, &a, err, errlen) != 0) {
            skt_rcs_addrs_free(addrs, got);
            json_decref(arr);
            return -1;
        }
        int dup = 0;
        for (size_t j = 0; j < got && !dup; j++)
            dup = addrs[j].port == a.port && strcmp(addrs[j].host, a.host) == 0;
        if (dup)
            free(a.host);
        else
            addrs[got++] = a;
    }
    json_decref(arr);
    *out = addrs;
    *n = got;
    return 0;
}

/* ---- the slot map --------------------------------------------------------------------- */

void
skt_rcs_map_free(skt_rcs_map_t *map)
{
    if (!map)
        return;
    for (size_t i = 0; i < map->n_nodes; i++) {
        free(map->nodes[i].host);
        free(map->nodes[i].id);
    }
    free(map->nodes);
    free(map);
}

long
skt_rcs_map_find(const skt_rcs_map_t *map, const char *host, int port)
{
    for (size_t i = 0; i < map->n_nodes; i++)
        if (map->nodes[i].port == port && strcmp(map->nodes[i].host, host) == 0)
            return (long)i;
    return -1;
}

const skt_rcs_node_t *
skt_rcs_map_owner(const skt_rcs_map_t *map, unsigned slot)
{
    if (slot >= SKT_RCS_SLOTS || map->owner[slot] < 0)
        return NULL;
    return &map->nodes[map->owner[slot]];
}

/* Adds (or finds) the node a CLUSTER SLOTS node entry describes. Returns its index, -1
 * when the entry is malformed, -2 when it is to be left out (unknown endpoint), -3 when
 * memory ran out. */
static long
map_node(skt_rcs_map_t *map, const redisReply *e, const char *asked_host, size_t *cap)
{
    if (e->type != REDIS_REPLY_ARRAY || e->elements < 2 ||
        e->element[0]->type != REDIS_REPLY_STRING || e->element[1]->type != REDIS_REPLY_INTEGER)
        return -1;
    const char *host = e->element[0]->str;
    long long port = e->element[1]->integer;
    if (strcmp(host, "?") == 0)
        return -2;
    if (!*host)
        host = asked_host;
    if (!host || !*host || port < 1 || port > 65535)
        return -1;
    long found = skt_rcs_map_find(map, host, (int)port);
    if (found >= 0)
        return found;
    if (map->n_nodes == *cap) {
        size_t ncap = *cap ? *cap * 2 : 8;
        if (ncap > INT16_MAX)
            return -1;
        skt_rcs_node_t *grown = realloc(map->nodes, ncap * sizeof(*grown));
        if (!grown)
            return -3;
        map->nodes = grown;
        *cap = ncap;
    }
    skt_rcs_node_t *n = &map->nodes[map->n_nodes];
    memset(n, 0, sizeof(*n));
    n->port = (int)port;
    n->host = strdup(host);
    n->id = strdup(
        e->elements >= 3 && e->element[2]->type == REDIS_REPLY_STRING ? e->element[2]->str : "");
    if (!n->host || !n->id) {
        free(n->host);
        free(n->id);
        return -3;
    }
    return (long)map->n_nodes++;
}

skt_rcs_map_t *
skt_rcs_map_parse(const redisReply *reply, const char *asked_host, const char **why)
{
    *why = "not a CLUSTER SLOTS reply";
    if (!reply || reply->type != REDIS_REPLY_ARRAY)
        return NULL;
    skt_rcs_map_t *map = calloc(1, sizeof(*map));
    if (!map) {
        *why = "out of memory";
        return NULL;
    }
    for (size_t s = 0; s < SKT_RCS_SLOTS; s++)
        map->owner[s] = -1;
    size_t cap = 0;
    for (size_t r = 0; r < reply->elements; r++) {
        const redisReply *range = reply->element[r];
        if (range->type != REDIS_REPLY_ARRAY || range->elements < 3 ||
            range->element[0]->type != REDIS_REPLY_INTEGER ||
            range->element[1]->type != REDIS_REPLY_INTEGER)
            goto bad;
        long long from = range->element[0]->integer, to = range->element[1]->integer;
        if (from < 0 || to < from || to >= SKT_RCS_SLOTS)
            goto bad;
        long master = -2;
        for (size_t k = 2; k < range->elements; k++) {
            long idx = map_node(map, range->element[k], asked_host, &cap);
            if (idx == -1)
                goto bad;
            if (idx == -3) {
                *why = "out of memory";
                goto fail;
            }
            if (k == 2)
                master = idx;
        }
        if (master < 0)
            continue; /* the master's address is unknown: these slots have no owner */
        map->nodes[master].master = 1;
        for (long long s = from; s <= to; s++) {
            if (map->owner[s] < 0)
                map->covered++;
            map->owner[s] = (int16_t)master;
        }
    }
    if (map->covered == 0) {
        *why = "no slot is served (is the cluster created?)";
        goto fail;
    }
    *why = NULL;
    return map;
bad:
    *why = "malformed CLUSTER SLOTS reply";
fail:
    skt_rcs_map_free(map);
    return NULL;
}

/* ---- redirections --------------------------------------------------------------------- */

int
skt_rcs_parse_redirect(const char *err, size_t len, const char *asked_host, skt_rcs_redirect_t *out)
{
    memset(out, 0, sizeof(*out));
    size_t word;
    if (len > 6 && memcmp(err, "MOVED ", 6) == 0) {
        out->kind = SKT_RCS_MOVED;
        word = 6;
    } else if (len > 4 && memcmp(err, "ASK ", 4) == 0) {
        out->kind = SKT_RCS_ASK;
        word = 4;
    } else {
        return -1;
    }
    const char *p = err + word, *end = err + len;
    const char *space = memchr(p, ' ', (size_t)(end - p));
    if (!space || space == p || space - p > 5)
        return -1;
    unsigned slot = 0;
    for (const char *c = p; c < space; c++) {
        if (*c < '0' || *c > '9')
            return -1;
        slot = slot * 10 + (unsigned)(*c - '0');
    }
    if (slot >= SKT_RCS_SLOTS)
        return -1;
    const char *addr = space + 1;
    size_t addr_len = (size_t)(end - addr);
    /* the port follows the last colon; whatever is before it (possibly "") is the host */
    const char *colon = NULL;
    for (size_t i = addr_len; i-- > 0;)
        if (addr[i] == ':') {
            colon = addr + i;
            break;
        }
    if (!colon)
        return -1;
    int port = parse_port(colon + 1, (size_t)(end - colon - 1));
    size_t host_len = (size_t)(colon - addr);
    if (port < 0)
        return -1;
    if (host_len >= 2 && addr[0] == '[' && addr[host_len - 1] == ']') {
        addr++;
        host_len -= 2;
    }
    if (host_len == 0) {
        if (!asked_host || !*asked_host)
            return -1;
        addr = asked_host;
        host_len = strlen(asked_host);
    }
    if (host_len >= sizeof(out->host) || memchr(addr, ' ', host_len))
        return -1;
    memcpy(out->host, addr, host_len);
    out->host[host_len] = '\0';
    out->slot = slot;
    out->port = port;
    return 0;
}
