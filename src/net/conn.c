/* conn.c - the connection core: the net, connection lifetime, timeouts, the flush.
 *
 * See conn.h for the design and conn_internal.h for how the layer is split.
 * This file owns what every connection has whatever it speaks: its
 * allocation (the protocol layer's struct, then the transport's state), its
 * references and its one close; the timeout lists (HTTP, WebSocket, closing),
 * each ordered by last activity so that one sweep a second touches only the
 * connections that expired; the dirty list and the end-of-iteration flush
 * that writes each dirty connection once; and its event interest.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net/conn_internal.h"
#include "util/log.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

#define TRIM_AFTER_CLOSES 1000 /* connections closed between two heap trims, at least */

char skt_conn_read_buf[SKT_CONN_READ_CHUNK];

/* Monotonic seconds, for timeouts that must not jump with the wall clock. */
uint32_t
skt_conn_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint32_t)ts.tv_sec;
}

void
skt_net_warn_every(skt_net_warn_t *w, const char *fmt, ...)
{
    uint32_t now = skt_conn_now();
    w->count++;
    if (w->at && now - w->at < 10)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    skt_log(SKT_LOG_WARN, "%s (%llu time(s) since the last such line)", msg,
            (unsigned long long)w->count);
    w->at = now ? now : 1;
    w->count = 0;
}

/* The transport state sits after the protocol layer's bytes, so that plain
 * connections pay nothing for TLS. */
void *
skt_conn_io_state(skt_conn_t *c)
{
    return (char *)c + c->net->io_slot;
}

/* ---------------------------------------------------------------- lists */

static void
lru_unlink(skt_conn_t *c)
{
    if (c->lru == LRU_NONE)
        return;
    skt_conn_lru_t *l = &c->net->lru[c->lru];
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
void
skt_conn_lru_touch(skt_conn_t *c, uint8_t which)
{
    lru_unlink(c);
    skt_conn_lru_t *l = &c->net->lru[which];
    c->lru = which;
    c->last_active = skt_conn_now();
    c->lru_prev = l->tail;
    if (l->tail)
        l->tail->lru_next = c;
    else
        l->head = c;
    l->tail = c;
}

/* Puts c on the dirty list so that the flush event writes its queue once this
 * loop iteration's other callbacks have run. The list holds a reference. */
void
skt_conn_mark_dirty(skt_conn_t *c)
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

/* Arms c's event for what it waits for: writability while its queue is
 * blocked (write) or its transport's read needs it; readability unless its
 * input is held, or while its transport's write needs it. Nothing armed is
 * possible: an HTTP connection whose answers nobody reads waits for the
 * sweep. */
static void
conn_arm(skt_conn_t *c, int write)
{
    if (c->flags & F_CLOSED)
        return;
    write = write || (c->flags & F_IO_RWW);
    int read = !(c->flags & F_HOLD) || (c->flags & F_IO_WWR);
    int armed_write = !!(c->flags & F_WRITE_WAIT), armed_read = !(c->flags & F_READ_OFF);
    if (armed_write == write && armed_read == read)
        return;
    evutil_socket_t fd = event_get_fd(&c->ev);
    event_del(&c->ev);
    if (read || write) {
        event_assign(&c->ev, c->net->base, fd,
                     EV_PERSIST | (read ? EV_READ : 0) | (write ? EV_WRITE : 0), skt_conn_io_cb, c);
        event_add(&c->ev, NULL);
    }
    c->flags &= ~(F_WRITE_WAIT | F_READ_OFF);
    c->flags |= (write ? F_WRITE_WAIT : 0) | (read ? 0 : F_READ_OFF);
}

void
skt_conn_want_write(skt_conn_t *c, int on)
{
    conn_arm(c, on);
}

void
skt_conn_rearm(skt_conn_t *c)
{
    conn_arm(c, !!(c->flags & F_WRITE_WAIT));
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
            skt_conn_doom_now(c);
        if (!(c->flags & F_CLOSED) && !(c->flags & F_WRITE_WAIT))
            skt_conn_write(c);
        if (!(c->flags & F_CLOSED) && (c->flags & F_RESUME))
            skt_conn_process_buffered(c);
        if (!(c->flags & F_CLOSED) && (c->flags & F_IO_MORE) && !(c->flags & F_HOLD))
            skt_conn_read(c);
        skt_conn_unref(c);
        c = next;
    }
}

/* ---------------------------------------------------------------- lifetime */

void
skt_conn_close_now(skt_conn_t *c)
{
    if (c->flags & F_CLOSED)
        return;
    c->refs++;
    c->flags |= F_CLOSED;
    skt_conn_ws_notify_close(c);
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
    c->net->io->detach(c);
    close(fd);
    lru_unlink(c);
    skt_conn_outq_free(c->out);
    c->out = NULL;
    skt_conn_in_free(c);
    skt_conn_frag_free(c);
    c->net->count--;
    c->net->closed_since_trim++;
    skt_conn_unref(c);
}

void
skt_conn_abort(skt_conn_t *c)
{
    skt_conn_close_now(c);
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
        free(c);
}

