/* subcount.h - Pusher's subscription counting: pusher_internal:subscription_count to the
 * subscribers of a non-presence channel whenever its number of subscriptions changes, for
 * apps that enable it (enableSubscriptionCount).
 *
 * DESIGN
 * A change on this node (a socket subscribed or left) asks the adapter for the channel's
 * cluster-wide socket count and broadcasts {"subscription_count": N} to the channel on
 * every node, so every node's change reaches every subscriber. As Pusher does, a channel
 * of at most SKT_SUBCOUNT_LARGE subscriptions is told of every change at once, and a larger
 * one at most once per SKT_SUBCOUNT_INTERVAL_MS: after a broadcast of a large count the
 * channel is locked for that long (a timer in srv->subcounts, keyed by app and channel);
 * changes meanwhile only mark it, and when the lock ends a marked channel is counted and
 * told again (Pusher drops them, so its last count can stay stale until the next change).
 * Each node throttles its own changes. A count query outlives nothing: it carries copies
 * of the app id and channel and looks the app up again when answered (a SIGHUP may have
 * disabled it); during shutdown its answer is dropped.
 */
#ifndef SKT_PUSHER_SUBCOUNT_H
#define SKT_PUSHER_SUBCOUNT_H

#include <stddef.h>

#include "config/apps.h"
#include "pusher/server.h"

/* Pusher's line between a small channel (every change told) and a large one (throttled). */
#define SKT_SUBCOUNT_LARGE 100
/* How often at most a large channel is told, in milliseconds (Pusher's 5 s lock). */
#define SKT_SUBCOUNT_INTERVAL_MS 5000

/* A socket of this node joined or left channel (clen bytes) of app: counts and tells the
 * channel when app enables subscription counting and the channel is not a presence one. */
void skt_subcount_changed(skt_server_t *srv, const skt_app_t *app, const char *channel,
                          size_t clen);

/* Frees every lock (their timers) of srv; at shutdown. */
void skt_subcount_free_all(skt_server_t *srv);

#endif
