/* custseg — external indices: adjusted Rand index and normalized mutual
 * information between two labellings.
 *
 * Method. Both labellings are compacted to 0..k-1 in increasing label order
 * (a presence table when the label range is small, else a radix sort), then the
 * non-zero cells of their contingency table are listed in row-major order:
 * from a dense ka x kb table when it is small (at most 4 n + 4096 cells),
 * else by radix-sorting the n cell keys ia * kb + ib. Everything else is computed
 * from those cells and the row and column sums.
 *
 * ARI follows scikit-learn's pair-confusion form, 2 (tp tn - fn fp) /
 * ((tp + fn)(fn + tn) + (tp + fp)(fp + tn)), with the pair counts and both
 * products in exact 128-bit integers, so near-zero values lose nothing to
 * cancellation; the result is rounded as Python does (each big integer to the
 * nearest double, then one division). NMI evaluates scikit-learn's
 * expressions term by term in the same order, and adds the terms with
 * numpy's pairwise summation (runs of 8 partial sums below 128 terms, halves
 * above) so that the last digits agree too.
 *
 * Complexity O(n) time (radix sorts of at most 8 byte passes), O(n) memory. References: Hubert & Arabie (1985) "Comparing
 * partitions"; Strehl & Ghosh (2002); Vinh, Epps & Bailey (2010);
 * scikit-learn's sklearn/metrics/cluster/_supervised.py for the conventions.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "custseg/metrics.h"
#include "../core/internal.h"

__extension__ typedef __int128 cseg__i128;

typedef struct contingency {
    size_t ka, kb, nnz;
    uint64_t *rows, *cols; /* ka and kb marginal counts */
    uint64_t *cell;        /* nnz non-zero counts, row-major */
    uint32_t *ci, *cj;     /* their row and column */
} contingency;

static void contingency_free(contingency *c)
{
    free(c->rows);
    free(c->cols);
    free(c->cell);
    free(c->ci);
    free(c->cj);
}

/* LSD radix sort of a[0..n) (8-bit digits, passes whose digit is the same
 * for every key skipped); tmp has room for n keys. Returns the sorted array
 * (a or tmp). */
static uint64_t *radix_sort(uint64_t *a, uint64_t *tmp, size_t n)
{
    uint64_t all_or = 0, all_and = ~(uint64_t)0;
    for (size_t i = 0; i < n; i++) {
        all_or |= a[i];
        all_and &= a[i];
    }
    for (unsigned shift = 0; shift < 64; shift += 8) {
        if ((((all_or ^ all_and) >> shift) & 0xff) == 0)
            continue;
        size_t count[257] = {0};
        for (size_t i = 0; i < n; i++)
            count[((a[i] >> shift) & 0xff) + 1]++;
        for (size_t v = 0; v < 256; v++)
            count[v + 1] += count[v];
        for (size_t i = 0; i < n; i++)
            tmp[count[(a[i] >> shift) & 0xff]++] = a[i];
        uint64_t *t = a;
        a = tmp;
        tmp = t;
    }
    return a;
}

/* out[i] = rank of labels[i] among the distinct values (increasing); *k the
 * number of distinct values. */
static int compact(const int32_t *labels, size_t n, uint32_t *out, size_t *k)
{
    int32_t lo = labels[0], hi = labels[0];
    for (size_t i = 1; i < n; i++) {
        lo = labels[i] < lo ? labels[i] : lo;
        hi = labels[i] > hi ? labels[i] : hi;
    }
    uint64_t range = (uint64_t)((int64_t)hi - (int64_t)lo) + 1;
    if (range <= 2 * (uint64_t)n + 1024) {
        uint32_t *map = calloc((size_t)range, sizeof *map);
        if (!map)
            return CSEG_ENOMEM;
        for (size_t i = 0; i < n; i++)
            map[(int64_t)labels[i] - lo] = 1;
        uint32_t r = 0;
        for (uint64_t v = 0; v < range; v++)
            if (map[v])
                map[v] = ++r;
        for (size_t i = 0; i < n; i++)
            out[i] = map[(int64_t)labels[i] - lo] - 1;
        *k = r;
        free(map);
        return 0;
    }
    /* Sort (value, index) pairs, the sign bit flipped so that unsigned order
     * is signed order; ranks then come out in one streaming pass (a binary
     * search per sample would miss the cache at every step). n < 2^31, so the
     * index fits in the low 32 bits. */
    uint64_t *u = malloc(n * sizeof *u), *tmp = malloc(n * sizeof *tmp);
    if (!u || !tmp) {
        free(u);
        free(tmp);
        return CSEG_ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        u[i] = (uint64_t)((uint32_t)labels[i] ^ 0x80000000u) << 32 | (uint64_t)i;
    const uint64_t *v = radix_sort(u, tmp, n);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || v[i] >> 32 != v[i - 1] >> 32)
            m++;
        out[v[i] & 0xffffffffu] = (uint32_t)(m - 1);
    }
    *k = m;
    free(u);
    free(tmp);
    return 0;
}

