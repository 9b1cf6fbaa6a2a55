/* conn_in.c - the socket event and reading: input buffers and the parse loop.
 *
 * skt_conn_io_cb is every connection's event: it writes what the socket
 * takes (conn_out.c), then reads. Input is read into one shared buffer and
 * parsed there; only the tail that holds an incomplete request or frame is
 * copied to a buffer of the connection's own, which later reads extend, its
 * bytes charged to the input budget (a connection the budget cannot hold is
 * refused here, in its own protocol). The parse loop hands complete requests
 * to conn_http.c and complete frames to conn_ws.c, and stops while an HTTP
 * answer is pending or the connection is closing. Only net.c and listener.c
 * call this file.
 */
#include <stdlib.h>
#include <string.h>

#include "net/conn_internal.h"
#include "util/log.h"

/* Stops reading while buffered HTTP requests wait for earlier answers, so
 * that a client pipelining requests without reading the answers holds no
 * more than one read of input and the gate's worth of output; reading
 * resumes once they are processed. */
static void
conn_hold_update(skt_conn_t *c)
{
    if (c->flags & F_CLOSED)
        return;
    int hold = c->mode == SKT_CONN_HTTP && c->in && c->in->len &&
               !(c->flags & (F_CLOSING | F_CLOSE_AFTER)) && skt_conn_http_blocked(c);
    if (!!(c->flags & F_HOLD) == hold)
        return;
    c->flags ^= F_HOLD;
    skt_conn_rearm(c);
    if (!hold && (c->flags & F_IO_MORE))
        skt_conn_mark_dirty(c); /* the transport kept input while we held */
}

/* Puts c, after its input was processed, on the timeout list of what it
 * waits for: a request head it has begun (kept where it is when it already
 * waits for that head: the head's deadline runs from its first byte), or
 * anything else, stamped as active now. */
static void
conn_timeout_update(skt_conn_t *c)
{
    if (c->flags & (F_CLOSED | F_CLOSING | F_CLOSE_AFTER | F_DOOMED))
        return;
    if (c->mode == SKT_CONN_WS) {
        skt_conn_lru_touch(c, LRU_WS);
        return;
    }
    /* Input held behind our answers is not the client's delay. */
    int in_head = c->in && c->in->len && !c->in->req.head_len && !skt_conn_http_blocked(c);
    if (!in_head)
        skt_conn_lru_touch(c, LRU_HTTP);
    else if (c->lru != LRU_HEAD)
        skt_conn_lru_touch(c, LRU_HEAD);
}

/* Runs the HTTP or WebSocket parser over data until it needs more input or
 * the connection stops reading. Returns the bytes consumed. */
static size_t
conn_process(skt_conn_t *c, skt_conn_req_t *rq, char *data, size_t len)
{
    size_t off = 0;
    c->flags |= F_IN_READ;
    while (off < len && !(c->flags & (F_CLOSED | F_CLOSING | F_CLOSE_AFTER)) &&
           !(c->mode == SKT_CONN_HTTP && skt_conn_http_blocked(c))) {
        size_t n = c->mode == SKT_CONN_HTTP ? skt_conn_http_step(c, rq, data + off, len - off)
                                            : skt_conn_ws_step(c, data + off, len - off);
        if (n == 0)
            break;
        off += n;
    }
    c->flags &= ~F_IN_READ;
    return off;
}

/* Charges bytes of buffered input to c's budget (skt_conn_budget_take), and
 * refuses c in its own protocol when the budget is full. Returns 0, or -1
 * when c was refused. */
static int
conn_budget_take(skt_conn_t *c, size_t bytes)
{
    if (skt_conn_budget_take(c, bytes) == 0)
        return 0;
    if (c->mode == SKT_CONN_WS)
        skt_conn_ws_busy(c);
    else if (c->flags & F_AWAIT)
        skt_conn_close_now(c); /* an answer is owed first: no room to say why */
    else
        skt_conn_http_fail(c, 503, "The server is busy: too much buffered input. Try again later.");
    return -1;
}

/* Keeps the unconsumed tail of data for the next read, with where its first
 * request stands (rq): in the connection's own buffer, allocated only now
 * that there is something to hold. A connection that is closing keeps
 * nothing: its input no longer matters. */
static void
conn_keep_rest(skt_conn_t *c, const skt_conn_req_t *rq, char *data, size_t len, size_t used)
{
    size_t rest = len - used;
    if (c->flags & F_CLOSED)
        return;
    if (c->flags & (F_CLOSING | F_CLOSE_AFTER))
        rest = 0;
    if (c->in && data == c->in->data) {
        if (rest == 0) {
            skt_conn_in_free(c);
        } else if (used) {
            memmove(c->in->data, c->in->data + used, rest);
            c->in->len = rest;
        }
        return;
    }
    if (rest == 0)
        return;
    size_t cap = rest < 4096 ? 4096 : rest + rest / 2;
    if (conn_budget_take(c, cap) != 0)
        return;
    c->in = malloc(sizeof(skt_conn_inbuf_t) + cap + 1);
    if (!c->in) {
        skt_conn_budget_give(c, cap);
        skt_conn_close_now(c);
        return;
    }
    c->in->cap = cap;
    c->in->len = rest;
    c->in->req = *rq;
    memcpy(c->in->data, data + used, rest);
}

