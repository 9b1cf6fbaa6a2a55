/* adapter_redis.c - the redis adapter (adapter_redis.so): soketi nodes sharing one Redis
 * server, wire-compatible with soketi 1.6's RedisAdapter.
 *
 * This file is the transport: two connections (conn.c) on the host's event loop, like
 * soketi's two ioredis clients. The publishing one sends PUBLISH and PUBSUB NUMSUB; the
 * subscribing one SUBSCRIBEs to the three channels (`redis-adapter`, or
 * `<prefix>#redis-adapter` with adapter.redis.prefix, plus its `#comms#req` and
 * `#comms#res`) and hands every message to horizontal.c, which implements the adapter.
 * (soketi PSUBSCRIBEs `redis-adapter*` for broadcasts, but only ever publishes them on
 * `redis-adapter` itself, so a plain SUBSCRIBE receives the same messages.)
 *
 * The publishing connection also carries the keyed commands of the shared state
 * (store.c: occupancy, rate limits, cache), in the order they are made.
 *
 * Redis being down never stops the daemon: each connection retries with backoff
 * (conn.c), broadcasts still reach this node's clients (the publish is skipped),
 * queries answer from local state with SOKETI_PARTIAL and the shared-state ops answer
 * SOKETI_ERROR. A Redis Cluster is the redis-cluster adapter's (adapter_redis_cluster.c)
 * job.
 *
 * With database.redis.sentinels, a follower (sentinel.c) finds the master: both
 * connections start once it is known, check with ROLE that they reached a master, move
 * when the sentinels name another one, and every failure of theirs makes the follower
 * ask the sentinels again.
 */
#include <soketi/adapter.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "horizontal.h"
#include "sentinel.h"
#include "store.h"

#define RD_NAME "redis adapter"

enum rd_role { RD_PUB = 0, RD_SUB = 1 };

static const char *const rd_role_names[] = {"publisher", "subscriber"};

typedef struct redis_s {
    const soketi_host_t *host;
    skt_hz_t *hz;
    skt_rs_t *store;
    skt_rconn_t *conn[2];
    skt_rconn_endpoint_t ep[2]; /* as configured, until the connections copy them */
    skt_rsen_t *sen;            /* NULL: no Sentinel */
    int moving;                 /* rd_on_master is moving the connections */
    char *chan[3];              /* by enum skt_hz_channel */
    size_t chan_len[3];
} redis_t;

/* Logs through the host with the adapter's name in front. */
#define rd_log(r, level, fmt, ...) (r)->host->log((level), RD_NAME ": " fmt, ##__VA_ARGS__)

/* An option's text, or "" when the host does not know it. */
static const char *
cfg(const redis_t *r, const char *name)
{
    return skt_rconn_cfg(r->host, name);
}

/* ---- connection events -------------------------------------------------------------- */

static void
rd_on_ready(void *owner, skt_rconn_t *c)
{
    redis_t *r = owner;
    if (c == r->conn[RD_PUB])
        skt_rs_connected(r->store);
    if (skt_rconn_state(r->conn[RD_PUB]) == SKT_RCONN_READY &&
        skt_rconn_state(r->conn[RD_SUB]) == SKT_RCONN_READY)
        rd_log(r, SOKETI_LOG_INFO,
               "connected to redis at %s:%ld, channel %s: cross-node delivery is on",
               skt_rconn_host(r->conn[RD_SUB]), skt_rconn_port(r->conn[RD_SUB]),
               r->chan[SKT_HZ_BROADCAST]);
}

/* The subscriber is gone: this node no longer hears answers, pending queries answer now. */
static void
rd_on_lost(void *owner, skt_rconn_t *c, int was_ready)
{
    redis_t *r = owner;
    if (was_ready && c == r->conn[RD_SUB])
        skt_hz_transport_down(r->hz);
    if (r->sen && !r->moving)
        skt_rsen_suspect(r->sen); /* the master may have moved */
}

/* The sentinels name a master (the first, or a new one after a failover): both
 * connections go there now. */
static void
rd_on_master(void *owner, const char *host, long port)
{
    redis_t *r = owner;
    r->moving = 1;
    for (int i = 0; i < 2; i++) {
        skt_rconn_t *c = r->conn[i];
        if (skt_rconn_set_address(c, host, port) != 0) {
            rd_log(r, SOKETI_LOG_ERROR, "out of memory moving to the master at %s:%ld", host, port);
            continue;
        }
        if (skt_rconn_state(c) != SKT_RCONN_IDLE)
            skt_rconn_drop(c, "the sentinels name another master");
        skt_rconn_start(c);
    }
    r->moving = 0;
}

