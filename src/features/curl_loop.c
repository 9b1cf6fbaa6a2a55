/* curl_loop.c - HTTP POSTs through libcurl's multi interface, driven by a libevent loop.
 *
 * Lifetimes: a skt_curl_req_t lives from skt_curl_post() until its done callback has
 * returned (or skt_curl_cancel()); its easy handle goes with it. See curl_loop.h.
 */
#include "features/curl_loop.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/log.h"

typedef struct dead_ev_s {
    struct dead_ev_s *next;
    struct event *ev;
} dead_ev_t;

struct skt_curl_req_s {
    struct skt_curl_req_s *prev, *next; /* every request in flight */
    CURL *easy;
    skt_curl_done_fn done;
    void *arg;
    size_t header_bytes, body_bytes; /* of the answer, so far */
    size_t excerpt_len;
    char excerpt[SKT_CURL_EXCERPT];
    char errbuf[CURL_ERROR_SIZE];
};

struct skt_curl_s {
    struct event_base *base;
    CURLM *multi;
    struct event *timer;
    skt_curl_req_t *reqs;
    dead_ev_t *dead;
};

/* ------------------------------------------------------------ helpers */

int
skt_curl_url_ok(const char *url)
{
    return url && (strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0);
}

size_t
skt_curl_escape(const char *in, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    if (!cap)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)in[i];
        char t[5];
        if (ch == '\\' || ch == '"')
            snprintf(t, sizeof(t), "\\%c", ch);
        else if (ch == '\n')
            snprintf(t, sizeof(t), "\\n");
        else if (ch == '\r')
            snprintf(t, sizeof(t), "\\r");
        else if (ch == '\t')
            snprintf(t, sizeof(t), "\\t");
        else if (ch < 0x20 || ch >= 0x7f)
            snprintf(t, sizeof(t), "\\x%02x", ch);
        else
            snprintf(t, sizeof(t), "%c", ch);
        size_t tl = strlen(t);
        if (o + tl >= cap)
            break;
        memcpy(out + o, t, tl);
        o += tl;
    }
    out[o] = '\0';
    return o;
}

struct curl_slist *
skt_curl_add_header(struct curl_slist *list, const char *name, const char *value, int *ok)
{
    if (strpbrk(name, "\r\n:") || strpbrk(value, "\r\n"))
        return list;
    size_t n = strlen(name) + strlen(value) + 3;
    char *line = malloc(n);
    if (!line) {
        *ok = 0;
        return list;
    }
    snprintf(line, n, "%s: %s", name, value);
    struct curl_slist *l = curl_slist_append(list, line);
    free(line);
    if (!l)
        *ok = 0;
    return l ? l : list;
}

/* ------------------------------------------------------------ one request */

/* The answer's body: its first bytes are kept, the rest counted; past the cap the transfer
 * stops (returning less than given makes curl end it with CURLE_WRITE_ERROR). */
static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
    skt_curl_req_t *r = arg;
    size_t len = size * n;
    size_t keep = SKT_CURL_EXCERPT - r->excerpt_len;
    if (keep > len)
        keep = len;
    memcpy(r->excerpt + r->excerpt_len, p, keep);
    r->excerpt_len += keep;
    r->body_bytes += len;
    return r->body_bytes > SKT_CURL_ANSWER_MAX ? 0 : len;
}

/* The answer's header lines: only counted, for the same cap. */
static size_t
on_header(char *p, size_t size, size_t n, void *arg)
{
    (void)p;
    skt_curl_req_t *r = arg;
    size_t len = size * n;
    r->header_bytes += len;
    return r->header_bytes > SKT_CURL_ANSWER_MAX ? 0 : len;
}

static void
req_unlink(skt_curl_t *c, skt_curl_req_t *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        c->reqs = r->next;
    if (r->next)
        r->next->prev = r->prev;
}

/* Takes r's easy handle out of the multi and frees both. */
static void
req_free(skt_curl_t *c, skt_curl_req_t *r)
{
    req_unlink(c, r);
    curl_multi_remove_handle(c->multi, r->easy);
    curl_easy_cleanup(r->easy);
    free(r);
}

skt_curl_req_t *
skt_curl_post(skt_curl_t *c, const char *url, const struct curl_slist *headers, const char *body,
              size_t len, long timeout_ms, long connect_ms, skt_curl_done_fn done, void *arg)
{
    skt_curl_req_t *r = calloc(1, sizeof(*r));
    CURL *e = r ? curl_easy_init() : NULL;
    if (!e) {
        free(r);
        return NULL;
    }
    r->easy = e;
    r->done = done;
    r->arg = arg;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, 0L);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE, (long)SKT_CURL_ANSWER_MAX);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    if (curl_multi_add_handle(c->multi, e) != CURLM_OK) {
        curl_easy_cleanup(e);
        free(r);
        return NULL;
    }
    r->prev = NULL;
    r->next = c->reqs;
    if (c->reqs)
        c->reqs->prev = r;
    c->reqs = r;
    return r;
}

