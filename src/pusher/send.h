/* send.h - what goes out to one Pusher socket: the leaf every protocol file sends through.
 *
 * DESIGN
 * A message to a client is written by pusher/message.h into a JSON writer, framed once as
 * a WebSocket text frame and queued on the socket here, where the app's metrics count it.
 * A fan-out frames once and queues the same frame on every socket (skt_send_frame). The
 * most common answers, errors and terminations, have a call each; none echoes more of a
 * client's input than a bounded prefix (skt_send_echo_len). Nothing here waits:
 * output is queued and written by the net layer at the end of the loop iteration.
 */
#ifndef SKT_PUSHER_SEND_H
#define SKT_PUSHER_SEND_H

#include <stddef.h>

#include "pusher/namespace.h"
#include "util/buf.h"
#include "util/jsonw.h"

/* Bytes of the stack buffer a message writer starts in (larger texts move to the heap). */
#define SKT_SEND_STACK 1024

/* Queues frame (a framed message of msg_len bytes; s takes its own reference), counted for
 * the app's metrics once s has an app. */
void skt_send_frame(skt_socket_t *s, skt_buf_t *frame, size_t msg_len);
/* Frames text as one message and queues it. */
void skt_send_text(skt_socket_t *s, const char *text, size_t len);
/* Frames the complete message written in w, queues it and frees w. A writer that failed
 * (out of memory) sends nothing and aborts the connection: a client must not miss a
 * message silently. */
void skt_send_msg(skt_socket_t *s, skt_jw_t *w);

/* How much of a client's channel name an answer echoes: all of a name the app allows or
 * one a little longer (the client finds its channel by it), at most 1 KB past the app's
 * maxChannelNameLength (200 at least), so that no answer repeats an unbounded input. The
 * functions below apply it to their channel. */
size_t skt_send_echo_len(const skt_socket_t *s, size_t len);

/* pusher:error {code, message}; code 0 sends null (not a reason to reconnect). */
void skt_send_error(skt_socket_t *s, int code, const char *msg);
/* pusher:error for one channel, as soketi sends for client-event refusals. */
void skt_send_channel_error(skt_socket_t *s, const char *channel, size_t clen, int code,
                            const char *msg);
/* pusher:subscription_error {type, error, status} for channel; type NULL leaves it out. */
void skt_send_subscription_error(skt_socket_t *s, const char *channel, size_t clen,
                                 const char *type, const char *error, int status);
/* The subscription_errors of the connection's budgets (LimitReached, 4301): s is in
 * connectionLimits.maxChannels channels already (busy 0), or has
 * connectionLimits.maxPendingRequests operations in flight (busy 1). */
void skt_send_subscription_limit(skt_socket_t *s, const char *channel, size_t clen, int busy);
/* pusher:error with code, then the close handshake with the same code. */
void skt_send_terminate(skt_socket_t *s, int code, const char *msg);

#endif
