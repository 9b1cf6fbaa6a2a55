/* webhooks.h - Pusher webhooks: events, filters, batching, and delivery with libcurl on the loop.
 *
 * What is sent is Pusher's format, as soketi 1.6 sends it (src/webhook-sender.ts): an HTTP
 * POST of {"time_ms": <ms>, "events": [{"name": ..., "channel": ..., ...}]} with
 * X-Pusher-Key (the app key) and X-Pusher-Signature (hex HMAC-SHA256 of the body with the
 * app secret), so the `pusher` SDKs' webhook validation accepts it. Each of an app's
 * webhooks gets the events its event_types and filter (channel_name_starts_with /
 * channel_name_ends_with) select, signed over exactly the body it receives (soketi signs
 * and sends the unfiltered list). Its own headers are added, but never replace X-Pusher-*.
 * With webhooks.batching.enabled, an app's events are collected for
 * webhooks.batching.duration ms and sent together (soketi collects one batch for all apps).
 * A webhook with a lambda_function instead of a url invokes that AWS Lambda function with
 * soketi's Payload, {"payload": <that same body>, "headers": <those same headers>}: a POST
 * to the Lambda Invoke API, signed with SigV4 (lambda.c, sigv4.c), which goes through the
 * same queues, budgets, retries and curl options as any webhook (its body, the Payload, is
 * what the budgets count).
 *
 * DESIGN
 * Delivery never blocks the event loop and uses no threads of ours: the requests go through
 * curl_loop.c (libcurl's multi interface driven by libevent; it also holds the options that
 * keep a hostile endpoint from costing us more than a log line). Each event is serialized
 * once, when it is queued, and its JSON tree released: a batch is a list of small strings,
 * and each webhook's body is the concatenation of the events it selects (byte for byte
 * what jansson writes for the whole payload), signed once.
 *
 * Bounds. Each app has at most max_inflight requests at once, the rest waiting in order; a
 * request that fails without an answer, or answers 5xx, 408 or 429, is retried after a
 * backoff that doubles, up to max_attempts attempts. The webhooks an app has pending
 * (queued, in flight or waiting to retry) are bounded in number (queue_max) and in body
 * bytes (app_bytes_max), and all apps' together in bytes (total_bytes_max). A new webhook
 * that does not fit makes room by dropping the oldest pending webhooks that are not in
 * flight (of its own app for the per-app bounds; of the app holding the most bytes for the
 * total); when that is not enough (what is left is in flight) the new one is dropped. So
 * pending bytes never exceed the budgets, and a request in flight is never cut. A batch
 * being collected is bounded apart: past batch_bytes_max it is sent at once and a new one
 * begins, so one request body is at most max(batch_bytes_max, one event). Drops and
 * failures are counted per app and logged at most once a second per app, each line saying
 * how many since the last one and what the first of them was.
 *
 * This file only builds and sends events; when they are due is the protocol's decision
 * (pusher/shared.c fires occupied/vacated and member events once per cluster when the
 * adapter can tell, else per node as soketi does).
 */
#ifndef SKT_FEATURES_WEBHOOKS_H
#define SKT_FEATURES_WEBHOOKS_H

#include <event2/event.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "config/apps.h"

/* The event types, as bits of skt_webhooks_wanted(). */
enum skt_wh_event_bit {
    SKT_WH_CLIENT_EVENT = 1 << 0,
    SKT_WH_CHANNEL_OCCUPIED = 1 << 1,
    SKT_WH_CHANNEL_VACATED = 1 << 2,
    SKT_WH_MEMBER_ADDED = 1 << 3,
    SKT_WH_MEMBER_REMOVED = 1 << 4,
    SKT_WH_CACHE_MISS = 1 << 5,
    SKT_WH_SUBSCRIPTION_COUNT = 1 << 6,
};

/* HMAC-SHA256 in lower-case hex (pusher/sig.h's skt_sig_hmac_sha256_hex). */
typedef void (*skt_wh_sign_fn)(const char *key, size_t key_len, const char *msg, size_t msg_len,
                               char out[65]);

