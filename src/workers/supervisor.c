/* supervisor.c - runs the workers of `workers = N` and keeps them running (supervisor.h). */
#include "workers/supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"
#include "util/sd_notify.h"
#include "workers/hub.h"
#include "workers/scrape.h"
#include "workers/worker.h"

#define RESPAWN_MIN_MS 1000  /* a worker that ran less than this is restarted this late */
#define RESPAWN_MAX_MS 30000 /* ... doubling up to this while it keeps failing */
#define KILL_AFTER_GRACE_MS 5000

typedef struct sup_s sup_t;

typedef struct sup_slot_s {
    sup_t *sup;
    int index;      /* 0-based; the worker's number is index + 1 */
    pid_t pid;      /* 0: not running */
    int control_fd; /* the read end of its control pipe; -1 when none */
    struct event *control_ev;
    struct event *respawn_ev;
    uint64_t started_ms;
    unsigned backoff_ms; /* the next delay after a quick failure */
    int listening;       /* it said SKT_WORKER_LISTENING */
    int reload_pending;  /* a SIGHUP was forwarded; SKT_WORKER_RELOADED not yet heard */
} sup_slot_t;

struct sup_s {
    struct event_base *base;
    const skt_config_t *cfg;
    char **argv;
    char exe[4096]; /* this program's file: what each worker execs */
    skt_hub_t *hub; /* NULL unless the adapter is local */
    skt_scrape_t *scrape;
    sup_slot_t *slots;
    int n;
    pid_t self;
    int ready;     /* READY=1 was sent */
    int reloading; /* RELOADING=1 was sent, READY=1 not yet */
    int stopping;
    int exit_code;
    struct event *kill_ev;
};

static uint64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int
sup_running(const sup_t *sup)
{
    int n = 0;
    for (int i = 0; i < sup->n; i++)
        n += sup->slots[i].pid != 0;
    return n;
}

/* Sends sig to every running worker. */
static void
sup_signal_all(sup_t *sup, int sig)
{
    for (int i = 0; i < sup->n; i++)
        if (sup->slots[i].pid)
            kill(sup->slots[i].pid, sig);
}

/* ---- starting a worker --------------------------------------------------------------- */

/* In the child: keeps the two fds across exec, names them in the environment, and
 * becomes the worker. Never returns. */
static void
sup_exec_worker(sup_t *sup, int index, int control_fd, int hub_fd, int scrape_fd)
{
    char buf[32];
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != sup->self) /* the supervisor died before the line above */
        _exit(1);
    fcntl(control_fd, F_SETFD, 0);
    snprintf(buf, sizeof(buf), "%d", index + 1);
    setenv(SKT_WORKER_ENV, buf, 1);
    snprintf(buf, sizeof(buf), "%d", control_fd);
    setenv(SKT_WORKER_CONTROL_ENV, buf, 1);
    fcntl(scrape_fd, F_SETFD, 0);
    snprintf(buf, sizeof(buf), "%d", scrape_fd);
    setenv(SKT_WORKER_SCRAPE_ENV, buf, 1);
    if (hub_fd >= 0) {
        fcntl(hub_fd, F_SETFD, 0);
        snprintf(buf, sizeof(buf), "%d", hub_fd);
        setenv(SKT_WORKER_HUB_ENV, buf, 1);
    } else {
        unsetenv(SKT_WORKER_HUB_ENV);
    }
    unsetenv("NOTIFY_SOCKET"); /* the supervisor speaks for the workers */
    execv(sup->exe, sup->argv);
    skt_log(SKT_LOG_ERROR, "cannot start worker %d: exec %s: %s", index + 1, sup->exe,
            strerror(errno));
    _exit(127);
}

static void sup_control_cb(evutil_socket_t fd, short what, void *arg);

