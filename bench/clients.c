/* clients.c - soketi-bench's WebSocket clients: connect, upgrade, subscribe, count what arrives.
 *
 * DESIGN
 * A client set is a fixed array of connections started a few at a time (cfg->connect_conc
 * handshakes in flight, so the measured set-up rate is the server's, not the listen backlog's).
 * Each connection goes CONNECTING -> UPGRADE (101 awaited) -> ESTABLISH (connection_established
 * awaited) -> SUBSCRIBE (one subscription_succeeded per channel awaited) -> READY, or DEAD on
 * any failure; a connection is never freed before the set, so a handler may fail it and keep
 * using its memory.
 *
 * Input is read into one buffer shared by all connections; only the unparsed tail of a read
 * (part of a frame) is kept per connection, as the server does. Output is written at once and
 * only what the kernel refuses is kept. A subscriber checks every bench event against a 64-event
 * window per subscription (base = first sequence not yet seen): behind the window or already
 * marked is a duplicate; losses are counted by the coordinator as expected minus unique.
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
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench/bench.h"
#include "net/ws_frame.h"
#include "pusher/sig.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

enum { ST_IDLE = 0, ST_CONNECTING, ST_UPGRADE, ST_ESTABLISH, ST_SUBSCRIBE, ST_READY, ST_DEAD };

#define PING_EVERY_S 30

typedef struct sub_s {
    uint32_t ch;   /* channel index */
    uint32_t base; /* first sequence not seen yet */
    uint64_t win;  /* bit i: base + i seen */
} sub_t;

typedef struct wc_s {
    struct event ev;
    bench_clients_t *cs;
    int fd;
    uint32_t idx; /* global index: decides channels, source address, user id */
    uint8_t state;
    uint8_t evflags;    /* the flags c->ev was last added with, 0 when none */
    uint8_t churn_wait; /* churn: a subscribe is waiting for its answer */
    uint32_t nsubs, subs_ok;
    char sid[32];
    uint64_t t_start; /* connect(), then (churn) the last subscribe */
    uint8_t *in;      /* unparsed input */
    uint32_t in_len;
    uint8_t *out; /* output the kernel did not take yet */
    uint32_t out_len, out_cap;
    sub_t subs[];
} wc_t;

struct bench_clients_s {
    struct event_base *base;
    const bench_cfg_t *cfg;
    int role;
    long first, count;
    wc_t **conns;
    long next;     /* next connection to start */
    long inflight; /* started, not yet READY or DEAD */
    long resolved; /* READY or DEAD during set-up */
    int ready_fired;
    int starting; /* inside wc_start_more() */
    void (*on_ready)(void *);
    void *arg;
    uint32_t *subs; /* per channel: READY subscribers */
    int churning;
    struct rusage ru_start;
    struct event *tick_ev;
    unsigned ticks;
    struct sockaddr_in dst;
    const char *host; /* dst as text, for the Host header */
    int port;
    bench_result_t r;
};

static uint8_t *rbuf;
static size_t rcap;

static void wc_io_cb(evutil_socket_t fd, short what, void *arg);
static void wc_start_more(bench_clients_t *cs);

/* ------------------------------------------------------------ helpers */

/* Keeps the first error of the set for the report: what, then up to 110 bytes of detail. */
static void
note_error(bench_clients_t *cs, const char *what, const char *detail, size_t dlen)
{
    if (cs->r.k.first_error[0])
        return;
    snprintf(cs->r.k.first_error, sizeof(cs->r.k.first_error), "%s%.*s", what,
             (int)(dlen > 110 ? 110 : dlen), detail ? detail : "");
}

/* Sets what c waits for: always input, and output room while writes are pending. */
static void
wc_events(wc_t *c, int want_write)
{
    uint8_t flags = (uint8_t)(EV_READ | EV_PERSIST | (want_write ? EV_WRITE : 0));
    if (c->state == ST_DEAD || c->evflags == flags)
        return;
    if (c->evflags)
        event_del(&c->ev);
    event_assign(&c->ev, c->cs->base, c->fd, flags, wc_io_cb, c);
    event_add(&c->ev, NULL);
    c->evflags = flags;
}

