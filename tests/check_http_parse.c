/* check_http_parse.c - unit tests for the HTTP/1.1 request, chunked and query parsers. */
#include "check_main.h"
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/http_parse.h"

#define MAX_HEAD 8192

/* Parses a NUL-terminated request with the default head limit. */
static int
parse(const char *s, skt_http_req_t *req)
{
    return skt_http_parse_request(s, strlen(s), MAX_HEAD, req);
}

/* Asserts that a length-delimited slice equals a NUL-terminated string. */
#define ck_assert_slice(p, n, lit)                                                                 \
    do {                                                                                           \
        ck_assert_uint_eq((n), strlen(lit));                                                       \
        ck_assert_mem_eq((p), (lit), (n));                                                         \
    } while (0)

START_TEST(test_simple_get)
{
    static const char s[] = "GET /app/key123?protocol=7&client=js HTTP/1.1\r\n"
                            "Host: example.com\r\n"
                            "User-Agent: test \t \r\n"
                            "\r\n";
    skt_http_req_t req;
    size_t n;
    const char *v;

    ck_assert_int_eq(parse(s, &req), (int)(sizeof(s) - 1));
    ck_assert_uint_eq(req.head_len, sizeof(s) - 1);
    ck_assert_slice(req.method, req.method_len, "GET");
    ck_assert_slice(req.path, req.path_len, "/app/key123");
    ck_assert_slice(req.query, req.query_len, "protocol=7&client=js");
    ck_assert_int_eq(req.minor_version, 1);
    ck_assert_uint_eq(req.num_headers, 2);
    ck_assert_slice(req.headers[0].name, req.headers[0].name_len, "Host");
    ck_assert_slice(req.headers[0].value, req.headers[0].value_len, "example.com");
    ck_assert_slice(req.headers[1].value, req.headers[1].value_len, "test");
    ck_assert_int_eq(req.content_length, -1);
    ck_assert_uint_eq(req.chunked, 0);
    ck_assert_uint_eq(req.keep_alive, 1);
    ck_assert_uint_eq(req.upgrade_websocket, 0);
    ck_assert_ptr_eq(req.method, s);

    v = skt_http_header(&req, "host", &n);
    ck_assert_ptr_eq(v, req.headers[0].value);
    ck_assert_slice(v, n, "example.com");
    v = skt_http_header(&req, "USER-AGENT", &n);
    ck_assert_slice(v, n, "test");
    n = 99;
    ck_assert_ptr_null(skt_http_header(&req, "Hos", &n));
    ck_assert_uint_eq(n, 0);
    ck_assert_ptr_null(skt_http_header(&req, "Hostx", NULL));
}
END_TEST

START_TEST(test_no_query)
{
    skt_http_req_t req;

    ck_assert_int_gt(parse("GET / HTTP/1.0\r\n\r\n", &req), 0);
    ck_assert_slice(req.path, req.path_len, "/");
    ck_assert_uint_eq(req.query_len, 0);
    ck_assert_ptr_nonnull(req.query);
    ck_assert_int_eq(req.minor_version, 0);
    ck_assert_uint_eq(req.num_headers, 0);
    ck_assert_uint_eq(req.keep_alive, 0);

    /* An empty query and a '?' inside the query. */
    ck_assert_int_gt(parse("GET /a? HTTP/1.1\r\n\r\n", &req), 0);
    ck_assert_slice(req.path, req.path_len, "/a");
    ck_assert_uint_eq(req.query_len, 0);
    ck_assert_int_gt(parse("GET /a?b=?c HTTP/1.1\r\n\r\n", &req), 0);
    ck_assert_slice(req.path, req.path_len, "/a");
    ck_assert_slice(req.query, req.query_len, "b=?c");
    /* Targets are not decoded; asterisk and absolute forms pass through. */
    ck_assert_int_gt(parse("OPTIONS * HTTP/1.1\r\n\r\n", &req), 0);
    ck_assert_slice(req.path, req.path_len, "*");
    ck_assert_int_gt(parse("GET /a%20b HTTP/1.1\r\n\r\n", &req), 0);
    ck_assert_slice(req.path, req.path_len, "/a%20b");
}
END_TEST

START_TEST(test_post_content_length)
{
    static const char s[] = "POST /apps/1/events?auth_key=k HTTP/1.1\r\n"
                            "Content-Type: application/json\r\n"
                            "Content-Length: 13\r\n"
                            "\r\n"
                            "{\"name\":\"x\"}\n";
    skt_http_req_t req;
    int r = parse(s, &req);

    ck_assert_int_eq(r, (int)(sizeof(s) - 1 - 13));
    ck_assert_slice(req.method, req.method_len, "POST");
    ck_assert_int_eq(req.content_length, 13);
    ck_assert_uint_eq(req.chunked, 0);
    ck_assert_mem_eq(s + r, "{\"name\":\"x\"}\n", 13);
}
END_TEST

