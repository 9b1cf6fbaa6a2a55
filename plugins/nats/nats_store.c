/* nats_store.c - the state nodes share in JetStream key-value buckets: occupancy, admission,
 * rate limits; what needs a cycle of read, decide, write. See nats_store.h.
 *
 * DESIGN
 * A key this node works on has an entry (st_entry_t): the calls waiting for it, the batch
 * in flight (busy), what this node holds under it (holders keys), and the last value seen
 * with its revision. A call only queues an op and puts the entry on the work list; the work
 * event (a zero timer) starts cycles, so no callback ever runs before its call returns and
 * every call of one loop turn shares a cycle. A cycle: read unless the value is known, then
 * decide every op of the batch against the value read, write the result with the revision
 * read, and on a conflict read again (at most SKT_NST_MAX_ATTEMPTS times). Ops are answered
 * in batch order, with the entry still busy so that a callback's new calls wait their turn;
 * then the entry either starts its next cycle or, holding nothing, is freed.
 *
 * This node's own part of a holders value is rewritten from `held` by every write, so a
 * write is always the whole truth about this node; held changes when a join or leave is
 * called (as the Redis store records it), and when an admission is written.
 */
#include "nats_store_internal.h"

#include <event2/event.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nats_loop.h"
#include "nats_proto.h"
#include "util/map.h"

enum st_op_kind { OP_JOIN, OP_LEAVE, OP_REFRESH, OP_ADMIT, OP_CONSUME };
enum st_entry_kind { E_HOLDERS, E_WINDOW };

/* A rate limit entry is kept this long after its last use (its value and revision spare
 * the next consumption a read). */
#define ST_WINDOW_IDLE_MS 10000

typedef struct st_op_s st_op_t;
struct st_op_s {
    st_op_t *next;
    int kind;
    char *user; /* joins, leaves, admissions: "" for the channel itself */
    long limit;
    long points, window_ms;
    union {
        soketi_count_cb count;
        soketi_consume_cb consume;
    } cb;
    void *arg;
    long answer, ms_left; /* decided by the cycle */
    int admitted;         /* this admission adds its user to what this node holds */
    int released;         /* the user left before this admission was written */
};

typedef struct st_entry_s st_entry_t;
struct st_entry_s {
    skt_nst_t *st;
    char *key;
    int kind, bucket;
    st_entry_t *prev, *next; /* every entry */
    st_entry_t *work_next;   /* the work list */
    int on_work;
    char **held; /* holders: the users this node holds, as called */
    size_t n_held, cap_held;
    char *value; /* the last value seen or written, when known */
    size_t value_len;
    uint64_t rev;
    int known;
    st_op_t *wait_head, *wait_tail;
    st_op_t *batch;
    int busy;
    int attempts;
    char *out; /* the value being written */
    uint64_t used_ms;
};

static void st_entry_done(st_entry_t *e);

/* nats_store_internal.h: the wall clock, because expiries are compared across nodes. */
int64_t
skt_nst_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Frees an op (not linked anywhere any more). */
static void
st_op_free(st_op_t *op)
{
    free(op->user);
    free(op);
}

/* ---- entries ------------------------------------------------------------------------ */

/* Puts e on the work list: its waiting ops start a cycle from the work event, never
 * inside the call that queued them. */
static void
st_kick(st_entry_t *e)
{
    if (e->on_work || e->st->closing)
        return;
    e->on_work = 1;
    e->work_next = e->st->work;
    e->st->work = e;
    event_active(e->st->work_ev, EV_TIMEOUT, 0);
}

/* Frees e when nothing refers to it: idle, nothing held, nothing waiting, and (windows) not
 * used lately. */
