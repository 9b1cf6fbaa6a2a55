/* horizontal_peers.c - what the other nodes send: their broadcasts, delivered to this
 * node's sockets, and their requests, answered from this node's state as soketi's
 * onRequest does; the responses to our own requests go to horizontal.c, which waits for
 * them. What a peer may not send is dropped here before it costs more than a look: too
 * large (before parsing), too complex to parse (skt_rc_scan), malformed, or a request
 * over its sender's rate or the total rate of peers' requests this node answers.
 */
#include "horizontal_internal.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* ---- broadcasts --------------------------------------------------------------------- */

/* A peer's broadcast: delivered here unless it is our own, back from the channel. */
static void
hz_on_broadcast(skt_hz_t *hz, const char *data, size_t len)
{
    skt_rc_broadcast_t m;
    if (skt_rc_decode_broadcast(data, len, &m) != 0) {
        skt_hz_drop(hz, SKT_HZ_BROADCAST, SKT_HZ_DROP_MALFORMED, NULL, data, len,
                    "not a broadcast");
        return;
    }
    if (strcmp(m.uuid, hz->host->node_id) != 0)
        hz->host->deliver_local(m.app_id, m.channel, m.data, m.data_len, m.except);
    skt_rc_broadcast_clear(&m);
}

/* ---- answering requests ------------------------------------------------------------- */

/* Bytes an answer keeps free for what closes it: `]]`, `]`, `,"partial":true` and `}`. */
#define HZ_ANSWER_TAIL 32

/* An answer being written: items past `cap` bytes are left out, and the answer then says
 * it is partial. */
typedef struct hz_writer_s {
    skt_jw_t *b;
    size_t cap;
    int cut; /* an item was left out */
} hz_writer_t;

/* Keeps the item written since mark when it fits under the cap, else takes it back.
 * Returns 1 when it was kept. */
static int
writer_fits(hz_writer_t *w, size_t mark)
{
    if (w->b->failed || w->b->len + HZ_ANSWER_TAIL <= w->cap)
        return 1;
    w->b->len = mark;
    w->b->p[mark] = '\0';
    w->cut = 1;
    return 0;
}

/* Host iterators writing an answer's items (arg: the writer). */
static void
resp_each_typed_member(void *arg, const char *user_id, const char *user_info, int id_number)
{
    hz_writer_t *w = arg;
    size_t mark = w->b->len;
    if (!w->cut) {
        skt_rc_response_member(w->b, user_id, id_number, user_info);
        writer_fits(w, mark);
    }
}

static void
resp_each_member(void *arg, const char *user_id, const char *user_info)
{
    resp_each_typed_member(arg, user_id, user_info, 0);
}

static void
resp_each_channel_count(void *arg, const char *channel, long count)
{
    hz_writer_t *w = arg;
    size_t mark = w->b->len;
    if (!w->cut) {
        skt_rc_response_channel_count(w->b, channel, count);
        writer_fits(w, mark);
    }
}

static void
resp_each_socket(void *arg, const char *id)
{
    hz_writer_t *w = arg;
    size_t mark = w->b->len;
    if (!w->cut) {
        skt_rc_response_socket(w->b, id);
        writer_fits(w, mark);
    }
}

static void
resp_each_id(void *arg, const char *id)
{
    hz_writer_t *w = arg;
    size_t mark = w->b->len;
    if (!w->cut) {
        skt_rc_response_id(w->b, id);
        writer_fits(w, mark);
    }
}

/* CHANNELS: every channel with the ids of its sockets. The channel names are collected
 * first, so that the host is never asked about sockets from inside its channel iterator. */
static void
answer_channels(skt_hz_t *hz, hz_writer_t *w, const char *app_id)
{
    skt_hz_acc_t names;
    skt_hz_acc_init(&names, SKT_HZ_ACC_IDS);
    hz->host->local_channels(app_id, skt_hz_acc_each_channel, &names);
    if (names.failed)
        w->b->failed = 1;
    for (size_t i = 0; !w->b->failed && !w->cut && i < names.n; i++) {
        size_t mark = w->b->len;
        skt_rc_response_channel_begin(w->b, names.items[i].key);
        if (!writer_fits(w, mark))
            break;
        hz->host->local_channel_sockets(app_id, names.items[i].key, resp_each_id, w);
        skt_rc_response_channel_end(w->b); /* within the tail kept free */
    }
    skt_hz_acc_clear(&names);
}

/* The list field a request type's answer carries, or NULL for a scalar answer. */
static const char *
answer_list_field(int type)
{
    switch (type) {
    case SKT_RC_SOCKETS:
    case SKT_RC_CHANNEL_SOCKETS:
        return "sockets";
    case SKT_RC_CHANNELS:
        return "channels";
    case SKT_RC_CHANNEL_MEMBERS:
        return "members";
    case SKT_RC_CHANNELS_WITH_SOCKETS_COUNT:
        return "channelsWithSocketsCount";
    default:
        return NULL;
    }
}

