/* nats_store.h - the state soketi-c nodes share over NATS, in JetStream key-value buckets
 * (nats_kv.c): the optional adapter ops cluster_transition, cluster_present, cluster_admit,
 * rate_consume, cache_get and cache_set, as the Redis store gives them over Redis.
 *
 *   occupancy   who holds a channel or a presence member (nats_proto.h's holders): each
 *               node writes its own entries with the time they expire, now + nodeTtl; a
 *               join or leave reads the key and writes it back only if it did not change
 *               meanwhile (compare-and-set on its revision), retrying on a conflict, so two
 *               nodes joining at the same instant still make one webhook. Its answer is
 *               whether another node held the user (or channel) when it was decided.
 *   admission   cluster_admit: the same compare-and-set on the presence channel's key, which
 *               holds every member, admitting only while the channel stays within its limit
 *   rate limits rate-limiter-flexible's window ({"p": points, "e": end}), by compare-and-set
 *   cache       a cache channel's last event, with its expiry in the header
 *               Soketi-Expires-At (Unix ms): an expired value is a miss
 *
 * Batching: calls for one key run one cycle (read, decide, write) at a time; the calls that
 * come meanwhile are decided together in the next cycle, one write for all of them, each
 * answered in call order. The last value written is remembered with its revision, so the
 * next cycle of that key usually writes without reading first (one round trip).
 *
 * Dead nodes: each node rewrites the keys it holds every nodeTtl/3 seconds, and again
 * when JetStream becomes usable (a restarted server lost them); a node that dies without
 * leaving is forgotten nodeTtl seconds after its last rewrite, by the clocks of the nodes
 * (keep them in sync, as NTP does: a node whose clock runs s seconds off shortens or
 * lengthens that by s). A key nobody rewrote for twice nodeTtl leaves the bucket.
 * At cleanup every held key gets a last write without this node, best effort.
 *
 * Callbacks: transitions, admissions and rate limits are always answered later, from the
 * loop, in call order per key; SOKETI_ERROR when JetStream cannot answer (the host then
 * decides on this node's own). cluster_present and cache_get may answer SOKETI_ERROR (a
 * miss) before they return when JetStream is not usable.
 */
#ifndef SKT_NATS_STORE_H
#define SKT_NATS_STORE_H

#include <soketi/adapter.h>

#include "horizontal.h"
#include "nats_kv.h"
#include "nats_req.h"

/* Seconds a dead node's holdings outlive it unless adapter.nats.nodeTtl says. */
#define SKT_NST_NODE_TTL_DEFAULT 30
/* A compare-and-set that keeps losing gives up (SOKETI_ERROR) after this many tries. */
#define SKT_NST_MAX_ATTEMPTS 8
/* How long the rate limit buckets keep a key after its last write. */
#define SKT_NST_RATE_MAX_AGE_S 600

typedef struct skt_nst_s skt_nst_t;

/* Creates the store and its buckets (named after subject, the broadcast subject), over the
 * request table req. node_ttl_s: as above; replicas: of each bucket; cache_ttl_s: how long
 * the cache bucket keeps a value (0: for ever). host, req and name are borrowed. NULL when
 * out of memory. */
skt_nst_t *skt_nst_new(const soketi_host_t *host, skt_nr_t *req, const char *subject,
                       long node_ttl_s, int replicas, long cache_ttl_s, const char *name);

/* The connection came up / went down. */
void skt_nst_up(skt_nst_t *st);
void skt_nst_down(skt_nst_t *st);

/* At cleanup: a last write without this node for every held key, and SOKETI_ERROR for
 * every later call (before it returns). Then flush the connection and free the requests. */
void skt_nst_shutdown(skt_nst_t *st);

/* Answers whatever still waits with SOKETI_ERROR and frees st. Call after skt_nr_free (so
 * that every cycle in flight was answered). NULL is fine. */
void skt_nst_free(skt_nst_t *st);

/* Set the optional ops (the adapter's self is the skt_hz_t whose transport's store is st):
 * the writing ones (cluster_transition, cluster_admit, rate_consume; nats_store.c) and the
 * reading ones (cache_get, cache_set, cluster_present; nats_store_read.c). */
void skt_nst_fill_ops(soketi_adapter_ops_t *ops);
void skt_nst_fill_read_ops(soketi_adapter_ops_t *ops);

#endif
