/* ws_handler.c - the Pusher WebSocket protocol: connect, ping, subscribe, client events,
 * sign-in (deadline, watchlists), cache channels, and the webhooks and metrics of it all.
 * Presence channels' members and member events are pusher/presence.c's.
 *
 * Behaviour and message shapes follow soketi 1.6 (src/ws-handler.ts and
 * src/channels/ *.ts); where soketi stays silent on malformed input, we answer
 * with a pusher:error whose code is null (not a reason to reconnect).
 *
 * DESIGN
 * Anything that may need the cluster (the connection quota; presence member
 * lists, in presence.c) or a driver that may answer later (the rate limiter, the
 * cache: see src/features/) goes through asynchronous calls. While such a call is
 * pending the socket is held with skt_conn_ref(), and the completion checks
 * whether it closed (or left the channel) meanwhile before touching protocol
 * state. Webhook events and metrics are reported where soketi reports them.
 */
#include "pusher/ws_handler.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "features/features.h"
#include "features/deadline.h"
#include "features/metrics.h"
#include "pusher/channel_kind.h"
#include "pusher/online.h"
#include "pusher/presence.h"
#include "pusher/shared.h"
#include "pusher/sig.h"
#include "util/log.h"

static void subscribe(skt_socket_t *s, json_t *data);
static void unsubscribe_at(skt_socket_t *s, uint16_t i);

/* ------------------------------------------------------------ output */

/* Every message to a client goes through here, so the metrics see them all. */
void
skt_ws_send_text(skt_socket_t *s, const char *text, size_t len)
{
    skt_conn_send_text(&s->conn, text, len);
    if (s->ns)
        skt_metrics_ws_out(s->ns->metrics, 1, len);
}

/* Serialises obj (keys in insertion order, as soketi's JSON.stringify) and
 * queues it on s. Consumes the reference to obj. */
void
skt_ws_send_json(skt_socket_t *s, json_t *obj)
{
    if (!obj)
        return;
    char *text = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(obj);
    if (!text) {
        skt_conn_abort(&s->conn);
        return;
    }
    skt_ws_send_text(s, text, strlen(text));
    free(text);
}

void
skt_ws_send_error(skt_socket_t *s, int code, const char *msg)
{
    json_t *data = json_object();
    json_object_set_new(data, "code", code ? json_integer(code) : json_null());
    json_object_set_new(data, "message", json_string(msg));
    skt_ws_send_json(s, json_pack("{s:s, s:o}", "event", "pusher:error", "data", data));
}

/* pusher:error for one channel, as soketi sends for client-event refusals. */
void
skt_ws_send_channel_error(skt_socket_t *s, const char *channel, int code, const char *msg)
{
    json_t *data = json_object();
    json_object_set_new(data, "code", code ? json_integer(code) : json_null());
    json_object_set_new(data, "message", json_string(msg));
    skt_ws_send_json(
        s, json_pack("{s:s, s:s, s:o}", "event", "pusher:error", "channel", channel, "data", data));
}

void
skt_ws_terminate(skt_socket_t *s, int code, const char *msg)
{
    skt_ws_send_error(s, code, msg);
    skt_conn_ws_close(&s->conn, (uint16_t)code, "");
}

/* pusher:subscription_error {type, error, status}; type NULL leaves it out,
 * as soketi does for the channel-name refusal. */
void
skt_ws_send_subscription_error(skt_socket_t *s, const char *channel, const char *type,
                               const char *error, int status)
{
    json_t *data = json_object();
    if (type)
        json_object_set_new(data, "type", json_string(type));
    json_object_set_new(data, "error", json_string(error));
    json_object_set_new(data, "status", json_integer(status));
    skt_ws_send_json(s, json_pack("{s:s, s:s, s:o}", "event", "pusher:subscription_error",
                                  "channel", channel, "data", data));
}

/* ------------------------------------------------------------ open */

/* A Pusher-style socket id: two random numbers up to 10^10, as soketi. */
static void
make_socket_id(skt_socket_t *s)
{
    static uint64_t state;
    if (!state) {
        if (getrandom(&state, sizeof(state), 0) != sizeof(state))
            state = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)s;
        state |= 1;
    }
    uint64_t parts[2];
    for (int i = 0; i < 2; i++) {
        /* xorshift64*: fast, and the ids only need to be unpredictable
         * enough not to collide, as soketi's Math.random ones. */
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        parts[i] = (state * 0x2545F4914F6CDD1DULL) % 10000000001ULL;
    }
    s->id_len = (uint8_t)snprintf(s->id, sizeof(s->id), "%llu.%llu", (unsigned long long)parts[0],
                                  (unsigned long long)parts[1]);
}

