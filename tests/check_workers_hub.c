/* check_workers_hub.c - the supervisor's relay between workers (src/workers/hub.c), on real
 * socketpairs: each frame reaches every other worker once and never its sender, counts are
 * announced on attach and detach, a malformed frame detaches its sender, and a worker that
 * does not read gets frames dropped past the queue bound, never a cut frame. */
#include "check_main.h"
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "workers/frame.h"
#include "workers/hub.h"
#include "workers/hub_store.h"

#define N 3

static struct event_base *base;
static skt_hub_t *hub;
static int ends[N]; /* the workers' ends */

static void
spin(void)
{
    for (int i = 0; i < 20; i++)
        event_base_loop(base, EVLOOP_NONBLOCK);
}

/* Everything readable on fd now (at most cap bytes); 0 at EOF with *eof set. */
static size_t
drain(int fd, unsigned char *buf, size_t cap, int *eof)
{
    size_t n = 0;
    *eof = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, cap - n);
        if (r > 0)
            n += (size_t)r;
        else {
            *eof = r == 0;
            return n;
        }
        if (n == cap)
            return n;
    }
}

static void
setup_hub(size_t max_frame, size_t max_queue)
{
    base = event_base_new();
    hub = skt_hub_new(base, N, max_frame, max_queue);
    ck_assert_ptr_nonnull(hub);
    for (int i = 0; i < N; i++) {
        int sv[2];
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
        fcntl(sv[1], F_SETFL, O_NONBLOCK);
        ends[i] = sv[1];
        ck_assert_int_eq(skt_hub_attach(hub, (size_t)i, sv[0]), 0);
    }
    spin();
}

static void
teardown_hub(void)
{
    skt_hub_free(hub);
    event_base_free(base);
    for (int i = 0; i < N; i++)
        close(ends[i]);
}

/* The last NODES count in buf (n bytes of whole frames), and the channel frames' payloads
 * concatenated into out. */
static long
parse(const unsigned char *buf, size_t n, char *out)
{
    long nodes = -1;
    size_t o = 0;
    while (n >= SKT_WFRAME_HEAD) {
        int kind;
        size_t len;
        ck_assert_int_eq(skt_wframe_parse(buf, 1 << 20, &kind, &len), 1);
        ck_assert_uint_ge(n, SKT_WFRAME_HEAD + len);
        if (kind == SKT_WFRAME_NODES)
            nodes = (long)skt_wframe_get_u32(buf + SKT_WFRAME_HEAD);
        else if (out) {
            memcpy(out + o, buf + SKT_WFRAME_HEAD, len);
            o += len;
        }
        buf += SKT_WFRAME_HEAD + len;
        n -= SKT_WFRAME_HEAD + len;
    }
    ck_assert_uint_eq(n, 0);
    if (out)
        out[o] = '\0';
    return nodes;
}

static void
send_frame(int fd, int kind, const char *payload)
{
    unsigned char h[SKT_WFRAME_HEAD];
    skt_wframe_head(h, kind, strlen(payload));
    ck_assert_int_eq(write(fd, h, sizeof(h)), sizeof(h));
    ck_assert_int_eq(write(fd, payload, strlen(payload)), (ssize_t)strlen(payload));
}

START_TEST(test_relay_once_not_back)
{
    unsigned char buf[4096];
    char text[4096];
    int eof;
    setup_hub(1024, 1 << 20);
    for (int i = 0; i < N; i++) /* everyone heard the last count: 3 */
        ck_assert_int_eq(parse(buf, drain(ends[i], buf, sizeof(buf), &eof), NULL), N);
    send_frame(ends[0], 0, "{\"a\":1}");
    send_frame(ends[0], 2, "{\"b\":2}");
    spin();
    ck_assert_uint_eq(drain(ends[0], buf, sizeof(buf), &eof), 0); /* not back */
    for (int i = 1; i < N; i++) {
        ck_assert_int_eq(parse(buf, drain(ends[i], buf, sizeof(buf), &eof), text), -1);
        ck_assert_str_eq(text, "{\"a\":1}{\"b\":2}"); /* once each, in order */
    }
    /* a malformed frame (unknown kind) detaches its sender; the others hear 2 */
    send_frame(ends[2], 9, "x");
    spin();
    drain(ends[2], buf, sizeof(buf), &eof);
    ck_assert_int_eq(eof, 1);
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(parse(buf, drain(ends[i], buf, sizeof(buf), &eof), NULL), 2);
    teardown_hub();
}
END_TEST

