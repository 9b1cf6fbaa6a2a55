/* horizontal.c - soketi's horizontal adapter over any pub/sub transport: the adapter ops,
 * broadcasts, and cluster-wide queries with their timeouts and the peers' responses to
 * them. What peers send unasked (their broadcasts and requests) is horizontal_peers.c's,
 * merging answers horizontal_merge.c's; horizontal_internal.h is the state they share.
 *
 * DESIGN
 * A query is a request object (skt_hz_req_t) that lives in two places while it waits:
 * the map of pending requests by requestId (to find it when a response arrives, and to
 * recognise our own request when it comes back on the request channel, as soketi does)
 * and a FIFO list. Every request waits the same requests_timeout_ms, so the FIFO is also
 * ordered by deadline and one libevent timer, armed for the oldest request, serves them
 * all; the timer is the adapter's, never freed from its own callback.
 *
 * The NUMSUB question and the request are sent back to back, without waiting for the
 * count: responses that arrive before the count are merged and counted, and the request
 * completes as soon as both the count is known and that many responses are in. (soketi
 * asks first and publishes after; the answers are the same, one round trip sooner.)
 *
 * A request is referenced by its pending state and by an outstanding NUMSUB; it is freed
 * when both are gone, so a transport that reports the count after the request timed out
 * (or after shutdown resolved it) still finds it. Resolving removes it from the map and
 * the list before calling the host's callback, so the callback may start new queries.
 */
#include "horizontal_internal.h"

#include <event2/event.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* What a query answers with, i.e. which host callback type it has. */
enum hz_op {
    HZ_OP_NONE,          /* terminate_user_connections: no callback */
    HZ_OP_COUNT,         /* soketi_count_cb with the summed total */
    HZ_OP_MEMBERS_COUNT, /* soketi_count_cb with the number of distinct members */
    HZ_OP_EXISTS,        /* soketi_count_cb with 0/1 */
    HZ_OP_CHANNELS,      /* soketi_channels_cb */
    HZ_OP_MEMBERS,       /* soketi_members_cb */
    HZ_OP_IDS,           /* soketi_ids_cb */
};

/* The broadcast encoding buffer is kept between messages up to this size. */
#define HZ_SCRATCH_KEEP (64 * 1024)

/* A host callback of any query type, with its argument. */
typedef struct hz_cb_s {
    int op;
    union {
        soketi_count_cb count;
        soketi_channels_cb channels;
        soketi_members_cb members;
        soketi_ids_cb ids;
    } fn;
    void *arg;
} hz_cb_t;

struct skt_hz_req_s {
    skt_hz_t *hz;
    skt_hz_req_t *prev, *next; /* the FIFO, while pending */
    char id[40];               /* requestId: a v4 UUID */
    hz_cb_t cb;
    skt_hz_acc_t acc;
    char *app_id;     /* once published: for the metrics (NULL: out of memory, or none) */
    uint64_t sent_ms; /* when it was published */
    int sent;         /* published: the metrics count it */
    uint64_t deadline_ms;
    long expected; /* responses to wait for; -1 until the subscriber count is known */
    long received;
    int refs;
    int pending; /* in the map and the FIFO */
    int done;    /* the host's callback has been called */
    int echoed;  /* our own copy came back on the request channel */
};

/* ---- small helpers ------------------------------------------------------------------ */

uint64_t
skt_hz_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void
skt_hz_logf(const soketi_host_t *host, const char *name, int level, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    host->log(level, "%s: %s", name, line);
}

/* Records a metric when the host takes them. */
void
skt_hz_metric(const skt_hz_t *hz, const char *app_id, int what, double value)
{
    if (hz->metric)
        hz->metric(app_id, what, value);
}

/* A random (version 4) UUID, as soketi's requestIds are. */
static void
make_uuid(char out[37])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char r[16];
    if (getrandom(r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) {
        /* no entropy yet (very early boot): time and address still make it unique here */
        uint64_t t = skt_hz_now_ms() ^ (uint64_t)(uintptr_t)out;
        for (size_t i = 0; i < sizeof(r); i++)
            r[i] = (unsigned char)((t >> ((i % 8) * 8)) ^ (uint64_t)rand());
    }
    r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
    r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
    size_t o = 0;
    for (size_t i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[r[i] >> 4];
        out[o++] = hex[r[i] & 15];
    }
    out[o] = '\0';
}

/* ---- answering the host ------------------------------------------------------------- */

