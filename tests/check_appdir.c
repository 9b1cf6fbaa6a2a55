/* check_appdir.c - unit tests for the app directory (features/appdir.h) over an in-process
 * app manager: the ABI's find op answered by the test (now, later or never), so that the
 * cache, coalescing, the timeout, the bound on lookups and the server's hooks are checked
 * without a database (tests/integration/app-manager-sql.test.mjs runs the real ones). */
#include "check_main.h"
#include <check.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "features/appdir.h"

/* ---- the test's store ---------------------------------------------------------------- */

typedef struct call_s {
    int by;
    char value[64];
    soketi_app_row_cb cb;
    void *arg;
} call_t;

typedef struct store_s {
    call_t calls[64];
    int ncalls, answered;
    const char *sync_row; /* answer every find at once with this row ("" no such app) */
} store_t;

static store_t store;

static void
store_find(void *self, int by, const char *value, size_t len, soketi_app_row_cb cb, void *arg)
{
    (void)self;
    if (store.sync_row) {
        cb(arg, SOKETI_OK, *store.sync_row ? store.sync_row : NULL, strlen(store.sync_row));
        return;
    }
    call_t *c = &store.calls[store.ncalls++];
    c->by = by;
    snprintf(c->value, sizeof(c->value), "%.*s", (int)len, value);
    c->cb = cb;
    c->arg = arg;
}

/* Answers the i-th find: row (NULL: no such app) or, error set, SOKETI_ERROR. */
static void
store_answer(int i, const char *row, int error)
{
    call_t *c = &store.calls[i];
    c->cb(c->arg, error ? SOKETI_ERROR : SOKETI_OK, row, row ? strlen(row) : 0);
    store.answered++;
}

static soketi_app_manager_t am = {.ops = {.find = store_find}};

/* ---- the test's server --------------------------------------------------------------- */

typedef struct answers_s {
    int n;
    skt_app_t *app[16];
    char secret[16][32]; /* copied at once: the app may be freed later */
} answers_t;

static void
found(void *arg, skt_app_t *app)
{
    answers_t *a = arg;
    if (app)
        snprintf(a->secret[a->n], sizeof(a->secret[0]), "%s", app->secret);
    a->app[a->n++] = app;
}

static int changes;
static char changed_id[32];
static skt_app_t *changed_to;
static int holding; /* in_use answer */

static void
on_changed(void *arg, const char *id, skt_app_t *app)
{
    (void)arg;
    changes++;
    snprintf(changed_id, sizeof(changed_id), "%s", id);
    changed_to = app;
}

static int
on_in_use(void *arg, const char *id)
{
    (void)arg, (void)id;
    return holding;
}

static struct event_base *base;
static skt_config_t *cfg;
static skt_appdir_t *dir;

static skt_config_t *
config(const char *const *env)
{
    char *vars[16] = {0};
    for (size_t n = 0; env && env[n]; n++)
        vars[n] = (char *)env[n];
    skt_config_sources_t src = {.environ = vars};
    skt_config_t *c = NULL;
    char err[256];
    ck_assert_msg(skt_config_load(&src, &c, err, sizeof(err)) == 0, "%s", err);
    return c;
}

static void
start(const char *const *env)
{
    memset(&store, 0, sizeof(store));
    changes = 0;
    changed_to = NULL;
    holding = 0;
    base = event_base_new();
    cfg = config(env);
    skt_appdir_hooks_t hooks = {NULL, on_changed, on_in_use};
    dir = skt_appdir_new(base, cfg, &am, &hooks);
    ck_assert_ptr_nonnull(dir);
}

static void
stop(void)
{
    skt_appdir_free(dir);
    skt_config_free(cfg);
    event_base_free(base);
}

static const char *const CACHED[] = {"SOKETI_APP_MANAGER_DRIVER=mysql",
                                     "SOKETI_APP_MANAGER_CACHE_ENABLED=true",
                                     "SOKETI_APP_MANAGER_CACHE_TTL=-1", NULL};
static const char *const UNCACHED[] = {"SOKETI_APP_MANAGER_DRIVER=mysql", NULL};

/* soketi's fixture row (tests/fixtures/mysql_schema.sql), as a plugin hands it over. */
#define ROW(secret)                                                                                \
    "{\"id\":\"app-id\",\"key\":\"app-key\",\"secret\":\"" secret "\",\"max_connections\":200,"    \
    "\"enabled\":1,\"enable_client_messages\":1,\"max_backend_events_per_sec\":-1,"                \
    "\"max_client_events_per_sec\":-1,\"max_read_req_per_sec\":-1,\"webhooks\":\"[]\","            \
    "\"max_presence_members_per_channel\":null,\"max_presence_member_size_in_kb\":null,"           \
    "\"max_channel_name_length\":null,\"max_event_channels_at_once\":null,"                        \
    "\"max_event_name_length\":null,\"max_event_payload_in_kb\":null,"                             \
    "\"max_event_batch_size\":null,\"enable_user_authentication\":0,\"created_at\":\"x\"}"

