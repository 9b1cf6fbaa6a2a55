/* adapter_failinit.c - test plugin whose init refuses to start: it logs why, as the
 * contract asks, and returns 1. The loader must not call its cleanup afterwards (which
 * would log "failinit cleanup called without state"). */
#define ECHO_NAME "failinit"
#define ECHO_INIT_FAIL 1
#include "adapter_echo.c"
