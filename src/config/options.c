/* options.c - the table of every soketi option, and the typed conversions of their values. */
#include "config/options.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/config.h"

#define OFF(FIELD) offsetof(skt_config_t, FIELD)

#define OPT_BOOL(NAME, ENV, DEF, FIELD, DOC)                                                       \
    {                                                                                              \
        .name = NAME, .env = ENV, .type = SKT_OPT_BOOL, .def = DEF, .offset = OFF(FIELD),          \
        .doc = DOC                                                                                 \
    }
#define OPT_INT(NAME, ENV, DEF, FIELD, MIN, MAX, DOC)                                              \
    {                                                                                              \
        .name = NAME, .env = ENV, .type = SKT_OPT_INT, .flags = SKT_OPT_RANGE, .def = DEF,         \
        .offset = OFF(FIELD), .min = MIN, .max = MAX, .doc = DOC                                   \
    }
/* An integer option of soketi-c's own (not in soketi 1.6). */
#define OPT_INT_OURS(NAME, ENV, DEF, FIELD, MIN, MAX, DOC)                                         \
    {                                                                                              \
        .name = NAME, .env = ENV, .type = SKT_OPT_INT, .flags = SKT_OPT_RANGE | SKT_OPT_SOKETI_C,  \
        .def = DEF, .offset = OFF(FIELD), .min = MIN, .max = MAX, .doc = DOC                       \
    }
#define OPT_NUM(NAME, ENV, DEF, FIELD, FLAGS, MIN, MAX, DOC)                                       \
    {                                                                                              \
        .name = NAME, .env = ENV, .type = SKT_OPT_NUMBER, .flags = SKT_OPT_RANGE | (FLAGS),        \
        .def = DEF, .offset = OFF(FIELD), .min = MIN, .max = MAX, .doc = DOC                       \
    }
#define OPT_STR(NAME, ENV, DEF, FIELD, FLAGS, DOC)                                                 \
    {                                                                                              \
        .name = NAME, .env = ENV, .type = SKT_OPT_STRING, .flags = FLAGS, .def = DEF,              \
        .offset = OFF(FIELD), .doc = DOC                                                           \
    }
/* A string option of soketi-c's own (FLAGS as OPT_STR's). */
#define OPT_STR_OURS(NAME, ENV, DEF, FIELD, FLAGS, DOC)                                            \
    OPT_STR(NAME, ENV, DEF, FIELD, (FLAGS) | SKT_OPT_SOKETI_C, DOC)
/* A boolean option of soketi-c's own. */
#define OPT_BOOL_OURS(NAME, ENV, DEF, FIELD, DOC)                                                  \
    {                                                                                              \
        .name = NAME, .env = ENV, .type = SKT_OPT_BOOL, .flags = SKT_OPT_SOKETI_C, .def = DEF,     \
        .offset = OFF(FIELD), .doc = DOC                                                           \
    }
#define OPT_ENUM(NAME, ENV, DEF, FIELD, CHOICES, DOC)                                              \
    {                                                                                              \
        .name = NAME, .env = ENV, .type = SKT_OPT_STRING, .def = DEF, .offset = OFF(FIELD),        \
        .choices = CHOICES, .doc = DOC                                                             \
    }
#define OPT_LIST(NAME, ENV, DEF, FIELD, DOC)                                                       \
    {                                                                                              \
        .name = NAME, .env = ENV, .type = SKT_OPT_LIST, .def = DEF, .offset = OFF(FIELD),          \
        .doc = DOC                                                                                 \
    }
#define OPT_JSON(NAME, ENV, DEF, FIELD, FLAGS, DOC)                                                \
    {                                                                                              \
        .name = NAME, .env = ENV, .type = SKT_OPT_JSON, .flags = FLAGS, .def = DEF,                \
        .offset = OFF(FIELD), .doc = DOC                                                           \
    }

#define NULLABLE SKT_OPT_NULLABLE
#define OBJ SKT_OPT_JSON_OBJECT
#define ARR SKT_OPT_JSON_ARRAY
#define PORT_MAX 65535
#define NOMAX LONG_MAX

static const char *const app_manager_drivers[] = {"array", "mysql", "postgres", "dynamodb", NULL};
static const char *const cache_drivers[] = {"memory", "redis", NULL};
static const char *const metrics_drivers[] = {"prometheus", NULL};
static const char *const modes[] = {"full", "server", "worker", NULL};
static const char *const queue_drivers[] = {"sync", "redis", "sqs", NULL};
static const char *const rate_limiter_drivers[] = {"local", "redis", "cluster", NULL};
static const char *const log_formats[] = {"text", "json", NULL};

/* soketi 1.6's options in the order of src/options.ts, then soketi-c's own. Defaults are
 * soketi's (src/server.ts); env names are soketi's (src/cli/cli.ts). */
