/* store.c - the state soketi nodes share in Redis: occupancy transitions, rate limits and
 * the cache, over any keyed-command transport. See store.h.
 *
 * DESIGN
 * Every command in flight is an op (rs_op_t) that the transport hands back to rs_on_reply
 * exactly once. An op that cannot be sent goes on the `failed` list and is answered
 * SOKETI_ERROR from a zero timer, in the order it failed, so that no callback runs before
 * its op returns and a failure cannot jump ahead of an earlier call's answer.
 *
 * Occupancy keys have an entry (rs_entry_t) while this node holds them or while an op for
 * them is in flight or waiting. An entry runs one op at a time (`busy`), from the moment it
 * is sent until it has been answered, failed ones included; the others wait in its queue.
 * The periodic refresh is such an op too, and is only started on an idle entry. An entry is
 * freed when it is neither held nor busy nor waiting; while a callback of its runs it is
 * busy, so callbacks may call any op. Entries are also on a list, which the refresh and
 * shutdown walk (the map cannot change during an iteration, the list may grow at its head
 * only from callbacks, which never run during these walks).
 */
#include "store.h"

#include <event2/event.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "horizontal.h"
#include "store_jobs.h"
#include "store_proto.h"
#include "util/map.h"

enum rs_kind { RS_TRANSITION, RS_RATE, RS_GET, RS_PRESENCE, RS_ADMIT };

typedef struct rs_entry_s rs_entry_t;
typedef struct rs_op_s rs_op_t;

/* One cluster_present question: a command per user not held here, answered when the
 * last of them is in. */
typedef struct rs_present_s {
    soketi_ids_cb cb;
    void *arg;
    size_t n, waiting;
    int failed;
    char **ids;          /* copies, in the caller's order */
    unsigned char *here; /* ids[i] is held by some node */
} rs_present_t;

/* One command in flight (or waiting, for an occupancy key). */
struct rs_op_s {
    skt_rs_t *st;
    rs_op_t *next; /* its entry's queue, or the failed list */
    int kind;
    rs_entry_t *entry;     /* RS_TRANSITION, RS_ADMIT: the key */
    sds key;               /* the others: the prefixed key */
    rs_present_t *present; /* RS_PRESENCE: the question, and which user this is */
    size_t index;
    char mode;              /* RS_TRANSITION: '0' leave, '1' join, '2' refresh (no callback) */
    long points, window_ms; /* RS_ADMIT: points is the limit */
    int evaled;             /* NOSCRIPT was answered: sent again as EVAL */
    union {
        soketi_count_cb count;
        soketi_consume_cb consume;
        soketi_value_cb value;
    } cb;
    void *arg;
};

/* A FIFO of ops (linked by their next). */
typedef struct rs_queue_s {
    rs_op_t *head, *tail;
} rs_queue_t;

struct rs_entry_s {
    sds key;
    sds set_key;             /* a presence member's: its channel's set of users; else NULL */
    sds user;                /* and the user id */
    rs_entry_t *prev, *next; /* every entry */
    int held;                /* joined and not left since */
    rs_op_t *busy;           /* sent (or failed), until answered */
    rs_queue_t waiting;
};

struct skt_rs_s {
    const soketi_host_t *host;
    skt_rs_transport_t tr;
    char *name;
    char *key_prefix;
    char *bcast;
    long ttl; /* seconds */
    char ttl_text[24];
    skt_map_t *entries; /* key -> rs_entry_t */
    rs_entry_t *first;
    struct event *refresh;
    struct event *fail;
    rs_queue_t failed;            /* answered SOKETI_ERROR from the fail timer */
    char sha[SKT_RS_SCRIPTS][41]; /* "" when unknown: always EVAL */
    int closing;
    skt_hz_throttle_t warned;
};

static void rs_entry_next(skt_rs_t *st, rs_entry_t *e);

/* Logs through the host with the adapter's name in front. */
#define rs_log(st, level, ...) skt_hz_logf((st)->host, (st)->name, (level), __VA_ARGS__)

/* The log level of a failure Redis answered: a warning now and then, so that a Redis
 * refusing everything (out of memory, a wrong key type) cannot flood the log. */
