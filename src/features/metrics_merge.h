/* metrics_merge.h - one Prometheus text out of several: the host's /metrics when `workers`
 * > 1 (each worker renders its own with skt_metrics_text(); workers/scrape.h gathers them).
 *
 * DESIGN
 * Every family keeps one block: its # HELP and # TYPE lines (the first text's), then its
 * samples. Samples with the same name and labels are summed: the counters, the gauges of
 * connections, bytes and pending webhooks, the histogram buckets, _sum and _count, and the
 * process_* figures of the processes (resident memory, CPU seconds, open and max fds are
 * the workers' totals). The one exception is a family named *process_start_time_seconds:
 * the earliest start is kept. Families and samples come in the order they are first seen.
 * Lines that are neither comments nor "name[{labels}] value" are left out.
 */
#ifndef SKT_FEATURES_METRICS_MERGE_H
#define SKT_FEATURES_METRICS_MERGE_H

#include <stddef.h>

/* The merge of the n NUL-terminated texts (none may be NULL), malloc'd and owned by the
 * caller, or NULL when out of memory. */
char *skt_metrics_merge(const char *const *texts, size_t n);

#endif
