/* check_plugin.c - unit tests for the plugin loader and the local adapter plugin.
 *
 * The real adapter_local.so is loaded from $SOKETI_PLUGIN_DIR_TEST with a fake host table
 * whose local_* functions return canned data and record how they were called; the test
 * plugins (tests/plugins/) come from $SOKETI_TEST_PLUGIN_DIR, each refused or accepted for
 * one reason. Host iterators hand out strings from a buffer they scribble over right after,
 * so an adapter that keeps the host's strings instead of copying them shows up as garbage.
 */
#include "check_main.h"
#include <check.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plugin/loader.h"

#ifndef CHECK_PLUGIN_TEST_DIR
#define CHECK_PLUGIN_TEST_DIR "tests/.libs"
#endif

#define LOG_LINES 64

/* What the fake host saw: its log, and the last host function called with its arguments. */
static struct {
    char log[LOG_LINES][512];
    int nlog;
    char call[64];
    char app[64], channel[64], socket[64], user[64];
    char msg[256];
    size_t msg_len;
    int except_null;
    int calls;
} rec;

static const char *
plugin_dir(void)
{
    const char *d = getenv("SOKETI_PLUGIN_DIR_TEST");
    return d && *d ? d : CHECK_PLUGIN_REAL_DIR;
}

static const char *
test_dir(void)
{
    const char *d = getenv("SOKETI_TEST_PLUGIN_DIR");
    return d && *d ? d : CHECK_PLUGIN_TEST_DIR;
}

static void
copy(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "(null)");
}

static void
record(const char *fn, const char *app, const char *channel, const char *socket, const char *user)
{
    copy(rec.call, sizeof(rec.call), fn);
    copy(rec.app, sizeof(rec.app), app);
    copy(rec.channel, sizeof(rec.channel), channel);
    copy(rec.socket, sizeof(rec.socket), socket);
    copy(rec.user, sizeof(rec.user), user);
    rec.calls++;
}

static int
log_has(const char *needle)
{
    for (int i = 0; i < rec.nlog && i < LOG_LINES; i++)
        if (strstr(rec.log[i], needle))
            return 1;
    return 0;
}

__attribute__((format(printf, 2, 3))) static void
fake_log(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rec.log[rec.nlog % LOG_LINES], sizeof(rec.log[0]), fmt, ap);
    va_end(ap);
    rec.nlog++;
}

static const char *
fake_config_get(const char *name)
{
    return strcmp(name, "echo.key") == 0                 ? "echo-value"
           : strcmp(name, "appManager.mysql.table") == 0 ? "apps"
                                                         : NULL;
}

static void
fake_deliver_local(const char *app_id, const char *channel, const char *msg, size_t msg_len,
                   const char *except_socket_id)
{
    record("deliver_local", app_id, channel, except_socket_id, NULL);
    rec.msg_len = msg_len;
    memcpy(rec.msg, msg, msg_len < sizeof(rec.msg) ? msg_len : sizeof(rec.msg) - 1);
    rec.except_null = except_socket_id == NULL;
}

static long
fake_sockets_count(const char *app_id)
{
    record("local_sockets_count", app_id, NULL, NULL, NULL);
    return 7;
}

static long
fake_channel_sockets_count(const char *app_id, const char *channel)
{
    record("local_channel_sockets_count", app_id, channel, NULL, NULL);
    return 3;
}

static long
fake_channel_members_count(const char *app_id, const char *channel)
{
    record("local_channel_members_count", app_id, channel, NULL, NULL);
    return 2;
}

/* Answers 5 (any non-zero) for socket 1.1, so the adapter must normalise it to 1. */
static int
fake_is_in_channel(const char *app_id, const char *channel, const char *socket_id)
{
    record("local_is_in_channel", app_id, channel, socket_id, NULL);
    return strcmp(socket_id, "1.1") == 0 ? 5 : 0;
}

#define MANY 1000

/* app1: three channels; many: MANY channels; anything else: none. */
static void
fake_channels(const char *app_id, soketi_each_channel_fn each, void *arg)
{
    static const char *const names[] = {"presence-room", "private-a", "c"};
    static const long counts[] = {2, 5, 1};
    char buf[64];
    record("local_channels", app_id, NULL, NULL, NULL);
    if (strcmp(app_id, "app1") == 0) {
        for (int i = 0; i < 3; i++) {
            snprintf(buf, sizeof(buf), "%s", names[i]);
            each(arg, buf, counts[i]);
            memset(buf, '#', strlen(buf));
        }
    } else if (strcmp(app_id, "many") == 0) {
        for (int i = 0; i < MANY; i++) {
            snprintf(buf, sizeof(buf), "channel-%d", i);
            each(arg, buf, i);
            memset(buf, '#', strlen(buf));
        }
    }
}

