/* horizontal_core.h - the ground of the horizontal layer (libskt_horizontal): its shared
 * types, constants and state (skt_hz_t), the clock, the log and its throttle, metrics,
 * and the checks of the host table. horizontal_core.c defines its functions, which call
 * nothing of the layer's other files: every other file of the layer stands on this one.
 * The layer's public interface is horizontal.h, which includes this.
 *
 * Everything runs on the host's event loop thread.
 */
#ifndef SKT_REDIS_HORIZONTAL_CORE_H
#define SKT_REDIS_HORIZONTAL_CORE_H

#include <soketi/adapter.h>
#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "util/map.h"

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

/* ---- limits (the adapter.* options; applied by horizontal_limits.c) ----------------- */

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

/* A token bucket holding at most one second's worth (rate), full when new. Zero-initialise
 * it. */
typedef struct skt_hz_bucket_s {
    double tokens;
    uint64_t last_ms;
    int started;
} skt_hz_bucket_t;

/* Buckets by key, at most max of them: when the map is full it is emptied, so that keys
 * that keep changing cost nothing. Zero-initialise with max set. */
typedef struct skt_hz_buckets_s {
    struct skt_map_s *map;
    size_t max;
} skt_hz_buckets_t;

/* ---- the layer's state -------------------------------------------------------------- */

/* Requests of ours that completed before their own copy came back, remembered so that the
 * copy is not taken for a peer's request (a lone node completes on NUMSUB's answer, which
 * can beat the copy to us). */
#define SKT_HZ_RECENT 64

/* Why a message was dropped (skt_hz_drop). */
enum skt_hz_drop_reason {
    SKT_HZ_DROP_TOO_LARGE = 0, /* a peer's, over adapter.maxMessageSizeInKb */
    SKT_HZ_DROP_TOO_COMPLEX,   /* nested deeper than SKT_RC_MAX_DEPTH, or too many values */
    SKT_HZ_DROP_MALFORMED,     /* not what its channel carries, or some items of it */
    SKT_HZ_DROP_PEER_RATE,     /* a request over its sender's adapter.maxPeerRequestsPerSecond */
    SKT_HZ_DROP_TOTAL_RATE,    /* a request over adapter.maxPeerRequestsPerSecondTotal */
    SKT_HZ_DROP_UNSENT,        /* one of ours, too large to publish */
    SKT_HZ_DROP_REASONS
};

/* Peers' node ids whose requests are rated apart: more and the map starts over. */
#define SKT_HZ_MAX_PEERS 256
/* Apps whose queries are rated apart: more and the map starts over. */
#define SKT_HZ_MAX_APPS 4096
/* Items (channels, members, socket ids) one query collects at most, this node's and the
 * peers' together: the rest is left out and the answer is SOKETI_PARTIAL. */
#define SKT_HZ_MAX_ITEMS (1u << 20)
/* The broadcast encoding buffer is kept between messages up to this size. */
#define SKT_HZ_SCRATCH_KEEP (64 * 1024)

/* What a caller of a query gets, i.e. which host callback type it has. */
enum skt_hz_op {
    SKT_HZ_OP_NONE,          /* terminate_user_connections: no callback */
    SKT_HZ_OP_COUNT,         /* soketi_count_cb with the summed total */
    SKT_HZ_OP_MEMBERS_COUNT, /* soketi_count_cb with the number of distinct members */
    SKT_HZ_OP_EXISTS,        /* soketi_count_cb with 0/1 */
    SKT_HZ_OP_CHANNELS,      /* soketi_channels_cb */
    SKT_HZ_OP_MEMBERS,       /* soketi_members_cb */
    SKT_HZ_OP_TYPED_MEMBERS, /* soketi_typed_members_cb */
    SKT_HZ_OP_IDS,           /* soketi_ids_cb */
};

/* A caller of a query: its callback of any type, with its argument. */
typedef struct skt_hz_cb_s {
    int op;
    union {
        soketi_count_cb count;
        soketi_channels_cb channels;
        soketi_members_cb members;
        soketi_typed_members_cb typed_members;
        soketi_ids_cb ids;
    } fn;
    void *arg;
} skt_hz_cb_t;

/* A query as it travels: its wire type (SKT_RC_*) and options (NULL when unused). */
typedef struct skt_hz_query_s {
    int type;
    const char *app_id;
    const char *channel;
    const char *ws_id;
    const char *user_id;
} skt_hz_query_t;

/* The layer: the adapter's self. */
struct skt_hz_s {
    const soketi_host_t *host;
    void (*metric)(const char *app_id, int what, double value); /* NULL: the host has none */
    skt_hz_transport_t tr;
    long timeout_ms;
    char *name;
    skt_map_t *pending; /* requestId -> skt_hz_req_t */
    skt_hz_req_t *head, *tail;
    struct event *timer;
    skt_jw_t scratch; /* broadcast encoding, reused */
    int closing;
    char recent[SKT_HZ_RECENT][40]; /* ring of requestIds, "" when free */
    unsigned recent_next;
    skt_hz_limits_t lim;
    size_t max_values; /* skt_rc_scan's bound on a message's values, from lim.max_message */
    skt_hz_throttle_t drops[SKT_HZ_DROP_REASONS]; /* their log lines */
    unsigned long dropped[SKT_HZ_DROP_REASONS];   /* how many, since the start */
    skt_hz_buckets_t peers;                       /* requests answered, by sender */
    skt_hz_bucket_t peers_total;
    skt_map_t *inflight;          /* coalescing key -> pending skt_hz_req_t with callers */
    skt_hz_buckets_t apps;        /* queries sent, by app */
    skt_hz_throttle_t limited;    /* the log of queries answered locally for their app's rate */
    skt_hz_bucket_t answer_bytes; /* bytes of our answers to peers */
    skt_hz_throttle_t truncated;  /* the log of answers cut short */
};

/* Logs through the host with the adapter's name in front. */
#define skt_hz_log(hz, level, ...) skt_hz_logf((hz)->host, (hz)->name, (level), __VA_ARGS__)

/* Records a metric (SOKETI_METRIC_*) when the host takes them. */
void skt_hz_metric(const skt_hz_t *hz, const char *app_id, int what, double value);

#endif
