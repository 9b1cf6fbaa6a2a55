/* conn.c - connections: the listener, per-socket I/O, output queues, timeouts.
 *
 * See conn.h for the design. In short: one shared read buffer, a heap input
 * buffer only for incomplete input, a ring of shared frame references as the
 * output queue, one writev() per dirty connection per loop iteration, and
 * three timeout lists (HTTP, WebSocket, closing) ordered by last activity so
 * that one sweep a second touches only the connections that expired.
 *
 * TLS: a listener with a TLS context gives each of its connections a session
 * (net/tls.h) in a small slot after the opts.conn_size bytes, so plain
 * connections pay nothing for it. Reads and writes go through the session
 * instead of read()/writev(); as TLS cannot gather, small queued frames are
 * copied into one record-sized buffer and larger ones are written in place.
 * A session read that needs writability (or a write that needs readability)
 * is remembered in a flag and retried when the socket gets there. A TLS write
 * that could not finish has already encrypted the bytes it was given: those
 * bytes of the queue are committed (tls->pending) and must go out unchanged
 * before anything else, even when the queue is dropped (conn_doom).
 */
#include "net/conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "net/tls.h"
#include "net/ws_frame.h"
#include "util/log.h"

enum {
    F_CLOSED = 1 << 0,      /* fd closed; waiting for the last reference */
    F_CLOSING = 1 << 1,     /* close frame queued; reading only to see EOF */
    F_CLOSE_AFTER = 1 << 2, /* close the socket once the queue is written */
    F_FLUSHING = 1 << 3,    /* in the dirty list */
    F_WRITE_WAIT = 1 << 4,  /* EV_WRITE armed: the kernel buffer was full */
    F_AWAIT = 1 << 5,       /* an HTTP answer is pending */
    F_IN_READ = 1 << 6,     /* input is being processed */
    F_RESUME = 1 << 7,      /* buffered input waits for processing */
    F_WS_OPEN = 1 << 8,     /* on_ws_close is owed */
    F_KEEPALIVE = 1 << 9,   /* the pending request allows keep-alive */
    F_SHUT = 1 << 10,       /* write side shut down after the close frame */
    F_DOOMED = 1 << 11,     /* to be closed by the next flush (see conn_doom) */
    F_TLS_RWW = 1 << 12,    /* a TLS read waits for writability */
    F_TLS_WWR = 1 << 13,    /* a TLS write waits for readability */
    F_TLS_MORE = 1 << 14,   /* the TLS session holds input: read again at the flush */
};

enum { LRU_NONE = 0, LRU_HTTP, LRU_WS, LRU_CLOSING, LRU_COUNT };

#define CLOSING_TIMEOUT 2
#define READ_CHUNK 65536
#define IOV_BATCH 64
#define TLS_RECORD 16384 /* the largest TLS record payload */

struct skt_conn_inbuf_s {
    size_t len, cap;
    char data[];
};

struct skt_conn_outq_s {
    size_t bytes; /* unwritten bytes in all queued buffers */
    uint32_t off; /* bytes of bufs[head] already written */
    uint32_t head, count, cap;
    skt_buf_t *bufs[];
};

struct skt_conn_frag_s {
    size_t len, cap;
    uint8_t opcode;
    uint8_t data[];
};

typedef struct lru_list_s {
    skt_conn_t *head, *tail;
} lru_list_t;

struct skt_net_s {
    struct event_base *base;
    struct evconnlistener *listener;
    skt_net_opts_t opts;
    skt_net_handlers_t h;
    void *userdata;
    struct event *flush_ev;
    struct event *sweep_ev;
    skt_conn_t *dirty; /* connections with output to write */
    lru_list_t lru[LRU_COUNT];
    size_t count;
    size_t conn_alloc; /* bytes per connection, with the TLS slot when tls is set */
    size_t tls_slot;   /* offset of the conn_tls_t (TLS listeners only) */
};

/* What a connection of a TLS listener has after its opts.conn_size bytes. */
typedef struct conn_tls_s {
    skt_tls_conn_t *session; /* NULL once closed */
    size_t pending;          /* queued bytes an unfinished TLS write has committed */
} conn_tls_t;

static char read_buf[READ_CHUNK];
static unsigned char tls_out[TLS_RECORD]; /* small frames gathered into one record */

static void conn_io_cb(evutil_socket_t fd, short what, void *arg);
static void conn_close_now(skt_conn_t *c);
static void conn_free(skt_conn_t *c);
static void conn_process_buffered(skt_conn_t *c);
static void conn_read(skt_conn_t *c);

/* The TLS state of c, or NULL on a plain listener. */
static conn_tls_t *
conn_tls(skt_conn_t *c)
{
    return c->net->opts.tls ? (conn_tls_t *)(void *)((char *)c + c->net->tls_slot) : NULL;
}

/* The TLS session of c while it is open, or NULL. */
static skt_tls_conn_t *
conn_session(skt_conn_t *c)
{
    conn_tls_t *t = conn_tls(c);
    return t ? t->session : NULL;
}

/* Monotonic seconds, for timeouts that must not jump with the wall clock. */
static uint32_t
now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint32_t)ts.tv_sec;
}

/* ---------------------------------------------------------------- lists */