static void
fake_channel_members(const char *app_id, const char *channel, soketi_each_member_fn each, void *arg)
{
    char id[32], info[64];
    record("local_channel_members", app_id, channel, NULL, NULL);
    if (strcmp(app_id, "app1") != 0)
        return;
    snprintf(id, sizeof(id), "u1");
    snprintf(info, sizeof(info), "{\"name\":\"Ann\"}");
    each(arg, id, info);
    memset(id, '#', strlen(id));
    memset(info, '#', strlen(info));
    snprintf(id, sizeof(id), "u2");
    snprintf(info, sizeof(info), "null");
    each(arg, id, info);
    memset(id, '#', strlen(id));
    memset(info, '#', strlen(info));
}

/* Ids "1.1", "1.2", "2.9" for app1; MANY ids for many. */
static void
fake_ids(const char *app_id, soketi_each_id_fn each, void *arg, int n_app1)
{
    static const char *const ids[] = {"1.1", "1.2", "2.9"};
    char buf[32];
    int n = strcmp(app_id, "app1") == 0 ? n_app1 : strcmp(app_id, "many") == 0 ? MANY : 0;
    for (int i = 0; i < n; i++) {
        if (n == MANY)
            snprintf(buf, sizeof(buf), "%d.%d", i, i);
        else
            snprintf(buf, sizeof(buf), "%s", ids[i]);
        each(arg, buf);
        memset(buf, '#', strlen(buf));
    }
}

static void
fake_sockets(const char *app_id, soketi_each_id_fn each, void *arg)
{
    record("local_sockets", app_id, NULL, NULL, NULL);
    fake_ids(app_id, each, arg, 3);
}

static void
fake_channel_sockets(const char *app_id, const char *channel, soketi_each_id_fn each, void *arg)
{
    record("local_channel_sockets", app_id, channel, NULL, NULL);
    fake_ids(app_id, each, arg, 1);
}

static void
fake_terminate(const char *app_id, const char *user_id)
{
    record("local_terminate_user_connections", app_id, NULL, NULL, user_id);
}

/* The host table every test hands to the loader. abi_version is deliberately wrong: the
 * loader must give the plugin a copy carrying the negotiated version. */
static soketi_host_t host;

static void
setup_host(void)
{
    memset(&rec, 0, sizeof(rec));
    memset(&host, 0, sizeof(host));
    host.size = sizeof(host);
    host.abi_version = 77;
    host.node_id = "node-test";
    host.config_get = fake_config_get;
    host.log = fake_log;
    host.deliver_local = fake_deliver_local;
    host.local_sockets_count = fake_sockets_count;
    host.local_channel_sockets_count = fake_channel_sockets_count;
    host.local_channel_members_count = fake_channel_members_count;
    host.local_is_in_channel = fake_is_in_channel;
    host.local_channels = fake_channels;
    host.local_channel_members = fake_channel_members;
    host.local_sockets = fake_sockets;
    host.local_channel_sockets = fake_channel_sockets;
    host.local_terminate_user_connections = fake_terminate;
}

/* The local adapter under test, loaded by the fixture. */
static skt_plugin_t *local;
static soketi_adapter_t *ad;

static void
setup_local(void)
{
    char err[512];
    setup_host();
    int rc = skt_plugin_load(plugin_dir(), "local", &host, &local, err, sizeof(err));
    ck_assert_msg(rc == 0, "loading adapter_local.so: %s", err);
    ad = skt_plugin_adapter(local);
}

static void
teardown_local(void)
{
    skt_plugin_unload(local);
    local = NULL;
    ad = NULL;
}

/* What a query callback got: status, and its answer as text ("7" for a count; items joined
 * with '|' as "channel=count", "user:info" or "id"; the first 8 items only). */
typedef struct result_s {
    int calls;
    int status;
    long count;
    size_t n;
    char text[1024];
    int all_ok; /* for MANY-item answers: every item was the expected one */
} result_t;

__attribute__((format(printf, 2, 3))) static void
result_add(result_t *r, const char *fmt, ...)
{
    size_t len = strlen(r->text);
    va_list ap;
    if (len > 0 && len + 1 < sizeof(r->text))
        r->text[len++] = '|';
    va_start(ap, fmt);
    vsnprintf(r->text + len, sizeof(r->text) - len, fmt, ap);
    va_end(ap);
}

/* Starts a callback: counts the call and resets the answer. */
static void
result_begin(result_t *r, int status, size_t n)
{
    r->calls++;
    r->status = status;
    r->n = n;
    r->text[0] = '\0';
    r->all_ok = 1;
}

static void
count_cb(void *arg, int status, long count)
{
    result_t *r = arg;
    result_begin(r, status, 1);
    r->count = count;
    result_add(r, "%ld", count);
}

