/* main.c - the soketi command line, signals, start-up and shutdown order.
 *
 *   soketi start [--config=PATH] [--plugin-dir=DIR]   run the server
 *   soketi config check [--config=PATH]               validate, print a summary, exit
 *   soketi config sample                              print every option at its default
 *   soketi plugins [--plugin-dir=DIR]                 list adapter and app manager plugins, their
 * ABI soketi --version | start --help
 *
 * Start-up: read the configuration (defaults < INI < JSON < SOKETI_* env),
 * raise the open-files limit, load the adapter plugin, listen, run the loop.
 * SIGTERM/SIGINT: stop accepting, close handshakes and idle connections, tell
 * every client 4200, wait the grace period, close what is left, exit 0.
 * SIGHUP: reload the apps; other options need a restart. Under systemd
 * (Type=notify) the service manager hears READY=1 once the port is bound,
 * RELOADING=1 ... READY=1 around a SIGHUP and STOPPING=1.
 */
#include "config.h"

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "plugin/loader.h"
#include "pusher/http_api.h"
#include "pusher/http_metrics.h"
#include "pusher/server_life.h"
#include "pusher/sig.h"
#include "pusher/ws_handler.h"
#include "util/log.h"
#include "util/sd_notify.h"
#include "workers/supervisor.h"
#include "workers/scrape_worker.h"
#include "workers/worker.h"

extern char **environ;

typedef struct cli_s {
    const char *config;
    const char *plugin_dir;
    char **argv; /* the whole command line, to start workers with */
} cli_t;

static skt_server_t *server;
static skt_worker_t worker; /* index 0: not one of several workers */
static skt_config_sources_t sources;
static struct event *grace_ev;

static void
usage(FILE *f)
{
    fprintf(f, "usage: soketi start [--config=PATH] [--plugin-dir=DIR]\n"
               "       soketi config check [--config=PATH]\n"
               "       soketi config sample\n"
               "       soketi plugins [--plugin-dir=DIR]\n"
               "       soketi --version\n"
               "       soketi start --help\n"
               "\n"
               "--config=PATH  an INI file (/etc/soketi.conf by default, when it exists) or,\n"
               "               when PATH ends in .json, a soketi-style JSON config file.\n"
               "SOKETI_* environment variables override both (soketi's names).\n");
}

/* Picks the sources: an explicit --config, else /etc/soketi.conf if present. */
static void
cli_sources(const cli_t *cli)
{
    memset(&sources, 0, sizeof(sources));
    sources.environ = environ;
    if (cli->config) {
        size_t l = strlen(cli->config);
        if (l > 5 && strcmp(cli->config + l - 5, ".json") == 0)
            sources.json_path = cli->config;
        else
            sources.ini_path = cli->config;
    } else if (access(SOKETI_SYSCONFDIR "/soketi.conf", R_OK) == 0) {
        sources.ini_path = SOKETI_SYSCONFDIR "/soketi.conf";
    }
}

static skt_config_t *
load_config(void)
{
    char err[512];
    skt_config_t *cfg = NULL;
    if (skt_config_load(&sources, &cfg, err, sizeof(err)) != 0) {
        skt_log(SKT_LOG_ERROR, "configuration error: %s", err);
        return NULL;
    }
    return cfg;
}

/* Raises the soft open-files limit to the hard one: every client is a file.
 * Says how many connections fit, and plainly when that is capped. */
static void
raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        skt_log(SKT_LOG_WARN, "cannot read the open-files limit: %s", strerror(errno));
        return;
    }
    if (rl.rlim_cur < rl.rlim_max) {
        rlim_t was = rl.rlim_cur;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            skt_log(SKT_LOG_WARN,
                    "cannot raise the open-files limit from %llu to the hard limit %llu: %s",
                    (unsigned long long)was, (unsigned long long)rl.rlim_max, strerror(errno));
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur == RLIM_INFINITY) {
        skt_log(SKT_LOG_INFO, "open-files limit: unlimited");
        return;
    }
    unsigned long long room = rl.rlim_cur > 32 ? (unsigned long long)rl.rlim_cur - 32 : 0;
    skt_log(SKT_LOG_INFO, "open-files limit %llu: room for about %llu connections",
            (unsigned long long)rl.rlim_cur, room);
    if (rl.rlim_cur < 65536)
        skt_log(SKT_LOG_WARN,
                "at most about %llu clients can connect: the open-files limit (hard limit %llu) "
                "is low; raise it with LimitNOFILE= in the systemd unit, `ulimit -n` or "
                "/etc/security/limits.conf",
                room, (unsigned long long)rl.rlim_max);
}