static void
lru_unlink(skt_conn_t *c)
{
    if (c->lru == LRU_NONE)
        return;
    lru_list_t *l = &c->net->lru[c->lru];
    if (c->lru_prev)
        c->lru_prev->lru_next = c->lru_next;
    else
        l->head = c->lru_next;
    if (c->lru_next)
        c->lru_next->lru_prev = c->lru_prev;
    else
        l->tail = c->lru_prev;
    c->lru_prev = c->lru_next = NULL;
    c->lru = LRU_NONE;
}

/* Moves c to the tail of list `which` and stamps it: the lists stay ordered by
 * last activity, so the sweep stops at the first connection not yet due. */
static void
lru_touch(skt_conn_t *c, uint8_t which)
{
    lru_unlink(c);
    lru_list_t *l = &c->net->lru[which];
    c->lru = which;
    c->last_active = now_sec();
    c->lru_prev = l->tail;
    if (l->tail)
        l->tail->lru_next = c;
    else
        l->head = c;
    l->tail = c;
}

/* Puts c on the dirty list so that the flush event writes its queue once this
 * loop iteration's other callbacks have run. The list holds a reference. */
static void
conn_mark_dirty(skt_conn_t *c)
{
    if (c->flags & (F_FLUSHING | F_CLOSED))
        return;
    c->flags |= F_FLUSHING;
    c->refs++;
    c->flush_next = c->net->dirty;
    if (!c->net->dirty)
        event_active(c->net->flush_ev, EV_WRITE, 0);
    c->net->dirty = c;
}

/* Switches the event between read-only and read+write interest. */
static void
conn_want_write(skt_conn_t *c, int on)
{
    if (c->flags & F_TLS_RWW)
        on = 1;
    if (!!(c->flags & F_WRITE_WAIT) == !!on || (c->flags & F_CLOSED))
        return;
    evutil_socket_t fd = event_get_fd(&c->ev);
    event_del(&c->ev);
    event_assign(&c->ev, c->net->base, fd, EV_READ | EV_PERSIST | (on ? EV_WRITE : 0), conn_io_cb,
                 c);
    event_add(&c->ev, NULL);
    if (on)
        c->flags |= F_WRITE_WAIT;
    else
        c->flags &= ~F_WRITE_WAIT;
}

/* ---------------------------------------------------------------- output */

static void
outq_free(skt_conn_outq_t *q)
{
    if (!q)
        return;
    for (uint32_t i = 0; i < q->count; i++)
        skt_buf_unref(q->bufs[(q->head + i) % q->cap]);
    free(q);
}

/* Closes c at the next flush instead of now: a send can happen in the middle
 * of a fan-out over a channel's sockets, and closing synchronously would run
 * on_ws_close, which changes that very channel. Unsent output is dropped at
 * once (all but the rest of a half-written frame). */
static void
conn_doom(skt_conn_t *c, uint16_t code)
{
    skt_conn_outq_t *q = c->out;
    /* Bytes that must still go, or whatever we send next would be read as
     * their continuation: the rest of a half-written frame, and what a
     * blocked TLS write has already encrypted. Keep the frames that hold
     * them, drop everything after. */
    size_t keep = q && q->count && q->off ? q->bufs[q->head]->len - q->off : 0;
    conn_tls_t *t = conn_tls(c);
    if (t && t->pending > keep)
        keep = t->pending;
    if (q && q->count && keep) {
        uint32_t n = 0;
        size_t bytes = 0;
        while (n < q->count && bytes < keep) {
            bytes += q->bufs[(q->head + n) % q->cap]->len - (n == 0 ? q->off : 0);
            n++;
        }
        for (uint32_t i = n; i < q->count; i++)
            skt_buf_unref(q->bufs[(q->head + i) % q->cap]);
        q->count = n;
        q->bytes = bytes;
    } else {
        outq_free(q);
        c->out = NULL;
    }
    c->flags |= F_DOOMED;
    c->close_code = code;
    conn_mark_dirty(c);
}

/* The flush's half of conn_doom: a WebSocket that fell too far behind gets a
 * close frame with the doom's code. Its queue is gone, so all it costs is that
 * frame; it may wait for the reader up to the WebSocket idle timeout (a client
 * that resumes reading learns why it was dropped), then the socket is closed.
 * Anything else (out of memory, HTTP) closes at once. */
static void
conn_doom_now(skt_conn_t *c)
{
    c->flags &= ~F_DOOMED;
    if (c->mode != SKT_CONN_WS || !c->close_code) {
        conn_close_now(c);
        return;
    }
    skt_conn_ws_close(c, c->close_code, "Over capacity: the client does not read fast enough");
    if (!(c->flags & F_CLOSED))
        lru_touch(c, LRU_WS);
}

