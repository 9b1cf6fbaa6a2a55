/* conn_internal.h - what the files of the connection layer share: the net and
 * connection bodies, their flags, and the functions one file offers another.
 *
 * DESIGN
 * The connection layer is split by job, each file calling only the files
 * below it (no file reaches back up):
 *   net.c        the net's lifetime, the flush and the timeout sweep: the
 *                top, the one file that calls the jobs of the others
 *   listener.c   the listening socket, accept() and the new connection
 *   conn_in.c    the socket event (skt_conn_io_cb), reading: input buffers,
 *                refusals for the input budget, the parse loop
 *   conn_http.c  HTTP requests and answers, the WebSocket handshake
 *   conn_ws.c    WebSocket frames, messages and the close handshake
 *   conn_io.c    the transports: plain sockets and TLS sessions
 *   conn_out.c   the output queue: queuing, its bound, writing, dooming
 *   conn.c       the primitives every file shares: lifetime and the one
 *                close, timeout lists, the dirty list, event interest, the
 *                input budget's accounting, freeing the buffers
 * A lower file that needs an upper action done asks for it through the
 * connection's flags and the dirty list (F_DOOMED, F_RESUME, F_IO_MORE),
 * which the flush in net.c acts on.
 * Nothing outside src/net includes this header. The transports sit behind one
 * small table of operations (skt_conn_io_t, as libevent's bufferevent_ops), so
 * no other file knows whether a connection is encrypted; what a transport
 * needs from the event loop (read again although the socket is quiet, wait
 * for writability to finish a read, readability to finish a write) it says
 * through the F_IO_* flags, which the core honours for every transport.
 */
#ifndef SKT_NET_CONN_INTERNAL_H
#define SKT_NET_CONN_INTERNAL_H

#include <sys/types.h>

#include "net/conn.h"

/* skt_conn_t.flags */
enum {
    F_CLOSED = 1 << 0,      /* fd closed; waiting for the last reference */
    F_CLOSING = 1 << 1,     /* close frame queued; reading only to see EOF */
    F_CLOSE_AFTER = 1 << 2, /* close the socket once the queue is written */
    F_FLUSHING = 1 << 3,    /* in the dirty list */
    F_WRITE_WAIT = 1 << 4,  /* EV_WRITE armed: the kernel buffer was full */
    F_AWAIT = 1 << 5,       /* an HTTP answer is pending */
    F_IN_READ = 1 << 6,     /* input is being processed */
    F_RESUME = 1 << 7,      /* buffered input waits for processing */
    F_WS_OPEN = 1 << 8,     /* on_ws_close is owed */
    F_KEEPALIVE = 1 << 9,   /* the pending request allows keep-alive */
    F_SHUT = 1 << 10,       /* write side shut down after the last bytes */
    F_DOOMED = 1 << 11,     /* to be closed by the next flush (see skt_conn_doom) */
    F_IO_RWW = 1 << 12,     /* the transport's read waits for writability */
    F_IO_WWR = 1 << 13,     /* the transport's write waits for readability */
    F_IO_MORE = 1 << 14,    /* the transport holds input: read again at the flush */
    F_HOLD = 1 << 15,       /* buffered HTTP input waits for earlier answers: not reading */
    F_READ_OFF = 1 << 16,   /* EV_READ disarmed (see skt_conn_rearm) */
};

/* Unwritten answer bytes beyond which an HTTP connection's next pipelined
 * request waits (and reading stops while it does); at most max_backpressure. */
#define SKT_CONN_HTTP_OUT_GATE 65536

/* Which timeout list holds a connection (skt_conn_t.lru). Each is ordered by
 * its stamp (last_active): LRU_HEAD by when the request head being waited for
 * began (accept, or its first byte), the others by the last activity. A
 * WebSocket silent for half its idle timeout gets a ping and moves to
 * LRU_PINGED (stamped then); any input takes it back to LRU_WS, and one still
 * silent the other half of the timeout later is closed with 4201. */
enum { LRU_NONE = 0, LRU_HEAD, LRU_HTTP, LRU_WS, LRU_PINGED, LRU_CLOSING, LRU_COUNT };

#define SKT_CONN_CLOSING_TIMEOUT 2 /* seconds a closing socket waits for its peer */
#define SKT_CONN_READ_CHUNK 65536  /* the shared read buffer */

/* What a transport's read returns besides a byte count, 0 (end of stream) and -1 (failure). */
#define SKT_CONN_IO_AGAIN (-2) /* nothing now: wait for the socket */

