/* adapter_workers.c - the adapter of the workers of one host (adapter_workers.so): soketi's
 * horizontal protocol (plugins/redis/horizontal.h) over the supervisor's relay, so that
 * `workers = N` processes behave as one server with the local adapter.
 *
 * The daemon loads it in place of adapter_local.so when workers > 1 and the adapter is
 * local (src/pusher/server_life.c); the supervisor (src/workers/supervisor.h) gave this
 * worker one end of a socketpair, named by SKT_WORKER_HUB_FD. Each message the layer
 * publishes is one frame (src/workers/frame.h) on it; the supervisor copies it to every
 * other worker (src/workers/hub.h), never back. "How many nodes listen" is the count of
 * workers the supervisor announces (NODES frames), this one included.
 *
 * DESIGN
 * As in the cluster adapter, the count is known at once, so each question waits in the
 * layer's queue of counts (skt_hz_counts_t) for a deferred event on the host's loop. A
 * message this worker cannot queue (the socket's output holds workersMaxQueueInMb already:
 * the supervisor is not reading) is dropped, counted (SOKETI_METRIC_MESSAGE_DROPPED) and
 * logged, throttled; its local part (this worker's own subscribers) has been delivered by
 * the layer. When the supervisor is gone (it died: PR_SET_PDEATHSIG ends this worker too),
 * the transport is down and queries answer locally.
 *
 * The optional ops of shared state (cluster_transition, cluster_present, cluster_admit,
 * rate_consume, cache_get, cache_set, cluster_connection) are the supervisor's
 * (workers_store.h, src/workers/hub_store.h): webhooks and online states change once per
 * host, and maxConnections, the presence member limit, the rate limits and the cache are
 * the host's. When a worker dies, the supervisor tells the others what it alone held (LOST
 * frames): each hands it to host->remote_left, so that their subscribers get the dead
 * worker's members' member_removed, and one of them fires the webhooks.
 */
#include <soketi/adapter.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "horizontal.h"
#include "workers/frame.h"
#include "workers/worker.h"
#include "workers_store.h"

#define WK_NAME "workers adapter"

typedef struct wk_s {
    const soketi_host_t *host;
    void (*metric)(const char *app_id, int what, double value); /* NULL: the host has none */
    /* NULL: the host has none (a worker that exits then leaves no member_removed) */
    void (*remote_left)(const char *app_id, const char *channel, const char *user_id,
                        int id_is_number, int fire_webhooks);
    skt_hz_t *hz;
    struct bufferevent *bev; /* NULL once the supervisor is gone */
    long nodes;              /* workers connected, this one included; 0: not heard yet */
    size_t max_frame;        /* adapter.maxMessageSizeInKb */
    size_t max_queue;        /* workersMaxQueueInMb */
    skt_hz_counts_t *counts;
    skt_wst_t *store;
    skt_hz_throttle_t dropped;
} wk_t;

#define wk_log(w, level, ...) skt_hz_logf((w)->host, WK_NAME, (level), __VA_ARGS__)

/* An integer option, or def when it is unknown or not a number. */
static long
cfg_long(const wk_t *w, const char *name, long def)
{
    const char *v = w->host->config_get(name);
    char *end;
    long n = v && *v ? strtol(v, &end, 10) : 0;
    return v && *v && !*end ? n : def;
}

/* ---- the transport horizontal.c uses --------------------------------------------------- */

static int
wk_tr_ready(void *self)
{
    wk_t *w = self;
    return w->bev && w->nodes > 0;
}

/* One of our messages could not be queued: counted, logged at most once a second. */
static void
wk_drop(wk_t *w, int channel, size_t len)
{
    unsigned long quiet;
    if (w->metric)
        w->metric(NULL, SOKETI_METRIC_MESSAGE_DROPPED, 1);
    if (skt_hz_throttle(&w->dropped, SKT_HZ_DROP_LOG_INTERVAL_MS, &quiet))
        wk_log(w, SOKETI_LOG_WARN,
               "a message of %zu bytes (channel %d) was not sent to the other workers: %zu "
               "bytes already wait for the supervisor (workersMaxQueueInMb); %lu more since "
               "the last line",
               len, channel, evbuffer_get_length(bufferevent_get_output(w->bev)), quiet);
}

static int
wk_tr_publish(void *self, int channel, const char *data, size_t len)
{
    wk_t *w = self;
    unsigned char head[SKT_WFRAME_HEAD];
    if (!w->bev)
        return -1;
    if (channel == SKT_HZ_REQUEST && w->nodes <= 1)
        return 0; /* nobody to ask */
    struct evbuffer *out = bufferevent_get_output(w->bev);
    if (evbuffer_get_length(out) + SKT_WFRAME_HEAD + len > w->max_queue) {
        wk_drop(w, channel, len);
        return -1;
    }
    skt_wframe_head(head, channel, len);
    if (evbuffer_add(out, head, sizeof(head)) != 0 || evbuffer_add(out, data, len) != 0)
        return -1;
    return 0;
}

