/* store_proto.c - the Redis side of the shared state: scripts, keys, replies. See
 * store_proto.h.
 */
#include "store_proto.h"

#include <openssl/evp.h>
#include <string.h>

#include "util/hex.h"

/* ---- scripts ------------------------------------------------------------------------- */

/* Decides a join ('1'), leave ('0') or refresh ('2') of node ARGV[1] for KEYS[1] by Redis's
 * clock, and answers how many other nodes hold it. With KEYS[2] (a presence member's key,
 * KEYS[2] its channel's set of users, ARGV[4] the user), the set gets the user scored by
 * the latest expiry of its nodes, or loses it with its last node. (replicate_commands:
 * Redis before 5 refuses writes after TIME without it; later ones have it as a no-op, or
 * not at all.) */
static const char rs_occupancy_lua[] =
    "if redis.replicate_commands then redis.replicate_commands() end\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) + tonumber(t[2]) / 1000000\n"
    "local ttl = tonumber(ARGV[3])\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)\n"
    "local mine = redis.call('ZSCORE', KEYS[1], ARGV[1])\n"
    "local others = redis.call('ZCARD', KEYS[1])\n"
    "if mine then others = others - 1 end\n"
    "if ARGV[2] == '0' then redis.call('ZREM', KEYS[1], ARGV[1])\n"
    "else redis.call('ZADD', KEYS[1], now + ttl, ARGV[1]) end\n"
    "if redis.call('ZCARD', KEYS[1]) == 0 then redis.call('DEL', KEYS[1])\n"
    "else redis.call('EXPIRE', KEYS[1], 2 * ttl) end\n"
    "if KEYS[2] then\n"
    "  local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')\n"
    "  if last[2] then redis.call('ZADD', KEYS[2], last[2], ARGV[4])\n"
    "  else redis.call('ZREM', KEYS[2], ARGV[4]) end\n"
    "  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)\n"
    "  if redis.call('ZCARD', KEYS[2]) == 0 then redis.call('DEL', KEYS[2])\n"
    "  else redis.call('EXPIRE', KEYS[2], 2 * ttl) end\n"
    "end\n"
    "return others\n";

/* Admits user ARGV[4] of node ARGV[1] (TTL ARGV[2]) to the channel whose set of users is
 * KEYS[2] when it then holds at most ARGV[3] users (< 0: no limit), recording it in the
 * member's key KEYS[1] and the set as the occupancy script does. Answers 1 (admitted, no
 * other node held the user), 2 (admitted, another did), 0 (full: nothing written). */
static const char rs_admit_lua[] =
    "if redis.replicate_commands then redis.replicate_commands() end\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) + tonumber(t[2]) / 1000000\n"
    "local ttl = tonumber(ARGV[2])\n"
    "local limit = tonumber(ARGV[3])\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)\n"
    "local mine = redis.call('ZSCORE', KEYS[1], ARGV[1])\n"
    "local others = redis.call('ZCARD', KEYS[1])\n"
    "if mine then others = others - 1 end\n"
    "if others == 0 and not mine and limit >= 0 and\n"
    "   redis.call('ZCARD', KEYS[2]) >= limit then return 0 end\n"
    "redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])\n"
    "redis.call('EXPIRE', KEYS[1], 2 * ttl)\n"
    "local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')\n"
    "redis.call('ZADD', KEYS[2], last[2], ARGV[4])\n"
    "redis.call('EXPIRE', KEYS[2], 2 * ttl)\n"
    "if others > 0 then return 2 end\n"
    "return 1\n";

/* rate-limiter-flexible's RateLimiterRedis: ARGV[1] points into the window of ARGV[2] ms
 * that the key's first consumption opens; answers {points used, ms left}. */
static const char rs_consume_lua[] =
    "redis.call('set', KEYS[1], 0, 'PX', ARGV[2], 'NX')\n"
    "local consumed = redis.call('incrby', KEYS[1], ARGV[1])\n"
    "local ttl = redis.call('pttl', KEYS[1])\n"
    "if ttl == -1 then redis.call('pexpire', KEYS[1], ARGV[2]); ttl = tonumber(ARGV[2]) end\n"
    "return {consumed, ttl}\n";

/* How many other nodes hold KEYS[1] now (node ARGV[1] not counted), without a write. */
static const char rs_presence_lua[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) + tonumber(t[2]) / 1000000\n"
    "local n = redis.call('ZCOUNT', KEYS[1], string.format('(%.6f', now), '+inf')\n"
    "local mine = redis.call('ZSCORE', KEYS[1], ARGV[1])\n"
    "if mine and tonumber(mine) > now then n = n - 1 end\n"
    "return n\n";

/* job_put: stores / replaces / removes job ARGV[1] (see SKT_RS_JOB_PUT); a new job past
 * the group's bound removes the group's oldest. Times are Redis's, in ms. */
