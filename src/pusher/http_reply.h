/* http_reply.h - how the HTTP side answers: JSON and text with the CORS headers, soketi's
 * error bodies, the rate limiter's 429, the HTTP API metrics (pusher/http_api.c and
 * pusher/http_query.c answer through these). */
#ifndef SKT_PUSHER_HTTP_REPLY_H
#define SKT_PUSHER_HTTP_REPLY_H

#include <jansson.h>
#include <stddef.h>

#include "features/ratelimit.h"
#include "net/conn.h"
#include "pusher/server.h"

/* The CORS header lines (cors.* options) every answer carries. Owned by srv, valid until
 * the configuration changes (the next answer after a SIGHUP rebuilds them). */
const char *skt_http_reply_cors(skt_server_t *srv);

/* Answers with obj as JSON (consumed; NULL or unserialisable answers 500); extra: more
 * header lines, or NULL. Returns the length of the body sent. */
size_t skt_http_reply_json_h(skt_conn_t *c, int status, json_t *obj, const char *extra);
void skt_http_reply_json(skt_conn_t *c, int status, json_t *obj);

/* soketi's error body {"error": msg, "code": status}, status in the status line too. */
void skt_http_reply_error_h(skt_conn_t *c, int status, const char *msg, const char *extra);
void skt_http_reply_error(skt_conn_t *c, int status, const char *msg);

/* 429 with soketi's body and the limiter's X-RateLimit-* and Retry-After headers. */
void skt_http_reply_too_many(skt_conn_t *c, const skt_rl_result_t *res);

/* A text body (no content type) with the CORS headers. */
void skt_http_reply_text(skt_conn_t *c, int status, const char *text);

/* {"ok": true} with status 200. */
void skt_http_reply_ok(skt_conn_t *c);

/* soketi's markApiMessage: counts one answered HTTP API call of app_id with its bytes. */
void skt_http_reply_count(const char *app_id, size_t bytes_in, size_t bytes_out);

#endif
