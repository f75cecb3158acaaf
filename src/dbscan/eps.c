/* custseg — an eps for DBSCAN from the knee of the k-distance curve.
 *
 * Method (Ester et al. 1996, section 4.2; the knee as in Satopaa et al. 2011,
 * "Kneedle"). Each row's k-distance, k = min_samples, is the distance to its
 * k-th nearest row counting itself, found by a kd-tree search that keeps the
 * k smallest squared distances in a max-heap and skips boxes farther than the
 * current k-th. Rows in dense regions have small k-distances and noise large
 * ones, so the sorted curve is flat, then rises steeply; a good eps is where
 * it bends. With both axes scaled to [0, 1] the bend is taken as the point
 * farthest below the chord from the first to the last value, i.e. the
 * maximum of Kneedle's difference curve x - y for a convex increasing curve
 * (no smoothing and no threshold: one knee, the most pronounced).
 *
 * The k-th smallest distance is a property of the set of distances, not of
 * the search order, so the result is the same for any number of threads.
 * Complexity: tree O(n log(n) d), searches about O(n k log n) for low d;
 * memory O(n d + threads x k).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "../core/internal.h"
#include "custseg/dbscan.h"
#include "internal.h"

#define CSEG_EPS_PAR_MIN 4096
#define CSEG_EPS_CHUNK 256

typedef struct heap {
    double *v; /* max-heap of the smallest squared distances so far */
    size_t n, k;
} heap;

static void heap_offer(heap *h, double x)
{
    if (h->n < h->k) {
        size_t i = h->n++;
        while (i > 0 && h->v[(i - 1) / 2] < x) {
            h->v[i] = h->v[(i - 1) / 2];
            i = (i - 1) / 2;
        }
        h->v[i] = x;
        return;
    }
    if (!(x < h->v[0]))
        return;
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && h->v[c + 1] > h->v[c])
            c++;
        if (!(h->v[c] > x))
            break;
        h->v[i] = h->v[c];
        i = c;
    }
    h->v[i] = x;
}

static void knn(const cseg__kdt *t, size_t v, const double *q, heap *h)
{
    size_t d = t->d;
    if (h->n == h->k && cseg__box_min2(t->box + v * 2 * d, q, d) > h->v[0])
        return;
    if (t->kind[v] == CSEG_KDT_LEAF_NODE) {
        for (size_t p = t->start[v]; p < t->end[v]; p++)
            heap_offer(h, cseg__d2(t->pts + p * d, q, d));
        return;
    }
    size_t l = 2 * v + 1, r = 2 * v + 2;
    if (cseg__box_min2(t->box + r * 2 * d, q, d) < cseg__box_min2(t->box + l * 2 * d, q, d)) {
        size_t x = l;
        l = r;
        r = x;
    }
    knn(t, l, q, h);
    knn(t, r, q, h);
}

int cseg_dbscan_suggest_eps(const double *X, size_t n, size_t d, size_t min_samples, int n_threads,
                            double *eps, double *kdist)
{
    return cseg_dbscan_suggest_eps_sampled(X, n, d, min_samples, n, n_threads, eps, kdist);
}

int cseg_dbscan_suggest_eps_sampled(const double *X, size_t n, size_t d, size_t min_samples,
                                    size_t n_queries, int n_threads, double *eps, double *kdist)
{
    int rc = 0;
    const int nt = cseg__threads(n_threads);
    const size_t k = min_samples;
    cseg__kdt t;
    double *y = kdist, *heaps = NULL;
    memset(&t, 0, sizeof t);
    if (n < 2 || d == 0 || k == 0 || k > n || n_threads < 0)
        return CSEG_EINVAL;
    /* m query rows: all, or every (n/m)-th position of the kd-tree order, a
     * sample stratified over space that needs no random numbers. Each query's
     * k-distance is still measured against all n rows, so the curve is a
     * sample of the full curve (not the curve of a smaller, sparser data set). */
    const size_t m = n_queries == 0 || n_queries >= n ? n : (n_queries < 2 ? 2 : n_queries);
    for (size_t i = 0; i < n * d; i++)
        if (!isfinite(X[i]))
            return CSEG_EINVAL;
    if (!y && !(y = malloc(m * sizeof *y)))
        return CSEG_ENOMEM;
    heaps = cseg__reallocarray(NULL, (size_t)nt, k * sizeof *heaps);
    if (!heaps) {
        rc = CSEG_ENOMEM;
        goto out;
    }
    if ((rc = cseg__kdt_build(&t, X, n, d, nt)) < 0)
        goto out;
    {
        const cseg__kdt *tp = &t;
        size_t nchunk = (m + CSEG_EPS_CHUNK - 1) / CSEG_EPS_CHUNK;
        (void)nt;
#pragma omp parallel num_threads(nt) default(none)                                                 \
    shared(tp, y, heaps, k, n, m, nchunk) if (m >= CSEG_EPS_PAR_MIN)
        {
            size_t me = 0;
#ifdef _OPENMP
            me = (size_t)omp_get_thread_num();
#endif
            heap h = {heaps + me * k, 0, k};
#pragma omp for schedule(dynamic, 1)
            for (size_t c = 0; c < nchunk; c++) {
                size_t j1 = (c + 1) * CSEG_EPS_CHUNK < m ? (c + 1) * CSEG_EPS_CHUNK : m;
                for (size_t j = c * CSEG_EPS_CHUNK; j < j1; j++) {
                    /* All rows: row order, as before; a sample: tree order. */
                    size_t p = m == n ? j : (size_t)(((unsigned __int128)j * n) / m);
                    h.n = 0;
                    knn(tp, 0, tp->pts + p * tp->d, &h);
                    y[m == n ? tp->idx[p] : j] = sqrt(h.v[0]);
                }
            }
        }
    }
    cseg__sort_doubles(y, m);
    size_t knee = 0;
    double y0 = y[0], span = y[m - 1] - y[0];
    if (span > 0) {
        double best = -HUGE_VAL;
        for (size_t i = 0; i < m; i++) {
            double s = (double)i / (double)(m - 1) - (y[i] - y0) / span;
            if (s > best) {
                best = s;
                knee = i;
            }
        }
    }
    while (knee < m && !(y[knee] > 0))
        knee++;
    if (knee == m) {
        rc = CSEG_ERANGE;
        goto out;
    }
    *eps = y[knee];
out:
    cseg__kdt_free(&t);
    free(heaps);
    if (y != kdist)
        free(y);
    return rc;
}
