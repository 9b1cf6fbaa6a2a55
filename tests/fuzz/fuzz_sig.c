/* fuzz_sig.c - libFuzzer target: the Pusher signature checks (src/pusher/sig.h) over what a
 * client controls.
 *
 * The input is newline-separated fields: method, path, raw query, body, app key, app
 * secret, socket id, channel, channel_data, auth, then a byte choosing "now". Checks:
 *   - the HTTP API check answers one of its codes for the request as sent, and a request
 *     signed with skt_sig_http_sign() plus the auth_* parameters a Pusher SDK adds is
 *     accepted (or refused for its body_md5 only, when the fuzzed query carries a wrong one);
 *   - channel and user auth accept exactly the string computed here (or by
 *     skt_sig_channel_auth_new), and nothing else;
 *   - skt_sig_equal is byte equality.
 */
#include "fuzz.h"

#include "net/http_parse.h"
#include "pusher/sig.h"

/* At most this many query parameters (the REST API bounds them much lower). */
#define FZ_PARAMS 64

/* The decoded parameters of query q (decoded copies in the caller's buf, qlen bytes). */
static size_t
parse_params(const char *q, size_t qlen, char *buf, skt_sig_param_t *params, size_t max)
{
    size_t pos = 0, n = 0, used = 0, klen, vlen;
    const char *k, *v;
    while (n < max && skt_http_query_next(q, qlen, &pos, &k, &klen, &v, &vlen)) {
        ssize_t kd = skt_http_urldecode(buf + used, k, klen);
        ssize_t vd = skt_http_urldecode(buf + used + klen, v, vlen);
        if (kd < 0 || vd < 0)
            continue;
        params[n++] = (skt_sig_param_t){buf + used, (size_t)kd, buf + used + klen, (size_t)vd};
        used += klen + vlen;
    }
    return n;
}

/* 1 when some parameter is called name. */
static int
has_param(const skt_sig_param_t *params, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (params[i].key_len == strlen(name) &&
            memcmp(params[i].key, name, params[i].key_len) == 0)
            return 1;
    return 0;
}

static void
add_param(skt_sig_param_t *params, size_t *n, const char *key, const char *val)
{
    params[(*n)++] = (skt_sig_param_t){key, strlen(key), val, strlen(val)};
}

static void
check_http(const char *method, const char *path, size_t path_len, const char *query,
           size_t query_len, const char *body, size_t body_len, const char *key, const char *secret,
           long long now)
{
    skt_sig_param_t params[FZ_PARAMS + 4];
    char *decoded = malloc(query_len + 1);
    FZ_CHECK(decoded != NULL);
    size_t n = parse_params(query, query_len, decoded, params, FZ_PARAMS);
    char ts[32], sig[65];

    int r =
        skt_sig_http_verify(key, secret, method, path, path_len, params, n, body, body_len, now);
    FZ_CHECK(r <= SKT_SIG_OK && r >= SKT_SIG_ELOWEST);
    if (r == SKT_SIG_OK)
        FZ_CHECK(has_param(params, n, "auth_signature"));

    /* Signed as an SDK signs it: the fuzzed parameters, then ours (later keys win). */
    snprintf(ts, sizeof(ts), "%lld", now);
    add_param(params, &n, "auth_key", key);
    add_param(params, &n, "auth_timestamp", ts);
    add_param(params, &n, "auth_version", "1.0");
    FZ_CHECK(skt_sig_http_sign(secret, method, path, path_len, params, n, body, body_len, sig) ==
             0);
    add_param(params, &n, "auth_signature", sig);
    r = skt_sig_http_verify(key, secret, method, path, path_len, params, n, body, body_len, now);
    FZ_CHECK(r == SKT_SIG_OK || (r == SKT_SIG_EBODY && has_param(params, n, "body_md5")));
    free(decoded);
}

