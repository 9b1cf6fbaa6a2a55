/* horizontal_internal.h - the horizontal layer's state, shared by its files (private to
 * libskt_horizontal): horizontal.c (the adapter ops, our queries and the responses to
 * them, lifetime) and horizontal_peers.c (the peers' broadcasts and requests).
 *
 * Everything runs on the host's event loop thread.
 */
#ifndef SKT_REDIS_HORIZONTAL_INTERNAL_H
#define SKT_REDIS_HORIZONTAL_INTERNAL_H

#include "horizontal.h"

#include <event2/event.h>
#include <stddef.h>
#include <stdint.h>

#include "util/map.h"

/* Requests of ours that completed before their own copy came back, remembered so that the
 * copy is not taken for a peer's request (a lone node completes on NUMSUB's answer, which
 * can beat the copy to us). */
#define SKT_HZ_RECENT 64

/* The layer: the adapter's self. */
struct skt_hz_s {
    const soketi_host_t *host;
    void (*metric)(const char *app_id, int what, double value); /* NULL: the host has none */
    skt_hz_transport_t tr;
    long timeout_ms;
    char *name;
    skt_map_t *pending; /* requestId -> skt_hz_req_t */
    skt_hz_req_t *head, *tail;
    struct event *timer;
    skt_rc_buf_t scratch; /* broadcast encoding, reused */
    int closing;
    char recent[SKT_HZ_RECENT][40]; /* ring of requestIds, "" when free */
    unsigned recent_next;
    uint64_t last_warn_ms;
    unsigned long quiet_drops; /* malformed messages logged at debug since the last warning */
};

/* Logs through the host with the adapter's name in front. */
#define skt_hz_log(hz, level, ...) skt_hz_logf((hz)->host, (hz)->name, (level), __VA_ARGS__)

/* ---- horizontal.c ------------------------------------------------------------------- */

/* Records a metric (SOKETI_METRIC_*) when the host takes them. */
void skt_hz_metric(const skt_hz_t *hz, const char *app_id, int what, double value);

/* 1 when request_id is one of our requests, come back on the request channel: pending
 * (marked as come back) or completed before its copy came back (forgotten now), else 0. */
int skt_hz_own_request(skt_hz_t *hz, const char *request_id);

/* A message on the response channel (len bytes, not NUL-terminated): merged into the
 * pending request it answers, if any; malformed ones are dropped. */
void skt_hz_on_response(skt_hz_t *hz, const char *data, size_t len);

/* ---- horizontal_peers.c ------------------------------------------------------------- */

/* Reports a malformed message dropped from channel (enum skt_hz_channel), with why and
 * an excerpt of data (len bytes). */
void skt_hz_dropped(skt_hz_t *hz, int channel, const char *data, size_t len, const char *why);

#endif
