/* webhook_events.c - the webhook events soketi sends, and what an app's webhooks cannot send
 * (said once per load). Pure JSON work: queuing and delivery are in webhooks.c, which of an
 * app's webhooks selects which event in webhook_select.c.
 */
#include "features/webhooks.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "features/curl_loop.h"
#include "features/lambda.h"
#include "util/log.h"

/* ------------------------------------------------------------ events */

static const struct {
    const char *name;
    unsigned bit;
} event_types[] = {
    {"client_event", SKT_WH_CLIENT_EVENT},
    {"channel_occupied", SKT_WH_CHANNEL_OCCUPIED},
    {"channel_vacated", SKT_WH_CHANNEL_VACATED},
    {"member_added", SKT_WH_MEMBER_ADDED},
    {"member_removed", SKT_WH_MEMBER_REMOVED},
    {"cache_miss", SKT_WH_CACHE_MISS},
    {"subscription_count", SKT_WH_SUBSCRIPTION_COUNT},
};

unsigned
skt_webhooks_wanted(const skt_app_t *app)
{
    unsigned bits = 0;
    size_t i, t;
    json_t *hook, *type;
    if (!app || !json_array_size(app->webhooks))
        return 0;
    json_array_foreach(app->webhooks, i, hook)
    {
        if (!json_is_string(json_object_get(hook, "url")) &&
            !json_is_string(json_object_get(hook, "lambda_function")))
            continue;
        json_array_foreach(json_object_get(hook, "event_types"), t, type)
        {
            for (size_t k = 0; k < sizeof(event_types) / sizeof(event_types[0]); k++)
                if (json_is_string(type) &&
                    strcmp(json_string_value(type), event_types[k].name) == 0)
                    bits |= event_types[k].bit;
        }
    }
    return bits;
}

static unsigned
bit_of(const char *name)
{
    for (size_t k = 0; k < sizeof(event_types) / sizeof(event_types[0]); k++)
        if (strcmp(name, event_types[k].name) == 0)
            return event_types[k].bit;
    return 0;
}

static int
wants(const skt_app_t *app, const char *name)
{
    return (skt_webhooks_wanted(app) & bit_of(name)) != 0;
}

/* A user id with the type the application gave it: an integer when id_number and the text
 * is one, else a string. */
static json_t *
user_id_value(const char *user_id, int id_number)
{
    if (id_number) {
        char *end;
        errno = 0;
        long long n = strtoll(user_id, &end, 10);
        if (*user_id && *end == '\0' && errno == 0)
            return json_integer((json_int_t)n);
    }
    return json_string(user_id);
}

/* {name, channel} and, when user_id is not NULL, user_id: when the app wants name. */
static void
channel_event(skt_webhooks_t *wh, const skt_app_t *app, const char *name, const char *channel,
              const char *user_id, int id_number)
{
    if (!wants(app, name))
        return;
    json_t *ev = json_pack("{s:s, s:s}", "name", name, "channel", channel);
    if (ev && user_id)
        json_object_set_new(ev, "user_id", user_id_value(user_id, id_number));
    skt_webhooks_send(wh, app, ev);
}

void
skt_webhooks_channel_occupied(skt_webhooks_t *wh, const skt_app_t *app, const char *channel)
{
    channel_event(wh, app, "channel_occupied", channel, NULL, 0);
}

void
skt_webhooks_channel_vacated(skt_webhooks_t *wh, const skt_app_t *app, const char *channel)
{
    channel_event(wh, app, "channel_vacated", channel, NULL, 0);
}

void
skt_webhooks_cache_miss(skt_webhooks_t *wh, const skt_app_t *app, const char *channel)
{
    channel_event(wh, app, "cache_miss", channel, NULL, 0);
}

void
skt_webhooks_member_added(skt_webhooks_t *wh, const skt_app_t *app, const char *channel,
                          const char *user_id, int id_number)
{
    channel_event(wh, app, "member_added", channel, user_id, id_number);
}

void
skt_webhooks_member_removed(skt_webhooks_t *wh, const skt_app_t *app, const char *channel,
                            const char *user_id, int id_number)
{
    channel_event(wh, app, "member_removed", channel, user_id, id_number);
}

void
skt_webhooks_client_event(skt_webhooks_t *wh, const skt_app_t *app, const char *channel,
                          const char *event, json_t *data, const char *socket_id,
                          const char *user_id, int id_number)
{
    if (!wants(app, "client_event"))
        return;
    json_t *ev =
        json_pack("{s:s, s:s, s:s}", "name", "client_event", "channel", channel, "event", event);
    if (ev && data)
        json_object_set(ev, "data", data);
    if (ev && socket_id)
        json_object_set_new(ev, "socket_id", json_string(socket_id));
    if (ev && user_id)
        json_object_set_new(ev, "user_id", user_id_value(user_id, id_number));
    skt_webhooks_send(wh, app, ev);
}

void
skt_webhooks_subscription_count(skt_webhooks_t *wh, const skt_app_t *app, const char *channel,
                                long count)
{
    if (wants(app, "subscription_count"))
        skt_webhooks_send(wh, app,
                          json_pack("{s:s, s:s, s:I}", "name", "subscription_count", "channel",
                                    channel, "subscription_count", (json_int_t)count));
}

/* A lambda_function webhook that cannot be invoked (no credentials, a bad region or
 * endpoint), or whose client_options soketi-c partly ignores: said once, at (re)load. */
static void
check_lambda(const skt_app_t *app, size_t k, const json_t *hook, const skt_lambda_env_t *env)
{
    char why[256], ignored[256];
    skt_lambda_target_t *t = skt_lambda_target(hook, env, why, sizeof(why));
    if (!t)
        skt_log(SKT_LOG_WARN,
                "webhooks: app %s: webhooks[%zu] (Lambda function %.200s): %s: it is never "
                "invoked (each of its webhooks counts as failed)",
                app->id, k, json_string_value(json_object_get(hook, "lambda_function")), why);
    skt_lambda_target_free(t);
    skt_lambda_ignored_options(hook, ignored, sizeof(ignored));
    if (*ignored)
        skt_log(SKT_LOG_WARN,
                "webhooks: app %s: webhooks[%zu]: lambda.client_options not supported by "
                "soketi-c, ignored: %s",
                app->id, k, ignored);
}

void
skt_webhooks_check_apps(const skt_apps_t *apps)
{
    skt_lambda_env_t env;
    skt_lambda_env_read(&env);
    for (size_t i = 0; i < skt_apps_count(apps); i++) {
        const skt_app_t *app = skt_apps_at(apps, i);
        size_t k;
        json_t *hook;
        json_array_foreach(app->webhooks, k, hook)
        {
            const char *url = json_string_value(json_object_get(hook, "url"));
            if (!url)
                check_lambda(app, k, hook, &env);
            else if (!skt_curl_url_ok(url))
                skt_log(SKT_LOG_WARN,
                        "webhooks: app %s: webhooks[%zu] url is not http:// or https://: it "
                        "is never sent to (each of its webhooks counts as failed)",
                        app->id, k);
        }
    }
    skt_lambda_env_free(&env);
}
