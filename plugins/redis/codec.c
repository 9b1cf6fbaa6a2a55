/* codec.c - soketi 1.6's horizontal-adapter messages as JSON text: encode and decode.
 *
 * DESIGN
 * Encoding is hand-written with the project's JSON writer (util/jsonw.h, escaping as
 * JavaScript's JSON.stringify does: writers start with lower_hex set) rather than built as
 * a jansson tree and dumped: every broadcast is encoded once per message, its Pusher event text
 * only needs quoting, and member infos arrive from the host as JSON text that can be copied as is.
 * Keys are written in soketi's order. Decoding uses jansson and checks every field's type, because
 * anything may be published on a Redis channel.
 */
#include "codec.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- writing ------------------------------------------------------------------------- */

#define RAW_LIT(b, lit) skt_jw_raw((b), (lit), sizeof(lit) - 1)

static void
buf_cstr(skt_jw_t *b, const char *s)
{
    skt_jw_str(b, s, strlen(s));
}

/* Writes a comma unless the previous byte opened an array: the one rule list items
 * need to be separated. */
static void
buf_item_sep(skt_jw_t *b)
{
    if (b->len && b->p[b->len - 1] != '[')
        RAW_LIT(b, ",");
}

/* ---- shared decoding helpers -------------------------------------------------------- */

/* Parses text as a JSON object. Returns it (a new reference) or NULL. */
static json_t *
load_object(const char *text, size_t len)
{
    if (!text || len == 0)
        return NULL;
    json_t *root = json_loadb(text, len, 0, NULL);
    if (root && !json_is_object(root)) {
        json_decref(root);
        return NULL;
    }
    return root;
}

/* The text of a non-empty string, or of an integer (written into buf, 24 bytes), as
 * soketi's ids may be either. NULL otherwise. */
static const char *
id_text(json_t *v, char *buf)
{
    if (json_is_string(v))
        return json_string_length(v) > 0 ? json_string_value(v) : NULL;
    if (json_is_integer(v)) {
        snprintf(buf, 24, "%lld", (long long)json_integer_value(v));
        return buf;
    }
    return NULL;
}

/* A count a peer reports: an integer in 0..SKT_RC_COUNT_MAX, or a real with such an
 * integral value (JavaScript numbers are doubles). Returns 0 with *out set, or -1. The
 * range is checked before any conversion: a huge real must not be cast. */
static int
count_value(json_t *v, long long *out)
{
    if (json_is_integer(v)) {
        json_int_t n = json_integer_value(v);
        if (n < 0 || n > SKT_RC_COUNT_MAX)
            return -1;
        *out = (long long)n;
        return 0;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (!(d >= 0 && d <= (double)SKT_RC_COUNT_MAX) || d != (double)(long long)d)
            return -1;
        *out = (long long)d;
        return 0;
    }
    return -1;
}

/* obj[key] into *out when it is an array (NULL when absent). Returns -1 when it is there
 * and is something else. */
static int
array_field(json_t *obj, const char *key, json_t **out)
{
    json_t *v = json_object_get(obj, key);
    *out = json_is_array(v) ? v : NULL;
    return v && !*out ? -1 : 0;
}

/* A non-empty string member of obj, or NULL. */
static const char *
get_str(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) && json_string_length(v) > 0 ? json_string_value(v) : NULL;
}

/* ---- what a message may cost ------------------------------------------------------- */

int
skt_rc_scan(const char *text, size_t len, size_t max_depth, size_t max_values)
{
    size_t depth = 0, values = 1;
    int in_str = 0;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (in_str) {
            if (c == '\\')
                i++; /* the escaped byte cannot end the string */
            else if (c == '"')
                in_str = 0;
            continue;
        }
        if (c == '"') {
            in_str = 1;
        } else if (c == '[' || c == '{' || c == ',') {
            /* an open bracket starts a value and a level, a comma starts a value */
            if (c != ',' && ++depth > max_depth)
                return SKT_RC_SCAN_TOO_DEEP;
            if (++values > max_values)
                return SKT_RC_SCAN_TOO_MANY;
        } else if ((c == ']' || c == '}') && depth) {
            depth--;
        }
    }
    return SKT_RC_SCAN_OK;
}

