/* deadline.h - many deadlines of one fixed delay on a single timer (sign-in timeouts).
 *
 * DESIGN
 * Every deadline of a queue is started with the same delay, so the order they
 * were started in is the order they expire in: a FIFO list and one libevent
 * timer, armed for the oldest, cover any number of them. Starting and
 * cancelling are O(1) and allocate one small node; nothing is allocated per
 * deadline in libevent. The timer's callback unlinks and frees each expired
 * node before it calls the owner's function, so that function may do
 * anything, including cancelling other deadlines or closing its socket.
 */
#ifndef SKT_FEATURES_DEADLINE_H
#define SKT_FEATURES_DEADLINE_H

#include <event2/event.h>

typedef struct skt_deadlines_s skt_deadlines_t;
typedef struct skt_deadline_s skt_deadline_t;

/* Called once per expired deadline with the owner it was started for. The
 * deadline's handle is already gone: the owner must forget it. */
typedef void (*skt_deadline_fn)(void *owner);

/* A queue whose deadlines fire delay_ms after they start. NULL when out of memory. */
skt_deadlines_t *skt_deadlines_new(struct event_base *base, long delay_ms, skt_deadline_fn fn);

/* Frees the queue and every deadline still pending (none fires). NULL is a no-op. */
void skt_deadlines_free(skt_deadlines_t *q);

/* Starts a deadline for owner. Returns its handle, or NULL when out of memory. */
skt_deadline_t *skt_deadline_start(skt_deadlines_t *q, void *owner);

/* Cancels a deadline that has not fired. NULL is a no-op. */
void skt_deadline_cancel(skt_deadline_t *d);

/* Deadlines pending in the queue. */
size_t skt_deadlines_pending(const skt_deadlines_t *q);

#endif