static void
st_entry_gc(st_entry_t *e, int64_t now_ms)
{
    skt_nst_t *st = e->st;
    if (e->busy || e->wait_head || e->n_held || e->on_work ||
        (e->kind == E_WINDOW && now_ms - (int64_t)e->used_ms < ST_WINDOW_IDLE_MS && !st->closing))
        return;
    skt_map_del(st->entries, e->key, strlen(e->key));
    if (e->prev)
        e->prev->next = e->next;
    else
        st->first = e->next;
    if (e->next)
        e->next->prev = e->prev;
    for (size_t i = 0; i < e->n_held; i++)
        free(e->held[i]);
    free(e->held);
    free(e->value);
    free(e->out);
    free(e->key);
    free(e);
}

/* The entry of key (taken), made when new; NULL when out of memory (key freed). */
static st_entry_t *
st_entry_get(skt_nst_t *st, char *key, int kind, int bucket)
{
    st_entry_t *e = key ? skt_map_get(st->entries, key, strlen(key)) : NULL;
    if (e || !key) {
        free(key);
        return e;
    }
    if (!(e = calloc(1, sizeof(*e))) || skt_map_put(st->entries, key, strlen(key), e) != 0) {
        free(e);
        free(key);
        return NULL;
    }
    e->st = st;
    e->key = key;
    e->kind = kind;
    e->bucket = bucket;
    e->next = st->first;
    if (st->first)
        st->first->prev = e;
    st->first = e;
    return e;
}

/* Index of user in e->held, or -1. */
static long
st_held_find(const st_entry_t *e, const char *user)
{
    for (size_t i = 0; i < e->n_held; i++)
        if (strcmp(e->held[i], user) == 0)
            return (long)i;
    return -1;
}

/* Adds (holds 1) or removes user from what this node holds. 0, or -1 out of memory. */
static int
st_held_set(st_entry_t *e, const char *user, int holds)
{
    long i = st_held_find(e, user);
    if (!holds && i >= 0) {
        free(e->held[i]);
        e->held[i] = e->held[--e->n_held];
    } else if (holds && i < 0) {
        if (e->n_held == e->cap_held) {
            size_t cap = e->cap_held ? e->cap_held * 2 : 4;
            char **h = realloc(e->held, cap * sizeof(*h));
            if (!h)
                return -1;
            e->held = h;
            e->cap_held = cap;
        }
        if (!(e->held[e->n_held] = strdup(user)))
            return -1;
        e->n_held++;
    }
    return 0;
}

/* Queues op on e and kicks e. */
static void
st_push(st_entry_t *e, st_op_t *op)
{
    op->next = NULL;
    if (e->wait_tail)
        e->wait_tail->next = op;
    else
        e->wait_head = op;
    e->wait_tail = op;
    st_kick(e);
}

/* ---- cycles ------------------------------------------------------------------------- */

/* Answers the batch (ok: with what the cycle decided, else SOKETI_ERROR), in order. */
static void
st_answer(st_entry_t *e, int ok)
{
    st_op_t *op = e->batch;
    e->batch = NULL;
    while (op) {
        st_op_t *next = op->next;
        int status = ok ? SOKETI_OK : SOKETI_ERROR;
        if (op->kind == OP_CONSUME)
            op->cb.consume(op->arg, status, ok ? op->answer : 0, ok ? op->ms_left : 0);
        else if (op->cb.count)
            op->cb.count(op->arg, status, ok ? op->answer : 0);
        st_op_free(op);
        op = next;
    }
}

/* The cycle ends: answer, then the next cycle or the end of the entry. */
static void
st_cycle_end(st_entry_t *e, int ok)
{
    free(e->out);
    e->out = NULL;
    if (!ok)
        e->known = 0;
    st_answer(e, ok);
    e->busy = 0;
    st_entry_done(e);
}

static void st_cycle_read(st_entry_t *e);

/* The write of a cycle: done (remember the value and its revision), lost to another
 * writer (read again), or failed. */
