/* namespace.c - one app's live state in this process: sockets, channels, presence, users. */
#include "pusher/namespace.h"

#include <stdlib.h>
#include <string.h>

skt_ns_t *
skt_ns_new(skt_app_t *app)
{
    skt_ns_t *ns = calloc(1, sizeof(*ns));
    if (!ns)
        return NULL;
    ns->app = app;
    ns->app_id = strdup(app->id);
    ns->channels = skt_map_new();
    ns->sockets = skt_map_new();
    ns->users = skt_map_new();
    if (!ns->app_id || !ns->channels || !ns->sockets || !ns->users) {
        skt_ns_free(ns);
        return NULL;
    }
    return ns;
}

void
skt_ns_free(skt_ns_t *ns)
{
    if (!ns)
        return;
    skt_map_free(ns->channels);
    skt_map_free(ns->sockets);
    skt_map_free(ns->users);
    free(ns->app_id);
    free(ns);
}

skt_ns_t *
skt_ns_find(const skt_map_t *namespaces, const char *app_id, size_t len)
{
    return skt_map_get(namespaces, app_id, len);
}

skt_ns_t *
skt_ns_for_app(skt_map_t *namespaces, skt_app_t *app)
{
    skt_ns_t *ns = skt_ns_find(namespaces, app->id, strlen(app->id));
    if (ns) {
        ns->app = app;
        return ns;
    }
    ns = skt_ns_new(app);
    if (!ns)
        return NULL;
    if (skt_map_put(namespaces, ns->app_id, strlen(ns->app_id), ns) != 0) {
        skt_ns_free(ns);
        return NULL;
    }
    return ns;
}

int
skt_socket_hold(skt_socket_t *s, long max)
{
    if ((max > 0 && s->pending >= max) || s->pending == UINT16_MAX)
        return -1;
    s->pending++;
    skt_conn_ref(&s->conn);
    return 0;
}

void
skt_socket_release(skt_socket_t *s)
{
    s->pending--;
    skt_conn_unref(&s->conn);
}

int
skt_ns_add_socket(skt_ns_t *ns, skt_socket_t *s)
{
    if (skt_map_put(ns->sockets, s->id, s->id_len, s) != 0)
        return -1;
    s->ns = ns;
    s->registered = 1;
    return 0;
}

void
skt_ns_remove_socket(skt_ns_t *ns, skt_socket_t *s)
{
    if (s->registered)
        skt_map_del(ns->sockets, s->id, s->id_len);
    s->registered = 0;
}

skt_channel_t *
skt_ns_channel(skt_ns_t *ns, const char *name, size_t len)
{
    return skt_map_get(ns->channels, name, len);
}

/* ---------------------------------------------------------------- a socket's subscriptions
 *
 * s->subs holds capsubs subscriptions; once capsubs passes SUBS_SCAN, the same
 * allocation holds after them an open-addressing index of 2 * capsubs slots (a power of
 * two), each the position + 1 of a subscription (0: empty), keyed by the channel pointer.
 */
#define SUBS_SCAN 8

static uint16_t *
subs_index(const skt_socket_t *s)
{
    return s->capsubs > SUBS_SCAN ? (uint16_t *)(void *)(s->subs + s->capsubs) : NULL;
}

static size_t
subs_slot(const skt_socket_t *s, const skt_channel_t *ch)
{
    uint64_t h = (uint64_t)(uintptr_t)ch * 0x9E3779B97F4A7C15ULL;
    return (size_t)(h >> 32) & ((size_t)s->capsubs * 2 - 1);
}

/* The position of s's subscription to ch, or -1. */
static long
subs_find(const skt_socket_t *s, const skt_channel_t *ch)
{
    const uint16_t *idx = subs_index(s);
    if (!idx) {
        for (uint16_t i = 0; i < s->nsubs; i++)
            if (s->subs[i].ch == ch)
                return i;
        return -1;
    }
    size_t mask = (size_t)s->capsubs * 2 - 1;
    for (size_t k = subs_slot(s, ch); idx[k]; k = (k + 1) & mask)
        if (s->subs[idx[k] - 1].ch == ch)
            return idx[k] - 1;
    return -1;
}

/* Indexes subscription i (its channel must not be indexed yet). */
static void
subs_index_add(skt_socket_t *s, uint16_t i)
{
    uint16_t *idx = subs_index(s);
    if (!idx)
        return;
    size_t mask = (size_t)s->capsubs * 2 - 1, k = subs_slot(s, s->subs[i].ch);
    while (idx[k])
        k = (k + 1) & mask;
    idx[k] = (uint16_t)(i + 1);
}

