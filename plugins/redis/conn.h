/* conn.h - one hiredis async connection that keeps itself up, and the configuration both
 * Redis transports read: shared by adapter_redis.c (one server) and
 * adapter_redis_cluster.c (a Redis Cluster).
 *
 * A connection (skt_rconn_t) is a small state machine on the host's event loop: IDLE
 * (waiting to retry) -> CONNECTING -> HANDSHAKE (AUTH, SELECT, with verify_master ROLE,
 * and for a subscriber SUBSCRIBE to the adapter's channels, one after the other) -> READY. Any
 * failure, or no READY within SKT_RCONN_SETUP_TIMEOUT_MS, goes back to IDLE and retries after a
 * backoff that doubles from 100 ms to 5 s; READY resets it. It logs its failures itself (the first
 * one and every 12th as warnings, the rest at debug) and tells its owner through three callbacks.
 *
 * Owner callbacks run inside hiredis's callbacks: they must not free this or any other
 * connection, nor start anything that does; arm a timer for such work. They may read the
 * connection, send commands on other connections, and change this one's address.
 *
 * Commands: skt_rconn_command_argv/_formatted send on a READY connection and return -1
 * otherwise. hiredis calls their callback exactly once: with the reply, or with a NULL
 * reply when the connection goes away (possibly from inside skt_rconn_free or
 * skt_rconn_drop, synchronously), so a callback's privdata is the callback's to free.
 */
#ifndef SKT_REDIS_CONN_H
#define SKT_REDIS_CONN_H

#include <soketi/adapter.h>
#include <hiredis/async.h>
#include <stddef.h>

#define SKT_RCONN_BACKOFF_MIN_MS 100
#define SKT_RCONN_BACKOFF_MAX_MS 5000
/* From connect() to READY (TCP connect, AUTH, SELECT, SUBSCRIBE). */
#define SKT_RCONN_SETUP_TIMEOUT_MS 5000

enum skt_rconn_state { SKT_RCONN_IDLE, SKT_RCONN_CONNECTING, SKT_RCONN_HANDSHAKE, SKT_RCONN_READY };

/* Where and as whom a connection logs in. Strings are owned by whoever holds the struct. */
typedef struct skt_rconn_endpoint_s {
    char *host;
    long port;
    long db;        /* 0: no SELECT */
    char *username; /* NULL: none (AUTH with the password only) */
    char *password; /* NULL: no AUTH */
} skt_rconn_endpoint_t;

typedef struct skt_rconn_s skt_rconn_t;

/* How a connection behaves. Every pointer is borrowed and must outlive the connection. */
typedef struct skt_rconn_opts_s {
    const soketi_host_t *host;
    const char *log_name; /* prefix of every log line, e.g. "redis adapter" */
    const char *role;     /* "publisher" or "subscriber": what the log lines call it */
    /* Appended to the warning of the first failed attempt and of a lost connection:
     * what that means for the daemon. */
    const char *down_hint;
    const char *lost_hint;
    /* A subscriber: the channels to SUBSCRIBE to in the handshake (it is READY once all
     * are confirmed). n_channels 0: not a subscriber. */
    char *const *channels;
    const size_t *channel_lens;
    int n_channels;
    /* 1: ask ROLE in the handshake and give up on a node that is not a master (a
     * sentinel's stale answer: logged as a failed attempt, on_lost is called). A ROLE
     * refused (e.g. by an ACL) is logged and the node taken for the master. */
    int verify_master;
    void *owner;
    /* The connection became READY. */
    void (*on_ready)(void *owner, skt_rconn_t *c);
    /* The connection was lost (was_ready 1) or an attempt failed (0); it is IDLE and its
     * next attempt is scheduled, to the address set by then. NULL: nothing to do. */
    void (*on_lost)(void *owner, skt_rconn_t *c, int was_ready);
    /* A pub/sub message on channels[channel]. data is len bytes, valid during the call. */
    void (*on_message)(void *owner, int channel, const char *data, size_t len);
} skt_rconn_opts_t;

/* Creates an IDLE connection to ep (copied). Returns NULL when out of memory. */
skt_rconn_t *skt_rconn_new(const skt_rconn_opts_t *opts, const skt_rconn_endpoint_t *ep);

/* Connects now unless it is connecting or connected already (cancels a pending retry). */
void skt_rconn_start(skt_rconn_t *c);

/* Uses host:port from the next attempt on. Returns 0, or -1 when out of memory (the
 * address is then unchanged). */
int skt_rconn_set_address(skt_rconn_t *c, const char *host, long port);

/* While IDLE with an attempt scheduled: makes that attempt wait ms from now instead (for
 * an owner with a backoff of its own; READY resets conn.c's). Otherwise nothing. */
void skt_rconn_delay(skt_rconn_t *c, unsigned ms);

/* Abandons the current context, if any, as a loss (on_lost, logged with why, retry
 * scheduled). Pending command callbacks get a NULL reply before this returns. */
void skt_rconn_drop(skt_rconn_t *c, const char *why);

/* Frees c without calling its owner. Pending command callbacks get a NULL reply, before
 * this returns unless it is called from inside one of c's callbacks (hiredis then
 * finishes after that callback). NULL is fine. */
void skt_rconn_free(skt_rconn_t *c);

int skt_rconn_state(const skt_rconn_t *c);
/* 1 when READY and not going away: commands can be sent. */
int skt_rconn_usable(const skt_rconn_t *c);
const char *skt_rconn_host(const skt_rconn_t *c);
long skt_rconn_port(const skt_rconn_t *c);

/* Sends a command (see the top of this file). fn NULL: the reply is discarded. Returns
 * 0, or -1 when the connection is not usable or hiredis refused. */
int skt_rconn_command_argv(skt_rconn_t *c, redisCallbackFn *fn, void *privdata, int argc,
                           const char **argv, const size_t *lens);
/* The same for a command already in RESP form (len bytes, copied). */
int skt_rconn_command_formatted(skt_rconn_t *c, redisCallbackFn *fn, void *privdata,
                                const char *cmd, size_t len);

/* Writes what is queued for Redis now, without waiting (best effort: what the socket does
 * not take at once stays unsent). For commands sent right before skt_rconn_free, which
 * does not write them. */
void skt_rconn_flush(skt_rconn_t *c);

/* 1 when so much output is unsent that Redis is not keeping up (logged once per episode):
 * publish nothing more on it for now. */
int skt_rconn_congested(skt_rconn_t *c);

/* ---- configuration both transports read --------------------------------------------- */

/* An option's text, or "" when the host does not know it. */
const char *skt_rconn_cfg(const soketi_host_t *host, const char *name);

/* Reads database.redis.host, port, db, username and password into ep (cleared first;
 * "" and null become NULL). Returns 0, or -1 when out of memory (logged). Nothing is
 * validated: the caller may override fields, then checks what it uses. */
int skt_rconn_endpoint_from_config(const soketi_host_t *host, const char *log_name,
                                   skt_rconn_endpoint_t *ep);

void skt_rconn_endpoint_clear(skt_rconn_endpoint_t *ep);

/* The adapter's three channel names, as soketi's RedisAdapter builds them from
 * adapter.redis.prefix: `redis-adapter` or `<prefix>#redis-adapter`, plus `#comms#req`
 * and `#comms#res`, indexed by enum skt_hz_channel. Returns 0, or -1 when out of memory
 * (free chan[i] either way). */
int skt_rconn_channels(const soketi_host_t *host, char *chan[3], size_t chan_len[3]);

#endif