void
skt_conn_process_buffered(skt_conn_t *c)
{
    c->flags &= ~F_RESUME;
    if (!c->in || (c->flags & F_AWAIT))
        return;
    c->refs++;
    size_t used = conn_process(c, &c->in->req, c->in->data, c->in->len);
    if (!(c->flags & F_CLOSED) && c->in)
        conn_keep_rest(c, &c->in->req, c->in->data, c->in->len, used);
    conn_hold_update(c);
    conn_timeout_update(c);
    skt_conn_unref(c);
}

/* Makes room for the next read in c's own buffer. Returns 0, or -1 when c
 * was closed (a peer growing it past what the parsers allow, or no memory). */
static int
conn_in_room(skt_conn_t *c)
{
    skt_conn_inbuf_t *in = c->in;
    if (in->cap - in->len >= SKT_CONN_READ_CHUNK / 4)
        return 0;
    size_t limit = c->net->opts.max_head + c->net->opts.max_body + 65536;
    if (c->mode == SKT_CONN_WS)
        limit = c->net->opts.max_ws_payload + 65536;
    if (in->cap >= limit) {
        /* The parsers refuse anything this large before it gets here; a
         * peer that still grows the buffer is misbehaving. */
        skt_conn_close_now(c);
        return -1;
    }
    size_t cap = in->cap * 2 + SKT_CONN_READ_CHUNK;
    /* A body of known length: grow to it (and a little room), not past. */
    size_t need = c->mode == SKT_CONN_HTTP && in->req.head_len && !in->req.chunked
                      ? in->req.head_len + (size_t)in->req.content_length
                      : 0;
    if (need > in->cap && need + SKT_CONN_READ_CHUNK / 4 < cap)
        cap = need + SKT_CONN_READ_CHUNK / 4;
    if (conn_budget_take(c, cap - in->cap) != 0) {
        skt_conn_in_free(c);
        return -1;
    }
    skt_conn_inbuf_t *nin = realloc(in, sizeof(*nin) + cap + 1);
    if (!nin) {
        skt_conn_budget_give(c, cap - in->cap);
        skt_conn_close_now(c);
        return -1;
    }
    c->in = nin;
    nin->cap = cap;
    return 0;
}

void
skt_conn_read(skt_conn_t *c)
{
    char *data;
    size_t len;
    ssize_t n;
    skt_conn_inbuf_t *in = c->in;

    if (c->flags & F_HOLD) {
        /* Woken for a transport's write: the input stays in the kernel, and
         * reading is disarmed again once that write no longer needs it. */
        skt_conn_rearm(c);
        return;
    }
    if (in) {
        if (conn_in_room(c) != 0)
            return;
        in = c->in;
        n = c->net->io->read(c, in->data + in->len, in->cap - in->len);
    } else {
        n = c->net->io->read(c, skt_conn_read_buf, sizeof(skt_conn_read_buf) - 1);
    }
    if (n == SKT_CONN_IO_AGAIN)
        return;
    if (n <= 0) {
        skt_conn_close_now(c);
        return;
    }
    if (c->flags & (F_CLOSING | F_CLOSE_AFTER)) {
        skt_conn_in_free(c); /* waiting for the peer to go: input no longer matters */
        return;
    }
    if (in) {
        in->len += (size_t)n;
        data = in->data;
        len = in->len;
    } else {
        data = skt_conn_read_buf;
        len = (size_t)n;
    }
    skt_conn_req_t fresh = {0};
    skt_conn_req_t *rq = in ? &in->req : &fresh;
    size_t used = conn_process(c, rq, data, len);
    conn_keep_rest(c, rq, data, len, used);
    conn_hold_update(c);
    conn_timeout_update(c);
}

void
skt_conn_io_cb(evutil_socket_t fd, short what, void *arg)
{
    skt_conn_t *c = arg;
    c->refs++;
    if ((what & EV_WRITE) && (c->flags & F_IO_RWW)) {
        c->flags &= ~F_IO_RWW;
        what |= EV_READ; /* repeat the read that waited for this */
    }
    if ((what & EV_READ) && (c->flags & F_IO_WWR))
        what |= EV_WRITE; /* repeat the write that waited for this */
    if ((what & EV_WRITE) && !(c->flags & F_CLOSED)) {
        /* F_WRITE_WAIT stays set: skt_conn_write() disarms EV_WRITE once
         * the queue is empty, or leaves it armed while the kernel is full. */
        skt_conn_write(c);
        if (!(c->flags & F_CLOSED) && c->out)
            skt_conn_want_write(c, 1);
        if (!(c->flags & F_CLOSED) && (c->flags & F_RESUME))
            skt_conn_process_buffered(c);
    }
    if ((what & EV_READ) && !(c->flags & F_CLOSED))
        skt_conn_read(c);
    skt_conn_unref(c);
}
