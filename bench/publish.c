/* publish.c - soketi-bench's HTTP publishers: signed POST /apps/:id/events on keep-alive sockets.
 *
 * DESIGN
 * cfg->publishers connections, each with at most one request in flight (the `pusher` SDK does
 * not pipeline either). Requests are signed exactly as the SDK signs them: auth_key,
 * auth_timestamp, auth_version=1.0 and body_md5 in the query, auth_signature = HMAC-SHA256 of
 * "POST\n<path>\n<sorted params>" (skt_sig_http_sign, the project's own signer). Events go
 * round-robin over the channels with a sequence number per channel; the send time written in
 * the data is taken just before the request is written. At a fixed rate a 1 ms timer releases
 * the events that are due; a request that cannot go because every publisher is busy goes as
 * soon as one answers (the lag shows as a lower achieved rate, not as hidden latency).
 * They connect to cfg->pub_host:pub_port, which is another node than the subscribers' in a
 * cross-node run.
 *
 * Closed loop (--window). On one node the publishers are held back by the server itself: the
 * answer to a trigger comes from the loop that also does the fan-out. Across nodes the
 * publishing node answers as soon as it has handed the event to Redis, and "as fast as the
 * answers come" outruns the subscribers' node without bound (the queue, not the server, then
 * sets the latency, and the drain ends with most deliveries still queued). With a window the
 * publishers send only while the events sent owe fewer than `gate` deliveries not yet counted
 * by the workers (whose counts arrive every 10 ms): the throughput is then what the far node
 * delivers, with a bounded backlog.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"
#include "pusher/sig.h"

enum { HP_DOWN = 0, HP_CONNECTING, HP_IDLE, HP_BUSY };

#define BATCH_MAX 100

typedef struct hp_s {
    struct event ev;
    bench_pub_t *p;
    int fd;
    int state;
    uint8_t evflags;
    char *req;
    size_t req_len, req_off, req_cap;
    char *in;
    size_t in_len, in_cap;
    uint64_t t_sent;
    uint32_t chs[BATCH_MAX];
    int nev;
} hp_t;

struct bench_pub_s {
    struct event_base *base;
    const bench_cfg_t *cfg;
    uint64_t *acked;
    hp_t *h;
    int n;
    uint32_t *seq;   /* next sequence per channel */
    uint64_t events; /* events handed out so far */
    int running, connected_fired;
    uint64_t t_start;
    struct event *timer;
    void (*on_connected)(void *);
    void *connected_arg;
    void (*on_idle)(void *);
    void *idle_arg;
    struct sockaddr_in dst;
    const uint32_t *subs; /* --window: subscribers per channel */
    uint64_t gate;        /* deliveries owed that close the window; 0: no window */
    uint64_t owed;        /* deliveries the events sent (and not failed) owe */
    uint64_t delivered;   /* unique deliveries counted so far */
    bench_pub_stats_t st;
};

static void hp_io_cb(evutil_socket_t fd, short what, void *arg);
static void pub_pump(bench_pub_t *p);
static void hp_connect(hp_t *h);

static void
note_error(bench_pub_t *p, const char *what, const char *detail, size_t dlen)
{
    if (p->st.first_error[0])
        return;
    snprintf(p->st.first_error, sizeof(p->st.first_error), "%s%.*s", what,
             (int)(dlen > 120 ? 120 : dlen), detail ? detail : "");
}

static void
hp_events(hp_t *h, short flags)
{
    if (h->evflags == (uint8_t)flags)
        return;
    if (h->evflags)
        event_del(&h->ev);
    h->evflags = (uint8_t)flags;
    if (!flags)
        return;
    event_assign(&h->ev, h->p->base, h->fd, flags, hp_io_cb, h);
    event_add(&h->ev, NULL);
}

/* Counts the publishers that are busy; tells the waiter once none is after a stop. */
static void
pub_check_idle(bench_pub_t *p)
{
    if (p->running || !p->on_idle)
        return;
    for (int i = 0; i < p->n; i++)
        if (p->h[i].state == HP_BUSY || p->h[i].state == HP_CONNECTING)
            return;
    void (*cb)(void *) = p->on_idle;
    p->on_idle = NULL;
    cb(p->idle_arg);
}

static void
pub_check_connected(bench_pub_t *p)
{
    if (p->connected_fired || !p->on_connected)
        return;
    for (int i = 0; i < p->n; i++)
        if (p->h[i].state == HP_CONNECTING)
            return;
    p->connected_fired = 1;
    p->on_connected(p->connected_arg);
}

