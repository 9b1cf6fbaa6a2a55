/* nats_loop.c - libnats's event-loop hooks on the daemon's libevent loop, safe from any
 * thread, and a mailbox of connection events for the loop thread. See nats_loop.h.
 *
 * DESIGN
 * What libnats asks for (a socket, reading on or off, writing on or off, attached or not)
 * is kept as a wanted state under the mutex; the loop thread makes its events match it
 * (nl_apply). A hook on the loop thread applies at once, so that reading and writing start
 * and stop exactly when libnats says; a hook on another thread wakes the loop, which
 * applies on its next turn. Each attach bumps a generation: an attach is always a new
 * socket (libnats closed the old one, and the new one may have the same number), so the
 * old events are dropped and new ones made even when the number did not change.
 *
 * Events are freed from inside their own callbacks when libnats detaches while reading;
 * libevent 2.1 reads nothing of an event after calling its callback.
 */
#include "nats_loop.h"

#include <errno.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* What libnats asked for, under the mutex. */
typedef struct nl_want_s {
    natsConnection *nc;
    natsSock fd;
    unsigned gen; /* bumped by every attach */
    int attached, read, write;
} nl_want_t;

struct skt_nl_s {
    struct event_base *base;
    pthread_t loop_thread;
    skt_nl_owner_t owner;
    int efd;
    struct event *wake;
    pthread_mutex_t mu;
    nl_want_t want; /* under mu */
    unsigned bits;  /* under mu: posted, not yet handed to the owner */
    /* the loop thread's side: what its events do now */
    natsConnection *nc;
    natsSock fd;
    unsigned gen;
    int reading, writing;
    struct event *rd, *wr;
};

/* ---- the loop thread's side --------------------------------------------------------- */

/* 1 when the kernel holds unread bytes of fd (so a read will not wait: libnats waits for
 * the rest of a TLS record that has begun to arrive, never for one that has not). */
static int
nl_more(natsSock fd)
{
    int n = 0;
    return ioctl(fd, FIONREAD, &n) == 0 && n > 0;
}

/* Reads what the socket holds (up to SKT_NL_READS_PER_TURN reads) into libnats's queues, then
 * lets the owner take them: reading ahead of processing is what lets the subscriptions'
 * pending limits, not the server, absorb a burst. */
static void
nl_on_read(evutil_socket_t fd, short what, void *arg)
{
    skt_nl_t *nl = arg;
    (void)what;
    natsConnection_ProcessReadEvent(nl->nc);
    /* reading stays on unless libnats dropped the socket meanwhile (it turns reading off on
     * this thread before it closes the socket, whose number a new one may get at once) */
    for (int i = 1;
         i < SKT_NL_READS_PER_TURN && nl->rd && nl->reading && nl->fd == fd && nl_more(fd); i++)
        natsConnection_ProcessReadEvent(nl->nc);
    nl->owner.on_read(nl->owner.owner);
}

/* Writable: libnats writes what it buffered (and turns writing off once done). */
static void
nl_on_write(evutil_socket_t fd, short what, void *arg)
{
    skt_nl_t *nl = arg;
    (void)fd;
    (void)what;
    natsConnection_ProcessWriteEvent(nl->nc);
}

/* Drops the socket's events. */
static void
nl_drop_events(skt_nl_t *nl)
{
    if (nl->rd)
        event_free(nl->rd);
    if (nl->wr)
        event_free(nl->wr);
    nl->rd = nl->wr = NULL;
    nl->reading = nl->writing = 0;
}

/* Turns ev on or off when *on differs from want. */
static void
nl_switch(struct event *ev, int *on, int want)
{
    if (*on == want)
        return;
    if (want)
        event_add(ev, NULL);
    else
        event_del(ev);
    *on = want;
}

/* Makes the loop's events what libnats last asked for. Loop thread only. */
static void
nl_apply(skt_nl_t *nl)
{
    pthread_mutex_lock(&nl->mu);
    nl_want_t w = nl->want;
    pthread_mutex_unlock(&nl->mu);

    if (nl->rd && (!w.attached || w.gen != nl->gen))
        nl_drop_events(nl);
    if (w.attached && !nl->rd) {
        nl->nc = w.nc;
        nl->fd = w.fd;
        nl->gen = w.gen;
        nl->rd = event_new(nl->base, w.fd, EV_READ | EV_PERSIST, nl_on_read, nl);
        nl->wr = event_new(nl->base, w.fd, EV_WRITE | EV_PERSIST, nl_on_write, nl);
        if (!nl->rd || !nl->wr) {
            /* out of memory: the connection stays deaf until its next reconnect */
            nl_drop_events(nl);
            return;
        }
    }
    if (nl->rd) {
        nl_switch(nl->rd, &nl->reading, w.read);
        nl_switch(nl->wr, &nl->writing, w.write);
    }
}

