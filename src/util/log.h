/* log.h - the daemon's one logger: levels, human or JSON lines, on stderr.
 *
 * Everything logs through skt_log(); nothing else writes to stderr. Plugins get
 * the same function through the host table.
 */
#ifndef SKT_UTIL_LOG_H
#define SKT_UTIL_LOG_H

#include <stdarg.h>

typedef enum skt_log_level_e {
    SKT_LOG_ERROR = 0,
    SKT_LOG_WARN = 1,
    SKT_LOG_INFO = 2,
    SKT_LOG_DEBUG = 3,
} skt_log_level_t;

/* Messages above this level are dropped. Default SKT_LOG_INFO. */
void skt_log_set_level(skt_log_level_t level);
skt_log_level_t skt_log_get_level(void);

/* Non-zero: one JSON object per line ({"ts":..,"level":..,"msg":..}). */
void skt_log_set_json(int on);

/* Names who speaks on every line from now on ("worker 2", "supervisor"; at most 31
 * bytes, plain text): text lines say "who: message", JSON lines carry "source". NULL or
 * "": nobody (one process, the default). */
void skt_log_set_source(const char *who);

/* Writes one line. Never fails; a message longer than 4 KiB is cut. */
void skt_log(skt_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void skt_logv(skt_log_level_t level, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

#define skt_log_enabled(level) ((level) <= skt_log_get_level())

#endif
