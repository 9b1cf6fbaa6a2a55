/* webhook_log.h - an app's webhook drops or failures, logged at most once a second.
 *
 * Each line says how many occurred since the last one, the app's total, and what the first
 * of them was; what comes within a second of a line is written by a timer when the second
 * is over, so a flood of failures costs one line a second per app and kind.
 */
#ifndef SKT_FEATURES_WEBHOOK_LOG_H
#define SKT_FEATURES_WEBHOOK_LOG_H

#include <event2/event.h>
#include <stdint.h>

typedef struct skt_whlog_s {
    const char *app_id;    /* borrowed: outlives the report */
    const char *what;      /* "dropped", "failed" */
    const uint64_t *total; /* the app's counter of them, borrowed */
    uint64_t count;        /* since the last line */
    uint64_t last_ms;      /* when the last line was written; 0: never */
    struct event *ev;      /* writes the line once the second is over */
    char first[1024];
} skt_whlog_t;

/* Sets r up on base. 0, or -1 when out of memory (skt_whlog_fini is still safe). */
int skt_whlog_init(skt_whlog_t *r, struct event_base *base, const char *app_id, const char *what,
                   const uint64_t *total);

/* Counts one occurrence, described by fmt when it is the first since the last line. */
void skt_whlog_note(skt_whlog_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Writes what is still unreported (at shutdown) and frees the timer. */
void skt_whlog_fini(skt_whlog_t *r);

#endif
