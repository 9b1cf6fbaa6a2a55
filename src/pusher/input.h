/* input.h - what the protocol accepts from clients and the HTTP API: one set of rules.
 *
 * DESIGN
 * The WebSocket side and the REST side read the same things (channel names, user ids,
 * string fields of a JSON message); each rule lives here once so that both sides accept
 * exactly the same inputs. Pure functions: nothing here sends or touches a socket.
 */
#ifndef SKT_PUSHER_INPUT_H
#define SKT_PUSHER_INPUT_H

#include <jansson.h>
#include <stddef.h>

/* The text of obj's member key when it is a JSON string (*len gets its length), else NULL. */
const char *skt_input_str(const json_t *obj, const char *key, size_t *len);

/* A client's JSON text (a WebSocket message, a REST body, channel_data, user_data) parsed as
 * JavaScript's JSON.parse reads it for soketi: a text with an integer past 64 bits is read
 * again with every integer as a double (JavaScript's only number), so it is relayed rounded
 * as soketi relays it instead of being dropped. NULL (err set when not NULL) when it is not
 * JSON. The caller owns the value. */
json_t *skt_input_parse(const char *text, size_t len, json_error_t *err);

/* A user id as text: strings as they are, integers formatted (Pusher clients key members by
 * string, and so does soketi-c: "1" and 1 are one user). *is_number (when not NULL) tells
 * which it was, so that the id goes out with the type the application gave it, as soketi
 * sends it. NULL when v is neither, is empty, holds a NUL (or out of memory). The caller
 * frees. */
char *skt_input_user_id(const json_t *v, int *is_number);

/* Pusher's channel naming rule (soketi's Utils.restrictedChannelName): an optional '#' then
 * one or more of A-Z a-z 0-9 - _ = @ , . ; */
int skt_input_channel_name_ok(const char *name, size_t len);

/* The size of an event's data as it travels: the length of its JSON text (a string's
 * content with its escapes, without the quotes). What the payload limits measure: a
 * string full of escapes costs what it costs on the wire and in every copy made of it. */
size_t skt_input_payload_size(const json_t *data);

/* A channel an HTTP API event may name: within max_len, and either a name a client may
 * subscribe to (skt_input_channel_name_ok) or "#server-to-user-<user id>" (the user id
 * without control characters). The WebSocket side applies the same rules. */
int skt_input_rest_channel_ok(const char *name, size_t len, long max_len);

#endif
