/* check_ws_frame.c - unit tests for the RFC 6455 frame codec. */
#include "check_main.h"
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/ws_frame.h"

static const uint8_t test_mask[4] = {0x37, 0xfa, 0x21, 0x3d};

/* Builds a masked client frame with a first byte b0 (FIN/RSV/opcode) into out and returns its
 * size. len_bytes picks the length encoding: 0 shortest, else 2 (7-bit), 4 (16-bit), 10. */
static size_t
client_frame(uint8_t *out, uint8_t b0, const void *payload, size_t n, int len_bytes)
{
    size_t h = 0;

    if (!len_bytes)
        len_bytes = n < 126 ? 2 : n <= 0xFFFF ? 4 : 10;
    out[h++] = b0;
    if (len_bytes == 2) {
        out[h++] = (uint8_t)(0x80 | n);
    } else if (len_bytes == 4) {
        out[h++] = 0x80 | 126;
        out[h++] = (uint8_t)(n >> 8);
        out[h++] = (uint8_t)n;
    } else {
        out[h++] = 0x80 | 127;
        for (int i = 0; i < 8; i++)
            out[h++] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
    }
    memcpy(out + h, test_mask, 4);
    h += 4;
    for (size_t i = 0; i < n; i++)
        out[h + i] = ((const uint8_t *)payload)[i] ^ test_mask[i % 4];
    return h + n;
}

/* Parses a buffer expected to be a protocol error or too big; returns the close code. */
static unsigned
parse_error(const uint8_t *bytes, size_t len, size_t max, ssize_t want)
{
    uint8_t buf[64];
    skt_ws_frame_t f;
    uint16_t code = 0;

    ck_assert_uint_le(len, sizeof(buf));
    memcpy(buf, bytes, len);
    ck_assert_int_eq(skt_ws_frame_parse(buf, len, max, &f, &code), want);
    return code;
}

