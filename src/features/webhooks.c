/* webhooks.c - Pusher webhooks: batching, budgets, retries; delivery through curl_loop.c.
 *
 * Lifetimes: a wh_app_t lives from its app's first event until skt_webhooks_free (apps are
 * few). A wh_event_t lives in its app's batch until the batch is flushed. A delivery_t
 * lives from the flush that made it until its last attempt ends or it is dropped; it holds
 * a copy of everything it sends (for a Lambda function, its resolved target with the
 * credentials), so a reload that replaces the app changes nothing under it. A delivery in
 * flight is never dropped: its request owns pointers into it (a Lambda delivery's headers
 * are replaced only between attempts). A delivery claimed from the durable queue
 * (queue.driver redis, webhook_queue.c) has a job_id: it is settled in the queue (removed,
 * or put back for a retry by any node) instead of being retried from a timer here.
 */
#include "features/webhooks.h"

#include "features/webhooks_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <unistd.h>

#include "features/curl_loop.h"
#include "features/lambda.h"
#include "features/webhook_log.h"
#include "util/jsonw.h"
#include "util/log.h"
#include "util/map.h"

static struct timeval
tv_of(long ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    return tv;
}

/* ------------------------------------------------------------ deliveries */

#define pump skt_wh_pump

static size_t
pending(const wh_app_t *a)
{
    return a->nqueued + a->ninflight + a->nwaiting;
}

/* Moves d to state s, keeping the app's counters. */
static void
set_state(delivery_t *d, int s)
{
    wh_app_t *a = d->app;
    size_t *count[] = {&a->nqueued, &a->ninflight, &a->nwaiting};
    if (d->state >= 0)
        (*count[d->state])--;
    if (d->state == D_INFLIGHT)
        a->inflight_bytes -= d->body_len;
    d->state = s;
    if (s >= 0)
        (*count[s])++;
    if (s == D_INFLIGHT)
        a->inflight_bytes += d->body_len;
}

static void
enqueue(delivery_t *d)
{
    wh_app_t *a = d->app;
    set_state(d, D_QUEUED);
    d->qnext = NULL;
    d->qprev = a->qtail;
    if (a->qtail)
        a->qtail->qnext = d;
    else
        a->qhead = d;
    a->qtail = d;
}

static void
dequeue(delivery_t *d)
{
    wh_app_t *a = d->app;
    if (d->qprev)
        d->qprev->qnext = d->qnext;
    else
        a->qhead = d->qnext;
    if (d->qnext)
        d->qnext->qprev = d->qprev;
    else
        a->qtail = d->qprev;
    d->qprev = d->qnext = NULL;
}

/* Frees d, which is not in flight (its request is gone), and forgets it. */
static void
delivery_free(delivery_t *d)
{
    wh_app_t *a = d->app;
    if (d->state == D_QUEUED)
        dequeue(d);
    set_state(d, -1);
    if (d->prev)
        d->prev->next = d->next;
    else
        a->dhead = d->next;
    if (d->next)
        d->next->prev = d->prev;
    else
        a->dtail = d->prev;
    a->bytes -= d->body_len;
    a->wh->bytes -= d->body_len;
    if (d->retry_ev)
        event_free(d->retry_ev);
    if (d->job_id)
        d->app->wh->qops->forget(d->app->wh->q, d);
    curl_slist_free_all(d->headers);
    skt_lambda_target_free(d->lambda);
    free(d->url);
    free(d->body);
    free(d);
}

void
skt_wh_delivery_stop(delivery_t *d)
{
    if (d->req)
        skt_curl_cancel(d->app->wh->curl, d->req);
    d->req = NULL;
    delivery_free(d);
}

/* Drops a's oldest pending webhook that is not in flight, for a reason (why); 0 when there
 * is none. */