size_t
skt_rc_response_id_prefix(const char *text, size_t len, const char **id)
{
    static const char head[] = "{\"requestId\":\"";
    const size_t hl = sizeof(head) - 1, max_id = 64;
    *id = NULL;
    if (len <= hl || memcmp(text, head, hl) != 0)
        return 0;
    for (size_t i = hl; i < len && i - hl <= max_id; i++) {
        if (text[i] == '\\' || (unsigned char)text[i] < 0x20)
            return 0;
        if (text[i] == '"') {
            if (i == hl)
                return 0;
            *id = text + hl;
            return i - hl;
        }
    }
    return 0;
}

/* ---- broadcast ---------------------------------------------------------------------- */

void
skt_rc_encode_broadcast(skt_jw_t *b, const char *uuid, const char *app_id, const char *channel,
                        const char *data, size_t data_len, const char *except)
{
    RAW_LIT(b, "{\"uuid\":");
    buf_cstr(b, uuid);
    RAW_LIT(b, ",\"appId\":");
    buf_cstr(b, app_id);
    RAW_LIT(b, ",\"channel\":");
    buf_cstr(b, channel);
    RAW_LIT(b, ",\"data\":");
    skt_jw_str(b, data, data_len);
    RAW_LIT(b, ",\"exceptingId\":");
    if (except && *except)
        buf_cstr(b, except);
    else
        RAW_LIT(b, "null");
    RAW_LIT(b, "}");
}

int
skt_rc_decode_broadcast(const char *text, size_t len, skt_rc_broadcast_t *out)
{
    memset(out, 0, sizeof(*out));
    json_t *root = load_object(text, len);
    if (!root)
        return -1;
    json_t *data = json_object_get(root, "data");
    json_t *uuid = json_object_get(root, "uuid");
    json_t *except = json_object_get(root, "exceptingId");
    out->root = root;
    out->app_id = id_text(json_object_get(root, "appId"), out->app_id_buf);
    out->channel = get_str(root, "channel");
    out->uuid = json_is_string(uuid) ? json_string_value(uuid) : "";
    out->except =
        json_is_string(except) && json_string_length(except) ? json_string_value(except) : NULL;
    if (json_is_string(data)) {
        out->data = json_string_value(data);
        out->data_len = json_string_length(data);
    } else if (json_is_object(data)) {
        /* soketi always sends text; an object from another implementation is its JSON */
        out->owned = json_dumps(data, JSON_COMPACT | JSON_PRESERVE_ORDER);
        out->data = out->owned;
        out->data_len = out->owned ? strlen(out->owned) : 0;
    }
    if (!out->app_id || !out->channel || !out->data || out->data_len == 0) {
        skt_rc_broadcast_clear(out);
        return -1;
    }
    return 0;
}

void
skt_rc_broadcast_clear(skt_rc_broadcast_t *m)
{
    free(m->owned);
    json_decref(m->root);
    memset(m, 0, sizeof(*m));
}

/* ---- requests ----------------------------------------------------------------------- */

/* Which options each request type carries. */
static int
type_has_channel(int type)
{
    return type == SKT_RC_CHANNEL_SOCKETS || type == SKT_RC_CHANNEL_MEMBERS ||
           type == SKT_RC_CHANNEL_MEMBERS_COUNT || type == SKT_RC_CHANNEL_SOCKETS_COUNT ||
           type == SKT_RC_SOCKET_EXISTS_IN_CHANNEL;
}

