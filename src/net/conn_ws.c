/* conn_ws.c - WebSocket frames, messages and the close handshake.
 *
 * Frames are parsed in the connection's input (net/ws_frame.c unmasks them in
 * place); pings are answered, pongs ignored, fragments assembled into one
 * buffer of the connection's own, and each complete text or binary message
 * goes to on_ws_message. Either side may start the close handshake; ours
 * queues a close frame, stops reading messages, and the socket is closed
 * once the frame is written and the peer answers (or after 2 s). Frames are
 * queued through conn_out.c; nothing here calls the files above it.
 */
#include <stdlib.h>
#include <string.h>

#include "net/conn_internal.h"
#include "net/ws_frame.h"
#include "util/log.h"

/* One unfragmented server frame holding payload, with one reference. */
static skt_buf_t *
ws_frame_new(unsigned opcode, const void *payload, size_t len)
{
    uint8_t hdr[10];
    size_t hl = skt_ws_frame_header(hdr, opcode, len);
    skt_buf_t *b = skt_buf_new(hl + len);
    if (!b)
        return NULL;
    memcpy(b->data, hdr, hl);
    if (len)
        memcpy(b->data + hl, payload, len);
    return b;
}

skt_buf_t *
skt_conn_frame_text(const char *msg, size_t len)
{
    return ws_frame_new(SKT_WS_OP_TEXT, msg, len);
}

/* Queues one frame; a connection we cannot even build a frame for is closed. */
static void
ws_send_frame(skt_conn_t *c, unsigned opcode, const void *payload, size_t len)
{
    skt_buf_t *b = ws_frame_new(opcode, payload, len);
    if (!b) {
        skt_conn_doom(c, 0);
        return;
    }
    skt_conn_send_buf(c, b);
    skt_buf_unref(b);
}

void
skt_conn_send_text(skt_conn_t *c, const char *text, size_t len)
{
    ws_send_frame(c, SKT_WS_OP_TEXT, text, len);
}

/* A client that only receives (pusher-js sends nothing while events keep coming) must not be
 * taken for a dead one: a ping makes any live client answer with a pong, which is input. */
void
skt_conn_ws_ping(skt_conn_t *c)
{
    ws_send_frame(c, SKT_WS_OP_PING, NULL, 0);
    if (!(c->flags & F_CLOSED))
        skt_conn_lru_touch(c, LRU_PINGED);
}

void
skt_conn_ws_close(skt_conn_t *c, uint16_t code, const char *reason)
{
    if (c->flags & (F_CLOSED | F_CLOSING))
        return;
    uint8_t frame[127];
    size_t n = skt_ws_close_frame(frame, code, reason);
    skt_buf_t *b = skt_buf_new_copy(frame, n);
    if (!b) {
        skt_conn_close_now(c);
        return;
    }
    skt_conn_send_buf(c, b);
    skt_buf_unref(b);
    if (c->flags & F_CLOSED)
        return;
    c->close_code = code;
    c->flags |= F_CLOSING;
    skt_conn_frag_free(c);
    skt_conn_lru_touch(c, LRU_CLOSING);
    skt_conn_ws_notify_close(c);
}

/* Closes c with 1013: its input does not fit the budget (a fragment here, a
 * read in conn_in.c). */
void
skt_conn_ws_busy(skt_conn_t *c)
{
    skt_conn_ws_close(c, 1013, "The server is busy: try again later");
}

/* ---------------------------------------------------------------- frames */

/* Ends a connection whose peer broke the protocol, with the RFC's code. */
static void
conn_ws_fail(skt_conn_t *c, uint16_t code, const char *why)
{
    skt_log(SKT_LOG_DEBUG, "websocket protocol error %u: %s", code, why);
    skt_conn_ws_close(c, code, why);
}

/* Adds a fragment to the message being assembled (starting one of opcode),
 * growing its buffer within the input budget. Returns 0, or -1 when c was
 * refused or closed. */
