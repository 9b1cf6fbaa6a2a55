/* check_redis_horizontal.c - unit tests for what the horizontal layer lets peers cost
 * (plugins/redis/horizontal*.c): messages dropped before parsing (too large, too complex),
 * malformed ones, peers' requests over their rates, answers for other nodes' requests
 * skipped unread, our own broadcasts too large to publish, the throttled log of drops
 * and their metric.
 *
 * The layer runs on a fake transport (what it publishes is recorded, the subscriber
 * counts are answered by the test) and a fake host, on an event loop of its own.
 */
#include "check_main.h"
#include <check.h>
#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_redis_fakehost.h"
#include "codec.h"
#include "horizontal.h"
#include "horizontal_internal.h"

/* ---- the fake host and transport ---------------------------------------------------- */

#define MAX_PUBS 4096

typedef struct pub_s {
    int channel;
    char *data;
    size_t len;
} pub_t;

static struct event_base *base;
static soketi_host_t host;
static soketi_adapter_ops_t ops;
static skt_hz_t *hz;
static skt_hz_limits_t lim;
static pub_t pubs[MAX_PUBS];
static size_t n_pubs;
static skt_hz_req_t *numsubs[MAX_PUBS];
static size_t n_numsubs, numsub_head; /* the transport's pending counts, oldest first */
static int metrics[16];
static int warn_lines;
static char last_warn[2048];

static const char *
fake_config(const char *name)
{
    (void)name;
    return NULL; /* every limit at its default, then set by the test */
}

__attribute__((format(printf, 2, 3))) static void
fake_log(int level, const char *fmt, ...)
{
    if (level > SOKETI_LOG_WARN)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_warn, sizeof(last_warn), fmt, ap);
    va_end(ap);
    warn_lines++;
}

static void
fake_metric(const char *app_id, int what, double value)
{
    (void)app_id, (void)value;
    ck_assert(what >= 0 && what < 16);
    metrics[what]++;
}

static int
tr_ready(void *self)
{
    (void)self;
    return 1;
}

static int
tr_publish(void *self, int channel, const char *data, size_t len)
{
    (void)self;
    ck_assert_uint_lt(n_pubs, MAX_PUBS);
    pubs[n_pubs].channel = channel;
    pubs[n_pubs].data = strndup(data, len);
    pubs[n_pubs].len = len;
    n_pubs++;
    return 0;
}

static int
tr_numsub(void *self, skt_hz_req_t *req)
{
    (void)self;
    ck_assert_uint_lt(n_numsubs, MAX_PUBS);
    numsubs[n_numsubs++] = req;
    return 0;
}

static const skt_hz_transport_t tr = {
    .ready = tr_ready, .publish = tr_publish, .numsub = tr_numsub};

/* A layer with the limits in lim (the defaults unless the test changed them first). */
static void
hz_start(void)
{
    hz = skt_hz_new(&host, &tr, 1000, &lim, "test adapter");
    ck_assert_ptr_nonnull(hz);
    memset(&ops, 0, sizeof(ops));
    skt_hz_fill_ops(&ops);
}

static void
setup(void)
{
    base = event_base_new();
    ck_assert_ptr_nonnull(base);
    memset(&host, 0, sizeof(host));
    host.size = sizeof(host);
    host.abi_version = 1;
    host.base = base;
    host.node_id = "me";
    host.config_get = fake_config;
    host.log = fake_log;
    host.metric = fake_metric;
    fake_host_local(&host);
    fake_local = (fake_local_t){.sockets = 1, .channels = 2, .members = 1};
    memset(metrics, 0, sizeof(metrics));
    warn_lines = 0;
    last_warn[0] = '\0';
    n_pubs = n_numsubs = numsub_head = 0;
    skt_hz_limits_from_config(&host, &lim);
    hz = NULL;
}

static void
teardown(void)
{
    if (hz) {
        skt_hz_shutdown(hz);
        while (numsub_head < n_numsubs)
            skt_hz_numsub_done(numsubs[numsub_head++], -1);
        skt_hz_free(hz);
    }
    for (size_t i = 0; i < n_pubs; i++)
        free(pubs[i].data);
    event_base_free(base);
}