/* The events in flight on h failed: they owe no deliveries. */
static void
hp_unowe(hp_t *h)
{
    bench_pub_t *p = h->p;
    for (int i = 0; p->subs && i < h->nev; i++)
        p->owed -= p->subs[h->chs[i]];
}

/* The socket is gone: what was in flight failed; reconnect while publishing. */
static void
hp_down(hp_t *h, const char *why)
{
    bench_pub_t *p = h->p;
    if (h->state == HP_BUSY) {
        hp_unowe(h);
        p->st.failed += (uint64_t)h->nev;
        note_error(p, "publisher connection lost: ", why, strlen(why));
    } else if (h->state == HP_CONNECTING) {
        note_error(p, "publisher cannot connect: ", why, strlen(why));
    }
    int was_connecting = h->state == HP_CONNECTING;
    hp_events(h, 0);
    if (h->fd >= 0)
        close(h->fd);
    h->fd = -1;
    h->state = HP_DOWN;
    h->in_len = 0;
    h->nev = 0;
    if (was_connecting && !p->connected_fired)
        pub_check_connected(p);
    else if (p->running) {
        p->st.reconnects++;
        hp_connect(h);
    }
    pub_check_idle(p);
}

size_t
bench_pub_request(const bench_cfg_t *cfg, char *out, size_t cap, const uint32_t *chs,
                  const uint32_t *seqs, int n)
{
    size_t blen = 0, bcap = (size_t)n * ((size_t)cfg->payload + 200) + 32;
    char *body = malloc(bcap), *data = malloc((size_t)cfg->payload + 1);
    if (!body || !data) {
        free(body);
        free(data);
        return 0;
    }
    uint64_t now = bench_now_ns();
    if (n > 1)
        blen += (size_t)snprintf(body + blen, bcap - blen, "{\"batch\":[");
    for (int i = 0; i < n; i++) {
        char name[128];
        bench_channel_name(cfg, chs[i], name, sizeof(name));
        bench_event_data(data, cfg->payload, now, chs[i], seqs[i]);
        blen += (size_t)snprintf(body + blen, bcap - blen,
                                 "%s{\"name\":\"bench\",\"channel\":\"%s\",\"data\":\"%s\"}",
                                 i ? "," : "", name, data);
    }
    if (n > 1)
        blen += (size_t)snprintf(body + blen, bcap - blen, "]}");
    free(data);

    char path[160], ts[32], md5[33], sig[65];
    int plen =
        snprintf(path, sizeof(path), "/apps/%s/%s", cfg->app_id, n > 1 ? "batch_events" : "events");
    snprintf(ts, sizeof(ts), "%lld", (long long)time(NULL));
    skt_sig_md5_hex(body, blen, md5);
    skt_sig_param_t params[4] = {
        {"auth_key", 8, cfg->app_key, strlen(cfg->app_key)},
        {"auth_timestamp", 14, ts, strlen(ts)},
        {"auth_version", 12, "1.0", 3},
        {"body_md5", 8, md5, 32},
    };
    skt_sig_http_sign(cfg->app_secret, "POST", path, (size_t)plen, params, 4, body, blen, sig);
    int hl = snprintf(out, cap,
                      "POST %s?auth_key=%s&auth_timestamp=%s&auth_version=1.0&body_md5=%s"
                      "&auth_signature=%s HTTP/1.1\r\n"
                      "Host: %s:%d\r\n"
                      "Content-Type: application/json\r\n"
                      "Content-Length: %zu\r\n\r\n",
                      path, cfg->app_key, ts, md5, sig, cfg->pub_host, cfg->pub_port, blen);
    if (hl < 0 || (size_t)hl + blen > cap) {
        free(body);
        return 0;
    }
    memcpy(out + hl, body, blen);
    free(body);
    return (size_t)hl + blen;
}

static void
hp_flush(hp_t *h)
{
    while (h->req_off < h->req_len) {
        ssize_t w = write(h->fd, h->req + h->req_off, h->req_len - h->req_off);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                hp_events(h, EV_READ | EV_WRITE | EV_PERSIST);
                return;
            }
            if (errno == EINTR)
                continue;
            hp_down(h, strerror(errno));
            return;
        }
        h->req_off += (size_t)w;
    }
    hp_events(h, EV_READ | EV_PERSIST);
}

