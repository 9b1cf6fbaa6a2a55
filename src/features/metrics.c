/* metrics.c - Prometheus metrics: per-app counters, process metrics, text and JSON forms. */
#include "features/metrics.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "features/clock.h"
#include "util/map.h"

static const double buckets[SKT_METRICS_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                    0.5,   1,    2.5,   5,    10};

typedef struct proc_s {
    double user_s, system_s, start_s;
    double rss, vsize;
    long open_fds, max_fds;
    int ok;
} proc_t;

struct skt_metrics_s {
    int enabled;
    char *prefix;
    long port;                 /* the port label (a number in the JSON form, as soketi has it) */
    skt_map_t *apps;           /* app id -> skt_metrics_app_t */
    skt_metrics_app_t **order; /* in order of first use, for a stable output */
    size_t napps, cap;
    proc_t proc;                  /* the process figures as last read */
    uint64_t proc_read_ms;        /* when (skt_clock_ms()); 0: never */
    uint64_t fds_next_ms;         /* when the open fds may be counted again */
    skt_metrics_source_fn source; /* the host's figures (skt_metrics_set_process_source) */
    void *source_arg;
};

skt_metrics_t *
skt_metrics_new(int enabled, const char *prefix, long port)
{
    skt_metrics_t *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->enabled = enabled;
    m->prefix = strdup(prefix ? prefix : "");
    m->port = port;
    m->apps = skt_map_new();
    if (!m->prefix || !m->apps) {
        skt_metrics_free(m);
        return NULL;
    }
    return m;
}

void
skt_metrics_free(skt_metrics_t *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->napps; i++)
        free(m->order[i]);
    free(m->order);
    skt_map_free(m->apps);
    free(m->prefix);
    free(m);
}

int
skt_metrics_enabled(const skt_metrics_t *m)
{
    return m && m->enabled;
}

skt_metrics_app_t *
skt_metrics_app(skt_metrics_t *m, const char *app_id)
{
    if (!m || !m->enabled)
        return NULL;
    size_t len = strlen(app_id);
    skt_metrics_app_t *a = skt_map_get(m->apps, app_id, len);
    if (a)
        return a;
    if (m->napps == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 8;
        skt_metrics_app_t **o = realloc(m->order, cap * sizeof(*o));
        if (!o)
            return NULL;
        m->order = o;
        m->cap = cap;
    }
    a = calloc(1, sizeof(*a) + len + 1);
    if (!a)
        return NULL;
    memcpy(a->id, app_id, len + 1);
    a->id_len = len;
    if (skt_map_put(m->apps, a->id, len, a) != 0) {
        free(a);
        return NULL;
    }
    m->order[m->napps++] = a;
    return a;
}

void
skt_metrics_horizontal_request_sent(skt_metrics_app_t *a)
{
    if (a) {
        a->ha_sent_requests++;
        a->ha_seen = 1;
    }
}

void
skt_metrics_horizontal_request_received(skt_metrics_app_t *a)
{
    if (a) {
        a->ha_received_requests++;
        a->ha_seen = 1;
    }
}

void
skt_metrics_horizontal_response_received(skt_metrics_app_t *a)
{
    if (a) {
        a->ha_received_responses++;
        a->ha_seen = 1;
    }
}

void
skt_metrics_horizontal_resolved(skt_metrics_app_t *a, int complete, double ms)
{
    if (!a)
        return;
    a->ha_seen = 1;
    if (complete)
        a->ha_resolved++;
    else
        a->ha_uncomplete++;
    /* prom-client counts a value in the first bucket it fits (cumulated on export);
     * one past the last bucket only counts in +Inf. */
    for (int i = 0; i < SKT_METRICS_BUCKETS; i++) {
        if (ms <= buckets[i]) {
            a->ha_time_buckets[i]++;
            break;
        }
    }
    a->ha_time_count++;
    a->ha_time_sum += ms;
}

/* ------------------------------------------------------------ process */

/* The number of open fds. Linux 6.2 and later report it as the size of /proc/self/fd, which
 * costs one stat(); before, the directory is listed: O(open fds). */
static long
count_fds(void)
{
    struct stat st;
    if (stat("/proc/self/fd", &st) == 0 && st.st_size > 0)
        return (long)st.st_size;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    long count = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            count++;
    closedir(d);
    return count - 1; /* opendir's own */
}