static int contingency_make(const int32_t *a, const int32_t *b, size_t n, contingency *c)
{
    memset(c, 0, sizeof *c);
    uint32_t *ia = malloc(n * sizeof *ia), *ib = malloc(n * sizeof *ib);
    uint64_t *keys = NULL;
    int rc = CSEG_ENOMEM;
    if (!ia || !ib)
        goto out;
    if ((rc = compact(a, n, ia, &c->ka)) < 0 || (rc = compact(b, n, ib, &c->kb)) < 0)
        goto out;
    rc = CSEG_ENOMEM;
    c->rows = calloc(c->ka, sizeof *c->rows);
    c->cols = calloc(c->kb, sizeof *c->cols);
    c->cell = malloc(n * sizeof *c->cell);
    c->ci = malloc(n * sizeof *c->ci);
    c->cj = malloc(n * sizeof *c->cj);
    if (!c->rows || !c->cols || !c->cell || !c->ci || !c->cj)
        goto out;
    for (size_t i = 0; i < n; i++) {
        c->rows[ia[i]]++;
        c->cols[ib[i]]++;
    }
    /* ka, kb <= n < 2^31, so ka * kb fits in 64 bits. */
    uint64_t cells = (uint64_t)c->ka * c->kb;
    if (cells <= 4 * (uint64_t)n + 4096) {
        uint64_t *t = calloc((size_t)cells, sizeof *t);
        if (!t)
            goto out;
        for (size_t i = 0; i < n; i++)
            t[(uint64_t)ia[i] * c->kb + ib[i]]++;
        for (uint64_t q = 0; q < cells; q++)
            if (t[q]) {
                c->cell[c->nnz] = t[q];
                c->ci[c->nnz] = (uint32_t)(q / c->kb);
                c->cj[c->nnz++] = (uint32_t)(q % c->kb);
            }
        free(t);
    } else {
        if (!(keys = malloc(2 * n * sizeof *keys)))
            goto out;
        for (size_t i = 0; i < n; i++)
            keys[i] = (uint64_t)ia[i] * c->kb + ib[i];
        const uint64_t *sk = radix_sort(keys, keys + n, n);
        for (size_t i = 0; i < n; i++) {
            if (i > 0 && sk[i] == sk[i - 1]) {
                c->cell[c->nnz - 1]++;
                continue;
            }
            c->cell[c->nnz] = 1;
            c->ci[c->nnz] = (uint32_t)(sk[i] / c->kb);
            c->cj[c->nnz++] = (uint32_t)(sk[i] % c->kb);
        }
    }
    rc = 0;
out:
    free(ia);
    free(ib);
    free(keys);
    if (rc < 0)
        contingency_free(c);
    return rc;
}

static int check_args(const int32_t *a, const int32_t *b, size_t n, double *out)
{
    if (!out || (n > 0 && (!a || !b)))
        return CSEG_EINVAL;
    if (n >= ((size_t)1 << 31))
        return CSEG_ETOOBIG;
    return 0;
}

