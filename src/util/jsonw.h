/* jsonw.h - a JSON text writer: messages written straight into one buffer, no trees.
 *
 * DESIGN
 * Every JSON text the daemon sends that has a fixed shape (Pusher messages, HTTP API
 * answers) is written with these calls in order, key by key, instead of being built as a
 * jansson tree and dumped: a value is encoded once, where it lands. Strings are escaped
 * as jansson escapes them ('"', '\\', the control characters as \b \f \n \r \t or
 * \u00XX), so a text is byte for byte what json_dumps() made of the same value before
 * (and the same as JavaScript's JSON.stringify but for the case of those hex digits). A value that
 * arrives as a jansson tree (a client's data object) is written into the same buffer, keys in
 * insertion order, its numbers as JSON.stringify writes them (soketi forwards what
 * JSON.parse made of a client's text): a fraction in its shortest round-trip digits
 * (0.1, not jansson's 0.10000000000000001; 1.0 as 1; 1e+21; 5e-7); integers exactly, where
 * JavaScript would round those past 2^53.
 *
 * Pusher puts JSON inside JSON strings ("data":"{\"presence\":...}"). Between
 * skt_jw_text_begin() and skt_jw_text_end() everything written is escaped once more, so
 * the inner document is written with the same calls, once, already quoted.
 *
 * The writer starts in a buffer the caller gives (usually on the stack) and moves to the
 * heap only when a text outgrows it; a zeroed skt_jw_t is a valid writer that starts on the
 * heap. The text is kept NUL-terminated (p[len] is 0) once anything was written. A failed
 * allocation, or a text longer than the writer's max, sets `failed`: every later call is a no-op
 * and the text must not be used. Nothing here touches a socket.
 */
#ifndef SKT_UTIL_JSONW_H
#define SKT_UTIL_JSONW_H

#include <jansson.h>
#include <stddef.h>

typedef struct skt_jw_s {
    char *p;          /* the text so far (not NUL-terminated until skt_jw_cstr) */
    size_t len, cap;  /* bytes written, bytes available at p */
    size_t max;       /* longest text allowed (0: no limit besides memory) */
    char *stack;      /* the caller's initial buffer, never freed here */
    size_t stack_cap; /* its size */
    unsigned nested;  /* 1 inside skt_jw_text_begin(): bytes are escaped once more (one
                       * level only: Pusher never nests a text in a text) */
    int failed;       /* out of memory or over max: discard the text */
    int lower_hex;    /* 1: \u00xx as JavaScript's JSON.stringify writes it (what soketi's
                       * nodes exchange); 0: as jansson (what clients always got from us) */
    int count_only;   /* 1: nothing is stored, len counts what would be (skt_jw_json_len) */
} skt_jw_t;

/* Declares writer `name` over a buffer of n bytes on the stack: the usual start. */
#define SKT_JW_ON_STACK(name, n)                                                                   \
    char name##_stack[n];                                                                          \
    skt_jw_t name;                                                                                 \
    skt_jw_init(&name, name##_stack, sizeof(name##_stack), 0)

/* Starts an empty text in buf (cap bytes, may be NULL/0). max: the longest text the
 * writer accepts (0: unlimited). */
void skt_jw_init(skt_jw_t *w, char *buf, size_t cap, size_t max);
/* Frees the heap buffer, if the text moved there. The writer may be re-initialised. */
void skt_jw_free(skt_jw_t *w);
/* Empties the text, keeping the buffer. */
void skt_jw_reset(skt_jw_t *w);
/* Empties the text, keeping a heap buffer of up to max_keep bytes for the next one. */
void skt_jw_trim(skt_jw_t *w, size_t max_keep);

/* Appends n bytes of JSON text as they are (escaped when nested). */
void skt_jw_raw(skt_jw_t *w, const char *s, size_t n);
/* Appends a NUL-terminated literal of JSON text. */
void skt_jw_lit(skt_jw_t *w, const char *s);
/* Appends n bytes of UTF-8 as a quoted JSON string. */
void skt_jw_str(skt_jw_t *w, const char *s, size_t n);
/* The same for a NUL-terminated string. */
void skt_jw_cstr_value(skt_jw_t *w, const char *s);
/* Appends a presence user id (n bytes): as a number when as_number and s is an integer's
 * text (an optional '-', then 1 to 19 digits), else as a quoted string, so an id keeps the
 * JSON type the application gave it and a false claim of "number" cannot inject JSON. */
void skt_jw_id(skt_jw_t *w, const char *s, size_t n, int as_number);
/* Appends an integer. */
void skt_jw_int(skt_jw_t *w, long long v);
/* Appends true or false. */
void skt_jw_bool(skt_jw_t *w, int v);
/* Appends a number as JavaScript's JSON.stringify writes it (NaN and infinities: null). */
void skt_jw_real(skt_jw_t *w, double d);
/* Appends any jansson value (NULL writes null), compact, keys in insertion order, numbers
 * as skt_jw_int / skt_jw_real write them. */
void skt_jw_json(skt_jw_t *w, const json_t *v);
/* The length of v's text as skt_jw_json writes it, without writing it anywhere. */
size_t skt_jw_json_len(const json_t *v);
/* v's text as skt_jw_json writes it, NUL-terminated, on the heap (the caller frees it), its
 * length in *len when len is not NULL; NULL when out of memory. */
char *skt_jw_dump(const json_t *v, size_t *len);
/* Appends `"key":`; with first 0 a comma goes before it. */
void skt_jw_key(skt_jw_t *w, const char *key, int first);

/* Opens a JSON string whose content is the JSON text written until skt_jw_text_end(). */
void skt_jw_text_begin(skt_jw_t *w);
void skt_jw_text_end(skt_jw_t *w);

/* The text, NUL-terminated (valid until the next call on w); NULL when failed. */
const char *skt_jw_cstr(skt_jw_t *w, size_t *len);

#endif
