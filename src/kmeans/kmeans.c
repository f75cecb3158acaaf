/* custseg — k-means: greedy k-means++ seeding, Lloyd and Hamerly iterations.
 *
 * Method. Lloyd alternates assignment (nearest centre) and update (weighted
 * means). Hamerly (2010) keeps per sample an upper bound u on the distance to
 * its centre and a lower bound l on the distance to the second-closest
 * centre; with s(a) half the distance from centre a to its nearest other
 * centre, a sample whose u <= max(s(a), l) cannot change centre and its k
 * distance computations are skipped. After the update, u grows by the
 * centre's own shift and l shrinks by the largest other shift: both are kept
 * per centre, as sums of the shifts since a sample's bounds were taken, so
 * that a sample the bounds settle is only read (no pass over the bounds per
 * iteration), and the bounds are checked eight samples at a time.
 *
 * Exactness. Both variants compute a squared distance with the same code
 * (accumulated over features in order, each step one explicit fused
 * multiply-add, so vector and scalar code, and every clone, round alike; the
 * build disables implicit FP contraction), break ties towards the lower
 * index, recompute centres from scratch each iteration in block order, and
 * take the bounds with a relative margin of 1e-12 so rounding can only cause
 * extra work. Hence Hamerly returns Lloyd's result to the last bit.
 *
 * Layout. Distances are computed for eight samples at once, one per vector
 * lane, against each centre in turn, keeping the nearest and second-nearest
 * per lane with selects: no branch depends on the data. Lloyd takes four
 * tiles at a time, each centre against all four, so that their sums and
 * selections overlap (nearest_tiles). X is read in place:
 * each tile of 8 rows is transposed feature-major through registers (24
 * shuffles per 8 x 8) into a small per-block buffer, so there is no n x d
 * copy of the data (except for d < 8, where a transpose would be mostly
 * padding: the tiles are then copied once per fit), and right after the
 * assignment the tile's rows, still in L1, are added to their clusters'
 * sums, one row-vector add per sample into a cell per (cluster, lane i % 8):
 * the same cells, in the same sample order, as Hamerly's per-sample
 * accumulation. Samples are processed in fixed blocks
 * of CSEG_KM_BLOCK; each block writes its own partial sums, which are added
 * in block order: identical results for any number of threads. The hot
 * functions are compiled for x86-64-v4 (AVX-512), v3 (AVX2 + FMA) and
 * baseline x86-64 and chosen at load time (CSEG_HOT, src/core/simd.h); the
 * loop for d == 8 is also compiled with d constant.
 *
 * Complexity. Seeding O(k (2 + ln k) n d); each iteration O(n k d) for Lloyd,
 * O(n d) plus the unskipped samples' O(k d) for Hamerly; memory O(n + B k d)
 * for B blocks.
 *
 * References: Arthur & Vassilvitskii (2007) k-means++; Hamerly (2010) "Making
 * k-means even faster"; scikit-learn's _kmeans_plusplus and lloyd loop for the
 * conventions (tolerance, final E-step, empty-cluster relocation).
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "custseg/kmeans.h"
#include "internal.h"
#include "../core/internal.h"
#include "../core/simd.h"

#define CSEG_KM_BLOCK 4096
#define CSEG_KM_SPAN_BLOCKS (CSEG_KMEANS_SPAN / CSEG_KM_BLOCK)
#define CSEG_KM_MARGIN 1e-12
/* Hamerly's test asks the bounds to differ by this much relative to their
 * size and the drifts' (hamerly_block): rounding in the sums of drifts and
 * the bounds relative to them is at most a few 2^-53 per iteration, so the
 * slack covers CSEG_KM_REBASE iterations with room to spare, after which the
 * bounds are taken afresh. */
#define CSEG_KM_SLACK 1e-10
#define CSEG_KM_REBASE 65536
#define CSEG_KM_AHEAD 8 /* tiles of software prefetch distance */
#define CSEG_KM_CHUNK 4 /* tiles whose nearest centres Lloyd finds together (nearest_tiles) */
/* Below this many samples a parallel region costs more than it saves
 * (and with busy cores, far more): run on the calling thread. */
#define CSEG_KM_PAR_MIN 32768

struct cseg_kmeans {
    cseg_kmeans_params p;
    size_t k, d, n;
    double *C;
    int32_t *labels;
    double inertia;
    size_t n_iter;
    int converged;
    int fitted;
    double n_skipped, n_checked;
};

void cseg_kmeans_params_init(cseg_kmeans_params *p)
{
    p->k = 8;
    p->n_init = 10;
    p->max_iter = 300;
    p->tol = 1e-4;
    p->seed = 0;
    p->algorithm = CSEG_KMEANS_LLOYD;
    p->n_threads = 0;
    p->init = NULL;
}

const char *cseg_kmeans_params_check(const cseg_kmeans_params *p)
{
    if (p->k < 1)
        return "k must be >= 1";
    if (p->k > (1u << 30))
        return "k is too large";
    if (p->n_init < 1)
        return "n_init must be >= 1";
    if (p->max_iter < 1)
        return "max_iter must be >= 1";
    if (!(p->tol >= 0) || !isfinite(p->tol))
        return "tol must be a finite number >= 0";
    if (p->algorithm != CSEG_KMEANS_HAMERLY && p->algorithm != CSEG_KMEANS_LLOYD)
        return "algorithm must be hamerly or lloyd";
    if (p->n_threads < 0)
        return "n_threads must be >= 0";
    return NULL;
}

int cseg_kmeans_create(cseg_kmeans **out, const cseg_kmeans_params *p)
{
    cseg_kmeans_params defaults;
    *out = NULL;
    if (!p) {
        cseg_kmeans_params_init(&defaults);
        p = &defaults;
    }
    if (cseg_kmeans_params_check(p))
        return CSEG_EINVAL;
    cseg_kmeans *km = calloc(1, sizeof *km);
    if (!km)
        return CSEG_ENOMEM;
    km->p = *p;
    *out = km;
    return 0;
}

void cseg_kmeans_free(cseg_kmeans *km)
{
    if (!km)
        return;
    free(km->C);
    free(km->labels);
    free(km);
}

typedef struct work {
    const double *X, *w;
    double *xs;    /* nb x CSEG_KM_CHUNK x d x 8: per block, the current tiles of 8
                      samples transposed feature-major (eight samples load as one
                      vector); block_xs */
    double *Xt;    /* d < 8 only: X in tiles of 8 samples (d x 8 each), made once per
                      fit, since with fewer than 8 features the on-the-fly transpose
                      would be scalar copies in every pass; NULL otherwise */
    size_t n, d, k, nb;
    int nt;
    double *C;     /* k x d */
    int32_t *lab;
    /* Hamerly's bounds of sample i with centre a, kept relative to the
     * centres' drift since they were taken: upper[i] + cu[a] bounds the
     * distance to its centre from above, lower[i] - cl[a] the distance to any
     * other from below (hamerly_block). */
    double *upper, *lower;
    double *half;  /* s(a) */
    double *drift; /* 3 k: cu, then cl, then cu + cl + s(a) (the slack's scale) */
    double *bsum;  /* nb x k x 8 x d: per block, cluster and lane, one partial sum
                      per feature (sample i goes to lane i % 8): a sample is added as
                      one contiguous row, and consecutive samples never wait on each
                      other's store */
    double *bcnt;  /* nb x k x 8 */
    double *bval;  /* nb: per-block scalar (inertia or potential) */
    size_t *bchg;  /* nb: labels changed / distances skipped */
    size_t *bskip;
    double *dist;  /* n: squared distance to the assigned centre (relocation, seeding) */
    /* Spans (internal.h): this process holds spans s0 .. s0 + ns - 1 of
     * ns_all, rows row0 .. row0 + n - 1 of n_all; comm NULL: all of them. */
    const cseg__km_comm *comm;
    size_t row0, n_all, s0, ns, ns_all;
    double *spart; /* ns x (k d + k), at least 16 d and 64: per-span partial sums */
    double *sall;  /* the same for ns_all spans (a copy of spart without comm) */
} work;

/* Block b's buffer of transposed tiles. */
static inline double *block_xs(const work *w, size_t b)
{
    return w->xs + b * CSEG_KM_CHUNK * 8 * w->d;
}

static inline double wt(const work *w, size_t i)
{
    return w->w ? w->w[i] : 1.0;
}

/* Blocks [b0, b1) and samples [i0, i1) of this process's span s. */
static inline void span_blocks(const work *w, size_t s, size_t *b0, size_t *b1)
{
    *b0 = s * CSEG_KM_SPAN_BLOCKS;
    *b1 = *b0 + CSEG_KM_SPAN_BLOCKS < w->nb ? *b0 + CSEG_KM_SPAN_BLOCKS : w->nb;
}

static inline void span_rows(const work *w, size_t s, size_t *i0, size_t *i1)
{
    *i0 = s * CSEG_KMEANS_SPAN;
    *i1 = *i0 + CSEG_KMEANS_SPAN < w->n ? *i0 + CSEG_KMEANS_SPAN : w->n;
}