/* /proc/self/stat: utime (14), stime (15), starttime (22), vsize (23), rss (24). */
static void
read_stat(proc_t *p)
{
    char buf[1024];
    FILE *f = fopen("/proc/self/stat", "r");
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    p->ok = 0;
    char *s = strrchr(buf, ')'); /* the command name may hold spaces */
    unsigned long long utime, stime, start, vsize;
    long long rss;
    /* fields from 3 (state) on */
    if (!s || sscanf(s + 2,
                     "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d "
                     "%*d %llu %llu %lld",
                     &utime, &stime, &start, &vsize, &rss) != 5)
        return;
    double hz = (double)sysconf(_SC_CLK_TCK);
    p->user_s = (double)utime / hz;
    p->system_s = (double)stime / hz;
    p->vsize = (double)vsize;
    p->rss = (double)rss * (double)sysconf(_SC_PAGESIZE);
    /* starttime is in ticks since boot: add the boot time */
    double uptime = 0;
    FILE *u = fopen("/proc/uptime", "r");
    if (u) {
        if (fscanf(u, "%lf", &uptime) != 1)
            uptime = 0;
        fclose(u);
    }
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    double boot = (double)now.tv_sec + (double)now.tv_nsec / 1e9 - uptime;
    p->start_s = floor(boot + (double)start / hz);
    p->ok = 1;
}

/* The process figures, read at most once a second whatever the scrape rate, so that a scrape
 * costs O(apps). Counting fds may cost O(fds) (count_fds): it is then done at most once in
 * 100 times the time it took, at least a second apart, so it never takes more than 1% of the
 * loop whatever the number of connections. */
static const proc_t *
proc_figures(skt_metrics_t *m)
{
    uint64_t now = skt_clock_ms();
    if (m->proc_read_ms && now - m->proc_read_ms < 1000)
        return &m->proc;
    m->proc_read_ms = now;
    read_stat(&m->proc);
    if (!m->fds_next_ms || now >= m->fds_next_ms) {
        m->proc.open_fds = count_fds();
        uint64_t took = skt_clock_ms() - now;
        m->fds_next_ms = now + (took * 100 > 1000 ? took * 100 : 1000);
    }
    struct rlimit rl;
    m->proc.max_fds = -1;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        m->proc.max_fds = (long)rl.rlim_cur;
    return &m->proc;
}

void
skt_metrics_set_process_source(skt_metrics_t *m, skt_metrics_source_fn fn, void *arg)
{
    if (!m)
        return;
    m->source = fn;
    m->source_arg = arg;
}

/* ------------------------------------------------------------ JSON form */

static json_t *
family(skt_metrics_t *m, json_t *all, const char *name, const char *type, const char *help)
{
    char full[256];
    snprintf(full, sizeof(full), "%s%s", m->prefix, name);
    json_t *f = json_pack("{s:s, s:s, s:s, s:[], s:s}", "help", help, "name", full, "type", type,
                          "values", "aggregator", "sum");
    json_array_append_new(all, f);
    return json_object_get(f, "values");
}

static json_t *
app_labels(skt_metrics_t *m, const skt_metrics_app_t *a)
{
    return json_pack("{s:s, s:I}", "app_id", a->id, "port", (json_int_t)m->port);
}

/* A JSON number as prom-client has it: integral values as integers. */
static json_t *
num(double v)
{
    if (v == floor(v) && fabs(v) < 9007199254740992.0)
        return json_integer((json_int_t)v);
    return json_real(v);
}

static void
value(json_t *values, json_t *labels, double v)
{
    json_array_append_new(values, json_pack("{s:o, s:o}", "value", num(v), "labels", labels));
}

typedef struct counter_def_s {
    const char *name, *type, *help;
    size_t offset; /* into skt_metrics_app_t */
    int horizontal;
} counter_def_t;

#define AOFF(f) offsetof(skt_metrics_app_t, f)

