/* cluster_topology.c - the redis-cluster adapter's view of the cluster: a connection to
 * every node, the slot map and its refresh, which nodes are up, and where the subscriber
 * goes. adapter_redis_cluster.c, the transport, sends through what this file keeps
 * (cluster_internal.h is their shared state).
 *
 *   - nodes: a connection (conn.c) to every node of the cluster, masters and replicas,
 *     as the slot map lists them; database.redis.clusterNodes only seeds the first map.
 *   - the slot map (cluster_slots.c) comes from CLUSTER SLOTS, asked of a live node every
 *     CL_REFRESH_MS (ioredis's slotsRefreshInterval), every CL_REFRESH_DEGRADED_MS while
 *     a node or the subscriber is down, and at once on a lost connection or a MOVED.
 *   - the subscriber: on one node of the map (spread by node id), moved to another node
 *     when it is lost or its node leaves the map.
 *
 * DESIGN
 * Owner callbacks of conn.c run inside hiredis callbacks, where no connection may be
 * freed: they only set state and arm the `tick` (refresh) timer. A CLUSTER SLOTS reply is
 * parsed in its callback and applied from the `apply` timer, at the loop's top level.
 * Applying a map first rebuilds the node list, then frees the nodes that left it: freeing
 * a connection runs its pending callbacks (NULL replies) synchronously, and those may
 * start new queries, which must find a consistent node list.
 */
#include "cluster_internal.h"

#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Topology refresh when all is well (ioredis's slotsRefreshInterval). */
#define CL_REFRESH_MS 5000
/* ... while a node of the map or the subscriber is down, or no map is known yet. */
#define CL_REFRESH_DEGRADED_MS 1000
/* At least this long between two refreshes that events ask for. */
#define CL_REFRESH_MIN_GAP_MS 200
/* A CLUSTER SLOTS without an answer after this long is given up: ask another node. */
#define CL_SLOTS_TIMEOUT_MS 2000

/* A CLUSTER SLOTS in flight. */
typedef struct skt_rcl_slots_s {
    skt_rcl_t *cl;
    int abandoned; /* timed out: the reply, when it comes, is ignored */
    char *asked_host;
    int asked_port;
} cl_slots_t;

/* Arms a timer to fire in ms. */
static void
arm_ms(struct event *ev, uint64_t ms)
{
    struct timeval tv = {.tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000};
    evtimer_add(ev, &tv);
}

/* ---- nodes -------------------------------------------------------------------------- */

/* Nodes are found by address: what the slot map, a redirection and a seed give. */
skt_rcl_node_t *
skt_rcl_find(const skt_rcl_t *cl, const char *host, int port)
{
    for (size_t i = 0; i < cl->n_nodes; i++)
        if (cl->nodes[i]->port == port && strcmp(cl->nodes[i]->host, host) == 0)
            return cl->nodes[i];
    return NULL;
}

/* Whether a command sent to n now can go out. */
int
skt_rcl_usable(const skt_rcl_node_t *n)
{
    return n && skt_rconn_usable(n->conn);
}

/* A usable node, in round robin; in_map_only: one of the slot map. NULL when none is. */
skt_rcl_node_t *
skt_rcl_pick_usable(skt_rcl_t *cl, int in_map_only)
{
    for (size_t k = 0; k < cl->n_nodes; k++) {
        skt_rcl_node_t *n = cl->nodes[(cl->rr + k) % cl->n_nodes];
        if (skt_rcl_usable(n) && (n->in_map || !in_map_only)) {
            cl->rr = (unsigned)((cl->rr + k + 1) % cl->n_nodes);
            return n;
        }
    }
    return NULL;
}

/* Where the subscriber should go: a node of the map other than host:port (NULL: any)
 * whose command connection is not failing, starting from this daemon's own place so
 * that the daemons of a cluster spread over its nodes. NULL when the map is empty. */
