/* sigv4.c - AWS Signature Version 4: canonical request, string to sign, derived key.
 *
 * The canonical request is built in one heap buffer sized from its parts; everything else
 * is on the stack. See sigv4.h.
 */
#include "features/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/hex.h"

long
skt_sigv4_uri_encode(const char *in, int keep_slash, char *out, size_t cap)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
        int plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                    (*p >= '0' && *p <= '9') || strchr("-_.~", *p) || (keep_slash && *p == '/');
        size_t need = plain ? 1 : 3;
        if (o + need >= cap)
            return -1;
        if (plain) {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = skt_hex_digit(*p >> 4, 1);
            out[o++] = skt_hex_digit(*p, 1);
        }
    }
    if (o >= cap)
        return -1;
    out[o] = '\0';
    return (long)o;
}

/* Lower-case hex SHA-256 of data; 0, or -1 when libcrypto fails. */
static int
sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
        return -1;
    skt_hex_encode(md, 32, out, 0);
    return 0;
}

/* out = HMAC-SHA256(key, msg); 0, or -1 when libcrypto fails. */
static int
hmac(const void *key, size_t klen, const char *msg, unsigned char out[32])
{
    unsigned int len = 0;
    return HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, strlen(msg), out, &len) &&
                   len == 32
               ? 0
               : -1;
}

static int
by_name(const void *a, const void *b)
{
    const skt_sigv4_header_t *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

/* The canonical request's hex SHA-256 (sorted: the headers in name order) and the signed
 * header names joined with ';' into names (cap bytes). 0, or -1. */
static int
canonical_hash(const skt_sigv4_req_t *r, const skt_sigv4_header_t **sorted, char *names, size_t cap,
               char hash[65])
{
    char body_hash[65], path[2048];
    /* every service but S3: the (already encoded) path is encoded once more */
    if (skt_sigv4_uri_encode(r->path, 1, path, sizeof(path)) < 0 ||
        sha256_hex(r->body ? r->body : "", r->body_len, body_hash) != 0)
        return -1;
    size_t size = strlen(r->method) + strlen(path) + 2 * cap + 64 + 4;
    for (size_t i = 0; i < r->nheaders; i++)
        size += strlen(sorted[i]->name) + strlen(sorted[i]->value) + 2;
    char *c = malloc(size);
    if (!c)
        return -1;
    size_t o = (size_t)snprintf(c, size, "%s\n%s\n\n", r->method, path), n = 0;
    names[0] = '\0';
    for (size_t i = 0; i < r->nheaders; i++) {
        o += (size_t)snprintf(c + o, size - o, "%s:%s\n", sorted[i]->name, sorted[i]->value);
        int w = snprintf(names + n, cap - n, "%s%s", i ? ";" : "", sorted[i]->name);
        if (w < 0 || (size_t)w >= cap - n) {
            free(c);
            return -1;
        }
        n += (size_t)w;
    }
    o += (size_t)snprintf(c + o, size - o, "\n%s\n%s", names, body_hash);
    int rc = sha256_hex(c, o, hash);
    free(c);
    return rc;
}

/* The signature of the string to sign with the key derived for scope (date, region,
 * service), in hex. 0, or -1. */
static int
sign(const skt_sigv4_req_t *r, const char *date, const char *to_sign, char out[65])
{
    char k0[256];
    unsigned char k1[32], k2[32];
    if (snprintf(k0, sizeof(k0), "AWS4%s", r->secret) >= (int)sizeof(k0))
        return -1;
    if (hmac(k0, strlen(k0), date, k1) || hmac(k1, 32, r->region, k2) ||
        hmac(k2, 32, r->service, k1) || hmac(k1, 32, "aws4_request", k2) ||
        hmac(k2, 32, to_sign, k1))
        return -1;
    skt_hex_encode(k1, 32, out, 0);
    return 0;
}

int
skt_sigv4_authorization(const skt_sigv4_req_t *r, char *out, size_t cap)
{
    const skt_sigv4_header_t *sorted[SKT_SIGV4_MAX_HEADERS];
    char names[512], hash[65], scope[256], to_sign[512], sig[65], date[9];
    if (cap)
        out[0] = '\0';
    if (r->nheaders > SKT_SIGV4_MAX_HEADERS || strlen(r->amz_date) != 16)
        return -1;
    for (size_t i = 0; i < r->nheaders; i++)
        sorted[i] = &r->headers[i];
    qsort(sorted, r->nheaders, sizeof(sorted[0]), by_name);
    memcpy(date, r->amz_date, 8);
    date[8] = '\0';
    int n = snprintf(scope, sizeof(scope), "%s/%s/%s/aws4_request", date, r->region, r->service);
    if (n < 0 || (size_t)n >= sizeof(scope) ||
        canonical_hash(r, sorted, names, sizeof(names), hash) != 0)
        return -1;
    n = snprintf(to_sign, sizeof(to_sign), "AWS4-HMAC-SHA256\n%s\n%s\n%s", r->amz_date, scope,
                 hash);
    if (n < 0 || (size_t)n >= sizeof(to_sign) || sign(r, date, to_sign, sig) != 0)
        return -1;
    n = snprintf(out, cap, "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
                 r->key_id, scope, names, sig);
    if (n < 0 || (size_t)n >= cap) {
        if (cap)
            out[0] = '\0';
        return -1;
    }
    return 0;
}
