/* server.c - the daemon's state, the host table handed to plugins, and local delivery.
 *
 * One broadcast, from the adapter down: deliver_local() finds the channel,
 * frames the message once into a refcounted buffer, and queues that same
 * buffer on every subscriber but the excluded one. The net layer writes it
 * at the end of the loop iteration, one writev() per socket.
 */
#include "pusher/server.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "features/features.h"
#include "features/metrics.h"
#include "plugin/loader.h"
#include "pusher/http_api.h"
#include "pusher/online.h"
#include "pusher/shared.h"
#include "pusher/sig.h"
#include "pusher/ws_handler.h"
#include "util/log.h"

static skt_server_t *current;

skt_server_t *
skt_server_get(void)
{
    return current;
}

skt_ns_t *
skt_server_find_ns(skt_server_t *srv, const char *app_id, size_t len)
{
    return skt_map_get(srv->namespaces, app_id, len);
}

skt_ns_t *
skt_server_ns(skt_server_t *srv, skt_app_t *app)
{
    skt_ns_t *ns = skt_server_find_ns(srv, app->id, strlen(app->id));
    if (ns) {
        ns->app = app; /* the app may have come back after a reload */
        return ns;
    }
    ns = skt_ns_new(app);
    if (!ns)
        return NULL;
    if (skt_map_put(srv->namespaces, ns->app_id, strlen(ns->app_id), ns) != 0) {
        skt_ns_free(ns);
        return NULL;
    }
    return ns;
}

/* ------------------------------------------------------------ host table */

