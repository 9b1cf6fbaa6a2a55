/* nats_conn.c - the NATS adapter's connection: options, connecting, libnats's events on the
 * loop, draining the subscriptions, publishing. See nats_conn.h.
 *
 * DESIGN
 * libnats calls back from its own threads: the connect thread (natsConnection_Connect),
 * the reconnect thread and the callback thread. None of them touches this struct beyond
 * `mu` and what it guards (the connect thread's result, the last asynchronous error, the
 * closed flag); each posts a bit to the bridge (nats_loop.c), and the loop thread does the
 * rest in nc_on_events.
 *
 * Closing: natsConnection_Destroy posts libnats's disconnected and closed callbacks to its
 * callback thread, which runs them later, in order; the closed one is the last libnats ever
 * makes for a connection. skt_nc_free waits for it before freeing what the callbacks use.
 */
#include "nats_conn.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "horizontal.h"
#include "nats_loop.h"

/* Bits posted to the loop (nats_loop.h). */
enum {
    NC_EV_CONNECT_DONE = 1u << 0, /* the connect thread finished */
    NC_EV_UP = 1u << 1,           /* connected or reconnected */
    NC_EV_DOWN = 1u << 2,         /* disconnected */
    NC_EV_CLOSED = 1u << 3,       /* libnats gave the connection up */
    NC_EV_ERROR = 1u << 4,        /* an asynchronous error (slow consumer, permissions) */
    NC_EV_LAME_DUCK = 1u << 5,    /* the server is going away */
};

/* How long skt_nc_free waits for libnats's closed callback. */
#define NC_CLOSE_WAIT_MS 5000
/* After libnats gave a connection up (a refused login closes it) or made none, a new one is
 * made after 1 s, doubling up to 30 s while they keep failing. */
#define NC_RESTART_MS 1000
#define NC_RESTART_MAX_MS 30000

struct skt_nc_s {
    const soketi_host_t *host;
    char *name;
    skt_nc_owner_t owner;
    natsOptions *opts;
    skt_nl_t *nl;
    natsConnection *nc;
    char **subjects;
    natsSubscription **subs;
    int n_subs;
    int64_t *dropped; /* per subscription, as last read */
    int pending_msgs, pending_bytes;
    struct event *drain_more;
    int up;
    int closing;
    struct event *restart;
    long restart_ms; /* the next wait before a new connection; 0: NC_RESTART_MS */
    char url[256];
    skt_hz_throttle_t warned;      /* repeatable warnings */
    skt_hz_throttle_t drop_warned; /* drops */
    int64_t drops_unwarned;        /* dropped since the last warning about it */
    /* the connect thread */
    pthread_t thread;
    int thread_running;
    /* under mu: what libnats's threads leave for the loop */
    pthread_mutex_t mu;
    pthread_cond_t cond;
    natsConnection *connected; /* the connect thread's connection (NULL: none) */
    natsStatus connect_status;
    char connect_error[256];
    natsStatus async_error;
    int closed; /* libnats's closed callback ran */
};

#define nc_log(c, level, ...) skt_hz_logf((c)->host, (c)->name, (level), __VA_ARGS__)

/* The level of a failure that may repeat: a warning now and then, the rest at debug. */
static int
nc_warn_level(skt_nc_t *c)
{
    unsigned long quiet;
    return skt_hz_throttle(&c->warned, SKT_HZ_WARN_INTERVAL_MS, &quiet) ? SOKETI_LOG_WARN
                                                                        : SOKETI_LOG_DEBUG;
}

/* The text of libnats's last error on this thread, or of s. */
static const char *
nc_error_text(natsStatus s)
{
    natsStatus last;
    const char *text = nats_GetLastError(&last);
    return text && *text ? text : natsStatus_GetText(s);
}

/* ---- libnats's threads ---------------------------------------------------------------- */

/* libnats's callback thread: a (re)connection; the loop is told. */
static void
nc_cb_connected(natsConnection *nc, void *closure)
{
    (void)nc;
    skt_nl_post(((skt_nc_t *)closure)->nl, NC_EV_UP);
}

