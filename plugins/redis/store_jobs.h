/* store_jobs.h - the adapter's durable job queue (job_put, job_claim) in Redis, for both
 * Redis plugins; what soketi-c's queue.driver "redis" keeps webhooks in.
 *
 * KEYS (store_proto.h's skt_rs_job_key; every key starts with database.redis.keyPrefix)
 *   {<queue>}#due           ZSET job id -> ms (Redis's clock) from which a claim may take it:
 *                           its due time, or the end of its lease while a node holds it
 *   {<queue>}#jobs          HASH job id -> the host's data
 *   {<queue>}#group#<group> ZSET job id -> ms it was added: a group's jobs, oldest first,
 *                           for the bound of job_put's max_per_group
 * A claim moves nothing: it re-scores the jobs it takes to now + lease, so a job whose
 * node died is due again when its lease ends, and the node that holds a job extends its
 * lease at each of its claims. The braces keep a queue in one Redis Cluster slot.
 *
 * Both ops answer through the host's callback exactly once: SOKETI_ERROR at once when
 * the store is shutting down or no connection takes the command, else from the loop.
 * Scripts go as EVALSHA, again as EVAL after NOSCRIPT.
 */
#ifndef SKT_REDIS_STORE_JOBS_H
#define SKT_REDIS_STORE_JOBS_H

#include <soketi/adapter.h>
#include <stddef.h>

/* The ops; self is the adapter's (skt_hz_t whose store is an skt_rs_t). */
void skt_rj_put(void *self, const char *queue, const char *group, const char *id, const char *data,
                size_t len, long delay_ms, long max_per_group, int mode, soketi_count_cb cb,
                void *arg);
void skt_rj_claim(void *self, const char *queue, const char *const *held, size_t nheld, long max,
                  long lease_ms, soketi_jobs_cb cb, void *arg);

#endif
