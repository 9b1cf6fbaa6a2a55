/* sentinel_proto.h - Redis Sentinel as pure functions: the sentinels of
 * database.redis.sentinels, and reading what sentinels and masters answer (the master's
 * address, a +switch-master event, ROLE).
 *
 * Nothing here touches a socket or the event loop; replies come in as hiredis's parsed
 * redisReply (the unit tests make them from RESP bytes with a redisReader). sentinel.c
 * uses them to follow the master, conn.c to check that a node it reached is the master.
 */
#ifndef SKT_REDIS_SENTINEL_PROTO_H
#define SKT_REDIS_SENTINEL_PROTO_H

#include <hiredis/hiredis.h>
#include <stddef.h>

/* Most sentinels database.redis.sentinels may list (more are refused at start). */
#define SKT_RSEN_MAX_SENTINELS 16
/* Longest host name or address accepted from the configuration or from a sentinel. */
#define SKT_RSEN_HOST_MAX 255
/* A sentinel's port when its entry has none (ioredis's default). */
#define SKT_RSEN_DEFAULT_PORT 26379

/* One address: a sentinel or a master. */
typedef struct skt_rsen_addr_s {
    char host[SKT_RSEN_HOST_MAX + 1];
    long port;
} skt_rsen_addr_t;

/* Reads database.redis.sentinels (its JSON text: null, or an array of {"host", "port"} as
 * ioredis takes them; a missing host is "localhost" and a missing port 26379, as in
 * ioredis; a port may be a number or a string of digits) into out (max entries).
 * Returns how many sentinels there are (0: "", null or [], no Sentinel), or -1 with the
 * reason in err (errlen bytes, NUL-terminated). */
int skt_rsen_parse_sentinels(const char *json_text, skt_rsen_addr_t *out, int max, char *err,
                             size_t errlen);

/* What SENTINEL get-master-addr-by-name answered. */
enum skt_rsen_answer {
    SKT_RSEN_FOUND = 0,    /* *addr is the master */
    SKT_RSEN_UNKNOWN = 1,  /* a nil: this sentinel does not monitor a master of that name */
    SKT_RSEN_REFUSED = 2,  /* an error reply (e.g. NOAUTH) */
    SKT_RSEN_MALFORMED = 3 /* anything else, or an address out of range */
};

/* Reads the reply to SENTINEL get-master-addr-by-name (a two-element array: host and port
 * as bulk strings) into *addr. Returns an enum skt_rsen_answer. */
int skt_rsen_parse_master_reply(const redisReply *reply, skt_rsen_addr_t *addr);

/* Reads a +switch-master message (len bytes: "<name> <old ip> <old port> <new ip> <new
 * port>"). Returns 1 with the new master in *addr when it is about the master called
 * name, 0 when it is about another master, -1 when it is malformed. */
int skt_rsen_parse_switch(const char *msg, size_t len, const char *name, skt_rsen_addr_t *addr);

/* Reads the reply to ROLE: 1 for a master, 0 for anything else (a replica, a sentinel),
 * -1 when it is not a ROLE reply (an error reply included). When role is not NULL, the
 * role's name (or "?") is copied into it (rolelen bytes, NUL-terminated). */
int skt_rsen_parse_role(const redisReply *reply, char *role, size_t rolelen);

#endif
