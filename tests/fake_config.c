/* fake_config.c - the configuration and the log of a fake daemon. See fake_config.h. */
#include "fake_config.h"

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct {
    char name[64];
    char value[512];
} config[FAKE_CONFIG_MAX];
static int n_config;

void
fake_config_set(const char *name, const char *value)
{
    int i = 0;
    while (i < n_config && strcmp(config[i].name, name) != 0)
        i++;
    ck_assert_int_lt(i, FAKE_CONFIG_MAX);
    snprintf(config[i].name, sizeof(config[i].name), "%s", name);
    snprintf(config[i].value, sizeof(config[i].value), "%s", value);
    if (i == n_config)
        n_config++;
}

void
fake_config_reset(void)
{
    n_config = 0;
}

const char *
fake_config_get(const char *name)
{
    for (int i = 0; i < n_config; i++)
        if (strcmp(config[i].name, name) == 0)
            return config[i].value;
    return NULL;
}

static char logged[1 << 18];
static size_t logged_len;

void
fake_log(int level, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (level <= 1 || getenv("CHECK_PLUGIN_DEBUG"))
        fprintf(stderr, "[%d] %s\n", level, line);
    logged_len += (size_t)snprintf(logged + logged_len, sizeof(logged) - logged_len, "%s\n", line);
    if (logged_len >= sizeof(logged))
        logged_len = sizeof(logged) - 1;
}

const char *
fake_logged(void)
{
    return logged;
}

size_t
fake_logged_len(void)
{
    return logged_len;
}

void
fake_log_reset(void)
{
    logged_len = 0;
    logged[0] = '\0';
}
