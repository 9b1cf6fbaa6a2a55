/* check_sql_row.c - the SQL app managers' pure part (plugins/sql/sql_row.c): a row's
 * columns as a JSON object text typed as soketi/app_manager.h says, and table names quoted
 * per dotted part for MySQL and PostgreSQL. */
#include "check_main.h"
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "sql_row.h"

/* One column added to a fresh row: the row's text, kept in out. */
static const char *
one(skt_sql_kind_t kind, const char *text, size_t len, char *out, size_t cap)
{
    skt_sql_row_t r;
    skt_sql_row_begin(&r, 0);
    skt_sql_row_add(&r, "c", 1, kind, text, len);
    size_t n = 0;
    const char *t = skt_sql_row_end(&r, &n);
    ck_assert_ptr_nonnull(t);
    ck_assert_uint_eq(n, strlen(t));
    snprintf(out, cap, "%s", t);
    skt_sql_row_free(&r);
    return out;
}

#define ONE(kind, text) one(kind, text, strlen(text), buf, sizeof(buf))

START_TEST(test_row_soketi_fixture)
{
    /* The row of soketi's own fixture, as PostgreSQL's columns type it. */
    skt_sql_row_t r;
    skt_sql_row_begin(&r, 0);
    skt_sql_row_add(&r, "id", 2, SKT_SQL_TEXT, "app-id", 6);
    skt_sql_row_add(&r, "max_connections", 15, SKT_SQL_NUMBER, "200", 3);
    skt_sql_row_add(&r, "enabled", 7, SKT_SQL_NUMBER, "1", 1);
    skt_sql_row_add(&r, "max_backend_events_per_sec", 26, SKT_SQL_NUMBER, "-1", 2);
    skt_sql_row_add(&r, "webhooks", 8, SKT_SQL_JSON, "[ ]", 3);
    skt_sql_row_add(&r, "max_event_batch_size", 20, SKT_SQL_NULL, NULL, 0);
    skt_sql_row_add(&r, "enable_user_authentication", 26, SKT_SQL_BOOL, "f", 1);
    size_t len;
    const char *t = skt_sql_row_end(&r, &len);
    ck_assert_str_eq(t, "{\"id\":\"app-id\",\"max_connections\":200,\"enabled\":1,"
                        "\"max_backend_events_per_sec\":-1,\"webhooks\":[],"
                        "\"max_event_batch_size\":null,\"enable_user_authentication\":false}");
    skt_sql_row_free(&r);
}
END_TEST

START_TEST(test_row_empty)
{
    skt_sql_row_t r;
    skt_sql_row_begin(&r, 0);
    size_t len;
    ck_assert_str_eq(skt_sql_row_end(&r, &len), "{}");
    skt_sql_row_free(&r);
}
END_TEST

START_TEST(test_row_numbers)
{
    char buf[256];
    ck_assert_str_eq(ONE(SKT_SQL_NUMBER, "9223372036854775807"), "{\"c\":9223372036854775807}");
    ck_assert_str_eq(ONE(SKT_SQL_NUMBER, "12.50"), "{\"c\":12.50}");
    ck_assert_str_eq(ONE(SKT_SQL_NUMBER, "-1.5e-7"), "{\"c\":-1.5e-7}");
    ck_assert_str_eq(ONE(SKT_SQL_NUMBER, "0"), "{\"c\":0}");
    /* What a float column can hold that JSON cannot: kept as text. */
    ck_assert_str_eq(ONE(SKT_SQL_NUMBER, "NaN"), "{\"c\":\"NaN\"}");
    ck_assert_str_eq(ONE(SKT_SQL_NUMBER, "-Infinity"), "{\"c\":\"-Infinity\"}");
    ck_assert_str_eq(ONE(SKT_SQL_NUMBER, "1,5"), "{\"c\":\"1,5\"}");
}
END_TEST

START_TEST(test_json_number_grammar)
{
    const char *yes[] = {
        "0", "-0", "1", "10", "1.0", "1e5", "1E+5", "-2.5e-3", "123456789012345678901234567890"};
    const char *no[] = {"",    "-",    "01", "1.", ".5",  "+1",   "1e",
                        "1e+", "0x10", " 1", "1 ", "--1", "1.2.3"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(*yes); i++)
        ck_assert_msg(skt_sql_is_json_number(yes[i], strlen(yes[i])), "%s", yes[i]);
    for (size_t i = 0; i < sizeof(no) / sizeof(*no); i++)
        ck_assert_msg(!skt_sql_is_json_number(no[i], strlen(no[i])), "%s", no[i]);
}
END_TEST

START_TEST(test_row_bools)
{
    char buf[64];
    ck_assert_str_eq(ONE(SKT_SQL_BOOL, "t"), "{\"c\":true}");
    ck_assert_str_eq(ONE(SKT_SQL_BOOL, "true"), "{\"c\":true}");
    ck_assert_str_eq(ONE(SKT_SQL_BOOL, "1"), "{\"c\":true}");
    ck_assert_str_eq(ONE(SKT_SQL_BOOL, "f"), "{\"c\":false}");
    ck_assert_str_eq(ONE(SKT_SQL_BOOL, "0"), "{\"c\":false}");
}
END_TEST

