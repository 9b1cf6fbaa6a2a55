/* ws_handler.h - the Pusher WebSocket protocol on a connection: open, dispatch, close.
 *
 * The top of the WebSocket side: a connection to /app/{key} is opened here (app, quota,
 * pusher:connection_established), each message is dispatched to the file that handles
 * its event (pusher:ping here; pusher:subscribe / unsubscribe to pusher/subscribe.h,
 * client-* events to pusher/client_event.h, pusher:signin to pusher/signin.h), and a
 * closed connection leaves its channels. main.c hands skt_ws_on_message and
 * skt_ws_on_close to the net layer (pusher/server.h's handlers).
 */
#ifndef SKT_PUSHER_WS_HANDLER_H
#define SKT_PUSHER_WS_HANDLER_H

#include <stddef.h>

#include "net/conn.h"
#include "pusher/namespace.h"

/* A WebSocket to /app/{key} was accepted: check the app and its quota, then
 * send pusher:connection_established (or a pusher:error and close). */
void skt_ws_open(skt_socket_t *s, const char *app_key, size_t key_len);

/* net handlers */
void skt_ws_on_message(skt_conn_t *c, int binary, char *text, size_t len);
void skt_ws_on_close(skt_conn_t *c);

#endif