static int lost_text(const unsigned char *p, size_t n, char *out);

/* A worker that detaches leaves a LOST frame per user it alone held to each worker that
 * remains, exactly one of them told to fire the webhooks. */
START_TEST(test_detach_lost)
{
    unsigned char buf[4096];
    int eof, fired = 0;
    setup_hub(1024, 1 << 20);
    struct evbuffer *q = evbuffer_new(), *f = evbuffer_new();
    skt_wframe_add_u32(q, 1);
    skt_wframe_add_u32(q, SKT_HUB_ADMIT);
    skt_wframe_add_str(q, "app", 3);
    skt_wframe_add_str(q, "presence-x", 10);
    skt_wframe_add_str(q, "42", 2);
    skt_wframe_add_u32(q, 0);
    skt_wframe_add_u32(q, 0);
    skt_wframe_add_u32(q, 1);
    skt_wframe_add_frame(f, SKT_WFRAME_STORE, q);
    size_t fl = evbuffer_get_length(f);
    ck_assert_int_eq(write(ends[0], evbuffer_pullup(f, -1), fl), (ssize_t)fl);
    evbuffer_free(q);
    evbuffer_free(f);
    spin();
    for (int i = 0; i < N; i++)
        drain(ends[i], buf, sizeof(buf), &eof);
    skt_hub_detach(hub, 0);
    spin();
    for (int i = 1; i < N; i++) {
        size_t n = drain(ends[i], buf, sizeof(buf), &eof), lost = 0;
        for (const unsigned char *p = buf; n >= SKT_WFRAME_HEAD;) {
            int kind;
            size_t len;
            ck_assert_int_eq(skt_wframe_parse(p, 1024, &kind, &len), 1);
            if (kind == SKT_WFRAME_LOST) {
                char out[256];
                fired += (int)skt_wframe_get_u32(p + SKT_WFRAME_HEAD);
                /* the entry, as a str for lost_text */
                unsigned char e[256];
                skt_wframe_put_u32(e, (uint32_t)(len - 4));
                memcpy(e + 4, p + SKT_WFRAME_HEAD + 4, len - 4);
                ck_assert_int_eq(lost_text(e, len, out), 1);
                ck_assert_str_eq(out, "u:app/presence-x/42#1;");
                lost++;
            }
            p += SKT_WFRAME_HEAD + len;
            n -= SKT_WFRAME_HEAD + len;
        }
        ck_assert_uint_eq(lost, 1);
    }
    ck_assert_int_eq(fired, 1);
    teardown_hub();
}
END_TEST

START_TEST(test_queue_bound)
{
    enum { FRAMES = 64, SIZE = 60000 };
    static unsigned char big[SKT_WFRAME_HEAD + SIZE];
    static unsigned char got[FRAMES * (SKT_WFRAME_HEAD + SIZE) + 4096];
    int eof;
    setup_hub(SIZE, 2 * SIZE);
    for (int i = 0; i < N; i++)
        drain(ends[i], got, sizeof(got), &eof);
    skt_wframe_head(big, 0, SIZE);
    memset(big + SKT_WFRAME_HEAD, 'x', SIZE);
    /* worker 0 publishes 3.8 MB; worker 1 reads nothing meanwhile, worker 2 reads all */
    size_t got2 = 0;
    for (int f = 0; f < FRAMES; f++) {
        size_t off = 0;
        while (off < sizeof(big)) {
            ssize_t w = write(ends[0], big + off, sizeof(big) - off);
            if (w > 0)
                off += (size_t)w;
            spin();
            got2 += drain(ends[2], got, sizeof(got), &eof);
        }
    }
    for (int i = 0; i < 50; i++) {
        spin();
        got2 += drain(ends[2], got, sizeof(got), &eof);
    }
    ck_assert_uint_gt(skt_hub_dropped(hub), 0);
    ck_assert_uint_eq(got2, (size_t)FRAMES * sizeof(big)); /* the reader lost nothing */
    size_t n1 = 0;
    for (int i = 0; i < 50; i++) {
        spin();
        n1 += drain(ends[1], got + n1, sizeof(got) - n1, &eof);
    }
    parse(got, n1, NULL); /* whole frames only */
    ck_assert_uint_eq(n1 / sizeof(big) + skt_hub_dropped(hub), FRAMES);
    teardown_hub();
}
END_TEST

