/* ratelimit.c - the rate limiter front and its local (one process) driver. */
#include "features/ratelimit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "features/clock.h"
#include "util/map.h"

#define WINDOW_MS 1000u

struct skt_rl_s {
    const skt_rl_driver_t *driver;
    void *self;
};

/* ------------------------------------------------------------ windows */

void
skt_rl_window_consume(skt_rl_slot_t *w, uint32_t now_ms, long points, long limit,
                      skt_rl_result_t *res)
{
    /* A window that never counted anything, or whose second is over, starts
     * again now (rate-limiter-flexible: a new record expiring in 1 s). */
    if (w->used == 0 || (uint32_t)(now_ms - w->start_ms) >= WINDOW_MS) {
        w->start_ms = now_ms;
        w->used = 0;
    }
    uint64_t used = (uint64_t)w->used + (uint64_t)(points > 0 ? points : 0);
    w->used = used > UINT32_MAX ? UINT32_MAX : (uint32_t)used;
    skt_rl_result_set(res, w->used, limit, (long)(WINDOW_MS - (uint32_t)(now_ms - w->start_ms)));
}

/* ratelimit.h: one verdict for every driver, wherever the window is kept. */
void
skt_rl_result_set(skt_rl_result_t *res, long long used, long limit, long ms_left)
{
    res->limit = limit;
    res->allowed = used <= (long long)limit;
    res->remaining = res->allowed ? limit - (long)used : 0;
    res->ms_before_next = ms_left > 0 ? ms_left : 0;
}

/* ------------------------------------------------------------ local driver */

typedef struct local_s {
    skt_map_t *windows; /* "<app id>\0<kind>" -> bucket_t */
    skt_rl_clock_fn now;
} local_t;

typedef struct bucket_s {
    skt_rl_slot_t w;
    size_t key_len;
    char key[];
} bucket_t;

/* The app-wide window of key, created on first use; NULL when out of memory. */
static skt_rl_slot_t *
local_app_window(local_t *l, const skt_rl_key_t *key)
{
    char k[256];
    int n = snprintf(k, sizeof(k), "%s%c%d", key->app_id, 0, (int)key->kind);
    if (n < 0 || (size_t)n >= sizeof(k))
        return NULL;
    bucket_t *b = skt_map_get(l->windows, k, (size_t)n);
    if (b)
        return &b->w;
    b = calloc(1, sizeof(*b) + (size_t)n);
    if (!b)
        return NULL;
    memcpy(b->key, k, (size_t)n);
    b->key_len = (size_t)n;
    if (skt_map_put(l->windows, b->key, b->key_len, b) != 0) {
        free(b);
        return NULL;
    }
    return &b->w;
}

static void
local_consume(void *self, const skt_rl_key_t *key, long points, long limit, skt_rl_cb cb, void *arg)
{
    local_t *l = self;
    skt_rl_slot_t *w = key->kind == SKT_RL_CLIENT_EVENTS ? key->slot : local_app_window(l, key);
    skt_rl_result_t res = {.allowed = 1, .limit = limit, .remaining = limit};
    /* Without a window to count in (out of memory, or a per-socket key
     * without its slot) the request goes through: failing open keeps the
     * server usable, as soketi does when its limiter errs. */
    if (w)
        skt_rl_window_consume(w, (uint32_t)l->now(), points, limit, &res);
    cb(arg, &res);
}

static void
local_free(void *self)
{
    local_t *l = self;
    size_t pos = 0;
    void *v;
    while (skt_map_next(l->windows, &pos, NULL, NULL, &v))
        free(v);
    skt_map_free(l->windows);
    free(l);
}

static const skt_rl_driver_t local_driver = {
    .name = "local",
    .consume = local_consume,
    .free = local_free,
};

skt_rl_t *
skt_rl_new_local(skt_rl_clock_fn now)
{
    local_t *l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    l->now = now ? now : skt_clock_ms;
    l->windows = skt_map_new();
    skt_rl_t *rl = l->windows ? skt_rl_new(&local_driver, l) : NULL;
    if (!rl) {
        skt_map_free(l->windows);
        free(l);
    }
    return rl;
}

/* ------------------------------------------------------------ front */

skt_rl_t *
skt_rl_new(const skt_rl_driver_t *driver, void *self)
{
    skt_rl_t *rl = calloc(1, sizeof(*rl));
    if (!rl)
        return NULL;
    rl->driver = driver;
    rl->self = self;
    return rl;
}

void
skt_rl_free(skt_rl_t *rl)
{
    if (!rl)
        return;
    if (rl->driver->free)
        rl->driver->free(rl->self);
    free(rl);
}

void
skt_rl_consume(skt_rl_t *rl, const skt_rl_key_t *key, long points, long limit, skt_rl_cb cb,
               void *arg)
{
    if (limit < 0) {
        skt_rl_result_t res = {.allowed = 1, .limit = -1};
        cb(arg, &res);
        return;
    }
    rl->driver->consume(rl->self, key, points, limit, cb, arg);
}

size_t
skt_rl_headers(const skt_rl_result_t *res, char *buf, size_t len)
{
    if (!len)
        return 0;
    buf[0] = '\0';
    if (res->limit < 0)
        return 0;
    /* soketi writes msBeforeNext / 1000 as a JavaScript number: "1", "0.5", "0.998". */
    char retry[32];
    long ms = res->ms_before_next < 0 ? 0 : res->ms_before_next;
    if (ms % 1000 == 0) {
        snprintf(retry, sizeof(retry), "%ld", ms / 1000);
    } else {
        snprintf(retry, sizeof(retry), "%ld.%03ld", ms / 1000, ms % 1000);
        size_t n = strlen(retry);
        while (retry[n - 1] == '0')
            retry[--n] = '\0';
    }
    int n = snprintf(buf, len,
                     "Retry-After: %s\r\nX-RateLimit-Limit: %ld\r\nX-RateLimit-Remaining: %ld\r\n",
                     retry, res->limit, res->remaining);
    if (n < 0 || (size_t)n >= len) {
        buf[0] = '\0';
        return 0;
    }
    return (size_t)n;
}