/* "<key>:<hex hmac(secret, msg)>" */
static char *
expected_auth(const char *key, const char *secret, const char *msg, size_t msg_len)
{
    char hex[65];
    skt_sig_hmac_sha256_hex(secret, strlen(secret), msg, msg_len, hex);
    FZ_CHECK(strlen(hex) == 64);
    char *s = malloc(strlen(key) + 66);
    FZ_CHECK(s != NULL);
    sprintf(s, "%s:%s", key, hex);
    return s;
}

static void
check_auth(const char *key, const char *secret, const char *socket_id, const char *channel,
           const char *data, size_t data_len, const char *auth, size_t auth_len)
{
    /* Channel auth: private (no channel_data) and presence. */
    char *mine = skt_sig_channel_auth_new(key, secret, socket_id, channel, NULL, 0);
    FZ_CHECK(mine != NULL);
    FZ_CHECK(skt_sig_channel_auth_valid(key, secret, socket_id, channel, NULL, 0, mine,
                                        strlen(mine)) == 1);
    FZ_CHECK(skt_sig_channel_auth_valid(key, secret, socket_id, channel, NULL, 0, auth, auth_len) ==
             (auth_len == strlen(mine) && memcmp(auth, mine, auth_len) == 0));
    free(mine);
    mine = skt_sig_channel_auth_new(key, secret, socket_id, channel, data, data_len);
    FZ_CHECK(mine != NULL);
    FZ_CHECK(skt_sig_channel_auth_valid(key, secret, socket_id, channel, data, data_len, mine,
                                        strlen(mine)) == 1);
    FZ_CHECK(skt_sig_channel_auth_valid(key, secret, socket_id, channel, data, data_len, auth,
                                        auth_len) ==
             (auth_len == strlen(mine) && memcmp(auth, mine, auth_len) == 0));
    free(mine);

    /* User sign-in over "<socket_id>::user::<user_data>". */
    size_t sl = strlen(socket_id);
    char *msg = malloc(sl + 8 + data_len);
    FZ_CHECK(msg != NULL);
    memcpy(msg, socket_id, sl);
    memcpy(msg + sl, "::user::", 8);
    memcpy(msg + sl + 8, data, data_len);
    mine = expected_auth(key, secret, msg, sl + 8 + data_len);
    FZ_CHECK(skt_sig_user_auth_valid(key, secret, socket_id, data, data_len, mine, strlen(mine)) ==
             1);
    FZ_CHECK(skt_sig_user_auth_valid(key, secret, socket_id, data, data_len, auth, auth_len) ==
             (auth_len == strlen(mine) && memcmp(auth, mine, auth_len) == 0));
    free(mine);
    free(msg);

    FZ_CHECK(skt_sig_equal(auth, auth_len, data, data_len) ==
             (auth_len == data_len && memcmp(auth, data, data_len) == 0));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in_t in = {data, size};
    size_t path_len, query_len, body_len, cd_len, auth_len;
    char *method = fz_field_cstr(&in);
    const uint8_t *f = fz_field(&in, &path_len);
    char *path = fz_copy(f, path_len);
    f = fz_field(&in, &query_len);
    char *query = fz_copy(f, query_len);
    f = fz_field(&in, &body_len);
    char *body = fz_copy(f, body_len);
    char *key = fz_field_cstr(&in);
    char *secret = fz_field_cstr(&in);
    char *socket_id = fz_field_cstr(&in);
    char *channel = fz_field_cstr(&in);
    f = fz_field(&in, &cd_len);
    char *cdata = fz_copy(f, cd_len);
    f = fz_field(&in, &auth_len);
    char *auth = fz_copy(f, auth_len);
    /* Around the timestamps the seeds carry (2024), or anywhere. */
    unsigned t = fz_byte(&in);
    long long now = t < 128 ? 1700000000LL + (long long)t * 1000 : (long long)t << 40;

    check_http(method, path, path_len, query, query_len, body, body_len, key, secret, now);
    check_auth(key, secret, socket_id, channel, cdata, cd_len, auth, auth_len);

    free(method);
    free(path);
    free(query);
    free(body);
    free(key);
    free(secret);
    free(socket_id);
    free(channel);
    free(cdata);
    free(auth);
    return 0;
}
