/* http_parse.c - HTTP/1.1 request parsing: request head, chunked bodies, query strings. */
#include "net/http_parse.h"

#include <limits.h>
#include <string.h>

/* Longest chunk-size line (with extensions) or trailer line the decoder accepts. */
#define CHUNK_LINE_MAX 4096

/* tchar of RFC 9110 section 5.6.2: the bytes a method or header name may hold. */
static int
is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
        return 1;
    default:
        return 0;
    }
}

/* Bytes allowed in a field value (and in chunk extensions and trailers): visible ASCII,
 * space, tab and obs-text; every other control byte, DEL included, is refused. */
static int
is_field_byte(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7F);
}

static int
is_ows(unsigned char c)
{
    return c == ' ' || c == '\t';
}

/* Bytes of a request-target: visible ASCII and obs-text; no space or control byte. */
static int
is_target_byte(unsigned char c)
{
    return c > ' ' && c != 0x7F;
}

/* Returns the first byte at or after p (before end) that pred refuses, or end. */
static const char *
skip_while(const char *p, const char *end, int (*pred)(unsigned char))
{
    while (p < end && pred((unsigned char)*p))
        p++;
    return p;
}

static unsigned char
ascii_lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

/* Compares a length-delimited string with a NUL-terminated one, ignoring ASCII case: header
 * names and tokens are case-insensitive and not NUL-terminated in the buffer. */
static int
ascii_ieq(const char *s, size_t len, const char *lit)
{
    size_t i = 0;

    for (; i < len; i++)
        if (!lit[i] || ascii_lower((unsigned char)s[i]) != ascii_lower((unsigned char)lit[i]))
            return 0;
    return lit[i] == '\0';
}

int
skt_http_token_list_has(const char *list, size_t len, const char *token)
{
    size_t i = 0;

    while (i < len) {
        size_t start, stop;

        while (i < len && (is_ows((unsigned char)list[i]) || list[i] == ','))
            i++;
        start = i;
        while (i < len && list[i] != ',')
            i++;
        stop = i;
        while (stop > start && is_ows((unsigned char)list[stop - 1]))
            stop--;
        if (stop > start && ascii_ieq(list + start, stop - start, token))
            return 1;
    }
    return 0;
}

