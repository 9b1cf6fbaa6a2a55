/* adapter_redis_cluster.c - the redis-cluster adapter (adapter_redis_cluster.so): soketi's
 * Redis adapter protocol (horizontal.c, codec.c) over a Redis Cluster, as soketi 1.6 does
 * with adapter.redis.clusterMode and its ioredis Cluster clients.
 *
 * hiredis 0.14 (Debian 12) has no cluster client, so this file routes by itself:
 *   - nodes: a connection (conn.c) to every node of the cluster, masters and replicas,
 *     as the slot map lists them; database.redis.clusterNodes only seeds the first map.
 *   - the slot map (cluster_slots.c) comes from CLUSTER SLOTS, asked of a live node every
 *     CL_REFRESH_MS (ioredis's slotsRefreshInterval), every CL_REFRESH_DEGRADED_MS while
 *     a node or the subscriber is down, and at once on a lost connection or a MOVED.
 *   - publishing: in a Redis Cluster a PUBLISH on any node reaches the subscribers of every
 *     node (the cluster bus carries it), which is what soketi's ioredis clients rely on.
 *     Each channel is published on the master of its key slot, or on any live node when
 *     that one is down, so publishing never waits for a failover. A MOVED or ASK reply is
 *     followed (at most CL_MAX_REDIRECTS times) and a MOVED refreshes the map; a plain
 *     PUBLISH never gets one from Redis 7, the code is there for a proxy or a future
 *     Redis that routes it.
 *   - subscribing: one subscriber connection on one node of the map (spread by node id),
 *     moved to another node when it is lost or its node leaves the map.
 *   - how many nodes answer a query: PUBSUB NUMSUB is local to a node in Redis Cluster,
 *     and every soketi node subscribes on a node of its own choosing, so the count is the
 *     sum of NUMSUB over every node of the map, as soketi's getNumSub does over
 *     pubClient.nodes(). A node that cannot be asked counts 0.
 *
 * DESIGN
 * Owner callbacks of conn.c run inside hiredis callbacks, where no connection may be
 * freed: they only set state and arm the `tick` (refresh) timer. A CLUSTER SLOTS reply is
 * parsed in its callback and applied from the `apply` timer, at the loop's top level.
 * Applying a map first rebuilds the node list, then frees the nodes that left it: freeing
 * a connection runs its pending callbacks (NULL replies) synchronously, and those may
 * start new queries, which must find a consistent node list. Every pending command
 * carries its own small state (privdata), freed by its callback, never a node pointer.
 */
#include <soketi/adapter.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <hiredis/sds.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_slots.h"
#include "conn.h"
#include "horizontal.h"

#define CL_NAME "redis-cluster adapter"
/* Topology refresh when all is well (ioredis's slotsRefreshInterval). */
#define CL_REFRESH_MS 5000
/* ... while a node of the map or the subscriber is down, or no map is known yet. */
#define CL_REFRESH_DEGRADED_MS 1000
/* At least this long between two refreshes that events ask for. */
#define CL_REFRESH_MIN_GAP_MS 200
/* A CLUSTER SLOTS without an answer after this long is given up: ask another node. */
#define CL_SLOTS_TIMEOUT_MS 2000
/* Redirections one PUBLISH follows at most. */
#define CL_MAX_REDIRECTS 5

struct cluster_s;

/* One node of the cluster and its command connection. */
typedef struct cl_node_s {
    struct cluster_s *cl;
    char *host;
    int port;
    skt_rconn_t *conn;
    int in_map; /* listed by the current slot map (else a seed, until the first map) */
    int mark;   /* applying a map: listed by the new one */
    int fresh;  /* applying a map: created for it, to be started */
} cl_node_t;

/* A CLUSTER SLOTS in flight. */
typedef struct cl_slots_s {
    struct cluster_s *cl;
    int abandoned; /* timed out: the reply, when it comes, is ignored */
    char *asked_host;
    int asked_port;
} cl_slots_t;

