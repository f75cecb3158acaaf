/* custseg — order statistics shared by the modules (internal.h). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int cseg__cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    if (x == y) /* -0.0 before +0.0, as every path of the sort orders them */
        return (!signbit(x) && signbit(y)) - (signbit(x) && !signbit(y));
    return (x > y) - (x < y);
}

void cseg__quantile_ranks(double q, uint64_t n, uint64_t *r)
{
    r[0] = (uint64_t)floor(q * (double)(n - 1));
    r[1] = r[0] + 1 < n ? r[0] + 1 : r[0];
}

double cseg__quantile_between(double lo, double hi, double q, uint64_t n)
{
    double pos = q * (double)(n - 1);
    return lo + (hi - lo) * (pos - floor(pos));
}

double cseg__quantile_sorted(const double *v, size_t n, double q)
{
    uint64_t r[2];
    cseg__quantile_ranks(q, n, r);
    return cseg__quantile_between(v[r[0]], v[r[1]], q, n);
}

size_t cseg__quantile_points_n(size_t n, size_t exact)
{
    return n <= exact ? n : exact + 1;
}

void cseg__quantile_points(const double *v, size_t n, size_t exact, double *out)
{
    if (n <= exact)
        memcpy(out, v, n * sizeof *v);
    else
        for (size_t i = 0; i <= exact; i++)
            out[i] = cseg__quantile_sorted(v, n, (double)i / (double)exact);
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
            /* -0.0 before +0.0 (the radix sort's order, and cseg_mpi_select's): a
             * median of zeros of both signs is the same bits however the
             * values come */
            for (; j > 0 && (v[j - 1] > x || (v[j - 1] == x && !signbit(v[j - 1]) && signbit(x)));
                 j--)
                v[j] = v[j - 1];
            v[j] = x;
        }
        return;
    }
    uint64_t *a = n >= 1024 ? malloc(n * sizeof *a) : NULL, *b = a ? malloc(n * sizeof *b) : NULL;
    size_t *cnt = b ? calloc(RADIX_PASSES * RADIX, sizeof *cnt) : NULL;
    cseg__advise_huge(a, n * sizeof *a);
    cseg__advise_huge(b, n * sizeof *b);
    if (!cnt) {
        free(a);
        free(b);
        qsort(v, n, sizeof *v, cseg__cmp_double);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t k = cseg__key_of(v[i]);
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
        v[i] = cseg__value_of(a[i]);
    free(a);
    free(b);
    free(cnt);
}

/* ---- selection ---- */

/* A wanted rank and where its value goes. */
typedef struct wanted {
    size_t rank, slot;
} wanted;

/* out[w.slot] = the key of rank w.rank among k[0, m), for the nw wanted.
 * Radix selection: the keys' range cut into at most 2^16 buckets, counted
 * in one pass; only the buckets holding a wanted rank are copied out (to
 * tmp, m keys of room) and looked into, the same way, until a bucket holds
 * one value or a few keys (then sorted). k's room is reused below. */