/* Where the HTTP request at the front of a connection's input stands: kept
 * with the input while the request is incomplete, so that later reads go on
 * from there. All zero: nothing is known yet. */
typedef struct skt_conn_req_s {
    size_t head_len;         /* 0 until the head is complete */
    uint64_t content_length; /* of a body that is not chunked */
    skt_http_chunked_t ch;   /* the decoder of a chunked body, decoding in place */
    uint8_t chunked;         /* the body is chunked */
} skt_conn_req_t;

struct skt_conn_inbuf_s {
    size_t len, cap;
    skt_conn_req_t req; /* the request at data[0] (HTTP mode) */
    char data[];
};

struct skt_conn_outq_s {
    size_t bytes;   /* unwritten bytes in all queued buffers */
    skt_buf_t *big; /* a queued message over max_backpressure on its own, or NULL
                     * (identity only: the ring holds the reference) */
    uint32_t off;   /* bytes of bufs[head] already written */
    uint32_t head, count, cap;
    skt_buf_t *bufs[];
};

struct skt_conn_frag_s {
    size_t len, cap;
    uint8_t opcode;
    uint8_t data[];
};

typedef struct skt_conn_lru_s {
    skt_conn_t *head, *tail;
} skt_conn_lru_t;

/* A transport: how a connection's bytes move (conn_io.c). Every connection of a
 * net uses the net's table. */
typedef struct skt_conn_io_s {
    /* Bytes of per-connection transport state, kept after the opts.conn_size
     * bytes of each connection (skt_conn_io_state()); 0 for none. */
    size_t state_size;
    /* Sets up the transport on a new connection (its fd is in c->ev).
     * Returns 0, or -1 to refuse the connection (nothing to undo). */
    int (*attach)(skt_conn_t *c);
    /* Reads up to cap bytes into buf. Returns the count, 0 at the end of the
     * stream, SKT_CONN_IO_AGAIN when nothing is available now, or -1 when the
     * connection failed (the transport may have answered the peer first). */
    ssize_t (*read)(skt_conn_t *c, char *buf, size_t cap);
    /* Writes as much of c->out as the socket takes. Returns 1 when the queue
     * is written, 0 when blocked (interest armed), -1 when the connection
     * failed and was closed. */
    int (*write)(skt_conn_t *c);
    /* Bytes at the front of c->out the transport has committed to: they must
     * go out unchanged before anything else, even when the queue is dropped. */
    size_t (*committed)(skt_conn_t *c);
    /* Our last bytes are written: end the transport's stream (the fd is
     * half-closed after this). NULL: nothing to do. */
    void (*shutdown)(skt_conn_t *c);
    /* Releases the transport state; the fd is closed right after. */
    void (*detach)(skt_conn_t *c);
} skt_conn_io_t;

extern const skt_conn_io_t skt_conn_io_plain;
extern const skt_conn_io_t skt_conn_io_tls;

/* The listening socket (listener.c). */
typedef struct skt_net_listener_s {
    skt_net_t *net;
    int fd;
    int reserve; /* an fd given up to make room at the limit; -1 when none */
    struct event *accept_ev;
    struct event *backoff_ev;
    struct event *recover_ev; /* confirms a recovery: no shortage for a second */
    unsigned backoff_ms;      /* 0 while accepting normally */
    int short_again;          /* a shortage since recover_ev was armed */
    uint32_t logged_at;       /* skt_conn_now() of the last line about the limit */
    uint64_t refused_since;   /* connections refused since that line */
} skt_net_listener_t;

/* A warning about something that may happen thousands of times a second
 * (skt_net_warn_every). */
typedef struct skt_net_warn_s {
    uint32_t at;    /* skt_conn_now() of the last line; 0: none yet */
    uint64_t count; /* occurrences not yet reported */
} skt_net_warn_t;

struct skt_net_s {
    struct event_base *base;
    skt_net_listener_t *listener;
    skt_net_opts_t opts;
    skt_net_handlers_t h;
    void *userdata;
    const skt_conn_io_t *io;
    struct event *flush_ev;
    struct event *sweep_ev;
    skt_conn_t *dirty; /* connections with output to write */
    skt_conn_lru_t lru[LRU_COUNT];
    size_t count;
    skt_net_budget_t own_budget; /* when opts.input_budget is NULL */
    skt_net_budget_t *budget;    /* opts.input_budget or &own_budget */
    skt_net_warn_t budget_warn;  /* connections refused by the budget */
    skt_net_warn_t tls_warn;     /* connections refused: too many pending handshakes */
    size_t closed_since_trim;    /* connections closed since the heap was last trimmed */
    skt_net_stats_t stats;       /* the counters; gauges are computed by skt_net_stats() */
    size_t conn_alloc;           /* bytes per connection, with the transport state */
    size_t io_slot;              /* offset of the transport state */
};