/* ---- tests --------------------------------------------------------------------------- */

START_TEST(array_answers_at_once)
{
    answers_t a = {0};
    base = event_base_new();
    cfg = config(NULL);
    dir = skt_appdir_new(base, cfg, NULL, NULL);
    skt_appdir_find(dir, SOKETI_APP_BY_KEY, "app-key", 7, found, &a);
    skt_appdir_find(dir, SOKETI_APP_BY_ID, "nope", 4, found, &a);
    ck_assert_int_eq(a.n, 2);
    ck_assert_str_eq(a.app[0]->id, "app-id");
    ck_assert_ptr_null(a.app[1]);
    ck_assert_ptr_eq(skt_appdir_get(dir, "app-id", 6), a.app[0]);
    stop();
}
END_TEST

/* A row is read once, answered to every lookup waiting on it, then served from the cache. */
START_TEST(row_read_coalesced_cached)
{
    answers_t a = {0};
    start(CACHED);
    skt_appdir_find(dir, SOKETI_APP_BY_KEY, "app-key", 7, found, &a);
    skt_appdir_find(dir, SOKETI_APP_BY_KEY, "app-key", 7, found, &a);
    ck_assert_int_eq(a.n, 0);
    ck_assert_int_eq(store.ncalls, 1); /* one query for both */
    ck_assert_int_eq(store.calls[0].by, SOKETI_APP_BY_KEY);
    ck_assert_str_eq(store.calls[0].value, "app-key");
    ck_assert_ptr_null(skt_appdir_get(dir, "app-id", 6));
    store_answer(0, ROW("app-secret"), 0);
    ck_assert_int_eq(a.n, 2);
    ck_assert_ptr_eq(a.app[0], a.app[1]);
    skt_app_t *app = a.app[0];
    ck_assert_str_eq(app->secret, "app-secret");
    ck_assert_int_eq(app->max_connections, 200);
    ck_assert_int_eq(app->enable_client_messages, 1);
    ck_assert_int_eq(app->enable_user_authentication, 0);
    ck_assert_int_eq(app->max_event_batch_size, 10);     /* null: eventLimits' default */
    ck_assert_int_eq(app->max_channel_name_length, 200); /* channelLimits' */
    /* cached, by key and by id: answered at once, nothing asked */
    skt_appdir_find(dir, SOKETI_APP_BY_ID, "app-id", 6, found, &a);
    skt_appdir_find(dir, SOKETI_APP_BY_KEY, "app-key", 7, found, &a);
    ck_assert_int_eq(a.n, 4);
    ck_assert_int_eq(store.ncalls, 1);
    ck_assert_ptr_eq(skt_appdir_get(dir, "app-id", 6), app);
    skt_appdir_stats_t st;
    skt_appdir_stats(dir, &st);
    ck_assert_uint_eq(st.lookups, 1);
    ck_assert_uint_eq(st.cached, 1);
    ck_assert_uint_eq(st.pending, 0);
    stop();
}
END_TEST

/* Without the cache, every lookup reads the row again; a changed row replaces the app and the
 * server is told, before the old settings go. */
START_TEST(uncached_reads_again_and_tells)
{
    answers_t a = {0};
    start(UNCACHED);
    store.sync_row = ROW("one");
    skt_appdir_find(dir, SOKETI_APP_BY_KEY, "app-key", 7, found, &a);
    ck_assert_int_eq(a.n, 1);
    ck_assert_str_eq(a.secret[0], "one");
    ck_assert_int_eq(changes, 0);
    store.sync_row = ROW("two");
    skt_appdir_find(dir, SOKETI_APP_BY_KEY, "app-key", 7, found, &a);
    ck_assert_int_eq(a.n, 2);
    ck_assert_str_eq(a.secret[1], "two");
    ck_assert_int_eq(changes, 1);
    ck_assert_str_eq(changed_id, "app-id");
    ck_assert_ptr_eq(changed_to, a.app[1]);
    ck_assert_ptr_eq(skt_appdir_get(dir, "app-id", 6), a.app[1]);
    /* the row is gone: the server is told with NULL, the app is no longer known */
    store.sync_row = "";
    skt_appdir_find(dir, SOKETI_APP_BY_ID, "app-id", 6, found, &a);
    ck_assert_int_eq(a.n, 3);
    ck_assert_ptr_null(a.app[2]);
    ck_assert_int_eq(changes, 2);
    ck_assert_ptr_null(changed_to);
    ck_assert_ptr_null(skt_appdir_get(dir, "app-id", 6));
    stop();
}
END_TEST

