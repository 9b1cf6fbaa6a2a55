/* check_redis_fakehost.h - the local state of a fake daemon, for the Redis plugin tests: a
 * host table whose local_* functions answer from fake_local (every node of the process
 * shares it; all zero, a node with no sockets).
 */
#ifndef SKT_TESTS_CHECK_REDIS_FAKEHOST_H
#define SKT_TESTS_CHECK_REDIS_FAKEHOST_H

#include <soketi/adapter.h>

typedef struct fake_local_s {
    long sockets;  /* every local_*_count answer */
    int channels;  /* local_channels: ch-0 .. ch-<n-1>, `sockets` each */
    int members;   /* local_channel_members: user-0 .. user-<n-1>, info {"n":i} */
    int delivered; /* deliver_local calls so far */
} fake_local_t;

extern fake_local_t fake_local;

/* Fills the local_* functions and deliver_local of h from fake_local (the rest is the
 * caller's: size, base, node_id, config_get, log, metric). */
void fake_host_local(soketi_host_t *h);

#endif
