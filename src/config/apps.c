/* apps.c - the configured apps (soketi's appManager.array.apps): validation and lookup. */
#include "config/apps.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/options.h"
#include "util/map.h"

struct skt_apps_s {
    skt_app_t *v; /* n apps, never reallocated: the maps borrow their id and key */
    size_t n;
    skt_map_t *by_id;
    skt_map_t *by_key;
};

typedef enum field_kind_e {
    F_STRING,     /* id, key, secret */
    F_BOOL,       /* int */
    F_CONNS,      /* long; 0 or negative: unlimited (-1), as ws-handler.ts reads it */
    F_RATE,       /* long; negative: unlimited (-1) */
    F_POSITIVE,   /* long >= 1 */
    F_POSITIVE_D, /* double > 0 */
    F_WEBHOOKS,   /* json_t * array */
} field_kind_t;

typedef enum field_default_e {
    D_NONE,
    D_PRESENCE_MEMBERS,
    D_PRESENCE_SIZE,
    D_CHANNEL_NAME,
    D_EVENT_CHANNELS,
    D_EVENT_NAME,
    D_EVENT_PAYLOAD,
    D_EVENT_BATCH,
} field_default_t;

typedef struct field_s {
    const char *name;       /* canonical (soketi's AppInterface key) */
    const char *aliases[3]; /* every key app.ts reads, in its order (the last given wins) */
    field_kind_t kind;
    size_t offset;        /* in skt_app_t */
    field_default_t from; /* the global option the default comes from */
    const char *def;      /* else the default as JSON text (NULL: required) */
    const char *global;   /* the name of that global option, for the docs */
    const char *doc;      /* one line, for the sample file */
} field_t;

#define AOFF(f) offsetof(skt_app_t, f)

