/* features.h - the optional services around the protocol: rate limits, cache channels,
 * sign-in deadlines, watchlists, webhooks, metrics, created once per server.
 *
 * DESIGN
 * Everything under src/features/ is a self-contained engine that knows
 * nothing of sockets or the Pusher protocol: the protocol code (src/pusher/)
 * decides when to call it. Each engine sits behind a driver interface where
 * soketi has one, so a driver that shares state across nodes (Redis) can
 * replace the local one.
 * The server owns one skt_features_t (skt_server_t.features), created after
 * the configuration is loaded and freed after the last connection closed.
 */
#ifndef SKT_FEATURES_FEATURES_H
#define SKT_FEATURES_FEATURES_H

#include <event2/event.h>
#include <stddef.h>

#include "config/config.h"
#include "features/cache.h"
#include "features/deadline.h"
#include "features/metrics.h"
#include "features/ratelimit.h"
#include "features/watchlist.h"
#include "features/webhooks.h"

typedef struct skt_features_s {
    skt_rl_t *rl;                      /* rateLimiter.driver (local) */
    skt_cache_t *cache;                /* cache.driver (memory): cache channels */
    long cache_ttl;                    /* channelLimits.cacheTtl, seconds */
    skt_deadlines_t *signin_deadlines; /* userAuthenticationTimeout */
    skt_watch_t *watch;                /* watchlists of signed-in users */
    skt_webhooks_t *webhooks;          /* apps' webhooks */
    skt_metrics_t *metrics;            /* metrics.enabled: Prometheus counters */
} skt_features_t;

/* What the protocol layer plugs in. */
typedef struct skt_features_hooks_s {
    /* A connection of an app that requires sign-in did not sign in within
     * userAuthenticationTimeout; owner is what skt_deadline_start() got. */
    skt_deadline_fn signin_timeout;
    /* Signs webhook bodies (pusher/sig.h's skt_sig_hmac_sha256_hex). */
    skt_wh_sign_fn sign;
} skt_features_hooks_t;

/* Creates every feature for cfg on base (cfg is only read during the call).
 * Returns NULL with a message in err. */
skt_features_t *skt_features_new(struct event_base *base, const skt_config_t *cfg,
                                 const skt_features_hooks_t *hooks, char *err, size_t errlen);

/* Frees them all. NULL is a no-op. */
void skt_features_free(skt_features_t *f);

#endif
