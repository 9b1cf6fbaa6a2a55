/* check_webhooks.c - unit tests for webhooks: selection, signing, batching, retries, bounds,
 * and what a hostile endpoint's answers can (not) do.
 *
 * A libevent evhttp server on 127.0.0.1 plays the receiving end; the sender runs on the
 * same event loop, exactly as in the daemon. What the sender writes to stdout and stderr
 * (its log) is captured into files where a test needs to look at it.
 */
#include "check_main.h"
#include <check.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "features/curl_loop.h"
#include "features/webhooks.h"
#include "pusher/sig.h"

/* ------------------------------------------------------------ the receiver */

#define MAX_REQS 64

typedef struct received_s {
    char *body;
    char key[64], sig[80], ctype[64], custom[64], ua[160], path[64], auth[256];
} received_t;

static struct event_base *base;
static struct evhttp *http;
static int port;
static received_t reqs[MAX_REQS];
static int nreqs;
static int statuses[16]; /* answer for request i; 0: never answer (hang) */
static int nstatuses;
static int default_status = 200;
static const char *answer_body;  /* the body of every answer; NULL: none */
static const char *answer_where; /* a Location header for every answer; NULL: none */
static size_t answer_stream;     /* > 0: answer with this many bytes, chunked */

static void
copy_header(struct evkeyvalq *h, const char *name, char *out, size_t len)
{
    const char *v = evhttp_find_header(h, name);
    snprintf(out, len, "%s", v ? v : "");
}

static void
on_request(struct evhttp_request *req, void *arg)
{
    ck_assert_int_lt(nreqs, MAX_REQS);
    received_t *r = &reqs[nreqs];
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    r->body = calloc(1, len + 1);
    evbuffer_copyout(in, r->body, len);
    struct evkeyvalq *h = evhttp_request_get_input_headers(req);
    copy_header(h, "X-Pusher-Key", r->key, sizeof(r->key));
    copy_header(h, "X-Pusher-Signature", r->sig, sizeof(r->sig));
    copy_header(h, "Content-Type", r->ctype, sizeof(r->ctype));
    copy_header(h, "X-Custom", r->custom, sizeof(r->custom));
    copy_header(h, "User-Agent", r->ua, sizeof(r->ua));
    copy_header(h, "Authorization", r->auth, sizeof(r->auth));
    snprintf(r->path, sizeof(r->path), "%s", evhttp_request_get_uri(req));
    int status = nreqs < nstatuses ? statuses[nreqs] : default_status;
    nreqs++;
    if (!status)
        return; /* hang; evhttp_free() drops it at the end */
    if (answer_where)
        evhttp_add_header(evhttp_request_get_output_headers(req), "Location", answer_where);
    if (answer_stream) {
        static char chunk[16384];
        memset(chunk, 'Z', sizeof(chunk));
        evhttp_send_reply_start(req, status, "X");
        for (size_t sent = 0; sent < answer_stream; sent += sizeof(chunk)) {
            struct evbuffer *b = evbuffer_new();
            evbuffer_add(b, chunk, sizeof(chunk));
            evhttp_send_reply_chunk(req, b);
            evbuffer_free(b);
        }
        evhttp_send_reply_end(req);
        return;
    }
    struct evbuffer *b = answer_body ? evbuffer_new() : NULL;
    if (b)
        evbuffer_add(b, answer_body, strlen(answer_body));
    evhttp_send_reply(req, status, "X", b);
    if (b)
        evbuffer_free(b);
}

static void
receiver_start(void)
{
    base = event_base_new();
    http = evhttp_new(base);
    struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(http, "127.0.0.1", 0);
    ck_assert_ptr_nonnull(bs);
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sa, &sl);
    port = ntohs(sa.sin_port);
    evhttp_set_gencb(http, on_request, NULL);
    nreqs = 0;
    nstatuses = 0;
    default_status = 200;
    answer_body = answer_where = NULL;
    answer_stream = 0;
}

static void
receiver_stop(void)
{
    evhttp_free(http);
    for (int i = 0; i < nreqs; i++)
        free(reqs[i].body);
}

/* Runs the loop until *counter reaches want or ms pass. */
static void
run_until(int *counter, int want, long ms)
{
    struct timeval start, now;
    gettimeofday(&start, NULL);
    for (;;) {
        if (counter && *counter >= want)
            return;
        gettimeofday(&now, NULL);
        long el = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_usec - start.tv_usec) / 1000;
        if (el >= ms)
            return;
        struct timeval tick = {0, 10000};
        event_base_loopexit(base, &tick);
        event_base_dispatch(base);
    }
}

/* ------------------------------------------------------------ the sender */

static skt_app_t app;

/* The app's webhooks from JSON text in which every "%d" stands for the receiver's port. */
static void
app_with_hooks(const char *hooks)
{
    char text[2048];
    size_t o = 0;
    for (const char *p = hooks; *p && o < sizeof(text) - 8; p++) {
        if (p[0] == '%' && p[1] == 'd') {
            o += (size_t)snprintf(text + o, sizeof(text) - o, "%d", port);
            p++;
        } else {
            text[o++] = *p;
        }
    }
    text[o] = '\0';
    json_decref(app.webhooks);
    memset(&app, 0, sizeof(app));
    app.id = "app-id";
    app.key = "app-key";
    app.secret = "app-secret";
    json_error_t e;
    app.webhooks = json_loads(text, 0, &e);
    ck_assert_msg(app.webhooks != NULL, "bad hooks json: %s", e.text);
}

