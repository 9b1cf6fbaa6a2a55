/* workers_store.h - a worker's side of the state the workers of one host share in their
 * supervisor (src/workers/hub_store.h): the adapter ops cluster_transition,
 * cluster_present, cluster_admit, rate_consume, cache_get, cache_set and
 * cluster_connection, asked over the
 * same socket as the horizontal messages, so that webhooks and a user's online state
 * change once per host, and maxConnections, the presence member limit, the rate limits and
 * the cache of cache channels are the host's.
 *
 * DESIGN
 * The supervisor answers a worker's questions in the order they were asked, so the
 * questions in flight are a FIFO and an answer belongs to the oldest (its id is checked).
 * A question that cannot be sent (no supervisor, out of memory) is answered SOKETI_ERROR
 * from a deferred event, never before the op returns; the host then goes by the worker's
 * own transition. When the supervisor is gone, and at free, every question still waiting
 * is answered SOKETI_ERROR. cache_set is sent and forgotten: nothing answers it.
 *
 * Everything runs on the host's event loop thread.
 */
#ifndef SKT_WORKERS_STORE_H
#define SKT_WORKERS_STORE_H

#include <soketi/adapter.h>
#include <stddef.h>

struct bufferevent;

typedef struct skt_wst_s skt_wst_t;

/* A client on base. NULL when out of memory. */
skt_wst_t *skt_wst_new(struct event_base *base);

/* Where questions go: the socket to the supervisor, or NULL once it is gone (then every
 * question waiting is answered SOKETI_ERROR, later). Borrowed. */
void skt_wst_set_output(skt_wst_t *st, struct bufferevent *bev);

/* An answer frame's payload arrived. Returns 0, or -1 when it answers nothing asked (the
 * supervisor is broken). */
int skt_wst_on_answer(skt_wst_t *st, const unsigned char *payload, size_t len);

/* The ops, to be called with the client as self (adapter_workers.c wraps them). */
void skt_wst_transition(skt_wst_t *st, const char *app_id, const char *channel, const char *user_id,
                        int joined, soketi_count_cb cb, void *arg);
void skt_wst_present(skt_wst_t *st, const char *app_id, const char *channel,
                     const char *const *user_ids, size_t n, soketi_ids_cb cb, void *arg);
/* id_is_number: user_id's JSON type, kept by the supervisor for the LOST frames. */
void skt_wst_admit(skt_wst_t *st, const char *app_id, const char *channel, const char *user_id,
                   int id_is_number, long limit, soketi_count_cb cb, void *arg);
void skt_wst_connection(skt_wst_t *st, const char *app_id, int joined, long limit,
                        soketi_count_cb cb, void *arg);
void skt_wst_rate(skt_wst_t *st, const char *key, long points, long window_ms, soketi_consume_cb cb,
                  void *arg);
void skt_wst_get(skt_wst_t *st, const char *key, soketi_value_cb cb, void *arg);
void skt_wst_set(skt_wst_t *st, const char *key, const char *value, size_t len, long ttl_seconds);

/* Answers what waits SOKETI_ERROR, then frees st. NULL is a no-op. */
void skt_wst_free(skt_wst_t *st);

#endif
