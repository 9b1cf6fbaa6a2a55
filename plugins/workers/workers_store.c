/* workers_store.c - a worker's side of the state shared in the supervisor (workers_store.h). */
#include "workers_store.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "workers/frame.h"
#include "workers/hub_store.h"

typedef struct wst_ask_s {
    uint32_t id;
    int op; /* SKT_HUB_*: TRANSITION, ADMIT and CONNECTION answer count_cb, PRESENT ids_cb, RATE
               consume_cb, GET value_cb; SET has no answer */
    soketi_count_cb count_cb;
    soketi_ids_cb ids_cb;
    soketi_consume_cb consume_cb;
    soketi_value_cb value_cb;
    void *arg;
    struct wst_ask_s *next;
} wst_ask_t;

typedef struct wst_fifo_s {
    wst_ask_t *head, *tail;
} wst_fifo_t;

struct skt_wst_s {
    struct bufferevent *bev; /* NULL: no supervisor */
    wst_fifo_t asked;        /* sent, in order */
    wst_fifo_t failed;       /* to answer SOKETI_ERROR from ev_fail */
    struct event *ev_fail;
    uint32_t next_id;
};

static void
fifo_push(wst_fifo_t *f, wst_ask_t *a)
{
    a->next = NULL;
    if (f->tail)
        f->tail->next = a;
    else
        f->head = a;
    f->tail = a;
}

static wst_ask_t *
fifo_pop(wst_fifo_t *f)
{
    wst_ask_t *a = f->head;
    if (a && !(f->head = a->next))
        f->tail = NULL;
    return a;
}

static void
ask_error(wst_ask_t *a)
{
    if (a->op == SKT_HUB_TRANSITION || a->op == SKT_HUB_ADMIT || a->op == SKT_HUB_CONNECTION)
        a->count_cb(a->arg, SOKETI_ERROR, 0);
    else if (a->op == SKT_HUB_PRESENT)
        a->ids_cb(a->arg, SOKETI_ERROR, NULL, 0);
    else if (a->op == SKT_HUB_RATE)
        a->consume_cb(a->arg, SOKETI_ERROR, 0, 0);
    else if (a->op == SKT_HUB_GET)
        a->value_cb(a->arg, SOKETI_ERROR, NULL, 0);
    free(a);
}

static void
wst_fail_cb(evutil_socket_t fd, short what, void *arg)
{
    skt_wst_t *st = arg;
    wst_ask_t *a;
    (void)fd;
    (void)what;
    while ((a = fifo_pop(&st->failed)))
        ask_error(a);
}

/* a will be answered SOKETI_ERROR from the loop. */
static void
wst_fail_later(skt_wst_t *st, wst_ask_t *a)
{
    fifo_push(&st->failed, a);
    event_active(st->ev_fail, 0, 0);
}

/* Sends a's question: the head (id, op, app, channel) and what body holds after it. A SET
 * waits for no answer: a is freed once sent (or not). */
static void
wst_send(skt_wst_t *st, wst_ask_t *a, const char *app_id, const char *channel,
         struct evbuffer *body)
{
    struct evbuffer *q = evbuffer_new();
    a->id = st->next_id++;
    int rv = !q || !st->bev || skt_wframe_add_u32(q, a->id) != 0 ||
                     skt_wframe_add_u32(q, (uint32_t)a->op) != 0 ||
                     skt_wframe_add_str(q, app_id, strlen(app_id)) != 0 ||
                     skt_wframe_add_str(q, channel, strlen(channel)) != 0 ||
                     evbuffer_add_buffer(q, body) != 0 ||
                     skt_wframe_add_frame(bufferevent_get_output(st->bev), SKT_WFRAME_STORE, q) != 0
                 ? -1
                 : 0;
    if (q)
        evbuffer_free(q);
    if (a->op == SKT_HUB_SET)
        free(a);
    else if (rv == 0)
        fifo_push(&st->asked, a);
    else
        wst_fail_later(st, a);
}

/* A question of op about (app_id, channel), its body to be written after the head.
 * NULL when out of memory (the caller answers SOKETI_ERROR at once). */
