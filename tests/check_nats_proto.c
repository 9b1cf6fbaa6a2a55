/* check_nats_proto.c - unit tests of the NATS adapter's pure part (plugins/nats/nats_proto.c):
 * soketi's subjects, bucket names and key tokens, the bucket settings sent to JetStream,
 * reading JetStream's and CONNZ's answers, deciding occupancy (who holds a channel or a
 * presence member, and admission against a limit) and rate limit windows.
 */
#include "check_main.h"
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "nats_proto.h"

#define NOW 1700000000000LL

START_TEST(subjects)
{
    char *s[3];
    ck_assert_int_eq(skt_np_subjects("", s), 0);
    ck_assert_str_eq(s[0], "nats-adapter");
    ck_assert_str_eq(s[1], "nats-adapter#comms#req");
    ck_assert_str_eq(s[2], "nats-adapter#comms#res");
    for (int i = 0; i < 3; i++)
        free(s[i]);
    ck_assert_int_eq(skt_np_subjects("eu.west", s), 0);
    ck_assert_str_eq(s[0], "eu.west#nats-adapter");
    ck_assert_str_eq(s[1], "eu.west#nats-adapter#comms#req");
    ck_assert_str_eq(s[2], "eu.west#nats-adapter#comms#res");
    for (int i = 0; i < 3; i++)
        free(s[i]);
    ck_assert_int_eq(skt_np_subjects(NULL, s), 0);
    ck_assert_str_eq(s[0], "nats-adapter");
    for (int i = 0; i < 3; i++)
        free(s[i]);
}
END_TEST

/* Checks a new string and frees it. */
static void
is(char *got, const char *want)
{
    ck_assert_ptr_nonnull(got);
    ck_assert_str_eq(got, want);
    free(got);
}

START_TEST(names_and_tokens)
{
    is(skt_np_bucket("nats-adapter", "occupancy"), "nats-adapter-occupancy");
    is(skt_np_bucket("eu.west#nats-adapter", "cache"), "eu_west_nats-adapter-cache");
    /* a token keeps [A-Za-z0-9_-] and escapes everything else, dots and wildcards too */
    is(skt_np_token("private-chat_1"), "private-chat_1");
    is(skt_np_token("a.b*c>d e"), "a=2Eb=2Ac=3Ed=20e");
    is(skt_np_token("=@,;"), "=3D=40=2C=3B");
    is(skt_np_token("\xc3\xa9"), "=C3=A9");
    is(skt_np_token(""), "=");
    /* occupancy keys: the channel, a presence channel's members, one user elsewhere */
    is(skt_np_holders_key("app1", "private-a", NULL), "o.app1.private-a");
    is(skt_np_holders_key("app1", "presence-room", "u1"), "p.app1.presence-room");
    is(skt_np_holders_key("app1", "presence-room", "other"), "p.app1.presence-room");
    is(skt_np_holders_key("app1", "#online", "bob.smith"), "u.app1.=23online.bob=2Esmith");
}
END_TEST

START_TEST(bucket_config)
{
    char *c = skt_np_bucket_config("nats-adapter-occupancy", 60, 3);
    ck_assert_ptr_nonnull(c);
    json_error_t err;
    json_t *o = json_loads(c, 0, &err);
    ck_assert_msg(o != NULL, "%s: %s", c, err.text);
    ck_assert_str_eq(json_string_value(json_object_get(o, "name")), "KV_nats-adapter-occupancy");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(o, "subjects"), 0)),
                     "$KV.nats-adapter-occupancy.>");
    ck_assert_int_eq(json_integer_value(json_object_get(o, "max_age")), 60000000000LL);
    ck_assert_int_eq(json_integer_value(json_object_get(o, "max_msgs_per_subject")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(o, "num_replicas")), 3);
    ck_assert(json_is_true(json_object_get(o, "allow_direct")));
    ck_assert_str_eq(json_string_value(json_object_get(o, "storage")), "memory");
    json_decref(o);
    free(c);
}
END_TEST

