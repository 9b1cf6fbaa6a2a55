/* horizontal.c - soketi's horizontal adapter over any pub/sub transport: cluster-wide
 * queries, coalesced and rated, with their timeouts and the peers' responses to them. The
 * adapter ops are horizontal_ops.c's, what peers send unasked (their broadcasts and
 * requests) horizontal_peers.c's, both above this file (horizontal_internal.h is what it
 * offers them); what the callers get is horizontal_answer.c's, merging answers
 * horizontal_merge.c's, limits horizontal_limits.c's, and the state they share, the
 * clock and the log horizontal_core.c's, all below it.
 *
 * DESIGN
 * A query is a request object (skt_hz_req_t) that lives in two places while it waits:
 * the map of pending requests by requestId (to find it when a response arrives, and to
 * recognise our own request when it comes back on the request channel, as soketi does)
 * and a FIFO list. Every request waits the same requests_timeout_ms, so the FIFO is also
 * ordered by deadline and one libevent timer, armed for the oldest request, serves them
 * all; the timer is the adapter's, never freed from its own callback.
 *
 * Identical queries in flight are one request: a request with callers is also in the
 * `inflight` map under its coalescing key (type, app and options), and a query with that
 * key becomes one more caller of it instead of a new request. Every caller is answered
 * from the one set of peers' answers, with this node's part read when it is answered
 * (horizontal_answer.c). A new request spends a token of its app's bucket
 * (adapter.maxRequestsPerSecondPerApp); without one the query is answered from this node
 * alone, SOKETI_PARTIAL, at once.
 *
 * The NUMSUB question and the request are sent back to back, without waiting for the
 * count: responses that arrive before the count are merged and counted, and the request
 * completes as soon as both the count is known and that many responses are in. (soketi
 * asks first and publishes after; the answers are the same, one round trip sooner.)
 *
 * A request is referenced by its pending state and by an outstanding NUMSUB; it is freed
 * when both are gone, so a transport that reports the count after the request timed out
 * (or after shutdown resolved it) still finds it. Resolving removes it from the maps and
 * the list before calling the callers, so a callback may start new queries (which then
 * make a new request).
 */
#include "horizontal_internal.h"

#include <event2/event.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "util/hex.h"

struct skt_hz_req_s {
    skt_hz_t *hz;
    skt_hz_req_t *prev, *next; /* the FIFO, while pending */
    char id[40];               /* requestId: a v4 UUID */
    int type;                  /* SKT_RC_* */
    char *app_id;              /* the query's app and options (NULL: unused) */
    char *channel, *ws_id, *user_id;
    char *key;        /* coalescing key (in hz->inflight while pending); NULL: none */
    skt_hz_cb_t *cbs; /* its callers */
    size_t ncbs, capcbs;
    skt_hz_acc_t acc; /* the peers' answers */
    uint64_t sent_ms; /* when it was published */
    int sent;         /* published: the metrics count it */
    uint64_t deadline_ms;
    long expected; /* responses to wait for; -1 until the subscriber count is known */
    long received;
    int refs;
    int pending; /* in the maps and the FIFO */
    int done;    /* the callers have been answered */
    int echoed;  /* our own copy came back on the request channel */
};

/* ---- small helpers ------------------------------------------------------------------ */

/* A random (version 4) UUID, as soketi's requestIds are. */
static void
make_uuid(char out[37])
{
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
        out[o++] = skt_hex_digit(r[i] >> 4, 0);
        out[o++] = skt_hex_digit(r[i], 0);
    }
    out[o] = '\0';
}

/* ---- requests ----------------------------------------------------------------------- */

/* The query req asks, as skt_hz_answer takes it. */
static skt_hz_query_t
req_query(const skt_hz_req_t *req)
{
    return (skt_hz_query_t){.type = req->type,
                            .app_id = req->app_id,
                            .channel = req->channel,
                            .ws_id = req->ws_id,
                            .user_id = req->user_id};
}

/* A copy of s, or NULL for NULL; *oom set when the copy failed. */
static char *
dup_opt(const char *s, int *oom)
{
    char *d = s ? strdup(s) : NULL;
    if (s && !d)
        *oom = 1;
    return d;
}

/* The key identical queries share: type, app and options, separated by bytes no id
 * holds. A new string, or NULL when out of memory. */
