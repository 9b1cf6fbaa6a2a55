/* check_redis_store_cluster.c - the shared state (plugins/redis/store.c) through the
 * redis-cluster adapter: keyed commands routed to the master of their slot, MOVED and ASK
 * followed (adapter_redis_cluster.c's one redirect path); the durable job queue on either
 * master.
 *
 * Each test makes a throw-away Redis Cluster of two masters (slots 0-8191 and 8192-16383)
 * on free loopback ports and loads the real adapter_redis_cluster.so twice, as two daemons
 * with fake hosts, seeded with the first master only. The redirections are made by moving
 * an empty slot (MOVED) or putting it in migration (ASK) while the nodes' loops do not run,
 * so their slot map is stale for sure when the command is sent; Redis's errorstats tell
 * that the redirection really happened. They pass without running when redis-server is
 * not installed.
 */
#include "check_main.h"
#include <check.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_redis_live.h"
#include "cluster_slots.h"

static live_redis_t srv[2];
static char srv_id[2][64];

/* 1 when r says the cluster is whole: state ok, two nodes, two slot ranges. */
static int
cluster_ready(live_redis_t *r)
{
    redisReply *info = live_cmd(r, "CLUSTER INFO");
    int ok = info->type == REDIS_REPLY_STRING && strstr(info->str, "cluster_state:ok") &&
             strstr(info->str, "cluster_known_nodes:2");
    freeReplyObject(info);
    redisReply *slots = live_cmd(r, "CLUSTER SLOTS");
    ok = ok && slots->type == REDIS_REPLY_ARRAY && slots->elements == 2;
    freeReplyObject(slots);
    return ok;
}

static void
cluster_setup(void)
{
    if (live_skip("check_redis_store_cluster"))
        return;
    for (int i = 0; i < 2; i++) {
        live_redis_start(&srv[i], 1);
        redisReply *id = live_cmd(&srv[i], "CLUSTER MYID");
        ck_assert_int_eq(id->type, REDIS_REPLY_STRING);
        snprintf(srv_id[i], sizeof(srv_id[i]), "%s", id->str);
        freeReplyObject(id);
    }
    freeReplyObject(live_cmd(&srv[0], "CLUSTER ADDSLOTSRANGE 0 8191"));
    freeReplyObject(live_cmd(&srv[1], "CLUSTER ADDSLOTSRANGE 8192 16383"));
    freeReplyObject(live_cmd(&srv[0], "CLUSTER MEET 127.0.0.1 %d", srv[1].port));
    int ready = 0;
    for (int tries = 0; tries < 200 && !ready; tries++) {
        ready = cluster_ready(&srv[0]) && cluster_ready(&srv[1]);
        if (!ready)
            usleep(25000);
    }
    ck_assert_msg(ready, "the test cluster did not form");

    char seeds[64];
    snprintf(seeds, sizeof(seeds), "[\"127.0.0.1:%d\"]", srv[0].port);
    fake_config_reset();
    fake_config_set("database.redis.clusterNodes", seeds);
    live_nodes_start("adapter_redis_cluster.so");
}

static void
cluster_teardown(void)
{
    live_nodes_stop();
    for (int i = 0; i < 2; i++)
        live_redis_stop(&srv[i]);
}

/* Writes into key (cap bytes) the occupancy key of the first channel "<stem><n>" whose slot
 * master m serves, and into channel its name; answers the slot. */
static unsigned
channel_on(int m, const char *stem, char *channel, size_t ccap, char *key, size_t kcap)
{
    for (int n = 0;; n++) {
        snprintf(channel, ccap, "%s%d", stem, n);
        snprintf(key, kcap, "pfx:redis-adapter#occupancy#app1#%s", channel);
        unsigned slot = skt_rcs_key_slot(key, strlen(key));
        if ((slot < 8192) == (m == 0))
            return slot;
    }
}

/* Starts moving the (empty) slot of an occupancy key served by the first master to the
 * second: it imports it, the first migrates it. Fills channel and key; answers the slot. */
static unsigned
migration_begin(const char *stem, char *channel, size_t ccap, char *key, size_t kcap)
{
    unsigned slot = channel_on(0, stem, channel, ccap, key, kcap);
    freeReplyObject(live_cmd(&srv[1], "CLUSTER SETSLOT %u IMPORTING %s", slot, srv_id[0]));
    freeReplyObject(live_cmd(&srv[0], "CLUSTER SETSLOT %u MIGRATING %s", slot, srv_id[1]));
    return slot;
}

