/* http_api.c - the HTTP side of the port: routing, signature checks, the terminate route,
 * health, the metrics port, upgrades. The writes are pusher/http_events.c's, the read
 * routes pusher/http_query.c's; every answer goes through pusher/http_reply.c.
 *
 * Routes, bodies and messages follow soketi 1.6 (src/http-handler.ts,
 * src/server.ts), except that every error carries its status in the status
 * line (soketi answers some with 200) and a request must be signed within
 * httpApi.authTimestampWindow seconds of now.
 *
 * DESIGN
 * A request is routed and checked (app, signature) synchronously when its app is known at
 * once (configured, or cached: features/appdir.h); otherwise the request is copied, its app
 * looked up in the app manager's store, and the copy routed again when the app is found
 * (the connection held meanwhile, its pipeline paused by the net layer). Routes that
 * need the cluster or the rate limiter (features/ratelimit.h: the events and
 * read routes) ask them and answer from their completion callbacks, holding a
 * reference to the connection meanwhile. Whatever a callback needs from the
 * request is copied, since the request's bytes do not outlive
 * skt_http_on_request(); an app is looked up again by id after a wait, since
 * a reload may have replaced it. The metrics port is routed here too; /metrics itself is
 * pusher/http_metrics.c's.
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
#include "pusher/http_events.h"
#include "pusher/http_metrics.h"
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
 * query into params. Returns 0, or -1 on a malformed escape or an escaped NUL
 * (%00 would cut an app id or key short: /app/app-key%00x is not app-key). */
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
        if (n < 0 || memchr(o, '\0', (size_t)n))
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
        if (dk < 0 || memchr(o, '\0', (size_t)dk))
            return -1;
        skt_sig_param_t *p = &r->params[r->nparams++];
        p->key = o;
        p->key_len = (size_t)dk;
        o += dk;
        ssize_t dv = skt_http_urldecode(o, v, vl);
        if (dv < 0 || memchr(o, '\0', (size_t)dv))
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

/* The request's signature for r->app: of the whole request, or (head) of its head before
 * the body is read (pusher/sig.h). */
static int
req_verify(req_t *r, int head)
{
    char method[16];
    size_t ml = r->http->method_len < sizeof(method) - 1 ? r->http->method_len : sizeof(method) - 1;
    memcpy(method, r->http->method, ml);
    method[ml] = '\0';
    const skt_app_t *a = r->app;
    long long now = (long long)time(NULL);
    if (head)
        return skt_sig_http_verify_head(a->key, a->secret, method, r->http->path, r->http->path_len,
                                        r->params, r->nparams, now);
    return skt_sig_http_verify(a->key, a->secret, method, r->http->path, r->http->path_len,
                               r->params, r->nparams, r->body, r->body_len, now);
}

