/* http_api.c - the HTTP side of the port: routing, signature checks, the Pusher REST API's
 * events and terminate routes, health, the metrics port, upgrades. The read routes are
 * pusher/http_query.c's; every answer goes through pusher/http_reply.c.
 *
 * Routes, bodies and messages follow soketi 1.6 (src/http-handler.ts,
 * src/server.ts), except that every error carries its status in the status
 * line (soketi answers some with 200) and a request must be signed within
 * httpApi.authTimestampWindow seconds of now.
 *
 * DESIGN
 * A request is routed and checked (app, signature) synchronously; routes that
 * need the cluster or the rate limiter (features/ratelimit.h: the events and
 * read routes) ask them and answer from their completion callbacks, holding a
 * reference to the connection meanwhile. Whatever a callback needs from the
 * request is copied, since the request's bytes do not outlive
 * skt_http_on_request(); an app is looked up again by id after a wait, since
 * a reload may have replaced it. The metrics port's /metrics is here too.
 */
#include "pusher/http_api.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "features/features.h"
#include "features/metrics.h"
#include "pusher/http_query.h"
#include "pusher/http_reply.h"
#include "pusher/server.h"
#include "pusher/sig.h"
#include "pusher/ws_handler.h"
#include "util/log.h"

#define MAX_PARAMS 64
#define MAX_SEGS 8

typedef struct req_s {
    skt_conn_t *c;
    const skt_http_req_t *http;
    skt_server_t *srv;
    char *body;
    size_t body_len;
    skt_app_t *app;
    /* decoded path segments after the prefix */
    char *seg[MAX_SEGS];
    size_t nseg;
    /* decoded query parameters */
    skt_sig_param_t params[MAX_PARAMS];
    size_t nparams;
    char *scratch; /* holds decoded segments and params */
} req_t;

/* ------------------------------------------------------------ parsing */

/* Splits the path after the prefix into decoded segments and decodes the
 * query into params. Returns 0, or -1 on a malformed escape. */
static int
req_parse(req_t *r, const char *path, size_t plen)
{
    const skt_http_req_t *h = r->http;
    r->scratch = malloc(plen + h->query_len + 2);
    if (!r->scratch)
        return -1;
    char *o = r->scratch;
    size_t i = 0;
    while (i < plen && r->nseg < MAX_SEGS) {
        while (i < plen && path[i] == '/')
            i++;
        if (i >= plen)
            break;
        size_t start = i;
        while (i < plen && path[i] != '/')
            i++;
        ssize_t n = skt_http_urldecode(o, path + start, i - start);
        if (n < 0)
            return -1;
        o[n] = '\0';
        r->seg[r->nseg++] = o;
        o += n + 1;
    }
    if (i < plen)
        return -1; /* more segments than any route has */
    size_t pos = 0;
    const char *k, *v;
    size_t kl, vl;
    while (skt_http_query_next(h->query, h->query_len, &pos, &k, &kl, &v, &vl)) {
        if (r->nparams == MAX_PARAMS)
            return -1;
        ssize_t dk = skt_http_urldecode(o, k, kl);
        if (dk < 0)
            return -1;
        skt_sig_param_t *p = &r->params[r->nparams++];
        p->key = o;
        p->key_len = (size_t)dk;
        o += dk;
        ssize_t dv = skt_http_urldecode(o, v, vl);
        if (dv < 0)
            return -1;
        p->val = o;
        p->val_len = (size_t)dv;
        o += dv;
    }
    return 0;
}

static const skt_sig_param_t *
req_param(req_t *r, const char *key)
{
    const skt_sig_param_t *found = NULL;
    size_t kl = strlen(key);
    for (size_t i = 0; i < r->nparams; i++)
        if (r->params[i].key_len == kl && memcmp(r->params[i].key, key, kl) == 0)
            found = &r->params[i]; /* last wins, as a JS object */
    return found;
}

