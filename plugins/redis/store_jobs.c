/* store_jobs.c - the durable job queue in Redis (store_jobs.h).
 *
 * DESIGN
 * Each op is one script call (store_proto.c's SKT_RS_JOB_PUT / SKT_RS_JOB_CLAIM) in an
 * rj_op_t that keeps its arguments until the answer, so that a NOSCRIPT answer can be sent
 * again as EVAL. The arguments are copied (sds), as the host's strings live only during
 * the call. Nothing here is kept between ops.
 */
#include "store_jobs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "horizontal.h"
#include "store.h"
#include "store_proto.h"

/* Most arguments of a script call: a claim's keys and its held ids are bounded by the
 * host's concurrency, which we bound here too. */
#define RJ_MAX_HELD 1024

typedef struct rj_op_s {
    skt_rs_t *st;
    int script, nkeys, argc, evaled;
    long max; /* a claim's */
    soketi_count_cb count_cb;
    soketi_jobs_cb jobs_cb;
    void *arg;
    sds argv[];
} rj_op_t;

static void
rj_op_free(rj_op_t *op)
{
    for (int i = 0; i < op->argc; i++)
        sdsfree(op->argv[i]);
    free(op);
}

static void rj_on_reply(redisAsyncContext *ac, void *reply, void *priv);

/* Sends op; -1 when it could not be sent (nothing called). */
static int
rj_send(rj_op_t *op)
{
    const char *av[RJ_MAX_HELD + 8];
    size_t lens[RJ_MAX_HELD + 8];
    for (int i = 0; i < op->argc; i++) {
        av[i] = op->argv[i];
        lens[i] = sdslen(op->argv[i]);
    }
    return skt_rs_eval(op->st, op->script, op->evaled, op->nkeys, op->argc, av, lens, rj_on_reply,
                       op);
}

/* Answers op's caller (reply NULL: SOKETI_ERROR) and frees op. */
static void
rj_finish(rj_op_t *op, const redisReply *reply)
{
    if (op->script == SKT_RS_JOB_PUT) {
        int ok = reply && reply->type == REDIS_REPLY_INTEGER;
        if (op->count_cb)
            op->count_cb(op->arg, ok ? SOKETI_OK : SOKETI_ERROR, ok ? (long)reply->integer : 0);
    } else {
        skt_rs_job_t rj[64];
        soketi_job_t jobs[64];
        long n = skt_rs_parse_claim(reply, rj, op->max < 64 ? (size_t)op->max : 64);
        for (long i = 0; i < n; i++)
            jobs[i] = (soketi_job_t){.id = rj[i].id, .data = rj[i].data, .len = rj[i].len};
        op->jobs_cb(op->arg, n < 0 ? SOKETI_ERROR : SOKETI_OK, jobs, n < 0 ? 0 : (size_t)n);
    }
    if (reply && reply->type == REDIS_REPLY_ERROR)
        skt_rs_refused(op->st, op->script == SKT_RS_JOB_PUT ? "a job write" : "a job claim",
                       reply->str);
    rj_op_free(op);
}

static void
rj_on_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    rj_op_t *op = priv;
    (void)ac;
    if (skt_rs_is_noscript(reply) && !op->evaled) { /* sent as EVAL unless closing */
        op->evaled = 1;
        if (rj_send(op) == 0)
            return;
        reply = NULL;
    }
    rj_finish(op, reply);
}

/* A new op with argc arguments (filled by the caller), or NULL. */
static rj_op_t *
rj_op_new(skt_rs_t *st, int script, int nkeys, int argc)
{
    rj_op_t *op = calloc(1, sizeof(*op) + (size_t)argc * sizeof(sds));
    if (op) {
        op->st = st;
        op->script = script;
        op->nkeys = nkeys;
        op->argc = argc;
    }
    return op;
}

/* Sends op once its arguments are all there; answers SOKETI_ERROR at once otherwise. */
static void
rj_start(rj_op_t *op)
{
    int ok = 1;
    for (int i = 0; ok && i < op->argc; i++)
        ok = op->argv[i] != NULL;
    if (ok && rj_send(op) == 0)
        return;
    rj_finish(op, NULL);
}

void
skt_rj_put(void *self, const char *queue, const char *group, const char *id, const char *data,
           size_t len, long delay_ms, long max_per_group, int mode, soketi_count_cb cb, void *arg)
{
    skt_rs_t *st = skt_hz_store(self);
    rj_op_t *op = rj_op_new(st, SKT_RS_JOB_PUT, 3, 8);
    if (!op) {
        if (cb)
            cb(arg, SOKETI_ERROR, 0);
        return;
    }
    const char *kp = skt_rs_key_prefix(st);
    char n[24], m[2] = {(char)mode, '\0'};
    op->count_cb = cb;
    op->arg = arg;
    op->argv[0] = skt_rs_job_key(kp, queue, "due", NULL);
    op->argv[1] = skt_rs_job_key(kp, queue, "jobs", NULL);
    op->argv[2] = skt_rs_job_key(kp, queue, "group", group);
    op->argv[3] = sdsnew(id);
    op->argv[4] = sdsnewlen(data ? data : "", data ? len : 0);
    snprintf(n, sizeof(n), "%ld", delay_ms > 0 ? delay_ms : 0);
    op->argv[5] = sdsnew(n);
    snprintf(n, sizeof(n), "%ld", max_per_group);
    op->argv[6] = sdsnew(n);
    op->argv[7] = sdsnew(m);
    rj_start(op);
}

void
skt_rj_claim(void *self, const char *queue, const char *const *held, size_t nheld, long max,
             long lease_ms, soketi_jobs_cb cb, void *arg)
{
    skt_rs_t *st = skt_hz_store(self);
    if (nheld > RJ_MAX_HELD)
        nheld = RJ_MAX_HELD; /* the others' leases lapse: at least once still holds */
    rj_op_t *op = rj_op_new(st, SKT_RS_JOB_CLAIM, 2, 4 + (int)nheld);
    if (!op) {
        cb(arg, SOKETI_ERROR, NULL, 0);
        return;
    }
    const char *kp = skt_rs_key_prefix(st);
    char n[24];
    op->jobs_cb = cb;
    op->arg = arg;
    op->max = max < 0 ? 0 : max > 64 ? 64 : max;
    op->argv[0] = skt_rs_job_key(kp, queue, "due", NULL);
    op->argv[1] = skt_rs_job_key(kp, queue, "jobs", NULL);
    snprintf(n, sizeof(n), "%ld", lease_ms > 0 ? lease_ms : 1);
    op->argv[2] = sdsnew(n);
    snprintf(n, sizeof(n), "%ld", op->max);
    op->argv[3] = sdsnew(n);
    for (size_t i = 0; i < nheld; i++)
        op->argv[4 + i] = sdsnew(held[i]);
    rj_start(op);
}
