/* horizontal_peers.c - what the other nodes send: their broadcasts, delivered to this
 * node's sockets, and their requests, answered from this node's state as soketi's
 * onRequest does; the responses to our own requests go to horizontal.c, which waits for
 * them. Malformed messages of every channel are dropped and logged here, without letting
 * a flood of them flood the log.
 */
#include "horizontal_internal.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* How much of a malformed message a log line shows. */
#define HZ_LOG_EXCERPT 120

static const char *const hz_channel_names[] = {"broadcast", "request", "response"};

/* ---- malformed messages ------------------------------------------------------------- */

/* Reports a dropped message: a warning now and then, debug lines in between, so that a
 * flood of garbage on the channel cannot flood the log. */
void
skt_hz_dropped(skt_hz_t *hz, int channel, const char *data, size_t len, const char *why)
{
    int n = len > HZ_LOG_EXCERPT ? HZ_LOG_EXCERPT : (int)len;
    if (skt_hz_warn_due(&hz->last_warn_ms)) {
        skt_hz_log(hz, SOKETI_LOG_WARN,
                   "dropped a malformed message on the %s channel (%s; %lu more since the last "
                   "warning): %.*s%s",
                   hz_channel_names[channel], why, hz->quiet_drops, n, data,
                   len > HZ_LOG_EXCERPT ? "..." : "");
        hz->quiet_drops = 0;
    } else {
        hz->quiet_drops++;
        skt_hz_log(hz, SOKETI_LOG_DEBUG, "dropped a malformed message on the %s channel (%s): %.*s",
                   hz_channel_names[channel], why, n, data);
    }
}

/* ---- broadcasts --------------------------------------------------------------------- */

/* A peer's broadcast: delivered here unless it is our own, back from the channel. */
static void
hz_on_broadcast(skt_hz_t *hz, const char *data, size_t len)
{
    skt_rc_broadcast_t m;
    if (skt_rc_decode_broadcast(data, len, &m) != 0) {
        skt_hz_dropped(hz, SKT_HZ_BROADCAST, data, len, "not a broadcast");
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

/* A peer's request: answered, unless it is one of ours come back. */
static void
hz_on_request(skt_hz_t *hz, const char *data, size_t len)
{
    skt_rc_request_t r;
    if (skt_rc_decode_request(data, len, &r) != 0) {
        skt_hz_dropped(hz, SKT_HZ_REQUEST, data, len, "not a request");
        return;
    }
    /* our own request, back from the channel */
    if (skt_hz_own_request(hz, r.request_id)) {
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

/* Each channel's messages go to their handler; none from shutdown on. */
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
        skt_hz_on_response(hz, data, len);
        break;
    default:
        break;
    }
}