/* libnats's callback thread: the connection was lost; the loop is told. */
static void
nc_cb_disconnected(natsConnection *nc, void *closure)
{
    (void)nc;
    skt_nl_post(((skt_nc_t *)closure)->nl, NC_EV_DOWN);
}

/* The last callback libnats makes for a connection: skt_nc_free may go on, and free c, as
 * soon as `closed` is set, so nothing of c is touched after that. */
static void
nc_cb_closed(natsConnection *nc, void *closure)
{
    skt_nc_t *c = closure;
    (void)nc;
    skt_nl_post(c->nl, NC_EV_CLOSED);
    pthread_mutex_lock(&c->mu);
    c->closed = 1;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->mu);
}

/* libnats's callback thread: an asynchronous error (a slow consumer, a permission the
 * server refused); kept for the loop, which logs it. */
static void
nc_cb_error(natsConnection *nc, natsSubscription *sub, natsStatus err, void *closure)
{
    skt_nc_t *c = closure;
    (void)nc;
    (void)sub;
    pthread_mutex_lock(&c->mu);
    c->async_error = err;
    pthread_mutex_unlock(&c->mu);
    skt_nl_post(c->nl, NC_EV_ERROR);
}

/* libnats's callback thread: the server is going away; the loop logs it. */
static void
nc_cb_lame_duck(natsConnection *nc, void *closure)
{
    (void)nc;
    skt_nl_post(((skt_nc_t *)closure)->nl, NC_EV_LAME_DUCK);
}

/* 100 ms doubling to 5 s, by how many times the whole list was tried. Pure: libnats calls it
 * from its reconnect thread. */
static int64_t
nc_cb_delay(natsConnection *nc, int attempts, void *closure)
{
    (void)nc;
    (void)closure;
    int64_t ms = SKT_NC_BACKOFF_MIN_MS;
    for (int i = 1; i < attempts && ms < SKT_NC_BACKOFF_MAX_MS; i++)
        ms *= 2;
    return ms < SKT_NC_BACKOFF_MAX_MS ? ms : SKT_NC_BACKOFF_MAX_MS;
}

/* The connect thread: libnats's first attempt blocks (name lookups, TCP, the handshake), so
 * it runs here; the result goes to the loop. */
static void *
nc_connect_thread(void *arg)
{
    skt_nc_t *c = arg;
    natsConnection *nc = NULL;
    natsStatus s = natsConnection_Connect(&nc, c->opts);
    pthread_mutex_lock(&c->mu);
    c->connected = nc;
    c->connect_status = s;
    snprintf(c->connect_error, sizeof(c->connect_error), "%s", nc_error_text(s));
    pthread_mutex_unlock(&c->mu);
    nats_ReleaseThreadMemory();
    skt_nl_post(c->nl, NC_EV_CONNECT_DONE);
    return NULL;
}

/* ---- the loop thread ------------------------------------------------------------------ */

static void nc_check_dropped(skt_nc_t *c);

/* Why nc is not connected, for a log line: its last error, else fallback. */
static const char *
nc_reason(natsConnection *nc, const char *fallback)
{
    const char *text = NULL;
    if (nc && natsConnection_GetLastError(nc, &text) != NATS_OK && text && *text)
        return text;
    return fallback;
}

/* The connection's last error, for a log line. */
static const char *
nc_last_error(skt_nc_t *c)
{
    return nc_reason(c->nc, "connection closed");
}

const char *
skt_nc_url(skt_nc_t *c)
{
    if (!c->nc || natsConnection_GetConnectedUrl(c->nc, c->url, sizeof(c->url)) != NATS_OK)
        c->url[0] = '\0';
    return c->url;
}

/* Takes one subscription's queued messages (at most max) to the owner, in order. Returns
 * how many it took; libnats answers NATS_SLOW_CONSUMER once after it dropped messages
 * (counted here) before the next message. */
