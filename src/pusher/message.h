/* message.h - every message soketi-c sends to a Pusher client, written in one place.
 *
 * DESIGN
 * As Redis has one addReply* family, the protocol has one encoder: each function below
 * appends one complete message to a JSON writer (util/jsonw.h), key by key, in the order
 * soketi 1.6 writes them (src/ws-handler.ts, src/channels/ *.ts), so the bytes on the wire
 * are what soketi's JSON.stringify would send. Nothing is built as a tree and dumped; event
 * data is encoded once, where it lands, and a presence list or a member's user_info (JSON
 * text the daemon or the adapter already encoded) is copied as it is. Where Pusher puts
 * JSON inside a string ("data":"{\"presence\":...}"), the inner document is written
 * through the writer's text mode, escaped once on the way.
 *
 * The shapes:
 *   {"event":E[,"channel":C][,"data":D][,"user_id":U]}          skt_msg_event_*
 *   pusher:connection_established  data: text {"socket_id","activity_timeout"}
 *   pusher:error                    [channel], data: {"code": N|null, "message"}
 *   pusher:subscription_error       channel, data: {["type"], "error", "status"}
 *   pusher_internal:subscription_succeeded  channel [, data: text {"presence":{...}}]
 *   pusher_internal:member_added / member_removed  channel, data: text {"user_id"[,"user_info"]}
 * A presence user id goes out with the JSON type the application gave it (a number stays a
 * number, as soketi sends it); `hash` keys are its text.
 *   pusher_internal:watchlist_events  data: text {"events":[{"name","user_ids"}]}
 *   pusher_internal:subscription_count  channel, data: text {"subscription_count":N}
 *   pusher:pong {"data":{}}, pusher:signin_success {"data": the client's data},
 *   pusher:cache_miss channel
 * Nothing here touches a socket: pusher/send.h frames and queues what is written here.
 */
#ifndef SKT_PUSHER_MESSAGE_H
#define SKT_PUSHER_MESSAGE_H

#include <soketi/adapter.h>

#include <jansson.h>
#include <stddef.h>

#include "util/jsonw.h"

/* {"event":E[,"channel":C] ... : the start of every event. channel NULL leaves it out.
 * Continue with skt_msg_data_* (or nothing), then skt_msg_event_end. */
void skt_msg_event_begin(skt_jw_t *w, const char *event, size_t elen, const char *channel,
                         size_t clen);
/* ,"data": followed by data as JSON (a jansson value: NULL writes null). */
void skt_msg_data_json(skt_jw_t *w, const json_t *data);
/* ,"data": followed by n bytes that already are a JSON value's text. */
void skt_msg_data_raw(skt_jw_t *w, const char *json, size_t n);
/* [,"user_id":U]} : closes the event; user_id NULL leaves it out; id_number: written as a
 * number (skt_jw_id). */
void skt_msg_event_end(skt_jw_t *w, const char *user_id, size_t ulen, int id_number);

void skt_msg_connection_established(skt_jw_t *w, const char *socket_id, int activity_timeout);
/* pusher:error; channel NULL for a connection-level error; code 0 writes null (not a reason
 * to reconnect, as soketi's "code": null). */
void skt_msg_error(skt_jw_t *w, const char *channel, size_t clen, int code, const char *message);
/* pusher:subscription_error; type NULL leaves it out. */
void skt_msg_subscription_error(skt_jw_t *w, const char *channel, size_t clen, const char *type,
                                const char *error, int status);
/* subscription_succeeded of a channel without members. */
void skt_msg_subscription_succeeded(skt_jw_t *w, const char *channel, size_t clen);
/* subscription_succeeded of a presence channel: the members[0..n) as the cluster answered
 * (duplicates merged by id text: the first position and type, the last user_info), then
 * self (its id, type and user_info) when the list does not hold it. Returns 0, or -1 when
 * out of memory. */
int skt_msg_presence_succeeded(skt_jw_t *w, const char *channel,
                               const soketi_typed_member_t *members, size_t n,
                               const soketi_typed_member_t *self);
/* member_added (user_info: JSON text, or NULL for none: member_removed's shape). */
void skt_msg_member(skt_jw_t *w, const char *event, const char *channel, const char *user_id,
                    int id_number, const char *user_info);
/* pusher_internal:subscription_count: data text {"subscription_count":N} (Pusher's). */
void skt_msg_subscription_count(skt_jw_t *w, const char *channel, size_t clen, long count);
void skt_msg_pong(skt_jw_t *w);
void skt_msg_signin_success(skt_jw_t *w, const json_t *data);
void skt_msg_cache_miss(skt_jw_t *w, const char *channel, size_t clen);
/* watchlist_events with one entry per non-empty group. */
void skt_msg_watchlist_events(skt_jw_t *w, const char *const *online, size_t non,
                              const char *const *offline, size_t noff);

#endif