static int
drop_oldest(wh_app_t *a, const char *why)
{
    delivery_t *d = a->dhead;
    while (d && d->state == D_INFLIGHT)
        d = d->next;
    if (!d)
        return 0;
    a->stats.dropped++;
    skt_whlog_note(&a->drops, "%s: the oldest pending dropped to make room, %s", d->url, why);
    delivery_free(d);
    return 1;
}

/* The app holding the most bytes that could be dropped (not in flight); NULL when none. */
static wh_app_t *
biggest(skt_webhooks_t *wh)
{
    wh_app_t *best = NULL;
    size_t most = 0, pos = 0;
    void *v;
    while (skt_map_next(wh->apps, &pos, NULL, NULL, &v)) {
        wh_app_t *a = v;
        if (a->bytes - a->inflight_bytes > most) {
            most = a->bytes - a->inflight_bytes;
            best = a;
        }
    }
    return best;
}

int
skt_wh_make_room(wh_app_t *a, size_t bytes, char *why, size_t whylen)
{
    skt_webhooks_t *wh = a->wh;
    const skt_webhooks_opts_t *o = &wh->o;
    char r[160];
    if (bytes > o->app_bytes_max || bytes > o->total_bytes_max) {
        snprintf(why, whylen, "its %zu bytes are more than the pending webhooks may hold", bytes);
        return -1;
    }
    snprintf(r, sizeof(r), "%zu webhooks pending (webhooks.maxPendingPerApp)", o->queue_max);
    while (pending(a) >= o->queue_max)
        if (!drop_oldest(a, r))
            goto full;
    snprintf(r, sizeof(r), "%zu bytes pending (webhooks.maxPendingSizePerAppInMb)",
             o->app_bytes_max);
    while (a->bytes + bytes > o->app_bytes_max)
        if (!drop_oldest(a, r))
            goto full;
    snprintf(r, sizeof(r), "%zu bytes pending for all apps (webhooks.maxPendingSizeInMb)",
             o->total_bytes_max);
    while (wh->bytes + bytes > o->total_bytes_max) {
        wh_app_t *v = biggest(wh);
        if (!v || !drop_oldest(v, r))
            goto full;
    }
    return 0;
full:
    snprintf(why, whylen, "%s; the rest is in flight", r);
    return -1;
}

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    delivery_t *d = arg;
    enqueue(d);
    pump(d->app);
}

static int
retryable(long status)
{
    /* 0: no answer (refused, reset, timed out, DNS); 1xx: no final answer */
    return status < 200 || status >= 500 || status == 408 || status == 429;
}

/* One attempt ended: count it, retry it later, or let it go. */
static void
attempt_done(void *arg, const skt_curl_answer_t *ans)
{
    delivery_t *d = arg;
    wh_app_t *a = d->app;
    skt_webhooks_t *wh = a->wh;
    d->req = NULL;
    long delay = wh->o.backoff_ms;
    for (int i = 1; i < d->attempts && delay < 60000; i++)
        delay *= 2;
    if (ans->status >= 200 && ans->status < 300) {
        a->stats.sent++;
        skt_log(SKT_LOG_DEBUG, "webhooks: app %s: %s answered %ld", a->id, d->url, ans->status);
        if (d->job_id)
            d->app->wh->qops->settle(d->app->wh->q, d, -1);
        delivery_free(d);
    } else if (retryable(ans->status) && d->attempts < wh->o.max_attempts && d->job_id) {
        a->stats.retried++; /* the durable queue keeps it until then: any node retries it */
        skt_log(SKT_LOG_DEBUG, "webhooks: app %s: %s: %s %ld; retrying in %ld ms", a->id, d->url,
                ans->error ? ans->error : "answered", ans->status, delay);
        d->app->wh->qops->settle(d->app->wh->q, d, delay);
        delivery_free(d);
    } else if (retryable(ans->status) && d->attempts < wh->o.max_attempts &&
               (d->retry_ev || (d->retry_ev = evtimer_new(wh->o.base, retry_cb, d)))) {
        a->stats.retried++;
        set_state(d, D_WAITING);
        skt_log(SKT_LOG_DEBUG, "webhooks: app %s: %s: %s %ld; retrying in %ld ms", a->id, d->url,
                ans->error ? ans->error : "answered", ans->status, delay);
        struct timeval tv = tv_of(delay);
        evtimer_add(d->retry_ev, &tv);
    } else {
        a->stats.failed++;
        if (ans->error)
            skt_whlog_note(&a->fails, "%s failed after %d attempt(s): %s", d->url, d->attempts,
                           ans->error);
        else
            skt_whlog_note(&a->fails, "%s answered %ld after %d attempt(s)%s, body \"%s\"", d->url,
                           ans->status, d->attempts,
                           ans->status >= 300 && ans->status < 400 ? " (redirects are not followed)"
                                                                   : "",
                           ans->excerpt);
        if (d->job_id)
            d->app->wh->qops->settle(d->app->wh->q, d, -1);
        delivery_free(d);
    }
    pump(a);
}

