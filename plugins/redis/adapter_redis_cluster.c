/* adapter_redis_cluster.c - the redis-cluster adapter (adapter_redis_cluster.so): soketi's
 * Redis adapter protocol (horizontal.c, codec.c) over a Redis Cluster, as soketi 1.6 does
 * with adapter.redis.clusterMode and its ioredis Cluster clients. This file is the
 * transport horizontal.c and store.c use; cluster_topology.c keeps the cluster's nodes
 * and slot map it sends through (cluster_internal.h is their shared state).
 *
 * hiredis 0.14 (Debian 12) has no cluster client, so the plugin routes by itself:
 *   - nodes: a connection (conn.c) to every node of the cluster, masters and replicas,
 *     as the slot map lists them; database.redis.clusterNodes only seeds the first map.
 *   - the slot map (cluster_slots.c) comes from CLUSTER SLOTS, refreshed every few
 *     seconds, more often while something is down, and at once on a lost connection or a
 *     MOVED (cluster_topology.c).
 *   - publishing: in a Redis Cluster a PUBLISH on any node reaches the subscribers of every
 *     node (the cluster bus carries it), which is what soketi's ioredis clients rely on.
 *     Each channel is published on the master of its key slot, or on any live node when
 *     that one is down, so publishing never waits for a failover. A MOVED or ASK reply is
 *     followed (at most CL_MAX_REDIRECTS times) and a MOVED refreshes the map; a plain
 *     PUBLISH never gets one from Redis 7, the code is there for a proxy or a future
 *     Redis that routes it.
 *   - keyed commands (store.c: occupancy, rate limits, cache) go to the master of the
 *     key's slot and nowhere else: no usable master known means an error for the store at
 *     once. They follow MOVED and ASK as a PUBLISH does (the same code). store.c never
 *     has two commands for one occupancy key in flight, so a redirected one cannot be
 *     overtaken; rate limit and cache commands need no order.
 *   - subscribing: one subscriber connection on one node of the map (spread by node id),
 *     moved to another node when it is lost or its node leaves the map.
 *   - how many nodes answer a query: PUBSUB NUMSUB is local to a node in Redis Cluster,
 *     and every soketi node subscribes on a node of its own choosing, so the count is the
 *     sum of NUMSUB over every node of the map, as soketi's getNumSub does over
 *     pubClient.nodes(). A node that cannot be asked counts 0.
 *
 * DESIGN
 * Owner callbacks of conn.c run inside hiredis callbacks, where no connection may be
 * freed: they only set state and arm the topology's timers (cluster_topology.c's DESIGN
 * says how a new map is applied). Every pending command carries its own small state
 * (privdata), freed by its callback, never a node pointer.
 */
#include "cluster_internal.h"

#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <hiredis/sds.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Redirections one command follows at most. */
#define CL_MAX_REDIRECTS 5

/* ---- the subscriber ----------------------------------------------------------------- */

/* The subscriber is up: cross-node delivery may be on. */
static void
cl_on_sub_ready(void *owner, skt_rconn_t *c)
{
    (void)c;
    skt_rcl_check_live(owner);
}

/* The subscriber is gone or could not connect: pending queries answer now (they can no
 * longer hear answers), and the next attempt goes to another node. */
static void
cl_on_sub_lost(void *owner, skt_rconn_t *c, int was_ready)
{
    skt_rcl_t *cl = owner;
    (void)c;
    if (was_ready)
        skt_hz_transport_down(cl->hz);
    skt_rcl_move_sub(cl, 1);
    skt_rcl_kick(cl);
    skt_rcl_check_live(cl);
}

static void
cl_on_sub_message(void *owner, int channel, const char *data, size_t len)
{
    skt_rcl_t *cl = owner;
    skt_hz_on_message(cl->hz, channel, data, len);
}

/* ---- commands: PUBLISH and keyed ones ------------------------------------------------ */