static void
rd_on_message(void *owner, int channel, const char *data, size_t len)
{
    redis_t *r = owner;
    skt_hz_on_message(r->hz, channel, data, len);
}

/* ---- the transport horizontal.c uses ------------------------------------------------ */

static int
rd_tr_ready(void *self)
{
    redis_t *r = self;
    return skt_rconn_usable(r->conn[RD_PUB]) && skt_rconn_usable(r->conn[RD_SUB]);
}

static int
rd_tr_publish(void *self, int channel, const char *data, size_t len)
{
    redis_t *r = self;
    skt_rconn_t *c = r->conn[RD_PUB];
    if (!skt_rconn_usable(c) || skt_rconn_congested(c))
        return -1;
    /* No reply callback and no waiting: hiredis appends to its output buffer and writes
     * everything queued in this loop iteration with one write, i.e. pipelined. */
    const char *argv[] = {"PUBLISH", r->chan[channel], data};
    size_t lens[] = {7, r->chan_len[channel], len};
    return skt_rconn_command_argv(c, NULL, NULL, 3, argv, lens);
}

static void
rd_on_numsub(redisAsyncContext *ac, void *reply, void *priv)
{
    redisReply *rep = reply;
    long n = -1;
    (void)ac;
    /* [channel, count] */
    if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements >= 2 &&
        rep->element[1]->type == REDIS_REPLY_INTEGER)
        n = (long)rep->element[1]->integer;
    skt_hz_numsub_done(priv, n);
}

static int
rd_tr_numsub(void *self, skt_hz_req_t *req)
{
    redis_t *r = self;
    const char *argv[] = {"PUBSUB", "NUMSUB", r->chan[SKT_HZ_REQUEST]};
    size_t lens[] = {6, 6, r->chan_len[SKT_HZ_REQUEST]};
    return skt_rconn_command_argv(r->conn[RD_PUB], rd_on_numsub, req, 3, argv, lens);
}

/* The store's keyed commands: one server holds every key. */
static int
rd_tr_command(void *self, const char *key, size_t key_len, sds cmd, redisCallbackFn *fn, void *priv)
{
    redis_t *r = self;
    (void)key;
    (void)key_len;
    int rv = skt_rconn_command_formatted(r->conn[RD_PUB], fn, priv, cmd, sdslen(cmd));
    sdsfree(cmd);
    return rv;
}

/* ---- configuration ------------------------------------------------------------------ */

/* Applies one of soketi's ioredis option objects (redisPubOptions/redisSubOptions) over
 * the endpoint: host, port, db, username and password are honoured, the rest of
 * ioredis's options are logged as ignored. Returns 0, or -1 with a reason logged. */
static int
endpoint_overlay(redis_t *r, skt_rconn_endpoint_t *ep, const char *option)
{
    const char *text = cfg(r, option);
    if (!*text || strcmp(text, "{}") == 0 || strcmp(text, "null") == 0)
        return 0;
    json_error_t jerr;
    json_t *o = json_loads(text, 0, &jerr);
    if (!json_is_object(o)) {
        rd_log(r, SOKETI_LOG_ERROR, "%s must be a JSON object", option);
        json_decref(o);
        return -1;
    }
    const char *key;
    json_t *v;
    int oom = 0, bad = 0;
    json_object_foreach(o, key, v)
    {
        char **str = strcmp(key, "host") == 0       ? &ep->host
                     : strcmp(key, "username") == 0 ? &ep->username
                     : strcmp(key, "password") == 0 ? &ep->password
                                                    : NULL;
        long *num = strcmp(key, "port") == 0 ? &ep->port : strcmp(key, "db") == 0 ? &ep->db : NULL;
        if (str && (json_is_string(v) || json_is_null(v))) {
            const char *s = json_is_string(v) ? json_string_value(v) : "";
            free(*str);
            *str = *s ? strdup(s) : NULL;
            oom |= *s && !*str;
        } else if (num && json_is_integer(v) && json_integer_value(v) >= 0) {
            *num = (long)json_integer_value(v);
        } else if (str || num) {
            rd_log(r, SOKETI_LOG_ERROR, "%s.%s has the wrong type", option, key);
            bad = 1;
        } else {
            rd_log(r, SOKETI_LOG_WARN, "%s.%s is an ioredis option soketi-c does not use; ignored",
                   option, key);
        }
    }
    json_decref(o);
    if (oom)
        rd_log(r, SOKETI_LOG_ERROR, "out of memory reading %s", option);
    if (!ep->host) {
        rd_log(r, SOKETI_LOG_ERROR, "%s.host must not be empty", option);
        bad = 1;
    }
    return oom || bad ? -1 : 0;
}

