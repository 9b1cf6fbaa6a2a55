/* fuzz_redis_reply.c - libFuzzer target: what the Redis plugins read from Redis replies and
 * from their configuration (plugins/redis/store_proto.h, cluster_slots.h,
 * sentinel_proto.h).
 *
 * The first byte picks the mode:
 *   0-5  RESP bytes, read with hiredis's reader (arrays bounded, see huge_array());
 *        every reply goes through the store's readers (occupancy, rate limit, GET, NOSCRIPT),
 *        the CLUSTER SLOTS map, Sentinel's readers (the master's address, ROLE, and a
 *        +switch-master payload in any string, alone or in an array), and, for an error
 *        reply, the MOVED/ASK parser;
 *   6    a database.redis.clusterNodes value (JSON text) for skt_rcs_parse_seeds, and the
 *        same text as database.redis.sentinels for skt_rsen_parse_sentinels;
 *   7    one seed address for skt_rcs_parse_addr.
 * Checks: the readers' outputs are in range, a slot map's owners index its nodes and it
 * covers as many slots as it says; a redirect's slot is a slot; addresses have a host and a
 * port in 1-65535 (Sentinel's: a host of printable bytes without spaces).
 */
#include "fuzz.h"

#include "cluster_slots.h"
#include "sentinel_proto.h"
#include "store_proto.h"

/* Replies read from one input at most. */
#define FZ_REPLIES 32

static void
check_map(const redisReply *reply)
{
    const char *why = NULL;
    skt_rcs_map_t *map = skt_rcs_map_parse(reply, "10.0.0.1", &why);
    if (!map) {
        FZ_CHECK(why != NULL);
        return;
    }
    size_t covered = 0;
    for (unsigned s = 0; s < SKT_RCS_SLOTS; s++) {
        int16_t o = map->owner[s];
        FZ_CHECK(o >= -1 && (o < 0 || (size_t)o < map->n_nodes));
        if (o >= 0) {
            covered++;
            FZ_CHECK(skt_rcs_map_owner(map, s) == &map->nodes[o] && map->nodes[o].master);
        }
    }
    FZ_CHECK(covered == map->covered && covered > 0);
    for (size_t i = 0; i < map->n_nodes; i++) {
        const skt_rcs_node_t *n = &map->nodes[i];
        FZ_CHECK(n->host && n->id);
        FZ_CHECK(skt_rcs_map_find(map, n->host, n->port) == (long)i);
    }
    skt_rcs_map_free(map);
}

static void
check_rsen_addr(const skt_rsen_addr_t *a)
{
    size_t len = strnlen(a->host, sizeof(a->host));
    FZ_CHECK(len > 0 && len <= SKT_RSEN_HOST_MAX && a->port > 0 && a->port <= 65535);
    for (size_t i = 0; i < len; i++)
        FZ_CHECK((unsigned char)a->host[i] > ' ' && a->host[i] != 0x7f);
}

/* A +switch-master payload in s (len bytes). */
static void
check_switch(const char *s, size_t len)
{
    skt_rsen_addr_t a;
    int rv = skt_rsen_parse_switch(s, len, "mymaster", &a);
    FZ_CHECK(rv >= -1 && rv <= 1);
    if (rv == 1)
        check_rsen_addr(&a);
}

/* Sentinel's readers. */
static void
check_sentinel(const redisReply *reply)
{
    skt_rsen_addr_t a;
    int rv = skt_rsen_parse_master_reply(reply, &a);
    FZ_CHECK(rv >= SKT_RSEN_FOUND && rv <= SKT_RSEN_MALFORMED);
    if (rv == SKT_RSEN_FOUND)
        check_rsen_addr(&a);
    char role[16];
    rv = skt_rsen_parse_role(reply, role, sizeof(role));
    FZ_CHECK(rv >= -1 && rv <= 1 && memchr(role, '\0', sizeof(role)));
    if (rv == 1)
        FZ_CHECK(strcmp(role, "master") == 0);
    if (reply->type == REDIS_REPLY_STRING || reply->type == REDIS_REPLY_STATUS)
        check_switch(reply->str, reply->len);
    for (size_t i = 0; reply->type == REDIS_REPLY_ARRAY && i < reply->elements; i++)
        if (reply->element[i]->type == REDIS_REPLY_STRING)
            check_switch(reply->element[i]->str, reply->element[i]->len);
}

