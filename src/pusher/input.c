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
skt_input_user_id(const json_t *v)
{
    char buf[32];
    if (json_is_string(v) && json_string_length(v) > 0)
        return strdup(json_string_value(v));
    if (json_is_integer(v)) {
        snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
        return strdup(buf);
    }
    return NULL;
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