/* Calls the host's callback with acc's result (acc NULL or failed: SOKETI_ERROR and an
 * empty result). The arrays handed over live only during the call. */
static void
hz_call(const hz_cb_t *cb, int status, const skt_hz_acc_t *acc)
{
    if (!acc || acc->failed)
        status = SOKETI_ERROR;
    int err = status == SOKETI_ERROR;
    size_t n = err ? 0 : acc->n;
    switch (cb->op) {
    case HZ_OP_COUNT:
        cb->fn.count(cb->arg, status, err ? 0 : acc->total);
        return;
    case HZ_OP_MEMBERS_COUNT:
        cb->fn.count(cb->arg, status, (long)n);
        return;
    case HZ_OP_EXISTS:
        cb->fn.count(cb->arg, status, err ? 0 : acc->exists);
        return;
    case HZ_OP_NONE:
        return;
    default:
        break;
    }
    void *arr = NULL;
    size_t each = cb->op == HZ_OP_CHANNELS  ? sizeof(soketi_channel_count_t)
                  : cb->op == HZ_OP_MEMBERS ? sizeof(soketi_member_t)
                                            : sizeof(const char *);
    if (n && !(arr = malloc(n * each))) {
        status = SOKETI_ERROR;
        n = 0;
    }
    if (cb->op == HZ_OP_CHANNELS) {
        soketi_channel_count_t *out = arr;
        for (size_t i = 0; i < n; i++) {
            out[i].channel = acc->items[i].key;
            out[i].count = acc->items[i].count;
        }
        cb->fn.channels(cb->arg, status, out, n);
    } else if (cb->op == HZ_OP_MEMBERS) {
        soketi_member_t *out = arr;
        for (size_t i = 0; i < n; i++) {
            out[i].user_id = acc->items[i].key;
            out[i].user_info = acc->items[i].info;
        }
        cb->fn.members(cb->arg, status, out, n);
    } else {
        const char **out = arr;
        for (size_t i = 0; i < n; i++)
            out[i] = acc->items[i].key;
        cb->fn.ids(cb->arg, status, out, n);
    }
    free(arr);
}

/* ---- requests ----------------------------------------------------------------------- */

static int
op_acc_kind(int op)
{
    switch (op) {
    case HZ_OP_COUNT:
        return SKT_HZ_ACC_COUNT;
    case HZ_OP_MEMBERS_COUNT:
        return SKT_HZ_ACC_MEMBERS;
    case HZ_OP_EXISTS:
        return SKT_HZ_ACC_EXISTS;
    case HZ_OP_CHANNELS:
        return SKT_HZ_ACC_CHANNELS;
    case HZ_OP_MEMBERS:
        return SKT_HZ_ACC_MEMBERS;
    case HZ_OP_IDS:
        return SKT_HZ_ACC_IDS;
    default:
        return SKT_HZ_ACC_NONE;
    }
}

/* A new request for cb, or NULL after answering cb with SOKETI_ERROR (out of memory). */
static skt_hz_req_t *
req_new(skt_hz_t *hz, const hz_cb_t *cb)
{
    skt_hz_req_t *req = calloc(1, sizeof(*req));
    if (!req) {
        skt_hz_log(hz, SOKETI_LOG_ERROR, "out of memory starting a query");
        hz_call(cb, SOKETI_ERROR, NULL);
        return NULL;
    }
    req->hz = hz;
    req->cb = *cb;
    req->refs = 1;
    req->expected = -1;
    skt_hz_acc_init(&req->acc, op_acc_kind(cb->op));
    return req;
}

static void
req_unref(skt_hz_req_t *req)
{
    if (--req->refs > 0)
        return;
    skt_hz_acc_clear(&req->acc);
    free(req->app_id);
    free(req);
}

/* Takes req out of the map and the FIFO; its copy, still to come back, is remembered. */
static void
req_unlink(skt_hz_req_t *req)
{
    skt_hz_t *hz = req->hz;
    if (!req->pending)
        return;
    req->pending = 0;
    skt_map_del(hz->pending, req->id, strlen(req->id));
    if (!req->echoed) {
        memcpy(hz->recent[hz->recent_next], req->id, sizeof(req->id));
        hz->recent_next = (hz->recent_next + 1) % SKT_HZ_RECENT;
    }
    if (req->prev)
        req->prev->next = req->next;
    else
        hz->head = req->next;
    if (req->next)
        req->next->prev = req->prev;
    else
        hz->tail = req->prev;
    req->prev = req->next = NULL;
}