/* Parses a Content-Length value: 1*DIGIT that fits in int64_t; -1 when it is anything else. */
static int64_t
parse_content_length(const char *s, size_t len)
{
    int64_t v = 0;

    if (len == 0)
        return -1;
    for (size_t i = 0; i < len; i++) {
        int d = s[i] - '0';

        if (d < 0 || d > 9 || v > (INT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    return v;
}

/* Works out framing and connection handling from the headers once the head is complete;
 * this is where request smuggling is refused (RFC 9112 section 6.3). */
static int
http_interpret_headers(skt_http_req_t *req)
{
    int seen_te = 0, conn_close = 0, conn_keep_alive = 0, conn_upgrade = 0, upgrade_ws = 0;

    for (size_t i = 0; i < req->num_headers; i++) {
        const skt_http_header_t *h = &req->headers[i];

        if (ascii_ieq(h->name, h->name_len, "content-length")) {
            int64_t v = parse_content_length(h->value, h->value_len);

            if (v < 0 || (req->content_length >= 0 && req->content_length != v))
                return SKT_HTTP_EBAD;
            req->content_length = v;
        } else if (ascii_ieq(h->name, h->name_len, "transfer-encoding")) {
            /* Only a single "chunked" is supported; anything layered under it is refused. */
            if (seen_te || !ascii_ieq(h->value, h->value_len, "chunked"))
                return SKT_HTTP_EBAD;
            seen_te = 1;
        } else if (ascii_ieq(h->name, h->name_len, "connection")) {
            conn_close |= skt_http_token_list_has(h->value, h->value_len, "close");
            conn_keep_alive |= skt_http_token_list_has(h->value, h->value_len, "keep-alive");
            conn_upgrade |= skt_http_token_list_has(h->value, h->value_len, "upgrade");
        } else if (ascii_ieq(h->name, h->name_len, "upgrade")) {
            upgrade_ws |= skt_http_token_list_has(h->value, h->value_len, "websocket");
        }
    }
    if (seen_te && req->content_length >= 0)
        return SKT_HTTP_EBAD;
    req->chunked = seen_te;
    if (conn_close)
        req->keep_alive = 0;
    else
        req->keep_alive = req->minor_version == 1 || conn_keep_alive;
    req->upgrade_websocket = upgrade_ws && conn_upgrade;
    return 0;
}

/* Steps p past a line end (CRLF or bare LF) at p. Returns 1 when done, 0 when the buffer ends
 * first, -1 when p is not at a line end or the CR is not followed by LF. */
static int
skip_eol(const char **pp, const char *end)
{
    const char *p = *pp;

    if (*p == '\r') {
        if (++p == end)
            return 0;
        if (*p != '\n')
            return -1;
    } else if (*p != '\n') {
        return -1;
    }
    *pp = p + 1;
    return 1;
}

/* One forward pass that fails on the first bad byte and reports "incomplete" only when the
 * bytes so far are a valid beginning, so garbage (a TLS hello on a plain port) is refused at
 * once instead of after max_head bytes. Reading stops at max_head: a head that ends later is
 * too big however much has arrived. */
int
skt_http_parse_request(const char *buf, size_t len, size_t max_head, skt_http_req_t *req)
{
    const char *p = buf;
    const char *end;
    const char *start, *query;
    int r, major, minor;

/* Returns "incomplete" (or "too big") when the parser needs the byte at p but it is absent. */
#define NEED()                                                                                     \
    do {                                                                                           \
        if (p >= end)                                                                              \
            goto incomplete;                                                                       \
    } while (0)

    if (max_head > INT_MAX)
        max_head = INT_MAX; /* head_len must fit the return value */
    end = buf + (len < max_head ? len : max_head);
    req->method = req->path = req->query = NULL;
    req->method_len = req->path_len = req->query_len = 0;
    req->num_headers = 0;
    req->head_len = 0;
    req->content_length = -1;
    req->chunked = req->keep_alive = req->upgrade_websocket = 0;
    req->minor_version = 0;

    /* RFC 9112 section 2.2: ignore empty lines before the request line (stray CRLFs a client
     * may send after a body). */
    for (;;) {
        NEED();
        if (*p != '\r' && *p != '\n')
            break;
        if ((r = skip_eol(&p, end)) < 0)
            return SKT_HTTP_EBAD;
        if (r == 0)
            goto incomplete;
    }

    start = p;
    p = skip_while(p, end, is_tchar);
    NEED();
    if (p == start || *p != ' ')
        return SKT_HTTP_EBAD;
    req->method = start;
    req->method_len = (size_t)(p - start);
    p++;

    start = p;
    p = skip_while(p, end, is_target_byte);
    NEED();
    if (p == start || *p != ' ')
        return SKT_HTTP_EBAD;
    req->path = start;
    query = memchr(start, '?', (size_t)(p - start));
    if (query) {
        req->path_len = (size_t)(query - start);
        req->query = query + 1;
        req->query_len = (size_t)(p - query - 1);
    } else {
        req->path_len = (size_t)(p - start);
        req->query = p;
    }
    p++;

    for (const char *v = "HTTP/"; *v; v++, p++) {
        NEED();
        if (*p != *v)
            return SKT_HTTP_EBAD;
    }
    NEED();
    major = *p++ - '0';
    NEED();
    if (major < 0 || major > 9 || *p++ != '.')
        return SKT_HTTP_EBAD;
    NEED();
    minor = *p++ - '0';
    if (minor < 0 || minor > 9)
        return SKT_HTTP_EBAD;
    NEED();
    if ((r = skip_eol(&p, end)) < 0)
        return SKT_HTTP_EBAD;
    if (r == 0)
        goto incomplete;
    if (major != 1 || minor > 1)
        return SKT_HTTP_EVERSION;
    req->minor_version = minor;

    for (;;) {
        skt_http_header_t *h;
        const char *name, *name_end, *value, *vend;

        NEED();
        if (*p == '\r' || *p == '\n') {
            if ((r = skip_eol(&p, end)) < 0)
                return SKT_HTTP_EBAD;
            if (r == 0)
                goto incomplete;
            break;
        }
        /* A line starting with whitespace is obs-fold (or junk): refused, RFC 9112 5.2. */
        name = p;
        p = skip_while(p, end, is_tchar);
        NEED();
        if (p == name || *p != ':')
            return SKT_HTTP_EBAD;
        name_end = p++;
        p = skip_while(p, end, is_ows);
        NEED();
        value = p;
        p = skip_while(p, end, is_field_byte);
        NEED();
        vend = p;
        if ((r = skip_eol(&p, end)) < 0)
            return SKT_HTTP_EBAD;
        if (r == 0)
            goto incomplete;
        while (vend > value && is_ows((unsigned char)vend[-1]))
            vend--;
        if (req->num_headers == SKT_HTTP_MAX_HEADERS)
            return SKT_HTTP_ETOOBIG;
        h = &req->headers[req->num_headers++];
        h->name = name;
        h->name_len = (size_t)(name_end - name);
        h->value = value;
        h->value_len = (size_t)(vend - value);
    }
#undef NEED

    req->head_len = (size_t)(p - buf);
    if ((r = http_interpret_headers(req)) < 0)
        return r;
    return (int)req->head_len;

incomplete:
    return len >= max_head ? SKT_HTTP_ETOOBIG : 0;
}

const char *
skt_http_header(const skt_http_req_t *req, const char *name, size_t *len)
{
    for (size_t i = 0; i < req->num_headers; i++) {
        const skt_http_header_t *h = &req->headers[i];

        if (ascii_ieq(h->name, h->name_len, name)) {
            if (len)
                *len = h->value_len;
            return h->value;
        }
    }
    if (len)
        *len = 0;
    return NULL;
}

/* Where the chunked decoder is: one state per position in the grammar of RFC 9112 section 7.1,
 * so that input may stop (and resume) at any byte. */
enum {
    CH_SIZE,         /* chunk-size hex digits */
    CH_SIZE_WS,      /* spaces after the size, before ';' or the line end */
    CH_EXT,          /* chunk extensions, skipped */
    CH_SIZE_LF,      /* LF after the size line's CR */
    CH_DATA,         /* chunk data */
    CH_DATA_CR,      /* line end after the data */
    CH_DATA_LF,      /* LF after that CR */
    CH_TRAILER_LINE, /* start of a trailer line, or the final empty line */
    CH_TRAILER_NAME, /* trailer field name */
    CH_TRAILER_VAL,  /* trailer field value, dropped */
    CH_TRAILER_LF,   /* LF after a trailer line's CR */
    CH_FINAL_LF,     /* LF after the final empty line's CR */
    CH_DONE,
    CH_BAD,
    CH_TOOBIG,
};

void
skt_http_chunked_init(skt_http_chunked_t *st)
{
    memset(st, 0, sizeof(*st));
    st->state = CH_SIZE;
}

static int
hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = ascii_lower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* The state after a size line has ended: data, or the trailers after the last chunk. */
static int
chunk_size_done(skt_http_chunked_t *st)
{
    st->line_len = 0;
    return st->remaining ? CH_DATA : CH_TRAILER_LINE;
}

/* The state after a line end in a size line (c is CR or LF), or CH_BAD for any other byte. */
static int
chunk_size_eol(skt_http_chunked_t *st, unsigned char c)
{
    if (c == '\r')
        return CH_SIZE_LF;
    if (c == '\n')
        return chunk_size_done(st);
    return CH_BAD;
}

/* The state after the line end that follows chunk data: the next chunk-size line. */
static int
chunk_next_size(skt_http_chunked_t *st)
{
    st->digits = 0;
    st->line_len = 0;
    return CH_SIZE;
}

/* Advances the decoder by one byte outside chunk data; returns the next state. */
static int
chunk_step(skt_http_chunked_t *st, unsigned char c, size_t max_body)
{
    int d;

    switch (st->state) {
    case CH_SIZE:
        if ((d = hex_value(c)) >= 0) {
            /* Refuse before the data arrives; the first test also keeps *16 from wrapping. */
            if (st->remaining > (UINT64_MAX >> 4))
                return CH_TOOBIG;
            st->remaining = st->remaining * 16 + (unsigned)d;
            if (st->remaining > max_body - st->out)
                return CH_TOOBIG;
            st->digits = 1;
            return CH_SIZE;
        }
        if (!st->digits)
            return CH_BAD;
        if (is_ows(c))
            return CH_SIZE_WS;
        if (c == ';')
            return CH_EXT;
        return chunk_size_eol(st, c);
    case CH_SIZE_WS:
        if (is_ows(c))
            return CH_SIZE_WS;
        if (c == ';')
            return CH_EXT;
        return chunk_size_eol(st, c);
    case CH_EXT:
        if (c != '\r' && c != '\n')
            return is_field_byte(c) ? CH_EXT : CH_BAD;
        return chunk_size_eol(st, c);
    case CH_SIZE_LF:
        return c == '\n' ? chunk_size_done(st) : CH_BAD;
    case CH_DATA_CR:
        if (c == '\r')
            return CH_DATA_LF;
        return c == '\n' ? chunk_next_size(st) : CH_BAD; /* a bare LF ends the line too */
    case CH_DATA_LF:
        return c == '\n' ? chunk_next_size(st) : CH_BAD;
    case CH_TRAILER_LINE:
        if (c == '\r')
            return CH_FINAL_LF;
        if (c == '\n')
            return CH_DONE;
        return is_tchar(c) ? CH_TRAILER_NAME : CH_BAD;
    case CH_TRAILER_NAME:
        if (c == ':')
            return CH_TRAILER_VAL;
        return is_tchar(c) ? CH_TRAILER_NAME : CH_BAD;
    case CH_TRAILER_VAL:
        if (c == '\r')
            return CH_TRAILER_LF;
        if (c == '\n')
            break;
        return is_field_byte(c) ? CH_TRAILER_VAL : CH_BAD;
    case CH_TRAILER_LF:
        if (c != '\n')
            return CH_BAD;
        break;
    case CH_FINAL_LF:
        return c == '\n' ? CH_DONE : CH_BAD;
    default:
        return CH_BAD;
    }
    /* A trailer line ended. */
    st->line_len = 0;
    return CH_TRAILER_LINE;
}

/* Byte by byte through the framing, but chunk data moves in one memmove per call; decoded
 * data only ever moves towards the front, over raw bytes already consumed, so it is safe in
 * place. */
int
skt_http_chunked_decode(skt_http_chunked_t *st, char *buf, size_t len, size_t max_body,
                        size_t *body_len, size_t *consumed)
{
    if (len < st->in && st->state != CH_DONE)
        st->state = CH_BAD;
    while (st->in < len && st->state != CH_DONE && st->state != CH_BAD && st->state != CH_TOOBIG) {
        if (st->state == CH_DATA) {
            size_t n = len - st->in;

            if (n > st->remaining)
                n = (size_t)st->remaining;
            if (st->out != st->in)
                memmove(buf + st->out, buf + st->in, n);
            st->out += n;
            st->in += n;
            st->remaining -= n;
            if (st->remaining == 0)
                st->state = CH_DATA_CR;
            continue;
        }
        if (++st->line_len > CHUNK_LINE_MAX) {
            st->state = CH_BAD;
            break;
        }
        st->state = chunk_step(st, (unsigned char)buf[st->in++], max_body);
    }
    if (body_len)
        *body_len = st->out;
    if (consumed)
        *consumed = st->in;
    switch (st->state) {
    case CH_DONE:
        return 1;
    case CH_BAD:
        return -1;
    case CH_TOOBIG:
        return -2;
    default:
        return 0;
    }
}

int
skt_http_query_next(const char *q, size_t qlen, size_t *pos, const char **k, size_t *klen,
                    const char **v, size_t *vlen)
{
    while (*pos < qlen) {
        const char *seg = q + *pos;
        const char *amp = memchr(seg, '&', qlen - *pos);
        size_t seg_len = amp ? (size_t)(amp - seg) : qlen - *pos;
        const char *eq;

        *pos += seg_len + (amp ? 1 : 0);
        if (seg_len == 0)
            continue;
        eq = memchr(seg, '=', seg_len);
        *k = seg;
        if (eq) {
            *klen = (size_t)(eq - seg);
            *v = eq + 1;
            *vlen = seg_len - *klen - 1;
        } else {
            *klen = seg_len;
            *v = seg + seg_len;
            *vlen = 0;
        }
        return 1;
    }
    return 0;
}

/* Writes never run ahead of reads (an escape shrinks, nothing grows), so dst == src works. */
ssize_t
skt_http_urldecode(char *dst, const char *src, size_t srclen)
{
    size_t i = 0, o = 0;

    while (i < srclen) {
        char c = src[i];

        if (c == '%') {
            int hi, lo;

            if (srclen - i < 3)
                return -1;
            hi = hex_value((unsigned char)src[i + 1]);
            lo = hex_value((unsigned char)src[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            dst[o++] = (char)(hi << 4 | lo);
            i += 3;
        } else {
            dst[o++] = c == '+' ? ' ' : c;
            i++;
        }
    }
    return (ssize_t)o;
}

const char *
skt_http_reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 101:
        return "Switching Protocols";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 406:
        return "Not Acceptable";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 411:
        return "Length Required";
    case 413:
        return "Payload Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 417:
        return "Expectation Failed";
    case 422:
        return "Unprocessable Entity";
    case 426:
        return "Upgrade Required";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}
