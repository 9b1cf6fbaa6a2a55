/* appdir.h - the apps as the server finds them: the configured list (appManager.driver
 * array), or the rows of an app manager plugin's store (mysql, postgres), cached.
 *
 * DESIGN
 * Two questions, as soketi's AppManager answers them: skt_appdir_find() looks an app up by
 * id (the REST routes) or by key (a WebSocket connecting) and may wait for the store;
 * skt_appdir_get() answers at once with the app as known now, for everything that runs
 * after a request was admitted (webhooks, metrics, completions that look their app up
 * again by id). With the array driver both read the configuration and find answers
 * before it returns.
 *
 * With a store, an app read from it is an entry, indexed by id and by key:
 * - fresh while appManager.cache.enabled and younger than appManager.cache.ttl seconds
 *   (-1: for ever), as soketi's cache: find answers a fresh entry at once; otherwise it
 *   reads the row again (with the cache disabled, at every find), so a changed row is seen
 *   after the TTL;
 * - kept (for get) while the server holds the app (hooks->in_use: it has connections),
 *   and otherwise until it is neither fresh nor used for a minute; a sweep every ten
 *   seconds frees the rest, so apps nobody uses cost nothing;
 * - replaced when its row is read again: hooks->changed() tells the server, which moves
 *   its connections to the new settings (or, when the row is gone, closes them as a
 *   reload that removes an app does), before the old settings are freed.
 * Lookups of the same id or key while one is in flight wait on it (one query); at most
 * appManager.maxPendingLookups are in flight, the rest are answered at once as unknown.
 * A lookup the store does not answer within appManager.timeout ms is answered then: with
 * the app as last read when there is one (a database that is down or slow costs the apps
 * already known nothing), else as unknown; the store's late answer still updates the entry.
 * Nothing is cached when the store fails (an error is not "no such app").
 *
 * OWNERSHIP: the directory owns its entries and every skt_app_t it hands out from a store;
 * such a pointer is valid until the next return to the event loop (a sweep or a re-read
 * may free it), unless the server holds the app, in which case hooks->changed() says when
 * it is replaced. It borrows cfg (replaced by skt_appdir_reload) and the app manager (the
 * server's plugin, which outlives it).
 */
#ifndef SKT_FEATURES_APPDIR_H
#define SKT_FEATURES_APPDIR_H

#include <event2/event.h>
#include <soketi/app_manager.h>
#include <stddef.h>

#include "config/config.h"

typedef struct skt_appdir_s skt_appdir_t;

/* find's answer: the app, or NULL when there is none (or the store could not say in time
 * and the app was never read). */
typedef void (*skt_appdir_found_fn)(void *arg, skt_app_t *app);

typedef struct skt_appdir_hooks_s {
    void *arg;
    /* The entry of app id was read again: app holds its new settings, or is NULL when the
     * store has it no more. Called before the old settings are freed. */
    void (*changed)(void *arg, const char *id, skt_app_t *app);
    /* 1 while the server holds the app id (its connections): the entry is then kept. */
    int (*in_use)(void *arg, const char *id);
} skt_appdir_hooks_t;

/* What the directory counts, for /metrics. */
typedef struct skt_appdir_stats_s {
    unsigned long long lookups;  /* rows asked of the store */
    unsigned long long failures; /* lookups the store failed or did not answer in time */
    unsigned long long refused;  /* finds answered at once: maxPendingLookups were waiting */
    size_t pending;              /* lookups in flight */
    size_t cached;               /* entries */
} skt_appdir_stats_t;

/* A directory over cfg's apps (am NULL) or over the app manager am. hooks is copied.
 * NULL when out of memory. */
skt_appdir_t *skt_appdir_new(struct event_base *base, const skt_config_t *cfg,
                             soketi_app_manager_t *am, const skt_appdir_hooks_t *hooks);

/* A reload (SIGHUP) gave new options: cfg from now on. Entries of a store are read again at
 * their next find (the per-app defaults may have changed); until then they serve as they are. */
void skt_appdir_reload(skt_appdir_t *d, const skt_config_t *cfg);

/* The app id (len bytes) as known now, or NULL. Never waits. */
skt_app_t *skt_appdir_get(skt_appdir_t *d, const char *id, size_t len);

/* What find would answer at once, without waiting: returns 1 with *app set (NULL: no such
 * app) for the configured apps or a fresh entry, else 0 (find would ask the store). */
int skt_appdir_peek(skt_appdir_t *d, int by, const char *value, size_t len, skt_app_t **app);

/* Looks the app up by id or key (by: enum soketi_app_by; value: len bytes, copied) and
 * answers cb exactly once, before returning when it need not wait. */
void skt_appdir_find(skt_appdir_t *d, int by, const char *value, size_t len, skt_appdir_found_fn cb,
                     void *arg);

void skt_appdir_stats(const skt_appdir_t *d, skt_appdir_stats_t *out);

/* Frees the directory and its entries. Lookups in flight answer their waiters with NULL
 * first (so that they release what they hold); call it while the connections still exist
 * and before the app manager is unloaded. NULL is a no-op. */
void skt_appdir_free(skt_appdir_t *d);

#endif
