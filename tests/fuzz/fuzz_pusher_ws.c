/* fuzz_pusher_ws.c - libFuzzer target: the Pusher message handler, sequences of messages
 * from several clients, over the fake net (tests/fake_net.h).
 *
 * One server (the real handlers and adapter_local.so, an app with client events and user
 * authentication on) lives for the whole run. Each input is newline-separated steps; a
 * step's first byte picks one of three clients (b % 3) and what it does ((b / 3) % 6):
 *   0  send the rest of the line as it is (any JSON, or none)
 *   1  subscribe to the channel named by the rest, with a valid private-channel auth
 *   2  subscribe to presence channel <rest up to a tab> with channel_data <after it>, signed
 *   3  sign in with user_data <rest>, signed
 *   4  send a client event on channel <rest up to a tab> with data <after it>
 *   5  close the client and connect it again
 * The signatures are computed here, so the fuzzer reaches what lies behind them. After the
 * steps every client closes. Checks: every message a client was sent is valid JSON, and
 * once the clients are gone the app has no socket, channel or user left.
 */
#include "fuzz.h"

#include <event2/event.h>
#include <jansson.h>

#include "fake_net.h"
#include "pusher/sig.h"

#ifndef FZ_PLUGIN_DIR
#define FZ_PLUGIN_DIR "plugins/.libs"
#endif

#define KEY "app-key"
#define SECRET "app-secret"
#define CLIENTS 3

static skt_server_t *srv;

static void
fz_start(void)
{
    json_object_seed(1);
    static const char *const env[] = {"SOKETI_DEFAULT_APP_ENABLE_CLIENT_MESSAGES=true",
                                      "SOKETI_DEFAULT_APP_USER_AUTHENTICATION=true",
                                      "SOKETI_CONNECTION_LIMITS_MAX_CHANNELS=50",
                                      "SOKETI_PRESENCE_MAX_MEMBERS=5", NULL};
    const char *dir =
        getenv("SOKETI_PLUGIN_DIR_TEST") ? getenv("SOKETI_PLUGIN_DIR_TEST") : FZ_PLUGIN_DIR;
    srv = fake_server_new(env, dir);
}

FZ_INITIALIZE(fz_start())

/* Reads every message sent to s: each must be JSON. */
static void
fz_drain(skt_socket_t *s)
{
    char *m;
    while ((m = fake_next(s))) {
        json_t *v = json_loads(m, 0, NULL);
        FZ_CHECK(v != NULL);
        json_decref(v);
        free(m);
    }
}

/* Sends {"event":event,"data":data} (data: a JSON value) on s. */
static void
fz_send(skt_socket_t *s, json_t *msg)
{
    char *text = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    if (text)
        fake_ws_send(s, text);
    free(text);
}

/* Splits a step's argument at its first tab: a and b (both NUL-terminated heap copies). */
static void
fz_split(const uint8_t *p, size_t n, char **a, char **b)
{
    const uint8_t *tab = memchr(p, '\t', n);
    size_t al = tab ? (size_t)(tab - p) : n;
    *a = fz_cstr(p, al);
    *b = tab ? fz_cstr(tab + 1, n - al - 1) : fz_cstr("", 0);
}

static void
fz_subscribe_signed(skt_socket_t *s, const char *channel, const char *data)
{
    char *auth =
        skt_sig_channel_auth_new(KEY, SECRET, s->id, channel, data, data ? strlen(data) : 0);
    json_t *d = json_pack("{s:s, s:s}", "channel", channel, "auth", auth ? auth : "");
    if (data)
        json_object_set_new(d, "channel_data", json_string(data));
    free(auth);
    fz_send(s, json_pack("{s:s, s:o}", "event", "pusher:subscribe", "data", d));
}

static void
fz_signin(skt_socket_t *s, const char *user_data)
{
    char msg[4096], hex[65], auth[128];
    snprintf(msg, sizeof(msg), "%s::user::%s", s->id, user_data);
    skt_sig_hmac_sha256_hex(SECRET, strlen(SECRET), msg, strlen(msg), hex);
    snprintf(auth, sizeof(auth), "%s:%s", KEY, hex);
    fz_send(s, json_pack("{s:s, s:{s:s, s:s}}", "event", "pusher:signin", "data", "user_data",
                         user_data, "auth", auth));
}

/* 1 when s is valid UTF-8 (jansson refuses to build strings of anything else). */
static int
fz_utf8(const char *s)
{
    json_t *v = json_string(s);
    json_decref(v);
    return v != NULL;
}

/* One step of the input. */
static void
fz_step(skt_socket_t **clients, const uint8_t *p, size_t n)
{
    if (!n)
        return;
    skt_socket_t **c = &clients[p[0] % CLIENTS];
    unsigned op = (p[0] / CLIENTS) % 6;
    p++, n--;
    char *a, *b;
    if (op == 5 || fake_closed(*c)) {
        fz_drain(*c);
        fake_close(*c);
        *c = fake_ws_open(srv, KEY);
        return;
    }
    if (op == 0) {
        char *text = fz_cstr(p, n);
        fake_ws_send(*c, text);
        free(text);
        return;
    }
    fz_split(p, n, &a, &b);
    if (fz_utf8(a) && fz_utf8(b)) {
        if (op == 1)
            fz_subscribe_signed(*c, a, NULL);
        else if (op == 2)
            fz_subscribe_signed(*c, a, b);
        else if (op == 3)
            fz_signin(*c, a);
        else
            fz_send(*c, json_pack("{s:s, s:s, s:s}", "event", "client-f", "channel", a, "data", b));
    }
    free(a);
    free(b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    skt_socket_t *clients[CLIENTS];
    for (int i = 0; i < CLIENTS; i++)
        clients[i] = fake_ws_open(srv, KEY);
    fz_in_t in = {data, size};
    while (in.n) {
        size_t n;
        const uint8_t *p = fz_field(&in, &n);
        fz_step(clients, p, n);
    }
    for (int i = 0; i < CLIENTS; i++) {
        fz_drain(clients[i]);
        fake_close(clients[i]);
    }
    skt_ns_t *ns = skt_ns_find(srv->namespaces, "app-id", 6);
    FZ_CHECK(!ns || (skt_map_count(ns->sockets) == 0 && skt_map_count(ns->channels) == 0 &&
                     skt_map_count(ns->users) == 0));
    return 0;
}