START_TEST(test_rfc_hello_masked)
{
    /* RFC 6455 section 5.7: a single-frame masked text message "Hello". */
    uint8_t buf[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
    skt_ws_frame_t f;
    uint16_t code = 0;

    ck_assert_int_eq(skt_ws_frame_parse(buf, sizeof(buf), 1024, &f, &code), 11);
    ck_assert_uint_eq(f.fin, 1);
    ck_assert_uint_eq(f.opcode, SKT_WS_OP_TEXT);
    ck_assert_uint_eq(f.payload_len, 5);
    ck_assert_ptr_eq(f.payload, buf + 6);
    ck_assert_mem_eq(f.payload, "Hello", 5);
    ck_assert_uint_eq(code, 0);
}
END_TEST

START_TEST(test_unmask_all_tails)
{
    /* Every length 0..70 so each tail length after the 8-byte steps is covered. */
    uint8_t plain[70], buf[100];
    skt_ws_frame_t f;
    uint16_t code;

    for (size_t i = 0; i < sizeof(plain); i++)
        plain[i] = (uint8_t)(i * 7 + 1);
    for (size_t n = 0; n <= sizeof(plain); n++) {
        size_t total = client_frame(buf, 0x82, plain, n, 0);
        ck_assert_int_eq(skt_ws_frame_parse(buf, total, 1000, &f, &code), (ssize_t)total);
        ck_assert_uint_eq(f.opcode, SKT_WS_OP_BINARY);
        ck_assert_uint_eq(f.payload_len, n);
        if (n)
            ck_assert_mem_eq(f.payload, plain, n);
    }
}
END_TEST

START_TEST(test_empty_frame)
{
    uint8_t buf[16];
    skt_ws_frame_t f;
    uint16_t code;
    size_t total = client_frame(buf, 0x81, "", 0, 0);

    ck_assert_uint_eq(total, 6);
    ck_assert_int_eq(skt_ws_frame_parse(buf, total, 0, &f, &code), 6);
    ck_assert_uint_eq(f.payload_len, 0);
    ck_assert_ptr_eq(f.payload, buf + 6);
}
END_TEST

/* Feeds every proper prefix of a frame: each must say "need more" and leave the bytes alone. */
static void
check_split(size_t n, size_t step)
{
    uint8_t *plain = malloc(n ? n : 1), *buf = malloc(n + 14), *copy = malloc(n + 14);
    skt_ws_frame_t f;
    uint16_t code = 0;
    size_t total;

    for (size_t i = 0; i < n; i++)
        plain[i] = (uint8_t)('a' + i % 26);
    total = client_frame(buf, 0x81, plain, n, 0);
    memcpy(copy, buf, total);
    for (size_t k = 0; k < total; k += (k < 16 || k + 16 > total) ? 1 : step) {
        ck_assert_msg(skt_ws_frame_parse(buf, k, n, &f, &code) == 0, "prefix %zu of %zu", k, total);
        ck_assert_mem_eq(buf, copy, total);
    }
    ck_assert_int_eq(skt_ws_frame_parse(buf, total, n, &f, &code), (ssize_t)total);
    ck_assert_uint_eq(f.payload_len, n);
    if (n)
        ck_assert_mem_eq(f.payload, plain, n);
    free(plain);
    free(buf);
    free(copy);
}

START_TEST(test_split_7bit)
{
    check_split(0, 1);
    check_split(5, 1);
    check_split(125, 1);
}
END_TEST

START_TEST(test_split_16bit)
{
    check_split(126, 1);
    check_split(300, 1);
}
END_TEST

START_TEST(test_split_64bit)
{
    check_split(65536, 997);
    check_split(70001, 1009);
}
END_TEST

START_TEST(test_length_encodings)
{
    /* Payload length, length bytes asked for (0 = shortest), header size expected. Lengths
     * need not use the shortest form, so "2 bytes in 16 or 64 bits" must parse too. */
    static const struct {
        size_t n;
        int len_bytes;
        size_t header;
    } cases[] = {
        {125, 0, 2 + 4},    {126, 0, 4 + 4}, {65535, 0, 4 + 4}, {65536, 0, 10 + 4},
        {70000, 0, 10 + 4}, {2, 4, 4 + 4},   {2, 10, 10 + 4},   {0, 10, 10 + 4},
    };
    static uint8_t plain[70000], buf[70100];
    skt_ws_frame_t f;
    uint16_t code;

    for (size_t i = 0; i < sizeof(plain); i++)
        plain[i] = (uint8_t)(i % 251);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t total = client_frame(buf, 0x82, plain, cases[i].n, cases[i].len_bytes);

        ck_assert_uint_eq(total, cases[i].header + cases[i].n);
        ck_assert_int_eq(skt_ws_frame_parse(buf, total, 70000, &f, &code), (ssize_t)total);
        ck_assert_ptr_eq(f.payload, buf + cases[i].header);
        ck_assert_uint_eq(f.payload_len, cases[i].n);
        if (cases[i].n)
            ck_assert_mem_eq(f.payload, plain, cases[i].n);
    }
}
END_TEST

START_TEST(test_pipelined_frames)
{
    /* A fragmented text message with a ping in between, all in one read. */
    static const struct {
        uint8_t b0;
        const char *payload;
        unsigned fin, opcode;
    } frames[] = {
        {0x01, "abc", 0, SKT_WS_OP_TEXT},
        {0x89, "p", 1, SKT_WS_OP_PING},
        {0x80, "de", 1, SKT_WS_OP_CONT},
    };
    uint8_t buf[64];
    size_t sizes[3], total = 0, off = 0;
    skt_ws_frame_t f;
    uint16_t code;

    for (size_t i = 0; i < 3; i++) {
        sizes[i] = client_frame(buf + total, frames[i].b0, frames[i].payload,
                                strlen(frames[i].payload), 0);
        total += sizes[i];
    }
    for (size_t i = 0; i < 3; i++) {
        ssize_t r = skt_ws_frame_parse(buf + off, total - off, 100, &f, &code);

        ck_assert_int_eq(r, (ssize_t)sizes[i]);
        ck_assert_uint_eq(f.fin, frames[i].fin);
        ck_assert_uint_eq(f.opcode, frames[i].opcode);
        ck_assert_uint_eq(f.payload_len, strlen(frames[i].payload));
        ck_assert_mem_eq(f.payload, frames[i].payload, f.payload_len);
        off += (size_t)r;
    }
    ck_assert_uint_eq(off, total);
    ck_assert_int_eq(skt_ws_frame_parse(buf + off, 0, 100, &f, &code), 0);
}
END_TEST

