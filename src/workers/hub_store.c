/* hub_store.c - the state the workers of one host share in their supervisor (hub_store.h). */
#include "workers/hub_store.h"

#include <event2/buffer.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/map.h"
#include "workers/frame.h"

/* Which workers hold one key: a bit per worker; the key (the map's) is stored after them. */
typedef struct hold_s {
    size_t holders;
    char *key;
    size_t key_len;
    unsigned char bits[];
} hold_t;

struct skt_hub_store_s {
    skt_map_t *keys; /* key -> hold_t */
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

/* slot joins (joined 1) or leaves key; returns the transition's count, or -1 when out of
 * memory. */
static int
store_transition(skt_hub_store_t *st, size_t slot, const char *key, size_t kl, int joined)
{
    hold_t *h = skt_map_get(st->keys, key, kl);
    if (joined) {
        if (!h) {
            size_t nbits = (st->n_slots + 7) / 8;
            h = calloc(1, sizeof(*h) + nbits + kl);
            if (h) {
                h->key = (char *)h->bits + nbits;
                h->key_len = kl;
                memcpy(h->key, key, kl);
            }
            if (!h || skt_map_put(st->keys, h->key, kl, h) < 0) {
                free(h);
                return -1;
            }
        }
        if (!hold_has(h, slot)) {
            h->bits[slot / 8] |= (unsigned char)(1u << (slot % 8));
            h->holders++;
        }
        return h->holders == 1;
    }
    if (!h)
        return 1;
    if (hold_has(h, slot)) {
        h->bits[slot / 8] &= (unsigned char)~(1u << (slot % 8));
        h->holders--;
    }
    if (h->holders)
        return 0;
    free(skt_map_del(st->keys, key, kl));
    return 1;
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

int
skt_hub_store_answer(skt_hub_store_t *st, size_t slot, const unsigned char *payload, size_t len,
                     struct evbuffer *answer)
{
    skt_wframe_reader_t r = {.p = payload, .left = len};
    char key[4096];
    size_t al, cl, ul = 0;
    uint32_t id = skt_wframe_read_u32(&r), op = skt_wframe_read_u32(&r);
    const char *app = skt_wframe_read_str(&r, &al), *ch = skt_wframe_read_str(&r, &cl);
    if (r.bad || (op != SKT_HUB_TRANSITION && op != SKT_HUB_PRESENT))
        return -1;
    if (skt_wframe_add_u32(answer, id) != 0 || skt_wframe_add_u32(answer, 0) != 0)
        return -1;
    if (op == SKT_HUB_PRESENT)
        return store_present(st, &r, app, al, ch, cl, answer);
    uint32_t joined = skt_wframe_read_u32(&r), has_user = skt_wframe_read_u32(&r);
    const char *user = has_user ? skt_wframe_read_str(&r, &ul) : NULL;
    size_t kl = store_key(key, sizeof(key), app, al, ch, cl, user, ul);
    if (r.bad || r.left || !kl)
        return -1;
    int count = store_transition(st, slot, key, kl, joined != 0);
    return count < 0 ? -1 : skt_wframe_add_u32(answer, (uint32_t)count);
}

void
skt_hub_store_forget(skt_hub_store_t *st, size_t slot)
{
    size_t pos = 0;
    void *v;
    /* the map must not change during an iteration: the emptied records are collected */
    hold_t **gone = NULL;
    size_t n_gone = 0, cap = 0;
    while (skt_map_next(st->keys, &pos, NULL, NULL, &v)) {
        hold_t *h = v;
        if (!hold_has(h, slot))
            continue;
        h->bits[slot / 8] &= (unsigned char)~(1u << (slot % 8));
        if (--h->holders)
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
skt_hub_store_new(size_t n_slots)
{
    skt_hub_store_t *st = calloc(1, sizeof(*st));
    if (!st || !(st->keys = skt_map_new())) {
        free(st);
        return NULL;
    }
    st->n_slots = n_slots;
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
    size_t pos = 0;
    void *v;
    while (skt_map_next(st->keys, &pos, NULL, NULL, &v))
        free(v);
    skt_map_free(st->keys);
    free(st);
}
