/* presence.c - presence channels: the member a subscription claims, joining with the
 * cluster's member list and limit, member_added / member_removed, and the member webhooks'
 * transitions.
 *
 * Behaviour and message shapes follow soketi 1.6 (src/channels/presence-channel-manager.ts
 * and src/ws-handler.ts); pusher/subscribe.c checks the subscription (name, signature)
 * and hands presence channels over here.
 *
 * DESIGN
 * The members of a channel live on every node, so a join first asks the adapter whether
 * the user may join (the per-channel limit): with cluster_admit, an atomic admission across
 * nodes that also records this node as holding the user; without it (or when it cannot
 * tell), the cluster's member count. Then it asks for the members themselves: the member
 * list answered and whether member_added is due (not when the user is already in through
 * another socket or node). A user already in through another socket of this node needs
 * no admission. A leave asks again whether the user is still there
 * elsewhere before member_removed. While a join waits the socket is held
 * (skt_socket_hold: it counts against the connection's pending budget) and each answer
 * checks whether it closed, or left the channel, meanwhile; a leave outlives its socket
 * and carries copies of what it needs. A socket already in the channel is answered at
 * once, as Pusher answers it ("Existing subscription to channel ..."): a repeated
 * subscribe asks the cluster nothing and sends nothing the client already has.
 */
#include "pusher/presence.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin/loader.h"
#include "pusher/cached.h"
#include "pusher/input.h"
#include "pusher/message.h"
#include "pusher/send.h"
#include "pusher/server.h"
#include "pusher/shared.h"
#include "pusher/signin.h"
#include "util/jsonw.h"

/* Broadcasts member_added / member_removed through the adapter. */
static void
broadcast_member_event(skt_server_t *srv, const char *app_id, const char *channel,
                       const char *event, const char *user_id, int id_number, const char *user_info,
                       const char *except)
{
    SKT_JW_ON_STACK(w, SKT_SEND_STACK);
    skt_msg_member(&w, event, channel, user_id, id_number, user_info);
    size_t len = 0;
    const char *text = skt_jw_cstr(&w, &len);
    if (text)
        SKT_ADAPTER(srv).broadcast(SKT_ADAPTER_SELF(srv), app_id, channel, text, len, except);
    skt_jw_free(&w);
}

/* What a presence join or leave carries across the adapter's answer. A join holds
 * its socket (s, referenced); a leave outlives it, so it copies app_id and socket_id. */
typedef struct presence_ctx_s {
    skt_server_t *srv;
    skt_socket_t *s;
    int admitted;  /* the adapter's cluster_admit: 1 the user's first node, 2 not; 0 unused */
    int id_number; /* user_id came as a JSON number */
    char *channel;
    char *user_id;
    char *user_info;
    char *app_id;
    char *socket_id;
} presence_ctx_t;

/* Ends a join or leave: drops the socket's reference, if it holds one, and the copies. */
static void
presence_ctx_free(presence_ctx_t *ctx)
{
    if (ctx->s)
        skt_socket_release(ctx->s);
    free(ctx->channel);
    free(ctx->user_id);
    free(ctx->user_info);
    free(ctx->app_id);
    free(ctx->socket_id);
    free(ctx);
}

/* 1 when user_id is among members[0..n). */
static int
presence_has(const soketi_typed_member_t *members, size_t n, const char *user_id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(members[i].user_id, user_id) == 0)
            return 1;
    return 0;
}

/* The members as the cluster sees them (before this socket joined): decide
 * member_added, then answer with the member list including ourselves. */
static void
presence_members_cb(void *arg, int status, const soketi_typed_member_t *members, size_t n)
{
    presence_ctx_t *ctx = arg;
    skt_socket_t *s = ctx->s;
    skt_server_t *srv = ctx->srv;
    if (skt_conn_is_closed(&s->conn) || status == SOKETI_ERROR) {
        if (!skt_conn_is_closed(&s->conn))
            skt_send_channel_error(s, ctx->channel, strlen(ctx->channel), 4302,
                                   "A server error has occured.");
        presence_ctx_free(ctx);
        return;
    }
    skt_sub_t *sub = skt_ns_find_sub(s, ctx->channel, strlen(ctx->channel));
    if (!sub) { /* unsubscribed meanwhile */
        presence_ctx_free(ctx);
        return;
    }
    int first_here =
        skt_ns_member_add(sub, ctx->user_id, strlen(ctx->user_id), ctx->id_number, ctx->user_info);
    if (first_here < 0) {
        skt_conn_abort(&s->conn);
        presence_ctx_free(ctx);
        return;
    }
    /* the type this node keeps for the user (an earlier socket's, when it has one) */
    int id_number = sub->member ? sub->member->id_number : ctx->id_number;
    if (first_here && ctx->admitted)
        skt_shared_member_admitted(srv, s->ns->app, ctx->channel, ctx->user_id, id_number,
                                   ctx->admitted == 1);
    else if (first_here)
        skt_shared_member(srv, s->ns->app, ctx->channel, ctx->user_id, id_number, 1);
    if (!presence_has(members, n, ctx->user_id))
        broadcast_member_event(srv, s->ns->app_id, ctx->channel, "pusher_internal:member_added",
                               ctx->user_id, id_number, ctx->user_info, s->id);
    SKT_JW_ON_STACK(w, SKT_SEND_STACK);
    soketi_typed_member_t self = {ctx->user_id, ctx->user_info, id_number};
    if (skt_msg_presence_succeeded(&w, ctx->channel, members, n, &self) != 0)
        w.failed = 1;
    skt_send_msg(s, &w);
    skt_cached_send(s, ctx->channel, strlen(ctx->channel));
    presence_ctx_free(ctx);
}

