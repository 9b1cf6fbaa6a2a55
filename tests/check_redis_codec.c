/* check_redis_codec.c - unit tests for the redis adapter's soketi wire codec and the
 * merging of peers' answers (plugins/redis/codec.c, plugins/redis/horizontal.c).
 *
 * The expected texts are what soketi 1.6's horizontal adapter writes with JSON.stringify
 * (key order included), so that a soketi node reads ours and we read its; the decoders
 * are fed soketi's shapes and every kind of garbage a Redis channel may carry.
 */
#include "check_main.h"
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "horizontal.h"

/* Encodes with f into a fresh buffer and compares with the expected text. */
#define ASSERT_TEXT(b, expected)                                                                   \
    do {                                                                                           \
        ck_assert_int_eq((b).failed, 0);                                                           \
        ck_assert_str_eq((b).p, (expected));                                                       \
        ck_assert_uint_eq((b).len, strlen(expected));                                              \
    } while (0)

/* ---- encoding ------------------------------------------------------------------------ */

START_TEST(broadcast_encode_matches_soketi)
{
    skt_jw_t b = SKT_RC_WRITER;
    const char *msg = "{\"event\":\"e\",\"channel\":\"c\",\"data\":\"{\\\"x\\\":1}\"}";
    skt_rc_encode_broadcast(&b, "node-1", "app-id", "c", msg, strlen(msg), "1.2");
    ASSERT_TEXT(b, "{\"uuid\":\"node-1\",\"appId\":\"app-id\",\"channel\":\"c\",\"data\":"
                   "\"{\\\"event\\\":\\\"e\\\",\\\"channel\\\":\\\"c\\\",\\\"data\\\":"
                   "\\\"{\\\\\\\"x\\\\\\\":1}\\\"}\",\"exceptingId\":\"1.2\"}");
    skt_jw_trim(&b, 1 << 20);
    skt_rc_encode_broadcast(&b, "n", "a", "c", "{}", 2, NULL);
    ASSERT_TEXT(b, "{\"uuid\":\"n\",\"appId\":\"a\",\"channel\":\"c\",\"data\":\"{}\","
                   "\"exceptingId\":null}");
    skt_jw_trim(&b, 1 << 20);
    skt_rc_encode_broadcast(&b, "n", "a", "c", "{}", 2, "");
    ck_assert_ptr_nonnull(strstr(b.p, "\"exceptingId\":null"));
    skt_jw_free(&b);
}
END_TEST

START_TEST(string_escaping)
{
    skt_jw_t b = SKT_RC_WRITER;
    const char raw[] = "a\"b\\c\n\r\t\b\f\x01\x1f\xc3\xa9/";
    skt_jw_str(&b, raw, sizeof(raw) - 1);
    ASSERT_TEXT(b, "\"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u001f\xc3\xa9/\"");
    /* and it parses back to the same bytes */
    json_t *j = json_loadb(b.p, b.len, JSON_DECODE_ANY, NULL);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(json_string_value(j), raw);
    json_decref(j);
    skt_jw_free(&b);
}
END_TEST

START_TEST(request_encode_matches_soketi)
{
    skt_jw_t b = SKT_RC_WRITER;
    skt_rc_encode_request(&b, "r1", "app", SKT_RC_SOCKETS_COUNT, NULL, NULL, NULL, NULL);
    ASSERT_TEXT(b, "{\"requestId\":\"r1\",\"appId\":\"app\",\"type\":4}");
    skt_jw_trim(&b, 0);
    skt_rc_encode_request(&b, "r2", "app", SKT_RC_CHANNEL_MEMBERS, "presence-x", NULL, NULL, NULL);
    ASSERT_TEXT(b, "{\"requestId\":\"r2\",\"appId\":\"app\",\"type\":3,"
                   "\"opts\":{\"channel\":\"presence-x\"}}");
    skt_jw_trim(&b, 0);
    skt_rc_encode_request(&b, "r3", "app", SKT_RC_SOCKET_EXISTS_IN_CHANNEL, "c", "1.2", NULL, NULL);
    ASSERT_TEXT(b, "{\"requestId\":\"r3\",\"appId\":\"app\",\"type\":7,"
                   "\"opts\":{\"channel\":\"c\",\"wsId\":\"1.2\"}}");
    skt_jw_trim(&b, 0);
    skt_rc_encode_request(&b, "r4", "app", SKT_RC_TERMINATE_USER_CONNECTIONS, NULL, NULL, "u",
                          NULL);
    ASSERT_TEXT(b, "{\"requestId\":\"r4\",\"appId\":\"app\",\"type\":9,"
                   "\"opts\":{\"userId\":\"u\"}}");
    /* ours name their sender last (soketi reads the keys it knows and ignores the rest) */
    skt_jw_trim(&b, 0);
    skt_rc_encode_request(&b, "r5", "app", SKT_RC_CHANNEL_SOCKETS_COUNT, "c", NULL, NULL, "node-1");
    ASSERT_TEXT(b, "{\"requestId\":\"r5\",\"appId\":\"app\",\"type\":6,"
                   "\"opts\":{\"channel\":\"c\"},\"uuid\":\"node-1\"}");
    skt_jw_trim(&b, 0);
    skt_rc_encode_request(&b, "r6", "app", SKT_RC_SOCKETS, NULL, NULL, NULL, "node-1");
    ASSERT_TEXT(b, "{\"requestId\":\"r6\",\"appId\":\"app\",\"type\":0,\"uuid\":\"node-1\"}");
    skt_jw_free(&b);
}
END_TEST