/* Every span's m values (this process's in w->spart) in span order: w->sall
 * with several processes, else w->spart itself. */
static int span_all(work *w, size_t m, const double **all)
{
    *all = w->spart;
    if (!w->comm)
        return 0;
    size_t total = 0;
    int rc = w->comm->allgatherv(w->comm->ctx, w->spart, w->ns * m, w->sall, &total);
    if (rc < 0)
        return rc;
    *all = w->sall;
    return total == w->ns_all * m ? 0 : CSEG_EINVAL;
}

/* out (m values) = the spans' partial sums (w->spart, m a span) added in
 * span order, the first as it is: with one span, the plain loop's sum. */
static int span_reduce(work *w, size_t m, double *out)
{
    const double *all;
    int rc = span_all(w, m, &all);
    if (rc < 0)
        return rc;
    memcpy(out, all, m * sizeof *out);
    for (size_t s = 1; s < w->ns_all; s++)
        for (size_t j = 0; j < m; j++)
            out[j] += all[s * m + j];
    return 0;
}

/* Integer counts summed over the processes. */
static int counts_sum(const work *w, uint64_t *v, size_t m)
{
    return w->comm ? w->comm->sum(w->comm->ctx, v, m) : 0;
}

/* The span among all of cumulative sums T (ns_all values) in which a draw r
 * falls: the first s with O + T[s] > r (strict) or >= r, O the sum of the
 * ones before it; the last span when none. *off receives O. */
static size_t span_pick(const double *T, size_t ns_all, double r, int strict, double *off)
{
    size_t s = 0;
    double o = 0;
    while (s + 1 < ns_all && (strict ? !(o + T[s] > r) : o + T[s] < r))
        o += T[s++];
    *off = o;
    return s;
}

/* Squared distance from x to centre c, features in order: the scalar twin of
 * vsq_acc (src/core/simd.h), so scalar (dist_one, d2_rows) and vector
 * (nearest8, tile_d2) paths round alike. */
static inline double dist_one(const double *x, const double *C, size_t d, size_t c)
{
    double s = 0;
    for (size_t j = 0; j < d; j++) {
        double t = x[j] - C[c * d + j];
        s = __builtin_fma(t, t, s);
    }
    return s;
}

/* Transpose 8 rows of 8 doubles (in[l][q]) into out[q][l]: three rounds of
 * two-source shuffles (pairs, quads, halves), 24 in all. */
CSEG_INLINE void transpose8(const v8d *in, v8d *out)
{
    const v8l lo1 = {0, 8, 2, 10, 4, 12, 6, 14}, hi1 = {1, 9, 3, 11, 5, 13, 7, 15};
    const v8l lo2 = {0, 1, 8, 9, 4, 5, 12, 13}, hi2 = {2, 3, 10, 11, 6, 7, 14, 15};
    const v8l lo4 = {0, 1, 2, 3, 8, 9, 10, 11}, hi4 = {4, 5, 6, 7, 12, 13, 14, 15};
    v8d t[8], u[8];
    for (int p = 0; p < 8; p += 2) {
        t[p] = __builtin_shuffle(in[p], in[p + 1], lo1);
        t[p + 1] = __builtin_shuffle(in[p], in[p + 1], hi1);
    }
    for (int p = 0; p < 8; p += 4) {
        u[p] = __builtin_shuffle(t[p], t[p + 2], lo2);
        u[p + 1] = __builtin_shuffle(t[p + 1], t[p + 3], lo2);
        u[p + 2] = __builtin_shuffle(t[p], t[p + 2], hi2);
        u[p + 3] = __builtin_shuffle(t[p + 1], t[p + 3], hi2);
    }
    for (int q = 0; q < 4; q++) {
        out[q] = __builtin_shuffle(u[q], u[q + 4], lo4);
        out[q + 4] = __builtin_shuffle(u[q], u[q + 4], hi4);
    }
}

/* Copy 8 rows of X (rows[l], each d doubles) feature-major into xs (d x 8):
 * blocks of 8 features through registers, the last d % 8 features (all of
 * them when d < 8) by scalar copies, which is cheaper than a transpose of
 * mostly padding. X stays the only copy of the data: no n x d tile copy is
 * allocated, and a tile's rows are still in L1 when the caller adds them to
 * the centre sums. */
CSEG_INLINE void load_tile(const double *const *rows, size_t d, double *xs)
{
    size_t j0 = 0;
    for (; j0 + 8 <= d; j0 += 8) {
        v8d in[8], out[8];
        for (size_t l = 0; l < 8; l++)
            memcpy(&in[l], rows[l] + j0, sizeof in[l]);
        transpose8(in, out);
        for (size_t q = 0; q < 8; q++)
            memcpy(xs + (j0 + q) * 8, &out[q], sizeof out[q]);
    }
    for (size_t l = 0; l < 8; l++)
        for (size_t j = j0; j < d; j++)
            xs[j * 8 + l] = rows[l][j];
}

/* The tile of samples g..g+7 feature-major: from the per-fit copy when there
 * is one, else transposed from X into xs. */
CSEG_INLINE const double *get_tile(const work *w, size_t g, const double *const *rows, size_t d,
                                   double *xs)
{
    if (w->Xt)
        return w->Xt + g * d;
    load_tile(rows, d, xs);
    return xs;
}

/* The 8 rows of the tile starting at sample g of block [.., i1); lanes past
 * i1 repeat the last sample (their results are ignored). */
CSEG_INLINE size_t tile_rows(const work *w, size_t g, size_t i1, const double **rows)
{
    size_t m = i1 - g < 8 ? i1 - g : 8;
    for (size_t l = 0; l < 8; l++)
        rows[l] = w->X + (g + (l < m ? l : m - 1)) * w->d;
    return m;
}

/* Sum cell of cluster a, lane l in block b, and the one way every variant adds
 * a sample to it (so Lloyd and Hamerly sum identically). */
static inline double *sum_cell(const work *w, size_t b, size_t a, size_t l)
{
    return w->bsum + ((b * w->k + a) * 8 + l) * w->d;
}

CSEG_INLINE void add_row(double *s, const double *x, const double *wp, double wi, size_t d)
{
    size_t j = 0;
    /* Eight features per vector operation; each element still gets exactly
     * one add (and one multiply when weighted), as in the scalar tail. */
    for (; j + 8 <= d; j += 8) {
        v8d sv, xv;
        memcpy(&sv, s + j, sizeof sv);
        memcpy(&xv, x + j, sizeof xv);
        sv += wp ? wi * xv : xv;
        memcpy(s + j, &sv, sizeof sv);
    }
    for (; j < d; j++)
        s[j] += wp ? wi * x[j] : x[j];
}

/* Nearest centre (lowest index on ties), its squared distance and the second
 * smallest, for the 8 points in xs, one point per lane. Centres are scanned in
 * order and a lane moves only on a strictly smaller distance, exactly as a
 * scalar scan would; each lane's sum has dist_one's operations in dist_one's
 * order, so both agree to the last bit. No branch depends on the data. */
CSEG_INLINE void nearest8(const double *xs, size_t stride, const double *C, size_t k, size_t d,
                          long long *best, double *b1, double *b2)
{
    v8d m1, m2;
    v8l bi = CSEG_V8Z;
    for (int l = 0; l < 8; l++)
        m1[l] = m2[l] = HUGE_VAL;
    size_t c = 0;
    /* Four centres per pass: four independent sums keep the adder busy. The
     * updates below still go centre by centre, in order. */
    for (; c + 4 <= k; c += 4) {
        const double *c0 = C + c * d, *c1 = c0 + d, *c2 = c1 + d, *c3 = c2 + d;
        v8d a0 = CSEG_V8Z, a1 = a0, a2 = a0, a3 = a0;
        for (size_t j = 0; j < d; j++) {
            v8d xv;
            memcpy(&xv, xs + j * stride, sizeof xv);
            v8d t0 = xv - c0[j], t1 = xv - c1[j], t2 = xv - c2[j], t3 = xv - c3[j];
            vsq_acc(&a0, &t0);
            vsq_acc(&a1, &t1);
            vsq_acc(&a2, &t2);
            vsq_acc(&a3, &t3);
        }
        const v8d *accs[4] = {&a0, &a1, &a2, &a3};
        for (size_t q = 0; q < 4; q++) {
            v8d acc = *accs[q];
            v8l lt = acc < m1;
            if (b2) {
                v8l lt2 = acc < m2;
                m2 = CSEG_SEL(lt, m1, CSEG_SEL(lt2, acc, m2));
            }
            m1 = CSEG_SEL(lt, acc, m1);
            bi = (bi & ~lt) | ((long long)(c + q) & lt);
        }
    }
    for (; c < k; c++) {
        const double *cc = C + c * d;
        v8d acc = CSEG_V8Z;
        for (size_t j = 0; j < d; j++) {
            v8d xv;
            memcpy(&xv, xs + j * stride, sizeof xv);
            v8d t = xv - cc[j];
            vsq_acc(&acc, &t);
        }
        v8l lt = acc < m1;
        if (b2) {
            v8l lt2 = acc < m2;
            m2 = CSEG_SEL(lt, m1, CSEG_SEL(lt2, acc, m2));
        }
        m1 = CSEG_SEL(lt, acc, m1);
        bi = (bi & ~lt) | ((long long)c & lt);
    }
    memcpy(best, &bi, sizeof bi);
    memcpy(b1, &m1, sizeof m1);
    if (b2) /* the second distance only feeds Hamerly's bounds */
        memcpy(b2, &m2, sizeof m2);
}

