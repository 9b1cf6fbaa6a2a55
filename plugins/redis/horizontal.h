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
 * Everything runs on the host's event loop thread.
 */
#ifndef SKT_REDIS_HORIZONTAL_H
#define SKT_REDIS_HORIZONTAL_H

#include <soketi/adapter.h>
#include <stddef.h>
#include <stdint.h>

#include "codec.h"

/* The three channels of an adapter. */
enum skt_hz_channel {
    SKT_HZ_BROADCAST = 0, /* `redis-adapter` */
    SKT_HZ_REQUEST = 1,   /* `redis-adapter#comms#req` */
    SKT_HZ_RESPONSE = 2,  /* `redis-adapter#comms#res` */
};

typedef struct skt_hz_s skt_hz_t;
typedef struct skt_hz_req_s skt_hz_req_t;

/* What the transport provides. self is passed back to each function. */
typedef struct skt_hz_transport_s {
    void *self;
    /* 1 when messages can be both published and received now, else 0. */
    int (*ready)(void *self);
    /* Publishes len bytes of data on channel (enum skt_hz_channel) without waiting for
     * anything. Returns 0, or -1 when it cannot (not connected, output backed up). */
    int (*publish)(void *self, int channel, const char *data, size_t len);
    /* Starts counting the subscribers of the request channel. Returns 0 and then calls
     * skt_hz_numsub_done(req, n) exactly once later (n < 0: the count failed), or
     * returns -1 and never calls it. */
    int (*numsub)(void *self, skt_hz_req_t *req);
    /* The state of the ops this layer does not implement (store.c's skt_rs_t), handed back
     * by skt_hz_store to the ops that share the adapter's self. NULL: none. */
    void *store;
} skt_hz_transport_t;

/* Milliseconds of the monotonic clock: what every timing of the layer and its
 * transports is measured in. */
uint64_t skt_hz_now_ms(void);

/* Warnings that can repeat (failing Redis commands) are logged as warnings at most once
 * per this many ms, the rest at debug. */
#define SKT_HZ_WARN_INTERVAL_MS 10000
/* Dropped messages: one line per reason at most this often, with the count since. */
#define SKT_HZ_DROP_LOG_INTERVAL_MS 1000

/* The one throttle of the Redis plugins' repeatable log lines. Zero-initialise it. */
typedef struct skt_hz_throttle_s {
    uint64_t last_ms;    /* when the last line was logged; 0: never */
    unsigned long quiet; /* events since then that were only counted */
} skt_hz_throttle_t;

/* One more event: 1 when it gets a line (none logged yet, or the last one is interval_ms
 * old), with *quiet the events counted quietly since the last line (then reset to 0); 0
 * when it is only counted. */
int skt_hz_throttle(skt_hz_throttle_t *t, uint64_t interval_ms, unsigned long *quiet);

/* Logs one line through host->log with "name: " in front (cut at 1 KiB): the log of this
 * layer and of what is stacked beside it (store.c). */