static skt_webhooks_t *
sender(int batching, long batch_ms, size_t queue_max, size_t inflight, long timeout_ms,
       int attempts)
{
    skt_webhooks_opts_t o = {.base = base,
                             .sign = skt_sig_hmac_sha256_hex,
                             .batching = batching,
                             .batch_ms = batch_ms,
                             .process_id = "test-proc",
                             .timeout_ms = timeout_ms,
                             .max_attempts = attempts,
                             .backoff_ms = 50,
                             .queue_max = queue_max,
                             .max_inflight = inflight};
    char err[128];
    skt_webhooks_t *wh = skt_webhooks_new(&o, err, sizeof(err));
    ck_assert_msg(wh != NULL, "%s", err);
    return wh;
}

static skt_wh_stats_t stats;

static void
grab_stats(void *arg, const char *app_id, const skt_wh_stats_t *st)
{
    if (strcmp(app_id, arg) == 0)
        stats = *st;
}

static skt_wh_stats_t
stats_of_app(skt_webhooks_t *wh, const char *app_id)
{
    memset(&stats, 0, sizeof(stats));
    skt_webhooks_each_app(wh, grab_stats, (void *)app_id);
    return stats;
}

static skt_wh_stats_t
stats_of(skt_webhooks_t *wh)
{
    return stats_of_app(wh, "app-id");
}

/* A sender with o's bounds (the rest as sender() has them). */
static skt_webhooks_t *
sender_with(skt_webhooks_opts_t o)
{
    o.base = base;
    o.sign = skt_sig_hmac_sha256_hex;
    o.backoff_ms = 50;
    char err[128];
    skt_webhooks_t *wh = skt_webhooks_new(&o, err, sizeof(err));
    ck_assert_msg(wh != NULL, "%s", err);
    return wh;
}

/* ------------------------------------------------------------ what the sender writes */

static int saved_fd[3] = {-1, -1, -1};
static FILE *captured[3];

/* From now on what goes to fd (1 or 2) goes to a temporary file instead. */
static void
capture(int fd)
{
    fflush(fd == 1 ? stdout : stderr);
    captured[fd] = tmpfile();
    ck_assert_ptr_nonnull(captured[fd]);
    saved_fd[fd] = dup(fd);
    dup2(fileno(captured[fd]), fd);
}

/* Ends capture(fd); returns what was written (caller frees). */
static char *
captured_text(int fd)
{
    fflush(fd == 1 ? stdout : stderr);
    dup2(saved_fd[fd], fd);
    close(saved_fd[fd]);
    FILE *f = captured[fd];
    long n = ftell(f);
    char *text = calloc(1, (size_t)n + 1);
    rewind(f);
    ck_assert_int_eq(fread(text, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return text;
}

/* How many lines of text contain needle. */
static int
lines_with(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; p && *p;) {
        const char *eol = strchr(p, '\n');
        const char *hit = strstr(p, needle);
        if (hit && (!eol || hit < eol))
            n++;
        p = eol ? eol + 1 : NULL;
    }
    return n;
}

/* The request's events as a JSON array (new reference), after checking its signature. */
static json_t *
events_of(const received_t *r)
{
    char want[65];
    skt_sig_hmac_sha256_hex("app-secret", 10, r->body, strlen(r->body), want);
    ck_assert_str_eq(r->sig, want);
    ck_assert_str_eq(r->key, "app-key");
    json_t *body = json_loads(r->body, 0, NULL);
    ck_assert_ptr_nonnull(body);
    ck_assert(json_is_integer(json_object_get(body, "time_ms")));
    json_t *events = json_incref(json_object_get(body, "events"));
    json_decref(body);
    return events;
}

/* ------------------------------------------------------------ tests */

START_TEST(test_select_and_wanted)
{
    json_t *hook = json_loads("{\"url\":\"http://x\",\"event_types\":[\"channel_occupied\","
                              "\"member_added\"],\"filter\":{\"channel_name_starts_with\":"
                              "\"presence-\",\"channel_name_ends_with\":\"-room\"}}",
                              0, NULL);
    json_t *list = json_loads("[{\"name\":\"channel_occupied\",\"channel\":\"presence-a-room\"},"
                              "{\"name\":\"channel_occupied\",\"channel\":\"presence-a\"},"
                              "{\"name\":\"channel_occupied\",\"channel\":\"private-a-room\"},"
                              "{\"name\":\"channel_vacated\",\"channel\":\"presence-a-room\"},"
                              "{\"name\":\"member_added\",\"channel\":\"presence-b-room\","
                              "\"user_id\":\"1\"},"
                              "{\"name\":\"member_added\",\"channel\":\"-room\"}]",
                              0, NULL);
    json_t *got = skt_webhooks_select(hook, list);
    ck_assert_uint_eq(json_array_size(got), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(got, 0), "channel")),
                     "presence-a-room");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(got, 1), "name")),
                     "member_added");
    json_decref(got);
    json_decref(hook);
    json_decref(list);

    skt_app_t a = {.id = "a"};
    a.webhooks = json_loads("[{\"url\":\"http://x\",\"event_types\":[\"client_event\"]},"
                            "{\"lambda_function\":\"f\",\"event_types\":[\"cache_miss\"]},"
                            "{\"url\":\"http://y\",\"event_types\":[\"subscription_count\","
                            "\"channel_vacated\"]}]",
                            0, NULL);
    ck_assert_uint_eq(skt_webhooks_wanted(&a), SKT_WH_CLIENT_EVENT | SKT_WH_SUBSCRIPTION_COUNT |
                                                   SKT_WH_CHANNEL_VACATED | SKT_WH_CACHE_MISS);
    json_decref(a.webhooks);
    a.webhooks = json_array();
    ck_assert_uint_eq(skt_webhooks_wanted(&a), 0);
    json_decref(a.webhooks);
}
END_TEST