static double d2_rows(const double *a, const double *b, size_t d)
{
    double s = 0;
    for (size_t j = 0; j < d; j++) {
        double t = a[j] - b[j];
        s = __builtin_fma(t, t, s);
    }
    return s;
}

/* Squared distances from the 8 samples of a tile to point y. (Vectors go
 * through pointers: passing them by value would tie the ABI to the ISA.) */
CSEG_INLINE void tile_d2(const double *tile, const double *y, size_t d, v8d *out)
{
    v8d acc = CSEG_V8Z;
    for (size_t j = 0; j < d; j++) {
        v8d xv;
        memcpy(&xv, tile + j * 8, sizeof xv);
        v8d t = xv - y[j];
        vsq_acc(&acc, &t);
    }
    *out = acc;
}

/* Sample weights of a tile; lanes past n weigh 0. */
static inline void tile_w(const work *w, size_t g, v8d *out)
{
    for (int l = 0; l < 8; l++)
        (*out)[l] = g + (size_t)l < w->n ? wt(w, g + (size_t)l) : 0;
}

static void clear_block(work *w, size_t b)
{
    memset(w->bsum + b * 8 * w->k * w->d, 0, 8 * w->k * w->d * sizeof(double));
    memset(w->bcnt + b * 8 * w->k, 0, 8 * w->k * sizeof(double));
    w->bval[b] = 0;
    w->bchg[b] = 0;
    w->bskip[b] = 0;
}

/* Add the block's samples to its partial sums, in sample order (the same
 * order for Lloyd and Hamerly, so the centres come out identical). */
static void accumulate_block(work *w, size_t b, size_t i0, size_t i1)
{
    size_t d = w->d;
    for (size_t i = i0; i < i1; i++) {
        double wi = wt(w, i);
        size_t a = (size_t)w->lab[i], lane = i % 8;
        add_row(sum_cell(w, b, a, lane), w->X + i * d, w->w, wi, d);
        w->bcnt[(b * w->k + a) * 8 + lane] += wi;
    }
}

/* Sample i's bounds from its squared distances to its nearest centre a (d1)
 * and to the second nearest (d2), relative to the drift (work.upper). */
static inline void set_bounds(work *w, size_t i, size_t a, double d1, double d2)
{
    w->upper[i] = sqrt(d1) * (1 + CSEG_KM_MARGIN) - w->drift[a];
    w->lower[i] = sqrt(d2) * (1 - CSEG_KM_MARGIN) + w->drift[w->k + a];
}

/* Full assignment of up to 8 samples idx[0..cnt) with bounds (optional). */
CSEG_INLINE void assign8(work *w, size_t b, const size_t *idx, size_t cnt, int bounds, double *xs)
{
    long long best[8];
    double b1[8], b2[8];
    const double *rows[8];
    for (size_t l = 0; l < 8; l++)
        rows[l] = w->X + idx[l < cnt ? l : cnt - 1] * w->d;
    load_tile(rows, w->d, xs);
    nearest8(xs, 8, w->C, w->k, w->d, best, b1, b2);
    for (size_t l = 0; l < cnt; l++) {
        size_t i = idx[l];
        w->bchg[b] += w->lab[i] != (int32_t)best[l];
        w->lab[i] = (int32_t)best[l];
        if (bounds)
            set_bounds(w, i, (size_t)best[l], b1[l], b2[l]);
    }
}

/* A tile's nearest centre so far: distance, second distance, index. */
typedef struct near8 {
    v8d m1, m2;
    v8l bi;
} near8;

/* One centre against one tile of nearest_tiles: the sum and the selection. */
CSEG_INLINE near8 centre_tile(const double *xt, const double *cc, size_t d, long long c, near8 n,
                              int second)
{
    v8d acc = CSEG_V8Z;
    for (size_t j = 0; j < d; j++) {
        v8d xv;
        memcpy(&xv, xt + j * 8, sizeof xv);
        v8d u = cc[j] - xv;
        vsq_acc(&acc, &u);
    }
    v8l lt = acc < n.m1;
    if (second) {
        v8l lt2 = acc < n.m2;
        n.m2 = CSEG_SEL(lt, n.m1, CSEG_SEL(lt2, acc, n.m2));
    }
    n.m1 = CSEG_SEL(lt, acc, n.m1);
    n.bi = (n.bi & ~lt) | (c & lt);
    return n;
}

/* Nearest centre (lowest index on ties), its squared distance and the second
 * smallest, for the CSEG_KM_CHUNK tiles at xs (tile t at xs + t * 8 * d,
 * feature-major),
 * with the centres outermost: each centre's features are loaded once for all
 * T tiles, and the T tiles' sums and selections are independent chains that
 * the CPU overlaps (one tile's eight-FMA sum and eight-step selection are a
 * chain of latencies that nearest8 leaves mostly idle). Each lane's sum and
 * selection are nearest8's (and dist_one's) operations in their order, so
 * all agree to the last bit: the difference is taken as c - x, the negation
 * of x - c exactly (rounding to nearest is symmetric), whose square is the
 * same; written so, the tile is the operand read from memory. */
CSEG_INLINE void nearest_tiles(const double *xs, const double *C, size_t k, size_t d,
                               long long *best, double *b1, double *b2)
{
    const v8d zero = CSEG_V8Z, inf = zero + HUGE_VAL;
    near8 n0 = {inf, inf, (v8l)zero}, n1 = n0, n2 = n0, n3 = n0;
    int second = b2 != NULL;
    for (size_t c = 0; c < k; c++) {
        const double *cc = C + c * d;
        n0 = centre_tile(xs, cc, d, (long long)c, n0, second);
        n1 = centre_tile(xs + 8 * d, cc, d, (long long)c, n1, second);
        n2 = centre_tile(xs + 16 * d, cc, d, (long long)c, n2, second);
        n3 = centre_tile(xs + 24 * d, cc, d, (long long)c, n3, second);
    }
    const near8 *all[CSEG_KM_CHUNK] = {&n0, &n1, &n2, &n3};
    for (size_t t = 0; t < CSEG_KM_CHUNK; t++) {
        memcpy(best + t * 8, &all[t]->bi, sizeof all[t]->bi);
        memcpy(b1 + t * 8, &all[t]->m1, sizeof all[t]->m1);
        if (b2) /* the second distance only feeds Hamerly's bounds */
            memcpy(b2 + t * 8, &all[t]->m2, sizeof all[t]->m2);
    }
}

typedef int32_t v8i __attribute__((vector_size(32)));

/* Samples g .. g + 8 CSEG_KM_CHUNK - 1 of block b, those before i1 (lanes
 * past it repeat the sample before i1, and are ignored): nearest centres,
 * labels (changes counted in *chg, or for a whole tile lane by lane, negated,
 * in *chgv), bounds and, in sample order, the sums. */
CSEG_INLINE void lloyd_chunk(work *w, size_t b, size_t g, size_t i1, int bounds, int accumulate,
                             size_t d, double *xs, v8d *inert, size_t *chg, v8i *chgv)
{
    const double *X = w->X, *wts = w->w;
    int32_t *lab = w->lab;
    double *sums = w->bsum + b * w->k * 8 * d, *cnt = w->bcnt + b * w->k * 8;
    long long best[CSEG_KM_CHUNK * 8];
    double b1[CSEG_KM_CHUNK * 8], b2[CSEG_KM_CHUNK * 8];
    const double *tiles;
    if (w->Xt) {
        tiles = w->Xt + g * d; /* whole chunks of tiles, in nearest_tiles' layout */
    } else {
        for (size_t t = 0; t < CSEG_KM_CHUNK; t++) {
            const double *rows[8];
            for (size_t l = 0; l < 8; l++) {
                size_t i = g + t * 8 + l;
                rows[l] = X + (i < i1 ? i : i1 - 1) * d;
            }
            load_tile(rows, d, xs + t * 8 * d);
        }
        tiles = xs;
    }
    nearest_tiles(tiles, w->C, w->k, d, best, b1, bounds ? b2 : NULL);
    for (size_t t = 0; t < CSEG_KM_CHUNK && g + t * 8 < i1; t++) {
        size_t g0 = g + t * 8, m = i1 - g0 >= 8 ? 8 : i1 - g0;
        const long long *bt = best + t * 8;
        v8d wv = CSEG_V8Z, dv;
        for (size_t l = 0; l < 8; l++)
            wv[l] = l < m ? (wts ? wts[g0 + l] : 1.0) : 0;
        memcpy(&dv, b1 + t * 8, sizeof dv);
        *inert += wv * dv; /* padding lanes weigh 0 */
        if (m == 8) {      /* the eight labels as one vector */
            v8l bl;
            v8i old;
            memcpy(&bl, bt, sizeof bl);
            memcpy(&old, lab + g0, sizeof old);
            v8i nl = __builtin_convertvector(bl, v8i);
            *chgv += old != nl;
            memcpy(lab + g0, &nl, sizeof nl);
        } else {
            for (size_t l = 0; l < m; l++) {
                *chg += lab[g0 + l] != (int32_t)bt[l];
                lab[g0 + l] = (int32_t)bt[l];
            }
        }
        for (size_t l = 0; l < m && bounds; l++)
            set_bounds(w, g0 + l, (size_t)bt[l], b1[t * 8 + l], b2[t * 8 + l]);
        /* Lane l of the tile is sample g0 + l, and (g0 + l) % 8 == l: sum_cell. */
        for (size_t l = 0; l < m && accumulate; l++) {
            size_t a = (size_t)bt[l];
            if (wts) {
                add_row(sums + (a * 8 + l) * d, X + (g0 + l) * d, wts, wv[l], d);
                cnt[a * 8 + l] += wv[l];
            } else {
                add_row(sums + (a * 8 + l) * d, X + (g0 + l) * d, NULL, 1.0, d);
                cnt[a * 8 + l] += 1.0;
            }
        }
    }
}