/* Starts slot's worker. Returns 0, or -1 with the reason logged. */
static int
sup_spawn(sup_slot_t *s)
{
    sup_t *sup = s->sup;
    int hub[2] = {-1, -1}, ctl[2] = {-1, -1}, scr[2] = {-1, -1};
    if ((sup->hub && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, hub) != 0) ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, scr) != 0 ||
        pipe2(ctl, O_CLOEXEC) != 0) {
        skt_log(SKT_LOG_ERROR, "cannot start worker %d: %s", s->index + 1, strerror(errno));
        goto fail;
    }
    pid_t pid = fork();
    if (pid < 0) {
        skt_log(SKT_LOG_ERROR, "cannot start worker %d: fork: %s", s->index + 1, strerror(errno));
        goto fail;
    }
    if (pid == 0)
        sup_exec_worker(sup, s->index, ctl[1], hub[1], scr[1]);
    close(ctl[1]);
    close(scr[1]);
    if (hub[1] >= 0)
        close(hub[1]);
    s->pid = pid;
    s->started_ms = now_ms();
    s->listening = s->reload_pending = 0;
    s->control_fd = ctl[0];
    evutil_make_socket_nonblocking(ctl[0]);
    s->control_ev = event_new(sup->base, ctl[0], EV_READ | EV_PERSIST, sup_control_cb, s);
    if (s->control_ev)
        event_add(s->control_ev, NULL);
    if (sup->hub && skt_hub_attach(sup->hub, (size_t)s->index, hub[0]) != 0)
        skt_log(SKT_LOG_ERROR, "worker %d: out of memory attaching it to the others", s->index + 1);
    if (skt_scrape_attach(sup->scrape, (size_t)s->index, scr[0]) != 0)
        skt_log(SKT_LOG_ERROR, "worker %d: out of memory: /metrics leaves it out", s->index + 1);
    skt_log(SKT_LOG_INFO, "worker %d started (pid %ld)", s->index + 1, (long)pid);
    return 0;
fail:
    for (int i = 0; i < 2; i++) {
        if (hub[i] >= 0)
            close(hub[i]);
        if (ctl[i] >= 0)
            close(ctl[i]);
        if (scr[i] >= 0)
            close(scr[i]);
    }
    return -1;
}

static void
sup_respawn_cb(evutil_socket_t fd, short what, void *arg)
{
    sup_slot_t *s = arg;
    (void)fd;
    (void)what;
    if (!s->sup->stopping && !s->pid && sup_spawn(s) != 0) {
        struct timeval tv = {RESPAWN_MIN_MS / 1000, 0};
        evtimer_add(s->respawn_ev, &tv);
    }
}

/* ---- what the workers say ------------------------------------------------------------- */

/* Every running worker listens (start-up) or has reloaded (SIGHUP): tell systemd. */
static void
sup_check_ready(sup_t *sup)
{
    for (int i = 0; i < sup->n; i++) {
        const sup_slot_t *s = &sup->slots[i];
        if ((!sup->ready && !s->listening) || (s->pid && s->reload_pending))
            return;
    }
    if (!sup->ready) {
        sup->ready = 1;
        skt_log(SKT_LOG_INFO, "all %d workers listen on %s:%ld", sup->n, sup->cfg->host,
                sup->cfg->port);
        skt_sd_notifyf("READY=1\nSTATUS=listening on %s:%ld with %d workers, %zu app(s)",
                       sup->cfg->host, sup->cfg->port, sup->n, skt_apps_count(sup->cfg->apps));
    } else if (sup->reloading) {
        sup->reloading = 0;
        skt_log(SKT_LOG_INFO, "SIGHUP: every worker has reloaded");
        skt_sd_notifyf("READY=1\nSTATUS=reloaded: %d workers", sup->n);
    }
}

static void
sup_close_control(sup_slot_t *s)
{
    if (s->control_ev)
        event_free(s->control_ev);
    if (s->control_fd >= 0)
        close(s->control_fd);
    s->control_ev = NULL;
    s->control_fd = -1;
}

static void
sup_control_cb(evutil_socket_t fd, short what, void *arg)
{
    sup_slot_t *s = arg;
    char buf[64];
    (void)what;
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        event_del(s->control_ev); /* the worker is exiting: SIGCHLD tells the rest */
        return;
    }
    for (ssize_t i = 0; i < n; i++) {
        if (buf[i] == SKT_WORKER_LISTENING) {
            s->listening = 1;
            s->backoff_ms = 0;
        } else if (buf[i] == SKT_WORKER_RELOADED) {
            s->reload_pending = 0;
        }
    }
    sup_check_ready(s->sup);
}

/* ---- workers that exit ---------------------------------------------------------------- */

