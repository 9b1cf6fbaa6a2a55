/* cluster_internal.h - the redis-cluster adapter's state, shared by its two files (private
 * to adapter_redis_cluster.so): adapter_redis_cluster.c, the transport (publishing, keyed
 * commands, counting subscribers, the subscriber's messages, configuration, the plugin's
 * entry points), and cluster_topology.c, the topology (the node list and its connections,
 * the slot map and its refresh, liveness, where the subscriber goes).
 *
 * Everything runs on the host's event loop thread.
 */
#ifndef SKT_REDIS_CLUSTER_INTERNAL_H
#define SKT_REDIS_CLUSTER_INTERNAL_H

#include <soketi/adapter.h>

#include <event2/event.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster_slots.h"
#include "conn.h"
#include "horizontal.h"
#include "store.h"

#define SKT_RCL_NAME "redis-cluster adapter"

/* Logs through the host with the adapter's name in front. */
#define skt_rcl_log(cl, level, fmt, ...)                                                           \
    (cl)->host->log((level), SKT_RCL_NAME ": " fmt, ##__VA_ARGS__)

struct skt_rcl_s;
struct skt_rcl_slots_s; /* a CLUSTER SLOTS in flight (cluster_topology.c's) */

/* One node of the cluster and its command connection. */
typedef struct skt_rcl_node_s {
    struct skt_rcl_s *cl;
    char *host;
    int port;
    skt_rconn_t *conn;
    int in_map; /* listed by the current slot map (else a seed, until the first map) */
    int mark;   /* applying a map: listed by the new one */
    int fresh;  /* applying a map: created for it, to be started */
} skt_rcl_node_t;

/* The adapter: the transport's self, given back by skt_hz_transport_self at cleanup. */
typedef struct skt_rcl_s {
    const soketi_host_t *host;
    skt_hz_t *hz;
    skt_rs_t *store;
    skt_rconn_endpoint_t auth; /* username and password every connection logs in with */
    skt_rcs_addr_t *seeds;
    size_t n_seeds;
    skt_rcl_node_t **nodes;
    size_t n_nodes, cap_nodes;
    skt_rcs_map_t *map;            /* the current slot map, NULL until the first */
    skt_rcs_map_t *next_map;       /* parsed, waiting for the apply timer */
    skt_rcl_node_t *chan_owner[3]; /* master of each channel's slot, NULL: none known */
    unsigned chan_slot[3];
    char *chan[3]; /* by enum skt_hz_channel */
    size_t chan_len[3];
    skt_rconn_t *sub;
    int sub_started;
    struct skt_rcl_slots_s *refreshing;
    int refresh_again; /* a refresh was asked for while one was in flight */
    uint64_t refresh_sent_ms;
    int map_warned;     /* a failed refresh was logged as a warning since the last success */
    struct event *tick; /* the next refresh */
    uint64_t tick_at;   /* when tick fires, while it is pending */
    struct event *apply;
    unsigned rr;       /* round robin over nodes */
    unsigned sub_seed; /* where this daemon's subscriber starts looking (from node_id) */
    int live;          /* cross-node delivery was logged as on */
    int closing;
} skt_rcl_t;

/* ---- cluster_topology.c ------------------------------------------------------------- */

/* The node at host:port in the list, or NULL. */
skt_rcl_node_t *skt_rcl_find(const skt_rcl_t *cl, const char *host, int port);

/* 1 when n is not NULL and its connection can take commands now. */
int skt_rcl_usable(const skt_rcl_node_t *n);

/* A usable node, in round robin; in_map_only: one of the slot map. NULL when none is. */
skt_rcl_node_t *skt_rcl_pick_usable(skt_rcl_t *cl, int in_map_only);

/* Frees a node and its connection (pending callbacks get NULL replies). */
void skt_rcl_node_free(skt_rcl_node_t *n);

/* Gives every seed that is not in the list a connection, started. */
void skt_rcl_ensure_seeds(skt_rcl_t *cl);

/* The transport's ready op (self is the skt_rcl_t): 1 when a slot map is known, the
 * subscriber is usable and so is a node of the map. */
int skt_rcl_ready(void *self);

/* Logs when cross-node delivery comes on (conn.c logs each loss itself). */
void skt_rcl_check_live(skt_rcl_t *cl);

/* Points the subscriber at another node of the map for its next attempt (avoid_current:
 * not the one it is at, when there is another). */
void skt_rcl_move_sub(skt_rcl_t *cl, int avoid_current);

/* Creates the refresh (tick) and apply timers. Returns 0, or -1 when out of memory. */
int skt_rcl_timers_new(skt_rcl_t *cl);

/* Arms the refresh timer for the next periodic refresh. */
void skt_rcl_arm(skt_rcl_t *cl);

/* Asks for a refresh of the slot map soon (a MOVED, a lost connection). */
void skt_rcl_kick(skt_rcl_t *cl);

#endif
