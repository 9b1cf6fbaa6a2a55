/* webhooks_internal.h - what webhooks.c shares with webhook_queue.c (queue.driver redis):
 * the sender's state, its apps and deliveries. Not for other files.
 *
 * Layering: webhook_queue.c sits above webhooks.c and calls it (skt_wh_*); the sender
 * reaches the queue only through the table the queue attaches (wh_queue_ops_t), so that
 * the two files call each other in one direction.
 *
 * Ownership: skt_webhooks_t owns its apps (wh_app_t, until skt_webhooks_free) and they
 * own their deliveries. A delivery with a job_id was claimed from the durable queue: it
 * owns its id and meta, counts in skt_whq_t.held while it lives, and settles its job
 * (its queue's settle) before it is freed after its last attempt.
 */
#ifndef SKT_FEATURES_WEBHOOKS_INTERNAL_H
#define SKT_FEATURES_WEBHOOKS_INTERNAL_H

#include <curl/curl.h>

#include "features/curl_loop.h"
#include "features/lambda.h"
#include "features/webhook_log.h"
#include "features/webhooks.h"
#include "util/map.h"

typedef struct wh_app_s wh_app_t;
typedef struct delivery_s delivery_t;

/* What the sender asks of the durable queue attached to it (webhook_queue.c fills it). */
typedef struct wh_queue_ops_s {
    /* Puts a new webhook for a: hook's signed body (len bytes; lambda: its Payload), signed
     * sig, into the durable queue. body stays the caller's. */
    void (*push)(skt_whq_t *q, wh_app_t *a, const json_t *hook, const char *sig, const char *body,
                 size_t len);
    /* d's attempt ended: retry_ms >= 0 puts its job back due in retry_ms with its attempts;
     * < 0 removes it (delivered, or given up). Called before freeing d. */
    void (*settle)(skt_whq_t *q, delivery_t *d, long retry_ms);
    /* d, a claimed delivery, is being freed: forgets it (frees its job id and meta). */
    void (*forget)(skt_whq_t *q, delivery_t *d);
    /* The server frees the sender in grace_ms (skt_webhooks_closing): q takes no more jobs
     * and releases those it holds (freeing their deliveries), those in flight shortly
     * before grace_ms. */
    void (*closing)(skt_whq_t *q, long grace_ms);
    /* Logs how many claimed webhooks q leaves in the queue at shutdown; nothing more is
     * taken from the queue or sent from memory. */
    void (*shutdown)(skt_whq_t *q);
    /* Frees q; whatever it holds stays in Redis (due again when its leases end). */
    void (*free)(skt_whq_t *q);
} wh_queue_ops_t;

/* One event of a batch, serialized: name and channel (for selection) and its JSON text. */
typedef struct wh_event_s {
    struct wh_event_s *next;
    const char *name, *channel; /* into data */
    const char *text;           /* into data */
    size_t len;                 /* of text */
    char data[];
} wh_event_t;

enum { D_QUEUED, D_INFLIGHT, D_WAITING };

struct delivery_s {
    struct delivery_s *prev, *next;   /* the app's deliveries, oldest first */
    struct delivery_s *qprev, *qnext; /* the app's queue, while D_QUEUED */
    wh_app_t *app;
    int state;
    int attempts;
    skt_curl_req_t *req; /* while D_INFLIGHT */
    struct event *retry_ev;
    struct curl_slist *headers;  /* a Lambda invocation's: made again for each attempt */
    skt_lambda_target_t *lambda; /* a lambda_function webhook's; NULL for a url's */
    char *url;
    char *body;
    size_t body_len;
    char *job_id;     /* claimed from the durable queue; NULL for an in-memory webhook */
    json_t *job_meta; /* the job's meta (webhook_queue.c), while job_id */
};

struct wh_app_s {
    skt_webhooks_t *wh;
    char *key, *secret; /* as of the last event */
    json_t *hooks;      /* the app's "webhooks", as of the last event */
    wh_event_t *batch, *batch_tail;
    size_t batch_bytes; /* its events' texts, with a comma each */
    struct event *batch_ev;
    delivery_t *dhead, *dtail; /* every pending delivery, oldest first */
    delivery_t *qhead, *qtail; /* waiting for a free slot, in order */
    size_t nqueued, ninflight, nwaiting;
    size_t bytes, inflight_bytes; /* bodies of the pending deliveries, of those in flight */
    skt_wh_stats_t stats;
    skt_whlog_t drops, fails;
    size_t id_len;
    char id[];
};

struct skt_webhooks_s {
    skt_webhooks_opts_t o;
    char user_agent[160];
    skt_curl_t *curl;
    skt_map_t *apps;            /* app id -> wh_app_t */
    size_t bytes;               /* every app's pending bodies */
    skt_lambda_env_t aws;       /* AWS credentials from the environment, read at start */
    skt_whq_t *q;               /* queue.driver redis: the durable queue; NULL: in memory */
    const wh_queue_ops_t *qops; /* q's, set with it */
};

/* webhooks.c's, for webhook_queue.c. */

/* The sender state of app app_id (created, with no key or secret, when new); NULL when out
 * of memory. */
wh_app_t *skt_wh_app(skt_webhooks_t *wh, const char *app_id);

/* Where hook sends (its url, or its Lambda function as *lt, new): 0, or -1 when it cannot
 * be sent to (counted failed and logged). */
int skt_wh_destination(wh_app_t *a, const json_t *hook, const char **url, skt_lambda_target_t **lt);

/* soketi's headers of a url webhook hook signed sig, for app key; NULL when out of memory. */
struct curl_slist *skt_wh_headers(skt_webhooks_t *wh, const char *key, const json_t *hook,
                                  const char *sig);

/* A delivery of body (len bytes, taken) with headers (taken) to url or to lt (taken),
 * linked as a's newest and queued for a free slot (pump is the caller's); NULL when out
 * of memory (all freed). */
delivery_t *skt_wh_delivery_add(wh_app_t *a, const char *url, skt_lambda_target_t *lt, char *body,
                                size_t len, struct curl_slist *headers);

/* Stops d, cancelling its request if in flight (no attempt counted, nothing settled), and
 * frees it. */
void skt_wh_delivery_stop(delivery_t *d);

/* Makes room in the budgets for one more in-memory webhook of bytes for a (see DESIGN in
 * webhooks.h). 0 when it fits now; -1 when it cannot, with the reason in why. */
int skt_wh_make_room(wh_app_t *a, size_t bytes, char *why, size_t whylen);

/* Starts a's queued deliveries while it has free slots. */
void skt_wh_pump(wh_app_t *a);

#endif
