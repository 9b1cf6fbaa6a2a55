/* check_cluster.c - the cluster adapter plugin (adapter_cluster.so) loaded into two fake
 * daemons of this process, each on its own event loop, talking unicast on loopback: the
 * count of nodes a query waits for, answers to peers cut to one datagram, a frozen peer,
 * cleanup with queries in flight, refused options, hostile datagrams. The fake daemons are
 * the Redis plugin tests' (check_redis_live.c), without a redis-server.
 *
 * The test first moves into a network namespace of its own (unshare; as root, as CI runs)
 * so that not even loopback is shared; without that it runs on the host's loopback, which
 * unicast to 127.0.0.1 never leaves. Every node is configured with unicast addresses: a
 * broadcast would reach the real network.
 */
#include "check_main.h"
#include <check.h>
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
#include "check_redis_live.h"

static int ports[LIVE_NODES];

/* node i's metric what, as recorded. */
#define METRIC(i, what) (live_nodes[i].metrics.count[what])

/* Asserts that a line holding text was logged. */
#define ASSERT_LOGGED(text) ck_assert_msg(strstr(fake_logged(), (text)), "not logged: %s", (text))

/* Sets an option to a printf-made value. */
__attribute__((format(printf, 2, 3))) static void
config_set(const char *name, const char *fmt, ...)
{
    char value[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(value, sizeof(value), fmt, ap);
    va_end(ap);
    fake_config_set(name, value);
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
    fake_config_reset();
    fake_log_reset();
    for (int i = 0; i < LIVE_NODES; i++)
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
    config_set("cluster.port", "%d", ports[i]);
    int rv = live_node_load(i, "adapter_cluster.so");
    if (rv == 0) { /* no broker, no shared state: the daemon decides per node */
        ck_assert_ptr_null(live_nodes[i].adapter.ops.cluster_transition);
        ck_assert_ptr_null(live_nodes[i].adapter.ops.cluster_admit);
        ck_assert_ptr_null(live_nodes[i].adapter.ops.rate_consume);
        ck_assert_ptr_null(live_nodes[i].adapter.ops.cache_get);
    }
    return rv;
}

static uint64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- answers -------------------------------------------------------------------------- */

/* A channels answer: its status and how many channels it held. */
typedef struct channels_answer_s {
    int calls, status;
    size_t n;
} channels_answer_t;

static void
on_channels(void *arg, int status, const soketi_channel_count_t *channels, size_t n)
{
    channels_answer_t *a = arg;
    (void)channels;
    a->calls++;
    a->status = status;
    a->n = n;
}

/* Node i's sockets_count, pumping the nodes in mask until it answers (3 s at most). */
static live_answer_t
ask_count(int i, unsigned mask)
{
    live_answer_t a = {0};
    live_nodes[i].adapter.ops.sockets_count(live_nodes[i].adapter.self, "app", live_on_count, &a);
    ck_assert_msg(live_pump(mask, 3000, &a.calls), "node-%d's query was not answered", i);
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
        live_pump(LIVE_ALL, 50, NULL);
        live_answer_t a = ask_count(0, LIVE_ALL), b = ask_count(1, LIVE_ALL);
        if (a.status == SOKETI_OK && a.count == 6 && b.status == SOKETI_OK && b.count == 6)
            return;
    }
    ck_abort_msg("the nodes did not find each other");
}

static void
stop_both(void)
{
    live_node_stop(0);
    live_node_stop(1);
}

/* ---- tests ---------------------------------------------------------------------------- */

