/* lambda.h - lambda_function webhooks: where an Invoke request goes, and how it is signed.
 *
 * soketi 1.6 (src/webhook-sender.ts) invokes a webhook's lambda_function with aws-sdk v2:
 *   new Lambda({apiVersion: '2015-03-31', region: lambda.region || 'us-east-1',
 *               ...lambda.client_options})
 *     .invoke({FunctionName: lambda_function,
 *              InvocationType: lambda.async ? 'Event' : 'RequestResponse',
 *              Payload: JSON.stringify({payload, headers})})
 * which is a POST of Payload to <endpoint>/2015-03-31/functions/<name>/invocations with
 * X-Amz-Invocation-Type, signed with SigV4 for service "lambda". This file resolves the
 * same options (client_options.region over lambda.region over us-east-1; endpoint, else
 * https://lambda.<region>.amazonaws.com, .com.cn for cn-* regions; sslEnabled) and the
 * credentials (client_options.credentials or its accessKeyId/secretAccessKey/sessionToken,
 * else the AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN environment). The
 * SDK's other credential sources (~/.aws files, instance or container roles) are not read.
 * The SDK ignores AWS_REGION here (soketi always passes a region), and so does this file.
 *
 * The request itself goes through the webhook sender like any other (webhooks.c): these
 * functions only build its URL, its Payload and, for each attempt, its signed headers.
 */
#ifndef SKT_FEATURES_LAMBDA_H
#define SKT_FEATURES_LAMBDA_H

#include <curl/curl.h>
#include <jansson.h>
#include <stddef.h>
#include <time.h>

/* Credentials from the environment, read once (skt_lambda_env_read); strings owned. */
typedef struct skt_lambda_env_s {
    char *key_id, *secret, *token; /* NULL when unset or empty */
} skt_lambda_env_t;

/* Where and how one webhook's invocations go; every string owned by the target. */
typedef struct skt_lambda_target_s {
    char *url;    /* <endpoint>/2015-03-31/functions/<name, URI-encoded>/invocations */
    char *host;   /* the Host header: host, and :port unless the scheme's default */
    char *path;   /* the URL's path, as sent and signed */
    char *region; /* [a-z0-9-] only */
    char *key_id, *secret, *token; /* token NULL when none */
    int async;                     /* lambda.async: InvocationType Event, else RequestResponse */
} skt_lambda_target_t;

/* Reads AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN into env. */
void skt_lambda_env_read(skt_lambda_env_t *env);
void skt_lambda_env_free(skt_lambda_env_t *env);

/* The target of webhook hook (an entry of an app's "webhooks" with a lambda_function), with
 * env's credentials when the hook names none. NULL with the reason in err (no credentials,
 * a region or endpoint that cannot be used, out of memory); err never holds a secret. */
skt_lambda_target_t *skt_lambda_target(const json_t *hook, const skt_lambda_env_t *env, char *err,
                                       size_t errlen);
void skt_lambda_target_free(skt_lambda_target_t *t);

/* The client_options keys of hook that soketi-c does not honour, joined with ", " into out
 * (cap bytes); "" when none. For a warning at startup. */
void skt_lambda_ignored_options(const json_t *hook, char *out, size_t cap);

/* soketi's Payload, {"payload":<payload>,"headers":<headers as JSON>}: payload is len bytes
 * of JSON text, headers an object. New string (its length in *out_len), NULL when out of
 * memory. */
char *skt_lambda_payload(const char *payload, size_t len, const json_t *headers, size_t *out_len);

/* The headers of one attempt of an invocation of body (len bytes) at time now, signed:
 * Host, Content-Type, User-Agent, X-Amz-Invocation-Type, X-Amz-Date, X-Amz-Security-Token
 * (with a session token), Authorization, and "Expect:" (no 100-continue round trip). A new
 * list for CURLOPT_HTTPHEADER, NULL when out of memory or the signature cannot be made. */
struct curl_slist *skt_lambda_headers(const skt_lambda_target_t *t, const char *user_agent,
                                      const char *body, size_t len, time_t now);

#endif