/* Feeds a message on channel. */
static void
feed(int channel, const char *text)
{
    skt_hz_on_message(hz, channel, text, strlen(text));
}

/* How many messages were published on channel. */
static size_t
published(int channel)
{
    size_t n = 0;
    for (size_t i = 0; i < n_pubs; i++)
        n += pubs[i].channel == channel;
    return n;
}

/* The transport answers the oldest subscriber count it was asked: n nodes listen. */
static void
numsub_next(long n)
{
    ck_assert_uint_lt(numsub_head, n_numsubs);
    skt_hz_numsub_done(numsubs[numsub_head++], n);
}

/* A peer's SOCKETS_COUNT request, from node uuid (NULL: a soketi node, which names none). */
static void
peer_request(const char *uuid, int seq)
{
    char text[256];
    snprintf(text, sizeof(text),
             "{\"requestId\":\"peer-req-%d\",\"appId\":\"app\",\"type\":4%s%s%s}", seq,
             uuid ? ",\"uuid\":\"" : "", uuid ? uuid : "", uuid ? "\"" : "");
    feed(SKT_HZ_REQUEST, text);
}

/* Where a count callback writes. */
typedef struct count_answer_s {
    int *status;
    long *count;
} count_answer_t;

static void
on_count(void *arg, int status, long count)
{
    count_answer_t *a = arg;
    *a->status = status;
    *a->count = count;
}

/* The requestId of a request we published (into id, 64 bytes). */
static void
request_id_of(const char *text, char *id)
{
    skt_rc_request_t r;
    ck_assert_int_eq(skt_rc_decode_request(text, strlen(text), &r), 0);
    snprintf(id, 64, "%s", r.request_id);
    ck_assert_str_eq(r.uuid, "me"); /* we name ourselves */
    skt_rc_request_clear(&r);
}

/* ---- item: messages dropped before they are parsed ---------------------------------- */

START_TEST(too_large_dropped_unread)
{
    lim.max_message = 1024;
    hz_start();
    char *big = malloc(2048);
    memset(big, ' ', 2047);
    memcpy(big, "{\"requestId\":\"r\",\"appId\":\"app\",\"type\":4}", 40);
    big[2047] = '\0';
    for (int ch = SKT_HZ_BROADCAST; ch <= SKT_HZ_RESPONSE; ch++)
        feed(ch, big);
    ck_assert_uint_eq(hz->dropped[SKT_HZ_DROP_TOO_LARGE], 3);
    ck_assert_int_eq(metrics[SOKETI_METRIC_MESSAGE_DROPPED], 3);
    ck_assert_int_eq(metrics[SOKETI_METRIC_REQUEST_RECEIVED], 0);
    ck_assert_uint_eq(n_pubs, 0);
    /* one line for the three: the reason, the size, the limit */
    ck_assert_int_eq(warn_lines, 1);
    ck_assert_ptr_nonnull(strstr(last_warn, "adapter.maxMessageSizeInKb"));
    ck_assert_ptr_nonnull(strstr(last_warn, "2047 bytes"));
    /* exactly the limit passes */
    big[1024] = '\0';
    feed(SKT_HZ_REQUEST, big);
    ck_assert_uint_eq(hz->dropped[SKT_HZ_DROP_TOO_LARGE], 3);
    ck_assert_uint_eq(published(SKT_HZ_RESPONSE), 1);
    free(big);
}
END_TEST