typedef struct skt_webhooks_opts_s {
    struct event_base *base;
    skt_wh_sign_fn sign;
    int batching;           /* webhooks.batching.enabled */
    long batch_ms;          /* webhooks.batching.duration */
    const char *process_id; /* instance.process_id, for the User-Agent; NULL: the pid */
    /* Delivery tuning; 0 takes the default in brackets. */
    long timeout_ms;        /* one attempt, connection included [10000] */
    long connect_ms;        /* connecting, within timeout_ms [5000] */
    int max_attempts;       /* attempts per webhook [5] */
    long backoff_ms;        /* before the first retry, doubled for each next [1000] */
    size_t queue_max;       /* webhooks pending per app (webhooks.maxPendingPerApp) [1000] */
    size_t app_bytes_max;   /* their bodies, bytes (maxPendingSizePerAppInMb) [16 MiB] */
    size_t total_bytes_max; /* all apps' bodies, bytes (maxPendingSizeInMb) [64 MiB] */
    size_t batch_bytes_max; /* one batch's events (batching.maxSizeInKb) [1 MiB] */
    size_t max_inflight;    /* requests at once per app [8] */
} skt_webhooks_opts_t;

typedef struct skt_webhooks_s skt_webhooks_t;

/* ---- the durable queue (queue.driver redis; webhook_queue.c) ----
 * With a queue, a webhook is not kept in memory from its flush: its job (what
 * skt_whq_encode writes: the webhook's signed body and what rebuilds its request) is put
 * into the queue, and every node claims due jobs, at most `concurrency` at once, each under
 * a lease that the node extends at each claim (every min(1 s, lease / 3)) while it holds
 * it. A delivered or failed job is removed; a retry puts it back, due after the backoff,
 * for any node. A node stopped gracefully releases the jobs it holds at once
 * (skt_webhooks_closing); a node killed while holding jobs leaves them to be claimed again
 * once their leases end: delivery is at least once (a node killed between an endpoint's answer
 * and the job's removal sends it again). The pusher/shared.c driver maps these onto the
 * adapter's job_put / job_claim. */
typedef struct skt_whq_s skt_whq_t;

/* status: 0 (SOKETI_OK), or < 0 when the queue could not answer. */
typedef void (*skt_whq_count_cb)(void *arg, int status, long count);
typedef struct skt_whq_job_s {
    const char *id, *data;
    size_t len;
} skt_whq_job_t;
typedef void (*skt_whq_jobs_cb)(void *arg, int status, const skt_whq_job_t *jobs, size_t n);

/* The queue's operations, as the adapter's job_put / job_claim describe them (without a
 * queue name: the driver's). */
typedef struct skt_whq_driver_s {
    void *self;
    void (*put)(void *self, const char *group, const char *id, const char *data, size_t len,
                long delay_ms, long max_per_group, int mode, skt_whq_count_cb cb, void *arg);
    void (*claim)(void *self, const char *const *held, size_t nheld, long max, long lease_ms,
                  skt_whq_jobs_cb cb, void *arg);
} skt_whq_driver_t;

typedef struct skt_whq_opts_s {
    long concurrency;    /* queue.redis.concurrency: jobs a node holds at once */
    long lease_ms;       /* queue.redis.leaseMs */
    long max_per_app;    /* queue.redis.maxJobsPerApp: beyond it the oldest are dropped */
    const char *node_id; /* unique per process: job ids start with it (copied) */
} skt_whq_opts_t;

/* Makes wh send through the durable queue drv (copied; its self must outlive wh). Call once,
 * before the first event. Returns 0, or -1 when out of memory. */
int skt_webhooks_use_queue(skt_webhooks_t *wh, const skt_whq_driver_t *drv,
                           const skt_whq_opts_t *opts);

/* A job's data: a header line, the compact JSON {"v":1,"app":...,"attempts":n,"hook":{the
 * webhook entry},"key":<app key>,"sig":<X-Pusher-Signature>}, then "\n" and the body
 * bytes as sent (a Lambda webhook's: its Payload). A new string (*out_len its length), or
 * NULL when out of memory. meta is what skt_whq_decode returns or an object of those
 * fields. */
char *skt_whq_encode(const json_t *meta, const char *body, size_t len, size_t *out_len);

/* The meta of a job's data (a new reference) with *body / *body_len pointing into data, or
 * NULL when data is not such a job (a field missing or of the wrong type, v not 1). */
json_t *skt_whq_decode(const char *data, size_t len, const char **body, size_t *body_len);

