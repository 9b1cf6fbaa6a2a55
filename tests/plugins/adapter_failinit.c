/* adapter_failinit.c - test plugin whose init refuses to start (returns 1, after logging
 * why, as the contract asks). Its cleanup logs too: the loader must not call it after a
 * failed init. */
#include <soketi/adapter.h>

static const soketi_host_t *failinit_host;

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
    failinit_host = host;
    host->log(SOKETI_LOG_ERROR, "failinit: refusing to start");
    return 1;
}

void
soketi_adapter_cleanup(soketi_adapter_t *adapter)
{
    if (failinit_host)
        failinit_host->log(SOKETI_LOG_ERROR, "failinit cleanup called");
}
