/* fuzz_http_query.c - libFuzzer target: query strings and percent-decoding
 * (src/net/http_parse.h: skt_http_query_next, skt_http_urldecode).
 *
 * The input is a raw query string. Checks: the iterator's slices lie inside it and cover it
 * in order, it ends, and decoding each key and value (into a separate buffer and in place)
 * agrees with a reference decoder written here.
 */
#include "fuzz.h"

#include <sys/types.h>

#include "net/http_parse.h"

static int
hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Reference percent-decoding: '+' is a space, "%XY" a byte, anything else malformed. */
static ssize_t
ref_decode(char *dst, const char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            if (i + 2 >= n)
                return -1;
            int hi = hexval((unsigned char)s[i + 1]), lo = hexval((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            dst[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            dst[o++] = s[i] == '+' ? ' ' : s[i];
        }
    }
    return (ssize_t)o;
}

/* Decodes s[0..n) both ways and against the reference. */
static void
check_decode(const char *s, size_t n)
{
    char *out = fz_copy(s, n), *inplace = fz_copy(s, n), *ref = fz_copy(s, n);
    ssize_t r = skt_http_urldecode(out, s, n);
    ssize_t r2 = skt_http_urldecode(inplace, inplace, n);
    ssize_t rr = ref_decode(ref, s, n);
    FZ_CHECK(r == rr && r2 == rr);
    if (r >= 0) {
        FZ_CHECK((size_t)r <= n);
        FZ_CHECK(memcmp(out, ref, (size_t)r) == 0 && memcmp(inplace, ref, (size_t)r) == 0);
    }
    free(out);
    free(inplace);
    free(ref);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *q = fz_copy(data, size);
    size_t pos = 0, last_end = 0, klen, vlen, pairs = 0;
    const char *k, *v;

    while (skt_http_query_next(q, size, &pos, &k, &klen, &v, &vlen)) {
        FZ_CHECK(k >= q + last_end && k + klen <= q + size);
        FZ_CHECK(v >= k + klen && v + vlen <= q + size);
        FZ_CHECK(memchr(k, '&', klen) == NULL && memchr(k, '=', klen) == NULL);
        FZ_CHECK(memchr(v, '&', vlen) == NULL);
        FZ_CHECK(klen + vlen > 0 || v > k);
        FZ_CHECK(pos <= size && (size_t)(v + vlen - q) <= pos);
        last_end = (size_t)(v + vlen - q);
        FZ_CHECK(++pairs <= size);
        check_decode(k, klen);
        check_decode(v, vlen);
    }
    check_decode(q, size);
    free(q);
    return 0;
}