#define S(x) (x), (sizeof(x) - 1)

START_TEST(answers)
{
    long code = 0;
    char desc[64];
    uint64_t seq = 0;
    /* JetStream's API answers */
    ck_assert_int_eq(skt_np_api_error(S("{\"type\":\"io.nats.jetstream.api.v1.stream_create_"
                                        "response\",\"config\":{}}"),
                                      &code, desc, sizeof(desc)),
                     0);
    ck_assert_int_eq(skt_np_api_error(S("{\"error\":{\"code\":400,\"err_code\":10058,"
                                        "\"description\":\"stream name already in use\"}}"),
                                      &code, desc, sizeof(desc)),
                     1);
    ck_assert_int_eq(code, 10058);
    ck_assert_str_eq(desc, "stream name already in use");
    ck_assert_int_eq(skt_np_api_error(S("{\"error\":{\"code\":503}}"), &code, desc, sizeof(desc)),
                     1);
    ck_assert_int_eq(code, 503);
    ck_assert_int_eq(skt_np_api_error(S("not json"), &code, desc, sizeof(desc)), -1);
    ck_assert_int_eq(skt_np_api_error(S("[1]"), &code, desc, sizeof(desc)), -1);
    /* publish acknowledgements */
    ck_assert_int_eq(skt_np_puback(S("{\"stream\":\"KV_x\",\"seq\":42}"), &seq, &code), 0);
    ck_assert_uint_eq(seq, 42);
    ck_assert_int_eq(skt_np_puback(S("{\"error\":{\"code\":400,\"err_code\":10071,"
                                     "\"description\":\"wrong last sequence: 5\"},"
                                     "\"stream\":\"KV_x\",\"seq\":0}"),
                                   &seq, &code),
                     1);
    ck_assert_int_eq(code, SKT_NP_ERR_WRONG_LAST_SEQUENCE);
    ck_assert_int_eq(skt_np_puback(S("{\"stream\":\"KV_x\"}"), &seq, &code), -1);
    ck_assert_int_eq(skt_np_puback(S("{\"stream\":\"KV_x\",\"seq\":0}"), &seq, &code), -1);
    ck_assert_int_eq(skt_np_puback(S(""), &seq, &code), -1);
    /* CONNZ */
    ck_assert_int_eq(skt_np_connz_count(S("{\"server\":{\"name\":\"a\"},\"data\":{\"server_id\":"
                                          "\"a\",\"num_connections\":3,\"total\":7}}")),
                     3);
    ck_assert_int_eq(skt_np_connz_count(S("{\"server\":{},\"error\":{\"code\":403}}")), -1);
    ck_assert_int_eq(skt_np_connz_count(S("{\"data\":{\"num_connections\":-1}}")), -1);
    ck_assert_int_eq(skt_np_connz_count(S("garbage")), -1);
    char *req = skt_np_connz_request("eu#nats-adapter#comms#req");
    ck_assert_ptr_nonnull(req);
    ck_assert_ptr_nonnull(strstr(req, "\"filter_subject\":\"eu#nats-adapter#comms#req\""));
    free(req);
}
END_TEST

/* ---- holders -------------------------------------------------------------------------- */

/* The holders of text (now: NOW) dumped again. */
static void
round_trip(const char *text, const char *want)
{
    json_t *h = skt_np_holders_load(text, text ? strlen(text) : 0, NOW);
    ck_assert_ptr_nonnull(h);
    is(skt_np_holders_dump(h), want);
    json_decref(h);
}

START_TEST(holders_load)
{
    round_trip(NULL, "{}");
    round_trip("not json", "{}");
    round_trip("[]", "{}");
    /* expired entries, malformed ones and users left with nobody go */
    round_trip("{\"u\":{\"a\":1700000001000,\"b\":1699999999000,\"c\":\"x\"},\"v\":{\"a\":1},"
               "\"w\":7}",
               "{\"u\":{\"a\":1700000001000}}");
    round_trip("{\"\":{\"n1\":1700000005000}}", "{\"\":{\"n1\":1700000005000}}");
}
END_TEST

