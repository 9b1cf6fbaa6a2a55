/* nats_req.c - requests and replies on the loop without blocking. See nats_req.h.
 *
 * DESIGN
 * A request lives in a map by id (to find it when a reply comes) and in a list (to end
 * them all when the connection goes down), with a timer of its own (timeouts differ: a
 * key-value call, a node count). It is taken out of both before its last callback runs, so
 * the callback may do anything; a multi request stays in them while its callbacks run and
 * is looked up again after each, in case the callback cancelled it.
 */
#include "nats_req.h"

#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nats_loop.h"
#include "util/map.h"

typedef struct nr_req_s nr_req_t;
struct nr_req_s {
    skt_nr_t *r;
    nr_req_t *prev, *next;
    char id[24]; /* decimal: the last token of the reply subject */
    uint64_t num;
    int multi;
    skt_nr_cb cb;
    void *arg;
    struct event *timer;
};

struct skt_nr_s {
    const soketi_host_t *host;
    skt_nc_t *conn;
    char *inbox;
    skt_map_t *pending; /* id -> nr_req_t */
    nr_req_t *head;
    size_t n;
    uint64_t next_id;
};

/* Takes req out of the map and the list and frees it; its callback is the caller's. */
static void
nr_unlink(nr_req_t *req)
{
    skt_nr_t *r = req->r;
    skt_map_del(r->pending, req->id, strlen(req->id));
    if (req->prev)
        req->prev->next = req->next;
    else
        r->head = req->next;
    if (req->next)
        req->next->prev = req->prev;
    r->n--;
    event_free(req->timer);
    free(req);
}

/* Ends req with its last callback (NULL: no reply). */
static void
nr_end(nr_req_t *req)
{
    skt_nr_cb cb = req->cb;
    void *arg = req->arg;
    nr_unlink(req);
    cb(arg, NULL);
}

/* A request's time is up: its callback hears NULL. */
static void
nr_on_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    nr_end(arg);
}

/* A message for subject with reply (NULL: none) and headers; NULL when out of memory. */
static natsMsg *
nr_msg(const char *subject, const char *reply, const char *const *headers, const char *data,
       size_t len)
{
    natsMsg *msg = NULL;
    natsStatus s = natsMsg_Create(&msg, subject, reply, data, (int)len);
    for (const char *const *h = headers; s == NATS_OK && h && h[0]; h += 2)
        s = natsMsgHeader_Set(msg, h[0], h[1]);
    if (s == NATS_OK)
        return msg;
    natsMsg_Destroy(msg);
    return NULL;
}

int
skt_nr_publish(skt_nr_t *r, const char *subject, const char *const *headers, const char *data,
               size_t len)
{
    natsMsg *msg = nr_msg(subject, NULL, headers, data, len);
    int rv = msg ? skt_nc_publish_msg(r->conn, msg) : -1;
    natsMsg_Destroy(msg);
    return rv;
}

int
skt_nr_request(skt_nr_t *r, const char *subject, const char *const *headers, const char *data,
               size_t len, long timeout_ms, int multi, skt_nr_cb cb, void *arg, uint64_t *id)
{
    if (r->n >= SKT_NR_MAX_PENDING || !skt_nc_up(r->conn))
        return -1;
    nr_req_t *req = calloc(1, sizeof(*req));
    if (!req)
        return -1;
    req->r = r;
    req->num = ++r->next_id;
    snprintf(req->id, sizeof(req->id), "%" PRIu64, req->num);
    req->multi = multi;
    req->cb = cb;
    req->arg = arg;
    req->timer = evtimer_new(r->host->base, nr_on_timeout, req);
    char reply[128];
    int n = snprintf(reply, sizeof(reply), "%s.%s", r->inbox, req->id);
    natsMsg *msg = req->timer && n > 0 && (size_t)n < sizeof(reply)
                       ? nr_msg(subject, reply, headers, data, len)
                       : NULL;
    if (!msg || skt_map_put(r->pending, req->id, strlen(req->id), req) != 0) {
        natsMsg_Destroy(msg);
        if (req->timer)
            event_free(req->timer);
        free(req);
        return -1;
    }
    req->next = r->head;
    if (r->head)
        r->head->prev = req;
    r->head = req;
    r->n++;
    int rv = skt_nc_publish_msg(r->conn, msg);
    natsMsg_Destroy(msg);
    if (rv != 0) {
        nr_unlink(req);
        return -1;
    }
    skt_nl_arm(req->timer, timeout_ms);
    if (id)
        *id = req->num;
    return 0;
}

void
skt_nr_cancel(skt_nr_t *r, uint64_t id)
{
    char key[24];
    snprintf(key, sizeof(key), "%" PRIu64, id);
    nr_req_t *req = skt_map_get(r->pending, key, strlen(key));
    if (req)
        nr_unlink(req);
}

void
skt_nr_on_reply(skt_nr_t *r, natsMsg *msg)
{
    const char *subject = natsMsg_GetSubject(msg);
    const char *dot = subject ? strrchr(subject, '.') : NULL;
    nr_req_t *req = dot ? skt_map_get(r->pending, dot + 1, strlen(dot + 1)) : NULL;
    if (!req)
        return; /* timed out or cancelled: a late reply */
    skt_nr_cb cb = req->cb;
    void *arg = req->arg;
    if (!req->multi)
        nr_unlink(req);
    cb(arg, msg);
}

void
skt_nr_fail_all(skt_nr_t *r)
{
    /* the callbacks may start new requests: end only those there now */
    nr_req_t *list = r->head;
    size_t n = 0;
    for (nr_req_t *q = list; q; q = q->next)
        n++;
    uint64_t *ids = n ? malloc(n * sizeof(*ids)) : NULL;
    size_t k = 0;
    for (nr_req_t *q = list; ids && q; q = q->next)
        ids[k++] = q->num;
    for (size_t i = 0; i < k; i++) {
        char key[24];
        snprintf(key, sizeof(key), "%" PRIu64, ids[i]);
        nr_req_t *req = skt_map_get(r->pending, key, strlen(key));
        if (req)
            nr_end(req);
    }
    free(ids);
    /* out of memory for the ids: end them from the head (a new one may be ended too) */
    while (!ids && n-- > 0 && r->head)
        nr_end(r->head);
}

skt_nr_t *
skt_nr_new(const soketi_host_t *host, skt_nc_t *conn, const char *inbox)
{
    skt_nr_t *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->host = host;
    r->conn = conn;
    r->inbox = strdup(inbox);
    r->pending = skt_map_new();
    if (!r->inbox || !r->pending) {
        skt_nr_free(r);
        return NULL;
    }
    return r;
}

void
skt_nr_free(skt_nr_t *r)
{
    if (!r)
        return;
    if (r->pending)
        while (r->head)
            nr_end(r->head);
    skt_map_free(r->pending);
    free(r->inbox);
    free(r);
}

char *
skt_nr_new_inbox(void)
{
    natsInbox *inbox = NULL;
    if (natsInbox_Create(&inbox) != NATS_OK)
        return NULL;
    char *s = strdup(inbox);
    natsInbox_Destroy(inbox);
    return s;
}

int
skt_nr_status(natsMsg *msg)
{
    const char *v = NULL;
    if (natsMsgHeader_Get(msg, "Status", &v) != NATS_OK || !v)
        return 0;
    return atoi(v);
}
