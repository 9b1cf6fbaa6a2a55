/* check_nats_store.c - live tests of the state the NATS adapter shares in JetStream
 * (plugins/nats/nats_store.c, nats_kv.c): the real adapter_nats.so loaded twice, as two
 * daemons ("node-0", "node-1") with fake hosts on loops of their own (check_redis_live.c),
 * against a nats-server started here on a free loopback port.
 *
 * Occupancy counted once per cluster, also when both nodes join at the same instant (the
 * compare-and-set), in call order; a node that stops refreshing forgotten after nodeTtl, one
 * that cleans up forgotten at once; admission against a limit, atomic across nodes; who of a
 * list is held; rate limits and the cache shared by the nodes; and without JetStream, every
 * op answering SOKETI_ERROR (the host then decides alone).
 *
 * A missing nats-server fails the tests unless SOKETI_TEST_ALLOW_NO_NATS=1.
 */
#include "check_main.h"
#include <check.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_redis_live.h"

/* ---- nats-server ---------------------------------------------------------------------- */

typedef struct live_nats_s {
    pid_t pid;
    int port;
    char dir[64];
} live_nats_t;

static live_nats_t nats;

static const char *
nats_bin(void)
{
    const char *b = getenv("NATS_SERVER");
    return b && *b ? b : "nats-server";
}

