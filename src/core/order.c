/* custseg — order statistics shared by the modules (internal.h). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int cseg__cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double cseg__quantile_sorted(const double *v, size_t n, double q)
{
    double pos = q * (double)(n - 1);
    size_t lo = (size_t)floor(pos);
    size_t hi = lo + 1 < n ? lo + 1 : lo;
    double frac = pos - (double)lo;
    return v[lo] + (v[hi] - v[lo]) * frac;
}

/* A double's bits as an unsigned key in the order of the values: negative
 * numbers have every bit flipped, the others their sign bit set (so -0.0
 * comes just before +0.0). */
static inline uint64_t key_of(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return u >> 63 ? ~u : u | (uint64_t)1 << 63;
}

static inline double value_of(uint64_t k)
{
    uint64_t u = k >> 63 ? k & ~((uint64_t)1 << 63) : ~k;
    double x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* Written here rather than qsort: a comparison through a function pointer
 * per step made sorting columns the largest part of a fit on a million
 * customers (issue 13). LSD radix sort on the keys above, 11 bits a pass (the
 * counts stay in the first-level cache), passes whose digit is the same for
 * every value skipped; short arrays by insertion or glibc's merge sort. */
#define RADIX_BITS 11
#define RADIX (1u << RADIX_BITS)
#define RADIX_PASSES 6 /* 6 x 11 >= 64 */

void cseg__sort_doubles(double *v, size_t n)
{
    if (n < 64) {
        for (size_t i = 1; i < n; i++) {
            double x = v[i];
            size_t j = i;
            for (; j > 0 && v[j - 1] > x; j--)
                v[j] = v[j - 1];
            v[j] = x;
        }
        return;
    }
    uint64_t *a = n >= 1024 ? malloc(n * sizeof *a) : NULL, *b = a ? malloc(n * sizeof *b) : NULL;
    size_t *cnt = b ? calloc(RADIX_PASSES * RADIX, sizeof *cnt) : NULL;
    if (!cnt) {
        free(a);
        free(b);
        qsort(v, n, sizeof *v, cseg__cmp_double);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t k = key_of(v[i]);
        a[i] = k;
        for (int p = 0; p < RADIX_PASSES; p++)
            cnt[(size_t)p * RADIX + (k >> (RADIX_BITS * p) & (RADIX - 1))]++;
    }
    for (int p = 0; p < RADIX_PASSES; p++) {
        size_t *c = cnt + (size_t)p * RADIX;
        int shift = RADIX_BITS * p;
        if (c[a[0] >> shift & (RADIX - 1)] == n)
            continue; /* one digit for all: the order stays */
        size_t sum = 0;
        for (size_t d = 0; d < RADIX; d++) {
            size_t t = c[d];
            c[d] = sum;
            sum += t;
        }
        for (size_t i = 0; i < n; i++)
            b[c[a[i] >> shift & (RADIX - 1)]++] = a[i];
        uint64_t *t = a;
        a = b;
        b = t;
    }
    for (size_t i = 0; i < n; i++)
        v[i] = value_of(a[i]);
    free(a);
    free(b);
    free(cnt);
}
