/* custseg — kd-tree for DBSCAN: median splits, bounded leaves, tight boxes.
 *
 * Method. Each node's rows are split at their median along the feature of
 * largest spread (the first such feature on ties) by quickselect on a
 * contiguous copy of the keys; the node keeps the tight bounding box of its
 * rows. Splitting at the middle position fixes the shape from n alone, so the
 * nodes live in an implicit array (children 2v+1, 2v+2) with no pointers and
 * no allocation during the build, and the two halves can be built by
 * different threads (OpenMP tasks) without changing the result. Nodes whose
 * rows are all equal stop early, which also keeps many duplicates cheap.
 *
 * Why a kd-tree and not a grid: a grid of eps-cells is simple for d <= 3 but
 * its cell count grows as (range / eps)^d, and customer features often have d
 * between 3 and 8; a kd-tree with small leaves prunes well for all these d,
 * needs O(n d) memory whatever eps is, and serves range counts, range queries
 * and nearest-neighbour searches alike.
 *
 * Exact bounds. Rounding is monotone, so for p inside [lo, hi] the computed
 * |q - p| lies between the computed gap from q to the box and the computed
 * distance to the far side; squaring and adding nonnegative terms in the same
 * feature order keep this. Hence cseg__box_min2 <= cseg__d2 <= cseg__box_max2
 * hold in floating point, and a box test can never disagree with the per-row
 * test it replaces.
 *
 * Complexity: O(n log(n) d) time, O(n d) memory (the rows in tree order,
 * n / 4 boxes at most, and 16 bytes per row of scratch during the build).
 * Reference: Bentley (1975) multidimensional binary search trees;
 * Friedman, Bentley & Finkel (1977).
 */
#include <stdlib.h>
#include <string.h>

#include "../core/internal.h"
#include "internal.h"

/* Below this many rows a subtree is built by the thread that reached it. */
#define CSEG_KDT_TASK_MIN 32768

typedef struct kv {
    double key;
    uint32_t i;
} kv;

static unsigned depth_for(size_t n)
{
    unsigned L = 0;
    while (((n + ((size_t)1 << L) - 1) >> L) > CSEG_KDT_LEAF)
        L++;
    return L;
}

size_t cseg__kdt_bytes(size_t n, size_t d)
{
    unsigned L = depth_for(n);
    size_t nodes = ((size_t)2 << L) - 1, a, b, c;
    if (cseg__mul(n, d, &a) || cseg__mul(a, sizeof(double), &a) ||
        cseg__mul3(nodes, 2 * d, sizeof(double), &b) ||
        cseg__mul(n, sizeof(kv) + sizeof(uint32_t), &c))
        return SIZE_MAX;
    size_t s = a + b + nodes * (2 * sizeof(uint32_t) + 1);
    return s + c < s ? SIZE_MAX : s + c;
}

/* Move the m-th smallest key of a[0..n) to a[m], smaller or equal keys before
 * it and greater or equal after (Hoare partition, median-of-three pivot: no
 * quadratic case on sorted input or runs of equal keys). */
static void select_kv(kv *a, size_t n, size_t m)
{
    size_t lo = 0, hi = n - 1;
    while (hi > lo) {
        size_t mid = lo + (hi - lo) / 2;
        if (a[mid].key < a[lo].key) {
            kv t = a[mid];
            a[mid] = a[lo];
            a[lo] = t;
        }
        if (a[hi].key < a[lo].key) {
            kv t = a[hi];
            a[hi] = a[lo];
            a[lo] = t;
        }
        if (a[hi].key < a[mid].key) {
            kv t = a[hi];
            a[hi] = a[mid];
            a[mid] = t;
        }
        double pivot = a[mid].key;
        size_t i = lo, j = hi;
        for (;;) {
            while (a[i].key < pivot)
                i++;
            while (pivot < a[j].key)
                j--;
            if (i >= j)
                break;
            kv t = a[i];
            a[i] = a[j];
            a[j] = t;
            i++;
            j--;
        }
        /* a[lo..j] <= pivot <= a[j+1..hi] */
        if (m <= j)
            hi = j;
        else
            lo = j + 1;
    }
}