/* The index slot of channel ch. */
static size_t
subs_index_slot(const skt_socket_t *s, const skt_channel_t *ch)
{
    const uint16_t *idx = subs_index(s);
    size_t mask = (size_t)s->capsubs * 2 - 1, k = subs_slot(s, ch);
    while (s->subs[idx[k] - 1].ch != ch)
        k = (k + 1) & mask;
    return k;
}

/* Removes ch's entry, shifting back the entries after it that belong nearer their home
 * (no tombstones). */
static void
subs_index_del(skt_socket_t *s, const skt_channel_t *ch)
{
    uint16_t *idx = subs_index(s);
    if (!idx)
        return;
    size_t mask = (size_t)s->capsubs * 2 - 1, hole = subs_index_slot(s, ch);
    idx[hole] = 0;
    for (size_t k = (hole + 1) & mask; idx[k]; k = (k + 1) & mask) {
        size_t home = subs_slot(s, s->subs[idx[k] - 1].ch);
        if (((k - home) & mask) >= ((k - hole) & mask)) {
            idx[hole] = idx[k];
            idx[k] = 0;
            hole = k;
        }
    }
}

/* Room for one more subscription: doubles the array (and rebuilds the index). */
static int
subs_grow(skt_socket_t *s)
{
    uint32_t cap = s->capsubs ? (uint32_t)s->capsubs * 2 : 4;
    if (cap > SKT_NS_MAX_SUBS)
        return -1;
    size_t bytes = cap * sizeof(skt_sub_t) + (cap > SUBS_SCAN ? cap * 2 * sizeof(uint16_t) : 0);
    skt_sub_t *n = realloc(s->subs, bytes);
    if (!n)
        return -1;
    s->subs = n;
    s->capsubs = (uint16_t)cap;
    uint16_t *idx = subs_index(s);
    if (idx) {
        memset(idx, 0, cap * 2 * sizeof(uint16_t));
        for (uint16_t i = 0; i < s->nsubs; i++)
            subs_index_add(s, i);
    }
    return 0;
}

skt_sub_t *
skt_ns_find_sub(skt_socket_t *s, const char *name, size_t len)
{
    skt_channel_t *ch = s->ns ? skt_map_get(s->ns->channels, name, len) : NULL;
    long i = ch ? subs_find(s, ch) : -1;
    return i < 0 ? NULL : &s->subs[i];
}

/* Grows an array of pointers by doubling; 0 or -1. */
static int
grow(void *arrp, uint32_t *cap, size_t elem)
{
    void **arr = arrp;
    uint32_t ncap = *cap ? *cap * 2 : 4;
    void *n = realloc(*arr, ncap * elem);
    if (!n)
        return -1;
    *arr = n;
    *cap = ncap;
    return 0;
}

skt_sub_t *
skt_ns_join(skt_ns_t *ns, skt_socket_t *s, const char *name, size_t len, uint32_t *count)
{
    skt_channel_t *known = skt_map_get(ns->channels, name, len);
    long at = known ? subs_find(s, known) : -1;
    skt_sub_t *existing = at < 0 ? NULL : &s->subs[at];
    if (existing) {
        *count = existing->ch->n;
        return existing;
    }
    if (s->nsubs == UINT16_MAX)
        return NULL;
    skt_channel_t *ch = skt_map_get(ns->channels, name, len);
    int created = 0;
    if (!ch) {
        ch = calloc(1, sizeof(*ch) + len + 1);
        if (!ch)
            return NULL;
        memcpy(ch->name, name, len);
        ch->name_len = len;
        if (len >= 9 && memcmp(name, "presence-", 9) == 0 && !(ch->members = skt_map_new())) {
            free(ch);
            return NULL;
        }
        if (skt_map_put(ns->channels, ch->name, len, ch) != 0) {
            skt_map_free(ch->members);
            free(ch);
            return NULL;
        }
        created = 1;
    }
    if ((ch->n == ch->cap && grow(&ch->socks, &ch->cap, sizeof(skt_socket_t *)) != 0) ||
        (s->nsubs == s->capsubs && subs_grow(s) != 0)) {
        if (created) {
            skt_map_del(ns->channels, ch->name, len);
            skt_map_free(ch->members);
            free(ch->socks);
            free(ch);
        }
        return NULL;
    }
    skt_sub_t *sub = &s->subs[s->nsubs];
    sub->ch = ch;
    sub->member = NULL;
    sub->idx = ch->n;
    subs_index_add(s, s->nsubs++);
    ch->socks[ch->n++] = s;
    *count = ch->n;
    return sub;
}

