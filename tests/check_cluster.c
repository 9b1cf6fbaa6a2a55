/* check_cluster.c - the cluster adapter plugin (adapter_cluster.so) loaded into two fake
 * daemons of this process, each on its own event loop, talking unicast on loopback: the
 * count of nodes a query waits for, answers to peers cut to one datagram, a frozen peer,
 * cleanup with queries in flight, refused options, hostile datagrams.
 *
 * The test first moves into a network namespace of its own (unshare; as root, as CI runs)
 * so that not even loopback is shared; without that it runs on the host's loopback, which
 * unicast to 127.0.0.1 never leaves. Every node is configured with unicast addresses: a
 * broadcast would reach the real network.
 */
#include "check_main.h"
#include <check.h>
#include <dlfcn.h>
#include <event2/event.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check_redis_fakehost.h"

#define NODES 2
#define METRICS 16

typedef struct node_s {
    soketi_host_t host;
    soketi_adapter_t adapter;
    soketi_adapter_cleanup_fn cleanup;
    struct event_base *base;
    int metrics[METRICS];
    char node_id[16];
    int up;
} node_t;

static node_t nodes[NODES];
static int ports[NODES];

/* ---- the fake daemons ----------------------------------------------------------------- */

#define CONFIG_MAX 16
static struct {
    const char *name;
    char value[512];
} config[CONFIG_MAX];
static int n_config;

__attribute__((format(printf, 2, 3))) static void
config_set(const char *name, const char *fmt, ...)
{
    int i = 0;
    while (i < n_config && strcmp(config[i].name, name) != 0)
        i++;
    ck_assert_int_lt(i, CONFIG_MAX);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(config[i].value, sizeof(config[i].value), fmt, ap);
    va_end(ap);
    config[i].name = name;
    n_config += i == n_config;
}

static const char *
config_get(const char *name)
{
    for (int i = 0; i < n_config; i++)
        if (strcmp(config[i].name, name) == 0)
            return config[i].value;
    return NULL;
}

/* Every line logged since the test started (cut when full). */
static char logged[1 << 18];
static size_t logged_len;

__attribute__((format(printf, 2, 3))) static void
fake_log(int level, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (level <= SOKETI_LOG_WARN || getenv("CHECK_CLUSTER_DEBUG"))
        fprintf(stderr, "[%d] %s\n", level, line);
    logged_len += (size_t)snprintf(logged + logged_len, sizeof(logged) - logged_len, "%s\n", line);
    if (logged_len >= sizeof(logged))
        logged_len = sizeof(logged) - 1;
}

/* Asserts that a line holding text was logged. */
#define ASSERT_LOGGED(text) ck_assert_msg(strstr(logged, (text)), "not logged: %s", (text))

static void
metric_0(const char *app_id, int what, double value)
{
    (void)app_id, (void)value;
    nodes[0].metrics[what]++;
}

static void
metric_1(const char *app_id, int what, double value)
{
    (void)app_id, (void)value;
    nodes[1].metrics[what]++;
}