START_TEST(two_nodes_broadcast_and_answer)
{
    config_cluster();
    start_both();
    ck_assert_int_gt(METRIC(0, SOKETI_METRIC_RESOLVED), 0);
    fake_local.delivered = 0;
    const char *msg = "{\"event\":\"e\",\"channel\":\"c\",\"data\":\"{}\"}";
    live_nodes[0].adapter.ops.broadcast(live_nodes[0].adapter.self, "app", "c", msg, strlen(msg),
                                        NULL);
    ck_assert_int_eq(fake_local.delivered, 1); /* here at once */
    live_pump(LIVE_ALL, 200, NULL);
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
    live_nodes[0].adapter.ops.broadcast(live_nodes[0].adapter.self, "app", "c", msg, strlen(msg),
                                        NULL);
    free(msg);
    live_pump(LIVE_ALL, 300, NULL);
    ck_assert_int_eq(fake_local.delivered, 1);
    ck_assert_int_eq(METRIC(0, SOKETI_METRIC_MESSAGE_DROPPED), 1);
    ASSERT_LOGGED("more than one UDP datagram holds (65507)");
    stop_both();
}
END_TEST

START_TEST(answers_cut_to_one_datagram)
{
    config_cluster();
    start_both();
    fake_local.channels = 5000; /* about 80 KB of [name, count] pairs */
    channels_answer_t a = {0};
    live_nodes[0].adapter.ops.channels(live_nodes[0].adapter.self, "app", on_channels, &a);
    ck_assert(live_pump(LIVE_ALL, 3000, &a.calls));
    ck_assert_int_eq(a.status, SOKETI_PARTIAL); /* the peer said its answer is partial */
    ck_assert_uint_eq(a.n, 5000);               /* this node's own, merged with what came */
    ck_assert_int_eq(METRIC(1, SOKETI_METRIC_RESPONSE_TRUNCATED), 1);
    ck_assert_int_eq(METRIC(0, SOKETI_METRIC_RESPONSE_RECEIVED) > 0, 1);
    ck_assert_int_eq(METRIC(1, SOKETI_METRIC_MESSAGE_DROPPED), 0); /* it was sent */
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
    live_answer_t a = ask_count(0, 1);
    ck_assert_int_eq(a.status, SOKETI_PARTIAL);
    ck_assert_int_eq(a.count, 3);
    ck_assert_uint_ge(now_ms() - t0, 250);
    /* after nodeTimeout (400 ms) it is dropped: answered alone at once, in full */
    live_pump(1, 600, NULL);
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
    live_answer_t a = {0};
    channels_answer_t b = {0};
    live_nodes[0].adapter.ops.sockets_count(live_nodes[0].adapter.self, "app", live_on_count, &a);
    live_nodes[0].adapter.ops.channels(live_nodes[0].adapter.self, "app", on_channels, &b);
    live_node_stop(0); /* before the count of nodes was even reported */
    ck_assert_int_eq(a.calls, 1);
    ck_assert_int_eq(a.status, SOKETI_PARTIAL);
    ck_assert_int_eq(b.calls, 1);
    live_node_stop(1);
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
    live_node_stop(0);
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
        live_pump(LIVE_ALL, 2, NULL);
    }
    free(big);
    live_pump(LIVE_ALL, 50, NULL);
    /* 7 fake nodes fit beside node 1, the 33 others were ignored; every drop counted (the
     * hellos without a string iid are ignored unseen, as node-discover cannot key them) */
    ck_assert_int_eq(METRIC(0, SOKETI_METRIC_MESSAGE_DROPPED), 40 + 40 + 33);
    ASSERT_LOGGED("the node table is full (cluster.maxNodes is 8)");
    ASSERT_LOGGED("not a packet");
    live_answer_t a = {0};
    live_nodes[0].adapter.ops.sockets_count(live_nodes[0].adapter.self, "app", live_on_count, &a);
    ck_assert(live_pump(LIVE_ALL, 3000, &a.calls));
    ck_assert_int_eq(a.status, SOKETI_PARTIAL); /* the fake nodes never answer */
    /* they are dropped after nodeTimeout; node 1 still answers */
    live_pump(LIVE_ALL, 700, NULL);
    a = ask_count(0, LIVE_ALL);
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
