/* check_sig.c - unit tests for src/pusher/sig.c: digests, auth strings, HTTP API signing.
 *
 * Every expected digest below was computed independently with the openssl command line,
 * e.g. printf 'POST\n/apps/3/events\nauth_key=...' | openssl dgst -sha256 -hmac SECRET,
 * and most are the published Pusher / RFC 4231 examples.
 */
#include "pusher/sig.h"

#include "check_main.h"
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY "278d425bdf160c739803"
#define SECRET "7ad3773142a6692b25b8"

/* Pusher docs, library auth reference: private channel example. */
#define PRIVATE_AUTH KEY ":58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4"
/* Pusher docs presence example. Its user is "Mr. Pusher": the brief's "Mr. Channels" with
 * afaed369... does not match (openssl gives 31935e7d... for that data), so both pairs are
 * checked here as openssl computes them. */
#define PRESENCE_DATA "{\"user_id\":10,\"user_info\":{\"name\":\"Mr. Pusher\"}}"
#define PRESENCE_AUTH KEY ":afaed3695da2ffd16931f457e338e6c9f2921fa133ce7dac49f529792be6304c"
#define PRESENCE_DATA2 "{\"user_id\":10,\"user_info\":{\"name\":\"Mr. Channels\"}}"
#define PRESENCE_AUTH2 KEY ":31935e7d86dba64c2a90aed31fdc61869f9b22ba9d8863bba239c03ca481bc80"
/* Pusher docs user authentication example: "1234.1234::user::{"id":"12345"}". */
#define USER_DATA "{\"id\":\"12345\"}"
#define USER_AUTH KEY ":4708d583dada6a56435fb8bc611c77c359a31eebde13337c16ab43aa6de336ba"

/* Pusher docs, HTTP API reference: POST /apps/3/events. */
#define REST_BODY                                                                                  \
    "{\"name\":\"foo\",\"channels\":[\"project-3\"],\"data\":\"{\\\"some\\\":\\\"data\\\"}\"}"
#define REST_MD5 "ec365a775a4cd0599faeb73354201b6f"
#define REST_TS 1353088179LL
#define REST_SIG "da454824c97ba181a32ccc17a72625ba02771f50b50e1e7430e47a1f3f457e6c"
/* GET /apps/3/channels?filter_by_prefix=presence-&info=user_count, same key and time. */
#define GET_SIG "16819168891cb5dfd72b5c7a5d3d602605b26c6ba1930033b5e2eeeb65010291"
/* POST /apps/3/events with an empty body and body_md5 = md5("") sent. */
#define EMPTY_MD5 "d41d8cd98f00b204e9800998ecf8427e"
#define EMPTY_BODY_SIG "e12067987485f0dd02c7410a4f79ff08da673dab71afc667c324ce9479890dbd"

#define P(k, v)                                                                                    \
    {                                                                                              \
        (k), sizeof(k) - 1, (v), sizeof(v) - 1                                                     \
    }

static int
channel_ok(const char *channel, const char *data, const char *auth)
{
    return skt_sig_channel_auth_valid(KEY, SECRET, "1234.1234", channel, data,
                                      data ? strlen(data) : 0, auth, strlen(auth));
}

/* The REST example's parameters, with the given timestamp and signature. */
static int
rest_verify(const char *ts, const char *sig, const char *body, long long now)
{
    skt_sig_param_t params[] = {
        P("auth_key", KEY),      {"auth_timestamp", 14, ts, strlen(ts)},   P("auth_version", "1.0"),
        P("body_md5", REST_MD5), {"auth_signature", 14, sig, strlen(sig)},
    };
    return skt_sig_http_verify(KEY, SECRET, "POST", "/apps/3/events", 14, params, 5, body,
                               strlen(body), now);
}

