/* http_api.c - the HTTP side of the port: routing, the Pusher REST API, health, upgrades.
 *
 * Routes, bodies and messages follow soketi 1.6 (src/http-handler.ts,
 * src/server.ts), except that every error carries its status in the status
 * line (soketi answers some with 200) and a request must be signed within
 * httpApi.authTimestampWindow seconds of now.
 *
 * DESIGN
 * A request is routed and checked (app, signature) synchronously; routes that
 * need the cluster ask the adapter and answer from its completion callback,
 * holding a reference to the connection meanwhile. Whatever a callback needs
 * from the request is copied, since the request's bytes do not outlive
 * skt_http_on_request().
 */
#include "pusher/http_api.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "pusher/channel_kind.h"
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

/* ------------------------------------------------------------ responses */

/* CORS headers on every answer, from the cors.* options as soketi. */
static char *
cors_headers(skt_server_t *srv)
{
    static char buf[1024];
    char origin[256] = "", methods[256] = "", headers[512] = "";
    char **lists[3] = {srv->cfg->cors.origin, srv->cfg->cors.methods,
                       srv->cfg->cors.allowed_headers};
    char *outs[3] = {origin, methods, headers};
    size_t caps[3] = {sizeof(origin), sizeof(methods), sizeof(headers)};
    for (int i = 0; i < 3; i++) {
        size_t o = 0;
        for (char **p = lists[i]; p && *p && o < caps[i]; p++)
            o += (size_t)snprintf(outs[i] + o, caps[i] - o, "%s%s", o ? ", " : "", *p);
    }
    snprintf(buf, sizeof(buf),
             "Access-Control-Allow-Origin: %s\r\nAccess-Control-Allow-Methods: %s\r\n"
             "Access-Control-Allow-Headers: %s\r\n",
             origin, methods, headers);
    return buf;
}

static void
respond_json(skt_conn_t *c, int status, json_t *obj)
{
    skt_server_t *srv = skt_server_get();
    char *text = obj ? json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(obj);
    if (!text) {
        skt_conn_http_respond(c, 500, cors_headers(srv), "application/json",
                              "{\"error\":\"A server error has occurred.\",\"code\":500}", 51, 0);
        return;
    }
    skt_conn_http_respond(c, status, cors_headers(srv), "application/json", text, strlen(text), 0);
    free(text);
}

/* soketi's error body {"error": ..., "code": status}, with the status in the status line. */
static void
respond_error(skt_conn_t *c, int status, const char *msg)
{
    respond_json(c, status, json_pack("{s:s, s:i}", "error", msg, "code", status));
}

static void
respond_text(skt_conn_t *c, int status, const char *text)
{
    skt_conn_http_respond(c, status, cors_headers(skt_server_get()), NULL, text, strlen(text), 0);
}

static void
respond_ok(skt_conn_t *c)
{
    respond_json(c, 200, json_pack("{s:b}", "ok", 1));
}

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
        respond_error(r->c, 404, msg);
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
        respond_error(r->c, 401, "The secret authentication failed");
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ async plumbing */

typedef struct query_ctx_s {
    skt_conn_t *c;
    char *filter; /* channels: filter_by_prefix */
    char *channel;
    int with_user_info; /* users: with_user_info=1 */
    long sockets;       /* channel: subscription_count so far */
} query_ctx_t;

static query_ctx_t *
query_ctx_new(skt_conn_t *c)
{
    query_ctx_t *q = calloc(1, sizeof(*q));
    if (!q)
        return NULL;
    q->c = c;
    skt_conn_ref(c);
    return q;
}

/* Ends an async query: 1 when the connection is still there to answer. */
static int
query_alive(query_ctx_t *q)
{
    return !skt_conn_is_closed(q->c);
}

static void
query_free(query_ctx_t *q)
{
    skt_conn_unref(q->c);
    free(q->filter);
    free(q->channel);
    free(q);
}

static void
channels_cb(void *arg, int status, const soketi_channel_count_t *chans, size_t n)
{
    query_ctx_t *q = arg;
    if (query_alive(q)) {
        if (status == SOKETI_ERROR) {
            respond_error(q->c, 500, "A server error has occurred.");
        } else {
            json_t *obj = json_object();
            size_t fl = q->filter ? strlen(q->filter) : 0;
            for (size_t i = 0; i < n; i++) {
                if (chans[i].count <= 0)
                    continue;
                if (fl && strncmp(chans[i].channel, q->filter, fl) != 0)
                    continue;
                json_object_set_new(obj, chans[i].channel,
                                    json_pack("{s:I, s:b}", "subscription_count",
                                              (json_int_t)chans[i].count, "occupied", 1));
            }
            respond_json(q->c, 200, json_pack("{s:o}", "channels", obj));
        }
    }
    query_free(q);
}

