/* check_redis_store.c - unit tests for the state the Redis plugins share in Redis
 * (plugins/redis/store.c) and for the horizontal adapter's metrics.
 *
 * The pure tests build occupancy keys and parse the replies of the three scripts and GET,
 * made from RESP bytes with hiredis's own reader. The live tests start a redis-server on a
 * free loopback port and load the real adapter_redis.so twice, as two daemons ("node-0",
 * "node-1") with fake hosts on loops of their own: occupancy counted once per cluster, in
 * call order, forgotten when a node stops refreshing, re-created after Redis lost it, left
 * at cleanup; who of a list is held (cluster_present); rate limits and the cache shared by the
 * nodes; the durable job queue (bounds, leases and their extension, retries); errors when
 * Redis is gone; the horizontal_adapter_* metrics. They pass without running
 * when redis-server is not installed.
 */
#include "check_main.h"
#include "check_resp.h"
#include <check.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_redis_live.h"
#include "store_proto.h"

/* ---- keys ------------------------------------------------------------------------------ */

/* Checks one occupancy key and frees it. */
static void
key_is(sds key, const char *want)
{
    ck_assert_ptr_nonnull(key);
    ck_assert_str_eq(key, want);
    ck_assert_uint_eq(sdslen(key), strlen(want));
    sdsfree(key);
}

START_TEST(occupancy_keys)
{
    key_is(skt_rs_transition_key("", "redis-adapter", "app1", "private-a", NULL),
           "redis-adapter#occupancy#app1#private-a");
    /* a member's key, and its channel's set of users: one hash slot (the braces) */
    key_is(skt_rs_transition_key("", "redis-adapter", "app1", "presence-a", "u1"),
           "redis-adapter#members#{app1#presence-a}#u1");
    key_is(skt_rs_members_key("", "redis-adapter", "app1", "presence-a"),
           "redis-adapter#members#{app1#presence-a}");
    /* database.redis.keyPrefix in front of everything, adapter.redis.prefix in the channel */
    key_is(skt_rs_transition_key("pfx:", "eu#redis-adapter", "42", "presence-room", "7"),
           "pfx:eu#redis-adapter#members#{42#presence-room}#7");
    key_is(skt_rs_transition_key("pfx:", "eu#redis-adapter", "42", "c", NULL),
           "pfx:eu#redis-adapter#occupancy#42#c");
}
END_TEST

/* ---- replies --------------------------------------------------------------------------- */

START_TEST(transition_replies)
{
    long others = 99;
    redisReply *r = RESP(":0\r\n");
    ck_assert_int_eq(skt_rs_parse_transition(r, &others), 0);
    ck_assert_int_eq(others, 0);
    freeReplyObject(r);
    r = RESP(":3\r\n");
    ck_assert_int_eq(skt_rs_parse_transition(r, &others), 0);
    ck_assert_int_eq(others, 3);
    freeReplyObject(r);
    /* not an answer: a negative count, an error, nil, a string, no reply */
    static const char *const bad[] = {":-1\r\n", "-ERR Error running script\r\n", "$-1\r\n",
                                      "$1\r\n0\r\n", "*1\r\n:0\r\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r = check_resp(bad[i], strlen(bad[i]));
        ck_assert_int_eq(skt_rs_parse_transition(r, &others), -1);
        ck_assert_int_eq(others, 0);
        freeReplyObject(r);
    }
    ck_assert_int_eq(skt_rs_parse_transition(NULL, &others), -1);
}
END_TEST

START_TEST(consume_replies)
{
    long used = 9, left = 9;
    redisReply *r = RESP("*2\r\n:3\r\n:998\r\n");
    ck_assert_int_eq(skt_rs_parse_consume(r, &used, &left), 0);
    ck_assert_int_eq(used, 3);
    ck_assert_int_eq(left, 998);
    freeReplyObject(r);
    static const char *const bad[] = {
        "*1\r\n:3\r\n",        "*3\r\n:1\r\n:2\r\n:3\r\n",     "*2\r\n$1\r\n3\r\n:1\r\n",
        "*2\r\n:1\r\n$-1\r\n", "-OOM command not allowed\r\n", ":1\r\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r = check_resp(bad[i], strlen(bad[i]));
        ck_assert_int_eq(skt_rs_parse_consume(r, &used, &left), -1);
        ck_assert_int_eq(used, 0);
        ck_assert_int_eq(left, 0);
        freeReplyObject(r);
    }
    ck_assert_int_eq(skt_rs_parse_consume(NULL, &used, &left), -1);
}
END_TEST

