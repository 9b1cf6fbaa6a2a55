/* hub_store.c - the state the workers of one host share in their supervisor (hub_store.h). */
#include "workers/hub_store.h"

#include <event2/buffer.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "features/cache.h"
#include "util/map.h"
#include "workers/frame.h"

/* Which workers hold one key: a bit per worker; the key (the map's) is stored after them.
 * A user's record counts in its channel's users while some worker holds it. */
typedef struct hold_s {
    size_t holders;
    char *key;
    size_t key_len;
    size_t prefix_len; /* a user's: the bytes of "app\0channel\0" that key starts with */
    int user;
    int id_number; /* a user's id is a JSON number (as its first admission said) */
    unsigned char bits[];
} hold_t;

/* A count under a key stored after it: a channel's distinct users held by some worker. */
typedef struct tally_s {
    size_t n;
    size_t key_len;
    char key[];
} tally_t;

/* A rate limit window, its key stored after it. */
typedef struct window_s {
    uint64_t end_ms;
    uint64_t used;
    size_t key_len;
    char key[];
} window_t;

/* An app's connections admitted for maxConnections: per worker and in all, its id after. */
typedef struct conns_s {
    uint64_t total;
    char *app;
    size_t app_len;
    uint64_t per_slot[];
} conns_t;

struct skt_hub_store_s {
    skt_map_t *conns;    /* app id -> conns_t */
    skt_map_t *keys;     /* key -> hold_t */
    skt_map_t *users;    /* "app\0channel\0" -> tally_t */
    skt_map_t *windows;  /* rate limit key -> window_t */
    size_t windows_kept; /* windows left by the last sweep of the expired */
    skt_cache_t *cache;
    size_t n_slots;
};

/* The key of (app, channel[, user]) in buf (cap bytes): the three parts apart by NUL, "c"
 * for the channel itself or "u" and the user. Returns its length, 0 when it does not fit. */
static size_t
store_key(char *buf, size_t cap, const char *app, size_t al, const char *ch, size_t cl,
          const char *user, size_t ul)
{
    size_t n = al + 1 + cl + 1 + 1 + (user ? ul : 0);
    if (n > cap)
        return 0;
    memcpy(buf, app, al);
    buf[al] = '\0';
    memcpy(buf + al + 1, ch, cl);
    buf[al + 1 + cl] = '\0';
    buf[al + cl + 2] = user ? 'u' : 'c';
    if (user)
        memcpy(buf + al + cl + 3, user, ul);
    return n;
}

static int
hold_has(const hold_t *h, size_t slot)
{
    return (h->bits[slot / 8] >> (slot % 8)) & 1;
}

/* The users held in a user record's channel change by delta (+1 / -1). Returns 0, or -1
 * when out of memory (nothing changed). */
static int
tally_add(skt_hub_store_t *st, const hold_t *h, int delta)
{
    if (!h->user)
        return 0;
    tally_t *t = skt_map_get(st->users, h->key, h->prefix_len);
    if (delta > 0 && !t) {
        if (!(t = calloc(1, sizeof(*t) + h->prefix_len)))
            return -1;
        t->key_len = h->prefix_len;
        memcpy(t->key, h->key, h->prefix_len);
        if (skt_map_put(st->users, t->key, t->key_len, t) < 0) {
            free(t);
            return -1;
        }
    }
    if (!t)
        return 0;
    if (delta > 0)
        t->n++;
    else if (--t->n == 0)
        free(skt_map_del(st->users, t->key, t->key_len));
    return 0;
}

/* slot no longer holds h; returns 1 when nobody does any more (h is then to be freed). */
static int
hold_clear(skt_hub_store_t *st, hold_t *h, size_t slot)
{
    if (!hold_has(h, slot))
        return h->holders == 0;
    h->bits[slot / 8] &= (unsigned char)~(1u << (slot % 8));
    if (--h->holders)
        return 0;
    tally_add(st, h, -1);
    return 1;
}