void
skt_conn_send_buf(skt_conn_t *c, skt_buf_t *frame)
{
    if (c->flags & (F_CLOSED | F_CLOSING | F_DOOMED))
        return;
    skt_conn_outq_t *q = c->out;
    if (!q || q->count == q->cap) {
        uint32_t cap = q ? q->cap * 2 : 4;
        skt_conn_outq_t *nq = malloc(sizeof(*nq) + cap * sizeof(skt_buf_t *));
        if (!nq) {
            conn_doom(c, 0);
            return;
        }
        nq->bytes = q ? q->bytes : 0;
        nq->off = q ? q->off : 0;
        nq->head = 0;
        nq->count = q ? q->count : 0;
        nq->cap = cap;
        for (uint32_t i = 0; i < nq->count; i++)
            nq->bufs[i] = q->bufs[(q->head + i) % q->cap];
        free(q);
        c->out = q = nq;
    }
    q->bufs[(q->head + q->count) % q->cap] = skt_buf_ref(frame);
    q->count++;
    q->bytes += frame->len;
    if (c->net->opts.max_backpressure && q->bytes > c->net->opts.max_backpressure &&
        c->mode == SKT_CONN_WS) {
        /* A reader this slow would grow our memory without bound: drop it. */
        skt_log(SKT_LOG_WARN, "dropping a client with %zu unread bytes queued (limit %zu)",
                q->bytes, c->net->opts.max_backpressure);
        conn_doom(c, 4100);
        return;
    }
    conn_mark_dirty(c);
}

/* Drops the first w bytes of the queue, releasing the frames written. */
static void
outq_consume(skt_conn_outq_t *q, size_t w)
{
    q->bytes -= w;
    while (w && q->count) {
        skt_buf_t *b = q->bufs[q->head];
        size_t avail = b->len - q->off;
        if (w < avail) {
            q->off += (uint32_t)w;
            return;
        }
        w -= avail;
        q->off = 0;
        skt_buf_unref(b);
        q->head = (q->head + 1) % q->cap;
        q->count--;
    }
}

/* Writes the queue with one writev() per batch of buffers. Returns 1 when
 * the queue is empty, 0 when the kernel is full, -1 when the connection
 * failed (and was closed). */
static int
conn_write_plain(skt_conn_t *c)
{
    skt_conn_outq_t *q = c->out;
    int fd = event_get_fd(&c->ev);
    while (q && q->count) {
        struct iovec iov[IOV_BATCH];
        int n = 0;
        for (uint32_t i = 0; i < q->count && n < IOV_BATCH; i++, n++) {
            skt_buf_t *b = q->bufs[(q->head + i) % q->cap];
            uint32_t skip = i == 0 ? q->off : 0;
            iov[n].iov_base = b->data + skip;
            iov[n].iov_len = b->len - skip;
        }
        ssize_t w = writev(fd, iov, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                conn_want_write(c, 1);
                return 0;
            }
            conn_close_now(c);
            return -1;
        }
        outq_consume(q, (size_t)w);
        if (q->count && (size_t)w < iov[0].iov_len) {
            conn_want_write(c, 1);
            return 0;
        }
    }
    return 1;
}

/* Writes the queue through the TLS session: a frame of a record or more in
 * place, smaller ones gathered into tls_out. A repeated write sees the same
 * leading bytes (the queue only grows at its tail), as TLS requires. Returns
 * as conn_write_plain. */
static int
conn_write_tls(skt_conn_t *c, conn_tls_t *t)
{
    skt_conn_outq_t *q = c->out;
    c->flags &= ~F_TLS_WWR;
    while (q && q->count) {
        skt_buf_t *b = q->bufs[q->head];
        const unsigned char *p = b->data + q->off;
        size_t len = b->len - q->off;
        if (len < TLS_RECORD && q->count > 1) {
            memcpy(tls_out, p, len);
            for (uint32_t i = 1; i < q->count && len < TLS_RECORD; i++) {
                skt_buf_t *nb = q->bufs[(q->head + i) % q->cap];
                size_t take = nb->len < TLS_RECORD - len ? nb->len : TLS_RECORD - len;
                memcpy(tls_out + len, nb->data, take);
                len += take;
            }
            p = tls_out;
        }
        int want = 0;
        ssize_t w = skt_tls_write(t->session, p, len, &want);
        if (w == SKT_TLS_AGAIN) {
            t->pending = len;
            if (want & SKT_TLS_WANT_WRITE)
                conn_want_write(c, 1);
            else
                c->flags |= F_TLS_WWR; /* the read event is always armed */
            return 0;
        }
        if (w < 0) {
            conn_close_now(c);
            return -1;
        }
        t->pending = 0;
        outq_consume(q, (size_t)w);
    }
    return 1;
}

/* Writes as much of the queue as the socket takes. Returns 0 when the queue
 * is empty or blocked, -1 when the connection failed (and was closed). */
static int
conn_write(skt_conn_t *c)
{
    conn_tls_t *t = conn_tls(c);
    int r = t ? conn_write_tls(c, t) : conn_write_plain(c);
    if (r <= 0)
        return r;
    /* Everything is written: hold no output memory while idle. */
    free(c->out);
    c->out = NULL;
    conn_want_write(c, 0);
    if ((c->flags & (F_CLOSING | F_CLOSE_AFTER)) && !(c->flags & F_SHUT)) {
        /* Our last bytes (a close frame, or an answer sent with Connection:
         * close) are out: half-close and wait briefly for the peer's EOF, so
         * that unread input of theirs does not turn our close into a reset
         * that destroys the answer before they read it. */
        if (t)
            skt_tls_shutdown(t->session);
        shutdown(event_get_fd(&c->ev), SHUT_WR);
        c->flags |= F_SHUT;
        lru_touch(c, LRU_CLOSING);
    }
    return 0;
}

