/* adapter_small_ops.c - test plugin (driver "small-ops": the '-' becomes '_' in the file
 * name) whose init succeeds and allocates, but sets an ops_size too small for ABI 1's
 * ops. The loader must refuse it and call cleanup, which frees and logs. */
#include <soketi/adapter.h>

#include <stdlib.h>

typedef struct small_s {
    const soketi_host_t *host;
} small_t;

int
soketi_adapter_version(int count, const int *supported)
{
    for (int i = 0; i < count; i++)
        if (supported[i] == 1)
            return 1;
    return -1;
}

int
soketi_adapter_init(const soketi_host_t *host, soketi_adapter_t *adapter)
{
    small_t *s = malloc(sizeof(*s));
    if (!s)
        return 1;
    s->host = host;
    adapter->self = s;
    adapter->ops_size = 2 * sizeof(void *);
    return 0;
}

void
soketi_adapter_cleanup(soketi_adapter_t *adapter)
{
    small_t *s = adapter->self;
    s->host->log(SOKETI_LOG_INFO, "small-ops cleanup");
    free(s);
}
