/* nats_kv.h - JetStream key-value buckets on the daemon's loop: making sure the buckets
 * exist, reading a key, writing one (optionally only if it did not change since a given
 * revision: compare-and-set). What the NATS store (nats_store.c) keeps its state in.
 *
 * Everything goes through NATS's request-reply (nats_req.c), as JetStream's own API and
 * its key-value conventions define it, never through libnats's blocking JetStream calls:
 *   bucket     the stream KV_<bucket> on subjects $KV.<bucket>.>, created (or its settings
 *              updated) with $JS.API.STREAM.CREATE / .UPDATE when the connection comes up
 *   read       $JS.API.DIRECT.GET.KV_<bucket>.$KV.<bucket>.<key>: the value, its revision
 *              in the header Nats-Sequence; 404 when there is none
 *   write      a publish on $KV.<bucket>.<key>, answered by JetStream's acknowledgement;
 *              with Nats-Expected-Last-Subject-Sequence, refused (err_code 10071) when the
 *              key changed since that revision
 *
 * Availability: the store is usable once every bucket answered (ready). A server without
 * JetStream does not answer (the connection asks for no "no responders" answers, which
 * libnats's synchronous subscriptions would swallow); an account without it answers an
 * error. Either way the reason is logged once as a warning, the buckets are asked again
 * after 1 s, doubling up to SKT_NKV_RETRY_MS, and every call answers SKT_NKV_ERROR
 * meanwhile.
 */
#ifndef SKT_NATS_KV_H
#define SKT_NATS_KV_H

#include <soketi/adapter.h>
#include <nats/nats.h>
#include <stddef.h>
#include <stdint.h>

#include "nats_req.h"

/* A read or write waits this long for JetStream. */
#define SKT_NKV_TIMEOUT_MS 2000
/* While JetStream is unavailable, the buckets are asked again at least this often. */
#define SKT_NKV_RETRY_MS 30000

enum skt_nkv_bucket { SKT_NKV_OCCUPANCY = 0, SKT_NKV_RATE = 1, SKT_NKV_CACHE = 2, SKT_NKV_BUCKETS };

enum skt_nkv_status {
    SKT_NKV_OK = 0,
    SKT_NKV_CONFLICT = 1, /* a compare-and-set found another revision */
    SKT_NKV_ERROR = -1,   /* no answer, JetStream refused, or unavailable */
};

typedef struct skt_nkv_s skt_nkv_t;

/* A read: status, and with SKT_NKV_OK the value (NULL, len 0 when the key has none or was
 * deleted) and its revision (0 when the key never had one), and the reply for its other
 * headers (NULL when none). Everything is valid during the call only. */
typedef void (*skt_nkv_get_cb)(void *arg, int status, const char *value, size_t len, uint64_t rev,
                               natsMsg *reply);
/* A write: status, and with SKT_NKV_OK the key's new revision. */
typedef void (*skt_nkv_put_cb)(void *arg, int status, uint64_t rev);

/* The buckets of the adapter whose broadcast subject is subject, kept max_age_s[bucket]
 * seconds after a key's last write (0: for ever), on replicas servers. on_ready(owner) is
 * called each time the buckets become usable. host, req and name are borrowed. NULL when
 * out of memory. */
skt_nkv_t *skt_nkv_new(const soketi_host_t *host, skt_nr_t *req, const char *subject,
                       const long max_age_s[SKT_NKV_BUCKETS], int replicas, const char *name,
                       void (*on_ready)(void *owner), void *owner);

/* The connection came up: ask for the buckets. */
void skt_nkv_up(skt_nkv_t *kv);
/* It went down: not usable until it is up and the buckets answered again. */
void skt_nkv_down(skt_nkv_t *kv);

/* 1 when usable now. */
int skt_nkv_ready(const skt_nkv_t *kv);

/* Reads key (a key made of skt_np_token tokens) of bucket. Returns 0 (cb is called once,
 * later), or -1 when it cannot be sent now (not ready, not connected, too many requests). */
int skt_nkv_get(skt_nkv_t *kv, int bucket, const char *key, skt_nkv_get_cb cb, void *arg);

/* Writes value (len bytes) to key. expect_rev >= 0: only when the key's revision is still
 * that (0: the key has none). headers: extra name/value pairs ended by NULL, or NULL. cb
 * NULL: nothing is waited for. Returns 0 (cb called once, later), or -1 as skt_nkv_get. */
int skt_nkv_put(skt_nkv_t *kv, int bucket, const char *key, const char *value, size_t len,
                int64_t expect_rev, const char *const *headers, skt_nkv_put_cb cb, void *arg);

/* Frees kv; requests still out must have been ended (skt_nr_free) before. NULL is fine. */
void skt_nkv_free(skt_nkv_t *kv);

#endif