const skt_option_t skt_options[] = {
    /* Any name: the driver is the plugin adapter_<driver>.so, and the loader
     * explains a missing or refused one. */
    OPT_STR(
        "adapter.driver", "SOKETI_ADAPTER_DRIVER", "\"local\"", adapter.driver, 0,
        "Adapter plugin (adapter_<driver>.so): local, redis, redis-cluster, nats, cluster, or a "
        "third-party one."),
    OPT_INT("adapter.redis.requestsTimeout", "SOKETI_ADAPTER_REDIS_REQUESTS_TIMEOUT", "5000",
            adapter.redis.requests_timeout, 0, NOMAX,
            "Milliseconds to wait for other nodes to answer a redis adapter request."),
    OPT_STR("adapter.redis.prefix", "SOKETI_ADAPTER_REDIS_PREFIX", "\"\"", adapter.redis.prefix, 0,
            "Prefix of the redis adapter's pub/sub channel names."),
    OPT_JSON("adapter.redis.redisPubOptions", "SOKETI_ADAPTER_REDIS_PUB_OPTIONS", "{}",
             adapter.redis.redis_pub_options, OBJ,
             "Extra ioredis options (JSON object) for the publishing connection."),
    OPT_JSON("adapter.redis.redisSubOptions", "SOKETI_ADAPTER_REDIS_SUB_OPTIONS", "{}",
             adapter.redis.redis_sub_options, OBJ,
             "Extra ioredis options (JSON object) for the subscribing connection."),
    OPT_BOOL("adapter.redis.clusterMode", "SOKETI_ADAPTER_REDIS_CLUSTER_MODE", "false",
             adapter.redis.cluster_mode,
             "Connect the redis adapter to a Redis Cluster (database.redis.clusterNodes)."),
    OPT_INT_OURS("adapter.redis.nodeTtl", "SOKETI_ADAPTER_REDIS_NODE_TTL", "30",
                 adapter.redis.node_ttl, 2, 86400,
                 "Seconds after which the Redis adapter forgets the channels and presence members "
                 "of a node that stopped refreshing them (it died): webhooks once per cluster."),
    OPT_INT_OURS("adapter.maxMessageSizeInKb", "SOKETI_ADAPTER_MAX_MESSAGE_SIZE_IN_KB", "4096",
                 adapter.max_message_size_in_kb, 1, 524288,
                 "Largest message (KB) on the adapter's channels: a peer's larger one is dropped "
                 "unread, a broadcast of ours that large is delivered on this node only."),
    OPT_INT_OURS("adapter.maxPeerRequestsPerSecond", "SOKETI_ADAPTER_MAX_PEER_REQUESTS_PER_SECOND",
                 "2000", adapter.max_peer_requests_per_second, 0, NOMAX,
                 "Requests of one other node this node answers per second (0: no limit); the "
                 "rest are dropped."),
    OPT_INT_OURS("adapter.maxPeerRequestsPerSecondTotal",
                 "SOKETI_ADAPTER_MAX_PEER_REQUESTS_PER_SECOND_TOTAL", "10000",
                 adapter.max_peer_requests_per_second_total, 0, NOMAX,
                 "Requests of all other nodes this node answers per second (0: no limit); the "
                 "rest are dropped."),
    OPT_INT_OURS("adapter.maxResponseSizeInKb", "SOKETI_ADAPTER_MAX_RESPONSE_SIZE_IN_KB", "1024",
                 adapter.max_response_size_in_kb, 1, 524288,
                 "Largest answer (KB) this node sends another: a longer list is cut and marked "
                 "partial."),
    OPT_INT_OURS("adapter.maxResponseKbPerSecond", "SOKETI_ADAPTER_MAX_RESPONSE_KB_PER_SECOND",
                 "2048", adapter.max_response_kb_per_second, 0, NOMAX,
                 "KB of answers to other nodes this node sends per second (0: no limit); past it "
                 "lists are answered empty and partial."),
    OPT_INT_OURS("adapter.maxRequestsPerSecondPerApp",
                 "SOKETI_ADAPTER_MAX_REQUESTS_PER_SECOND_PER_APP", "1000",
                 adapter.max_requests_per_second_per_app, 0, NOMAX,
                 "Cluster-wide queries this node sends per app per second, identical ones in "
                 "flight counted once (0: no limit); past it they are answered from this node."),
    OPT_INT("adapter.cluster.requestsTimeout", "SOKETI_ADAPTER_CLUSTER_REQUESTS_TIMEOUT", "5000",
            adapter.cluster.requests_timeout, 0, NOMAX,
            "Milliseconds to wait for other nodes to answer a cluster adapter request."),
    OPT_INT("adapter.nats.requestsTimeout", "SOKETI_ADAPTER_NATS_REQUESTS_TIMEOUT", "5000",
            adapter.nats.requests_timeout, 0, NOMAX,
            "Milliseconds to wait for other nodes to answer a NATS adapter request."),
    OPT_STR("adapter.nats.prefix", "SOKETI_ADAPTER_NATS_PREFIX", "\"\"", adapter.nats.prefix, 0,
            "Prefix of the NATS adapter's subjects."),
    OPT_LIST("adapter.nats.servers", "SOKETI_ADAPTER_NATS_SERVERS", "[\"127.0.0.1:4222\"]",
             adapter.nats.servers, "NATS servers (host:port) to connect to."),
    OPT_STR("adapter.nats.user", "SOKETI_ADAPTER_NATS_USER", "null", adapter.nats.user, NULLABLE,
            "NATS user name."),
    OPT_STR("adapter.nats.pass", "SOKETI_ADAPTER_NATS_PASSWORD", "null", adapter.nats.pass,
            NULLABLE, "NATS password."),
    OPT_STR("adapter.nats.token", "SOKETI_ADAPTER_NATS_TOKEN", "null", adapter.nats.token, NULLABLE,
            "NATS authentication token."),
    OPT_INT("adapter.nats.timeout", "SOKETI_ADAPTER_NATS_TIMEOUT", "10000", adapter.nats.timeout, 0,
            NOMAX, "Milliseconds to wait for the NATS connection."),
    {.name = "adapter.nats.nodesNumber",
     .env = "SOKETI_ADAPTER_NATS_NODES_NUMBER",
     .type = SKT_OPT_INT,
     .flags = SKT_OPT_RANGE | SKT_OPT_NULLABLE,
     .def = "null",
     .offset = OFF(adapter.nats.nodes_number),
     .min = 0,
     .max = NOMAX,
     .doc = "Number of nodes to wait answers from; null asks NATS how many there are."},
    OPT_INT_OURS("adapter.nats.nodeTtl", "SOKETI_ADAPTER_NATS_NODE_TTL", "30",
                 adapter.nats.node_ttl, 2, 86400,
                 "Seconds after which the NATS adapter forgets the channels and presence members "
                 "of a node that stopped refreshing them (it died): webhooks once per cluster."),
    OPT_INT_OURS("adapter.nats.kvReplicas", "SOKETI_ADAPTER_NATS_KV_REPLICAS", "1",
                 adapter.nats.kv_replicas, 1, 5,
                 "Replicas of the JetStream key-value buckets the NATS adapter keeps the shared "
                 "state in (a NATS cluster with JetStream on that many servers)."),
    OPT_INT_OURS("adapter.nats.maxPendingMessages", "SOKETI_ADAPTER_NATS_MAX_PENDING_MESSAGES",
                 "65536", adapter.nats.max_pending_messages, 1, 16777216,
                 "Messages from NATS read and not yet processed, at most: a node that falls "
                 "further behind drops new ones (counted and logged)."),
    OPT_INT_OURS("adapter.nats.maxPendingSizeInKb", "SOKETI_ADAPTER_NATS_MAX_PENDING_SIZE_IN_KB",
                 "65536", adapter.nats.max_pending_size_in_kb, 1, 2097151,
                 "KB of messages from NATS read and not yet processed, at most (as "
                 "maxPendingMessages)."),
    OPT_STR_OURS("adapter.nats.credentials", "SOKETI_ADAPTER_NATS_CREDENTIALS", "null",
                 adapter.nats.credentials, NULLABLE,
                 "A NATS .creds file (user JWT and NKey seed) to log in with."),
    OPT_STR_OURS("adapter.nats.nkey", "SOKETI_ADAPTER_NATS_NKEY", "null", adapter.nats.nkey,
                 NULLABLE, "Public NKey of the NATS user (with adapter.nats.nkeySeedPath)."),
    OPT_STR_OURS("adapter.nats.nkeySeedPath", "SOKETI_ADAPTER_NATS_NKEY_SEED_PATH", "null",
                 adapter.nats.nkey_seed_path, NULLABLE,
                 "File holding the NATS user's NKey seed (with adapter.nats.nkey)."),
    OPT_BOOL_OURS("adapter.nats.tls", "SOKETI_ADAPTER_NATS_TLS", "false", adapter.nats.tls,
                  "Connect to NATS over TLS (tls:// server URLs do too)."),
    OPT_STR_OURS("adapter.nats.tlsCaPath", "SOKETI_ADAPTER_NATS_TLS_CA", "null",
                 adapter.nats.tls_ca_path, NULLABLE,
                 "CA certificates (PEM) the NATS servers' certificates must verify against; "
                 "implies TLS."),
    OPT_STR_OURS("adapter.nats.tlsCertPath", "SOKETI_ADAPTER_NATS_TLS_CERT", "null",
                 adapter.nats.tls_cert_path, NULLABLE,
                 "Client certificate (PEM) for NATS, with adapter.nats.tlsKeyPath; implies TLS."),
    OPT_STR_OURS("adapter.nats.tlsKeyPath", "SOKETI_ADAPTER_NATS_TLS_KEY", "null",
                 adapter.nats.tls_key_path, NULLABLE,
                 "Key (PEM) of the client certificate for NATS."),

    OPT_ENUM("appManager.driver", "SOKETI_APP_MANAGER_DRIVER", "\"array\"", app_manager.driver,
             app_manager_drivers,
             "Where apps are read from: array (this file), mysql or postgres (plugins of the "
             "soketi-mysql and soketi-postgres packages); dynamodb is refused."),
    OPT_BOOL("appManager.cache.enabled", "SOKETI_APP_MANAGER_CACHE_ENABLED", "false",
             app_manager.cache.enabled,
             "Cache apps read from a database (mysql, postgres) for appManager.cache.ttl."),
    OPT_INT("appManager.cache.ttl", "SOKETI_APP_MANAGER_CACHE_TTL", "-1", app_manager.cache.ttl, -1,
            NOMAX, "Seconds to cache an app; -1 caches it for ever."),
    OPT_INT_OURS("appManager.timeout", "SOKETI_APP_MANAGER_TIMEOUT", "5000", app_manager.timeout, 1,
                 NOMAX,
                 "Milliseconds a lookup in the database may take; past it the client is "
                 "answered as for an unknown app."),
    OPT_INT_OURS("appManager.maxPendingLookups", "SOKETI_APP_MANAGER_MAX_PENDING_LOOKUPS", "1000",
                 app_manager.max_pending_lookups, 1, NOMAX,
                 "Distinct app lookups waiting for the database at once; past it, answered at "
                 "once as for an unknown app."),
    {.name = "appManager.array.apps",
     .type = SKT_OPT_APPS,
     .doc = "The apps of the array app manager (see the [appManager.array.apps.N] sections)."},
    OPT_STR("appManager.dynamodb.table", "SOKETI_APP_MANAGER_DYNAMODB_TABLE", "\"apps\"",
            app_manager.dynamodb.table, 0, "DynamoDB table of apps."),
    OPT_STR("appManager.dynamodb.region", "SOKETI_APP_MANAGER_DYNAMODB_REGION", "\"us-east-1\"",
            app_manager.dynamodb.region, 0, "AWS region of the DynamoDB table."),
    OPT_STR("appManager.dynamodb.endpoint", "SOKETI_APP_MANAGER_DYNAMODB_ENDPOINT", "null",
            app_manager.dynamodb.endpoint, NULLABLE, "DynamoDB endpoint URL; null uses AWS's."),
    OPT_STR("appManager.mysql.table", "SOKETI_APP_MANAGER_MYSQL_TABLE", "\"apps\"",
            app_manager.mysql.table, 0, "MySQL table of apps."),
    OPT_STR("appManager.mysql.version", "SOKETI_APP_MANAGER_MYSQL_VERSION", "\"8.0\"",
            app_manager.mysql.version, 0,
            "MySQL server version (soketi gives it to knex; accepted, no effect here)."),
    OPT_BOOL("appManager.mysql.useMysql2", "SOKETI_APP_MANAGER_MYSQL_USE_V2", "false",
             app_manager.mysql.use_mysql2,
             "soketi's choice of Node client (mysql2); accepted, no effect here."),
    OPT_STR("appManager.postgres.table", "SOKETI_APP_MANAGER_POSTGRES_TABLE", "\"apps\"",
            app_manager.postgres.table, 0, "PostgreSQL table of apps."),
    OPT_STR("appManager.postgres.version", "SOKETI_APP_MANAGER_POSTGRES_VERSION", "\"13.3\"",
            app_manager.postgres.version, 0,
            "PostgreSQL server version (soketi gives it to knex; accepted, no effect here)."),

    OPT_ENUM("cache.driver", "SOKETI_CACHE_DRIVER", "\"memory\"", cache.driver, cache_drivers,
             "Cache of cache channels: memory, or redis (in Redis through the redis or "
             "redis-cluster adapter, shared with soketi nodes)."),
    OPT_JSON("cache.redis.redisOptions", "SOKETI_CACHE_REDIS_OPTIONS", "{}",
             cache.redis.redis_options, OBJ,
             "Extra ioredis options (JSON object) of the cache; soketi-c uses the redis "
             "adapter's connection."),
    OPT_BOOL("cache.redis.clusterMode", "SOKETI_CACHE_REDIS_CLUSTER_MODE", "false",
             cache.redis.cluster_mode,
             "Connect the redis cache to a Redis Cluster (soketi-c: as the adapter does)."),

    OPT_INT("channelLimits.maxNameLength", "SOKETI_CHANNEL_LIMITS_MAX_NAME_LENGTH", "200",
            channel_limits.max_name_length, 1, NOMAX,
            "Longest channel name allowed (default of each app's maxChannelNameLength)."),
    OPT_INT("channelLimits.cacheTtl", "SOKETI_CHANNEL_CACHE_TTL", "3600", channel_limits.cache_ttl,
            0, NOMAX, "Seconds a cache channel keeps its last HTTP API event (0: for ever)."),
    {.name = "connectionLimits.maxChannels",
     .env = "SOKETI_CONNECTION_LIMITS_MAX_CHANNELS",
     .type = SKT_OPT_INT,
     .flags = SKT_OPT_RANGE | SKT_OPT_SOKETI_C,
     .def = "1000",
     .offset = OFF(connection_limits.max_channels),
     .min = 1,
     .max = 32768,
     .doc = "Channels one connection may be subscribed to; past it a subscribe is refused."},
    {.name = "connectionLimits.maxPendingRequests",
     .env = "SOKETI_CONNECTION_LIMITS_MAX_PENDING_REQUESTS",
     .type = SKT_OPT_INT,
     .flags = SKT_OPT_RANGE | SKT_OPT_SOKETI_C,
     .def = "128",
     .offset = OFF(connection_limits.max_pending_requests),
     .min = 1,
     .max = 65535,
     .doc = "Messages of one connection that may wait at once for the cluster, the rate "
            "limiter or the cache; past it a message is refused."},

    OPT_STR("cluster.hostname", "SOKETI_CLUSTER_HOST", "\"0.0.0.0\"", cluster.hostname, 0,
            "Name this node gives itself in the cluster adapter's packets (node-discover's "
            "hostName; not an address: discovery binds 0.0.0.0); empty: the host's name."),
    OPT_INT("cluster.helloInterval", "SOKETI_CLUSTER_KEEPALIVE_INTERVAL", "500",
            cluster.hello_interval, 1, NOMAX,
            "Milliseconds between the cluster adapter's hello packets to the other nodes."),
    OPT_INT("cluster.checkInterval", "SOKETI_CLUSTER_CHECK_INTERVAL", "500", cluster.check_interval,
            1, NOMAX, "Milliseconds between checks for nodes that went silent."),
    OPT_INT("cluster.nodeTimeout", "SOKETI_CLUSTER_NODE_TIMEOUT", "2000", cluster.node_timeout, 1,
            NOMAX, "Milliseconds of silence after which a node is considered gone."),
    OPT_INT("cluster.masterTimeout", "SOKETI_CLUSTER_MASTER_TIMEOUT", "2000",
            cluster.master_timeout, 1, NOMAX,
            "Milliseconds of silence after which the master node is considered gone."),
    OPT_INT("cluster.port", "SOKETI_CLUSTER_PORT", "11002", cluster.port, 0, PORT_MAX,
            "UDP port the cluster adapter binds on 0.0.0.0 and sends to (0: 12345, as "
            "node-discover)."),
    OPT_STR("cluster.prefix", "SOKETI_CLUSTER_PREFIX", "\"\"", cluster.prefix, 0,
            "Prefix of the cluster adapter's channels (<prefix>#cluster-adapter): clusters "
            "sharing a network and port keep apart with different prefixes."),
    OPT_BOOL("cluster.ignoreProcess", "SOKETI_CLUSTER_IGNORE_PROCESS", "true",
             cluster.ignore_process, "Ignore discovery messages sent by this same process."),
    OPT_STR("cluster.broadcast", "SOKETI_CLUSTER_BROADCAST_ADDRESS", "\"255.255.255.255\"",
            cluster.broadcast, 0,
            "Where the cluster adapter broadcasts its packets (address[:port]) when neither "
            "unicast nor multicast is set."),
    OPT_JSON("cluster.unicast", "SOKETI_CLUSTER_UNICAST_ADDRESSES", "null", cluster.unicast,
             NULLABLE | ARR | SKT_OPT_JSON_STRING,
             "Unicast addresses (address[:port]) the cluster adapter sends every packet to, "
             "comma-separated string or array, instead of broadcasting; null: none."),
    OPT_STR("cluster.multicast", "SOKETI_CLUSTER_MULTICAST_ADDRESS", "null", cluster.multicast,
            NULLABLE,
            "Multicast group (address[:port], TTL 1) the cluster adapter joins and sends to "
            "instead of broadcasting; null: none."),
    OPT_INT_OURS("cluster.maxNodes", "SOKETI_CLUSTER_MAX_NODES", "256", cluster.max_nodes, 1, 4096,
                 "Other nodes the cluster adapter keeps track of; hellos from more new nodes "
                 "are ignored (logged and counted)."),

    OPT_BOOL("cors.credentials", NULL, "true", cors.credentials,
             "Answer CORS requests with Access-Control-Allow-Credentials."),
    OPT_LIST("cors.origin", NULL, "[\"*\"]", cors.origin, "Origins allowed by CORS."),
    OPT_LIST("cors.methods", NULL, "[\"GET\",\"POST\",\"PUT\",\"DELETE\",\"OPTIONS\"]",
             cors.methods, "Methods allowed by CORS."),
    OPT_LIST("cors.allowedHeaders", NULL,
             "[\"Origin\",\"Content-Type\",\"X-Auth-Token\",\"X-Requested-With\",\"Accept\","
             "\"Authorization\",\"X-CSRF-TOKEN\",\"XSRF-TOKEN\",\"X-Socket-Id\"]",
             cors.allowed_headers, "Request headers allowed by CORS."),

    OPT_STR("database.mysql.host", "SOKETI_DB_MYSQL_HOST", "\"127.0.0.1\"", database.mysql.host, 0,
            "MySQL host."),
    OPT_INT("database.mysql.port", "SOKETI_DB_MYSQL_PORT", "3306", database.mysql.port, 0, PORT_MAX,
            "MySQL port."),
    OPT_STR("database.mysql.user", "SOKETI_DB_MYSQL_USERNAME", "\"root\"", database.mysql.user, 0,
            "MySQL user."),
    OPT_STR("database.mysql.password", "SOKETI_DB_MYSQL_PASSWORD", "\"password\"",
            database.mysql.password, 0, "MySQL password."),
    OPT_STR("database.mysql.database", "SOKETI_DB_MYSQL_DATABASE", "\"main\"",
            database.mysql.database, 0, "MySQL database."),
    OPT_STR("database.postgres.host", "SOKETI_DB_POSTGRES_HOST", "\"127.0.0.1\"",
            database.postgres.host, 0, "PostgreSQL host."),
    OPT_INT("database.postgres.port", "SOKETI_DB_POSTGRES_PORT", "5432", database.postgres.port, 0,
            PORT_MAX, "PostgreSQL port."),
    OPT_STR("database.postgres.user", "SOKETI_DB_POSTGRES_USERNAME", "\"postgres\"",
            database.postgres.user, 0, "PostgreSQL user."),
    OPT_STR("database.postgres.password", "SOKETI_DB_POSTGRES_PASSWORD", "\"password\"",
            database.postgres.password, 0, "PostgreSQL password."),
    OPT_STR("database.postgres.database", "SOKETI_DB_POSTGRES_DATABASE", "\"main\"",
            database.postgres.database, 0, "PostgreSQL database."),
    OPT_STR("database.redis.host", "SOKETI_DB_REDIS_HOST", "\"127.0.0.1\"", database.redis.host, 0,
            "Redis host."),
    OPT_INT("database.redis.port", "SOKETI_DB_REDIS_PORT", "6379", database.redis.port, 0, PORT_MAX,
            "Redis port."),
    OPT_INT("database.redis.db", "SOKETI_DB_REDIS_DB", "0", database.redis.db, 0, NOMAX,
            "Redis database number."),
    OPT_STR("database.redis.username", "SOKETI_DB_REDIS_USERNAME", "null", database.redis.username,
            NULLABLE, "Redis user (ACL); null: none."),
    OPT_STR("database.redis.password", "SOKETI_DB_REDIS_PASSWORD", "null", database.redis.password,
            NULLABLE, "Redis password; null: none."),
    OPT_STR("database.redis.keyPrefix", "SOKETI_DB_REDIS_KEY_PREFIX", "\"\"",
            database.redis.key_prefix, 0, "Prefix of every Redis key."),
    OPT_JSON("database.redis.sentinels", "SOKETI_DB_REDIS_SENTINELS", "null",
             database.redis.sentinels, NULLABLE | ARR,
             "Redis Sentinels as a JSON array of {\"host\", \"port\"} (at most 16, tried in "
             "order; a missing host is localhost, a missing port 26379): the redis adapter asks "
             "them for the master named by database.redis.name and follows its failovers, and "
             "database.redis.host and port are not used. null or []: no Sentinel."),
    OPT_STR("database.redis.sentinelPassword", "SOKETI_DB_REDIS_SENTINEL_PASSWORD", "null",
            database.redis.sentinel_password, NULLABLE,
            "Password (AUTH) of the Redis Sentinels; null: none. database.redis.password is "
            "the master's."),
    OPT_STR("database.redis.name", "SOKETI_DB_REDIS_INSTANCE_NAME", "\"mymaster\"",
            database.redis.name, 0, "Name of the Redis master known to the Sentinels."),
    OPT_JSON("database.redis.clusterNodes", "SOKETI_DB_REDIS_CLUSTER_NODES", "[]",
             database.redis.cluster_nodes, ARR,
             "Redis Cluster nodes as a JSON array of {\"host\", \"port\"}."),

    OPT_BOOL("databasePooling.enabled", "SOKETI_DB_POOLING_ENABLED", "false",
             database_pooling.enabled, "Pool the SQL app manager's connections."),
    OPT_INT("databasePooling.min", "SOKETI_DB_POOLING_MIN", "0", database_pooling.min, 0, NOMAX,
            "Fewest pooled SQL connections: opened at start and kept (one that closes is "
            "opened again in the background, a round a second at most)."),
    OPT_INT("databasePooling.max", "SOKETI_DB_POOLING_MAX", "7", database_pooling.max, 0, NOMAX,
            "Most pooled SQL connections."),

    OPT_BOOL("debug", "SOKETI_DEBUG", "false", debug, "Log debug messages."),

    OPT_INT("eventLimits.maxChannelsAtOnce", "SOKETI_EVENT_MAX_CHANNELS_AT_ONCE", "100",
            event_limits.max_channels_at_once, 1, NOMAX,
            "Most channels one HTTP API event may go to (default of each app's)."),
    OPT_INT("eventLimits.maxNameLength", "SOKETI_EVENT_MAX_NAME_LENGTH", "200",
            event_limits.max_name_length, 1, NOMAX,
            "Longest event name allowed (default of each app's)."),
    OPT_NUM("eventLimits.maxPayloadInKb", "SOKETI_EVENT_MAX_SIZE_IN_KB", "100",
            event_limits.max_payload_in_kb, SKT_OPT_MIN_EXCL, 0, NOMAX,
            "Largest event payload in KB (default of each app's)."),
    OPT_INT("eventLimits.maxBatchSize", "SOKETI_EVENT_MAX_BATCH_SIZE", "10",
            event_limits.max_batch_size, 1, NOMAX,
            "Most events in one HTTP API batch (default of each app's)."),

    OPT_STR("host", "SOKETI_HOST", "\"0.0.0.0\"", host, 0,
            "Address the WebSocket and HTTP API server listens on."),

    OPT_NUM("httpApi.requestLimitInMb", NULL, "100", http_api.request_limit_in_mb, SKT_OPT_MIN_EXCL,
            0, NOMAX, "Largest HTTP API request body in MB."),
    OPT_NUM("httpApi.acceptTraffic.memoryThreshold", "SOKETI_HTTP_ACCEPT_TRAFFIC_MEMORY_THRESHOLD",
            "85", http_api.accept_traffic.memory_threshold, 0, 0, 100,
            "Memory use (percent) above which /accept-traffic answers 500."),

    {.name = "instance.process_id",
     .type = SKT_OPT_STRING,
     .flags = SKT_OPT_DYNAMIC,
     .offset = OFF(instance.process_id),
     .doc = "Identifier of this process (webhooks' User-Agent); default: the process id."},

    OPT_BOOL("metrics.enabled", "SOKETI_METRICS_ENABLED", "false", metrics.enabled,
             "Serve /metrics on metrics.port (Prometheus text; ?json=1 for JSON)."),
    OPT_ENUM("metrics.driver", "SOKETI_METRICS_DRIVER", "\"prometheus\"", metrics.driver,
             metrics_drivers, "Metrics driver: prometheus."),
    OPT_STR("metrics.host", "SOKETI_METRICS_HOST", "\"0.0.0.0\"", metrics.host, 0,
            "Address the metrics server listens on. 0.0.0.0 serves /, /ready, /usage and "
            "/metrics to every network, unauthenticated: 127.0.0.1 keeps them on the host."),
    OPT_STR("metrics.prometheus.prefix", "SOKETI_METRICS_PROMETHEUS_PREFIX", "\"soketi_\"",
            metrics.prometheus.prefix, 0, "Prefix of the Prometheus metric names."),
    OPT_INT("metrics.port", "SOKETI_METRICS_SERVER_PORT", "9601", metrics.port, 0, PORT_MAX,
            "Port of the metrics and /usage server."),

    OPT_ENUM("mode", "SOKETI_MODE", "\"full\"", mode, modes,
             "full: serve and process queues; server: serve only; worker: queues only."),
    OPT_INT("port", "SOKETI_PORT", "6001", port, 0, PORT_MAX,
            "Port of the WebSocket and HTTP API server."),
    OPT_STR("pathPrefix", "SOKETI_PATH_PREFIX", "\"\"", path_prefix, 0,
            "Prefix of every HTTP and WebSocket path, e.g. /soketi."),

    OPT_INT("presence.maxMembersPerChannel", "SOKETI_PRESENCE_MAX_MEMBERS", "100",
            presence.max_members_per_channel, 1, NOMAX,
            "Most members of one presence channel (default of each app's)."),
    OPT_NUM("presence.maxMemberSizeInKb", "SOKETI_PRESENCE_MAX_MEMBER_SIZE", "2",
            presence.max_member_size_in_kb, SKT_OPT_MIN_EXCL, 0, NOMAX,
            "Largest presence member info in KB (default of each app's)."),

    OPT_ENUM("queue.driver", "SOKETI_QUEUE_DRIVER", "\"sync\"", queue.driver, queue_drivers,
             "How webhooks are queued: sync (in memory), redis (durable, in Redis through the "
             "redis or redis-cluster adapter); sqs is refused."),
    OPT_INT("queue.redis.concurrency", "SOKETI_QUEUE_REDIS_CONCURRENCY", "1",
            queue.redis.concurrency, 1, 1000000,
            "Webhook jobs a node takes from redis and holds (sends) at once (at most 1024)."),
    OPT_INT_OURS("queue.redis.leaseMs", "SOKETI_QUEUE_REDIS_LEASE_MS", "30000",
                 queue.redis.lease_ms, 100, 86400000,
                 "Milliseconds a node holds a webhook job it took, extended while it lives: the "
                 "jobs of a killed node are sent by another node (or after a restart) this long "
                 "after it died; a node stopped with SIGTERM releases them at once."),
    OPT_INT_OURS("queue.redis.maxJobsPerApp", "SOKETI_QUEUE_REDIS_MAX_JOBS_PER_APP", "10000",
                 queue.redis.max_jobs_per_app, 1, NOMAX,
                 "Webhook jobs an app may have in redis; past it its oldest are dropped "
                 "(counted and logged)."),
    OPT_JSON("queue.redis.redisOptions", "SOKETI_QUEUE_REDIS_OPTIONS", "{}",
             queue.redis.redis_options, OBJ,
             "Accepted and ignored: the queue uses the adapter's Redis connection "
             "(database.redis.*)."),
    OPT_BOOL("queue.redis.clusterMode", "SOKETI_QUEUE_REDIS_CLUSTER_MODE", "false",
             queue.redis.cluster_mode,
             "Accepted and ignored: the queue is in a Redis Cluster when the adapter is "
             "redis-cluster."),
    OPT_STR("queue.sqs.region", "SOKETI_QUEUE_SQS_REGION", "\"us-east-1\"", queue.sqs.region, 0,
            "AWS region of the SQS queue."),
    OPT_STR("queue.sqs.endpoint", "SOKETI_QUEUE_SQS_ENDPOINT", "null", queue.sqs.endpoint, NULLABLE,
            "SQS endpoint URL; null uses AWS's."),
    OPT_JSON("queue.sqs.clientOptions", "SOKETI_QUEUE_SQS_CLIENT_OPTIONS", "{}",
             queue.sqs.client_options, OBJ, "Extra SQS client options (JSON object)."),
    OPT_JSON("queue.sqs.consumerOptions", NULL, "{}", queue.sqs.consumer_options, OBJ,
             "Extra SQS consumer options (JSON object)."),
    OPT_STR("queue.sqs.queueUrl", "SOKETI_QUEUE_SQS_URL", "\"\"", queue.sqs.queue_url, 0,
            "URL of the SQS queue."),
    OPT_BOOL("queue.sqs.processBatch", "SOKETI_QUEUE_SQS_PROCESS_BATCH", "false",
             queue.sqs.process_batch, "Process SQS messages in batches."),
    OPT_INT("queue.sqs.batchSize", "SOKETI_QUEUE_SQS_BATCH_SIZE", "1", queue.sqs.batch_size, 1,
            NOMAX, "SQS messages received at once."),
    OPT_INT("queue.sqs.pollingWaitTimeMs", "SOKETI_QUEUE_SQS_POLLING_WAIT_TIME_MS", "0",
            queue.sqs.polling_wait_time_ms, 0, NOMAX, "Milliseconds to wait between SQS polls."),

    OPT_ENUM("rateLimiter.driver", "SOKETI_RATE_LIMITER_DRIVER", "\"local\"", rate_limiter.driver,
             rate_limiter_drivers,
             "Where rate limits are counted: local, or redis (in Redis through the redis or "
             "redis-cluster adapter, across nodes; soketi's keys). cluster is refused."),
    OPT_JSON("rateLimiter.redis.redisOptions", "SOKETI_RATE_LIMITER_REDIS_OPTIONS", "{}",
             rate_limiter.redis.redis_options, OBJ,
             "Extra ioredis options (JSON object) of the rate limiter; soketi-c uses the redis "
             "adapter's connection."),
    OPT_BOOL("rateLimiter.redis.clusterMode", "SOKETI_RATE_LIMITER_REDIS_CLUSTER_MODE", "false",
             rate_limiter.redis.cluster_mode,
             "Connect the redis rate limiter to a Redis Cluster (soketi-c: as the adapter "
             "does)."),

    OPT_INT("shutdownGracePeriod", "SOKETI_SHUTDOWN_GRACE_PERIOD", "3000", shutdown_grace_period, 0,
            NOMAX,
            "Milliseconds to let connections close on shutdown (with queue.driver redis, "
            "webhooks in flight get this minus 500 ms, at most half, before they are stopped "
            "and released to the other nodes)."),

    OPT_STR("ssl.certPath", "SOKETI_SSL_CERT", "\"\"", ssl.cert_path, 0,
            "TLS certificate file (PEM); TLS is on when this or ssl.keyPath is set."),
    OPT_STR("ssl.keyPath", "SOKETI_SSL_KEY", "\"\"", ssl.key_path, 0,
            "TLS private key file (PEM)."),
    OPT_STR("ssl.passphrase", "SOKETI_SSL_PASS", "\"\"", ssl.passphrase, 0,
            "Passphrase of the TLS private key."),
    OPT_STR("ssl.caPath", "SOKETI_SSL_CA", "\"\"", ssl.ca_path, 0,
            "CA file (PEM) for client certificates: optional, refused when invalid (as soketi)."),
    {.name = "ssl.maxPendingHandshakes",
     .env = "SOKETI_SSL_MAX_PENDING_HANDSHAKES",
     .type = SKT_OPT_INT,
     .flags = SKT_OPT_RANGE | SKT_OPT_SOKETI_C,
     .def = "1024",
     .offset = OFF(ssl.max_pending_handshakes),
     .min = 1,
     .max = NOMAX,
     .doc = "TLS handshakes in progress beyond which a new connection to the TLS port is closed "
            "at once."},

    OPT_INT("userAuthenticationTimeout", "SOKETI_USER_AUTHENTICATION_TIMEOUT", "30000",
            user_authentication_timeout, 0, NOMAX,
            "Milliseconds to sign in when the app sets enableUserAuthentication (else 4009)."),

    {.name = "webhooks.maxPendingPerApp",
     .env = "SOKETI_WEBHOOKS_MAX_PENDING_PER_APP",
     .type = SKT_OPT_INT,
     .flags = SKT_OPT_RANGE | SKT_OPT_SOKETI_C,
     .def = "1000",
     .offset = OFF(webhooks.max_pending_per_app),
     .min = 1,
     .max = NOMAX,
     .doc = "Webhooks an app may have pending (queued, in flight, retrying); past it the "
            "oldest not in flight are dropped."},
    OPT_NUM("webhooks.maxPendingSizePerAppInMb", "SOKETI_WEBHOOKS_MAX_PENDING_SIZE_PER_APP_IN_MB",
            "16", webhooks.max_pending_size_per_app_in_mb, SKT_OPT_MIN_EXCL | SKT_OPT_SOKETI_C, 0,
            NOMAX,
            "MB of webhook bodies an app may have pending; past it the oldest not in flight "
            "are dropped."),
    OPT_NUM("webhooks.maxPendingSizeInMb", "SOKETI_WEBHOOKS_MAX_PENDING_SIZE_IN_MB", "64",
            webhooks.max_pending_size_in_mb, SKT_OPT_MIN_EXCL | SKT_OPT_SOKETI_C, 0, NOMAX,
            "MB of webhook bodies all apps may have pending; past it the oldest not in flight "
            "of the app holding the most are dropped."),
    OPT_BOOL("webhooks.batching.enabled", "SOKETI_WEBHOOKS_BATCHING", "false",
             webhooks.batching.enabled,
             "Collect each app's webhook events and send them in one request."),
    OPT_INT("webhooks.batching.duration", "SOKETI_WEBHOOKS_BATCHING_DURATION", "50",
            webhooks.batching.duration, 0, NOMAX,
            "Milliseconds an app's webhook events are collected into one request."),
    {.name = "webhooks.batching.maxSizeInKb",
     .env = "SOKETI_WEBHOOKS_BATCHING_MAX_SIZE_IN_KB",
     .type = SKT_OPT_INT,
     .flags = SKT_OPT_RANGE | SKT_OPT_SOKETI_C,
     .def = "1024",
     .offset = OFF(webhooks.batching.max_size_in_kb),
     .min = 1,
     .max = NOMAX,
     .doc = "KB of events in one batch: past it the batch is sent at once and a new one begins."},

    {.name = "workers",
     .env = "SOKETI_WORKERS",
     .type = SKT_OPT_STRING,
     .flags = SKT_OPT_SOKETI_C,
     .def = "\"1\"",
     .offset = OFF(workers.text),
     .doc = "Worker processes serving the ports together (SO_REUSEPORT), each one event loop: "
            "a number from 1 to 1024, or auto (one per core). 1: one process, no supervisor."},
    {.name = "workersMaxQueueInMb",
     .env = "SOKETI_WORKERS_MAX_QUEUE_IN_MB",
     .type = SKT_OPT_INT,
     .flags = SKT_OPT_RANGE | SKT_OPT_SOKETI_C,
     .def = "64",
     .offset = OFF(workers.max_queue_in_mb),
     .min = 1,
     .max = NOMAX,
     .doc = "MB of messages between workers that may wait for one slow worker (in the "
            "supervisor and in each worker); past it messages to that worker are dropped, "
            "logged and counted. A worker's metrics text longer than this is left out of "
            "/metrics."},
    {.name = "workersRequestsTimeout",
     .env = "SOKETI_WORKERS_REQUESTS_TIMEOUT",
     .type = SKT_OPT_INT,
     .flags = SKT_OPT_RANGE | SKT_OPT_SOKETI_C,
     .def = "5000",
     .offset = OFF(workers.requests_timeout),
     .min = 0,
     .max = NOMAX,
     .doc = "Milliseconds a worker waits for the other workers to answer a host-wide query "
            "(channels, members, counts) when the adapter is local, and for their metrics "
            "when /metrics is scraped (any adapter)."},
    {.name = "pluginDir",
     .env = "SOKETI_PLUGIN_DIR",
     .type = SKT_OPT_STRING,
     .flags = SKT_OPT_DYNAMIC | SKT_OPT_SOKETI_C,
     .offset = OFF(plugin_dir),
     .doc = "Directory of adapter plugins; default: the one chosen when soketi-c was built."},
    {.name = "logFormat",
     .env = "SOKETI_LOG_FORMAT",
     .type = SKT_OPT_STRING,
     .flags = SKT_OPT_SOKETI_C,
     .def = "\"text\"",
     .offset = OFF(log_format),
     .choices = log_formats,
     .doc = "Log lines as text, or as one JSON object per line (json)."},
    {.name = "maxBackpressureInKb",
     .env = "SOKETI_MAX_BACKPRESSURE_IN_KB",
     .type = SKT_OPT_INT,
     .flags = SKT_OPT_RANGE | SKT_OPT_SOKETI_C,
     .def = "1024",
     .offset = OFF(max_backpressure_in_kb),
     .min = 1,
     .max = NOMAX,
     .doc = "Output queued for one connection (KB) beyond which it is closed (4100); one "
            "larger message may wait alone."},
    {.name = "maxBufferedInputInMb",
     .env = "SOKETI_MAX_BUFFERED_INPUT_IN_MB",
     .type = SKT_OPT_INT,
     .flags = SKT_OPT_RANGE | SKT_OPT_SOKETI_C,
     .def = "64",
     .offset = OFF(max_buffered_input_in_mb),
     .min = 1,
     .max = NOMAX,
     .doc = "Input all connections together may hold incomplete (requests, frames, fragmented "
            "messages), in MB; a connection past it gets 503 (HTTP) or close 1013."},
    {.name = "httpApi.maxHeaderSizeInKb",
     .env = "SOKETI_HTTP_MAX_HEADER_SIZE_IN_KB",
     .type = SKT_OPT_INT,
     .flags = SKT_OPT_RANGE | SKT_OPT_SOKETI_C,
     .def = "16",
     .offset = OFF(http_api.max_header_size_in_kb),
     .min = 1,
     .max = NOMAX,
     .doc = "Largest HTTP request head (request line and headers) in KB."},
    {.name = "wsMaxPayloadInKb",
     .env = "SOKETI_WS_MAX_PAYLOAD_IN_KB",
     .type = SKT_OPT_INT,
     .flags = SKT_OPT_RANGE | SKT_OPT_DYNAMIC | SKT_OPT_SOKETI_C,
     .offset = OFF(ws_max_payload_in_kb),
     .min = 1,
     .max = NOMAX,
     .doc = "Largest WebSocket message a client may send, in KB (close 1009 past it); default: "
            "the largest maxEventPayloadInKb or maxPresenceMemberSizeInKb of the apps plus 4 "
            "(soketi: 100 MB)."},
    {.name = "httpApi.headerTimeout",
     .env = "SOKETI_HTTP_HEADER_TIMEOUT",
     .type = SKT_OPT_INT,
     .flags = SKT_OPT_RANGE | SKT_OPT_SOKETI_C,
     .def = "10",
     .offset = OFF(http_api.header_timeout),
     .min = 1,
     .max = 3600,
     .doc = "Seconds a request head may take to arrive in full, from its first byte (from the "
            "connection, TLS handshake included, for the first); past it: 408 and closed."},
    {.name = "httpApi.idleTimeout",
     .env = "SOKETI_HTTP_IDLE_TIMEOUT",
     .type = SKT_OPT_INT,
     .flags = SKT_OPT_RANGE | SKT_OPT_SOKETI_C,
     .def = "10",
     .offset = OFF(http_api.idle_timeout),
     .min = 1,
     .max = 3600,
     .doc = "Seconds an HTTP connection may stay silent between requests (keep-alive) or in "
            "the middle of a body before it is closed."},
    {.name = "wsIdleTimeout",
     .env = "SOKETI_WS_IDLE_TIMEOUT",
     .type = SKT_OPT_INT,
     .flags = SKT_OPT_RANGE | SKT_OPT_SOKETI_C,
     .def = "120",
     .offset = OFF(ws_idle_timeout),
     .min = 2,
     .max = 86400,
     .doc = "Seconds a WebSocket may send nothing: at half of it the server pings it, and one "
            "that has not answered by the end is closed with 4201 (soketi: 120, uWS's)."},
    {.name = "httpApi.authTimestampWindow",
     .env = "SOKETI_HTTP_AUTH_TIMESTAMP_WINDOW",
     .type = SKT_OPT_INT,
     .flags = SKT_OPT_RANGE | SKT_OPT_SOKETI_C,
     .def = "600",
     .offset = OFF(http_api.auth_timestamp_window),
     .min = 0,
     .max = NOMAX,
     .doc = "Seconds a signed HTTP API request's auth_timestamp may differ from now."},
};

