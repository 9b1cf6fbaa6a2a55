/* sql_pool.c - the SQL app managers' connection pool on the event loop (sql_pool.h).
 *
 * DESIGN
 * A connection is RESOLVING (evdns), CONNECTING (driver steps), IDLE (its socket watched for
 * the server closing it) or BUSY (running one lookup's query). A lookup is QUEUED (in FIFO
 * order) or RUNNING on one connection; its deadline timer runs from find to its answer in
 * both. Every path that answers a lookup first detaches it from the pool (queue, connection,
 * timer), then calls the host's callback, then dispatches again, so a callback that calls
 * find sees a consistent pool.
 * min_open is kept: every connection dropped (conn_drop) lets pool_fill open the missing ones,
 * one round a second at most and none during the back-off after a failed connect (a timer,
 * p->fill, holds the next round), so a server that is down, or that closes every connection
 * it accepts, costs min_open connects a second, never a busy loop.
 */
#include "sql_pool.h"

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#define SKT_SQL_BACKOFF_MS 1000
#define SKT_SQL_ROW_MAX (1u << 20) /* the longest row answered (1 MiB) */

typedef enum { C_RESOLVING, C_CONNECTING, C_IDLE, C_BUSY } conn_state_t;

typedef struct lookup_s lookup_t;
typedef struct conn_s conn_t;

struct lookup_s {
    TAILQ_ENTRY(lookup_s) q;
    skt_sql_pool_t *pool;
    struct event *deadline;
    conn_t *conn; /* running on it, or NULL while queued */
    int by, retried;
    char *value;
    size_t len;
    soketi_app_row_cb cb;
    void *arg;
};

struct conn_s {
    LIST_ENTRY(conn_s) link;
    skt_sql_pool_t *pool;
    conn_state_t state;
    void *db;
    struct event *io;       /* the current step's wait (or the idle watch) */
    struct event *deadline; /* the connect's */
    struct evdns_getaddrinfo_request *dns;
    lookup_t *cur;
    int resolved;            /* evdns answered (addr or resolve_error set) */
    char addr[128];          /* the address to connect to, numeric (or a socket directory) */
    char resolve_error[300]; /* why there is none */
    int used; /* has answered a lookup: a failure may be a pooled connection that broke */
};

struct skt_sql_pool_s {
    struct event_base *base;
    struct evdns_base *dns;
    const skt_sql_driver_t *drv;
    const skt_sql_settings_t *s;
    skt_sql_log_fn log;
    LIST_HEAD(, conn_s) conns;
    TAILQ_HEAD(, lookup_s) queue;
    int n_conns, n_connecting;
    long long down_until; /* monotonic ms: the back-off after a failed connect */
    long long filled_at;  /* monotonic ms of pool_fill's last round */
    struct event *fill;   /* pool_fill's next round, while one waits */
    long long logged_at;  /* monotonic ms of the last error logged */
    long suppressed;      /* errors not logged since */
};

static void conn_step(conn_t *c, int step);
static void conn_connect(conn_t *c);
static void on_io(evutil_socket_t fd, short what, void *arg);
static void dispatch(skt_sql_pool_t *p);
static int conn_open(skt_sql_pool_t *p);

