/* server.h - the daemon's state: config, apps' namespaces, the adapter, the features.
 *
 * Header only: every protocol file reaches the state through its connection with
 * skt_server_of(); creating, reloading and freeing it is pusher/server_life.h's.
 *
 * DESIGN
 * One skt_server_t per process, passed explicitly: the net layer carries it as the
 * userdata of both ports, so every handler finds it from its connection
 * (skt_server_of), as hiredis code finds its context and libevent code its base. The one
 * exception is the plugin host table (pusher/host.c): ABI 1's host functions take no
 * context argument, so host.c keeps the server it was filled for (a future ABI 2 should
 * pass the host's context to each function and drop that).
 *
 * It owns the configuration, the connection machinery of both ports, a namespace per app
 * that has connections, the loaded adapter plugin and the features. Protocol code asks the
 * adapter for anything cluster-wide and the namespaces for anything local. What happens
 * on the ports is decided by the handlers main.c hands in (pusher/ws_handler.h and
 * pusher/http_api.h), so this file calls none of the protocol files above it.
 */
#ifndef SKT_PUSHER_SERVER_H
#define SKT_PUSHER_SERVER_H

#include <soketi/adapter.h>

#include "config/config.h"
#include "features/appdir.h"
#include "net/conn.h"
#include "pusher/namespace.h"

typedef struct skt_plugin_s skt_plugin_t;

typedef struct skt_server_s {
    struct event_base *base;
    skt_config_t *cfg;
    skt_net_t *net;
    skt_net_t *metrics_net; /* metrics.port: /, /ready, /usage */
    skt_map_t *namespaces;  /* app id -> skt_ns_t */
    skt_map_t *subcounts;   /* large channels' subscription_count locks (pusher/subcount.h) */
    skt_plugin_t *plugin;
    soketi_adapter_t *adapter; /* the plugin's ops */
    skt_plugin_t *app_manager; /* appManager.driver's plugin; NULL for array */
    skt_appdir_t *apps;        /* the apps, configured or read (features/appdir.h) */
    soketi_host_t host;
    struct skt_features_s *features; /* rate limits, cache, webhooks, ...: features/features.h */
    int closing;                     /* shutting down: refuse new work */
    int unloading;                   /* the adapter's cleanup runs: call no op */
    char *cors; /* the CORS header lines of this cfg, NULL until first built (http_reply.c) */
    skt_net_budget_t input_budget; /* maxBufferedInputInMb, shared by both ports */
    uint64_t adapter_events[4];    /* the adapter's drops, cuts, limits, coalescings (host.c) */
    char node_id[40];
    /* workers > 1: asks the other workers for their metrics texts (main.c sets it to
     * workers/scrape_worker.h's skt_wscrape_gather and gather_self to its object, owned by
     * main.c); NULL otherwise. cb as skt_wscrape_cb. */
    int (*gather_metrics)(void *self,
                          void (*cb)(void *arg, const char *const *texts, size_t n, long missing),
                          void *arg);
    void *gather_self;
} skt_server_t;

/* What runs on each port: the protocol's handlers, handed in by main.c. */
typedef struct skt_server_handlers_s {
    skt_net_handlers_t main;    /* WebSockets and the HTTP API (port) */
    skt_net_handlers_t metrics; /* metrics.port */
} skt_server_handlers_t;

/* The server a connection of either port belongs to. */
static inline skt_server_t *
skt_server_of(const skt_conn_t *c)
{
    return (skt_server_t *)skt_net_userdata(c->net);
}

/* The app id (len bytes) as known now (features/appdir.h: skt_appdir_get), or NULL. */
static inline skt_app_t *
skt_server_app(skt_server_t *srv, const char *id, size_t len)
{
    return srv->apps ? skt_appdir_get(srv->apps, id, len) : NULL; /* NULL once shutting down */
}

/* Convenience wrappers over the adapter's ops. */
#define SKT_ADAPTER(srv) ((srv)->adapter->ops)
#define SKT_ADAPTER_SELF(srv) ((srv)->adapter->self)

#endif
