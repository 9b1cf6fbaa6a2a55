/* check_cluster_proto.c - unit tests for the cluster adapter's node-discover packets, node
 * table and master election (plugins/cluster/discover_proto.c).
 *
 * The packets are what soketi 1.6.1 (node-discover 1.2.1) sent in a capture on a test
 * LAN, key order and number format included; the table and the election are node-discover's
 * evaluateHello, check and BasicLeadershipElection.check with the clock as an argument.
 */
#include "check_main.h"
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "discover_proto.h"

/* soketi 1.6.1's hello and broadcast, as captured. */
static const char soketi_hello[] =
    "{\"event\":\"hello\",\"pid\":\"057fe032-2a30-486b-8141-9f9a4a78bf34\",\"iid\":\"61327b98-07f2-"
    "47f2-9b7d-f9bc19f59423\",\"hostName\":\"0.0.0.0\",\"data\":{\"isMaster\":true,"
    "\"isMasterEligible\":true,\"weight\":-0.1796433975579,\"address\":\"127.0.0.1\"}}";
static const char soketi_broadcast[] =
    "{\"event\":\"cluster-adapter\",\"pid\":\"057fe032-2a30-486b-8141-9f9a4a78bf34\",\"iid\":"
    "\"61327b98-07f2-47f2-9b7d-f9bc19f59423\",\"hostName\":\"0.0.0.0\",\"data\":\"{\\\"uuid\\\":"
    "\\\"597c4606-b0b5-4db3-b34e-ec1e2b8940f9\\\",\\\"appId\\\":\\\"app-id\\\",\\\"channel\\\":"
    "\\\"ch\\\",\\\"data\\\":\\\"{\\\\\\\"event\\\\\\\":\\\\\\\"ev\\\\\\\"}\\\",\\\"exceptingId\\\""
    ":null}\"}";

static const skt_dsc_self_t self = {
    .pid = "p-1", .iid = "i-1", .host_name = "0.0.0.0", .channel = NULL};

/* ---- packets ------------------------------------------------------------------------- */

START_TEST(hello_encoded_as_node_discover)
{
    skt_jw_t b = SKT_RC_WRITER;
    skt_dsc_state_t st = {.is_master = 1, .is_master_eligible = 1, .weight = -0.1796433975579};
    skt_dsc_encode_hello(&b, &self, &st);
    ck_assert_str_eq(
        b.p, "{\"event\":\"hello\",\"pid\":\"p-1\",\"iid\":\"i-1\",\"hostName\":\"0.0.0.0\","
             "\"data\":{\"isMaster\":true,\"isMasterEligible\":true,\"weight\":"
             "-0.1796433975579,\"address\":\"127.0.0.1\"}}");
    /* ours: the cluster's channel as node-discover's advertisement */
    skt_dsc_self_t adv = self;
    adv.channel = "p#cluster-adapter";
    skt_jw_reset(&b);
    st = (skt_dsc_state_t){.is_master_eligible = 1, .weight = -0.5};
    skt_dsc_encode_hello(&b, &adv, &st);
    ck_assert_str_eq(
        b.p, "{\"event\":\"hello\",\"pid\":\"p-1\",\"iid\":\"i-1\",\"hostName\":\"0.0.0.0\","
             "\"data\":{\"isMaster\":false,\"isMasterEligible\":true,\"weight\":-0.5,"
             "\"address\":\"127.0.0.1\",\"advertisement\":{\"channel\":"
             "\"p#cluster-adapter\"}}}");
    skt_jw_free(&b);
}
END_TEST

START_TEST(channel_packet_carries_data_as_a_string)
{
    skt_jw_t b = SKT_RC_WRITER;
    const char *data = "{\"a\":\"x\\\"y\",\"c\":\"\x01\"}";
    skt_dsc_encode(&b, &self, "cluster-adapter#comms#req", data, strlen(data));
    ck_assert_str_eq(b.p,
                     "{\"event\":\"cluster-adapter#comms#req\",\"pid\":\"p-1\",\"iid\":\"i-1\","
                     "\"hostName\":\"0.0.0.0\",\"data\":\"{\\\"a\\\":\\\"x\\\\\\\"y\\\","
                     "\\\"c\\\":\\\"\\u0001\\\"}\"}");
    /* the overhead is what surrounds plain data */
    size_t head = skt_dsc_overhead(&self, "cluster-adapter#comms#req");
    skt_jw_reset(&b);
    skt_dsc_encode(&b, &self, "cluster-adapter#comms#req", "abc", 3);
    ck_assert_uint_eq(b.len, head + 3);
    /* and the text reads back as it went */
    skt_dsc_packet_t pk;
    ck_assert_int_eq(skt_dsc_decode(b.p, b.len, &pk), 0);
    ck_assert_str_eq(json_string_value(pk.data), "abc");
    skt_dsc_packet_clear(&pk);
    skt_jw_free(&b);
}
END_TEST

