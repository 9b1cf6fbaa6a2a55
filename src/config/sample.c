/* sample.c - the documented sample INI file (conf/soketi.conf) and the --help text, both
 * written from the option table.
 */
#include <ctype.h>
#include <jansson.h>
#include <limits.h>
#include <stddef.h>
#include <string.h>

#include "config/config.h"
#include "config/options.h"

#ifndef SOKETI_PLUGIN_DIR
#define SOKETI_PLUGIN_DIR "/usr/local/lib/soketi/plugins"
#endif

/* What values an option takes, for the sample and --help: "integer, 0-65535". */
static void
describe_type(const skt_option_t *o, char *buf, size_t n)
{
    const char *t = "";
    size_t len;
    switch (o->type) {
    case SKT_OPT_BOOL:
        t = "true or false";
        break;
    case SKT_OPT_INT:
        t = "integer";
        break;
    case SKT_OPT_NUMBER:
        t = "number";
        break;
    case SKT_OPT_STRING:
        t = "string";
        break;
    case SKT_OPT_LIST:
        t = "list of strings (JSON array)";
        break;
    case SKT_OPT_JSON:
        t = (o->flags & SKT_OPT_JSON_STRING)   ? "string or JSON array"
            : (o->flags & SKT_OPT_JSON_ARRAY)  ? "JSON array"
            : (o->flags & SKT_OPT_JSON_OBJECT) ? "JSON object"
                                               : "JSON";
        break;
    case SKT_OPT_APPS:
        t = "JSON array of apps";
        break;
    }
    if (o->choices) {
        len = (size_t)snprintf(buf, n, "one of ");
        for (const char *const *c = o->choices; *c && len < n; c++)
            len += (size_t)snprintf(buf + len, n - len, "%s%s", *c, c[1] ? ", " : "");
    } else {
        len = (size_t)snprintf(buf, n, "%s", t);
    }
    if ((o->flags & SKT_OPT_RANGE) && len < n) {
        if (o->flags & SKT_OPT_MIN_EXCL)
            len += (size_t)snprintf(buf + len, n - len, " > %ld", o->min);
        else if (o->max != LONG_MAX)
            len += (size_t)snprintf(buf + len, n - len, ", %ld-%ld", o->min, o->max);
        else
            len += (size_t)snprintf(buf + len, n - len, " >= %ld", o->min);
        if ((o->flags & SKT_OPT_MIN_EXCL) && o->max != LONG_MAX && len < n)
            len += (size_t)snprintf(buf + len, n - len, ", at most %ld", o->max);
    }
    if ((o->flags & SKT_OPT_NULLABLE) && len < n)
        snprintf(buf + len, n - len, ", or null");
}

/* Whether a string can be written unquoted in the INI file and read back as itself. */
static int
ini_plain_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || isspace((unsigned char)s[0]) || isspace((unsigned char)s[n - 1]) ||
        strchr(";#", s[0]) || strstr(s, " ;") || strstr(s, "\t;"))
        return 0;
    json_t *v = json_loads(s, JSON_DECODE_ANY, NULL);
    int ok = !v || json_is_number(v);
    json_decref(v);
    return ok;
}

/* The INI text of a value given as JSON text (an option's or an app field's default). */
static void
ini_value_text(const char *json_text, char *buf, size_t n)
{
    json_t *v = json_loads(json_text, JSON_DECODE_ANY, NULL);
    if (json_is_string(v) && ini_plain_ok(json_string_value(v)))
        snprintf(buf, n, "%s", json_string_value(v));
    else
        snprintf(buf, n, "%s", json_text);
    json_decref(v);
}

static const char sample_header[] =
    "; soketi.conf - sample configuration of soketi-c, every option at soketi's default.\n"
    ";\n"
    "; Options come from three sources over the built-in defaults; each overrides the one\n"
    "; before it:\n"
    ";   1. an INI file like this one;\n"
    ";   2. a soketi-style JSON file: {\"port\": 6001, \"adapter.redis.prefix\": \"x\"},\n"
    ";      nested objects allowed ({\"adapter\": {\"redis\": {\"prefix\": \"x\"}}});\n"
    ";   3. SOKETI_* environment variables (SOKETI_PORT=6002), named below.\n"
    ";\n"
    "; A [section] is the dotted prefix of the names under it: \"prefix = x\" under\n"
    "; [adapter.redis] sets adapter.redis.prefix. Keys before any section are top-level.\n"
    "; Values are read the way soketi reads its environment: as JSON when they parse as JSON\n"
    "; (6001, true, [\"a\", \"b\"], {\"k\": 1}, \"quoted text\"), else as the text itself.\n"
    "; Lines starting with ; or # are comments, and so is the rest of a line from a ; that\n"
    "; follows a blank. Uncomment a line to change its option.\n"
    ";\n"
    "; Apps (appManager.driver = array) are the sections [appManager.array.apps.0],\n"
    "; [appManager.array.apps.1], ... numbered from 0 without gaps. apps.0 is soketi's default\n"
    "; app (app-id/app-key/app-secret, also set by the SOKETI_DEFAULT_APP_* variables). Each\n"
    "; app needs a unique id and key and a secret; its limits default to the global\n"
    "; presence.*, channelLimits.* and eventLimits.* options. A JSON file can instead give\n"
    "; the whole list: {\"appManager.array.apps\": [{\"id\": \"...\", ...}]}.\n";

