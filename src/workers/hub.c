/* hub.c - the supervisor's relay between workers (hub.h). */
#include "workers/hub.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "features/clock.h"
#include "util/log.h"
#include "workers/frame.h"
#include "workers/hub_store.h"

typedef struct hub_slot_s {
    skt_hub_t *hub;
    size_t index;
    struct bufferevent *bev; /* NULL: no worker attached */
} hub_slot_t;

struct skt_hub_s {
    struct event_base *base;
    hub_slot_t *slots;
    size_t n_slots;
    size_t max_frame, max_queue;
    skt_hub_store_t *store;
    uint64_t dropped;
    uint64_t dropped_logged; /* dropped when the last line was written */
    time_t logged_at;
};

/* Tells every attached worker how many are attached. */
static void
hub_announce(skt_hub_t *hub)
{
    unsigned char frame[SKT_WFRAME_HEAD + 4];
    uint32_t n = 0;
    for (size_t i = 0; i < hub->n_slots; i++)
        n += hub->slots[i].bev != NULL;
    skt_wframe_head(frame, SKT_WFRAME_NODES, 4);
    skt_wframe_put_u32(frame + SKT_WFRAME_HEAD, n);
    for (size_t i = 0; i < hub->n_slots; i++)
        if (hub->slots[i].bev)
            bufferevent_write(hub->slots[i].bev, frame, sizeof(frame));
}

/* One frame could not be queued for a worker: counted, a line at most once a second. */
static void
hub_drop(skt_hub_t *hub, size_t slot)
{
    time_t now = time(NULL);
    hub->dropped++;
    if (now != hub->logged_at) {
        skt_log(SKT_LOG_WARN,
                "worker %zu reads too slowly: %llu message(s) between workers dropped "
                "(workersMaxQueueInMb)",
                slot + 1, (unsigned long long)(hub->dropped - hub->dropped_logged));
        hub->logged_at = now;
        hub->dropped_logged = hub->dropped;
    }
}

/* Copies one frame (head and payload, len bytes at data) to every worker but from. */
static void
hub_relay(skt_hub_t *hub, size_t from, const unsigned char *data, size_t len)
{
    for (size_t i = 0; i < hub->n_slots; i++) {
        struct bufferevent *to = hub->slots[i].bev;
        if (i == from || !to)
            continue;
        if (evbuffer_get_length(bufferevent_get_output(to)) + len > hub->max_queue ||
            bufferevent_write(to, data, len) != 0)
            hub_drop(hub, i);
    }
}

/* Answers a worker's question to the shared state (hub_store.h) on its own socket.
 * Returns -1 when the question is malformed. */
static int
hub_store_answer(skt_hub_t *hub, hub_slot_t *s, const unsigned char *q, size_t len)
{
    struct evbuffer *answer = evbuffer_new();
    int rv =
        answer ? skt_hub_store_answer(hub->store, s->index, q, len, skt_clock_ms(), answer) : -1;
    if (rv == 0 && evbuffer_get_length(answer))
        skt_wframe_add_frame(bufferevent_get_output(s->bev), SKT_WFRAME_STORED, answer);
    if (answer)
        evbuffer_free(answer);
    return rv;
}

/* Relays every complete frame. A malformed one detaches its worker from inside this
 * callback: libevent defers freeing a bufferevent that is in one of its callbacks. */
static void
hub_read_cb(struct bufferevent *bev, void *arg)
{
    hub_slot_t *s = arg;
    skt_hub_t *hub = s->hub;
    struct evbuffer *in = bufferevent_get_input(bev);
    const unsigned char *payload;
    int kind, got;
    size_t len;
    while ((got = skt_wframe_next(in, hub->max_frame, &kind, &len, &payload)) != 0) {
        if (got < 0 || kind == SKT_WFRAME_NODES || kind == SKT_WFRAME_STORED ||
            kind == SKT_WFRAME_LOST || kind >= SKT_WFRAME_SCRAPE) {
            skt_log(SKT_LOG_ERROR, "worker %zu sent a malformed frame: detached", s->index + 1);
            skt_hub_detach(hub, s->index);
            return;
        }
        if (kind == SKT_WFRAME_STORE && hub_store_answer(hub, s, payload, len) != 0) {
            skt_log(SKT_LOG_ERROR, "worker %zu sent a malformed question: detached", s->index + 1);
            skt_hub_detach(hub, s->index);
            return;
        }
        if (kind != SKT_WFRAME_STORE)
            hub_relay(hub, s->index, payload - SKT_WFRAME_HEAD, SKT_WFRAME_HEAD + len);
        evbuffer_drain(in, SKT_WFRAME_HEAD + len);
    }
}