/* src/app.ts, field by field. */
static const field_t fields[] = {
    {"id", {"id", "AppId"}, F_STRING, AOFF(id), D_NONE, NULL, NULL, "App id (required, unique)."},
    {"key",
     {"key", "AppKey"},
     F_STRING,
     AOFF(key),
     D_NONE,
     NULL,
     NULL,
     "App key, the public half of the credentials (required, unique)."},
    {"secret",
     {"secret", "AppSecret"},
     F_STRING,
     AOFF(secret),
     D_NONE,
     NULL,
     NULL,
     "App secret, signs and checks auth (required)."},
    {"maxConnections",
     {"maxConnections", "MaxConnections", "max_connections"},
     F_CONNS,
     AOFF(max_connections),
     D_NONE,
     "-1",
     NULL,
     "Most simultaneous connections; -1 (or 0): unlimited."},
    {"enableClientMessages",
     {"enableClientMessages", "EnableClientMessages", "enable_client_messages"},
     F_BOOL,
     AOFF(enable_client_messages),
     D_NONE,
     "false",
     NULL,
     "Let clients send client-* events on private and presence channels."},
    {"enabled",
     {"enabled", "Enabled"},
     F_BOOL,
     AOFF(enabled),
     D_NONE,
     "true",
     NULL,
     "A disabled app refuses connections and API calls."},
    {"maxBackendEventsPerSecond",
     {"maxBackendEventsPerSecond", "MaxBackendEventsPerSecond", "max_backend_events_per_sec"},
     F_RATE,
     AOFF(max_backend_events_per_sec),
     D_NONE,
     "-1",
     NULL,
     "HTTP API events per second; -1: unlimited."},
    {"maxClientEventsPerSecond",
     {"maxClientEventsPerSecond", "MaxClientEventsPerSecond", "max_client_events_per_sec"},
     F_RATE,
     AOFF(max_client_events_per_sec),
     D_NONE,
     "-1",
     NULL,
     "Client events per second per connection; -1: unlimited."},
    {"maxReadRequestsPerSecond",
     {"maxReadRequestsPerSecond", "MaxReadRequestsPerSecond", "max_read_req_per_sec"},
     F_RATE,
     AOFF(max_read_req_per_sec),
     D_NONE,
     "-1",
     NULL,
     "HTTP API read requests per second; -1: unlimited."},
    {"webhooks",
     {"webhooks", "Webhooks"},
     F_WEBHOOKS,
     AOFF(webhooks),
     D_NONE,
     "[]",
     NULL,
     "JSON array, e.g. "
     "[{\"url\":\"https://example.com/hook\",\"event_types\":[\"channel_occupied\"]}]; "
     "a webhook may invoke an AWS Lambda function instead of a url: \"lambda_function\" and "
     "\"lambda\": {\"async\", \"region\", \"client_options\": {\"region\", \"endpoint\", "
     "\"credentials\"}}, credentials else from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and "
     "AWS_SESSION_TOKEN."},
    {"maxPresenceMembersPerChannel",
     {"maxPresenceMembersPerChannel", "MaxPresenceMembersPerChannel",
      "max_presence_members_per_channel"},
     F_POSITIVE,
     AOFF(max_presence_members_per_channel),
     D_PRESENCE_MEMBERS,
     NULL,
     "presence.maxMembersPerChannel",
     "Most members of one presence channel."},
    {"maxPresenceMemberSizeInKb",
     {"maxPresenceMemberSizeInKb", "MaxPresenceMemberSizeInKb", "max_presence_member_size_in_kb"},
     F_POSITIVE_D,
     AOFF(max_presence_member_size_kb),
     D_PRESENCE_SIZE,
     NULL,
     "presence.maxMemberSizeInKb",
     "Largest presence member info in KB."},
    {"maxChannelNameLength",
     {"maxChannelNameLength", "MaxChannelNameLength", "max_channel_name_length"},
     F_POSITIVE,
     AOFF(max_channel_name_length),
     D_CHANNEL_NAME,
     NULL,
     "channelLimits.maxNameLength",
     "Longest channel name allowed."},
    {"maxEventChannelsAtOnce",
     {"maxEventChannelsAtOnce", "MaxEventChannelsAtOnce", "max_event_channels_at_once"},
     F_POSITIVE,
     AOFF(max_event_channels_at_once),
     D_EVENT_CHANNELS,
     NULL,
     "eventLimits.maxChannelsAtOnce",
     "Most channels one HTTP API event may go to."},
    {"maxEventNameLength",
     {"maxEventNameLength", "MaxEventNameLength", "max_event_name_length"},
     F_POSITIVE,
     AOFF(max_event_name_length),
     D_EVENT_NAME,
     NULL,
     "eventLimits.maxNameLength",
     "Longest event name allowed."},
    {"maxEventPayloadInKb",
     {"maxEventPayloadInKb", "MaxEventPayloadInKb", "max_event_payload_in_kb"},
     F_POSITIVE_D,
     AOFF(max_event_payload_kb),
     D_EVENT_PAYLOAD,
     NULL,
     "eventLimits.maxPayloadInKb",
     "Largest event payload in KB."},
    {"maxEventBatchSize",
     {"maxEventBatchSize", "MaxEventBatchSize", "max_event_batch_size"},
     F_POSITIVE,
     AOFF(max_event_batch_size),
     D_EVENT_BATCH,
     NULL,
     "eventLimits.maxBatchSize",
     "Most events in one HTTP API batch."},
    {"enableUserAuthentication",
     {"enableUserAuthentication", "EnableUserAuthentication", "enable_user_authentication"},
     F_BOOL,
     AOFF(enable_user_authentication),
     D_NONE,
     "false",
     NULL,
     "Require pusher:signin within userAuthenticationTimeout."},
    {"enableSubscriptionCount",
     {"enableSubscriptionCount", "EnableSubscriptionCount", "enable_subscription_count"},
     F_BOOL,
     AOFF(enable_subscription_count),
     D_NONE,
     "false",
     NULL,
     "Send pusher_internal:subscription_count to the subscribers of non-presence channels "
     "on each change (Pusher's subscription counting; channels over 100 at most every 5 s)."},
};

#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

static const char *const webhook_events[] = {
    "client_event",   "channel_occupied", "channel_vacated",    "member_added",
    "member_removed", "cache_miss",       "subscription_count", NULL};

/* The field one of whose keys is name, or NULL. */
static const field_t *
find_field(const char *name)
{
    for (size_t i = 0; i < NFIELDS; i++)
        for (size_t a = 0; a < 3 && fields[i].aliases[a]; a++)
            if (strcmp(fields[i].aliases[a], name) == 0)
                return &fields[i];
    return NULL;
}