void
skt_net_accept(skt_net_t *net, evutil_socket_t fd)
{
    skt_conn_t *c = calloc(1, net->conn_alloc);
    if (!c) {
        close(fd);
        return;
    }
    c->net = net;
    c->mode = SKT_CONN_HTTP;
    event_assign(&c->ev, net->base, fd, EV_READ | EV_PERSIST, skt_conn_io_cb, c);
    if (net->io->attach(c) != 0) {
        free(c);
        close(fd);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    event_add(&c->ev, NULL);
    net->count++;
    skt_conn_lru_touch(c, LRU_HEAD); /* the first head is due from now */
    if (skt_log_enabled(SKT_LOG_DEBUG)) {
        char peer[64];
        skt_conn_peer(c, peer, sizeof(peer));
        skt_log(SKT_LOG_DEBUG, "connection %d: accepted from %s%s", (int)fd, peer,
                net->opts.tls ? " (TLS)" : "");
    }
}

/* ---------------------------------------------------------------- timeouts */

/* A request head did not arrive in time (slowloris): a client that sent some
 * of it learns why (408); one that sent nothing, or not even a TLS handshake,
 * is closed. */
static void
net_head_timeout(skt_conn_t *c)
{
    c->net->stats.header_timeouts++;
    skt_log(SKT_LOG_DEBUG, "connection %d: request head not received in time",
            (int)event_get_fd(&c->ev));
    if (c->in && c->in->len && !(c->flags & (F_CLOSING | F_CLOSE_AFTER))) {
        skt_conn_http_fail(c, 408, "The request head did not arrive in time.");
        if (!(c->flags & F_CLOSED))
            skt_conn_lru_touch(c, LRU_CLOSING); /* time to write the answer */
        return;
    }
    skt_conn_close_now(c);
}

/* Gives the memory of a burst of connections back to the system: glibc keeps
 * freed heap memory for reuse, so a process that once held 10,000 TLS
 * handshakes would keep their half gigabyte. Trimming walks the heap, so it
 * runs only after many connections closed. */
static void
net_trim(skt_net_t *net)
{
    if (net->closed_since_trim < TRIM_AFTER_CLOSES)
        return;
    net->closed_since_trim = 0;
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}

/* Closes what is past its timeout: request heads not complete in time, HTTP
 * keep-alive and half-sent requests, silent WebSocket clients (4201, as
 * Pusher's "pong not received"), and closing sockets whose peer never
 * finished the handshake. */
static void
net_sweep_cb(evutil_socket_t fd, short what, void *arg)
{
    skt_net_t *net = arg;
    uint32_t now = skt_conn_now();
    unsigned head =
        net->opts.header_timeout ? net->opts.header_timeout : net->opts.http_idle_timeout;
    unsigned ws_ping = net->opts.ws_idle_timeout / 2;
    unsigned limits[LRU_COUNT] = {0,
                                  head,
                                  net->opts.http_idle_timeout,
                                  ws_ping,
                                  net->opts.ws_idle_timeout - ws_ping,
                                  SKT_CONN_CLOSING_TIMEOUT};
    for (int l = LRU_HEAD; l < LRU_COUNT; l++) {
        skt_conn_t *c;
        while ((c = net->lru[l].head) && now - c->last_active >= limits[l]) {
            c->refs++; /* what follows may close it */
            if (l == LRU_HEAD)
                net_head_timeout(c);
            else if (l == LRU_HTTP && c->out && c->out->bytes)
                net->stats.http_output_closed++; /* answers nobody read */
            else if (l == LRU_WS)
                skt_conn_ws_ping(c); /* moves it to LRU_PINGED */
            else if (l == LRU_PINGED)
                skt_conn_ws_close(c, 4201, "Pong reply not received in time");
            if (c->lru == (uint8_t)l)
                skt_conn_close_now(c);
            skt_conn_unref(c);
        }
    }
    net_trim(net);
}

/* ---------------------------------------------------------------- net */

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
    net->io = net->opts.tls ? &skt_conn_io_tls : &skt_conn_io_plain;
    size_t a = _Alignof(max_align_t);
    net->io_slot = (net->opts.conn_size + a - 1) / a * a;
    net->conn_alloc =
        net->io->state_size ? net->io_slot + net->io->state_size : net->opts.conn_size;
    net->budget = net->opts.input_budget ? net->opts.input_budget : &net->own_budget;
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

const skt_net_opts_t *
skt_net_opts(const skt_net_t *net)
{
    return &net->opts;
}

void
skt_net_configure(skt_net_t *net, const skt_net_opts_t *opts)
{
    skt_net_opts_t keep = net->opts;
    net->opts = *opts;
    net->opts.conn_size = keep.conn_size;
    net->opts.tls = keep.tls;
    if (net->budget->used) /* bytes are held on the budget in use */
        net->opts.input_budget = keep.input_budget;
    net->budget = net->opts.input_budget ? net->opts.input_budget : &net->own_budget;
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

size_t
skt_net_count(const skt_net_t *net)
{
    return net->count;
}

void
skt_net_drain(skt_net_t *net)
{
    skt_net_stop_listening(net);
    while (net->lru[LRU_HEAD].head)
        skt_conn_close_now(net->lru[LRU_HEAD].head);
    for (skt_conn_t *c = net->lru[LRU_HTTP].head, *next; c; c = next) {
        next = c->lru_next;
        if (!(c->flags & F_AWAIT) && !c->in && !c->out)
            skt_conn_close_now(c); /* idle keep-alive: no on_ws_close, nothing freed under us */
    }
}

void
skt_net_stats(const skt_net_t *net, skt_net_stats_t *out)
{
    *out = net->stats;
    out->connections = net->count;
    out->input_buffered = net->budget->used;
}

void
skt_net_free(skt_net_t *net)
{
    if (!net)
        return;
    skt_net_stop_listening(net);
    for (int l = LRU_HEAD; l < LRU_COUNT; l++)
        while (net->lru[l].head)
            skt_conn_close_now(net->lru[l].head);
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
