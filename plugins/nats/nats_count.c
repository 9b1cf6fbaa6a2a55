/* nats_count.c - counting the nodes on the request subject through the NATS servers'
 * CONNZ. See nats_count.h.
 *
 * DESIGN
 * Two counts can be on their way at once, each a multi-reply request: the queries' (which
 * every query that comes meanwhile joins) and the periodic learning one (which has no
 * waiters). A count ends from a reply (enough servers answered), from its window timer, or
 * from the request table (timed out, or the connection went down); ending it cancels its
 * request first, so nothing of it can call back after. Answers to queries that cannot
 * wait for a count (nodesNumber, a count that could not start) go out from a zero timer:
 * numsub must never answer before it returns.
 */
#include "nats_count.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "nats_loop.h"
#include "nats_proto.h"

typedef struct count_s count_t;

/* A query waiting for its number. */
typedef struct waiter_s {
    skt_hz_req_t *hreq;
    long n; /* the answer, for those answered from the zero timer */
} waiter_t;

typedef struct waiters_s {
    waiter_t *w;
    size_t n, cap;
} waiters_t;

/* One CONNZ ping to every server. */
struct count_s {
    skt_ncount_t *ct;
    uint64_t id; /* the request, 0 when none */
    int active;
    int learning; /* wait the whole window, whatever was learnt */
    long sum;
    int answers;
    struct event *window;
    waiters_t waiters;
};

struct skt_ncount_s {
    const soketi_host_t *host;
    skt_nr_t *req;
    char *name;
    char *body;
    long nodes_number;
    int servers; /* learnt: how many servers answer a count; 0 unknown */
    count_t query, learn;
    waiters_t later; /* answered from the zero timer */
    struct event *later_timer;
    struct event *learn_timer;
    int warned;
};

#define ct_log(ct, level, ...) skt_hz_logf((ct)->host, (ct)->name, (level), __VA_ARGS__)

/* Adds a waiter; -1 when out of memory. */
static int
waiters_push(waiters_t *ws, skt_hz_req_t *hreq, long n)
{
    if (ws->n == ws->cap) {
        size_t cap = ws->cap ? ws->cap * 2 : 8;
        waiter_t *w = realloc(ws->w, cap * sizeof(*w));
        if (!w)
            return -1;
        ws->w = w;
        ws->cap = cap;
    }
    ws->w[ws->n++] = (waiter_t){hreq, n};
    return 0;
}

/* Answers every waiter of ws with n (n == 0: each its own), emptied first: the answers
 * may start new queries. */
static void
waiters_answer(waiters_t *ws, long n)
{
    waiters_t mine = *ws;
    *ws = (waiters_t){0};
    for (size_t i = 0; i < mine.n; i++)
        skt_hz_numsub_done(mine.w[i].hreq, n ? n : mine.w[i].n);
    free(mine.w);
}

/* ---- one count ---------------------------------------------------------------------- */

/* Ends c: its waiters get the sum (at least 1: this node listens), or "unknown". */
static void
count_finish(count_t *c, int complete)
{
    skt_ncount_t *ct = c->ct;
    evtimer_del(c->window);
    if (c->id)
        skt_nr_cancel(ct->req, c->id);
    c->id = 0;
    c->active = 0;
    if (c->answers > 0 && !complete)
        ct->servers = c->answers; /* the window closed: this is every server there is */
    if (c->answers == 0 && !ct->warned) {
        ct_log(ct, SOKETI_LOG_WARN,
               "cannot count the nodes: no NATS server answered %s; cluster-wide queries "
               "wait adapter.nats.requestsTimeout for answers (set adapter.nats.nodesNumber "
               "to the number of nodes to avoid it)",
               SKT_NCOUNT_SUBJECT);
        ct->warned = 1;
    }
    long n = c->answers > 0 ? (c->sum > 0 ? c->sum : 1) : SKT_NCOUNT_UNKNOWN;
    waiters_answer(&c->waiters, n);
}

/* The window after the first answer closed: the servers that answered are all there are. */
static void
count_on_window(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    count_finish(arg, 0);
}

/* A server's answer to the count (or NULL: the request ended without more). */
static void
count_on_reply(void *arg, natsMsg *msg)
{
    count_t *c = arg;
    skt_ncount_t *ct = c->ct;
    if (!msg) { /* timed out, or the connection went down */
        c->id = 0;
        count_finish(c, 0);
        return;
    }
    long n = skt_np_connz_count(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg));
    if (n < 0) {
        ct_log(ct, SOKETI_LOG_DEBUG, "an answer to %s that is no count: %.*s", SKT_NCOUNT_SUBJECT,
               natsMsg_GetDataLength(msg) > 200 ? 200 : natsMsg_GetDataLength(msg),
               natsMsg_GetData(msg));
        return;
    }
    c->sum += n;
    c->answers++;
    if (!c->learning && ct->servers > 0 && c->answers >= ct->servers) {
        count_finish(c, 1);
        return;
    }
    if (c->answers == 1) {
        skt_nl_arm(c->window, SKT_NCOUNT_WINDOW_MS);
    }
}

