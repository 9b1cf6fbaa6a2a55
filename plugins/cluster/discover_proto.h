/* discover_proto.h - node-discover 1.2's packets as JSON text (what soketi 1.6's cluster
 * mode sends on UDP), its node table and its master election: no socket, no clock.
 *
 * Every datagram is one JSON object, written by node-discover's Network.send:
 *   {"event":<channel>,"pid":<process uuid>,"iid":<instance uuid>,"hostName":<name>,"data":<x>}
 * `hello` packets carry the sender's state as data, {"isMaster","isMasterEligible","weight",
 * "address","advertisement"?}; soketi's cluster adapter sends its horizontal messages (codec.h) as
 * a JSON *string* in data, with event `cluster-adapter` (or `<cluster.prefix>#cluster-adapter`) and
 * its `#comms#req` / `#comms#res`. There is no framing, no reassembly and no encryption
 * (soketi sets no key): one message is one datagram.
 *
 * The node table and the election are node-discover's Discover.evaluateHello, check and
 * BasicLeadershipElection.check, taking the time as an argument so that tests can run
 * them. Nothing here allocates except the table (bounded by its max) and the decoded
 * packet.
 */
#ifndef SKT_CLUSTER_DISCOVER_PROTO_H
#define SKT_CLUSTER_DISCOVER_PROTO_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "util/jsonw.h"

/* The largest UDP payload IPv4 carries: 65535 minus the IP and UDP headers. node-discover
 * neither splits nor reassembles, so no message of the cluster can be longer. */
#define SKT_DSC_MAX_DATAGRAM 65507

/* Longest node id (iid), process id (pid) and host name kept: node-discover's are UUIDs
 * (36 bytes) and a host name; a packet with a longer id is ignored, a longer name cut. */
#define SKT_DSC_ID_MAX 64
#define SKT_DSC_NAME_MAX 64

/* What a node says about itself in every packet. */
typedef struct skt_dsc_self_s {
    char pid[SKT_DSC_ID_MAX]; /* node-discover's process uuid */
    char iid[SKT_DSC_ID_MAX]; /* its instance uuid: the node's id in every table */
    const char *host_name;    /* hostName (cluster.hostname); borrowed */
    /* Ours: the adapter channel this node uses, advertised in its hellos as node-discover's
     * `advertisement` ({"channel": ...}; soketi sends none and ignores it), so that nodes
     * of another cluster.prefix on the same port are not counted. NULL: none. Borrowed. */
    const char *channel;
} skt_dsc_self_t;

/* A hello's data: the sender's election state (node-discover's `me`). */
typedef struct skt_dsc_state_s {
    int is_master;
    int is_master_eligible;
    double weight;       /* higher wins; NaN when a peer sent none (compares false, as in JS) */
    const char *channel; /* read: the advertised channel (valid while the packet is), or NULL */
} skt_dsc_state_t;

/* Writes a random (version 4) UUID, as node-discover's uuid.v4() makes them. */
void skt_dsc_uuid(char out[37]);

/* node-discover's default weight for a node started at unix_ms: -(ms / 10^digits), so
 * that the node started first has the highest weight. */
double skt_dsc_weight(uint64_t unix_ms);

/* ---- packets ------------------------------------------------------------------------ */

/* Appends a packet of event whose data is the string data (len bytes): how the cluster
 * adapter's messages travel. The writer should be SKT_RC_WRITER (JSON.stringify's
 * escapes). */
void skt_dsc_encode(skt_jw_t *b, const skt_dsc_self_t *self, const char *event, const char *data,
                    size_t len);

/* Appends a hello packet with st as its data, as node-discover writes `me` (address is
 * always "127.0.0.1" there), with self->channel as its advertisement when set. */
void skt_dsc_encode_hello(skt_jw_t *b, const skt_dsc_self_t *self, const skt_dsc_state_t *st);

/* Bytes skt_dsc_encode adds around data of event (data escaped adds more). */
size_t skt_dsc_overhead(const skt_dsc_self_t *self, const char *event);

/* A decoded packet. Strings point into root and live until skt_dsc_packet_clear. */
typedef struct skt_dsc_packet_s {
    const char *event; /* "" when absent or not a string */
    const char *pid;   /* NULL when absent or not a string */
    const char *iid;   /* NULL when absent or not a string */
    const char *host_name;
    json_t *data; /* borrowed; NULL when absent */
    json_t *root;
} skt_dsc_packet_t;

/* Parses a datagram. Returns 0, or -1 (nothing to clear) when it is not a JSON object
 * (node-discover drops those too). Pure: any bytes are fine. */
