/* soketi-bench.c - a Pusher-protocol load generator: options, workers, phases and the report.
 *
 * DESIGN
 * The coordinator forks --procs workers, each holding its share of the subscriber connections
 * (clients.c), and talks to them over two pipes per worker: one byte commands down
 * (BENCH_CMD_*), length-prefixed bench_msg_t messages up (READY with the set-up figures and
 * the subscribers per channel, PROGRESS every 100 ms, RESULT at the end). The phases:
 *
 *   connect   every worker connects and subscribes its share, then sends READY;
 *   prepare   the coordinator connects its publishers (HTTP or client-event WebSockets);
 *   measure   START to the workers, publishing (or the churn loop) for --duration seconds;
 *   drain     publishing stopped; wait until every accepted event has reached every
 *             subscriber (expected = sum over channels of accepted events x subscribers) or
 *             --drain seconds passed;
 *   report    STOP to the workers, RESULT from each, merged and printed.
 *
 * Lost = expected - unique deliveries; the server's /proc figures are sampled at each phase
 * change and its RSS every 100 ms for the peak, and so are those of the --watch-pid processes
 * (in a cross-node run: the publishing node and Redis; --server-pid is the subscribers' node).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench.h"

#define PROGRESS_MS 100
/* With --window the publishers wait for these counts: report more often. */
#define PROGRESS_WINDOW_MS 10
#define MAX_PROCS 64

/* ------------------------------------------------------------ pipes */

static int
write_all(int fd, const void *p, size_t len)
{
    const char *s = p;
    while (len) {
        ssize_t w = write(fd, s, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        s += w;
        len -= (size_t)w;
    }
    return 0;
}

static int
send_msg(int fd, uint32_t type, const void *a, size_t alen, const void *b, size_t blen)
{
    bench_msg_t m = {type, (uint32_t)(alen + blen)};
    if (write_all(fd, &m, sizeof(m)) || write_all(fd, a, alen))
        return -1;
    return blen ? write_all(fd, b, blen) : 0;
}

/* ------------------------------------------------------------ worker */

typedef struct worker_s {
    const bench_cfg_t *cfg;
    struct event_base *base;
    bench_clients_t *cs;
    int cmd_fd, res_fd;
    int ready;
    struct event *cmd_ev, *progress_ev;
} worker_t;

static void
worker_ready(void *arg)
{
    worker_t *w = arg;
    w->ready = 1;
    send_msg(w->res_fd, BENCH_MSG_READY, bench_clients_result(w->cs), sizeof(bench_result_t),
             bench_clients_subs(w->cs), (size_t)w->cfg->channels * sizeof(uint32_t));
}

static void
worker_progress(evutil_socket_t fd, short what, void *arg)
{
    worker_t *w = arg;
    if (w->ready)
        send_msg(w->res_fd, BENCH_MSG_PROGRESS, &bench_clients_result(w->cs)->k,
                 sizeof(bench_counts_t), NULL, 0);
}

static void
worker_cmd(evutil_socket_t fd, short what, void *arg)
{
    worker_t *w = arg;
    char cmd;
    ssize_t n = read(fd, &cmd, 1);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) { /* the coordinator is gone */
        event_base_loopbreak(w->base);
        return;
    }
    if (cmd == BENCH_CMD_START) {
        bench_clients_measure(w->cs);
    } else if (cmd == BENCH_CMD_STOP) {
        bench_clients_stop(w->cs);
        send_msg(w->res_fd, BENCH_MSG_RESULT, bench_clients_result(w->cs), sizeof(bench_result_t),
                 NULL, 0);
        event_base_loopbreak(w->base);
    }
}

static int
worker_main(const bench_cfg_t *cfg, long first, long count, int cmd_fd, int res_fd)
{
    worker_t w = {.cfg = cfg, .cmd_fd = cmd_fd, .res_fd = res_fd};
    w.base = event_base_new();
    if (!w.base)
        return 1;
    w.cs = bench_clients_new(w.base, cfg, BENCH_ROLE_SUBSCRIBER, first, count, worker_ready, &w);
    if (!w.cs)
        return 1;
    w.cmd_ev = event_new(w.base, cmd_fd, EV_READ | EV_PERSIST, worker_cmd, &w);
    w.progress_ev = event_new(w.base, -1, EV_PERSIST, worker_progress, &w);
    struct timeval tv = {0, (cfg->window ? PROGRESS_WINDOW_MS : PROGRESS_MS) * 1000};
    event_add(w.cmd_ev, NULL);
    event_add(w.progress_ev, &tv);
    bench_clients_start(w.cs);
    event_base_dispatch(w.base);
    /* Connections close with the process: closing 10^4 sockets one by one buys nothing. */
    return 0;
}

/* ------------------------------------------------------------ coordinator */

enum { PH_CONNECT = 0, PH_PREPARE, PH_MEASURE, PH_DRAIN, PH_REPORT, PH_DONE };

typedef struct server_sample_s {
    long rss_kb;
    double cpu_s;
    uint64_t t;
    double self_cpu_s;                  /* the coordinator's own CPU */
    double machine_busy, machine_total; /* /proc/stat, all CPUs */
    long w_rss_kb[BENCH_MAX_WATCH];     /* the --watch-pid processes */
    double w_cpu_s[BENCH_MAX_WATCH];
} server_sample_t;

typedef struct wslot_s {
    pid_t pid;
    int cmd_fd, res_fd;
    struct event *ev;
    char *buf;
    size_t len, cap;
    int ready, done;
    bench_counts_t progress;
} wslot_t;

typedef struct coord_s {
    bench_cfg_t *cfg;
    struct event_base *base;
    int phase;
    int nw;
    wslot_t w[MAX_PROCS];
    int nready, ndone;
    bench_result_t agg; /* READY figures, then RESULT figures merged */
    bench_result_t setup;
    uint32_t *subs;  /* subscribers per channel, all workers */
    uint64_t *acked; /* accepted events per channel */
    bench_pub_t *pub;
    bench_clients_t *wspub; /* client-event publishers */
    uint32_t *ce_seq;
    uint64_t ce_events, ce_sent, ce_failed;
    uint64_t t_start, t_pub_end, t_end;
    server_sample_t s_before, s_ready, s_start, s_end, s_settled;
    long rss_peak;
    long w_rss_peak[BENCH_MAX_WATCH];
    struct event *phase_ev, *sample_ev, *ce_ev, *drain_ev;
    uint64_t drain_deadline;
    uint64_t last_print_t, last_print_unique;
    int failed;
} coord_t;

static double
self_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* The server's and the watched processes' figures, and the machine's and our own CPU time,
 * now. */
static server_sample_t
sample_server(coord_t *co)
{
    server_sample_t s = {-1, -1, bench_now_ns(), self_cpu(), 0, 0, {0}, {0}};
    bench_proc_machine(&s.machine_busy, &s.machine_total);
    if (co->cfg->server_pid > 0) {
        s.rss_kb = bench_proc_rss_kb(co->cfg->server_pid);
        s.cpu_s = bench_proc_cpu_s(co->cfg->server_pid);
        if (s.rss_kb > co->rss_peak)
            co->rss_peak = s.rss_kb;
    }
    for (int i = 0; i < co->cfg->nwatch; i++) {
        s.w_rss_kb[i] = bench_proc_rss_kb(co->cfg->watch[i].pid);
        s.w_cpu_s[i] = bench_proc_cpu_s(co->cfg->watch[i].pid);
        if (s.w_rss_kb[i] > co->w_rss_peak[i])
            co->w_rss_peak[i] = s.w_rss_kb[i];
    }
    return s;
}

