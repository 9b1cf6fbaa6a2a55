/* adapter_nosym.c - test plugin missing a required symbol: it exports
 * soketi_adapter_version and soketi_adapter_cleanup but no soketi_adapter_init. */
#include <soketi/adapter.h>

int
soketi_adapter_version(int count, const int *supported)
{
    for (int i = 0; i < count; i++)
        if (supported[i] == 1)
            return 1;
    return -1;
}

void
soketi_adapter_cleanup(soketi_adapter_t *adapter)
{
}