/* Sends the next n events on idle publisher h. */
static void
hp_send(hp_t *h, int n)
{
    bench_pub_t *p = h->p;
    const bench_cfg_t *cfg = p->cfg;
    uint32_t seqs[BATCH_MAX];
    for (int i = 0; i < n; i++) {
        uint32_t ch = (uint32_t)(p->events++ % (uint64_t)cfg->channels);
        h->chs[i] = ch;
        seqs[i] = p->seq[ch]++;
        if (p->subs)
            p->owed += p->subs[ch];
    }
    h->nev = n;
    size_t cap = (size_t)n * ((size_t)cfg->payload + 200) + 1024;
    if (cap > h->req_cap) {
        free(h->req);
        h->req = malloc(cap);
        h->req_cap = h->req ? cap : 0;
    }
    h->req_len = h->req ? bench_pub_request(cfg, h->req, cap, h->chs, seqs, n) : 0;
    h->req_off = 0;
    if (!h->req_len) {
        hp_unowe(h);
        h->nev = 0;
        p->st.failed += (uint64_t)n;
        note_error(p, "cannot build a request", NULL, 0);
        return;
    }
    h->state = HP_BUSY;
    h->t_sent = bench_now_ns();
    if (!p->st.t_first)
        p->st.t_first = h->t_sent;
    p->st.sent += (uint64_t)n;
    p->st.requests++;
    hp_flush(h);
}

/* Hands due events to idle publishers. */
static void
pub_pump(bench_pub_t *p)
{
    if (!p->running)
        return;
    const bench_cfg_t *cfg = p->cfg;
    uint64_t due = UINT64_MAX;
    if (cfg->rate > 0)
        due = (uint64_t)(cfg->rate * (double)(bench_now_ns() - p->t_start) / 1e9) + 1;
    for (int i = 0; i < p->n && p->events < due; i++) {
        hp_t *h = &p->h[i];
        if (h->state != HP_IDLE)
            continue;
        if (p->gate && p->owed > p->delivered && p->owed - p->delivered >= p->gate)
            return;
        uint64_t n = cfg->batch;
        if (due - p->events < n)
            n = due - p->events;
        hp_send(h, (int)n);
    }
}

/* A whole answer is in h->in: account for its events. */
static void
hp_answer(hp_t *h, int status, const char *body, size_t blen)
{
    bench_pub_t *p = h->p;
    uint64_t now = bench_now_ns();
    bench_hist_add(&p->st.http, now - h->t_sent);
    p->st.t_last = now;
    if (status == 200) {
        p->st.ok += (uint64_t)h->nev;
        for (int i = 0; i < h->nev; i++)
            p->acked[h->chs[i]]++;
    } else {
        hp_unowe(h);
        p->st.failed += (uint64_t)h->nev;
        char what[32];
        snprintf(what, sizeof(what), "HTTP %d: ", status);
        note_error(p, what, body, blen);
    }
    h->nev = 0;
    h->state = HP_IDLE;
}

static void
hp_read(hp_t *h)
{
    if (h->in_cap - h->in_len < 4096) {
        size_t cap = h->in_cap ? h->in_cap * 2 : 16384;
        char *n = realloc(h->in, cap);
        if (!n) {
            hp_down(h, "out of memory");
            return;
        }
        h->in = n;
        h->in_cap = cap;
    }
    ssize_t r = read(h->fd, h->in + h->in_len, h->in_cap - h->in_len);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (r <= 0) {
        hp_down(h, r == 0 ? "closed by the server" : strerror(errno));
        return;
    }
    h->in_len += (size_t)r;
    for (;;) {
        int status, chunked, conn_close;
        long long clen;
        int hl = bench_http_response(h->in, h->in_len, &status, &clen, &chunked, &conn_close);
        if (hl == 0)
            return;
        if (hl < 0) {
            hp_down(h, "malformed response");
            return;
        }
        size_t total;
        if (chunked) {
            const char *end = memmem(h->in + hl, h->in_len - (size_t)hl, "0\r\n\r\n", 5);
            if (!end)
                return;
            total = (size_t)(end + 5 - h->in);
        } else {
            total = (size_t)hl + (size_t)(clen > 0 ? clen : 0);
            if (h->in_len < total)
                return;
        }
        if (h->state == HP_BUSY)
            hp_answer(h, status, h->in + hl, total - (size_t)hl);
        if (conn_close) {
            /* soketi 1.6 closes after every API answer: reconnect, as the SDK would. */
            hp_down(h, "Connection: close");
            return;
        }
        memmove(h->in, h->in + total, h->in_len - total);
        h->in_len -= total;
        if (!h->in_len)
            break;
    }
    if (!h->p->running)
        pub_check_idle(h->p);
    else
        pub_pump(h->p);
}