static int
nc_take(skt_nc_t *c, int i, int max)
{
    int taken = 0, msgs = 0;
    while (taken < max && c->subs[i] &&
           natsSubscription_GetPending(c->subs[i], &msgs, NULL) == NATS_OK && msgs > 0) {
        natsMsg *m = NULL;
        natsStatus s = natsSubscription_NextMsg(&m, c->subs[i], 0);
        if (s == NATS_OK && m) {
            c->owner.on_message(c->owner.owner, i, m);
            natsMsg_Destroy(m);
            taken++;
        } else if (s == NATS_SLOW_CONSUMER) {
            nc_check_dropped(c);
        } else {
            break;
        }
    }
    return taken;
}

/* Takes the queued messages to the owner, the subscriptions in turn, for at most
 * SKT_NC_DRAIN_BUDGET_MS: then the loop serves its clients and the rest waits for the next
 * turn (the drain timer), where libnats's pending limits bound it. */
static void
nc_drain(void *arg)
{
    skt_nc_t *c = arg;
    uint64_t start = skt_hz_now_ms();
    for (;;) {
        int taken = 0;
        for (int i = 0; i < c->n_subs; i++)
            taken += nc_take(c, i, 64);
        if (!taken)
            return;
        if (skt_hz_now_ms() - start >= SKT_NC_DRAIN_BUDGET_MS) {
            skt_nl_arm(c->drain_more, 0);
            return;
        }
    }
}

/* The drain timer: the messages a turn's budget left. */
static void
nc_on_drain_more(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    nc_drain(arg);
}

/* Reports what libnats dropped since the last look (its slow-consumer limits): to the
 * host's metrics, and in the log as a warning at most every SKT_HZ_DROP_LOG_INTERVAL_MS
 * with the count since the last warning (debug lines in between). */
static void
nc_check_dropped(skt_nc_t *c)
{
    for (int i = 0; i < c->n_subs; i++) {
        int64_t n = 0;
        if (!c->subs[i] || natsSubscription_GetDropped(c->subs[i], &n) != NATS_OK ||
            n <= c->dropped[i])
            continue;
        int64_t lost = n - c->dropped[i];
        c->dropped[i] = n;
        c->drops_unwarned += lost;
        unsigned long quiet;
        int warn = skt_hz_throttle(&c->drop_warned, SKT_HZ_DROP_LOG_INTERVAL_MS, &quiet);
        nc_log(c, warn ? SOKETI_LOG_WARN : SOKETI_LOG_DEBUG,
               "dropped %lld message(s) on %s: this node fell behind (slow consumer: more than "
               "adapter.nats.maxPendingMessages %d or maxPendingSizeInKb %d waiting)",
               (long long)(warn ? c->drops_unwarned : lost), c->subjects[i], c->pending_msgs,
               c->pending_bytes / 1024);
        if (warn)
            c->drops_unwarned = 0;
        /* one call per message: the host counts calls (soketi_adapter_messages_dropped_total) */
        if (c->host->size >= offsetof(soketi_host_t, metric) + sizeof(c->host->metric) &&
            c->host->metric)
            for (int64_t k = 0; k < lost; k++)
                c->host->metric(NULL, SOKETI_METRIC_MESSAGE_DROPPED, 1);
    }
}

/* Subscribes to every subject on the new connection. Returns 0, or -1 (logged). */
static int
nc_subscribe(skt_nc_t *c)
{
    for (int i = 0; i < c->n_subs; i++) {
        natsStatus s = natsConnection_SubscribeSync(&c->subs[i], c->nc, c->subjects[i]);
        if (s == NATS_OK)
            s = natsSubscription_SetPendingLimits(c->subs[i], c->pending_msgs, c->pending_bytes);
        if (s != NATS_OK) {
            nc_log(c, SOKETI_LOG_ERROR, "cannot subscribe to %s: %s", c->subjects[i],
                   nc_error_text(s));
            return -1;
        }
        c->dropped[i] = 0;
    }
    return 0;
}

/* Destroys the connection and its subscriptions, then waits for libnats's last callback. */
static void
nc_close(skt_nc_t *c)
{
    for (int i = 0; i < c->n_subs; i++) {
        natsSubscription_Destroy(c->subs[i]);
        c->subs[i] = NULL;
    }
    if (!c->nc)
        return;
    natsConnection_Destroy(c->nc);
    c->nc = NULL;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += NC_CLOSE_WAIT_MS / 1000;
    pthread_mutex_lock(&c->mu);
    while (!c->closed && pthread_cond_timedwait(&c->cond, &c->mu, &until) == 0)
        ;
    int closed = c->closed;
    c->closed = 0;
    pthread_mutex_unlock(&c->mu);
    if (!closed)
        nc_log(c, SOKETI_LOG_WARN, "libnats did not confirm the connection closed within %d ms",
               NC_CLOSE_WAIT_MS);
}

