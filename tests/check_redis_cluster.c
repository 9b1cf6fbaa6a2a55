/* check_redis_cluster.c - unit tests for the redis-cluster adapter's routing
 * (plugins/redis/cluster_slots.c): CRC16 key slots and hash tags, the slot map from
 * CLUSTER SLOTS replies, MOVED/ASK errors, and the clusterNodes seed list.
 *
 * The slot vectors are what Redis 7's CLUSTER KEYSLOT answers; the CLUSTER SLOTS replies
 * are RESP bytes as a Redis 7.0 cluster of 3 masters and 3 replicas sent them, parsed with
 * hiredis's own reader as the adapter gets them.
 */
#include "check_main.h"
#include "check_resp.h"
#include <check.h>
#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_slots.h"

/* One RESP reply from a NUL-terminated text. */
#define resp(text) check_resp((text), strlen(text))

static unsigned
slot_of(const char *key)
{
    return skt_rcs_key_slot(key, strlen(key));
}

/* ---- key slots ------------------------------------------------------------------------ */

START_TEST(crc16_known_vector)
{
    /* the CRC-16/XMODEM check value, and the example of the Redis Cluster spec */
    ck_assert_uint_eq(skt_rcs_crc16("123456789", 9), 0x31C3);
    ck_assert_uint_eq(slot_of("123456789"), 12739);
    ck_assert_uint_eq(skt_rcs_crc16("", 0), 0);
}
END_TEST

START_TEST(key_slots_match_redis)
{
    ck_assert_uint_eq(slot_of("foo"), 12182);
    ck_assert_uint_eq(slot_of("bar"), 5061);
    ck_assert_uint_eq(slot_of("hello"), 866);
    ck_assert_uint_eq(slot_of("somekey"), 11058);
    ck_assert_uint_eq(slot_of(""), 0);
    /* the adapter's own channels */
    ck_assert_uint_eq(slot_of("redis-adapter"), 8465);
    ck_assert_uint_eq(slot_of("redis-adapter#comms#req"), 7360);
    ck_assert_uint_eq(slot_of("redis-adapter#comms#res"), 15490);
    /* binary keys: the length counts, not a NUL */
    ck_assert_uint_eq(skt_rcs_key_slot("foo\0bar", 7), skt_rcs_key_slot("foo\0bar", 7));
    ck_assert_uint_ne(skt_rcs_key_slot("foo\0bar", 7), slot_of("foo"));
}
END_TEST

START_TEST(hash_tags)
{
    ck_assert_uint_eq(slot_of("{user1000}.following"), 3443);
    ck_assert_uint_eq(slot_of("{user1000}.followers"), 3443);
    ck_assert_uint_eq(slot_of("user1000"), 3443);
    /* only the first { and the first } after it count */
    ck_assert_uint_eq(slot_of("foo{bar}{zap}"), 5061);
    ck_assert_uint_eq(slot_of("foo{{bar}}zap"), 4015); /* the tag is "{bar" */
    ck_assert_uint_eq(slot_of("{bar"), 4015);
    /* an empty tag, or none closed: the whole key */
    ck_assert_uint_eq(slot_of("foo{}{bar}"), 8363);
    ck_assert_uint_eq(slot_of("{}"), 15257);
    ck_assert_uint_eq(slot_of("a{b"), 13340);
}
END_TEST

/* ---- the slot map --------------------------------------------------------------------- */

/* 3 masters with one replica each, as Redis 7.0 answers (each node with its empty
 * metadata array). */
static const char *const slots_6_nodes =
    "*3\r\n"
    "*4\r\n:0\r\n:5460\r\n"
    "*4\r\n$9\r\n127.0.0.1\r\n:17001\r\n$40\r\n818082c3ddba57f3ee4b2e84c9e329ce7f17661a\r\n*0\r\n"
    "*4\r\n$9\r\n127.0.0.1\r\n:17006\r\n$40\r\n8aae2a7c81f982adf21acfae85e14fdd75bb1e1f\r\n*0\r\n"
    "*4\r\n:5461\r\n:10922\r\n"
    "*4\r\n$9\r\n127.0.0.1\r\n:17002\r\n$40\r\n77ca797cfac955dada930114c2e1fb31517a3306\r\n*0\r\n"
    "*4\r\n$9\r\n127.0.0.1\r\n:17004\r\n$40\r\n0f0b50d0152a184af43272b86cc326328a2447fa\r\n*0\r\n"
    "*4\r\n:10923\r\n:16383\r\n"
    "*4\r\n$9\r\n127.0.0.1\r\n:17003\r\n$40\r\n4dc23e3c392e0d8776666b3c6d25769d481ca3d2\r\n*0\r\n"
    "*4\r\n$9\r\n127.0.0.1\r\n:17005\r\n$40\r\nf0a288067cf8e1994ecf1dc3da17f870971bf9d7\r\n*0\r\n";