/* Lloyd assignment of block b (also the full scan Hamerly starts with and
 * the final E-step), CSEG_KM_CHUNK tiles of 8 samples at a time; the tiles'
 * rows are added to the partial sums right away, in sample order, while in
 * L1. */
CSEG_INLINE void lloyd_tiles(work *w, size_t b, int bounds, int accumulate, size_t d)
{
    size_t i0 = b * CSEG_KM_BLOCK, i1 = i0 + CSEG_KM_BLOCK < w->n ? i0 + CSEG_KM_BLOCK : w->n;
    double *xs = block_xs(w, b);
    v8d inert = CSEG_V8Z;
    v8i chgv = {0};
    size_t chg = 0, g = i0;
    clear_block(w, b);
    for (; g < i1; g += CSEG_KM_CHUNK * 8) {
        /* X streams from memory once per iteration: ask for the chunk
         * CSEG_KM_AHEAD tiles ahead now so that its loads do not stall. */
        if (g + (CSEG_KM_AHEAD + CSEG_KM_CHUNK) * 8 <= i1) {
            const char *pf = (const char *)(w->X + (g + CSEG_KM_AHEAD * 8) * d);
            for (size_t o = 0; o < CSEG_KM_CHUNK * 64 * d; o += 64)
                __builtin_prefetch(pf + o);
        }
        lloyd_chunk(w, b, g, i1, bounds, accumulate, d, xs, &inert, &chg, &chgv);
    }
    for (int l = 0; l < 8; l++)
        chg += (size_t)(-(int64_t)chgv[l]); /* a lane counts -1 per change */
    w->bval[b] = lanes_sum(&inert);
    w->bchg[b] = chg;
}

/* d == 8 gets its own copies of the loop with d known at
 * compile time: the feature loops unroll and a tile stays in registers. The
 * arithmetic is the same, so all copies agree bit for bit. */
CSEG_HOT static void lloyd_block(work *w, size_t b, int bounds, int accumulate)
{
    /* Constant arguments, so each combination gets its own loop. */
    if (w->d == 8) {
        if (bounds)
            lloyd_tiles(w, b, 1, 1, 8);
        else
            lloyd_tiles(w, b, 0, accumulate, 8);
    } else if (bounds) { /* bounds as a variable made GCC 12 fail (internal error) */
        lloyd_tiles(w, b, 1, 1, w->d);
    } else {
        lloyd_tiles(w, b, 0, accumulate, w->d);
    }
}

CSEG_HOT static void hamerly_block(work *w, size_t b)
{
    const size_t d = w->d, k = w->k;
    const size_t i0 = b * CSEG_KM_BLOCK, i1 = i0 + CSEG_KM_BLOCK < w->n ? i0 + CSEG_KM_BLOCK : w->n;
    const int32_t *lab = w->lab;
    const double *cu = w->drift, *cl = cu + k, *sc = cl + k, *half = w->half;
    uint16_t todo[CSEG_KM_BLOCK]; /* offsets in the block of the samples left to decide */
    size_t nt = 0, i = i0;
    clear_block(w, b);
    /* 1. The bounds, eight samples at a time: the undecided ones listed,
     * with no branch per sample. A sample is settled when its upper bound,
     * plus a slack far above every rounding on the way (the drifts' sums,
     * the bounds' own), is below the larger of s(a) and its lower bound. */
    if (k <= 8) { /* the per-centre values are one vector each, taken by index */
        v8d tu = CSEG_V8Z, tl = tu, th = tu, ts = tu;
        for (size_t a = 0; a < k; a++)
            tu[a] = cu[a], tl[a] = cl[a], th[a] = half[a], ts[a] = sc[a];
        const v8d zero = CSEG_V8Z;
        const v8l sign = (v8l)(zero - 0.0); /* the sign bit: |x| is x & ~sign */
        for (; i + 8 <= i1; i += 8) {
            /* The block's rows are read in steps 2 and 4: ask for them now,
             * in order, rather than one miss at a time for step 2. */
            if (i + CSEG_KM_AHEAD * 8 + 8 <= i1) {
                const char *pf = (const char *)(w->X + (i + CSEG_KM_AHEAD * 8) * d);
                for (size_t o = 0; o < 64 * d; o += 64)
                    __builtin_prefetch(pf + o);
            }
            v8i a32;
            v8d u, l;
            memcpy(&a32, lab + i, sizeof a32);
            memcpy(&u, w->upper + i, sizeof u);
            memcpy(&l, w->lower + i, sizeof l);
            v8l a = __builtin_convertvector(a32, v8l);
            v8d slack = CSEG_KM_SLACK *
                        ((v8d)((v8l)u & ~sign) + (v8d)((v8l)l & ~sign) + __builtin_shuffle(ts, a));
            v8d up = u + __builtin_shuffle(tu, a) + slack, lo = l - __builtin_shuffle(tl, a),
                h = __builtin_shuffle(th, a);
            v8l settled = (up < lo) | (up < h);
            unsigned open = 0;
            for (int q = 0; q < 8; q++)
                open |= (unsigned)(~settled[q] & 1) << q;
            while (open) {
                todo[nt++] = (uint16_t)(i - i0 + (size_t)__builtin_ctz(open));
                open &= open - 1;
            }
        }
    }
    for (; i < i1; i++) {
        size_t a = (size_t)lab[i];
        double u = w->upper[i], l = w->lower[i];
        double up = u + cu[a] + CSEG_KM_SLACK * (fabs(u) + fabs(l) + sc[a]);
        todo[nt] = (uint16_t)(i - i0);
        nt += !(up < l - cl[a] || up < half[a]);
    }
    /* 2. Their distance to their own centre, the upper bound made tight;
     * those still undecided are listed again. */
    size_t nf = 0;
    for (size_t t = 0; t < nt; t++) {
        size_t j = i0 + todo[t], a = (size_t)lab[j];
        double u = sqrt(dist_one(w->X + j * d, w->C, d, a)) * (1 + CSEG_KM_MARGIN);
        double l = w->lower[j], up = u + CSEG_KM_SLACK * (u + fabs(l) + sc[a]);
        w->upper[j] = u - cu[a];
        todo[nf] = todo[t];
        nf += !(up < l - cl[a] || up < half[a]);
    }
    /* 3. Every distance for those, eight at a time. */
    for (size_t t = 0; t < nf; t += 8) {
        size_t idx[8], c = nf - t < 8 ? nf - t : 8;
        for (size_t q = 0; q < c; q++)
            idx[q] = i0 + todo[t + q];
        assign8(w, b, idx, c, 1, block_xs(w, b));
    }
    w->bskip[b] = (i1 - i0) - nf;
    /* 4. Every sample to the sums, in order, as Lloyd adds them. */
    accumulate_block(w, b, i0, i1);
}

/* Sum block partials in block order (span by span, then the spans) into new
 * centres, Cnew (k x d) followed by their weights cnt (k values);
 * *n_empty receives the number of empty clusters (their centres are left as
 * they were). */
static int reduce_centres(work *w, double *Cnew, size_t *n_empty)
{
    size_t k = w->k, d = w->d, m = k * d + k, empty = 0;
    for (size_t sp = 0; sp < w->ns; sp++) {
        double *S = w->spart + sp * m, *N = S + k * d;
        size_t b0, b1;
        span_blocks(w, sp, &b0, &b1);
        memset(S, 0, m * sizeof *S);
        for (size_t b = b0; b < b1; b++) {
            for (size_t c = 0; c < k; c++) {
                for (size_t l = 0; l < 8; l++) {
                    N[c] += w->bcnt[(b * k + c) * 8 + l];
                    const double *s = sum_cell(w, b, c, l);
                    for (size_t j = 0; j < d; j++)
                        S[c * d + j] += s[j];
                }
            }
        }
    }
    int rc = span_reduce(w, m, Cnew);
    if (rc < 0)
        return rc;
    const double *cnt = Cnew + k * d;
    for (size_t c = 0; c < k; c++) {
        if (cnt[c] > 0) {
            for (size_t j = 0; j < d; j++)
                Cnew[c * d + j] /= cnt[c];
        } else {
            empty++;
        }
    }
    *n_empty = empty;
    return 0;
}