static skt_rcl_node_t *
cl_pick_sub_node(const skt_rcl_t *cl, const char *avoid_host, long avoid_port)
{
    skt_rcl_node_t *fallback = NULL, *other = NULL;
    for (size_t k = 0; k < cl->n_nodes; k++) {
        skt_rcl_node_t *n = cl->nodes[(cl->sub_seed + k) % cl->n_nodes];
        if (!n->in_map)
            continue;
        int avoided = avoid_host && n->port == avoid_port && strcmp(n->host, avoid_host) == 0;
        if (!avoided && skt_rconn_state(n->conn) != SKT_RCONN_IDLE)
            return n;
        if (!avoided && !other)
            other = n;
        if (!fallback)
            fallback = n;
    }
    return other ? other : fallback;
}

/* A node's connection is up: it can tell the cluster's map, re-create the store's keys,
 * and may complete cross-node delivery. */
static void
cl_on_node_ready(void *owner, skt_rconn_t *c)
{
    skt_rcl_node_t *n = owner;
    (void)c;
    if (!n->cl->map)
        skt_rcl_kick(n->cl); /* the first node up tells us the cluster */
    skt_rs_connected(n->cl->store);
    skt_rcl_check_live(n->cl);
}

/* A node's connection went down or could not come up. */
static void
cl_on_node_lost(void *owner, skt_rconn_t *c, int was_ready)
{
    skt_rcl_node_t *n = owner;
    (void)c;
    if (was_ready)
        skt_rcl_kick(n->cl); /* a failover may be under way: see what the cluster says */
    skt_rcl_check_live(n->cl);
}

/* A node (not yet in the list) with its connection, not started. NULL when out of memory. */
static skt_rcl_node_t *
cl_node_new(skt_rcl_t *cl, const char *host, int port)
{
    skt_rcl_node_t *n = calloc(1, sizeof(*n));
    if (!n || !(n->host = strdup(host))) {
        free(n);
        return NULL;
    }
    n->cl = cl;
    n->port = port;
    skt_rconn_endpoint_t ep = {.host = n->host,
                               .port = port,
                               .username = cl->auth.username,
                               .password = cl->auth.password};
    skt_rconn_opts_t o = {
        .host = cl->host,
        .log_name = SKT_RCL_NAME,
        .role = "publisher",
        .down_hint = "the other known cluster nodes serve meanwhile",
        .lost_hint = "the other cluster nodes are used meanwhile (reconnecting)",
        .owner = n,
        .on_ready = cl_on_node_ready,
        .on_lost = cl_on_node_lost,
    };
    if (!(n->conn = skt_rconn_new(&o, &ep))) {
        free(n->host);
        free(n);
        return NULL;
    }
    return n;
}

/* Frees a node that is out of the list (or never got in). */
void
skt_rcl_node_free(skt_rcl_node_t *n)
{
    skt_rconn_free(n->conn);
    free(n->host);
    free(n);
}

/* Appends n to the node list. Returns 0, or -1 when out of memory (n is not added). */
static int
cl_add(skt_rcl_t *cl, skt_rcl_node_t *n)
{
    if (cl->n_nodes == cl->cap_nodes) {
        size_t ncap = cl->cap_nodes ? cl->cap_nodes * 2 : 8;
        skt_rcl_node_t **grown = realloc(cl->nodes, ncap * sizeof(*grown));
        if (!grown)
            return -1;
        cl->nodes = grown;
        cl->cap_nodes = ncap;
    }
    cl->nodes[cl->n_nodes++] = n;
    return 0;
}

/* Nothing is reachable: make sure every seed has a connection, so that a cluster whose
 * mapped nodes all went away can still be found again from the configuration. */
void
skt_rcl_ensure_seeds(skt_rcl_t *cl)
{
    for (size_t i = 0; i < cl->n_seeds; i++) {
        if (skt_rcl_find(cl, cl->seeds[i].host, cl->seeds[i].port))
            continue;
        skt_rcl_node_t *n = cl_node_new(cl, cl->seeds[i].host, cl->seeds[i].port);
        if (!n || cl_add(cl, n) != 0) {
            if (n)
                skt_rcl_node_free(n);
            skt_rcl_log(cl, SOKETI_LOG_ERROR, "out of memory adding a seed node");
            return;
        }
        skt_rconn_start(n->conn);
    }
}

