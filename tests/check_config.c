/* check_config.c - unit tests for the option table and the INI/JSON/env loader. */
#include "check_main.h"
#include <check.h>
#include <fcntl.h>
#include <ini.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "config/options.h"

/* soketi 1.6's options at their defaults: every leaf of `options` in src/server.ts, as
 * JSON.stringify prints it (appManager.array.apps and instance.process_id are tested apart). */
static const struct {
    const char *name;
    const char *json;
} soketi_defaults[] = {
    {"adapter.driver", "\"local\""},
    {"adapter.redis.requestsTimeout", "5000"},
    {"adapter.redis.prefix", "\"\""},
    {"adapter.redis.redisPubOptions", "{}"},
    {"adapter.redis.redisSubOptions", "{}"},
    {"adapter.redis.clusterMode", "false"},
    {"adapter.cluster.requestsTimeout", "5000"},
    {"adapter.nats.requestsTimeout", "5000"},
    {"adapter.nats.prefix", "\"\""},
    {"adapter.nats.servers", "[\"127.0.0.1:4222\"]"},
    {"adapter.nats.user", "null"},
    {"adapter.nats.pass", "null"},
    {"adapter.nats.token", "null"},
    {"adapter.nats.timeout", "10000"},
    {"adapter.nats.nodesNumber", "null"},
    {"appManager.driver", "\"array\""},
    {"appManager.cache.enabled", "false"},
    {"appManager.cache.ttl", "-1"},
    {"appManager.dynamodb.table", "\"apps\""},
    {"appManager.dynamodb.region", "\"us-east-1\""},
    {"appManager.dynamodb.endpoint", "null"},
    {"appManager.mysql.table", "\"apps\""},
    {"appManager.mysql.version", "\"8.0\""},
    {"appManager.mysql.useMysql2", "false"},
    {"appManager.postgres.table", "\"apps\""},
    {"appManager.postgres.version", "\"13.3\""},
    {"cache.driver", "\"memory\""},
    {"cache.redis.redisOptions", "{}"},
    {"cache.redis.clusterMode", "false"},
    {"channelLimits.maxNameLength", "200"},
    {"channelLimits.cacheTtl", "3600"},
    {"cluster.hostname", "\"0.0.0.0\""},
    {"cluster.helloInterval", "500"},
    {"cluster.checkInterval", "500"},
    {"cluster.nodeTimeout", "2000"},
    {"cluster.masterTimeout", "2000"},
    {"cluster.port", "11002"},
    {"cluster.prefix", "\"\""},
    {"cluster.ignoreProcess", "true"},
    {"cluster.broadcast", "\"255.255.255.255\""},
    {"cluster.unicast", "null"},
    {"cluster.multicast", "null"},
    {"cors.credentials", "true"},
    {"cors.origin", "[\"*\"]"},
    {"cors.methods", "[\"GET\",\"POST\",\"PUT\",\"DELETE\",\"OPTIONS\"]"},
    {"cors.allowedHeaders",
     "[\"Origin\",\"Content-Type\",\"X-Auth-Token\",\"X-Requested-With\",\"Accept\","
     "\"Authorization\",\"X-CSRF-TOKEN\",\"XSRF-TOKEN\",\"X-Socket-Id\"]"},
    {"database.mysql.host", "\"127.0.0.1\""},
    {"database.mysql.port", "3306"},
    {"database.mysql.user", "\"root\""},
    {"database.mysql.password", "\"password\""},
    {"database.mysql.database", "\"main\""},
    {"database.postgres.host", "\"127.0.0.1\""},
    {"database.postgres.port", "5432"},
    {"database.postgres.user", "\"postgres\""},
    {"database.postgres.password", "\"password\""},
    {"database.postgres.database", "\"main\""},
    {"database.redis.host", "\"127.0.0.1\""},
    {"database.redis.port", "6379"},
    {"database.redis.db", "0"},
    {"database.redis.username", "null"},
    {"database.redis.password", "null"},
    {"database.redis.keyPrefix", "\"\""},
    {"database.redis.sentinels", "null"},
    {"database.redis.sentinelPassword", "null"},
    {"database.redis.name", "\"mymaster\""},
    {"database.redis.clusterNodes", "[]"},
    {"databasePooling.enabled", "false"},
    {"databasePooling.min", "0"},
    {"databasePooling.max", "7"},
    {"debug", "false"},
    {"eventLimits.maxChannelsAtOnce", "100"},
    {"eventLimits.maxNameLength", "200"},
    {"eventLimits.maxPayloadInKb", "100"},
    {"eventLimits.maxBatchSize", "10"},
    {"host", "\"0.0.0.0\""},
    {"httpApi.requestLimitInMb", "100"},
    {"httpApi.acceptTraffic.memoryThreshold", "85"},
    {"metrics.enabled", "false"},
    {"metrics.driver", "\"prometheus\""},
    {"metrics.host", "\"0.0.0.0\""},
    {"metrics.prometheus.prefix", "\"soketi_\""},
    {"metrics.port", "9601"},
    {"mode", "\"full\""},
    {"port", "6001"},
    {"pathPrefix", "\"\""},
    {"presence.maxMembersPerChannel", "100"},
    {"presence.maxMemberSizeInKb", "2"},
    {"queue.driver", "\"sync\""},
    {"queue.redis.concurrency", "1"},
    {"queue.redis.redisOptions", "{}"},
    {"queue.redis.clusterMode", "false"},
    {"queue.sqs.region", "\"us-east-1\""},
    {"queue.sqs.endpoint", "null"},
    {"queue.sqs.clientOptions", "{}"},
    {"queue.sqs.consumerOptions", "{}"},
    {"queue.sqs.queueUrl", "\"\""},
    {"queue.sqs.processBatch", "false"},
    {"queue.sqs.batchSize", "1"},
    {"queue.sqs.pollingWaitTimeMs", "0"},
    {"rateLimiter.driver", "\"local\""},
    {"rateLimiter.redis.redisOptions", "{}"},
    {"rateLimiter.redis.clusterMode", "false"},
    {"shutdownGracePeriod", "3000"},
    {"ssl.certPath", "\"\""},
    {"ssl.keyPath", "\"\""},
    {"ssl.passphrase", "\"\""},
    {"ssl.caPath", "\"\""},
    {"userAuthenticationTimeout", "30000"},
    {"webhooks.batching.enabled", "false"},
    {"webhooks.batching.duration", "50"},
};

