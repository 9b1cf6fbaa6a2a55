/* check_sql_live.c - the SQL app manager plugins end to end, without the daemon: each built
 * plugin (app_manager_mysql.so, app_manager_postgres.so) is dlopen'ed with a host table of
 * this test's own (an event loop, options from a small table, a log) against real servers
 * the test starts (check_sql_servers.c: mariadbd and postgres on free loopback ports, loaded
 * with soketi's schema fixtures).
 *
 * Every test runs once per driver: finding by id and by key, typed as app_manager.h says;
 * an unknown app and an injection attempt found as nothing; a table name holding quotes;
 * a missing table an error with the database's message (logged once a second at most); many
 * lookups at once through a small pool, in order through one connection; min connections at
 * start, never more than max, min kept (a closed connection, a restarted server); a host name
 * resolved on the loop; a stopped server answered SOKETI_ERROR within appManager.timeout while the
 * loop keeps running; a killed server answered at once, then found again once back; a restarted
 * server costing no lookup; cleanup with a lookup pending calling nothing.
 *
 * A missing server fails the tests unless SOKETI_TEST_ALLOW_NO_SQL=1.
 */
#include "check_main.h"
#include <check.h>
#include <dlfcn.h>
#include <event2/event.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <soketi/app_manager.h>

#include "check_sql_servers.h"
#include "fake_config.h"

#ifndef CHECK_SQL_PLUGIN_DIR
#define CHECK_SQL_PLUGIN_DIR "plugins/.libs"
#endif

/* What the templates hold besides soketi's fixture: a second app with webhooks, a table
 * whose name holds both quote characters, a table of every column type the plugins type,
 * and a view of the apps that answers in 20 ms at least (slow_apps: no lookup through it
 * is answered within find, so every one waits for a connection). */
static const char *const setup_sql[2] = {
    "INSERT INTO apps (id, `key`, secret, max_connections, enabled, enable_client_messages,"
    " max_backend_events_per_sec, max_client_events_per_sec, max_read_req_per_sec, webhooks,"
    " enable_user_authentication) VALUES ('app-2', 'key-2', 'secret-2', 10, 1, 0, 5, 5, 5,"
    " '[{\"url\":\"http://127.0.0.1/hook\",\"event_types\":[\"channel_occupied\"]}]', 1);\n"
    "CREATE TABLE `we``ird\"apps` LIKE apps;\n"
    "INSERT INTO `we``ird\"apps` SELECT * FROM apps WHERE id = 'app-id';\n"
    "UPDATE `we``ird\"apps` SET id = 'q-id', `key` = 'q-key';\n"
    "CREATE TABLE typed (id varchar(64) PRIMARY KEY, `key` varchar(64), d decimal(10,2),"
    " f double, big bigint, j json, t text, nothing int NULL, y year);\n"
    "INSERT INTO typed VALUES ('t-id', 't-key', 12.50, 1.5, 9007199254740993,"
    " '{\"a\":[1,true]}', REPEAT('x', 1000), NULL, 2024);\n"
    "CREATE VIEW slow_apps AS SELECT * FROM apps WHERE SLEEP(0.02) = 0;\n",
    "INSERT INTO apps (id, \"key\", secret, max_connections, enabled, enable_client_messages,"
    " max_backend_events_per_sec, max_client_events_per_sec, max_read_req_per_sec, webhooks,"
    " enable_user_authentication) VALUES ('app-2', 'key-2', 'secret-2', 10, 1, 0, 5, 5, 5,"
    " '[{\"url\":\"http://127.0.0.1/hook\",\"event_types\":[\"channel_occupied\"]}]', 1);\n"
    "CREATE TABLE \"we`ird\"\"apps\" (LIKE apps);\n"
    "INSERT INTO \"we`ird\"\"apps\" SELECT * FROM apps WHERE id = 'app-id';\n"
    "UPDATE \"we`ird\"\"apps\" SET id = 'q-id', \"key\" = 'q-key';\n"
    "CREATE SCHEMA other; CREATE TABLE other.apps (LIKE apps);\n"
    "INSERT INTO other.apps SELECT * FROM apps WHERE id = 'app-2';\n"
    "CREATE TABLE typed (id varchar(64) PRIMARY KEY, \"key\" varchar(64), d numeric(10,2),"
    " f float8, big int8, j jsonb, t text, nothing int, b bool, small int2, r float4,"
    " js json, nan float8);\n"
    "INSERT INTO typed VALUES ('t-id', 't-key', 12.50, 1.5, 9007199254740993,"
    " '{\"a\":[1,true]}', repeat('x', 1000), NULL, true, -3, 0.25, '[1, 2]', 'NaN');\n"
    "CREATE VIEW slow_apps AS SELECT * FROM apps"
    " WHERE (SELECT count(*) FROM pg_sleep(0.02)) = 1;\n",
};