static void
channels_cb(void *arg, int status, const soketi_channel_count_t *channels, size_t n)
{
    result_t *r = arg;
    result_begin(r, status, n);
    for (size_t i = 0; i < n; i++) {
        char want[64];
        if (i < 8)
            result_add(r, "%s=%ld", channels[i].channel, channels[i].count);
        snprintf(want, sizeof(want), "channel-%zu", i);
        if (strcmp(channels[i].channel, want) != 0 || channels[i].count != (long)i)
            r->all_ok = 0;
    }
}

static void
members_cb(void *arg, int status, const soketi_member_t *members, size_t n)
{
    result_t *r = arg;
    result_begin(r, status, n);
    for (size_t i = 0; i < n && i < 8; i++)
        result_add(r, "%s:%s", members[i].user_id,
                   members[i].user_info ? members[i].user_info : "(null)");
}

static void
ids_cb(void *arg, int status, const char *const *ids, size_t n)
{
    result_t *r = arg;
    result_begin(r, status, n);
    for (size_t i = 0; i < n; i++) {
        char want[48];
        if (i < 8)
            result_add(r, "%s", ids[i]);
        snprintf(want, sizeof(want), "%zu.%zu", i, i);
        if (strcmp(ids[i], want) != 0)
            r->all_ok = 0;
    }
}

/* Asserts that a query answered exactly once, before returning, OK, with this text; and
 * that the last host function called was fn, for app and channel (NULL: not passed).
 * Resets r for the next query. */
static void
assert_answer(result_t *r, const char *text, const char *fn, const char *app, const char *channel)
{
    ck_assert_int_eq(r->calls, 1);
    ck_assert_int_eq(r->status, SOKETI_OK);
    ck_assert_str_eq(r->text, text);
    ck_assert_str_eq(rec.call, fn);
    ck_assert_str_eq(rec.app, app);
    ck_assert_str_eq(rec.channel, channel ? channel : "(null)");
    memset(r, 0, sizeof(*r));
}

START_TEST(test_local_loads)
{
    ck_assert_int_eq(skt_plugin_abi(local), SOKETI_ADAPTER_ABI_VERSION);
    ck_assert_ptr_nonnull(strstr(skt_plugin_path(local), "/adapter_local.so"));
    ck_assert_uint_eq(ad->size, sizeof(soketi_adapter_t));
    ck_assert_uint_eq(ad->ops_size, sizeof(soketi_adapter_ops_t));
    ck_assert_ptr_nonnull(ad->self);
    /* the caller's table is untouched: the plugin got a copy */
    ck_assert_int_eq(host.abi_version, 77);
}
END_TEST

/* The optional ops count only when set and inside the plugin's ops_size: a plugin built
 * before they existed (or the local adapter, which has none) leaves them out. */
START_TEST(test_optional_ops)
{
    ck_assert(!SKT_ADAPTER_HAS(ad, cluster_transition));
    ck_assert(!SKT_ADAPTER_HAS(ad, rate_consume));
    ck_assert(!SKT_ADAPTER_HAS(ad, cache_get));
    ck_assert(!SKT_ADAPTER_HAS(ad, cache_set));

    soketi_adapter_t fake;
    memset(&fake, 0, sizeof(fake));
    fake.ops.rate_consume =
        (void (*)(void *, const char *, long, long, soketi_consume_cb, void *))1;
    fake.ops_size = offsetof(soketi_adapter_ops_t, rate_consume);
    ck_assert(!SKT_ADAPTER_HAS(&fake, rate_consume)); /* set, but past its ops_size */
    fake.ops_size = sizeof(fake.ops);
    ck_assert(SKT_ADAPTER_HAS(&fake, rate_consume));
    ck_assert(!SKT_ADAPTER_HAS(&fake, cache_get)); /* inside, but NULL */
    /* ABI 1's first 18 ops keep their places (the optional ones took reserved slots); a
     * plugin built before the 19th (ops_size of 18 ops) is never called through it */
    ck_assert_uint_eq(offsetof(soketi_adapter_ops_t, channel_members_typed),
                      18 * sizeof(void (*)(void)));
    fake.ops.channel_members_typed =
        (void (*)(void *, const char *, const char *, soketi_typed_members_cb, void *))1;
    fake.ops_size = 18 * sizeof(void (*)(void));
    ck_assert(!SKT_ADAPTER_HAS(&fake, channel_members_typed));
    fake.ops_size = sizeof(fake.ops);
    ck_assert(SKT_ADAPTER_HAS(&fake, channel_members_typed));
}
END_TEST