void
skt_rc_encode_request(skt_jw_t *b, const char *request_id, const char *app_id, int type,
                      const char *channel, const char *ws_id, const char *user_id, const char *uuid)
{
    RAW_LIT(b, "{\"requestId\":");
    buf_cstr(b, request_id);
    RAW_LIT(b, ",\"appId\":");
    buf_cstr(b, app_id);
    RAW_LIT(b, ",\"type\":");
    skt_jw_int(b, type);
    if (channel || ws_id || user_id) {
        RAW_LIT(b, ",\"opts\":{");
        const char *sep = "";
        if (channel) {
            RAW_LIT(b, "\"channel\":");
            buf_cstr(b, channel);
            sep = ",";
        }
        if (ws_id) {
            skt_jw_raw(b, sep, strlen(sep));
            RAW_LIT(b, "\"wsId\":");
            buf_cstr(b, ws_id);
            sep = ",";
        }
        if (user_id) {
            skt_jw_raw(b, sep, strlen(sep));
            RAW_LIT(b, "\"userId\":");
            buf_cstr(b, user_id);
        }
        RAW_LIT(b, "}");
    }
    if (uuid) {
        RAW_LIT(b, ",\"uuid\":");
        buf_cstr(b, uuid);
    }
    RAW_LIT(b, "}");
}

int
skt_rc_decode_request(const char *text, size_t len, skt_rc_request_t *out)
{
    memset(out, 0, sizeof(*out));
    json_t *root = load_object(text, len);
    if (!root)
        return -1;
    out->root = root;
    json_t *type = json_object_get(root, "type");
    json_t *opts = json_object_get(root, "opts");
    out->request_id = get_str(root, "requestId");
    out->app_id = id_text(json_object_get(root, "appId"), out->app_id_buf);
    out->uuid = get_str(root, "uuid");
    if (!out->request_id || !out->app_id || !json_is_integer(type) ||
        json_integer_value(type) < 0 || json_integer_value(type) >= SKT_RC_TYPE_COUNT)
        goto bad;
    out->type = (int)json_integer_value(type);
    if (type_has_channel(out->type)) {
        out->channel = json_is_object(opts) ? get_str(opts, "channel") : NULL;
        if (!out->channel)
            goto bad;
    }
    if (out->type == SKT_RC_SOCKET_EXISTS_IN_CHANNEL) {
        out->ws_id = get_str(opts, "wsId");
        if (!out->ws_id)
            goto bad;
    }
    if (out->type == SKT_RC_TERMINATE_USER_CONNECTIONS) {
        out->user_id = json_is_object(opts)
                           ? id_text(json_object_get(opts, "userId"), out->user_id_buf)
                           : NULL;
        if (!out->user_id)
            goto bad;
    }
    return 0;
bad:
    skt_rc_request_clear(out);
    return -1;
}

void
skt_rc_request_clear(skt_rc_request_t *r)
{
    json_decref(r->root);
    memset(r, 0, sizeof(*r));
}

/* ---- responses ---------------------------------------------------------------------- */

void
skt_rc_response_begin(skt_jw_t *b, const char *request_id)
{
    RAW_LIT(b, "{\"requestId\":");
    buf_cstr(b, request_id);
}

void
skt_rc_response_total(skt_jw_t *b, long long total)
{
    RAW_LIT(b, ",\"totalCount\":");
    skt_jw_int(b, total);
}

void
skt_rc_response_exists(skt_jw_t *b, int exists)
{
    if (exists)
        RAW_LIT(b, ",\"exists\":true");
    else
        RAW_LIT(b, ",\"exists\":false");
}

void
skt_rc_response_list_begin(skt_jw_t *b, const char *field)
{
    RAW_LIT(b, ",\"");
    skt_jw_raw(b, field, strlen(field));
    RAW_LIT(b, "\":[");
}

void
skt_rc_response_member(skt_jw_t *b, const char *user_id, int id_number, const char *user_info)
{
    buf_item_sep(b);
    RAW_LIT(b, "[");
    skt_jw_id(b, user_id, strlen(user_id), id_number);
    RAW_LIT(b, ",");
    if (user_info && *user_info)
        skt_jw_raw(b, user_info, strlen(user_info));
    else
        RAW_LIT(b, "null");
    RAW_LIT(b, "]");
}

void
skt_rc_response_channel_count(skt_jw_t *b, const char *channel, long count)
{
    buf_item_sep(b);
    RAW_LIT(b, "[");
    buf_cstr(b, channel);
    RAW_LIT(b, ",");
    skt_jw_int(b, count);
    RAW_LIT(b, "]");
}