/* soketi 1.6's environment variables (src/cli/cli.ts envVariables), with SOKETI_. */
static const struct {
    const char *env;
    const char *path;
} soketi_env[] = {
    {"SOKETI_ADAPTER_DRIVER", "adapter.driver"},
    {"SOKETI_ADAPTER_CLUSTER_REQUESTS_TIMEOUT", "adapter.cluster.requestsTimeout"},
    {"SOKETI_ADAPTER_REDIS_PREFIX", "adapter.redis.prefix"},
    {"SOKETI_ADAPTER_REDIS_CLUSTER_MODE", "adapter.redis.clusterMode"},
    {"SOKETI_ADAPTER_REDIS_REQUESTS_TIMEOUT", "adapter.redis.requestsTimeout"},
    {"SOKETI_ADAPTER_REDIS_SUB_OPTIONS", "adapter.redis.redisSubOptions"},
    {"SOKETI_ADAPTER_REDIS_PUB_OPTIONS", "adapter.redis.redisPubOptions"},
    {"SOKETI_ADAPTER_NATS_PREFIX", "adapter.nats.prefix"},
    {"SOKETI_ADAPTER_NATS_SERVERS", "adapter.nats.servers"},
    {"SOKETI_ADAPTER_NATS_USER", "adapter.nats.user"},
    {"SOKETI_ADAPTER_NATS_PASSWORD", "adapter.nats.pass"},
    {"SOKETI_ADAPTER_NATS_TOKEN", "adapter.nats.token"},
    {"SOKETI_ADAPTER_NATS_TIMEOUT", "adapter.nats.timeout"},
    {"SOKETI_ADAPTER_NATS_REQUESTS_TIMEOUT", "adapter.nats.requestsTimeout"},
    {"SOKETI_ADAPTER_NATS_NODES_NUMBER", "adapter.nats.nodesNumber"},
    {"SOKETI_APP_MANAGER_DRIVER", "appManager.driver"},
    {"SOKETI_APP_MANAGER_CACHE_ENABLED", "appManager.cache.enabled"},
    {"SOKETI_APP_MANAGER_CACHE_TTL", "appManager.cache.ttl"},
    {"SOKETI_APP_MANAGER_DYNAMODB_TABLE", "appManager.dynamodb.table"},
    {"SOKETI_APP_MANAGER_DYNAMODB_REGION", "appManager.dynamodb.region"},
    {"SOKETI_APP_MANAGER_DYNAMODB_ENDPOINT", "appManager.dynamodb.endpoint"},
    {"SOKETI_APP_MANAGER_MYSQL_TABLE", "appManager.mysql.table"},
    {"SOKETI_APP_MANAGER_MYSQL_VERSION", "appManager.mysql.version"},
    {"SOKETI_APP_MANAGER_POSTGRES_TABLE", "appManager.postgres.table"},
    {"SOKETI_APP_MANAGER_POSTGRES_VERSION", "appManager.postgres.version"},
    {"SOKETI_APP_MANAGER_MYSQL_USE_V2", "appManager.mysql.useMysql2"},
    {"SOKETI_CHANNEL_LIMITS_MAX_NAME_LENGTH", "channelLimits.maxNameLength"},
    {"SOKETI_CHANNEL_CACHE_TTL", "channelLimits.cacheTtl"},
    {"SOKETI_CACHE_DRIVER", "cache.driver"},
    {"SOKETI_CACHE_REDIS_CLUSTER_MODE", "cache.redis.clusterMode"},
    {"SOKETI_CACHE_REDIS_OPTIONS", "cache.redis.redisOptions"},
    {"SOKETI_CLUSTER_CHECK_INTERVAL", "cluster.checkInterval"},
    {"SOKETI_CLUSTER_HOST", "cluster.hostname"},
    {"SOKETI_CLUSTER_IGNORE_PROCESS", "cluster.ignoreProcess"},
    {"SOKETI_CLUSTER_BROADCAST_ADDRESS", "cluster.broadcast"},
    {"SOKETI_CLUSTER_KEEPALIVE_INTERVAL", "cluster.helloInterval"},
    {"SOKETI_CLUSTER_MASTER_TIMEOUT", "cluster.masterTimeout"},
    {"SOKETI_CLUSTER_MULTICAST_ADDRESS", "cluster.multicast"},
    {"SOKETI_CLUSTER_NODE_TIMEOUT", "cluster.nodeTimeout"},
    {"SOKETI_CLUSTER_PORT", "cluster.port"},
    {"SOKETI_CLUSTER_PREFIX", "cluster.prefix"},
    {"SOKETI_CLUSTER_UNICAST_ADDRESSES", "cluster.unicast"},
    {"SOKETI_DEBUG", "debug"},
    {"SOKETI_DEFAULT_APP_ID", "appManager.array.apps.0.id"},
    {"SOKETI_DEFAULT_APP_KEY", "appManager.array.apps.0.key"},
    {"SOKETI_DEFAULT_APP_SECRET", "appManager.array.apps.0.secret"},
    {"SOKETI_DEFAULT_APP_MAX_CONNS", "appManager.array.apps.0.maxConnections"},
    {"SOKETI_DEFAULT_APP_ENABLE_CLIENT_MESSAGES", "appManager.array.apps.0.enableClientMessages"},
    {"SOKETI_DEFAULT_APP_ENABLED", "appManager.array.apps.0.enabled"},
    {"SOKETI_DEFAULT_APP_MAX_BACKEND_EVENTS_PER_SEC",
     "appManager.array.apps.0.maxBackendEventsPerSecond"},
    {"SOKETI_DEFAULT_APP_MAX_CLIENT_EVENTS_PER_SEC",
     "appManager.array.apps.0.maxClientEventsPerSecond"},
    {"SOKETI_DEFAULT_APP_MAX_READ_REQ_PER_SEC", "appManager.array.apps.0.maxReadRequestsPerSecond"},
    {"SOKETI_DEFAULT_APP_USER_AUTHENTICATION", "appManager.array.apps.0.enableUserAuthentication"},
    {"SOKETI_DEFAULT_APP_WEBHOOKS", "appManager.array.apps.0.webhooks"},
    {"SOKETI_DB_POOLING_ENABLED", "databasePooling.enabled"},
    {"SOKETI_DB_POOLING_MIN", "databasePooling.min"},
    {"SOKETI_DB_POOLING_MAX", "databasePooling.max"},
    {"SOKETI_DB_MYSQL_HOST", "database.mysql.host"},
    {"SOKETI_DB_MYSQL_PORT", "database.mysql.port"},
    {"SOKETI_DB_MYSQL_USERNAME", "database.mysql.user"},
    {"SOKETI_DB_MYSQL_PASSWORD", "database.mysql.password"},
    {"SOKETI_DB_MYSQL_DATABASE", "database.mysql.database"},
    {"SOKETI_DB_POSTGRES_HOST", "database.postgres.host"},
    {"SOKETI_DB_POSTGRES_PORT", "database.postgres.port"},
    {"SOKETI_DB_POSTGRES_USERNAME", "database.postgres.user"},
    {"SOKETI_DB_POSTGRES_PASSWORD", "database.postgres.password"},
    {"SOKETI_DB_POSTGRES_DATABASE", "database.postgres.database"},
    {"SOKETI_DB_REDIS_HOST", "database.redis.host"},
    {"SOKETI_DB_REDIS_PORT", "database.redis.port"},
    {"SOKETI_DB_REDIS_DB", "database.redis.db"},
    {"SOKETI_DB_REDIS_USERNAME", "database.redis.username"},
    {"SOKETI_DB_REDIS_PASSWORD", "database.redis.password"},
    {"SOKETI_DB_REDIS_KEY_PREFIX", "database.redis.keyPrefix"},
    {"SOKETI_DB_REDIS_SENTINELS", "database.redis.sentinels"},
    {"SOKETI_DB_REDIS_SENTINEL_PASSWORD", "database.redis.sentinelPassword"},
    {"SOKETI_DB_REDIS_CLUSTER_NODES", "database.redis.clusterNodes"},
    {"SOKETI_DB_REDIS_INSTANCE_NAME", "database.redis.name"},
    {"SOKETI_EVENT_MAX_BATCH_SIZE", "eventLimits.maxBatchSize"},
    {"SOKETI_EVENT_MAX_CHANNELS_AT_ONCE", "eventLimits.maxChannelsAtOnce"},
    {"SOKETI_EVENT_MAX_NAME_LENGTH", "eventLimits.maxNameLength"},
    {"SOKETI_EVENT_MAX_SIZE_IN_KB", "eventLimits.maxPayloadInKb"},
    {"SOKETI_HOST", "host"},
    {"SOKETI_HTTP_ACCEPT_TRAFFIC_MEMORY_THRESHOLD", "httpApi.acceptTraffic.memoryThreshold"},
    {"SOKETI_METRICS_ENABLED", "metrics.enabled"},
    {"SOKETI_METRICS_DRIVER", "metrics.driver"},
    {"SOKETI_METRICS_HOST", "metrics.host"},
    {"SOKETI_METRICS_PROMETHEUS_PREFIX", "metrics.prometheus.prefix"},
    {"SOKETI_METRICS_SERVER_PORT", "metrics.port"},
    {"SOKETI_MODE", "mode"},
    {"SOKETI_PORT", "port"},
    {"SOKETI_PATH_PREFIX", "pathPrefix"},
    {"SOKETI_PRESENCE_MAX_MEMBER_SIZE", "presence.maxMemberSizeInKb"},
    {"SOKETI_PRESENCE_MAX_MEMBERS", "presence.maxMembersPerChannel"},
    {"SOKETI_QUEUE_DRIVER", "queue.driver"},
    {"SOKETI_QUEUE_REDIS_CONCURRENCY", "queue.redis.concurrency"},
    {"SOKETI_QUEUE_REDIS_OPTIONS", "queue.redis.redisOptions"},
    {"SOKETI_QUEUE_REDIS_CLUSTER_MODE", "queue.redis.clusterMode"},
    {"SOKETI_QUEUE_SQS_REGION", "queue.sqs.region"},
    {"SOKETI_QUEUE_SQS_CLIENT_OPTIONS", "queue.sqs.clientOptions"},
    {"SOKETI_QUEUE_SQS_URL", "queue.sqs.queueUrl"},
    {"SOKETI_QUEUE_SQS_ENDPOINT", "queue.sqs.endpoint"},
    {"SOKETI_QUEUE_SQS_PROCESS_BATCH", "queue.sqs.processBatch"},
    {"SOKETI_QUEUE_SQS_BATCH_SIZE", "queue.sqs.batchSize"},
    {"SOKETI_QUEUE_SQS_POLLING_WAIT_TIME_MS", "queue.sqs.pollingWaitTimeMs"},
    {"SOKETI_RATE_LIMITER_DRIVER", "rateLimiter.driver"},
    {"SOKETI_RATE_LIMITER_REDIS_OPTIONS", "rateLimiter.redis.redisOptions"},
    {"SOKETI_RATE_LIMITER_REDIS_CLUSTER_MODE", "rateLimiter.redis.clusterMode"},
    {"SOKETI_SHUTDOWN_GRACE_PERIOD", "shutdownGracePeriod"},
    {"SOKETI_SSL_CERT", "ssl.certPath"},
    {"SOKETI_SSL_KEY", "ssl.keyPath"},
    {"SOKETI_SSL_PASS", "ssl.passphrase"},
    {"SOKETI_SSL_CA", "ssl.caPath"},
    {"SOKETI_USER_AUTHENTICATION_TIMEOUT", "userAuthenticationTimeout"},
    {"SOKETI_WEBHOOKS_BATCHING", "webhooks.batching.enabled"},
    {"SOKETI_WEBHOOKS_BATCHING_DURATION", "webhooks.batching.duration"},
};

