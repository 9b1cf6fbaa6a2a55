/* check_apps.c - unit tests for app validation, defaults and lookup (src/config/apps.c). */
#include "check_main.h"
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/apps.h"

#define ERRLEN 512

static const skt_app_defaults_t defaults = {
    .max_presence_members_per_channel = 100,
    .max_presence_member_size_kb = 2,
    .max_channel_name_length = 200,
    .max_event_channels_at_once = 100,
    .max_event_name_length = 200,
    .max_event_payload_kb = 100,
    .max_event_batch_size = 10,
};

/* Builds apps from JSON text; fails the test when that fails. */
static skt_apps_t *
build_ok(const char *text)
{
    json_error_t jerr;
    json_t *list = json_loads(text, 0, &jerr);
    skt_apps_t *apps = NULL;
    char err[ERRLEN] = "";
    ck_assert_msg(list != NULL, "bad test JSON: %s", jerr.text);
    int rc = skt_apps_build(list, &defaults, &apps, err, sizeof(err));
    ck_assert_msg(rc == 0, "build failed: %s", err);
    json_decref(list);
    return apps;
}

/* Builds apps from JSON text, expects failure with exactly the message expected. */
static void
build_err(const char *text, const char *expected)
{
    json_t *list = json_loads(text, JSON_DECODE_ANY, NULL);
    skt_apps_t *apps = (skt_apps_t *)&defaults; /* must be reset to NULL */
    char err[ERRLEN] = "";
    ck_assert_ptr_nonnull(list);
    ck_assert_int_eq(skt_apps_build(list, &defaults, &apps, err, sizeof(err)), -1);
    ck_assert_ptr_null(apps);
    ck_assert_str_eq(err, expected);
    json_decref(list);
}

/* An app with the required keys plus extra (JSON members text, may be empty). */
static void
one_app_err(const char *extra, const char *expected)
{
    char text[2048];
    snprintf(text, sizeof(text), "[{\"id\":\"a\",\"key\":\"k\",\"secret\":\"s\"%s%s}]",
             *extra ? "," : "", extra);
    build_err(text, expected);
}

static void
webhook_err(const char *hook, const char *expected)
{
    char extra[1024], want[ERRLEN];
    snprintf(extra, sizeof(extra), "\"webhooks\":[%s]", hook);
    snprintf(want, sizeof(want), "apps[0]: 'webhooks': webhooks[0]%s", expected);
    one_app_err(extra, want);
}

START_TEST(test_default_list)
{
    json_t *list = skt_apps_default_list();
    skt_apps_t *apps = NULL;
    char err[ERRLEN];
    ck_assert_int_eq(skt_apps_build(list, &defaults, &apps, err, sizeof(err)), 0);
    json_decref(list);
    ck_assert_uint_eq(skt_apps_count(apps), 1);
    skt_app_t *a = skt_apps_at(apps, 0);
    ck_assert_str_eq(a->id, "app-id");
    ck_assert_str_eq(a->key, "app-key");
    ck_assert_str_eq(a->secret, "app-secret");
    ck_assert_int_eq(a->max_connections, -1);
    ck_assert_int_eq(a->enabled, 1);
    ck_assert_int_eq(a->enable_client_messages, 0);
    ck_assert_int_eq(a->enable_user_authentication, 0);
    ck_assert_int_eq(a->max_backend_events_per_sec, -1);
    ck_assert_int_eq(a->max_client_events_per_sec, -1);
    ck_assert_int_eq(a->max_read_req_per_sec, -1);
    ck_assert_uint_eq(json_array_size(a->webhooks), 0);
    skt_apps_free(apps);
}
END_TEST

