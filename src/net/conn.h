/* conn.h - connections: the listener, per-socket I/O, output queues, timeouts.
 *
 * DESIGN
 * One event loop, no threads. Each accepted socket is one skt_conn_t, embedded
 * at the start of a larger struct the protocol layer owns (opts.conn_size), so
 * one allocation holds both. A connection costs its struct and nothing else
 * while idle: input bytes live in one shared read buffer and are copied to a
 * per-connection heap buffer only when a request or frame is incomplete;
 * output is a queue of references to shared, refcounted frames (util/buf.h)
 * that exists only while bytes are waiting.
 *
 * Writes are batched per loop iteration: queuing output only marks the
 * connection dirty; one flush event, activated after the I/O callbacks of the
 * current iteration, writes each dirty connection's queue with one writev().
 * So the events that arrive together leave in one write per socket.
 *
 * A connection starts in HTTP mode. Each complete request goes to
 * on_request, which answers with skt_conn_http_respond() (now or later: no
 * further request of that connection is read until it does) or switches the
 * connection to WebSocket mode with skt_conn_ws_accept(). In WebSocket mode
 * complete text and binary messages go to on_ws_message; pings, pongs, close
 * frames, fragmentation, masking and UTF-8 are handled here.
 *
 * Lifetime: a connection is freed only when it is closed and no one holds a
 * reference (skt_conn_ref/unref). Closing from inside a handler is safe: the
 * I/O code holds a reference while it calls out. on_close runs once for every
 * connection that reached WebSocket mode, while its memory is still valid.
 *
 * Plain sockets and TLS sessions are two transports behind one table of
 * operations; the files of the layer and what each does are listed in
 * conn_internal.h, which nothing outside src/net includes.
 */
#ifndef SKT_NET_CONN_H
#define SKT_NET_CONN_H

#include <event2/event.h>
#include <event2/event_struct.h>
#include <stddef.h>
#include <stdint.h>

#include "net/http_parse.h"
#include "net/tls.h"
#include "util/buf.h"

typedef struct skt_net_s skt_net_t;
typedef struct skt_conn_s skt_conn_t;
typedef struct skt_conn_inbuf_s skt_conn_inbuf_t;
typedef struct skt_conn_outq_s skt_conn_outq_t;
typedef struct skt_conn_frag_s skt_conn_frag_t;

enum skt_conn_mode {
    SKT_CONN_HTTP = 0,
    SKT_CONN_WS = 1,
};

struct skt_conn_s {
    struct event ev; /* read (and, while blocked, write) readiness */
    skt_net_t *net;
    skt_conn_t *lru_prev, *lru_next; /* the timeout list of the current mode */
    skt_conn_t *flush_next;          /* the dirty list, while flags & FLUSHING */
    skt_conn_inbuf_t *in;            /* unparsed input; NULL when none */
    skt_conn_outq_t *out;            /* unwritten output; NULL when none */
    skt_conn_frag_t *frag;           /* a fragmented message being assembled */
    uint32_t last_active;            /* monotonic seconds of the last input */
    uint32_t flags;
    uint32_t refs;       /* holders: the I/O code while it calls out, and every pending operation */
    uint16_t close_code; /* the code this side closed with, 0 if none */
    uint8_t mode;        /* enum skt_conn_mode */
    uint8_t lru;         /* which timeout list holds it */
};

typedef struct skt_net_handlers_s {
    /* A complete HTTP request. req and body point into a buffer that is only
     * valid during the call: copy what an asynchronous answer needs. */
    void (*on_request)(skt_conn_t *c, const skt_http_req_t *req, char *body, size_t body_len);
    /* Optional: a complete request head that announces a body (Content-Length
     * > 0 or chunked), before any byte of that body is buffered: what can be
     * checked from the head alone (a signature covers method, path and query)
     * can refuse the request before its body costs memory. req is valid during
     * the call only. Return 0 to read the body (on_request follows), or
     * non-zero after answering with skt_conn_http_respond(): the body is then
     * never read and the connection closes after the answer (returning
     * non-zero without an answer closes it at once). A Content-Length over
     * max_body is answered 413 before this is called. NULL: every body is read. */
    int (*on_request_head)(skt_conn_t *c, const skt_http_req_t *req);
    /* A complete, unmasked WebSocket message (text is valid UTF-8). */
    void (*on_ws_message)(skt_conn_t *c, int binary, char *data, size_t len);
    /* A WebSocket connection is gone (either side closed, or I/O failed). */
    void (*on_ws_close)(skt_conn_t *c);
} skt_net_handlers_t;

/* A budget of buffered input several nets may share (the ports of one
 * process): the bytes all their connections together hold in partial
 * requests, partial frames and fragmented messages. A connection whose buffer
 * would take it past limit is refused: HTTP gets 503 and is closed, a
 * WebSocket gets close 1013 (Try Again Later). Its owner keeps it alive until
 * every net using it is freed. */
typedef struct skt_net_budget_s {
    size_t limit; /* bytes; 0: no limit */
    size_t used;  /* bytes held now (the nets keep it) */
} skt_net_budget_t;

