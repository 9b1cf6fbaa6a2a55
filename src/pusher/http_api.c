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
#include "pusher/http_events.h"
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
            skt_ws_open((skt_socket_t *)r->c, s[1], strlen(s[1]));
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
                skt_http_events(r->c, r->app, r->body, r->body_len, 0);
            return;
        }
        if (post && n == 3 && is(s[2], "batch_events")) {
            if (req_authorize(r, app_id) == 0)
                skt_http_events(r->c, r->app, r->body, r->body_len, 1);
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
    r.srv = skt_server_of(c);
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
    r.srv = skt_server_of(c);
    r.body = body;
    r.body_len = body_len;
    route(&r);
    free(r.scratch);
}