START_TEST(get_replies)
{
    const char *v;
    size_t len;
    redisReply *r = RESP("$5\r\nhe\0lo\r\n"); /* binary: the length counts */
    ck_assert_int_eq(skt_rs_parse_get(r, &v, &len), 1);
    ck_assert_uint_eq(len, 5);
    ck_assert_mem_eq(v, "he\0lo", 5);
    freeReplyObject(r);
    r = RESP("$0\r\n\r\n"); /* an empty value is a value */
    ck_assert_int_eq(skt_rs_parse_get(r, &v, &len), 1);
    ck_assert_ptr_nonnull(v);
    ck_assert_uint_eq(len, 0);
    freeReplyObject(r);
    r = RESP("$-1\r\n");
    ck_assert_int_eq(skt_rs_parse_get(r, &v, &len), 0);
    ck_assert_ptr_null(v);
    ck_assert_uint_eq(len, 0);
    freeReplyObject(r);
    r = RESP("-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    ck_assert_int_eq(skt_rs_parse_get(r, &v, &len), -1);
    freeReplyObject(r);
    r = RESP(":1\r\n");
    ck_assert_int_eq(skt_rs_parse_get(r, &v, &len), -1);
    freeReplyObject(r);
    ck_assert_int_eq(skt_rs_parse_get(NULL, &v, &len), -1);
    ck_assert_ptr_null(v);
}
END_TEST

START_TEST(noscript_replies)
{
    redisReply *r = RESP("-NOSCRIPT No matching script. Please use EVAL.\r\n");
    ck_assert_int_eq(skt_rs_is_noscript(r), 1);
    freeReplyObject(r);
    static const char *const no[] = {"-ERR unknown command\r\n", "+NOSCRIPT\r\n", "-NOSCRIP\r\n",
                                     ":0\r\n"};
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        r = check_resp(no[i], strlen(no[i]));
        ck_assert_int_eq(skt_rs_is_noscript(r), 0);
        freeReplyObject(r);
    }
    ck_assert_int_eq(skt_rs_is_noscript(NULL), 0);
}
END_TEST

START_TEST(job_keys_and_claims)
{
    key_is(skt_rs_job_key("pfx:", "soketi-webhooks", "due", NULL), "pfx:{soketi-webhooks}#due");
    key_is(skt_rs_job_key("", "q", "group", "app-1"), "{q}#group#app-1");
    skt_rs_job_t jobs[2];
    redisReply *r = RESP("*4\r\n$2\r\nj1\r\n$3\r\na\nb\r\n$2\r\nj2\r\n$0\r\n\r\n");
    ck_assert_int_eq(skt_rs_parse_claim(r, jobs, 2), 2);
    ck_assert_str_eq(jobs[0].id, "j1");
    ck_assert_uint_eq(jobs[0].len, 3);
    ck_assert_mem_eq(jobs[0].data, "a\nb", 3);
    ck_assert_str_eq(jobs[1].id, "j2");
    ck_assert_uint_eq(jobs[1].len, 0);
    ck_assert_int_eq(skt_rs_parse_claim(r, jobs, 1), 1); /* cut at max */
    freeReplyObject(r);
    r = RESP("*0\r\n");
    ck_assert_int_eq(skt_rs_parse_claim(r, jobs, 2), 0);
    freeReplyObject(r);
    static const char *const bad[] = {"*1\r\n$2\r\nj1\r\n", "*2\r\n:1\r\n$1\r\nx\r\n", ":0\r\n",
                                      "-ERR x\r\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r = check_resp(bad[i], strlen(bad[i]));
        ck_assert_int_eq(skt_rs_parse_claim(r, jobs, 2), -1);
        freeReplyObject(r);
    }
    ck_assert_int_eq(skt_rs_parse_claim(NULL, jobs, 2), -1);
}
END_TEST

/* ---- live: two nodes on one redis-server ----------------------------------------------- */

static live_redis_t srv;

#define OCC_KEY "pfx:redis-adapter#occupancy#app1#private-room"
#define MEMBERS_KEY "pfx:redis-adapter#members#{app1#presence-room}"

/* A fresh redis-server and two nodes of adapter_redis.so on it (nodeTtl 2 s). */
static void
live_setup(void)
{
    if (live_skip("check_redis_store"))
        return;
    live_redis_start(&srv, 0);
    char port[16];
    snprintf(port, sizeof(port), "%d", srv.port);
    fake_config_reset();
    fake_config_set("database.redis.host", "127.0.0.1");
    fake_config_set("database.redis.port", port);
    live_nodes_start("adapter_redis.so");
}

static void
live_teardown(void)
{
    live_nodes_stop();
    live_redis_stop(&srv);
}

/* Runs node i's rate_consume and waits for the answer. */
static live_answer_t
consume(int i, const char *key, long points, long window_ms)
{
    live_answer_t a = {0};
    live_nodes[i].adapter.ops.rate_consume(live_nodes[i].adapter.self, key, points, window_ms,
                                           live_on_consume, &a);
    ck_assert_int_eq(a.calls, 0);
    ck_assert(live_pump(LIVE_ALL, 3000, &a.calls));
    return a;
}