START_TEST(test_split_every_byte)
{
    static const char s[] = "\r\nPOST /apps/1/events HTTP/1.1\r\n"
                            "Host: h\r\n"
                            "Content-Length: 2\n"
                            "X-Empty:\r\n"
                            "Connection: keep-alive, Upgrade\r\n"
                            "Upgrade: websocket\r\n"
                            "\r\n";
    const size_t total = sizeof(s) - 1;
    char *buf = malloc(total);
    skt_http_req_t req;

    /* Copy into an exactly-sized heap block so a read past len is caught by ASan. */
    for (size_t k = 0; k < total; k++) {
        char *b = malloc(k ? k : 1);
        memcpy(b, s, k);
        ck_assert_msg(skt_http_parse_request(b, k, MAX_HEAD, &req) == 0, "prefix %zu", k);
        free(b);
    }
    memcpy(buf, s, total);
    ck_assert_int_eq(skt_http_parse_request(buf, total, MAX_HEAD, &req), (int)total);
    ck_assert_uint_eq(req.num_headers, 5);
    ck_assert_slice(req.method, req.method_len, "POST");
    ck_assert_slice(req.headers[2].name, req.headers[2].name_len, "X-Empty");
    ck_assert_uint_eq(req.headers[2].value_len, 0);
    ck_assert_int_eq(req.content_length, 2);
    ck_assert_uint_eq(req.upgrade_websocket, 1);
    free(buf);
}
END_TEST

START_TEST(test_pipelined)
{
    static const char s[] = "POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
                            "GET /b?x=1 HTTP/1.1\r\nHost: h\r\n\r\n"
                            "GET /c HTTP/1.1\r\n";
    skt_http_req_t req;
    size_t off = 0;
    int r;

    r = skt_http_parse_request(s, sizeof(s) - 1, MAX_HEAD, &req);
    ck_assert_int_eq(r, 39);
    ck_assert_int_eq(req.content_length, 5);
    off = (size_t)r + 5;
    r = skt_http_parse_request(s + off, sizeof(s) - 1 - off, MAX_HEAD, &req);
    ck_assert_int_eq(r, 32);
    ck_assert_slice(req.path, req.path_len, "/b");
    ck_assert_slice(req.query, req.query_len, "x=1");
    ck_assert_ptr_eq(req.method, s + off);
    off += (size_t)r;
    /* The third head is not complete yet. */
    ck_assert_int_eq(skt_http_parse_request(s + off, sizeof(s) - 1 - off, MAX_HEAD, &req), 0);
}
END_TEST

START_TEST(test_bare_lf_and_leading_empty_lines)
{
    skt_http_req_t req;

    ck_assert_int_eq(parse("GET / HTTP/1.1\nHost: a\n\n", &req), 24);
    ck_assert_uint_eq(req.num_headers, 1);
    ck_assert_slice(req.headers[0].value, req.headers[0].value_len, "a");
    ck_assert_int_eq(parse("\r\n\nGET / HTTP/1.1\r\n\r\n", &req), 21);
    ck_assert_slice(req.method, req.method_len, "GET");
}
END_TEST

struct bad_case {
    const char *req;
    int want;
};