static long long
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct timeval
tv_ms(long ms)
{
    return (struct timeval){.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
}

/* Logs an error line unless one was logged less than a second ago. */
static void
pool_error(skt_sql_pool_t *p, const char *what, const char *msg)
{
    long long t = now_ms();
    if (p->logged_at && t - p->logged_at < 1000) {
        p->suppressed++;
        return;
    }
    p->logged_at = t;
    if (p->suppressed)
        p->log(SOKETI_LOG_ERROR, "%s app manager: %s: %s (and %ld more errors)", p->drv->name, what,
               msg, p->suppressed);
    else
        p->log(SOKETI_LOG_ERROR, "%s app manager: %s: %s", p->drv->name, what, msg);
    p->suppressed = 0;
}

/* ---- lookups ----------------------------------------------------------------------------- */

static void
lookup_free(lookup_t *l)
{
    if (l->deadline)
        event_free(l->deadline);
    free(l->value);
    free(l);
}

/* Takes l off the queue or its connection. */
static void
lookup_detach(lookup_t *l)
{
    if (l->conn)
        l->conn->cur = NULL;
    else
        TAILQ_REMOVE(&l->pool->queue, l, q);
    l->conn = NULL;
}

/* Frees a detached lookup and answers it (the last thing its caller does with it). */
static void
lookup_reply(lookup_t *l, int status, const char *row, size_t len)
{
    soketi_app_row_cb cb = l->cb;
    void *arg = l->arg;
    lookup_free(l);
    cb(arg, status, row, len);
}

/* Answers every queued lookup SOKETI_ERROR (nothing can serve them now). */
static void
fail_queue(skt_sql_pool_t *p)
{
    lookup_t *l;
    while ((l = TAILQ_FIRST(&p->queue))) {
        lookup_detach(l);
        lookup_reply(l, SOKETI_ERROR, NULL, 0);
    }
}

/* ---- connections ------------------------------------------------------------------------ */

static void
conn_free(conn_t *c, int broken)
{
    skt_sql_pool_t *p = c->pool;
    LIST_REMOVE(c, link);
    p->n_conns--;
    if (c->state == C_RESOLVING || c->state == C_CONNECTING)
        p->n_connecting--;
    if (c->dns)
        evdns_getaddrinfo_cancel(c->dns); /* on_resolved sees EVUTIL_EAI_CANCEL: ignored */
    if (c->io)
        event_free(c->io);
    if (c->deadline)
        event_free(c->deadline);
    if (c->db)
        p->drv->close(c->db, broken);
    free(c);
}

/* Opens connections up to min_open, now or (one round a second, none in the back-off) from
 * p->fill. */
static void
pool_fill(skt_sql_pool_t *p)
{
    if (p->n_conns >= p->s->min_open || evtimer_pending(p->fill, NULL))
        return;
    long long t = now_ms(), at = p->filled_at + SKT_SQL_BACKOFF_MS;
    at = p->down_until > at ? p->down_until : at;
    if (p->filled_at && t < at) {
        struct timeval tv = tv_ms((long)(at - t));
        evtimer_add(p->fill, &tv);
        return;
    }
    p->filled_at = t;
    while (p->n_conns < p->s->min_open)
        if (conn_open(p) != 0) { /* out of memory: the next round tries again */
            struct timeval tv = tv_ms(SKT_SQL_BACKOFF_MS);
            evtimer_add(p->fill, &tv);
            return;
        }
}

static void
on_fill(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    pool_fill(arg);
}

/* Drops c (it broke, was closed, or is abandoned) and keeps min_open. */
static void
conn_drop(conn_t *c)
{
    skt_sql_pool_t *p = c->pool;
    conn_free(c, 1);
    pool_fill(p);
}

/* 1 when some connection is up or on its way. */
static int
pool_alive(const skt_sql_pool_t *p)
{
    return p->n_conns > 0;
}

/* A connect failed: back off, and fail the lookups nothing else will serve. */
static void
connect_failed(conn_t *c, const char *msg)
{
    skt_sql_pool_t *p = c->pool;
    pool_error(p, "cannot connect", msg);
    p->down_until = now_ms() + SKT_SQL_BACKOFF_MS;
    conn_drop(c);
    if (!pool_alive(p))
        fail_queue(p);
}

static void
on_connect_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    conn_t *c = arg;
    char msg[64];
    snprintf(msg, sizeof(msg), "no connection within %ld ms", c->pool->s->timeout_ms);
    connect_failed(c, msg);
}

/* Waits on c's socket for what step asks. 0, or -1 when the event cannot be made. */
static int
conn_wait(conn_t *c, int step)
{
    short ev = (short)((step & SKT_SQL_WAIT_READ ? EV_READ : 0) |
                       (step & SKT_SQL_WAIT_WRITE ? EV_WRITE : 0));
    if (c->io)
        event_free(c->io);
    c->io = event_new(c->pool->base, ev ? c->pool->drv->fd(c->db) : -1, ev, on_io, c);
    struct timeval tv = tv_ms(step & SKT_SQL_WAIT_TIMEOUT ? c->pool->drv->wait_ms(c->db) : 0);
    return c->io && event_add(c->io, step & SKT_SQL_WAIT_TIMEOUT ? &tv : NULL) == 0 ? 0 : -1;
}