static int
rs_warn_level(skt_rs_t *st)
{
    unsigned long quiet;
    return skt_hz_throttle(&st->warned, SKT_HZ_WARN_INTERVAL_MS, &quiet) ? SOKETI_LOG_WARN
                                                                         : SOKETI_LOG_DEBUG;
}

/* ---- keys ---------------------------------------------------------------------------- */

/* key_prefix + key, a new string, or NULL when out of memory. */
static sds
rs_prefixed(const skt_rs_t *st, const char *key)
{
    sds s = sdsnew(st->key_prefix);
    return s ? sdscat(s, key) : NULL;
}

/* ---- answering ----------------------------------------------------------------------- */

/* Why a reply is no answer, for the log: NULL when it is one. */
static const char *
rs_bad_reply(const redisReply *reply)
{
    if (!reply)
        return NULL; /* the connection's own log says why */
    return reply->type == REDIS_REPLY_ERROR ? reply->str : "an unexpected reply";
}

/* One answer of a cluster_present question (failed: none; here: the index of a user found
 * held, SIZE_MAX for none); the last one answers the host and frees p. */
static void
rs_present_one(rs_present_t *p, int failed, size_t here)
{
    p->failed |= failed;
    if (here < p->n)
        p->here[here] = 1;
    if (--p->waiting > 0)
        return;
    const char **found = p->failed ? NULL : calloc(p->n, sizeof(*found));
    size_t k = 0;
    for (size_t i = 0; found && i < p->n; i++)
        if (p->here[i])
            found[k++] = p->ids[i];
    p->cb(p->arg, found ? SOKETI_OK : SOKETI_ERROR, found, k); /* no found: failed, or OOM */
    free(found);
    for (size_t i = 0; i < p->n; i++)
        free(p->ids[i]);
    free(p->ids);
    free(p->here);
    free(p);
}

/* Calls op's callback with what reply says (NULL: SOKETI_ERROR), clears its entry's busy
 * slot and frees it. The entry's next op is the caller's to start. */
static void
rs_finish(rs_op_t *op, const redisReply *reply)
{
    skt_rs_t *st = op->st;
    int bad = 0;
    if (op->kind == RS_TRANSITION) {
        long others;
        bad = skt_rs_parse_transition(reply, &others) != 0;
        if (op->cb.count)
            op->cb.count(op->arg, bad ? SOKETI_ERROR : SOKETI_OK, !bad && others == 0 ? 1 : 0);
    } else if (op->kind == RS_ADMIT) {
        long verdict;
        bad = skt_rs_parse_transition(reply, &verdict) != 0 || verdict > 2;
        /* refused or unknown: not held, unless a later call (which set it) follows */
        if ((bad || verdict == 0) && !op->entry->waiting.head)
            op->entry->held = 0;
        op->cb.count(op->arg, bad ? SOKETI_ERROR : SOKETI_OK, bad ? 0 : verdict);
    } else if (op->kind == RS_RATE) {
        long used, left;
        bad = skt_rs_parse_consume(reply, &used, &left) != 0;
        op->cb.consume(op->arg, bad ? SOKETI_ERROR : SOKETI_OK, used, left);
    } else if (op->kind == RS_PRESENCE) {
        long others;
        bad = skt_rs_parse_transition(reply, &others) != 0;
        rs_present_one(op->present, bad, !bad && others > 0 ? op->index : SIZE_MAX);
    } else {
        const char *v;
        size_t len;
        bad = skt_rs_parse_get(reply, &v, &len) < 0;
        op->cb.value(op->arg, bad ? SOKETI_ERROR : SOKETI_OK, v, len);
    }
    if (bad && reply)
        rs_log(st, rs_warn_level(st), "redis refused %s on %s: %s",
               op->kind == RS_TRANSITION ? "an occupancy update"
               : op->kind == RS_ADMIT    ? "a presence admission"
               : op->kind == RS_RATE     ? "a rate limit"
               : op->kind == RS_PRESENCE ? "an occupancy read"
                                         : "a cache read",
               op->entry ? op->entry->key : op->key, rs_bad_reply(reply));
    if (op->entry)
        op->entry->busy = NULL;
    sdsfree(op->key);
    free(op);
}

