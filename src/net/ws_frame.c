/* ws_frame.c - RFC 6455 frame codec, server side: parse client frames, write server frames. */
#include "net/ws_frame.h"

#include <string.h>

#include <openssl/evp.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/* Reads a big-endian 16- or 64-bit value; frame lengths and close codes are sent that way. */
static uint16_t
load_be16(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static uint64_t
load_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* XORs n bytes with the 4-byte masking key, 8 bytes per step: client payloads are nearly all
 * there is to read on a busy server, so this is the hot loop. The key is laid out twice in
 * memory order, so the same word works on either endianness. */
static void
ws_unmask(uint8_t *p, size_t n, const uint8_t key[4])
{
    const uint8_t kb[8] = {key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3]};
    uint64_t k64, w;
    size_t i = 0;

    memcpy(&k64, kb, sizeof(k64));
    for (; i + 8 <= n; i += 8) {
        memcpy(&w, p + i, sizeof(w));
        w ^= k64;
        memcpy(p + i, &w, sizeof(w));
    }
    for (; i < n; i++)
        p[i] ^= key[i & 3];
}

/* Fails a frame: one place that pairs each error with the close code it calls for. */
static ssize_t
ws_fail(uint16_t *close_code, ssize_t err)
{
    *close_code = err == SKT_WS_ETOOBIG ? SKT_WS_CLOSE_TOO_BIG : SKT_WS_CLOSE_PROTOCOL;
    return err;
}

/* Decodes the header first and checks each field as soon as its bytes are there, so that a
 * hostile peer is refused before it has sent (and we have buffered) a payload. */
ssize_t
skt_ws_frame_parse(uint8_t *buf, size_t len, size_t max_payload, skt_ws_frame_t *f,
                   uint16_t *close_code)
{
    unsigned fin, opcode, len7;
    uint64_t plen;
    size_t hlen;

    if (len < 1)
        return 0;
    fin = buf[0] >> 7;
    opcode = buf[0] & 0x0F;
    if (buf[0] & 0x70)
        return ws_fail(close_code, SKT_WS_EPROTO);
    switch (opcode) {
    case SKT_WS_OP_CONT:
    case SKT_WS_OP_TEXT:
    case SKT_WS_OP_BINARY:
        break;
    case SKT_WS_OP_CLOSE:
    case SKT_WS_OP_PING:
    case SKT_WS_OP_PONG:
        if (!fin)
            return ws_fail(close_code, SKT_WS_EPROTO);
        break;
    default:
        return ws_fail(close_code, SKT_WS_EPROTO);
    }
    if (len < 2)
        return 0;
    if (!(buf[1] & 0x80))
        return ws_fail(close_code, SKT_WS_EPROTO);
    len7 = buf[1] & 0x7F;
    if ((opcode & 0x8) && len7 > SKT_WS_MAX_CONTROL)
        return ws_fail(close_code, SKT_WS_EPROTO);

    if (len7 < 126) {
        plen = len7;
        hlen = 2;
    } else if (len7 == 126) {
        if (len < 4)
            return 0;
        plen = load_be16(buf + 2);
        hlen = 4;
    } else {
        if (len < 10)
            return 0;
        plen = load_be64(buf + 2);
        if (plen >> 63)
            return ws_fail(close_code, SKT_WS_EPROTO);
        hlen = 10;
    }
    if (plen > max_payload)
        return ws_fail(close_code, SKT_WS_ETOOBIG);
    hlen += 4; /* masking key */
    if (len < hlen || len - hlen < plen)
        return 0;

    ws_unmask(buf + hlen, (size_t)plen, buf + hlen - 4);
    f->fin = fin;
    f->opcode = opcode;
    f->payload = buf + hlen;
    f->payload_len = (size_t)plen;
    return (ssize_t)(hlen + (size_t)plen);
}

size_t
skt_ws_frame_header(uint8_t out[10], unsigned opcode, uint64_t payload_len)
{
    out[0] = (uint8_t)(0x80 | (opcode & 0x0F));
    if (payload_len < 126) {
        out[1] = (uint8_t)payload_len;
        return 2;
    }
    if (payload_len <= 0xFFFF) {
        out[1] = 126;
        out[2] = (uint8_t)(payload_len >> 8);
        out[3] = (uint8_t)payload_len;
        return 4;
    }
    out[1] = 127;
    for (int i = 0; i < 8; i++)
        out[2 + i] = (uint8_t)(payload_len >> (56 - 8 * i));
    return 10;
}

/* One scan for both UTF-8 checks: RFC 3629 table 4 as code, with the second byte's range
 * narrowed for E0/ED/F0/F4 (that is what excludes overlongs, surrogates and > U+10FFFF).
 * Runs of ASCII are skipped a 64-bit word at a time, since Pusher messages are JSON and mostly
 * ASCII. allow_cut accepts a sequence that the end of s cuts short if its bytes so far fit. */