START_TEST(too_complex_dropped_unparsed)
{
    lim.max_message = 64 * 1024;
    hz_start();
    /* nested deeper than SKT_RC_MAX_DEPTH, inside a well-formed request */
    char deep[1024];
    int o =
        snprintf(deep, sizeof(deep), "{\"requestId\":\"r\",\"appId\":\"app\",\"type\":4,\"x\":");
    for (int i = 0; i < SKT_RC_MAX_DEPTH + 1; i++)
        deep[o++] = '[';
    for (int i = 0; i < SKT_RC_MAX_DEPTH + 1; i++)
        deep[o++] = ']';
    deep[o++] = '}';
    deep[o] = '\0';
    feed(SKT_HZ_REQUEST, deep);
    ck_assert_uint_eq(hz->dropped[SKT_HZ_DROP_TOO_COMPLEX], 1);
    ck_assert_ptr_nonnull(strstr(last_warn, "nested deeper than 64"));
    /* more values than a message of the maximum size may hold (one per 4 bytes) */
    size_t n = lim.max_message - 16;
    char *wide = malloc(n + 1);
    wide[0] = '[';
    for (size_t i = 1; i < n - 1; i += 2) {
        wide[i] = '1';
        wide[i + 1] = ',';
    }
    wide[n - 1] = ']';
    wide[n] = '\0';
    feed(SKT_HZ_RESPONSE, wide);
    ck_assert_uint_eq(hz->dropped[SKT_HZ_DROP_TOO_COMPLEX], 2);
    ck_assert_int_eq(metrics[SOKETI_METRIC_MESSAGE_DROPPED], 2);
    free(wide);
    /* brackets and commas inside strings do not count */
    const char *fine = "{\"requestId\":\"r2\",\"appId\":\"[[[[[[,,,,,,,{{{{\",\"type\":4}";
    feed(SKT_HZ_REQUEST, fine);
    ck_assert_uint_eq(hz->dropped[SKT_HZ_DROP_TOO_COMPLEX], 2);
    ck_assert_uint_eq(published(SKT_HZ_RESPONSE), 1);
}
END_TEST

/* Every field of every message with the wrong type: dropped as malformed, counted, no
 * crash, nothing answered. */
