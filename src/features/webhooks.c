/* webhooks.c - Pusher webhooks: events, filters, batching, delivery with libcurl on libevent.
 *
 * Lifetimes: a wh_app_t lives from its app's first event until skt_webhooks_free (apps are
 * few). A delivery_t lives from the flush that made it until its last attempt ends; it
 * holds a copy of everything it sends, so a reload that replaces the app changes nothing
 * under it. libevent events that curl asks us to drop while we are inside one of their
 * callbacks are parked on a list and freed once curl has returned (never free an object
 * from inside its own callback).
 */
#include "features/webhooks.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "features/clock.h"
#include "util/log.h"
#include "util/map.h"

typedef struct wh_app_s wh_app_t;

typedef struct delivery_s {
    struct delivery_s *next;                /* in its app's queue, while queued */
    struct delivery_s *all_prev, *all_next; /* every delivery that exists */
    wh_app_t *app;
    CURL *easy;
    struct curl_slist *headers;
    char *url;
    char *body;
    size_t body_len;
    int attempts;
    struct event *retry_ev;
    char errbuf[CURL_ERROR_SIZE];
} delivery_t;

struct wh_app_s {
    skt_webhooks_t *wh;
    char *key, *secret; /* as of the last event */
    json_t *hooks;      /* the app's "webhooks", as of the last event */
    json_t *batch;      /* events waiting for the batch timer */
    struct event *batch_ev;
    delivery_t *qhead, *qtail; /* waiting for a free slot */
    size_t nqueued, ninflight, nwaiting;
    skt_wh_stats_t stats;
    uint64_t drops_unlogged, last_drop_log_ms;
    size_t id_len;
    char id[];
};

typedef struct dead_ev_s {
    struct dead_ev_s *next;
    struct event *ev;
} dead_ev_t;

struct skt_webhooks_s {
    skt_webhooks_opts_t o;
    char user_agent[160];
    CURLM *multi;
    struct event *timer;
    skt_map_t *apps; /* app id -> wh_app_t */
    delivery_t *all; /* queued, in flight and waiting to retry */
    dead_ev_t *dead;
};

/* ------------------------------------------------------------ events */

static const struct {
    const char *name;
    unsigned bit;
} event_types[] = {
    {"client_event", SKT_WH_CLIENT_EVENT},
    {"channel_occupied", SKT_WH_CHANNEL_OCCUPIED},
    {"channel_vacated", SKT_WH_CHANNEL_VACATED},
    {"member_added", SKT_WH_MEMBER_ADDED},
    {"member_removed", SKT_WH_MEMBER_REMOVED},
    {"cache_miss", SKT_WH_CACHE_MISS},
    {"subscription_count", SKT_WH_SUBSCRIPTION_COUNT},
};

unsigned
skt_webhooks_wanted(const skt_app_t *app)
{
    unsigned bits = 0;
    size_t i, t;
    json_t *hook, *type;
    if (!app || !json_array_size(app->webhooks))
        return 0;
    json_array_foreach(app->webhooks, i, hook)
    {
        if (!json_is_string(json_object_get(hook, "url")))
            continue;
        json_array_foreach(json_object_get(hook, "event_types"), t, type)
        {
            for (size_t k = 0; k < sizeof(event_types) / sizeof(event_types[0]); k++)
                if (json_is_string(type) &&
                    strcmp(json_string_value(type), event_types[k].name) == 0)
                    bits |= event_types[k].bit;
        }
    }
    return bits;
}

static unsigned
bit_of(const char *name)
{
    for (size_t k = 0; k < sizeof(event_types) / sizeof(event_types[0]); k++)
        if (strcmp(name, event_types[k].name) == 0)
            return event_types[k].bit;
    return 0;
}

static int
wants(const skt_app_t *app, const char *name)
{
    return (skt_webhooks_wanted(app) & bit_of(name)) != 0;
}

/* {name, channel} and, when user_id is not NULL, user_id: when the app wants name. */
static void
channel_event(skt_webhooks_t *wh, const skt_app_t *app, const char *name, const char *channel,
              const char *user_id)
{
    if (!wants(app, name))
        return;
    json_t *ev = json_pack("{s:s, s:s}", "name", name, "channel", channel);
    if (ev && user_id)
        json_object_set_new(ev, "user_id", json_string(user_id));
    skt_webhooks_send(wh, app, ev);
}