/* ---- liveness ----------------------------------------------------------------------- */

/* Cross-node delivery needs the subscriber and a node to publish on. */
int
skt_rcl_ready(void *self)
{
    skt_rcl_t *cl = self;
    if (!cl->map || !skt_rconn_usable(cl->sub))
        return 0;
    for (size_t i = 0; i < cl->n_nodes; i++)
        if (cl->nodes[i]->in_map && skt_rcl_usable(cl->nodes[i]))
            return 1;
    return 0;
}

/* Logs when cross-node delivery comes on; conn.c logs each loss itself. */
void
skt_rcl_check_live(skt_rcl_t *cl)
{
    int live = !cl->closing && skt_rcl_ready(cl);
    if (live && !cl->live)
        skt_rcl_log(cl, SOKETI_LOG_INFO,
                    "connected to the redis cluster (%zu nodes, subscriber on %s:%ld), channel %s: "
                    "cross-node delivery is on",
                    cl->map->n_nodes, skt_rconn_host(cl->sub), skt_rconn_port(cl->sub),
                    cl->chan[SKT_HZ_BROADCAST]);
    cl->live = live;
}

/* True while something is down: refresh the map more often. */
static int
cl_degraded(const skt_rcl_t *cl)
{
    if (!cl->map || skt_rconn_state(cl->sub) != SKT_RCONN_READY)
        return 1;
    for (size_t i = 0; i < cl->n_nodes; i++)
        if (cl->nodes[i]->in_map && skt_rconn_state(cl->nodes[i]->conn) != SKT_RCONN_READY)
            return 1;
    return 0;
}

/* ---- the subscriber's node ---------------------------------------------------------- */

/* Points the subscriber at another node of the map for its next attempt. */
void
skt_rcl_move_sub(skt_rcl_t *cl, int avoid_current)
{
    skt_rcl_node_t *n = cl_pick_sub_node(cl, avoid_current ? skt_rconn_host(cl->sub) : NULL,
                                         skt_rconn_port(cl->sub));
    if (n && skt_rconn_set_address(cl->sub, n->host, n->port) != 0)
        skt_rcl_log(cl, SOKETI_LOG_ERROR, "out of memory moving the subscriber");
}

/* ---- the slot map ------------------------------------------------------------------- */

/* Fires the refresh timer in ms unless it is due sooner already. */
static void
cl_tick_in(skt_rcl_t *cl, uint64_t ms)
{
    uint64_t at = skt_hz_now_ms() + ms;
    if (evtimer_pending(cl->tick, NULL) && cl->tick_at <= at)
        return;
    cl->tick_at = at;
    arm_ms(cl->tick, ms);
}

/* Arms the refresh timer for the next periodic refresh. */
void
skt_rcl_arm(skt_rcl_t *cl)
{
    uint64_t next = cl_degraded(cl) ? CL_REFRESH_DEGRADED_MS : CL_REFRESH_MS;
    if (cl->refreshing) {
        uint64_t elapsed = skt_hz_now_ms() - cl->refresh_sent_ms;
        uint64_t left = elapsed >= CL_SLOTS_TIMEOUT_MS ? 0 : CL_SLOTS_TIMEOUT_MS - elapsed;
        if (left < next)
            next = left;
    }
    cl_tick_in(cl, next);
}

/* Asks for a refresh soon (at most one per CL_REFRESH_MIN_GAP_MS). */
void
skt_rcl_kick(skt_rcl_t *cl)
{
    if (cl->closing)
        return;
    if (cl->refreshing) {
        cl->refresh_again = 1;
        return;
    }
    uint64_t since = skt_hz_now_ms() - cl->refresh_sent_ms;
    cl_tick_in(cl, since >= CL_REFRESH_MIN_GAP_MS ? 0 : CL_REFRESH_MIN_GAP_MS - since);
}

