/* custseg — Ward linkage by the nearest-neighbour chain on centroids.
 *
 * Method. Ward's distance between clusters a and b is
 * sqrt(2 n_a n_b / (n_a + n_b)) |c_a - c_b|, so a cluster is fully described
 * by its centroid and size (weight) and no n x n matrix is needed. Ward is
 * reducible, so the nearest-neighbour chain finds the same merges as the
 * greedy algorithm: grow a chain of nearest neighbours from any cluster until
 * the top two are each other's nearest, merge them, continue from what is
 * left of the chain. Each step is one scan over the active clusters.
 *
 * SciPy's choices. To give SciPy's tree also among exact ties, the scan
 * keeps SciPy's conventions (scipy/cluster/_hierarchy.pyx, nn_chain): clusters
 * live in "slots" (initially the row index), a merged cluster takes the larger
 * slot of the two, a new chain starts at the lowest active slot, the scan
 * visits slots in increasing order and moves only on a strictly smaller
 * distance, and the previous chain element wins a tie. Distances are compared
 * as key = (n_a n_x / (n_a + n_x)) |c_a - c_x|^2, which is bitwise symmetric
 * in a and x (so the chain cannot cycle) and a monotone function of the Ward
 * distance; height = sqrt(2 key).
 *
 * Layout. Centroids are stored feature-major (d arrays of positions) so the
 * scan loads eight clusters' feature j as one vector; positions hold the
 * clusters in slot order. A merged-away cluster is marked by a NaN size
 * (its key is NaN, never smaller than anything) and the arrays are compacted,
 * keeping the order, once a quarter of the positions are dead: the scan stays
 * contiguous and compaction costs O(n d) in total.
 *
 * Threads. Above CSEG_HC_PAR_MIN values (positions x d) the scan is split into fixed
 * blocks; each block reports its smallest key and lowest position, and the
 * blocks are combined in order with the same rule: the result is that of the
 * serial scan whatever the thread count.
 *
 * Complexity: O(n^2 d) time (a few scans per merge), O(n d) memory.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "custseg/hclust.h"
#include "../core/internal.h"
#include "../core/simd.h"
#include "internal.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* Scan blocks: a multiple of 8 positions. */
#define CSEG_HC_BLOCK 512
/* Below this many values (positions x d) one scan is too short to share
 * between threads: with the parallel scan from 8192 positions on, Ward on
 * 20000 x 8 took 3.6 times longer on two threads than on one here (each
 * parallel region cost ~50 us on the busy 2-core machine, a whole scan of
 * 20000 x 8 ~30 us). 2^18 is 32768 rows at d = 8. */
#define CSEG_HC_PAR_MIN ((size_t)1 << 18)

typedef struct ward {
    size_t d, cap, len; /* len: positions in use, alive or dead; cap: a multiple of 8 */
    double *C;          /* d x cap, feature-major centroids */
    double *S;          /* cap: cluster size (weight); NaN when dead or padding */
    size_t *slot;       /* cap: SciPy slot of each position */
    size_t *pos;        /* n: position of each live slot */
    size_t n_dead;
    int nt;
    size_t nb;
    double *bval; /* per scan block: smallest key */
    size_t *bpos; /* per scan block: its lowest position */
} ward;

/* Smallest key over positions [p0, p1) (multiples of 8, padding is NaN) and
 * its lowest position; *best stays HUGE_VAL when every key is NaN. Each
 * lane's key has key1()'s operations in key1()'s order, so both agree to the
 * last bit (FP contraction is off in this build). */
CSEG_HOT static void scan_range(const ward *w, const double *cx, double sx, size_t p0, size_t p1,
                                double *best, size_t *best_pos)
{
    size_t d = w->d, cap = w->cap;
    v8d m;
    v8l bi, idx, eight;
    for (int l = 0; l < 8; l++) {
        m[l] = HUGE_VAL;
        bi[l] = 0;
        idx[l] = (long long)p0 + l;
        eight[l] = 8;
    }
    for (size_t p = p0; p < p1; p += 8) {
        v8d acc = CSEG_V8Z;
        for (size_t j = 0; j < d; j++) {
            v8d c;
            memcpy(&c, w->C + j * cap + p, sizeof c);
            v8d t = c - cx[j];
            acc += t * t;
        }
        v8d s;
        memcpy(&s, w->S + p, sizeof s);
        v8d key = ((s * sx) / (s + sx)) * acc;
        v8l lt = key < m;
        m = CSEG_SEL(lt, key, m);
        bi = (bi & ~lt) | (idx & lt);
        idx += eight;
    }
    double b = HUGE_VAL;
    size_t bp = 0;
    for (int l = 0; l < 8; l++) {
        if (m[l] < b || (m[l] == b && b < HUGE_VAL && (size_t)bi[l] < bp)) {
            b = m[l];
            bp = (size_t)bi[l];
        }
    }
    *best = b;
    *best_pos = bp;
}

static double key1(const ward *w, size_t px, size_t pa)
{
    double acc = 0;
    for (size_t j = 0; j < w->d; j++) {
        double t = w->C[j * w->cap + pa] - w->C[j * w->cap + px];
        acc += t * t;
    }
    double s = w->S[pa], sx = w->S[px];
    return ((s * sx) / (s + sx)) * acc;
}

/* Nearest live cluster to the one at position px: lowest position among
 * equal keys. */
