/* shared.h - what the nodes of a cluster share through the adapter's optional ops:
 * rate limit counters, the cache of cache channels, and the transitions that decide
 * channel_occupied / vacated and member_added / removed webhooks (and a user's online
 * state, pusher/online.c) once per cluster.
 *
 * DESIGN
 * The features under src/features/ know nothing of plugins; they take drivers. This file
 * builds those drivers over the loaded adapter's optional ops (include/soketi/adapter.h:
 * rate_consume, cache_get, cache_set, cluster_transition, job_put, job_claim), so that
 * rateLimiter.driver and cache.driver "redis" count and cache in Redis through the Redis
 * adapter's own connection, with soketi's keys, and queue.driver "redis" keeps pending
 * webhooks there (features/webhooks.h's skt_whq_driver_t), and no Redis client lives in the
 * daemon itself.
 * When the adapter cannot answer (Redis down), each falls back to what one node knows:
 * the rate limiter counts locally, the cache misses, and a webhook follows this node's
 * own transition (it may then fire once per node, as soketi's always do, rather than
 * be lost).
 * The workers of one host (workers > 1 with the local adapter, adapter_workers.so) get
 * the same drivers for rateLimiter.driver "local" and cache.driver "memory": their
 * supervisor holds the windows and the cache, so that they are the host's as they are the
 * process's with one worker.
 */
#ifndef SKT_PUSHER_SHARED_H
#define SKT_PUSHER_SHARED_H

#include <stddef.h>

#include "config/apps.h"
#include "features/cache.h"
#include "features/ratelimit.h"
#include "pusher/server.h"

/* Replaces srv->features' rate limiter and cache by the adapter-backed ones when
 * rateLimiter.driver / cache.driver ask for "redis", or, for the workers of one host, when
 * they are "local" / "memory" and the adapter offers the ops; and sends webhooks through
 * the adapter's job queue when queue.driver asks for "redis". Returns 0, or -1 with a
 * message in err when "redis" is asked of an adapter without such ops or of the local
 * adapter (with workers too), or memory runs out. */
int skt_shared_setup(skt_server_t *srv, char *err, size_t errlen);

/* What a cluster transition does: called once the adapter found that this node's
 * transition is the cluster's (or could not tell). id_number and extra are what the caller
 * passed (extra a copy). Strings are valid during the call. */
typedef void (*skt_shared_fire_fn)(skt_server_t *srv, const char *app_id, const char *channel,
                                   const char *user_id, int id_number, int joined,
                                   const char *extra);

/* This node's first holder of (app_id, channel[, user_id]) joined (joined 1), or its last
 * left (0): calls fire, now or later, when the adapter's cluster_transition says it is the
 * cluster's first / last, or at once when the adapter has no such op or cannot tell.
 * id_number: user_id came as a JSON number (handed back to fire; the adapter keys by text). */
void skt_shared_transition(skt_server_t *srv, const char *app_id, const char *channel,
                           const char *user_id, int id_number, int joined, skt_shared_fire_fn fire,
                           const char *extra);

/* This node's first socket joined (joined 1) or its last left (0) channel of app: queues
 * channel_occupied / channel_vacated when the app wants it and the transition is the
 * cluster's. */
void skt_shared_channel(skt_server_t *srv, const skt_app_t *app, const char *channel, int joined);

/* The same for a presence member: user_id's first socket here joined / last left. With an
 * adapter that admits members (cluster_admit), every leave goes to the adapter: the
 * admission recorded the member. */
void skt_shared_member(skt_server_t *srv, const skt_app_t *app, const char *channel,
                       const char *user_id, int id_number, int joined);

/* user_id's first socket here joined after the adapter's cluster_admit admitted (and
 * recorded) it: member_added is queued when first (no other node held the user) and the app
 * wants it; nothing more goes to the adapter. */
void skt_shared_member_admitted(skt_server_t *srv, const skt_app_t *app, const char *channel,
                                const char *user_id, int id_number, int first);

/* A node that died alone held user_id in channel of app_id (or, user_id NULL, the channel
 * itself): queues member_removed (channel_vacated) as its leave would have, when the app
 * wants it (the adapter's host->remote_left, on one node). */
void skt_shared_lost(skt_server_t *srv, const char *app_id, const char *channel,
                     const char *user_id, int id_number);

/* An admission of user_id in channel of ns that its socket no longer uses (it closed or
 * joined otherwise while the adapter decided): given back unless another socket of the
 * user holds the channel here. */
void skt_shared_member_release(skt_server_t *srv, skt_ns_t *ns, const char *channel,
                               const char *user_id);

/* The distinct members of a presence channel across the cluster, each id with its JSON
 * type: the adapter's channel_members_typed, or, from an adapter without it,
 * channel_members with every id taken for a string. cb is called exactly once, as the
 * adapter's ops are (its arrays valid during the call). */
void skt_shared_members(skt_server_t *srv, const char *app_id, const char *channel,
                        soketi_typed_members_cb cb, void *arg);

#endif