/* App lookup then signature check, soketi's appMiddleware + authMiddleware. */
static int
req_authorize(req_t *r, const char *app_id)
{
    r->app = skt_apps_by_id(r->srv->cfg->apps, app_id, strlen(app_id));
    if (!r->app) {
        char msg[300];
        snprintf(msg, sizeof(msg), "The app %.200s could not be found.", app_id);
        skt_http_reply_error(r->c, 404, msg);
        return -1;
    }
    char method[16];
    size_t ml = r->http->method_len < sizeof(method) - 1 ? r->http->method_len : sizeof(method) - 1;
    memcpy(method, r->http->method, ml);
    method[ml] = '\0';
    int v =
        skt_sig_http_verify(r->app->key, r->app->secret, method, r->http->path, r->http->path_len,
                            r->params, r->nparams, r->body, r->body_len, (long long)time(NULL));
    if (v != SKT_SIG_OK) {
        skt_http_reply_error(r->c, 401, "The secret authentication failed");
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ events */

/* Checks one event as soketi's checkMessageToBroadcast. Returns 0, or the
 * HTTP status (400 or 413) with msg filled. */
static int
check_event(skt_app_t *app, json_t *ev, char *msg, size_t msglen)
{
    json_t *name = json_object_get(ev, "name");
    json_t *data = json_object_get(ev, "data");
    json_t *channels = json_object_get(ev, "channels");
    json_t *channel = json_object_get(ev, "channel");
    int data_falsy = !data || json_is_null(data) || json_is_false(data) ||
                     (json_is_string(data) && json_string_length(data) == 0) ||
                     (json_is_integer(data) && json_integer_value(data) == 0);
    if (!json_is_object(ev) || (!channels && !channel) || !json_is_string(name) ||
        json_string_length(name) == 0 || data_falsy) {
        snprintf(msg, msglen, "The received data is incorrect");
        return 400;
    }
    size_t nch = 0;
    if (channels) {
        if (!json_is_array(channels)) {
            snprintf(msg, msglen, "The received data is incorrect");
            return 400;
        }
        nch = json_array_size(channels);
        for (size_t i = 0; i < nch; i++) {
            if (!json_is_string(json_array_get(channels, i))) {
                snprintf(msg, msglen, "The received data is incorrect");
                return 400;
            }
        }
    } else if (!json_is_string(channel)) {
        snprintf(msg, msglen, "The received data is incorrect");
        return 400;
    } else {
        nch = 1;
    }
    if ((long)nch > app->max_event_channels_at_once) {
        snprintf(msg, msglen, "Cannot broadcast to more than %ld channels at once",
                 app->max_event_channels_at_once);
        return 400;
    }
    if ((long)json_string_length(name) > app->max_event_name_length) {
        snprintf(msg, msglen, "Event name is too long. Maximum allowed size is %ld.",
                 app->max_event_name_length);
        return 400;
    }
    size_t dlen;
    if (json_is_string(data)) {
        dlen = json_string_length(data);
    } else {
        char *t = json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY);
        dlen = t ? strlen(t) : 0;
        free(t);
    }
    if ((double)dlen / 1024.0 > app->max_event_payload_kb) {
        snprintf(msg, msglen, "The event data should be less than %g KB.",
                 app->max_event_payload_kb);
        return 413;
    }
    return 0;
}

/* Keeps a cache channel's last event for channelLimits.cacheTtl, as soketi's
 * broadcastMessage: {"event": name, "data": data} under soketi's key. */
static void
cache_event(skt_server_t *srv, skt_app_t *app, json_t *channel, json_t *name, json_t *data)
{
    char key[512];
    size_t klen = skt_cache_channel_key(key, sizeof(key), app->id, json_string_value(channel),
                                        json_string_length(channel));
    json_t *value = json_pack("{s:O, s:O}", "event", name, "data", data);
    char *text = value ? json_dumps(value, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(value);
    if (klen && text)
        skt_cache_set(srv->features->cache, key, klen, text, strlen(text),
                      srv->features->cache_ttl);
    free(text);
}

/* Frames {"event","channel","data"} once per channel and hands it to the adapter. */
static void
broadcast_event(skt_server_t *srv, skt_app_t *app, json_t *ev)
{
    json_t *name = json_object_get(ev, "name");
    json_t *data = json_object_get(ev, "data");
    json_t *channels = json_object_get(ev, "channels");
    json_t *sid = json_object_get(ev, "socket_id");
    const char *except = json_is_string(sid) ? json_string_value(sid) : NULL;
    size_t n = channels ? json_array_size(channels) : 1;
    for (size_t i = 0; i < n; i++) {
        json_t *ch = channels ? json_array_get(channels, i) : json_object_get(ev, "channel");
        json_t *msg = json_object();
        json_object_set(msg, "event", name);
        json_object_set(msg, "channel", ch);
        json_object_set(msg, "data", data);
        char *text = json_dumps(msg, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(msg);
        if (text)
            SKT_ADAPTER(srv).broadcast(SKT_ADAPTER_SELF(srv), app->id, json_string_value(ch), text,
                                       strlen(text), except);
        free(text);
        if (skt_cache_is_cache_channel(json_string_value(ch), json_string_length(ch)))
            cache_event(srv, app, ch, name, data);
    }
}

/* Channels one event goes to, as soketi's rate limiting middleware counts
 * them: `(event.channels || [event.channel]).length`. */
static long
event_points(json_t *ev)
{
    json_t *channels = json_object_get(ev, "channels");
    return json_is_array(channels) ? (long)json_array_size(channels) : 1;
}

typedef struct events_ctx_s {
    skt_conn_t *c;
    json_t *body;
    size_t body_len; /* as received, for the metrics */
    int batch;
    char app_id[]; /* looked up again: a reload may replace the app meanwhile */
} events_ctx_t;

/* Checks and broadcasts an events request the rate limiter let through;
 * headers: the limiter's. Consumes nothing; answers on c. */
static void
events_go(skt_conn_t *c, skt_server_t *srv, skt_app_t *app, json_t *body, size_t body_len,
          int batch, const char *headers)
{
    char msg[256];
    if (batch) {
        json_t *list = json_object_get(body, "batch");
        if ((long)json_array_size(list) > app->max_event_batch_size) {
            snprintf(msg, sizeof(msg), "Cannot batch-send more than %ld messages at once",
                     app->max_event_batch_size);
            skt_http_reply_error_h(c, 400, msg, headers);
            return;
        }
        size_t i;
        json_t *ev;
        json_array_foreach(list, i, ev)
        {
            int st = check_event(app, ev, msg, sizeof(msg));
            if (st) {
                skt_http_reply_error_h(c, st, msg, headers);
                return;
            }
        }
        json_array_foreach(list, i, ev) broadcast_event(srv, app, ev);
    } else {
        int st = check_event(app, body, msg, sizeof(msg));
        if (st) {
            skt_http_reply_error_h(c, st, msg, headers);
            return;
        }
        broadcast_event(srv, app, body);
    }
    size_t sent = skt_http_reply_json_h(c, 200, json_pack("{s:b}", "ok", 1), headers);
    skt_http_reply_count(app->id, body_len, sent);
}

static void
events_limited_cb(void *arg, const skt_rl_result_t *res)
{
    events_ctx_t *ctx = arg;
    skt_server_t *srv = skt_server_get();
    if (!skt_conn_is_closed(ctx->c)) {
        skt_app_t *app = skt_apps_by_id(srv->cfg->apps, ctx->app_id, strlen(ctx->app_id));
        if (!res->allowed) {
            skt_http_reply_too_many(ctx->c, res);
        } else if (!app) {
            char msg[300];
            snprintf(msg, sizeof(msg), "The app %.200s could not be found.", ctx->app_id);
            skt_http_reply_error(ctx->c, 404, msg);
        } else {
            char headers[160];
            skt_rl_headers(res, headers, sizeof(headers));
            events_go(ctx->c, srv, app, ctx->body, ctx->body_len, ctx->batch, headers);
        }
    }
    skt_conn_unref(ctx->c);
    json_decref(ctx->body);
    free(ctx);
}

/* POST /apps/:id/events and /batch_events: size and JSON checks, then the
 * app's maxBackendEventsPerSecond (one point per channel, as soketi), then
 * the events' own checks and the broadcast. */
static void
route_events(req_t *r, int batch)
{
    double limit_mb = r->srv->cfg->http_api.request_limit_in_mb;
    if ((double)r->body_len / (1024.0 * 1024.0) > limit_mb) {
        skt_http_reply_error(r->c, 413, "The payload size is too big.");
        return;
    }
    json_t *body = json_loadb(r->body, r->body_len, 0, NULL);
    json_t *list = batch ? json_object_get(body, "batch") : NULL;
    if (!json_is_object(body) || (batch && !json_is_array(list))) {
        json_decref(body);
        skt_http_reply_error(r->c, 400, "The received data is incorrect");
        return;
    }
    long points = 0;
    if (batch) {
        size_t i;
        json_t *ev;
        json_array_foreach(list, i, ev) points += event_points(ev);
    } else {
        points = event_points(body);
        if (points < 1)
            points = 1;
    }
    size_t idl = strlen(r->app->id);
    events_ctx_t *ctx = malloc(sizeof(*ctx) + idl + 1);
    if (!ctx) {
        json_decref(body);
        skt_http_reply_error(r->c, 500, "A server error has occurred.");
        return;
    }
    ctx->c = r->c;
    ctx->body = body;
    ctx->body_len = r->body_len;
    ctx->batch = batch;
    memcpy(ctx->app_id, r->app->id, idl + 1);
    skt_conn_ref(r->c);
    skt_rl_key_t key = {.app_id = r->app->id, .kind = SKT_RL_BACKEND_EVENTS};
    skt_rl_consume(r->srv->features->rl, &key, points, r->app->max_backend_events_per_sec,
                   events_limited_cb, ctx);
}

/* ------------------------------------------------------------ health */

/* soketi's /accept-traffic: refuse when memory use passes the threshold.
 * Our measure: RSS against the process's address-space limit or, without
 * one, the machine's physical memory. */
static void
memory_usage(double *used_out, double *total_out)
{
    long rss_pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        long size;
        if (fscanf(f, "%ld %ld", &size, &rss_pages) != 2)
            rss_pages = 0;
        fclose(f);
    }
    double used = (double)rss_pages * (double)sysconf(_SC_PAGESIZE);
    double total = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE);
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        (double)rl.rlim_cur < total)
        total = (double)rl.rlim_cur;
    *used_out = used;
    *total_out = total;
}

