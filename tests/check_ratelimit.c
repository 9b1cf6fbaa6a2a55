/* check_ratelimit.c - unit tests for the rate limiter: windows, keys, headers, the driver seam. */
#include "check_main.h"
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "features/ratelimit.h"

static uint64_t fake_now;

static uint64_t
fake_clock(void)
{
    return fake_now;
}

static skt_rl_result_t last;
static int calls;

static void
record(void *arg, const skt_rl_result_t *res)
{
    last = *res;
    calls++;
}

static skt_rl_result_t
consume(skt_rl_t *rl, const skt_rl_key_t *key, long points, long limit)
{
    int before = calls;
    skt_rl_consume(rl, key, points, limit, record, NULL);
    ck_assert_int_eq(calls, before + 1); /* the local driver answers at once, once */
    return last;
}

START_TEST(test_window_boundaries)
{
    skt_rl_slot_t w = {0};
    skt_rl_result_t r;
    /* limit 3: three single points pass, the fourth is refused */
    for (int i = 0; i < 3; i++) {
        skt_rl_window_consume(&w, 1000 + (uint32_t)i, 1, 3, &r);
        ck_assert_int_eq(r.allowed, 1);
        ck_assert_int_eq(r.remaining, 2 - i);
        ck_assert_int_eq(r.limit, 3);
    }
    ck_assert_int_eq(r.ms_before_next, 998);
    skt_rl_window_consume(&w, 1500, 1, 3, &r);
    ck_assert_int_eq(r.allowed, 0);
    ck_assert_int_eq(r.remaining, 0);
    ck_assert_int_eq(r.ms_before_next, 500);
    /* still refused until 1 s after the window opened (at 1000) */
    skt_rl_window_consume(&w, 1999, 1, 3, &r);
    ck_assert_int_eq(r.allowed, 0);
    ck_assert_int_eq(r.ms_before_next, 1);
    /* a new window at 2000 */
    skt_rl_window_consume(&w, 2000, 1, 3, &r);
    ck_assert_int_eq(r.allowed, 1);
    ck_assert_int_eq(r.remaining, 2);
    ck_assert_int_eq(r.ms_before_next, 1000);
}
END_TEST

START_TEST(test_points_and_zero_limit)
{
    skt_rl_slot_t w = {0};
    skt_rl_result_t r;
    /* several points at once: exactly the limit passes, one more is refused */
    skt_rl_window_consume(&w, 10, 5, 5, &r);
    ck_assert_int_eq(r.allowed, 1);
    ck_assert_int_eq(r.remaining, 0);
    skt_rl_window_consume(&w, 11, 1, 5, &r);
    ck_assert_int_eq(r.allowed, 0);
    /* more points than the limit in one go are refused in a fresh window */
    skt_rl_slot_t w2 = {0};
    skt_rl_window_consume(&w2, 10, 6, 5, &r);
    ck_assert_int_eq(r.allowed, 0);
    /* a limit of 0 lets nothing through */
    skt_rl_slot_t w3 = {0};
    skt_rl_window_consume(&w3, 10, 1, 0, &r);
    ck_assert_int_eq(r.allowed, 0);
}
END_TEST

START_TEST(test_clock_wraps)
{
    skt_rl_slot_t w = {0};
    skt_rl_result_t r;
    skt_rl_window_consume(&w, UINT32_MAX - 100, 1, 1, &r);
    ck_assert_int_eq(r.allowed, 1);
    skt_rl_window_consume(&w, 50, 1, 1, &r); /* 151 ms later, across the wrap */
    ck_assert_int_eq(r.allowed, 0);
    ck_assert_int_eq(r.ms_before_next, 849);
    skt_rl_window_consume(&w, 900, 1, 1, &r); /* 1001 ms later */
    ck_assert_int_eq(r.allowed, 1);
}
END_TEST