START_TEST(response_encode_matches_soketi)
{
    skt_jw_t b = SKT_RC_WRITER;
    skt_rc_response_begin(&b, "r");
    skt_rc_response_total(&b, 42);
    skt_rc_response_end(&b);
    ASSERT_TEXT(b, "{\"requestId\":\"r\",\"totalCount\":42}");

    skt_jw_trim(&b, 0);
    skt_rc_response_begin(&b, "r");
    skt_rc_response_exists(&b, 0);
    skt_rc_response_end(&b);
    ASSERT_TEXT(b, "{\"requestId\":\"r\",\"exists\":false}");

    /* members: [...Map] -> [[id, info], ...] */
    skt_jw_trim(&b, 0);
    skt_rc_response_begin(&b, "r");
    skt_rc_response_list_begin(&b, "members");
    skt_rc_response_member(&b, "alice", 0, "{\"name\":\"A\"}");
    skt_rc_response_member(&b, "bob", 0, NULL);
    skt_rc_response_list_end(&b);
    skt_rc_response_end(&b);
    ASSERT_TEXT(b, "{\"requestId\":\"r\",\"members\":[[\"alice\",{\"name\":\"A\"}],[\"bob\","
                   "null]]}");

    /* numeric ids as soketi's nodes send them; a false claim stays a string */
    skt_jw_trim(&b, 0);
    skt_rc_response_begin(&b, "r");
    skt_rc_response_list_begin(&b, "members");
    skt_rc_response_member(&b, "42", 1, "{}");
    skt_rc_response_member(&b, "42", 0, "{}");
    skt_rc_response_member(&b, "4]", 1, NULL);
    skt_rc_response_list_end(&b);
    skt_rc_response_end(&b);
    ASSERT_TEXT(b, "{\"requestId\":\"r\",\"members\":[[42,{}],[\"42\",{}],[\"4]\",null]]}");

    /* channels with counts, and an empty list */
    skt_jw_trim(&b, 0);
    skt_rc_response_begin(&b, "r");
    skt_rc_response_list_begin(&b, "channelsWithSocketsCount");
    skt_rc_response_channel_count(&b, "a", 1);
    skt_rc_response_channel_count(&b, "b", 2);
    skt_rc_response_list_end(&b);
    skt_rc_response_end(&b);
    ASSERT_TEXT(b, "{\"requestId\":\"r\",\"channelsWithSocketsCount\":[[\"a\",1],[\"b\",2]]}");
    skt_jw_trim(&b, 0);
    skt_rc_response_begin(&b, "r");
    skt_rc_response_list_begin(&b, "channelsWithSocketsCount");
    skt_rc_response_list_end(&b);
    skt_rc_response_end(&b);
    ASSERT_TEXT(b, "{\"requestId\":\"r\",\"channelsWithSocketsCount\":[]}");

    /* channels: [...Map<string, Set>] -> [[channel, [ids]], ...] */
    skt_jw_trim(&b, 0);
    skt_rc_response_begin(&b, "r");
    skt_rc_response_list_begin(&b, "channels");
    skt_rc_response_channel_begin(&b, "a");
    skt_rc_response_id(&b, "1.1");
    skt_rc_response_id(&b, "1.2");
    skt_rc_response_channel_end(&b);
    skt_rc_response_channel_begin(&b, "b");
    skt_rc_response_channel_end(&b);
    skt_rc_response_list_end(&b);
    skt_rc_response_end(&b);
    ASSERT_TEXT(b, "{\"requestId\":\"r\",\"channels\":[[\"a\",[\"1.1\",\"1.2\"]],[\"b\",[]]]}");

    /* sockets: a socket's Set and Map fields stringify to {} */
    skt_jw_trim(&b, 0);
    skt_rc_response_begin(&b, "r");
    skt_rc_response_list_begin(&b, "sockets");
    skt_rc_response_socket(&b, "1.1");
    skt_rc_response_list_end(&b);
    skt_rc_response_end(&b);
    ASSERT_TEXT(b, "{\"requestId\":\"r\",\"sockets\":[{\"id\":\"1.1\",\"subscribedChannels\":{},"
                   "\"presence\":{}}]}");

    /* terminate: just the id */
    skt_jw_trim(&b, 0);
    skt_rc_response_begin(&b, "r");
    skt_rc_response_end(&b);
    ASSERT_TEXT(b, "{\"requestId\":\"r\"}");
    skt_jw_free(&b);
}
END_TEST