/* Tells the owner once per change of state. */
static void
nc_set_up(skt_nc_t *c, int up)
{
    if (c->up == up)
        return;
    c->up = up;
    if (up)
        c->restart_ms = 0;
    if (up)
        c->owner.on_up(c->owner.owner);
    else
        c->owner.on_down(c->owner.owner);
}

/* Starts the connect thread. Returns 0, or -1 (logged). */
static int
nc_spawn(skt_nc_t *c)
{
    int err = pthread_create(&c->thread, NULL, nc_connect_thread, c);
    if (err != 0) {
        nc_log(c, SOKETI_LOG_ERROR, "cannot start connecting: %s", strerror(err));
        return -1;
    }
    c->thread_running = 1;
    return 0;
}

/* A new connection later; returns the wait in ms, for the log. */
static long
nc_arm_restart(skt_nc_t *c)
{
    long ms = c->restart_ms ? c->restart_ms : NC_RESTART_MS;
    c->restart_ms = ms * 2 < NC_RESTART_MAX_MS ? ms * 2 : NC_RESTART_MAX_MS;
    skt_nl_arm(c->restart, ms);
    return ms;
}

/* The restart timer: a new connection once the last one was given up. */
static void
nc_on_restart(evutil_socket_t fd, short what, void *arg)
{
    skt_nc_t *c = arg;
    (void)fd;
    (void)what;
    if (!c->closing && !c->nc && !c->thread_running && nc_spawn(c) != 0)
        nc_arm_restart(c);
}

/* The connect thread is done: keep its connection (connected, or retrying by itself), or
 * try again later when libnats made none or closed it at once (a refused login). */
static void
nc_connect_done(skt_nc_t *c)
{
    pthread_join(c->thread, NULL);
    c->thread_running = 0;
    pthread_mutex_lock(&c->mu);
    natsConnection *nc = c->connected;
    natsStatus s = c->connect_status;
    c->connected = NULL;
    pthread_mutex_unlock(&c->mu);
    char why[256];
    snprintf(why, sizeof(why), "%s", nc_reason(nc, c->connect_error));
    c->nc = nc;
    if (nc && (natsConnection_IsClosed(nc) || nc_subscribe(c) != 0))
        nc_close(c);
    if (c->nc && s == NATS_OK) {
        nc_set_up(c, 1);
        return;
    }
    /* libnats retries this connection by itself; a closed or missing one is made again */
    char again[64] = "retrying";
    if (!c->nc)
        snprintf(again, sizeof(again), "trying again in %ld ms", nc_arm_restart(c));
    nc_log(c, c->nc ? SOKETI_LOG_WARN : nc_warn_level(c),
           "cannot connect to nats (%s): this node serves its own clients only until it can (%s)",
           why, again);
}

/* Logs an asynchronous error; a slow consumer is counted instead. */
static void
nc_on_async_error(skt_nc_t *c)
{
    pthread_mutex_lock(&c->mu);
    natsStatus err = c->async_error;
    pthread_mutex_unlock(&c->mu);
    if (err == NATS_SLOW_CONSUMER) {
        nc_check_dropped(c);
        return;
    }
    nc_log(c, nc_warn_level(c), "nats: %s (%s)", natsStatus_GetText(err), nc_last_error(c));
}

/* libnats's events, on the loop thread: a down before an up, so that a quick reconnect
 * leaves the owner up. */