START_TEST(test_row_json)
{
    char buf[256];
    ck_assert_str_eq(ONE(SKT_SQL_JSON, "[{\"url\": \"http://x/\", \"event_types\": [\"a\"]}]"),
                     "{\"c\":[{\"url\":\"http://x/\",\"event_types\":[\"a\"]}]}");
    ck_assert_str_eq(ONE(SKT_SQL_JSON, "\"s\""), "{\"c\":\"s\"}");
    ck_assert_str_eq(ONE(SKT_SQL_JSON, "3"), "{\"c\":3}");
    /* Not JSON after all: the text, as a string. */
    ck_assert_str_eq(ONE(SKT_SQL_JSON, "[1,"), "{\"c\":\"[1,\"}");
}
END_TEST

START_TEST(test_row_text)
{
    char buf[256];
    ck_assert_str_eq(ONE(SKT_SQL_TEXT, "a\"b\\c\n"), "{\"c\":\"a\\\"b\\\\c\\n\"}");
    ck_assert_str_eq(ONE(SKT_SQL_TEXT, "h\xc3\xa9"), "{\"c\":\"h\xc3\xa9\"}");
    /* A number-looking string column stays a string. */
    ck_assert_str_eq(ONE(SKT_SQL_TEXT, "200"), "{\"c\":\"200\"}");
    /* Not UTF-8 (a binary column): null. */
    ck_assert_str_eq(ONE(SKT_SQL_TEXT, "\xff\xfe"), "{\"c\":null}");
    ck_assert_str_eq(one(SKT_SQL_TEXT, "a\0b", 3, buf, sizeof(buf)), "{\"c\":\"a\\u0000b\"}");
    ck_assert_str_eq(ONE(SKT_SQL_NULL, "ignored"), "{\"c\":null}");
}
END_TEST

START_TEST(test_row_names_escaped)
{
    skt_sql_row_t r;
    skt_sql_row_begin(&r, 0);
    skt_sql_row_add(&r, "a\"b", 3, SKT_SQL_NUMBER, "1", 1);
    size_t len;
    ck_assert_str_eq(skt_sql_row_end(&r, &len), "{\"a\\\"b\":1}");
    skt_sql_row_free(&r);
}
END_TEST

START_TEST(test_row_max)
{
    skt_sql_row_t r;
    skt_sql_row_begin(&r, 32);
    skt_sql_row_add(&r, "c", 1, SKT_SQL_TEXT, "0123456789012345678901234567890123456789", 40);
    size_t len;
    ck_assert_ptr_null(skt_sql_row_end(&r, &len));
    skt_sql_row_free(&r);
}
END_TEST

START_TEST(test_quote_table)
{
    struct {
        skt_sql_quote_t style;
        const char *in, *out;
    } cases[] = {
        {SKT_SQL_QUOTE_MYSQL, "apps", "`apps`"},
        {SKT_SQL_QUOTE_MYSQL, "soketi.apps", "`soketi`.`apps`"},
        {SKT_SQL_QUOTE_MYSQL, "a`b", "`a``b`"},
        {SKT_SQL_QUOTE_MYSQL, "x\"y", "`x\"y`"},
        {SKT_SQL_QUOTE_MYSQL, "apps` WHERE 1; --", "`apps`` WHERE 1; --`"},
        {SKT_SQL_QUOTE_PG, "apps", "\"apps\""},
        {SKT_SQL_QUOTE_PG, "public.apps", "\"public\".\"apps\""},
        {SKT_SQL_QUOTE_PG, "a\"b", "\"a\"\"b\""},
        {SKT_SQL_QUOTE_PG, "a`b", "\"a`b\""},
        {SKT_SQL_QUOTE_PG, "\"\"", "\"\"\"\"\"\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        char *q = skt_sql_quote_table(cases[i].style, cases[i].in);
        ck_assert_ptr_nonnull(q);
        ck_assert_str_eq(q, cases[i].out);
        free(q);
    }
    ck_assert_ptr_null(skt_sql_quote_table(SKT_SQL_QUOTE_PG, ""));
    ck_assert_ptr_null(skt_sql_quote_table(SKT_SQL_QUOTE_PG, NULL));
}
END_TEST

static Suite *
sql_row_suite(void)
{
    Suite *s = suite_create("sql_row");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_row_soketi_fixture);
    tcase_add_test(tc, test_row_empty);
    tcase_add_test(tc, test_row_numbers);
    tcase_add_test(tc, test_json_number_grammar);
    tcase_add_test(tc, test_row_bools);
    tcase_add_test(tc, test_row_json);
    tcase_add_test(tc, test_row_text);
    tcase_add_test(tc, test_row_names_escaped);
    tcase_add_test(tc, test_row_max);
    tcase_add_test(tc, test_quote_table);
    suite_add_tcase(s, tc);
    return s;
}

SKT_CHECK_MAIN(sql_row_suite)
