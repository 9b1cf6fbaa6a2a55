/* horizontal.c - soketi's horizontal adapter over any pub/sub transport: broadcasts,
 * cluster-wide queries with timeouts, merging peers' answers, answering peers' requests.
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
#include "horizontal.h"

#include <event2/event.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "util/map.h"

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
/* At most one warning about malformed messages per this many ms; the rest go to debug. */
#define HZ_WARN_INTERVAL_MS 10000
/* How much of a malformed message a log line shows. */
#define HZ_LOG_EXCERPT 120

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
    uint64_t deadline_ms;
    long expected; /* responses to wait for; -1 until the subscriber count is known */
    long received;
    int refs;
    int pending; /* in the map and the FIFO */
    int done;    /* the host's callback has been called */
};

struct skt_hz_s {
    const soketi_host_t *host;
    skt_hz_transport_t tr;
    long timeout_ms;
    char *name;
    skt_map_t *pending; /* requestId -> skt_hz_req_t */
    skt_hz_req_t *head, *tail;
    struct event *timer;
    skt_rc_buf_t scratch; /* broadcast encoding, reused */
    int closing;
    uint64_t last_warn_ms;
    unsigned long quiet_drops; /* malformed messages logged at debug since the last warning */
};

static const char *const hz_channel_names[] = {"broadcast", "request", "response"};

/* ---- small helpers ------------------------------------------------------------------ */

uint64_t
skt_hz_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Logs through the host with the adapter's name in front. */
__attribute__((format(printf, 3, 4))) static void
hz_log(const skt_hz_t *hz, int level, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    hz->host->log(level, "%s: %s", hz->name, line);
}

/* Reports a dropped message: a warning now and then, debug lines in between, so that a
 * flood of garbage on the channel cannot flood the log. */