/* Registers the socket and greets it with pusher:connection_established. */
static void
establish(skt_socket_t *s, skt_ns_t *ns)
{
    do
        make_socket_id(s);
    while (skt_map_get(ns->sockets, s->id, s->id_len));
    if (skt_ns_add_socket(ns, s) != 0) {
        skt_conn_abort(&s->conn);
        return;
    }
    if (!ns->metrics)
        ns->metrics = skt_metrics_app(skt_server_get()->features->metrics, ns->app_id);
    skt_metrics_connection(ns->metrics, 1);
    char data[96];
    snprintf(data, sizeof(data), "{\"socket_id\":\"%s\",\"activity_timeout\":30}", s->id);
    skt_ws_send_json(
        s, json_pack("{s:s, s:s}", "event", "pusher:connection_established", "data", data));
    /* soketi's setUserAuthenticationTimeout: sign in, or join an authorized
     * channel, within userAuthenticationTimeout ms. */
    if (ns->app->enable_user_authentication)
        s->signin_deadline = skt_deadline_start(skt_server_get()->features->signin_deadlines, s);
}

typedef struct open_ctx_s {
    skt_socket_t *s;
    skt_ns_t *ns;
} open_ctx_t;

static void
open_quota_cb(void *arg, int status, long count)
{
    open_ctx_t *ctx = arg;
    skt_socket_t *s = ctx->s;
    if (!skt_conn_is_closed(&s->conn)) {
        long max = ctx->ns->app->max_connections;
        if (status == SOKETI_ERROR || count + 1 > max)
            skt_ws_terminate(s, 4100, "The current concurrent connections quota has been reached.");
        else
            establish(s, ctx->ns);
    }
    skt_conn_unref(&s->conn);
    free(ctx);
}

void
skt_ws_open(skt_server_t *srv, skt_socket_t *s, const char *app_key, size_t key_len)
{
    if (srv->closing) {
        skt_ws_terminate(s, 4200, "Server is closing. Please reconnect shortly.");
        return;
    }
    skt_app_t *app = skt_apps_by_key(srv->cfg->apps, app_key, key_len);
    if (!app) {
        char msg[300];
        snprintf(msg, sizeof(msg), "App key %.*s does not exist.",
                 (int)(key_len > 200 ? 200 : key_len), app_key);
        skt_ws_terminate(s, 4001, msg);
        return;
    }
    if (!app->enabled) {
        skt_ws_terminate(s, 4003, "The app is not enabled.");
        return;
    }
    skt_ns_t *ns = skt_server_ns(srv, app);
    if (!ns) {
        skt_conn_abort(&s->conn);
        return;
    }
    /* soketi treats 0 like -1: no limit. */
    if (app->max_connections <= 0) {
        establish(s, ns);
        return;
    }
    open_ctx_t *ctx = malloc(sizeof(*ctx));
    if (!ctx) {
        skt_conn_abort(&s->conn);
        return;
    }
    ctx->s = s;
    ctx->ns = ns;
    skt_conn_ref(&s->conn);
    SKT_ADAPTER(srv).sockets_count(SKT_ADAPTER_SELF(srv), app->id, open_quota_cb, ctx);
}

/* ------------------------------------------------------------ cache channels */

typedef struct cache_ctx_s {
    skt_socket_t *s;
    size_t len;
    char channel[];
} cache_ctx_t;

/* The cache's answer: the channel's last event, else pusher:cache_miss
 * (soketi's sendMissedCacheIfExists), unless the socket left meanwhile. */