/* Frees e once nothing refers to it. */
static void
rs_entry_gc(skt_rs_t *st, rs_entry_t *e)
{
    if (e->held || e->busy || e->waiting.head)
        return;
    skt_map_del(st->entries, e->key, sdslen(e->key));
    if (e->prev)
        e->prev->next = e->next;
    else
        st->first = e->next;
    if (e->next)
        e->next->prev = e->prev;
    sdsfree(e->key);
    sdsfree(e->set_key);
    sdsfree(e->user);
    free(e);
}

static void
rs_queue_push(rs_queue_t *q, rs_op_t *op)
{
    op->next = NULL;
    if (q->tail)
        q->tail->next = op;
    else
        q->head = op;
    q->tail = op;
}

/* The oldest op, taken out, or NULL. */
static rs_op_t *
rs_queue_pop(rs_queue_t *q)
{
    rs_op_t *op = q->head;
    if (op && !(q->head = op->next))
        q->tail = NULL;
    return op;
}

/* Answers every failed op, in order (SOKETI_ERROR), and starts their entries' next ops. */
static void
rs_flush_failed(skt_rs_t *st)
{
    rs_op_t *op;
    while ((op = rs_queue_pop(&st->failed))) {
        rs_entry_t *e = op->entry;
        rs_finish(op, NULL);
        if (e)
            rs_entry_next(st, e);
    }
}

static void
rs_on_fail_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    rs_flush_failed(arg);
}

/* op could not be sent: it is answered SOKETI_ERROR from the fail timer. */
static void
rs_fail_later(rs_op_t *op)
{
    struct timeval now = {0, 0};
    rs_queue_push(&op->st->failed, op);
    evtimer_add(op->st->fail, &now);
}

/* ---- sending ------------------------------------------------------------------------- */

static void rs_on_reply(redisAsyncContext *ac, void *reply, void *priv);

/* Formats argv and hands it to the transport for key. Returns 0 (fn is then called
 * exactly once), or -1 (never called). */
static int
rs_command(skt_rs_t *st, const char *key, int argc, const char **argv, const size_t *lens,
           redisCallbackFn *fn, void *priv)
{
    sds cmd = NULL;
    if (redisFormatSdsCommandArgv(&cmd, argc, argv, lens) < 0)
        return -1;
    return st->tr.command(st->tr.self, key, strlen(key), cmd, fn, priv);
}

int
skt_rs_eval(skt_rs_t *st, int script, int eval, int nkeys, int argc, const char *const *argv,
            const size_t *lens, redisCallbackFn *fn, void *priv)
{
    const char *sav[16];
    size_t slv[16];
    int big = argc + 3 > 16, use_sha = !eval && st->sha[script][0], rv = -1;
    if (st->closing)
        return -1;
    const char **av = big ? malloc((size_t)(argc + 3) * sizeof(*av)) : sav;
    size_t *lv = big ? malloc((size_t)(argc + 3) * sizeof(*lv)) : slv;
    char n[12];
    snprintf(n, sizeof(n), "%d", nkeys);
    if (av && lv && nkeys > 0) {
        av[0] = use_sha ? "EVALSHA" : "EVAL";
        av[1] = use_sha ? st->sha[script] : skt_rs_script_text(script);
        av[2] = n;
        memcpy(av + 3, argv, (size_t)argc * sizeof(*av));
        for (int i = 0; i < 3; i++)
            lv[i] = strlen(av[i]);
        memcpy(lv + 3, lens, (size_t)argc * sizeof(*lv));
        sds cmd = NULL;
        if (redisFormatSdsCommandArgv(&cmd, argc + 3, av, lv) >= 0)
            rv = st->tr.command(st->tr.self, argv[0], lens[0], cmd, fn, priv);
    }
    if (big) {
        free(av);
        free(lv);
    }
    return rv;
}

/* skt_rs_eval with keys (NULL-ended, at most 2; routed by the first) and args (NULL-ended,
 * at most 4). */
static int
rs_script(skt_rs_t *st, int script, int eval, const char *const *keys, const char *const *args,
          redisCallbackFn *fn, void *priv)
{
    const char *argv[6];
    size_t lens[6];
    int argc = 0, nkeys = 0;
    while (nkeys < 2 && keys[nkeys])
        argv[argc++] = keys[nkeys++];
    for (int i = 0; i < 4 && args[i]; i++)
        argv[argc++] = args[i];
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    return skt_rs_eval(st, script, eval, nkeys, argc, argv, lens, fn, priv);
}

