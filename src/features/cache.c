/* cache.c - the cache front and its memory driver (cache.h). */
#include "features/cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "features/clock.h"
#include "util/map.h"

struct skt_cache_s {
    const skt_cache_driver_t *driver;
    void *self;
};

/* ------------------------------------------------------------ memory driver */

typedef struct entry_s {
    struct entry_s *prev, *next; /* by the time of the last set, oldest first */
    uint64_t expires_ms;         /* 0: never */
    char *value;
    size_t value_len;
    size_t key_len;
    char key[];
} entry_t;

typedef struct memory_s {
    skt_map_t *entries; /* key -> entry_t */
    entry_t *head, *tail;
    struct event *sweep_ev;
    skt_cache_clock_fn now;
} memory_t;

static void
list_unlink(memory_t *m, entry_t *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        m->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        m->tail = e->prev;
    e->prev = e->next = NULL;
}

static void
list_append(memory_t *m, entry_t *e)
{
    e->prev = m->tail;
    e->next = NULL;
    if (m->tail)
        m->tail->next = e;
    else
        m->head = e;
    m->tail = e;
}

static void
entry_drop(memory_t *m, entry_t *e)
{
    skt_map_del(m->entries, e->key, e->key_len);
    list_unlink(m, e);
    free(e->value);
    free(e);
}

static int
expired(const entry_t *e, uint64_t now)
{
    return e->expires_ms && e->expires_ms <= now;
}

/* Drops expired entries from the oldest end. An entry that never expires, or
 * lives longer than the ones set after it, stops the sweep early; get()
 * still refuses whatever has expired behind it. */
static void
memory_sweep(memory_t *m)
{
    uint64_t now = m->now();
    while (m->head && expired(m->head, now))
        entry_drop(m, m->head);
}

static void
sweep_cb(evutil_socket_t fd, short what, void *arg)
{
    memory_sweep(arg);
}

static void
memory_get(void *self, const char *key, size_t key_len, skt_cache_get_cb cb, void *arg)
{
    memory_t *m = self;
    entry_t *e = skt_map_get(m->entries, key, key_len);
    if (e && expired(e, m->now())) {
        entry_drop(m, e);
        e = NULL;
    }
    if (e)
        cb(arg, e->value, e->value_len);
    else
        cb(arg, NULL, 0);
}

static void
memory_set(void *self, const char *key, size_t key_len, const char *value, size_t value_len,
           long ttl_seconds)
{
    memory_t *m = self;
    memory_sweep(m);
    char *copy = malloc(value_len + 1);
    if (!copy)
        return;
    memcpy(copy, value, value_len);
    copy[value_len] = '\0';
    entry_t *e = skt_map_get(m->entries, key, key_len);
    if (e) {
        free(e->value);
        list_unlink(m, e);
    } else {
        e = calloc(1, sizeof(*e) + key_len);
        if (!e) {
            free(copy);
            return;
        }
        memcpy(e->key, key, key_len);
        e->key_len = key_len;
        if (skt_map_put(m->entries, e->key, key_len, e) != 0) {
            free(e);
            free(copy);
            return;
        }
    }
    e->value = copy;
    e->value_len = value_len;
    e->expires_ms = ttl_seconds > 0 ? m->now() + (uint64_t)ttl_seconds * 1000u : 0;
    list_append(m, e);
}

static void
memory_free(void *self)
{
    memory_t *m = self;
    while (m->head)
        entry_drop(m, m->head);
    skt_map_free(m->entries);
    if (m->sweep_ev)
        event_free(m->sweep_ev);
    free(m);
}

static const skt_cache_driver_t memory_driver = {
    .name = "memory",
    .get = memory_get,
    .set = memory_set,
    .free = memory_free,
};

skt_cache_t *
skt_cache_new_memory(struct event_base *base, skt_cache_clock_fn now)
{
    memory_t *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->now = now ? now : skt_clock_ms;
    m->entries = skt_map_new();
    if (m->entries && base) {
        /* soketi sweeps its memory cache every second too. */
        struct timeval second = {1, 0};
        m->sweep_ev = event_new(base, -1, EV_PERSIST, sweep_cb, m);
        if (m->sweep_ev)
            event_add(m->sweep_ev, &second);
    }
    skt_cache_t *c = NULL;
    if (m->entries && (!base || m->sweep_ev))
        c = skt_cache_new(&memory_driver, m);
    if (!c)
        memory_free(m);
    return c;
}

size_t
skt_cache_memory_entries(const skt_cache_t *c)
{
    if (!c || c->driver != &memory_driver)
        return 0;
    return skt_map_count(((memory_t *)c->self)->entries);
}

/* ------------------------------------------------------------ front */

skt_cache_t *
skt_cache_new(const skt_cache_driver_t *driver, void *self)
{
    skt_cache_t *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->driver = driver;
    c->self = self;
    return c;
}

void
skt_cache_free(skt_cache_t *c)
{
    if (!c)
        return;
    if (c->driver->free)
        c->driver->free(c->self);
    free(c);
}

void
skt_cache_get(skt_cache_t *c, const char *key, size_t key_len, skt_cache_get_cb cb, void *arg)
{
    c->driver->get(c->self, key, key_len, cb, arg);
}

void
skt_cache_set(skt_cache_t *c, const char *key, size_t key_len, const char *value, size_t value_len,
              long ttl_seconds)
{
    c->driver->set(c->self, key, key_len, value, value_len, ttl_seconds);
}

int
skt_cache_is_cache_channel(const char *channel, size_t len)
{
    static const char *const prefixes[] = {"cache-", "private-cache-", "private-encrypted-cache-",
                                           "presence-cache-"};
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        size_t pl = strlen(prefixes[i]);
        if (len >= pl && memcmp(channel, prefixes[i], pl) == 0)
            return 1;
    }
    return 0;
}

size_t
skt_cache_channel_key(char *buf, size_t len, const char *app_id, const char *channel,
                      size_t channel_len)
{
    int n = snprintf(buf, len, "app:%s:channel:%.*s:cache_miss", app_id, (int)channel_len, channel);
    if (n < 0 || (size_t)n >= len) {
        if (len)
            buf[0] = '\0';
        return 0;
    }
    return (size_t)n;
}