START_TEST(test_limits_default_to_globals)
{
    skt_app_defaults_t d = defaults;
    d.max_presence_members_per_channel = 7;
    d.max_event_payload_kb = 0.25;
    json_t *list = json_loads("[{\"id\":\"a\",\"key\":\"k\",\"secret\":\"s\"},"
                              "{\"id\":\"b\",\"key\":\"k2\",\"secret\":\"s\","
                              "\"maxPresenceMembersPerChannel\":3,\"maxEventPayloadInKb\":\"1.5\","
                              "\"maxChannelNameLength\":\"50\",\"maxEventChannelsAtOnce\":4,"
                              "\"maxEventNameLength\":5,\"maxEventBatchSize\":6,"
                              "\"maxPresenceMemberSizeInKb\":0.5}]",
                              0, NULL);
    skt_apps_t *apps;
    char err[ERRLEN];
    ck_assert_int_eq(skt_apps_build(list, &d, &apps, err, sizeof(err)), 0);
    json_decref(list);
    skt_app_t *a = skt_apps_at(apps, 0), *b = skt_apps_at(apps, 1);
    ck_assert_int_eq(a->max_presence_members_per_channel, 7);
    ck_assert_double_eq(a->max_event_payload_kb, 0.25);
    ck_assert_double_eq(a->max_presence_member_size_kb, 2);
    ck_assert_int_eq(a->max_channel_name_length, 200);
    ck_assert_int_eq(a->max_event_batch_size, 10);
    ck_assert_int_eq(b->max_presence_members_per_channel, 3);
    ck_assert_double_eq(b->max_event_payload_kb, 1.5);
    ck_assert_int_eq(b->max_channel_name_length, 50);
    ck_assert_int_eq(b->max_event_channels_at_once, 4);
    ck_assert_int_eq(b->max_event_name_length, 5);
    ck_assert_int_eq(b->max_event_batch_size, 6);
    ck_assert_double_eq(b->max_presence_member_size_kb, 0.5);
    skt_apps_free(apps);
}
END_TEST

START_TEST(test_lookup)
{
    skt_apps_t *apps = build_ok("[{\"id\":\"one\",\"key\":\"key-one\",\"secret\":\"s1\"},"
                                "{\"id\":\"two\",\"key\":\"key-two\",\"secret\":\"s2\"}]");
    ck_assert_uint_eq(skt_apps_count(apps), 2);
    const char *path = "/app/two/events";
    skt_app_t *two = skt_apps_by_id(apps, path + 5, 3);
    ck_assert_ptr_nonnull(two);
    ck_assert_str_eq(two->secret, "s2");
    ck_assert_ptr_eq(skt_apps_at(apps, 1), two);
    ck_assert_ptr_eq(skt_apps_by_key(apps, "key-two", 7), two);
    ck_assert_ptr_eq(skt_apps_by_key(apps, "key-one", 7), skt_apps_at(apps, 0));
    ck_assert_ptr_null(skt_apps_by_key(apps, "key-on", 6));
    ck_assert_ptr_null(skt_apps_by_id(apps, "key-one", 7));
    ck_assert_ptr_null(skt_apps_by_id(apps, "", 0));
    ck_assert_ptr_null(skt_apps_at(apps, 2));
    ck_assert_ptr_null(skt_apps_by_id(NULL, "one", 3));
    ck_assert_uint_eq(skt_apps_count(NULL), 0);
    skt_apps_free(apps);
    skt_apps_free(NULL);
}
END_TEST

START_TEST(test_many_apps)
{
    size_t n = 2000;
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        char id[32], key[32];
        snprintf(id, sizeof(id), "id-%zu", i);
        snprintf(key, sizeof(key), "key-%zu", i);
        json_array_append_new(list,
                              json_pack("{s:s, s:s, s:s}", "id", id, "key", key, "secret", "s"));
    }
    skt_apps_t *apps;
    char err[ERRLEN];
    ck_assert_int_eq(skt_apps_build(list, &defaults, &apps, err, sizeof(err)), 0);
    json_decref(list);
    ck_assert_uint_eq(skt_apps_count(apps), n);
    for (size_t i = 0; i < n; i++) {
        char id[32], key[32];
        snprintf(id, sizeof(id), "id-%zu", i);
        snprintf(key, sizeof(key), "key-%zu", i);
        ck_assert_ptr_eq(skt_apps_by_id(apps, id, strlen(id)), skt_apps_at(apps, i));
        ck_assert_ptr_eq(skt_apps_by_key(apps, key, strlen(key)), skt_apps_at(apps, i));
    }
    skt_apps_free(apps);
}
END_TEST