/* Sends the occupancy script for e (mode '0', '1' or '2'). */
static int
rs_occupancy(skt_rs_t *st, rs_entry_t *e, char mode, int eval, redisCallbackFn *fn, void *priv)
{
    char m[2] = {mode, '\0'};
    const char *keys[] = {e->key, e->set_key, NULL};
    const char *args[] = {st->host->node_id, m, st->ttl_text, e->user, NULL};
    return rs_script(st, SKT_RS_OCCUPANCY, eval, keys, args, fn, priv);
}

/* Sends op, or puts it on the failed list. */
static void
rs_send(rs_op_t *op)
{
    skt_rs_t *st = op->st;
    char n1[24], n2[24];
    int rv;
    if (op->kind == RS_TRANSITION) {
        rv = rs_occupancy(st, op->entry, op->mode, op->evaled, rs_on_reply, op);
    } else if (op->kind == RS_ADMIT) {
        snprintf(n1, sizeof(n1), "%ld", op->points);
        const char *keys[] = {op->entry->key, op->entry->set_key, NULL};
        const char *args[] = {st->host->node_id, st->ttl_text, n1, op->entry->user, NULL};
        rv = rs_script(st, SKT_RS_ADMIT, op->evaled, keys, args, rs_on_reply, op);
    } else if (op->kind == RS_PRESENCE) {
        const char *keys[] = {op->key, NULL};
        const char *args[] = {st->host->node_id, NULL};
        rv = rs_script(st, SKT_RS_PRESENCE, op->evaled, keys, args, rs_on_reply, op);
    } else if (op->kind == RS_RATE) {
        snprintf(n1, sizeof(n1), "%ld", op->points);
        snprintf(n2, sizeof(n2), "%ld", op->window_ms);
        const char *keys[] = {op->key, NULL};
        const char *args[] = {n1, n2, NULL};
        rv = rs_script(st, SKT_RS_CONSUME, op->evaled, keys, args, rs_on_reply, op);
    } else {
        const char *argv[] = {"GET", op->key};
        size_t lens[] = {3, sdslen(op->key)};
        rv = rs_command(st, op->key, 2, argv, lens, rs_on_reply, op);
    }
    if (rv != 0)
        rs_fail_later(op);
}

/* Starts e's waiting ops while none is busy (at once answered SOKETI_ERROR once closing),
 * then frees e when it is done with. */
static void
rs_entry_next(skt_rs_t *st, rs_entry_t *e)
{
    while (!e->busy && e->waiting.head) {
        rs_op_t *op = rs_queue_pop(&e->waiting);
        e->busy = op;
        if (st->closing)
            rs_finish(op, NULL);
        else
            rs_send(op);
    }
    rs_entry_gc(st, e);
}

static void
rs_on_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    rs_op_t *op = priv;
    skt_rs_t *st = op->st;
    (void)ac;
    if (skt_rs_is_noscript(reply) && !op->evaled && !st->closing) {
        op->evaled = 1;
        rs_send(op);
        return;
    }
    rs_entry_t *e = op->entry;
    rs_finish(op, reply);
    if (e)
        rs_entry_next(st, e);
}

/* A new op of kind for st, or NULL when out of memory (logged). */
static rs_op_t *
rs_op_new(skt_rs_t *st, int kind)
{
    rs_op_t *op = calloc(1, sizeof(*op));
    if (!op) {
        rs_log(st, SOKETI_LOG_ERROR, "out of memory");
        return NULL;
    }
    op->st = st;
    op->kind = kind;
    return op;
}

/* Appends op to e's queue and starts it when e is idle. */
static void
rs_entry_push(skt_rs_t *st, rs_entry_t *e, rs_op_t *op)
{
    op->entry = e;
    rs_queue_push(&e->waiting, op);
    rs_entry_next(st, e);
}

/* The entry of key (taken: freed when an entry has it already), created when new. NULL
 * when out of memory (key freed). */