#define ERRLEN 1024

/* The source tree: $SOKETI_SRCDIR (set by make check), else the one this file is in. */
static const char *
srcdir(void)
{
    static char dir[PATH_MAX];
    const char *env = getenv("SOKETI_SRCDIR");
    if (env && *env)
        return env;
    if (!dir[0]) {
        char file[PATH_MAX];
        snprintf(file, sizeof(file), "%s", __FILE__);
        snprintf(dir, sizeof(dir), "%s/..", dirname(file));
    }
    return dir;
}

/* Path of a fixture file; a static buffer per call slot (up to 4 live at once). */
static const char *
fixture(const char *name)
{
    static char paths[4][PATH_MAX];
    static int slot;
    char *p = paths[slot++ % 4];
    snprintf(p, PATH_MAX, "%s/tests/fixtures/config/%s", srcdir(), name);
    return p;
}

/* Writes content to a new temporary file with the given suffix; returns its path (static
 * buffer per slot, up to 4 live at once). */
static const char *
temp_file(const char *content, const char *suffix)
{
    static char paths[4][64];
    static int slot;
    char *p = paths[slot++ % 4];
    snprintf(p, 64, "/tmp/check_config_XXXXXX%s", suffix);
    int fd = mkstemps(p, (int)strlen(suffix));
    ck_assert_int_ge(fd, 0);
    size_t len = strlen(content);
    ck_assert_int_eq(write(fd, content, len), (ssize_t)len);
    close(fd);
    return p;
}

static skt_config_t *
load_ok(const char *ini, const char *json, char **env)
{
    skt_config_sources_t src = {.ini_path = ini, .json_path = json, .environ = env};
    skt_config_t *cfg = NULL;
    char err[ERRLEN] = "untouched";
    int rc = skt_config_load(&src, &cfg, err, sizeof(err));
    ck_assert_msg(rc == 0, "load failed: %s", err);
    ck_assert_ptr_nonnull(cfg);
    return cfg;
}

/* Loads, expects failure with exactly the message expected. */
static void
load_err(const char *ini, const char *json, char **env, const char *expected)
{
    skt_config_sources_t src = {.ini_path = ini, .json_path = json, .environ = env};
    skt_config_t *cfg = (skt_config_t *)&src; /* must be reset to NULL */
    char err[ERRLEN] = "";
    int rc = skt_config_load(&src, &cfg, err, sizeof(err));
    ck_assert_int_eq(rc, -1);
    ck_assert_ptr_null(cfg);
    ck_assert_str_eq(err, expected);
}

static void
ini_err(const char *content, int line, const char *what)
{
    const char *path = temp_file(content, ".ini");
    char expected[ERRLEN];
    snprintf(expected, sizeof(expected), "%s:%d: %s", path, line, what);
    load_err(path, NULL, NULL, expected);
    unlink(path);
}

static void
json_err(const char *content, const char *what)
{
    const char *path = temp_file(content, ".json");
    char expected[ERRLEN];
    snprintf(expected, sizeof(expected), "%s: %s", path, what);
    load_err(NULL, path, NULL, expected);
    unlink(path);
}

static void
env_err(const char *var, const char *what)
{
    char *env[] = {(char *)var, NULL};
    load_err(NULL, NULL, env, what);
}

static size_t
list_len(char **l)
{
    size_t n = 0;
    while (l && l[n])
        n++;
    return n;
}

/* ---- the table ---- */

START_TEST(test_table_names_and_envs_unique)
{
    ck_assert_uint_ge(skt_options_count, 110);
    for (size_t i = 0; i < skt_options_count; i++) {
        const skt_option_t *o = &skt_options[i];
        ck_assert_ptr_nonnull(o->doc);
        ck_assert_ptr_eq(skt_options_find(o->name), o);
        ck_assert_msg(o->def || (o->flags & SKT_OPT_DYNAMIC) || o->type == SKT_OPT_APPS,
                      "%s has no default", o->name);
        if (o->env) {
            ck_assert_int_eq(strncmp(o->env, "SOKETI_", 7), 0);
            ck_assert_ptr_eq(skt_options_find_env(o->env, strlen(o->env)), o);
        }
        for (size_t j = 0; j < i; j++) {
            ck_assert_str_ne(o->name, skt_options[j].name);
            if (o->env && skt_options[j].env)
                ck_assert_str_ne(o->env, skt_options[j].env);
        }
    }
    ck_assert_ptr_null(skt_options_find("adapter.redis"));
    ck_assert_ptr_null(skt_options_find_env("SOKETI_PORT", 6));
    ck_assert_int_eq(skt_options_is_prefix("adapter.redis"), 1);
    ck_assert_int_eq(skt_options_is_prefix("adapter.redi"), 0);
    ck_assert_int_eq(skt_options_is_prefix("port"), 0);
}
END_TEST

/* Every variable soketi reads maps to the option (or default-app field) soketi maps it to. */
START_TEST(test_table_has_every_soketi_env)
{
    size_t n = sizeof(soketi_env) / sizeof(soketi_env[0]);
    ck_assert_uint_eq(n, 115);
    for (size_t i = 0; i < n; i++) {
        const char *e = soketi_env[i].env;
        const skt_option_t *o = skt_options_find_env(e, strlen(e));
        if (strncmp(soketi_env[i].path, "appManager.array.apps.0.", 24) == 0) {
            const skt_option_app_env_t *a = skt_options_find_app_env(e, strlen(e));
            ck_assert_msg(a != NULL, "%s missing", e);
            ck_assert_str_eq(a->field, soketi_env[i].path + 24);
        } else {
            ck_assert_msg(o != NULL, "%s missing", e);
            ck_assert_str_eq(o->name, soketi_env[i].path);
        }
    }
}
END_TEST

/* Every leaf of soketi's options exists, and defaults to soketi's value. */
START_TEST(test_defaults_equal_soketi)
{
    skt_config_t *cfg = load_ok(NULL, NULL, NULL);
    size_t n = sizeof(soketi_defaults) / sizeof(soketi_defaults[0]);
    ck_assert_uint_eq(n, 110);
    for (size_t i = 0; i < n; i++) {
        const skt_option_t *o = skt_options_find(soketi_defaults[i].name);
        ck_assert_msg(o != NULL, "option %s missing", soketi_defaults[i].name);
        ck_assert_int_eq(o->flags & SKT_OPT_SOKETI_C, 0);
        const char *text = skt_config_get_text(cfg, soketi_defaults[i].name);
        ck_assert_ptr_nonnull(text);
        json_t *want = json_loads(soketi_defaults[i].json, JSON_DECODE_ANY, NULL);
        ck_assert_ptr_nonnull(want);
        if (json_is_string(want))
            ck_assert_str_eq(text, json_string_value(want));
        else if (json_is_null(want) && o->type == SKT_OPT_STRING)
            ck_assert_str_eq(text, "");
        else
            ck_assert_msg(strcmp(text, soketi_defaults[i].json) == 0, "%s: %s != %s",
                          soketi_defaults[i].name, text, soketi_defaults[i].json);
        json_decref(want);
    }
    skt_config_free(cfg);
}
END_TEST