static void
route_accept_traffic(req_t *r)
{
    if (r->srv->closing) {
        skt_http_reply_error(r->c, 500, "The server is closing. Choose another server. :)");
        return;
    }
    double used, total;
    memory_usage(&used, &total);
    double pct = total > 0 ? used / total * 100.0 : 0;
    if (r->srv->cfg->http_api.accept_traffic.memory_threshold < pct) {
        skt_http_reply_error(r->c, 500, "Low on memory here. Choose another server. :)");
        return;
    }
    skt_http_reply_json(r->c, 200,
                        json_pack("{s:{s:f, s:f, s:f}}", "memory", "usedSize", used, "totalSize",
                                  total, "percentUsage", pct));
}

/* ------------------------------------------------------------ router */

static void
route_ready(req_t *r)
{
    if (r->srv->closing)
        skt_http_reply_error(r->c, 500, "The server is closing. Choose another server. :)");
    else
        skt_http_reply_text(r->c, 200, "OK");
}

static int
is(const char *seg, const char *lit)
{
    return strcmp(seg, lit) == 0;
}

static int
method_is(const skt_http_req_t *h, const char *m)
{
    size_t l = strlen(m);
    return h->method_len == l && memcmp(h->method, m, l) == 0;
}

static void
route(req_t *r)
{
    const skt_http_req_t *h = r->http;
    skt_server_t *srv = r->srv;
    const char *prefix = srv->cfg->path_prefix ? srv->cfg->path_prefix : "";
    size_t pl = strlen(prefix);
    while (pl && prefix[pl - 1] == '/')
        pl--;
    if (h->path_len < pl || memcmp(h->path, prefix, pl) != 0 ||
        (h->path_len > pl && h->path[pl] != '/')) {
        skt_http_reply_text(r->c, 404, "");
        return;
    }
    if (req_parse(r, h->path + pl, h->path_len - pl) != 0) {
        skt_http_reply_error(r->c, 400, "Malformed request path or query.");
        return;
    }
    int get = method_is(h, "GET"), post = method_is(h, "POST");
    if (method_is(h, "OPTIONS")) {
        /* CORS preflight: soketi answers 404, which browsers treat as a
         * refusal; every route here allows the configured CORS. */
        skt_conn_http_respond(r->c, 204, skt_http_reply_cors(srv), NULL, NULL, 0, 0);
        return;
    }
    char **s = r->seg;
    size_t n = r->nseg;

    /* WebSocket: GET {prefix}/app/{key} */
    if (get && n == 2 && is(s[0], "app")) {
        if (skt_conn_ws_accept(r->c, h) == 0)
            skt_ws_open(srv, (skt_socket_t *)r->c, s[1], strlen(s[1]));
        return;
    }
    if (get && n == 0) {
        skt_http_reply_text(r->c, 200, "OK");
        return;
    }
    if (get && n == 1 && is(s[0], "ready")) {
        route_ready(r);
        return;
    }
    if (get && n == 1 && is(s[0], "accept-traffic")) {
        route_accept_traffic(r);
        return;
    }
    if (n >= 3 && is(s[0], "apps")) {
        const char *app_id = s[1];
        if (post && n == 3 && is(s[2], "events")) {
            if (req_authorize(r, app_id) == 0)
                route_events(r, 0);
            return;
        }
        if (post && n == 3 && is(s[2], "batch_events")) {
            if (req_authorize(r, app_id) == 0)
                route_events(r, 1);
            return;
        }
        if (get && n >= 3 && n <= 5 && is(s[2], "channels") && (n != 5 || is(s[4], "users"))) {
            if (req_authorize(r, app_id) != 0)
                return;
            skt_http_query_t route = n == 3   ? SKT_HTTP_QUERY_CHANNELS
                                     : n == 4 ? SKT_HTTP_QUERY_CHANNEL
                                              : SKT_HTTP_QUERY_USERS;
            skt_http_query_start(r->c, r->app, route, n > 3 ? s[3] : NULL,
                                 req_param(r, "filter_by_prefix"), req_param(r, "with_user_info"));
            return;
        }
        if (post && n == 5 && is(s[2], "users") && is(s[4], "terminate_connections")) {
            if (req_authorize(r, app_id) != 0)
                return;
            SKT_ADAPTER(srv).terminate_user_connections(SKT_ADAPTER_SELF(srv), r->app->id, s[3]);
            skt_http_reply_ok(r->c);
            return;
        }
    }
    skt_http_reply_text(r->c, 404, "");
}

