/* hub_store.h - the state the workers of one host share in their supervisor: which workers
 * hold a channel, or a user in a channel, so that a webhook (channel_occupied / vacated,
 * member_added / removed) and a user's online state change once per host, not once per
 * worker; the presence member limit, admitted atomically (the supervisor is one thread);
 * the rate limit windows, the cache of cache channels and the connections counted for
 * maxConnections (admitted atomically too). It is what the adapter ABI's optional ops ask
 * (include/soketi/adapter.h: cluster_transition, cluster_present, cluster_admit,
 * rate_consume, cache_get, cache_set, cluster_connection), answered from memory instead of
 * Redis.
 *
 * A question (a SKT_WFRAME_STORE payload, frame.h):
 *   u32 id, u32 op, str app, str channel, then
 *   SKT_HUB_TRANSITION: u32 joined (1/0), u32 has_user (1/0), [str user]
 *   SKT_HUB_PRESENT:    u32 n, n x str user
 *   SKT_HUB_ADMIT:      str user, u32 has_limit (1/0), u32 limit, u32 id_number (1: the
 *                       user's id is a JSON number, kept with its record for LOST entries)
 *   SKT_HUB_RATE:       u32 points, u32 window_ms           (app empty, channel: the key)
 *   SKT_HUB_GET:        nothing                             (app empty, channel: the key)
 *   SKT_HUB_SET:        str value, u32 ttl_seconds (0: none) (app empty, channel: the key)
 *   SKT_HUB_CONNECTION: u32 joined (1/0), u32 has_limit (1/0), u32 limit (channel empty)
 * Its answer (SKT_WFRAME_STORED), in the order the questions came (SET has none):
 *   u32 id, u32 status (0), then
 *   SKT_HUB_TRANSITION: u32 count (joined: 1 when no other worker held the key; left: 1
 *                       when no worker holds it any more; else 0)
 *   SKT_HUB_PRESENT:    u32 m, m x str user (those users some worker holds there)
 *   SKT_HUB_ADMIT:      u32 count (cluster_admit's: 1 admitted and recorded, no other
 *                       worker held the user; 2 admitted, another did; 0 refused: full)
 *   SKT_HUB_RATE:       u32 used, u32 ms_left (the window's points, these included)
 *   SKT_HUB_GET:        u32 found (1/0), [str value]
 *   SKT_HUB_CONNECTION: u32 count (joined: 1 admitted and counted, 0 refused: the app has
 *                       limit connections on the host; left: 1)
 *
 * Rate limit windows are dropped once closed, when they have doubled since the last such
 * sweep (their keys are the host's: two per app); the cache is the memory driver of
 * features/cache.h, as one process keeps it.
 *
 * A worker that exits holds nothing from then on (skt_hub_store_forget): no record outlives
 * the process that made it, unlike a dead node's in Redis. What the store holds is bounded
 * by what the workers hold (one record per occupied channel and per presence user, each
 * with a bit per worker).
 */
#ifndef SKT_WORKERS_HUB_STORE_H
#define SKT_WORKERS_HUB_STORE_H

#include <stddef.h>
#include <stdint.h>

struct evbuffer;
struct event_base;

enum {
    SKT_HUB_TRANSITION = 1,
    SKT_HUB_PRESENT = 2,
    SKT_HUB_ADMIT = 3,
    SKT_HUB_RATE = 4,
    SKT_HUB_GET = 5,
    SKT_HUB_SET = 6,
    SKT_HUB_CONNECTION = 7,
};

typedef struct skt_hub_store_s skt_hub_store_t;

/* A store for n_slots workers; base runs the cache's sweep (NULL: none, expired entries
 * go on the next set). NULL when out of memory. */
skt_hub_store_t *skt_hub_store_new(struct event_base *base, size_t n_slots);

/* Answers slot's question (payload, len bytes) into answer (the payload of the answer
 * frame; left empty when the question has none). now_ms: a monotonic clock, for rate
 * limit windows. Returns 0, or -1 when the question is malformed (nothing to send) or
 * memory ran out. */
int skt_hub_store_answer(skt_hub_store_t *st, size_t slot, const unsigned char *payload, size_t len,
                         uint64_t now_ms, struct evbuffer *answer);

/* slot's worker is gone: every record of it is dropped. When lost is not NULL, what only
 * that worker held (no other worker holds it now) is appended to it, each a str (u32
 * length, then the entry) holding one entry:
 *   u32 is_user (1 a presence user, 0 the channel itself), str app, str channel,
 *   str user (empty for a channel), u32 id_number (the user's id is a JSON number)
 * the users first, then the channels (member_removed before channel_vacated). The hub
 * sends each in a LOST frame (frame.h) to the workers that remain. */
void skt_hub_store_forget(skt_hub_store_t *st, size_t slot, struct evbuffer *lost);

/* Records held now (for tests). */
size_t skt_hub_store_count(const skt_hub_store_t *st);

void skt_hub_store_free(skt_hub_store_t *st);

#endif