START_TEST(test_defaults_typed)
{
    skt_config_t *cfg = load_ok(NULL, NULL, NULL);
    char pid[32];

    ck_assert_int_eq(cfg->port, 6001);
    ck_assert_str_eq(cfg->host, "0.0.0.0");
    ck_assert_str_eq(cfg->adapter.driver, "local");
    ck_assert_int_eq(cfg->adapter.redis.requests_timeout, 5000);
    ck_assert_str_eq(cfg->adapter.redis.prefix, "");
    ck_assert(json_is_object(cfg->adapter.redis.redis_pub_options));
    ck_assert_uint_eq(list_len(cfg->adapter.nats.servers), 1);
    ck_assert_str_eq(cfg->adapter.nats.servers[0], "127.0.0.1:4222");
    ck_assert_ptr_null(cfg->adapter.nats.user);
    ck_assert_int_eq(cfg->adapter.nats.timeout, 10000);
    ck_assert_int_eq(cfg->adapter.nats.nodes_number, SKT_CONFIG_INT_NULL);
    ck_assert_str_eq(cfg->app_manager.driver, "array");
    ck_assert_int_eq(cfg->app_manager.cache.ttl, -1);
    ck_assert_str_eq(cfg->app_manager.mysql.version, "8.0");
    ck_assert_str_eq(cfg->app_manager.dynamodb.region, "us-east-1");
    ck_assert_ptr_null(cfg->app_manager.dynamodb.endpoint);
    ck_assert_str_eq(cfg->cache.driver, "memory");
    ck_assert_int_eq(cfg->channel_limits.max_name_length, 200);
    ck_assert_int_eq(cfg->channel_limits.cache_ttl, 3600);
    ck_assert_int_eq(cfg->cluster.port, 11002);
    ck_assert_int_eq(cfg->cluster.ignore_process, 1);
    ck_assert(json_is_null(cfg->cluster.unicast));
    ck_assert_ptr_null(cfg->cluster.multicast);
    ck_assert_int_eq(cfg->cors.credentials, 1);
    ck_assert_uint_eq(list_len(cfg->cors.methods), 5);
    ck_assert_uint_eq(list_len(cfg->cors.allowed_headers), 9);
    ck_assert_str_eq(cfg->cors.allowed_headers[8], "X-Socket-Id");
    ck_assert_int_eq(cfg->database.mysql.port, 3306);
    ck_assert_str_eq(cfg->database.postgres.user, "postgres");
    ck_assert_int_eq(cfg->database.redis.port, 6379);
    ck_assert_str_eq(cfg->database.redis.name, "mymaster");
    ck_assert(json_is_null(cfg->database.redis.sentinels));
    ck_assert(json_is_array(cfg->database.redis.cluster_nodes));
    ck_assert_int_eq(cfg->database_pooling.max, 7);
    ck_assert_int_eq(cfg->debug, 0);
    ck_assert_int_eq(cfg->event_limits.max_channels_at_once, 100);
    ck_assert_int_eq(cfg->event_limits.max_name_length, 200);
    ck_assert_double_eq(cfg->event_limits.max_payload_in_kb, 100.0);
    ck_assert_int_eq(cfg->event_limits.max_batch_size, 10);
    ck_assert_double_eq(cfg->http_api.request_limit_in_mb, 100.0);
    ck_assert_double_eq(cfg->http_api.accept_traffic.memory_threshold, 85.0);
    ck_assert_int_eq(cfg->metrics.port, 9601);
    ck_assert_str_eq(cfg->metrics.prometheus.prefix, "soketi_");
    ck_assert_str_eq(cfg->mode, "full");
    ck_assert_str_eq(cfg->path_prefix, "");
    ck_assert_int_eq(cfg->presence.max_members_per_channel, 100);
    ck_assert_double_eq(cfg->presence.max_member_size_in_kb, 2.0);
    ck_assert_str_eq(cfg->queue.driver, "sync");
    ck_assert_int_eq(cfg->queue.sqs.batch_size, 1);
    ck_assert_str_eq(cfg->rate_limiter.driver, "local");
    ck_assert_int_eq(cfg->shutdown_grace_period, 3000);
    ck_assert_str_eq(cfg->ssl.cert_path, "");
    ck_assert_int_eq(cfg->user_authentication_timeout, 30000);
    ck_assert_int_eq(cfg->webhooks.batching.enabled, 0);
    ck_assert_int_eq(cfg->webhooks.batching.duration, 50);
    /* soketi-c's own */
    ck_assert_str_eq(cfg->plugin_dir, SOKETI_PLUGIN_DIR);
    ck_assert_str_eq(cfg->log_format, "text");
    ck_assert_int_eq(cfg->max_backpressure_in_kb, 1024);
    ck_assert_int_eq(cfg->http_api.max_header_size_in_kb, 16);
    ck_assert_int_eq(cfg->ws_max_payload_in_kb, 104); /* 100 KB events + 4 */
    ck_assert_int_eq(cfg->http_api.auth_timestamp_window, 600);
    snprintf(pid, sizeof(pid), "%ld", (long)getpid());
    ck_assert_str_eq(cfg->instance.process_id, pid);

    /* soketi's default app */
    ck_assert_uint_eq(skt_apps_count(cfg->apps), 1);
    skt_app_t *app = skt_apps_at(cfg->apps, 0);
    ck_assert_str_eq(app->id, "app-id");
    ck_assert_str_eq(app->key, "app-key");
    ck_assert_str_eq(app->secret, "app-secret");
    ck_assert_int_eq(app->max_connections, -1);
    ck_assert_int_eq(app->enable_client_messages, 0);
    ck_assert_int_eq(app->enabled, 1);
    ck_assert_int_eq(app->enable_user_authentication, 0);
    ck_assert_int_eq(app->max_backend_events_per_sec, -1);
    ck_assert_int_eq(app->max_client_events_per_sec, -1);
    ck_assert_int_eq(app->max_read_req_per_sec, -1);
    ck_assert_int_eq(app->max_presence_members_per_channel, 100);
    ck_assert_double_eq(app->max_presence_member_size_kb, 2.0);
    ck_assert_int_eq(app->max_channel_name_length, 200);
    ck_assert_int_eq(app->max_event_channels_at_once, 100);
    ck_assert_int_eq(app->max_event_name_length, 200);
    ck_assert_double_eq(app->max_event_payload_kb, 100.0);
    ck_assert_int_eq(app->max_event_batch_size, 10);
    ck_assert(json_is_array(app->webhooks));
    ck_assert_uint_eq(json_array_size(app->webhooks), 0);
    skt_config_free(cfg);
}
END_TEST

/* ---- INI ---- */

START_TEST(test_ini_sections_and_apps)
{
    skt_config_t *cfg = load_ok(fixture("basic.ini"), NULL, NULL);

    ck_assert_int_eq(cfg->port, 6010);
    ck_assert_int_eq(cfg->debug, 1);
    ck_assert_str_eq(cfg->host, "127.0.0.1");
    ck_assert_str_eq(cfg->path_prefix, "/soketi");
    ck_assert_str_eq(cfg->adapter.driver, "redis");
    ck_assert_int_eq(cfg->adapter.redis.requests_timeout, 2500);
    ck_assert_str_eq(cfg->adapter.redis.prefix, "my-prefix");
    ck_assert_str_eq(
        json_string_value(json_object_get(cfg->adapter.redis.redis_pub_options, "password")), "x");
    ck_assert_uint_eq(list_len(cfg->adapter.nats.servers), 1);
    ck_assert_str_eq(cfg->adapter.nats.servers[0], "nats.example:4222");
    ck_assert_uint_eq(list_len(cfg->cors.origin), 2);
    ck_assert_str_eq(cfg->cors.origin[1], "https://b.example");
    ck_assert_double_eq(cfg->presence.max_member_size_in_kb, 4.5);

    ck_assert_uint_eq(skt_apps_count(cfg->apps), 2);
    skt_app_t *a0 = skt_apps_at(cfg->apps, 0);
    ck_assert_str_eq(a0->id, "123");
    ck_assert_str_eq(a0->key, "key-0");
    ck_assert_int_eq(a0->enable_client_messages, 1);
    ck_assert_double_eq(a0->max_presence_member_size_kb, 4.5); /* from presence.* */
    skt_app_t *a1 = skt_apps_at(cfg->apps, 1);
    ck_assert_str_eq(a1->id, "app-1");
    ck_assert_int_eq(a1->max_connections, 50);
    ck_assert_double_eq(a1->max_event_payload_kb, 10.0);
    ck_assert_int_eq(a1->enabled, 1);
    ck_assert_uint_eq(json_array_size(a1->webhooks), 1);
    json_t *hook = json_array_get(a1->webhooks, 0);
    ck_assert_str_eq(json_string_value(json_object_get(hook, "url")), "https://hooks.example/1");
    ck_assert_ptr_eq(skt_apps_by_key(cfg->apps, "key-1", 5), a1);
    skt_config_free(cfg);
}
END_TEST

START_TEST(test_ini_long_lines)
{
    /* inih's default 200-byte line limit does not apply: long JSON values fit. */
    char *text = malloc(70000);
    size_t n = (size_t)sprintf(text, "[adapter.redis]\nprefix = ");
    memset(text + n, 'p', 5000);
    strcpy(text + n + 5000, "\n");
    const char *path = temp_file(text, ".ini");
    skt_config_t *cfg = load_ok(path, NULL, NULL);
    ck_assert_uint_eq(strlen(cfg->adapter.redis.prefix), 5000);
    skt_config_free(cfg);
    unlink(path);

    n = (size_t)sprintf(text, "port = 1\nprefix = ");
    memset(text + n, 'p', 66000);
    strcpy(text + n + 66000, "\n");
    ini_err(text, 2, "line is longer than 65534 bytes");
    free(text);
}
END_TEST

START_TEST(test_ini_globals_restored)
{
    bool multiline = ini_allow_multiline;
    int max_line = ini_max_line;
    skt_config_t *cfg = load_ok(fixture("basic.ini"), NULL, NULL);
    skt_config_free(cfg);
    ck_assert_int_eq(ini_allow_multiline, multiline);
    ck_assert_int_eq(ini_max_line, max_line);
}
END_TEST

