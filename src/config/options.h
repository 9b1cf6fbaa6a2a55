/* options.h - the table of every soketi option, and the typed conversions of their values.
 *
 * DESIGN
 * skt_options[] lists each option exactly once: soketi's dotted name, its SOKETI_* variable,
 * its type, its soketi default (as JSON text), where it lives in skt_config_t, the values it
 * may take, and a one-line doc. The loader, the sample file, --help and plugin lookups are
 * all driven by it, so adding an option is adding a row (and a field to skt_config_t).
 *
 * Values arrive as JSON (a JSON file) or as text read the soketi way (JSON if it parses,
 * else the text itself: see skt_options_parse_text()). The skt_options_to_*() converters turn
 * such a value into a C value with soketi's leniency (a number where a string is expected
 * becomes its text, "true"/"false" are booleans, "42" is an integer) and otherwise fail with a
 * message saying what was expected and what was got. apps.c uses the same converters.
 */
#ifndef SKT_CONFIG_OPTIONS_H
#define SKT_CONFIG_OPTIONS_H

#include <jansson.h>
#include <stddef.h>

typedef enum skt_option_type_e {
    SKT_OPT_BOOL,   /* int 0/1 */
    SKT_OPT_INT,    /* long */
    SKT_OPT_NUMBER, /* double */
    SKT_OPT_STRING, /* char *, malloc'd */
    SKT_OPT_LIST,   /* NULL-terminated char **, each malloc'd */
    SKT_OPT_JSON,   /* json_t *, one reference */
    SKT_OPT_APPS,   /* appManager.array.apps: handled by the loader and apps.c */
} skt_option_type_t;

/* skt_option_t.flags */
#define SKT_OPT_NULLABLE 0x01    /* JSON null is a valid value (soketi's default is null) */
#define SKT_OPT_DYNAMIC 0x02     /* the default is computed at load (def is NULL) */
#define SKT_OPT_RANGE 0x04       /* check min <= value <= max */
#define SKT_OPT_MIN_EXCL 0x08    /* with SKT_OPT_RANGE: value > min instead of >= */
#define SKT_OPT_JSON_OBJECT 0x10 /* SKT_OPT_JSON: an object is allowed */
#define SKT_OPT_JSON_ARRAY 0x20  /* SKT_OPT_JSON: an array is allowed */
#define SKT_OPT_JSON_STRING 0x40 /* SKT_OPT_JSON: a string is allowed */
#define SKT_OPT_SOKETI_C 0x80    /* soketi-c's own option, not in soketi 1.6 */

typedef struct skt_option_s {
    const char *name; /* soketi's dotted name, e.g. "adapter.redis.prefix" */
    const char *env;  /* "SOKETI_ADAPTER_REDIS_PREFIX", or NULL when none */
    skt_option_type_t type;
    unsigned flags;             /* SKT_OPT_* */
    const char *def;            /* default as JSON text; NULL with SKT_OPT_DYNAMIC */
    size_t offset;              /* of the field in skt_config_t */
    long min, max;              /* with SKT_OPT_RANGE (max LONG_MAX: no upper bound) */
    const char *const *choices; /* NULL-terminated allowed string values, or NULL */
    const char *doc;            /* one line */
} skt_option_t;

extern const skt_option_t skt_options[];
extern const size_t skt_options_count;

/* An environment variable of soketi that sets a field of the default app (apps[0]). */
typedef struct skt_option_app_env_s {
    const char *env;   /* "SOKETI_DEFAULT_APP_ID" */
    const char *field; /* the app key it sets, "id" */
} skt_option_app_env_t;

extern const skt_option_app_env_t skt_options_app_env[];
extern const size_t skt_options_app_env_count;

/* The option named dotted, or NULL. */
const skt_option_t *skt_options_find(const char *dotted);
/* The option whose variable is the len bytes at name, or NULL. */
const skt_option_t *skt_options_find_env(const char *name, size_t len);
/* The default-app field set by the variable at name (len bytes), or NULL. */
const skt_option_app_env_t *skt_options_find_app_env(const char *name, size_t len);
/* 1 when some option's name starts with prefix followed by a dot ("adapter.redis"), else 0. */
int skt_options_is_prefix(const char *prefix);

/* Reads text the way soketi reads its environment: the JSON value if text parses as JSON
 * (any value, surrounding blanks allowed), else the string text itself. New reference; NULL
 * only when out of memory. */
json_t *skt_options_parse_text(const char *text);

/* Converters. v: the value (borrowed). raw: the text v was parsed from (INI/env), or NULL.
 * Each returns 0 with the result in *out, or -1 with a message in err such as
 * "expected an integer, got 'abc'". */
int skt_options_to_bool(const json_t *v, const char *raw, int *out, char *err, size_t errlen);
int skt_options_to_long(const json_t *v, const char *raw, long *out, char *err, size_t errlen);
int skt_options_to_double(const json_t *v, const char *raw, double *out, char *err, size_t errlen);
/* *out is malloc'd; a number or boolean becomes its text (raw when given). */
int skt_options_to_string(const json_t *v, const char *raw, char **out, char *err, size_t errlen);

/* Text of a JSON number as JavaScript prints it (6001, 2.5, 0.1). buf of at least 32 bytes. */
void skt_options_number_text(const json_t *v, char *buf, size_t n);

/* Sets option o in the configuration at base from v (raw as for the converters): converts,
 * checks type, range and choices, frees the old value. JSON null sets a nullable option to
 * null (NULL, SKT_CONFIG_INT_NULL, json_null()); for any other option, null parsed from raw
 * text is that text ("null"), as soketi reads its environment. Returns 0, or -1 with a message in
 * err that does not repeat the option's name ("70000 is out of range (0-65535)"); the old value is
 * then kept. */
int skt_options_set(const skt_option_t *o, void *base, const json_t *v, const char *raw, char *err,
                    size_t errlen);

/* Frees the value of o at base and leaves a zero/NULL there. */
void skt_options_clear(const skt_option_t *o, void *base);

/* The value of o at base as text (see skt_config_get_text()); malloc'd, NULL if out of memory. */
char *skt_options_format(const skt_option_t *o, const void *base);

#endif
