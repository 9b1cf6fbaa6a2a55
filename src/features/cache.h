/* cache.h - the cache behind cache channels: a key-value store with expiry, behind a driver.
 *
 * Cache channels (cache-, private-cache-, private-encrypted-cache-,
 * presence-cache-) keep the last event sent to them through the HTTP API for
 * channelLimits.cacheTtl seconds; a subscriber gets it right after
 * pusher_internal:subscription_succeeded, or pusher:cache_miss when there is
 * none. Keys and values are soketi's (src/http-handler.ts broadcastMessage):
 * "app:<app id>:channel:<channel>:cache_miss" -> {"event":...,"data":...}, so
 * a Redis driver can share them with soketi nodes.
 *
 * DESIGN
 * A driver is a struct of function pointers; get answers through a callback,
 * exactly once, now (the memory driver) or later from the event loop (a
 * network driver), so callers keep what they need alive until it comes.
 * The memory driver keeps its entries in a hash map and in a list ordered by
 * the time each was last set; a sweep every second drops expired entries from
 * the head of that list, so expiry costs nothing per entry that is still live,
 * and get() never returns an expired value even between sweeps.
 */
#ifndef SKT_FEATURES_CACHE_H
#define SKT_FEATURES_CACHE_H

#include <event2/event.h>
#include <stddef.h>
#include <stdint.h>

/* A get's answer: value/len is the stored value (valid during the call only),
 * or NULL/0 when the key is absent or expired. */
typedef void (*skt_cache_get_cb)(void *arg, const char *value, size_t len);

/* A cache driver. get: calls cb exactly once. set: stores a copy of value
 * for ttl_seconds (<= 0: no expiry, as soketi's memory cache); may fail
 * silently (a cache). free: releases self. */
typedef struct skt_cache_driver_s {
    const char *name;
    void (*get)(void *self, const char *key, size_t key_len, skt_cache_get_cb cb, void *arg);
    void (*set)(void *self, const char *key, size_t key_len, const char *value, size_t value_len,
                long ttl_seconds);
    void (*free)(void *self);
} skt_cache_driver_t;

typedef struct skt_cache_s skt_cache_t;

/* A clock in milliseconds (monotonic; any origin). */
typedef uint64_t (*skt_cache_clock_fn)(void);

/* The memory driver. base: the loop its sweep timer runs on (NULL: no timer;
 * expired entries then go on the next set). now: NULL for CLOCK_MONOTONIC.
 * NULL when out of memory. */
skt_cache_t *skt_cache_new_memory(struct event_base *base, skt_cache_clock_fn now);

/* A cache over any driver (self freed with driver->free). NULL when out of memory. */
skt_cache_t *skt_cache_new(const skt_cache_driver_t *driver, void *self);

void skt_cache_free(skt_cache_t *c);

void skt_cache_get(skt_cache_t *c, const char *key, size_t key_len, skt_cache_get_cb cb, void *arg);
void skt_cache_set(skt_cache_t *c, const char *key, size_t key_len, const char *value,
                   size_t value_len, long ttl_seconds);

/* Entries the memory driver holds (expired ones included until swept); 0 for
 * other drivers. For tests and metrics. */
size_t skt_cache_memory_entries(const skt_cache_t *c);

/* 1 when channel (a slice) is a cache channel by Pusher's prefixes. */
int skt_cache_is_cache_channel(const char *channel, size_t len);

/* soketi's key of a cache channel's last event into buf (NUL-terminated).
 * Returns its length, or 0 when buf is too small. */
size_t skt_cache_channel_key(char *buf, size_t len, const char *app_id, const char *channel,
                             size_t channel_len);

#endif