/* Signature check of the app found (r->app), soketi's appMiddleware + authMiddleware. */
static int
req_authorize(req_t *r, const char *app_id)
{
    if (!r->app) {
        char msg[300];
        snprintf(msg, sizeof(msg), "The app %.200s could not be found.", app_id);
        skt_http_reply_error(r->c, 404, msg);
        return -1;
    }
    int v = req_verify(r, 0);
    if (v != SKT_SIG_OK) {
        skt_http_reply_error(r->c, 401, "The secret authentication failed");
        return -1;
    }
    return 0;
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

/* The routes of the main port. */
typedef enum route_e {
    R_NOT_FOUND = 0,
    R_BAD,       /* a malformed path or query: 400 */
    R_PREFLIGHT, /* OPTIONS: 204 with the CORS headers */
    R_WS,        /* GET {prefix}/app/{key}: the WebSocket upgrade */
    R_HEALTH,    /* GET / */
    R_READY,
    R_ACCEPT_TRAFFIC,
    R_EVENTS,    /* POST /apps/:id/events */
    R_BATCH,     /* POST /apps/:id/batch_events */
    R_QUERY,     /* GET /apps/:id/channels[/:name[/users]] */
    R_TERMINATE, /* POST /apps/:id/users/:user/terminate_connections */
} route_t;

/* Which route r is (its path parsed into r->seg and r->params). */
static route_t
route_find(req_t *r)
{
    const skt_http_req_t *h = r->http;
    const char *prefix = r->srv->cfg->path_prefix ? r->srv->cfg->path_prefix : "";
    size_t pl = strlen(prefix);
    while (pl && prefix[pl - 1] == '/')
        pl--;
    if (h->path_len < pl || memcmp(h->path, prefix, pl) != 0 ||
        (h->path_len > pl && h->path[pl] != '/'))
        return R_NOT_FOUND;
    if (req_parse(r, h->path + pl, h->path_len - pl) != 0)
        return R_BAD;
    int get = method_is(h, "GET"), post = method_is(h, "POST");
    char **s = r->seg;
    size_t n = r->nseg;
    if (method_is(h, "OPTIONS"))
        return R_PREFLIGHT;
    if (get && n == 2 && is(s[0], "app"))
        return R_WS;
    if (get && n <= 1)
        return n == 0                       ? R_HEALTH
               : is(s[0], "ready")          ? R_READY
               : is(s[0], "accept-traffic") ? R_ACCEPT_TRAFFIC
                                            : R_NOT_FOUND;
    if (n < 3 || !is(s[0], "apps"))
        return R_NOT_FOUND;
    if (post && n == 3)
        return is(s[2], "events") ? R_EVENTS : is(s[2], "batch_events") ? R_BATCH : R_NOT_FOUND;
    if (get && n <= 5 && is(s[2], "channels") && (n != 5 || is(s[4], "users")))
        return R_QUERY;
    if (post && n == 5 && is(s[2], "users") && is(s[4], "terminate_connections"))
        return R_TERMINATE;
    return R_NOT_FOUND;
}

/* A route of the HTTP API: app and signature first (soketi's appMiddleware and
 * authMiddleware). */
static void
route_api(req_t *r, route_t id)
{
    skt_server_t *srv = r->srv;
    char **s = r->seg;
    size_t n = r->nseg;
    if (req_authorize(r, s[1]) != 0)
        return;
    if (id == R_EVENTS || id == R_BATCH) {
        skt_http_events(r->c, r->app, r->body, r->body_len, id == R_BATCH);
    } else if (id == R_QUERY) {
        skt_http_query_t q = n == 3   ? SKT_HTTP_QUERY_CHANNELS
                             : n == 4 ? SKT_HTTP_QUERY_CHANNEL
                                      : SKT_HTTP_QUERY_USERS;
        skt_http_query_start(r->c, r->app, q, n > 3 ? s[3] : NULL, req_param(r, "filter_by_prefix"),
                             req_param(r, "with_user_info"), req_param(r, "info"));
    } else {
        SKT_ADAPTER(srv).terminate_user_connections(SKT_ADAPTER_SELF(srv), r->app->id, s[3]);
        skt_http_reply_ok(r->c);
    }
}

/* A lookup started while a body arrives: its answer is cached, nothing waits for it here. */
static void
prefetched(void *arg, skt_app_t *app)
{
    (void)arg, (void)app;
}

/* A request waiting for its app (skt_appdir_find): a copy of what routing reads. */
typedef struct req_wait_s {
    skt_conn_t *c;
    skt_http_req_t http; /* method, path and query point into buf; no headers */
    char *body;
    size_t body_len;
    char buf[];
} req_wait_t;

static void
req_found(void *arg, skt_app_t *app)
{
    req_wait_t *w = arg;
    if (!skt_conn_is_closed(w->c)) {
        req_t r;
        memset(&r, 0, sizeof(r));
        r.c = w->c;
        r.http = &w->http;
        r.srv = skt_server_of(w->c);
        r.body = w->body;
        r.body_len = w->body_len;
        route_t id = route_find(&r);
        r.app = app;
        route_api(&r, id);
        free(r.scratch);
    }
    skt_conn_unref(w->c);
    free(w);
}

/* Routes r, an API route (id) whose app is not known at once, after the store answers. */
static void
route_api_wait(req_t *r, route_t id)
{
    const skt_http_req_t *h = r->http;
    size_t n = h->method_len + h->path_len + h->query_len + r->body_len;
    req_wait_t *w = malloc(sizeof(*w) + n + 1);
    if (!w) {
        skt_http_reply_error(r->c, 500, "Out of memory.");
        return;
    }
    memset(&w->http, 0, sizeof(w->http));
    char *o = w->buf;
    w->http.method = memcpy(o, h->method, h->method_len);
    w->http.method_len = h->method_len;
    o += h->method_len;
    w->http.path = memcpy(o, h->path, h->path_len);
    w->http.path_len = h->path_len;
    o += h->path_len;
    w->http.query = h->query_len ? memcpy(o, h->query, h->query_len) : o;
    w->http.query_len = h->query_len;
    o += h->query_len;
    w->body = r->body_len ? memcpy(o, r->body, r->body_len) : o;
    w->body_len = r->body_len;
    w->http.minor_version = h->minor_version;
    w->http.keep_alive = h->keep_alive;
    w->http.content_length = h->content_length;
    w->c = r->c;
    skt_conn_ref(r->c);
    (void)id; /* found again from the copy */
    skt_appdir_find(r->srv->apps, SOKETI_APP_BY_ID, r->seg[1], strlen(r->seg[1]), req_found, w);
}

/* Answers r, found to be route id. */
static void
route_answer(req_t *r, route_t id)
{
    switch (id) {
    case R_NOT_FOUND:
        skt_http_reply_text(r->c, 404, "");
        break;
    case R_BAD:
        skt_http_reply_error(r->c, 400, "Malformed request path or query.");
        break;
    case R_PREFLIGHT:
        /* CORS preflight: soketi answers 404, which browsers treat as a
         * refusal; every route here allows the configured CORS. */
        skt_conn_http_respond(r->c, 204, skt_http_reply_cors(r->srv), NULL, NULL, 0, 0);
        break;
    case R_WS:
        if (skt_conn_ws_accept(r->c, r->http) == 0)
            skt_ws_open((skt_socket_t *)r->c, r->seg[1], strlen(r->seg[1]));
        break;
    case R_HEALTH:
        skt_http_reply_text(r->c, 200, "OK");
        break;
    case R_READY:
        route_ready(r);
        break;
    case R_ACCEPT_TRAFFIC:
        route_accept_traffic(r);
        break;
    default:
        if (skt_appdir_peek(r->srv->apps, SOKETI_APP_BY_ID, r->seg[1], strlen(r->seg[1]), &r->app))
            route_api(r, id);
        else
            route_api_wait(r, id);
    }
}

static void
route(req_t *r)
{
    route_answer(r, route_find(r));
}

/* A request head that announces a body, before the body is read (net/conn.h's
 * on_request_head): a request for no route, or for an API route of an unknown app or
 * without a valid signature, is answered now, so that nobody can make us buffer a body
 * they did not sign. Returns 1 when answered (the body is then never read). */
static int
route_head(req_t *r)
{
    route_t id = route_find(r);
    if (id == R_NOT_FOUND || id == R_BAD) {
        route_answer(r, id);
        return 1;
    }
    if (id < R_EVENTS)
        return 0;
    const char *id_text = r->seg[1];
    if (!skt_appdir_peek(r->srv->apps, SOKETI_APP_BY_ID, id_text, strlen(id_text), &r->app)) {
        /* the store is asked while the body arrives; the request is checked once it has */
        skt_appdir_find(r->srv->apps, SOKETI_APP_BY_ID, id_text, strlen(id_text), prefetched, NULL);
        return 0;
    }
    if (!r->app || req_verify(r, 1) != SKT_SIG_OK) {
        req_authorize(r, r->seg[1]); /* the same answer, 404 or 401 */
        return 1;
    }
    return 0;
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
    const skt_sig_param_t *json = req_param(r, "json");
    skt_http_metrics_answer(r->c, json && json->val_len);
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
    r.srv = skt_server_of(c);
    route_metrics_port(&r);
    free(r.scratch);
}

int
skt_http_on_request_head(skt_conn_t *c, const skt_http_req_t *http)
{
    req_t r;
    memset(&r, 0, sizeof(r));
    r.c = c;
    r.http = http;
    r.srv = skt_server_of(c);
    int answered = route_head(&r);
    free(r.scratch);
    return answered;
}

void
skt_http_on_request(skt_conn_t *c, const skt_http_req_t *http, char *body, size_t body_len)
{
    req_t r;
    memset(&r, 0, sizeof(r));
    r.c = c;
    r.http = http;
    r.srv = skt_server_of(c);
    r.body = body;
    r.body_len = body_len;
    route(&r);
    free(r.scratch);
}
