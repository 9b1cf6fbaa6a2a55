/* check_message.c - unit tests for the JSON writer (util/jsonw.h) and the Pusher message
 * encoder (pusher/message.h).
 *
 * Each message is also built the way the protocol built it before the encoder existed: a
 * jansson tree dumped with json_dumps (and JSON inside strings dumped twice). The two must
 * agree byte for byte, for fixed cases and for random strings full of quotes, backslashes,
 * control characters and multi-byte UTF-8, so that no message on the wire changed.
 */
#include "check_main.h"
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pusher/message.h"
#include "util/jsonw.h"

/* The text written in w, checked and copied (the caller frees); the writer is freed. */
static char *
take(skt_jw_t *w)
{
    size_t len = 0;
    const char *t = skt_jw_cstr(w, &len);
    ck_assert_ptr_nonnull(t);
    ck_assert_uint_eq(strlen(t), len);
    char *copy = strdup(t);
    skt_jw_free(w);
    return copy;
}

/* json_dumps as the protocol used it; consumes v. */
static char *
dump(json_t *v)
{
    ck_assert_ptr_nonnull(v);
    char *t = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    json_decref(v);
    ck_assert_ptr_nonnull(t);
    return t;
}

static void
same(char *got, char *want)
{
    ck_assert_str_eq(got, want);
    free(got);
    free(want);
}

/* A random valid UTF-8 string of up to max bytes, biased towards what needs escaping. */
static char *
rand_utf8(unsigned *seed, size_t max)
{
    static const char *pieces[] = {"\"",   "\\", "\n", "\r",   "\t",      "\b", "\f", "\x01",
                                   "\x1f", "/",  "a",  "Z",    " ",       "{",  "}",  ":",
                                   "é",    "€",  "😀",  "\x7f", "\\u0000", "<",  "'"};
    size_t n = (size_t)(rand_r(seed) % 12);
    char *s = calloc(1, max + 8);
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        const char *p = pieces[rand_r(seed) % (sizeof(pieces) / sizeof(pieces[0]))];
        if (len + strlen(p) > max)
            break;
        memcpy(s + len, p, strlen(p));
        len += strlen(p);
    }
    if (len == 0)
        s[len++] = 'x';
    return s;
}

START_TEST(test_jw_escapes_as_jansson)
{
    unsigned seed = 42;
    for (int i = 0; i < 2000; i++) {
        char *s = rand_utf8(&seed, 64);
        SKT_JW_ON_STACK(w, 16);
        skt_jw_cstr_value(&w, s);
        same(take(&w), dump(json_string(s)));
        /* and as JSON inside a string */
        SKT_JW_ON_STACK(w2, 16);
        skt_jw_text_begin(&w2);
        skt_jw_lit(&w2, "{\"k\":");
        skt_jw_cstr_value(&w2, s);
        skt_jw_lit(&w2, "}");
        skt_jw_text_end(&w2);
        char *inner = dump(json_pack("{s:s}", "k", s));
        same(take(&w2), dump(json_string(inner)));
        free(inner);
        free(s);
    }
}
END_TEST

/* A writer for soketi's wire escapes as JSON.stringify: lower-case hex. The text stays
 * NUL-terminated as it grows. */
START_TEST(test_jw_lower_hex)
{
    skt_jw_t w = {.lower_hex = 1};
    skt_jw_cstr_value(&w, "\x1f\x01\"");
    ck_assert_str_eq(w.p, "\"\\u001f\\u0001\\\"\"");
    ck_assert_uint_eq(strlen(w.p), w.len);
    skt_jw_trim(&w, 0);
    ck_assert_ptr_null(w.p);
    skt_jw_lit(&w, "x");
    ck_assert_str_eq(w.p, "x");
    skt_jw_free(&w);
}
END_TEST

