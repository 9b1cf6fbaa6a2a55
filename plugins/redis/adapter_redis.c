/* adapter_redis.c - the redis adapter (adapter_redis.so): soketi nodes sharing one Redis
 * server, wire-compatible with soketi 1.6's RedisAdapter.
 *
 * This file is the transport: two hiredis async connections on the host's event loop,
 * like soketi's two ioredis clients. The publishing one sends PUBLISH and PUBSUB NUMSUB;
 * the subscribing one SUBSCRIBEs to the three channels (`redis-adapter`, or
 * `<prefix>#redis-adapter` with adapter.redis.prefix, plus its `#comms#req` and
 * `#comms#res`) and hands every message to horizontal.c, which implements the adapter.
 * (soketi PSUBSCRIBEs `redis-adapter*` for broadcasts, but only ever publishes them on
 * `redis-adapter` itself, so a plain SUBSCRIBE receives the same messages.)
 *
 * DESIGN
 * Each connection is a small state machine: IDLE (waiting to retry) -> CONNECTING ->
 * HANDSHAKE (AUTH, SELECT, and for the subscriber SUBSCRIBE, one after the other) ->
 * READY. Any failure, or no READY within RD_SETUP_TIMEOUT_MS, goes back to IDLE and
 * retries after a backoff that doubles from 100 ms to 5 s; READY resets it. Redis being
 * down never stops the daemon: broadcasts still reach this node's clients (the publish is
 * skipped) and queries answer from local state with SOKETI_PARTIAL.
 *
 * hiredis owns and frees its context; after a failure it calls every pending callback
 * with a NULL reply and then the disconnect callback. So that those late calls and any
 * context we abandon on purpose cannot touch the current state, every callback first
 * checks that its context is still the connection's current one (rc->ac == ac). A
 * context is only ever freed by us outside hiredis's callbacks (timer, cleanup) or with
 * redisAsyncFree from inside one, which hiredis defers until the callback returns.
 */
#include <soketi/adapter.h>

#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <hiredis/sds.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "horizontal.h"

/* The ABI this file is written against. */
#define RD_ABI 1

/* The host fields this adapter reads end with local_terminate_user_connections. */
#define RD_HOST_NEEDS                                                                              \
    (offsetof(soketi_host_t, local_terminate_user_connections) +                                   \
     sizeof(((soketi_host_t *)0)->local_terminate_user_connections))

#define RD_NAME "redis adapter"
#define RD_BACKOFF_MIN_MS 100
#define RD_BACKOFF_MAX_MS 5000
/* From connect() to READY (TCP connect, AUTH, SELECT, SUBSCRIBE). */
#define RD_SETUP_TIMEOUT_MS 5000
/* While the publishing connection has this much unsent output, Redis is not keeping up:
 * further publishes are dropped (local delivery goes on) rather than buffered. */
#define RD_MAX_PENDING_OUTPUT (64u * 1024u * 1024u)
/* While a connection keeps failing, a warning again every this many attempts. */
#define RD_REMIND_EVERY 12

enum rd_role { RD_PUB = 0, RD_SUB = 1 };
enum rd_state { RD_IDLE, RD_CONNECTING, RD_HANDSHAKE, RD_READY };

static const char *const rd_role_names[] = {"publisher", "subscriber"};

/* Where and as whom one connection logs in. */
typedef struct rd_endpoint_s {
    char *host;
    long port;
    long db;
    char *username; /* NULL: none (AUTH with the password only) */
    char *password; /* NULL: no AUTH */
} rd_endpoint_t;

struct redis_s;

typedef struct rd_conn_s {
    struct redis_s *r;
    int role;
    rd_endpoint_t ep;
    redisAsyncContext *ac; /* the current context, NULL while IDLE */
    int state;
    int step;            /* next handshake step */
    int subscribed;      /* SUBSCRIBE confirmations received */
    unsigned backoff_ms; /* wait before the next attempt */
    unsigned failures;   /* attempts failed since the last READY */
    int ever_ready;
    int output_warned;
    const char *give_up; /* set: drop the context at the next setup timer (see rd_handshake) */
    struct event *retry; /* fires the next attempt */
    struct event *setup; /* fires when an attempt takes too long */
} rd_conn_t;