/* One question to st from slot; returns the answer's count (TRANSITION) or the users held,
 * comma-separated, in out (PRESENT); -1 when refused. */
static long
ask(skt_hub_store_t *st, size_t slot, int op, const char *user, int joined, const char **users,
    size_t n, char *out)
{
    struct evbuffer *q = evbuffer_new(), *a = evbuffer_new();
    skt_wframe_add_u32(q, 7);
    skt_wframe_add_u32(q, (uint32_t)op);
    skt_wframe_add_str(q, "app", 3);
    skt_wframe_add_str(q, "presence-x", 10);
    if (op == SKT_HUB_TRANSITION) {
        skt_wframe_add_u32(q, (uint32_t)joined);
        skt_wframe_add_u32(q, user != NULL);
        if (user)
            skt_wframe_add_str(q, user, strlen(user));
    } else {
        skt_wframe_add_u32(q, (uint32_t)n);
        for (size_t i = 0; i < n; i++)
            skt_wframe_add_str(q, users[i], strlen(users[i]));
    }
    size_t ql = evbuffer_get_length(q);
    long rv = skt_hub_store_answer(st, slot, evbuffer_pullup(q, -1), ql, 0, a);
    if (rv == 0) {
        size_t al = evbuffer_get_length(a);
        skt_wframe_reader_t r = {.p = evbuffer_pullup(a, -1), .left = al};
        ck_assert_uint_eq(skt_wframe_read_u32(&r), 7); /* the question's id */
        ck_assert_uint_eq(skt_wframe_read_u32(&r), 0);
        rv = (long)skt_wframe_read_u32(&r);
        for (long i = 0; op == SKT_HUB_PRESENT && i < rv; i++) {
            size_t len;
            const char *u = skt_wframe_read_str(&r, &len);
            strncat(out, u, len);
            strcat(out, ",");
        }
        ck_assert_int_eq(r.bad, 0);
    }
    evbuffer_free(q);
    evbuffer_free(a);
    return rv;
}