/* Runs node i's cache_get and waits for the answer. */
static live_answer_t
cache_get(int i, const char *key)
{
    live_answer_t a = {0};
    live_nodes[i].adapter.ops.cache_get(live_nodes[i].adapter.self, key, live_on_value, &a);
    ck_assert_int_eq(a.calls, 0);
    ck_assert(live_pump(LIVE_ALL, 3000, &a.calls));
    return a;
}

START_TEST(live_transitions_once_per_cluster)
{
    LIVE_OR_SKIP();
    ck_assert_int_eq(live_transition(0, "private-room", NULL, 1), 1); /* first in the cluster */
    ck_assert_int_eq(live_transition(1, "private-room", NULL, 1), 0);
    ck_assert_int_eq(live_int(&srv, "ZCARD %s", OCC_KEY), 2);
    ck_assert_int_eq(live_transition(0, "private-room", NULL, 0), 0); /* node-1 still has it */
    ck_assert_int_eq(live_transition(1, "private-room", NULL, 0), 1); /* the last one left */
    ck_assert_int_eq(live_int(&srv, "EXISTS %s", OCC_KEY), 0);

    /* a presence member is a key of its own, per user */
    ck_assert_int_eq(live_transition(0, "presence-room", "u1", 1), 1);
    ck_assert_int_eq(live_transition(1, "presence-room", "u1", 1), 0);
    ck_assert_int_eq(live_transition(1, "presence-room", "u2", 1), 1);
    ck_assert_int_eq(live_transition(1, "presence-room", NULL, 1), 1);
    ck_assert_int_eq(live_int(&srv, "ZCARD %s#u1", MEMBERS_KEY), 2);
    /* and the channel's set of users follows: u1 and u2 */
    ck_assert_int_eq(live_int(&srv, "ZCARD %s", MEMBERS_KEY), 2);
    ck_assert_int_eq(live_transition(1, "presence-room", "u1", 0), 0);
    ck_assert_int_eq(live_int(&srv, "ZCARD %s", MEMBERS_KEY), 2); /* node-0 still holds u1 */
    ck_assert_int_eq(live_transition(0, "presence-room", "u1", 0), 1);
    ck_assert_int_eq(live_int(&srv, "ZCARD %s", MEMBERS_KEY), 1);
    /* the scripts went as EVALSHA (loaded by the first EVAL after NOSCRIPT) */
    redisReply *r = live_cmd(&srv, "INFO commandstats");
    ck_assert_ptr_nonnull(strstr(r->str, "cmdstat_evalsha:calls="));
    ck_assert_ptr_nonnull(strstr(r->str, "cmdstat_eval:calls=1,"));
    freeReplyObject(r);
}
END_TEST

START_TEST(live_transitions_in_call_order)
{
    LIVE_OR_SKIP();
    live_node_t *n = &live_nodes[0];
    live_answer_t a[5] = {{0}};
    for (int i = 0; i < 5; i++)
        n->adapter.ops.cluster_transition(n->adapter.self, "app1", "private-room", NULL, i % 2 == 0,
                                          live_on_count, &a[i]);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(a[i].calls, 0);
    ck_assert(live_pump(LIVE_ALL, 3000, &a[4].calls));
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(a[i].calls, 1);
        ck_assert_int_eq(a[i].status, SOKETI_OK);
        ck_assert_int_eq(a[i].count, 1); /* alone: every join and leave is the cluster's */
        if (i)
            ck_assert_int_gt(a[i].seq, a[i - 1].seq);
    }
    ck_assert_int_eq(live_transition(1, "private-room", NULL, 1), 0); /* node-0 holds it */
}
END_TEST

START_TEST(live_dead_node_forgotten)
{
    LIVE_OR_SKIP();
    ck_assert_int_eq(live_transition(0, "private-room", NULL, 1), 1);
    live_pump(LIVE_ALL, 2600, NULL); /* longer than nodeTtl: node-0's refreshes keep it */
    ck_assert_int_eq(live_transition(1, "private-room", NULL, 1), 0);
    live_pump(1u << 1, 2600, NULL); /* node-0 frozen: it stops refreshing */
    ck_assert_int_eq(live_transition(1, "private-room", NULL, 0), 1);
    ck_assert_int_eq(live_int(&srv, "EXISTS %s", OCC_KEY), 0);
}
END_TEST

