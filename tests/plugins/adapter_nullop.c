/* adapter_nullop.c - test plugin whose init succeeds and allocates but leaves one ABI-1
 * op (channel_members) NULL. The loader must refuse it, naming the op, and call cleanup,
 * which frees and logs "nullop cleanup". */
#define ECHO_NAME "nullop"
#define ECHO_NULL_OP channel_members
#include "adapter_echo.c"
