/* bench.h - soketi-bench: shared types of the load generator (options, histograms, wire helpers).
 *
 * DESIGN
 * soketi-bench is one coordinator process and P forked workers. Each worker owns a share of
 * the subscriber WebSocket connections (bench_clients_*, clients.c) and reports to the
 * coordinator through a pipe (messages of bench_msg_t). The coordinator owns the publishers
 * (HTTP, publish.c, or client-event WebSocket connections, clients.c), samples the server's
 * /proc figures and prints the report (soketi-bench.c). Every timestamp is CLOCK_MONOTONIC in
 * nanoseconds, which all processes of the machine share, so a worker can subtract the send
 * time a publisher wrote into an event from its own receive time.
 *
 * Publishers and subscribers may talk to different servers (--publish-host/--publish-port):
 * two nodes of one cluster, joined by an adapter (Redis). The latency then covers the whole
 * path, publishing node -> adapter -> subscribers' node -> subscriber, as long as all the
 * processes share the machine's clock (loopback, as compare.sh runs them).
 *
 * An event's data is "#B<send ns>.<channel index>.<sequence in channel>." padded with 'x' to
 * the payload size: no character that JSON would escape, so the bytes come back unchanged from
 * any server and a receiver finds them with one memmem().
 */
#ifndef BENCH_BENCH_H
#define BENCH_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* ------------------------------------------------------------ options */

typedef enum bench_scenario_e {
    BENCH_FANOUT = 0, /* one channel, many subscribers */
    BENCH_MANY,       /* many channels, few subscribers each */
    BENCH_CHURN,      /* presence join/leave loop */
    BENCH_IDLE,       /* subscribed connections only: memory per connection */
    BENCH_HTTP,       /* REST triggers per second */
} bench_scenario_t;

typedef enum bench_chan_type_e {
    BENCH_PUBLIC = 0,
    BENCH_PRIVATE,
    BENCH_PRESENCE,
} bench_chan_type_t;

/* A process besides the server whose RSS and CPU go into the report (--watch-pid NAME=PID): the
 * publishing node of a cross-node run, the Redis server between the nodes. */
#define BENCH_MAX_WATCH 4

typedef struct bench_watch_s {
    char name[24];
    pid_t pid;
} bench_watch_t;

typedef struct bench_cfg_s {
    bench_scenario_t scenario;
    const char *scenario_name;
    char host[64]; /* where the subscribers connect */
    int port;
    char pub_host[64]; /* where the publishers (HTTP or client events) go; default host:port */
    int pub_port;
    const char *app_id, *app_key, *app_secret;
    const char *prefix; /* channel names: [private-|presence-]<prefix>-<index> */
    long conns;         /* subscriber connections, all workers */
    long channels;      /* channels the subscribers spread over */
    int subs_per_conn;  /* channels each subscriber joins */
    bench_chan_type_t chan_type;
    int publishers;    /* concurrent HTTP (or client-event) publishers */
    double rate;       /* events per second in all; 0: as fast as the publishers go */
    double duration;   /* seconds of publishing (or churn) */
    double drain;      /* seconds to wait for deliveries after the last publish */
    double settle;     /* idle: seconds between set-up and the RSS sample */
    int payload;       /* bytes of event data */
    int client_events; /* publish as client events over WebSocket */
    int batch;         /* events per HTTP request (1: /events, >1: /batch_events) */
    int window;        /* HTTP publishers: at most this many events sent and not yet delivered
                          to all their subscribers (0: no limit) */
    int source_ips;    /* subscribers bind to 127.0.0.2 .. 127.0.0.(1+source_ips) */
    int procs;         /* worker processes */
    int connect_conc;  /* handshakes in flight per worker */
    double connect_timeout;
    pid_t server_pid; /* 0: no /proc figures */
    bench_watch_t watch[BENCH_MAX_WATCH];
    int nwatch;
    int json;
    int quiet;
} bench_cfg_t;

/* "private-bench-7" etc. into out; returns the length. */
int bench_channel_name(const bench_cfg_t *cfg, long idx, char *out, size_t cap);

/* ------------------------------------------------------------ time */

static inline uint64_t
bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------ histograms (hist.c) */

/* Log-linear buckets: exact below 128 ns, then 64 buckets per power of two (1.6 %). */
#define BENCH_HIST_BUCKETS (128 + 40 * 64)

