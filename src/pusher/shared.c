/* shared.c - rate limits, cache and webhook occupancy shared through the adapter (shared.h). */
#include "pusher/shared.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "features/features.h"
#include "features/webhooks.h"
#include "plugin/loader.h"

/* soketi's windows: 1 s (rate-limiter-flexible's duration: 1). */
#define SHARED_RL_WINDOW_MS 1000

/* ------------------------------------------------------------ rate limits */

/* The adapter-backed limiter: backend events and read requests are counted in the
 * adapter's store; client events stay in the socket's own window, as they belong to one
 * socket on one node (soketi sends those to Redis too, one round trip per client event,
 * for the same answer). local also takes over whenever the store cannot answer. */
typedef struct rl_shared_s {
    soketi_adapter_t *ad;
    skt_rl_t *local;
} rl_shared_t;

/* One consumption waiting for the store. */
typedef struct rl_call_s {
    rl_shared_t *d;
    skt_rl_cb cb;
    void *arg;
    long points, limit;
    skt_rl_kind_t kind;
    char app_id[];
} rl_call_t;

/* The store's count for a window: the same arithmetic as a local window (refused once the
 * points used pass the limit), or the local count when the store failed. */
static void
rl_shared_done(void *arg, int status, long used, long ms_left)
{
    rl_call_t *c = arg;
    if (status == SOKETI_ERROR) {
        skt_rl_key_t key = {.app_id = c->app_id, .kind = c->kind};
        skt_rl_consume(c->d->local, &key, c->points, c->limit, c->cb, c->arg);
    } else {
        skt_rl_result_t res;
        skt_rl_result_set(&res, used, c->limit, ms_left);
        c->cb(c->arg, &res);
    }
    free(c);
}

/* soketi's key of an app-wide window: rate-limiter-flexible's "<keyPrefix>:<key>" with
 * keyPrefix "app:<id>" and key "<id>:backend:events" / "<id>:backend:request_read". */
static int
rl_shared_key(char *buf, size_t len, const skt_rl_key_t *key)
{
    const char *what =
        key->kind == SKT_RL_BACKEND_EVENTS ? "backend:events" : "backend:request_read";
    int n = snprintf(buf, len, "app:%s:%s:%s", key->app_id, key->app_id, what);
    return n > 0 && (size_t)n < len ? 0 : -1;
}

static void
rl_shared_consume(void *self, const skt_rl_key_t *key, long points, long limit, skt_rl_cb cb,
                  void *arg)
{
    rl_shared_t *d = self;
    char k[512];
    size_t idl = strlen(key->app_id);
    rl_call_t *c = NULL;
    if (key->kind != SKT_RL_CLIENT_EVENTS && rl_shared_key(k, sizeof(k), key) == 0)
        c = malloc(sizeof(*c) + idl + 1);
    if (!c) {
        skt_rl_consume(d->local, key, points, limit, cb, arg);
        return;
    }
    *c = (rl_call_t){
        .d = d, .cb = cb, .arg = arg, .points = points, .limit = limit, .kind = key->kind};
    memcpy(c->app_id, key->app_id, idl + 1);
    d->ad->ops.rate_consume(d->ad->self, k, points, SHARED_RL_WINDOW_MS, rl_shared_done, c);
}

static void
rl_shared_free(void *self)
{
    rl_shared_t *d = self;
    skt_rl_free(d->local);
    free(d);
}

static const skt_rl_driver_t rl_shared_driver = {
    .name = "redis",
    .consume = rl_shared_consume,
    .free = rl_shared_free,
};

/* ------------------------------------------------------------ cache */

typedef struct cache_call_s {
    skt_cache_get_cb cb;
    void *arg;
} cache_call_t;

/* A miss when the store could not answer: the subscriber gets pusher:cache_miss, as it
 * would from an empty cache. */
