/* http_query.h - the HTTP API's read routes: channels, one channel, a presence channel's
 * users (pusher/http_query.c). */
#ifndef SKT_PUSHER_HTTP_QUERY_H
#define SKT_PUSHER_HTTP_QUERY_H

#include "config/apps.h"
#include "net/conn.h"
#include "pusher/sig.h"

/* The read routes, answered once the rate limiter and the adapter have. */
typedef enum skt_http_query_e {
    SKT_HTTP_QUERY_CHANNELS = 0, /* GET /apps/:id/channels */
    SKT_HTTP_QUERY_CHANNEL,      /* GET /apps/:id/channels/:name */
    SKT_HTTP_QUERY_USERS,        /* GET /apps/:id/channels/:name/users */
} skt_http_query_t;

/* Starts route for an authorized request of app on c: channel is :name (unused for
 * SKT_HTTP_QUERY_CHANNELS), filter the filter_by_prefix parameter, with_user_info the
 * with_user_info one and info the info one (NULL when absent; GET /channels with
 * info=user_count adds each presence channel's user_count, as Pusher). Answers on c, maybe
 * later: a 429, a 400 for users of a non-presence channel or for user_count without
 * filter_by_prefix=presence-, 500 when the adapter fails, else soketi's body. */
void skt_http_query_start(skt_conn_t *c, const skt_app_t *app, skt_http_query_t route,
                          const char *channel, const skt_sig_param_t *filter,
                          const skt_sig_param_t *with_user_info, const skt_sig_param_t *info);

#endif
