/* sig.c - Pusher signatures: channel and sign-in auth strings, HTTP API request signing.
 *
 * DESIGN: every signed string is fed to a streaming HMAC piece by piece (sig_hmac_*), so
 * nothing is concatenated and no buffer has a size a client could choose. The one
 * allocation is the HTTP parameter sort array (nparams + 1 entries), freed before return.
 * Under OpenSSL 3 the HMAC runs on EVP_MAC, fetched once per process (CRYPTO_THREAD_run_once)
 * and shared read-only by every call; OpenSSL 1.1 has no EVP_MAC and uses HMAC_CTX, which
 * 3.0 deprecates, hence the two branches of the small sig_hmac_* layer and nothing else.
 */
#include "pusher/sig.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
#define SIG_HAVE_EVP_MAC 1
#include <openssl/core_names.h>
#include <openssl/params.h>
#else
#include <openssl/hmac.h>
#endif

#include "util/hex.h"

#define SIG_SHA256_LEN 32
#define SIG_MD5_LEN 16

/* A running HMAC-SHA256. A failure anywhere sets failed; sig_hmac_finish reports it and
 * always releases the context, so callers need no error path until the end. */
typedef struct sig_hmac_s {
#ifdef SIG_HAVE_EVP_MAC
    EVP_MAC_CTX *ctx;
#else
    HMAC_CTX *ctx;
#endif
    int failed;
} sig_hmac_t;

#ifdef SIG_HAVE_EVP_MAC
static EVP_MAC *sig_mac;
static CRYPTO_ONCE sig_mac_once = CRYPTO_ONCE_STATIC_INIT;

/* Fetching an algorithm takes a lock and a lookup; doing it once keeps the per-message
 * cost to a context allocation. NULL after a failed fetch: every HMAC then fails closed. */
static void
sig_mac_fetch(void)
{
    sig_mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
}
#endif

/* Starts h with key; an empty key is valid (HMAC pads it) and may come as NULL. */
static void
sig_hmac_begin(sig_hmac_t *h, const char *key, size_t key_len)
{
    static const char empty[1] = "";
    h->failed = 0;
    if (key == NULL || key_len == 0) {
        key = empty;
        key_len = 0;
    }
#ifdef SIG_HAVE_EVP_MAC
    char digest[] = "SHA256";
    OSSL_PARAM mac_params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    h->ctx = NULL;
    if (!CRYPTO_THREAD_run_once(&sig_mac_once, sig_mac_fetch) || sig_mac == NULL) {
        h->failed = 1;
        return;
    }
    h->ctx = EVP_MAC_CTX_new(sig_mac);
    if (h->ctx == NULL || !EVP_MAC_init(h->ctx, (const unsigned char *)key, key_len, mac_params)) {
        h->failed = 1;
    }
#else
    h->ctx = HMAC_CTX_new();
    if (h->ctx == NULL || key_len > INT_MAX ||
        !HMAC_Init_ex(h->ctx, key, (int)key_len, EVP_sha256(), NULL)) {
        h->failed = 1;
    }
#endif
}

static void
sig_hmac_update(sig_hmac_t *h, const void *data, size_t len)
{
    if (h->failed || len == 0) {
        return;
    }
#ifdef SIG_HAVE_EVP_MAC
    if (!EVP_MAC_update(h->ctx, data, len)) {
        h->failed = 1;
    }
#else
    if (!HMAC_Update(h->ctx, data, len)) {
        h->failed = 1;
    }
#endif
}

static void
sig_hmac_update_str(sig_hmac_t *h, const char *s)
{
    sig_hmac_update(h, s, strlen(s));
}

/* Ends h, writes the hex MAC into out (or "" on failure) and frees the context.
 * Returns 0 or -1. */
