/* fuzz_redis_codec.c - libFuzzer target: the Redis adapter's soketi wire codec
 * (plugins/redis/codec.h) and the merging of peers' answers (horizontal.h, horizontal_merge.c).
 *
 * The first byte picks the channel the message arrived on; the rest is the message, as a
 * peer (soketi or soketi-c) or anyone with access to the Redis server may publish it.
 * Checks: a decoded broadcast or request, encoded again, decodes to the same fields; a
 * decoded response merges into every kind of accumulator, item readers agree with what the
 * merge counted, and merging the same answer twice adds no new item.
 */
#include "fuzz.h"

#include "codec.h"
#include "horizontal.h"

FZ_INITIALIZE(json_object_seed(1))

/* NULL-safe string equality. */
static int
same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void
broadcast(const char *text, size_t len)
{
    skt_rc_broadcast_t m, m2;
    skt_jw_t b = SKT_RC_WRITER;
    if (skt_rc_decode_broadcast(text, len, &m) != 0)
        return;
    FZ_CHECK(m.app_id && m.app_id[0] && m.channel && m.channel[0] && m.data && m.data_len);
    skt_rc_encode_broadcast(&b, m.uuid, m.app_id, m.channel, m.data, m.data_len, m.except);
    FZ_CHECK(!b.failed);
    FZ_CHECK(skt_rc_decode_broadcast(b.p, b.len, &m2) == 0);
    FZ_CHECK(same(m.uuid, m2.uuid) && same(m.app_id, m2.app_id) && same(m.channel, m2.channel));
    FZ_CHECK(same(m.except, m2.except));
    FZ_CHECK(m.data_len == m2.data_len && memcmp(m.data, m2.data, m.data_len) == 0);
    skt_rc_broadcast_clear(&m2);
    skt_rc_broadcast_clear(&m);
    skt_jw_free(&b);
}

static void
request(const char *text, size_t len)
{
    skt_rc_request_t r, r2;
    skt_jw_t b = SKT_RC_WRITER;
    if (skt_rc_decode_request(text, len, &r) != 0)
        return;
    FZ_CHECK(r.type >= 0 && r.type < SKT_RC_TYPE_COUNT && r.request_id && r.app_id);
    skt_rc_encode_request(&b, r.request_id, r.app_id, r.type, r.channel, r.ws_id, r.user_id,
                          r.uuid);
    FZ_CHECK(!b.failed);
    FZ_CHECK(skt_rc_decode_request(b.p, b.len, &r2) == 0);
    FZ_CHECK(same(r.request_id, r2.request_id) && same(r.app_id, r2.app_id) && r.type == r2.type);
    FZ_CHECK(same(r.channel, r2.channel) && same(r.ws_id, r2.ws_id) && same(r.user_id, r2.user_id));
    skt_rc_request_clear(&r2);
    skt_rc_request_clear(&r);
    skt_jw_free(&b);
}

/* Items of arr that the reader accepts. */
static size_t
readable(const skt_rc_response_t *r, json_t *arr, int kind)
{
    size_t ok = 0;
    for (size_t i = 0; arr && i < json_array_size(arr); i++) {
        const char *s;
        char idbuf[24], *info;
        long count;
        int num;
        if (kind == SKT_HZ_ACC_MEMBERS && skt_rc_member_at(r, i, &s, &num, idbuf, &info) == 0) {
            FZ_CHECK(s && info);
            free(info);
            ok++;
        } else if (kind == SKT_HZ_ACC_CHANNELS && skt_rc_channel_count_at(r, i, &s, &count) == 0) {
            FZ_CHECK(s && s[0] && count >= 0);
            ok++;
        } else if (kind == SKT_HZ_ACC_IDS && skt_rc_socket_at(r, i, &s) == 0) {
            FZ_CHECK(s && s[0]);
            ok++;
        }
    }
    return ok;
}

static void
response(const char *text, size_t len)
{
    skt_rc_response_t r;
    if (skt_rc_decode_response(text, len, &r) != 0)
        return;
    FZ_CHECK(r.request_id && r.request_id[0]);
    for (int kind = SKT_HZ_ACC_NONE; kind <= SKT_HZ_ACC_IDS; kind++) {
        skt_hz_acc_t acc;
        json_t *arr = kind == SKT_HZ_ACC_MEMBERS    ? r.members
                      : kind == SKT_HZ_ACC_CHANNELS ? r.channels_with_count
                      : kind == SKT_HZ_ACC_IDS      ? r.sockets
                                                    : NULL;
        size_t good = readable(&r, arr, kind);
        skt_hz_acc_init(&acc, kind);
        size_t skipped = skt_hz_acc_response(&acc, &r);
        FZ_CHECK(skipped + good == json_array_size(arr));
        FZ_CHECK(acc.n <= good && !acc.failed);
        size_t n = acc.n;
        /* The same answer again (another node's copy): nothing new. Counts are only summed
         * when they fit, so the second pass is over a fresh accumulator for channels. */
        if (kind != SKT_HZ_ACC_CHANNELS && kind != SKT_HZ_ACC_COUNT) {
            skt_hz_acc_response(&acc, &r);
            FZ_CHECK(acc.n == n);
        }
        if (kind == SKT_HZ_ACC_EXISTS)
            FZ_CHECK(acc.exists == (r.has_exists && r.exists));
        skt_hz_acc_clear(&acc);
        FZ_CHECK(acc.n == 0 && acc.items == NULL && acc.kind == kind);
    }
    skt_rc_response_clear(&r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in_t in = {data, size};
    unsigned channel = fz_byte(&in) % 3;
    char *text = fz_copy(in.p, in.n);
    if (channel == SKT_HZ_BROADCAST)
        broadcast(text, in.n);
    else if (channel == SKT_HZ_REQUEST)
        request(text, in.n);
    else
        response(text, in.n);
    free(text);
    return 0;
}