static const char *const plugin_files[2] = {"app_manager_mysql.so", "app_manager_postgres.so"};
static const char *const driver_names[2] = {"mysql", "postgres"};

/* The servers every test shares (started by main, before Check forks the tests). */
static sql_server_t shared[2];
static int usable[2]; /* built, installed and started */

/* ---- the host -------------------------------------------------------------------------- */

/* Sets <group>.<drv>.<name>. */
static void
cfg_setd(const char *group, const char *drv, const char *name, const char *value)
{
    char full[64];
    snprintf(full, sizeof(full), "%s.%s.%s", group, drv, name);
    fake_config_set(full, value);
}

static struct event_base *base;
static soketi_app_manager_host_t host;
static soketi_app_manager_t am;
static void *dl;
static soketi_app_manager_cleanup_fn am_cleanup;

/* The options for a server of kind on port, soketi's defaults otherwise. */
static void
cfg_defaults(int kind, int port)
{
    const char *d = driver_names[kind];
    char p[16];
    snprintf(p, sizeof(p), "%d", port);
    fake_config_reset();
    cfg_setd("database", d, "host", "127.0.0.1");
    cfg_setd("database", d, "port", p);
    cfg_setd("database", d, "user", kind == SQL_MARIADB ? "root" : "postgres");
    cfg_setd("database", d, "password", "password");
    cfg_setd("database", d, "database", "main");
    cfg_setd("appManager", d, "table", "apps");
    fake_config_set("appManager.timeout", "1000");
    fake_config_set("databasePooling.enabled", "false");
    fake_config_set("databasePooling.min", "0");
    fake_config_set("databasePooling.max", "7");
}

/* Loads kind's plugin on a fresh loop with the options set so far; init's answer. */
static int
plugin_load(int kind)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", CHECK_SQL_PLUGIN_DIR, plugin_files[kind]);
    dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    ck_assert_msg(dl != NULL, "dlopen %s: %s", path, dlerror());
    soketi_app_manager_version_fn version =
        (soketi_app_manager_version_fn)dlsym(dl, "soketi_app_manager_version");
    soketi_app_manager_init_fn init =
        (soketi_app_manager_init_fn)dlsym(dl, "soketi_app_manager_init");
    am_cleanup = (soketi_app_manager_cleanup_fn)dlsym(dl, "soketi_app_manager_cleanup");
    ck_assert(version && init && am_cleanup);
    int offered[] = {SOKETI_APP_MANAGER_ABI_VERSION};
    ck_assert_int_eq(version(1, offered), SOKETI_APP_MANAGER_ABI_VERSION);
    int none[] = {SOKETI_APP_MANAGER_ABI_VERSION + 1};
    ck_assert_int_eq(version(1, none), -1);
    base = event_base_new();
    host = (soketi_app_manager_host_t){.size = sizeof(host),
                                       .abi_version = SOKETI_APP_MANAGER_ABI_VERSION,
                                       .base = base,
                                       .node_id = "test-node",
                                       .config_get = fake_config_get,
                                       .log = fake_log};
    memset(&am, 0, sizeof(am));
    am.size = sizeof(am);
    fake_log_reset();
    return init(&host, &am);
}

static void
plugin_start(int kind)
{
    ck_assert_int_eq(plugin_load(kind), 0);
    ck_assert_ptr_nonnull(am.ops.find);
    ck_assert_uint_ge(am.ops_size, sizeof(am.ops.find));
}

static void
plugin_stop(void)
{
    if (am_cleanup)
        am_cleanup(&am);
    am_cleanup = NULL;
    if (base)
        event_base_free(base);
    base = NULL;
}

/* ---- lookups ------------------------------------------------------------------------------ */

static double
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static int answers_seen; /* answers so far: each answer's place */

typedef struct answer_s {
    int calls, status, has_row;
    int seq; /* its place among the answers (1, 2, ...) */
    char row[4096];
    double at; /* when it came (now_ms) */
} answer_t;

static void
on_row(void *arg, int status, const char *row, size_t len)
{
    answer_t *a = arg;
    a->calls++;
    a->seq = ++answers_seen;
    a->status = status;
    a->has_row = row != NULL;
    a->at = now_ms();
    ck_assert_uint_lt(len, sizeof(a->row));
    if (row)
        memcpy(a->row, row, len);
    a->row[row ? len : 0] = '\0';
}