/* How many times r answered the error (MOVED, ASK) so far. */
static long
errorstat(live_redis_t *r, const char *error)
{
    redisReply *info = live_cmd(r, "INFO errorstats");
    char needle[64];
    snprintf(needle, sizeof(needle), "errorstat_%s:count=", error);
    const char *at = strstr(info->str, needle);
    long n = at ? strtol(at + strlen(needle), NULL, 10) : 0;
    freeReplyObject(info);
    return n;
}

START_TEST(cluster_shared_state_on_both_masters)
{
    LIVE_OR_SKIP();
    for (int m = 0; m < 2; m++) {
        char channel[64], key[128];
        channel_on(m, "private-both-", channel, sizeof(channel), key, sizeof(key));
        ck_assert_int_eq(live_transition(0, channel, NULL, 1), 1);
        ck_assert_int_eq(live_transition(1, channel, NULL, 1), 0);
        ck_assert_int_eq(live_int(&srv[m], "ZCARD %s", key), 2); /* on its slot's master */
        ck_assert_int_eq(live_transition(0, channel, NULL, 0), 0);
        ck_assert_int_eq(live_transition(1, channel, NULL, 0), 1);
        ck_assert_int_eq(live_int(&srv[m], "EXISTS %s", key), 0);
    }
    /* rate limits and the cache on keys of both halves */
    static const char *const keys[] = {"app:1:a", "app:1:b", "app:1:c", "app:1:d"};
    int seen[2] = {0, 0};
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
        char full[64];
        snprintf(full, sizeof(full), "pfx:%s", keys[k]);
        seen[skt_rcs_key_slot(full, strlen(full)) >= 8192] = 1;
        live_answer_t a = {0};
        live_nodes[0].adapter.ops.rate_consume(live_nodes[0].adapter.self, keys[k], 2, 1000,
                                               live_on_consume, &a);
        ck_assert(live_pump(LIVE_ALL, 3000, &a.calls));
        ck_assert_int_eq(a.status, SOKETI_OK);
        ck_assert_int_eq(a.count, 2);
        live_nodes[0].adapter.ops.cache_set(live_nodes[0].adapter.self, keys[k], "v", 1, 60);
        live_answer_t g = {0};
        live_nodes[1].adapter.ops.cache_get(live_nodes[1].adapter.self, keys[k], live_on_value, &g);
        ck_assert(live_pump(LIVE_ALL, 3000, &g.calls));
        ck_assert_int_eq(g.status, SOKETI_OK);
        ck_assert(g.has_value && g.len == 1 && g.value[0] == 'v');
    }
    ck_assert(seen[0] && seen[1]);
}
END_TEST

/* A job_claim's answer: how many jobs, and the first one's data. */
typedef struct jobs_seen_s {
    int calls, status;
    size_t n;
    char data[64];
} jobs_seen_t;

static void
on_jobs(void *arg, int status, const soketi_job_t *jobs, size_t n)
{
    jobs_seen_t *a = arg;
    a->calls++;
    a->status = status;
    a->n = n;
    if (n)
        snprintf(a->data, sizeof(a->data), "%.*s", (int)jobs[0].len, jobs[0].data);
}

/* The durable job queue (job_put / job_claim) on queues of both masters: each queue's keys
 * share its hash tag, so one script reaches them all on their slot's master. */
START_TEST(cluster_job_queue_on_both_masters)
{
    LIVE_OR_SKIP();
    int seen[2] = {0, 0};
    for (int q = 0; q < 16 && !(seen[0] && seen[1]); q++) {
        char queue[32], due[64];
        snprintf(queue, sizeof(queue), "jobs-%d", q);
        snprintf(due, sizeof(due), "pfx:{%s}#due", queue);
        int m = skt_rcs_key_slot(due, strlen(due)) >= 8192;
        if (seen[m])
            continue;
        seen[m] = 1;
        live_node_t *n0 = &live_nodes[0], *n1 = &live_nodes[1];
        live_answer_t a = {0};
        n0->adapter.ops.job_put(n0->adapter.self, queue, "app1", "j1", "data", 4, 0, 10, 'n',
                                live_on_count, &a);
        ck_assert(live_pump(LIVE_ALL, 3000, &a.calls));
        ck_assert_int_eq(a.status, SOKETI_OK);
        ck_assert_int_eq(live_int(&srv[m], "ZCARD %s", due), 1); /* on its slot's master */
        jobs_seen_t j = {0};
        n1->adapter.ops.job_claim(n1->adapter.self, queue, NULL, 0, 5, 1000, on_jobs, &j);
        ck_assert(live_pump(LIVE_ALL, 3000, &j.calls));
        ck_assert_int_eq(j.status, SOKETI_OK);
        ck_assert_uint_eq(j.n, 1);
        ck_assert_str_eq(j.data, "data");
        live_answer_t d = {0};
        n1->adapter.ops.job_put(n1->adapter.self, queue, "app1", "j1", NULL, 0, 0, 0, 'd',
                                live_on_count, &d);
        ck_assert(live_pump(LIVE_ALL, 3000, &d.calls));
        ck_assert_int_eq(d.status, SOKETI_OK);
        ck_assert_int_eq(live_int(&srv[m], "EXISTS %s", due), 0);
    }
    ck_assert(seen[0] && seen[1]);
}
END_TEST

