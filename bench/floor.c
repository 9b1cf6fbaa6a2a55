/* floor.c - the fan-out floor: the least work any server must do to deliver events to N sockets.
 *
 * DESIGN
 * Just enough of a Pusher server for soketi-bench's fanout scenario: it answers the WebSocket
 * upgrade, greets with pusher:connection_established, answers every pusher:subscribe with
 * subscription_succeeded (no auth, one audience: every subscribed socket), and answers
 * POST /apps/:id/events with 200 (no signature check). Each published event becomes one frame,
 * {"event":...} made from the request body by renaming "name" to "event"; the frames of one
 * loop iteration are appended to one shared buffer and written to every subscribed socket with
 * one write() at the end of the iteration (a libevent event activated when the first frame of
 * the iteration arrives, run after the other active callbacks). Only bytes a socket does not
 * take at once are copied into a per-socket backlog.
 *
 * So what is left is the kernel's cost of a write() per socket plus the loop: the server's
 * fan-out rate divided by this one's, with the same client, says how much the server adds.
 * It reuses the project's HTTP request parser and RFC 6455 codec (libskt_net).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/listener.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net/http_parse.h"
#include "net/ws_frame.h"

enum { M_HTTP = 0, M_WS = 1 };

typedef struct fc_s {
    struct event ev;
    int fd;
    int mode;
    short evflags;
    long sub_idx; /* position in subs[], -1 when not subscribed */
    char *in;     /* unparsed input */
    size_t in_len, in_cap;
    char *out; /* bytes the kernel has not taken yet */
    size_t out_len, out_cap;
    unsigned sid;
} fc_t;

static struct event_base *base;
static fc_t **subs;
static long nsubs, subs_cap;
static char *batch;
static size_t batch_len, batch_cap;
static uint64_t batch_frames;
static struct event *flush_ev, *report_ev;
static uint64_t deliveries, events, t_first, t_last, sec_deliveries;
static unsigned next_sid = 1;
static int quiet;
static char rbuf[262144];

static uint64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void fc_io_cb(evutil_socket_t fd, short what, void *arg);

static void
fc_events(fc_t *c, short flags)
{
    if (c->evflags == flags)
        return;
    if (c->evflags)
        event_del(&c->ev);
    event_assign(&c->ev, base, c->fd, flags, fc_io_cb, c);
    event_add(&c->ev, NULL);
    c->evflags = flags;
}

static void
fc_close(fc_t *c)
{
    if (c->sub_idx >= 0) {
        subs[c->sub_idx] = subs[--nsubs];
        subs[c->sub_idx]->sub_idx = c->sub_idx;
    }
    if (c->evflags)
        event_del(&c->ev);
    close(c->fd);
    free(c->in);
    free(c->out);
    free(c);
}

/* Keeps bytes the kernel did not take; returns -1 when out of memory. */
static int
fc_backlog(fc_t *c, const char *p, size_t len)
{
    if (c->out_len + len > c->out_cap) {
        size_t cap = (c->out_len + len) * 2;
        char *n = realloc(c->out, cap);
        if (!n)
            return -1;
        c->out = n;
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, p, len);
    c->out_len += len;
    fc_events(c, EV_READ | EV_WRITE | EV_PERSIST);
    return 0;
}

/* Writes now (behind any backlog). Returns -1 when the connection failed. */
static int
fc_send(fc_t *c, const char *p, size_t len)
{
    if (c->out_len)
        return fc_backlog(c, p, len);
    ssize_t w = write(c->fd, p, len);
    if (w < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return -1;
        w = 0;
    }
    return (size_t)w == len ? 0 : fc_backlog(c, p + w, len - (size_t)w);
}

static int
fc_send_text(fc_t *c, const char *text, size_t len)
{
    char f[1024];
    if (len + 10 > sizeof(f))
        return -1;
    size_t hl = skt_ws_frame_header((uint8_t *)f, SKT_WS_OP_TEXT, len);
    memcpy(f + hl, text, len);
    return fc_send(c, f, hl + len);
}