static void
on_stop_loop(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    *(int *)arg = 1;
}

/* Runs the loop for ms, or until *n answers have come (n may be NULL: the whole time). */
static void
pump(int ms, const int *calls, int want)
{
    int expired = 0;
    struct event *t = evtimer_new(base, on_stop_loop, &expired);
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(t, &tv);
    while (!expired && !(calls && *calls >= want))
        event_base_loop(base, EVLOOP_ONCE);
    event_free(t);
}

/* Looks value up by by and waits (up to max_ms) for the answer. */
static void
find(int by, const char *value, answer_t *a, int max_ms)
{
    memset(a, 0, sizeof(*a));
    am.ops.find(am.self, by, value, strlen(value), on_row, a);
    pump(max_ms, &a->calls, 1);
    ck_assert_msg(a->calls == 1, "lookup of %s: %d answers", value, a->calls);
}

/* The answer's row, parsed (the caller decrefs). */
static json_t *
row_of(const answer_t *a)
{
    ck_assert_msg(a->status == SOKETI_OK && a->has_row, "no row (status %d); log:\n%s", a->status,
                  fake_logged());
    json_error_t err;
    json_t *row = json_loads(a->row, 0, &err);
    ck_assert_msg(json_is_object(row), "not a JSON object: %s", a->row);
    return row;
}

static void
assert_found(int by, const char *value, const char *id)
{
    answer_t a;
    find(by, value, &a, 5000);
    json_t *row = row_of(&a);
    ck_assert_str_eq(json_string_value(json_object_get(row, "id")), id);
    json_decref(row);
}

static void
assert_none(int by, const char *value)
{
    answer_t a;
    find(by, value, &a, 5000);
    ck_assert_msg(a.status == SOKETI_OK && !a.has_row, "%s: status %d row %s", value, a.status,
                  a.row);
}

/* Every test starts here: kind's plugin on the shared server (skipped when unusable). */
#define START(kind)                                                                                \
    do {                                                                                           \
        if (!usable[kind])                                                                         \
            return;                                                                                \
        cfg_defaults(kind, shared[kind].port);                                                     \
    } while (0)

/* ---- the tests ------------------------------------------------------------------------- */

START_TEST(test_find_by_id_and_key)
{
    START(_i);
    plugin_start(_i);
    answer_t a;
    find(SOKETI_APP_BY_ID, "app-id", &a, 5000);
    json_t *row = row_of(&a);
    ck_assert_str_eq(json_string_value(json_object_get(row, "key")), "app-key");
    ck_assert_str_eq(json_string_value(json_object_get(row, "secret")), "app-secret");
    ck_assert(json_is_integer(json_object_get(row, "max_connections")));
    ck_assert_int_eq(json_integer_value(json_object_get(row, "max_connections")), 200);
    ck_assert_int_eq(json_integer_value(json_object_get(row, "enabled")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(row, "max_backend_events_per_sec")), -1);
    ck_assert(json_is_null(json_object_get(row, "max_event_batch_size")));
    /* PostgreSQL's json column is JSON; MariaDB keeps JSON as text: a string the host parses. */
    json_t *hooks = json_object_get(row, "webhooks");
    ck_assert(_i == SQL_POSTGRES ? json_is_array(hooks) : json_is_string(hooks));
    json_decref(row);

    find(SOKETI_APP_BY_KEY, "key-2", &a, 5000);
    row = row_of(&a);
    ck_assert_str_eq(json_string_value(json_object_get(row, "id")), "app-2");
    hooks = json_object_get(row, "webhooks");
    if (_i == SQL_POSTGRES)
        ck_assert_str_eq(json_string_value(json_object_get(json_array_get(hooks, 0), "url")),
                         "http://127.0.0.1/hook");
    else
        ck_assert_ptr_nonnull(strstr(json_string_value(hooks), "channel_occupied"));
    json_decref(row);
    /* By id, a key is nothing; by key, an id is nothing. */
    assert_none(SOKETI_APP_BY_ID, "app-key");
    assert_none(SOKETI_APP_BY_KEY, "app-id");
    plugin_stop();
}
END_TEST