static int
sig_hmac_finish(sig_hmac_t *h, char out[65])
{
    unsigned char md[SIG_SHA256_LEN];
    int ok = !h->failed;
#ifdef SIG_HAVE_EVP_MAC
    size_t md_len = 0;
    if (ok) {
        ok = EVP_MAC_final(h->ctx, md, &md_len, sizeof md) && md_len == sizeof md;
    }
    EVP_MAC_CTX_free(h->ctx);
#else
    unsigned int md_len = 0;
    if (ok) {
        ok = HMAC_Final(h->ctx, md, &md_len) && md_len == sizeof md;
    }
    HMAC_CTX_free(h->ctx);
#endif
    h->ctx = NULL;
    if (!ok) {
        out[0] = '\0';
        return -1;
    }
    skt_hex_encode(md, sizeof md, out, 0);
    return 0;
}

void
skt_sig_hmac_sha256_hex(const char *key, size_t key_len, const char *msg, size_t msg_len,
                        char out[65])
{
    sig_hmac_t h;
    sig_hmac_begin(&h, key, key_len);
    sig_hmac_update(&h, msg, msg_len);
    sig_hmac_finish(&h, out);
}

void
skt_sig_md5_hex(const void *data, size_t len, char out[33])
{
    static const char empty[1] = "";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (data == NULL) {
        data = empty;
        len = 0;
    }
    if (!EVP_Digest(data, len, md, &md_len, EVP_md5(), NULL) || md_len != SIG_MD5_LEN) {
        out[0] = '\0';
        return;
    }
    skt_hex_encode(md, SIG_MD5_LEN, out, 0);
}

/* Client-supplied signatures are compared with this so a forger cannot find the expected
 * bytes one at a time from timing. Lengths are public (every valid value has a fixed
 * length), so only the shorter length's bytes are compared, always all of them. */
int
skt_sig_equal(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int same_bytes = n == 0 || CRYPTO_memcmp(a, b, n) == 0;
    return (alen == blen) & same_bytes;
}

/* Checks auth == "<app_key>:<hex>" in constant time for its length. hex "" (HMAC failed)
 * never matches. */
static int
sig_auth_matches(const char *app_key, const char hex[65], const char *auth, size_t auth_len)
{
    size_t klen = strlen(app_key);
    if (hex[0] == '\0' || auth == NULL || auth_len != klen + 1 + SKT_SIG_SHA256_HEX_LEN) {
        return 0;
    }
    return skt_sig_equal(auth, klen, app_key, klen) & (auth[klen] == ':') &
           skt_sig_equal(auth + klen + 1, SKT_SIG_SHA256_HEX_LEN, hex, SKT_SIG_SHA256_HEX_LEN);
}

/* The hex HMAC a channel subscription is signed with (private-channel-manager.ts and
 * presence-channel-manager.ts getDataToSignForSignature). Returns 0 or -1. */
static int
sig_channel_hex(const char *app_secret, const char *socket_id, const char *channel,
                const char *channel_data, size_t channel_data_len, char out[65])
{
    sig_hmac_t h;
    sig_hmac_begin(&h, app_secret, strlen(app_secret));
    sig_hmac_update_str(&h, socket_id);
    sig_hmac_update(&h, ":", 1);
    sig_hmac_update_str(&h, channel);
    if (channel_data != NULL) {
        sig_hmac_update(&h, ":", 1);
        sig_hmac_update(&h, channel_data, channel_data_len);
    }
    return sig_hmac_finish(&h, out);
}

int
skt_sig_channel_auth_valid(const char *app_key, const char *app_secret, const char *socket_id,
                           const char *channel, const char *channel_data, size_t channel_data_len,
                           const char *auth, size_t auth_len)
{
    char hex[65];
    if (sig_channel_hex(app_secret, socket_id, channel, channel_data, channel_data_len, hex) != 0) {
        return 0;
    }
    return sig_auth_matches(app_key, hex, auth, auth_len);
}