START_TEST(buffer_reset_keeps_or_frees)
{
    skt_jw_t b = SKT_RC_WRITER;
    skt_jw_raw(&b, "hello", 5);
    char *p = b.p;
    skt_jw_trim(&b, 1024);
    ck_assert_ptr_eq(b.p, p);
    ck_assert_uint_eq(b.len, 0);
    skt_jw_raw(&b, "x", 1);
    skt_jw_trim(&b, 1);
    ck_assert_ptr_null(b.p);
    skt_jw_free(&b);
}
END_TEST

/* ---- decoding: what soketi sends ------------------------------------------------------ */

START_TEST(broadcast_decode_soketi)
{
    const char *t = "{\"uuid\":\"5f0c\",\"appId\":\"app-id\",\"channel\":\"ch\",\"data\":"
                    "\"{\\\"event\\\":\\\"e\\\"}\",\"exceptingId\":null}";
    skt_rc_broadcast_t m;
    ck_assert_int_eq(skt_rc_decode_broadcast(t, strlen(t), &m), 0);
    ck_assert_str_eq(m.uuid, "5f0c");
    ck_assert_str_eq(m.app_id, "app-id");
    ck_assert_str_eq(m.channel, "ch");
    ck_assert_str_eq(m.data, "{\"event\":\"e\"}");
    ck_assert_uint_eq(m.data_len, strlen("{\"event\":\"e\"}"));
    ck_assert_ptr_null(m.except);
    skt_rc_broadcast_clear(&m);

    /* exceptingId absent (the HTTP API without socket_id) or set; numeric appId */
    t = "{\"uuid\":\"u\",\"appId\":123,\"channel\":\"ch\",\"data\":\"{}\",\"exceptingId\":\"9.9\"}";
    ck_assert_int_eq(skt_rc_decode_broadcast(t, strlen(t), &m), 0);
    ck_assert_str_eq(m.app_id, "123");
    ck_assert_str_eq(m.except, "9.9");
    skt_rc_broadcast_clear(&m);
    t = "{\"appId\":\"a\",\"channel\":\"ch\",\"data\":\"{}\"}";
    ck_assert_int_eq(skt_rc_decode_broadcast(t, strlen(t), &m), 0);
    ck_assert_str_eq(m.uuid, "");
    ck_assert_ptr_null(m.except);
    skt_rc_broadcast_clear(&m);

    /* data as an object is re-serialised */
    t = "{\"uuid\":\"u\",\"appId\":\"a\",\"channel\":\"ch\",\"data\":{\"event\":\"e\"}}";
    ck_assert_int_eq(skt_rc_decode_broadcast(t, strlen(t), &m), 0);
    ck_assert_str_eq(m.data, "{\"event\":\"e\"}");
    skt_rc_broadcast_clear(&m);
}
END_TEST

START_TEST(broadcast_roundtrip)
{
    skt_jw_t b = SKT_RC_WRITER;
    const char *msg = "{\"event\":\"x\",\"data\":\"\\u00e9\\n\\\"q\\\"\"}";
    skt_rc_encode_broadcast(&b, "me", "app", "private-c", msg, strlen(msg), "1.1");
    skt_rc_broadcast_t m;
    ck_assert_int_eq(skt_rc_decode_broadcast(b.p, b.len, &m), 0);
    ck_assert_str_eq(m.uuid, "me");
    ck_assert_str_eq(m.channel, "private-c");
    ck_assert_str_eq(m.data, msg);
    ck_assert_str_eq(m.except, "1.1");
    skt_rc_broadcast_clear(&m);
    skt_jw_free(&b);
}
END_TEST

START_TEST(broadcast_decode_rejects_garbage)
{
    static const char *const bad[] = {
        "",
        "garbage",
        "[]",
        "null",
        "42",
        "\"string\"",
        "{",
        "{}",
        "{\"appId\":\"a\",\"channel\":\"c\"}",                /* no data */
        "{\"appId\":\"a\",\"channel\":\"c\",\"data\":\"\"}",  /* empty data */
        "{\"appId\":\"a\",\"channel\":\"c\",\"data\":5}",     /* data not text */
        "{\"appId\":\"a\",\"channel\":\"\",\"data\":\"{}\"}", /* empty channel */
        "{\"appId\":\"a\",\"channel\":7,\"data\":\"{}\"}",
        "{\"appId\":null,\"channel\":\"c\",\"data\":\"{}\"}",
        "{\"appId\":[],\"channel\":\"c\",\"data\":\"{}\"}",
        "{\"appId\":\"a\",\"channel\":\"c\",\"data\":\"{}\"} trailing",
        "{\"appId\":\"\xff\xfe\",\"channel\":\"c\",\"data\":\"{}\"}", /* invalid UTF-8 */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        skt_rc_broadcast_t m;
        ck_assert_msg(skt_rc_decode_broadcast(bad[i], strlen(bad[i]), &m) == -1, "accepted %s",
                      bad[i]);
        ck_assert_ptr_null(m.root);
    }
    skt_rc_broadcast_t m;
    ck_assert_int_eq(skt_rc_decode_broadcast(NULL, 0, &m), -1);
    /* length is honoured: a valid prefix of a longer buffer */
    const char *t = "{\"appId\":\"a\",\"channel\":\"c\",\"data\":\"{}\"}XXXX";
    ck_assert_int_eq(skt_rc_decode_broadcast(t, strlen(t) - 4, &m), 0);
    skt_rc_broadcast_clear(&m);
}
END_TEST

