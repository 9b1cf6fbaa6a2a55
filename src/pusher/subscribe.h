/* subscribe.h - pusher:subscribe and pusher:unsubscribe for every kind of channel.
 *
 * Behaviour and message shapes follow soketi 1.6 (src/ws-handler.ts subscribeToChannel,
 * unsubscribeFromChannel; src/channels/ *.ts): a subscription is checked (name, length,
 * signature for private, encrypted and presence channels), joined, answered with
 * pusher_internal:subscription_succeeded and, on a cache channel, its last event.
 * Presence channels continue in pusher/presence.h. The first socket of the cluster to
 * join a channel and the last to leave it decide channel_occupied / channel_vacated
 * (pusher/shared.h); every change of a channel's count on this node is a
 * subscription_count webhook.
 */
#ifndef SKT_PUSHER_SUBSCRIBE_H
#define SKT_PUSHER_SUBSCRIBE_H

#include <jansson.h>

#include "pusher/namespace.h"

/* pusher:subscribe with data {channel, auth?, channel_data?}. */
void skt_subscribe(skt_socket_t *s, json_t *data);
/* pusher:unsubscribe with data {channel}: leaves it when subscribed, else nothing. */
void skt_unsubscribe(skt_socket_t *s, json_t *data);
/* Leaves every channel (the socket is closing). */
void skt_unsubscribe_all(skt_socket_t *s);

#endif