static void
cache_get_cb(void *arg, const char *value, size_t len)
{
    cache_ctx_t *ctx = arg;
    skt_socket_t *s = ctx->s;
    if (!skt_conn_is_closed(&s->conn) && skt_ns_find_sub(s, ctx->channel, ctx->len)) {
        json_t *cached = value ? json_loadb(value, len, 0, NULL) : NULL;
        json_t *event = json_object_get(cached, "event");
        if (json_is_string(event)) {
            json_t *msg =
                json_pack("{s:O, s:s%}", "event", event, "channel", ctx->channel, ctx->len);
            json_t *data = json_object_get(cached, "data");
            if (data)
                json_object_set(msg, "data", data);
            skt_ws_send_json(s, msg);
        } else {
            skt_ws_send_json(s, json_pack("{s:s, s:s%}", "event", "pusher:cache_miss", "channel",
                                          ctx->channel, ctx->len));
            skt_webhooks_cache_miss(skt_server_get()->features->webhooks, s->ns->app, ctx->channel);
        }
        json_decref(cached);
    }
    skt_conn_unref(&s->conn);
    free(ctx);
}

/* After subscription_succeeded on a cache channel: look up its last event. */
void
skt_ws_send_cached(skt_socket_t *s, const char *channel, size_t clen)
{
    if (!skt_cache_is_cache_channel(channel, clen))
        return;
    skt_server_t *srv = skt_server_get();
    char key[512];
    size_t klen = skt_cache_channel_key(key, sizeof(key), s->ns->app_id, channel, clen);
    cache_ctx_t *ctx = klen ? malloc(sizeof(*ctx) + clen + 1) : NULL;
    if (!ctx)
        return;
    ctx->s = s;
    ctx->len = clen;
    memcpy(ctx->channel, channel, clen);
    ctx->channel[clen] = '\0';
    skt_conn_ref(&s->conn);
    skt_cache_get(srv->features->cache, key, klen, cache_get_cb, ctx);
}

/* ------------------------------------------------------------ subscribe */

/* Text of a JSON value that must be a string, or NULL. */
static const char *
str_of(json_t *obj, const char *key, size_t *len)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_string(v))
        return NULL;
    if (len)
        *len = json_string_length(v);
    return json_string_value(v);
}

/* Pusher's channel naming rule (soketi Utils.restrictedChannelName). */
static int
channel_name_allowed(const char *name, size_t len)
{
    size_t i = 0;
    if (len && name[0] == '#')
        i = 1;
    if (i == len)
        return 0;
    for (; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("-_=@,.;", c)))
            return 0;
    }
    return 1;
}

/* ws_handler.h: presence and sign-in ids arrive as strings or numbers. */
char *
skt_ws_user_id_text(json_t *v)
{
    char buf[32];
    if (json_is_string(v) && json_string_length(v) > 0)
        return strdup(json_string_value(v));
    if (json_is_integer(v)) {
        snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
        return strdup(buf);
    }
    return NULL;
}

/* "#server-to-user-<id>" is Pusher's channel of a signed-in user: pusher-js
 * subscribes to it after sign-in. The user's sockets already get its events
 * (pusher/server.c delivers them to the sockets signed in as <id>, never to
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
        skt_ws_send_json(s,
                         json_pack("{s:s, s:s%}", "event", "pusher_internal:subscription_succeeded",
                                   "channel", channel, clen));
    else
        skt_ws_send_subscription_error(s, channel, "AuthError", "The connection is unauthorized.",
                                       401);
    return 1;
}

static void
subscribe(skt_socket_t *s, json_t *data)
{
    skt_server_t *srv = skt_server_get();
    skt_app_t *app = s->ns->app;
    size_t clen = 0;
    const char *channel = json_is_object(data) ? str_of(data, "channel", &clen) : NULL;

    if (srv->closing) {
        skt_ws_terminate(s, 4200, "Server closed. Please reconnect shortly.");
        return;
    }
    if (!channel) {
        skt_ws_send_error(s, 0, "The subscribe message must have a data.channel string.");
        return;
    }
    if ((long)clen > app->max_channel_name_length) {
        char msg[128];
        snprintf(msg, sizeof(msg), "The channel name is longer than the allowed %ld characters.",
                 app->max_channel_name_length);
        skt_ws_send_subscription_error(s, channel, "LimitReached", msg, 4009);
        return;
    }
    if (subscribe_server_to_user(s, channel, clen))
        return;
    int kind = skt_channel_kind(channel, clen);
    const char *channel_data = NULL;
    size_t cdlen = 0;
    char *user_id = NULL, *user_info = NULL;

    if (kind == SKT_CHANNEL_PRESENCE) {
        channel_data = str_of(data, "channel_data", &cdlen);
        if (skt_presence_member(s, channel, channel_data, cdlen, &user_id, &user_info) != 0)
            return;
    }
    if (kind != SKT_CHANNEL_PUBLIC) {
        size_t alen = 0;
        const char *auth = str_of(data, "auth", &alen);
        if (!auth || !skt_sig_channel_auth_valid(app->key, app->secret, s->id, channel,
                                                 channel_data, cdlen, auth, alen)) {
            skt_ws_send_subscription_error(s, channel, "AuthError",
                                           "The connection is unauthorized.", 401);
            free(user_id);
            free(user_info);
            return;
        }
    }
    if (!channel_name_allowed(channel, clen)) {
        skt_ws_send_subscription_error(
            s, channel, NULL,
            "The channel name is not allowed. Read channel conventions: "
            "https://pusher.com/docs/channels/using_channels/channels/#channel-naming-conventions",
            4009);
        free(user_id);
        free(user_info);
        return;
    }

    if (kind == SKT_CHANNEL_PRESENCE) {
        skt_presence_subscribe(s, channel, clen, user_id, user_info);
        return;
    }

    uint32_t n;
    int already = skt_ns_find_sub(s, channel, clen) != NULL;
    if (!skt_ns_join(s->ns, s, channel, clen, &n)) {
        skt_conn_abort(&s->conn);
        return;
    }
    if (kind != SKT_CHANNEL_PUBLIC)
        skt_ws_signin_deadline_clear(s);
    if (!already) {
        /* occupied when the cluster's first socket joined (shared.h) */
        if (n == 1)
            skt_shared_channel(srv, app, channel, 1);
        skt_webhooks_subscription_count(srv->features->webhooks, app, channel, (long)n);
    }
    skt_ws_send_json(s, json_pack("{s:s, s:s%}", "event", "pusher_internal:subscription_succeeded",
                                  "channel", channel, clen));
    skt_ws_send_cached(s, channel, clen);
}

