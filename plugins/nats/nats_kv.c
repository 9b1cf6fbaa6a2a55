/* nats_kv.c - JetStream key-value buckets over request-reply, on the loop. See nats_kv.h.
 *
 * DESIGN
 * Each call is a small op (kv_op_t) handed to the request table as the argument of its
 * reply callback; the callback frees it. A probe of the buckets carries the generation it
 * was sent in: one sent before the connection last went down (or before a newer probe)
 * cannot change the state when its answer, or its failure, comes late.
 */
#include "nats_kv.h"

#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nats_loop.h"
#include "horizontal.h"
#include "nats_proto.h"

enum kv_state { KV_DOWN, KV_PROBING, KV_READY, KV_ABSENT };

static const char *const kv_what[SKT_NKV_BUCKETS] = {"occupancy", "ratelimits", "cache"};

typedef struct kv_op_s {
    skt_nkv_t *kv;
    int bucket;
    unsigned gen; /* probes: the generation they belong to */
    int updating; /* probes: this is the update after "in use with another configuration" */
    skt_nkv_get_cb get;
    skt_nkv_put_cb put;
    void *arg;
} kv_op_t;

struct skt_nkv_s {
    const soketi_host_t *host;
    skt_nr_t *req;
    char *name;
    char *bucket[SKT_NKV_BUCKETS];
    char *config[SKT_NKV_BUCKETS];
    int replicas;
    void (*on_ready)(void *owner);
    void *owner;
    int state;
    unsigned gen;
    int probing;    /* buckets not answered yet */
    int was_absent; /* unavailable since the last time it was ready (logged once) */
    long retry_ms;  /* the next wait before asking again (0: the first) */
    struct event *retry;
};

#define kv_log(kv, level, ...) skt_hz_logf((kv)->host, (kv)->name, (level), __VA_ARGS__)

/* A new op of the current generation, or NULL. */
static kv_op_t *
kv_op_new(skt_nkv_t *kv, int bucket)
{
    kv_op_t *op = calloc(1, sizeof(*op));
    if (op) {
        op->kv = kv;
        op->bucket = bucket;
        op->gen = kv->gen;
    }
    return op;
}

/* ---- the buckets ---------------------------------------------------------------------- */

static void kv_probe(skt_nkv_t *kv);
static int kv_send_probe(skt_nkv_t *kv, int bucket, int update);

/* JetStream cannot hold the buckets: say why (a warning the first time), answer calls with
 * errors, ask again later. */
static void
kv_absent(skt_nkv_t *kv, const char *why)
{
    kv->state = KV_ABSENT;
    kv->gen++;
    kv_log(kv, kv->was_absent ? SOKETI_LOG_DEBUG : SOKETI_LOG_WARN,
           "JetStream is not available (%s): webhooks, rate limits, the cache and watchlists "
           "are decided by each node alone until it is (run nats-server with -js to share "
           "them); asking again",
           why);
    kv->was_absent = 1;
    /* 1 s doubling to SKT_NKV_RETRY_MS: a server that starts JetStream a moment after it
     * accepts clients is found at once, one without it is not asked all the time */
    long ms = kv->retry_ms ? kv->retry_ms : 1000;
    kv->retry_ms = ms * 2 < SKT_NKV_RETRY_MS ? ms * 2 : SKT_NKV_RETRY_MS;
    skt_nl_arm(kv->retry, ms);
}

/* Asks for the buckets again while JetStream is unavailable. */
static void
kv_on_retry(evutil_socket_t fd, short what, void *arg)
{
    skt_nkv_t *kv = arg;
    (void)fd;
    (void)what;
    if (kv->state == KV_ABSENT)
        kv_probe(kv);
}

/* One bucket answered STREAM.CREATE (or UPDATE). */
static void
kv_on_probe(void *arg, natsMsg *reply)
{
    kv_op_t *op = arg;
    skt_nkv_t *kv = op->kv;
    int bucket = op->bucket, updating = op->updating;
    unsigned gen = op->gen;
    free(op);
    if (gen != kv->gen || kv->state != KV_PROBING)
        return;
    long code = 0;
    char desc[200];
    int status = reply ? skt_nr_status(reply) : 0;
    int err = reply && !status
                  ? skt_np_api_error(natsMsg_GetData(reply), (size_t)natsMsg_GetDataLength(reply),
                                     &code, desc, sizeof(desc))
                  : -1;
    if (!reply || err < 0) {
        kv_absent(kv, !reply ? "JetStream did not answer"
                             : "JetStream gave an answer that is no answer");
        return;
    }
    if (err == 1 && code == SKT_NP_ERR_STREAM_IN_USE && !updating) {
        /* made by a node with other settings (nodeTtl, replicas): take ours */
        if (kv_send_probe(kv, bucket, 1) != 0)
            kv_absent(kv, "cannot ask JetStream");
        return;
    }
    if (err == 1) {
        char why[300];
        snprintf(why, sizeof(why), "bucket %s: %s (%ld)", kv->bucket[bucket], desc, code);
        kv_absent(kv, why);
        return;
    }
    if (--kv->probing > 0)
        return;
    kv->state = KV_READY;
    kv_log(kv, SOKETI_LOG_INFO,
           "shared state in JetStream key-value buckets %s, %s and %s (%d replica%s)",
           kv->bucket[0], kv->bucket[1], kv->bucket[2], kv->replicas, kv->replicas == 1 ? "" : "s");
    kv->was_absent = 0;
    kv->retry_ms = 0;
    kv->on_ready(kv->owner);
}