/* ---- JSON ---- */

START_TEST(test_json_dotted)
{
    skt_config_t *cfg = load_ok(NULL, fixture("basic.json"), NULL);
    ck_assert_int_eq(cfg->port, 6020);
    ck_assert_str_eq(cfg->adapter.redis.prefix, "json-prefix");
    ck_assert_int_eq(cfg->metrics.enabled, 1);
    ck_assert_double_eq(cfg->event_limits.max_payload_in_kb, 0.5);
    ck_assert_uint_eq(json_array_size(cfg->database.redis.sentinels), 1);
    ck_assert_uint_eq(list_len(cfg->cors.methods), 1);

    ck_assert_uint_eq(skt_apps_count(cfg->apps), 2);
    skt_app_t *a0 = skt_apps_by_id(cfg->apps, "1", 1);
    ck_assert_ptr_nonnull(a0);
    ck_assert_str_eq(a0->key, "k1");
    ck_assert_str_eq(a0->secret, "s1");
    ck_assert_int_eq(a0->max_connections, 20);
    ck_assert_double_eq(a0->max_event_payload_kb, 0.5); /* from eventLimits.* */
    skt_app_t *a1 = skt_apps_by_id(cfg->apps, "two", 3);
    ck_assert_int_eq(a1->enabled, 0);
    ck_assert_int_eq(a1->max_client_events_per_sec, 5);
    ck_assert_int_eq(a1->max_event_batch_size, 3);
    ck_assert_ptr_null(skt_apps_by_id(cfg->apps, "app-id", 6)); /* the list was replaced */
    skt_config_free(cfg);
}
END_TEST

START_TEST(test_json_nested)
{
    skt_config_t *cfg = load_ok(NULL, fixture("nested.json"), NULL);
    ck_assert_str_eq(cfg->adapter.driver, "local"); /* merged, not replaced */
    ck_assert_str_eq(cfg->adapter.redis.prefix, "nested");
    ck_assert_int_eq(cfg->adapter.redis.requests_timeout, 5000);
    ck_assert_int_eq(
        json_integer_value(json_object_get(cfg->adapter.redis.redis_sub_options, "db")), 2);
    ck_assert_int_eq(cfg->adapter.nats.nodes_number, 3);
    ck_assert_int_eq(cfg->app_manager.cache.ttl, 60);
    ck_assert_int_eq(cfg->app_manager.cache.enabled, 0);
    ck_assert_double_eq(cfg->http_api.accept_traffic.memory_threshold, 90.0);
    ck_assert_uint_eq(skt_apps_count(cfg->apps), 1);
    skt_app_t *a = skt_apps_by_key(cfg->apps, "nk", 2);
    ck_assert_ptr_nonnull(a);
    ck_assert_str_eq(a->id, "n");
    ck_assert_int_eq(a->max_connections, 7);
    skt_config_free(cfg);
}
END_TEST

START_TEST(test_json_null_for_nullable)
{
    const char *path = temp_file("{\"adapter.nats.user\": \"bob\", \"adapter.nats.pass\": null,"
                                 " \"adapter.nats.nodesNumber\": null, \"cluster.unicast\":"
                                 " [\"10.0.0.1\"], \"database.redis.sentinels\": null}",
                                 ".json");
    skt_config_t *cfg = load_ok(NULL, path, NULL);
    ck_assert_str_eq(cfg->adapter.nats.user, "bob");
    ck_assert_ptr_null(cfg->adapter.nats.pass);
    ck_assert_int_eq(cfg->adapter.nats.nodes_number, SKT_CONFIG_INT_NULL);
    ck_assert(json_is_array(cfg->cluster.unicast));
    ck_assert(json_is_null(cfg->database.redis.sentinels));
    skt_config_free(cfg);
    unlink(path);
}
END_TEST

/* ---- environment ---- */

START_TEST(test_env_json_valued)
{
    char *env[] = {
        "PATH=/usr/bin",
        "SOKETI_PORT=6002",
        "SOKETI_DEBUG=true",
        "SOKETI_DEFAULT_APP_ID=123",
        "SOKETI_DEFAULT_APP_KEY=0123",
        "SOKETI_DEFAULT_APP_MAX_CONNS=0",
        "SOKETI_DEFAULT_APP_ENABLE_CLIENT_MESSAGES=true",
        "SOKETI_DEFAULT_APP_WEBHOOKS=[{\"url\":\"http://127.0.0.1:3000/hook\","
        "\"event_types\":[\"member_added\",\"member_removed\"]}]",
        "SOKETI_ADAPTER_NATS_SERVERS=[\"a:4222\",\"b:4222\"]",
        "SOKETI_HOST=\"10.1.2.3\"",
        "SOKETI_DB_REDIS_PASSWORD=null",
        "SOKETI_DB_MYSQL_PASSWORD=null",
        "SOKETI_ADAPTER_NATS_NODES_NUMBER=null",
        "SOKETI_PRESENCE_MAX_MEMBER_SIZE=2.5",
        "SOKETI_APP_MANAGER_MYSQL_VERSION=8.0",
        "SOKETI_METRICS_PROMETHEUS_PREFIX=42",
        "SOKETI_SHUTDOWN_GRACE_PERIOD=",
        "SOKETI_ADAPTER_REDIS_PUB_OPTIONS={\"db\":1}",
        "SOKETI_PLUGIN_DIR=/opt/plugins",
        "SOKETI_LOG_FORMAT=json",
        "SOKETI_WS_MAX_PAYLOAD_IN_KB=64",
        NULL,
    };
    skt_config_t *cfg = load_ok(NULL, NULL, env);
    ck_assert_int_eq(cfg->port, 6002);
    ck_assert_int_eq(cfg->debug, 1);
    ck_assert_str_eq(cfg->host, "10.1.2.3");
    ck_assert_uint_eq(list_len(cfg->adapter.nats.servers), 2);
    ck_assert_str_eq(cfg->adapter.nats.servers[1], "b:4222");
    ck_assert_ptr_null(cfg->database.redis.password); /* null, where null is allowed */
    ck_assert_int_eq(cfg->adapter.nats.nodes_number, SKT_CONFIG_INT_NULL);
    ck_assert_str_eq(cfg->database.mysql.password, "null"); /* else the text, as soketi */
    ck_assert_double_eq(cfg->presence.max_member_size_in_kb, 2.5);
    ck_assert_str_eq(cfg->app_manager.mysql.version, "8.0");
    ck_assert_str_eq(cfg->metrics.prometheus.prefix, "42");
    ck_assert_int_eq(cfg->shutdown_grace_period, 3000); /* empty: unset */
    ck_assert_int_eq(
        json_integer_value(json_object_get(cfg->adapter.redis.redis_pub_options, "db")), 1);
    ck_assert_str_eq(cfg->plugin_dir, "/opt/plugins");
    ck_assert_str_eq(cfg->log_format, "json");
    ck_assert_int_eq(cfg->ws_max_payload_in_kb, 64);

    skt_app_t *a = skt_apps_at(cfg->apps, 0);
    ck_assert_str_eq(a->id, "123");
    ck_assert_str_eq(a->key, "0123");
    ck_assert_str_eq(a->secret, "app-secret");
    ck_assert_int_eq(a->max_connections, -1); /* soketi: 0 is unlimited */
    ck_assert_int_eq(a->enable_client_messages, 1);
    ck_assert_double_eq(a->max_presence_member_size_kb, 2.5);
    ck_assert_uint_eq(json_array_size(a->webhooks), 1);
    ck_assert_str_eq(json_string_value(json_array_get(
                         json_object_get(json_array_get(a->webhooks, 0), "event_types"), 1)),
                     "member_removed");
    ck_assert_ptr_eq(skt_apps_by_id(cfg->apps, "123", 3), a);
    skt_config_free(cfg);
}
END_TEST

START_TEST(test_env_unknown_only_warns)
{
    char *env[] = {"SOKETI_FOO=1", "SOKETI_PORT=7000", "SOKETI=x", NULL};
    char path[] = "/tmp/check_config_stderr_XXXXXX";
    int fd = mkstemp(path);
    int saved = dup(STDERR_FILENO);
    ck_assert_int_ge(fd, 0);
    fflush(stderr);
    dup2(fd, STDERR_FILENO);
    skt_config_t *cfg = load_ok(NULL, NULL, env);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    ck_assert_int_eq(cfg->port, 7000);
    skt_config_free(cfg);

    char buf[4096] = "";
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    close(fd);
    unlink(path);
    ck_assert_int_gt(n, 0);
    ck_assert_ptr_nonnull(strstr(buf, "SOKETI_FOO"));
    ck_assert_ptr_nonnull(strstr(buf, "warn"));
    ck_assert_ptr_null(strstr(buf, "SOKETI_PORT"));
}
END_TEST

/* ---- priority ---- */