/* Answers the host once and drops the pending reference. */
static void
req_resolve(skt_hz_req_t *req, int status)
{
    if (req->done)
        return;
    req->done = 1;
    req_unlink(req);
    if (req->acc.failed)
        skt_hz_log(req->hz, SOKETI_LOG_ERROR, "out of memory merging answers to a query");
    /* like soketi, a query without a callback (terminate) is not resolved, only sent */
    if (req->sent && req->cb.op != HZ_OP_NONE)
        skt_hz_metric(req->hz, req->app_id,
                      status == SOKETI_OK && !req->acc.failed ? SOKETI_METRIC_RESOLVED
                                                              : SOKETI_METRIC_UNCOMPLETE,
                      (double)(skt_hz_now_ms() - req->sent_ms));
    hz_call(&req->cb, status, &req->acc);
    req_unref(req);
}

static void
hz_arm(skt_hz_t *hz)
{
    if (!hz->head)
        return;
    uint64_t now = skt_hz_now_ms();
    uint64_t wait = hz->head->deadline_ms > now ? hz->head->deadline_ms - now : 0;
    struct timeval tv = {(time_t)(wait / 1000), (suseconds_t)((wait % 1000) * 1000)};
    evtimer_add(hz->timer, &tv);
}

/* The oldest requests ran out of time: answer them with what arrived. */
static void
hz_on_timer(evutil_socket_t fd, short what, void *arg)
{
    skt_hz_t *hz = arg;
    uint64_t now = skt_hz_now_ms();
    while (hz->head && hz->head->deadline_ms <= now) {
        skt_hz_req_t *req = hz->head;
        skt_hz_log(hz, SOKETI_LOG_DEBUG,
                   "request %s: %ld of %ld answers after %ld ms, answering with what arrived",
                   req->id, req->received, req->expected, hz->timeout_ms);
        req_resolve(req, SOKETI_PARTIAL);
    }
    hz_arm(hz);
}

/* Sends req to the other nodes, or answers it with the local part at once when they
 * cannot be reached. channel, ws_id and user_id are the request's options (or NULL). */
static void
req_send(skt_hz_req_t *req, const char *app_id, int type, const char *channel, const char *ws_id,
         const char *user_id)
{
    skt_hz_t *hz = req->hz;
    skt_rc_buf_t b = {0};

    if (hz->closing || !hz->tr.ready(hz->tr.self)) {
        req_resolve(req, SOKETI_PARTIAL);
        return;
    }
    make_uuid(req->id);
    skt_rc_encode_request(&b, req->id, app_id, type, channel, ws_id, user_id, hz->host->node_id);
    if (b.failed || skt_map_put(hz->pending, req->id, strlen(req->id), req) != 0) {
        skt_hz_log(hz, SOKETI_LOG_ERROR, "out of memory sending a request; answering locally");
        skt_rc_buf_free(&b);
        req_resolve(req, SOKETI_PARTIAL);
        return;
    }
    req->pending = 1;
    req->deadline_ms = skt_hz_now_ms() + (uint64_t)hz->timeout_ms;
    req->prev = hz->tail;
    if (hz->tail)
        hz->tail->next = req;
    else
        hz->head = req;
    hz->tail = req;
    if (!evtimer_pending(hz->timer, NULL))
        hz_arm(hz);

    req->refs++; /* for the subscriber count, released in skt_hz_numsub_done */
    req->app_id = strdup(app_id);
    req->sent_ms = skt_hz_now_ms();
    if (hz->tr.numsub(hz->tr.self, req) != 0) {
        req->refs--;
        req_resolve(req, SOKETI_PARTIAL);
    } else if (hz->tr.publish(hz->tr.self, SKT_HZ_REQUEST, b.p, b.len) != 0) {
        req_resolve(req, SOKETI_PARTIAL);
    } else {
        req->sent = 1;
        skt_hz_metric(hz, app_id, SOKETI_METRIC_REQUEST_SENT, 0);
    }
    skt_rc_buf_free(&b);
}

void
skt_hz_numsub_done(skt_hz_req_t *req, long n)
{
    if (!req->done) {
        if (n < 0) {
            req_resolve(req, SOKETI_PARTIAL);
        } else {
            req->expected = n > 1 ? n - 1 : 0;
            if (req->received >= req->expected)
                req_resolve(req, SOKETI_OK);
        }
    }
    req_unref(req);
}

void
skt_hz_transport_down(skt_hz_t *hz)
{
    while (hz->head)
        req_resolve(hz->head, SOKETI_PARTIAL);
}