void
skt_webhooks_channel_occupied(skt_webhooks_t *wh, const skt_app_t *app, const char *channel)
{
    channel_event(wh, app, "channel_occupied", channel, NULL);
}

void
skt_webhooks_channel_vacated(skt_webhooks_t *wh, const skt_app_t *app, const char *channel)
{
    channel_event(wh, app, "channel_vacated", channel, NULL);
}

void
skt_webhooks_cache_miss(skt_webhooks_t *wh, const skt_app_t *app, const char *channel)
{
    channel_event(wh, app, "cache_miss", channel, NULL);
}

void
skt_webhooks_member_added(skt_webhooks_t *wh, const skt_app_t *app, const char *channel,
                          const char *user_id)
{
    channel_event(wh, app, "member_added", channel, user_id);
}

void
skt_webhooks_member_removed(skt_webhooks_t *wh, const skt_app_t *app, const char *channel,
                            const char *user_id)
{
    channel_event(wh, app, "member_removed", channel, user_id);
}

void
skt_webhooks_client_event(skt_webhooks_t *wh, const skt_app_t *app, const char *channel,
                          const char *event, json_t *data, const char *socket_id,
                          const char *user_id)
{
    if (!wants(app, "client_event"))
        return;
    json_t *ev =
        json_pack("{s:s, s:s, s:s}", "name", "client_event", "channel", channel, "event", event);
    if (ev && data)
        json_object_set(ev, "data", data);
    if (ev && socket_id)
        json_object_set_new(ev, "socket_id", json_string(socket_id));
    if (ev && user_id)
        json_object_set_new(ev, "user_id", json_string(user_id));
    skt_webhooks_send(wh, app, ev);
}

void
skt_webhooks_subscription_count(skt_webhooks_t *wh, const skt_app_t *app, const char *channel,
                                long count)
{
    if (wants(app, "subscription_count"))
        skt_webhooks_send(wh, app,
                          json_pack("{s:s, s:s, s:I}", "name", "subscription_count", "channel",
                                    channel, "subscription_count", (json_int_t)count));
}

/* ------------------------------------------------------------ selection */

static int
has_type(const json_t *hook, const char *name)
{
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(hook, "event_types"), i,
                       t) if (json_is_string(t) &&
                              strcmp(json_string_value(t), name) == 0) return 1;
    return 0;
}

static int
passes_filter(const json_t *hook, const char *channel)
{
    const json_t *filter = json_object_get(hook, "filter");
    const char *starts = json_string_value(json_object_get(filter, "channel_name_starts_with"));
    const char *ends = json_string_value(json_object_get(filter, "channel_name_ends_with"));
    size_t cl = strlen(channel);
    if (starts && *starts && strncmp(channel, starts, strlen(starts)) != 0)
        return 0;
    if (ends && *ends && (strlen(ends) > cl || strcmp(channel + cl - strlen(ends), ends) != 0))
        return 0;
    return 1;
}

json_t *
skt_webhooks_select(const json_t *hook, const json_t *list)
{
    json_t *out = json_array();
    size_t i;
    json_t *ev;
    json_array_foreach(list, i, ev)
    {
        const char *name = json_string_value(json_object_get(ev, "name"));
        const char *channel = json_string_value(json_object_get(ev, "channel"));
        if (name && channel && has_type(hook, name) && passes_filter(hook, channel))
            json_array_append(out, ev);
    }
    return out;
}

/* ------------------------------------------------------------ time */

static long long
wall_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static struct timeval
tv_of(long ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    return tv;
}

/* ------------------------------------------------------------ deliveries */

static void pump(wh_app_t *a);

static void
delivery_link(skt_webhooks_t *wh, delivery_t *d)
{
    d->all_prev = NULL;
    d->all_next = wh->all;
    if (wh->all)
        wh->all->all_prev = d;
    wh->all = d;
}

