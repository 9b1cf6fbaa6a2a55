/* fuzz_http_chunked.c - libFuzzer target: the chunked body decoder
 * (src/net/http_parse.h: skt_http_chunked_decode).
 *
 * The first byte picks max_body, the second how many bytes arrive per read; the rest is the
 * raw body. The body is decoded twice, all at once and as a connection receives it (a few
 * bytes more per call, the decoder compacting what it decoded in place between calls), and
 * both must agree: the same verdict, decoded length, consumed length and decoded bytes.
 */
#include "fuzz.h"

#include "net/http_parse.h"

/* Decodes raw[0..len) at once into a copy; the verdict, with *out the copy. */
static int
decode_once(const uint8_t *raw, size_t len, size_t max_body, char **out, size_t *body, size_t *used)
{
    skt_http_chunked_t st;
    *out = fz_copy(raw, len);
    skt_http_chunked_init(&st);
    int r = skt_http_chunked_decode(&st, *out, len, max_body, body, used);
    /* A finished decode keeps its verdict. */
    if (r != 0) {
        size_t b2, u2;
        FZ_CHECK(skt_http_chunked_decode(&st, *out, len, max_body, &b2, &u2) == r);
        FZ_CHECK(b2 == *body && u2 == *used);
    }
    return r;
}

/* Decodes raw[0..len) arriving step bytes at a time, growing the buffer like a connection. */
static int
decode_by_steps(const uint8_t *raw, size_t len, size_t max_body, size_t step, char **out,
                size_t *body, size_t *used)
{
    skt_http_chunked_t st;
    char *buf = NULL;
    size_t have = 0;
    int r = 0;

    skt_http_chunked_init(&st);
    do {
        size_t more = len - have < step ? len - have : step;
        char *grown = realloc(buf, have + more + 1);
        FZ_CHECK(grown != NULL);
        buf = grown;
        memcpy(buf + have, raw + have, more);
        have += more;
        r = skt_http_chunked_decode(&st, buf, have, max_body, body, used);
        FZ_CHECK(*body <= *used && *used <= have);
    } while (r == 0 && have < len);
    *out = buf;
    return r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t max_bodies[] = {0, 1, 16, 100, 4096, 65536, SIZE_MAX, 10};
    fz_in_t in = {data, size};
    size_t max_body = max_bodies[fz_byte(&in) & 7];
    size_t step = fz_byte(&in) % 17 + 1;
    char *a, *b;
    size_t body_a, used_a, body_b, used_b;

    int ra = decode_once(in.p, in.n, max_body, &a, &body_a, &used_a);
    int rb = decode_by_steps(in.p, in.n, max_body, step, &b, &body_b, &used_b);
    FZ_CHECK(ra >= -2 && ra <= 1);
    FZ_CHECK(ra == rb);
    FZ_CHECK(body_a <= used_a && used_a <= in.n);
    if (ra == 1) {
        FZ_CHECK(body_a <= max_body);
        FZ_CHECK(body_a == body_b && used_a == used_b);
        FZ_CHECK(memcmp(a, b, body_a) == 0);
    }
    free(a);
    free(b);
    return 0;
}
