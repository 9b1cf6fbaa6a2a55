/* config.h - the daemon's configuration: one typed field per soketi option, and its loader.
 *
 * DESIGN
 * A configuration is built once at startup from up to three sources over the built-in
 * defaults, each overriding the one before: an INI file, a soketi-style JSON file, then the
 * SOKETI_* environment. Every option is known to the table in options.c (name, env var, type,
 * default, range, doc); this module is the only reader of SOKETI_* variables in the daemon.
 * After skt_config_load() the structure is plain data: read its fields directly, never write
 * them. Everything it points to (strings, lists, json, apps, the texts handed out by
 * skt_config_get_text()) is owned by it and lives until skt_config_free().
 *
 * Field names mirror soketi's dotted names in snake case: "adapter.redis.prefix" is
 * cfg->adapter.redis.prefix, "httpApi.acceptTraffic.memoryThreshold" is
 * cfg->http_api.accept_traffic.memory_threshold. Types: bool -> int (0/1), integer -> long,
 * number -> double, string -> char * (NULL only for options whose default is null),
 * string list -> NULL-terminated char **, free-form JSON -> json_t * (never NULL; JSON null
 * is json_null()).
 */
#ifndef SKT_CONFIG_CONFIG_H
#define SKT_CONFIG_CONFIG_H

#include <jansson.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>

#include "config/apps.h"

/* The value of an integer option whose soketi default is null, while it is null. */
#define SKT_CONFIG_INT_NULL LONG_MIN
/* The most worker processes `workers` may ask for. */
#define SKT_CONFIG_MAX_WORKERS 1024

typedef struct skt_config_s {
    struct {
        char *driver; /* local | redis | nats | cluster */
        struct {
            long requests_timeout;
            char *prefix;
            json_t *redis_pub_options;
            json_t *redis_sub_options;
            int cluster_mode;
            long node_ttl; /* ours: seconds a dead node's shared state outlives it */
        } redis;
        /* ours: what other nodes may cost this one (the Redis adapters) */
        long max_message_size_in_kb;
        long max_peer_requests_per_second;
        long max_peer_requests_per_second_total;
        long max_response_size_in_kb;
        long max_response_kb_per_second;
        long max_requests_per_second_per_app;
        struct {
            long requests_timeout;
        } cluster;
        struct {
            long requests_timeout;
            char *prefix;
            char **servers;
            char *user;  /* may be NULL */
            char *pass;  /* may be NULL */
            char *token; /* may be NULL */
            long timeout;
            long nodes_number; /* SKT_CONFIG_INT_NULL: ask the other nodes */
            /* ours */
            long node_ttl;               /* seconds a dead node's shared state outlives it */
            long kv_replicas;            /* of the JetStream key-value buckets */
            long max_pending_messages;   /* read from NATS, not yet processed */
            long max_pending_size_in_kb; /* the same in KB */
            char *credentials;           /* a .creds file; may be NULL */
            char *nkey;                  /* may be NULL */
            char *nkey_seed_path;        /* may be NULL */
            int tls;
            char *tls_ca_path;   /* may be NULL */
            char *tls_cert_path; /* may be NULL */
            char *tls_key_path;  /* may be NULL */
        } nats;
    } adapter;
    struct {
        char *driver; /* array | mysql | postgres | dynamodb */
        struct {
            int enabled;
            long ttl;
        } cache;
        long timeout;             /* ours: ms a lookup in the store may take */
        long max_pending_lookups; /* ours: distinct lookups waiting at once */
        struct {
            char *table;
            char *region;
            char *endpoint; /* may be NULL */
        } dynamodb;
        struct {
            char *table;
            char *version;
            int use_mysql2;
        } mysql;
        struct {
            char *table;
            char *version;
        } postgres;
    } app_manager;
    struct {
        char *driver; /* memory | redis */
        struct {
            json_t *redis_options;
            int cluster_mode;
        } redis;
    } cache;
    struct {
        long max_name_length;
        long cache_ttl;
    } channel_limits;
    struct { /* ours: what one connection may hold */
        long max_channels;
        long max_pending_requests;
    } connection_limits;
    struct {
        char *hostname;
        long hello_interval;
        long check_interval;
        long node_timeout;
        long master_timeout;
        long port;
        char *prefix;
        int ignore_process;
        char *broadcast;
        json_t *unicast; /* null, a string or an array of strings */
        char *multicast; /* may be NULL */
        long max_nodes;  /* ours: the cluster adapter's node table */
    } cluster;
    struct {
        int credentials;
        char **origin;
        char **methods;
        char **allowed_headers;
    } cors;
    struct {
        struct {
            char *host;
            long port;
            char *user;
            char *password;
            char *database;
        } mysql, postgres;
        struct {
            char *host;
            long port;
            long db;
            char *username; /* may be NULL */
            char *password; /* may be NULL */
            char *key_prefix;
            json_t *sentinels;       /* null or an array of {host, port} */
            char *sentinel_password; /* may be NULL */
            char *name;
            json_t *cluster_nodes; /* array */
        } redis;
    } database;
    struct {
        int enabled;
        long min;
        long max;
    } database_pooling;
    int debug;
    struct {
        long max_channels_at_once;
        long max_name_length;
        double max_payload_in_kb;
        long max_batch_size;
    } event_limits;
    char *host;
    struct {
        double request_limit_in_mb;
        struct {
            double memory_threshold;
        } accept_traffic;
        long max_header_size_in_kb; /* soketi-c */
        long auth_timestamp_window; /* soketi-c, seconds */
        long header_timeout;        /* soketi-c, seconds */
        long idle_timeout;          /* soketi-c, seconds */
    } http_api;
    struct {
        char *process_id; /* default: this process's pid */
    } instance;
    struct {
        int enabled;
        char *driver; /* prometheus */
        char *host;
        struct {
            char *prefix;
        } prometheus;
        long port;
    } metrics;
    char *mode; /* full | server | worker */
    long port;
    char *path_prefix;
    struct {
        long max_members_per_channel;
        double max_member_size_in_kb;
    } presence;
    struct {
        char *driver; /* sync | redis | sqs */
        struct {
            long concurrency;
            long lease_ms;         /* soketi-c's: a held job's lease */
            long max_jobs_per_app; /* soketi-c's: jobs of an app in redis */
            json_t *redis_options;
            int cluster_mode;
        } redis;
        struct {
            char *region;
            char *endpoint; /* may be NULL */
            json_t *client_options;
            json_t *consumer_options;
            char *queue_url;
            int process_batch;
            long batch_size;
            long polling_wait_time_ms;
        } sqs;
    } queue;
    struct {
        char *driver; /* local | redis | cluster */
        struct {
            json_t *redis_options;
            int cluster_mode;
        } redis;
    } rate_limiter;
    long shutdown_grace_period;
    struct {
        char *cert_path;
        char *key_path;
        char *passphrase;
        char *ca_path;
        long max_pending_handshakes; /* soketi-c */
    } ssl;
    long user_authentication_timeout;
    struct {
        struct {
            int enabled;
            long duration;
            long max_size_in_kb; /* soketi-c */
        } batching;
        /* soketi-c's bounds on pending webhooks */
        long max_pending_per_app;
        double max_pending_size_per_app_in_mb;
        double max_pending_size_in_mb;
    } webhooks;

    /* soketi-c's own options */
    struct {
        char *text;            /* "auto" or a number, as given */
        long count;            /* what it means: 1..SKT_CONFIG_MAX_WORKERS */
        long max_queue_in_mb;  /* bytes waiting for one worker, in MB */
        long requests_timeout; /* ms */
    } workers;
    char *plugin_dir;
    char *log_format; /* text | json */
    long max_backpressure_in_kb;
    long ws_idle_timeout; /* soketi-c, seconds */
    long ws_max_payload_in_kb;
    long max_buffered_input_in_mb;

    /* appManager.array.apps, validated, with every default filled in. */
    skt_apps_t *apps;

    struct skt_config_priv_s *priv; /* the loader's bookkeeping; not for readers */
} skt_config_t;

