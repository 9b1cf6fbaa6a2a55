/* frame.c - heads of the frames between workers and their supervisor (frame.h). */
#include "workers/frame.h"

void
skt_wframe_put_u32(unsigned char out[4], uint32_t v)
{
    out[0] = (unsigned char)(v >> 24);
    out[1] = (unsigned char)(v >> 16);
    out[2] = (unsigned char)(v >> 8);
    out[3] = (unsigned char)v;
}

uint32_t
skt_wframe_get_u32(const unsigned char in[4])
{
    return (uint32_t)in[0] << 24 | (uint32_t)in[1] << 16 | (uint32_t)in[2] << 8 | in[3];
}

void
skt_wframe_head(unsigned char head[SKT_WFRAME_HEAD], int kind, size_t payload_len)
{
    skt_wframe_put_u32(head, (uint32_t)(payload_len + 1));
    head[4] = (unsigned char)kind;
}

int
skt_wframe_parse(const unsigned char head[SKT_WFRAME_HEAD], size_t max, int *kind,
                 size_t *payload_len)
{
    uint32_t len = skt_wframe_get_u32(head);
    if (len < 1 || head[4] > SKT_WFRAME_NODES || (size_t)len - 1 > max)
        return 0;
    *kind = head[4];
    *payload_len = (size_t)len - 1;
    return *kind != SKT_WFRAME_NODES || *payload_len == 4;
}
