/* fuzz_config.c - libFuzzer targets: the configuration readers (src/config/config.h).
 *
 * One source, three targets, chosen at build time:
 *   FZ_CONFIG_INI   the input is an INI file (skt_config_sources_t.ini_text);
 *   FZ_CONFIG_JSON  the input is a soketi JSON file (json_text);
 *   FZ_CONFIG_ENV   the input is an environment, one "NAME=value" per line (environ).
 * Every load either succeeds, and then every option has its text, or fails with a one-line
 * message that fits err; nothing leaks either way.
 */
#include "fuzz.h"

#include <jansson.h>

#include "config/config.h"
#include "config/options.h"
#include "util/log.h"

/* At most this many variables in an environment input. */
#define FZ_ENV_MAX 256

/* Quiet: unknown SOKETI_* variables are warned about on every run. */
FZ_INITIALIZE(skt_log_set_level(SKT_LOG_ERROR); json_object_seed(1))

/* Loads src and checks what the loader promises. */
static void
load(const skt_config_sources_t *src)
{
    skt_config_t *cfg = (skt_config_t *)src;
    char err[512];

    memset(err, 'x', sizeof(err));
    int rc = skt_config_load(src, &cfg, err, sizeof(err));
    if (rc < 0) {
        FZ_CHECK(rc == -1 && cfg == NULL);
        FZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL && err[0] != '\0');
        return;
    }
    FZ_CHECK(rc == 0 && cfg != NULL && cfg->apps != NULL);
    for (size_t i = 0; i < skt_options_count; i++)
        FZ_CHECK(skt_config_get_text(cfg, skt_options[i].name) != NULL);
    skt_config_free(cfg);
}

#ifdef FZ_CONFIG_ENV
/* The input's lines as a NULL-terminated list of strings (cut at NUL bytes). */
static void
load_env(const uint8_t *data, size_t size)
{
    char *env[FZ_ENV_MAX + 1];
    size_t n = 0;
    fz_in_t in = {data, size};

    while (in.n && n < FZ_ENV_MAX)
        env[n++] = fz_field_cstr(&in);
    env[n] = NULL;
    skt_config_sources_t src = {.environ = env};
    load(&src);
    for (size_t i = 0; i < n; i++)
        free(env[i]);
}
#endif

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
#if defined(FZ_CONFIG_INI)
    char *text = fz_copy(data, size);
    skt_config_sources_t src = {.ini_text = text, .ini_len = size};
    load(&src);
    free(text);
#elif defined(FZ_CONFIG_JSON)
    char *text = fz_copy(data, size);
    skt_config_sources_t src = {.json_path = "fuzz.json", .json_text = text, .json_len = size};
    load(&src);
    free(text);
#elif defined(FZ_CONFIG_ENV)
    load_env(data, size);
#else
#error "define FZ_CONFIG_INI, FZ_CONFIG_JSON or FZ_CONFIG_ENV"
#endif
    return 0;
}