START_TEST(test_delivery_signed_with_headers)
{
    receiver_start();
    app_with_hooks("[{\"url\":\"http://127.0.0.1:%d/hook\",\"event_types\":[\"channel_occupied\","
                   "\"client_event\",\"member_added\"],\"headers\":{\"X-Custom\":\"yes\","
                   "\"X-Pusher-Signature\":\"forged\",\"Content-Type\":\"application/json\"}}]");
    skt_webhooks_t *wh = sender(0, 0, 0, 0, 2000, 1);
    skt_webhooks_channel_occupied(wh, &app, "room");
    skt_webhooks_channel_vacated(wh, &app, "room"); /* not asked for */
    json_t *data = json_pack("{s:i}", "x", 1);
    skt_webhooks_client_event(wh, &app, "presence-r", "client-go", data, "1.2", "u1", 0);
    json_decref(data);
    skt_webhooks_member_added(wh, &app, "presence-r", "u1", 0);
    run_until(&nreqs, 3, 3000);
    run_until(NULL, 0, 100); /* nothing more arrives */
    ck_assert_int_eq(nreqs, 3);
    /* one event per request without batching, in order of sending per connection */
    int seen_occupied = 0, seen_client = 0, seen_member = 0;
    for (int i = 0; i < 3; i++) {
        ck_assert_str_eq(reqs[i].custom, "yes");
        ck_assert_str_eq(reqs[i].ctype, "application/json");
        ck_assert_ptr_nonnull(strstr(reqs[i].ua, "Process: test-proc"));
        json_t *evs = events_of(&reqs[i]); /* checks the signature, not "forged" */
        ck_assert_uint_eq(json_array_size(evs), 1);
        json_t *ev = json_array_get(evs, 0);
        const char *name = json_string_value(json_object_get(ev, "name"));
        if (strcmp(name, "channel_occupied") == 0) {
            seen_occupied++;
            ck_assert_str_eq(json_string_value(json_object_get(ev, "channel")), "room");
        } else if (strcmp(name, "client_event") == 0) {
            seen_client++;
            json_t *want = json_loads("{\"name\":\"client_event\",\"channel\":\"presence-r\","
                                      "\"event\":\"client-go\",\"data\":{\"x\":1},"
                                      "\"socket_id\":\"1.2\",\"user_id\":\"u1\"}",
                                      0, NULL);
            ck_assert(json_equal(ev, want));
            json_decref(want);
        } else if (strcmp(name, "member_added") == 0) {
            seen_member++;
            ck_assert_str_eq(json_string_value(json_object_get(ev, "user_id")), "u1");
        }
        json_decref(evs);
    }
    ck_assert_int_eq(seen_occupied + seen_client + seen_member, 3);
    skt_wh_stats_t st = stats_of(wh);
    ck_assert_uint_eq(st.sent, 3);
    ck_assert_uint_eq(st.pending, 0);
    skt_webhooks_free(wh);
    receiver_stop();
}
END_TEST

START_TEST(test_each_webhook_gets_its_own_selection)
{
    receiver_start();
    app_with_hooks("[{\"url\":\"http://127.0.0.1:%d/a\",\"event_types\":[\"channel_occupied\"],"
                   "\"filter\":{\"channel_name_starts_with\":\"private-\"}},"
                   "{\"url\":\"http://127.0.0.1:%d/b\",\"event_types\":[\"channel_occupied\"]}]");
    skt_webhooks_t *wh = sender(1, 100, 0, 0, 2000, 1);
    skt_webhooks_channel_occupied(wh, &app, "public-1");
    skt_webhooks_channel_occupied(wh, &app, "private-1");
    skt_webhooks_channel_occupied(wh, &app, "public-2");
    run_until(&nreqs, 2, 3000);
    ck_assert_int_eq(nreqs, 2);
    size_t sizes[2];
    for (int i = 0; i < 2; i++) {
        json_t *evs = events_of(&reqs[i]);
        sizes[i] = json_array_size(evs);
        json_decref(evs);
    }
    /* the filtered webhook gets only private-1; the other all three, in one batch */
    ck_assert((sizes[0] == 1 && sizes[1] == 3) || (sizes[0] == 3 && sizes[1] == 1));
    skt_webhooks_free(wh);
    receiver_stop();
}
END_TEST