/* A free UDP port on loopback. */
static int
free_udp_port(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof(a);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
    ck_assert(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* The options both nodes share: unicast to both on loopback, short timeouts. Starts the
 * test's log afresh. */
static void
config_cluster(void)
{
    n_config = 0;
    logged_len = 0;
    logged[0] = '\0';
    for (int i = 0; i < NODES; i++)
        ports[i] = free_udp_port();
    config_set("cluster.unicast", "[\"127.0.0.1:%d\",\"127.0.0.1:%d\"]", ports[0], ports[1]);
    config_set("cluster.helloInterval", "100");
    config_set("cluster.checkInterval", "100");
    config_set("cluster.nodeTimeout", "400");
    config_set("cluster.masterTimeout", "400");
    config_set("adapter.cluster.requestsTimeout", "300");
}

/* Loads the plugin into node i on its port; answers what init answered. */
static int
node_start(int i)
{
    node_t *n = &nodes[i];
    memset(n, 0, sizeof(*n));
    snprintf(n->node_id, sizeof(n->node_id), "node-%d", i);
    config_set("cluster.port", "%d", ports[i]);
    ck_assert_ptr_nonnull(n->base = event_base_new());
    n->host = (soketi_host_t){.size = sizeof(soketi_host_t),
                              .abi_version = SOKETI_ADAPTER_ABI_VERSION,
                              .base = n->base,
                              .node_id = n->node_id,
                              .config_get = config_get,
                              .log = fake_log,
                              .metric = i == 0 ? metric_0 : metric_1};
    fake_host_local(&n->host);
    const char *dir = getenv("SOKETI_PLUGIN_DIR_TEST");
    char path[1024];
    snprintf(path, sizeof(path), "%s/adapter_cluster.so",
             dir && *dir ? dir : CHECK_CLUSTER_PLUGIN_DIR);
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    ck_assert_msg(dl != NULL, "dlopen %s: %s", path, dlerror());
    soketi_adapter_init_fn init = (soketi_adapter_init_fn)dlsym(dl, "soketi_adapter_init");
    n->cleanup = (soketi_adapter_cleanup_fn)dlsym(dl, "soketi_adapter_cleanup");
    ck_assert(init && n->cleanup);
    n->adapter.size = sizeof(n->adapter);
    int rv = init(&n->host, &n->adapter);
    if (rv != 0) {
        event_base_free(n->base);
        return rv;
    }
    /* no broker, no shared state: the daemon decides per node */
    ck_assert_ptr_null(n->adapter.ops.cluster_transition);
    ck_assert_ptr_null(n->adapter.ops.cluster_admit);
    ck_assert_ptr_null(n->adapter.ops.rate_consume);
    ck_assert_ptr_null(n->adapter.ops.cache_get);
    n->up = 1;
    return 0;
}

static void
node_stop(int i)
{
    node_t *n = &nodes[i];
    if (!n->up)
        return;
    n->cleanup(&n->adapter);
    event_base_free(n->base);
    n->up = 0;
}

static uint64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Runs the loops of the nodes in mask for ms, or until *flag is set. Returns *flag. */
static int
pump(unsigned mask, int ms, const int *flag)
{
    uint64_t end = now_ms() + (uint64_t)ms;
    while (!(flag && *flag) && now_ms() < end) {
        for (int i = 0; i < NODES; i++)
            if ((mask & (1u << i)) && nodes[i].up)
                event_base_loop(nodes[i].base, EVLOOP_NONBLOCK);
        usleep(500);
    }
    return flag ? *flag : 0;
}

/* ---- answers -------------------------------------------------------------------------- */

typedef struct answer_s {
    int calls, status;
    long count;
    size_t n;
} answer_t;

static void
on_count(void *arg, int status, long count)
{
    answer_t *a = arg;
    a->calls++;
    a->status = status;
    a->count = count;
}

static void
on_channels(void *arg, int status, const soketi_channel_count_t *channels, size_t n)
{
    answer_t *a = arg;
    (void)channels;
    a->calls++;
    a->status = status;
    a->n = n;
}

/* Node i's sockets_count, pumping the nodes in mask until it answers (3 s at most). */
static answer_t
ask_count(int i, unsigned mask)
{
    answer_t a = {0};
    nodes[i].adapter.ops.sockets_count(nodes[i].adapter.self, "app", on_count, &a);
    ck_assert_msg(pump(mask, 3000, &a.calls), "node-%d's query was not answered", i);
    return a;
}

/* Starts both nodes on the options set (config_cluster) and waits until each counts the
 * other (a query answered in full). */
static void
start_both(void)
{
    ck_assert_int_eq(node_start(0), 0);
    ck_assert_int_eq(node_start(1), 0);
    fake_local = (fake_local_t){.sockets = 3};
    for (int tries = 0; tries < 50; tries++) {
        pump(3, 50, NULL);
        answer_t a = ask_count(0, 3), b = ask_count(1, 3);
        if (a.status == SOKETI_OK && a.count == 6 && b.status == SOKETI_OK && b.count == 6)
            return;
    }
    ck_abort_msg("the nodes did not find each other");
}

static void
stop_both(void)
{
    node_stop(0);
    node_stop(1);
}

/* ---- tests ---------------------------------------------------------------------------- */

START_TEST(two_nodes_broadcast_and_answer)
{
    config_cluster();
    start_both();
    ck_assert_int_gt(nodes[0].metrics[SOKETI_METRIC_RESOLVED], 0);
    fake_local.delivered = 0;
    const char *msg = "{\"event\":\"e\",\"channel\":\"c\",\"data\":\"{}\"}";
    nodes[0].adapter.ops.broadcast(nodes[0].adapter.self, "app", "c", msg, strlen(msg), NULL);
    ck_assert_int_eq(fake_local.delivered, 1); /* here at once */
    pump(3, 200, NULL);
    ck_assert_int_eq(fake_local.delivered, 2); /* and on the other node, once */
    stop_both();
}
END_TEST

START_TEST(too_large_broadcast_stays_local_and_counted)
{
    config_cluster();
    start_both();
    fake_local.delivered = 0;
    size_t len = 70 * 1024;
    char *msg = malloc(len + 64);
    int n = snprintf(msg, 64, "{\"event\":\"e\",\"channel\":\"c\",\"data\":\"");
    memset(msg + n, 'x', len);
    strcpy(msg + n + len, "\"}");
    nodes[0].adapter.ops.broadcast(nodes[0].adapter.self, "app", "c", msg, strlen(msg), NULL);
    free(msg);
    pump(3, 300, NULL);
    ck_assert_int_eq(fake_local.delivered, 1);
    ck_assert_int_eq(nodes[0].metrics[SOKETI_METRIC_MESSAGE_DROPPED], 1);
    ASSERT_LOGGED("more than one UDP datagram holds (65507)");
    stop_both();
}
END_TEST

START_TEST(answers_cut_to_one_datagram)
{
    config_cluster();
    start_both();
    fake_local.channels = 5000; /* about 80 KB of [name, count] pairs */
    answer_t a = {0};
    nodes[0].adapter.ops.channels(nodes[0].adapter.self, "app", on_channels, &a);
    ck_assert(pump(3, 3000, &a.calls));
    ck_assert_int_eq(a.status, SOKETI_PARTIAL); /* the peer said its answer is partial */
    ck_assert_uint_eq(a.n, 5000);               /* this node's own, merged with what came */
    ck_assert_int_eq(nodes[1].metrics[SOKETI_METRIC_RESPONSE_TRUNCATED], 1);
    ck_assert_int_eq(nodes[0].metrics[SOKETI_METRIC_RESPONSE_RECEIVED] > 0, 1);
    ck_assert_int_eq(nodes[1].metrics[SOKETI_METRIC_MESSAGE_DROPPED], 0); /* it was sent */
    fake_local.channels = 0;
    stop_both();
}
END_TEST

START_TEST(frozen_peer_waited_for_until_dropped)
{
    config_cluster();
    start_both();
    /* node 1 stops running: node 0 still counts it, and waits requestsTimeout (300 ms) */
    uint64_t t0 = now_ms();
    answer_t a = ask_count(0, 1);
    ck_assert_int_eq(a.status, SOKETI_PARTIAL);
    ck_assert_int_eq(a.count, 3);
    ck_assert_uint_ge(now_ms() - t0, 250);
    /* after nodeTimeout (400 ms) it is dropped: answered alone at once, in full */
    pump(1, 600, NULL);
    ASSERT_LOGGED("left: not heard from for 400 ms; 0 other node(s)");
    a = ask_count(0, 1);
    ck_assert_int_eq(a.status, SOKETI_OK);
    ck_assert_int_eq(a.count, 3);
    stop_both();
}
END_TEST

START_TEST(cleanup_answers_queries_in_flight)
{
    config_cluster();
    start_both();
    answer_t a = {0}, b = {0};
    nodes[0].adapter.ops.sockets_count(nodes[0].adapter.self, "app", on_count, &a);
    nodes[0].adapter.ops.channels(nodes[0].adapter.self, "app", on_channels, &b);
    node_stop(0); /* before the count of nodes was even reported */
    ck_assert_int_eq(a.calls, 1);
    ck_assert_int_eq(a.status, SOKETI_PARTIAL);
    ck_assert_int_eq(b.calls, 1);
    node_stop(1);
}
END_TEST

START_TEST(options_refused)
{
    config_cluster();
    config_set("cluster.nodeTimeout", "50");
    ck_assert_int_ne(node_start(0), 0);
    ASSERT_LOGGED("nodeTimeout must be greater than or equal to checkInterval");
    config_cluster();
    config_set("cluster.unicast", "[1]");
    ck_assert_int_ne(node_start(0), 0);
    config_set("cluster.unicast", "\"127.0.0.1:99999\"");
    ck_assert_int_ne(node_start(0), 0);
    config_set("cluster.unicast", "null");
    config_set("cluster.multicast", "127.0.0.1");
    ck_assert_int_ne(node_start(0), 0);
    ASSERT_LOGGED("is not a multicast address");
    /* a comma-separated string, spaces around the addresses */
    config_set("cluster.multicast", "%s", "null");
    config_set("cluster.unicast", "\" 127.0.0.1:%d , 127.0.0.1:%d\"", ports[0], ports[1]);
    ck_assert_int_eq(node_start(0), 0);
    ASSERT_LOGGED("unicast to 127.0.0.1:");
    node_stop(0);
}
END_TEST

/* Sends len bytes to node i's port. */
static void
send_to(int i, const void *buf, size_t len)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)ports[i])};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert(fd >= 0);
    sendto(fd, buf, len, 0, (struct sockaddr *)&a, sizeof(a));
    close(fd);
}

