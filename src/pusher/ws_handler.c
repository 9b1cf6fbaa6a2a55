/* ws_handler.c - the Pusher WebSocket protocol: connect, ping, subscribe, presence, client
 * events, sign-in (deadline, watchlists), cache channels, and the webhooks and metrics of it all.
 *
 * Behaviour and message shapes follow soketi 1.6 (src/ws-handler.ts and
 * src/channels/ *.ts); where soketi stays silent on malformed input, we answer
 * with a pusher:error whose code is null (not a reason to reconnect).
 *
 * DESIGN
 * Anything that may need the cluster (the connection quota, presence member
 * lists) or a driver that may answer later (the rate limiter, the cache: see
 * src/features/) goes through asynchronous calls. While such a call is
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
#include "features/watchlist.h"
#include "pusher/channel_kind.h"
#include "pusher/sig.h"
#include "util/log.h"

static void subscribe(skt_socket_t *s, json_t *data);
static void unsubscribe_at(skt_socket_t *s, uint16_t i);
static void signin_deadline_clear(skt_socket_t *s);

/* ------------------------------------------------------------ output */

/* Queues one message on s, counted for the app's metrics once s has an app. */
static void
send_text(skt_socket_t *s, const char *text, size_t len)
{
    skt_conn_send_text(&s->conn, text, len);
    if (s->ns)
        skt_metrics_ws_out(s->ns->metrics, 1, len);
}

/* Serialises obj (keys in insertion order, as soketi's JSON.stringify) and
 * queues it on s. Consumes the reference to obj. */
static void
send_json(skt_socket_t *s, json_t *obj)
{
    if (!obj)
        return;
    char *text = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(obj);
    if (!text) {
        skt_conn_abort(&s->conn);
        return;
    }
    send_text(s, text, strlen(text));
    free(text);
}

void
skt_ws_send_error(skt_socket_t *s, int code, const char *msg)
{
    json_t *data = json_object();
    json_object_set_new(data, "code", code ? json_integer(code) : json_null());
    json_object_set_new(data, "message", json_string(msg));
    send_json(s, json_pack("{s:s, s:o}", "event", "pusher:error", "data", data));
}

/* pusher:error for one channel, as soketi sends for client-event refusals. */
static void
send_channel_error(skt_socket_t *s, const char *channel, int code, const char *msg)
{
    json_t *data = json_object();
    json_object_set_new(data, "code", code ? json_integer(code) : json_null());
    json_object_set_new(data, "message", json_string(msg));
    send_json(
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
static void
send_subscription_error(skt_socket_t *s, const char *channel, const char *type, const char *error,
                        int status)
{
    json_t *data = json_object();
    if (type)
        json_object_set_new(data, "type", json_string(type));
    json_object_set_new(data, "error", json_string(error));
    json_object_set_new(data, "status", json_integer(status));
    send_json(s, json_pack("{s:s, s:s, s:o}", "event", "pusher:subscription_error", "channel",
                           channel, "data", data));
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
    send_json(s, json_pack("{s:s, s:s}", "event", "pusher:connection_established", "data", data));
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
            send_json(s, msg);
        } else {
            send_json(s, json_pack("{s:s, s:s%}", "event", "pusher:cache_miss", "channel",
                                   ctx->channel, ctx->len));
            skt_webhooks_cache_miss(skt_server_get()->features->webhooks, s->ns->app, ctx->channel);
        }
        json_decref(cached);
    }
    skt_conn_unref(&s->conn);
    free(ctx);
}

/* After subscription_succeeded on a cache channel: look up its last event. */
static void
send_cached(skt_socket_t *s, const char *channel, size_t clen)
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

/* ------------------------------------------------------------ presence helpers */