/* Writes a list answer's items (type SKT_RC_* with a list field). */
static void
answer_list(skt_hz_t *hz, hz_writer_t *w, const skt_rc_request_t *r)
{
    const soketi_host_t *h = hz->host;
    switch (r->type) {
    case SKT_RC_SOCKETS:
        h->local_sockets(r->app_id, resp_each_socket, w);
        break;
    case SKT_RC_CHANNELS:
        answer_channels(hz, w, r->app_id);
        break;
    case SKT_RC_CHANNEL_SOCKETS:
        h->local_channel_sockets(r->app_id, r->channel, resp_each_socket, w);
        break;
    case SKT_RC_CHANNEL_MEMBERS:
        if (skt_hz_host_typed(h))
            h->local_channel_members_typed(r->app_id, r->channel, resp_each_typed_member, w);
        else
            h->local_channel_members(r->app_id, r->channel, resp_each_member, w);
        break;
    case SKT_RC_CHANNELS_WITH_SOCKETS_COUNT:
        h->local_channels(r->app_id, resp_each_channel_count, w);
        break;
    default:
        break;
    }
}

/* Writes a scalar answer's field, this node's count or whether it has the socket (or
 * nothing: terminate). */
static void
answer_scalar(skt_hz_t *hz, skt_jw_t *b, const skt_rc_request_t *r)
{
    if (r->type == SKT_RC_TERMINATE_USER_CONNECTIONS) {
        hz->host->local_terminate_user_connections(r->app_id, r->user_id);
        return;
    }
    skt_hz_query_t q = {
        .type = r->type, .app_id = r->app_id, .channel = r->channel, .ws_id = r->ws_id};
    skt_hz_acc_t acc;
    skt_hz_acc_init(&acc, skt_hz_type_acc_kind(r->type));
    skt_hz_local(hz, &acc, &q);
    if (acc.kind == SKT_HZ_ACC_COUNT)
        skt_rc_response_total(b, acc.total);
    else if (acc.kind == SKT_HZ_ACC_EXISTS)
        skt_rc_response_exists(b, acc.exists);
    skt_hz_acc_clear(&acc);
}

/* How many bytes the next answer's list may take: adapter.maxResponseSizeInKb, and what
 * is left of this second's adapter.maxResponseKbPerSecond (past the budget, lists are
 * answered empty and partial). */
static size_t
answer_cap(skt_hz_t *hz)
{
    size_t cap = hz->lim.max_response;
    if (hz->lim.response_bytes > 0) {
        double left =
            skt_hz_bucket_level(&hz->answer_bytes, (double)hz->lim.response_bytes, skt_hz_now_ms());
        if (left < (double)cap)
            cap = left > 0 ? (size_t)left : 0;
    }
    return cap;
}

/* The budget of answer bytes pays for an answer sent (into debt when it was over). */
static void
answer_spend(skt_hz_t *hz, size_t len)
{
    if (hz->lim.response_bytes <= 0)
        return;
    skt_hz_bucket_level(&hz->answer_bytes, (double)hz->lim.response_bytes, skt_hz_now_ms());
    hz->answer_bytes.tokens -= (double)len;
}

/* Writes this node's answer to a peer's request into b, as soketi's onRequest does,
 * cut to answer_cap() bytes with "partial": true when its list does not fit. Returns 1
 * when it was cut. */
static int
answer_request(skt_hz_t *hz, skt_jw_t *b, const skt_rc_request_t *r)
{
    const char *field = answer_list_field(r->type);
    skt_rc_response_begin(b, r->request_id);
    hz_writer_t w = {.b = b, .cap = 0};
    if (field) {
        skt_rc_response_list_begin(b, field);
        w.cap = b->len + answer_cap(hz);
        answer_list(hz, &w, r);
        skt_rc_response_list_end(b);
        if (w.cut)
            skt_rc_response_partial(b);
    } else {
        answer_scalar(hz, b, r);
    }
    skt_rc_response_end(b);
    return w.cut;
}

/* An answer was cut short: counted and logged (throttled). */
static void
answer_cut(skt_hz_t *hz, const skt_rc_request_t *r, size_t len)
{
    unsigned long quiet;
    skt_hz_metric(hz, r->app_id, SOKETI_METRIC_RESPONSE_TRUNCATED, 1);
    if (skt_hz_throttle(&hz->truncated, SKT_HZ_DROP_LOG_INTERVAL_MS, &quiet))
        skt_hz_log(hz, SOKETI_LOG_WARN,
                   "cut an answer to a peer's request (type %d, app %s) to %zu bytes, marked "
                   "partial: adapter.maxResponseSizeInKb is %zu, adapter.maxResponseKbPerSecond "
                   "%ld (%lu more since the last line)",
                   r->type, r->app_id, len, hz->lim.max_response / 1024,
                   hz->lim.response_bytes / 1024, quiet);
}

