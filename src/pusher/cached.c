/* cached.c - cache channels: the last event of a channel, for whoever subscribes next. */
#include "pusher/cached.h"

#include <stdlib.h>
#include <string.h>

#include "features/features.h"
#include "pusher/input.h"
#include "pusher/message.h"
#include "pusher/send.h"

typedef struct cache_ctx_s {
    skt_socket_t *s;
    size_t len;
    char channel[];
} cache_ctx_t;

/* The cached {"event","data"} as the event of channel, or NULL when value is not one. */
static int
cached_event(skt_jw_t *w, const char *value, size_t len, const char *channel, size_t clen)
{
    json_t *cached = value ? json_loadb(value, len, 0, NULL) : NULL;
    size_t elen = 0;
    const char *event = skt_input_str(cached, "event", &elen);
    if (!event) {
        json_decref(cached);
        return -1;
    }
    skt_msg_event_begin(w, event, elen, channel, clen);
    json_t *data = json_object_get(cached, "data");
    if (data)
        skt_msg_data_json(w, data);
    skt_msg_event_end(w, NULL, 0, 0);
    json_decref(cached);
    return 0;
}

/* The cache's answer: the channel's last event, else pusher:cache_miss
 * (soketi's sendMissedCacheIfExists), unless the socket left meanwhile. */
static void
cached_got(void *arg, const char *value, size_t len)
{
    cache_ctx_t *ctx = arg;
    skt_socket_t *s = ctx->s;
    if (!skt_conn_is_closed(&s->conn) && skt_ns_find_sub(s, ctx->channel, ctx->len)) {
        SKT_JW_ON_STACK(w, SKT_SEND_STACK);
        if (cached_event(&w, value, len, ctx->channel, ctx->len) != 0) {
            skt_jw_reset(&w);
            skt_msg_cache_miss(&w, ctx->channel, ctx->len);
            skt_webhooks_cache_miss(skt_server_of(&s->conn)->features->webhooks, s->ns->app,
                                    ctx->channel);
        }
        skt_send_msg(s, &w);
    }
    skt_socket_release(s);
    free(ctx);
}

void
skt_cached_send(skt_socket_t *s, const char *channel, size_t clen)
{
    if (!skt_cache_is_cache_channel(channel, clen))
        return;
    skt_server_t *srv = skt_server_of(&s->conn);
    char key[512];
    size_t klen = skt_cache_channel_key(key, sizeof(key), s->ns->app_id, channel, clen);
    cache_ctx_t *ctx = klen ? malloc(sizeof(*ctx) + clen + 1) : NULL;
    if (!ctx)
        return;
    if (skt_socket_hold(s, 0) != 0) { /* the subscription was admitted: only a full count */
        free(ctx);
        return;
    }
    ctx->s = s;
    ctx->len = clen;
    memcpy(ctx->channel, channel, clen);
    ctx->channel[clen] = '\0';
    skt_cache_get(srv->features->cache, key, klen, cached_got, ctx);
}

void
skt_cached_store(skt_server_t *srv, const skt_app_t *app, const char *channel, size_t clen,
                 const char *name, size_t nlen, const json_t *data)
{
    if (!skt_cache_is_cache_channel(channel, clen))
        return;
    char key[512];
    size_t klen = skt_cache_channel_key(key, sizeof(key), app->id, channel, clen);
    SKT_JW_ON_STACK(w, SKT_SEND_STACK);
    skt_jw_lit(&w, "{\"event\":");
    skt_jw_str(&w, name, nlen);
    skt_msg_data_json(&w, data);
    skt_jw_lit(&w, "}");
    size_t len = 0;
    const char *text = skt_jw_cstr(&w, &len);
    if (klen && text)
        skt_cache_set(srv->features->cache, key, klen, text, len, srv->features->cache_ttl);
    skt_jw_free(&w);
}