void
skt_wh_pump(wh_app_t *a)
{
    skt_webhooks_t *wh = a->wh;
    while (a->qhead && a->ninflight < wh->o.max_inflight) {
        delivery_t *d = a->qhead;
        dequeue(d);
        set_state(d, D_INFLIGHT);
        d->attempts++;
        if (d->lambda) { /* signed now: a signature is only valid for minutes */
            curl_slist_free_all(d->headers);
            d->headers =
                skt_lambda_headers(d->lambda, wh->user_agent, d->body, d->body_len, time(NULL));
        }
        d->req = d->headers ? skt_curl_post(wh->curl, d->url, d->headers, d->body, d->body_len,
                                            wh->o.timeout_ms, wh->o.connect_ms, attempt_done, d)
                            : NULL;
        if (!d->req) {
            a->stats.failed++;
            skt_whlog_note(&a->fails, "%s: cannot start a request (out of memory)", d->url);
            if (d->job_id)
                d->app->wh->qops->settle(d->app->wh->q, d, -1);
            delivery_free(d);
        }
    }
}

/* soketi's headers: its defaults, the webhook's own (which may replace a default), then
 * X-Pusher-Key and X-Pusher-Signature, which nothing replaces. */
struct curl_slist *
skt_wh_headers(skt_webhooks_t *wh, const char *key, const json_t *hook, const char *sig)
{
    const json_t *custom = json_object_get(hook, "headers");
    const char *defaults[3][2] = {{"Accept", "application/json"},
                                  {"Content-Type", "application/json"},
                                  {"User-Agent", wh->user_agent}};
    struct curl_slist *l = NULL;
    int ok = 1;
    for (int i = 0; i < 3; i++) {
        int replaced = 0;
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)custom, k, v) replaced |= strcasecmp(k, defaults[i][0]) == 0;
        if (!replaced)
            l = skt_curl_add_header(l, defaults[i][0], defaults[i][1], &ok);
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)custom, k, v)
    {
        if (json_is_string(v) && strcasecmp(k, "X-Pusher-Key") != 0 &&
            strcasecmp(k, "X-Pusher-Signature") != 0)
            l = skt_curl_add_header(l, k, json_string_value(v), &ok);
    }
    l = skt_curl_add_header(l, "X-Pusher-Key", key, &ok);
    l = skt_curl_add_header(l, "X-Pusher-Signature", sig, &ok);
    /* No "Expect: 100-continue" round trip before larger bodies. */
    struct curl_slist *e = curl_slist_append(l, "Expect:");
    if (!e || !ok) {
        curl_slist_free_all(e ? e : l);
        return NULL;
    }
    return e;
}

/* The length of the body of the events hook selects, after a head of hl bytes; 0 when it
 * selects none. */