START_TEST(test_rsv_bits)
{
    const uint8_t bits[] = {0x40, 0x20, 0x10, 0x70};

    for (size_t i = 0; i < sizeof(bits); i++) {
        uint8_t frame[] = {(uint8_t)(0x81 | bits[i]), 0x80, 1, 2, 3, 4};
        /* Known from the first byte alone. */
        ck_assert_uint_eq(parse_error(frame, 1, 100, SKT_WS_EPROTO), 1002);
        ck_assert_uint_eq(parse_error(frame, sizeof(frame), 100, SKT_WS_EPROTO), 1002);
    }
}
END_TEST

START_TEST(test_unknown_opcodes)
{
    const unsigned bad[] = {0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t frame[] = {(uint8_t)(0x80 | bad[i]), 0x80, 1, 2, 3, 4};
        ck_assert_uint_eq(parse_error(frame, 1, 100, SKT_WS_EPROTO), 1002);
        ck_assert_uint_eq(parse_error(frame, sizeof(frame), 100, SKT_WS_EPROTO), 1002);
    }
}
END_TEST

START_TEST(test_unmasked)
{
    const uint8_t frame[] = {0x81, 0x05, 'H', 'e', 'l', 'l', 'o'};

    ck_assert_uint_eq(parse_error(frame, sizeof(frame), 100, SKT_WS_EPROTO), 1002);
    ck_assert_uint_eq(parse_error(frame, 2, 100, SKT_WS_EPROTO), 1002);
}
END_TEST

START_TEST(test_control_frames)
{
    uint8_t buf[200], payload[125];
    skt_ws_frame_t f;
    uint16_t code;
    size_t total;

    memset(payload, 'c', sizeof(payload));
    /* Fragmented control frames are refused whatever the opcode. */
    for (unsigned op = 0x8; op <= 0xA; op++) {
        uint8_t frame[] = {(uint8_t)op, 0x80, 1, 2, 3, 4};
        ck_assert_uint_eq(parse_error(frame, 1, 100, SKT_WS_EPROTO), 1002);
    }
    /* 125 bytes is the most a control frame may carry... */
    total = client_frame(buf, 0x89, payload, 125, 0);
    ck_assert_int_eq(skt_ws_frame_parse(buf, total, 1000, &f, &code), (ssize_t)total);
    ck_assert_uint_eq(f.opcode, SKT_WS_OP_PING);
    ck_assert_uint_eq(f.payload_len, 125);
    total = client_frame(buf, 0x8A, "", 0, 0);
    ck_assert_int_eq(skt_ws_frame_parse(buf, total, 1000, &f, &code), (ssize_t)total);
    ck_assert_uint_eq(f.opcode, SKT_WS_OP_PONG);
    total = client_frame(buf, 0x88, "\x03\xe8", 2, 0);
    ck_assert_int_eq(skt_ws_frame_parse(buf, total, 1000, &f, &code), (ssize_t)total);
    ck_assert_uint_eq(f.opcode, SKT_WS_OP_CLOSE);
    /* ...and a longer one fails as soon as the length byte is there, even if small via 126. */
    {
        const uint8_t big16[] = {0x89, 0x80 | 126, 0x00, 0x7E};
        const uint8_t small16[] = {0x88, 0x80 | 126, 0x00, 0x05};
        const uint8_t big64[] = {0x8A, 0x80 | 127};
        ck_assert_uint_eq(parse_error(big16, 2, 1000, SKT_WS_EPROTO), 1002);
        ck_assert_uint_eq(parse_error(small16, 2, 1000, SKT_WS_EPROTO), 1002);
        ck_assert_uint_eq(parse_error(big64, 2, 1000, SKT_WS_EPROTO), 1002);
    }
}
END_TEST

START_TEST(test_64bit_msb)
{
    const uint8_t frame[] = {0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0x01};

    ck_assert_uint_eq(parse_error(frame, sizeof(frame), SIZE_MAX, SKT_WS_EPROTO), 1002);
    /* Until the 8 length bytes are there, there is nothing to judge. */
    ck_assert_uint_eq(parse_error(frame, 9, SIZE_MAX, 0), 0);
}
END_TEST

