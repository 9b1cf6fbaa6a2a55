/* server_life.h - the server's life: creation, listening, reload, shutdown (server.h).
 *
 * DESIGN
 * main.c creates the server with the configuration and the protocol's handlers for both
 * ports, makes it listen, reloads its apps on SIGHUP, starts the graceful shutdown on
 * SIGTERM and frees it after the loop ends. Creation fills the plugin host table
 * (pusher/host.h) and loads the adapter, then the features over it (pusher/shared.h).
 */
#ifndef SKT_PUSHER_SERVER_LIFE_H
#define SKT_PUSHER_SERVER_LIFE_H

#include "pusher/server.h"

/* Creates the server on base with cfg (borrowed until skt_server_free), the ports'
 * handlers (copied), and loads the adapter plugin. Returns NULL with a message in err. */
skt_server_t *skt_server_new(struct event_base *base, skt_config_t *cfg, const char *plugin_dir,
                             const skt_server_handlers_t *handlers, char *err, size_t errlen);
int skt_server_listen(skt_server_t *srv, char *err, size_t errlen);
void skt_server_free(skt_server_t *srv);

/* Swaps in a new configuration's apps (SIGHUP). Namespaces of apps that
 * remain follow the new settings; the old cfg is returned for freeing. */
skt_config_t *skt_server_reload_apps(skt_server_t *srv, skt_config_t *cfg);

/* Starts the graceful shutdown: stop accepting, tell clients 4200. */
void skt_server_close_all(skt_server_t *srv);

#endif