START_TEST(test_store)
{
    skt_hub_store_t *st = skt_hub_store_new(NULL, 3);
    char out[256] = "";
    /* the channel: occupied by the first worker, vacated by the last */
    ck_assert_int_eq(ask(st, 0, SKT_HUB_TRANSITION, NULL, 1, NULL, 0, NULL), 1);
    ck_assert_int_eq(ask(st, 2, SKT_HUB_TRANSITION, NULL, 1, NULL, 0, NULL), 0);
    ck_assert_int_eq(ask(st, 0, SKT_HUB_TRANSITION, NULL, 0, NULL, 0, NULL), 0);
    ck_assert_int_eq(ask(st, 2, SKT_HUB_TRANSITION, NULL, 0, NULL, 0, NULL), 1);
    ck_assert_uint_eq(skt_hub_store_count(st), 0);
    /* users apart from the channel and from each other */
    ck_assert_int_eq(ask(st, 1, SKT_HUB_TRANSITION, "alice", 1, NULL, 0, NULL), 1);
    ck_assert_int_eq(ask(st, 2, SKT_HUB_TRANSITION, "alice", 1, NULL, 0, NULL), 0);
    ck_assert_int_eq(ask(st, 2, SKT_HUB_TRANSITION, "bob", 1, NULL, 0, NULL), 1);
    const char *who[] = {"alice", "carol", "bob"};
    ck_assert_int_eq(ask(st, 0, SKT_HUB_PRESENT, NULL, 0, who, 3, out), 2);
    ck_assert_str_eq(out, "alice,bob,");
    /* worker 3 exits: bob is gone, alice stays (worker 2 holds her) */
    skt_hub_store_forget(st, 2, NULL);
    out[0] = '\0';
    ck_assert_int_eq(ask(st, 0, SKT_HUB_PRESENT, NULL, 0, who, 3, out), 1);
    ck_assert_str_eq(out, "alice,");
    ck_assert_int_eq(ask(st, 1, SKT_HUB_TRANSITION, "alice", 0, NULL, 0, NULL), 1);
    ck_assert_uint_eq(skt_hub_store_count(st), 0);
    /* malformed: an unknown op, a cut question */
    ck_assert_int_eq(ask(st, 0, 9, NULL, 0, NULL, 0, NULL), -1);
    struct evbuffer *a = evbuffer_new();
    unsigned char cut[6] = {0, 0, 0, 1, 0, 0};
    ck_assert_int_eq(skt_hub_store_answer(st, 0, cut, sizeof(cut), 0, a), -1);
    evbuffer_free(a);
    skt_hub_store_free(st);
}
END_TEST

/* One keyed or admit question: its payload after the head (app, channel) in body; the
 * answer's numbers after id and status into out[0..n) (n read), the GET's value into val.
 * Returns 0, or -1 when refused. */
static int
ask_raw(skt_hub_store_t *st, size_t slot, int op, const char *app, const char *ch,
        struct evbuffer *body, uint64_t now, uint32_t *out, size_t n, char *val)
{
    struct evbuffer *q = evbuffer_new(), *a = evbuffer_new();
    skt_wframe_add_u32(q, 9);
    skt_wframe_add_u32(q, (uint32_t)op);
    skt_wframe_add_str(q, app, strlen(app));
    skt_wframe_add_str(q, ch, strlen(ch));
    evbuffer_add_buffer(q, body);
    size_t ql = evbuffer_get_length(q);
    int rv = skt_hub_store_answer(st, slot, evbuffer_pullup(q, -1), ql, now, a);
    size_t al = evbuffer_get_length(a);
    if (rv == 0 && op == SKT_HUB_SET)
        ck_assert_uint_eq(al, 0); /* a set is answered by nothing */
    if (rv == 0 && op != SKT_HUB_SET) {
        skt_wframe_reader_t r = {.p = evbuffer_pullup(a, -1), .left = al};
        ck_assert_uint_eq(skt_wframe_read_u32(&r), 9);
        ck_assert_uint_eq(skt_wframe_read_u32(&r), 0);
        for (size_t i = 0; i < n; i++)
            out[i] = skt_wframe_read_u32(&r);
        if (op == SKT_HUB_GET && out[0]) {
            size_t len;
            const char *v = skt_wframe_read_str(&r, &len);
            memcpy(val, v, len);
            val[len] = '\0';
        }
        ck_assert_int_eq(r.bad, 0);
        ck_assert_uint_eq(r.left, 0);
    }
    evbuffer_free(q);
    evbuffer_free(a);
    return rv;
}

/* cluster_admit of user (its id a JSON number when id_number) by slot under a limit (-1:
 * none): the answer's count. */
static long
admit_as(skt_hub_store_t *st, size_t slot, const char *user, long limit, int id_number)
{
    struct evbuffer *b = evbuffer_new();
    uint32_t count = 99;
    skt_wframe_add_str(b, user, strlen(user));
    skt_wframe_add_u32(b, limit >= 0);
    skt_wframe_add_u32(b, limit >= 0 ? (uint32_t)limit : 0);
    skt_wframe_add_u32(b, (uint32_t)id_number);
    ck_assert_int_eq(ask_raw(st, slot, SKT_HUB_ADMIT, "app", "presence-x", b, 0, &count, 1, NULL),
                     0);
    evbuffer_free(b);
    return (long)count;
}

