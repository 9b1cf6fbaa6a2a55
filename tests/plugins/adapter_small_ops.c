/* adapter_small_ops.c - test plugin (driver "small-ops": the '-' becomes '_' in the file
 * name) whose init succeeds and allocates but sets an ops_size too small for ABI 1's ops.
 * The loader must refuse it and call cleanup, which frees and logs "small-ops cleanup". */
#define ECHO_NAME "small-ops"
#define ECHO_OPS_SIZE (2 * sizeof(void *))
#include "adapter_echo.c"