/* 1 once something accepts on port and greets with INFO. */
static int
nats_answers(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    char buf[8] = {0};
    int ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
             recv(fd, buf, 4, MSG_WAITALL) == 4 && memcmp(buf, "INFO", 4) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

/* Starts nats-server on a free port, with JetStream (in memory, a fresh store directory)
 * when js is set, and waits until it greets (and, with JetStream, a little longer for it). */
static void
nats_start(int js)
{
    memset(&nats, 0, sizeof(nats));
    nats.port = test_port(0);
    snprintf(nats.dir, sizeof(nats.dir), "/tmp/skt-nats-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(nats.dir));
    char port[16];
    snprintf(port, sizeof(port), "%d", nats.port);
    pid_t parent = getpid();
    nats.pid = fork();
    ck_assert_int_ge(nats.pid, 0);
    if (nats.pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent || !freopen("/dev/null", "w", stderr))
            _exit(1);
        const char *argv[] = {nats_bin(),        "-a",  "127.0.0.1", "-p", port,
                              js ? "-js" : NULL, "-sd", nats.dir,    NULL};
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    for (int i = 0; i < 500 && !nats_answers(nats.port); i++)
        usleep(10000);
    ck_assert_msg(nats_answers(nats.port), "nats-server did not start on port %d", nats.port);
}

static void
nats_stop(void)
{
    if (nats.pid > 0) {
        kill(nats.pid, SIGKILL);
        waitpid(nats.pid, NULL, 0);
    }
    nats.pid = 0;
    if (nats.dir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", nats.dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", nats.dir);
    }
    nats.dir[0] = '\0';
}

/* ---- nodes ---------------------------------------------------------------------------- */

static void
ask_consume(live_node_t *n, live_answer_t *a)
{
    n->adapter.ops.rate_consume(n->adapter.self, "probe", 1, 1000, live_on_consume, a);
}

/* Starts both nodes on the server with nodeTtl 2 s; with js, waits until each can use
 * JetStream. */
static void
nodes_start(int js)
{
    char servers[64];
    snprintf(servers, sizeof(servers), "[\"127.0.0.1:%d\"]", nats.port);
    fake_config_reset();
    fake_config_set("adapter.nats.servers", servers);
    fake_config_set("adapter.nats.nodeTtl", "2");
    fake_config_set("adapter.nats.requestsTimeout", "500");
    for (int i = 0; i < LIVE_NODES; i++)
        live_node_start(i, "adapter_nats.so");
    ck_assert_ptr_nonnull(live_nodes[0].adapter.ops.cluster_admit);
    for (int i = 0; js && i < LIVE_NODES; i++)
        live_until_ok(i, ask_consume, "never reached JetStream");
}

static void
setup(int js)
{
    nats_start(js);
    nodes_start(js);
}

static void
setup_js(void)
{
    setup(1);
}

static void
setup_plain(void)
{
    setup(0);
}

static void
teardown(void)
{
    live_nodes_stop();
    nats_stop();
}

/* ---- occupancy ------------------------------------------------------------------------ */

START_TEST(transitions_once_per_cluster)
{
    ck_assert_int_eq(live_transition(0, "ch", NULL, 1), 1);
    ck_assert_int_eq(live_transition(1, "ch", NULL, 1), 0);
    ck_assert_int_eq(live_transition(0, "ch", NULL, 0), 0);
    ck_assert_int_eq(live_transition(1, "ch", NULL, 0), 1);
    /* presence members, and a user of another channel (its own key) */
    ck_assert_int_eq(live_transition(0, "presence-p", "alice", 1), 1);
    ck_assert_int_eq(live_transition(1, "presence-p", "alice", 1), 0);
    ck_assert_int_eq(live_transition(1, "presence-p", "bob", 1), 1);
    ck_assert_int_eq(live_transition(0, "#online", "carol", 1), 1);
    ck_assert_int_eq(live_transition(1, "#online", "carol", 1), 0);
    ck_assert_int_eq(live_transition(1, "presence-p", "alice", 0), 0);
    ck_assert_int_eq(live_transition(0, "presence-p", "alice", 0), 1);
}
END_TEST

/* Both nodes join (then leave) the same keys at the same instant, many times: exactly one
 * of them is first (last), whatever order JetStream sees them in. */
START_TEST(simultaneous_joins_decide_once)
{
    for (int round = 0; round < 10; round++) {
        char ch[32];
        snprintf(ch, sizeof(ch), "race-%d", round);
        for (int joined = 1; joined >= 0; joined--) {
            live_answer_t a[2] = {{0}, {0}};
            for (int i = 0; i < 2; i++)
                live_nodes[i].adapter.ops.cluster_transition(live_nodes[i].adapter.self, "app1", ch,
                                                             NULL, joined, live_on_count, &a[i]);
            for (int k = 0; k < 300 && (!a[0].calls || !a[1].calls); k++)
                live_pump(LIVE_ALL, 10, NULL);
            ck_assert_int_eq(a[0].calls, 1);
            ck_assert_int_eq(a[1].calls, 1);
            ck_assert_int_eq(a[0].status, SOKETI_OK);
            ck_assert_int_eq(a[1].status, SOKETI_OK);
            ck_assert_msg(a[0].count + a[1].count == 1, "round %d %s: %ld + %ld", round,
                          joined ? "join" : "leave", a[0].count, a[1].count);
        }
    }
}
END_TEST

/* Calls for one key are answered in call order, batched into as few writes as they need. */
START_TEST(answers_in_call_order)
{
    live_answer_t a[5] = {{0}};
    live_node_t *n = &live_nodes[0];
    for (int i = 0; i < 5; i++)
        n->adapter.ops.cluster_transition(n->adapter.self, "app1", "ordered", NULL, i % 2 == 0,
                                          live_on_count, &a[i]);
    for (int k = 0; k < 300 && !a[4].calls; k++)
        live_pump(1, 10, NULL);
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(a[i].calls, 1);
        ck_assert_int_eq(a[i].status, SOKETI_OK);
        ck_assert_int_eq(a[i].count, 1);
        if (i)
            ck_assert_int_gt(a[i].seq, a[i - 1].seq);
    }
}
END_TEST

/* A node whose loop stops (it refreshes nothing) is forgotten after nodeTtl (2 s); one that
 * cleans up leaves at once. */