static const counter_def_t app_counters[] = {
    {"connected", "gauge", "The number of currently connected sockets.", AOFF(connected), 0},
    {"new_connections_total", "counter", "Total amount of soketi connection requests.",
     AOFF(new_connections), 0},
    {"new_disconnections_total", "counter", "Total amount of soketi disconnections.",
     AOFF(disconnections), 0},
    {"socket_received_bytes", "counter", "Total amount of bytes that soketi received.",
     AOFF(ws_bytes_in), 0},
    {"socket_transmitted_bytes", "counter", "Total amount of bytes that soketi transmitted.",
     AOFF(ws_bytes_out), 0},
    {"ws_messages_received_total", "counter",
     "The total amount of WS messages received from connections by the server.", AOFF(ws_msgs_in),
     0},
    {"ws_messages_sent_total", "counter",
     "The total amount of WS messages sent to the connections from the server.", AOFF(ws_msgs_out),
     0},
    {"http_received_bytes", "counter", "Total amount of bytes that soketi's REST API received.",
     AOFF(http_bytes_in), 0},
    {"http_transmitted_bytes", "counter", "Total amount of bytes that soketi's REST API sent back.",
     AOFF(http_bytes_out), 0},
    {"http_calls_received_total", "counter", "Total amount of received REST API calls.",
     AOFF(http_calls), 0},
    {NULL, "histogram", NULL, 0, 1}, /* horizontal_adapter_resolve_time goes here */
    {"horizontal_adapter_resolved_promises", "counter",
     "The total amount of promises that were fulfilled by other nodes.", AOFF(ha_resolved), 1},
    {"horizontal_adapter_uncomplete_promises", "counter",
     "The total amount of promises that were not fulfilled entirely by other nodes.",
     AOFF(ha_uncomplete), 1},
    {"horizontal_adapter_sent_requests", "counter",
     "The total amount of sent requests to other nodes.", AOFF(ha_sent_requests), 1},
    {"horizontal_adapter_received_requests", "counter",
     "The total amount of received requests from other nodes.", AOFF(ha_received_requests), 1},
    {"horizontal_adapter_received_responses", "counter",
     "The total amount of received responses from other nodes.", AOFF(ha_received_responses), 1},
};

static double
counter_value(const skt_metrics_app_t *a, const counter_def_t *d)
{
    const char *p = (const char *)a + d->offset;
    if (d->offset == AOFF(connected))
        return (double)*(const int64_t *)(const void *)p;
    return (double)*(const uint64_t *)(const void *)p;
}

static void
resolve_time(skt_metrics_t *m, json_t *all)
{
    json_t *values = family(m, all, "horizontal_adapter_resolve_time", "histogram",
                            "The average resolve time for requests to other nodes.");
    char name[256];
    for (size_t i = 0; i < m->napps; i++) {
        const skt_metrics_app_t *a = m->order[i];
        if (!a->ha_seen || !a->ha_time_count)
            continue;
        uint64_t cumulative = 0;
        snprintf(name, sizeof(name), "%shorizontal_adapter_resolve_time_bucket", m->prefix);
        for (int b = 0; b <= SKT_METRICS_BUCKETS; b++) {
            json_t *labels = json_object();
            if (b < SKT_METRICS_BUCKETS) {
                cumulative += a->ha_time_buckets[b];
                json_object_set_new(labels, "le", num(buckets[b]));
            } else {
                json_object_set_new(labels, "le", json_string("+Inf"));
            }
            json_object_set_new(labels, "app_id", json_string(a->id));
            json_object_set_new(labels, "port", json_integer(m->port));
            double v = b < SKT_METRICS_BUCKETS ? (double)cumulative : (double)a->ha_time_count;
            json_array_append_new(values, json_pack("{s:o, s:o, s:s}", "labels", labels, "value",
                                                    num(v), "metricName", name));
        }
        snprintf(name, sizeof(name), "%shorizontal_adapter_resolve_time_sum", m->prefix);
        json_array_append_new(values, json_pack("{s:o, s:o, s:s}", "labels", app_labels(m, a),
                                                "value", num(a->ha_time_sum), "metricName", name));
        snprintf(name, sizeof(name), "%shorizontal_adapter_resolve_time_count", m->prefix);
        json_array_append_new(values,
                              json_pack("{s:o, s:o, s:s}", "labels", app_labels(m, a), "value",
                                        num((double)a->ha_time_count), "metricName", name));
    }
}

typedef struct wh_collect_s {
    skt_metrics_t *m;
    json_t *sent, *failed, *retried, *dropped, *pending, *pending_bytes;
} wh_collect_t;