static void
cache_shared_got(void *arg, int status, const char *value, size_t len)
{
    cache_call_t *c = arg;
    if (status == SOKETI_ERROR || !value)
        c->cb(c->arg, NULL, 0);
    else
        c->cb(c->arg, value, len);
    free(c);
}

/* The adapter's ops take NUL-terminated keys; cache keys arrive as slices. */
static char *
cache_shared_key(const char *key, size_t key_len)
{
    char *k = malloc(key_len + 1);
    if (k) {
        memcpy(k, key, key_len);
        k[key_len] = '\0';
    }
    return k;
}

static void
cache_shared_get(void *self, const char *key, size_t key_len, skt_cache_get_cb cb, void *arg)
{
    soketi_adapter_t *ad = self;
    char *k = cache_shared_key(key, key_len);
    cache_call_t *c = k ? malloc(sizeof(*c)) : NULL;
    if (!c) {
        free(k);
        cb(arg, NULL, 0);
        return;
    }
    *c = (cache_call_t){.cb = cb, .arg = arg};
    ad->ops.cache_get(ad->self, k, cache_shared_got, c);
    free(k);
}

static void
cache_shared_set(void *self, const char *key, size_t key_len, const char *value, size_t value_len,
                 long ttl_seconds)
{
    soketi_adapter_t *ad = self;
    char *k = cache_shared_key(key, key_len);
    if (k)
        ad->ops.cache_set(ad->self, k, value, value_len, ttl_seconds);
    free(k);
}

/* The adapter belongs to the plugin: nothing of ours to free. */
static void
cache_shared_free(void *self)
{
    (void)self;
}

static const skt_cache_driver_t cache_shared_driver = {
    .name = "redis",
    .get = cache_shared_get,
    .set = cache_shared_set,
    .free = cache_shared_free,
};

/* ------------------------------------------------------------ the webhook queue */

/* The adapter's queue of webhook jobs (queue.driver redis). */
#define SHARED_WEBHOOK_QUEUE "soketi-webhooks"

static void
whq_put(void *self, const char *group, const char *id, const char *data, size_t len, long delay_ms,
        long max_per_group, int mode, skt_whq_count_cb cb, void *arg)
{
    soketi_adapter_t *ad = self;
    ad->ops.job_put(ad->self, SHARED_WEBHOOK_QUEUE, group, id, data, len, delay_ms, max_per_group,
                    mode, cb, arg);
}

/* A claim's answer, handed on to the webhooks' callback. */
typedef struct whq_claim_s {
    skt_whq_jobs_cb cb;
    void *arg;
} whq_claim_t;

static void
whq_claimed(void *arg, int status, const soketi_job_t *jobs, size_t n)
{
    whq_claim_t c = *(whq_claim_t *)arg;
    free(arg);
    skt_whq_job_t *js = n ? calloc(n, sizeof(*js)) : NULL;
    if (n && !js) { /* out of memory: nothing taken now; their leases end */
        c.cb(c.arg, SOKETI_ERROR, NULL, 0);
        return;
    }
    for (size_t i = 0; i < n; i++)
        js[i] = (skt_whq_job_t){.id = jobs[i].id, .data = jobs[i].data, .len = jobs[i].len};
    c.cb(c.arg, status == SOKETI_ERROR ? SOKETI_ERROR : SOKETI_OK, js, n);
    free(js);
}

static void
whq_claim(void *self, const char *const *held, size_t nheld, long max, long lease_ms,
          skt_whq_jobs_cb cb, void *arg)
{
    soketi_adapter_t *ad = self;
    whq_claim_t *c = malloc(sizeof(*c));
    if (!c) {
        cb(arg, SOKETI_ERROR, NULL, 0);
        return;
    }
    c->cb = cb;
    c->arg = arg;
    ad->ops.job_claim(ad->self, SHARED_WEBHOOK_QUEUE, held, nheld, max, lease_ms, whq_claimed, c);
}

