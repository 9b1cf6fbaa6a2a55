/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 the soketi-c authors (LICENSE). */
/* soketi/adapter.h - the public plugin ABI of soketi-c adapters.
 *
 * An adapter plugin is a shared object (adapter_<driver>.so) that the daemon
 * loads from its plugin directory when `adapter.driver` (SOKETI_ADAPTER_DRIVER)
 * names it. The daemon owns every connection, channel and presence member; the
 * adapter decides how a broadcast reaches the other nodes of a cluster and
 * answers cluster-wide questions (how many sockets, which channels, who is in a
 * presence channel) by combining this node's answers with its peers'.
 *
 * LIFECYCLE (all three symbols are required, looked up by name with dlsym)
 *   1. int soketi_adapter_version(int count, const int *supported);
 *      The host offers the ABI versions it speaks (newest first); the plugin
 *      returns the one it implements, or -1 when it speaks none of them. The
 *      daemon then refuses the plugin with a message naming both sides.
 *   2. int soketi_adapter_init(const soketi_host_t *host, soketi_adapter_t *adapter);
 *      Called once, on the event loop's thread, before any client connects.
 *      The plugin fills adapter->ops (it must not write past adapter->size)
 *      and may keep a pointer to host: it stays valid until cleanup returns.
 *      Returns 0, or non-zero to refuse to start (log why through host->log).
 *      After a non-zero return cleanup is NOT called: free what init
 *      allocated before returning.
 *   3. void soketi_adapter_cleanup(soketi_adapter_t *adapter);
 *      Called once at shutdown after the last client has gone. Free everything.
 *
 * THREADING: everything happens on the daemon's single event loop thread
 * (host->base). A plugin that needs I/O registers it on host->base (libevent
 * 2.1) and never blocks. Host functions may only be called from that thread.
 *
 * CALLBACKS: every query takes a completion callback and its argument. The
 * callback is called exactly once, either before the call returns (the local
 * adapter does this) or later from the event loop. Strings and arrays handed
 * to a callback belong to the caller of the callback and are valid only while
 * it runs: copy what you keep. A callback may call any host function or op.
 *
 * MEMORY: strings passed into the plugin belong to the host and are valid
 * only during the call; the plugin copies what it keeps. Nothing the plugin
 * allocates is ever freed by the host, and vice versa.
 *
 * VERSIONING: SOKETI_ADAPTER_ABI_VERSION grows by one when a change would
 * break a plugin built against the previous header (a field changes meaning
 * or a function its signature). Adding a field at the end of soketi_host_t or
 * soketi_adapter_ops_t is not such a change: each struct carries its own size,
 * the host only calls ops that lie inside the plugin's `ops.size`, and the
 * plugin only reads host fields that lie inside `host->size`. The daemon
 * offers every version it still speaks, so a plugin built for an older,
 * still supported ABI keeps loading; one built for a newer ABI is refused
 * with a message, never loaded.
 *
 * OPTIONAL ADDITIONS: fields and ops added to ABI 1 after its first release
 * took the place of `reserved` slots, so both structs keep their size. A host
 * or plugin built before them has NULL there: a plugin checks a host field
 * for NULL before calling it, and the host calls an optional op only when the
 * plugin set it. They are marked "optional" below. The last reserved op slots
 * became job_put and job_claim: later optional ops (channel_members_typed,
 * cluster_connection, cluster_admit_typed) are added at the end of soketi_adapter_ops_t, which a
 * host reads only within the plugin's ops_size, so the struct grows and older plugins keep loading.
 */
#ifndef SOKETI_ADAPTER_H
#define SOKETI_ADAPTER_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The newest ABI version this header describes. */
#define SOKETI_ADAPTER_ABI_VERSION 1

struct event_base;

/** Log levels for host->log. */
enum soketi_log_level {
    SOKETI_LOG_ERROR = 0,
    SOKETI_LOG_WARN = 1,
    SOKETI_LOG_INFO = 2,
    SOKETI_LOG_DEBUG = 3,
};

/** Status passed to query callbacks. */
enum soketi_status {
    SOKETI_OK = 0,       /**< every node answered */
    SOKETI_PARTIAL = -1, /**< result is what arrived: some nodes did not answer in time, or
                            an answer was cut to the adapter's bounds */
    SOKETI_ERROR = -2,   /**< no result (the result arguments are zero/empty) */
};

