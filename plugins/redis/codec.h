/* codec.h - soketi 1.6's horizontal-adapter messages as JSON text: encode and decode.
 *
 * Three kinds of message travel on the adapter's pub/sub channels, exactly as soketi's
 * src/adapters/horizontal-adapter.ts writes them, so that soketi-c and soketi nodes
 * understand each other:
 *   broadcast  {"uuid","appId","channel","data","exceptingId"}   on `redis-adapter`
 *   request    {"requestId","appId","type","opts"?,"uuid"?}       on `...#comms#req`
 *   response   {"requestId", one result field}                    on `...#comms#res`
 * `data` is the Pusher event as JSON *text* (a string holding JSON). A request's "uuid"
 * (the sender's node id, as broadcasts carry it) is ours: soketi does not send it and
 * ignores it; it lets a node count each peer's requests apart. A response's "partial": true
 * is ours too: the sender cut its answer short (soketi ignores it). Results are what
 * soketi's JSON.stringify makes of its Maps and Sets: arrays of [key, value] pairs
 * (`members`, `channels`, `channelsWithSocketsCount`), socket objects (`sockets`), a
 * number (`totalCount`) or a boolean (`exists`).
 *
 * Encoders append to a growable buffer and never fail half-way silently: a failed
 * allocation sets buf->failed and every later append is a no-op. Decoders never trust
 * the input: anything that is not the expected shape returns -1 and leaves nothing
 * allocated. Nothing here touches a socket or the host.
 */
#ifndef SKT_REDIS_CODEC_H
#define SKT_REDIS_CODEC_H

#include <jansson.h>
#include <stddef.h>

#include "util/jsonw.h"

/* soketi's RequestType, by number on the wire. */
enum skt_rc_type {
    SKT_RC_SOCKETS = 0,
    SKT_RC_CHANNELS = 1,
    SKT_RC_CHANNEL_SOCKETS = 2,
    SKT_RC_CHANNEL_MEMBERS = 3,
    SKT_RC_SOCKETS_COUNT = 4,
    SKT_RC_CHANNEL_MEMBERS_COUNT = 5,
    SKT_RC_CHANNEL_SOCKETS_COUNT = 6,
    SKT_RC_SOCKET_EXISTS_IN_CHANNEL = 7,
    SKT_RC_CHANNELS_WITH_SOCKETS_COUNT = 8,
    SKT_RC_TERMINATE_USER_CONNECTIONS = 9,
    SKT_RC_TYPE_COUNT = 10
};

/* Messages are written with the project's JSON writer (util/jsonw.h). A writer for soketi's
 * wire escapes as JSON.stringify does: start it as SKT_RC_WRITER (a zeroed writer with
 * lower_hex set), free it with skt_jw_free. A failed allocation sets its `failed` and every
 * later append is a no-op: do not send its text. */
#define SKT_RC_WRITER                                                                              \
    {                                                                                              \
        .lower_hex = 1                                                                             \
    }

/* ---- what a message may cost ------------------------------------------------------- */

/* How deeply a peer's message may nest arrays and objects: soketi's messages nest at most
 * five levels, plus a presence member's user_info. */
#define SKT_RC_MAX_DEPTH 64

enum skt_rc_scan_result {
    SKT_RC_SCAN_OK = 0,
    SKT_RC_SCAN_TOO_DEEP = -1, /* nests deeper than max_depth */
    SKT_RC_SCAN_TOO_MANY = -2, /* more than max_values values */
};

/* Measures text (len bytes) before it is parsed: how deeply it nests and about how many
 * JSON values it holds (an upper bound: one per ',', '[' and '{' outside strings, plus
 * one), so that a decoder's memory (a few dozen bytes per value) and stack stay bounded.
 * Does not validate the JSON (the decoders do). Returns SKT_RC_SCAN_OK or the first bound
 * exceeded. Pure and linear; fine on any bytes. */
int skt_rc_scan(const char *text, size_t len, size_t max_depth, size_t max_values);

/* The request id of a response, read without parsing it when the text starts the way
 * soketi and we write responses: `{"requestId":"<id>"` with an id of at most 64 bytes and
 * no escapes. Returns the id's length with *id pointing into text, or 0 when the text
 * starts otherwise (parse it to know). */
size_t skt_rc_response_id_prefix(const char *text, size_t len, const char **id);

/* ---- broadcast ---------------------------------------------------------------------- */

/* Appends the broadcast envelope. data is the Pusher event text (data_len bytes);
 * except NULL or "" is written as null. */
void skt_rc_encode_broadcast(skt_jw_t *b, const char *uuid, const char *app_id, const char *channel,
                             const char *data, size_t data_len, const char *except);

/* A decoded broadcast. Strings point into the message's parsed form and live until
 * skt_rc_broadcast_clear. except is NULL when absent or null. */
typedef struct skt_rc_broadcast_s {
    const char *uuid; /* "" when absent */
    const char *app_id;
    const char *channel;
    const char *data;
    size_t data_len;
    const char *except;
    json_t *root;
    char *owned; /* data re-serialised, when a sender put an object there */
    char app_id_buf[24];
} skt_rc_broadcast_t;

/* Parses a broadcast. Returns 0, or -1 (nothing to clear) when the text is not JSON, not
 * an object, or lacks a non-empty appId, channel or data, as soketi then drops it too. */
int skt_rc_decode_broadcast(const char *text, size_t len, skt_rc_broadcast_t *out);
void skt_rc_broadcast_clear(skt_rc_broadcast_t *m);