START_TEST(soketi_packets_decoded)
{
    skt_dsc_packet_t pk;
    ck_assert_int_eq(skt_dsc_decode(soketi_hello, strlen(soketi_hello), &pk), 0);
    ck_assert_str_eq(pk.event, "hello");
    ck_assert_str_eq(pk.pid, "057fe032-2a30-486b-8141-9f9a4a78bf34");
    ck_assert_str_eq(pk.iid, "61327b98-07f2-47f2-9b7d-f9bc19f59423");
    ck_assert_str_eq(pk.host_name, "0.0.0.0");
    skt_dsc_state_t st = {0};
    ck_assert_int_eq(skt_dsc_read_state(pk.data, &st),
                     SKT_DSC_HAS_MASTER | SKT_DSC_HAS_ELIGIBLE | SKT_DSC_HAS_WEIGHT);
    ck_assert(st.is_master && st.is_master_eligible);
    ck_assert(st.weight == -0.1796433975579);
    ck_assert_ptr_null(st.channel);
    skt_dsc_packet_clear(&pk);

    ck_assert_int_eq(skt_dsc_decode(soketi_broadcast, strlen(soketi_broadcast), &pk), 0);
    ck_assert_str_eq(pk.event, "cluster-adapter");
    const char *inner = json_string_value(pk.data);
    skt_rc_broadcast_t m;
    ck_assert_int_eq(skt_rc_decode_broadcast(inner, strlen(inner), &m), 0);
    ck_assert_str_eq(m.app_id, "app-id");
    ck_assert_str_eq(m.channel, "ch");
    ck_assert_str_eq(m.data, "{\"event\":\"ev\"}");
    skt_rc_broadcast_clear(&m);
    skt_dsc_packet_clear(&pk);
}
END_TEST

START_TEST(garbage_packets_refused_or_emptied)
{
    skt_dsc_packet_t pk;
    const char *refused[] = {"", "[1]", "\"hello\"", "{", "null", "{\"event\":\"a\"", "\xff\xfe"};
    for (size_t i = 0; i < sizeof(refused) / sizeof(*refused); i++)
        ck_assert_msg(skt_dsc_decode(refused[i], strlen(refused[i]), &pk) == -1, "%s", refused[i]);
    /* fields of the wrong type read as absent */
    const char *odd = "{\"event\":1,\"pid\":[],\"iid\":{},\"hostName\":null}";
    ck_assert_int_eq(skt_dsc_decode(odd, strlen(odd), &pk), 0);
    ck_assert_str_eq(pk.event, "");
    ck_assert_ptr_null(pk.pid);
    ck_assert_ptr_null(pk.iid);
    ck_assert_ptr_null(pk.host_name);
    ck_assert_ptr_null(pk.data);
    skt_dsc_packet_clear(&pk);
}
END_TEST