static size_t
body_len(const json_t *hook, const wh_event_t *events, size_t hl)
{
    size_t n = 0, total = hl + 2;
    for (const wh_event_t *e = events; e; e = e->next)
        if (skt_webhooks_selects(hook, e->name, e->channel))
            total += e->len + (n++ ? 1 : 0);
    return n ? total : 0;
}

/* head, the events hook selects joined with commas, then "]}": exactly what jansson writes
 * for {"time_ms": ..., "events": [...]} (JSON_COMPACT | JSON_PRESERVE_ORDER), soketi's body.
 * len is body_len()'s; NULL when out of memory. */
static char *
make_body(const json_t *hook, const wh_event_t *events, const char *head, size_t len)
{
    char *body = malloc(len + 1);
    if (!body)
        return NULL;
    size_t o = strlen(head), n = 0;
    memcpy(body, head, o);
    for (const wh_event_t *e = events; e; e = e->next)
        if (skt_webhooks_selects(hook, e->name, e->channel)) {
            if (n++)
                body[o++] = ',';
            memcpy(body + o, e->text, e->len);
            o += e->len;
        }
    memcpy(body + o, "]}", 3);
    return body;
}

/* soketi's headers as the JSON object of a Lambda Payload: what the HTTP path sends, with
 * JavaScript's object semantics ({...defaults, ...webhook.headers, X-Pusher-*}): a custom
 * header replaces a default only when spelt the same. NULL when out of memory. */
static json_t *
payload_headers(const skt_webhooks_t *wh, const wh_app_t *a, const json_t *hook, const char *sig)
{
    json_t *h = json_pack("{s:s, s:s, s:s}", "Accept", "application/json", "Content-Type",
                          "application/json", "User-Agent", wh->user_agent);
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(hook, "headers"), k, v)
    {
        if (h && json_is_string(v) && json_object_set(h, k, v) != 0)
            json_decref(h), h = NULL;
    }
    if (h && (json_object_set_new(h, "X-Pusher-Key", json_string(a->key)) != 0 ||
              json_object_set_new(h, "X-Pusher-Signature", json_string(sig)) != 0))
        json_decref(h), h = NULL;
    return h;
}

/* What is sent for hook: body (len bytes, signed with the app secret: sig) as it is with its
 * headers to a url, or wrapped in soketi's Lambda Payload (*len updated) for lt. 0, or -1
 * when out of memory (body freed). */
static int
prepare(skt_webhooks_t *wh, const wh_app_t *a, const json_t *hook, int lambda, char **body,
        size_t *len, struct curl_slist **headers, char sig[65])
{
    wh->o.sign(a->secret, strlen(a->secret), *body, *len, sig);
    if (!lambda) {
        *headers = skt_wh_headers(wh, a->key, hook, sig);
    } else {
        json_t *h = payload_headers(wh, a, hook, sig);
        char *wrapped = h ? skt_lambda_payload(*body, *len, h, len) : NULL;
        json_decref(h);
        free(*body);
        *body = wrapped;
    }
    if (*body && (lambda || *headers))
        return 0;
    free(*body);
    *body = NULL;
    return -1;
}

/* A delivery of body (len bytes, taken) with headers (taken; NULL for lt, signed at each
 * attempt) to url, or to lt's function (lt taken), linked as a's newest; NULL when out of
 * memory (all freed). */
delivery_t *
skt_wh_delivery_add(wh_app_t *a, const char *url, skt_lambda_target_t *lt, char *body, size_t len,
                    struct curl_slist *headers)
{
    skt_webhooks_t *wh = a->wh;
    delivery_t *d = calloc(1, sizeof(*d));
    if (!d) {
        free(body);
        curl_slist_free_all(headers);
        skt_lambda_target_free(lt);
        return NULL;
    }
    d->app = a;
    d->state = -1;
    d->body = body;
    d->body_len = len;
    d->headers = headers;
    d->lambda = lt;
    d->prev = a->dtail;
    if (a->dtail)
        a->dtail->next = d;
    else
        a->dhead = d;
    a->dtail = d;
    a->bytes += len;
    wh->bytes += len;
    d->url = strdup(lt ? lt->url : url);
    if (!d->url) {
        delivery_free(d);
        return NULL;
    }
    enqueue(d);
    return d;
}

