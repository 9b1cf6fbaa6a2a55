/* check_cache.c - unit tests for the cache: memory driver expiry, channel names and keys. */
#include "check_main.h"
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "features/cache.h"

static uint64_t fake_now = 1000000;

static uint64_t
fake_clock(void)
{
    return fake_now;
}

static char got[256];
static int got_hit, got_calls;

static void
record(void *arg, const char *value, size_t len)
{
    got_calls++;
    got_hit = value != NULL;
    got[0] = '\0';
    if (value) {
        ck_assert_uint_lt(len, sizeof(got));
        memcpy(got, value, len);
        got[len] = '\0';
        ck_assert_int_eq(value[len], '\0');
    }
}

static int
get(skt_cache_t *c, const char *key)
{
    int before = got_calls;
    skt_cache_get(c, key, strlen(key), record, NULL);
    ck_assert_int_eq(got_calls, before + 1);
    return got_hit;
}

static void
set(skt_cache_t *c, const char *key, const char *value, long ttl)
{
    skt_cache_set(c, key, strlen(key), value, strlen(value), ttl);
}

START_TEST(test_set_get_overwrite)
{
    skt_cache_t *c = skt_cache_new_memory(NULL, fake_clock);
    ck_assert_int_eq(get(c, "k"), 0);
    set(c, "k", "one", 10);
    ck_assert_int_eq(get(c, "k"), 1);
    ck_assert_str_eq(got, "one");
    set(c, "k", "two", 10);
    ck_assert_int_eq(get(c, "k"), 1);
    ck_assert_str_eq(got, "two");
    ck_assert_uint_eq(skt_cache_memory_entries(c), 1);
    set(c, "other", "x", 10);
    ck_assert_uint_eq(skt_cache_memory_entries(c), 2);
    skt_cache_free(c);
}
END_TEST

START_TEST(test_expiry)
{
    skt_cache_t *c = skt_cache_new_memory(NULL, fake_clock);
    set(c, "a", "1", 2);
    fake_now += 1999;
    ck_assert_int_eq(get(c, "a"), 1);
    fake_now += 1;
    ck_assert_int_eq(get(c, "a"), 0); /* expired exactly at set + ttl */
    ck_assert_uint_eq(skt_cache_memory_entries(c), 0);

    /* setting again renews the ttl */
    set(c, "b", "1", 2);
    fake_now += 1500;
    set(c, "b", "2", 2);
    fake_now += 1500;
    ck_assert_int_eq(get(c, "b"), 1);
    ck_assert_str_eq(got, "2");

    /* ttl <= 0: kept for ever, as soketi's memory cache */
    set(c, "forever", "x", 0);
    fake_now += 100000000;
    ck_assert_int_eq(get(c, "forever"), 1);
    ck_assert_int_eq(get(c, "b"), 0);
    skt_cache_free(c);
}
END_TEST

START_TEST(test_sweep_on_set)
{
    skt_cache_t *c = skt_cache_new_memory(NULL, fake_clock);
    for (int i = 0; i < 50; i++) {
        char k[16];
        snprintf(k, sizeof(k), "k%d", i);
        set(c, k, "v", 1);
    }
    ck_assert_uint_eq(skt_cache_memory_entries(c), 50);
    fake_now += 1000;
    set(c, "fresh", "v", 1); /* sweeps the 50 expired ones first */
    ck_assert_uint_eq(skt_cache_memory_entries(c), 1);
    skt_cache_free(c);
}
END_TEST

START_TEST(test_timer_sweeps)
{
    struct event_base *base = event_base_new();
    skt_cache_t *c = skt_cache_new_memory(base, NULL); /* the real clock */
    set(c, "short", "v", 1);
    set(c, "long", "v", 100);
    ck_assert_uint_eq(skt_cache_memory_entries(c), 2);
    struct timeval t = {2, 300000};
    event_base_loopexit(base, &t);
    event_base_dispatch(base);
    /* "short" went with a sweep; "long", set after it, stays */
    ck_assert_uint_eq(skt_cache_memory_entries(c), 1);
    ck_assert_int_eq(get(c, "long"), 1);
    skt_cache_free(c);
    event_base_free(base);
}
END_TEST

START_TEST(test_channel_names_and_keys)
{
    const char *yes[] = {"cache-a", "private-cache-a", "private-encrypted-cache-a",
                         "presence-cache-a", "cache-"};
    const char *no[] = {"cach",       "my-cache-a",          "private-a",
                        "presence-a", "private-encrypted-a", "#server-to-user-cache-"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        ck_assert_int_eq(skt_cache_is_cache_channel(yes[i], strlen(yes[i])), 1);
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        ck_assert_int_eq(skt_cache_is_cache_channel(no[i], strlen(no[i])), 0);
    char key[64];
    ck_assert_uint_eq(skt_cache_channel_key(key, sizeof(key), "app-id", "cache-xyz!", 9),
                      strlen("app:app-id:channel:cache-xyz:cache_miss"));
    ck_assert_str_eq(key, "app:app-id:channel:cache-xyz:cache_miss");
    ck_assert_uint_eq(skt_cache_channel_key(key, 10, "app-id", "cache-xyz", 9), 0);
    ck_assert_str_eq(key, "");
}
END_TEST

static Suite *
cache_suite(void)
{
    Suite *s = suite_create("cache");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, test_set_get_overwrite);
    tcase_add_test(tc, test_expiry);
    tcase_add_test(tc, test_sweep_on_set);
    tcase_add_test(tc, test_timer_sweeps);
    tcase_add_test(tc, test_channel_names_and_keys);
    suite_add_tcase(s, tc);
    return s;
}

SKT_CHECK_MAIN(cache_suite)
