/* horizontal_ops.c - the adapter ops of the horizontal layer, and what their callbacks
 * get: this node's answer merged with the peers'. Sending the queries, coalescing them
 * and waiting for the peers is horizontal.c's.
 *
 * DESIGN
 * A query's local part is read from the host when it is answered, not when it is asked:
 * the callers of a query that others joined while it was in flight (coalesced) all get
 * this node's state as of the answer, which includes whatever changed here meanwhile (a
 * presence member who joined this node after the query went out is in the list).
 */
#include "horizontal_internal.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* ---- answering the host ------------------------------------------------------------- */

/* Calls the host's callback with acc's result (acc NULL or failed: SOKETI_ERROR and an
 * empty result). The arrays handed over live only during the call. */
static void
hz_call(const skt_hz_cb_t *cb, int status, const skt_hz_acc_t *acc)
{
    if (!acc || acc->failed)
        status = SOKETI_ERROR;
    int err = status == SOKETI_ERROR;
    size_t n = err ? 0 : acc->n;
    switch (cb->op) {
    case SKT_HZ_OP_COUNT:
        cb->fn.count(cb->arg, status, err ? 0 : acc->total);
        return;
    case SKT_HZ_OP_MEMBERS_COUNT:
        cb->fn.count(cb->arg, status, (long)n);
        return;
    case SKT_HZ_OP_EXISTS:
        cb->fn.count(cb->arg, status, err ? 0 : acc->exists);
        return;
    case SKT_HZ_OP_NONE:
        return;
    default:
        break;
    }
    void *arr = NULL;
    size_t each = cb->op == SKT_HZ_OP_CHANNELS        ? sizeof(soketi_channel_count_t)
                  : cb->op == SKT_HZ_OP_MEMBERS       ? sizeof(soketi_member_t)
                  : cb->op == SKT_HZ_OP_TYPED_MEMBERS ? sizeof(soketi_typed_member_t)
                                                      : sizeof(const char *);
    if (n && !(arr = malloc(n * each))) {
        status = SOKETI_ERROR;
        n = 0;
    }
    if (cb->op == SKT_HZ_OP_CHANNELS) {
        soketi_channel_count_t *out = arr;
        for (size_t i = 0; i < n; i++) {
            out[i].channel = acc->items[i].key;
            out[i].count = acc->items[i].count;
        }
        cb->fn.channels(cb->arg, status, out, n);
    } else if (cb->op == SKT_HZ_OP_MEMBERS) {
        soketi_member_t *out = arr;
        for (size_t i = 0; i < n; i++) {
            out[i].user_id = acc->items[i].key;
            out[i].user_info = acc->items[i].info;
        }
        cb->fn.members(cb->arg, status, out, n);
    } else if (cb->op == SKT_HZ_OP_TYPED_MEMBERS) {
        soketi_typed_member_t *out = arr;
        for (size_t i = 0; i < n; i++)
            out[i] = (soketi_typed_member_t){acc->items[i].key, acc->items[i].info,
                                             acc->items[i].id_number};
        cb->fn.typed_members(cb->arg, status, out, n);
    } else {
        const char **out = arr;
        for (size_t i = 0; i < n; i++)
            out[i] = acc->items[i].key;
        cb->fn.ids(cb->arg, status, out, n);
    }
    free(arr);
}

int
skt_hz_type_acc_kind(int type)
{
    switch (type) {
    case SKT_RC_SOCKETS:
    case SKT_RC_CHANNEL_SOCKETS:
        return SKT_HZ_ACC_IDS;
    case SKT_RC_CHANNEL_MEMBERS:
        return SKT_HZ_ACC_MEMBERS;
    case SKT_RC_SOCKETS_COUNT:
    case SKT_RC_CHANNEL_MEMBERS_COUNT:
    case SKT_RC_CHANNEL_SOCKETS_COUNT:
        return SKT_HZ_ACC_COUNT;
    case SKT_RC_SOCKET_EXISTS_IN_CHANNEL:
        return SKT_HZ_ACC_EXISTS;
    case SKT_RC_CHANNELS_WITH_SOCKETS_COUNT:
        return SKT_HZ_ACC_CHANNELS;
    default:
        return SKT_HZ_ACC_NONE;
    }
}

