/* http_events.c - the HTTP API's writes: POST /apps/:id/events and /batch_events. */
#include "pusher/http_events.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "features/features.h"
#include "pusher/cached.h"
#include "pusher/channel_kind.h"
#include "pusher/http_info.h"
#include "pusher/http_reply.h"
#include "pusher/input.h"
#include "pusher/message.h"
#include "pusher/send.h"
#include "pusher/server.h"

/* Why a channel name was refused: the WebSocket side's messages (soketi does not check
 * the HTTP API's channels; we apply the same rules to both sides). */
static void
channel_refusal(const skt_app_t *app, size_t len, char *msg, size_t msglen)
{
    if ((long)len > app->max_channel_name_length)
        snprintf(msg, msglen, "The channel name is longer than the allowed %ld characters.",
                 app->max_channel_name_length);
    else
        snprintf(msg, msglen,
                 "The channel name is not allowed. Read channel conventions: "
                 "https://pusher.com/docs/channels/using_channels/channels/"
                 "#channel-naming-conventions");
}

/* Checks one event's channels (a list of strings, or one string), their count and their
 * names. Returns 0, or the HTTP status with msg filled. */
static int
check_channels(const skt_app_t *app, json_t *ev, char *msg, size_t msglen)
{
    json_t *channels = json_object_get(ev, "channels");
    json_t *channel = json_object_get(ev, "channel");
    size_t nch = 1;
    if (channels) {
        if (!json_is_array(channels)) {
            snprintf(msg, msglen, "The received data is incorrect");
            return 400;
        }
        nch = json_array_size(channels);
        for (size_t i = 0; i < nch; i++) {
            if (!json_is_string(json_array_get(channels, i))) {
                snprintf(msg, msglen, "The received data is incorrect");
                return 400;
            }
        }
    } else if (!json_is_string(channel)) {
        snprintf(msg, msglen, "The received data is incorrect");
        return 400;
    }
    if ((long)nch > app->max_event_channels_at_once) {
        snprintf(msg, msglen, "Cannot broadcast to more than %ld channels at once",
                 app->max_event_channels_at_once);
        return 400;
    }
    for (size_t i = 0; i < nch; i++) {
        json_t *ch = channels ? json_array_get(channels, i) : channel;
        if (!skt_input_rest_channel_ok(json_string_value(ch), json_string_length(ch),
                                       app->max_channel_name_length)) {
            channel_refusal(app, json_string_length(ch), msg, msglen);
            return 400;
        }
    }
    return 0;
}

/* Checks one event as soketi's checkMessageToBroadcast. Returns 0, or the
 * HTTP status (400 or 413) with msg filled. */
static int
check_event(const skt_app_t *app, json_t *ev, char *msg, size_t msglen)
{
    json_t *name = json_object_get(ev, "name");
    json_t *data = json_object_get(ev, "data");
    int data_falsy = !data || json_is_null(data) || json_is_false(data) ||
                     (json_is_string(data) && json_string_length(data) == 0) ||
                     (json_is_integer(data) && json_integer_value(data) == 0);
    if (!json_is_object(ev) ||
        (!json_object_get(ev, "channels") && !json_object_get(ev, "channel")) ||
        !json_is_string(name) || json_string_length(name) == 0 || data_falsy) {
        snprintf(msg, msglen, "The received data is incorrect");
        return 400;
    }
    int st = check_channels(app, ev, msg, msglen);
    if (st)
        return st;
    if ((long)json_string_length(name) > app->max_event_name_length) {
        snprintf(msg, msglen, "Event name is too long. Maximum allowed size is %ld.",
                 app->max_event_name_length);
        return 400;
    }
    if ((double)skt_input_payload_size(data) / 1024.0 > app->max_event_payload_kb) {
        snprintf(msg, msglen, "The event data should be less than %g KB.",
                 app->max_event_payload_kb);
        return 413;
    }
    return 0;
}

