/* listener.c - the listening socket: bind, listen, accept, the new connection, the open-files
 * limit.
 *
 * DESIGN
 * The listening socket is level-triggered: while a connection waits in the
 * backlog, the loop wakes us. So accept() must never leave one there for a
 * reason that does not go away by itself, or the loop spins. The one that
 * matters is the open-files limit (EMFILE, ENFILE): the process has no fd for
 * the new socket. As libuv and nginx do, we keep one reserve fd (/dev/null)
 * for that moment: close it, accept and close what waits (the clients see
 * the connection end at once instead of hanging), reopen it; then the
 * listener is disabled for a backoff (100 ms, doubling to 1 s while the
 * limit persists) and re-enabled by a timer, so a process at its limit costs
 * a few system calls per backoff, not a core. One line is logged when the
 * limit is hit, one every LOG_EVERY seconds while it lasts (with the count of
 * connections refused meanwhile), and one when accepting has worked for a
 * second. Each accepted socket becomes a connection here (conn.c's
 * primitives, its event going to conn_in.c); net.c, above, stops listening.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/conn_internal.h"
#include "util/log.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 1000
#define LOG_EVERY 10      /* seconds between log lines while the limit lasts */
#define ACCEPT_BATCH 1024 /* connections accepted per wake-up, at most */

/* Makes a connection of the accepted socket fd (closes fd on failure): in
 * HTTP mode, on the timeout list of request heads, its events going to
 * skt_conn_io_cb (conn_in.c). */
static void
listener_conn_new(skt_net_t *net, evutil_socket_t fd)
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

static int
open_reserve(void)
{
    return open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/* Accepts and closes what waits in the backlog with the reserve fd's room,
 * so that those clients learn at once; returns how many. */
static unsigned
refuse_backlog(skt_net_listener_t *l)
{
    unsigned n = 0;
    if (l->reserve < 0)
        return 0;
    close(l->reserve);
    l->reserve = -1;
    for (int fd; n < ACCEPT_BATCH && (fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC)) >= 0; n++)
        close(fd);
    l->reserve = open_reserve();
    return n;
}

/* The process is out of fds (or the kernel out of memory for sockets): shed
 * the backlog, stop listening for a while, say so now and then. */
static void
listener_starved(skt_net_listener_t *l, int err)
{
    unsigned refused = refuse_backlog(l);
    uint32_t now = skt_conn_now();
    l->net->stats.accept_refused += refused;
    l->refused_since += refused;
    l->short_again = 1;
    if (l->backoff_ms == 0) {
        skt_log(SKT_LOG_ERROR,
                "accept: %s; new connections are refused until connections close (raise the "
                "open-files limit: LimitNOFILE= in the systemd unit, or `ulimit -n`)",
                strerror(err));
        l->logged_at = now;
        l->refused_since = refused;
        l->backoff_ms = BACKOFF_MIN_MS;
    } else {
        if (now - l->logged_at >= LOG_EVERY) {
            skt_log(SKT_LOG_WARN, "accept: %s; %llu connection(s) refused in the last %u s",
                    strerror(err), (unsigned long long)l->refused_since,
                    (unsigned)(now - l->logged_at));
            l->logged_at = now;
            l->refused_since = 0;
        }
        l->backoff_ms = l->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : l->backoff_ms * 2;
    }
    event_del(l->accept_ev);
    struct timeval tv = {l->backoff_ms / 1000, (l->backoff_ms % 1000) * 1000};
    evtimer_add(l->backoff_ev, &tv);
}

/* A connection was accepted during a shortage: it is over once a second
 * passes without another (a process at its limit accepts one connection
 * each time another closes, which is no recovery to announce). */
static void
listener_accepted_short(skt_net_listener_t *l)
{
    if (evtimer_pending(l->recover_ev, NULL))
        return;
    l->short_again = 0;
    struct timeval one = {1, 0};
    evtimer_add(l->recover_ev, &one);
}