static long
admit(skt_hub_store_t *st, size_t slot, const char *user, long limit)
{
    return admit_as(st, slot, user, limit, 0);
}

/* The entries of skt_hub_store_forget's lost (n bytes at p), written into out as
 * "u:app/channel/user#id_number;" or "c:app/channel;"; returns how many. */
static int
lost_text(const unsigned char *p, size_t n, char *out)
{
    skt_wframe_reader_t r = {.p = p, .left = n};
    int count = 0;
    out[0] = '\0';
    while (r.left) {
        size_t el, al, cl, ul;
        const char *e = skt_wframe_read_str(&r, &el);
        ck_assert_int_eq(r.bad, 0);
        skt_wframe_reader_t er = {.p = (const unsigned char *)e, .left = el};
        uint32_t user = skt_wframe_read_u32(&er);
        const char *a = skt_wframe_read_str(&er, &al), *c = skt_wframe_read_str(&er, &cl),
                   *u = skt_wframe_read_str(&er, &ul);
        uint32_t num = skt_wframe_read_u32(&er);
        ck_assert_int_eq(er.bad, 0);
        ck_assert_uint_eq(er.left, 0);
        char one[256];
        if (user)
            snprintf(one, sizeof(one), "u:%.*s/%.*s/%.*s#%u;", (int)al, a, (int)cl, c, (int)ul, u,
                     num);
        else
            snprintf(one, sizeof(one), "c:%.*s/%.*s;", (int)al, a, (int)cl, c);
        strcat(out, one);
        count++;
    }
    return count;
}

/* A worker exits: what it alone held (users, then the channel) is lost, with each id's
 * type; what another worker holds too is not. */
START_TEST(test_store_lost)
{
    skt_hub_store_t *st = skt_hub_store_new(NULL, 3);
    struct evbuffer *lost = evbuffer_new();
    char out[1024];
    ck_assert_int_eq(admit_as(st, 0, "7", -1, 1), 1);   /* a numeric id, worker 1 alone */
    ck_assert_int_eq(admit_as(st, 0, "bob", -1, 0), 1); /* on workers 1 and 2 */
    ck_assert_int_eq(admit_as(st, 1, "bob", -1, 0), 2);
    ck_assert_int_eq(admit_as(st, 1, "carol", -1, 0), 1); /* worker 2 alone */
    ck_assert_int_eq(ask(st, 0, SKT_HUB_TRANSITION, NULL, 1, NULL, 0, NULL), 1);
    ck_assert_int_eq(ask(st, 2, SKT_HUB_TRANSITION, "dave", 1, NULL, 0, NULL), 1);
    ck_assert_int_eq(ask(st, 2, SKT_HUB_TRANSITION, "dave", 0, NULL, 0, NULL), 1); /* left */
    skt_hub_store_forget(st, 0, lost);
    ck_assert_int_eq(lost_text(evbuffer_pullup(lost, -1), evbuffer_get_length(lost), out), 2);
    ck_assert_str_eq(out, "u:app/presence-x/7#1;c:app/presence-x;");
    evbuffer_drain(lost, evbuffer_get_length(lost));
    /* bob is worker 2's alone now */
    skt_hub_store_forget(st, 1, lost);
    ck_assert_int_eq(lost_text(evbuffer_pullup(lost, -1), evbuffer_get_length(lost), out), 2);
    ck_assert(strstr(out, "u:app/presence-x/bob#0;") && strstr(out, "u:app/presence-x/carol#0;"));
    ck_assert_uint_eq(skt_hub_store_count(st), 0);
    evbuffer_drain(lost, evbuffer_get_length(lost));
    skt_hub_store_forget(st, 2, lost); /* held nothing: nothing lost */
    ck_assert_uint_eq(evbuffer_get_length(lost), 0);
    evbuffer_free(lost);
    skt_hub_store_free(st);
}
END_TEST