typedef struct far {
    double d2;
    size_t i; /* the sample, among all processes' */
    size_t r; /* its record among the offers */
} far;

static int cmp_far(const void *pa, const void *pb)
{
    const far *a = pa, *b = pb;
    if (a->d2 != b->d2)
        return a->d2 > b->d2 ? -1 : 1;
    return a->i < b->i ? -1 : a->i > b->i;
}

/* Give each empty cluster one of the samples farthest from their centres
 * (w->dist must hold those squared distances), among all processes' samples:
 * each offers its n_empty farthest (distance, row, weight, label, the row's
 * values) and every process orders all the offers alike. */
static int relocate_empty(work *w, double *Cnew, double *cnt, size_t n_empty)
{
    size_t d = w->d, rec = 4 + d, mine = n_empty < w->n ? n_empty : w->n;
    size_t procs = w->comm ? (size_t)w->comm->size : 1, total = mine * rec;
    far *f = malloc((w->n > procs * n_empty ? w->n : procs * n_empty) * sizeof *f);
    double *offer = malloc((mine ? mine : 1) * rec * sizeof *offer);
    double *all = w->comm ? malloc(procs * n_empty * rec * sizeof *all) : offer;
    int rc = 0;
    if (!f || !offer || !all) {
        rc = CSEG_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < w->n; i++)
        f[i] = (far){w->dist[i], w->row0 + i, 0};
    qsort(f, w->n, sizeof *f, cmp_far);
    for (size_t q = 0; q < mine; q++) {
        size_t i = f[q].i - w->row0;
        double *o = offer + q * rec;
        o[0] = f[q].d2;
        o[1] = (double)f[q].i;
        o[2] = wt(w, i);
        o[3] = w->lab[i];
        memcpy(o + 4, w->X + i * d, d * sizeof *o);
    }
    if (w->comm &&
        (rc = w->comm->allgatherv(w->comm->ctx, offer, mine * rec, all, &total)) < 0)
        goto out;
    for (size_t r = 0; r < total / rec; r++)
        f[r] = (far){all[r * rec], (size_t)all[r * rec + 1], r};
    qsort(f, total / rec, sizeof *f, cmp_far);
    size_t used = 0;
    for (size_t c = 0; c < w->k && used < n_empty && used < total / rec; c++) {
        if (cnt[c] > 0)
            continue;
        const double *o = all + f[used++].r * rec, *x = o + 4;
        int32_t old = (int32_t)o[3];
        double wi = o[2];
        /* Move the sample's weight from its old cluster to the empty one. */
        if (cnt[old] > wi) {
            for (size_t j = 0; j < w->d; j++)
                Cnew[(size_t)old * w->d + j] =
                    (Cnew[(size_t)old * w->d + j] * cnt[old] - wi * x[j]) / (cnt[old] - wi);
            cnt[old] -= wi;
        }
        memcpy(Cnew + c * w->d, x, w->d * sizeof *x);
        cnt[c] = wi;
    }
out:
    free(f);
    if (all != offer)
        free(all);
    free(offer);
    return rc;
}

/* Span sp: dist = min(dist, |x - y|^2) (first: dist = |x - y|^2), eight
 * samples a step, and as it goes the span's potential (weighted squared
 * distances added in sample order) into w->spart[sp] and, when cumsum is
 * given, the running sum within the span at every sample. One pass over the
 * span for what were two (the update, block by block, then the potential):
 * the seeding's share of a 1,000,000 x 8 fit was a third. */
CSEG_INLINE void span_update_rows(work *w, size_t sp, const double *y, int first, double *cumsum,
                                  size_t d)
{
    size_t b0, b1;
    span_blocks(w, sp, &b0, &b1);
    double acc = 0, *dist = w->dist;
    for (size_t b = b0; b < b1; b++) {
        size_t i0 = b * CSEG_KM_BLOCK, i1 = i0 + CSEG_KM_BLOCK < w->n ? i0 + CSEG_KM_BLOCK : w->n;
        double *xs = block_xs(w, b);
        for (size_t g = i0; g < i1; g += 8) {
            v8d e, cur;
            const double *rows[8];
            size_t m = tile_rows(w, g, i1, rows);
            tile_d2(get_tile(w, g, rows, d, xs), y, d, &e);
            if (m == 8) {
                memcpy(&cur, dist + g, sizeof cur);
                if (!first)
                    e = CSEG_SEL(e < cur, e, cur);
                memcpy(dist + g, &e, sizeof e);
            } else {
                for (size_t l = 0; l < m; l++)
                    dist[g + l] = first || e[l] < dist[g + l] ? e[l] : dist[g + l];
            }
            for (size_t i = g; i < g + m; i++) {
                acc += wt(w, i) * dist[i];
                if (cumsum)
                    cumsum[i] = acc;
            }
        }
    }
    w->spart[sp] = acc;
}

/* The seeding passes, like Lloyd's, get a copy with d == 8 constant. */
CSEG_HOT static void span_update_one(work *w, size_t sp, const double *y, int first, double *cumsum)
{
    if (w->d == 8)
        span_update_rows(w, sp, y, first, cumsum, 8);
    else
        span_update_rows(w, sp, y, first, cumsum, w->d);
}

/* span_update_one over every span; spans are independent, so threads take
 * whole spans and the result is the same for any thread count. */
static void span_update(work *w, const double *y, int first, double *cumsum)
{
    size_t ns = w->ns;
    int nt = w->nt;
    (void)nt; /* unused without OpenMP */
#pragma omp parallel for num_threads(nt) schedule(static) default(none)                        \
    shared(w, ns, y, first, cumsum) if (w->n >= CSEG_KM_PAR_MIN)
    for (size_t sp = 0; sp < ns; sp++)
        span_update_one(w, sp, y, first, cumsum);
}

/* Potential of each candidate over block b, all candidates in one pass. */
CSEG_INLINE void seed_trials_tiles(work *w, size_t b, const double *const *cand, size_t T,
                                   double *out, size_t d)
{
    size_t i0 = b * CSEG_KM_BLOCK, i1 = i0 + CSEG_KM_BLOCK < w->n ? i0 + CSEG_KM_BLOCK : w->n;
    v8d part[64];
    for (size_t t = 0; t < T; t++)
        for (int l = 0; l < 8; l++)
            part[t][l] = 0;
    double *xs = block_xs(w, b);
    for (size_t g = i0; g < i1; g += 8) {
        v8d cur, wv;
        const double *rows[8];
        tile_rows(w, g, i1, rows);
        const double *tile = get_tile(w, g, rows, d, xs);
        tile_w(w, g, &wv);
        for (int l = 0; l < 8; l++)
            cur[l] = g + (size_t)l < i1 ? w->dist[g + (size_t)l] : 0;
        for (size_t t = 0; t < T; t++) {
            v8d e;
            tile_d2(tile, cand[t], d, &e);
            v8l lt = e < cur;
            part[t] += wv * CSEG_SEL(lt, e, cur);
        }
    }
    for (size_t t = 0; t < T; t++)
        out[t] = lanes_sum(&part[t]);
}

CSEG_HOT static void seed_trials_block(work *w, size_t b, const double *const *cand, size_t T,
                                       double *out)
{
    if (w->d == 8)
        seed_trials_tiles(w, b, cand, T, out, 8);
    else
        seed_trials_tiles(w, b, cand, T, out, w->d);
}

/* Greedy k-means++ (scikit-learn's variant) into w->C; uses w->dist. All
 * candidates of a step are scored in one pass over the data; block partials
 * are added in block order, so the choice is the same for any thread count.
 * A draw picks a span by the spans' totals, then a sample within the span
 * by its own running sum; the process holding it sends the row. */
