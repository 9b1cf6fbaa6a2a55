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
    int op; /* SKT_HUB_TRANSITION | SKT_HUB_PRESENT */
    soketi_count_cb count_cb;
    soketi_ids_cb ids_cb;
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
    if (a->op == SKT_HUB_TRANSITION)
        a->count_cb(a->arg, SOKETI_ERROR, 0);
    else
        a->ids_cb(a->arg, SOKETI_ERROR, NULL, 0);
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

/* Sends a's question: the head (id, op, app, channel) and what body holds after it. */
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
    if (rv == 0)
        fifo_push(&st->asked, a);
    else
        wst_fail_later(st, a);
}

void
skt_wst_transition(skt_wst_t *st, const char *app_id, const char *channel, const char *user_id,
                   int joined, soketi_count_cb cb, void *arg)
{
    wst_ask_t *a = calloc(1, sizeof(*a));
    struct evbuffer *body = evbuffer_new();
    if (!a || !body) {
        free(a);
        if (body)
            evbuffer_free(body);
        cb(arg, SOKETI_ERROR, 0); /* out of memory: nothing can be deferred either */
        return;
    }
    *a = (wst_ask_t){.op = SKT_HUB_TRANSITION, .count_cb = cb, .arg = arg};
    skt_wframe_add_u32(body, joined ? 1 : 0);
    skt_wframe_add_u32(body, user_id ? 1 : 0);
    if (user_id)
        skt_wframe_add_str(body, user_id, strlen(user_id));
    wst_send(st, a, app_id, channel, body);
    evbuffer_free(body);
}

void
skt_wst_present(skt_wst_t *st, const char *app_id, const char *channel, const char *const *user_ids,
                size_t n, soketi_ids_cb cb, void *arg)
{
    wst_ask_t *a = calloc(1, sizeof(*a));
    struct evbuffer *body = evbuffer_new();
    if (!a || !body) {
        free(a);
        if (body)
            evbuffer_free(body);
        cb(arg, SOKETI_ERROR, NULL, 0);
        return;
    }
    *a = (wst_ask_t){.op = SKT_HUB_PRESENT, .ids_cb = cb, .arg = arg};
    skt_wframe_add_u32(body, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        skt_wframe_add_str(body, user_ids[i], strlen(user_ids[i]));
    wst_send(st, a, app_id, channel, body);
    evbuffer_free(body);
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

int
skt_wst_on_answer(skt_wst_t *st, const unsigned char *payload, size_t len)
{
    skt_wframe_reader_t r = {.p = payload, .left = len};
    uint32_t id = skt_wframe_read_u32(&r), status = skt_wframe_read_u32(&r);
    wst_ask_t *a = st->asked.head;
    if (r.bad || !a || a->id != id || status != 0)
        return -1;
    fifo_pop(&st->asked);
    int rv = 0;
    if (a->op == SKT_HUB_TRANSITION) {
        uint32_t count = skt_wframe_read_u32(&r);
        if (r.bad)
            rv = -1;
        else
            a->count_cb(a->arg, SOKETI_OK, (long)count);
    } else {
        rv = wst_answer_ids(a, &r);
    }
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