static void
wh_collect(void *arg, const char *app_id, const skt_wh_stats_t *st)
{
    wh_collect_t *c = arg;
    json_t *l = json_pack("{s:s, s:I}", "app_id", app_id, "port", (json_int_t)c->m->port);
    value(c->sent, json_deep_copy(l), (double)st->sent);
    value(c->failed, json_deep_copy(l), (double)st->failed);
    value(c->retried, json_deep_copy(l), (double)st->retried);
    value(c->dropped, json_deep_copy(l), (double)st->dropped);
    value(c->pending, json_deep_copy(l), (double)st->pending);
    value(c->pending_bytes, l, (double)st->pending_bytes);
}

/* A metric name Prometheus accepts: [a-zA-Z_:][a-zA-Z0-9_:]*. */
static int
valid_name(const char *s)
{
    if (!s || !*s || (*s >= '0' && *s <= '9'))
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == ':'))
            return 0;
    return 1;
}

/* The process_* families (prom-client's, as soketi has them), then the host's own figures;
 * each labelled {port} only. */
static void
process_families(skt_metrics_t *m, json_t *all)
{
    const proc_t p = *proc_figures(m);
    struct {
        const char *name, *type, *help;
        double v;
        int present;
    } procs[] = {
        {"process_cpu_user_seconds_total", "counter", "Total user CPU time spent in seconds.",
         p.user_s, p.ok},
        {"process_cpu_system_seconds_total", "counter", "Total system CPU time spent in seconds.",
         p.system_s, p.ok},
        {"process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.",
         p.user_s + p.system_s, p.ok},
        {"process_start_time_seconds", "gauge",
         "Start time of the process since unix epoch in seconds.", p.start_s, p.ok},
        {"process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", p.rss, p.ok},
        {"process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", p.vsize, p.ok},
        {"process_open_fds", "gauge", "Number of open file descriptors.", (double)p.open_fds,
         p.open_fds >= 0},
        {"process_max_fds", "gauge", "Maximum number of open file descriptors.", (double)p.max_fds,
         p.max_fds >= 0},
    };
    for (size_t k = 0; k < sizeof(procs) / sizeof(procs[0]); k++) {
        json_t *values = family(m, all, procs[k].name, procs[k].type, procs[k].help);
        if (procs[k].present)
            value(values, json_pack("{s:I}", "port", (json_int_t)m->port), procs[k].v);
    }

    if (!m->source)
        return;
    skt_metrics_figure_t figs[SKT_METRICS_MAX_FIGURES];
    size_t n = m->source(m->source_arg, figs, SKT_METRICS_MAX_FIGURES);
    for (size_t k = 0; k < n && k < SKT_METRICS_MAX_FIGURES; k++) {
        const char *type = figs[k].type;
        if (!valid_name(figs[k].name) || !type ||
            (strcmp(type, "counter") != 0 && strcmp(type, "gauge") != 0))
            continue; /* would not parse: the host's bug, not the scraper's problem */
        json_t *values = family(m, all, figs[k].name, type, figs[k].help ? figs[k].help : "");
        value(values, json_pack("{s:I}", "port", (json_int_t)m->port), figs[k].value);
    }
}

json_t *
skt_metrics_json(skt_metrics_t *m, const skt_webhooks_t *wh)
{
    json_t *all = json_array();
    if (!m || !m->enabled || !all)
        return all;
    for (size_t k = 0; k < sizeof(app_counters) / sizeof(app_counters[0]); k++) {
        const counter_def_t *d = &app_counters[k];
        if (!d->name) {
            resolve_time(m, all);
            continue;
        }
        json_t *values = family(m, all, d->name, d->type, d->help);
        for (size_t i = 0; i < m->napps; i++) {
            const skt_metrics_app_t *a = m->order[i];
            if (d->horizontal && !a->ha_seen)
                continue;
            value(values, app_labels(m, a), counter_value(a, d));
        }
    }

    process_families(m, all);

    if (wh) {
        wh_collect_t c = {.m = m};
        c.sent = family(m, all, "webhooks_sent_total", "counter",
                        "Webhooks delivered (answered 2xx), per app.");
        c.failed = family(m, all, "webhooks_failed_total", "counter",
                          "Webhooks given up after their last attempt, per app.");
        c.retried = family(m, all, "webhooks_retried_total", "counter",
                           "Webhook attempts that failed and were retried, per app.");
        c.dropped = family(m, all, "webhooks_dropped_total", "counter",
                           "Webhooks dropped to keep the app's pending webhooks within bounds.");
        c.pending = family(m, all, "webhooks_pending", "gauge",
                           "Webhooks queued, in flight or waiting to retry, per app.");
        c.pending_bytes = family(m, all, "webhooks_pending_bytes", "gauge",
                                 "Bytes of the bodies of the app's pending webhooks.");
        skt_webhooks_each_app(wh, wh_collect, &c);
    }
    return all;
}