static void
sup_describe_exit(int status, char *out, size_t cap)
{
    if (WIFSIGNALED(status))
        snprintf(out, cap, "was killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(out, cap, "exited with status %d", WEXITSTATUS(status));
}

/* Stops every worker with sig (their graceful shutdown), killing those still running
 * shutdownGracePeriod + 5 s later; no worker is started any more. */
static void
sup_stop(sup_t *sup, int sig)
{
    sup->stopping = 1;
    for (int i = 0; i < sup->n; i++)
        evtimer_del(sup->slots[i].respawn_ev);
    sup_signal_all(sup, sig);
    long ms = sup->cfg->shutdown_grace_period + KILL_AFTER_GRACE_MS;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(sup->kill_ev, &tv);
    if (!sup_running(sup))
        event_base_loopbreak(sup->base);
}

/* A worker exited: replace it, or finish when stopping. */
static void
sup_reap_one(sup_t *sup, sup_slot_t *s, int status)
{
    char how[96];
    uint64_t ran = now_ms() - s->started_ms;
    long pid = (long)s->pid;
    sup_describe_exit(status, how, sizeof(how));
    s->pid = 0;
    sup_close_control(s);
    if (sup->hub)
        skt_hub_detach(sup->hub, (size_t)s->index);
    skt_scrape_detach(sup->scrape, (size_t)s->index);
    if (sup->stopping) {
        skt_log(SKT_LOG_INFO, "worker %d %s", s->index + 1, how);
        return;
    }
    if (!sup->ready && !s->listening) {
        skt_log(SKT_LOG_ERROR, "worker %d %s before it listened: stopping", s->index + 1, how);
        sup->exit_code = 1;
        sup_stop(sup, SIGTERM);
        return;
    }
    unsigned delay = 0;
    if (ran < RESPAWN_MIN_MS) {
        delay = s->backoff_ms ? s->backoff_ms : RESPAWN_MIN_MS;
        s->backoff_ms = delay * 2 > RESPAWN_MAX_MS ? RESPAWN_MAX_MS : delay * 2;
    }
    skt_log(SKT_LOG_ERROR, "worker %d (pid %ld) %s after %llu ms; starting another in %u ms",
            s->index + 1, pid, how, (unsigned long long)ran, delay);
    struct timeval tv = {delay / 1000, (delay % 1000) * 1000};
    evtimer_add(s->respawn_ev, &tv);
    sup_check_ready(sup); /* a reload no longer waits for it */
}

static void
sup_child_cb(evutil_socket_t sig, short what, void *arg)
{
    sup_t *sup = arg;
    int status;
    pid_t pid;
    (void)sig;
    (void)what;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (int i = 0; i < sup->n; i++)
            if (sup->slots[i].pid == pid)
                sup_reap_one(sup, &sup->slots[i], status);
    }
    if (sup->stopping && !sup_running(sup))
        event_base_loopbreak(sup->base);
}

/* ---- signals to the supervisor -------------------------------------------------------- */

static void
sup_kill_cb(evutil_socket_t fd, short what, void *arg)
{
    sup_t *sup = arg;
    (void)fd;
    (void)what;
    skt_log(SKT_LOG_WARN, "%d worker(s) still running after the grace period: killed",
            sup_running(sup));
    sup_signal_all(sup, SIGKILL);
}

static void
sup_stop_cb(evutil_socket_t sig, short what, void *arg)
{
    sup_t *sup = arg;
    (void)what;
    if (sup->stopping) {
        skt_log(SKT_LOG_WARN, "second signal: the workers exit now");
        sup_signal_all(sup, (int)sig);
        return;
    }
    skt_log(SKT_LOG_INFO,
            "signal %d: stopping the %d workers; clients are told to reconnect "
            "(4200)",
            (int)sig, sup_running(sup));
    skt_sd_notify("STOPPING=1");
    sup_stop(sup, (int)sig);
}

static void
sup_hup_cb(evutil_socket_t sig, short what, void *arg)
{
    sup_t *sup = arg;
    struct timespec ts;
    (void)sig;
    (void)what;
    if (sup->stopping)
        return;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    skt_sd_notifyf("RELOADING=1\nMONOTONIC_USEC=%llu", (unsigned long long)ts.tv_sec * 1000000ULL +
                                                           (unsigned long long)ts.tv_nsec / 1000);
    sup->reloading = 1;
    for (int i = 0; i < sup->n; i++)
        sup->slots[i].reload_pending = sup->slots[i].pid != 0;
    skt_log(SKT_LOG_INFO, "SIGHUP: forwarded to %d workers (changing workers needs a restart)",
            sup_running(sup));
    sup_signal_all(sup, SIGHUP);
    sup_check_ready(sup);
}