void
skt_hz_local(const skt_hz_t *hz, skt_hz_acc_t *acc, const skt_hz_query_t *q)
{
    const soketi_host_t *h = hz->host;
    switch (q->type) {
    case SKT_RC_SOCKETS:
        h->local_sockets(q->app_id, skt_hz_acc_each_id, acc);
        break;
    case SKT_RC_CHANNEL_SOCKETS:
        h->local_channel_sockets(q->app_id, q->channel, skt_hz_acc_each_id, acc);
        break;
    case SKT_RC_CHANNEL_MEMBERS:
        if (skt_hz_host_typed(h))
            h->local_channel_members_typed(q->app_id, q->channel, skt_hz_acc_each_typed_member,
                                           acc);
        else
            h->local_channel_members(q->app_id, q->channel, skt_hz_acc_each_member, acc);
        break;
    case SKT_RC_SOCKETS_COUNT:
        acc->total = h->local_sockets_count(q->app_id);
        break;
    case SKT_RC_CHANNEL_MEMBERS_COUNT:
        acc->total = h->local_channel_members_count(q->app_id, q->channel);
        break;
    case SKT_RC_CHANNEL_SOCKETS_COUNT:
        acc->total = h->local_channel_sockets_count(q->app_id, q->channel);
        break;
    case SKT_RC_SOCKET_EXISTS_IN_CHANNEL:
        acc->exists = h->local_is_in_channel(q->app_id, q->channel, q->ws_id) != 0;
        break;
    case SKT_RC_CHANNELS_WITH_SOCKETS_COUNT:
        h->local_channels(q->app_id, skt_hz_acc_each_channel, acc);
        break;
    default:
        break;
    }
}

void
skt_hz_answer(skt_hz_t *hz, const skt_hz_cb_t *cbs, size_t n, const skt_hz_query_t *q,
              const skt_hz_acc_t *remote, int status)
{
    if (status == SOKETI_ERROR) {
        for (size_t i = 0; i < n; i++)
            hz_call(&cbs[i], status, NULL);
        return;
    }
    skt_hz_acc_t res;
    skt_hz_acc_init(&res, skt_hz_type_acc_kind(q->type));
    res.max_items = SKT_HZ_MAX_ITEMS;
    skt_hz_local(hz, &res, q);
    if (remote)
        skt_hz_acc_merge(&res, remote);
    if (res.partial && status == SOKETI_OK)
        status = SOKETI_PARTIAL;
    if (res.failed)
        skt_hz_log(hz, SOKETI_LOG_ERROR, "out of memory merging answers to a query");
    for (size_t i = 0; i < n; i++)
        hz_call(&cbs[i], status, &res);
    skt_hz_acc_clear(&res);
}

/* ---- the adapter ops ---------------------------------------------------------------- */

static void
hz_broadcast(void *self, const char *app_id, const char *channel, const char *msg, size_t msg_len,
             const char *except_socket_id)
{
    skt_hz_t *hz = self;
    hz->host->deliver_local(app_id, channel, msg, msg_len, except_socket_id);
    if (hz->closing)
        return;
    skt_jw_trim(&hz->scratch, SKT_HZ_SCRATCH_KEEP);
    skt_rc_encode_broadcast(&hz->scratch, hz->host->node_id, app_id, channel, msg, msg_len,
                            except_socket_id);
    if (hz->scratch.failed) {
        skt_hz_log(hz, SOKETI_LOG_ERROR, "out of memory encoding a broadcast to %s", channel);
        return;
    }
    if (hz->scratch.len > hz->lim.max_message) { /* every peer would drop it */
        skt_hz_drop(hz, SKT_HZ_BROADCAST, SKT_HZ_DROP_UNSENT, app_id, hz->scratch.p,
                    hz->scratch.len, "delivered on this node only");
        return;
    }
    /* a failure means the transport is down, which it reports itself */
    hz->tr.publish(hz->tr.self, SKT_HZ_BROADCAST, hz->scratch.p, hz->scratch.len);
}