START_TEST(test_local_broadcast)
{
    const char *msg = "{\"event\":\"e\",\"channel\":\"chan\",\"data\":\"{}\"}trailing";
    size_t len = strlen(msg) - strlen("trailing");
    ad->ops.broadcast(ad->self, "app1", "chan", msg, len, "1.2");
    ck_assert_str_eq(rec.call, "deliver_local");
    ck_assert_str_eq(rec.app, "app1");
    ck_assert_str_eq(rec.channel, "chan");
    ck_assert_str_eq(rec.socket, "1.2");
    ck_assert_uint_eq(rec.msg_len, len);
    ck_assert_int_eq(memcmp(rec.msg, msg, len), 0);
    ck_assert_int_eq(rec.except_null, 0);

    ad->ops.broadcast(ad->self, "app2", "other", msg, 3, NULL);
    ck_assert_str_eq(rec.app, "app2");
    ck_assert_str_eq(rec.channel, "other");
    ck_assert_uint_eq(rec.msg_len, 3);
    ck_assert_int_eq(rec.except_null, 1);
    ck_assert_int_eq(rec.calls, 2);
}
END_TEST

START_TEST(test_local_terminate)
{
    ad->ops.terminate_user_connections(ad->self, "app1", "user-9");
    ck_assert_str_eq(rec.call, "local_terminate_user_connections");
    ck_assert_str_eq(rec.app, "app1");
    ck_assert_str_eq(rec.user, "user-9");
    ck_assert_int_eq(rec.calls, 1);
}
END_TEST

START_TEST(test_local_counts)
{
    result_t r = {0};
    ad->ops.sockets_count(ad->self, "app1", count_cb, &r);
    assert_answer(&r, "7", "local_sockets_count", "app1", NULL);
    ad->ops.channel_sockets_count(ad->self, "app1", "c", count_cb, &r);
    assert_answer(&r, "3", "local_channel_sockets_count", "app1", "c");
    ad->ops.channel_members_count(ad->self, "app2", "presence-room", count_cb, &r);
    assert_answer(&r, "2", "local_channel_members_count", "app2", "presence-room");
    ad->ops.is_in_channel(ad->self, "app1", "c", "1.1", count_cb, &r);
    ck_assert_str_eq(rec.socket, "1.1");
    assert_answer(&r, "1", "local_is_in_channel", "app1", "c"); /* the host said 5 */
    ad->ops.is_in_channel(ad->self, "app1", "d", "9.9", count_cb, &r);
    ck_assert_str_eq(rec.socket, "9.9");
    assert_answer(&r, "0", "local_is_in_channel", "app1", "d");
    ck_assert_int_eq(rec.calls, 5);
}
END_TEST

START_TEST(test_local_lists)
{
    result_t r = {0};
    ad->ops.channels(ad->self, "app1", channels_cb, &r);
    assert_answer(&r, "presence-room=2|private-a=5|c=1", "local_channels", "app1", NULL);
    ad->ops.channel_members(ad->self, "app1", "presence-room", members_cb, &r);
    assert_answer(&r, "u1:{\"name\":\"Ann\"}|u2:null", "local_channel_members", "app1",
                  "presence-room");
    ad->ops.sockets(ad->self, "app1", ids_cb, &r);
    assert_answer(&r, "1.1|1.2|2.9", "local_sockets", "app1", NULL);
    ad->ops.channel_sockets(ad->self, "app1", "private-a", ids_cb, &r);
    assert_answer(&r, "1.1", "local_channel_sockets", "app1", "private-a");
}
END_TEST

/* Nothing to report is an OK answer with no items, still given exactly once. */
START_TEST(test_local_empty)
{
    result_t r = {0};
    ad->ops.channels(ad->self, "empty", channels_cb, &r);
    assert_answer(&r, "", "local_channels", "empty", NULL);
    ad->ops.channel_members(ad->self, "empty", "presence-x", members_cb, &r);
    assert_answer(&r, "", "local_channel_members", "empty", "presence-x");
    ad->ops.sockets(ad->self, "empty", ids_cb, &r);
    assert_answer(&r, "", "local_sockets", "empty", NULL);
    ad->ops.channel_sockets(ad->self, "empty", "c", ids_cb, &r);
    assert_answer(&r, "", "local_channel_sockets", "empty", "c");
}
END_TEST

/* Enough items that the adapter's temporary arrays grow several times. */
START_TEST(test_local_many)
{
    result_t r = {0};
    ad->ops.channels(ad->self, "many", channels_cb, &r);
    ck_assert_int_eq(r.calls, 1);
    ck_assert_uint_eq(r.n, MANY);
    ck_assert_int_eq(r.all_ok, 1);
    memset(&r, 0, sizeof(r));
    ad->ops.sockets(ad->self, "many", ids_cb, &r);
    ck_assert_int_eq(r.calls, 1);
    ck_assert_uint_eq(r.n, MANY);
    ck_assert_int_eq(r.all_ok, 1);
}
END_TEST