START_TEST(test_batching_window)
{
    receiver_start();
    app_with_hooks("[{\"url\":\"http://127.0.0.1:%d/\",\"event_types\":[\"cache_miss\"]}]");
    skt_webhooks_t *wh = sender(1, 150, 0, 0, 2000, 1);
    skt_webhooks_cache_miss(wh, &app, "cache-1");
    skt_webhooks_cache_miss(wh, &app, "cache-2");
    run_until(NULL, 0, 60);
    ck_assert_int_eq(nreqs, 0); /* still collecting */
    skt_webhooks_cache_miss(wh, &app, "cache-3");
    run_until(&nreqs, 1, 2000);
    ck_assert_int_eq(nreqs, 1);
    json_t *evs = events_of(&reqs[0]);
    ck_assert_uint_eq(json_array_size(evs), 3);
    json_decref(evs);
    /* the next event opens a new batch */
    skt_webhooks_cache_miss(wh, &app, "cache-4");
    run_until(&nreqs, 2, 2000);
    evs = events_of(&reqs[1]);
    ck_assert_uint_eq(json_array_size(evs), 1);
    json_decref(evs);
    skt_webhooks_free(wh);
    receiver_stop();
}
END_TEST

START_TEST(test_retry_then_success_and_no_retry_on_4xx)
{
    receiver_start();
    statuses[0] = 503;
    statuses[1] = 500;
    statuses[2] = 200;
    statuses[3] = 400;
    nstatuses = 4;
    app_with_hooks("[{\"url\":\"http://127.0.0.1:%d/\",\"event_types\":[\"channel_vacated\"]}]");
    skt_webhooks_t *wh = sender(0, 0, 0, 1, 2000, 5);
    skt_webhooks_channel_vacated(wh, &app, "a");
    run_until(&nreqs, 3, 3000);
    ck_assert_int_eq(nreqs, 3);
    ck_assert_str_eq(reqs[0].body, reqs[2].body); /* the same webhook, resent */
    skt_wh_stats_t st = stats_of(wh);
    ck_assert_uint_eq(st.sent, 1);
    ck_assert_uint_eq(st.retried, 2);
    skt_webhooks_channel_vacated(wh, &app, "b"); /* answered 400: given up at once */
    run_until(&nreqs, 4, 3000);
    run_until(NULL, 0, 300);
    ck_assert_int_eq(nreqs, 4);
    st = stats_of(wh);
    ck_assert_uint_eq(st.failed, 1);
    ck_assert_uint_eq(st.pending, 0);
    skt_webhooks_free(wh);
    receiver_stop();
}
END_TEST

START_TEST(test_unreachable_gives_up)
{
    receiver_start();
    app_with_hooks("[{\"url\":\"http://127.0.0.1:1/\",\"event_types\":[\"channel_vacated\"]}]");
    skt_webhooks_t *wh = sender(0, 0, 0, 0, 1000, 3);
    skt_webhooks_channel_vacated(wh, &app, "a");
    struct timeval t0, t1;
    gettimeofday(&t0, NULL);
    for (int i = 0; i < 200 && stats_of(wh).failed == 0; i++)
        run_until(NULL, 0, 10);
    gettimeofday(&t1, NULL);
    skt_wh_stats_t st = stats_of(wh);
    ck_assert_uint_eq(st.failed, 1);
    ck_assert_uint_eq(st.retried, 2);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_usec - t0.tv_usec) / 1000;
    ck_assert_msg(ms >= 140, "backoff 50 + 100 ms, took %ld", ms); /* 50 ms, then 100 ms */
    skt_webhooks_free(wh);
    receiver_stop();
}
END_TEST

START_TEST(test_hanging_endpoint_bounded_queue)
{
    receiver_start();
    default_status = 0; /* never answers */
    app_with_hooks("[{\"url\":\"http://127.0.0.1:%d/\",\"event_types\":[\"channel_occupied\"]}]");
    skt_webhooks_t *wh = sender(0, 0, 3, 1, 300, 1);
    for (int i = 0; i < 10; i++)
        skt_webhooks_channel_occupied(wh, &app, "c");
    skt_wh_stats_t st = stats_of(wh);
    ck_assert_uint_eq(st.dropped, 7);
    ck_assert_uint_eq(st.pending, 3);
    run_until(&nreqs, 1, 2000);
    ck_assert_int_eq(nreqs, 1); /* one at a time */
    /* each attempt times out after 300 ms and is not retried (max 1 attempt) */
    for (int i = 0; i < 300 && stats_of(wh).failed < 3; i++)
        run_until(NULL, 0, 10);
    st = stats_of(wh);
    ck_assert_uint_eq(st.failed, 3);
    ck_assert_uint_eq(st.pending, 0);
    skt_webhooks_free(wh);
    receiver_stop();
}
END_TEST

START_TEST(test_free_with_work_in_flight)
{
    receiver_start();
    default_status = 0;
    app_with_hooks("[{\"url\":\"http://127.0.0.1:%d/\",\"event_types\":[\"channel_occupied\"]}]");
    skt_webhooks_t *wh = sender(0, 0, 10, 2, 5000, 3);
    for (int i = 0; i < 5; i++)
        skt_webhooks_channel_occupied(wh, &app, "c");
    run_until(&nreqs, 2, 2000);
    ck_assert_int_eq(nreqs, 2);
    skt_webhooks_free(wh); /* 2 in flight, 3 queued: all released (ASan checks) */
    skt_webhooks_t *wh2 = sender(1, 10000, 0, 0, 0, 0);
    skt_webhooks_channel_occupied(wh2, &app, "batched"); /* waiting in a batch */
    skt_webhooks_free(wh2);
    receiver_stop();
}
END_TEST