/* Frees d (after its easy handle is gone) and forgets it. */
static void
delivery_free(delivery_t *d)
{
    skt_webhooks_t *wh = d->app->wh;
    if (d->all_prev)
        d->all_prev->all_next = d->all_next;
    else if (wh->all == d)
        wh->all = d->all_next;
    if (d->all_next)
        d->all_next->all_prev = d->all_prev;
    if (d->retry_ev)
        event_free(d->retry_ev);
    curl_slist_free_all(d->headers);
    free(d->url);
    free(d->body);
    free(d);
}

static size_t
pending(const wh_app_t *a)
{
    return a->nqueued + a->ninflight + a->nwaiting;
}

/* Counts a webhook that will never be sent, logging at most once a second. */
static void
drop(wh_app_t *a)
{
    a->stats.dropped++;
    a->drops_unlogged++;
    uint64_t now = skt_clock_ms();
    if (a->last_drop_log_ms && now - a->last_drop_log_ms < 1000)
        return;
    skt_log(SKT_LOG_WARN,
            "webhooks: app %s: %zu webhook(s) pending, the most allowed; dropped %llu "
            "(%llu in all)",
            a->id, pending(a), (unsigned long long)a->drops_unlogged,
            (unsigned long long)a->stats.dropped);
    a->drops_unlogged = 0;
    a->last_drop_log_ms = now;
}

static void
enqueue(wh_app_t *a, delivery_t *d)
{
    d->next = NULL;
    if (a->qtail)
        a->qtail->next = d;
    else
        a->qhead = d;
    a->qtail = d;
    a->nqueued++;
}

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
    delivery_t *d = arg;
    wh_app_t *a = d->app;
    a->nwaiting--;
    enqueue(a, d);
    pump(a);
}

static int
retryable(CURLcode rc, long status)
{
    if (rc != CURLE_OK)
        return 1; /* no answer: refused, reset, timed out, DNS */
    return status >= 500 || status == 408 || status == 429;
}

/* One attempt ended: count it, retry it later, or let it go. */
static void
attempt_done(skt_webhooks_t *wh, delivery_t *d, CURLcode rc)
{
    wh_app_t *a = d->app;
    long status = 0;
    curl_easy_getinfo(d->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_multi_remove_handle(wh->multi, d->easy);
    curl_easy_cleanup(d->easy);
    d->easy = NULL;
    a->ninflight--;
    if (rc == CURLE_OK && status >= 200 && status < 300) {
        a->stats.sent++;
        skt_log(SKT_LOG_DEBUG, "webhooks: app %s: %s answered %ld", a->id, d->url, status);
        delivery_free(d);
    } else if (retryable(rc, status) && d->attempts < wh->o.max_attempts &&
               (d->retry_ev || (d->retry_ev = evtimer_new(wh->o.base, retry_cb, d)))) {
        long delay = wh->o.backoff_ms;
        for (int i = 1; i < d->attempts && delay < 60000; i++)
            delay *= 2;
        a->stats.retried++;
        a->nwaiting++;
        skt_log(SKT_LOG_DEBUG, "webhooks: app %s: %s: %s; retrying in %ld ms", a->id, d->url,
                rc != CURLE_OK ? (*d->errbuf ? d->errbuf : curl_easy_strerror(rc)) : "bad status",
                delay);
        struct timeval tv = tv_of(delay);
        evtimer_add(d->retry_ev, &tv);
    } else {
        a->stats.failed++;
        if (rc != CURLE_OK)
            skt_log(SKT_LOG_WARN, "webhooks: app %s: %s failed after %d attempt(s): %s", a->id,
                    d->url, d->attempts, *d->errbuf ? d->errbuf : curl_easy_strerror(rc));
        else
            skt_log(SKT_LOG_WARN, "webhooks: app %s: %s answered %ld after %d attempt(s)", a->id,
                    d->url, status, d->attempts);
        delivery_free(d);
    }
    pump(a);
}

static void
check_done(skt_webhooks_t *wh)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(wh->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        delivery_t *d = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&d);
        if (d)
            attempt_done(wh, d, m->data.result);
    }
}