/* Broadcasts one event to each of its channels: the data is encoded once, then each
 * channel's {"event","channel","data"} is written around that text and handed to the
 * adapter. */
static void
broadcast_event(skt_server_t *srv, const skt_app_t *app, json_t *ev)
{
    json_t *name = json_object_get(ev, "name");
    json_t *data = json_object_get(ev, "data");
    json_t *channels = json_object_get(ev, "channels");
    json_t *sid = json_object_get(ev, "socket_id");
    const char *except = json_is_string(sid) ? json_string_value(sid) : NULL;
    SKT_JW_ON_STACK(dw, SKT_SEND_STACK);
    skt_jw_json(&dw, data);
    size_t dlen = 0;
    const char *dtext = skt_jw_cstr(&dw, &dlen);
    size_t n = channels ? json_array_size(channels) : 1;
    for (size_t i = 0; dtext && i < n; i++) {
        json_t *ch = channels ? json_array_get(channels, i) : json_object_get(ev, "channel");
        const char *cname = json_string_value(ch);
        size_t clen = json_string_length(ch);
        SKT_JW_ON_STACK(w, SKT_SEND_STACK);
        skt_msg_event_begin(&w, json_string_value(name), json_string_length(name), cname, clen);
        skt_msg_data_raw(&w, dtext, dlen);
        skt_msg_event_end(&w, NULL, 0, 0);
        size_t len = 0;
        const char *text = skt_jw_cstr(&w, &len);
        if (text)
            SKT_ADAPTER(srv).broadcast(SKT_ADAPTER_SELF(srv), app->id, cname, text, len, except);
        skt_jw_free(&w);
        skt_cached_store(srv, app, cname, clen, json_string_value(name), json_string_length(name),
                         data);
    }
    skt_jw_free(&dw);
}

/* Channels one event goes to, as soketi's rate limiting middleware counts
 * them: `(event.channels || [event.channel]).length`. */
static long
event_points(json_t *ev)
{
    json_t *channels = json_object_get(ev, "channels");
    return json_is_array(channels) ? (long)json_array_size(channels) : 1;
}

typedef struct events_ctx_s {
    skt_conn_t *c;
    json_t *body;
    size_t body_len; /* as received, for the metrics */
    int batch;
    char app_id[]; /* looked up again: a reload may replace the app meanwhile */
} events_ctx_t;

/* ------------------------------------------------------------ info */

/* The attributes one event asks for with `info` (Pusher's user_count, subscription_count). */
static unsigned
event_info(json_t *ev)
{
    json_t *info = json_object_get(ev, "info");
    return json_is_string(info) ? skt_info_parse(json_string_value(info), json_string_length(info))
                                : 0;
}

/* The channel at position i of an event (channels[i], or channel). */
static json_t *
event_channel(json_t *ev, size_t i)
{
    json_t *channels = json_object_get(ev, "channels");
    return channels ? json_array_get(channels, i) : json_object_get(ev, "channel");
}

/* 1 when the event names channel ch before position i (a channel is counted once). */
static int
event_channel_before(json_t *ev, size_t i, json_t *ch)
{
    for (size_t k = 0; k < i; k++)
        if (json_equal(event_channel(ev, k), ch))
            return 1;
    return 0;
}

/* The counting an events request asks for: for /events each distinct channel of the event,
 * for /batch_events one item per event (its channel). Returns 0 with *out NULL when no
 * event asks for anything, 0 with the counting, or -1 when out of memory. */