START_TEST(cluster_moved_is_followed)
{
    LIVE_OR_SKIP();
    char channel[64], key[128];
    long moved = errorstat(&srv[0], "MOVED");
    /* the empty slot moves to the second master while the nodes' maps still say the first */
    unsigned slot = migration_begin("private-moved-", channel, sizeof(channel), key, sizeof(key));
    freeReplyObject(live_cmd(&srv[1], "CLUSTER SETSLOT %u NODE %s", slot, srv_id[1]));
    freeReplyObject(live_cmd(&srv[0], "CLUSTER SETSLOT %u NODE %s", slot, srv_id[1]));
    ck_assert_int_eq(live_transition(0, channel, NULL, 1), 1);
    ck_assert_int_gt(errorstat(&srv[0], "MOVED"), moved);
    ck_assert_int_eq(live_int(&srv[1], "ZCARD %s", key), 1);
    ck_assert_int_eq(live_transition(1, channel, NULL, 1), 0);
    ck_assert_int_eq(live_int(&srv[1], "ZCARD %s", key), 2);
}
END_TEST

START_TEST(cluster_ask_is_followed)
{
    LIVE_OR_SKIP();
    char channel[64], key[128];
    long ask = errorstat(&srv[0], "ASK");
    /* the empty slot is being migrated: its keys are on the importing master, reached with
     * ASKING */
    unsigned slot = migration_begin("private-ask-", channel, sizeof(channel), key, sizeof(key));
    ck_assert_int_eq(live_transition(0, channel, NULL, 1), 1);
    ck_assert_int_gt(errorstat(&srv[0], "ASK"), ask);
    ck_assert_int_eq(live_transition(1, channel, NULL, 1), 0);
    ck_assert_int_eq(live_transition(0, channel, NULL, 0), 0);
    freeReplyObject(live_cmd(&srv[1], "ASKING"));
    ck_assert_int_eq(live_int(&srv[1], "ZCARD %s", key), 1);
    ck_assert_int_eq(live_int(&srv[0], "CLUSTER COUNTKEYSINSLOT %u", slot), 0);
}
END_TEST

/* A presence channel's keys (every member's and its set of users) share one hash slot, so
 * that the admission script may use them together, on whichever master serves it. */
START_TEST(cluster_admit_on_both_masters)
{
    LIVE_OR_SKIP();
    for (int m = 0; m < 2; m++) {
        char channel[64], set[128];
        for (int n = 0;; n++) {
            snprintf(channel, sizeof(channel), "presence-admit-%d", n);
            snprintf(set, sizeof(set), "pfx:redis-adapter#members#{app1#%s}", channel);
            if ((skt_rcs_key_slot(set, strlen(set)) < 8192) == (m == 0))
                break;
        }
        unsigned slot = skt_rcs_key_slot(set, strlen(set));
        for (int u = 0; u < 20; u++) {
            char member[160];
            snprintf(member, sizeof(member), "%s#user-%d", set, u);
            ck_assert_uint_eq(skt_rcs_key_slot(member, strlen(member)), slot);
        }
        ck_assert_int_eq(live_admit(0, channel, "u1", 2), 1);
        ck_assert_int_eq(live_admit(1, channel, "u1", 2), 2);
        ck_assert_int_eq(live_admit(1, channel, "u2", 2), 1);
        ck_assert_int_eq(live_admit(0, channel, "u3", 2), 0);
        ck_assert_int_eq(live_int(&srv[m], "ZCARD %s", set), 2); /* on its slot's master */
        ck_assert_int_eq(live_transition(1, channel, "u2", 0), 1);
        ck_assert_int_eq(live_admit(0, channel, "u3", 2), 1);
    }
}
END_TEST

static Suite *
redis_store_cluster_suite(void)
{
    Suite *s = suite_create("redis_store_cluster");
    TCase *tc = tcase_create("live");
    tcase_add_checked_fixture(tc, cluster_setup, cluster_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, cluster_shared_state_on_both_masters);
    tcase_add_test(tc, cluster_moved_is_followed);
    tcase_add_test(tc, cluster_ask_is_followed);
    tcase_add_test(tc, cluster_admit_on_both_masters);
    tcase_add_test(tc, cluster_job_queue_on_both_masters);
    suite_add_tcase(s, tc);
    return s;
}

SKT_CHECK_MAIN(redis_store_cluster_suite)