/* The eventfd: apply what other threads asked for, then tell the owner what was posted. */
static void
nl_on_wake(evutil_socket_t fd, short what, void *arg)
{
    skt_nl_t *nl = arg;
    uint64_t n;
    (void)what;
    while (read(fd, &n, sizeof(n)) == (ssize_t)sizeof(n))
        ;
    pthread_mutex_lock(&nl->mu);
    unsigned bits = nl->bits;
    nl->bits = 0;
    pthread_mutex_unlock(&nl->mu);
    nl_apply(nl);
    if (bits)
        nl->owner.on_events(nl->owner.owner, bits);
}

/* ---- any thread --------------------------------------------------------------------- */

/* Wakes the loop (any thread). */
static void
nl_wake(skt_nl_t *nl)
{
    uint64_t one = 1;
    /* only EAGAIN can fail, with the counter near 2^64: the loop is awake then anyway */
    if (write(nl->efd, &one, sizeof(one)) < 0)
        return;
}

/* After a change of the wanted state: apply now on the loop thread, else wake it. */
static void
nl_sync(skt_nl_t *nl)
{
    if (pthread_equal(pthread_self(), nl->loop_thread))
        nl_apply(nl);
    else
        nl_wake(nl);
}

void
skt_nl_post(skt_nl_t *nl, unsigned bits)
{
    pthread_mutex_lock(&nl->mu);
    nl->bits |= bits;
    pthread_mutex_unlock(&nl->mu);
    nl_wake(nl);
}

/* ---- libnats's hooks (any thread) --------------------------------------------------- */

/* libnats connected a socket (first time or again): watch it for reading. */
static natsStatus
nl_hook_attach(void **user_data, void *loop, natsConnection *nc, natsSock socket)
{
    skt_nl_t *nl = loop;
    *user_data = nl;
    pthread_mutex_lock(&nl->mu);
    nl->want.nc = nc;
    nl->want.fd = socket;
    nl->want.gen++;
    nl->want.attached = 1;
    nl->want.read = 1;
    nl->want.write = 0;
    pthread_mutex_unlock(&nl->mu);
    nl_sync(nl);
    return NATS_OK;
}

/* libnats wants reading on or off. */
static natsStatus
nl_hook_read(void *user_data, bool add)
{
    skt_nl_t *nl = user_data;
    pthread_mutex_lock(&nl->mu);
    nl->want.read = add;
    pthread_mutex_unlock(&nl->mu);
    nl_sync(nl);
    return NATS_OK;
}

/* libnats wants writing on or off (it has something buffered, or wrote it all). */
static natsStatus
nl_hook_write(void *user_data, bool add)
{
    skt_nl_t *nl = user_data;
    pthread_mutex_lock(&nl->mu);
    nl->want.write = add;
    pthread_mutex_unlock(&nl->mu);
    nl_sync(nl);
    return NATS_OK;
}

/* libnats closed the connection: watch nothing. */
static natsStatus
nl_hook_detach(void *user_data)
{
    skt_nl_t *nl = user_data;
    pthread_mutex_lock(&nl->mu);
    nl->want.attached = nl->want.read = nl->want.write = 0;
    pthread_mutex_unlock(&nl->mu);
    nl_sync(nl);
    return NATS_OK;
}

natsStatus
skt_nl_attach_options(skt_nl_t *nl, natsOptions *opts)
{
    return natsOptions_SetEventLoop(opts, nl, nl_hook_attach, nl_hook_read, nl_hook_write,
                                    nl_hook_detach);
}

/* ---- lifetime ----------------------------------------------------------------------- */

skt_nl_t *
skt_nl_new(struct event_base *base, const skt_nl_owner_t *owner)
{
    skt_nl_t *nl = calloc(1, sizeof(*nl));
    if (!nl)
        return NULL;
    nl->base = base;
    nl->loop_thread = pthread_self();
    nl->owner = *owner;
    nl->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (nl->efd < 0) {
        free(nl);
        return NULL;
    }
    if (pthread_mutex_init(&nl->mu, NULL) != 0) {
        close(nl->efd);
        free(nl);
        return NULL;
    }
    nl->wake = event_new(base, nl->efd, EV_READ | EV_PERSIST, nl_on_wake, nl);
    if (!nl->wake || event_add(nl->wake, NULL) != 0) {
        skt_nl_free(nl);
        errno = ENOMEM;
        return NULL;
    }
    return nl;
}

void
skt_nl_arm(struct event *ev, long ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(ev, &tv);
}

void
skt_nl_free(skt_nl_t *nl)
{
    if (!nl)
        return;
    nl_drop_events(nl);
    if (nl->wake)
        event_free(nl->wake);
    close(nl->efd);
    pthread_mutex_destroy(&nl->mu);
    free(nl);
}
