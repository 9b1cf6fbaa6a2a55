/* map.c - a string-keyed hash map (open addressing, linear probing).
 *
 * DESIGN
 * Slots hold {key pointer, key length, 32-bit hash, value}. A slot is empty
 * when its value is NULL. The table is a power of two and grows at 3/4 load.
 * Deletion uses backward shift: following entries that sit away from their
 * home slot move back, so a lookup can stop at the first empty slot and no
 * tombstones ever accumulate.
 */
#include "util/map.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct map_slot_s {
    const char *key;
    void *value;
    uint32_t len;
    uint32_t hash;
} map_slot_t;

struct skt_map_s {
    map_slot_t *slots;
    size_t mask; /* capacity - 1 */
    size_t count;
};

static uint64_t map_seed;

/* Seeds the hash once per process, so that clients cannot precompute
 * colliding channel names against every server. */
static uint64_t
map_get_seed(void)
{
    if (map_seed == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        map_seed = ((uint64_t)ts.tv_nsec << 32) ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 16) ^
                   (uint64_t)(uintptr_t)&ts;
        map_seed |= 1;
    }
    return map_seed;
}

uint64_t
skt_map_hash(const char *key, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL ^ map_get_seed();
    const unsigned char *p = (const unsigned char *)key;
    size_t i = 0;

    /* 8 bytes at a time, then a multiply-xorshift finaliser (murmur3 fmix64). */
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h ^= w;
        h *= 0x100000001b3ULL;
        h ^= h >> 29;
    }
    for (; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    h ^= len;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

skt_map_t *
skt_map_new(void)
{
    skt_map_t *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->slots = calloc(8, sizeof(map_slot_t));
    if (!m->slots) {
        free(m);
        return NULL;
    }
    m->mask = 7;
    return m;
}

void
skt_map_free(skt_map_t *m)
{
    if (!m)
        return;
    free(m->slots);
    free(m);
}

/* Returns the slot index holding key, or the empty slot where it would go. */
static size_t
map_find(const skt_map_t *m, const char *key, size_t len, uint32_t hash)
{
    size_t i = hash & m->mask;
    for (;;) {
        const map_slot_t *s = &m->slots[i];
        if (!s->value)
            return i;
        if (s->hash == hash && s->len == len && memcmp(s->key, key, len) == 0)
            return i;
        i = (i + 1) & m->mask;
    }
}

void *
skt_map_get(const skt_map_t *m, const char *key, size_t len)
{
    uint32_t h = (uint32_t)skt_map_hash(key, len);
    return m->slots[map_find(m, key, len, h)].value;
}

/* Doubles the table; all entries are re-placed. */
static int
map_grow(skt_map_t *m)
{
    size_t cap = (m->mask + 1) * 2;
    map_slot_t *old = m->slots;
    size_t oldcap = m->mask + 1;
    map_slot_t *slots = calloc(cap, sizeof(map_slot_t));
    if (!slots)
        return -1;
    m->slots = slots;
    m->mask = cap - 1;
    for (size_t i = 0; i < oldcap; i++) {
        if (!old[i].value)
            continue;
        size_t j = old[i].hash & m->mask;
        while (slots[j].value)
            j = (j + 1) & m->mask;
        slots[j] = old[i];
    }
    free(old);
    return 0;
}

int
skt_map_put(skt_map_t *m, const char *key, size_t len, void *value)
{
    if (!value || len > UINT32_MAX)
        return -1;
    if ((m->count + 1) * 4 > (m->mask + 1) * 3 && map_grow(m) != 0)
        return -1;
    uint32_t h = (uint32_t)skt_map_hash(key, len);
    size_t i = map_find(m, key, len, h);
    map_slot_t *s = &m->slots[i];
    if (!s->value)
        m->count++;
    s->key = key;
    s->len = (uint32_t)len;
    s->hash = h;
    s->value = value;
    return 0;
}

void *
skt_map_del(skt_map_t *m, const char *key, size_t len)
{
    uint32_t h = (uint32_t)skt_map_hash(key, len);
    size_t i = map_find(m, key, len, h);
    void *value = m->slots[i].value;
    if (!value)
        return NULL;
    m->count--;
    /* Backward shift: pull later entries of the cluster into the hole when
     * the hole lies on their probe path (between their home and their slot). */
    size_t hole = i;
    size_t j = i;
    for (;;) {
        j = (j + 1) & m->mask;
        map_slot_t *s = &m->slots[j];
        if (!s->value)
            break;
        size_t home = s->hash & m->mask;
        size_t dist_j = (j - home) & m->mask;
        size_t dist_hole = (hole - home) & m->mask;
        if (dist_hole <= dist_j) {
            m->slots[hole] = *s;
            hole = j;
        }
    }
    memset(&m->slots[hole], 0, sizeof(map_slot_t));
    return value;
}

size_t
skt_map_count(const skt_map_t *m)
{
    return m->count;
}

int
skt_map_next(const skt_map_t *m, size_t *pos, const char **key, size_t *len, void **value)
{
    while (*pos <= m->mask) {
        const map_slot_t *s = &m->slots[(*pos)++];
        if (s->value) {
            if (key)
                *key = s->key;
            if (len)
                *len = s->len;
            if (value)
                *value = s->value;
            return 1;
        }
    }
    return 0;
}