static void build_node(cseg__kdt *t, const double *X, kv *tmp, size_t v, unsigned lvl)
{
    size_t d = t->d, s = t->start[v], e = t->end[v];
    double *lo = t->box + v * 2 * d, *hi = lo + d;
    const double *x0 = X + (size_t)t->idx[s] * d;
    for (size_t j = 0; j < d; j++)
        lo[j] = hi[j] = x0[j];
    for (size_t p = s + 1; p < e; p++) {
        const double *x = X + (size_t)t->idx[p] * d;
        for (size_t j = 0; j < d; j++) {
            if (x[j] < lo[j])
                lo[j] = x[j];
            if (x[j] > hi[j])
                hi[j] = x[j];
        }
    }
    size_t dim = 0;
    double spread = -1;
    for (size_t j = 0; j < d; j++)
        if (hi[j] - lo[j] > spread) {
            spread = hi[j] - lo[j];
            dim = j;
        }
    if (lvl == t->depth || !(spread > 0)) {
        t->kind[v] = CSEG_KDT_LEAF_NODE;
        /* Mark the subtree absent, level by level (contiguous runs). */
        size_t a = v, b = v;
        for (unsigned l = lvl; l < t->depth; l++) {
            a = 2 * a + 1;
            b = 2 * b + 2;
            for (size_t u = a; u <= b; u++)
                t->kind[u] = CSEG_KDT_ABSENT;
        }
        return;
    }
    t->kind[v] = CSEG_KDT_INNER;
    size_t m = e - s, mid = s + m / 2;
    for (size_t p = s; p < e; p++) {
        tmp[p].key = X[(size_t)t->idx[p] * d + dim];
        tmp[p].i = t->idx[p];
    }
    select_kv(tmp + s, m, m / 2);
    for (size_t p = s; p < e; p++)
        t->idx[p] = tmp[p].i;
    size_t l = 2 * v + 1, r = 2 * v + 2;
    t->start[l] = (uint32_t)s;
    t->end[l] = (uint32_t)mid;
    t->start[r] = (uint32_t)mid;
    t->end[r] = (uint32_t)e;
    if (m >= CSEG_KDT_TASK_MIN) {
#ifdef _OPENMP
#pragma omp task default(none) firstprivate(t, X, tmp, l, lvl)
#endif
        build_node(t, X, tmp, l, lvl + 1);
        build_node(t, X, tmp, r, lvl + 1);
#ifdef _OPENMP
#pragma omp taskwait
#endif
    } else {
        build_node(t, X, tmp, l, lvl + 1);
        build_node(t, X, tmp, r, lvl + 1);
    }
}

int cseg__kdt_build(cseg__kdt *t, const double *X, size_t n, size_t d, int nt)
{
    memset(t, 0, sizeof *t);
    if (n == 0 || n > UINT32_MAX || cseg__kdt_bytes(n, d) == SIZE_MAX)
        return CSEG_ETOOBIG;
    t->n = n;
    t->d = d;
    t->depth = depth_for(n);
    t->n_nodes = ((size_t)2 << t->depth) - 1;
    t->pts = cseg__alloc_aligned(n * d, sizeof(double));
    t->idx = malloc(n * sizeof *t->idx);
    t->start = malloc(t->n_nodes * sizeof *t->start);
    t->end = malloc(t->n_nodes * sizeof *t->end);
    t->kind = malloc(t->n_nodes);
    t->box = malloc(t->n_nodes * 2 * d * sizeof *t->box);
    kv *tmp = malloc(n * sizeof *tmp);
    if (!t->pts || !t->idx || !t->start || !t->end || !t->kind || !t->box || !tmp) {
        free(tmp);
        cseg__kdt_free(t);
        return CSEG_ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        t->idx[i] = (uint32_t)i;
    t->start[0] = 0;
    t->end[0] = (uint32_t)n;
#ifdef _OPENMP
    if (nt > 1 && n >= CSEG_KDT_TASK_MIN) {
#pragma omp parallel num_threads(nt) default(none) shared(t, X, tmp)
#pragma omp single
        build_node(t, X, tmp, 0, 0);
    } else {
        build_node(t, X, tmp, 0, 0);
    }
#else
    (void)nt;
    build_node(t, X, tmp, 0, 0);
#endif
    free(tmp);
    for (size_t p = 0; p < n; p++)
        memcpy(t->pts + p * d, X + (size_t)t->idx[p] * d, d * sizeof(double));
    return 0;
}

void cseg__kdt_free(cseg__kdt *t)
{
    if (!t)
        return;
    cseg__free_aligned(t->pts);
    free(t->idx);
    free(t->start);
    free(t->end);
    free(t->kind);
    free(t->box);
    memset(t, 0, sizeof *t);
}