START_TEST(state_read_as_javascript_would)
{
    skt_dsc_state_t st = {.weight = 7};
    json_t *d =
        json_loads("{\"isMaster\":1,\"isMasterEligible\":\"\",\"advertisement\":{\"channel\":"
                   "\"x#cluster-adapter\"}}",
                   0, NULL);
    ck_assert_int_eq(skt_dsc_read_state(d, &st),
                     SKT_DSC_HAS_MASTER | SKT_DSC_HAS_ELIGIBLE | SKT_DSC_HAS_ADVERT);
    ck_assert(st.is_master && !st.is_master_eligible);
    ck_assert(st.weight == 7); /* absent: left as it was */
    ck_assert_str_eq(st.channel, "x#cluster-adapter");
    json_decref(d);
    d = json_loads("{\"weight\":\"heavy\",\"advertisement\":\"x\"}", 0, NULL);
    ck_assert_int_eq(skt_dsc_read_state(d, &st), SKT_DSC_HAS_WEIGHT | SKT_DSC_HAS_ADVERT);
    ck_assert(isnan(st.weight));
    ck_assert_ptr_null(st.channel);
    json_decref(d);
    d = json_string("x");
    ck_assert_int_eq(skt_dsc_read_state(d, &st), -1);
    json_decref(d);
    ck_assert_int_eq(skt_dsc_read_state(NULL, &st), -1);

    json_t *v[] = {json_true(),     json_string("a"), json_integer(2), json_real(0.5),
                   json_object(),   json_array(),     json_false(),    json_string(""),
                   json_integer(0), json_real(0),     json_null()};
    for (size_t i = 0; i < sizeof(v) / sizeof(*v); i++) {
        ck_assert_int_eq(skt_dsc_truthy(v[i]), i < 6);
        json_decref(v[i]);
    }
    ck_assert_int_eq(skt_dsc_truthy(NULL), 0);
}
END_TEST

START_TEST(weight_and_uuid_as_node_discover_makes_them)
{
    ck_assert(skt_dsc_weight(1796433975579ull) == -0.1796433975579);
    ck_assert(skt_dsc_weight(1000) == -0.1);
    /* the earlier node weighs more */
    ck_assert(skt_dsc_weight(1796433975579ull) > skt_dsc_weight(1796433975580ull));
    char a[37], b[37];
    skt_dsc_uuid(a);
    skt_dsc_uuid(b);
    ck_assert_uint_eq(strlen(a), 36);
    ck_assert_str_ne(a, b);
    ck_assert(a[8] == '-' && a[13] == '-' && a[14] == '4' && a[18] == '-' && a[23] == '-');
    ck_assert(strchr("89ab", a[19]) != NULL);
}
END_TEST