static int
wk_tr_numsub(void *self, skt_hz_req_t *req)
{
    wk_t *w = self;
    return skt_hz_counts_add(w->counts, req, w->nodes > 0 ? w->nodes : 1);
}

/* ---- what the supervisor sends ---------------------------------------------------------- */

/* The supervisor is gone (or broke the protocol): nothing more crosses to the others. */
static void
wk_hub_lost(wk_t *w, const char *why)
{
    wk_log(w, SOKETI_LOG_ERROR, "%s: the other workers are out of reach", why);
    bufferevent_free(w->bev); /* deferred by libevent when inside its callback */
    w->bev = NULL;
    skt_wst_set_output(w->store, NULL);
    w->nodes = 0;
    skt_hz_transport_down(w->hz);
}

/* A LOST frame (frame.h): a worker that exited alone held a presence user or a channel;
 * the host ends it as that worker would have (host->remote_left). Returns -1 when the
 * frame is malformed. */
static int
wk_on_lost(wk_t *w, const unsigned char *p, size_t len)
{
    skt_wframe_reader_t r = {.p = p, .left = len};
    size_t al, cl, ul;
    uint32_t fire = skt_wframe_read_u32(&r), is_user = skt_wframe_read_u32(&r);
    const char *app = skt_wframe_read_str(&r, &al), *ch = skt_wframe_read_str(&r, &cl),
               *user = skt_wframe_read_str(&r, &ul);
    uint32_t id_number = skt_wframe_read_u32(&r);
    if (r.bad || r.left)
        return -1;
    if (!w->remote_left)
        return 0;
    char *a = strndup(app, al), *c = strndup(ch, cl), *u = is_user ? strndup(user, ul) : NULL;
    if (a && c && (u || !is_user))
        w->remote_left(a, c, u, id_number != 0, fire != 0);
    free(a);
    free(c);
    free(u);
    return 0;
}

static void
wk_read_cb(struct bufferevent *bev, void *arg)
{
    wk_t *w = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    const unsigned char *payload;
    int kind, got;
    size_t len;
    while (w->bev && (got = skt_wframe_next(in, w->max_frame, &kind, &len, &payload)) != 0) {
        if (got < 0) {
            wk_hub_lost(w, "a malformed frame from the supervisor");
            return;
        }
        if (kind == SKT_WFRAME_STORE ||
            (kind == SKT_WFRAME_STORED && skt_wst_on_answer(w->store, payload, len) != 0) ||
            (kind == SKT_WFRAME_LOST && wk_on_lost(w, payload, len) != 0)) {
            wk_hub_lost(w, "a frame from the supervisor that answers nothing asked");
            return;
        }
        if (kind == SKT_WFRAME_NODES)
            w->nodes = (long)skt_wframe_get_u32(payload);
        else if (kind < SKT_WFRAME_CHANNELS)
            skt_hz_on_message(w->hz, kind, (const char *)payload, len);
        evbuffer_drain(in, SKT_WFRAME_HEAD + len);
    }
}

static void
wk_event_cb(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        wk_hub_lost(arg, "the supervisor closed the connection");
}

/* ---- the shared state (workers_store.h) ------------------------------------------------ */

static void
wk_op_transition(void *self, const char *app_id, const char *channel, const char *user_id,
                 int joined, soketi_count_cb cb, void *arg)
{
    wk_t *w = skt_hz_transport_self(self);
    skt_wst_transition(w->store, app_id, channel, user_id, joined, cb, arg);
}

static void
wk_op_present(void *self, const char *app_id, const char *channel, const char *const *user_ids,
              size_t n, soketi_ids_cb cb, void *arg)
{
    wk_t *w = skt_hz_transport_self(self);
    skt_wst_present(w->store, app_id, channel, user_ids, n, cb, arg);
}

static void
wk_op_admit(void *self, const char *app_id, const char *channel, const char *user_id, long limit,
            soketi_count_cb cb, void *arg)
{
    wk_t *w = skt_hz_transport_self(self);
    skt_wst_admit(w->store, app_id, channel, user_id, 0, limit, cb, arg);
}

static void
wk_op_admit_typed(void *self, const char *app_id, const char *channel, const char *user_id,
                  int id_is_number, long limit, soketi_count_cb cb, void *arg)
{
    wk_t *w = skt_hz_transport_self(self);
    skt_wst_admit(w->store, app_id, channel, user_id, id_is_number, limit, cb, arg);
}

static void
wk_op_connection(void *self, const char *app_id, int joined, long limit, soketi_count_cb cb,
                 void *arg)
{
    wk_t *w = skt_hz_transport_self(self);
    skt_wst_connection(w->store, app_id, joined, limit, cb, arg);
}

static void
wk_op_rate(void *self, const char *key, long points, long window_ms, soketi_consume_cb cb,
           void *arg)
{
    wk_t *w = skt_hz_transport_self(self);
    skt_wst_rate(w->store, key, points, window_ms, cb, arg);
}