typedef struct cluster_s {
    const soketi_host_t *host;
    skt_hz_t *hz;
    skt_rconn_endpoint_t auth; /* username and password every connection logs in with */
    skt_rcs_addr_t *seeds;
    size_t n_seeds;
    cl_node_t **nodes;
    size_t n_nodes, cap_nodes;
    skt_rcs_map_t *map;       /* the current slot map, NULL until the first */
    skt_rcs_map_t *next_map;  /* parsed, waiting for the apply timer */
    cl_node_t *chan_owner[3]; /* master of each channel's slot, NULL: none known */
    unsigned chan_slot[3];
    char *chan[3]; /* by enum skt_hz_channel */
    size_t chan_len[3];
    skt_rconn_t *sub;
    int sub_started;
    cl_slots_t *refreshing;
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
} cluster_t;

/* Logs through the host with the adapter's name in front. */
#define cl_log(cl, level, fmt, ...) (cl)->host->log((level), CL_NAME ": " fmt, ##__VA_ARGS__)

static void
arm_ms(struct event *ev, uint64_t ms)
{
    struct timeval tv = {.tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000};
    evtimer_add(ev, &tv);
}

/* ---- nodes -------------------------------------------------------------------------- */

static cl_node_t *
cl_find(const cluster_t *cl, const char *host, int port)
{
    for (size_t i = 0; i < cl->n_nodes; i++)
        if (cl->nodes[i]->port == port && strcmp(cl->nodes[i]->host, host) == 0)
            return cl->nodes[i];
    return NULL;
}

static int
cl_usable(const cl_node_t *n)
{
    return n && skt_rconn_usable(n->conn);
}

/* A usable node, in round robin; in_map_only: one of the slot map. NULL when none is. */
static cl_node_t *
cl_pick_usable(cluster_t *cl, int in_map_only)
{
    for (size_t k = 0; k < cl->n_nodes; k++) {
        cl_node_t *n = cl->nodes[(cl->rr + k) % cl->n_nodes];
        if (cl_usable(n) && (n->in_map || !in_map_only)) {
            cl->rr = (unsigned)((cl->rr + k + 1) % cl->n_nodes);
            return n;
        }
    }
    return NULL;
}

/* Where the subscriber should go: a node of the map other than host:port (NULL: any)
 * whose command connection is not failing, starting from this daemon's own place so
 * that the daemons of a cluster spread over its nodes. NULL when the map is empty. */
