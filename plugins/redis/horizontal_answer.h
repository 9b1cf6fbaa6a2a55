/* horizontal_answer.h - what the callers of a query get (horizontal_answer.c): this
 * node's part, read from the host when they are answered, merged with the peers'
 * answers, handed to each caller's callback. Sending the queries and waiting for the
 * peers is horizontal.c's.
 */
#ifndef SKT_REDIS_HORIZONTAL_ANSWER_H
#define SKT_REDIS_HORIZONTAL_ANSWER_H

#include <stddef.h>

#include "horizontal_core.h"
#include "horizontal_merge.h"

/* What a query of wire type (SKT_RC_*) collects: enum skt_hz_acc_kind. */
int skt_hz_type_acc_kind(int type);

/* This node's part of q, read from the host now, into acc (of q's kind). */
void skt_hz_local(const skt_hz_t *hz, skt_hz_acc_t *acc, const skt_hz_query_t *q);

/* Answers the n callers cbs of q with this node's part (read now) merged with remote
 * (the peers' answers; NULL: none): SOKETI_PARTIAL instead of SOKETI_OK when the merge
 * left items out; SOKETI_ERROR: an empty result, no local part. */
void skt_hz_answer(skt_hz_t *hz, const skt_hz_cb_t *cbs, size_t n, const skt_hz_query_t *q,
                   const skt_hz_acc_t *remote, int status);

#endif
