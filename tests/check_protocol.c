/* check_protocol.c - unit tests for the Pusher protocol layer (src/pusher/) without
 * sockets: the real server, handlers and local adapter over the fake net
 * (tests/fake_net.h). Subscribe and unsubscribe for each kind of channel, presence
 * members across a user's sockets, client event rules, sign-in and its deadline, cache
 * channels, and the REST routes' validation.
 *
 * The adapter is the real adapter_local.so from $SOKETI_PLUGIN_DIR_TEST (make check sets
 * it); it answers every query at once, so nothing here waits for an event loop except the
 * sign-in deadline.
 */
#include "check_main.h"
#include <check.h>
#include <dlfcn.h>
#include <event2/event.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fake_net.h"
#include "pusher/http_api.h"
#include "pusher/server_life.h"
#include "pusher/sig.h"
#include "pusher/ws_handler.h"

#define KEY "app-key"
#define SECRET "app-secret"

static struct event_base *base;
static skt_server_t *srv;

/* A server with the default app, the SOKETI_* settings in env (NULL-terminated) and the
 * adapter plugins of dir (NULL: the real ones). */
static void
start_in(const char *dir, const char *const *env)
{
    if (!dir)
        dir = getenv("SOKETI_PLUGIN_DIR_TEST") ? getenv("SOKETI_PLUGIN_DIR_TEST") : "plugins/.libs";
    srv = fake_server_new(env, dir);
    base = srv->base;
}

static void
start(const char *const *env)
{
    start_in(NULL, env);
}

static void
stop(void)
{
    fake_server_free(srv);
    srv = NULL;
}

/* The next message s was sent, which must contain want; returns it parsed. */
static json_t *
expect(skt_socket_t *s, const char *want)
{
    char *m = fake_next(s);
    ck_assert_msg(m != NULL, "no message, expected one with %s", want);
    ck_assert_msg(strstr(m, want) != NULL, "got %s, expected %s", m, want);
    json_t *v = json_loads(m, 0, NULL);
    ck_assert_msg(v != NULL, "not JSON: %s", m);
    free(m);
    return v;
}

static void
expect_str(skt_socket_t *s, const char *want)
{
    json_decref(expect(s, want));
}

static void
expect_none(skt_socket_t *s)
{
    char *m = fake_next(s);
    ck_assert_msg(m == NULL, "unexpected message %s", m);
}

/* A connected client: its socket id in id (64 bytes). */
static skt_socket_t *
client(char *id)
{
    skt_socket_t *s = fake_ws_open(srv, KEY);
    json_t *m = expect(s, "pusher:connection_established");
    json_t *data = json_loads(json_string_value(json_object_get(m, "data")), 0, NULL);
    snprintf(id, 64, "%s", json_string_value(json_object_get(data, "socket_id")));
    json_decref(data);
    json_decref(m);
    return s;
}

