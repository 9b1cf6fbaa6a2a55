/* worker.c - a worker process's side of `workers` (worker.h). */
#include "workers/worker.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

/* A whole number from lo to hi in s, else -1. */
static long
env_number(const char *s, long lo, long hi)
{
    char *end;
    errno = 0;
    long n = s && *s ? strtol(s, &end, 10) : -1;
    return n >= lo && n <= hi && !errno && s && !*end ? n : -1;
}

int
skt_worker_from_env(skt_worker_t *w)
{
    const char *index = getenv(SKT_WORKER_ENV);
    *w = (skt_worker_t){.index = 0, .control_fd = -1, .scrape_fd = -1};
    if (!index)
        return 0;
    long i = env_number(index, 1, 1 << 20);
    long fd = env_number(getenv(SKT_WORKER_CONTROL_ENV), 0, 1 << 20);
    if (i < 0 || fd < 0 || fcntl((int)fd, F_GETFD) < 0)
        return -1;
    fcntl((int)fd, F_SETFD, FD_CLOEXEC);
    w->index = (int)i;
    w->control_fd = (int)fd;
    long sfd = env_number(getenv(SKT_WORKER_SCRAPE_ENV), 0, 1 << 20);
    if (sfd >= 0 && fcntl((int)sfd, F_GETFD) >= 0) {
        fcntl((int)sfd, F_SETFD, FD_CLOEXEC);
        w->scrape_fd = (int)sfd;
    }
    return 0;
}

void
skt_worker_tell(const skt_worker_t *w, char what)
{
    if (w->index && w->control_fd >= 0) {
        ssize_t n;
        do
            n = write(w->control_fd, &what, 1);
        while (n < 0 && errno == EINTR);
    }
}