START_TEST(live_recreated_after_redis_lost_it)
{
    LIVE_OR_SKIP();
    ck_assert_int_eq(live_transition(0, "private-room", NULL, 1), 1);
    freeReplyObject(live_cmd(&srv, "FLUSHALL"));
    freeReplyObject(live_cmd(&srv, "SCRIPT FLUSH"));
    live_pump(LIVE_ALL, 1000, NULL); /* a refresh every nodeTtl/3 */
    ck_assert_int_eq(live_int(&srv, "EXISTS %s", OCC_KEY), 1);
    ck_assert_int_eq(live_transition(1, "private-room", NULL, 1), 0);
}
END_TEST

START_TEST(live_cleanup_leaves_and_answers)
{
    LIVE_OR_SKIP();
    ck_assert_int_eq(live_transition(0, "private-room", NULL, 1), 1);
    /* one answered, one in flight, one waiting behind it: cleanup answers the last two */
    live_node_t *n = &live_nodes[0];
    live_answer_t a[2] = {{0}};
    n->adapter.ops.cluster_transition(n->adapter.self, "app1", "private-other", NULL, 1,
                                      live_on_count, &a[0]);
    n->adapter.ops.cluster_transition(n->adapter.self, "app1", "private-other", NULL, 0,
                                      live_on_count, &a[1]);
    live_node_stop(0);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(a[i].calls, 1);
        ck_assert_int_eq(a[i].status, SOKETI_ERROR);
    }
    ck_assert_int_gt(a[1].seq, a[0].seq);
    live_pump(1u << 1, 100, NULL); /* Redis reads node-0's last bytes first */
    /* its leaves went out before the connection closed */
    ck_assert_int_eq(live_transition(1, "private-room", NULL, 1), 1);
    ck_assert_int_eq(live_transition(1, "private-other", NULL, 1), 1);
}
END_TEST

START_TEST(live_rate_limits_shared)
{
    LIVE_OR_SKIP();
    live_answer_t a = consume(0, "app:1:events", 1, 500);
    ck_assert_int_eq(a.status, SOKETI_OK);
    ck_assert_int_eq(a.count, 1);
    ck_assert(a.ms_left > 0 && a.ms_left <= 500);
    a = consume(0, "app:1:events", 2, 500);
    ck_assert_int_eq(a.count, 3);
    a = consume(1, "app:1:events", 1, 500); /* the other node counts in the same window */
    ck_assert_int_eq(a.status, SOKETI_OK);
    ck_assert_int_eq(a.count, 4);
    long long pttl = live_int(&srv, "PTTL pfx:app:1:events");
    ck_assert(pttl > 0 && pttl <= 500);
    live_pump(LIVE_ALL, 600, NULL); /* the window closed: a new one */
    a = consume(1, "app:1:events", 1, 500);
    ck_assert_int_eq(a.count, 1);
    a = consume(1, "app:1:other", 5, 0); /* no window: one ms */
    ck_assert_int_eq(a.status, SOKETI_OK);
    ck_assert_int_eq(a.count, 5);
}
END_TEST

START_TEST(live_cache_shared)
{
    LIVE_OR_SKIP();
    live_node_t *n = &live_nodes[0];
    n->adapter.ops.cache_set(n->adapter.self, "app:1:cache:a", "v\0x", 3, 60);
    n->adapter.ops.cache_set(n->adapter.self, "app:1:cache:b", "forever", 7, 0);
    live_answer_t a = cache_get(1, "app:1:cache:a");
    ck_assert_int_eq(a.status, SOKETI_OK);
    ck_assert(a.has_value);
    ck_assert_uint_eq(a.len, 3);
    ck_assert_mem_eq(a.value, "v\0x", 3);
    long long ttl = live_int(&srv, "TTL pfx:app:1:cache:a");
    ck_assert(ttl > 0 && ttl <= 60);
    ck_assert_int_eq(live_int(&srv, "TTL pfx:app:1:cache:b"), -1);
    a = cache_get(0, "app:1:cache:missing");
    ck_assert_int_eq(a.status, SOKETI_OK);
    ck_assert(!a.has_value);
    ck_assert_uint_eq(a.len, 0);
    /* a key of another type: an error, not a value */
    freeReplyObject(live_cmd(&srv, "LPUSH pfx:app:1:cache:list x"));
    a = cache_get(0, "app:1:cache:list");
    ck_assert_int_eq(a.status, SOKETI_ERROR);
}
END_TEST

/* What a job_claim answered. */
typedef struct jobs_answer_s {
    int calls, status;
    size_t n;
    char ids[8][64], data[8][64];
} jobs_answer_t;

static void
on_jobs(void *arg, int status, const soketi_job_t *jobs, size_t n)
{
    jobs_answer_t *a = arg;
    a->calls++;
    a->status = status;
    a->n = n;
    for (size_t i = 0; i < n && i < 8; i++) {
        snprintf(a->ids[i], sizeof(a->ids[i]), "%s", jobs[i].id);
        snprintf(a->data[i], sizeof(a->data[i]), "%.*s", (int)jobs[i].len, jobs[i].data);
    }
}