/* A callback may call any op (adapter.h, CALLBACKS). */
static void
nested_cb(void *arg, int status, const soketi_channel_count_t *channels, size_t n)
{
    result_t *r = arg;
    r->calls++;
    ad->ops.sockets_count(ad->self, channels[0].channel, count_cb, r);
}

START_TEST(test_local_nested)
{
    result_t r = {0};
    ad->ops.channels(ad->self, "app1", nested_cb, &r);
    ck_assert_int_eq(r.calls, 2);
    ck_assert_int_eq(r.count, 7);
    ck_assert_str_eq(rec.call, "local_sockets_count");
    ck_assert_str_eq(rec.app, "presence-room");
}
END_TEST

/* The local adapter refuses a host table that lacks what it calls, through host->log. */
START_TEST(test_local_refuses_small_host)
{
    char err[512];
    skt_plugin_t *p = (skt_plugin_t *)&err; /* must be reset to NULL */
    setup_host();
    host.local_channel_sockets = NULL;
    ck_assert_int_eq(skt_plugin_load(plugin_dir(), "local", &host, &p, err, sizeof(err)), -1);
    ck_assert_ptr_null(p);
    ck_assert_ptr_nonnull(strstr(err, "soketi_adapter_init returned 1"));
    ck_assert_ptr_nonnull(strstr(err, "adapter_local.so"));
    ck_assert_int_eq(log_has("local adapter: the host table lacks"), 1);
}
END_TEST

/* The echo plugin logs what it got: a private host copy carrying the negotiated version and
 * the full size, a zeroed adapter whose size the host set. Its cleanup reads the host copy
 * it kept since init. */
START_TEST(test_echo_host_copy)
{
    char err[512], want[256];
    skt_plugin_t *p = NULL;
    setup_host();
    ck_assert_int_eq(skt_plugin_load(test_dir(), "echo", &host, &p, err, sizeof(err)), 0);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(skt_plugin_abi(p), 1);
    ck_assert_ptr_nonnull(strstr(skt_plugin_path(p), "/adapter_echo.so"));
    snprintf(want, sizeof(want), "echo init abi=1 host_size=%zu adapter_size=%zu ",
             sizeof(soketi_host_t), sizeof(soketi_adapter_t));
    ck_assert_msg(log_has(want), "log: %s", rec.log[0]);
    ck_assert_int_eq(log_has("zeroed=1 node=node-test key=echo-value"), 1);
    snprintf(want, sizeof(want), "host=%p ", (void *)&host);
    ck_assert_int_eq(log_has(want), 0); /* a copy, not the caller's table */
    ck_assert_int_eq(host.abi_version, 77);

    soketi_adapter_t *a = skt_plugin_adapter(p);
    result_t r = {0};
    a->ops.sockets_count(a->self, "app1", count_cb, &r);
    ck_assert_int_eq(r.count, 42);
    ck_assert_int_eq(log_has("echo sockets_count app1"), 1);
    a->ops.broadcast(a->self, "app1", "chan", "{}", 2, NULL);
    ck_assert_int_eq(log_has("echo broadcast app1 chan 2"), 1);

    host.abi_version = 55; /* the plugin's copy must not follow */
    skt_plugin_unload(p);
    ck_assert_int_eq(log_has("echo cleanup abi=1"), 1);
}
END_TEST

#define ck_assert_has(hay, needle)                                                                 \
    ck_assert_msg(strstr((hay), (needle)) != NULL, "\"%s\" lacks \"%s\"", (hay), (needle))

/* Each bad test plugin, what its refusal must say, and what it must (not) have logged:
 * the plugins refused after a successful init must have been cleaned up (valgrind then
 * sees their state freed), the others must never have run init or cleanup. */
static const struct refusal_s {
    const char *driver;
    const char *says[2];
    const char *logged;
    const char *not_logged;
} refusals[] = {
    {"newer", {"adapter_newer.so speaks ABI 2; this soketi speaks 1", NULL}, NULL, "newer init"},
    {"none",
     {"adapter_none.so", "supports none of the ABI versions this soketi speaks: [1]"},
     NULL,
     "none init"},
    {"nosym", {"adapter_nosym.so", "does not export soketi_adapter_init"}, NULL, "nosym"},
    {"failinit",
     {"adapter_failinit.so", "soketi_adapter_init returned 1"},
     "failinit: refusing to start",
     "failinit cleanup"},
    {"nullop", {"adapter_nullop.so", "leaves op channel_members NULL"}, "nullop cleanup", NULL},
    /* the '-' of the driver finds adapter_small_ops.so */
    {"small-ops", {"adapter_small_ops.so", "smaller than the"}, "small-ops cleanup", NULL},
};

