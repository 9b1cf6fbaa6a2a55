/* config.c - builds the configuration from defaults, an INI file, a JSON file and SOKETI_* vars.
 *
 * DESIGN
 * Every source funnels into set_path(): a dotted soketi name and a value (JSON, plus the raw
 * text when the value came from INI or the environment). A name is either an option of the
 * table (skt_options_set() converts and checks it at once), or part of the app list
 * "appManager.array.apps[.N[.field]]". Apps are merged as canonical JSON objects in
 * priv->apps (a JSON null marks an index not given yet) and only built into skt_apps_t at the
 * end, when the global limits they default to are final. The texts skt_config_get_text()
 * hands out are all made at the end of the load, so lookups never allocate or race.
 */
#include "config/config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/options.h"
#include "util/log.h"
#include "util/map.h"

#ifndef SOKETI_PLUGIN_DIR
#define SOKETI_PLUGIN_DIR "/usr/local/lib/soketi/plugins"
#endif

#define APPS_PATH "appManager.array.apps"
#define APPS_MAX_INDEX 9999
#define INI_LINE_MAX 65536

struct skt_config_priv_s {
    json_t *apps;    /* array of canonical app objects; null: index not given */
    char **texts;    /* skt_options_count texts, by table index */
    skt_map_t *text; /* dotted name -> text */
};

/* ---- setting one dotted name ------------------------------------------------------------ */

#define SET_OK 0
#define SET_ERROR (-1)
#define SET_UNKNOWN (-2)

/* Parses "N" or "N.field" after "appManager.array.apps."; returns the index or -1. *field is
 * set to the part after the dot, or NULL. */
static long
parse_app_index(const char *s, const char **field)
{
    long n = 0;
    const char *p = s;
    if (!isdigit((unsigned char)*p) || (p[0] == '0' && isdigit((unsigned char)p[1])))
        return -1;
    while (isdigit((unsigned char)*p)) {
        n = n * 10 + (*p++ - '0');
        if (n > APPS_MAX_INDEX + 1)
            n = APPS_MAX_INDEX + 1;
    }
    if (*p == '.' && p[1]) {
        *field = p + 1;
    } else if (*p == '\0') {
        *field = NULL;
    } else {
        return -1;
    }
    return n;
}

/* Replaces the whole app list from v (a JSON array of app objects, or its text). */
static int
set_app_list(skt_config_t *cfg, const json_t *v, char *why, size_t n)
{
    json_t *parsed = NULL;
    json_t *list;
    char e[400];

    if (json_is_string(v) && (parsed = json_loads(json_string_value(v), 0, NULL)))
        v = parsed;
    if (!json_is_array(v)) {
        json_decref(parsed);
        snprintf(why, n, "expected a JSON array of apps");
        return SET_ERROR;
    }
    list = json_array();
    for (size_t i = 0; list && i < json_array_size(v); i++) {
        json_t *canon;
        if (skt_apps_normalize(json_array_get(v, i), &canon, e, sizeof(e)) < 0) {
            snprintf(why, n, "apps[%zu]: %s", i, e);
            json_decref(list);
            json_decref(parsed);
            return SET_ERROR;
        }
        json_array_append_new(list, canon);
    }
    json_decref(parsed);
    if (!list) {
        snprintf(why, n, "out of memory");
        return SET_ERROR;
    }
    json_decref(cfg->priv->apps);
    cfg->priv->apps = list;
    return SET_OK;
}