/* Leaves subscription i; for presence, tells the channel when the user's
 * last socket in this process left (and not elsewhere in the cluster). */
static void
unsubscribe_at(skt_socket_t *s, uint16_t i)
{
    skt_server_t *srv = skt_server_get();
    skt_channel_t *ch = s->subs[i].ch;
    char *channel = strndup(ch->name, ch->name_len);
    int presence = ch->members != NULL;
    uint32_t remaining;
    char *gone_user = NULL;
    skt_ns_leave(s->ns, s, i, &remaining, &gone_user);
    if (gone_user && channel) {
        skt_presence_left(s, channel, gone_user);
        gone_user = NULL;
    }
    /* vacated when the cluster's last socket left (shared.h) */
    if (channel && s->ns->app) {
        if (remaining == 0)
            skt_shared_channel(srv, s->ns->app, channel, 0);
        if (!presence)
            skt_webhooks_subscription_count(srv->features->webhooks, s->ns->app, channel,
                                            (long)remaining);
    }
    free(gone_user);
    free(channel);
}

/* ------------------------------------------------------------ client events */

typedef struct client_event_ctx_s {
    skt_socket_t *s;
    json_t *msg; /* the client's message, checked */
} client_event_ctx_t;

/* The rate limiter's answer for one client event: relay it, or refuse with
 * 4301 as soketi does. The socket may have closed or left the channel while
 * a distributed limiter was counting. */