/* Pusher's answer to a subscribe for a channel the socket is in. */
static void
presence_existing(skt_socket_t *s, const char *channel, size_t clen)
{
    size_t n = skt_send_echo_len(s, clen);
    char *msg = malloc(n + 40);
    if (!msg)
        return;
    snprintf(msg, n + 40, "Existing subscription to channel %.*s", (int)n, channel);
    skt_send_error(s, 0, msg);
    free(msg);
}

/* What may stop a join once the cluster answered: s closed, or joined meanwhile through
 * an earlier subscribe, or is in as many channels as it may be. Returns 0 to go on, or -1
 * after answering s (when still open). */
static int
presence_join_check(presence_ctx_t *ctx)
{
    skt_socket_t *s = ctx->s;
    size_t clen = strlen(ctx->channel);
    if (skt_conn_is_closed(&s->conn))
        return -1;
    if (skt_ns_find_sub(s, ctx->channel, clen)) { /* an earlier join of s got in first */
        presence_existing(s, ctx->channel, clen);
        return -1;
    }
    if (s->nsubs >= ctx->srv->cfg->connection_limits.max_channels) {
        skt_send_subscription_limit(s, ctx->channel, clen, 0);
        return -1;
    }
    return 0;
}

/* The answer to a join over the channel's member limit. */
static void
presence_full(presence_ctx_t *ctx)
{
    skt_send_subscription_error(ctx->s, ctx->channel, strlen(ctx->channel), "LimitReached",
                                "The maximum members per presence channel limit was reached", 4100);
}

/* Joins s to the channel here, then asks the cluster for the member list to answer with. */
static void
presence_join(presence_ctx_t *ctx)
{
    skt_socket_t *s = ctx->s;
    skt_server_t *srv = ctx->srv;
    uint32_t n;
    if (!skt_ns_join(s->ns, s, ctx->channel, strlen(ctx->channel), &n)) {
        skt_conn_abort(&s->conn);
        presence_ctx_free(ctx);
        return;
    }
    skt_signin_deadline_clear(s);
    if (n == 1)
        skt_shared_channel(srv, s->ns->app, ctx->channel, 1);
    skt_shared_members(srv, s->ns->app_id, ctx->channel, presence_members_cb, ctx);
}

/* The cluster's member count, for the per-channel limit; then join. */
static void
presence_count_cb(void *arg, int status, long count)
{
    presence_ctx_t *ctx = arg;
    skt_socket_t *s = ctx->s;
    if (!skt_conn_is_closed(&s->conn) && status == SOKETI_ERROR)
        skt_send_subscription_error(s, ctx->channel, strlen(ctx->channel), "ServerError",
                                    "A server error has occured.", 4302);
    if (status == SOKETI_ERROR || presence_join_check(ctx) != 0) {
        presence_ctx_free(ctx);
        return;
    }
    if (count + 1 > s->ns->app->max_presence_members_per_channel) {
        presence_full(ctx);
        presence_ctx_free(ctx);
        return;
    }
    presence_join(ctx);
}

/* The cluster's admission of the user (the adapter's cluster_admit: the member limit
 * held atomically across nodes), then join; it may not be able to tell, then the count
 * decides as without it. An admission s no longer uses is given back. */
static void
presence_admit_cb(void *arg, int status, long count)
{
    presence_ctx_t *ctx = arg;
    skt_server_t *srv = ctx->srv;
    if (status == SOKETI_ERROR) {
        SKT_ADAPTER(srv).channel_members_count(SKT_ADAPTER_SELF(srv), ctx->s->ns->app_id,
                                               ctx->channel, presence_count_cb, ctx);
        return;
    }
    if (count > 0 && presence_join_check(ctx) != 0) {
        skt_shared_member_release(srv, ctx->s->ns, ctx->channel, ctx->user_id);
        presence_ctx_free(ctx);
        return;
    }
    if (count == 0) {
        if (!skt_conn_is_closed(&ctx->s->conn))
            presence_full(ctx);
        presence_ctx_free(ctx);
        return;
    }
    ctx->admitted = (int)count;
    presence_join(ctx);
}

/* After the last local socket of a user left: tell the channel, unless the
 * user is still there through another node. */