static void
nc_on_events(void *arg, unsigned bits)
{
    skt_nc_t *c = arg;
    if (bits & NC_EV_CONNECT_DONE)
        nc_connect_done(c);
    if (c->closing || !c->nc)
        return;
    if (bits & NC_EV_ERROR)
        nc_on_async_error(c);
    if (bits & NC_EV_LAME_DUCK)
        nc_log(c, SOKETI_LOG_INFO, "the nats server %s is going away (lame duck mode)",
               skt_nc_url(c));
    if (bits & (NC_EV_DOWN | NC_EV_CLOSED)) {
        if (c->up)
            nc_log(c, SOKETI_LOG_WARN,
                   "lost the connection to nats (%s): this node keeps serving its own clients, "
                   "other nodes are unreachable until it is back (reconnecting); if the server "
                   "logged a slow consumer, this node could not keep up with the messages",
                   nc_last_error(c));
        nc_set_up(c, 0);
    }
    if (bits & NC_EV_CLOSED) {
        char why[256];
        snprintf(why, sizeof(why), "%s", nc_last_error(c));
        nc_close(c);
        long ms = nc_arm_restart(c);
        nc_log(c, nc_warn_level(c),
               "the nats connection was closed (%s): this node serves its own clients only; a "
               "new connection in %ld ms",
               why, ms);
        return;
    }
    if ((bits & NC_EV_UP) && natsConnection_Status(c->nc) == NATS_CONN_STATUS_CONNECTED)
        nc_set_up(c, 1);
    nc_drain(c);
}

/* ---- options -------------------------------------------------------------------------- */

/* 1 when path names a readable file; else logs why not under option. */
static int
nc_readable(skt_nc_t *c, const char *option, const char *path)
{
    if (access(path, R_OK) == 0)
        return 1;
    nc_log(c, SOKETI_LOG_ERROR, "%s: cannot read %s: %s", option, path, strerror(errno));
    return 0;
}

/* 1 when an optional string option is set. */
static int
nc_set(const char *s)
{
    return s && *s;
}

/* Authentication and TLS. Returns 0, or -1 (logged). */
static int
nc_options_security(skt_nc_t *c, const skt_nc_config_t *cfg)
{
    natsOptions *o = c->opts;
    natsStatus s = NATS_OK;
    if (nc_set(cfg->user) || nc_set(cfg->pass))
        s = natsOptions_SetUserInfo(o, cfg->user, cfg->pass);
    if (s == NATS_OK && nc_set(cfg->token))
        s = natsOptions_SetToken(o, cfg->token);
    if (s == NATS_OK && nc_set(cfg->creds)) {
        if (!nc_readable(c, "adapter.nats.credentials", cfg->creds))
            return -1;
        s = natsOptions_SetUserCredentialsFromFiles(o, cfg->creds, NULL);
    }
    if (s == NATS_OK && (nc_set(cfg->nkey) || nc_set(cfg->nkey_seed))) {
        if (!nc_set(cfg->nkey) || !nc_set(cfg->nkey_seed)) {
            nc_log(c, SOKETI_LOG_ERROR,
                   "adapter.nats.nkey and adapter.nats.nkeySeedPath go together");
            return -1;
        }
        if (!nc_readable(c, "adapter.nats.nkeySeedPath", cfg->nkey_seed))
            return -1;
        s = natsOptions_SetNKeyFromSeed(o, cfg->nkey, cfg->nkey_seed);
    }
    int tls = cfg->tls || nc_set(cfg->tls_ca) || nc_set(cfg->tls_cert) || nc_set(cfg->tls_key);
    if (s == NATS_OK && tls)
        s = natsOptions_SetSecure(o, true);
    if (s == NATS_OK && nc_set(cfg->tls_ca))
        s = natsOptions_LoadCATrustedCertificates(o, cfg->tls_ca);
    if (s == NATS_OK && (nc_set(cfg->tls_cert) || nc_set(cfg->tls_key))) {
        if (!nc_set(cfg->tls_cert) || !nc_set(cfg->tls_key)) {
            nc_log(c, SOKETI_LOG_ERROR,
                   "adapter.nats.tlsCertPath and adapter.nats.tlsKeyPath go together");
            return -1;
        }
        s = natsOptions_LoadCertificatesChain(o, cfg->tls_cert, cfg->tls_key);
    }
    if (s != NATS_OK) {
        nc_log(c, SOKETI_LOG_ERROR, "the nats credentials or TLS files do not work: %s",
               nc_error_text(s));
        return -1;
    }
    return 0;
}

