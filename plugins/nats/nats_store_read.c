/* nats_store_read.c - what the NATS store only reads: cached events (cache_get, and
 * cache_set, which writes without looking) and who of a list some node holds
 * (cluster_present). See nats_store.h.
 */
#include "nats_store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nats_proto.h"

/* The header of a cached value's expiry (Unix ms). */
#define ST_EXPIRES_HEADER "Soketi-Expires-At"

/* ---- the cache ---------------------------------------------------------------------- */

typedef struct st_cache_get_s {
    soketi_value_cb cb;
    void *arg;
} st_cache_get_t;

/* A value whose Soketi-Expires-At has passed is a miss. */
static void
st_on_cache_get(void *arg, int status, const char *value, size_t len, uint64_t rev, natsMsg *reply)
{
    st_cache_get_t *g = arg;
    const char *expires = NULL;
    (void)rev;
    if (status == SKT_NKV_OK && value && reply &&
        natsMsgHeader_Get(reply, ST_EXPIRES_HEADER, &expires) == NATS_OK && expires &&
        strtoll(expires, NULL, 10) <= skt_nst_now())
        value = NULL;
    g->cb(g->arg, status == SKT_NKV_OK ? SOKETI_OK : SOKETI_ERROR, value, value ? len : 0);
    free(g);
}

/* A cached event, or a miss (also when JetStream cannot answer now). */
static void
st_cache_get(void *self, const char *key, soketi_value_cb cb, void *arg)
{
    skt_nst_t *st = skt_nst_of(self);
    char *k = st->closing ? NULL : skt_np_token(key);
    st_cache_get_t *g = k ? malloc(sizeof(*g)) : NULL;
    if (g) {
        *g = (st_cache_get_t){cb, arg};
        if (skt_nkv_get(st->kv, SKT_NKV_CACHE, k, st_on_cache_get, g) != 0) {
            free(g);
            g = NULL;
        }
    }
    free(k);
    if (!g)
        cb(arg, SOKETI_ERROR, NULL, 0); /* not usable now: a miss */
}

/* Written without waiting: a lost write only costs a miss. */
static void
st_cache_set(void *self, const char *key, const char *value, size_t len, long ttl_seconds)
{
    skt_nst_t *st = skt_nst_of(self);
    char *k = st->closing ? NULL : skt_np_token(key);
    char expires[24];
    snprintf(expires, sizeof(expires), "%lld", (long long)(skt_nst_now() + ttl_seconds * 1000LL));
    const char *headers[] = {ST_EXPIRES_HEADER, expires, NULL};
    if (k && skt_nkv_put(st->kv, SKT_NKV_CACHE, k, value, len, -1, ttl_seconds > 0 ? headers : NULL,
                         NULL, NULL) != 0)
        st_log(st, SOKETI_LOG_DEBUG, "cache write of %s skipped: JetStream is not usable", key);
    free(k);
}

/* ---- who is present ----------------------------------------------------------------- */

/* One cluster_present question: a read per key, answered when the last is in. */
typedef struct st_present_s {
    skt_nst_t *st;
    soketi_ids_cb cb;
    void *arg;
    size_t n, waiting;
    int failed;
    char **ids;          /* copies, in the caller's order */
    unsigned char *here; /* ids[i] is held by some node */
    int all;             /* one read answers for every id (a presence channel) */
} st_present_t;

/* Frees a question. */
static void
st_present_free(st_present_t *p)
{
    for (size_t i = 0; p->ids && i < p->n; i++)
        free(p->ids[i]);
    free(p->ids);
    free(p->here);
    free(p);
}

/* One read is in (or failed); the last one answers the host. */
static void
st_present_one(st_present_t *p, int failed)
{
    p->failed |= failed;
    if (--p->waiting > 0)
        return;
    const char **found = p->failed ? NULL : calloc(p->n + 1, sizeof(*found));
    size_t k = 0;
    for (size_t i = 0; found && i < p->n; i++)
        if (p->here[i])
            found[k++] = p->ids[i];
    p->cb(p->arg, found ? SOKETI_OK : SOKETI_ERROR, found, k);
    free(found);
    st_present_free(p);
}

