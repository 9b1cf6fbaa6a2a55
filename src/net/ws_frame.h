/* ws_frame.h - RFC 6455 frame codec, server side: parse client frames, write server frames.
 *
 * DESIGN
 * Pure functions over caller-owned bytes: nothing here allocates, keeps state or touches a
 * socket. skt_ws_frame_parse() is fed the unread part of a connection's input buffer and either
 * says "need more", hands back one whole frame (payload unmasked in place, pointing into that
 * buffer, valid until the caller moves or frees it), or names the close code to fail the
 * connection with. Message-level rules that need state across frames (a CONT without a started
 * message, a new TEXT inside a fragmented one, reassembly, UTF-8 of a whole message) belong to
 * the connection, which can use skt_utf8_valid_prefix() to fail a bad text message early.
 */
#ifndef SKT_NET_WS_FRAME_H
#define SKT_NET_WS_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SKT_WS_OP_CONT 0x0
#define SKT_WS_OP_TEXT 0x1
#define SKT_WS_OP_BINARY 0x2
#define SKT_WS_OP_CLOSE 0x8
#define SKT_WS_OP_PING 0x9
#define SKT_WS_OP_PONG 0xA

/* Close codes the server sends (RFC 6455 section 7.4.1). */
#define SKT_WS_CLOSE_NORMAL 1000
#define SKT_WS_CLOSE_GOING_AWAY 1001
#define SKT_WS_CLOSE_PROTOCOL 1002
#define SKT_WS_CLOSE_NO_STATUS 1005
#define SKT_WS_CLOSE_BAD_DATA 1007
#define SKT_WS_CLOSE_TOO_BIG 1009
#define SKT_WS_CLOSE_INTERNAL 1011

/* Errors of skt_ws_frame_parse(); the close code to send comes back beside them. */
#define SKT_WS_EPROTO (-1)  /* protocol violation, close with 1002 */
#define SKT_WS_ETOOBIG (-2) /* payload longer than max_payload, close with 1009 */

/* Largest frame header: 2 bytes + 8-byte extended length + 4-byte mask. */
#define SKT_WS_MAX_HEADER 14

/* A control frame payload is at most this long (RFC 6455 section 5.5). */
#define SKT_WS_MAX_CONTROL 125

typedef struct skt_ws_frame_s {
    unsigned fin;     /* 1 if FIN set */
    unsigned opcode;  /* SKT_WS_OP_* */
    uint8_t *payload; /* points into the caller's buffer, already unmasked in place */
    size_t payload_len;
} skt_ws_frame_t;

/* Parses one client frame at buf[0..len).
 * Returns the total frame size (> 0: header + payload) when a whole frame is present: the
 * payload is unmasked in place and f is filled. Returns 0 when more bytes are needed (buf and f
 * untouched). Returns a negative SKT_WS_E* with *close_code set to the code the server must
 * close with (buf untouched):
 *   SKT_WS_EPROTO / 1002: RSV bits set (no extension is ever negotiated), unknown opcode,
 *     unmasked frame, control frame with FIN=0 or a payload over 125 bytes, 64-bit length
 *     with the most significant bit set;
 *   SKT_WS_ETOOBIG / 1009: payload length > max_payload, known from the header alone, before
 *     the payload has arrived.
 * Errors are reported as soon as the bytes that prove them are present (a bad first byte
 * fails with len == 1). Extended lengths need not be minimally encoded. */
ssize_t skt_ws_frame_parse(uint8_t *buf, size_t len, size_t max_payload, skt_ws_frame_t *f,
                           uint16_t *close_code);

/* Writes a server frame header (FIN=1, unmasked) for opcode and payload_len into out; returns
 * its length: 2 (len < 126), 4 (len <= 65535) or 10 bytes. */
size_t skt_ws_frame_header(uint8_t out[10], unsigned opcode, uint64_t payload_len);

/* Validates UTF-8 strictly (RFC 3629: shortest form only, no surrogates, nothing above
 * U+10FFFF, no truncated sequence at the end). Returns 1 valid (the empty string is), 0 not. */
int skt_utf8_valid(const uint8_t *s, size_t len);

/* Like skt_utf8_valid() but a sequence cut off by the end of s is accepted as long as its
 * bytes so far can still start a valid character: 1 when s is valid UTF-8 or a prefix of
 * valid UTF-8, 0 when no continuation can make it valid. For failing a fragmented text
 * message as soon as a bad fragment arrives; the whole message still needs skt_utf8_valid(). */
int skt_utf8_valid_prefix(const uint8_t *s, size_t len);

/* Checks a received close frame payload. Returns 0 when acceptable, with *code the peer's
 * status code (SKT_WS_CLOSE_NO_STATUS, 1005, for an empty payload). Returns -1 when not, with
 * *code the code to answer with: 1002 for a 1-byte or over-125-byte payload or a code a peer may
 * not send (valid are 1000-1003, 1007-1014 and 3000-4999), 1007 when the reason is not UTF-8. */
int skt_ws_close_parse(const uint8_t *payload, size_t len, uint16_t *code);

/* Builds a complete server close frame into out: header, 2-byte big-endian code, then reason
 * (NULL means none) cut to 123 bytes at a UTF-8 character boundary so the payload fits in 125.
 * code SKT_WS_CLOSE_NO_STATUS (1005) may not be sent on the wire, so it yields an empty payload
 * (the answer to a peer's empty close). Returns the frame size (2 to 127). */
size_t skt_ws_close_frame(uint8_t out[127], uint16_t code, const char *reason);

/* Sec-WebSocket-Accept for the client's Sec-WebSocket-Key (key_len bytes, as received):
 * base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")), 28 characters plus NUL into
 * out. Uses libcrypto (one short-lived digest context); if that fails, out is "". */
void skt_ws_accept_key(const char *key, size_t key_len, char out[29]);

#endif
