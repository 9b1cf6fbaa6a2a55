/* clock.h - the one monotonic millisecond clock the features count time with. */
#ifndef SKT_FEATURES_CLOCK_H
#define SKT_FEATURES_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Milliseconds since an arbitrary point; never goes back. */
static inline uint64_t
skt_clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

#endif