/* app.ts treats a missing key, null and "" alike: the default applies. */
static int
is_absent(const json_t *v)
{
    return !v || json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0);
}

/* Checks that v is a string or absent; name says where, for the message. */
static int
check_string_member(const json_t *obj, const char *key, const char *where, char *err, size_t errlen)
{
    const json_t *v = json_object_get(obj, key);
    if (v && !json_is_string(v)) {
        snprintf(err, errlen, "%s: '%s' must be a string", where, key);
        return -1;
    }
    return 0;
}

/* Checks that every key of obj is in allowed (NULL-terminated). */
static int
check_keys(const json_t *obj, const char *const *allowed, const char *where, char *err,
           size_t errlen)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        const char *const *a = allowed;
        while (*a && strcmp(*a, k) != 0)
            a++;
        if (!*a) {
            snprintf(err, errlen, "%s: unknown key '%.60s'", where, k);
            return -1;
        }
    }
    return 0;
}

/* Checks the lambda.client_options that soketi-c reads (aws-sdk's Lambda options): what
 * would otherwise be ignored silently (an endpoint that is not a string would send to AWS
 * itself). Other keys are the SDK's own: accepted, warned about at start (webhooks.c). */
static int
check_client_options(const json_t *co, const char *where, char *err, size_t errlen)
{
    static const char *const strings[] = {"region", "endpoint", "accessKeyId", "secretAccessKey",
                                          "sessionToken"};
    char cwhere[96];
    snprintf(cwhere, sizeof(cwhere), "%s.client_options", where);
    for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++)
        if (check_string_member(co, strings[i], cwhere, err, errlen) < 0)
            return -1;
    const json_t *ssl = json_object_get(co, "sslEnabled");
    if (ssl && !json_is_boolean(ssl)) {
        snprintf(err, errlen, "%s: 'sslEnabled' must be true or false", cwhere);
        return -1;
    }
    const json_t *c = json_object_get(co, "credentials");
    if (!c)
        return 0;
    snprintf(cwhere, sizeof(cwhere), "%s.client_options.credentials", where);
    if (!json_is_object(c)) {
        snprintf(err, errlen, "%s: expected an object", cwhere);
        return -1;
    }
    for (size_t i = 2; i < sizeof(strings) / sizeof(strings[0]); i++)
        if (check_string_member(c, strings[i], cwhere, err, errlen) < 0)
            return -1;
    return 0;
}

