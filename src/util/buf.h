/* buf.h - refcounted, immutable byte buffers: one broadcast frame, many sockets.
 *
 * A buffer is allocated once with its bytes inline and shared by every
 * connection that queues it; each queue holds one reference. The bytes never
 * change after skt_buf_new*() returns.
 */
#ifndef SKT_UTIL_BUF_H
#define SKT_UTIL_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct skt_buf_s {
    uint32_t refs;
    uint32_t len;
    uint8_t data[];
} skt_buf_t;

/* A buffer of len bytes (contents undefined, for the caller to fill before
 * sharing) with one reference, or NULL when out of memory or len > 4 GiB. */
skt_buf_t *skt_buf_new(size_t len);

/* A buffer holding a copy of data, with one reference; NULL on failure. */
skt_buf_t *skt_buf_new_copy(const void *data, size_t len);

static inline skt_buf_t *
skt_buf_ref(skt_buf_t *b)
{
    b->refs++;
    return b;
}

/* Drops one reference; frees the buffer with the last. NULL is a no-op. */
void skt_buf_unref(skt_buf_t *b);

#endif
