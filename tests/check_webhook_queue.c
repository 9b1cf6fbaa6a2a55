/* check_webhook_queue.c - unit tests for the durable webhook queue's side in the sender
 * (webhook_queue.c): what it asks of the queue when the server closes.
 *
 * DESIGN
 * A fake queue driver (skt_whq_driver_t) records every put and claim and answers them
 * only when the test says so (fake_answer), as the Redis adapter answers later, from the
 * loop. The jobs' endpoint is a socket that listens and never accepts: the kernel takes
 * the connection and the request, which then stays in flight until its timeout.
 */
#include "check_main.h"
#include <check.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "features/webhooks.h"
#include "pusher/sig.h"

/* ------------------------------------------------------------ the fake queue */

#define MAX_CALLS 64

typedef struct call_s {
    int claim; /* 1: a claim, 0: a put */
    char id[96];
    char *data;
    size_t len;
    long delay, max;
    size_t nheld;
    int mode, answered;
    skt_whq_count_cb put_cb;
    skt_whq_jobs_cb claim_cb;
    void *arg;
} call_t;

static call_t calls[MAX_CALLS];
static int ncalls;
static skt_whq_job_t stored[8]; /* what the next claim answers */
static size_t nstored;

static call_t *
fake_call(int claim, void *arg)
{
    ck_assert_int_lt(ncalls, MAX_CALLS);
    call_t *c = &calls[ncalls++];
    memset(c, 0, sizeof(*c));
    c->claim = claim;
    c->arg = arg;
    return c;
}

static void
fake_put(void *self, const char *group, const char *id, const char *data, size_t len, long delay_ms,
         long max_per_group, int mode, skt_whq_count_cb cb, void *arg)
{
    (void)self;
    (void)group;
    (void)max_per_group;
    call_t *c = fake_call(0, arg);
    snprintf(c->id, sizeof(c->id), "%s", id);
    c->data = data ? strndup(data, len) : NULL;
    c->len = len;
    c->delay = delay_ms;
    c->mode = mode;
    c->put_cb = cb;
}

static void
fake_claim(void *self, const char *const *held, size_t nheld, long max, long lease_ms,
           skt_whq_jobs_cb cb, void *arg)
{
    (void)self;
    (void)held;
    (void)lease_ms;
    call_t *c = fake_call(1, arg);
    c->max = max;
    c->nheld = nheld;
    c->claim_cb = cb;
}

/* Answers every call not answered yet (OK): a claim gets the stored jobs, up to its max. */
static void
fake_answer(void)
{
    int n = ncalls; /* the answers may make new calls: those wait */
    for (int i = 0; i < n; i++) {
        call_t *c = &calls[i];
        if (c->answered)
            continue;
        c->answered = 1;
        if (c->claim) {
            size_t k = nstored < (size_t)c->max ? nstored : (size_t)c->max;
            c->claim_cb(c->arg, 0, stored, k);
            memmove(stored, stored + k, (nstored - k) * sizeof(*stored));
            nstored -= k;
        } else if (c->put_cb) {
            c->put_cb(c->arg, 0, 0);
        }
    }
}

static void
fake_reset(void)
{
    for (int i = 0; i < ncalls; i++)
        free(calls[i].data);
    ncalls = 0;
    nstored = 0;
}

/* The attempts in a put's job data. */
static long
put_attempts(const call_t *c)
{
    const char *body;
    size_t bl;
    json_t *m = skt_whq_decode(c->data, c->len, &body, &bl);
    ck_assert_ptr_nonnull(m);
    long n = (long)json_integer_value(json_object_get(m, "attempts"));
    json_decref(m);
    return n;
}

/* ------------------------------------------------------------ the loop and the sender */

static struct event_base *base;

static void
run_for(long ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
}

/* A socket on 127.0.0.1 that listens and never accepts; its port in *port. */
static int
black_hole(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(listen(fd, 16), 0);
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    *port = ntohs(sa.sin_port);
    return fd;
}

