/* http_reply.h - how the HTTP side answers: JSON and text with the CORS headers, soketi's
 * error bodies, the rate limiter's 429, the HTTP API metrics (pusher/http_api.c,
 * pusher/http_events.c and pusher/http_query.c answer through these). The server is the
 * connection's (pusher/server.h's skt_server_of). */
#ifndef SKT_PUSHER_HTTP_REPLY_H
#define SKT_PUSHER_HTTP_REPLY_H

#include <jansson.h>
#include <stddef.h>

#include "features/ratelimit.h"
#include "net/conn.h"
#include "pusher/server.h"
#include "util/jsonw.h"

/* The CORS header lines (cors.* options) every answer carries. Owned by srv, valid until
 * the configuration changes (the next answer after a SIGHUP rebuilds them). */
const char *skt_http_reply_cors(skt_server_t *srv);

/* Answers with the JSON text written in w (freed; a failed writer answers 500); extra: more
 * header lines, or NULL. Returns the length of the body sent. */
size_t skt_http_reply_jw_h(skt_conn_t *c, int status, skt_jw_t *w, const char *extra);
/* The same with obj as JSON (consumed; NULL answers 500). */
size_t skt_http_reply_json_h(skt_conn_t *c, int status, json_t *obj, const char *extra);
void skt_http_reply_json(skt_conn_t *c, int status, json_t *obj);

/* soketi's error body {"error": msg, "code": status}, status in the status line too. */
void skt_http_reply_error_h(skt_conn_t *c, int status, const char *msg, const char *extra);
void skt_http_reply_error(skt_conn_t *c, int status, const char *msg);

/* 429 with soketi's body and the limiter's X-RateLimit-* and Retry-After headers. */
void skt_http_reply_too_many(skt_conn_t *c, const skt_rl_result_t *res);

/* A text body (no content type) with the CORS headers. */
void skt_http_reply_text(skt_conn_t *c, int status, const char *text);

/* soketi's {"ok": true} of a done write. */
void skt_http_reply_ok(skt_conn_t *c);

/* soketi's markApiMessage: one answered HTTP API call of app_id on c, with its bytes. */
void skt_http_reply_count(skt_conn_t *c, const char *app_id, size_t bytes_in, size_t bytes_out);

#endif
