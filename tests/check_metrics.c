/* check_metrics.c - unit tests for the metrics: counting, the text and JSON forms. */
#include "check_main.h"
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "features/metrics.h"
#include "features/metrics_merge.h"

/* The value of the sample line that starts with `head ` in text, or -1. */
static double
sample(const char *text, const char *head)
{
    size_t hl = strlen(head);
    for (const char *p = text; p && *p;) {
        if (strncmp(p, head, hl) == 0 && p[hl] == ' ')
            return strtod(p + hl + 1, NULL);
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return -1;
}

START_TEST(test_counting_and_text)
{
    skt_metrics_t *m = skt_metrics_new(1, "soketi_", 6001);
    skt_metrics_app_t *a = skt_metrics_app(m, "app-1");
    ck_assert_ptr_eq(skt_metrics_app(m, "app-1"), a); /* the same counters every time */
    skt_metrics_app_t *b = skt_metrics_app(m, "app-2");
    skt_metrics_connection(a, 1);
    skt_metrics_connection(a, 1);
    skt_metrics_connection(a, 0);
    skt_metrics_ws_in(a, 100);
    skt_metrics_ws_in(a, 50);
    skt_metrics_ws_out(a, 3, 10); /* one broadcast to three sockets */
    skt_metrics_http(b, 20, 11);
    char *text = skt_metrics_text(m, NULL);
    ck_assert_ptr_nonnull(text);
    ck_assert_ptr_nonnull(
        strstr(text, "# HELP soketi_connected The number of currently connected sockets.\n"
                     "# TYPE soketi_connected gauge\n"
                     "soketi_connected{app_id=\"app-1\",port=\"6001\"} 1\n"
                     "soketi_connected{app_id=\"app-2\",port=\"6001\"} 0\n\n"));
    ck_assert(sample(text, "soketi_new_connections_total{app_id=\"app-1\",port=\"6001\"}") == 2);
    ck_assert(sample(text, "soketi_new_disconnections_total{app_id=\"app-1\",port=\"6001\"}") == 1);
    ck_assert(sample(text, "soketi_socket_received_bytes{app_id=\"app-1\",port=\"6001\"}") == 150);
    ck_assert(sample(text, "soketi_ws_messages_received_total{app_id=\"app-1\",port=\"6001\"}") ==
              2);
    ck_assert(sample(text, "soketi_ws_messages_sent_total{app_id=\"app-1\",port=\"6001\"}") == 3);
    ck_assert(sample(text, "soketi_socket_transmitted_bytes{app_id=\"app-1\",port=\"6001\"}") ==
              30);
    ck_assert(sample(text, "soketi_http_calls_received_total{app_id=\"app-2\",port=\"6001\"}") ==
              1);
    ck_assert(sample(text, "soketi_http_received_bytes{app_id=\"app-2\",port=\"6001\"}") == 20);
    ck_assert(sample(text, "soketi_http_transmitted_bytes{app_id=\"app-2\",port=\"6001\"}") == 11);
    /* process metrics, labelled with the port only */
    ck_assert(sample(text, "soketi_process_resident_memory_bytes{port=\"6001\"}") > 0);
    ck_assert(sample(text, "soketi_process_open_fds{port=\"6001\"}") >= 3);
    ck_assert(sample(text, "soketi_process_cpu_seconds_total{port=\"6001\"}") >= 0);
    ck_assert(sample(text, "soketi_process_start_time_seconds{port=\"6001\"}") > 1600000000);
    /* horizontal adapter families are declared, without samples until an adapter reports */
    ck_assert_ptr_nonnull(
        strstr(text, "# TYPE soketi_horizontal_adapter_resolve_time histogram\n"));
    ck_assert_ptr_null(strstr(text, "soketi_horizontal_adapter_sent_requests{"));
    ck_assert_int_eq(text[strlen(text) - 1], '\n');
    free(text);
    skt_metrics_free(m);
}
END_TEST

START_TEST(test_histogram_and_horizontal)
{
    skt_metrics_t *m = skt_metrics_new(1, "x_", 1);
    skt_metrics_app_t *a = skt_metrics_app(m, "a");
    skt_metrics_horizontal_request_sent(a);
    skt_metrics_horizontal_resolved(a, 1, 0.004);
    skt_metrics_horizontal_resolved(a, 1, 0.3);
    skt_metrics_horizontal_resolved(a, 0, 42);
    char *text = skt_metrics_text(m, NULL);
    ck_assert(
        sample(text,
               "x_horizontal_adapter_resolve_time_bucket{le=\"0.005\",app_id=\"a\",port=\"1\"}") ==
        1);
    ck_assert(
        sample(text,
               "x_horizontal_adapter_resolve_time_bucket{le=\"0.25\",app_id=\"a\",port=\"1\"}") ==
        1);
    ck_assert(
        sample(text,
               "x_horizontal_adapter_resolve_time_bucket{le=\"0.5\",app_id=\"a\",port=\"1\"}") ==
        2);
    ck_assert(
        sample(text,
               "x_horizontal_adapter_resolve_time_bucket{le=\"10\",app_id=\"a\",port=\"1\"}") == 2);
    ck_assert(
        sample(text,
               "x_horizontal_adapter_resolve_time_bucket{le=\"+Inf\",app_id=\"a\",port=\"1\"}") ==
        3);
    ck_assert(sample(text, "x_horizontal_adapter_resolve_time_count{app_id=\"a\",port=\"1\"}") ==
              3);
    ck_assert_ptr_nonnull(
        strstr(text, "x_horizontal_adapter_resolve_time_sum{app_id=\"a\",port=\"1\"} 42.304\n"));
    ck_assert(sample(text, "x_horizontal_adapter_resolved_promises{app_id=\"a\",port=\"1\"}") == 2);
    ck_assert(sample(text, "x_horizontal_adapter_uncomplete_promises{app_id=\"a\",port=\"1\"}") ==
              1);
    ck_assert(sample(text, "x_horizontal_adapter_sent_requests{app_id=\"a\",port=\"1\"}") == 1);
    free(text);
    skt_metrics_free(m);
}
END_TEST

START_TEST(test_json_form)
{
    skt_metrics_t *m = skt_metrics_new(1, "soketi_", 6001);
    skt_metrics_connection(skt_metrics_app(m, "q\"uote"), 1);
    json_t *all = skt_metrics_json(m, NULL);
    json_t *f = json_array_get(all, 0);
    ck_assert_str_eq(json_string_value(json_object_get(f, "name")), "soketi_connected");
    ck_assert_str_eq(json_string_value(json_object_get(f, "type")), "gauge");
    ck_assert_str_eq(json_string_value(json_object_get(f, "aggregator")), "sum");
    json_t *v = json_array_get(json_object_get(f, "values"), 0);
    ck_assert(json_is_integer(json_object_get(v, "value")));
    ck_assert_int_eq(json_integer_value(json_object_get(v, "value")), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(v, "labels"), "app_id")),
                     "q\"uote");
    /* the port is a number there, as in soketi (its options.port) */
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(v, "labels"), "port")),
                     6001);
    /* label values are escaped in the text form */
    char *text = skt_metrics_text_of(all);
    ck_assert_ptr_nonnull(strstr(text, "soketi_connected{app_id=\"q\\\"uote\",port=\"6001\"} 1\n"));
    free(text);
    json_decref(all);
    skt_metrics_free(m);
}
END_TEST

