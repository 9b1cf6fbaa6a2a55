/* sql_pool.h - the connection pool both SQL app managers run on the daemon's event loop,
 * generic over a driver (libpq's or MariaDB Connector/C's non-blocking API).
 *
 * DESIGN
 * A driver is a table of non-blocking steps (skt_sql_driver_t): each start/continue call
 * answers what it waits for next (the socket readable, writable, a driver timer) or that it
 * is done or failed. The pool owns everything around them, so both plugins behave alike:
 *   - Connections: up to max_open, opened lazily when a lookup finds none idle; min_open
 *     are opened at start and kept: one dropped (closed by the server, broken, timed out)
 *     is opened again in the background, one round a second at most and none during a
 *     back-off. The host name is resolved with libevent's evdns first, so no
 *     connect ever resolves a name on the loop (libpq and Connector/C would, synchronously).
 *   - Lookups wait in FIFO order for an idle connection (the host bounds how many).
 *   - Deadlines: every lookup is answered within timeout_ms of find, wherever it waits; one
 *     that times out on a connection closes that connection (which ends a stuck query) and
 *     is answered SOKETI_ERROR. A connect that takes longer than timeout_ms fails.
 *   - A failed connect starts a 1 s back-off: lookups that would need a new connection are
 *     answered SOKETI_ERROR at once until it ends (then the next lookup tries again).
 *   - A pooled connection the server closed is dropped when its socket turns readable while
 *     idle; a query that fails because its (reused) connection broke is retried once on a
 *     fresh connection, so a database restart costs no lookup.
 *   - Errors are logged at most once a second, with the database's message.
 * Callbacks (the host's) are called after the pool's state is consistent; they may call
 * skt_sql_pool_find again. skt_sql_pool_free calls none.
 */
#ifndef SKT_PLUGINS_SQL_POOL_H
#define SKT_PLUGINS_SQL_POOL_H

#include <soketi/app_manager.h>
#include <stddef.h>

#include "sql_row.h"

struct event_base;

/* What a driver step answers: a mask of what to wait for (> 0), done, or failed. */
enum {
    SKT_SQL_DONE = 0,
    SKT_SQL_WAIT_READ = 1,    /* continue when the socket is readable */
    SKT_SQL_WAIT_WRITE = 2,   /* ... writable */
    SKT_SQL_WAIT_TIMEOUT = 8, /* ... or after driver->wait_ms (Connector/C's own timers) */
    SKT_SQL_FAIL = -1,        /* the connection is unusable (lost, refused, ...) */
    SKT_SQL_FAIL_QUERY = -2,  /* the statement failed (a bad table...); the connection is fine */
};

/* The connection settings, read from the daemon's options (skt_sql_settings_load). */
typedef struct skt_sql_settings_s {
    char *host, *user, *password, *database; /* database.<driver>.* */
    long port;
    char *table;     /* appManager.<driver>.table, quoted for the driver */
    long timeout_ms; /* appManager.timeout */
    int min_open;    /* connections kept open (from start; reopened when dropped) */
    int max_open;    /* connections at most */
} skt_sql_settings_t;

/* One database client library, as the pool drives it. `db` is the driver's connection
 * object. Every step returns an SKT_SQL_* value; none blocks. */
typedef struct skt_sql_driver_s {
    const char *name;      /* "mysql" or "postgres": the options' middle part, and logs */
    skt_sql_quote_t quote; /* how its identifiers are quoted */
    /* Allocates a connection for s and starts connecting to addr (a numeric address, or
     * the host itself when it is a Unix socket directory). NULL: out of memory. *step: the
     * first step's answer. */
    void *(*connect_start)(const skt_sql_settings_t *s, const char *addr, int *step);
    /* ready: the SKT_SQL_WAIT_* bits that happened. */
    int (*connect_cont)(void *db, int ready);
    /* Sends the lookup by (enum soketi_app_by) value (len bytes, copied or sent before
     * returning), parameterised. */
    int (*query_start)(void *db, int by, const char *value, size_t len);
    int (*query_cont)(void *db, int ready);
    /* Once a query is done: writes its first row into r and answers 1, or 0 for none; the
     * driver then forgets the result. -1: the row could not be read (error says why). */
    int (*row)(void *db, skt_sql_row_t *r);
    /* While idle, the socket turned readable: 0 when the connection is still fine (a
     * notice was read), -1 when it is gone. NULL: readable while idle means gone. */
    int (*idle_read)(void *db);
    int (*fd)(void *db);
    /* After SKT_SQL_WAIT_TIMEOUT: in how many ms to continue. */
    long (*wait_ms)(void *db);
    /* The last failure's message (the database's), never NULL. */
    const char *(*error)(void *db);
    /* Closes and frees db (broken: the connection failed or is being abandoned mid-query;
     * nothing more is sent on it). */
    void (*close)(void *db, int broken);
} skt_sql_driver_t;

typedef void (*skt_sql_log_fn)(int level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Reads drv's settings through host->config_get into s (freed with skt_sql_settings_clear).
 * Returns 0, or -1 (logged) on a bad value or out of memory. */
int skt_sql_settings_load(const soketi_app_manager_host_t *host, const skt_sql_driver_t *drv,
                          skt_sql_settings_t *s);
void skt_sql_settings_clear(skt_sql_settings_t *s);

typedef struct skt_sql_pool_s skt_sql_pool_t;

/* A pool on base for drv and s (both kept: they outlive the pool), logging through log.
 * Starts opening s->min_open connections, and keeps that many. NULL: out of memory. */
skt_sql_pool_t *skt_sql_pool_new(struct event_base *base, const skt_sql_driver_t *drv,
                                 const skt_sql_settings_t *s, skt_sql_log_fn log);

/* app_manager.h's find: answers cb exactly once, now or from the loop. */
void skt_sql_pool_find(skt_sql_pool_t *p, int by, const char *value, size_t len,
                       soketi_app_row_cb cb, void *arg);

/* Closes every connection and frees the pool; calls no pending callback. */
void skt_sql_pool_free(skt_sql_pool_t *p);

/* The three app_manager.h entry points over a driver: what each plugin's exported
 * soketi_app_manager_* calls (sql_am.c). */
int skt_sql_am_version(int count, const int *supported);
int skt_sql_am_init(const soketi_app_manager_host_t *host, soketi_app_manager_t *am,
                    const skt_sql_driver_t *drv);
void skt_sql_am_cleanup(soketi_app_manager_t *am);

/* Defines a plugin's three exported symbols over the driver table drv. */
#define SKT_SQL_AM_PLUGIN(drv)                                                                     \
    int soketi_app_manager_version(int count, const int *supported)                                \
    {                                                                                              \
        return skt_sql_am_version(count, supported);                                               \
    }                                                                                              \
    int soketi_app_manager_init(const soketi_app_manager_host_t *host, soketi_app_manager_t *am)   \
    {                                                                                              \
        return skt_sql_am_init(host, am, &(drv));                                                  \
    }                                                                                              \
    void soketi_app_manager_cleanup(soketi_app_manager_t *am)                                      \
    {                                                                                              \
        skt_sql_am_cleanup(am);                                                                    \
    }

#endif