START_TEST(test_priority_env_json_ini_defaults)
{
    char *env[] = {"SOKETI_PORT=3003", "SOKETI_DEFAULT_APP_SECRET=env-secret", NULL};
    skt_config_t *cfg = load_ok(fixture("priority.ini"), fixture("priority.json"), env);
    ck_assert_int_eq(cfg->port, 3003);              /* env > json > ini */
    ck_assert_str_eq(cfg->host, "json-host");       /* json > ini */
    ck_assert_str_eq(cfg->path_prefix, "/ini");     /* ini > default */
    ck_assert_int_eq(cfg->metrics.port, 1111);      /* ini > default */
    ck_assert_int_eq(cfg->debug, 1);                /* ini */
    ck_assert_str_eq(cfg->metrics.host, "0.0.0.0"); /* default */
    skt_app_t *a = skt_apps_at(cfg->apps, 0);
    ck_assert_str_eq(a->id, "app-id");         /* default */
    ck_assert_str_eq(a->key, "json-key");      /* json > ini */
    ck_assert_str_eq(a->secret, "env-secret"); /* env > ini */
    ck_assert_int_eq(a->max_connections, 9);   /* json */
    skt_config_free(cfg);

    /* Without the environment and the JSON file, the INI file's values stand. */
    cfg = load_ok(fixture("priority.ini"), NULL, NULL);
    ck_assert_int_eq(cfg->port, 1001);
    ck_assert_str_eq(cfg->host, "ini-host");
    ck_assert_str_eq(skt_apps_at(cfg->apps, 0)->secret, "ini-secret");
    skt_config_free(cfg);
}
END_TEST

/* ---- errors ---- */

START_TEST(test_error_ini_unknown_key_with_line)
{
    ini_err("port = 6001\n\n[adapter.redis]\nprefx = x\n", 4,
            "unknown option 'adapter.redis.prefx'");
    ini_err("; comment\nprot = 1\n", 2, "unknown option 'prot'");
    ini_err("[appManager.array.apps.1]\nid = a\nmaxConection = 1\n", 3,
            "apps[1]: unknown key 'maxConection'");
}
END_TEST

START_TEST(test_error_ini_bad_values)
{
    ini_err("debug = true\nport = abc\n", 2, "option 'port': expected an integer, got 'abc'");
    ini_err("port = 1.5\n", 1, "option 'port': expected an integer, got '1.5'");
    ini_err("[cors]\ncredentials = maybe\n", 2,
            "option 'cors.credentials': expected a boolean (true or false), got 'maybe'");
    ini_err("[cors]\norigin = 5\n", 2,
            "option 'cors.origin': expected a list of strings (a JSON array), got '5'");
    ini_err("[adapter.redis]\nredisPubOptions = [1]\n", 2,
            "option 'adapter.redis.redisPubOptions': expected a JSON object, got '[1]'");
    ini_err("port = 1\nthis is not ini\n", 2,
            "syntax error (expected '[section]' or 'name = value')");
    ini_err("[appManager.array.apps.0]\nmaxConnections = lots\n", 2,
            "apps[0]: 'maxConnections': expected an integer, got 'lots'");
}
END_TEST

START_TEST(test_error_env_bad_values)
{
    env_err("SOKETI_PORT=abc", "SOKETI_PORT: expected an integer, got 'abc'");
    env_err("SOKETI_PORT=70000", "SOKETI_PORT: 70000 is out of range (0-65535)");
    env_err("SOKETI_DEBUG=maybe", "SOKETI_DEBUG: expected a boolean (true or false), got 'maybe'");
    env_err("SOKETI_EVENT_MAX_SIZE_IN_KB=0",
            "SOKETI_EVENT_MAX_SIZE_IN_KB: 0 is out of range (must be greater than 0)");
    env_err("SOKETI_HTTP_ACCEPT_TRAFFIC_MEMORY_THRESHOLD=101",
            "SOKETI_HTTP_ACCEPT_TRAFFIC_MEMORY_THRESHOLD: 101 is out of range (0-100)");
    env_err("SOKETI_PORT=null", "SOKETI_PORT: expected an integer, got 'null'");
    env_err("SOKETI_DEFAULT_APP_MAX_CONNS=abc",
            "SOKETI_DEFAULT_APP_MAX_CONNS: apps[0]: 'maxConnections': expected an integer, got "
            "'abc'");
    env_err("SOKETI_DEFAULT_APP_WEBHOOKS=[{\"url\":1,\"event_types\":[]}]",
            "SOKETI_DEFAULT_APP_WEBHOOKS: apps[0]: 'webhooks': webhooks[0]: 'url' must be a "
            "string");
    env_err("SOKETI_DEFAULT_APP_WEBHOOKS=yes",
            "SOKETI_DEFAULT_APP_WEBHOOKS: apps[0]: 'webhooks': expected a JSON array of "
            "webhooks, got 'yes'");
}
END_TEST

START_TEST(test_error_out_of_range)
{
    json_err("{\"port\": 70000}", "key 'port': 70000 is out of range (0-65535)");
    json_err("{\"shutdownGracePeriod\": -1}",
             "key 'shutdownGracePeriod': -1 is out of range (must be at least 0)");
    json_err("{\"presence\": {\"maxMembersPerChannel\": 0}}",
             "key 'presence.maxMembersPerChannel': 0 is out of range (must be at least 1)");
    json_err("{\"appManager.cache.ttl\": -2}",
             "key 'appManager.cache.ttl': -2 is out of range (must be at least -1)");
    json_err("{\"maxBackpressureInKb\": -5}",
             "key 'maxBackpressureInKb': -5 is out of range (must be at least 1)");
    json_err("{\"metrics.port\": \"99999\"}",
             "key 'metrics.port': 99999 is out of range (0-65535)");
}
END_TEST

START_TEST(test_error_unknown_driver)
{
    /* adapter.driver names a plugin: any name loads here, the loader judges it. */
    env_err("SOKETI_APP_MANAGER_DRIVER=sqlite", "SOKETI_APP_MANAGER_DRIVER: unknown value "
                                                "'sqlite' (expected one of: array, mysql, "
                                                "postgres, dynamodb)");
    env_err("SOKETI_MODE=both",
            "SOKETI_MODE: unknown value 'both' (expected one of: full, server, worker)");
    json_err("{\"queue.driver\": \"kafka\"}", "key 'queue.driver': unknown value 'kafka' "
                                              "(expected one of: sync, redis, sqs)");
    ini_err("logFormat = xml\n", 1,
            "option 'logFormat': unknown value 'xml' (expected one of: text, json)");
}
END_TEST

START_TEST(test_error_json_file)
{
    json_err("{\"adapter.redis.prefx\": \"x\"}", "unknown key 'adapter.redis.prefx'");
    json_err("{\"adapter\": {\"redis\": {\"prefx\": \"x\"}}}", "unknown key 'adapter.redis.prefx'");
    json_err("{\"adapter\": 5}", "unknown key 'adapter'");
    json_err("[1, 2]", "expected a JSON object of options");
    json_err("{\"port\": true}", "key 'port': expected an integer, got 'true'");
    json_err("{\"host\": {}}", "key 'host': expected a string, got '{}'");

    const char *path = temp_file("{\"port\": }", ".json");
    skt_config_sources_t src = {.json_path = path};
    skt_config_t *cfg;
    char err[ERRLEN], prefix[ERRLEN];
    ck_assert_int_eq(skt_config_load(&src, &cfg, err, sizeof(err)), -1);
    snprintf(prefix, sizeof(prefix), "%s:1:", path);
    ck_assert_int_eq(strncmp(err, prefix, strlen(prefix)), 0);
    ck_assert_ptr_nonnull(strstr(err, "invalid JSON"));
    unlink(path);
}
END_TEST

/* In-memory sources: read as the files would be, named by their path or <ini>/<json>. */
START_TEST(test_text_sources)
{
    /* Slices of a longer buffer: no NUL terminator is needed or read. */
    const char buf[] = "port = 6010\n[adapter.redis]\nprefix = mem\nXXXX{\"port\": 6011}YYYY";
    size_t ini_len = strlen("port = 6010\n[adapter.redis]\nprefix = mem\n");
    skt_config_sources_t src = {.ini_text = buf, .ini_len = ini_len};
    skt_config_t *cfg = NULL;
    char err[ERRLEN];
    ck_assert_int_eq(skt_config_load(&src, &cfg, err, sizeof(err)), 0);
    ck_assert_int_eq(cfg->port, 6010);
    ck_assert_str_eq(cfg->adapter.redis.prefix, "mem");
    skt_config_free(cfg);

    /* JSON text over INI text, both over the file paths they would otherwise name. */
    src.ini_path = "/nonexistent/soketi.conf";
    src.json_path = "/nonexistent/soketi.json";
    src.json_text = buf + ini_len + 4;
    src.json_len = strlen("{\"port\": 6011}");
    ck_assert_int_eq(skt_config_load(&src, &cfg, err, sizeof(err)), 0);
    ck_assert_int_eq(cfg->port, 6011);
    ck_assert_str_eq(cfg->adapter.redis.prefix, "mem");
    skt_config_free(cfg);

    /* The same text from a file and from memory loads the same options. */
    const char *text = "debug = true\n[appManager.array.apps.0]\nid = mem-id\n";
    const char *path = temp_file(text, ".ini");
    skt_config_t *from_file = load_ok(path, NULL, NULL);
    skt_config_sources_t mem = {.ini_text = text, .ini_len = strlen(text)};
    ck_assert_int_eq(skt_config_load(&mem, &cfg, err, sizeof(err)), 0);
    for (size_t i = 0; i < skt_options_count; i++)
        ck_assert_str_eq(skt_config_get_text(cfg, skt_options[i].name),
                         skt_config_get_text(from_file, skt_options[i].name));
    skt_config_free(cfg);
    skt_config_free(from_file);
    unlink(path);
}
END_TEST