START_TEST(hostile_datagrams_bounded)
{
    config_cluster();
    config_set("cluster.maxNodes", "8");
    start_both();
    char *big = malloc(65507);
    memset(big, '[', 65507);
    char hello[256];
    for (int k = 0; k < 40; k++) {
        send_to(0, big, 65507);                            /* nested too deep */
        send_to(0, "\xff\x00garbage", 9);                  /* not JSON */
        send_to(0, "{\"event\":\"hello\",\"iid\":1}", 25); /* no usable iid */
        int n =
            snprintf(hello, sizeof(hello),
                     "{\"event\":\"hello\",\"pid\":\"p\",\"iid\":\"fake-%d\",\"hostName\":\"h\","
                     "\"data\":{\"isMaster\":true,\"weight\":9}}",
                     k);
        send_to(0, hello, (size_t)n);
        pump(3, 2, NULL);
    }
    free(big);
    pump(3, 50, NULL);
    /* 7 fake nodes fit beside node 1, the 33 others were ignored; every drop counted (the
     * hellos without a string iid are ignored unseen, as node-discover cannot key them) */
    ck_assert_int_eq(nodes[0].metrics[SOKETI_METRIC_MESSAGE_DROPPED], 40 + 40 + 33);
    ASSERT_LOGGED("the node table is full (cluster.maxNodes is 8)");
    ASSERT_LOGGED("not a packet");
    answer_t a = {0};
    nodes[0].adapter.ops.sockets_count(nodes[0].adapter.self, "app", on_count, &a);
    ck_assert(pump(3, 3000, &a.calls));
    ck_assert_int_eq(a.status, SOKETI_PARTIAL); /* the fake nodes never answer */
    /* they are dropped after nodeTimeout; node 1 still answers */
    pump(3, 700, NULL);
    a = ask_count(0, 3);
    ck_assert_int_eq(a.status, SOKETI_OK);
    ck_assert_int_eq(a.count, 6);
    stop_both();
}
END_TEST