static skt_ns_t *
host_ns(const char *app_id)
{
    return current ? skt_server_find_ns(current, app_id, strlen(app_id)) : NULL;
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

/* The adapter's metrics (soketi's horizontal_adapter_*), counted for apps this node
 * serves only: a peer may ask about any app id, and each would get its own series. */
static void
host_metric(const char *app_id, int what, double value)
{
    if (!current || !current->features || !app_id ||
        !skt_apps_by_id(current->cfg->apps, app_id, strlen(app_id)))
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

/* "#server-to-user-<id>": Pusher's channel of a signed-in user. Nobody
 * subscribes to it; every socket signed in as <id> gets its events. */
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
    size_t sent = 0;
    for (uint32_t i = 0; i < u->n; i++) {
        if (!except || strcmp(u->socks[i]->id, except) != 0) {
            skt_conn_send_buf(&u->socks[i]->conn, frame);
            sent++;
        }
    }
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
        skt_online_deliver(ns, msg, msg_len, except);
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
    /* Sending never closes a socket synchronously (a slow reader is closed at
     * the next flush), so the channel's array cannot change under this loop. */
    size_t sent = 0;
    for (uint32_t i = 0; i < ch->n; i++) {
        skt_socket_t *s = ch->socks[i];
        if (s != skip) {
            skt_conn_send_buf(&s->conn, frame);
            sent++;
        }
    }
    skt_buf_unref(frame);
    skt_metrics_ws_out(ns->metrics, sent, msg_len);
}

static long
host_local_sockets_count(const char *app_id)
{
    skt_ns_t *ns = host_ns(app_id);
    return ns ? (long)skt_map_count(ns->sockets) : 0;
}

static long
host_local_channel_sockets_count(const char *app_id, const char *channel)
{
    skt_ns_t *ns = host_ns(app_id);
    skt_channel_t *ch = ns ? skt_ns_channel(ns, channel, strlen(channel)) : NULL;
    return ch ? (long)ch->n : 0;
}

static long
host_local_channel_members_count(const char *app_id, const char *channel)
{
    skt_ns_t *ns = host_ns(app_id);
    skt_channel_t *ch = ns ? skt_ns_channel(ns, channel, strlen(channel)) : NULL;
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

static void
host_local_channel_members(const char *app_id, const char *channel, soketi_each_member_fn each,
                           void *arg)
{
    skt_ns_t *ns = host_ns(app_id);
    skt_channel_t *ch = ns ? skt_ns_channel(ns, channel, strlen(channel)) : NULL;
    if (!ch || !ch->members)
        return;
    size_t pos = 0;
    void *v;
    while (skt_map_next(ch->members, &pos, NULL, NULL, &v)) {
        skt_member_t *m = v;
        each(arg, m->user_id, m->user_info);
    }
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
    skt_ns_t *ns = host_ns(app_id);
    skt_channel_t *ch = ns ? skt_ns_channel(ns, channel, strlen(channel)) : NULL;
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
        skt_ws_terminate(s, 4009, "You got disconnected by the app.");
        u = skt_ns_user(ns, user_id, strlen(user_id));
        if (u && u->n == before)
            break; /* could not close it: do not spin */
    }
}

static void
server_fill_host(skt_server_t *srv)
{
    soketi_host_t *h = &srv->host;
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
}

/* ------------------------------------------------------------ lifecycle */

skt_server_t *
skt_server_new(struct event_base *base, skt_config_t *cfg, const char *plugin_dir, char *err,
               size_t errlen)
{
    skt_server_t *srv = calloc(1, sizeof(*srv));
    if (!srv) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    srv->base = base;
    srv->cfg = cfg;
    srv->namespaces = skt_map_new();
    unsigned char rnd[8] = {0};
    if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
        memset(rnd, 0, sizeof(rnd));
    snprintf(srv->node_id, sizeof(srv->node_id), "%d-%02x%02x%02x%02x%02x%02x%02x%02x",
             (int)getpid(), rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
    current = srv;
    server_fill_host(srv);

    skt_net_opts_t opts = {
        .conn_size = sizeof(skt_socket_t),
        .max_head = (size_t)cfg->http_api.max_header_size_in_kb * 1024,
        .max_body = (size_t)(cfg->http_api.request_limit_in_mb * 1024 * 1024),
        .max_ws_payload = (size_t)cfg->ws_max_payload_in_kb * 1024,
        .max_backpressure = (size_t)cfg->max_backpressure_in_kb * 1024,
        .ws_idle_timeout = 120,
        .http_idle_timeout = 10,
    };
    skt_net_handlers_t h = {
        .on_request = skt_http_on_request,
        .on_ws_message = skt_ws_on_message,
        .on_ws_close = skt_ws_on_close,
    };
    /* As soketi: TLS on the main port when a certificate or key is set. */
    if (*cfg->ssl.cert_path || *cfg->ssl.key_path) {
        opts.tls = skt_tls_new(cfg->ssl.cert_path, cfg->ssl.key_path, cfg->ssl.passphrase,
                               cfg->ssl.ca_path, err, errlen);
        if (!opts.tls) {
            skt_server_free(srv);
            return NULL;
        }
    }
    srv->net = skt_net_new(base, &opts, &h, srv);
    skt_net_handlers_t mh = {.on_request = skt_http_on_metrics_request};
    skt_net_opts_t mopts = opts;
    mopts.conn_size = sizeof(skt_conn_t);
    mopts.max_body = 0;
    mopts.tls = NULL;
    srv->metrics_net = skt_net_new(base, &mopts, &mh, srv);
    if (!srv->namespaces || !srv->net || !srv->metrics_net) {
        snprintf(err, errlen, "out of memory");
        skt_server_free(srv);
        return NULL;
    }
    /* soketi's redis adapter in cluster mode is the redis-cluster plugin */
    const char *driver =
        strcmp(cfg->adapter.driver, "redis") == 0 && cfg->adapter.redis.cluster_mode
            ? "redis-cluster"
            : cfg->adapter.driver;
    if (skt_plugin_load(plugin_dir, driver, &srv->host, &srv->plugin, err, errlen) != 0) {
        skt_server_free(srv);
        return NULL;
    }
    srv->adapter = skt_plugin_adapter(srv->plugin);
    skt_features_hooks_t hooks = {.signin_timeout = skt_ws_signin_timeout,
                                  .sign = skt_sig_hmac_sha256_hex};
    if (!(srv->features = skt_features_new(base, cfg, &hooks, err, errlen)) ||
        skt_shared_setup(srv, err, errlen) != 0) {
        skt_server_free(srv);
        return NULL;
    }
    skt_log(SKT_LOG_INFO, "adapter '%s' loaded from %s (ABI %d)", cfg->adapter.driver,
            skt_plugin_path(srv->plugin), skt_plugin_abi(srv->plugin));
    return srv;
}

int
skt_server_listen(skt_server_t *srv, char *err, size_t errlen)
{
    char merr[256];
    /* As soketi: a metrics port that cannot be bound is not fatal. */
    if (skt_net_listen(srv->metrics_net, srv->cfg->metrics.host, (int)srv->cfg->metrics.port, merr,
                       sizeof(merr)) != 0)
        skt_log(SKT_LOG_WARN, "metrics port: %s", merr);
    return skt_net_listen(srv->net, srv->cfg->host, (int)srv->cfg->port, err, errlen);
}

/* Terminates every socket of ns with code and msg. Terminating removes a
 * socket from ns->sockets, so the sockets are collected first. */
static void
server_terminate_ns(skt_ns_t *ns, int code, const char *msg)
{
    size_t n = skt_map_count(ns->sockets), i = 0, pos = 0;
    skt_socket_t **all = n ? malloc(n * sizeof(*all)) : NULL;
    void *v;
    if (!all)
        return;
    while (i < n && skt_map_next(ns->sockets, &pos, NULL, NULL, &v))
        all[i++] = v;
    for (size_t j = 0; j < i; j++)
        skt_ws_terminate(all[j], code, msg);
    free(all);
}

void
skt_server_close_all(skt_server_t *srv)
{
    srv->closing = 1;
    skt_net_stop_listening(srv->net);
    skt_net_stop_listening(srv->metrics_net);
    size_t pos = 0;
    void *v;
    while (skt_map_next(srv->namespaces, &pos, NULL, NULL, &v))
        server_terminate_ns(v, 4200, "Server closed. Please reconnect shortly.");
}

skt_config_t *
skt_server_reload_apps(skt_server_t *srv, skt_config_t *cfg)
{
    skt_config_t *old = srv->cfg;
    size_t pos = 0;
    void *v;
    while (skt_map_next(srv->namespaces, &pos, NULL, NULL, &v)) {
        skt_ns_t *ns = v;
        skt_app_t *app = skt_apps_by_id(cfg->apps, ns->app_id, strlen(ns->app_id));
        if (app)
            ns->app = app;
        else { /* The app is gone: its sockets are told so and closed. */
            server_terminate_ns(ns, 4001, "The app no longer exists.");
            ns->app = NULL;
        }
    }
    srv->cfg = cfg;
    free(srv->cors); /* rebuilt from the new cors.* options */
    srv->cors = NULL;
    return old;
}

void
skt_server_free(skt_server_t *srv)
{
    if (!srv)
        return;
    if (srv->net)
        skt_net_free(srv->net);
    if (srv->metrics_net)
        skt_net_free(srv->metrics_net);
    srv->unloading = 1;
    skt_plugin_unload(srv->plugin);
    skt_features_free(srv->features);
    if (srv->namespaces) {
        size_t pos = 0;
        void *v;
        while (skt_map_next(srv->namespaces, &pos, NULL, NULL, &v))
            skt_ns_free(v);
        skt_map_free(srv->namespaces);
    }
    if (current == srv)
        current = NULL;
    free(srv->cors);
    free(srv);
}