static int
events_info_new(const skt_app_t *app, json_t *body, int batch, skt_info_t **out)
{
    json_t *list = batch ? json_object_get(body, "batch") : NULL;
    size_t n = batch ? json_array_size(list) : 0, i;
    unsigned any = batch ? 0 : event_info(body);
    for (i = 0; i < n; i++)
        any |= event_info(json_array_get(list, i));
    *out = NULL;
    if (!any)
        return 0;
    json_t *channels = batch ? NULL : json_object_get(body, "channels");
    size_t items = batch ? n : channels ? json_array_size(channels) : 1, k = 0;
    skt_info_t *info = skt_info_new(app->id, items);
    for (i = 0; info && i < items; i++) {
        json_t *ev = batch ? json_array_get(list, i) : body;
        json_t *ch = event_channel(ev, batch ? 0 : i);
        if (!batch && event_channel_before(body, i, ch))
            continue;
        if (skt_info_set(info, k++, json_string_value(ch), json_string_length(ch), event_info(ev),
                         -1) != 0) {
            skt_info_free(info);
            return -1;
        }
    }
    if (info)
        skt_info_trim(info, k);
    *out = info;
    return info ? 0 : -1;
}

/* {"user_count":N,"subscription_count":N} with what was counted. */
static void
info_attributes(skt_jw_t *w, const skt_info_item_t *it)
{
    int first = 1;
    skt_jw_lit(w, "{");
    if (it->got & SKT_INFO_USER_COUNT) {
        skt_jw_key(w, "user_count", first);
        skt_jw_int(w, it->user_count);
        first = 0;
    }
    if (it->got & SKT_INFO_SUBSCRIPTION_COUNT) {
        skt_jw_key(w, "subscription_count", first);
        skt_jw_int(w, it->subscription_count);
    }
    skt_jw_lit(w, "}");
}

/* An events request waiting for its counts. */
typedef struct info_reply_s {
    skt_conn_t *c;
    size_t body_len;
    int batch;
    char headers[160];
    char app_id[];
} info_reply_t;

/* The counts are in: soketi's {"ok":true} with Pusher's "channels" (/events) or "batch"
 * (/batch_events) attributes. */
static void
events_info_done(void *arg, const skt_info_item_t *items, size_t n)
{
    info_reply_t *r = arg;
    if (!skt_conn_is_closed(r->c)) {
        SKT_JW_ON_STACK(w, 512);
        skt_jw_lit(&w, r->batch ? "{\"ok\":true,\"batch\":[" : "{\"ok\":true,\"channels\":{");
        for (size_t i = 0; i < n; i++) {
            if (r->batch && i)
                skt_jw_lit(&w, ",");
            else if (!r->batch)
                skt_jw_key(&w, items[i].channel, i == 0);
            info_attributes(&w, &items[i]);
        }
        skt_jw_lit(&w, r->batch ? "]}" : "}}");
        size_t sent = skt_http_reply_jw_h(r->c, 200, &w, r->headers);
        skt_http_reply_count(r->c, r->app_id, r->body_len, sent);
    }
    skt_conn_unref(r->c);
    free(r);
}

/* Answers a broadcast events request: {"ok":true}, or with the attributes its events ask
 * for once they are counted. */
static void
events_answer(skt_conn_t *c, skt_server_t *srv, const skt_app_t *app, json_t *body, size_t body_len,
              int batch, const char *headers)
{
    skt_info_t *info = NULL;
    if (events_info_new(app, body, batch, &info) != 0) {
        skt_http_reply_error_h(c, 500, "A server error has occurred.", headers);
        return;
    }
    if (!info) {
        SKT_JW_ON_STACK(w, 32);
        skt_jw_lit(&w, "{\"ok\":true}");
        size_t sent = skt_http_reply_jw_h(c, 200, &w, headers);
        skt_http_reply_count(c, app->id, body_len, sent);
        return;
    }
    size_t idl = strlen(app->id);
    info_reply_t *r = malloc(sizeof(*r) + idl + 1);
    if (!r) {
        skt_info_free(info);
        skt_http_reply_error_h(c, 500, "A server error has occurred.", headers);
        return;
    }
    r->c = c;
    r->body_len = body_len;
    r->batch = batch;
    snprintf(r->headers, sizeof(r->headers), "%s", headers);
    memcpy(r->app_id, app->id, idl + 1);
    skt_conn_ref(c);
    skt_info_run(info, srv, events_info_done, r);
}

/* ------------------------------------------------------------ requests */

