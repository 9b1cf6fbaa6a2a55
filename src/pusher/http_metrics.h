/* http_metrics.h - GET /metrics on the metrics port: this process's metrics, or with
 * `workers` > 1 the host's (the other workers' gathered through the supervisor,
 * workers/scrape.h, and merged: features/metrics_merge.h). */
#ifndef SKT_PUSHER_HTTP_METRICS_H
#define SKT_PUSHER_HTTP_METRICS_H

#include "net/conn.h"

/* Answers GET /metrics on c, maybe later: prom-client's JSON when json is set (this process
 * alone), else the Prometheus text; 500 when out of memory. */
void skt_http_metrics_answer(skt_conn_t *c, int json);

/* The text form of this process's metrics, malloc'd, or NULL; srv is the skt_server_t (the
 * render function main.c hands to workers/scrape_worker.h). */
char *skt_http_metrics_render(void *srv);

#endif
