/* scrape_worker.h - `workers` > 1: a worker's side of a host-wide GET /metrics (the
 * supervisor's side and the frames: scrape.h).
 *
 * DESIGN
 * The worker answers the supervisor's SCRAPE with its own text, rendered by the caller's
 * function at that moment; a text longer than max_frame is not sent (the asker counts this
 * worker missing) and logged. A gather is a SCRAPE with a number of this worker's; its
 * callback runs once, when the supervisor's SCRAPED comes back, or with missing -1 when
 * the channel is lost or the object freed. The supervisor bounds the wait
 * (workersRequestsTimeout), so nothing here needs a timer.
 */
#ifndef SKT_WORKERS_SCRAPE_WORKER_H
#define SKT_WORKERS_SCRAPE_WORKER_H

#include <stddef.h>

struct event_base;

typedef struct skt_wscrape_s skt_wscrape_t;

/* This worker's metrics text, malloc'd (the caller frees it), or NULL. */
typedef char *(*skt_wscrape_render_fn)(void *arg);

/* The others' texts (n of them, NUL-terminated, valid during the call) and how many
 * workers did not answer; missing -1: nothing was gathered (texts NULL, n 0). */
typedef void (*skt_wscrape_cb)(void *arg, const char *const *texts, size_t n, long missing);

/* Talks on fd (taken: closed by skt_wscrape_free), texts of at most max_frame bytes each,
 * answers of at most max_answer. NULL without memory (fd closed). */
skt_wscrape_t *skt_wscrape_new(struct event_base *base, int fd, size_t max_frame, size_t max_answer,
                               skt_wscrape_render_fn render, void *arg);
/* Calls every waiting callback with missing -1, then frees. NULL is allowed. */
void skt_wscrape_free(skt_wscrape_t *w);

/* Asks for the other workers' texts: cb(arg, ...) later, exactly once. Returns 0, or -1
 * when the supervisor is out of reach or out of memory (cb is not called). */
int skt_wscrape_gather(skt_wscrape_t *w, skt_wscrape_cb cb, void *arg);

#endif