static void
wk_op_cache_get(void *self, const char *key, soketi_value_cb cb, void *arg)
{
    wk_t *w = skt_hz_transport_self(self);
    skt_wst_get(w->store, key, cb, arg);
}

static void
wk_op_cache_set(void *self, const char *key, const char *value, size_t len, long ttl_seconds)
{
    wk_t *w = skt_hz_transport_self(self);
    skt_wst_set(w->store, key, value, len, ttl_seconds);
}

/* ---- plugin entry points --------------------------------------------------------------- */

int
soketi_adapter_version(int count, const int *supported)
{
    return skt_hz_abi_version(count, supported);
}

static void
wk_free(wk_t *w)
{
    if (w->hz)
        skt_hz_shutdown(w->hz);
    skt_hz_counts_free(w->counts); /* the counts still queued report: the requests go */
    skt_wst_free(w->store);
    skt_hz_free(w->hz);
    if (w->bev)
        bufferevent_free(w->bev);
    free(w);
}

/* The socket the supervisor handed over, or -1 with the reason logged. */
static int
wk_hub_fd(wk_t *w)
{
    const char *v = getenv(SKT_WORKER_HUB_ENV);
    char *end;
    long fd = v && *v ? strtol(v, &end, 10) : -1;
    if (fd < 0 || *end || fd > 1 << 20 || fcntl((int)fd, F_GETFD) < 0) {
        wk_log(w, SOKETI_LOG_ERROR,
               "no connection to a supervisor (%s): this adapter is loaded by the workers "
               "of `workers` > 1 with the local adapter, not chosen by adapter.driver",
               SKT_WORKER_HUB_ENV);
        return -1;
    }
    fcntl((int)fd, F_SETFD, FD_CLOEXEC);
    return (int)fd;
}

/* Connects the layer to the supervisor. Returns 0, or -1 with the reason logged. */
static int
wk_setup(wk_t *w)
{
    int fd = wk_hub_fd(w);
    if (fd < 0)
        return -1;
    skt_hz_limits_t lim;
    skt_hz_limits_from_config(w->host, &lim);
    w->max_frame = lim.max_message;
    w->max_queue = (size_t)cfg_long(w, "workersMaxQueueInMb", 64) * 1024 * 1024;
    long timeout = cfg_long(w, "workersRequestsTimeout", 5000);
    evutil_make_socket_nonblocking(fd);
    w->bev = bufferevent_socket_new(w->host->base, fd, BEV_OPT_CLOSE_ON_FREE);
    w->counts = skt_hz_counts_new(w->host->base);
    w->store = skt_wst_new(w->host->base);
    skt_hz_transport_t tr = {
        .self = w, .ready = wk_tr_ready, .publish = wk_tr_publish, .numsub = wk_tr_numsub};
    if (!w->bev || !w->counts || !w->store ||
        !(w->hz = skt_hz_new(w->host, &tr, timeout, &lim, WK_NAME))) {
        if (!w->bev)
            close(fd);
        wk_log(w, SOKETI_LOG_ERROR, "out of memory");
        return -1;
    }
    bufferevent_setcb(w->bev, wk_read_cb, NULL, wk_event_cb, w);
    skt_wst_set_output(w->store, w->bev);
    bufferevent_enable(w->bev, EV_READ);
    wk_log(w, SOKETI_LOG_INFO,
           "this worker reaches the others through the supervisor; queries time out after "
           "%ld ms",
           timeout);
    return 0;
}

int
soketi_adapter_init(const soketi_host_t *host, soketi_adapter_t *adapter)
{
    if (skt_hz_check_host(host, adapter, WK_NAME) != 0)
        return 1;
    wk_t *w = calloc(1, sizeof(*w));
    if (!w) {
        host->log(SOKETI_LOG_ERROR, WK_NAME ": out of memory");
        return 1;
    }
    w->host = host;
    if (host->size >= offsetof(soketi_host_t, metric) + sizeof(host->metric))
        w->metric = host->metric;
    if (host->size >= offsetof(soketi_host_t, remote_left) + sizeof(host->remote_left))
        w->remote_left = host->remote_left;
    if (wk_setup(w) != 0) {
        wk_free(w);
        return 1;
    }
    adapter->self = w->hz;
    adapter->ops_size = sizeof(adapter->ops);
    skt_hz_fill_ops(&adapter->ops);
    adapter->ops.cluster_transition = wk_op_transition;
    adapter->ops.cluster_present = wk_op_present;
    adapter->ops.cluster_admit = wk_op_admit;
    adapter->ops.rate_consume = wk_op_rate;
    adapter->ops.cache_get = wk_op_cache_get;
    adapter->ops.cache_set = wk_op_cache_set;
    adapter->ops.cluster_connection = wk_op_connection;
    adapter->ops.cluster_admit_typed = wk_op_admit_typed;
    return 0;
}

void
soketi_adapter_cleanup(soketi_adapter_t *adapter)
{
    if (adapter->self)
        wk_free(skt_hz_transport_self(adapter->self));
    adapter->self = NULL;
}