/* Reads database.redis.* (and the per-connection overlays) into both endpoints. */
static int
rd_read_endpoints(redis_t *r)
{
    for (int role = 0; role < 2; role++) {
        skt_rconn_endpoint_t *ep = &r->ep[role];
        if (skt_rconn_endpoint_from_config(r->host, RD_NAME, ep) != 0)
            return -1;
        if (r->sen && !ep->host)
            ep->host = strdup("sentinel-master"); /* not used: rd_on_master sets it */
        if (!ep->host) {
            rd_log(r, SOKETI_LOG_ERROR, "database.redis.host is empty");
            return -1;
        }
        if (endpoint_overlay(r, ep,
                             role == RD_PUB ? "adapter.redis.redisPubOptions"
                                            : "adapter.redis.redisSubOptions") != 0)
            return -1;
        if (ep->port <= 0 || ep->port > 65535) {
            rd_log(r, SOKETI_LOG_ERROR, "the redis port %ld is not a TCP port", ep->port);
            return -1;
        }
        if (ep->username && !ep->password) {
            rd_log(r, SOKETI_LOG_ERROR,
                   "database.redis.username is set without database.redis.password");
            return -1;
        }
    }
    return 0;
}

/* Reads database.redis.sentinels, .name and .sentinelPassword: with sentinels listed, a
 * follower (r->sen) will find the master, and database.redis.host and port (and the
 * overlays' host and port) are not used, as in ioredis. Returns 0, or -1 with the reason
 * logged. */
static int
rd_setup_sentinel(redis_t *r)
{
    skt_rsen_addr_t addrs[SKT_RSEN_MAX_SENTINELS];
    char err[256];
    int n = skt_rsen_parse_sentinels(cfg(r, "database.redis.sentinels"), addrs,
                                     SKT_RSEN_MAX_SENTINELS, err, sizeof(err));
    if (n <= 0) {
        if (n < 0)
            rd_log(r, SOKETI_LOG_ERROR, "%s", err);
        return n;
    }
    const char *name = cfg(r, "database.redis.name");
    if (!*name) {
        rd_log(r, SOKETI_LOG_ERROR,
               "database.redis.name is empty: with database.redis.sentinels it names the master");
        return -1;
    }
    skt_rsen_opts_t o = {.host = r->host,
                         .log_name = RD_NAME,
                         .sentinels = addrs,
                         .n_sentinels = n,
                         .name = name,
                         .password = cfg(r, "database.redis.sentinelPassword"),
                         .owner = r,
                         .on_master = rd_on_master};
    if (!(r->sen = skt_rsen_new(&o))) {
        rd_log(r, SOKETI_LOG_ERROR, "out of memory");
        return -1;
    }
    return 0;
}

/* Refuses what this plugin cannot do, with the reason. Returns 0 when it can start. */
static int
rd_check_supported(redis_t *r)
{
    if (strcmp(cfg(r, "adapter.redis.clusterMode"), "true") == 0) {
        rd_log(r, SOKETI_LOG_ERROR,
               "adapter.redis.clusterMode is true, but this plugin talks to a single Redis "
               "server: Redis Cluster needs the redis-cluster adapter (adapter_redis_cluster.so)");
        return -1;
    }
    if (*cfg(r, "database.redis.keyPrefix"))
        rd_log(r, SOKETI_LOG_DEBUG,
               "database.redis.keyPrefix prefixes the shared keys (cache, rate limits, "
               "occupancy) but not pub/sub channels (nor does it in soketi); use "
               "adapter.redis.prefix to separate clusters");
    return 0;
}

/* ---- plugin entry points ------------------------------------------------------------ */

int
soketi_adapter_version(int count, const int *supported)
{
    return skt_hz_abi_version(count, supported);
}