const size_t skt_options_count = sizeof(skt_options) / sizeof(skt_options[0]);

/* soketi's SOKETI_DEFAULT_APP_* variables (src/cli/cli.ts), each setting one key of apps[0]. */
const skt_option_app_env_t skt_options_app_env[] = {
    {"SOKETI_DEFAULT_APP_ID", "id"},
    {"SOKETI_DEFAULT_APP_KEY", "key"},
    {"SOKETI_DEFAULT_APP_SECRET", "secret"},
    {"SOKETI_DEFAULT_APP_MAX_CONNS", "maxConnections"},
    {"SOKETI_DEFAULT_APP_ENABLE_CLIENT_MESSAGES", "enableClientMessages"},
    {"SOKETI_DEFAULT_APP_ENABLED", "enabled"},
    {"SOKETI_DEFAULT_APP_MAX_BACKEND_EVENTS_PER_SEC", "maxBackendEventsPerSecond"},
    {"SOKETI_DEFAULT_APP_MAX_CLIENT_EVENTS_PER_SEC", "maxClientEventsPerSecond"},
    {"SOKETI_DEFAULT_APP_MAX_READ_REQ_PER_SEC", "maxReadRequestsPerSecond"},
    {"SOKETI_DEFAULT_APP_USER_AUTHENTICATION", "enableUserAuthentication"},
    {"SOKETI_DEFAULT_APP_WEBHOOKS", "webhooks"},
    {"SOKETI_DEFAULT_APP_ENABLE_SUBSCRIPTION_COUNT", "enableSubscriptionCount"},
};