static rs_entry_t *
rs_entry_get(skt_rs_t *st, sds key)
{
    rs_entry_t *e = skt_map_get(st->entries, key, sdslen(key));
    if (e) {
        sdsfree(key);
        return e;
    }
    if (!(e = calloc(1, sizeof(*e))) || skt_map_put(st->entries, key, sdslen(key), e) != 0) {
        free(e);
        sdsfree(key);
        return NULL;
    }
    e->key = key;
    e->next = st->first;
    if (st->first)
        st->first->prev = e;
    st->first = e;
    return e;
}

/* The entry of (app_id, channel) or, with user_id, of that presence member (its set of
 * users and user id filled in), created when new. NULL when out of memory. */
static rs_entry_t *
rs_entry_of(skt_rs_t *st, const char *app_id, const char *channel, const char *user_id)
{
    sds key = skt_rs_transition_key(st->key_prefix, st->bcast, app_id, channel, user_id);
    rs_entry_t *e = key ? rs_entry_get(st, key) : NULL;
    if (!e || !user_id || e->set_key)
        return e;
    e->set_key = skt_rs_members_key(st->key_prefix, st->bcast, app_id, channel);
    e->user = sdsnew(user_id);
    if (e->set_key && e->user)
        return e;
    sdsfree(e->set_key);
    sdsfree(e->user);
    e->set_key = e->user = NULL;
    rs_entry_gc(st, e);
    return NULL;
}

/* ---- refreshing ---------------------------------------------------------------------- */

static void
rs_arm_refresh(skt_rs_t *st, long ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    evtimer_add(st->refresh, &tv);
}

/* Re-sends every held, idle key (pipelined: hiredis writes them together), so that this
 * node stays counted while it lives and is counted again after Redis lost its data. */
static void
rs_on_refresh(evutil_socket_t fd, short what, void *arg)
{
    skt_rs_t *st = arg;
    (void)fd;
    (void)what;
    for (rs_entry_t *e = st->first; e; e = e->next) {
        if (!e->held || e->busy || e->waiting.head)
            continue;
        rs_op_t *op = rs_op_new(st, RS_TRANSITION);
        if (!op)
            break;
        op->entry = e;
        op->mode = '2';
        e->busy = op;
        rs_send(op); /* a failure is answered from the fail timer, not now */
    }
    rs_arm_refresh(st, st->ttl * 1000 / 3);
}

void
skt_rs_connected(skt_rs_t *st)
{
    if (st && !st->closing && st->first)
        rs_arm_refresh(st, 0);
}

/* ---- the ops ------------------------------------------------------------------------- */

/* The store of an adapter whose self is the skt_hz_t. */
static skt_rs_t *
rs_of(void *self)
{
    return skt_hz_store(self);
}

static void
rs_cluster_transition(void *self, const char *app_id, const char *channel, const char *user_id,
                      int joined, soketi_count_cb cb, void *arg)
{
    skt_rs_t *st = rs_of(self);
    if (st->closing) {
        cb(arg, SOKETI_ERROR, 0);
        return;
    }
    rs_entry_t *e = rs_entry_of(st, app_id, channel, user_id);
    rs_op_t *op = e ? rs_op_new(st, RS_TRANSITION) : NULL;
    if (!op) {
        /* out of memory: answered now, possibly before an earlier call for the key */
        if (e)
            rs_entry_gc(st, e);
        cb(arg, SOKETI_ERROR, 0);
        return;
    }
    e->held = joined != 0;
    op->mode = joined ? '1' : '0';
    op->cb.count = cb;
    op->arg = arg;
    rs_entry_push(st, e, op);
}

/* Queued behind the member's earlier calls like a join; held from now on unless refused
 * (rs_finish), so that a refresh never runs between the admission and a later leave. */
static void
rs_cluster_admit(void *self, const char *app_id, const char *channel, const char *user_id,
                 long limit, soketi_count_cb cb, void *arg)
{
    skt_rs_t *st = rs_of(self);
    rs_entry_t *e = st->closing ? NULL : rs_entry_of(st, app_id, channel, user_id);
    rs_op_t *op = e ? rs_op_new(st, RS_ADMIT) : NULL;
    if (!op) {
        if (e)
            rs_entry_gc(st, e);
        cb(arg, SOKETI_ERROR, 0);
        return;
    }
    e->held = 1;
    op->points = limit < 0 ? -1 : limit;
    op->cb.count = cb;
    op->arg = arg;
    rs_entry_push(st, e, op);
}