START_TEST(test_store_admit)
{
    skt_hub_store_t *st = skt_hub_store_new(NULL, 3);
    /* a limit of 2 users for the host, whichever workers ask */
    ck_assert_int_eq(admit(st, 0, "alice", 2), 1);
    ck_assert_int_eq(admit(st, 1, "bob", 2), 1);
    ck_assert_int_eq(admit(st, 2, "carol", 2), 0);  /* full */
    ck_assert_int_eq(admit(st, 2, "alice", 2), 2);  /* already in: counts once */
    ck_assert_int_eq(admit(st, 1, "carol", -1), 1); /* no limit */
    ck_assert_int_eq(ask(st, 1, SKT_HUB_TRANSITION, "carol", 0, NULL, 0, NULL), 1);
    /* bob's worker exits: his place is free; alice leaves worker 1, still held by 3 */
    skt_hub_store_forget(st, 1, NULL);
    ck_assert_int_eq(ask(st, 0, SKT_HUB_TRANSITION, "alice", 0, NULL, 0, NULL), 0);
    ck_assert_int_eq(admit(st, 0, "dave", 2), 1);
    ck_assert_int_eq(admit(st, 1, "erin", 2), 0);
    ck_assert_int_eq(admit(st, 0, "erin", 0), 0); /* a limit of 0 admits nobody */
    ck_assert_int_eq(ask(st, 2, SKT_HUB_TRANSITION, "alice", 0, NULL, 0, NULL), 1);
    ck_assert_int_eq(admit(st, 1, "erin", 2), 1);
    skt_hub_store_free(st);
}
END_TEST

/* cluster_connection by slot for app (joined 1 under limit, -1: none; or 0): the count. */
static long
connection(skt_hub_store_t *st, size_t slot, const char *app, int joined, long limit)
{
    struct evbuffer *b = evbuffer_new();
    uint32_t count = 99;
    skt_wframe_add_u32(b, (uint32_t)joined);
    skt_wframe_add_u32(b, limit >= 0);
    skt_wframe_add_u32(b, limit >= 0 ? (uint32_t)limit : 0);
    ck_assert_int_eq(ask_raw(st, slot, SKT_HUB_CONNECTION, app, "", b, 0, &count, 1, NULL), 0);
    evbuffer_free(b);
    return (long)count;
}

START_TEST(test_store_connections)
{
    skt_hub_store_t *st = skt_hub_store_new(NULL, 2);
    /* a quota of 3 for the host, whichever worker counts */
    ck_assert_int_eq(connection(st, 0, "app", 1, 3), 1);
    ck_assert_int_eq(connection(st, 1, "app", 1, 3), 1);
    ck_assert_int_eq(connection(st, 1, "app", 1, 3), 1);
    ck_assert_int_eq(connection(st, 0, "app", 1, 3), 0);
    ck_assert_int_eq(connection(st, 0, "other", 1, 1), 1); /* apps apart */
    ck_assert_int_eq(connection(st, 0, "app", 0, 0), 1);   /* one closes: room for one */
    ck_assert_int_eq(connection(st, 1, "app", 1, 3), 1);
    ck_assert_int_eq(connection(st, 0, "app", 1, 3), 0);
    ck_assert_int_eq(connection(st, 0, "app", 1, -1), 1); /* no limit: counted */
    /* worker 2 exits: its three are gone, worker 1's one stays */
    skt_hub_store_forget(st, 1, NULL);
    ck_assert_int_eq(connection(st, 0, "app", 1, 3), 1);
    ck_assert_int_eq(connection(st, 0, "app", 1, 3), 1);
    ck_assert_int_eq(connection(st, 0, "app", 1, 3), 0);
    ck_assert_int_eq(connection(st, 1, "app", 0, 0), 1); /* a release it never had: no-op */
    ck_assert_int_eq(connection(st, 0, "app", 1, 3), 0);
    /* malformed: a cut question, an admission without a user */
    struct evbuffer *b = evbuffer_new();
    skt_wframe_add_u32(b, 1);
    ck_assert_int_eq(ask_raw(st, 0, SKT_HUB_CONNECTION, "app", "", b, 0, NULL, 0, NULL), -1);
    skt_wframe_add_u32(b, 1);
    skt_wframe_add_u32(b, 3);
    ck_assert_int_eq(ask_raw(st, 0, SKT_HUB_ADMIT, "app", "presence-x", b, 0, NULL, 0, NULL), -1);
    evbuffer_free(b);
    skt_hub_store_free(st);
}
END_TEST