/* The end-of-iteration flush: one write per dirty connection. */
static void
net_flush_cb(evutil_socket_t fd, short what, void *arg)
{
    skt_net_t *net = arg;
    skt_conn_t *c = net->dirty;
    net->dirty = NULL;
    while (c) {
        skt_conn_t *next = c->flush_next;
        c->flush_next = NULL;
        c->flags &= ~F_FLUSHING;
        if (c->flags & F_DOOMED)
            conn_doom_now(c);
        if (!(c->flags & F_CLOSED) && !(c->flags & F_WRITE_WAIT))
            conn_write(c);
        if (!(c->flags & F_CLOSED) && (c->flags & F_RESUME))
            conn_process_buffered(c);
        if (!(c->flags & F_CLOSED) && (c->flags & F_TLS_MORE))
            conn_read(c);
        skt_conn_unref(c);
        c = next;
    }
}

skt_buf_t *
skt_conn_frame_text(const char *msg, size_t len)
{
    uint8_t hdr[10];
    size_t hl = skt_ws_frame_header(hdr, SKT_WS_OP_TEXT, len);
    skt_buf_t *b = skt_buf_new(hl + len);
    if (!b)
        return NULL;
    memcpy(b->data, hdr, hl);
    memcpy(b->data + hl, msg, len);
    return b;
}

void
skt_conn_send_text(skt_conn_t *c, const char *text, size_t len)
{
    skt_buf_t *b = skt_conn_frame_text(text, len);
    if (!b) {
        conn_doom(c, 0);
        return;
    }
    skt_conn_send_buf(c, b);
    skt_buf_unref(b);
}

/* Queues a control frame (pong or close) built from payload. */
static void
conn_send_control(skt_conn_t *c, unsigned opcode, const uint8_t *payload, size_t len)
{
    uint8_t hdr[10];
    size_t hl = skt_ws_frame_header(hdr, opcode, len);
    skt_buf_t *b = skt_buf_new(hl + len);
    if (!b) {
        conn_doom(c, 0);
        return;
    }
    memcpy(b->data, hdr, hl);
    if (len)
        memcpy(b->data + hl, payload, len);
    skt_conn_send_buf(c, b);
    skt_buf_unref(b);
}

/* ---------------------------------------------------------------- close */

/* Tells the protocol layer once that a WebSocket connection is gone. */
static void
conn_notify_ws_close(skt_conn_t *c)
{
    if (!(c->flags & F_WS_OPEN))
        return;
    c->flags &= ~F_WS_OPEN;
    if (c->net->h.on_ws_close)
        c->net->h.on_ws_close(c);
}

static void
conn_close_now(skt_conn_t *c)
{
    if (c->flags & F_CLOSED)
        return;
    c->refs++;
    c->flags |= F_CLOSED;
    conn_notify_ws_close(c);
    evutil_socket_t fd = event_get_fd(&c->ev);
    if (skt_log_enabled(SKT_LOG_DEBUG)) {
        if (c->mode == SKT_CONN_WS && c->close_code)
            skt_log(SKT_LOG_DEBUG, "connection %d: closed (WebSocket close %u)", (int)fd,
                    (unsigned)c->close_code);
        else
            skt_log(SKT_LOG_DEBUG, "connection %d: closed (%s)", (int)fd,
                    c->mode == SKT_CONN_WS ? "WebSocket" : "HTTP");
    }
    event_del(&c->ev);
    conn_tls_t *t = conn_tls(c);
    if (t && t->session) {
        skt_tls_conn_free(t->session);
        t->session = NULL;
    }
    close(fd);
    lru_unlink(c);
    outq_free(c->out);
    c->out = NULL;
    free(c->in);
    c->in = NULL;
    free(c->frag);
    c->frag = NULL;
    c->net->count--;
    skt_conn_unref(c);
}

void
skt_conn_abort(skt_conn_t *c)
{
    conn_close_now(c);
}

void
skt_conn_ws_close(skt_conn_t *c, uint16_t code, const char *reason)
{
    if (c->flags & (F_CLOSED | F_CLOSING))
        return;
    uint8_t frame[127];
    size_t n = skt_ws_close_frame(frame, code, reason);
    skt_buf_t *b = skt_buf_new_copy(frame, n);
    if (!b) {
        conn_close_now(c);
        return;
    }
    skt_conn_send_buf(c, b);
    skt_buf_unref(b);
    if (c->flags & F_CLOSED)
        return;
    c->close_code = code;
    c->flags |= F_CLOSING;
    free(c->frag);
    c->frag = NULL;
    lru_touch(c, LRU_CLOSING);
    conn_notify_ws_close(c);
}

int
skt_conn_is_closed(const skt_conn_t *c)
{
    return (c->flags & (F_CLOSED | F_CLOSING | F_DOOMED)) != 0;
}

void
skt_conn_ref(skt_conn_t *c)
{
    c->refs++;
}

void
skt_conn_unref(skt_conn_t *c)
{
    if (--c->refs == 0 && (c->flags & F_CLOSED))
        conn_free(c);
}

static void
conn_free(skt_conn_t *c)
{
    free(c);
}

/* ---------------------------------------------------------------- HTTP */

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
        conn_close_now(c);
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
    else if (c->in && c->in->len && !(c->flags & F_IN_READ)) {
        /* Pipelined requests were waiting for this answer. */
        c->flags |= F_RESUME;
        conn_mark_dirty(c);
    }
}

