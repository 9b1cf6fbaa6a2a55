/* horizontal_answer.c - what the callers of a query get (horizontal_answer.h): this
 * node's answer merged with the peers', handed to each caller's callback. Sending the
 * queries, coalescing them and waiting for the peers is horizontal.c's.
 *
 * DESIGN
 * A query's local part is read from the host when it is answered, not when it is asked:
 * the callers of a query that others joined while it was in flight (coalesced) all get
 * this node's state as of the answer, which includes whatever changed here meanwhile (a
 * presence member who joined this node after the query went out is in the list).
 */
#include "horizontal_answer.h"

#include <stddef.h>
#include <stdlib.h>

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
