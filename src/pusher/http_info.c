/* http_info.c - counting the channel attributes an HTTP API request asks for (http_info.h). */
#include "pusher/http_info.h"

#include <stdlib.h>
#include <string.h>

#include "pusher/channel_kind.h"

/* One count asked of the adapter: which item, which attribute. */
typedef struct info_query_s {
    skt_info_t *info;
    size_t item;
    unsigned what;
} info_query_t;

struct skt_info_s {
    skt_server_t *srv;
    skt_info_done_fn done;
    void *arg;
    char *app_id;
    size_t n;
    skt_info_item_t *items;
    info_query_t *queries; /* every count to ask, in order */
    size_t nqueries, next;
    size_t in_flight;
    int pumping; /* inside info_pump: an answer only counts, the loop issues */
};

unsigned
skt_info_parse(const char *list, size_t len)
{
    unsigned bits = 0;
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && list[j] != ',')
            j++;
        size_t n = j - i;
        if (n == 10 && memcmp(list + i, "user_count", 10) == 0)
            bits |= SKT_INFO_USER_COUNT;
        else if (n == 18 && memcmp(list + i, "subscription_count", 18) == 0)
            bits |= SKT_INFO_SUBSCRIPTION_COUNT;
        i = j + 1;
    }
    return bits;
}

skt_info_t *
skt_info_new(const char *app_id, size_t n)
{
    skt_info_t *info = calloc(1, sizeof(*info));
    if (!info)
        return NULL;
    info->app_id = strdup(app_id);
    info->items = calloc(n ? n : 1, sizeof(*info->items));
    /* at most two counts an item */
    info->queries = calloc(n ? 2 * n : 1, sizeof(*info->queries));
    info->n = n;
    if (!info->app_id || !info->items || !info->queries) {
        skt_info_free(info);
        return NULL;
    }
    return info;
}

int
skt_info_set(skt_info_t *info, size_t i, const char *channel, size_t len, unsigned want,
             long known_sockets)
{
    skt_info_item_t *it = &info->items[i];
    if (!(it->channel = strndup(channel, len)))
        return -1;
    if (skt_channel_kind(channel, len) != SKT_CHANNEL_PRESENCE)
        want &= ~SKT_INFO_USER_COUNT;
    it->want = want;
    if ((want & SKT_INFO_SUBSCRIPTION_COUNT) && known_sockets >= 0) {
        it->subscription_count = known_sockets;
        it->got |= SKT_INFO_SUBSCRIPTION_COUNT;
    } else if (want & SKT_INFO_SUBSCRIPTION_COUNT) {
        info->queries[info->nqueries++] = (info_query_t){info, i, SKT_INFO_SUBSCRIPTION_COUNT};
    }
    if (want & SKT_INFO_USER_COUNT)
        info->queries[info->nqueries++] = (info_query_t){info, i, SKT_INFO_USER_COUNT};
    return 0;
}

void
skt_info_trim(skt_info_t *info, size_t n)
{
    if (n < info->n)
        info->n = n;
}

void
skt_info_free(skt_info_t *info)
{
    if (!info)
        return;
    for (size_t i = 0; info->items && i < info->n; i++)
        free(info->items[i].channel);
    free(info->items);
    free(info->queries);
    free(info->app_id);
    free(info);
}

static void info_pump(skt_info_t *info);

/* One count came back: recorded unless the adapter could not tell; the next is asked. */
static void
info_count_cb(void *arg, int status, long count)
{
    info_query_t *q = arg;
    skt_info_t *info = q->info;
    skt_info_item_t *it = &info->items[q->item];
    if (status != SOKETI_ERROR) {
        it->got |= q->what;
        if (q->what == SKT_INFO_USER_COUNT)
            it->user_count = count;
        else
            it->subscription_count = count;
    }
    info->in_flight--;
    if (!info->pumping)
        info_pump(info);
}

/* Asks for counts while fewer than SKT_INFO_IN_FLIGHT are out; the last answer calls done
 * and frees the counting. */
static void
info_pump(skt_info_t *info)
{
    info->pumping = 1;
    while (info->next < info->nqueries && info->in_flight < SKT_INFO_IN_FLIGHT) {
        info_query_t *q = &info->queries[info->next++];
        const char *ch = info->items[q->item].channel;
        info->in_flight++;
        if (q->what == SKT_INFO_USER_COUNT)
            SKT_ADAPTER(info->srv).channel_members_count(SKT_ADAPTER_SELF(info->srv), info->app_id,
                                                         ch, info_count_cb, q);
        else
            SKT_ADAPTER(info->srv).channel_sockets_count(SKT_ADAPTER_SELF(info->srv), info->app_id,
                                                         ch, info_count_cb, q);
    }
    info->pumping = 0;
    if (info->next == info->nqueries && info->in_flight == 0) {
        info->done(info->arg, info->items, info->n);
        skt_info_free(info);
    }
}

void
skt_info_run(skt_info_t *info, skt_server_t *srv, skt_info_done_fn done, void *arg)
{
    info->srv = srv;
    info->done = done;
    info->arg = arg;
    info_pump(info);
}