/* Sets "appManager.array.apps.<rest>": one field of app N, or all of app N. */
static int
set_app_path(skt_config_t *cfg, const char *rest, json_t *v, const char *raw, char *why, size_t n)
{
    const char *field = NULL;
    long idx = parse_app_index(rest, &field);
    json_t *apps = cfg->priv->apps;
    char e[400];

    if (idx < 0)
        return SET_UNKNOWN;
    if (idx > APPS_MAX_INDEX) {
        snprintf(why, n, "app index %s is too large (at most %d)", rest, APPS_MAX_INDEX);
        return SET_ERROR;
    }
    while (json_array_size(apps) <= (size_t)idx)
        if (json_array_append_new(apps, json_null()) < 0) {
            snprintf(why, n, "out of memory");
            return SET_ERROR;
        }
    if (!field) {
        /* A whole app object (in text form too, from INI or the environment). */
        json_t *canon;
        json_t *parsed = NULL;
        if (json_is_string(v) && (parsed = json_loads(json_string_value(v), 0, NULL)))
            v = parsed;
        int rc = skt_apps_normalize(v, &canon, e, sizeof(e));
        json_decref(parsed);
        if (rc < 0) {
            snprintf(why, n, "apps[%ld]: %s", idx, e);
            return SET_ERROR;
        }
        json_array_set_new(apps, (size_t)idx, canon);
        return SET_OK;
    }
    json_t *app = json_array_get(apps, (size_t)idx);
    if (json_is_null(app)) {
        app = json_object();
        if (!app || json_array_set_new(apps, (size_t)idx, app) < 0) {
            snprintf(why, n, "out of memory");
            return SET_ERROR;
        }
    }
    if (skt_apps_set_field(app, field, v, raw, e, sizeof(e)) < 0) {
        snprintf(why, n, "apps[%ld]: %s", idx, e);
        return SET_ERROR;
    }
    return SET_OK;
}

/* Sets the dotted name to v (raw: its text from INI/env, else NULL). Returns SET_OK,
 * SET_ERROR with a message in why, or SET_UNKNOWN when name is no option. For an option, why
 * starts with what is wrong with the value (the caller names the option). */
static int
set_path(skt_config_t *cfg, const char *name, json_t *v, const char *raw, char *why, size_t n)
{
    const skt_option_t *o = skt_options_find(name);
    if (o && o->type == SKT_OPT_APPS)
        return set_app_list(cfg, v, why, n);
    if (o)
        return skt_options_set(o, cfg, v, raw, why, n) < 0 ? SET_ERROR : SET_OK;
    if (strncmp(name, APPS_PATH ".", sizeof(APPS_PATH)) == 0)
        return set_app_path(cfg, name + sizeof(APPS_PATH), v, raw, why, n);
    return SET_UNKNOWN;
}

/* Whether the name is an app path, whose messages already say which app ("apps[1]: ..."). */
static int
is_app_path(const char *name)
{
    return strncmp(name, APPS_PATH ".", sizeof(APPS_PATH)) == 0;
}

/* ---- INI file --------------------------------------------------------------------------- */

typedef struct ini_ctx_s {
    skt_config_t *cfg;
    const char *path;
    const char *cur; /* next unread byte of the file's text */
    const char *end; /* its end */
    int line;        /* lines handed to inih so far */
    int too_long;
    int failed;
    char *err;
    size_t errlen;
} ini_ctx_t;

/* fgets-style reader over the file's text, so that we know the line inih is at. */
static char *
ini_read_line(char *str, int num, void *stream)
{
    ini_ctx_t *c = stream;
    if (c->failed || c->too_long || c->cur == c->end)
        return NULL;
    const char *nl = memchr(c->cur, '\n', (size_t)(c->end - c->cur));
    size_t len = nl ? (size_t)(nl - c->cur) + 1 : (size_t)(c->end - c->cur);
    c->line++;
    if (len > (size_t)num - 1) {
        c->too_long = 1;
        return NULL;
    }
    memcpy(str, c->cur, len);
    str[len] = '\0';
    c->cur += len;
    return str;
}

