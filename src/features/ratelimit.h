/* ratelimit.h - rate limits (backend events, read requests, client events) behind a driver.
 *
 * Semantics are soketi's (src/rate-limiters/local-rate-limiter.ts, which uses
 * rate-limiter-flexible's memory limiter with `points` per 1 s): a key's
 * window opens at the key's first consumption and lasts 1000 ms; every
 * consumption adds its points to the window; one that brings the total past
 * the limit is refused (and still counts). Keys: backend events and read
 * requests per app, client events per socket. A limit below 0 is unlimited:
 * nothing is counted and no headers are sent.
 *
 * DESIGN
 * Callers go through skt_rl_consume(), which asks the driver, a struct of
 * function pointers, so that a driver counting across nodes (Redis) can
 * replace the local one. A driver answers through a callback, exactly once,
 * either before consume returns (the local driver) or later from the event
 * loop; a caller therefore keeps whatever it needs alive until then.
 * The local driver keeps per-app windows in a map and per-socket windows in
 * the caller's skt_rl_slot_t (inside the socket), so counting a client event
 * allocates nothing and a socket's window goes away with the socket.
 */
#ifndef SKT_FEATURES_RATELIMIT_H
#define SKT_FEATURES_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

typedef enum skt_rl_kind_e {
    SKT_RL_BACKEND_EVENTS = 0, /* POST events / batch_events: points = channels */
    SKT_RL_READ_REQUESTS = 1,  /* GET channels, channel, users: 1 point each */
    SKT_RL_CLIENT_EVENTS = 2,  /* client-* events of one socket: 1 point each */
} skt_rl_kind_t;

/* One fixed window: where it opened (ms, wrapping) and the points used in it.
 * Zero-initialised means no window yet. */
typedef struct skt_rl_slot_s {
    uint32_t start_ms;
    uint32_t used;
} skt_rl_slot_t;

typedef struct skt_rl_key_s {
    const char *app_id;
    skt_rl_kind_t kind;
    const char *socket_id; /* SKT_RL_CLIENT_EVENTS: the socket; else NULL */
    /* SKT_RL_CLIENT_EVENTS: storage owned by the caller (the socket) that a
     * local driver keeps the window in; a distributed driver ignores it. */
    skt_rl_slot_t *slot;
} skt_rl_key_t;

typedef struct skt_rl_result_s {
    int allowed;         /* 1: go on; 0: over the limit */
    long limit;          /* points per second; < 0: unlimited (and the rest is 0) */
    long remaining;      /* points left in the window (0 when refused) */
    long ms_before_next; /* until the window closes */
} skt_rl_result_t;

/* Completion: res is valid during the call only. */
typedef void (*skt_rl_cb)(void *arg, const skt_rl_result_t *res);

/* A rate limiter driver. consume: counts points for key against limit (>= 0)
 * and calls cb(arg, result) exactly once, now or later on the event loop.
 * free: releases self. */
typedef struct skt_rl_driver_s {
    const char *name;
    void (*consume)(void *self, const skt_rl_key_t *key, long points, long limit, skt_rl_cb cb,
                    void *arg);
    void (*free)(void *self);
} skt_rl_driver_t;

typedef struct skt_rl_s skt_rl_t;

/* A clock in milliseconds (monotonic; any origin). */
typedef uint64_t (*skt_rl_clock_fn)(void);

/* The local (one process) limiter. now: the clock, NULL for CLOCK_MONOTONIC
 * (tests pass their own). Returns NULL when out of memory. */
skt_rl_t *skt_rl_new_local(skt_rl_clock_fn now);

/* A limiter over any driver; self is the driver's state, freed with
 * driver->free by skt_rl_free(). NULL when out of memory. */
skt_rl_t *skt_rl_new(const skt_rl_driver_t *driver, void *self);

/* Frees the limiter and its driver. NULL is a no-op. */
void skt_rl_free(skt_rl_t *rl);

/* Counts points for key against limit (points per second; < 0: unlimited,
 * answered at once with allowed = 1 and limit = -1) and calls cb exactly
 * once, now or later. key and its strings are only read during the call. */
void skt_rl_consume(skt_rl_t *rl, const skt_rl_key_t *key, long points, long limit, skt_rl_cb cb,
                    void *arg);

/* The HTTP headers soketi sends for a result, as complete "Name: value\r\n"
 * lines into buf (always NUL-terminated): Retry-After (seconds, fractional
 * as in soketi), X-RateLimit-Limit, X-RateLimit-Remaining; "" when the limit
 * is unlimited. Returns the length written. */
size_t skt_rl_headers(const skt_rl_result_t *res, char *buf, size_t len);

/* The verdict on a window that has used `used` points (these included) of limit and
 * closes in ms_left ms: allowed while used <= limit, the points remaining, the time to
 * the window's end (never negative). What every driver answers with. */
void skt_rl_result_set(skt_rl_result_t *res, long long used, long limit, long ms_left);

/* The window arithmetic every local window shares, exposed for tests:
 * counts points in w at time now_ms and fills res. */
void skt_rl_window_consume(skt_rl_slot_t *w, uint32_t now_ms, long points, long limit,
                           skt_rl_result_t *res);

#endif
