/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 the soketi-c authors (LICENSE). */
/* soketi/app_manager.h - the public plugin ABI of soketi-c app managers.
 *
 * An app manager plugin is a shared object (app_manager_<driver>.so) that the daemon loads
 * from its plugin directory when `appManager.driver` (SOKETI_APP_MANAGER_DRIVER) names it
 * (soketi's "mysql" and "postgres" ship as the soketi-mysql and soketi-postgres packages, so
 * that a host without a database pulls in no client library). It finds apps by id or by key
 * in some store, one row at a time; the daemon does everything else: it checks the row as it
 * checks a configured app, caches it for appManager.cache.ttl (soketi's semantics), coalesces
 * identical lookups, bounds how many wait and for how long, and answers the client.
 *
 * LIFECYCLE (all three symbols are required, looked up by name with dlsym), as adapters:
 *   1. int soketi_app_manager_version(int count, const int *supported);
 *      The host offers the ABI versions it speaks (newest first); the plugin returns the
 *      one it implements, or -1.
 *   2. int soketi_app_manager_init(const soketi_app_manager_host_t *host,
 *                                  soketi_app_manager_t *am);
 *      Called once, on the event loop's thread, before any client connects. The plugin
 *      fills am->self, am->ops_size and am->ops (never writing past am->size) and may keep
 *      host: it stays valid until cleanup returns. It must not block: connecting to the
 *      database happens on the loop, later (or starts here without waiting). Returns 0, or
 *      non-zero to refuse to start (log why through host->log; free what init allocated:
 *      cleanup is then not called).
 *   3. void soketi_app_manager_cleanup(soketi_app_manager_t *am);
 *      Called once at shutdown. The plugin frees everything and calls no pending callback
 *      (the host has dropped what waited on them).
 *
 * THREADING: everything happens on the daemon's event loop thread (host->base, libevent
 * 2.1). A plugin registers its sockets and timers there and never blocks: no synchronous
 * connect, query or DNS lookup on the loop.
 *
 * CALLBACKS: find's callback is called exactly once, before find returns or later from the
 * event loop. The row handed to it belongs to the plugin and is valid only while the
 * callback runs.
 *
 * VERSIONING: as include/soketi/adapter.h. SOKETI_APP_MANAGER_ABI_VERSION grows by one when
 * a change would break a plugin built against the previous header. New host fields and new
 * ops take the `reserved` slots (marked optional: NULL in an older host or plugin), then
 * grow the structs at their end; each struct carries its size, the host calls only ops
 * within the plugin's ops_size and the plugin reads only host fields within host->size.
 *
 * The log levels (enum soketi_log_level) and statuses (enum soketi_status) are
 * soketi/adapter.h's.
 */
#ifndef SOKETI_APP_MANAGER_H
#define SOKETI_APP_MANAGER_H

#include <stddef.h>

#include <soketi/adapter.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The newest app manager ABI version this header describes. */
#define SOKETI_APP_MANAGER_ABI_VERSION 1

/** What find looks an app up by. */
enum soketi_app_by {
    SOKETI_APP_BY_ID = 0,  /**< the app id (soketi's findById: REST routes) */
    SOKETI_APP_BY_KEY = 1, /**< the app key (soketi's findByKey: WebSocket connections) */
};

/**
 * find's answer.
 * status SOKETI_OK, row set: the app's row as a JSON object text of len bytes (not
 *   NUL-terminated), one member per column, named as the column: an SQL NULL is null, an
 *   integer, decimal or floating column a JSON number, a boolean true/false, a JSON column
 *   the JSON value (or the text the database returned for it), anything else a string. The
 *   host reads soketi's column names (soketi's App: "id", "key", "secret",
 *   "max_connections", "enable_client_messages", "webhooks", ...), accepts every alias
 *   soketi's App accepts, treats null and "" as absent (the default applies), parses a
 *   webhooks string as JSON and ignores columns it does not know.
 * status SOKETI_OK, row NULL: the store has no such app.
 * status SOKETI_ERROR: the store could not answer (unreachable, too slow, a bad table);
 *   the plugin logs why (at most a line a second) and the host answers as for an unknown
 *   app without caching anything.
 */
typedef void (*soketi_app_row_cb)(void *arg, int status, const char *row, size_t len);

/**
 * What the daemon offers an app manager. Read-only for the plugin; read a field only when
 * it lies within `size`.
 */
typedef struct soketi_app_manager_host_s {
    size_t size;             /**< sizeof(soketi_app_manager_host_t) as the daemon was built */
    int abi_version;         /**< the version negotiated with this plugin */
    struct event_base *base; /**< the daemon's event loop (libevent 2.1) */
    const char *node_id;     /**< unique id of this daemon process */

    /** Value of any configuration option by its dotted soketi name, e.g.
     * "database.mysql.host", "appManager.mysql.table", "databasePooling.max" or
     * "appManager.timeout", as text (lists and objects as JSON). NULL for an unknown name.
     * The string is the host's, valid until cleanup. */
    const char *(*config_get)(const char *dotted_name);

    /** printf-style logging into the daemon's log. */
    void (*log)(int level, const char *fmt, ...)
#if defined(__GNUC__)
        __attribute__((format(printf, 2, 3)))
#endif
        ;

    void *reserved[6]; /**< room to grow; always NULL */
} soketi_app_manager_host_t;

/** What an app manager implements. find is required. */
typedef struct soketi_app_manager_ops_s {
    /** Looks up the app whose id (by SOKETI_APP_BY_ID) or key (SOKETI_APP_BY_KEY) is value
     * (len bytes, not NUL-terminated, valid only during the call: copy it) and answers cb
     * (soketi_app_row_cb) exactly once. Only parameterised queries: value is never part of
     * a statement's text. The plugin answers within the host's "appManager.timeout"
     * milliseconds (config_get), ending whatever it waited on past it with SOKETI_ERROR, so
     * that a stalled store holds nothing for long. The host coalesces identical lookups
     * and bounds how many it makes at once ("appManager.maxPendingLookups"). */
    void (*find)(void *self, int by, const char *value, size_t len, soketi_app_row_cb cb,
                 void *arg);

    void *reserved[7]; /**< room to grow; the plugin leaves them NULL */
} soketi_app_manager_ops_t;

/** The app manager instance the host allocates and the plugin fills in init. */
typedef struct soketi_app_manager_s {
    size_t size;                  /**< sizeof(soketi_app_manager_t) as the host was built */
    void *self;                   /**< the plugin's state, passed back to every op */
    size_t ops_size;              /**< the plugin sets sizeof(soketi_app_manager_ops_t) */
    soketi_app_manager_ops_t ops; /**< the plugin fills these */
} soketi_app_manager_t;

/* The three symbols every app manager plugin exports. */
typedef int (*soketi_app_manager_version_fn)(int count, const int *supported);
typedef int (*soketi_app_manager_init_fn)(const soketi_app_manager_host_t *host,
                                          soketi_app_manager_t *am);
typedef void (*soketi_app_manager_cleanup_fn)(soketi_app_manager_t *am);

int soketi_app_manager_version(int count, const int *supported);
int soketi_app_manager_init(const soketi_app_manager_host_t *host, soketi_app_manager_t *am);
void soketi_app_manager_cleanup(soketi_app_manager_t *am);

#ifdef __cplusplus
}
#endif

#endif /* SOKETI_APP_MANAGER_H */
