/* deadline.c - many deadlines of one fixed delay on a single timer (deadline.h). */
#include "features/deadline.h"

#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "features/clock.h"

struct skt_deadline_s {
    skt_deadline_t *prev, *next;
    skt_deadlines_t *q;
    void *owner;
    uint64_t due_ms;
};

struct skt_deadlines_s {
    skt_deadline_t *head, *tail; /* oldest first */
    size_t n;
    long delay_ms;
    skt_deadline_fn fn;
    struct event *timer;
    uint64_t armed_for; /* the due time the timer is set for; 0: not armed */
};

/* Sets the timer for the oldest deadline, if it is not set for it already. */
static void
arm(skt_deadlines_t *q)
{
    if (!q->head) {
        if (q->armed_for)
            evtimer_del(q->timer);
        q->armed_for = 0;
        return;
    }
    if (q->armed_for == q->head->due_ms)
        return;
    uint64_t now = skt_clock_ms();
    uint64_t wait = q->head->due_ms > now ? q->head->due_ms - now : 0;
    struct timeval tv = {(time_t)(wait / 1000), (suseconds_t)(wait % 1000) * 1000};
    evtimer_add(q->timer, &tv);
    q->armed_for = q->head->due_ms;
}

static void
unlink_node(skt_deadline_t *d)
{
    skt_deadlines_t *q = d->q;
    if (d->prev)
        d->prev->next = d->next;
    else
        q->head = d->next;
    if (d->next)
        d->next->prev = d->prev;
    else
        q->tail = d->prev;
    q->n--;
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
    skt_deadlines_t *q = arg;
    q->armed_for = 0;
    uint64_t now = skt_clock_ms();
    /* Take each expired node off the list before calling out: fn may cancel
     * other deadlines, which only ever touches nodes still linked. */
    while (q->head && q->head->due_ms <= now) {
        skt_deadline_t *d = q->head;
        void *owner = d->owner;
        unlink_node(d);
        free(d);
        q->fn(owner);
    }
    arm(q);
}

skt_deadlines_t *
skt_deadlines_new(struct event_base *base, long delay_ms, skt_deadline_fn fn)
{
    skt_deadlines_t *q = calloc(1, sizeof(*q));
    if (!q)
        return NULL;
    q->delay_ms = delay_ms < 0 ? 0 : delay_ms;
    q->fn = fn;
    q->timer = evtimer_new(base, timer_cb, q);
    if (!q->timer) {
        free(q);
        return NULL;
    }
    return q;
}

void
skt_deadlines_free(skt_deadlines_t *q)
{
    if (!q)
        return;
    while (q->head) {
        skt_deadline_t *d = q->head;
        unlink_node(d);
        free(d);
    }
    event_free(q->timer);
    free(q);
}

skt_deadline_t *
skt_deadline_start(skt_deadlines_t *q, void *owner)
{
    skt_deadline_t *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->q = q;
    d->owner = owner;
    d->due_ms = skt_clock_ms() + (uint64_t)q->delay_ms;
    d->prev = q->tail;
    if (q->tail)
        q->tail->next = d;
    else
        q->head = d;
    q->tail = d;
    q->n++;
    arm(q);
    return d;
}

void
skt_deadline_cancel(skt_deadline_t *d)
{
    if (!d)
        return;
    skt_deadlines_t *q = d->q;
    unlink_node(d);
    free(d);
    arm(q);
}

size_t
skt_deadlines_pending(const skt_deadlines_t *q)
{
    return q->n;
}
