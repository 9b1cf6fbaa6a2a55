/* conn.c - one hiredis async connection that keeps itself up, and the configuration both
 * Redis transports read. See conn.h.
 *
 * DESIGN
 * hiredis owns and frees its context; after a failure it calls every pending callback
 * with a NULL reply and then the disconnect callback. So that those late calls, and any
 * context we abandon on purpose or whose skt_rconn_t is already freed, cannot touch the
 * current state, a context's data points at its skt_rconn_t only while it is that
 * connection's current context: abandoning one sets ac->data to NULL first, and every
 * callback of ours starts from ac->data. A context is only ever freed by us outside
 * hiredis's connect callback (timer, owner) or with redisAsyncFree from inside a reply
 * callback, which hiredis defers until the callback returns.
 */
#include "conn.h"
#include "sentinel_proto.h"

#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/hiredis.h>
#include <hiredis/sds.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* While a connection has this much unsent output, Redis is not keeping up: further
 * publishes are dropped (local delivery goes on) rather than buffered. */
#define RCONN_MAX_PENDING_OUTPUT (64u * 1024u * 1024u)
/* skt_rconn_flush writes at most this many times. */
#define RCONN_FLUSH_TRIES 4
/* While a connection keeps failing, a warning again every this many attempts. */
#define RCONN_REMIND_EVERY 12

struct skt_rconn_s {
    skt_rconn_opts_t o;
    skt_rconn_endpoint_t ep;
    redisAsyncContext *ac; /* the current context, NULL while IDLE */
    int state;
    int step;            /* next handshake step */
    int subscribed;      /* SUBSCRIBE confirmations received */
    unsigned backoff_ms; /* wait before the next attempt */
    unsigned failures;   /* attempts failed since the last READY */
    int ever_ready;
    int output_warned;
    const char *give_up; /* set: drop the context at the next setup timer (see handshake) */
    struct event *retry; /* fires the next attempt */
    struct event *setup; /* fires when an attempt takes too long */
};

static void rconn_connect(skt_rconn_t *c);