START_TEST(request_decode_soketi)
{
    skt_rc_request_t r;
    const char *t = "{\"requestId\":\"abc\",\"appId\":\"app\",\"type\":6,"
                    "\"opts\":{\"channel\":\"c\"}}";
    ck_assert_int_eq(skt_rc_decode_request(t, strlen(t), &r), 0);
    ck_assert_str_eq(r.request_id, "abc");
    ck_assert_str_eq(r.app_id, "app");
    ck_assert_int_eq(r.type, SKT_RC_CHANNEL_SOCKETS_COUNT);
    ck_assert_str_eq(r.channel, "c");
    ck_assert_ptr_null(r.ws_id);
    skt_rc_request_clear(&r);

    t = "{\"requestId\":\"abc\",\"appId\":\"app\",\"type\":8}";
    ck_assert_int_eq(skt_rc_decode_request(t, strlen(t), &r), 0);
    ck_assert_int_eq(r.type, SKT_RC_CHANNELS_WITH_SOCKETS_COUNT);
    ck_assert_ptr_null(r.channel);
    skt_rc_request_clear(&r);

    t = "{\"requestId\":\"abc\",\"appId\":\"app\",\"type\":7,"
        "\"opts\":{\"channel\":\"c\",\"wsId\":\"1.1\"}}";
    ck_assert_int_eq(skt_rc_decode_request(t, strlen(t), &r), 0);
    ck_assert_str_eq(r.ws_id, "1.1");
    skt_rc_request_clear(&r);

    /* a numeric user id (soketi's userId may be a number) */
    t = "{\"requestId\":\"abc\",\"appId\":\"app\",\"type\":9,\"opts\":{\"userId\":17}}";
    ck_assert_int_eq(skt_rc_decode_request(t, strlen(t), &r), 0);
    ck_assert_str_eq(r.user_id, "17");
    skt_rc_request_clear(&r);

    /* our own encoding decodes */
    skt_jw_t b = SKT_RC_WRITER;
    skt_rc_encode_request(&b, "id", "app", SKT_RC_CHANNEL_MEMBERS, "presence-1", NULL, NULL,
                          "node-1");
    ck_assert_int_eq(skt_rc_decode_request(b.p, b.len, &r), 0);
    ck_assert_int_eq(r.type, SKT_RC_CHANNEL_MEMBERS);
    ck_assert_str_eq(r.channel, "presence-1");
    ck_assert_str_eq(r.uuid, "node-1");
    skt_rc_request_clear(&r);
    skt_jw_free(&b);
}
END_TEST

START_TEST(request_decode_rejects_garbage)
{
    static const char *const bad[] = {
        "",
        "nope",
        "[1,2]",
        "{}",
        "{\"requestId\":\"r\",\"appId\":\"a\"}",                /* no type */
        "{\"requestId\":\"r\",\"appId\":\"a\",\"type\":\"4\"}", /* type as text */
        "{\"requestId\":\"r\",\"appId\":\"a\",\"type\":10}",    /* unknown type */
        "{\"requestId\":\"r\",\"appId\":\"a\",\"type\":-1}",
        "{\"requestId\":\"r\",\"appId\":\"a\",\"type\":4.5}",
        "{\"requestId\":\"\",\"appId\":\"a\",\"type\":4}", /* empty id */
        "{\"requestId\":5,\"appId\":\"a\",\"type\":4}",
        "{\"requestId\":\"r\",\"type\":4}",                 /* no app */
        "{\"requestId\":\"r\",\"appId\":\"a\",\"type\":6}", /* no opts */
        "{\"requestId\":\"r\",\"appId\":\"a\",\"type\":6,\"opts\":5}",
        "{\"requestId\":\"r\",\"appId\":\"a\",\"type\":6,\"opts\":{}}",
        "{\"requestId\":\"r\",\"appId\":\"a\",\"type\":6,\"opts\":{\"channel\":1}}",
        "{\"requestId\":\"r\",\"appId\":\"a\",\"type\":7,\"opts\":{\"channel\":\"c\"}}",
        "{\"requestId\":\"r\",\"appId\":\"a\",\"type\":9,\"opts\":{}}",
        "{\"requestId\":\"r\",\"appId\":\"a\",\"type\":9,\"opts\":{\"userId\":{}}}",
        "{\"requestId\":\"r\",\"appId\":\"a\",\"type\":9}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        skt_rc_request_t r;
        ck_assert_msg(skt_rc_decode_request(bad[i], strlen(bad[i]), &r) == -1, "accepted %s",
                      bad[i]);
        ck_assert_ptr_null(r.root);
    }
}
END_TEST