typedef struct bench_hist_s {
    uint64_t n, sum, min, max;
    uint64_t c[BENCH_HIST_BUCKETS];
} bench_hist_t;

void bench_hist_init(bench_hist_t *h);
void bench_hist_add(bench_hist_t *h, uint64_t v);
void bench_hist_merge(bench_hist_t *into, const bench_hist_t *from);
/* The value at percentile p (0..100): the middle of its bucket, clamped to [min, max]. 0 when
 * empty. */
uint64_t bench_hist_pct(const bench_hist_t *h, double p);

/* ------------------------------------------------------------ wire helpers (wire.c) */

/* Parses one server-to-client frame at buf[0..len). Returns its total size with *opcode, *fin,
 * *payload (into buf) and *plen set; 0 when more bytes are needed; -1 when the frame is not a
 * valid server frame (masked, RSV bits, 64-bit length with the top bit set). */
ssize_t bench_ws_parse(const uint8_t *buf, size_t len, unsigned *opcode, int *fin,
                       const uint8_t **payload, size_t *plen);

/* Writes a masked client frame (FIN, opcode) holding payload into out, which needs len + 14
 * bytes. Returns the frame size. */
size_t bench_ws_client_frame(uint8_t *out, unsigned opcode, const void *payload, size_t len);

/* An HTTP/1.1 response head at buf[0..len). Returns the head length (> 0) with *status,
 * *content_length (-1 when absent), *chunked and *conn_close (Connection: close) set; 0 when
 * incomplete; -1 malformed. */
int bench_http_response(const char *buf, size_t len, int *status, long long *content_length,
                        int *chunked, int *conn_close);

/* The string value of "key":"..." in a JSON text (the first occurrence; no escapes inside the
 * value are understood). NULL when absent. */
const char *bench_json_str(const char *p, size_t len, const char *key, size_t *vlen);

/* Parses the data of a bench event found in p[0..len): returns 1 with the fields, 0 when p
 * holds no "#B" marker. */
int bench_event_parse(const char *p, size_t len, uint64_t *t_ns, uint32_t *ch, uint32_t *seq);

/* Writes bench event data of exactly size bytes (at least 40) into out. */
void bench_event_data(char *out, int size, uint64_t t_ns, uint32_t ch, uint32_t seq);

/* Server figures from /proc/<pid>: resident set (kB) and CPU time (user + system, seconds).
 * Return -1 when the process cannot be read. */
long bench_proc_rss_kb(pid_t pid);
double bench_proc_cpu_s(pid_t pid);

/* CPU time of the whole machine since boot from /proc/stat, seconds summed over all CPUs:
 * *busy (not idle or iowait) and *total. Returns -1 when unreadable. */
int bench_proc_machine(double *busy, double *total);

/* The index at the end of a channel name ("presence-bench-12" -> 12), -1 if none. */
long bench_channel_index(const char *name, size_t len);

/* ------------------------------------------------------------ worker results */

/* What a set of WebSocket clients counted; summed over workers by the coordinator. */
typedef struct bench_counts_s {
    uint64_t attempted, connected, failed;  /* connections */
    uint64_t t_first_connect, t_last_ready; /* ns */
    uint64_t received;                      /* bench events received */
    uint64_t dups;                          /* of which duplicates */
    uint64_t t_last_event;
    uint64_t other_msgs; /* other Pusher events */
    uint64_t member_events;
    uint64_t joins;  /* presence churn: subscription_succeeded after START */
    uint64_t errors; /* pusher:error, subscription errors */
    uint64_t closed; /* connections the server closed after set-up */
    double cpu_s;    /* worker CPU between START and STOP */
    char first_error[160];
} bench_counts_t;

/* Latency over time: the worst delivery latency (us) of the events sent in each 100 ms slot of
 * the measured phase (the first 60 s), to tell a stall from a spread-out tail. */
#define BENCH_TIMELINE_SLOTS 600
#define BENCH_TIMELINE_NS 100000000ull

typedef struct bench_result_s {
    bench_counts_t k;
    uint64_t t_measure;                       /* ns, when the measured phase began here */
    uint32_t tl_max_us[BENCH_TIMELINE_SLOTS]; /* worst latency per slot of send time */
    bench_hist_t latency;                     /* delivery latency, ns */
    bench_hist_t setup;                       /* connect() to last subscription_succeeded, ns */
    bench_hist_t join;                        /* churn: subscribe to subscription_succeeded, ns */
} bench_result_t;