static void
client_event_limited_cb(void *arg, const skt_rl_result_t *res)
{
    client_event_ctx_t *ctx = arg;
    skt_socket_t *s = ctx->s;
    skt_server_t *srv = skt_server_get();
    const char *event = str_of(ctx->msg, "event", NULL);
    size_t clen = 0;
    const char *channel = str_of(ctx->msg, "channel", &clen);
    skt_sub_t *sub = NULL;
    if (!skt_conn_is_closed(&s->conn) && s->ns)
        sub = skt_ns_find_sub(s, channel, clen);
    if (sub && !res->allowed) {
        skt_ws_send_channel_error(s, channel, 4301,
                                  "The rate limit for sending client events exceeded the quota.");
    } else if (sub) {
        json_t *out = json_pack("{s:s, s:s%}", "event", event, "channel", channel, clen);
        json_t *data = json_object_get(ctx->msg, "data");
        json_object_set(out, "data", data ? data : json_null());
        if (sub->member)
            json_object_set_new(out, "user_id",
                                json_stringn(sub->member->user_id, sub->member->id_len));
        char *text = json_dumps(out, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(out);
        if (text)
            SKT_ADAPTER(srv).broadcast(SKT_ADAPTER_SELF(srv), s->ns->app_id, sub->ch->name, text,
                                       strlen(text), s->id);
        free(text);
        skt_webhooks_client_event(srv->features->webhooks, s->ns->app, channel, event,
                                  json_object_get(ctx->msg, "data"), s->id,
                                  sub->member ? sub->member->user_id : NULL);
    }
    json_decref(ctx->msg);
    skt_conn_unref(&s->conn);
    free(ctx);
}

static void
client_event(skt_socket_t *s, const char *event, size_t elen, json_t *msg)
{
    skt_server_t *srv = skt_server_get();
    skt_app_t *app = s->ns->app;
    size_t clen = 0;
    const char *channel = str_of(msg, "channel", &clen);
    json_t *data = json_object_get(msg, "data");
    if (!channel) {
        skt_ws_send_error(s, 0, "Client events must name a channel.");
        return;
    }
    if (!app->enable_client_messages) {
        skt_ws_send_channel_error(s, channel, 4301,
                                  "The app does not have client messaging enabled.");
        return;
    }
    if ((long)elen > app->max_event_name_length) {
        char m[128];
        snprintf(m, sizeof(m), "Event name is too long. Maximum allowed size is %ld.",
                 app->max_event_name_length);
        skt_ws_send_channel_error(s, channel, 4301, m);
        return;
    }
    size_t dlen = 0;
    char *dtext = NULL;
    if (json_is_string(data))
        dlen = json_string_length(data);
    else if (data) {
        dtext = json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY);
        dlen = dtext ? strlen(dtext) : 0;
        free(dtext);
    }
    if ((double)dlen / 1024.0 > app->max_event_payload_kb) {
        char m[128];
        snprintf(m, sizeof(m), "The event data should be less than %g KB.",
                 app->max_event_payload_kb);
        skt_ws_send_channel_error(s, channel, 4301, m);
        return;
    }
    skt_sub_t *sub = skt_ns_find_sub(s, channel, clen);
    if (!sub)
        return; /* soketi: not in the channel, silently dropped */
    int kind = skt_channel_kind(channel, clen);
    if (kind == SKT_CHANNEL_PUBLIC || kind == SKT_CHANNEL_ENCRYPTED) {
        /* Pusher allows client events on private and presence channels only
         * (soketi 1.6 lets them through on public and encrypted ones). */
        skt_ws_send_channel_error(s, channel, 0,
                                  kind == SKT_CHANNEL_ENCRYPTED
                                      ? "Client events are not supported on encrypted channels."
                                      : "Client events are only supported on private and presence "
                                        "channels.");
        return;
    }
    client_event_ctx_t *ctx = malloc(sizeof(*ctx));
    if (!ctx) {
        skt_conn_abort(&s->conn);
        return;
    }
    ctx->s = s;
    ctx->msg = json_incref(msg);
    skt_conn_ref(&s->conn);
    skt_rl_key_t key = {
        .app_id = s->ns->app_id, .kind = SKT_RL_CLIENT_EVENTS, .socket_id = s->id, .slot = &s->rl};
    skt_rl_consume(srv->features->rl, &key, 1, app->max_client_events_per_sec,
                   client_event_limited_cb, ctx);
}

/* ------------------------------------------------------------ sign-in */

void
skt_ws_signin_timeout(void *socket)
{
    skt_socket_t *s = socket;
    s->signin_deadline = NULL; /* already gone */
    if (!skt_conn_is_closed(&s->conn))
        skt_ws_terminate(s, 4009, "Connection not authorized within timeout.");
}

/* The connection proved who it is (signed in, or joined an authorized
 * channel, as soketi's PrivateChannelManager): no more sign-in deadline. */
void
skt_ws_signin_deadline_clear(skt_socket_t *s)
{
    skt_deadline_cancel(s->signin_deadline);
    s->signin_deadline = NULL;
}

/* Forgets who s was signed in as: its watchlist, its place among the user's
 * sockets and, when it was the user's last, tells the user's watchers. */
static void
signout(skt_socket_t *s)
{
    if (!s->user_id)
        return;
    skt_online_watchlist_stop(s);
    skt_ns_remove_user(s->ns, s);
    if (!skt_ns_user(s->ns, s->user_id, strlen(s->user_id)))
        skt_online_changed(s, s->user_id, 0);
    free(s->user_id);
    s->user_id = NULL;
}