void
skt_curl_cancel(skt_curl_t *c, skt_curl_req_t *req)
{
    if (req)
        req_free(c, req);
}

/* A transfer ended: tell its owner how, then free it. */
static void
finish(skt_curl_t *c, skt_curl_req_t *r, CURLcode rc)
{
    long status = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    char excerpt[SKT_CURL_EXCERPT_ESCAPED];
    char error[2 * CURL_ERROR_SIZE];
    skt_curl_escape(r->excerpt, r->excerpt_len, excerpt, sizeof(excerpt));
    skt_curl_answer_t ans = {.status = status, .excerpt = excerpt};
    if (status <= 0) {
        const char *why = rc == CURLE_OK ? "no answer"
                          : *r->errbuf   ? r->errbuf
                                         : curl_easy_strerror(rc);
        skt_curl_escape(why, strlen(why), error, sizeof(error));
        ans.status = 0;
        ans.error = error;
    }
    req_unlink(c, r);
    curl_multi_remove_handle(c->multi, r->easy);
    curl_easy_cleanup(r->easy);
    skt_curl_done_fn done = r->done;
    void *arg = r->arg;
    free(r);
    done(arg, &ans);
}

static void
collect(skt_curl_t *c)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(c->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        skt_curl_req_t *r = NULL;
        CURLcode rc = m->data.result;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        if (r)
            finish(c, r, rc);
    }
}

/* ------------------------------------------------------------ curl on libevent */

static void
reap_dead(skt_curl_t *c)
{
    while (c->dead) {
        dead_ev_t *d = c->dead;
        c->dead = d->next;
        event_free(d->ev);
        free(d);
    }
}

static void
socket_event_cb(evutil_socket_t fd, short what, void *arg)
{
    skt_curl_t *c = arg;
    int running = 0;
    int flags =
        ((what & EV_READ) ? CURL_CSELECT_IN : 0) | ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);
    curl_multi_socket_action(c->multi, fd, flags, &running);
    collect(c);
    reap_dead(c);
}

static void
timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    skt_curl_t *c = arg;
    int running = 0;
    curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    collect(c);
    reap_dead(c);
}

/* curl tells which socket to watch for what; socketp is our event for it. */
static int
curl_socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)easy;
    skt_curl_t *c = userp;
    struct event *ev = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (ev) {
            event_del(ev);
            curl_multi_assign(c->multi, s, NULL);
            dead_ev_t *d = malloc(sizeof(*d));
            if (d) { /* freed once curl has returned to us */
                d->ev = ev;
                d->next = c->dead;
                c->dead = d;
            } else {
                event_free(ev); /* deleted above: libevent no longer touches it */
            }
        }
        return 0;
    }
    short kind = EV_PERSIST | ((what & CURL_POLL_IN) ? EV_READ : 0) |
                 ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
    if (ev) {
        event_del(ev);
        event_assign(ev, c->base, s, kind, socket_event_cb, c);
    } else {
        ev = event_new(c->base, s, kind, socket_event_cb, c);
        if (!ev)
            return -1;
        curl_multi_assign(c->multi, s, ev);
    }
    event_add(ev, NULL);
    return 0;
}

/* curl wants to be called after timeout_ms (-1: never; 0: as soon as possible, which
 * is the next loop iteration: curl must not be re-entered from here). */
static int
curl_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    skt_curl_t *c = userp;
    if (timeout_ms < 0) {
        evtimer_del(c->timer);
        return 0;
    }
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    evtimer_add(c->timer, &tv);
    return 0;
}

/* ------------------------------------------------------------ lifecycle */

/* Once per engine: a libcurl without an asynchronous resolver would block the loop on
 * every host name it resolves. */
static void
check_resolver(void)
{
    const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
    if (!(v->features & CURL_VERSION_ASYNCHDNS))
        skt_log(SKT_LOG_WARN,
                "webhooks: libcurl %s resolves host names synchronously: a webhook "
                "URL with a host name stalls the server while it resolves (use an "
                "IP address, or a libcurl built with c-ares or threaded DNS)",
                v->version);
    else
        skt_log(SKT_LOG_DEBUG, "webhooks: libcurl %s, %s resolver", v->version,
                v->ares ? "c-ares" : "threaded");
}

skt_curl_t *
skt_curl_new(struct event_base *base, char *err, size_t errlen)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, errlen, "webhooks: libcurl failed to initialise");
        return NULL;
    }
    skt_curl_t *c = calloc(1, sizeof(*c));
    if (!c) {
        curl_global_cleanup();
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->base = base;
    c->multi = curl_multi_init();
    c->timer = evtimer_new(base, timeout_cb, c);
    if (!c->multi || !c->timer) {
        skt_curl_free(c);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, curl_socket_cb);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    check_resolver();
    return c;
}

void
skt_curl_free(skt_curl_t *c)
{
    if (!c)
        return;
    while (c->reqs)
        req_free(c, c->reqs);
    if (c->multi)
        curl_multi_cleanup(c->multi);
    reap_dead(c);
    if (c->timer)
        event_free(c->timer);
    free(c);
    curl_global_cleanup();
}