static cl_node_t *
cl_pick_sub_node(const cluster_t *cl, const char *avoid_host, long avoid_port)
{
    cl_node_t *fallback = NULL, *other = NULL;
    for (size_t k = 0; k < cl->n_nodes; k++) {
        cl_node_t *n = cl->nodes[(cl->sub_seed + k) % cl->n_nodes];
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

static void cl_kick(cluster_t *cl);
static void cl_check_live(cluster_t *cl);

static void
cl_on_node_ready(void *owner, skt_rconn_t *c)
{
    cl_node_t *n = owner;
    (void)c;
    if (!n->cl->map)
        cl_kick(n->cl); /* the first node up tells us the cluster */
    cl_check_live(n->cl);
}

static void
cl_on_node_lost(void *owner, skt_rconn_t *c, int was_ready)
{
    cl_node_t *n = owner;
    (void)c;
    if (was_ready)
        cl_kick(n->cl); /* a failover may be under way: see what the cluster says */
    cl_check_live(n->cl);
}

/* A node (not yet in the list) with its connection, not started. NULL when out of memory. */
static cl_node_t *
cl_node_new(cluster_t *cl, const char *host, int port)
{
    cl_node_t *n = calloc(1, sizeof(*n));
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
        .log_name = CL_NAME,
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

static void
cl_node_free(cl_node_t *n)
{
    skt_rconn_free(n->conn);
    free(n->host);
    free(n);
}

/* Appends n to the node list. Returns 0, or -1 when out of memory (n is not added). */
static int
cl_add(cluster_t *cl, cl_node_t *n)
{
    if (cl->n_nodes == cl->cap_nodes) {
        size_t ncap = cl->cap_nodes ? cl->cap_nodes * 2 : 8;
        cl_node_t **grown = realloc(cl->nodes, ncap * sizeof(*grown));
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
static void
cl_ensure_seeds(cluster_t *cl)
{
    for (size_t i = 0; i < cl->n_seeds; i++) {
        if (cl_find(cl, cl->seeds[i].host, cl->seeds[i].port))
            continue;
        cl_node_t *n = cl_node_new(cl, cl->seeds[i].host, cl->seeds[i].port);
        if (!n || cl_add(cl, n) != 0) {
            if (n)
                cl_node_free(n);
            cl_log(cl, SOKETI_LOG_ERROR, "out of memory adding a seed node");
            return;
        }
        skt_rconn_start(n->conn);
    }
}

/* ---- liveness ----------------------------------------------------------------------- */

static int
cl_tr_ready(void *self)
{
    cluster_t *cl = self;
    if (!cl->map || !skt_rconn_usable(cl->sub))
        return 0;
    for (size_t i = 0; i < cl->n_nodes; i++)
        if (cl->nodes[i]->in_map && cl_usable(cl->nodes[i]))
            return 1;
    return 0;
}

/* Logs when cross-node delivery comes on; conn.c logs each loss itself. */
static void
cl_check_live(cluster_t *cl)
{
    int live = !cl->closing && cl_tr_ready(cl);
    if (live && !cl->live)
        cl_log(cl, SOKETI_LOG_INFO,
               "connected to the redis cluster (%zu nodes, subscriber on %s:%ld), channel %s: "
               "cross-node delivery is on",
               cl->map->n_nodes, skt_rconn_host(cl->sub), skt_rconn_port(cl->sub),
               cl->chan[SKT_HZ_BROADCAST]);
    cl->live = live;
}

/* True while something is down: refresh the map more often. */
static int
cl_degraded(const cluster_t *cl)
{
    if (!cl->map || skt_rconn_state(cl->sub) != SKT_RCONN_READY)
        return 1;
    for (size_t i = 0; i < cl->n_nodes; i++)
        if (cl->nodes[i]->in_map && skt_rconn_state(cl->nodes[i]->conn) != SKT_RCONN_READY)
            return 1;
    return 0;
}

/* ---- the subscriber ----------------------------------------------------------------- */

/* Points the subscriber at another node of the map for its next attempt. */
static void
cl_move_sub(cluster_t *cl, int avoid_current)
{
    cl_node_t *n = cl_pick_sub_node(cl, avoid_current ? skt_rconn_host(cl->sub) : NULL,
                                    skt_rconn_port(cl->sub));
    if (n && skt_rconn_set_address(cl->sub, n->host, n->port) != 0)
        cl_log(cl, SOKETI_LOG_ERROR, "out of memory moving the subscriber");
}

static void
cl_on_sub_ready(void *owner, skt_rconn_t *c)
{
    (void)c;
    cl_check_live(owner);
}

/* The subscriber is gone or could not connect: pending queries answer now (they can no
 * longer hear answers), and the next attempt goes to another node. */
static void
cl_on_sub_lost(void *owner, skt_rconn_t *c, int was_ready)
{
    cluster_t *cl = owner;
    (void)c;
    if (was_ready)
        skt_hz_transport_down(cl->hz);
    cl_move_sub(cl, 1);
    cl_kick(cl);
    cl_check_live(cl);
}

static void
cl_on_sub_message(void *owner, int channel, const char *data, size_t len)
{
    cluster_t *cl = owner;
    skt_hz_on_message(cl->hz, channel, data, len);
}

/* ---- the slot map ------------------------------------------------------------------- */

/* Fires the refresh timer in ms unless it is due sooner already. */
static void
cl_tick_in(cluster_t *cl, uint64_t ms)
{
    uint64_t at = skt_hz_now_ms() + ms;
    if (evtimer_pending(cl->tick, NULL) && cl->tick_at <= at)
        return;
    cl->tick_at = at;
    arm_ms(cl->tick, ms);
}

/* Arms the refresh timer for the next periodic refresh. */
static void
cl_arm(cluster_t *cl)
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
static void
cl_kick(cluster_t *cl)
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

static void
cl_on_slots(redisAsyncContext *ac, void *reply, void *priv)
{
    cl_slots_t *q = priv;
    cluster_t *cl = q->cl;
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
        cl_log(cl, cl->map_warned || !rep ? SOKETI_LOG_DEBUG : SOKETI_LOG_WARN,
               "cannot read the cluster's slot map from %s:%d: %s (retrying)", q->asked_host,
               q->asked_port, why);
        cl->map_warned |= rep != NULL;
        cl->refresh_again = 1;
    }
    if (cl->refresh_again) {
        cl->refresh_again = 0;
        cl_kick(cl);
    }
out:
    free(q->asked_host);
    free(q);
}

/* Sends CLUSTER SLOTS to a live node (any: a seed too). */
static void
cl_refresh(cluster_t *cl)
{
    cl_node_t *n = cl_pick_usable(cl, 0);
    if (!n) {
        cl_ensure_seeds(cl);
        return;
    }
    cl_slots_t *q = calloc(1, sizeof(*q));
    if (!q || !(q->asked_host = strdup(n->host))) {
        free(q);
        cl_log(cl, SOKETI_LOG_ERROR, "out of memory refreshing the slot map");
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

static void
cl_on_tick(evutil_socket_t fd, short what, void *arg)
{
    cluster_t *cl = arg;
    (void)fd;
    (void)what;
    if (cl->refreshing && skt_hz_now_ms() - cl->refresh_sent_ms >= CL_SLOTS_TIMEOUT_MS) {
        cl_log(cl, SOKETI_LOG_DEBUG, "CLUSTER SLOTS at %s:%d timed out; asking another node",
               cl->refreshing->asked_host, cl->refreshing->asked_port);
        cl->refreshing->abandoned = 1; /* freed by its callback, which always comes */
        cl->refreshing = NULL;
    }
    if (!cl->refreshing)
        cl_refresh(cl);
    cl_arm(cl);
}

/* Makes the parsed map current: nodes it lists get connections, nodes it no longer lists
 * lose theirs, and the subscriber follows. */
static void
cl_on_apply(evutil_socket_t fd, short what, void *arg)
{
    cluster_t *cl = arg;
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
        cl_node_t *n = cl_find(cl, mn->host, mn->port);
        if (!n) {
            changed = 1;
            if (!(n = cl_node_new(cl, mn->host, mn->port)) || cl_add(cl, n) != 0) {
                if (n)
                    cl_node_free(n);
                cl_log(cl, SOKETI_LOG_ERROR, "out of memory adding node %s:%d", mn->host, mn->port);
                continue;
            }
            n->fresh = 1;
        }
        n->mark = 1;
    }
    /* 2. unlisted nodes leave the list now and are freed at the end */
    cl_node_t **gone = NULL;
    size_t n_gone = 0, kept = 0;
    if (cl->n_nodes && !(gone = calloc(cl->n_nodes, sizeof(*gone)))) {
        cl_log(cl, SOKETI_LOG_ERROR, "out of memory applying the slot map");
        skt_rcs_map_free(map);
        return;
    }
    for (size_t i = 0; i < cl->n_nodes; i++) {
        cl_node_t *n = cl->nodes[i];
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
        cl->chan_owner[i] = owner ? cl_find(cl, owner->host, owner->port) : NULL;
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
        cl_move_sub(cl, 0);
        cl->sub_started = 1;
        skt_rconn_start(cl->sub);
    } else if (!cl_find(cl, skt_rconn_host(cl->sub), (int)skt_rconn_port(cl->sub))) {
        if (skt_rconn_state(cl->sub) == SKT_RCONN_IDLE)
            cl_move_sub(cl, 1);
        else
            skt_rconn_drop(cl->sub, "its node left the cluster's slot map"); /* moves it */
    }
    if (changed) {
        size_t masters = 0;
        for (size_t i = 0; i < map->n_nodes; i++)
            masters += (size_t)map->nodes[i].master;
        const cl_node_t *o = cl->chan_owner[SKT_HZ_BROADCAST];
        cl_log(cl, SOKETI_LOG_INFO,
               "cluster map: %zu nodes (%zu masters) serve %zu of %d slots; channel %s is "
               "published on %s:%d",
               map->n_nodes, masters, map->covered, SKT_RCS_SLOTS, cl->chan[SKT_HZ_BROADCAST],
               o ? o->host : "any node", o ? o->port : 0);
    }

    /* 4. free what left, now that the list is consistent (their pending callbacks run) */
    for (size_t i = 0; i < n_gone; i++)
        cl_node_free(gone[i]);
    free(gone);
    skt_rcs_map_free(old);
    cl_check_live(cl);
    cl_arm(cl);
}

/* ---- publishing --------------------------------------------------------------------- */

/* A PUBLISH in flight, kept formatted until its reply in case it has to be redirected. */
typedef struct cl_pub_s {
    cluster_t *cl;
    sds cmd;
    int hops;
} cl_pub_t;

static void
cl_pub_free(cl_pub_t *p)
{
    sdsfree(p->cmd);
    free(p);
}

static void
cl_on_publish(redisAsyncContext *ac, void *reply, void *priv)
{
    cl_pub_t *p = priv;
    cluster_t *cl = p->cl;
    redisReply *rep = reply;
    if (!rep || rep->type != REDIS_REPLY_ERROR || cl->closing) {
        cl_pub_free(p); /* delivered, or the connection went away with it */
        return;
    }
    skt_rcs_redirect_t rd;
    if (skt_rcs_parse_redirect(rep->str, rep->len, ac->c.tcp.host, &rd) != 0) {
        cl_log(cl, SOKETI_LOG_WARN, "redis at %s:%d refused a PUBLISH: %s", ac->c.tcp.host,
               ac->c.tcp.port, rep->str);
        cl_pub_free(p);
        return;
    }
    if (rd.kind == SKT_RCS_MOVED)
        cl_kick(cl);
    cl_node_t *to = cl_find(cl, rd.host, rd.port);
    if (cl_usable(to) && p->hops < CL_MAX_REDIRECTS) {
        p->hops++;
        if (rd.kind == SKT_RCS_ASK) {
            const char *argv[] = {"ASKING"};
            size_t lens[] = {6};
            skt_rconn_command_argv(to->conn, NULL, NULL, 1, argv, lens);
        }
        if (skt_rconn_command_formatted(to->conn, cl_on_publish, p, p->cmd, sdslen(p->cmd)) == 0)
            return;
    }
    cl_log(cl, SOKETI_LOG_DEBUG, "dropped a PUBLISH redirected to %s:%d (%s)", rd.host, rd.port,
           to ? "too many redirections or not connected" : "unknown node");
    cl_pub_free(p);
}

static int
cl_tr_publish(void *self, int channel, const char *data, size_t len)
{
    cluster_t *cl = self;
    cl_node_t *n = cl->chan_owner[channel];
    if (!cl_usable(n))
        n = cl_pick_usable(cl, 1); /* any node will do: a PUBLISH is cluster-wide */
    if (!n || skt_rconn_congested(n->conn))
        return -1;
    cl_pub_t *p = calloc(1, sizeof(*p));
    const char *argv[] = {"PUBLISH", cl->chan[channel], data};
    size_t lens[] = {7, cl->chan_len[channel], len};
    if (!p || redisFormatSdsCommandArgv(&p->cmd, 3, argv, lens) < 0) {
        free(p);
        return -1;
    }
    p->cl = cl;
    if (skt_rconn_command_formatted(n->conn, cl_on_publish, p, p->cmd, sdslen(p->cmd)) != 0) {
        cl_pub_free(p);
        return -1;
    }
    return 0;
}

/* ---- counting subscribers ----------------------------------------------------------- */

/* One skt_hz numsub question, asked of every node. */
typedef struct cl_numsub_s {
    skt_hz_req_t *req;
    int waiting;  /* replies still to come */
    int answered; /* replies that carried a count */
    long sum;
} cl_numsub_t;

static void
cl_on_numsub(redisAsyncContext *ac, void *reply, void *priv)
{
    cl_numsub_t *q = priv;
    redisReply *rep = reply;
    (void)ac;
    /* [channel, count] */
    if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements >= 2 &&
        rep->element[1]->type == REDIS_REPLY_INTEGER) {
        q->sum += (long)rep->element[1]->integer;
        q->answered++;
    }
    if (--q->waiting == 0) {
        skt_hz_numsub_done(q->req, q->answered ? q->sum : -1);
        free(q);
    }
}

static int
cl_tr_numsub(void *self, skt_hz_req_t *req)
{
    cluster_t *cl = self;
    cl_numsub_t *q = calloc(1, sizeof(*q));
    if (!q)
        return -1;
    q->req = req;
    const char *argv[] = {"PUBSUB", "NUMSUB", cl->chan[SKT_HZ_REQUEST]};
    size_t lens[] = {6, 6, cl->chan_len[SKT_HZ_REQUEST]};
    for (size_t i = 0; i < cl->n_nodes; i++) {
        cl_node_t *n = cl->nodes[i];
        if (n->in_map && skt_rconn_command_argv(n->conn, cl_on_numsub, q, 3, argv, lens) == 0)
            q->waiting++; /* replies never come before this returns */
    }
    if (q->waiting == 0) {
        free(q);
        return -1;
    }
    return 0;
}

/* ---- configuration ------------------------------------------------------------------ */

static const char *
cfg(const cluster_t *cl, const char *name)
{
    return skt_rconn_cfg(cl->host, name);
}

/* 1 when an option holds an object or array with something in it. */
static int
cfg_set(const cluster_t *cl, const char *name)
{
    const char *v = cfg(cl, name);
    return *v && strcmp(v, "null") != 0 && strcmp(v, "{}") != 0 && strcmp(v, "[]") != 0;
}

/* Reads the seeds and the credentials. Returns 0, or -1 with the reason logged. */
static int
cl_read_config(cluster_t *cl)
{
    char err[256];
    if (skt_rcs_parse_seeds(cfg(cl, "database.redis.clusterNodes"), &cl->seeds, &cl->n_seeds, err,
                            sizeof(err)) != 0) {
        cl_log(cl, SOKETI_LOG_ERROR, "database.redis.%s", err);
        return -1;
    }
    if (skt_rconn_endpoint_from_config(cl->host, CL_NAME, &cl->auth) != 0)
        return -1;
    if (cl->n_seeds == 0) {
        /* ioredis refuses an empty list; database.redis.host:port is a friendlier default */
        if (!cl->auth.host || cl->auth.port < 1 || cl->auth.port > 65535 ||
            !(cl->seeds = calloc(1, sizeof(*cl->seeds))) ||
            !(cl->seeds[0].host = strdup(cl->auth.host))) {
            cl_log(cl, SOKETI_LOG_ERROR,
                   "database.redis.clusterNodes is empty and database.redis.host/port are "
                   "not usable: give at least one node of the cluster");
            return -1;
        }
        cl->seeds[0].port = (int)cl->auth.port;
        cl->n_seeds = 1;
        cl_log(cl, SOKETI_LOG_INFO,
               "database.redis.clusterNodes is empty: using database.redis.host and port "
               "(%s:%ld) as the seed node",
               cl->auth.host, cl->auth.port);
    }
    if (cl->auth.username && !cl->auth.password) {
        cl_log(cl, SOKETI_LOG_ERROR,
               "database.redis.username is set without database.redis.password");
        return -1;
    }
    if (cl->auth.db != 0)
        cl_log(cl, SOKETI_LOG_WARN,
               "database.redis.db is %ld, but a Redis Cluster has only database 0 (pub/sub "
               "does not use it anyway): ignored",
               cl->auth.db);
    cl->auth.db = 0;
    if (cfg_set(cl, "adapter.redis.redisPubOptions") ||
        cfg_set(cl, "adapter.redis.redisSubOptions"))
        cl_log(cl, SOKETI_LOG_WARN,
               "adapter.redis.redisPubOptions/redisSubOptions are ioredis Cluster options "
               "soketi-c does not use in cluster mode; ignored (set database.redis.username "
               "and password for every node)");
    if (cfg_set(cl, "database.redis.sentinels"))
        cl_log(cl, SOKETI_LOG_WARN, "database.redis.sentinels is ignored in cluster mode");
    return 0;
}

/* ---- plugin entry points ------------------------------------------------------------ */

int
soketi_adapter_version(int count, const int *supported)
{
    return skt_hz_abi_version(count, supported);
}

static void
cl_free(cluster_t *cl)
{
    cl->closing = 1;
    if (cl->hz)
        skt_hz_shutdown(cl->hz);
    if (cl->tick)
        event_free(cl->tick);
    if (cl->apply)
        event_free(cl->apply);
    /* pending callbacks (NULL replies) run while the connections are freed: NUMSUB ones
     * still report to horizontal.c, the others only free their state */
    skt_rconn_free(cl->sub);
    for (size_t i = 0; i < cl->n_nodes; i++)
        cl_node_free(cl->nodes[i]);
    free(cl->nodes);
    skt_hz_free(cl->hz);
    skt_rcs_map_free(cl->map);
    skt_rcs_map_free(cl->next_map);
    skt_rcs_addrs_free(cl->seeds, cl->n_seeds);
    skt_rconn_endpoint_clear(&cl->auth);
    for (int i = 0; i < 3; i++)
        free(cl->chan[i]);
    free(cl);
}

int
soketi_adapter_init(const soketi_host_t *host, soketi_adapter_t *adapter)
{
    if (skt_hz_check_host(host, adapter, CL_NAME) != 0)
        return 1;
    cluster_t *cl = calloc(1, sizeof(*cl));
    if (!cl) {
        host->log(SOKETI_LOG_ERROR, CL_NAME ": out of memory");
        return 1;
    }
    cl->host = host;
    if (cl_read_config(cl) != 0)
        goto fail;
    if (skt_rconn_channels(host, cl->chan, cl->chan_len) != 0)
        goto oom;
    for (int i = 0; i < 3; i++)
        cl->chan_slot[i] = skt_rcs_key_slot(cl->chan[i], cl->chan_len[i]);
    cl->sub_seed = skt_rcs_crc16(host->node_id, strlen(host->node_id));

    skt_rconn_endpoint_t sub_ep = {.host = cl->seeds[0].host,
                                   .port = cl->seeds[0].port,
                                   .username = cl->auth.username,
                                   .password = cl->auth.password};
    skt_rconn_opts_t so = {
        .host = host,
        .log_name = CL_NAME,
        .role = "subscriber",
        .down_hint = "trying another node of the cluster",
        .lost_hint = "this node keeps serving its own clients and subscribes on another node of "
                     "the cluster",
        .channels = cl->chan,
        .channel_lens = cl->chan_len,
        .n_channels = 3,
        .owner = cl,
        .on_ready = cl_on_sub_ready,
        .on_lost = cl_on_sub_lost,
        .on_message = cl_on_sub_message,
    };
    if (!(cl->sub = skt_rconn_new(&so, &sub_ep)))
        goto oom;
    if (!(cl->tick = evtimer_new(host->base, cl_on_tick, cl)) ||
        !(cl->apply = evtimer_new(host->base, cl_on_apply, cl)))
        goto oom;
    long timeout = strtol(cfg(cl, "adapter.redis.requestsTimeout"), NULL, 10);
    skt_hz_transport_t tr = {
        .self = cl, .ready = cl_tr_ready, .publish = cl_tr_publish, .numsub = cl_tr_numsub};
    if (!(cl->hz = skt_hz_new(host, &tr, timeout, CL_NAME)))
        goto oom;

    adapter->self = cl->hz; /* the ops are horizontal.c's */
    adapter->ops_size = sizeof(adapter->ops);
    skt_hz_fill_ops(&adapter->ops);
    cl_log(cl, SOKETI_LOG_INFO,
           "redis cluster seeded by %s:%d%s, channel %s, requests time out after %ld ms",
           cl->seeds[0].host, cl->seeds[0].port, cl->n_seeds > 1 ? " and others" : "",
           cl->chan[SKT_HZ_BROADCAST], timeout);
    /* Connect to the seeds; the first to answer gives the slot map, and the subscriber
     * starts on a node of that map. Until then this node serves its own clients. */
    cl_ensure_seeds(cl);
    cl_arm(cl);
    return 0;

oom:
    host->log(SOKETI_LOG_ERROR, CL_NAME ": out of memory");
fail:
    cl_free(cl);
    return 1;
}

void
soketi_adapter_cleanup(soketi_adapter_t *adapter)
{
    if (adapter->self)
        cl_free(skt_hz_transport_self(adapter->self));
    adapter->self = NULL;
}
