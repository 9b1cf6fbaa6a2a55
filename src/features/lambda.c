/* lambda.c - lambda_function webhooks: the Invoke URL, soketi's Payload, signed headers.
 *
 * A target is resolved when a webhook is queued and copied into its delivery, so a reload
 * never changes a request under way; each attempt is signed again (SigV4 signatures are
 * valid for minutes, retries can come later). See lambda.h.
 */
#include "features/lambda.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "features/curl_loop.h"
#include "features/sigv4.h"

/* ------------------------------------------------------------ credentials */

static char *
env_dup(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? strdup(v) : NULL;
}

void
skt_lambda_env_read(skt_lambda_env_t *env)
{
    env->key_id = env_dup("AWS_ACCESS_KEY_ID");
    env->secret = env_dup("AWS_SECRET_ACCESS_KEY");
    env->token = env_dup("AWS_SESSION_TOKEN");
}

void
skt_lambda_env_free(skt_lambda_env_t *env)
{
    free(env->key_id);
    free(env->secret);
    free(env->token);
    env->key_id = env->secret = env->token = NULL;
}

/* 1 when s is non-empty printable ASCII (it goes into a header line). */
static int
printable(const char *s)
{
    if (!s || !*s)
        return 0;
    for (; *s; s++)
        if (*s < 0x20 || *s > 0x7e)
            return 0;
    return 1;
}

/* The credentials of client_options (its "credentials" object, else its own
 * accessKeyId/secretAccessKey/sessionToken, as aws-sdk v2 reads them), else env's. */
