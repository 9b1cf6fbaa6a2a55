/* fuzz_ws_frame.c - libFuzzer target: the RFC 6455 frame codec (src/net/ws_frame.h).
 *
 * The first byte picks the max payload and the round-trip parameters; the rest is a client's
 * byte stream, parsed frame after frame as a connection does. Checks: every result is one the
 * header promises (sizes inside the buffer, errors paired with their close code, a frame cut
 * short is "need more"), close payloads and text payloads go through skt_ws_close_parse()
 * and both UTF-8 validators, compared with a reference validator; the header writer and the
 * close frame builder are read back by the parser.
 */
#include "fuzz.h"

#include "net/ws_frame.h"

/* Strict UTF-8 (RFC 3629 table 3-7), written independently of ws_frame.c: 1 valid, 2 valid
 * but a character is cut off at the end, 0 invalid. */
static int
ref_utf8(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t need;
        uint8_t lo = 0x80, hi = 0xBF;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0)
                lo = 0xA0;
            if (c == 0xED)
                hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0)
                lo = 0x90;
            if (c == 0xF4)
                hi = 0x8F;
        } else {
            return 0;
        }
        for (size_t k = 1; k <= need; k++) {
            if (i + k >= n)
                return 2;
            uint8_t b = s[i + k];
            if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF))
                return 0;
        }
        i += need + 1;
    }
    return 1;
}

/* Both validators against the reference, on s and on one of its prefixes. */
static void
check_utf8(const uint8_t *s, size_t n, size_t cut)
{
    int ref = ref_utf8(s, n);
    FZ_CHECK(skt_utf8_valid(s, n) == (ref == 1));
    FZ_CHECK(skt_utf8_valid_prefix(s, n) == (ref != 0));
    if (ref && n)
        FZ_CHECK(skt_utf8_valid_prefix(s, cut % n) == 1);
}