START_TEST(wrong_types_dropped)
{
    hz_start();
    static const char *const bad[][2] = {
        {"0", "{\"uuid\":1,\"appId\":\"app\",\"channel\":[],\"data\":\"{}\"}"},
        {"0", "{\"uuid\":\"x\",\"appId\":null,\"channel\":\"c\",\"data\":\"{}\"}"},
        {"0", "{\"uuid\":\"x\",\"appId\":\"app\",\"channel\":\"c\",\"data\":[1]}"},
        {"0", "[{\"appId\":\"app\",\"channel\":\"c\",\"data\":\"{}\"}]"},
        {"1", "{\"requestId\":1,\"appId\":\"app\",\"type\":4}"},
        {"1", "{\"requestId\":\"r\",\"appId\":[],\"type\":4}"},
        {"1", "{\"requestId\":\"r\",\"appId\":\"app\",\"type\":4.5}"},
        {"1", "{\"requestId\":\"r\",\"appId\":\"app\",\"type\":1e300}"},
        {"1", "{\"requestId\":\"r\",\"appId\":\"app\",\"type\":-9223372036854775808}"},
        {"1", "{\"requestId\":\"r\",\"appId\":\"app\",\"type\":3,\"opts\":[]}"},
        {"1", "{\"requestId\":\"r\",\"appId\":\"app\",\"type\":9,\"opts\":{\"userId\":1.5}}"},
        {"2", "{\"requestId\":{},\"totalCount\":1}"},
        {"2", "{\"totalCount\":\"1\",\"requestId\":\"r\"}"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        feed(bad[i][0][0] - '0', bad[i][1]);
    ck_assert_uint_eq(hz->dropped[SKT_HZ_DROP_MALFORMED], sizeof(bad) / sizeof(bad[0]));
    ck_assert_int_eq(metrics[SOKETI_METRIC_MESSAGE_DROPPED], (int)(sizeof(bad) / sizeof(bad[0])));
    ck_assert_uint_eq(n_pubs, 0);
    ck_assert_int_eq(fake_local.delivered, 0);
    ck_assert_int_eq(warn_lines, 1); /* one reason, one line within the second */
}
END_TEST

/* ---- item: peers' requests rated ----------------------------------------------------- */

START_TEST(peer_requests_rated_per_peer)
{
    lim.peer_requests = 10;
    lim.peer_requests_total = 0;
    hz_start();
    for (int i = 0; i < 50; i++)
        peer_request("peer-a", i);
    ck_assert_uint_eq(published(SKT_HZ_RESPONSE), 10);
    ck_assert_uint_eq(hz->dropped[SKT_HZ_DROP_PEER_RATE], 40);
    ck_assert_int_eq(metrics[SOKETI_METRIC_REQUEST_RECEIVED], 10);
    ck_assert_ptr_nonnull(strstr(last_warn, "from node peer-a"));
    /* another peer has its own budget; soketi nodes (no uuid) only the total one */
    for (int i = 0; i < 50; i++)
        peer_request("peer-b", 100 + i);
    ck_assert_uint_eq(published(SKT_HZ_RESPONSE), 20);
    for (int i = 0; i < 50; i++)
        peer_request(NULL, 200 + i);
    ck_assert_uint_eq(published(SKT_HZ_RESPONSE), 70);
    /* the budget comes back with time: about 10 per second */
    usleep(300 * 1000);
    for (int i = 0; i < 50; i++)
        peer_request("peer-a", 300 + i);
    size_t more = published(SKT_HZ_RESPONSE) - 70;
    ck_assert_msg(more >= 2 && more <= 5, "%zu answered after 300 ms", more);
}
END_TEST

START_TEST(peer_requests_rated_in_total)
{
    lim.peer_requests = 10;
    lim.peer_requests_total = 25;
    hz_start();
    char uuid[16];
    for (int p = 0; p < 5; p++) {
        snprintf(uuid, sizeof(uuid), "peer-%d", p);
        for (int i = 0; i < 20; i++)
            peer_request(uuid, p * 100 + i);
    }
    for (int i = 0; i < 20; i++)
        peer_request(NULL, 1000 + i);
    /* peer-0 and peer-1 get 10 each (10 more of each over their own rate), peer-2 the 5
     * left in the total; the rest is over the total (a slow machine may refill one) */
    size_t answered = published(SKT_HZ_RESPONSE);
    ck_assert_msg(answered >= 25 && answered <= 27, "%zu answered", answered);
    ck_assert_uint_eq(hz->dropped[SKT_HZ_DROP_PEER_RATE], 20);
    ck_assert_uint_eq(hz->dropped[SKT_HZ_DROP_TOTAL_RATE], 120 - 20 - answered);
}
END_TEST

/* Rotating node ids cost no memory: the per-peer map starts over at its bound. */
START_TEST(peer_ids_bounded)
{
    lim.peer_requests = 1;
    lim.peer_requests_total = 0;
    hz_start();
    char uuid[32];
    for (int i = 0; i < 10 * SKT_HZ_MAX_PEERS; i++) {
        snprintf(uuid, sizeof(uuid), "forged-%d", i);
        peer_request(uuid, i);
        ck_assert_uint_le(skt_map_count(hz->peers.map), SKT_HZ_MAX_PEERS);
    }
}
END_TEST

/* ---- item: other nodes' answers are not read ---------------------------------------- */

START_TEST(unknown_response_ids_skipped_unread)
{
    hz_start();
    /* soketi's shape with an id none of ours: not even parsed (the rest is not JSON) */
    feed(SKT_HZ_RESPONSE,
         "{\"requestId\":\"3f1e0c2a-aaaa-4bbb-8ccc-1234567890ab\",\"members\":[[[[");
    feed(SKT_HZ_RESPONSE, "{\"requestId\":\"other\",\"totalCount\":-5}");
    ck_assert_uint_eq(hz->dropped[SKT_HZ_DROP_MALFORMED], 0);
    ck_assert_int_eq(metrics[SOKETI_METRIC_MESSAGE_DROPPED], 0);
    /* another key order: parsed, and dropped when malformed */
    feed(SKT_HZ_RESPONSE, "{\"totalCount\":-5,\"requestId\":\"other\"}");
    ck_assert_uint_eq(hz->dropped[SKT_HZ_DROP_MALFORMED], 1);

    /* a pending request of ours is read, and a hostile answer to it is dropped without
     * counting as the node's answer */
    long count = -1;
    int status = 99;
    ops.sockets_count(hz, "app", on_count, &(count_answer_t){&status, &count});
    ck_assert_uint_eq(published(SKT_HZ_REQUEST), 1);
    char id[64], text[256];
    request_id_of(pubs[n_pubs - 1].data, id);
    numsub_next(2); /* one other node */
    snprintf(text, sizeof(text), "{\"requestId\":\"%s\",\"totalCount\":1e300}", id);
    feed(SKT_HZ_RESPONSE, text);
    snprintf(text, sizeof(text), "{\"requestId\":\"%s\",\"totalCount\":-1}", id);
    feed(SKT_HZ_RESPONSE, text);
    ck_assert_uint_eq(hz->dropped[SKT_HZ_DROP_MALFORMED], 3);
    ck_assert_int_eq(status, 99);
    snprintf(text, sizeof(text), "{\"requestId\":\"%s\",\"totalCount\":4}", id);
    feed(SKT_HZ_RESPONSE, text);
    ck_assert_int_eq(status, SOKETI_OK);
    ck_assert_int_eq(count, 5);
    /* answered: further answers with its id are other nodes' business, unread */
    feed(SKT_HZ_RESPONSE, text);
    ck_assert_uint_eq(hz->dropped[SKT_HZ_DROP_MALFORMED], 3);
}
END_TEST

/* ---- item: our own broadcasts ------------------------------------------------------- */

START_TEST(broadcast_too_large_stays_local)
{
    lim.max_message = 1024;
    hz_start();
    char *msg = malloc(1100);
    memset(msg, 'x', 1099);
    msg[1099] = '\0';
    ops.broadcast(hz, "app", "c", msg, 1099, NULL);
    ck_assert_int_eq(fake_local.delivered, 1);
    ck_assert_uint_eq(n_pubs, 0);
    ck_assert_uint_eq(hz->dropped[SKT_HZ_DROP_UNSENT], 1);
    ck_assert_int_eq(metrics[SOKETI_METRIC_MESSAGE_DROPPED], 1);
    ops.broadcast(hz, "app", "c", msg, 900, NULL);
    ck_assert_int_eq(fake_local.delivered, 2);
    ck_assert_uint_eq(published(SKT_HZ_BROADCAST), 1);
    free(msg);
}
END_TEST

/* ---- item: the log of drops --------------------------------------------------------- */

START_TEST(drops_logged_once_per_second_per_reason)
{
    lim.max_message = 64;
    hz_start();
    char big[128];
    memset(big, 'x', 100);
    big[100] = '\0';
    for (int i = 0; i < 1000; i++)
        feed(SKT_HZ_BROADCAST, big);
    ck_assert_int_eq(warn_lines, 1);
    for (int i = 0; i < 10; i++)
        feed(SKT_HZ_BROADCAST, "{}");
    ck_assert_int_eq(warn_lines, 2); /* another reason, its own line */
    ck_assert_int_eq(metrics[SOKETI_METRIC_MESSAGE_DROPPED], 1010);
    usleep(1100 * 1000);
    feed(SKT_HZ_BROADCAST, big);
    ck_assert_int_eq(warn_lines, 3);
    ck_assert_msg(strstr(last_warn, "999 more such drops"), "%s", last_warn);
}
END_TEST

/* ---- item: cluster-wide answers bounded --------------------------------------------- */

/* What a channels callback got. */
typedef struct chans_answer_s {
    int calls, status;
    size_t n;
    long sum;        /* of the counts */
    int fired_again; /* the callback asked again from inside */
} chans_answer_t;

static void
on_channels(void *arg, int status, const soketi_channel_count_t *ch, size_t n)
{
    chans_answer_t *a = arg;
    a->calls++;
    a->status = status;
    a->n = n;
    a->sum = 0;
    for (size_t i = 0; i < n; i++)
        a->sum += ch[i].count;
}

/* Answers the last request we published as one peer: its id, with body after it. */
static void
peer_answers(const char *body)
{
    char id[64], text[512];
    size_t i = n_pubs;
    while (i > 0 && pubs[i - 1].channel != SKT_HZ_REQUEST)
        i--;
    ck_assert_uint_gt(i, 0);
    request_id_of(pubs[i - 1].data, id);
    snprintf(text, sizeof(text), "{\"requestId\":\"%s\"%s}", id, body);
    feed(SKT_HZ_RESPONSE, text);
}

START_TEST(identical_queries_coalesce)
{
    hz_start();
    static chans_answer_t a[200]; /* the last query is answered by the teardown */
    memset(a, 0, sizeof(a));
    for (int i = 0; i < 200; i++)
        ops.channels(hz, "app", on_channels, &a[i]);
    ck_assert_uint_eq(published(SKT_HZ_REQUEST), 1);
    ck_assert_int_eq(metrics[SOKETI_METRIC_REQUEST_SENT], 1);
    ck_assert_int_eq(metrics[SOKETI_METRIC_REQUEST_COALESCED], 199);
    numsub_next(2);
    /* this node's part is read when the answer comes: a channel opened meanwhile counts */
    fake_local.channels = 3;
    peer_answers(",\"channelsWithSocketsCount\":[[\"ch-0\",4],[\"remote\",5]]");
    for (int i = 0; i < 200; i++) {
        ck_assert_int_eq(a[i].calls, 1);
        ck_assert_int_eq(a[i].status, SOKETI_OK);
        ck_assert_uint_eq(a[i].n, 4); /* ch-0, ch-1, ch-2, remote */
        ck_assert_int_eq(a[i].sum, 3 + 4 + 5);
    }
    ck_assert_int_eq(metrics[SOKETI_METRIC_RESOLVED], 1);
    /* answered: the next identical query is a new request */
    ops.channels(hz, "app", on_channels, &a[0]);
    ck_assert_uint_eq(published(SKT_HZ_REQUEST), 2);
}
END_TEST

static int members_calls;

static void
on_ids(void *arg, int status, const char *const *ids, size_t n)
{
    (void)arg, (void)status, (void)ids, (void)n;
}

/* arg: the number of members expected, as a size_t */
static void
on_members(void *arg, int status, const soketi_member_t *m, size_t n)
{
    (void)m;
    ck_assert_int_eq(status, SOKETI_OK);
    members_calls++;
    ck_assert_uint_eq(n, *(size_t *)arg);
}

static void
on_members_count(void *arg, int status, long count)
{
    ck_assert_int_eq(status, SOKETI_OK);
    members_calls++;
    ck_assert_int_eq(count, (long)*(size_t *)arg);
}

START_TEST(coalescing_keys_on_type_app_and_options)
{
    hz_start();
    static size_t local_only = 1, with_peer = 2; /* outlive the test: teardown answers */
    /* a count of members and the list of members are one CHANNEL_MEMBERS question */
    ops.channel_members(hz, "app", "presence-a", on_members, &with_peer);
    ops.channel_members_count(hz, "app", "presence-a", on_members_count, &with_peer);
    ck_assert_uint_eq(published(SKT_HZ_REQUEST), 1);
    /* another channel, another app, another type: each its own request */
    ops.channel_members(hz, "app", "presence-b", on_members, &local_only);
    ops.channel_members(hz, "app2", "presence-a", on_members, &local_only);
    ops.channel_sockets(hz, "app", "presence-a", on_ids, NULL);
    ck_assert_uint_eq(published(SKT_HZ_REQUEST), 4);
    numsub_next(2);
    while (numsub_head < n_numsubs)
        numsub_next(1); /* alone: answered at once */
    ck_assert_int_eq(members_calls, 2);
    char id[64], text[256];
    request_id_of(pubs[0].data, id);
    snprintf(text, sizeof(text), "{\"requestId\":\"%s\",\"members\":[[\"peer-user\",null]]}", id);
    feed(SKT_HZ_RESPONSE, text);
    ck_assert_int_eq(members_calls, 4);
}
END_TEST

/* A callback that asks the same question again gets a new request, not the answered one. */
static void
on_channels_again(void *arg, int status, const soketi_channel_count_t *ch, size_t n)
{
    chans_answer_t *a = arg;
    on_channels(arg, status, ch, n);
    if (!a->fired_again) {
        a->fired_again = 1;
        ops.channels(hz, "app", on_channels, a);
    }
}

START_TEST(callbacks_may_ask_again)
{
    hz_start();
    chans_answer_t a = {0};
    ops.channels(hz, "app", on_channels_again, &a);
    numsub_next(1);
    ck_assert_int_eq(a.calls, 1);
    ck_assert_uint_eq(published(SKT_HZ_REQUEST), 2);
    numsub_next(1);
    ck_assert_int_eq(a.calls, 2);
}
END_TEST

START_TEST(queries_rated_per_app)
{
    lim.app_requests = 5;
    hz_start();
    /* static: what is still pending is answered by the teardown */
    static chans_answer_t a[10];
    static long count[11];
    static int status[11];
    static count_answer_t ans[11];
    char channel[32];
    for (int i = 0; i < 11; i++)
        ans[i] = (count_answer_t){&status[i], &count[i]};
    for (int i = 0; i < 10; i++) {
        snprintf(channel, sizeof(channel), "c-%d", i);
        status[i] = 99;
        ops.channel_sockets_count(hz, "app", channel, on_count, &ans[i]);
    }
    ck_assert_uint_eq(published(SKT_HZ_REQUEST), 5);
    ck_assert_int_eq(metrics[SOKETI_METRIC_REQUEST_LIMITED], 5);
    for (int i = 5; i < 10; i++) { /* answered at once, from this node */
        ck_assert_int_eq(status[i], SOKETI_PARTIAL);
        ck_assert_int_eq(count[i], 1);
    }
    ck_assert_ptr_nonnull(strstr(last_warn, "adapter.maxRequestsPerSecondPerApp"));
    /* coalesced queries cost nothing; another app has its own budget */
    ops.channel_sockets_count(hz, "app", "c-0", on_count, &ans[10]);
    ops.channels(hz, "other-app", on_channels, &a[0]);
    ck_assert_uint_eq(published(SKT_HZ_REQUEST), 6);
    ck_assert_int_eq(metrics[SOKETI_METRIC_REQUEST_LIMITED], 5);
}
END_TEST

/* The last response we published, parsed (fails the test when it is not JSON). */
static skt_rc_response_t
last_response(void)
{
    ck_assert_uint_gt(n_pubs, 0);
    ck_assert_int_eq(pubs[n_pubs - 1].channel, SKT_HZ_RESPONSE);
    skt_rc_response_t r;
    ck_assert_msg(skt_rc_decode_response(pubs[n_pubs - 1].data, pubs[n_pubs - 1].len, &r) == 0,
                  "not a response: %.200s", pubs[n_pubs - 1].data);
    return r;
}

START_TEST(answers_cut_to_their_size)
{
    lim.max_response = 4096;
    lim.response_bytes = 0;
    hz_start();
    fake_local.channels = 10000;
    feed(SKT_HZ_REQUEST, "{\"requestId\":\"big\",\"appId\":\"app\",\"type\":8}");
    ck_assert_uint_le(pubs[n_pubs - 1].len, 4096 + 64);
    skt_rc_response_t r = last_response();
    ck_assert_int_eq(r.partial, 1);
    ck_assert_uint_gt(json_array_size(r.channels_with_count), 100);
    skt_rc_response_clear(&r);
    ck_assert_int_eq(metrics[SOKETI_METRIC_RESPONSE_TRUNCATED], 1);
    ck_assert_ptr_nonnull(strstr(last_warn, "adapter.maxResponseSizeInKb"));
    /* nested lists (CHANNELS: every channel with its socket ids) close properly */
    fake_local.sockets = 50;
    feed(SKT_HZ_REQUEST, "{\"requestId\":\"nested\",\"appId\":\"app\",\"type\":1}");
    ck_assert_uint_le(pubs[n_pubs - 1].len, 4096 + 64);
    json_t *j = json_loadb(pubs[n_pubs - 1].data, pubs[n_pubs - 1].len, 0, NULL);
    ck_assert_msg(j != NULL, "%s", pubs[n_pubs - 1].data);
    ck_assert(json_is_true(json_object_get(j, "partial")));
    json_decref(j);
    /* a list that fits is whole, without the flag (soketi's shape) */
    fake_local.channels = 2;
    feed(SKT_HZ_REQUEST, "{\"requestId\":\"small\",\"appId\":\"app\",\"type\":8}");
    ck_assert_str_eq(pubs[n_pubs - 1].data, "{\"requestId\":\"small\",\"channelsWithSocketsCount\":"
                                            "[[\"ch-0\",50],[\"ch-1\",50]]}");
}
END_TEST

START_TEST(answers_within_a_byte_budget)
{
    lim.max_response = 4096;
    lim.response_bytes = 10 * 1024;
    hz_start();
    fake_local.channels = 10000;
    size_t bytes = 0, empty = 0;
    char text[128];
    for (int i = 0; i < 20; i++) {
        snprintf(text, sizeof(text), "{\"requestId\":\"r%d\",\"appId\":\"app\",\"type\":8}", i);
        feed(SKT_HZ_REQUEST, text);
        bytes += pubs[n_pubs - 1].len;
        skt_rc_response_t r = last_response();
        ck_assert_int_eq(r.partial, 1);
        empty += json_array_size(r.channels_with_count) == 0;
        skt_rc_response_clear(&r);
    }
    /* about 10 KB of lists within the second, then empty (partial) lists */
    ck_assert_uint_le(bytes, 10 * 1024 + 4096 + 20 * 100);
    ck_assert_uint_ge(empty, 15);
    /* scalar answers are always given */
    feed(SKT_HZ_REQUEST, "{\"requestId\":\"count\",\"appId\":\"app\",\"type\":4}");
    ck_assert_str_eq(pubs[n_pubs - 1].data, "{\"requestId\":\"count\",\"totalCount\":1}");
}
END_TEST

START_TEST(partial_answers_make_partial_results)
{
    hz_start();
    chans_answer_t a = {0};
    ops.channels(hz, "app", on_channels, &a);
    numsub_next(2);
    peer_answers(",\"channelsWithSocketsCount\":[[\"x\",1]],\"partial\":true");
    ck_assert_int_eq(a.calls, 1);
    ck_assert_int_eq(a.status, SOKETI_PARTIAL);
    ck_assert_uint_eq(a.n, 3);
}
END_TEST

static Suite *
redis_horizontal_suite(void)
{
    Suite *s = suite_create("redis_horizontal");
    TCase *tc = tcase_create("peers");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, too_large_dropped_unread);
    tcase_add_test(tc, too_complex_dropped_unparsed);
    tcase_add_test(tc, wrong_types_dropped);
    tcase_add_test(tc, peer_requests_rated_per_peer);
    tcase_add_test(tc, peer_requests_rated_in_total);
    tcase_add_test(tc, peer_ids_bounded);
    tcase_add_test(tc, unknown_response_ids_skipped_unread);
    tcase_add_test(tc, broadcast_too_large_stays_local);
    tcase_add_test(tc, drops_logged_once_per_second_per_reason);
    suite_add_tcase(s, tc);
    tc = tcase_create("queries");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, identical_queries_coalesce);
    tcase_add_test(tc, coalescing_keys_on_type_app_and_options);
    tcase_add_test(tc, callbacks_may_ask_again);
    tcase_add_test(tc, queries_rated_per_app);
    tcase_add_test(tc, answers_cut_to_their_size);
    tcase_add_test(tc, answers_within_a_byte_budget);
    tcase_add_test(tc, partial_answers_make_partial_results);
    suite_add_tcase(s, tc);
    return s;
}

SKT_CHECK_MAIN(redis_horizontal_suite)