/** One channel and its number of subscribed sockets. */
typedef struct soketi_channel_count_s {
    const char *channel;
    long count;
} soketi_channel_count_t;

/** One presence member: user_info is a JSON text (an object, or "null"). */
typedef struct soketi_member_s {
    const char *user_id;
    const char *user_info;
} soketi_member_t;

/** Optional addition: a presence member whose id keeps the JSON type the application gave
 * it in channel_data. id_is_number 1: user_id is the decimal text of a JSON integer
 * (optional '-', then digits) and goes on the wire as a number; 0: a JSON string. */
typedef struct soketi_typed_member_s {
    const char *user_id;
    const char *user_info;
    int id_is_number;
} soketi_typed_member_t;

typedef void (*soketi_count_cb)(void *arg, int status, long count);
typedef void (*soketi_channels_cb)(void *arg, int status, const soketi_channel_count_t *channels,
                                   size_t n);
typedef void (*soketi_members_cb)(void *arg, int status, const soketi_member_t *members, size_t n);
typedef void (*soketi_typed_members_cb)(void *arg, int status, const soketi_typed_member_t *members,
                                        size_t n);
typedef void (*soketi_ids_cb)(void *arg, int status, const char *const *ids, size_t n);
/** A rate limit window: used = points counted in it so far (these included),
 * ms_left = until it closes. */
typedef void (*soketi_consume_cb)(void *arg, int status, long used, long ms_left);
/** A stored value (len bytes, not NUL-terminated), or NULL/0 when absent. */
typedef void (*soketi_value_cb)(void *arg, int status, const char *value, size_t len);

/** One job of a durable queue (job_claim): id and data (len bytes, not NUL-terminated). */
typedef struct soketi_job_s {
    const char *id;
    const char *data;
    size_t len;
} soketi_job_t;
typedef void (*soketi_jobs_cb)(void *arg, int status, const soketi_job_t *jobs, size_t n);

/** What host->metric records (soketi's horizontal_adapter_* metrics). */
enum soketi_metric {
    SOKETI_METRIC_REQUEST_SENT = 0,      /**< a query went out to the other nodes */
    SOKETI_METRIC_REQUEST_RECEIVED = 1,  /**< a peer's query arrived */
    SOKETI_METRIC_RESPONSE_RECEIVED = 2, /**< a peer's answer to our query arrived */
    SOKETI_METRIC_RESOLVED = 3,   /**< a query completed with every answer; value = ms it took */
    SOKETI_METRIC_UNCOMPLETE = 4, /**< a query timed out with some answers missing; value = ms */
    /* Optional additions: a host ignores values it does not know. */
    /** A message on the adapter's channels was dropped: a peer's that was too large, nested
     * too deeply, malformed or over a rate limit, or one of ours too large to publish.
     * value = 1 per message. */
    SOKETI_METRIC_MESSAGE_DROPPED = 5,
    /** This node cut an answer to a peer short (its size cap or its byte budget); the peer
     * is told it is partial. value = 1 per answer. */
    SOKETI_METRIC_RESPONSE_TRUNCATED = 6,
    /** A query was answered from this node alone (SOKETI_PARTIAL), without asking the
     * others, because its app was over its rate of cluster-wide queries. value = 1. */
    SOKETI_METRIC_REQUEST_LIMITED = 7,
    /** A query was answered by an identical one already in flight: nothing more was sent.
     * value = 1. */
    SOKETI_METRIC_REQUEST_COALESCED = 8,
};

/* Iterators the host calls once per item, synchronously. */
typedef void (*soketi_each_channel_fn)(void *arg, const char *channel, long count);
typedef void (*soketi_each_member_fn)(void *arg, const char *user_id, const char *user_info);
/** id_is_number as in soketi_typed_member_t. */
typedef void (*soketi_each_typed_member_fn)(void *arg, const char *user_id, const char *user_info,
                                            int id_is_number);
typedef void (*soketi_each_id_fn)(void *arg, const char *id);

/**
 * What the daemon offers a plugin. Read-only for the plugin. Fields are only
 * ever added at the end; read a field only when it lies within `size`.
 * The local_* functions answer for this process only and never block.
 */
