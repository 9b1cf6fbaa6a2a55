/* store.h - the state soketi nodes share in Redis itself, beside the pub/sub protocol: the
 * optional adapter ops cluster_transition, cluster_present, cluster_admit, rate_consume,
 * cache_get and cache_set (and, in store_jobs.c, job_put and job_claim), for both Redis plugins
 * (adapter_redis.c, adapter_redis_cluster.c).
 *
 * A store sends keyed commands through its transport (one Redis: the publisher connection;
 * a Redis Cluster: the master of the key's slot, following MOVED and ASK). Every key starts
 * with database.redis.keyPrefix, as ioredis's keyPrefix option prepends it to every key:
 *   cache        GET key / SET key value [EX ttl]: soketi's RedisCacheManager, so soketi
 *                and soketi-c nodes share cached events
 *   rate limits  one script, rate-limiter-flexible's RateLimiterRedis (soketi's redis rate
 *                limiter): SET key 0 PX window NX, INCRBY, PTTL
 *   occupancy    `<channel>#occupancy#<app>#<channel name>` and, per presence user,
 *                `<channel>#members#{<app>#<channel name>}#<user id>`, where <channel> is
 *                the adapter's broadcast channel (`redis-adapter` or
 *                `<prefix>#redis-adapter`): a ZSET of the node ids (host->node_id) that
 *                hold it, each scored by the Redis TIME at which it expires. One script
 *                decides a join or leave atomically and answers how many other nodes hold
 *                the key. cluster_present answers this node's part from what it holds, and
 *                asks Redis (a read-only script per user) about the users it does not hold.
 *   members      `<channel>#members#{<app>#<channel name>}`: a presence channel's users, a
 *                ZSET of user ids each scored by the latest expiry of the nodes holding
 *                it, kept in step with the members' keys by the same script (a member's
 *                leave from its last node removes it; a dead node's entries expire with
 *                its members'). cluster_admit's script counts it and records the member
 *                in one step, so that nodes admitting at the same instant never overfill
 *                a channel. The braces put all of a channel's keys in one Redis Cluster
 *                hash slot (a keyPrefix or adapter.redis.prefix holding `{` would move the
 *                hash tag, still one slot per channel unless it holds `{}`).
 *
 * OCCUPANCY AND DEAD NODES
 * The store keeps the keys this node holds (joined and not yet left) and re-sends them
 * every adapter.redis.nodeTtl/3 seconds (default 30/3), pipelined, and again as soon as a
 * command connection comes up, which also re-creates them after Redis lost its data. A
 * node that dies without leaving is forgotten nodeTtl seconds after its last refresh, so
 * at most nodeTtl seconds after it died (a node whose loop stalls that long is forgotten
 * too, and counted again by its next refresh).
 * At cleanup (skt_rs_shutdown) the store sends a leave for every key it still holds,
 * best effort: they are written to the socket before the connection closes, unanswered;
 * what does not get through expires after nodeTtl seconds.
 *
 * ORDER AND CALLBACKS
 * Calls for the same occupancy key (admissions included) run one at a time: the next is
 * sent only after the previous was answered, so the callbacks come in call order whatever
 * the transport does (a redirected command cannot be overtaken) and a refresh never lands
 * after a later leave. An admission counts as held from its call (so a leave queued
 * behind it undoes it) until it is refused.
 * Every callback is called exactly once and never before the op returns: with the answer
 * from the event loop, or SOKETI_ERROR from a zero timer when no connection can take the
 * command now. From skt_rs_shutdown on, ops answer SOKETI_ERROR before they return, and
 * everything still pending is answered SOKETI_ERROR by the time skt_rs_free returns.
 *
 * SCRIPTS
 * The scripts, and reading their replies, are store_proto.c's. They are sent as EVALSHA,
 * and once more as EVAL when Redis answers NOSCRIPT (a restart, SCRIPT FLUSH, a new
 * cluster node): the refresh sends a script per held key every few seconds, and a 40-byte
 * SHA is much cheaper to send than the script.
 *
 * Everything runs on the host's event loop thread.
 */
#ifndef SKT_REDIS_STORE_H
#define SKT_REDIS_STORE_H

#include <soketi/adapter.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <hiredis/sds.h>
#include <stddef.h>

#include "horizontal.h"

/* Seconds a node's occupancy outlives its last refresh unless adapter.redis.nodeTtl says. */
#define SKT_RS_NODE_TTL_DEFAULT 30

/* What a store needs from its transport. */
typedef struct skt_rs_transport_s {
    void *self;
    /* Sends cmd, a complete command in RESP form (an sds the transport frees in every
     * case), to the server that holds key (key_len bytes). Returns 0, then hiredis-style
     * calls fn(ac, reply, priv) exactly once, never before this returns: with the final
     * reply (an error reply included), or reply NULL when the connection went away first
     * (possibly while the transport frees its connections). fn NULL: the reply is
     * discarded. Returns -1, and never calls fn, when no usable connection serves the key. */
    int (*command)(void *self, const char *key, size_t key_len, sds cmd, redisCallbackFn *fn,
                   void *priv);
} skt_rs_transport_t;

typedef struct skt_rs_s skt_rs_t;

/* Creates a store. host and tr are borrowed and must outlive it; bcast_channel (copied)
 * is the adapter's broadcast channel name that occupancy keys start with, name prefixes
 * its log lines. Reads database.redis.keyPrefix and adapter.redis.nodeTtl. Returns NULL
 * when out of memory. */
skt_rs_t *skt_rs_new(const soketi_host_t *host, const skt_rs_transport_t *tr,
                     const char *bcast_channel, const char *name);

/* A command connection came up: refresh every held key soon, to re-create what Redis may
 * have lost. Cheap; calls coalesce. */
void skt_rs_connected(skt_rs_t *st);

/* Sends a leave for every held key (best effort: flush the connections before freeing
 * them) and makes every later op answer SOKETI_ERROR at once. Call at cleanup, before the
 * transport frees its connections. */
void skt_rs_shutdown(skt_rs_t *st);

/* Answers whatever is still pending with SOKETI_ERROR and frees st. Call after the
 * transport has freed its connections (so that every command's fn has been called).
 * NULL is fine. */
void skt_rs_free(skt_rs_t *st);

/* What store_jobs.c (the job ops) uses of a store: database.redis.keyPrefix, a throttled
 * log line for what Redis refused (what: e.g. "a job write"), and a script call: EVALSHA
 * (EVAL when eval or the SHA is unknown) of script with nkeys keys, argv[0..argc) being the
 * keys then the arguments (lens their lengths), routed by argv[0]. Returns 0 (fn then
 * called exactly once, as the transport's command says), or -1 (never called; always from
 * skt_rs_shutdown on). */
const char *skt_rs_key_prefix(const skt_rs_t *st);
void skt_rs_refused(skt_rs_t *st, const char *what, const char *reason);
int skt_rs_eval(skt_rs_t *st, int script, int eval, int nkeys, int argc, const char *const *argv,
                const size_t *lens, redisCallbackFn *fn, void *priv);

/* Fills a Redis plugin's adapter: self is hz (whose transport's `store` is the skt_rs_t),
 * the ops are horizontal_ops.c's (the required ones) and this file's (cluster_transition,
 * cluster_present, cluster_admit, rate_consume, cache_get, cache_set, job_put, job_claim). */
void skt_rs_fill_adapter(soketi_adapter_t *adapter, skt_hz_t *hz);

#endif