/* The end of the loop iteration: the iteration's frames, one write per subscribed socket. */
static void
flush_cb(evutil_socket_t fd, short what, void *arg)
{
    for (long i = 0; i < nsubs; i++) {
        fc_t *c = subs[i];
        if (fc_send(c, batch, batch_len) != 0) {
            fc_close(c);
            i--; /* the last socket moved into slot i */
            continue;
        }
    }
    deliveries += batch_frames * (uint64_t)nsubs;
    sec_deliveries += batch_frames * (uint64_t)nsubs;
    t_last = now_ns();
    batch_len = 0;
    batch_frames = 0;
}

/* Adds one event's frame to this iteration's batch. */
static int
batch_add(const char *text, size_t len)
{
    if (batch_len + len + 10 > batch_cap) {
        size_t cap = (batch_len + len + 10) * 2;
        char *n = realloc(batch, cap);
        if (!n)
            return -1;
        batch = n;
        batch_cap = cap;
    }
    batch_len += skt_ws_frame_header((uint8_t *)batch + batch_len, SKT_WS_OP_TEXT, len);
    memcpy(batch + batch_len, text, len);
    batch_len += len;
    if (!batch_frames++)
        event_active(flush_ev, EV_WRITE, 0);
    events++;
    if (!t_first)
        t_first = now_ns();
    return 0;
}

static int
http_answer(fc_t *c, int status, const char *body)
{
    char r[256];
    int n = snprintf(
        r, sizeof(r),
        "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s", status,
        skt_http_reason(status), strlen(body), body);
    return fc_send(c, r, (size_t)n);
}

/* One request. Returns bytes used, 0 for more input, -1 to close. */
static ssize_t
http_step(fc_t *c, char *p, size_t len)
{
    skt_http_req_t req;
    int hl = skt_http_parse_request(p, len, 65536, &req);
    if (hl <= 0)
        return hl == 0 ? 0 : -1;
    if (req.upgrade_websocket) {
        size_t klen = 0;
        const char *key = skt_http_header(&req, "sec-websocket-key", &klen);
        char accept[29];
        skt_ws_accept_key(key ? key : "", klen, accept);
        char r[256];
        int n = snprintf(r, sizeof(r),
                         "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                         "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                         accept);
        if (fc_send(c, r, (size_t)n) != 0)
            return -1;
        c->mode = M_WS;
        c->sid = next_sid++;
        char msg[160];
        n = snprintf(msg, sizeof(msg),
                     "{\"event\":\"pusher:connection_established\",\"data\":\"{\\\"socket_id\\\":"
                     "\\\"%u.%u\\\",\\\"activity_timeout\\\":30}\"}",
                     c->sid, c->sid);
        return fc_send_text(c, msg, (size_t)n) == 0 ? hl : -1;
    }
    size_t blen = req.content_length > 0 ? (size_t)req.content_length : 0;
    if (len - (size_t)hl < blen)
        return 0;
    char *body = p + hl;
    static const char name[] = "{\"name\":";
    int ok = req.method_len == 4 && memcmp(req.method, "POST", 4) == 0 && blen > sizeof(name) &&
             memcmp(body, name, sizeof(name) - 1) == 0;
    if (ok) {
        /* {"name":X,...} -> {"event":X,...}: the one rename a broadcast needs here. */
        char *text = malloc(blen + 2);
        if (!text)
            return -1;
        memcpy(text, "{\"event\":", 9);
        memcpy(text + 9, body + 8, blen - 8);
        int r = batch_add(text, blen + 1);
        free(text);
        if (r != 0 || http_answer(c, 200, "{}") != 0)
            return -1;
    } else if (http_answer(c, 404, "{\"error\":\"the floor only takes POST /apps/:id/events\"}") !=
               0) {
        return -1;
    }
    return (ssize_t)((size_t)hl + blen);
}