/* A row that is not an app is no app (and nothing is cached); an error is not "no app":
 * the app as last read keeps being served. */
START_TEST(bad_rows_and_errors)
{
    answers_t a = {0};
    start(UNCACHED);
    store.sync_row = "{\"id\":\"x\",\"key\":\"k\"}"; /* no secret */
    skt_appdir_find(dir, SOKETI_APP_BY_ID, "x", 1, found, &a);
    store.sync_row = "[1]";
    skt_appdir_find(dir, SOKETI_APP_BY_ID, "x", 1, found, &a);
    store.sync_row = "{\"id\":\"x\",\"key\":\"k\",\"secret\":\"s\",\"max_connections\":\"lots\"}";
    skt_appdir_find(dir, SOKETI_APP_BY_ID, "x", 1, found, &a);
    ck_assert_int_eq(a.n, 3);
    ck_assert_ptr_null(a.app[0]);
    ck_assert_ptr_null(a.app[1]);
    ck_assert_ptr_null(a.app[2]);
    ck_assert_ptr_null(skt_appdir_get(dir, "x", 1));
    /* known, then the store fails: the known app answers */
    store.sync_row = ROW("s1");
    skt_appdir_find(dir, SOKETI_APP_BY_ID, "app-id", 6, found, &a);
    store.sync_row = NULL;
    skt_appdir_find(dir, SOKETI_APP_BY_ID, "app-id", 6, found, &a);
    store_answer(0, NULL, 1);
    ck_assert_int_eq(a.n, 5);
    ck_assert_ptr_eq(a.app[4], a.app[3]);
    ck_assert_int_eq(changes, 0);
    /* an unknown app the store fails on: none */
    skt_appdir_find(dir, SOKETI_APP_BY_KEY, "other", 5, found, &a);
    store_answer(1, NULL, 1);
    ck_assert_int_eq(a.n, 6);
    ck_assert_ptr_null(a.app[5]);
    skt_appdir_stats_t st;
    skt_appdir_stats(dir, &st);
    ck_assert_uint_eq(st.failures, 2);
    stop();
}
END_TEST

static void
loop_for(int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
}

/* A store that does not answer: the waiters are answered at appManager.timeout (with the app
 * as last read, or none); its late answer still updates the entry. */
START_TEST(timeout_answers_waiters)
{
    static const char *const env[] = {"SOKETI_APP_MANAGER_DRIVER=postgres",
                                      "SOKETI_APP_MANAGER_TIMEOUT=100", NULL};
    answers_t a = {0};
    start(env);
    skt_appdir_find(dir, SOKETI_APP_BY_KEY, "app-key", 7, found, &a);
    loop_for(50);
    ck_assert_int_eq(a.n, 0);
    loop_for(100);
    ck_assert_int_eq(a.n, 1);
    ck_assert_ptr_null(a.app[0]);
    /* a new lookup is a new query, not a wait on the abandoned one */
    skt_appdir_find(dir, SOKETI_APP_BY_KEY, "app-key", 7, found, &a);
    ck_assert_int_eq(store.ncalls, 2);
    /* the late answer of the first: no waiter, but the app is known now */
    store_answer(0, ROW("late"), 0);
    ck_assert_int_eq(a.n, 1);
    ck_assert_str_eq(skt_appdir_get(dir, "app-id", 6)->secret, "late");
    /* the second times out too: the app as last read answers */
    loop_for(150);
    ck_assert_int_eq(a.n, 2);
    ck_assert_str_eq(a.secret[1], "late");
    store_answer(1, NULL, 1);
    stop();
}
END_TEST

