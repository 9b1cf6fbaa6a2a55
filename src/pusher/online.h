/* online.h - who is online, for Pusher's watchlist events, across the cluster.
 *
 * A user is online while one of its connections is signed in, on any node. A signed-in
 * user's user_data may carry "watchlist": [user ids]; that connection is told who of them
 * is online right after pusher:signin_success, then whenever one comes online or goes
 * offline, as pusher_internal:watchlist_events (features/watchlist.h keeps the index of
 * who watches whom on this node).
 *
 * DESIGN
 * A user's first signed-in connection on this node, or its last one signing out, is a
 * local transition; the adapter's cluster_transition (pusher/shared.h), under the
 * pseudo-channel SKT_ONLINE_CHANNEL and the user's id, tells whether it is the cluster's.
 * Only then is the change announced, through the adapter's broadcast on the internal
 * channel SKT_WATCHLIST_CHANNEL, so that every node tells its own watchers: one message
 * per change for the cluster, framed once per node. No client can subscribe to either
 * name ('#' is not allowed in channel names). A new watcher learns who is online from the
 * adapter's cluster_present. Without those ops (the local adapter), or while the adapter
 * cannot tell, this node's own sign-ins decide, which is exact on a single node.
 */
#ifndef SKT_PUSHER_ONLINE_H
#define SKT_PUSHER_ONLINE_H

#include <jansson.h>
#include <stddef.h>

#include "pusher/server.h"

#define SKT_ONLINE_CHANNEL "#online"
#define SKT_WATCHLIST_CHANNEL "#watchlist"

/* user_id's first signed-in connection on this node is s (online 1), or s was its last
 * and signed out or closed (0). s itself is never told about its own user. */
void skt_online_changed(skt_socket_t *s, const char *user_id, int online);

/* s signed in with user_data's "watchlist" list (a JSON array, read during the call):
 * registers it and tells s who of it is online, now or once the cluster answered. */
void skt_online_watchlist_start(skt_socket_t *s, json_t *list);

/* Forgets s's watchlist (s signs out, signs in again or closes). */
void skt_online_watchlist_stop(skt_socket_t *s);

/* A broadcast on SKT_WATCHLIST_CHANNEL reached this node (host deliver_local): tells the
 * watchers in ns of the user it names, except the socket except_socket_id. */
void skt_online_deliver(skt_server_t *srv, skt_ns_t *ns, const char *msg, size_t len,
                        const char *except_socket_id);

#endif
