/* adapter_newer.c - test plugin built for a future ABI 2 only: it answers -1 unless 2 is
 * offered, so the loader must refuse it and name both versions. init and cleanup log if
 * they are ever called, which they must not be. */
#include <soketi/adapter.h>

int
soketi_adapter_version(int count, const int *supported)
{
    for (int i = 0; i < count; i++)
        if (supported[i] == 2)
            return 2;
    return -1;
}

int
soketi_adapter_init(const soketi_host_t *host, soketi_adapter_t *adapter)
{
    host->log(SOKETI_LOG_ERROR, "newer init called");
    return 1;
}

void
soketi_adapter_cleanup(soketi_adapter_t *adapter)
{
}