/* Per-app counters since start. */
typedef struct skt_wh_stats_s {
    uint64_t sent;        /* answered 2xx */
    uint64_t failed;      /* given up after the last attempt, or refused (4xx) */
    uint64_t retried;     /* attempts that were retried */
    uint64_t dropped;     /* never sent: over a bound (see DESIGN), or dropped for a new one */
    size_t pending;       /* queued, in flight or waiting to retry, now */
    size_t pending_bytes; /* the bodies of those */
} skt_wh_stats_t;

/* Creates the sender (opts is copied). NULL with a message in err. */
skt_webhooks_t *skt_webhooks_new(const skt_webhooks_opts_t *opts, char *err, size_t errlen);

/* The server is closing and will free wh in grace_ms (shutdownGracePeriod); meanwhile
 * what is pending goes on. With the durable queue, the node takes no more jobs from it
 * (the leases of the jobs it holds are still extended) and releases the jobs it holds,
 * put back due now so that another node sends them without waiting for their leases to
 * end: at once those not in flight; those in flight are left until shortly before grace_ms
 * (500 ms, at most half of it) to be answered and settled as usual, then stopped (the
 * endpoint may have received them: at least once) and released, so that the releases are
 * answered before the adapter goes. A release that fails leaves its job to its lease.
 * NULL is a no-op. */
void skt_webhooks_closing(skt_webhooks_t *wh, long grace_ms);

/* Abandons whatever is pending (logging how much) and frees. NULL is a no-op. */
void skt_webhooks_free(skt_webhooks_t *wh);

/* The event types any of app's webhooks (url or lambda_function) asks for (bits above); 0 when
 * none. Cheap: call it before building an event. */
unsigned skt_webhooks_wanted(const skt_app_t *app);

/* The event builders: each queues one event for app when one of its webhooks wants it. */
void skt_webhooks_channel_occupied(skt_webhooks_t *wh, const skt_app_t *app, const char *channel);
void skt_webhooks_channel_vacated(skt_webhooks_t *wh, const skt_app_t *app, const char *channel);
void skt_webhooks_cache_miss(skt_webhooks_t *wh, const skt_app_t *app, const char *channel);
/* id_number: user_id is the text of a JSON integer the application gave (it goes out as a
 * number, as soketi sends it); 0: a string. */
void skt_webhooks_member_added(skt_webhooks_t *wh, const skt_app_t *app, const char *channel,
                               const char *user_id, int id_number);
void skt_webhooks_member_removed(skt_webhooks_t *wh, const skt_app_t *app, const char *channel,
                                 const char *user_id, int id_number);
/* data: the client's data as sent (borrowed); user_id: presence channels only, else NULL. */
void skt_webhooks_client_event(skt_webhooks_t *wh, const skt_app_t *app, const char *channel,
                               const char *event, json_t *data, const char *socket_id,
                               const char *user_id, int id_number);
void skt_webhooks_subscription_count(skt_webhooks_t *wh, const skt_app_t *app, const char *channel,
                                     long count);

/* Queues an event object (reference stolen) for app; what the builders use. */
void skt_webhooks_send(skt_webhooks_t *wh, const skt_app_t *app, json_t *event);

/* Logs a warning for every webhook of apps that soketi-c cannot send: a URL that is not
 * http:// or https://, a lambda_function without credentials or with an unusable region or
 * endpoint (such a webhook is also counted failed at each send); and for lambda
 * client_options that are ignored. */
void skt_webhooks_check_apps(const skt_apps_t *apps);

/* Calls fn once per app that has sent or tried to send webhooks. */
typedef void (*skt_wh_each_fn)(void *arg, const char *app_id, const skt_wh_stats_t *stats);
void skt_webhooks_each_app(const skt_webhooks_t *wh, skt_wh_each_fn fn, void *arg);

/* 1 when webhook hook (one entry of an app's "webhooks") selects an event named name on
 * channel, by its event_types and filter; 0 otherwise (also when name or channel is NULL). */
int skt_webhooks_selects(const json_t *hook, const char *name, const char *channel);

/* The events of list (a JSON array) that webhook hook (one entry of an app's "webhooks")
 * selects by event_types and filter, as a new array (empty when none). For tests. */
json_t *skt_webhooks_select(const json_t *hook, const json_t *list);

#endif
