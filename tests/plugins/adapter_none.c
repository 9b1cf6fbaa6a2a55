/* adapter_none.c - test plugin that speaks no ABI version at all: no version is 0, so it
 * answers -1 to every offer and the refusal can only list the host's versions. */
#define ECHO_NAME "none"
#define ECHO_ABI 0
#include "adapter_echo.c"
