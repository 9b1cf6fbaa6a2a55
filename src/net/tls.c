/* tls.c - TLS for the connection layer: loading the server context and
 * non-blocking record I/O over OpenSSL (see tls.h for the contract).
 *
 * Sessions read and write the socket through OpenSSL's own fd BIO with
 * read-ahead on (one read() takes whatever the kernel holds), release their
 * buffers while idle, and accept partial writes from a moving buffer: conn.c
 * rebuilds the bytes to write from its queue on each attempt.
 */
#include "net/tls.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"

typedef struct pass_state_s {
    const char *pass; /* NULL when none is configured */
    int asked;        /* the key was encrypted: the callback ran */
} pass_state_t;

/* OpenSSL asks for the key's passphrase only when the key is encrypted. Never
 * fall back to OpenSSL's default, which prompts on the terminal. */
static int
pass_cb(char *buf, int size, int rwflag, void *userdata)
{
    pass_state_t *st = userdata;
    st->asked = 1;
    if (!st->pass)
        return 0;
    size_t n = strlen(st->pass);
    if (n > (size_t)size)
        return 0;
    memcpy(buf, st->pass, n);
    return (int)n;
}

/* The innermost OpenSSL reason of the last failure, for messages. */
static const char *
ossl_reason(void)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    return r ? r : "unknown error";
}

/* A file OpenSSL is about to read: say plainly when it is not readable. */
static int
check_file(const char *what, const char *path, char *err, size_t errlen)
{
    if (access(path, R_OK) != 0) {
        snprintf(err, errlen, "TLS %s '%s': %s", what, path, strerror(errno));
        return -1;
    }
    return 0;
}

skt_tls_t *
skt_tls_new(const char *cert, const char *key, const char *pass, const char *ca, char *err,
            size_t errlen)
{
    if (!cert || !*cert || !key || !*key) {
        snprintf(err, errlen,
                 "TLS needs both a certificate (ssl.certPath, SOKETI_SSL_CERT) and a private "
                 "key (ssl.keyPath, SOKETI_SSL_KEY)");
        return NULL;
    }
    if (check_file("certificate", cert, err, errlen) != 0 ||
        check_file("private key", key, err, errlen) != 0 ||
        (ca && *ca && check_file("CA file", ca, err, errlen) != 0))
        return NULL;

    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        snprintf(err, errlen, "TLS: cannot create a context: %s", ossl_reason());
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_read_ahead(ctx, 1);
    static const unsigned char sid[] = "soketi";
    SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid) - 1);

    pass_state_t ps = {pass && *pass ? pass : NULL, 0};
    SSL_CTX_set_default_passwd_cb(ctx, pass_cb);
    SSL_CTX_set_default_passwd_cb_userdata(ctx, &ps);

    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        snprintf(err, errlen, "TLS certificate '%s': not a PEM certificate (%s)", cert,
                 ossl_reason());
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        if (ps.asked && !ps.pass)
            snprintf(err, errlen,
                     "TLS private key '%s' is encrypted: set its passphrase (ssl.passphrase, "
                     "SOKETI_SSL_PASS)",
                     key);
        else if (ps.asked)
            snprintf(err, errlen,
                     "TLS private key '%s': wrong passphrase (ssl.passphrase, SOKETI_SSL_PASS)",
                     key);
        else if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH)
            snprintf(err, errlen, "TLS private key '%s' does not match the certificate '%s'", key,
                     cert);
        else
            snprintf(err, errlen, "TLS private key '%s': not a PEM private key (%s)", key,
                     ossl_reason());
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(err, errlen, "TLS private key '%s' does not match the certificate '%s'", key,
                 cert);
        goto fail;
    }
    if (ca && *ca) {
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(ca);
        if (!names || SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
            if (names)
                sk_X509_NAME_pop_free(names, X509_NAME_free);
            snprintf(err, errlen, "TLS CA file '%s': no PEM certificates (%s)", ca, ossl_reason());
            goto fail;
        }
        SSL_CTX_set_client_CA_list(ctx, names);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    }
    /* The passphrase lives on the caller's stack: forget it. */
    SSL_CTX_set_default_passwd_cb_userdata(ctx, NULL);
    SSL_CTX_set_default_passwd_cb(ctx, NULL);
    ERR_clear_error();
    return ctx;

