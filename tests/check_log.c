/* check_log.c - unit tests for the logger: one line per message, whatever it quotes. */
#include "check_main.h"
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"

/* What skt_log writes to stderr for msg (the caller frees). */
static char *
logged(const char *msg)
{
    char path[] = "/tmp/check_log_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    skt_log(SKT_LOG_WARN, "peer said %s", msg);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    char *out = calloc(1, 8192);
    lseek(fd, 0, SEEK_SET);
    ck_assert_int_ge(read(fd, out, 8191), 0);
    close(fd);
    unlink(path);
    return out;
}

START_TEST(test_text_one_line)
{
    skt_log_set_json(0);
    char *out = logged("ok\n2026-01-01T00:00:00.000Z [error] forged\r\x01\x7f end");
    ck_assert_ptr_nonnull(strstr(
        out, "[warn] peer said ok\\n2026-01-01T00:00:00.000Z [error] forged\\r\\x01\\x7f end\n"));
    ck_assert_ptr_eq(strchr(out, '\n'), out + strlen(out) - 1); /* one line */
    free(out);
}
END_TEST

START_TEST(test_json_one_line)
{
    skt_log_set_json(1);
    char *out = logged("a\"b\nc");
    ck_assert_ptr_nonnull(strstr(out, "\"msg\":\"peer said a\\\"b\\u000ac\"}\n"));
    ck_assert_ptr_eq(strchr(out, '\n'), out + strlen(out) - 1);
    skt_log_set_json(0);
    free(out);
}
END_TEST

/* A worker's lines name it: "worker 2: " in text, "source" in JSON; cleared, none. */
START_TEST(test_source)
{
    skt_log_set_source("worker 2");
    char *out = logged("x");
    ck_assert_ptr_nonnull(strstr(out, "[warn] worker 2: peer said x\n"));
    free(out);
    skt_log_set_json(1);
    out = logged("y");
    ck_assert_ptr_nonnull(
        strstr(out, "\"level\":\"warn\",\"source\":\"worker 2\",\"msg\":\"peer said y\"}\n"));
    free(out);
    skt_log_set_json(0);
    skt_log_set_source(NULL);
    out = logged("z");
    ck_assert_ptr_nonnull(strstr(out, "[warn] peer said z\n"));
    free(out);
}
END_TEST

static Suite *
log_suite(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_text_one_line);
    tcase_add_test(tc, test_json_one_line);
    tcase_add_test(tc, test_source);
    suite_add_tcase(s, tc);
    return s;
}

SKT_CHECK_MAIN(log_suite)