/* Checks one webhook's shape as webhook-sender.ts uses it (WebhookInterface in app.ts). */
static int
check_webhook(const json_t *w, size_t i, char *err, size_t errlen)
{
    static const char *const keys[] = {
        "url", "headers", "lambda_function", "event_types", "filter", "lambda", NULL};
    static const char *const filter_keys[] = {"channel_name_starts_with", "channel_name_ends_with",
                                              NULL};
    static const char *const lambda_keys[] = {"async", "region", "client_options", NULL};
    char where[48];
    const char *k;
    json_t *v;

    snprintf(where, sizeof(where), "webhooks[%zu]", i);
    if (!json_is_object(w)) {
        snprintf(err, errlen, "%s: expected an object", where);
        return -1;
    }
    if (check_keys(w, keys, where, err, errlen) < 0 ||
        check_string_member(w, "url", where, err, errlen) < 0 ||
        check_string_member(w, "lambda_function", where, err, errlen) < 0)
        return -1;
    if (!json_object_get(w, "url") && !json_object_get(w, "lambda_function")) {
        snprintf(err, errlen, "%s: needs a 'url' or a 'lambda_function'", where);
        return -1;
    }

    const json_t *types = json_object_get(w, "event_types");
    if (!json_is_array(types)) {
        snprintf(err, errlen, "%s: 'event_types' must be an array of strings", where);
        return -1;
    }
    for (size_t t = 0; t < json_array_size(types); t++) {
        const json_t *e = json_array_get(types, t);
        const char *const *known = webhook_events;
        if (!json_is_string(e)) {
            snprintf(err, errlen, "%s: 'event_types' must be an array of strings", where);
            return -1;
        }
        while (*known && strcmp(*known, json_string_value(e)) != 0)
            known++;
        if (!*known) {
            snprintf(err, errlen,
                     "%s: unknown event type '%.60s' (expected one of: client_event, "
                     "channel_occupied, channel_vacated, member_added, member_removed, "
                     "cache_miss, subscription_count)",
                     where, json_string_value(e));
            return -1;
        }
    }

    const json_t *headers = json_object_get(w, "headers");
    if (headers) {
        if (!json_is_object(headers)) {
            snprintf(err, errlen, "%s: 'headers' must be an object of strings", where);
            return -1;
        }
        json_object_foreach((json_t *)headers, k, v)
        {
            if (!json_is_string(v)) {
                snprintf(err, errlen, "%s: header '%.60s' must be a string", where, k);
                return -1;
            }
        }
    }

    const json_t *filter = json_object_get(w, "filter");
    if (filter) {
        char fwhere[64];
        snprintf(fwhere, sizeof(fwhere), "%s.filter", where);
        if (!json_is_object(filter)) {
            snprintf(err, errlen, "%s: expected an object", fwhere);
            return -1;
        }
        if (check_keys(filter, filter_keys, fwhere, err, errlen) < 0 ||
            check_string_member(filter, filter_keys[0], fwhere, err, errlen) < 0 ||
            check_string_member(filter, filter_keys[1], fwhere, err, errlen) < 0)
            return -1;
    }

    const json_t *lambda = json_object_get(w, "lambda");
    if (lambda) {
        char lwhere[64];
        snprintf(lwhere, sizeof(lwhere), "%s.lambda", where);
        if (!json_is_object(lambda)) {
            snprintf(err, errlen, "%s: expected an object", lwhere);
            return -1;
        }
        if (check_keys(lambda, lambda_keys, lwhere, err, errlen) < 0 ||
            check_string_member(lambda, "region", lwhere, err, errlen) < 0)
            return -1;
        const json_t *a = json_object_get(lambda, "async");
        const json_t *co = json_object_get(lambda, "client_options");
        if (a && !json_is_boolean(a)) {
            snprintf(err, errlen, "%s: 'async' must be true or false", lwhere);
            return -1;
        }
        if (co && !json_is_object(co)) {
            snprintf(err, errlen, "%s: 'client_options' must be an object", lwhere);
            return -1;
        }
        if (co && check_client_options(co, lwhere, err, errlen) < 0)
            return -1;
    }
    return 0;
}

/* Converts v (raw: its text, or NULL) to the canonical JSON of field f. New reference, or
 * NULL with a message in err. */
/* A size in KiB as JSON: an integer when it is a whole number that fits a long (as JS prints
 * 2 and 2.5), else a real. The range check comes first: converting a double outside long's
 * range (1e30) is undefined behaviour. */
static json_t *
kb_json(double d)
{
    if (d > (double)LONG_MIN && d < (double)LONG_MAX && d == (double)(long)d)
        return json_integer((long)d);
    return json_real(d);
}