/* The record of key, made empty when absent (NULL when out of memory). */
static hold_t *
hold_get(skt_hub_store_t *st, const char *key, size_t kl, size_t prefix_len)
{
    hold_t *h = skt_map_get(st->keys, key, kl);
    if (h)
        return h;
    size_t nbits = (st->n_slots + 7) / 8;
    if (!(h = calloc(1, sizeof(*h) + nbits + kl)))
        return NULL;
    h->key = (char *)h->bits + nbits;
    h->key_len = kl;
    h->prefix_len = prefix_len;
    h->user = key[prefix_len] == 'u';
    memcpy(h->key, key, kl);
    if (skt_map_put(st->keys, h->key, kl, h) < 0) {
        free(h);
        return NULL;
    }
    return h;
}

/* slot holds h (a no-op when it did). Returns 0, or -1 when out of memory. */
static int
hold_set(skt_hub_store_t *st, hold_t *h, size_t slot)
{
    if (hold_has(h, slot))
        return 0;
    if (h->holders == 0 && tally_add(st, h, 1) != 0)
        return -1;
    h->bits[slot / 8] |= (unsigned char)(1u << (slot % 8));
    h->holders++;
    return 0;
}

static void
hold_free(skt_hub_store_t *st, hold_t *h)
{
    free(skt_map_del(st->keys, h->key, h->key_len));
}

/* slot joins (joined 1) or leaves key (prefix_len: store_key's app and channel); returns the
 * transition's count, or -1 when out of memory. */
static int
store_transition(skt_hub_store_t *st, size_t slot, const char *key, size_t kl, size_t prefix_len,
                 int joined)
{
    hold_t *h = skt_map_get(st->keys, key, kl);
    if (joined) {
        int fresh = !h;
        if (!h && !(h = hold_get(st, key, kl, prefix_len)))
            return -1;
        if (hold_set(st, h, slot) != 0) {
            if (fresh)
                hold_free(st, h);
            return -1;
        }
        return h->holders == 1;
    }
    if (!h)
        return 1;
    if (!hold_clear(st, h, slot))
        return 0;
    hold_free(st, h);
    return 1;
}

/* cluster_admit: slot's user joins when the channel then holds at most limit users (limit
 * < 0: any number). Returns 1 admitted (no other worker held the user), 2 admitted (one
 * did), 0 refused, -1 out of memory. */
static int
store_admit(skt_hub_store_t *st, size_t slot, const char *key, size_t kl, size_t prefix_len,
            long limit, int id_number)
{
    hold_t *h = skt_map_get(st->keys, key, kl);
    size_t others = h ? h->holders - (size_t)hold_has(h, slot) : 0;
    if (!others) {
        tally_t *t = skt_map_get(st->users, key, prefix_len);
        size_t users = t ? t->n : 0;
        if (h && h->holders)
            users--; /* slot holds the user already: it counts once */
        if (limit >= 0 && users + 1 > (size_t)limit)
            return 0;
    }
    int count = store_transition(st, slot, key, kl, prefix_len, 1);
    hold_t *held = count < 0 || others ? NULL : skt_map_get(st->keys, key, kl);
    if (held)
        held->id_number = id_number != 0;
    return count < 0 ? -1 : others ? 2 : 1;
}

/* Drops the windows that have closed, when they could be many (more than twice as many
 * windows as after the last sweep). */
static void
windows_sweep(skt_hub_store_t *st, uint64_t now_ms)
{
    if (skt_map_count(st->windows) <= 2 * st->windows_kept + 64)
        return;
    size_t pos = 0, n_gone = 0;
    void *v;
    window_t **gone = malloc(skt_map_count(st->windows) * sizeof(*gone));
    while (gone && skt_map_next(st->windows, &pos, NULL, NULL, &v))
        if (((window_t *)v)->end_ms <= now_ms)
            gone[n_gone++] = v;
    for (size_t i = 0; i < n_gone; i++) {
        skt_map_del(st->windows, gone[i]->key, gone[i]->key_len);
        free(gone[i]);
    }
    free(gone);
    st->windows_kept = skt_map_count(st->windows);
}

/* rate_consume: points go into key's window (opened by its first consumption, lasting
 * window_ms), written to answer as the points used in it and the ms until it closes. */
