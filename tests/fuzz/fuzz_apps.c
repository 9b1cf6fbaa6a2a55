/* fuzz_apps.c - libFuzzer target: the app list (src/config/apps.h).
 *
 * The input is JSON text, as appManager.array.apps arrives in a JSON file or a variable. An
 * array goes through skt_apps_normalize() app by app and then skt_apps_build(); an object is
 * one app, also fed field by field to skt_apps_set_field() (with and without the raw text an
 * INI file would give), and read as a database row by skt_apps_from_row() (an app manager's
 * answer: other members ignored). Checks: a built list finds each of its apps by id and by key, and
 * its JSON form normalizes and builds again into the same list.
 */
#include "fuzz.h"

#include <jansson.h>

#include "config/apps.h"
#include "util/log.h"

FZ_INITIALIZE(skt_log_set_level(SKT_LOG_ERROR); json_object_seed(1))

static const skt_app_defaults_t defaults = {
    .max_presence_members_per_channel = 100,
    .max_presence_member_size_kb = 2,
    .max_channel_name_length = 200,
    .max_event_channels_at_once = 100,
    .max_event_name_length = 200,
    .max_event_payload_kb = 100,
    .max_event_batch_size = 10,
};

/* Normalizes every app of list; NULL when one is refused. */
static json_t *
normalize_all(const json_t *list)
{
    json_t *canon = json_array();
    char err[400];
    FZ_CHECK(canon != NULL);
    for (size_t i = 0; i < json_array_size(list); i++) {
        json_t *app;
        if (skt_apps_normalize(json_array_get(list, i), &app, err, sizeof(err)) < 0) {
            FZ_CHECK(err[0] != '\0');
            json_decref(canon);
            return NULL;
        }
        json_array_append_new(canon, app);
    }
    return canon;
}

/* Builds the list and checks it. Returns its JSON form (new reference), NULL when refused. */
static json_t *
build(const json_t *canon)
{
    skt_apps_t *apps = NULL;
    char err[400];
    if (skt_apps_build(canon, &defaults, &apps, err, sizeof(err)) < 0) {
        FZ_CHECK(apps == NULL && err[0] != '\0');
        return NULL;
    }
    size_t n = skt_apps_count(apps);
    FZ_CHECK(n == json_array_size(canon) && skt_apps_at(apps, n) == NULL);
    for (size_t i = 0; i < n; i++) {
        skt_app_t *a = skt_apps_at(apps, i);
        FZ_CHECK(a && a->id[0] && a->key[0] && a->secret[0]);
        FZ_CHECK(skt_apps_by_id(apps, a->id, strlen(a->id)) == a);
        FZ_CHECK(skt_apps_by_key(apps, a->key, strlen(a->key)) == a);
    }
    json_t *dump = skt_apps_to_json(apps);
    FZ_CHECK(dump != NULL);
    skt_apps_free(apps);
    return dump;
}

/* A built list's JSON form normalizes and builds again into the same list. */
static void
build_twice(const json_t *canon)
{
    json_t *dump = build(canon);
    if (!dump)
        return;
    json_t *canon2 = normalize_all(dump);
    FZ_CHECK(canon2 != NULL);
    json_t *dump2 = build(canon2);
    FZ_CHECK(dump2 != NULL && json_equal(dump, dump2));
    json_decref(dump);
    json_decref(dump2);
    json_decref(canon2);
}

/* One app object field by field, as the INI reader and the environment set them. */
static void
set_fields(const json_t *obj)
{
    json_t *app = json_object();
    const char *k;
    json_t *v;
    char err[400];
    FZ_CHECK(app != NULL);
    json_object_foreach((json_t *)obj, k, v)
    {
        char *raw = json_is_string(v) ? strdup(json_string_value(v))
                                      : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        FZ_CHECK(raw != NULL);
        if (skt_apps_set_field(app, k, v, NULL, err, sizeof(err)) < 0)
            FZ_CHECK(err[0] != '\0');
        if (skt_apps_set_field(app, k, v, raw, err, sizeof(err)) < 0)
            FZ_CHECK(err[0] != '\0');
        free(raw);
    }
    json_decref(app);
}

/* The object as an app manager's row: an app whose JSON form is a valid app, or refused. */
static void
from_row(const json_t *obj)
{
    skt_apps_t *one = NULL;
    char err[400];
    if (skt_apps_from_row(obj, &defaults, &one, err, sizeof(err)) < 0) {
        FZ_CHECK(one == NULL && err[0] != '\0');
        return;
    }
    FZ_CHECK(skt_apps_count(one) == 1);
    json_t *dump = skt_apps_to_json(one);
    FZ_CHECK(dump != NULL);
    json_t *canon = normalize_all(dump); /* strict: only app keys came out */
    FZ_CHECK(canon != NULL);
    json_t *again = build(canon);
    FZ_CHECK(again != NULL && json_equal(dump, again));
    json_decref(again);
    json_decref(canon);
    json_decref(dump);
    skt_apps_free(one);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *v = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (!v)
        return 0;
    if (json_is_object(v)) {
        set_fields(v);
        from_row(v);
        json_t *list = json_pack("[O]", v);
        json_decref(v);
        v = list;
    }
    if (json_is_array(v)) {
        json_t *canon = normalize_all(v);
        if (canon)
            build_twice(canon);
        json_decref(canon);
    }
    json_decref(v);
    return 0;
}