static int seed_plusplus(work *w, cseg_rng *rng, double *cumsum)
{
    size_t d = w->d, k = w->k, nb = w->nb, ns = w->ns, ns_all = w->ns_all;
    size_t trials = 2 + (size_t)log((double)k);
    int nt = w->nt, rc = 0;
    (void)nt; /* unused without OpenMP */
    if (trials > 64)
        trials = 64;
    /* T: every span's total; cbuf: the candidates' rows (the first centre's
     * first); bpot: per block and candidate, the potential. */
    double *T = malloc(ns_all * sizeof *T), *cbuf = malloc(trials * d * sizeof *cbuf);
    double *bpot = w->bsum, *bpot_own = NULL; /* nb x trials fits in nb x 8 x k x d */
    size_t tspan[64];
    if (trials > 8 * k * d && !(bpot = bpot_own = malloc((nb ? nb : 1) * trials * sizeof *bpot)))
        rc = CSEG_ENOMEM;
    if (!T || !cbuf || rc < 0) {
        rc = CSEG_ENOMEM;
        goto out;
    }
    /* First centre: a sample drawn with probability proportional to its weight. */
    size_t s1, i0, i1;
    if (w->w) {
        for (size_t sp = 0; sp < ns; sp++) {
            double a = 0;
            span_rows(w, sp, &i0, &i1);
            for (size_t i = i0; i < i1; i++)
                a += w->w[i];
            w->spart[sp] = a;
        }
        const double *all;
        if ((rc = span_all(w, 1, &all)) < 0)
            goto out;
        double total_w = all[0], off;
        for (size_t s = 1; s < ns_all; s++)
            total_w += all[s];
        double r = cseg__rng_uniform(rng) * total_w;
        s1 = span_pick(all, ns_all, r, 1, &off);
        if (s1 >= w->s0 && s1 < w->s0 + ns) { /* this process holds the span */
            double acc = 0, rr = r - off;
            size_t i;
            span_rows(w, s1 - w->s0, &i0, &i1);
            for (i = i0; i + 1 < i1; i++) {
                acc += w->w[i];
                if (acc > rr)
                    break;
            }
            memcpy(cbuf, w->X + i * d, d * sizeof *cbuf);
        }
    } else {
        size_t first = cseg__rng_below(rng, w->n_all);
        s1 = first / CSEG_KMEANS_SPAN;
        if (s1 >= w->s0 && s1 < w->s0 + ns)
            memcpy(cbuf, w->X + (first - w->row0) * d, d * sizeof *cbuf);
    }
    if (w->comm && (rc = w->comm->bcast_span(w->comm->ctx, s1, cbuf, d)) < 0)
        goto out;
    memcpy(w->C, cbuf, d * sizeof(double));
    /* Each step: the distances to the centre chosen last, the spans' totals
     * (T) and the running sums for the draws, in one pass; pot, the total
     * potential, is the spans' totals added in span order after the first
     * centre, then the chosen candidate's (its trial pass's sum). */
    double pot = 0;
    const double *cand[64];
    double cand_pot[64];
    for (size_t c = 1; c < k; c++) {
        span_update(w, w->C + (c - 1) * d, c == 1, cumsum);
        const double *all;
        if ((rc = span_all(w, 1, &all)) < 0)
            goto out;
        memcpy(T, all, ns_all * sizeof *T);
        if (c == 1) {
            pot = T[0];
            for (size_t s = 1; s < ns_all; s++)
                pot += T[s];
        }
        for (size_t t = 0; t < trials; t++) {
            double r = cseg__rng_uniform(rng) * pot, off;
            size_t s = tspan[t] = span_pick(T, ns_all, r, 0, &off);
            cand[t] = cbuf + t * d;
            if (s < w->s0 || s >= w->s0 + ns)
                continue;
            span_rows(w, s - w->s0, &i0, &i1);
            double rr = r - off;
            size_t lo = i0, hi = i1; /* first index with cumsum >= rr */
            while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (cumsum[mid] < rr)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            memcpy(cbuf + t * d, w->X + (lo < i1 ? lo : i1 - 1) * d, d * sizeof *cbuf);
        }
        for (size_t t = 0; t < trials && w->comm; t++)
            if ((rc = w->comm->bcast_span(w->comm->ctx, tspan[t], cbuf + t * d, d)) < 0)
                goto out;
        size_t Tn = trials;
#pragma omp parallel for num_threads(nt) schedule(static) default(none)                        \
    shared(w, nb, cand, Tn, bpot) if (w->n >= CSEG_KM_PAR_MIN)
        for (size_t b = 0; b < nb; b++)
            seed_trials_block(w, b, cand, Tn, bpot + b * Tn);
        for (size_t sp = 0; sp < ns; sp++) {
            size_t b0, b1;
            span_blocks(w, sp, &b0, &b1);
            for (size_t t = 0; t < Tn; t++) {
                double sacc = 0;
                for (size_t b = b0; b < b1; b++)
                    sacc += bpot[b * Tn + t];
                w->spart[sp * Tn + t] = sacc;
            }
        }
        if ((rc = span_reduce(w, Tn, cand_pot)) < 0)
            goto out;
        size_t best = 0;
        for (size_t t = 1; t < Tn; t++)
            if (cand_pot[t] < cand_pot[best])
                best = t;
        memcpy(w->C + c * d, cand[best], d * sizeof(double));
        pot = cand_pot[best];
    }
out:
    free(T);
    free(cbuf);
    free(bpot_own);
    return rc;
}

static void update_half(work *w)
{
    for (size_t a = 0; a < w->k; a++) {
        double m = HUGE_VAL;
        for (size_t c = 0; c < w->k; c++)
            if (c != a) {
                double e = d2_rows(w->C + a * w->d, w->C + c * w->d, w->d);
                if (e < m)
                    m = e;
            }
        w->half[a] = 0.5 * sqrt(m) * (1 - CSEG_KM_MARGIN);
    }
}

static void run_blocks(work *w, int mode)
{
    int nt = w->nt;
    (void)nt; /* unused without OpenMP */
    size_t nb = w->nb;
    /* Threads take runs of neighbouring blocks (up to a span's), a few runs
     * per thread so that a thread slowed by another process gives its share
     * away: with one block at a time (threads alternating blocks), an
     * iteration took twice as long on two threads as with runs (1,000,000 x
     * 8, k = 8: 10.2-10.6 ms against 5.0-5.3 ms, one thread 8.9 ms). */
    int chunk = (int)(nb / (4 * (size_t)(nt > 0 ? nt : 1)));
    chunk = chunk < 1 ? 1 : chunk > CSEG_KM_SPAN_BLOCKS ? CSEG_KM_SPAN_BLOCKS : chunk;
    (void)chunk; /* unused without OpenMP */
#pragma omp parallel for num_threads(nt) schedule(dynamic, chunk) default(none)                \
    shared(w, nb, mode, chunk) if (w->n >= CSEG_KM_PAR_MIN)
    for (size_t b = 0; b < nb; b++) {
        if (mode == 0)
            lloyd_block(w, b, 0, 1);
        else if (mode == 1)
            lloyd_block(w, b, 1, 1);
        else if (mode == 2)
            hamerly_block(w, b);
        else
            lloyd_block(w, b, 0, 0);
    }
}

/* One restart from seeded w->C. Returns 0 or an error; fills iters/converged. */
static int lloyd_run(work *w, const cseg_kmeans_params *p, double tol_abs, double *Cnew,
                     double *shift, size_t *iters, int *converged, double *skipped,
                     double *checked)
{
    size_t k = w->k, d = w->d;
    int hamerly = p->algorithm == CSEG_KMEANS_HAMERLY && k > 1;
    int strict = 0;
    size_t it;
    double *cu = w->drift, *cl = cu + k, *sc = cl + k;
    for (size_t i = 0; i < w->n; i++)
        w->lab[i] = -1;
    *converged = 0;
    for (it = 0; it < p->max_iter; it++) {
        if (hamerly && it % CSEG_KM_REBASE != 0) {
            update_half(w);
            for (size_t a = 0; a < k; a++)
                sc[a] = cu[a] + cl[a] + w->half[a];
            run_blocks(w, 2);
        } else {
            memset(w->drift, 0, 3 * k * sizeof *w->drift); /* bounds taken afresh */
            run_blocks(w, hamerly ? 1 : 0);
        }
        uint64_t tally[2] = {0, 0}; /* labels changed, distances skipped */
        for (size_t b = 0; b < w->nb; b++) {
            tally[0] += w->bchg[b];
            tally[1] += w->bskip[b];
        }
        size_t n_empty;
        int rc = counts_sum(w, tally, 2);
        if (rc < 0 || (rc = reduce_centres(w, Cnew, &n_empty)) < 0)
            return rc;
        uint64_t changed = tally[0];
        *skipped += (double)tally[1];
        *checked += (double)w->n_all;
        double *cnt = Cnew + k * d;
        if (n_empty) {
            /* Relocation needs the distances to the current centres. */
            for (size_t i = 0; i < w->n; i++)
                w->dist[i] = dist_one(w->X + i * d, w->C, d, (size_t)w->lab[i]);
            if ((rc = relocate_empty(w, Cnew, cnt, n_empty)) < 0)
                return rc;
        }
        double shift_tot = 0, max1 = 0, max2 = 0;
        size_t arg1 = 0;
        for (size_t c = 0; c < k; c++) {
            double s2 = d2_rows(Cnew + c * d, w->C + c * d, d);
            shift_tot += s2;
            shift[c] = sqrt(s2) * (1 + CSEG_KM_MARGIN);
            if (shift[c] > max1) {
                max2 = max1;
                max1 = shift[c];
                arg1 = c;
            } else if (shift[c] > max2) {
                max2 = shift[c];
            }
        }
        memcpy(w->C, Cnew, k * d * sizeof *Cnew);
        if (changed == 0 && it > 0) {
            strict = 1;
            break;
        }
        if (shift_tot <= tol_abs)
            break;
        /* Each sample's bounds move with its centre: u by the centre's own
         * shift, l by the largest other shift, kept per centre (work.upper). */
        for (size_t a = 0; a < k && hamerly; a++) {
            cu[a] += shift[a];
            cl[a] += a == arg1 ? max2 : max1;
        }
    }
    *iters = it < p->max_iter ? it + 1 : p->max_iter;
    *converged = it < p->max_iter;
    (void)strict;
    /* Final E-step: labels and inertia against the final centres. */
    run_blocks(w, 3);
    return 0;
}

