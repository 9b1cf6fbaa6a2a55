/* scrape.h - `workers` > 1: the supervisor's side of a host-wide GET /metrics.
 *
 * Each worker has a second socketpair to the supervisor (SKT_WORKER_SCRAPE_FD, worker.h),
 * whatever the adapter, carrying frames (frame.h) of two kinds:
 *   worker -> supervisor  SCRAPE  u32 id                 "the others' metrics, please"
 *   supervisor -> worker  SCRAPE  u32 seq                "your metrics text, please"
 *   worker -> supervisor  SCRAPED u32 seq, str text      its answer
 *   supervisor -> worker  SCRAPED u32 id, u32 missing, u32 n, n x str
 *                                                        the others' texts; missing did not
 *                                                        answer within the timeout
 * (numbers and strings as frame.h writes them). The worker merges the texts with its own
 * (features/metrics_merge.h; workers/scrape_worker.h is its side).
 *
 * DESIGN
 * A gather waits at most workersRequestsTimeout ms; a worker that is detached meanwhile,
 * or does not answer in time, is counted missing. At most SKT_SCRAPE_MAX_GATHERS gathers
 * are in flight on the host; a question past it is answered at once with every other
 * worker missing. A frame from a worker longer than workersMaxQueueInMb, or malformed,
 * detaches it (until it is replaced).
 */
#ifndef SKT_WORKERS_SCRAPE_H
#define SKT_WORKERS_SCRAPE_H

#include <stddef.h>

struct event_base;

#define SKT_SCRAPE_MAX_GATHERS 64

typedef struct skt_scrape_s skt_scrape_t;

/* n workers; timeout_ms per gather; max_frame bytes of one worker's text. NULL without
 * memory. */
skt_scrape_t *skt_scrape_new(struct event_base *base, size_t n, long timeout_ms, size_t max_frame);
/* Answers no gather still waiting; frees every link. NULL is allowed. */
void skt_scrape_free(skt_scrape_t *s);

/* Worker index (0-based) now talks on fd (taken: closed at detach). Returns 0, or -1
 * without memory (fd closed). */
int skt_scrape_attach(skt_scrape_t *s, size_t index, int fd);
/* Worker index is gone: its gathers are dropped, those waiting for it count it missing. */
void skt_scrape_detach(skt_scrape_t *s, size_t index);

#endif