static char *
query_key(const skt_hz_query_t *q)
{
    const char *parts[] = {q->app_id, q->channel, q->ws_id, q->user_id};
    size_t len = 8;
    for (int i = 0; i < 4; i++)
        len += (parts[i] ? strlen(parts[i]) : 0) + 2;
    char *key = malloc(len);
    if (!key)
        return NULL;
    size_t o = (size_t)snprintf(key, len, "%d", q->type);
    for (int i = 0; i < 4; i++)
        o += (size_t)snprintf(key + o, len - o, "\x1f%s", parts[i] ? parts[i] : "\x1e");
    return key;
}

/* Adds a caller to req. Returns 0, or -1 when out of memory. */
static int
req_add_cb(skt_hz_req_t *req, const skt_hz_cb_t *cb)
{
    if (req->ncbs == req->capcbs) {
        size_t ncap = req->capcbs ? req->capcbs * 2 : 1;
        skt_hz_cb_t *grown = realloc(req->cbs, ncap * sizeof(*grown));
        if (!grown)
            return -1;
        req->cbs = grown;
        req->capcbs = ncap;
    }
    req->cbs[req->ncbs++] = *cb;
    return 0;
}

static void
req_unref(skt_hz_req_t *req)
{
    if (--req->refs > 0)
        return;
    skt_hz_acc_clear(&req->acc);
    free(req->app_id);
    free(req->channel);
    free(req->ws_id);
    free(req->user_id);
    free(req->key);
    free(req->cbs);
    free(req);
}

/* A new request for q with its first caller cb (and key, taken), or NULL after answering
 * cb with SOKETI_ERROR (out of memory). */
static skt_hz_req_t *
req_new(skt_hz_t *hz, const skt_hz_cb_t *cb, const skt_hz_query_t *q, char *key)
{
    int oom = 0;
    skt_hz_req_t *req = calloc(1, sizeof(*req));
    if (req) {
        req->hz = hz;
        req->refs = 1;
        req->expected = -1;
        req->type = q->type;
        req->key = key;
        req->app_id = dup_opt(q->app_id, &oom);
        req->channel = dup_opt(q->channel, &oom);
        req->ws_id = dup_opt(q->ws_id, &oom);
        req->user_id = dup_opt(q->user_id, &oom);
        skt_hz_acc_init(&req->acc, skt_hz_type_acc_kind(q->type));
        req->acc.max_items = SKT_HZ_MAX_ITEMS;
        oom |= req_add_cb(req, cb) != 0;
        if (!oom)
            return req;
        req_unref(req);
    } else {
        free(key);
    }
    skt_hz_log(hz, SOKETI_LOG_ERROR, "out of memory starting a query");
    skt_hz_answer(hz, cb, 1, q, NULL, SOKETI_ERROR);
    return NULL;
}