/* ---- the adapter ops ---------------------------------------------------------------- */

static void
hz_broadcast(void *self, const char *app_id, const char *channel, const char *msg, size_t msg_len,
             const char *except_socket_id)
{
    skt_hz_t *hz = self;
    hz->host->deliver_local(app_id, channel, msg, msg_len, except_socket_id);
    if (hz->closing)
        return;
    skt_rc_buf_reset(&hz->scratch, HZ_SCRATCH_KEEP);
    skt_rc_encode_broadcast(&hz->scratch, hz->host->node_id, app_id, channel, msg, msg_len,
                            except_socket_id);
    if (hz->scratch.failed) {
        skt_hz_log(hz, SOKETI_LOG_ERROR, "out of memory encoding a broadcast to %s", channel);
        return;
    }
    if (hz->scratch.len > hz->lim.max_message) { /* every peer would drop it */
        skt_hz_drop(hz, SKT_HZ_BROADCAST, SKT_HZ_DROP_UNSENT, app_id, hz->scratch.p,
                    hz->scratch.len, "delivered on this node only");
        return;
    }
    /* a failure means the transport is down, which it reports itself */
    hz->tr.publish(hz->tr.self, SKT_HZ_BROADCAST, hz->scratch.p, hz->scratch.len);
}

static void
hz_sockets_count(void *self, const char *app_id, soketi_count_cb cb, void *arg)
{
    skt_hz_t *hz = self;
    hz_cb_t c = {.op = HZ_OP_COUNT, .fn.count = cb, .arg = arg};
    skt_hz_req_t *req = req_new(hz, &c);
    if (!req)
        return;
    req->acc.total = hz->host->local_sockets_count(app_id);
    req_send(req, app_id, SKT_RC_SOCKETS_COUNT, NULL, NULL, NULL);
}

static void
hz_channel_sockets_count(void *self, const char *app_id, const char *channel, soketi_count_cb cb,
                         void *arg)
{
    skt_hz_t *hz = self;
    hz_cb_t c = {.op = HZ_OP_COUNT, .fn.count = cb, .arg = arg};
    skt_hz_req_t *req = req_new(hz, &c);
    if (!req)
        return;
    req->acc.total = hz->host->local_channel_sockets_count(app_id, channel);
    req_send(req, app_id, SKT_RC_CHANNEL_SOCKETS_COUNT, channel, NULL, NULL);
}

/* A CHANNEL_MEMBERS query: this node's members, then the peers'. c says what the caller
 * gets of them (the list, or how many). */
static void
hz_members_query(skt_hz_t *hz, const hz_cb_t *c, const char *app_id, const char *channel)
{
    skt_hz_req_t *req = req_new(hz, c);
    if (!req)
        return;
    hz->host->local_channel_members(app_id, channel, skt_hz_acc_each_member, &req->acc);
    req_send(req, app_id, SKT_RC_CHANNEL_MEMBERS, channel, NULL, NULL);
}

/* Counted as distinct members (a CHANNEL_MEMBERS request): soketi sums every node's
 * count, which counts a user connected to two nodes twice. */
static void
hz_channel_members_count(void *self, const char *app_id, const char *channel, soketi_count_cb cb,
                         void *arg)
{
    hz_cb_t c = {.op = HZ_OP_MEMBERS_COUNT, .fn.count = cb, .arg = arg};
    hz_members_query(self, &c, app_id, channel);
}

static void
hz_is_in_channel(void *self, const char *app_id, const char *channel, const char *socket_id,
                 soketi_count_cb cb, void *arg)
{
    skt_hz_t *hz = self;
    /* found here: no need to ask (soketi does the same) */
    if (hz->host->local_is_in_channel(app_id, channel, socket_id)) {
        cb(arg, SOKETI_OK, 1);
        return;
    }
    hz_cb_t c = {.op = HZ_OP_EXISTS, .fn.count = cb, .arg = arg};
    skt_hz_req_t *req = req_new(hz, &c);
    if (req)
        req_send(req, app_id, SKT_RC_SOCKET_EXISTS_IN_CHANNEL, channel, socket_id, NULL);
}

static void
hz_channels(void *self, const char *app_id, soketi_channels_cb cb, void *arg)
{
    skt_hz_t *hz = self;
    hz_cb_t c = {.op = HZ_OP_CHANNELS, .fn.channels = cb, .arg = arg};
    skt_hz_req_t *req = req_new(hz, &c);
    if (!req)
        return;
    hz->host->local_channels(app_id, skt_hz_acc_each_channel, &req->acc);
    req_send(req, app_id, SKT_RC_CHANNELS_WITH_SOCKETS_COUNT, NULL, NULL, NULL);
}

