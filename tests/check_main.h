/* check_main.h - the one runner every Check unit test shares.
 *
 * A test file defines `static Suite *<name>_suite(void)` and ends with
 * SKT_CHECK_MAIN(<name>_suite), which runs the suite and turns failures into
 * the exit status automake's test driver reads.
 */
#ifndef SKT_TESTS_CHECK_MAIN_H
#define SKT_TESTS_CHECK_MAIN_H

#include <check.h>
#include <stdlib.h>

static inline int
skt_check_run(Suite *suite)
{
    SRunner *sr = srunner_create(suite);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#define SKT_CHECK_MAIN(suite_fn)                                                                   \
    int main(void)                                                                                 \
    {                                                                                              \
        return skt_check_run(suite_fn());                                                          \
    }

#endif
