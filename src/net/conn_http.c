/* conn_http.c - HTTP requests and answers, and the WebSocket handshake.
 *
 * A connection starts in HTTP mode. Each complete request goes to on_request,
 * which answers with skt_conn_http_respond() (now or later: no further request
 * of the connection is parsed until it does) or switches the connection to
 * WebSocket mode with skt_conn_ws_accept(). Requests the parser refuses are
 * answered here (400, 413, 431, 505) and the connection is closed after it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/conn_internal.h"
#include "net/ws_frame.h"
#include "util/log.h"

/* Formats a response head into out (cap bytes); returns its full length,
 * which may exceed cap (then nothing usable was written, as snprintf). */
static int
http_head(char *out, size_t cap, int status, const char *extra, const char *ctype, size_t body_len,
          int keep)
{
    char clen[48] = "";
    /* RFC 9110: no Content-Length on 1xx and 204 answers. */
    if (status >= 200 && status != 204)
        snprintf(clen, sizeof(clen), "Content-Length: %zu\r\n", body_len);
    return snprintf(out, cap, "HTTP/1.1 %d %s\r\n%s%s%s%s%s%s\r\n", status, skt_http_reason(status),
                    extra ? extra : "", ctype ? "Content-Type: " : "", ctype ? ctype : "",
                    ctype ? "\r\n" : "", clen, keep ? "" : "Connection: close\r\n");
}

void
skt_conn_http_respond(skt_conn_t *c, int status, const char *extra_headers,
                      const char *content_type, const char *body, size_t body_len, int close)
{
    if (c->flags & F_CLOSED)
        return;
    int keep = (c->flags & F_KEEPALIVE) && !close;
    /* The head is formatted once into the stack; only a head that does not fit there
     * (very long CORS lists) is formatted a second time, into the buffer. */
    char head[1024];
    int hl = http_head(head, sizeof(head), status, extra_headers, content_type, body_len, keep);
    skt_buf_t *b = hl > 0 ? skt_buf_new((size_t)hl + 1 + body_len) : NULL;
    if (!b) {
        skt_conn_close_now(c);
        return;
    }
    if ((size_t)hl < sizeof(head))
        memcpy(b->data, head, (size_t)hl);
    else
        http_head((char *)b->data, (size_t)hl + 1, status, extra_headers, content_type, body_len,
                  keep);
    if (body_len)
        memcpy(b->data + hl, body, body_len);
    b->len = (uint32_t)((size_t)hl + body_len);
    c->flags &= ~F_AWAIT;
    skt_conn_send_buf(c, b);
    skt_buf_unref(b);
    if (!keep)
        c->flags |= F_CLOSE_AFTER;
    if (c->in && c->in->len && !(c->flags & F_IN_READ)) {
        /* Pipelined requests were waiting for this answer (or, closing, are
         * to be dropped and reading resumed to see the peer go). */
        c->flags |= F_RESUME;
        skt_conn_mark_dirty(c);
    }
}

void
skt_conn_http_fail(skt_conn_t *c, int status, const char *msg)
{
    char body[256];
    int n = snprintf(body, sizeof(body), "{\"error\":\"%s\",\"code\":%d}", msg, status);
    c->flags &= ~F_KEEPALIVE;
    skt_conn_http_respond(c, status, NULL, "application/json", body, (size_t)n, 1);
}

int
skt_conn_ws_accept(skt_conn_t *c, const skt_http_req_t *req)
{
    size_t klen = 0, vlen = 0;
    const char *key = skt_http_header(req, "sec-websocket-key", &klen);
    const char *ver = skt_http_header(req, "sec-websocket-version", &vlen);
    if (!req->upgrade_websocket || !key || klen != 24 || req->minor_version != 1 ||
        req->method_len != 3 || memcmp(req->method, "GET", 3) != 0) {
        skt_conn_http_fail(c, 400, "Invalid WebSocket handshake.");
        return -1;
    }
    if (!ver || vlen != 2 || memcmp(ver, "13", 2) != 0) {
        c->flags &= ~F_KEEPALIVE;
        skt_conn_http_respond(c, 426, "Sec-WebSocket-Version: 13\r\n", NULL, NULL, 0, 1);
        return -1;
    }
    char accept[29];
    skt_ws_accept_key(key, klen, accept);
    char resp[160];
    int n = snprintf(resp, sizeof(resp),
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                     accept);
    skt_buf_t *b = skt_buf_new_copy(resp, (size_t)n);
    if (!b) {
        skt_conn_close_now(c);
        return -1;
    }
    c->flags &= ~F_AWAIT;
    skt_conn_send_buf(c, b);
    skt_buf_unref(b);
    c->mode = SKT_CONN_WS;
    c->flags |= F_WS_OPEN;
    skt_conn_lru_touch(c, LRU_WS);
    skt_log(SKT_LOG_DEBUG, "connection %d: WebSocket open on %.*s", (int)event_get_fd(&c->ev),
            (int)req->path_len, req->path);
    return 0;
}