int cseg_kmeans_fit(cseg_kmeans *km, const double *X, size_t n, size_t d, const double *weights,
                    cseg_diag *diag)
{
    return cseg__kmeans_fit_split(km, X, n, d, weights, NULL, diag);
}

/* The first bad value or weight among all processes' rows: every process
 * gets the same message. */
static int check_values(const work *w, const double *init, size_t kd, cseg_diag *diag)
{
    if (init)
        for (size_t i = 0; i < kd; i++)
            if (!isfinite(init[i]))
                return cseg__diag(diag, CSEG_EINVAL, NULL, 0, 0,
                                  "initial centres must be finite numbers");
    double bad[3] = {0, 0, 0}; /* row (1-based, 0: none), feature, 1 value / 2 weight */
    for (size_t i = 0; i < w->n && !bad[0]; i++) {
        for (size_t j = 0; j < w->d && !bad[0]; j++)
            if (!isfinite(w->X[i * w->d + j]))
                bad[0] = (double)(w->row0 + i + 1), bad[1] = (double)(j + 1), bad[2] = 1;
        if (!bad[0] && w->w && !(w->w[i] > 0 && isfinite(w->w[i])))
            bad[0] = (double)(w->row0 + i + 1), bad[2] = 2;
    }
    if (w->comm) {
        double *all = malloc((size_t)w->comm->size * 3 * sizeof *all);
        size_t total = 0;
        if (!all)
            return cseg__diag(diag, CSEG_ENOMEM, NULL, 0, 0, "out of memory for k-means");
        int rc = w->comm->allgatherv(w->comm->ctx, bad, 3, all, &total);
        for (size_t q = 0; rc == 0 && q + 3 <= total; q += 3) /* processes in row order */
            if (all[q] > 0) {
                memcpy(bad, all + q, sizeof bad);
                break;
            }
        free(all);
        if (rc < 0)
            return cseg__diag(diag, rc, NULL, 0, 0, "k-means: the processes could not agree");
    }
    if (bad[2] == 1)
        return cseg__diag(diag, CSEG_EINVAL, NULL, 0, 0,
                          "row %.0f, feature %.0f is not a finite number", bad[0], bad[1]);
    if (bad[2] == 2)
        return cseg__diag(diag, CSEG_EINVAL, NULL, 0, 0,
                          "row %.0f has a weight that is not a positive number", bad[0]);
    return 0;
}

/* Per span and lane (sample i in lane i % 8), the sum of the samples (mu
 * NULL) or of their squared differences from mu, into w->spart (8 x d a
 * span). Threads take whole spans. */
static void span_moment(work *w, const double *mu)
{
    size_t ns = w->ns, d = w->d;
    int nt = w->nt;
    (void)nt; /* unused without OpenMP */
#pragma omp parallel for num_threads(nt) schedule(static) default(none) shared(w, ns, d, mu)   \
    if (w->n >= CSEG_KM_PAR_MIN)
    for (size_t sp = 0; sp < ns; sp++) {
        double *acc = w->spart + sp * 8 * d;
        size_t i0, i1;
        span_rows(w, sp, &i0, &i1);
        memset(acc, 0, 8 * d * sizeof *acc);
        for (size_t i = i0; i < i1; i++) {
            double *a = acc + (i % 8) * d;
            const double *x = w->X + i * d;
            if (!mu) {
                add_row(a, x, NULL, 1, d);
            } else {
                for (size_t j = 0; j < d; j++) {
                    double e = x[j] - mu[j];
                    a[j] += e * e;
                }
            }
        }
    }
}

int cseg__kmeans_fit_split(cseg_kmeans *km, const double *X, size_t n, size_t d,
                           const double *weights, const cseg__km_comm *comm, cseg_diag *diag)
{
    const cseg_kmeans_params *p = &km->p;
    size_t k = p->k;
    int rc = 0;
    work w;
    double *Cnew = NULL, *shift = NULL, *bestC = NULL, *cumsum = NULL;
    int32_t *bestL = NULL;
    memset(&w, 0, sizeof w);
    w.comm = comm;
    w.row0 = comm ? comm->row0 : 0;
    w.n_all = comm ? comm->n_all : n;
    if (d == 0)
        return cseg__diag(diag, CSEG_EINVAL, NULL, 0, 0, "no features to cluster on");
    if (w.n_all < k)
        return cseg__diag(diag, CSEG_EINVAL, NULL, 0, 0,
                          "k = %zu is larger than the number of samples (%zu)", k, w.n_all);
    w.X = X;
    w.w = weights;
    w.n = n;
    w.d = d;
    w.k = k;
    if ((rc = check_values(&w, p->init, k * d, diag)) < 0)
        return rc;
    w.nb = (n + CSEG_KM_BLOCK - 1) / CSEG_KM_BLOCK;
    w.ns = (n + CSEG_KMEANS_SPAN - 1) / CSEG_KMEANS_SPAN;
    w.s0 = w.row0 / CSEG_KMEANS_SPAN;
    w.ns_all = (w.n_all + CSEG_KMEANS_SPAN - 1) / CSEG_KMEANS_SPAN;
    w.nt = cseg__threads(p->n_threads);
    size_t kd, m;
    if (cseg__mul(k, d, &kd) || cseg__mul(k, d + 1, &m))
        return CSEG_ETOOBIG;
    if (m < 8 * d)
        m = 8 * d;
    if (m < 64)
        m = 64;
    w.C = malloc(kd * sizeof(double));
    w.lab = malloc((n ? n : 1) * sizeof(int32_t));
    w.upper = malloc((n ? n : 1) * sizeof(double));
    w.lower = malloc((n ? n : 1) * sizeof(double));
    w.half = malloc(k * sizeof(double));
    w.drift = calloc(3 * k, sizeof(double));
    w.bsum = cseg__alloc_aligned((w.nb ? w.nb : 1) * 8 * kd, sizeof(double));
    w.bcnt = malloc((w.nb ? w.nb : 1) * 8 * k * sizeof(double));
    w.bval = malloc((w.nb ? w.nb : 1) * sizeof(double));
    w.bchg = malloc((w.nb ? w.nb : 1) * sizeof(size_t));
    w.bskip = malloc((w.nb ? w.nb : 1) * sizeof(size_t));
    w.dist = malloc((n ? n : 1) * sizeof(double));
    w.xs = malloc((w.nb ? w.nb : 1) * CSEG_KM_CHUNK * 8 * d * sizeof(double));
    w.spart = malloc((w.ns ? w.ns : 1) * m * sizeof(double));
    w.sall = comm ? malloc(w.ns_all * m * sizeof(double)) : NULL;
    Cnew = malloc((kd + k) * sizeof(double)); /* the centres, then their weights */
    shift = malloc(k * sizeof(double));
    bestC = malloc(kd * sizeof(double));
    bestL = malloc((n ? n : 1) * sizeof(int32_t));
    cumsum = malloc((n ? n : 1) * sizeof(double));
    if (!w.C || !w.lab || !w.upper || !w.lower || !w.half || !w.drift || !w.bsum || !w.bcnt ||
        !w.bval || !w.bchg || !w.bskip || !w.dist || !w.xs || !w.spart || (comm && !w.sall) ||
        !Cnew || !shift || !bestC || !bestL || !cumsum) {
        rc = cseg__diag(diag, CSEG_ENOMEM, NULL, 0, 0, "out of memory for k-means");
        goto out;
    }
    /* The arrays of a value per sample that every fit writes (Hamerly's
     * bounds are left alone: Lloyd never touches them): 2 MiB pages, a
     * fault each instead of 512 (24 MB took 20-40 ms of 4 KiB faults here). */
    cseg__advise_huge(w.lab, n * sizeof(int32_t));
    cseg__advise_huge(w.dist, n * sizeof(double));
    cseg__advise_huge(bestL, n * sizeof(int32_t));
    cseg__advise_huge(cumsum, n * sizeof(double));
    if (d < 8 && n > 0) {
        /* whole chunks: lloyd_chunk reads CSEG_KM_CHUNK tiles at a time */
        size_t ntiles = (n + 8 * CSEG_KM_CHUNK - 1) / (8 * CSEG_KM_CHUNK) * CSEG_KM_CHUNK;
        if (!(w.Xt = cseg__alloc_aligned(ntiles * 8, d * sizeof(double)))) {
            rc = cseg__diag(diag, CSEG_ENOMEM, NULL, 0, 0, "out of memory for k-means");
            goto out;
        }
        for (size_t t = 0; t < ntiles; t++) /* pad lanes repeat the last sample */
            for (size_t l = 0; l < 8; l++) {
                const double *x = X + (t * 8 + l < n ? t * 8 + l : n - 1) * d;
                for (size_t j = 0; j < d; j++)
                    w.Xt[t * 8 * d + j * 8 + l] = x[j];
            }
    }
    /* Tolerance relative to the data's mean per-feature variance: two passes,
     * one partial sum per lane (sample i in lane i % 8) and feature, span by
     * span, the lanes added pairwise at the end. */
    double var_mean = 0;
    {
        double *mu = w.xs, *lanes = w.xs + 8 * d; /* scratch: >= 2 x 8 x d */
        for (int pass = 0; pass < 2; pass++) {
            span_moment(&w, pass ? mu : NULL);
            if ((rc = span_reduce(&w, 8 * d, lanes)) < 0)
                goto out;
            for (size_t j = 0; j < d; j++) {
                const double *s = lanes;
                double v = ((s[j] + s[d + j]) + (s[2 * d + j] + s[3 * d + j])) +
                           ((s[4 * d + j] + s[5 * d + j]) + (s[6 * d + j] + s[7 * d + j]));
                if (pass == 0)
                    mu[j] = v / (double)w.n_all;
                else
                    var_mean += v / (double)w.n_all;
            }
        }
    }
    double tol_abs = p->tol * var_mean / (double)d;
    double best_inertia = HUGE_VAL;
    km->n_skipped = km->n_checked = 0;
    size_t runs = p->init ? 1 : p->n_init;
    for (size_t r = 0; r < runs; r++) {
        if (p->init) {
            memcpy(w.C, p->init, kd * sizeof(double));
        } else {
            cseg_rng rng;
            cseg__rng_seed(&rng, p->seed ^ (0x9e3779b97f4a7c15ULL * (r + 1)));
            if ((rc = seed_plusplus(&w, &rng, cumsum)) < 0) {
                rc = cseg__diag(diag, rc, NULL, 0, 0, "k-means seeding failed");
                goto out;
            }
        }
        size_t iters;
        int conv;
        if ((rc = lloyd_run(&w, p, tol_abs, Cnew, shift, &iters, &conv, &km->n_skipped,
                            &km->n_checked)) < 0) {
            rc = cseg__diag(diag, rc, NULL, 0, 0, "k-means iterations failed");
            goto out;
        }
        double inertia;
        for (size_t sp = 0; sp < w.ns; sp++) {
            size_t b0, b1;
            double a = 0;
            span_blocks(&w, sp, &b0, &b1);
            for (size_t b = b0; b < b1; b++)
                a += w.bval[b];
            w.spart[sp] = a;
        }
        if ((rc = span_reduce(&w, 1, &inertia)) < 0) {
            rc = cseg__diag(diag, rc, NULL, 0, 0, "k-means: the processes could not agree");
            goto out;
        }
        if (inertia < best_inertia) {
            best_inertia = inertia;
            memcpy(bestC, w.C, kd * sizeof(double));
            memcpy(bestL, w.lab, n * sizeof(int32_t));
            km->n_iter = iters;
            km->converged = conv;
        }
    }
    if (!(best_inertia < HUGE_VAL)) { /* every restart's: no fit to keep */
        rc = cseg__diag(diag, CSEG_ERANGE, NULL, 0, 0,
                        "k-means: the squared distances are beyond the range of numbers "
                        "(values above about 1e150 apart)");
        goto out;
    }
    free(km->C);
    free(km->labels);
    km->C = bestC;
    km->labels = bestL;
    bestC = NULL;
    bestL = NULL;
    km->k = k;
    km->d = d;
    km->n = n;
    km->inertia = best_inertia;
    km->fitted = 1;
    km->p.init = NULL; /* borrowed for the fit only */
out:
    free(w.C);
    free(w.lab);
    free(w.upper);
    free(w.lower);
    free(w.half);
    free(w.drift);
    cseg__free_aligned(w.bsum);
    free(w.bcnt);
    free(w.bval);
    free(w.bchg);
    free(w.bskip);
    free(w.dist);
    free(w.xs);
    free(w.spart);
    free(w.sall);
    cseg__free_aligned(w.Xt);
    free(Cnew);
    free(shift);
    free(bestC);
    free(bestL);
    free(cumsum);
    return rc;
}