static void
st_on_put(void *arg, int status, uint64_t rev)
{
    st_entry_t *e = arg;
    if (status == SKT_NKV_OK) {
        free(e->value);
        e->value = e->out;
        e->value_len = e->value ? strlen(e->value) : 0;
        e->out = NULL;
        e->rev = rev;
        e->known = 1;
        for (st_op_t *op = e->batch; op; op = op->next)
            if (op->admitted && !op->released && st_held_set(e, op->user, 1) != 0)
                op->answer = -1; /* out of memory: not recorded here */
        st_cycle_end(e, 1);
        return;
    }
    free(e->out);
    e->out = NULL;
    e->known = 0;
    if (status == SKT_NKV_CONFLICT && ++e->attempts < SKT_NST_MAX_ATTEMPTS && !e->st->closing) {
        st_cycle_read(e);
        return;
    }
    if (status == SKT_NKV_CONFLICT)
        st_log(e->st, SOKETI_LOG_DEBUG, "%s: gave up after %d conflicting writes", e->key,
               e->attempts);
    st_cycle_end(e, 0);
}

/* 1 when user is one of list[0..n). */
static int
st_listed(const char *const *list, size_t n, const char *user)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], user) == 0)
            return 1;
    return 0;
}

/* Decides a holders batch against value: each op's answer, and the value to write. */
static char *
st_decide_holders(st_entry_t *e, const char *value, size_t len, int64_t now)
{
    const char *node = e->st->host->node_id;
    json_t *h = skt_np_holders_load(value, len, now);
    const char **mine = calloc(e->n_held + 1, sizeof(*mine));
    size_t n = e->n_held;
    char *out = NULL;
    if (!h || !mine)
        goto done;
    for (size_t i = 0; i < n; i++)
        mine[i] = e->held[i];
    for (st_op_t *op = e->batch; op; op = op->next) {
        long others = op->user ? skt_np_others(h, op->user, node) : 0;
        op->admitted = 0;
        if (op->kind == OP_JOIN || op->kind == OP_LEAVE) {
            op->answer = others == 0 ? 1 : 0;
        } else if (op->kind == OP_ADMIT) {
            int here = st_listed(mine, n, op->user);
            if (!here && others == 0 && op->limit >= 0 &&
                skt_np_users(h, node, mine, n) >= (size_t)op->limit) {
                op->answer = 0;
                continue;
            }
            op->answer = others > 0 ? 2 : 1;
            if (!here && !op->released) {
                const char **grown = realloc(mine, (n + 1) * sizeof(*mine));
                if (!grown)
                    goto done;
                mine = grown;
                mine[n++] = op->user;
                op->admitted = 1;
            }
        }
    }
    if (skt_np_hold(h, node, mine, n, now + e->st->ttl * 1000) == 0)
        out = skt_np_holders_dump(h);
done:
    json_decref(h);
    free(mine);
    return out;
}

/* Decides a rate limit batch: each consumption in order. */
static char *
st_decide_window(st_entry_t *e, const char *value, size_t len, int64_t now)
{
    skt_np_window_t w;
    skt_np_window_load(value, len, &w);
    for (st_op_t *op = e->batch; op; op = op->next)
        skt_np_window_consume(&w, op->points, op->window_ms, now, &op->answer, &op->ms_left);
    char buf[64];
    size_t n = skt_np_window_dump(&w, buf, sizeof(buf));
    char *out = n ? malloc(n + 1) : NULL;
    if (out)
        memcpy(out, buf, n + 1);
    return out;
}

/* The batch decided against value (revision rev), written back. */
static void
st_cycle_write(st_entry_t *e, const char *value, size_t len, uint64_t rev)
{
    int64_t now = skt_nst_now();
    e->out = e->kind == E_HOLDERS ? st_decide_holders(e, value, len, now)
                                  : st_decide_window(e, value, len, now);
    if (!e->out) {
        st_log(e->st, SOKETI_LOG_ERROR, "out of memory deciding %s", e->key);
        st_cycle_end(e, 0);
        return;
    }
    if (skt_nkv_put(e->st->kv, e->bucket, e->key, e->out, strlen(e->out), (int64_t)rev, NULL,
                    st_on_put, e) != 0)
        st_cycle_end(e, 0);
}