static long long
wall_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

int
skt_wh_destination(wh_app_t *a, const json_t *hook, const char **url, skt_lambda_target_t **lt)
{
    char why[256];
    const char *fn = json_string_value(json_object_get(hook, "lambda_function"));
    *url = json_string_value(json_object_get(hook, "url"));
    *lt = NULL;
    if (*url && !skt_curl_url_ok(*url)) {
        a->stats.failed++;
        skt_whlog_note(&a->fails, "%s: not an http:// or https:// URL, not sent", *url);
        return -1;
    }
    if (!*url && fn && !(*lt = skt_lambda_target(hook, &a->wh->aws, why, sizeof(why)))) {
        a->stats.failed++;
        skt_whlog_note(&a->fails, "Lambda function %.200s: %s, not invoked", fn, why);
        return -1;
    }
    return *url || *lt ? 0 : -1;
}

/* Sends events (a list) to each of the app's webhooks that selects some, within the budgets. */
static void
flush(wh_app_t *a, const wh_event_t *events)
{
    char head[64], why[256], sig[65];
    snprintf(head, sizeof(head), "{\"time_ms\":%lld,\"events\":[", wall_ms());
    size_t hl = strlen(head), i;
    json_t *hook;
    json_array_foreach(a->hooks, i, hook)
    {
        const char *url;
        skt_lambda_target_t *lt;
        size_t len = body_len(hook, events, hl);
        if (!len || skt_wh_destination(a, hook, &url, &lt) != 0)
            continue;
        char to[512]; /* for the log: lt may be gone by then */
        snprintf(to, sizeof(to), "%s", lt ? lt->url : url);
        struct curl_slist *headers = NULL;
        char *body = make_body(hook, events, head, len);
        if (!body || prepare(a->wh, a, hook, lt != NULL, &body, &len, &headers, sig) != 0) {
            a->stats.failed++;
            skt_whlog_note(&a->fails, "%s: out of memory building a webhook", to);
        } else if (a->wh->q) {
            a->wh->qops->push(a->wh->q, a, hook, sig, body, len); /* rebuilt by the claiming node */
        } else if (skt_wh_make_room(a, len, why, sizeof(why)) != 0) {
            a->stats.dropped++;
            skt_whlog_note(&a->drops, "%s: a new webhook of %zu bytes dropped: %s", to, len, why);
        } else {
            delivery_t *d = skt_wh_delivery_add(a, url, lt, body, len, headers);
            if (!d)
                a->stats.failed++,
                    skt_whlog_note(&a->fails, "%s: out of memory building a webhook", to);
            continue; /* body, headers and lt are the delivery's, or freed */
        }
        free(body);
        curl_slist_free_all(headers);
        skt_lambda_target_free(lt);
    }
    pump(a);
}

/* ------------------------------------------------------------ events and batches */

static void
events_free(wh_event_t *e)
{
    while (e) {
        wh_event_t *next = e->next;
        free(e);
        e = next;
    }
}

/* event (a JSON object with "name" and "channel") serialized; NULL when it has no name or
 * channel, or out of memory. */
static wh_event_t *
wh_event_new(const json_t *event)
{
    const char *name = json_string_value(json_object_get(event, "name"));
    const char *channel = json_string_value(json_object_get(event, "channel"));
    size_t tl = 0;
    char *text = name && channel ? skt_jw_dump(event, &tl) : NULL;
    if (!text)
        return NULL;
    size_t nl = strlen(name), cl = strlen(channel);
    wh_event_t *e = malloc(sizeof(*e) + nl + cl + tl + 3);
    if (e) {
        char *p = e->data;
        e->next = NULL;
        e->name = memcpy(p, name, nl + 1);
        p += nl + 1;
        e->channel = memcpy(p, channel, cl + 1);
        p += cl + 1;
        e->text = memcpy(p, text, tl + 1);
        e->len = tl;
    }
    free(text);
    return e;
}