/* At most appManager.maxPendingLookups distinct lookups in flight: the rest at once, none. */
START_TEST(pending_bounded)
{
    static const char *const env[] = {"SOKETI_APP_MANAGER_DRIVER=mysql",
                                      "SOKETI_APP_MANAGER_MAX_PENDING_LOOKUPS=2", NULL};
    answers_t a = {0};
    start(env);
    skt_appdir_find(dir, SOKETI_APP_BY_KEY, "a", 1, found, &a);
    skt_appdir_find(dir, SOKETI_APP_BY_KEY, "b", 1, found, &a);
    skt_appdir_find(dir, SOKETI_APP_BY_KEY, "a", 1, found, &a); /* waits on the first */
    ck_assert_int_eq(a.n, 0);
    skt_appdir_find(dir, SOKETI_APP_BY_KEY, "c", 1, found, &a);
    ck_assert_int_eq(a.n, 1);
    ck_assert_ptr_null(a.app[0]);
    ck_assert_int_eq(store.ncalls, 2);
    skt_appdir_stats_t st;
    skt_appdir_stats(dir, &st);
    ck_assert_uint_eq(st.refused, 1);
    ck_assert_uint_eq(st.pending, 2);
    store_answer(0, NULL, 0);
    ck_assert_int_eq(a.n, 3);
    skt_appdir_find(dir, SOKETI_APP_BY_KEY, "c", 1, found, &a); /* room again */
    ck_assert_int_eq(store.ncalls, 3);
    /* freeing answers those still waiting, with none */
    skt_appdir_free(dir);
    dir = NULL;
    ck_assert_int_eq(a.n, 5);
    ck_assert_ptr_null(a.app[3]);
    ck_assert_ptr_null(a.app[4]);
    skt_config_free(cfg);
    event_base_free(base);
}
END_TEST

/* A TTL: fresh entries answer at once; expired ones are read again (a changed row is seen
 * after the TTL). A reload makes every entry be read again. */
START_TEST(ttl_expires)
{
    static const char *const env[] = {"SOKETI_APP_MANAGER_DRIVER=mysql",
                                      "SOKETI_APP_MANAGER_CACHE_ENABLED=true",
                                      "SOKETI_APP_MANAGER_CACHE_TTL=1", NULL};
    answers_t a = {0};
    start(env);
    store.sync_row = ROW("old");
    skt_appdir_find(dir, SOKETI_APP_BY_KEY, "app-key", 7, found, &a);
    store.sync_row = ROW("new");
    skt_appdir_find(dir, SOKETI_APP_BY_KEY, "app-key", 7, found, &a);
    ck_assert_str_eq(a.secret[1], "old");
    loop_for(1100);
    skt_appdir_find(dir, SOKETI_APP_BY_KEY, "app-key", 7, found, &a);
    ck_assert_str_eq(a.secret[2], "new");
    store.sync_row = ROW("reloaded");
    skt_appdir_reload(dir, cfg);
    skt_appdir_find(dir, SOKETI_APP_BY_ID, "app-id", 6, found, &a);
    ck_assert_str_eq(a.secret[3], "reloaded");
    stop();
}
END_TEST

/* Cached for ever (ttl -1, soketi's default): only a reload makes an entry be read again. */
START_TEST(reload_rereads_cached_for_ever)
{
    static const char *const env[] = {"SOKETI_APP_MANAGER_DRIVER=mysql",
                                      "SOKETI_APP_MANAGER_CACHE_ENABLED=true",
                                      "SOKETI_APP_MANAGER_CACHE_TTL=-1", NULL};
    answers_t a = {0};
    start(env);
    store.sync_row = ROW("old");
    skt_appdir_find(dir, SOKETI_APP_BY_KEY, "app-key", 7, found, &a);
    store.sync_row = ROW("new");
    skt_appdir_find(dir, SOKETI_APP_BY_KEY, "app-key", 7, found, &a);
    ck_assert_str_eq(a.secret[1], "old");
    skt_appdir_reload(dir, cfg);
    skt_appdir_find(dir, SOKETI_APP_BY_KEY, "app-key", 7, found, &a);
    ck_assert_str_eq(a.secret[2], "new");
    store.sync_row = ROW("newer"); /* read again once, then cached for ever again */
    skt_appdir_find(dir, SOKETI_APP_BY_ID, "app-id", 6, found, &a);
    ck_assert_str_eq(a.secret[3], "new");
    stop();
}
END_TEST

static Suite *
appdir_suite(void)
{
    Suite *s = suite_create("appdir");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, array_answers_at_once);
    tcase_add_test(tc, row_read_coalesced_cached);
    tcase_add_test(tc, uncached_reads_again_and_tells);
    tcase_add_test(tc, bad_rows_and_errors);
    tcase_add_test(tc, timeout_answers_waiters);
    tcase_add_test(tc, pending_bounded);
    tcase_add_test(tc, ttl_expires);
    tcase_add_test(tc, reload_rereads_cached_for_ever);
    suite_add_tcase(s, tc);
    return s;
}

SKT_CHECK_MAIN(appdir_suite)