START_TEST(response_decode_rejects_garbage)
{
    static const char *const bad[] = {
        "", "x", "[]", "{}", "{\"requestId\":null}", "{\"requestId\":\"\"}", "{\"totalCount\":1}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        skt_rc_response_t r;
        ck_assert_msg(skt_rc_decode_response(bad[i], strlen(bad[i]), &r) == -1, "accepted %s",
                      bad[i]);
        ck_assert_ptr_null(r.root);
    }
    /* a result field of the wrong type, or a count out of range, makes the whole answer
     * malformed: a node that sends it is broken or hostile */
    static const char *const malformed[] = {
        "{\"requestId\":\"r\",\"totalCount\":\"5\"}",
        "{\"requestId\":\"r\",\"totalCount\":null}",
        "{\"requestId\":\"r\",\"totalCount\":true}",
        "{\"requestId\":\"r\",\"totalCount\":[1]}",
        "{\"requestId\":\"r\",\"totalCount\":-1}",
        "{\"requestId\":\"r\",\"totalCount\":-0.5}",
        "{\"requestId\":\"r\",\"totalCount\":1.5}",
        "{\"requestId\":\"r\",\"totalCount\":1000000001}",
        "{\"requestId\":\"r\",\"totalCount\":9223372036854775807}",
        "{\"requestId\":\"r\",\"totalCount\":-9223372036854775808}",
        "{\"requestId\":\"r\",\"totalCount\":1e300}",
        "{\"requestId\":\"r\",\"totalCount\":-1e300}",
        "{\"requestId\":\"r\",\"totalCount\":1e10}",
        "{\"requestId\":\"r\",\"exists\":1}",
        "{\"requestId\":\"r\",\"exists\":\"true\"}",
        "{\"requestId\":\"r\",\"exists\":null}",
        "{\"requestId\":\"r\",\"members\":{}}",
        "{\"requestId\":\"r\",\"members\":null}",
        "{\"requestId\":\"r\",\"sockets\":\"x\"}",
        "{\"requestId\":\"r\",\"channelsWithSocketsCount\":null}",
        "{\"requestId\":\"r\",\"channelsWithSocketsCount\":5}",
        "{\"requestId\":5,\"totalCount\":1}",
    };
    for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
        skt_rc_response_t r;
        ck_assert_msg(skt_rc_decode_response(malformed[i], strlen(malformed[i]), &r) == -1,
                      "accepted %s", malformed[i]);
        ck_assert_ptr_null(r.root);
    }
}
END_TEST

/* Counts at the edge of the range: taken exactly; JavaScript's integral doubles too. */
START_TEST(response_decode_counts_in_range)
{
    static const struct {
        const char *text;
        long long total;
    } ok[] = {
        {"{\"requestId\":\"r\",\"totalCount\":0}", 0},
        {"{\"requestId\":\"r\",\"totalCount\":-0}", 0},
        {"{\"requestId\":\"r\",\"totalCount\":1000000000}", SKT_RC_COUNT_MAX},
        {"{\"requestId\":\"r\",\"totalCount\":3.0}", 3},
        {"{\"requestId\":\"r\",\"totalCount\":1e9}", SKT_RC_COUNT_MAX},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        skt_rc_response_t r;
        ck_assert_msg(skt_rc_decode_response(ok[i].text, strlen(ok[i].text), &r) == 0,
                      "rejected %s", ok[i].text);
        ck_assert_int_eq(r.has_total, 1);
        ck_assert_int_eq(r.total, ok[i].total);
        skt_rc_response_clear(&r);
    }
    /* a channel's count out of range is a malformed item, skipped like a negative one */
    const char *t = "{\"requestId\":\"r\",\"channelsWithSocketsCount\":[[\"a\",1000000000],"
                    "[\"b\",1000000001],[\"c\",9223372036854775807],[\"d\",1e300],"
                    "[\"e\",-9223372036854775808],[\"f\",2.0]]}";
    skt_rc_response_t r;
    ck_assert_int_eq(skt_rc_decode_response(t, strlen(t), &r), 0);
    const char *ch;
    long count;
    ck_assert_int_eq(skt_rc_channel_count_at(&r, 0, &ch, &count), 0);
    ck_assert_int_eq(count, SKT_RC_COUNT_MAX);
    for (size_t i = 1; i < 6; i++)
        ck_assert_int_eq(skt_rc_channel_count_at(&r, i, &ch, &count), -1);
    skt_rc_response_clear(&r);
}
END_TEST

/* ---- what a message may cost ------------------------------------------------------- */

