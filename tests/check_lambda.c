/* check_lambda.c - unit tests for lambda_function webhooks: SigV4 against vectors that
 * aws-sdk v2 (soketi 1.6's signer) produced, the Invoke URL and credentials resolved from a
 * webhook as aws-sdk reads its options, and soketi's Payload.
 */
#include "check_main.h"
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "features/lambda.h"
#include "features/sigv4.h"

#define KEY "AKIDEXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

/* AWS's own "get-vanilla" test (aws-sig-v4-test-suite), also what aws-sdk v2 signs. */
START_TEST(test_sigv4_get_vanilla)
{
    skt_sigv4_header_t h[] = {{"x-amz-date", "20150830T123600Z"},
                              {"host", "example.amazonaws.com"}};
    skt_sigv4_req_t r = {.method = "GET",
                         .path = "/",
                         .amz_date = "20150830T123600Z",
                         .region = "us-east-1",
                         .service = "service",
                         .headers = h,
                         .nheaders = 2,
                         .key_id = KEY,
                         .secret = SECRET};
    char out[512];
    ck_assert_int_eq(skt_sigv4_authorization(&r, out, sizeof(out)), 0);
    ck_assert_str_eq(out,
                     "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
                     "aws4_request, SignedHeaders=host;x-amz-date, "
                     "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    ck_assert_int_eq(skt_sigv4_authorization(&r, out, 40), -1);
    ck_assert_str_eq(out, "");
    r.amz_date = "2015";
    ck_assert_int_eq(skt_sigv4_authorization(&r, out, sizeof(out)), -1);
}
END_TEST

START_TEST(test_uri_encode)
{
    char out[64];
    ck_assert_int_eq(skt_sigv4_uri_encode("arn:aws:fn/x y~._-", 0, out, sizeof(out)), 26);
    ck_assert_str_eq(out, "arn%3Aaws%3Afn%2Fx%20y~._-");
    ck_assert_int_eq(skt_sigv4_uri_encode("/a%3A/b", 1, out, sizeof(out)), 9);
    ck_assert_str_eq(out, "/a%253A/b");
    ck_assert_int_eq(skt_sigv4_uri_encode("\xc3\xa9", 0, out, sizeof(out)), 6);
    ck_assert_str_eq(out, "%C3%A9");
    ck_assert_int_eq(skt_sigv4_uri_encode("abc", 0, out, 3), -1);
    ck_assert_int_eq(skt_sigv4_uri_encode("a:", 0, out, 4), -1);
}
END_TEST

static skt_lambda_env_t env_creds = {KEY, SECRET, NULL};
static skt_lambda_env_t env_none = {NULL, NULL, NULL};

/* The target of a webhook given as JSON, or NULL with err filled. */
static skt_lambda_target_t *
target(const char *json, const skt_lambda_env_t *env, char *err, size_t errlen)
{
    json_t *hook = json_loads(json, 0, NULL);
    ck_assert_ptr_nonnull(hook);
    err[0] = '\0';
    skt_lambda_target_t *t = skt_lambda_target(hook, env, err, errlen);
    json_decref(hook);
    return t;
}

START_TEST(test_target_endpoints)
{
    char err[256];
    skt_lambda_target_t *t = target("{\"lambda_function\":\"fn\"}", &env_creds, err, sizeof(err));
    ck_assert_ptr_nonnull(t);
    ck_assert_str_eq(t->url, "https://lambda.us-east-1.amazonaws.com/2015-03-31/functions/fn/"
                             "invocations");
    ck_assert_str_eq(t->host, "lambda.us-east-1.amazonaws.com");
    ck_assert_str_eq(t->path, "/2015-03-31/functions/fn/invocations");
    ck_assert_str_eq(t->region, "us-east-1");
    ck_assert_int_eq(t->async, 0);
    skt_lambda_target_free(t);

    t = target("{\"lambda_function\":\"arn:aws:lambda:cn-north-1:1:function:f\","
               "\"lambda\":{\"async\":true,\"region\":\"cn-north-1\"}}",
               &env_creds, err, sizeof(err));
    ck_assert_str_eq(t->url, "https://lambda.cn-north-1.amazonaws.com.cn/2015-03-31/functions/"
                             "arn%3Aaws%3Alambda%3Acn-north-1%3A1%3Afunction%3Af/invocations");
    ck_assert_int_eq(t->async, 1);
    skt_lambda_target_free(t);

    /* client_options.region wins over lambda.region, as the SDK's spread does */
    t = target("{\"lambda_function\":\"f\",\"lambda\":{\"region\":\"eu-west-1\","
               "\"client_options\":{\"region\":\"eu-central-1\",\"sslEnabled\":false}}}",
               &env_creds, err, sizeof(err));
    ck_assert_str_eq(t->url, "http://lambda.eu-central-1.amazonaws.com/2015-03-31/functions/f/"
                             "invocations");
    ck_assert_str_eq(t->region, "eu-central-1");
    skt_lambda_target_free(t);

    t = target("{\"lambda_function\":\"f\",\"lambda\":{\"client_options\":{\"endpoint\":"
               "\"http://127.0.0.1:3001/base//\"}}}",
               &env_creds, err, sizeof(err));
    ck_assert_str_eq(t->url, "http://127.0.0.1:3001/base/2015-03-31/functions/f/invocations");
    ck_assert_str_eq(t->host, "127.0.0.1:3001");
    ck_assert_str_eq(t->path, "/base/2015-03-31/functions/f/invocations");
    skt_lambda_target_free(t);

    t = target("{\"lambda_function\":\"f\",\"lambda\":{\"client_options\":{\"endpoint\":"
               "\"localhost:4566\",\"sslEnabled\":false}}}",
               &env_creds, err, sizeof(err));
    ck_assert_str_eq(t->url, "http://localhost:4566/2015-03-31/functions/f/invocations");
    skt_lambda_target_free(t);

    t = target("{\"lambda_function\":\"f\",\"lambda\":{\"client_options\":{\"endpoint\":"
               "\"[::1]:9000\"}}}",
               &env_creds, err, sizeof(err));
    ck_assert_str_eq(t->url, "https://[::1]:9000/2015-03-31/functions/f/invocations");
    ck_assert_str_eq(t->host, "[::1]:9000");
    skt_lambda_target_free(t);
}
END_TEST

START_TEST(test_target_refused)
{
    char err[256];
    ck_assert_ptr_null(target("{\"lambda_function\":\"f\",\"lambda\":{\"region\":\"x/y\"}}",
                              &env_creds, err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "not a region name"));
    ck_assert_ptr_null(target("{\"lambda_function\":\"f\",\"lambda\":{\"client_options\":"
                              "{\"endpoint\":\"ftp://h/\"}}}",
                              &env_creds, err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "endpoint"));
    ck_assert_ptr_null(target("{\"lambda_function\":\"f\",\"lambda\":{\"client_options\":"
                              "{\"endpoint\":\"http://h/?a=b\"}}}",
                              &env_creds, err, sizeof(err)));
    ck_assert_ptr_null(target("{\"lambda_function\":\"\"}", &env_creds, err, sizeof(err)));
    ck_assert_ptr_null(target("{\"lambda_function\":\"f\"}", &env_none, err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "no AWS credentials"));
    /* a key alone is not credentials */
    ck_assert_ptr_null(target("{\"lambda_function\":\"f\",\"lambda\":{\"client_options\":"
                              "{\"credentials\":{\"accessKeyId\":\"K\"}}}}",
                              &env_none, err, sizeof(err)));
    /* nothing that could split a header line */
    ck_assert_ptr_null(target("{\"lambda_function\":\"f\",\"lambda\":{\"client_options\":"
                              "{\"credentials\":{\"accessKeyId\":\"K\",\"secretAccessKey\":\"S\","
                              "\"sessionToken\":\"a\\r\\nX: y\"}}}}",
                              &env_none, err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "not printable"));
    ck_assert_ptr_null(strstr(err, "X: y"));
    char long_secret[200];
    memset(long_secret, 's', 129);
    long_secret[129] = '\0';
    skt_lambda_env_t env = {KEY, long_secret, NULL};
    ck_assert_ptr_null(target("{\"lambda_function\":\"f\"}", &env, err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "longer than 128"));
    ck_assert_ptr_null(strstr(err, long_secret));
}
END_TEST

START_TEST(test_target_credentials)
{
    char err[256];
    skt_lambda_env_t env = {"ENVKEY", "ENVSECRET", "ENVTOKEN"};
    skt_lambda_target_t *t = target("{\"lambda_function\":\"f\"}", &env, err, sizeof(err));
    ck_assert_str_eq(t->key_id, "ENVKEY");
    ck_assert_str_eq(t->secret, "ENVSECRET");
    ck_assert_str_eq(t->token, "ENVTOKEN");
    skt_lambda_target_free(t);

    t = target("{\"lambda_function\":\"f\",\"lambda\":{\"client_options\":{\"credentials\":"
               "{\"accessKeyId\":\"K\",\"secretAccessKey\":\"S\"}}}}",
               &env, err, sizeof(err));
    ck_assert_str_eq(t->key_id, "K");
    ck_assert_str_eq(t->secret, "S");
    ck_assert_ptr_null(t->token); /* the environment's token belongs to its key */
    skt_lambda_target_free(t);

    t = target("{\"lambda_function\":\"f\",\"lambda\":{\"client_options\":{\"accessKeyId\":"
               "\"K2\",\"secretAccessKey\":\"S2\",\"sessionToken\":\"T2\"}}}",
               &env_none, err, sizeof(err));
    ck_assert_str_eq(t->key_id, "K2");
    ck_assert_str_eq(t->token, "T2");
    skt_lambda_target_free(t);
}
END_TEST

/* The headers of an invocation, signed as aws-sdk v2 signs the same request (its
 * AWS.Signers.V4 over these headers, path, body and time). */
START_TEST(test_headers_signed_as_aws_sdk)
{
    char err[256];
    skt_lambda_env_t env = {KEY, SECRET, "TOKEN123"};
    skt_lambda_target_t *t = target("{\"lambda_function\":\"arn:aws:lambda:eu-west-1:123456789012:"
                                    "function:my-fn\",\"lambda\":{\"async\":true,\"region\":"
                                    "\"eu-west-1\"}}",
                                    &env, err, sizeof(err));
    ck_assert_ptr_nonnull(t);
    const char *body = "{\"payload\":{},\"headers\":{}}";
    struct curl_slist *h = skt_lambda_headers(t, "UA/1", body, strlen(body), 1440938160);
    ck_assert_ptr_nonnull(h);
    const char *want[] = {
        "Host: lambda.eu-west-1.amazonaws.com",
        "Content-Type: application/json",
        "User-Agent: UA/1",
        "X-Amz-Invocation-Type: Event",
        "X-Amz-Date: 20150830T123600Z",
        "X-Amz-Security-Token: TOKEN123",
        "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/eu-west-1/lambda/"
        "aws4_request, SignedHeaders=host;x-amz-date;x-amz-invocation-type;x-amz-security-token, "
        "Signature=c69603e94212c6c8c614fec92de8426d414ed55d1ed4a1353b1c215324b0c507",
        "Expect:",
    };
    size_t i = 0;
    for (struct curl_slist *l = h; l; l = l->next, i++) {
        ck_assert_uint_lt(i, sizeof(want) / sizeof(want[0]));
        ck_assert_str_eq(l->data, want[i]);
    }
    ck_assert_uint_eq(i, sizeof(want) / sizeof(want[0]));
    curl_slist_free_all(h);
    /* synchronous by default: RequestResponse, as soketi's InvocationType */
    t->async = 0;
    h = skt_lambda_headers(t, "UA/1", body, strlen(body), 1440938160);
    ck_assert_str_eq(h->next->next->next->data, "X-Amz-Invocation-Type: RequestResponse");
    curl_slist_free_all(h);
    skt_lambda_target_free(t);
}
END_TEST

START_TEST(test_payload_and_ignored_options)
{
    json_t *h = json_pack("{s:s, s:s}", "X-Pusher-Key", "k", "X-Pusher-Signature", "s");
    size_t len = 0;
    const char *p = "{\"time_ms\":1,\"events\":[]}";
    char *out = skt_lambda_payload(p, strlen(p), h, &len);
    const char *want = "{\"payload\":{\"time_ms\":1,\"events\":[]},\"headers\":{\"X-Pusher-Key\":"
                       "\"k\",\"X-Pusher-Signature\":\"s\"}}";
    ck_assert_str_eq(out, want);
    ck_assert_uint_eq(len, strlen(want));
    free(out);
    json_decref(h);

    char ignored[128];
    json_t *hook = json_loads("{\"lambda\":{\"client_options\":{\"region\":\"r\",\"maxRetries\":1,"
                              "\"endpoint\":\"e\",\"httpOptions\":{}}}}",
                              0, NULL);
    skt_lambda_ignored_options(hook, ignored, sizeof(ignored));
    ck_assert_str_eq(ignored, "maxRetries, httpOptions");
    json_decref(hook);
    hook = json_loads("{\"lambda_function\":\"f\"}", 0, NULL);
    skt_lambda_ignored_options(hook, ignored, sizeof(ignored));
    ck_assert_str_eq(ignored, "");
    json_decref(hook);
}
END_TEST

static Suite *
lambda_suite(void)
{
    Suite *s = suite_create("lambda");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_sigv4_get_vanilla);
    tcase_add_test(tc, test_uri_encode);
    tcase_add_test(tc, test_target_endpoints);
    tcase_add_test(tc, test_target_refused);
    tcase_add_test(tc, test_target_credentials);
    tcase_add_test(tc, test_headers_signed_as_aws_sdk);
    tcase_add_test(tc, test_payload_and_ignored_options);
    suite_add_tcase(s, tc);
    return s;
}

SKT_CHECK_MAIN(lambda_suite)