/* Sends STREAM.CREATE (or UPDATE) of one bucket. 0 or -1. */
static int
kv_send_probe(skt_nkv_t *kv, int bucket, int update)
{
    char subject[256];
    snprintf(subject, sizeof(subject), "$JS.API.STREAM.%s.KV_%s", update ? "UPDATE" : "CREATE",
             kv->bucket[bucket]);
    kv_op_t *op = kv_op_new(kv, bucket);
    if (!op)
        return -1;
    op->updating = update;
    const char *cfg = kv->config[bucket];
    if (skt_nr_request(kv->req, subject, NULL, cfg, strlen(cfg), SKT_NKV_TIMEOUT_MS, 0, kv_on_probe,
                       op, NULL) != 0) {
        free(op);
        return -1;
    }
    return 0;
}

/* Asks for every bucket (creating what is missing). */
static void
kv_probe(skt_nkv_t *kv)
{
    kv->gen++;
    kv->state = KV_PROBING;
    kv->probing = SKT_NKV_BUCKETS;
    for (int i = 0; i < SKT_NKV_BUCKETS; i++) {
        if (kv_send_probe(kv, i, 0) != 0) {
            kv_absent(kv, "cannot ask JetStream");
            return;
        }
    }
}

void
skt_nkv_up(skt_nkv_t *kv)
{
    evtimer_del(kv->retry);
    kv_probe(kv);
}

void
skt_nkv_down(skt_nkv_t *kv)
{
    evtimer_del(kv->retry);
    kv->state = KV_DOWN;
    kv->gen++;
}

int
skt_nkv_ready(const skt_nkv_t *kv)
{
    return kv->state == KV_READY;
}

/* ---- reading ------------------------------------------------------------------------ */

/* The answer to a direct get: the value and its revision, none (404), or an error. */
static void
kv_on_get(void *arg, natsMsg *reply)
{
    kv_op_t *op = arg;
    skt_nkv_get_cb cb = op->get;
    void *cbarg = op->arg;
    free(op);
    int status = reply ? skt_nr_status(reply) : -1;
    if (status == 404) {
        cb(cbarg, SKT_NKV_OK, NULL, 0, 0, reply);
        return;
    }
    if (status != 0) {
        cb(cbarg, SKT_NKV_ERROR, NULL, 0, 0, reply);
        return;
    }
    const char *seq = NULL, *operation = NULL;
    uint64_t rev = 0;
    if (natsMsgHeader_Get(reply, "Nats-Sequence", &seq) == NATS_OK && seq)
        rev = strtoull(seq, NULL, 10);
    if (rev == 0) {
        cb(cbarg, SKT_NKV_ERROR, NULL, 0, 0, reply);
        return;
    }
    /* a deleted or purged key has a revision but no value */
    if (natsMsgHeader_Get(reply, "KV-Operation", &operation) == NATS_OK && operation &&
        (strcmp(operation, "DEL") == 0 || strcmp(operation, "PURGE") == 0)) {
        cb(cbarg, SKT_NKV_OK, NULL, 0, rev, reply);
        return;
    }
    cb(cbarg, SKT_NKV_OK, natsMsg_GetData(reply), (size_t)natsMsg_GetDataLength(reply), rev, reply);
}

int
skt_nkv_get(skt_nkv_t *kv, int bucket, const char *key, skt_nkv_get_cb cb, void *arg)
{
    if (kv->state != KV_READY)
        return -1;
    char subject[1024];
    int n = snprintf(subject, sizeof(subject), "$JS.API.DIRECT.GET.KV_%s.$KV.%s.%s",
                     kv->bucket[bucket], kv->bucket[bucket], key);
    kv_op_t *op = n > 0 && (size_t)n < sizeof(subject) ? kv_op_new(kv, bucket) : NULL;
    if (!op)
        return -1;
    op->get = cb;
    op->arg = arg;
    if (skt_nr_request(kv->req, subject, NULL, NULL, 0, SKT_NKV_TIMEOUT_MS, 0, kv_on_get, op,
                       NULL) != 0) {
        free(op);
        return -1;
    }
    return 0;
}