START_TEST(map_from_cluster_slots)
{
    redisReply *r = resp(slots_6_nodes);
    const char *why = "unset";
    skt_rcs_map_t *m = skt_rcs_map_parse(r, "127.0.0.1", &why);
    ck_assert_ptr_nonnull(m);
    ck_assert_ptr_null(why);
    ck_assert_uint_eq(m->n_nodes, 6);
    ck_assert_uint_eq(m->covered, SKT_RCS_SLOTS);
    const skt_rcs_node_t *o = skt_rcs_map_owner(m, 0);
    ck_assert_int_eq(o->port, 17001);
    ck_assert_str_eq(o->id, "818082c3ddba57f3ee4b2e84c9e329ce7f17661a");
    ck_assert_int_eq(skt_rcs_map_owner(m, 5460)->port, 17001);
    ck_assert_int_eq(skt_rcs_map_owner(m, 5461)->port, 17002);
    ck_assert_int_eq(skt_rcs_map_owner(m, 8465)->port, 17002); /* redis-adapter */
    ck_assert_int_eq(skt_rcs_map_owner(m, 16383)->port, 17003);
    ck_assert_ptr_null(skt_rcs_map_owner(m, SKT_RCS_SLOTS));
    /* replicas are nodes too, not masters */
    long i = skt_rcs_map_find(m, "127.0.0.1", 17004);
    ck_assert_int_ge(i, 0);
    ck_assert_int_eq(m->nodes[i].master, 0);
    ck_assert_int_eq(m->nodes[skt_rcs_map_find(m, "127.0.0.1", 17002)].master, 1);
    ck_assert_int_eq(skt_rcs_map_find(m, "127.0.0.1", 17007), -1);
    ck_assert_int_eq(skt_rcs_map_find(m, "127.0.0.2", 17001), -1);
    skt_rcs_map_free(m);
    freeReplyObject(r);
}
END_TEST

START_TEST(map_partial_and_split_ranges)
{
    /* one master serving two ranges (counted once), a gap, an empty host (the asked
     * node's), and a node with an unknown endpoint whose range stays uncovered */
    redisReply *r = resp("*4\r\n"
                         "*3\r\n:0\r\n:99\r\n*2\r\n$8\r\n10.0.0.1\r\n:7000\r\n"
                         "*3\r\n:200\r\n:299\r\n*3\r\n$8\r\n10.0.0.1\r\n:7000\r\n$1\r\nx\r\n"
                         "*3\r\n:300\r\n:300\r\n*3\r\n$0\r\n\r\n:7001\r\n$1\r\ny\r\n"
                         "*3\r\n:400\r\n:499\r\n*3\r\n$1\r\n?\r\n:7002\r\n$1\r\nz\r\n");
    const char *why;
    skt_rcs_map_t *m = skt_rcs_map_parse(r, "seed.example", &why);
    ck_assert_ptr_nonnull(m);
    ck_assert_uint_eq(m->n_nodes, 2);
    ck_assert_uint_eq(m->covered, 201);
    ck_assert_str_eq(skt_rcs_map_owner(m, 250)->host, "10.0.0.1");
    ck_assert_ptr_null(skt_rcs_map_owner(m, 100));
    ck_assert_str_eq(skt_rcs_map_owner(m, 300)->host, "seed.example");
    ck_assert_int_eq(skt_rcs_map_owner(m, 300)->port, 7001);
    ck_assert_ptr_null(skt_rcs_map_owner(m, 450));
    skt_rcs_map_free(m);
    freeReplyObject(r);
}
END_TEST

