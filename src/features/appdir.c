/* appdir.c - the apps as the server finds them: configured, or read from an app manager's
 * store and cached (features/appdir.h has the design). */
#include "features/appdir.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "features/clock.h"
#include "util/log.h"
#include "util/map.h"

#define APPDIR_SWEEP_MS 10000 /* how often unused entries are looked for */
#define APPDIR_KEEP_MS 60000  /* an entry nobody holds stays this long after its last use */
#define APPDIR_LOG_EVERY_MS 1000

/* An app read from the store. */
typedef struct entry_s {
    skt_apps_t *one; /* a list of one: owns the app */
    skt_app_t *app;  /* its only app; the maps borrow app->id and app->key */
    uint64_t read_ms, used_ms;
    int stale; /* a reload (SIGHUP): read again at the next find, whatever the TTL */
} entry_t;

/* A client waiting for a lookup. */
typedef struct waiter_s {
    skt_appdir_found_fn cb;
    void *arg;
    struct waiter_s *next;
} waiter_t;

/* A lookup in flight at the store: the store's callback argument until it answers. */
typedef struct pending_s {
    skt_appdir_t *dir;
    struct pending_s *prev, *next; /* every lookup the store holds (skt_appdir_free) */
    struct event *timer;
    waiter_t *waiters; /* answered on the store's answer or at the timeout */
    int abandoned;     /* timed out: out of the map, waiting only for the store */
    int by;            /* enum soketi_app_by */
    size_t len;        /* of the map key: the by byte, then the value */
    char key[];        /* 'i' or 'k', then the id or key */
} pending_t;

struct skt_appdir_s {
    struct event_base *base;
    const skt_config_t *cfg;
    soketi_app_manager_t *am; /* NULL: the configured apps */
    skt_appdir_hooks_t hooks;
    skt_map_t *by_id, *by_key; /* -> entry_t */
    skt_map_t *pending;        /* pending_t.key -> pending_t, until answered or abandoned */
    pending_t *held;           /* every lookup the store has not answered, abandoned too */
    struct event *sweep;
    skt_appdir_stats_t stats;
    uint64_t last_log_ms;
    unsigned long long unlogged;
};

/* ------------------------------------------------------------ entries */

static int
entry_fresh(const skt_appdir_t *d, const entry_t *e, uint64_t now)
{
    long ttl = d->cfg->app_manager.cache.ttl;
    if (!d->cfg->app_manager.cache.enabled || e->stale)
        return 0;
    return ttl < 0 || now - e->read_ms < (uint64_t)ttl * 1000u;
}

static void
entry_free(entry_t *e)
{
    skt_apps_free(e->one);
    free(e);
}

/* Takes e out of both maps (its key only when the key map still points at it). */
static void
entry_unlink(skt_appdir_t *d, entry_t *e)
{
    skt_map_del(d->by_id, e->app->id, strlen(e->app->id));
    if (skt_map_get(d->by_key, e->app->key, strlen(e->app->key)) == e)
        skt_map_del(d->by_key, e->app->key, strlen(e->app->key));
    d->stats.cached--;
}

/* Replaces old (when not NULL) by e (when not NULL; else removes it); the server is told
 * before old is freed. Returns e, or NULL when it could not be installed (then freed). */
static entry_t *
entry_replace(skt_appdir_t *d, entry_t *old, entry_t *e)
{
    if (old)
        entry_unlink(d, old);
    if (e) {
        entry_t *k = skt_map_get(d->by_key, e->app->key, strlen(e->app->key));
        if (k && k != old) /* the key moved to another app: it is no longer that one's */
            skt_map_del(d->by_key, e->app->key, strlen(e->app->key));
        if (skt_map_put(d->by_id, e->app->id, strlen(e->app->id), e) != 0 ||
            skt_map_put(d->by_key, e->app->key, strlen(e->app->key), e) != 0) {
            skt_map_del(d->by_id, e->app->id, strlen(e->app->id));
            entry_free(e);
            e = NULL;
        } else {
            d->stats.cached++;
        }
    }
    if (old && d->hooks.changed)
        d->hooks.changed(d->hooks.arg, old->app->id, e ? e->app : NULL);
    if (old)
        entry_free(old);
    return e;
}

/* A line about the store, at most one a second (with how many were not written). */
static void
appdir_log(skt_appdir_t *d, const char *what, const char *detail)
{
    uint64_t now = skt_clock_ms();
    if (d->last_log_ms && now - d->last_log_ms < APPDIR_LOG_EVERY_MS) {
        d->unlogged++;
        return;
    }
    skt_log(SKT_LOG_WARN, "appManager.driver %s: %s%s%s (and %llu more since the last line)",
            d->cfg->app_manager.driver, what, detail ? ": " : "", detail ? detail : "",
            d->unlogged);
    d->last_log_ms = now;
    d->unlogged = 0;
}

/* Installs the row the store answered; returns its entry, or NULL when the row is not an app
 * (said in the log). */
