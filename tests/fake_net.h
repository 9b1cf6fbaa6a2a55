/* fake_net.h - a stand-in for net/conn.c, so that the protocol runs without sockets.
 *
 * DESIGN
 * The protocol (src/pusher/) talks to connections only through net/conn.h. Unit tests and
 * fuzz targets link tests/fake_net.c instead of libskt_netio: the same functions, but a
 * "connection" is a plain allocation whose output is recorded as text (one entry per
 * message or HTTP answer) and whose closing runs the protocol's on_ws_close at once, as
 * the real one does. Nothing is read from or written to a file descriptor, and no event
 * loop has to run for anything here (the protocol's own timers still need one).
 *
 * A test builds the real server (pusher/server_life.h) over this fake with the real
 * handlers, connects fake clients (fake_ws_open), feeds them messages (fake_ws_send), reads
 * what they were sent (fake_next) and makes HTTP requests (fake_http).
 */
#ifndef SKT_TESTS_FAKE_NET_H
#define SKT_TESTS_FAKE_NET_H

#include <stddef.h>

#include "net/conn.h"
#include "pusher/server.h"

/* The real server with the real handlers (pusher/ws_handler.h, pusher/http_api.h) over
 * this fake net: the default app with the SOKETI_* settings of env (NULL-terminated, or
 * NULL), the adapter plugins of plugin_dir. Aborts, saying why, when it cannot be made. */
skt_server_t *fake_server_new(const char *const *env, const char *plugin_dir);
/* Frees srv, its configuration and its event base. */
void fake_server_free(skt_server_t *srv);

/* A WebSocket client that opened /app/<key> on srv's main port (the server answered or
 * closed it already, when it needed no cluster answer). The test holds one reference;
 * fake_close() drops it. */
skt_socket_t *fake_ws_open(skt_server_t *srv, const char *key);
/* The client sends one text message. */
void fake_ws_send(skt_socket_t *s, const char *text);
/* The oldest message sent to s that the test has not read, or NULL; the caller frees. */
char *fake_next(skt_socket_t *s);
/* How many messages wait to be read. */
size_t fake_pending(const skt_socket_t *s);
/* Drops every message waiting on s. */
void fake_drain(skt_socket_t *s);
/* The close code the server closed s with (0: open). */
int fake_close_code(const skt_socket_t *s);
/* 1 once the server closed or aborted s. */
int fake_closed(const skt_socket_t *s);
/* The client goes away (if the server did not close it first) and the test's reference
 * is dropped. */
void fake_close(skt_socket_t *s);

/* An HTTP request (raw bytes of a complete request) on srv's main port (metrics 0) or its
 * metrics port (1). Returns the status of the answer, now or -1 when it is still pending
 * (then fake_http_wait). *body gets the answer's body (the caller frees) when not NULL. */
int fake_http(skt_server_t *srv, int metrics, const char *raw, size_t len, char **body);

#endif
