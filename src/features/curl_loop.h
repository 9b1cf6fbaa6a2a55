/* curl_loop.h - HTTP POSTs through libcurl's multi interface, driven by a libevent loop.
 *
 * What webhooks are sent with. Every request is made with the libcurl options a hostile or
 * broken endpoint could otherwise abuse set explicitly:
 * - only http and https (CURLOPT_PROTOCOLS_STR and REDIR_PROTOCOLS_STR); skt_curl_url_ok()
 *   lets the caller refuse any other URL before it gets here, with its own log line;
 * - redirects are not followed (CURLOPT_FOLLOWLOCATION 0): a 3xx is the answer. A redirect
 *   would resend a signed body to wherever the endpoint points (any host of the daemon's
 *   network), and a 301/302/303 would turn the POST into a GET that loses the body anyway;
 * - the answer is read into nothing: its first SKT_CURL_EXCERPT bytes are kept for the log
 *   line of a failed attempt (escaped: no control character, no newline reaches the log),
 *   and the transfer stops as soon as more than SKT_CURL_ANSWER_MAX bytes of headers or of
 *   body came (CURLOPT_MAXFILESIZE refuses a longer Content-Length before reading any).
 *   The status is what counts: an answer cut short still has one;
 * - a connect timeout and a total timeout; CURLOPT_NOSIGNAL (no SIGALRM around DNS);
 * - no Accept-Encoding, so no answer is ever decompressed.
 * skt_curl_new() warns once when the libcurl in use resolves host names synchronously (no
 * CURL_VERSION_ASYNCHDNS): a URL with a host name would then stall the loop while resolving.
 *
 * DESIGN
 * No threads of ours and nothing blocks: CURLMOPT_SOCKETFUNCTION and TIMERFUNCTION register
 * the sockets and the timeout curl wants on the caller's event_base, and each readiness calls
 * curl_multi_socket_action. Finished transfers are collected after curl returns and their
 * done callbacks run then, outside any curl callback, so a callback may post again. libevent
 * events curl asks us to drop while one of them is running are parked on a list and freed
 * once curl has returned (never free an object from inside its own callback).
 */
#ifndef SKT_FEATURES_CURL_LOOP_H
#define SKT_FEATURES_CURL_LOOP_H

#include <curl/curl.h>
#include <event2/event.h>
#include <stddef.h>

/* Bytes of an answer's body kept for the log line of a failed attempt. */
#define SKT_CURL_EXCERPT 200
/* An answer's headers, or its body, past which the transfer stops. */
#define SKT_CURL_ANSWER_MAX (64 * 1024)
/* The escaped form of an excerpt: at most 4 bytes ("\xNN") per byte, and the NUL. */
#define SKT_CURL_EXCERPT_ESCAPED (4 * SKT_CURL_EXCERPT + 1)

typedef struct skt_curl_s skt_curl_t;
typedef struct skt_curl_req_s skt_curl_req_t;

/* How a request ended; its strings live until the done callback returns. */
typedef struct skt_curl_answer_s {
    long status;         /* the HTTP status, 0 when none came (then error says why) */
    const char *error;   /* curl's reason when there is no status, escaped; else NULL */
    const char *excerpt; /* the body's first bytes, escaped for a log line; "" when none */
} skt_curl_answer_t;

typedef void (*skt_curl_done_fn)(void *arg, const skt_curl_answer_t *answer);

/* A request engine on base. NULL with a message in err (libcurl or memory). */
skt_curl_t *skt_curl_new(struct event_base *base, char *err, size_t errlen);

/* Abandons whatever is in flight (no done callbacks) and frees. NULL is a no-op. */
void skt_curl_free(skt_curl_t *c);

/* Starts a POST of body (len bytes) to url with headers. body, headers and url are borrowed:
 * they must stay valid until done runs or skt_curl_cancel() returns. timeout_ms bounds the
 * whole request, connect_ms the connection (both > 0). done(arg, answer) runs once, from
 * the loop, never from inside this call. Returns the request, or NULL when it cannot start
 * (out of memory): done is then never called. */
skt_curl_req_t *skt_curl_post(skt_curl_t *c, const char *url, const struct curl_slist *headers,
                              const char *body, size_t len, long timeout_ms, long connect_ms,
                              skt_curl_done_fn done, void *arg);

/* Stops req, which has not finished, without calling its done callback; req is freed. */
void skt_curl_cancel(skt_curl_t *c, skt_curl_req_t *req);

/* list with "name: value" appended; the line is left out when name holds CR, LF or ':' or
 * value CR or LF (it could split the request). Returns the list; when out of memory *ok is
 * set to 0 and list returned unchanged. */
struct curl_slist *skt_curl_add_header(struct curl_slist *list, const char *name, const char *value,
                                       int *ok);

/* 1 when url starts with http:// or https:// (in any case), the only schemes sent to. */
int skt_curl_url_ok(const char *url);

/* Writes the len bytes of in into out (cap bytes, NUL-terminated, cut when full) so that it
 * is safe in a log line: printable ASCII as it is, except \ and " which get a backslash;
 * \n, \r and \t as such; every other byte as \xNN. Returns the length written. */
size_t skt_curl_escape(const char *in, size_t len, char *out, size_t cap);

#endif