/* Asks the cluster the wire question type (with its options) for the caller c. */
static void
hz_ask(void *self, const skt_hz_cb_t *c, int type, const char *app_id, const char *channel,
       const char *ws_id)
{
    skt_hz_query_t q = {.type = type, .app_id = app_id, .channel = channel, .ws_id = ws_id};
    skt_hz_query(self, c, &q);
}

static void
hz_sockets_count(void *self, const char *app_id, soketi_count_cb cb, void *arg)
{
    skt_hz_cb_t c = {.op = SKT_HZ_OP_COUNT, .fn.count = cb, .arg = arg};
    hz_ask(self, &c, SKT_RC_SOCKETS_COUNT, app_id, NULL, NULL);
}

static void
hz_channel_sockets_count(void *self, const char *app_id, const char *channel, soketi_count_cb cb,
                         void *arg)
{
    skt_hz_cb_t c = {.op = SKT_HZ_OP_COUNT, .fn.count = cb, .arg = arg};
    hz_ask(self, &c, SKT_RC_CHANNEL_SOCKETS_COUNT, app_id, channel, NULL);
}

/* Counted as distinct members (a CHANNEL_MEMBERS request): soketi sums every node's
 * count, which counts a user connected to two nodes twice. */
static void
hz_channel_members_count(void *self, const char *app_id, const char *channel, soketi_count_cb cb,
                         void *arg)
{
    skt_hz_cb_t c = {.op = SKT_HZ_OP_MEMBERS_COUNT, .fn.count = cb, .arg = arg};
    hz_ask(self, &c, SKT_RC_CHANNEL_MEMBERS, app_id, channel, NULL);
}

static void
hz_is_in_channel(void *self, const char *app_id, const char *channel, const char *socket_id,
                 soketi_count_cb cb, void *arg)
{
    skt_hz_t *hz = self;
    /* found here: no need to ask (soketi does the same) */
    if (hz->host->local_is_in_channel(app_id, channel, socket_id)) {
        cb(arg, SOKETI_OK, 1);
        return;
    }
    skt_hz_cb_t c = {.op = SKT_HZ_OP_EXISTS, .fn.count = cb, .arg = arg};
    hz_ask(self, &c, SKT_RC_SOCKET_EXISTS_IN_CHANNEL, app_id, channel, socket_id);
}

static void
hz_channels(void *self, const char *app_id, soketi_channels_cb cb, void *arg)
{
    skt_hz_cb_t c = {.op = SKT_HZ_OP_CHANNELS, .fn.channels = cb, .arg = arg};
    hz_ask(self, &c, SKT_RC_CHANNELS_WITH_SOCKETS_COUNT, app_id, NULL, NULL);
}

static void
hz_channel_members(void *self, const char *app_id, const char *channel, soketi_members_cb cb,
                   void *arg)
{
    skt_hz_cb_t c = {.op = SKT_HZ_OP_MEMBERS, .fn.members = cb, .arg = arg};
    hz_ask(self, &c, SKT_RC_CHANNEL_MEMBERS, app_id, channel, NULL);
}

static void
hz_channel_members_typed(void *self, const char *app_id, const char *channel,
                         soketi_typed_members_cb cb, void *arg)
{
    skt_hz_cb_t c = {.op = SKT_HZ_OP_TYPED_MEMBERS, .fn.typed_members = cb, .arg = arg};
    hz_ask(self, &c, SKT_RC_CHANNEL_MEMBERS, app_id, channel, NULL);
}