START_TEST(test_max_payload_from_header)
{
    /* 7-bit length 100 > 99: refused from 2 bytes, with no payload present. */
    const uint8_t f7[] = {0x81, 0x80 | 100};
    const uint8_t f16[] = {0x82, 0x80 | 126, 0x10, 0x00};                /* 4096 */
    const uint8_t f64[] = {0x82, 0x80 | 127, 0, 0, 0x01, 0, 0, 0, 0, 0}; /* 2^40 */
    const uint8_t f64max[] = {0x82, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};

    ck_assert_uint_eq(parse_error(f7, sizeof(f7), 99, SKT_WS_ETOOBIG), 1009);
    ck_assert_uint_eq(parse_error(f7, sizeof(f7), 100, 0), 0);
    ck_assert_uint_eq(parse_error(f16, sizeof(f16), 4095, SKT_WS_ETOOBIG), 1009);
    ck_assert_uint_eq(parse_error(f16, sizeof(f16), 4096, 0), 0);
    ck_assert_uint_eq(parse_error(f16, 3, 4095, 0), 0);
    ck_assert_uint_eq(parse_error(f64, sizeof(f64), 1 << 20, SKT_WS_ETOOBIG), 1009);
    ck_assert_uint_eq(parse_error(f64max, sizeof(f64max), 1 << 20, SKT_WS_ETOOBIG), 1009);
    /* A limit as large as memory must not overflow the "whole frame present" check. */
    ck_assert_uint_eq(parse_error(f64max, sizeof(f64max), SIZE_MAX, 0), 0);
}
END_TEST

START_TEST(test_max_payload_exact)
{
    uint8_t buf[64];
    skt_ws_frame_t f;
    uint16_t code = 0;
    size_t total = client_frame(buf, 0x81, "0123456789", 10, 0);

    ck_assert_int_eq(skt_ws_frame_parse(buf, total, 10, &f, &code), (ssize_t)total);
    total = client_frame(buf, 0x81, "0123456789", 10, 0);
    ck_assert_int_eq(skt_ws_frame_parse(buf, total, 9, &f, &code), SKT_WS_ETOOBIG);
    ck_assert_uint_eq(code, 1009);
    total = client_frame(buf, 0x81, "", 0, 0);
    ck_assert_int_eq(skt_ws_frame_parse(buf, total, 0, &f, &code), (ssize_t)total);
}
END_TEST

START_TEST(test_frame_header)
{
    uint8_t out[10];

    ck_assert_uint_eq(skt_ws_frame_header(out, SKT_WS_OP_TEXT, 0), 2);
    ck_assert_mem_eq(out, "\x81\x00", 2);
    ck_assert_uint_eq(skt_ws_frame_header(out, SKT_WS_OP_TEXT, 125), 2);
    ck_assert_mem_eq(out, "\x81\x7d", 2);
    ck_assert_uint_eq(skt_ws_frame_header(out, SKT_WS_OP_BINARY, 126), 4);
    ck_assert_mem_eq(out, "\x82\x7e\x00\x7e", 4);
    ck_assert_uint_eq(skt_ws_frame_header(out, SKT_WS_OP_TEXT, 65535), 4);
    ck_assert_mem_eq(out, "\x81\x7e\xff\xff", 4);
    ck_assert_uint_eq(skt_ws_frame_header(out, SKT_WS_OP_TEXT, 65536), 10);
    ck_assert_mem_eq(out, "\x81\x7f\x00\x00\x00\x00\x00\x01\x00\x00", 10);
    ck_assert_uint_eq(skt_ws_frame_header(out, SKT_WS_OP_PONG, UINT64_C(0x0102030405060708)), 10);
    ck_assert_mem_eq(out, "\x8a\x7f\x01\x02\x03\x04\x05\x06\x07\x08", 10);
    ck_assert_uint_eq(skt_ws_frame_header(out, SKT_WS_OP_CLOSE, 2), 2);
    ck_assert_mem_eq(out, "\x88\x02", 2);
    ck_assert_uint_eq(skt_ws_frame_header(out, SKT_WS_OP_PING, 1), 2);
    ck_assert_mem_eq(out, "\x89\x01", 2);
}
END_TEST

struct utf8_case {
    const char *bytes;
    size_t len;
    int valid;
    int prefix_valid; /* skt_utf8_valid_prefix() */
};

#define U(s, v, p)                                                                                 \
    {                                                                                              \
        s, sizeof(s) - 1, v, p                                                                     \
    }