/* The sources of a configuration. A file is given by its path, or in memory by its text
 * (ini_text / json_text, len bytes, need not be NUL-terminated): the text is then read
 * exactly as the file's contents would be, and the path, when given, only names it in
 * messages ("<ini>" / "<json>" when NULL). The daemon reads files; tests and the fuzz
 * targets pass texts. */
typedef struct skt_config_sources_s {
    const char *ini_path;  /* NULL: none */
    const char *json_path; /* NULL: none */
    char **environ;        /* NULL-terminated "K=V" list (pass `environ`); NULL: none */
    const char *ini_text;  /* NULL: read ini_path, if any */
    size_t ini_len;
    const char *json_text; /* NULL: read json_path, if any */
    size_t json_len;
} skt_config_sources_t;

/* Builds a configuration from the defaults and the given sources (later ones win: INI, then
 * JSON, then environment). A text holding a NUL byte is refused, as a file holding one is. Values
 * from the INI file and the environment are read the way soketi reads its environment: JSON if the
 * text parses as JSON, else the text itself; then converted to the option's type. Unknown SOKETI_*
 * variables are logged as warnings and otherwise ignored; every other problem is an error. Returns
 * 0 with *out set (the caller owns it: skt_config_free()), or -1 with *out NULL and a one-line
 * message in err (naming the file:line, JSON key or variable, and what is wrong). */
int skt_config_load(const skt_config_sources_t *src, skt_config_t **out, char *err, size_t errlen);

/* The fallbacks of the per-app limits in cfg (the global presence.*, channelLimits.* and
 * eventLimits.* options), for apps built from cfg or from an app manager's rows. */
void skt_config_app_defaults(const skt_config_t *cfg, skt_app_defaults_t *d);

/* Frees everything cfg owns, apps included. NULL is a no-op. */
void skt_config_free(skt_config_t *cfg);

/* Text of any option by its dotted soketi name: strings as they are ("" for a null string),
 * integers, numbers and booleans formatted ("6001", "2", "true"; a null integer is "null"),
 * string lists and JSON values as compact JSON text. "appManager.array.apps" gives the apps as a
 * JSON array of objects with every key, defaults filled in. Returns a string owned by cfg, valid
 * until skt_config_free(), or NULL when dotted is not an option. Safe to call from any thread
 * (texts are made at load). */
const char *skt_config_get_text(skt_config_t *cfg, const char *dotted);

/* Writes the documented sample INI file: every option commented out at its default, with its
 * one-line doc and its environment variable. conf/soketi.conf is exactly this output. */
void skt_config_write_sample(FILE *f);

/* Writes the `soketi start --help` text: every option with its env var, default and doc. */
void skt_config_write_help(FILE *f);

#endif
