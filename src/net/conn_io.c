/* conn_io.c - the transports: plain sockets and TLS sessions behind one table.
 *
 * Plain: read() into the caller's buffer, one writev() per batch of queued
 * frames. TLS: a session per connection (net/tls.h) in the transport state
 * after the protocol layer's bytes. TLS cannot gather, so small queued frames
 * are copied into one record-sized buffer and larger ones are written in
 * place. A session read that needs writability (or a write that needs
 * readability) sets F_IO_RWW (F_IO_WWR), and the core repeats it when the
 * socket gets there; a read that leaves decrypted bytes inside the session
 * sets F_IO_MORE so that the flush reads again without waiting for the
 * socket. A TLS write that could not finish has already encrypted the bytes
 * it was given: those bytes of the queue are committed (pending) and must go
 * out unchanged before anything else, even when the queue is dropped
 * (skt_conn_doom).
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "net/conn_internal.h"
#include "net/tls.h"
#include "util/log.h"

#define IOV_BATCH 64
#define TLS_RECORD 16384 /* the largest TLS record payload */

/* ---------------------------------------------------------------- plain */

static int
plain_attach(skt_conn_t *c)
{
    return 0;
}

static ssize_t
plain_read(skt_conn_t *c, char *buf, size_t cap)
{
    ssize_t n = read(event_get_fd(&c->ev), buf, cap);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return SKT_CONN_IO_AGAIN;
    return n < 0 ? -1 : n;
}

/* Writes the queue with one writev() per batch of buffers. */
static int
plain_write(skt_conn_t *c)
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
                skt_conn_want_write(c, 1);
                return 0;
            }
            skt_conn_close_now(c);
            return -1;
        }
        skt_conn_outq_consume(q, (size_t)w);
        if (q->count && (size_t)w < iov[0].iov_len) {
            skt_conn_want_write(c, 1);
            return 0;
        }
    }
    return 1;
}

static size_t
plain_committed(skt_conn_t *c)
{
    return 0;
}

static void
plain_detach(skt_conn_t *c)
{
}

const skt_conn_io_t skt_conn_io_plain = {
    .state_size = 0,
    .attach = plain_attach,
    .read = plain_read,
    .write = plain_write,
    .committed = plain_committed,
    .shutdown = NULL,
    .detach = plain_detach,
};

/* ---------------------------------------------------------------- TLS */

/* What a connection of a TLS net has after its opts.conn_size bytes. */
typedef struct io_tls_s {
    skt_tls_conn_t *session; /* NULL until the first record is in, and once closed */
    size_t pending;          /* queued bytes an unfinished TLS write has committed */
    uint8_t handshaking;     /* a session in its handshake: in stats.tls_handshakes_pending */
    uint8_t lowat;           /* SO_RCVLOWAT is raised */
} io_tls_t;

static unsigned char tls_out[TLS_RECORD]; /* small frames gathered into one record */

/* Whether another handshake may begin: past max_pending_handshakes a new
 * connection is closed at once (counted, and logged now and then). */
static int
tls_handshake_room(skt_net_t *net)
{
    if (!net->opts.max_pending_handshakes ||
        net->stats.tls_handshakes_pending < net->opts.max_pending_handshakes)
        return 1;
    net->stats.tls_handshakes_refused++;
    skt_net_warn_every(&net->tls_warn,
                       "TLS: %zu handshakes in progress (ssl.maxPendingHandshakes): new "
                       "connections closed",
                       net->stats.tls_handshakes_pending);
    return 0;
}

/* The session of a new connection is made once its first record is in
 * (tls_start): until then it costs its connection struct only. */
static int
tls_attach(skt_conn_t *c)
{
    return tls_handshake_room(c->net) ? 0 : -1;
}

/* The handshake is over (done or abandoned): it no longer counts. */
static void
tls_handshake_over(skt_conn_t *c, io_tls_t *t)
{
    if (!t->handshaking)
        return;
    t->handshaking = 0;
    c->net->stats.tls_handshakes_pending--;
}

/* Answers plain HTTP that reached a TLS port with a readable error instead of
 * a reset: the client learns to use https:// or wss://. */
static void
tls_refuse_plain_http(skt_conn_t *c)
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
        (void)!read(fd, skt_conn_read_buf, sizeof(skt_conn_read_buf));
    }
}

/* Whether the client's first TLS record (its ClientHello) is complete in the
 * kernel, so that the session is made only then: an OpenSSL session costs
 * some 45 KB from its first read, and a client that sends part of a
 * ClientHello and stalls must not hold that. Until then the socket's
 * SO_RCVLOWAT is the record's length, so that it wakes us only once the
 * record is whole (or the peer goes). Returns 1 when a session may read, 0 to
 * wait, -1 when the peer is gone or speaks no TLS (plain HTTP gets its 400). */
