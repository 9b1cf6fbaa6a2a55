/* http_info.h - the channel attributes an HTTP API request asks for with `info` (Pusher:
 * user_count, subscription_count), counted across the cluster through the adapter.
 *
 * DESIGN
 * A request names a list of channels (the channels an event went to, one per event of a
 * batch, or the occupied channels of GET /channels) and the attributes it wants of each.
 * A counting owns copies of the channel names and asks the adapter for each count it
 * needs: channel_sockets_count for subscription_count, channel_members_count for a
 * presence channel's user_count (other channels have none). At most SKT_INFO_IN_FLIGHT
 * queries are out at once, so a list of 100,000 presence channels asks the cluster in a
 * bounded window, not all at once; answers may come before the query returns (the local
 * adapter), so issuing is a loop that an answer inside it never re-enters. When every count
 * is in, done is called once; a count the adapter could not give (SOKETI_ERROR) is left
 * out of its item (got lacks its bit). The counting is freed after done returns.
 */
#ifndef SKT_PUSHER_HTTP_INFO_H
#define SKT_PUSHER_HTTP_INFO_H

#include <stddef.h>

#include "pusher/server.h"

/* Attributes (bits of want / got). */
#define SKT_INFO_USER_COUNT 1u
#define SKT_INFO_SUBSCRIPTION_COUNT 2u

/* Queries one counting keeps in flight at most. */
#define SKT_INFO_IN_FLIGHT 64

typedef struct skt_info_item_s {
    char *channel;           /* owned by the counting */
    unsigned want;           /* what to count (user_count only on presence channels) */
    unsigned got;            /* what was counted */
    long subscription_count; /* when got has SKT_INFO_SUBSCRIPTION_COUNT */
    long user_count;         /* when got has SKT_INFO_USER_COUNT */
} skt_info_item_t;

typedef struct skt_info_s skt_info_t;

/* Called once when every count is in: items[0..n) as counted (valid during the call). */
typedef void (*skt_info_done_fn)(void *arg, const skt_info_item_t *items, size_t n);

/* The attribute bits named in a comma-separated info list (len bytes); unknown names are
 * ignored. */
unsigned skt_info_parse(const char *list, size_t len);

/* A counting of n items for app_id, or NULL when out of memory. */
skt_info_t *skt_info_new(const char *app_id, size_t n);
/* Sets item i: channel (len bytes, copied) and the attributes wanted; known_sockets >= 0
 * gives subscription_count without asking. Returns 0, or -1 when out of memory. */
int skt_info_set(skt_info_t *info, size_t i, const char *channel, size_t len, unsigned want,
                 long known_sockets);
/* Keeps only the first n items (those set; n <= the count it was made with). */
void skt_info_trim(skt_info_t *info, size_t n);
/* Asks the adapter of srv for every count, then calls done(arg, ...) and frees info. */
void skt_info_run(skt_info_t *info, skt_server_t *srv, skt_info_done_fn done, void *arg);
/* Frees a counting that was not run. NULL is a no-op. */
void skt_info_free(skt_info_t *info);

#endif