START_TEST(test_answer_body_never_reaches_stdout)
{
    /* an endpoint answers a forged log line, then 4 MB: nothing of it is written anywhere,
     * the transfer stops at the cap, and its 200 still counts as delivered */
    receiver_start();
    answer_stream = 4 << 20;
    app_with_hooks("[{\"url\":\"http://127.0.0.1:%d/\",\"event_types\":[\"channel_occupied\"]}]");
    capture(1);
    skt_webhooks_t *wh = sender(0, 0, 0, 0, 5000, 1);
    skt_webhooks_channel_occupied(wh, &app, "c");
    for (int i = 0; i < 300 && stats_of(wh).sent + stats_of(wh).failed == 0; i++)
        run_until(NULL, 0, 10);
    skt_wh_stats_t st = stats_of(wh);
    skt_webhooks_free(wh);
    char *out = captured_text(1);
    ck_assert_msg(strlen(out) == 0, "%zu bytes of the answer on stdout", strlen(out));
    free(out);
    ck_assert_uint_eq(st.sent, 1);
    ck_assert_uint_eq(st.failed, 0);
    receiver_stop();
}
END_TEST

START_TEST(test_failed_answer_logged_escaped_and_short)
{
    static char body[1024];
    snprintf(body, sizeof(body),
             "oops\n2026-01-01T00:00:00.000Z [error] forged \"line\"\x1b[31m\r\t%0600d", 7);
    receiver_start();
    default_status = 400;
    answer_body = body;
    app_with_hooks("[{\"url\":\"http://127.0.0.1:%d/\",\"event_types\":[\"channel_occupied\"]}]");
    capture(1);
    capture(2);
    skt_webhooks_t *wh = sender(0, 0, 0, 0, 2000, 3);
    skt_webhooks_channel_occupied(wh, &app, "c");
    for (int i = 0; i < 300 && stats_of(wh).failed == 0; i++)
        run_until(NULL, 0, 10);
    skt_wh_stats_t st = stats_of(wh);
    skt_webhooks_free(wh);
    char *out = captured_text(1);
    char *err = captured_text(2);
    ck_assert_uint_eq(st.failed, 1); /* a 400 is not retried */
    ck_assert_str_eq(out, "");
    /* one line, the body's first 200 bytes escaped in it, and nothing that starts a line */
    ck_assert_int_eq(lines_with(err, "answered 400 after 1 attempt(s), body \"oops\\n2026-01-01T"
                                     "00:00:00.000Z [error] forged \\\"line\\\"\\x1b[31m\\r\\t000"),
                     1);
    ck_assert_ptr_null(strstr(err, "\n2026-01-01T00:00:00.000Z"));
    ck_assert_ptr_null(strstr(err, "\x1b"));
    ck_assert_ptr_null(strstr(err, "0000007")); /* past the 200 bytes kept */
    ck_assert_msg(strlen(err) < 1500, "%s", err);
    free(out);
    free(err);
    receiver_stop();
}
END_TEST

START_TEST(test_escape)
{
    char out[32];
    ck_assert_uint_eq(skt_curl_escape("a\"b\\\n\x01\xff", 7, out, sizeof(out)), 16);
    ck_assert_str_eq(out, "a\\\"b\\\\\\n\\x01\\xff");
    ck_assert_uint_eq(skt_curl_escape("\x01\x02", 2, out, 6), 4); /* cut, never half an escape */
    ck_assert_str_eq(out, "\\x01");
}
END_TEST

START_TEST(test_redirect_not_followed)
{
    static char where[64];
    receiver_start();
    snprintf(where, sizeof(where), "http://127.0.0.1:%d/elsewhere", port);
    default_status = 307;
    answer_where = where;
    app_with_hooks(
        "[{\"url\":\"http://127.0.0.1:%d/hook\",\"event_types\":[\"channel_occupied\"]}]");
    capture(2);
    skt_webhooks_t *wh = sender(0, 0, 0, 0, 2000, 3);
    skt_webhooks_channel_occupied(wh, &app, "c");
    for (int i = 0; i < 300 && stats_of(wh).failed == 0; i++)
        run_until(NULL, 0, 10);
    run_until(NULL, 0, 200);
    skt_wh_stats_t st = stats_of(wh);
    skt_webhooks_free(wh);
    char *err = captured_text(2);
    ck_assert_int_eq(nreqs, 1);
    ck_assert_str_eq(reqs[0].path, "/hook");
    ck_assert_uint_eq(st.failed, 1);
    ck_assert_uint_eq(st.retried, 0);
    ck_assert_int_eq(
        lines_with(err, "answered 307 after 1 attempt(s) (redirects are not followed)"), 1);
    free(err);
    receiver_stop();
}
END_TEST