static wst_ask_t *
wst_ask_new(int op, struct evbuffer **body)
{
    wst_ask_t *a = calloc(1, sizeof(*a));
    *body = a ? evbuffer_new() : NULL;
    if (!*body) {
        free(a);
        return NULL;
    }
    a->op = op;
    return a;
}

/* Sends a (wst_send) and frees its body. */
static void
wst_send_body(skt_wst_t *st, wst_ask_t *a, const char *app_id, const char *channel,
              struct evbuffer *body)
{
    wst_send(st, a, app_id, channel, body);
    evbuffer_free(body);
}

/* A number of the ABI (a long) as a frame's u32: 0 below, UINT32_MAX above. */
static uint32_t
wst_u32(long v)
{
    return v < 0 ? 0 : (unsigned long)v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

void
skt_wst_connection(skt_wst_t *st, const char *app_id, int joined, long limit, soketi_count_cb cb,
                   void *arg)
{
    struct evbuffer *body;
    wst_ask_t *a = wst_ask_new(SKT_HUB_CONNECTION, &body);
    if (!a) {
        cb(arg, SOKETI_ERROR, 0);
        return;
    }
    a->count_cb = cb;
    a->arg = arg;
    skt_wframe_add_u32(body, joined ? 1 : 0);
    skt_wframe_add_u32(body, limit >= 0);
    skt_wframe_add_u32(body, wst_u32(limit));
    wst_send_body(st, a, app_id, "", body);
}

void
skt_wst_admit(skt_wst_t *st, const char *app_id, const char *channel, const char *user_id,
              int id_is_number, long limit, soketi_count_cb cb, void *arg)
{
    struct evbuffer *body;
    wst_ask_t *a = wst_ask_new(SKT_HUB_ADMIT, &body);
    if (!a) {
        cb(arg, SOKETI_ERROR, 0);
        return;
    }
    a->count_cb = cb;
    a->arg = arg;
    skt_wframe_add_str(body, user_id, strlen(user_id));
    skt_wframe_add_u32(body, limit >= 0);
    skt_wframe_add_u32(body, wst_u32(limit));
    skt_wframe_add_u32(body, id_is_number != 0);
    wst_send_body(st, a, app_id, channel, body);
}

void
skt_wst_rate(skt_wst_t *st, const char *key, long points, long window_ms, soketi_consume_cb cb,
             void *arg)
{
    struct evbuffer *body;
    wst_ask_t *a = wst_ask_new(SKT_HUB_RATE, &body);
    if (!a) {
        cb(arg, SOKETI_ERROR, 0, 0);
        return;
    }
    a->consume_cb = cb;
    a->arg = arg;
    skt_wframe_add_u32(body, wst_u32(points));
    skt_wframe_add_u32(body, wst_u32(window_ms));
    wst_send_body(st, a, "", key, body);
}

void
skt_wst_get(skt_wst_t *st, const char *key, soketi_value_cb cb, void *arg)
{
    struct evbuffer *body;
    wst_ask_t *a = wst_ask_new(SKT_HUB_GET, &body);
    if (!a) {
        cb(arg, SOKETI_ERROR, NULL, 0);
        return;
    }
    a->value_cb = cb;
    a->arg = arg;
    wst_send_body(st, a, "", key, body);
}

void
skt_wst_set(skt_wst_t *st, const char *key, const char *value, size_t len, long ttl_seconds)
{
    struct evbuffer *body;
    wst_ask_t *a = wst_ask_new(SKT_HUB_SET, &body);
    if (!a)
        return; /* a cache: the value is not kept */
    skt_wframe_add_str(body, value, len);
    skt_wframe_add_u32(body, wst_u32(ttl_seconds));
    wst_send_body(st, a, "", key, body);
}

void
skt_wst_transition(skt_wst_t *st, const char *app_id, const char *channel, const char *user_id,
                   int joined, soketi_count_cb cb, void *arg)
{
    struct evbuffer *body;
    wst_ask_t *a = wst_ask_new(SKT_HUB_TRANSITION, &body);
    if (!a) {
        cb(arg, SOKETI_ERROR, 0); /* out of memory: nothing can be deferred either */
        return;
    }
    a->count_cb = cb;
    a->arg = arg;
    skt_wframe_add_u32(body, joined ? 1 : 0);
    skt_wframe_add_u32(body, user_id ? 1 : 0);
    if (user_id)
        skt_wframe_add_str(body, user_id, strlen(user_id));
    wst_send_body(st, a, app_id, channel, body);
}

void
skt_wst_present(skt_wst_t *st, const char *app_id, const char *channel, const char *const *user_ids,
                size_t n, soketi_ids_cb cb, void *arg)
{
    struct evbuffer *body;
    wst_ask_t *a = wst_ask_new(SKT_HUB_PRESENT, &body);
    if (!a) {
        cb(arg, SOKETI_ERROR, NULL, 0);
        return;
    }
    a->ids_cb = cb;
    a->arg = arg;
    skt_wframe_add_u32(body, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        skt_wframe_add_str(body, user_ids[i], strlen(user_ids[i]));
    wst_send_body(st, a, app_id, channel, body);
}

/* The users of a PRESENT answer, as NUL-terminated copies. Returns 0, or -1 when
 * malformed or out of memory. */
static int
wst_answer_ids(wst_ask_t *a, skt_wframe_reader_t *r)
{
    uint32_t m = skt_wframe_read_u32(r);
    if (r->bad || m > r->left / 4)
        return -1;
    char **ids = calloc(m ? m : 1, sizeof(char *));
    int rv = ids ? 0 : -1;
    for (uint32_t i = 0; rv == 0 && i < m; i++) {
        size_t len;
        const char *s = skt_wframe_read_str(r, &len);
        if (r->bad || !(ids[i] = malloc(len + 1)))
            rv = -1;
        else {
            memcpy(ids[i], s, len);
            ids[i][len] = '\0';
        }
    }
    if (rv == 0)
        a->ids_cb(a->arg, SOKETI_OK, (const char *const *)ids, m);
    for (uint32_t i = 0; ids && i < m; i++)
        free(ids[i]);
    free(ids);
    return rv;
}

/* The answer of a TRANSITION, ADMIT, RATE or GET. Returns 0, or -1 when malformed. */
static int
wst_answer(wst_ask_t *a, skt_wframe_reader_t *r)
{
    uint32_t n = skt_wframe_read_u32(r), m = 0;
    size_t len = 0;
    const char *value = NULL;
    if (a->op == SKT_HUB_RATE)
        m = skt_wframe_read_u32(r);
    else if (a->op == SKT_HUB_GET && n)
        value = skt_wframe_read_str(r, &len);
    if (r->bad || r->left)
        return -1;
    if (a->op == SKT_HUB_RATE)
        a->consume_cb(a->arg, SOKETI_OK, (long)n, (long)m);
    else if (a->op == SKT_HUB_GET)
        a->value_cb(a->arg, SOKETI_OK, value, len);
    else
        a->count_cb(a->arg, SOKETI_OK, (long)n);
    return 0;
}

int
skt_wst_on_answer(skt_wst_t *st, const unsigned char *payload, size_t len)
{
    skt_wframe_reader_t r = {.p = payload, .left = len};
    uint32_t id = skt_wframe_read_u32(&r), status = skt_wframe_read_u32(&r);
    wst_ask_t *a = st->asked.head;
    if (r.bad || !a || a->id != id || status != 0)
        return -1;
    fifo_pop(&st->asked);
    int rv = a->op == SKT_HUB_PRESENT ? wst_answer_ids(a, &r) : wst_answer(a, &r);
    if (rv != 0)
        ask_error(a);
    else
        free(a);
    return rv;
}

void
skt_wst_set_output(skt_wst_t *st, struct bufferevent *bev)
{
    wst_ask_t *a;
    st->bev = bev;
    if (!bev)
        while ((a = fifo_pop(&st->asked)))
            wst_fail_later(st, a);
}

skt_wst_t *
skt_wst_new(struct event_base *base)
{
    skt_wst_t *st = calloc(1, sizeof(*st));
    if (st && !(st->ev_fail = event_new(base, -1, 0, wst_fail_cb, st))) {
        free(st);
        st = NULL;
    }
    return st;
}

void
skt_wst_free(skt_wst_t *st)
{
    wst_ask_t *a;
    if (!st)
        return;
    while ((a = fifo_pop(&st->asked)))
        ask_error(a);
    while ((a = fifo_pop(&st->failed)))
        ask_error(a);
    event_free(st->ev_fail);
    free(st);
}
