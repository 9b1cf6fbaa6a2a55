/* http_query.c - the HTTP API's read routes: GET /apps/:id/channels, /channels/:name and
 * /channels/:name/users, answered from the cluster through the adapter.
 *
 * Routes, bodies and messages follow soketi 1.6 (src/http-handler.ts); pusher/http_api.c
 * routes and authorizes the request and hands it over here.
 *
 * DESIGN
 * A read first counts against the rate limiter (features/ratelimit.h, soketi's
 * readRateLimitingMiddleware), then asks the adapter, and answers from the completion
 * callbacks with the limiter's headers, holding a reference to the connection meanwhile
 * and checking whether it closed before answering. A query carries copies of what it
 * needs (app id, channel, filter), never the request itself.
 */
#include "pusher/http_query.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "features/features.h"
#include "pusher/channel_kind.h"
#include "pusher/http_info.h"
#include "pusher/http_reply.h"
#include "pusher/server.h"
#include "pusher/shared.h"

/* One read in flight, from the rate limiter's answer to the adapter's. */
typedef struct query_ctx_s {
    skt_conn_t *c;
    skt_http_query_t route;
    char *app_id;
    char *filter; /* channels: filter_by_prefix */
    char *channel;
    int with_user_info; /* users: with_user_info=1 */
    unsigned info;      /* channels: the attributes `info` asks for (http_info.h) */
    long sockets;       /* channel: subscription_count so far */
    char headers[160];  /* the rate limiter's, on every answer */
} query_ctx_t;

/* A query for route of app_id on c, holding c until query_free(). NULL without memory. */
static query_ctx_t *
query_ctx_new(skt_conn_t *c, skt_http_query_t route, const char *app_id)
{
    query_ctx_t *q = calloc(1, sizeof(*q));
    if (!q)
        return NULL;
    if (!(q->app_id = strdup(app_id))) {
        free(q);
        return NULL;
    }
    q->c = c;
    q->route = route;
    skt_conn_ref(c);
    return q;
}

/* Ends an async query: 1 when the connection is still there to answer. */
static int
query_alive(query_ctx_t *q)
{
    return !skt_conn_is_closed(q->c);
}

/* Drops the query and its hold on the connection. */
static void
query_free(query_ctx_t *q)
{
    skt_conn_unref(q->c);
    free(q->app_id);
    free(q->filter);
    free(q->channel);
    free(q);
}

/* Answers with the limiter's headers; a 200 counts as an answered API call. */
static void
query_respond(query_ctx_t *q, int status, json_t *obj)
{
    size_t sent = skt_http_reply_json_h(q->c, status, obj, q->headers);
    if (status == 200)
        skt_http_reply_count(q->c, q->app_id, 0, sent);
}

/* Answers 200 with the text written in w (freed). */
static void
query_respond_jw(query_ctx_t *q, skt_jw_t *w)
{
    size_t sent = skt_http_reply_jw_h(q->c, 200, w, q->headers);
    skt_http_reply_count(q->c, q->app_id, 0, sent);
}

/* The adapter could not answer: soketi's 500. */
static void
query_fail(query_ctx_t *q)
{
    skt_http_reply_error_h(q->c, 500, "A server error has occurred.", q->headers);
}

/* One channel of GET /channels: soketi's {subscription_count, occupied} and, when counted,
 * Pusher's user_count (user_count < 0: none). */
static void
channels_item(skt_jw_t *w, const char *channel, long sockets, long users, int first)
{
    skt_jw_key(w, channel, first);
    skt_jw_lit(w, "{\"subscription_count\":");
    skt_jw_int(w, sockets);
    skt_jw_lit(w, ",\"occupied\":true");
    if (users >= 0) {
        skt_jw_lit(w, ",\"user_count\":");
        skt_jw_int(w, users);
    }
    skt_jw_lit(w, "}");
}

/* GET /channels?info=user_count: every listed presence channel's user count is in. */
static void
channels_counted(void *arg, const skt_info_item_t *items, size_t n)
{
    query_ctx_t *q = arg;
    if (query_alive(q)) {
        SKT_JW_ON_STACK(w, 1024);
        skt_jw_lit(&w, "{\"channels\":{");
        for (size_t i = 0; i < n; i++)
            channels_item(&w, items[i].channel, items[i].subscription_count,
                          (items[i].got & SKT_INFO_USER_COUNT) ? items[i].user_count : -1, i == 0);
        skt_jw_lit(&w, "}}");
        query_respond_jw(q, &w);
    }
    query_free(q);
}

