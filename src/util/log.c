/* log.c - the daemon's one logger: levels, human or JSON lines, on stderr. */
#include "util/log.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static skt_log_level_t log_level = SKT_LOG_INFO;
static int log_json;
static char log_source[32]; /* "" or who speaks: "worker 2", "supervisor" */

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void
skt_log_set_level(skt_log_level_t level)
{
    log_level = level;
}

skt_log_level_t
skt_log_get_level(void)
{
    return log_level;
}

void
skt_log_set_json(int on)
{
    log_json = on;
}

void
skt_log_set_source(const char *who)
{
    snprintf(log_source, sizeof(log_source), "%s", who ? who : "");
}

/* Escapes msg as a JSON string body into out (size cap), so that log shippers
 * can parse every line whatever the message holds. */
static void
log_json_escape(const char *msg, char *out, size_t cap)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)msg; *p && o + 7 < cap; p++) {
        if (*p == '"' || *p == '\\') {
            out[o++] = '\\';
            out[o++] = (char)*p;
        } else if (*p < 0x20) {
            o += (size_t)snprintf(out + o, cap - o, "\\u%04x", *p);
        } else {
            out[o++] = (char)*p;
        }
    }
    out[o] = '\0';
}

/* Escapes the control characters of msg in the text format (\n as "\n", others as
 * \xNN), in place within cap: a line is one line whatever a message quotes (a peer's
 * string, an endpoint's answer), so nobody can forge log lines. Cut when out of room. */
static void
log_text_escape(char *msg, size_t cap)
{
    char out[4096];
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)msg; *p && o + 5 < sizeof(out); p++) {
        if (*p >= 0x20 && *p != 0x7f)
            out[o++] = (char)*p;
        else if (*p == '\n' || *p == '\r' || *p == '\t')
            o += (size_t)snprintf(out + o, sizeof(out) - o, "\\%c",
                                  *p == '\n'   ? 'n'
                                  : *p == '\r' ? 'r'
                                               : 't');
        else
            o += (size_t)snprintf(out + o, sizeof(out) - o, "\\x%02x", *p);
    }
    out[o] = '\0';
    snprintf(msg, cap, "%s", out);
}

void
skt_logv(skt_log_level_t level, const char *fmt, va_list ap)
{
    char msg[4096];
    char stamp[40];
    struct timeval tv;
    struct tm tm;

    if (level > log_level)
        return;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(stamp + n, sizeof(stamp) - n, ".%03dZ", (int)(tv.tv_usec / 1000));

    if (log_json) {
        char esc[sizeof(msg) * 2];
        log_json_escape(msg, esc, sizeof(esc));
        if (*log_source)
            fprintf(stderr, "{\"ts\":\"%s\",\"level\":\"%s\",\"source\":\"%s\",\"msg\":\"%s\"}\n",
                    stamp, level_names[level], log_source, esc);
        else
            fprintf(stderr, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"%s\"}\n", stamp,
                    level_names[level], esc);
    } else {
        log_text_escape(msg, sizeof(msg));
        fprintf(stderr, "%s [%s] %s%s%s\n", stamp, level_names[level], log_source,
                *log_source ? ": " : "", msg);
    }
}

void
skt_log(skt_log_level_t level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    skt_logv(level, fmt, ap);
    va_end(ap);
}
