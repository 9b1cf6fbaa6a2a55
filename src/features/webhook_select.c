/* webhook_select.c - which of an app's webhooks selects which event: its event_types and its
 * filter (channel_name_starts_with / channel_name_ends_with), as soketi 1.6 filters. Pure JSON
 * work, the leaf below both the events (webhook_events.c) and the sender (webhooks.c).
 */
#include "features/webhooks.h"

#include <string.h>

static int
has_type(const json_t *hook, const char *name)
{
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(hook, "event_types"), i,
                       t) if (json_is_string(t) &&
                              strcmp(json_string_value(t), name) == 0) return 1;
    return 0;
}

static int
passes_filter(const json_t *hook, const char *channel)
{
    const json_t *filter = json_object_get(hook, "filter");
    const char *starts = json_string_value(json_object_get(filter, "channel_name_starts_with"));
    const char *ends = json_string_value(json_object_get(filter, "channel_name_ends_with"));
    size_t cl = strlen(channel);
    if (starts && *starts && strncmp(channel, starts, strlen(starts)) != 0)
        return 0;
    if (ends && *ends && (strlen(ends) > cl || strcmp(channel + cl - strlen(ends), ends) != 0))
        return 0;
    return 1;
}

int
skt_webhooks_selects(const json_t *hook, const char *name, const char *channel)
{
    return name && channel && has_type(hook, name) && passes_filter(hook, channel);
}

json_t *
skt_webhooks_select(const json_t *hook, const json_t *list)
{
    json_t *out = json_array();
    size_t i;
    json_t *ev;
    json_array_foreach(list, i, ev)
    {
        if (skt_webhooks_selects(hook, json_string_value(json_object_get(ev, "name")),
                                 json_string_value(json_object_get(ev, "channel"))))
            json_array_append(out, ev);
    }
    return out;
}