static json_t *
convert(const field_t *f, const char *name, const json_t *v, const char *raw, char *err,
        size_t errlen)
{
    char why[512];
    long l;
    double d;
    int b;
    char *s;
    json_t *out = NULL;

    switch (f->kind) {
    case F_STRING:
        if (skt_options_to_string(v, raw, &s, why, sizeof(why)) < 0)
            goto bad;
        out = json_string(s);
        free(s);
        break;
    case F_BOOL:
        if (skt_options_to_bool(v, raw, &b, why, sizeof(why)) < 0)
            goto bad;
        out = json_boolean(b);
        break;
    case F_CONNS:
    case F_RATE:
    case F_POSITIVE:
        if (skt_options_to_long(v, raw, &l, why, sizeof(why)) < 0)
            goto bad;
        if (f->kind == F_CONNS && l <= 0)
            l = -1;
        else if (f->kind == F_RATE && l < 0)
            l = -1;
        else if (f->kind == F_POSITIVE && l < 1) {
            snprintf(why, sizeof(why), "%ld is out of range (must be at least 1)", l);
            goto bad;
        }
        out = json_integer(l);
        break;
    case F_POSITIVE_D:
        if (skt_options_to_double(v, raw, &d, why, sizeof(why)) < 0)
            goto bad;
        if (!(d > 0)) {
            json_t *n = json_real(d);
            char text[64];
            skt_options_number_text(n, text, sizeof(text));
            json_decref(n);
            snprintf(why, sizeof(why), "%s is out of range (must be greater than 0)", text);
            goto bad;
        }
        out = kb_json(d);
        break;
    case F_WEBHOOKS: {
        /* app.ts also takes a JSON text of the array (transformPotentialJsonToArray). */
        json_t *parsed = NULL;
        if (json_is_string(v)) {
            parsed = json_loads(json_string_value(v), JSON_DECODE_ANY, NULL);
            if (parsed)
                v = parsed;
        }
        if (!json_is_array(v)) {
            char got[80];
            char *dump = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            const char *g = raw ? raw : json_is_string(v) ? json_string_value(v) : dump;
            snprintf(got, sizeof(got), "%.60s%s", g ? g : "?", g && strlen(g) > 60 ? "..." : "");
            free(dump);
            json_decref(parsed); /* v may be it: freed only once the message is made */
            snprintf(why, sizeof(why), "expected a JSON array of webhooks, got '%s'", got);
            goto bad;
        }
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (check_webhook(json_array_get(v, i), i, why, sizeof(why)) < 0) {
                json_decref(parsed);
                goto bad;
            }
        }
        out = json_deep_copy(v);
        json_decref(parsed);
        break;
    }
    }
    if (!out)
        snprintf(err, errlen, "out of memory");
    return out;
bad:
    snprintf(err, errlen, "'%s': %s", name, why);
    return NULL;
}

/* Removes every key of field f from app. */
static void
remove_field(json_t *app, const field_t *f)
{
    for (size_t a = 0; a < 3 && f->aliases[a]; a++)
        json_object_del(app, f->aliases[a]);
}

