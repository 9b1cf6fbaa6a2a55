/* horizontal_limits.h - what peers may cost this node, and its queries them
 * (horizontal_limits.c): the adapter.* options read, token buckets, and the report of
 * every message dropped. The types are horizontal_core.h's.
 */
#ifndef SKT_REDIS_HORIZONTAL_LIMITS_H
#define SKT_REDIS_HORIZONTAL_LIMITS_H

#include <stddef.h>
#include <stdint.h>

#include "horizontal_core.h"

/* Reads the adapter.* limits through host->config_get (defaults for those it does not
 * know). */
void skt_hz_limits_from_config(const soketi_host_t *host, skt_hz_limits_t *lim);

/* The tokens b holds at now_ms (refilled at rate per second since its last use; may be
 * negative after skt_hz_bucket_spend took more than it had). */
double skt_hz_bucket_level(skt_hz_bucket_t *b, double rate, uint64_t now_ms);
/* Takes one token: 1 when there was one (or rate <= 0: no limit), else 0. */
int skt_hz_bucket_take(skt_hz_bucket_t *b, double rate, uint64_t now_ms);

/* key's bucket, new (full) when the key is; NULL when out of memory. Valid until the
 * next call. */
skt_hz_bucket_t *skt_hz_buckets_get(skt_hz_buckets_t *bs, const char *key);
void skt_hz_buckets_clear(skt_hz_buckets_t *bs);

/* Drops a message of channel (enum skt_hz_channel) for reason (enum skt_hz_drop_reason):
 * counts it (MESSAGE_DROPPED, for app_id when known, else NULL) and logs it, throttled,
 * with detail (NULL: none) and an excerpt of data (len bytes). */
void skt_hz_drop(skt_hz_t *hz, int channel, int reason, const char *app_id, const char *data,
                 size_t len, const char *detail);

#endif