/* Answers a request we cannot parse or accept, and closes after it. */
static void
conn_http_fail(skt_conn_t *c, int status, const char *msg)
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
        conn_http_fail(c, 400, "Invalid WebSocket handshake.");
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
        conn_close_now(c);
        return -1;
    }
    c->flags &= ~F_AWAIT;
    skt_conn_send_buf(c, b);
    skt_buf_unref(b);
    c->mode = SKT_CONN_WS;
    c->flags |= F_WS_OPEN;
    lru_touch(c, LRU_WS);
    skt_log(SKT_LOG_DEBUG, "connection %d: WebSocket open on %.*s", (int)event_get_fd(&c->ev),
            (int)req->path_len, req->path);
    return 0;
}

/* Parses and dispatches one request from data. Returns the bytes consumed,
 * 0 when the request is incomplete (or the connection is failing). */
static size_t
conn_http_step(skt_conn_t *c, char *data, size_t len)
{
    skt_net_t *net = c->net;
    skt_http_req_t req;
    int r = skt_http_parse_request(data, len, net->opts.max_head, &req);
    if (r == 0)
        return 0;
    if (r < 0) {
        if (r == SKT_HTTP_ETOOBIG)
            conn_http_fail(c, 431, "Request header fields too large.");
        else if (r == SKT_HTTP_EVERSION)
            conn_http_fail(c, 505, "HTTP version not supported.");
        else
            conn_http_fail(c, 400, "Malformed HTTP request.");
        return 0;
    }
    size_t head = (size_t)r;
    char *body = data + head;
    size_t body_len = 0, used = head;
    if (req.chunked) {
        /* Decode a copy, so that an incomplete body stays intact for the
         * next attempt; chunked uploads are rare in Pusher clients. */
        char *copy = malloc(len - head + 1);
        if (!copy) {
            conn_close_now(c);
            return 0;
        }
        memcpy(copy, data + head, len - head);
        skt_http_chunked_t st;
        skt_http_chunked_init(&st);
        size_t raw = 0;
        int cr =
            skt_http_chunked_decode(&st, copy, len - head, net->opts.max_body, &body_len, &raw);
        if (cr <= 0) {
            free(copy);
            if (cr == -2)
                conn_http_fail(c, 413, "The payload size is too big.");
            else if (cr < 0)
                conn_http_fail(c, 400, "Malformed chunked body.");
            return 0;
        }
        memcpy(body, copy, body_len);
        free(copy);
        used = head + raw;
    } else if (req.content_length > 0) {
        if ((uint64_t)req.content_length > net->opts.max_body) {
            conn_http_fail(c, 413, "The payload size is too big.");
            return 0;
        }
        if (len - head < (size_t)req.content_length)
            return 0;
        body_len = (size_t)req.content_length;
        used = head + body_len;
    }
    if (req.keep_alive)
        c->flags |= F_KEEPALIVE;
    else
        c->flags &= ~F_KEEPALIVE;
    c->flags |= F_AWAIT;
    lru_touch(c, LRU_HTTP);
    char saved = body[body_len];
    /* Handlers may treat the body as a string; the byte after it is either
     * the next request's or spare room in the buffer, restored below. */
    body[body_len] = '\0';
    net->h.on_request(c, &req, body, body_len);
    if (!(c->flags & F_CLOSED))
        body[body_len] = saved;
    return used;
}

/* ---------------------------------------------------------------- WebSocket */

/* Ends a connection whose peer broke the protocol, with the RFC's code. */
static void
conn_ws_fail(skt_conn_t *c, uint16_t code, const char *why)
{
    skt_log(SKT_LOG_DEBUG, "websocket protocol error %u: %s", code, why);
    skt_conn_ws_close(c, code, why);
}

/* Delivers a complete data message after checking its encoding. */
static void
conn_ws_deliver(skt_conn_t *c, unsigned opcode, uint8_t *data, size_t len)
{
    if (opcode == SKT_WS_OP_TEXT && !skt_utf8_valid(data, len)) {
        conn_ws_fail(c, SKT_WS_CLOSE_BAD_DATA, "Invalid UTF-8");
        return;
    }
    char saved = 0;
    (void)saved;
    c->net->h.on_ws_message(c, opcode == SKT_WS_OP_BINARY, (char *)data, len);
}