/* Continues c from the loop at once (conn_connect after the name was resolved). */
static int
conn_soon(conn_t *c)
{
    struct timeval zero = {0, 0};
    if (c->io)
        event_free(c->io);
    c->io = evtimer_new(c->pool->base, on_io, c);
    return c->io && evtimer_add(c->io, &zero) == 0 ? 0 : -1;
}

/* c is free for the next lookup: watch its socket for the server closing it. c may be
 * gone when this returns. */
static void
conn_idle(conn_t *c)
{
    c->state = C_IDLE;
    if (conn_wait(c, SKT_SQL_WAIT_READ) != 0)
        conn_drop(c);
}

/* The lookup on c is done: its row (if any) answers it; c is idle again. */
static void
query_done(conn_t *c)
{
    skt_sql_pool_t *p = c->pool;
    lookup_t *l = c->cur;
    skt_sql_row_t row;
    skt_sql_row_begin(&row, SKT_SQL_ROW_MAX);
    int got = p->drv->row(c->db, &row);
    size_t len = 0;
    const char *text = got == 1 ? skt_sql_row_end(&row, &len) : NULL;
    if (got < 0 || (got == 1 && !text))
        pool_error(p, "cannot read the app's row", got < 0 ? p->drv->error(c->db) : "too long");
    c->used = 1;
    lookup_detach(l);
    conn_idle(c);
    if (got < 0 || (got == 1 && !text))
        lookup_reply(l, SOKETI_ERROR, NULL, 0);
    else
        lookup_reply(l, SOKETI_OK, text, len);
    skt_sql_row_free(&row);
}

/* A query failed: a statement error answers SOKETI_ERROR; a pooled connection that broke
 * is dropped and the lookup retried once on a fresh one. */
static void
query_failed(conn_t *c, int step)
{
    skt_sql_pool_t *p = c->pool;
    lookup_t *l = c->cur;
    lookup_detach(l);
    if (step == SKT_SQL_FAIL_QUERY) {
        pool_error(p, "the query failed", p->drv->error(c->db));
        conn_idle(c);
        lookup_reply(l, SOKETI_ERROR, NULL, 0);
        return;
    }
    int retry = c->used && !l->retried;
    if (!retry)
        pool_error(p, "the connection failed", p->drv->error(c->db));
    conn_drop(c);
    if (retry) {
        l->retried = 1;
        TAILQ_INSERT_HEAD(&p->queue, l, q);
    } else {
        lookup_reply(l, SOKETI_ERROR, NULL, 0);
    }
}

/* Acts on what a driver step answered (c is connecting or busy). */
static void
conn_step(conn_t *c, int step)
{
    skt_sql_pool_t *p = c->pool;
    if (step > 0 && conn_wait(c, step) != 0)
        step = SKT_SQL_FAIL;
    if (step > 0)
        return;
    if (c->state == C_CONNECTING) {
        if (step < 0) {
            connect_failed(c, p->drv->error(c->db));
            return;
        }
        event_free(c->deadline);
        c->deadline = NULL;
        p->n_connecting--;
        p->down_until = 0;
        conn_idle(c);
    } else if (step == SKT_SQL_DONE) {
        query_done(c);
    } else {
        query_failed(c, step);
    }
    dispatch(p);
}