typedef struct redis_s {
    const soketi_host_t *host;
    skt_hz_t *hz;
    rd_conn_t conn[2];
    char *chan[3]; /* by enum skt_hz_channel */
    size_t chan_len[3];
    int closing;
} redis_t;

static void rd_connect(rd_conn_t *rc);

/* Logs through the host with the adapter's name in front. */
#define rd_log(r, level, fmt, ...) (r)->host->log((level), RD_NAME ": " fmt, ##__VA_ARGS__)

static void
ms_to_tv(unsigned ms, struct timeval *tv)
{
    tv->tv_sec = (time_t)(ms / 1000);
    tv->tv_usec = (suseconds_t)((ms % 1000) * 1000);
}

/* ---- connection state ------------------------------------------------------------- */

/* The current context is gone (or being abandoned): go back to IDLE, tell the adapter if
 * it loses its ears, log, and schedule the next attempt. The caller frees the context
 * (or hiredis does, after the callback that called this). */
static void
rd_lost(rd_conn_t *rc, const char *why)
{
    redis_t *r = rc->r;
    int was_ready = rc->state == RD_READY;
    const rd_endpoint_t *ep = &rc->ep;

    rc->ac = NULL;
    rc->state = RD_IDLE;
    evtimer_del(rc->setup);
    if (r->closing)
        return;
    if (was_ready && rc->role == RD_SUB)
        skt_hz_transport_down(r->hz);

    if (was_ready)
        rd_log(r, SOKETI_LOG_WARN,
               "lost the %s connection to redis at %s:%ld: %s; this node keeps serving its own "
               "clients, other nodes are unreachable until it is back (reconnecting)",
               rd_role_names[rc->role], ep->host, ep->port, why);
    else if (rc->failures == 0)
        rd_log(r, SOKETI_LOG_WARN,
               "cannot connect the %s to redis at %s:%ld: %s; this node serves its own clients "
               "only until it can (retrying every %u ms at most)",
               rd_role_names[rc->role], ep->host, ep->port, why, RD_BACKOFF_MAX_MS);
    else if (rc->failures % RD_REMIND_EVERY == 0)
        rd_log(r, SOKETI_LOG_WARN,
               "redis at %s:%ld is still unreachable for the %s after %u attempts: %s "
               "(retrying)",
               ep->host, ep->port, rd_role_names[rc->role], rc->failures + 1, why);
    else
        rd_log(r, SOKETI_LOG_DEBUG, "%s: attempt %u to reach %s:%ld failed: %s",
               rd_role_names[rc->role], rc->failures + 1, ep->host, ep->port, why);
    rc->failures++;

    struct timeval tv;
    ms_to_tv(rc->backoff_ms, &tv);
    evtimer_add(rc->retry, &tv);
    rc->backoff_ms =
        rc->backoff_ms * 2 > RD_BACKOFF_MAX_MS ? RD_BACKOFF_MAX_MS : rc->backoff_ms * 2;
}

/* Abandons the current context: rd_lost, then free it. Never called from inside one of
 * that context's callbacks without hiredis deferring the free (redisAsyncFree does). */
static void
rd_drop(rd_conn_t *rc, const char *why)
{
    redisAsyncContext *ac = rc->ac;
    rd_lost(rc, why);
    if (ac)
        redisAsyncFree(ac);
}

static void
rd_ready(rd_conn_t *rc)
{
    redis_t *r = rc->r;
    rc->state = RD_READY;
    evtimer_del(rc->setup);
    rd_log(r, rc->failures || rc->ever_ready ? SOKETI_LOG_INFO : SOKETI_LOG_DEBUG,
           "%s connected to redis at %s:%ld%s", rd_role_names[rc->role], rc->ep.host, rc->ep.port,
           rc->failures || rc->ever_ready ? " again" : "");
    rc->failures = 0;
    rc->backoff_ms = RD_BACKOFF_MIN_MS;
    rc->ever_ready = 1;
    rc->output_warned = 0;
    if (r->conn[RD_PUB].state == RD_READY && r->conn[RD_SUB].state == RD_READY)
        rd_log(r, SOKETI_LOG_INFO,
               "connected to redis at %s:%ld, channel %s: cross-node delivery is on",
               r->conn[RD_SUB].ep.host, r->conn[RD_SUB].ep.port, r->chan[SKT_HZ_BROADCAST]);
}

