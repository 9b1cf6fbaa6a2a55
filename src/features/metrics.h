/* metrics.h - Prometheus metrics with soketi's names and labels, plus process metrics.
 *
 * With metrics.enabled, GET /metrics on the metrics port answers the Prometheus text format
 * (and ?json=1 prom-client's JSON) with soketi's metrics (src/metrics/prometheus-metrics-
 * driver.ts), each labelled {app_id, port} and named with metrics.prometheus.prefix:
 * connected, new_connections_total, new_disconnections_total, socket_received_bytes,
 * socket_transmitted_bytes, ws_messages_received_total, ws_messages_sent_total,
 * http_received_bytes, http_transmitted_bytes, http_calls_received_total, and the horizontal
 * adapter's horizontal_adapter_resolve_time (histogram), _resolved_promises,
 * _uncomplete_promises, _sent_requests, _received_requests, _received_responses; then
 * process_cpu_user_seconds_total, process_cpu_system_seconds_total, process_cpu_seconds_total,
 * process_start_time_seconds, process_resident_memory_bytes, process_virtual_memory_bytes,
 * process_open_fds and process_max_fds (labelled {port}, as prom-client's default metrics in
 * soketi); and soketi-c's webhooks_sent_total, webhooks_failed_total, webhooks_retried_total,
 * webhooks_dropped_total, webhooks_pending and webhooks_pending_bytes per app.
 *
 * DESIGN
 * Counting must cost nothing on the hot path: each app has one plain struct of counters,
 * found once per connection (skt_ns_t.metrics) and bumped inline; NULL when metrics are off,
 * so a disabled server pays one branch per message. Rendering walks the apps' structs when
 * scraped and builds prom-client's JSON form first; the text form is written from that, so
 * the two never disagree.
 * A scrape costs O(apps), never O(connections), however often it comes (a client may
 * pipeline them): the process figures from /proc are read at most once a second and kept.
 * The open fds are counted with one stat() of /proc/self/fd where the kernel gives the count
 * as its size (Linux 6.2+); elsewhere listing the directory is O(fds), so it is redone at
 * most once in 100 times what it took (at least a second apart): at most 1% of the loop.
 * The host's own figures (skt_metrics_set_process_source) are counters it keeps current.
 */
#ifndef SKT_FEATURES_METRICS_H
#define SKT_FEATURES_METRICS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "features/webhooks.h"

/* prom-client's default histogram buckets (seconds... soketi observes milliseconds). */
#define SKT_METRICS_BUCKETS 11

typedef struct skt_metrics_app_s {
    int64_t connected;
    uint64_t new_connections, disconnections;
    uint64_t ws_bytes_in, ws_bytes_out, ws_msgs_in, ws_msgs_out;
    uint64_t http_bytes_in, http_bytes_out, http_calls;
    /* the horizontal adapter's (see skt_metrics_horizontal_*) */
    uint64_t ha_sent_requests, ha_received_requests, ha_received_responses;
    uint64_t ha_resolved, ha_uncomplete;
    uint64_t ha_time_buckets[SKT_METRICS_BUCKETS], ha_time_count;
    double ha_time_sum;
    int ha_seen; /* any horizontal adapter sample yet */
    size_t id_len;
    char id[];
} skt_metrics_app_t;

typedef struct skt_metrics_s skt_metrics_t;

/* Metrics named with prefix, labelled with port. enabled = 0 makes a registry that counts
 * nothing (skt_metrics_app() answers NULL) and renders nothing. NULL when out of memory. */
skt_metrics_t *skt_metrics_new(int enabled, const char *prefix, long port);
void skt_metrics_free(skt_metrics_t *m);
int skt_metrics_enabled(const skt_metrics_t *m);

/* The counters of app_id, created on first use; NULL when metrics are off (or out of
 * memory). The pointer stays valid until skt_metrics_free(). */
skt_metrics_app_t *skt_metrics_app(skt_metrics_t *m, const char *app_id);

/* Hot-path counting; a NULL app counts nothing. */
static inline void
skt_metrics_connection(skt_metrics_app_t *a, int opened)
{
    if (!a)
        return;
    if (opened) {
        a->connected++;
        a->new_connections++;
    } else {
        a->connected--;
        a->disconnections++;
    }
}

static inline void
skt_metrics_ws_in(skt_metrics_app_t *a, size_t bytes)
{
    if (a) {
        a->ws_msgs_in++;
        a->ws_bytes_in += bytes;
    }
}

/* messages: how many sockets got bytes each. */
static inline void
skt_metrics_ws_out(skt_metrics_app_t *a, size_t messages, size_t bytes)
{
    if (a) {
        a->ws_msgs_out += messages;
        a->ws_bytes_out += (uint64_t)messages * bytes;
    }
}

static inline void
skt_metrics_http(skt_metrics_app_t *a, size_t bytes_in, size_t bytes_out)
{
    if (a) {
        a->http_calls++;
        a->http_bytes_in += bytes_in;
        a->http_bytes_out += bytes_out;
    }
}

/* What a horizontal adapter reports (soketi's trackHorizontalAdapter* / mark*). */
void skt_metrics_horizontal_request_sent(skt_metrics_app_t *a);
void skt_metrics_horizontal_request_received(skt_metrics_app_t *a);
void skt_metrics_horizontal_response_received(skt_metrics_app_t *a);
void skt_metrics_horizontal_resolved(skt_metrics_app_t *a, int complete, double ms);

/* A process-level figure the host adds to /metrics (the net layer's counters, say). name is
 * without the prefix ([a-zA-Z_:][a-zA-Z0-9_:]*; "net_input_buffered_bytes" is rendered as
 * <prefix>net_input_buffered_bytes{port="..."}), type "counter" or "gauge"; a figure with
 * another name or type is left out. The strings must live until the next source call. */
typedef struct skt_metrics_figure_s {
    const char *name, *type, *help;
    double value;
} skt_metrics_figure_t;

#define SKT_METRICS_MAX_FIGURES 32

/* Fills out (room for max figures) with the host's current figures and returns how many.
 * Called on every scrape, on the loop: it must be cheap (read counters kept current, no I/O). */
typedef size_t (*skt_metrics_source_fn)(void *arg, skt_metrics_figure_t *out, size_t max);

/* Sets the host's figures, rendered after the process_* metrics in both forms, each its own
 * family labelled {port}. One source; NULL fn removes it. arg is the host's. */
void skt_metrics_set_process_source(skt_metrics_t *m, skt_metrics_source_fn fn, void *arg);

/* prom-client's getMetricsAsJSON() form: [{help, name, type, values: [{value, labels}],
 * aggregator}], webhooks' counters included when wh is not NULL. New reference; an empty
 * array when metrics are off. */
json_t *skt_metrics_json(skt_metrics_t *m, const skt_webhooks_t *wh);

/* The Prometheus text exposition format of the same. Caller frees; NULL when out of memory. */
char *skt_metrics_text(skt_metrics_t *m, const skt_webhooks_t *wh);

/* The text form of an already built JSON form (for tests). */
char *skt_metrics_text_of(const json_t *families);

/* A number as JavaScript prints it (the text form's values): the shortest text that reads
 * back the same, "Nan", "+Inf" or "-Inf". */
#define SKT_METRICS_NUMBER_MAX 40
void skt_metrics_number(double v, char out[SKT_METRICS_NUMBER_MAX]);

#endif
