/* watchlist.c - who watches whom (watchlist.h).
 *
 * Two maps. watched: "<app id>\0<user id>" -> list_t of watcher pointers.
 * watchers: "<app id>\0<pointer bytes>" -> own_t, the ids that watcher
 * watches (so removing a watcher touches only its own lists).
 */
#include "features/watchlist.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/map.h"

struct skt_watch_s {
    skt_map_t *watched;
    skt_map_t *watchers;
};

typedef struct list_s {
    void **items;
    size_t n, cap;
    size_t key_len;
    char key[];
} list_t;

typedef struct own_s {
    char **ids;
    size_t n;
    size_t key_len;
    char key[];
} own_t;

/* "<app id>\0<tail>" into a new buffer; *len gets its length. */
static char *
make_key(const char *app_id, const void *tail, size_t tail_len, size_t *len)
{
    size_t al = strlen(app_id);
    char *k = malloc(al + 1 + tail_len);
    if (!k)
        return NULL;
    memcpy(k, app_id, al + 1);
    memcpy(k + al + 1, tail, tail_len);
    *len = al + 1 + tail_len;
    return k;
}

static list_t *
find_list(const skt_watch_t *w, const char *app_id, const char *user_id)
{
    size_t kl;
    char *k = make_key(app_id, user_id, strlen(user_id), &kl);
    list_t *l = k ? skt_map_get(w->watched, k, kl) : NULL;
    free(k);
    return l;
}

static own_t *
find_own(const skt_watch_t *w, const char *app_id, void *watcher)
{
    size_t kl;
    char *k = make_key(app_id, &watcher, sizeof(watcher), &kl);
    own_t *o = k ? skt_map_get(w->watchers, k, kl) : NULL;
    free(k);
    return o;
}

skt_watch_t *
skt_watch_new(void)
{
    skt_watch_t *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->watched = skt_map_new();
    w->watchers = skt_map_new();
    if (!w->watched || !w->watchers) {
        skt_watch_free(w);
        return NULL;
    }
    return w;
}

static void
own_free(own_t *o)
{
    for (size_t i = 0; i < o->n; i++)
        free(o->ids[i]);
    free(o->ids);
    free(o);
}

void
skt_watch_free(skt_watch_t *w)
{
    if (!w)
        return;
    size_t pos = 0;
    void *v;
    while (w->watched && skt_map_next(w->watched, &pos, NULL, NULL, &v)) {
        free(((list_t *)v)->items);
        free(v);
    }
    pos = 0;
    while (w->watchers && skt_map_next(w->watchers, &pos, NULL, NULL, &v))
        own_free(v);
    skt_map_free(w->watched);
    skt_map_free(w->watchers);
    free(w);
}

/* Removes watcher from the list of (app_id, user_id), dropping an empty list. */
static void
list_remove(skt_watch_t *w, const char *app_id, const char *user_id, void *watcher)
{
    list_t *l = find_list(w, app_id, user_id);
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++) {
        if (l->items[i] == watcher) {
            l->items[i] = l->items[--l->n];
            break;
        }
    }
    if (l->n == 0) {
        skt_map_del(w->watched, l->key, l->key_len);
        free(l->items);
        free(l);
    }
}

/* Appends watcher to the list of (app_id, user_id). 0, or -1 when out of memory. */
static int
list_add(skt_watch_t *w, const char *app_id, const char *user_id, void *watcher)
{
    list_t *l = find_list(w, app_id, user_id);
    if (!l) {
        size_t kl;
        char *k = make_key(app_id, user_id, strlen(user_id), &kl);
        l = k ? calloc(1, sizeof(*l) + kl) : NULL;
        if (!l) {
            free(k);
            return -1;
        }
        memcpy(l->key, k, kl);
        l->key_len = kl;
        free(k);
        if (skt_map_put(w->watched, l->key, l->key_len, l) != 0) {
            free(l);
            return -1;
        }
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;
        void **items = realloc(l->items, cap * sizeof(*items));
        if (!items) {
            if (l->n == 0) {
                skt_map_del(w->watched, l->key, l->key_len);
                free(l->items);
                free(l);
            }
            return -1;
        }
        l->items = items;
        l->cap = cap;
    }
    l->items[l->n++] = watcher;
    return 0;
}

int
skt_watch_add(skt_watch_t *w, const char *app_id, void *watcher, const char *const *ids, size_t n)
{
    size_t kl;
    char *k = make_key(app_id, &watcher, sizeof(watcher), &kl);
    own_t *o = k ? calloc(1, sizeof(*o) + kl) : NULL;
    if (!o ||
        !(o->ids = calloc(n < SKT_WATCH_MAX_IDS ? n + 1 : SKT_WATCH_MAX_IDS, sizeof(char *)))) {
        free(o);
        free(k);
        return -1;
    }
    memcpy(o->key, k, kl);
    o->key_len = kl;
    free(k);
    for (size_t i = 0; i < n && o->n < SKT_WATCH_MAX_IDS; i++) {
        int dup = 0;
        for (size_t j = 0; j < o->n && !dup; j++)
            dup = strcmp(o->ids[j], ids[i]) == 0;
        if (dup)
            continue;
        if (!(o->ids[o->n] = strdup(ids[i])) || list_add(w, app_id, ids[i], watcher) != 0) {
            free(o->ids[o->n]);
            goto fail;
        }
        o->n++;
    }
    if (skt_map_put(w->watchers, o->key, o->key_len, o) != 0)
        goto fail;
    return (int)o->n;
fail:
    for (size_t i = 0; i < o->n; i++)
        list_remove(w, app_id, o->ids[i], watcher);
    own_free(o);
    return -1;
}

void
skt_watch_remove(skt_watch_t *w, const char *app_id, void *watcher)
{
    own_t *o = find_own(w, app_id, watcher);
    if (!o)
        return;
    for (size_t i = 0; i < o->n; i++)
        list_remove(w, app_id, o->ids[i], watcher);
    skt_map_del(w->watchers, o->key, o->key_len);
    own_free(o);
}

const char *const *
skt_watch_ids(const skt_watch_t *w, const char *app_id, void *watcher, size_t *n)
{
    own_t *o = find_own(w, app_id, watcher);
    *n = o ? o->n : 0;
    return o ? (const char *const *)o->ids : NULL;
}

void
skt_watch_each(const skt_watch_t *w, const char *app_id, const char *user_id, skt_watch_each_fn fn,
               void *arg)
{
    list_t *l = find_list(w, app_id, user_id);
    for (size_t i = 0; l && i < l->n; i++)
        fn(arg, l->items[i]);
}

size_t
skt_watch_count(const skt_watch_t *w, const char *app_id, const char *user_id)
{
    list_t *l = find_list(w, app_id, user_id);
    return l ? l->n : 0;
}