START_TEST(test_hmac_rfc4231)
{
    char out[65];
    skt_sig_hmac_sha256_hex("Jefe", 4, "what do ya want for nothing?", 28, out);
    ck_assert_str_eq(out, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");

    char key[131];
    memset(key, 0x0b, 20);
    skt_sig_hmac_sha256_hex(key, 20, "Hi There", 8, out);
    ck_assert_str_eq(out, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");

    /* Test case 6: a key longer than the block size is hashed first. */
    memset(key, 0xaa, sizeof key);
    const char *msg = "Test Using Larger Than Block-Size Key - Hash Key First";
    skt_sig_hmac_sha256_hex(key, sizeof key, msg, strlen(msg), out);
    ck_assert_str_eq(out, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}
END_TEST

START_TEST(test_hmac_empty)
{
    char out[65];
    skt_sig_hmac_sha256_hex(NULL, 0, NULL, 0, out);
    ck_assert_str_eq(out, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
    skt_sig_hmac_sha256_hex("", 0, "", 0, out);
    ck_assert_str_eq(out, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}
END_TEST

START_TEST(test_md5)
{
    char out[33];
    skt_sig_md5_hex("", 0, out);
    ck_assert_str_eq(out, EMPTY_MD5);
    skt_sig_md5_hex(NULL, 0, out);
    ck_assert_str_eq(out, EMPTY_MD5);
    skt_sig_md5_hex("abc", 3, out);
    ck_assert_str_eq(out, "900150983cd24fb0d6963f7d28e17f72");
    skt_sig_md5_hex(REST_BODY, strlen(REST_BODY), out);
    ck_assert_str_eq(out, REST_MD5);
}
END_TEST

START_TEST(test_equal)
{
    ck_assert_int_eq(skt_sig_equal("abc", 3, "abc", 3), 1);
    ck_assert_int_eq(skt_sig_equal("abc", 3, "abd", 3), 0);
    ck_assert_int_eq(skt_sig_equal("xbc", 3, "abc", 3), 0);
    /* A prefix is not equal, in either order. */
    ck_assert_int_eq(skt_sig_equal("abc", 3, "abcd", 4), 0);
    ck_assert_int_eq(skt_sig_equal("abcd", 4, "abc", 3), 0);
    ck_assert_int_eq(skt_sig_equal("abc", 3, "", 0), 0);
    ck_assert_int_eq(skt_sig_equal("", 0, "", 0), 1);
    ck_assert_int_eq(skt_sig_equal(NULL, 0, NULL, 0), 1);
    ck_assert_int_eq(skt_sig_equal(NULL, 0, "a", 1), 0);
    /* Only the given lengths count, not NUL terminators. */
    ck_assert_int_eq(skt_sig_equal("abcX", 3, "abcY", 3), 1);
    ck_assert_int_eq(skt_sig_equal("a\0b", 3, "a\0c", 3), 0);
}
END_TEST

START_TEST(test_channel_private)
{
    ck_assert_int_eq(channel_ok("private-foobar", NULL, PRIVATE_AUTH), 1);
    char *auth = skt_sig_channel_auth_new(KEY, SECRET, "1234.1234", "private-foobar", NULL, 0);
    ck_assert_ptr_nonnull(auth);
    ck_assert_str_eq(auth, PRIVATE_AUTH);
    free(auth);

    /* Another channel, socket, key or secret. */
    ck_assert_int_eq(channel_ok("private-foobaz", NULL, PRIVATE_AUTH), 0);
    ck_assert_int_eq(skt_sig_channel_auth_valid(KEY, SECRET, "1234.1235", "private-foobar", NULL, 0,
                                                PRIVATE_AUTH, strlen(PRIVATE_AUTH)),
                     0);
    ck_assert_int_eq(skt_sig_channel_auth_valid("278d425bdf160c739804", SECRET, "1234.1234",
                                                "private-foobar", NULL, 0, PRIVATE_AUTH,
                                                strlen(PRIVATE_AUTH)),
                     0);
    ck_assert_int_eq(skt_sig_channel_auth_valid(KEY, "7ad3773142a6692b25b9", "1234.1234",
                                                "private-foobar", NULL, 0, PRIVATE_AUTH,
                                                strlen(PRIVATE_AUTH)),
                     0);
    /* A private signature does not open the channel with channel_data appended. */
    ck_assert_int_eq(channel_ok("private-foobar", "", PRIVATE_AUTH), 0);
}
END_TEST

START_TEST(test_channel_malformed_auth)
{
    char buf[256];
    /* Upper-case hex: soketi compares strings, so it is refused. */
    snprintf(buf, sizeof buf, "%s:58DF8B0C36D6982B82C3ECF6B4662E34FE8C25BBA48F5369F135BF843651C3A4",
             KEY);
    ck_assert_int_eq(channel_ok("private-foobar", NULL, buf), 0);
    /* Separator other than ':' */
    strcpy(buf, PRIVATE_AUTH);
    buf[strlen(KEY)] = ';';
    ck_assert_int_eq(channel_ok("private-foobar", NULL, buf), 0);
    /* One hex digit off, truncated, extended. */
    strcpy(buf, PRIVATE_AUTH);
    buf[strlen(buf) - 1] = '5';
    ck_assert_int_eq(channel_ok("private-foobar", NULL, buf), 0);
    strcpy(buf, PRIVATE_AUTH);
    buf[strlen(buf) - 1] = '\0';
    ck_assert_int_eq(channel_ok("private-foobar", NULL, buf), 0);
    snprintf(buf, sizeof buf, "%s0", PRIVATE_AUTH);
    ck_assert_int_eq(channel_ok("private-foobar", NULL, buf), 0);
    /* Signature alone, key alone, nothing. */
    ck_assert_int_eq(channel_ok("private-foobar", NULL, &PRIVATE_AUTH[sizeof KEY]), 0);
    ck_assert_int_eq(channel_ok("private-foobar", NULL, KEY ":"), 0);
    ck_assert_int_eq(channel_ok("private-foobar", NULL, ""), 0);
    ck_assert_int_eq(
        skt_sig_channel_auth_valid(KEY, SECRET, "1234.1234", "private-foobar", NULL, 0, NULL, 0),
        0);
    /* auth is a slice: trailing bytes past auth_len do not matter. */
    snprintf(buf, sizeof buf, "%sGARBAGE", PRIVATE_AUTH);
    ck_assert_int_eq(skt_sig_channel_auth_valid(KEY, SECRET, "1234.1234", "private-foobar", NULL, 0,
                                                buf, strlen(PRIVATE_AUTH)),
                     1);
}
END_TEST

START_TEST(test_channel_presence)
{
    ck_assert_int_eq(channel_ok("presence-foobar", PRESENCE_DATA, PRESENCE_AUTH), 1);
    ck_assert_int_eq(channel_ok("presence-foobar", PRESENCE_DATA2, PRESENCE_AUTH2), 1);
    ck_assert_int_eq(channel_ok("presence-foobar", PRESENCE_DATA2, PRESENCE_AUTH), 0);
    /* Without channel_data the presence signature is not valid. */
    ck_assert_int_eq(channel_ok("presence-foobar", NULL, PRESENCE_AUTH), 0);
    /* channel_data is a slice: no NUL needed, nothing read past its length. */
    size_t n = strlen(PRESENCE_DATA);
    char *data = malloc(n);
    ck_assert_ptr_nonnull(data);
    memcpy(data, PRESENCE_DATA, n);
    ck_assert_int_eq(skt_sig_channel_auth_valid(KEY, SECRET, "1234.1234", "presence-foobar", data,
                                                n, PRESENCE_AUTH, strlen(PRESENCE_AUTH)),
                     1);
    ck_assert_int_eq(skt_sig_channel_auth_valid(KEY, SECRET, "1234.1234", "presence-foobar", data,
                                                n - 1, PRESENCE_AUTH, strlen(PRESENCE_AUTH)),
                     0);
    free(data);
    char *auth = skt_sig_channel_auth_new(KEY, SECRET, "1234.1234", "presence-foobar",
                                          PRESENCE_DATA, strlen(PRESENCE_DATA));
    ck_assert_ptr_nonnull(auth);
    ck_assert_str_eq(auth, PRESENCE_AUTH);
    free(auth);
}
END_TEST

START_TEST(test_user_auth)
{
    ck_assert_int_eq(skt_sig_user_auth_valid(KEY, SECRET, "1234.1234", USER_DATA, strlen(USER_DATA),
                                             USER_AUTH, strlen(USER_AUTH)),
                     1);
    ck_assert_int_eq(skt_sig_user_auth_valid(KEY, SECRET, "1234.1234", "{\"id\":\"12346\"}",
                                             strlen(USER_DATA), USER_AUTH, strlen(USER_AUTH)),
                     0);
    ck_assert_int_eq(skt_sig_user_auth_valid(KEY, SECRET, "1234.1235", USER_DATA, strlen(USER_DATA),
                                             USER_AUTH, strlen(USER_AUTH)),
                     0);
    /* A channel signature is no sign-in signature. */
    ck_assert_int_eq(skt_sig_user_auth_valid(KEY, SECRET, "1234.1234", USER_DATA, strlen(USER_DATA),
                                             PRIVATE_AUTH, strlen(PRIVATE_AUTH)),
                     0);
    ck_assert_int_eq(
        skt_sig_user_auth_valid(KEY, SECRET, "1234.1234", USER_DATA, strlen(USER_DATA), "", 0), 0);
}
END_TEST

START_TEST(test_http_rest_vector)
{
    ck_assert_int_eq(rest_verify("1353088179", REST_SIG, REST_BODY, REST_TS), SKT_SIG_OK);

    skt_sig_param_t params[] = {
        P("auth_key", KEY),
        P("auth_timestamp", "1353088179"),
        P("auth_version", "1.0"),
        P("body_md5", REST_MD5),
    };
    char out[65];
    ck_assert_int_eq(skt_sig_http_sign(SECRET, "POST", "/apps/3/events", 14, params, 4, REST_BODY,
                                       strlen(REST_BODY), out),
                     SKT_SIG_OK);
    ck_assert_str_eq(out, REST_SIG);
    /* The method is upper-cased before signing. */
    ck_assert_int_eq(skt_sig_http_sign(SECRET, "post", "/apps/3/events", 14, params, 4, REST_BODY,
                                       strlen(REST_BODY), out),
                     SKT_SIG_OK);
    ck_assert_str_eq(out, REST_SIG);
}
END_TEST

/* From the head alone: the body_md5 sent stands for the body's. */
START_TEST(test_http_head)
{
    skt_sig_param_t params[] = {
        P("auth_key", KEY),      P("auth_timestamp", "1353088179"), P("auth_version", "1.0"),
        P("body_md5", REST_MD5), P("auth_signature", REST_SIG),
    };
    ck_assert_int_eq(
        skt_sig_http_verify_head(KEY, SECRET, "POST", "/apps/3/events", 14, params, 5, REST_TS),
        SKT_SIG_OK);
    /* a forged signature, a wrong key, a stale timestamp: refused before any body */
    params[4] = (skt_sig_param_t)P("auth_signature", "00");
    ck_assert_int_eq(
        skt_sig_http_verify_head(KEY, SECRET, "POST", "/apps/3/events", 14, params, 5, REST_TS),
        SKT_SIG_EBAD);
    ck_assert_int_eq(skt_sig_http_verify_head(KEY, SECRET, "POST", "/apps/3/events", 14, params, 5,
                                              REST_TS + 100000),
                     SKT_SIG_ETIME);
    params[0] = (skt_sig_param_t)P("auth_key", "nope");
    ck_assert_int_eq(
        skt_sig_http_verify_head(KEY, SECRET, "POST", "/apps/3/events", 14, params, 5, REST_TS),
        SKT_SIG_EKEY);
    /* without body_md5 the signature waits for the body */
    params[0] = (skt_sig_param_t)P("auth_key", KEY);
    ck_assert_int_eq(
        skt_sig_http_verify_head(KEY, SECRET, "POST", "/apps/3/events", 14, params, 3, REST_TS),
        SKT_SIG_EMISSING);
    skt_sig_param_t no_md5[] = {P("auth_key", KEY), P("auth_timestamp", "1353088179"),
                                P("auth_version", "1.0"), P("auth_signature", "00")};
    ck_assert_int_eq(
        skt_sig_http_verify_head(KEY, SECRET, "POST", "/apps/3/events", 14, no_md5, 4, REST_TS),
        SKT_SIG_OK);
}
END_TEST

START_TEST(test_http_wrong_signature)
{
    char sig[65];
    strcpy(sig, REST_SIG);
    sig[0] = 'e';
    ck_assert_int_eq(rest_verify("1353088179", sig, REST_BODY, REST_TS), SKT_SIG_EBAD);
    ck_assert_int_eq(rest_verify("1353088179", "", REST_BODY, REST_TS), SKT_SIG_EBAD);
    ck_assert_int_eq(rest_verify("1353088179", REST_SIG "0", REST_BODY, REST_TS), SKT_SIG_EBAD);
    /* Upper-case hex is refused like any other string. */
    ck_assert_int_eq(rest_verify("1353088179",
                                 "DA454824C97BA181A32CCC17A72625BA02771F50B50E1E7430E47A1F3F457E6C",
                                 REST_BODY, REST_TS),
                     SKT_SIG_EBAD);
    /* Another path or method than was signed. */
    skt_sig_param_t params[] = {
        P("auth_key", KEY),      P("auth_timestamp", "1353088179"), P("auth_version", "1.0"),
        P("body_md5", REST_MD5), P("auth_signature", REST_SIG),
    };
    ck_assert_int_eq(skt_sig_http_verify(KEY, SECRET, "POST", "/apps/4/events", 14, params, 5,
                                         REST_BODY, strlen(REST_BODY), REST_TS),
                     SKT_SIG_EBAD);
    ck_assert_int_eq(skt_sig_http_verify(KEY, SECRET, "PUT", "/apps/3/events", 14, params, 5,
                                         REST_BODY, strlen(REST_BODY), REST_TS),
                     SKT_SIG_EBAD);
    /* Another secret. */
    ck_assert_int_eq(skt_sig_http_verify(KEY, "7ad3773142a6692b25b9", "POST", "/apps/3/events", 14,
                                         params, 5, REST_BODY, strlen(REST_BODY), REST_TS),
                     SKT_SIG_EBAD);
    /* An extra parameter the client did not sign. */
    skt_sig_param_t extra[] = {
        P("auth_key", KEY),      P("auth_timestamp", "1353088179"), P("auth_version", "1.0"),
        P("body_md5", REST_MD5), P("auth_signature", REST_SIG),     P("x", "1"),
    };
    ck_assert_int_eq(skt_sig_http_verify(KEY, SECRET, "POST", "/apps/3/events", 14, extra, 6,
                                         REST_BODY, strlen(REST_BODY), REST_TS),
                     SKT_SIG_EBAD);
}
END_TEST

START_TEST(test_http_wrong_key)
{
    skt_sig_param_t params[] = {
        P("auth_key", "278d425bdf160c739804"),
        P("auth_timestamp", "1353088179"),
        P("auth_version", "1.0"),
        P("body_md5", REST_MD5),
        P("auth_signature", REST_SIG),
    };
    ck_assert_int_eq(skt_sig_http_verify(KEY, SECRET, "POST", "/apps/3/events", 14, params, 5,
                                         REST_BODY, strlen(REST_BODY), REST_TS),
                     SKT_SIG_EKEY);
    params[0] = (skt_sig_param_t)P("auth_key", "");
    ck_assert_int_eq(skt_sig_http_verify(KEY, SECRET, "POST", "/apps/3/events", 14, params, 5,
                                         REST_BODY, strlen(REST_BODY), REST_TS),
                     SKT_SIG_EKEY);
    params[0] = (skt_sig_param_t)P("auth_key", KEY "0");
    ck_assert_int_eq(skt_sig_http_verify(KEY, SECRET, "POST", "/apps/3/events", 14, params, 5,
                                         REST_BODY, strlen(REST_BODY), REST_TS),
                     SKT_SIG_EKEY);
}
END_TEST

/* Pusher defines auth_version 1.0 only: anything else is refused before the signature. */
START_TEST(test_http_version)
{
    skt_sig_param_t params[] = {
        P("auth_key", KEY),      P("auth_timestamp", "1353088179"), P("auth_version", "2.0"),
        P("body_md5", REST_MD5), P("auth_signature", REST_SIG),
    };
    const char *bad[] = {"2.0", "1.00", "1", "", "1.0 "};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        params[2] = (skt_sig_param_t){"auth_version", 12, bad[i], strlen(bad[i])};
        ck_assert_int_eq(skt_sig_http_verify(KEY, SECRET, "POST", "/apps/3/events", 14, params, 5,
                                             REST_BODY, strlen(REST_BODY), REST_TS),
                         SKT_SIG_EVERSION);
    }
}
END_TEST

START_TEST(test_http_missing)
{
    const skt_sig_param_t all[] = {
        P("auth_key", KEY),      P("auth_timestamp", "1353088179"), P("auth_version", "1.0"),
        P("body_md5", REST_MD5), P("auth_signature", REST_SIG),
    };
    /* Leave out each of auth_key, auth_timestamp, auth_version, auth_signature in turn. */
    const size_t required[] = {0, 1, 2, 4};
    for (size_t r = 0; r < 4; r++) {
        skt_sig_param_t params[5];
        size_t n = 0;
        for (size_t i = 0; i < 5; i++) {
            if (i != required[r]) {
                params[n++] = all[i];
            }
        }
        ck_assert_int_eq(skt_sig_http_verify(KEY, SECRET, "POST", "/apps/3/events", 14, params, n,
                                             REST_BODY, strlen(REST_BODY), REST_TS),
                         SKT_SIG_EMISSING);
    }
    ck_assert_int_eq(
        skt_sig_http_verify(KEY, SECRET, "GET", "/apps/3/channels", 16, NULL, 0, NULL, 0, REST_TS),
        SKT_SIG_EMISSING);
    /* Key names are case-sensitive. */
    skt_sig_param_t upper[5];
    memcpy(upper, all, sizeof upper);
    upper[0] = (skt_sig_param_t)P("AUTH_KEY", KEY);
    ck_assert_int_eq(skt_sig_http_verify(KEY, SECRET, "POST", "/apps/3/events", 14, upper, 5,
                                         REST_BODY, strlen(REST_BODY), REST_TS),
                     SKT_SIG_EMISSING);
}
END_TEST

START_TEST(test_http_timestamp_window)
{
    /* |now - auth_timestamp| may be 600 s, not 601, in either direction. */
    ck_assert_int_eq(rest_verify("1353088179", REST_SIG, REST_BODY, REST_TS + 600), SKT_SIG_OK);
    ck_assert_int_eq(rest_verify("1353088179", REST_SIG, REST_BODY, REST_TS - 600), SKT_SIG_OK);
    ck_assert_int_eq(rest_verify("1353088179", REST_SIG, REST_BODY, REST_TS + 601), SKT_SIG_ETIME);
    ck_assert_int_eq(rest_verify("1353088179", REST_SIG, REST_BODY, REST_TS - 601), SKT_SIG_ETIME);
    ck_assert_int_eq(rest_verify("1353088179", REST_SIG, REST_BODY, 0), SKT_SIG_ETIME);
    ck_assert_int_eq(rest_verify("1353088179", REST_SIG, REST_BODY, -9223372036854775807LL - 1),
                     SKT_SIG_ETIME);
    ck_assert_int_eq(rest_verify("1353088179", REST_SIG, REST_BODY, 9223372036854775807LL),
                     SKT_SIG_ETIME);
}
END_TEST

START_TEST(test_http_timestamp_configured_window)
{
    /* httpApi.authTimestampWindow replaces the 600 s default. */
    skt_sig_set_http_window(10);
    ck_assert_int_eq(rest_verify("1353088179", REST_SIG, REST_BODY, REST_TS + 10), SKT_SIG_OK);
    ck_assert_int_eq(rest_verify("1353088179", REST_SIG, REST_BODY, REST_TS + 11), SKT_SIG_ETIME);
    ck_assert_int_eq(rest_verify("1353088179", REST_SIG, REST_BODY, REST_TS - 11), SKT_SIG_ETIME);
    skt_sig_set_http_window(SKT_SIG_HTTP_MAX_SKEW);
    ck_assert_int_eq(rest_verify("1353088179", REST_SIG, REST_BODY, REST_TS + 11), SKT_SIG_OK);
}
END_TEST

START_TEST(test_http_timestamp_not_integer)
{
    const char *bad[] = {"",
                         "abc",
                         "1353088179.5",
                         "-1353088179",
                         "+1353088179",
                         " 1353088179",
                         "1353088179 ",
                         "0x50A6B2B3",
                         "99999999999999999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(rest_verify(bad[i], REST_SIG, REST_BODY, REST_TS), SKT_SIG_ETIME);
    }
    /* Leading zeros are still the same integer (the signature then covers them too, so
     * only the time check passes). */
    ck_assert_int_eq(rest_verify("01353088179", REST_SIG, REST_BODY, REST_TS), SKT_SIG_EBAD);
}
END_TEST

START_TEST(test_http_body_tampering)
{
    char body[] = REST_BODY;
    body[10] = 'x'; /* "foo" -> "xoo" after the body was signed */
    ck_assert_int_eq(rest_verify("1353088179", REST_SIG, body, REST_TS), SKT_SIG_EBODY);
    /* Body and body_md5 both replaced: the md5 matches, the signature does not. */
    char md5[33];
    skt_sig_md5_hex(body, strlen(body), md5);
    skt_sig_param_t params[] = {
        P("auth_key", KEY),       P("auth_timestamp", "1353088179"), P("auth_version", "1.0"),
        {"body_md5", 8, md5, 32}, P("auth_signature", REST_SIG),
    };
    ck_assert_int_eq(skt_sig_http_verify(KEY, SECRET, "POST", "/apps/3/events", 14, params, 5, body,
                                         strlen(body), REST_TS),
                     SKT_SIG_EBAD);
    /* A body without body_md5 is signed with md5(body) anyway (soketi): a client that
     * signed without it fails, one that signed with it (the SDKs) passes. */
    skt_sig_param_t no_md5[] = {
        P("auth_key", KEY),
        P("auth_timestamp", "1353088179"),
        P("auth_version", "1.0"),
        P("auth_signature", REST_SIG),
    };
    ck_assert_int_eq(skt_sig_http_verify(KEY, SECRET, "POST", "/apps/3/events", 14, no_md5, 4,
                                         REST_BODY, strlen(REST_BODY), REST_TS),
                     SKT_SIG_OK);
    /* body_md5 given empty with a non-empty body does not match it. */
    skt_sig_param_t empty_md5[] = {
        P("auth_key", KEY), P("auth_timestamp", "1353088179"), P("auth_version", "1.0"),
        P("body_md5", ""),  P("auth_signature", REST_SIG),
    };
    ck_assert_int_eq(skt_sig_http_verify(KEY, SECRET, "POST", "/apps/3/events", 14, empty_md5, 5,
                                         REST_BODY, strlen(REST_BODY), REST_TS),
                     SKT_SIG_EBODY);
    /* The body is a slice: bytes past body_len are not part of it. */
    char longer[sizeof REST_BODY + 8];
    snprintf(longer, sizeof longer, "%sTRAILER", REST_BODY);
    skt_sig_param_t ok[] = {
        P("auth_key", KEY),      P("auth_timestamp", "1353088179"), P("auth_version", "1.0"),
        P("body_md5", REST_MD5), P("auth_signature", REST_SIG),
    };
    ck_assert_int_eq(skt_sig_http_verify(KEY, SECRET, "POST", "/apps/3/events", 14, ok, 5, longer,
                                         strlen(REST_BODY), REST_TS),
                     SKT_SIG_OK);
    ck_assert_int_eq(skt_sig_http_verify(KEY, SECRET, "POST", "/apps/3/events", 14, ok, 5, longer,
                                         strlen(longer), REST_TS),
                     SKT_SIG_EBODY);
}
END_TEST

START_TEST(test_http_param_order)
{
    const skt_sig_param_t base[] = {
        P("auth_key", KEY),      P("auth_timestamp", "1353088179"), P("auth_version", "1.0"),
        P("body_md5", REST_MD5), P("auth_signature", REST_SIG),
    };
    /* Every one of the 120 orders verifies. */
    size_t idx[5] = {0, 1, 2, 3, 4};
    size_t count = 0;
    for (;;) {
        skt_sig_param_t params[5];
        for (size_t i = 0; i < 5; i++) {
            params[i] = base[idx[i]];
        }
        ck_assert_int_eq(skt_sig_http_verify(KEY, SECRET, "POST", "/apps/3/events", 14, params, 5,
                                             REST_BODY, strlen(REST_BODY), REST_TS),
                         SKT_SIG_OK);
        count++;
        /* next permutation */
        size_t i = 4;
        while (i > 0 && idx[i - 1] > idx[i]) {
            i--;
        }
        if (i == 0) {
            break;
        }
        size_t j = 4;
        while (idx[j] < idx[i - 1]) {
            j--;
        }
        size_t t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
        for (size_t a = i, b = 4; a < b; a++, b--) {
            t = idx[a];
            idx[a] = idx[b];
            idx[b] = t;
        }
    }
    ck_assert_uint_eq(count, 120);
}
END_TEST

START_TEST(test_http_get_without_body)
{
    skt_sig_param_t params[] = {
        P("info", "user_count"),  P("auth_signature", GET_SIG),
        P("auth_version", "1.0"), P("filter_by_prefix", "presence-"),
        P("auth_key", KEY),       P("auth_timestamp", "1353088179"),
    };
    ck_assert_int_eq(skt_sig_http_verify(KEY, SECRET, "GET", "/apps/3/channels", 16, params, 6,
                                         NULL, 0, REST_TS),
                     SKT_SIG_OK);
    ck_assert_int_eq(
        skt_sig_http_verify(KEY, SECRET, "get", "/apps/3/channels", 16, params, 6, "", 0, REST_TS),
        SKT_SIG_OK);
    /* A filter value changed after signing. */
    params[3] = (skt_sig_param_t)P("filter_by_prefix", "private-");
    ck_assert_int_eq(skt_sig_http_verify(KEY, SECRET, "GET", "/apps/3/channels", 16, params, 6,
                                         NULL, 0, REST_TS),
                     SKT_SIG_EBAD);
}
END_TEST

START_TEST(test_http_empty_body_md5)
{
    /* body_md5 sent with an empty body: soketi signs body_md5 = md5(""). */
    skt_sig_param_t params[] = {
        P("auth_key", KEY),       P("auth_timestamp", "1353088179"),   P("auth_version", "1.0"),
        P("body_md5", EMPTY_MD5), P("auth_signature", EMPTY_BODY_SIG),
    };
    ck_assert_int_eq(
        skt_sig_http_verify(KEY, SECRET, "POST", "/apps/3/events", 14, params, 5, "", 0, REST_TS),
        SKT_SIG_OK);
    ck_assert_int_eq(
        skt_sig_http_verify(KEY, SECRET, "POST", "/apps/3/events", 14, params, 5, NULL, 0, REST_TS),
        SKT_SIG_OK);
    /* A body_md5 that is not md5("") for an empty body. */
    params[3] = (skt_sig_param_t)P("body_md5", REST_MD5);
    ck_assert_int_eq(
        skt_sig_http_verify(KEY, SECRET, "POST", "/apps/3/events", 14, params, 5, NULL, 0, REST_TS),
        SKT_SIG_EBODY);
    /* An empty body_md5 with an empty body is falsy in soketi: left out of the signature. */
    char canon[256], sig[65];
    snprintf(canon, sizeof canon,
             "POST\n/apps/3/events\nauth_key=%s&auth_timestamp=1353088179&auth_version=1.0", KEY);
    skt_sig_hmac_sha256_hex(SECRET, strlen(SECRET), canon, strlen(canon), sig);
    skt_sig_param_t blank[] = {
        P("auth_key", KEY), P("auth_timestamp", "1353088179"), P("auth_version", "1.0"),
        P("body_md5", ""),  {"auth_signature", 14, sig, 64},
    };
    ck_assert_int_eq(
        skt_sig_http_verify(KEY, SECRET, "POST", "/apps/3/events", 14, blank, 5, NULL, 0, REST_TS),
        SKT_SIG_OK);
}
END_TEST

/* Signs canon with the test secret and checks params verify against it. */
static int
verify_against(const char *canon, const char *method, const char *path, skt_sig_param_t *params,
               size_t n, size_t sig_index)
{
    char sig[65];
    skt_sig_hmac_sha256_hex(SECRET, strlen(SECRET), canon, strlen(canon), sig);
    params[sig_index] = (skt_sig_param_t){"auth_signature", 14, sig, 64};
    return skt_sig_http_verify(KEY, SECRET, method, path, strlen(path), params, n, NULL, 0,
                               REST_TS);
}

START_TEST(test_http_duplicates_last_wins)
{
    skt_sig_param_t params[] = {
        P("info", "first"),       P("auth_key", KEY),  P("auth_timestamp", "1353088179"),
        P("auth_version", "1.0"), P("info", "second"), P("auth_signature", "placeholder"),
        P("info", "last"),
    };
    const char *canon = "GET\n/apps/3/channels\nauth_key=" KEY
                        "&auth_timestamp=1353088179&auth_version=1.0&info=last";
    ck_assert_int_eq(verify_against(canon, "GET", "/apps/3/channels", params, 7, 5), SKT_SIG_OK);
    const char *first = "GET\n/apps/3/channels\nauth_key=" KEY
                        "&auth_timestamp=1353088179&auth_version=1.0&info=first";
    ck_assert_int_eq(verify_against(first, "GET", "/apps/3/channels", params, 7, 5), SKT_SIG_EBAD);
    /* The last auth_signature and auth_timestamp are the ones checked. */
    skt_sig_param_t dup[] = {
        P("auth_signature", REST_SIG),     P("auth_timestamp", "1"), P("auth_key", KEY),
        P("auth_timestamp", "1353088179"), P("auth_version", "1.0"), P("body_md5", REST_MD5),
        P("auth_signature", "nope"),
    };
    ck_assert_int_eq(skt_sig_http_verify(KEY, SECRET, "POST", "/apps/3/events", 14, dup, 7,
                                         REST_BODY, strlen(REST_BODY), REST_TS),
                     SKT_SIG_EBAD);
    dup[6] = (skt_sig_param_t)P("auth_signature", REST_SIG);
    dup[0] = (skt_sig_param_t)P("auth_signature", "nope");
    ck_assert_int_eq(skt_sig_http_verify(KEY, SECRET, "POST", "/apps/3/events", 14, dup, 7,
                                         REST_BODY, strlen(REST_BODY), REST_TS),
                     SKT_SIG_OK);
}
END_TEST

START_TEST(test_http_route_params_dropped)
{
    skt_sig_param_t params[] = {
        P("appId", "3"),         P("auth_key", KEY),
        P("appKey", KEY),        P("auth_timestamp", "1353088179"),
        P("channelName", "x"),   P("auth_version", "1.0"),
        P("auth_signature", ""), P("appid", "kept"),
    };
    /* appId/appKey/channelName are dropped; "appid" differs in case and is signed. */
    const char *canon = "GET\n/apps/3/channels/x\nappid=kept&auth_key=" KEY
                        "&auth_timestamp=1353088179&auth_version=1.0";
    ck_assert_int_eq(verify_against(canon, "GET", "/apps/3/channels/x", params, 8, 6), SKT_SIG_OK);
}
END_TEST

START_TEST(test_http_byte_order_and_decoded_values)
{
    /* Sorted by bytes: upper case before '_' before lower case, a prefix first, UTF-8 last.
     * Values are used exactly as given (already decoded: '&', '=', ' ' stay raw). */
    skt_sig_param_t params[] = {
        P("\xc3\xa9t\xc3\xa9", "summer"),
        P("auth_version", "1.0"),
        P("a", "x&y=z"),
        P("Zed", "1"),
        P("_u", "a b"),
        P("ab", ""),
        P("auth_key", KEY),
        P("auth_signature", ""),
        P("auth_timestamp", "1353088179"),
    };
    const char *canon = "GET\n/apps/3/channels\nZed=1&_u=a b&a=x&y=z&ab=&auth_key=" KEY
                        "&auth_timestamp=1353088179&auth_version=1.0&\xc3\xa9t\xc3\xa9=summer";
    ck_assert_int_eq(verify_against(canon, "GET", "/apps/3/channels", params, 9, 7), SKT_SIG_OK);
}
END_TEST

START_TEST(test_http_unterminated_slices)
{
    /* All parameters point into one query buffer with no NUL between them. */
    static const char query[] = "auth_timestamp=1353088179auth_key=" KEY "auth_version=1.0"
                                "body_md5=" REST_MD5 "auth_signature=" REST_SIG;
    size_t len = sizeof query - 1;
    char *q = malloc(len); /* exactly len bytes: ASan catches any read past them */
    ck_assert_ptr_nonnull(q);
    memcpy(q, query, len);
    skt_sig_param_t params[5];
    const char *names[] = {"auth_timestamp", "auth_key", "auth_version", "body_md5",
                           "auth_signature"};
    const size_t vlens[] = {10, 20, 3, 32, 64};
    size_t off = 0;
    for (size_t i = 0; i < 5; i++) {
        size_t klen = strlen(names[i]);
        params[i].key = q + off;
        params[i].key_len = klen;
        params[i].val = q + off + klen + 1;
        params[i].val_len = vlens[i];
        off += klen + 1 + vlens[i];
    }
    ck_assert_uint_eq(off, len);
    char *body = malloc(strlen(REST_BODY));
    ck_assert_ptr_nonnull(body);
    memcpy(body, REST_BODY, strlen(REST_BODY));
    char *path = malloc(14);
    ck_assert_ptr_nonnull(path);
    memcpy(path, "/apps/3/events", 14);
    ck_assert_int_eq(skt_sig_http_verify(KEY, SECRET, "POST", path, 14, params, 5, body,
                                         strlen(REST_BODY), REST_TS),
                     SKT_SIG_OK);
    free(path);
    free(body);
    free(q);
}
END_TEST

START_TEST(test_http_many_long_params)
{
    /* 2000 parameters with 1 KiB values: sizes are computed, nothing fixed overflows. */
    enum { N = 2000, VLEN = 1024 };
    skt_sig_param_t *params = calloc(N + 4, sizeof *params);
    char *keys = malloc(N * 8);
    char *vals = malloc((size_t)N * VLEN);
    ck_assert_ptr_nonnull(params);
    ck_assert_ptr_nonnull(keys);
    ck_assert_ptr_nonnull(vals);
    memset(vals, 'v', (size_t)N * VLEN);
    for (size_t i = 0; i < N; i++) {
        /* Keys k0000..k1999 given in reverse order. */
        snprintf(keys + 8 * i, 8, "k%04zu", N - 1 - i);
        params[i] = (skt_sig_param_t){keys + 8 * i, 5, vals + i * VLEN, VLEN};
    }
    params[N] = (skt_sig_param_t)P("auth_key", KEY);
    params[N + 1] = (skt_sig_param_t)P("auth_timestamp", "1353088179");
    params[N + 2] = (skt_sig_param_t)P("auth_version", "1.0");

    size_t cap = 64 + (size_t)N * (5 + 2 + VLEN) + 128;
    char *canon = malloc(cap);
    ck_assert_ptr_nonnull(canon);
    size_t o = (size_t)snprintf(canon, cap,
                                "GET\n/apps/3/channels\nauth_key=" KEY
                                "&auth_timestamp=1353088179&auth_version=1.0");
    for (size_t i = 0; i < N; i++) {
        o += (size_t)snprintf(canon + o, cap - o, "&k%04zu=", i);
        memset(canon + o, 'v', VLEN);
        o += VLEN;
    }
    canon[o] = '\0';
    ck_assert_int_eq(verify_against(canon, "GET", "/apps/3/channels", params, N + 4, N + 3),
                     SKT_SIG_OK);
    free(canon);
    free(vals);
    free(keys);
    free(params);
}
END_TEST

static Suite *
sig_suite(void)
{
    Suite *s = suite_create("sig");
    TCase *digest = tcase_create("digest");
    tcase_add_test(digest, test_hmac_rfc4231);
    tcase_add_test(digest, test_hmac_empty);
    tcase_add_test(digest, test_md5);
    tcase_add_test(digest, test_equal);
    suite_add_tcase(s, digest);

    TCase *ws = tcase_create("ws_auth");
    tcase_add_test(ws, test_channel_private);
    tcase_add_test(ws, test_channel_malformed_auth);
    tcase_add_test(ws, test_channel_presence);
    tcase_add_test(ws, test_user_auth);
    suite_add_tcase(s, ws);

    TCase *http = tcase_create("http");
    tcase_add_test(http, test_http_rest_vector);
    tcase_add_test(http, test_http_head);
    tcase_add_test(http, test_http_wrong_signature);
    tcase_add_test(http, test_http_wrong_key);
    tcase_add_test(http, test_http_missing);
    tcase_add_test(http, test_http_version);
    tcase_add_test(http, test_http_timestamp_window);
    tcase_add_test(http, test_http_timestamp_configured_window);
    tcase_add_test(http, test_http_timestamp_not_integer);
    tcase_add_test(http, test_http_body_tampering);
    tcase_add_test(http, test_http_param_order);
    tcase_add_test(http, test_http_get_without_body);
    tcase_add_test(http, test_http_empty_body_md5);
    tcase_add_test(http, test_http_duplicates_last_wins);
    tcase_add_test(http, test_http_route_params_dropped);
    tcase_add_test(http, test_http_byte_order_and_decoded_values);
    tcase_add_test(http, test_http_unterminated_slices);
    tcase_add_test(http, test_http_many_long_params);
    suite_add_tcase(s, http);
    return s;
}

SKT_CHECK_MAIN(sig_suite)
