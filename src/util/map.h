/* map.h - a string-keyed hash map (open addressing, no per-entry allocation).
 *
 * DESIGN
 * Keys are borrowed, not copied: the caller keeps the key bytes alive and
 * unchanged for as long as the entry is in the map (the usual pattern is that
 * the value struct holds its own name and the map points at it). Values are
 * opaque pointers the map never frees. Keys carry a length, so they need not
 * be NUL-terminated and may contain any byte. Hashing is seeded per process.
 * Lookups, inserts and deletes are O(1) on average; deletion shifts entries
 * back, so there are no tombstones and the table never degrades.
 */
#ifndef SKT_UTIL_MAP_H
#define SKT_UTIL_MAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct skt_map_s skt_map_t;

/* Returns a new empty map, or NULL when out of memory. */
skt_map_t *skt_map_new(void);

/* Frees the table only: keys and values stay the caller's. NULL is a no-op. */
void skt_map_free(skt_map_t *m);

/* Returns the value stored under key, or NULL when there is none. */
void *skt_map_get(const skt_map_t *m, const char *key, size_t len);

/* Stores value under key, replacing any value there (the new key pointer
 * replaces the old one too). value must not be NULL. Returns 0, or -1 when out
 * of memory (the map is then unchanged). */
int skt_map_put(skt_map_t *m, const char *key, size_t len, void *value);

/* Removes key; returns the value it had, or NULL when it was absent. */
void *skt_map_del(skt_map_t *m, const char *key, size_t len);

size_t skt_map_count(const skt_map_t *m);

/* Iteration: start with *pos = 0; each call yields the next entry and returns
 * 1, or returns 0 at the end. The map must not change during an iteration. */
int skt_map_next(const skt_map_t *m, size_t *pos, const char **key, size_t *len, void **value);

/* The per-process seeded hash the map uses, for callers that want it. */
uint64_t skt_map_hash(const char *key, size_t len);

#endif