void skt_hz_logf(const soketi_host_t *host, const char *name, int level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* The ABI version a horizontal plugin speaks (1) if the host offers it, else -1: what
 * the plugin's soketi_adapter_version returns. */
int skt_hz_abi_version(int count, const int *supported);

/* Checks, at soketi_adapter_init, that the host table has every function the horizontal
 * layer calls and that the adapter struct is big enough. Returns 0, or -1 with the reason
 * logged (when the host can log) under name. */
int skt_hz_check_host(const soketi_host_t *host, const soketi_adapter_t *adapter, const char *name);
/* 1 when host offers local_channel_members_typed (an optional addition to ABI 1): the
 * layer then answers and merges members with their ids' JSON types. */
int skt_hz_host_typed(const soketi_host_t *host);

/* ---- limits (horizontal_limits.c) ---------------------------------------------------- */

/* The defaults of the adapter.* options below, for a host that does not know them. */
#define SKT_HZ_MAX_MESSAGE_KB 4096
#define SKT_HZ_PEER_REQUESTS_PER_S 2000
#define SKT_HZ_PEER_REQUESTS_TOTAL_PER_S 10000
#define SKT_HZ_MAX_RESPONSE_KB 1024
#define SKT_HZ_RESPONSE_KB_PER_S 2048
#define SKT_HZ_APP_REQUESTS_PER_S 1000

/* What peers may cost this node, and its queries them (the adapter.* options). A rate of
 * 0 is no limit. */
typedef struct skt_hz_limits_s {
    /* adapter.maxMessageSizeInKb, in bytes: a larger message on any of the three channels
     * is dropped before it is parsed, and one of ours is not published */
    size_t max_message;
    long peer_requests;       /* adapter.maxPeerRequestsPerSecond: answered for one peer */
    long peer_requests_total; /* adapter.maxPeerRequestsPerSecondTotal: for all of them */
    size_t max_response;      /* adapter.maxResponseSizeInKb, in bytes: one answer of ours */
    long response_bytes;      /* adapter.maxResponseKbPerSecond, in bytes: all our answers */
    long app_requests;        /* adapter.maxRequestsPerSecondPerApp: queries sent per app */
} skt_hz_limits_t;

/* Reads the adapter.* limits through host->config_get (defaults for those it does not
 * know). */
void skt_hz_limits_from_config(const soketi_host_t *host, skt_hz_limits_t *lim);

/* A token bucket holding at most one second's worth (rate), full when new. Zero-initialise
 * it. */
typedef struct skt_hz_bucket_s {
    double tokens;
    uint64_t last_ms;
    int started;
} skt_hz_bucket_t;

/* The tokens b holds at now_ms (refilled at rate per second since its last use; may be
 * negative after skt_hz_bucket_spend took more than it had). */
double skt_hz_bucket_level(skt_hz_bucket_t *b, double rate, uint64_t now_ms);
/* Takes one token: 1 when there was one (or rate <= 0: no limit), else 0. */
int skt_hz_bucket_take(skt_hz_bucket_t *b, double rate, uint64_t now_ms);

/* Buckets by key, at most max of them: when the map is full it is emptied, so that keys
 * that keep changing cost nothing. Zero-initialise with max set. */
typedef struct skt_hz_buckets_s {
    struct skt_map_s *map;
    size_t max;
} skt_hz_buckets_t;

/* key's bucket, new (full) when the key is; NULL when out of memory. Valid until the
 * next call. */
skt_hz_bucket_t *skt_hz_buckets_get(skt_hz_buckets_t *bs, const char *key);
void skt_hz_buckets_clear(skt_hz_buckets_t *bs);

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

/* Fills ops (every op): the adapter's self must then be the skt_hz_t. */
void skt_hz_fill_ops(soketi_adapter_ops_t *ops);

/* The transport's self, as given to skt_hz_new (to find it again from adapter->self). */
void *skt_hz_transport_self(const skt_hz_t *hz);

/* The transport's store, as given to skt_hz_new. */
void *skt_hz_store(const skt_hz_t *hz);

/* A message arrived on channel (enum skt_hz_channel). data need not be NUL-terminated
 * and is only read during the call. What a peer may not send (too large, too complex,
 * malformed, over a rate) is dropped, counted and logged (throttled). */
void skt_hz_on_message(skt_hz_t *hz, int channel, const char *data, size_t len);

/* The transport's answer to numsub(): n nodes (this one included) listen, or n < 0. */
void skt_hz_numsub_done(skt_hz_req_t *req, long n);

/* The transport can no longer receive: pending queries answer now with what they have. */
void skt_hz_transport_down(skt_hz_t *hz);

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

/* ---- merging answers (horizontal_merge.c; for the layer's files and the unit tests) - */

/* What a query collects. */
enum skt_hz_acc_kind {
    SKT_HZ_ACC_NONE = 0, /* terminate: nothing */
    SKT_HZ_ACC_COUNT,    /* totalCount, summed */
    SKT_HZ_ACC_EXISTS,   /* exists, OR'd */
    SKT_HZ_ACC_MEMBERS,  /* members by user_id's text (first info and type seen win) */
    SKT_HZ_ACC_CHANNELS, /* channel -> socket count, summed per channel */
    SKT_HZ_ACC_IDS,      /* distinct socket ids */
};

typedef struct skt_hz_item_s {
    char *key;     /* user_id, channel or socket id */
    char *info;    /* members: user_info JSON text */
    long count;    /* channels: sockets */
    int id_number; /* members: the id came as a JSON number */
} skt_hz_item_t;

typedef struct skt_hz_acc_s {
    int kind;
    long total;
    int exists;
    skt_hz_item_t *items; /* in order of first appearance: local answers first */
    size_t n, cap;
    struct skt_map_s *index; /* key -> item index + 1 */
    size_t max_items;        /* 0: no bound; else new keys past it are left out */
    int partial;             /* items were left out: past max_items, or by a peer */
    int failed;              /* out of memory: the result is unusable */
} skt_hz_acc_t;

/* a + b, saturated at LONG_MAX (LONG_MIN): what every count of a merge is added with, so
 * that no answer can make a sum wrap. */
long skt_hz_sat_add(long a, long b);

void skt_hz_acc_init(skt_hz_acc_t *acc, int kind);
void skt_hz_acc_clear(skt_hz_acc_t *acc);
/* Adds one item; copies the strings. id_number: the user id is a JSON number's text. */
void skt_hz_acc_member(skt_hz_acc_t *acc, const char *user_id, int id_number,
                       const char *user_info);
void skt_hz_acc_channel(skt_hz_acc_t *acc, const char *channel, long count);
void skt_hz_acc_id(skt_hz_acc_t *acc, const char *id);
/* The same, shaped as the host's iterators (soketi_each_*_fn): arg is the accumulator. */
void skt_hz_acc_each_member(void *arg, const char *user_id, const char *user_info);
void skt_hz_acc_each_typed_member(void *arg, const char *user_id, const char *user_info,
                                  int id_number);
void skt_hz_acc_each_channel(void *arg, const char *channel, long count);
void skt_hz_acc_each_id(void *arg, const char *id);
/* Merges src (of the same kind) into dst: counts added, exists OR'd, items added in
 * src's order, partial OR'd. Pure. */
void skt_hz_acc_merge(skt_hz_acc_t *dst, const skt_hz_acc_t *src);
/* Merges a peer's decoded response as soketi's resolvers do (a response marked partial
 * makes acc partial); fields that do not belong
 * to acc's kind and malformed items are ignored, counts are added saturating. Returns
 * the number of items skipped as malformed. Pure (no I/O, no host): with
 * skt_rc_decode_response, what a fuzz target calls. */
size_t skt_hz_acc_response(skt_hz_acc_t *acc, const skt_rc_response_t *resp);

#endif
