/* host.c - the host table handed to adapter plugins, and local delivery (host.h). */
#include "pusher/host.h"

#include <stdarg.h>
#include <string.h>

#include "features/features.h"
#include "features/metrics.h"
#include "pusher/channel_kind.h"
#include "pusher/online.h"
#include "pusher/message.h"
#include "pusher/send.h"
#include "pusher/shared.h"
#include "util/log.h"

/* The server the table was filled for (ABI 1 gives its functions no context). */
static skt_server_t *current;

static skt_ns_t *
host_ns(const char *app_id)
{
    return current ? skt_ns_find(current->namespaces, app_id, strlen(app_id)) : NULL;
}

static const char *
host_config_get(const char *dotted)
{
    return current ? skt_config_get_text(current->cfg, dotted) : NULL;
}

static void host_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
host_log(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (level < SKT_LOG_ERROR)
        level = SKT_LOG_ERROR;
    if (level > SKT_LOG_DEBUG)
        level = SKT_LOG_DEBUG;
    skt_logv((skt_log_level_t)level, fmt, ap);
    va_end(ap);
}

_Static_assert(SOKETI_METRIC_REQUEST_COALESCED - SOKETI_METRIC_MESSAGE_DROPPED + 1 ==
                   sizeof(((skt_server_t *)0)->adapter_events) / sizeof(uint64_t),
               "one node-wide counter per drop/cut/limit/coalescing metric");

/* The adapter's metrics (soketi's horizontal_adapter_*), counted for apps this node
 * serves only: a peer may ask about any app id, and each would get its own series. What
 * it drops, cuts, limits or coalesces is counted for the node (most drops name no app). */
static void
host_metric(const char *app_id, int what, double value)
{
    if (current && what >= SOKETI_METRIC_MESSAGE_DROPPED &&
        what <= SOKETI_METRIC_REQUEST_COALESCED) {
        current->adapter_events[what - SOKETI_METRIC_MESSAGE_DROPPED]++;
        return;
    }
    if (!current || !current->features || !app_id ||
        !skt_server_app(current, app_id, strlen(app_id)))
        return;
    skt_metrics_app_t *a = skt_metrics_app(current->features->metrics, app_id);
    switch (what) {
    case SOKETI_METRIC_REQUEST_SENT:
        skt_metrics_horizontal_request_sent(a);
        break;
    case SOKETI_METRIC_REQUEST_RECEIVED:
        skt_metrics_horizontal_request_received(a);
        break;
    case SOKETI_METRIC_RESPONSE_RECEIVED:
        skt_metrics_horizontal_response_received(a);
        break;
    case SOKETI_METRIC_RESOLVED:
    case SOKETI_METRIC_UNCOMPLETE:
        skt_metrics_horizontal_resolved(a, what == SOKETI_METRIC_RESOLVED, value);
        break;
    default:
        break;
    }
}

/* Queues frame on sockets[0..n) but skip (NULL: none); returns how many got it. */
static size_t
host_fan_out(skt_socket_t *const *sockets, uint32_t n, const skt_socket_t *skip, skt_buf_t *frame)
{
    /* Sending never closes a socket synchronously (a slow reader is closed at the next
     * flush), so the array cannot change under this loop. */
    size_t sent = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (sockets[i] != skip) {
            skt_conn_send_buf(&sockets[i]->conn, frame);
            sent++;
        }
    }
    return sent;
}

/* "#server-to-user-<id>": Pusher's channel of a signed-in user. Nobody subscribes to it;
 * every socket signed in as <id> gets its events. */
static void
deliver_to_user(skt_ns_t *ns, const char *user_id, const char *msg, size_t msg_len,
                const char *except)
{
    skt_user_t *u = skt_ns_user(ns, user_id, strlen(user_id));
    if (!u || u->n == 0)
        return;
    skt_buf_t *frame = skt_conn_frame_text(msg, msg_len);
    if (!frame)
        return;
    skt_socket_t *skip = NULL;
    for (uint32_t i = 0; except && i < u->n && !skip; i++)
        if (strcmp(u->socks[i]->id, except) == 0)
            skip = u->socks[i];
    size_t sent = host_fan_out(u->socks, u->n, skip, frame);
    skt_buf_unref(frame);
    skt_metrics_ws_out(ns->metrics, sent, msg_len);
}

