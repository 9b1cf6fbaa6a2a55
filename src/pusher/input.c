/* input.c - what the protocol accepts from clients and the HTTP API (input.h). */
#include "pusher/input.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/jsonw.h"

json_t *
skt_input_parse(const char *text, size_t len, json_error_t *err)
{
    json_error_t e;
    json_t *v = json_loadb(text, len, 0, &e);
    if (!v && json_error_code(&e) == json_error_numeric_overflow)
        v = json_loadb(text, len, JSON_DECODE_INT_AS_REAL, &e);
    if (!v && err)
        *err = e;
    return v;
}

const char *
skt_input_str(const json_t *obj, const char *key, size_t *len)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_string(v))
        return NULL;
    if (len)
        *len = json_string_length(v);
    return json_string_value(v);
}

char *
skt_input_user_id(const json_t *v, int *is_number)
{
    char buf[32];
    if (is_number)
        *is_number = json_is_integer(v);
    /* A NUL would cut the id short everywhere it goes (peers read it as text). */
    if (json_is_string(v) && json_string_length(v) > 0 &&
        !memchr(json_string_value(v), '\0', json_string_length(v)))
        return strdup(json_string_value(v));
    if (json_is_integer(v)) {
        snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
        return strdup(buf);
    }
    return NULL;
}

size_t
skt_input_payload_size(const json_t *data)
{
    if (!data)
        return 0;
    /* as it is relayed (util/jsonw.h), so as JSON.stringify measures it for soketi */
    size_t n = skt_jw_json_len(data);
    /* a string counts its content as sent, escapes included, without the quotes */
    return json_is_string(data) && n >= 2 ? n - 2 : n;
}

int
skt_input_rest_channel_ok(const char *name, size_t len, long max_len)
{
    static const char prefix[] = "#server-to-user-";
    const size_t pl = sizeof(prefix) - 1;
    if ((long)len > max_len)
        return 0;
    if (len > pl && memcmp(name, prefix, pl) == 0) {
        for (size_t i = pl; i < len; i++)
            if ((unsigned char)name[i] < 0x20)
                return 0;
        return 1;
    }
    return skt_input_channel_name_ok(name, len);
}

int
skt_input_channel_name_ok(const char *name, size_t len)
{
    size_t i = 0;
    if (len && name[0] == '#')
        i = 1;
    if (i == len)
        return 0;
    for (; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              (c && strchr("-_=@,.;", c))))
            return 0;
    }
    return 1;
}
