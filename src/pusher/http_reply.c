/* http_reply.c - how the HTTP side answers: JSON and text bodies with the CORS headers,
 * soketi's error bodies, the rate limiter's 429, and the HTTP API metrics of an answer.
 *
 * Shapes follow soketi 1.6 (src/http-handler.ts), except that every error carries its
 * status in the status line (soketi answers some with 200).
 */
#include "pusher/http_reply.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "features/features.h"
#include "features/metrics.h"

/* CORS headers on every answer, from the cors.* options as soketi. Built on first use
 * and kept in srv->cors until the configuration changes (skt_server_reload_apps drops
 * it), not formatted per answer. */
const char *
skt_http_reply_cors(skt_server_t *srv)
{
    if (srv->cors)
        return srv->cors;
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
    static const char fmt[] = "Access-Control-Allow-Origin: %s\r\nAccess-Control-Allow-Methods: "
                              "%s\r\nAccess-Control-Allow-Headers: %s\r\n";
    int n = snprintf(NULL, 0, fmt, origin, methods, headers);
    char *text = n > 0 ? malloc((size_t)n + 1) : NULL;
    if (!text)
        return ""; /* out of memory: answer without them rather than not at all */
    snprintf(text, (size_t)n + 1, fmt, origin, methods, headers);
    srv->cors = text;
    return text;
}

/* Answers a JSON body (text, len), or soketi's 500 when text is NULL. */
static size_t
reply_body(skt_conn_t *c, int status, const char *text, size_t len, const char *extra)
{
    char buf[1400];
    const char *headers = skt_http_reply_cors(skt_server_of(c));
    if (extra) {
        snprintf(buf, sizeof(buf), "%s%s", headers, extra);
        headers = buf;
    }
    if (!text) {
        static const char oops[] = "{\"error\":\"A server error has occurred.\",\"code\":500}";
        skt_conn_http_respond(c, 500, headers, "application/json", oops, sizeof(oops) - 1, 0);
        return sizeof(oops) - 1;
    }
    skt_conn_http_respond(c, status, headers, "application/json", text, len, 0);
    return len;
}

size_t
skt_http_reply_jw_h(skt_conn_t *c, int status, skt_jw_t *w, const char *extra)
{
    size_t len = 0;
    const char *text = skt_jw_cstr(w, &len);
    size_t sent = reply_body(c, status, text, len, extra);
    skt_jw_free(w);
    return sent;
}

size_t
skt_http_reply_json_h(skt_conn_t *c, int status, json_t *obj, const char *extra)
{
    size_t len = 0;
    char *text = obj ? skt_jw_dump(obj, &len) : NULL;
    json_decref(obj);
    size_t sent = reply_body(c, status, text, text ? len : 0, extra);
    free(text);
    return sent;
}

void
skt_http_reply_count(skt_conn_t *c, const char *app_id, size_t bytes_in, size_t bytes_out)
{
    skt_metrics_http(skt_metrics_app(skt_server_of(c)->features->metrics, app_id), bytes_in,
                     bytes_out);
}

void
skt_http_reply_json(skt_conn_t *c, int status, json_t *obj)
{
    skt_http_reply_json_h(c, status, obj, NULL);
}

void
skt_http_reply_error_h(skt_conn_t *c, int status, const char *msg, const char *extra)
{
    SKT_JW_ON_STACK(w, 512);
    skt_jw_lit(&w, "{\"error\":");
    skt_jw_cstr_value(&w, msg);
    skt_jw_lit(&w, ",\"code\":");
    skt_jw_int(&w, status);
    skt_jw_lit(&w, "}");
    skt_http_reply_jw_h(c, status, &w, extra);
}

void
skt_http_reply_error(skt_conn_t *c, int status, const char *msg)
{
    skt_http_reply_error_h(c, status, msg, NULL);
}

/* A refusal by the rate limiter: soketi's 429 body. Unlike soketi, which
 * sends its X-RateLimit-* and Retry-After headers only on the requests it
 * lets through, the refusal carries them too (Retry-After is what a 429
 * client looks for). */
void
skt_http_reply_too_many(skt_conn_t *c, const skt_rl_result_t *res)
{
    char h[160];
    skt_rl_headers(res, h, sizeof(h));
    skt_http_reply_error_h(c, 429, "Too many requests.", h);
}

/* Plain text (health answers, bare 404s), with the CORS headers like every answer. */
void
skt_http_reply_text(skt_conn_t *c, int status, const char *text)
{
    skt_conn_http_respond(c, status, skt_http_reply_cors(skt_server_of(c)), NULL, text,
                          strlen(text), 0);
}

/* soketi's {"ok": true} of a done write: the answer of every trigger, so a constant. */
void
skt_http_reply_ok(skt_conn_t *c)
{
    static const char ok[] = "{\"ok\":true}";
    skt_conn_http_respond(c, 200, skt_http_reply_cors(skt_server_of(c)), "application/json", ok,
                          sizeof(ok) - 1, 0);
}