/* Node i's job_put of (group app1) and its answer's count (-2 for SOKETI_ERROR). */
static long
job_put(int i, const char *id, const char *data, long delay_ms, long max, int mode)
{
    live_answer_t a = {0};
    live_node_t *n = &live_nodes[i];
    n->adapter.ops.job_put(n->adapter.self, "q", "app1", id, data, data ? strlen(data) : 0,
                           delay_ms, max, mode, live_on_count, &a);
    ck_assert(live_pump(LIVE_ALL, 3000, &a.calls));
    return a.status == SOKETI_OK ? a.count : -2;
}

/* Node i's job_claim, holding held[0..nheld). */
static jobs_answer_t
job_claim(int i, const char *const *held, size_t nheld, long max, long lease_ms)
{
    jobs_answer_t a = {0};
    live_node_t *n = &live_nodes[i];
    n->adapter.ops.job_claim(n->adapter.self, "q", held, nheld, max, lease_ms, on_jobs, &a);
    ck_assert(live_pump(LIVE_ALL, 3000, &a.calls));
    ck_assert_int_eq(a.status, SOKETI_OK);
    return a;
}

START_TEST(live_job_queue)
{
    LIVE_OR_SKIP();
    /* a bound of 2 per group: the third new job drops the oldest */
    ck_assert_int_eq(job_put(0, "j1", "one", 0, 2, 'n'), 0);
    ck_assert_int_eq(job_put(0, "j2", "two", 0, 2, 'n'), 0);
    ck_assert_int_eq(job_put(0, "j3", "three", 0, 2, 'n'), 1);
    ck_assert_int_eq(live_int(&srv, "HLEN pfx:{q}#jobs"), 2);
    ck_assert_int_eq(live_int(&srv, "ZCARD pfx:{q}#group#app1"), 2);
    /* node-1 takes both, oldest due first; nobody else gets them while leased */
    jobs_answer_t a = job_claim(1, NULL, 0, 10, 400);
    ck_assert_uint_eq(a.n, 2);
    ck_assert_str_eq(a.ids[0], "j2");
    ck_assert_str_eq(a.data[0], "two");
    ck_assert_str_eq(a.ids[1], "j3");
    ck_assert_uint_eq(job_claim(0, NULL, 0, 10, 400).n, 0);
    /* node-1 extends j2's lease past the first one's end; j3's lapses */
    const char *held[] = {"j2"};
    for (int i = 0; i < 3; i++) {
        live_pump(LIVE_ALL, 200, NULL);
        ck_assert_uint_eq(job_claim(1, held, 1, 0, 400).n, 0);
    }
    a = job_claim(0, NULL, 0, 10, 400);
    ck_assert_uint_eq(a.n, 1);
    ck_assert_str_eq(a.ids[0], "j3");
    /* a retry: new data, due later; then done */
    ck_assert_int_eq(job_put(0, "j3", "three, again", 300, 0, 'u'), 0);
    ck_assert_uint_eq(job_claim(1, NULL, 0, 10, 400).n, 0);
    live_pump(LIVE_ALL, 350, NULL);
    a = job_claim(1, NULL, 0, 10, 400);
    ck_assert_uint_eq(a.n, 1);
    ck_assert_str_eq(a.data[0], "three, again");
    ck_assert_int_eq(job_put(1, "j3", NULL, 0, 0, 'd'), 0);
    ck_assert_int_eq(job_put(1, "j3", "back?", 0, 0, 'u'), -1); /* gone stays gone */
    ck_assert_int_eq(job_put(1, "j2", NULL, 0, 0, 'd'), 0);
    ck_assert_int_eq(live_int(&srv, "EXISTS pfx:{q}#jobs pfx:{q}#due pfx:{q}#group#app1"), 0);
}
END_TEST

START_TEST(live_errors_when_redis_is_gone)
{
    LIVE_OR_SKIP();
    ck_assert_int_eq(live_transition(0, "private-room", NULL, 1), 1);
    live_redis_stop(&srv);
    live_pump(LIVE_ALL, 300, NULL); /* the connections notice */
    ck_assert_int_eq(live_transition(0, "private-room", NULL, 0), -1);
    ck_assert_int_eq(live_transition(1, "private-room", "u1", 1), -1);
    live_answer_t a = consume(0, "app:1:events", 1, 1000);
    ck_assert_int_eq(a.status, SOKETI_ERROR);
    a = cache_get(1, "app:1:cache:a");
    ck_assert_int_eq(a.status, SOKETI_ERROR);
    ck_assert(!a.has_value);
    live_nodes[0].adapter.ops.cache_set(live_nodes[0].adapter.self, "k", "v", 1, 5);
    ck_assert_int_eq(job_put(0, "j1", "one", 0, 10, 'n'), -2);
    jobs_answer_t j = {0};
    live_nodes[1].adapter.ops.job_claim(live_nodes[1].adapter.self, "q", NULL, 0, 5, 1000, on_jobs,
                                        &j);
    ck_assert(live_pump(LIVE_ALL, 3000, &j.calls));
    ck_assert_int_eq(j.status, SOKETI_ERROR);
    ck_assert_uint_eq(j.n, 0);
}
END_TEST

