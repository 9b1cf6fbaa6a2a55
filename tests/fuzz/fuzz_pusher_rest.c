/* fuzz_pusher_rest.c - libFuzzer target: the HTTP API's routes behind the signature check,
 * over the fake net (tests/fake_net.h).
 *
 * One server (the real handlers, adapter_local.so) lives for the whole run, with a few
 * clients in public, private-cache and presence channels so that the read routes have
 * something to answer. An input's first byte picks the route, the rest is newline-separated
 * fields:
 *   0 POST /apps/app-id/events         body
 *   1 POST /apps/app-id/batch_events   body
 *   2 GET  /apps/app-id/channels       filter_by_prefix, info
 *   3 GET  /apps/app-id/channels/<name>        name (as it goes in the path)
 *   4 GET  /apps/app-id/channels/<name>/users  name, with_user_info
 *   5 POST /apps/app-id/users/<id>/terminate_connections  id
 *   6 any method and path of the fields: method, path, body
 * Each request is signed here the way the `pusher` SDKs sign it, so the fuzzer reaches what
 * lies behind the signature. Checks: every /apps/ answer is JSON, and a request the
 * router takes is answered at once (the local adapter and limiter answer synchronously).
 */
#include "fuzz.h"

#include <event2/event.h>
#include <jansson.h>
#include <time.h>

#include "fake_net.h"
#include "net/http_parse.h"
#include "pusher/sig.h"

#ifndef FZ_PLUGIN_DIR
#define FZ_PLUGIN_DIR "plugins/.libs"
#endif

#define KEY "app-key"
#define SECRET "app-secret"

static skt_server_t *srv;
static skt_socket_t *members[4];
static int nmembers;

/* A client in channel (signed when it needs it), kept for the whole run. */
static void
fz_member(const char *channel, const char *channel_data)
{
    skt_socket_t *s = fake_ws_open(srv, KEY);
    members[nmembers++] = s;
    char *auth = skt_sig_channel_auth_new(KEY, SECRET, s->id, channel, channel_data,
                                          channel_data ? strlen(channel_data) : 0);
    json_t *d = json_pack("{s:s, s:s}", "channel", channel, "auth", auth ? auth : "");
    if (channel_data)
        json_object_set_new(d, "channel_data", json_string(channel_data));
    free(auth);
    json_t *msg = json_pack("{s:s, s:o}", "event", "pusher:subscribe", "data", d);
    char *text = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    fake_ws_send(s, text);
    free(text);
}

static void
fz_start(void)
{
    json_object_seed(1);
    static const char *const env[] = {"SOKETI_PRESENCE_MAX_MEMBERS=5", NULL};
    const char *dir =
        getenv("SOKETI_PLUGIN_DIR_TEST") ? getenv("SOKETI_PLUGIN_DIR_TEST") : FZ_PLUGIN_DIR;
    srv = fake_server_new(env, dir);
    fz_member("news", NULL);
    fz_member("private-cache-x", NULL);
    fz_member("presence-room", "{\"user_id\":\"u1\",\"user_info\":{\"n\":1}}");
    fz_member("presence-room", "{\"user_id\":2}");
}

FZ_INITIALIZE(fz_start())

/* Makes the signed request and checks its answer. */
static void
fz_request(const char *method, const char *path, const char *query, const char *body, size_t blen)
{
    char ts[24], md5[33], sig[65];
    snprintf(ts, sizeof(ts), "%lld", (long long)time(NULL));
    skt_sig_md5_hex(body, blen, md5);
    skt_sig_param_t params[8] = {
        {"auth_key", 8, KEY, strlen(KEY)},
        {"auth_timestamp", 14, ts, strlen(ts)},
        {"auth_version", 12, "1.0", 3},
        {"body_md5", 8, md5, 32},
    };
    size_t np = blen ? 4 : 3;
    /* the fuzzed query's own parameters, decoded, join the signature as the server sees them */
    size_t qlen = strlen(query), pos = 0, kl, vl, used = 0;
    const char *k, *v;
    char *dec = malloc(qlen + 1);
    while (np < 8 && skt_http_query_next(query, qlen, &pos, &k, &kl, &v, &vl)) {
        ssize_t dk = skt_http_urldecode(dec + used, k, kl);
        ssize_t dv = dk < 0 ? -1 : skt_http_urldecode(dec + used + dk, v, vl);
        if (dv < 0)
            break;
        params[np++] = (skt_sig_param_t){dec + used, (size_t)dk, dec + used + dk, (size_t)dv};
        used += (size_t)(dk + dv);
    }
    skt_sig_http_sign(SECRET, method, path, strlen(path), params, np, body, blen, sig);
    free(dec);
    size_t cap = strlen(method) + strlen(path) + qlen + blen + 512;
    char *raw = malloc(cap);
    int n = snprintf(raw, cap,
                     "%s %s?auth_key=%s&auth_timestamp=%s&auth_version=1.0%s%s%s%s"
                     "&auth_signature=%s HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n",
                     method, path, KEY, ts, blen ? "&body_md5=" : "", blen ? md5 : "",
                     qlen ? "&" : "", query, sig, blen);
    memcpy(raw + n, body, blen);
    char *answer = NULL;
    int status = fake_http(srv, 0, raw, (size_t)n + blen, &answer);
    if (status >= 0 && strncmp(path, "/apps/", 6) == 0 && answer && *answer) {
        json_t *parsed = json_loads(answer, 0, NULL);
        FZ_CHECK(parsed != NULL || status == 404);
        json_decref(parsed);
    }
    free(answer);
    free(raw);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in_t in = {data, size};
    unsigned route = fz_byte(&in) % 7;
    char *f1 = fz_field_cstr(&in), *f2 = fz_field_cstr(&in);
    char path[600], query[600] = "";
    switch (route) {
    case 0:
    case 1:
        fz_request("POST", route ? "/apps/app-id/batch_events" : "/apps/app-id/events", "", f1,
                   strlen(f1));
        break;
    case 2:
        snprintf(query, sizeof(query), "filter_by_prefix=%.200s&info=%.200s", f1, f2);
        fz_request("GET", "/apps/app-id/channels", query, "", 0);
        break;
    case 3:
    case 4:
        snprintf(path, sizeof(path), "/apps/app-id/channels/%.400s%s", f1,
                 route == 4 ? "/users" : "");
        snprintf(query, sizeof(query), "%s", route == 4 && *f2 ? "with_user_info=1" : "");
        fz_request("GET", path, query, "", 0);
        break;
    case 5:
        /* not u1 or 2: the clients of the channels stay */
        snprintf(path, sizeof(path), "/apps/app-id/users/x%.400s/terminate_connections", f1);
        fz_request("POST", path, "", "{}", 2);
        break;
    default: {
        char *body = fz_field_cstr(&in);
        fz_request(*f1 ? f1 : "GET", *f2 == '/' ? f2 : "/apps/app-id/channels", "", body,
                   strlen(body));
        free(body);
    }
    }
    free(f1);
    free(f2);
    for (int i = 0; i < nmembers; i++) /* what the events sent them */
        fake_drain(members[i]);
    return 0;
}