typedef struct soketi_host_s {
    size_t size;             /**< sizeof(soketi_host_t) as the daemon was built */
    int abi_version;         /**< the version negotiated with this plugin */
    struct event_base *base; /**< the daemon's event loop (libevent 2.1) */
    const char *node_id;     /**< unique id of this daemon process */

    /** Value of any configuration option by its dotted soketi name, e.g.
     * "adapter.redis.prefix" or "database.redis.port", as text (lists and
     * objects as JSON). NULL for an unknown name. The string is the host's,
     * valid until cleanup. */
    const char *(*config_get)(const char *dotted_name);

    /** printf-style logging into the daemon's log. */
    void (*log)(int level, const char *fmt, ...)
#if defined(__GNUC__)
        __attribute__((format(printf, 2, 3)))
#endif
        ;

    /** Delivers msg (a complete Pusher event as JSON text) to every socket of
     * this process subscribed to channel, except the socket whose id is
     * except_socket_id (NULL: none). The message is framed once and the same
     * bytes go to every subscriber. */
    void (*deliver_local)(const char *app_id, const char *channel, const char *msg, size_t msg_len,
                          const char *except_socket_id);

    long (*local_sockets_count)(const char *app_id);
    long (*local_channel_sockets_count)(const char *app_id, const char *channel);
    long (*local_channel_members_count)(const char *app_id, const char *channel);
    /** 1 when socket_id is subscribed to channel in this process, else 0. */
    int (*local_is_in_channel)(const char *app_id, const char *channel, const char *socket_id);
    /** Calls each for every occupied channel of the app. */
    void (*local_channels)(const char *app_id, soketi_each_channel_fn each, void *arg);
    /** Calls each once per distinct user of a presence channel. */
    void (*local_channel_members)(const char *app_id, const char *channel,
                                  soketi_each_member_fn each, void *arg);
    /** Calls each with the id of every socket of the app / of a channel. */
    void (*local_sockets)(const char *app_id, soketi_each_id_fn each, void *arg);
    void (*local_channel_sockets)(const char *app_id, const char *channel, soketi_each_id_fn each,
                                  void *arg);
    /** Closes (code 4009) every socket of this process signed in as user_id. */
    void (*local_terminate_user_connections)(const char *app_id, const char *user_id);

    /** Optional. Records what a horizontal adapter did, for the daemon's
     * metrics (enum soketi_metric; value is used by RESOLVED and UNCOMPLETE).
     * app_id may be NULL when the event belongs to no app. Cheap: call it on
     * every request. */
    void (*metric)(const char *app_id, int what, double value);

    /** Optional. local_channel_members with each id's JSON type (soketi_typed_member_t):
     * an adapter that passes ids between nodes uses it, so that a numeric user_id stays
     * a number on every node (as soketi's nodes send it: [[1, {...}]]). */
    void (*local_channel_members_typed)(const char *app_id, const char *channel,
                                        soketi_each_typed_member_fn each, void *arg);

    /** Optional. A node that is gone (it died, without leaving) was the only one holding
     * presence user user_id of channel, or, user_id NULL, the channel itself: the host
     * ends it as if the node had seen it leave. With user_id, this process's subscribers
     * of channel get pusher_internal:member_removed (id_is_number as in
     * soketi_typed_member_t), unless the user is in through a socket of this process;
     * with fire_webhooks, the app's member_removed (user_id) or channel_vacated (NULL)
     * webhook is queued too. The adapter calls it on every remaining node, with
     * fire_webhooks set on exactly one, member entries before their channel's. */
    void (*remote_left)(const char *app_id, const char *channel, const char *user_id,
                        int id_is_number, int fire_webhooks);

    void *reserved[5]; /**< room to grow; always NULL */
} soketi_host_t;

/**
 * What a plugin implements. Every op up to terminate_user_connections is
 * required in ABI 1; the ones after it are optional. `self` is the
 * adapter's own state (adapter->self). Cluster-wide queries combine this
 * node's local_* answers with the other nodes'.
 */