START_TEST(test_number_formatting)
{
    json_t *fams = json_loads("[{\"name\":\"n\",\"help\":\"h\\\\x\\nline\",\"type\":\"gauge\","
                              "\"values\":[{\"value\":0.1},{\"value\":1e21},{\"value\":123},"
                              "{\"value\":2.5,\"labels\":{\"a\":\"b\\\\c\"}}]}]",
                              0, NULL);
    char *text = skt_metrics_text_of(fams);
    ck_assert_str_eq(text, "# HELP n h\\\\x\\nline\n# TYPE n gauge\nn 0.1\nn 1e+21\nn 123\n"
                           "n{a=\"b\\\\c\"} 2.5\n");
    free(text);
    json_decref(fams);
}
END_TEST

START_TEST(test_disabled)
{
    skt_metrics_t *m = skt_metrics_new(0, "soketi_", 6001);
    ck_assert_int_eq(skt_metrics_enabled(m), 0);
    skt_metrics_app_t *a = skt_metrics_app(m, "app");
    ck_assert_ptr_null(a);
    skt_metrics_ws_in(a, 10); /* a NULL app counts nothing, and does not crash */
    skt_metrics_connection(a, 1);
    char *text = skt_metrics_text(m, NULL);
    ck_assert_str_eq(text, "");
    free(text);
    skt_metrics_free(m);
}
END_TEST