/* ---- requests ----------------------------------------------------------------------- */

/* Appends a request. opts carries channel (types 2, 3, 5, 6, 7), wsId (7) and userId
 * (9): pass NULL for the ones the type does not use. uuid, the sender's node id, is
 * written after them (NULL: none, as soketi). */
void skt_rc_encode_request(skt_jw_t *b, const char *request_id, const char *app_id, int type,
                           const char *channel, const char *ws_id, const char *user_id,
                           const char *uuid);

typedef struct skt_rc_request_s {
    const char *request_id;
    const char *app_id;
    int type;
    const char *channel; /* NULL unless the type needs it */
    const char *ws_id;   /* NULL unless SOCKET_EXISTS_IN_CHANNEL */
    const char *user_id; /* NULL unless TERMINATE_USER_CONNECTIONS */
    const char *uuid;    /* the sender's node id; NULL when absent (soketi) or not a string */
    json_t *root;
    char app_id_buf[24];
    char user_id_buf[24];
} skt_rc_request_t;

/* Parses a request. Returns 0, or -1 (nothing to clear) for anything else: not an object,
 * no requestId or appId, a type outside 0-9, or a missing option the type needs. A
 * numeric appId or userId (soketi allows numeric ids) is turned into its decimal text. */
int skt_rc_decode_request(const char *text, size_t len, skt_rc_request_t *out);
void skt_rc_request_clear(skt_rc_request_t *r);

/* ---- responses ---------------------------------------------------------------------- */

/* A response is written in pieces: begin, then one field (a scalar, or a list of items
 * between list_begin and list_end), then end. Item functions put the separating commas. */
void skt_rc_response_begin(skt_jw_t *b, const char *request_id);
void skt_rc_response_total(skt_jw_t *b, long long total);
void skt_rc_response_exists(skt_jw_t *b, int exists);
/* field: "members", "channels", "channelsWithSocketsCount" or "sockets". */
void skt_rc_response_list_begin(skt_jw_t *b, const char *field);
/* [user_id, user_info] with user_info raw JSON text (NULL: null); user_id a number when
 * id_number and its text is an integer's (as soketi's nodes send numeric ids), else a
 * string. */
void skt_rc_response_member(skt_jw_t *b, const char *user_id, int id_number, const char *user_info);
/* ["channel", count] */
void skt_rc_response_channel_count(skt_jw_t *b, const char *channel, long count);
/* {"id": id, "subscribedChannels": {}, "presence": {}}: soketi's socket with its Set and
 * Map fields, which JSON.stringify turns into empty objects. */
void skt_rc_response_socket(skt_jw_t *b, const char *id);
/* ["channel", [ids...]]: begin, then skt_rc_response_id per socket, then end. */
void skt_rc_response_channel_begin(skt_jw_t *b, const char *channel);
void skt_rc_response_id(skt_jw_t *b, const char *id);
void skt_rc_response_channel_end(skt_jw_t *b);
void skt_rc_response_list_end(skt_jw_t *b);
/* ,"partial":true: the list before it was cut short (after list_end, before end). */
void skt_rc_response_partial(skt_jw_t *b);
void skt_rc_response_end(skt_jw_t *b);

/* The largest count a peer may report (a totalCount, a channel's sockets): far above what
 * any node holds, far below where a sum of such counts could overflow, even in a 32-bit
 * long. A count that is negative, fractional or larger is malformed. */
#define SKT_RC_COUNT_MAX 1000000000LL

/* A decoded response: requestId and whichever result fields were present (arrays are
 * validated item by item when they are read). */
typedef struct skt_rc_response_s {
    const char *request_id;
    int has_total;
    long long total;
    int has_exists;
    int exists;
    json_t *members;             /* array or NULL */
    json_t *channels_with_count; /* array or NULL */
    json_t *sockets;             /* array or NULL */
    int partial;                 /* "partial": true, ours: the sender cut its answer short */
    json_t *root;
} skt_rc_response_t;

/* Parses a response. Returns 0, or -1 (nothing to clear) when the text is not an object
 * with a non-empty string requestId, or when a result field it has is malformed: a
 * totalCount that is not an integer in 0..SKT_RC_COUNT_MAX (an integral real is taken,
 * as JavaScript has no integers), an exists that is not a boolean, or a members,
 * channelsWithSocketsCount or sockets that is not an array. Pure: a fuzz target may call
 * it with any bytes. */
int skt_rc_decode_response(const char *text, size_t len, skt_rc_response_t *out);
void skt_rc_response_clear(skt_rc_response_t *r);

/* Item readers for a decoded response's arrays: each returns 0 and fills its outputs, or
 * -1 when item i is malformed (the caller skips it). Strings belong to the response. */

/* members[i] = [user_id, user_info]: user_id a string or integer (written into idbuf,
 * 24 bytes; *id_number 1), *info_json a new JSON text of user_info (free it; "null" when
 * absent). */
int skt_rc_member_at(const skt_rc_response_t *r, size_t i, const char **user_id, int *id_number,
                     char *idbuf, char **info_json);
/* channelsWithSocketsCount[i] = [channel, count], count an integer in 0..SKT_RC_COUNT_MAX */
int skt_rc_channel_count_at(const skt_rc_response_t *r, size_t i, const char **channel,
                            long *count);
/* sockets[i] = {"id": ...} */
int skt_rc_socket_at(const skt_rc_response_t *r, size_t i, const char **id);

#endif