START_TEST(dead_nodes_forgotten)
{
    ck_assert_int_eq(live_transition(1, "frozen", NULL, 1), 1);
    ck_assert_int_eq(live_transition(0, "frozen", NULL, 1), 0);
    ck_assert_int_eq(live_transition(0, "frozen", NULL, 0), 0);
    live_pump(1, 2500, NULL); /* node 1 frozen for more than nodeTtl */
    ck_assert_int_eq(live_transition(0, "frozen", NULL, 1), 1);
    ck_assert_int_eq(live_transition(0, "frozen", NULL, 0), 1);

    ck_assert_int_eq(live_transition(1, "leaving", NULL, 1), 1);
    ck_assert_int_eq(live_transition(1, "presence-l", "u", 1), 1);
    live_node_stop(1);
    ck_assert_int_eq(live_transition(0, "leaving", NULL, 1), 1);
    ck_assert_int_eq(live_transition(0, "presence-l", "u", 1), 1);
}
END_TEST

/* Holding a key for longer than nodeTtl keeps it held: the refresh rewrites it. */
START_TEST(refresh_keeps_holders)
{
    ck_assert_int_eq(live_transition(1, "long", NULL, 1), 1);
    live_pump(LIVE_ALL, 3000, NULL);
    ck_assert_int_eq(live_transition(0, "long", NULL, 1), 0);
}
END_TEST

/* ---- admission ------------------------------------------------------------------------ */

START_TEST(admission_against_a_limit)
{
    ck_assert_int_eq(live_admit(0, "presence-lim", "u1", 2), 1);
    ck_assert_int_eq(live_admit(1, "presence-lim", "u2", 2), 1);
    ck_assert_int_eq(live_admit(0, "presence-lim", "u3", 2), 0);  /* full */
    ck_assert_int_eq(live_admit(1, "presence-lim", "u1", 2), 2);  /* counted once */
    ck_assert_int_eq(live_admit(0, "presence-lim", "u4", -1), 1); /* no limit */
    /* released by a leave: room again */
    ck_assert_int_eq(live_transition(0, "presence-lim", "u4", 0), 1);
    ck_assert_int_eq(live_transition(1, "presence-lim", "u2", 0), 1);
    ck_assert_int_eq(live_admit(0, "presence-lim", "u3", 2), 1);
    /* the last place, asked for by both nodes at once: one gets it */
    live_answer_t a[2] = {{0}, {0}};
    const char *who[2] = {"x", "y"};
    ck_assert_int_eq(live_transition(0, "presence-lim", "u3", 0), 1);
    for (int i = 0; i < 2; i++)
        live_nodes[i].adapter.ops.cluster_admit(live_nodes[i].adapter.self, "app1", "presence-lim",
                                                who[i], 2, live_on_count, &a[i]);
    for (int k = 0; k < 300 && (!a[0].calls || !a[1].calls); k++)
        live_pump(LIVE_ALL, 10, NULL);
    ck_assert_int_eq(a[0].status, SOKETI_OK);
    ck_assert_int_eq(a[1].status, SOKETI_OK);
    ck_assert_msg((a[0].count == 0) != (a[1].count == 0), "%ld, %ld", a[0].count, a[1].count);
    /* not a presence channel: cannot tell */
    ck_assert_int_eq(live_admit(0, "private-x", "u", 5), -1);
}
END_TEST

/* ---- who is present ------------------------------------------------------------------- */

typedef struct ids_answer_s {
    int calls, status;
    char got[256];
} ids_answer_t;

static void
on_ids(void *arg, int status, const char *const *ids, size_t n)
{
    ids_answer_t *a = arg;
    a->calls++;
    a->status = status;
    a->got[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        strncat(a->got, ids[i], sizeof(a->got) - strlen(a->got) - 2);
        strcat(a->got, ",");
    }
}

static void
present_is(int node, const char *channel, const char *want)
{
    const char *ids[] = {"alice", "bob", "carol"};
    ids_answer_t a = {0};
    live_node_t *n = &live_nodes[node];
    n->adapter.ops.cluster_present(n->adapter.self, "app1", channel, ids, 3, on_ids, &a);
    ck_assert(live_pump(LIVE_ALL, 3000, &a.calls));
    ck_assert_int_eq(a.status, SOKETI_OK);
    ck_assert_str_eq(a.got, want);
}