static void
hz_channel_members(void *self, const char *app_id, const char *channel, soketi_members_cb cb,
                   void *arg)
{
    hz_cb_t c = {.op = HZ_OP_MEMBERS, .fn.members = cb, .arg = arg};
    hz_members_query(self, &c, app_id, channel);
}

static void
hz_sockets(void *self, const char *app_id, soketi_ids_cb cb, void *arg)
{
    skt_hz_t *hz = self;
    hz_cb_t c = {.op = HZ_OP_IDS, .fn.ids = cb, .arg = arg};
    skt_hz_req_t *req = req_new(hz, &c);
    if (!req)
        return;
    hz->host->local_sockets(app_id, skt_hz_acc_each_id, &req->acc);
    req_send(req, app_id, SKT_RC_SOCKETS, NULL, NULL, NULL);
}

static void
hz_channel_sockets(void *self, const char *app_id, const char *channel, soketi_ids_cb cb, void *arg)
{
    skt_hz_t *hz = self;
    hz_cb_t c = {.op = HZ_OP_IDS, .fn.ids = cb, .arg = arg};
    skt_hz_req_t *req = req_new(hz, &c);
    if (!req)
        return;
    hz->host->local_channel_sockets(app_id, channel, skt_hz_acc_each_id, &req->acc);
    req_send(req, app_id, SKT_RC_CHANNEL_SOCKETS, channel, NULL, NULL);
}

/* Local sockets first, then a request so the other nodes close theirs. The request is
 * kept pending like a query: soketi nodes answer it with an empty response, and our own
 * copy must be recognised when it comes back. */
static void
hz_terminate_user_connections(void *self, const char *app_id, const char *user_id)
{
    skt_hz_t *hz = self;
    hz->host->local_terminate_user_connections(app_id, user_id);
    hz_cb_t c = {.op = HZ_OP_NONE};
    skt_hz_req_t *req = req_new(hz, &c);
    if (req)
        req_send(req, app_id, SKT_RC_TERMINATE_USER_CONNECTIONS, NULL, NULL, user_id);
}

/* The ABI this layer is written against. */
#define HZ_ABI 1

/* The host fields this layer reads end with local_terminate_user_connections. */
#define HZ_HOST_NEEDS                                                                              \
    (offsetof(soketi_host_t, local_terminate_user_connections) +                                   \
     sizeof(((soketi_host_t *)0)->local_terminate_user_connections))

int
skt_hz_abi_version(int count, const int *supported)
{
    for (int i = 0; i < count; i++)
        if (supported[i] == HZ_ABI)
            return HZ_ABI;
    return -1;
}

int
skt_hz_check_host(const soketi_host_t *host, const soketi_adapter_t *adapter, const char *name)
{
    int usable = host->size >= HZ_HOST_NEEDS && host->abi_version == HZ_ABI && host->base &&
                 host->node_id && host->config_get && host->log && host->deliver_local &&
                 host->local_sockets_count && host->local_channel_sockets_count &&
                 host->local_channel_members_count && host->local_is_in_channel &&
                 host->local_channels && host->local_channel_members && host->local_sockets &&
                 host->local_channel_sockets && host->local_terminate_user_connections;
    if (!usable) {
        if (host->size >= offsetof(soketi_host_t, log) + sizeof(host->log) && host->log)
            host->log(SOKETI_LOG_ERROR,
                      "%s: the host table lacks a function this adapter needs (size %zu, ABI %d)",
                      name, host->size, host->abi_version);
        return -1;
    }
    if (adapter->size < sizeof(*adapter)) {
        host->log(SOKETI_LOG_ERROR, "%s: the host's adapter struct is too small", name);
        return -1;
    }
    return 0;
}

void
skt_hz_fill_ops(soketi_adapter_ops_t *ops)
{
    ops->broadcast = hz_broadcast;
    ops->sockets_count = hz_sockets_count;
    ops->channel_sockets_count = hz_channel_sockets_count;
    ops->channel_members_count = hz_channel_members_count;
    ops->is_in_channel = hz_is_in_channel;
    ops->channels = hz_channels;
    ops->channel_members = hz_channel_members;
    ops->sockets = hz_sockets;
    ops->channel_sockets = hz_channel_sockets;
    ops->terminate_user_connections = hz_terminate_user_connections;
}