START_TEST(map_rejects_garbage)
{
    static const char *const bad[] = {
        "*0\r\n",  /* no slot served (cluster not made) */
        "+OK\r\n", /* not an array */
        "-ERR This instance has cluster support disabled\r\n",
        "*1\r\n:1\r\n",                                          /* a range that is not an array */
        "*1\r\n*2\r\n:0\r\n:10\r\n",                             /* no master */
        "*1\r\n*3\r\n:10\r\n:0\r\n*2\r\n$1\r\na\r\n:1\r\n",      /* end before start */
        "*1\r\n*3\r\n:0\r\n:16384\r\n*2\r\n$1\r\na\r\n:1\r\n",   /* past the last slot */
        "*1\r\n*3\r\n:0\r\n:1\r\n*2\r\n$1\r\na\r\n:0\r\n",       /* port 0 */
        "*1\r\n*3\r\n:0\r\n:1\r\n*2\r\n:1\r\n:1\r\n",            /* host not a string */
        "*1\r\n*3\r\n:0\r\n:1\r\n*1\r\n$1\r\na\r\n",             /* no port */
        "*1\r\n*4\r\n:0\r\n:1\r\n*2\r\n$1\r\na\r\n:1\r\n:5\r\n", /* a replica not an array */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        redisReply *r = resp(bad[i]);
        const char *why = NULL;
        ck_assert_msg(skt_rcs_map_parse(r, "h", &why) == NULL, "accepted case %zu", i);
        ck_assert_ptr_nonnull(why);
        freeReplyObject(r);
    }
    const char *why = NULL;
    ck_assert_ptr_null(skt_rcs_map_parse(NULL, "h", &why));
    ck_assert_ptr_nonnull(why);
}
END_TEST

/* ---- redirections --------------------------------------------------------------------- */

static int
redirect(const char *err, skt_rcs_redirect_t *out)
{
    return skt_rcs_parse_redirect(err, strlen(err), "10.1.1.1", out);
}

START_TEST(moved_and_ask)
{
    skt_rcs_redirect_t rd;
    ck_assert_int_eq(redirect("MOVED 3999 127.0.0.1:6381", &rd), 0);
    ck_assert_int_eq(rd.kind, SKT_RCS_MOVED);
    ck_assert_uint_eq(rd.slot, 3999);
    ck_assert_str_eq(rd.host, "127.0.0.1");
    ck_assert_int_eq(rd.port, 6381);

    ck_assert_int_eq(redirect("ASK 16383 redis-2.internal:7000", &rd), 0);
    ck_assert_int_eq(rd.kind, SKT_RCS_ASK);
    ck_assert_uint_eq(rd.slot, 16383);
    ck_assert_str_eq(rd.host, "redis-2.internal");
    ck_assert_int_eq(rd.port, 7000);

    /* IPv6: the port is after the last colon; brackets are dropped */
    ck_assert_int_eq(redirect("MOVED 0 ::1:7001", &rd), 0);
    ck_assert_str_eq(rd.host, "::1");
    ck_assert_int_eq(rd.port, 7001);
    ck_assert_int_eq(redirect("MOVED 1 [fe80::1]:7002", &rd), 0);
    ck_assert_str_eq(rd.host, "fe80::1");

    /* an empty host is the node that answered */
    ck_assert_int_eq(redirect("MOVED 12 :7003", &rd), 0);
    ck_assert_str_eq(rd.host, "10.1.1.1");
    ck_assert_int_eq(rd.port, 7003);
    ck_assert_int_eq(skt_rcs_parse_redirect("MOVED 12 :7003", 14, NULL, &rd), -1);

    /* only len bytes are read */
    ck_assert_int_eq(skt_rcs_parse_redirect("MOVED 5 h:1234567", 13, "x", &rd), 0);
    ck_assert_int_eq(rd.port, 123);
}
END_TEST

START_TEST(other_errors_are_not_redirects)
{
    static const char *const bad[] = {
        "ERR unknown command",
        "CLUSTERDOWN The cluster is down",
        "TRYAGAIN x",
        "MOVED",
        "MOVED ",
        "MOVED 3999",
        "MOVED 3999 ",
        "MOVED x 127.0.0.1:1",
        "MOVED 16384 h:1",
        "MOVED 123456 h:1",
        "MOVED 1 h",
        "MOVED 1 h:",
        "MOVED 1 h:0",
        "MOVED 1 h:65536",
        "MOVED 1 h:12x",
        "ASK 1 h p:1",
        "moved 1 h:1",
        "MOVED  1 h:1",
    };
    skt_rcs_redirect_t rd;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(redirect(bad[i], &rd) == -1, "accepted \"%s\"", bad[i]);
}
END_TEST

/* ---- seed nodes ----------------------------------------------------------------------- */

