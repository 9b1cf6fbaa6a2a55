/* adapter_example.c - a third-party soketi adapter plugin, built outside the soketi tree
 * with nothing but the installed SDK (soketi-dev: <soketi/adapter.h>, soketi-adapter.pc).
 *
 * It is a single-server adapter, like soketi's local one, that also counts the
 * broadcasts it carries and logs each of them through the daemon's logger:
 *
 *     example adapter: broadcast #3: app app-id, channel chat, 57 bytes
 *
 * Build, install and select it (see README.md):
 *     cc -shared -fPIC $(pkg-config --cflags soketi-adapter) -o adapter_example.so
 * adapter_example.c adapter.driver = example        (SOKETI_ADAPTER_DRIVER=example)
 *
 * What the ABI asks of every plugin (the header says it in full):
 *   - three exported functions: soketi_adapter_version, _init and _cleanup;
 *   - every op filled in; everything runs on the daemon's one event-loop thread;
 *   - strings the host passes in are valid only during the call (copy what you keep);
 *   - each query calls its callback exactly once, here before returning, with arrays
 *     that only need to live while the callback runs.
 */
#include <soketi/adapter.h>

#include <stdlib.h>
#include <string.h>

#define EXAMPLE_ABI 1 /* the ABI version this file is written for */

typedef struct example_s {
    const soketi_host_t *host;
    unsigned long broadcasts;
} example_t;

/* ---- collecting what the host's iterators hand out ----------------------------- */

/* The host's iterators lend each string for one call; a list keeps copies until the
 * query's callback has run. */
typedef struct list_s {
    char **a, **b; /* first and second string of each item (b may be unused) */
    long *count;
    size_t n, cap;
    int failed;
} list_t;

static char *
dup_or_null(const char *s, int *failed)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (!d)
        *failed = 1;
    else
        memcpy(d, s, n);
    return d;
}

static void
list_add(list_t *l, const char *a, const char *b, long count)
{
    if (l->failed)
        return;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        char **na = realloc(l->a, cap * sizeof(*na));
        if (na)
            l->a = na;
        char **nb = realloc(l->b, cap * sizeof(*nb));
        if (nb)
            l->b = nb;
        long *nc = realloc(l->count, cap * sizeof(*nc));
        if (nc)
            l->count = nc;
        if (!na || !nb || !nc) {
            l->failed = 1;
            return;
        }
        l->cap = cap;
    }
    l->a[l->n] = dup_or_null(a, &l->failed);
    l->b[l->n] = dup_or_null(b, &l->failed);
    l->count[l->n] = count;
    l->n++;
}

static void
list_free(list_t *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->a[i]);
        free(l->b[i]);
    }
    free(l->a);
    free(l->b);
    free(l->count);
}

static void
each_channel(void *arg, const char *channel, long count)
{
    list_add(arg, channel, NULL, count);
}

static void
each_member(void *arg, const char *user_id, const char *user_info)
{
    list_add(arg, user_id, user_info, 0);
}

static void
each_id(void *arg, const char *id)
{
    list_add(arg, id, NULL, 0);
}

/* ---- the ops ---------------------------------------------------------------------- */

static void
example_broadcast(void *self, const char *app_id, const char *channel, const char *msg,
                  size_t msg_len, const char *except_socket_id)
{
    example_t *ex = self;
    ex->broadcasts++;
    ex->host->log(SOKETI_LOG_INFO, "example adapter: broadcast #%lu: app %s, channel %s, %zu bytes",
                  ex->broadcasts, app_id, channel, msg_len);
    /* One server: every subscriber is ours. */
    ex->host->deliver_local(app_id, channel, msg, msg_len, except_socket_id);
}

static void
example_sockets_count(void *self, const char *app_id, soketi_count_cb cb, void *arg)
{
    example_t *ex = self;
    cb(arg, SOKETI_OK, ex->host->local_sockets_count(app_id));
}

static void
example_channel_sockets_count(void *self, const char *app_id, const char *channel,
                              soketi_count_cb cb, void *arg)
{
    example_t *ex = self;
    cb(arg, SOKETI_OK, ex->host->local_channel_sockets_count(app_id, channel));
}

static void
example_channel_members_count(void *self, const char *app_id, const char *channel,
                              soketi_count_cb cb, void *arg)
{
    example_t *ex = self;
    cb(arg, SOKETI_OK, ex->host->local_channel_members_count(app_id, channel));
}

static void
example_is_in_channel(void *self, const char *app_id, const char *channel, const char *socket_id,
                      soketi_count_cb cb, void *arg)
{
    example_t *ex = self;
    cb(arg, SOKETI_OK, ex->host->local_is_in_channel(app_id, channel, socket_id) ? 1 : 0);
}

