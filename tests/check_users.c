/* check_users.c - unit tests for sign-in deadlines and the watchlist index. */
#include "check_main.h"
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "features/deadline.h"
#include "features/watchlist.h"

/* ------------------------------------------------------------ deadlines */

typedef struct owner_s {
    int fired;
    skt_deadline_t *d;
    struct timeval at;
} owner_t;

static skt_deadlines_t *queue;
static owner_t *cancel_on_fire; /* an owner whose deadline the next firing cancels */

static void
on_fire(void *arg)
{
    owner_t *o = arg;
    o->fired++;
    o->d = NULL;
    gettimeofday(&o->at, NULL);
    if (cancel_on_fire) {
        skt_deadline_cancel(cancel_on_fire->d);
        cancel_on_fire->d = NULL;
        cancel_on_fire = NULL;
    }
}

static long
ms_between(const struct timeval *a, const struct timeval *b)
{
    return (b->tv_sec - a->tv_sec) * 1000 + (b->tv_usec - a->tv_usec) / 1000;
}

static void
run_for(struct event_base *base, long ms)
{
    struct timeval t = {ms / 1000, (ms % 1000) * 1000};
    event_base_loopexit(base, &t);
    event_base_dispatch(base);
}

START_TEST(test_deadlines_fire_in_order_once)
{
    struct event_base *base = event_base_new();
    queue = skt_deadlines_new(base, 100, on_fire);
    owner_t a = {0}, b = {0}, c = {0};
    struct timeval start;
    gettimeofday(&start, NULL);
    a.d = skt_deadline_start(queue, &a);
    run_for(base, 30);
    b.d = skt_deadline_start(queue, &b);
    c.d = skt_deadline_start(queue, &c);
    ck_assert_uint_eq(skt_deadlines_pending(queue), 3);
    skt_deadline_cancel(c.d); /* cancelled: never fires */
    c.d = NULL;
    run_for(base, 250);
    ck_assert_int_eq(a.fired, 1);
    ck_assert_int_eq(b.fired, 1);
    ck_assert_int_eq(c.fired, 0);
    ck_assert_uint_eq(skt_deadlines_pending(queue), 0);
    long ta = ms_between(&start, &a.at), tb = ms_between(&start, &b.at);
    ck_assert_msg(ta >= 95 && ta < 200, "a fired after %ld ms", ta);
    ck_assert_msg(tb >= 125 && tb < 230, "b fired after %ld ms", tb);
    skt_deadlines_free(queue);
    event_base_free(base);
}
END_TEST

START_TEST(test_deadline_cancel_head_and_from_callback)
{
    struct event_base *base = event_base_new();
    queue = skt_deadlines_new(base, 50, on_fire);
    owner_t a = {0}, b = {0}, c = {0};
    a.d = skt_deadline_start(queue, &a);
    b.d = skt_deadline_start(queue, &b);
    c.d = skt_deadline_start(queue, &c);
    skt_deadline_cancel(a.d); /* the head: the timer moves to b */
    a.d = NULL;
    cancel_on_fire = &c; /* b's firing cancels c, due at the same time */
    run_for(base, 150);
    ck_assert_int_eq(a.fired, 0);
    ck_assert_int_eq(b.fired, 1);
    ck_assert_int_eq(c.fired, 0);
    /* pending ones are freed with the queue, without firing */
    owner_t d = {0};
    d.d = skt_deadline_start(queue, &d);
    skt_deadlines_free(queue);
    ck_assert_int_eq(d.fired, 0);
    event_base_free(base);
}
END_TEST

/* ------------------------------------------------------------ watchlists */

static void *seen[8];
static size_t nseen;

static void
collect(void *arg, void *watcher)
{
    ck_assert_uint_lt(nseen, 8);
    seen[nseen++] = watcher;
}

static int
saw(void *w)
{
    for (size_t i = 0; i < nseen; i++)
        if (seen[i] == w)
            return 1;
    return 0;
}

START_TEST(test_watch_index)
{
    skt_watch_t *w = skt_watch_new();
    int s1, s2, s3; /* stand-ins for sockets */
    const char *l1[] = {"bob", "carol", "bob"};
    const char *l2[] = {"bob"};
    ck_assert_int_eq(skt_watch_add(w, "app", &s1, l1, 3), 2); /* the duplicate is skipped */
    ck_assert_int_eq(skt_watch_add(w, "app", &s2, l2, 1), 1);
    ck_assert_int_eq(skt_watch_add(w, "other-app", &s3, l2, 1), 1);

    ck_assert_uint_eq(skt_watch_count(w, "app", "bob"), 2);
    ck_assert_uint_eq(skt_watch_count(w, "app", "carol"), 1);
    ck_assert_uint_eq(skt_watch_count(w, "app", "dave"), 0);
    ck_assert_uint_eq(skt_watch_count(w, "other-app", "bob"), 1);

    nseen = 0;
    skt_watch_each(w, "app", "bob", collect, NULL);
    ck_assert_uint_eq(nseen, 2);
    ck_assert(saw(&s1) && saw(&s2) && !saw(&s3));

    size_t n;
    const char *const *ids = skt_watch_ids(w, "app", &s1, &n);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(ids[0], "bob");
    ck_assert_str_eq(ids[1], "carol");
    ck_assert_ptr_null(skt_watch_ids(w, "app", &s3, &n));
    ck_assert_uint_eq(n, 0);

    skt_watch_remove(w, "app", &s1);
    ck_assert_uint_eq(skt_watch_count(w, "app", "bob"), 1);
    ck_assert_uint_eq(skt_watch_count(w, "app", "carol"), 0);
    skt_watch_remove(w, "app", &s1); /* twice: no-op */
    nseen = 0;
    skt_watch_each(w, "app", "bob", collect, NULL);
    ck_assert_uint_eq(nseen, 1);
    ck_assert_ptr_eq(seen[0], &s2);
    /* numeric-looking and empty-ish ids are just strings */
    const char *l3[] = {"42"};
    ck_assert_int_eq(skt_watch_add(w, "app", &s1, l3, 1), 1);
    ck_assert_uint_eq(skt_watch_count(w, "app", "42"), 1);
    skt_watch_free(w); /* frees what is still registered */
}
END_TEST

START_TEST(test_watch_limit)
{
    skt_watch_t *w = skt_watch_new();
    char bufs[150][8];
    const char *ids[150];
    for (int i = 0; i < 150; i++) {
        snprintf(bufs[i], sizeof(bufs[i]), "u%d", i);
        ids[i] = bufs[i];
    }
    int s;
    ck_assert_int_eq(skt_watch_add(w, "app", &s, ids, 150), SKT_WATCH_MAX_IDS);
    ck_assert_uint_eq(skt_watch_count(w, "app", "u99"), 1);
    ck_assert_uint_eq(skt_watch_count(w, "app", "u100"), 0);
    skt_watch_remove(w, "app", &s);
    ck_assert_uint_eq(skt_watch_count(w, "app", "u0"), 0);
    skt_watch_free(w);
}
END_TEST

static Suite *
users_suite(void)
{
    Suite *s = suite_create("users");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_deadlines_fire_in_order_once);
    tcase_add_test(tc, test_deadline_cancel_head_and_from_callback);
    tcase_add_test(tc, test_watch_index);
    tcase_add_test(tc, test_watch_limit);
    suite_add_tcase(s, tc);
    return s;
}

SKT_CHECK_MAIN(users_suite)
