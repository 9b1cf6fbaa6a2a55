/* scrape.c - the supervisor's side of a host-wide GET /metrics (scrape.h). */
#include "workers/scrape.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "util/log.h"
#include "workers/frame.h"

typedef struct scr_link_s {
    skt_scrape_t *s;
    size_t index;
    struct bufferevent *bev; /* NULL: no worker attached */
} scr_link_t;

typedef struct scr_gather_s {
    skt_scrape_t *s;
    uint32_t seq;   /* what the others are asked with */
    uint32_t id;    /* what the asker asked with */
    size_t asker;   /* its index */
    size_t waiting; /* workers still to answer; the rest of n - 1 not in texts are missing */
    uint32_t got;   /* texts in texts */
    char *pending;  /* per worker: 1 while its answer is awaited */
    struct evbuffer *texts;
    struct event *timer;
    struct scr_gather_s *next;
} scr_gather_t;

struct skt_scrape_s {
    struct event_base *base;
    scr_link_t *links;
    size_t n;
    struct timeval timeout;
    size_t max_frame;
    uint32_t seq;
    size_t in_flight;
    scr_gather_t *gathers;
};

static void
scr_gather_free(scr_gather_t *g)
{
    scr_gather_t **p = &g->s->gathers;
    while (*p != g)
        p = &(*p)->next;
    *p = g->next;
    g->s->in_flight--;
    if (g->timer)
        event_free(g->timer);
    if (g->texts)
        evbuffer_free(g->texts);
    free(g->pending);
    free(g);
}

/* Sends the asker what was gathered (or with g NULL: nothing, every other one missing). */
static void
scr_answer(skt_scrape_t *s, size_t asker, uint32_t id, scr_gather_t *g)
{
    struct bufferevent *bev = s->links[asker].bev;
    struct evbuffer *body = evbuffer_new();
    uint32_t got = g ? g->got : 0, missing = (uint32_t)(s->n - 1) - got;
    if (body && bev &&
        (skt_wframe_add_u32(body, id) != 0 || skt_wframe_add_u32(body, missing) != 0 ||
         skt_wframe_add_u32(body, got) != 0 || (g && evbuffer_add_buffer(body, g->texts) != 0) ||
         skt_wframe_add_frame(bufferevent_get_output(bev), SKT_WFRAME_SCRAPED, body) != 0))
        skt_log(SKT_LOG_ERROR, "worker %zu: out of memory answering its scrape", asker + 1);
    if (body)
        evbuffer_free(body);
}

static void
scr_finish(scr_gather_t *g)
{
    scr_answer(g->s, g->asker, g->id, g);
    scr_gather_free(g);
}

static void
scr_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    scr_finish(arg);
}

/* Sends SCRAPE with number v to link l. Returns 0 or -1. */
static int
scr_ask(scr_link_t *l, uint32_t v)
{
    unsigned char frame[SKT_WFRAME_HEAD + 4];
    skt_wframe_head(frame, SKT_WFRAME_SCRAPE, 4);
    skt_wframe_put_u32(frame + SKT_WFRAME_HEAD, v);
    return bufferevent_write(l->bev, frame, sizeof(frame));
}

/* Worker asker asks for the others' texts with id. */
static void
scr_start(skt_scrape_t *s, size_t asker, uint32_t id)
{
    scr_gather_t *g = s->in_flight < SKT_SCRAPE_MAX_GATHERS ? calloc(1, sizeof(*g)) : NULL;
    if (!g || !(g->pending = calloc(s->n, 1)) || !(g->texts = evbuffer_new()) ||
        !(g->timer = evtimer_new(s->base, scr_timeout_cb, g))) {
        if (g) {
            if (g->texts)
                evbuffer_free(g->texts);
            free(g->pending);
            free(g);
        }
        scr_answer(s, asker, id, NULL);
        return;
    }
    g->s = s;
    g->seq = ++s->seq;
    g->id = id;
    g->asker = asker;
    g->next = s->gathers;
    s->gathers = g;
    s->in_flight++;
    for (size_t i = 0; i < s->n; i++)
        if (i != asker && s->links[i].bev && scr_ask(&s->links[i], g->seq) == 0) {
            g->pending[i] = 1;
            g->waiting++;
        }
    /* those not attached now are missing from the start */
    if (!g->waiting) {
        scr_finish(g);
        return;
    }
    evtimer_add(g->timer, &s->timeout);
}