static void
signin(skt_socket_t *s, json_t *data)
{
    skt_app_t *app = s->ns->app;
    size_t ulen = 0, alen = 0;
    const char *user_data = json_is_object(data) ? str_of(data, "user_data", &ulen) : NULL;
    const char *auth = json_is_object(data) ? str_of(data, "auth", &alen) : NULL;
    if (!user_data || !auth ||
        !skt_sig_user_auth_valid(app->key, app->secret, s->id, user_data, ulen, auth, alen)) {
        skt_ws_terminate(s, 4009, "Connection not authorized.");
        return;
    }
    json_t *user = json_loadb(user_data, ulen, 0, NULL);
    char *id = user ? skt_ws_user_id_text(json_object_get(user, "id")) : NULL;
    if (!id) {
        json_decref(user);
        skt_ws_terminate(s, 4009, "The returned user data must contain the \"id\" field.");
        return;
    }
    int first = 0;
    if (s->user_id && strcmp(s->user_id, id) == 0) {
        /* Signed in again as the same user: only the watchlist may change. */
        free(id);
        id = s->user_id;
        skt_online_watchlist_stop(s);
    } else {
        signout(s); /* as someone else: the previous user may have gone offline */
        first = !skt_ns_user(s->ns, id, strlen(id));
        s->user_id = id;
        if (skt_ns_add_user(s->ns, s) != 0) {
            json_decref(user);
            skt_conn_abort(&s->conn);
            return;
        }
    }
    skt_ws_signin_deadline_clear(s);
    skt_ws_send_json(s, json_pack("{s:s, s:O}", "event", "pusher:signin_success", "data", data));
    json_t *watchlist = json_object_get(user, "watchlist");
    if (json_is_array(watchlist))
        skt_online_watchlist_start(s, watchlist);
    json_decref(user);
    if (first)
        skt_online_changed(s, id, 1);
}

/* ------------------------------------------------------------ dispatch */

void
skt_ws_on_message(skt_conn_t *c, int binary, char *text, size_t len)
{
    skt_socket_t *s = (skt_socket_t *)c;
    if (!s->ns)
        return; /* connection_established not sent yet: soketi drops these */
    json_error_t jerr;
    json_t *msg = json_loadb(text, len, 0, &jerr);
    if (!msg) {
        skt_log(SKT_LOG_DEBUG, "socket %s: not JSON (%s)", s->id, jerr.text);
        return;
    }
    skt_metrics_ws_in(s->ns->metrics, len);
    size_t elen = 0;
    const char *event = json_is_object(msg) ? str_of(msg, "event", &elen) : NULL;
    if (!event) {
        json_decref(msg);
        return;
    }
    json_t *data = json_object_get(msg, "data");
    if (strcmp(event, "pusher:ping") == 0) {
        skt_ws_send_json(s, json_pack("{s:s, s:{}}", "event", "pusher:pong", "data"));
        skt_server_t *srv = skt_server_get();
        if (srv->closing)
            skt_ws_terminate(s, 4200, "Server closed. Please reconnect shortly.");
    } else if (strcmp(event, "pusher:subscribe") == 0) {
        subscribe(s, data);
    } else if (strcmp(event, "pusher:unsubscribe") == 0) {
        size_t clen = 0;
        const char *ch = json_is_object(data) ? str_of(data, "channel", &clen) : NULL;
        skt_sub_t *sub = ch ? skt_ns_find_sub(s, ch, clen) : NULL;
        if (sub)
            unsubscribe_at(s, (uint16_t)(sub - s->subs));
    } else if (elen >= 7 && memcmp(event, "client-", 7) == 0) {
        client_event(s, event, elen, msg);
    } else if (strcmp(event, "pusher:signin") == 0) {
        signin(s, data);
    } else {
        skt_log(SKT_LOG_DEBUG, "socket %s: no handler for event '%s'", s->id, event);
    }
    json_decref(msg);
}

void
skt_ws_on_close(skt_conn_t *c)
{
    skt_socket_t *s = (skt_socket_t *)c;
    if (!s->ns)
        return;
    skt_ws_signin_deadline_clear(s);
    while (s->nsubs)
        unsubscribe_at(s, (uint16_t)(s->nsubs - 1));
    signout(s);
    skt_ns_remove_socket(s->ns, s);
    skt_metrics_connection(s->ns->metrics, 0);
}