/* app.ts reads several spellings of each key; the last one it reads wins. */
START_TEST(test_aliases_and_leniency)
{
    skt_apps_t *apps = build_ok(
        "[{\"AppId\":42,\"AppKey\":1.5,\"AppSecret\":\"sec\",\"MaxConnections\":5,"
        "\"max_connections\":\"7\",\"Enabled\":\"false\",\"enable_client_messages\":\"true\","
        "\"max_backend_events_per_sec\":\"-5\",\"MaxClientEventsPerSecond\":0,"
        "\"max_read_req_per_sec\":3,\"EnableUserAuthentication\":true,"
        "\"Webhooks\":\"[{\\\"url\\\":\\\"http://"
        "h\\\",\\\"event_types\\\":[\\\"client_event\\\"]}]\","
        "\"max_presence_members_per_channel\":9,\"enable_subscription_count\":true}]");
    skt_app_t *a = skt_apps_at(apps, 0);
    ck_assert_str_eq(a->id, "42");
    ck_assert_str_eq(a->key, "1.5");
    ck_assert_str_eq(a->secret, "sec");
    ck_assert_int_eq(a->max_connections, 7);
    ck_assert_int_eq(a->enabled, 0);
    ck_assert_int_eq(a->enable_client_messages, 1);
    ck_assert_int_eq(a->max_backend_events_per_sec, -1);
    ck_assert_int_eq(a->max_client_events_per_sec, 0); /* 0 points: nothing allowed */
    ck_assert_int_eq(a->max_read_req_per_sec, 3);
    ck_assert_int_eq(a->enable_user_authentication, 1);
    ck_assert_int_eq(a->max_presence_members_per_channel, 9);
    ck_assert_int_eq(a->enable_subscription_count, 1); /* the database column's spelling */
    ck_assert_uint_eq(json_array_size(a->webhooks), 1);
    skt_apps_free(apps);

    /* "" and null are "not given" (app.ts extractFromPassedKeys); 0 connections: unlimited. */
    apps = build_ok("[{\"id\":\"a\",\"key\":\"k\",\"secret\":\"s\",\"maxConnections\":0,"
                    "\"maxEventBatchSize\":null,\"enabled\":\"\",\"webhooks\":null}]");
    a = skt_apps_at(apps, 0);
    ck_assert_int_eq(a->max_connections, -1);
    ck_assert_int_eq(a->max_event_batch_size, 10);
    ck_assert_int_eq(a->enabled, 1);
    ck_assert_uint_eq(json_array_size(a->webhooks), 0);
    skt_apps_free(apps);
}
END_TEST

/* A size in KiB too large for a long stays a number (found by tests/fuzz/fuzz_apps: the
 * double -> long conversion was undefined behaviour, which UBSan aborts on). */
START_TEST(test_huge_kb_sizes)
{
    skt_apps_t *apps =
        build_ok("[{\"id\":\"a\",\"key\":\"k\",\"secret\":\"s\","
                 "\"maxPresenceMemberSizeInKb\":3.3e35,\"maxEventPayloadInKb\":1e300}]");
    skt_app_t *a = skt_apps_at(apps, 0);
    ck_assert(a->max_presence_member_size_kb == 3.3e35);
    ck_assert(a->max_event_payload_kb == 1e300);
    json_t *j = skt_apps_to_json(apps);
    json_t *app = json_array_get(j, 0);
    ck_assert(json_is_real(json_object_get(app, "maxPresenceMemberSizeInKb")));
    ck_assert(json_real_value(json_object_get(app, "maxEventPayloadInKb")) == 1e300);
    json_decref(j);
    skt_apps_free(apps);

    /* Whole numbers that fit stay integers, as JSON.stringify prints them. */
    apps = build_ok("[{\"id\":\"a\",\"key\":\"k\",\"secret\":\"s\",\"maxEventPayloadInKb\":2.0}]");
    j = skt_apps_to_json(apps);
    ck_assert(json_is_integer(json_object_get(json_array_get(j, 0), "maxEventPayloadInKb")));
    json_decref(j);
    skt_apps_free(apps);
}
END_TEST