static int
store_consume(skt_hub_store_t *st, const char *key, size_t kl, uint32_t points, uint32_t window_ms,
              uint64_t now_ms, struct evbuffer *answer)
{
    window_t *w = skt_map_get(st->windows, key, kl);
    if (!w) {
        windows_sweep(st, now_ms);
        if (!(w = calloc(1, sizeof(*w) + kl)))
            return -1;
        w->key_len = kl;
        memcpy(w->key, key, kl);
        if (skt_map_put(st->windows, w->key, kl, w) < 0) {
            free(w);
            return -1;
        }
    }
    if (now_ms >= w->end_ms) {
        w->used = 0;
        w->end_ms = now_ms + window_ms;
    }
    w->used += points;
    uint64_t used = w->used > UINT32_MAX ? UINT32_MAX : w->used;
    return skt_wframe_add_u32(answer, (uint32_t)used) != 0 ||
                   skt_wframe_add_u32(answer, (uint32_t)(w->end_ms - now_ms)) != 0
               ? -1
               : 0;
}

/* cache_get's answer: u32 found, [str value]. */
typedef struct got_s {
    struct evbuffer *answer;
    int rv;
} got_t;

static void
store_got(void *arg, const char *value, size_t len)
{
    got_t *g = arg;
    g->rv = skt_wframe_add_u32(g->answer, value != NULL) != 0 ||
                    (value && skt_wframe_add_str(g->answer, value, len) != 0)
                ? -1
                : 0;
}

/* The ops on one key (rate_consume, cache_get, cache_set), their key in the channel's
 * place. cache_set is answered by nothing: answer stays empty. */
static int
store_keyed(skt_hub_store_t *st, uint32_t op, skt_wframe_reader_t *r, const char *key, size_t kl,
            uint64_t now_ms, struct evbuffer *answer)
{
    if (op == SKT_HUB_RATE) {
        uint32_t points = skt_wframe_read_u32(r), window_ms = skt_wframe_read_u32(r);
        return r->bad || r->left ? -1
                                 : store_consume(st, key, kl, points, window_ms, now_ms, answer);
    }
    if (op == SKT_HUB_GET) {
        got_t g = {.answer = answer, .rv = -1};
        if (r->left)
            return -1;
        skt_cache_get(st->cache, key, kl, store_got, &g);
        return g.rv;
    }
    size_t vl;
    const char *value = skt_wframe_read_str(r, &vl);
    uint32_t ttl = skt_wframe_read_u32(r);
    if (r->bad || r->left)
        return -1;
    evbuffer_drain(answer, evbuffer_get_length(answer));
    skt_cache_set(st->cache, key, kl, value, vl, ttl > INT32_MAX ? INT32_MAX : (long)ttl);
    return 0;
}

/* The users of the question some worker holds, written to answer. */
static int
store_present(skt_hub_store_t *st, skt_wframe_reader_t *r, const char *app, size_t al,
              const char *ch, size_t cl, struct evbuffer *answer)
{
    char key[4096];
    uint32_t n = skt_wframe_read_u32(r);
    struct evbuffer *held = evbuffer_new();
    uint32_t m = 0;
    hold_t *h;
    int rv = held ? 0 : -1;
    for (uint32_t i = 0; rv == 0 && i < n; i++) {
        size_t ul;
        const char *user = skt_wframe_read_str(r, &ul);
        size_t kl = store_key(key, sizeof(key), app, al, ch, cl, user, ul);
        if (r->bad)
            rv = -1;
        else if (kl && (h = skt_map_get(st->keys, key, kl)) && h->holders) {
            rv = skt_wframe_add_str(held, user, ul);
            m++;
        }
    }
    if (rv == 0)
        rv = skt_wframe_add_u32(answer, m) != 0 || evbuffer_add_buffer(answer, held) != 0 ? -1 : 0;
    if (held)
        evbuffer_free(held);
    return rv;
}

/* cluster_connection: slot's connection of app opens (joined 1: admitted when the app then
 * has at most limit, limit < 0: any number) or an admitted one closes (joined 0). Returns
 * the answer's count (1 admitted or released, 0 refused), -1 when out of memory. */
