/* nats_count.h - how many nodes listen on the request subject: the NATS transport's answer
 * to the horizontal layer's numsub (Redis has PUBSUB NUMSUB; NATS has no such command).
 *
 * adapter.nats.nodesNumber set (> 0): that number, as in soketi. Otherwise every server of
 * the NATS cluster is asked for the connections of this account subscribed to the request
 * subject ($SYS.REQ.SERVER.PING.CONNZ with filter_subject; every account may ask it about
 * itself), and the counts are summed. soketi sends the same request without the filter,
 * which counts every connection of the account (a monitoring client included) and waits
 * 200 ms after the first server's answer for the others, on every query.
 *
 * Here the number of servers is learnt: when a connection comes up and every
 * SKT_NCOUNT_LEARN_MS after, a count waits SKT_NCOUNT_WINDOW_MS after the first answer for
 * the other servers and remembers how many answered. A query's count ends as soon as that
 * many have answered (one round trip), or after the window when fewer do (a server left:
 * the number learnt goes down). Queries asked while a count is on its way share it.
 *
 * When no server answers within SKT_NCOUNT_TIMEOUT_MS (a server without a system account,
 * a user not allowed to publish there), the count is "unknown": the query then waits
 * adapter.nats.requestsTimeout for whatever answers come, and the log says once to set
 * nodesNumber.
 */
#ifndef SKT_NATS_COUNT_H
#define SKT_NATS_COUNT_H

#include <soketi/adapter.h>

#include "horizontal.h"
#include "nats_req.h"

#define SKT_NCOUNT_SUBJECT "$SYS.REQ.SERVER.PING.CONNZ"
#define SKT_NCOUNT_WINDOW_MS 200
#define SKT_NCOUNT_TIMEOUT_MS 1000
#define SKT_NCOUNT_LEARN_MS 10000
/* What numsub answers when the count is unknown: wait for the timeout. */
#define SKT_NCOUNT_UNKNOWN 1000000L

typedef struct skt_ncount_s skt_ncount_t;

/* Counts the subscribers of subject (copied) through req; nodes_number > 0 answers that
 * instead. host, req and name (the log prefix) are borrowed. NULL when out of memory. */
skt_ncount_t *skt_ncount_new(const soketi_host_t *host, skt_nr_t *req, const char *subject,
                             long nodes_number, const char *name);

/* The transport's numsub: 0, then skt_hz_numsub_done(hreq, n) exactly once, later. */
int skt_ncount_ask(skt_ncount_t *ct, skt_hz_req_t *hreq);

/* The connection is up: learn the servers now, and periodically while it stays up. */
void skt_ncount_up(skt_ncount_t *ct);
/* It is down: stop learning (counts in flight end with the request table's failure). */
void skt_ncount_down(skt_ncount_t *ct);

/* Answers every waiting query (n = -1) and frees ct. NULL is fine. */
void skt_ncount_free(skt_ncount_t *ct);

#endif