/* 1 when channel is listed: occupied, and under the filter. */
static int
channels_listed(const query_ctx_t *q, const soketi_channel_count_t *ch)
{
    return ch->count > 0 && (!q->filter || strncmp(ch->channel, q->filter, strlen(q->filter)) == 0);
}

/* With info=user_count: the listed channels go to a counting (http_info.h), which asks
 * the cluster for each presence channel's user count, a bounded number at once. */
static void
channels_count_users(query_ctx_t *q, const soketi_channel_count_t *chans, size_t n)
{
    size_t listed = 0, k = 0;
    for (size_t i = 0; i < n; i++)
        listed += channels_listed(q, &chans[i]);
    skt_info_t *info = skt_info_new(q->app_id, listed);
    for (size_t i = 0; info && i < n; i++) {
        if (channels_listed(q, &chans[i]) &&
            skt_info_set(info, k++, chans[i].channel, strlen(chans[i].channel),
                         SKT_INFO_USER_COUNT | SKT_INFO_SUBSCRIPTION_COUNT, chans[i].count) != 0) {
            skt_info_free(info);
            info = NULL;
        }
    }
    if (!info) {
        query_fail(q);
        query_free(q);
        return;
    }
    skt_info_run(info, skt_server_of(q->c), channels_counted, q);
}

/* GET /channels: the occupied channels, filtered by prefix, with their counts, written
 * straight into the answer (100,000 channels are a few milliseconds, not a tree of
 * 200,000 objects). */
static void
channels_cb(void *arg, int status, const soketi_channel_count_t *chans, size_t n)
{
    query_ctx_t *q = arg;
    if (query_alive(q) && status != SOKETI_ERROR && (q->info & SKT_INFO_USER_COUNT)) {
        channels_count_users(q, chans, n);
        return;
    }
    if (query_alive(q) && status == SOKETI_ERROR) {
        query_fail(q);
    } else if (query_alive(q)) {
        SKT_JW_ON_STACK(w, 1024);
        size_t written = 0;
        skt_jw_lit(&w, "{\"channels\":{");
        for (size_t i = 0; i < n; i++)
            if (channels_listed(q, &chans[i]))
                channels_item(&w, chans[i].channel, chans[i].count, -1, written++ == 0);
        skt_jw_lit(&w, "}}");
        query_respond_jw(q, &w);
    }
    query_free(q);
}

/* GET /channels/:name of an occupied presence channel: its user count too. */
static void
channel_members_count_cb(void *arg, int status, long count)
{
    query_ctx_t *q = arg;
    if (query_alive(q)) {
        if (status == SOKETI_ERROR)
            query_fail(q);
        else
            query_respond(q, 200,
                          json_pack("{s:I, s:b, s:I}", "subscription_count", (json_int_t)q->sockets,
                                    "occupied", q->sockets > 0, "user_count", (json_int_t)count));
    }
    query_free(q);
}

/* GET /channels/:name: the socket count, then for presence the user count. */
static void
channel_sockets_cb(void *arg, int status, long count)
{
    query_ctx_t *q = arg;
    skt_server_t *srv = skt_server_of(q->c);
    if (!query_alive(q) || status == SOKETI_ERROR) {
        if (query_alive(q))
            query_fail(q);
        query_free(q);
        return;
    }
    q->sockets = count;
    if (skt_channel_kind(q->channel, strlen(q->channel)) == SKT_CHANNEL_PRESENCE) {
        if (count > 0) {
            SKT_ADAPTER(srv).channel_members_count(SKT_ADAPTER_SELF(srv), q->app_id, q->channel,
                                                   channel_members_count_cb, q);
            return;
        }
        query_respond(q, 200,
                      json_pack("{s:I, s:b, s:i}", "subscription_count", (json_int_t)count,
                                "occupied", 0, "user_count", 0));
    } else {
        query_respond(q, 200,
                      json_pack("{s:I, s:b}", "subscription_count", (json_int_t)count, "occupied",
                                count > 0));
    }
    query_free(q);
}

/* GET /channels/:name/users: the member ids, with user_info (JSON text as the adapter
 * gives it) when asked. */