static int
frag_append(skt_conn_t *c, unsigned opcode, const uint8_t *data, size_t len)
{
    skt_conn_frag_t *fr = c->frag;
    size_t have = fr ? fr->cap : 0, need = (fr ? fr->len : 0) + len;
    if (need > have || !fr) {
        size_t cap = need * 2 + 256, max = c->net->opts.max_ws_payload;
        if (cap > max && need <= max)
            cap = max;
        if (skt_conn_budget_take(c, cap - have) != 0) {
            skt_conn_ws_busy(c);
            return -1;
        }
        skt_conn_frag_t *nf = realloc(fr, sizeof(*nf) + cap);
        if (!nf) {
            skt_conn_budget_give(c, cap - have);
            skt_conn_close_now(c);
            return -1;
        }
        if (!fr) {
            nf->opcode = (uint8_t)opcode;
            nf->len = 0;
        }
        nf->cap = cap;
        c->frag = fr = nf;
    }
    memcpy(fr->data + fr->len, data, len);
    fr->len += len;
    return 0;
}

/* Delivers a complete data message after checking its encoding. */
static void
conn_ws_deliver(skt_conn_t *c, unsigned opcode, uint8_t *data, size_t len)
{
    if (opcode == SKT_WS_OP_TEXT && !skt_utf8_valid(data, len)) {
        conn_ws_fail(c, SKT_WS_CLOSE_BAD_DATA, "Invalid UTF-8");
        return;
    }
    c->net->h.on_ws_message(c, opcode == SKT_WS_OP_BINARY, (char *)data, len);
}

size_t
skt_conn_ws_step(skt_conn_t *c, char *data, size_t len)
{
    skt_ws_frame_t f;
    uint16_t code = 0;
    ssize_t n = skt_ws_frame_parse((uint8_t *)data, len, c->net->opts.max_ws_payload, &f, &code);
    if (n == 0)
        return 0;
    if (n < 0) {
        conn_ws_fail(c, code ? code : SKT_WS_CLOSE_PROTOCOL, "Protocol error");
        return 0;
    }
    switch (f.opcode) {
    case SKT_WS_OP_PING:
        ws_send_frame(c, SKT_WS_OP_PONG, f.payload, f.payload_len);
        break;
    case SKT_WS_OP_PONG:
        break;
    case SKT_WS_OP_CLOSE: {
        uint16_t peer = 0;
        if (skt_ws_close_parse(f.payload, f.payload_len, &peer) != 0) {
            conn_ws_fail(c, peer ? peer : SKT_WS_CLOSE_PROTOCOL, "Invalid close frame");
            return 0;
        }
        skt_conn_ws_close(c, peer == SKT_WS_CLOSE_NO_STATUS ? SKT_WS_CLOSE_NORMAL : peer, "");
        return (size_t)n;
    }
    case SKT_WS_OP_TEXT:
    case SKT_WS_OP_BINARY:
        if (c->frag) {
            conn_ws_fail(c, SKT_WS_CLOSE_PROTOCOL, "Expected a continuation frame");
            return 0;
        }
        if (f.fin) {
            conn_ws_deliver(c, f.opcode, f.payload, f.payload_len);
            break;
        }
        if (frag_append(c, f.opcode, f.payload, f.payload_len) != 0)
            return 0;
        break;
    case SKT_WS_OP_CONT:
        if (!c->frag) {
            conn_ws_fail(c, SKT_WS_CLOSE_PROTOCOL, "Unexpected continuation frame");
            return 0;
        }
        if (c->frag->len + f.payload_len > c->net->opts.max_ws_payload) {
            conn_ws_fail(c, SKT_WS_CLOSE_TOO_BIG, "Message too big");
            return 0;
        }
        if (frag_append(c, c->frag->opcode, f.payload, f.payload_len) != 0)
            return 0;
        if (f.fin) {
            skt_conn_frag_t *fr = c->frag;
            conn_ws_deliver(c, fr->opcode, fr->data, fr->len);
            if (c->frag == fr)
                skt_conn_frag_free(c);
        }
        break;
    default:
        conn_ws_fail(c, SKT_WS_CLOSE_PROTOCOL, "Unknown opcode");
        return 0;
    }
    return (size_t)n;
}