int skt_dsc_decode(const char *text, size_t len, skt_dsc_packet_t *out);
void skt_dsc_packet_clear(skt_dsc_packet_t *p);

/* 1 when v is truthy as JavaScript sees it (node-discover tests `obj.data` so). */
int skt_dsc_truthy(const json_t *v);

/* Which fields of a hello's data were present (node-discover copies only those). */
enum {
    SKT_DSC_HAS_MASTER = 1,
    SKT_DSC_HAS_ELIGIBLE = 2,
    SKT_DSC_HAS_WEIGHT = 4,
    SKT_DSC_HAS_ADVERT = 8, /* an advertisement, whatever it holds (st->channel may be NULL) */
};

/* Reads a hello's data object into st, field by field as JavaScript would (truthiness;
 * a weight that is not a number is NaN; the channel of an advertisement that is an object
 * with a string channel, else NULL). Returns the SKT_DSC_HAS_* of what it held, or
 * -1 when data is not an object. */
int skt_dsc_read_state(const json_t *data, skt_dsc_state_t *st);

/* Copies s (NULL: "") into dst (cap bytes), cut to fit, with every control character
 * turned into '?': a peer's strings as they may go into a log line. Returns dst. */
const char *skt_dsc_printable(char *dst, size_t cap, const char *s);

/* ---- destinations ------------------------------------------------------------------- */

/* node-discover's Destination: "address" or "address:port". Copies the address (at most
 * cap - 1 bytes) and sets *port (0 when none given). Returns 0, or -1 when the text is
 * empty, too long, or its port is not 1-65535. */
int skt_dsc_parse_destination(const char *text, char *addr, size_t cap, int *port);

/* ---- the node table ------------------------------------------------------------------ */

typedef struct skt_dsc_node_s {
    char id[SKT_DSC_ID_MAX];          /* the iid */
    char host_name[SKT_DSC_NAME_MAX]; /* printable (skt_dsc_printable) */
    char address[48];                 /* where its packets came from */
    int port;
    uint64_t last_seen; /* ms, the caller's clock */
    skt_dsc_state_t st; /* its channel is not kept */
    int other_cluster;  /* it advertised a channel other than the table's */
} skt_dsc_node_t;

/* The other nodes heard from, at most max. Zero-initialise it with max (and channel) set. */
typedef struct skt_dsc_nodes_s {
    skt_dsc_node_t *v;
    size_t n, cap, max;
    const char *channel; /* ours: a node advertising another is of another cluster */
} skt_dsc_nodes_t;

/* The nodes of this cluster: every node but those that advertised another channel (a
 * soketi node advertises none and is counted, as soketi counts every node). */
size_t skt_dsc_nodes_members(const skt_dsc_nodes_t *t);

/* What a hello did to the table. */
enum skt_dsc_seen {
    SKT_DSC_SEEN = 0,       /* a node already known */
    SKT_DSC_ADDED = 1,      /* a new node */
    SKT_DSC_FULL = -1,      /* a new node, not added: the table holds max */
    SKT_DSC_NO_MEMORY = -2, /* a new node, not added: out of memory */
};

/* A hello from node id (host_name, address and port are the packet's; id is kept as it
 * is, the caller refuses ids it would not log) at now: refreshes
 * or adds it and copies the state fields `has` says are present. *new_master is set to 1
 * when the node is a master now and was not one (or was not known), node-discover's
 * "master" event. Returns enum skt_dsc_seen; *node points at the entry when it is in
 * the table (valid until the table changes). */
int skt_dsc_nodes_hello(skt_dsc_nodes_t *t, const char *id, const char *host_name,
                        const char *address, int port, const skt_dsc_state_t *st, int has,
                        uint64_t now, int *new_master, const skt_dsc_node_t **node);

/* Removes every node not heard from for longer than its timeout (master_timeout for a
 * master, else node_timeout) at now, calling removed (may be NULL) with each before it
 * goes. Returns how many went. */
size_t skt_dsc_nodes_expire(skt_dsc_nodes_t *t, uint64_t now, long node_timeout,
                            long master_timeout,
                            void (*removed)(void *arg, const skt_dsc_node_t *node), void *arg);

void skt_dsc_nodes_clear(skt_dsc_nodes_t *t);

/* What BasicLeadershipElection.check decides for me (one master required). */
enum skt_dsc_elect {
    SKT_DSC_STAY = 0,
    SKT_DSC_PROMOTE = 1, /* no live master, and no eligible non-master outweighs me */
    SKT_DSC_DEMOTE = 2,  /* I am master and a live master outweighs me */
};

int skt_dsc_elect(const skt_dsc_nodes_t *t, const skt_dsc_state_t *me, uint64_t now,
                  long master_timeout);

#endif