/* Logs through the host with the owner's name in front. */
#define rc_log(c, level, fmt, ...)                                                                 \
    (c)->o.host->log((level), "%s: " fmt, (c)->o.log_name, ##__VA_ARGS__)

static void
ms_to_tv(unsigned ms, struct timeval *tv)
{
    tv->tv_sec = (time_t)(ms / 1000);
    tv->tv_usec = (suseconds_t)((ms % 1000) * 1000);
}

/* ---- connection state ------------------------------------------------------------- */

/* The current context is gone (or being abandoned): go back to IDLE, log, schedule the
 * next attempt and tell the owner. The caller frees the context (or hiredis does, after
 * the callback that called this). */
static void
rconn_lost(skt_rconn_t *c, const char *why)
{
    int was_ready = c->state == SKT_RCONN_READY;
    const skt_rconn_endpoint_t *ep = &c->ep;

    if (c->ac)
        c->ac->data = NULL;
    c->ac = NULL;
    c->state = SKT_RCONN_IDLE;
    evtimer_del(c->setup);

    if (was_ready)
        rc_log(c, SOKETI_LOG_WARN, "lost the %s connection to redis at %s:%ld: %s; %s", c->o.role,
               ep->host, ep->port, why, c->o.lost_hint);
    else if (c->failures == 0)
        rc_log(c, SOKETI_LOG_WARN,
               "cannot connect the %s to redis at %s:%ld: %s; %s (retrying every %u ms at most)",
               c->o.role, ep->host, ep->port, why, c->o.down_hint, SKT_RCONN_BACKOFF_MAX_MS);
    else if (c->failures % RCONN_REMIND_EVERY == 0)
        rc_log(c, SOKETI_LOG_WARN,
               "redis at %s:%ld is still unreachable for the %s after %u attempts: %s "
               "(retrying)",
               ep->host, ep->port, c->o.role, c->failures + 1, why);
    else
        rc_log(c, SOKETI_LOG_DEBUG, "%s: attempt %u to reach %s:%ld failed: %s", c->o.role,
               c->failures + 1, ep->host, ep->port, why);
    c->failures++;

    struct timeval tv;
    ms_to_tv(c->backoff_ms, &tv);
    evtimer_add(c->retry, &tv);
    c->backoff_ms =
        c->backoff_ms * 2 > SKT_RCONN_BACKOFF_MAX_MS ? SKT_RCONN_BACKOFF_MAX_MS : c->backoff_ms * 2;
    if (c->o.on_lost)
        c->o.on_lost(c->o.owner, c, was_ready);
}

void
skt_rconn_drop(skt_rconn_t *c, const char *why)
{
    redisAsyncContext *ac = c->ac;
    if (!ac)
        return;
    rconn_lost(c, why);
    redisAsyncFree(ac);
}

static void
rconn_ready(skt_rconn_t *c)
{
    int again = c->failures || c->ever_ready;
    c->state = SKT_RCONN_READY;
    evtimer_del(c->setup);
    rc_log(c, again ? SOKETI_LOG_INFO : SOKETI_LOG_DEBUG, "%s connected to redis at %s:%ld%s",
           c->o.role, c->ep.host, c->ep.port, again ? " again" : "");
    c->failures = 0;
    c->backoff_ms = SKT_RCONN_BACKOFF_MIN_MS;
    c->ever_ready = 1;
    c->output_warned = 0;
    if (c->o.on_ready)
        c->o.on_ready(c->o.owner, c);
}

/* ---- handshake ---------------------------------------------------------------------- */

static void rconn_on_handshake_reply(redisAsyncContext *ac, void *reply, void *priv);
static void rconn_on_role_reply(redisAsyncContext *ac, void *reply, void *priv);
static void rconn_on_sub_message(redisAsyncContext *ac, void *reply, void *priv);

/* Sends the next handshake command, or becomes READY when none is left (a subscriber
 * becomes READY when its SUBSCRIBE is confirmed). */
static void
rconn_handshake(skt_rconn_t *c)
{
    const skt_rconn_endpoint_t *ep = &c->ep;
    for (;;) {
        int rv = REDIS_OK;
        switch (c->step++) {
        case 0: /* AUTH [username] password */
            if (!ep->password)
                continue;
            if (ep->username) {
                const char *argv[] = {"AUTH", ep->username, ep->password};
                size_t lens[] = {4, strlen(ep->username), strlen(ep->password)};
                rv = redisAsyncCommandArgv(c->ac, rconn_on_handshake_reply, NULL, 3, argv, lens);
            } else {
                const char *argv[] = {"AUTH", ep->password};
                size_t lens[] = {4, strlen(ep->password)};
                rv = redisAsyncCommandArgv(c->ac, rconn_on_handshake_reply, NULL, 2, argv, lens);
            }
            break;
        case 1: /* SELECT db */
            if (ep->db == 0)
                continue;
            rv = redisAsyncCommand(c->ac, rconn_on_handshake_reply, NULL, "SELECT %ld", ep->db);
            break;
        case 2: /* ROLE (before SUBSCRIBE, which allows no other command) */
            if (!c->o.verify_master)
                continue;
            rv = redisAsyncCommand(c->ac, rconn_on_role_reply, NULL, "ROLE");
            break;
        case 3: /* SUBSCRIBE channels... */
            if (c->o.n_channels == 0)
                continue;
            {
                const char *argv[8];
                size_t lens[8];
                int n = c->o.n_channels > 7 ? 7 : c->o.n_channels;
                argv[0] = "SUBSCRIBE";
                lens[0] = 9;
                for (int i = 0; i < n; i++) {
                    argv[i + 1] = c->o.channels[i];
                    lens[i + 1] = c->o.channel_lens[i];
                }
                rv = redisAsyncCommandArgv(c->ac, rconn_on_sub_message, NULL, n + 1, argv, lens);
            }
            break;
        default:
            rconn_ready(c);
            return;
        }
        if (rv != REDIS_OK) {
            /* We may be inside hiredis's connect callback, where the context must not be
             * freed: let the setup timer drop it, right after this returns. */
            struct timeval now = {0, 0};
            c->give_up = "could not send the handshake";
            evtimer_add(c->setup, &now);
        }
        return;
    }
}

static void
rconn_on_handshake_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    skt_rconn_t *c = ac->data;
    redisReply *rep = reply;
    (void)priv;
    if (!c || !rep)
        return; /* an abandoned context, or one going away: its disconnect is handled */
    if (rep->type == REDIS_REPLY_ERROR) {
        char why[256];
        snprintf(why, sizeof(why), "%s refused: %s", c->step == 1 ? "AUTH" : "SELECT", rep->str);
        skt_rconn_drop(c, why);
        return;
    }
    rconn_handshake(c);
}