static void
rd_free(redis_t *r)
{
    if (r->hz)
        skt_hz_shutdown(r->hz);
    skt_rs_shutdown(r->store);
    if (r->conn[RD_PUB])
        skt_rconn_flush(r->conn[RD_PUB]); /* the store's last leaves */
    /* pending NUMSUB and store callbacks report (NULL replies) while the connections are
     * freed */
    skt_rsen_free(r->sen); /* first: its on_master moves the connections */
    r->sen = NULL;
    for (int i = 0; i < 2; i++) {
        skt_rconn_free(r->conn[i]);
        skt_rconn_endpoint_clear(&r->ep[i]);
    }
    skt_rs_free(r->store);
    skt_hz_free(r->hz);
    for (int i = 0; i < 3; i++)
        free(r->chan[i]);
    free(r);
}

int
soketi_adapter_init(const soketi_host_t *host, soketi_adapter_t *adapter)
{
    if (skt_hz_check_host(host, adapter, RD_NAME) != 0)
        return 1;
    redis_t *r = calloc(1, sizeof(*r));
    if (!r) {
        host->log(SOKETI_LOG_ERROR, RD_NAME ": out of memory");
        return 1;
    }
    r->host = host;
    if (rd_check_supported(r) != 0 || rd_setup_sentinel(r) != 0 || rd_read_endpoints(r) != 0)
        goto fail;
    if (skt_rconn_channels(host, r->chan, r->chan_len) != 0)
        goto oom;
    for (int i = 0; i < 2; i++) {
        skt_rconn_opts_t o = {
            .host = host,
            .log_name = RD_NAME,
            .role = rd_role_names[i],
            .down_hint = "this node serves its own clients only until it can",
            .lost_hint = "this node keeps serving its own clients, other nodes are unreachable "
                         "until it is back (reconnecting)",
            .channels = i == RD_SUB ? r->chan : NULL,
            .channel_lens = i == RD_SUB ? r->chan_len : NULL,
            .n_channels = i == RD_SUB ? 3 : 0,
            .owner = r,
            .on_ready = rd_on_ready,
            .on_lost = rd_on_lost,
            .on_message = rd_on_message,
            .verify_master = r->sen != NULL,
        };
        if (!(r->conn[i] = skt_rconn_new(&o, &r->ep[i])))
            goto oom;
    }
    long timeout = strtol(cfg(r, "adapter.redis.requestsTimeout"), NULL, 10);
    skt_rs_transport_t rtr = {.self = r, .command = rd_tr_command};
    if (!(r->store = skt_rs_new(host, &rtr, r->chan[SKT_HZ_BROADCAST], RD_NAME)))
        goto oom;
    skt_hz_limits_t lim;
    skt_hz_limits_from_config(host, &lim);
    skt_hz_transport_t tr = {.self = r,
                             .ready = rd_tr_ready,
                             .publish = rd_tr_publish,
                             .numsub = rd_tr_numsub,
                             .store = r->store};
    if (!(r->hz = skt_hz_new(host, &tr, timeout, &lim, RD_NAME)))
        goto oom;

    skt_rs_fill_adapter(adapter, r->hz);
    if (r->sen)
        rd_log(r, SOKETI_LOG_INFO,
               "redis master %s through Sentinel (db %ld), channel %s, requests time out after "
               "%ld ms",
               cfg(r, "database.redis.name"), r->ep[RD_PUB].db, r->chan[SKT_HZ_BROADCAST], timeout);
    else
        rd_log(r, SOKETI_LOG_INFO,
               "redis at %s:%ld (db %ld), channel %s, requests time out after %ld ms",
               r->ep[RD_PUB].host, r->ep[RD_PUB].port, r->ep[RD_PUB].db, r->chan[SKT_HZ_BROADCAST],
               timeout);
    /* Connecting never blocks start-up (only a host name lookup does, as in hiredis's
     * connect): until Redis answers, this node serves its own clients. With Sentinel,
     * the connections start when the master is known (rd_on_master). */
    if (r->sen) {
        skt_rsen_start(r->sen);
    } else {
        skt_rconn_start(r->conn[RD_SUB]);
        skt_rconn_start(r->conn[RD_PUB]);
    }
    return 0;

oom:
    host->log(SOKETI_LOG_ERROR, RD_NAME ": out of memory");
fail:
    rd_free(r);
    return 1;
}

void
soketi_adapter_cleanup(soketi_adapter_t *adapter)
{
    if (adapter->self)
        rd_free(skt_hz_transport_self(adapter->self));
    adapter->self = NULL;
}
