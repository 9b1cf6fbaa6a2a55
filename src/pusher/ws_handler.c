/* ws_handler.c - the Pusher WebSocket protocol on a connection: open, dispatch, close.
 *
 * Behaviour and message shapes follow soketi 1.6 (src/ws-handler.ts); where soketi stays
 * silent on malformed input, we answer with a pusher:error whose code is null (not a
 * reason to reconnect).
 *
 * DESIGN
 * Anything that may need the cluster (the connection quota here; presence members and
 * the rate limiter and cache in the files below) goes through asynchronous calls. While
 * such a call is pending the socket is held with skt_conn_ref(), and the completion
 * checks whether it closed (or left the channel) meanwhile before touching protocol
 * state.
 */
#include "pusher/ws_handler.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "features/features.h"
#include "features/metrics.h"
#include "plugin/loader.h"
#include "pusher/client_event.h"
#include "pusher/input.h"
#include "pusher/message.h"
#include "pusher/send.h"
#include "pusher/server.h"
#include "pusher/signin.h"
#include "pusher/subscribe.h"
#include "util/log.h"

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
        ns->metrics = skt_metrics_app(skt_server_of(&s->conn)->features->metrics, ns->app_id);
    skt_metrics_connection(ns->metrics, 1);
    SKT_JW_ON_STACK(w, SKT_SEND_STACK);
    skt_msg_connection_established(&w, s->id, 30);
    skt_send_msg(s, &w);
    skt_signin_deadline_start(s);
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
    if (!skt_conn_is_closed(&s->conn) && !ctx->ns->app) { /* the app went meanwhile */
        skt_send_terminate(s, 4001, "The app no longer exists.");
    } else if (!skt_conn_is_closed(&s->conn)) {
        long max = ctx->ns->app->max_connections;
        if (status == SOKETI_ERROR || count + 1 > max)
            skt_send_terminate(s, 4100,
                               "The current concurrent connections quota has been reached.");
        else
            establish(s, ctx->ns);
    }
    skt_socket_release(s);
    free(ctx);
}

/* The adapter's answer to a release: nothing waits for it. */
static void
connection_released(void *arg, int status, long count)
{
    (void)arg, (void)status, (void)count;
}

/* Gives back a connection cluster_connection admitted for s's app (app_id). */
static void
connection_release(skt_server_t *srv, const char *app_id)
{
    soketi_adapter_t *ad = srv->adapter;
    ad->ops.cluster_connection(ad->self, app_id, 0, 0, connection_released, NULL);
}

/* The adapter's atomic admission (cluster_connection): established when admitted, refused
 * with 4100 when full; asked by sockets_count when the adapter cannot tell. */
static void
open_admit_cb(void *arg, int status, long count)
{
    open_ctx_t *ctx = arg;
    skt_socket_t *s = ctx->s;
    skt_server_t *srv = skt_server_of(&s->conn);
    if (status == SOKETI_ERROR && !skt_conn_is_closed(&s->conn)) {
        SKT_ADAPTER(srv).sockets_count(SKT_ADAPTER_SELF(srv), ctx->ns->app_id, open_quota_cb, ctx);
        return; /* open_quota_cb releases s and ctx */
    }
    if (status != SOKETI_ERROR && count == 1) {
        s->counted = 1;
        if (!skt_conn_is_closed(&s->conn))
            establish(s, ctx->ns);
        if (!s->ns) { /* closed meanwhile, or not registered: on_close will not release */
            s->counted = 0;
            connection_release(srv, ctx->ns->app_id);
        }
    } else if (!skt_conn_is_closed(&s->conn)) {
        skt_send_terminate(s, 4100, "The current concurrent connections quota has been reached.");
    }
    skt_socket_release(s);
    free(ctx);
}

/* The app a connection asked for, found: checked, then the connection quota. */
static void
open_app(skt_socket_t *s, skt_app_t *app, const char *app_key, size_t key_len)
{
    skt_server_t *srv = skt_server_of(&s->conn);
    if (srv->closing) {
        skt_send_terminate(s, 4200, "Server is closing. Please reconnect shortly.");
        return;
    }
    if (!app) {
        char msg[300];
        snprintf(msg, sizeof(msg), "App key %.*s does not exist.",
                 (int)(key_len > 200 ? 200 : key_len), app_key);
        skt_send_terminate(s, 4001, msg);
        return;
    }
    if (!app->enabled) {
        skt_send_terminate(s, 4003, "The app is not enabled.");
        return;
    }
    skt_ns_t *ns = skt_ns_for_app(srv->namespaces, app);
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
    skt_socket_hold(s, 0);
    if (SKT_ADAPTER_HAS(srv->adapter, cluster_connection))
        SKT_ADAPTER(srv).cluster_connection(SKT_ADAPTER_SELF(srv), app->id, 1, app->max_connections,
                                            open_admit_cb, ctx);
    else
        SKT_ADAPTER(srv).sockets_count(SKT_ADAPTER_SELF(srv), app->id, open_quota_cb, ctx);
}

