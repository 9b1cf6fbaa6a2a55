/* adapter_newer.c - test plugin built for a future ABI 2 only: it answers -1 unless 2 is
 * offered, so the loader must refuse it and name both versions; init must never run. */
#define ECHO_NAME "newer"
#define ECHO_ABI 2
#include "adapter_echo.c"