static int
start(skt_webhooks_t *wh, delivery_t *d)
{
    CURL *e = curl_easy_init();
    if (!e)
        return -1;
    d->easy = e;
    d->attempts++;
    d->errbuf[0] = '\0';
    curl_easy_setopt(e, CURLOPT_URL, d->url);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, d->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)d->body_len);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, d->headers);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, wh->o.timeout_ms);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PRIVATE, d);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, d->errbuf);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    if (curl_multi_add_handle(wh->multi, e) != CURLM_OK) {
        curl_easy_cleanup(e);
        d->easy = NULL;
        return -1;
    }
    return 0;
}

/* Starts queued webhooks while the app has free slots. */
static void
pump(wh_app_t *a)
{
    skt_webhooks_t *wh = a->wh;
    while (a->qhead && a->ninflight < wh->o.max_inflight) {
        delivery_t *d = a->qhead;
        a->qhead = d->next;
        if (!a->qhead)
            a->qtail = NULL;
        a->nqueued--;
        a->ninflight++;
        if (start(wh, d) != 0) {
            a->ninflight--;
            a->stats.failed++;
            skt_log(SKT_LOG_ERROR, "webhooks: app %s: cannot start a request to %s", a->id, d->url);
            delivery_free(d);
        }
    }
}

/* Adds "Name: value" unless the value could break the request. */
static struct curl_slist *
add_header(struct curl_slist *list, const char *name, const char *value, int *ok)
{
    if (strpbrk(name, "\r\n:") || strpbrk(value, "\r\n"))
        return list;
    size_t n = strlen(name) + strlen(value) + 3;
    char *line = malloc(n);
    if (!line) {
        *ok = 0;
        return list;
    }
    snprintf(line, n, "%s: %s", name, value);
    struct curl_slist *l = curl_slist_append(list, line);
    free(line);
    if (!l)
        *ok = 0;
    return l ? l : list;
}

/* soketi's headers: its defaults, the webhook's own (which may replace a default), then
 * X-Pusher-Key and X-Pusher-Signature, which nothing replaces. */
static struct curl_slist *
make_headers(skt_webhooks_t *wh, const wh_app_t *a, const json_t *hook, const char *sig)
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
            l = add_header(l, defaults[i][0], defaults[i][1], &ok);
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)custom, k, v)
    {
        if (json_is_string(v) && strcasecmp(k, "X-Pusher-Key") != 0 &&
            strcasecmp(k, "X-Pusher-Signature") != 0)
            l = add_header(l, k, json_string_value(v), &ok);
    }
    l = add_header(l, "X-Pusher-Key", a->key, &ok);
    l = add_header(l, "X-Pusher-Signature", sig, &ok);
    /* No "Expect: 100-continue" round trip before larger bodies. */
    struct curl_slist *e = curl_slist_append(l, "Expect:");
    if (!e || !ok) {
        curl_slist_free_all(e ? e : l);
        return NULL;
    }
    return e;
}