/* Sends the ping. Returns 0, or -1 (not connected, too many requests). */
static int
count_start(count_t *c, int learning)
{
    skt_ncount_t *ct = c->ct;
    c->learning = learning;
    c->sum = 0;
    c->answers = 0;
    if (skt_nr_request(ct->req, SKT_NCOUNT_SUBJECT, NULL, ct->body, strlen(ct->body),
                       SKT_NCOUNT_TIMEOUT_MS, 1, count_on_reply, c, &c->id) != 0)
        return -1;
    c->active = 1;
    return 0;
}

/* ---- the interface ------------------------------------------------------------------ */

/* The zero timer: the answers that could not be given inside numsub. */
static void
ct_on_later(evutil_socket_t fd, short what, void *arg)
{
    skt_ncount_t *ct = arg;
    (void)fd;
    (void)what;
    waiters_answer(&ct->later, 0);
}

/* hreq gets n from the zero timer. */
static int
ct_later(skt_ncount_t *ct, skt_hz_req_t *hreq, long n)
{
    if (waiters_push(&ct->later, hreq, n) != 0)
        return -1;
    event_active(ct->later_timer, EV_TIMEOUT, 0);
    return 0;
}

int
skt_ncount_ask(skt_ncount_t *ct, skt_hz_req_t *hreq)
{
    if (ct->nodes_number > 0)
        return ct_later(ct, hreq, ct->nodes_number);
    count_t *c = &ct->query;
    if (!c->active && count_start(c, ct->servers == 0) != 0)
        return ct_later(ct, hreq, SKT_NCOUNT_UNKNOWN);
    return waiters_push(&c->waiters, hreq, 0);
}

/* Every SKT_NCOUNT_LEARN_MS while connected: learn how many servers answer. */
static void
ct_on_learn(evutil_socket_t fd, short what, void *arg)
{
    skt_ncount_t *ct = arg;
    (void)fd;
    (void)what;
    if (!ct->learn.active)
        count_start(&ct->learn, 1);
    skt_nl_arm(ct->learn_timer, SKT_NCOUNT_LEARN_MS);
}

void
skt_ncount_up(skt_ncount_t *ct)
{
    if (ct->nodes_number <= 0)
        event_active(ct->learn_timer, EV_TIMEOUT, 0);
}

void
skt_ncount_down(skt_ncount_t *ct)
{
    evtimer_del(ct->learn_timer);
}

skt_ncount_t *
skt_ncount_new(const soketi_host_t *host, skt_nr_t *req, const char *subject, long nodes_number,
               const char *name)
{
    skt_ncount_t *ct = calloc(1, sizeof(*ct));
    if (!ct)
        return NULL;
    ct->host = host;
    ct->req = req;
    ct->nodes_number = nodes_number;
    ct->name = strdup(name);
    ct->body = skt_np_connz_request(subject);
    ct->later_timer = evtimer_new(host->base, ct_on_later, ct);
    ct->learn_timer = evtimer_new(host->base, ct_on_learn, ct);
    ct->query.ct = ct->learn.ct = ct;
    ct->query.window = evtimer_new(host->base, count_on_window, &ct->query);
    ct->learn.window = evtimer_new(host->base, count_on_window, &ct->learn);
    if (!ct->name || !ct->body || !ct->later_timer || !ct->learn_timer || !ct->query.window ||
        !ct->learn.window) {
        skt_ncount_free(ct);
        return NULL;
    }
    return ct;
}

/* Frees c's parts; its waiters are told the count failed. */
static void
count_free(count_t *c)
{
    if (c->id)
        skt_nr_cancel(c->ct->req, c->id);
    c->id = 0;
    waiters_answer(&c->waiters, -1);
    if (c->window)
        event_free(c->window);
}

void
skt_ncount_free(skt_ncount_t *ct)
{
    if (!ct)
        return;
    count_free(&ct->query);
    count_free(&ct->learn);
    waiters_answer(&ct->later, -1);
    if (ct->later_timer)
        event_free(ct->later_timer);
    if (ct->learn_timer)
        event_free(ct->learn_timer);
    free(ct->body);
    free(ct->name);
    free(ct);
}