/* The read of a cycle: decide on it and write, or fail the batch. */
static void
st_on_get(void *arg, int status, const char *value, size_t len, uint64_t rev, natsMsg *reply)
{
    st_entry_t *e = arg;
    (void)reply;
    if (status != SKT_NKV_OK || e->st->closing)
        st_cycle_end(e, 0);
    else
        st_cycle_write(e, value, len, rev);
}

/* Reads e's key for a cycle; a read that cannot be sent fails the batch. */
static void
st_cycle_read(st_entry_t *e)
{
    if (skt_nkv_get(e->st->kv, e->bucket, e->key, st_on_get, e) != 0)
        st_cycle_end(e, 0);
}

/* Starts a cycle with every op waiting. */
static void
st_cycle_start(st_entry_t *e)
{
    e->batch = e->wait_head;
    e->wait_head = e->wait_tail = NULL;
    e->busy = 1;
    e->attempts = 0;
    e->used_ms = (uint64_t)skt_nst_now();
    if (!skt_nkv_ready(e->st->kv) || e->st->closing)
        st_cycle_end(e, 0);
    else if (e->known)
        st_cycle_write(e, e->value, e->value_len, e->rev);
    else
        st_cycle_read(e);
}

/* After a cycle: the next one, or the end of the entry. */
static void
st_entry_done(st_entry_t *e)
{
    if (e->wait_head && !e->st->closing)
        st_kick(e);
    else
        st_entry_gc(e, skt_nst_now());
}

/* The work event: a cycle for every entry put on the list, unless one is running. */
static void
st_on_work(evutil_socket_t fd, short what, void *arg)
{
    skt_nst_t *st = arg;
    (void)fd;
    (void)what;
    st_op_t *failed = st->failed;
    st->failed = NULL;
    while (failed) {
        st_op_t *op = failed;
        failed = op->next;
        op->cb.count(op->arg, SOKETI_ERROR, 0);
        st_op_free(op);
    }
    st_entry_t *list = st->work;
    st->work = NULL;
    while (list) {
        st_entry_t *e = list;
        list = e->work_next;
        e->on_work = 0;
        if (!e->busy && e->wait_head)
            st_cycle_start(e);
        else if (!e->busy)
            st_entry_gc(e, skt_nst_now());
    }
}

/* ---- refreshing --------------------------------------------------------------------- */

/* Rewrites every held key (this node stays counted while it lives, and is counted again
 * after JetStream lost the keys), and drops idle rate limit entries. */
static void
st_on_refresh(evutil_socket_t fd, short what, void *arg)
{
    skt_nst_t *st = arg;
    (void)fd;
    (void)what;
    int64_t now = skt_nst_now();
    for (st_entry_t *e = st->first, *next; e; e = next) {
        next = e->next;
        if (e->kind == E_WINDOW) {
            st_entry_gc(e, now);
        } else if (e->n_held && !e->busy && !e->wait_head) {
            st_op_t *op = calloc(1, sizeof(*op));
            if (!op)
                break;
            op->kind = OP_REFRESH;
            st_push(e, op);
        }
    }
    skt_nl_arm(st->refresh, st->ttl * 1000 / 3);
}

/* JetStream is usable (again): what it holds may be new, rewrite everything held now. */
static void
st_on_kv_ready(void *arg)
{
    skt_nst_t *st = arg;
    for (st_entry_t *e = st->first; e; e = e->next)
        e->known = 0;
    skt_nl_arm(st->refresh, 0);
}

void
skt_nst_up(skt_nst_t *st)
{
    skt_nkv_up(st->kv);
}

void
skt_nst_down(skt_nst_t *st)
{
    skt_nkv_down(st->kv);
}

/* ---- the ops ------------------------------------------------------------------------ */

skt_nst_t *
skt_nst_of(void *self)
{
    return skt_hz_store(self);
}

int
skt_nst_holds(skt_nst_t *st, const char *key, const char *user)
{
    st_entry_t *e = skt_map_get(st->entries, key, strlen(key));
    return e && st_held_find(e, user) >= 0;
}

