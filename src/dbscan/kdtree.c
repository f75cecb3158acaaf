/* custseg — kd-tree for DBSCAN: median splits, bounded leaves, tight boxes.
 *
 * Method. Each node's rows are split at their median along the feature of
 * largest spread (the first such feature on ties) by quickselect on a
 * the rows themselves (the copy in tree order is built in place, so the
 * scans stay sequential); the node keeps the tight bounding box of its
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
 * Complexity: O(n log(n) d) time, O(n d) memory (the rows in tree order and
 * fewer than n / 2 boxes; no scratch).
 * Reference: Bentley (1975) multidimensional binary search trees;
 * Friedman, Bentley & Finkel (1977).
 */
#include <stdlib.h>
#include <string.h>

#include "../core/internal.h"
#include "internal.h"

/* Below this many rows a subtree is built by the thread that reached it. */
#define CSEG_KDT_TASK_MIN 32768

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
    size_t nodes = ((size_t)2 << L) - 1, a, b;
    if (cseg__mul(n, d, &a) || cseg__mul(a, sizeof(double), &a) ||
        cseg__mul3(nodes, 2 * d, sizeof(double), &b))
        return SIZE_MAX;
    size_t s = a + b, c = nodes * (2 * sizeof(uint32_t) + 1) + n * sizeof(uint32_t);
    return s < a || s + c < s ? SIZE_MAX : s + c;
}

static inline void swap_rows(double *pts, uint32_t *idx, size_t d, size_t a, size_t b)
{
    for (size_t j = 0; j < d; j++) {
        double t = pts[a * d + j];
        pts[a * d + j] = pts[b * d + j];
        pts[b * d + j] = t;
    }
    uint32_t t = idx[a];
    idx[a] = idx[b];
    idx[b] = t;
}

/* Reorder rows [lo, hi] so that row m has the (m - lo)-th smallest value of
 * feature k, with no greater value before it and no smaller after (Hoare
 * partition, median-of-three pivot: no quadratic case on sorted input or runs
 * of equal keys). The rows move with their input indices. */
static void select_rows(double *pts, uint32_t *idx, size_t d, size_t k, size_t lo, size_t hi,
                        size_t m)
{
#define KEY(r) pts[(r)*d + k]
    while (hi > lo) {
        size_t mid = lo + (hi - lo) / 2;
        if (KEY(mid) < KEY(lo))
            swap_rows(pts, idx, d, mid, lo);
        if (KEY(hi) < KEY(lo))
            swap_rows(pts, idx, d, hi, lo);
        if (KEY(hi) < KEY(mid))
            swap_rows(pts, idx, d, hi, mid);
        double pivot = KEY(mid);
        size_t i = lo, j = hi;
        for (;;) {
            while (KEY(i) < pivot)
                i++;
            while (pivot < KEY(j))
                j--;
            if (i >= j)
                break;
            swap_rows(pts, idx, d, i, j);
            i++;
            j--;
        }
        /* rows lo..j have keys <= pivot, rows j+1..hi keys >= pivot */
        if (m <= j)
            hi = j;
        else
            lo = j + 1;
    }
#undef KEY
}

static void build_node(cseg__kdt *t, size_t v, unsigned lvl)
{
    size_t d = t->d, s = t->start[v], e = t->end[v];
    double *lo = t->box + v * 2 * d, *hi = lo + d;
    const double *x0 = t->pts + s * d;
    for (size_t j = 0; j < d; j++)
        lo[j] = hi[j] = x0[j];
    for (size_t p = s + 1; p < e; p++) {
        const double *x = t->pts + p * d;
        for (size_t j = 0; j < d; j++) {
            lo[j] = x[j] < lo[j] ? x[j] : lo[j];
            hi[j] = x[j] > hi[j] ? x[j] : hi[j];
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
    select_rows(t->pts, t->idx, d, dim, s, e - 1, mid);
    size_t l = 2 * v + 1, r = 2 * v + 2;
    t->start[l] = (uint32_t)s;
    t->end[l] = (uint32_t)mid;
    t->start[r] = (uint32_t)mid;
    t->end[r] = (uint32_t)e;
    if (m >= CSEG_KDT_TASK_MIN) {
#ifdef _OPENMP
#pragma omp task default(none) firstprivate(t, l, lvl)
#endif
        build_node(t, l, lvl + 1);
        build_node(t, r, lvl + 1);
#ifdef _OPENMP
#pragma omp taskwait
#endif
    } else {
        build_node(t, l, lvl + 1);
        build_node(t, r, lvl + 1);
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
    if (!t->pts || !t->idx || !t->start || !t->end || !t->kind || !t->box) {
        cseg__kdt_free(t);
        return CSEG_ENOMEM;
    }
    memcpy(t->pts, X, n * d * sizeof(double));
    for (size_t i = 0; i < n; i++)
        t->idx[i] = (uint32_t)i;
    t->start[0] = 0;
    t->end[0] = (uint32_t)n;
#ifdef _OPENMP
    if (nt > 1 && n >= CSEG_KDT_TASK_MIN) {
#pragma omp parallel num_threads(nt) default(none) shared(t)
#pragma omp single
        build_node(t, 0, 0);
    } else {
        build_node(t, 0, 0);
    }
#else
    (void)nt;
    build_node(t, 0, 0);
#endif
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