/* One client frame. Returns bytes used, 0 for more input, -1 to close. */
static ssize_t
ws_step(fc_t *c, char *p, size_t len)
{
    skt_ws_frame_t f;
    uint16_t code;
    ssize_t n = skt_ws_frame_parse((uint8_t *)p, len, 1 << 20, &f, &code);
    if (n <= 0)
        return n;
    const char *t = (const char *)f.payload;
    if (f.opcode == SKT_WS_OP_CLOSE)
        return -1;
    if (f.opcode == SKT_WS_OP_PING) {
        char pong[SKT_WS_MAX_CONTROL + 10];
        size_t hl = skt_ws_frame_header((uint8_t *)pong, SKT_WS_OP_PONG, f.payload_len);
        memcpy(pong + hl, f.payload, f.payload_len);
        return fc_send(c, pong, hl + f.payload_len) == 0 ? n : -1;
    }
    if (f.opcode != SKT_WS_OP_TEXT)
        return n;
    if (memmem(t, f.payload_len, "\"pusher:subscribe\"", 18)) {
        const char *ch = memmem(t, f.payload_len, "\"channel\":\"", 11);
        const char *end = ch ? memchr(ch + 11, '"', f.payload_len - (size_t)(ch + 11 - t)) : NULL;
        if (!end)
            return n;
        char msg[300];
        int m =
            snprintf(msg, sizeof(msg),
                     "{\"event\":\"pusher_internal:subscription_succeeded\",\"channel\":\"%.*s\"}",
                     (int)(end - ch - 11 > 200 ? 200 : end - ch - 11), ch + 11);
        if (c->sub_idx < 0) {
            if (nsubs == subs_cap) {
                long cap = subs_cap ? subs_cap * 2 : 1024;
                fc_t **ns = realloc(subs, (size_t)cap * sizeof(*ns));
                if (!ns)
                    return -1;
                subs = ns;
                subs_cap = cap;
            }
            c->sub_idx = nsubs;
            subs[nsubs++] = c;
        }
        return fc_send_text(c, msg, (size_t)m) == 0 ? n : -1;
    }
    if (memmem(t, f.payload_len, "\"pusher:ping\"", 13)) {
        static const char pong[] = "{\"event\":\"pusher:pong\",\"data\":{}}";
        return fc_send_text(c, pong, sizeof(pong) - 1) == 0 ? n : -1;
    }
    return n;
}

static void
fc_read(fc_t *c)
{
    char *data = rbuf;
    size_t len;
    if (c->in_len) {
        if (c->in_cap - c->in_len < 65536) {
            size_t cap = c->in_cap * 2 + 65536;
            char *n = realloc(c->in, cap);
            if (!n) {
                fc_close(c);
                return;
            }
            c->in = n;
            c->in_cap = cap;
        }
        ssize_t r = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (r <= 0) {
            fc_close(c);
            return;
        }
        c->in_len += (size_t)r;
        data = c->in;
        len = c->in_len;
    } else {
        ssize_t r = read(c->fd, rbuf, sizeof(rbuf));
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (r <= 0) {
            fc_close(c);
            return;
        }
        len = (size_t)r;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t n = c->mode == M_HTTP ? http_step(c, data + off, len - off)
                                      : ws_step(c, data + off, len - off);
        if (n < 0) {
            fc_close(c);
            return;
        }
        if (n == 0)
            break;
        off += (size_t)n;
    }
    size_t rest = len - off;
    if (!rest) {
        c->in_len = 0;
        return;
    }
    if (data == c->in) {
        memmove(c->in, c->in + off, rest);
        c->in_len = rest;
        return;
    }
    if (rest > c->in_cap) {
        char *n = realloc(c->in, rest + 65536);
        if (!n) {
            fc_close(c);
            return;
        }
        c->in = n;
        c->in_cap = rest + 65536;
    }
    memcpy(c->in, data + off, rest);
    c->in_len = rest;
}