static void
presence_left_cb(void *arg, int status, const soketi_typed_member_t *members, size_t n)
{
    presence_ctx_t *ctx = arg;
    if (!presence_has(members, n, ctx->user_id) && status != SOKETI_ERROR)
        broadcast_member_event(ctx->srv, ctx->app_id, ctx->channel,
                               "pusher_internal:member_removed", ctx->user_id, ctx->id_number, NULL,
                               ctx->socket_id);
    presence_ctx_free(ctx);
}

/* presence.h: soketi's member checks, before the signature (it signs channel_data). */
int
skt_presence_member(skt_socket_t *s, const char *channel, size_t clen, const char *channel_data,
                    size_t cdlen, char **user_id, int *id_number, char **user_info)
{
    skt_app_t *app = s->ns->app;
    json_t *member = channel_data ? skt_input_parse(channel_data, cdlen, NULL) : NULL;
    *id_number = 0;
    *user_id = member ? skt_input_user_id(json_object_get(member, "user_id"), id_number) : NULL;
    json_t *info = member ? json_object_get(member, "user_info") : NULL;
    *user_info = info ? skt_jw_dump(info, NULL) : strdup("null");
    json_decref(member);
    if (!*user_id) {
        skt_send_subscription_error(s, channel, clen, "ServerError", "A server error has occured.",
                                    4302);
        free(*user_info);
        *user_info = NULL;
        return -1;
    }
    /* soketi measures the member as JSON.stringify(user_info) bytes. */
    if (*user_info && (double)strlen(*user_info) / 1024.0 > app->max_presence_member_size_kb) {
        char msg[128];
        snprintf(msg, sizeof(msg), "The maximum size for a channel member is %g KB.",
                 app->max_presence_member_size_kb);
        skt_send_subscription_error(s, channel, clen, "LimitReached", msg, 4301);
        free(*user_id);
        free(*user_info);
        *user_id = *user_info = NULL;
        return -1;
    }
    return 0;
}

/* presence.h: the join waits for the cluster's count, then its members. */
void
skt_presence_subscribe(skt_socket_t *s, const char *channel, size_t clen, char *user_id,
                       int id_number, char *user_info)
{
    skt_server_t *srv = skt_server_of(&s->conn);
    if (skt_ns_find_sub(s, channel, clen)) {
        presence_existing(s, channel, clen);
        free(user_id);
        free(user_info);
        return;
    }
    presence_ctx_t *ctx = calloc(1, sizeof(*ctx));
    if (!ctx || !(ctx->channel = strndup(channel, clen))) {
        free(ctx);
        free(user_id);
        free(user_info);
        skt_conn_abort(&s->conn);
        return;
    }
    ctx->srv = srv;
    ctx->user_id = user_id;
    ctx->id_number = id_number;
    ctx->user_info = user_info;
    skt_socket_hold(s, 0); /* admitted by pusher/subscribe.c against the budget */
    ctx->s = s;
    soketi_adapter_t *ad = srv->adapter;
    skt_channel_t *ch = skt_ns_channel(s->ns, channel, clen);
    int here = ch && ch->members && skt_map_get(ch->members, user_id, strlen(user_id));
    if (here) { /* the user is in through another socket of this node: admitted already */
        presence_join(ctx);
        return;
    }
    /* as soketi's count + 1 > limit: a negative limit admits nobody */
    long limit = s->ns->app->max_presence_members_per_channel < 0
                     ? 0
                     : s->ns->app->max_presence_members_per_channel;
    if (SKT_ADAPTER_HAS(ad, cluster_admit_typed)) {
        ad->ops.cluster_admit_typed(ad->self, s->ns->app_id, ctx->channel, user_id, id_number,
                                    limit, presence_admit_cb, ctx);
        return;
    }
    if (SKT_ADAPTER_HAS(ad, cluster_admit)) {
        ad->ops.cluster_admit(ad->self, s->ns->app_id, ctx->channel, user_id, limit,
                              presence_admit_cb, ctx);
        return;
    }
    SKT_ADAPTER(srv).channel_members_count(SKT_ADAPTER_SELF(srv), s->ns->app_id, ctx->channel,
                                           presence_count_cb, ctx);
}

/* presence.h: s may be closing, so the leave copies what the adapter's answer needs. */
void
skt_presence_left(skt_socket_t *s, const char *channel, char *user_id, int id_number)
{
    skt_server_t *srv = skt_server_of(&s->conn);
    if (s->ns->app)
        skt_shared_member(srv, s->ns->app, channel, user_id, id_number, 0);
    presence_ctx_t *ctx = calloc(1, sizeof(*ctx));
    if (!ctx) {
        free(user_id);
        return;
    }
    ctx->srv = srv;
    ctx->channel = strdup(channel);
    ctx->user_id = user_id;
    ctx->id_number = id_number;
    ctx->app_id = strdup(s->ns->app_id);
    ctx->socket_id = strdup(s->id);
    if (ctx->channel && ctx->app_id && ctx->socket_id)
        skt_shared_members(srv, ctx->app_id, ctx->channel, presence_left_cb, ctx);
    else
        presence_ctx_free(ctx);
}
