/* cached.h - cache channels: the last event of a channel, for whoever subscribes next.
 *
 * Pusher's cache channels (cache-, private-cache-, private-encrypted-cache-,
 * presence-cache-), as soketi 1.6 keeps them (src/ws-handler.ts sendMissedCacheIfExists,
 * src/http-handler.ts broadcastMessage): an event triggered through the HTTP API is kept
 * under soketi's key for channelLimits.cacheTtl seconds, in the cache driver
 * (features/cache.h: memory, or Redis through the adapter), and a new subscriber gets it
 * right after subscription_succeeded, or pusher:cache_miss (and the cache_miss webhook).
 */
#ifndef SKT_PUSHER_CACHED_H
#define SKT_PUSHER_CACHED_H

#include <jansson.h>
#include <stddef.h>

#include "pusher/server.h"

/* After subscription_succeeded: on a cache channel, its last event or pusher:cache_miss,
 * now or once the cache driver answered (s is held meanwhile). Other channels: nothing. */
void skt_cached_send(skt_socket_t *s, const char *channel, size_t clen);

/* An event was triggered on channel (a cache channel or not) of app: keeps it when the
 * channel is a cache channel, as {"event": name, "data": data}. */
void skt_cached_store(skt_server_t *srv, const skt_app_t *app, const char *channel, size_t clen,
                      const char *name, size_t nlen, const json_t *data);

#endif