/* Sends events (a JSON array) to each of the app's webhooks that selects some. */
static void
flush(wh_app_t *a, json_t *events)
{
    skt_webhooks_t *wh = a->wh;
    long long now = wall_ms();
    size_t i;
    json_t *hook;
    json_array_foreach(a->hooks, i, hook)
    {
        const char *url = json_string_value(json_object_get(hook, "url"));
        if (!url)
            continue; /* lambda_function: not supported (skt_webhooks_check_apps) */
        json_t *mine = skt_webhooks_select(hook, events);
        if (!json_array_size(mine)) {
            json_decref(mine);
            continue;
        }
        if (pending(a) >= wh->o.queue_max) {
            json_decref(mine);
            drop(a);
            continue;
        }
        json_t *payload = json_pack("{s:I, s:o}", "time_ms", (json_int_t)now, "events", mine);
        char *body = payload ? json_dumps(payload, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(payload);
        delivery_t *d = body ? calloc(1, sizeof(*d)) : NULL;
        if (d) {
            char sig[65];
            d->app = a;
            delivery_link(wh, d);
            d->body = body;
            d->body_len = strlen(body);
            wh->o.sign(a->secret, strlen(a->secret), body, d->body_len, sig);
            d->url = strdup(url);
            d->headers = make_headers(wh, a, hook, sig);
        }
        if (!d || !d->url || !d->headers) {
            if (d)
                delivery_free(d);
            else
                free(body);
            a->stats.failed++;
            skt_log(SKT_LOG_ERROR, "webhooks: app %s: out of memory building a webhook", a->id);
            continue;
        }
        enqueue(a, d);
    }
    pump(a);
}

static void
batch_cb(evutil_socket_t fd, short what, void *arg)
{
    wh_app_t *a = arg;
    json_t *events = a->batch;
    a->batch = NULL;
    if (events)
        flush(a, events);
    json_decref(events);
}

/* Frees an app's state; its deliveries are freed apart (skt_webhooks_free). */
static void
wh_app_free(wh_app_t *a)
{
    if (a->batch_ev)
        event_free(a->batch_ev);
    json_decref(a->batch);
    json_decref(a->hooks);
    free(a->key);
    free(a->secret);
    free(a);
}

/* The app's sender state, refreshed from app (it may have been reloaded). */
static wh_app_t *
app_state(skt_webhooks_t *wh, const skt_app_t *app)
{
    size_t idl = strlen(app->id);
    wh_app_t *a = skt_map_get(wh->apps, app->id, idl);
    if (!a) {
        a = calloc(1, sizeof(*a) + idl + 1);
        if (!a)
            return NULL;
        a->wh = wh;
        memcpy(a->id, app->id, idl + 1);
        a->id_len = idl;
        a->batch_ev = evtimer_new(wh->o.base, batch_cb, a);
        if (!a->batch_ev || skt_map_put(wh->apps, a->id, a->id_len, a) != 0) {
            wh_app_free(a);
            return NULL;
        }
    }
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
    if (!a) {
        json_decref(event);
        return;
    }
    if (!wh->o.batching) {
        json_t *one = json_array();
        json_array_append_new(one, event);
        flush(a, one);
        json_decref(one);
        return;
    }
    /* soketi: the first event of a batch starts the timer; whatever arrives until it
     * fires goes in the same webhook. */
    if (!a->batch) {
        a->batch = json_array();
        struct timeval tv = tv_of(wh->o.batch_ms);
        evtimer_add(a->batch_ev, &tv);
    }
    json_array_append_new(a->batch, event);
}

void
skt_webhooks_check_apps(const skt_apps_t *apps)
{
    for (size_t i = 0; i < skt_apps_count(apps); i++) {
        const skt_app_t *app = skt_apps_at(apps, i);
        size_t k;
        json_t *hook;
        json_array_foreach(app->webhooks, k, hook)
        {
            if (!json_is_string(json_object_get(hook, "url"))) {
                skt_log(SKT_LOG_WARN,
                        "webhooks: app %s: webhooks[%zu] has no url: lambda_function webhooks "
                        "are not supported by soketi-c and are skipped",
                        app->id, k);
            }
        }
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
        fn(arg, a->id, &st);
    }
}

/* ------------------------------------------------------------ curl on libevent */

static void
reap_dead(skt_webhooks_t *wh)
{
    while (wh->dead) {
        dead_ev_t *d = wh->dead;
        wh->dead = d->next;
        event_free(d->ev);
        free(d);
    }
}

static void
socket_event_cb(evutil_socket_t fd, short what, void *arg)
{
    skt_webhooks_t *wh = arg;
    int running = 0;
    int flags =
        ((what & EV_READ) ? CURL_CSELECT_IN : 0) | ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);
    curl_multi_socket_action(wh->multi, fd, flags, &running);
    check_done(wh);
    reap_dead(wh);
}

static void
timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    skt_webhooks_t *wh = arg;
    int running = 0;
    curl_multi_socket_action(wh->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(wh);
    reap_dead(wh);
}

/* curl tells which socket to watch for what; socketp is our event for it. */
static int
curl_socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    skt_webhooks_t *wh = userp;
    struct event *ev = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (ev) {
            event_del(ev);
            curl_multi_assign(wh->multi, s, NULL);
            dead_ev_t *d = malloc(sizeof(*d));
            if (d) { /* freed once curl has returned to us */
                d->ev = ev;
                d->next = wh->dead;
                wh->dead = d;
            } else {
                event_free(ev); /* deleted above: libevent no longer touches it */
            }
        }
        return 0;
    }
    short kind = EV_PERSIST | ((what & CURL_POLL_IN) ? EV_READ : 0) |
                 ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
    if (ev) {
        event_del(ev);
        event_assign(ev, wh->o.base, s, kind, socket_event_cb, wh);
    } else {
        ev = event_new(wh->o.base, s, kind, socket_event_cb, wh);
        if (!ev)
            return -1;
        curl_multi_assign(wh->multi, s, ev);
    }
    event_add(ev, NULL);
    return 0;
}