static void
hz_dropped(skt_hz_t *hz, int channel, const char *data, size_t len, const char *why)
{
    uint64_t now = skt_hz_now_ms();
    int n = len > HZ_LOG_EXCERPT ? HZ_LOG_EXCERPT : (int)len;
    if (hz->last_warn_ms == 0 || now - hz->last_warn_ms >= HZ_WARN_INTERVAL_MS) {
        hz_log(hz, SOKETI_LOG_WARN,
               "dropped a malformed message on the %s channel (%s; %lu more since the last "
               "warning): %.*s%s",
               hz_channel_names[channel], why, hz->quiet_drops, n, data,
               len > HZ_LOG_EXCERPT ? "..." : "");
        hz->last_warn_ms = now;
        hz->quiet_drops = 0;
    } else {
        hz->quiet_drops++;
        hz_log(hz, SOKETI_LOG_DEBUG, "dropped a malformed message on the %s channel (%s): %.*s",
               hz_channel_names[channel], why, n, data);
    }
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

/* ---- merging answers ---------------------------------------------------------------- */

void
skt_hz_acc_init(skt_hz_acc_t *acc, int kind)
{
    memset(acc, 0, sizeof(*acc));
    acc->kind = kind;
}

void
skt_hz_acc_clear(skt_hz_acc_t *acc)
{
    for (size_t i = 0; i < acc->n; i++) {
        free(acc->items[i].key);
        free(acc->items[i].info);
    }
    free(acc->items);
    skt_map_free(acc->index);
    skt_hz_acc_init(acc, acc->kind);
}

/* The item for key, added (key copied, info and count empty) when new. Returns its
 * index, or SIZE_MAX with acc->failed set when memory runs out. */
static size_t
acc_item(skt_hz_acc_t *acc, const char *key, int *added)
{
    size_t klen = strlen(key);
    *added = 0;
    if (acc->failed)
        return SIZE_MAX;
    if (!acc->index && !(acc->index = skt_map_new()))
        goto oom;
    void *found = skt_map_get(acc->index, key, klen);
    if (found)
        return (size_t)(uintptr_t)found - 1;
    if (acc->n == acc->cap) {
        size_t ncap = acc->cap ? acc->cap * 2 : 16;
        skt_hz_item_t *grown = realloc(acc->items, ncap * sizeof(*grown));
        if (!grown)
            goto oom;
        acc->items = grown;
        acc->cap = ncap;
    }
    skt_hz_item_t *it = &acc->items[acc->n];
    memset(it, 0, sizeof(*it));
    if (!(it->key = strdup(key)))
        goto oom;
    /* the map borrows the key: it lives in the item until the accumulator is cleared */
    if (skt_map_put(acc->index, it->key, klen, (void *)(uintptr_t)(acc->n + 1)) != 0) {
        free(it->key);
        goto oom;
    }
    *added = 1;
    return acc->n++;
oom:
    acc->failed = 1;
    return SIZE_MAX;
}

void
skt_hz_acc_member(skt_hz_acc_t *acc, const char *user_id, const char *user_info)
{
    int added;
    size_t i = acc_item(acc, user_id, &added);
    if (i == SIZE_MAX || !added)
        return;
    if (!(acc->items[i].info = strdup(user_info ? user_info : "null")))
        acc->failed = 1;
}

void
skt_hz_acc_channel(skt_hz_acc_t *acc, const char *channel, long count)
{
    int added;
    size_t i = acc_item(acc, channel, &added);
    if (i != SIZE_MAX)
        acc->items[i].count += count;
}

void
skt_hz_acc_id(skt_hz_acc_t *acc, const char *id)
{
    int added;
    acc_item(acc, id, &added);
}

size_t
skt_hz_acc_response(skt_hz_acc_t *acc, const skt_rc_response_t *resp)
{
    size_t skipped = 0;
    switch (acc->kind) {
    case SKT_HZ_ACC_COUNT:
        if (resp->has_total)
            acc->total += (long)resp->total;
        break;
    case SKT_HZ_ACC_EXISTS:
        if (resp->has_exists && resp->exists)
            acc->exists = 1;
        break;
    case SKT_HZ_ACC_MEMBERS:
        for (size_t i = 0; resp->members && i < json_array_size(resp->members); i++) {
            const char *id;
            char idbuf[24], *info;
            if (skt_rc_member_at(resp, i, &id, idbuf, &info) != 0) {
                skipped++;
                continue;
            }
            skt_hz_acc_member(acc, id, info);
            free(info);
        }
        break;
    case SKT_HZ_ACC_CHANNELS:
        for (size_t i = 0;
             resp->channels_with_count && i < json_array_size(resp->channels_with_count); i++) {
            const char *ch;
            long count;
            if (skt_rc_channel_count_at(resp, i, &ch, &count) != 0) {
                skipped++;
                continue;
            }
            skt_hz_acc_channel(acc, ch, count);
        }
        break;
    case SKT_HZ_ACC_IDS:
        for (size_t i = 0; resp->sockets && i < json_array_size(resp->sockets); i++) {
            const char *id;
            if (skt_rc_socket_at(resp, i, &id) != 0) {
                skipped++;
                continue;
            }
            skt_hz_acc_id(acc, id);
        }
        break;
    default:
        break;
    }
    return skipped;
}

/* Host iterators feeding an accumulator. */
static void
acc_each_member(void *arg, const char *user_id, const char *user_info)
{
    skt_hz_acc_member(arg, user_id, user_info);
}

static void
acc_each_channel(void *arg, const char *channel, long count)
{
    skt_hz_acc_channel(arg, channel, count);
}

static void
acc_each_id(void *arg, const char *id)
{
    skt_hz_acc_id(arg, id);
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
        hz_log(hz, SOKETI_LOG_ERROR, "out of memory starting a query");
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
    free(req);
}

/* Takes req out of the map and the FIFO. */
static void
req_unlink(skt_hz_req_t *req)
{
    skt_hz_t *hz = req->hz;
    if (!req->pending)
        return;
    req->pending = 0;
    skt_map_del(hz->pending, req->id, strlen(req->id));
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
        hz_log(req->hz, SOKETI_LOG_ERROR, "out of memory merging answers to a query");
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
        hz_log(hz, SOKETI_LOG_DEBUG,
               "request %s: %ld of %ld answers after %ld ms, answering with what arrived", req->id,
               req->received, req->expected, hz->timeout_ms);
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
    skt_rc_encode_request(&b, req->id, app_id, type, channel, ws_id, user_id);
    if (b.failed || skt_map_put(hz->pending, req->id, strlen(req->id), req) != 0) {
        hz_log(hz, SOKETI_LOG_ERROR, "out of memory sending a request; answering locally");
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
    if (hz->tr.numsub(hz->tr.self, req) != 0) {
        req->refs--;
        req_resolve(req, SOKETI_PARTIAL);
    } else if (hz->tr.publish(hz->tr.self, SKT_HZ_REQUEST, b.p, b.len) != 0) {
        req_resolve(req, SOKETI_PARTIAL);
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
        hz_log(hz, SOKETI_LOG_ERROR, "out of memory encoding a broadcast to %s", channel);
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

/* Counted as distinct members (a CHANNEL_MEMBERS request): soketi sums every node's
 * count, which counts a user connected to two nodes twice. */
static void
hz_channel_members_count(void *self, const char *app_id, const char *channel, soketi_count_cb cb,
                         void *arg)
{
    skt_hz_t *hz = self;
    hz_cb_t c = {.op = HZ_OP_MEMBERS_COUNT, .fn.count = cb, .arg = arg};
    skt_hz_req_t *req = req_new(hz, &c);
    if (!req)
        return;
    hz->host->local_channel_members(app_id, channel, acc_each_member, &req->acc);
    req_send(req, app_id, SKT_RC_CHANNEL_MEMBERS, channel, NULL, NULL);
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
    hz->host->local_channels(app_id, acc_each_channel, &req->acc);
    req_send(req, app_id, SKT_RC_CHANNELS_WITH_SOCKETS_COUNT, NULL, NULL, NULL);
}

static void
hz_channel_members(void *self, const char *app_id, const char *channel, soketi_members_cb cb,
                   void *arg)
{
    skt_hz_t *hz = self;
    hz_cb_t c = {.op = HZ_OP_MEMBERS, .fn.members = cb, .arg = arg};
    skt_hz_req_t *req = req_new(hz, &c);
    if (!req)
        return;
    hz->host->local_channel_members(app_id, channel, acc_each_member, &req->acc);
    req_send(req, app_id, SKT_RC_CHANNEL_MEMBERS, channel, NULL, NULL);
}

static void
hz_sockets(void *self, const char *app_id, soketi_ids_cb cb, void *arg)
{
    skt_hz_t *hz = self;
    hz_cb_t c = {.op = HZ_OP_IDS, .fn.ids = cb, .arg = arg};
    skt_hz_req_t *req = req_new(hz, &c);
    if (!req)
        return;
    hz->host->local_sockets(app_id, acc_each_id, &req->acc);
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
    hz->host->local_channel_sockets(app_id, channel, acc_each_id, &req->acc);
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

/* ---- messages from the other nodes -------------------------------------------------- */

static void
hz_on_broadcast(skt_hz_t *hz, const char *data, size_t len)
{
    skt_rc_broadcast_t m;
    if (skt_rc_decode_broadcast(data, len, &m) != 0) {
        hz_dropped(hz, SKT_HZ_BROADCAST, data, len, "not a broadcast");
        return;
    }
    if (strcmp(m.uuid, hz->host->node_id) != 0)
        hz->host->deliver_local(m.app_id, m.channel, m.data, m.data_len, m.except);
    skt_rc_broadcast_clear(&m);
}

/* Host iterators writing a response. */
static void
resp_each_member(void *arg, const char *user_id, const char *user_info)
{
    skt_rc_response_member(arg, user_id, user_info);
}

static void
resp_each_channel_count(void *arg, const char *channel, long count)
{
    skt_rc_response_channel_count(arg, channel, count);
}

static void
resp_each_socket(void *arg, const char *id)
{
    skt_rc_response_socket(arg, id);
}

static void
resp_each_id(void *arg, const char *id)
{
    skt_rc_response_id(arg, id);
}

/* CHANNELS: every channel with the ids of its sockets. The channel names are collected
 * first, so that the host is never asked about sockets from inside its channel iterator. */
static void
answer_channels(skt_hz_t *hz, skt_rc_buf_t *b, const char *app_id)
{
    skt_hz_acc_t names;
    skt_hz_acc_init(&names, SKT_HZ_ACC_IDS);
    hz->host->local_channels(app_id, acc_each_channel, &names);
    if (names.failed)
        b->failed = 1;
    skt_rc_response_list_begin(b, "channels");
    for (size_t i = 0; !b->failed && i < names.n; i++) {
        skt_rc_response_channel_begin(b, names.items[i].key);
        hz->host->local_channel_sockets(app_id, names.items[i].key, resp_each_id, b);
        skt_rc_response_channel_end(b);
    }
    skt_rc_response_list_end(b);
    skt_hz_acc_clear(&names);
}

/* Writes this node's answer to a peer's request into b, as soketi's onRequest does. */
static void
answer_request(skt_hz_t *hz, skt_rc_buf_t *b, const skt_rc_request_t *r)
{
    const soketi_host_t *h = hz->host;
    skt_rc_response_begin(b, r->request_id);
    switch (r->type) {
    case SKT_RC_SOCKETS:
        skt_rc_response_list_begin(b, "sockets");
        h->local_sockets(r->app_id, resp_each_socket, b);
        skt_rc_response_list_end(b);
        break;
    case SKT_RC_CHANNELS:
        answer_channels(hz, b, r->app_id);
        break;
    case SKT_RC_CHANNEL_SOCKETS:
        skt_rc_response_list_begin(b, "sockets");
        h->local_channel_sockets(r->app_id, r->channel, resp_each_socket, b);
        skt_rc_response_list_end(b);
        break;
    case SKT_RC_CHANNEL_MEMBERS:
        skt_rc_response_list_begin(b, "members");
        h->local_channel_members(r->app_id, r->channel, resp_each_member, b);
        skt_rc_response_list_end(b);
        break;
    case SKT_RC_SOCKETS_COUNT:
        skt_rc_response_total(b, h->local_sockets_count(r->app_id));
        break;
    case SKT_RC_CHANNEL_MEMBERS_COUNT:
        skt_rc_response_total(b, h->local_channel_members_count(r->app_id, r->channel));
        break;
    case SKT_RC_CHANNEL_SOCKETS_COUNT:
        skt_rc_response_total(b, h->local_channel_sockets_count(r->app_id, r->channel));
        break;
    case SKT_RC_SOCKET_EXISTS_IN_CHANNEL:
        skt_rc_response_exists(b, h->local_is_in_channel(r->app_id, r->channel, r->ws_id));
        break;
    case SKT_RC_CHANNELS_WITH_SOCKETS_COUNT:
        skt_rc_response_list_begin(b, "channelsWithSocketsCount");
        h->local_channels(r->app_id, resp_each_channel_count, b);
        skt_rc_response_list_end(b);
        break;
    case SKT_RC_TERMINATE_USER_CONNECTIONS:
        h->local_terminate_user_connections(r->app_id, r->user_id);
        break;
    default:
        break;
    }
    skt_rc_response_end(b);
}

static void
hz_on_request(skt_hz_t *hz, const char *data, size_t len)
{
    skt_rc_request_t r;
    if (skt_rc_decode_request(data, len, &r) != 0) {
        hz_dropped(hz, SKT_HZ_REQUEST, data, len, "not a request");
        return;
    }
    /* our own request, back from the channel */
    if (skt_map_get(hz->pending, r.request_id, strlen(r.request_id))) {
        skt_rc_request_clear(&r);
        return;
    }
    skt_rc_buf_t b = {0};
    answer_request(hz, &b, &r);
    if (b.failed)
        hz_log(hz, SOKETI_LOG_ERROR, "out of memory answering request %s (type %d)", r.request_id,
               r.type);
    else
        hz->tr.publish(hz->tr.self, SKT_HZ_RESPONSE, b.p, b.len);
    skt_rc_buf_free(&b);
    skt_rc_request_clear(&r);
}

static void
hz_on_response(skt_hz_t *hz, const char *data, size_t len)
{
    skt_rc_response_t resp;
    if (skt_rc_decode_response(data, len, &resp) != 0) {
        hz_dropped(hz, SKT_HZ_RESPONSE, data, len, "not a response");
        return;
    }
    skt_hz_req_t *req = skt_map_get(hz->pending, resp.request_id, strlen(resp.request_id));
    if (req) { /* else another node's request, or one of ours that timed out */
        if (skt_hz_acc_response(&req->acc, &resp) > 0)
            hz_dropped(hz, SKT_HZ_RESPONSE, data, len, "malformed items skipped");
        req->received++;
        if (req->expected >= 0 && req->received >= req->expected)
            req_resolve(req, SOKETI_OK);
    }
    skt_rc_response_clear(&resp);
}

void
skt_hz_on_message(skt_hz_t *hz, int channel, const char *data, size_t len)
{
    if (hz->closing)
        return;
    switch (channel) {
    case SKT_HZ_BROADCAST:
        hz_on_broadcast(hz, data, len);
        break;
    case SKT_HZ_REQUEST:
        hz_on_request(hz, data, len);
        break;
    case SKT_HZ_RESPONSE:
        hz_on_response(hz, data, len);
        break;
    default:
        break;
    }
}

/* ---- lifetime ----------------------------------------------------------------------- */

skt_hz_t *
skt_hz_new(const soketi_host_t *host, const skt_hz_transport_t *tr, long requests_timeout_ms,
           const char *name)
{
    skt_hz_t *hz = calloc(1, sizeof(*hz));
    if (!hz)
        return NULL;
    hz->host = host;
    hz->tr = *tr;
    hz->timeout_ms = requests_timeout_ms < 0 ? 0 : requests_timeout_ms;
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
    skt_rc_buf_free(&hz->scratch);
    free(hz->name);
    free(hz);
}
