/* conn.c - the connection primitives: lifetime, timeout lists, the dirty list, event interest.
 *
 * See conn.h for the design and conn_internal.h for how the layer is split.
 * This file is the bottom of the layer: it calls no other file of it, and
 * every other file calls it. It owns what every connection has whatever it
 * speaks: its references and its one close (which frees its buffers and tells
 * the protocol layer of a WebSocket's end); its place on the timeout lists
 * (HTTP, WebSocket, closing), each ordered by last activity so that the sweep
 * (net.c) touches only the connections that expired; the dirty list the flush
 * (net.c) writes; its event interest; and the input budget's accounting.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net/conn_internal.h"
#include "util/log.h"

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
    event_callback_fn cb = event_get_callback(&c->ev); /* the listener's: skt_conn_io_cb */
    event_del(&c->ev);
    if (read || write) {
        event_assign(&c->ev, c->net->base, fd,
                     EV_PERSIST | (read ? EV_READ : 0) | (write ? EV_WRITE : 0), cb, c);
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

/* ---------------------------------------------------------------- buffers */

int
skt_conn_budget_take(skt_conn_t *c, size_t bytes)
{
    skt_net_t *net = c->net;
    skt_net_budget_t *b = net->budget;
    if (b->limit && b->used + bytes > b->limit) {
        /* Counted and logged now and then here, not once per connection; the
         * caller refuses c in its own protocol. */
        net->stats.input_refused++;
        skt_net_warn_every(&net->budget_warn,
                           "buffered input at its limit (%zu of %zu bytes, maxBufferedInputInMb): "
                           "connections refused",
                           net->budget->used, net->budget->limit);
        return -1;
    }
    b->used += bytes;
    return 0;
}

void
skt_conn_budget_give(skt_conn_t *c, size_t bytes)
{
    c->net->budget->used -= bytes;
}

void
skt_conn_in_free(skt_conn_t *c)
{
    if (!c->in)
        return;
    skt_conn_budget_give(c, c->in->cap);
    free(c->in);
    c->in = NULL;
}

void
skt_conn_frag_free(skt_conn_t *c)
{
    if (!c->frag)
        return;
    skt_conn_budget_give(c, c->frag->cap);
    free(c->frag);
    c->frag = NULL;
}

void
skt_conn_outq_free(skt_conn_outq_t *q)
{
    if (!q)
        return;
    for (uint32_t i = 0; i < q->count; i++)
        skt_buf_unref(q->bufs[(q->head + i) % q->cap]);
    free(q);
}

void
skt_conn_ws_notify_close(skt_conn_t *c)
{
    if (!(c->flags & F_WS_OPEN))
        return;
    c->flags &= ~F_WS_OPEN;
    if (c->net->h.on_ws_close)
        c->net->h.on_ws_close(c);
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
