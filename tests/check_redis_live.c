/* check_redis_live.c - redis-server processes and fake daemons for the Redis plugin tests.
 * See check_redis_live.h.
 */
#include "check_redis_live.h"
#include "check_redis_fakehost.h"

#include <check.h>
#include <dlfcn.h>
#include <event2/event.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef CHECK_REDIS_PLUGIN_DIR
#define CHECK_REDIS_PLUGIN_DIR "plugins/.libs"
#endif

live_node_t live_nodes[LIVE_NODES];

/* ---- redis-server --------------------------------------------------------------------- */

static const char *
server_bin(void)
{
    const char *b = getenv("REDIS_SERVER");
    return b && *b ? b : "redis-server";
}

int
live_redis_available(void)
{
    const char *bin = server_bin();
    if (strchr(bin, '/'))
        return access(bin, X_OK) == 0;
    const char *path = getenv("PATH");
    char buf[4096];
    snprintf(buf, sizeof(buf), "%s", path ? path : "/usr/bin:/bin");
    for (char *save = NULL, *d = strtok_r(buf, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        char full[4200];
        snprintf(full, sizeof(full), "%s/%s", d, bin);
        if (access(full, X_OK) == 0)
            return 1;
    }
    return 0;
}

int live_skipped;

int
live_skip(const char *name)
{
    live_skipped = !live_redis_available();
    if (live_skipped)
        fprintf(stderr, "%s: redis-server is not installed: the live tests pass unrun\n", name);
    return live_skipped;
}

void
live_redis_start(live_redis_t *r, int cluster)
{
    memset(r, 0, sizeof(*r));
    r->port = test_port(cluster);
    snprintf(r->dir, sizeof(r->dir), "/tmp/skt-redis-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(r->dir));
    char port[16], conf[128];
    snprintf(port, sizeof(port), "%d", r->port);
    snprintf(conf, sizeof(conf), "%s/nodes.conf", r->dir);
    pid_t parent = getpid();
    r->pid = fork();
    ck_assert_int_ge(r->pid, 0);
    if (r->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        if (!freopen("/dev/null", "w", stdout))
            _exit(1);
        const char *argv[] = {server_bin(),
                              "--port",
                              port,
                              "--bind",
                              "127.0.0.1",
                              "--save",
                              "",
                              "--appendonly",
                              "no",
                              "--dir",
                              r->dir,
                              "--cluster-enabled",
                              cluster ? "yes" : "no",
                              "--cluster-config-file",
                              conf,
                              "--cluster-node-timeout",
                              "2000",
                              NULL};
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    for (int i = 0; i < 500 && !r->cli; i++) {
        struct timeval tv = {1, 0};
        redisContext *c = redisConnectWithTimeout("127.0.0.1", r->port, tv);
        redisReply *rep = c && !c->err ? redisCommand(c, "PING") : NULL;
        if (rep && rep->type == REDIS_REPLY_STATUS)
            r->cli = c;
        else if (c)
            redisFree(c);
        if (rep)
            freeReplyObject(rep);
        if (!r->cli)
            usleep(10000);
    }
    ck_assert_msg(r->cli != NULL, "redis-server did not start on port %d", r->port);
}

void
live_redis_stop(live_redis_t *r)
{
    if (r->cli)
        redisFree(r->cli);
    r->cli = NULL;
    if (r->pid > 0) {
        kill(r->pid, SIGKILL);
        waitpid(r->pid, NULL, 0);
    }
    r->pid = 0;
    if (r->dir[0]) {
        char path[128];
        snprintf(path, sizeof(path), "%s/nodes.conf", r->dir);
        unlink(path);
        rmdir(r->dir);
    }
    r->dir[0] = '\0';
}

redisReply *
live_cmd(live_redis_t *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *rep = redisvCommand(r->cli, fmt, ap);
    va_end(ap);
    ck_assert_msg(rep != NULL, "redis command %s failed", fmt);
    return rep;
}

long long
live_int(live_redis_t *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *rep = redisvCommand(r->cli, fmt, ap);
    va_end(ap);
    ck_assert_msg(rep && rep->type == REDIS_REPLY_INTEGER, "redis command %s: no integer (%s)", fmt,
                  rep && rep->str ? rep->str : "");
    long long v = rep->integer;
    freeReplyObject(rep);
    return v;
}

/* ---- the fake host --------------------------------------------------------------------- */

static void
fake_metric(live_metrics_t *m, const char *app_id, int what, double value)
{
    ck_assert(what >= 0 && what < LIVE_METRICS);
    m->count[what]++;
    m->last_value[what] = value;
    snprintf(m->last_app, sizeof(m->last_app), "%s", app_id ? app_id : "(null)");
}

/* host->metric has no context argument: one function per node. */
static void
metric_0(const char *app_id, int what, double value)
{
    fake_metric(&live_nodes[0].metrics, app_id, what, value);
}

static void
metric_1(const char *app_id, int what, double value)
{
    fake_metric(&live_nodes[1].metrics, app_id, what, value);
}

int
live_node_load(int i, const char *plugin_file)
{
    live_node_t *n = &live_nodes[i];
    memset(n, 0, sizeof(*n));
    snprintf(n->node_id, sizeof(n->node_id), "node-%d", i);
    n->base = event_base_new();
    ck_assert_ptr_nonnull(n->base);
    n->host = (soketi_host_t){
        .size = sizeof(soketi_host_t),
        .abi_version = SOKETI_ADAPTER_ABI_VERSION,
        .base = n->base,
        .node_id = n->node_id,
        .config_get = fake_config_get,
        .log = fake_log,
        .metric = i == 0 ? metric_0 : metric_1,
    };
    fake_host_local(&n->host); /* this process has no sockets: every local answer is empty */
    const char *dir = getenv("SOKETI_PLUGIN_DIR_TEST");
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir && *dir ? dir : CHECK_REDIS_PLUGIN_DIR, plugin_file);
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    ck_assert_msg(dl != NULL, "dlopen %s: %s", path, dlerror());
    soketi_adapter_init_fn init = (soketi_adapter_init_fn)dlsym(dl, "soketi_adapter_init");
    ck_assert_ptr_nonnull(init);
    n->cleanup = (soketi_adapter_cleanup_fn)dlsym(dl, "soketi_adapter_cleanup");
    ck_assert_ptr_nonnull(n->cleanup);
    n->adapter.size = sizeof(n->adapter);
    int rv = init(&n->host, &n->adapter);
    if (rv != 0) {
        event_base_free(n->base);
        n->base = NULL;
        return rv;
    }
    /* the plugin stays loaded: the other node may use it, and the process ends soon */
    n->up = 1;
    return 0;
}

void
live_node_start(int i, const char *plugin_file)
{
    live_node_t *n = &live_nodes[i];
    ck_assert_int_eq(live_node_load(i, plugin_file), 0);
    ck_assert_ptr_nonnull(n->adapter.ops.cluster_transition);
    ck_assert_ptr_nonnull(n->adapter.ops.cluster_admit);
    ck_assert_ptr_nonnull(n->adapter.ops.rate_consume);
    ck_assert_ptr_nonnull(n->adapter.ops.cache_get);
    ck_assert_ptr_nonnull(n->adapter.ops.cache_set);
}

void
live_node_stop(int i)
{
    live_node_t *n = &live_nodes[i];
    if (!n->up)
        return;
    n->cleanup(&n->adapter);
    event_base_free(n->base);
    n->base = NULL;
    n->up = 0;
}

static uint64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int
live_pump(unsigned mask, int ms, const int *flag)
{
    uint64_t end = now_ms() + (uint64_t)ms;
    while (!(flag && *flag) && now_ms() < end) {
        for (int i = 0; i < LIVE_NODES; i++)
            if ((mask & (1u << i)) && live_nodes[i].up)
                event_base_loop(live_nodes[i].base, EVLOOP_NONBLOCK);
        usleep(500);
    }
    return flag ? *flag : 0;
}

/* ---- answers ----------------------------------------------------------------------------- */

static int answers_seen;

void
live_on_count(void *arg, int status, long count)
{
    live_answer_t *a = arg;
    a->calls++;
    a->status = status;
    a->count = count;
    a->seq = ++answers_seen;
}

void
live_on_consume(void *arg, int status, long used, long ms_left)
{
    live_answer_t *a = arg;
    a->calls++;
    a->status = status;
    a->count = used;
    a->ms_left = ms_left;
    a->seq = ++answers_seen;
}

void
live_on_value(void *arg, int status, const char *value, size_t len)
{
    live_answer_t *a = arg;
    a->calls++;
    a->status = status;
    a->has_value = value != NULL;
    a->len = len;
    ck_assert_uint_lt(len, sizeof(a->value));
    if (value)
        memcpy(a->value, value, len);
    a->seq = ++answers_seen;
}

void
live_until_ok(int i, live_ask_fn ask, const char *what)
{
    for (int tries = 0; tries < 100; tries++) {
        live_answer_t a = {0};
        ask(&live_nodes[i], &a);
        ck_assert(live_pump(LIVE_ALL, 3000, &a.calls));
        if (a.status == SOKETI_OK)
            return;
        live_pump(LIVE_ALL, 50, NULL);
    }
    ck_abort_msg("node-%d: %s", i, what);
}

/* A cache read: answered SOKETI_OK once the node's command connection is up. */
static void
ask_probe(live_node_t *n, live_answer_t *a)
{
    n->adapter.ops.cache_get(n->adapter.self, "live:probe", live_on_value, a);
}

void
live_nodes_start(const char *plugin_file)
{
    fake_config_set("database.redis.keyPrefix", "pfx:");
    fake_config_set("adapter.redis.nodeTtl", "2");
    fake_config_set("adapter.redis.requestsTimeout", "500");
    for (int i = 0; i < LIVE_NODES; i++)
        live_node_start(i, plugin_file);
    for (int i = 0; i < LIVE_NODES; i++)
        live_until_ok(i, ask_probe, "never reached redis");
}

void
live_nodes_stop(void)
{
    for (int i = 0; i < LIVE_NODES; i++)
        live_node_stop(i);
}

/* Waits (running node i's loop only: a frozen node stays frozen) for the answer an op of
 * node i is to give a. */
static long
live_wait(int i, live_answer_t *a)
{
    ck_assert_int_eq(a->calls, 0); /* never before the op returns */
    ck_assert_msg(live_pump(1u << i, 3000, &a->calls), "no answer");
    ck_assert_int_eq(a->calls, 1);
    return a->status == SOKETI_OK ? a->count : -1;
}

long
live_admit(int i, const char *channel, const char *user_id, long limit)
{
    live_node_t *n = &live_nodes[i];
    live_answer_t a = {0};
    n->adapter.ops.cluster_admit(n->adapter.self, "app1", channel, user_id, limit, live_on_count,
                                 &a);
    return live_wait(i, &a);
}

long
live_transition(int i, const char *channel, const char *user_id, int joined)
{
    live_node_t *n = &live_nodes[i];
    live_answer_t a = {0};
    n->adapter.ops.cluster_transition(n->adapter.self, "app1", channel, user_id, joined,
                                      live_on_count, &a);
    return live_wait(i, &a);
}