static void say(const coord_t *co, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
say(const coord_t *co, const char *fmt, ...)
{
    if (co->cfg->quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "soketi-bench: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

static void
send_cmd(coord_t *co, char cmd)
{
    for (int i = 0; i < co->nw; i++)
        if (!co->w[i].done)
            write_all(co->w[i].cmd_fd, &cmd, 1);
}

static uint64_t
unique_so_far(const coord_t *co)
{
    uint64_t u = 0;
    for (int i = 0; i < co->nw; i++)
        u += co->w[i].progress.received - co->w[i].progress.dups;
    return u;
}

static uint64_t
expected(const coord_t *co)
{
    uint64_t e = 0;
    for (long c = 0; c < co->cfg->channels; c++)
        e += co->acked[c] * co->subs[c];
    return e;
}

static void coord_measure(coord_t *co);
static void coord_finish(coord_t *co);

/* The end of the connect phase (every worker READY). */
static void
coord_all_ready(coord_t *co)
{
    co->s_ready = sample_server(co);
    const bench_counts_t *k = &co->setup.k;
    double secs = k->t_last_ready > k->t_first_connect
                      ? (double)(k->t_last_ready - k->t_first_connect) / 1e9
                      : 0;
    say(co, "%llu/%llu connections set up in %.2f s (%llu failed)",
        (unsigned long long)k->connected, (unsigned long long)k->attempted, secs,
        (unsigned long long)k->failed);
    if (k->failed && k->first_error[0])
        say(co, "first failure: %s", k->first_error);
    co->phase = PH_PREPARE;
    if (co->cfg->scenario == BENCH_IDLE) {
        struct timeval tv = {(time_t)co->cfg->settle,
                             (suseconds_t)(fmod(co->cfg->settle, 1.0) * 1e6)};
        event_add(co->phase_ev, &tv);
        return;
    }
    if (co->cfg->scenario == BENCH_CHURN || co->cfg->publishers == 0) {
        coord_measure(co);
        return;
    }
    if (co->cfg->client_events) {
        bench_clients_start(co->wspub);
        return;
    }
    if (co->cfg->window) {
        /* The window in deliveries: events x the subscribers an event reaches on average. */
        uint64_t subs = 0;
        for (long c = 0; c < co->cfg->channels; c++)
            subs += co->subs[c];
        uint64_t gate = (uint64_t)co->cfg->window * subs / (uint64_t)co->cfg->channels;
        bench_pub_window(co->pub, co->subs, gate ? gate : 1);
    }
    bench_pub_connect(co->pub, (void (*)(void *))coord_measure, co);
}

static void
wspub_ready(void *arg)
{
    coord_t *co = arg;
    const bench_counts_t *k = &bench_clients_result(co->wspub)->k;
    if (k->failed) {
        say(co, "client-event publishers: %llu failed: %s", (unsigned long long)k->failed,
            k->first_error);
    }
    coord_measure(co);
}

/* Client events at a fixed rate: the events due by now. */
static void
ce_tick(evutil_socket_t fd, short what, void *arg)
{
    coord_t *co = arg;
    if (co->phase != PH_MEASURE)
        return;
    uint64_t due = (uint64_t)(co->cfg->rate * (double)(bench_now_ns() - co->t_start) / 1e9) + 1;
    while (co->ce_events < due) {
        uint32_t ch = (uint32_t)(co->ce_events++ % (uint64_t)co->cfg->channels);
        uint32_t seq = co->ce_seq[ch]++;
        if (bench_clients_send_event(co->wspub, ch, seq) == 0) {
            co->ce_sent++;
            co->acked[ch]++;
        } else {
            co->ce_failed++;
        }
    }
}

static void
coord_measure(coord_t *co)
{
    co->phase = PH_MEASURE;
    send_cmd(co, BENCH_CMD_START);
    co->s_start = sample_server(co);
    co->t_start = bench_now_ns();
    co->last_print_t = co->t_start;
    say(co, "measuring for %.1f s", co->cfg->duration);
    if (co->pub)
        bench_pub_start(co->pub);
    if (co->ce_ev) {
        struct timeval ms = {0, 1000};
        event_add(co->ce_ev, &ms);
        ce_tick(-1, 0, co);
    }
    struct timeval tv = {(time_t)co->cfg->duration,
                         (suseconds_t)(fmod(co->cfg->duration, 1.0) * 1e6)};
    event_add(co->phase_ev, &tv);
}

static void
drain_check(evutil_socket_t fd, short what, void *arg)
{
    coord_t *co = arg;
    if (co->phase != PH_DRAIN)
        return;
    if (unique_so_far(co) >= expected(co) || bench_now_ns() >= co->drain_deadline) {
        event_del(co->drain_ev);
        coord_finish(co);
    }
}

/* Publishing is over and nothing is in flight: wait for the deliveries. */
static void
coord_published(void *arg)
{
    coord_t *co = arg;
    co->t_pub_end = bench_now_ns();
    co->phase = PH_DRAIN;
    co->drain_deadline = co->t_pub_end + (uint64_t)(co->cfg->drain * 1e9);
    struct timeval tv = {0, 20000};
    event_add(co->drain_ev, &tv);
}

/* The phase timer: the end of the idle settle time, or of the measured phase. */
static void
phase_cb(evutil_socket_t fd, short what, void *arg)
{
    coord_t *co = arg;
    if (co->phase == PH_PREPARE && co->cfg->scenario == BENCH_IDLE) {
        co->s_settled = sample_server(co);
        co->t_start = co->t_pub_end = bench_now_ns();
        coord_finish(co);
        return;
    }
    if (co->phase != PH_MEASURE)
        return;
    if (co->cfg->scenario == BENCH_CHURN || co->cfg->publishers == 0) {
        co->t_pub_end = bench_now_ns();
        coord_finish(co);
        return;
    }
    if (co->ce_ev)
        event_del(co->ce_ev);
    if (co->pub)
        bench_pub_stop(co->pub, coord_published, co);
    else
        coord_published(co);
}

static void
coord_finish(coord_t *co)
{
    co->phase = PH_REPORT;
    co->t_end = bench_now_ns();
    co->s_end = sample_server(co);
    send_cmd(co, BENCH_CMD_STOP);
}

static void
sample_cb(evutil_socket_t fd, short what, void *arg)
{
    coord_t *co = arg;
    sample_server(co);
    if (co->phase == PH_MEASURE && !co->cfg->quiet) {
        uint64_t now = bench_now_ns();
        if (now - co->last_print_t >= 1000000000ull) {
            uint64_t u = unique_so_far(co);
            double rate =
                (double)(u - co->last_print_unique) / ((double)(now - co->last_print_t) / 1e9);
            uint64_t joins = 0;
            for (int i = 0; i < co->nw; i++)
                joins += co->w[i].progress.joins;
            if (co->cfg->scenario == BENCH_CHURN)
                fprintf(stderr, "soketi-bench:   t=%4.1fs joins %llu\n",
                        (double)(now - co->t_start) / 1e9, (unsigned long long)joins);
            else
                fprintf(stderr, "soketi-bench:   t=%4.1fs delivered %.0f/s\n",
                        (double)(now - co->t_start) / 1e9, rate);
            co->last_print_t = now;
            co->last_print_unique = u;
        }
    }
}

/* One whole message from worker i. */
static void
coord_msg(coord_t *co, int i, uint32_t type, const char *p, size_t len)
{
    wslot_t *w = &co->w[i];
    if (type == BENCH_MSG_READY && len >= sizeof(bench_result_t)) {
        const bench_result_t *r = (const bench_result_t *)p;
        const uint32_t *subs = (const uint32_t *)(p + sizeof(bench_result_t));
        size_t nsubs = (len - sizeof(bench_result_t)) / sizeof(uint32_t);
        for (size_t c = 0; c < nsubs && c < (size_t)co->cfg->channels; c++)
            co->subs[c] += subs[c];
        bench_counts_t *k = &co->setup.k;
        k->attempted += r->k.attempted;
        k->connected += r->k.connected;
        k->failed += r->k.failed;
        if (r->k.t_first_connect &&
            (!k->t_first_connect || r->k.t_first_connect < k->t_first_connect))
            k->t_first_connect = r->k.t_first_connect;
        if (r->k.t_last_ready > k->t_last_ready)
            k->t_last_ready = r->k.t_last_ready;
        if (!k->first_error[0])
            memcpy(k->first_error, r->k.first_error, sizeof(k->first_error));
        bench_hist_merge(&co->setup.setup, &r->setup);
        w->ready = 1;
        if (++co->nready == co->nw)
            coord_all_ready(co);
    } else if (type == BENCH_MSG_PROGRESS && len == sizeof(bench_counts_t)) {
        memcpy(&w->progress, p, sizeof(w->progress));
        if (co->cfg->window && co->pub && co->phase == PH_MEASURE)
            bench_pub_delivered(co->pub, unique_so_far(co));
    } else if (type == BENCH_MSG_RESULT && len == sizeof(bench_result_t)) {
        const bench_result_t *r = (const bench_result_t *)p;
        memcpy(&w->progress, &r->k, sizeof(w->progress));
        bench_counts_t *k = &co->agg.k;
        k->received += r->k.received;
        k->dups += r->k.dups;
        k->other_msgs += r->k.other_msgs;
        k->member_events += r->k.member_events;
        k->joins += r->k.joins;
        k->errors += r->k.errors;
        k->closed += r->k.closed;
        k->cpu_s += r->k.cpu_s;
        if (r->k.t_last_event > k->t_last_event)
            k->t_last_event = r->k.t_last_event;
        if (!k->first_error[0])
            memcpy(k->first_error, r->k.first_error, sizeof(k->first_error));
        bench_hist_merge(&co->agg.latency, &r->latency);
        bench_hist_merge(&co->agg.join, &r->join);
        for (int t = 0; t < BENCH_TIMELINE_SLOTS; t++)
            if (r->tl_max_us[t] > co->agg.tl_max_us[t])
                co->agg.tl_max_us[t] = r->tl_max_us[t];
        w->done = 1;
        if (++co->ndone == co->nw) {
            co->phase = PH_DONE;
            event_base_loopbreak(co->base);
        }
    }
}

static void
coord_read(evutil_socket_t fd, short what, void *arg)
{
    coord_t *co = arg;
    int i = 0;
    while (i < co->nw && co->w[i].res_fd != fd)
        i++;
    wslot_t *w = &co->w[i];
    if (w->cap - w->len < 65536) {
        size_t cap = w->cap ? w->cap * 2 : 262144;
        char *n = realloc(w->buf, cap);
        if (!n) {
            fprintf(stderr, "soketi-bench: out of memory\n");
            exit(1);
        }
        w->buf = n;
        w->cap = cap;
    }
    ssize_t r = read(fd, w->buf + w->len, w->cap - w->len);
    if (r < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (r <= 0) {
        event_del(w->ev);
        if (!w->done) {
            fprintf(stderr, "soketi-bench: worker %d ended early\n", i);
            co->failed = 1;
            event_base_loopbreak(co->base);
        }
        return;
    }
    w->len += (size_t)r;
    size_t off = 0;
    while (w->len - off >= sizeof(bench_msg_t)) {
        bench_msg_t m;
        memcpy(&m, w->buf + off, sizeof(m));
        if (w->len - off - sizeof(m) < m.len)
            break;
        coord_msg(co, i, m.type, w->buf + off + sizeof(m), m.len);
        off += sizeof(m) + m.len;
    }
    memmove(w->buf, w->buf + off, w->len - off);
    w->len -= off;
}

/* ------------------------------------------------------------ report */

static double
ms(uint64_t ns)
{
    return (double)ns / 1e6;
}

/* The n slots of the latency timeline with the worst latency, worst first. */
static int
worst_slots(const bench_result_t *r, int *out, int n)
{
    int k = 0;
    for (int t = 0; t < BENCH_TIMELINE_SLOTS; t++) {
        if (!r->tl_max_us[t])
            continue;
        int i = k < n ? k++ : n - 1;
        if (i == n - 1 && k == n && r->tl_max_us[t] <= r->tl_max_us[out[i]])
            continue;
        out[i] = t;
        while (i > 0 && r->tl_max_us[out[i]] > r->tl_max_us[out[i - 1]]) {
            int x = out[i];
            out[i] = out[i - 1];
            out[i - 1] = x;
            i--;
        }
    }
    return k;
}

static void
report(coord_t *co, const char *label)
{
    const bench_cfg_t *cfg = co->cfg;
    const bench_counts_t *sk = &co->setup.k;
    const bench_counts_t *k = &co->agg.k;
    bench_pub_stats_t none;
    memset(&none, 0, sizeof(none));
    bench_hist_init(&none.http);
    const bench_pub_stats_t *ps = co->pub ? bench_pub_stats(co->pub) : &none;
    uint64_t published = co->pub ? ps->ok : co->ce_sent;
    uint64_t pub_failed = co->pub ? ps->failed : co->ce_failed;
    uint64_t exp = expected(co), uniq = k->received - k->dups;
    uint64_t lost = exp > uniq ? exp - uniq : 0;
    double setup_s = sk->t_last_ready > sk->t_first_connect
                         ? (double)(sk->t_last_ready - sk->t_first_connect) / 1e9
                         : 0;
    double setup_rate = setup_s > 0 ? (double)sk->connected / setup_s : 0;
    double deliv_s =
        k->t_last_event > co->t_start ? (double)(k->t_last_event - co->t_start) / 1e9 : 0;
    double deliv_rate = deliv_s > 0 ? (double)uniq / deliv_s : 0;
    uint64_t pub_end = co->pub && ps->t_last ? ps->t_last : co->t_pub_end;
    double pub_s = pub_end > co->t_start ? (double)(pub_end - co->t_start) / 1e9 : 0;
    double pub_rate = pub_s > 0 ? (double)published / pub_s : 0;
    double window_s = (double)(co->t_end - co->t_start) / 1e9;
    double churn_rate = window_s > 0 ? (double)k->joins / window_s : 0;
    double member_rate = window_s > 0 ? (double)k->member_events / window_s : 0;
    int have_srv = cfg->server_pid > 0 && co->s_before.rss_kb >= 0;
    double srv_cpu = have_srv ? co->s_end.cpu_s - co->s_start.cpu_s : 0;
    if (cfg->scenario == BENCH_IDLE)
        srv_cpu = have_srv ? co->s_settled.cpu_s - co->s_ready.cpu_s : 0;
    double srv_busy_s = deliv_s > pub_s ? deliv_s : pub_s;
    if (cfg->scenario == BENCH_CHURN)
        srv_busy_s = window_s;
    double srv_util = srv_busy_s > 0 ? srv_cpu / srv_busy_s * 100 : 0;
    long rss_after = cfg->scenario == BENCH_IDLE ? co->s_settled.rss_kb : co->s_ready.rss_kb;
    double rss_per_conn = have_srv && sk->connected ? (double)(rss_after - co->s_before.rss_kb) *
                                                          1024.0 / (double)sk->connected
                                                    : 0;
    const server_sample_t *m0 = cfg->scenario == BENCH_IDLE ? &co->s_ready : &co->s_start;
    const server_sample_t *m1 = cfg->scenario == BENCH_IDLE ? &co->s_settled : &co->s_end;
    double m_wall = (double)(m1->t - m0->t) / 1e9;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    double m_busy = m1->machine_busy - m0->machine_busy;
    double bench_cpu = k->cpu_s + (m1->self_cpu_s - m0->self_cpu_s);
    /* The watched processes over the same window as the server (the measured phase). */
    double w_cpu[BENCH_MAX_WATCH], w_cpu_all = 0;
    for (int i = 0; i < cfg->nwatch; i++) {
        w_cpu[i] = m1->w_cpu_s[i] >= 0 && m0->w_cpu_s[i] >= 0 ? m1->w_cpu_s[i] - m0->w_cpu_s[i] : 0;
        w_cpu_all += w_cpu[i];
    }
    double others = m_busy - bench_cpu - (have_srv ? srv_cpu : 0) - w_cpu_all;
    if (others < 0)
        others = 0;
    double m_busy_pct = m_wall > 0 ? m_busy / (m_wall * (double)ncpu) * 100 : 0;
    double others_pct = m_wall > 0 ? others / m_wall * 100 : 0;
    double cpu_per_delivery_us = uniq ? srv_cpu * 1e6 / (double)uniq : 0;
    double cpu_per_trigger_us = published ? srv_cpu * 1e6 / (double)published : 0;
    double cpu_per_join_us = k->joins ? srv_cpu * 1e6 / (double)k->joins : 0;

    if (cfg->json) {
        printf("{\n");
        printf("  \"scenario\": \"%s\",\n  \"label\": \"%s\",\n", cfg->scenario_name,
               label ? label : "");
        printf("  \"params\": {\"connections\": %ld, \"channels\": %ld, \"subs_per_conn\": %d, "
               "\"channel_type\": \"%s\", \"publishers\": %d, \"rate\": %g, \"duration_s\": %g, "
               "\"payload\": %d, \"batch\": %d, \"window\": %d, \"client_events\": %s, "
               "\"procs\": %d, \"target\": \"%s:%d\", \"publish_target\": \"%s:%d\"},\n",
               cfg->conns, cfg->channels, cfg->subs_per_conn,
               cfg->chan_type == BENCH_PUBLIC    ? "public"
               : cfg->chan_type == BENCH_PRIVATE ? "private"
                                                 : "presence",
               cfg->publishers, cfg->rate, cfg->duration, cfg->payload, cfg->batch, cfg->window,
               cfg->client_events ? "true" : "false", cfg->procs, cfg->host, cfg->port,
               cfg->pub_host, cfg->pub_port);
        printf("  \"connections\": {\"attempted\": %llu, \"connected\": %llu, \"failed\": %llu, "
               "\"closed_during_run\": %llu, \"setup_s\": %.3f, \"setup_per_s\": %.1f, "
               "\"setup_ms_p50\": %.3f, \"setup_ms_p99\": %.3f, \"setup_ms_max\": %.3f},\n",
               (unsigned long long)sk->attempted, (unsigned long long)sk->connected,
               (unsigned long long)sk->failed, (unsigned long long)k->closed, setup_s, setup_rate,
               ms(bench_hist_pct(&co->setup.setup, 50)), ms(bench_hist_pct(&co->setup.setup, 99)),
               ms(co->setup.setup.n ? co->setup.setup.max : 0));
        printf("  \"publish\": {\"events_ok\": %llu, \"events_failed\": %llu, \"requests\": %llu, "
               "\"per_s\": %.1f, \"http_ms_p50\": %.3f, \"http_ms_p99\": %.3f, \"http_ms_max\": "
               "%.3f},\n",
               (unsigned long long)published, (unsigned long long)pub_failed,
               (unsigned long long)ps->requests, pub_rate, ms(bench_hist_pct(&ps->http, 50)),
               ms(bench_hist_pct(&ps->http, 99)), ms(ps->http.n ? ps->http.max : 0));
        printf("  \"delivery\": {\"expected\": %llu, \"received\": %llu, \"unique\": %llu, "
               "\"duplicates\": %llu, \"lost\": %llu, \"per_s\": %.1f, \"latency_ms_p50\": %.3f, "
               "\"latency_ms_p99\": %.3f, \"latency_ms_p999\": %.3f, \"latency_ms_max\": %.3f, "
               "\"latency_ms_mean\": %.3f},\n",
               (unsigned long long)exp, (unsigned long long)k->received, (unsigned long long)uniq,
               (unsigned long long)k->dups, (unsigned long long)lost, deliv_rate,
               ms(bench_hist_pct(&co->agg.latency, 50)), ms(bench_hist_pct(&co->agg.latency, 99)),
               ms(bench_hist_pct(&co->agg.latency, 99.9)),
               ms(co->agg.latency.n ? co->agg.latency.max : 0),
               co->agg.latency.n ? ms(co->agg.latency.sum / co->agg.latency.n) : 0.0);
        printf("  \"latency_timeline_ms\": [");
        int last = -1;
        for (int t = 0; t < BENCH_TIMELINE_SLOTS; t++)
            if (co->agg.tl_max_us[t])
                last = t;
        for (int t = 0; t <= last; t++)
            printf("%s%.1f", t ? "," : "", co->agg.tl_max_us[t] / 1000.0);
        printf("],\n");
        printf("  \"presence\": {\"joins\": %llu, \"joins_per_s\": %.1f, \"join_ms_p50\": %.3f, "
               "\"join_ms_p99\": %.3f, \"member_events\": %llu, \"member_events_per_s\": %.1f},\n",
               (unsigned long long)k->joins, churn_rate, ms(bench_hist_pct(&co->agg.join, 50)),
               ms(bench_hist_pct(&co->agg.join, 99)), (unsigned long long)k->member_events,
               member_rate);
        printf("  \"server\": {\"pid\": %d, \"rss_kb_before\": %ld, \"rss_kb_ready\": %ld, "
               "\"rss_kb_end\": %ld, \"rss_kb_peak\": %ld, \"rss_bytes_per_conn\": %.1f, "
               "\"cpu_s\": %.3f, \"cpu_util_pct\": %.1f, \"cpu_us_per_delivery\": %.4f, "
               "\"cpu_us_per_event\": %.2f, \"cpu_us_per_join\": %.2f},\n",
               (int)cfg->server_pid, co->s_before.rss_kb, co->s_ready.rss_kb,
               cfg->scenario == BENCH_IDLE ? co->s_settled.rss_kb : co->s_end.rss_kb, co->rss_peak,
               rss_per_conn, srv_cpu, srv_util, cpu_per_delivery_us, cpu_per_trigger_us,
               cpu_per_join_us);
        printf("  \"watched\": [");
        for (int i = 0; i < cfg->nwatch; i++)
            printf("%s\n    {\"name\": \"%s\", \"pid\": %d, \"rss_kb_ready\": %ld, "
                   "\"rss_kb_end\": %ld, \"rss_kb_peak\": %ld, \"cpu_s\": %.3f, "
                   "\"cpu_util_pct\": %.1f, \"cpu_us_per_delivery\": %.4f, "
                   "\"cpu_us_per_event\": %.2f}",
                   i ? "," : "", cfg->watch[i].name, (int)cfg->watch[i].pid,
                   co->s_ready.w_rss_kb[i], m1->w_rss_kb[i], co->w_rss_peak[i], w_cpu[i],
                   srv_busy_s > 0 ? w_cpu[i] / srv_busy_s * 100 : 0,
                   uniq ? w_cpu[i] * 1e6 / (double)uniq : 0,
                   published ? w_cpu[i] * 1e6 / (double)published : 0);
        printf("%s],\n", cfg->nwatch ? "\n  " : "");
        printf("  \"client\": {\"worker_cpu_s\": %.3f, \"bench_cpu_s\": %.3f, \"errors\": %llu, "
               "\"other_messages\": %llu},\n",
               k->cpu_s, bench_cpu, (unsigned long long)k->errors,
               (unsigned long long)k->other_msgs);
        printf("  \"machine\": {\"cpus\": %ld, \"window_s\": %.3f, \"busy_pct\": %.1f, "
               "\"others_pct_of_one_cpu\": %.1f},\n",
               ncpu, m_wall, m_busy_pct, others_pct);
        const char *err = sk->first_error[0]  ? sk->first_error
                          : k->first_error[0] ? k->first_error
                                              : ps->first_error;
        printf("  \"first_error\": \"");
        for (const char *e = err; *e; e++)
            printf(*e == '"' || *e == '\\' ? "\\%c" : (unsigned char)*e < 0x20 ? " " : "%c", *e);
        printf("\"\n}\n");
        return;
    }

    printf("%s%s%s: %ld connections, %ld channel(s) (%s), %d subscription(s) each, payload %d B\n",
           cfg->scenario_name, label ? " " : "", label ? label : "", cfg->conns, cfg->channels,
           cfg->chan_type == BENCH_PUBLIC    ? "public"
           : cfg->chan_type == BENCH_PRIVATE ? "private"
                                             : "presence",
           cfg->subs_per_conn, cfg->payload);
    if (strcmp(cfg->pub_host, cfg->host) != 0 || cfg->pub_port != cfg->port)
        printf("  %-28s subscribers on %s:%d, publishers to %s:%d\n", "cross-node", cfg->host,
               cfg->port, cfg->pub_host, cfg->pub_port);
    printf("  %-28s %llu of %llu in %.2f s = %.0f/s (failed %llu, closed later %llu)\n",
           "connections set up", (unsigned long long)sk->connected,
           (unsigned long long)sk->attempted, setup_s, setup_rate, (unsigned long long)sk->failed,
           (unsigned long long)k->closed);
    printf("  %-28s p50 %.2f  p99 %.2f  max %.2f ms\n", "set-up time",
           ms(bench_hist_pct(&co->setup.setup, 50)), ms(bench_hist_pct(&co->setup.setup, 99)),
           ms(co->setup.setup.n ? co->setup.setup.max : 0));
    if (cfg->scenario != BENCH_IDLE && cfg->scenario != BENCH_CHURN && cfg->publishers) {
        char win[48] = "";
        if (cfg->window)
            snprintf(win, sizeof(win), ", window %d events", cfg->window);
        printf("  %-28s %llu ok, %llu failed, %.0f/s%s (%d %s publishers%s%s)\n",
               "events published", (unsigned long long)published, (unsigned long long)pub_failed,
               pub_rate, cfg->rate > 0 ? " (fixed rate)" : "", cfg->publishers,
               cfg->client_events ? "client-event" : "HTTP", cfg->batch > 1 ? ", batched" : "",
               win);
        if (co->pub)
            printf("  %-28s p50 %.2f  p99 %.2f  max %.2f ms\n", "HTTP publish latency",
                   ms(bench_hist_pct(&ps->http, 50)), ms(bench_hist_pct(&ps->http, 99)),
                   ms(ps->http.n ? ps->http.max : 0));
        printf("  %-28s %.0f/s (%llu unique of %llu expected; lost %llu, duplicates %llu)\n",
               "deliveries", deliv_rate, (unsigned long long)uniq, (unsigned long long)exp,
               (unsigned long long)lost, (unsigned long long)k->dups);
        printf("  %-28s p50 %.2f  p99 %.2f  p99.9 %.2f  max %.2f ms\n", "end-to-end latency",
               ms(bench_hist_pct(&co->agg.latency, 50)), ms(bench_hist_pct(&co->agg.latency, 99)),
               ms(bench_hist_pct(&co->agg.latency, 99.9)),
               ms(co->agg.latency.n ? co->agg.latency.max : 0));
        int worst[3];
        int nw = worst_slots(&co->agg, worst, 3);
        if (nw) {
            printf("  %-28s", "worst 100 ms send windows");
            for (int i = 0; i < nw; i++)
                printf("%s t=%.1fs %.1f ms", i ? "," : "", worst[i] * 0.1,
                       co->agg.tl_max_us[worst[i]] / 1000.0);
            printf("\n");
        }
    }
    if (cfg->scenario == BENCH_CHURN) {
        printf("  %-28s %llu = %.0f/s; join p50 %.2f  p99 %.2f ms\n", "presence joins",
               (unsigned long long)k->joins, churn_rate, ms(bench_hist_pct(&co->agg.join, 50)),
               ms(bench_hist_pct(&co->agg.join, 99)));
        printf("  %-28s %llu = %.0f/s\n", "member_added/removed recv",
               (unsigned long long)k->member_events, member_rate);
    }
    if (have_srv) {
        printf("  %-28s before %ld kB, set up %ld kB, end %ld kB, peak %ld kB\n", "server RSS",
               co->s_before.rss_kb, co->s_ready.rss_kb,
               cfg->scenario == BENCH_IDLE ? co->s_settled.rss_kb : co->s_end.rss_kb, co->rss_peak);
        if (cfg->scenario == BENCH_IDLE)
            printf("  %-28s %.0f bytes\n", "server RSS per connection", rss_per_conn);
        printf("  %-28s %.2f s (%.0f%% of one core)", "server CPU", srv_cpu, srv_util);
        if (cfg->scenario == BENCH_HTTP)
            printf("; %.1f us per event", cpu_per_trigger_us);
        else if (cfg->scenario == BENCH_CHURN)
            printf("; %.1f us per join", cpu_per_join_us);
        else if (cfg->scenario != BENCH_IDLE)
            printf("; %.3f us per delivery", cpu_per_delivery_us);
        printf("\n");
    }
    for (int i = 0; i < cfg->nwatch; i++) {
        char what[40];
        snprintf(what, sizeof(what), "%s (pid %d)", cfg->watch[i].name, (int)cfg->watch[i].pid);
        printf("  %-28s RSS end %ld kB, peak %ld kB; CPU %.2f s (%.0f%% of one core)", what,
               m1->w_rss_kb[i], co->w_rss_peak[i], w_cpu[i],
               srv_busy_s > 0 ? w_cpu[i] / srv_busy_s * 100 : 0);
        if (uniq && cfg->scenario != BENCH_IDLE && cfg->scenario != BENCH_CHURN)
            printf("; %.3f us per delivery, %.1f us per event", w_cpu[i] * 1e6 / (double)uniq,
                   published ? w_cpu[i] * 1e6 / (double)published : 0);
        printf("\n");
    }
    printf("  %-28s %.2f s (workers and coordinator)\n", "bench CPU", bench_cpu);
    printf("  %-28s %.0f%% of %ld CPUs busy; other processes used %.0f%% of one CPU\n", "machine",
           m_busy_pct, ncpu, others_pct);
    if (k->errors || k->other_msgs)
        printf("  %-28s %llu errors, %llu other messages\n", "client saw",
               (unsigned long long)k->errors, (unsigned long long)k->other_msgs);
    if (sk->first_error[0])
        printf("  first set-up error: %s\n", sk->first_error);
    if (k->first_error[0])
        printf("  first error: %s\n", k->first_error);
    if (ps->first_error[0])
        printf("  first publish error: %s\n", ps->first_error);
}

/* ------------------------------------------------------------ options */

static void
usage(FILE *f)
{
    fprintf(
        f,
        "usage: soketi-bench SCENARIO [options]\n"
        "scenarios:\n"
        "  fanout          one channel, many subscribers; HTTP (or client-event) publishers\n"
        "  many-channels   many channels, few subscribers each\n"
        "  presence-churn  presence members leave and join again in a loop\n"
        "  idle            subscribed connections only: server RSS per connection\n"
        "  http-publish    REST triggers per second and server CPU per trigger\n"
        "options (defaults depend on the scenario):\n"
        "  --host ADDR            server IPv4 address (127.0.0.1)\n"
        "  --port N               server port (6001)\n"
        "  --publish-host ADDR    where publishers go (--host): another node of the cluster\n"
        "  --publish-port N       its port (--port)\n"
        "  --app-id ID --key KEY --secret SECRET   (app-id, app-key, app-secret)\n"
        "  -c, --connections N    subscriber connections\n"
        "  --channels N           channels the subscribers spread over\n"
        "  --subs N               channels each subscriber joins (1)\n"
        "  --channel-type T       public, private or presence\n"
        "  --prefix P             channel name prefix (bench)\n"
        "  -k, --publishers N     concurrent publishers (4)\n"
        "  --rate R               events per second in all; 0 = as fast as possible\n"
        "  -d, --duration S       seconds of publishing / churn (10)\n"
        "  --drain S              seconds to wait for late deliveries (5)\n"
        "  --settle S             idle: seconds before the RSS sample (3)\n"
        "  -p, --payload B        event data bytes (100, at least 40)\n"
        "  --batch N              events per HTTP request (1; >1 uses /batch_events)\n"
        "  --window N             at most N events sent and not yet delivered to all their\n"
        "                         subscribers (HTTP publishers; 0 = no limit, the default)\n"
        "  --client-events        publish as client events over WebSocket (needs --rate and\n"
        "                         private or presence channels)\n"
        "  --source-ips N         bind subscribers to 127.0.0.2..127.0.0.(N+1) (8; 0 = no bind)\n"
        "  -P, --procs N          worker processes (default: one per 15000 connections)\n"
        "  --connect-concurrency N  handshakes in flight per worker (200)\n"
        "  --connect-timeout S    (20)\n"
        "  --server-pid PID       report the server's RSS and CPU from /proc/PID\n"
        "  --watch-pid NAME=PID   also report RSS and CPU of PID (e.g. the publishing node,\n"
        "                         redis-server); up to 4 times\n"
        "  --label TEXT           a name for the report (e.g. the server's)\n"
        "  --json                 print the report as JSON\n"
        "  -q, --quiet            no progress on stderr\n");
}

static int
parse_scenario(const char *s, bench_cfg_t *cfg)
{
    static const struct {
        const char *name;
        bench_scenario_t sc;
    } all[] = {{"fanout", BENCH_FANOUT},
               {"many-channels", BENCH_MANY},
               {"presence-churn", BENCH_CHURN},
               {"idle", BENCH_IDLE},
               {"http-publish", BENCH_HTTP}};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        if (strcmp(s, all[i].name) == 0) {
            cfg->scenario = all[i].sc;
            cfg->scenario_name = all[i].name;
            return 0;
        }
    }
    return -1;
}

static long
num(const char *opt, const char *v, long lo, long hi)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || *end || n < lo || n > hi) {
        fprintf(stderr, "soketi-bench: %s wants a number from %ld to %ld, not '%s'\n", opt, lo, hi,
                v);
        exit(2);
    }
    return n;
}

static double
dnum(const char *opt, const char *v, double lo)
{
    char *end;
    double d = strtod(v, &end);
    if (*end || !(d >= lo)) {
        fprintf(stderr, "soketi-bench: %s wants a number >= %g, not '%s'\n", opt, lo, v);
        exit(2);
    }
    return d;
}

/* --watch-pid NAME=PID: one more process for the report, e.g. the node the publishers talk
 * to or the Redis server between the nodes, whose CPU is part of what a delivery costs. */
static int
parse_watch(const char *v, bench_cfg_t *cfg)
{
    const char *eq = strchr(v, '=');
    if (!eq || eq == v || (size_t)(eq - v) >= sizeof(cfg->watch[0].name)) {
        fprintf(stderr,
                "soketi-bench: --watch-pid wants NAME=PID (a name of 1 to %zu characters), "
                "not '%s'\n",
                sizeof(cfg->watch[0].name) - 1, v);
        return -1;
    }
    if (cfg->nwatch == BENCH_MAX_WATCH) {
        fprintf(stderr, "soketi-bench: at most %d --watch-pid\n", BENCH_MAX_WATCH);
        return -1;
    }
    bench_watch_t *w = &cfg->watch[cfg->nwatch];
    w->pid = (pid_t)num("--watch-pid", eq + 1, 1, 1 << 30);
    snprintf(w->name, sizeof(w->name), "%.*s", (int)(eq - v), v);
    if (bench_proc_cpu_s(w->pid) < 0) {
        fprintf(stderr, "soketi-bench: --watch-pid: cannot read /proc/%d\n", (int)w->pid);
        return -1;
    }
    cfg->nwatch++;
    return 0;
}

int
main(int argc, char **argv)
{
    bench_cfg_t cfg = {
        .port = 6001,
        .app_id = "app-id",
        .app_key = "app-key",
        .app_secret = "app-secret",
        .prefix = "bench",
        .conns = -1,
        .channels = -1,
        .subs_per_conn = 1,
        .chan_type = (bench_chan_type_t)-1,
        .publishers = -1,
        .rate = 0,
        .duration = 10,
        .drain = 5,
        .settle = 3,
        .payload = 100,
        .batch = 1,
        .source_ips = 8,
        .procs = 0,
        .connect_conc = 200,
        .connect_timeout = 20,
    };
    const char *label = NULL;
    snprintf(cfg.host, sizeof(cfg.host), "127.0.0.1");
    enum {
        O_HOST = 256,
        O_PORT,
        O_APPID,
        O_KEY,
        O_SECRET,
        O_CHANNELS,
        O_SUBS,
        O_TYPE,
        O_PREFIX,
        O_RATE,
        O_DRAIN,
        O_SETTLE,
        O_BATCH,
        O_CE,
        O_SRCIPS,
        O_CONC,
        O_CTIMEOUT,
        O_PID,
        O_LABEL,
        O_JSON,
        O_PUBHOST,
        O_PUBPORT,
        O_WATCH,
        O_WINDOW,
    };
    static const struct option opts[] = {
        {"host", required_argument, NULL, O_HOST},
        {"port", required_argument, NULL, O_PORT},
        {"publish-host", required_argument, NULL, O_PUBHOST},
        {"publish-port", required_argument, NULL, O_PUBPORT},
        {"watch-pid", required_argument, NULL, O_WATCH},
        {"app-id", required_argument, NULL, O_APPID},
        {"key", required_argument, NULL, O_KEY},
        {"secret", required_argument, NULL, O_SECRET},
        {"connections", required_argument, NULL, 'c'},
        {"channels", required_argument, NULL, O_CHANNELS},
        {"subs", required_argument, NULL, O_SUBS},
        {"channel-type", required_argument, NULL, O_TYPE},
        {"prefix", required_argument, NULL, O_PREFIX},
        {"publishers", required_argument, NULL, 'k'},
        {"rate", required_argument, NULL, O_RATE},
        {"duration", required_argument, NULL, 'd'},
        {"drain", required_argument, NULL, O_DRAIN},
        {"settle", required_argument, NULL, O_SETTLE},
        {"payload", required_argument, NULL, 'p'},
        {"batch", required_argument, NULL, O_BATCH},
        {"window", required_argument, NULL, O_WINDOW},
        {"client-events", no_argument, NULL, O_CE},
        {"source-ips", required_argument, NULL, O_SRCIPS},
        {"procs", required_argument, NULL, 'P'},
        {"connect-concurrency", required_argument, NULL, O_CONC},
        {"connect-timeout", required_argument, NULL, O_CTIMEOUT},
        {"server-pid", required_argument, NULL, O_PID},
        {"label", required_argument, NULL, O_LABEL},
        {"json", no_argument, NULL, O_JSON},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    if (argc < 2 || argv[1][0] == '-') {
        usage(argc >= 2 && strcmp(argv[1], "--help") == 0 ? stdout : stderr);
        return argc >= 2 && strcmp(argv[1], "--help") == 0 ? 0 : 2;
    }
    if (parse_scenario(argv[1], &cfg) != 0) {
        fprintf(stderr, "soketi-bench: unknown scenario '%s'\n", argv[1]);
        usage(stderr);
        return 2;
    }
    optind = 2;
    int o;
    while ((o = getopt_long(argc, argv, "c:k:d:p:P:qh", opts, NULL)) != -1) {
        switch (o) {
        case O_HOST:
            snprintf(cfg.host, sizeof(cfg.host), "%s", optarg);
            break;
        case O_PORT:
            cfg.port = (int)num("--port", optarg, 1, 65535);
            break;
        case O_PUBHOST:
            snprintf(cfg.pub_host, sizeof(cfg.pub_host), "%s", optarg);
            break;
        case O_PUBPORT:
            cfg.pub_port = (int)num("--publish-port", optarg, 1, 65535);
            break;
        case O_WATCH:
            if (parse_watch(optarg, &cfg) != 0)
                return 2;
            break;
        case O_APPID:
            cfg.app_id = optarg;
            break;
        case O_KEY:
            cfg.app_key = optarg;
            break;
        case O_SECRET:
            cfg.app_secret = optarg;
            break;
        case 'c':
            cfg.conns = num("--connections", optarg, 0, 10000000);
            break;
        case O_CHANNELS:
            cfg.channels = num("--channels", optarg, 1, 10000000);
            break;
        case O_SUBS:
            cfg.subs_per_conn = (int)num("--subs", optarg, 1, 10000);
            break;
        case O_TYPE:
            if (strcmp(optarg, "public") == 0)
                cfg.chan_type = BENCH_PUBLIC;
            else if (strcmp(optarg, "private") == 0)
                cfg.chan_type = BENCH_PRIVATE;
            else if (strcmp(optarg, "presence") == 0)
                cfg.chan_type = BENCH_PRESENCE;
            else {
                fprintf(stderr, "soketi-bench: --channel-type: public, private or presence\n");
                return 2;
            }
            break;
        case O_PREFIX:
            cfg.prefix = optarg;
            break;
        case 'k':
            cfg.publishers = (int)num("--publishers", optarg, 0, 1000);
            break;
        case O_RATE:
            cfg.rate = dnum("--rate", optarg, 0);
            break;
        case 'd':
            cfg.duration = dnum("--duration", optarg, 0.1);
            break;
        case O_DRAIN:
            cfg.drain = dnum("--drain", optarg, 0);
            break;
        case O_SETTLE:
            cfg.settle = dnum("--settle", optarg, 0);
            break;
        case 'p':
            cfg.payload = (int)num("--payload", optarg, 40, 10 * 1024 * 1024);
            break;
        case O_BATCH:
            cfg.batch = (int)num("--batch", optarg, 1, 100);
            break;
        case O_WINDOW:
            cfg.window = (int)num("--window", optarg, 0, 1000000);
            break;
        case O_CE:
            cfg.client_events = 1;
            break;
        case O_SRCIPS:
            cfg.source_ips = (int)num("--source-ips", optarg, 0, 250);
            break;
        case 'P':
            cfg.procs = (int)num("--procs", optarg, 1, MAX_PROCS);
            break;
        case O_CONC:
            cfg.connect_conc = (int)num("--connect-concurrency", optarg, 1, 100000);
            break;
        case O_CTIMEOUT:
            cfg.connect_timeout = dnum("--connect-timeout", optarg, 0.1);
            break;
        case O_PID:
            cfg.server_pid = (pid_t)num("--server-pid", optarg, 1, 1 << 30);
            break;
        case O_LABEL:
            label = optarg;
            break;
        case O_JSON:
            cfg.json = 1;
            break;
        case 'q':
            cfg.quiet = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "soketi-bench: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (!cfg.pub_host[0])
        snprintf(cfg.pub_host, sizeof(cfg.pub_host), "%s", cfg.host);
    if (!cfg.pub_port)
        cfg.pub_port = cfg.port;
    struct in_addr addr;
    if (inet_pton(AF_INET, cfg.host, &addr) != 1 || inet_pton(AF_INET, cfg.pub_host, &addr) != 1) {
        fprintf(stderr, "soketi-bench: --host and --publish-host must be IPv4 addresses\n");
        return 2;
    }

    /* Scenario defaults for what was not given. */
    static const struct {
        long conns, channels;
        int publishers;
        bench_chan_type_t type;
    } defs[] = {
        [BENCH_FANOUT] = {1000, 1, 4, BENCH_PUBLIC},
        [BENCH_MANY] = {10000, 1000, 4, BENCH_PUBLIC},
        [BENCH_CHURN] = {1000, 100, 0, BENCH_PRESENCE},
        [BENCH_IDLE] = {10000, 1, 0, BENCH_PUBLIC},
        [BENCH_HTTP] = {10, 1, 4, BENCH_PUBLIC},
    };
    if (cfg.conns < 0)
        cfg.conns = defs[cfg.scenario].conns;
    if (cfg.channels < 0)
        cfg.channels = defs[cfg.scenario].channels;
    if (cfg.publishers < 0)
        cfg.publishers = defs[cfg.scenario].publishers;
    if ((int)cfg.chan_type < 0)
        cfg.chan_type = defs[cfg.scenario].type;
    if (cfg.scenario == BENCH_CHURN) {
        cfg.publishers = 0;
        cfg.subs_per_conn = 1;
        if (cfg.chan_type != BENCH_PRESENCE) {
            fprintf(stderr, "soketi-bench: presence-churn needs presence channels\n");
            return 2;
        }
    }
    if (cfg.scenario == BENCH_IDLE)
        cfg.publishers = 0;
    if (cfg.subs_per_conn > cfg.channels)
        cfg.subs_per_conn = (int)cfg.channels;
    if (cfg.client_events) {
        if (cfg.rate <= 0 || cfg.chan_type == BENCH_PUBLIC) {
            fprintf(stderr, "soketi-bench: --client-events needs --rate and --channel-type "
                            "private or presence (Pusher refuses client events on public "
                            "channels)\n");
            return 2;
        }
        cfg.batch = 1;
        if (cfg.window) {
            fprintf(stderr, "soketi-bench: --window is for HTTP publishers, not --client-events\n");
            return 2;
        }
    }
    if (cfg.procs == 0)
        cfg.procs = (int)((cfg.conns + 14999) / 15000);
    if (cfg.procs < 1)
        cfg.procs = 1;

    /* Sockets: as many as the hard limit allows, in every process. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        long per = (cfg.conns + cfg.procs - 1) / cfg.procs;
        if ((rlim_t)per + 64 > rl.rlim_cur) {
            fprintf(stderr,
                    "soketi-bench: %ld connections per process exceed the open-files limit %llu: "
                    "use --procs %ld or more\n",
                    per, (unsigned long long)rl.rlim_cur,
                    (long)((cfg.conns + (long)rl.rlim_cur - 65) / ((long)rl.rlim_cur - 64)));
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);

    coord_t co;
    memset(&co, 0, sizeof(co));
    co.cfg = &cfg;
    co.rss_peak = -1;
    for (int i = 0; i < BENCH_MAX_WATCH; i++)
        co.w_rss_peak[i] = -1;
    bench_hist_init(&co.setup.setup);
    bench_hist_init(&co.agg.latency);
    bench_hist_init(&co.agg.join);
    co.subs = calloc((size_t)cfg.channels, sizeof(*co.subs));
    co.acked = calloc((size_t)cfg.channels, sizeof(*co.acked));
    co.ce_seq = calloc((size_t)cfg.channels, sizeof(*co.ce_seq));
    if (!co.subs || !co.acked || !co.ce_seq) {
        fprintf(stderr, "soketi-bench: out of memory\n");
        return 1;
    }
    if (cfg.server_pid > 0 && bench_proc_rss_kb(cfg.server_pid) < 0) {
        fprintf(stderr, "soketi-bench: cannot read /proc/%d: no server figures\n",
                (int)cfg.server_pid);
        cfg.server_pid = 0;
    }
    co.s_before = sample_server(&co);

    co.nw = cfg.procs;
    for (int i = 0; i < co.nw; i++) {
        int down[2], up[2];
        if (pipe2(down, O_CLOEXEC) != 0 || pipe2(up, O_CLOEXEC) != 0) {
            perror("soketi-bench: pipe");
            return 1;
        }
        long first = cfg.conns * i / co.nw, last = cfg.conns * (i + 1) / co.nw;
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) {
            perror("soketi-bench: fork");
            return 1;
        }
        if (pid == 0) {
            for (int j = 0; j < i; j++) {
                close(co.w[j].cmd_fd);
                close(co.w[j].res_fd);
            }
            close(down[1]);
            close(up[0]);
            _exit(worker_main(&cfg, first, last - first, down[0], up[1]));
        }
        close(down[0]);
        close(up[1]);
        co.w[i].pid = pid;
        co.w[i].cmd_fd = down[1];
        co.w[i].res_fd = up[0];
    }
    say(&co, "%s: %ld connections in %d worker(s) to %s:%d", cfg.scenario_name, cfg.conns, co.nw,
        cfg.host, cfg.port);
    if (strcmp(cfg.pub_host, cfg.host) != 0 || cfg.pub_port != cfg.port)
        say(&co, "publishers to %s:%d", cfg.pub_host, cfg.pub_port);

    co.base = event_base_new();
    if (!co.base)
        return 1;
    for (int i = 0; i < co.nw; i++) {
        co.w[i].ev = event_new(co.base, co.w[i].res_fd, EV_READ | EV_PERSIST, coord_read, &co);
        event_add(co.w[i].ev, NULL);
    }
    co.phase_ev = evtimer_new(co.base, phase_cb, &co);
    co.drain_ev = event_new(co.base, -1, EV_PERSIST, drain_check, &co);
    co.sample_ev = event_new(co.base, -1, EV_PERSIST, sample_cb, &co);
    struct timeval tenth = {0, 100000};
    event_add(co.sample_ev, &tenth);
    if (cfg.publishers > 0 && cfg.scenario != BENCH_IDLE && cfg.scenario != BENCH_CHURN) {
        if (cfg.client_events) {
            co.wspub = bench_clients_new(co.base, &cfg, BENCH_ROLE_PUBLISHER, 0, cfg.publishers,
                                         wspub_ready, &co);
            co.ce_ev = event_new(co.base, -1, EV_PERSIST, ce_tick, &co);
            if (!co.wspub || !co.ce_ev)
                return 1;
        } else {
            co.pub = bench_pub_new(co.base, &cfg, co.acked);
            if (!co.pub)
                return 1;
        }
    }
    event_base_dispatch(co.base);

    for (int i = 0; i < co.nw; i++) {
        if (co.failed)
            kill(co.w[i].pid, SIGTERM);
        waitpid(co.w[i].pid, NULL, 0);
    }
    if (co.failed)
        return 1;
    report(&co, label);
    bench_pub_free(co.pub);
    bench_clients_free(co.wspub);
    for (int i = 0; i < co.nw; i++) {
        event_free(co.w[i].ev);
        close(co.w[i].cmd_fd);
        close(co.w[i].res_fd);
        free(co.w[i].buf);
    }
    if (co.ce_ev)
        event_free(co.ce_ev);
    event_free(co.phase_ev);
    event_free(co.drain_ev);
    event_free(co.sample_ev);
    event_base_free(co.base);
    free(co.subs);
    free(co.acked);
    free(co.ce_seq);
    return 0;
}
