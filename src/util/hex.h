/* hex.h - bytes as hexadecimal digits: the one encoder of digests, MACs and escapes.
 *
 * DESIGN
 * Header only (static inline), so that the daemon and the plugins, which compile the util
 * sources they need into themselves, share it without a library. Each digit is one lookup in
 * a 16-byte table (one cache line): no branch and no lookup depends on a byte's value in a
 * way a cache could tell, which matters for the MACs of pusher/sig.c.
 */
#ifndef SKT_UTIL_HEX_H
#define SKT_UTIL_HEX_H

#include <stddef.h>

/* The digit of the low four bits of v: lower-case (upper 0) or upper-case (upper 1). */
static inline char
skt_hex_digit(unsigned v, int upper)
{
    return (upper ? "0123456789ABCDEF" : "0123456789abcdef")[v & 15];
}

/* Writes the 2n hex digits of in[0..n) to out, then a NUL (out holds 2n + 1 bytes). */
static inline void
skt_hex_encode(const unsigned char *in, size_t n, char *out, int upper)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = skt_hex_digit(in[i] >> 4, upper);
        out[2 * i + 1] = skt_hex_digit(in[i], upper);
    }
    out[2 * n] = '\0';
}

#endif