/* A sender on a new loop (base) that sends through the fake queue: requests at once
 * (max_inflight), jobs held (concurrency), leases of 60 s (a poll every 1 s). */
static skt_webhooks_t *
queued_sender(size_t max_inflight, long concurrency)
{
    base = event_base_new();
    skt_webhooks_opts_t o = {.base = base,
                             .sign = skt_sig_hmac_sha256_hex,
                             .timeout_ms = 10000,
                             .max_attempts = 5,
                             .max_inflight = max_inflight};
    char err[128];
    skt_webhooks_t *wh = skt_webhooks_new(&o, err, sizeof(err));
    ck_assert_msg(wh != NULL, "%s", err);
    skt_whq_driver_t drv = {.put = fake_put, .claim = fake_claim};
    skt_whq_opts_t qo = {.concurrency = concurrency, .lease_ms = 60000, .node_id = "n1"};
    ck_assert_int_eq(skt_webhooks_use_queue(wh, &drv, &qo), 0);
    return wh;
}

static char job_data[8][512];

/* Job i of the fake queue: a webhook to port, tried attempts times already. */
static void
store_job(int i, int port, int attempts)
{
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
    json_t *m = json_pack("{s:i, s:s, s:i, s:{s:s}, s:s, s:s}", "v", 1, "app", "app-id", "attempts",
                          attempts, "hook", "url", url, "key", "k", "sig", "ab");
    size_t len = 0;
    char *d = skt_whq_encode(m, "{\"time_ms\":1,\"events\":[]}", 26, &len);
    ck_assert_ptr_nonnull(d);
    ck_assert_uint_lt(len, sizeof(job_data[i]));
    memcpy(job_data[i], d, len);
    free(d);
    json_decref(m);
    static char ids[8][16];
    snprintf(ids[i], sizeof(ids[i]), "job-%d", i);
    stored[nstored++] = (skt_whq_job_t){.id = ids[i], .data = job_data[i], .len = len};
}

static skt_wh_stats_t stats;

static void
grab_stats(void *arg, const char *app_id, const skt_wh_stats_t *st)
{
    (void)arg;
    if (strcmp(app_id, "app-id") == 0)
        stats = *st;
}

static size_t
pending(skt_webhooks_t *wh)
{
    memset(&stats, 0, sizeof(stats));
    skt_webhooks_each_app(wh, grab_stats, NULL);
    return stats.pending;
}

/* The puts with mode 'u' from call from on, their delay checked 0: how many. */
static int
releases_since(int from)
{
    int n = 0;
    for (int i = from; i < ncalls; i++)
        if (!calls[i].claim && calls[i].mode == 'u') {
            ck_assert_int_eq(calls[i].delay, 0);
            n++;
        }
    return n;
}

static const call_t *
put_of(const char *id, int from)
{
    for (int i = from; i < ncalls; i++)
        if (!calls[i].claim && strcmp(calls[i].id, id) == 0)
            return &calls[i];
    ck_abort_msg("no put of %s", id);
    return NULL;
}

/* ------------------------------------------------------------ the tests */