static entry_t *
entry_from_row(skt_appdir_t *d, const char *row, size_t len)
{
    char err[300];
    skt_app_defaults_t defs;
    json_error_t jerr;
    entry_t *e = calloc(1, sizeof(*e));
    json_t *j = json_loadb(row, len, 0, &jerr);
    skt_config_app_defaults(d->cfg, &defs);
    if (!e || !j || skt_apps_from_row(j, &defs, &e->one, err, sizeof(err)) != 0) {
        if (!j)
            snprintf(err, sizeof(err), "a row that is not a JSON object (%s)", jerr.text);
        appdir_log(d, "a row is not an app", e ? err : "out of memory");
        json_decref(j);
        free(e);
        return NULL;
    }
    json_decref(j);
    e->app = skt_apps_at(e->one, 0);
    e->read_ms = e->used_ms = skt_clock_ms();
    return entry_replace(d, skt_map_get(d->by_id, e->app->id, strlen(e->app->id)), e);
}

static entry_t *
entry_find(skt_appdir_t *d, int by, const char *v, size_t len)
{
    return skt_map_get(by == SOKETI_APP_BY_ID ? d->by_id : d->by_key, v, len);
}

/* Every ten seconds: entries nobody holds, neither fresh nor used for a minute, go. */
static void
appdir_sweep(evutil_socket_t fd, short what, void *arg)
{
    skt_appdir_t *d = arg;
    uint64_t now = skt_clock_ms();
    size_t pos = 0, n = 0;
    void *v;
    entry_t **gone = malloc(skt_map_count(d->by_id) * sizeof(*gone) + 1);
    (void)fd;
    (void)what;
    while (gone && skt_map_next(d->by_id, &pos, NULL, NULL, &v)) {
        entry_t *e = v;
        if (!entry_fresh(d, e, now) && now - e->used_ms >= APPDIR_KEEP_MS &&
            !(d->hooks.in_use && d->hooks.in_use(d->hooks.arg, e->app->id)))
            gone[n++] = e;
    }
    for (size_t i = 0; i < n; i++) {
        entry_unlink(d, gone[i]);
        entry_free(gone[i]);
    }
    free(gone);
}

/* ------------------------------------------------------------ lookups */

static void
pending_answer(pending_t *p, skt_app_t *app)
{
    waiter_t *w = p->waiters;
    p->waiters = NULL;
    while (w) {
        waiter_t *next = w->next;
        w->cb(w->arg, app);
        free(w);
        w = next;
    }
}

/* The store answered (or is unloaded): p is no longer held. */
static void
pending_free(pending_t *p)
{
    if (p->prev)
        p->prev->next = p->next;
    else
        p->dir->held = p->next;
    if (p->next)
        p->next->prev = p->prev;
    event_free(p->timer);
    free(p);
}

/* Out of the map: later finds start their own lookup. */
static void
pending_detach(pending_t *p)
{
    skt_appdir_t *d = p->dir;
    if (!p->abandoned)
        skt_map_del(d->pending, p->key, p->len);
    p->abandoned = 1;
    evtimer_del(p->timer);
}

/* The app as last read, for a lookup the store did not answer. */
static skt_app_t *
pending_stale(pending_t *p)
{
    entry_t *e = entry_find(p->dir, p->by, p->key + 1, p->len - 1);
    return e ? e->app : NULL;
}

static void
pending_timeout(evutil_socket_t fd, short what, void *arg)
{
    pending_t *p = arg;
    (void)fd;
    (void)what;
    p->dir->stats.failures++;
    appdir_log(p->dir, "a lookup took longer than appManager.timeout", NULL);
    pending_detach(p);
    pending_answer(p, pending_stale(p));
}

/* The store's answer (soketi_app_row_cb). */
static void
pending_row(void *arg, int status, const char *row, size_t len)
{
    pending_t *p = arg;
    skt_appdir_t *d = p->dir;
    skt_app_t *app = NULL;
    int answered = p->abandoned;
    d->stats.pending--;
    if (!answered)
        pending_detach(p);
    if (status == SOKETI_ERROR) {
        if (!answered)
            d->stats.failures++;
        app = pending_stale(p);
    } else if (row) {
        entry_t *e = entry_from_row(d, row, len);
        app = e ? e->app : NULL;
    } else { /* no such app: whatever was read before is gone */
        entry_t *old = entry_find(d, p->by, p->key + 1, p->len - 1);
        if (old)
            entry_replace(d, old, NULL);
    }
    if (!answered)
        pending_answer(p, app);
    pending_free(p);
}

/* Writes the pending map's key of a lookup into out (len + 1 bytes): 'i' or 'k', then v. */
static void
pending_key(char *out, int by, const char *v, size_t len)
{
    out[0] = by == SOKETI_APP_BY_ID ? 'i' : 'k';
    memcpy(out + 1, v, len);
}