/* ---- live: presence admission (cluster_admit) ------------------------------------------ */

/* 300 users joining at once, half through each node, with room for 100: exactly 100 get
 * in, whatever the interleaving (one script decides each, atomically). */
START_TEST(live_admit_race)
{
    LIVE_OR_SKIP();
    static live_answer_t a[300];
    char user[300][16];
    memset(a, 0, sizeof(a));
    for (int i = 0; i < 300; i++) {
        snprintf(user[i], sizeof(user[i]), "u%d", i);
        live_node_t *n = &live_nodes[i % 2];
        n->adapter.ops.cluster_admit(n->adapter.self, "app1", "presence-room", user[i], 100,
                                     live_on_count, &a[i]);
    }
    int last = 0, admitted = 0, refused = 0;
    for (int tries = 0; tries < 100 && !last; tries++) {
        live_pump(LIVE_ALL, 50, NULL);
        last = a[298].calls && a[299].calls;
    }
    for (int i = 0; i < 300; i++) {
        ck_assert_int_eq(a[i].calls, 1);
        ck_assert_int_eq(a[i].status, SOKETI_OK);
        admitted += a[i].count == 1;
        refused += a[i].count == 0;
    }
    ck_assert_int_eq(admitted, 100);
    ck_assert_int_eq(refused, 200);
    ck_assert_int_eq(live_int(&srv, "ZCARD %s", MEMBERS_KEY), 100);
}
END_TEST

START_TEST(live_admit_counts_a_user_once)
{
    LIVE_OR_SKIP();
    ck_assert_int_eq(live_admit(0, "presence-room", "u1", 1), 1);     /* its first node */
    ck_assert_int_eq(live_admit(1, "presence-room", "u1", 1), 2);     /* already in, elsewhere */
    ck_assert_int_eq(live_admit(1, "presence-room", "u2", 1), 0);     /* full */
    ck_assert_int_eq(live_int(&srv, "EXISTS %s#u2", MEMBERS_KEY), 0); /* nothing recorded */
    ck_assert_int_eq(live_int(&srv, "ZCARD %s#u1", MEMBERS_KEY), 2);
    /* recorded as cluster_transition records: the last node's leave is the cluster's */
    ck_assert_int_eq(live_transition(0, "presence-room", "u1", 0), 0);
    ck_assert_int_eq(live_admit(1, "presence-room", "u2", 1), 0); /* node-1 still holds u1 */
    ck_assert_int_eq(live_transition(1, "presence-room", "u1", 0), 1);
    ck_assert_int_eq(live_admit(1, "presence-room", "u2", 1), 1); /* the leave freed a place */
    /* no limit; and a join recorded by cluster_transition takes a place too */
    ck_assert_int_eq(live_admit(0, "presence-room", "u3", -1), 1);
    ck_assert_int_eq(live_transition(0, "presence-room", "u4", 1), 1);
    ck_assert_int_eq(live_admit(1, "presence-room", "u5", 3), 0);
    ck_assert_int_eq(live_admit(1, "presence-room", "u4", 3), 2);
}
END_TEST

START_TEST(live_admit_dead_node_forgotten)
{
    LIVE_OR_SKIP();
    ck_assert_int_eq(live_admit(0, "presence-room", "u1", 1), 1);
    live_pump(LIVE_ALL, 2600, NULL); /* longer than nodeTtl: node-0's refreshes keep it */
    ck_assert_int_eq(live_admit(1, "presence-room", "u2", 1), 0);
    live_pump(1u << 1, 2600, NULL); /* node-0 frozen: it stops refreshing */
    ck_assert_int_eq(live_admit(1, "presence-room", "u2", 1), 1);
    ck_assert_int_eq(live_int(&srv, "ZCARD %s", MEMBERS_KEY), 1);
}
END_TEST

/* Calls for one member run in order: a leave right behind an admission undoes it, and no
 * refresh brings it back; a refused admission is not held (not refreshed either). */