static void
channel_members_count_cb(void *arg, int status, long count)
{
    query_ctx_t *q = arg;
    if (query_alive(q)) {
        if (status == SOKETI_ERROR)
            respond_error(q->c, 500, "A server error has occurred.");
        else
            respond_json(q->c, 200,
                         json_pack("{s:I, s:b, s:I}", "subscription_count", (json_int_t)q->sockets,
                                   "occupied", q->sockets > 0, "user_count", (json_int_t)count));
    }
    query_free(q);
}

static void
channel_sockets_cb(void *arg, int status, long count)
{
    query_ctx_t *q = arg;
    skt_server_t *srv = skt_server_get();
    if (!query_alive(q) || status == SOKETI_ERROR) {
        if (query_alive(q))
            respond_error(q->c, 500, "A server error has occurred.");
        query_free(q);
        return;
    }
    q->sockets = count;
    if (skt_channel_kind(q->channel, strlen(q->channel)) == SKT_CHANNEL_PRESENCE) {
        if (count > 0) {
            /* the app id travels in filter for this query */
            SKT_ADAPTER(srv).channel_members_count(SKT_ADAPTER_SELF(srv), q->filter, q->channel,
                                                   channel_members_count_cb, q);
            return;
        }
        respond_json(q->c, 200,
                     json_pack("{s:I, s:b, s:i}", "subscription_count", (json_int_t)count,
                               "occupied", 0, "user_count", 0));
    } else {
        respond_json(q->c, 200,
                     json_pack("{s:I, s:b}", "subscription_count", (json_int_t)count, "occupied",
                               count > 0));
    }
    query_free(q);
}

static void
users_cb(void *arg, int status, const soketi_member_t *members, size_t n)
{
    query_ctx_t *q = arg;
    if (query_alive(q)) {
        if (status == SOKETI_ERROR) {
            respond_error(q->c, 500, "A server error has occurred.");
        } else {
            json_t *users = json_array();
            for (size_t i = 0; i < n; i++) {
                json_t *u = json_pack("{s:s}", "id", members[i].user_id);
                if (q->with_user_info) {
                    json_t *info = json_loads(members[i].user_info, JSON_DECODE_ANY, NULL);
                    json_object_set_new(u, "user_info", info ? info : json_null());
                }
                json_array_append_new(users, u);
            }
            respond_json(q->c, 200, json_pack("{s:o}", "users", users));
        }
    }
    query_free(q);
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
    }
}

/* POST /apps/:id/events and /batch_events. */
static void
route_events(req_t *r, int batch)
{
    double limit_mb = r->srv->cfg->http_api.request_limit_in_mb;
    if ((double)r->body_len / (1024.0 * 1024.0) > limit_mb) {
        respond_error(r->c, 413, "The payload size is too big.");
        return;
    }
    json_t *body = json_loadb(r->body, r->body_len, 0, NULL);
    if (!json_is_object(body)) {
        json_decref(body);
        respond_error(r->c, 400, "The received data is incorrect");
        return;
    }
    char msg[256];
    if (batch) {
        json_t *list = json_object_get(body, "batch");
        if (!json_is_array(list)) {
            json_decref(body);
            respond_error(r->c, 400, "The received data is incorrect");
            return;
        }
        if ((long)json_array_size(list) > r->app->max_event_batch_size) {
            snprintf(msg, sizeof(msg), "Cannot batch-send more than %ld messages at once",
                     r->app->max_event_batch_size);
            json_decref(body);
            respond_error(r->c, 400, msg);
            return;
        }
        size_t i;
        json_t *ev;
        json_array_foreach(list, i, ev)
        {
            int st = check_event(r->app, ev, msg, sizeof(msg));
            if (st) {
                json_decref(body);
                respond_error(r->c, st, msg);
                return;
            }
        }
        json_array_foreach(list, i, ev) broadcast_event(r->srv, r->app, ev);
    } else {
        int st = check_event(r->app, body, msg, sizeof(msg));
        if (st) {
            json_decref(body);
            respond_error(r->c, st, msg);
            return;
        }
        broadcast_event(r->srv, r->app, body);
    }
    json_decref(body);
    respond_ok(r->c);
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
        respond_error(r->c, 500, "The server is closing. Choose another server. :)");
        return;
    }
    double used, total;
    memory_usage(&used, &total);
    double pct = total > 0 ? used / total * 100.0 : 0;
    if (r->srv->cfg->http_api.accept_traffic.memory_threshold < pct) {
        respond_error(r->c, 500, "Low on memory here. Choose another server. :)");
        return;
    }
    respond_json(r->c, 200,
                 json_pack("{s:{s:f, s:f, s:f}}", "memory", "usedSize", used, "totalSize", total,
                           "percentUsage", pct));
}