START_TEST(addresses_as_ioredis_takes_them)
{
    static const struct {
        const char *in, *host;
        int port;
    } ok[] = {
        {"127.0.0.1:7000", "127.0.0.1", 7000},
        {"redis.internal", "redis.internal", 6379},
        {"7001", "127.0.0.1", 7001},
        {"[::1]:7002", "::1", 7002},
        {"[::1]", "::1", 6379},
        {"::1", "::1", 6379},
        {"redis://10.0.0.5:7003", "10.0.0.5", 7003},
        {"redis://user:secret@10.0.0.6:7004/0", "10.0.0.6", 7004},
        {"rediss://h", "h", 6379},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        skt_rcs_addr_t a;
        ck_assert_msg(skt_rcs_parse_addr(ok[i].in, &a) == 0, "refused %s", ok[i].in);
        ck_assert_str_eq(a.host, ok[i].host);
        ck_assert_int_eq(a.port, ok[i].port);
        free(a.host);
    }
    static const char *const bad[] = {"",        "h:",         ":7000",    "h:0",       "h:70000",
                                      "h:7000x", "0",          "99999",    "[::1",      "[]:7000",
                                      "[::1]x",  "http://h:1", "redis://", "redis://:1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        skt_rcs_addr_t a;
        ck_assert_msg(skt_rcs_parse_addr(bad[i], &a) == -1, "accepted \"%s\"", bad[i]);
        ck_assert_ptr_null(a.host);
    }
}
END_TEST

START_TEST(seed_list)
{
    skt_rcs_addr_t *a;
    size_t n;
    char err[128];
    ck_assert_int_eq(skt_rcs_parse_seeds("[{\"host\":\"10.0.0.1\",\"port\":7000},\"10.0.0.2:7001\","
                                         "7002,{\"port\":\"7003\"},{\"host\":\"h\"},"
                                         "\"10.0.0.2:7001\"]",
                                         &a, &n, err, sizeof(err)),
                     0);
    ck_assert_uint_eq(n, 5); /* the repeated one once */
    ck_assert_str_eq(a[0].host, "10.0.0.1");
    ck_assert_int_eq(a[0].port, 7000);
    ck_assert_str_eq(a[1].host, "10.0.0.2");
    ck_assert_int_eq(a[1].port, 7001);
    ck_assert_str_eq(a[2].host, "127.0.0.1");
    ck_assert_int_eq(a[2].port, 7002);
    ck_assert_str_eq(a[3].host, "127.0.0.1");
    ck_assert_int_eq(a[3].port, 7003);
    ck_assert_str_eq(a[4].host, "h");
    ck_assert_int_eq(a[4].port, 6379);
    skt_rcs_addrs_free(a, n);

    ck_assert_int_eq(skt_rcs_parse_seeds("[]", &a, &n, err, sizeof(err)), 0);
    ck_assert_uint_eq(n, 0);
    skt_rcs_addrs_free(a, n);

    static const char *const bad[] = {
        "{}",
        "null",
        "\"127.0.0.1:7000\"",
        "[true]",
        "[{\"host\":1}]",
        "[{\"port\":0}]",
        "[{\"port\":\"x\"}]",
        "[\"h:0\"]",
        "[0]",
        "[{\"host\":\"\"}]",
        "not json",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        ck_assert_msg(skt_rcs_parse_seeds(bad[i], &a, &n, err, sizeof(err)) == -1, "accepted %s",
                      bad[i]);
        ck_assert_ptr_null(a);
        ck_assert_uint_eq(n, 0);
        ck_assert_msg(strstr(err, "clusterNodes") != NULL, "no reason for %s: %s", bad[i], err);
    }
}
END_TEST

static Suite *
redis_cluster_suite(void)
{
    Suite *s = suite_create("redis_cluster");
    TCase *slots = tcase_create("slots");
    tcase_add_test(slots, crc16_known_vector);
    tcase_add_test(slots, key_slots_match_redis);
    tcase_add_test(slots, hash_tags);
    suite_add_tcase(s, slots);
    TCase *map = tcase_create("map");
    tcase_add_test(map, map_from_cluster_slots);
    tcase_add_test(map, map_partial_and_split_ranges);
    tcase_add_test(map, map_rejects_garbage);
    suite_add_tcase(s, map);
    TCase *rd = tcase_create("redirect");
    tcase_add_test(rd, moved_and_ask);
    tcase_add_test(rd, other_errors_are_not_redirects);
    suite_add_tcase(s, rd);
    TCase *seeds = tcase_create("seeds");
    tcase_add_test(seeds, addresses_as_ioredis_takes_them);
    tcase_add_test(seeds, seed_list);
    suite_add_tcase(s, seeds);
    return s;
}

SKT_CHECK_MAIN(redis_cluster_suite)