/* Parses and handles one frame. Returns bytes consumed, 0 for more input. */
static size_t
conn_ws_step(skt_conn_t *c, char *data, size_t len)
{
    skt_ws_frame_t f;
    uint16_t code = 0;
    ssize_t n = skt_ws_frame_parse((uint8_t *)data, len, c->net->opts.max_ws_payload, &f, &code);
    if (n == 0)
        return 0;
    if (n < 0) {
        conn_ws_fail(c, code ? code : SKT_WS_CLOSE_PROTOCOL, "Protocol error");
        return 0;
    }
    switch (f.opcode) {
    case SKT_WS_OP_PING:
        conn_send_control(c, SKT_WS_OP_PONG, f.payload, f.payload_len);
        break;
    case SKT_WS_OP_PONG:
        break;
    case SKT_WS_OP_CLOSE: {
        uint16_t peer = 0;
        if (skt_ws_close_parse(f.payload, f.payload_len, &peer) != 0) {
            conn_ws_fail(c, peer ? peer : SKT_WS_CLOSE_PROTOCOL, "Invalid close frame");
            return 0;
        }
        skt_conn_ws_close(c, peer == SKT_WS_CLOSE_NO_STATUS ? SKT_WS_CLOSE_NORMAL : peer, "");
        return (size_t)n;
    }
    case SKT_WS_OP_TEXT:
    case SKT_WS_OP_BINARY:
        if (c->frag) {
            conn_ws_fail(c, SKT_WS_CLOSE_PROTOCOL, "Expected a continuation frame");
            return 0;
        }
        if (f.fin) {
            conn_ws_deliver(c, f.opcode, f.payload, f.payload_len);
            break;
        }
        c->frag = malloc(sizeof(skt_conn_frag_t) + f.payload_len + 256);
        if (!c->frag) {
            conn_close_now(c);
            return 0;
        }
        c->frag->opcode = (uint8_t)f.opcode;
        c->frag->len = f.payload_len;
        c->frag->cap = f.payload_len + 256;
        memcpy(c->frag->data, f.payload, f.payload_len);
        break;
    case SKT_WS_OP_CONT: {
        skt_conn_frag_t *fr = c->frag;
        if (!fr) {
            conn_ws_fail(c, SKT_WS_CLOSE_PROTOCOL, "Unexpected continuation frame");
            return 0;
        }
        if (fr->len + f.payload_len > c->net->opts.max_ws_payload) {
            conn_ws_fail(c, SKT_WS_CLOSE_TOO_BIG, "Message too big");
            return 0;
        }
        if (fr->len + f.payload_len > fr->cap) {
            size_t cap = (fr->len + f.payload_len) * 2;
            skt_conn_frag_t *nf = realloc(fr, sizeof(*nf) + cap);
            if (!nf) {
                conn_close_now(c);
                return 0;
            }
            c->frag = fr = nf;
            fr->cap = cap;
        }
        memcpy(fr->data + fr->len, f.payload, f.payload_len);
        fr->len += f.payload_len;
        if (f.fin) {
            c->frag = NULL;
            conn_ws_deliver(c, fr->opcode, fr->data, fr->len);
            free(fr);
        }
        break;
    }
    default:
        conn_ws_fail(c, SKT_WS_CLOSE_PROTOCOL, "Unknown opcode");
        return 0;
    }
    return (size_t)n;
}

/* ---------------------------------------------------------------- input */

/* Runs the HTTP or WebSocket parser over data until it needs more input or
 * the connection stops reading. Returns the bytes consumed. */
static size_t
conn_process(skt_conn_t *c, char *data, size_t len)
{
    size_t off = 0;
    c->flags |= F_IN_READ;
    while (off < len && !(c->flags & (F_CLOSED | F_CLOSING | F_CLOSE_AFTER | F_AWAIT))) {
        size_t n = c->mode == SKT_CONN_HTTP ? conn_http_step(c, data + off, len - off)
                                            : conn_ws_step(c, data + off, len - off);
        if (n == 0)
            break;
        off += n;
    }
    c->flags &= ~F_IN_READ;
    return off;
}

/* Keeps the unconsumed tail of data for the next read: in the connection's
 * own buffer, allocated only now that there is something to hold. */
static void
conn_keep_rest(skt_conn_t *c, char *data, size_t len, size_t used)
{
    size_t rest = len - used;
    if (c->flags & F_CLOSED)
        return;
    if (c->in && data == c->in->data) {
        if (rest == 0) {
            free(c->in);
            c->in = NULL;
        } else if (used) {
            memmove(c->in->data, c->in->data + used, rest);
            c->in->len = rest;
        }
        return;
    }
    if (rest == 0)
        return;
    size_t cap = rest < 4096 ? 4096 : rest + rest / 2;
    c->in = malloc(sizeof(skt_conn_inbuf_t) + cap + 1);
    if (!c->in) {
        conn_close_now(c);
        return;
    }
    c->in->cap = cap;
    c->in->len = rest;
    memcpy(c->in->data, data + used, rest);
}

static void
conn_process_buffered(skt_conn_t *c)
{
    c->flags &= ~F_RESUME;
    if (!c->in || (c->flags & F_AWAIT))
        return;
    c->refs++;
    size_t used = conn_process(c, c->in->data, c->in->len);
    if (!(c->flags & F_CLOSED) && c->in)
        conn_keep_rest(c, c->in->data, c->in->len, used);
    skt_conn_unref(c);
}

/* Answers plain HTTP that reached a TLS port with a readable error instead of
 * a reset, then closes: the client learns to use https:// or wss://. */
static void
conn_refuse_plain_http(skt_conn_t *c)
{
#define PLAIN_HTTP_BODY "This port speaks TLS: use https:// or wss://.\r\n"
    _Static_assert(sizeof(PLAIN_HTTP_BODY) - 1 == 47, "Content-Length below");
    static const char answer[] = "HTTP/1.1 400 Bad Request\r\n"
                                 "Content-Type: text/plain\r\n"
                                 "Content-Length: 47\r\n"
                                 "Connection: close\r\n\r\n" PLAIN_HTTP_BODY;
    int fd = event_get_fd(&c->ev);
    skt_log(SKT_LOG_DEBUG, "plain HTTP on the TLS port: answered 400");
    if (write(fd, answer, sizeof(answer) - 1) > 0) {
        /* Read what is left of the request, so that closing sends FIN, not
         * a reset that could destroy the answer in flight. */
        shutdown(fd, SHUT_WR);
        (void)!read(fd, read_buf, sizeof(read_buf));
    }
    conn_close_now(c);
}