/* Worker index answered gather seq with text. */
static void
scr_got(skt_scrape_t *s, size_t index, uint32_t seq, const char *text, size_t len)
{
    scr_gather_t *g = s->gathers;
    while (g && g->seq != seq)
        g = g->next;
    if (!g || !g->pending[index])
        return; /* too late: it was answered without this one */
    g->pending[index] = 0;
    g->waiting--;
    if (skt_wframe_add_str(g->texts, text, len) == 0)
        g->got++;
    if (!g->waiting)
        scr_finish(g);
}

/* One frame of worker l. Returns 0, or -1 when it is malformed. */
static int
scr_frame(scr_link_t *l, int kind, const unsigned char *payload, size_t len)
{
    skt_wframe_reader_t r = {.p = payload, .left = len};
    uint32_t v = skt_wframe_read_u32(&r);
    if (kind == SKT_WFRAME_SCRAPE && !r.bad && !r.left) {
        scr_start(l->s, l->index, v);
        return 0;
    }
    size_t tlen;
    const char *text = kind == SKT_WFRAME_SCRAPED ? skt_wframe_read_str(&r, &tlen) : NULL;
    if (!text || r.bad || r.left)
        return -1;
    scr_got(l->s, l->index, v, text, tlen);
    return 0;
}

static void
scr_read_cb(struct bufferevent *bev, void *arg)
{
    scr_link_t *l = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    const unsigned char *payload;
    int kind, got;
    size_t len;
    while (l->bev && (got = skt_wframe_next(in, l->s->max_frame, &kind, &len, &payload)) != 0) {
        if (got < 0 || (kind != SKT_WFRAME_SCRAPE && kind != SKT_WFRAME_SCRAPED) ||
            scr_frame(l, kind, payload, len) != 0) {
            skt_log(SKT_LOG_ERROR, "worker %zu sent a malformed metrics frame: detached",
                    l->index + 1);
            skt_scrape_detach(l->s, l->index);
            return;
        }
        evbuffer_drain(in, SKT_WFRAME_HEAD + len);
    }
}

static void
scr_event_cb(struct bufferevent *bev, short what, void *arg)
{
    scr_link_t *l = arg;
    (void)bev;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        skt_scrape_detach(l->s, l->index);
}

skt_scrape_t *
skt_scrape_new(struct event_base *base, size_t n, long timeout_ms, size_t max_frame)
{
    skt_scrape_t *s = calloc(1, sizeof(*s));
    if (!s || !(s->links = calloc(n, sizeof(*s->links)))) {
        free(s);
        return NULL;
    }
    s->base = base;
    s->n = n;
    s->timeout = (struct timeval){timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    s->max_frame = max_frame;
    for (size_t i = 0; i < n; i++)
        s->links[i] = (scr_link_t){.s = s, .index = i};
    return s;
}

void
skt_scrape_free(skt_scrape_t *s)
{
    if (!s)
        return;
    while (s->gathers)
        scr_gather_free(s->gathers);
    for (size_t i = 0; i < s->n; i++)
        if (s->links[i].bev)
            bufferevent_free(s->links[i].bev);
    free(s->links);
    free(s);
}

int
skt_scrape_attach(skt_scrape_t *s, size_t index, int fd)
{
    scr_link_t *l = &s->links[index];
    skt_scrape_detach(s, index);
    evutil_make_socket_nonblocking(fd);
    if (!(l->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE))) {
        close(fd);
        return -1;
    }
    bufferevent_setcb(l->bev, scr_read_cb, NULL, scr_event_cb, l);
    bufferevent_enable(l->bev, EV_READ);
    return 0;
}

void
skt_scrape_detach(skt_scrape_t *s, size_t index)
{
    scr_link_t *l = &s->links[index];
    if (!l->bev)
        return;
    bufferevent_free(l->bev);
    l->bev = NULL;
    for (scr_gather_t *g = s->gathers, *next; g; g = next) {
        next = g->next;
        if (g->asker == index) {
            scr_gather_free(g);
        } else if (g->pending[index]) {
            g->pending[index] = 0;
            if (--g->waiting == 0)
                scr_finish(g);
        }
    }
}