START_TEST(test_text_source_errors)
{
    skt_config_t *cfg = NULL;
    char err[ERRLEN];
    const char *two = "port = 1\nprt = 2\n";
    skt_config_sources_t src = {.ini_text = two, .ini_len = strlen(two)};
    ck_assert_int_eq(skt_config_load(&src, &cfg, err, sizeof(err)), -1);
    ck_assert_ptr_null(cfg);
    ck_assert_str_eq(err, "<ini>:2: unknown option 'prt'");

    src.ini_path = "inline.conf";
    ck_assert_int_eq(skt_config_load(&src, &cfg, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "inline.conf:2: unknown option 'prt'");

    /* A NUL byte is refused as it is in a file, not taken as the end of the text. */
    skt_config_sources_t nul = {.ini_text = "port = 1\0prt = 2\n", .ini_len = 18};
    ck_assert_int_eq(skt_config_load(&nul, &cfg, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "<ini>: contains a NUL byte");
    skt_config_sources_t jnul = {.json_text = "{}\0", .json_len = 3};
    ck_assert_int_eq(skt_config_load(&jnul, &cfg, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "<json>: contains a NUL byte");

    /* Only json_len bytes are JSON: the rest of the buffer is never read. */
    skt_config_sources_t cut = {.json_text = "{\"port\": 1}", .json_len = 5};
    ck_assert_int_eq(skt_config_load(&cut, &cfg, err, sizeof(err)), -1);
    ck_assert_int_eq(strncmp(err, "<json>:1:", 9), 0);
    ck_assert_ptr_nonnull(strstr(err, "invalid JSON"));
    skt_config_sources_t bad = {.json_text = "{\"prt\": 1}", .json_len = 10};
    ck_assert_int_eq(skt_config_load(&bad, &cfg, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "<json>: unknown key 'prt'");

    /* An empty INI text is an empty file: the defaults. */
    skt_config_sources_t empty = {.ini_text = "", .ini_len = 0};
    ck_assert_int_eq(skt_config_load(&empty, &cfg, err, sizeof(err)), 0);
    ck_assert_int_eq(cfg->port, 6001);
    skt_config_free(cfg);
}
END_TEST

START_TEST(test_error_missing_files)
{
    load_err("/nonexistent/soketi.conf", NULL, NULL,
             "/nonexistent/soketi.conf: cannot open: No such file or directory");
    skt_config_sources_t src = {.json_path = "/nonexistent/soketi.json"};
    skt_config_t *cfg;
    char err[ERRLEN];
    ck_assert_int_eq(skt_config_load(&src, &cfg, err, sizeof(err)), -1);
    ck_assert_int_eq(strncmp(err, "/nonexistent/soketi.json: ", 26), 0);
}
END_TEST

START_TEST(test_error_bad_apps)
{
    json_err("{\"appManager.array.apps\": [{\"id\": \"a\", \"key\": \"k\", \"secret\": \"s\"},"
             " {\"id\": \"b\", \"key\": \"k2\", \"secret\": \"s\", \"maxConection\": 3}]}",
             "key 'appManager.array.apps': apps[1]: unknown key 'maxConection'");
    json_err("{\"appManager.array.apps\": {\"id\": \"a\"}}",
             "key 'appManager.array.apps': expected a JSON array of apps");
    json_err("{\"appManager.array.apps\": [5]}",
             "key 'appManager.array.apps': apps[0]: expected an app object, got '5'");
    json_err("{\"appManager.array.apps.0.maxEventBatchSize\": 0}",
             "key 'appManager.array.apps.0.maxEventBatchSize': apps[0]: 'maxEventBatchSize': 0 "
             "is out of range (must be at least 1)");
    json_err("{\"appManager.array.apps.x\": {}}", "unknown key 'appManager.array.apps.x'");

    /* Whole-list checks come after all sources, with no file to name. */
    const char *p =
        temp_file("{\"appManager.array.apps\": [{\"id\": \"a\", \"key\": \"k\"}]}", ".json");
    load_err(NULL, p, NULL, "apps[0]: 'secret' is missing or empty");
    unlink(p);
    p = temp_file("{\"appManager.array.apps\": [{\"id\": \"\", \"key\": \"k\", \"secret\": "
                  "\"s\"}]}",
                  ".json");
    load_err(NULL, p, NULL, "apps[0]: 'id' is missing or empty");
    unlink(p);
    p = temp_file("[appManager.array.apps.2]\nid = x\nkey = y\nsecret = z\n", ".ini");
    load_err(p, NULL, NULL, "apps[1]: missing (apps are numbered 0, 1, 2... without gaps)");
    unlink(p);
}
END_TEST

START_TEST(test_error_duplicate_apps)
{
    const char *p = temp_file("[appManager.array.apps.1]\nid = other\nkey = app-key\n"
                              "secret = s\n",
                              ".ini");
    load_err(p, NULL, NULL, "apps[1]: duplicate key 'app-key' (also apps[0])");
    unlink(p);
    p = temp_file("{\"appManager.array.apps.1\": {\"id\": \"app-id\", \"key\": \"k\", "
                  "\"secret\": \"s\"}}",
                  ".json");
    load_err(NULL, p, NULL, "apps[1]: duplicate id 'app-id' (also apps[0])");
    unlink(p);
}
END_TEST

START_TEST(test_error_leaves_err_terminated)
{
    char err[16];
    char *env[] = {"SOKETI_APP_MANAGER_DRIVER=a-very-long-unknown-driver-name", NULL};
    skt_config_sources_t src = {.environ = env};
    skt_config_t *cfg;
    memset(err, 'x', sizeof(err));
    ck_assert_int_eq(skt_config_load(&src, &cfg, err, sizeof(err)), -1);
    ck_assert_uint_eq(strlen(err), sizeof(err) - 1);
}
END_TEST

/* wsMaxPayloadInKb follows the apps' largest limit unless it is set. */
START_TEST(test_ws_max_payload_derived)
{
    const char *json = temp_file("{\"appManager\":{\"array\":{\"apps\":["
                                 "{\"id\":\"a\",\"key\":\"ka\",\"secret\":\"s\"},"
                                 "{\"id\":\"b\",\"key\":\"kb\",\"secret\":\"s\","
                                 "\"maxEventPayloadInKb\":300.5}]}}}",
                                 ".json");
    skt_config_t *cfg = load_ok(NULL, json, NULL);
    ck_assert_int_eq(cfg->ws_max_payload_in_kb, 305);
    skt_config_free(cfg);
    char *member[] = {"SOKETI_PRESENCE_MAX_MEMBER_SIZE=500", NULL};
    cfg = load_ok(NULL, json, member);
    ck_assert_int_eq(cfg->ws_max_payload_in_kb, 504);
    skt_config_free(cfg);
    char *set[] = {"SOKETI_WS_MAX_PAYLOAD_IN_KB=50", NULL};
    cfg = load_ok(NULL, json, set);
    ck_assert_int_eq(cfg->ws_max_payload_in_kb, 50);
    skt_config_free(cfg);
    unlink(json);
}
END_TEST

/* ---- lookups ---- */

START_TEST(test_get_text)
{
    char *env[] = {"SOKETI_PORT=6002", "SOKETI_EVENT_MAX_SIZE_IN_KB=0.5",
                   "SOKETI_ADAPTER_NATS_USER=nats-user", NULL};
    skt_config_t *cfg = load_ok(NULL, NULL, env);
    ck_assert_str_eq(skt_config_get_text(cfg, "port"), "6002");
    ck_assert_str_eq(skt_config_get_text(cfg, "debug"), "false");
    ck_assert_str_eq(skt_config_get_text(cfg, "cluster.ignoreProcess"), "true");
    ck_assert_str_eq(skt_config_get_text(cfg, "eventLimits.maxPayloadInKb"), "0.5");
    ck_assert_str_eq(skt_config_get_text(cfg, "presence.maxMemberSizeInKb"), "2");
    ck_assert_str_eq(skt_config_get_text(cfg, "adapter.redis.prefix"), "");
    ck_assert_str_eq(skt_config_get_text(cfg, "adapter.nats.user"), "nats-user");
    ck_assert_str_eq(skt_config_get_text(cfg, "adapter.nats.pass"), "");
    ck_assert_str_eq(skt_config_get_text(cfg, "adapter.nats.nodesNumber"), "null");
    ck_assert_str_eq(skt_config_get_text(cfg, "adapter.nats.servers"), "[\"127.0.0.1:4222\"]");
    ck_assert_str_eq(skt_config_get_text(cfg, "adapter.redis.redisPubOptions"), "{}");
    ck_assert_str_eq(skt_config_get_text(cfg, "database.redis.sentinels"), "null");
    /* derived: the largest app limit (presence members, 2 KB) plus 4 */
    ck_assert_str_eq(skt_config_get_text(cfg, "wsMaxPayloadInKb"), "6");
    const char *apps = skt_config_get_text(cfg, "appManager.array.apps");
    ck_assert_ptr_nonnull(apps);
    json_t *j = json_loads(apps, 0, NULL);
    ck_assert(json_is_array(j));
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(j, 0), "key")), "app-key");
    json_decref(j);
    ck_assert_ptr_null(skt_config_get_text(cfg, "adapter.redis"));
    ck_assert_ptr_null(skt_config_get_text(cfg, "nope"));
    ck_assert_ptr_null(skt_config_get_text(cfg, ""));
    /* The same pointer each time: made once at load. */
    ck_assert_ptr_eq(skt_config_get_text(cfg, "port"), skt_config_get_text(cfg, "port"));
    skt_config_free(cfg);
}
END_TEST

START_TEST(test_apps_lookup)
{
    skt_config_t *cfg = load_ok(fixture("basic.ini"), NULL, NULL);
    /* Slices need no NUL: look up inside a longer buffer. */
    const char *buf = "key-1/path";
    skt_app_t *a = skt_apps_by_key(cfg->apps, buf, 5);
    ck_assert_ptr_nonnull(a);
    ck_assert_str_eq(a->id, "app-1");
    ck_assert_ptr_eq(skt_apps_by_id(cfg->apps, "app-1", 5), a);
    ck_assert_ptr_eq(skt_apps_by_id(cfg->apps, "123", 3), skt_apps_at(cfg->apps, 0));
    ck_assert_ptr_null(skt_apps_by_key(cfg->apps, buf, 4));
    ck_assert_ptr_null(skt_apps_by_id(cfg->apps, "key-1", 5));
    ck_assert_ptr_null(skt_apps_at(cfg->apps, 2));
    skt_config_free(cfg);
    skt_config_free(NULL);
}
END_TEST

/* ---- sample and help ---- */

static char *
sample_text(void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    skt_config_write_sample(f);
    fclose(f);
    return text;
}

START_TEST(test_sample_in_sync)
{
    char path[PATH_MAX];
    char *want = sample_text();
    snprintf(path, sizeof(path), "%s/conf/soketi.conf", srcdir());
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    size_t cap = strlen(want) + 2;
    char *have = calloc(1, cap + 1);
    size_t n = fread(have, 1, cap, f);
    fclose(f);
    ck_assert_msg(n == strlen(want) && memcmp(have, want, n) == 0,
                  "%s is out of date: regenerate it with `tests/check_config --write-sample "
                  "conf/soketi.conf`",
                  path);
    free(have);
    free(want);
}
END_TEST

/* The sample documents every option, and with every line uncommented loads as the defaults. */
START_TEST(test_sample_complete_and_loads)
{
    char *text = sample_text();
    for (size_t i = 0; i < skt_options_count; i++) {
        const skt_option_t *o = &skt_options[i];
        ck_assert_ptr_nonnull(strstr(text, o->doc));
        if (o->env)
            ck_assert_ptr_nonnull(strstr(text, o->env));
    }
    for (size_t i = 0; i < skt_options_app_env_count; i++)
        ck_assert_ptr_nonnull(strstr(text, skt_options_app_env[i].env));

    /* As written (all commented out) it loads. */
    const char *p = temp_file(text, ".ini");
    skt_config_t *cfg = load_ok(p, NULL, NULL);
    skt_config_free(cfg);
    unlink(p);

    /* Uncomment every ";key = value" line but the computed defaults. */
    char *u = malloc(strlen(text) + 1), *o = u;
    size_t set = 0;
    for (char *line = text; *line;) {
        char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) + 1 : strlen(line);
        if (line[0] == ';' && line[1] != ' ' && line[1] != '\n' &&
            strncmp(line, ";pluginDir", 10) != 0 && strncmp(line, ";process_id", 11) != 0 &&
            strncmp(line, ";wsMaxPayloadInKb", 17) != 0) {
            memcpy(o, line + 1, len - 1);
            o += len - 1;
            set++;
        } else {
            memcpy(o, line, len);
            o += len;
        }
        line += len;
    }
    *o = '\0';
    ck_assert_uint_ge(set, skt_options_count - 4 + 18);
    p = temp_file(u, ".ini");
    cfg = load_ok(p, NULL, NULL);
    skt_config_t *def = load_ok(NULL, NULL, NULL);
    for (size_t i = 0; i < skt_options_count; i++)
        ck_assert_str_eq(skt_config_get_text(cfg, skt_options[i].name),
                         skt_config_get_text(def, skt_options[i].name));
    skt_config_free(def);
    skt_config_free(cfg);
    unlink(p);
    free(u);
    free(text);
}
END_TEST

