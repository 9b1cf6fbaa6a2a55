/* store_proto.h - the Redis side of the shared state (store.c) as pure functions: the Lua
 * scripts, the occupancy keys, and reading the replies.
 *
 * Nothing here touches a socket or the event loop; replies come in as hiredis's parsed
 * redisReply (the unit tests make them from RESP bytes with a redisReader).
 */
#ifndef SKT_REDIS_STORE_PROTO_H
#define SKT_REDIS_STORE_PROTO_H

#include <hiredis/hiredis.h>
#include <hiredis/sds.h>
#include <stddef.h>

/* The scripts, called with one key (KEYS[1]) unless they say otherwise. */
enum skt_rs_script {
    /* ARGV: node id, '1' join / '0' leave / '2' refresh, TTL in seconds. Decides it by
     * Redis's clock (the node's entry expires TTL seconds later, the key after twice
     * that) and answers how many other nodes hold the key: a non-negative integer. With a
     * presence member's key, KEYS[2] is its channel's set of users and ARGV[4] the user:
     * kept in step. */
    SKT_RS_OCCUPANCY = 0,
    /* ARGV: points, window in ms. rate-limiter-flexible's RateLimiterRedis: answers
     * {points used in the window, ms until it closes}. */
    SKT_RS_CONSUME = 1,
    /* ARGV: node id. Read only: answers how many other nodes hold the key now. */
    SKT_RS_PRESENCE = 2,
    /* KEYS: a presence member's key, its channel's set of users. ARGV: node id, TTL in
     * seconds, limit (< 0: none), user id. Admits and records the user when the set then
     * holds at most limit users: answers 1 (first node), 2 (another node held it), 0
     * (refused). */
    SKT_RS_ADMIT = 3,
    /* KEYS: a queue's due set, its jobs, the group's set. ARGV: job id, data, delay in ms,
     * max jobs per group, mode 'n' / 'u' / 'd' (the adapter's job_put). Answers the jobs
     * removed to make room ('n'), -1 ('u' of a job no longer stored), or 0. */
    SKT_RS_JOB_PUT = 4,
    /* KEYS: a queue's due set, its jobs. ARGV: lease in ms, max jobs to take, then the
     * held job ids (the adapter's job_claim). Answers {id, data, id, data, ...}. */
    SKT_RS_JOB_CLAIM = 5,
    SKT_RS_SCRIPTS = 6
};

/* The Lua text of a script. */
const char *skt_rs_script_text(int script);

/* Writes the script's SHA1 in hex (as EVALSHA names it) into out. Returns 0, or -1 when
 * the digest is not available. */
int skt_rs_script_sha(int script, char out[41]);

/* The occupancy key, a new string: key_prefix + bcast_channel + "#occupancy#" + app + "#" +
 * channel, or with user_id set the member's key: skt_rs_members_key + "#" + user_id. NULL
 * when out of memory. */
sds skt_rs_transition_key(const char *key_prefix, const char *bcast_channel, const char *app_id,
                          const char *channel, const char *user_id);

/* A presence channel's set of users (a ZSET of user ids, each scored by the latest expiry
 * of the nodes that hold it), a new string: key_prefix + bcast_channel + "#members#{" + app
 * + "#" + channel + "}". The braces make it, and every member's key of the channel, one
 * Redis Cluster hash slot, so that one script may use them together. NULL when out of
 * memory. */
sds skt_rs_members_key(const char *key_prefix, const char *bcast_channel, const char *app_id,
                       const char *channel);

/* The occupancy and presence scripts' answer: how many other nodes hold the key. Returns
 * 0 with *others set, or -1 when reply is not a non-negative integer. */
int skt_rs_parse_transition(const redisReply *reply, long *others);

/* The rate limit script's answer {consumed, pttl}. Returns 0, or -1 when reply is not an
 * array of two integers. */
int skt_rs_parse_consume(const redisReply *reply, long *used, long *ms_left);

/* GET's answer. Returns 1 with *value and *len pointing into reply (a string), 0 with
 * NULL/0 when the key is absent (nil), or -1 for anything else (an error reply). */
int skt_rs_parse_get(const redisReply *reply, const char **value, size_t *len);

/* A durable queue's keys, new strings: key_prefix + "{" + queue + "}#" + what, where what
 * is "due" (a ZSET of job ids scored by the ms, by Redis's clock, from which they may be
 * taken: due time, or the end of the lease while a node holds them), "jobs" (a HASH of job
 * id -> data) or "group#" + group (a ZSET of the group's job ids scored by when they were
 * added, for its bound). The braces put a queue in one Redis Cluster hash slot. NULL when
 * out of memory. */
sds skt_rs_job_key(const char *key_prefix, const char *queue, const char *what, const char *group);

/* The claim script's answer: n pairs {id, data}. Returns n (>= 0), or -1 when reply is
 * not an array of an even number of strings. jobs[i] points into reply (at most max). */
typedef struct skt_rs_job_s {
    const char *id, *data;
    size_t len;
} skt_rs_job_t;
long skt_rs_parse_claim(const redisReply *reply, skt_rs_job_t *jobs, size_t max);

/* 1 when reply is Redis's NOSCRIPT error (EVALSHA of a script it does not have). */
int skt_rs_is_noscript(const redisReply *reply);

#endif