/* ------------------------------------------------------------ router */

static void
route_ready(req_t *r)
{
    if (r->srv->closing)
        respond_error(r->c, 500, "The server is closing. Choose another server. :)");
    else
        respond_text(r->c, 200, "OK");
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
        respond_text(r->c, 404, "");
        return;
    }
    if (req_parse(r, h->path + pl, h->path_len - pl) != 0) {
        respond_error(r->c, 400, "Malformed request path or query.");
        return;
    }
    int get = method_is(h, "GET"), post = method_is(h, "POST");
    if (method_is(h, "OPTIONS")) {
        /* CORS preflight: soketi answers 404, which browsers treat as a
         * refusal; every route here allows the configured CORS. */
        skt_conn_http_respond(r->c, 204, cors_headers(srv), NULL, NULL, 0, 0);
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
        respond_text(r->c, 200, "OK");
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
        if (get && n == 3 && is(s[2], "channels")) {
            if (req_authorize(r, app_id) != 0)
                return;
            query_ctx_t *q = query_ctx_new(r->c);
            const skt_sig_param_t *f = req_param(r, "filter_by_prefix");
            if (q && f)
                q->filter = strndup(f->val, f->val_len);
            if (!q) {
                respond_error(r->c, 500, "A server error has occurred.");
                return;
            }
            SKT_ADAPTER(srv).channels(SKT_ADAPTER_SELF(srv), r->app->id, channels_cb, q);
            return;
        }
        if (get && n == 4 && is(s[2], "channels")) {
            if (req_authorize(r, app_id) != 0)
                return;
            query_ctx_t *q = query_ctx_new(r->c);
            if (!q || !(q->channel = strdup(s[3])) || !(q->filter = strdup(r->app->id))) {
                if (q)
                    query_free(q);
                respond_error(r->c, 500, "A server error has occurred.");
                return;
            }
            SKT_ADAPTER(srv).channel_sockets_count(SKT_ADAPTER_SELF(srv), r->app->id, q->channel,
                                                   channel_sockets_cb, q);
            return;
        }
        if (get && n == 5 && is(s[2], "channels") && is(s[4], "users")) {
            if (req_authorize(r, app_id) != 0)
                return;
            if (skt_channel_kind(s[3], strlen(s[3])) != SKT_CHANNEL_PRESENCE) {
                respond_error(r->c, 400, "The channel must be a presence channel.");
                return;
            }
            query_ctx_t *q = query_ctx_new(r->c);
            if (!q) {
                respond_error(r->c, 500, "A server error has occurred.");
                return;
            }
            const skt_sig_param_t *w = req_param(r, "with_user_info");
            q->with_user_info = w && w->val_len == 1 && w->val[0] == '1';
            SKT_ADAPTER(srv).channel_members(SKT_ADAPTER_SELF(srv), r->app->id, s[3], users_cb, q);
            return;
        }
        if (post && n == 5 && is(s[2], "users") && is(s[4], "terminate_connections")) {
            if (req_authorize(r, app_id) != 0)
                return;
            SKT_ADAPTER(srv).terminate_user_connections(SKT_ADAPTER_SELF(srv), r->app->id, s[3]);
            respond_ok(r->c);
            return;
        }
    }
    respond_text(r->c, 404, "");
}

/* soketi's /usage: memory as {free, used, total, percent} of the same
 * measure /accept-traffic uses. */
static void
route_usage(req_t *r)
{
    double used, total;
    memory_usage(&used, &total);
    respond_json(r->c, 200,
                 json_pack("{s:{s:f, s:f, s:f, s:f}}", "memory", "free", total - used, "used", used,
                           "total", total, "percent", total > 0 ? used / total * 100 : 0));
}

/* The metrics port (metrics.port): /, /ready and /usage as soketi serves
 * them there, whether or not metrics are enabled. */
static void
route_metrics_port(req_t *r)
{
    const skt_http_req_t *h = r->http;
    if (req_parse(r, h->path, h->path_len) != 0) {
        respond_error(r->c, 400, "Malformed request path or query.");
        return;
    }
    if (!method_is(h, "GET")) {
        respond_text(r->c, 404, "");
        return;
    }
    if (r->nseg == 0)
        respond_text(r->c, 200, "OK");
    else if (r->nseg == 1 && is(r->seg[0], "ready"))
        route_ready(r);
    else if (r->nseg == 1 && is(r->seg[0], "usage"))
        route_usage(r);
    else
        respond_text(r->c, 404, "");
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