static void
host_deliver_local(const char *app_id, const char *channel, const char *msg, size_t msg_len,
                   const char *except)
{
    skt_ns_t *ns = host_ns(app_id);
    if (!ns)
        return;
    if (strncmp(channel, SKT_SERVER_TO_USER_PREFIX, sizeof(SKT_SERVER_TO_USER_PREFIX) - 1) == 0) {
        deliver_to_user(ns, channel + sizeof(SKT_SERVER_TO_USER_PREFIX) - 1, msg, msg_len, except);
        return;
    }
    if (strcmp(channel, SKT_WATCHLIST_CHANNEL) == 0) {
        skt_online_deliver(current, ns, msg, msg_len, except);
        return;
    }
    skt_channel_t *ch = skt_ns_channel(ns, channel, strlen(channel));
    if (!ch || ch->n == 0)
        return;
    skt_socket_t *skip =
        except && *except ? skt_map_get(ns->sockets, except, strlen(except)) : NULL;
    if (ch->n == 1 && ch->socks[0] == skip)
        return;
    skt_buf_t *frame = skt_conn_frame_text(msg, msg_len);
    if (!frame) {
        skt_log(SKT_LOG_ERROR, "out of memory framing a broadcast to %s", channel);
        return;
    }
    size_t sent = host_fan_out(ch->socks, ch->n, skip, frame);
    skt_buf_unref(frame);
    skt_metrics_ws_out(ns->metrics, sent, msg_len);
}

static long
host_local_sockets_count(const char *app_id)
{
    skt_ns_t *ns = host_ns(app_id);
    return ns ? (long)skt_map_count(ns->sockets) : 0;
}

static skt_channel_t *
host_channel(const char *app_id, const char *channel)
{
    skt_ns_t *ns = host_ns(app_id);
    return ns ? skt_ns_channel(ns, channel, strlen(channel)) : NULL;
}

static long
host_local_channel_sockets_count(const char *app_id, const char *channel)
{
    skt_channel_t *ch = host_channel(app_id, channel);
    return ch ? (long)ch->n : 0;
}

static long
host_local_channel_members_count(const char *app_id, const char *channel)
{
    skt_channel_t *ch = host_channel(app_id, channel);
    return ch && ch->members ? (long)skt_map_count(ch->members) : 0;
}

static int
host_local_is_in_channel(const char *app_id, const char *channel, const char *socket_id)
{
    skt_ns_t *ns = host_ns(app_id);
    skt_socket_t *s = ns ? skt_map_get(ns->sockets, socket_id, strlen(socket_id)) : NULL;
    return s && skt_ns_find_sub(s, channel, strlen(channel)) ? 1 : 0;
}

static void
host_local_channels(const char *app_id, soketi_each_channel_fn each, void *arg)
{
    skt_ns_t *ns = host_ns(app_id);
    if (!ns)
        return;
    size_t pos = 0;
    void *v;
    while (skt_map_next(ns->channels, &pos, NULL, NULL, &v)) {
        skt_channel_t *ch = v;
        each(arg, ch->name, (long)ch->n);
    }
}

/* Calls each (or typed, when set) once per member of a presence channel. */
static void
host_members_each(const char *app_id, const char *channel, soketi_each_member_fn each,
                  soketi_each_typed_member_fn typed, void *arg)
{
    skt_channel_t *ch = host_channel(app_id, channel);
    if (!ch || !ch->members)
        return;
    size_t pos = 0;
    void *v;
    while (skt_map_next(ch->members, &pos, NULL, NULL, &v)) {
        skt_member_t *m = v;
        if (typed)
            typed(arg, m->user_id, m->user_info, m->id_number);
        else
            each(arg, m->user_id, m->user_info);
    }
}

