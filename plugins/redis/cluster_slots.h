/* cluster_slots.h - Redis Cluster routing as pure functions: CRC16 key slots with hash
 * tags, the slot map from a CLUSTER SLOTS reply, MOVED/ASK error parsing, and the
 * ioredis-style list of seed nodes (database.redis.clusterNodes).
 *
 * Nothing here touches a socket or the event loop: replies come in as hiredis's parsed
 * redisReply (the unit tests make them from RESP bytes with a redisReader), strings as
 * text. The redis-cluster adapter (adapter_redis_cluster.c, cluster_topology.c) does the
 * I/O.
 */
#ifndef SKT_REDIS_CLUSTER_SLOTS_H
#define SKT_REDIS_CLUSTER_SLOTS_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

/* Number of hash slots of a Redis Cluster. */
#define SKT_RCS_SLOTS 16384
/* The port ioredis assumes when a node gives none. */
#define SKT_RCS_DEFAULT_PORT 6379

/* CRC16-CCITT (XMODEM: polynomial 0x1021, initial value 0), the checksum Redis Cluster
 * hashes keys with. */
uint16_t skt_rcs_crc16(const char *buf, size_t len);

/* The slot (0..16383) of a key of len bytes. When the key holds a hash tag, a `{` followed
 * later by a `}` with at least one byte between them, only the bytes between the first
 * `{` and the first `}` after it are hashed, so that "{user1000}.following" and
 * "{user1000}.followers" share a slot. */
unsigned skt_rcs_key_slot(const char *key, size_t len);

/* One node's address. */
typedef struct skt_rcs_addr_s {
    char *host;
    int port;
} skt_rcs_addr_t;

/* One node of a slot map. */
typedef struct skt_rcs_node_s {
    char *host;
    int port;
    char *id;   /* the node id Redis gave ("" when it gave none) */
    int master; /* 1 when it serves at least one slot range as master */
} skt_rcs_node_t;

/* Who serves what, as one CLUSTER SLOTS reply says. */
typedef struct skt_rcs_map_s {
    skt_rcs_node_t *nodes; /* every distinct node (masters and replicas), in reply order */
    size_t n_nodes;
    size_t covered;               /* slots that have a master */
    int16_t owner[SKT_RCS_SLOTS]; /* index in nodes of each slot's master, -1: none */
} skt_rcs_map_t;

/* Builds a slot map from a CLUSTER SLOTS reply: an array of [start, end, master, replicas...]
 * where each node is [host, port, id?, ...] (later elements, such as Redis 7's hostname
 * metadata, are ignored). A node whose host is "" is at asked_host, the host the reply came
 * from (what Redis 7 sends when it does not know its own address); a node with host "?"
 * (unknown endpoint) is left out. Returns a new map (free with skt_rcs_map_free), or NULL
 * with *why set to a static reason when the reply is not of that shape, covers no slot,
 * or memory ran out. */
skt_rcs_map_t *skt_rcs_map_parse(const redisReply *reply, const char *asked_host, const char **why);

void skt_rcs_map_free(skt_rcs_map_t *map);

/* The index in map->nodes of host:port, or -1. */
long skt_rcs_map_find(const skt_rcs_map_t *map, const char *host, int port);

/* The master of slot, or NULL when no node serves it. */
const skt_rcs_node_t *skt_rcs_map_owner(const skt_rcs_map_t *map, unsigned slot);

/* A redirection error. */
enum skt_rcs_redirect_kind { SKT_RCS_MOVED = 1, SKT_RCS_ASK = 2 };

typedef struct skt_rcs_redirect_s {
    int kind; /* enum skt_rcs_redirect_kind */
    unsigned slot;
    char host[256]; /* "" in the error means the host the error came from: asked_host */
    int port;
} skt_rcs_redirect_t;

/* Parses an error reply's text, "MOVED <slot> <host>:<port>" or "ASK <slot> <host>:<port>"
 * (len bytes; the host may be an IPv6 address, the port follows its last colon). Returns
 * 0, or -1 for any other error or a malformed one. */
int skt_rcs_parse_redirect(const char *err, size_t len, const char *asked_host,
                           skt_rcs_redirect_t *out);

/* Parses one address as ioredis accepts it: "host:port", "host" (port 6379), "port" (on
 * 127.0.0.1), "[ipv6]:port", or a "redis://[user[:password]@]host[:port][/db]" URL
 * (credentials and db are ignored). Fills out (host a new string). Returns 0, or -1 when
 * s is empty, a port is not 1-65535, or memory ran out. */
int skt_rcs_parse_addr(const char *s, skt_rcs_addr_t *out);

/* Parses database.redis.clusterNodes, a JSON array whose items are address strings (as
 * above), port numbers, or objects {"host", "port"} (host defaults to 127.0.0.1, port to
 * 6379, a numeric string port is accepted). Duplicates are kept once. Returns 0 with
 * *out a new array of *n addresses (free with skt_rcs_addrs_free; *n may be 0 for an
 * empty array), or -1 with a reason in err. */
int skt_rcs_parse_seeds(const char *json_text, skt_rcs_addr_t **out, size_t *n, char *err,
                        size_t errlen);

void skt_rcs_addrs_free(skt_rcs_addr_t *addrs, size_t n);

#endif
