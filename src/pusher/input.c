/* input.c - what the protocol accepts from clients and the HTTP API (input.h). */
#include "pusher/input.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* json_dump_callback's sink that only counts. */
static int
input_count_cb(const char *buffer, size_t size, void *data)
{
    (void)buffer;
    *(size_t *)data += size;
    return 0;
}

size_t
skt_input_payload_size(const json_t *data)
{
    size_t n = 0;
    if (!data)
        return 0;
    json_dump_callback(data, input_count_cb, &n, JSON_COMPACT | JSON_ENCODE_ANY);
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
