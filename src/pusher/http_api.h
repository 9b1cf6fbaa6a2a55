/* http_api.h - the HTTP side of the port: routing, the Pusher REST API, health, upgrades. */
#ifndef SKT_PUSHER_HTTP_API_H
#define SKT_PUSHER_HTTP_API_H

#include "net/conn.h"

/* net handler: routes one complete request and answers it (maybe later). */
void skt_http_on_request(skt_conn_t *c, const skt_http_req_t *req, char *body, size_t body_len);

/* net handler: a request head announcing a body. Answers now, and returns 1, a request for
 * no route, or for an HTTP API route of an unknown app or with a bad signature (everything
 * but the body's md5 is checked from the head), so that an unsigned request never gets
 * its body buffered. 0: read the body, skt_http_on_request follows. */
int skt_http_on_request_head(skt_conn_t *c, const skt_http_req_t *req);

/* net handler of the metrics port: /, /ready, /usage. */
void skt_http_on_metrics_request(skt_conn_t *c, const skt_http_req_t *req, char *body,
                                 size_t body_len);

#endif