START_TEST(destinations_parsed)
{
    char addr[64];
    int port;
    ck_assert_int_eq(skt_dsc_parse_destination("10.0.0.1", addr, sizeof(addr), &port), 0);
    ck_assert_str_eq(addr, "10.0.0.1");
    ck_assert_int_eq(port, 0);
    ck_assert_int_eq(skt_dsc_parse_destination("node-b:12001", addr, sizeof(addr), &port), 0);
    ck_assert_str_eq(addr, "node-b");
    ck_assert_int_eq(port, 12001);
    const char *bad[] = {"", ":1", "a:", "a:0", "a:65536", "a:1x", "a:-1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
        ck_assert_msg(skt_dsc_parse_destination(bad[i], addr, sizeof(addr), &port) == -1, "%s",
                      bad[i]);
    ck_assert_int_eq(skt_dsc_parse_destination("abcdefgh", addr, 8, &port), -1);
}
END_TEST

START_TEST(peer_strings_made_printable)
{
    char buf[8];
    ck_assert_str_eq(skt_dsc_printable(buf, sizeof(buf),
                                       "a\nb\x7f"
                                       "cdefgh"),
                     "a?b?cde");
    ck_assert_str_eq(skt_dsc_printable(buf, sizeof(buf), NULL), "");
    /* the table keeps a peer's host name printable, whatever it sent */
    skt_dsc_nodes_t t = {.max = 1};
    skt_dsc_state_t st = {0};
    const skt_dsc_node_t *node;
    int nm;
    ck_assert_int_eq(skt_dsc_nodes_hello(&t, "n", "evil\r\n[error] forged", "10.0.0.1", 1, &st, 0,
                                         1, &nm, &node),
                     SKT_DSC_ADDED);
    ck_assert_str_eq(node->host_name, "evil??[error] forged");
    skt_dsc_nodes_clear(&t);
}
END_TEST

/* ---- the node table ------------------------------------------------------------------- */

/* A hello from id at now with the state fields of has; answers what the table did. */
static int
hello(skt_dsc_nodes_t *t, const char *id, const skt_dsc_state_t *st, int has, uint64_t now,
      int *new_master)
{
    const skt_dsc_node_t *node;
    int nm;
    int rv = skt_dsc_nodes_hello(t, id, "h", "10.0.0.9", 11002, st, has, now,
                                 new_master ? new_master : &nm, &node);
    if (rv >= 0)
        ck_assert_str_eq(node->id, id);
    return rv;
}

static const int ALL = SKT_DSC_HAS_MASTER | SKT_DSC_HAS_ELIGIBLE | SKT_DSC_HAS_WEIGHT;

START_TEST(table_adds_refreshes_and_bounds)
{
    skt_dsc_nodes_t t = {.max = 2};
    skt_dsc_state_t st = {.is_master_eligible = 1, .weight = -0.5};
    ck_assert_int_eq(hello(&t, "a", &st, ALL, 100, NULL), SKT_DSC_ADDED);
    ck_assert_int_eq(hello(&t, "a", &st, ALL, 200, NULL), SKT_DSC_SEEN);
    ck_assert_int_eq(hello(&t, "b", &st, ALL, 200, NULL), SKT_DSC_ADDED);
    ck_assert_int_eq(hello(&t, "c", &st, ALL, 200, NULL), SKT_DSC_FULL);
    ck_assert_uint_eq(t.n, 2);
    ck_assert_uint_eq(skt_dsc_nodes_members(&t), 2);
    /* a hello without a field keeps the one known (node-discover copies what is present) */
    skt_dsc_state_t master = {.is_master = 1, .weight = 3};
    int nm = -1;
    ck_assert_int_eq(hello(&t, "a", &master, SKT_DSC_HAS_MASTER, 300, &nm), SKT_DSC_SEEN);
    ck_assert_int_eq(nm, 1);
    ck_assert(t.v[0].st.weight == -0.5 && t.v[0].st.is_master && t.v[0].st.is_master_eligible);
    ck_assert_int_eq(hello(&t, "a", &master, SKT_DSC_HAS_MASTER, 400, &nm), SKT_DSC_SEEN);
    ck_assert_int_eq(nm, 0); /* already master */
    skt_dsc_nodes_clear(&t);
}
END_TEST

START_TEST(table_tells_other_clusters_apart)
{
    skt_dsc_nodes_t t = {.max = 8, .channel = "cluster-adapter"};
    skt_dsc_state_t ours = {.channel = "cluster-adapter"},
                    theirs = {.channel = "x#cluster-adapter"};
    skt_dsc_state_t soketi = {0}; /* advertises nothing */
    hello(&t, "ours", &ours, SKT_DSC_HAS_ADVERT, 1, NULL);
    hello(&t, "theirs", &theirs, SKT_DSC_HAS_ADVERT, 1, NULL);
    hello(&t, "soketi", &soketi, 0, 1, NULL);
    ck_assert_uint_eq(t.n, 3);
    ck_assert_uint_eq(skt_dsc_nodes_members(&t), 2);
    /* a later hello without an advertisement changes nothing; one with ours counts it */
    hello(&t, "theirs", &soketi, 0, 2, NULL);
    ck_assert_uint_eq(skt_dsc_nodes_members(&t), 2);
    hello(&t, "theirs", &ours, SKT_DSC_HAS_ADVERT, 3, NULL);
    ck_assert_uint_eq(skt_dsc_nodes_members(&t), 3);
    skt_dsc_nodes_clear(&t);
}
END_TEST

static int removed_calls;

static void
on_removed(void *arg, const skt_dsc_node_t *node)
{
    (void)arg;
    (void)node;
    removed_calls++;
}

START_TEST(table_expires_nodes_and_masters_after_their_timeouts)
{
    skt_dsc_nodes_t t = {.max = 8};
    skt_dsc_state_t node = {.is_master_eligible = 1}, master = {.is_master = 1};
    hello(&t, "n", &node, ALL, 1000, NULL);
    hello(&t, "m", &master, ALL, 1000, NULL);
    removed_calls = 0;
    /* node-discover: gone when now - lastSeen > timeout, not at it */
    ck_assert_uint_eq(skt_dsc_nodes_expire(&t, 3000, 2000, 5000, on_removed, NULL), 0);
    ck_assert_uint_eq(skt_dsc_nodes_expire(&t, 3001, 2000, 5000, on_removed, NULL), 1);
    ck_assert_uint_eq(t.n, 1);
    ck_assert_str_eq(t.v[0].id, "m");
    ck_assert_uint_eq(skt_dsc_nodes_expire(&t, 6001, 2000, 5000, on_removed, NULL), 1);
    ck_assert_uint_eq(t.n, 0);
    ck_assert_int_eq(removed_calls, 2);
    skt_dsc_nodes_clear(&t);
}
END_TEST

/* ---- the election --------------------------------------------------------------------- */

START_TEST(election_as_basic_leadership_election)
{
    skt_dsc_nodes_t t = {.max = 8};
    skt_dsc_state_t me = {.is_master_eligible = 1, .weight = -0.5};
    /* alone: promote */
    ck_assert_int_eq(skt_dsc_elect(&t, &me, 0, 2000), SKT_DSC_PROMOTE);
    /* a lighter eligible node does not stop it, a heavier one does */
    skt_dsc_state_t light = {.is_master_eligible = 1, .weight = -0.9};
    skt_dsc_state_t heavy = {.is_master_eligible = 1, .weight = -0.1};
    hello(&t, "light", &light, ALL, 1000, NULL);
    ck_assert_int_eq(skt_dsc_elect(&t, &me, 1000, 2000), SKT_DSC_PROMOTE);
    hello(&t, "heavy", &heavy, ALL, 1000, NULL);
    ck_assert_int_eq(skt_dsc_elect(&t, &me, 1000, 2000), SKT_DSC_STAY);
    /* a live master: stay; one not heard from for masterTimeout: promote */
    skt_dsc_state_t master = {.is_master = 1, .is_master_eligible = 1, .weight = -0.1};
    hello(&t, "heavy", &master, ALL, 1000, NULL);
    ck_assert_int_eq(skt_dsc_elect(&t, &me, 2999, 2000), SKT_DSC_STAY);
    ck_assert_int_eq(skt_dsc_elect(&t, &me, 3000, 2000), SKT_DSC_PROMOTE);
    /* a master outweighed by a live master: demote; by a lighter one: stay */
    me.is_master = 1;
    ck_assert_int_eq(skt_dsc_elect(&t, &me, 1500, 2000), SKT_DSC_DEMOTE);
    me.weight = 0;
    ck_assert_int_eq(skt_dsc_elect(&t, &me, 1500, 2000), SKT_DSC_STAY);
    /* not eligible: never promoted */
    skt_dsc_nodes_clear(&t);
    skt_dsc_state_t client = {.weight = 1};
    ck_assert_int_eq(skt_dsc_elect(&t, &client, 0, 2000), SKT_DSC_STAY);
    /* a weight that is not a number outweighs nothing (NaN compares false, as in JS) */
    me.is_master = 0;
    skt_dsc_state_t nan_node = {.is_master_eligible = 1, .weight = NAN};
    hello(&t, "nan", &nan_node, ALL, 0, NULL);
    ck_assert_int_eq(skt_dsc_elect(&t, &me, 0, 2000), SKT_DSC_PROMOTE);
    skt_dsc_nodes_clear(&t);
}
END_TEST

static Suite *
cluster_proto_suite(void)
{
    Suite *s = suite_create("cluster_proto");
    TCase *pk = tcase_create("packets");
    tcase_add_test(pk, hello_encoded_as_node_discover);
    tcase_add_test(pk, channel_packet_carries_data_as_a_string);
    tcase_add_test(pk, soketi_packets_decoded);
    tcase_add_test(pk, garbage_packets_refused_or_emptied);
    tcase_add_test(pk, state_read_as_javascript_would);
    tcase_add_test(pk, weight_and_uuid_as_node_discover_makes_them);
    tcase_add_test(pk, destinations_parsed);
    tcase_add_test(pk, peer_strings_made_printable);
    suite_add_tcase(s, pk);
    TCase *tb = tcase_create("nodes");
    tcase_add_test(tb, table_adds_refreshes_and_bounds);
    tcase_add_test(tb, table_tells_other_clusters_apart);
    tcase_add_test(tb, table_expires_nodes_and_masters_after_their_timeouts);
    tcase_add_test(tb, election_as_basic_leadership_election);
    suite_add_tcase(s, tb);
    return s;
}

SKT_CHECK_MAIN(cluster_proto_suite)
