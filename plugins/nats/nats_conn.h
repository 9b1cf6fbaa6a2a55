/* nats_conn.h - the NATS adapter's one connection: options, a connection that comes and
 * goes by itself, synchronous subscriptions drained on the daemon's loop, bounded
 * publishing.
 *
 * The connection (libnats, on the daemon's loop through nats_loop.c) connects from a short
 * thread of its own at start (libnats's first attempt blocks, a DNS lookup or a silent
 * server must not hold the daemon's start-up), then reconnects by itself forever: to the
 * next server of the list or the ones the cluster announced, at once, and to a server that
 * failed after 100 ms doubling to 5 s. Every subscription is synchronous: libnats only
 * queues messages, and the loop thread takes them after reading the socket, so the owner
 * sees every message on the loop thread in arrival order (per subject).
 *
 * The owner is told when the connection comes up (first connect and every reconnect) and
 * when it goes down. Messages published while it is down are not sent (publish answers -1),
 * and neither are they while more than SKT_NC_MAX_BUFFERED bytes wait to be written.
 *
 * Slow consumer: the loop reads the socket ahead of what it processes (nats_loop.c), and
 * processes for at most SKT_NC_DRAIN_BUDGET_MS a turn, so a burst waits in the
 * subscriptions' queues; past their pending limits libnats drops new messages, which are
 * counted, logged (throttled) and reported as SOKETI_METRIC_MESSAGE_DROPPED. While the
 * process does not run at all (stopped, swapped out), the NATS server queues for it up to
 * its own max_pending (64 MB by default), then closes the connection as a slow consumer;
 * the node logs the loss and reconnects.
 *
 * libnats is opened once and stays, with its few idle threads, for the life of the process:
 * the plugin is linked with -z nodelete, so neither it nor libnats is ever unloaded, and
 * nats_Close is never called. libnats's own final cleanup (at its unload, or at exit after
 * nats_Close) frees OpenSSL's list of compression methods, which OpenSSL 3 frees again at
 * exit: a crash of every daemon that used TLS to NATS, at its exit.
 *
 * Everything but the connect thread and libnats's own threads runs on the host's loop.
 */
#ifndef SKT_NATS_CONN_H
#define SKT_NATS_CONN_H

#include <soketi/adapter.h>
#include <nats/nats.h>
#include <stddef.h>

/* Unsent bytes past which publishing is refused until the server catches up. */
#define SKT_NC_MAX_BUFFERED (64 * 1024 * 1024)
/* libnats's pending limits of each subscription, unless adapter.nats.maxPendingMessages /
 * maxPendingSizeInKb say: messages read and not yet taken by the loop past them are dropped
 * (and counted). */
#define SKT_NC_PENDING_MSGS 65536
#define SKT_NC_PENDING_BYTES (64 * 1024 * 1024)
/* The loop takes queued messages for at most this long per turn. */
#define SKT_NC_DRAIN_BUDGET_MS 10
/* libnats's read (and write) buffer. */
#define SKT_NC_IO_BUF (64 * 1024)
/* How often the connection pings the server, and how many unanswered pings mean it is
 * gone (a server that stopped without closing the socket is left within ~30 s). */
#define SKT_NC_PING_INTERVAL_MS 10000
#define SKT_NC_MAX_PINGS_OUT 2
/* Reconnecting to a server that failed: 100 ms, doubling up to 5 s. */
#define SKT_NC_BACKOFF_MIN_MS 100
#define SKT_NC_BACKOFF_MAX_MS 5000

/* Where and as whom to connect (the adapter.nats.* options). Strings belong to the caller
 * and are copied by skt_nc_new. NULL or "" is unset. */
typedef struct skt_nc_config_s {
    const char *const *servers; /* URLs or host:port, n_servers of them */
    size_t n_servers;
    const char *user, *pass, *token;
    long timeout_ms;       /* connect and handshake, per attempt */
    const char *creds;     /* a .creds file (user JWT and seed) */
    const char *nkey;      /* an NKey user's public key, with nkey_seed */
    const char *nkey_seed; /* the file holding its seed */
    int tls;               /* require TLS (tls:// URLs require it too) */
    const char *tls_ca, *tls_cert, *tls_key;
    const char *name;  /* what the server shows as the connection's name */
    long pending_msgs; /* the subscriptions' pending limits; <= 0: SKT_NC_PENDING_MSGS */
    long pending_kb;   /* <= 0: SKT_NC_PENDING_BYTES */
} skt_nc_config_t;

typedef struct skt_nc_s skt_nc_t;

/* What the connection tells its owner, on the loop thread. */
typedef struct skt_nc_owner_s {
    void *owner;
    /* A message on subjects[sub]. msg is libnats's and is destroyed after the call. */
    void (*on_message)(void *owner, int sub, natsMsg *msg);
    /* Connected (first time or again): subscriptions are in place. */
    void (*on_up)(void *owner);
    /* No longer connected. */
    void (*on_down)(void *owner);
} skt_nc_owner_t;

/* Creates a connection that subscribes to subjects[0..n) (copied). host and owner are
 * borrowed; log_name prefixes its log lines. Checks what can be checked now (TLS and key
 * files) and returns NULL with the reason logged when the configuration cannot work or
 * memory ran out. Nothing is connected yet. */
skt_nc_t *skt_nc_new(const soketi_host_t *host, const char *log_name, const skt_nc_config_t *cfg,
                     const char *const *subjects, int n_subjects, const skt_nc_owner_t *owner);

/* Starts connecting. Returns 0, or -1 with the reason logged. */
int skt_nc_start(skt_nc_t *c);

/* 1 when connected now, else 0. */
int skt_nc_up(const skt_nc_t *c);

/* The URL of the server connected to ("" when none). */
const char *skt_nc_url(skt_nc_t *c);

/* Publishes len bytes on subject without waiting. 0, or -1 when down, backed up, or over
 * the server's max_payload (logged, throttled). */
int skt_nc_publish(skt_nc_t *c, const char *subject, const char *data, size_t len);

/* Publishes msg (with its headers and reply subject); msg stays the caller's. 0 or -1 as
 * skt_nc_publish. */
int skt_nc_publish_msg(skt_nc_t *c, natsMsg *msg);

/* Writes what is buffered, for at most ms milliseconds (at shutdown). */
void skt_nc_flush(skt_nc_t *c, int ms);

/* Closes the connection and frees everything. Call on the loop thread; it may wait for
 * the connect thread (at most the connect timeout per server) and for libnats's last
 * callback. NULL is fine. */
void skt_nc_free(skt_nc_t *c);

#endif