/* Ends a connection. During set-up it counts as failed and the next one starts. */
static void
wc_fail(wc_t *c, const char *why)
{
    bench_clients_t *cs = c->cs;
    if (c->state == ST_DEAD)
        return;
    if (c->state == ST_READY) {
        cs->r.k.closed++;
        note_error(cs, "connection closed after set-up: ", why, strlen(why));
        for (uint32_t i = 0; i < c->nsubs; i++)
            if (cs->subs && cs->subs[c->subs[i].ch])
                cs->subs[c->subs[i].ch]--;
    } else if (c->state != ST_IDLE) {
        cs->r.k.failed++;
        cs->inflight--;
        cs->resolved++;
        note_error(cs, "set-up failed: ", why, strlen(why));
    }
    if (c->evflags)
        event_del(&c->ev);
    c->evflags = 0;
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->state = ST_DEAD;
    free(c->in);
    c->in = NULL;
    c->in_len = 0;
    free(c->out);
    c->out = NULL;
    c->out_len = c->out_cap = 0;
    wc_start_more(cs);
}

/* Writes bytes now, keeping what the kernel does not take. */
static void
wc_write(wc_t *c, const void *data, size_t len)
{
    if (c->state == ST_DEAD || !len)
        return;
    size_t done = 0;
    if (!c->out_len) {
        ssize_t w = write(c->fd, data, len);
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            wc_fail(c, strerror(errno));
            return;
        }
        done = w > 0 ? (size_t)w : 0;
        if (done == len)
            return;
    }
    size_t rest = len - done;
    if (c->out_len + rest > c->out_cap) {
        size_t cap = (c->out_len + rest) * 2;
        uint8_t *n = realloc(c->out, cap);
        if (!n) {
            wc_fail(c, "out of memory");
            return;
        }
        c->out = n;
        c->out_cap = (uint32_t)cap;
    }
    memcpy(c->out + c->out_len, (const uint8_t *)data + done, rest);
    c->out_len += (uint32_t)rest;
    wc_events(c, 1);
}

static void
wc_flush(wc_t *c)
{
    ssize_t w = write(c->fd, c->out, c->out_len);
    if (w < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            wc_fail(c, strerror(errno));
        return;
    }
    memmove(c->out, c->out + w, c->out_len - (size_t)w);
    c->out_len -= (uint32_t)w;
    if (!c->out_len) {
        free(c->out);
        c->out = NULL;
        c->out_cap = 0;
        wc_events(c, 0);
    }
}

/* Frames text as a masked client message and writes it. */
static void
wc_send_text(wc_t *c, const char *text, size_t len)
{
    uint8_t stack[1024];
    uint8_t *f = len + 14 <= sizeof(stack) ? stack : malloc(len + 14);
    if (!f) {
        wc_fail(c, "out of memory");
        return;
    }
    size_t n = bench_ws_client_frame(f, SKT_WS_OP_TEXT, text, len);
    wc_write(c, f, n);
    if (f != stack)
        free(f);
}

/* Appends the subscribe (or, unsub, the unsubscribe) message for channel ch to out. */
static int
subscribe_msg(wc_t *c, uint32_t ch, int unsub, char *out, size_t cap)
{
    const bench_cfg_t *cfg = c->cs->cfg;
    char name[128];
    bench_channel_name(cfg, ch, name, sizeof(name));
    if (unsub)
        return snprintf(out, cap,
                        "{\"event\":\"pusher:unsubscribe\",\"data\":{\"channel\":\"%s\"}}", name);
    if (cfg->chan_type == BENCH_PUBLIC)
        return snprintf(out, cap, "{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":\"%s\"}}",
                        name);
    char cd[128] = "", cd_esc[160] = "";
    if (cfg->chan_type == BENCH_PRESENCE) {
        const char *kind = c->cs->role == BENCH_ROLE_PUBLISHER ? "p" : "u";
        snprintf(cd, sizeof(cd), "{\"user_id\":\"%s%u\",\"user_info\":{\"n\":%u}}", kind, c->idx,
                 c->idx);
        snprintf(
            cd_esc, sizeof(cd_esc),
            "\"channel_data\":\"{\\\"user_id\\\":\\\"%s%u\\\",\\\"user_info\\\":{\\\"n\\\":%u}}\",",
            kind, c->idx, c->idx);
    }
    char *auth = skt_sig_channel_auth_new(cfg->app_key, cfg->app_secret, c->sid, name,
                                          cfg->chan_type == BENCH_PRESENCE ? cd : NULL, strlen(cd));
    if (!auth)
        return -1;
    int n =
        snprintf(out, cap,
                 "{\"event\":\"pusher:subscribe\",\"data\":{\"auth\":\"%s\",%s\"channel\":\"%s\"}}",
                 auth, cd_esc, name);
    free(auth);
    return n;
}

