/* horizontal_internal.h - the horizontal layer's state, shared by its files (private to
 * libskt_horizontal): horizontal.c (our queries: coalesced, rated, sent, and the
 * responses to them; lifetime), horizontal_ops.c (the adapter ops, and answering their
 * callers), horizontal_peers.c (the peers' broadcasts and requests, and our bounded
 * answers) and horizontal_limits.c (what peers may cost, and the report of drops).
 *
 * Everything runs on the host's event loop thread.
 */
#ifndef SKT_REDIS_HORIZONTAL_INTERNAL_H
#define SKT_REDIS_HORIZONTAL_INTERNAL_H

#include "horizontal.h"

#include <event2/event.h>
#include <stddef.h>
#include <stdint.h>

#include "util/map.h"

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

/* ---- horizontal.c ------------------------------------------------------------------- */

/* Asks the cluster q for the caller cb: joins an identical query in flight (same type,
 * app and options), or sends one within the app's adapter.maxRequestsPerSecondPerApp, or
 * answers cb from this node alone (SOKETI_PARTIAL) when over it or when the transport is
 * down. cb is called exactly once, maybe before this returns. */
void skt_hz_query(skt_hz_t *hz, const skt_hz_cb_t *cb, const skt_hz_query_t *q);

/* Records a metric (SOKETI_METRIC_*) when the host takes them. */
void skt_hz_metric(const skt_hz_t *hz, const char *app_id, int what, double value);

/* 1 when request_id is one of our requests, come back on the request channel: pending
 * (marked as come back) or completed before its copy came back (forgotten now), else 0. */
int skt_hz_own_request(skt_hz_t *hz, const char *request_id);

/* A message on the response channel (len bytes, not NUL-terminated): merged into the
 * pending request it answers, if any; malformed ones are dropped. */
void skt_hz_on_response(skt_hz_t *hz, const char *data, size_t len);

/* 1 when a response (len bytes) may answer one of our pending requests, and so is worth
 * parsing: 0 when its id, read without parsing, is none of them. */
int skt_hz_response_wanted(const skt_hz_t *hz, const char *data, size_t len);

/* ---- horizontal_ops.c ---------------------------------------------------------------- */

/* What a query of wire type (SKT_RC_*) collects: enum skt_hz_acc_kind. */
int skt_hz_type_acc_kind(int type);

/* This node's part of q, read from the host now, into acc (of q's kind). */
void skt_hz_local(const skt_hz_t *hz, skt_hz_acc_t *acc, const skt_hz_query_t *q);

/* Answers the n callers cbs of q with this node's part (read now) merged with remote
 * (the peers' answers; NULL: none): SOKETI_PARTIAL instead of SOKETI_OK when the merge
 * left items out; SOKETI_ERROR: an empty result, no local part. */
void skt_hz_answer(skt_hz_t *hz, const skt_hz_cb_t *cbs, size_t n, const skt_hz_query_t *q,
                   const skt_hz_acc_t *remote, int status);

/* ---- horizontal_limits.c ------------------------------------------------------------ */

/* Drops a message of channel (enum skt_hz_channel) for reason (enum skt_hz_drop_reason):
 * counts it (MESSAGE_DROPPED, for app_id when known, else NULL) and logs it, throttled,
 * with detail (NULL: none) and an excerpt of data (len bytes). */
void skt_hz_drop(skt_hz_t *hz, int channel, int reason, const char *app_id, const char *data,
                 size_t len, const char *detail);

#endif