START_TEST(test_process_figures_read_once_a_second)
{
    /* a scrape must not cost O(fds): /proc is read at most once a second */
    skt_metrics_t *m = skt_metrics_new(1, "soketi_", 6001);
    const char *head = "soketi_process_open_fds{port=\"6001\"}";
    char *text = skt_metrics_text(m, NULL);
    double fds = sample(text, head);
    free(text);
    ck_assert(fds >= 3);
    int extra[20];
    for (int i = 0; i < 20; i++)
        extra[i] = dup(0);
    text = skt_metrics_text(m, NULL);
    ck_assert(sample(text, head) == fds); /* as read a moment ago */
    free(text);
    usleep(1100 * 1000);
    text = skt_metrics_text(m, NULL);
    ck_assert_msg(sample(text, head) >= fds + 20, "%f", sample(text, head));
    free(text);
    for (int i = 0; i < 20; i++)
        close(extra[i]);
    skt_metrics_free(m);
}
END_TEST

static int source_calls;

static size_t
host_figures(void *arg, skt_metrics_figure_t *out, size_t max)
{
    ck_assert_str_eq(arg, "host");
    ck_assert_uint_eq(max, SKT_METRICS_MAX_FIGURES);
    source_calls++;
    out[0] = (skt_metrics_figure_t){"net_input_buffered_bytes", "gauge",
                                    "Bytes read and not yet parsed.", 4096};
    out[1] = (skt_metrics_figure_t){"net_accepts_refused_total", "counter",
                                    "Connections refused at the open-files limit.", 3};
    out[2] = (skt_metrics_figure_t){"bad name", "gauge", "left out", 1};
    out[3] = (skt_metrics_figure_t){"net_weird", "summary", "left out", 1};
    return 4;
}

START_TEST(test_process_source)
{
    skt_metrics_t *m = skt_metrics_new(1, "p_", 6001);
    skt_metrics_set_process_source(m, host_figures, "host");
    char *text = skt_metrics_text(m, NULL);
    ck_assert_int_eq(source_calls, 1);
    ck_assert_ptr_nonnull(strstr(text, "# HELP p_net_input_buffered_bytes Bytes read and not yet "
                                       "parsed.\n# TYPE p_net_input_buffered_bytes gauge\n"
                                       "p_net_input_buffered_bytes{port=\"6001\"} 4096\n"));
    ck_assert(sample(text, "p_net_accepts_refused_total{port=\"6001\"}") == 3);
    ck_assert_ptr_nonnull(strstr(text, "# TYPE p_net_accepts_refused_total counter\n"));
    ck_assert_ptr_null(strstr(text, "bad name"));
    ck_assert_ptr_null(strstr(text, "net_weird"));
    /* after the process_* families */
    ck_assert(strstr(text, "p_process_max_fds") < strstr(text, "p_net_input_buffered"));
    free(text);
    json_t *all = skt_metrics_json(m, NULL);
    size_t i;
    json_t *f;
    int found = 0;
    json_array_foreach(all, i, f)
    {
        if (strcmp(json_string_value(json_object_get(f, "name")), "p_net_input_buffered_bytes"))
            continue;
        found = 1;
        json_t *v = json_array_get(json_object_get(f, "values"), 0);
        ck_assert_int_eq(json_integer_value(json_object_get(v, "value")), 4096);
        ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(v, "labels"), "port")),
                         6001);
    }
    ck_assert_int_eq(found, 1);
    json_decref(all);
    skt_metrics_set_process_source(m, NULL, NULL);
    text = skt_metrics_text(m, NULL);
    ck_assert_ptr_null(strstr(text, "net_input_buffered_bytes"));
    free(text);
    skt_metrics_free(m);
}
END_TEST