fail:
    SSL_CTX_free(ctx);
    ERR_clear_error();
    return NULL;
}

void
skt_tls_free(skt_tls_t *tls)
{
    SSL_CTX_free(tls);
}

skt_tls_conn_t *
skt_tls_conn_new(skt_tls_t *tls, int fd)
{
    SSL *s = SSL_new(tls);
    if (!s)
        return NULL;
    if (SSL_set_fd(s, fd) != 1) {
        SSL_free(s);
        return NULL;
    }
    SSL_set_accept_state(s);
    return s;
}

/* Maps an OpenSSL failure of a read or write to a result and *want. Stale
 * errors must not leak into the next call: every call starts with a clean
 * error queue and leaves one. */
static ssize_t
tls_failure(SSL *s, int r, int *want)
{
    int e = SSL_get_error(s, r);
    ssize_t res = SKT_TLS_ERROR;
    switch (e) {
    case SSL_ERROR_WANT_READ:
        *want |= SKT_TLS_WANT_READ;
        res = SKT_TLS_AGAIN;
        break;
    case SSL_ERROR_WANT_WRITE:
        *want |= SKT_TLS_WANT_WRITE;
        res = SKT_TLS_AGAIN;
        break;
    case SSL_ERROR_ZERO_RETURN:
        res = 0;
        break;
    case SSL_ERROR_SYSCALL:
        /* End of stream without close_notify, or a socket error: the peer
         * is gone either way. */
        res = 0;
        break;
    case SSL_ERROR_SSL: {
        unsigned long le = ERR_peek_last_error();
        skt_log(SKT_LOG_DEBUG, "TLS connection %d failed: %s", SSL_get_fd(s), ossl_reason());
        if (ERR_GET_LIB(le) == ERR_LIB_SSL && ERR_GET_REASON(le) == SSL_R_HTTP_REQUEST)
            res = SKT_TLS_PLAIN_HTTP;
#ifdef SSL_R_UNEXPECTED_EOF_WHILE_READING
        else if (ERR_GET_LIB(le) == ERR_LIB_SSL &&
                 ERR_GET_REASON(le) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
            res = 0;
#endif
        break;
    }
    default:
        break;
    }
    ERR_clear_error();
    return res;
}

ssize_t
skt_tls_read(skt_tls_conn_t *s, char *buf, size_t cap, int *want)
{
    size_t got = 0;
    *want = 0;
    ERR_clear_error();
    /* After the first bytes, go on only while OpenSSL holds more (no system
     * call); what is left in the kernel brings the next readiness event. */
    while (got < cap && (got == 0 || SSL_has_pending(s))) {
        size_t n = 0;
        int r = SSL_read_ex(s, buf + got, cap - got, &n);
        if (r == 1) {
            got += n;
            continue;
        }
        ssize_t res = tls_failure(s, r, want);
        if (got == 0)
            return res;
        /* Deliver what came first; the end or the error comes again on the
         * next call, which MORE asks for now (its record may already have
         * been read from the socket). */
        if (res != SKT_TLS_AGAIN)
            *want |= SKT_TLS_MORE;
        return (ssize_t)got;
    }
    if (got == cap && SSL_has_pending(s))
        *want |= SKT_TLS_MORE;
    return (ssize_t)got;
}

ssize_t
skt_tls_write(skt_tls_conn_t *s, const void *buf, size_t len, int *want)
{
    size_t n = 0;
    *want = 0;
    ERR_clear_error();
    if (SSL_write_ex(s, buf, len, &n) == 1)
        return (ssize_t)n;
    ssize_t res = tls_failure(s, 0, want);
    return res == SKT_TLS_AGAIN ? res : SKT_TLS_ERROR;
}

int
skt_tls_handshake_done(const skt_tls_conn_t *s)
{
    return SSL_is_init_finished(s);
}

void
skt_tls_shutdown(skt_tls_conn_t *s)
{
    if (SSL_get_shutdown(s) & SSL_SENT_SHUTDOWN)
        return;
    /* Before the handshake completes there is no session to close. */
    if (!SSL_is_init_finished(s))
        return;
    ERR_clear_error();
    SSL_shutdown(s);
    ERR_clear_error();
}

void
skt_tls_conn_free(skt_tls_conn_t *s)
{
    SSL_free(s);
}