/* The step on c's socket is ready (or its driver timer ran out). */
static void
on_io(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    conn_t *c = arg;
    const skt_sql_driver_t *drv = c->pool->drv;
    int ready = (what & EV_READ ? SKT_SQL_WAIT_READ : 0) |
                (what & EV_WRITE ? SKT_SQL_WAIT_WRITE : 0) |
                (what & EV_TIMEOUT ? SKT_SQL_WAIT_TIMEOUT : 0);
    if (c->state == C_CONNECTING)
        conn_step(c, drv->connect_cont(c->db, ready));
    else if (c->state == C_BUSY)
        conn_step(c, drv->query_cont(c->db, ready));
    else if (c->state == C_RESOLVING)
        conn_connect(c);
    else if (!drv->idle_read || drv->idle_read(c->db) < 0)
        conn_drop(c); /* the server closed an idle connection: pool_fill or a lookup opens one */
    else
        conn_idle(c);
}

/* The host's address is known (c->addr): start connecting to it. */
static void
conn_connect(conn_t *c)
{
    skt_sql_pool_t *p = c->pool;
    int step = SKT_SQL_FAIL;
    if (!c->addr[0]) {
        connect_failed(c, c->resolve_error);
        return;
    }
    c->state = C_CONNECTING;
    c->db = p->drv->connect_start(p->s, c->addr, &step);
    if (!c->db)
        connect_failed(c, "out of memory");
    else
        conn_step(c, step);
}

/* evdns's answer: kept in c, acted on from a zero timer (it may come before
 * evdns_getaddrinfo returns). */