/* A new op for a prefixed key, or NULL (out of memory, logged). */
static rs_op_t *
rs_keyed_op(skt_rs_t *st, int kind, const char *key)
{
    rs_op_t *op = rs_op_new(st, kind);
    if (op && !(op->key = rs_prefixed(st, key))) {
        free(op);
        op = NULL;
    }
    return op;
}

static void
rs_rate_consume(void *self, const char *key, long points, long window_ms, soketi_consume_cb cb,
                void *arg)
{
    skt_rs_t *st = rs_of(self);
    rs_op_t *op = st->closing ? NULL : rs_keyed_op(st, RS_RATE, key);
    if (!op) {
        cb(arg, SOKETI_ERROR, 0, 0);
        return;
    }
    op->points = points;
    op->window_ms = window_ms > 0 ? window_ms : 1; /* SET PX refuses 0 */
    op->cb.consume = cb;
    op->arg = arg;
    rs_send(op);
}

static void
rs_cache_get(void *self, const char *key, soketi_value_cb cb, void *arg)
{
    skt_rs_t *st = rs_of(self);
    rs_op_t *op = st->closing ? NULL : rs_keyed_op(st, RS_GET, key);
    if (!op) {
        cb(arg, SOKETI_ERROR, NULL, 0);
        return;
    }
    op->cb.value = cb;
    op->arg = arg;
    rs_send(op);
}

/* SET without waiting for the answer: a lost write only costs a cache miss. */
static void
rs_cache_set(void *self, const char *key, const char *value, size_t len, long ttl_seconds)
{
    skt_rs_t *st = rs_of(self);
    sds full = st->closing ? NULL : rs_prefixed(st, key);
    if (!full)
        return;
    char ttl[24];
    snprintf(ttl, sizeof(ttl), "%ld", ttl_seconds);
    const char *argv[] = {"SET", full, value, "EX", ttl};
    size_t lens[] = {3, sdslen(full), len, 2, strlen(ttl)};
    if (rs_command(st, full, ttl_seconds > 0 ? 5 : 3, argv, lens, NULL, NULL) != 0)
        rs_log(st, SOKETI_LOG_DEBUG, "cache write of %s skipped: redis is not reachable", full);
    sdsfree(full);
}

/* A new question for n users (copied), or NULL when out of memory. */
static rs_present_t *
rs_present_new(const char *const *user_ids, size_t n, soketi_ids_cb cb, void *arg)
{
    rs_present_t *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->cb = cb;
    p->arg = arg;
    p->ids = calloc(n, sizeof(*p->ids));
    p->here = calloc(n, 1);
    for (size_t i = 0; p->ids && p->here && i < n; i++, p->n++)
        if (!(p->ids[i] = strdup(user_ids[i])))
            break;
    if (p->n == n)
        return p;
    for (size_t i = 0; p->ids && i < p->n; i++)
        free(p->ids[i]);
    free(p->ids);
    free(p->here);
    free(p);
    return NULL;
}

/* This node's part comes from what it holds (exact as of this call), the other nodes'
 * from Redis, one read per user not held here, pipelined. */
static void
rs_cluster_present(void *self, const char *app_id, const char *channel, const char *const *user_ids,
                   size_t n, soketi_ids_cb cb, void *arg)
{
    skt_rs_t *st = rs_of(self);
    rs_present_t *p = st->closing || !n ? NULL : rs_present_new(user_ids, n, cb, arg);
    if (!p) {
        cb(arg, !st->closing && !n ? SOKETI_OK : SOKETI_ERROR, NULL, 0);
        return;
    }
    p->waiting = n + 1; /* + this call: no answer before every user is asked */
    for (size_t i = 0; i < n; i++) {
        sds key = skt_rs_transition_key(st->key_prefix, st->bcast, app_id, channel, user_ids[i]);
        rs_entry_t *e = key ? skt_map_get(st->entries, key, sdslen(key)) : NULL;
        rs_op_t *op = key && !(e && e->held) ? rs_op_new(st, RS_PRESENCE) : NULL;
        if (!op) {
            rs_present_one(p, !key || !(e && e->held), e && e->held ? i : SIZE_MAX);
            sdsfree(key);
            continue;
        }
        op->key = key;
        op->present = p;
        op->index = i;
        rs_send(op); /* a failure is answered from the fail timer */
    }
    rs_present_one(p, 0, SIZE_MAX);
}

