/* hub.h - the supervisor's relay between workers (the local transport of `workers`).
 *
 * DESIGN
 * A star: each worker holds one end of a socketpair, the supervisor the other, here. A
 * message a worker's adapter publishes (frame.h, kinds 0..2) is copied to every other
 * worker connected now, never back to its sender: a broadcast crosses to each other
 * worker once, whatever the number of its subscribers there. Whenever a worker attaches
 * or detaches, every worker hears the new count (a NODES frame): that is its adapter's
 * "how many nodes listen", which a host-wide query waits for answers from.
 *
 * A worker's question to the shared state (hub_store.h: who holds a channel or a presence
 * user, for webhooks and online states once per host; presence admission, rate limit
 * windows and the cache, for the host) is answered on its own socket, in the order asked
 * (a cache_set has no answer).
 *
 * Bounds: a frame larger than max_frame is a broken worker (it is detached; the
 * supervisor replaces it when it exits); output waiting for one worker is held up to
 * max_queue bytes, past which frames for that worker are dropped (counted and logged at
 * most once a second): a stuck worker cannot make the supervisor grow without end.
 *
 * The hub runs on the supervisor's event loop and owns the sockets attached to it.
 */
#ifndef SKT_WORKERS_HUB_H
#define SKT_WORKERS_HUB_H

#include <event2/event.h>
#include <stddef.h>
#include <stdint.h>

typedef struct skt_hub_s skt_hub_t;

/* A hub with n_slots places (one per worker). Returns NULL when out of memory. */
skt_hub_t *skt_hub_new(struct event_base *base, size_t n_slots, size_t max_frame, size_t max_queue);

/* Attaches fd (a connected unix stream socket; the hub owns it from now on, even on
 * failure) as slot's worker, replacing any worker there. Returns 0, or -1 when out of
 * memory (fd closed). */
int skt_hub_attach(skt_hub_t *hub, size_t slot, int fd);

/* Detaches and closes slot's worker, if any (it exited); what it held in the shared state
 * (hub_store.h) is dropped, and each presence user or channel it alone held is told to
 * every worker that remains (a LOST frame, frame.h; the first of them fires the webhooks),
 * so that their subscribers see the user leave. */
void skt_hub_detach(skt_hub_t *hub, size_t slot);

/* Frames dropped so far because a worker's queue was full. */
uint64_t skt_hub_dropped(const skt_hub_t *hub);

/* Closes every socket and frees hub. NULL is a no-op. */
void skt_hub_free(skt_hub_t *hub);

#endif