START_TEST(test_only_http_and_https)
{
    receiver_start();
    app_with_hooks("[{\"url\":\"file:///etc/passwd\",\"event_types\":[\"channel_occupied\"]},"
                   "{\"url\":\"ftp://127.0.0.1:%d/\",\"event_types\":[\"channel_occupied\"]},"
                   "{\"url\":\"dict://127.0.0.1:%d/\",\"event_types\":[\"channel_occupied\"]},"
                   "{\"url\":\"HTTP://127.0.0.1:%d/ok\",\"event_types\":[\"channel_occupied\"]}]");
    capture(2);
    skt_webhooks_t *wh = sender(0, 0, 0, 0, 2000, 1);
    skt_webhooks_channel_occupied(wh, &app, "c");
    run_until(&nreqs, 1, 2000);
    run_until(NULL, 0, 200);
    skt_wh_stats_t st = stats_of(wh);
    skt_webhooks_free(wh);
    char *err = captured_text(2);
    ck_assert_int_eq(nreqs, 1); /* only the HTTP:// one, to the receiver */
    ck_assert_str_eq(reqs[0].path, "/ok");
    ck_assert_uint_eq(st.sent, 1);
    ck_assert_uint_eq(st.failed, 3);
    /* the first refusal is logged at once, the two others in the next second's line */
    ck_assert_int_eq(lines_with(err, "file:///etc/passwd: not an http:// or https:// URL"), 1);
    ck_assert_int_eq(lines_with(err, "2 webhook(s) failed (3 in all) since the last report"), 1);
    ck_assert_int_eq(skt_curl_url_ok("https://x"), 1);
    ck_assert_int_eq(skt_curl_url_ok("httpx://x"), 0);
    ck_assert_int_eq(skt_curl_url_ok(NULL), 0);
    free(err);
    receiver_stop();
}
END_TEST

START_TEST(test_failures_logged_once_a_second)
{
    receiver_start();
    default_status = 422;
    app_with_hooks("[{\"url\":\"http://127.0.0.1:%d/\",\"event_types\":[\"channel_occupied\"]}]");
    capture(2);
    skt_webhooks_t *wh = sender(0, 0, 0, 0, 2000, 5);
    for (int i = 0; i < 40; i++)
        skt_webhooks_channel_occupied(wh, &app, "c");
    for (int i = 0; i < 300 && stats_of(wh).failed < 40; i++)
        run_until(NULL, 0, 10);
    run_until(NULL, 0, 1100); /* the second's line */
    skt_wh_stats_t st = stats_of(wh);
    char *err = captured_text(2);
    ck_assert_uint_eq(st.failed, 40);
    ck_assert_int_eq(lines_with(err, "webhook(s) failed"), 2);
    ck_assert_int_eq(lines_with(err, "1 webhook(s) failed (1 in all): http://127.0.0.1:"), 1);
    ck_assert_int_eq(lines_with(err, "39 webhook(s) failed (40 in all) since the last report"), 1);
    free(err);
    skt_webhooks_free(wh);
    receiver_stop();
}
END_TEST

/* A client event of about size bytes for app, on channel ch. */
static void
client_event_of(skt_webhooks_t *wh, const skt_app_t *a, const char *ch, size_t size)
{
    char *text = malloc(size + 1);
    memset(text, 'x', size);
    text[size] = '\0';
    json_t *data = json_string(text);
    skt_webhooks_client_event(wh, a, ch, "client-big", data, "1.1", NULL, 0);
    json_decref(data);
    free(text);
}

START_TEST(test_pending_bytes_per_app_drop_the_oldest)
{
    receiver_start();
    statuses[0] = 0; /* the first request hangs until it times out */
    nstatuses = 1;
    app_with_hooks("[{\"url\":\"http://127.0.0.1:%d/\",\"event_types\":[\"client_event\"]}]");
    capture(2);
    skt_webhooks_t *wh = sender_with((skt_webhooks_opts_t){.max_inflight = 1,
                                                           .timeout_ms = 400,
                                                           .max_attempts = 1,
                                                           .app_bytes_max = 10000,
                                                           .total_bytes_max = 1 << 20});
    char ch[32];
    for (int i = 0; i < 20; i++) { /* each body ~1.1 KB: 9 fit */
        snprintf(ch, sizeof(ch), "private-%02d", i);
        client_event_of(wh, &app, ch, 1000);
        ck_assert_uint_le(stats_of(wh).pending_bytes, 10000);
    }
    skt_wh_stats_t st = stats_of(wh);
    ck_assert_uint_gt(st.pending_bytes, 8000);
    ck_assert_uint_eq(st.pending + st.dropped, 20);
    ck_assert_uint_ge(st.dropped, 11);
    /* larger than the whole budget: dropped itself, nothing else goes */
    size_t before = st.pending;
    client_event_of(wh, &app, "private-huge", 20000);
    ck_assert_uint_eq(stats_of(wh).pending, before);
    ck_assert_uint_eq(stats_of(wh).dropped, st.dropped + 1);
    /* the first (in flight) times out; then the newest arrive, in order */
    for (int i = 0; i < 300 && stats_of(wh).pending > 0; i++)
        run_until(NULL, 0, 10);
    ck_assert_int_eq(nreqs, (int)before);
    for (int i = 1; i < nreqs; i++) {
        json_t *evs = events_of(&reqs[i]);
        snprintf(ch, sizeof(ch), "private-%02d", 20 - nreqs + i);
        ck_assert_str_eq(json_string_value(json_object_get(json_array_get(evs, 0), "channel")), ch);
        json_decref(evs);
    }
    skt_webhooks_free(wh);
    char *err = captured_text(2);
    ck_assert_int_ge(lines_with(err, "(webhooks.maxPendingSizePerAppInMb)"), 1);
    ck_assert_int_le(lines_with(err, "webhook(s) dropped"), 3);
    free(err);
    receiver_stop();
}
END_TEST

