/* ws_handler.h - the Pusher WebSocket protocol on top of a connection. */
#ifndef SKT_PUSHER_WS_HANDLER_H
#define SKT_PUSHER_WS_HANDLER_H

#include <jansson.h>

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

/* Queues one message on s, counted for the app's metrics once s has an app. */
void skt_ws_send_text(skt_socket_t *s, const char *text, size_t len);

/* A user id as text: strings as they are, integers formatted (Pusher clients key members
 * by string). NULL when v is neither (or out of memory). The caller frees. */
char *skt_ws_user_id_text(json_t *v);

/* What pusher/presence.c answers with, as the rest of the protocol does. */

/* Serialises obj (keys in insertion order, as soketi's JSON.stringify) and queues it on s.
 * Consumes the reference to obj; NULL sends nothing. */
void skt_ws_send_json(skt_socket_t *s, json_t *obj);
/* pusher:error {code, message} for one channel (code 0 sends null). */
void skt_ws_send_channel_error(skt_socket_t *s, const char *channel, int code, const char *msg);
/* pusher:subscription_error {type, error, status} for channel; type NULL leaves it out. */
void skt_ws_send_subscription_error(skt_socket_t *s, const char *channel, const char *type,
                                    const char *error, int status);
/* After subscription_succeeded: on a cache channel, its last event or pusher:cache_miss. */
void skt_ws_send_cached(skt_socket_t *s, const char *channel, size_t clen);
/* s proved who it is (signed in, or joined an authorized channel): no sign-in deadline. */
void skt_ws_signin_deadline_clear(skt_socket_t *s);

#endif
