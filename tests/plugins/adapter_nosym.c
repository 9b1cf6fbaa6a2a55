/* adapter_nosym.c - test plugin missing a required symbol: it exports
 * soketi_adapter_version and soketi_adapter_cleanup but no soketi_adapter_init. */
#define ECHO_NAME "nosym"
#define ECHO_NO_INIT
#include "adapter_echo.c"