static const struct bad_case bad_cases[] = {
    /* request line */
    {"GET  / HTTP/1.1\r\n\r\n", SKT_HTTP_EBAD},
    {"GET /  HTTP/1.1\r\n\r\n", SKT_HTTP_EBAD},
    {" GET / HTTP/1.1\r\n\r\n", SKT_HTTP_EBAD},
    {"GET\t/ HTTP/1.1\r\n\r\n", SKT_HTTP_EBAD},
    {"G(T / HTTP/1.1\r\n\r\n", SKT_HTTP_EBAD},
    {"GET / HTTP/1.1 \r\n\r\n", SKT_HTTP_EBAD},
    {"GET /\x01 HTTP/1.1\r\n\r\n", SKT_HTTP_EBAD},
    {"GET /\x7f HTTP/1.1\r\n\r\n", SKT_HTTP_EBAD},
    {"GET / http/1.1\r\n\r\n", SKT_HTTP_EBAD},
    {"GET / HTTP/1.1x\r\n\r\n", SKT_HTTP_EBAD},
    {"GET / HTTP/11\r\n\r\n", SKT_HTTP_EBAD},
    {"GET / HTTP/1.\r\n\r\n", SKT_HTTP_EBAD},
    {"GET / HTTP/a.1\r\n\r\n", SKT_HTTP_EBAD},
    {"GET /\r\n\r\n", SKT_HTTP_EBAD},
    {"GET\r\n\r\n", SKT_HTTP_EBAD},
    {"GET / HTTP/1.1\r\r\n\r\n", SKT_HTTP_EBAD},
    {"\x16\x03\x01\x02\x00", SKT_HTTP_EBAD}, /* TLS hello: refused at once */
    {"\r\r", SKT_HTTP_EBAD},
    /* versions */
    {"GET / HTTP/2.0\r\n\r\n", SKT_HTTP_EVERSION},
    {"GET / HTTP/1.2\r\n\r\n", SKT_HTTP_EVERSION},
    {"GET / HTTP/0.9\r\n\r\n", SKT_HTTP_EVERSION},
    {"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", SKT_HTTP_EVERSION},
    /* header syntax */
    {"GET / HTTP/1.1\r\nHost : a\r\n\r\n", SKT_HTTP_EBAD},
    {"GET / HTTP/1.1\r\n: a\r\n\r\n", SKT_HTTP_EBAD},
    {"GET / HTTP/1.1\r\nNoColon\r\n\r\n", SKT_HTTP_EBAD},
    {"GET / HTTP/1.1\r\nBad(Name): a\r\n\r\n", SKT_HTTP_EBAD},
    {"GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", SKT_HTTP_EBAD},  /* obs-fold */
    {"GET / HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n", SKT_HTTP_EBAD}, /* obs-fold */
    {"GET / HTTP/1.1\r\n Host: a\r\n\r\n", SKT_HTTP_EBAD},
    {"GET / HTTP/1.1\r\nX: a\x01"
     "b\r\n\r\n",
     SKT_HTTP_EBAD},
    {"GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n", SKT_HTTP_EBAD},
    {"GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", SKT_HTTP_EBAD},
    {"GET / HTTP/1.1\r\nX: a\r\n\r\r\n", SKT_HTTP_EBAD},
    {"GET / HTTP/1.1\r\nX: a\x1b[0m\r\n\r\n", SKT_HTTP_EBAD},
    /* Content-Length */
    {"POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n", SKT_HTTP_EBAD},
    {"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", SKT_HTTP_EBAD},
    {"POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n", SKT_HTTP_EBAD},
    {"POST / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n", SKT_HTTP_EBAD},
    {"POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n", SKT_HTTP_EBAD},
    {"POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", SKT_HTTP_EBAD},
    {"POST / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n", SKT_HTTP_EBAD},
    {"POST / HTTP/1.1\r\nContent-Length: 9223372036854775808\r\n\r\n", SKT_HTTP_EBAD},
    {"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", SKT_HTTP_EBAD},
    {"POST / HTTP/1.1\r\nContent-Length: 5\r\ncontent-length: 6\r\n\r\n", SKT_HTTP_EBAD},
    /* Transfer-Encoding */
    {"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", SKT_HTTP_EBAD},
    {"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", SKT_HTTP_EBAD},
    {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", SKT_HTTP_EBAD},
    {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
     SKT_HTTP_EBAD},
    {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", SKT_HTTP_EBAD},
    {"POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", SKT_HTTP_EBAD},
    {"POST / HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n", SKT_HTTP_EBAD},
    {"POST / HTTP/1.1\r\nTransfer-Encoding:\r\n\r\n", SKT_HTTP_EBAD},
};

START_TEST(test_bad_requests)
{
    const struct bad_case *c = &bad_cases[_i];
    skt_http_req_t req;

    ck_assert_msg(parse(c->req, &req) == c->want, "case %d: got %d, want %d", _i,
                  parse(c->req, &req), c->want);
}
END_TEST

START_TEST(test_errors_before_complete)
{
    skt_http_req_t req;

    /* Errors are found in the bytes present, without waiting for the blank line. */
    ck_assert_int_eq(parse("GET / HTTP/1.1\r\nBad Name: x", &req), SKT_HTTP_EBAD);
    ck_assert_int_eq(parse("GET / HTTP/1.1\r\nX: y\r\n z", &req), SKT_HTTP_EBAD);
    ck_assert_int_eq(parse("GET / HTTP/3.0\r\n", &req), SKT_HTTP_EVERSION);
    ck_assert_int_eq(parse("GET / HTTP/3.0", &req), 0);
    ck_assert_int_eq(parse("GET / HTTP/1.1\r\nX: y\x01", &req), SKT_HTTP_EBAD);
    /* Header semantics are only judged once the head is complete. */
    ck_assert_int_eq(parse("POST / HTTP/1.1\r\nContent-Length: x\r\n", &req), 0);
}
END_TEST

START_TEST(test_valid_header_bytes)
{
    skt_http_req_t req;

    /* Tabs, obs-text (UTF-8) and every tchar are allowed where the grammar puts them. */
    ck_assert_int_gt(parse("GET / HTTP/1.1\r\n"
                           "X-Tab:\ta\tb\t\r\n"
                           "X-Utf8: caf\xc3\xa9\r\n"
                           "!#$%&'*+-.^_`|~09azAZ: v\r\n"
                           "X-Empty: \t \r\n"
                           "\r\n",
                           &req),
                     0);
    ck_assert_uint_eq(req.num_headers, 4);
    ck_assert_slice(req.headers[0].value, req.headers[0].value_len, "a\tb");
    ck_assert_slice(req.headers[1].value, req.headers[1].value_len, "caf\xc3\xa9");
    ck_assert_slice(req.headers[2].name, req.headers[2].name_len, "!#$%&'*+-.^_`|~09azAZ");
    ck_assert_uint_eq(req.headers[3].value_len, 0);
    /* The method is any token. */
    ck_assert_int_gt(parse("M-SEARCH * HTTP/1.1\r\n\r\n", &req), 0);
    ck_assert_slice(req.method, req.method_len, "M-SEARCH");
}
END_TEST

/* Builds a GET with n headers "Hk: v" into buf; returns its length. */
static size_t
build_headers(char *buf, size_t cap, int n)
{
    size_t o = (size_t)snprintf(buf, cap, "GET / HTTP/1.1\r\n");

    for (int i = 0; i < n; i++)
        o += (size_t)snprintf(buf + o, cap - o, "H%d: v%d\r\n", i, i);
    o += (size_t)snprintf(buf + o, cap - o, "\r\n");
    return o;
}

START_TEST(test_too_many_headers)
{
    char buf[4096];
    skt_http_req_t req;
    size_t n;

    n = build_headers(buf, sizeof(buf), SKT_HTTP_MAX_HEADERS);
    ck_assert_int_eq(skt_http_parse_request(buf, n, MAX_HEAD, &req), (int)n);
    ck_assert_uint_eq(req.num_headers, SKT_HTTP_MAX_HEADERS);
    ck_assert_slice(req.headers[63].name, req.headers[63].name_len, "H63");
    ck_assert_slice(req.headers[63].value, req.headers[63].value_len, "v63");
    n = build_headers(buf, sizeof(buf), SKT_HTTP_MAX_HEADERS + 1);
    ck_assert_int_eq(skt_http_parse_request(buf, n, MAX_HEAD, &req), SKT_HTTP_ETOOBIG);
}
END_TEST

START_TEST(test_head_too_long)
{
    static const char s[] = "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"; /* 37 bytes */
    const size_t n = sizeof(s) - 1;
    skt_http_req_t req;

    ck_assert_uint_eq(n, 37);
    /* A head of exactly max_head bytes fits; one byte less does not. */
    ck_assert_int_eq(skt_http_parse_request(s, n, n, &req), (int)n);
    ck_assert_int_eq(skt_http_parse_request(s, n, n - 1, &req), SKT_HTTP_ETOOBIG);
    /* Incomplete but below the limit: wait; at the limit: too big. */
    ck_assert_int_eq(skt_http_parse_request(s, 20, 21, &req), 0);
    ck_assert_int_eq(skt_http_parse_request(s, 20, 20, &req), SKT_HTTP_ETOOBIG);
    ck_assert_int_eq(skt_http_parse_request(s, 30, 20, &req), SKT_HTTP_ETOOBIG);
    /* Body bytes after the head do not count. */
    ck_assert_int_eq(skt_http_parse_request("GET / HTTP/1.1\r\n\r\nxxxxxxxxxx", 28, 18, &req), 18);
}
END_TEST

START_TEST(test_content_length)
{
    skt_http_req_t req;

    ck_assert_int_gt(parse("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", &req), 0);
    ck_assert_int_eq(req.content_length, 0);
    ck_assert_int_gt(parse("POST / HTTP/1.1\r\ncontent-length:   007  \r\n\r\n", &req), 0);
    ck_assert_int_eq(req.content_length, 7);
    ck_assert_int_gt(parse("POST / HTTP/1.1\r\nContent-Length: 9223372036854775807\r\n\r\n", &req),
                     0);
    ck_assert_int_eq(req.content_length, INT64_MAX);
    /* Identical duplicates are one value. */
    ck_assert_int_gt(
        parse("POST / HTTP/1.1\r\nContent-Length: 12\r\nCONTENT-LENGTH: 12\r\n\r\n", &req), 0);
    ck_assert_int_eq(req.content_length, 12);
}
END_TEST

START_TEST(test_transfer_encoding)
{
    skt_http_req_t req;

    ck_assert_int_gt(parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", &req), 0);
    ck_assert_uint_eq(req.chunked, 1);
    ck_assert_int_eq(req.content_length, -1);
    ck_assert_int_gt(parse("POST / HTTP/1.1\r\ntransfer-encoding: CHUNKED \r\n\r\n", &req), 0);
    ck_assert_uint_eq(req.chunked, 1);
}
END_TEST

struct conn_case {
    const char *req;
    unsigned keep_alive;
    unsigned upgrade;
};

static const struct conn_case conn_cases[] = {
    {"GET / HTTP/1.1\r\n\r\n", 1, 0},
    {"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", 0, 0},
    {"GET / HTTP/1.1\r\nConnection: Close\r\n\r\n", 0, 0},
    {"GET / HTTP/1.1\r\nConnection: keep-alive\r\n\r\n", 1, 0},
    {"GET / HTTP/1.1\r\nConnection: keep-alive, close\r\n\r\n", 0, 0},
    {"GET / HTTP/1.1\r\nConnection: foo\r\nConnection: close\r\n\r\n", 0, 0},
    {"GET / HTTP/1.1\r\nConnection: closed\r\n\r\n", 1, 0},
    {"GET / HTTP/1.0\r\n\r\n", 0, 0},
    {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 1, 0},
    {"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", 1, 0},
    {"GET / HTTP/1.0\r\nConnection: keep-alive,close\r\n\r\n", 0, 0},
    {"GET / HTTP/1.0\r\nConnection: close\r\n\r\n", 0, 0},
    {"GET / HTTP/1.0\r\nKeep-Alive: timeout=5\r\n\r\n", 0, 0},
    /* WebSocket upgrades */
    {"GET /app/k HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", 1, 1},
    {"GET /app/k HTTP/1.1\r\nConnection: keep-alive, Upgrade\r\nUpgrade: WebSocket\r\n\r\n", 1, 1},
    {"GET /app/k HTTP/1.1\r\nconnection: upgrade\r\nupgrade: WEBSOCKET\r\n\r\n", 1, 1},
    {"GET /app/k HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", 1, 1},
    {"GET /app/k HTTP/1.1\r\nConnection:upgrade,keep-alive\r\nUpgrade: foo, websocket\r\n\r\n", 1,
     1},
    {"GET /app/k HTTP/1.1\r\nUpgrade: websocket\r\n\r\n", 1, 0},
    {"GET /app/k HTTP/1.1\r\nConnection: Upgrade\r\n\r\n", 1, 0},
    {"GET /app/k HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n", 1, 0},
    {"GET /app/k HTTP/1.1\r\nConnection: Upgraded\r\nUpgrade: websocket\r\n\r\n", 1, 0},
    {"GET /app/k HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websockets\r\n\r\n", 1, 0},
    {"GET /app/k HTTP/1.1\r\nConnection: close, Upgrade\r\nUpgrade: websocket\r\n\r\n", 0, 1},
};

START_TEST(test_connection_table)
{
    const struct conn_case *c = &conn_cases[_i];
    skt_http_req_t req;

    ck_assert_msg(parse(c->req, &req) > 0, "case %d parses", _i);
    ck_assert_msg(req.keep_alive == c->keep_alive, "case %d keep_alive", _i);
    ck_assert_msg(req.upgrade_websocket == c->upgrade, "case %d upgrade", _i);
}
END_TEST

START_TEST(test_token_list)
{
    ck_assert_int_eq(skt_http_token_list_has("a, b ,c", 7, "b"), 1);
    ck_assert_int_eq(skt_http_token_list_has("a, b ,c", 7, "c"), 1);
    ck_assert_int_eq(skt_http_token_list_has("a, b ,c", 7, "A"), 1);
    ck_assert_int_eq(skt_http_token_list_has("a, b ,c", 7, "d"), 0);
    ck_assert_int_eq(skt_http_token_list_has("a, b ,c", 6, "c"), 0);
    ck_assert_int_eq(skt_http_token_list_has(",,, ,", 5, ""), 0);
    ck_assert_int_eq(skt_http_token_list_has("", 0, "a"), 0);
    ck_assert_int_eq(skt_http_token_list_has("ab", 2, "a"), 0);
    ck_assert_int_eq(skt_http_token_list_has("a", 1, "ab"), 0);
}
END_TEST

/* Decodes a whole chunked body given at once; returns the decoder's result. */
static int
chunked_all(const char *raw, char *buf, size_t cap, size_t max_body, size_t *body_len,
            size_t *consumed)
{
    skt_http_chunked_t st;
    size_t n = strlen(raw);

    ck_assert_uint_le(n, cap);
    memcpy(buf, raw, n);
    skt_http_chunked_init(&st);
    return skt_http_chunked_decode(&st, buf, n, max_body, body_len, consumed);
}

START_TEST(test_chunked_simple)
{
    static const char raw[] = "5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n";
    char buf[128];
    size_t body_len = 0, consumed = 0;

    ck_assert_int_eq(chunked_all(raw, buf, sizeof(buf), 1024, &body_len, &consumed), 1);
    ck_assert_uint_eq(body_len, 12);
    ck_assert_uint_eq(consumed, sizeof(raw) - 1);
    ck_assert_mem_eq(buf, "hello, world", 12);
}
END_TEST

START_TEST(test_chunked_empty_body)
{
    char buf[32];
    size_t body_len = 9, consumed = 0;

    ck_assert_int_eq(chunked_all("0\r\n\r\n", buf, sizeof(buf), 0, &body_len, &consumed), 1);
    ck_assert_uint_eq(body_len, 0);
    ck_assert_uint_eq(consumed, 5);
}
END_TEST

START_TEST(test_chunked_extensions_trailers)
{
    static const char raw[] = "A;name=value;q=\"x;y\"\r\n0123456789\r\n"
                              "1f ; ext\r\nabcdefghijklmnopqrstuvwxyzABCDE\r\n"
                              "000\r\n"
                              "Expires: never\r\n"
                              "X-Checksum:abc\r\n"
                              "\r\n"
                              "GET / HTTP/1.1\r\n\r\n";
    char buf[256];
    size_t body_len = 0, consumed = 0;

    ck_assert_int_eq(chunked_all(raw, buf, sizeof(buf), 1024, &body_len, &consumed), 1);
    ck_assert_uint_eq(body_len, 41);
    ck_assert_mem_eq(buf, "0123456789abcdefghijklmnopqrstuvwxyzABCDE", 41);
    /* The next pipelined request starts right after the body, untouched. */
    ck_assert_uint_eq(consumed, sizeof(raw) - 1 - 18);
    ck_assert_mem_eq(buf + consumed, "GET / HTTP/1.1\r\n\r\n", 18);
}
END_TEST

START_TEST(test_chunked_bare_lf)
{
    char buf[64];
    size_t body_len = 0, consumed = 0;

    ck_assert_int_eq(
        chunked_all("3\nabc\n2\r\nde\n0\nT: x\n\n", buf, sizeof(buf), 100, &body_len, &consumed),
        1);
    ck_assert_uint_eq(body_len, 5);
    ck_assert_uint_eq(consumed, 20);
    ck_assert_mem_eq(buf, "abcde", 5);
}
END_TEST

/* Feeds raw one more byte per call; before the end each call must return 0. */
static void
check_chunked_split(const char *raw, const char *want, size_t step)
{
    size_t n = strlen(raw), body_len = 0, consumed = 0, k;
    char *buf = malloc(n);
    skt_http_chunked_t st;
    int r = 0;

    memcpy(buf, raw, n);
    skt_http_chunked_init(&st);
    for (k = 0; k <= n; k += step) {
        r = skt_http_chunked_decode(&st, buf, k, 1 << 20, &body_len, &consumed);
        if (r != 0)
            break;
    }
    if (k > n) {
        k = n;
        r = skt_http_chunked_decode(&st, buf, k, 1 << 20, &body_len, &consumed);
    }
    ck_assert_int_eq(r, 1);
    ck_assert_uint_eq(k, n);
    ck_assert_uint_eq(consumed, n);
    ck_assert_uint_eq(body_len, strlen(want));
    ck_assert_mem_eq(buf, want, body_len);
    /* Done is sticky. */
    ck_assert_int_eq(skt_http_chunked_decode(&st, buf, n, 1 << 20, &body_len, &consumed), 1);
    free(buf);
}

START_TEST(test_chunked_split)
{
    static const char raw[] = "4;x=y\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n"
                              "Trailer: yes\r\n\r\n";

    check_chunked_split(raw, "Wikipedia in\r\n\r\nchunks.", 1);
    check_chunked_split(raw, "Wikipedia in\r\n\r\nchunks.", 2);
    check_chunked_split(raw, "Wikipedia in\r\n\r\nchunks.", 7);
}
END_TEST

START_TEST(test_chunked_grows_buffer)
{
    /* The caller may move the buffer between calls: the state holds offsets only. */
    static const char raw[] = "3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n";
    skt_http_chunked_t st;
    size_t body_len, consumed;
    char *buf = malloc(10);

    skt_http_chunked_init(&st);
    memcpy(buf, raw, 10);
    ck_assert_int_eq(skt_http_chunked_decode(&st, buf, 10, 100, &body_len, &consumed), 0);
    ck_assert_uint_eq(body_len, 3);
    ck_assert_uint_eq(consumed, 10);
    buf = realloc(buf, sizeof(raw) - 1);
    memcpy(buf + 10, raw + 10, sizeof(raw) - 1 - 10);
    ck_assert_int_eq(skt_http_chunked_decode(&st, buf, sizeof(raw) - 1, 100, &body_len, &consumed),
                     1);
    ck_assert_uint_eq(body_len, 6);
    ck_assert_mem_eq(buf, "abcdef", 6);
    free(buf);
}
END_TEST

START_TEST(test_chunked_max_body)
{
    char buf[128];
    size_t body_len, consumed;
    skt_http_chunked_t st;

    /* Exactly max_body is fine. */
    ck_assert_int_eq(
        chunked_all("3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", buf, sizeof(buf), 5, &body_len, &consumed),
        1);
    ck_assert_uint_eq(body_len, 5);
    /* One more byte is refused when the size line says so, before the data is there. */
    ck_assert_int_eq(chunked_all("3\r\nabc\r\n3\r\n", buf, sizeof(buf), 5, &body_len, &consumed),
                     -2);
    ck_assert_int_eq(chunked_all("6", buf, sizeof(buf), 5, &body_len, &consumed), -2);
    /* Huge sizes do not wrap around. */
    ck_assert_int_eq(
        chunked_all("ffffffffffffffffffff\r\n", buf, sizeof(buf), SIZE_MAX, &body_len, &consumed),
        -2);
    ck_assert_int_eq(
        chunked_all("10000000000000000\r\n", buf, sizeof(buf), SIZE_MAX, &body_len, &consumed), -2);
    /* Errors are sticky. */
    memcpy(buf, "6\r\n", 3);
    skt_http_chunked_init(&st);
    ck_assert_int_eq(skt_http_chunked_decode(&st, buf, 3, 5, &body_len, &consumed), -2);
    ck_assert_int_eq(skt_http_chunked_decode(&st, buf, 3, 5, &body_len, &consumed), -2);
}
END_TEST

static const char *const chunked_bad[] = {
    "\r\n",     /* no size */
    ";ext\r\n", /* no size */
    "g\r\n",    /* not hex */
    "-1\r\n",
    "5 5\r\n",                     /* space inside the size */
    "3\r\nabcd\r\n",               /* data longer than the size */
    "3\r\nabc\r\r\n",              /* CR without LF */
    "3\rx",                        /* CR without LF on the size line */
    "3;a\x01\r\n",                 /* control byte in an extension */
    "0\r\nBad Trailer: x\r\n\r\n", /* space in a trailer name */
    "0\r\nNoColon\r\n\r\n",
    "0\r\n folded\r\n\r\n",
    "0\r\nT: a\x7f\r\n\r\n",
    "0\r\n\r\r",
};

START_TEST(test_chunked_malformed)
{
    char buf[64];
    size_t body_len, consumed;

    ck_assert_msg(chunked_all(chunked_bad[_i], buf, sizeof(buf), 1000, &body_len, &consumed) == -1,
                  "case %d", _i);
}
END_TEST

START_TEST(test_chunked_line_limit)
{
    char *buf = malloc(6000);
    size_t body_len, consumed;
    skt_http_chunked_t st;

    /* An endless extension is cut off instead of read forever. */
    memcpy(buf, "1;", 2);
    memset(buf + 2, 'e', 5998);
    skt_http_chunked_init(&st);
    ck_assert_int_eq(skt_http_chunked_decode(&st, buf, 4000, 1000, &body_len, &consumed), 0);
    ck_assert_int_eq(skt_http_chunked_decode(&st, buf, 6000, 1000, &body_len, &consumed), -1);
    /* So is an endless trailer. */
    memcpy(buf, "0\r\nT:", 5);
    memset(buf + 5, 'v', 5995);
    skt_http_chunked_init(&st);
    ck_assert_int_eq(skt_http_chunked_decode(&st, buf, 6000, 1000, &body_len, &consumed), -1);
    free(buf);
}
END_TEST

START_TEST(test_chunked_shrunk_buffer)
{
    char buf[16];
    size_t body_len, consumed;
    skt_http_chunked_t st;

    memcpy(buf, "5\r\nab", 5);
    skt_http_chunked_init(&st);
    ck_assert_int_eq(skt_http_chunked_decode(&st, buf, 5, 100, &body_len, &consumed), 0);
    ck_assert_int_eq(skt_http_chunked_decode(&st, buf, 4, 100, &body_len, &consumed), -1);
}
END_TEST

START_TEST(test_query_iterate)
{
    const char *q = "a=1&b=%20x&&c&=v&d=&e=f=g&";
    size_t pos = 0, kl, vl;
    const char *k, *v;

    ck_assert_int_eq(skt_http_query_next(q, strlen(q), &pos, &k, &kl, &v, &vl), 1);
    ck_assert_slice(k, kl, "a");
    ck_assert_slice(v, vl, "1");
    ck_assert_int_eq(skt_http_query_next(q, strlen(q), &pos, &k, &kl, &v, &vl), 1);
    ck_assert_slice(k, kl, "b");
    ck_assert_slice(v, vl, "%20x");
    ck_assert_int_eq(skt_http_query_next(q, strlen(q), &pos, &k, &kl, &v, &vl), 1);
    ck_assert_slice(k, kl, "c");
    ck_assert_uint_eq(vl, 0);
    ck_assert_int_eq(skt_http_query_next(q, strlen(q), &pos, &k, &kl, &v, &vl), 1);
    ck_assert_uint_eq(kl, 0);
    ck_assert_slice(v, vl, "v");
    ck_assert_int_eq(skt_http_query_next(q, strlen(q), &pos, &k, &kl, &v, &vl), 1);
    ck_assert_slice(k, kl, "d");
    ck_assert_uint_eq(vl, 0);
    ck_assert_int_eq(skt_http_query_next(q, strlen(q), &pos, &k, &kl, &v, &vl), 1);
    ck_assert_slice(k, kl, "e");
    ck_assert_slice(v, vl, "f=g");
    ck_assert_int_eq(skt_http_query_next(q, strlen(q), &pos, &k, &kl, &v, &vl), 0);
    ck_assert_uint_eq(pos, strlen(q));
    ck_assert_int_eq(skt_http_query_next(q, strlen(q), &pos, &k, &kl, &v, &vl), 0);
}
END_TEST

START_TEST(test_query_edges)
{
    size_t pos = 0, kl, vl;
    const char *k, *v;

    ck_assert_int_eq(skt_http_query_next("", 0, &pos, &k, &kl, &v, &vl), 0);
    pos = 0;
    ck_assert_int_eq(skt_http_query_next("&&&", 3, &pos, &k, &kl, &v, &vl), 0);
    /* Only qlen bytes are read. */
    pos = 0;
    ck_assert_int_eq(skt_http_query_next("ab=cd", 4, &pos, &k, &kl, &v, &vl), 1);
    ck_assert_slice(k, kl, "ab");
    ck_assert_slice(v, vl, "c");
    ck_assert_int_eq(skt_http_query_next("ab=cd", 4, &pos, &k, &kl, &v, &vl), 0);
    pos = 0;
    ck_assert_int_eq(skt_http_query_next("solo", 4, &pos, &k, &kl, &v, &vl), 1);
    ck_assert_slice(k, kl, "solo");
    ck_assert_uint_eq(vl, 0);
    ck_assert_int_eq(skt_http_query_next("solo", 4, &pos, &k, &kl, &v, &vl), 0);
}
END_TEST

struct decode_case {
    const char *in;
    ssize_t len; /* -1: malformed */
    const char *out;
};

static const struct decode_case decode_cases[] = {
    {"", 0, ""},
    {"plain", 5, "plain"},
    {"a%20b", 3, "a b"},
    {"a+b", 3, "a b"},
    {"%2B", 1, "+"},
    {"%2b%2F%3d", 3, "+/="},
    {"%e2%82%AC", 3, "\xe2\x82\xac"},
    {"%00", 1, "\0"},
    {"private-%3Bchan", 13, "private-;chan"},
    {"100%25", 4, "100%"},
    {"%zz", -1, NULL},
    {"%4", -1, NULL},
    {"%", -1, NULL},
    {"abc%", -1, NULL},
    {"%g0", -1, NULL},
    {"%0g", -1, NULL},
    {"ok%2", -1, NULL},
};

START_TEST(test_urldecode_table)
{
    const struct decode_case *c = &decode_cases[_i];
    char out[64];
    ssize_t r = skt_http_urldecode(out, c->in, strlen(c->in));

    ck_assert_msg(r == c->len, "case %d: got %zd want %zd", _i, r, c->len);
    if (r > 0)
        ck_assert_mem_eq(out, c->out, (size_t)r);
}
END_TEST

START_TEST(test_urldecode_in_place)
{
    char s[] = "channel=presence-%E2%82%AC+room&x=%41";
    ssize_t r = skt_http_urldecode(s, s, strlen(s));

    ck_assert_int_eq(r, 29);
    ck_assert_mem_eq(s, "channel=presence-\xe2\x82\xac room&x=A", 29);
}
END_TEST

START_TEST(test_reason)
{
    ck_assert_str_eq(skt_http_reason(200), "OK");
    ck_assert_str_eq(skt_http_reason(101), "Switching Protocols");
    ck_assert_str_eq(skt_http_reason(204), "No Content");
    ck_assert_str_eq(skt_http_reason(400), "Bad Request");
    ck_assert_str_eq(skt_http_reason(401), "Unauthorized");
    ck_assert_str_eq(skt_http_reason(403), "Forbidden");
    ck_assert_str_eq(skt_http_reason(404), "Not Found");
    ck_assert_str_eq(skt_http_reason(405), "Method Not Allowed");
    ck_assert_str_eq(skt_http_reason(413), "Payload Too Large");
    ck_assert_str_eq(skt_http_reason(429), "Too Many Requests");
    ck_assert_str_eq(skt_http_reason(431), "Request Header Fields Too Large");
    ck_assert_str_eq(skt_http_reason(500), "Internal Server Error");
    ck_assert_str_eq(skt_http_reason(503), "Service Unavailable");
    ck_assert_str_eq(skt_http_reason(505), "HTTP Version Not Supported");
    ck_assert_str_eq(skt_http_reason(799), "Unknown");
    ck_assert_str_eq(skt_http_reason(-1), "Unknown");
}
END_TEST

#define N_ELEMS(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *
http_parse_suite(void)
{
    Suite *s = suite_create("http_parse");
    TCase *tc = tcase_create("request");
    tcase_add_test(tc, test_simple_get);
    tcase_add_test(tc, test_no_query);
    tcase_add_test(tc, test_post_content_length);
    tcase_add_test(tc, test_split_every_byte);
    tcase_add_test(tc, test_pipelined);
    tcase_add_test(tc, test_bare_lf_and_leading_empty_lines);
    tcase_add_loop_test(tc, test_bad_requests, 0, N_ELEMS(bad_cases));
    tcase_add_test(tc, test_errors_before_complete);
    tcase_add_test(tc, test_valid_header_bytes);
    tcase_add_test(tc, test_too_many_headers);
    tcase_add_test(tc, test_head_too_long);
    tcase_add_test(tc, test_content_length);
    tcase_add_test(tc, test_transfer_encoding);
    tcase_add_loop_test(tc, test_connection_table, 0, N_ELEMS(conn_cases));
    tcase_add_test(tc, test_token_list);
    suite_add_tcase(s, tc);

    tc = tcase_create("chunked");
    tcase_add_test(tc, test_chunked_simple);
    tcase_add_test(tc, test_chunked_empty_body);
    tcase_add_test(tc, test_chunked_extensions_trailers);
    tcase_add_test(tc, test_chunked_bare_lf);
    tcase_add_test(tc, test_chunked_split);
    tcase_add_test(tc, test_chunked_grows_buffer);
    tcase_add_test(tc, test_chunked_max_body);
    tcase_add_loop_test(tc, test_chunked_malformed, 0, N_ELEMS(chunked_bad));
    tcase_add_test(tc, test_chunked_line_limit);
    tcase_add_test(tc, test_chunked_shrunk_buffer);
    suite_add_tcase(s, tc);

    tc = tcase_create("query");
    tcase_add_test(tc, test_query_iterate);
    tcase_add_test(tc, test_query_edges);
    tcase_add_loop_test(tc, test_urldecode_table, 0, N_ELEMS(decode_cases));
    tcase_add_test(tc, test_urldecode_in_place);
    tcase_add_test(tc, test_reason);
    suite_add_tcase(s, tc);
    return s;
}

SKT_CHECK_MAIN(http_parse_suite)