/* A connection waiting for its app (skt_appdir_find), with the key it asked for. */
typedef struct open_wait_s {
    skt_socket_t *s;
    size_t key_len;
    char key[];
} open_wait_t;

static void
open_found(void *arg, skt_app_t *app)
{
    open_wait_t *w = arg;
    if (!skt_conn_is_closed(&w->s->conn))
        open_app(w->s, app, w->key, w->key_len);
    skt_socket_release(w->s);
    free(w);
}

void
skt_ws_open(skt_socket_t *s, const char *app_key, size_t key_len)
{
    skt_server_t *srv = skt_server_of(&s->conn);
    if (srv->closing) {
        skt_send_terminate(s, 4200, "Server is closing. Please reconnect shortly.");
        return;
    }
    open_wait_t *w = malloc(sizeof(*w) + key_len + 1);
    if (!w) {
        skt_conn_abort(&s->conn);
        return;
    }
    w->s = s;
    w->key_len = key_len;
    memcpy(w->key, app_key, key_len);
    w->key[key_len] = '\0';
    skt_socket_hold(s, 0);
    /* soketi's findByKey: at once for configured or cached apps, else after the store */
    skt_appdir_find(srv->apps, SOKETI_APP_BY_KEY, app_key, key_len, open_found, w);
}

/* ------------------------------------------------------------ dispatch */

/* pusher:ping: pusher:pong, and while the server closes, the reason to reconnect. */
static void
ping(skt_socket_t *s)
{
    SKT_JW_ON_STACK(w, 64);
    skt_msg_pong(&w);
    skt_send_msg(s, &w);
    if (skt_server_of(&s->conn)->closing)
        skt_send_terminate(s, 4200, "Server closed. Please reconnect shortly.");
}

void
skt_ws_on_message(skt_conn_t *c, int binary, char *text, size_t len)
{
    skt_socket_t *s = (skt_socket_t *)c;
    (void)binary;
    if (!s->ns)
        return; /* connection_established not sent yet: soketi drops these */
    json_error_t jerr;
    json_t *msg = skt_input_parse(text, len, &jerr);
    if (!msg) {
        skt_log(SKT_LOG_DEBUG, "socket %s: not JSON (%s)", s->id, jerr.text);
        return;
    }
    skt_metrics_ws_in(s->ns->metrics, len);
    size_t elen = 0;
    const char *event = json_is_object(msg) ? skt_input_str(msg, "event", &elen) : NULL;
    if (!event) { /* not a Pusher message: ignored, as soketi */
        json_decref(msg);
        return;
    }
    json_t *data = json_object_get(msg, "data");
    if (strcmp(event, "pusher:ping") == 0)
        ping(s);
    else if (strcmp(event, "pusher:subscribe") == 0)
        skt_subscribe(s, data);
    else if (strcmp(event, "pusher:unsubscribe") == 0)
        skt_unsubscribe(s, data);
    else if (elen >= 7 && memcmp(event, "client-", 7) == 0)
        skt_client_event(s, event, elen, msg);
    else if (strcmp(event, "pusher:signin") == 0)
        skt_signin(s, data);
    else
        skt_log(SKT_LOG_DEBUG, "socket %s: no handler for event '%.*s'", s->id,
                (int)(elen > 100 ? 100 : elen), event);
    json_decref(msg);
}

void
skt_ws_on_close(skt_conn_t *c)
{
    skt_socket_t *s = (skt_socket_t *)c;
    if (!s->ns)
        return;
    skt_signin_deadline_clear(s);
    skt_unsubscribe_all(s);
    skt_signout(s);
    skt_ns_remove_socket(s->ns, s);
    skt_metrics_connection(s->ns->metrics, 0);
    if (s->counted) {
        s->counted = 0;
        connection_release(skt_server_of(c), s->ns->app_id);
    }
}