/* ------------------------------------------------------------ text form */

typedef struct sbuf_s {
    char *p;
    size_t len, cap;
    int failed;
} sbuf_t;

static void
put(sbuf_t *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->failed = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void
puts_(sbuf_t *b, const char *s)
{
    put(b, s, strlen(s));
}

/* prom-client's escaping: \n and backslashes in help and names; and " in label values. */
static void
put_escaped(sbuf_t *b, const char *s, int quote)
{
    for (; *s; s++) {
        if (*s == '\n')
            puts_(b, "\\n");
        else if (*s == '\\')
            puts_(b, "\\\\");
        else if (quote && *s == '"')
            puts_(b, "\\\"");
        else
            put(b, s, 1);
    }
}

void
skt_metrics_number(double v, char out[SKT_METRICS_NUMBER_MAX])
{
    if (isnan(v)) {
        strcpy(out, "Nan");
    } else if (isinf(v)) {
        strcpy(out, v > 0 ? "+Inf" : "-Inf");
    } else if (v == floor(v) && fabs(v) < 9007199254740992.0) {
        snprintf(out, SKT_METRICS_NUMBER_MAX, "%.0f", v);
    } else {
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(out, SKT_METRICS_NUMBER_MAX, "%.*g", prec, v);
            if (strtod(out, NULL) == v)
                break;
        }
    }
}

static void
put_number(sbuf_t *b, double v)
{
    char t[SKT_METRICS_NUMBER_MAX];
    skt_metrics_number(v, t);
    puts_(b, t);
}

char *
skt_metrics_text_of(const json_t *families)
{
    sbuf_t b = {0};
    size_t i, j;
    json_t *f, *v;
    puts_(&b, "");
    json_array_foreach(families, i, f)
    {
        const char *name = json_string_value(json_object_get(f, "name"));
        if (i)
            puts_(&b, "\n\n");
        puts_(&b, "# HELP ");
        put_escaped(&b, name, 0);
        puts_(&b, " ");
        put_escaped(&b, json_string_value(json_object_get(f, "help")), 0);
        puts_(&b, "\n# TYPE ");
        put_escaped(&b, name, 0);
        puts_(&b, " ");
        puts_(&b, json_string_value(json_object_get(f, "type")));
        json_array_foreach(json_object_get(f, "values"), j, v)
        {
            const char *metric = json_string_value(json_object_get(v, "metricName"));
            puts_(&b, "\n");
            puts_(&b, metric ? metric : name);
            json_t *labels = json_object_get(v, "labels");
            if (json_object_size(labels)) {
                const char *k;
                json_t *lv;
                int first = 1;
                puts_(&b, "{");
                json_object_foreach(labels, k, lv)
                {
                    if (!first)
                        puts_(&b, ",");
                    first = 0;
                    puts_(&b, k);
                    puts_(&b, "=\"");
                    if (json_is_string(lv))
                        put_escaped(&b, json_string_value(lv), 1);
                    else
                        put_number(&b, json_number_value(lv));
                    puts_(&b, "\"");
                }
                puts_(&b, "}");
            }
            puts_(&b, " ");
            put_number(&b, json_number_value(json_object_get(v, "value")));
        }
    }
    puts_(&b, "\n");
    if (b.failed) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

char *
skt_metrics_text(skt_metrics_t *m, const skt_webhooks_t *wh)
{
    json_t *all = skt_metrics_json(m, wh);
    char *text = all && json_array_size(all) ? skt_metrics_text_of(all) : strdup("");
    json_decref(all);
    return text;
}