static void nearest(ward *w, size_t px, double *cx, double *best, size_t *best_pos)
{
    double sx = w->S[px];
    for (size_t j = 0; j < w->d; j++)
        cx[j] = w->C[j * w->cap + px];
    w->S[px] = NAN; /* not its own neighbour */
    size_t len8 = (w->len + 7) & ~(size_t)7;
    if (w->nt > 1 && w->len * w->d >= CSEG_HC_PAR_MIN) {
        size_t nb = (len8 + CSEG_HC_BLOCK - 1) / CSEG_HC_BLOCK;
        int nt = w->nt;
#ifdef _OPENMP
#pragma omp parallel for num_threads(nt) schedule(static) default(none)                        \
    shared(w, cx, sx, nb, len8)
#endif
        for (size_t b = 0; b < nb; b++) {
            size_t p1 = (b + 1) * CSEG_HC_BLOCK < len8 ? (b + 1) * CSEG_HC_BLOCK : len8;
            scan_range(w, cx, sx, b * CSEG_HC_BLOCK, p1, &w->bval[b], &w->bpos[b]);
        }
        (void)nt;
        *best = HUGE_VAL;
        *best_pos = 0;
        for (size_t b = 0; b < nb; b++) {
            if (w->bval[b] < *best) {
                *best = w->bval[b];
                *best_pos = w->bpos[b];
            }
        }
    } else {
        scan_range(w, cx, sx, 0, len8, best, best_pos);
    }
    w->S[px] = sx;
}

/* Drop the dead positions, keeping slot order. */
static void compact(ward *w)
{
    size_t q = 0, d = w->d, cap = w->cap;
    for (size_t p = 0; p < w->len; p++) {
        if (isnan(w->S[p]))
            continue;
        if (q != p) {
            for (size_t j = 0; j < d; j++)
                w->C[j * cap + q] = w->C[j * cap + p];
            w->S[q] = w->S[p];
            w->slot[q] = w->slot[p];
        }
        w->pos[w->slot[q]] = q;
        q++;
    }
    for (size_t p = q; p < w->len; p++)
        w->S[p] = NAN;
    w->len = q;
    w->n_dead = 0;
}

int cseg__hc_ward(const double *X, size_t n, size_t d, const double *wt, int nt, double *Z)
{
    int rc = CSEG_ENOMEM;
    ward w = {0};
    size_t *chain = NULL;
    double *cx = NULL;
    w.d = d;
    w.cap = (n + 7) & ~(size_t)7;
    w.len = n;
    w.nt = nt;
    w.nb = (w.cap + CSEG_HC_BLOCK - 1) / CSEG_HC_BLOCK;
    w.C = cseg__alloc_aligned(w.cap * d, sizeof(double));
    w.S = cseg__alloc_aligned(w.cap, sizeof(double));
    w.slot = malloc(w.cap * sizeof *w.slot);
    w.pos = malloc(n * sizeof *w.pos);
    w.bval = malloc(w.nb * sizeof *w.bval);
    w.bpos = malloc(w.nb * sizeof *w.bpos);
    chain = malloc(n * sizeof *chain);
    cx = malloc(d * sizeof *cx);
    if (!w.C || !w.S || !w.slot || !w.pos || !w.bval || !w.bpos || !chain || !cx)
        goto out;
    for (size_t j = 0; j < d; j++) {
        for (size_t i = 0; i < n; i++)
            w.C[j * w.cap + i] = X[i * d + j];
        for (size_t i = n; i < w.cap; i++)
            w.C[j * w.cap + i] = 0;
    }
    for (size_t i = 0; i < w.cap; i++) {
        w.S[i] = i < n ? (wt ? wt[i] : 1.0) : NAN;
        w.slot[i] = i;
        if (i < n)
            w.pos[i] = i;
    }

    size_t cl = 0;
    for (size_t k = 0; k + 1 < n; k++) {
        if (cl == 0) {
            size_t p = 0;
            while (isnan(w.S[p]))
                p++;
            chain[cl++] = w.slot[p];
        }
        size_t x, y, px, py;
        double m;
        for (;;) {
            x = chain[cl - 1];
            px = w.pos[x];
            nearest(&w, px, cx, &m, &py);
            if (cl > 1) {
                size_t pp = w.pos[chain[cl - 2]];
                double kp = key1(&w, px, pp);
                if (kp <= m) { /* SciPy keeps the previous element on a tie */
                    m = kp;
                    py = pp;
                }
            }
            y = w.slot[py];
            if (cl > 1 && y == chain[cl - 2])
                break;
            chain[cl++] = y;
        }
        cl -= 2;
        size_t lo = x < y ? x : y, hi = x < y ? y : x;
        size_t plo = w.pos[lo], phi = w.pos[hi];
        double sa = w.S[plo], sb = w.S[phi], s = sa + sb;
        Z[4 * k + 0] = (double)lo;
        Z[4 * k + 1] = (double)hi;
        Z[4 * k + 2] = sqrt(2 * m);
        Z[4 * k + 3] = s;
        for (size_t j = 0; j < d; j++) { /* equal centres stay exactly as they are: the
                                            weighted mean of x and x is not always x, and
                                            identical customers then merged at 1e-16, not
                                            0, and a cut could part them */
            double *c = w.C + j * w.cap;
            if (c[plo] != c[phi])
                c[phi] = (sa * c[plo] + sb * c[phi]) / s;
        }
        w.S[phi] = s;
        w.S[plo] = NAN;
        if (++w.n_dead * 4 > w.len && w.len > 64)
            compact(&w);
    }
    rc = 0;
out:
    cseg__free_aligned(w.C);
    cseg__free_aligned(w.S);
    free(w.slot);
    free(w.pos);
    free(w.bval);
    free(w.bpos);
    free(chain);
    free(cx);
    return rc;
}
