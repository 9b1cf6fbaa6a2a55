/* horizontal_internal.h - what horizontal.c offers the layer's files above it (private to
 * libskt_horizontal): asking the cluster a query (horizontal_ops.c), and recognising our
 * own requests and the responses to them among the peers' messages (horizontal_peers.c).
 * The state they share is horizontal_core.h's skt_hz_t.
 *
 * Everything runs on the host's event loop thread.
 */
#ifndef SKT_REDIS_HORIZONTAL_INTERNAL_H
#define SKT_REDIS_HORIZONTAL_INTERNAL_H

#include "horizontal.h"

#include <stddef.h>

#include "horizontal_answer.h"

/* ---- horizontal.c ------------------------------------------------------------------- */

/* Asks the cluster q for the caller cb: joins an identical query in flight (same type,
 * app and options), or sends one within the app's adapter.maxRequestsPerSecondPerApp, or
 * answers cb from this node alone (SOKETI_PARTIAL) when over it or when the transport is
 * down. cb is called exactly once, maybe before this returns. */
void skt_hz_query(skt_hz_t *hz, const skt_hz_cb_t *cb, const skt_hz_query_t *q);

/* 1 when request_id is one of our requests, come back on the request channel: pending
 * (marked as come back) or completed before its copy came back (forgotten now), else 0. */
int skt_hz_own_request(skt_hz_t *hz, const char *request_id);

/* A message on the response channel (len bytes, not NUL-terminated): merged into the
 * pending request it answers, if any; malformed ones are dropped. */
void skt_hz_on_response(skt_hz_t *hz, const char *data, size_t len);

/* 1 when a response (len bytes) may answer one of our pending requests, and so is worth
 * parsing: 0 when its id, read without parsing, is none of them. */
int skt_hz_response_wanted(const skt_hz_t *hz, const char *data, size_t len);

#endif