static void
example_channels(void *self, const char *app_id, soketi_channels_cb cb, void *arg)
{
    example_t *ex = self;
    list_t l = {0};
    ex->host->local_channels(app_id, each_channel, &l);
    soketi_channel_count_t *out = l.n ? calloc(l.n, sizeof(*out)) : NULL;
    if (l.failed || (l.n && !out)) {
        cb(arg, SOKETI_ERROR, NULL, 0);
    } else {
        for (size_t i = 0; i < l.n; i++) {
            out[i].channel = l.a[i];
            out[i].count = l.count[i];
        }
        cb(arg, SOKETI_OK, out, l.n);
    }
    free(out);
    list_free(&l);
}

static void
example_channel_members(void *self, const char *app_id, const char *channel, soketi_members_cb cb,
                        void *arg)
{
    example_t *ex = self;
    list_t l = {0};
    ex->host->local_channel_members(app_id, channel, each_member, &l);
    soketi_member_t *out = l.n ? calloc(l.n, sizeof(*out)) : NULL;
    if (l.failed || (l.n && !out)) {
        cb(arg, SOKETI_ERROR, NULL, 0);
    } else {
        for (size_t i = 0; i < l.n; i++) {
            out[i].user_id = l.a[i];
            out[i].user_info = l.b[i];
        }
        cb(arg, SOKETI_OK, out, l.n);
    }
    free(out);
    list_free(&l);
}

/* sockets and channel_sockets: the list's first strings are the ids. */
static void
answer_ids(list_t *l, soketi_ids_cb cb, void *arg)
{
    if (l->failed)
        cb(arg, SOKETI_ERROR, NULL, 0);
    else
        cb(arg, SOKETI_OK, (const char *const *)l->a, l->n);
    list_free(l);
}

static void
example_sockets(void *self, const char *app_id, soketi_ids_cb cb, void *arg)
{
    example_t *ex = self;
    list_t l = {0};
    ex->host->local_sockets(app_id, each_id, &l);
    answer_ids(&l, cb, arg);
}

static void
example_channel_sockets(void *self, const char *app_id, const char *channel, soketi_ids_cb cb,
                        void *arg)
{
    example_t *ex = self;
    list_t l = {0};
    ex->host->local_channel_sockets(app_id, channel, each_id, &l);
    answer_ids(&l, cb, arg);
}

static void
example_terminate_user_connections(void *self, const char *app_id, const char *user_id)
{
    example_t *ex = self;
    ex->host->local_terminate_user_connections(app_id, user_id);
}

/* ---- the three exported symbols ---------------------------------------------------- */

int
soketi_adapter_version(int count, const int *supported)
{
    for (int i = 0; i < count; i++)
        if (supported[i] == EXAMPLE_ABI)
            return EXAMPLE_ABI;
    return -1; /* the daemon refuses us with a message naming both versions */
}

int
soketi_adapter_init(const soketi_host_t *host, soketi_adapter_t *adapter)
{
    /* Read only host fields that lie within host->size (the table only grows). */
    if (host->size < offsetof(soketi_host_t, local_terminate_user_connections) +
                         sizeof(host->local_terminate_user_connections))
        return 1;
    example_t *ex = calloc(1, sizeof(*ex));
    if (!ex) {
        host->log(SOKETI_LOG_ERROR, "example adapter: out of memory");
        return 1;
    }
    ex->host = host;
    adapter->self = ex;
    adapter->ops_size = sizeof(adapter->ops);
    adapter->ops.broadcast = example_broadcast;
    adapter->ops.sockets_count = example_sockets_count;
    adapter->ops.channel_sockets_count = example_channel_sockets_count;
    adapter->ops.channel_members_count = example_channel_members_count;
    adapter->ops.is_in_channel = example_is_in_channel;
    adapter->ops.channels = example_channels;
    adapter->ops.channel_members = example_channel_members;
    adapter->ops.sockets = example_sockets;
    adapter->ops.channel_sockets = example_channel_sockets;
    adapter->ops.terminate_user_connections = example_terminate_user_connections;
    /* The optional ops (cluster_transition, cluster_present, rate_consume, cache_get,
     * cache_set, cluster_admit, cluster_connection, cluster_admit_typed) stay NULL: one
     * server has nothing to share, and the daemon then decides webhooks, watchlists, rate
     * limits, the cache, presence member limits and connection quotas from its own state. */
    const char *port = host->config_get("port");
    host->log(SOKETI_LOG_INFO, "example adapter: ready on node %s (port %s)", host->node_id,
              port ? port : "?");
    return 0;
}

void
soketi_adapter_cleanup(soketi_adapter_t *adapter)
{
    example_t *ex = adapter->self;
    ex->host->log(SOKETI_LOG_INFO, "example adapter: %lu broadcast(s) carried", ex->broadcasts);
    free(ex);
    adapter->self = NULL;
}