static int
credentials(skt_lambda_target_t *t, const json_t *co, const skt_lambda_env_t *env, char *err,
            size_t errlen)
{
    const json_t *c = json_object_get(co, "credentials");
    if (!json_is_object(c))
        c = co;
    const char *key = json_string_value(json_object_get(c, "accessKeyId"));
    const char *secret = json_string_value(json_object_get(c, "secretAccessKey"));
    const char *token = json_string_value(json_object_get(c, "sessionToken"));
    const char *from = "lambda.client_options";
    if (!key || !*key || !secret || !*secret) {
        key = env->key_id;
        secret = env->secret;
        token = env->token;
        from = "the environment";
    }
    if (!key || !secret) {
        snprintf(err, errlen,
                 "no AWS credentials (lambda.client_options.credentials, or AWS_ACCESS_KEY_ID "
                 "and AWS_SECRET_ACCESS_KEY)");
        return -1;
    }
    if (strlen(key) > 128 || strlen(secret) > 128) {
        snprintf(err, errlen, "the AWS credentials of %s are longer than 128 characters", from);
        return -1;
    }
    if (!printable(key) || !printable(secret) || (token && *token && !printable(token))) {
        snprintf(err, errlen, "the AWS credentials of %s are not printable ASCII", from);
        return -1;
    }
    t->key_id = strdup(key);
    t->secret = strdup(secret);
    t->token = token && *token ? strdup(token) : NULL;
    if (!t->key_id || !t->secret || (token && *token && !t->token)) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ where to */

static int
region_ok(const char *r)
{
    size_t n = strlen(r);
    if (n == 0 || n > 63)
        return 0;
    return strspn(r, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

/* The endpoint's scheme://host[:port] into base (cap bytes), Host header into host, path
 * without trailing slashes into path: from client_options.endpoint (a scheme added when it
 * has none, https unless sslEnabled is false), else AWS's for region. 0, or -1. */
static int
endpoint(const json_t *co, const char *region, char *base, char *host, char *path, size_t cap,
         char *err, size_t errlen)
{
    const char *ep = json_string_value(json_object_get(co, "endpoint"));
    int ssl = !json_is_false(json_object_get(co, "sslEnabled"));
    char given[1024];
    if (ep && strstr(ep, "://"))
        snprintf(given, sizeof(given), "%s", ep);
    else if (ep)
        snprintf(given, sizeof(given), "%s://%s", ssl ? "https" : "http", ep);
    else
        snprintf(given, sizeof(given), "%s://lambda.%s.amazonaws.com%s", ssl ? "https" : "http",
                 region, strncmp(region, "cn-", 3) == 0 ? ".cn" : "");
    CURLU *u = curl_url();
    char *scheme = NULL, *h = NULL, *port = NULL, *p = NULL, *query = NULL;
    int rc = -1;
    if (!u || curl_url_set(u, CURLUPART_URL, given, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PATH, &p, 0) != CURLUE_OK ||
        (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) ||
        curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK) {
        snprintf(err, errlen, "lambda.client_options.endpoint is not an http:// or https:// URL");
        goto out;
    }
    curl_url_get(u, CURLUPART_PORT, &port, 0); /* only when the URL names one */
    size_t pl = strlen(p);
    while (pl && p[pl - 1] == '/')
        p[--pl] = '\0';
    if (snprintf(host, cap, "%s%s%s", h, port ? ":" : "", port ? port : "") >= (int)cap ||
        snprintf(base, cap, "%s://%s", scheme, host) >= (int)cap ||
        snprintf(path, cap, "%s", p) >= (int)cap) {
        snprintf(err, errlen, "lambda.client_options.endpoint is too long");
        goto out;
    }
    rc = 0;
out:
    curl_free(scheme);
    curl_free(h);
    curl_free(port);
    curl_free(p);
    curl_free(query);
    curl_url_cleanup(u);
    return rc;
}

/* t's url, host and path for function fn. 0, or -1. */
static int
locate(skt_lambda_target_t *t, const json_t *co, const char *fn, char *err, size_t errlen)
{
    char base[1024], host[1024], prefix[1024], name[1024], path[4096];
    if (endpoint(co, t->region, base, host, prefix, sizeof(base), err, errlen) != 0)
        return -1;
    if (!*fn || skt_sigv4_uri_encode(fn, 0, name, sizeof(name)) < 0) {
        snprintf(err, errlen, "lambda_function is empty or too long");
        return -1;
    }
    int n = snprintf(path, sizeof(path), "%s/2015-03-31/functions/%s/invocations", prefix, name);
    if (n < 0 || (size_t)n >= sizeof(path)) {
        snprintf(err, errlen, "lambda_function or the endpoint's path is too long");
        return -1;
    }
    size_t ul = strlen(base) + strlen(path) + 1;
    t->url = malloc(ul);
    t->host = strdup(host);
    t->path = strdup(path);
    if (!t->url || !t->host || !t->path) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    snprintf(t->url, ul, "%s%s", base, path);
    return 0;
}

skt_lambda_target_t *
skt_lambda_target(const json_t *hook, const skt_lambda_env_t *env, char *err, size_t errlen)
{
    const char *fn = json_string_value(json_object_get(hook, "lambda_function"));
    const json_t *lambda = json_object_get(hook, "lambda");
    const json_t *co = json_object_get(lambda, "client_options");
    const char *region = json_string_value(json_object_get(co, "region"));
    if (!region || !*region)
        region = json_string_value(json_object_get(lambda, "region"));
    if (!region || !*region)
        region = "us-east-1";
    skt_lambda_target_t *t = calloc(1, sizeof(*t));
    if (!t || !fn) {
        snprintf(err, errlen, t ? "no lambda_function" : "out of memory");
        free(t);
        return NULL;
    }
    t->async = json_is_true(json_object_get(lambda, "async"));
    if (!region_ok(region)) {
        snprintf(err, errlen, "region '%.64s' is not a region name ([a-z0-9-])", region);
    } else if (!(t->region = strdup(region))) {
        snprintf(err, errlen, "out of memory");
    } else if (locate(t, co, fn, err, errlen) == 0 && credentials(t, co, env, err, errlen) == 0) {
        return t;
    }
    skt_lambda_target_free(t);
    return NULL;
}

void
skt_lambda_target_free(skt_lambda_target_t *t)
{
    if (!t)
        return;
    free(t->url);
    free(t->host);
    free(t->path);
    free(t->region);
    free(t->key_id);
    free(t->secret);
    free(t->token);
    free(t);
}

void
skt_lambda_ignored_options(const json_t *hook, char *out, size_t cap)
{
    static const char *const honoured[] = {
        "region",      "endpoint",        "sslEnabled",   "credentials",
        "accessKeyId", "secretAccessKey", "sessionToken", "apiVersion",
    };
    size_t o = 0;
    const char *k;
    json_t *v;
    if (cap)
        out[0] = '\0';
    json_object_foreach(json_object_get(json_object_get(hook, "lambda"), "client_options"), k, v)
    {
        size_t i = 0;
        while (i < sizeof(honoured) / sizeof(honoured[0]) && strcmp(honoured[i], k) != 0)
            i++;
        if (i < sizeof(honoured) / sizeof(honoured[0]))
            continue;
        int w = snprintf(out + o, cap - o, "%s%.60s", o ? ", " : "", k);
        if (w < 0 || (size_t)w >= cap - o)
            return;
        o += (size_t)w;
    }
}

/* ------------------------------------------------------------ the request */

char *
skt_lambda_payload(const char *payload, size_t len, const json_t *headers, size_t *out_len)
{
    static const char head[] = "{\"payload\":", mid[] = ",\"headers\":";
    char *h = json_dumps(headers, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!h)
        return NULL;
    size_t hl = strlen(h), n = sizeof(head) - 1 + len + sizeof(mid) - 1 + hl + 1;
    char *out = malloc(n + 1);
    if (out) {
        char *p = out;
        memcpy(p, head, sizeof(head) - 1);
        p += sizeof(head) - 1;
        memcpy(p, payload, len);
        p += len;
        memcpy(p, mid, sizeof(mid) - 1);
        p += sizeof(mid) - 1;
        memcpy(p, h, hl);
        p += hl;
        memcpy(p, "}", 2);
        *out_len = n;
    }
    free(h);
    return out;
}

struct curl_slist *
skt_lambda_headers(const skt_lambda_target_t *t, const char *user_agent, const char *body,
                   size_t len, time_t now)
{
    struct tm tm;
    char date[17], auth[1024];
    const char *type = t->async ? "Event" : "RequestResponse";
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%Y%m%dT%H%M%SZ", &tm);
    skt_sigv4_header_t signed_headers[] = {
        {"host", t->host},
        {"x-amz-date", date},
        {"x-amz-invocation-type", type},
        {"x-amz-security-token", t->token},
    };
    skt_sigv4_req_t req = {.method = "POST",
                           .path = t->path,
                           .amz_date = date,
                           .region = t->region,
                           .service = "lambda",
                           .headers = signed_headers,
                           .nheaders = t->token ? 4 : 3,
                           .body = body,
                           .body_len = len,
                           .key_id = t->key_id,
                           .secret = t->secret};
    if (skt_sigv4_authorization(&req, auth, sizeof(auth)) != 0)
        return NULL;
    int ok = 1;
    struct curl_slist *l = skt_curl_add_header(NULL, "Host", t->host, &ok);
    l = skt_curl_add_header(l, "Content-Type", "application/json", &ok);
    l = skt_curl_add_header(l, "User-Agent", user_agent, &ok);
    l = skt_curl_add_header(l, "X-Amz-Invocation-Type", type, &ok);
    l = skt_curl_add_header(l, "X-Amz-Date", date, &ok);
    if (t->token)
        l = skt_curl_add_header(l, "X-Amz-Security-Token", t->token, &ok);
    l = skt_curl_add_header(l, "Authorization", auth, &ok);
    struct curl_slist *e = ok ? curl_slist_append(l, "Expect:") : NULL;
    if (!e) {
        curl_slist_free_all(l);
        return NULL;
    }
    return e;
}
