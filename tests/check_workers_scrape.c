/* check_workers_scrape.c - a host-wide GET /metrics between workers and their supervisor
 * over real socketpairs: the asker gets every other worker's text, one that does not answer
 * within the timeout is counted missing, one that goes away is missing at once, and a
 * malformed frame detaches its sender. */
#include "check_main.h"
#include <check.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "workers/frame.h"
#include "workers/scrape.h"
#include "workers/scrape_worker.h"

typedef struct result_s {
    int calls;
    size_t n;
    long missing;
    char texts[4][32];
} result_t;

static char *
render(void *arg)
{
    return strdup(arg);
}

static void
on_gathered(void *arg, const char *const *texts, size_t n, long missing)
{
    result_t *r = arg;
    r->calls++;
    r->n = n;
    r->missing = missing;
    for (size_t i = 0; i < n && i < 4; i++)
        snprintf(r->texts[i], sizeof(r->texts[i]), "%s", texts[i]);
}

/* Runs base until r has its answer, for at most 2 s. */
static void
run_until(struct event_base *base, const result_t *r)
{
    for (int i = 0; i < 2000 && !r->calls; i++) {
        event_base_loop(base, EVLOOP_NONBLOCK);
        usleep(1000);
    }
}

/* A worker of sup at index, rendering text. */
static skt_wscrape_t *
worker(struct event_base *base, skt_scrape_t *sup, size_t index, const char *text)
{
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ck_assert_int_eq(skt_scrape_attach(sup, index, sv[0]), 0);
    skt_wscrape_t *w = skt_wscrape_new(base, sv[1], 1 << 20, 4 << 20, render, (void *)text);
    ck_assert_ptr_nonnull(w);
    return w;
}

START_TEST(test_gather_and_timeout)
{
    struct event_base *base = event_base_new();
    skt_scrape_t *sup = skt_scrape_new(base, 3, 100, 1 << 20);
    skt_wscrape_t *a = worker(base, sup, 0, "A"), *b = worker(base, sup, 1, "B");
    int silent[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, silent), 0);
    ck_assert_int_eq(skt_scrape_attach(sup, 2, silent[0]), 0); /* never answers */
    result_t r = {0};
    ck_assert_int_eq(skt_wscrape_gather(a, on_gathered, &r), 0);
    run_until(base, &r);
    ck_assert_int_eq(r.calls, 1);
    ck_assert_uint_eq(r.n, 1);
    ck_assert_str_eq(r.texts[0], "B");
    ck_assert_int_eq(r.missing, 1); /* the silent one, after 100 ms */
    /* the silent one goes away: missing at once, without waiting for the timeout */
    close(silent[1]);
    result_t r2 = {0};
    ck_assert_int_eq(skt_wscrape_gather(b, on_gathered, &r2), 0);
    run_until(base, &r2);
    ck_assert_int_eq(r2.calls, 1);
    ck_assert_uint_eq(r2.n, 1);
    ck_assert_str_eq(r2.texts[0], "A");
    ck_assert_int_eq(r2.missing, 1);
    skt_wscrape_free(a);
    skt_wscrape_free(b);
    skt_scrape_free(sup);
    event_base_free(base);
}
END_TEST

START_TEST(test_malformed_and_lost)
{
    struct event_base *base = event_base_new();
    skt_scrape_t *sup = skt_scrape_new(base, 2, 1000, 1 << 20);
    skt_wscrape_t *a = worker(base, sup, 0, "A");
    int bad[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, bad), 0);
    ck_assert_int_eq(skt_scrape_attach(sup, 1, bad[0]), 0);
    unsigned char frame[SKT_WFRAME_HEAD + 4] = {0};
    skt_wframe_head(frame, SKT_WFRAME_NODES, 4); /* not a scrape kind: detached */
    ck_assert_int_eq(write(bad[1], frame, sizeof(frame)), (ssize_t)sizeof(frame));
    for (int i = 0; i < 50; i++)
        event_base_loop(base, EVLOOP_NONBLOCK);
    char c;
    ck_assert_int_eq(read(bad[1], &c, 1), 0); /* the supervisor closed it */
    result_t r = {0};
    ck_assert_int_eq(skt_wscrape_gather(a, on_gathered, &r), 0);
    run_until(base, &r);
    ck_assert_int_eq(r.calls, 1);
    ck_assert_uint_eq(r.n, 0);
    ck_assert_int_eq(r.missing, 1);
    /* a gather still waiting when the object goes: its callback says nothing was gathered */
    result_t r2 = {0};
    ck_assert_int_eq(skt_wscrape_gather(a, on_gathered, &r2), 0);
    skt_wscrape_free(a);
    ck_assert_int_eq(r2.calls, 1);
    ck_assert_int_eq(r2.missing, -1);
    skt_scrape_free(sup);
    close(bad[1]);
    event_base_free(base);
}
END_TEST

static Suite *
scrape_suite(void)
{
    Suite *s = suite_create("workers_scrape");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_gather_and_timeout);
    tcase_add_test(tc, test_malformed_and_lost);
    suite_add_tcase(s, tc);
    return s;
}

SKT_CHECK_MAIN(scrape_suite)
