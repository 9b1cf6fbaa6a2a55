/* server.h - the daemon's state: config, apps' namespaces, the adapter, the host table.
 *
 * DESIGN
 * One skt_server_t per process (the plugin ABI's host functions carry no
 * context, so they reach it through skt_server_get()). It owns the
 * configuration, the event loop's connection machinery, a namespace per app
 * that has connections, and the loaded adapter plugin. Protocol code asks the
 * adapter for anything cluster-wide and the namespaces for anything local.
 */
#ifndef SKT_PUSHER_SERVER_H
#define SKT_PUSHER_SERVER_H

#include <soketi/adapter.h>

#include "config/config.h"
#include "net/conn.h"
#include "pusher/namespace.h"

typedef struct skt_plugin_s skt_plugin_t;

typedef struct skt_server_s {
    struct event_base *base;
    skt_config_t *cfg;
    skt_net_t *net;
    skt_net_t *metrics_net; /* metrics.port: /, /ready, /usage */
    skt_map_t *namespaces;  /* app id -> skt_ns_t */
    skt_plugin_t *plugin;
    soketi_adapter_t *adapter; /* the plugin's ops */
    soketi_host_t host;
    struct skt_features_s *features; /* rate limits, cache, webhooks, ...: features/features.h */
    int closing;                     /* shutting down: refuse new work */
    int unloading;                   /* the adapter's cleanup runs: call no op */
    char *cors; /* the CORS header lines of this cfg, NULL until first built (http_reply.c) */
    char node_id[40];
} skt_server_t;

skt_server_t *skt_server_get(void);

/* Creates the server on base with cfg (borrowed until skt_server_free) and
 * loads the adapter plugin. Returns NULL with a message in err. */
skt_server_t *skt_server_new(struct event_base *base, skt_config_t *cfg, const char *plugin_dir,
                             char *err, size_t errlen);
int skt_server_listen(skt_server_t *srv, char *err, size_t errlen);
void skt_server_free(skt_server_t *srv);

/* Swaps in a new configuration's apps (SIGHUP). Namespaces of apps that
 * remain follow the new settings; the old cfg is returned for freeing. */
skt_config_t *skt_server_reload_apps(skt_server_t *srv, skt_config_t *cfg);

/* The namespace of app, created on first use; NULL when out of memory. */
skt_ns_t *skt_server_ns(skt_server_t *srv, skt_app_t *app);
/* The namespace of an app id, only if it exists. */
skt_ns_t *skt_server_find_ns(skt_server_t *srv, const char *app_id, size_t len);

/* Starts the graceful shutdown: stop accepting, tell clients 4200. */
void skt_server_close_all(skt_server_t *srv);

/* Broadcasts to "#server-to-user-<id>" reach the sockets signed in as <id>. */
#define SKT_SERVER_TO_USER_PREFIX "#server-to-user-"

/* Convenience wrappers over the adapter's ops. */
#define SKT_ADAPTER(srv) ((srv)->adapter->ops)
#define SKT_ADAPTER_SELF(srv) ((srv)->adapter->self)

#endif