/* curl wants to be called after timeout_ms (-1: never; 0: as soon as possible, which
 * is the next loop iteration: curl must not be re-entered from here). */
static int
curl_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    skt_webhooks_t *wh = userp;
    if (timeout_ms < 0) {
        evtimer_del(wh->timer);
        return 0;
    }
    struct timeval tv = tv_of(timeout_ms);
    evtimer_add(wh->timer, &tv);
    return 0;
}

/* ------------------------------------------------------------ lifecycle */

skt_webhooks_t *
skt_webhooks_new(const skt_webhooks_opts_t *opts, char *err, size_t errlen)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, errlen, "webhooks: libcurl failed to initialise");
        return NULL;
    }
    skt_webhooks_t *wh = calloc(1, sizeof(*wh));
    if (!wh) {
        curl_global_cleanup();
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    wh->o = *opts;
    if (wh->o.timeout_ms <= 0)
        wh->o.timeout_ms = 10000;
    if (wh->o.max_attempts <= 0)
        wh->o.max_attempts = 5;
    if (wh->o.backoff_ms <= 0)
        wh->o.backoff_ms = 1000;
    if (!wh->o.queue_max)
        wh->o.queue_max = 1000;
    if (!wh->o.max_inflight)
        wh->o.max_inflight = 8;
    wh->o.process_id = NULL; /* the caller's string: only the User-Agent below needs it */
    char pid[32];
    snprintf(pid, sizeof(pid), "%ld", (long)getpid());
    snprintf(wh->user_agent, sizeof(wh->user_agent),
             "SoketiWebhooksClient/1.0 (soketi-c; Process: %s)",
             opts->process_id && *opts->process_id ? opts->process_id : pid);
    wh->apps = skt_map_new();
    wh->multi = curl_multi_init();
    wh->timer = evtimer_new(opts->base, timeout_cb, wh);
    if (!wh->apps || !wh->multi || !wh->timer) {
        skt_webhooks_free(wh);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    curl_multi_setopt(wh->multi, CURLMOPT_SOCKETFUNCTION, curl_socket_cb);
    curl_multi_setopt(wh->multi, CURLMOPT_SOCKETDATA, wh);
    curl_multi_setopt(wh->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
    curl_multi_setopt(wh->multi, CURLMOPT_TIMERDATA, wh);
    const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
    if (!(v->features & CURL_VERSION_ASYNCHDNS))
        skt_log(SKT_LOG_WARN, "webhooks: this libcurl resolves names synchronously; a webhook "
                              "URL with a host name may stall the server while it resolves");
    return wh;
}

void
skt_webhooks_free(skt_webhooks_t *wh)
{
    if (!wh)
        return;
    size_t pos = 0;
    void *v;
    while (wh->apps && skt_map_next(wh->apps, &pos, NULL, NULL, &v)) {
        wh_app_t *a = v;
        size_t lost = pending(a) + json_array_size(a->batch);
        if (lost)
            skt_log(SKT_LOG_WARN, "webhooks: app %s: %zu webhook(s) not delivered at shutdown",
                    a->id, lost);
    }
    /* Every delivery, in whatever state: an attempt in flight leaves the multi first. */
    while (wh->all) {
        delivery_t *d = wh->all;
        if (d->easy) {
            curl_multi_remove_handle(wh->multi, d->easy);
            curl_easy_cleanup(d->easy);
            d->easy = NULL;
        }
        delivery_free(d);
    }
    if (wh->apps) {
        pos = 0;
        while (skt_map_next(wh->apps, &pos, NULL, NULL, &v))
            wh_app_free(v);
        skt_map_free(wh->apps);
    }
    if (wh->multi)
        curl_multi_cleanup(wh->multi);
    reap_dead(wh);
    if (wh->timer)
        event_free(wh->timer);
    free(wh);
    curl_global_cleanup();
}