/* Microseconds of CLOCK_MONOTONIC, which systemd wants with RELOADING=1. */
static unsigned long long
monotonic_usec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000;
}

/* Options soketi knows whose drivers soketi-c does not build are accepted by
 * the configuration, so a soketi config file loads; selecting one is refused
 * here, before anything starts, rather than silently ignored. The adapter is
 * the exception: its drivers are plugins, and the loader explains a missing one.
 * The "redis" cache, rate limiter and queue live in the Redis adapter plugin;
 * the server checks, once it is loaded, that the adapter offers them. The "mysql" and
 * "postgres" app managers are plugins too (app_manager_<driver>.so); DynamoDB is not built. */
static int
refuse_unbuilt_drivers(const skt_config_t *cfg)
{
    static const struct {
        const char *option, *built[4]; /* built: NULL-terminated, the first one the default */
    } drivers[] = {
        {"appManager.driver", {"array", "mysql", "postgres", NULL}},
        {"cache.driver", {"memory", "redis", NULL}},
        {"queue.driver", {"sync", "redis", NULL}},
        {"rateLimiter.driver", {"local", "redis", NULL}},
    };
    const char *values[] = {cfg->app_manager.driver, cfg->cache.driver, cfg->queue.driver,
                            cfg->rate_limiter.driver};
    for (size_t i = 0; i < sizeof(drivers) / sizeof(drivers[0]); i++) {
        const char *const *b = drivers[i].built;
        size_t k = 0;
        while (b[k] && values[i] && strcmp(values[i], b[k]) != 0)
            k++;
        if (!values[i] || b[k])
            continue;
        char list[64] = "";
        for (k = 0; b[k]; k++)
            snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s'%s'",
                     k == 0     ? ""
                     : b[k + 1] ? ", "
                                : " or ",
                     b[k]);
        skt_log(SKT_LOG_ERROR,
                "%s '%s' is a soketi driver that soketi-c does not provide (yet); use %s",
                drivers[i].option, values[i], list);
        return -1;
    }
    if (cfg->mode && strcmp(cfg->mode, "full") != 0 && strcmp(cfg->mode, "server") != 0) {
        skt_log(SKT_LOG_ERROR,
                "mode '%s' is not provided: a soketi-c node serves and sends webhooks (use 'full')",
                cfg->mode);
        return -1;
    }
    return 0;
}

/* The grace period is over: stop now, even in the middle of a busy iteration
 * (whatever is still open is closed by skt_server_free()). */
static void
grace_cb(evutil_socket_t fd, short what, void *arg)
{
    event_base_loopbreak(arg);
}

static void
on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
    struct event_base *base = arg;
    if (server->closing) {
        skt_log(SKT_LOG_WARN, "second signal: exiting now");
        event_base_loopbreak(base);
        return;
    }
    skt_log(SKT_LOG_INFO, "signal %d: closing; clients are told to reconnect (4200)", (int)sig);
    skt_sd_notify("STOPPING=1");
    skt_server_close_all(server);
    long ms = server->cfg->shutdown_grace_period;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    grace_ev = evtimer_new(base, grace_cb, base);
    event_priority_set(grace_ev, 0);
    evtimer_add(grace_ev, &tv);
}

/* SIGHUP: reads the certificate and key again (renewed files at the same or new
 * paths); new connections use them, established ones keep theirs. Turning TLS
 * on or off needs a restart. A file that fails to load keeps the old context. */