/* The node must be a master: a sentinel may name the old one for a moment after a
 * failover, and the old master comes back as a replica. */
static void
rconn_on_role_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    skt_rconn_t *c = ac->data;
    redisReply *rep = reply;
    char role[40], why[128];
    (void)priv;
    if (!c || !rep)
        return;
    int master = skt_rsen_parse_role(rep, role, sizeof(role));
    if (master == 0) {
        snprintf(why, sizeof(why), "it is not the master (ROLE: %s)", role);
        skt_rconn_drop(c, why);
        return;
    }
    if (master < 0)
        rc_log(c, SOKETI_LOG_WARN,
               "cannot check that redis at %s:%ld is a master (ROLE answered %s); going on",
               c->ep.host, c->ep.port,
               rep->type == REDIS_REPLY_ERROR ? rep->str : "something else");
    rconn_handshake(c);
}

static void
rconn_on_connect(const redisAsyncContext *cac, int status)
{
    redisAsyncContext *ac = (redisAsyncContext *)cac;
    skt_rconn_t *c = ac->data;
    if (!c)
        return;
    if (status != REDIS_OK) {
        /* hiredis frees the context after this returns */
        rconn_lost(c, ac->errstr[0] ? ac->errstr : "connect failed");
        return;
    }
    c->state = SKT_RCONN_HANDSHAKE;
    redisEnableKeepAlive(&ac->c);
    c->step = 0;
    rconn_handshake(c);
}

static void
rconn_on_disconnect(const redisAsyncContext *cac, int status)
{
    redisAsyncContext *ac = (redisAsyncContext *)cac;
    skt_rconn_t *c = ac->data;
    if (!c)
        return;
    rconn_lost(c, ac->errstr[0] ? ac->errstr : status == REDIS_OK ? "closed" : "connection error");
}

static void
rconn_on_setup_timeout(evutil_socket_t fd, short what, void *arg)
{
    skt_rconn_t *c = arg;
    const char *why = c->give_up                         ? c->give_up
                      : c->state == SKT_RCONN_CONNECTING ? "connect timed out"
                                                         : "handshake timed out";
    (void)fd;
    (void)what;
    c->give_up = NULL;
    if (c->ac && c->state != SKT_RCONN_READY)
        skt_rconn_drop(c, why);
}

static void
rconn_on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    rconn_connect(arg);
}

/* Starts one attempt; failures go through rconn_lost, which schedules the next one. */
static void
rconn_connect(skt_rconn_t *c)
{
    if (c->ac)
        return;
    evtimer_del(c->retry);
    c->state = SKT_RCONN_CONNECTING;
    c->subscribed = 0;
    c->give_up = NULL;
    c->step = 0;
    redisAsyncContext *ac = redisAsyncConnect(c->ep.host, (int)c->ep.port);
    if (!ac) {
        rconn_lost(c, "out of memory");
        return;
    }
    if (ac->err) {
        char why[256];
        snprintf(why, sizeof(why), "%s", ac->errstr);
        redisAsyncFree(ac);
        rconn_lost(c, why);
        return;
    }
    if (redisLibeventAttach(ac, c->o.host->base) != REDIS_OK) {
        redisAsyncFree(ac);
        rconn_lost(c, "cannot attach to the event loop");
        return;
    }
    ac->data = c;
    redisAsyncSetConnectCallback(ac, rconn_on_connect);
    redisAsyncSetDisconnectCallback(ac, rconn_on_disconnect);
    c->ac = ac;
    struct timeval tv;
    ms_to_tv(SKT_RCONN_SETUP_TIMEOUT_MS, &tv);
    evtimer_add(c->setup, &tv);
}