/* A command in flight, kept formatted until its reply in case it has to be redirected. */
typedef struct cl_cmd_s {
    skt_rcl_t *cl;
    sds cmd;
    int hops;
    redisCallbackFn *fn; /* gets the final reply (NULL: discarded) */
    void *priv;
} cl_cmd_t;

/* Hands the final reply (NULL: none) to the command's owner and frees it. */
static void
cl_cmd_done(cl_cmd_t *c, redisAsyncContext *ac, redisReply *rep)
{
    if (c->fn)
        c->fn(ac, rep, c->priv);
    sdsfree(c->cmd);
    free(c);
}

/* A reply: a MOVED or ASK is followed, at most CL_MAX_REDIRECTS times, on the same
 * command state (MOVED also refreshes the map; ASK sends ASKING first, on the same
 * connection); anything else, or a redirection that cannot be followed, is the answer. */
static void
cl_on_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    cl_cmd_t *c = priv;
    skt_rcl_t *cl = c->cl;
    redisReply *rep = reply;
    skt_rcs_redirect_t rd;
    if (!rep || rep->type != REDIS_REPLY_ERROR || cl->closing ||
        skt_rcs_parse_redirect(rep->str, rep->len, ac->c.tcp.host, &rd) != 0) {
        cl_cmd_done(c, ac, rep);
        return;
    }
    if (rd.kind == SKT_RCS_MOVED)
        skt_rcl_kick(cl);
    skt_rcl_node_t *to = skt_rcl_find(cl, rd.host, rd.port);
    if (skt_rcl_usable(to) && c->hops < CL_MAX_REDIRECTS) {
        c->hops++;
        if (rd.kind == SKT_RCS_ASK) {
            const char *argv[] = {"ASKING"};
            size_t lens[] = {6};
            skt_rconn_command_argv(to->conn, NULL, NULL, 1, argv, lens);
        }
        if (skt_rconn_command_formatted(to->conn, cl_on_reply, c, c->cmd, sdslen(c->cmd)) == 0)
            return;
    }
    skt_rcl_log(cl, SOKETI_LOG_DEBUG, "gave up a command redirected to %s:%d (%s)", rd.host,
                rd.port, !to ? "unknown node" : "too many redirections or not connected");
    cl_cmd_done(c, ac, rep);
}

/* Sends cmd (taken: freed in every case) on n. Returns 0, then fn(ac, reply, priv) is
 * called exactly once with the final reply, or -1 (never called). */
static int
cl_send(skt_rcl_t *cl, skt_rcl_node_t *n, sds cmd, redisCallbackFn *fn, void *priv)
{
    cl_cmd_t *c = calloc(1, sizeof(*c));
    if (!c) {
        sdsfree(cmd);
        return -1;
    }
    *c = (cl_cmd_t){.cl = cl, .cmd = cmd, .fn = fn, .priv = priv};
    if (skt_rconn_command_formatted(n->conn, cl_on_reply, c, cmd, sdslen(cmd)) != 0) {
        sdsfree(cmd);
        free(c);
        return -1;
    }
    return 0;
}

/* A PUBLISH's final reply: only a refusal is worth a line. */
static void
cl_on_published(redisAsyncContext *ac, void *reply, void *priv)
{
    redisReply *rep = reply;
    if (rep && rep->type == REDIS_REPLY_ERROR && !((skt_rcl_t *)priv)->closing)
        skt_rcl_log((skt_rcl_t *)priv, SOKETI_LOG_WARN, "redis at %s:%d refused a PUBLISH: %s",
                    ac->c.tcp.host, ac->c.tcp.port, rep->str);
}