int
skt_ns_member_add(skt_sub_t *sub, const char *user_id, size_t id_len, int id_number,
                  const char *user_info)
{
    skt_channel_t *ch = sub->ch;
    if (!ch->members || sub->member)
        return 0;
    skt_member_t *m = skt_map_get(ch->members, user_id, id_len);
    if (m) {
        m->sockets++;
        sub->member = m;
        return 0;
    }
    m = calloc(1, sizeof(*m) + id_len + 1);
    if (!m)
        return -1;
    m->user_info = strdup(user_info ? user_info : "null");
    if (!m->user_info) {
        free(m);
        return -1;
    }
    memcpy(m->user_id, user_id, id_len);
    m->id_len = id_len;
    m->id_number = id_number != 0;
    m->sockets = 1;
    if (skt_map_put(ch->members, m->user_id, id_len, m) != 0) {
        free(m->user_info);
        free(m);
        return -1;
    }
    sub->member = m;
    return 1;
}

void
skt_ns_leave(skt_ns_t *ns, skt_socket_t *s, uint16_t i, uint32_t *count, char **gone_user,
             int *gone_number)
{
    skt_sub_t sub = s->subs[i];
    skt_channel_t *ch = sub.ch;
    *gone_user = NULL;

    /* Swap-remove from the channel and fix the moved socket's index. */
    skt_socket_t *moved = ch->socks[--ch->n];
    ch->socks[sub.idx] = moved;
    if (moved != s)
        moved->subs[subs_find(moved, ch)].idx = sub.idx;
    /* Swap-remove from the socket: the last subscription takes position i. */
    subs_index_del(s, ch);
    s->nsubs--;
    if (i != s->nsubs) {
        s->subs[i] = s->subs[s->nsubs];
        uint16_t *idx = subs_index(s);
        if (idx)
            idx[subs_index_slot(s, s->subs[i].ch)] = (uint16_t)(i + 1);
    }
    if (s->nsubs == 0) {
        free(s->subs);
        s->subs = NULL;
        s->capsubs = 0;
    }

    if (sub.member && --sub.member->sockets == 0) {
        skt_member_t *m = sub.member;
        skt_map_del(ch->members, m->user_id, m->id_len);
        *gone_user = strdup(m->user_id);
        if (gone_number)
            *gone_number = m->id_number;
        free(m->user_info);
        free(m);
    }
    *count = ch->n;
    if (ch->n == 0) {
        skt_map_del(ns->channels, ch->name, ch->name_len);
        skt_map_free(ch->members);
        free(ch->socks);
        free(ch);
    }
}

skt_user_t *
skt_ns_user(skt_ns_t *ns, const char *id, size_t len)
{
    return skt_map_get(ns->users, id, len);
}

int
skt_ns_add_user(skt_ns_t *ns, skt_socket_t *s)
{
    size_t len = strlen(s->user_id);
    skt_user_t *u = skt_map_get(ns->users, s->user_id, len);
    if (!u) {
        u = calloc(1, sizeof(*u) + len + 1);
        if (!u)
            return -1;
        memcpy(u->id, s->user_id, len);
        u->id_len = len;
        if (skt_map_put(ns->users, u->id, len, u) != 0) {
            free(u);
            return -1;
        }
    }
    for (uint32_t i = 0; i < u->n; i++)
        if (u->socks[i] == s)
            return 0;
    if (u->n == u->cap && grow(&u->socks, &u->cap, sizeof(skt_socket_t *)) != 0)
        return -1;
    u->socks[u->n++] = s;
    return 0;
}

void
skt_ns_remove_user(skt_ns_t *ns, skt_socket_t *s)
{
    if (!s->user_id)
        return;
    size_t len = strlen(s->user_id);
    skt_user_t *u = skt_map_get(ns->users, s->user_id, len);
    if (!u)
        return;
    for (uint32_t i = 0; i < u->n; i++) {
        if (u->socks[i] == s) {
            u->socks[i] = u->socks[--u->n];
            break;
        }
    }
    if (u->n == 0) {
        skt_map_del(ns->users, u->id, u->id_len);
        free(u->socks);
        free(u);
    }
}