/* The section an option is written under: its name up to the last dot ("" at top level). */
static size_t
section_len(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot ? (size_t)(dot - name) : 0;
}

static void
write_sample_option(FILE *f, const skt_option_t *o)
{
    char type[160];
    char value[512];
    const char *key = o->name + section_len(o->name) + (section_len(o->name) ? 1 : 0);

    describe_type(o, type, sizeof(type));
    type[0] = (char)toupper((unsigned char)type[0]);
    fprintf(f, "\n; %s\n", o->doc);
    if (o->env)
        fprintf(f, "; %s. Environment: %s.\n", type, o->env);
    else
        fprintf(f, "; %s.\n", type);
    if (o->flags & SKT_OPT_DYNAMIC) {
        fprintf(f, ";%s =\n", key);
        return;
    }
    ini_value_text(o->def, value, sizeof(value));
    fprintf(f, ";%s = %s\n", key, value);
}

/* The default app as the [appManager.array.apps.0] section. */
static void
write_sample_apps(FILE *f, const skt_option_t *o)
{
    json_t *list = skt_apps_default_list();
    json_t *app = json_array_get(list, 0);
    const char *field, *def, *global, *doc;
    char value[512];

    fprintf(f, "\n; %s\n[appManager.array.apps.0]\n", o->doc);
    for (size_t i = 0; (field = skt_apps_field_info(i, &def, &global, &doc)); i++) {
        const char *env = NULL;
        char *text = NULL;

        for (size_t e = 0; e < skt_options_app_env_count; e++)
            if (strcmp(skt_options_app_env[e].field, field) == 0)
                env = skt_options_app_env[e].env;
        fprintf(f, "\n; %s\n", doc);
        if (global) {
            fprintf(f, "; Default: the global %s.\n", global);
            def = skt_options_find(global)->def;
        } else if (!def) {
            def = text = json_dumps(json_object_get(app, field), JSON_COMPACT | JSON_ENCODE_ANY);
        }
        if (env)
            fprintf(f, "; Environment (apps.0 only): %s.\n", env);
        ini_value_text(def ? def : "null", value, sizeof(value));
        fprintf(f, ";%s = %s\n", field, value);
        free(text);
    }
    fprintf(f, "\n; More apps: [appManager.array.apps.1] with at least id, key and secret.\n");
    json_decref(list);
}

void
skt_config_write_sample(FILE *f)
{
    fputs(sample_header, f);
    /* Top-level options first: a key after a [section] would belong to it. */
    for (size_t i = 0; i < skt_options_count; i++)
        if (section_len(skt_options[i].name) == 0)
            write_sample_option(f, &skt_options[i]);
    /* Then each section once, in the order the table first names it. */
    for (size_t i = 0; i < skt_options_count; i++) {
        const skt_option_t *o = &skt_options[i];
        size_t sl = section_len(o->name);
        int seen = 0;
        if (sl == 0)
            continue;
        for (size_t j = 0; j < i && !seen; j++)
            seen = section_len(skt_options[j].name) == sl &&
                   strncmp(skt_options[j].name, o->name, sl) == 0;
        if (seen)
            continue;
        if (o->type == SKT_OPT_APPS) {
            write_sample_apps(f, o);
            continue;
        }
        fprintf(f, "\n[%.*s]\n", (int)sl, o->name);
        for (size_t j = i; j < skt_options_count; j++)
            if (section_len(skt_options[j].name) == sl &&
                strncmp(skt_options[j].name, o->name, sl) == 0)
                write_sample_option(f, &skt_options[j]);
    }
}

void
skt_config_write_help(FILE *f)
{
    char type[160];
    char def[512];

    fprintf(f, "Options (soketi's dotted names; set them in the INI file, the JSON file or the\n"
               "environment, each overriding the one before):\n");
    for (size_t i = 0; i < skt_options_count; i++) {
        const skt_option_t *o = &skt_options[i];
        describe_type(o, type, sizeof(type));
        if (o->type == SKT_OPT_APPS)
            snprintf(def, sizeof(def), "one app: app-id / app-key / app-secret");
        else if (o->offset == offsetof(skt_config_t, plugin_dir))
            snprintf(def, sizeof(def), "%s", SOKETI_PLUGIN_DIR);
        else if (o->offset == offsetof(skt_config_t, ws_max_payload_in_kb))
            snprintf(def, sizeof(def), "derived from the apps' limits (104 with soketi's)");
        else if (o->flags & SKT_OPT_DYNAMIC)
            snprintf(def, sizeof(def), "the process id");
        else
            ini_value_text(o->def, def, sizeof(def));
        fprintf(f, "\n  %s%s%s%s\n      %s\n      Default: %s. Takes %s.\n", o->name,
                o->env ? " (" : "", o->env ? o->env : "", o->env ? ")" : "", o->doc, def, type);
    }
    fprintf(f, "\nThe default app (apps[0]) also takes these variables:\n");
    for (size_t i = 0; i < skt_options_app_env_count; i++)
        fprintf(f, "  %-46s appManager.array.apps.0.%s\n", skt_options_app_env[i].env,
                skt_options_app_env[i].field);
}
