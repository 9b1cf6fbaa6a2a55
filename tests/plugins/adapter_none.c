/* adapter_none.c - test plugin that speaks no ABI version at all: soketi_adapter_version
 * always answers -1, so the refusal can only list the host's versions. */
#include <soketi/adapter.h>

int
soketi_adapter_version(int count, const int *supported)
{
    return -1;
}

int
soketi_adapter_init(const soketi_host_t *host, soketi_adapter_t *adapter)
{
    host->log(SOKETI_LOG_ERROR, "none init called");
    return 1;
}

void
soketi_adapter_cleanup(soketi_adapter_t *adapter)
{
}