static void
on_resolved(int err, struct evutil_addrinfo *ai, void *arg)
{
    conn_t *c = arg;
    if (err == EVUTIL_EAI_CANCEL) {
        if (ai)
            evutil_freeaddrinfo(ai);
        return; /* c is being freed */
    }
    c->dns = NULL;
    c->resolved = 1;
    if (!err && ai)
        evutil_inet_ntop(ai->ai_family,
                         ai->ai_family == AF_INET6
                             ? (void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr
                             : (void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr,
                         c->addr, sizeof(c->addr));
    if (ai)
        evutil_freeaddrinfo(ai);
    snprintf(c->resolve_error, sizeof(c->resolve_error), "cannot resolve %s: %s", c->pool->s->host,
             err ? evutil_gai_strerror(err) : "no address");
    if (conn_soon(c) != 0)
        c->addr[0] = '\0';
}

/* Opens one more connection: resolves the host, then connects. 0, or -1 out of memory. */
static int
conn_open(skt_sql_pool_t *p)
{
    conn_t *c = calloc(1, sizeof(*c));
    if (!c)
        return -1;
    c->pool = p;
    c->state = C_RESOLVING;
    c->deadline = evtimer_new(p->base, on_connect_deadline, c);
    struct timeval tv = tv_ms(p->s->timeout_ms);
    if (!c->deadline || evtimer_add(c->deadline, &tv) != 0) {
        if (c->deadline)
            event_free(c->deadline);
        free(c);
        return -1;
    }
    LIST_INSERT_HEAD(&p->conns, c, link);
    p->n_conns++;
    p->n_connecting++;
    if (p->s->host[0] == '/') { /* a Unix socket directory: nothing to resolve */
        snprintf(c->addr, sizeof(c->addr), "%s", p->s->host);
        c->resolved = 1;
        return conn_soon(c);
    }
    struct evutil_addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct evdns_getaddrinfo_request *req =
        evdns_getaddrinfo(p->dns, p->s->host, NULL, &hints, on_resolved, c);
    if (!c->resolved)
        c->dns = req;
    return 0;
}

/* ---- the queue ---------------------------------------------------------------------------- */

static conn_t *
idle_conn(skt_sql_pool_t *p)
{
    conn_t *c;
    LIST_FOREACH(c, &p->conns, link)
    if (c->state == C_IDLE)
        return c;
    return NULL;
}

static int
queued(const skt_sql_pool_t *p)
{
    int n = 0;
    const lookup_t *l;
    TAILQ_FOREACH(l, &p->queue, q)
    n++;
    return n;
}

/* Starts queued lookups on idle connections, and opens connections for the rest. */
static void
dispatch(skt_sql_pool_t *p)
{
    lookup_t *l;
    conn_t *c;
    /* conn_step may answer and dispatch in turn: each round looks afresh. */
    while ((l = TAILQ_FIRST(&p->queue)) && (c = idle_conn(p))) {
        TAILQ_REMOVE(&p->queue, l, q);
        l->conn = c;
        c->cur = l;
        c->state = C_BUSY;
        conn_step(c, p->drv->query_start(c->db, l->by, l->value, l->len));
    }
    if (TAILQ_EMPTY(&p->queue))
        return;
    if (p->down_until && now_ms() < p->down_until) {
        if (!pool_alive(p))
            fail_queue(p);
        return;
    }
    int want = queued(p) - p->n_connecting;
    while (want-- > 0 && p->n_conns < p->s->max_open)
        if (conn_open(p) != 0)
            break;
}

static void
on_lookup_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    lookup_t *l = arg;
    skt_sql_pool_t *p = l->pool;
    char msg[64];
    snprintf(msg, sizeof(msg), "no answer within %ld ms", p->s->timeout_ms);
    pool_error(p, l->conn ? "the query timed out" : "no free connection", msg);
    conn_t *c = l->conn;
    lookup_detach(l);
    if (c)
        conn_drop(c); /* ends the stuck query */
    lookup_reply(l, SOKETI_ERROR, NULL, 0);
    dispatch(p);
}

void
skt_sql_pool_find(skt_sql_pool_t *p, int by, const char *value, size_t len, soketi_app_row_cb cb,
                  void *arg)
{
    /* No key or id holds a NUL byte (PostgreSQL text cannot): no such app. */
    if (memchr(value, '\0', len)) {
        cb(arg, SOKETI_OK, NULL, 0);
        return;
    }
    lookup_t *l = calloc(1, sizeof(*l));
    struct timeval tv = tv_ms(p->s->timeout_ms);
    if (l) {
        l->value = malloc(len + 1);
        l->deadline = evtimer_new(p->base, on_lookup_deadline, l);
    }
    if (!l || !l->value || !l->deadline || evtimer_add(l->deadline, &tv) != 0) {
        if (l)
            lookup_free(l);
        pool_error(p, "cannot look up an app", "out of memory");
        cb(arg, SOKETI_ERROR, NULL, 0);
        return;
    }
    memcpy(l->value, value, len);
    l->value[len] = '\0';
    l->len = len;
    l->by = by;
    l->cb = cb;
    l->arg = arg;
    l->pool = p;
    TAILQ_INSERT_TAIL(&p->queue, l, q);
    dispatch(p);
}

skt_sql_pool_t *
skt_sql_pool_new(struct event_base *base, const skt_sql_driver_t *drv, const skt_sql_settings_t *s,
                 skt_sql_log_fn log)
{
    skt_sql_pool_t *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->base = base;
    p->drv = drv;
    p->s = s;
    p->log = log;
    LIST_INIT(&p->conns);
    TAILQ_INIT(&p->queue);
    p->dns =
        evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS | EVDNS_BASE_NAMESERVERS_NO_DEFAULT);
    if (!p->dns)
        p->dns = evdns_base_new(base, 0); /* no resolv.conf: literal addresses and hosts */
    if (!p->dns) {
        free(p);
        return NULL;
    }
    if (!evdns_base_count_nameservers(p->dns))
        evdns_base_load_hosts(p->dns, NULL);
    p->fill = evtimer_new(base, on_fill, p);
    if (!p->fill) {
        evdns_base_free(p->dns, 0);
        free(p);
        return NULL;
    }
    pool_fill(p);
    return p;
}

void
skt_sql_pool_free(skt_sql_pool_t *p)
{
    if (!p)
        return;
    lookup_t *l;
    while ((l = TAILQ_FIRST(&p->queue))) {
        TAILQ_REMOVE(&p->queue, l, q);
        lookup_free(l);
    }
    conn_t *c;
    while ((c = LIST_FIRST(&p->conns))) {
        if (c->cur) {
            lookup_free(c->cur);
            c->cur = NULL;
        }
        conn_free(c, c->state != C_IDLE);
    }
    event_free(p->fill);
    evdns_base_free(p->dns, 0);
    free(p);
}
