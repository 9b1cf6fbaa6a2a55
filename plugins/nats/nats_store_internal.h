/* nats_store_internal.h - the NATS store's state, shared by its files (private to the
 * plugin): nats_store.c (the entries and their cycles: everything that writes) and
 * nats_store_read.c (what only reads: the cache, who is present).
 *
 * Everything runs on the host's event loop thread.
 */
#ifndef SKT_NATS_STORE_INTERNAL_H
#define SKT_NATS_STORE_INTERNAL_H

#include "nats_store.h"

#include <stdint.h>

#include "util/map.h"

/* The store (its entries' types are nats_store.c's own). */
struct skt_nst_s {
    const soketi_host_t *host;
    skt_nkv_t *kv;
    char *name;
    long ttl; /* seconds */
    skt_map_t *entries;
    struct st_entry_s *first;
    struct st_entry_s *work;
    /* ops that cannot be decided, answered SOKETI_ERROR by the work event */
    struct st_op_s *failed;
    struct event *work_ev;
    struct event *refresh;
    int closing;
};

#define st_log(st, level, ...) skt_hz_logf((st)->host, (st)->name, (level), __VA_ARGS__)

/* Wall-clock milliseconds: what expiries are written in, across nodes. */
int64_t skt_nst_now(void);

/* The store of an adapter whose self is the skt_hz_t. */
skt_nst_t *skt_nst_of(void *self);

/* 1 when this node holds user under the occupancy key (as called: joined, not left). */
int skt_nst_holds(skt_nst_t *st, const char *key, const char *user);

#endif
