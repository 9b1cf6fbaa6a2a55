/* webhook_queue.c - webhooks through a durable queue shared by the nodes (queue.driver
 * redis): putting new webhooks, claiming due ones, settling attempts. See webhooks.h.
 *
 * DESIGN
 * The queue holds each pending webhook as a job (skt_whq_encode); this node holds in
 * memory only the jobs it claimed, at most `concurrency`, as ordinary deliveries (a
 * job_id set) that go through webhooks.c's slots and requests. One claim is in flight at a
 * time; it is sent by a periodic timer (every min(1 s, lease / 3): it also extends the
 * leases of the jobs held) and by a zero timer after a put or a settled job, never from a
 * callback directly, so that no adapter op runs while the adapter is being unloaded (its
 * pending callbacks are then answered with errors, and only free memory here).
 * Bounds: new jobs whose put is not answered yet count their bytes against
 * webhooks.maxPendingSizeInMb (past it a new webhook is dropped); the claimed jobs count in
 * the pending bytes like in-memory webhooks, and no claim is made while those are over
 * that budget. The queue's side is bounded per app by maxJobsPerApp (the store drops the
 * oldest, which is counted and logged as a drop here).
 * Shutdown (whq_closing, at the signal, while the adapter is still there): no more claims,
 * but the poll goes on extending the leases of what is still held; the jobs held and not
 * in flight are released at once (put back with mode 'u', due now, with their attempts),
 * then, WHQ_RELEASE_MARGIN_MS before the grace period ends, those still in flight are
 * stopped and released too, so that the releases are answered before the loop ends and
 * the adapter is unloaded. A release that fails or is not answered in time changes
 * nothing: the job stays stored under its lease, due again when it ends (at least once).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "features/webhooks_internal.h"
#include "util/log.h"

#define WHQ_MAX_CLAIM 64  /* jobs taken by one claim (the Redis adapter's bound too) */
#define WHQ_MAX_HELD 1024 /* jobs held at once: their ids go with every claim */
/* At shutdown, the time left to the releases of the jobs in flight to be answered before
 * the grace period ends (at most half of it). */
#define WHQ_RELEASE_MARGIN_MS 500

struct skt_whq_s {
    skt_webhooks_t *wh;
    skt_whq_driver_t drv;
    skt_whq_opts_t o;
    char node[64];
    unsigned long long seq;
    struct event *poll_ev, *kick_ev;
    int claiming;
    int again;    /* asked for while claiming: claim once more when it is answered */
    int closing;  /* whq_shutdown was called: nothing new is started */
    int draining; /* the server is closing (whq_closing): no more claims, held jobs released */
    size_t held;
    size_t put_bytes;                  /* new jobs not answered yet */
    struct event *cutoff_ev;           /* draining: stops and releases those in flight */
    int rel_burst;                     /* releases being sent: summarized after */
    size_t rel_sent, rel_done, rel_ok; /* releases sent, answered, answered OK */
    size_t rel_stopped;                /* of those sent, stopped in flight */
};

/* ---- the job format ------------------------------------------------------------------ */

char *
skt_whq_encode(const json_t *meta, const char *body, size_t len, size_t *out_len)
{
    char *head = json_dumps(meta, JSON_COMPACT | JSON_PRESERVE_ORDER);
    size_t hl = head ? strlen(head) : 0;
    char *out = head ? malloc(hl + 1 + len + 1) : NULL;
    if (out) {
        memcpy(out, head, hl);
        out[hl] = '\n';
        memcpy(out + hl + 1, body, len);
        out[hl + 1 + len] = '\0';
        *out_len = hl + 1 + len;
    }
    free(head);
    return out;
}

json_t *
skt_whq_decode(const char *data, size_t len, const char **body, size_t *body_len)
{
    const char *nl = memchr(data, '\n', len);
    json_t *m = nl ? json_loadb(data, (size_t)(nl - data), 0, NULL) : NULL;
    json_t *att = json_object_get(m, "attempts");
    if (!m || json_integer_value(json_object_get(m, "v")) != 1 ||
        !json_is_string(json_object_get(m, "app")) || !json_is_integer(att) ||
        json_integer_value(att) < 0 || !json_is_object(json_object_get(m, "hook")) ||
        !json_is_string(json_object_get(m, "key")) || !json_is_string(json_object_get(m, "sig"))) {
        json_decref(m);
        return NULL;
    }
    *body = nl + 1;
    *body_len = len - (size_t)(nl + 1 - data);
    return m;
}