/* The number of lines of text that start with head. */
static int
lines_starting(const char *text, const char *head)
{
    int n = 0;
    size_t hl = strlen(head);
    for (const char *p = text; p && *p;) {
        n += strncmp(p, head, hl) == 0;
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return n;
}

START_TEST(test_merge_sums_per_family)
{
    const char *a = "# HELP s_connected Connections.\n# TYPE s_connected gauge\n"
                    "s_connected{app_id=\"1\",port=\"6001\"} 2\n\n"
                    "# HELP s_t Time.\n# TYPE s_t histogram\n"
                    "s_t_bucket{le=\"+Inf\",port=\"6001\"} 3\ns_t_sum{port=\"6001\"} 0.1\n"
                    "s_t_count{port=\"6001\"} 3\n\n"
                    "# HELP s_process_start_time_seconds Start.\n"
                    "# TYPE s_process_start_time_seconds gauge\n"
                    "s_process_start_time_seconds{port=\"6001\"} 200\n";
    const char *b = "# HELP s_connected Connections.\n# TYPE s_connected gauge\n"
                    "s_connected{app_id=\"1\",port=\"6001\"} 5\n"
                    "s_connected{app_id=\"2\",port=\"6001\"} 1\n\n"
                    "# HELP s_t Time.\n# TYPE s_t histogram\n"
                    "s_t_bucket{le=\"+Inf\",port=\"6001\"} 1\ns_t_sum{port=\"6001\"} 0.2\n"
                    "s_t_count{port=\"6001\"} 1\n\n"
                    "# HELP s_process_start_time_seconds Start.\n"
                    "# TYPE s_process_start_time_seconds gauge\n"
                    "s_process_start_time_seconds{port=\"6001\"} 100\n"
                    "# a comment\nnot a sample\n"
                    "# HELP s_new Only here.\n# TYPE s_new counter\ns_new 7\n";
    const char *texts[] = {a, b};
    char *m = skt_metrics_merge(texts, 2);
    ck_assert_ptr_nonnull(m);
    ck_assert_double_eq(sample(m, "s_connected{app_id=\"1\",port=\"6001\"}"), 7);
    ck_assert_double_eq(sample(m, "s_connected{app_id=\"2\",port=\"6001\"}"), 1);
    ck_assert_double_eq(sample(m, "s_t_bucket{le=\"+Inf\",port=\"6001\"}"), 4);
    ck_assert_double_eq_tol(sample(m, "s_t_sum{port=\"6001\"}"), 0.3, 1e-9);
    ck_assert_double_eq(sample(m, "s_t_count{port=\"6001\"}"), 4);
    ck_assert_double_eq(sample(m, "s_process_start_time_seconds{port=\"6001\"}"), 100);
    ck_assert_double_eq(sample(m, "s_new"), 7);
    /* one block per family: its HELP and TYPE once, its samples together after them */
    ck_assert_int_eq(lines_starting(m, "# HELP s_connected "), 1);
    ck_assert_int_eq(lines_starting(m, "# TYPE s_t "), 1);
    ck_assert_int_eq(lines_starting(m, "s_connected{"), 2);
    ck_assert_int_eq(lines_starting(m, "not a sample"), 0);
    ck_assert_int_eq(lines_starting(m, "# a comment"), 0);
    const char *c1 = strstr(m, "s_connected{app_id=\"2\""), *t = strstr(m, "# HELP s_t ");
    ck_assert_ptr_nonnull(c1);
    ck_assert_ptr_nonnull(t);
    ck_assert(c1 < t);
    free(m);
    /* one text comes back as it was, numbers as JavaScript prints them */
    char *one = skt_metrics_merge(&a, 1);
    ck_assert_ptr_nonnull(one);
    ck_assert_ptr_nonnull(strstr(one, "s_t_sum{port=\"6001\"} 0.1\n"));
    free(one);
}
END_TEST

static Suite *
metrics_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_counting_and_text);
    tcase_add_test(tc, test_histogram_and_horizontal);
    tcase_add_test(tc, test_json_form);
    tcase_add_test(tc, test_number_formatting);
    tcase_add_test(tc, test_disabled);
    tcase_add_test(tc, test_process_figures_read_once_a_second);
    tcase_add_test(tc, test_process_source);
    tcase_add_test(tc, test_merge_sums_per_family);
    suite_add_tcase(s, tc);
    return s;
}

SKT_CHECK_MAIN(metrics_suite)
