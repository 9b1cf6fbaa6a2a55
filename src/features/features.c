/* features.c - creates and frees the server's optional services (features.h). */
#include "features/features.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* A size option in MB as bytes, at least 1. */
static size_t
mb_to_bytes(double mb)
{
    double b = mb * 1024 * 1024;
    return b < 1 ? 1 : b > (double)SIZE_MAX / 2 ? SIZE_MAX / 2 : (size_t)b;
}

skt_features_t *
skt_features_new(struct event_base *base, const skt_config_t *cfg,
                 const skt_features_hooks_t *hooks, char *err, size_t errlen)
{
    skt_features_t *f = calloc(1, sizeof(*f));
    if (!f || !(f->rl = skt_rl_new_local(NULL)) || !(f->cache = skt_cache_new_memory(base, NULL)) ||
        !(f->signin_deadlines =
              skt_deadlines_new(base, cfg->user_authentication_timeout, hooks->signin_timeout)) ||
        !(f->watch = skt_watch_new()) ||
        !(f->metrics =
              skt_metrics_new(cfg->metrics.enabled, cfg->metrics.prometheus.prefix, cfg->port))) {
        snprintf(err, errlen, "out of memory");
        skt_features_free(f);
        return NULL;
    }
    f->cache_ttl = cfg->channel_limits.cache_ttl;
    skt_webhooks_opts_t wo = {
        .base = base,
        .sign = hooks->sign,
        .batching = cfg->webhooks.batching.enabled,
        .batch_ms = cfg->webhooks.batching.duration,
        .process_id = cfg->instance.process_id,
        .queue_max = (size_t)cfg->webhooks.max_pending_per_app,
        .app_bytes_max = mb_to_bytes(cfg->webhooks.max_pending_size_per_app_in_mb),
        .total_bytes_max = mb_to_bytes(cfg->webhooks.max_pending_size_in_mb),
        .batch_bytes_max = (size_t)cfg->webhooks.batching.max_size_in_kb * 1024,
    };
    if (!(f->webhooks = skt_webhooks_new(&wo, err, errlen))) {
        skt_features_free(f);
        return NULL;
    }
    skt_webhooks_check_apps(cfg->apps);
    return f;
}

void
skt_features_free(skt_features_t *f)
{
    if (!f)
        return;
    skt_rl_free(f->rl);
    skt_cache_free(f->cache);
    skt_deadlines_free(f->signin_deadlines);
    skt_watch_free(f->watch);
    skt_webhooks_free(f->webhooks);
    skt_metrics_free(f->metrics);
    free(f);
}
