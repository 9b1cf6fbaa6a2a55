/* nats_req.h - requests and their replies on the daemon's loop, without blocking: what the
 * JetStream key-value calls and the node count need from NATS's request-reply.
 *
 * One subscription (the owner's `<inbox>.*`, a NATS inbox) takes every reply; a request is
 * published with the reply subject `<inbox>.<id>`. A request waits for one reply, or with
 * multi for every reply (the node count asks every server of a cluster), until its own
 * timeout or skt_nr_cancel. No blocking call of libnats is used: its request functions
 * wait on the calling thread for a reply that only the loop thread could read.
 *
 * Callbacks run on the loop thread and never before skt_nr_request returns: once per reply
 * (the message is valid during the call), and with NULL when the request ends without a
 * reply, or for multi when its time is up (timed out, or skt_nr_fail_all: the connection
 * went down). A cancelled request gets no more calls. A callback may start, cancel or fail
 * requests.
 */
#ifndef SKT_NATS_REQ_H
#define SKT_NATS_REQ_H

#include <soketi/adapter.h>
#include <nats/nats.h>
#include <stddef.h>
#include <stdint.h>

#include "nats_conn.h"

/* Requests waiting at once, at most: past it skt_nr_request refuses (a JetStream that stopped
 * answering must not make the node grow). */
#define SKT_NR_MAX_PENDING 10000

typedef struct skt_nr_s skt_nr_t;

/* A reply (valid during the call), or NULL: no (more) reply will come. */
typedef void (*skt_nr_cb)(void *arg, natsMsg *reply);

/* Creates the request table for replies on inbox (copied; "<inbox>.*" must be one of conn's
 * subscriptions, whose messages the owner hands to skt_nr_on_reply). NULL when out of
 * memory. */
skt_nr_t *skt_nr_new(const soketi_host_t *host, skt_nc_t *conn, const char *inbox);

/* Publishes data (len bytes) on subject with headers (NULL, or name/value pairs ended by a
 * NULL name) and waits for replies for timeout_ms. *id (when id is set) names it for
 * skt_nr_cancel. Returns 0, or -1 when it could not be sent (cb is never called then). */
int skt_nr_request(skt_nr_t *r, const char *subject, const char *const *headers, const char *data,
                   size_t len, long timeout_ms, int multi, skt_nr_cb cb, void *arg, uint64_t *id);

/* Publishes data on subject with headers (as skt_nr_request) expecting no reply. 0 or -1. */
int skt_nr_publish(skt_nr_t *r, const char *subject, const char *const *headers, const char *data,
                   size_t len);

/* Forgets request id (no more callbacks). Unknown ids are ignored. */
void skt_nr_cancel(skt_nr_t *r, uint64_t id);

/* A message on the inbox subscription. */
void skt_nr_on_reply(skt_nr_t *r, natsMsg *msg);

/* Ends every request now (callbacks with NULL): the connection went down, their replies
 * will not come. */
void skt_nr_fail_all(skt_nr_t *r);

/* Ends every request (callbacks with NULL) and frees r. NULL is fine. */
void skt_nr_free(skt_nr_t *r);

/* A new inbox subject prefix ("_INBOX.<unique>"), to free, or NULL. */
char *skt_nr_new_inbox(void);

/* The reply's status (NATS headers "NATS/1.0 404 ..."): 404, 408, ... or 0 when it has
 * none. */
int skt_nr_status(natsMsg *msg);

#endif