static Suite *
cluster_suite(void)
{
    Suite *s = suite_create("cluster");
    TCase *tc = tcase_create("live");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, two_nodes_broadcast_and_answer);
    tcase_add_test(tc, too_large_broadcast_stays_local_and_counted);
    tcase_add_test(tc, answers_cut_to_one_datagram);
    tcase_add_test(tc, frozen_peer_waited_for_until_dropped);
    tcase_add_test(tc, cleanup_answers_queries_in_flight);
    tcase_add_test(tc, options_refused);
    tcase_add_test(tc, hostile_datagrams_bounded);
    suite_add_tcase(s, tc);
    return s;
}

/* Moves the test into a network namespace of its own with loopback up, when it may. */
static void
private_network(void)
{
    if (unshare(CLONE_NEWNET) != 0) {
        fprintf(stderr, "check_cluster: no network namespace of its own (not root): on the host's "
                        "loopback\n");
        return;
    }
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct ifreq ifr = {0};
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
    if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) != 0 ||
        (ifr.ifr_flags |= IFF_UP, ioctl(fd, SIOCSIFFLAGS, &ifr)) != 0) {
        fprintf(stderr, "check_cluster: cannot bring loopback up in its namespace\n");
        exit(EXIT_FAILURE);
    }
    close(fd);
}

int
main(void)
{
    private_network();
    return skt_check_run(cluster_suite());
}