/* ---- for store_jobs.c ------------------------------------------------------------------ */

const char *
skt_rs_key_prefix(const skt_rs_t *st)
{
    return st->key_prefix;
}

void
skt_rs_refused(skt_rs_t *st, const char *what, const char *reason)
{
    rs_log(st, rs_warn_level(st), "redis refused %s: %s", what, reason);
}

void
skt_rs_fill_adapter(soketi_adapter_t *adapter, skt_hz_t *hz)
{
    soketi_adapter_ops_t *ops = &adapter->ops;
    adapter->self = hz;
    adapter->ops_size = sizeof(adapter->ops);
    skt_hz_fill_ops(ops);
    ops->cluster_present = rs_cluster_present;
    ops->cluster_transition = rs_cluster_transition;
    ops->cluster_admit = rs_cluster_admit;
    ops->rate_consume = rs_rate_consume;
    ops->cache_get = rs_cache_get;
    ops->cache_set = rs_cache_set;
    ops->job_put = skt_rj_put;
    ops->job_claim = skt_rj_claim;
}

/* ---- lifetime ------------------------------------------------------------------------ */

skt_rs_t *
skt_rs_new(const soketi_host_t *host, const skt_rs_transport_t *tr, const char *bcast_channel,
           const char *name)
{
    skt_rs_t *st = calloc(1, sizeof(*st));
    if (!st)
        return NULL;
    st->host = host;
    st->tr = *tr;
    st->name = strdup(name);
    st->key_prefix = strdup(skt_rconn_cfg(host, "database.redis.keyPrefix"));
    st->bcast = strdup(bcast_channel);
    st->ttl = strtol(skt_rconn_cfg(host, "adapter.redis.nodeTtl"), NULL, 10);
    if (st->ttl < 2)
        st->ttl = SKT_RS_NODE_TTL_DEFAULT;
    snprintf(st->ttl_text, sizeof(st->ttl_text), "%ld", st->ttl);
    st->entries = skt_map_new();
    st->refresh = evtimer_new(host->base, rs_on_refresh, st);
    st->fail = evtimer_new(host->base, rs_on_fail_timer, st);
    if (!st->name || !st->key_prefix || !st->bcast || !st->entries || !st->refresh || !st->fail) {
        skt_rs_free(st);
        return NULL;
    }
    for (int i = 0; i < SKT_RS_SCRIPTS; i++)
        if (skt_rs_script_sha(i, st->sha[i]) != 0)
            st->sha[i][0] = '\0'; /* always EVAL */
    rs_arm_refresh(st, st->ttl * 1000 / 3);
    return st;
}

void
skt_rs_shutdown(skt_rs_t *st)
{
    if (!st || st->closing)
        return;
    size_t sent = 0;
    for (rs_entry_t *e = st->first; e; e = e->next)
        if (rs_occupancy(st, e, '0', 1, NULL, NULL) == 0)
            sent++;
    if (st->first)
        rs_log(st, SOKETI_LOG_DEBUG, "shutting down: sent %zu leaves of occupied keys", sent);
    st->closing = 1;
    evtimer_del(st->refresh);
}

void
skt_rs_free(skt_rs_t *st)
{
    if (!st)
        return;
    st->closing = 1;
    if (st->fail)
        rs_flush_failed(st);
    /* nothing is busy any more (the transport answered its commands): drop the rest */
    while (st->first) {
        rs_entry_t *e = st->first;
        e->held = 0;
        rs_entry_next(st, e);
        if (st->first == e) { /* the transport still holds its op (a bug): leave it be */
            rs_log(st, SOKETI_LOG_ERROR, "an occupancy update of %s was never answered", e->key);
            st->first = e->next;
            if (st->first)
                st->first->prev = NULL;
        }
    }
    if (st->refresh)
        event_free(st->refresh);
    if (st->fail)
        event_free(st->fail);
    skt_map_free(st->entries);
    free(st->name);
    free(st->key_prefix);
    free(st->bcast);
    free(st);
}