char *
skt_sig_channel_auth_new(const char *app_key, const char *app_secret, const char *socket_id,
                         const char *channel, const char *channel_data, size_t channel_data_len)
{
    char hex[65];
    if (sig_channel_hex(app_secret, socket_id, channel, channel_data, channel_data_len, hex) != 0) {
        return NULL;
    }
    size_t klen = strlen(app_key);
    char *auth = malloc(klen + 1 + SKT_SIG_SHA256_HEX_LEN + 1);
    if (auth == NULL) {
        return NULL;
    }
    memcpy(auth, app_key, klen);
    auth[klen] = ':';
    memcpy(auth + klen + 1, hex, SKT_SIG_SHA256_HEX_LEN + 1);
    return auth;
}

/* ws-handler.ts signinTokenForUserData: "<socket_id>::user::<user_data>". */
int
skt_sig_user_auth_valid(const char *app_key, const char *app_secret, const char *socket_id,
                        const char *user_data, size_t user_data_len, const char *auth,
                        size_t auth_len)
{
    char hex[65];
    sig_hmac_t h;
    sig_hmac_begin(&h, app_secret, strlen(app_secret));
    sig_hmac_update_str(&h, socket_id);
    sig_hmac_update(&h, "::user::", 8);
    sig_hmac_update(&h, user_data, user_data_len);
    if (sig_hmac_finish(&h, hex) != 0) {
        return 0;
    }
    return sig_auth_matches(app_key, hex, auth, auth_len);
}

/* One parameter of the canonical string; order is its index in the request, so the sort
 * can keep the last of equal keys (qsort is not stable by itself). */
typedef struct sig_entry_s {
    const char *key;
    size_t key_len;
    const char *val;
    size_t val_len;
    size_t order;
} sig_entry_t;

static int
sig_key_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n == 0 ? 0 : memcmp(a, b, n);
    if (c != 0) {
        return c;
    }
    return alen < blen ? -1 : alen > blen;
}

static int
sig_entry_cmp(const void *pa, const void *pb)
{
    const sig_entry_t *a = pa;
    const sig_entry_t *b = pb;
    int c = sig_key_cmp(a->key, a->key_len, b->key, b->key_len);
    if (c != 0) {
        return c;
    }
    return a->order < b->order ? -1 : a->order > b->order;
}

static int
sig_key_is(const skt_sig_param_t *p, const char *name)
{
    size_t n = strlen(name);
    return p->key_len == n && memcmp(p->key, name, n) == 0;
}

/* The value a JS object built from the query would hold for name: the last one given. */
static const skt_sig_param_t *
sig_param_last(const skt_sig_param_t *params, size_t nparams, const char *name)
{
    for (size_t i = nparams; i > 0; i--) {
        if (sig_key_is(&params[i - 1], name)) {
            return &params[i - 1];
        }
    }
    return NULL;
}

/* soketi app.ts signingTokenFromRequest: body_md5 = md5(rawBody || '') goes into the signed
 * parameters when the body is non-empty or a non-empty body_md5 was sent (JS truthiness).
 * Returns 1 with md5 filled in, 0 when body_md5 is left out, -1 on a libcrypto failure. */
static int
sig_body_md5(const skt_sig_param_t *given, const char *body, size_t body_len, char md5[33])
{
    if (body_len == 0 && (given == NULL || given->val_len == 0)) {
        return 0;
    }
    skt_sig_md5_hex(body, body_len, md5);
    return md5[0] == '\0' ? -1 : 1;
}

/* Query parameters that never enter the canonical string: the signature itself, the
 * client's body_md5 (replaced by the computed one), and soketi's route parameters. */
static int
sig_param_dropped(const skt_sig_param_t *p)
{
    return sig_key_is(p, "auth_signature") || sig_key_is(p, "body_md5") || sig_key_is(p, "appId") ||
           sig_key_is(p, "appKey") || sig_key_is(p, "channelName");
}