/* A new op of kind for user (copied; NULL: none), or NULL when out of memory. */
static st_op_t *
st_op_new(int kind, const char *user)
{
    st_op_t *op = calloc(1, sizeof(*op));
    if (op)
        op->kind = kind;
    if (op && user && !(op->user = strdup(user))) {
        free(op);
        op = NULL;
    }
    return op;
}

/* The holders entry that records user_id (NULL: the channel) in channel; NULL when out of
 * memory. */
static st_entry_t *
st_holders_entry(skt_nst_t *st, const char *app_id, const char *channel, const char *user_id)
{
    return st_entry_get(st, skt_np_holders_key(app_id, channel, user_id), E_HOLDERS,
                        SKT_NKV_OCCUPANCY);
}

/* This node's first socket joined / last left a channel, or a user's in a presence
 * channel: what it holds changes now; the cycle answers whether another node held it. */
static void
st_cluster_transition(void *self, const char *app_id, const char *channel, const char *user_id,
                      int joined, soketi_count_cb cb, void *arg)
{
    skt_nst_t *st = skt_nst_of(self);
    const char *user = user_id ? user_id : "";
    st_entry_t *e = st->closing ? NULL : st_holders_entry(st, app_id, channel, user_id);
    st_op_t *op = e ? st_op_new(joined ? OP_JOIN : OP_LEAVE, user) : NULL;
    if (!op || st_held_set(e, user, joined != 0) != 0) {
        if (op)
            st_op_free(op);
        if (e)
            st_entry_gc(e, skt_nst_now());
        cb(arg, SOKETI_ERROR, 0); /* closing or out of memory: answered now */
        return;
    }
    if (!joined) /* an admission of this user still on its way must not hold it */
        for (st_op_t *p = e->busy ? e->batch : NULL; p; p = p->next)
            if (p->kind == OP_ADMIT && strcmp(p->user, user) == 0)
                p->released = 1;
    if (!joined)
        for (st_op_t *p = e->wait_head; p; p = p->next)
            if (p->kind == OP_ADMIT && strcmp(p->user, user) == 0)
                p->released = 1;
    op->cb.count = cb;
    op->arg = arg;
    st_push(e, op);
}

/* Admits a presence member against the channel's limit: decided by a cycle of the
 * channel's key, which holds every member. */
static void
st_cluster_admit(void *self, const char *app_id, const char *channel, const char *user_id,
                 long limit, soketi_count_cb cb, void *arg)
{
    skt_nst_t *st = skt_nst_of(self);
    int presence = strncmp(channel, "presence-", 9) == 0;
    st_entry_t *e =
        st->closing || !presence ? NULL : st_holders_entry(st, app_id, channel, user_id);
    st_op_t *op = st->closing ? NULL : st_op_new(OP_ADMIT, user_id);
    if (!op || (presence && !e)) {
        if (op)
            st_op_free(op);
        cb(arg, SOKETI_ERROR, 0); /* closing or out of memory: answered now */
        return;
    }
    op->limit = limit;
    op->cb.count = cb;
    op->arg = arg;
    if (e) {
        st_push(e, op);
        return;
    }
    /* only a presence channel's members are counted: cannot tell, said from the loop */
    op->next = st->failed;
    st->failed = op;
    event_active(st->work_ev, EV_TIMEOUT, 0);
}

/* Points into the key's shared window, decided with the calls of the same turn. */
static void
st_rate_consume(void *self, const char *key, long points, long window_ms, soketi_consume_cb cb,
                void *arg)
{
    skt_nst_t *st = skt_nst_of(self);
    st_entry_t *e =
        st->closing ? NULL : st_entry_get(st, skt_np_token(key), E_WINDOW, SKT_NKV_RATE);
    st_op_t *op = e ? st_op_new(OP_CONSUME, NULL) : NULL;
    if (!op) {
        if (e)
            st_entry_gc(e, skt_nst_now());
        cb(arg, SOKETI_ERROR, 0, 0);
        return;
    }
    op->points = points;
    op->window_ms = window_ms;
    op->cb.consume = cb;
    op->arg = arg;
    e->used_ms = (uint64_t)skt_nst_now();
    st_push(e, op);
}

