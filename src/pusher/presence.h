/* presence.h - presence channels: their members across the cluster, member_added and
 * member_removed, the member limits (pusher/subscribe.c hands subscriptions over). */
#ifndef SKT_PUSHER_PRESENCE_H
#define SKT_PUSHER_PRESENCE_H

#include <stddef.h>

#include "pusher/namespace.h"

/* The member a presence subscription to channel claims in its channel_data (NULL when
 * missing): *user_id its user_id as text (*id_number 1 when it was a JSON number),
 * *user_info its user_info as JSON text ("null" without one), both the caller's to free.
 * Returns 0, or -1 after answering s with a pusher:subscription_error (no user_id, or a
 * member over the app's size limit). */
int skt_presence_member(skt_socket_t *s, const char *channel, size_t clen, const char *channel_data,
                        size_t cdlen, char **user_id, int *id_number, char **user_info);

/* Joins s, authorized already and admitted against its pending budget, to presence
 * channel as user_id (of the type id_number says) with user_info (both taken over): checks
 * the cluster's member count against the app's limit, then answers with the member list
 * and tells the channel of a new member. Already in: Pusher's "Existing subscription"
 * error, at once. */
void skt_presence_subscribe(skt_socket_t *s, const char *channel, size_t clen, char *user_id,
                            int id_number, char *user_info);

/* s was user_id's last socket here in channel and left it: the member webhook's transition
 * and member_removed, unless the user is still there through another node. Takes over
 * user_id; id_number: it was a JSON number. */
void skt_presence_left(skt_socket_t *s, const char *channel, char *user_id, int id_number);

#endif