/* Whether this node answers r now: its sender (when it names itself, as our nodes do;
 * soketi's do not) within adapter.maxPeerRequestsPerSecond, and every peer together
 * within adapter.maxPeerRequestsPerSecondTotal. Else it is dropped, reported with why. */
static int
hz_request_admitted(skt_hz_t *hz, const skt_rc_request_t *r, const char *data, size_t len)
{
    uint64_t now = skt_hz_now_ms();
    skt_hz_bucket_t *peer = NULL;
    if (r->uuid && hz->lim.peer_requests > 0)
        peer = skt_hz_buckets_get(&hz->peers, r->uuid);
    if (peer && skt_hz_bucket_level(peer, (double)hz->lim.peer_requests, now) < 1.0) {
        char detail[96];
        snprintf(detail, sizeof(detail), "%ld per second from node %.40s", hz->lim.peer_requests,
                 r->uuid);
        skt_hz_drop(hz, SKT_HZ_REQUEST, SKT_HZ_DROP_PEER_RATE, r->app_id, data, len, detail);
        return 0;
    }
    if (!skt_hz_bucket_take(&hz->peers_total, (double)hz->lim.peer_requests_total, now)) {
        char detail[64];
        snprintf(detail, sizeof(detail), "%ld per second", hz->lim.peer_requests_total);
        skt_hz_drop(hz, SKT_HZ_REQUEST, SKT_HZ_DROP_TOTAL_RATE, r->app_id, data, len, detail);
        return 0;
    }
    if (peer)
        peer->tokens -= 1.0;
    return 1;
}

/* A peer's request: answered, unless it is one of ours come back or over a rate. */
static void
hz_on_request(skt_hz_t *hz, const char *data, size_t len)
{
    skt_rc_request_t r;
    if (skt_rc_decode_request(data, len, &r) != 0) {
        skt_hz_drop(hz, SKT_HZ_REQUEST, SKT_HZ_DROP_MALFORMED, NULL, data, len, "not a request");
        return;
    }
    /* our own request, back from the channel */
    if (skt_hz_own_request(hz, r.request_id) || !hz_request_admitted(hz, &r, data, len)) {
        skt_rc_request_clear(&r);
        return;
    }
    skt_hz_metric(hz, r.app_id, SOKETI_METRIC_REQUEST_RECEIVED, 0);
    skt_jw_t b = SKT_RC_WRITER;
    int cut = answer_request(hz, &b, &r);
    if (b.failed) {
        skt_hz_log(hz, SOKETI_LOG_ERROR, "out of memory answering request %s (type %d)",
                   r.request_id, r.type);
    } else {
        if (cut)
            answer_cut(hz, &r, b.len);
        answer_spend(hz, b.len);
        hz->tr.publish(hz->tr.self, SKT_HZ_RESPONSE, b.p, b.len);
    }
    skt_jw_free(&b);
    skt_rc_request_clear(&r);
}

/* ---- every message ------------------------------------------------------------------ */

/* Each channel's messages go to their handler, once they passed the checks that cost
 * no parsing; none from shutdown on. */
void
skt_hz_on_message(skt_hz_t *hz, int channel, const char *data, size_t len)
{
    if (hz->closing || channel < SKT_HZ_BROADCAST || channel > SKT_HZ_RESPONSE)
        return;
    if (len > hz->lim.max_message) {
        char detail[48];
        snprintf(detail, sizeof(detail), "%zu KB", hz->lim.max_message / 1024);
        skt_hz_drop(hz, channel, SKT_HZ_DROP_TOO_LARGE, NULL, data, len, detail);
        return;
    }
    /* another node's answer to another node's request: not ours to read */
    if (channel == SKT_HZ_RESPONSE && !skt_hz_response_wanted(hz, data, len))
        return;
    int scan = skt_rc_scan(data, len, SKT_RC_MAX_DEPTH, hz->max_values);
    if (scan != SKT_RC_SCAN_OK) {
        char detail[64];
        if (scan == SKT_RC_SCAN_TOO_DEEP)
            snprintf(detail, sizeof(detail), "nested deeper than %d", SKT_RC_MAX_DEPTH);
        else
            snprintf(detail, sizeof(detail), "more than %zu values", hz->max_values);
        skt_hz_drop(hz, channel, SKT_HZ_DROP_TOO_COMPLEX, NULL, data, len, detail);
        return;
    }
    switch (channel) {
    case SKT_HZ_BROADCAST:
        hz_on_broadcast(hz, data, len);
        break;
    case SKT_HZ_REQUEST:
        hz_on_request(hz, data, len);
        break;
    case SKT_HZ_RESPONSE:
        skt_hz_on_response(hz, data, len);
        break;
    default:
        break;
    }
}