START_TEST(present_users)
{
    ck_assert_int_eq(live_transition(0, "presence-w", "alice", 1), 1);
    ck_assert_int_eq(live_transition(1, "presence-w", "bob", 1), 1);
    present_is(0, "presence-w", "alice,bob,");
    present_is(1, "presence-w", "alice,bob,");
    ck_assert_int_eq(live_transition(0, "#online", "carol", 1), 1);
    ck_assert_int_eq(live_transition(1, "#online", "alice", 1), 1);
    present_is(1, "#online", "alice,carol,");
    ck_assert_int_eq(live_transition(0, "#online", "carol", 0), 1);
    present_is(1, "#online", "alice,");
}
END_TEST

/* ---- rate limits and the cache -------------------------------------------------------- */

START_TEST(rate_limits_shared)
{
    live_answer_t a[4] = {{0}};
    live_node_t *n0 = &live_nodes[0], *n1 = &live_nodes[1];
    n0->adapter.ops.rate_consume(n0->adapter.self, "app:1:backend", 2, 5000, live_on_consume,
                                 &a[0]);
    ck_assert(live_pump(LIVE_ALL, 3000, &a[0].calls));
    ck_assert_int_eq(a[0].count, 2);
    ck_assert_int_le(a[0].ms_left, 5000);
    /* the other node's points join the same window; three calls at once, in order */
    for (int i = 1; i < 4; i++)
        n1->adapter.ops.rate_consume(n1->adapter.self, "app:1:backend", i, 5000, live_on_consume,
                                     &a[i]);
    for (int k = 0; k < 300 && !a[3].calls; k++)
        live_pump(LIVE_ALL, 10, NULL);
    ck_assert_int_eq(a[1].count, 3);
    ck_assert_int_eq(a[2].count, 5);
    ck_assert_int_eq(a[3].count, 8);
    ck_assert_int_gt(a[3].seq, a[2].seq);
    ck_assert_int_gt(a[2].seq, a[1].seq);
}
END_TEST

/* Nodes taking turns: each writes from the value and revision it last saw, already replaced
 * by the other node's write, so every write but the first conflicts and is decided again on a
 * fresh read; each point is still counted exactly once (the shape of nats-shared.test.mjs's
 * four events alternating A and B). */
START_TEST(rate_limits_alternating_nodes)
{
    for (long i = 0; i < 6; i++) {
        live_answer_t a = {0};
        live_node_t *n = &live_nodes[i % 2];
        n->adapter.ops.rate_consume(n->adapter.self, "app:2:backend", 1, 5000, live_on_consume, &a);
        ck_assert(live_pump(LIVE_ALL, 3000, &a.calls));
        ck_assert_int_eq(a.status, SOKETI_OK);
        ck_assert_int_eq(a.count, i + 1);
    }
}
END_TEST

START_TEST(cache_shared)
{
    live_node_t *n0 = &live_nodes[0], *n1 = &live_nodes[1];
    n0->adapter.ops.cache_set(n0->adapter.self, "app:1:channel:cache-a:cache_miss", "{\"x\":1}", 7,
                              60);
    n0->adapter.ops.cache_set(n0->adapter.self, "short", "v", 1, 1);
    live_pump(1, 200, NULL);
    live_answer_t a = {0}, b = {0}, c = {0};
    n1->adapter.ops.cache_get(n1->adapter.self, "app:1:channel:cache-a:cache_miss", live_on_value,
                              &a);
    ck_assert(live_pump(LIVE_ALL, 3000, &a.calls));
    ck_assert_int_eq(a.status, SOKETI_OK);
    ck_assert_int_eq(a.has_value, 1);
    ck_assert_int_eq(a.len, 7);
    ck_assert_int_eq(memcmp(a.value, "{\"x\":1}", 7), 0);
    n1->adapter.ops.cache_get(n1->adapter.self, "absent", live_on_value, &b);
    ck_assert(live_pump(LIVE_ALL, 3000, &b.calls));
    ck_assert_int_eq(b.status, SOKETI_OK);
    ck_assert_int_eq(b.has_value, 0);
    live_pump(LIVE_ALL, 1100, NULL); /* "short" expired */
    n1->adapter.ops.cache_get(n1->adapter.self, "short", live_on_value, &c);
    ck_assert(live_pump(LIVE_ALL, 3000, &c.calls));
    ck_assert_int_eq(c.has_value, 0);
}
END_TEST

