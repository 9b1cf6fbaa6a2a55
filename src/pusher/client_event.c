/* client_event.c - client events: a client's "client-*" message relayed to its channel. */
#include "pusher/client_event.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "features/features.h"
#include "pusher/channel_kind.h"
#include "pusher/input.h"
#include "pusher/message.h"
#include "pusher/send.h"
#include "pusher/server.h"

typedef struct client_event_ctx_s {
    skt_socket_t *s;
    json_t *msg; /* the client's message, checked */
} client_event_ctx_t;

/* Relays the event of msg to its channel on every node but s, and its webhook. */
static void
client_event_relay(skt_socket_t *s, skt_sub_t *sub, json_t *msg)
{
    skt_server_t *srv = skt_server_of(&s->conn);
    size_t elen = 0, clen = 0;
    const char *event = skt_input_str(msg, "event", &elen);
    const char *channel = skt_input_str(msg, "channel", &clen);
    json_t *data = json_object_get(msg, "data");
    SKT_JW_ON_STACK(w, SKT_SEND_STACK);
    skt_msg_event_begin(&w, event, elen, channel, clen);
    skt_msg_data_json(&w, data);
    if (sub->member)
        skt_msg_event_end(&w, sub->member->user_id, sub->member->id_len, sub->member->id_number);
    else
        skt_msg_event_end(&w, NULL, 0, 0);
    size_t len = 0;
    const char *text = skt_jw_cstr(&w, &len);
    if (text)
        SKT_ADAPTER(srv).broadcast(SKT_ADAPTER_SELF(srv), s->ns->app_id, sub->ch->name, text, len,
                                   s->id);
    skt_jw_free(&w);
    skt_webhooks_client_event(srv->features->webhooks, s->ns->app, channel, event, data, s->id,
                              sub->member ? sub->member->user_id : NULL,
                              sub->member && sub->member->id_number);
}

/* The rate limiter's answer for one client event: relay it, or refuse with
 * 4301 as soketi does. The socket may have closed or left the channel while
 * a distributed limiter was counting. */
static void
client_event_limited_cb(void *arg, const skt_rl_result_t *res)
{
    client_event_ctx_t *ctx = arg;
    skt_socket_t *s = ctx->s;
    size_t clen = 0;
    const char *channel = skt_input_str(ctx->msg, "channel", &clen);
    skt_sub_t *sub = NULL;
    if (!skt_conn_is_closed(&s->conn) && s->ns)
        sub = skt_ns_find_sub(s, channel, clen);
    if (sub && !res->allowed)
        skt_send_channel_error(s, channel, clen, 4301,
                               "The rate limit for sending client events exceeded the quota.");
    else if (sub)
        client_event_relay(s, sub, ctx->msg);
    json_decref(ctx->msg);
    skt_socket_release(s);
    free(ctx);
}

/* soketi's checks of a client event. Returns the subscription to relay on, or NULL
 * after answering s (or dropping the event silently, as soketi, when s is not in the
 * channel). */
static skt_sub_t *
client_event_check(skt_socket_t *s, size_t elen, json_t *msg)
{
    skt_app_t *app = s->ns->app;
    size_t clen = 0;
    const char *channel = skt_input_str(msg, "channel", &clen);
    char m[128];
    if (!channel) {
        skt_send_error(s, 0, "Client events must name a channel.");
        return NULL;
    }
    if (!app->enable_client_messages) {
        skt_send_channel_error(s, channel, clen, 4301,
                               "The app does not have client messaging enabled.");
        return NULL;
    }
    if ((long)elen > app->max_event_name_length) {
        snprintf(m, sizeof(m), "Event name is too long. Maximum allowed size is %ld.",
                 app->max_event_name_length);
        skt_send_channel_error(s, channel, clen, 4301, m);
        return NULL;
    }
    if ((double)skt_input_payload_size(json_object_get(msg, "data")) / 1024.0 >
        app->max_event_payload_kb) {
        snprintf(m, sizeof(m), "The event data should be less than %g KB.",
                 app->max_event_payload_kb);
        skt_send_channel_error(s, channel, clen, 4301, m);
        return NULL;
    }
    skt_sub_t *sub = skt_ns_find_sub(s, channel, clen);
    if (!sub)
        return NULL; /* soketi: not in the channel, silently dropped */
    int kind = skt_channel_kind(channel, clen);
    if (kind == SKT_CHANNEL_PUBLIC || kind == SKT_CHANNEL_ENCRYPTED) {
        /* Pusher allows client events on private and presence channels only
         * (soketi 1.6 lets them through on public and encrypted ones). */
        skt_send_channel_error(s, channel, clen, 0,
                               kind == SKT_CHANNEL_ENCRYPTED
                                   ? "Client events are not supported on encrypted channels."
                                   : "Client events are only supported on private and presence "
                                     "channels.");
        return NULL;
    }
    return sub;
}

void
skt_client_event(skt_socket_t *s, const char *event, size_t elen, json_t *msg)
{
    (void)event;
    skt_sub_t *sub = client_event_check(s, elen, msg);
    if (!sub)
        return;
    skt_server_t *srv = skt_server_of(&s->conn);
    if (skt_socket_hold(s, srv->cfg->connection_limits.max_pending_requests) != 0) {
        skt_send_channel_error(s, sub->ch->name, sub->ch->name_len, 4301,
                               "Too many client events wait for the rate limiter on this "
                               "connection.");
        return;
    }
    client_event_ctx_t *ctx = malloc(sizeof(*ctx));
    if (!ctx) {
        skt_socket_release(s);
        skt_conn_abort(&s->conn);
        return;
    }
    ctx->s = s;
    ctx->msg = json_incref(msg);
    skt_rl_key_t key = {
        .app_id = s->ns->app_id, .kind = SKT_RL_CLIENT_EVENTS, .socket_id = s->id, .slot = &s->rl};
    skt_rl_consume(srv->features->rl, &key, 1, s->ns->app->max_client_events_per_sec,
                   client_event_limited_cb, ctx);
}