/* d's job as it goes back into the queue (mode 'u'): its meta with attempts, its body; jl
 * bytes, the caller frees. NULL when out of memory (the job is left as it is stored, due
 * again when its lease ends). */
static char *
whq_job_again(delivery_t *d, long attempts, size_t *jl)
{
    if (json_object_set_new(d->job_meta, "attempts", json_integer(attempts)) != 0)
        return NULL;
    return skt_whq_encode(d->job_meta, d->body, d->body_len, jl);
}

/* ---- releasing at shutdown ----------------------------------------------------------- */

/* Logs the releases sent once they are all answered (not in the middle of a burst). */
static void
whq_release_summary(skt_whq_t *q)
{
    if (q->rel_burst || !q->rel_sent || q->rel_done < q->rel_sent)
        return;
    char stopped[64] = "";
    if (q->rel_stopped)
        snprintf(stopped, sizeof(stopped), " (%zu of them stopped in flight)", q->rel_stopped);
    if (q->rel_ok)
        skt_log(SKT_LOG_INFO,
                "webhooks: %zu claimed webhook(s) released at shutdown%s: due now for the other "
                "nodes",
                q->rel_ok, stopped);
    if (q->rel_ok < q->rel_sent)
        skt_log(SKT_LOG_WARN,
                "webhooks: %zu claimed webhook(s) not released at shutdown (the queue did not "
                "answer in time): due again when their leases end (queue.redis.leaseMs)",
                q->rel_sent - q->rel_ok);
    q->rel_sent = q->rel_done = q->rel_ok = q->rel_stopped = 0;
}

static void
whq_release_done(void *arg, int status, long count)
{
    skt_whq_t *q = arg;
    q->rel_done++;
    q->rel_ok += status >= 0 && count >= 0; /* -1: no longer stored (dropped for newer ones) */
    whq_release_summary(q);
}

/* Puts job id of app back into the queue with data (len bytes), due now: another node
 * claims it without waiting for its lease to end. If the put fails, the lease does. */
static void
whq_release_job(skt_whq_t *q, const char *app, const char *id, const char *data, size_t len)
{
    q->rel_sent++;
    q->drv.put(q->drv.self, app, id, data, len, 0, 0, 'u', whq_release_done, q);
}

/* Releases d's job with its attempts: one in flight (about to be stopped) was not answered,
 * so, as when a lease ends, that attempt does not count. d is then the caller's to free. */
static void
whq_release(skt_whq_t *q, delivery_t *d)
{
    int stopped = d->state == D_INFLIGHT;
    size_t jl = 0;
    char *job = whq_job_again(d, d->attempts - stopped, &jl);
    if (!job) { /* out of memory: its lease ends */
        q->rel_sent++;
        q->rel_done++;
        return;
    }
    q->rel_stopped += stopped;
    whq_release_job(q, d->app->id, d->job_id, job, jl);
    free(job);
}

/* Releases the jobs held, all of them or (all 0) those not in flight, and frees their
 * deliveries. */
static void
whq_release_held(skt_whq_t *q, int all)
{
    size_t pos = 0;
    void *v;
    q->rel_burst = 1;
    while (skt_map_next(q->wh->apps, &pos, NULL, NULL, &v)) {
        delivery_t *next;
        for (delivery_t *d = ((wh_app_t *)v)->dhead; d; d = next) {
            next = d->next;
            if (d->job_id && (all || d->state != D_INFLIGHT)) {
                whq_release(q, d);
                skt_wh_delivery_stop(d);
            }
        }
    }
    q->rel_burst = 0;
    whq_release_summary(q);
}

/* ---- claiming ------------------------------------------------------------------------ */

static void
whq_kick(skt_whq_t *q)
{
    struct timeval now = {0, 0};
    evtimer_add(q->kick_ev, &now);
}

/* 1 when this node holds job id already (its loop stalled past the lease, and its own
 * claim took it again). */