/* Sends the app's batch now. */
static void
batch_flush(wh_app_t *a)
{
    wh_event_t *events = a->batch;
    a->batch = a->batch_tail = NULL;
    a->batch_bytes = 0;
    evtimer_del(a->batch_ev);
    flush(a, events);
    events_free(events);
}

static void
batch_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    batch_flush(arg);
}

/* Adds e to the app's batch: soketi's rule, the first event of a batch starts the timer and
 * whatever arrives until it fires goes in the same webhook; ours, a batch that would pass
 * batch_bytes_max is sent first and e begins the next. */
static void
batch_add(wh_app_t *a, wh_event_t *e)
{
    skt_webhooks_t *wh = a->wh;
    if (a->batch && a->batch_bytes + e->len + 1 > wh->o.batch_bytes_max)
        batch_flush(a);
    if (!a->batch) {
        struct timeval tv = tv_of(wh->o.batch_ms);
        evtimer_add(a->batch_ev, &tv);
        a->batch = e;
    } else {
        a->batch_tail->next = e;
    }
    a->batch_tail = e;
    a->batch_bytes += e->len + 1;
}

/* Frees an app's state; its deliveries must be gone. */
static void
wh_app_free(wh_app_t *a)
{
    skt_whlog_fini(&a->drops);
    skt_whlog_fini(&a->fails);
    if (a->batch_ev)
        event_free(a->batch_ev);
    events_free(a->batch);
    json_decref(a->hooks);
    free(a->key);
    free(a->secret);
    free(a);
}

wh_app_t *
skt_wh_app(skt_webhooks_t *wh, const char *app_id)
{
    size_t idl = strlen(app_id);
    wh_app_t *a = skt_map_get(wh->apps, app_id, idl);
    if (!a) {
        a = calloc(1, sizeof(*a) + idl + 1);
        if (!a)
            return NULL;
        a->wh = wh;
        memcpy(a->id, app_id, idl + 1);
        a->id_len = idl;
        a->batch_ev = evtimer_new(wh->o.base, batch_cb, a);
        if (!a->batch_ev ||
            skt_whlog_init(&a->drops, wh->o.base, a->id, "dropped", &a->stats.dropped) != 0 ||
            skt_whlog_init(&a->fails, wh->o.base, a->id, "failed", &a->stats.failed) != 0 ||
            skt_map_put(wh->apps, a->id, a->id_len, a) != 0) {
            wh_app_free(a);
            return NULL;
        }
    }
    return a;
}

/* The app's sender state, refreshed from app (it may have been reloaded). */
static wh_app_t *
app_state(skt_webhooks_t *wh, const skt_app_t *app)
{
    wh_app_t *a = skt_wh_app(wh, app->id);
    if (!a)
        return NULL;
    if (a->hooks != app->webhooks) {
        json_decref(a->hooks);
        a->hooks = json_incref(app->webhooks);
    }
    if (!a->key || strcmp(a->key, app->key) != 0) {
        free(a->key);
        a->key = strdup(app->key);
    }
    if (!a->secret || strcmp(a->secret, app->secret) != 0) {
        free(a->secret);
        a->secret = strdup(app->secret);
    }
    return a->key && a->secret ? a : NULL;
}

void
skt_webhooks_send(skt_webhooks_t *wh, const skt_app_t *app, json_t *event)
{
    wh_app_t *a = event ? app_state(wh, app) : NULL;
    wh_event_t *e = a ? wh_event_new(event) : NULL;
    json_decref(event); /* the client's data goes now: what is kept is its text */
    if (!e) {
        if (a)
            skt_log(SKT_LOG_ERROR, "webhooks: app %s: cannot queue an event", a->id);
        return;
    }
    if (wh->o.batching) {
        batch_add(a, e);
    } else {
        flush(a, e);
        free(e);
    }
}

