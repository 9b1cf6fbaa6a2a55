/* scrape_worker.c - a worker's side of a host-wide GET /metrics (scrape_worker.h). */
#include "workers/scrape_worker.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"
#include "workers/frame.h"

typedef struct ws_wait_s {
    uint32_t id;
    skt_wscrape_cb cb;
    void *arg;
    struct ws_wait_s *next;
} ws_wait_t;

struct skt_wscrape_s {
    struct bufferevent *bev; /* NULL once the supervisor is gone */
    size_t max_frame, max_answer;
    skt_wscrape_render_fn render;
    void *render_arg;
    uint32_t next_id;
    ws_wait_t *waits;
};

/* Removes and returns the wait of id, or NULL. */
static ws_wait_t *
ws_take(skt_wscrape_t *w, uint32_t id)
{
    for (ws_wait_t **p = &w->waits; *p; p = &(*p)->next)
        if ((*p)->id == id) {
            ws_wait_t *t = *p;
            *p = t->next;
            return t;
        }
    return NULL;
}

/* Every wait ends with nothing gathered. */
static void
ws_fail_all(skt_wscrape_t *w)
{
    while (w->waits) {
        ws_wait_t *t = w->waits;
        w->waits = t->next;
        t->cb(t->arg, NULL, 0, -1);
        free(t);
    }
}

/* The supervisor asks for this worker's text with seq. */
static void
ws_answer(skt_wscrape_t *w, uint32_t seq)
{
    char *text = w->render(w->render_arg);
    size_t len = text ? strlen(text) : 0;
    struct evbuffer *body = evbuffer_new();
    if (!text || len + 8 > w->max_frame)
        skt_log(SKT_LOG_WARN, "this worker's metrics (%zu bytes) were not sent for a scrape: %s",
                len, text ? "longer than workersMaxQueueInMb" : "out of memory");
    else if (!body || skt_wframe_add_u32(body, seq) != 0 ||
             skt_wframe_add_str(body, text, len) != 0 ||
             skt_wframe_add_frame(bufferevent_get_output(w->bev), SKT_WFRAME_SCRAPED, body) != 0)
        skt_log(SKT_LOG_ERROR, "out of memory answering a scrape");
    if (body)
        evbuffer_free(body);
    free(text);
}

/* The others' texts for our id. Returns 0, or -1 when malformed. */
static int
ws_gathered(skt_wscrape_t *w, skt_wframe_reader_t *r, uint32_t id)
{
    uint32_t missing = skt_wframe_read_u32(r), n = skt_wframe_read_u32(r);
    if (r->bad || n > r->left / 4)
        return -1;
    char **texts = calloc(n ? n : 1, sizeof(*texts));
    int rc = texts ? 0 : -1;
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        size_t len;
        const char *t = skt_wframe_read_str(r, &len);
        if (!t || !(texts[i] = strndup(t, len)))
            rc = -1;
    }
    ws_wait_t *wait = rc == 0 && !r->left ? ws_take(w, id) : NULL;
    if (wait) {
        wait->cb(wait->arg, (const char *const *)texts, n, (long)missing);
        free(wait);
    }
    for (uint32_t i = 0; texts && i < n; i++)
        free(texts[i]);
    free(texts);
    return rc == 0 && !r->left ? 0 : -1;
}

static int
ws_frame(skt_wscrape_t *w, int kind, const unsigned char *payload, size_t len)
{
    skt_wframe_reader_t r = {.p = payload, .left = len};
    uint32_t v = skt_wframe_read_u32(&r);
    if (r.bad)
        return -1;
    if (kind == SKT_WFRAME_SCRAPE && !r.left) {
        ws_answer(w, v);
        return 0;
    }
    return kind == SKT_WFRAME_SCRAPED ? ws_gathered(w, &r, v) : -1;
}

static void
ws_lost(skt_wscrape_t *w, const char *why)
{
    skt_log(SKT_LOG_ERROR, "%s: /metrics reports this worker alone from now on", why);
    bufferevent_free(w->bev);
    w->bev = NULL;
    ws_fail_all(w);
}

static void
ws_read_cb(struct bufferevent *bev, void *arg)
{
    skt_wscrape_t *w = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    const unsigned char *payload;
    int kind, got;
    size_t len;
    while (w->bev && (got = skt_wframe_next(in, w->max_answer, &kind, &len, &payload)) != 0) {
        if (got < 0 || ws_frame(w, kind, payload, len) != 0) {
            ws_lost(w, "a malformed metrics frame from the supervisor");
            return;
        }
        evbuffer_drain(in, SKT_WFRAME_HEAD + len);
    }
}

static void
ws_event_cb(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        ws_lost(arg, "the supervisor closed the metrics channel");
}

skt_wscrape_t *
skt_wscrape_new(struct event_base *base, int fd, size_t max_frame, size_t max_answer,
                skt_wscrape_render_fn render, void *arg)
{
    skt_wscrape_t *w = calloc(1, sizeof(*w));
    evutil_make_socket_nonblocking(fd);
    if (!w || !(w->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE))) {
        free(w);
        close(fd);
        return NULL;
    }
    w->max_frame = max_frame;
    w->max_answer = max_answer;
    w->render = render;
    w->render_arg = arg;
    bufferevent_setcb(w->bev, ws_read_cb, NULL, ws_event_cb, w);
    bufferevent_enable(w->bev, EV_READ);
    return w;
}

void
skt_wscrape_free(skt_wscrape_t *w)
{
    if (!w)
        return;
    ws_fail_all(w);
    if (w->bev)
        bufferevent_free(w->bev);
    free(w);
}

int
skt_wscrape_gather(skt_wscrape_t *w, skt_wscrape_cb cb, void *arg)
{
    unsigned char frame[SKT_WFRAME_HEAD + 4];
    ws_wait_t *t = w->bev ? calloc(1, sizeof(*t)) : NULL;
    if (!t)
        return -1;
    *t = (ws_wait_t){.id = ++w->next_id, .cb = cb, .arg = arg, .next = w->waits};
    skt_wframe_head(frame, SKT_WFRAME_SCRAPE, 4);
    skt_wframe_put_u32(frame + SKT_WFRAME_HEAD, t->id);
    if (bufferevent_write(w->bev, frame, sizeof(frame)) != 0) {
        free(t);
        return -1;
    }
    w->waits = t;
    return 0;
}
