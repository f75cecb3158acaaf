/* custseg — small reproducible random numbers and a fast hash. */
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
