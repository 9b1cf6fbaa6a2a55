/* subscribe.c - pusher:subscribe and pusher:unsubscribe for every kind of channel. */
#include "pusher/subscribe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "features/features.h"
#include "pusher/cached.h"
#include "pusher/channel_kind.h"
#include "pusher/input.h"
#include "pusher/message.h"
#include "pusher/presence.h"
#include "pusher/send.h"
#include "pusher/server.h"
#include "pusher/shared.h"
#include "pusher/sig.h"
#include "pusher/signin.h"
#include "pusher/subcount.h"

/* pusher_internal:subscription_succeeded of a channel without members. */
static void
subscribe_succeeded(skt_socket_t *s, const char *channel, size_t clen)
{
    SKT_JW_ON_STACK(w, SKT_SEND_STACK);
    skt_msg_subscription_succeeded(&w, channel, clen);
    skt_send_msg(s, &w);
}

/* "#server-to-user-<id>" is Pusher's channel of a signed-in user: pusher-js
 * subscribes to it after sign-in. The user's sockets already get its events
 * (pusher/host.c delivers them to the sockets signed in as <id>, never to
 * subscribers), so the user's own socket is answered subscription_succeeded
 * and anyone else is refused. Returns 1 when channel was such a name. */
static int
subscribe_server_to_user(skt_socket_t *s, const char *channel, size_t clen)
{
    static const char prefix[] = SKT_SERVER_TO_USER_PREFIX;
    const size_t pl = sizeof(prefix) - 1;
    if (clen < pl || memcmp(channel, prefix, pl) != 0)
        return 0;
    if (s->user_id && strlen(s->user_id) == clen - pl &&
        memcmp(s->user_id, channel + pl, clen - pl) == 0)
        subscribe_succeeded(s, channel, clen);
    else
        skt_send_subscription_error(s, channel, clen, "AuthError",
                                    "The connection is unauthorized.", 401);
    return 1;
}

/* The checks every subscription passes before its kind matters: a channel name within the
 * app's length. Returns 0, or -1 after answering s. */
static int
subscribe_check_name(skt_socket_t *s, const char *channel, size_t clen)
{
    skt_app_t *app = s->ns->app;
    if ((long)clen > app->max_channel_name_length) {
        char msg[128];
        snprintf(msg, sizeof(msg), "The channel name is longer than the allowed %ld characters.",
                 app->max_channel_name_length);
        skt_send_subscription_error(s, channel, clen, "LimitReached", msg, 4009);
        return -1;
    }
    return 0;
}

/* The channel's signature (private, encrypted, presence) and naming rule. Returns 0, or
 * -1 after answering s. */
static int
subscribe_authorize(skt_socket_t *s, json_t *data, const char *channel, size_t clen, int kind,
                    const char *channel_data, size_t cdlen)
{
    skt_app_t *app = s->ns->app;
    if (kind != SKT_CHANNEL_PUBLIC) {
        size_t alen = 0;
        const char *auth = skt_input_str(data, "auth", &alen);
        if (!auth || !skt_sig_channel_auth_valid(app->key, app->secret, s->id, channel,
                                                 channel_data, cdlen, auth, alen)) {
            skt_send_subscription_error(s, channel, clen, "AuthError",
                                        "The connection is unauthorized.", 401);
            return -1;
        }
    }
    if (!skt_input_channel_name_ok(channel, clen)) {
        skt_send_subscription_error(
            s, channel, clen, NULL,
            "The channel name is not allowed. Read channel conventions: "
            "https://pusher.com/docs/channels/using_channels/channels/#channel-naming-conventions",
            4009);
        return -1;
    }
    return 0;
}

/* The connection's budgets for a subscription (connectionLimits.*): room for one more
 * channel when it is new, and, when its answer waits for the cluster or the cache
 * (async), for one more pending request. Returns 0, or -1 after answering s. */
static int
subscribe_admit(skt_socket_t *s, const char *channel, size_t clen, int is_new, int async)
{
    const skt_config_t *cfg = skt_server_of(&s->conn)->cfg;
    if (is_new && s->nsubs >= cfg->connection_limits.max_channels) {
        skt_send_subscription_limit(s, channel, clen, 0);
        return -1;
    }
    if (async && s->pending >= cfg->connection_limits.max_pending_requests) {
        skt_send_subscription_limit(s, channel, clen, 1);
        return -1;
    }
    return 0;
}