/* ---- without JetStream ---------------------------------------------------------------- */

START_TEST(no_jetstream_errors)
{
    live_pump(LIVE_ALL, 500, NULL); /* connected, JetStream found absent */
    ck_assert_int_eq(live_transition(0, "ch", NULL, 1), -1);
    ck_assert_int_eq(live_admit(0, "presence-x", "u", 3), -1);
    live_answer_t a = {0}, b = {0};
    live_node_t *n = &live_nodes[0];
    n->adapter.ops.rate_consume(n->adapter.self, "k", 1, 1000, live_on_consume, &a);
    ck_assert(live_pump(1, 3000, &a.calls));
    ck_assert_int_eq(a.status, SOKETI_ERROR);
    n->adapter.ops.cache_get(n->adapter.self, "k", live_on_value, &b);
    ck_assert(live_pump(1, 3000, &b.calls));
    ck_assert_int_eq(b.status, SOKETI_ERROR);
    ck_assert_int_eq(b.has_value, 0);
}
END_TEST

static int nats_missing;

/* The live tests fail without nats-server, unless skipping is allowed. */
static void
require_nats(void)
{
    ck_assert_msg(!nats_missing, "nats-server is not installed (scripts/deps.sh --test); set "
                                 "SOKETI_TEST_ALLOW_NO_NATS=1 to skip");
}

START_TEST(nats_installed)
{
    require_nats();
}
END_TEST

static Suite *
nats_store_suite(void)
{
    Suite *s = suite_create("nats_store");
    const char *bin = nats_bin();
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", bin);
    nats_missing = system(cmd) != 0;
    const char *allow = getenv("SOKETI_TEST_ALLOW_NO_NATS");
    if (nats_missing && allow && (strcmp(allow, "1") == 0 || strcmp(allow, "yes") == 0)) {
        fprintf(stderr, "nats_store: nats-server is not installed: skipped (allowed)\n");
        return s;
    }
    TCase *check = tcase_create("installed");
    tcase_add_test(check, nats_installed);
    suite_add_tcase(s, check);
    if (nats_missing)
        return s;
    TCase *js = tcase_create("jetstream");
    tcase_set_timeout(js, 30);
    tcase_add_checked_fixture(js, setup_js, teardown);
    tcase_add_test(js, transitions_once_per_cluster);
    tcase_add_test(js, simultaneous_joins_decide_once);
    tcase_add_test(js, answers_in_call_order);
    tcase_add_test(js, dead_nodes_forgotten);
    tcase_add_test(js, refresh_keeps_holders);
    tcase_add_test(js, admission_against_a_limit);
    tcase_add_test(js, present_users);
    tcase_add_test(js, rate_limits_shared);
    tcase_add_test(js, rate_limits_alternating_nodes);
    tcase_add_test(js, cache_shared);
    suite_add_tcase(s, js);
    TCase *plain = tcase_create("no-jetstream");
    tcase_set_timeout(plain, 30);
    tcase_add_checked_fixture(plain, setup_plain, teardown);
    tcase_add_test(plain, no_jetstream_errors);
    suite_add_tcase(s, plain);
    return s;
}

SKT_CHECK_MAIN(nats_store_suite)
