/* client_event.h - client events: a client's "client-*" message relayed to its channel.
 *
 * Behaviour follows Pusher's rules as soketi 1.6 implements them (src/ws-handler.ts
 * handleClientEvent): the app must enable client messages; the event name and the data
 * have the app's size limits; the socket must be subscribed (else the event is dropped
 * silently); the connection's rate (maxClientEventsPerSecond) is counted by the rate
 * limiter (features/ratelimit.h), which may answer later. Relayed events reach every
 * subscriber on every node but the sender (with the sender's user_id on presence
 * channels) and the client_event webhook. Unlike soketi, and as Pusher, client events are
 * refused on public and private-encrypted channels.
 */
#ifndef SKT_PUSHER_CLIENT_EVENT_H
#define SKT_PUSHER_CLIENT_EVENT_H

#include <jansson.h>
#include <stddef.h>

#include "pusher/namespace.h"

/* The client event `event` (elen bytes) of message msg (borrowed; the relay keeps its own
 * reference while the rate limiter answers). */
void skt_client_event(skt_socket_t *s, const char *event, size_t elen, json_t *msg);

#endif
