/* net.c - the net: its lifetime, the end-of-iteration flush and the timeout sweep.
 *
 * DESIGN
 * The top of the connection layer (conn_internal.h gives the order of its
 * files): the one file that calls the jobs of the others. The loop's two net
 * events live here: the flush, activated when a connection is first marked
 * dirty, runs after the iteration's I/O callbacks and writes each dirty
 * connection once (closing the doomed, resuming input held behind answers);
 * the sweep runs once a second over the timeout lists, each ordered by last
 * activity, so it touches only the connections that expired. The files below
 * never reach back up here: what they need done at the next flush they ask
 * for with skt_conn_mark_dirty() and the connection's flags.
 */
#include <stdlib.h>

#include "net/conn_internal.h"
#include "util/log.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

#define TRIM_AFTER_CLOSES 1000 /* connections closed between two heap trims, at least */

/* A WebSocket that fell too far behind gets a close frame with the doom's
 * code. Its queue is gone, so all it costs is that frame; it may wait for the
 * reader up to the WebSocket idle timeout (a client that resumes reading
 * learns why it was dropped), then the socket is closed. Anything else (out
 * of memory, HTTP) closes at once. */
static void
net_doom_now(skt_conn_t *c)
{
    c->flags &= ~F_DOOMED;
    if (c->mode != SKT_CONN_WS || !c->close_code) {
        skt_conn_close_now(c);
        return;
    }
    skt_conn_ws_close(c, c->close_code, "Over capacity: the client does not read fast enough");
    if (!(c->flags & F_CLOSED))
        skt_conn_lru_touch(c, LRU_WS);
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
            net_doom_now(c);
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
