/* horizontal_core.c - the ground of the horizontal layer (horizontal_core.h): the clock,
 * the log and its throttle, metrics, and the checks of the host table.
 *
 * DESIGN
 * Nothing here calls into the layer's other files: they all stand on this one (limits,
 * merging and answering above it, horizontal.c above those, the ops, the peers' messages
 * and the counts on top), so the layer's files form an order without cycles. A repeatable
 * log line is throttled by the caller's skt_hz_throttle_t, never by state kept here.
 */
#include "horizontal_core.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

/* ---- the clock, the log, metrics ---------------------------------------------------- */

uint64_t
skt_hz_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void
skt_hz_logf(const soketi_host_t *host, const char *name, int level, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    host->log(level, "%s: %s", name, line);
}

int
skt_hz_throttle(skt_hz_throttle_t *t, uint64_t interval_ms, unsigned long *quiet)
{
    uint64_t now = skt_hz_now_ms();
    if (t->last_ms && now - t->last_ms < interval_ms) {
        t->quiet++;
        return 0;
    }
    t->last_ms = now;
    *quiet = t->quiet;
    t->quiet = 0;
    return 1;
}

/* Records a metric when the host takes them. */
void
skt_hz_metric(const skt_hz_t *hz, const char *app_id, int what, double value)
{
    if (hz->metric)
        hz->metric(app_id, what, value);
}

/* ---- the host table ---------------------------------------------------------------- */

/* The ABI this layer is written against. */
#define HZ_ABI 1

/* The host fields this layer reads end with local_terminate_user_connections. */
#define HZ_HOST_NEEDS                                                                              \
    (offsetof(soketi_host_t, local_terminate_user_connections) +                                   \
     sizeof(((soketi_host_t *)0)->local_terminate_user_connections))

int
skt_hz_host_typed(const soketi_host_t *h)
{
    return h->size >= offsetof(soketi_host_t, local_channel_members_typed) +
                          sizeof(h->local_channel_members_typed) &&
           h->local_channel_members_typed != NULL;
}

int
skt_hz_abi_version(int count, const int *supported)
{
    for (int i = 0; i < count; i++)
        if (supported[i] == HZ_ABI)
            return HZ_ABI;
    return -1;
}

int
skt_hz_check_host(const soketi_host_t *host, const soketi_adapter_t *adapter, const char *name)
{
    int usable = host->size >= HZ_HOST_NEEDS && host->abi_version == HZ_ABI && host->base &&
                 host->node_id && host->config_get && host->log && host->deliver_local &&
                 host->local_sockets_count && host->local_channel_sockets_count &&
                 host->local_channel_members_count && host->local_is_in_channel &&
                 host->local_channels && host->local_channel_members && host->local_sockets &&
                 host->local_channel_sockets && host->local_terminate_user_connections;
    if (!usable) {
        if (host->size >= offsetof(soketi_host_t, log) + sizeof(host->log) && host->log)
            host->log(SOKETI_LOG_ERROR,
                      "%s: the host table lacks a function this adapter needs (size %zu, ABI %d)",
                      name, host->size, host->abi_version);
        return -1;
    }
    if (adapter->size < sizeof(*adapter)) {
        host->log(SOKETI_LOG_ERROR, "%s: the host's adapter struct is too small", name);
        return -1;
    }
    return 0;
}