START_TEST(test_unknown_and_injection)
{
    START(_i);
    plugin_start(_i);
    assert_none(SOKETI_APP_BY_KEY, "no-such-key");
    assert_none(SOKETI_APP_BY_KEY, "x' OR '1'='1");
    assert_none(SOKETI_APP_BY_ID, "x\" OR \"1\"=\"1");
    assert_none(SOKETI_APP_BY_KEY, "app-key' -- ");
    assert_none(SOKETI_APP_BY_KEY, "");
    answer_t a = {0};
    am.ops.find(am.self, SOKETI_APP_BY_KEY, "app-key\0x", 9, on_row, &a);
    pump(5000, &a.calls, 1);
    ck_assert(a.calls == 1 && a.status == SOKETI_OK && !a.has_row);
    assert_found(SOKETI_APP_BY_KEY, "app-key", "app-id");
    plugin_stop();
}
END_TEST

START_TEST(test_quoted_table)
{
    START(_i);
    cfg_setd("appManager", driver_names[_i], "table", "we`ird\"apps");
    plugin_start(_i);
    assert_found(SOKETI_APP_BY_KEY, "q-key", "q-id");
    assert_none(SOKETI_APP_BY_KEY, "app-key");
    plugin_stop();
    if (_i == SQL_POSTGRES) { /* schema.table: each part quoted */
        cfg_setd("appManager", driver_names[_i], "table", "other.apps");
        plugin_start(_i);
        assert_found(SOKETI_APP_BY_KEY, "key-2", "app-2");
        assert_none(SOKETI_APP_BY_KEY, "app-key");
        plugin_stop();
    } else { /* database.table */
        cfg_setd("appManager", driver_names[_i], "table", "main.apps");
        plugin_start(_i);
        assert_found(SOKETI_APP_BY_KEY, "key-2", "app-2");
        plugin_stop();
    }
}
END_TEST

START_TEST(test_types)
{
    START(_i);
    cfg_setd("appManager", driver_names[_i], "table", "typed");
    plugin_start(_i);
    answer_t a;
    find(SOKETI_APP_BY_KEY, "t-key", &a, 5000);
    json_t *row = row_of(&a);
    ck_assert(json_is_real(json_object_get(row, "d")));
    ck_assert_double_eq(json_real_value(json_object_get(row, "d")), 12.5);
    ck_assert_double_eq(json_number_value(json_object_get(row, "f")), 1.5);
    ck_assert(json_is_integer(json_object_get(row, "big")));
    ck_assert_int_eq(json_integer_value(json_object_get(row, "big")), 9007199254740993LL);
    ck_assert(json_is_null(json_object_get(row, "nothing")));
    /* Longer than the bound buffer of MySQL's fetch: fetched again whole. */
    ck_assert_uint_eq(strlen(json_string_value(json_object_get(row, "t"))), 1000);
    json_t *j = json_object_get(row, "j");
    if (_i == SQL_POSTGRES) {
        ck_assert(json_is_true(json_array_get(json_object_get(j, "a"), 1)));
        ck_assert(json_is_true(json_object_get(row, "b")));
        ck_assert_int_eq(json_integer_value(json_object_get(row, "small")), -3);
        ck_assert_double_eq(json_number_value(json_object_get(row, "r")), 0.25);
        ck_assert_int_eq(json_array_size(json_object_get(row, "js")), 2);
        ck_assert_str_eq(json_string_value(json_object_get(row, "nan")), "NaN");
    } else {
        ck_assert_str_eq(json_string_value(j), "{\"a\":[1,true]}");
        ck_assert_int_eq(json_integer_value(json_object_get(row, "y")), 2024);
    }
    json_decref(row);
    plugin_stop();
}
END_TEST

START_TEST(test_bad_table)
{
    START(_i);
    cfg_setd("appManager", driver_names[_i], "table", "no_such_table");
    plugin_start(_i);
    answer_t a;
    find(SOKETI_APP_BY_KEY, "app-key", &a, 5000);
    ck_assert_int_eq(a.status, SOKETI_ERROR);
    ck_assert_msg(strstr(fake_logged(), "no_such_table") != NULL, "log: %s", fake_logged());
    /* Logged once a second at most: a second failure right away adds no line. */
    size_t before = fake_logged_len();
    find(SOKETI_APP_BY_KEY, "app-key", &a, 5000);
    ck_assert_int_eq(a.status, SOKETI_ERROR);
    ck_assert_uint_eq(fake_logged_len(), before);
    plugin_stop();
}
END_TEST

/* How many connections the plugins hold to server s (the query's own not counted). */
static long
connections(const sql_server_t *s)
{
    return s->kind == SQL_MARIADB
               ? sql_server_query_long(s, "SELECT COUNT(*) - 1 FROM information_schema.PROCESSLIST"
                                          " WHERE DB = 'main'")
               : sql_server_query_long(s, "SELECT count(*) FROM pg_stat_activity"
                                          " WHERE application_name = 'soketi'");
}