static void select_keys(uint64_t *k, size_t m, wanted *w, size_t nw, uint64_t *out,
                        uint64_t *tmp, uint32_t *cnt)
{
    if (m <= 64) {
        for (size_t i = 1; i < m; i++) {
            uint64_t x = k[i];
            size_t j = i;
            for (; j > 0 && k[j - 1] > x; j--)
                k[j] = k[j - 1];
            k[j] = x;
        }
        for (size_t i = 0; i < nw; i++)
            out[w[i].slot] = k[w[i].rank];
        return;
    }
    uint64_t lo = UINT64_MAX, hi = 0;
    for (size_t i = 0; i < m; i++) {
        lo = k[i] < lo ? k[i] : lo;
        hi = k[i] > hi ? k[i] : hi;
    }
    if (lo == hi) {
        for (size_t i = 0; i < nw; i++)
            out[w[i].slot] = lo;
        return;
    }
    int shift = 0;
    while ((hi - lo) >> shift >= (uint64_t)1 << 16)
        shift++;
    size_t nb = (size_t)((hi - lo) >> shift) + 1;
    memset(cnt, 0, (nb + 1) * sizeof *cnt);
    for (size_t i = 0; i < m; i++)
        cnt[((k[i] - lo) >> shift) + 1]++;
    for (size_t b = 0; b < nb; b++) /* cnt[b]: keys in buckets before b */
        cnt[b + 1] += cnt[b];
    /* The wanted ranks in order, each with its bucket (binary search). */
    for (size_t i = 1; i < nw; i++)
        for (size_t j = i; j > 0 && w[j - 1].rank > w[j].rank; j--) {
            wanted t = w[j];
            w[j] = w[j - 1];
            w[j - 1] = t;
        }
    size_t bucket[16], first[16], nsel = 0; /* distinct buckets wanted (nw <= 16) */
    for (size_t i = 0; i < nw; i++) {
        size_t a = 0, z = nb;
        while (z - a > 1) {
            size_t mid = (a + z) / 2;
            if (cnt[mid] <= w[i].rank)
                a = mid;
            else
                z = mid;
        }
        if (nsel == 0 || bucket[nsel - 1] != a) {
            bucket[nsel] = a;
            first[nsel++] = i;
        }
    }
    /* Copy the wanted buckets' keys out, one after another. */
    size_t start[16], fill[16], base[16], at = 0;
    for (size_t s = 0; s < nsel; s++) {
        start[s] = fill[s] = at;
        base[s] = cnt[bucket[s]]; /* cnt is the recursion's from here on */
        at += cnt[bucket[s] + 1] - cnt[bucket[s]];
    }
    for (size_t i = 0; i < m; i++) {
        size_t b = (size_t)((k[i] - lo) >> shift);
        for (size_t s = 0; s < nsel; s++)
            if (bucket[s] == b) {
                tmp[fill[s]++] = k[i];
                break;
            }
    }
    for (size_t s = 0; s < nsel; s++) {
        size_t end = s + 1 < nsel ? first[s + 1] : nw;
        for (size_t i = first[s]; i < end; i++)
            w[i].rank -= base[s];
        select_keys(tmp + start[s], fill[s] - start[s], w + first[s], end - first[s], out,
                    k + start[s], cnt);
    }
}

int cseg__select_doubles(const double *x, size_t n, const size_t *ranks, size_t nr, double *out)
{
    if (nr == 0)
        return 0;
    if (nr > 16 || n < 4096 || n > UINT32_MAX) { /* sort a copy */
        double *v = malloc((n ? n : 1) * sizeof *v);
        if (!v)
            return CSEG_ENOMEM;
        memcpy(v, x, n * sizeof *v);
        cseg__sort_doubles(v, n);
        for (size_t i = 0; i < nr; i++)
            out[i] = v[ranks[i]];
        free(v);
        return 0;
    }
    uint64_t *k = malloc(n * sizeof *k), *tmp = malloc(n * sizeof *tmp), key[16];
    cseg__advise_huge(k, n * sizeof *k);
    cseg__advise_huge(tmp, n * sizeof *tmp);
    uint32_t *cnt = malloc(((1u << 16) + 1) * sizeof *cnt);
    if (!k || !tmp || !cnt) {
        free(k), free(tmp), free(cnt);
        return CSEG_ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        k[i] = cseg__key_of(x[i]);
    wanted w[16];
    for (size_t i = 0; i < nr; i++)
        w[i] = (wanted){ranks[i], i};
    select_keys(k, n, w, nr, key, tmp, cnt);
    for (size_t i = 0; i < nr; i++)
        out[i] = cseg__value_of(key[i]);
    free(k), free(tmp), free(cnt);
    return 0;
}

int cseg__quantiles(const double *x, size_t n, const double *q, size_t nq, double *out)
{
    size_t ranks[16] = {0};
    double v[16];
    if (nq == 0 || nq > 8 || n == 0)
        return CSEG_EINVAL;
    for (size_t i = 0; i < nq; i++) { /* as cseg__quantile_sorted */
        uint64_t r[2];
        cseg__quantile_ranks(q[i], n, r);
        ranks[2 * i] = (size_t)r[0];
        ranks[2 * i + 1] = (size_t)r[1];
    }
    int rc = cseg__select_doubles(x, n, ranks, 2 * nq, v);
    for (size_t i = 0; rc == 0 && i < nq; i++)
        out[i] = cseg__quantile_between(v[2 * i], v[2 * i + 1], q[i], n);
    return rc;
}