/* Starts a lookup at the store with cb as its first waiter. */
static void
pending_start(skt_appdir_t *d, int by, const char *v, size_t len, skt_appdir_found_fn cb, void *arg)
{
    pending_t *p = calloc(1, sizeof(*p) + len + 1);
    waiter_t *w = malloc(sizeof(*w));
    if (p) {
        p->timer = evtimer_new(d->base, pending_timeout, p);
        pending_key(p->key, by, v, len); /* the map borrows it */
    }
    if (!p || !w || !p->timer || skt_map_put(d->pending, p->key, len + 1, p) != 0) {
        if (p && p->timer)
            event_free(p->timer);
        free(p);
        free(w);
        cb(arg, NULL);
        return;
    }
    p->dir = d;
    p->next = d->held;
    if (d->held)
        d->held->prev = p;
    d->held = p;
    p->by = by;
    p->len = len + 1;
    *w = (waiter_t){cb, arg, NULL};
    p->waiters = w;
    long ms = d->cfg->app_manager.timeout;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(p->timer, &tv);
    d->stats.pending++;
    d->stats.lookups++;
    /* may answer before it returns: p is not touched after this */
    d->am->ops.find(d->am->self, by, v, len, pending_row, p);
}

/* ------------------------------------------------------------ the API */

skt_appdir_t *
skt_appdir_new(struct event_base *base, const skt_config_t *cfg, soketi_app_manager_t *am,
               const skt_appdir_hooks_t *hooks)
{
    skt_appdir_t *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->base = base;
    d->cfg = cfg;
    d->am = am;
    if (hooks)
        d->hooks = *hooks;
    if (!am)
        return d;
    struct timeval every = {APPDIR_SWEEP_MS / 1000, 0};
    d->by_id = skt_map_new();
    d->by_key = skt_map_new();
    d->pending = skt_map_new();
    d->sweep = event_new(base, -1, EV_PERSIST, appdir_sweep, d);
    if (!d->by_id || !d->by_key || !d->pending || !d->sweep || event_add(d->sweep, &every) != 0) {
        skt_appdir_free(d);
        return NULL;
    }
    return d;
}

void
skt_appdir_reload(skt_appdir_t *d, const skt_config_t *cfg)
{
    size_t pos = 0;
    void *v;
    d->cfg = cfg;
    if (d->am) /* read again at their next find */
        while (skt_map_next(d->by_id, &pos, NULL, NULL, &v))
            ((entry_t *)v)->stale = 1;
}

skt_app_t *
skt_appdir_get(skt_appdir_t *d, const char *id, size_t len)
{
    if (!d->am)
        return skt_apps_by_id(d->cfg->apps, id, len);
    entry_t *e = skt_map_get(d->by_id, id, len);
    if (!e)
        return NULL;
    e->used_ms = skt_clock_ms();
    return e->app;
}

int
skt_appdir_peek(skt_appdir_t *d, int by, const char *value, size_t len, skt_app_t **app)
{
    if (!d->am) {
        *app = by == SOKETI_APP_BY_ID ? skt_apps_by_id(d->cfg->apps, value, len)
                                      : skt_apps_by_key(d->cfg->apps, value, len);
        return 1;
    }
    uint64_t now = skt_clock_ms();
    entry_t *e = entry_find(d, by, value, len);
    if (!e || !entry_fresh(d, e, now))
        return 0;
    e->used_ms = now;
    *app = e->app;
    return 1;
}

void
skt_appdir_find(skt_appdir_t *d, int by, const char *value, size_t len, skt_appdir_found_fn cb,
                void *arg)
{
    skt_app_t *app;
    if (skt_appdir_peek(d, by, value, len, &app)) {
        cb(arg, app);
        return;
    }
    entry_t *e = entry_find(d, by, value, len);
    char stack[256];
    char *key = len + 1 <= sizeof(stack) ? stack : malloc(len + 1);
    if (!key) {
        cb(arg, NULL);
        return;
    }
    pending_key(key, by, value, len);
    pending_t *p = skt_map_get(d->pending, key, len + 1);
    waiter_t *w = p ? malloc(sizeof(*w)) : NULL;
    if (key != stack)
        free(key);
    if (p && w) { /* the same lookup is in flight: wait for it */
        *w = (waiter_t){cb, arg, p->waiters};
        p->waiters = w;
    } else if (p) {
        cb(arg, NULL);
    } else if (d->stats.pending >= (size_t)d->cfg->app_manager.max_pending_lookups) {
        d->stats.refused++;
        appdir_log(d, "appManager.maxPendingLookups lookups are waiting; answering as unknown",
                   NULL);
        cb(arg, e ? e->app : NULL);
    } else {
        pending_start(d, by, value, len, cb, arg);
    }
}

void
skt_appdir_stats(const skt_appdir_t *d, skt_appdir_stats_t *out)
{
    *out = d->stats;
}

void
skt_appdir_free(skt_appdir_t *d)
{
    if (!d)
        return;
    size_t pos = 0;
    void *v;
    /* The store's cleanup calls none of these back (include/soketi/app_manager.h): their
     * waiters are answered now, then they are freed. */
    while (d->held) {
        pending_t *p = d->held;
        pending_detach(p);
        pending_answer(p, NULL);
        pending_free(p);
    }
    skt_map_free(d->pending);
    if (d->by_id) {
        pos = 0;
        while (skt_map_next(d->by_id, &pos, NULL, NULL, &v))
            entry_free(v);
        skt_map_free(d->by_id);
    }
    skt_map_free(d->by_key);
    if (d->sweep)
        event_free(d->sweep);
    free(d);
}