START_TEST(scan_bounds_depth_and_values)
{
    ck_assert_int_eq(skt_rc_scan("", 0, 4, 4), SKT_RC_SCAN_OK);
    ck_assert_int_eq(skt_rc_scan("[[[]]]", 6, 3, 100), SKT_RC_SCAN_OK);
    ck_assert_int_eq(skt_rc_scan("[[[[]]]]", 8, 3, 100), SKT_RC_SCAN_TOO_DEEP);
    /* depth is current nesting, not total brackets */
    ck_assert_int_eq(skt_rc_scan("[[]][[]][[]]", 12, 2, 100), SKT_RC_SCAN_OK);
    /* values: one per ',', '[' and '{', plus one */
    ck_assert_int_eq(skt_rc_scan("[1,2,3]", 7, 8, 4), SKT_RC_SCAN_OK);
    ck_assert_int_eq(skt_rc_scan("[1,2,3,4]", 9, 8, 4), SKT_RC_SCAN_TOO_MANY);
    /* nothing inside strings counts, escaped quotes included */
    const char *s1 = "{\"a\":\"[[[[,,,,{{\\\"[[[\"}";
    ck_assert_int_eq(skt_rc_scan(s1, strlen(s1), 1, 2), SKT_RC_SCAN_OK);
    /* unbalanced closers never underflow */
    ck_assert_int_eq(skt_rc_scan("]]]]}}}[", 8, 1, 100), SKT_RC_SCAN_OK);
    /* a string left open swallows the rest, a lone backslash at the end is fine */
    ck_assert_int_eq(skt_rc_scan("\"[[[[\\", 6, 1, 1), SKT_RC_SCAN_OK);
}
END_TEST

START_TEST(response_id_read_without_parsing)
{
    const char *id;
    const char *t = "{\"requestId\":\"3f1e-ab\",\"totalCount\":1}";
    ck_assert_uint_eq(skt_rc_response_id_prefix(t, strlen(t), &id), 7);
    ck_assert_mem_eq(id, "3f1e-ab", 7);
    /* anything else is for the parser to decide */
    static const char *const other[] = {
        "{\"totalCount\":1,\"requestId\":\"r\"}",
        "{ \"requestId\":\"r\"}",
        "{\"requestId\":\"\"}",
        "{\"requestId\":\"a\\\"b\"}",
        "{\"requestId\":\"r",
        "{\"requestId\":\"",
        "{\"requestId\":1}",
        "",
    };
    for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
        ck_assert_msg(skt_rc_response_id_prefix(other[i], strlen(other[i]), &id) == 0, "read %s",
                      other[i]);
        ck_assert_ptr_null(id);
    }
    /* the length is honoured */
    ck_assert_uint_eq(skt_rc_response_id_prefix(t, 17, &id), 0);
    /* an id longer than 64 bytes is left to the parser */
    char longer[128];
    snprintf(longer, sizeof(longer), "{\"requestId\":\"%065d\"}", 0);
    ck_assert_uint_eq(skt_rc_response_id_prefix(longer, strlen(longer), &id), 0);
    longer[14 + 64] = '"';
    ck_assert_uint_eq(skt_rc_response_id_prefix(longer, strlen(longer), &id), 64);
}
END_TEST

/* ---- merging --------------------------------------------------------------------------- */

/* Decodes text and merges it into acc; returns the number of skipped items. */
static size_t
merge(skt_hz_acc_t *acc, const char *text)
{
    skt_rc_response_t r;
    ck_assert_msg(skt_rc_decode_response(text, strlen(text), &r) == 0, "rejected %s", text);
    size_t skipped = skt_hz_acc_response(acc, &r);
    skt_rc_response_clear(&r);
    return skipped;
}

START_TEST(merge_counts_sum)
{
    skt_hz_acc_t acc;
    skt_hz_acc_init(&acc, SKT_HZ_ACC_COUNT);
    acc.total = 3; /* local */
    merge(&acc, "{\"requestId\":\"r\",\"totalCount\":4}");
    merge(&acc, "{\"requestId\":\"r\",\"totalCount\":0}");
    merge(&acc, "{\"requestId\":\"r\"}"); /* a node that had nothing to say */
    merge(&acc, "{\"requestId\":\"r\",\"members\":[[\"x\",null]]}"); /* wrong field: ignored */
    ck_assert_int_eq(acc.total, 7);
    skt_hz_acc_clear(&acc);
}
END_TEST

/* Sums saturate: however many nodes answer the largest count, or the host's own count is
 * already huge, the total never wraps negative. */
START_TEST(merge_counts_saturate)
{
    skt_hz_acc_t acc;
    skt_hz_acc_init(&acc, SKT_HZ_ACC_COUNT);
    acc.total = LONG_MAX - 5;
    merge(&acc, "{\"requestId\":\"r\",\"totalCount\":1000000000}");
    ck_assert_int_eq(acc.total, LONG_MAX);
    merge(&acc, "{\"requestId\":\"r\",\"totalCount\":1000000000}");
    ck_assert_int_eq(acc.total, LONG_MAX);
    skt_hz_acc_clear(&acc);

    skt_hz_acc_init(&acc, SKT_HZ_ACC_CHANNELS);
    skt_hz_acc_channel(&acc, "a", LONG_MAX - 1);
    merge(&acc, "{\"requestId\":\"r\",\"channelsWithSocketsCount\":[[\"a\",1000000000]]}");
    ck_assert_int_eq(acc.items[0].count, LONG_MAX);
    skt_hz_acc_clear(&acc);

    ck_assert_int_eq(skt_hz_sat_add(LONG_MIN + 1, -5), LONG_MIN);
    ck_assert_int_eq(skt_hz_sat_add(-5, 3), -2);
    ck_assert_int_eq(skt_hz_sat_add(LONG_MAX, LONG_MAX), LONG_MAX);
}
END_TEST

