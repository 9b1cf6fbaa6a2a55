/* sql_am.c - what both SQL app manager plugins do alike: their options, and the three
 * entry points of soketi/app_manager.h over a driver (sql_pool.h).
 *
 * Pool size, as soketi's knex: with databasePooling.enabled, databasePooling.min connections
 * are opened at start and kept open (one dropped is opened again in the background), and
 * up to databasePooling.max (at least 1) as lookups need them;
 * disabled, up to 10 are opened as needed (knex's default pool: min 2, max 10; the two
 * that knex opens at once are opened here on demand too, since nothing needs them before).
 */
#include "sql_pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SKT_SQL_DEFAULT_MAX 10 /* knex's pool max */

typedef struct sql_am_s {
    skt_sql_settings_t s;
    skt_sql_pool_t *pool;
} sql_am_t;

/* The text of option <group>.<driver>.<name> ("" when the host does not know it); group
 * alone when driver is NULL. */
static const char *
opt(const soketi_app_manager_host_t *host, const char *group, const char *driver, const char *name)
{
    char full[128];
    snprintf(full, sizeof(full), "%s%s%s%s%s", group, driver ? "." : "", driver ? driver : "",
             name ? "." : "", name ? name : "");
    const char *v = host->config_get(full);
    return v ? v : "";
}

/* A copy of database.<driver>.<name>; sets *oom when out of memory. */
static char *
opt_dup(const soketi_app_manager_host_t *host, const char *driver, const char *name, int *oom)
{
    char *v = strdup(opt(host, "database", driver, name));
    *oom |= !v;
    return v;
}

static long
opt_long(const soketi_app_manager_host_t *host, const char *name, long dflt)
{
    const char *v = opt(host, name, NULL, NULL);
    char *end;
    long n = strtol(v, &end, 10);
    return *v && !*end ? n : dflt;
}

int
skt_sql_settings_load(const soketi_app_manager_host_t *host, const skt_sql_driver_t *drv,
                      skt_sql_settings_t *s)
{
    int oom = 0;
    const char *d = drv->name;
    memset(s, 0, sizeof(*s));
    s->host = opt_dup(host, d, "host", &oom);
    s->user = opt_dup(host, d, "user", &oom);
    s->password = opt_dup(host, d, "password", &oom);
    s->database = opt_dup(host, d, "database", &oom);
    s->port = strtol(opt(host, "database", d, "port"), NULL, 10);
    s->table = skt_sql_quote_table(drv->quote, opt(host, "appManager", d, "table"));
    s->timeout_ms = opt_long(host, "appManager.timeout", 5000);
    if (s->timeout_ms < 1)
        s->timeout_ms = 1;
    if (strcmp(opt(host, "databasePooling.enabled", NULL, NULL), "true") == 0) {
        s->max_open = (int)opt_long(host, "databasePooling.max", 7);
        s->max_open = s->max_open < 1 ? 1 : s->max_open;
        s->min_open = (int)opt_long(host, "databasePooling.min", 0);
        s->min_open = s->min_open < 0 ? 0 : s->min_open > s->max_open ? s->max_open : s->min_open;
    } else {
        s->max_open = SKT_SQL_DEFAULT_MAX;
    }
    if (oom || !s->table || !s->host[0]) {
        host->log(SOKETI_LOG_ERROR, "%s app manager: %s", d,
                  oom           ? "out of memory"
                  : !s->host[0] ? "database host is empty"
                                : "the apps table name is empty");
        skt_sql_settings_clear(s);
        return -1;
    }
    return 0;
}

void
skt_sql_settings_clear(skt_sql_settings_t *s)
{
    free(s->host);
    free(s->user);
    free(s->password);
    free(s->database);
    free(s->table);
    memset(s, 0, sizeof(*s));
}

int
skt_sql_am_version(int count, const int *supported)
{
    for (int i = 0; i < count; i++)
        if (supported[i] == SOKETI_APP_MANAGER_ABI_VERSION)
            return SOKETI_APP_MANAGER_ABI_VERSION;
    return -1;
}

static void
am_find(void *self, int by, const char *value, size_t len, soketi_app_row_cb cb, void *arg)
{
    sql_am_t *am = self;
    skt_sql_pool_find(am->pool, by, value, len, cb, arg);
}

int
skt_sql_am_init(const soketi_app_manager_host_t *host, soketi_app_manager_t *am,
                const skt_sql_driver_t *drv)
{
    if (!host || host->size < offsetof(soketi_app_manager_host_t, reserved) || !host->base ||
        !host->config_get || !host->log ||
        am->size < offsetof(soketi_app_manager_t, ops) + sizeof(am->ops.find))
        return -1;
    sql_am_t *a = calloc(1, sizeof(*a));
    if (!a) {
        host->log(SOKETI_LOG_ERROR, "%s app manager: out of memory", drv->name);
        return -1;
    }
    if (skt_sql_settings_load(host, drv, &a->s) != 0) {
        free(a);
        return -1;
    }
    a->pool = skt_sql_pool_new(host->base, drv, &a->s, host->log);
    if (!a->pool) {
        host->log(SOKETI_LOG_ERROR, "%s app manager: out of memory", drv->name);
        skt_sql_settings_clear(&a->s);
        free(a);
        return -1;
    }
    host->log(SOKETI_LOG_INFO,
              "%s app manager: apps from table %s at %s:%ld, database %s, up to %d connections "
              "(%d opened at start), %ld ms per lookup",
              drv->name, a->s.table, a->s.host, a->s.port, a->s.database, a->s.max_open,
              a->s.min_open, a->s.timeout_ms);
    am->self = a;
    am->ops_size = sizeof(soketi_app_manager_ops_t);
    size_t room = am->size - offsetof(soketi_app_manager_t, ops);
    soketi_app_manager_ops_t ops = {.find = am_find};
    memcpy(&am->ops, &ops, room < sizeof(ops) ? room : sizeof(ops));
    if (room < sizeof(ops))
        am->ops_size = room;
    return 0;
}

void
skt_sql_am_cleanup(soketi_app_manager_t *am)
{
    sql_am_t *a = am ? am->self : NULL;
    if (!a)
        return;
    skt_sql_pool_free(a->pool);
    skt_sql_settings_clear(&a->s);
    free(a);
    am->self = NULL;
}