static void
reload_tls(const skt_config_t *cfg)
{
    int was = *server->cfg->ssl.cert_path || *server->cfg->ssl.key_path;
    int now = *cfg->ssl.cert_path || *cfg->ssl.key_path;
    if (was != now) {
        skt_log(SKT_LOG_WARN, "SIGHUP: turning TLS %s needs a restart", now ? "on" : "off");
        return;
    }
    if (!now)
        return;
    char err[512];
    skt_tls_t *tls = skt_tls_new(cfg->ssl.cert_path, cfg->ssl.key_path, cfg->ssl.passphrase,
                                 cfg->ssl.ca_path, err, sizeof(err));
    if (!tls) {
        skt_log(SKT_LOG_ERROR, "SIGHUP: %s; new connections keep the previous certificate", err);
        return;
    }
    skt_net_replace_tls(server->net, tls);
    skt_log(SKT_LOG_INFO, "SIGHUP: TLS certificate and key reloaded from %s", cfg->ssl.cert_path);
}

static void
on_hup(evutil_socket_t sig, short what, void *arg)
{
    skt_sd_notifyf("RELOADING=1\nMONOTONIC_USEC=%llu", monotonic_usec());
    skt_config_t *cfg = load_config();
    if (!cfg) {
        skt_log(SKT_LOG_ERROR, "SIGHUP: the new configuration is invalid; keeping the old one");
        skt_sd_notify("READY=1\nSTATUS=reload failed: the new configuration is invalid");
        skt_worker_tell(&worker, SKT_WORKER_RELOADED);
        return;
    }
    skt_config_t *old = server->cfg;
    if (old->port != cfg->port || strcmp(old->host, cfg->host) != 0 ||
        strcmp(old->adapter.driver, cfg->adapter.driver) != 0 ||
        strcmp(old->app_manager.driver, cfg->app_manager.driver) != 0)
        skt_log(SKT_LOG_WARN, "SIGHUP: host, port, adapter and app manager changes need a "
                              "restart; only apps and TLS files were reloaded");
    reload_tls(cfg);
    skt_config_free(skt_server_reload_apps(server, cfg));
    skt_log(SKT_LOG_INFO, "SIGHUP: %zu app(s) reloaded", skt_apps_count(cfg->apps));
    skt_worker_tell(&worker, SKT_WORKER_RELOADED);
    skt_sd_notifyf("READY=1\nSTATUS=reloaded: %zu app(s)", skt_apps_count(server->cfg->apps));
}

/* The event loop. Signals (and the grace timer) must be heard within a bounded
 * time whatever the load: they have the higher of two priorities, and the
 * loop looks for them at least every 10 ms of other callbacks (thousands of
 * TLS handshakes ready at once would otherwise delay a SIGTERM by seconds). */
static struct event_base *
new_event_base(void)
{
    struct event_config *ec = event_config_new();
    struct timeval slice = {0, 10000};
    if (!ec)
        return NULL;
    event_config_set_max_dispatch_interval(ec, &slice, -1, 1);
    struct event_base *base = event_base_new_with_config(ec);
    event_config_free(ec);
    if (base && event_base_priority_init(base, 2) != 0) {
        event_base_free(base);
        return NULL;
    }
    return base;
}

/* workers > 1: this process is either their supervisor, which runs until they have
 * stopped (its exit code returned), or one of them (-1: go on and serve; the log says
 * which). workers = 1: -1. Errors: 1, logged. */
static int
start_workers(const cli_t *cli, const skt_config_t *cfg)
{
    if (skt_worker_from_env(&worker) != 0) {
        skt_log(SKT_LOG_ERROR, "%s is set, but not by a soketi supervisor", SKT_WORKER_ENV);
        return 1;
    }
    if (worker.index) {
        char who[32];
        snprintf(who, sizeof(who), "worker %d", worker.index);
        skt_log_set_source(who);
        return -1;
    }
    if (cfg->workers.count == 1)
        return -1;
    if (strcmp(cfg->adapter.driver, "cluster") == 0) {
        skt_log(SKT_LOG_ERROR, "workers > 1 with adapter.driver cluster is not supported: use "
                               "the local, redis or nats adapter, or workers = 1");
        return 1;
    }
    raise_fd_limit();
    return skt_supervisor_run(cfg, cli->argv);
}

static int
gather_metrics(void *self, skt_wscrape_cb cb, void *arg)
{
    return skt_wscrape_gather(self, cb, arg);
}

/* One of several workers: GET /metrics gathers the others' through the supervisor
 * (workers/scrape_worker.h). NULL otherwise. */