/* queue.driver redis: the webhooks go through the adapter's durable queue. */
static int
shared_queue_setup(skt_server_t *srv, char *err, size_t errlen)
{
    soketi_adapter_t *ad = srv->adapter;
    const skt_config_t *cfg = srv->cfg;
    if (!SKT_ADAPTER_HAS(ad, job_put) || !SKT_ADAPTER_HAS(ad, job_claim)) {
        snprintf(err, errlen,
                 "queue.driver 'redis' keeps pending webhooks in Redis through the Redis "
                 "adapter, but adapter '%s' offers no durable queue: set adapter.driver "
                 "(SOKETI_ADAPTER_DRIVER) to redis or redis-cluster, or queue.driver back to "
                 "sync",
                 cfg->adapter.driver);
        return -1;
    }
    skt_whq_driver_t drv = {.self = ad, .put = whq_put, .claim = whq_claim};
    skt_whq_opts_t o = {.concurrency = cfg->queue.redis.concurrency,
                        .lease_ms = cfg->queue.redis.lease_ms,
                        .max_per_app = cfg->queue.redis.max_jobs_per_app,
                        .node_id = srv->node_id};
    if (skt_webhooks_use_queue(srv->features->webhooks, &drv, &o) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ setup */

/* Why a driver cannot be used with the loaded adapter. */
static int
shared_refuse(const skt_server_t *srv, const char *option, char *err, size_t errlen)
{
    snprintf(err, errlen,
             "%s 'redis' keeps its state in Redis through the Redis adapter, but adapter "
             "'%s' offers no shared store: set adapter.driver (SOKETI_ADAPTER_DRIVER) to redis "
             "or redis-cluster, or %s back to its default",
             option, srv->cfg->adapter.driver, option);
    return -1;
}

/* The adapter-backed rate limiter in place of f's. Returns 0, or -1 when out of memory. */
static int
shared_rl(skt_features_t *f, soketi_adapter_t *ad)
{
    rl_shared_t *d = calloc(1, sizeof(*d));
    skt_rl_t *rl = NULL;
    if (d && (d->local = skt_rl_new_local(NULL)) != NULL) {
        d->ad = ad;
        rl = skt_rl_new(&rl_shared_driver, d);
    }
    if (!rl) {
        if (d)
            rl_shared_free(d);
        return -1;
    }
    skt_rl_free(f->rl);
    f->rl = rl;
    return 0;
}

/* The adapter-backed cache in place of f's. Returns 0, or -1 when out of memory. */
static int
shared_cache(skt_features_t *f, soketi_adapter_t *ad)
{
    skt_cache_t *c = skt_cache_new(&cache_shared_driver, ad);
    if (!c)
        return -1;
    skt_cache_free(f->cache);
    f->cache = c;
    return 0;
}

int
skt_shared_setup(skt_server_t *srv, char *err, size_t errlen)
{
    skt_features_t *f = srv->features;
    soketi_adapter_t *ad = srv->adapter;
    /* The workers of one host (workers > 1, local adapter: adapter_workers.so) keep the
     * local limiter's windows and the memory cache in their supervisor, so that they are
     * the host's as they are the process's with one worker. Redis is not theirs to use. */
    int host = srv->cfg->workers.count > 1 && strcmp(srv->cfg->adapter.driver, "local") == 0;
    int rl_redis = strcmp(srv->cfg->rate_limiter.driver, "redis") == 0;
    int cache_redis = strcmp(srv->cfg->cache.driver, "redis") == 0;
    if (rl_redis && (host || !SKT_ADAPTER_HAS(ad, rate_consume)))
        return shared_refuse(srv, "rateLimiter.driver", err, errlen);
    if (cache_redis && (host || !SKT_ADAPTER_HAS(ad, cache_get) || !SKT_ADAPTER_HAS(ad, cache_set)))
        return shared_refuse(srv, "cache.driver", err, errlen);
    if (host) {
        rl_redis = SKT_ADAPTER_HAS(ad, rate_consume);
        cache_redis = SKT_ADAPTER_HAS(ad, cache_get) && SKT_ADAPTER_HAS(ad, cache_set);
    }
    if ((rl_redis && shared_rl(f, ad) != 0) || (cache_redis && shared_cache(f, ad) != 0)) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (strcmp(srv->cfg->queue.driver, "redis") == 0)
        return shared_queue_setup(srv, err, errlen);
    return 0;
}

/* ------------------------------------------------------------ transitions */

/* A transition waiting for the adapter's verdict. */
typedef struct tr_call_s {
    skt_server_t *srv;
    skt_shared_fire_fn fire;
    int joined;
    int id_number; /* handed back to fire */
    char *extra;   /* handed back to fire; may be NULL */
    char *user_id; /* NULL: a channel transition */
    char *channel;
    char app_id[];
} tr_call_t;

/* The adapter's verdict: fire when the transition was the cluster's, or when it could not
 * tell (once per node rather than never). */
static void
shared_transition_done(void *arg, int status, long count)
{
    tr_call_t *c = arg;
    if (status == SOKETI_ERROR || count == 1)
        c->fire(c->srv, c->app_id, c->channel, c->user_id, c->id_number, c->joined, c->extra);
    free(c->extra);
    free(c->user_id);
    free(c->channel);
    free(c);
}

void
skt_shared_transition(skt_server_t *srv, const char *app_id, const char *channel,
                      const char *user_id, int id_number, int joined, skt_shared_fire_fn fire,
                      const char *extra)
{
    soketi_adapter_t *ad = srv->adapter;
    if (!SKT_ADAPTER_HAS(ad, cluster_transition)) {
        fire(srv, app_id, channel, user_id, id_number, joined, extra);
        return;
    }
    size_t idl = strlen(app_id);
    tr_call_t *c = malloc(sizeof(*c) + idl + 1);
    if (!c) {
        fire(srv, app_id, channel, user_id, id_number, joined, extra);
        return;
    }
    c->srv = srv;
    c->fire = fire;
    c->joined = joined;
    c->id_number = id_number;
    c->channel = strdup(channel);
    c->user_id = user_id ? strdup(user_id) : NULL;
    c->extra = extra ? strdup(extra) : NULL;
    memcpy(c->app_id, app_id, idl + 1);
    if (!c->channel || (user_id && !c->user_id) || (extra && !c->extra)) {
        shared_transition_done(c, SOKETI_ERROR, 0);
        return;
    }
    ad->ops.cluster_transition(ad->self, app_id, channel, user_id, joined, shared_transition_done,
                               c);
}

/* ------------------------------------------------------------ webhooks */

/* Queues the webhook of a cluster transition for the app as it is configured now (a
 * SIGHUP may have changed or removed it while the adapter was deciding). */
static void
shared_fire_webhook(skt_server_t *srv, const char *app_id, const char *channel, const char *user_id,
                    int id_number, int joined, const char *extra)
{
    (void)extra;
    if (!srv->features)
        return;
    const skt_app_t *app = skt_server_app(srv, app_id, strlen(app_id));
    if (!app)
        return;
    skt_webhooks_t *wh = srv->features->webhooks;
    if (user_id && joined)
        skt_webhooks_member_added(wh, app, channel, user_id, id_number);
    else if (user_id)
        skt_webhooks_member_removed(wh, app, channel, user_id, id_number);
    else if (joined)
        skt_webhooks_channel_occupied(wh, app, channel);
    else
        skt_webhooks_channel_vacated(wh, app, channel);
}

void
skt_shared_lost(skt_server_t *srv, const char *app_id, const char *channel, const char *user_id,
                int id_number)
{
    shared_fire_webhook(srv, app_id, channel, user_id, id_number, 0, NULL);
}

/* Joins and leaves both go to the adapter when the app wants either webhook of the pair,
 * so that the adapter's record stays whole; the webhook builders skip the one a hook
 * does not want. Apps without such webhooks cost nothing. */
void
skt_shared_channel(skt_server_t *srv, const skt_app_t *app, const char *channel, int joined)
{
    if (skt_webhooks_wanted(app) & (SKT_WH_CHANNEL_OCCUPIED | SKT_WH_CHANNEL_VACATED))
        skt_shared_transition(srv, app->id, channel, NULL, 0, joined, shared_fire_webhook, NULL);
}

/* With cluster_admit every member the adapter admitted is recorded (it holds the
 * cluster-wide limit), so every leave goes to the adapter, whatever the webhooks. */
void
skt_shared_member(skt_server_t *srv, const skt_app_t *app, const char *channel, const char *user_id,
                  int id_number, int joined)
{
    int record = !joined && SKT_ADAPTER_HAS(srv->adapter, cluster_admit);
    if (record || (skt_webhooks_wanted(app) & (SKT_WH_MEMBER_ADDED | SKT_WH_MEMBER_REMOVED)))
        skt_shared_transition(srv, app->id, channel, user_id, id_number, joined,
                              shared_fire_webhook, NULL);
}

void
skt_shared_member_admitted(skt_server_t *srv, const skt_app_t *app, const char *channel,
                           const char *user_id, int id_number, int first)
{
    if (first && (skt_webhooks_wanted(app) & SKT_WH_MEMBER_ADDED))
        shared_fire_webhook(srv, app->id, channel, user_id, id_number, 1, NULL);
}

/* The adapter answers a transition nobody waits for: nothing to do. */
static void
shared_released(void *arg, int status, long count)
{
    (void)arg, (void)status, (void)count;
}

void
skt_shared_member_release(skt_server_t *srv, skt_ns_t *ns, const char *channel, const char *user_id)
{
    skt_channel_t *ch = skt_ns_channel(ns, channel, strlen(channel));
    if (ch && ch->members && skt_map_get(ch->members, user_id, strlen(user_id)))
        return; /* another socket of the user holds it here */
    soketi_adapter_t *ad = srv->adapter;
    if (SKT_ADAPTER_HAS(ad, cluster_transition))
        ad->ops.cluster_transition(ad->self, ns->app_id, channel, user_id, 0, shared_released,
                                   NULL);
}

/* ------------------------------------------------------------ members */

/* A members query to an adapter without channel_members_typed. */
typedef struct members_call_s {
    soketi_typed_members_cb cb;
    void *arg;
} members_call_t;

/* The untyped answer, handed on with every id a string. */
static void
shared_members_untyped(void *arg, int status, const soketi_member_t *members, size_t n)
{
    members_call_t *c = arg;
    soketi_typed_member_t *typed = n ? malloc(n * sizeof(*typed)) : NULL;
    if (n && !typed) {
        c->cb(c->arg, SOKETI_ERROR, NULL, 0);
    } else {
        for (size_t i = 0; i < n; i++)
            typed[i] = (soketi_typed_member_t){members[i].user_id, members[i].user_info, 0};
        c->cb(c->arg, status, typed, n);
    }
    free(typed);
    free(c);
}

void
skt_shared_members(skt_server_t *srv, const char *app_id, const char *channel,
                   soketi_typed_members_cb cb, void *arg)
{
    soketi_adapter_t *ad = srv->adapter;
    if (SKT_ADAPTER_HAS(ad, channel_members_typed)) {
        ad->ops.channel_members_typed(ad->self, app_id, channel, cb, arg);
        return;
    }
    members_call_t *c = malloc(sizeof(*c));
    if (!c) {
        cb(arg, SOKETI_ERROR, NULL, 0);
        return;
    }
    c->cb = cb;
    c->arg = arg;
    ad->ops.channel_members(ad->self, app_id, channel, shared_members_untyped, c);
}