static void
hz_sockets(void *self, const char *app_id, soketi_ids_cb cb, void *arg)
{
    skt_hz_cb_t c = {.op = SKT_HZ_OP_IDS, .fn.ids = cb, .arg = arg};
    hz_ask(self, &c, SKT_RC_SOCKETS, app_id, NULL, NULL);
}

static void
hz_channel_sockets(void *self, const char *app_id, const char *channel, soketi_ids_cb cb, void *arg)
{
    skt_hz_cb_t c = {.op = SKT_HZ_OP_IDS, .fn.ids = cb, .arg = arg};
    hz_ask(self, &c, SKT_RC_CHANNEL_SOCKETS, app_id, channel, NULL);
}

/* Local sockets first, then a request so the other nodes close theirs. The request is
 * kept pending like a query: soketi nodes answer it with an empty response, and our own
 * copy must be recognised when it comes back. It is never coalesced. */
static void
hz_terminate_user_connections(void *self, const char *app_id, const char *user_id)
{
    skt_hz_t *hz = self;
    hz->host->local_terminate_user_connections(app_id, user_id);
    skt_hz_cb_t c = {.op = SKT_HZ_OP_NONE};
    skt_hz_query_t q = {
        .type = SKT_RC_TERMINATE_USER_CONNECTIONS, .app_id = app_id, .user_id = user_id};
    skt_hz_query(hz, &c, &q);
}

/* The ABI this layer is written against. */
#define HZ_ABI 1

/* The host fields this layer reads end with local_terminate_user_connections. */
#define HZ_HOST_NEEDS                                                                              \
    (offsetof(soketi_host_t, local_terminate_user_connections) +                                   \
     sizeof(((soketi_host_t *)0)->local_terminate_user_connections))

int
skt_hz_host_typed(const soketi_host_t *h)
{
    return h->size >= offsetof(soketi_host_t, local_channel_members_typed) +
                          sizeof(h->local_channel_members_typed) &&
           h->local_channel_members_typed != NULL;
}

int
skt_hz_abi_version(int count, const int *supported)
{
    for (int i = 0; i < count; i++)
        if (supported[i] == HZ_ABI)
            return HZ_ABI;
    return -1;
}

int
skt_hz_check_host(const soketi_host_t *host, const soketi_adapter_t *adapter, const char *name)
{
    int usable = host->size >= HZ_HOST_NEEDS && host->abi_version == HZ_ABI && host->base &&
                 host->node_id && host->config_get && host->log && host->deliver_local &&
                 host->local_sockets_count && host->local_channel_sockets_count &&
                 host->local_channel_members_count && host->local_is_in_channel &&
                 host->local_channels && host->local_channel_members && host->local_sockets &&
                 host->local_channel_sockets && host->local_terminate_user_connections;
    if (!usable) {
        if (host->size >= offsetof(soketi_host_t, log) + sizeof(host->log) && host->log)
            host->log(SOKETI_LOG_ERROR,
                      "%s: the host table lacks a function this adapter needs (size %zu, ABI %d)",
                      name, host->size, host->abi_version);
        return -1;
    }
    if (adapter->size < sizeof(*adapter)) {
        host->log(SOKETI_LOG_ERROR, "%s: the host's adapter struct is too small", name);
        return -1;
    }
    return 0;
}

void
skt_hz_fill_ops(soketi_adapter_ops_t *ops)
{
    ops->broadcast = hz_broadcast;
    ops->sockets_count = hz_sockets_count;
    ops->channel_sockets_count = hz_channel_sockets_count;
    ops->channel_members_count = hz_channel_members_count;
    ops->is_in_channel = hz_is_in_channel;
    ops->channels = hz_channels;
    ops->channel_members = hz_channel_members;
    ops->sockets = hz_sockets;
    ops->channel_sockets = hz_channel_sockets;
    ops->terminate_user_connections = hz_terminate_user_connections;
    ops->channel_members_typed = hz_channel_members_typed;
}
