/* fuzz_http_request.c - libFuzzer target: the HTTP/1.1 request head parser
 * (src/net/http_parse.h: skt_http_parse_request and the header helpers).
 *
 * The first byte picks max_head; the rest is what a client sent. Checks: every pointer the
 * parser returns lies inside the head, the head is never longer than max_head, parsing the
 * head alone gives the same result, any prefix of a complete head is "incomplete" (the
 * parser is re-run from the start as bytes arrive), the flags agree with the headers, and
 * the query, when there is one, iterates within its bounds.
 */
#include "fuzz.h"

#include <ctype.h>

#include "net/http_parse.h"

/* p[0..n) lies inside buf[0..len). */
static int
inside(const char *buf, size_t len, const char *p, size_t n)
{
    return p >= buf && n <= len && p - buf <= (ptrdiff_t)(len - n);
}

/* Case-insensitive equality of a slice and a NUL-terminated string. */
static int
slice_is(const char *s, size_t n, const char *lit)
{
    if (strlen(lit) != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (tolower((unsigned char)s[i]) != tolower((unsigned char)lit[i]))
            return 0;
    return 1;
}

/* 1 when a header called name holds token (exact: is exactly token). */
static int
some_header_has(const skt_http_req_t *req, const char *name, const char *token, int exact)
{
    for (size_t i = 0; i < req->num_headers; i++) {
        const skt_http_header_t *h = &req->headers[i];
        if (slice_is(h->name, h->name_len, name) &&
            (exact ? slice_is(h->value, h->value_len, token)
                   : skt_http_token_list_has(h->value, h->value_len, token)))
            return 1;
    }
    return 0;
}

/* Everything a complete head promises. */
static void
check_head(const char *buf, size_t head, size_t max_head, const skt_http_req_t *req)
{
    FZ_CHECK(req->head_len == head && head <= max_head);
    FZ_CHECK(req->method_len > 0 && inside(buf, head, req->method, req->method_len));
    FZ_CHECK(req->path_len > 0 || req->query > req->path);
    FZ_CHECK(inside(buf, head, req->path, req->path_len));
    FZ_CHECK(inside(buf, head, req->query, req->query_len));
    FZ_CHECK(req->minor_version == 0 || req->minor_version == 1);
    FZ_CHECK(req->num_headers <= SKT_HTTP_MAX_HEADERS);
    FZ_CHECK(req->content_length >= -1);
    FZ_CHECK(!(req->chunked && req->content_length >= 0));

    for (size_t i = 0; i < req->num_headers; i++) {
        const skt_http_header_t *h = &req->headers[i];
        FZ_CHECK(h->name_len > 0 && inside(buf, head, h->name, h->name_len));
        FZ_CHECK(inside(buf, head, h->value, h->value_len));
        if (h->value_len)
            FZ_CHECK(h->value[0] != ' ' && h->value[h->value_len - 1] != '\t');
        /* The lookup finds this header or an earlier one of the same name. */
        char *name = fz_cstr(h->name, h->name_len);
        size_t vlen = 7;
        const char *v = skt_http_header(req, name, &vlen);
        FZ_CHECK(v != NULL && v <= h->value);
        free(name);
        skt_http_token_list_has(h->value, h->value_len, "upgrade");
        skt_http_token_list_has(h->value, h->value_len, "keep-alive");
    }
    size_t len;
    FZ_CHECK(skt_http_header(req, "x-fuzz-absent-header", &len) == NULL && len == 0);
    /* Several header lines of one name are one comma-separated list (RFC 9110 5.3). */
    if (req->upgrade_websocket)
        FZ_CHECK(some_header_has(req, "upgrade", "websocket", 0));
    if (req->chunked)
        FZ_CHECK(some_header_has(req, "transfer-encoding", "chunked", 1));

    size_t pos = 0, klen, vlen;
    const char *k, *v;
    while (skt_http_query_next(req->query, req->query_len, &pos, &k, &klen, &v, &vlen))
        FZ_CHECK(inside(req->query, req->query_len, k, klen) &&
                 inside(req->query, req->query_len, v, vlen) && pos <= req->query_len);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t max_heads[] = {16, 256, 1024, 8192, 65536, 1 << 20, SIZE_MAX, 64};
    fz_in_t in = {data, size};
    size_t max_head = max_heads[fz_byte(&in) & 7];
    char *buf = fz_copy(in.p, in.n);
    skt_http_req_t req, again;

    int rc = skt_http_parse_request(buf, in.n, max_head, &req);
    FZ_CHECK(rc >= SKT_HTTP_EVERSION);
    if (rc > 0) {
        size_t head = (size_t)rc;
        FZ_CHECK(head <= in.n);
        check_head(buf, head, max_head, &req);
        FZ_CHECK(skt_http_parse_request(buf, head, max_head, &again) == rc);
        FZ_CHECK(skt_http_parse_request(buf, head - 1, max_head, &again) == 0);
        FZ_CHECK(skt_http_parse_request(buf, head / 2, max_head, &again) == 0);
    } else if (rc == 0) {
        FZ_CHECK(in.n < max_head);
    }
    free(buf);
    return 0;
}
