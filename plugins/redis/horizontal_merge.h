/* horizontal_merge.h - merging the answers of a cluster-wide query (horizontal_merge.c):
 * this node's and its peers', as soketi's resolvers do. Pure: no I/O, no host; for the
 * layer's files, the unit tests and the fuzz target.
 */
#ifndef SKT_REDIS_HORIZONTAL_MERGE_H
#define SKT_REDIS_HORIZONTAL_MERGE_H

#include <stddef.h>

#include "codec.h"

struct skt_map_s;

/* What a query collects. */
enum skt_hz_acc_kind {
    SKT_HZ_ACC_NONE = 0, /* terminate: nothing */
    SKT_HZ_ACC_COUNT,    /* totalCount, summed */
    SKT_HZ_ACC_EXISTS,   /* exists, OR'd */
    SKT_HZ_ACC_MEMBERS,  /* members by user_id's text (first info and type seen win) */
    SKT_HZ_ACC_CHANNELS, /* channel -> socket count, summed per channel */
    SKT_HZ_ACC_IDS,      /* distinct socket ids */
};

typedef struct skt_hz_item_s {
    char *key;     /* user_id, channel or socket id */
    char *info;    /* members: user_info JSON text */
    long count;    /* channels: sockets */
    int id_number; /* members: the id came as a JSON number */
} skt_hz_item_t;

typedef struct skt_hz_acc_s {
    int kind;
    long total;
    int exists;
    skt_hz_item_t *items; /* in order of first appearance: local answers first */
    size_t n, cap;
    struct skt_map_s *index; /* key -> item index + 1 */
    size_t max_items;        /* 0: no bound; else new keys past it are left out */
    int partial;             /* items were left out: past max_items, or by a peer */
    int failed;              /* out of memory: the result is unusable */
} skt_hz_acc_t;

/* a + b, saturated at LONG_MAX (LONG_MIN): what every count of a merge is added with, so
 * that no answer can make a sum wrap. */
long skt_hz_sat_add(long a, long b);

void skt_hz_acc_init(skt_hz_acc_t *acc, int kind);
void skt_hz_acc_clear(skt_hz_acc_t *acc);
/* Adds one item; copies the strings. id_number: the user id is a JSON number's text. */
void skt_hz_acc_member(skt_hz_acc_t *acc, const char *user_id, int id_number,
                       const char *user_info);
void skt_hz_acc_channel(skt_hz_acc_t *acc, const char *channel, long count);
void skt_hz_acc_id(skt_hz_acc_t *acc, const char *id);
/* The same, shaped as the host's iterators (soketi_each_*_fn): arg is the accumulator. */
void skt_hz_acc_each_member(void *arg, const char *user_id, const char *user_info);
void skt_hz_acc_each_typed_member(void *arg, const char *user_id, const char *user_info,
                                  int id_number);
void skt_hz_acc_each_channel(void *arg, const char *channel, long count);
void skt_hz_acc_each_id(void *arg, const char *id);
/* Merges src (of the same kind) into dst: counts added, exists OR'd, items added in
 * src's order, partial OR'd. Pure. */
void skt_hz_acc_merge(skt_hz_acc_t *dst, const skt_hz_acc_t *src);
/* Merges a peer's decoded response as soketi's resolvers do (a response marked partial
 * makes acc partial); fields that do not belong
 * to acc's kind and malformed items are ignored, counts are added saturating. Returns
 * the number of items skipped as malformed. Pure (no I/O, no host): with
 * skt_rc_decode_response, what a fuzz target calls. */
size_t skt_hz_acc_response(skt_hz_acc_t *acc, const skt_rc_response_t *resp);

#endif
