/* frame.c - heads of the frames between workers and their supervisor (frame.h). */
#include "workers/frame.h"

#include <event2/buffer.h>

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
    if (len < 1 || head[4] >= SKT_WFRAME_KINDS || (size_t)len - 1 > max)
        return 0;
    *kind = head[4];
    *payload_len = (size_t)len - 1;
    return *kind != SKT_WFRAME_NODES || *payload_len == 4;
}

uint32_t
skt_wframe_read_u32(skt_wframe_reader_t *r)
{
    if (r->bad || r->left < 4) {
        r->bad = 1;
        return 0;
    }
    uint32_t v = skt_wframe_get_u32(r->p);
    r->p += 4;
    r->left -= 4;
    return v;
}

const char *
skt_wframe_read_str(skt_wframe_reader_t *r, size_t *len)
{
    uint32_t n = skt_wframe_read_u32(r);
    if (r->bad || r->left < n) {
        r->bad = 1;
        *len = 0;
        return NULL;
    }
    const char *s = (const char *)r->p;
    r->p += n;
    r->left -= n;
    *len = n;
    return s;
}

int
skt_wframe_add_u32(struct evbuffer *b, uint32_t v)
{
    unsigned char n[4];
    skt_wframe_put_u32(n, v);
    return evbuffer_add(b, n, 4);
}

int
skt_wframe_add_str(struct evbuffer *b, const char *s, size_t len)
{
    return len > UINT32_MAX || skt_wframe_add_u32(b, (uint32_t)len) != 0 ? -1
                                                                         : evbuffer_add(b, s, len);
}

int
skt_wframe_add_frame(struct evbuffer *out, int kind, struct evbuffer *body)
{
    unsigned char head[SKT_WFRAME_HEAD];
    skt_wframe_head(head, kind, evbuffer_get_length(body));
    return evbuffer_add(out, head, sizeof(head)) != 0 || evbuffer_add_buffer(out, body) != 0 ? -1
                                                                                             : 0;
}

int
skt_wframe_next(struct evbuffer *in, size_t max, int *kind, size_t *len,
                const unsigned char **payload)
{
    unsigned char head[SKT_WFRAME_HEAD];
    if (evbuffer_copyout(in, head, sizeof(head)) < (ev_ssize_t)sizeof(head))
        return 0;
    if (!skt_wframe_parse(head, max, kind, len))
        return -1;
    if (evbuffer_get_length(in) < SKT_WFRAME_HEAD + *len)
        return 0;
    const unsigned char *frame = evbuffer_pullup(in, (ev_ssize_t)(SKT_WFRAME_HEAD + *len));
    if (!frame)
        return 0;
    *payload = frame + SKT_WFRAME_HEAD;
    return 1;
}