/* Sends the subscribe messages of every channel of c (unsubscribe first when resubscribe). */
static void
wc_subscribe_all(wc_t *c, int resubscribe)
{
    size_t cap = (size_t)c->nsubs * (resubscribe ? 2 : 1) * (512 + 14), len = 0;
    uint8_t *frames = malloc(cap);
    if (!frames) {
        wc_fail(c, "out of memory");
        return;
    }
    for (uint32_t i = 0; i < c->nsubs; i++) {
        char msg[512];
        for (int pass = resubscribe ? 0 : 1; pass < 2; pass++) {
            int n = subscribe_msg(c, c->subs[i].ch, pass == 0, msg, sizeof(msg));
            if (n < 0 || (size_t)n >= sizeof(msg)) {
                free(frames);
                wc_fail(c, "cannot build a subscribe message");
                return;
            }
            len += bench_ws_client_frame(frames + len, SKT_WS_OP_TEXT, msg, (size_t)n);
        }
    }
    wc_write(c, frames, len);
    free(frames);
}

static sub_t *
find_sub(wc_t *c, uint32_t ch)
{
    if (c->nsubs == 1)
        return c->subs[0].ch == ch ? &c->subs[0] : NULL;
    for (uint32_t i = 0; i < c->nsubs; i++)
        if (c->subs[i].ch == ch)
            return &c->subs[i];
    return NULL;
}

/* Counts one bench event: unique or duplicate, and its latency. */
static void
count_event(wc_t *c, uint64_t now, uint64_t t, uint32_t ch, uint32_t seq)
{
    bench_clients_t *cs = c->cs;
    sub_t *s = find_sub(c, ch);
    if (!s) {
        cs->r.k.other_msgs++;
        return;
    }
    cs->r.k.received++;
    cs->r.k.t_last_event = now;
    uint64_t lat = now > t ? now - t : 0;
    bench_hist_add(&cs->r.latency, lat);
    if (cs->r.t_measure && t >= cs->r.t_measure) {
        uint64_t slot = (t - cs->r.t_measure) / BENCH_TIMELINE_NS;
        uint32_t us = lat / 1000 > UINT32_MAX ? UINT32_MAX : (uint32_t)(lat / 1000);
        if (slot < BENCH_TIMELINE_SLOTS && us > cs->r.tl_max_us[slot])
            cs->r.tl_max_us[slot] = us;
    }
    if (seq < s->base) {
        cs->r.k.dups++;
        return;
    }
    uint64_t off = seq - s->base;
    if (off >= 64) {
        uint64_t shift = off - 63;
        s->win = shift >= 64 ? 0 : s->win >> shift;
        s->base += (uint32_t)shift;
        off = 63;
    }
    uint64_t bit = 1ull << off;
    if (s->win & bit) {
        cs->r.k.dups++;
        return;
    }
    s->win |= bit;
    while (s->win & 1) {
        s->win >>= 1;
        s->base++;
    }
}

/* Every channel of c answered: c is set up. */
static void
wc_ready(wc_t *c, uint64_t now)
{
    bench_clients_t *cs = c->cs;
    c->state = ST_READY;
    cs->r.k.connected++;
    cs->inflight--;
    cs->resolved++;
    if (now > cs->r.k.t_last_ready)
        cs->r.k.t_last_ready = now;
    bench_hist_add(&cs->r.setup, now - c->t_start);
    for (uint32_t i = 0; i < c->nsubs; i++)
        cs->subs[c->subs[i].ch]++;
    wc_start_more(cs);
}

