/* watchlist.h - who watches whom: the index behind Pusher's watchlist events.
 *
 * A signed-in user's user_data may carry "watchlist": [user ids]; that
 * connection is then told when those users come online (their first
 * signed-in connection) or go offline (their last one closes), as
 * pusher_internal:watchlist_events. This module only keeps the index, per
 * app: watched user id -> the watchers (opaque pointers: the protocol layer
 * passes its sockets), and each watcher's list, so it can be dropped in one
 * call. It does no I/O and keeps no timers: the protocol layer asks it who to
 * tell at sign-in and at the close of a user's last connection.
 */
#ifndef SKT_FEATURES_WATCHLIST_H
#define SKT_FEATURES_WATCHLIST_H

#include <stddef.h>

/* Most user ids one watchlist holds (Pusher's limit); the rest are ignored. */
#define SKT_WATCH_MAX_IDS 100

typedef struct skt_watch_s skt_watch_t;

typedef void (*skt_watch_each_fn)(void *arg, void *watcher);

skt_watch_t *skt_watch_new(void);
/* Frees the index (not the watchers). NULL is a no-op. */
void skt_watch_free(skt_watch_t *w);

/* Registers watcher (not yet registered) as watching ids[0..n) in app_id
 * (duplicates and ids past SKT_WATCH_MAX_IDS are skipped). Returns the
 * number of ids registered, or -1 when out of memory (then nothing is). */
int skt_watch_add(skt_watch_t *w, const char *app_id, void *watcher, const char *const *ids,
                  size_t n);

/* Forgets everything watcher watches. Unknown watchers are a no-op. */
void skt_watch_remove(skt_watch_t *w, const char *app_id, void *watcher);

/* The ids watcher watches, in the order given (NULL, *n = 0 when none).
 * Valid until the watcher is removed. */
const char *const *skt_watch_ids(const skt_watch_t *w, const char *app_id, void *watcher,
                                 size_t *n);

/* Calls fn(arg, watcher) for every watcher of user_id in app_id. fn must
 * not add or remove watchers of user_id. */
void skt_watch_each(const skt_watch_t *w, const char *app_id, const char *user_id,
                    skt_watch_each_fn fn, void *arg);

/* Watchers of user_id in app_id. */
size_t skt_watch_count(const skt_watch_t *w, const char *app_id, const char *user_id);

#endif