/* The whole natsOptions. Returns 0, or -1 (logged). */
static int
nc_options(skt_nc_t *c, const skt_nc_config_t *cfg)
{
    natsOptions *o;
    natsStatus s = natsOptions_Create(&o);
    if (s != NATS_OK) {
        nc_log(c, SOKETI_LOG_ERROR, "cannot create the nats options: %s", nc_error_text(s));
        return -1;
    }
    c->opts = o;
    s = natsOptions_SetServers(o, (const char **)cfg->servers, (int)cfg->n_servers);
    if (s != NATS_OK) {
        nc_log(c, SOKETI_LOG_ERROR, "adapter.nats.servers: %s", nc_error_text(s));
        return -1;
    }
    if (nc_options_security(c, cfg) != 0)
        return -1;
    if (cfg->timeout_ms > 0)
        s = natsOptions_SetTimeout(o, cfg->timeout_ms);
    if (s == NATS_OK && nc_set(cfg->name))
        s = natsOptions_SetName(o, cfg->name);
    /* our own broadcasts and requests never come back: nothing to parse and drop */
    if (s == NATS_OK)
        s = natsOptions_SetNoEcho(o, true);
    /* a synchronous subscription swallows "no responders" answers without saying to which
     * request: without them a request to nobody times out, as with servers before 2.2 */
    if (s == NATS_OK)
        s = natsOptions_DisableNoResponders(o, true);
    if (s == NATS_OK)
        s = natsOptions_SetMaxReconnect(o, -1);
    if (s == NATS_OK)
        s = natsOptions_SetCustomReconnectDelay(o, nc_cb_delay, NULL);
    if (s == NATS_OK)
        s = natsOptions_SetIOBufSize(o, SKT_NC_IO_BUF);
    if (s == NATS_OK)
        s = natsOptions_SetPingInterval(o, SKT_NC_PING_INTERVAL_MS);
    if (s == NATS_OK)
        s = natsOptions_SetMaxPingsOut(o, SKT_NC_MAX_PINGS_OUT);
    if (s == NATS_OK)
        s = natsOptions_SetRetryOnFailedConnect(o, true, nc_cb_connected, c);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectedCB(o, nc_cb_connected, c);
    if (s == NATS_OK)
        s = natsOptions_SetDisconnectedCB(o, nc_cb_disconnected, c);
    if (s == NATS_OK)
        s = natsOptions_SetClosedCB(o, nc_cb_closed, c);
    if (s == NATS_OK)
        s = natsOptions_SetErrorHandler(o, nc_cb_error, c);
    if (s == NATS_OK)
        s = natsOptions_SetLameDuckModeCB(o, nc_cb_lame_duck, c);
    if (s == NATS_OK)
        s = skt_nl_attach_options(c->nl, o);
    if (s != NATS_OK) {
        nc_log(c, SOKETI_LOG_ERROR, "cannot set the nats options: %s", nc_error_text(s));
        return -1;
    }
    return 0;
}

/* ---- the interface -------------------------------------------------------------------- */