/* ---- handshake ---------------------------------------------------------------------- */

static void rd_on_handshake_reply(redisAsyncContext *ac, void *reply, void *priv);
static void rd_on_sub_message(redisAsyncContext *ac, void *reply, void *priv);

/* Sends the next handshake command, or becomes READY when none is left (the subscriber
 * becomes READY when its SUBSCRIBE is confirmed). */
static void
rd_handshake(rd_conn_t *rc)
{
    const rd_endpoint_t *ep = &rc->ep;
    redis_t *r = rc->r;
    for (;;) {
        int rv = REDIS_OK;
        switch (rc->step++) {
        case 0: /* AUTH [username] password */
            if (!ep->password)
                continue;
            if (ep->username) {
                const char *argv[] = {"AUTH", ep->username, ep->password};
                size_t lens[] = {4, strlen(ep->username), strlen(ep->password)};
                rv = redisAsyncCommandArgv(rc->ac, rd_on_handshake_reply, rc, 3, argv, lens);
            } else {
                const char *argv[] = {"AUTH", ep->password};
                size_t lens[] = {4, strlen(ep->password)};
                rv = redisAsyncCommandArgv(rc->ac, rd_on_handshake_reply, rc, 2, argv, lens);
            }
            break;
        case 1: /* SELECT db */
            if (ep->db == 0)
                continue;
            rv = redisAsyncCommand(rc->ac, rd_on_handshake_reply, rc, "SELECT %ld", ep->db);
            break;
        case 2: /* SUBSCRIBE broadcast request response */
            if (rc->role != RD_SUB)
                continue;
            {
                const char *argv[] = {"SUBSCRIBE", r->chan[0], r->chan[1], r->chan[2]};
                size_t lens[] = {9, r->chan_len[0], r->chan_len[1], r->chan_len[2]};
                rv = redisAsyncCommandArgv(rc->ac, rd_on_sub_message, rc, 4, argv, lens);
            }
            break;
        default:
            rd_ready(rc);
            return;
        }
        if (rv != REDIS_OK) {
            /* We may be inside hiredis's connect callback, where the context must not be
             * freed: let the setup timer drop it, right after this returns. */
            struct timeval now = {0, 0};
            rc->give_up = "could not send the handshake";
            evtimer_add(rc->setup, &now);
        }
        return;
    }
}

static void
rd_on_handshake_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    rd_conn_t *rc = priv;
    redisReply *rep = reply;
    if (rc->ac != ac || !rep)
        return; /* an abandoned context, or one going away: its disconnect is handled */
    if (rep->type == REDIS_REPLY_ERROR) {
        char why[256];
        snprintf(why, sizeof(why), "%s refused: %s", rc->step == 1 ? "AUTH" : "SELECT", rep->str);
        rd_drop(rc, why);
        return;
    }
    rd_handshake(rc);
}

static void
rd_on_connect(const redisAsyncContext *cac, int status)
{
    redisAsyncContext *ac = (redisAsyncContext *)cac;
    rd_conn_t *rc = ac->data;
    if (rc->ac != ac)
        return;
    if (status != REDIS_OK) {
        /* hiredis frees the context after this returns */
        rd_lost(rc, ac->errstr ? ac->errstr : "connect failed");
        return;
    }
    rc->state = RD_HANDSHAKE;
    redisEnableKeepAlive(&ac->c);
    rc->step = 0;
    rd_handshake(rc);
}

static void
rd_on_disconnect(const redisAsyncContext *cac, int status)
{
    redisAsyncContext *ac = (redisAsyncContext *)cac;
    rd_conn_t *rc = ac->data;
    if (rc->ac != ac)
        return;
    rd_lost(rc, ac->errstr && *ac->errstr ? ac->errstr
                : status == REDIS_OK      ? "closed"
                                          : "connection error");
}

static void
rd_on_setup_timeout(evutil_socket_t fd, short what, void *arg)
{
    rd_conn_t *rc = arg;
    const char *why = rc->give_up                  ? rc->give_up
                      : rc->state == RD_CONNECTING ? "connect timed out"
                                                   : "handshake timed out";
    rc->give_up = NULL;
    if (rc->ac && rc->state != RD_READY)
        rd_drop(rc, why);
}