static const struct utf8_case utf8_cases[] = {
    U("", 1, 1),
    U("plain ascii, longer than eight bytes at a time!", 1, 1),
    U("\x7f", 1, 1),
    U("\xc2\x80", 1, 1),                                     /* U+0080 */
    U("\xdf\xbf", 1, 1),                                     /* U+07FF */
    U("\xe0\xa0\x80", 1, 1),                                 /* U+0800 */
    U("\xe2\x82\xac", 1, 1),                                 /* U+20AC euro */
    U("\xed\x9f\xbf", 1, 1),                                 /* U+D7FF */
    U("\xee\x80\x80", 1, 1),                                 /* U+E000 */
    U("\xef\xbf\xbf", 1, 1),                                 /* U+FFFF */
    U("\xf0\x90\x80\x80", 1, 1),                             /* U+10000 */
    U("\xf4\x8f\xbf\xbf", 1, 1),                             /* U+10FFFF */
    U("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", 1, 1), /* kosme */
    U("abcdefg\xc3\xa9hijklmnop\xf0\x9f\x98\x80qrstuvwx", 1, 1),
    U("\xc0\x80", 0, 0),         /* overlong NUL */
    U("\xc1\xbf", 0, 0),         /* overlong */
    U("\xe0\x80\x80", 0, 0),     /* overlong */
    U("\xe0\x9f\xbf", 0, 0),     /* overlong U+07FF */
    U("\xf0\x80\x80\x80", 0, 0), /* overlong */
    U("\xf0\x8f\xbf\xbf", 0, 0), /* overlong U+FFFF */
    U("\xed\xa0\x80", 0, 0),     /* surrogate D800 */
    U("\xed\xbf\xbf", 0, 0),     /* surrogate DFFF */
    U("\xf4\x90\x80\x80", 0, 0), /* U+110000 */
    U("\xf5\x80\x80\x80", 0, 0),
    U("\xff", 0, 0),
    U("\xfe", 0, 0),
    U("\xf8\x88\x80\x80\x80", 0, 0),     /* 5-byte form */
    U("\xfc\x84\x80\x80\x80\x80", 0, 0), /* 6-byte form */
    U("\x80", 0, 0),                     /* lone continuation */
    U("a\xbf", 0, 0),
    U("\xc2", 0, 1),     /* truncated 2-byte */
    U("\xe2\x82", 0, 1), /* truncated 3-byte */
    U("\xe2", 0, 1),
    U("\xf0\x9f\x98", 0, 1), /* truncated 4-byte */
    U("abcdefgh\xf0\x9f", 0, 1),
    U("\xe0\x80", 0, 0), /* truncated, already overlong */
    U("\xed\xa0", 0, 0), /* truncated, already a surrogate */
    U("\xf4\x90", 0, 0), /* truncated, already too high */
    U("\xc2\x41", 0, 0), /* missing continuation */
    U("\xe2\x82\x41", 0, 0),
    U("\xf0\x9f\x98\x41", 0, 0),
    U("\xc2\x80\x80", 0, 0), /* extra continuation */
    U("abcdefgh\x80ijklmnop", 0, 0),
    U("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64", 0, 0),
};

START_TEST(test_utf8_table)
{
    const struct utf8_case *c = &utf8_cases[_i];

    ck_assert_msg(skt_utf8_valid((const uint8_t *)c->bytes, c->len) == c->valid,
                  "utf8_valid case %d", _i);
    ck_assert_msg(skt_utf8_valid_prefix((const uint8_t *)c->bytes, c->len) == c->prefix_valid,
                  "utf8_valid_prefix case %d", _i);
}
END_TEST