/* Polls connections(s) (up to ms) until it is want; its last count. */
static long
connections_await(const sql_server_t *s, long want, int ms)
{
    long n = connections(s);
    for (double t0 = now_ms(); n != want && now_ms() - t0 < ms;) {
        pump(50, NULL, 0);
        n = connections(s);
    }
    return n;
}

/* A server of the test's own, the options for it with pooling enabled: min 3, max 5. */
static void
start_own_pooled(int kind, sql_server_t *own)
{
    ck_assert_int_eq(sql_server_start(kind, own), 0);
    cfg_defaults(kind, own->port);
    fake_config_set("databasePooling.enabled", "true");
    fake_config_set("databasePooling.min", "3");
    fake_config_set("databasePooling.max", "5");
}

START_TEST(test_pool_sizes)
{
    START(_i);
    sql_server_t own;
    /* Pooling enabled: min opened at start; never more than max. Lookups through the slow
     * view: each waits for the server (a fast one may be answered within find, on a MariaDB
     * connection whose answer is already in the socket when Connector/C first reads, and
     * then none queues). */
    start_own_pooled(_i, &own);
    cfg_setd("appManager", driver_names[_i], "table", "slow_apps");
    plugin_start(_i);
    pump(500, NULL, 0);
    ck_assert_int_eq(connections(&own), 3);
    enum { N = 40 };
    static answer_t a[N];
    memset(a, 0, sizeof(a));
    int done = 0;
    for (int i = 0; i < N; i++)
        am.ops.find(am.self, SOKETI_APP_BY_KEY, "app-key", 7, on_row, &a[i]);
    for (int t = 0; t < 100 && done < N; t++) {
        pump(50, NULL, 0);
        done = 0;
        for (int i = 0; i < N; i++)
            done += a[i].calls == 1 && a[i].status == SOKETI_OK && a[i].has_row;
    }
    ck_assert_int_eq(done, N);
    /* The pool opened the two more that the queue asked for, and no more. */
    long open = connections_await(&own, 5, 3000);
    ck_assert_msg(open == 5, "%ld connections open, not 5; the plugin logged: %.2000s", open,
                  fake_logged());
    pump(300, NULL, 0);
    ck_assert_int_eq(connections(&own), 5);
    plugin_stop();
    /* Disabled: none at start, up to knex's 10 as needed. */
    fake_config_set("databasePooling.enabled", "false");
    plugin_start(_i);
    pump(300, NULL, 0);
    ck_assert_int_eq(connections(&own), 0);
    memset(a, 0, sizeof(a));
    for (int i = 0; i < N; i++)
        am.ops.find(am.self, SOKETI_APP_BY_KEY, "app-key", 7, on_row, &a[i]);
    for (int t = 0; t < 100 && done < 2 * N; t++) {
        pump(50, NULL, 0);
        done = N;
        for (int i = 0; i < N; i++)
            done += a[i].calls == 1 && a[i].status == SOKETI_OK;
    }
    ck_assert_int_eq(done, 2 * N);
    long n = connections_await(&own, 10, 3000);
    ck_assert_msg(n == 10, "%ld connections, not 10; the plugin logged: %.2000s", n, fake_logged());
    plugin_stop();
    sql_server_remove(&own);
}
END_TEST

/* Closes one of the plugin's connections from the server's side; 0 when it did. */
static int
terminate_one(const sql_server_t *s)
{
    if (s->kind == SQL_POSTGRES)
        return sql_server_query_long(s, "SELECT count(pg_terminate_backend(pid)) FROM"
                                        " (SELECT pid FROM pg_stat_activity WHERE"
                                        " application_name = 'soketi' LIMIT 1) x") == 1
                   ? 0
                   : -1;
    long id = sql_server_query_long(s, "SELECT ID FROM information_schema.PROCESSLIST WHERE"
                                       " DB = 'main' AND ID <> CONNECTION_ID() LIMIT 1");
    char sql[64];
    snprintf(sql, sizeof(sql), "KILL %ld", id);
    return id > 0 ? sql_server_exec(s, sql) : -1;
}

/* The largest N of the log's "(and N more errors)": how many connects failed between two
 * lines logged (a second apart at least). */
static long
most_errors_between_lines(void)
{
    long most = 0;
    for (const char *p = fake_logged(); (p = strstr(p, "(and ")); p++) {
        long n = strtol(p + 5, NULL, 10);
        most = n > most ? n : most;
    }
    return most;
}

