/* message.c - every message soketi-c sends to a Pusher client (message.h). */
#include "pusher/message.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/map.h"

void
skt_msg_event_begin(skt_jw_t *w, const char *event, size_t elen, const char *channel, size_t clen)
{
    skt_jw_lit(w, "{\"event\":");
    skt_jw_str(w, event, elen);
    if (channel) {
        skt_jw_lit(w, ",\"channel\":");
        skt_jw_str(w, channel, clen);
    }
}

void
skt_msg_data_json(skt_jw_t *w, const json_t *data)
{
    skt_jw_lit(w, ",\"data\":");
    skt_jw_json(w, data);
}

void
skt_msg_data_raw(skt_jw_t *w, const char *json, size_t n)
{
    skt_jw_lit(w, ",\"data\":");
    skt_jw_raw(w, json, n);
}

void
skt_msg_event_end(skt_jw_t *w, const char *user_id, size_t ulen, int id_number)
{
    if (user_id) {
        skt_jw_lit(w, ",\"user_id\":");
        skt_jw_id(w, user_id, ulen, id_number);
    }
    skt_jw_lit(w, "}");
}

/* Appends [ids[0], ...] as JSON strings, without the brackets; first: nothing before. */
static void
msg_id_items(skt_jw_t *w, const char *const *ids, size_t n, int first)
{
    for (size_t i = 0; i < n; i++) {
        if (!first || i)
            skt_jw_lit(w, ",");
        skt_jw_cstr_value(w, ids[i]);
    }
}

/* An event whose name is a literal. */
static void
msg_begin(skt_jw_t *w, const char *event, const char *channel, size_t clen)
{
    skt_msg_event_begin(w, event, strlen(event), channel, clen);
}

void
skt_msg_connection_established(skt_jw_t *w, const char *socket_id, int activity_timeout)
{
    msg_begin(w, "pusher:connection_established", NULL, 0);
    skt_jw_lit(w, ",\"data\":");
    skt_jw_text_begin(w);
    skt_jw_lit(w, "{\"socket_id\":");
    skt_jw_cstr_value(w, socket_id);
    skt_jw_lit(w, ",\"activity_timeout\":");
    skt_jw_int(w, activity_timeout);
    skt_jw_lit(w, "}");
    skt_jw_text_end(w);
    skt_msg_event_end(w, NULL, 0, 0);
}

void
skt_msg_error(skt_jw_t *w, const char *channel, size_t clen, int code, const char *message)
{
    msg_begin(w, "pusher:error", channel, clen);
    skt_jw_lit(w, ",\"data\":{\"code\":");
    if (code)
        skt_jw_int(w, code);
    else
        skt_jw_lit(w, "null");
    skt_jw_lit(w, ",\"message\":");
    skt_jw_cstr_value(w, message);
    skt_jw_lit(w, "}");
    skt_msg_event_end(w, NULL, 0, 0);
}

void
skt_msg_subscription_error(skt_jw_t *w, const char *channel, size_t clen, const char *type,
                           const char *error, int status)
{
    msg_begin(w, "pusher:subscription_error", channel, clen);
    skt_jw_lit(w, ",\"data\":{");
    if (type) {
        skt_jw_key(w, "type", 1);
        skt_jw_cstr_value(w, type);
    }
    skt_jw_key(w, "error", !type);
    skt_jw_cstr_value(w, error);
    skt_jw_key(w, "status", 0);
    skt_jw_int(w, status);
    skt_jw_lit(w, "}");
    skt_msg_event_end(w, NULL, 0, 0);
}

void
skt_msg_subscription_succeeded(skt_jw_t *w, const char *channel, size_t clen)
{
    msg_begin(w, "pusher_internal:subscription_succeeded", channel, clen);
    skt_msg_event_end(w, NULL, 0, 0);
}

/* The distinct members in order of first appearance: order[k] is the first index of the
 * k-th distinct user id, and `last` maps an id to its last index (plus one). Returns the
 * count, or -1 when out of memory. */
static long
presence_distinct(const soketi_typed_member_t *members, size_t n, skt_map_t *last, size_t *order)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *id = members[i].user_id;
        size_t len = strlen(id);
        if (!skt_map_get(last, id, len))
            order[k++] = i;
        if (skt_map_put(last, id, len, (void *)(uintptr_t)(i + 1)) != 0)
            return -1;
    }
    return (long)k;
}

/* One typed id of the ids list; first: nothing before. */
static void
presence_id_item(skt_jw_t *w, const soketi_typed_member_t *m, int first)
{
    if (!first)
        skt_jw_lit(w, ",");
    skt_jw_id(w, m->user_id, strlen(m->user_id), m->id_is_number);
}