static void
rd_on_retry(evutil_socket_t fd, short what, void *arg)
{
    rd_connect(arg);
}

/* Starts one attempt; failures go through rd_lost, which schedules the next one. */
static void
rd_connect(rd_conn_t *rc)
{
    redis_t *r = rc->r;
    if (r->closing || rc->ac)
        return;
    rc->state = RD_CONNECTING;
    rc->subscribed = 0;
    rc->give_up = NULL;
    rc->step = 0;
    redisAsyncContext *ac = redisAsyncConnect(rc->ep.host, (int)rc->ep.port);
    if (!ac) {
        rd_lost(rc, "out of memory");
        return;
    }
    if (ac->err) {
        char why[256];
        snprintf(why, sizeof(why), "%s", ac->errstr);
        redisAsyncFree(ac);
        rd_lost(rc, why);
        return;
    }
    ac->data = rc;
    if (redisLibeventAttach(ac, r->host->base) != REDIS_OK) {
        redisAsyncFree(ac);
        rd_lost(rc, "cannot attach to the event loop");
        return;
    }
    redisAsyncSetConnectCallback(ac, rd_on_connect);
    redisAsyncSetDisconnectCallback(ac, rd_on_disconnect);
    rc->ac = ac;
    struct timeval tv;
    ms_to_tv(RD_SETUP_TIMEOUT_MS, &tv);
    evtimer_add(rc->setup, &tv);
}

/* ---- the subscriber ----------------------------------------------------------------- */

static void
rd_on_sub_message(redisAsyncContext *ac, void *reply, void *priv)
{
    rd_conn_t *rc = priv;
    redis_t *r = rc->r;
    redisReply *rep = reply;
    if (rc->ac != ac || !rep)
        return;
    if (rep->type == REDIS_REPLY_ERROR) {
        char why[256];
        snprintf(why, sizeof(why), "SUBSCRIBE refused: %s", rep->str);
        rd_drop(rc, why);
        return;
    }
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 3 ||
        rep->element[0]->type != REDIS_REPLY_STRING || rep->element[1]->type != REDIS_REPLY_STRING)
        return;
    const char *kind = rep->element[0]->str;
    if (strcmp(kind, "message") == 0 && rep->element[2]->type == REDIS_REPLY_STRING) {
        const redisReply *ch = rep->element[1], *msg = rep->element[2];
        for (int i = 0; i < 3; i++) {
            if (ch->len == r->chan_len[i] && memcmp(ch->str, r->chan[i], ch->len) == 0) {
                skt_hz_on_message(r->hz, i, msg->str, msg->len);
                return;
            }
        }
    } else if (strcmp(kind, "subscribe") == 0) {
        if (++rc->subscribed == 3 && rc->state == RD_HANDSHAKE)
            rd_ready(rc);
    }
}

/* ---- the transport horizontal.c uses ------------------------------------------------ */

static int
rd_usable(const rd_conn_t *rc)
{
    return rc->state == RD_READY && rc->ac &&
           !(rc->ac->c.flags & (REDIS_DISCONNECTING | REDIS_FREEING));
}

static int
rd_tr_ready(void *self)
{
    redis_t *r = self;
    return rd_usable(&r->conn[RD_PUB]) && rd_usable(&r->conn[RD_SUB]);
}

static int
rd_tr_publish(void *self, int channel, const char *data, size_t len)
{
    redis_t *r = self;
    rd_conn_t *rc = &r->conn[RD_PUB];
    if (!rd_usable(rc))
        return -1;
    if (sdslen(rc->ac->c.obuf) > RD_MAX_PENDING_OUTPUT) {
        if (!rc->output_warned)
            rd_log(r, SOKETI_LOG_WARN,
                   "redis at %s:%ld is not keeping up (%zu bytes unsent): dropping messages to "
                   "other nodes until it catches up",
                   rc->ep.host, rc->ep.port, sdslen(rc->ac->c.obuf));
        rc->output_warned = 1;
        return -1;
    }
    rc->output_warned = 0;
    /* No reply callback and no waiting: hiredis appends to its output buffer and writes
     * everything queued in this loop iteration with one write, i.e. pipelined. */
    const char *argv[] = {"PUBLISH", r->chan[channel], data};
    size_t lens[] = {7, r->chan_len[channel], len};
    return redisAsyncCommandArgv(rc->ac, NULL, NULL, 3, argv, lens) == REDIS_OK ? 0 : -1;
}