static void
fc_io_cb(evutil_socket_t fd, short what, void *arg)
{
    fc_t *c = arg;
    if ((what & EV_WRITE) && c->out_len) {
        ssize_t w = write(c->fd, c->out, c->out_len);
        if (w < 0 && errno != EAGAIN && errno != EINTR) {
            fc_close(c);
            return;
        }
        if (w > 0) {
            memmove(c->out, c->out + w, c->out_len - (size_t)w);
            c->out_len -= (size_t)w;
        }
        if (!c->out_len)
            fc_events(c, EV_READ | EV_PERSIST);
    }
    if (what & EV_READ)
        fc_read(c);
}

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
    fc_t *c = calloc(1, sizeof(*c));
    if (!c) {
        close(fd);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->fd = fd;
    c->sub_idx = -1;
    fc_events(c, EV_READ | EV_PERSIST);
}

static void
summary(void)
{
    double s = t_last > t_first ? (double)(t_last - t_first) / 1e9 : 0;
    printf("floor: %llu events, %llu deliveries in %.2f s = %.0f deliveries/s (%ld subscribers)\n",
           (unsigned long long)events, (unsigned long long)deliveries, s,
           s > 0 ? (double)deliveries / s : 0.0, nsubs);
    fflush(stdout);
}

static void
report_cb(evutil_socket_t fd, short what, void *arg)
{
    if (sec_deliveries && !quiet)
        fprintf(stderr, "floor: %llu deliveries/s to %ld subscribers\n",
                (unsigned long long)sec_deliveries, nsubs);
    sec_deliveries = 0;
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
    event_base_loopbreak(base);
}

int
main(int argc, char **argv)
{
    const char *host = "127.0.0.1";
    int port = 6001;
    static const struct option opts[] = {
        {"host", required_argument, NULL, 'H'},
        {"port", required_argument, NULL, 'p'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int o;
    while ((o = getopt_long(argc, argv, "H:p:qh", opts, NULL)) != -1) {
        switch (o) {
        case 'H':
            host = optarg;
            break;
        case 'p':
            port = atoi(optarg);
            break;
        case 'q':
            quiet = 1;
            break;
        default:
            printf("usage: floor [--host 127.0.0.1] [--port 6001] [--quiet]\n"
                   "Accepts soketi-bench's fanout subscribers and publishers and writes each loop\n"
                   "iteration's events to every subscriber with one write; SIGINT/SIGTERM print\n"
                   "the deliveries per second.\n");
            return o == 'h' ? 0 : 2;
        }
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGPIPE, SIG_IGN);
    base = event_base_new();
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (!base || inet_pton(AF_INET, host, &sin.sin_addr) != 1) {
        fprintf(stderr, "floor: bad --host %s\n", host);
        return 1;
    }
    struct evconnlistener *l = evconnlistener_new_bind(
        base, accept_cb, NULL, LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
        4096, (struct sockaddr *)&sin, sizeof(sin));
    if (!l) {
        fprintf(stderr, "floor: cannot listen on %s:%d: %s\n", host, port, strerror(errno));
        return 1;
    }
    flush_ev = event_new(base, -1, 0, flush_cb, NULL);
    report_ev = event_new(base, -1, EV_PERSIST, report_cb, NULL);
    struct timeval one = {1, 0};
    event_add(report_ev, &one);
    struct event *si = evsignal_new(base, SIGINT, signal_cb, NULL);
    struct event *st = evsignal_new(base, SIGTERM, signal_cb, NULL);
    event_add(si, NULL);
    event_add(st, NULL);
    if (!quiet)
        fprintf(stderr, "floor: listening on %s:%d\n", host, port);
    event_base_dispatch(base);
    summary();
    return 0;
}
