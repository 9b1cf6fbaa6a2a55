/* check_conn.c - unit tests of the connection layer (src/net/conn*.c) on a real
 * event loop: a net listens on a loopback port, the test's own non-blocking
 * sockets are its clients, and the loop runs only while the test pumps it.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check_main.h"
#include "net/conn.h"

/* What the handlers saw. */
typedef struct fixture_s {
    struct event_base *base;
    skt_net_t *net;
    int port;
    int heads;          /* on_request_head calls */
    int requests;       /* on_request calls */
    size_t body_len;    /* of the last request with a body */
    char *body;         /* a copy of that body */
    int head_answer;    /* 0: read the body; else the status to refuse with */
    int messages;       /* on_ws_message calls */
    size_t message_len; /* of the last message */
} fixture_t;

static fixture_t fx;

static void
on_request(skt_conn_t *c, const skt_http_req_t *req, char *body, size_t body_len)
{
    fx.requests++;
    if (body_len) { /* the last body, for tests that check its bytes */
        fx.body_len = body_len;
        free(fx.body);
        fx.body = malloc(body_len + 1);
        memcpy(fx.body, body, body_len + 1);
    }
    static char big[4000];
    if (req->upgrade_websocket)
        skt_conn_ws_accept(c, req);
    else if (req->path_len == 4 && memcmp(req->path, "/big", 4) == 0)
        skt_conn_http_respond(c, 200, NULL, "text/plain", big, sizeof(big), 0);
    else
        skt_conn_http_respond(c, 200, NULL, "text/plain", "OK", 2, 0);
}

static int
on_request_head(skt_conn_t *c, const skt_http_req_t *req)
{
    fx.heads++;
    if (!fx.head_answer)
        return 0;
    skt_conn_http_respond(c, fx.head_answer, NULL, "text/plain", "no", 2, 0);
    return 1;
}

static void
on_ws_message(skt_conn_t *c, int binary, char *data, size_t len)
{
    fx.messages++;
    fx.message_len = len;
    /* Commands of the output tests: "send <count> <bytes>" queues count
     * messages of bytes each, at once. */
    unsigned count, bytes;
    if (sscanf(data, "send %u %u", &count, &bytes) == 2) {
        char *msg = malloc(bytes);
        memset(msg, 'o', bytes);
        for (unsigned i = 0; i < count; i++)
            skt_conn_send_text(c, msg, bytes);
        free(msg);
    }
}

/* Starts a plain net on a loopback port with opts (conn_size and the
 * timeouts filled in when zero) and the given head handler. */
static void
fixture_start(skt_net_opts_t opts, int with_head_handler)
{
    memset(&fx, 0, sizeof(fx));
    fx.base = event_base_new();
    ck_assert_ptr_nonnull(fx.base);
    if (!opts.max_head)
        opts.max_head = 16384;
    if (!opts.ws_idle_timeout)
        opts.ws_idle_timeout = 120;
    if (!opts.http_idle_timeout)
        opts.http_idle_timeout = 10;
    skt_net_handlers_t h = {.on_request = on_request,
                            .on_request_head = with_head_handler ? on_request_head : NULL,
                            .on_ws_message = on_ws_message};
    fx.net = skt_net_new(fx.base, &opts, &h, NULL);
    ck_assert_ptr_nonnull(fx.net);
    char err[256];
    ck_assert_int_eq(skt_net_listen(fx.net, "127.0.0.1", 0, err, sizeof(err)), 0);
    fx.port = skt_net_port(fx.net);
    ck_assert_int_gt(fx.port, 0);
}

static void
fixture_stop(void)
{
    free(fx.body);
    skt_net_free(fx.net);
    event_base_free(fx.base);
}

/* A non-blocking client socket connected to the fixture's port. */
static int
client(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)fx.port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
    return fd;
}

static long
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Writes all of buf (pumping the loop while the kernel is full); returns the
 * bytes written before the peer closed. */
static size_t
send_all(int fd, const char *buf, size_t len)
{
    size_t off = 0;
    long end = now_ms() + 5000;
    while (off < len && now_ms() < end) {
        ssize_t w = send(fd, buf + off, len - off, MSG_NOSIGNAL);
        if (w > 0)
            off += (size_t)w;
        else if (w < 0 && errno != EAGAIN)
            break;
        event_base_loop(fx.base, EVLOOP_NONBLOCK);
    }
    return off;
}

/* Reads what the server sends for about ms milliseconds into out (NUL
 * terminated, cap bytes); *eof is set when the server closed. fd -1: only
 * runs the loop. */