START_TEST(test_utf8_every_code_point)
{
    /* Encode every scalar value and check it is accepted; surrogates must be refused. */
    uint8_t b[4];
    for (uint32_t cp = 0; cp <= 0x10FFFF; cp++) {
        size_t n;
        if (cp < 0x80) {
            b[0] = (uint8_t)cp;
            n = 1;
        } else if (cp < 0x800) {
            b[0] = (uint8_t)(0xC0 | cp >> 6);
            b[1] = (uint8_t)(0x80 | (cp & 63));
            n = 2;
        } else if (cp < 0x10000) {
            b[0] = (uint8_t)(0xE0 | cp >> 12);
            b[1] = (uint8_t)(0x80 | ((cp >> 6) & 63));
            b[2] = (uint8_t)(0x80 | (cp & 63));
            n = 3;
        } else {
            b[0] = (uint8_t)(0xF0 | cp >> 18);
            b[1] = (uint8_t)(0x80 | ((cp >> 12) & 63));
            b[2] = (uint8_t)(0x80 | ((cp >> 6) & 63));
            b[3] = (uint8_t)(0x80 | (cp & 63));
            n = 4;
        }
        int want = !(cp >= 0xD800 && cp <= 0xDFFF);
        if (skt_utf8_valid(b, n) != want)
            ck_abort_msg("code point U+%04X", (unsigned)cp);
    }
}
END_TEST

struct close_case {
    const char *payload;
    size_t len;
    int ret;
    unsigned code;
};

#define C(s, r, c)                                                                                 \
    {                                                                                              \
        s, sizeof(s) - 1, r, c                                                                     \
    }

static const struct close_case close_cases[] = {
    C("", 0, 1005),
    C("\x03", -1, 1002), /* one byte */
    C("\x03\xe8", 0, 1000),
    C("\x03\xe9", 0, 1001),
    C("\x03\xea", 0, 1002),
    C("\x03\xeb", 0, 1003),
    C("\x03\xec", -1, 1002), /* 1004 reserved */
    C("\x03\xed", -1, 1002), /* 1005 no status: never on the wire */
    C("\x03\xee", -1, 1002), /* 1006 abnormal: never on the wire */
    C("\x03\xef", 0, 1007),
    C("\x03\xf0", 0, 1008),
    C("\x03\xf1", 0, 1009),
    C("\x03\xf2", 0, 1010),
    C("\x03\xf3", 0, 1011),
    C("\x03\xf4", 0, 1012),  /* 1012: IANA-registered, accepted */
    C("\x03\xf6", 0, 1014),  /* 1014 */
    C("\x03\xf7", -1, 1002), /* 1015 TLS failure: never on the wire */
    C("\x07\xd0", -1, 1002), /* 2000 */
    C("\x0b\xb7", -1, 1002), /* 2999 */
    C("\x0b\xb8", 0, 3000),
    C("\x0f\x9f", 0, 3999),
    C("\x0f\xa0", 0, 4000),
    C("\x13\x87", 0, 4999),
    C("\x13\x88", -1, 1002), /* 5000 */
    C("\xff\xff", -1, 1002),
    C("\x00\x00", -1, 1002),
    C("\x03\xe7", -1, 1002), /* 999 */
    C("\x03\xe8normal closure", 0, 1000),
    C("\x03\xe8\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", 0, 1000),
    C("\x03\xe8\xed\xa0\x80", -1, 1007), /* surrogate in the reason */
    C("\x03\xe8\xc2", -1, 1007),         /* truncated reason */
    C("\x03\xec"
      "bad",
      -1, 1002), /* a bad code wins over a good reason */
};

START_TEST(test_close_parse_table)
{
    const struct close_case *c = &close_cases[_i];
    uint16_t code = 0;

    ck_assert_msg(skt_ws_close_parse((const uint8_t *)c->payload, c->len, &code) == c->ret,
                  "close case %d", _i);
    ck_assert_msg(code == c->code, "close case %d: code %u, want %u", _i, code, c->code);
}
END_TEST