/* A CLUSTER SLOTS reply: parsed here, applied from the apply timer (see DESIGN). */
static void
cl_on_slots(redisAsyncContext *ac, void *reply, void *priv)
{
    cl_slots_t *q = priv;
    skt_rcl_t *cl = q->cl;
    redisReply *rep = reply;
    (void)ac;
    if (q->abandoned || cl->closing)
        goto out;
    cl->refreshing = NULL;
    const char *why = NULL;
    skt_rcs_map_t *map = NULL;
    if (!rep)
        why = "the connection went away"; /* logged as such already */
    else if (rep->type == REDIS_REPLY_ERROR)
        why = rep->str;
    else
        map = skt_rcs_map_parse(rep, q->asked_host, &why);
    if (map) {
        skt_rcs_map_free(cl->next_map);
        cl->next_map = map;
        arm_ms(cl->apply, 0);
    } else {
        /* at start the cluster may still be forming: a warning once, then debug lines */
        skt_rcl_log(cl, cl->map_warned || !rep ? SOKETI_LOG_DEBUG : SOKETI_LOG_WARN,
                    "cannot read the cluster's slot map from %s:%d: %s (retrying)", q->asked_host,
                    q->asked_port, why);
        cl->map_warned |= rep != NULL;
        cl->refresh_again = 1;
    }
    if (cl->refresh_again) {
        cl->refresh_again = 0;
        skt_rcl_kick(cl);
    }
out:
    free(q->asked_host);
    free(q);
}

/* Sends CLUSTER SLOTS to a live node (any: a seed too). */
static void
cl_refresh(skt_rcl_t *cl)
{
    skt_rcl_node_t *n = skt_rcl_pick_usable(cl, 0);
    if (!n) {
        skt_rcl_ensure_seeds(cl);
        return;
    }
    cl_slots_t *q = calloc(1, sizeof(*q));
    if (!q || !(q->asked_host = strdup(n->host))) {
        free(q);
        skt_rcl_log(cl, SOKETI_LOG_ERROR, "out of memory refreshing the slot map");
        return;
    }
    q->cl = cl;
    q->asked_port = n->port;
    const char *argv[] = {"CLUSTER", "SLOTS"};
    size_t lens[] = {7, 5};
    if (skt_rconn_command_argv(n->conn, cl_on_slots, q, 2, argv, lens) != 0) {
        free(q->asked_host);
        free(q);
        return;
    }
    cl->refreshing = q;
    cl->refresh_again = 0;
    cl->refresh_sent_ms = skt_hz_now_ms();
}

/* The refresh timer: gives up a CLUSTER SLOTS that takes too long, sends the next. */
static void
cl_on_tick(evutil_socket_t fd, short what, void *arg)
{
    skt_rcl_t *cl = arg;
    (void)fd;
    (void)what;
    if (cl->refreshing && skt_hz_now_ms() - cl->refresh_sent_ms >= CL_SLOTS_TIMEOUT_MS) {
        skt_rcl_log(cl, SOKETI_LOG_DEBUG, "CLUSTER SLOTS at %s:%d timed out; asking another node",
                    cl->refreshing->asked_host, cl->refreshing->asked_port);
        cl->refreshing->abandoned = 1; /* freed by its callback, which always comes */
        cl->refreshing = NULL;
    }
    if (!cl->refreshing)
        cl_refresh(cl);
    skt_rcl_arm(cl);
}

/* Makes the parsed map current: nodes it lists get connections, nodes it no longer lists
 * lose theirs, and the subscriber follows. */