START_TEST(test_normalize_and_set_field)
{
    json_t *in = json_loads("{\"AppId\":7,\"max_connections\":\"3\",\"Enabled\":false}", 0, NULL);
    json_t *out = NULL;
    char err[ERRLEN];
    ck_assert_int_eq(skt_apps_normalize(in, &out, err, sizeof(err)), 0);
    ck_assert_str_eq(json_string_value(json_object_get(out, "id")), "7");
    ck_assert_int_eq(json_integer_value(json_object_get(out, "maxConnections")), 3);
    ck_assert(json_is_false(json_object_get(out, "enabled")));
    ck_assert_ptr_null(json_object_get(out, "AppId"));
    ck_assert_uint_eq(json_object_size(out), 3);

    /* Raw text keeps its spelling for string keys; JSON numbers elsewhere. */
    json_t *v = json_loads("1e3", JSON_DECODE_ANY, NULL);
    ck_assert_int_eq(skt_apps_set_field(out, "key", v, "1e3", err, sizeof(err)), 0);
    ck_assert_str_eq(json_string_value(json_object_get(out, "key")), "1e3");
    ck_assert_int_eq(skt_apps_set_field(out, "maxEventBatchSize", v, "1e3", err, sizeof(err)), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(out, "maxEventBatchSize")), 1000);
    json_decref(v);

    /* An alias replaces the canonical key. */
    v = json_integer(11);
    ck_assert_int_eq(skt_apps_set_field(out, "MaxConnections", v, NULL, err, sizeof(err)), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(out, "maxConnections")), 11);
    ck_assert_ptr_null(json_object_get(out, "MaxConnections"));
    json_decref(v);

    /* "" removes the key: the default applies again. */
    v = json_string("");
    ck_assert_int_eq(skt_apps_set_field(out, "maxConnections", v, NULL, err, sizeof(err)), 0);
    ck_assert_ptr_null(json_object_get(out, "maxConnections"));
    json_decref(v);

    v = json_true();
    ck_assert_int_eq(skt_apps_set_field(out, "maxConection", v, NULL, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "unknown key 'maxConection'");
    ck_assert_int_eq(skt_apps_set_field(out, "maxConnections", v, NULL, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "'maxConnections': expected an integer, got 'true'");
    json_decref(v);
    json_decref(in);
    json_decref(out);

    in = json_string("x");
    ck_assert_int_eq(skt_apps_normalize(in, &out, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "expected an app object, got '\"x\"'");
    json_decref(in);
}
END_TEST

START_TEST(test_to_json_round_trip)
{
    skt_apps_t *apps = build_ok("[{\"id\":\"a\",\"key\":\"k\",\"secret\":\"s\","
                                "\"maxPresenceMemberSizeInKb\":0.5,\"webhooks\":[{\"url\":\"u\","
                                "\"event_types\":[\"cache_miss\"]}]}]");
    json_t *j = skt_apps_to_json(apps);
    ck_assert_uint_eq(json_array_size(j), 1);
    json_t *o = json_array_get(j, 0);
    ck_assert_uint_eq(json_object_size(o), 19);
    ck_assert_int_eq(json_integer_value(json_object_get(o, "maxEventBatchSize")), 10);
    ck_assert(json_is_false(json_object_get(o, "enableSubscriptionCount")));
    ck_assert_double_eq(json_real_value(json_object_get(o, "maxPresenceMemberSizeInKb")), 0.5);
    skt_apps_t *again;
    char err[ERRLEN];
    ck_assert_int_eq(skt_apps_build(j, &defaults, &again, err, sizeof(err)), 0);
    json_t *j2 = skt_apps_to_json(again);
    ck_assert(json_equal(j, j2));
    json_decref(j);
    json_decref(j2);
    skt_apps_free(again);
    skt_apps_free(apps);
}
END_TEST

START_TEST(test_errors)
{
    build_err("{}", "apps: expected a JSON array of apps");
    build_err("[1]", "apps[0]: expected an app object, got '1'");
    build_err("[{\"id\":\"a\",\"key\":\"k\",\"secret\":\"s\"},null,"
              "{\"id\":\"b\",\"key\":\"k2\",\"secret\":\"s\"}]",
              "apps[1]: missing (apps are numbered 0, 1, 2... without gaps)");
    build_err("[{\"key\":\"k\",\"secret\":\"s\"}]", "apps[0]: 'id' is missing or empty");
    build_err("[{\"id\":\"a\",\"key\":\"\",\"secret\":\"s\"}]",
              "apps[0]: 'key' is missing or empty");
    build_err("[{\"id\":\"a\",\"key\":\"k\"}]", "apps[0]: 'secret' is missing or empty");
    build_err("[{\"id\":\"a\",\"key\":\"k\",\"secret\":\"s\"},"
              "{\"id\":\"a\",\"key\":\"k2\",\"secret\":\"s\"}]",
              "apps[1]: duplicate id 'a' (also apps[0])");
    build_err("[{\"id\":\"a\",\"key\":\"k\",\"secret\":\"s\"},"
              "{\"id\":\"b\",\"key\":\"x\",\"secret\":\"s\"},"
              "{\"id\":\"c\",\"key\":\"k\",\"secret\":\"s\"}]",
              "apps[2]: duplicate key 'k' (also apps[0])");
    one_app_err("\"maxConection\":1", "apps[0]: unknown key 'maxConection'");
    one_app_err("\"hasClientEventWebhooks\":true", "apps[0]: unknown key 'hasClientEventWebhooks'");
    one_app_err("\"enabled\":\"yes\"",
                "apps[0]: 'enabled': expected a boolean (true or false), got 'yes'");
    one_app_err("\"id\":[1]", "apps[0]: 'id': expected a string, got '[1]'");
    one_app_err("\"maxConnections\":1.5",
                "apps[0]: 'maxConnections': expected an integer, got '1.5'");
    one_app_err("\"maxPresenceMembersPerChannel\":0",
                "apps[0]: 'maxPresenceMembersPerChannel': 0 is out of range (must be at least 1)");
    one_app_err("\"maxEventPayloadInKb\":-1",
                "apps[0]: 'maxEventPayloadInKb': -1 is out of range (must be greater than 0)");
    one_app_err("\"max_presence_member_size_in_kb\":\"big\"",
                "apps[0]: 'max_presence_member_size_in_kb': expected a number, got 'big'");
    one_app_err("\"webhooks\":{}",
                "apps[0]: 'webhooks': expected a JSON array of webhooks, got '{}'");
    /* A JSON text that is not an array (found by tests/fuzz/fuzz_apps: the parsed text was
     * freed before the message was made from it, a use after free). */
    one_app_err("\"webhooks\":\"2\"",
                "apps[0]: 'webhooks': expected a JSON array of webhooks, got '2'");
    one_app_err("\"webhooks\":\"{\\\"url\\\":\\\"u\\\"}\"",
                "apps[0]: 'webhooks': expected a JSON array of webhooks, got '{\"url\":\"u\"}'");
}
END_TEST

START_TEST(test_webhooks)
{
    skt_apps_t *apps = build_ok(
        "[{\"id\":\"a\",\"key\":\"k\",\"secret\":\"s\",\"webhooks\":["
        "{\"url\":\"https://h/1\",\"event_types\":[\"channel_occupied\",\"channel_vacated\"],"
        "\"headers\":{\"X-A\":\"1\"},\"filter\":{\"channel_name_starts_with\":\"private-\","
        "\"channel_name_ends_with\":\"-x\"}},"
        "{\"lambda_function\":\"fn\",\"event_types\":[\"member_added\",\"member_removed\"],"
        "\"lambda\":{\"async\":true,\"region\":\"eu-west-1\",\"client_options\":{}}},"
        "{\"url\":\"https://h/2\",\"event_types\":[]}]}]");
    skt_app_t *a = skt_apps_at(apps, 0);
    ck_assert_uint_eq(json_array_size(a->webhooks), 3);
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(json_array_get(a->webhooks, 0), "filter"),
                                          "channel_name_ends_with")),
        "-x");
    skt_apps_free(apps);

    webhook_err("5", ": expected an object");
    webhook_err("{\"event_types\":[]}", ": needs a 'url' or a 'lambda_function'");
    webhook_err("{\"url\":\"u\"}", ": 'event_types' must be an array of strings");
    webhook_err("{\"url\":\"u\",\"event_types\":[1]}",
                ": 'event_types' must be an array of strings");
    webhook_err("{\"url\":\"u\",\"event_types\":[\"channel_ocupied\"]}",
                ": unknown event type 'channel_ocupied' (expected one of: client_event, "
                "channel_occupied, channel_vacated, member_added, member_removed, cache_miss, "
                "subscription_count)");
    webhook_err("{\"url\":\"u\",\"event_types\":[],\"headers\":{\"X\":1}}",
                ": header 'X' must be a string");
    webhook_err("{\"url\":\"u\",\"event_types\":[],\"headers\":[]}",
                ": 'headers' must be an object of strings");
    webhook_err("{\"url\":\"u\",\"event_types\":[],\"filter\":{\"channel_name\":\"x\"}}",
                ".filter: unknown key 'channel_name'");
    webhook_err("{\"url\":\"u\",\"event_types\":[],\"filter\":{\"channel_name_ends_with\":1}}",
                ".filter: 'channel_name_ends_with' must be a string");
    webhook_err("{\"lambda_function\":\"f\",\"event_types\":[],\"lambda\":{\"async\":\"no\"}}",
                ".lambda: 'async' must be true or false");
    webhook_err("{\"lambda_function\":\"f\",\"event_types\":[],\"lambda\":{\"client_options\":"
                "{\"endpoint\":{\"host\":\"h\"}}}}",
                ".lambda.client_options: 'endpoint' must be a string");
    webhook_err("{\"lambda_function\":\"f\",\"event_types\":[],\"lambda\":{\"client_options\":"
                "{\"sslEnabled\":\"no\"}}}",
                ".lambda.client_options: 'sslEnabled' must be true or false");
    webhook_err("{\"lambda_function\":\"f\",\"event_types\":[],\"lambda\":{\"client_options\":"
                "{\"credentials\":[]}}}",
                ".lambda.client_options.credentials: expected an object");
    webhook_err("{\"lambda_function\":\"f\",\"event_types\":[],\"lambda\":{\"client_options\":"
                "{\"credentials\":{\"secretAccessKey\":5}}}}",
                ".lambda.client_options.credentials: 'secretAccessKey' must be a string");
    webhook_err("{\"url\":\"u\",\"evnt_types\":[]}", ": unknown key 'evnt_types'");
    webhook_err("{\"url\":7,\"event_types\":[]}", ": 'url' must be a string");
}
END_TEST

static Suite *
apps_suite(void)
{
    Suite *s = suite_create("apps");
    TCase *tc = tcase_create("apps");
    tcase_add_test(tc, test_default_list);
    tcase_add_test(tc, test_limits_default_to_globals);
    tcase_add_test(tc, test_lookup);
    tcase_add_test(tc, test_many_apps);
    tcase_add_test(tc, test_aliases_and_leniency);
    tcase_add_test(tc, test_normalize_and_set_field);
    tcase_add_test(tc, test_huge_kb_sizes);
    tcase_add_test(tc, test_to_json_round_trip);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_webhooks);
    suite_add_tcase(s, tc);
    return s;
}

SKT_CHECK_MAIN(apps_suite)
