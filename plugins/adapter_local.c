/* adapter_local.c - the local adapter (adapter_local.so): soketi as one single process.
 *
 * With one process there are no other nodes: a broadcast is a local delivery and every
 * cluster-wide question is answered by this process's own local_* host functions. Each
 * query answers synchronously and calls its callback before returning; answers that come
 * from an iterator are copied into a temporary array first, so that the callback gets one
 * array whose strings live exactly as long as the callback runs.
 *
 * This file is also the smallest example of an adapter plugin. It includes only the
 * installed header <soketi/adapter.h> and libc, so a third party builds a plugin like it
 * outside the soketi tree with:
 *     cc -shared -fPIC $(pkg-config --cflags soketi-adapter) -o adapter_x.so x.c
 * installs adapter_x.so into $(pkg-config --variable=plugindir soketi-adapter), and
 * selects it with adapter.driver = "x" (SOKETI_ADAPTER_DRIVER=x).
 */
#include <soketi/adapter.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The ABI this file is written against. Not SOKETI_ADAPTER_ABI_VERSION: that one moves
 * with the header, while this code only knows the contract of version 1. */
#define LOCAL_ABI 1

/* The host fields this adapter reads end with local_terminate_user_connections. */
#define LOCAL_HOST_NEEDS                                                                           \
    (offsetof(soketi_host_t, local_terminate_user_connections) +                                   \
     sizeof(((soketi_host_t *)0)->local_terminate_user_connections))

/* No offset into the text can be this large: marks a NULL string. */
#define LOCAL_NULL_STR SIZE_MAX

typedef struct local_s {
    const soketi_host_t *host;
} local_t;

/* One collected iterator item: up to two strings (offsets into the text) and a count. */
typedef struct local_item_s {
    size_t a;
    size_t b;
    long count;
} local_item_t;

/* What an iterator produced: items, and the bytes of their strings back to back. Strings
 * are kept as offsets because the text moves when it grows. */
typedef struct local_collect_s {
    local_item_t *items;
    size_t n, cap;
    char *text;
    size_t len, text_cap;
    int failed;
} local_collect_t;

/* Appends s (NUL included) to the text and returns its offset; LOCAL_NULL_STR for NULL
 * or when memory runs out (c->failed is then set). */
static size_t
local_text_add(local_collect_t *c, const char *s)
{
    if (!s)
        return LOCAL_NULL_STR;
    size_t slen = strlen(s) + 1;
    if (c->len + slen > c->text_cap) {
        size_t ncap = c->text_cap ? c->text_cap : 256;
        while (ncap < c->len + slen)
            ncap *= 2;
        char *grown = realloc(c->text, ncap);
        if (!grown) {
            c->failed = 1;
            return LOCAL_NULL_STR;
        }
        c->text = grown;
        c->text_cap = ncap;
    }
    memcpy(c->text + c->len, s, slen);
    c->len += slen;
    return c->len - slen;
}

/* Copies one iterator item, since the host's strings are only valid during the iterator
 * call. After a failure everything further is ignored and the query answers an error. */
static void
local_collect(local_collect_t *c, const char *a, const char *b, long count)
{
    if (c->failed)
        return;
    if (c->n == c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 16;
        local_item_t *grown = realloc(c->items, ncap * sizeof(*grown));
        if (!grown) {
            c->failed = 1;
            return;
        }
        c->items = grown;
        c->cap = ncap;
    }
    local_item_t *it = &c->items[c->n];
    it->a = local_text_add(c, a);
    it->b = local_text_add(c, b);
    it->count = count;
    if (!c->failed)
        c->n++;
}

static const char *
local_str(const local_collect_t *c, size_t off)
{
    return off == LOCAL_NULL_STR ? NULL : c->text + off;
}

/* Returns an array of c->n elements of size each for the callback (NULL when there are
 * none); sets c->failed when memory runs out. */
static void *
local_result_array(local_collect_t *c, size_t each)
{
    if (c->failed || c->n == 0)
        return NULL;
    void *arr = malloc(c->n * each);
    if (!arr)
        c->failed = 1;
    return arr;
}

/* Frees what was collected, and tells the daemon's log when a query could not be answered. */
static void
local_collect_done(const local_t *l, local_collect_t *c, const char *query)
{
    if (c->failed && l->host->log)
        l->host->log(SOKETI_LOG_ERROR, "local adapter: out of memory answering %s", query);
    free(c->items);
    free(c->text);
}