void
skt_webhooks_each_app(const skt_webhooks_t *wh, skt_wh_each_fn fn, void *arg)
{
    size_t pos = 0;
    void *v;
    while (skt_map_next(wh->apps, &pos, NULL, NULL, &v)) {
        wh_app_t *a = v;
        skt_wh_stats_t st = a->stats;
        st.pending = pending(a);
        st.pending_bytes = a->bytes;
        fn(arg, a->id, &st);
    }
}

/* ------------------------------------------------------------ lifecycle */

skt_webhooks_t *
skt_webhooks_new(const skt_webhooks_opts_t *opts, char *err, size_t errlen)
{
    skt_webhooks_t *wh = calloc(1, sizeof(*wh));
    if (!wh) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    skt_webhooks_opts_t *o = &wh->o;
    *o = *opts;
    if (o->timeout_ms <= 0)
        o->timeout_ms = 10000;
    if (o->connect_ms <= 0 || o->connect_ms > o->timeout_ms)
        o->connect_ms = o->timeout_ms < 5000 ? o->timeout_ms : 5000;
    if (o->max_attempts <= 0)
        o->max_attempts = 5;
    if (o->backoff_ms <= 0)
        o->backoff_ms = 1000;
    if (!o->queue_max)
        o->queue_max = 1000;
    if (!o->app_bytes_max)
        o->app_bytes_max = 16 << 20;
    if (!o->total_bytes_max)
        o->total_bytes_max = 64 << 20;
    if (!o->batch_bytes_max)
        o->batch_bytes_max = 1 << 20;
    if (!o->max_inflight)
        o->max_inflight = 8;
    o->process_id = NULL; /* the caller's string: only the User-Agent below needs it */
    char pid[32];
    snprintf(pid, sizeof(pid), "%ld", (long)getpid());
    snprintf(wh->user_agent, sizeof(wh->user_agent),
             "SoketiWebhooksClient/1.0 (soketi-c; Process: %s)",
             opts->process_id && *opts->process_id ? opts->process_id : pid);
    skt_lambda_env_read(&wh->aws);
    wh->apps = skt_map_new();
    if (!wh->apps || !(wh->curl = skt_curl_new(opts->base, err, errlen))) {
        if (!wh->apps)
            snprintf(err, errlen, "out of memory");
        skt_webhooks_free(wh);
        return NULL;
    }
    return wh;
}

void
skt_webhooks_closing(skt_webhooks_t *wh, long grace_ms)
{
    if (wh && wh->q)
        wh->qops->closing(wh->q, grace_ms < 0 ? 0 : grace_ms);
}

void
skt_webhooks_free(skt_webhooks_t *wh)
{
    if (!wh)
        return;
    size_t pos = 0;
    void *v;
    if (wh->q)
        wh->qops->shutdown(wh->q);
    while (wh->apps && skt_map_next(wh->apps, &pos, NULL, NULL, &v)) {
        wh_app_t *a = v;
        size_t lost = pending(a);
        for (wh_event_t *e = a->batch; e; e = e->next)
            lost++;
        for (delivery_t *d = a->dhead; d; d = d->next)
            lost -= d->job_id != NULL; /* still in the queue, for any node */
        if (lost)
            skt_log(SKT_LOG_WARN, "webhooks: app %s: %zu webhook(s) not delivered at shutdown",
                    a->id, lost);
        while (a->dhead) /* every delivery, in whatever state */
            skt_wh_delivery_stop(a->dhead);
        wh_app_free(a);
    }
    skt_map_free(wh->apps);
    if (wh->q)
        wh->qops->free(wh->q);
    skt_curl_free(wh->curl);
    skt_lambda_env_free(&wh->aws);
    free(wh);
}
