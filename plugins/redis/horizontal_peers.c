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
    hz->host->local_channels(app_id, skt_hz_acc_each_channel, &names);
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
    skt_rc_buf_t b = {0};
    answer_request(hz, &b, &r);
    if (b.failed)
        skt_hz_log(hz, SOKETI_LOG_ERROR, "out of memory answering request %s (type %d)",
                   r.request_id, r.type);
    else
        hz->tr.publish(hz->tr.self, SKT_HZ_RESPONSE, b.p, b.len);
    skt_rc_buf_free(&b);
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
