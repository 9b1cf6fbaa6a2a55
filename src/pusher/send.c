/* send.c - what goes out to one Pusher socket (send.h). */
#include "pusher/send.h"

#include <stdio.h>

#include "features/metrics.h"
#include "net/conn.h"
#include "pusher/message.h"
#include "pusher/server.h"

void
skt_send_frame(skt_socket_t *s, skt_buf_t *frame, size_t msg_len)
{
    skt_conn_send_buf(&s->conn, frame);
    if (s->ns)
        skt_metrics_ws_out(s->ns->metrics, 1, msg_len);
}

void
skt_send_text(skt_socket_t *s, const char *text, size_t len)
{
    skt_buf_t *frame = skt_conn_frame_text(text, len);
    if (!frame) {
        skt_conn_abort(&s->conn);
        return;
    }
    skt_send_frame(s, frame, len);
    skt_buf_unref(frame);
}

void
skt_send_msg(skt_socket_t *s, skt_jw_t *w)
{
    size_t len = 0;
    const char *text = skt_jw_cstr(w, &len);
    if (text)
        skt_send_text(s, text, len);
    else
        skt_conn_abort(&s->conn);
    skt_jw_free(w);
}

size_t
skt_send_echo_len(const skt_socket_t *s, size_t len)
{
    long max = s->ns && s->ns->app ? s->ns->app->max_channel_name_length : 0;
    size_t cap = (max > 200 ? (size_t)max : 200) + 1024;
    return len > cap ? cap : len;
}

void
skt_send_error(skt_socket_t *s, int code, const char *msg)
{
    SKT_JW_ON_STACK(w, SKT_SEND_STACK);
    skt_msg_error(&w, NULL, 0, code, msg);
    skt_send_msg(s, &w);
}

void
skt_send_channel_error(skt_socket_t *s, const char *channel, size_t clen, int code, const char *msg)
{
    SKT_JW_ON_STACK(w, SKT_SEND_STACK);
    skt_msg_error(&w, channel, skt_send_echo_len(s, clen), code, msg);
    skt_send_msg(s, &w);
}

void
skt_send_subscription_error(skt_socket_t *s, const char *channel, size_t clen, const char *type,
                            const char *error, int status)
{
    SKT_JW_ON_STACK(w, SKT_SEND_STACK);
    skt_msg_subscription_error(&w, channel, skt_send_echo_len(s, clen), type, error, status);
    skt_send_msg(s, &w);
}

void
skt_send_subscription_limit(skt_socket_t *s, const char *channel, size_t clen, int busy)
{
    const skt_config_t *cfg = skt_server_of(&s->conn)->cfg;
    char msg[160];
    if (busy)
        snprintf(msg, sizeof(msg),
                 "Too many requests of this connection wait for an answer (%ld): retry once "
                 "they are answered.",
                 cfg->connection_limits.max_pending_requests);
    else
        snprintf(msg, sizeof(msg), "The connection is subscribed to the maximum of %ld channels.",
                 cfg->connection_limits.max_channels);
    skt_send_subscription_error(s, channel, clen, "LimitReached", msg, 4301);
}

void
skt_send_terminate(skt_socket_t *s, int code, const char *msg)
{
    skt_send_error(s, code, msg);
    skt_conn_ws_close(&s->conn, (uint16_t)code, "");
}
