/* custseg — small reproducible random numbers and a fast hash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

uint64_t cseg__splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void cseg__rng_seed(cseg_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = cseg__splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t cseg__rng_next(cseg_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double cseg__rng_uniform(cseg_rng *r)
{
    return (double)(cseg__rng_next(r) >> 11) * 0x1.0p-53;
}

size_t cseg__rng_below(cseg_rng *r, size_t n)
{
    uint64_t lim = UINT64_MAX - UINT64_MAX % n, x;
    do
        x = cseg__rng_next(r);
    while (x >= lim);
    return (size_t)(x % n);
}

/* Eight bytes a step with a multiply-rotate mix and a final avalanche
 * (MurmurHash3's fmix64): quick on short fields, good enough spread for
 * hash tables and duplicate detection (which confirms equal hashes by
 * comparing the values). */
uint64_t cseg__hash(const void *p, size_t n, uint64_t seed)
{
    const unsigned char *s = p;
    uint64_t h = seed ^ (0x9e3779b97f4a7c15ULL * (n + 1));
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, s, 8);
        v *= 0x87c37b91114253d5ULL;
        v = (v << 31) | (v >> 33);
        h ^= v * 0x4cf5ad432745937fULL;
        h = ((h << 27) | (h >> 37)) * 5 + 0x52dce729;
        s += 8;
        n -= 8;
    }
    if (n) {
        uint64_t v = 0;
        memcpy(&v, s, n);
        v *= 0x87c37b91114253d5ULL;
        v = (v << 31) | (v >> 33);
        h ^= v * 0x4cf5ad432745937fULL;
    }
    return cseg__mix64(h);
}

/* A position's value after the swaps so far (positions not swapped hold
 * themselves): open addressing on the position, 2^b slots. */
typedef struct swaps {
    size_t *key, *val, mask;
} swaps;

static size_t *swap_slot(swaps *w, size_t pos)
{
    size_t h = (size_t)(((uint64_t)pos * 0x9e3779b97f4a7c15ULL) >> 17) & w->mask;
    while (w->key[h] != SIZE_MAX && w->key[h] != pos)
        h = (h + 1) & w->mask;
    return &w->key[h];
}

static size_t swap_get(swaps *w, size_t pos)
{
    size_t *k = swap_slot(w, pos);
    return *k == pos ? w->val[k - w->key] : pos;
}

static void swap_set(swaps *w, size_t pos, size_t v)
{
    size_t *k = swap_slot(w, pos);
    *k = pos;
    w->val[k - w->key] = v;
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

/* The partial Fisher-Yates shuffle of 0..m-1 (position t takes a uniform
 * one of t..m-1) kept as a map of the swapped positions instead of an array
 * of m: a sample of a few thousand rows of millions costs what the sample
 * does, and an MPI process draws the sample of all processes' rows without
 * holding a value per row. */
int cseg__sample_sorted(size_t m, size_t s, uint64_t seed, size_t *out)
{
    size_t slots = 16;
    while (slots < 4 * s)
        slots *= 2;
    swaps w = {malloc(slots * sizeof(size_t)), malloc(slots * sizeof(size_t)), slots - 1};
    if (!w.key || !w.val) {
        free(w.key);
        free(w.val);
        return CSEG_ENOMEM;
    }
    for (size_t i = 0; i < slots; i++)
        w.key[i] = SIZE_MAX;
    cseg_rng rng;
    cseg__rng_seed(&rng, seed);
    for (size_t t = 0; t < s; t++) {
        size_t r = t + cseg__rng_below(&rng, m - t);
        size_t vt = swap_get(&w, t), vr = swap_get(&w, r);
        out[t] = vr;
        swap_set(&w, r, vt);
        swap_set(&w, t, vr);
    }
    qsort(out, s, sizeof *out, cmp_size);
    free(w.key);
    free(w.val);
    return 0;
}