const size_t skt_options_app_env_count =
    sizeof(skt_options_app_env) / sizeof(skt_options_app_env[0]);

const skt_option_t *
skt_options_find(const char *dotted)
{
    for (size_t i = 0; i < skt_options_count; i++)
        if (strcmp(skt_options[i].name, dotted) == 0)
            return &skt_options[i];
    return NULL;
}

const skt_option_t *
skt_options_find_env(const char *name, size_t len)
{
    for (size_t i = 0; i < skt_options_count; i++) {
        const char *e = skt_options[i].env;
        if (e && strlen(e) == len && memcmp(e, name, len) == 0)
            return &skt_options[i];
    }
    return NULL;
}

const skt_option_app_env_t *
skt_options_find_app_env(const char *name, size_t len)
{
    for (size_t i = 0; i < skt_options_app_env_count; i++) {
        const char *e = skt_options_app_env[i].env;
        if (strlen(e) == len && memcmp(e, name, len) == 0)
            return &skt_options_app_env[i];
    }
    return NULL;
}

int
skt_options_is_prefix(const char *prefix)
{
    size_t n = strlen(prefix);
    for (size_t i = 0; i < skt_options_count; i++)
        if (strncmp(skt_options[i].name, prefix, n) == 0 && skt_options[i].name[n] == '.')
            return 1;
    return 0;
}