/* One read of a question: of one id's key, or (p->all) of the key of every id. */
typedef struct st_present_read_s {
    st_present_t *p;
    size_t index; /* the id this read is about; with p->all every id */
} st_present_read_t;

/* A read of a cluster_present question: marks the ids another node holds. */
static void
st_on_present(void *arg, int status, const char *value, size_t len, uint64_t rev, natsMsg *reply)
{
    st_present_read_t *r = arg;
    st_present_t *p = r->p;
    (void)rev;
    (void)reply;
    json_t *h = status == SKT_NKV_OK ? skt_np_holders_load(value, len, skt_nst_now()) : NULL;
    const char *node = p->st->host->node_id;
    for (size_t i = 0; h && i < p->n; i++)
        if ((p->all || i == r->index) && skt_np_others(h, p->ids[i], node) > 0)
            p->here[i] = 1;
    json_decref(h);
    free(r);
    st_present_one(p, !h);
}

/* Sends the read of key for p (index: the id it is about). */
static void
st_present_read(st_present_t *p, char *key, size_t index)
{
    st_present_read_t *r = key ? malloc(sizeof(*r)) : NULL;
    if (r) {
        *r = (st_present_read_t){p, index};
        if (skt_nkv_get(p->st->kv, SKT_NKV_OCCUPANCY, key, st_on_present, r) != 0) {
            free(r);
            r = NULL;
        }
    }
    free(key);
    if (!r)
        st_present_one(p, 1);
}

/* A new question for n users (copied), or NULL when out of memory. */
static st_present_t *
st_present_new(skt_nst_t *st, const char *const *user_ids, size_t n, soketi_ids_cb cb, void *arg)
{
    st_present_t *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    *p = (st_present_t){.st = st, .cb = cb, .arg = arg};
    p->ids = calloc(n, sizeof(*p->ids));
    p->here = calloc(n, 1);
    for (size_t i = 0; p->ids && p->here && i < n; i++, p->n++)
        if (!(p->ids[i] = strdup(user_ids[i])))
            break;
    if (p->ids && p->here && p->n == n)
        return p;
    st_present_free(p);
    return NULL;
}

/* This node's part from what it holds (exact as of this call); the others' from the
 * bucket: one read for a presence channel's members, else one per user not held here. */
static void
st_cluster_present(void *self, const char *app_id, const char *channel, const char *const *user_ids,
                   size_t n, soketi_ids_cb cb, void *arg)
{
    skt_nst_t *st = skt_nst_of(self);
    st_present_t *p = st->closing || !skt_nkv_ready(st->kv) || !n
                          ? NULL
                          : st_present_new(st, user_ids, n, cb, arg);
    if (!p) {
        cb(arg, n || st->closing ? SOKETI_ERROR : SOKETI_OK, NULL, 0);
        return;
    }
    p->all = strncmp(channel, "presence-", 9) == 0;
    p->waiting = 1; /* this call: no answer before every read is sent */
    if (p->all) {
        p->waiting++;
        st_present_read(p, skt_np_holders_key(app_id, channel, user_ids[0]), 0);
    }
    for (size_t i = 0; i < n; i++) {
        char *key = skt_np_holders_key(app_id, channel, user_ids[i]);
        if (key && skt_nst_holds(st, key, user_ids[i]))
            p->here[i] = 1;
        if (p->all || p->here[i]) {
            free(key);
            continue;
        }
        p->waiting++;
        st_present_read(p, key, i);
    }
    st_present_one(p, 0);
}

void
skt_nst_fill_read_ops(soketi_adapter_ops_t *ops)
{
    ops->cache_get = st_cache_get;
    ops->cache_set = st_cache_set;
    ops->cluster_present = st_cluster_present;
}
