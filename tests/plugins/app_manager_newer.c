/* app_manager_newer.c - test app manager built for a future ABI 2 only: the loader must
 * refuse it and name both versions; init must never run. */
#define FIXED_ABI 2
#include "app_manager_fixed.c"
