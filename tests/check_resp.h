/* check_resp.h - hiredis replies from RESP bytes, for the unit tests of code that reads
 * Redis replies (check_redis_store.c, check_redis_cluster.c, check_redis_sentinel.c).
 */
#ifndef SKT_TESTS_CHECK_RESP_H
#define SKT_TESTS_CHECK_RESP_H

#include <check.h>
#include <hiredis/hiredis.h>
#include <stddef.h>

/* Parses one RESP reply from text (len bytes) with hiredis's own reader; the caller frees
 * it with freeReplyObject. Fails the test when text is not one whole reply. */
static inline redisReply *
check_resp(const char *text, size_t len)
{
    redisReader *r = redisReaderCreate();
    void *reply = NULL;
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(redisReaderFeed(r, text, len), REDIS_OK);
    ck_assert_int_eq(redisReaderGetReply(r, &reply), REDIS_OK);
    ck_assert_ptr_nonnull(reply);
    redisReaderFree(r);
    return reply;
}

/* The same for a string literal. */
#define RESP(s) check_resp((s), sizeof(s) - 1)

#endif