/* databasePooling.min is kept, without a lookup: a connection the server closes is opened
 * again, and so are all of them once a restarted server is back. */
START_TEST(test_pool_keeps_min)
{
    START(_i);
    sql_server_t own;
    start_own_pooled(_i, &own);
    plugin_start(_i);
    ck_assert_int_eq(connections_await(&own, 3, 3000), 3);
    pump(1000, NULL, 0); /* a second after the first round: the next one starts at once */
    ck_assert_int_eq(terminate_one(&own), 0);
    double t0 = now_ms();
    pump(200, NULL, 0);
    long n = connections_await(&own, 3, 3000);
    ck_assert_msg(n == 3, "%ld connections after one was closed; the plugin logged: %.2000s", n,
                  fake_logged());
    fprintf(stderr, "%s: a connection the server closed: %d open again within %.0f ms\n",
            driver_names[_i], 3, now_ms() - t0);
    /* Killed: every connection closes; while it is down, a round of 3 connects a second
     * (never a busy loop); once it is back, 3 again. */
    sql_server_kill(&own);
    pump(2500, NULL, 0);
    ck_assert_msg(strstr(fake_logged(), "cannot connect") != NULL, "no connect tried: %s",
                  fake_logged());
    ck_assert_int_eq(sql_server_restart(&own), 0);
    t0 = now_ms();
    n = connections_await(&own, 3, 5000);
    ck_assert_msg(n == 3, "%ld connections after a restart; the plugin logged: %.2000s", n,
                  fake_logged());
    fprintf(stderr, "%s: a restarted server: %d connections open again within %.0f ms\n",
            driver_names[_i], 3, now_ms() - t0);
    ck_assert_msg(most_errors_between_lines() <= 3 * 3, "too many connects while down: %s",
                  fake_logged());
    pump(300, NULL, 0);
    ck_assert_int_eq(connections(&own), 3);
    plugin_stop();
    sql_server_remove(&own);
}
END_TEST

/* One connection: lookups wait for it in the order they came. */
START_TEST(test_pool_fifo)
{
    START(_i);
    fake_config_set("databasePooling.enabled", "true");
    fake_config_set("databasePooling.max", "1");
    plugin_start(_i);
    enum { N = 12 };
    answer_t a[N];
    memset(a, 0, sizeof(a));
    for (int i = 0; i < N; i++)
        am.ops.find(am.self, SOKETI_APP_BY_KEY, i % 3 ? "app-key" : "key-2", i % 3 ? 7 : 5, on_row,
                    &a[i]);
    pump(5000, &a[N - 1].calls, 1);
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(a[i].calls, 1);
        ck_assert_int_eq(a[i].status, SOKETI_OK);
        ck_assert_int_eq(a[i].seq, a[0].seq + i);
    }
    plugin_stop();
}
END_TEST

START_TEST(test_pool_concurrent)
{
    START(_i);
    fake_config_set("databasePooling.enabled", "true");
    fake_config_set("databasePooling.min", "1");
    fake_config_set("databasePooling.max", "4");
    plugin_start(_i);
    pump(300, NULL, 0); /* the one opened at start */
    enum { N = 64 };
    static answer_t a[N];
    int done = 0;
    memset(a, 0, sizeof(a));
    double t0 = now_ms();
    for (int i = 0; i < N; i++)
        am.ops.find(am.self, i % 2 ? SOKETI_APP_BY_KEY : SOKETI_APP_BY_ID,
                    i % 2 ? "key-2" : "app-id", i % 2 ? 5 : 6, on_row, &a[i]);
    while (done < N && now_ms() - t0 < 5000) {
        pump(50, NULL, 0);
        done = 0;
        for (int i = 0; i < N; i++)
            done += a[i].calls;
    }
    ck_assert_int_eq(done, N);
    double last = 0;
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(a[i].calls, 1);
        json_t *row = row_of(&a[i]);
        ck_assert_str_eq(json_string_value(json_object_get(row, "id")), i % 2 ? "app-2" : "app-id");
        json_decref(row);
        last = a[i].at > last ? a[i].at : last;
    }
    fprintf(stderr, "%s: %d lookups at once through 4 connections: all answered in %.1f ms\n",
            driver_names[_i], N, last - t0);
    plugin_stop();
}
END_TEST