/* {"presence":{"ids":[...],"hash":{id: info},"count":N}} with self appended when new. */
static void
presence_data(skt_jw_t *w, const soketi_typed_member_t *members, const size_t *order, size_t k,
              skt_map_t *last, const soketi_typed_member_t *self, int self_new)
{
    const char *self_id = self->user_id, *self_info = self->user_info;
    skt_jw_lit(w, "{\"presence\":{\"ids\":[");
    for (size_t j = 0; j < k; j++)
        presence_id_item(w, &members[order[j]], j == 0);
    if (self_new)
        presence_id_item(w, self, k == 0);
    skt_jw_lit(w, "],\"hash\":{");
    for (size_t j = 0; j < k; j++) {
        const char *id = members[order[j]].user_id;
        size_t at = (size_t)(uintptr_t)skt_map_get(last, id, strlen(id)) - 1;
        skt_jw_key(w, id, j == 0);
        skt_jw_lit(w, members[at].user_info);
    }
    if (self_new) {
        skt_jw_key(w, self_id, k == 0);
        skt_jw_lit(w, self_info);
    }
    skt_jw_lit(w, "},\"count\":");
    skt_jw_int(w, (long long)k + (self_new ? 1 : 0));
    skt_jw_lit(w, "}}");
}

int
skt_msg_presence_succeeded(skt_jw_t *w, const char *channel, const soketi_typed_member_t *members,
                           size_t n, const soketi_typed_member_t *self)
{
    skt_map_t *last = skt_map_new();
    size_t *order = n ? malloc(n * sizeof(*order)) : NULL;
    long k = last && (order || !n) ? presence_distinct(members, n, last, order) : -1;
    if (k < 0) {
        skt_map_free(last);
        free(order);
        return -1;
    }
    int self_new = !skt_map_get(last, self->user_id, strlen(self->user_id));
    msg_begin(w, "pusher_internal:subscription_succeeded", channel, strlen(channel));
    skt_jw_lit(w, ",\"data\":");
    skt_jw_text_begin(w);
    presence_data(w, members, order, (size_t)k, last, self, self_new);
    skt_jw_text_end(w);
    skt_msg_event_end(w, NULL, 0, 0);
    skt_map_free(last);
    free(order);
    return 0;
}

void
skt_msg_member(skt_jw_t *w, const char *event, const char *channel, const char *user_id,
               int id_number, const char *user_info)
{
    msg_begin(w, event, channel, strlen(channel));
    skt_jw_lit(w, ",\"data\":");
    skt_jw_text_begin(w);
    skt_jw_lit(w, "{\"user_id\":");
    skt_jw_id(w, user_id, strlen(user_id), id_number);
    if (user_info) {
        skt_jw_lit(w, ",\"user_info\":");
        skt_jw_lit(w, user_info);
    }
    skt_jw_lit(w, "}");
    skt_jw_text_end(w);
    skt_msg_event_end(w, NULL, 0, 0);
}

void
skt_msg_subscription_count(skt_jw_t *w, const char *channel, size_t clen, long count)
{
    msg_begin(w, "pusher_internal:subscription_count", channel, clen);
    skt_jw_lit(w, ",\"data\":");
    skt_jw_text_begin(w);
    skt_jw_lit(w, "{\"subscription_count\":");
    skt_jw_int(w, count);
    skt_jw_lit(w, "}");
    skt_jw_text_end(w);
    skt_msg_event_end(w, NULL, 0, 0);
}

void
skt_msg_pong(skt_jw_t *w)
{
    skt_jw_lit(w, "{\"event\":\"pusher:pong\",\"data\":{}}");
}

void
skt_msg_signin_success(skt_jw_t *w, const json_t *data)
{
    msg_begin(w, "pusher:signin_success", NULL, 0);
    skt_msg_data_json(w, data);
    skt_msg_event_end(w, NULL, 0, 0);
}

void
skt_msg_cache_miss(skt_jw_t *w, const char *channel, size_t clen)
{
    msg_begin(w, "pusher:cache_miss", channel, clen);
    skt_msg_event_end(w, NULL, 0, 0);
}

/* {"name":name,"user_ids":[...]} */
static void
watchlist_group(skt_jw_t *w, const char *name, const char *const *ids, size_t n)
{
    skt_jw_lit(w, "{\"name\":");
    skt_jw_cstr_value(w, name);
    skt_jw_lit(w, ",\"user_ids\":[");
    msg_id_items(w, ids, n, 1);
    skt_jw_lit(w, "]}");
}

void
skt_msg_watchlist_events(skt_jw_t *w, const char *const *online, size_t non,
                         const char *const *offline, size_t noff)
{
    msg_begin(w, "pusher_internal:watchlist_events", NULL, 0);
    skt_jw_lit(w, ",\"data\":");
    skt_jw_text_begin(w);
    skt_jw_lit(w, "{\"events\":[");
    if (non)
        watchlist_group(w, "online", online, non);
    if (noff) {
        if (non)
            skt_jw_lit(w, ",");
        watchlist_group(w, "offline", offline, noff);
    }
    skt_jw_lit(w, "]}");
    skt_jw_text_end(w);
    skt_msg_event_end(w, NULL, 0, 0);
}