/* Takes req out of the maps and the FIFO; its copy, still to come back, is remembered. */
static void
req_unlink(skt_hz_req_t *req)
{
    skt_hz_t *hz = req->hz;
    if (!req->pending)
        return;
    req->pending = 0;
    skt_map_del(hz->pending, req->id, strlen(req->id));
    if (req->key && skt_map_get(hz->inflight, req->key, strlen(req->key)) == req)
        skt_map_del(hz->inflight, req->key, strlen(req->key));
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

/* Answers every caller once and drops the pending reference. */
static void
req_resolve(skt_hz_req_t *req, int status)
{
    if (req->done)
        return;
    req->done = 1;
    req_unlink(req);
    if (status == SOKETI_OK && req->acc.partial)
        status = SOKETI_PARTIAL;
    /* like soketi, a query without a callback (terminate) is not resolved, only sent */
    if (req->sent && req->cbs[0].op != SKT_HZ_OP_NONE)
        skt_hz_metric(req->hz, req->app_id,
                      status == SOKETI_OK && !req->acc.failed ? SOKETI_METRIC_RESOLVED
                                                              : SOKETI_METRIC_UNCOMPLETE,
                      (double)(skt_hz_now_ms() - req->sent_ms));
    skt_hz_query_t q = req_query(req);
    skt_hz_answer(req->hz, req->cbs, req->ncbs, &q, &req->acc,
                  req->acc.failed ? SOKETI_ERROR : status);
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
    (void)fd;
    (void)what;
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
 * cannot be reached. */
static void
req_send(skt_hz_req_t *req)
{
    skt_hz_t *hz = req->hz;
    skt_jw_t b = SKT_RC_WRITER;

    make_uuid(req->id);
    skt_rc_encode_request(&b, req->id, req->app_id, req->type, req->channel, req->ws_id,
                          req->user_id, hz->host->node_id);
    if (b.failed || skt_map_put(hz->pending, req->id, strlen(req->id), req) != 0 ||
        (req->key && skt_map_put(hz->inflight, req->key, strlen(req->key), req) != 0)) {
        skt_map_del(hz->pending, req->id, strlen(req->id));
        skt_hz_log(hz, SOKETI_LOG_ERROR, "out of memory sending a request; answering locally");
        skt_jw_free(&b);
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
    req->sent_ms = skt_hz_now_ms();
    if (hz->tr.numsub(hz->tr.self, req) != 0) {
        req->refs--;
        req_resolve(req, SOKETI_PARTIAL);
    } else if (hz->tr.publish(hz->tr.self, SKT_HZ_REQUEST, b.p, b.len) != 0) {
        req_resolve(req, SOKETI_PARTIAL);
    } else {
        req->sent = 1;
        skt_hz_metric(hz, req->app_id, SOKETI_METRIC_REQUEST_SENT, 0);
    }
    skt_jw_free(&b);
}

/* Whether app_id may send one more request now (adapter.maxRequestsPerSecondPerApp);
 * when not, it is counted and logged (throttled). */
static int
hz_app_admitted(skt_hz_t *hz, const char *app_id)
{
    if (hz->lim.app_requests <= 0)
        return 1;
    skt_hz_bucket_t *b = skt_hz_buckets_get(&hz->apps, app_id);
    if (!b || skt_hz_bucket_take(b, (double)hz->lim.app_requests, skt_hz_now_ms()))
        return 1; /* out of memory: not a reason to refuse */
    unsigned long quiet;
    skt_hz_metric(hz, app_id, SOKETI_METRIC_REQUEST_LIMITED, 1);
    if (skt_hz_throttle(&hz->limited, SKT_HZ_DROP_LOG_INTERVAL_MS, &quiet))
        skt_hz_log(hz, SOKETI_LOG_WARN,
                   "app %s asks the cluster more than adapter.maxRequestsPerSecondPerApp (%ld) "
                   "times a second: answered from this node alone (%lu more since the last "
                   "line)",
                   app_id, hz->lim.app_requests, quiet);
    return 0;
}

void
skt_hz_query(skt_hz_t *hz, const skt_hz_cb_t *cb, const skt_hz_query_t *q)
{
    if (hz->closing || !hz->tr.ready(hz->tr.self)) {
        skt_hz_answer(hz, cb, 1, q, NULL, SOKETI_PARTIAL);
        return;
    }
    char *key = NULL;
    if (cb->op != SKT_HZ_OP_NONE) { /* a terminate is an order, not a question */
        key = query_key(q);
        skt_hz_req_t *same = key ? skt_map_get(hz->inflight, key, strlen(key)) : NULL;
        if (same && req_add_cb(same, cb) == 0) {
            skt_hz_metric(hz, q->app_id, SOKETI_METRIC_REQUEST_COALESCED, 1);
            free(key);
            return;
        }
    }
    if (!hz_app_admitted(hz, q->app_id)) {
        free(key);
        skt_hz_answer(hz, cb, 1, q, NULL, SOKETI_PARTIAL);
        return;
    }
    skt_hz_req_t *req = req_new(hz, cb, q, key);
    if (req)
        req_send(req);
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
    hz->scratch = (skt_jw_t)SKT_RC_WRITER;
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
    hz->apps.max = SKT_HZ_MAX_APPS;
    hz->name = strdup(name);
    hz->pending = skt_map_new();
    hz->inflight = skt_map_new();
    hz->timer = evtimer_new(host->base, hz_on_timer, hz);
    if (!hz->name || !hz->pending || !hz->inflight || !hz->timer) {
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
    skt_map_free(hz->inflight);
    skt_hz_buckets_clear(&hz->peers);
    skt_hz_buckets_clear(&hz->apps);
    skt_jw_free(&hz->scratch);
    free(hz->name);
    free(hz);
}