/* Pipe messages, worker -> coordinator: a header, then len bytes. */
enum {
    BENCH_MSG_READY = 1,    /* bench_result_t, then channels x uint32 subscriber counts */
    BENCH_MSG_PROGRESS = 2, /* bench_counts_t */
    BENCH_MSG_RESULT = 3,   /* bench_result_t */
};
/* Commands, coordinator -> worker: one byte. */
enum {
    BENCH_CMD_START = 'S',
    BENCH_CMD_STOP = 'Q',
};

typedef struct bench_msg_s {
    uint32_t type;
    uint32_t len;
} bench_msg_t;

/* ------------------------------------------------------------ WebSocket clients (clients.c) */

typedef struct bench_clients_s bench_clients_t;
struct event_base;

/* Roles of a client set: subscribers count what they receive; publishers (client events)
 * only keep their subscriptions alive and discard what arrives. */
enum { BENCH_ROLE_SUBSCRIBER = 0, BENCH_ROLE_PUBLISHER = 1 };

/* A set of connections first..first+count-1 (global indices) on base. Subscriber i joins
 * channels (i * subs_per_conn + j) % channels; publisher k joins every channel c with
 * c % publishers == k. on_ready runs once when every connection is set up or failed. */
bench_clients_t *bench_clients_new(struct event_base *base, const bench_cfg_t *cfg, int role,
                                   long first, long count, void (*on_ready)(void *), void *arg);
void bench_clients_free(bench_clients_t *cs);
/* Starts connecting. */
void bench_clients_start(bench_clients_t *cs);
/* Marks the start of the measured phase (starts the churn loop in BENCH_CHURN). */
void bench_clients_measure(bench_clients_t *cs);
/* Stops the churn loop. */
void bench_clients_stop(bench_clients_t *cs);
/* The results so far. */
bench_result_t *bench_clients_result(bench_clients_t *cs);
/* Subscribers per channel among the connections that are set up (cfg->channels entries). */
const uint32_t *bench_clients_subs(bench_clients_t *cs);
/* Client events: sends one event to channel ch with sequence seq on the publisher that owns ch.
 * Returns 0, or -1 when that publisher is not connected. */
int bench_clients_send_event(bench_clients_t *cs, uint32_t ch, uint32_t seq);

/* ------------------------------------------------------------ HTTP publishers (publish.c) */

typedef struct bench_pub_s bench_pub_t;

typedef struct bench_pub_stats_s {
    uint64_t sent, ok, failed; /* events */
    uint64_t requests, reconnects;
    uint64_t t_first, t_last; /* first send, last answer */
    bench_hist_t http;        /* request to response, ns */
    char first_error[160];
} bench_pub_stats_t;

/* cfg->publishers keep-alive connections that publish events round-robin over the channels,
 * at cfg->rate or as fast as the answers come. acked[c] counts the events of channel c the
 * server accepted (cfg->channels entries, owned by the caller). */
bench_pub_t *bench_pub_new(struct event_base *base, const bench_cfg_t *cfg, uint64_t *acked);
/* Connects; on_connected runs once all are connected (or failed). */
void bench_pub_connect(bench_pub_t *p, void (*on_connected)(void *), void *arg);
void bench_pub_start(bench_pub_t *p);
/* Stops sending; on_idle runs when no request is in flight any more. */
void bench_pub_stop(bench_pub_t *p, void (*on_idle)(void *), void *arg);
bench_pub_stats_t *bench_pub_stats(bench_pub_t *p);
void bench_pub_free(bench_pub_t *p);

/* Closed loop (--window): the publishers hold back while the events sent owe `deliveries` or
 * more deliveries that have not arrived. subs[c] is the subscriber count of channel c (what an
 * event on c owes; the caller's array, read while publishing). */
void bench_pub_window(bench_pub_t *p, const uint32_t *subs, uint64_t deliveries);
/* The unique deliveries counted so far, all workers: opens the window again. */
void bench_pub_delivered(bench_pub_t *p, uint64_t unique);

/* Builds the next HTTP request (used by publish.c; exposed for the self-test). */
size_t bench_pub_request(const bench_cfg_t *cfg, char *out, size_t cap, const uint32_t *chs,
                         const uint32_t *seqs, int n);

#endif