START_TEST(merge_exists_ors)
{
    skt_hz_acc_t acc;
    skt_hz_acc_init(&acc, SKT_HZ_ACC_EXISTS);
    merge(&acc, "{\"requestId\":\"r\",\"exists\":false}");
    ck_assert_int_eq(acc.exists, 0);
    merge(&acc, "{\"requestId\":\"r\",\"exists\":true}");
    merge(&acc, "{\"requestId\":\"r\",\"exists\":false}");
    ck_assert_int_eq(acc.exists, 1);
    skt_hz_acc_clear(&acc);
}
END_TEST

START_TEST(merge_members_by_user_id)
{
    skt_hz_acc_t acc;
    skt_hz_acc_init(&acc, SKT_HZ_ACC_MEMBERS);
    skt_hz_acc_member(&acc, "alice", 0, "{\"n\":\"local\"}");
    /* soketi: numeric ids, a missing user_info, the same user on another node */
    size_t skipped = merge(&acc, "{\"requestId\":\"r\",\"members\":[[\"alice\",{\"n\":\"remote\"}],"
                                 "[7,{\"a\":[1,2]}],[\"bob\"],[\"carol\",null],"
                                 "[null,{}],\"junk\",[],[{},1],[1.5,{}]]}");
    ck_assert_uint_eq(skipped, 5);
    ck_assert_uint_eq(acc.n, 4);
    ck_assert_int_eq(acc.failed, 0);
    ck_assert_str_eq(acc.items[0].key, "alice");
    ck_assert_str_eq(acc.items[0].info, "{\"n\":\"local\"}"); /* first seen wins */
    ck_assert_str_eq(acc.items[1].key, "7");
    ck_assert_int_eq(acc.items[1].id_number, 1); /* a number stays one */
    ck_assert_int_eq(acc.items[0].id_number, 0);
    ck_assert_str_eq(acc.items[1].info, "{\"a\":[1,2]}");
    ck_assert_str_eq(acc.items[2].key, "bob");
    ck_assert_str_eq(acc.items[2].info, "null");
    ck_assert_str_eq(acc.items[3].key, "carol");
    ck_assert_str_eq(acc.items[3].info, "null");
    /* a second node with the same users adds nothing: "7" and 7 are one user (its first
     * type kept) */
    merge(&acc, "{\"requestId\":\"r\",\"members\":[[\"7\",{}],[\"bob\",{}]]}");
    ck_assert_uint_eq(acc.n, 4);
    ck_assert_int_eq(acc.items[1].id_number, 1);
    skt_hz_acc_clear(&acc);
    ck_assert_uint_eq(acc.n, 0);
    ck_assert_int_eq(acc.kind, SKT_HZ_ACC_MEMBERS);
}
END_TEST

START_TEST(merge_channels_sum_per_channel)
{
    skt_hz_acc_t acc;
    skt_hz_acc_init(&acc, SKT_HZ_ACC_CHANNELS);
    skt_hz_acc_channel(&acc, "a", 2);
    size_t skipped = merge(&acc, "{\"requestId\":\"r\",\"channelsWithSocketsCount\":[[\"a\",3],"
                                 "[\"b\",1],[\"c\",\"1\"],[\"\",1],[\"d\",-1],[\"e\"],5]}");
    ck_assert_uint_eq(skipped, 5);
    merge(&acc, "{\"requestId\":\"r\",\"channelsWithSocketsCount\":[[\"b\",4]]}");
    ck_assert_uint_eq(acc.n, 2);
    ck_assert_str_eq(acc.items[0].key, "a");
    ck_assert_int_eq(acc.items[0].count, 5);
    ck_assert_str_eq(acc.items[1].key, "b");
    ck_assert_int_eq(acc.items[1].count, 5);
    skt_hz_acc_clear(&acc);
}
END_TEST

START_TEST(merge_socket_ids_distinct)
{
    skt_hz_acc_t acc;
    skt_hz_acc_init(&acc, SKT_HZ_ACC_IDS);
    skt_hz_acc_id(&acc, "1.1");
    size_t skipped = merge(&acc, "{\"requestId\":\"r\",\"sockets\":[{\"id\":\"2.2\","
                                 "\"subscribedChannels\":{},\"presence\":{},\"ip\":\"x\"},"
                                 "{\"id\":\"1.1\"},{\"id\":3},{},\"2.2\",null]}");
    ck_assert_uint_eq(skipped, 4);
    ck_assert_uint_eq(acc.n, 2);
    ck_assert_str_eq(acc.items[1].key, "2.2");
    skt_hz_acc_clear(&acc);
}
END_TEST