json_t *
skt_options_parse_text(const char *text)
{
    json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
    return v ? v : json_string(text);
}

/* Writes what was got into buf for an error message: the raw text when there is one, a
 * string's contents, else compact JSON; cut to a readable length. */
static void
describe(const json_t *v, const char *raw, char *buf, size_t n)
{
    char *dump = NULL;
    const char *s;
    if (raw)
        s = raw;
    else if (json_is_string(v))
        s = json_string_value(v);
    else
        s = dump = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!s)
        s = "?";
    if (strlen(s) > 64)
        snprintf(buf, n, "%.60s...", s);
    else
        snprintf(buf, n, "%s", s);
    free(dump);
}

/* Formats "expected <what>, got '<value>'" into err. */
static int
type_error(const char *what, const json_t *v, const char *raw, char *err, size_t errlen)
{
    char got[80];
    describe(v, raw, got, sizeof(got));
    snprintf(err, errlen, "expected %s, got '%s'", what, got);
    return -1;
}

/* Text that parses as JSON null stays the text "null" for an option that cannot be null, as
 * soketi keeps it (cli.ts ignores a null parse). Options whose default is null take null from
 * any source instead (skt_options_set() checks that first), so the sample file reads back. */
static const json_t *
null_as_text(const json_t *v, const char *raw, json_t **tmp)
{
    *tmp = NULL;
    if (json_is_null(v) && raw) {
        *tmp = json_string(raw);
        return *tmp ? *tmp : v;
    }
    return v;
}

