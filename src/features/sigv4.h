/* sigv4.h - AWS Signature Version 4 for one request: the Authorization header's value.
 *
 * What the AWS SDKs compute (aws-sdk v2 lib/signers/v4.js, which soketi 1.6 uses to invoke
 * Lambda functions): a canonical request (method, canonical URI, query, the signed headers
 * sorted by name, their names, the body's hex SHA-256), hashed into a string to sign under
 * the credential scope <date>/<region>/<service>/aws4_request, and an HMAC-SHA256 with the
 * key derived from "AWS4" + secret through date, region, service and "aws4_request".
 *
 * For every service but S3 the canonical URI is the request path URI-encoded once more: a
 * path that carries %3A (a function ARN) is signed as %253A. libcurl's own SigV4 signer
 * (CURLOPT_AWS_SIGV4) signs the path as it is before curl 8.14, so soketi-c signs here,
 * identically on every libcurl, and hands curl ready-made headers.
 *
 * Pure computation over the caller's strings: nothing is kept between calls.
 */
#ifndef SKT_FEATURES_SIGV4_H
#define SKT_FEATURES_SIGV4_H

#include <stddef.h>

/* One header to sign: name in lower case, value as sent (no leading or trailing blanks). */
typedef struct skt_sigv4_header_s {
    const char *name;
    const char *value;
} skt_sigv4_header_t;

typedef struct skt_sigv4_req_s {
    const char *method;   /* "POST" */
    const char *path;     /* as sent, already URI-encoded; no query */
    const char *amz_date; /* the X-Amz-Date header's value, "20150830T123600Z" */
    const char *region;
    const char *service;
    const skt_sigv4_header_t *headers; /* signed: host and x-amz-date among them */
    size_t nheaders;                   /* at most SKT_SIGV4_MAX_HEADERS */
    const char *body;
    size_t body_len;
    const char *key_id; /* the access key id */
    const char *secret; /* the secret access key */
} skt_sigv4_req_t;

#define SKT_SIGV4_MAX_HEADERS 16

/* Writes "AWS4-HMAC-SHA256 Credential=<key_id>/<scope>, SignedHeaders=<names>,
 * Signature=<64 hex>" into out (cap bytes). 0, or -1 when it does not fit, a string is too
 * long, there are too many headers, or libcrypto fails (out is then ""). */
int skt_sigv4_authorization(const skt_sigv4_req_t *req, char *out, size_t cap);

/* URI-encodes in as the AWS SDKs do (every byte but A-Z a-z 0-9 - _ . ~ as %XX, upper-case
 * hex; '/' kept as it is when keep_slash) into out (cap bytes, NUL-terminated). Returns the
 * length, or -1 when it does not fit. */
long skt_sigv4_uri_encode(const char *in, int keep_slash, char *out, size_t cap);

#endif