static void
users_cb(void *arg, int status, const soketi_typed_member_t *members, size_t n)
{
    query_ctx_t *q = arg;
    if (query_alive(q) && status == SOKETI_ERROR) {
        query_fail(q);
    } else if (query_alive(q)) {
        SKT_JW_ON_STACK(w, 1024);
        skt_jw_lit(&w, "{\"users\":[");
        for (size_t i = 0; i < n; i++) {
            skt_jw_lit(&w, i ? ",{\"id\":" : "{\"id\":");
            skt_jw_id(&w, members[i].user_id, strlen(members[i].user_id), members[i].id_is_number);
            if (q->with_user_info) {
                skt_jw_lit(&w, ",\"user_info\":");
                skt_jw_lit(&w, members[i].user_info);
            }
            skt_jw_lit(&w, "}");
        }
        skt_jw_lit(&w, "]}");
        query_respond_jw(q, &w);
    }
    query_free(q);
}

/* The rate limiter's answer for a read (soketi's readRateLimitingMiddleware):
 * refuse with 429, or ask the adapter, answering with the limiter's headers. */
static void
read_limited_cb(void *arg, const skt_rl_result_t *res)
{
    query_ctx_t *q = arg;
    skt_server_t *srv = skt_server_of(q->c);
    if (!query_alive(q)) {
        query_free(q);
        return;
    }
    if (!res->allowed) {
        skt_http_reply_too_many(q->c, res);
        query_free(q);
        return;
    }
    skt_rl_headers(res, q->headers, sizeof(q->headers));
    if (q->route == SKT_HTTP_QUERY_USERS &&
        skt_channel_kind(q->channel, strlen(q->channel)) != SKT_CHANNEL_PRESENCE) {
        skt_http_reply_error_h(q->c, 400, "The channel must be a presence channel.", q->headers);
        query_free(q);
        return;
    }
    /* Pusher: user_count only for a list limited to presence channels */
    if (q->route == SKT_HTTP_QUERY_CHANNELS && (q->info & SKT_INFO_USER_COUNT) &&
        (!q->filter || strncmp(q->filter, "presence-", 9) != 0)) {
        skt_http_reply_error_h(q->c, 400,
                               "user_count may only be requested with filter_by_prefix=presence-",
                               q->headers);
        query_free(q);
        return;
    }
    switch (q->route) {
    case SKT_HTTP_QUERY_CHANNELS:
        SKT_ADAPTER(srv).channels(SKT_ADAPTER_SELF(srv), q->app_id, channels_cb, q);
        break;
    case SKT_HTTP_QUERY_CHANNEL:
        SKT_ADAPTER(srv).channel_sockets_count(SKT_ADAPTER_SELF(srv), q->app_id, q->channel,
                                               channel_sockets_cb, q);
        break;
    case SKT_HTTP_QUERY_USERS:
        skt_shared_members(srv, q->app_id, q->channel, users_cb, q);
        break;
    }
}

/* http_query.h: one read request counts against the app's maxReadRequestsPerSecond
 * first; what the route needs of the request is copied, since the request's bytes do not
 * outlive skt_http_on_request(). */
void
skt_http_query_start(skt_conn_t *c, const skt_app_t *app, skt_http_query_t route,
                     const char *channel, const skt_sig_param_t *filter,
                     const skt_sig_param_t *with_user_info, const skt_sig_param_t *info)
{
    skt_server_t *srv = skt_server_of(c);
    query_ctx_t *q = query_ctx_new(c, route, app->id);
    if (q && route == SKT_HTTP_QUERY_CHANNELS && filter)
        q->filter = strndup(filter->val, filter->val_len);
    if (q && route != SKT_HTTP_QUERY_CHANNELS)
        q->channel = strdup(channel);
    if (!q || (route == SKT_HTTP_QUERY_CHANNELS && filter && !q->filter) ||
        (route != SKT_HTTP_QUERY_CHANNELS && !q->channel)) {
        if (q)
            query_free(q);
        skt_http_reply_error(c, 500, "A server error has occurred.");
        return;
    }
    q->with_user_info =
        with_user_info && with_user_info->val_len == 1 && with_user_info->val[0] == '1';
    q->info = info ? skt_info_parse(info->val, info->val_len) : 0;
    skt_rl_key_t key = {.app_id = app->id, .kind = SKT_RL_READ_REQUESTS};
    skt_rl_consume(srv->features->rl, &key, 1, app->max_read_req_per_sec, read_limited_cb, q);
}