static void
check_reply(const redisReply *reply)
{
    long a, b;
    const char *v;
    size_t len;

    if (skt_rs_parse_transition(reply, &a) == 0)
        FZ_CHECK(reply->type == REDIS_REPLY_INTEGER && a >= 0);
    if (skt_rs_parse_consume(reply, &a, &b) == 0)
        FZ_CHECK(reply->type == REDIS_REPLY_ARRAY && reply->elements == 2);
    int g = skt_rs_parse_get(reply, &v, &len);
    FZ_CHECK(g >= -1 && g <= 1);
    if (g == 1)
        FZ_CHECK(v != NULL || len == 0);
    skt_rs_is_noscript(reply);
    check_map(reply);
    check_sentinel(reply);
    if (reply->type == REDIS_REPLY_ERROR) {
        skt_rcs_redirect_t rd;
        if (skt_rcs_parse_redirect(reply->str, reply->len, "10.0.0.1", &rd) == 0) {
            FZ_CHECK(rd.kind == SKT_RCS_MOVED || rd.kind == SKT_RCS_ASK);
            FZ_CHECK(rd.slot < SKT_RCS_SLOTS && rd.port > 0 && rd.port <= 65535);
            FZ_CHECK(memchr(rd.host, '\0', sizeof(rd.host)) != NULL);
        }
    }
}

/* Arrays of at most this many elements: hiredis allocates an array's slots as soon as its
 * header arrives, and the reader of Debian 12's hiredis (0.14) has no bound of its own. */
#define FZ_MAX_ELEMENTS 4096

/* 1 when some "*<count>" in the input announces more than FZ_MAX_ELEMENTS elements. */
static int
huge_array(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned long v = 0;
        if (p[i] != '*')
            continue;
        for (size_t j = i + 1; j < n && p[j] >= '0' && p[j] <= '9' && v <= FZ_MAX_ELEMENTS; j++)
            v = v * 10 + (p[j] - '0');
        if (v > FZ_MAX_ELEMENTS)
            return 1;
    }
    return 0;
}

static void
resp(const uint8_t *data, size_t size)
{
    if (huge_array(data, size))
        return;
    redisReader *r = redisReaderCreate();
    void *reply = NULL;
    FZ_CHECK(r != NULL);
    FZ_CHECK(redisReaderFeed(r, (const char *)data, size) == REDIS_OK);
    for (int i = 0; i < FZ_REPLIES; i++) {
        if (redisReaderGetReply(r, &reply) != REDIS_OK || !reply)
            break;
        check_reply(reply);
        freeReplyObject(reply);
        reply = NULL;
    }
    redisReaderFree(r);
}

static void
check_addr(const skt_rcs_addr_t *a)
{
    FZ_CHECK(a->host && a->host[0] && a->port > 0 && a->port <= 65535);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in_t in = {data, size};
    unsigned mode = fz_byte(&in) & 7;
    if (mode < 6) {
        resp(in.p, in.n);
    } else {
        char *text = fz_cstr(in.p, in.n);
        if (mode == 6) {
            skt_rcs_addr_t *addrs = NULL;
            size_t n = 0;
            char err[256];
            if (skt_rcs_parse_seeds(text, &addrs, &n, err, sizeof(err)) == 0) {
                for (size_t i = 0; i < n; i++)
                    check_addr(&addrs[i]);
                skt_rcs_addrs_free(addrs, n);
            } else {
                FZ_CHECK(err[0] != '\0');
            }
            skt_rsen_addr_t sen[SKT_RSEN_MAX_SENTINELS];
            err[0] = '\0';
            int ns = skt_rsen_parse_sentinels(text, sen, SKT_RSEN_MAX_SENTINELS, err, sizeof(err));
            FZ_CHECK(ns >= -1 && ns <= SKT_RSEN_MAX_SENTINELS);
            FZ_CHECK(ns >= 0 || err[0] != '\0');
            for (int i = 0; i < ns; i++)
                check_rsen_addr(&sen[i]);
        } else {
            skt_rcs_addr_t a;
            if (skt_rcs_parse_addr(text, &a) == 0) {
                check_addr(&a);
                free(a.host);
            }
        }
        free(text);
    }
    return 0;
}
