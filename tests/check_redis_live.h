/* check_redis_live.h - what the Redis plugin tests need to run the real plugins: redis-server
 * processes on free loopback ports, a blocking hiredis client to look at them, and fake
 * daemons ("nodes") that dlopen a plugin with a fake host table, each on its own event
 * loop, so that a test can run one node's loop and not the other's (a frozen node). The
 * cluster adapter's test (check_cluster.c) uses the fake daemons alone.
 *
 * Every redis-server is started with PR_SET_PDEATHSIG, so it dies with the test process
 * that started it, even when Check kills a test that timed out.
 */
#ifndef SKT_TESTS_CHECK_REDIS_LIVE_H
#define SKT_TESTS_CHECK_REDIS_LIVE_H

#include <soketi/adapter.h>
#include <hiredis/hiredis.h>
#include <sys/types.h>

#include "fake_config.h" /* the nodes' options and log */
#include "test_port.h"   /* the servers' ports */

#define LIVE_NODES 2

/* One redis-server. */
typedef struct live_redis_s {
    pid_t pid;
    int port;
    char dir[64];      /* its working directory (cluster config files) */
    redisContext *cli; /* a blocking client connected to it */
} live_redis_t;

/* 1 when redis-server ($REDIS_SERVER or on PATH) can be run. */
int live_redis_available(void);

/* 1 (said on stderr, under name) when redis-server cannot be run: the live tests
 * then pass without running, each starting with LIVE_OR_SKIP(). */
int live_skip(const char *name);
extern int live_skipped;
#define LIVE_OR_SKIP()                                                                             \
    do {                                                                                           \
        if (live_skipped)                                                                          \
            return;                                                                                \
    } while (0)

/* Starts redis-server on a free port without persistence, plus extra arguments (NULL
 * terminated, may be NULL); with cluster set, as a cluster node. Waits until it answers
 * PING (fails the test when it does not within 5 s). */
void live_redis_start(live_redis_t *r, int cluster);

/* Kills it (SIGKILL) and waits for it. Fine on a stopped or never started one. */
void live_redis_stop(live_redis_t *r);

/* A command on r's blocking client; the caller frees the reply (never NULL: a failed
 * command fails the test). */
redisReply *live_cmd(live_redis_t *r, const char *fmt, ...);
/* The same, answering the integer reply. */
long long live_int(live_redis_t *r, const char *fmt, ...);

/* ---- fake daemons ------------------------------------------------------------------- */

/* What each node's host->metric recorded. */
#define LIVE_METRICS 16 /* room for every enum soketi_metric value */
typedef struct live_metrics_s {
    int count[LIVE_METRICS]; /* by enum soketi_metric */
    double last_value[LIVE_METRICS];
    char last_app[64];
} live_metrics_t;

typedef struct live_node_s {
    soketi_host_t host;
    soketi_adapter_t adapter;
    soketi_adapter_cleanup_fn cleanup;
    struct event_base *base;
    live_metrics_t metrics;
    char node_id[32];
    int up;
} live_node_t;

extern live_node_t live_nodes[LIVE_NODES];

/* Loads plugin_file (e.g. "adapter_redis.so", from the build's plugin directory) into node
 * i with node id "node-<i>" and inits it. Returns what init returned (the node is up only
 * when 0). */
int live_node_load(int i, const char *plugin_file);
/* The same, failing the test when init refuses or the plugin lacks the shared-state ops. */
void live_node_start(int i, const char *plugin_file);

/* Cleans up node i's plugin and frees its loop. Fine on a node that is not up. */
void live_node_stop(int i);

/* Runs the loops of the nodes in mask (bit i: node i) for ms milliseconds, or until *flag
 * is non-zero when flag is set. Returns *flag (or 0). */
int live_pump(unsigned mask, int ms, const int *flag);
#define LIVE_ALL ((1u << LIVE_NODES) - 1)

/* One answer of an op, recorded by the callbacks below (arg: a live_answer_t). */
typedef struct live_answer_s {
    int calls;
    int status;
    long count;   /* count callbacks; rate limits: used */
    long ms_left; /* rate limits */
    char value[256];
    size_t len;
    int has_value;
    int seq; /* its place among every answer recorded (1, 2, ...) */
} live_answer_t;

void live_on_count(void *arg, int status, long count);
void live_on_consume(void *arg, int status, long used, long ms_left);
void live_on_value(void *arg, int status, const char *value, size_t len);

/* Asks node n something; the answer goes to a (through the live_on_* callbacks). */
typedef void (*live_ask_fn)(live_node_t *n, live_answer_t *a);

/* Asks node i (running every loop) until the answer is SOKETI_OK; fails the test with
 * what after 100 tries. */
void live_until_ok(int i, live_ask_fn ask, const char *what);

/* Starts every node with plugin_file, on the options set so far plus keyPrefix "pfx:",
 * nodeTtl 2 s and requestsTimeout 500 ms, and waits until each reaches Redis. */
void live_nodes_start(const char *plugin_file);
void live_nodes_stop(void);

/* Calls node i's cluster_transition and waits (running node i's loop only) up to 3 s for
 * the answer.
 * Returns the answer's count, or -1 for SOKETI_ERROR (the test fails on no answer). */
long live_transition(int i, const char *channel, const char *user_id, int joined);

/* The same for cluster_admit (app "app1"): the answer's count (0, 1, 2), or -1 for
 * SOKETI_ERROR. */
long live_admit(int i, const char *channel, const char *user_id, long limit);

#endif
