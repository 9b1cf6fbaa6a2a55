/* webhook_log.c - an app's webhook drops or failures, logged at most once a second.
 *
 * A report lives inside its app's sender state (webhooks.c) and is finished with it.
 */
#include "features/webhook_log.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "features/clock.h"
#include "util/log.h"

static void
write_line(skt_whlog_t *r)
{
    skt_log(SKT_LOG_WARN, "webhooks: app %s: %" PRIu64 " webhook(s) %s (%" PRIu64 " in all)%s: %s",
            r->app_id, r->count, r->what, *r->total, r->last_ms ? " since the last report" : "",
            r->first);
    r->count = 0;
    r->last_ms = skt_clock_ms();
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    skt_whlog_t *r = arg;
    if (r->count)
        write_line(r);
}

/* Logged now when the last line is a second old, else by the timer (the first occurrence
 * since the last line is the one described). */
void
skt_whlog_note(skt_whlog_t *r, const char *fmt, ...)
{
    if (r->count++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->first, sizeof(r->first), fmt, ap);
        va_end(ap);
    }
    uint64_t now = skt_clock_ms();
    if (!r->last_ms || now - r->last_ms >= 1000) {
        write_line(r);
    } else if (r->ev && !evtimer_pending(r->ev, NULL)) {
        long ms = (long)(1000 - (now - r->last_ms));
        struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
        evtimer_add(r->ev, &tv);
    }
}

int
skt_whlog_init(skt_whlog_t *r, struct event_base *base, const char *app_id, const char *what,
               const uint64_t *total)
{
    r->app_id = app_id;
    r->what = what;
    r->total = total;
    r->ev = evtimer_new(base, timer_cb, r);
    return r->ev ? 0 : -1;
}

void
skt_whlog_fini(skt_whlog_t *r)
{
    if (r->count)
        write_line(r);
    if (r->ev)
        event_free(r->ev);
    r->ev = NULL;
}
