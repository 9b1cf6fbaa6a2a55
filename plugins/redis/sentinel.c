/* sentinel.c - follows the master of a Redis Sentinel group. See sentinel.h.
 *
 * DESIGN
 * Both connections are conn.c's, so connecting, AUTH, retries and their backoff are not
 * repeated here; this file only points them at the next sentinel when they fail (on_lost
 * runs before conn.c's next attempt, which then goes to the address set by then).
 * A sentinel that answers but does not help (does not know the master, refuses, answers
 * garbage) is dropped like a failure; since conn.c's backoff restarts at every READY,
 * the follower adds its own pause, doubling to SKT_RCONN_BACKOFF_MAX_MS, once a whole
 * round of sentinels answered nothing useful, so that a wrong database.redis.name costs a
 * question every few seconds, not ten a second.
 * What may free or restart connections (the owner's on_master, moving the watch
 * connection) runs from the `kick` zero timer, never from inside hiredis's callbacks.
 */
#include "sentinel.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"

enum { RSEN_QUERY = 0, RSEN_WATCH = 1 };

static const char *const rsen_roles[] = {"sentinel query", "sentinel watch"};
static const char rsen_switch_channel[] = "+switch-master";

struct skt_rsen_s {
    skt_rsen_opts_t o; /* sentinels, name and password point at the copies below */
    skt_rsen_addr_t sentinels[SKT_RSEN_MAX_SENTINELS];
    char *name;
    char *password;
    char *channel; /* rsen_switch_channel, as conn.c's channel list wants it */
    size_t channel_len;
    skt_rconn_t *conn[2]; /* by RSEN_QUERY, RSEN_WATCH */
    int at[2];            /* the sentinel each connection uses */
    int asking;           /* a question is in flight */
    int again;            /* ask once more when it is answered (or when the query is up) */
    int misses;           /* useless answers since the last useful one */
    unsigned pause_ms;    /* the follower's own pause after a round of misses */
    skt_rsen_addr_t master;
    int known;
    skt_rsen_addr_t told; /* what on_master was last called with */
    int told_any;
    struct event *kick;
};