/* The shared read buffer: input is read here and copied to a connection's
 * own buffer only when it holds an incomplete request or frame. */
extern char skt_conn_read_buf[SKT_CONN_READ_CHUNK];

/* conn.c: the primitives (calls no other file of the layer) */
uint32_t skt_conn_now(void);
/* Counts one occurrence and logs a warning (fmt, then how many occurrences
 * since the last line) at most once every 10 seconds. */
void skt_net_warn_every(skt_net_warn_t *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The transport state of c (skt_conn_io_t.state_size bytes). */
void *skt_conn_io_state(skt_conn_t *c);
void skt_conn_lru_touch(skt_conn_t *c, uint8_t which);
/* Puts c on the dirty list: the flush writes it after this loop iteration. */
void skt_conn_mark_dirty(skt_conn_t *c);
/* Arms or disarms write interest (kept armed while the transport asks). */
void skt_conn_want_write(skt_conn_t *c, int on);
/* Re-arms c's event after F_HOLD or F_IO_WWR changed. */
void skt_conn_rearm(skt_conn_t *c);
void skt_conn_close_now(skt_conn_t *c);
/* Charges bytes of buffered input to c's budget. Returns 0, or -1 when the
 * budget is full: counted and logged now and then, nothing charged; the
 * caller then refuses c in its own protocol. */
int skt_conn_budget_take(skt_conn_t *c, size_t bytes);
/* Returns bytes to c's budget (a buffer freed or shrunk). */
void skt_conn_budget_give(skt_conn_t *c, size_t bytes);
/* Frees c's input buffer and returns its bytes to the budget. */
void skt_conn_in_free(skt_conn_t *c);
/* Frees c's fragment buffer and returns its bytes to the budget. */
void skt_conn_frag_free(skt_conn_t *c);
void skt_conn_outq_free(skt_conn_outq_t *q);
/* Tells the protocol layer, once, that a WebSocket connection is gone. */
void skt_conn_ws_notify_close(skt_conn_t *c);

/* conn_out.c */
/* Drops unsent output and closes c at the next flush; code is the WebSocket
 * close code to tell the peer (0: close without one). */
void skt_conn_doom(skt_conn_t *c, uint16_t code);
/* Writes the queue; half-closes once the last bytes are out. Returns 0, or
 * -1 when the connection failed (and was closed). */
int skt_conn_write(skt_conn_t *c);
/* Releases the first w bytes of the queue (a transport wrote them). */
void skt_conn_outq_consume(skt_conn_outq_t *q, size_t w);
/* 1 while c's next HTTP request must wait: an answer is pending, or earlier
 * answers are queued unwritten past SKT_CONN_HTTP_OUT_GATE. */
int skt_conn_http_blocked(const skt_conn_t *c);

/* conn_ws.c */
/* Parses and handles one frame at data; returns the bytes consumed, 0 for
 * more input (or when the connection is failing). */
size_t skt_conn_ws_step(skt_conn_t *c, char *data, size_t len);
/* Sends a WebSocket ping to a silent connection and moves it to LRU_PINGED (net.c's sweep). */
void skt_conn_ws_ping(skt_conn_t *c);
/* Closes c with 1013: its input does not fit the budget. */
void skt_conn_ws_busy(skt_conn_t *c);

/* conn_http.c */
/* Parses and dispatches one request at data, going on from where rq says
 * the request stands (rq is updated). Returns the bytes consumed, 0 when the
 * request is incomplete (or the connection is failing). */
size_t skt_conn_http_step(skt_conn_t *c, skt_conn_req_t *rq, char *data, size_t len);

/* Answers {"error":msg,"code":status} and closes after it: a request we
 * cannot parse or accept. */
void skt_conn_http_fail(skt_conn_t *c, int status, const char *msg);

/* conn_in.c */
/* The event of every connection: writes, then reads. */
void skt_conn_io_cb(evutil_socket_t fd, short what, void *arg);
void skt_conn_read(skt_conn_t *c);
/* Processes input held while an answer was pending. */
void skt_conn_process_buffered(skt_conn_t *c);

#endif