void *
skt_hz_transport_self(const skt_hz_t *hz)
{
    return hz->tr.self;
}

void *
skt_hz_store(const skt_hz_t *hz)
{
    return hz->tr.store;
}

/* ---- our requests coming back, and the responses to them ---------------------------- */

/* 1 when id is one of ours that completed before it came back (forgotten now). */
static int
hz_recent_take(skt_hz_t *hz, const char *id)
{
    for (unsigned i = 0; i < SKT_HZ_RECENT; i++) {
        if (hz->recent[i][0] && strcmp(hz->recent[i], id) == 0) {
            hz->recent[i][0] = '\0';
            return 1;
        }
    }
    return 0;
}

/* Every request comes back to its sender too (soketi recognises its own the same way):
 * a pending one is marked as come back, so that completing it need not remember it. */
int
skt_hz_own_request(skt_hz_t *hz, const char *request_id)
{
    skt_hz_req_t *own = skt_map_get(hz->pending, request_id, strlen(request_id));
    if (own) {
        own->echoed = 1;
        return 1;
    }
    return hz_recent_take(hz, request_id);
}

/* Most responses on the channel answer other nodes' requests: soketi and we write the id
 * first, so it is looked up without parsing the rest. */
int
skt_hz_response_wanted(const skt_hz_t *hz, const char *data, size_t len)
{
    const char *id;
    size_t n = skt_rc_response_id_prefix(data, len, &id);
    return !n || skt_map_get(hz->pending, id, n) != NULL;
}

/* A peer's response to one of our pending requests is merged into it and counted. */
void
skt_hz_on_response(skt_hz_t *hz, const char *data, size_t len)
{
    skt_rc_response_t resp;
    if (skt_rc_decode_response(data, len, &resp) != 0) {
        skt_hz_drop(hz, SKT_HZ_RESPONSE, SKT_HZ_DROP_MALFORMED, NULL, data, len, "not a response");
        return;
    }
    skt_hz_req_t *req = skt_map_get(hz->pending, resp.request_id, strlen(resp.request_id));
    if (req) { /* else another node's request, or one of ours that timed out */
        skt_hz_metric(hz, req->app_id, SOKETI_METRIC_RESPONSE_RECEIVED, 0);
        if (skt_hz_acc_response(&req->acc, &resp) > 0)
            skt_hz_drop(hz, SKT_HZ_RESPONSE, SKT_HZ_DROP_MALFORMED, req->app_id, data, len,
                        "some of its items skipped, the rest merged");
        req->received++;
        if (req->expected >= 0 && req->received >= req->expected)
            req_resolve(req, SOKETI_OK);
    }
    skt_rc_response_clear(&resp);
}

/* ---- lifetime ----------------------------------------------------------------------- */

skt_hz_t *
skt_hz_new(const soketi_host_t *host, const skt_hz_transport_t *tr, long requests_timeout_ms,
           const skt_hz_limits_t *lim, const char *name)
{
    skt_hz_t *hz = calloc(1, sizeof(*hz));
    if (!hz)
        return NULL;
    hz->host = host;
    if (host->size >= offsetof(soketi_host_t, metric) + sizeof(host->metric))
        hz->metric = host->metric;
    hz->tr = *tr;
    hz->timeout_ms = requests_timeout_ms < 0 ? 0 : requests_timeout_ms;
    hz->lim = *lim;
    /* a message's values cost a decoder a few dozen bytes each: at most one per 4 bytes of
     * the largest message keeps that within about ten times its size */
    hz->max_values = hz->lim.max_message / 4 + 16;
    hz->peers.max = SKT_HZ_MAX_PEERS;
    hz->name = strdup(name);
    hz->pending = skt_map_new();
    hz->timer = evtimer_new(host->base, hz_on_timer, hz);
    if (!hz->name || !hz->pending || !hz->timer) {
        skt_hz_free(hz);
        return NULL;
    }
    return hz;
}

void
skt_hz_shutdown(skt_hz_t *hz)
{
    hz->closing = 1;
    skt_hz_transport_down(hz);
}

void
skt_hz_free(skt_hz_t *hz)
{
    if (!hz)
        return;
    skt_hz_transport_down(hz);
    if (hz->timer)
        event_free(hz->timer);
    skt_map_free(hz->pending);
    skt_hz_buckets_clear(&hz->peers);
    skt_rc_buf_free(&hz->scratch);
    free(hz->name);
    free(hz);
}