/* Answers a request the parser refused; returns 0 (nothing consumed). */
static size_t
http_refuse(skt_conn_t *c, int r)
{
    if (r == SKT_HTTP_ETOOBIG)
        skt_conn_http_fail(c, 431, "Request header fields too large.");
    else if (r == SKT_HTTP_EVERSION)
        skt_conn_http_fail(c, 505, "HTTP version not supported.");
    else
        skt_conn_http_fail(c, 400, "Malformed HTTP request.");
    return 0;
}

/* A complete head announcing a body: refuse a body over the limit before
 * reading it, and let the protocol layer answer from the head alone (a bad
 * signature) before any of the body is buffered. Returns 0 to read the body,
 * -1 when the connection is answered and closing. */
static int
http_head_done(skt_conn_t *c, const skt_http_req_t *req)
{
    if (!req->chunked && req->content_length > 0 &&
        (uint64_t)req->content_length > c->net->opts.max_body) {
        skt_conn_http_fail(c, 413, "The payload size is too big.");
        return -1;
    }
    if (!c->net->h.on_request_head || (!req->chunked && req->content_length <= 0))
        return 0;
    /* Whatever is answered now ends the connection: the body is not read. */
    c->flags &= ~F_KEEPALIVE;
    if (c->net->h.on_request_head(c, req) == 0)
        return 0;
    if (!(c->flags & (F_CLOSED | F_CLOSE_AFTER)))
        skt_conn_close_now(c); /* refused without an answer */
    return -1;
}

size_t
skt_conn_http_step(skt_conn_t *c, skt_conn_req_t *rq, char *data, size_t len)
{
    skt_net_t *net = c->net;
    skt_http_req_t req;
    int parsed = 0;
    if (!rq->head_len) {
        int r = skt_http_parse_request(data, len, net->opts.max_head, &req);
        if (r == 0)
            return 0;
        if (r < 0)
            return http_refuse(c, r);
        parsed = 1;
        rq->head_len = (size_t)r;
        rq->chunked = req.chunked;
        skt_http_chunked_init(&rq->ch);
        rq->content_length = req.content_length > 0 ? (uint64_t)req.content_length : 0;
        if (http_head_done(c, &req) != 0)
            return 0;
    }
    size_t head = rq->head_len;
    char *body = data + head;
    size_t body_len = 0, used = head;
    if (rq->chunked) {
        /* Decoded in place as the bytes arrive, each byte once: the decoder
         * keeps its progress in rq, with the input. */
        size_t raw = 0;
        int cr =
            skt_http_chunked_decode(&rq->ch, body, len - head, net->opts.max_body, &body_len, &raw);
        if (cr == 0)
            return 0;
        if (cr < 0) {
            if (cr == -2)
                skt_conn_http_fail(c, 413, "The payload size is too big.");
            else
                skt_conn_http_fail(c, 400, "Malformed chunked body.");
            return 0;
        }
        used = head + raw;
    } else if (rq->content_length) {
        if (len - head < rq->content_length)
            return 0;
        body_len = (size_t)rq->content_length;
        used = head + body_len;
    }
    /* The request is complete: the head is parsed again only when the
     * pointers of the first parse may be stale (a later read). */
    if (!parsed && skt_http_parse_request(data, head, net->opts.max_head, &req) != (int)head) {
        skt_conn_close_now(c);
        return 0;
    }
    memset(rq, 0, sizeof(*rq));
    if (req.keep_alive)
        c->flags |= F_KEEPALIVE;
    else
        c->flags &= ~F_KEEPALIVE;
    c->flags |= F_AWAIT;
    skt_conn_lru_touch(c, LRU_HTTP);
    char saved = body[body_len];
    /* Handlers may treat the body as a string; the byte after it is either
     * the next request's or spare room in the buffer, restored below. */
    body[body_len] = '\0';
    net->h.on_request(c, &req, body, body_len);
    if (!(c->flags & F_CLOSED))
        body[body_len] = saved;
    return used;
}