static void
cl_on_apply(evutil_socket_t fd, short what, void *arg)
{
    skt_rcl_t *cl = arg;
    skt_rcs_map_t *map = cl->next_map;
    (void)fd;
    (void)what;
    cl->next_map = NULL;
    if (!map || cl->closing) {
        skt_rcs_map_free(map);
        return;
    }
    int changed = !cl->map || cl->map->n_nodes != map->n_nodes;

    /* 1. the new node list: mark (and create) what the map lists */
    for (size_t i = 0; i < cl->n_nodes; i++)
        cl->nodes[i]->mark = 0;
    for (size_t i = 0; i < map->n_nodes; i++) {
        const skt_rcs_node_t *mn = &map->nodes[i];
        skt_rcl_node_t *n = skt_rcl_find(cl, mn->host, mn->port);
        if (!n) {
            changed = 1;
            if (!(n = cl_node_new(cl, mn->host, mn->port)) || cl_add(cl, n) != 0) {
                if (n)
                    skt_rcl_node_free(n);
                skt_rcl_log(cl, SOKETI_LOG_ERROR, "out of memory adding node %s:%d", mn->host,
                            mn->port);
                continue;
            }
            n->fresh = 1;
        }
        n->mark = 1;
    }
    /* 2. unlisted nodes leave the list now and are freed at the end */
    skt_rcl_node_t **gone = NULL;
    size_t n_gone = 0, kept = 0;
    if (cl->n_nodes && !(gone = calloc(cl->n_nodes, sizeof(*gone)))) {
        skt_rcl_log(cl, SOKETI_LOG_ERROR, "out of memory applying the slot map");
        skt_rcs_map_free(map);
        return;
    }
    for (size_t i = 0; i < cl->n_nodes; i++) {
        skt_rcl_node_t *n = cl->nodes[i];
        n->in_map = n->mark;
        if (n->mark)
            cl->nodes[kept++] = n;
        else
            gone[n_gone++] = n;
    }
    cl->n_nodes = kept;
    changed |= n_gone > 0;
    for (int i = 0; i < 3; i++) {
        const skt_rcs_node_t *owner = skt_rcs_map_owner(map, cl->chan_slot[i]);
        cl->chan_owner[i] = owner ? skt_rcl_find(cl, owner->host, owner->port) : NULL;
    }
    skt_rcs_map_t *old = cl->map;
    cl->map = map;
    cl->map_warned = 0;
    for (size_t i = 0; i < cl->n_nodes; i++) {
        /* the others are connected, or retrying at their own pace */
        if (cl->nodes[i]->fresh)
            skt_rconn_start(cl->nodes[i]->conn);
        cl->nodes[i]->fresh = 0;
    }

    /* 3. the subscriber: on a node of the map */
    if (!cl->sub_started) {
        skt_rcl_move_sub(cl, 0);
        cl->sub_started = 1;
        skt_rconn_start(cl->sub);
    } else if (!skt_rcl_find(cl, skt_rconn_host(cl->sub), (int)skt_rconn_port(cl->sub))) {
        if (skt_rconn_state(cl->sub) == SKT_RCONN_IDLE)
            skt_rcl_move_sub(cl, 1);
        else
            skt_rconn_drop(cl->sub, "its node left the cluster's slot map"); /* moves it */
    }
    if (changed) {
        size_t masters = 0;
        for (size_t i = 0; i < map->n_nodes; i++)
            masters += (size_t)map->nodes[i].master;
        const skt_rcl_node_t *o = cl->chan_owner[SKT_HZ_BROADCAST];
        skt_rcl_log(cl, SOKETI_LOG_INFO,
                    "cluster map: %zu nodes (%zu masters) serve %zu of %d slots; channel %s is "
                    "published on %s:%d",
                    map->n_nodes, masters, map->covered, SKT_RCS_SLOTS, cl->chan[SKT_HZ_BROADCAST],
                    o ? o->host : "any node", o ? o->port : 0);
    }

    /* 4. free what left, now that the list is consistent (their pending callbacks run) */
    for (size_t i = 0; i < n_gone; i++)
        skt_rcl_node_free(gone[i]);
    free(gone);
    skt_rcs_map_free(old);
    if (!old)
        skt_rs_connected(cl->store); /* what was held before any map was known */
    skt_rcl_check_live(cl);
    skt_rcl_arm(cl);
}

/* The timers are the adapter's, freed at cleanup, never from their own callbacks. */
int
skt_rcl_timers_new(skt_rcl_t *cl)
{
    if (!(cl->tick = evtimer_new(cl->host->base, cl_on_tick, cl)) ||
        !(cl->apply = evtimer_new(cl->host->base, cl_on_apply, cl)))
        return -1;
    return 0;
}