void
skt_nst_fill_ops(soketi_adapter_ops_t *ops)
{
    ops->cluster_transition = st_cluster_transition;
    ops->cluster_admit = st_cluster_admit;
    ops->rate_consume = st_rate_consume;
}

/* ---- lifetime ----------------------------------------------------------------------- */

skt_nst_t *
skt_nst_new(const soketi_host_t *host, skt_nr_t *req, const char *subject, long node_ttl_s,
            int replicas, long cache_ttl_s, const char *name)
{
    skt_nst_t *st = calloc(1, sizeof(*st));
    if (!st)
        return NULL;
    st->host = host;
    st->ttl = node_ttl_s >= 2 ? node_ttl_s : SKT_NST_NODE_TTL_DEFAULT;
    long max_age[SKT_NKV_BUCKETS] = {2 * st->ttl, SKT_NST_RATE_MAX_AGE_S,
                                     cache_ttl_s > 0 ? cache_ttl_s : 0};
    st->name = strdup(name);
    st->entries = skt_map_new();
    st->work_ev = event_new(host->base, -1, 0, st_on_work, st);
    st->refresh = evtimer_new(host->base, st_on_refresh, st);
    st->kv = skt_nkv_new(host, req, subject, max_age, replicas, name, st_on_kv_ready, st);
    if (!st->name || !st->entries || !st->work_ev || !st->refresh || !st->kv) {
        skt_nst_free(st);
        return NULL;
    }
    skt_nl_arm(st->refresh, st->ttl * 1000 / 3);
    return st;
}

void
skt_nst_shutdown(skt_nst_t *st)
{
    if (!st || st->closing)
        return;
    size_t sent = 0;
    for (st_entry_t *e = st->first; e; e = e->next) {
        if (e->kind != E_HOLDERS || !e->n_held || !e->known)
            continue;
        json_t *h = skt_np_holders_load(e->value, e->value_len, skt_nst_now());
        char *out =
            h && skt_np_hold(h, st->host->node_id, NULL, 0, 0) == 0 ? skt_np_holders_dump(h) : NULL;
        if (out && skt_nkv_put(st->kv, e->bucket, e->key, out, strlen(out), (int64_t)e->rev, NULL,
                               NULL, NULL) == 0)
            sent++;
        json_decref(h);
        free(out);
    }
    if (st->first)
        st_log(st, SOKETI_LOG_DEBUG, "shutting down: sent %zu leaves of held keys", sent);
    st->closing = 1;
    evtimer_del(st->refresh);
    skt_nkv_down(st->kv); /* what is still asked of JetStream fails quietly from now on */
}

void
skt_nst_free(skt_nst_t *st)
{
    if (!st)
        return;
    st->closing = 1;
    /* every cycle in flight was answered when the requests were ended: what remains
     * waits, or is only held */
    while (st->first) {
        st_entry_t *e = st->first;
        e->batch = e->wait_head;
        e->wait_head = e->wait_tail = NULL;
        st_answer(e, 0);
        for (size_t i = 0; i < e->n_held; i++)
            free(e->held[i]);
        e->n_held = 0;
        e->busy = 0;
        e->on_work = 0;
        st_entry_gc(e, skt_nst_now());
    }
    st->work = NULL;
    while (st->failed) {
        st_op_t *op = st->failed;
        st->failed = op->next;
        op->cb.count(op->arg, SOKETI_ERROR, 0);
        st_op_free(op);
    }
    if (st->work_ev)
        event_free(st->work_ev);
    if (st->refresh)
        event_free(st->refresh);
    skt_nkv_free(st->kv);
    skt_map_free(st->entries);
    free(st->name);
    free(st);
}