/* Reads from the socket or its TLS session into buf. Returns the count, 0 at
 * the end of the stream, -1 on failure, SKT_TLS_AGAIN when nothing is
 * available now, SKT_TLS_PLAIN_HTTP (TLS listeners) for plain HTTP. */
static ssize_t
conn_recv(skt_conn_t *c, char *buf, size_t cap)
{
    skt_tls_conn_t *s = conn_session(c);
    if (!s) {
        ssize_t n = read(event_get_fd(&c->ev), buf, cap);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return SKT_TLS_AGAIN;
        return n < 0 ? -1 : n;
    }
    int want = 0;
    c->flags &= ~F_TLS_MORE;
    ssize_t n = skt_tls_read(s, buf, cap, &want);
    if (want & SKT_TLS_WANT_WRITE) {
        c->flags |= F_TLS_RWW;
        conn_want_write(c, 1);
    }
    if (want & SKT_TLS_MORE) {
        c->flags |= F_TLS_MORE;
        conn_mark_dirty(c);
    }
    return n;
}

static void
conn_read(skt_conn_t *c)
{
    char *data;
    size_t len;
    ssize_t n;
    skt_conn_inbuf_t *in = c->in;

    if (in) {
        if (in->cap - in->len < READ_CHUNK / 4) {
            size_t limit = c->net->opts.max_head + c->net->opts.max_body + 65536;
            if (c->mode == SKT_CONN_WS)
                limit = c->net->opts.max_ws_payload + 65536;
            if (in->cap >= limit) {
                /* The parsers refuse anything this large before it gets
                 * here; a peer that still grows the buffer is misbehaving. */
                conn_close_now(c);
                return;
            }
            size_t cap = in->cap * 2 + READ_CHUNK;
            skt_conn_inbuf_t *nin = realloc(in, sizeof(*nin) + cap + 1);
            if (!nin) {
                conn_close_now(c);
                return;
            }
            c->in = in = nin;
            in->cap = cap;
        }
        n = conn_recv(c, in->data + in->len, in->cap - in->len);
    } else {
        n = conn_recv(c, read_buf, sizeof(read_buf) - 1);
    }
    if (n == SKT_TLS_AGAIN)
        return;
    if (n == SKT_TLS_PLAIN_HTTP) {
        conn_refuse_plain_http(c);
        return;
    }
    if (n <= 0) {
        conn_close_now(c);
        return;
    }
    if (c->flags & (F_CLOSING | F_CLOSE_AFTER)) {
        /* Waiting for the peer to go: input no longer matters. */
        if (in)
            in->len = 0;
        return;
    }
    lru_touch(c, c->mode == SKT_CONN_WS ? LRU_WS : LRU_HTTP);
    if (in) {
        in->len += (size_t)n;
        data = in->data;
        len = in->len;
    } else {
        data = read_buf;
        len = (size_t)n;
    }
    if (c->flags & F_AWAIT) {
        conn_keep_rest(c, data, len, 0);
        return;
    }
    size_t used = conn_process(c, data, len);
    conn_keep_rest(c, data, len, used);
}

static void
conn_io_cb(evutil_socket_t fd, short what, void *arg)
{
    skt_conn_t *c = arg;
    c->refs++;
    if ((what & EV_WRITE) && (c->flags & F_TLS_RWW)) {
        c->flags &= ~F_TLS_RWW;
        what |= EV_READ; /* repeat the TLS read that waited for this */
    }
    if ((what & EV_READ) && (c->flags & F_TLS_WWR))
        what |= EV_WRITE; /* repeat the TLS write that waited for this */
    if ((what & EV_WRITE) && !(c->flags & F_CLOSED)) {
        /* F_WRITE_WAIT stays set: conn_write() disarms EV_WRITE once the
         * queue is empty, or leaves it armed while the kernel is full. */
        conn_write(c);
        if (!(c->flags & F_CLOSED) && c->out)
            conn_want_write(c, 1);
        if (!(c->flags & F_CLOSED) && (c->flags & F_RESUME))
            conn_process_buffered(c);
    }
    if ((what & EV_READ) && !(c->flags & F_CLOSED))
        conn_read(c);
    skt_conn_unref(c);
}

/* ---------------------------------------------------------------- net */