#define rsen_log(s, level, fmt, ...)                                                               \
    (s)->o.host->log((level), "%s: " fmt, (s)->o.log_name, ##__VA_ARGS__)

static void
rsen_schedule(skt_rsen_t *s)
{
    struct timeval now = {0, 0};
    evtimer_add(s->kick, &now);
}

/* An address the sentinels gave (from names where it came from). */
static void
rsen_found(skt_rsen_t *s, const skt_rsen_addr_t *addr, const char *from)
{
    s->misses = 0;
    s->pause_ms = SKT_RCONN_BACKOFF_MIN_MS;
    if (s->known && s->master.port == addr->port && strcmp(s->master.host, addr->host) == 0)
        return;
    if (s->known)
        rsen_log(s, SOKETI_LOG_INFO, "%s: master %s moved from %s:%ld to %s:%ld", from, s->name,
                 s->master.host, s->master.port, addr->host, addr->port);
    else
        rsen_log(s, SOKETI_LOG_INFO, "%s: master %s is at %s:%ld", from, s->name, addr->host,
                 addr->port);
    s->master = *addr;
    s->known = 1;
    rsen_schedule(s);
}

/* ---- the query connection ------------------------------------------------------------ */

static void rsen_ask(skt_rsen_t *s);

static void
rsen_on_answer(redisAsyncContext *ac, void *reply, void *priv)
{
    skt_rsen_t *s = priv;
    skt_rconn_t *q = s->conn[RSEN_QUERY];
    skt_rsen_addr_t addr;
    char from[SKT_RSEN_HOST_MAX + 32], why[SKT_RSEN_HOST_MAX + 96];
    (void)ac;
    s->asking = 0;
    if (!reply) { /* the connection went away: ask the next sentinel once it is up */
        s->again = 1;
        return;
    }
    int rv = skt_rsen_parse_master_reply(reply, &addr);
    if (rv == SKT_RSEN_FOUND) {
        snprintf(from, sizeof(from), "sentinel %s:%ld", skt_rconn_host(q), skt_rconn_port(q));
        rsen_found(s, &addr, from);
        if (s->again)
            rsen_ask(s);
        return;
    }
    if (rv == SKT_RSEN_UNKNOWN)
        snprintf(why, sizeof(why), "it does not know a master called \"%s\"", s->name);
    else if (rv == SKT_RSEN_REFUSED)
        snprintf(why, sizeof(why), "SENTINEL get-master-addr-by-name refused: %.200s",
                 ((redisReply *)reply)->str);
    else
        snprintf(why, sizeof(why), "SENTINEL get-master-addr-by-name: a malformed answer");
    s->misses++;
    s->again = 1;
    skt_rconn_drop(q, why); /* on_lost moves it to the next sentinel */
}

/* Asks the query connection's sentinel where the master is, unless a question is in
 * flight already (then once more after it); when the connection is not up, its on_ready
 * asks. */
static void
rsen_ask(skt_rsen_t *s)
{
    skt_rconn_t *q = s->conn[RSEN_QUERY];
    s->again = 1;
    if (s->asking || !skt_rconn_usable(q))
        return;
    const char *argv[] = {"SENTINEL", "get-master-addr-by-name", s->name};
    size_t lens[] = {8, 23, strlen(s->name)};
    if (skt_rconn_command_argv(q, rsen_on_answer, s, 3, argv, lens) != 0)
        return;
    s->asking = 1;
    s->again = 0;
}

/* ---- connection events -------------------------------------------------------------- */

static void
rsen_on_ready(void *owner, skt_rconn_t *c)
{
    skt_rsen_t *s = owner;
    if (c == s->conn[RSEN_QUERY])
        rsen_schedule(s); /* the watch connection may follow it */
    /* a new query sentinel, or a watch that may have missed a switch: ask */
    rsen_ask(s);
}

static void
rsen_on_lost(void *owner, skt_rconn_t *c, int was_ready)
{
    skt_rsen_t *s = owner;
    int w = c == s->conn[RSEN_WATCH] ? RSEN_WATCH : RSEN_QUERY;
    (void)was_ready;
    s->at[w] = (s->at[w] + 1) % s->o.n_sentinels;
    const skt_rsen_addr_t *next = &s->sentinels[s->at[w]];
    (void)skt_rconn_set_address(c, next->host, next->port); /* out of memory: the same one */
    if (w == RSEN_QUERY && s->misses >= s->o.n_sentinels) {
        if (s->misses == s->o.n_sentinels)
            rsen_log(s, SOKETI_LOG_WARN,
                     "none of the %d sentinels named the master %s; asking again every %u ms "
                     "at most",
                     s->o.n_sentinels, s->name, SKT_RCONN_BACKOFF_MAX_MS);
        skt_rconn_delay(c, s->pause_ms);
        s->pause_ms =
            s->pause_ms * 2 > SKT_RCONN_BACKOFF_MAX_MS ? SKT_RCONN_BACKOFF_MAX_MS : s->pause_ms * 2;
    }
}

static void
rsen_on_message(void *owner, int channel, const char *data, size_t len)
{
    skt_rsen_t *s = owner;
    skt_rconn_t *w = s->conn[RSEN_WATCH];
    skt_rsen_addr_t addr;
    char from[SKT_RSEN_HOST_MAX + 48];
    (void)channel; /* the only one */
    int rv = skt_rsen_parse_switch(data, len, s->name, &addr);
    if (rv < 0) {
        rsen_log(s, SOKETI_LOG_DEBUG, "sentinel %s:%ld: a malformed +switch-master ignored",
                 skt_rconn_host(w), skt_rconn_port(w));
        return;
    }
    if (rv == 0)
        return; /* another master */
    snprintf(from, sizeof(from), "+switch-master from sentinel %s:%ld", skt_rconn_host(w),
             skt_rconn_port(w));
    rsen_found(s, &addr, from);
}

/* The deferred work: the watch connection joins the query's sentinel while it has none
 * of its own, and the owner hears of a new master. */
static void
rsen_on_kick(evutil_socket_t fd, short what, void *arg)
{
    skt_rsen_t *s = arg;
    skt_rconn_t *q = s->conn[RSEN_QUERY], *w = s->conn[RSEN_WATCH];
    (void)fd;
    (void)what;
    if (skt_rconn_state(q) == SKT_RCONN_READY && skt_rconn_state(w) == SKT_RCONN_IDLE &&
        s->at[RSEN_WATCH] != s->at[RSEN_QUERY]) {
        const skt_rsen_addr_t *a = &s->sentinels[s->at[RSEN_QUERY]];
        if (skt_rconn_set_address(w, a->host, a->port) == 0) {
            s->at[RSEN_WATCH] = s->at[RSEN_QUERY];
            skt_rconn_start(w);
        }
    }
    if (s->known && (!s->told_any || s->told.port != s->master.port ||
                     strcmp(s->told.host, s->master.host) != 0)) {
        s->told = s->master;
        s->told_any = 1;
        s->o.on_master(s->o.owner, s->told.host, s->told.port);
    }
}

/* ---- the public functions ------------------------------------------------------------ */

skt_rsen_t *
skt_rsen_new(const skt_rsen_opts_t *opts)
{
    if (opts->n_sentinels < 1 || opts->n_sentinels > SKT_RSEN_MAX_SENTINELS)
        return NULL;
    skt_rsen_t *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->o = *opts;
    memcpy(s->sentinels, opts->sentinels, sizeof(*s->sentinels) * (size_t)opts->n_sentinels);
    s->o.sentinels = s->sentinels;
    s->name = strdup(opts->name);
    s->password = opts->password && *opts->password ? strdup(opts->password) : NULL;
    s->channel = strdup(rsen_switch_channel);
    s->channel_len = sizeof(rsen_switch_channel) - 1;
    s->pause_ms = SKT_RCONN_BACKOFF_MIN_MS;
    s->kick = evtimer_new(opts->host->base, rsen_on_kick, s);
    if (!s->name || !s->channel || !s->kick || (opts->password && *opts->password && !s->password))
        goto fail;
    s->o.name = s->name;
    s->o.password = s->password;
    skt_rconn_endpoint_t ep = {
        .host = s->sentinels[0].host, .port = s->sentinels[0].port, .password = s->password};
    for (int i = 0; i < 2; i++) {
        skt_rconn_opts_t co = {
            .host = opts->host,
            .log_name = opts->log_name,
            .role = rsen_roles[i],
            .down_hint = "trying the next sentinel",
            .lost_hint = "trying the next sentinel",
            .channels = i == RSEN_WATCH ? &s->channel : NULL,
            .channel_lens = i == RSEN_WATCH ? &s->channel_len : NULL,
            .n_channels = i == RSEN_WATCH ? 1 : 0,
            .owner = s,
            .on_ready = rsen_on_ready,
            .on_lost = rsen_on_lost,
            .on_message = rsen_on_message,
        };
        if (!(s->conn[i] = skt_rconn_new(&co, &ep)))
            goto fail;
    }
    return s;
fail:
    skt_rsen_free(s);
    return NULL;
}

void
skt_rsen_start(skt_rsen_t *s)
{
    rsen_log(s, SOKETI_LOG_INFO, "asking %d sentinel(s) for master %s, first %s:%ld",
             s->o.n_sentinels, s->name, s->sentinels[0].host, s->sentinels[0].port);
    skt_rconn_start(s->conn[RSEN_QUERY]);
    skt_rconn_start(s->conn[RSEN_WATCH]);
}

void
skt_rsen_suspect(skt_rsen_t *s)
{
    rsen_ask(s);
}

void
skt_rsen_free(skt_rsen_t *s)
{
    if (!s)
        return;
    /* a pending question is answered NULL while its connection is freed: s is still here */
    for (int i = 0; i < 2; i++)
        skt_rconn_free(s->conn[i]);
    if (s->kick)
        event_free(s->kick);
    free(s->name);
    free(s->password);
    free(s->channel);
    free(s);
}