static int
whq_holds(skt_whq_t *q, const char *id)
{
    size_t pos = 0;
    void *v;
    while (skt_map_next(q->wh->apps, &pos, NULL, NULL, &v))
        for (delivery_t *d = ((wh_app_t *)v)->dhead; d; d = d->next)
            if (d->job_id && strcmp(d->job_id, id) == 0)
                return 1;
    return 0;
}

/* Turns a job into a delivery of this node: a claimed one (claimed set: it keeps its id
 * and is settled in the queue), or one the queue could not take (sent from memory, within
 * the in-memory budgets). A claimed job that is no webhook, or whose target cannot be used
 * here, is removed. */
static void
whq_take(skt_whq_t *q, const skt_whq_job_t *job, int claimed)
{
    const char *body, *url;
    char why[256];
    size_t len;
    skt_lambda_target_t *lt = NULL;
    json_t *m = skt_whq_decode(job->data, job->len, &body, &len);
    wh_app_t *a = m ? skt_wh_app(q->wh, json_string_value(json_object_get(m, "app"))) : NULL;
    if (m && !a) { /* out of memory: its lease ends and a claim takes it again */
        json_decref(m);
        return;
    }
    if (!m || skt_wh_destination(a, json_object_get(m, "hook"), &url, &lt) != 0) {
        if (!m)
            skt_log(SKT_LOG_WARN, "webhooks: job %.64s in the queue is not a webhook: removed",
                    job->id);
        json_decref(m);
        if (claimed)
            q->drv.put(q->drv.self, a ? a->id : "", job->id, NULL, 0, 0, 0, 'd', NULL, NULL);
        return;
    }
    if (!claimed && skt_wh_make_room(a, len, why, sizeof(why)) != 0) {
        a->stats.dropped++;
        skt_whlog_note(&a->drops, "%s: a new webhook of %zu bytes dropped: %s", url, len, why);
        skt_lambda_target_free(lt);
        json_decref(m);
        return;
    }
    struct curl_slist *headers =
        lt ? NULL
           : skt_wh_headers(q->wh, json_string_value(json_object_get(m, "key")),
                            json_object_get(m, "hook"),
                            json_string_value(json_object_get(m, "sig")));
    char *copy = malloc(len + 1);
    char *id = claimed ? strdup(job->id) : NULL;
    delivery_t *d = copy && (id || !claimed) && (lt || headers)
                        ? skt_wh_delivery_add(a, url, lt, memcpy(copy, body, len), len, headers)
                        : NULL;
    if (!d) { /* out of memory: a claimed job's lease ends and another claim takes it */
        if (!copy || (claimed && !id) || !(lt || headers)) {
            free(copy);
            curl_slist_free_all(headers);
            skt_lambda_target_free(lt);
        }
        free(id);
        json_decref(m);
        a->stats.failed += !claimed;
        skt_log(SKT_LOG_ERROR, "webhooks: out of memory taking a queued webhook");
        return;
    }
    d->attempts = (int)json_integer_value(json_object_get(m, "attempts"));
    if (claimed) {
        d->job_id = id;
        d->job_meta = m;
        q->held++;
    } else {
        json_decref(m);
    }
    skt_wh_pump(a);
}

/* Releases jobs claimed while the server was closing, with their data as it is. */
static void
whq_release_claimed(skt_whq_t *q, const skt_whq_job_t *jobs, size_t n)
{
    q->rel_burst = 1;
    for (size_t i = 0; i < n; i++) {
        const char *body;
        size_t len;
        json_t *m = skt_whq_decode(jobs[i].data, jobs[i].len, &body, &len);
        const char *app = json_string_value(json_object_get(m, "app"));
        whq_release_job(q, app ? app : "", jobs[i].id, jobs[i].data, jobs[i].len);
        json_decref(m);
    }
    q->rel_burst = 0;
    whq_release_summary(q);
}