/* Rows [8 g0, 8 g1) of X to their nearest centres: the vector kernel in a
 * CSEG_HOT function, so that its fused multiply-adds are instructions (in
 * a baseline function each was a call to libm's fma, lane by lane). */
CSEG_HOT static void predict_groups(const double *X, size_t n, size_t g0, size_t g1,
                                    const double *C, size_t k, size_t d, int32_t *labels,
                                    double *dist2)
{
    for (size_t g = g0; g < g1; g++) {
        double xs[8 * d], b1[8];
        long long best[8];
        size_t idx[8], cnt = n - g * 8 < 8 ? n - g * 8 : 8;
        const double *rows[8];
        for (size_t l = 0; l < 8; l++) {
            idx[l] = g * 8 + (l < cnt ? l : cnt - 1);
            rows[l] = X + idx[l] * d;
        }
        load_tile(rows, d, xs);
        nearest8(xs, 8, C, k, d, best, b1, NULL);
        for (size_t l = 0; l < cnt; l++) {
            labels[idx[l]] = (int32_t)best[l];
            if (dist2)
                dist2[idx[l]] = b1[l];
        }
    }
}

int cseg_kmeans_predict(const cseg_kmeans *km, const double *X, size_t n, int32_t *labels,
                        double *dist2)
{
    if (!km->fitted)
        return CSEG_ENOTFIT;
    size_t k = km->k, d = km->d;
    const double *C = km->C;
    int nt = cseg__threads(km->p.n_threads);
    (void)nt; /* unused without OpenMP */
    size_t ng = (n + 7) / 8, nchunk = (ng + 255) / 256;
    /* Few rows (a service's one customer): no parallel region at all. One
     * whose if clause is false still sets up a team and wakes it at its end
     * (a malloc and a futex call per call). */
    if (n < CSEG_KM_PAR_MIN) {
        predict_groups(X, n, 0, ng, C, k, d, labels, dist2);
        return 0;
    }
#pragma omp parallel for num_threads(nt) schedule(static) default(none)                        \
    shared(X, n, labels, dist2, C, k, d, ng, nchunk)
    for (size_t c = 0; c < nchunk; c++)
        predict_groups(X, n, c * 256, (c + 1) * 256 < ng ? (c + 1) * 256 : ng, C, k, d, labels,
                       dist2);
    return 0;
}

int cseg_kmeans_set_centroids(cseg_kmeans *km, const double *C, size_t k, size_t d)
{
    size_t kd;
    if (k == 0 || d == 0 || cseg__mul(k, d, &kd))
        return CSEG_EINVAL;
    for (size_t i = 0; i < kd; i++)
        if (!isfinite(C[i]))
            return CSEG_EINVAL;
    double *nc = malloc(kd * sizeof *nc);
    if (!nc)
        return CSEG_ENOMEM;
    memcpy(nc, C, kd * sizeof *nc);
    free(km->C);
    free(km->labels);
    km->labels = NULL;
    km->C = nc;
    km->k = k;
    km->p.k = k;
    km->d = d;
    km->n = 0;
    km->fitted = 1;
    return 0;
}

int cseg_kmeans_is_fitted(const cseg_kmeans *km)
{
    return km && km->fitted;
}

size_t cseg_kmeans_k(const cseg_kmeans *km)
{
    return km->fitted ? km->k : km->p.k;
}

size_t cseg_kmeans_dim(const cseg_kmeans *km)
{
    return km->d;
}

const double *cseg_kmeans_centroids(const cseg_kmeans *km)
{
    return km->C;
}

int cseg__kmeans_swap_threads(cseg_kmeans *km, int n_threads)
{
    int was = km->p.n_threads;
    km->p.n_threads = n_threads;
    return was;
}

void cseg__kmeans_take_labels(cseg_kmeans *km, int32_t *labels, size_t n)
{
    free(km->labels);
    km->labels = labels;
    km->n = n;
}

const int32_t *cseg_kmeans_labels(const cseg_kmeans *km)
{
    return km->labels;
}

double cseg_kmeans_inertia(const cseg_kmeans *km)
{
    return km->inertia;
}

size_t cseg_kmeans_n_iter(const cseg_kmeans *km)
{
    return km->n_iter;
}

int cseg_kmeans_converged(const cseg_kmeans *km)
{
    return km->converged;
}

size_t cseg__kmeans_iterations_all(const cseg_kmeans *km, size_t n_all)
{
    return n_all ? (size_t)(km->n_checked / (double)n_all + 0.5) : 0;
}

double cseg_kmeans_skipped_fraction(const cseg_kmeans *km)
{
    return km->n_checked > 0 ? km->n_skipped / km->n_checked : 0;
}

const cseg_kmeans_params *cseg_kmeans_get_params(const cseg_kmeans *km)
{
    return &km->p;
}