static void
local_each_channel(void *arg, const char *channel, long count)
{
    local_collect(arg, channel, NULL, count);
}

static void
local_each_member(void *arg, const char *user_id, const char *user_info)
{
    local_collect(arg, user_id, user_info, 0);
}

/* A typed member keeps its id's type in the item's count. */
static void
local_each_typed_member(void *arg, const char *user_id, const char *user_info, int id_is_number)
{
    local_collect(arg, user_id, user_info, id_is_number != 0);
}

static void
local_each_id(void *arg, const char *id)
{
    local_collect(arg, id, NULL, 0);
}

static void
local_broadcast(void *self, const char *app_id, const char *channel, const char *msg,
                size_t msg_len, const char *except_socket_id)
{
    const local_t *l = self;
    l->host->deliver_local(app_id, channel, msg, msg_len, except_socket_id);
}

static void
local_sockets_count(void *self, const char *app_id, soketi_count_cb cb, void *arg)
{
    const local_t *l = self;
    cb(arg, SOKETI_OK, l->host->local_sockets_count(app_id));
}

static void
local_channel_sockets_count(void *self, const char *app_id, const char *channel, soketi_count_cb cb,
                            void *arg)
{
    const local_t *l = self;
    cb(arg, SOKETI_OK, l->host->local_channel_sockets_count(app_id, channel));
}

static void
local_channel_members_count(void *self, const char *app_id, const char *channel, soketi_count_cb cb,
                            void *arg)
{
    const local_t *l = self;
    cb(arg, SOKETI_OK, l->host->local_channel_members_count(app_id, channel));
}

static void
local_is_in_channel(void *self, const char *app_id, const char *channel, const char *socket_id,
                    soketi_count_cb cb, void *arg)
{
    const local_t *l = self;
    cb(arg, SOKETI_OK, l->host->local_is_in_channel(app_id, channel, socket_id) ? 1 : 0);
}

static void
local_channels(void *self, const char *app_id, soketi_channels_cb cb, void *arg)
{
    const local_t *l = self;
    local_collect_t c = {0};
    l->host->local_channels(app_id, local_each_channel, &c);
    soketi_channel_count_t *out = local_result_array(&c, sizeof(*out));
    if (c.failed) {
        cb(arg, SOKETI_ERROR, NULL, 0);
    } else {
        for (size_t i = 0; i < c.n; i++) {
            out[i].channel = local_str(&c, c.items[i].a);
            out[i].count = c.items[i].count;
        }
        cb(arg, SOKETI_OK, out, c.n);
    }
    free(out);
    local_collect_done(l, &c, "channels");
}

/* The members of a channel for cb, or with their ids' types for typed (when set; the
 * host then offers local_channel_members_typed). */
static void
local_members(const local_t *l, const char *app_id, const char *channel, soketi_members_cb cb,
              soketi_typed_members_cb typed, void *arg)
{
    local_collect_t c = {0};
    if (typed)
        l->host->local_channel_members_typed(app_id, channel, local_each_typed_member, &c);
    else
        l->host->local_channel_members(app_id, channel, local_each_member, &c);
    void *out =
        local_result_array(&c, typed ? sizeof(soketi_typed_member_t) : sizeof(soketi_member_t));
    soketi_typed_member_t *t = out;
    soketi_member_t *m = out;
    for (size_t i = 0; !c.failed && i < c.n; i++) {
        const char *id = local_str(&c, c.items[i].a), *info = local_str(&c, c.items[i].b);
        if (typed)
            t[i] = (soketi_typed_member_t){id, info, (int)c.items[i].count};
        else
            m[i] = (soketi_member_t){id, info};
    }
    int status = c.failed ? SOKETI_ERROR : SOKETI_OK;
    size_t n = c.failed ? 0 : c.n;
    if (typed)
        typed(arg, status, c.failed ? NULL : t, n);
    else
        cb(arg, status, c.failed ? NULL : m, n);
    free(out);
    local_collect_done(l, &c, "channel_members");
}

static void
local_channel_members(void *self, const char *app_id, const char *channel, soketi_members_cb cb,
                      void *arg)
{
    local_members(self, app_id, channel, cb, NULL, arg);
}