START_TEST(test_pending_bytes_in_all_drop_from_the_biggest)
{
    receiver_start();
    default_status = 0; /* nothing is ever answered */
    app_with_hooks("[{\"url\":\"http://127.0.0.1:%d/\",\"event_types\":[\"client_event\"]}]");
    skt_app_t other = app;
    other.id = "other";
    capture(2);
    skt_webhooks_t *wh = sender_with((skt_webhooks_opts_t){
        .max_inflight = 1, .timeout_ms = 5000, .queue_max = 3, .total_bytes_max = 5000});
    for (int i = 0; i < 6; i++) /* bodies of ~1.1 KB: 4 fit in all */
        client_event_of(wh, &app, "private-a", 1000);
    skt_wh_stats_t a = stats_of(wh);
    ck_assert_uint_eq(a.pending, 3); /* the count per app */
    ck_assert_uint_eq(a.dropped, 3);
    for (int i = 0; i < 5; i++)
        client_event_of(wh, &other, "private-b", 1000);
    skt_wh_stats_t b = stats_of_app(wh, "other");
    a = stats_of(wh);
    ck_assert_uint_le(a.pending_bytes + b.pending_bytes, 5000);
    /* "app-id" held the most: its queued ones went first; its one in flight stays */
    ck_assert_uint_ge(a.pending, 1);
    ck_assert_uint_ge(a.dropped, 4);
    ck_assert_uint_ge(b.pending, 2);
    skt_webhooks_free(wh);
    free(captured_text(2));
    receiver_stop();
}
END_TEST

START_TEST(test_batch_bounded_in_bytes)
{
    receiver_start();
    app_with_hooks("[{\"url\":\"http://127.0.0.1:%d/\",\"event_types\":[\"client_event\"]}]");
    skt_webhooks_t *wh = sender_with((skt_webhooks_opts_t){.batching = 1,
                                                           .batch_ms = 10000,
                                                           .timeout_ms = 2000,
                                                           .max_attempts = 1,
                                                           .batch_bytes_max = 4096});
    for (int i = 0; i < 10; i++)
        client_event_of(wh, &app, "private-batch", 1000);
    /* long before the 10 s window: full batches go at once */
    run_until(&nreqs, 3, 2000);
    ck_assert_int_eq(nreqs, 3);
    size_t events = 0;
    for (int i = 0; i < nreqs; i++) {
        ck_assert_uint_le(strlen(reqs[i].body), 4096 + 64);
        json_t *evs = events_of(&reqs[i]);
        events += json_array_size(evs);
        json_decref(evs);
    }
    ck_assert_uint_eq(events, 9); /* three per request; the 10th waits for the window */
    skt_webhooks_free(wh);
    receiver_stop();
}
END_TEST

/* A lambda_function webhook goes through the same sender: its Payload wraps exactly the body
 * a url gets, with the same signature in its headers, and counts in the pending bytes. */
START_TEST(test_lambda_through_the_sender)
{
    receiver_start();
    default_status = 0; /* hang: both stay pending */
    app_with_hooks("[{\"url\":\"http://127.0.0.1:%d/hook\",\"event_types\":[\"channel_occupied\"]},"
                   "{\"lambda_function\":\"fn\",\"event_types\":[\"channel_occupied\"],"
                   "\"headers\":{\"X-Custom\":\"yes\"},\"lambda\":{\"async\":true,"
                   "\"client_options\":{\"endpoint\":\"http://127.0.0.1:%d\",\"credentials\":"
                   "{\"accessKeyId\":\"AKID\",\"secretAccessKey\":\"S\"}}}}]");
    skt_webhooks_t *wh = sender(0, 0, 0, 0, 2000, 1);
    skt_webhooks_channel_occupied(wh, &app, "room");
    run_until(&nreqs, 2, 3000);
    ck_assert_int_eq(nreqs, 2);
    received_t *url = strcmp(reqs[0].path, "/hook") == 0 ? &reqs[0] : &reqs[1];
    received_t *fn = url == &reqs[0] ? &reqs[1] : &reqs[0];
    ck_assert_str_eq(fn->path, "/2015-03-31/functions/fn/invocations");
    ck_assert_str_eq(fn->key, ""); /* X-Pusher-* travel in the Payload */
    ck_assert_str_eq(url->auth, "");
    ck_assert_ptr_nonnull(strstr(fn->auth, "AWS4-HMAC-SHA256 Credential=AKID/"));
    ck_assert_ptr_nonnull(strstr(fn->auth, "/us-east-1/lambda/aws4_request, SignedHeaders="));
    size_t ul = strlen(url->body);
    ck_assert_int_eq(strncmp(fn->body, "{\"payload\":", 11), 0);
    ck_assert_int_eq(strncmp(fn->body + 11, url->body, ul), 0);
    json_t *p = json_loads(fn->body, 0, NULL);
    json_t *h = json_object_get(p, "headers");
    ck_assert_str_eq(json_string_value(json_object_get(h, "X-Pusher-Signature")), url->sig);
    ck_assert_str_eq(json_string_value(json_object_get(h, "X-Pusher-Key")), "app-key");
    ck_assert_str_eq(json_string_value(json_object_get(h, "X-Custom")), "yes");
    ck_assert_str_eq(json_string_value(json_object_get(h, "Content-Type")), "application/json");
    json_decref(p);
    skt_wh_stats_t st = stats_of(wh);
    ck_assert_uint_eq(st.pending, 2);
    ck_assert_uint_eq(st.pending_bytes, ul + strlen(fn->body));
    skt_webhooks_free(wh);
    receiver_stop();
}
END_TEST