static int
tls_hello_ready(skt_conn_t *c, io_tls_t *t)
{
    int fd = event_get_fd(&c->ev);
    unsigned char hdr[5];
    ssize_t n = recv(fd, hdr, sizeof(hdr), MSG_PEEK);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
        return -1;
    if (n < 0)
        return 0;
    if (hdr[0] >= 'A' && hdr[0] <= 'Z') {
        tls_refuse_plain_http(c);
        return -1;
    }
    if (hdr[0] != 0x16)
        return 1; /* not a handshake record: OpenSSL says what it is */
    int want = (int)sizeof(hdr), avail = 0;
    if (n == (ssize_t)sizeof(hdr)) {
        size_t len = (size_t)hdr[3] << 8 | hdr[4];
        if (len > TLS_RECORD + 2048)
            return 1; /* oversized: OpenSSL refuses it */
        want += (int)len;
        if (ioctl(fd, FIONREAD, &avail) == 0 && avail >= want)
            return 1;
    }
    /* Part of a record: it will never be whole if the peer is gone. */
    struct pollfd p = {.fd = fd, .events = POLLRDHUP};
    if (poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)))
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &want, sizeof(want)) != 0)
        return 1; /* cannot wait for the whole record: read what is there */
    t->lowat = 1;
    return 0;
}

/* Makes the session once the first record is in; see tls_hello_ready. */
static ssize_t
tls_start(skt_conn_t *c, io_tls_t *t)
{
    int r = tls_hello_ready(c, t);
    if (r <= 0)
        return r < 0 ? -1 : SKT_CONN_IO_AGAIN;
    int fd = event_get_fd(&c->ev), one = 1;
    if (t->lowat && setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &one, sizeof(one)) != 0)
        return -1;
    t->lowat = 0;
    if (!tls_handshake_room(c->net))
        return -1;
    t->session = skt_tls_conn_new(c->net->opts.tls, fd);
    if (!t->session)
        return -1;
    t->handshaking = 1;
    c->net->stats.tls_handshakes_pending++;
    return 0;
}

static ssize_t
tls_read(skt_conn_t *c, char *buf, size_t cap)
{
    io_tls_t *t = skt_conn_io_state(c);
    if (!t->session) {
        ssize_t r = tls_start(c, t);
        if (r != 0)
            return r;
    }
    int want = 0;
    c->flags &= ~F_IO_MORE;
    ssize_t n = skt_tls_read(t->session, buf, cap, &want);
    if (t->handshaking && skt_tls_handshake_done(t->session))
        tls_handshake_over(c, t);
    if (want & SKT_TLS_WANT_WRITE) {
        c->flags |= F_IO_RWW;
        skt_conn_want_write(c, 1);
    }
    if (want & SKT_TLS_MORE) {
        c->flags |= F_IO_MORE;
        skt_conn_mark_dirty(c);
    }
    if (n == SKT_TLS_AGAIN)
        return SKT_CONN_IO_AGAIN;
    if (n == SKT_TLS_PLAIN_HTTP) {
        tls_refuse_plain_http(c);
        return -1;
    }
    return n;
}

/* Writes the queue through the session: a frame of a record or more in
 * place, smaller ones gathered into tls_out. A repeated write sees the same
 * leading bytes (the queue only grows at its tail), as TLS requires. */
static int
tls_write(skt_conn_t *c)
{
    io_tls_t *t = skt_conn_io_state(c);
    skt_conn_outq_t *q = c->out;
    c->flags &= ~F_IO_WWR;
    if (!t->session) { /* nothing can be sent before the handshake */
        skt_conn_close_now(c);
        return -1;
    }
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
                skt_conn_want_write(c, 1);
            else {
                c->flags |= F_IO_WWR;
                skt_conn_rearm(c); /* reading may be held: the write needs it */
            }
            return 0;
        }
        if (w < 0) {
            skt_conn_close_now(c);
            return -1;
        }
        t->pending = 0;
        skt_conn_outq_consume(q, (size_t)w);
    }
    return 1;
}

static size_t
tls_committed(skt_conn_t *c)
{
    io_tls_t *t = skt_conn_io_state(c);
    return t->pending;
}

static void
tls_shutdown(skt_conn_t *c)
{
    io_tls_t *t = skt_conn_io_state(c);
    if (t->session)
        skt_tls_shutdown(t->session);
}

static void
tls_detach(skt_conn_t *c)
{
    io_tls_t *t = skt_conn_io_state(c);
    tls_handshake_over(c, t);
    if (t->session) {
        skt_tls_conn_free(t->session);
        t->session = NULL;
    }
}

const skt_conn_io_t skt_conn_io_tls = {
    .state_size = sizeof(io_tls_t),
    .attach = tls_attach,
    .read = tls_read,
    .write = tls_write,
    .committed = tls_committed,
    .shutdown = tls_shutdown,
    .detach = tls_detach,
};