/* inih's callback: one "name = value" under a section. */
static int
ini_on_value(void *user, const char *section, const char *name, const char *value)
{
    ini_ctx_t *c = user;
    char dotted[512];
    char why[512];

    if (c->failed)
        return 0;
    if (*section)
        snprintf(dotted, sizeof(dotted), "%s.%s", section, name);
    else
        snprintf(dotted, sizeof(dotted), "%s", name);

    json_t *v = skt_options_parse_text(value);
    int rc = v ? set_path(c->cfg, dotted, v, value, why, sizeof(why)) : SET_ERROR;
    if (!v)
        snprintf(why, sizeof(why), "out of memory");
    json_decref(v);
    if (rc == SET_OK)
        return 1;
    c->failed = 1;
    if (rc == SET_UNKNOWN)
        snprintf(c->err, c->errlen, "%s:%d: unknown option '%s'", c->path, c->line, dotted);
    else if (is_app_path(dotted))
        snprintf(c->err, c->errlen, "%s:%d: %s", c->path, c->line, why);
    else
        snprintf(c->err, c->errlen, "%s:%d: option '%s': %s", c->path, c->line, dotted, why);
    return 0;
}

/* Reads a whole file into a buffer (malloc'd) of *lenp bytes, NUL-terminated too. */
static char *
read_file(const char *path, size_t *lenp, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, cap = 0;

    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    for (;;) {
        if (cap - len < 4096) {
            char *nb = realloc(buf, cap = cap * 2 + 8192);
            if (!nb) {
                snprintf(err, errlen, "%s: out of memory", path);
                goto fail;
            }
            buf = nb;
        }
        size_t got = fread(buf + len, 1, cap - len - 1, f);
        len += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
        goto fail;
    }
    buf[len] = '\0';
    fclose(f);
    *lenp = len;
    return buf;
fail:
    free(buf);
    fclose(f);
    return NULL;
}

/* A source's text holds no NUL byte: one would end the line or document early. */
static int
text_has_nul(const char *text, size_t len, const char *path, char *err, size_t errlen)
{
    if (!memchr(text, '\0', len))
        return 0;
    snprintf(err, errlen, "%s: contains a NUL byte", path);
    return 1;
}

/* Applies the INI text text[0..len); path names it in messages. */
static int
load_ini_text(skt_config_t *cfg, const char *path, const char *text, size_t len, char *err,
              size_t errlen)
{
    ini_ctx_t c = {
        .cfg = cfg, .path = path, .cur = text, .end = text + len, .err = err, .errlen = errlen};
    int rc;

    if (text_has_nul(text, len, path, err, errlen))
        return -1;

    /* This inih keeps its settings in globals: set ours for this parse only. No multi-line
     * values (an indented line is a line of its own), one heap line buffer of
     * INI_LINE_MAX bytes (long JSON values fit), stop at the first error. */
    bool saved_multiline = ini_allow_multiline, saved_stack = ini_use_stack,
         saved_realloc = ini_allow_realloc, saved_stop = ini_stop_on_first_error;
    int saved_initial = ini_initial_alloc, saved_max = ini_max_line;
    ini_allow_multiline = false;
    ini_use_stack = false;
    ini_allow_realloc = false;
    ini_stop_on_first_error = true;
    ini_initial_alloc = INI_LINE_MAX;
    ini_max_line = INI_LINE_MAX;

    rc = ini_parse_stream(ini_read_line, &c, ini_on_value, &c);

    ini_allow_multiline = saved_multiline;
    ini_use_stack = saved_stack;
    ini_allow_realloc = saved_realloc;
    ini_stop_on_first_error = saved_stop;
    ini_initial_alloc = saved_initial;
    ini_max_line = saved_max;

    if (c.failed)
        return -1;
    if (c.too_long) {
        snprintf(err, errlen, "%s:%d: line is longer than %d bytes", path, c.line,
                 INI_LINE_MAX - 2);
        return -1;
    }
    if (rc > 0) {
        snprintf(err, errlen, "%s:%d: syntax error (expected '[section]' or 'name = value')", path,
                 rc);
        return -1;
    }
    if (rc < 0) {
        snprintf(err, errlen, "%s: cannot parse (out of memory)", path);
        return -1;
    }
    return 0;
}

/* ---- JSON file -------------------------------------------------------------------------- */