static int
utf8_scan(const uint8_t *s, size_t len, int allow_cut)
{
    size_t i = 0;

    while (i < len) {
        uint64_t w;
        uint8_t c, lo = 0x80, hi = 0xBF;
        size_t n, have;

        while (i + 8 <= len) {
            memcpy(&w, s + i, sizeof(w));
            if (w & UINT64_C(0x8080808080808080))
                break;
            i += 8;
        }
        if (i >= len)
            break;
        c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            if (c == 0xE0)
                lo = 0xA0;
            else if (c == 0xED)
                hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            if (c == 0xF0)
                lo = 0x90;
            else if (c == 0xF4)
                hi = 0x8F;
        } else {
            return 0; /* continuation byte, C0/C1 (always overlong) or F5..FF */
        }
        have = len - i - 1;
        if (have < n) {
            if (!allow_cut)
                return 0;
            n = have;
        }
        if (n >= 1 && (s[i + 1] < lo || s[i + 1] > hi))
            return 0;
        for (size_t k = 2; k <= n; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
        i += 1 + n;
    }
    return 1;
}

int
skt_utf8_valid(const uint8_t *s, size_t len)
{
    return utf8_scan(s, len, 0);
}

int
skt_utf8_valid_prefix(const uint8_t *s, size_t len)
{
    return utf8_scan(s, len, 1);
}

/* The codes a peer may put in a close frame (RFC 6455 section 7.4): the defined ones except
 * those reserved for local use (1004, 1005, 1006, 1015), and the ranges for libraries and
 * applications (3000-4999), plus 1012-1014 (Service Restart, Try Again Later, Bad Gateway),
 * which IANA registered after the RFC and browsers send. 1015-2999 stay refused. */
static int
close_code_ok(unsigned code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

int
skt_ws_close_parse(const uint8_t *payload, size_t len, uint16_t *code)
{
    uint16_t c;

    if (len == 0) {
        *code = SKT_WS_CLOSE_NO_STATUS;
        return 0;
    }
    if (len == 1 || len > SKT_WS_MAX_CONTROL) {
        *code = SKT_WS_CLOSE_PROTOCOL;
        return -1;
    }
    c = load_be16(payload);
    if (!close_code_ok(c)) {
        *code = SKT_WS_CLOSE_PROTOCOL;
        return -1;
    }
    if (!skt_utf8_valid(payload + 2, len - 2)) {
        *code = SKT_WS_CLOSE_BAD_DATA;
        return -1;
    }
    *code = c;
    return 0;
}

size_t
skt_ws_close_frame(uint8_t out[127], uint16_t code, const char *reason)
{
    size_t rlen = reason ? strlen(reason) : 0;

    if (code == SKT_WS_CLOSE_NO_STATUS)
        return skt_ws_frame_header(out, SKT_WS_OP_CLOSE, 0);
    if (rlen > SKT_WS_MAX_CONTROL - 2) {
        rlen = SKT_WS_MAX_CONTROL - 2;
        /* Do not split a character: back off while the first byte left out continues one. */
        while (rlen > 0 && ((uint8_t)reason[rlen] & 0xC0) == 0x80)
            rlen--;
    }
    skt_ws_frame_header(out, SKT_WS_OP_CLOSE, 2 + rlen);
    out[2] = (uint8_t)(code >> 8);
    out[3] = (uint8_t)code;
    if (rlen)
        memcpy(out + 4, reason, rlen);
    return 4 + rlen;
}

/* Standard base64 with padding; the accept key is the only base64 the server writes, so it
 * lives here. out needs 4 * ceil(n / 3) + 1 bytes. */
static void
base64_encode(const uint8_t *in, size_t n, char *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i = 0, o = 0;

    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = tab[v >> 18];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = tab[(v >> 6) & 63];
        out[o++] = tab[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = tab[v >> 18];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = '=';
        out[o++] = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = tab[v >> 18];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = tab[(v >> 6) & 63];
        out[o++] = '=';
    }
    out[o] = '\0';
}

void
skt_ws_accept_key(const char *key, size_t key_len, char out[29])
{
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned md_len = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) &&
             EVP_DigestUpdate(ctx, key, key_len) &&
             EVP_DigestUpdate(ctx, WS_GUID, sizeof(WS_GUID) - 1) &&
             EVP_DigestFinal_ex(ctx, md, &md_len) && md_len == 20;

    EVP_MD_CTX_free(ctx);
    if (!ok) {
        out[0] = '\0';
        return;
    }
    base64_encode(md, md_len, out);
}
