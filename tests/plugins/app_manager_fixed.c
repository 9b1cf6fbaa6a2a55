/* app_manager_fixed.c - test app manager with one fixed app: find answers at once, by id
 * "fixed-id" or key "fixed-key", with its row; the value "error" with SOKETI_ERROR; anything
 * else with no row. FIXED_ABI (default 1) is the one version it speaks, so the loader tests
 * can build a plugin for a future ABI from this file (app_manager_newer.c). */
#include <soketi/app_manager.h>
#include <string.h>

#ifndef FIXED_ABI
#define FIXED_ABI 1
#endif

static const char row[] = "{\"id\":\"fixed-id\",\"key\":\"fixed-key\",\"secret\":\"fixed-secret\","
                          "\"max_connections\":3,\"enabled\":1,\"updated_at\":\"2026-12-05\"}";

static int
is(const char *v, size_t len, const char *lit)
{
    return len == strlen(lit) && memcmp(v, lit, len) == 0;
}

static void
fixed_find(void *self, int by, const char *value, size_t len, soketi_app_row_cb cb, void *arg)
{
    (void)self;
    if (is(value, len, "error"))
        cb(arg, SOKETI_ERROR, NULL, 0);
    else if (is(value, len, by == SOKETI_APP_BY_ID ? "fixed-id" : "fixed-key"))
        cb(arg, SOKETI_OK, row, sizeof(row) - 1);
    else
        cb(arg, SOKETI_OK, NULL, 0);
}

int
soketi_app_manager_version(int count, const int *supported)
{
    for (int i = 0; i < count; i++)
        if (supported[i] == FIXED_ABI)
            return FIXED_ABI;
    return -1;
}

int
soketi_app_manager_init(const soketi_app_manager_host_t *host, soketi_app_manager_t *am)
{
    host->log(SOKETI_LOG_INFO, "fixed init abi=%d table=%s", host->abi_version,
              host->config_get("appManager.mysql.table"));
    am->self = NULL;
    am->ops_size = sizeof(am->ops);
    am->ops.find = fixed_find;
    return 0;
}

void
soketi_app_manager_cleanup(soketi_app_manager_t *am)
{
    (void)am;
}