static skt_wscrape_t *
start_scrape(struct event_base *base, const skt_config_t *cfg)
{
    if (worker.scrape_fd < 0)
        return NULL;
    size_t max = (size_t)cfg->workers.max_queue_in_mb * 1024 * 1024;
    skt_wscrape_t *w =
        skt_wscrape_new(base, worker.scrape_fd, max, max * (size_t)cfg->workers.count,
                        skt_http_metrics_render, server);
    worker.scrape_fd = -1;
    if (!w)
        skt_log(SKT_LOG_ERROR, "out of memory: /metrics reports this worker alone");
    server->gather_metrics = w ? gather_metrics : NULL;
    server->gather_self = w;
    return w;
}

static int
cmd_start(const cli_t *cli)
{
    cli_sources(cli);
    skt_config_t *cfg = load_config();
    if (!cfg)
        return 1;
    if (cfg->debug)
        skt_log_set_level(SKT_LOG_DEBUG);
    if (cfg->log_format && strcmp(cfg->log_format, "json") == 0)
        skt_log_set_json(1);
    if (refuse_unbuilt_drivers(cfg) != 0) {
        skt_config_free(cfg);
        return 1;
    }
    skt_sig_set_http_window(cfg->http_api.auth_timestamp_window);
    signal(SIGPIPE, SIG_IGN);
    int rc = start_workers(cli, cfg);
    if (rc >= 0) {
        skt_config_free(cfg);
        return rc;
    }
    raise_fd_limit();

    struct event_base *base = new_event_base();
    if (!base) {
        skt_log(SKT_LOG_ERROR, "cannot create the event loop");
        skt_config_free(cfg);
        return 1;
    }
    char err[512];
    const char *dir = cli->plugin_dir ? cli->plugin_dir : cfg->plugin_dir;
    /* The protocol's handlers for both ports: the WebSocket side and the HTTP API on the main
     * port, the health and metrics routes on the metrics port. */
    skt_server_handlers_t handlers = {
        .main = {.on_request = skt_http_on_request,
                 .on_request_head = skt_http_on_request_head,
                 .on_ws_message = skt_ws_on_message,
                 .on_ws_close = skt_ws_on_close},
        .metrics = {.on_request = skt_http_on_metrics_request},
    };
    server = skt_server_new(base, cfg, dir, &handlers, err, sizeof(err));
    if (!server || skt_server_listen(server, err, sizeof(err)) != 0) {
        skt_log(SKT_LOG_ERROR, "%s", err);
        skt_server_free(server);
        skt_config_free(cfg);
        event_base_free(base);
        return 1;
    }
    skt_wscrape_t *scrape = start_scrape(base, cfg);
    struct event *sigs[3] = {evsignal_new(base, SIGTERM, on_stop_signal, base),
                             evsignal_new(base, SIGINT, on_stop_signal, base),
                             evsignal_new(base, SIGHUP, on_hup, base)};
    for (int i = 0; i < 3; i++) {
        event_priority_set(sigs[i], 0);
        evsignal_add(sigs[i], NULL);
    }
    skt_log(SKT_LOG_INFO, "soketi-c %s listening on %s:%ld (WebSockets and HTTP API%s)",
            PACKAGE_VERSION, cfg->host, cfg->port,
            *cfg->ssl.cert_path || *cfg->ssl.key_path ? " over TLS: wss:// and https://" : "");
    skt_worker_tell(&worker, SKT_WORKER_LISTENING);
    int nr = skt_sd_notifyf("READY=1\nSTATUS=listening on %s:%ld, %zu app(s)", cfg->host, cfg->port,
                            skt_apps_count(cfg->apps));
    if (nr < 0)
        skt_log(SKT_LOG_WARN, "cannot notify the service manager (NOTIFY_SOCKET): %s",
                strerror(-nr));

    event_base_dispatch(base);

    skt_log(SKT_LOG_INFO, "shutting down");
    for (int i = 0; i < 3; i++)
        event_free(sigs[i]);
    if (grace_ev)
        event_free(grace_ev);
    skt_wscrape_free(scrape); /* the scrapes still waiting answer this worker's figures */
    server->gather_metrics = NULL;
    cfg = server->cfg;
    skt_server_free(server);
    server = NULL;
    skt_config_free(cfg);
    event_base_free(base);
    libevent_global_shutdown();
    return 0;
}

