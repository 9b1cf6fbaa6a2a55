/* horizontal_merge.c - merging the answers of a cluster-wide query: this node's and its
 * peers', as soketi's resolvers do (horizontal_merge.h).
 */
#include "horizontal_merge.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/map.h"

long
skt_hz_sat_add(long a, long b)
{
    if (b > 0 && a > LONG_MAX - b)
        return LONG_MAX;
    if (b < 0 && a < LONG_MIN - b)
        return LONG_MIN;
    return a + b;
}

void
skt_hz_acc_init(skt_hz_acc_t *acc, int kind)
{
    memset(acc, 0, sizeof(*acc));
    acc->kind = kind;
}

void
skt_hz_acc_clear(skt_hz_acc_t *acc)
{
    for (size_t i = 0; i < acc->n; i++) {
        free(acc->items[i].key);
        free(acc->items[i].info);
    }
    free(acc->items);
    skt_map_free(acc->index);
    size_t max = acc->max_items;
    skt_hz_acc_init(acc, acc->kind);
    acc->max_items = max;
}

/* The item for key, added (key copied, info and count empty) when new. Returns its
 * index, or SIZE_MAX with acc->failed set when memory runs out. */
static size_t
acc_item(skt_hz_acc_t *acc, const char *key, int *added)
{
    size_t klen = strlen(key);
    *added = 0;
    if (acc->failed)
        return SIZE_MAX;
    if (!acc->index && !(acc->index = skt_map_new()))
        goto oom;
    void *found = skt_map_get(acc->index, key, klen);
    if (found)
        return (size_t)(uintptr_t)found - 1;
    if (acc->max_items && acc->n >= acc->max_items) {
        acc->partial = 1;
        return SIZE_MAX;
    }
    if (acc->n == acc->cap) {
        size_t ncap = acc->cap ? acc->cap * 2 : 16;
        skt_hz_item_t *grown = realloc(acc->items, ncap * sizeof(*grown));
        if (!grown)
            goto oom;
        acc->items = grown;
        acc->cap = ncap;
    }
    skt_hz_item_t *it = &acc->items[acc->n];
    memset(it, 0, sizeof(*it));
    if (!(it->key = strdup(key)))
        goto oom;
    /* the map borrows the key: it lives in the item until the accumulator is cleared */
    if (skt_map_put(acc->index, it->key, klen, (void *)(uintptr_t)(acc->n + 1)) != 0) {
        free(it->key);
        goto oom;
    }
    *added = 1;
    return acc->n++;
oom:
    acc->failed = 1;
    return SIZE_MAX;
}

void
skt_hz_acc_member(skt_hz_acc_t *acc, const char *user_id, int id_number, const char *user_info)
{
    int added;
    size_t i = acc_item(acc, user_id, &added);
    if (i == SIZE_MAX || !added)
        return;
    acc->items[i].id_number = id_number != 0;
    if (!(acc->items[i].info = strdup(user_info ? user_info : "null")))
        acc->failed = 1;
}

void
skt_hz_acc_channel(skt_hz_acc_t *acc, const char *channel, long count)
{
    int added;
    size_t i = acc_item(acc, channel, &added);
    if (i != SIZE_MAX)
        acc->items[i].count = skt_hz_sat_add(acc->items[i].count, count);
}

void
skt_hz_acc_id(skt_hz_acc_t *acc, const char *id)
{
    int added;
    acc_item(acc, id, &added);
}

/* The host's local_* iterators take these, to feed an accumulator (arg) directly. */
void
skt_hz_acc_each_member(void *arg, const char *user_id, const char *user_info)
{
    skt_hz_acc_member(arg, user_id, 0, user_info);
}

void
skt_hz_acc_each_typed_member(void *arg, const char *user_id, const char *user_info, int id_number)
{
    skt_hz_acc_member(arg, user_id, id_number, user_info);
}

void
skt_hz_acc_each_channel(void *arg, const char *channel, long count)
{
    skt_hz_acc_channel(arg, channel, count);
}

void
skt_hz_acc_each_id(void *arg, const char *id)
{
    skt_hz_acc_id(arg, id);
}

void
skt_hz_acc_merge(skt_hz_acc_t *dst, const skt_hz_acc_t *src)
{
    dst->total = skt_hz_sat_add(dst->total, src->total);
    dst->exists |= src->exists;
    dst->partial |= src->partial;
    dst->failed |= src->failed;
    for (size_t i = 0; i < src->n && !dst->failed; i++) {
        const skt_hz_item_t *it = &src->items[i];
        if (dst->kind == SKT_HZ_ACC_MEMBERS)
            skt_hz_acc_member(dst, it->key, it->id_number, it->info);
        else if (dst->kind == SKT_HZ_ACC_CHANNELS)
            skt_hz_acc_channel(dst, it->key, it->count);
        else
            skt_hz_acc_id(dst, it->key);
    }
}

size_t
skt_hz_acc_response(skt_hz_acc_t *acc, const skt_rc_response_t *resp)
{
    size_t skipped = 0;
    if (resp->partial)
        acc->partial = 1;
    switch (acc->kind) {
    case SKT_HZ_ACC_COUNT:
        if (resp->has_total)
            acc->total = skt_hz_sat_add(acc->total, (long)resp->total);
        break;
    case SKT_HZ_ACC_EXISTS:
        if (resp->has_exists && resp->exists)
            acc->exists = 1;
        break;
    case SKT_HZ_ACC_MEMBERS:
        for (size_t i = 0; resp->members && i < json_array_size(resp->members); i++) {
            const char *id;
            char idbuf[24], *info;
            int id_number;
            if (skt_rc_member_at(resp, i, &id, &id_number, idbuf, &info) != 0) {
                skipped++;
                continue;
            }
            skt_hz_acc_member(acc, id, id_number, info);
            free(info);
        }
        break;
    case SKT_HZ_ACC_CHANNELS:
        for (size_t i = 0;
             resp->channels_with_count && i < json_array_size(resp->channels_with_count); i++) {
            const char *ch;
            long count;
            if (skt_rc_channel_count_at(resp, i, &ch, &count) != 0) {
                skipped++;
                continue;
            }
            skt_hz_acc_channel(acc, ch, count);
        }
        break;
    case SKT_HZ_ACC_IDS:
        for (size_t i = 0; resp->sockets && i < json_array_size(resp->sockets); i++) {
            const char *id;
            if (skt_rc_socket_at(resp, i, &id) != 0) {
                skipped++;
                continue;
            }
            skt_hz_acc_id(acc, id);
        }
        break;
    default:
        break;
    }
    return skipped;
}