static int
cl_tr_publish(void *self, int channel, const char *data, size_t len)
{
    skt_rcl_t *cl = self;
    skt_rcl_node_t *n = cl->chan_owner[channel];
    if (!skt_rcl_usable(n))
        n = skt_rcl_pick_usable(cl, 1); /* any node will do: a PUBLISH is cluster-wide */
    if (!n || skt_rconn_congested(n->conn))
        return -1;
    sds cmd = NULL;
    const char *argv[] = {"PUBLISH", cl->chan[channel], data};
    size_t lens[] = {7, cl->chan_len[channel], len};
    if (redisFormatSdsCommandArgv(&cmd, 3, argv, lens) < 0)
        return -1;
    return cl_send(cl, n, cmd, cl_on_published, cl);
}

/* The store's keyed commands go to the master of the key's slot, as the map says; Redis
 * redirects them when the map is behind. No usable master known: -1. */
static int
cl_tr_command(void *self, const char *key, size_t key_len, sds cmd, redisCallbackFn *fn, void *priv)
{
    skt_rcl_t *cl = self;
    const skt_rcs_node_t *o =
        cl->map ? skt_rcs_map_owner(cl->map, skt_rcs_key_slot(key, key_len)) : NULL;
    skt_rcl_node_t *n = o ? skt_rcl_find(cl, o->host, o->port) : NULL;
    if (!skt_rcl_usable(n)) {
        sdsfree(cmd);
        return -1;
    }
    return cl_send(cl, n, cmd, fn, priv);
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
    skt_rcl_t *cl = self;
    cl_numsub_t *q = calloc(1, sizeof(*q));
    if (!q)
        return -1;
    q->req = req;
    const char *argv[] = {"PUBSUB", "NUMSUB", cl->chan[SKT_HZ_REQUEST]};
    size_t lens[] = {6, 6, cl->chan_len[SKT_HZ_REQUEST]};
    for (size_t i = 0; i < cl->n_nodes; i++) {
        skt_rcl_node_t *n = cl->nodes[i];
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
cfg(const skt_rcl_t *cl, const char *name)
{
    return skt_rconn_cfg(cl->host, name);
}

/* 1 when an option holds an object or array with something in it. */
static int
cfg_set(const skt_rcl_t *cl, const char *name)
{
    const char *v = cfg(cl, name);
    return *v && strcmp(v, "null") != 0 && strcmp(v, "{}") != 0 && strcmp(v, "[]") != 0;
}

/* Reads the seeds and the credentials. Returns 0, or -1 with the reason logged. */
static int
cl_read_config(skt_rcl_t *cl)
{
    char err[256];
    if (skt_rcs_parse_seeds(cfg(cl, "database.redis.clusterNodes"), &cl->seeds, &cl->n_seeds, err,
                            sizeof(err)) != 0) {
        skt_rcl_log(cl, SOKETI_LOG_ERROR, "database.redis.%s", err);
        return -1;
    }
    if (skt_rconn_endpoint_from_config(cl->host, SKT_RCL_NAME, &cl->auth) != 0)
        return -1;
    if (cl->n_seeds == 0) {
        /* ioredis refuses an empty list; database.redis.host:port is a friendlier default */
        if (!cl->auth.host || cl->auth.port < 1 || cl->auth.port > 65535 ||
            !(cl->seeds = calloc(1, sizeof(*cl->seeds))) ||
            !(cl->seeds[0].host = strdup(cl->auth.host))) {
            skt_rcl_log(cl, SOKETI_LOG_ERROR,
                        "database.redis.clusterNodes is empty and database.redis.host/port are "
                        "not usable: give at least one node of the cluster");
            return -1;
        }
        cl->seeds[0].port = (int)cl->auth.port;
        cl->n_seeds = 1;
        skt_rcl_log(cl, SOKETI_LOG_INFO,
                    "database.redis.clusterNodes is empty: using database.redis.host and port "
                    "(%s:%ld) as the seed node",
                    cl->auth.host, cl->auth.port);
    }
    if (cl->auth.username && !cl->auth.password) {
        skt_rcl_log(cl, SOKETI_LOG_ERROR,
                    "database.redis.username is set without database.redis.password");
        return -1;
    }
    if (cl->auth.db != 0)
        skt_rcl_log(cl, SOKETI_LOG_WARN,
                    "database.redis.db is %ld, but a Redis Cluster has only database 0 (pub/sub "
                    "does not use it anyway): ignored",
                    cl->auth.db);
    cl->auth.db = 0;
    if (cfg_set(cl, "adapter.redis.redisPubOptions") ||
        cfg_set(cl, "adapter.redis.redisSubOptions"))
        skt_rcl_log(cl, SOKETI_LOG_WARN,
                    "adapter.redis.redisPubOptions/redisSubOptions are ioredis Cluster options "
                    "soketi-c does not use in cluster mode; ignored (set database.redis.username "
                    "and password for every node)");
    if (cfg_set(cl, "database.redis.sentinels"))
        skt_rcl_log(cl, SOKETI_LOG_WARN, "database.redis.sentinels is ignored in cluster mode");
    return 0;
}

/* ---- plugin entry points ------------------------------------------------------------ */

int
soketi_adapter_version(int count, const int *supported)
{
    return skt_hz_abi_version(count, supported);
}

static void
cl_free(skt_rcl_t *cl)
{
    cl->closing = 1;
    if (cl->hz)
        skt_hz_shutdown(cl->hz);
    if (cl->tick)
        event_free(cl->tick);
    if (cl->apply)
        event_free(cl->apply);
    /* the store's last leaves, best effort: written now, redirections not followed */
    skt_rs_shutdown(cl->store);
    for (size_t i = 0; i < cl->n_nodes; i++)
        skt_rconn_flush(cl->nodes[i]->conn);
    /* pending callbacks (NULL replies) run while the connections are freed: NUMSUB and
     * store ones still report to horizontal.c and store.c, the others only free their
     * state */
    skt_rconn_free(cl->sub);
    for (size_t i = 0; i < cl->n_nodes; i++)
        skt_rcl_node_free(cl->nodes[i]);
    free(cl->nodes);
    skt_rs_free(cl->store);
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
    if (skt_hz_check_host(host, adapter, SKT_RCL_NAME) != 0)
        return 1;
    skt_rcl_t *cl = calloc(1, sizeof(*cl));
    if (!cl) {
        host->log(SOKETI_LOG_ERROR, SKT_RCL_NAME ": out of memory");
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
        .log_name = SKT_RCL_NAME,
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
    if (skt_rcl_timers_new(cl) != 0)
        goto oom;
    long timeout = strtol(cfg(cl, "adapter.redis.requestsTimeout"), NULL, 10);
    skt_rs_transport_t rtr = {.self = cl, .command = cl_tr_command};
    if (!(cl->store = skt_rs_new(host, &rtr, cl->chan[SKT_HZ_BROADCAST], SKT_RCL_NAME)))
        goto oom;
    skt_hz_limits_t lim;
    skt_hz_limits_from_config(host, &lim);
    skt_hz_transport_t tr = {.self = cl,
                             .ready = skt_rcl_ready,
                             .publish = cl_tr_publish,
                             .numsub = cl_tr_numsub,
                             .store = cl->store};
    if (!(cl->hz = skt_hz_new(host, &tr, timeout, &lim, SKT_RCL_NAME)))
        goto oom;

    skt_rs_fill_adapter(adapter, cl->hz);
    skt_rcl_log(cl, SOKETI_LOG_INFO,
                "redis cluster seeded by %s:%d%s, channel %s, requests time out after %ld ms",
                cl->seeds[0].host, cl->seeds[0].port, cl->n_seeds > 1 ? " and others" : "",
                cl->chan[SKT_HZ_BROADCAST], timeout);
    /* Connect to the seeds; the first to answer gives the slot map, and the subscriber
     * starts on a node of that map. Until then this node serves its own clients. */
    skt_rcl_ensure_seeds(cl);
    skt_rcl_arm(cl);
    return 0;

oom:
    host->log(SOKETI_LOG_ERROR, SKT_RCL_NAME ": out of memory");
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