START_TEST(test_closing_releases_what_is_held)
{
    int port, hole = black_hole(&port);
    skt_webhooks_t *wh = queued_sender(2, 6);
    /* job-0 tried once before, job-3 twice */
    for (int i = 0; i < 5; i++)
        store_job(i, port, i == 0 ? 1 : i == 3 ? 2 : 0);
    run_for(50);
    ck_assert_int_eq(ncalls, 1);
    ck_assert_int_eq(calls[0].max, 6);
    fake_answer(); /* 5 claimed: job-0 and job-1 in flight, 3 queued */
    ck_assert_uint_eq(pending(wh), 5);
    run_for(50);
    ck_assert_int_eq(ncalls, 2); /* room for one more: a claim, not answered yet */
    ck_assert(calls[1].claim && calls[1].max == 1);

    int from = ncalls, closed = ncalls;
    skt_webhooks_closing(wh, 2000);
    /* the 3 queued go back at once, due now, with their attempts as they were */
    ck_assert_int_eq(releases_since(from), 3);
    ck_assert_uint_eq(pending(wh), 2);
    ck_assert_int_eq(put_attempts(put_of("job-3", from)), 2);
    ck_assert_int_eq(put_attempts(put_of("job-2", from)), 0);
    /* the claim sent before the closing brings job-5: released as it is */
    store_job(5, port, 4);
    from = ncalls;
    fake_answer();
    ck_assert_int_eq(releases_since(from), 1);
    ck_assert_str_eq(put_of("job-5", from)->data, job_data[5]);
    ck_assert_uint_eq(pending(wh), 2);
    /* no more claims, but the leases of the 2 in flight are still extended (every 1 s) */
    from = ncalls;
    run_for(1200);
    ck_assert_int_eq(releases_since(from), 0);
    ck_assert_uint_eq(pending(wh), 2);
    int extended = 0;
    for (int i = from; i < ncalls; i++)
        extended += calls[i].claim && calls[i].nheld == 2;
    ck_assert_int_eq(extended, 1);
    /* 500 ms before the end of the grace period those in flight are stopped and released,
     * the attempt they were in not counted */
    run_for(500);
    ck_assert_uint_eq(pending(wh), 0);
    ck_assert_int_eq(releases_since(from), 2);
    ck_assert_int_eq(put_attempts(put_of("job-0", from)), 1);
    ck_assert_int_eq(put_attempts(put_of("job-1", from)), 0);
    fake_answer();
    run_for(1100); /* nothing held: no claim at all */
    for (int i = closed; i < ncalls; i++)
        ck_assert_msg(!calls[i].claim || (calls[i].max == 0 && calls[i].nheld == 2),
                      "a claim after the closing: max %ld, %zu held", calls[i].max, calls[i].nheld);
    skt_webhooks_free(wh);
    event_base_free(base);
    close(hole);
    fake_reset();
}
END_TEST

START_TEST(test_closing_without_grace_releases_all_at_once)
{
    int port, hole = black_hole(&port);
    skt_webhooks_t *wh = queued_sender(1, 2);
    store_job(0, port, 0);
    store_job(1, port, 0);
    run_for(20);
    fake_answer();
    ck_assert_uint_eq(pending(wh), 2);
    int from = ncalls;
    skt_webhooks_closing(wh, 0);
    ck_assert_uint_eq(pending(wh), 0);
    ck_assert_int_eq(releases_since(from), 2);
    skt_webhooks_closing(wh, 0); /* once is enough */
    ck_assert_int_eq(releases_since(from), 2);
    skt_webhooks_free(wh);
    event_base_free(base);
    close(hole);
    fake_reset();
}
END_TEST

START_TEST(test_closing_in_memory_changes_nothing)
{
    base = event_base_new();
    skt_webhooks_opts_t o = {.base = base, .sign = skt_sig_hmac_sha256_hex};
    char err[128];
    skt_webhooks_t *wh = skt_webhooks_new(&o, err, sizeof(err));
    ck_assert_msg(wh != NULL, "%s", err);
    skt_webhooks_closing(wh, 100);
    skt_webhooks_closing(NULL, 100);
    ck_assert_int_eq(ncalls, 0);
    skt_webhooks_free(wh);
    event_base_free(base);
}
END_TEST

static Suite *
webhook_queue_suite(void)
{
    Suite *s = suite_create("webhook_queue");
    TCase *tc = tcase_create("closing");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_closing_releases_what_is_held);
    tcase_add_test(tc, test_closing_without_grace_releases_all_at_once);
    tcase_add_test(tc, test_closing_in_memory_changes_nothing);
    suite_add_tcase(s, tc);
    return s;
}

SKT_CHECK_MAIN(webhook_queue_suite)