static int
cmd_config_check(const cli_t *cli)
{
    cli_sources(cli);
    skt_config_t *cfg = load_config();
    if (!cfg)
        return 1;
    printf("configuration OK (%s%s%s)\n",
           sources.ini_path ? sources.ini_path
                            : (sources.json_path ? sources.json_path : "defaults"),
           ", environment", "");
    printf("listen %s:%ld, adapter %s, %zu app(s)", cfg->host, cfg->port, cfg->adapter.driver,
           skt_apps_count(cfg->apps));
    if (cfg->workers.count > 1)
        printf(", %ld workers", cfg->workers.count);
    printf("\n");
    for (size_t i = 0; i < skt_apps_count(cfg->apps); i++) {
        skt_app_t *a = skt_apps_at(cfg->apps, i);
        printf("  app id=%s key=%s enabled=%s\n", a->id, a->key, a->enabled ? "true" : "false");
    }
    skt_config_free(cfg);
    return 0;
}

static void
print_plugin(void *arg, const char *driver, const char *path, int abi, const char *note)
{
    if (abi >= 0)
        printf("%-20s ABI %d  %s\n", driver, abi, path);
    else
        printf("%-20s refused  %s: %s\n", driver, path, note ? note : "");
}

static int
cmd_plugins(const cli_t *cli)
{
    const char *dir = cli->plugin_dir;
    skt_config_t *cfg = NULL;
    if (!dir) {
        cli_sources(cli);
        cfg = load_config();
        if (!cfg)
            return 1;
        dir = cfg->plugin_dir;
    }
    printf("plugin directory %s (this soketi speaks adapter ABI %d, app manager ABI %d)\n", dir,
           SOKETI_ADAPTER_ABI_VERSION, SOKETI_APP_MANAGER_ABI_VERSION);
    int n = skt_plugin_list(dir, print_plugin, NULL);
    skt_config_free(cfg);
    if (n < 0) {
        fprintf(stderr, "cannot read %s\n", dir);
        return 1;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    cli_t cli = {.argv = argv};
    const char *cmd = NULL, *sub = NULL;
    int help = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--version") == 0 || strcmp(a, "-v") == 0) {
            printf("soketi-c %s (plugin ABI %d)\n", PACKAGE_VERSION, SOKETI_ADAPTER_ABI_VERSION);
            return 0;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            help = 1;
        } else if (strncmp(a, "--config=", 9) == 0) {
            cli.config = a + 9;
        } else if (strcmp(a, "--config") == 0 && i + 1 < argc) {
            cli.config = argv[++i];
        } else if (strncmp(a, "--plugin-dir=", 13) == 0) {
            cli.plugin_dir = a + 13;
        } else if (strcmp(a, "--plugin-dir") == 0 && i + 1 < argc) {
            cli.plugin_dir = argv[++i];
        } else if (a[0] == '-') {
            fprintf(stderr, "soketi: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        } else if (!cmd) {
            cmd = a;
        } else if (!sub) {
            sub = a;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (help) {
        usage(stdout);
        if (cmd && strcmp(cmd, "start") == 0) {
            printf("\n");
            skt_config_write_help(stdout);
        }
        return 0;
    }
    if (!cmd) {
        usage(stderr);
        return 2;
    }
    if (strcmp(cmd, "start") == 0 && !sub)
        return cmd_start(&cli);
    if (strcmp(cmd, "config") == 0 && sub && strcmp(sub, "check") == 0)
        return cmd_config_check(&cli);
    if (strcmp(cmd, "config") == 0 && sub && strcmp(sub, "sample") == 0) {
        /* The documented configuration file, as installed in /etc/soketi.conf. */
        skt_config_write_sample(stdout);
        return 0;
    }
    if (strcmp(cmd, "plugins") == 0 && !sub)
        return cmd_plugins(&cli);
    fprintf(stderr, "soketi: unknown command '%s%s%s'\n", cmd, sub ? " " : "", sub ? sub : "");
    usage(stderr);
    return 2;
}