START_TEST(holders_decide)
{
    const char *v = "{\"alice\":{\"A\":1700000009000,\"B\":1700000009000},"
                    "\"bob\":{\"B\":1700000009000},\"carol\":{\"A\":1700000009000}}";
    json_t *h = skt_np_holders_load(v, strlen(v), NOW);
    ck_assert_int_eq(skt_np_others(h, "alice", "A"), 1);
    ck_assert_int_eq(skt_np_others(h, "bob", "A"), 1);
    ck_assert_int_eq(skt_np_others(h, "carol", "A"), 0);
    ck_assert_int_eq(skt_np_others(h, "dave", "A"), 0);
    /* users seen from A: bob and alice held by B, plus what A holds */
    const char *mine[] = {"carol", "dave"};
    ck_assert_uint_eq(skt_np_users(h, "A", mine, 2), 4);
    ck_assert_uint_eq(skt_np_users(h, "A", mine, 1), 3);
    ck_assert_uint_eq(skt_np_users(h, "A", NULL, 0), 2); /* carol was only A's */
    /* A now holds carol and dave only: its alice entry goes, B's stay */
    ck_assert_int_eq(skt_np_hold(h, "A", mine, 2, 1700000030000LL), 0);
    is(skt_np_holders_dump(h), "{\"alice\":{\"B\":1700000009000},\"bob\":{\"B\":1700000009000},"
                               "\"carol\":{\"A\":1700000030000},\"dave\":{\"A\":1700000030000}}");
    /* A leaves everything */
    ck_assert_int_eq(skt_np_hold(h, "A", NULL, 0, 0), 0);
    is(skt_np_holders_dump(h), "{\"alice\":{\"B\":1700000009000},\"bob\":{\"B\":1700000009000}}");
    json_decref(h);
}
END_TEST

/* ---- rate limit windows --------------------------------------------------------------- */

START_TEST(windows)
{
    skt_np_window_t w;
    long used, left;
    char buf[64];
    skt_np_window_load(NULL, 0, &w);
    ck_assert_int_eq(w.used, 0);
    /* the first consumption opens a window */
    skt_np_window_consume(&w, 3, 1000, NOW, &used, &left);
    ck_assert_int_eq(used, 3);
    ck_assert_int_eq(left, 1000);
    size_t n = skt_np_window_dump(&w, buf, sizeof(buf));
    ck_assert_str_eq(buf, "{\"p\":3,\"e\":1700000001000}");
    /* read back and added to within it */
    skt_np_window_load(buf, n, &w);
    skt_np_window_consume(&w, 2, 1000, NOW + 400, &used, &left);
    ck_assert_int_eq(used, 5);
    ck_assert_int_eq(left, 600);
    /* past its end a new one opens */
    skt_np_window_consume(&w, 1, 1000, NOW + 1000, &used, &left);
    ck_assert_int_eq(used, 1);
    ck_assert_int_eq(left, 1000);
    /* garbage is an empty, closed window; counts saturate */
    skt_np_window_load(S("{\"p\":-4,\"e\":1}"), &w);
    ck_assert_int_eq(w.used, 0);
    ck_assert_int_eq(w.end_ms, 0);
    w.used = __LONG_MAX__ - 1;
    w.end_ms = NOW + 10;
    skt_np_window_consume(&w, 5, 1000, NOW, &used, &left);
    ck_assert_int_eq(used, __LONG_MAX__);
}
END_TEST

static Suite *
nats_proto_suite(void)
{
    Suite *s = suite_create("nats_proto");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, subjects);
    tcase_add_test(tc, names_and_tokens);
    tcase_add_test(tc, bucket_config);
    tcase_add_test(tc, answers);
    tcase_add_test(tc, holders_load);
    tcase_add_test(tc, holders_decide);
    tcase_add_test(tc, windows);
    suite_add_tcase(s, tc);
    return s;
}

SKT_CHECK_MAIN(nats_proto_suite)