static int
store_connection(skt_hub_store_t *st, size_t slot, const char *app, size_t al, int joined,
                 long limit)
{
    conns_t *c = skt_map_get(st->conns, app, al);
    if (!joined) {
        if (c && c->per_slot[slot]) {
            c->per_slot[slot]--;
            if (--c->total == 0)
                free(skt_map_del(st->conns, c->app, c->app_len));
        }
        return 1;
    }
    if (limit >= 0 && (c ? c->total : 0) + 1 > (uint64_t)limit)
        return 0;
    if (!c) {
        if (!(c = calloc(1, sizeof(*c) + st->n_slots * sizeof(c->per_slot[0]) + al)))
            return -1;
        c->app = (char *)(c->per_slot + st->n_slots);
        c->app_len = al;
        memcpy(c->app, app, al);
        if (skt_map_put(st->conns, c->app, al, c) < 0) {
            free(c);
            return -1;
        }
    }
    c->per_slot[slot]++;
    c->total++;
    return 1;
}

/* A question about (app, channel[, user]): TRANSITION or ADMIT. */
static int
store_held(skt_hub_store_t *st, size_t slot, uint32_t op, skt_wframe_reader_t *r, const char *app,
           size_t al, const char *ch, size_t cl, struct evbuffer *answer)
{
    char key[4096];
    size_t ul = 0;
    const char *user = NULL;
    uint32_t joined = 1, has_limit = 0, limit = 0, id_number = 0;
    if (op == SKT_HUB_TRANSITION) {
        joined = skt_wframe_read_u32(r);
        if (skt_wframe_read_u32(r))
            user = skt_wframe_read_str(r, &ul);
    } else {
        user = skt_wframe_read_str(r, &ul);
        has_limit = skt_wframe_read_u32(r);
        limit = skt_wframe_read_u32(r);
        id_number = skt_wframe_read_u32(r);
    }
    size_t kl = store_key(key, sizeof(key), app, al, ch, cl, user, ul);
    if (r->bad || r->left || !kl || (op == SKT_HUB_ADMIT && !user))
        return -1;
    int count = op == SKT_HUB_ADMIT ? store_admit(st, slot, key, kl, al + cl + 2,
                                                  has_limit ? (long)limit : -1, (int)id_number)
                                    : store_transition(st, slot, key, kl, al + cl + 2, joined != 0);
    return count < 0 ? -1 : skt_wframe_add_u32(answer, (uint32_t)count);
}

int
skt_hub_store_answer(skt_hub_store_t *st, size_t slot, const unsigned char *payload, size_t len,
                     uint64_t now_ms, struct evbuffer *answer)
{
    skt_wframe_reader_t r = {.p = payload, .left = len};
    size_t al, cl;
    uint32_t id = skt_wframe_read_u32(&r), op = skt_wframe_read_u32(&r);
    const char *app = skt_wframe_read_str(&r, &al), *ch = skt_wframe_read_str(&r, &cl);
    if (r.bad || op < SKT_HUB_TRANSITION || op > SKT_HUB_CONNECTION)
        return -1;
    if (skt_wframe_add_u32(answer, id) != 0 || skt_wframe_add_u32(answer, 0) != 0)
        return -1;
    if (op == SKT_HUB_PRESENT)
        return store_present(st, &r, app, al, ch, cl, answer);
    if (op == SKT_HUB_TRANSITION || op == SKT_HUB_ADMIT)
        return store_held(st, slot, op, &r, app, al, ch, cl, answer);
    if (op == SKT_HUB_CONNECTION) {
        uint32_t joined = skt_wframe_read_u32(&r), has_limit = skt_wframe_read_u32(&r),
                 limit = skt_wframe_read_u32(&r);
        if (r.bad || r.left)
            return -1;
        int count = store_connection(st, slot, app, al, joined != 0, has_limit ? (long)limit : -1);
        return count < 0 ? -1 : skt_wframe_add_u32(answer, (uint32_t)count);
    }
    return store_keyed(st, op, &r, ch, cl, now_ms, answer);
}

/* slot's admitted connections are gone: the apps it alone held are dropped. */
static void
conns_forget(skt_hub_store_t *st, size_t slot)
{
    size_t pos = 0, n_gone = 0;
    void *v;
    conns_t **gone = malloc((skt_map_count(st->conns) + 1) * sizeof(*gone));
    while (skt_map_next(st->conns, &pos, NULL, NULL, &v)) {
        conns_t *c = v;
        c->total -= c->per_slot[slot];
        c->per_slot[slot] = 0;
        if (!c->total && gone)
            gone[n_gone++] = c; /* out of memory: an empty record stays, counting 0 */
    }
    for (size_t i = 0; i < n_gone; i++)
        free(skt_map_del(st->conns, gone[i]->app, gone[i]->app_len));
    free(gone);
}