START_TEST(test_help_lists_everything)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    skt_config_write_help(f);
    fclose(f);
    for (size_t i = 0; i < skt_options_count; i++) {
        char needle[256];
        snprintf(needle, sizeof(needle), "  %s", skt_options[i].name);
        ck_assert_msg(strstr(text, needle) != NULL, "%s not in --help", skt_options[i].name);
        if (skt_options[i].env)
            ck_assert_ptr_nonnull(strstr(text, skt_options[i].env));
    }
    ck_assert_ptr_nonnull(strstr(text, "SOKETI_DEFAULT_APP_WEBHOOKS"));
    ck_assert_ptr_nonnull(strstr(text, SOKETI_PLUGIN_DIR));
    ck_assert_ptr_nonnull(strstr(text, "Default: 6001."));
    free(text);
}
END_TEST

static Suite *
config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("table");
    tcase_add_test(tc, test_table_names_and_envs_unique);
    tcase_add_test(tc, test_table_has_every_soketi_env);
    tcase_add_test(tc, test_defaults_equal_soketi);
    tcase_add_test(tc, test_defaults_typed);
    suite_add_tcase(s, tc);

    tc = tcase_create("sources");
    tcase_add_test(tc, test_ini_sections_and_apps);
    tcase_add_test(tc, test_ini_long_lines);
    tcase_add_test(tc, test_ini_globals_restored);
    tcase_add_test(tc, test_json_dotted);
    tcase_add_test(tc, test_json_nested);
    tcase_add_test(tc, test_json_null_for_nullable);
    tcase_add_test(tc, test_env_json_valued);
    tcase_add_test(tc, test_env_unknown_only_warns);
    tcase_add_test(tc, test_priority_env_json_ini_defaults);
    tcase_add_test(tc, test_text_sources);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_test(tc, test_error_ini_unknown_key_with_line);
    tcase_add_test(tc, test_error_ini_bad_values);
    tcase_add_test(tc, test_error_env_bad_values);
    tcase_add_test(tc, test_error_out_of_range);
    tcase_add_test(tc, test_error_unknown_driver);
    tcase_add_test(tc, test_error_json_file);
    tcase_add_test(tc, test_error_missing_files);
    tcase_add_test(tc, test_text_source_errors);
    tcase_add_test(tc, test_error_bad_apps);
    tcase_add_test(tc, test_error_duplicate_apps);
    tcase_add_test(tc, test_error_leaves_err_terminated);
    suite_add_tcase(s, tc);

    tc = tcase_create("lookups");
    tcase_add_test(tc, test_get_text);
    tcase_add_test(tc, test_ws_max_payload_derived);
    tcase_add_test(tc, test_apps_lookup);
    tcase_add_test(tc, test_sample_in_sync);
    tcase_add_test(tc, test_sample_complete_and_loads);
    tcase_add_test(tc, test_help_lists_everything);
    suite_add_tcase(s, tc);
    return s;
}

/* `check_config --write-sample FILE` writes the sample instead of testing: it is how
 * conf/soketi.conf is regenerated after the option table changes. */
int
main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write-sample") == 0) {
        FILE *f = fopen(argv[2], "w");
        if (!f)
            return 1;
        skt_config_write_sample(f);
        return fclose(f) == 0 ? 0 : 1;
    }
    return skt_check_run(config_suite());
}