START_TEST(test_refusals)
{
    const struct refusal_s *r = &refusals[_i];
    char err[1024];
    skt_plugin_t *p = (skt_plugin_t *)err; /* must be reset to NULL */
    setup_host();
    ck_assert_int_eq(skt_plugin_load(test_dir(), r->driver, &host, &p, err, sizeof(err)), -1);
    ck_assert_ptr_null(p);
    ck_assert_has(err, test_dir());
    for (int i = 0; i < 2 && r->says[i]; i++)
        ck_assert_has(err, r->says[i]);
    if (r->logged)
        ck_assert_msg(log_has(r->logged), "%s: nothing logged \"%s\"", r->driver, r->logged);
    if (r->not_logged)
        ck_assert_msg(!log_has(r->not_logged), "%s: logged \"%s\"", r->driver, r->not_logged);
}
END_TEST

/* A file that is not a shared object: dlopen's own reason is passed on. */
START_TEST(test_refuse_not_elf)
{
    char dir[] = "/tmp/check_plugin.XXXXXX", path[256], err[1024];
    skt_plugin_t *p = NULL;
    setup_host();
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/adapter_junk.so", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("this is not an ELF file\n", f);
    fclose(f);
    ck_assert_int_eq(skt_plugin_load(dir, "junk", &host, &p, err, sizeof(err)), -1);
    ck_assert_ptr_null(p);
    ck_assert_has(err, "cannot load ");
    ck_assert_has(err, path);
    unlink(path);
    rmdir(dir);
}
END_TEST

static const char *
missing(const char *dir, const char *driver)
{
    static char err[1024];
    skt_plugin_t *p = NULL;
    ck_assert_int_eq(skt_plugin_load(dir, driver, &host, &p, err, sizeof(err)), -1);
    ck_assert_ptr_null(p);
    return err;
}

START_TEST(test_missing_drivers)
{
    char empty[] = "/tmp/check_plugin.XXXXXX", path[256];
    const char *err;
    setup_host();
    ck_assert_ptr_nonnull(mkdtemp(empty));

    err = missing(empty, "redis");
    snprintf(path, sizeof(path), "%s/adapter_redis.so", empty);
    ck_assert_has(err, path);
    ck_assert_has(err, "soketi-redis");

    err = missing(empty, "redis-cluster");
    snprintf(path, sizeof(path), "%s/adapter_redis_cluster.so", empty);
    ck_assert_has(err, path);
    ck_assert_has(err, "soketi-redis");

    err = missing(empty, "nats");
    ck_assert_has(err, "adapter_nats.so");
    ck_assert_has(err, "soketi-nats");
    err = missing(empty, "cluster");
    ck_assert_has(err, "adapter_cluster.so");
    ck_assert_has(err, "ships with soketi");

    err = missing(empty, "local");
    ck_assert_has(err, "adapter_local.so");
    ck_assert_has(err, "ships with soketi");

    err = missing(empty, "frobnicate");
    ck_assert_has(err, "unknown adapter 'frobnicate'");
    ck_assert_has(err, "adapter_frobnicate.so");

    /* a trailing '/' on the directory does not double it */
    snprintf(path, sizeof(path), "%s/", empty);
    err = missing(path, "redis");
    ck_assert_ptr_null(strstr(err, "//"));
    /* an empty directory is the current one, never the library search path */
    err = missing("", "redis");
    ck_assert_has(err, " ./adapter_redis.so does not exist");

    /* a short buffer gets a truncated, terminated message */
    char small[16];
    skt_plugin_t *p = NULL;
    memset(small, 'x', sizeof(small));
    ck_assert_int_eq(skt_plugin_load(empty, "redis", &host, &p, small, sizeof(small)), -1);
    ck_assert_uint_eq(strlen(small), sizeof(small) - 1);
    ck_assert_int_eq(skt_plugin_load(empty, "redis", &host, &p, NULL, 0), -1);
    rmdir(empty);
}
END_TEST

START_TEST(test_invalid_arguments)
{
    char err[512];
    skt_plugin_t *p = NULL;
    setup_host();
    ck_assert_int_eq(
        skt_plugin_load(test_dir(), "../plugins/.libs/adapter_local", &host, &p, err, sizeof(err)),
        -1);
    ck_assert_has(err, "invalid adapter driver");
    ck_assert_int_eq(skt_plugin_load(test_dir(), "a/b", &host, &p, err, sizeof(err)), -1);
    ck_assert_has(err, "invalid adapter driver");
    ck_assert_int_eq(skt_plugin_load(test_dir(), "", &host, &p, err, sizeof(err)), -1);
    ck_assert_has(err, "invalid adapter driver");
    ck_assert_int_eq(skt_plugin_load(test_dir(), NULL, &host, &p, err, sizeof(err)), -1);
    ck_assert_has(err, "invalid adapter driver");
    ck_assert_int_eq(skt_plugin_load(NULL, "echo", &host, &p, err, sizeof(err)), -1);
    ck_assert_int_eq(skt_plugin_load(test_dir(), "echo", NULL, &p, err, sizeof(err)), -1);
    ck_assert_int_eq(skt_plugin_load(test_dir(), "echo", &host, NULL, err, sizeof(err)), -1);
    ck_assert_ptr_null(p);
    skt_plugin_unload(NULL);
}
END_TEST

