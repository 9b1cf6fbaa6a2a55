/* hub_store.h - the state the workers of one host share in their supervisor: which workers
 * hold a channel, or a user in a channel, so that a webhook (channel_occupied / vacated,
 * member_added / removed) and a user's online state change once per host, not once per
 * worker. It is what the adapter ABI's cluster_transition and cluster_present ops ask
 * (include/soketi/adapter.h), answered from memory instead of Redis.
 *
 * A question (a SKT_WFRAME_STORE payload, frame.h):
 *   u32 id, u32 op, str app, str channel, then
 *   SKT_HUB_TRANSITION: u32 joined (1/0), u32 has_user (1/0), [str user]
 *   SKT_HUB_PRESENT:    u32 n, n x str user
 * Its answer (SKT_WFRAME_STORED), in the order the questions came:
 *   u32 id, u32 status (0), then
 *   SKT_HUB_TRANSITION: u32 count (joined: 1 when no other worker held the key; left: 1
 *                       when no worker holds it any more; else 0)
 *   SKT_HUB_PRESENT:    u32 m, m x str user (those users some worker holds there)
 *
 * A worker that exits holds nothing from then on (skt_hub_store_forget): no record outlives
 * the process that made it, unlike a dead node's in Redis. What the store holds is bounded
 * by what the workers hold (one record per occupied channel and per presence user, each
 * with a bit per worker).
 */
#ifndef SKT_WORKERS_HUB_STORE_H
#define SKT_WORKERS_HUB_STORE_H

#include <stddef.h>

struct evbuffer;

enum { SKT_HUB_TRANSITION = 1, SKT_HUB_PRESENT = 2 };

typedef struct skt_hub_store_s skt_hub_store_t;

/* A store for n_slots workers. NULL when out of memory. */
skt_hub_store_t *skt_hub_store_new(size_t n_slots);

/* Answers slot's question (payload, len bytes) into answer (the payload of the answer
 * frame). Returns 0, or -1 when the question is malformed (nothing written) or memory ran
 * out. */
int skt_hub_store_answer(skt_hub_store_t *st, size_t slot, const unsigned char *payload, size_t len,
                         struct evbuffer *answer);

/* slot's worker is gone: every record of it is dropped. */
void skt_hub_store_forget(skt_hub_store_t *st, size_t slot);

/* Records held now (for tests). */
size_t skt_hub_store_count(const skt_hub_store_t *st);

void skt_hub_store_free(skt_hub_store_t *st);

#endif