/* One text message from the server. */
static void
wc_on_text(wc_t *c, const char *p, size_t n, uint64_t now)
{
    bench_clients_t *cs = c->cs;
    uint64_t t;
    uint32_t ch, seq;
    if (c->state == ST_READY && bench_event_parse(p, n, &t, &ch, &seq)) {
        if (cs->role == BENCH_ROLE_SUBSCRIBER)
            count_event(c, now, t, ch, seq);
        return;
    }
    size_t elen = 0;
    const char *ev = bench_json_str(p, n, "event", &elen);
    if (!ev) {
        cs->r.k.other_msgs++;
        return;
    }
#define IS(lit) (elen == sizeof(lit) - 1 && memcmp(ev, lit, sizeof(lit) - 1) == 0)
    if (IS("pusher:connection_established")) {
        if (c->state != ST_ESTABLISH)
            return;
        const char *s = memmem(p, n, "socket_id", 9);
        if (!s) {
            wc_fail(c, "connection_established without a socket_id");
            return;
        }
        s += 9;
        while (s < p + n && (*s == '\\' || *s == '"' || *s == ':' || *s == ' '))
            s++;
        size_t i = 0;
        while (s < p + n && i + 1 < sizeof(c->sid) && ((*s >= '0' && *s <= '9') || *s == '.'))
            c->sid[i++] = *s++;
        c->sid[i] = '\0';
        c->state = ST_SUBSCRIBE;
        if (c->nsubs == 0) {
            wc_ready(c, now);
            return;
        }
        wc_subscribe_all(c, 0);
    } else if (IS("pusher_internal:subscription_succeeded")) {
        size_t clen = 0;
        const char *chn = bench_json_str(p, n, "channel", &clen);
        long idx = chn ? bench_channel_index(chn, clen) : -1;
        if (idx < 0 || !find_sub(c, (uint32_t)idx)) {
            cs->r.k.other_msgs++;
            return;
        }
        if (c->state == ST_SUBSCRIBE) {
            if (++c->subs_ok == c->nsubs)
                wc_ready(c, now);
        } else if (c->state == ST_READY && c->churn_wait) {
            c->churn_wait = 0;
            cs->r.k.joins++;
            bench_hist_add(&cs->r.join, now - c->t_start);
            if (cs->churning) {
                c->churn_wait = 1;
                c->t_start = now;
                wc_subscribe_all(c, 1);
            }
        }
    } else if (IS("pusher_internal:member_added") || IS("pusher_internal:member_removed")) {
        cs->r.k.member_events++;
    } else if (IS("pusher:ping")) {
        static const char pong[] = "{\"event\":\"pusher:pong\",\"data\":{}}";
        wc_send_text(c, pong, sizeof(pong) - 1);
    } else if (IS("pusher:pong")) {
        /* our keep-alive answered */
    } else if (IS("pusher:error") || IS("pusher:subscription_error")) {
        cs->r.k.errors++;
        if (c->state != ST_READY) {
            char why[200];
            snprintf(why, sizeof(why), "%.*s", (int)(n > 190 ? 190 : n), p);
            wc_fail(c, why);
            return;
        }
        note_error(cs, "server error: ", p, n);
    } else {
        cs->r.k.other_msgs++;
    }
#undef IS
}

