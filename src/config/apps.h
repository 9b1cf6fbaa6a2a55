/* apps.h - the configured apps (soketi's appManager.array.apps): validation and lookup.
 *
 * DESIGN
 * Apps are described as JSON objects with soketi's keys (app.ts: "id", "key", "secret",
 * "maxConnections", ... and the aliases app.ts also accepts, such as "AppId" or
 * "max_connections"). The loader keeps one canonical JSON object per app while it merges
 * sources: skt_apps_set_field() and skt_apps_normalize() check each value as it arrives and
 * store it under its canonical key with its final type. skt_apps_build() then fills in what
 * was not given (soketi's defaults; the per-app limits fall back to the global presence.*,
 * channelLimits.* and eventLimits.* options, as app.ts does), checks the list as a whole
 * (non-empty id, key and secret; unique ids and keys) and indexes it by id and by key.
 * A built skt_apps_t is immutable; it owns its apps and everything they point to.
 */
#ifndef SKT_CONFIG_APPS_H
#define SKT_CONFIG_APPS_H

#include <jansson.h>
#include <stddef.h>

typedef struct skt_app_s {
    char *id, *key, *secret;
    long max_connections; /* -1 = unlimited (soketi also treats 0 as unlimited) */
    int enable_client_messages, enabled, enable_user_authentication;
    int enable_subscription_count; /* Pusher's pusher_internal:subscription_count */
    long max_backend_events_per_sec, max_client_events_per_sec,
        max_read_req_per_sec; /* -1 = unlimited */
    long max_presence_members_per_channel;
    double max_presence_member_size_kb;
    long max_channel_name_length, max_event_channels_at_once, max_event_name_length,
        max_event_batch_size;
    double max_event_payload_kb;
    json_t *webhooks; /* validated array, owned by the app */
} skt_app_t;

typedef struct skt_apps_s skt_apps_t; /* opaque; O(1) lookup by id and by key */

/* The fallbacks of the per-app limits (the global options of the same meaning). */
typedef struct skt_app_defaults_s {
    long max_presence_members_per_channel; /* presence.maxMembersPerChannel */
    double max_presence_member_size_kb;    /* presence.maxMemberSizeInKb */
    long max_channel_name_length;          /* channelLimits.maxNameLength */
    long max_event_channels_at_once;       /* eventLimits.maxChannelsAtOnce */
    long max_event_name_length;            /* eventLimits.maxNameLength */
    double max_event_payload_kb;           /* eventLimits.maxPayloadInKb */
    long max_event_batch_size;             /* eventLimits.maxBatchSize */
} skt_app_defaults_t;

/* Lookups: id/key are byte slices (no NUL needed). NULL when there is no such app. */
skt_app_t *skt_apps_by_id(const skt_apps_t *apps, const char *id, size_t len);
skt_app_t *skt_apps_by_key(const skt_apps_t *apps, const char *key, size_t len);
size_t skt_apps_count(const skt_apps_t *apps);
/* The i-th app in configuration order (i < count), else NULL. */
skt_app_t *skt_apps_at(const skt_apps_t *apps, size_t i);
/* The apps as a JSON array of objects with every soketi key (canonical names, defaults
 * filled in), in order. New reference; NULL when out of memory. */
json_t *skt_apps_to_json(const skt_apps_t *apps);
/* Frees the list and its apps. NULL is a no-op. */
void skt_apps_free(skt_apps_t *apps);

/* Describes the i-th app key soketi knows (app.ts order), for the sample file and --help.
 * Returns its canonical name, or NULL when i is past the last key. *def: its default as JSON
 * text, or NULL when it has none (id, key, secret: required) or takes the value of the global
 * option named in *global (else NULL). *doc: one line. */
const char *skt_apps_field_info(size_t i, const char **def, const char **global, const char **doc);

/* soketi's default app list: [{"id":"app-id","key":"app-key","secret":"app-secret",...}] in
 * canonical form. New reference (NULL when out of memory). */
json_t *skt_apps_default_list(void);

/* Checks one field and stores it into the canonical app object app (replacing whatever was
 * stored for that field under any alias). name: a soketi key or one of its aliases. value: the
 * value (borrowed). raw: the text the value was parsed from when it came from an INI file or
 * the environment, else NULL; a string field given a number keeps that text ("0123"), and a
 * text that is not JSON is taken as a string. Returns 0, or -1 with a message in err such as
 * "unknown key 'maxConection'" or "'maxConnections': expected an integer, got 'abc'". */
int skt_apps_set_field(json_t *app, const char *name, json_t *value, const char *raw, char *err,
                       size_t errlen);

/* Checks a whole app object (as found in a JSON file, or parsed from INI/env text) and returns
 * its canonical form in *out (new reference). When two aliases of a field are both given, the
 * one app.ts reads last wins. Returns 0, or -1 with a message in err (no index prefix). */
int skt_apps_normalize(const json_t *in, json_t **out, char *err, size_t errlen);

/* One app from a row of an app manager's store (include/soketi/app_manager.h): a JSON object
 * read as skt_apps_normalize reads one (soketi's keys and aliases, null and "" absent, a
 * webhooks string parsed as JSON), except that members it does not know (other columns) are
 * ignored; then built as skt_apps_build builds a list of one. Returns 0 with *out set (a list
 * of one app, caller owns it), or -1 with a message in err (no index prefix). */
int skt_apps_from_row(const json_t *row, const skt_app_defaults_t *defaults, skt_apps_t **out,
                      char *err, size_t errlen);

/* Builds the apps from a JSON array of canonical app objects (as skt_apps_normalize() makes;
 * a JSON null entry is a gap in the numbering and an error). Returns 0 with *out set (caller
 * owns it), or -1 with a message in err such as "apps[1]: 'secret' is missing or empty" or
 * "apps[2]: duplicate key 'app-key' (also apps[0])". */
int skt_apps_build(const json_t *list, const skt_app_defaults_t *defaults, skt_apps_t **out,
                   char *err, size_t errlen);

#endif
