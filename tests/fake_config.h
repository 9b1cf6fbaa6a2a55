/* fake_config.h - the configuration and the log of a fake daemon, for the plugin tests
 * that load a real plugin into a test process (adapters: check_redis_live.c; app
 * managers: check_sql_live.c).
 *
 * DESIGN
 * One table of options, set by the test and read by the plugin through the host table's
 * config_get (fake_config_get has that signature), and one buffer holding every line the
 * plugin logged through the host's log (fake_log), so that a test can look for a message
 * or check that nothing more was logged. Both are process-wide (the fake daemons of one
 * process share them) and bounded: options past FAKE_CONFIG_MAX fail the test, log text
 * past the buffer is cut.
 */
#ifndef SKT_TESTS_FAKE_CONFIG_H
#define SKT_TESTS_FAKE_CONFIG_H

#include <stddef.h>

#define FAKE_CONFIG_MAX 64

/* Sets an option (a copy is kept) until fake_config_reset; name ≤ 63, value ≤ 511 bytes. */
void fake_config_set(const char *name, const char *value);
void fake_config_reset(void);
/* The option's value, NULL when it is not set: the host's config_get. */
const char *fake_config_get(const char *name);

/* The host's log: keeps the line; warnings and errors (level ≤ 1) also go to stderr, and
 * every line does when CHECK_PLUGIN_DEBUG is set. */
__attribute__((format(printf, 2, 3))) void fake_log(int level, const char *fmt, ...);
/* Every line logged since fake_log_reset (cut at 256 KB), and its length. */
const char *fake_logged(void);
size_t fake_logged_len(void);
void fake_log_reset(void);

#endif
