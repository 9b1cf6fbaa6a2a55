/* buf.c - refcounted, immutable byte buffers. */
#include "util/buf.h"

#include <stdlib.h>
#include <string.h>

skt_buf_t *
skt_buf_new(size_t len)
{
    if (len > UINT32_MAX)
        return NULL;
    skt_buf_t *b = malloc(sizeof(*b) + len);
    if (!b)
        return NULL;
    b->refs = 1;
    b->len = (uint32_t)len;
    return b;
}

skt_buf_t *
skt_buf_new_copy(const void *data, size_t len)
{
    skt_buf_t *b = skt_buf_new(len);
    if (b && len)
        memcpy(b->data, data, len);
    return b;
}

void
skt_buf_unref(skt_buf_t *b)
{
    if (b && --b->refs == 0)
        free(b);
}