/* ---- the subscriber ----------------------------------------------------------------- */

static void
rconn_on_sub_message(redisAsyncContext *ac, void *reply, void *priv)
{
    skt_rconn_t *c = ac->data;
    redisReply *rep = reply;
    (void)priv;
    if (!c || !rep)
        return;
    if (rep->type == REDIS_REPLY_ERROR) {
        char why[256];
        snprintf(why, sizeof(why), "SUBSCRIBE refused: %s", rep->str);
        skt_rconn_drop(c, why);
        return;
    }
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 3 ||
        rep->element[0]->type != REDIS_REPLY_STRING || rep->element[1]->type != REDIS_REPLY_STRING)
        return;
    const char *kind = rep->element[0]->str;
    if (strcmp(kind, "message") == 0 && rep->element[2]->type == REDIS_REPLY_STRING) {
        const redisReply *ch = rep->element[1], *msg = rep->element[2];
        for (int i = 0; i < c->o.n_channels; i++) {
            if (ch->len == c->o.channel_lens[i] &&
                memcmp(ch->str, c->o.channels[i], ch->len) == 0) {
                if (c->o.on_message)
                    c->o.on_message(c->o.owner, i, msg->str, msg->len);
                return;
            }
        }
    } else if (strcmp(kind, "subscribe") == 0) {
        if (++c->subscribed == c->o.n_channels && c->state == SKT_RCONN_HANDSHAKE)
            rconn_ready(c);
    }
}

/* ---- the public functions ------------------------------------------------------------ */

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

skt_rconn_t *
skt_rconn_new(const skt_rconn_opts_t *opts, const skt_rconn_endpoint_t *ep)
{
    skt_rconn_t *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    int oom = 0;
    c->o = *opts;
    c->ep.host = dup_or_null(ep->host, &oom);
    c->ep.port = ep->port;
    c->ep.db = ep->db;
    c->ep.username = dup_or_null(ep->username, &oom);
    c->ep.password = dup_or_null(ep->password, &oom);
    c->backoff_ms = SKT_RCONN_BACKOFF_MIN_MS;
    c->retry = evtimer_new(opts->host->base, rconn_on_retry, c);
    c->setup = evtimer_new(opts->host->base, rconn_on_setup_timeout, c);
    if (oom || !c->ep.host || !c->retry || !c->setup) {
        skt_rconn_free(c);
        return NULL;
    }
    return c;
}

void
skt_rconn_start(skt_rconn_t *c)
{
    if (!c->ac)
        rconn_connect(c);
}

int
skt_rconn_set_address(skt_rconn_t *c, const char *host, long port)
{
    if (strcmp(c->ep.host, host) != 0) {
        char *h = strdup(host);
        if (!h)
            return -1;
        free(c->ep.host);
        c->ep.host = h;
    }
    c->ep.port = port;
    return 0;
}

void
skt_rconn_delay(skt_rconn_t *c, unsigned ms)
{
    if (c->ac || c->state != SKT_RCONN_IDLE || !evtimer_pending(c->retry, NULL))
        return;
    struct timeval tv;
    ms_to_tv(ms, &tv);
    evtimer_add(c->retry, &tv);
}

void
skt_rconn_free(skt_rconn_t *c)
{
    if (!c)
        return;
    redisAsyncContext *ac = c->ac;
    c->ac = NULL;
    if (ac) {
        ac->data = NULL; /* its late callbacks now ignore it; command callbacks still run */
        redisAsyncFree(ac);
    }
    if (c->retry)
        event_free(c->retry);
    if (c->setup)
        event_free(c->setup);
    skt_rconn_endpoint_clear(&c->ep);
    free(c);
}

int
skt_rconn_state(const skt_rconn_t *c)
{
    return c->state;
}