/* What skt_plugin_list reported, in order. */
typedef struct listed_s {
    int n;
    char driver[32][64];
    int abi[32];
    char note[32][512];
    int path_ok[32];
} listed_t;

static void
list_each(void *arg, const char *driver, const char *path, int abi, const char *note)
{
    listed_t *l = arg;
    char want[128];
    if (l->n >= 32)
        return;
    snprintf(l->driver[l->n], sizeof(l->driver[0]), "%s", driver);
    snprintf(l->note[l->n], sizeof(l->note[0]), "%s", note ? note : "(none)");
    l->abi[l->n] = abi;
    if (strncmp(driver, "app-manager ", 12) == 0)
        snprintf(want, sizeof(want), "/app_manager_%s.so", driver + 12);
    else
        snprintf(want, sizeof(want), "/adapter_%s.so", driver);
    for (char *c = want; *c; c++)
        if (*c == '-')
            *c = '_';
    l->path_ok[l->n] = strstr(path, want) != NULL;
    l->n++;
}

static int
listed_find(const listed_t *l, const char *driver)
{
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->driver[i], driver) == 0)
            return i;
    return -1;
}

START_TEST(test_list)
{
    static listed_t l; /* too big for a comfortable stack frame */
    memset(&l, 0, sizeof(l));
    setup_host();
    int n = skt_plugin_list(test_dir(), list_each, &l);
    ck_assert_int_ge(n, 7);
    ck_assert_int_eq(n, l.n);
    /* adapters, then app managers, each kind in name order */
    for (int i = 1; i < l.n; i++)
        if ((strncmp(l.driver[i - 1], "app-manager ", 12) == 0) ==
            (strncmp(l.driver[i], "app-manager ", 12) == 0))
            ck_assert_int_lt(strcmp(l.driver[i - 1], l.driver[i]), 0);
        else
            ck_assert_str_eq(l.driver[i], "app-manager fixed"); /* the first of its kind */

    static const struct {
        const char *driver;
        int abi;
        const char *note;
    } want[] = {
        {"echo", 1, "(none)"},
        {"failinit", 1, "(none)"},
        {"nullop", 1, "(none)"},
        {"small-ops", 1, "(none)"},
        {"newer", -1, "adapter_newer.so speaks ABI 2; this soketi speaks 1"},
        {"none", -1, "supports none of the ABI versions"},
        {"nosym", -1, "does not export soketi_adapter_init"},
        {"app-manager fixed", 1, "(none)"},
        {"app-manager newer", -1, "app_manager_newer.so speaks ABI 2; this soketi speaks 1"},
    };
    for (size_t w = 0; w < sizeof(want) / sizeof(want[0]); w++) {
        int i = listed_find(&l, want[w].driver);
        ck_assert_msg(i >= 0, "%s not listed", want[w].driver);
        ck_assert_int_eq(l.abi[i], want[w].abi);
        ck_assert_has(l.note[i], want[w].note);
        ck_assert_int_eq(l.path_ok[i], 1);
    }
    /* listing never calls init */
    ck_assert_int_eq(rec.nlog, 0);

    memset(&l, 0, sizeof(l));
    ck_assert_int_ge(skt_plugin_list(plugin_dir(), list_each, &l), 1);
    int i = listed_find(&l, "local");
    ck_assert_int_ge(i, 0);
    ck_assert_int_eq(l.abi[i], 1);
}
END_TEST

/* ---- app managers (include/soketi/app_manager.h): the same loader, their own kind ---- */

static const soketi_app_manager_host_t am_host = {
    .base = NULL, .node_id = "node-test", .config_get = fake_config_get, .log = fake_log};

typedef struct row_s {
    int calls, status;
    char row[512];
} row_t;

static void
row_cb(void *arg, int status, const char *row, size_t len)
{
    row_t *r = arg;
    r->calls++;
    r->status = status;
    snprintf(r->row, sizeof(r->row), "%.*s", row ? (int)len : 6, row ? row : "(none)");
}