static void
whq_claimed(void *arg, int status, const skt_whq_job_t *jobs, size_t n)
{
    skt_whq_t *q = arg;
    q->claiming = 0;
    if (status < 0)
        return; /* the adapter logs why; the next poll tries again */
    if (q->draining) {
        /* claimed before the shutdown began: released as they are */
        whq_release_claimed(q, jobs, n);
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (!whq_holds(q, jobs[i].id))
            whq_take(q, &jobs[i], 1);
    if (n || q->again)
        whq_kick(q); /* there may be more, or room was made meanwhile */
    q->again = 0;
}

/* Ids of the jobs held, into ids (at most max); how many. */
static size_t
whq_held(skt_whq_t *q, const char **ids, size_t max)
{
    size_t n = 0, pos = 0;
    void *v;
    while (n < max && skt_map_next(q->wh->apps, &pos, NULL, NULL, &v))
        for (delivery_t *d = ((wh_app_t *)v)->dhead; d && n < max; d = d->next)
            if (d->job_id)
                ids[n++] = d->job_id;
    return n;
}

/* Takes due jobs while there is room and, with extend (the periodic poll) or along with
 * them, extends the held jobs' leases. */
static void
whq_claim(skt_whq_t *q, int extend)
{
    if (q->closing)
        return;
    if (q->claiming) {
        q->again = 1;
        return;
    }
    skt_webhooks_t *wh = q->wh;
    long room = q->o.concurrency - (long)q->held;
    if (wh->bytes >= wh->o.total_bytes_max || room < 0 || q->draining)
        room = 0;
    if (room > WHQ_MAX_CLAIM)
        room = WHQ_MAX_CLAIM;
    const char **ids = q->held ? calloc(q->held, sizeof(*ids)) : NULL;
    size_t n = ids ? whq_held(q, ids, q->held) : 0;
    if (room || (extend && n)) {
        q->claiming = 1;
        q->drv.claim(q->drv.self, ids, n, room, q->o.lease_ms, whq_claimed, q);
    }
    free(ids);
}

static void
whq_poll(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    whq_claim(arg, 1);
}

static void
whq_kicked(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    whq_claim(arg, 0);
}

/* ---- putting and settling ------------------------------------------------------------ */

/* A new job on its way to the queue: kept until answered, to be sent from memory when the
 * queue cannot take it. */
typedef struct whq_put_s {
    wh_app_t *a;
    size_t len;
    char id[96];
    char data[];
} whq_put_t;

static void
whq_put_done(void *arg, int status, long count)
{
    whq_put_t *p = arg;
    wh_app_t *a = p->a;
    skt_whq_t *q = a->wh->q;
    q->put_bytes -= p->len;
    if (status < 0 && !q->closing) {
        skt_whlog_note(&a->fails, "the queue is unreachable: a webhook is sent from this node's "
                                  "memory (lost if it dies)");
        skt_whq_job_t job = {.id = p->id, .data = p->data, .len = p->len};
        whq_take(q, &job, 0);
    }
    free(p);
    if (status < 0)
        return;
    for (long i = 0; i < count; i++) {
        a->stats.dropped++;
        skt_whlog_note(&a->drops,
                       "the oldest queued webhook dropped to make room, "
                       "%ld queued (queue.redis.maxJobsPerApp)",
                       q->o.max_per_app);
    }
    whq_kick(q);
}

static void
whq_push(skt_whq_t *q, wh_app_t *a, const json_t *hook, const char *sig, const char *body,
         size_t len)
{
    skt_webhooks_t *wh = q->wh;
    json_t *m = json_pack("{s:i, s:s, s:i, s:O, s:s, s:s}", "v", 1, "app", a->id, "attempts", 0,
                          "hook", hook, "key", a->key, "sig", sig);
    size_t jl = 0;
    char *job = m ? skt_whq_encode(m, body, len, &jl) : NULL;
    whq_put_t *p = job ? malloc(sizeof(*p) + jl) : NULL;
    json_decref(m);
    if (!p || q->put_bytes + jl > wh->o.total_bytes_max) {
        a->stats.dropped++;
        skt_whlog_note(&a->drops, "a new webhook of %zu bytes dropped: %s", len,
                       p ? "too many bytes on their way to the queue "
                           "(webhooks.maxPendingSizeInMb)"
                         : "out of memory");
        free(job);
        free(p);
        return;
    }
    snprintf(p->id, sizeof(p->id), "%s-%016llx", q->node, ++q->seq);
    memcpy(p->data, job, jl);
    free(job);
    p->a = a;
    p->len = jl;
    q->put_bytes += jl;
    q->drv.put(q->drv.self, a->id, p->id, p->data, jl, 0, q->o.max_per_app, 'n', whq_put_done, p);
}

static void
whq_settle(skt_whq_t *q, delivery_t *d, long retry_ms)
{
    if (retry_ms < 0) {
        q->drv.put(q->drv.self, d->app->id, d->job_id, NULL, 0, 0, 0, 'd', NULL, NULL);
    } else {
        size_t jl = 0;
        char *job = whq_job_again(d, d->attempts, &jl);
        if (job) /* else left as it is, due again when its lease ends */
            q->drv.put(q->drv.self, d->app->id, d->job_id, job, jl, retry_ms, 0, 'u', NULL, NULL);
        free(job);
    }
    whq_kick(q);
}

static void
whq_forget(skt_whq_t *q, delivery_t *d)
{
    q->held--;
    free(d->job_id);
    json_decref(d->job_meta);
    d->job_id = NULL;
    d->job_meta = NULL;
}

/* ---- lifetime ------------------------------------------------------------------------ */

static void
whq_cutoff(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    whq_release_held(arg, 1);
}

/* The server frees the sender in grace_ms: no more claims (the leases of the jobs held are
 * still extended); the jobs held and not in flight are released now; those in flight get
 * until WHQ_RELEASE_MARGIN_MS (at most half the grace period) before its end to be
 * answered and settled, then are stopped and released, so that the releases are answered
 * while the adapter is still there. */
static void
whq_closing(skt_whq_t *q, long grace_ms)
{
    if (q->draining || q->closing)
        return;
    q->draining = 1;
    whq_release_held(q, 0);
    long margin = grace_ms / 2 < WHQ_RELEASE_MARGIN_MS ? grace_ms / 2 : WHQ_RELEASE_MARGIN_MS;
    long ms = grace_ms - margin;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    q->cutoff_ev = ms > 0 ? evtimer_new(q->wh->o.base, whq_cutoff, q) : NULL;
    if (!q->cutoff_ev || evtimer_add(q->cutoff_ev, &tv) != 0)
        whq_release_held(q, 1); /* no time to wait (or out of memory): now */
}

static void
whq_shutdown(skt_whq_t *q)
{
    q->closing = 1;
    q->rel_done = q->rel_sent; /* those still unanswered now never will be */
    whq_release_summary(q);
    if (q->held)
        skt_log(SKT_LOG_INFO, "webhooks: %zu claimed webhook(s) left in the queue for any node",
                q->held);
}

static void
whq_free(skt_whq_t *q)
{
    if (q->poll_ev)
        event_free(q->poll_ev);
    if (q->kick_ev)
        event_free(q->kick_ev);
    if (q->cutoff_ev)
        event_free(q->cutoff_ev);
    free(q);
}

int
skt_webhooks_use_queue(skt_webhooks_t *wh, const skt_whq_driver_t *drv, const skt_whq_opts_t *o)
{
    skt_whq_t *q = calloc(1, sizeof(*q));
    if (!q)
        return -1;
    q->wh = wh;
    q->drv = *drv;
    q->o = *o;
    q->o.node_id = NULL;
    if (q->o.concurrency < 1)
        q->o.concurrency = 1;
    if (q->o.concurrency > WHQ_MAX_HELD) {
        skt_log(SKT_LOG_WARN, "queue.redis.concurrency %ld: a node holds at most %d webhooks",
                q->o.concurrency, WHQ_MAX_HELD);
        q->o.concurrency = WHQ_MAX_HELD;
    }
    if (q->o.lease_ms < 100)
        q->o.lease_ms = 100;
    snprintf(q->node, sizeof(q->node), "%.60s", o->node_id ? o->node_id : "node");
    long every = q->o.lease_ms / 3 < 1000 ? q->o.lease_ms / 3 : 1000;
    struct timeval tv = {every / 1000, (every % 1000) * 1000};
    q->poll_ev = event_new(wh->o.base, -1, EV_PERSIST, whq_poll, q);
    q->kick_ev = evtimer_new(wh->o.base, whq_kicked, q);
    if (!q->poll_ev || !q->kick_ev || event_add(q->poll_ev, &tv) != 0) {
        whq_free(q);
        return -1;
    }
    static const wh_queue_ops_t ops = {whq_push,    whq_settle,   whq_forget,
                                       whq_closing, whq_shutdown, whq_free};
    wh->q = q;
    wh->qops = &ops;
    whq_kick(q);
    return 0;
}
