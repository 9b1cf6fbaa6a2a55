/* http_metrics.c - GET /metrics, for one process or for the host (http_metrics.h).
 *
 * DESIGN
 * With `workers` > 1 (srv->gather_metrics set) a scrape asks the supervisor for the other
 * workers' texts and answers when they come (at most workersRequestsTimeout later: the
 * supervisor bounds the wait), holding a reference to the connection meanwhile. This
 * worker's own text is rendered then, the texts merged (samples summed), and two gauges
 * added: <prefix>workers_answered (the workers in the sums, this one included) and
 * <prefix>workers_missing (those that did not answer in time), labelled {port}.
 */
#include "pusher/http_metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "features/features.h"
#include "features/metrics.h"
#include "features/metrics_merge.h"
#include "pusher/http_reply.h"
#include "pusher/server.h"

#define PROM_TYPE "text/plain; version=0.0.4; charset=utf-8"

typedef struct gather_s {
    skt_conn_t *c;
} gather_t;

char *
skt_http_metrics_render(void *srv)
{
    skt_features_t *f = ((skt_server_t *)srv)->features;
    return skt_metrics_text(f->metrics, f->webhooks);
}

static void
answer_text(skt_conn_t *c, char *text)
{
    skt_server_t *srv = skt_server_of(c);
    if (!text) {
        skt_http_reply_error(c, 500, "A server error has occurred.");
        return;
    }
    skt_conn_http_respond(c, 200, skt_http_reply_cors(srv), PROM_TYPE, text, strlen(text), 0);
    free(text);
}

/* The two gauges of the gather, or NULL without memory. */
static char *
gather_gauges(const skt_config_t *cfg, size_t answered, long missing)
{
    const char *p = cfg->metrics.prometheus.prefix;
    char *out = NULL;
    int n = asprintf(&out,
                     "# HELP %sworkers_answered Workers whose metrics are summed in this scrape.\n"
                     "# TYPE %sworkers_answered gauge\n%sworkers_answered{port=\"%ld\"} %zu\n\n"
                     "# HELP %sworkers_missing Workers that did not answer this scrape in time.\n"
                     "# TYPE %sworkers_missing gauge\n%sworkers_missing{port=\"%ld\"} %ld\n",
                     p, p, p, cfg->port, answered, p, p, p, cfg->port, missing);
    return n < 0 ? NULL : out;
}

/* The host's text: ours, the others' and the gauges, merged. */
static char *
host_text(skt_server_t *srv, const char *const *texts, size_t n, long missing)
{
    if (missing < 0) /* nothing gathered: every other worker is missing */
        missing = srv->cfg->workers.count - 1;
    const char **all = calloc(n + 2, sizeof(*all));
    char *own = skt_http_metrics_render(srv);
    char *gauges = gather_gauges(srv->cfg, n + 1, missing);
    char *out = NULL;
    if (all && own && gauges) {
        all[0] = own;
        for (size_t i = 0; i < n; i++)
            all[i + 1] = texts[i];
        all[n + 1] = gauges;
        out = skt_metrics_merge(all, n + 2);
    }
    free(all);
    free(own);
    free(gauges);
    return out;
}

static void
gathered(void *arg, const char *const *texts, size_t n, long missing)
{
    gather_t *g = arg;
    if (!skt_conn_is_closed(g->c))
        answer_text(g->c, host_text(skt_server_of(g->c), texts, n, missing));
    skt_conn_unref(g->c);
    free(g);
}

void
skt_http_metrics_answer(skt_conn_t *c, int json)
{
    skt_server_t *srv = skt_server_of(c);
    skt_features_t *f = srv->features;
    if (json) {
        skt_http_reply_json(c, 200, skt_metrics_json(f->metrics, f->webhooks));
        return;
    }
    if (!srv->gather_metrics) {
        answer_text(c, skt_metrics_text(f->metrics, f->webhooks));
        return;
    }
    gather_t *g = calloc(1, sizeof(*g));
    if (g) {
        g->c = c;
        skt_conn_ref(c);
        if (srv->gather_metrics(srv->gather_self, gathered, g) == 0)
            return;
        skt_conn_unref(c);
        free(g);
    }
    answer_text(c, host_text(srv, NULL, 0, -1));
}