/* Broadcasts member_added / member_removed through the adapter. */
static void
broadcast_member_event(skt_server_t *srv, const char *app_id, const char *channel,
                       const char *event, const char *user_id, const char *user_info,
                       const char *except)
{
    json_t *inner = json_pack("{s:s}", "user_id", user_id);
    if (user_info) {
        json_t *info = json_loads(user_info, JSON_DECODE_ANY, NULL);
        json_object_set_new(inner, "user_info", info ? info : json_null());
    }
    char *data = json_dumps(inner, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(inner);
    json_t *msg = json_pack("{s:s, s:s, s:s}", "event", event, "channel", channel, "data",
                            data ? data : "{}");
    free(data);
    char *text = json_dumps(msg, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(msg);
    if (text)
        SKT_ADAPTER(srv).broadcast(SKT_ADAPTER_SELF(srv), app_id, channel, text, strlen(text),
                                   except);
    free(text);
}

typedef struct presence_ctx_s {
    skt_socket_t *s;
    char *channel;
    char *user_id;
    char *user_info;
    char *app_id;
    char *socket_id;
} presence_ctx_t;

static void
presence_ctx_free(presence_ctx_t *ctx)
{
    if (ctx->s)
        skt_conn_unref(&ctx->s->conn);
    free(ctx->channel);
    free(ctx->user_id);
    free(ctx->user_info);
    free(ctx->app_id);
    free(ctx->socket_id);
    free(ctx);
}

/* The members as the cluster sees them (before this socket joined): decide
 * member_added, then answer with the member list including ourselves. */
static void
presence_members_cb(void *arg, int status, const soketi_member_t *members, size_t n)
{
    presence_ctx_t *ctx = arg;
    skt_socket_t *s = ctx->s;
    skt_server_t *srv = skt_server_get();
    if (skt_conn_is_closed(&s->conn) || status == SOKETI_ERROR) {
        if (!skt_conn_is_closed(&s->conn))
            send_channel_error(s, ctx->channel, 4302, "A server error has occured.");
        presence_ctx_free(ctx);
        return;
    }
    skt_sub_t *sub = skt_ns_find_sub(s, ctx->channel, strlen(ctx->channel));
    if (!sub) { /* unsubscribed meanwhile */
        presence_ctx_free(ctx);
        return;
    }
    if (skt_ns_member_add(sub, ctx->user_id, strlen(ctx->user_id), ctx->user_info) < 0) {
        skt_conn_abort(&s->conn);
        presence_ctx_free(ctx);
        return;
    }
    int known = 0;
    json_t *ids = json_array(), *hash = json_object();
    for (size_t i = 0; i < n; i++) {
        if (strcmp(members[i].user_id, ctx->user_id) == 0)
            known = 1;
        json_t *info = json_loads(members[i].user_info, JSON_DECODE_ANY, NULL);
        if (!json_object_get(hash, members[i].user_id))
            json_array_append_new(ids, json_string(members[i].user_id));
        json_object_set_new(hash, members[i].user_id, info ? info : json_null());
    }
    if (!known) {
        broadcast_member_event(srv, s->ns->app_id, ctx->channel, "pusher_internal:member_added",
                               ctx->user_id, ctx->user_info, s->id);
        skt_webhooks_member_added(srv->features->webhooks, s->ns->app, ctx->channel, ctx->user_id);
        json_t *info = json_loads(ctx->user_info, JSON_DECODE_ANY, NULL);
        json_array_append_new(ids, json_string(ctx->user_id));
        json_object_set_new(hash, ctx->user_id, info ? info : json_null());
    }
    json_t *presence = json_pack("{s:{s:o, s:o, s:I}}", "presence", "ids", ids, "hash", hash,
                                 "count", (json_int_t)json_array_size(ids));
    char *data = json_dumps(presence, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(presence);
    send_json(s, json_pack("{s:s, s:s, s:s}", "event", "pusher_internal:subscription_succeeded",
                           "channel", ctx->channel, "data", data ? data : "{}"));
    free(data);
    send_cached(s, ctx->channel, strlen(ctx->channel));
    presence_ctx_free(ctx);
}

/* The cluster's member count, for the per-channel limit; then join. */
static void
presence_count_cb(void *arg, int status, long count)
{
    presence_ctx_t *ctx = arg;
    skt_socket_t *s = ctx->s;
    skt_server_t *srv = skt_server_get();
    if (skt_conn_is_closed(&s->conn)) {
        presence_ctx_free(ctx);
        return;
    }
    if (status == SOKETI_ERROR) {
        send_subscription_error(s, ctx->channel, "ServerError", "A server error has occured.",
                                4302);
        presence_ctx_free(ctx);
        return;
    }
    if (count + 1 > s->ns->app->max_presence_members_per_channel) {
        send_subscription_error(s, ctx->channel, "LimitReached",
                                "The maximum members per presence channel limit was reached", 4100);
        presence_ctx_free(ctx);
        return;
    }
    uint32_t n;
    if (!skt_ns_join(s->ns, s, ctx->channel, strlen(ctx->channel), &n)) {
        skt_conn_abort(&s->conn);
        presence_ctx_free(ctx);
        return;
    }
    signin_deadline_clear(s);
    if (n == 1)
        skt_webhooks_channel_occupied(srv->features->webhooks, s->ns->app, ctx->channel);
    SKT_ADAPTER(srv).channel_members(SKT_ADAPTER_SELF(srv), s->ns->app_id, ctx->channel,
                                     presence_members_cb, ctx);
}

/* After the last local socket of a user left: tell the channel, unless the
 * user is still there through another node. */
static void
presence_left_cb(void *arg, int status, const soketi_member_t *members, size_t n)
{
    presence_ctx_t *ctx = arg;
    skt_server_t *srv = skt_server_get();
    for (size_t i = 0; i < n; i++) {
        if (strcmp(members[i].user_id, ctx->user_id) == 0) {
            presence_ctx_free(ctx);
            return;
        }
    }
    if (status != SOKETI_ERROR) {
        broadcast_member_event(srv, ctx->app_id, ctx->channel, "pusher_internal:member_removed",
                               ctx->user_id, NULL, ctx->socket_id);
        skt_ns_t *ns = skt_server_find_ns(srv, ctx->app_id, strlen(ctx->app_id));
        if (ns && ns->app)
            skt_webhooks_member_removed(srv->features->webhooks, ns->app, ctx->channel,
                                        ctx->user_id);
    }
    presence_ctx_free(ctx);
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

/* Normalises a presence user id to text: strings as they are, integers
 * formatted (Pusher clients key members by string). NULL when invalid. */
static char *
user_id_text(json_t *v)
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
        send_json(s, json_pack("{s:s, s:s%}", "event", "pusher_internal:subscription_succeeded",
                               "channel", channel, clen));
    else
        send_subscription_error(s, channel, "AuthError", "The connection is unauthorized.", 401);
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
        send_subscription_error(s, channel, "LimitReached", msg, 4009);
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
        json_t *member = channel_data ? json_loadb(channel_data, cdlen, 0, NULL) : NULL;
        user_id = member ? user_id_text(json_object_get(member, "user_id")) : NULL;
        json_t *info = member ? json_object_get(member, "user_info") : NULL;
        user_info = info ? json_dumps(info, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER)
                         : strdup("null");
        json_decref(member);
        if (!user_id) {
            send_subscription_error(s, channel, "ServerError", "A server error has occured.", 4302);
            free(user_info);
            return;
        }
        /* soketi measures the member as JSON.stringify(user_info) bytes. */
        if (user_info && (double)strlen(user_info) / 1024.0 > app->max_presence_member_size_kb) {
            char msg[128];
            snprintf(msg, sizeof(msg), "The maximum size for a channel member is %g KB.",
                     app->max_presence_member_size_kb);
            send_subscription_error(s, channel, "LimitReached", msg, 4301);
            free(user_id);
            free(user_info);
            return;
        }
    }
    if (kind != SKT_CHANNEL_PUBLIC) {
        size_t alen = 0;
        const char *auth = str_of(data, "auth", &alen);
        if (!auth || !skt_sig_channel_auth_valid(app->key, app->secret, s->id, channel,
                                                 channel_data, cdlen, auth, alen)) {
            send_subscription_error(s, channel, "AuthError", "The connection is unauthorized.",
                                    401);
            free(user_id);
            free(user_info);
            return;
        }
    }
    if (!channel_name_allowed(channel, clen)) {
        send_subscription_error(
            s, channel, NULL,
            "The channel name is not allowed. Read channel conventions: "
            "https://pusher.com/docs/channels/using_channels/channels/#channel-naming-conventions",
            4009);
        free(user_id);
        free(user_info);
        return;
    }

    if (kind == SKT_CHANNEL_PRESENCE) {
        presence_ctx_t *ctx = calloc(1, sizeof(*ctx));
        if (!ctx || !(ctx->channel = strndup(channel, clen))) {
            free(ctx);
            free(user_id);
            free(user_info);
            skt_conn_abort(&s->conn);
            return;
        }
        ctx->s = s;
        ctx->user_id = user_id;
        ctx->user_info = user_info;
        skt_conn_ref(&s->conn);
        skt_sub_t *existing = skt_ns_find_sub(s, channel, clen);
        if (existing) {
            /* Already in: answer again with the current member list. */
            SKT_ADAPTER(srv).channel_members(SKT_ADAPTER_SELF(srv), s->ns->app_id, ctx->channel,
                                             presence_members_cb, ctx);
            return;
        }
        SKT_ADAPTER(srv).channel_members_count(SKT_ADAPTER_SELF(srv), s->ns->app_id, ctx->channel,
                                               presence_count_cb, ctx);
        return;
    }

    uint32_t n;
    int already = skt_ns_find_sub(s, channel, clen) != NULL;
    if (!skt_ns_join(s->ns, s, channel, clen, &n)) {
        skt_conn_abort(&s->conn);
        return;
    }
    if (kind != SKT_CHANNEL_PUBLIC)
        signin_deadline_clear(s);
    if (!already) {
        /* soketi's webhooks of a join: occupied when this node's first socket joined. */
        if (n == 1)
            skt_webhooks_channel_occupied(srv->features->webhooks, app, channel);
        skt_webhooks_subscription_count(srv->features->webhooks, app, channel, (long)n);
    }
    send_json(s, json_pack("{s:s, s:s%}", "event", "pusher_internal:subscription_succeeded",
                           "channel", channel, clen));
    send_cached(s, channel, clen);
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
        presence_ctx_t *ctx = calloc(1, sizeof(*ctx));
        if (ctx) {
            ctx->channel = strdup(channel);
            ctx->user_id = gone_user;
            gone_user = NULL;
            ctx->app_id = strdup(s->ns->app_id);
            ctx->socket_id = strdup(s->id);
            if (ctx->channel && ctx->app_id && ctx->socket_id)
                SKT_ADAPTER(srv).channel_members(SKT_ADAPTER_SELF(srv), ctx->app_id, ctx->channel,
                                                 presence_left_cb, ctx);
            else
                presence_ctx_free(ctx);
        }
    }
    /* soketi's webhooks of a leave: vacated when this node's last socket left. */
    if (channel && s->ns->app) {
        if (remaining == 0)
            skt_webhooks_channel_vacated(srv->features->webhooks, s->ns->app, channel);
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
        send_channel_error(s, channel, 4301,
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
        send_channel_error(s, channel, 4301, "The app does not have client messaging enabled.");
        return;
    }
    if ((long)elen > app->max_event_name_length) {
        char m[128];
        snprintf(m, sizeof(m), "Event name is too long. Maximum allowed size is %ld.",
                 app->max_event_name_length);
        send_channel_error(s, channel, 4301, m);
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
        send_channel_error(s, channel, 4301, m);
        return;
    }
    skt_sub_t *sub = skt_ns_find_sub(s, channel, clen);
    if (!sub)
        return; /* soketi: not in the channel, silently dropped */
    int kind = skt_channel_kind(channel, clen);
    if (kind == SKT_CHANNEL_PUBLIC || kind == SKT_CHANNEL_ENCRYPTED) {
        /* Pusher allows client events on private and presence channels only
         * (soketi 1.6 lets them through on public and encrypted ones). */
        send_channel_error(s, channel, 0,
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
static void
signin_deadline_clear(skt_socket_t *s)
{
    skt_deadline_cancel(s->signin_deadline);
    s->signin_deadline = NULL;
}

/* pusher_internal:watchlist_events with one event per non-empty group
 * (data as JSON text, like every pusher_internal event), or NULL. */
static char *
watchlist_message(const char *const *online, size_t non, const char *const *offline, size_t noff)
{
    json_t *events = json_array();
    const char *names[2] = {"online", "offline"};
    const char *const *groups[2] = {online, offline};
    size_t counts[2] = {non, noff};
    for (int g = 0; g < 2; g++) {
        if (!counts[g])
            continue;
        json_t *ids = json_array();
        for (size_t i = 0; i < counts[g]; i++)
            json_array_append_new(ids, json_string(groups[g][i]));
        json_array_append_new(events, json_pack("{s:s, s:o}", "name", names[g], "user_ids", ids));
    }
    json_t *data = json_pack("{s:o}", "events", events);
    char *dtext = json_dumps(data, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(data);
    json_t *msg = json_pack("{s:s, s:s}", "event", "pusher_internal:watchlist_events", "data",
                            dtext ? dtext : "{}");
    free(dtext);
    char *text = json_dumps(msg, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(msg);
    return text;
}

typedef struct watch_notify_s {
    skt_buf_t *frame;
    size_t len; /* of the message in frame */
    skt_socket_t *except;
} watch_notify_t;

static void
watch_notify_one(void *arg, void *watcher)
{
    watch_notify_t *n = arg;
    skt_socket_t *w = watcher;
    if (w != n->except) {
        skt_conn_send_buf(&w->conn, n->frame);
        skt_metrics_ws_out(w->ns->metrics, 1, n->len);
    }
}

/* Tells everyone watching user_id that it came online or went offline. */
static void
watch_notify(skt_ns_t *ns, const char *user_id, int online, skt_socket_t *except)
{
    skt_server_t *srv = skt_server_get();
    if (!skt_watch_count(srv->features->watch, ns->app_id, user_id))
        return;
    const char *const ids[1] = {user_id};
    char *text = watchlist_message(online ? ids : NULL, online, online ? NULL : ids, !online);
    watch_notify_t n = {.frame = text ? skt_conn_frame_text(text, strlen(text)) : NULL,
                        .len = text ? strlen(text) : 0,
                        .except = except};
    free(text);
    if (!n.frame)
        return;
    skt_watch_each(srv->features->watch, ns->app_id, user_id, watch_notify_one, &n);
    skt_buf_unref(n.frame);
}

/* Forgets who s was signed in as: its watchlist, its place among the user's
 * sockets and, when it was the user's last, tells the user's watchers. */
static void
signout(skt_socket_t *s)
{
    if (!s->user_id)
        return;
    skt_server_t *srv = skt_server_get();
    skt_watch_remove(srv->features->watch, s->ns->app_id, s);
    skt_ns_remove_user(s->ns, s);
    if (!skt_ns_user(s->ns, s->user_id, strlen(s->user_id)))
        watch_notify(s->ns, s->user_id, 0, s);
    free(s->user_id);
    s->user_id = NULL;
}

/* Registers s's watchlist (user_data "watchlist": [ids]) and tells s who of
 * them is online now, as Pusher does right after sign-in. */
static void
watchlist_start(skt_socket_t *s, json_t *list)
{
    skt_server_t *srv = skt_server_get();
    const char *ids[SKT_WATCH_MAX_IDS];
    char *owned[SKT_WATCH_MAX_IDS];
    size_t n = 0;
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        if (n == SKT_WATCH_MAX_IDS)
            break;
        char *id = user_id_text(v);
        if (!id)
            continue;
        owned[n] = id;
        ids[n++] = id;
    }
    if (n && skt_watch_add(srv->features->watch, s->ns->app_id, s, ids, n) < 0)
        skt_log(SKT_LOG_WARN, "socket %s: out of memory for its watchlist", s->id);
    for (size_t k = 0; k < n; k++)
        free(owned[k]);
    size_t nw = 0, non = 0, noff = 0;
    const char *const *watched = skt_watch_ids(srv->features->watch, s->ns->app_id, s, &nw);
    if (!nw)
        return;
    const char **on = malloc(nw * sizeof(*on)), **off = malloc(nw * sizeof(*off));
    for (size_t k = 0; on && off && k < nw; k++) {
        if (skt_ns_user(s->ns, watched[k], strlen(watched[k])))
            on[non++] = watched[k];
        else
            off[noff++] = watched[k];
    }
    char *text = on && off ? watchlist_message(on, non, off, noff) : NULL;
    if (text)
        send_text(s, text, strlen(text));
    free(text);
    free(on);
    free(off);
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
    char *id = user ? user_id_text(json_object_get(user, "id")) : NULL;
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
        skt_watch_remove(skt_server_get()->features->watch, s->ns->app_id, s);
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
    signin_deadline_clear(s);
    send_json(s, json_pack("{s:s, s:O}", "event", "pusher:signin_success", "data", data));
    json_t *watchlist = json_object_get(user, "watchlist");
    if (json_is_array(watchlist))
        watchlist_start(s, watchlist);
    json_decref(user);
    if (first)
        watch_notify(s->ns, id, 1, s);
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
        send_json(s, json_pack("{s:s, s:{}}", "event", "pusher:pong", "data"));
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
    signin_deadline_clear(s);
    while (s->nsubs)
        unsubscribe_at(s, (uint16_t)(s->nsubs - 1));
    signout(s);
    skt_ns_remove_socket(s->ns, s);
    skt_metrics_connection(s->ns->metrics, 0);
}