/* ---- the whole ------------------------------------------------------------------------ */

static void
sup_free(sup_t *sup, struct event **sigs, int n_sigs)
{
    for (int i = 0; i < n_sigs; i++)
        if (sigs[i])
            event_free(sigs[i]);
    for (int i = 0; sup->slots && i < sup->n; i++) {
        sup_close_control(&sup->slots[i]);
        if (sup->slots[i].respawn_ev)
            event_free(sup->slots[i].respawn_ev);
    }
    if (sup->kill_ev)
        event_free(sup->kill_ev);
    skt_hub_free(sup->hub);
    skt_scrape_free(sup->scrape);
    free(sup->slots);
    if (sup->base)
        event_base_free(sup->base);
}

/* The loop, the hub and the slots. Returns 0, or -1 when out of memory. */
static int
sup_setup(sup_t *sup)
{
    const skt_config_t *cfg = sup->cfg;
    /* the file itself rather than /proc/self/exe, so that the workers are named after it */
    ssize_t n = readlink("/proc/self/exe", sup->exe, sizeof(sup->exe) - 1);
    snprintf(sup->exe + (n > 0 ? n : 0), sizeof(sup->exe) - (size_t)(n > 0 ? n : 0), "%s",
             n > 0 ? "" : "/proc/self/exe");
    if (!(sup->base = event_base_new()) ||
        !(sup->slots = calloc((size_t)sup->n, sizeof(sup_slot_t))) ||
        !(sup->kill_ev = evtimer_new(sup->base, sup_kill_cb, sup)) ||
        !(sup->scrape = skt_scrape_new(sup->base, (size_t)sup->n, cfg->workers.requests_timeout,
                                       (size_t)cfg->workers.max_queue_in_mb * 1024 * 1024)))
        return -1;
    if (strcmp(cfg->adapter.driver, "local") == 0 &&
        !(sup->hub = skt_hub_new(sup->base, (size_t)sup->n,
                                 (size_t)cfg->adapter.max_message_size_in_kb * 1024,
                                 (size_t)cfg->workers.max_queue_in_mb * 1024 * 1024)))
        return -1;
    for (int i = 0; i < sup->n; i++) {
        sup->slots[i] = (sup_slot_t){.sup = sup, .index = i, .control_fd = -1};
        if (!(sup->slots[i].respawn_ev = evtimer_new(sup->base, sup_respawn_cb, &sup->slots[i])))
            return -1;
    }
    return 0;
}

int
skt_supervisor_run(const skt_config_t *cfg, char **argv)
{
    sup_t sup = {.cfg = cfg, .argv = argv, .n = (int)cfg->workers.count, .self = getpid()};
    struct event *sigs[4] = {0};
    skt_log_set_source("supervisor");
    if (sup_setup(&sup) != 0) {
        skt_log(SKT_LOG_ERROR, "cannot start the workers: out of memory");
        sup_free(&sup, sigs, 4);
        return 1;
    }
    sigs[0] = evsignal_new(sup.base, SIGTERM, sup_stop_cb, &sup);
    sigs[1] = evsignal_new(sup.base, SIGINT, sup_stop_cb, &sup);
    sigs[2] = evsignal_new(sup.base, SIGHUP, sup_hup_cb, &sup);
    sigs[3] = evsignal_new(sup.base, SIGCHLD, sup_child_cb, &sup);
    for (int i = 0; i < 4; i++)
        if (sigs[i])
            evsignal_add(sigs[i], NULL);
    skt_log(SKT_LOG_INFO, "starting %d workers (%s)", sup.n,
            sup.hub ? "the local adapter: workers exchange messages through this process"
                    : "each worker is one node of the adapter's cluster");
    for (int i = 0; i < sup.n && !sup.stopping; i++)
        if (sup_spawn(&sup.slots[i]) != 0) {
            sup.exit_code = 1;
            sup_stop(&sup, SIGTERM);
        }
    if (sup_running(&sup))
        event_base_dispatch(sup.base);
    if (sup.hub && skt_hub_dropped(sup.hub))
        skt_log(SKT_LOG_WARN, "%llu message(s) between workers were dropped in all",
                (unsigned long long)skt_hub_dropped(sup.hub));
    skt_log(SKT_LOG_INFO, "every worker has stopped");
    sup_free(&sup, sigs, 4);
    return sup.exit_code;
}