START_TEST(live_admit_in_call_order)
{
    LIVE_OR_SKIP();
    live_node_t *n = &live_nodes[0];
    live_answer_t a[3] = {{0}};
    n->adapter.ops.cluster_admit(n->adapter.self, "app1", "presence-room", "u1", 5, live_on_count,
                                 &a[0]);
    n->adapter.ops.cluster_transition(n->adapter.self, "app1", "presence-room", "u1", 0,
                                      live_on_count, &a[1]);
    ck_assert(live_pump(LIVE_ALL, 3000, &a[1].calls));
    ck_assert_int_eq(a[0].count, 1);
    ck_assert_int_eq(a[1].count, 1);
    ck_assert_int_gt(a[1].seq, a[0].seq);
    ck_assert_int_eq(live_admit(1, "presence-room", "u2", 1), 1);
    ck_assert_int_eq(live_admit(0, "presence-room", "u3", 1), 0);
    live_pump(LIVE_ALL, 1000, NULL); /* refreshes every nodeTtl/3 */
    ck_assert_int_eq(live_int(&srv, "ZCARD %s", MEMBERS_KEY), 1);
    ck_assert_int_eq(live_int(&srv, "EXISTS %s#u1", MEMBERS_KEY), 0);
    ck_assert_int_eq(live_int(&srv, "EXISTS %s#u3", MEMBERS_KEY), 0);
    /* without Redis: cannot tell */
    live_redis_stop(&srv);
    live_pump(LIVE_ALL, 300, NULL);
    ck_assert_int_eq(live_admit(0, "presence-room", "u4", 10), -1);
}
END_TEST

/* cluster_present's answer as "a,b" in ask order, recorded in a live_answer_t. */
static const char *const present_asked[] = {"u1", "u2", "u3", "u4"};

static void
on_present(void *arg, int status, const char *const *ids, size_t n)
{
    live_answer_t *a = arg;
    a->calls++;
    a->status = status;
    a->value[0] = '\0';
    for (size_t k = 0; k < sizeof(present_asked) / sizeof(present_asked[0]); k++)
        for (size_t i = 0; i < n; i++)
            if (strcmp(ids[i], present_asked[k]) == 0)
                snprintf(a->value + strlen(a->value), sizeof(a->value) - strlen(a->value), "%s%s",
                         a->value[0] ? "," : "", ids[i]);
    a->count = (long)n;
}

/* Which of u1..u4 node i says are held in #online (node i's loop only); "ERROR" when it
 * cannot tell. */
static const char *
present(int i, live_answer_t *a)
{
    memset(a, 0, sizeof(*a));
    live_nodes[i].adapter.ops.cluster_present(live_nodes[i].adapter.self, "app1", "#online",
                                              present_asked, 4, on_present, a);
    ck_assert_int_eq(a->calls, 0);
    ck_assert(live_pump(1u << i, 3000, &a->calls));
    ck_assert_int_eq(a->calls, 1);
    return a->status == SOKETI_OK ? a->value : "ERROR";
}

START_TEST(live_present_across_nodes)
{
    LIVE_OR_SKIP();
    live_answer_t a;
    ck_assert_str_eq(present(0, &a), "");
    ck_assert_int_eq(live_transition(0, "#online", "u1", 1), 1);
    ck_assert_int_eq(live_transition(1, "#online", "u3", 1), 1);
    ck_assert_int_eq(live_transition(1, "#online", "u1", 1), 0);
    ck_assert_str_eq(present(0, &a), "u1,u3");
    ck_assert_str_eq(present(1, &a), "u1,u3");
    ck_assert_int_eq(live_transition(1, "#online", "u1", 0), 0);
    ck_assert_int_eq(live_transition(0, "#online", "u4", 1), 1);
    ck_assert_str_eq(present(1, &a), "u1,u3,u4");
    ck_assert_int_eq(live_transition(0, "#online", "u1", 0), 1);
    ck_assert_str_eq(present(1, &a), "u3,u4");
    /* node-0 frozen past nodeTtl: its users are forgotten */
    live_pump(1u << 1, 2600, NULL);
    ck_assert_str_eq(present(1, &a), "u3");
    /* without Redis: this node's own users are still known, the others' are not */
    live_redis_stop(&srv);
    live_pump(LIVE_ALL, 300, NULL);
    ck_assert_str_eq(present(1, &a), "ERROR");
    live_answer_t b = {0};
    const char *const mine[] = {"u3"};
    live_nodes[1].adapter.ops.cluster_present(live_nodes[1].adapter.self, "app1", "#online", mine,
                                              1, on_present, &b);
    ck_assert(live_pump(1u << 1, 3000, &b.calls));
    ck_assert_int_eq(b.status, SOKETI_OK);
    ck_assert_str_eq(b.value, "u3");
}
END_TEST

/* The cluster's socket count: SOKETI_OK once every node answered. */
static void
ask_sockets_count(live_node_t *n, live_answer_t *a)
{
    n->adapter.ops.sockets_count(n->adapter.self, "app1", live_on_count, a);
}