/* h, held by slot alone, is lost with it: its entry (hub_store.h) goes to out. */
static int
lost_add(const hold_t *h, struct evbuffer *out)
{
    const char *ch = memchr(h->key, '\0', h->key_len);
    if (!ch)
        return -1;
    size_t al = (size_t)(ch - h->key), cl = h->prefix_len - al - 2;
    const char *user = h->key + h->prefix_len + 1;
    size_t ul = h->user ? h->key_len - h->prefix_len - 1 : 0;
    struct evbuffer *e = evbuffer_new();
    int rv = !e || skt_wframe_add_u32(e, (uint32_t)h->user) != 0 ||
                     skt_wframe_add_str(e, h->key, al) != 0 ||
                     skt_wframe_add_str(e, ch + 1, cl) != 0 ||
                     skt_wframe_add_str(e, user, ul) != 0 ||
                     skt_wframe_add_u32(e, (uint32_t)h->id_number) != 0 ||
                     skt_wframe_add_u32(out, (uint32_t)evbuffer_get_length(e)) != 0 ||
                     evbuffer_add_buffer(out, e) != 0
                 ? -1
                 : 0;
    if (e)
        evbuffer_free(e);
    return rv;
}

void
skt_hub_store_forget(skt_hub_store_t *st, size_t slot, struct evbuffer *lost)
{
    size_t pos = 0;
    void *v;
    conns_forget(st, slot);
    /* the users first, then the channels: member_removed before channel_vacated */
    struct evbuffer *channels = lost ? evbuffer_new() : NULL;
    while (lost && skt_map_next(st->keys, &pos, NULL, NULL, &v)) {
        hold_t *h = v;
        if (hold_has(h, slot) && h->holders == 1)
            lost_add(h, h->user ? lost : channels);
    }
    if (channels) {
        evbuffer_add_buffer(lost, channels);
        evbuffer_free(channels);
    }
    pos = 0;
    /* the map must not change during an iteration: the emptied records are collected */
    hold_t **gone = NULL;
    size_t n_gone = 0, cap = 0;
    while (skt_map_next(st->keys, &pos, NULL, NULL, &v)) {
        hold_t *h = v;
        if (!hold_has(h, slot) || !hold_clear(st, h, slot))
            continue;
        if (n_gone == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            hold_t **g = realloc(gone, ncap * sizeof(*g));
            if (!g)
                continue; /* out of memory: an empty record stays, answering "held by none" */
            gone = g;
            cap = ncap;
        }
        gone[n_gone++] = h;
    }
    for (size_t i = 0; i < n_gone; i++) {
        skt_map_del(st->keys, gone[i]->key, gone[i]->key_len);
        free(gone[i]);
    }
    free(gone);
}

skt_hub_store_t *
skt_hub_store_new(struct event_base *base, size_t n_slots)
{
    skt_hub_store_t *st = calloc(1, sizeof(*st));
    if (!st)
        return NULL;
    st->n_slots = n_slots;
    if (!(st->conns = skt_map_new()) || !(st->keys = skt_map_new()) ||
        !(st->users = skt_map_new()) || !(st->windows = skt_map_new()) ||
        !(st->cache = skt_cache_new_memory(base, NULL))) {
        skt_hub_store_free(st);
        return NULL;
    }
    return st;
}

size_t
skt_hub_store_count(const skt_hub_store_t *st)
{
    return skt_map_count(st->keys);
}

void
skt_hub_store_free(skt_hub_store_t *st)
{
    if (!st)
        return;
    skt_map_t *maps[] = {st->conns, st->keys, st->users, st->windows};
    for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
        size_t pos = 0;
        void *v;
        while (maps[i] && skt_map_next(maps[i], &pos, NULL, NULL, &v))
            free(v);
        skt_map_free(maps[i]);
    }
    if (st->cache)
        skt_cache_free(st->cache);
    free(st);
}