/* Applies every member of obj under prefix: a known name is set; an object under a prefix of
 * option names ({"adapter": {"redis": {...}}}) is walked into. */
static int
load_json_object(skt_config_t *cfg, const char *path, const char *prefix, json_t *obj, char *err,
                 size_t errlen)
{
    const char *k;
    json_t *v;
    char name[512];
    char why[512];

    json_object_foreach(obj, k, v)
    {
        if (prefix)
            snprintf(name, sizeof(name), "%s.%s", prefix, k);
        else
            snprintf(name, sizeof(name), "%s", k);
        int rc = set_path(cfg, name, v, NULL, why, sizeof(why));
        if (rc == SET_UNKNOWN && json_is_object(v) && skt_options_is_prefix(name)) {
            if (load_json_object(cfg, path, name, v, err, errlen) < 0)
                return -1;
            continue;
        }
        if (rc == SET_UNKNOWN) {
            snprintf(err, errlen, "%s: unknown key '%s'", path, name);
            return -1;
        }
        if (rc == SET_ERROR) {
            snprintf(err, errlen, "%s: key '%s': %s", path, name, why);
            return -1;
        }
    }
    return 0;
}

/* Applies the JSON text text[0..len); path names it in messages. */
static int
load_json_text(skt_config_t *cfg, const char *path, const char *text, size_t len, char *err,
               size_t errlen)
{
    json_error_t jerr;
    json_t *root;
    int rc;

    if (text_has_nul(text, len, path, err, errlen))
        return -1;
    root = json_loadb(text, len, 0, &jerr);
    if (!root) {
        if (jerr.line > 0)
            snprintf(err, errlen, "%s:%d:%d: invalid JSON: %s", path, jerr.line, jerr.column,
                     jerr.text);
        else
            snprintf(err, errlen, "%s: %s", path, jerr.text);
        return -1;
    }
    if (!json_is_object(root)) {
        snprintf(err, errlen, "%s: expected a JSON object of options", path);
        json_decref(root);
        return -1;
    }
    rc = load_json_object(cfg, path, NULL, root, err, errlen);
    json_decref(root);
    return rc;
}

/* Applies one file source: its text in memory when given, else the file at path. */
static int
load_source(skt_config_t *cfg, const char *path, const char *text, size_t len,
            int (*apply)(skt_config_t *, const char *, const char *, size_t, char *, size_t),
            const char *unnamed, char *err, size_t errlen)
{
    if (text)
        return apply(cfg, path ? path : unnamed, text, len, err, errlen);
    char *file = read_file(path, &len, err, errlen);
    if (!file)
        return -1;
    int rc = apply(cfg, path, file, len, err, errlen);
    free(file);
    return rc;
}

/* ---- environment ------------------------------------------------------------------------ */

static int
load_env(skt_config_t *cfg, char **env, char *err, size_t errlen)
{
    char why[512];
    char name[256];

    for (char **e = env; *e; e++) {
        const char *eq = strchr(*e, '=');
        if (strncmp(*e, "SOKETI_", 7) != 0 || !eq)
            continue;
        size_t len = (size_t)(eq - *e);
        const char *value = eq + 1;
        const skt_option_t *o = skt_options_find_env(*e, len);
        const skt_option_app_env_t *a = o ? NULL : skt_options_find_app_env(*e, len);

        if (!o && !a) {
            skt_log(SKT_LOG_WARN, "ignoring unknown environment variable %.*s", (int)len, *e);
            continue;
        }
        /* cli.ts: `process.env[...] || null`, so an empty variable is no variable. */
        if (!*value)
            continue;
        if (o)
            snprintf(name, sizeof(name), "%s", o->name);
        else
            snprintf(name, sizeof(name), APPS_PATH ".0.%s", a->field);
        json_t *v = skt_options_parse_text(value);
        int rc = v ? set_path(cfg, name, v, value, why, sizeof(why)) : SET_ERROR;
        if (!v)
            snprintf(why, sizeof(why), "out of memory");
        json_decref(v);
        if (rc != SET_OK) {
            snprintf(err, errlen, "%.*s: %s", (int)len, *e, why);
            return -1;
        }
    }
    return 0;
}