/* Asks node 0 for the cluster's socket count until every node answers. */
static void
count_sockets_until_ok(void)
{
    live_until_ok(0, ask_sockets_count, "the nodes never answered each other");
}

START_TEST(live_horizontal_metrics)
{
    LIVE_OR_SKIP();
    count_sockets_until_ok();
    memset(&live_nodes[0].metrics, 0, sizeof(live_metrics_t));
    memset(&live_nodes[1].metrics, 0, sizeof(live_metrics_t));
    count_sockets_until_ok();
    const live_metrics_t *m0 = &live_nodes[0].metrics, *m1 = &live_nodes[1].metrics;
    ck_assert_int_eq(m0->count[SOKETI_METRIC_REQUEST_SENT], 1);
    ck_assert_int_eq(m0->count[SOKETI_METRIC_RESPONSE_RECEIVED], 1);
    ck_assert_int_eq(m0->count[SOKETI_METRIC_RESOLVED], 1);
    ck_assert_int_eq(m0->count[SOKETI_METRIC_UNCOMPLETE], 0);
    ck_assert_int_eq(m0->count[SOKETI_METRIC_REQUEST_RECEIVED], 0);
    ck_assert(m0->last_value[SOKETI_METRIC_RESOLVED] >= 0 &&
              m0->last_value[SOKETI_METRIC_RESOLVED] < 3000);
    ck_assert_str_eq(m0->last_app, "app1");
    ck_assert_int_eq(m1->count[SOKETI_METRIC_REQUEST_RECEIVED], 1);
    ck_assert_int_eq(m1->count[SOKETI_METRIC_REQUEST_SENT], 0);
    ck_assert_str_eq(m1->last_app, "app1");

    /* node-1 frozen: node-0's query times out (requestsTimeout 500 ms) */
    live_node_t *n = &live_nodes[0];
    live_answer_t a = {0};
    n->adapter.ops.sockets_count(n->adapter.self, "app2", live_on_count, &a);
    ck_assert(live_pump(1u << 0, 3000, &a.calls));
    ck_assert_int_eq(a.status, SOKETI_PARTIAL);
    ck_assert_int_eq(m0->count[SOKETI_METRIC_UNCOMPLETE], 1);
    ck_assert(m0->last_value[SOKETI_METRIC_UNCOMPLETE] >= 450);
    ck_assert_str_eq(m0->last_app, "app2");

    /* alone, node-0's queries complete on NUMSUB's answer, maybe before its own request
     * comes back: that copy is not a peer's request */
    live_node_stop(1);
    count_sockets_until_ok();
    memset(&live_nodes[0].metrics, 0, sizeof(live_metrics_t));
    for (int i = 0; i < 5; i++)
        count_sockets_until_ok();
    live_pump(LIVE_ALL, 200, NULL);
    ck_assert_int_eq(m0->count[SOKETI_METRIC_RESOLVED], 5);
    ck_assert_int_eq(m0->count[SOKETI_METRIC_RESPONSE_RECEIVED], 0);
    ck_assert_int_eq(m0->count[SOKETI_METRIC_REQUEST_RECEIVED], 0);
}
END_TEST

static Suite *
redis_store_suite(void)
{
    Suite *s = suite_create("redis_store");
    TCase *tc = tcase_create("pure");
    tcase_add_test(tc, occupancy_keys);
    tcase_add_test(tc, transition_replies);
    tcase_add_test(tc, consume_replies);
    tcase_add_test(tc, get_replies);
    tcase_add_test(tc, noscript_replies);
    tcase_add_test(tc, job_keys_and_claims);
    suite_add_tcase(s, tc);

    tc = tcase_create("live");
    tcase_add_checked_fixture(tc, live_setup, live_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, live_transitions_once_per_cluster);
    tcase_add_test(tc, live_transitions_in_call_order);
    tcase_add_test(tc, live_present_across_nodes);
    tcase_add_test(tc, live_dead_node_forgotten);
    tcase_add_test(tc, live_recreated_after_redis_lost_it);
    tcase_add_test(tc, live_cleanup_leaves_and_answers);
    tcase_add_test(tc, live_rate_limits_shared);
    tcase_add_test(tc, live_cache_shared);
    tcase_add_test(tc, live_job_queue);
    tcase_add_test(tc, live_errors_when_redis_is_gone);
    tcase_add_test(tc, live_horizontal_metrics);
    tcase_add_test(tc, live_admit_race);
    tcase_add_test(tc, live_admit_counts_a_user_once);
    tcase_add_test(tc, live_admit_dead_node_forgotten);
    tcase_add_test(tc, live_admit_in_call_order);
    suite_add_tcase(s, tc);
    return s;
}

SKT_CHECK_MAIN(redis_store_suite)