int
skt_rconn_usable(const skt_rconn_t *c)
{
    return c && c->state == SKT_RCONN_READY && c->ac &&
           !(c->ac->c.flags & (REDIS_DISCONNECTING | REDIS_FREEING));
}

const char *
skt_rconn_host(const skt_rconn_t *c)
{
    return c->ep.host;
}

long
skt_rconn_port(const skt_rconn_t *c)
{
    return c->ep.port;
}

int
skt_rconn_command_argv(skt_rconn_t *c, redisCallbackFn *fn, void *privdata, int argc,
                       const char **argv, const size_t *lens)
{
    if (!skt_rconn_usable(c))
        return -1;
    return redisAsyncCommandArgv(c->ac, fn, privdata, argc, argv, lens) == REDIS_OK ? 0 : -1;
}

int
skt_rconn_command_formatted(skt_rconn_t *c, redisCallbackFn *fn, void *privdata, const char *cmd,
                            size_t len)
{
    if (!skt_rconn_usable(c))
        return -1;
    return redisAsyncFormattedCommand(c->ac, fn, privdata, cmd, len) == REDIS_OK ? 0 : -1;
}

void
skt_rconn_flush(skt_rconn_t *c)
{
    int done = 0;
    /* a few tries: a full socket buffer answers EAGAIN, and nothing waits for it to drain */
    for (int i = 0; i < RCONN_FLUSH_TRIES && !done && skt_rconn_usable(c); i++)
        if (redisBufferWrite(&c->ac->c, &done) != REDIS_OK)
            break;
}

int
skt_rconn_congested(skt_rconn_t *c)
{
    if (!c->ac || sdslen(c->ac->c.obuf) <= RCONN_MAX_PENDING_OUTPUT) {
        c->output_warned = 0;
        return 0;
    }
    if (!c->output_warned)
        rc_log(c, SOKETI_LOG_WARN,
               "redis at %s:%ld is not keeping up (%zu bytes unsent): dropping messages to "
               "other nodes until it catches up",
               c->ep.host, c->ep.port, sdslen(c->ac->c.obuf));
    c->output_warned = 1;
    return 1;
}

/* ---- configuration ------------------------------------------------------------------ */

const char *
skt_rconn_cfg(const soketi_host_t *host, const char *name)
{
    const char *v = host->config_get(name);
    return v ? v : "";
}

void
skt_rconn_endpoint_clear(skt_rconn_endpoint_t *ep)
{
    free(ep->host);
    free(ep->username);
    free(ep->password);
    memset(ep, 0, sizeof(*ep));
}

int
skt_rconn_endpoint_from_config(const soketi_host_t *host, const char *log_name,
                               skt_rconn_endpoint_t *ep)
{
    int oom = 0;
    memset(ep, 0, sizeof(*ep));
    ep->host = dup_or_null(skt_rconn_cfg(host, "database.redis.host"), &oom);
    ep->port = strtol(skt_rconn_cfg(host, "database.redis.port"), NULL, 10);
    ep->db = strtol(skt_rconn_cfg(host, "database.redis.db"), NULL, 10);
    ep->username = dup_or_null(skt_rconn_cfg(host, "database.redis.username"), &oom);
    ep->password = dup_or_null(skt_rconn_cfg(host, "database.redis.password"), &oom);
    if (oom) {
        host->log(SOKETI_LOG_ERROR, "%s: out of memory", log_name);
        skt_rconn_endpoint_clear(ep);
        return -1;
    }
    return 0;
}

int
skt_rconn_channels(const soketi_host_t *host, char *chan[3], size_t chan_len[3])
{
    static const char *const suffix[] = {"", "#comms#req", "#comms#res"};
    const char *prefix = skt_rconn_cfg(host, "adapter.redis.prefix");
    for (int i = 0; i < 3; i++) {
        size_t len = strlen(prefix) + strlen("#redis-adapter") + strlen(suffix[i]) + 1;
        if (!(chan[i] = malloc(len)))
            return -1;
        chan_len[i] = (size_t)snprintf(chan[i], len, "%s%sredis-adapter%s", prefix,
                                       *prefix ? "#" : "", suffix[i]);
    }
    return 0;
}
