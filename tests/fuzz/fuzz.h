/* fuzz.h - what the libFuzzer targets share: cutting one input into pieces, and checks.
 *
 * DESIGN
 * A target gets one byte string per run. Targets that need several arguments cut it with
 * fz_field() into newline-separated fields (so that seeds stay readable text) and take
 * small numbers with fz_byte(). Every piece handed to the code under test is copied into
 * a heap block of exactly its size, so that AddressSanitizer sees a read one byte past it.
 * FZ_CHECK states an invariant of the code under test: a failure aborts, which libFuzzer
 * reports as a crash and saves the input as its reproducer.
 */
#ifndef SKT_TESTS_FUZZ_H
#define SKT_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FZ_CHECK(cond)                                                                             \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* libFuzzer's entry points: each target defines the second, and the first with FZ_INITIALIZE
 * when it needs set-up (json_object_seed(1): jansson seeds its hash tables at random, and
 * the same input must take the same path in every run). */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_INITIALIZE(...)                                                                         \
    int LLVMFuzzerInitialize(int *argc, char ***argv)                                              \
    {                                                                                              \
        (void)argc;                                                                                \
        (void)argv;                                                                                \
        __VA_ARGS__;                                                                               \
        return 0;                                                                                  \
    }

/* The unread rest of an input. */
typedef struct fz_in_s {
    const uint8_t *p;
    size_t n;
} fz_in_t;

/* Takes one byte (0 when the input is used up). */
static inline unsigned
fz_byte(fz_in_t *in)
{
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}

/* Takes the bytes up to the next newline (dropped) or the end; *len is their count. */
static inline const uint8_t *
fz_field(fz_in_t *in, size_t *len)
{
    const uint8_t *s = in->p;
    const uint8_t *nl = in->n ? memchr(s, '\n', in->n) : NULL;
    *len = nl ? (size_t)(nl - s) : in->n;
    in->p += *len + (nl ? 1 : 0);
    in->n -= *len + (nl ? 1 : 0);
    return s;
}

/* A heap copy of s[0..len) of exactly len bytes (one byte when len is 0, never read). */
static inline char *
fz_copy(const void *s, size_t len)
{
    char *c = malloc(len ? len : 1);
    if (!c)
        abort();
    if (len)
        memcpy(c, s, len);
    return c;
}

/* A NUL-terminated heap copy of s[0..len), cut at its first NUL byte. */
static inline char *
fz_cstr(const void *s, size_t len)
{
    const char *nul = len ? memchr(s, '\0', len) : NULL;
    size_t n = nul ? (size_t)(nul - (const char *)s) : len;
    char *c = malloc(n + 1);
    if (!c)
        abort();
    if (n)
        memcpy(c, s, n);
    c[n] = '\0';
    return c;
}

/* The next field as a NUL-terminated heap string (cut at a NUL byte). */
static inline char *
fz_field_cstr(fz_in_t *in)
{
    size_t len;
    const uint8_t *s = fz_field(in, &len);
    return fz_cstr(s, len);
}

#endif