typedef struct soketi_adapter_ops_s {
    /** Sends msg to every subscriber of channel on every node, except the
     * socket except_socket_id (NULL: none), wherever it is connected. */
    void (*broadcast)(void *self, const char *app_id, const char *channel, const char *msg,
                      size_t msg_len, const char *except_socket_id);
    void (*sockets_count)(void *self, const char *app_id, soketi_count_cb cb, void *arg);
    void (*channel_sockets_count)(void *self, const char *app_id, const char *channel,
                                  soketi_count_cb cb, void *arg);
    void (*channel_members_count)(void *self, const char *app_id, const char *channel,
                                  soketi_count_cb cb, void *arg);
    /** count is 1 when the socket is in the channel on any node, else 0. */
    void (*is_in_channel)(void *self, const char *app_id, const char *channel,
                          const char *socket_id, soketi_count_cb cb, void *arg);
    /** Every occupied channel with its cluster-wide socket count. */
    void (*channels)(void *self, const char *app_id, soketi_channels_cb cb, void *arg);
    /** Distinct presence members of a channel across the cluster. */
    void (*channel_members)(void *self, const char *app_id, const char *channel,
                            soketi_members_cb cb, void *arg);
    /** Ids of every socket of the app / of a channel across the cluster. */
    void (*sockets)(void *self, const char *app_id, soketi_ids_cb cb, void *arg);
    void (*channel_sockets)(void *self, const char *app_id, const char *channel, soketi_ids_cb cb,
                            void *arg);
    /** Disconnects user_id's sockets on every node. */
    void (*terminate_user_connections)(void *self, const char *app_id, const char *user_id);

    /* ---- optional: state shared by the nodes (NULL when the adapter has none) ---- */

    /** Decides whether a transition of this node is the cluster's, so that a
     * webhook fires once per cluster. The host calls it when this node's first
     * socket joins (joined 1) or its last socket leaves (joined 0) a channel
     * (user_id NULL), or, in a presence channel, when a user's first socket
     * here joins / last leaves (user_id set). cb's count is 1 when no other
     * node held it (joined) / none holds it any more (left), else 0.
     * SOKETI_ERROR: the adapter cannot tell now; the host then goes by the
     * local transition. Calls for the same (app, channel, user) are answered in
     * the order they were made. A node that dies without leaving is forgotten
     * after a bounded time (the adapter documents how long). */
    void (*cluster_transition)(void *self, const char *app_id, const char *channel,
                               const char *user_id, int joined, soketi_count_cb cb, void *arg);
    /** A rate limit counter shared by the nodes: adds points to key's window
     * (opened by its first consumption, lasting window_ms) and answers the
     * points used in it, these included. key is the host's full key; the
     * adapter may prefix it. SOKETI_ERROR: not counted (the host counts locally). */
    void (*rate_consume)(void *self, const char *key, long points, long window_ms,
                         soketi_consume_cb cb, void *arg);
    /** A cache shared by the nodes: cache_get answers the value stored under
     * key (NULL when none or expired); cache_set stores a copy for ttl_seconds
     * (<= 0: no expiry) without confirming. */
    void (*cache_get)(void *self, const char *key, soketi_value_cb cb, void *arg);
    void (*cache_set)(void *self, const char *key, const char *value, size_t len, long ttl_seconds);
    /** Which of user_ids[0..n) some node holds under (app_id, channel), as
     * cluster_transition recorded them (joined with that user_id and not left),
     * this node included. cb gets that subset, in any order. SOKETI_ERROR: the
     * adapter cannot tell (the host answers from this node alone). */
    void (*cluster_present)(void *self, const char *app_id, const char *channel,
                            const char *const *user_ids, size_t n, soketi_ids_cb cb, void *arg);
    /** Optional. Admits user_id to presence channel (app_id, channel) when the cluster
     * would then hold at most limit distinct users there (user_id counts once, whether or
     * not a node already holds it), and records this node as holding user_id there, as
     * cluster_transition(joined 1, user_id) records it (released the same way, by
     * cluster_transition(joined 0, user_id)). Atomic across nodes. cb's count: 1 admitted
     * and no other node held user_id (its first node in the cluster), 2 admitted and
     * another node already held it, 0 refused (full; nothing recorded). limit < 0: no
     * limit. SOKETI_ERROR: cannot tell now; nothing recorded (the host falls back to
     * channel_members_count). The host calls it when a user's first socket on this node
     * joins a presence channel. A node that dies without releasing is forgotten as
     * cluster_transition's records are (the adapter documents how long). */
    void (*cluster_admit)(void *self, const char *app_id, const char *channel, const char *user_id,
                          long limit, soketi_count_cb cb, void *arg);

    /* ---- optional: a durable queue of jobs shared by the nodes (queue.driver redis) ---- */

    /** Stores data (len bytes) as job id of queue, in group (the host's: an app id), due
     * delay_ms from now by the store's clock; a job_claim takes it once due. mode 'n': a new
     * job (id unique); then, when max_per_group > 0 and group holds more jobs than that,
     * its oldest (by when they were added) are removed, and cb's count says how many. 'u':
     * replaces the stored job id (data and due time; a job no longer stored stays gone: cb
     * count -1). 'd': removes job id (done with it; data NULL). cb may be NULL.
     * SOKETI_ERROR: nothing was stored (the store is unreachable). */
    void (*job_put)(void *self, const char *queue, const char *group, const char *id,
                    const char *data, size_t len, long delay_ms, long max_per_group, int mode,
                    soketi_count_cb cb, void *arg);
    /** Extends by lease_ms the leases of held[0..nheld) (jobs this node took and still
     * holds; those no longer stored are skipped), then takes up to max jobs of queue that
     * are due (oldest due first), each leased for lease_ms: a job that is neither put nor
     * removed before its lease ends is due again (its node died), so a job is delivered at
     * least once. cb gets the jobs taken (n may be 0). */
    void (*job_claim)(void *self, const char *queue, const char *const *held, size_t nheld,
                      long max, long lease_ms, soketi_jobs_cb cb, void *arg);

    /* ---- added after the reserved slots were used: past an older plugin's ops_size, so
     * the host calls each only when the plugin's ops_size covers it (see the top) ---- */

    /** Optional. channel_members with each id's JSON type (soketi_typed_member_t). The
     * host prefers it; without it every id is taken for a string. Members are distinct by
     * user_id's text: "1" and 1 are one user (the first type seen is kept). */
    void (*channel_members_typed)(void *self, const char *app_id, const char *channel,
                                  soketi_typed_members_cb cb, void *arg);

    /** Optional. A count of the app's connections shared by the nodes, for maxConnections.
     * joined 1: admits one more connection of this node when the cluster would then hold
     * at most limit (limit < 0: no limit) and counts it; cb's count 1 admitted, 0 refused
     * (nothing counted). joined 0: a connection this op admitted closed (limit unused);
     * cb's count 1. Atomic across nodes. SOKETI_ERROR: cannot tell now, nothing counted
     * (the host falls back to sockets_count). The host calls it when a connection of an
     * app with a limit opens, and once more when a connection it admitted closes. A node
     * that dies without releasing is forgotten as cluster_transition's records are. */
    void (*cluster_connection)(void *self, const char *app_id, int joined, long limit,
                               soketi_count_cb cb, void *arg);

    /** Optional. cluster_admit with user_id's JSON type (id_is_number as in
     * soketi_typed_member_t), which the adapter keeps with its record so that it can give
     * it back to host->remote_left when the node holding the user dies. The host prefers
     * it to cluster_admit (an adapter that sets it sets cluster_admit too). */
    void (*cluster_admit_typed)(void *self, const char *app_id, const char *channel,
                                const char *user_id, int id_is_number, long limit,
                                soketi_count_cb cb, void *arg);
} soketi_adapter_ops_t;

/** The adapter instance the host allocates and the plugin fills in init. */
typedef struct soketi_adapter_s {
    size_t size;              /**< sizeof(soketi_adapter_t) as the host was built */
    void *self;               /**< the plugin's state, passed back to every op */
    size_t ops_size;          /**< the plugin sets sizeof(soketi_adapter_ops_t) as it was built */
    soketi_adapter_ops_t ops; /**< the plugin fills these */
} soketi_adapter_t;

/* The three symbols every adapter plugin exports. */
typedef int (*soketi_adapter_version_fn)(int count, const int *supported);
typedef int (*soketi_adapter_init_fn)(const soketi_host_t *host, soketi_adapter_t *adapter);
typedef void (*soketi_adapter_cleanup_fn)(soketi_adapter_t *adapter);

int soketi_adapter_version(int count, const int *supported);
int soketi_adapter_init(const soketi_host_t *host, soketi_adapter_t *adapter);
void soketi_adapter_cleanup(soketi_adapter_t *adapter);

#ifdef __cplusplus
}
#endif

#endif /* SOKETI_ADAPTER_H */