START_TEST(test_close_frame)
{
    uint8_t out[127];
    char reason[200];
    uint16_t code;

    ck_assert_uint_eq(skt_ws_close_frame(out, 1000, NULL), 4);
    ck_assert_mem_eq(out, "\x88\x02\x03\xe8", 4);
    ck_assert_uint_eq(skt_ws_close_frame(out, 4001, "Bye"), 7);
    ck_assert_mem_eq(out,
                     "\x88\x05\x0f\xa1"
                     "Bye",
                     7);
    ck_assert_uint_eq(skt_ws_close_frame(out, 1002, ""), 4);
    ck_assert_mem_eq(out, "\x88\x02\x03\xea", 4);
    /* 1005 answers an empty close: no payload at all. */
    ck_assert_uint_eq(skt_ws_close_frame(out, 1005, "ignored"), 2);
    ck_assert_mem_eq(out, "\x88\x00", 2);

    /* A long reason is cut to 123 bytes: a 125-byte payload. */
    memset(reason, 'r', sizeof(reason) - 1);
    reason[sizeof(reason) - 1] = '\0';
    ck_assert_uint_eq(skt_ws_close_frame(out, 1009, reason), 127);
    ck_assert_uint_eq(out[1], 125);
    ck_assert_int_eq(skt_ws_close_parse(out + 2, 125, &code), 0);
    ck_assert_uint_eq(code, 1009);

    /* Exactly 123 bytes fit unchanged. */
    reason[123] = '\0';
    ck_assert_uint_eq(skt_ws_close_frame(out, 1000, reason), 127);

    /* 122 ASCII + a 2-byte character: the character would straddle byte 123, so it goes. */
    memset(reason, 'r', 122);
    memcpy(reason + 122, "\xc3\xa9tail", 7);
    ck_assert_uint_eq(skt_ws_close_frame(out, 1000, reason), 4 + 122);
    ck_assert_uint_eq(out[1], 124);
    ck_assert_int_eq(skt_ws_close_parse(out + 2, 124, &code), 0);

    /* 120 ASCII + a 4-byte character straddling the cut. */
    memset(reason, 'r', 120);
    memcpy(reason + 120, "\xf0\x9f\x98\x80x", 6);
    ck_assert_uint_eq(skt_ws_close_frame(out, 1000, reason), 4 + 120);
    ck_assert_int_eq(skt_ws_close_parse(out + 2, 122, &code), 0);

    /* 119 ASCII + a 4-byte character ending exactly at 123: kept. */
    memset(reason, 'r', 119);
    memcpy(reason + 119, "\xf0\x9f\x98\x80xyz", 8);
    ck_assert_uint_eq(skt_ws_close_frame(out, 1000, reason), 4 + 123);
    ck_assert_mem_eq(out + 4 + 119, "\xf0\x9f\x98\x80", 4);
}
END_TEST

START_TEST(test_accept_key)
{
    char out[29];
    const char *key = "dGhlIHNhbXBsZSBub25jZQ==";

    memset(out, 'Z', sizeof(out));
    skt_ws_accept_key(key, strlen(key), out);
    ck_assert_str_eq(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    /* Only key_len bytes count. */
    skt_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==garbage", 24, out);
    ck_assert_str_eq(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    /* A second known pair (computed with openssl sha1 | base64). */
    skt_ws_accept_key("x3JJHMbDL1EzLkh9GBhXDw==", 24, out);
    ck_assert_str_eq(out, "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
}
END_TEST

static Suite *
ws_frame_suite(void)
{
    Suite *s = suite_create("ws_frame");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, test_rfc_hello_masked);
    tcase_add_test(tc, test_unmask_all_tails);
    tcase_add_test(tc, test_empty_frame);
    tcase_add_test(tc, test_split_7bit);
    tcase_add_test(tc, test_split_16bit);
    tcase_add_test(tc, test_split_64bit);
    tcase_add_test(tc, test_length_encodings);
    tcase_add_test(tc, test_pipelined_frames);
    tcase_add_test(tc, test_rsv_bits);
    tcase_add_test(tc, test_unknown_opcodes);
    tcase_add_test(tc, test_unmasked);
    tcase_add_test(tc, test_control_frames);
    tcase_add_test(tc, test_64bit_msb);
    tcase_add_test(tc, test_max_payload_from_header);
    tcase_add_test(tc, test_max_payload_exact);
    suite_add_tcase(s, tc);

    tc = tcase_create("write");
    tcase_add_test(tc, test_frame_header);
    tcase_add_test(tc, test_close_frame);
    tcase_add_test(tc, test_accept_key);
    suite_add_tcase(s, tc);

    tc = tcase_create("utf8");
    tcase_add_loop_test(tc, test_utf8_table, 0, (int)(sizeof(utf8_cases) / sizeof(utf8_cases[0])));
    tcase_add_test(tc, test_utf8_every_code_point);
    suite_add_tcase(s, tc);

    tc = tcase_create("close");
    tcase_add_loop_test(tc, test_close_parse_table, 0,
                        (int)(sizeof(close_cases) / sizeof(close_cases[0])));
    suite_add_tcase(s, tc);
    return s;
}

SKT_CHECK_MAIN(ws_frame_suite)