static void
teardown(void)
{
    json_decref(app.webhooks);
    app.webhooks = NULL;
    if (base)
        event_base_free(base);
    base = NULL;
}

/* ---- the durable queue's job format ---------------------------------------------- */

START_TEST(test_job_encoding)
{
    json_t *meta = json_pack("{s:i, s:s, s:i, s:{s:s}, s:s, s:s}", "v", 1, "app", "app-1",
                             "attempts", 2, "hook", "url", "http://h/x", "key", "k", "sig", "ab");
    static const char body[] = "{\"time_ms\":1,\"events\":[\"a\\nb\"]}\n\0tail";
    size_t len = 0, bl = 0;
    char *job = skt_whq_encode(meta, body, sizeof(body) - 1, &len);
    ck_assert_ptr_nonnull(job);
    ck_assert_ptr_nonnull(strstr(job, "\"attempts\":2"));
    const char *b = NULL;
    json_t *back = skt_whq_decode(job, len, &b, &bl);
    ck_assert_ptr_nonnull(back);
    ck_assert(json_equal(back, meta));
    ck_assert_uint_eq(bl, sizeof(body) - 1); /* the body byte for byte, newlines and NUL */
    ck_assert_mem_eq(b, body, bl);
    json_decref(back);
    free(job);
    /* what is not a job of ours */
    static const char *const bad[] = {
        "no newline",
        "{\"v\":2,\"app\":\"a\",\"attempts\":0,\"hook\":{},\"key\":\"k\",\"sig\":\"s\"}\nx",
        "{\"v\":1,\"attempts\":0,\"hook\":{},\"key\":\"k\",\"sig\":\"s\"}\nx",
        "{\"v\":1,\"app\":\"a\",\"attempts\":-1,\"hook\":{},\"key\":\"k\",\"sig\":\"s\"}\nx",
        "{\"v\":1,\"app\":\"a\",\"attempts\":0,\"hook\":[],\"key\":\"k\",\"sig\":\"s\"}\nx",
        "{\"v\":1,\"app\":\"a\",\"attempts\":0,\"hook\":{},\"sig\":\"s\"}\nx",
        "{\"v\":1,\"app\":\"a\",\"attempts\":0,\"hook\":{},\"key\":\"k\"}\nx",
        "not json\n{}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_ptr_null(skt_whq_decode(bad[i], strlen(bad[i]), &b, &bl));
    /* an empty body is a body */
    const char *ok =
        "{\"v\":1,\"app\":\"a\",\"attempts\":0,\"hook\":{},\"key\":\"k\",\"sig\":\"s\"}\n";
    back = skt_whq_decode(ok, strlen(ok), &b, &bl);
    ck_assert_ptr_nonnull(back);
    ck_assert_uint_eq(bl, 0);
    json_decref(back);
    json_decref(meta);
}
END_TEST

static Suite *
webhooks_suite(void)
{
    Suite *s = suite_create("webhooks");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 20);
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_select_and_wanted);
    tcase_add_test(tc, test_delivery_signed_with_headers);
    tcase_add_test(tc, test_each_webhook_gets_its_own_selection);
    tcase_add_test(tc, test_batching_window);
    tcase_add_test(tc, test_retry_then_success_and_no_retry_on_4xx);
    tcase_add_test(tc, test_unreachable_gives_up);
    tcase_add_test(tc, test_hanging_endpoint_bounded_queue);
    tcase_add_test(tc, test_free_with_work_in_flight);
    tcase_add_test(tc, test_answer_body_never_reaches_stdout);
    tcase_add_test(tc, test_failed_answer_logged_escaped_and_short);
    tcase_add_test(tc, test_escape);
    tcase_add_test(tc, test_redirect_not_followed);
    tcase_add_test(tc, test_only_http_and_https);
    tcase_add_test(tc, test_failures_logged_once_a_second);
    tcase_add_test(tc, test_pending_bytes_per_app_drop_the_oldest);
    tcase_add_test(tc, test_pending_bytes_in_all_drop_from_the_biggest);
    tcase_add_test(tc, test_batch_bounded_in_bytes);
    tcase_add_test(tc, test_lambda_through_the_sender);
    tcase_add_test(tc, test_job_encoding);
    suite_add_tcase(s, tc);
    return s;
}

SKT_CHECK_MAIN(webhooks_suite)
