/* custseg — complete, average and single linkage.
 *
 * Complete and average: the nearest-neighbour chain (both linkages are
 * reducible) on the condensed Euclidean distance matrix, updated after each
 * merge by the Lance-Williams formulas: complete d(x+y, i) = max(d(x,i),
 * d(y,i)); average d(x+y, i) = (n_x d(x,i) + n_y d(y,i)) / (n_x + n_y). The
 * slot, scan-order and tie conventions are SciPy's (see ward.c), so the
 * merges are those of scipy.cluster.hierarchy.linkage. O(n^2 d) to fill the
 * matrix, O(n^2) for the chain; n (n - 1) / 2 doubles.
 *
 * Single: Prim's algorithm on the vectors, computing each distance when it is
 * needed (SciPy's mst_single_linkage does the same walk on the matrix): keep
 * for every point outside the tree its distance to the tree, add the closest
 * (lowest index on ties), update with the distances to it. The n - 1 tree
 * edges, sorted by length, are the single-linkage merges (Gower & Ross 1969).
 * O(n^2 d) time, O(n) extra memory; the update loop runs on OpenMP threads in
 * fixed blocks above CSEG_HC_SINGLE_PAR points, combined in block order.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "custseg/hclust.h"
#include "../core/internal.h"
#include "internal.h"

#define CSEG_HC_SINGLE_PAR 4096
#define CSEG_HC_SINGLE_BLOCK 1024

size_t cseg__hc_condensed_bytes(size_t n)
{
    size_t pairs, bytes;
    if (cseg__mul(n, n - 1, &pairs) || cseg__mul(pairs / 2, sizeof(double), &bytes))
        return 0;
    return bytes;
}

/* Index of the pair (i, j), i < j, in the condensed matrix (SciPy's order). */
static inline size_t cidx(size_t n, size_t i, size_t j)
{
    return n * i - i * (i + 1) / 2 + (j - i - 1);
}

static inline double euclid(const double *a, const double *b, size_t d)
{
    double s = 0;
    for (size_t j = 0; j < d; j++) {
        double t = a[j] - b[j];
        s += t * t;
    }
    return sqrt(s);
}

int cseg__hc_matrix(const double *X, size_t n, size_t d, int complete, int nt, double *Z)
{
    int rc = CSEG_ENOMEM;
    double *D = cseg__alloc_aligned(cseg__hc_condensed_bytes(n) / sizeof(double), sizeof(double));
    double *size = malloc(n * sizeof *size);
    size_t *chain = malloc(n * sizeof *chain);
    if (!D || !size || !chain)
        goto out;
#ifdef _OPENMP
#pragma omp parallel for num_threads(nt) schedule(dynamic, 16) default(none) shared(X, n, d, D)
#endif
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            D[cidx(n, i, j)] = euclid(X + i * d, X + j * d, d);
    (void)nt;
    for (size_t i = 0; i < n; i++)
        size[i] = 1;

    size_t cl = 0;
    for (size_t k = 0; k + 1 < n; k++) {
        if (cl == 0) {
            size_t p = 0;
            while (size[p] == 0)
                p++;
            chain[cl++] = p;
        }
        size_t x, y = 0;
        double m;
        for (;;) {
            x = chain[cl - 1];
            if (cl > 1) {
                y = chain[cl - 2];
                m = D[x < y ? cidx(n, x, y) : cidx(n, y, x)];
            } else {
                m = HUGE_VAL;
            }
            for (size_t i = 0; i < n; i++) {
                if (size[i] == 0 || i == x)
                    continue;
                double v = D[i < x ? cidx(n, i, x) : cidx(n, x, i)];
                if (v < m) {
                    m = v;
                    y = i;
                }
            }
            if (cl > 1 && y == chain[cl - 2])
                break;
            chain[cl++] = y;
        }
        cl -= 2;
        if (x > y) {
            size_t t = x;
            x = y;
            y = t;
        }
        double nx = size[x], ny = size[y];
        Z[4 * k + 0] = (double)x;
        Z[4 * k + 1] = (double)y;
        Z[4 * k + 2] = m;
        Z[4 * k + 3] = nx + ny;
        size[x] = 0;
        size[y] = nx + ny;
        for (size_t i = 0; i < n; i++) {
            if (size[i] == 0 || i == y)
                continue;
            double *dy = &D[i < y ? cidx(n, i, y) : cidx(n, y, i)];
            double dx = D[i < x ? cidx(n, i, x) : cidx(n, x, i)];
            if (complete)
                *dy = dx > *dy ? dx : *dy;
            else
                *dy = (nx * dx + ny * *dy) / (nx + ny);
        }
    }
    rc = 0;
out:
    cseg__free_aligned(D);
    free(size);
    free(chain);
    return rc;
}

/* Relax the distances to the tree with the new member x over points
 * [i0, i1) and return the closest outside point (lowest index on ties). */
static void single_block(const double *X, size_t d, size_t x, const unsigned char *in, double *dist,
                         size_t i0, size_t i1, double *best, size_t *best_i)
{
    double b = HUGE_VAL;
    size_t bi = 0;
    const double *xx = X + x * d;
    for (size_t i = i0; i < i1; i++) {
        if (in[i])
            continue;
        double v = euclid(xx, X + i * d, d);
        if (dist[i] > v)
            dist[i] = v;
        if (dist[i] < b) {
            b = dist[i];
            bi = i;
        }
    }
    *best = b;
    *best_i = bi;
}

int cseg__hc_single(const double *X, size_t n, size_t d, int nt, double *Z)
{
    int rc = CSEG_ENOMEM;
    size_t nb = (n + CSEG_HC_SINGLE_BLOCK - 1) / CSEG_HC_SINGLE_BLOCK;
    double *dist = malloc(n * sizeof *dist), *bval = malloc(nb * sizeof *bval);
    size_t *bidx = malloc(nb * sizeof *bidx);
    unsigned char *in = calloc(n, 1);
    if (!dist || !bval || !bidx || !in)
        goto out;
    for (size_t i = 0; i < n; i++)
        dist[i] = HUGE_VAL;
    size_t x = 0;
    for (size_t k = 0; k + 1 < n; k++) {
        in[x] = 1;
        double m = HUGE_VAL;
        size_t y = 0;
        if (nt > 1 && n - k >= CSEG_HC_SINGLE_PAR) {
#ifdef _OPENMP
#pragma omp parallel for num_threads(nt) schedule(static) default(none)                        \
    shared(X, d, x, in, dist, n, nb, bval, bidx)
#endif
            for (size_t b = 0; b < nb; b++) {
                size_t i1 = (b + 1) * CSEG_HC_SINGLE_BLOCK < n ? (b + 1) * CSEG_HC_SINGLE_BLOCK : n;
                single_block(X, d, x, in, dist, b * CSEG_HC_SINGLE_BLOCK, i1, &bval[b], &bidx[b]);
            }
            for (size_t b = 0; b < nb; b++) {
                if (bval[b] < m) {
                    m = bval[b];
                    y = bidx[b];
                }
            }
        } else {
            single_block(X, d, x, in, dist, 0, n, &m, &y);
        }
        Z[4 * k + 0] = (double)x;
        Z[4 * k + 1] = (double)y;
        Z[4 * k + 2] = m;
        Z[4 * k + 3] = 0;
        x = y;
    }
    rc = 0;
out:
    free(dist);
    free(bval);
    free(bidx);
    free(in);
    return rc;
}
