/* nats_proto.h - the NATS adapter's names and documents as pure functions: soketi's
 * subjects, JetStream key-value buckets, keys and values, and reading NATS's JSON answers.
 *
 * Nothing here touches a socket, the loop or the host: the unit tests call it with text.
 *
 * Subjects, as soketi 1.6's NATS adapter names them: `nats-adapter` (or
 * `<prefix>#nats-adapter`) for broadcasts, plus `#comms#req` and `#comms#res`.
 *
 * Shared state lives in three JetStream key-value buckets named after the broadcast subject
 * (each character a bucket name cannot hold becomes `_`): `<subject>-occupancy`,
 * `<subject>-ratelimits`, `<subject>-cache`. A key is made of tokens joined by dots; each
 * token keeps [A-Za-z0-9_-] and writes every other byte as `=XX` (hex), so any app id,
 * channel name or user id is one valid token.
 *
 * Holders: who holds a channel (occupancy) or a presence member, as the value of an
 * occupancy key: a JSON object {"<user id>": {"<node id>": <expiry, Unix ms>, ...}, ...};
 * the channel itself is the user "". Each node writes its own entries with the time they
 * expire (now + nodeTtl by its own clock); whoever rewrites a value drops the expired ones.
 */
#ifndef SKT_NATS_PROTO_H
#define SKT_NATS_PROTO_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* soketi's three subjects (enum skt_hz_channel order) for prefix ("" or NULL: none). Each
 * is a new string; returns 0, or -1 when out of memory (nothing to free). */
int skt_np_subjects(const char *prefix, char *out[3]);

/* The bucket `<subject>-<what>`, subject's characters outside [A-Za-z0-9_-] made `_`.
 * A new string or NULL. */
char *skt_np_bucket(const char *subject, const char *what);

/* s as one key token (see above). A new string or NULL. */
char *skt_np_token(const char *s);

/* JetStream's stream-create request for a key-value bucket: one value per key, kept
 * max_age_s seconds after its last write (0: for ever), in memory, on replicas servers,
 * readable by direct get. A new string or NULL. */
char *skt_np_bucket_config(const char *bucket, long max_age_s, int replicas);

/* A JetStream API answer: 1 with *err_code (JetStream's err_code, or code when absent) and
 * desc (cut to desclen) when it is an error, 0 when it is not, -1 when it is not a JSON
 * object. */
int skt_np_api_error(const char *json, size_t len, long *err_code, char *desc, size_t desclen);

/* A publish acknowledgement ({"stream":..,"seq":N}): 0 with *seq, 1 with *err_code when
 * JetStream refused it, -1 when it is neither. */
int skt_np_puback(const char *json, size_t len, uint64_t *seq, long *err_code);

/* JetStream's err_code for "wrong last sequence" (a compare-and-set that lost). */
#define SKT_NP_ERR_WRONG_LAST_SEQUENCE 10071
/* "stream name already in use with a different configuration" */
#define SKT_NP_ERR_STREAM_IN_USE 10058
/* "jetstream not enabled" (server), "jetstream not enabled for account" */
#define SKT_NP_ERR_NOT_ENABLED 10076
#define SKT_NP_ERR_NOT_ENABLED_ACCOUNT 10039

/* The number of connections a server's CONNZ answer lists (data.num_connections), or -1
 * when the text is not such an answer. */
long skt_np_connz_count(const char *json, size_t len);

/* The CONNZ request that counts the connections subscribed to subject. A new string or
 * NULL. */
char *skt_np_connz_request(const char *subject);

/* ---- holders ------------------------------------------------------------------------ */

/* The occupancy key that records who holds user_id (NULL: the channel itself) in channel:
 *   o.<app>.<channel>          the channel (channel_occupied / vacated once per cluster)
 *   p.<app>.<channel>          every member of a presence- channel, in one value, so that
 *                              admitting a member against the channel's limit is one
 *                              compare-and-set (the value is bounded by that limit)
 *   u.<app>.<channel>.<user>   one user of any other channel (the watchlists' online
 *                              channel, unbounded, one key per user)
 * A new string or NULL. */
char *skt_np_holders_key(const char *app_id, const char *channel, const char *user_id);

/* The holders in a value (len bytes; NULL or anything but a JSON object: none), as a new
 * JSON object, with every entry that expired by now_ms (or is malformed) left out. NULL
 * only when out of memory. */
json_t *skt_np_holders_load(const char *value, size_t len, int64_t now_ms);

/* How many nodes other than node hold user. */
long skt_np_others(const json_t *holders, const char *user, const char *node);

/* How many distinct users are held: by another node, or listed in mine (n of them). */
size_t skt_np_users(const json_t *holders, const char *node, const char *const *mine, size_t n);

/* Makes node hold exactly the users in mine (n of them) until expires_ms: its other
 * entries go. Returns 0, or -1 when out of memory. */
int skt_np_hold(json_t *holders, const char *node, const char *const *mine, size_t n,
                int64_t expires_ms);

/* The value to write: compact JSON with sorted keys. A new string or NULL. */
char *skt_np_holders_dump(const json_t *holders);

/* ---- rate limit windows -------------------------------------------------------------- */

/* A window of rate-limiter-flexible: points used in it, and when it closes (Unix ms). */
typedef struct skt_np_window_s {
    long used;
    int64_t end_ms;
} skt_np_window_t;

/* Reads {"p":used,"e":end}. Anything else is an empty, closed window. */
void skt_np_window_load(const char *value, size_t len, skt_np_window_t *w);

/* Adds points at now_ms (a closed window opens a new one of window_ms first) and answers
 * the points used in it, these included, and the ms until it closes. */
void skt_np_window_consume(skt_np_window_t *w, long points, long window_ms, int64_t now_ms,
                           long *used, long *ms_left);

/* The value to write into buf (at least 64 bytes); returns its length. */
size_t skt_np_window_dump(const skt_np_window_t *w, char *buf, size_t size);

#endif
