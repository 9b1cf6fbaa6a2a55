/* tls.h - TLS for the connection layer: the server context and non-blocking
 * record I/O over OpenSSL, so that conn.c stays a byte pump.
 *
 * DESIGN
 * A TLS listener serves wss:// and https:// on one port, as soketi does. The
 * context (skt_tls_t, an OpenSSL SSL_CTX) is loaded once at start-up from the
 * certificate, key, passphrase and CA files; every accepted socket of a TLS
 * listener gets one session (skt_tls_conn_t, an OpenSSL SSL) reading and
 * writing the socket's file descriptor directly. The handshake happens inside
 * the first reads. Sessions release their record buffers while idle, so an
 * idle TLS connection costs its session object only.
 *
 * Non-blocking I/O: a read may need the socket to be writable (handshake
 * messages, key updates) and a write may need it to be readable; each call
 * says which through *want, and the caller waits for that readiness and
 * repeats the same call. A write that has to be repeated must be repeated
 * with at least the same bytes (the buffer may move; it may have grown).
 */
#ifndef SKT_NET_TLS_H
#define SKT_NET_TLS_H

#include <stddef.h>
#include <sys/types.h>

typedef struct ssl_ctx_st skt_tls_t;  /* OpenSSL's SSL_CTX */
typedef struct ssl_st skt_tls_conn_t; /* OpenSSL's SSL */

/* What a read or write is waiting for (bits of *want). */
enum {
    SKT_TLS_WANT_READ = 1,  /* call again once the socket is readable */
    SKT_TLS_WANT_WRITE = 2, /* call again once the socket is writable */
    SKT_TLS_MORE = 4,       /* (reads) call again now: more is already buffered */
};

/* Results of skt_tls_read/write besides a byte count. */
enum {
    SKT_TLS_ERROR = -1,      /* the connection failed: close it */
    SKT_TLS_AGAIN = -2,      /* nothing now: see *want */
    SKT_TLS_PLAIN_HTTP = -3, /* (reads) the peer sent plain HTTP to this TLS port */
};

/* Loads a server context. cert: PEM certificate chain file; key: PEM private
 * key file; pass: the key's passphrase or NULL/""; ca: NULL/"" or a PEM file of
 * CAs that client certificates are verified against (as soketi/uWebSockets:
 * the server asks for a client certificate, refuses one that does not verify,
 * and accepts clients that send none). Returns NULL with a message naming the
 * file and the cause in err (missing file, not PEM, wrong or missing
 * passphrase, key not matching the certificate). */
skt_tls_t *skt_tls_new(const char *cert, const char *key, const char *pass, const char *ca,
                       char *err, size_t errlen);
void skt_tls_free(skt_tls_t *tls);

/* A server session on the connected socket fd (not owned: close it after
 * skt_tls_conn_free). Returns NULL when out of memory. */
skt_tls_conn_t *skt_tls_conn_new(skt_tls_t *tls, int fd);

/* Reads decrypted bytes into buf (up to cap), as many as are available
 * without blocking. Returns the count (> 0), 0 when the peer closed (TLS
 * close_notify or end of stream), or SKT_TLS_AGAIN, SKT_TLS_ERROR,
 * SKT_TLS_PLAIN_HTTP; *want is set on every return: WANT_WRITE when the
 * session needs writability before it can read on, MORE when the caller
 * should read again without waiting for the socket (data or the end of the
 * stream is already buffered). */
ssize_t skt_tls_read(skt_tls_conn_t *s, char *buf, size_t cap, int *want);

/* Encrypts and writes up to len bytes. Returns the count written (> 0; may
 * be fewer than len), SKT_TLS_AGAIN with *want = WANT_READ or WANT_WRITE, or
 * SKT_TLS_ERROR. */
ssize_t skt_tls_write(skt_tls_conn_t *s, const void *buf, size_t len, int *want);

/* 1 once the handshake of s is complete, else 0. */
int skt_tls_handshake_done(const skt_tls_conn_t *s);

/* Sends close_notify once, best effort (never blocks); reads stay possible. */
void skt_tls_shutdown(skt_tls_conn_t *s);

void skt_tls_conn_free(skt_tls_conn_t *s);

#endif
