/* horizontal_limits.c - what peers may cost this node, and what its own queries may cost
 * them: the adapter.* limits, token buckets, and the report of every message dropped.
 *
 * DESIGN
 * Rates are token buckets holding at most one second's worth, refilled continuously from
 * the monotonic clock: a burst of one second's budget passes at once, then the rate. A
 * bucket may go into debt (the answer-bytes budget is charged what an answer really took,
 * after it was written), which later refills repay before anything passes again.
 * Buckets kept by key (a peer's node id, an app id) live in a map that is emptied when it
 * reaches its bound: whoever sends under ever new keys gets fresh buckets, never memory,
 * and the totals (which have no key) still hold.
 *
 * Drops are counted (host->metric MESSAGE_DROPPED) one by one and logged at most once per
 * SKT_HZ_DROP_LOG_INTERVAL_MS per reason, the line saying how many were kept quiet since
 * the previous one: a flood costs a counter increment per message, not a log line.
 */
#include "horizontal_limits.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* How much of a dropped message a log line shows. */
#define HZ_LOG_EXCERPT 120

static const char *const hz_channel_names[] = {"broadcast", "request", "response"};

/* What each reason's log line says. */
static const char *const hz_drop_text[SKT_HZ_DROP_REASONS] = {
    [SKT_HZ_DROP_TOO_LARGE] = "larger than adapter.maxMessageSizeInKb",
    [SKT_HZ_DROP_TOO_COMPLEX] = "too deeply nested or with too many values to parse",
    [SKT_HZ_DROP_MALFORMED] = "malformed",
    [SKT_HZ_DROP_PEER_RATE] = "a peer's request over adapter.maxPeerRequestsPerSecond",
    [SKT_HZ_DROP_TOTAL_RATE] = "a peer's request over adapter.maxPeerRequestsPerSecondTotal",
    [SKT_HZ_DROP_UNSENT] = "ours, not published: larger than adapter.maxMessageSizeInKb",
};

/* ---- the options -------------------------------------------------------------------- */

/* An option's value as a non-negative number, or def when the host does not know it (an
 * older daemon, a test host) or it is not one. */
static long
limit_opt(const soketi_host_t *host, const char *name, long def)
{
    const char *v = host->config_get(name);
    char *end;
    long n = v && *v ? strtol(v, &end, 10) : -1;
    return n >= 0 && v && *end == '\0' ? n : def;
}

void
skt_hz_limits_from_config(const soketi_host_t *host, skt_hz_limits_t *lim)
{
    long kb = limit_opt(host, "adapter.maxMessageSizeInKb", SKT_HZ_MAX_MESSAGE_KB);
    lim->max_message = (size_t)(kb > 0 ? kb : SKT_HZ_MAX_MESSAGE_KB) * 1024u;
    lim->peer_requests =
        limit_opt(host, "adapter.maxPeerRequestsPerSecond", SKT_HZ_PEER_REQUESTS_PER_S);
    lim->peer_requests_total =
        limit_opt(host, "adapter.maxPeerRequestsPerSecondTotal", SKT_HZ_PEER_REQUESTS_TOTAL_PER_S);
    kb = limit_opt(host, "adapter.maxResponseSizeInKb", SKT_HZ_MAX_RESPONSE_KB);
    lim->max_response = (size_t)(kb > 0 ? kb : SKT_HZ_MAX_RESPONSE_KB) * 1024u;
    lim->response_bytes =
        limit_opt(host, "adapter.maxResponseKbPerSecond", SKT_HZ_RESPONSE_KB_PER_S) * 1024;
    lim->app_requests =
        limit_opt(host, "adapter.maxRequestsPerSecondPerApp", SKT_HZ_APP_REQUESTS_PER_S);
}

/* ---- token buckets ------------------------------------------------------------------ */

double
skt_hz_bucket_level(skt_hz_bucket_t *b, double rate, uint64_t now_ms)
{
    if (!b->started) {
        b->tokens = rate; /* a new bucket starts full */
        b->started = 1;
    } else if (now_ms > b->last_ms) {
        b->tokens += rate * (double)(now_ms - b->last_ms) / 1000.0;
        if (b->tokens > rate)
            b->tokens = rate;
    }
    if (now_ms > b->last_ms)
        b->last_ms = now_ms;
    return b->tokens;
}

int
skt_hz_bucket_take(skt_hz_bucket_t *b, double rate, uint64_t now_ms)
{
    if (rate <= 0)
        return 1;
    if (skt_hz_bucket_level(b, rate, now_ms) < 1.0)
        return 0;
    b->tokens -= 1.0;
    return 1;
}

/* A bucket and the key it is filed under (the map borrows the key from here). */
typedef struct hz_keyed_s {
    skt_hz_bucket_t b;
    char key[];
} hz_keyed_t;

skt_hz_bucket_t *
skt_hz_buckets_get(skt_hz_buckets_t *bs, const char *key)
{
    size_t len = strlen(key);
    if (!bs->map && !(bs->map = skt_map_new()))
        return NULL;
    hz_keyed_t *k = skt_map_get(bs->map, key, len);
    if (k)
        return &k->b;
    if (skt_map_count(bs->map) >= bs->max)
        skt_hz_buckets_clear(bs);
    if (!bs->map && !(bs->map = skt_map_new()))
        return NULL;
    if (!(k = calloc(1, sizeof(*k) + len + 1)))
        return NULL;
    memcpy(k->key, key, len + 1);
    if (skt_map_put(bs->map, k->key, len, k) != 0) {
        free(k);
        return NULL;
    }
    return &k->b;
}

void
skt_hz_buckets_clear(skt_hz_buckets_t *bs)
{
    size_t pos = 0, len;
    const char *key;
    void *v;
    while (bs->map && skt_map_next(bs->map, &pos, &key, &len, &v))
        free(v);
    skt_map_free(bs->map);
    bs->map = NULL;
}

/* ---- drops -------------------------------------------------------------------------- */

void
skt_hz_drop(skt_hz_t *hz, int channel, int reason, const char *app_id, const char *data, size_t len,
            const char *detail)
{
    unsigned long quiet;
    hz->dropped[reason]++;
    skt_hz_metric(hz, app_id, SOKETI_METRIC_MESSAGE_DROPPED, 1);
    if (!skt_hz_throttle(&hz->drops[reason], SKT_HZ_DROP_LOG_INTERVAL_MS, &quiet))
        return;
    int n = len > HZ_LOG_EXCERPT ? HZ_LOG_EXCERPT : (int)len;
    skt_hz_log(hz, SOKETI_LOG_WARN,
               "dropped a message on the %s channel (%zu bytes): %s%s%s; %lu more such drops "
               "since the last line: %.*s%s",
               hz_channel_names[channel], len, hz_drop_text[reason], detail ? ", " : "",
               detail ? detail : "", quiet, n, data ? data : "", len > HZ_LOG_EXCERPT ? "..." : "");
}