/* A host name is resolved on the loop (evdns, /etc/hosts) before connecting. */
START_TEST(test_host_name)
{
    START(_i);
    cfg_setd("database", driver_names[_i], "host", "localhost");
    plugin_start(_i);
    assert_found(SOKETI_APP_BY_KEY, "app-key", "app-id");
    plugin_stop();
    cfg_setd("database", driver_names[_i], "host", "no-such-host.invalid");
    plugin_start(_i);
    answer_t a;
    find(SOKETI_APP_BY_KEY, "app-key", &a, 3000);
    ck_assert_int_eq(a.status, SOKETI_ERROR);
    ck_assert_msg(strstr(fake_logged(), "cannot resolve no-such-host.invalid") != NULL, "log: %s",
                  fake_logged());
    plugin_stop();
}
END_TEST

START_TEST(test_latency)
{
    START(_i);
    plugin_start(_i);
    assert_found(SOKETI_APP_BY_KEY, "app-key", "app-id"); /* connected */
    enum { N = 200 };
    double t0 = now_ms();
    for (int i = 0; i < N; i++)
        assert_found(SOKETI_APP_BY_KEY, i % 2 ? "app-key" : "key-2", i % 2 ? "app-id" : "app-2");
    fprintf(stderr, "%s: one lookup on a pooled connection: %.3f ms on average (%d)\n",
            driver_names[_i], (now_ms() - t0) / N, N);
    plugin_stop();
}
END_TEST

/* A server of the test's own (it may stop or kill it), the plugin on it with
 * appManager.timeout ms, connected by a first lookup. */
static void
start_own(int kind, sql_server_t *own, const char *timeout)
{
    ck_assert_int_eq(sql_server_start(kind, own), 0);
    cfg_defaults(kind, own->port);
    fake_config_set("appManager.timeout", timeout);
    plugin_start(kind);
    assert_found(SOKETI_APP_BY_KEY, "app-key", "app-id");
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    ++*(int *)arg;
}

/* Looks app-key up on a stopped server: SOKETI_ERROR after the timeout (500 ms), the loop
 * ticking all along. Answers how long it took. */
static double
find_stalled(void)
{
    int ticks = 0;
    struct event *tick = event_new(base, -1, EV_PERSIST, on_tick, &ticks);
    struct timeval ten = {0, 10000};
    event_add(tick, &ten);
    answer_t a;
    double t0 = now_ms();
    find(SOKETI_APP_BY_KEY, "app-key", &a, 3000);
    double took = a.at - t0;
    event_free(tick);
    ck_assert_int_eq(a.status, SOKETI_ERROR);
    ck_assert_msg(took >= 450 && took < 1000, "answered after %.0f ms", took);
    ck_assert_msg(ticks >= (int)(took / 10) / 2, "%d ticks in %.0f ms: the loop was blocked", ticks,
                  took);
    return took;
}

START_TEST(test_stopped_server)
{
    START(_i);
    sql_server_t own;
    start_own(_i, &own, "500");
    sql_server_signal(&own, SIGSTOP);
    double on_query = find_stalled(); /* the query on the pooled connection hangs */
    ck_assert_ptr_nonnull(strstr(fake_logged(), "timed out"));
    double on_connect = find_stalled(); /* a new connection hangs */
    fprintf(stderr,
            "%s: a stopped server: SOKETI_ERROR after %.0f ms (query), %.0f ms (connect) "
            "with appManager.timeout 500\n",
            driver_names[_i], on_query, on_connect);
    sql_server_signal(&own, SIGCONT);
    pump(1100, NULL, 0); /* the back-off after the failed connect */
    assert_found(SOKETI_APP_BY_KEY, "app-key", "app-id");
    plugin_stop();
    sql_server_remove(&own);
}
END_TEST

START_TEST(test_killed_server)
{
    START(_i);
    sql_server_t own;
    start_own(_i, &own, "1000");
    sql_server_kill(&own);
    answer_t a;
    double t0 = now_ms();
    find(SOKETI_APP_BY_KEY, "app-key", &a, 3000);
    ck_assert_int_eq(a.status, SOKETI_ERROR);
    double took = a.at - t0;
    ck_assert_msg(took < 300, "answered after %.0f ms", took);
    /* Within the back-off, at once. */
    t0 = now_ms();
    find(SOKETI_APP_BY_KEY, "app-key", &a, 3000);
    ck_assert_int_eq(a.status, SOKETI_ERROR);
    ck_assert_msg(a.at - t0 < 50, "answered after %.1f ms", a.at - t0);
    fprintf(stderr, "%s: a killed server: SOKETI_ERROR after %.1f ms\n", driver_names[_i], took);
    ck_assert_ptr_nonnull(strstr(fake_logged(), "cannot connect"));
    ck_assert_int_eq(sql_server_restart(&own), 0);
    pump(1100, NULL, 0);
    assert_found(SOKETI_APP_BY_KEY, "app-key", "app-id");
    plugin_stop();
    sql_server_remove(&own);
}
END_TEST

