/* sentinel.h - follows the master of a Redis Sentinel group (database.redis.sentinels,
 * database.redis.name, database.redis.sentinelPassword), as ioredis's Sentinel connector
 * does for soketi: where the master is, and where it moved.
 *
 * A follower (skt_rsen_t) keeps two connections (conn.c) to sentinels, asynchronous on
 * the host's event loop:
 *   query  asks `SENTINEL get-master-addr-by-name <name>`: at start, whenever the watch
 *          connection (re)subscribes (a switch may have been missed meanwhile), and when
 *          the owner says a master connection failed (skt_rsen_suspect; calls coalesce:
 *          one question in flight, at most one more queued behind it);
 *   watch  SUBSCRIBEs to `+switch-master`: a failover is heard the moment the sentinels
 *          decide it.
 * Each starts at the first sentinel listed and moves to the next one (in order, wrapping)
 * when the one it uses is unreachable, fails, refuses (AUTH, NOAUTH) or does not know the
 * master; conn.c's backoff (100 ms doubling to 5 s, reset by a working sentinel) bounds
 * the pace. Sentinels get AUTH with sentinelPassword when it is set, never SELECT.
 *
 * The owner hears of a master found or moved through on_master, called from a zero timer
 * of the follower's own (never from inside a hiredis callback), only when the address
 * differs from the last one it was told. It then points its master connections there
 * (skt_rconn_set_address, drop, start) and should connect them with verify_master, so
 * that a stale answer (a sentinel that has not seen the failover yet) is caught by ROLE;
 * every failure of a master connection should be reported with skt_rsen_suspect.
 *
 * Logs: the master found or moved (info), a sentinel that cannot be used and why (conn.c's
 * warnings, then debug), a sentinel that does not know the master (warning).
 */
#ifndef SKT_REDIS_SENTINEL_H
#define SKT_REDIS_SENTINEL_H

#include <soketi/adapter.h>

#include "sentinel_proto.h"

typedef struct skt_rsen_s skt_rsen_t;

/* What a follower follows and whom it tells. Pointers are borrowed and must outlive the
 * follower, except sentinels, name and password, which are copied. */
typedef struct skt_rsen_opts_s {
    const soketi_host_t *host;
    const char *log_name; /* prefix of every log line, e.g. "redis adapter" */
    const skt_rsen_addr_t *sentinels;
    int n_sentinels;      /* 1 to SKT_RSEN_MAX_SENTINELS */
    const char *name;     /* the master's name at the sentinels (database.redis.name) */
    const char *password; /* AUTH for the sentinels; NULL or "": none */
    void *owner;
    /* The master is at host:port (valid during the call). May drop, start and free the
     * owner's connections, not the follower. */
    void (*on_master)(void *owner, const char *host, long port);
} skt_rsen_opts_t;

/* Creates an idle follower. Returns NULL when out of memory. */
skt_rsen_t *skt_rsen_new(const skt_rsen_opts_t *opts);

/* Connects to the sentinels and asks where the master is. */
void skt_rsen_start(skt_rsen_t *s);

/* A master connection failed or was lost: ask the sentinels again. Cheap; calls coalesce.
 * Safe from inside conn.c's callbacks. */
void skt_rsen_suspect(skt_rsen_t *s);

/* Frees s and its connections without calling the owner. NULL is fine. Not from inside
 * on_master. */
void skt_rsen_free(skt_rsen_t *s);

#endif
