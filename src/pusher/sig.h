/* sig.h - Pusher signatures: channel and sign-in auth strings, HTTP API request signing.
 *
 * Everything here is pure computation over the caller's bytes: no allocation outlives a
 * call, nothing is kept between calls, and every function is safe to call from any thread.
 * Byte slices (pointer + length) need no NUL terminator; plain `const char *` arguments
 * without a length are NUL-terminated strings.
 *
 * Every comparison against something a client sent runs in constant time for the given
 * lengths (skt_sig_equal), so a forger learns nothing from response timing.
 *
 * Should libcrypto itself fail (out of memory), the validators fail closed: they answer
 * "not valid" (0, or SKT_SIG_EBAD), and the hex producers write an empty string.
 */
#ifndef SKT_PUSHER_SIG_H
#define SKT_PUSHER_SIG_H

#include <stddef.h>

/* Length of a lower-case hex SHA-256 / MD5 digest, without the NUL. */
#define SKT_SIG_SHA256_HEX_LEN 64
#define SKT_SIG_MD5_HEX_LEN 32

/* Lower-case hex HMAC-SHA256(key, msg) into out (64 hex digits + NUL). key and msg may be
 * NULL when their length is 0. On a libcrypto failure out is "". */
void skt_sig_hmac_sha256_hex(const char *key, size_t key_len, const char *msg, size_t msg_len,
                             char out[65]);

/* Lower-case hex MD5 of data into out (32 hex digits + NUL). data may be NULL when len is 0.
 * On a libcrypto failure out is "". */
void skt_sig_md5_hex(const void *data, size_t len, char out[33]);

/* Constant-time equality: the time taken depends only on alen and blen, never on the bytes.
 * Returns 1 when the slices are byte-for-byte equal (same length), 0 otherwise. */
int skt_sig_equal(const char *a, size_t alen, const char *b, size_t blen);

/* Channel subscription auth as Pusher/soketi check it. The client sends
 * auth = "<app key>:<hex hmac-sha256(app secret, msg)>" where msg is
 * "<socket_id>:<channel>" for private channels, or
 * "<socket_id>:<channel>:<channel_data>" for presence channels.
 * app_key, app_secret, socket_id, channel: NUL-terminated. channel_data: slice, or NULL for
 * a non-presence channel (a non-NULL empty slice signs "<socket_id>:<channel>:").
 * auth: the slice the client sent (may be NULL when auth_len is 0). The hex must be
 * lower-case, exactly as the SDKs produce it. Returns 1 valid, 0 not. */
int skt_sig_channel_auth_valid(const char *app_key, const char *app_secret, const char *socket_id,
                               const char *channel, const char *channel_data,
                               size_t channel_data_len, const char *auth, size_t auth_len);

/* User sign-in (pusher:signin) auth: same "<app key>:<hex>" form, over
 * "<socket_id>::user::<user_data>". user_data: the exact string the client sent (slice).
 * Returns 1 valid, 0 not. */
int skt_sig_user_auth_valid(const char *app_key, const char *app_secret, const char *socket_id,
                            const char *user_data, size_t user_data_len, const char *auth,
                            size_t auth_len);

/* Computes the auth string a client would send for a channel ("<app key>:<hex>") into a
 * newly allocated NUL-terminated string the caller frees with free(). channel_data as for
 * skt_sig_channel_auth_valid. Returns NULL when out of memory. For tests and tooling. */
char *skt_sig_channel_auth_new(const char *app_key, const char *app_secret, const char *socket_id,
                               const char *channel, const char *channel_data,
                               size_t channel_data_len);

/* One query parameter of an HTTP API request, already percent-decoded. Slices. */
typedef struct skt_sig_param_s {
    const char *key;
    size_t key_len;
    const char *val;
    size_t val_len;
} skt_sig_param_t;

typedef enum skt_sig_http_result_e {
    SKT_SIG_OK = 0,
    /* auth_key, auth_timestamp, auth_version or auth_signature absent */
    SKT_SIG_EMISSING = -1,
    /* auth_version is not Pusher's "1.0" */
    SKT_SIG_EVERSION = -6,
    /* auth_key differs from the app key */
    SKT_SIG_EKEY = -2,
    /* auth_timestamp is not a decimal integer, or |now - auth_timestamp| > 600 s */
    SKT_SIG_ETIME = -3,
    /* body_md5 given and not the lower-case hex MD5 of the body (an empty body_md5 with an
     * empty body counts as not given, as in soketi) */
    SKT_SIG_EBODY = -4,
    /* auth_signature is not the expected one (also: libcrypto or allocation failure) */
    SKT_SIG_EBAD = -5,
    /* (the lowest value: every result lies in SKT_SIG_ELOWEST..SKT_SIG_OK) */
    SKT_SIG_ELOWEST = SKT_SIG_EVERSION,
} skt_sig_http_result_t;

/* Largest |now - auth_timestamp| accepted, in seconds (Pusher's documented window). */
#define SKT_SIG_HTTP_MAX_SKEW 600

/* Sets how far (seconds) auth_timestamp may be from now (httpApi.authTimestampWindow);
 * SKT_SIG_HTTP_MAX_SKEW until called. Process-wide: called once at start-up. */
void skt_sig_set_http_window(long long seconds);

/* Checks a Pusher HTTP API request signature, as soketi and the Pusher server SDKs compute
 * it: auth_signature = hex hmac-sha256(app secret, "<METHOD>\n<path>\n<params>"), where
 * <METHOD> is method upper-cased, <path> the request path without the query, and <params>
 * every query parameter except auth_signature and the route parameters soketi drops (appId,
 * appKey, channelName), with body_md5 replaced by md5(body) when the body is non-empty or a
 * non-empty body_md5 was sent; sorted by key (byte order), joined as "k=v" with "&".
 * A key given more than once takes its last value (as a JS object would).
 *
 * app_key, app_secret, method: NUL-terminated. path, params, body: slices (params and body
 * may be NULL when their count/length is 0). now: the current Unix time in seconds.
 * The checks run in the order of the result codes (EVERSION right after EMISSING) and the
 * first failure is returned.
 * Allocates a sort array of nparams + 1 entries, freed before returning. */
int skt_sig_http_verify(const char *app_key, const char *app_secret, const char *method,
                        const char *path, size_t path_len, const skt_sig_param_t *params,
                        size_t nparams, const char *body, size_t body_len, long long now);

/* The same checks from a request head alone, before its body is read, so that a request
 * nobody signed never gets its body buffered: the body_md5 the client sent stands for the
 * body's (skt_sig_http_verify compares them once the body is in; SKT_SIG_EBODY cannot
 * come from here). A request without a 32-digit body_md5 is checked up to its timestamp
 * only: its signature covers the md5 of a body not read yet. */
int skt_sig_http_verify_head(const char *app_key, const char *app_secret, const char *method,
                             const char *path, size_t path_len, const skt_sig_param_t *params,
                             size_t nparams, long long now);

/* Computes the hex auth_signature skt_sig_http_verify expects for this request into out
 * (64 hex digits + NUL), for clients, tests and tooling. Same arguments, same canonical
 * string; no parameter is required and none is checked. Returns 0, or SKT_SIG_EBAD on a
 * libcrypto/allocation failure (out is then ""). */
int skt_sig_http_sign(const char *app_secret, const char *method, const char *path, size_t path_len,
                      const skt_sig_param_t *params, size_t nparams, const char *body,
                      size_t body_len, char out[65]);

#endif /* SKT_PUSHER_SIG_H */