static void
rd_on_numsub(redisAsyncContext *ac, void *reply, void *priv)
{
    redisReply *rep = reply;
    long n = -1;
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
    rd_conn_t *rc = &r->conn[RD_PUB];
    if (!rd_usable(rc))
        return -1;
    const char *argv[] = {"PUBSUB", "NUMSUB", r->chan[SKT_HZ_REQUEST]};
    size_t lens[] = {6, 6, r->chan_len[SKT_HZ_REQUEST]};
    return redisAsyncCommandArgv(rc->ac, rd_on_numsub, req, 3, argv, lens) == REDIS_OK ? 0 : -1;
}

/* ---- configuration ------------------------------------------------------------------ */

/* An option's text, or "" when the host does not know it. */
static const char *
cfg(const redis_t *r, const char *name)
{
    const char *v = r->host->config_get(name);
    return v ? v : "";
}

/* A copy of s, or NULL for "" (the host's text for an unset nullable string). */
static char *
dup_or_null(const char *s, int *oom)
{
    if (!s || !*s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *oom = 1;
    return d;
}

static void
endpoint_clear(rd_endpoint_t *ep)
{
    free(ep->host);
    free(ep->username);
    free(ep->password);
    memset(ep, 0, sizeof(*ep));
}

/* Applies one of soketi's ioredis option objects (redisPubOptions/redisSubOptions) over
 * the endpoint: host, port, db, username and password are honoured, the rest of
 * ioredis's options are logged as ignored. Returns 0, or -1 with a reason logged. */
static int
endpoint_overlay(redis_t *r, rd_endpoint_t *ep, const char *option)
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
            free(*str);
            *str = json_is_string(v) ? dup_or_null(json_string_value(v), &oom) : NULL;
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
        rd_endpoint_t *ep = &r->conn[role].ep;
        int oom = 0;
        ep->host = dup_or_null(cfg(r, "database.redis.host"), &oom);
        ep->port = strtol(cfg(r, "database.redis.port"), NULL, 10);
        ep->db = strtol(cfg(r, "database.redis.db"), NULL, 10);
        ep->username = dup_or_null(cfg(r, "database.redis.username"), &oom);
        ep->password = dup_or_null(cfg(r, "database.redis.password"), &oom);
        if (oom) {
            rd_log(r, SOKETI_LOG_ERROR, "out of memory");
            return -1;
        }
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
    const char *sentinels = cfg(r, "database.redis.sentinels");
    if (*sentinels && strcmp(sentinels, "null") != 0 && strcmp(sentinels, "[]") != 0) {
        rd_log(r, SOKETI_LOG_ERROR,
               "database.redis.sentinels is set, but Redis Sentinel is not supported (hiredis "
               "0.14 has no Sentinel client): point database.redis.host and port at the "
               "master, or unset the sentinels");
        return -1;
    }
    if (*cfg(r, "database.redis.keyPrefix"))
        rd_log(r, SOKETI_LOG_DEBUG,
               "database.redis.keyPrefix does not apply to pub/sub channels (nor does it in "
               "soketi); use adapter.redis.prefix to separate clusters");
    return 0;
}

/* The three channel names, as soketi's RedisAdapter builds them. */
static int
rd_make_channels(redis_t *r)
{
    static const char *const suffix[] = {"", "#comms#req", "#comms#res"};
    const char *prefix = cfg(r, "adapter.redis.prefix");
    for (int i = 0; i < 3; i++) {
        size_t len = strlen(prefix) + strlen("#redis-adapter") + strlen(suffix[i]) + 1;
        if (!(r->chan[i] = malloc(len)))
            return -1;
        r->chan_len[i] = (size_t)snprintf(r->chan[i], len, "%s%sredis-adapter%s", prefix,
                                          *prefix ? "#" : "", suffix[i]);
    }
    return 0;
}