START_TEST(test_jw_limits)
{
    SKT_JW_ON_STACK(w, 8);
    w.max = 10;
    skt_jw_lit(&w, "12345");
    ck_assert_ptr_nonnull(skt_jw_cstr(&w, NULL));
    skt_jw_lit(&w, "678901");
    ck_assert_int_eq(w.failed, 1);
    ck_assert_ptr_null(skt_jw_cstr(&w, NULL));
    skt_jw_reset(&w);
    skt_jw_int(&w, -42);
    skt_jw_bool(&w, 1);
    size_t len;
    ck_assert_str_eq(skt_jw_cstr(&w, &len), "-42true");
    skt_jw_free(&w);
    /* grows past the stack buffer */
    SKT_JW_ON_STACK(big, 4);
    for (int i = 0; i < 1000; i++)
        skt_jw_lit(&big, "abc");
    ck_assert_uint_eq(strlen(skt_jw_cstr(&big, NULL)), 3000);
    skt_jw_free(&big);
}
END_TEST

/* Numbers as JavaScript's JSON.stringify writes them (the table is node 20's output), and
 * for random doubles: read back as the same double, in no more digits than needed. */
START_TEST(test_jw_numbers_as_javascript)
{
    static const struct {
        double d;
        const char *js;
    } cases[] = {
        {0.10000000000000001, "0.1"},
        {1.0000000000000000, "1"},
        {-1.5000000000000000, "-1.5"},
        {1.0000000000000000e+21, "1e+21"},
        {1.0000000000000000e+20, "100000000000000000000"},
        {1.2345678901234568e+20, "123456789012345680000"},
        {4.9999999999999998e-7, "5e-7"},
        {9.9999999999999995e-7, "0.000001"},
        {0.0000012340000000000000, "0.000001234"},
        {-0.0, "0"},
        {0.30000000000000004, "0.30000000000000004"},
        {1.7976931348623157e+308, "1.7976931348623157e+308"},
        {4.9406564584124654e-324, "5e-324"},
        {2.2250738585072014e-308, "2.2250738585072014e-308"},
        {123.45600000000000, "123.456"},
        {-9007199254740992.0, "-9007199254740992"},
        {1.0000000000000000e+100, "1e+100"},
        {4.3499999999999996, "4.35"},
        {100.00000000000000, "100"},
        {0.50000000000000000, "0.5"},
        {0.33333333333333331, "0.3333333333333333"},
        {0.66666666666666663, "0.6666666666666666"},
        {9.9999999999999995e-8, "1e-7"},
        {12345678.900000000, "12345678.9"},
        {987654321000000.00, "987654321000000"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        SKT_JW_ON_STACK(w, 8);
        skt_jw_real(&w, cases[i].d);
        char *t = take(&w);
        ck_assert_msg(strcmp(t, cases[i].js) == 0, "%.17g: %s, not %s", cases[i].d, t, cases[i].js);
        free(t);
    }
    unsigned long long bits = 88172645463325252ULL;
    for (int i = 0; i < 20000; i++) {
        bits ^= bits << 13, bits ^= bits >> 7, bits ^= bits << 17;
        double d;
        memcpy(&d, &bits, sizeof(d));
        if (d != d || d - d != 0)
            continue; /* NaN, infinities */
        SKT_JW_ON_STACK(w, 8);
        skt_jw_real(&w, d);
        char *t = take(&w);
        ck_assert_msg(strtod(t, NULL) == d, "%.17g written as %s", d, t);
        size_t digits = strspn(t + (t[0] == '-'), "0123456789.");
        if (strchr(t, 'e') && digits > 2) { /* one digit fewer does not read back */
            char fewer[40];
            snprintf(fewer, sizeof(fewer), "%.*e", (int)digits - 3, d);
            ck_assert_msg(strtod(fewer, NULL) != d, "%.17g written as %s, but %s reads back", d, t,
                          fewer);
        }
        free(t);
    }
    /* a client's data object: its text as JavaScript would relay it */
    json_t *data = json_loads("{\"a\":0.1,\"b\":1.0,\"c\":1e21,\"d\":-0.0,\"e\":[5e-7,-0],"
                              "\"f\":12345678901234567,\"g\":\"\\u001f\"}",
                              0, NULL);
    ck_assert_ptr_nonnull(data);
    size_t len = 0;
    char *t = skt_jw_dump(data, &len);
    ck_assert_str_eq(t, "{\"a\":0.1,\"b\":1,\"c\":1e+21,\"d\":0,\"e\":[5e-7,0],"
                        "\"f\":12345678901234567,\"g\":\"\\u001F\"}");
    ck_assert_uint_eq(len, strlen(t));
    ck_assert_uint_eq(skt_jw_json_len(data), len); /* counted without being written */
    free(t);
    json_decref(data);
}
END_TEST

START_TEST(test_msg_fixed_shapes)
{
    SKT_JW_ON_STACK(w, 64);
    skt_msg_connection_established(&w, "123.456", 30);
    same(take(&w), strdup("{\"event\":\"pusher:connection_established\","
                          "\"data\":\"{\\\"socket_id\\\":\\\"123.456\\\","
                          "\\\"activity_timeout\\\":30}\"}"));
}
END_TEST

START_TEST(test_msg_against_jansson)
{
    unsigned seed = 7;
    for (int i = 0; i < 500; i++) {
        char *ch = rand_utf8(&seed, 30), *m = rand_utf8(&seed, 40), *ty = rand_utf8(&seed, 10);
        char *uid = rand_utf8(&seed, 20);
        SKT_JW_ON_STACK(w, 32);

        skt_msg_error(&w, NULL, 0, 4009, m);
        same(take(&w), dump(json_pack("{s:s, s:{s:i, s:s}}", "event", "pusher:error", "data",
                                      "code", 4009, "message", m)));
        skt_jw_init(&w, w_stack, sizeof(w_stack), 0);
        skt_msg_error(&w, ch, strlen(ch), 0, m);
        same(take(&w), dump(json_pack("{s:s, s:s, s:{s:n, s:s}}", "event", "pusher:error",
                                      "channel", ch, "data", "code", "message", m)));
        skt_jw_init(&w, w_stack, sizeof(w_stack), 0);
        skt_msg_subscription_error(&w, ch, strlen(ch), ty, m, 401);
        same(take(&w),
             dump(json_pack("{s:s, s:s, s:{s:s, s:s, s:i}}", "event", "pusher:subscription_error",
                            "channel", ch, "data", "type", ty, "error", m, "status", 401)));
        skt_jw_init(&w, w_stack, sizeof(w_stack), 0);
        skt_msg_subscription_error(&w, ch, strlen(ch), NULL, m, 4009);
        same(take(&w),
             dump(json_pack("{s:s, s:s, s:{s:s, s:i}}", "event", "pusher:subscription_error",
                            "channel", ch, "data", "error", m, "status", 4009)));
        skt_jw_init(&w, w_stack, sizeof(w_stack), 0);
        skt_msg_subscription_succeeded(&w, ch, strlen(ch));
        same(take(&w), dump(json_pack("{s:s, s:s}", "event",
                                      "pusher_internal:subscription_succeeded", "channel", ch)));
        skt_jw_init(&w, w_stack, sizeof(w_stack), 0);
        skt_msg_cache_miss(&w, ch, strlen(ch));
        same(take(&w), dump(json_pack("{s:s, s:s}", "event", "pusher:cache_miss", "channel", ch)));

        /* member events: data is JSON text inside a string */
        char *info = dump(json_pack("{s:s, s:i}", "name", m, "n", i));
        skt_jw_init(&w, w_stack, sizeof(w_stack), 0);
        skt_msg_member(&w, "pusher_internal:member_added", ch, uid, 0, info);
        char *inner = dump(json_pack("{s:s, s:o}", "user_id", uid, "user_info",
                                     json_loads(info, JSON_DECODE_ANY, NULL)));
        same(take(&w), dump(json_pack("{s:s, s:s, s:s}", "event", "pusher_internal:member_added",
                                      "channel", ch, "data", inner)));
        free(inner);
        skt_jw_init(&w, w_stack, sizeof(w_stack), 0);
        skt_msg_member(&w, "pusher_internal:member_removed", ch, uid, 0, NULL);
        inner = dump(json_pack("{s:s}", "user_id", uid));
        same(take(&w), dump(json_pack("{s:s, s:s, s:s}", "event", "pusher_internal:member_removed",
                                      "channel", ch, "data", inner)));
        free(inner);

        /* an event with data and a user id, as a client event is relayed */
        json_t *data = json_pack("{s:s, s:[i, s]}", "text", m, "list", i, ty);
        skt_jw_init(&w, w_stack, sizeof(w_stack), 0);
        skt_msg_event_begin(&w, "client-x", 8, ch, strlen(ch));
        skt_msg_data_json(&w, data);
        skt_msg_event_end(&w, uid, strlen(uid), 0);
        same(take(&w), dump(json_pack("{s:s, s:s, s:O, s:s}", "event", "client-x", "channel", ch,
                                      "data", data, "user_id", uid)));
        skt_jw_init(&w, w_stack, sizeof(w_stack), 0);
        skt_msg_signin_success(&w, data);
        same(take(&w),
             dump(json_pack("{s:s, s:O}", "event", "pusher:signin_success", "data", data)));
        json_decref(data);
        free(info);
        free(ch);
        free(m);
        free(ty);
        free(uid);
    }
}
END_TEST

/* A typed id as jansson would write it: an integer when claimed and it is one. */
static json_t *
id_value(const char *id, int number)
{
    char *end;
    long long v = strtoll(id, &end, 10);
    int digits = *id && *end == '\0' && strspn(id + (*id == '-'), "0123456789") > 0;
    return number && digits && strlen(id) < 20 ? json_integer(v) : json_string(id);
}

/* The presence list as the protocol built it: ids in first-seen order (with the type first
 * seen), the last info of each, the joining member appended when new. */
static char *
presence_reference(const char *channel, const soketi_typed_member_t *members, size_t n,
                   const soketi_typed_member_t *self)
{
    int known = 0;
    json_t *ids = json_array(), *hash = json_object();
    for (size_t i = 0; i < n; i++) {
        if (strcmp(members[i].user_id, self->user_id) == 0)
            known = 1;
        json_t *info = json_loads(members[i].user_info, JSON_DECODE_ANY, NULL);
        if (!json_object_get(hash, members[i].user_id))
            json_array_append_new(ids, id_value(members[i].user_id, members[i].id_is_number));
        json_object_set_new(hash, members[i].user_id, info ? info : json_null());
    }
    if (!known) {
        json_array_append_new(ids, id_value(self->user_id, self->id_is_number));
        json_object_set_new(hash, self->user_id,
                            json_loads(self->user_info, JSON_DECODE_ANY, NULL));
    }
    char *data = dump(json_pack("{s:{s:o, s:o, s:I}}", "presence", "ids", ids, "hash", hash,
                                "count", (json_int_t)json_array_size(ids)));
    char *msg = dump(json_pack("{s:s, s:s, s:s}", "event", "pusher_internal:subscription_succeeded",
                               "channel", channel, "data", data));
    free(data);
    return msg;
}

START_TEST(test_msg_presence_list)
{
    unsigned seed = 11;
    for (int round = 0; round < 300; round++) {
        size_t n = (size_t)(rand_r(&seed) % 6);
        soketi_typed_member_t members[6];
        char *ids[6], *infos[6];
        static const char *const fixed[] = {"u1", "42", "-7", "12345678901234567890", "4x2"};
        for (size_t i = 0; i < n; i++) {
            /* few distinct ids, so duplicates (a user on two nodes) are common; numeric
             * claims on texts that are (and are not) integers */
            int r = rand_r(&seed) % 7;
            ids[i] = r < 5 ? strdup(fixed[r]) : rand_utf8(&seed, 6);
            infos[i] = rand_r(&seed) % 3 ? dump(json_pack("{s:i}", "v", rand_r(&seed) % 100))
                                         : strdup("null");
            members[i] = (soketi_typed_member_t){
                .user_id = ids[i], .user_info = infos[i], .id_is_number = rand_r(&seed) % 2};
        }
        soketi_typed_member_t self = {rand_r(&seed) % 2 ? "u1" : "42", "{\"me\":true}",
                                      rand_r(&seed) % 2};
        SKT_JW_ON_STACK(w, 32);
        ck_assert_int_eq(skt_msg_presence_succeeded(&w, "presence-x", members, n, &self), 0);
        same(take(&w), presence_reference("presence-x", members, n, &self));
        for (size_t i = 0; i < n; i++) {
            free(ids[i]);
            free(infos[i]);
        }
    }
}
END_TEST

/* Numeric ids go out as numbers (as soketi sends what the application gave), everywhere a
 * member's id is written; a text that is no integer stays a string whatever is claimed. */
START_TEST(test_msg_typed_ids)
{
    SKT_JW_ON_STACK(w, 32);
    skt_msg_member(&w, "pusher_internal:member_added", "presence-a", "42", 1, "{\"n\":1}");
    same(take(&w),
         dump(json_pack("{s:s, s:s, s:s}", "event", "pusher_internal:member_added", "channel",
                        "presence-a", "data", "{\"user_id\":42,\"user_info\":{\"n\":1}}")));
    skt_jw_init(&w, w_stack, sizeof(w_stack), 0);
    skt_msg_member(&w, "pusher_internal:member_removed", "presence-a", "-42", 1, NULL);
    same(take(&w), dump(json_pack("{s:s, s:s, s:s}", "event", "pusher_internal:member_removed",
                                  "channel", "presence-a", "data", "{\"user_id\":-42}")));
    skt_jw_init(&w, w_stack, sizeof(w_stack), 0);
    skt_msg_member(&w, "pusher_internal:member_removed", "presence-a", "1,\"x\":2", 1, NULL);
    same(take(&w),
         dump(json_pack("{s:s, s:s, s:s}", "event", "pusher_internal:member_removed", "channel",
                        "presence-a", "data", "{\"user_id\":\"1,\\\"x\\\":2\"}")));
    skt_jw_init(&w, w_stack, sizeof(w_stack), 0);
    skt_msg_event_begin(&w, "client-x", 8, "presence-a", 10);
    skt_msg_event_end(&w, "7", 1, 1);
    same(take(&w), dump(json_pack("{s:s, s:s, s:i}", "event", "client-x", "channel", "presence-a",
                                  "user_id", 7)));
}
END_TEST

START_TEST(test_msg_watchlist)
{
    const char *on[] = {"a", "b\"c"}, *off[] = {"d"};
    SKT_JW_ON_STACK(w, 32);
    skt_msg_watchlist_events(&w, on, 2, off, 1);
    char *data = dump(json_pack("{s:[{s:s, s:[s, s]}, {s:s, s:[s]}]}", "events", "name", "online",
                                "user_ids", "a", "b\"c", "name", "offline", "user_ids", "d"));
    char *want =
        dump(json_pack("{s:s, s:s}", "event", "pusher_internal:watchlist_events", "data", data));
    free(data);
    same(take(&w), want);
    skt_jw_init(&w, w_stack, sizeof(w_stack), 0);
    skt_msg_watchlist_events(&w, NULL, 0, off, 1);
    data = dump(json_pack("{s:[{s:s, s:[s]}]}", "events", "name", "offline", "user_ids", "d"));
    want = dump(json_pack("{s:s, s:s}", "event", "pusher_internal:watchlist_events", "data", data));
    free(data);
    same(take(&w), want);
    skt_jw_init(&w, w_stack, sizeof(w_stack), 0);
    skt_msg_pong(&w);
    same(take(&w), dump(json_pack("{s:s, s:{}}", "event", "pusher:pong", "data")));
}
END_TEST

static Suite *
message_suite(void)
{
    Suite *s = suite_create("message");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_jw_escapes_as_jansson);
    tcase_add_test(tc, test_jw_limits);
    tcase_add_test(tc, test_jw_numbers_as_javascript);
    tcase_add_test(tc, test_msg_typed_ids);
    tcase_add_test(tc, test_jw_lower_hex);
    tcase_add_test(tc, test_msg_fixed_shapes);
    tcase_add_test(tc, test_msg_against_jansson);
    tcase_add_test(tc, test_msg_presence_list);
    tcase_add_test(tc, test_msg_watchlist);
    suite_add_tcase(s, tc);
    return s;
}

SKT_CHECK_MAIN(message_suite)
