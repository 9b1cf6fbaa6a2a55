/* http_parse.h - HTTP/1.1 request parsing: request head, chunked bodies, query strings.
 *
 * DESIGN
 * Pure functions over caller-owned bytes; nothing here allocates or touches a socket. The
 * request head parser is re-run from the start of the buffer each time more bytes arrive (heads
 * are small and bounded by max_head) and keeps no state; every pointer it returns points into
 * the caller's buffer and is valid while that buffer is unchanged. The chunked decoder is
 * incremental: its state holds offsets, not pointers, so the caller may grow (realloc) the body
 * buffer between calls as long as the bytes already there stay as they are.
 */
#ifndef SKT_NET_HTTP_PARSE_H
#define SKT_NET_HTTP_PARSE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SKT_HTTP_MAX_HEADERS 64

/* Errors of skt_http_parse_request(), each with the status to answer with. */
#define SKT_HTTP_EBAD (-1)     /* 400 Bad Request */
#define SKT_HTTP_ETOOBIG (-2)  /* 431 Request Header Fields Too Large */
#define SKT_HTTP_EVERSION (-3) /* 505 HTTP Version Not Supported */

typedef struct skt_http_header_s {
    const char *name; /* as sent (any case) */
    size_t name_len;
    const char *value; /* leading and trailing spaces/tabs removed */
    size_t value_len;
} skt_http_header_t;

typedef struct skt_http_req_s {
    const char *method;
    size_t method_len;
    const char *path; /* request-target up to '?' (not decoded) */
    size_t path_len;
    const char *query; /* after '?', without it; len 0 if none */
    size_t query_len;
    int minor_version; /* 0 or 1 (HTTP/1.0 or 1.1) */
    skt_http_header_t headers[SKT_HTTP_MAX_HEADERS];
    size_t num_headers;
    size_t head_len;         /* bytes up to and including the blank line */
    int64_t content_length;  /* -1 when absent */
    unsigned chunked : 1;    /* Transfer-Encoding: chunked */
    unsigned keep_alive : 1; /* 1.1: on unless Connection: close; 1.0: only with keep-alive */
    unsigned upgrade_websocket : 1; /* Upgrade has token "websocket" and Connection "upgrade" */
} skt_http_req_t;

/* Parses a request head at buf[0..len); pointers in req point into buf.
 * Line ends may be CRLF or a bare LF; empty lines before the request line are skipped (they
 * count in head_len). The method must be a token, the target visible non-space bytes, the
 * version "HTTP/" DIGIT "." DIGIT. Header names are tokens followed directly by ':'; values
 * may hold visible bytes, spaces, tabs and bytes >= 0x80, no other control bytes.
 * Returns:
 *   > 0 head_len, req filled;
 *   0 incomplete: the head is well-formed so far but its blank line has not arrived;
 *   SKT_HTTP_EBAD malformed request line or header line, obs-fold (a line starting with space
 *     or tab), a CR not followed by LF, a control byte, a Content-Length that is not all
 *     digits or overflows, several Content-Length headers that differ, Transfer-Encoding other
 *     than a single "chunked", both Content-Length and chunked;
 *   SKT_HTTP_ETOOBIG when the head is not complete within max_head bytes, or has more than
 *     SKT_HTTP_MAX_HEADERS headers;
 *   SKT_HTTP_EVERSION a well-formed version other than HTTP/1.0 and HTTP/1.1.
 * An error found in the bytes present wins over "incomplete". On error req is partly filled
 * and must not be used. */
int skt_http_parse_request(const char *buf, size_t len, size_t max_head, skt_http_req_t *req);

/* Case-insensitive header lookup: the first header called name, its value (not
 * NUL-terminated) with *len set; NULL with *len = 0 when absent. len may be NULL. */
const char *skt_http_header(const skt_http_req_t *req, const char *name, size_t *len);

/* Returns 1 when the comma-separated header value list[0..len) holds token (case-insensitive,
 * spaces around elements ignored), else 0. For Connection, Upgrade and the like. */
int skt_http_token_list_has(const char *list, size_t len, const char *token);

/* Chunked body decoding state; treat as opaque, set up with skt_http_chunked_init(). */
typedef struct skt_http_chunked_s {
    size_t in;          /* raw bytes of buf consumed so far */
    size_t out;         /* decoded bytes at the front of buf */
    uint64_t remaining; /* data bytes left in the current chunk */
    size_t line_len;    /* bytes of the current size or trailer line, to bound it */
    int state;
    int digits; /* hex digits seen in the current chunk-size */
} skt_http_chunked_t;

void skt_http_chunked_init(skt_http_chunked_t *st);

/* Decodes a chunked body incrementally and in place. Call with buf[0..len) = the bytes after
 * the head received so far; between calls buf may grow (and move) but bytes already passed must
 * stay as they are, and the same st must be passed. Decoded data is compacted to the front of
 * buf (it overwrites consumed raw bytes only). Chunk extensions are skipped; trailer fields are
 * checked for control bytes and dropped. CRLF or a bare LF end each line.
 * Returns 1 when the last chunk and its trailers are complete: *body_len is the decoded length
 * (at buf[0..*body_len)) and *consumed the raw bytes used (a pipelined next request starts at
 * buf + *consumed). Returns 0 when more bytes are needed, -1 malformed (bad chunk size, missing
 * CRLF after data, a size or trailer line over 4 KiB, len smaller than before), -2 when the
 * decoded size would exceed max_body (known from a chunk-size line, before its data arrives).
 * *body_len and *consumed (either may be NULL) are set on every return to the progress so far.
 * After 1, -1 or -2 further calls return the same. */
int skt_http_chunked_decode(skt_http_chunked_t *st, char *buf, size_t len, size_t max_body,
                            size_t *body_len, size_t *consumed);

/* Iterates key/value pairs of a raw query q[0..qlen) ("a=1&b=%20x"); *pos starts at 0.
 * Returns 1 with raw (undecoded) slices into q, 0 at the end. Empty segments ("&&") are
 * skipped; "a" alone is key "a" with value "" (vlen 0); "=x" is key "" with value "x"; only the
 * first '=' splits. */
int skt_http_query_next(const char *q, size_t qlen, size_t *pos, const char **k, size_t *klen,
                        const char **v, size_t *vlen);

/* Percent-decodes src[0..srclen) into dst ('+' becomes a space, as in query strings and
 * URLSearchParams); dst may equal src, and needs srclen bytes. Returns the decoded length
 * (dst is not NUL-terminated), or -1 on a malformed escape ("%zz", "%4"); dst then holds
 * garbage. Decoded bytes are not checked (a "%00" gives a NUL). */
ssize_t skt_http_urldecode(char *dst, const char *src, size_t srclen);

/* Standard reason phrase for a status code ("OK", "Not Found", ...), "Unknown" for codes
 * without one. Never NULL. */
const char *skt_http_reason(int status);

#endif
