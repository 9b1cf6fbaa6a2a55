/* conn_out.c - the output queue: queuing shared frames, its bound, writing, dooming.
 *
 * A connection's output is a ring of references to shared, refcounted frames
 * (util/buf.h), allocated only while bytes wait. Queuing marks the connection
 * dirty; the flush (net.c) writes it once per loop iteration through the
 * transport (conn_io.c), which consumes what the kernel took. A reader that
 * falls too far behind is doomed: its queue is dropped at once, all but the
 * bytes that must still go out (the rest of a half-written frame, and what
 * the transport has committed to), and the next flush (net.c) closes it. It
 * also says when an HTTP connection's next request must wait for the answers
 * queued before it (skt_conn_http_blocked). It calls only conn.c.
 */
#include <stdlib.h>
#include <sys/socket.h>

#include "net/conn_internal.h"
#include "util/log.h"

int
skt_conn_http_blocked(const skt_conn_t *c)
{
    size_t gate = c->net->opts.max_backpressure;
    if (!gate || gate > SKT_CONN_HTTP_OUT_GATE)
        gate = SKT_CONN_HTTP_OUT_GATE;
    return (c->flags & F_AWAIT) || (c->out && c->out->bytes > gate);
}

/* Closes c at the next flush instead of now: a send can happen in the middle
 * of a fan-out over a channel's sockets, and closing synchronously would run
 * on_ws_close, which changes that very channel. Unsent output is dropped at
 * once (all but the bytes that must still go). */
void
skt_conn_doom(skt_conn_t *c, uint16_t code)
{
    skt_conn_outq_t *q = c->out;
    /* Bytes that must still go, or whatever we send next would be read as
     * their continuation: the rest of a half-written frame, and what the
     * transport has committed to. Keep the frames that hold them, drop
     * everything after. */
    size_t keep = q && q->count && q->off ? q->bufs[q->head]->len - q->off : 0;
    size_t committed = q ? c->net->io->committed(c) : 0;
    if (committed > keep)
        keep = committed;
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
        q->big = NULL; /* doomed: nothing more is queued */
    } else {
        skt_conn_outq_free(q);
        c->out = NULL;
    }
    c->flags |= F_DOOMED;
    c->close_code = code;
    skt_conn_mark_dirty(c);
}

/* What the output bound (max_backpressure) says of a message of len bytes. */
enum { OUT_QUEUE, OUT_QUEUE_BIG, OUT_REFUSE, OUT_DOOM };

/* The queue may hold max_backpressure bytes plus one message larger than that
 * on its own (a sign-in answer with a large user_data, a large answer): such a
 * message is no sign of a slow reader, and the message limits bound it. A
 * second one while the first waits is refused (a WebSocket message is dropped;
 * an HTTP answer cannot be, so that connection is closed). Anything else that
 * takes the rest of the queue past the limit is a reader too slow to keep. */
static int
outq_verdict(const skt_conn_t *c, size_t len)
{
    size_t limit = c->net->opts.max_backpressure;
    const skt_conn_outq_t *q = c->out;
    if (!limit)
        return OUT_QUEUE;
    if (len > limit) {
        if (!q || !q->big)
            return OUT_QUEUE_BIG;
        return c->mode == SKT_CONN_WS ? OUT_REFUSE : OUT_DOOM;
    }
    size_t queued = q ? q->bytes : 0, big = q && q->big ? q->big->len : 0;
    size_t rest = queued > big ? queued - big : 0;
    return rest + len > limit ? OUT_DOOM : OUT_QUEUE;
}

/* Closes c for output it does not read: a WebSocket with 4100 ("over
 * capacity"), an HTTP connection at once. */
static void
outq_overflow(skt_conn_t *c, size_t len)
{
    size_t queued = c->out ? c->out->bytes : 0, limit = c->net->opts.max_backpressure;
    if (c->mode == SKT_CONN_WS) {
        skt_log(SKT_LOG_WARN, "dropping a client with %zu unread bytes queued (limit %zu)",
                queued + len, limit);
        skt_conn_doom(c, 4100);
        return;
    }
    skt_log(SKT_LOG_DEBUG, "closing an HTTP client with %zu unread bytes queued (limit %zu)",
            queued + len, limit);
    c->net->stats.http_output_closed++;
    skt_conn_doom(c, 0);
}

void
skt_conn_send_buf(skt_conn_t *c, skt_buf_t *frame)
{
    if (c->flags & (F_CLOSED | F_CLOSING | F_DOOMED))
        return;
    int verdict = outq_verdict(c, frame->len);
    if (verdict == OUT_REFUSE) {
        skt_log(SKT_LOG_DEBUG,
                "connection %d: a %u-byte message refused: another one over the "
                "output limit is still queued",
                (int)event_get_fd(&c->ev), (unsigned)frame->len);
        return;
    }
    if (verdict == OUT_DOOM) {
        outq_overflow(c, frame->len);
        return;
    }
    skt_conn_outq_t *q = c->out;
    if (!q || q->count == q->cap) {
        uint32_t cap = q ? q->cap * 2 : 4;
        skt_conn_outq_t *nq = malloc(sizeof(*nq) + cap * sizeof(skt_buf_t *));
        if (!nq) {
            skt_conn_doom(c, 0);
            return;
        }
        nq->bytes = q ? q->bytes : 0;
        nq->big = q ? q->big : NULL;
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
    if (verdict == OUT_QUEUE_BIG)
        q->big = frame;
    skt_conn_mark_dirty(c);
}

void
skt_conn_outq_consume(skt_conn_outq_t *q, size_t w)
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
        if (b == q->big)
            q->big = NULL;
        skt_buf_unref(b);
        q->head = (q->head + 1) % q->cap;
        q->count--;
    }
}

int
skt_conn_write(skt_conn_t *c)
{
    int r = c->net->io->write(c);
    if (r >= 0 && (c->flags & F_HOLD) && !skt_conn_http_blocked(c))
        c->flags |= F_RESUME; /* the answers left: serve the requests that waited */
    if (r <= 0)
        return r;
    /* Everything is written: hold no output memory while idle. */
    free(c->out);
    c->out = NULL;
    skt_conn_want_write(c, 0);
    if ((c->flags & (F_CLOSING | F_CLOSE_AFTER)) && !(c->flags & F_SHUT)) {
        /* Our last bytes (a close frame, or an answer sent with Connection:
         * close) are out: half-close and wait briefly for the peer's EOF, so
         * that unread input of theirs does not turn our close into a reset
         * that destroys the answer before they read it. */
        if (c->net->io->shutdown)
            c->net->io->shutdown(c);
        shutdown(event_get_fd(&c->ev), SHUT_WR);
        c->flags |= F_SHUT;
        skt_conn_lru_touch(c, LRU_CLOSING);
    }
    return 0;
}