static size_t
recv_for(int fd, char *out, size_t cap, int ms, int *eof)
{
    size_t got = 0;
    long end = now_ms() + ms;
    *eof = 0;
    while (now_ms() < end && !*eof) {
        event_base_loop(fx.base, EVLOOP_NONBLOCK);
        if (fd < 0) { /* only run the loop */
            usleep(1000);
            continue;
        }
        ssize_t n = recv(fd, out + got, cap - 1 - got, 0);
        if (n > 0)
            got += (size_t)n;
        else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
            *eof = 1;
        else
            usleep(1000);
    }
    out[got] = '\0';
    return got;
}

/* ---------------------------------------------------------------- on_request_head */

#define BIG_HEAD "POST /apps/1/events HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000\r\n\r\n"

START_TEST(head_refused_body_never_read)
{
    skt_net_opts_t o = {.max_body = 10 << 20};
    fixture_start(o, 1);
    fx.head_answer = 401;
    int fd = client();
    static char body[200000];
    memset(body, 'x', sizeof(body));
    send_all(fd, BIG_HEAD, strlen(BIG_HEAD));
    size_t sent = send_all(fd, body, sizeof(body));
    char out[4096];
    int eof;
    recv_for(fd, out, sizeof(out), 500, &eof);
    ck_assert_int_eq(fx.heads, 1);
    ck_assert_int_eq(fx.requests, 0);
    ck_assert_msg(strncmp(out, "HTTP/1.1 401 ", 13) == 0, "answer: %s", out);
    ck_assert_msg(strstr(out, "Connection: close\r\n") != NULL, "answer: %s", out);
    ck_assert_msg(eof, "the connection is closed after the answer (%zu body bytes sent)", sent);
    close(fd);
    fixture_stop();
}
END_TEST

/* Sends a 1 MB body and checks that on_request got all of it and answered. */
static void
check_big_body_read(int with_head_handler)
{
    skt_net_opts_t o = {.max_body = 10 << 20};
    fixture_start(o, with_head_handler);
    int fd = client();
    static char body[1000000];
    memset(body, 'x', sizeof(body));
    send_all(fd, BIG_HEAD, strlen(BIG_HEAD));
    send_all(fd, body, sizeof(body));
    char out[4096];
    int eof;
    recv_for(fd, out, sizeof(out), 300, &eof);
    ck_assert_int_eq(fx.heads, with_head_handler);
    ck_assert_int_eq(fx.requests, 1);
    ck_assert_uint_eq(fx.body_len, sizeof(body));
    ck_assert_msg(strncmp(out, "HTTP/1.1 200 ", 13) == 0, "answer: %s", out);
    ck_assert_int_eq(eof, 0);
    close(fd);
    fixture_stop();
}

START_TEST(head_accepted_body_read)
{
    check_big_body_read(1);
}
END_TEST

START_TEST(no_head_handler_reads_bodies)
{
    check_big_body_read(0);
}
END_TEST

START_TEST(head_handler_only_for_bodies)
{
    skt_net_opts_t o = {.max_body = 1000};
    fixture_start(o, 1);
    fx.head_answer = 401;
    int fd = client();
    const char *reqs = "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
                       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n";
    send_all(fd, reqs, strlen(reqs));
    char out[4096];
    int eof;
    recv_for(fd, out, sizeof(out), 300, &eof);
    ck_assert_int_eq(fx.heads, 0);
    ck_assert_int_eq(fx.requests, 2);
    close(fd);
    /* A chunked body is announced too; a Content-Length over max_body is 413 first. */
    fd = client();
    const char *chunked = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    send_all(fd, chunked, strlen(chunked));
    recv_for(fd, out, sizeof(out), 300, &eof);
    ck_assert_int_eq(fx.heads, 1);
    ck_assert_msg(strncmp(out, "HTTP/1.1 401 ", 13) == 0, "answer: %s", out);
    close(fd);
    fd = client();
    const char *big = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1001\r\n\r\n";
    send_all(fd, big, strlen(big));
    recv_for(fd, out, sizeof(out), 300, &eof);
    ck_assert_int_eq(fx.heads, 1);
    ck_assert_msg(strncmp(out, "HTTP/1.1 413 ", 13) == 0, "answer: %s", out);
    close(fd);
    fixture_stop();
}
END_TEST

/* ---------------------------------------------------------------- chunked bodies */

/* A chunked body sent in pieces cut anywhere (inside sizes, data and line
 * ends), the loop running between them, then a pipelined request. */
