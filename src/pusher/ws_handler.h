/* ws_handler.h - the Pusher WebSocket protocol on top of a connection. */
#ifndef SKT_PUSHER_WS_HANDLER_H
#define SKT_PUSHER_WS_HANDLER_H

#include "pusher/namespace.h"
#include "pusher/server.h"

/* A WebSocket to /app/{key} was accepted: check the app and its quota, then
 * send pusher:connection_established (or a pusher:error and close). */
void skt_ws_open(skt_server_t *srv, skt_socket_t *s, const char *app_key, size_t key_len);

/* net handlers */
void skt_ws_on_message(skt_conn_t *c, int binary, char *text, size_t len);
void skt_ws_on_close(skt_conn_t *c);

/* The app requires sign-in and the connection (a skt_socket_t) did not sign
 * in within userAuthenticationTimeout: pusher:error 4009 and close 4009. */
void skt_ws_signin_timeout(void *socket);

/* pusher:error {code, message}; code 0 sends null (not a reason to reconnect). */
void skt_ws_send_error(skt_socket_t *s, int code, const char *msg);
/* pusher:error with code, then close with the same code. */
void skt_ws_terminate(skt_socket_t *s, int code, const char *msg);

#endif