/* Parses the input at data[0..len); returns the bytes used. */
static size_t
wc_process(wc_t *c, uint8_t *data, size_t len)
{
    size_t off = 0;
    uint64_t now = bench_now_ns();
    if (c->state == ST_UPGRADE) {
        int status = 0, chunked = 0, conn_close = 0;
        long long clen = -1;
        int h = bench_http_response((const char *)data, len, &status, &clen, &chunked, &conn_close);
        if (h == 0)
            return 0;
        if (h < 0 || status != 101) {
            char why[200];
            snprintf(why, sizeof(why), "upgrade answered %d: %.*s", status,
                     (int)(len > 150 ? 150 : len), (const char *)data);
            wc_fail(c, why);
            return 0;
        }
        off = (size_t)h;
        c->state = ST_ESTABLISH;
    }
    while (off < len && c->state != ST_DEAD) {
        unsigned op;
        int fin;
        const uint8_t *payload;
        size_t plen;
        ssize_t n = bench_ws_parse(data + off, len - off, &op, &fin, &payload, &plen);
        if (n == 0)
            break;
        if (n < 0) {
            wc_fail(c, "bad frame from the server");
            return 0;
        }
        off += (size_t)n;
        if (op == SKT_WS_OP_TEXT && fin) {
            wc_on_text(c, (const char *)payload, plen, now);
        } else if (op == SKT_WS_OP_PING) {
            uint8_t f[SKT_WS_MAX_CONTROL + 14];
            size_t fl = bench_ws_client_frame(
                f, SKT_WS_OP_PONG, payload, plen > SKT_WS_MAX_CONTROL ? SKT_WS_MAX_CONTROL : plen);
            wc_write(c, f, fl);
        } else if (op == SKT_WS_OP_CLOSE) {
            char why[160];
            unsigned code = plen >= 2 ? ((unsigned)payload[0] << 8 | payload[1]) : 1005;
            snprintf(why, sizeof(why), "server closed with %u %.*s", code,
                     (int)(plen > 2 ? (plen - 2 > 100 ? 100 : plen - 2) : 0),
                     (const char *)payload + 2);
            wc_fail(c, why);
            return 0;
        } else if (op != SKT_WS_OP_PONG) {
            c->cs->r.k.other_msgs++; /* fragments and binary: not expected from a Pusher server */
        }
    }
    return off;
}

static void
wc_read(wc_t *c)
{
    size_t keep = c->in_len;
    if (rcap < keep + 65536) {
        size_t cap = (keep + 65536) * 2;
        uint8_t *n = realloc(rbuf, cap);
        if (!n) {
            wc_fail(c, "out of memory");
            return;
        }
        rbuf = n;
        rcap = cap;
    }
    if (keep)
        memcpy(rbuf, c->in, keep);
    ssize_t n = read(c->fd, rbuf + keep, rcap - keep);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        wc_fail(c, n == 0 ? "end of stream" : strerror(errno));
        return;
    }
    size_t len = keep + (size_t)n;
    size_t used = wc_process(c, rbuf, len);
    if (c->state == ST_DEAD)
        return;
    size_t rest = len - used;
    if (rest == 0) {
        free(c->in);
        c->in = NULL;
        c->in_len = 0;
        return;
    }
    if (rest != c->in_len || used) {
        uint8_t *in = realloc(c->in, rest);
        if (!in) {
            wc_fail(c, "out of memory");
            return;
        }
        c->in = in;
    }
    memcpy(c->in, rbuf + used, rest);
    c->in_len = (uint32_t)rest;
}

static void
wc_connected(wc_t *c)
{
    int err = 0;
    socklen_t el = sizeof(err);
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err) {
        wc_fail(c, strerror(err ? err : errno));
        return;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    const bench_cfg_t *cfg = c->cs->cfg;
    char req[512];
    int n =
        snprintf(req, sizeof(req),
                 "GET /app/%s?protocol=7&client=soketi-bench&version=1.0&flash=false HTTP/1.1\r\n"
                 "Host: %s:%d\r\n"
                 "Upgrade: websocket\r\n"
                 "Connection: Upgrade\r\n"
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 "Sec-WebSocket-Version: 13\r\n\r\n",
                 cfg->app_key, c->cs->host, c->cs->port);
    c->state = ST_UPGRADE;
    wc_events(c, 0);
    wc_write(c, req, (size_t)n);
}

static void
wc_io_cb(evutil_socket_t fd, short what, void *arg)
{
    wc_t *c = arg;
    if (c->state == ST_CONNECTING) {
        if (what & (EV_WRITE | EV_READ))
            wc_connected(c);
        return;
    }
    if ((what & EV_WRITE) && c->out_len)
        wc_flush(c);
    if ((what & EV_READ) && c->state != ST_DEAD)
        wc_read(c);
}

