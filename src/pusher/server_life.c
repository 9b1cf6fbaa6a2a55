/* server_life.c - the server's life: creation, listening, reload, shutdown. */
#include "pusher/server_life.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "features/features.h"
#include "plugin/loader.h"
#include "pusher/host.h"
#include "pusher/send.h"
#include "pusher/shared.h"
#include "pusher/signin.h"
#include "pusher/subcount.h"
#include "pusher/sig.h"
#include "util/log.h"

/* A node id unique enough for a cluster: the pid and 64 random bits. */
static void
server_node_id(skt_server_t *srv)
{
    unsigned char rnd[8] = {0};
    if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
        memset(rnd, 0, sizeof(rnd));
    snprintf(srv->node_id, sizeof(srv->node_id), "%d-%02x%02x%02x%02x%02x%02x%02x%02x",
             (int)getpid(), rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
}

/* The options of both ports from cfg: the main one's (TLS when a certificate or key is
 * set, as soketi; its error in err), or the metrics port's (always plain). */
static int
server_net_opts(skt_server_t *srv, int metrics, skt_net_opts_t *o, char *err, size_t errlen)
{
    skt_config_t *cfg = srv->cfg;
    *o = (skt_net_opts_t){
        .conn_size = metrics ? sizeof(skt_conn_t) : sizeof(skt_socket_t),
        .max_head = (size_t)cfg->http_api.max_header_size_in_kb * 1024,
        .max_body = metrics ? 0 : (size_t)(cfg->http_api.request_limit_in_mb * 1024 * 1024),
        .max_ws_payload = (size_t)cfg->ws_max_payload_in_kb * 1024,
        .max_backpressure = (size_t)cfg->max_backpressure_in_kb * 1024,
        .ws_idle_timeout = (unsigned)cfg->ws_idle_timeout,
        .http_idle_timeout = (unsigned)cfg->http_api.idle_timeout,
        .header_timeout = (unsigned)cfg->http_api.header_timeout,
        .input_budget = &srv->input_budget,
        .max_pending_handshakes = (size_t)cfg->ssl.max_pending_handshakes,
        .reuse_port = cfg->workers.count > 1,
    };
    if (metrics || (!*cfg->ssl.cert_path && !*cfg->ssl.key_path))
        return 0;
    o->tls = skt_tls_new(cfg->ssl.cert_path, cfg->ssl.key_path, cfg->ssl.passphrase,
                         cfg->ssl.ca_path, err, errlen);
    return o->tls ? 0 : -1;
}

/* The connection machinery of both ports, sharing one budget of buffered input. Returns
 * 0, or -1 with err. */
static int
server_nets(skt_server_t *srv, const skt_server_handlers_t *h, char *err, size_t errlen)
{
    skt_net_opts_t opts, mopts;
    srv->input_budget.limit = (size_t)srv->cfg->max_buffered_input_in_mb << 20;
    if (server_net_opts(srv, 0, &opts, err, errlen) != 0)
        return -1;
    server_net_opts(srv, 1, &mopts, err, errlen);
    srv->net = skt_net_new(srv->base, &opts, &h->main, srv);
    srv->metrics_net = skt_net_new(srv->base, &mopts, &h->metrics, srv);
    if (!srv->net || !srv->metrics_net) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* Copies up to max of the n figures all into out; returns how many. */
static size_t
figures_copy(skt_metrics_figure_t *out, size_t max, const skt_metrics_figure_t *all, size_t n)
{
    if (n > max)
        n = max;
    memcpy(out, all, n * sizeof(*out));
    return n;
}

/* The app manager's figures (features/appdir.h), when apps are read from a store. */
static size_t
server_app_figures(skt_server_t *srv, skt_metrics_figure_t *out, size_t max)
{
    skt_appdir_stats_t st;
    if (!srv->app_manager || !srv->apps)
        return 0;
    skt_appdir_stats(srv->apps, &st);
    const skt_metrics_figure_t all[] = {
        {"app_manager_lookups_total", "counter", "Apps read from appManager.driver's store.",
         (double)st.lookups},
        {"app_manager_lookup_failures_total", "counter",
         "Lookups the store failed or did not answer within appManager.timeout.",
         (double)st.failures},
        {"app_manager_lookups_refused_total", "counter",
         "Lookups answered at once: appManager.maxPendingLookups were in flight.",
         (double)st.refused},
        {"app_manager_lookups_pending", "gauge", "Lookups in flight at the store.",
         (double)st.pending},
        {"app_manager_apps_cached", "gauge", "Apps read from the store and kept in memory.",
         (double)st.cached},
    };
    return figures_copy(out, max, all, sizeof(all) / sizeof(all[0]));
}

/* The figures of the connection layer and the adapter in /metrics (features/metrics.h):
 * counters the nets and host.c keep current, so a scrape costs nothing per connection. */
static size_t
server_figures(void *arg, skt_metrics_figure_t *out, size_t max)
{
    skt_server_t *srv = arg;
    skt_net_stats_t a, b;
    skt_net_stats(srv->net, &a);
    skt_net_stats(srv->metrics_net, &b);
    const skt_metrics_figure_t all[] = {
        {"net_input_buffered_bytes", "gauge",
         "Bytes of incomplete requests and messages held (maxBufferedInputInMb).",
         (double)a.input_buffered},
        {"net_input_refused_total", "counter",
         "Connections refused because buffered input reached maxBufferedInputInMb.",
         (double)(a.input_refused + b.input_refused)},
        {"net_accept_refused_total", "counter",
         "Connections closed at accept because the process was at its open-files limit.",
         (double)(a.accept_refused + b.accept_refused)},
        {"net_header_timeouts_total", "counter",
         "Requests whose head did not arrive within httpApi.headerTimeout.",
         (double)(a.header_timeouts + b.header_timeouts)},
        {"net_http_output_closed_total", "counter",
         "HTTP connections closed while answers waited unread.",
         (double)(a.http_output_closed + b.http_output_closed)},
        {"net_tls_handshakes_pending", "gauge", "TLS handshakes in progress.",
         (double)a.tls_handshakes_pending},
        {"net_tls_handshakes_refused_total", "counter",
         "TLS connections closed at accept: ssl.maxPendingHandshakes were in progress.",
         (double)a.tls_handshakes_refused},
        {"adapter_messages_dropped_total", "counter",
         "Messages on the adapter's channels dropped (too large, malformed, over a rate).",
         (double)srv->adapter_events[0]},
        {"adapter_responses_truncated_total", "counter",
         "Answers to peers cut to the adapter's size bounds.", (double)srv->adapter_events[1]},
        {"adapter_requests_limited_total", "counter",
         "Cluster-wide queries answered from this node alone: their app was over its rate.",
         (double)srv->adapter_events[2]},
        {"adapter_requests_coalesced_total", "counter",
         "Cluster-wide queries answered by an identical one already in flight.",
         (double)srv->adapter_events[3]},
    };
    size_t n = figures_copy(out, max, all, sizeof(all) / sizeof(all[0]));
    return n + server_app_figures(srv, out + n, max - n);
}

/* Terminates every socket of ns with code and msg (below). */
static void server_terminate_ns(skt_ns_t *ns, int code, const char *msg);

/* The apps' new settings (features/appdir.h's changed hook, and a reload): the namespace
 * of app id follows them, or, when the app is gone, its sockets are told so and closed. */
static void
server_app_changed(void *arg, const char *id, skt_app_t *app)
{
    skt_server_t *srv = arg;
    skt_ns_t *ns = skt_ns_find(srv->namespaces, id, strlen(id));
    if (!ns)
        return;
    if (!app && ns->app)
        server_terminate_ns(ns, 4001, "The app no longer exists.");
    ns->app = app;
}

/* The appdir's in_use hook: a namespace points at the app while it exists. */
static int
server_app_in_use(void *arg, const char *id)
{
    skt_server_t *srv = arg;
    return skt_ns_find(srv->namespaces, id, strlen(id)) != NULL;
}

/* The apps: the configured ones, or appManager.driver's plugin (app_manager_<driver>.so)
 * behind the directory. Returns 0, or -1 with err. */
static int
server_apps(skt_server_t *srv, const char *plugin_dir, char *err, size_t errlen)
{
    const char *driver = srv->cfg->app_manager.driver;
    soketi_app_manager_t *am = NULL;
    if (driver && strcmp(driver, "array") != 0) {
        soketi_app_manager_host_t h = {
            .base = srv->base,
            .node_id = srv->node_id,
            .config_get = srv->host.config_get,
            .log = srv->host.log,
        };
        if (skt_plugin_load_app_manager(plugin_dir, driver, &h, &srv->app_manager, err, errlen) !=
            0)
            return -1;
        am = skt_plugin_app_manager(srv->app_manager);
        skt_log(SKT_LOG_INFO, "app manager '%s' loaded from %s (ABI %d)", driver,
                skt_plugin_path(srv->app_manager), skt_plugin_abi(srv->app_manager));
    }
    skt_appdir_hooks_t hooks = {srv, server_app_changed, server_app_in_use};
    if (!(srv->apps = skt_appdir_new(srv->base, srv->cfg, am, &hooks))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* Loads the adapter plugin with the host table, then the features over it. */
static int
server_adapter(skt_server_t *srv, const char *plugin_dir, char *err, size_t errlen)
{
    skt_config_t *cfg = srv->cfg;
    /* soketi's redis adapter in cluster mode is the redis-cluster plugin */
    const char *driver =
        strcmp(cfg->adapter.driver, "redis") == 0 && cfg->adapter.redis.cluster_mode
            ? "redis-cluster"
            : cfg->adapter.driver;
    /* one worker of several (workers/supervisor.h): the local adapter spans the host */
    if (cfg->workers.count > 1 && strcmp(driver, "local") == 0)
        driver = "workers";
    skt_host_fill(&srv->host, srv);
    if (skt_plugin_load(plugin_dir, driver, &srv->host, &srv->plugin, err, errlen) != 0)
        return -1;
    srv->adapter = skt_plugin_adapter(srv->plugin);
    skt_features_hooks_t hooks = {.signin_timeout = skt_signin_timeout,
                                  .sign = skt_sig_hmac_sha256_hex};
    if (!(srv->features = skt_features_new(srv->base, cfg, &hooks, err, errlen)) ||
        skt_shared_setup(srv, err, errlen) != 0)
        return -1;
    skt_metrics_set_process_source(srv->features->metrics, server_figures, srv);
    skt_log(SKT_LOG_INFO, "adapter '%s' loaded from %s (ABI %d)", driver,
            skt_plugin_path(srv->plugin), skt_plugin_abi(srv->plugin));
    return 0;
}

skt_server_t *
skt_server_new(struct event_base *base, skt_config_t *cfg, const char *plugin_dir,
               const skt_server_handlers_t *handlers, char *err, size_t errlen)
{
    skt_server_t *srv = calloc(1, sizeof(*srv));
    if (!srv) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    srv->base = base;
    srv->cfg = cfg;
    server_node_id(srv);
    if (!(srv->namespaces = skt_map_new())) {
        snprintf(err, errlen, "out of memory");
        skt_server_free(srv);
        return NULL;
    }
    if (server_nets(srv, handlers, err, errlen) != 0 ||
        server_adapter(srv, plugin_dir, err, errlen) != 0 ||
        server_apps(srv, plugin_dir, err, errlen) != 0) {
        skt_server_free(srv);
        return NULL;
    }
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
        skt_send_terminate(all[j], code, msg);
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
    /* Handshakes and idle connections cannot finish anything within the grace
     * period: they go now, and cost the loop nothing more. */
    skt_net_drain(srv->net);
    skt_net_drain(srv->metrics_net);
    /* the webhooks claimed from a durable queue go back to it while the adapter is here */
    skt_webhooks_closing(srv->features->webhooks, srv->cfg->shutdown_grace_period);
}

skt_config_t *
skt_server_reload_apps(skt_server_t *srv, skt_config_t *cfg)
{
    skt_config_t *old = srv->cfg;
    size_t pos = 0;
    void *v;
    /* Configured apps follow the new list; apps of a store keep their settings until read
     * again (skt_appdir_reload). */
    while (!srv->app_manager && skt_map_next(srv->namespaces, &pos, NULL, NULL, &v)) {
        skt_ns_t *ns = v;
        server_app_changed(srv, ns->app_id,
                           skt_apps_by_id(cfg->apps, ns->app_id, strlen(ns->app_id)));
    }
    skt_appdir_reload(srv->apps, cfg);
    /* The largest WebSocket message follows the apps' limits (wsMaxPayloadInKb's default). */
    skt_net_t *nets[2] = {srv->net, srv->metrics_net};
    for (int i = 0; i < 2; i++) {
        skt_net_opts_t o = *skt_net_opts(nets[i]);
        o.max_ws_payload = (size_t)cfg->ws_max_payload_in_kb * 1024;
        skt_net_configure(nets[i], &o);
    }
    if (cfg->ws_max_payload_in_kb != old->ws_max_payload_in_kb)
        skt_log(SKT_LOG_INFO, "SIGHUP: WebSocket messages up to %ld KB (wsMaxPayloadInKb)",
                cfg->ws_max_payload_in_kb);
    srv->cfg = cfg;
    skt_webhooks_check_apps(cfg->apps); /* what it cannot send, said once per reload */
    free(srv->cors);                    /* rebuilt from the new cors.* options */
    srv->cors = NULL;
    return old;
}

void
skt_server_free(skt_server_t *srv)
{
    if (!srv)
        return;
    skt_subcount_free_all(srv);
    /* lookups in flight release their connections before the nets go */
    skt_appdir_free(srv->apps);
    srv->apps = NULL;
    if (srv->net)
        skt_net_free(srv->net);
    if (srv->metrics_net)
        skt_net_free(srv->metrics_net);
    srv->unloading = 1;
    skt_plugin_unload(srv->plugin);
    skt_plugin_unload(srv->app_manager);
    skt_features_free(srv->features);
    if (srv->namespaces) {
        size_t pos = 0;
        void *v;
        while (skt_map_next(srv->namespaces, &pos, NULL, NULL, &v))
            skt_ns_free(v);
        skt_map_free(srv->namespaces);
    }
    skt_host_clear(srv);
    free(srv->cors);
    free(srv);
}