/* soketi's /usage: memory as {free, used, total, percent} of the same
 * measure /accept-traffic uses. */
static void
route_usage(req_t *r)
{
    double used, total;
    memory_usage(&used, &total);
    skt_http_reply_json(r->c, 200,
                        json_pack("{s:{s:f, s:f, s:f, s:f}}", "memory", "free", total - used,
                                  "used", used, "total", total, "percent",
                                  total > 0 ? used / total * 100 : 0));
}

/* GET /metrics (metrics.enabled): the Prometheus text format, or with
 * ?json (any value, as soketi's res.query.json) prom-client's JSON. */
static void
route_metrics(req_t *r)
{
    skt_features_t *f = r->srv->features;
    const skt_sig_param_t *json = req_param(r, "json");
    if (json && json->val_len) {
        skt_http_reply_json(r->c, 200, skt_metrics_json(f->metrics, f->webhooks));
        return;
    }
    char *text = skt_metrics_text(f->metrics, f->webhooks);
    if (!text) {
        skt_http_reply_error(r->c, 500, "A server error has occurred.");
        return;
    }
    skt_conn_http_respond(r->c, 200, skt_http_reply_cors(r->srv),
                          "text/plain; version=0.0.4; charset=utf-8", text, strlen(text), 0);
    free(text);
}