START_TEST(test_restart_costs_no_lookup)
{
    START(_i);
    sql_server_t own;
    start_own(_i, &own, "1000");
    /* The pooled connection dies while the loop does not run: the next lookup finds it
     * broken and goes again on a fresh connection. */
    sql_server_kill(&own);
    ck_assert_int_eq(sql_server_restart(&own), 0);
    assert_found(SOKETI_APP_BY_KEY, "app-key", "app-id");
    /* The same with the loop running: the idle connection is dropped when it closes. */
    sql_server_kill(&own);
    pump(100, NULL, 0);
    ck_assert_int_eq(sql_server_restart(&own), 0);
    assert_found(SOKETI_APP_BY_KEY, "app-key", "app-id");
    plugin_stop();
    sql_server_remove(&own);
}
END_TEST

START_TEST(test_cleanup_with_pending)
{
    START(_i);
    sql_server_t own;
    start_own(_i, &own, "1000");
    sql_server_signal(&own, SIGSTOP);
    answer_t a[3];
    memset(a, 0, sizeof(a));
    for (int i = 0; i < 3; i++) /* one running, two opening connections or queued */
        am.ops.find(am.self, SOKETI_APP_BY_KEY, "app-key", 7, on_row, &a[i]);
    pump(100, NULL, 0);
    plugin_stop();
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(a[i].calls, 0);
    sql_server_remove(&own);
}
END_TEST

START_TEST(test_init_refuses)
{
    START(_i);
    cfg_setd("appManager", driver_names[_i], "table", "");
    ck_assert_int_ne(plugin_load(_i), 0);
    ck_assert_ptr_nonnull(strstr(fake_logged(), "table name is empty"));
    am_cleanup = NULL; /* init refused: cleanup is not called */
    event_base_free(base);
    base = NULL;
}
END_TEST

static Suite *
sql_live_suite(void)
{
    Suite *s = suite_create("sql_live");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_find_by_id_and_key, 0, 2);
    tcase_add_loop_test(tc, test_unknown_and_injection, 0, 2);
    tcase_add_loop_test(tc, test_quoted_table, 0, 2);
    tcase_add_loop_test(tc, test_types, 0, 2);
    tcase_add_loop_test(tc, test_bad_table, 0, 2);
    tcase_add_loop_test(tc, test_pool_concurrent, 0, 2);
    tcase_add_loop_test(tc, test_pool_sizes, 0, 2);
    tcase_add_loop_test(tc, test_pool_keeps_min, 0, 2);
    tcase_add_loop_test(tc, test_pool_fifo, 0, 2);
    tcase_add_loop_test(tc, test_host_name, 0, 2);
    tcase_add_loop_test(tc, test_latency, 0, 2);
    tcase_add_loop_test(tc, test_stopped_server, 0, 2);
    tcase_add_loop_test(tc, test_killed_server, 0, 2);
    tcase_add_loop_test(tc, test_restart_costs_no_lookup, 0, 2);
    tcase_add_loop_test(tc, test_cleanup_with_pending, 0, 2);
    tcase_add_loop_test(tc, test_init_refuses, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}

/* Starts the shared servers of the drivers built; 0, or -1 when one cannot run and that is
 * not allowed. */
static int
servers_start(void)
{
    const char *built[2] = {CHECK_SQL_HAVE_MYSQL, CHECK_SQL_HAVE_POSTGRES};
    const char *allow = getenv("SOKETI_TEST_ALLOW_NO_SQL");
    for (int k = 0; k < 2; k++) {
        if (strcmp(built[k], "yes") != 0)
            continue;
        if (!sql_server_available(k)) {
            fprintf(stderr, "check_sql_live: no %s server installed\n",
                    k == SQL_MARIADB ? "MariaDB" : "PostgreSQL");
            if (allow && strcmp(allow, "1") == 0)
                continue;
            return -1;
        }
        if (sql_template_make(k, CHECK_SQL_FIXTURES, setup_sql[k]) != 0 ||
            sql_server_start(k, &shared[k]) != 0)
            return -1;
        usable[k] = 1;
    }
    return 0;
}

int
main(void)
{
    signal(SIGPIPE, SIG_IGN);
    int rc = servers_start() == 0 ? skt_check_run(sql_live_suite()) : EXIT_FAILURE;
    for (int k = 0; k < 2; k++)
        sql_server_remove(&shared[k]);
    sql_servers_cleanup();
    return rc;
}