skt_nc_t *
skt_nc_new(const soketi_host_t *host, const char *log_name, const skt_nc_config_t *cfg,
           const char *const *subjects, int n_subjects, const skt_nc_owner_t *owner)
{
    skt_nc_t *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->host = host;
    c->owner = *owner;
    c->n_subs = n_subjects;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cond, NULL);
    skt_nl_owner_t lo = {.owner = c, .on_read = nc_drain, .on_events = nc_on_events};
    c->name = strdup(log_name);
    c->subjects = calloc((size_t)n_subjects, sizeof(*c->subjects));
    c->subs = calloc((size_t)n_subjects, sizeof(*c->subs));
    c->dropped = calloc((size_t)n_subjects, sizeof(*c->dropped));
    c->restart = evtimer_new(host->base, nc_on_restart, c);
    c->drain_more = evtimer_new(host->base, nc_on_drain_more, c);
    c->pending_msgs = cfg->pending_msgs > 0 ? (int)cfg->pending_msgs : SKT_NC_PENDING_MSGS;
    c->pending_bytes = cfg->pending_kb > 0 && cfg->pending_kb < INT32_MAX / 1024
                           ? (int)(cfg->pending_kb * 1024)
                           : SKT_NC_PENDING_BYTES;
    c->nl = skt_nl_new(host->base, &lo);
    int ok =
        c->name && c->subjects && c->subs && c->dropped && c->restart && c->drain_more && c->nl;
    for (int i = 0; ok && i < n_subjects; i++)
        ok = (c->subjects[i] = strdup(subjects[i])) != NULL;
    if (!ok) {
        host->log(SOKETI_LOG_ERROR, "%s: cannot set the connection up: %s", log_name,
                  strerror(errno ? errno : ENOMEM));
        skt_nc_free(c);
        return NULL;
    }
    if (nats_Open(-1) != NATS_OK) { /* once per process; later calls find it open */
        nc_log(c, SOKETI_LOG_ERROR, "cannot initialise libnats");
        skt_nc_free(c);
        return NULL;
    }
    if (nc_options(c, cfg) != 0) {
        skt_nc_free(c);
        return NULL;
    }
    return c;
}

int
skt_nc_start(skt_nc_t *c)
{
    return nc_spawn(c);
}

int
skt_nc_up(const skt_nc_t *c)
{
    return c->up;
}

/* Why a publish failed, logged now and then. */
static int
nc_refused(skt_nc_t *c, natsStatus s, size_t len)
{
    if (s == NATS_MAX_PAYLOAD)
        nc_log(c, nc_warn_level(c),
               "a message of %zu bytes is over the nats server's max_payload (%lld): not sent", len,
               (long long)natsConnection_GetMaxPayload(c->nc));
    else
        nc_log(c, nc_warn_level(c), "cannot publish: %s", nc_error_text(s));
    return -1;
}

/* The checks before any publish: connected, and not backed up. */
static int
nc_can_publish(skt_nc_t *c)
{
    if (!c->up || !c->nc)
        return 0;
    int buffered = natsConnection_Buffered(c->nc);
    if (buffered > SKT_NC_MAX_BUFFERED) {
        nc_log(c, nc_warn_level(c),
               "the nats server is not keeping up (%d bytes unsent): dropping messages to "
               "other nodes until it catches up",
               buffered);
        return 0;
    }
    return 1;
}

int
skt_nc_publish(skt_nc_t *c, const char *subject, const char *data, size_t len)
{
    if (!nc_can_publish(c))
        return -1;
    natsStatus s = natsConnection_Publish(c->nc, subject, data, (int)len);
    return s == NATS_OK ? 0 : nc_refused(c, s, len);
}

int
skt_nc_publish_msg(skt_nc_t *c, natsMsg *msg)
{
    if (!nc_can_publish(c))
        return -1;
    natsStatus s = natsConnection_PublishMsg(c->nc, msg);
    return s == NATS_OK ? 0 : nc_refused(c, s, (size_t)natsMsg_GetDataLength(msg));
}

void
skt_nc_flush(skt_nc_t *c, int ms)
{
    struct timespec step = {0, 1000000};
    for (int waited = 0; c->nc && c->up && waited < ms; waited++) {
        natsConnection_ProcessWriteEvent(c->nc);
        if (natsConnection_Buffered(c->nc) <= 0)
            return;
        nanosleep(&step, NULL);
    }
}

void
skt_nc_free(skt_nc_t *c)
{
    if (!c)
        return;
    c->closing = 1;
    if (c->thread_running) {
        pthread_join(c->thread, NULL);
        c->thread_running = 0;
        c->nc = c->connected; /* the bridge's CONNECT_DONE is dropped with it */
        c->connected = NULL;
    }
    nc_close(c);
    natsOptions_Destroy(c->opts);
    skt_nl_free(c->nl);
    if (c->restart)
        event_free(c->restart);
    if (c->drain_more)
        event_free(c->drain_more);
    for (int i = 0; c->subjects && i < c->n_subs; i++)
        free(c->subjects[i]);
    free(c->subjects);
    free(c->subs);
    free(c->dropped);
    free(c->name);
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->mu);
    free(c);
}