static void
net_accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
              void *arg)
{
    skt_net_t *net = arg;
    skt_conn_t *c = calloc(1, net->conn_alloc);
    if (!c) {
        close(fd);
        return;
    }
    if (net->opts.tls) {
        c->net = net;
        skt_tls_conn_t *s = skt_tls_conn_new(net->opts.tls, fd);
        if (!s) {
            free(c);
            close(fd);
            return;
        }
        conn_tls(c)->session = s;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->net = net;
    c->refs = 0;
    c->mode = SKT_CONN_HTTP;
    event_assign(&c->ev, net->base, fd, EV_READ | EV_PERSIST, conn_io_cb, c);
    event_add(&c->ev, NULL);
    net->count++;
    lru_touch(c, LRU_HTTP);
    if (skt_log_enabled(SKT_LOG_DEBUG)) {
        char peer[64];
        skt_conn_peer(c, peer, sizeof(peer));
        skt_log(SKT_LOG_DEBUG, "connection %d: accepted from %s%s", (int)fd, peer,
                net->opts.tls ? " (TLS)" : "");
    }
}

static void
net_accept_error_cb(struct evconnlistener *l, void *arg)
{
    int err = EVUTIL_SOCKET_ERROR();
    skt_log(SKT_LOG_ERROR, "accept failed: %s", evutil_socket_error_to_string(err));
}

/* Closes what has idled past its timeout: HTTP keep-alive and half-sent
 * requests, silent WebSocket clients (4201, as Pusher's "pong not
 * received"), and closing sockets whose peer never finished the handshake. */
static void
net_sweep_cb(evutil_socket_t fd, short what, void *arg)
{
    skt_net_t *net = arg;
    uint32_t now = now_sec();
    unsigned limits[LRU_COUNT] = {0, net->opts.http_idle_timeout, net->opts.ws_idle_timeout,
                                  CLOSING_TIMEOUT};
    for (int l = LRU_HTTP; l < LRU_COUNT; l++) {
        skt_conn_t *c;
        while ((c = net->lru[l].head) && now - c->last_active >= limits[l]) {
            if (l == LRU_WS)
                skt_conn_ws_close(c, 4201, "Pong reply not received in time");
            if (c->lru == (uint8_t)l)
                conn_close_now(c);
        }
    }
}

skt_net_t *
skt_net_new(struct event_base *base, const skt_net_opts_t *opts, const skt_net_handlers_t *h,
            void *userdata)
{
    skt_net_t *net = calloc(1, sizeof(*net));
    if (!net) {
        if (opts->tls)
            skt_tls_free(opts->tls);
        return NULL;
    }
    net->base = base;
    net->opts = *opts;
    if (net->opts.conn_size < sizeof(skt_conn_t))
        net->opts.conn_size = sizeof(skt_conn_t);
    net->conn_alloc = net->opts.conn_size;
    if (net->opts.tls) {
        size_t a = _Alignof(conn_tls_t);
        net->tls_slot = (net->opts.conn_size + a - 1) / a * a;
        net->conn_alloc = net->tls_slot + sizeof(conn_tls_t);
    }
    net->h = *h;
    net->userdata = userdata;
    net->flush_ev = event_new(base, -1, 0, net_flush_cb, net);
    net->sweep_ev = event_new(base, -1, EV_PERSIST, net_sweep_cb, net);
    if (!net->flush_ev || !net->sweep_ev) {
        skt_net_free(net);
        return NULL;
    }
    struct timeval one = {1, 0};
    event_add(net->sweep_ev, &one);
    return net;
}

void *
skt_net_userdata(skt_net_t *net)
{
    return net->userdata;
}

int
skt_net_listen(skt_net_t *net, const char *host, int port, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    int sslen = sizeof(ss);
    char addr[300];
    memset(&ss, 0, sizeof(ss));
    if (strchr(host, ':'))
        snprintf(addr, sizeof(addr), "[%s]:%d", host, port);
    else
        snprintf(addr, sizeof(addr), "%s:%d", host, port);
    if (evutil_parse_sockaddr_port(addr, (struct sockaddr *)&ss, &sslen) != 0) {
        snprintf(err, errlen, "cannot listen on '%s': not an IP address", host);
        return -1;
    }
    net->listener =
        evconnlistener_new_bind(net->base, net_accept_cb, net,
                                LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
                                4096, (struct sockaddr *)&ss, sslen);
    if (!net->listener) {
        snprintf(err, errlen, "cannot listen on %s: %s", addr, strerror(errno));
        return -1;
    }
    evconnlistener_set_error_cb(net->listener, net_accept_error_cb);
    return 0;
}

int
skt_net_replace_tls(skt_net_t *net, skt_tls_t *tls)
{
    if (!net->opts.tls) {
        skt_tls_free(tls);
        return -1;
    }
    /* Sessions hold their own reference to the context they were made from. */
    skt_tls_free(net->opts.tls);
    net->opts.tls = tls;
    return 0;
}

void
skt_net_stop_listening(skt_net_t *net)
{
    if (net->listener) {
        evconnlistener_free(net->listener);
        net->listener = NULL;
    }
}

size_t
skt_net_count(const skt_net_t *net)
{
    return net->count;
}

void
skt_net_free(skt_net_t *net)
{
    if (!net)
        return;
    skt_net_stop_listening(net);
    for (int l = LRU_HTTP; l < LRU_COUNT; l++)
        while (net->lru[l].head)
            conn_close_now(net->lru[l].head);
    while (net->dirty) {
        skt_conn_t *c = net->dirty;
        net->dirty = c->flush_next;
        c->flags &= ~F_FLUSHING;
        skt_conn_unref(c);
    }
    if (net->flush_ev)
        event_free(net->flush_ev);
    if (net->sweep_ev)
        event_free(net->sweep_ev);
    if (net->opts.tls)
        skt_tls_free(net->opts.tls);
    free(net);
}

void
skt_conn_peer(const skt_conn_t *c, char *out, size_t outlen)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    out[0] = '\0';
    if (getpeername(event_get_fd(&c->ev), (struct sockaddr *)&ss, &sl) != 0)
        return;
    if (ss.ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, out, (socklen_t)outlen);
    else if (ss.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, out, (socklen_t)outlen);
}
