/* check_redis_sentinel.c - unit tests for Redis Sentinel's pure part
 * (plugins/redis/sentinel_proto.c): database.redis.sentinels as ioredis takes it, and the
 * replies of sentinels and masters (SENTINEL get-master-addr-by-name, +switch-master,
 * ROLE), made from RESP bytes with hiredis's own reader as Redis 7 sends them.
 */
#include "check_main.h"
#include "check_resp.h"
#include <check.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <string.h>

#include "sentinel_proto.h"

/* ---- database.redis.sentinels --------------------------------------------------------- */

static int
parse(const char *json, skt_rsen_addr_t *out, char *err)
{
    return skt_rsen_parse_sentinels(json, out, SKT_RSEN_MAX_SENTINELS, err, 256);
}

START_TEST(sentinels_config)
{
    skt_rsen_addr_t a[SKT_RSEN_MAX_SENTINELS];
    char err[256];
    /* unset: no Sentinel */
    ck_assert_int_eq(parse("", a, err), 0);
    ck_assert_int_eq(parse("null", a, err), 0);
    ck_assert_int_eq(parse("[]", a, err), 0);
    ck_assert_int_eq(parse(" null ", a, err), 0);
    /* in order; ports as numbers or digit strings (an environment variable's JSON) */
    ck_assert_int_eq(parse("[{\"host\":\"10.0.0.1\",\"port\":26379},"
                           "{\"host\":\"sentinel-b\",\"port\":\"26380\"}]",
                           a, err),
                     2);
    ck_assert_str_eq(a[0].host, "10.0.0.1");
    ck_assert_int_eq(a[0].port, 26379);
    ck_assert_str_eq(a[1].host, "sentinel-b");
    ck_assert_int_eq(a[1].port, 26380);
    /* ioredis's defaults: localhost, 26379; other keys are ignored */
    ck_assert_int_eq(parse("[{}, {\"host\":null,\"port\":null,\"family\":4}]", a, err), 2);
    ck_assert_str_eq(a[0].host, "localhost");
    ck_assert_int_eq(a[0].port, 26379);
    ck_assert_str_eq(a[1].host, "localhost");
    ck_assert_int_eq(a[1].port, SKT_RSEN_DEFAULT_PORT);
}
END_TEST

/* A list of n sentinels on ports 1..n, written into buf. */
static const char *
sentinel_list(char *buf, int n)
{
    size_t at = 0;
    buf[at++] = '[';
    for (int i = 0; i < n; i++)
        at += (size_t)sprintf(buf + at, "%s{\"port\":%d}", i ? "," : "", i + 1);
    strcpy(buf + at, "]");
    return buf;
}