static void sendf(skt_socket_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
sendf(skt_socket_t *s, const char *fmt, ...)
{
    char buf[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    fake_ws_send(s, buf);
}

/* Subscribes s (socket id id) to a private or presence channel with a valid auth. */
static void
subscribe_auth(skt_socket_t *s, const char *id, const char *channel, const char *channel_data)
{
    char *auth = skt_sig_channel_auth_new(KEY, SECRET, id, channel, channel_data,
                                          channel_data ? strlen(channel_data) : 0);
    if (channel_data) {
        json_t *cd = json_string(channel_data);
        char *q = json_dumps(cd, JSON_ENCODE_ANY);
        sendf(s,
              "{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":\"%s\",\"auth\":\"%s\","
              "\"channel_data\":%s}}",
              channel, auth, q);
        free(q);
        json_decref(cd);
    } else {
        sendf(s, "{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":\"%s\",\"auth\":\"%s\"}}",
              channel, auth);
    }
    free(auth);
}

/* ---------------------------------------------------------------- connections */

START_TEST(test_connect)
{
    start(NULL);
    char id[64];
    skt_socket_t *s = client(id);
    ck_assert(strchr(id, '.') != NULL);
    expect_none(s);
    sendf(s, "{\"event\":\"pusher:ping\",\"data\":{}}");
    expect_str(s, "{\"event\":\"pusher:pong\",\"data\":{}}");
    fake_ws_send(s, "not json");
    fake_ws_send(s, "{\"no\":\"event\"}");
    expect_none(s);
    skt_socket_t *bad = fake_ws_open(srv, "nope");
    expect_str(bad, "\"code\":4001");
    ck_assert_int_eq(fake_close_code(bad), 4001);
    fake_close(bad);
    fake_close(s);
    stop();
}
END_TEST

/* ---------------------------------------------------------------- subscribe */

START_TEST(test_subscribe_public)
{
    start(NULL);
    char id[64];
    skt_socket_t *s = client(id);
    sendf(s, "{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":\"news\"}}");
    expect_str(s, "{\"event\":\"pusher_internal:subscription_succeeded\",\"channel\":\"news\"}");
    skt_ns_t *ns = s->ns;
    ck_assert_ptr_nonnull(skt_ns_channel(ns, "news", 4));
    /* no channel, a bad name, a long name */
    sendf(s, "{\"event\":\"pusher:subscribe\",\"data\":{}}");
    expect_str(s, "\"code\":null");
    sendf(s, "{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":\"a b\"}}");
    expect_str(s, "The channel name is not allowed");
    char longname[300];
    memset(longname, 'x', 250);
    longname[250] = '\0';
    sendf(s, "{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":\"%s\"}}", longname);
    expect_str(s, "LimitReached");
    /* unsubscribe removes the channel with its last socket */
    sendf(s, "{\"event\":\"pusher:unsubscribe\",\"data\":{\"channel\":\"news\"}}");
    expect_none(s);
    ck_assert_ptr_null(skt_ns_channel(ns, "news", 4));
    fake_close(s);
    stop();
}
END_TEST

START_TEST(test_subscribe_private)
{
    start(NULL);
    char id[64];
    skt_socket_t *s = client(id);
    sendf(s,
          "{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":\"private-a\",\"auth\":\"%s:"
          "00\"}}",
          KEY);
    expect_str(s, "\"type\":\"AuthError\"");
    subscribe_auth(s, id, "private-a", NULL);
    expect_str(s, "subscription_succeeded");
    /* the signature is bound to the socket */
    char id2[64];
    skt_socket_t *t = client(id2);
    char *auth = skt_sig_channel_auth_new(KEY, SECRET, id, "private-a", NULL, 0);
    sendf(t,
          "{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":\"private-a\",\"auth\":\"%s\"}}",
          auth);
    free(auth);
    expect_str(t, "AuthError");
    fake_close(s);
    fake_close(t);
    stop();
}
END_TEST

/* ---------------------------------------------------------------- presence */

START_TEST(test_presence_members)
{
    start(NULL);
    char ida[64], idb[64], idc[64];
    skt_socket_t *a = client(ida), *b = client(idb), *c = client(idc);
    const char *ch = "presence-room";
    subscribe_auth(a, ida, ch, "{\"user_id\":\"u1\",\"user_info\":{\"name\":\"A\"}}");
    json_t *m = expect(a, "subscription_succeeded");
    ck_assert(strstr(json_string_value(json_object_get(m, "data")), "\"count\":1"));
    json_decref(m);
    /* u2 joins: a hears member_added */
    subscribe_auth(b, idb, ch, "{\"user_id\":\"u2\"}");
    m = expect(b, "subscription_succeeded");
    const char *d = json_string_value(json_object_get(m, "data"));
    ck_assert(strstr(d, "\"u1\":{\"name\":\"A\"}") && strstr(d, "\"u2\":null") &&
              strstr(d, "\"count\":2"));
    json_decref(m);
    expect_str(a, "pusher_internal:member_added");
    /* a second socket of u1: no member_added */
    subscribe_auth(c, idc, ch, "{\"user_id\":\"u1\",\"user_info\":{\"name\":\"A\"}}");
    expect_str(c, "count\\\":2");
    expect_none(a);
    expect_none(b);
    /* u1's first socket leaves: u1 is still there through c */
    fake_close(a);
    expect_none(b);
    /* its last one leaves: member_removed */
    sendf(c, "{\"event\":\"pusher:unsubscribe\",\"data\":{\"channel\":\"%s\"}}", ch);
    m = expect(b, "pusher_internal:member_removed");
    ck_assert(strstr(json_string_value(json_object_get(m, "data")), "\"user_id\":\"u1\""));
    json_decref(m);
    fake_close(b);
    fake_close(c);
    stop();
}
END_TEST

START_TEST(test_presence_limits)
{
    const char *env[] = {"SOKETI_PRESENCE_MAX_MEMBERS=2", "SOKETI_PRESENCE_MAX_MEMBER_SIZE=1",
                         NULL};
    start(env);
    char id[3][64];
    skt_socket_t *s[3];
    for (int i = 0; i < 3; i++)
        s[i] = client(id[i]);
    subscribe_auth(s[0], id[0], "presence-x", "{\"user_id\":1}");
    expect_str(s[0], "subscription_succeeded");
    /* a member over 1 KB */
    char big[2048];
    snprintf(big, sizeof(big), "{\"user_id\":2,\"user_info\":\"%0*d\"}", 1500, 0);
    subscribe_auth(s[1], id[1], "presence-x", big);
    expect_str(s[1], "The maximum size for a channel member is 1 KB.");
    subscribe_auth(s[1], id[1], "presence-x", "{\"user_id\":2}");
    expect_str(s[1], "subscription_succeeded");
    subscribe_auth(s[2], id[2], "presence-x", "{\"user_id\":3}");
    expect_str(s[2], "The maximum members per presence channel limit was reached");
    /* no user_id */
    subscribe_auth(s[2], id[2], "presence-y", "{\"user_info\":{}}");
    expect_str(s[2], "ServerError");
    for (int i = 0; i < 3; i++)
        fake_close(s[i]);
    stop();
}
END_TEST

/* ---------------------------------------------------------------- client events */

START_TEST(test_client_events)
{
    const char *env[] = {"SOKETI_DEFAULT_APP_ENABLE_CLIENT_MESSAGES=true", NULL};
    start(env);
    char ida[64], idb[64];
    skt_socket_t *a = client(ida), *b = client(idb);
    subscribe_auth(a, ida, "private-chat", NULL);
    subscribe_auth(b, idb, "private-chat", NULL);
    expect_str(a, "subscription_succeeded");
    expect_str(b, "subscription_succeeded");
    sendf(a, "{\"event\":\"client-hi\",\"channel\":\"private-chat\",\"data\":{\"x\":1}}");
    expect_str(b, "{\"event\":\"client-hi\",\"channel\":\"private-chat\",\"data\":{\"x\":1}}");
    expect_none(a);
    /* not subscribed: dropped silently */
    sendf(a, "{\"event\":\"client-hi\",\"channel\":\"private-other\",\"data\":{}}");
    expect_none(a);
    expect_none(b);
    /* public channels refuse them */
    sendf(a, "{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":\"pub\"}}");
    expect_str(a, "subscription_succeeded");
    sendf(a, "{\"event\":\"client-hi\",\"channel\":\"pub\",\"data\":{}}");
    expect_str(a, "Client events are only supported on private and presence channels.");
    /* too long a name, no channel */
    char name[300] = "client-";
    memset(name + 7, 'n', 250);
    name[257] = '\0';
    sendf(a, "{\"event\":\"%s\",\"channel\":\"private-chat\",\"data\":{}}", name);
    expect_str(a, "Event name is too long");
    sendf(a, "{\"event\":\"client-hi\",\"data\":{}}");
    expect_str(a, "Client events must name a channel.");
    expect_none(b);
    fake_close(a);
    fake_close(b);
    stop();
}
END_TEST

START_TEST(test_client_events_disabled_and_presence)
{
    start(NULL);
    char ida[64];
    skt_socket_t *a = client(ida);
    subscribe_auth(a, ida, "private-chat", NULL);
    expect_str(a, "subscription_succeeded");
    sendf(a, "{\"event\":\"client-hi\",\"channel\":\"private-chat\",\"data\":{}}");
    expect_str(a, "The app does not have client messaging enabled.");
    fake_close(a);
    stop();

    const char *env[] = {"SOKETI_DEFAULT_APP_ENABLE_CLIENT_MESSAGES=true", NULL};
    start(env);
    char idb[64], idc[64];
    skt_socket_t *b = client(idb), *c = client(idc);
    subscribe_auth(b, idb, "presence-p", "{\"user_id\":\"ub\"}");
    subscribe_auth(c, idc, "presence-p", "{\"user_id\":\"uc\"}");
    fake_drain(b);
    fake_drain(c);
    sendf(b, "{\"event\":\"client-x\",\"channel\":\"presence-p\",\"data\":\"t\"}");
    expect_str(c, ",\"user_id\":\"ub\"}");
    fake_close(b);
    fake_close(c);
    stop();
}
END_TEST

/* ---------------------------------------------------------------- sign-in */

/* The pusher:signin message for user_data, signed for socket id (bad: a wrong signature). */
static void
signin(skt_socket_t *s, const char *id, const char *user_data, int bad)
{
    char msg[512], hex[65];
    snprintf(msg, sizeof(msg), "%s::user::%s", id, user_data);
    skt_sig_hmac_sha256_hex(SECRET, strlen(SECRET), msg, strlen(msg), hex);
    if (bad)
        hex[0] = hex[0] == '0' ? '1' : '0';
    json_t *ud = json_string(user_data);
    char *q = json_dumps(ud, JSON_ENCODE_ANY);
    sendf(s, "{\"event\":\"pusher:signin\",\"data\":{\"user_data\":%s,\"auth\":\"%s:%s\"}}", q, KEY,
          hex);
    free(q);
    json_decref(ud);
}

START_TEST(test_signin)
{
    start(NULL);
    char ida[64], idb[64];
    skt_socket_t *a = client(ida), *b = client(idb);
    signin(a, ida, "{\"id\":\"u1\"}", 0);
    expect_str(a, "pusher:signin_success");
    ck_assert_str_eq(a->user_id, "u1");
    /* its own server-to-user channel, not anyone else's */
    sendf(a, "{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":\"#server-to-user-u1\"}}");
    expect_str(a, "subscription_succeeded");
    sendf(b, "{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":\"#server-to-user-u1\"}}");
    expect_str(b, "AuthError");
    signin(b, idb, "{\"id\":\"u2\"}", 1);
    expect_str(b, "Connection not authorized.");
    ck_assert_int_eq(fake_close_code(b), 4009);
    fake_close(a);
    fake_close(b);
    stop();
}
END_TEST

/* Runs the loop until ms have passed. */
static void
run_for(int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
}

START_TEST(test_signin_deadline)
{
    const char *env[] = {"SOKETI_DEFAULT_APP_USER_AUTHENTICATION=true",
                         "SOKETI_USER_AUTHENTICATION_TIMEOUT=50", NULL};
    start(env);
    char ida[64], idb[64], idc[64];
    skt_socket_t *a = client(ida), *b = client(idb), *c = client(idc);
    signin(b, idb, "{\"id\":\"u\"}", 0);
    expect_str(b, "signin_success");
    subscribe_auth(c, idc, "private-x", NULL); /* an authorized channel proves it too */
    expect_str(c, "subscription_succeeded");
    run_for(1500);
    expect_str(a, "Connection not authorized within timeout.");
    ck_assert_int_eq(fake_close_code(a), 4009);
    ck_assert_int_eq(fake_close_code(b), 0);
    ck_assert_int_eq(fake_close_code(c), 0);
    fake_close(a);
    fake_close(b);
    fake_close(c);
    stop();
}
END_TEST

/* ---------------------------------------------------------------- REST */

/* A signed HTTP API request (method, path, body) as the pusher SDK makes it; the answer's
 * status, with its body in *body. */
static int
rest(const char *method, const char *path, const char *body, const char *secret, char **out)
{
    char ts[32], md5[33], sig[65], raw[16384];
    snprintf(ts, sizeof(ts), "%lld", (long long)time(NULL));
    size_t blen = body ? strlen(body) : 0;
    skt_sig_md5_hex(body ? body : "", blen, md5);
    skt_sig_param_t params[4] = {
        {"auth_key", 8, KEY, strlen(KEY)},
        {"auth_timestamp", 14, ts, strlen(ts)},
        {"auth_version", 12, "1.0", 3},
        {"body_md5", 8, md5, 32},
    };
    size_t np = blen ? 4 : 3;
    skt_sig_http_sign(secret, method, path, strlen(path), params, np, body, blen, sig);
    int n = snprintf(raw, sizeof(raw),
                     "%s %s?auth_key=%s&auth_timestamp=%s&auth_version=1.0%s%s"
                     "&auth_signature=%s HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n%s",
                     method, path, KEY, ts, blen ? "&body_md5=" : "", blen ? md5 : "", sig, blen,
                     body ? body : "");
    return fake_http(srv, 0, raw, (size_t)n, out);
}

START_TEST(test_rest_events)
{
    start(NULL);
    char id[64];
    skt_socket_t *s = client(id);
    sendf(s, "{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":\"news\"}}");
    fake_drain(s);
    char *body = NULL;
    const char *ev = "{\"name\":\"e\",\"channel\":\"news\",\"data\":\"{\\\"a\\\":1}\"}";
    ck_assert_int_eq(rest("POST", "/apps/app-id/events", ev, SECRET, &body), 200);
    ck_assert_str_eq(body, "{\"ok\":true}");
    free(body);
    expect_str(s, "{\"event\":\"e\",\"channel\":\"news\",\"data\":\"{\\\"a\\\":1}\"}");
    /* a wrong secret, an unknown app, bad events */
    ck_assert_int_eq(rest("POST", "/apps/app-id/events", ev, "nope", &body), 401);
    free(body);
    ck_assert_int_eq(rest("POST", "/apps/other/events", ev, SECRET, &body), 404);
    free(body);
    ck_assert_int_eq(rest("POST", "/apps/app-id/events", "{\"name\":\"e\"}", SECRET, &body), 400);
    ck_assert_str_eq(body, "{\"error\":\"The received data is incorrect\",\"code\":400}");
    free(body);
    ck_assert_int_eq(rest("POST", "/apps/app-id/events", "[1]", SECRET, &body), 400);
    free(body);
    ck_assert_int_eq(
        rest("POST", "/apps/app-id/batch_events",
             "{\"batch\":[{\"name\":\"a\",\"channel\":\"news\",\"data\":\"1\"},{\"name\":\"b\","
             "\"channels\":[\"news\",\"x\"],\"data\":{\"k\":[1]}}]}",
             SECRET, &body),
        200);
    free(body);
    expect_str(s, "\"event\":\"a\"");
    expect_str(s, "{\"event\":\"b\",\"channel\":\"news\",\"data\":{\"k\":[1]}}");
    expect_none(s);
    fake_close(s);
    stop();
}
END_TEST

/* POST /events and /batch_events with info: the channels' attributes in the answer, as
 * Pusher documents them (user_count only for presence channels). */
START_TEST(test_rest_events_info)
{
    start(NULL);
    char ida[64], idb[64], idc[64];
    skt_socket_t *a = client(ida), *b = client(idb), *c = client(idc);
    sendf(a, "{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":\"news\"}}");
    subscribe_auth(b, idb, "presence-i", "{\"user_id\":1}");
    subscribe_auth(c, idc, "presence-i", "{\"user_id\":1}");
    fake_drain(a);
    fake_drain(b);
    fake_drain(c);
    char *body = NULL;
    ck_assert_int_eq(
        rest("POST", "/apps/app-id/events",
             "{\"name\":\"e\",\"channels\":[\"news\",\"presence-i\",\"news\",\"none\"],"
             "\"data\":\"x\",\"info\":\"user_count,subscription_count\"}",
             SECRET, &body),
        200);
    ck_assert_str_eq(body, "{\"ok\":true,\"channels\":{\"news\":{\"subscription_count\":1},"
                           "\"presence-i\":{\"user_count\":1,\"subscription_count\":2},"
                           "\"none\":{\"subscription_count\":0}}}");
    free(body);
    ck_assert_int_eq(rest("POST", "/apps/app-id/events",
                          "{\"name\":\"e\",\"channel\":\"presence-i\",\"data\":\"x\","
                          "\"info\":\"user_count\"}",
                          SECRET, &body),
                     200);
    ck_assert_str_eq(body, "{\"ok\":true,\"channels\":{\"presence-i\":{\"user_count\":1}}}");
    free(body);
    ck_assert_int_eq(
        rest("POST", "/apps/app-id/batch_events",
             "{\"batch\":[{\"name\":\"a\",\"channel\":\"news\",\"data\":\"1\",\"info\":"
             "\"subscription_count\"},{\"name\":\"b\",\"channel\":\"news\",\"data\":\"1\"},"
             "{\"name\":\"c\",\"channel\":\"presence-i\",\"data\":\"1\",\"info\":\"user_count\"}]}",
             SECRET, &body),
        200);
    ck_assert_str_eq(body, "{\"ok\":true,\"batch\":[{\"subscription_count\":1},{},"
                           "{\"user_count\":1}]}");
    free(body);
    fake_close(a);
    fake_close(b);
    fake_close(c);
    stop();
}
END_TEST

/* enableSubscriptionCount: every change of a small non-presence channel is told to its
 * subscribers, the joining one included (after its subscription_succeeded); presence
 * channels and apps without the option get nothing. */
START_TEST(test_subscription_count_event)
{
    const char *env[] = {"SOKETI_DEFAULT_APP_ENABLE_SUBSCRIPTION_COUNT=true", NULL};
    start(env);
    char ida[64], idb[64];
    skt_socket_t *a = client(ida), *b = client(idb);
    const char *count1 = "{\"event\":\"pusher_internal:subscription_count\",\"channel\":\"news\","
                         "\"data\":\"{\\\"subscription_count\\\":1}\"}";
    sendf(a, "{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":\"news\"}}");
    expect_str(a, "subscription_succeeded");
    expect_str(a, count1);
    sendf(b, "{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":\"news\"}}");
    expect_str(b, "subscription_succeeded");
    expect_str(b, "subscription_count\\\":2}");
    expect_str(a, "subscription_count\\\":2}");
    /* a repeated subscribe changes nothing */
    sendf(b, "{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":\"news\"}}");
    expect_str(b, "subscription_succeeded");
    expect_none(a);
    sendf(b, "{\"event\":\"pusher:unsubscribe\",\"data\":{\"channel\":\"news\"}}");
    expect_str(a, count1);
    expect_none(b);
    subscribe_auth(b, idb, "presence-c", "{\"user_id\":\"u\"}");
    expect_str(b, "subscription_succeeded");
    expect_none(b);
    fake_close(b);
    expect_none(a);
    fake_close(a);
    stop();
    start(NULL);
    a = client(ida);
    sendf(a, "{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":\"news\"}}");
    expect_str(a, "subscription_succeeded");
    expect_none(a);
    fake_close(a);
    stop();
}
END_TEST

START_TEST(test_rest_queries)
{
    start(NULL);
    char ida[64], idb[64];
    skt_socket_t *a = client(ida), *b = client(idb);
    sendf(a, "{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":\"news\"}}");
    subscribe_auth(b, idb, "presence-r", "{\"user_id\":\"u9\",\"user_info\":{\"n\":1}}");
    char *body = NULL;
    ck_assert_int_eq(rest("GET", "/apps/app-id/channels", NULL, SECRET, &body), 200);
    ck_assert(strstr(body, "\"news\":{\"subscription_count\":1,\"occupied\":true}"));
    free(body);
    ck_assert_int_eq(rest("GET", "/apps/app-id/channels/presence-r", NULL, SECRET, &body), 200);
    ck_assert_str_eq(body, "{\"subscription_count\":1,\"occupied\":true,\"user_count\":1}");
    free(body);
    ck_assert_int_eq(rest("GET", "/apps/app-id/channels/presence-r/users", NULL, SECRET, &body),
                     200);
    ck_assert_str_eq(body, "{\"users\":[{\"id\":\"u9\"}]}");
    free(body);
    ck_assert_int_eq(rest("GET", "/apps/app-id/channels/news/users", NULL, SECRET, &body), 400);
    free(body);
    /* terminate_connections closes the user's sockets */
    signin(a, ida, "{\"id\":\"bye\"}", 0);
    ck_assert_int_eq(
        rest("POST", "/apps/app-id/users/bye/terminate_connections", "{}", SECRET, &body), 200);
    free(body);
    ck_assert_int_eq(fake_close_code(a), 4009);
    ck_assert_int_eq(fake_close_code(b), 0);
    /* health routes need no signature */
    ck_assert_int_eq(fake_http(srv, 0, "GET / HTTP/1.1\r\n\r\n", 18, NULL), 200);
    ck_assert_int_eq(fake_http(srv, 1, "GET /ready HTTP/1.1\r\n\r\n", 23, NULL), 200);
    ck_assert_int_eq(fake_http(srv, 0, "GET /nope HTTP/1.1\r\n\r\n", 22, NULL), 404);
    fake_close(a);
    fake_close(b);
    stop();
}
END_TEST

/* The next message is a subscription_succeeded whose ids are 7 and "8", in either order. */
static void
expect_ids_7_8(skt_socket_t *s)
{
    json_t *m = expect(s, "subscription_succeeded");
    const char *d = json_string_value(json_object_get(m, "data"));
    ck_assert_msg(strstr(d, "\"ids\":[7,\"8\"]") || strstr(d, "\"ids\":[\"8\",7]"), "%s", d);
    json_decref(m);
}

/* A numeric user_id stays a number (soketi's behaviour) in subscription_succeeded's ids,
 * member_added / member_removed, a relayed client event and /users; "7" and 7 are one user
 * (Pusher's clients key members by the id's text), keeping the type it first came with. */
START_TEST(test_presence_typed_ids)
{
    const char *env[] = {"SOKETI_DEFAULT_APP_ENABLE_CLIENT_MESSAGES=true", NULL};
    start(env);
    char ida[64], idb[64], idc[64];
    skt_socket_t *a = client(ida), *b = client(idb), *c = client(idc);
    const char *ch = "presence-typed";
    subscribe_auth(a, ida, ch, "{\"user_id\":7,\"user_info\":{\"n\":1}}");
    expect_str(a, "{\\\"presence\\\":{\\\"ids\\\":[7],\\\"hash\\\":{\\\"7\\\":{\\\"n\\\":1}},"
                  "\\\"count\\\":1}}");
    subscribe_auth(b, idb, ch, "{\"user_id\":\"8\"}");
    expect_ids_7_8(b);
    expect_str(a, "{\\\"user_id\\\":\\\"8\\\",\\\"user_info\\\":null}");
    /* the string "7" is user 7: no member_added, one member */
    subscribe_auth(c, idc, ch, "{\"user_id\":\"7\"}");
    expect_ids_7_8(c);
    expect_none(a);
    expect_none(b);
    sendf(a, "{\"event\":\"client-x\",\"channel\":\"%s\",\"data\":{}}", ch);
    expect_str(b, "\"user_id\":7}");
    expect_str(c, "\"user_id\":7}");
    char *body = NULL;
    ck_assert_int_eq(rest("GET", "/apps/app-id/channels/presence-typed/users", NULL, SECRET, &body),
                     200);
    ck_assert(strstr(body, "{\"id\":7}") && strstr(body, "{\"id\":\"8\"}"));
    free(body);
    fake_close(a);
    fake_close(c);
    expect_str(b, "{\\\"user_id\\\":7}");
    fake_close(b);
    stop();
}
END_TEST

START_TEST(test_cache_channels)
{
    start(NULL);
    char ida[64];
    skt_socket_t *a = client(ida);
    sendf(a, "{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":\"cache-c\"}}");
    expect_str(a, "subscription_succeeded");
    expect_str(a, "{\"event\":\"pusher:cache_miss\",\"channel\":\"cache-c\"}");
    char *body = NULL;
    ck_assert_int_eq(rest("POST", "/apps/app-id/events",
                          "{\"name\":\"last\",\"channel\":\"cache-c\",\"data\":\"d\"}", SECRET,
                          &body),
                     200);
    free(body);
    expect_str(a, "\"event\":\"last\"");
    char idb[64];
    skt_socket_t *b = client(idb);
    sendf(b, "{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":\"cache-c\"}}");
    expect_str(b, "subscription_succeeded");
    expect_str(b, "{\"event\":\"last\",\"channel\":\"cache-c\",\"data\":\"d\"}");
    fake_close(a);
    fake_close(b);
    stop();
}
END_TEST

/* ---------------------------------------------------------------- budgets */

/* The test plugin adapter_stall.so: its queries wait until stall_release(). */
static size_t (*stall_release)(int status);
static size_t (*stall_held)(void);
static long *stall_admit_answer, *stall_releases, *stall_connections_released;

static void
start_stalled(const char *const *env)
{
    const char *dir =
        getenv("SOKETI_TEST_PLUGIN_DIR") ? getenv("SOKETI_TEST_PLUGIN_DIR") : "tests/.libs";
    start_in(dir, env);
    char path[4096];
    snprintf(path, sizeof(path), "%s/adapter_stall.so", dir);
    void *h = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    ck_assert_ptr_nonnull(h);
    *(void **)&stall_release = dlsym(h, "stall_release");
    *(void **)&stall_held = dlsym(h, "stall_held");
    stall_admit_answer = dlsym(h, "stall_admit_answer");
    stall_releases = dlsym(h, "stall_releases");
    stall_connections_released = dlsym(h, "stall_connections_released");
    ck_assert(stall_release && stall_held && stall_admit_answer && stall_releases &&
              stall_connections_released);
    *stall_admit_answer = 1;
    *stall_releases = 0;
    *stall_connections_released = 0;
    dlclose(h);
}

/* A connection may keep connectionLimits.maxPendingRequests operations waiting for the
 * cluster; past them it is refused, and a connection that closes while they wait is freed
 * once they are answered (the use-after-free of a wrapped reference count). */
START_TEST(test_pending_budget)
{
    const char *env[] = {"SOKETI_ADAPTER_DRIVER=stall",
                         "SOKETI_CONNECTION_LIMITS_MAX_PENDING_REQUESTS=5",
                         "SOKETI_DEFAULT_APP_ENABLE_CLIENT_MESSAGES=true", NULL};
    start_stalled(env);
    char id[64];
    skt_socket_t *s = client(id);
    char ch[32], cd[64];
    for (int i = 0; i < 8; i++) {
        snprintf(ch, sizeof(ch), "presence-%d", i);
        snprintf(cd, sizeof(cd), "{\"user_id\":\"u%d\"}", i);
        subscribe_auth(s, id, ch, cd);
    }
    ck_assert_uint_eq(stall_held(), 5);
    for (int i = 0; i < 3; i++)
        expect_str(s, "Too many requests of this connection wait for an answer (5)");
    expect_none(s);
    ck_assert_uint_eq(s->pending, 5);
    /* the answers arrive: each subscription goes on (and asks for its members) */
    ck_assert_uint_eq(stall_release(SOKETI_OK), 5);
    ck_assert_uint_eq(stall_held(), 5);
    ck_assert_uint_eq(stall_release(SOKETI_OK), 5);
    for (int i = 0; i < 5; i++)
        expect_str(s, "subscription_succeeded");
    ck_assert_uint_eq(s->pending, 0);
    /* again, and the client goes away while they wait */
    for (int i = 0; i < 5; i++) {
        snprintf(ch, sizeof(ch), "presence-x%d", i);
        subscribe_auth(s, id, ch, "{\"user_id\":\"u\"}");
    }
    fake_close(s); /* its 5 presence channels ask who is left: 5 more queries */
    ck_assert_uint_eq(stall_release(SOKETI_OK), 10);
    ck_assert_uint_eq(stall_held(), 0);
    stop();
}
END_TEST

/* A repeated presence subscribe asks the cluster nothing (Pusher's answer, at once). */
START_TEST(test_presence_resubscribe_costs_nothing)
{
    const char *env[] = {"SOKETI_ADAPTER_DRIVER=stall", NULL};
    start_stalled(env);
    char id[64];
    skt_socket_t *s = client(id);
    subscribe_auth(s, id, "presence-r", "{\"user_id\":\"u\"}");
    stall_release(SOKETI_OK);
    stall_release(SOKETI_OK);
    expect_str(s, "subscription_succeeded");
    for (int i = 0; i < 300; i++)
        subscribe_auth(s, id, "presence-r", "{\"user_id\":\"u\"}");
    ck_assert_uint_eq(stall_held(), 0);
    for (int i = 0; i < 300; i++)
        expect_str(s, "{\"event\":\"pusher:error\",\"data\":{\"code\":null,\"message\":"
                      "\"Existing subscription to channel presence-r\"}}");
    expect_none(s);
    fake_close(s);
    stop();
}
END_TEST

/* With an adapter that admits members (cluster_admit), its answer decides the member
 * limit; an admission nobody uses is given back, and every leave releases. */
START_TEST(test_cluster_admit)
{
    const char *env[] = {"SOKETI_ADAPTER_DRIVER=stall", NULL};
    start_stalled(env);
    char id[3][64];
    skt_socket_t *s[3];
    for (int i = 0; i < 3; i++)
        s[i] = client(id[i]);
    /* the cluster is full */
    *stall_admit_answer = 0;
    subscribe_auth(s[0], id[0], "presence-a", "{\"user_id\":\"u\"}");
    ck_assert_uint_eq(stall_release(SOKETI_OK), 1);
    expect_str(s[0], "The maximum members per presence channel limit was reached");
    ck_assert_uint_eq(s[0]->pending, 0);
    /* admitted: join, then the member list */
    *stall_admit_answer = 2;
    subscribe_auth(s[0], id[0], "presence-a", "{\"user_id\":\"u\"}");
    ck_assert_uint_eq(stall_release(SOKETI_OK), 1);
    ck_assert_uint_eq(stall_release(SOKETI_OK), 1);
    expect_str(s[0], "subscription_succeeded");
    /* the same user's second socket here needs no admission: only the member list */
    subscribe_auth(s[1], id[1], "presence-a", "{\"user_id\":\"u\"}");
    ck_assert_uint_eq(stall_held(), 1);
    ck_assert_uint_eq(stall_release(SOKETI_OK), 1);
    expect_str(s[1], "subscription_succeeded");
    /* the adapter cannot tell: the cluster's count decides */
    subscribe_auth(s[2], id[2], "presence-b", "{\"user_id\":\"w\"}");
    ck_assert_uint_eq(stall_release(SOKETI_ERROR), 1); /* the admission */
    ck_assert_uint_eq(stall_release(SOKETI_OK), 1);    /* the count */
    ck_assert_uint_eq(stall_release(SOKETI_OK), 1);    /* the members */
    expect_str(s[2], "subscription_succeeded");
    /* admitted for a socket gone meanwhile: given back */
    subscribe_auth(s[2], id[2], "presence-c", "{\"user_id\":\"w\"}");
    fake_close(s[2]); /* it leaves presence-b too: one release */
    ck_assert_int_eq(*stall_releases, 1);
    stall_release(SOKETI_OK); /* the admission (and presence-b's members) */
    ck_assert_int_eq(*stall_releases, 2);
    /* u's last socket here leaves: released, whatever the webhooks */
    fake_close(s[0]);
    ck_assert_int_eq(*stall_releases, 2);
    fake_close(s[1]);
    ck_assert_int_eq(*stall_releases, 3);
    stall_release(SOKETI_OK);
    stop();
}
END_TEST

/* With an adapter that counts connections (cluster_connection), its answer decides
 * maxConnections; a connection it admitted is given back when it closes (or when it closed
 * before the answer), and when it cannot tell, the cluster's count decides. */
START_TEST(test_cluster_connection)
{
    const char *env[] = {"SOKETI_ADAPTER_DRIVER=stall", "SOKETI_DEFAULT_APP_MAX_CONNS=2", NULL};
    start_stalled(env);
    /* full */
    *stall_admit_answer = 0;
    skt_socket_t *s = fake_ws_open(srv, KEY);
    ck_assert_uint_eq(stall_release(SOKETI_OK), 1);
    expect_str(s, "The current concurrent connections quota has been reached.");
    fake_close(s);
    ck_assert_int_eq(*stall_connections_released, 0);
    /* admitted, then closed: given back once */
    *stall_admit_answer = 1;
    s = fake_ws_open(srv, KEY);
    ck_assert_uint_eq(stall_release(SOKETI_OK), 1);
    expect_str(s, "pusher:connection_established");
    fake_close(s);
    ck_assert_int_eq(*stall_connections_released, 1);
    /* admitted for a connection gone meanwhile: given back */
    s = fake_ws_open(srv, KEY);
    fake_close(s);
    ck_assert_uint_eq(stall_release(SOKETI_OK), 1);
    ck_assert_int_eq(*stall_connections_released, 2);
    /* the adapter cannot tell: sockets_count decides, and nothing is given back */
    s = fake_ws_open(srv, KEY);
    ck_assert_uint_eq(stall_release(SOKETI_ERROR), 1); /* the admission */
    ck_assert_uint_eq(stall_release(SOKETI_OK), 1);    /* the count: 0 */
    expect_str(s, "pusher:connection_established");
    fake_close(s);
    ck_assert_int_eq(*stall_connections_released, 2);
    stop();
}
END_TEST

/* One connection in at most connectionLimits.maxChannels channels. */
START_TEST(test_channel_budget)
{
    const char *env[] = {"SOKETI_CONNECTION_LIMITS_MAX_CHANNELS=100", NULL};
    start(env);
    char id[64];
    skt_socket_t *s = client(id);
    for (int i = 0; i < 120; i++)
        sendf(s, "{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":\"c%d\"}}", i);
    for (int i = 0; i < 100; i++)
        expect_str(s, "subscription_succeeded");
    for (int i = 0; i < 20; i++)
        expect_str(s, "The connection is subscribed to the maximum of 100 channels.");
    ck_assert_uint_eq(s->nsubs, 100);
    /* subscribing again to one it is in still answers; leaving makes room */
    sendf(s, "{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":\"c5\"}}");
    expect_str(s, "subscription_succeeded");
    sendf(s, "{\"event\":\"pusher:unsubscribe\",\"data\":{\"channel\":\"c5\"}}");
    sendf(s, "{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":\"new\"}}");
    expect_str(s, "subscription_succeeded");
    fake_close(s);
    stop();
}
END_TEST

/* Answers never echo more than a bounded prefix of a client's input. */
START_TEST(test_bounded_echo)
{
    start(NULL);
    char id[64];
    skt_socket_t *s = client(id);
    size_t n = 60000;
    char *name = malloc(n + 1);
    memset(name, 'x', n);
    name[n] = '\0';
    char *msg = malloc(n + 100);
    snprintf(msg, n + 100, "{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":\"%s\"}}", name);
    fake_ws_send(s, msg);
    char *answer = fake_next(s);
    ck_assert_ptr_nonnull(answer);
    ck_assert(strstr(answer, "LimitReached"));
    ck_assert_uint_lt(strlen(answer), 2000);
    free(answer);
    free(msg);
    free(name);
    fake_close(s);
    stop();
}
END_TEST

/* What a client or the HTTP API may send, one set of rules (issue: input hygiene). */
START_TEST(test_input_hygiene)
{
    start(NULL);
    char *body = NULL;
    /* %00 in a path cuts nothing short: refused */
    const char *raw = "GET /app/app-key%00x HTTP/1.1\r\nUpgrade: websocket\r\n\r\n";
    ck_assert_int_eq(fake_http(srv, 0, raw, strlen(raw), NULL), 400);
    ck_assert_int_eq(rest("POST", "/apps/app-id%00/events",
                          "{\"name\":\"e\",\"channel\":\"c\",\"data\":\"d\"}", SECRET, &body),
                     400);
    free(body);
    /* the REST API refuses the channel names the WebSocket side refuses */
    ck_assert_int_eq(rest("POST", "/apps/app-id/events",
                          "{\"name\":\"e\",\"channel\":\"a\\u0001b\",\"data\":\"d\"}", SECRET,
                          &body),
                     400);
    ck_assert(strstr(body, "The channel name is not allowed"));
    free(body);
    char ev[600];
    snprintf(ev, sizeof(ev), "{\"name\":\"e\",\"channels\":[\"ok\",\"%0*d\"],\"data\":\"d\"}", 300,
             0);
    ck_assert_int_eq(rest("POST", "/apps/app-id/events", ev, SECRET, &body), 400);
    ck_assert(strstr(body, "longer than the allowed 200"));
    free(body);
    ck_assert_int_eq(rest("POST", "/apps/app-id/events",
                          "{\"name\":\"e\",\"channel\":\"#server-to-user-a@b.c\",\"data\":\"d\"}",
                          SECRET, &body),
                     200);
    free(body);
    /* a user id with a NUL is no user id */
    char id[64];
    skt_socket_t *s = client(id);
    subscribe_auth(s, id, "presence-n", "{\"user_id\":\"a\\u0000b\"}");
    expect_str(s, "ServerError");
    fake_close(s);
    stop();
}
END_TEST

static Suite *
protocol_suite(void)
{
    Suite *s = suite_create("protocol");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_connect);
    tcase_add_test(tc, test_subscribe_public);
    tcase_add_test(tc, test_subscribe_private);
    tcase_add_test(tc, test_presence_members);
    tcase_add_test(tc, test_presence_limits);
    tcase_add_test(tc, test_presence_typed_ids);
    tcase_add_test(tc, test_rest_events_info);
    tcase_add_test(tc, test_subscription_count_event);
    tcase_add_test(tc, test_client_events);
    tcase_add_test(tc, test_client_events_disabled_and_presence);
    tcase_add_test(tc, test_signin);
    tcase_add_test(tc, test_signin_deadline);
    tcase_add_test(tc, test_rest_events);
    tcase_add_test(tc, test_rest_queries);
    tcase_add_test(tc, test_cache_channels);
    tcase_add_test(tc, test_pending_budget);
    tcase_add_test(tc, test_presence_resubscribe_costs_nothing);
    tcase_add_test(tc, test_cluster_admit);
    tcase_add_test(tc, test_cluster_connection);
    tcase_add_test(tc, test_channel_budget);
    tcase_add_test(tc, test_bounded_echo);
    tcase_add_test(tc, test_input_hygiene);
    suite_add_tcase(s, tc);
    return s;
}

SKT_CHECK_MAIN(protocol_suite)
