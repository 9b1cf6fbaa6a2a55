/* discover.h - node-discover 1.2 on the host's event loop: one UDP socket, hello
 * announcements, the node table and its checks, the master election, and the channels
 * the cluster adapter joins. What soketi 1.6 runs for its `cluster` driver.
 *
 * A node binds 0.0.0.0:port (SO_REUSEADDR, as Node's dgram with reuseAddr, so several
 * nodes of one host share the port for broadcast and multicast), says hello once the loop
 * runs and
 * every hello_interval ms, and every check_interval ms forgets the nodes it has not heard
 * from for node_timeout ms (master_timeout for the master) and runs the election. It
 * sends every packet to each destination: the unicast list when there is one, else the
 * multicast group (joined, TTL 1), else the broadcast address. Packets from this node
 * (its iid) are ignored, and with ignore_process those of another instance of its process
 * too, as node-discover does; packets on a joined channel go to on_message with their
 * data as text.
 *
 * Everything runs on the host's loop thread; nothing blocks but the name lookups of
 * unicast destinations, once, in skt_dsc_new.
 */
#ifndef SKT_CLUSTER_DISCOVER_H
#define SKT_CLUSTER_DISCOVER_H

#include <soketi/adapter.h>
#include <stddef.h>

#include "discover_proto.h"

typedef struct skt_dsc_s skt_dsc_t;

/* Datagrams read in one go before the loop runs other events. */
#define SKT_DSC_READ_BATCH 64

typedef struct skt_dsc_opts_s {
    const soketi_host_t *host; /* its base, log and config; borrowed */
    const char *log_name;      /* in front of log lines, e.g. "cluster adapter" */
    long hello_interval, check_interval, node_timeout, master_timeout; /* ms, > 0 */
    int port;                                                          /* 1-65535 */
    const char *host_name;                                             /* hostName in packets */
    int ignore_process;                                                /* cluster.ignoreProcess */
    const char *broadcast;       /* address[:port]; used without unicast and multicast */
    const char *multicast;       /* group[:port], or NULL */
    const char *const *unicast;  /* address[:port] each; NULL or n_unicast 0: none */
    size_t n_unicast;            /* at most SKT_DSC_MAX_DESTINATIONS */
    size_t max_nodes;            /* the node table's bound */
    const char *const *channels; /* events joined: on_message gets their index; the first
                                  * names the cluster (advertised in hellos) */
    size_t n_channels;
    void *owner;
    void (*on_message)(void *owner, int channel, const char *data, size_t len);
} skt_dsc_opts_t;

/* Unicast destinations one node takes at most. */
#define SKT_DSC_MAX_DESTINATIONS 256

/* Creates the node: resolves the destinations and binds the socket, without sending.
 * The strings of opts are copied. Returns NULL with the reason in err (errlen bytes). */
skt_dsc_t *skt_dsc_new(const skt_dsc_opts_t *opts, char *err, size_t errlen);

/* Arms the timers and the socket; the first hello goes as soon as the loop runs. Returns
 * 0, or -1 when out of memory. */
int skt_dsc_start(skt_dsc_t *d);

/* Closes the socket and frees the node. NULL is fine. */
void skt_dsc_free(skt_dsc_t *d);

/* The other nodes of this cluster known now: every node heard from but those that
 * advertised another first channel (another cluster.prefix). */
size_t skt_dsc_node_count(const skt_dsc_t *d);

/* What skt_dsc_send answers. */
enum skt_dsc_send_result {
    SKT_DSC_SENT = 0,
    SKT_DSC_TOO_LARGE = -1, /* the packet would not fit one datagram: not sent */
    SKT_DSC_UNSENT = -2,    /* the kernel took it for no destination (logged, throttled) */
    SKT_DSC_OOM = -3,
};

/* Sends data (len bytes) on channel (an index of opts.channels) to every destination.
 * Returns enum skt_dsc_send_result; *packet_len gets the packet's size (when it was
 * measured). */
int skt_dsc_send(skt_dsc_t *d, int channel, const char *data, size_t len, size_t *packet_len);

/* The longest data that always fits one datagram on channel, however it is escaped
 * (JSON text inside a JSON string takes at most twice its bytes). */
size_t skt_dsc_max_text(const skt_dsc_t *d, int channel);

/* Where the node sends, for the log: "broadcast 255.255.255.255:11002" and the like. */
const char *skt_dsc_describe(const skt_dsc_t *d);

#endif