/* Copies s without leading and trailing blanks (the JSON parse ignored them too). */
static char *
strdup_trimmed(const char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    return strndup(s, n);
}

int
skt_options_to_bool(const json_t *v, const char *raw, int *out, char *err, size_t errlen)
{
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return 0;
    }
    if (json_is_integer(v) && (json_integer_value(v) == 0 || json_integer_value(v) == 1)) {
        *out = (int)json_integer_value(v);
        return 0;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (strcasecmp(s, "true") == 0 || strcmp(s, "1") == 0) {
            *out = 1;
            return 0;
        }
        if (strcasecmp(s, "false") == 0 || strcmp(s, "0") == 0) {
            *out = 0;
            return 0;
        }
    }
    return type_error("a boolean (true or false)", v, raw, err, errlen);
}

int
skt_options_to_long(const json_t *v, const char *raw, long *out, char *err, size_t errlen)
{
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i >= LONG_MIN && i <= LONG_MAX) {
            *out = (long)i;
            return 0;
        }
    } else if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d == floor(d) && d >= -9.2e18 && d <= 9.2e18) {
            *out = (long)d;
            return 0;
        }
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end;
        errno = 0;
        long l = strtol(s, &end, 10);
        while (isspace((unsigned char)*end))
            end++;
        if (end != s && *end == '\0' && errno == 0 && !isspace((unsigned char)*s)) {
            *out = l;
            return 0;
        }
    }
    return type_error("an integer", v, raw, err, errlen);
}