static void
hp_io_cb(evutil_socket_t fd, short what, void *arg)
{
    hp_t *h = arg;
    if (h->state == HP_CONNECTING) {
        int err = 0;
        socklen_t el = sizeof(err);
        if (getsockopt(h->fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err) {
            hp_down(h, strerror(err ? err : errno));
            return;
        }
        int one = 1;
        setsockopt(h->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        h->state = HP_IDLE;
        hp_events(h, EV_READ | EV_PERSIST);
        pub_check_connected(h->p);
        pub_pump(h->p);
        return;
    }
    if ((what & EV_WRITE) && h->req_off < h->req_len)
        hp_flush(h);
    if ((what & EV_READ) && h->fd >= 0)
        hp_read(h);
}

static void
hp_connect(hp_t *h)
{
    h->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (h->fd < 0) {
        h->state = HP_CONNECTING;
        hp_down(h, strerror(errno));
        return;
    }
    h->state = HP_CONNECTING;
    if (connect(h->fd, (struct sockaddr *)&h->p->dst, sizeof(h->p->dst)) != 0 &&
        errno != EINPROGRESS) {
        hp_down(h, strerror(errno));
        return;
    }
    hp_events(h, EV_WRITE | EV_PERSIST);
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
    pub_pump(arg);
}

/* ------------------------------------------------------------ API */

bench_pub_t *
bench_pub_new(struct event_base *base, const bench_cfg_t *cfg, uint64_t *acked)
{
    bench_pub_t *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->base = base;
    p->cfg = cfg;
    p->acked = acked;
    p->n = cfg->publishers;
    p->h = calloc((size_t)p->n, sizeof(*p->h));
    p->seq = calloc((size_t)cfg->channels, sizeof(*p->seq));
    if (!p->h || !p->seq) {
        bench_pub_free(p);
        return NULL;
    }
    bench_hist_init(&p->st.http);
    /* The publishing node, which is the subscribers' node unless --publish-host/--publish-port
     * name another one. */
    p->dst.sin_family = AF_INET;
    p->dst.sin_port = htons((uint16_t)cfg->pub_port);
    if (inet_pton(AF_INET, cfg->pub_host, &p->dst.sin_addr) != 1) {
        fprintf(stderr, "soketi-bench: --publish-host must be an IPv4 address: %s\n",
                cfg->pub_host);
        bench_pub_free(p);
        return NULL;
    }
    for (int i = 0; i < p->n; i++) {
        p->h[i].p = p;
        p->h[i].fd = -1;
    }
    if (cfg->rate > 0) {
        p->timer = event_new(base, -1, EV_PERSIST, timer_cb, p);
        if (!p->timer) {
            bench_pub_free(p);
            return NULL;
        }
    }
    return p;
}

void
bench_pub_connect(bench_pub_t *p, void (*on_connected)(void *), void *arg)
{
    /* on_connected is set after the loop so that a connection failing at once does not count
     * the ones not started yet as done. */
    for (int i = 0; i < p->n; i++)
        hp_connect(&p->h[i]);
    p->on_connected = on_connected;
    p->connected_arg = arg;
    pub_check_connected(p);
}

void
bench_pub_start(bench_pub_t *p)
{
    p->running = 1;
    p->t_start = bench_now_ns();
    if (p->timer) {
        struct timeval ms = {0, 1000};
        event_add(p->timer, &ms);
    }
    for (int i = 0; i < p->n; i++)
        if (p->h[i].state == HP_DOWN)
            hp_connect(&p->h[i]);
    pub_pump(p);
}

void
bench_pub_stop(bench_pub_t *p, void (*on_idle)(void *), void *arg)
{
    p->running = 0;
    if (p->timer)
        event_del(p->timer);
    p->on_idle = on_idle;
    p->idle_arg = arg;
    pub_check_idle(p);
}

void
bench_pub_window(bench_pub_t *p, const uint32_t *subs, uint64_t deliveries)
{
    p->subs = subs;
    p->gate = deliveries;
}

void
bench_pub_delivered(bench_pub_t *p, uint64_t unique)
{
    p->delivered = unique;
    pub_pump(p);
}

bench_pub_stats_t *
bench_pub_stats(bench_pub_t *p)
{
    return &p->st;
}

void
bench_pub_free(bench_pub_t *p)
{
    if (!p)
        return;
    for (int i = 0; p->h && i < p->n; i++) {
        hp_t *h = &p->h[i];
        hp_events(h, 0);
        if (h->fd >= 0)
            close(h->fd);
        free(h->req);
        free(h->in);
    }
    if (p->timer)
        event_free(p->timer);
    free(p->h);
    free(p->seq);
    free(p);
}
