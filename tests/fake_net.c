/* fake_net.c - a stand-in for net/conn.c, so that the protocol runs without sockets. */
#include "fake_net.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/tls.h"
#include "pusher/http_api.h"
#include "pusher/server_life.h"
#include "pusher/ws_handler.h"

enum { FAKE_CLOSED = 1 << 0, FAKE_WS_OPEN = 1 << 1, FAKE_HTTP_DONE = 1 << 2 };

struct skt_net_s {
    skt_net_opts_t opts;
    skt_net_handlers_t h;
    void *userdata;
    size_t count;
};

/* What the fake records of a connection's output: each message or answer as text. */
typedef struct fake_msg_s {
    struct fake_msg_s *next;
    int status; /* HTTP answers: the status; messages: 0 */
    size_t len;
    char text[];
} fake_msg_t;

struct skt_conn_outq_s {
    fake_msg_t *head, *tail;
    size_t n;
};

/* ---------------------------------------------------------------- the net API */

skt_net_t *
skt_net_new(struct event_base *base, const skt_net_opts_t *opts, const skt_net_handlers_t *handlers,
            void *userdata)
{
    (void)base;
    skt_net_t *net = calloc(1, sizeof(*net));
    if (!net)
        return NULL;
    net->opts = *opts;
    net->h = *handlers;
    net->userdata = userdata;
    return net;
}

void *
skt_net_userdata(skt_net_t *net)
{
    return net->userdata;
}

int
skt_net_listen(skt_net_t *net, const char *host, int port, char *err, size_t errlen)
{
    (void)net, (void)host, (void)port, (void)err, (void)errlen;
    return 0;
}

void
skt_net_stop_listening(skt_net_t *net)
{
    (void)net;
}

size_t
skt_net_count(const skt_net_t *net)
{
    return net->count;
}

void
skt_net_free(skt_net_t *net)
{
    free(net);
}

const skt_net_opts_t *
skt_net_opts(const skt_net_t *net)
{
    return &net->opts;
}

void
skt_net_configure(skt_net_t *net, const skt_net_opts_t *opts)
{
    net->opts = *opts;
}

void
skt_net_stats(const skt_net_t *net, skt_net_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    out->connections = net->count;
}

void
skt_net_drain(skt_net_t *net)
{
    (void)net;
}

int
skt_net_replace_tls(skt_net_t *net, skt_tls_t *tls)
{
    (void)net, (void)tls;
    return -1;
}

skt_tls_t *
skt_tls_new(const char *cert, const char *key, const char *pass, const char *ca, char *err,
            size_t errlen)
{
    (void)cert, (void)key, (void)pass, (void)ca;
    snprintf(err, errlen, "no TLS in the fake net");
    return NULL;
}

/* ---------------------------------------------------------------- recording */

static void
record(skt_conn_t *c, int status, const void *data, size_t len)
{
    if (c->flags & FAKE_CLOSED)
        return;
    if (!c->out && !(c->out = calloc(1, sizeof(*c->out))))
        abort();
    fake_msg_t *m = malloc(sizeof(*m) + len + 1);
    if (!m)
        abort();
    m->next = NULL;
    m->status = status;
    m->len = len;
    memcpy(m->text, data, len);
    m->text[len] = '\0';
    if (c->out->tail)
        c->out->tail->next = m;
    else
        c->out->head = m;
    c->out->tail = m;
    c->out->n++;
}

static fake_msg_t *
pop(skt_conn_t *c)
{
    fake_msg_t *m = c->out ? c->out->head : NULL;
    if (m) {
        c->out->head = m->next;
        if (!c->out->head)
            c->out->tail = NULL;
        c->out->n--;
    }
    return m;
}

static void
conn_free(skt_conn_t *c)
{
    fake_msg_t *m;
    while ((m = pop(c)))
        free(m);
    free(c->out);
    free(c);
}

/* ---------------------------------------------------------------- the conn API */

void
skt_conn_ref(skt_conn_t *c)
{
    c->refs++;
}

void
skt_conn_unref(skt_conn_t *c)
{
    if (--c->refs == 0 && (c->flags & FAKE_CLOSED))
        conn_free(c);
}

int
skt_conn_is_closed(const skt_conn_t *c)
{
    return (c->flags & FAKE_CLOSED) || c->close_code;
}

/* Tells the protocol once that a WebSocket is gone, as conn.c does. */
static void
notify_close(skt_conn_t *c)
{
    if (!(c->flags & FAKE_WS_OPEN))
        return;
    c->flags &= (uint16_t)~FAKE_WS_OPEN;
    if (c->net->h.on_ws_close)
        c->net->h.on_ws_close(c);
}

static void
close_now(skt_conn_t *c)
{
    if (c->flags & FAKE_CLOSED)
        return;
    c->refs++;
    notify_close(c);
    c->flags |= FAKE_CLOSED;
    c->net->count--;
    skt_conn_unref(c);
}

void
skt_conn_abort(skt_conn_t *c)
{
    close_now(c);
}

void
skt_conn_ws_close(skt_conn_t *c, uint16_t code, const char *reason)
{
    (void)reason;
    if (skt_conn_is_closed(c))
        return;
    c->close_code = code ? code : 1000;
    notify_close(c);
}

skt_buf_t *
skt_conn_frame_text(const char *msg, size_t len)
{
    /* No WebSocket header: the fake records what the client would read. */
    return skt_buf_new_copy(msg, len);
}

