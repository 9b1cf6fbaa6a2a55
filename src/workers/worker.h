/* worker.h - a worker process's side of `workers`: who it is, and what it tells its
 * supervisor.
 *
 * The supervisor (supervisor.h) starts each worker as this same program with the same
 * arguments, and three variables in its environment, which are the supervisor's business
 * alone (set them by hand and nothing works):
 *   SKT_WORKER                 the worker's number, 1..workers
 *   SKT_WORKER_CONTROL_FD      the write end of a pipe to the supervisor
 *   SKT_WORKER_HUB_FD          its end of the socketpair to the hub (only with the local
 *                              adapter; read by adapter_workers.so)
 *   SKT_WORKER_SCRAPE_FD       its end of the socketpair for host-wide GET /metrics
 *                              (scrape.h, scrape_worker.h)
 * Over the control pipe a worker says single bytes: SKT_WORKER_LISTENING once its ports
 * are bound, SKT_WORKER_RELOADED after each SIGHUP. The supervisor turns them into
 * systemd's READY=1 when every worker has spoken.
 */
#ifndef SKT_WORKERS_WORKER_H
#define SKT_WORKERS_WORKER_H

#define SKT_WORKER_ENV "SKT_WORKER"
#define SKT_WORKER_CONTROL_ENV "SKT_WORKER_CONTROL_FD"
#define SKT_WORKER_HUB_ENV "SKT_WORKER_HUB_FD"
#define SKT_WORKER_SCRAPE_ENV "SKT_WORKER_SCRAPE_FD"

#define SKT_WORKER_LISTENING 'L'
#define SKT_WORKER_RELOADED 'R'

typedef struct skt_worker_s {
    int index;      /* 1..workers; 0: this process is no worker (workers = 1) */
    int control_fd; /* -1 when none */
    int scrape_fd;  /* -1 when none; the caller takes it (scrape_worker.h) */
} skt_worker_t;

/* Reads the environment the supervisor set: w->index 0 when there is none. Returns 0, or
 * -1 when the variables are there but malformed. */
int skt_worker_from_env(skt_worker_t *w);

/* Says what (SKT_WORKER_*) to the supervisor; nothing when w is no worker. Never blocks
 * (the pipe holds far more than the few bytes a worker ever writes). */
void skt_worker_tell(const skt_worker_t *w, char what);

#endif