START_TEST(sentinels_config_refused)
{
    skt_rsen_addr_t a[SKT_RSEN_MAX_SENTINELS];
    char err[256];
    static const struct {
        const char *json, *why;
    } bad[] = {
        {"{\"host\":\"a\"}", "must be an array"},
        {"[1]", "[0] is not an object"},
        {"[{\"host\":\"a\"},{\"host\":5}]", "[1].host is not a string"},
        {"[{\"host\":\"\"}]", "[0].host is not a host name"},
        {"[{\"host\":\"a b\"}]", "[0].host is not a host name"},
        {"[{\"host\":\"a\",\"port\":0}]", "[0].port is not a TCP port"},
        {"[{\"host\":\"a\",\"port\":65536}]", "[0].port is not a TCP port"},
        {"[{\"host\":\"a\",\"port\":\"26x\"}]", "[0].port is not a TCP port"},
        {"[{\"host\":\"a\",\"port\":26379.5}]", "[0].port is not a TCP port"},
        {"[{\"host\":\"a\",\"port\":true}]", "[0].port is not a TCP port"},
        {"[{\"host\":\"a\"", "is not JSON"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        ck_assert_msg(parse(bad[i].json, a, err) == -1, "accepted %s", bad[i].json);
        ck_assert_msg(strstr(err, bad[i].why), "%s: %s", bad[i].json, err);
    }
    /* a host name longer than any resolver takes */
    char json[600];
    memset(json, 'h', sizeof(json));
    memcpy(json, "[{\"host\":\"", 10);
    memcpy(json + 10 + SKT_RSEN_HOST_MAX + 1, "\"}]", 4);
    ck_assert_int_eq(parse(json, a, err), -1);
    /* one less fits */
    memcpy(json + 10 + SKT_RSEN_HOST_MAX, "\"}]", 4);
    ck_assert_int_eq(parse(json, a, err), 1);
    ck_assert_uint_eq(strlen(a[0].host), SKT_RSEN_HOST_MAX);
    /* at most SKT_RSEN_MAX_SENTINELS */
    char many[64 * (SKT_RSEN_MAX_SENTINELS + 1)];
    ck_assert_int_eq(parse(sentinel_list(many, SKT_RSEN_MAX_SENTINELS + 1), a, err), -1);
    ck_assert_ptr_nonnull(strstr(err, "at most 16"));
    ck_assert_int_eq(parse(sentinel_list(many, SKT_RSEN_MAX_SENTINELS), a, err),
                     SKT_RSEN_MAX_SENTINELS);
    ck_assert_int_eq(a[SKT_RSEN_MAX_SENTINELS - 1].port, SKT_RSEN_MAX_SENTINELS);
}
END_TEST

/* ---- SENTINEL get-master-addr-by-name -------------------------------------------------- */

START_TEST(master_replies)
{
    skt_rsen_addr_t a = {.port = 0};
    redisReply *r = RESP("*2\r\n$9\r\n127.0.0.1\r\n$4\r\n6380\r\n");
    ck_assert_int_eq(skt_rsen_parse_master_reply(r, &a), SKT_RSEN_FOUND);
    ck_assert_str_eq(a.host, "127.0.0.1");
    ck_assert_int_eq(a.port, 6380);
    freeReplyObject(r);

    /* an IPv6 master */
    r = RESP("*2\r\n$3\r\n::1\r\n$5\r\n65535\r\n");
    ck_assert_int_eq(skt_rsen_parse_master_reply(r, &a), SKT_RSEN_FOUND);
    ck_assert_str_eq(a.host, "::1");
    ck_assert_int_eq(a.port, 65535);
    freeReplyObject(r);

    /* a name the sentinel does not monitor */
    r = RESP("*-1\r\n");
    ck_assert_int_eq(skt_rsen_parse_master_reply(r, &a), SKT_RSEN_UNKNOWN);
    freeReplyObject(r);
    r = RESP("$-1\r\n");
    ck_assert_int_eq(skt_rsen_parse_master_reply(r, &a), SKT_RSEN_UNKNOWN);
    freeReplyObject(r);
    r = RESP("-NOAUTH Authentication required.\r\n");
    ck_assert_int_eq(skt_rsen_parse_master_reply(r, &a), SKT_RSEN_REFUSED);
    freeReplyObject(r);

    /* nothing else is an address; *a is untouched */
    static const char *const bad[] = {
        "*2\r\n$9\r\n127.0.0.1\r\n$1\r\n0\r\n",
        "*2\r\n$9\r\n127.0.0.1\r\n$5\r\n65536\r\n",
        "*2\r\n$9\r\n127.0.0.1\r\n$4\r\n63x0\r\n",
        "*2\r\n$9\r\n127.0.0.1\r\n:6380\r\n",
        "*2\r\n$0\r\n\r\n$4\r\n6380\r\n",
        "*2\r\n$3\r\na b\r\n$4\r\n6380\r\n",
        "*3\r\n$1\r\na\r\n$4\r\n6380\r\n$1\r\nx\r\n",
        "*1\r\n$1\r\na\r\n",
        "+OK\r\n",
        ":1\r\n",
        "*2\r\n$1\r\na\r\n$6\r\n000001\r\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r = check_resp(bad[i], strlen(bad[i]));
        ck_assert_msg(skt_rsen_parse_master_reply(r, &a) == SKT_RSEN_MALFORMED, "accepted %s",
                      bad[i]);
        ck_assert_str_eq(a.host, "::1");
        freeReplyObject(r);
    }
    ck_assert_int_eq(skt_rsen_parse_master_reply(NULL, &a), SKT_RSEN_MALFORMED);
}
END_TEST

/* ---- +switch-master ------------------------------------------------------------------- */

START_TEST(switch_messages)
{
    skt_rsen_addr_t a = {.port = 0};
    const char *m = "mymaster 127.0.0.1 6379 127.0.0.1 6380";
    ck_assert_int_eq(skt_rsen_parse_switch(m, strlen(m), "mymaster", &a), 1);
    ck_assert_str_eq(a.host, "127.0.0.1");
    ck_assert_int_eq(a.port, 6380);
    /* another master of the same sentinels, or a name that only starts alike */
    m = "other 10.0.0.1 6379 10.0.0.2 7000";
    ck_assert_int_eq(skt_rsen_parse_switch(m, strlen(m), "mymaster", &a), 0);
    ck_assert_int_eq(skt_rsen_parse_switch(m, strlen(m), "othe", &a), 0);
    ck_assert_int_eq(skt_rsen_parse_switch(m, strlen(m), "other2", &a), 0);
    ck_assert_int_eq(a.port, 6380);
    /* only len bytes count */
    m = "mymaster 127.0.0.1 6379 10.1.2.3 6381 trailing";
    ck_assert_int_eq(skt_rsen_parse_switch(m, strlen(m) - 9, "mymaster", &a), 1);
    ck_assert_str_eq(a.host, "10.1.2.3");
    ck_assert_int_eq(a.port, 6381);

    static const char *const bad[] = {
        "",
        "mymaster",
        "mymaster 127.0.0.1 6379 127.0.0.1",
        "mymaster 127.0.0.1 6379 127.0.0.1 6380 x",
        "mymaster 127.0.0.1 6379 127.0.0.1 6380 ",
        "mymaster  127.0.0.1 6379 127.0.0.1 6380",
        "mymaster 127.0.0.1 6379 127.0.0.1 0",
        "mymaster 127.0.0.1 6379 127.0.0.1 99999",
        "mymaster 127.0.0.1 63a9 127.0.0.1 6380",
        "mymaster 127.0.0.1 6379 127.0.0.1 6380\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(skt_rsen_parse_switch(bad[i], strlen(bad[i]), "mymaster", &a) == -1,
                      "accepted \"%s\"", bad[i]);
    ck_assert_int_eq(a.port, 6381);
}
END_TEST

/* ---- ROLE -------------------------------------------------------------------------------- */

START_TEST(role_replies)
{
    char role[40];
    redisReply *r = RESP("*3\r\n$6\r\nmaster\r\n:3129659\r\n*1\r\n*3\r\n$9\r\n127.0.0.1\r\n"
                         "$4\r\n9001\r\n$7\r\n3129242\r\n");
    ck_assert_int_eq(skt_rsen_parse_role(r, role, sizeof(role)), 1);
    ck_assert_str_eq(role, "master");
    freeReplyObject(r);

    /* a master with no replica */
    r = RESP("*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n");
    ck_assert_int_eq(skt_rsen_parse_role(r, NULL, 0), 1);
    freeReplyObject(r);

    /* the stale answer: the old master, back as a replica */
    r = RESP("*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:9000\r\n$9\r\nconnected\r\n:3167038\r\n");
    ck_assert_int_eq(skt_rsen_parse_role(r, role, sizeof(role)), 0);
    ck_assert_str_eq(role, "slave");
    freeReplyObject(r);

    r = RESP("*2\r\n$8\r\nsentinel\r\n*1\r\n$8\r\nmymaster\r\n");
    ck_assert_int_eq(skt_rsen_parse_role(r, role, sizeof(role)), 0);
    ck_assert_str_eq(role, "sentinel");
    freeReplyObject(r);

    /* "masters" is not "master" */
    r = RESP("*1\r\n$7\r\nmasters\r\n");
    ck_assert_int_eq(skt_rsen_parse_role(r, role, sizeof(role)), 0);
    freeReplyObject(r);

    /* not a ROLE answer: refused by an ACL, or garbage */
    r = RESP("-NOPERM this user has no permissions to run the 'role' command\r\n");
    ck_assert_int_eq(skt_rsen_parse_role(r, role, sizeof(role)), -1);
    ck_assert_str_eq(role, "?");
    freeReplyObject(r);
    r = RESP("*0\r\n");
    ck_assert_int_eq(skt_rsen_parse_role(r, role, sizeof(role)), -1);
    freeReplyObject(r);
    r = RESP("*1\r\n:1\r\n");
    ck_assert_int_eq(skt_rsen_parse_role(r, role, sizeof(role)), -1);
    freeReplyObject(r);
    ck_assert_int_eq(skt_rsen_parse_role(NULL, role, sizeof(role)), -1);
    /* a long role name is cut to fit */
    r = RESP("*1\r\n$40\r\nmastermastermastermastermastermastermast\r\n");
    ck_assert_int_eq(skt_rsen_parse_role(r, role, 8), 0);
    ck_assert_str_eq(role, "masterm");
    freeReplyObject(r);
}
END_TEST

static Suite *
redis_sentinel_suite(void)
{
    Suite *s = suite_create("redis_sentinel");
    TCase *tc = tcase_create("pure");
    tcase_add_test(tc, sentinels_config);
    tcase_add_test(tc, sentinels_config_refused);
    tcase_add_test(tc, master_replies);
    tcase_add_test(tc, switch_messages);
    tcase_add_test(tc, role_replies);
    suite_add_tcase(s, tc);
    return s;
}

SKT_CHECK_MAIN(redis_sentinel_suite)