/* Joins a channel without members (public, private, encrypted) and answers. */
static void
subscribe_join(skt_socket_t *s, const char *channel, size_t clen, int kind)
{
    skt_server_t *srv = skt_server_of(&s->conn);
    skt_app_t *app = s->ns->app;
    uint32_t n;
    int already = skt_ns_find_sub(s, channel, clen) != NULL;
    if (subscribe_admit(s, channel, clen, !already, skt_cache_is_cache_channel(channel, clen)) != 0)
        return;
    if (!skt_ns_join(s->ns, s, channel, clen, &n)) {
        skt_conn_abort(&s->conn);
        return;
    }
    if (kind != SKT_CHANNEL_PUBLIC)
        skt_signin_deadline_clear(s);
    if (!already) {
        /* occupied when the cluster's first socket joined (shared.h) */
        if (n == 1)
            skt_shared_channel(srv, app, channel, 1);
        skt_webhooks_subscription_count(srv->features->webhooks, app, channel, (long)n);
    }
    subscribe_succeeded(s, channel, clen);
    skt_cached_send(s, channel, clen);
    if (!already)
        skt_subcount_changed(srv, app, channel, clen);
}

void
skt_subscribe(skt_socket_t *s, json_t *data)
{
    size_t clen = 0;
    const char *channel = json_is_object(data) ? skt_input_str(data, "channel", &clen) : NULL;
    if (skt_server_of(&s->conn)->closing) {
        skt_send_terminate(s, 4200, "Server closed. Please reconnect shortly.");
        return;
    }
    if (!channel) {
        skt_send_error(s, 0, "The subscribe message must have a data.channel string.");
        return;
    }
    if (subscribe_check_name(s, channel, clen) != 0 || subscribe_server_to_user(s, channel, clen))
        return;
    int kind = skt_channel_kind(channel, clen);
    const char *channel_data = NULL;
    size_t cdlen = 0;
    char *user_id = NULL, *user_info = NULL;
    int id_number = 0;
    if (kind == SKT_CHANNEL_PRESENCE) {
        channel_data = skt_input_str(data, "channel_data", &cdlen);
        if (skt_presence_member(s, channel, clen, channel_data, cdlen, &user_id, &id_number,
                                &user_info) != 0)
            return;
    }
    if (subscribe_authorize(s, data, channel, clen, kind, channel_data, cdlen) != 0) {
        free(user_id);
        free(user_info);
        return;
    }
    if (kind != SKT_CHANNEL_PRESENCE) {
        subscribe_join(s, channel, clen, kind);
    } else if (!skt_ns_find_sub(s, channel, clen) && subscribe_admit(s, channel, clen, 1, 1) != 0) {
        free(user_id);
        free(user_info);
    } else {
        skt_presence_subscribe(s, channel, clen, user_id, id_number, user_info);
    }
}

/* Leaves subscription i; for presence, tells the channel when the user's
 * last socket in this process left (and not elsewhere in the cluster). */
static void
unsubscribe_at(skt_socket_t *s, uint16_t i)
{
    skt_server_t *srv = skt_server_of(&s->conn);
    skt_channel_t *ch = s->subs[i].ch;
    char *channel = strndup(ch->name, ch->name_len);
    int presence = ch->members != NULL;
    uint32_t remaining;
    char *gone_user = NULL;
    int gone_number = 0;
    skt_ns_leave(s->ns, s, i, &remaining, &gone_user, &gone_number);
    if (gone_user && channel) {
        skt_presence_left(s, channel, gone_user, gone_number);
        gone_user = NULL;
    }
    /* vacated when the cluster's last socket left (shared.h) */
    if (channel && s->ns->app) {
        if (remaining == 0)
            skt_shared_channel(srv, s->ns->app, channel, 0);
        if (!presence)
            skt_webhooks_subscription_count(srv->features->webhooks, s->ns->app, channel,
                                            (long)remaining);
        skt_subcount_changed(srv, s->ns->app, channel, strlen(channel));
    }
    free(gone_user);
    free(channel);
}

void
skt_unsubscribe(skt_socket_t *s, json_t *data)
{
    size_t clen = 0;
    const char *ch = json_is_object(data) ? skt_input_str(data, "channel", &clen) : NULL;
    skt_sub_t *sub = ch ? skt_ns_find_sub(s, ch, clen) : NULL;
    if (sub)
        unsubscribe_at(s, (uint16_t)(sub - s->subs));
}

void
skt_unsubscribe_all(skt_socket_t *s)
{
    while (s->nsubs)
        unsubscribe_at(s, (uint16_t)(s->nsubs - 1));
}