static void
hub_event_cb(struct bufferevent *bev, short what, void *arg)
{
    hub_slot_t *s = arg;
    (void)bev;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        skt_hub_detach(s->hub, s->index);
}

skt_hub_t *
skt_hub_new(struct event_base *base, size_t n_slots, size_t max_frame, size_t max_queue)
{
    skt_hub_t *hub = calloc(1, sizeof(*hub));
    if (!hub || !(hub->slots = calloc(n_slots, sizeof(*hub->slots))) ||
        !(hub->store = skt_hub_store_new(base, n_slots))) {
        if (hub)
            free(hub->slots);
        free(hub);
        return NULL;
    }
    hub->base = base;
    hub->n_slots = n_slots;
    hub->max_frame = max_frame;
    hub->max_queue = max_queue;
    for (size_t i = 0; i < n_slots; i++)
        hub->slots[i] = (hub_slot_t){.hub = hub, .index = i};
    return hub;
}

int
skt_hub_attach(skt_hub_t *hub, size_t slot, int fd)
{
    hub_slot_t *s = &hub->slots[slot];
    if (s->bev)
        skt_hub_detach(hub, slot);
    evutil_make_socket_nonblocking(fd);
    s->bev = bufferevent_socket_new(hub->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!s->bev) {
        close(fd);
        return -1;
    }
    bufferevent_setcb(s->bev, hub_read_cb, NULL, hub_event_cb, s);
    bufferevent_enable(s->bev, EV_READ);
    hub_announce(hub);
    return 0;
}

/* One LOST frame (entry: e_len bytes) to every attached worker; the first is to fire the
 * webhooks. */
static void
hub_send_lost(skt_hub_t *hub, const char *e, size_t e_len)
{
    int fire = 1;
    for (size_t i = 0; i < hub->n_slots; i++) {
        struct bufferevent *to = hub->slots[i].bev;
        struct evbuffer *body = to ? evbuffer_new() : NULL;
        if (!body)
            continue;
        if (4 + e_len > hub->max_frame || /* the worker would take it for a broken frame */
            evbuffer_get_length(bufferevent_get_output(to)) + SKT_WFRAME_HEAD + 4 + e_len >
                hub->max_queue ||
            skt_wframe_add_u32(body, (uint32_t)fire) != 0 || evbuffer_add(body, e, e_len) != 0 ||
            skt_wframe_add_frame(bufferevent_get_output(to), SKT_WFRAME_LOST, body) != 0)
            hub_drop(hub, i);
        else
            fire = 0;
        evbuffer_free(body);
    }
}

void
skt_hub_detach(skt_hub_t *hub, size_t slot)
{
    hub_slot_t *s = &hub->slots[slot];
    if (!s->bev)
        return;
    bufferevent_free(s->bev);
    s->bev = NULL;
    struct evbuffer *lost = evbuffer_new();
    skt_hub_store_forget(hub->store, slot, lost);
    hub_announce(hub);
    size_t n = lost ? evbuffer_get_length(lost) : 0;
    skt_wframe_reader_t r = {.p = n ? evbuffer_pullup(lost, -1) : NULL, .left = n};
    while (r.p && r.left && !r.bad) {
        size_t e_len;
        const char *e = skt_wframe_read_str(&r, &e_len);
        if (e)
            hub_send_lost(hub, e, e_len);
    }
    if (lost)
        evbuffer_free(lost);
}

uint64_t
skt_hub_dropped(const skt_hub_t *hub)
{
    return hub->dropped;
}

void
skt_hub_free(skt_hub_t *hub)
{
    if (!hub)
        return;
    for (size_t i = 0; i < hub->n_slots; i++)
        if (hub->slots[i].bev)
            bufferevent_free(hub->slots[i].bev);
    skt_hub_store_free(hub->store);
    free(hub->slots);
    free(hub);
}
