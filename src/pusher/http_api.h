/* http_api.h - the HTTP side of the port: routing, the Pusher REST API, health, upgrades. */
#ifndef SKT_PUSHER_HTTP_API_H
#define SKT_PUSHER_HTTP_API_H

#include "net/conn.h"

/* net handler: routes one complete request and answers it (maybe later). */
void skt_http_on_request(skt_conn_t *c, const skt_http_req_t *req, char *body, size_t body_len);

/* net handler of the metrics port: /, /ready, /usage. */
void skt_http_on_metrics_request(skt_conn_t *c, const skt_http_req_t *req, char *body,
                                 size_t body_len);

#endif