START_TEST(test_local_keys)
{
    skt_rl_t *rl = skt_rl_new_local(fake_clock);
    fake_now = 5000;
    skt_rl_key_t a_events = {.app_id = "a", .kind = SKT_RL_BACKEND_EVENTS};
    skt_rl_key_t a_reads = {.app_id = "a", .kind = SKT_RL_READ_REQUESTS};
    skt_rl_key_t b_events = {.app_id = "b", .kind = SKT_RL_BACKEND_EVENTS};
    ck_assert_int_eq(consume(rl, &a_events, 2, 2).allowed, 1);
    ck_assert_int_eq(consume(rl, &a_events, 1, 2).allowed, 0);
    /* other kinds and other apps count apart */
    ck_assert_int_eq(consume(rl, &a_reads, 1, 2).allowed, 1);
    ck_assert_int_eq(consume(rl, &b_events, 2, 2).allowed, 1);
    /* per-socket windows live in the caller's slot */
    skt_rl_slot_t s1 = {0}, s2 = {0};
    skt_rl_key_t c1 = {
        .app_id = "a", .kind = SKT_RL_CLIENT_EVENTS, .socket_id = "1.1", .slot = &s1};
    skt_rl_key_t c2 = {
        .app_id = "a", .kind = SKT_RL_CLIENT_EVENTS, .socket_id = "2.2", .slot = &s2};
    ck_assert_int_eq(consume(rl, &c1, 1, 1).allowed, 1);
    ck_assert_int_eq(consume(rl, &c1, 1, 1).allowed, 0);
    ck_assert_int_eq(consume(rl, &c2, 1, 1).allowed, 1);
    ck_assert_uint_eq(s1.used, 2);
    /* a second later everything opens again */
    fake_now += 1000;
    ck_assert_int_eq(consume(rl, &a_events, 2, 2).allowed, 1);
    ck_assert_int_eq(consume(rl, &c1, 1, 1).allowed, 1);
    /* unlimited: allowed, no counting, limit -1 */
    skt_rl_result_t r = consume(rl, &a_events, 100, -1);
    ck_assert_int_eq(r.allowed, 1);
    ck_assert_int_eq(r.limit, -1);
    ck_assert_int_eq(consume(rl, &a_events, 1, 2).allowed, 0); /* still 2 used */
    skt_rl_free(rl);
}
END_TEST

START_TEST(test_headers)
{
    char buf[200];
    skt_rl_result_t r = {.allowed = 1, .limit = 10, .remaining = 7, .ms_before_next = 998};
    skt_rl_headers(&r, buf, sizeof(buf));
    ck_assert_str_eq(buf,
                     "Retry-After: 0.998\r\nX-RateLimit-Limit: 10\r\nX-RateLimit-Remaining: 7\r\n");
    r.ms_before_next = 1000;
    skt_rl_headers(&r, buf, sizeof(buf));
    ck_assert_ptr_nonnull(strstr(buf, "Retry-After: 1\r\n"));
    r.ms_before_next = 500;
    skt_rl_headers(&r, buf, sizeof(buf));
    ck_assert_ptr_nonnull(strstr(buf, "Retry-After: 0.5\r\n"));
    r.ms_before_next = 20;
    skt_rl_headers(&r, buf, sizeof(buf));
    ck_assert_ptr_nonnull(strstr(buf, "Retry-After: 0.02\r\n"));
    r.limit = -1;
    ck_assert_uint_eq(skt_rl_headers(&r, buf, sizeof(buf)), 0);
    ck_assert_str_eq(buf, "");
    /* too small a buffer: nothing rather than a cut header */
    r.limit = 10;
    ck_assert_uint_eq(skt_rl_headers(&r, buf, 20), 0);
    ck_assert_str_eq(buf, "");
}
END_TEST

/* A driver that answers later, as a distributed one would. */
static skt_rl_cb pending_cb;
static void *pending_arg;
static long pending_points;
static int freed;

static void
later_consume(void *self, const skt_rl_key_t *key, long points, long limit, skt_rl_cb cb, void *arg)
{
    pending_cb = cb;
    pending_arg = arg;
    pending_points = points;
}

static void
later_free(void *self)
{
    freed++;
}

START_TEST(test_custom_driver)
{
    static const skt_rl_driver_t later = {
        .name = "later", .consume = later_consume, .free = later_free};
    skt_rl_t *rl = skt_rl_new(&later, NULL);
    skt_rl_key_t k = {.app_id = "a", .kind = SKT_RL_BACKEND_EVENTS};
    int before = calls;
    skt_rl_consume(rl, &k, 3, 10, record, NULL);
    ck_assert_int_eq(calls, before); /* not yet */
    ck_assert_int_eq(pending_points, 3);
    skt_rl_result_t r = {.allowed = 0, .limit = 10};
    pending_cb(pending_arg, &r);
    ck_assert_int_eq(calls, before + 1);
    ck_assert_int_eq(last.allowed, 0);
    /* unlimited never reaches the driver */
    pending_cb = NULL;
    skt_rl_consume(rl, &k, 3, -1, record, NULL);
    ck_assert_ptr_null(pending_cb);
    ck_assert_int_eq(last.allowed, 1);
    skt_rl_free(rl);
    ck_assert_int_eq(freed, 1);
}
END_TEST

static Suite *
ratelimit_suite(void)
{
    Suite *s = suite_create("ratelimit");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_window_boundaries);
    tcase_add_test(tc, test_points_and_zero_limit);
    tcase_add_test(tc, test_clock_wraps);
    tcase_add_test(tc, test_local_keys);
    tcase_add_test(tc, test_headers);
    tcase_add_test(tc, test_custom_driver);
    suite_add_tcase(s, tc);
    return s;
}

SKT_CHECK_MAIN(ratelimit_suite)