START_TEST(chunked_body_in_pieces)
{
    skt_net_opts_t o = {.max_body = 1 << 20};
    fixture_start(o, 0);
    int fd = client();
    char req[200000], want[100000];
    size_t n = (size_t)snprintf(req, sizeof(req),
                                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
    size_t wl = 0;
    for (int i = 0; wl < 90000; i++) {
        size_t len = 1 + (size_t)(i * 37 % 3000);
        n += (size_t)snprintf(req + n, sizeof(req) - n, "%zx;ext=%d\r\n", len, i);
        for (size_t k = 0; k < len; k++)
            want[wl++] = req[n++] = (char)('a' + (i + k) % 26);
        n += (size_t)snprintf(req + n, sizeof(req) - n, "\r\n");
    }
    n += (size_t)snprintf(req + n, sizeof(req) - n,
                          "0\r\nTrailer: x\r\n\r\nGET /next HTTP/1.1\r\nHost: a\r\n\r\n");
    char out[4096];
    int eof;
    for (size_t off = 0, step = 1; off < n; off += step, step = step * 7 % 4093 + 1) {
        send_all(fd, req + off, off + step > n ? n - off : step);
        recv_for(-1, out, sizeof(out), 1, &eof);
    }
    recv_for(fd, out, sizeof(out), 200, &eof);
    ck_assert_int_eq(fx.requests, 2);
    ck_assert_uint_eq(fx.body_len, wl);
    ck_assert(memcmp(fx.body, want, wl) == 0);
    ck_assert_int_eq(fx.body[wl], '\0');
    close(fd);
    fixture_stop();
}
END_TEST

/* ---------------------------------------------------------------- header timeout */

START_TEST(header_timeout_slowloris)
{
    skt_net_opts_t o = {.max_body = 1000, .header_timeout = 1, .http_idle_timeout = 4};
    fixture_start(o, 0);
    int silent = client();
    int drip = client();
    int idle = client();
    const char *get = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    send_all(idle, get, strlen(get));
    const char *head = "GET / HTTP/1.1\r\nHost: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
    char out[4096], junk[4096];
    int eof = 0, silent_eof = 0;
    size_t got = 0;
    long t0 = now_ms(), closed_at = 0;
    /* One byte every 100 ms: each resets no deadline. */
    for (size_t i = 0; i < strlen(head) && !eof; i++) {
        send_all(drip, head + i, 1);
        got += recv_for(drip, out + got, sizeof(out) - got, 100, &eof);
        if (!silent_eof)
            recv_for(silent, junk, sizeof(junk), 1, &silent_eof);
        if (eof)
            closed_at = now_ms();
    }
    ck_assert_msg(eof, "the dribbling client was not closed");
    ck_assert_msg(closed_at - t0 < 3500, "closed after %ld ms", closed_at - t0);
    ck_assert_msg(strncmp(out, "HTTP/1.1 408 ", 13) == 0, "answer: %s", out);
    recv_for(silent, junk, sizeof(junk), 100, &silent_eof);
    ck_assert_msg(silent_eof && junk[0] == '\0', "the silent client is closed without an answer");
    /* The keep-alive client that finished its request is still there. */
    recv_for(idle, junk, sizeof(junk), 10, &eof);
    ck_assert_int_eq(eof, 0);
    skt_net_stats_t st;
    skt_net_stats(fx.net, &st);
    ck_assert_uint_eq(st.header_timeouts, 2);
    close(silent);
    close(drip);
    close(idle);
    fixture_stop();
}
END_TEST

/* ---------------------------------------------------------------- input budget */

/* A client that completed a WebSocket handshake (the 101 is read). */
static int
ws_client(void)
{
    int fd = client();
    const char *up =
        "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    send_all(fd, up, strlen(up));
    char out[1024];
    int eof;
    recv_for(fd, out, sizeof(out), 100, &eof);
    ck_assert_msg(strncmp(out, "HTTP/1.1 101 ", 13) == 0, "handshake: %s", out);
    return fd;
}

/* The header of a masked client frame (mask 0) announcing len payload bytes. */
static size_t
frame_head(unsigned char *out, unsigned opcode, int fin, uint64_t len)
{
    size_t n = 0;
    out[n++] = (unsigned char)((fin ? 0x80 : 0) | opcode);
    if (len < 126) {
        out[n++] = (unsigned char)(0x80 | len);
    } else if (len < 65536) {
        out[n++] = 0x80 | 126;
        out[n++] = (unsigned char)(len >> 8);
        out[n++] = (unsigned char)len;
    } else {
        out[n++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            out[n++] = (unsigned char)(len >> (i * 8));
    }
    memset(out + n, 0, 4); /* mask 0: the payload goes as it is */
    return n + 4;
}

/* Reads the close frame the server sent; returns its code, 0 if none came. */
static unsigned
recv_close_code(int fd)
{
    unsigned char out[256];
    int eof;
    size_t n = recv_for(fd, (char *)out, sizeof(out), 300, &eof);
    for (size_t i = 0; i + 4 <= n; i++)
        if (out[i] == 0x88 && out[i + 1] >= 2 && out[i + 1] < 126)
            return (unsigned)(out[i + 2] << 8 | out[i + 3]);
    return 0;
}

START_TEST(budget_refuses_http_and_ws)
{
    skt_net_budget_t budget = {.limit = 1 << 20};
    skt_net_opts_t o = {
        .max_body = 100 << 20, .max_ws_payload = 100 << 20, .input_budget = &budget};
    fixture_start(o, 0);
    static char fill[700000];
    memset(fill, 'z', sizeof(fill));
    /* A partial body takes most of the budget... */
    int a = client();
    const char *head = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 50000000\r\n\r\n";
    send_all(a, head, strlen(head));
    send_all(a, fill, sizeof(fill));
    char out[4096];
    int eof;
    recv_for(a, out, sizeof(out), 200, &eof);
    skt_net_stats_t st;
    skt_net_stats(fx.net, &st);
    ck_assert_uint_gt(st.input_buffered, sizeof(fill));
    ck_assert_uint_le(st.input_buffered, budget.limit);
    ck_assert_uint_eq(st.input_refused, 0);
    /* ...so that the next partial body is refused with 503... */
    int b = client();
    send_all(b, head, strlen(head));
    send_all(b, fill, sizeof(fill));
    recv_for(b, out, sizeof(out), 300, &eof);
    ck_assert_msg(strncmp(out, "HTTP/1.1 503 ", 13) == 0, "answer: %s", out);
    ck_assert_msg(strstr(out, "{\"error\":\"The server is busy: too much buffered input. Try again "
                              "later.\",\"code\":503}") != NULL,
                  "answer: %s", out);
    /* ...and a WebSocket's partial frame gets close 1013. */
    int w = ws_client();
    unsigned char fh[14];
    size_t hl = frame_head(fh, 1, 1, 50000000);
    send_all(w, (char *)fh, hl);
    send_all(w, fill, sizeof(fill));
    ck_assert_uint_eq(recv_close_code(w), 1013);
    skt_net_stats(fx.net, &st);
    ck_assert_uint_eq(st.input_refused, 2);
    ck_assert_uint_le(budget.used, budget.limit);
    /* Every byte goes back to the budget when the connections close. */
    close(a);
    close(b);
    close(w);
    recv_for(-1, out, sizeof(out), 100, &eof);
    ck_assert_uint_eq(budget.used, 0);
    fixture_stop();
}
END_TEST

START_TEST(budget_counts_fragments)
{
    skt_net_budget_t budget = {.limit = 256 << 10};
    skt_net_opts_t o = {.max_body = 1 << 20, .max_ws_payload = 10 << 20, .input_budget = &budget};
    fixture_start(o, 0);
    int w = ws_client();
    static char part[60000];
    memset(part, 'f', sizeof(part));
    unsigned char fh[14];
    /* Fragments of one message: each fits, together they pass the budget. */
    for (int i = 0; i < 8; i++) {
        size_t hl = frame_head(fh, i == 0 ? 1 : 0, 0, sizeof(part));
        send_all(w, (char *)fh, hl);
        send_all(w, part, sizeof(part));
    }
    ck_assert_uint_eq(recv_close_code(w), 1013);
    ck_assert_int_eq(fx.messages, 0);
    close(w);
    char out[16];
    int eof;
    recv_for(-1, out, sizeof(out), 100, &eof);
    ck_assert_uint_eq(budget.used, 0);
    /* Without a limit the same message is delivered, and nothing stays charged. */
    budget.limit = 0;
    w = ws_client();
    for (int i = 0; i < 8; i++) {
        size_t hl = frame_head(fh, i == 0 ? 1 : 0, i == 7, sizeof(part));
        send_all(w, (char *)fh, hl);
        send_all(w, part, sizeof(part));
    }
    recv_for(w, out, sizeof(out), 200, &eof);
    ck_assert_int_eq(fx.messages, 1);
    ck_assert_uint_eq(fx.message_len, 8 * sizeof(part));
    ck_assert_uint_eq(budget.used, 0);
    close(w);
    fixture_stop();
}
END_TEST

/* ---------------------------------------------------------------- output bound */

/* Sends a masked text frame holding text. */
static void
ws_send(int fd, const char *text)
{
    unsigned char fh[14];
    size_t hl = frame_head(fh, 1, 1, strlen(text));
    send_all(fd, (char *)fh, hl);
    send_all(fd, text, strlen(text));
}

/* Reads for ms milliseconds; returns the bytes received (*eof on close). */
static size_t
ws_drain(int fd, int ms, int *eof)
{
    static char buf[1 << 20];
    size_t total = 0;
    long end = now_ms() + ms;
    *eof = 0;
    while (now_ms() < end && !*eof)
        total += recv_for(fd, buf, sizeof(buf), 20, eof);
    return total;
}

START_TEST(one_big_message_is_not_a_slow_reader)
{
    skt_net_opts_t o = {.max_body = 1000, .max_ws_payload = 1 << 20, .max_backpressure = 65536};
    fixture_start(o, 0);
    int w = ws_client();
    /* 200 KB on its own, and small ones queued behind it at once: all go. */
    ws_send(w, "send 1 200000");
    ws_send(w, "send 3 1000");
    int eof;
    size_t got = ws_drain(w, 300, &eof);
    ck_assert_int_eq(eof, 0);
    ck_assert_uint_eq(got, (200000 + 10) + 3 * (1000 + 4)); /* with frame headers */
    /* Two at once: the second is refused, the client stays. */
    ws_send(w, "send 2 200000");
    got = ws_drain(w, 300, &eof);
    ck_assert_int_eq(eof, 0);
    ck_assert_uint_eq(got, 200000 + 10);
    /* A queue that keeps growing past the limit still dooms it (4100). */
    ws_send(w, "send 200 16000");
    ck_assert_uint_eq(recv_close_code(w), 4100);
    close(w);
    fixture_stop();
}
END_TEST

/* An HTTP client pipelining requests for answers larger than the output limit
 * and reading none: its requests wait for its answers (it holds no more than
 * one read of input), and the idle timeout closes it (counted). */
START_TEST(stats_http_output_closed)
{
    skt_net_opts_t o = {.max_body = 1000, .max_backpressure = 1024, .http_idle_timeout = 1};
    fixture_start(o, 0);
    int fd = client();
    int rcv = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
    static char reqs[2000 * 32];
    size_t n = 0;
    for (int i = 0; i < 2000; i++)
        n += (size_t)snprintf(reqs + n, sizeof(reqs) - n, "GET /big HTTP/1.1\r\nHost: a\r\n\r\n");
    send_all(fd, reqs, n);
    skt_net_stats_t st;
    long end = now_ms() + 5000;
    char out[16];
    int eof;
    do {
        recv_for(-1, out, sizeof(out), 20, &eof);
        skt_net_stats(fx.net, &st);
    } while (!st.http_output_closed && now_ms() < end);
    ck_assert_uint_eq(st.http_output_closed, 1);
    ck_assert_uint_lt(fx.requests, 2000);
    ck_assert_uint_eq(st.connections, 0);
    ck_assert_uint_eq(st.input_buffered, 0);
    close(fd);
    fixture_stop();
}
END_TEST

static Suite *
conn_suite(void)
{
    Suite *s = suite_create("conn");
    TCase *tc = tcase_create("request_head");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, head_refused_body_never_read);
    tcase_add_test(tc, head_accepted_body_read);
    tcase_add_test(tc, head_handler_only_for_bodies);
    tcase_add_test(tc, no_head_handler_reads_bodies);
    suite_add_tcase(s, tc);
    tc = tcase_create("chunked");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, chunked_body_in_pieces);
    suite_add_tcase(s, tc);
    tc = tcase_create("header_timeout");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, header_timeout_slowloris);
    suite_add_tcase(s, tc);
    tc = tcase_create("output_bound");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, one_big_message_is_not_a_slow_reader);
    tcase_add_test(tc, stats_http_output_closed);
    suite_add_tcase(s, tc);
    tc = tcase_create("input_budget");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, budget_refuses_http_and_ws);
    tcase_add_test(tc, budget_counts_fragments);
    suite_add_tcase(s, tc);
    return s;
}

SKT_CHECK_MAIN(conn_suite)
