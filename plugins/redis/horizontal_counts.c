/* horizontal_counts.c - node counts known at once, reported later (horizontal.h): the
 * numsub answer of the transports that count their nodes themselves (the cluster adapter's
 * discovered nodes, the workers of one host).
 *
 * DESIGN
 * The layer wants skt_hz_numsub_done called after numsub returns, never inside it. Each
 * count waits in a queue for one deferred event on the host's loop, which reports every
 * count queued so far; counts the reports cause (a new question from a callback) wait for
 * the next run. At free the queue is reported first, so that the layer's requests go
 * before the layer is freed (skt_hz_free's contract).
 */
#include "horizontal.h"

#include <event2/event.h>
#include <stdlib.h>

typedef struct hz_count_s {
    skt_hz_req_t *req;
    long n;
} hz_count_t;

struct skt_hz_counts_s {
    hz_count_t *queue;
    size_t n, cap;
    struct event *ev;
};

/* Reports every count queued so far. */
static void
hz_counts_report(evutil_socket_t fd, short what, void *arg)
{
    skt_hz_counts_t *c = arg;
    (void)fd;
    (void)what;
    hz_count_t *batch = c->queue;
    size_t n = c->n;
    c->queue = NULL;
    c->n = c->cap = 0;
    for (size_t i = 0; i < n; i++)
        skt_hz_numsub_done(batch[i].req, batch[i].n);
    free(batch);
}

skt_hz_counts_t *
skt_hz_counts_new(struct event_base *base)
{
    skt_hz_counts_t *c = calloc(1, sizeof(*c));
    if (c && !(c->ev = event_new(base, -1, 0, hz_counts_report, c))) {
        free(c);
        c = NULL;
    }
    return c;
}

int
skt_hz_counts_add(skt_hz_counts_t *c, skt_hz_req_t *req, long n)
{
    if (c->n == c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 8;
        hz_count_t *grown = realloc(c->queue, ncap * sizeof(*grown));
        if (!grown)
            return -1;
        c->queue = grown;
        c->cap = ncap;
    }
    c->queue[c->n++] = (hz_count_t){req, n};
    if (c->n == 1)
        event_active(c->ev, 0, 0);
    return 0;
}

void
skt_hz_counts_free(skt_hz_counts_t *c)
{
    if (!c)
        return;
    while (c->n)
        hz_counts_report(-1, 0, c);
    event_free(c->ev);
    free(c);
}