/* ---- plugin entry points ------------------------------------------------------------ */

int
soketi_adapter_version(int count, const int *supported)
{
    for (int i = 0; i < count; i++)
        if (supported[i] == RD_ABI)
            return RD_ABI;
    return -1;
}

static int
rd_host_usable(const soketi_host_t *host)
{
    return host->size >= RD_HOST_NEEDS && host->abi_version == RD_ABI && host->base &&
           host->node_id && host->config_get && host->log && host->deliver_local &&
           host->local_sockets_count && host->local_channel_sockets_count &&
           host->local_channel_members_count && host->local_is_in_channel && host->local_channels &&
           host->local_channel_members && host->local_sockets && host->local_channel_sockets &&
           host->local_terminate_user_connections;
}

static void
rd_free(redis_t *r)
{
    r->closing = 1;
    if (r->hz)
        skt_hz_shutdown(r->hz);
    for (int i = 0; i < 2; i++) {
        rd_conn_t *rc = &r->conn[i];
        redisAsyncContext *ac = rc->ac;
        rc->ac = NULL; /* late callbacks of ac now ignore it; NUMSUB ones still report */
        if (ac)
            redisAsyncFree(ac);
        if (rc->retry)
            event_free(rc->retry);
        if (rc->setup)
            event_free(rc->setup);
        endpoint_clear(&rc->ep);
    }
    skt_hz_free(r->hz);
    for (int i = 0; i < 3; i++)
        free(r->chan[i]);
    free(r);
}

int
soketi_adapter_init(const soketi_host_t *host, soketi_adapter_t *adapter)
{
    if (!rd_host_usable(host)) {
        if (host->size >= offsetof(soketi_host_t, log) + sizeof(host->log) && host->log)
            host->log(SOKETI_LOG_ERROR,
                      RD_NAME ": the host table lacks a function this adapter needs (size %zu, "
                              "ABI %d)",
                      host->size, host->abi_version);
        return 1;
    }
    if (adapter->size < sizeof(*adapter)) {
        host->log(SOKETI_LOG_ERROR, RD_NAME ": the host's adapter struct is too small");
        return 1;
    }
    redis_t *r = calloc(1, sizeof(*r));
    if (!r) {
        host->log(SOKETI_LOG_ERROR, RD_NAME ": out of memory");
        return 1;
    }
    r->host = host;
    for (int i = 0; i < 2; i++) {
        r->conn[i].r = r;
        r->conn[i].role = i;
        r->conn[i].backoff_ms = RD_BACKOFF_MIN_MS;
        r->conn[i].retry = evtimer_new(host->base, rd_on_retry, &r->conn[i]);
        r->conn[i].setup = evtimer_new(host->base, rd_on_setup_timeout, &r->conn[i]);
        if (!r->conn[i].retry || !r->conn[i].setup)
            goto oom;
    }
    if (rd_check_supported(r) != 0 || rd_read_endpoints(r) != 0)
        goto fail;
    if (rd_make_channels(r) != 0)
        goto oom;
    long timeout = strtol(cfg(r, "adapter.redis.requestsTimeout"), NULL, 10);
    skt_hz_transport_t tr = {
        .self = r, .ready = rd_tr_ready, .publish = rd_tr_publish, .numsub = rd_tr_numsub};
    if (!(r->hz = skt_hz_new(host, &tr, timeout, RD_NAME)))
        goto oom;

    adapter->self = r->hz; /* the ops are horizontal.c's */
    adapter->ops_size = sizeof(adapter->ops);
    skt_hz_fill_ops(&adapter->ops);
    rd_log(r, SOKETI_LOG_INFO,
           "redis at %s:%ld (db %ld), channel %s, requests time out after %ld ms",
           r->conn[RD_PUB].ep.host, r->conn[RD_PUB].ep.port, r->conn[RD_PUB].ep.db,
           r->chan[SKT_HZ_BROADCAST], timeout);
    /* Connecting never blocks start-up (only a host name lookup does, as in hiredis's
     * connect): until Redis answers, this node serves its own clients. */
    rd_connect(&r->conn[RD_SUB]);
    rd_connect(&r->conn[RD_PUB]);
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