static void
host_local_channel_members(const char *app_id, const char *channel, soketi_each_member_fn each,
                           void *arg)
{
    host_members_each(app_id, channel, each, NULL, arg);
}

static void
host_local_channel_members_typed(const char *app_id, const char *channel,
                                 soketi_each_typed_member_fn each, void *arg)
{
    host_members_each(app_id, channel, NULL, each, arg);
}

static void
host_local_sockets(const char *app_id, soketi_each_id_fn each, void *arg)
{
    skt_ns_t *ns = host_ns(app_id);
    if (!ns)
        return;
    size_t pos = 0;
    void *v;
    while (skt_map_next(ns->sockets, &pos, NULL, NULL, &v))
        each(arg, ((skt_socket_t *)v)->id);
}

static void
host_local_channel_sockets(const char *app_id, const char *channel, soketi_each_id_fn each,
                           void *arg)
{
    skt_channel_t *ch = host_channel(app_id, channel);
    for (uint32_t i = 0; ch && i < ch->n; i++)
        each(arg, ch->socks[i]->id);
}

static void
host_local_terminate_user_connections(const char *app_id, const char *user_id)
{
    skt_ns_t *ns = host_ns(app_id);
    skt_user_t *u = ns ? skt_ns_user(ns, user_id, strlen(user_id)) : NULL;
    /* Closing removes the socket from u (and may free u): always take the last. */
    while (u && u->n) {
        skt_socket_t *s = u->socks[u->n - 1];
        uint32_t before = u->n;
        skt_send_terminate(s, 4009, "You got disconnected by the app.");
        u = skt_ns_user(ns, user_id, strlen(user_id));
        if (u && u->n == before)
            break; /* could not close it: do not spin */
    }
}

/* A dead node alone held user_id (or the channel): its member_removed reaches this
 * process's subscribers, unless the user is in through a socket here (then the node that
 * died was not alone after all), and one node fires the webhook. */
static void
host_remote_left(const char *app_id, const char *channel, const char *user_id, int id_is_number,
                 int fire_webhooks)
{
    if (!current || !app_id || !channel)
        return;
    skt_channel_t *ch = host_channel(app_id, channel);
    if (user_id && ch && ch->members && skt_map_get(ch->members, user_id, strlen(user_id)))
        return;
    if (user_id) {
        SKT_JW_ON_STACK(w, SKT_SEND_STACK);
        skt_msg_member(&w, "pusher_internal:member_removed", channel, user_id, id_is_number, NULL);
        size_t len = 0;
        const char *text = skt_jw_cstr(&w, &len);
        if (text)
            host_deliver_local(app_id, channel, text, len, NULL);
        skt_jw_free(&w);
    } else if (ch && ch->n) {
        return; /* sockets of this process hold the channel: it is not vacated */
    }
    if (fire_webhooks)
        skt_shared_lost(current, app_id, channel, user_id, id_is_number);
}

void
skt_host_fill(soketi_host_t *h, skt_server_t *srv)
{
    current = srv;
    memset(h, 0, sizeof(*h));
    h->size = sizeof(*h);
    h->abi_version = SOKETI_ADAPTER_ABI_VERSION;
    h->base = srv->base;
    h->node_id = srv->node_id;
    h->config_get = host_config_get;
    h->log = host_log;
    h->deliver_local = host_deliver_local;
    h->local_sockets_count = host_local_sockets_count;
    h->local_channel_sockets_count = host_local_channel_sockets_count;
    h->local_channel_members_count = host_local_channel_members_count;
    h->local_is_in_channel = host_local_is_in_channel;
    h->local_channels = host_local_channels;
    h->local_channel_members = host_local_channel_members;
    h->local_sockets = host_local_sockets;
    h->local_channel_sockets = host_local_channel_sockets;
    h->local_terminate_user_connections = host_local_terminate_user_connections;
    h->metric = host_metric;
    h->local_channel_members_typed = host_local_channel_members_typed;
    h->remote_left = host_remote_left;
}

void
skt_host_clear(skt_server_t *srv)
{
    if (current == srv)
        current = NULL;
}
