/* check_map.c - unit tests for the string hash map. */
#include "check_main.h"
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/map.h"

START_TEST(test_put_get_del)
{
    skt_map_t *m = skt_map_new();
    int a = 1, b = 2;
    ck_assert_int_eq(skt_map_put(m, "alpha", 5, &a), 0);
    ck_assert_int_eq(skt_map_put(m, "beta", 4, &b), 0);
    ck_assert_ptr_eq(skt_map_get(m, "alpha", 5), &a);
    ck_assert_ptr_eq(skt_map_get(m, "beta", 4), &b);
    ck_assert_ptr_null(skt_map_get(m, "alph", 4));
    ck_assert_uint_eq(skt_map_count(m), 2);
    ck_assert_int_eq(skt_map_put(m, "alpha", 5, &b), 0);
    ck_assert_ptr_eq(skt_map_get(m, "alpha", 5), &b);
    ck_assert_uint_eq(skt_map_count(m), 2);
    ck_assert_ptr_eq(skt_map_del(m, "alpha", 5), &b);
    ck_assert_ptr_null(skt_map_del(m, "alpha", 5));
    ck_assert_ptr_null(skt_map_get(m, "alpha", 5));
    ck_assert_uint_eq(skt_map_count(m), 1);
    ck_assert_int_eq(skt_map_put(m, "x", 1, NULL), -1);
    skt_map_free(m);
}
END_TEST

START_TEST(test_binary_keys)
{
    skt_map_t *m = skt_map_new();
    int a = 1, b = 2;
    ck_assert_int_eq(skt_map_put(m, "a\0b", 3, &a), 0);
    ck_assert_int_eq(skt_map_put(m, "a\0c", 3, &b), 0);
    ck_assert_ptr_eq(skt_map_get(m, "a\0b", 3), &a);
    ck_assert_ptr_eq(skt_map_get(m, "a\0c", 3), &b);
    ck_assert_ptr_null(skt_map_get(m, "a", 1));
    skt_map_free(m);
}
END_TEST

/* Many inserts and deletes in mixed order against a shadow array: exercises
 * growth and backward-shift deletion across wrapped clusters. */
START_TEST(test_many)
{
    enum { N = 20000 };
    skt_map_t *m = skt_map_new();
    char(*keys)[16] = malloc(N * 16);
    int *present = calloc(N, sizeof(int));
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], 16, "k%d", i);
        ck_assert_int_eq(skt_map_put(m, keys[i], strlen(keys[i]), keys[i]), 0);
        present[i] = 1;
    }
    ck_assert_uint_eq(skt_map_count(m), N);
    for (int i = 0; i < N; i += 3) {
        ck_assert_ptr_eq(skt_map_del(m, keys[i], strlen(keys[i])), keys[i]);
        present[i] = 0;
    }
    size_t live = 0;
    for (int i = 0; i < N; i++) {
        void *v = skt_map_get(m, keys[i], strlen(keys[i]));
        if (present[i]) {
            ck_assert_ptr_eq(v, keys[i]);
            live++;
        } else {
            ck_assert_ptr_null(v);
        }
    }
    ck_assert_uint_eq(skt_map_count(m), live);
    size_t pos = 0, seen = 0;
    const char *k;
    size_t len;
    void *v;
    while (skt_map_next(m, &pos, &k, &len, &v)) {
        ck_assert_ptr_eq(k, v);
        seen++;
    }
    ck_assert_uint_eq(seen, live);
    for (int i = 0; i < N; i++)
        skt_map_del(m, keys[i], strlen(keys[i]));
    ck_assert_uint_eq(skt_map_count(m), 0);
    free(present);
    free(keys);
    skt_map_free(m);
}
END_TEST

static Suite *
map_suite(void)
{
    Suite *s = suite_create("map");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_put_get_del);
    tcase_add_test(tc, test_binary_keys);
    tcase_add_test(tc, test_many);
    suite_add_tcase(s, tc);
    return s;
}

SKT_CHECK_MAIN(map_suite)