int cseg_metrics_adjusted_rand(const int32_t *a, const int32_t *b, size_t n, double *out)
{
    int rc = check_args(a, b, n, out);
    if (rc < 0)
        return rc;
    if (n == 0) {
        *out = 1.0;
        return 0;
    }
    contingency c;
    if ((rc = contingency_make(a, b, n, &c)) < 0)
        return rc;
    /* Ordered pairs, as scikit-learn's pair_confusion_matrix. */
    cseg__i128 sumsq = 0, srow = 0, scol = 0, nn = (cseg__i128)n;
    for (size_t q = 0; q < c.nnz; q++)
        sumsq += (cseg__i128)c.cell[q] * c.cell[q];
    for (size_t i = 0; i < c.ka; i++)
        srow += (cseg__i128)c.rows[i] * c.rows[i];
    for (size_t j = 0; j < c.kb; j++)
        scol += (cseg__i128)c.cols[j] * c.cols[j];
    contingency_free(&c);
    cseg__i128 tp = sumsq - nn, fp = scol - sumsq, fn = srow - sumsq;
    cseg__i128 tn = nn * nn - fp - fn - sumsq;
    if (fn == 0 && fp == 0) {
        *out = 1.0;
        return 0;
    }
    cseg__i128 num = tp * tn - fn * fp;
    cseg__i128 den = (tp + fn) * (fn + tn) + (tp + fp) * (fp + tn);
    *out = 2.0 * (double)num / (double)den;
    return 0;
}

/* numpy's pairwise summation of a[0..n), for last-digit agreement. */
static double pairwise_sum(const double *a, size_t n)
{
    if (n < 8) {
        double s = 0;
        for (size_t i = 0; i < n; i++)
            s += a[i];
        return s;
    }
    if (n <= 128) {
        double r[8];
        for (size_t j = 0; j < 8; j++)
            r[j] = a[j];
        size_t i;
        for (i = 8; i < n - n % 8; i += 8)
            for (size_t j = 0; j < 8; j++)
                r[j] += a[i + j];
        double s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++)
            s += a[i];
        return s;
    }
    size_t h = n / 2;
    h -= h % 8;
    return pairwise_sum(a, h) + pairwise_sum(a + h, n - h);
}

/* Entropy of the marginal counts p (k of them, summing to n), natural log. */
static double entropy(const uint64_t *p, size_t k, double *terms)
{
    if (k == 1)
        return 0;
    double tot = 0;
    for (size_t i = 0; i < k; i++)
        terms[i] = (double)p[i];
    tot = pairwise_sum(terms, k);
    double ltot = log(tot);
    for (size_t i = 0; i < k; i++) {
        double pi = (double)p[i];
        terms[i] = (pi / tot) * (log(pi) - ltot);
    }
    return -pairwise_sum(terms, k);
}

int cseg_metrics_nmi(const int32_t *a, const int32_t *b, size_t n, double *out)
{
    int rc = check_args(a, b, n, out);
    if (rc < 0)
        return rc;
    if (n == 0) {
        *out = 1.0;
        return 0;
    }
    contingency c;
    if ((rc = contingency_make(a, b, n, &c)) < 0)
        return rc;
    if (c.ka == 1 && c.kb == 1) {
        *out = 1.0;
        goto out;
    }
    if (c.ka == 1 || c.kb == 1) {
        *out = 0.0; /* MI = 0 */
        goto out;
    }
    size_t nt = c.nnz > c.ka ? c.nnz : c.ka;
    nt = nt > c.kb ? nt : c.kb;
    double *t = malloc(nt * sizeof *t);
    if (!t) {
        rc = CSEG_ENOMEM;
        goto out;
    }
    double N = (double)n, lN = log(N);
    /* pi.sum() and pj.sum() are both n, exactly. */
    for (size_t q = 0; q < c.nnz; q++) {
        double v = (double)c.cell[q], cnm = v / N;
        double outer = (double)(c.rows[c.ci[q]] * c.cols[c.cj[q]]);
        double lout = -log(outer) + lN + lN;
        double m = cnm * (log(v) - lN) + cnm * lout;
        t[q] = fabs(m) < DBL_EPSILON ? 0.0 : m;
    }
    double mi = pairwise_sum(t, c.nnz);
    if (mi < 0)
        mi = 0;
    if (mi == 0) {
        *out = 0.0;
    } else {
        double ha = entropy(c.rows, c.ka, t), hb = entropy(c.cols, c.kb, t);
        *out = mi / ((ha + hb) / 2);
    }
    free(t);
out:
    contingency_free(&c);
    return rc;
}