/* Opens connection c: non-blocking connect from its source address. */
static void
wc_start(wc_t *c)
{
    bench_clients_t *cs = c->cs;
    const bench_cfg_t *cfg = cs->cfg;
    c->t_start = bench_now_ns();
    if (!cs->r.k.t_first_connect)
        cs->r.k.t_first_connect = c->t_start;
    cs->r.k.attempted++;
    cs->inflight++;
    c->state = ST_CONNECTING;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        wc_fail(c, strerror(errno));
        return;
    }
    if (cfg->source_ips > 0 && cs->role == BENCH_ROLE_SUBSCRIBER) {
        int one = 1;
        setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
        struct sockaddr_in src = {.sin_family = AF_INET};
        src.sin_addr.s_addr = htonl(0x7f000002u + (uint32_t)(c->idx % (uint32_t)cfg->source_ips));
        if (bind(c->fd, (struct sockaddr *)&src, sizeof(src)) != 0) {
            wc_fail(c, strerror(errno));
            return;
        }
    }
    if (connect(c->fd, (struct sockaddr *)&cs->dst, sizeof(cs->dst)) != 0 && errno != EINPROGRESS) {
        wc_fail(c, strerror(errno));
        return;
    }
    c->evflags = EV_WRITE | EV_PERSIST;
    event_assign(&c->ev, cs->base, c->fd, c->evflags, wc_io_cb, c);
    event_add(&c->ev, NULL);
}

/* Keeps connect_conc handshakes in flight; reports readiness once all are resolved. A
 * connection failing inside wc_start() calls back here: the flag keeps that from recursing. */
static void
wc_start_more(bench_clients_t *cs)
{
    if (cs->starting)
        return;
    cs->starting = 1;
    while (cs->next < cs->count && cs->inflight < cs->cfg->connect_conc)
        wc_start(cs->conns[cs->next++]);
    cs->starting = 0;
    if (!cs->ready_fired && cs->next == cs->count && cs->resolved == cs->count) {
        cs->ready_fired = 1;
        if (cs->on_ready)
            cs->on_ready(cs->arg);
    }
}

/* Once a second: set-up timeouts; every PING_EVERY_S: a pusher:ping on each connection. */
static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
    bench_clients_t *cs = arg;
    uint64_t now = bench_now_ns();
    uint64_t limit = (uint64_t)(cs->cfg->connect_timeout * 1e9);
    int ping = ++cs->ticks % PING_EVERY_S == 0;
    static const char msg[] = "{\"event\":\"pusher:ping\",\"data\":{}}";
    for (long i = 0; i < cs->next; i++) {
        wc_t *c = cs->conns[i];
        if (c->state > ST_IDLE && c->state < ST_READY && now - c->t_start > limit)
            wc_fail(c, "timed out");
        else if (ping && c->state == ST_READY)
            wc_send_text(c, msg, sizeof(msg) - 1);
    }
}

/* ------------------------------------------------------------ API */

bench_clients_t *
bench_clients_new(struct event_base *base, const bench_cfg_t *cfg, int role, long first, long count,
                  void (*on_ready)(void *), void *arg)
{
    bench_clients_t *cs = calloc(1, sizeof(*cs));
    if (!cs)
        return NULL;
    cs->base = base;
    cs->cfg = cfg;
    cs->role = role;
    cs->first = first;
    cs->count = count;
    cs->on_ready = on_ready;
    cs->arg = arg;
    bench_hist_init(&cs->r.latency);
    bench_hist_init(&cs->r.setup);
    bench_hist_init(&cs->r.join);
    /* Client-event publishers go where the HTTP ones would: the publishing node. */
    int pub = role == BENCH_ROLE_PUBLISHER;
    cs->host = pub ? cfg->pub_host : cfg->host;
    cs->port = pub ? cfg->pub_port : cfg->port;
    cs->dst.sin_family = AF_INET;
    cs->dst.sin_port = htons((uint16_t)cs->port);
    if (inet_pton(AF_INET, cs->host, &cs->dst.sin_addr) != 1) {
        fprintf(stderr, "soketi-bench: %s must be an IPv4 address: %s\n",
                pub ? "--publish-host" : "--host", cs->host);
        free(cs);
        return NULL;
    }
    cs->conns = calloc((size_t)(count ? count : 1), sizeof(*cs->conns));
    cs->subs = calloc((size_t)cfg->channels, sizeof(*cs->subs));
    if (!cs->conns || !cs->subs) {
        bench_clients_free(cs);
        return NULL;
    }
    for (long i = 0; i < count; i++) {
        uint32_t idx = (uint32_t)(first + i), nsubs;
        if (role == BENCH_ROLE_PUBLISHER)
            nsubs = (uint32_t)((cfg->channels - (long)idx + cfg->publishers - 1) / cfg->publishers);
        else
            nsubs = (uint32_t)cfg->subs_per_conn;
        wc_t *c = calloc(1, sizeof(*c) + nsubs * sizeof(sub_t));
        if (!c) {
            cs->count = i;
            bench_clients_free(cs);
            return NULL;
        }
        c->cs = cs;
        c->fd = -1;
        c->idx = idx;
        c->nsubs = nsubs;
        for (uint32_t j = 0; j < nsubs; j++) {
            if (role == BENCH_ROLE_PUBLISHER)
                c->subs[j].ch = idx + j * (uint32_t)cfg->publishers;
            else
                c->subs[j].ch = (uint32_t)(((uint64_t)idx * (uint64_t)cfg->subs_per_conn + j) %
                                           (uint64_t)cfg->channels);
        }
        cs->conns[i] = c;
    }
    cs->tick_ev = event_new(base, -1, EV_PERSIST, tick_cb, cs);
    struct timeval one = {1, 0};
    event_add(cs->tick_ev, &one);
    return cs;
}