int
skt_options_to_double(const json_t *v, const char *raw, double *out, char *err, size_t errlen)
{
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return 0;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end;
        errno = 0;
        double d = strtod(s, &end);
        while (isspace((unsigned char)*end))
            end++;
        if (end != s && *end == '\0' && errno == 0 && isfinite(d) && !isspace((unsigned char)*s)) {
            *out = d;
            return 0;
        }
    }
    return type_error("a number", v, raw, err, errlen);
}

void
skt_options_number_text(const json_t *v, char *buf, size_t n)
{
    if (json_is_integer(v)) {
        snprintf(buf, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return;
    }
    double d = json_number_value(v);
    if (d == floor(d) && fabs(d) < 1e21) {
        snprintf(buf, n, "%.0f", d);
        return;
    }
    /* The shortest text that reads back as the same double, as JavaScript prints it. */
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            return;
    }
}

int
skt_options_to_string(const json_t *v, const char *raw, char **out, char *err, size_t errlen)
{
    char num[64];
    const char *s = NULL;
    if (json_is_string(v)) {
        s = json_string_value(v);
    } else if (json_is_number(v) || json_is_boolean(v)) {
        if (raw) {
            *out = strdup_trimmed(raw);
            goto done;
        }
        if (json_is_number(v))
            skt_options_number_text(v, num, sizeof(num));
        else
            snprintf(num, sizeof(num), "%s", json_is_true(v) ? "true" : "false");
        s = num;
    } else {
        return type_error("a string", v, raw, err, errlen);
    }
    *out = strdup(s);
done:
    if (!*out) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

static void
free_list(char **list)
{
    if (!list)
        return;
    for (char **p = list; *p; p++)
        free(*p);
    free(list);
}

/* A string list from an array of strings (numbers become their text) or a single string. */
static int
to_list(const json_t *v, const char *raw, char ***out, char *err, size_t errlen)
{
    size_t n = json_is_array(v) ? json_array_size(v) : 1;
    char **list;
    if (!json_is_array(v) && !json_is_string(v))
        return type_error("a list of strings (a JSON array)", v, raw, err, errlen);
    list = calloc(n + 1, sizeof(*list));
    if (!list) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_is_array(v) ? json_array_get(v, i) : v;
        if (json_is_array(e) || json_is_object(e) || json_is_null(e) ||
            skt_options_to_string(e, NULL, &list[i], err, errlen) < 0) {
            free_list(list);
            return type_error("a list of strings (a JSON array)", v, raw, err, errlen);
        }
    }
    *out = list;
    return 0;
}