typedef struct skt_net_opts_s {
    size_t conn_size;               /* bytes per connection, >= sizeof(skt_conn_t) */
    size_t max_head;                /* largest request head (431 past it) */
    size_t max_body;                /* largest request body (413 past it) */
    size_t max_ws_payload;          /* largest WebSocket message (close 1009 past it) */
    size_t max_backpressure;        /* unwritten bytes before a slow reader is dropped */
    unsigned ws_idle_timeout;       /* seconds without input before close 4201 */
    unsigned http_idle_timeout;     /* seconds an HTTP connection may idle */
    unsigned header_timeout;        /* seconds a request head may take to arrive in full,
                                     * from its first byte (from accept for a new
                                     * connection, TLS handshake included); past it:
                                     * 408 if some came, else closed. 0: the idle one */
    skt_net_budget_t *input_budget; /* NULL: the net's own, without a limit */
    size_t max_pending_handshakes;  /* TLS handshakes in progress (sessions made on
                                     * a complete first record, not yet finished)
                                     * beyond which a new connection is closed at
                                     * once; 0: no limit */
    skt_tls_t *tls;                 /* NULL, or TLS on every connection (net/tls.h); the
                                     * net owns it from skt_net_new() on, even on failure */
    int reuse_port;                 /* 1: listen with SO_REUSEPORT, so that the workers of
                                     * one host share the port (the kernel spreads new
                                     * connections); 0: the port is this process's alone */
} skt_net_opts_t;

/* What a net has done and holds, for /metrics. Gauges say "now"; counters
 * ("total") only grow from skt_net_new() on. */
typedef struct skt_net_stats_s {
    size_t connections;              /* open connections, all modes (now) */
    size_t input_buffered;           /* bytes of buffered input (now; see input_budget) */
    uint64_t input_refused;          /* connections refused by the input budget (total) */
    uint64_t accept_refused;         /* connections closed at accept: open-files limit (total) */
    uint64_t header_timeouts;        /* request heads not complete in time (total) */
    uint64_t http_output_closed;     /* HTTP connections closed for unread output (total) */
    size_t tls_handshakes_pending;   /* TLS sessions in their handshake (now) */
    uint64_t tls_handshakes_refused; /* TLS connections closed at accept: too many
                                      * pending handshakes (total) */
} skt_net_stats_t;

/* Creates the connection machinery on base (TLS when opts->tls is set).
 * Returns NULL when out of memory. */
skt_net_t *skt_net_new(struct event_base *base, const skt_net_opts_t *opts,
                       const skt_net_handlers_t *handlers, void *userdata);
void *skt_net_userdata(skt_net_t *net);

/* The options net runs with. */
const skt_net_opts_t *skt_net_opts(const skt_net_t *net);

/* Applies opts to a running net, all but conn_size and tls (fixed at
 * skt_net_new()); limits apply to what happens from now on (a connection
 * past a lowered limit is not closed for it). input_budget may change only
 * before the first connection: later changes are ignored. */
void skt_net_configure(skt_net_t *net, const skt_net_opts_t *opts);

/* Listens on host:port (port 0: one the system picks). Returns 0, or -1 with
 * a message in err. */
int skt_net_listen(skt_net_t *net, const char *host, int port, char *err, size_t errlen);

/* The port net listens on, or -1 when it does not listen. */
int skt_net_port(const skt_net_t *net);

/* Replaces the TLS context of a net created with one (a certificate renewed):
 * connections accepted from now on use tls, established ones keep the context
 * they started with. Takes tls; returns 0, or -1 (and frees tls) when net
 * serves plain connections. */
int skt_net_replace_tls(skt_net_t *net, skt_tls_t *tls);

/* Stops accepting new connections; established ones stay. */
void skt_net_stop_listening(skt_net_t *net);

/* Shutdown: stops accepting, and closes at once what cannot finish anything
 * within a grace period: connections waiting for a request head (TLS
 * handshakes included) and idle keep-alive ones. Requests being read or
 * answered and WebSockets stay until skt_net_free(). */
void skt_net_drain(skt_net_t *net);

/* Number of open connections, all modes. */
size_t skt_net_count(const skt_net_t *net);

/* Fills *out with the net's figures (see skt_net_stats_t). */
void skt_net_stats(const skt_net_t *net, skt_net_stats_t *out);

/* Closes every connection at once (no close handshake) and frees net. */
void skt_net_free(skt_net_t *net);

void skt_conn_ref(skt_conn_t *c);
/* Drops a reference; frees a closed connection with the last. */
void skt_conn_unref(skt_conn_t *c);
/* 1 once the connection is closing or closed: queue nothing more. */
int skt_conn_is_closed(const skt_conn_t *c);

/* Answers the request being served. extra_headers is NULL or complete
 * "Name: value\r\n" lines. Adds Content-Length, Content-Type (when
 * content_type is not NULL) and, when the request did not ask to keep the
 * connection alive or close is set, Connection: close and closes after the
 * write. Then the next pipelined request, if any, is served. */
void skt_conn_http_respond(skt_conn_t *c, int status, const char *extra_headers,
                           const char *content_type, const char *body, size_t body_len, int close);

/* Completes a WebSocket handshake for req (answers 101) and switches the
 * connection to WebSocket mode. On a bad handshake answers 400 and returns -1. */
int skt_conn_ws_accept(skt_conn_t *c, const skt_http_req_t *req);

/* Queues a shared frame (takes its own reference). */
void skt_conn_send_buf(skt_conn_t *c, skt_buf_t *frame);
/* Frames text as one WebSocket text message and queues it. */
void skt_conn_send_text(skt_conn_t *c, const char *text, size_t len);
/* A WebSocket text frame holding msg, with one reference: queue it on many
 * connections with skt_conn_send_buf(), then drop the reference. */
skt_buf_t *skt_conn_frame_text(const char *msg, size_t len);

/* Starts the close handshake: queues a close frame, stops reading messages,
 * and closes the socket once the frame is written (or after 2 s). */
void skt_conn_ws_close(skt_conn_t *c, uint16_t code, const char *reason);
/* Closes at once, dropping unwritten output. */
void skt_conn_abort(skt_conn_t *c);

/* Writes the peer's address as text ("1.2.3.4" or "::1"). */
void skt_conn_peer(const skt_conn_t *c, char *out, size_t outlen);

#endif