START_TEST(test_app_manager_load)
{
    char err[512];
    skt_plugin_t *p = NULL;
    setup_host();
    ck_assert_int_eq(
        skt_plugin_load_app_manager(test_dir(), "fixed", &am_host, &p, err, sizeof(err)), 0);
    ck_assert_int_eq(skt_plugin_abi(p), 1);
    ck_assert_ptr_nonnull(strstr(skt_plugin_path(p), "/app_manager_fixed.so"));
    ck_assert_ptr_null(skt_plugin_adapter(p));
    ck_assert_int_eq(log_has("fixed init abi=1 table=apps"), 1);
    soketi_app_manager_t *am = skt_plugin_app_manager(p);
    ck_assert_ptr_nonnull(am);
    row_t r = {0};
    am->ops.find(am->self, SOKETI_APP_BY_KEY, "fixed-key", 9, row_cb, &r);
    ck_assert_int_eq(r.status, SOKETI_OK);
    ck_assert_has(r.row, "\"secret\":\"fixed-secret\"");
    am->ops.find(am->self, SOKETI_APP_BY_ID, "fixed-key", 9, row_cb, &r);
    ck_assert_str_eq(r.row, "(none)");
    am->ops.find(am->self, SOKETI_APP_BY_ID, "error", 5, row_cb, &r);
    ck_assert_int_eq(r.status, SOKETI_ERROR);
    ck_assert_int_eq(r.calls, 3);
    skt_plugin_unload(p);
}
END_TEST

/* The refusals an adapter gets, in an app manager's words. */
START_TEST(test_app_manager_refusals)
{
    char err[512];
    skt_plugin_t *p = (skt_plugin_t *)err;
    setup_host();
    ck_assert_int_eq(
        skt_plugin_load_app_manager(test_dir(), "newer", &am_host, &p, err, sizeof(err)), -1);
    ck_assert_ptr_null(p);
    ck_assert_has(err, "app_manager_newer.so speaks ABI 2; this soketi speaks 1");
    ck_assert_int_eq(rec.nlog, 0); /* init never ran */
    ck_assert_int_eq(
        skt_plugin_load_app_manager(test_dir(), "mysql", &am_host, &p, err, sizeof(err)), -1);
    ck_assert_has(err, "app manager 'mysql' is not installed");
    ck_assert_has(err, "app_manager_mysql.so does not exist (the soketi-mysql package");
    ck_assert_int_eq(
        skt_plugin_load_app_manager(test_dir(), "postgres", &am_host, &p, err, sizeof(err)), -1);
    ck_assert_has(err, "the soketi-postgres package");
    /* an adapter is not an app manager: its file name differs */
    ck_assert_int_eq(
        skt_plugin_load_app_manager(test_dir(), "echo", &am_host, &p, err, sizeof(err)), -1);
    ck_assert_has(err, "unknown app manager 'echo'");
    ck_assert_int_eq(
        skt_plugin_load_app_manager(test_dir(), "../x", &am_host, &p, err, sizeof(err)), -1);
    ck_assert_has(err, "invalid app manager driver");
}
END_TEST

START_TEST(test_list_unreadable)
{
    listed_t *l = calloc(1, sizeof(*l));
    ck_assert_int_eq(skt_plugin_list("/nonexistent/soketi/plugins", list_each, l), -1);
    ck_assert_int_eq(l->n, 0);
    free(l);
}
END_TEST

static Suite *
plugin_suite(void)
{
    Suite *s = suite_create("plugin");
    TCase *tc = tcase_create("local");
    tcase_add_checked_fixture(tc, setup_local, teardown_local);
    tcase_add_test(tc, test_local_loads);
    tcase_add_test(tc, test_optional_ops);
    tcase_add_test(tc, test_local_broadcast);
    tcase_add_test(tc, test_local_terminate);
    tcase_add_test(tc, test_local_counts);
    tcase_add_test(tc, test_local_lists);
    tcase_add_test(tc, test_local_empty);
    tcase_add_test(tc, test_local_many);
    tcase_add_test(tc, test_local_nested);
    suite_add_tcase(s, tc);

    tc = tcase_create("loader");
    tcase_add_test(tc, test_local_refuses_small_host);
    tcase_add_test(tc, test_echo_host_copy);
    tcase_add_loop_test(tc, test_refusals, 0, (int)(sizeof(refusals) / sizeof(refusals[0])));
    tcase_add_test(tc, test_refuse_not_elf);
    tcase_add_test(tc, test_missing_drivers);
    tcase_add_test(tc, test_invalid_arguments);
    tcase_add_test(tc, test_list);
    tcase_add_test(tc, test_list_unreadable);
    tcase_add_test(tc, test_app_manager_load);
    tcase_add_test(tc, test_app_manager_refusals);
    suite_add_tcase(s, tc);
    return s;
}

SKT_CHECK_MAIN(plugin_suite)