void
bench_clients_start(bench_clients_t *cs)
{
    wc_start_more(cs);
}

void
bench_clients_measure(bench_clients_t *cs)
{
    getrusage(RUSAGE_SELF, &cs->ru_start);
    cs->r.t_measure = bench_now_ns();
    if (cs->cfg->scenario != BENCH_CHURN)
        return;
    cs->churning = 1;
    uint64_t now = bench_now_ns();
    for (long i = 0; i < cs->count; i++) {
        wc_t *c = cs->conns[i];
        if (c->state != ST_READY)
            continue;
        c->churn_wait = 1;
        c->t_start = now;
        wc_subscribe_all(c, 1);
    }
}

void
bench_clients_stop(bench_clients_t *cs)
{
    cs->churning = 0;
}

static double
tv_s(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

bench_result_t *
bench_clients_result(bench_clients_t *cs)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    if (cs->ru_start.ru_utime.tv_sec || cs->ru_start.ru_utime.tv_usec ||
        cs->ru_start.ru_stime.tv_sec || cs->ru_start.ru_stime.tv_usec)
        cs->r.k.cpu_s = tv_s(ru.ru_utime) + tv_s(ru.ru_stime) - tv_s(cs->ru_start.ru_utime) -
                        tv_s(cs->ru_start.ru_stime);
    return &cs->r;
}

const uint32_t *
bench_clients_subs(bench_clients_t *cs)
{
    return cs->subs;
}

int
bench_clients_send_event(bench_clients_t *cs, uint32_t ch, uint32_t seq)
{
    wc_t *c = cs->conns[ch % (uint32_t)cs->count];
    if (c->state != ST_READY)
        return -1;
    const bench_cfg_t *cfg = cs->cfg;
    char name[128];
    bench_channel_name(cfg, ch, name, sizeof(name));
    size_t cap = (size_t)cfg->payload + 256;
    char *msg = malloc(cap), *data = malloc((size_t)cfg->payload + 1);
    if (!msg || !data) {
        free(msg);
        free(data);
        return -1;
    }
    bench_event_data(data, cfg->payload, bench_now_ns(), ch, seq);
    int n = snprintf(msg, cap, "{\"event\":\"client-bench\",\"channel\":\"%s\",\"data\":\"%s\"}",
                     name, data);
    wc_send_text(c, msg, (size_t)n);
    free(msg);
    free(data);
    return c->state == ST_READY ? 0 : -1;
}

void
bench_clients_free(bench_clients_t *cs)
{
    if (!cs)
        return;
    for (long i = 0; cs->conns && i < cs->count; i++) {
        wc_t *c = cs->conns[i];
        if (!c)
            continue;
        if (c->evflags)
            event_del(&c->ev);
        if (c->fd >= 0)
            close(c->fd);
        free(c->in);
        free(c->out);
        free(c);
    }
    if (cs->tick_ev)
        event_free(cs->tick_ev);
    free(cs->conns);
    free(cs->subs);
    free(cs);
}