/* Feeds the method upper-cased (ASCII only, as JS toUpperCase does for method names). */
static void
sig_hmac_update_upper(sig_hmac_t *h, const char *s)
{
    char chunk[32];
    size_t n = 0;
    for (; *s != '\0'; s++) {
        char c = *s;
        chunk[n++] = (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
        if (n == sizeof chunk) {
            sig_hmac_update(h, chunk, n);
            n = 0;
        }
    }
    sig_hmac_update(h, chunk, n);
}

/* HMAC of "<METHOD>\n<path>\n<k=v&...>" into out. md5: the body_md5 value to sign, or
 * NULL to leave it out. Returns 0 or -1 (allocation or libcrypto failure, out ""). */
static int
sig_http_hex(const char *app_secret, const char *method, const char *path, size_t path_len,
             const skt_sig_param_t *params, size_t nparams, const char *md5, char out[65])
{
    out[0] = '\0';
    if (nparams > SIZE_MAX / sizeof(sig_entry_t) - 1) {
        return -1;
    }
    sig_entry_t *e = malloc((nparams + 1) * sizeof *e);
    if (e == NULL) {
        return -1;
    }
    size_t n = 0;
    for (size_t i = 0; i < nparams; i++) {
        if (sig_param_dropped(&params[i])) {
            continue;
        }
        e[n++] =
            (sig_entry_t){params[i].key, params[i].key_len, params[i].val, params[i].val_len, i};
    }
    if (md5 != NULL) {
        e[n++] = (sig_entry_t){"body_md5", 8, md5, SKT_SIG_MD5_HEX_LEN, nparams};
    }
    qsort(e, n, sizeof *e, sig_entry_cmp);

    sig_hmac_t h;
    sig_hmac_begin(&h, app_secret, strlen(app_secret));
    sig_hmac_update_upper(&h, method);
    sig_hmac_update(&h, "\n", 1);
    sig_hmac_update(&h, path, path_len);
    sig_hmac_update(&h, "\n", 1);
    int first = 1;
    for (size_t i = 0; i < n; i++) {
        /* Equal keys sort together by request order: only the last of a run is signed. */
        if (i + 1 < n && sig_key_cmp(e[i].key, e[i].key_len, e[i + 1].key, e[i + 1].key_len) == 0) {
            continue;
        }
        if (!first) {
            sig_hmac_update(&h, "&", 1);
        }
        first = 0;
        sig_hmac_update(&h, e[i].key, e[i].key_len);
        sig_hmac_update(&h, "=", 1);
        sig_hmac_update(&h, e[i].val, e[i].val_len);
    }
    free(e);
    return sig_hmac_finish(&h, out);
}

int
skt_sig_http_sign(const char *app_secret, const char *method, const char *path, size_t path_len,
                  const skt_sig_param_t *params, size_t nparams, const char *body, size_t body_len,
                  char out[65])
{
    char md5[33];
    int with_md5 = sig_body_md5(sig_param_last(params, nparams, "body_md5"), body, body_len, md5);
    if (with_md5 < 0) {
        out[0] = '\0';
        return SKT_SIG_EBAD;
    }
    if (sig_http_hex(app_secret, method, path, path_len, params, nparams, with_md5 ? md5 : NULL,
                     out) != 0) {
        return SKT_SIG_EBAD;
    }
    return SKT_SIG_OK;
}

/* auth_timestamp as Pusher sends it: decimal seconds, digits only. More than 18 digits is
 * centuries away from any clock and would overflow; it is refused like garbage. */
static int
sig_parse_timestamp(const char *s, size_t len, long long *out)
{
    if (len == 0 || len > 18) {
        return -1;
    }
    long long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static long long sig_http_window = SKT_SIG_HTTP_MAX_SKEW;

void
skt_sig_set_http_window(long long seconds)
{
    sig_http_window = seconds < 0 ? 0 : seconds;
}

/* |now - ts| > the window without overflow: ts is in [0, 1e18), now is anything. */
static int
sig_timestamp_stale(long long ts, long long now)
{
    if (ts > now) {
        return now < ts - sig_http_window;
    }
    return ts < now - sig_http_window; /* now >= ts >= 0: no overflow */
}

/* skt_sig_http_verify, or with head set skt_sig_http_verify_head (body unused). */
static int
sig_http_verify(const char *app_key, const char *app_secret, const char *method, const char *path,
                size_t path_len, const skt_sig_param_t *params, size_t nparams, const char *body,
                size_t body_len, long long now, int head)
{
    const skt_sig_param_t *key = sig_param_last(params, nparams, "auth_key");
    const skt_sig_param_t *ts = sig_param_last(params, nparams, "auth_timestamp");
    const skt_sig_param_t *version = sig_param_last(params, nparams, "auth_version");
    const skt_sig_param_t *sig = sig_param_last(params, nparams, "auth_signature");
    if (key == NULL || ts == NULL || version == NULL || sig == NULL) {
        return SKT_SIG_EMISSING;
    }
    /* Pusher defines one version of its signatures (soketi accepts any text). */
    if (version->val_len != 3 || memcmp(version->val, "1.0", 3) != 0) {
        return SKT_SIG_EVERSION;
    }
    if (!skt_sig_equal(key->val, key->val_len, app_key, strlen(app_key))) {
        return SKT_SIG_EKEY;
    }
    long long t;
    if (sig_parse_timestamp(ts->val, ts->val_len, &t) != 0 || sig_timestamp_stale(t, now)) {
        return SKT_SIG_ETIME;
    }

    /* soketi only folds body_md5 into the signature; checking it first gives the caller a
     * precise error, and a request that passes it signs the same string either way. */
    const skt_sig_param_t *given_md5 = sig_param_last(params, nparams, "body_md5");
    char md5[33];
    int with_md5;
    if (head) {
        /* Before the body: the md5 the client signed stands for it (checked once the body
         * is in); without one, the signature covers the md5 of a body not read yet. */
        if (!given_md5 || given_md5->val_len != SKT_SIG_MD5_HEX_LEN)
            return SKT_SIG_OK;
        memcpy(md5, given_md5->val, SKT_SIG_MD5_HEX_LEN);
        md5[SKT_SIG_MD5_HEX_LEN] = '\0';
        with_md5 = 1;
    } else {
        with_md5 = sig_body_md5(given_md5, body, body_len, md5);
    }
    if (with_md5 < 0) {
        return SKT_SIG_EBAD;
    }
    if (with_md5 && given_md5 != NULL &&
        !skt_sig_equal(given_md5->val, given_md5->val_len, md5, SKT_SIG_MD5_HEX_LEN)) {
        return SKT_SIG_EBODY;
    }

    char hex[65];
    if (sig_http_hex(app_secret, method, path, path_len, params, nparams, with_md5 ? md5 : NULL,
                     hex) != 0) {
        return SKT_SIG_EBAD;
    }
    if (!skt_sig_equal(sig->val, sig->val_len, hex, SKT_SIG_SHA256_HEX_LEN)) {
        return SKT_SIG_EBAD;
    }
    return SKT_SIG_OK;
}

int
skt_sig_http_verify(const char *app_key, const char *app_secret, const char *method,
                    const char *path, size_t path_len, const skt_sig_param_t *params,
                    size_t nparams, const char *body, size_t body_len, long long now)
{
    return sig_http_verify(app_key, app_secret, method, path, path_len, params, nparams, body,
                           body_len, now, 0);
}

int
skt_sig_http_verify_head(const char *app_key, const char *app_secret, const char *method,
                         const char *path, size_t path_len, const skt_sig_param_t *params,
                         size_t nparams, long long now)
{
    return sig_http_verify(app_key, app_secret, method, path, path_len, params, nparams, NULL, 0,
                           now, 1);
}
