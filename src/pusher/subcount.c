/* subcount.c - pusher_internal:subscription_count, throttled as Pusher does (subcount.h). */
#include "pusher/subcount.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "pusher/channel_kind.h"
#include "pusher/message.h"
#include "pusher/send.h"

/* A large channel's lock: no broadcast until its timer fires. key is "app\0channel". */
typedef struct subcount_lock_s {
    skt_server_t *srv;
    struct event *timer;
    int dirty; /* a change came while locked */
    size_t klen;
    char key[];
} subcount_lock_t;

/* A count query in flight: copies of what its answer needs. */
typedef struct subcount_query_s {
    skt_server_t *srv;
    char *channel;
    char app_id[];
} subcount_query_t;

static void subcount_query(skt_server_t *srv, const char *app_id, const char *channel);

/* The lock key of (app_id, channel[0..clen)), *klen bytes; the caller frees. NULL when
 * out of memory. */
static char *
subcount_key(const char *app_id, const char *channel, size_t clen, size_t *klen)
{
    size_t al = strlen(app_id);
    char *key = malloc(al + clen + 2);
    if (!key)
        return NULL;
    memcpy(key, app_id, al + 1);
    memcpy(key + al + 1, channel, clen);
    key[al + 1 + clen] = '\0';
    *klen = al + clen + 2;
    return key;
}

static void
subcount_lock_free(subcount_lock_t *l)
{
    skt_map_del(l->srv->subcounts, l->key, l->klen);
    event_free(l->timer);
    free(l);
}

/* The lock ends: a channel changed meanwhile is counted and told again (which locks it
 * again while it is large). */
static void
subcount_lock_end(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    subcount_lock_t *l = arg;
    skt_server_t *srv = l->srv;
    int dirty = l->dirty;
    char *app_id = dirty ? strdup(l->key) : NULL;
    char *channel = dirty ? strdup(l->key + strlen(l->key) + 1) : NULL;
    subcount_lock_free(l);
    if (app_id && channel)
        subcount_query(srv, app_id, channel);
    free(app_id);
    free(channel);
}

/* Locks a large channel for SKT_SUBCOUNT_INTERVAL_MS (again, when it is locked). */
static void
subcount_lock(skt_server_t *srv, const char *app_id, const char *channel)
{
    size_t klen;
    char *key = subcount_key(app_id, channel, strlen(channel), &klen);
    if (!key || (!srv->subcounts && !(srv->subcounts = skt_map_new()))) {
        free(key);
        return; /* unlocked: every change is told */
    }
    subcount_lock_t *l = skt_map_get(srv->subcounts, key, klen);
    if (!l) {
        l = calloc(1, sizeof(*l) + klen);
        if (!l) {
            free(key);
            return;
        }
        l->srv = srv;
        l->klen = klen;
        memcpy(l->key, key, klen);
        if (!(l->timer = evtimer_new(srv->base, subcount_lock_end, l)) ||
            skt_map_put(srv->subcounts, l->key, klen, l) != 0) {
            if (l->timer)
                event_free(l->timer);
            free(l);
            free(key);
            return;
        }
    }
    free(key);
    l->dirty = 0;
    struct timeval tv = {SKT_SUBCOUNT_INTERVAL_MS / 1000, (SKT_SUBCOUNT_INTERVAL_MS % 1000) * 1000};
    evtimer_add(l->timer, &tv);
}

/* The cluster's count: told to the channel's subscribers on every node. */
static void
subcount_counted(void *arg, int status, long count)
{
    subcount_query_t *q = arg;
    skt_server_t *srv = q->srv;
    const skt_app_t *app =
        srv->unloading ? NULL : skt_server_app(srv, q->app_id, strlen(q->app_id));
    if (app && app->enable_subscription_count && status != SOKETI_ERROR && count > 0) {
        SKT_JW_ON_STACK(w, 256);
        skt_msg_subscription_count(&w, q->channel, strlen(q->channel), count);
        size_t len = 0;
        const char *text = skt_jw_cstr(&w, &len);
        if (text)
            SKT_ADAPTER(srv).broadcast(SKT_ADAPTER_SELF(srv), q->app_id, q->channel, text, len,
                                       NULL);
        skt_jw_free(&w);
        if (count > SKT_SUBCOUNT_LARGE)
            subcount_lock(srv, q->app_id, q->channel);
    }
    free(q->channel);
    free(q);
}

/* Asks the adapter for the channel's count across the cluster. */
static void
subcount_query(skt_server_t *srv, const char *app_id, const char *channel)
{
    size_t al = strlen(app_id);
    subcount_query_t *q = malloc(sizeof(*q) + al + 1);
    if (!q)
        return;
    q->srv = srv;
    memcpy(q->app_id, app_id, al + 1);
    if (!(q->channel = strdup(channel))) {
        free(q);
        return;
    }
    SKT_ADAPTER(srv).channel_sockets_count(SKT_ADAPTER_SELF(srv), app_id, channel, subcount_counted,
                                           q);
}

void
skt_subcount_changed(skt_server_t *srv, const skt_app_t *app, const char *channel, size_t clen)
{
    if (!app || !app->enable_subscription_count || srv->closing ||
        skt_channel_kind(channel, clen) == SKT_CHANNEL_PRESENCE)
        return;
    size_t klen;
    char *key = subcount_key(app->id, channel, clen, &klen);
    if (!key)
        return;
    subcount_lock_t *l = srv->subcounts ? skt_map_get(srv->subcounts, key, klen) : NULL;
    if (l)
        l->dirty = 1; /* told when the lock ends */
    else
        subcount_query(srv, app->id, key + strlen(app->id) + 1);
    free(key);
}

void
skt_subcount_free_all(skt_server_t *srv)
{
    if (!srv->subcounts)
        return;
    size_t pos = 0;
    void *v;
    while (skt_map_next(srv->subcounts, &pos, NULL, NULL, &v)) {
        subcount_lock_t *l = v;
        event_free(l->timer);
        free(l);
    }
    skt_map_free(srv->subcounts);
    srv->subcounts = NULL;
}