/* Checks a JSON value against the kinds an SKT_OPT_JSON option allows. */
static int
check_json_kind(const skt_option_t *o, const json_t *v, const char *raw, char *err, size_t errlen)
{
    unsigned kinds = o->flags & (SKT_OPT_JSON_OBJECT | SKT_OPT_JSON_ARRAY | SKT_OPT_JSON_STRING);
    if (!kinds || (json_is_object(v) && (kinds & SKT_OPT_JSON_OBJECT)) ||
        (json_is_array(v) && (kinds & SKT_OPT_JSON_ARRAY)) ||
        (json_is_string(v) && (kinds & SKT_OPT_JSON_STRING)))
        return 0;
    char what[64];
    snprintf(what, sizeof(what), "%s%s%s%s%s", (kinds & SKT_OPT_JSON_OBJECT) ? "a JSON object" : "",
             (kinds & SKT_OPT_JSON_OBJECT) && (kinds & ~SKT_OPT_JSON_OBJECT) ? " or " : "",
             (kinds & SKT_OPT_JSON_ARRAY) ? "a JSON array" : "",
             (kinds & SKT_OPT_JSON_ARRAY) && (kinds & SKT_OPT_JSON_STRING) ? " or " : "",
             (kinds & SKT_OPT_JSON_STRING) ? "a string" : "");
    return type_error(what, v, raw, err, errlen);
}

/* Checks a number against the option's range. */
static int
check_range(const skt_option_t *o, double d, const char *text, char *err, size_t errlen)
{
    if (!(o->flags & SKT_OPT_RANGE))
        return 0;
    int excl = (o->flags & SKT_OPT_MIN_EXCL) != 0;
    int low = excl ? d <= (double)o->min : d < (double)o->min;
    int high = o->max != LONG_MAX && d > (double)o->max;
    if (!low && !high)
        return 0;
    if (excl && o->max != LONG_MAX)
        snprintf(err, errlen, "%s is out of range (must be greater than %ld and at most %ld)", text,
                 o->min, o->max);
    else if (excl)
        snprintf(err, errlen, "%s is out of range (must be greater than %ld)", text, o->min);
    else if (o->max != LONG_MAX)
        snprintf(err, errlen, "%s is out of range (%ld-%ld)", text, o->min, o->max);
    else
        snprintf(err, errlen, "%s is out of range (must be at least %ld)", text, o->min);
    return -1;
}

/* Checks a string against the option's allowed values. */
static int
check_choice(const skt_option_t *o, const char *s, char *err, size_t errlen)
{
    if (!o->choices)
        return 0;
    for (const char *const *c = o->choices; *c; c++)
        if (strcmp(*c, s) == 0)
            return 0;
    size_t n = (size_t)snprintf(err, errlen, "unknown value '%.60s' (expected one of: ", s);
    for (const char *const *c = o->choices; *c && n < errlen; c++)
        n += (size_t)snprintf(err + n, errlen - n, "%s%s", *c, c[1] ? ", " : ")");
    return -1;
}

void
skt_options_clear(const skt_option_t *o, void *base)
{
    char *p = (char *)base + o->offset;
    switch (o->type) {
    case SKT_OPT_STRING:
        free(*(char **)p);
        *(char **)p = NULL;
        break;
    case SKT_OPT_LIST:
        free_list(*(char ***)p);
        *(char ***)p = NULL;
        break;
    case SKT_OPT_JSON:
        json_decref(*(json_t **)p);
        *(json_t **)p = NULL;
        break;
    default:
        break;
    }
}

int
skt_options_set(const skt_option_t *o, void *base, const json_t *v, const char *raw, char *err,
                size_t errlen)
{
    char *p = (char *)base + o->offset;
    char text[64];
    json_t *tmp = NULL;
    int rc = -1;

    if (json_is_null(v) && (o->flags & SKT_OPT_NULLABLE)) {
        skt_options_clear(o, base);
        if (o->type == SKT_OPT_INT)
            *(long *)p = SKT_CONFIG_INT_NULL;
        else if (o->type == SKT_OPT_JSON)
            *(json_t **)p = json_null();
        return 0;
    }
    v = null_as_text(v, raw, &tmp);

    switch (o->type) {
    case SKT_OPT_BOOL: {
        int b;
        if (skt_options_to_bool(v, raw, &b, err, errlen) < 0)
            break;
        *(int *)p = b;
        rc = 0;
        break;
    }
    case SKT_OPT_INT: {
        long l;
        if (skt_options_to_long(v, raw, &l, err, errlen) < 0)
            break;
        snprintf(text, sizeof(text), "%ld", l);
        if (check_range(o, (double)l, text, err, errlen) < 0)
            break;
        *(long *)p = l;
        rc = 0;
        break;
    }
    case SKT_OPT_NUMBER: {
        double d;
        if (skt_options_to_double(v, raw, &d, err, errlen) < 0)
            break;
        json_t *num = json_real(d);
        skt_options_number_text(num, text, sizeof(text));
        json_decref(num);
        if (check_range(o, d, text, err, errlen) < 0)
            break;
        *(double *)p = d;
        rc = 0;
        break;
    }
    case SKT_OPT_STRING: {
        char *s;
        if (skt_options_to_string(v, raw, &s, err, errlen) < 0)
            break;
        if (check_choice(o, s, err, errlen) < 0) {
            free(s);
            break;
        }
        skt_options_clear(o, base);
        *(char **)p = s;
        rc = 0;
        break;
    }
    case SKT_OPT_LIST: {
        char **list = NULL;
        if (to_list(v, raw, &list, err, errlen) < 0)
            break;
        skt_options_clear(o, base);
        *(char ***)p = list;
        rc = 0;
        break;
    }
    case SKT_OPT_JSON:
        if (check_json_kind(o, v, raw, err, errlen) < 0)
            break;
        skt_options_clear(o, base);
        *(json_t **)p = json_deep_copy(v);
        rc = *(json_t **)p ? 0 : -1;
        if (rc < 0)
            snprintf(err, errlen, "out of memory");
        break;
    case SKT_OPT_APPS:
        snprintf(err, errlen, "not a plain option");
        break;
    }
    json_decref(tmp);
    return rc;
}

char *
skt_options_format(const skt_option_t *o, const void *base)
{
    const char *p = (const char *)base + o->offset;
    char buf[64];
    json_t *j = NULL;
    char *s;

    switch (o->type) {
    case SKT_OPT_BOOL:
        return strdup(*(const int *)p ? "true" : "false");
    case SKT_OPT_INT:
        if (*(const long *)p == SKT_CONFIG_INT_NULL && (o->flags & SKT_OPT_NULLABLE))
            return strdup("null");
        snprintf(buf, sizeof(buf), "%ld", *(const long *)p);
        return strdup(buf);
    case SKT_OPT_NUMBER:
        j = json_real(*(const double *)p);
        if (!j)
            return NULL;
        skt_options_number_text(j, buf, sizeof(buf));
        json_decref(j);
        return strdup(buf);
    case SKT_OPT_STRING:
        return strdup(*(char *const *)p ? *(char *const *)p : "");
    case SKT_OPT_LIST:
        j = json_array();
        for (char *const *e = *(char **const *)p; j && e && *e; e++)
            json_array_append_new(j, json_string(*e));
        break;
    case SKT_OPT_JSON:
        j = json_incref(*(json_t *const *)p);
        break;
    case SKT_OPT_APPS:
        return NULL;
    }
    if (!j)
        return NULL;
    s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(j);
    return s;
}
