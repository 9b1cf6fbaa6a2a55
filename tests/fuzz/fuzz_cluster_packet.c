/* fuzz_cluster_packet.c - libFuzzer target: one datagram on the cluster adapter's UDP port,
 * as anyone on the network may send it, through node-discover's packet reader, a hello's
 * state into a node table and the election, and the copies a log line shows
 * (plugins/cluster/discover_proto.h).
 *
 * Checks: a packet whose data is a string (the adapter's messages) is written again by
 * skt_dsc_encode into one that reads back to the same event, ids, hostName and data; a
 * hello's node goes into a table of at most two nodes that never holds more, counts itself
 * at most once as a member, is found again by a second hello and expires after its timeout;
 * printable copies fit and hold no control character; a destination that parses has an
 * address and a port in range.
 */
#include "fuzz.h"

#include "codec.h"
#include "discover_proto.h"

FZ_INITIALIZE(json_object_seed(1))

/* A printable copy of s (which may be NULL) fits and holds no control character. */
static void
check_printable(const char *s)
{
    char buf[16];
    const char *p = skt_dsc_printable(buf, sizeof(buf), s);
    FZ_CHECK(p == buf && strlen(buf) < sizeof(buf));
    for (; *p; p++)
        FZ_CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
}

/* NULL-safe string equality. */
static int
same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* The packet's string data, written again, reads back the same. */
static void
check_roundtrip(const skt_dsc_packet_t *pk)
{
    if (!json_is_string(pk->data) || !pk->pid || !pk->iid || !pk->host_name ||
        strlen(pk->pid) >= SKT_DSC_ID_MAX || strlen(pk->iid) >= SKT_DSC_ID_MAX)
        return;
    skt_dsc_self_t self = {.host_name = pk->host_name};
    memcpy(self.pid, pk->pid, strlen(pk->pid) + 1);
    memcpy(self.iid, pk->iid, strlen(pk->iid) + 1);
    skt_jw_t b = SKT_RC_WRITER;
    skt_dsc_encode(&b, &self, pk->event, json_string_value(pk->data), json_string_length(pk->data));
    FZ_CHECK(!b.failed);
    skt_dsc_packet_t again;
    FZ_CHECK(skt_dsc_decode(b.p, b.len, &again) == 0);
    FZ_CHECK(same(pk->event, again.event) && same(pk->pid, again.pid) && same(pk->iid, again.iid) &&
             same(pk->host_name, again.host_name));
    FZ_CHECK(json_is_string(again.data) &&
             json_string_length(again.data) == json_string_length(pk->data) &&
             memcmp(json_string_value(again.data), json_string_value(pk->data),
                    json_string_length(pk->data)) == 0);
    skt_dsc_packet_clear(&again);
    skt_jw_free(&b);
}

/* A hello's state through a two-node table, the election and the expiry. */
static void
check_hello(const skt_dsc_packet_t *pk)
{
    skt_dsc_state_t st = {0};
    int has = skt_dsc_read_state(pk->data, &st);
    if (has < 0 || !pk->iid || strlen(pk->iid) >= SKT_DSC_ID_MAX)
        return;
    skt_dsc_nodes_t t = {.max = 2, .channel = "cluster-adapter"};
    const skt_dsc_node_t *node;
    int nm;
    FZ_CHECK(skt_dsc_nodes_hello(&t, "other", "h", "10.0.0.2", 11002, &st, 0, 100, &nm, &node) ==
             SKT_DSC_ADDED);
    int rv = skt_dsc_nodes_hello(&t, pk->iid, pk->host_name, "10.0.0.1", 11002, &st, has, 100, &nm,
                                 &node);
    int known = strcmp(pk->iid, "other") == 0;
    FZ_CHECK(rv == (known ? SKT_DSC_SEEN : SKT_DSC_ADDED) && node && t.n == (known ? 1u : 2u));
    check_printable(node->host_name);
    FZ_CHECK(strlen(node->host_name) < SKT_DSC_NAME_MAX);
    FZ_CHECK(skt_dsc_nodes_hello(&t, pk->iid, NULL, "10.0.0.1", 1, &st, 0, 200, &nm, &node) ==
             SKT_DSC_SEEN);
    if (t.n == t.max) /* full: a third node is refused */
        FZ_CHECK(skt_dsc_nodes_hello(&t, "third", "h", "10.0.0.3", 1, &st, 0, 200, &nm, &node) ==
                 (strcmp(pk->iid, "third") == 0 ? SKT_DSC_SEEN : SKT_DSC_FULL));
    FZ_CHECK(skt_dsc_nodes_members(&t) <= t.n);
    skt_dsc_state_t me = {.is_master_eligible = 1, .weight = -0.5};
    int e = skt_dsc_elect(&t, &me, 200, 2000);
    FZ_CHECK(e == SKT_DSC_STAY || e == SKT_DSC_PROMOTE);
    size_t n = t.n;
    FZ_CHECK(skt_dsc_nodes_expire(&t, 200 + 3001, 2000, 3000, NULL, NULL) == n && t.n == 0);
    skt_dsc_nodes_clear(&t);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fz_copy(data, size);
    skt_dsc_packet_t pk;
    if (skt_dsc_decode(text, size, &pk) == 0) {
        FZ_CHECK(pk.event && pk.root);
        check_printable(pk.event);
        check_printable(pk.host_name);
        check_printable(pk.iid);
        if (strcmp(pk.event, "hello") == 0)
            check_hello(&pk);
        else
            check_roundtrip(&pk);
        char addr[64];
        int port;
        if (pk.host_name && skt_dsc_parse_destination(pk.host_name, addr, sizeof(addr), &port) == 0)
            FZ_CHECK(addr[0] && strlen(addr) < sizeof(addr) && port >= 0 && port <= 65535);
        skt_dsc_packet_clear(&pk);
    }
    free(text);
    return 0;
}