START_TEST(merge_many_items)
{
    /* grows past the initial capacity and keeps every key findable */
    skt_hz_acc_t acc;
    skt_hz_acc_init(&acc, SKT_HZ_ACC_CHANNELS);
    char key[32];
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 1000; i++) {
            snprintf(key, sizeof(key), "ch-%d", i);
            skt_hz_acc_channel(&acc, key, i);
        }
    }
    ck_assert_uint_eq(acc.n, 1000);
    ck_assert_int_eq(acc.items[999].count, 1998);
    skt_hz_acc_clear(&acc);
}
END_TEST

/* A query collects at most max_items: the rest is left out, and the result is partial. */
START_TEST(merge_bounded_items)
{
    skt_hz_acc_t acc;
    skt_hz_acc_init(&acc, SKT_HZ_ACC_CHANNELS);
    acc.max_items = 3;
    merge(&acc, "{\"requestId\":\"r\",\"channelsWithSocketsCount\":[[\"a\",1],[\"b\",1],"
                "[\"c\",1],[\"d\",1],[\"a\",2]]}");
    ck_assert_uint_eq(acc.n, 3);
    ck_assert_int_eq(acc.partial, 1);
    ck_assert_int_eq(acc.items[0].count, 3); /* known keys still add up */
    skt_hz_acc_clear(&acc);
    ck_assert_uint_eq(acc.max_items, 3); /* clearing keeps the bound */
    ck_assert_int_eq(acc.partial, 0);
    /* a peer's own partial answer makes the result partial */
    merge(&acc, "{\"requestId\":\"r\",\"channelsWithSocketsCount\":[],\"partial\":true}");
    ck_assert_int_eq(acc.partial, 1);
    skt_hz_acc_clear(&acc);
}
END_TEST

/* Merging accumulators: this node's part first, then the peers'. */
START_TEST(merge_accumulators)
{
    skt_hz_acc_t local, remote;
    skt_hz_acc_init(&local, SKT_HZ_ACC_MEMBERS);
    skt_hz_acc_init(&remote, SKT_HZ_ACC_MEMBERS);
    skt_hz_acc_member(&local, "a", 0, "{\"n\":\"local\"}");
    skt_hz_acc_member(&remote, "b", 0, "null");
    skt_hz_acc_member(&remote, "a", 0, "{\"n\":\"remote\"}");
    remote.partial = 1;
    skt_hz_acc_merge(&local, &remote);
    ck_assert_uint_eq(local.n, 2);
    ck_assert_str_eq(local.items[0].info, "{\"n\":\"local\"}");
    ck_assert_str_eq(local.items[1].key, "b");
    ck_assert_int_eq(local.partial, 1);
    skt_hz_acc_clear(&local);
    skt_hz_acc_clear(&remote);

    skt_hz_acc_init(&local, SKT_HZ_ACC_COUNT);
    skt_hz_acc_init(&remote, SKT_HZ_ACC_COUNT);
    local.total = 2;
    remote.total = LONG_MAX;
    skt_hz_acc_merge(&local, &remote);
    ck_assert_int_eq(local.total, LONG_MAX);
}
END_TEST

static Suite *
redis_codec_suite(void)
{
    Suite *s = suite_create("redis_codec");
    TCase *enc = tcase_create("encode");
    tcase_add_test(enc, broadcast_encode_matches_soketi);
    tcase_add_test(enc, string_escaping);
    tcase_add_test(enc, request_encode_matches_soketi);
    tcase_add_test(enc, response_encode_matches_soketi);
    tcase_add_test(enc, buffer_reset_keeps_or_frees);
    suite_add_tcase(s, enc);
    TCase *dec = tcase_create("decode");
    tcase_add_test(dec, broadcast_decode_soketi);
    tcase_add_test(dec, broadcast_roundtrip);
    tcase_add_test(dec, broadcast_decode_rejects_garbage);
    tcase_add_test(dec, request_decode_soketi);
    tcase_add_test(dec, request_decode_rejects_garbage);
    tcase_add_test(dec, response_decode_rejects_garbage);
    tcase_add_test(dec, response_decode_counts_in_range);
    tcase_add_test(dec, scan_bounds_depth_and_values);
    tcase_add_test(dec, response_id_read_without_parsing);
    suite_add_tcase(s, dec);
    TCase *mg = tcase_create("merge");
    tcase_add_test(mg, merge_counts_sum);
    tcase_add_test(mg, merge_counts_saturate);
    tcase_add_test(mg, merge_exists_ors);
    tcase_add_test(mg, merge_members_by_user_id);
    tcase_add_test(mg, merge_channels_sum_per_channel);
    tcase_add_test(mg, merge_socket_ids_distinct);
    tcase_add_test(mg, merge_many_items);
    tcase_add_test(mg, merge_bounded_items);
    tcase_add_test(mg, merge_accumulators);
    suite_add_tcase(s, mg);
    return s;
}

SKT_CHECK_MAIN(redis_codec_suite)