void
skt_rc_response_socket(skt_jw_t *b, const char *id)
{
    buf_item_sep(b);
    RAW_LIT(b, "{\"id\":");
    buf_cstr(b, id);
    RAW_LIT(b, ",\"subscribedChannels\":{},\"presence\":{}}");
}

void
skt_rc_response_channel_begin(skt_jw_t *b, const char *channel)
{
    buf_item_sep(b);
    RAW_LIT(b, "[");
    buf_cstr(b, channel);
    RAW_LIT(b, ",[");
}

void
skt_rc_response_id(skt_jw_t *b, const char *id)
{
    buf_item_sep(b);
    buf_cstr(b, id);
}

void
skt_rc_response_channel_end(skt_jw_t *b)
{
    RAW_LIT(b, "]]");
}

void
skt_rc_response_list_end(skt_jw_t *b)
{
    RAW_LIT(b, "]");
}

void
skt_rc_response_partial(skt_jw_t *b)
{
    RAW_LIT(b, ",\"partial\":true");
}

void
skt_rc_response_end(skt_jw_t *b)
{
    RAW_LIT(b, "}");
}

int
skt_rc_decode_response(const char *text, size_t len, skt_rc_response_t *out)
{
    memset(out, 0, sizeof(*out));
    json_t *root = load_object(text, len);
    if (!root)
        return -1;
    out->root = root;
    out->request_id = get_str(root, "requestId");
    json_t *v = json_object_get(root, "totalCount");
    if (!out->request_id)
        goto bad;
    if (v) {
        if (count_value(v, &out->total) != 0)
            goto bad;
        out->has_total = 1;
    }
    if ((v = json_object_get(root, "exists"))) {
        if (!json_is_boolean(v))
            goto bad;
        out->has_exists = 1;
        out->exists = json_is_true(v);
    }
    if (array_field(root, "members", &out->members) != 0 ||
        array_field(root, "channelsWithSocketsCount", &out->channels_with_count) != 0 ||
        array_field(root, "sockets", &out->sockets) != 0)
        goto bad;
    out->partial = json_is_true(json_object_get(root, "partial"));
    return 0;
bad:
    skt_rc_response_clear(out);
    return -1;
}

void
skt_rc_response_clear(skt_rc_response_t *r)
{
    json_decref(r->root);
    memset(r, 0, sizeof(*r));
}

/* The two elements of a [key, value] pair at arr[i], or -1. */
static int
pair_at(json_t *arr, size_t i, json_t **k, json_t **v)
{
    json_t *pair = json_array_get(arr, i);
    if (!json_is_array(pair) || json_array_size(pair) < 1)
        return -1;
    *k = json_array_get(pair, 0);
    *v = json_array_get(pair, 1); /* NULL when absent: JSON.stringify writes undefined as null */
    return 0;
}

int
skt_rc_member_at(const skt_rc_response_t *r, size_t i, const char **user_id, int *id_number,
                 char *idbuf, char **info_json)
{
    json_t *k, *v;
    if (!r->members || pair_at(r->members, i, &k, &v) != 0)
        return -1;
    *user_id = id_text(k, idbuf);
    *id_number = json_is_integer(k);
    if (!*user_id)
        return -1;
    *info_json =
        v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER) : strdup("null");
    return *info_json ? 0 : -1;
}

int
skt_rc_channel_count_at(const skt_rc_response_t *r, size_t i, const char **channel, long *count)
{
    json_t *k, *v;
    long long n;
    if (!r->channels_with_count || pair_at(r->channels_with_count, i, &k, &v) != 0 ||
        !json_is_string(k) || json_string_length(k) == 0 || !json_is_integer(v) ||
        count_value(v, &n) != 0)
        return -1;
    *channel = json_string_value(k);
    *count = (long)n;
    return 0;
}

int
skt_rc_socket_at(const skt_rc_response_t *r, size_t i, const char **id)
{
    json_t *s = r->sockets ? json_array_get(r->sockets, i) : NULL;
    *id = json_is_object(s) ? get_str(s, "id") : NULL;
    return *id ? 0 : -1;
}