int
skt_apps_set_field(json_t *app, const char *name, json_t *value, const char *raw, char *err,
                   size_t errlen)
{
    const field_t *f = find_field(name);
    json_t *tmp = NULL;
    if (!f) {
        snprintf(err, errlen, "unknown key '%.60s'", name);
        return -1;
    }
    /* Text that parses as JSON null stays text, as soketi reads its environment. */
    if (json_is_null(value) && raw) {
        value = tmp = json_string(raw);
        if (!tmp) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    if (is_absent(value)) {
        remove_field(app, f);
        json_decref(tmp);
        return 0;
    }
    json_t *canon = convert(f, name, value, raw, err, errlen);
    json_decref(tmp);
    if (!canon)
        return -1;
    remove_field(app, f);
    if (json_object_set_new(app, f->name, canon) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* skt_apps_normalize, or with unknown keys ignored (lenient: a database row's other columns). */
static int
normalize(const json_t *in, int lenient, json_t **out, char *err, size_t errlen)
{
    const char *k;
    json_t *v;
    json_t *app;

    if (!json_is_object(in)) {
        char *dump = json_dumps(in, JSON_COMPACT | JSON_ENCODE_ANY);
        snprintf(err, errlen, "expected an app object, got '%.60s'", dump ? dump : "?");
        free(dump);
        return -1;
    }
    json_object_foreach((json_t *)in, k, v)
    {
        if (!lenient && !find_field(k)) {
            snprintf(err, errlen, "unknown key '%.60s'", k);
            return -1;
        }
    }
    app = json_object();
    if (!app) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < NFIELDS; i++) {
        const char *given = NULL;
        for (size_t a = 0; a < 3 && fields[i].aliases[a]; a++)
            if (!is_absent(json_object_get(in, fields[i].aliases[a])))
                given = fields[i].aliases[a];
        if (given &&
            skt_apps_set_field(app, given, json_object_get(in, given), NULL, err, errlen) < 0) {
            json_decref(app);
            return -1;
        }
    }
    *out = app;
    return 0;
}

int
skt_apps_normalize(const json_t *in, json_t **out, char *err, size_t errlen)
{
    return normalize(in, 0, out, err, errlen);
}

int
skt_apps_from_row(const json_t *row, const skt_app_defaults_t *defaults, skt_apps_t **out,
                  char *err, size_t errlen)
{
    json_t *canon = NULL, *list = NULL;
    *out = NULL;
    if (normalize(row, 1, &canon, err, errlen) < 0)
        return -1;
    if (!(list = json_array()) || json_array_append_new(list, canon) < 0) {
        json_decref(list);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = skt_apps_build(list, defaults, out, err, errlen);
    json_decref(list);
    /* "apps[0]: ..." names a list the row is not part of */
    if (rc < 0 && strncmp(err, "apps[0]: ", 9) == 0)
        memmove(err, err + 9, strlen(err + 9) + 1);
    return rc;
}

const char *
skt_apps_field_info(size_t i, const char **def, const char **global, const char **doc)
{
    if (i >= NFIELDS)
        return NULL;
    *def = fields[i].def;
    *global = fields[i].global;
    *doc = fields[i].doc;
    return fields[i].name;
}

json_t *
skt_apps_default_list(void)
{
    /* soketi's options.appManager.array.apps (src/server.ts). */
    return json_loads("[{\"id\":\"app-id\",\"key\":\"app-key\",\"secret\":\"app-secret\","
                      "\"maxConnections\":-1,\"enableClientMessages\":false,\"enabled\":true,"
                      "\"maxBackendEventsPerSecond\":-1,\"maxClientEventsPerSecond\":-1,"
                      "\"maxReadRequestsPerSecond\":-1,\"webhooks\":[]}]",
                      0, NULL);
}

/* Frees what one app owns. */
static void
app_clear(skt_app_t *app)
{
    free(app->id);
    free(app->key);
    free(app->secret);
    json_decref(app->webhooks);
}

void
skt_apps_free(skt_apps_t *apps)
{
    if (!apps)
        return;
    for (size_t i = 0; i < apps->n; i++)
        app_clear(&apps->v[i]);
    free(apps->v);
    skt_map_free(apps->by_id);
    skt_map_free(apps->by_key);
    free(apps);
}

/* Fills app from the canonical object c: given values, else defaults. */
static int
app_fill(skt_app_t *app, const json_t *c, const skt_app_defaults_t *d, size_t idx, char *err,
         size_t errlen)
{
    for (size_t i = 0; i < NFIELDS; i++) {
        const field_t *f = &fields[i];
        char *p = (char *)app + f->offset;
        json_t *v = json_object_get(c, f->name);
        json_t *def = NULL;

        if (!v && f->kind == F_STRING) {
            snprintf(err, errlen, "apps[%zu]: '%s' is missing or empty", idx, f->name);
            return -1;
        }
        if (!v && f->def)
            v = def = json_loads(f->def, JSON_DECODE_ANY, NULL);
        switch (f->kind) {
        case F_STRING:
            *(char **)p = strdup(json_string_value(v));
            if (!*(char **)p)
                goto oom;
            break;
        case F_BOOL:
            *(int *)p = json_is_true(v);
            break;
        case F_CONNS:
        case F_RATE:
        case F_POSITIVE:
            if (v)
                *(long *)p = (long)json_integer_value(v);
            else if (f->from == D_PRESENCE_MEMBERS)
                *(long *)p = d->max_presence_members_per_channel;
            else if (f->from == D_CHANNEL_NAME)
                *(long *)p = d->max_channel_name_length;
            else if (f->from == D_EVENT_CHANNELS)
                *(long *)p = d->max_event_channels_at_once;
            else if (f->from == D_EVENT_NAME)
                *(long *)p = d->max_event_name_length;
            else if (f->from == D_EVENT_BATCH)
                *(long *)p = d->max_event_batch_size;
            break;
        case F_POSITIVE_D:
            if (v)
                *(double *)p = json_number_value(v);
            else if (f->from == D_PRESENCE_SIZE)
                *(double *)p = d->max_presence_member_size_kb;
            else if (f->from == D_EVENT_PAYLOAD)
                *(double *)p = d->max_event_payload_kb;
            break;
        case F_WEBHOOKS:
            *(json_t **)p = json_deep_copy(v);
            if (!*(json_t **)p) {
                json_decref(def);
                goto oom;
            }
            break;
        }
        json_decref(def);
    }
    return 0;
oom:
    snprintf(err, errlen, "out of memory");
    return -1;
}

int
skt_apps_build(const json_t *list, const skt_app_defaults_t *defaults, skt_apps_t **out, char *err,
               size_t errlen)
{
    skt_apps_t *apps;
    size_t n;

    *out = NULL;
    if (!json_is_array(list)) {
        snprintf(err, errlen, "apps: expected a JSON array of apps");
        return -1;
    }
    n = json_array_size(list);
    apps = calloc(1, sizeof(*apps));
    if (!apps || !(apps->v = calloc(n ? n : 1, sizeof(skt_app_t))) ||
        !(apps->by_id = skt_map_new()) || !(apps->by_key = skt_map_new())) {
        skt_apps_free(apps);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *entry = json_array_get(list, i);
        json_t *canon = NULL;
        char why[400];
        skt_app_t *app = &apps->v[i];
        skt_app_t *other;

        if (json_is_null(entry)) {
            snprintf(err, errlen, "apps[%zu]: missing (apps are numbered 0, 1, 2... without gaps)",
                     i);
            goto fail;
        }
        if (skt_apps_normalize(entry, &canon, why, sizeof(why)) < 0) {
            snprintf(err, errlen, "apps[%zu]: %s", i, why);
            goto fail;
        }
        apps->n = i + 1;
        int rc = app_fill(app, canon, defaults, i, err, errlen);
        json_decref(canon);
        if (rc < 0)
            goto fail;
        if ((other = skt_map_get(apps->by_id, app->id, strlen(app->id)))) {
            snprintf(err, errlen, "apps[%zu]: duplicate id '%.60s' (also apps[%zu])", i, app->id,
                     (size_t)(other - apps->v));
            goto fail;
        }
        if ((other = skt_map_get(apps->by_key, app->key, strlen(app->key)))) {
            snprintf(err, errlen, "apps[%zu]: duplicate key '%.60s' (also apps[%zu])", i, app->key,
                     (size_t)(other - apps->v));
            goto fail;
        }
        if (skt_map_put(apps->by_id, app->id, strlen(app->id), app) < 0 ||
            skt_map_put(apps->by_key, app->key, strlen(app->key), app) < 0) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
    }
    *out = apps;
    return 0;
fail:
    skt_apps_free(apps);
    return -1;
}

json_t *
skt_apps_to_json(const skt_apps_t *apps)
{
    json_t *list = json_array();
    for (size_t i = 0; list && i < skt_apps_count(apps); i++) {
        const skt_app_t *app = &apps->v[i];
        json_t *o = json_object();
        if (!o || json_array_append_new(list, o) < 0) {
            json_decref(list);
            return NULL;
        }
        for (size_t f = 0; f < NFIELDS; f++) {
            const char *p = (const char *)app + fields[f].offset;
            json_t *v = NULL;
            switch (fields[f].kind) {
            case F_STRING:
                v = json_string(*(char *const *)p);
                break;
            case F_BOOL:
                v = json_boolean(*(const int *)p);
                break;
            case F_CONNS:
            case F_RATE:
            case F_POSITIVE:
                v = json_integer(*(const long *)p);
                break;
            case F_POSITIVE_D: {
                v = kb_json(*(const double *)p);
                break;
            }
            case F_WEBHOOKS:
                v = json_deep_copy(*(json_t *const *)p);
                break;
            }
            if (!v || json_object_set_new(o, fields[f].name, v) < 0) {
                json_decref(list);
                return NULL;
            }
        }
    }
    return list;
}

skt_app_t *
skt_apps_by_id(const skt_apps_t *apps, const char *id, size_t len)
{
    return apps ? skt_map_get(apps->by_id, id, len) : NULL;
}

skt_app_t *
skt_apps_by_key(const skt_apps_t *apps, const char *key, size_t len)
{
    return apps ? skt_map_get(apps->by_key, key, len) : NULL;
}

size_t
skt_apps_count(const skt_apps_t *apps)
{
    return apps ? apps->n : 0;
}

skt_app_t *
skt_apps_at(const skt_apps_t *apps, size_t i)
{
    return apps && i < apps->n ? &apps->v[i] : NULL;
}