void
skt_conn_send_buf(skt_conn_t *c, skt_buf_t *frame)
{
    if (!skt_conn_is_closed(c))
        record(c, 0, frame->data, frame->len);
}

void
skt_conn_send_text(skt_conn_t *c, const char *text, size_t len)
{
    if (!skt_conn_is_closed(c))
        record(c, 0, text, len);
}

int
skt_conn_ws_accept(skt_conn_t *c, const skt_http_req_t *req)
{
    (void)req;
    c->mode = SKT_CONN_WS;
    c->flags |= FAKE_WS_OPEN;
    return 0;
}

void
skt_conn_http_respond(skt_conn_t *c, int status, const char *extra_headers,
                      const char *content_type, const char *body, size_t body_len, int close)
{
    (void)extra_headers, (void)content_type, (void)close;
    record(c, status, body ? body : "", body ? body_len : 0);
    c->flags |= FAKE_HTTP_DONE;
}

void
skt_conn_peer(const skt_conn_t *c, char *out, size_t outlen)
{
    (void)c;
    snprintf(out, outlen, "127.0.0.1");
}

/* ---------------------------------------------------------------- test side */

skt_server_t *
fake_server_new(const char *const *env, const char *plugin_dir)
{
    char *vars[64] = {0};
    for (size_t n = 0; env && env[n] && n < 63; n++)
        vars[n] = (char *)env[n];
    skt_config_sources_t src = {.environ = vars};
    skt_config_t *cfg;
    char err[512];
    if (skt_config_load(&src, &cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "fake_server_new: %s\n", err);
        abort();
    }
    skt_server_handlers_t h = {
        .main = {.on_request = skt_http_on_request,
                 .on_request_head = skt_http_on_request_head,
                 .on_ws_message = skt_ws_on_message,
                 .on_ws_close = skt_ws_on_close},
        .metrics = {.on_request = skt_http_on_metrics_request},
    };
    skt_server_t *srv = skt_server_new(event_base_new(), cfg, plugin_dir, &h, err, sizeof(err));
    if (!srv) {
        fprintf(stderr, "fake_server_new: %s\n", err);
        abort();
    }
    return srv;
}

void
fake_server_free(skt_server_t *srv)
{
    skt_config_t *cfg = srv->cfg;
    struct event_base *base = srv->base;
    skt_server_free(srv);
    skt_config_free(cfg);
    event_base_free(base);
}

static skt_conn_t *
conn_new(skt_net_t *net)
{
    skt_conn_t *c = calloc(1, net->opts.conn_size);
    if (!c)
        abort();
    c->net = net;
    c->refs = 1; /* the test's */
    net->count++;
    return c;
}

skt_socket_t *
fake_ws_open(skt_server_t *srv, const char *key)
{
    skt_conn_t *c = conn_new(srv->net);
    /* what the HTTP router does after the upgrade of GET /app/<key> */
    char raw[512];
    int n = snprintf(raw, sizeof(raw),
                     "GET /app/%s?protocol=7 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     key);
    skt_http_req_t req;
    if (skt_http_parse_request(raw, (size_t)n, sizeof(raw), &req) <= 0)
        abort();
    srv->net->h.on_request(c, &req, raw + n, 0);
    return (skt_socket_t *)c;
}

void
fake_ws_send(skt_socket_t *s, const char *text)
{
    skt_conn_t *c = &s->conn;
    if (skt_conn_is_closed(c))
        return;
    size_t len = strlen(text);
    char *copy = malloc(len + 1);
    memcpy(copy, text, len + 1);
    c->refs++;
    c->net->h.on_ws_message(c, 0, copy, len);
    skt_conn_unref(c);
    free(copy);
}

char *
fake_next(skt_socket_t *s)
{
    fake_msg_t *m = pop(&s->conn);
    if (!m)
        return NULL;
    char *text = strdup(m->text);
    free(m);
    return text;
}

size_t
fake_pending(const skt_socket_t *s)
{
    return s->conn.out ? s->conn.out->n : 0;
}

void
fake_drain(skt_socket_t *s)
{
    fake_msg_t *m;
    while ((m = pop(&s->conn)))
        free(m);
}

int
fake_close_code(const skt_socket_t *s)
{
    return s->conn.close_code;
}

int
fake_closed(const skt_socket_t *s)
{
    return skt_conn_is_closed(&s->conn);
}

void
fake_close(skt_socket_t *s)
{
    close_now(&s->conn);
    skt_conn_unref(&s->conn);
}

int
fake_http(skt_server_t *srv, int metrics, const char *raw, size_t len, char **body)
{
    skt_net_t *net = metrics ? srv->metrics_net : srv->net;
    skt_conn_t *c = conn_new(net);
    skt_http_req_t req;
    char *copy = malloc(len + 1);
    memcpy(copy, raw, len);
    copy[len] = '\0';
    int head = skt_http_parse_request(copy, len, 65536, &req);
    int status = -1;
    if (head > 0) {
        net->h.on_request(c, &req, copy + head, len - (size_t)head);
        fake_msg_t *m = pop(c);
        if (m) {
            status = m->status;
            if (body)
                *body = strdup(m->text);
            free(m);
        }
    }
    if (status < 0 && body)
        *body = NULL;
    free(copy);
    close_now(c);
    skt_conn_unref(c);
    return status;
}