/* The members with their ids' types, from a host that offers local_channel_members_typed. */
static void
local_channel_members_typed(void *self, const char *app_id, const char *channel,
                            soketi_typed_members_cb cb, void *arg)
{
    local_members(self, app_id, channel, NULL, cb, arg);
}

/* Hands the ids the host iterated over to cb as one array; shared by sockets and
 * channel_sockets. */
static void
local_answer_ids(const local_t *l, local_collect_t *c, soketi_ids_cb cb, void *arg,
                 const char *query)
{
    const char **out = local_result_array(c, sizeof(*out));
    if (c->failed) {
        cb(arg, SOKETI_ERROR, NULL, 0);
    } else {
        for (size_t i = 0; i < c->n; i++)
            out[i] = local_str(c, c->items[i].a);
        cb(arg, SOKETI_OK, out, c->n);
    }
    free(out);
    local_collect_done(l, c, query);
}

static void
local_sockets(void *self, const char *app_id, soketi_ids_cb cb, void *arg)
{
    const local_t *l = self;
    local_collect_t c = {0};
    l->host->local_sockets(app_id, local_each_id, &c);
    local_answer_ids(l, &c, cb, arg, "sockets");
}

static void
local_channel_sockets(void *self, const char *app_id, const char *channel, soketi_ids_cb cb,
                      void *arg)
{
    const local_t *l = self;
    local_collect_t c = {0};
    l->host->local_channel_sockets(app_id, channel, local_each_id, &c);
    local_answer_ids(l, &c, cb, arg, "channel_sockets");
}

static void
local_terminate_user_connections(void *self, const char *app_id, const char *user_id)
{
    const local_t *l = self;
    l->host->local_terminate_user_connections(app_id, user_id);
}

int
soketi_adapter_version(int count, const int *supported)
{
    for (int i = 0; i < count; i++)
        if (supported[i] == LOCAL_ABI)
            return LOCAL_ABI;
    return -1;
}

/* Refuses a host table that lacks a function this adapter calls, so that a broken host
 * is reported at start rather than crashing on the first query. */
static int
local_host_usable(const soketi_host_t *host)
{
    return host->size >= LOCAL_HOST_NEEDS && host->abi_version == LOCAL_ABI &&
           host->deliver_local && host->local_sockets_count && host->local_channel_sockets_count &&
           host->local_channel_members_count && host->local_is_in_channel && host->local_channels &&
           host->local_channel_members && host->local_sockets && host->local_channel_sockets &&
           host->local_terminate_user_connections;
}

int
soketi_adapter_init(const soketi_host_t *host, soketi_adapter_t *adapter)
{
    if (!local_host_usable(host)) {
        if (host->size >= offsetof(soketi_host_t, log) + sizeof(host->log) && host->log)
            host->log(SOKETI_LOG_ERROR,
                      "local adapter: the host table lacks a function this adapter needs "
                      "(size %zu, ABI %d)",
                      host->size, host->abi_version);
        return 1;
    }
    if (adapter->size < sizeof(*adapter)) {
        if (host->log)
            host->log(SOKETI_LOG_ERROR, "local adapter: the host's adapter struct is too small");
        return 1;
    }
    local_t *l = malloc(sizeof(*l));
    if (!l) {
        if (host->log)
            host->log(SOKETI_LOG_ERROR, "local adapter: out of memory");
        return 1;
    }
    l->host = host;
    adapter->self = l;
    adapter->ops_size = sizeof(adapter->ops);
    adapter->ops.broadcast = local_broadcast;
    adapter->ops.sockets_count = local_sockets_count;
    adapter->ops.channel_sockets_count = local_channel_sockets_count;
    adapter->ops.channel_members_count = local_channel_members_count;
    adapter->ops.is_in_channel = local_is_in_channel;
    adapter->ops.channels = local_channels;
    adapter->ops.channel_members = local_channel_members;
    adapter->ops.sockets = local_sockets;
    adapter->ops.channel_sockets = local_channel_sockets;
    adapter->ops.terminate_user_connections = local_terminate_user_connections;
    if (host->size >= offsetof(soketi_host_t, local_channel_members_typed) +
                          sizeof(host->local_channel_members_typed) &&
        host->local_channel_members_typed)
        adapter->ops.channel_members_typed = local_channel_members_typed;
    return 0;
}

void
soketi_adapter_cleanup(soketi_adapter_t *adapter)
{
    free(adapter->self);
    adapter->self = NULL;
}
