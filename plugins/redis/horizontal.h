/* horizontal.h - soketi's horizontal adapter over any pub/sub transport: broadcasts,
 * cluster-wide queries with timeouts, merging peers' answers, answering peers' requests.
 *
 * This is everything of soketi's src/adapters/horizontal-adapter.ts that does not depend
 * on how messages travel. A transport (adapter_redis.c for one Redis server; the
 * redis-cluster adapter reuses it) provides publish, "how many nodes listen" (Redis's
 * PUBSUB NUMSUB of the request channel) and readiness, and feeds every message it receives
 * to skt_hz_on_message. skt_hz_fill_ops then gives the plugin its soketi_adapter_ops_t.
 *
 * A query: publish a request (or join an identical one in flight), wait for numsub-1
 * responses (numsub counts this node too) or until requests_timeout_ms, and answer with
 * host->local_* (read then) merged with the peers' answers. The callback gets SOKETI_OK
 * when every node answered in full, SOKETI_PARTIAL with what arrived when the time ran
 * out, the transport went down, an answer was cut to its bounds, or the app was over its
 * rate of queries, and SOKETI_ERROR only when memory ran out. When the transport is not
 * ready the local answer is given at once, as SOKETI_PARTIAL.
 *
 * What peers may cost (skt_hz_limits_t, the adapter.* options) is bounded before any
 * parsing where it can be: message size, nesting, number of values, the rate of peers'
 * requests answered, the size and byte rate of our answers.
 *
 * Metrics (host->metric, when the host has it), as soketi's horizontal adapter records
 * them: REQUEST_SENT when a query's request is published, REQUEST_RECEIVED when a peer's
 * request is answered, RESPONSE_RECEIVED per peer answer to one of ours, and for a
 * published query that has a callback RESOLVED (every node answered in full) or
 * UNCOMPLETE (it did not) with the milliseconds since it was published. Ours:
 * MESSAGE_DROPPED, RESPONSE_TRUNCATED, REQUEST_LIMITED, REQUEST_COALESCED (value 1).
 *
 * The layer's files call one another only downwards: horizontal_core.c (the shared state,
 * the clock, the log) at the bottom; horizontal_limits.c and horizontal_merge.c on it;
 * horizontal_answer.c (what callers get) on those; horizontal.c (our queries) on them all;
 * horizontal_ops.c, horizontal_peers.c and horizontal_counts.c on top. This header is
 * what the transports include: the lower headers, and what they call of the upper files.
 *
 * Everything runs on the host's event loop thread.
 */
#ifndef SKT_REDIS_HORIZONTAL_H
#define SKT_REDIS_HORIZONTAL_H

#include <soketi/adapter.h>
#include <stddef.h>
#include <stdint.h>

#include "horizontal_core.h"
#include "horizontal_limits.h"
#include "horizontal_merge.h"

/* ---- the layer (horizontal.c) -------------------------------------------------------- */

/* Creates the horizontal layer. host and tr are borrowed and must outlive it; lim is
 * copied; name prefixes its log lines ("redis adapter"). Returns NULL when out of
 * memory. */
skt_hz_t *skt_hz_new(const soketi_host_t *host, const skt_hz_transport_t *tr,
                     long requests_timeout_ms, const skt_hz_limits_t *lim, const char *name);

/* Answers every pending query with what it has (SOKETI_PARTIAL) and makes later
 * queries answer locally. Call before tearing the transport down at cleanup. */
void skt_hz_shutdown(skt_hz_t *hz);

/* Frees hz. Call after the transport has reported every skt_hz_numsub_done. */
void skt_hz_free(skt_hz_t *hz);

/* The transport's self, as given to skt_hz_new (to find it again from adapter->self). */
void *skt_hz_transport_self(const skt_hz_t *hz);

/* The transport's store, as given to skt_hz_new. */
void *skt_hz_store(const skt_hz_t *hz);

/* The transport's answer to numsub(): n nodes (this one included) listen, or n < 0. */
void skt_hz_numsub_done(skt_hz_req_t *req, long n);

/* The transport can no longer receive: pending queries answer now with what they have. */
void skt_hz_transport_down(skt_hz_t *hz);

/* ---- the adapter ops (horizontal_ops.c) ---------------------------------------------- */

/* Fills ops (every op): the adapter's self must then be the skt_hz_t. */
void skt_hz_fill_ops(soketi_adapter_ops_t *ops);

/* ---- the peers' messages (horizontal_peers.c) ---------------------------------------- */

/* A message arrived on channel (enum skt_hz_channel). data need not be NUL-terminated
 * and is only read during the call. What a peer may not send (too large, too complex,
 * malformed, over a rate) is dropped, counted and logged (throttled). */
void skt_hz_on_message(skt_hz_t *hz, int channel, const char *data, size_t len);

/* ---- counts known at once (horizontal_counts.c) --------------------------------------- */

/* A transport that knows how many nodes listen without asking anyone (the cluster
 * adapter, the workers of one host) answers numsub through this queue: each count is
 * reported by skt_hz_numsub_done from a deferred event on the loop, never inside numsub. */
typedef struct skt_hz_counts_s skt_hz_counts_t;

/* An empty queue on base. Returns NULL when out of memory. */
skt_hz_counts_t *skt_hz_counts_new(struct event_base *base);
/* Queues n as req's count. Returns 0, or -1 when out of memory (nothing queued: numsub
 * then returns -1). */
int skt_hz_counts_add(skt_hz_counts_t *c, skt_hz_req_t *req, long n);
/* Reports what is queued, then frees c (at cleanup, after skt_hz_shutdown and before
 * skt_hz_free: the layer's requests go before it is freed). NULL is a no-op. */
void skt_hz_counts_free(skt_hz_counts_t *c);

#endif