/* ---- writing ------------------------------------------------------------------------ */

/* JetStream's acknowledgement of a write: its revision, a lost compare-and-set, or an
 * error. */
static void
kv_on_put(void *arg, natsMsg *reply)
{
    kv_op_t *op = arg;
    skt_nkv_t *kv = op->kv;
    skt_nkv_put_cb cb = op->put;
    void *cbarg = op->arg;
    int bucket = op->bucket;
    free(op);
    uint64_t seq = 0;
    long code = 0;
    int status = reply ? skt_nr_status(reply) : -1;
    int rv = reply && !status ? skt_np_puback(natsMsg_GetData(reply),
                                              (size_t)natsMsg_GetDataLength(reply), &seq, &code)
                              : -1;
    if (rv == 0) {
        cb(cbarg, SKT_NKV_OK, seq);
        return;
    }
    if (rv == 1 && code == SKT_NP_ERR_WRONG_LAST_SEQUENCE) {
        cb(cbarg, SKT_NKV_CONFLICT, 0);
        return;
    }
    if (reply)
        kv_log(kv, SOKETI_LOG_DEBUG, "JetStream refused a write to %s: %.*s", kv->bucket[bucket],
               natsMsg_GetDataLength(reply) > 200 ? 200 : natsMsg_GetDataLength(reply),
               natsMsg_GetData(reply));
    cb(cbarg, SKT_NKV_ERROR, 0);
}

int
skt_nkv_put(skt_nkv_t *kv, int bucket, const char *key, const char *value, size_t len,
            int64_t expect_rev, const char *const *headers, skt_nkv_put_cb cb, void *arg)
{
    if (kv->state != KV_READY)
        return -1;
    char subject[1024], rev[24];
    int n = snprintf(subject, sizeof(subject), "$KV.%s.%s", kv->bucket[bucket], key);
    if (n <= 0 || (size_t)n >= sizeof(subject))
        return -1;
    const char *hdrs[16];
    size_t h = 0;
    if (expect_rev >= 0) {
        snprintf(rev, sizeof(rev), "%" PRId64, expect_rev);
        hdrs[h++] = "Nats-Expected-Last-Subject-Sequence";
        hdrs[h++] = rev;
    }
    for (const char *const *x = headers; x && x[0] && h + 3 < sizeof(hdrs) / sizeof(*hdrs);
         x += 2) {
        hdrs[h++] = x[0];
        hdrs[h++] = x[1];
    }
    hdrs[h] = NULL;
    if (!cb)
        return skt_nr_publish(kv->req, subject, hdrs, value, len);
    kv_op_t *op = kv_op_new(kv, bucket);
    if (!op)
        return -1;
    op->put = cb;
    op->arg = arg;
    if (skt_nr_request(kv->req, subject, hdrs, value, len, SKT_NKV_TIMEOUT_MS, 0, kv_on_put, op,
                       NULL) != 0) {
        free(op);
        return -1;
    }
    return 0;
}

/* ---- lifetime ----------------------------------------------------------------------- */

skt_nkv_t *
skt_nkv_new(const soketi_host_t *host, skt_nr_t *req, const char *subject,
            const long max_age_s[SKT_NKV_BUCKETS], int replicas, const char *name,
            void (*on_ready)(void *owner), void *owner)
{
    skt_nkv_t *kv = calloc(1, sizeof(*kv));
    if (!kv)
        return NULL;
    kv->host = host;
    kv->req = req;
    kv->replicas = replicas > 0 ? replicas : 1;
    kv->on_ready = on_ready;
    kv->owner = owner;
    kv->name = strdup(name);
    kv->retry = evtimer_new(host->base, kv_on_retry, kv);
    int ok = kv->name && kv->retry;
    for (int i = 0; ok && i < SKT_NKV_BUCKETS; i++) {
        ok = (kv->bucket[i] = skt_np_bucket(subject, kv_what[i])) &&
             (kv->config[i] = skt_np_bucket_config(kv->bucket[i], max_age_s[i], kv->replicas));
    }
    if (!ok) {
        skt_nkv_free(kv);
        return NULL;
    }
    return kv;
}

void
skt_nkv_free(skt_nkv_t *kv)
{
    if (!kv)
        return;
    if (kv->retry)
        event_free(kv->retry);
    for (int i = 0; i < SKT_NKV_BUCKETS; i++) {
        free(kv->bucket[i]);
        free(kv->config[i]);
    }
    free(kv->name);
    free(kv);
}