static const char rs_job_put_lua[] =
    "if redis.replicate_commands then redis.replicate_commands() end\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local id, mode = ARGV[1], ARGV[5]\n"
    "if mode == 'd' then\n"
    "  redis.call('ZREM', KEYS[1], id); redis.call('HDEL', KEYS[2], id)\n"
    "  redis.call('ZREM', KEYS[3], id)\n"
    "  return 0\n"
    "end\n"
    "if mode == 'u' and redis.call('HEXISTS', KEYS[2], id) == 0 then return -1 end\n"
    "redis.call('HSET', KEYS[2], id, ARGV[2])\n"
    "redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), id)\n"
    "if mode ~= 'n' then return 0 end\n"
    "redis.call('ZADD', KEYS[3], now, id)\n"
    "local over = redis.call('ZCARD', KEYS[3]) - tonumber(ARGV[4])\n"
    "if tonumber(ARGV[4]) <= 0 or over <= 0 then return 0 end\n"
    "local old = redis.call('ZRANGE', KEYS[3], 0, over - 1)\n"
    "for _, o in ipairs(old) do\n"
    "  redis.call('ZREM', KEYS[1], o); redis.call('HDEL', KEYS[2], o)\n"
    "end\n"
    "redis.call('ZREMRANGEBYRANK', KEYS[3], 0, over - 1)\n"
    "return over\n";

/* job_claim: extends the leases of the held jobs ARGV[3..] still stored, then leases up to
 * ARGV[2] due jobs for ARGV[1] ms, oldest due first; answers {id, data, ...}. */
static const char rs_job_claim_lua[] =
    "if redis.replicate_commands then redis.replicate_commands() end\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local until_ = now + tonumber(ARGV[1])\n"
    "for i = 3, #ARGV do redis.call('ZADD', KEYS[1], 'XX', until_, ARGV[i]) end\n"
    "local out = {}\n"
    "if tonumber(ARGV[2]) <= 0 then return out end\n"
    "local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, ARGV[2])\n"
    "for _, id in ipairs(due) do\n"
    "  local data = redis.call('HGET', KEYS[2], id)\n"
    "  if data then\n"
    "    redis.call('ZADD', KEYS[1], until_, id)\n"
    "    out[#out + 1] = id; out[#out + 1] = data\n"
    "  else redis.call('ZREM', KEYS[1], id) end\n"
    "end\n"
    "return out\n";

static const char *const rs_scripts[SKT_RS_SCRIPTS] = {rs_occupancy_lua, rs_consume_lua,
                                                       rs_presence_lua,  rs_admit_lua,
                                                       rs_job_put_lua,   rs_job_claim_lua};

const char *
skt_rs_script_text(int script)
{
    return rs_scripts[script];
}

int
skt_rs_script_sha(int script, char out[41])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    const char *text = rs_scripts[script];
    if (!EVP_Digest(text, strlen(text), md, &n, EVP_sha1(), NULL) || n != 20)
        return -1;
    skt_hex_encode(md, n, out, 0);
    return 0;
}

/* ---- keys and replies ---------------------------------------------------------------- */

sds
skt_rs_transition_key(const char *key_prefix, const char *bcast_channel, const char *app_id,
                      const char *channel, const char *user_id)
{
    sds s = user_id ? skt_rs_members_key(key_prefix, bcast_channel, app_id, channel) : sdsempty();
    if (!s)
        return NULL;
    if (user_id)
        return sdscatfmt(s, "#%s", user_id);
    return sdscatfmt(s, "%s%s#occupancy#%s#%s", key_prefix, bcast_channel, app_id, channel);
}

sds
skt_rs_members_key(const char *key_prefix, const char *bcast_channel, const char *app_id,
                   const char *channel)
{
    sds s = sdsempty();
    return s ? sdscatfmt(s, "%s%s#members#{%s#%s}", key_prefix, bcast_channel, app_id, channel)
             : NULL;
}

int
skt_rs_parse_transition(const redisReply *reply, long *others)
{
    *others = 0;
    if (!reply || reply->type != REDIS_REPLY_INTEGER || reply->integer < 0)
        return -1;
    *others = (long)reply->integer;
    return 0;
}

int
skt_rs_parse_consume(const redisReply *reply, long *used, long *ms_left)
{
    *used = *ms_left = 0;
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
        reply->element[0]->type != REDIS_REPLY_INTEGER ||
        reply->element[1]->type != REDIS_REPLY_INTEGER)
        return -1;
    *used = (long)reply->element[0]->integer;
    *ms_left = (long)reply->element[1]->integer;
    return 0;
}

int
skt_rs_parse_get(const redisReply *reply, const char **value, size_t *len)
{
    *value = NULL;
    *len = 0;
    if (reply && reply->type == REDIS_REPLY_NIL)
        return 0;
    if (!reply || reply->type != REDIS_REPLY_STRING)
        return -1;
    *value = reply->str;
    *len = reply->len;
    return 1;
}

int
skt_rs_is_noscript(const redisReply *reply)
{
    return reply && reply->type == REDIS_REPLY_ERROR && reply->len >= 8 &&
           memcmp(reply->str, "NOSCRIPT", 8) == 0;
}

sds
skt_rs_job_key(const char *key_prefix, const char *queue, const char *what, const char *group)
{
    sds s = sdsempty();
    if (s)
        s = sdscatfmt(s, "%s{%s}#%s", key_prefix, queue, what);
    if (s && group)
        s = sdscatfmt(s, "#%s", group);
    return s;
}

long
skt_rs_parse_claim(const redisReply *reply, skt_rs_job_t *jobs, size_t max)
{
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements % 2 != 0)
        return -1;
    size_t n = 0;
    for (size_t i = 0; i < reply->elements; i += 2) {
        const redisReply *id = reply->element[i], *data = reply->element[i + 1];
        if (id->type != REDIS_REPLY_STRING || data->type != REDIS_REPLY_STRING)
            return -1;
        if (n < max)
            jobs[n++] = (skt_rs_job_t){.id = id->str, .data = data->str, .len = data->len};
    }
    return (long)n;
}
