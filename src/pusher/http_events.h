/* http_events.h - the HTTP API's writes: POST /apps/:id/events and /batch_events.
 *
 * Bodies, checks and messages follow soketi 1.6 (src/http-handler.ts events,
 * batchEvents, checkMessageToBroadcast, broadcastMessage): the body must be an event (or
 * {"batch": [events]}); each event is checked (name, data, channels, sizes), counted
 * against the app's maxBackendEventsPerSecond (one point per channel), then broadcast
 * through the adapter to every channel it names and, on cache channels, kept for the
 * next subscriber (pusher/cached.h).
 */
#ifndef SKT_PUSHER_HTTP_EVENTS_H
#define SKT_PUSHER_HTTP_EVENTS_H

#include <stddef.h>

#include "config/apps.h"
#include "net/conn.h"

/* An authorized events request of app on c with its body (read during the call only).
 * Answers on c, now or once the rate limiter has: {"ok":true}, 400, 413 or 429. */
void skt_http_events(skt_conn_t *c, const skt_app_t *app, const char *body, size_t body_len,
                     int batch);

#endif