/* A close payload: accepted ones carry a code a peer may send and a UTF-8 reason. */
static void
check_close(const uint8_t *p, size_t n)
{
    uint16_t code = 0;
    int rc = skt_ws_close_parse(p, n, &code);
    if (rc == 0) {
        FZ_CHECK(n == 0 ? code == SKT_WS_CLOSE_NO_STATUS : n >= 2 && n <= SKT_WS_MAX_CONTROL);
        if (n) {
            FZ_CHECK(code == ((unsigned)p[0] << 8 | p[1]));
            /* 1012-1014: registered after RFC 6455, accepted (see ws_frame.c). */
            FZ_CHECK((code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
                     (code >= 3000 && code <= 4999));
            FZ_CHECK(ref_utf8(p + 2, n - 2) == 1);
        }
    } else {
        FZ_CHECK(rc == -1);
        FZ_CHECK(code == SKT_WS_CLOSE_PROTOCOL || code == SKT_WS_CLOSE_BAD_DATA);
    }
}

/* The stream, frame by frame, as a connection reads it. */
static void
parse_stream(uint8_t *buf, size_t len, size_t max_payload, unsigned cut)
{
    while (len) {
        skt_ws_frame_t f;
        uint16_t code = 0;
        ssize_t r = skt_ws_frame_parse(buf, len, max_payload, &f, &code);
        if (r == 0)
            return;
        if (r < 0) {
            FZ_CHECK((r == SKT_WS_EPROTO && code == SKT_WS_CLOSE_PROTOCOL) ||
                     (r == SKT_WS_ETOOBIG && code == SKT_WS_CLOSE_TOO_BIG));
            return;
        }
        FZ_CHECK((size_t)r <= len);
        FZ_CHECK(f.payload >= buf + 2 && f.payload + f.payload_len == buf + r);
        FZ_CHECK(f.payload_len <= max_payload);
        FZ_CHECK(f.opcode <= SKT_WS_OP_BINARY ||
                 (f.opcode >= SKT_WS_OP_CLOSE && f.opcode <= SKT_WS_OP_PONG));
        if (f.opcode >= SKT_WS_OP_CLOSE)
            FZ_CHECK(f.fin && f.payload_len <= SKT_WS_MAX_CONTROL);
        /* One byte short of the whole frame is "need more", never an error. */
        skt_ws_frame_t g;
        FZ_CHECK(skt_ws_frame_parse(buf, (size_t)r - 1, max_payload, &g, &code) == 0);
        if (f.opcode == SKT_WS_OP_CLOSE)
            check_close(f.payload, f.payload_len);
        else if (f.opcode == SKT_WS_OP_TEXT || f.opcode == SKT_WS_OP_CONT)
            check_utf8(f.payload, f.payload_len, cut);
        buf += r;
        len -= (size_t)r;
    }
}

/* A header from skt_ws_frame_header(), given the mask a client adds, parses back to the same
 * opcode and length (or to "too big" / "need more" when the payload is not there). */
static void
header_round_trip(unsigned opcode, uint64_t plen)
{
    uint8_t frame[10 + 4 + 64];
    size_t h = skt_ws_frame_header(frame, opcode, plen);
    FZ_CHECK(h == (plen < 126 ? 2 : plen <= 65535 ? 4 : 10));
    frame[1] |= 0x80;
    memset(frame + h, 0x5a, 4);
    size_t avail = plen <= 64 ? (size_t)plen : 0;
    memset(frame + h + 4, 'x', avail);

    skt_ws_frame_t f;
    uint16_t code = 0;
    ssize_t r = skt_ws_frame_parse(frame, h + 4 + avail, SIZE_MAX, &f, &code);
    if (opcode >= SKT_WS_OP_CLOSE && plen > SKT_WS_MAX_CONTROL) {
        FZ_CHECK(r == SKT_WS_EPROTO);
    } else if (avail == plen) {
        FZ_CHECK(r == (ssize_t)(h + 4 + avail));
        FZ_CHECK(f.fin == 1 && f.opcode == opcode && f.payload_len == plen);
    } else {
        FZ_CHECK(r == 0);
        if (plen < SIZE_MAX)
            FZ_CHECK(skt_ws_frame_parse(frame, h + 4, (size_t)plen - 1, &f, &code) ==
                     SKT_WS_ETOOBIG);
    }
}

/* The close frame we send: a code and a reason cut to fit, still UTF-8 when it was. */
static void
close_round_trip(uint16_t code, const uint8_t *reason, size_t n)
{
    char *text = fz_cstr(reason, n);
    uint8_t out[127];
    size_t len = skt_ws_close_frame(out, code, text);
    FZ_CHECK(len >= 2 && len <= 127);
    FZ_CHECK(out[0] == (0x80 | SKT_WS_OP_CLOSE) && out[1] == len - 2);
    if (code == SKT_WS_CLOSE_NO_STATUS) {
        FZ_CHECK(len == 2);
    } else {
        FZ_CHECK(len >= 4 && ((unsigned)out[2] << 8 | out[3]) == code);
        FZ_CHECK(memcmp(out + 4, text, len - 4) == 0);
        if (ref_utf8((const uint8_t *)text, strlen(text)) == 1)
            FZ_CHECK(ref_utf8(out + 4, len - 4) == 1);
    }
    free(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t max_payloads[] = {0, 4, 125, 126, 65535, 65536, 1 << 20, SIZE_MAX};
    fz_in_t in = {data, size};
    unsigned sel = fz_byte(&in);
    uint64_t plen = 0;

    /* The stream. */
    uint8_t *buf = (uint8_t *)fz_copy(in.p, in.n);
    parse_stream(buf, in.n, max_payloads[sel & 7], sel);
    free(buf);

    /* The codec's other functions, fed from the same bytes. */
    check_utf8(in.p, in.n, sel);
    check_close(in.p, in.n);
    for (size_t i = 0; i < 8 && i < in.n; i++)
        plen = plen << 8 | in.p[i];
    plen >>= (sel >> 3) * 2; /* small lengths too */
    plen &= ~((uint64_t)1 << 63);
    header_round_trip((sel & 0x80)   ? SKT_WS_OP_PING
                      : (sel & 0x40) ? SKT_WS_OP_BINARY
                                     : SKT_WS_OP_TEXT,
                      plen);
    if (in.n >= 2)
        close_round_trip((uint16_t)(in.p[0] << 8 | in.p[1]), in.p + 2, in.n - 2);
    return 0;
}
