/* hist.c - latency histograms for soketi-bench: log-linear buckets that merge by addition.
 *
 * A value v below 128 has its own bucket; above, v falls in the power of two 2^e <= v < 2^(e+1)
 * split into 64 equal buckets, so a percentile is within 1.6 % of the truth whatever the
 * scale, and workers' histograms are summed bucket by bucket.
 */
#include <string.h>

#include "bench/bench.h"

#define SUB_BITS 6
#define SUB (1u << SUB_BITS)
#define LINEAR 128u
#define MAX_EXP (7 + 40 - 1)

void
bench_hist_init(bench_hist_t *h)
{
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

/* Bucket of v: linear below 128, then (exponent, top 6 bits below the leading one). */
static unsigned
bucket_of(uint64_t v)
{
    if (v < LINEAR)
        return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v);
    if (e > MAX_EXP)
        return BENCH_HIST_BUCKETS - 1;
    unsigned sub = (unsigned)(v >> (e - SUB_BITS)) - SUB;
    return LINEAR + (e - 7) * SUB + sub;
}

/* The middle of bucket i. */
static uint64_t
bucket_mid(unsigned i)
{
    if (i < LINEAR)
        return i;
    unsigned e = 7 + (i - LINEAR) / SUB, sub = (i - LINEAR) % SUB;
    uint64_t lo = (uint64_t)(SUB + sub) << (e - SUB_BITS);
    return lo + ((1ull << (e - SUB_BITS)) >> 1);
}

void
bench_hist_add(bench_hist_t *h, uint64_t v)
{
    h->c[bucket_of(v)]++;
    h->n++;
    h->sum += v;
    if (v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
}

void
bench_hist_merge(bench_hist_t *into, const bench_hist_t *from)
{
    if (!from->n)
        return;
    for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++)
        into->c[i] += from->c[i];
    into->n += from->n;
    into->sum += from->sum;
    if (from->min < into->min)
        into->min = from->min;
    if (from->max > into->max)
        into->max = from->max;
}

uint64_t
bench_hist_pct(const bench_hist_t *h, double p)
{
    if (!h->n)
        return 0;
    if (p >= 100.0)
        return h->max;
    /* The rank of the p-th percentile, 1-based: the smallest value with at least p % of the
     * samples at or below it. */
    uint64_t rank = (uint64_t)((p / 100.0) * (double)h->n);
    if ((double)rank < (p / 100.0) * (double)h->n)
        rank++;
    if (rank == 0)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++) {
        seen += h->c[i];
        if (seen >= rank) {
            uint64_t v = bucket_mid(i);
            if (v < h->min)
                v = h->min;
            if (v > h->max)
                v = h->max;
            return v;
        }
    }
    return h->max;
}
