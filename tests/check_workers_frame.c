/* check_workers_frame.c - the frame heads between workers and their supervisor. */
#include "check_main.h"
#include <check.h>
#include <stdlib.h>

#include "workers/frame.h"

START_TEST(test_round_trip)
{
    unsigned char h[SKT_WFRAME_HEAD];
    int kind;
    size_t len;
    skt_wframe_head(h, 2, 1000);
    ck_assert_int_eq(h[0], 0);
    ck_assert_int_eq(h[3], 0xe9); /* 1001: the kind byte counts */
    ck_assert_int_eq(skt_wframe_parse(h, 1000, &kind, &len), 1);
    ck_assert_int_eq(kind, 2);
    ck_assert_uint_eq(len, 1000);
    ck_assert_int_eq(skt_wframe_parse(h, 999, &kind, &len), 0); /* over the bound */
}
END_TEST

START_TEST(test_refused)
{
    unsigned char h[SKT_WFRAME_HEAD] = {0, 0, 0, 0, 0};
    int kind;
    size_t len;
    ck_assert_int_eq(skt_wframe_parse(h, 100, &kind, &len), 0); /* no kind byte */
    skt_wframe_head(h, SKT_WFRAME_KINDS, 10);
    ck_assert_int_eq(skt_wframe_parse(h, 100, &kind, &len), 0); /* unknown kind */
    skt_wframe_head(h, SKT_WFRAME_NODES, 5);
    ck_assert_int_eq(skt_wframe_parse(h, 100, &kind, &len), 0); /* a count is 4 bytes */
    skt_wframe_head(h, SKT_WFRAME_NODES, 4);
    ck_assert_int_eq(skt_wframe_parse(h, 100, &kind, &len), 1);
    unsigned char n[4];
    skt_wframe_put_u32(n, 70000);
    ck_assert_uint_eq(skt_wframe_get_u32(n), 70000);
}
END_TEST

static Suite *
frame_suite(void)
{
    Suite *s = suite_create("workers_frame");
    TCase *tc = tcase_create("frame");
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_refused);
    suite_add_tcase(s, tc);
    return s;
}

SKT_CHECK_MAIN(frame_suite)