static void
listener_recover_cb(evutil_socket_t fd, short what, void *arg)
{
    skt_net_listener_t *l = arg;
    if (l->short_again)
        return;
    skt_log(SKT_LOG_INFO,
            "accept: file descriptors available again (%llu connection(s) refused since the "
            "last message)",
            (unsigned long long)l->refused_since);
    l->backoff_ms = 0;
    l->refused_since = 0;
}

static void
listener_accept_cb(evutil_socket_t lfd, short what, void *arg)
{
    skt_net_listener_t *l = arg;
    for (unsigned i = 0; i < ACCEPT_BATCH; i++) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            if (l->backoff_ms)
                listener_accepted_short(l);
            if (l->reserve < 0)
                l->reserve = open_reserve();
            listener_conn_new(l->net, fd);
            continue;
        }
        int err = errno;
        if (err == EAGAIN || err == EWOULDBLOCK)
            return;
        if (err == EINTR || err == ECONNABORTED || err == EPROTO || err == EPERM)
            continue; /* that connection is gone; others may wait */
        if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
            listener_starved(l, err);
            return;
        }
        skt_log(SKT_LOG_ERROR, "accept: %s", strerror(err));
        return;
    }
}

static void
listener_backoff_cb(evutil_socket_t fd, short what, void *arg)
{
    skt_net_listener_t *l = arg;
    event_add(l->accept_ev, NULL);
}

/* A bound, listening, non-blocking socket for addr, or -1 with errno set. */
static int
listen_socket(const struct sockaddr *sa, socklen_t salen, int reuse_port)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
        int err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    if (bind(fd, sa, salen) != 0 || listen(fd, 4096) != 0) {
        int err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

int
skt_net_listen(skt_net_t *net, const char *host, int port, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    int sslen = sizeof(ss);
    char addr[300];
    memset(&ss, 0, sizeof(ss));
    /* The port is set apart: libevent's parser refuses port 0. */
    snprintf(addr, sizeof(addr), strchr(host, ':') ? "[%s]" : "%s", host);
    if (evutil_parse_sockaddr_port(addr, (struct sockaddr *)&ss, &sslen) != 0) {
        snprintf(err, errlen, "cannot listen on '%s': not an IP address", host);
        return -1;
    }
    if (ss.ss_family == AF_INET6)
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
    snprintf(addr + strlen(addr), sizeof(addr) - strlen(addr), ":%d", port);
    skt_net_listener_t *l = calloc(1, sizeof(*l));
    if (!l) {
        snprintf(err, errlen, "cannot listen on %s: out of memory", addr);
        return -1;
    }
    l->net = net;
    l->reserve = -1;
    l->fd = listen_socket((struct sockaddr *)&ss, (socklen_t)sslen, net->opts.reuse_port);
    if (l->fd < 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", addr, strerror(errno));
        free(l);
        return -1;
    }
    l->reserve = open_reserve();
    l->accept_ev = event_new(net->base, l->fd, EV_READ | EV_PERSIST, listener_accept_cb, l);
    l->backoff_ev = evtimer_new(net->base, listener_backoff_cb, l);
    l->recover_ev = evtimer_new(net->base, listener_recover_cb, l);
    net->listener = l;
    if (!l->accept_ev || !l->backoff_ev || !l->recover_ev || event_add(l->accept_ev, NULL) != 0) {
        skt_net_stop_listening(net);
        snprintf(err, errlen, "cannot listen on %s: out of memory", addr);
        return -1;
    }
    return 0;
}

int
skt_net_port(const skt_net_t *net)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (!net->listener || getsockname(net->listener->fd, (struct sockaddr *)&ss, &sl) != 0)
        return -1;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

void
skt_net_stop_listening(skt_net_t *net)
{
    skt_net_listener_t *l = net->listener;
    if (!l)
        return;
    if (l->accept_ev)
        event_free(l->accept_ev);
    if (l->backoff_ev)
        event_free(l->backoff_ev);
    if (l->recover_ev)
        event_free(l->recover_ev);
    close(l->fd);
    if (l->reserve >= 0)
        close(l->reserve);
    free(l);
    net->listener = NULL;
}