/* rate_consume: points into key's window at now; out[0] used, out[1] ms left. */
static void
consume(skt_hub_store_t *st, size_t slot, const char *key, uint32_t points, uint64_t now,
        uint32_t out[2])
{
    struct evbuffer *b = evbuffer_new();
    skt_wframe_add_u32(b, points);
    skt_wframe_add_u32(b, 1000);
    ck_assert_int_eq(ask_raw(st, slot, SKT_HUB_RATE, "", key, b, now, out, 2, NULL), 0);
    evbuffer_free(b);
}

START_TEST(test_store_rate_cache)
{
    skt_hub_store_t *st = skt_hub_store_new(NULL, 2);
    uint32_t out[2];
    consume(st, 0, "k", 1, 5000, out);
    ck_assert_uint_eq(out[0], 1);
    ck_assert_uint_eq(out[1], 1000);
    consume(st, 1, "k", 2, 5400, out); /* the other worker, the same window */
    ck_assert_uint_eq(out[0], 3);
    ck_assert_uint_eq(out[1], 600);
    consume(st, 0, "other", 1, 5400, out);
    ck_assert_uint_eq(out[0], 1);
    consume(st, 1, "k", 1, 6000, out); /* the window closed: a new one */
    ck_assert_uint_eq(out[0], 1);
    ck_assert_uint_eq(out[1], 1000);
    /* many windows: the closed ones are swept */
    char key[16];
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof(key), "w%d", i);
        consume(st, 0, key, 1, 10000 + (uint64_t)i * 10, out);
    }
    consume(st, 0, "k", 1, 20000, out); /* k's window closed long ago */
    ck_assert_uint_eq(out[0], 1);
    /* the cache: a value set through one worker is got through the other */
    struct evbuffer *b = evbuffer_new();
    uint32_t found = 9;
    char val[64];
    ck_assert_int_eq(ask_raw(st, 1, SKT_HUB_GET, "", "c", b, 0, &found, 1, val), 0);
    ck_assert_uint_eq(found, 0);
    skt_wframe_add_str(b, "{\"event\":\"e\"}", 13);
    skt_wframe_add_u32(b, 0);
    ck_assert_int_eq(ask_raw(st, 0, SKT_HUB_SET, "", "c", b, 0, NULL, 0, NULL), 0);
    ck_assert_int_eq(ask_raw(st, 1, SKT_HUB_GET, "", "c", b, 0, &found, 1, val), 0);
    ck_assert_uint_eq(found, 1);
    ck_assert_str_eq(val, "{\"event\":\"e\"}");
    /* malformed: a cut rate question */
    skt_wframe_add_u32(b, 1);
    ck_assert_int_eq(ask_raw(st, 0, SKT_HUB_RATE, "", "k", b, 0, out, 2, NULL), -1);
    evbuffer_free(b);
    skt_hub_store_free(st);
}
END_TEST

static Suite *
hub_suite(void)
{
    Suite *s = suite_create("workers_hub");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_relay_once_not_back);
    tcase_add_test(tc, test_queue_bound);
    tcase_add_test(tc, test_store);
    tcase_add_test(tc, test_store_admit);
    tcase_add_test(tc, test_store_lost);
    tcase_add_test(tc, test_detach_lost);
    tcase_add_test(tc, test_store_connections);
    tcase_add_test(tc, test_store_rate_cache);
    suite_add_tcase(s, tc);
    return s;
}

SKT_CHECK_MAIN(hub_suite)