/* Checks and broadcasts an events request the rate limiter let through;
 * headers: the limiter's. Consumes nothing; answers on c. */
static void
events_go(skt_conn_t *c, skt_server_t *srv, const skt_app_t *app, json_t *body, size_t body_len,
          int batch, const char *headers)
{
    char msg[256];
    json_t *list = batch ? json_object_get(body, "batch") : NULL;
    if (batch && (long)json_array_size(list) > app->max_event_batch_size) {
        snprintf(msg, sizeof(msg), "Cannot batch-send more than %ld messages at once",
                 app->max_event_batch_size);
        skt_http_reply_error_h(c, 400, msg, headers);
        return;
    }
    size_t n = batch ? json_array_size(list) : 1;
    for (size_t i = 0; i < n; i++) {
        int st = check_event(app, batch ? json_array_get(list, i) : body, msg, sizeof(msg));
        if (st) {
            skt_http_reply_error_h(c, st, msg, headers);
            return;
        }
    }
    for (size_t i = 0; i < n; i++)
        broadcast_event(srv, app, batch ? json_array_get(list, i) : body);
    events_answer(c, srv, app, body, body_len, batch, headers);
}

static void
events_limited_cb(void *arg, const skt_rl_result_t *res)
{
    events_ctx_t *ctx = arg;
    if (!skt_conn_is_closed(ctx->c)) {
        skt_server_t *srv = skt_server_of(ctx->c);
        skt_app_t *app = skt_server_app(srv, ctx->app_id, strlen(ctx->app_id));
        if (!res->allowed) {
            skt_http_reply_too_many(ctx->c, res);
        } else if (!app) {
            char msg[300];
            snprintf(msg, sizeof(msg), "The app %.200s could not be found.", ctx->app_id);
            skt_http_reply_error(ctx->c, 404, msg);
        } else {
            char headers[160];
            skt_rl_headers(res, headers, sizeof(headers));
            events_go(ctx->c, srv, app, ctx->body, ctx->body_len, ctx->batch, headers);
        }
    }
    skt_conn_unref(ctx->c);
    json_decref(ctx->body);
    free(ctx);
}

/* The points of a request: one per channel of each event (at least one). */
static long
events_points(json_t *body, json_t *list, int batch)
{
    if (!batch) {
        long points = event_points(body);
        return points < 1 ? 1 : points;
    }
    long points = 0;
    size_t i;
    json_t *ev;
    json_array_foreach(list, i, ev) points += event_points(ev);
    return points;
}

void
skt_http_events(skt_conn_t *c, const skt_app_t *app, const char *body_text, size_t body_len,
                int batch)
{
    skt_server_t *srv = skt_server_of(c);
    double limit_mb = srv->cfg->http_api.request_limit_in_mb;
    if ((double)body_len / (1024.0 * 1024.0) > limit_mb) {
        skt_http_reply_error(c, 413, "The payload size is too big.");
        return;
    }
    json_t *body = skt_input_parse(body_text, body_len, NULL);
    json_t *list = batch ? json_object_get(body, "batch") : NULL;
    if (!json_is_object(body) || (batch && !json_is_array(list))) {
        json_decref(body);
        skt_http_reply_error(c, 400, "The received data is incorrect");
        return;
    }
    size_t idl = strlen(app->id);
    events_ctx_t *ctx = malloc(sizeof(*ctx) + idl + 1);
    if (!ctx) {
        json_decref(body);
        skt_http_reply_error(c, 500, "A server error has occurred.");
        return;
    }
    ctx->c = c;
    ctx->body = body;
    ctx->body_len = body_len;
    ctx->batch = batch;
    memcpy(ctx->app_id, app->id, idl + 1);
    skt_conn_ref(c);
    skt_rl_key_t key = {.app_id = app->id, .kind = SKT_RL_BACKEND_EVENTS};
    skt_rl_consume(srv->features->rl, &key, events_points(body, list, batch),
                   app->max_backend_events_per_sec, events_limited_cb, ctx);
}