/* ---- load, free, lookups ---------------------------------------------------------------- */

/* Sets every option to soketi's default. */
static int
set_defaults(skt_config_t *cfg, char *err, size_t errlen)
{
    char why[256];
    char pid[32];

    for (size_t i = 0; i < skt_options_count; i++) {
        const skt_option_t *o = &skt_options[i];
        json_t *v = NULL;
        if (o->type == SKT_OPT_APPS)
            continue;
        if (o->offset == offsetof(skt_config_t, ws_max_payload_in_kb))
            continue; /* 0 until the apps are known (derive_ws_max_payload) */
        if (o->flags & SKT_OPT_DYNAMIC) {
            if (o->offset == offsetof(skt_config_t, plugin_dir)) {
                v = json_string(SOKETI_PLUGIN_DIR);
            } else {
                snprintf(pid, sizeof(pid), "%ld", (long)getpid());
                v = json_string(pid);
            }
        } else {
            v = json_loads(o->def, JSON_DECODE_ANY, NULL);
        }
        if (!v || skt_options_set(o, cfg, v, NULL, why, sizeof(why)) < 0) {
            snprintf(err, errlen, "default of '%s': %s", o->name, v ? why : "out of memory");
            json_decref(v);
            return -1;
        }
        json_decref(v);
    }
    cfg->priv->apps = skt_apps_default_list();
    if (!cfg->priv->apps) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* Makes the text of every option, once, for skt_config_get_text(). */
static int
make_texts(skt_config_t *cfg)
{
    struct skt_config_priv_s *p = cfg->priv;
    p->texts = calloc(skt_options_count, sizeof(char *));
    p->text = skt_map_new();
    if (!p->texts || !p->text)
        return -1;
    for (size_t i = 0; i < skt_options_count; i++) {
        const skt_option_t *o = &skt_options[i];
        if (o->type == SKT_OPT_APPS) {
            json_t *apps = skt_apps_to_json(cfg->apps);
            p->texts[i] = apps ? json_dumps(apps, JSON_COMPACT) : NULL;
            json_decref(apps);
        } else {
            p->texts[i] = skt_options_format(o, cfg);
        }
        if (!p->texts[i] || skt_map_put(p->text, o->name, strlen(o->name), p->texts[i]) < 0)
            return -1;
    }
    return 0;
}

/* wsMaxPayloadInKb when not set: no Pusher message can usefully be larger than
 * the largest event payload or presence member info an app accepts, plus an
 * envelope of 4 KB (event and channel names, auth signature, socket id). */
static void
derive_ws_max_payload(skt_config_t *cfg)
{
    double kb = 0;
    if (cfg->ws_max_payload_in_kb)
        return;
    /* Apps read from a database are not known yet: the global limits they default to. */
    int db = cfg->app_manager.driver && strcmp(cfg->app_manager.driver, "array") != 0;
    if (db) {
        kb = cfg->event_limits.max_payload_in_kb;
        if (cfg->presence.max_member_size_in_kb > kb)
            kb = cfg->presence.max_member_size_in_kb;
    }
    for (size_t i = 0; !db && i < skt_apps_count(cfg->apps); i++) {
        const skt_app_t *a = skt_apps_at(cfg->apps, i);
        if (a->max_event_payload_kb > kb)
            kb = a->max_event_payload_kb;
        if (a->max_presence_member_size_kb > kb)
            kb = a->max_presence_member_size_kb;
    }
    if (!(kb < (double)(1L << 30)))
        kb = (double)(1L << 30); /* 1 TB: no limit, and kb converts to a long (NaN too) */
    long whole = (long)kb;
    cfg->ws_max_payload_in_kb = whole + (kb > (double)whole) + 4; /* rounded up */
}

/* workers.count from workers.text: "auto" is the number of cores online, else a whole
 * number from 1 to SKT_CONFIG_MAX_WORKERS. Returns 0, or -1 with the reason in err. */
static int
derive_workers(skt_config_t *cfg, char *err, size_t errlen)
{
    const char *t = cfg->workers.text ? cfg->workers.text : "1";
    char *end;
    long n;
    if (strcmp(t, "auto") == 0) {
        n = sysconf(_SC_NPROCESSORS_ONLN);
        n = n < 1 ? 1 : n > SKT_CONFIG_MAX_WORKERS ? SKT_CONFIG_MAX_WORKERS : n;
    } else {
        errno = 0;
        n = strtol(t, &end, 10);
        if (!*t || *end || errno || n < 1 || n > SKT_CONFIG_MAX_WORKERS) {
            snprintf(err, errlen, "workers: '%s' is neither auto nor a number from 1 to %d", t,
                     SKT_CONFIG_MAX_WORKERS);
            return -1;
        }
    }
    cfg->workers.count = n;
    return 0;
}

int
skt_config_load(const skt_config_sources_t *src, skt_config_t **out, char *err, size_t errlen)
{
    skt_config_t *cfg = calloc(1, sizeof(*cfg));
    *out = NULL;
    if (errlen)
        err[0] = '\0';
    if (!cfg || !(cfg->priv = calloc(1, sizeof(*cfg->priv)))) {
        free(cfg);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (set_defaults(cfg, err, errlen) < 0)
        goto fail;
    if (src && (src->ini_text || src->ini_path) &&
        load_source(cfg, src->ini_path, src->ini_text, src->ini_len, load_ini_text, "<ini>", err,
                    errlen) < 0)
        goto fail;
    if (src && (src->json_text || src->json_path) &&
        load_source(cfg, src->json_path, src->json_text, src->json_len, load_json_text, "<json>",
                    err, errlen) < 0)
        goto fail;
    if (src && src->environ && load_env(cfg, src->environ, err, errlen) < 0)
        goto fail;

    skt_app_defaults_t d;
    skt_config_app_defaults(cfg, &d);
    if (skt_apps_build(cfg->priv->apps, &d, &cfg->apps, err, errlen) < 0)
        goto fail;
    derive_ws_max_payload(cfg);
    if (derive_workers(cfg, err, errlen) < 0)
        goto fail;
    if (make_texts(cfg) < 0) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    *out = cfg;
    return 0;
fail:
    skt_config_free(cfg);
    return -1;
}

void
skt_config_app_defaults(const skt_config_t *cfg, skt_app_defaults_t *d)
{
    *d = (skt_app_defaults_t){
        .max_presence_members_per_channel = cfg->presence.max_members_per_channel,
        .max_presence_member_size_kb = cfg->presence.max_member_size_in_kb,
        .max_channel_name_length = cfg->channel_limits.max_name_length,
        .max_event_channels_at_once = cfg->event_limits.max_channels_at_once,
        .max_event_name_length = cfg->event_limits.max_name_length,
        .max_event_payload_kb = cfg->event_limits.max_payload_in_kb,
        .max_event_batch_size = cfg->event_limits.max_batch_size,
    };
}

void
skt_config_free(skt_config_t *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < skt_options_count; i++)
        skt_options_clear(&skt_options[i], cfg);
    skt_apps_free(cfg->apps);
    if (cfg->priv) {
        json_decref(cfg->priv->apps);
        if (cfg->priv->texts)
            for (size_t i = 0; i < skt_options_count; i++)
                free(cfg->priv->texts[i]);
        free(cfg->priv->texts);
        skt_map_free(cfg->priv->text);
        free(cfg->priv);
    }
    free(cfg);
}

const char *
skt_config_get_text(skt_config_t *cfg, const char *dotted)
{
    if (!cfg || !dotted || !cfg->priv->text)
        return NULL;
    return skt_map_get(cfg->priv->text, dotted, strlen(dotted));
}
