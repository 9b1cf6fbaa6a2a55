/* horizontal_ops.c - the adapter ops of the horizontal layer (skt_hz_fill_ops): a
 * broadcast delivered here and published to the peers, and every question of the host
 * turned into a query of the cluster (skt_hz_query, horizontal.c). What their callers get
 * is horizontal_answer.c's.
 *
 * DESIGN
 * Each question is one skt_hz_query with its caller wrapped in a skt_hz_cb_t (the
 * callback's type in op), so that coalescing, rating, timeouts and answering take one
 * path whatever is asked. A broadcast is delivered here first, then encoded into the
 * layer's reused scratch buffer and published once; one larger than
 * adapter.maxMessageSizeInKb, which every peer would drop, stays on this node and is
 * counted as a drop.
 */
#include "horizontal_internal.h"

#include <stddef.h>

/* ---- the adapter ops ---------------------------------------------------------------- */

static void
hz_broadcast(void *self, const char *app_id, const char *channel, const char *msg, size_t msg_len,
             const char *except_socket_id)
{
    skt_hz_t *hz = self;
    hz->host->deliver_local(app_id, channel, msg, msg_len, except_socket_id);
    if (hz->closing)
        return;
    skt_jw_trim(&hz->scratch, SKT_HZ_SCRATCH_KEEP);
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

/* Asks the cluster the wire question type (with its options) for the caller c. */
static void
hz_ask(void *self, const skt_hz_cb_t *c, int type, const char *app_id, const char *channel,
       const char *ws_id)
{
    skt_hz_query_t q = {.type = type, .app_id = app_id, .channel = channel, .ws_id = ws_id};
    skt_hz_query(self, c, &q);
}

static void
hz_sockets_count(void *self, const char *app_id, soketi_count_cb cb, void *arg)
{
    skt_hz_cb_t c = {.op = SKT_HZ_OP_COUNT, .fn.count = cb, .arg = arg};
    hz_ask(self, &c, SKT_RC_SOCKETS_COUNT, app_id, NULL, NULL);
}

static void
hz_channel_sockets_count(void *self, const char *app_id, const char *channel, soketi_count_cb cb,
                         void *arg)
{
    skt_hz_cb_t c = {.op = SKT_HZ_OP_COUNT, .fn.count = cb, .arg = arg};
    hz_ask(self, &c, SKT_RC_CHANNEL_SOCKETS_COUNT, app_id, channel, NULL);
}

/* Counted as distinct members (a CHANNEL_MEMBERS request): soketi sums every node's
 * count, which counts a user connected to two nodes twice. */
static void
hz_channel_members_count(void *self, const char *app_id, const char *channel, soketi_count_cb cb,
                         void *arg)
{
    skt_hz_cb_t c = {.op = SKT_HZ_OP_MEMBERS_COUNT, .fn.count = cb, .arg = arg};
    hz_ask(self, &c, SKT_RC_CHANNEL_MEMBERS, app_id, channel, NULL);
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
    skt_hz_cb_t c = {.op = SKT_HZ_OP_EXISTS, .fn.count = cb, .arg = arg};
    hz_ask(self, &c, SKT_RC_SOCKET_EXISTS_IN_CHANNEL, app_id, channel, socket_id);
}

static void
hz_channels(void *self, const char *app_id, soketi_channels_cb cb, void *arg)
{
    skt_hz_cb_t c = {.op = SKT_HZ_OP_CHANNELS, .fn.channels = cb, .arg = arg};
    hz_ask(self, &c, SKT_RC_CHANNELS_WITH_SOCKETS_COUNT, app_id, NULL, NULL);
}

static void
hz_channel_members(void *self, const char *app_id, const char *channel, soketi_members_cb cb,
                   void *arg)
{
    skt_hz_cb_t c = {.op = SKT_HZ_OP_MEMBERS, .fn.members = cb, .arg = arg};
    hz_ask(self, &c, SKT_RC_CHANNEL_MEMBERS, app_id, channel, NULL);
}

static void
hz_channel_members_typed(void *self, const char *app_id, const char *channel,
                         soketi_typed_members_cb cb, void *arg)
{
    skt_hz_cb_t c = {.op = SKT_HZ_OP_TYPED_MEMBERS, .fn.typed_members = cb, .arg = arg};
    hz_ask(self, &c, SKT_RC_CHANNEL_MEMBERS, app_id, channel, NULL);
}

static void
hz_sockets(void *self, const char *app_id, soketi_ids_cb cb, void *arg)
{
    skt_hz_cb_t c = {.op = SKT_HZ_OP_IDS, .fn.ids = cb, .arg = arg};
    hz_ask(self, &c, SKT_RC_SOCKETS, app_id, NULL, NULL);
}

static void
hz_channel_sockets(void *self, const char *app_id, const char *channel, soketi_ids_cb cb, void *arg)
{
    skt_hz_cb_t c = {.op = SKT_HZ_OP_IDS, .fn.ids = cb, .arg = arg};
    hz_ask(self, &c, SKT_RC_CHANNEL_SOCKETS, app_id, channel, NULL);
}

/* Local sockets first, then a request so the other nodes close theirs. The request is
 * kept pending like a query: soketi nodes answer it with an empty response, and our own
 * copy must be recognised when it comes back. It is never coalesced. */
static void
hz_terminate_user_connections(void *self, const char *app_id, const char *user_id)
{
    skt_hz_t *hz = self;
    hz->host->local_terminate_user_connections(app_id, user_id);
    skt_hz_cb_t c = {.op = SKT_HZ_OP_NONE};
    skt_hz_query_t q = {
        .type = SKT_RC_TERMINATE_USER_CONNECTIONS, .app_id = app_id, .user_id = user_id};
    skt_hz_query(hz, &c, &q);
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
    ops->channel_members_typed = hz_channel_members_typed;
}