/* The metrics port (metrics.port): /, /ready and /usage as soketi serves
 * them there, whether or not metrics are enabled, and /metrics when they are. */
static void
route_metrics_port(req_t *r)
{
    const skt_http_req_t *h = r->http;
    if (req_parse(r, h->path, h->path_len) != 0) {
        skt_http_reply_error(r->c, 400, "Malformed request path or query.");
        return;
    }
    if (!method_is(h, "GET")) {
        skt_http_reply_text(r->c, 404, "");
        return;
    }
    if (r->nseg == 0)
        skt_http_reply_text(r->c, 200, "OK");
    else if (r->nseg == 1 && is(r->seg[0], "ready"))
        route_ready(r);
    else if (r->nseg == 1 && is(r->seg[0], "usage"))
        route_usage(r);
    else if (r->nseg == 1 && is(r->seg[0], "metrics") &&
             skt_metrics_enabled(r->srv->features->metrics))
        route_metrics(r);
    else
        skt_http_reply_text(r->c, 404, "");
}

void
skt_http_on_metrics_request(skt_conn_t *c, const skt_http_req_t *http, char *body, size_t body_len)
{
    req_t r;
    memset(&r, 0, sizeof(r));
    r.c = c;
    r.http = http;
    r.srv = skt_server_get();
    route_metrics_port(&r);
    free(r.scratch);
}

void
skt_http_on_request(skt_conn_t *c, const skt_http_req_t *http, char *body, size_t body_len)
{
    req_t r;
    memset(&r, 0, sizeof(r));
    r.c = c;
    r.http = http;
    r.srv = skt_server_get();
    r.body = body;
    r.body_len = body_len;
    route(&r);
    free(r.scratch);
}
