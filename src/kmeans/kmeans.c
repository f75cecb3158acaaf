/* custseg — k-means: greedy k-means++ seeding, Lloyd and Hamerly iterations.
 *
 * Method. Lloyd alternates assignment (nearest centre) and update (weighted
 * means). Hamerly (2010) keeps per sample an upper bound u on the distance to
 * its centre and a lower bound l on the distance to the second-closest
 * centre; with s(a) half the distance from centre a to its nearest other
 * centre, a sample whose u <= max(s(a), l) cannot change centre and its k
 * distance computations are skipped. After the update, u grows by the
 * centre's own shift and l shrinks by the largest other shift.
 *
 * Exactness. Both variants compute a squared distance with the same code
 * (accumulated over features in order; the build disables FP contraction, so
 * vector and scalar code round alike), break ties towards the lower index,
 * recompute centres from scratch each iteration in block order, and take the
 * bounds with a relative margin of 1e-12 so rounding can only cause extra
 * work. Hence Hamerly returns Lloyd's result to the last bit.
 *
 * Layout. Centres are kept transposed (d x kp, kp = k rounded up to 8) so the
 * distances from one sample to all centres are one vector loop over centres.
 * Samples are processed in fixed blocks of CSEG_KM_BLOCK; each block writes its
 * own partial sums, which are added in block order: identical results for any
 * number of threads. The hot functions are compiled for AVX-512, AVX2 and
 * baseline x86-64 and chosen at load time (GCC target_clones).
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
#include "../core/internal.h"

#define CSEG_KM_BLOCK 4096
#define CSEG_KM_MARGIN 1e-12
/* Below this many samples a parallel region costs more than it saves
 * (and with busy cores, far more): run on the calling thread. */
#define CSEG_KM_PAR_MIN 32768

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define CSEG_HOT __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CSEG_HOT
#endif

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
    p->algorithm = CSEG_KMEANS_HAMERLY;
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
    size_t n, d, k, kp, nb;
    int nt;
    double *CT;    /* d x kp transposed centres */
    double *C;     /* k x d */
    int32_t *lab;
    double *upper, *lower;
    double *half;  /* s(a) */
    double *bsum;  /* nb x k x d */
    double *bcnt;  /* nb x k */
    double *bval;  /* nb: per-block scalar (inertia or potential) */
    size_t *bchg;  /* nb: labels changed / distances skipped */
    size_t *bskip;
    double *dist;  /* n: squared distance to the assigned centre (relocation, seeding) */
} work;

static inline double wt(const work *w, size_t i)
{
    return w->w ? w->w[i] : 1.0;
}

static void transpose_centres(work *w)
{
    for (size_t j = 0; j < w->d; j++)
        for (size_t c = 0; c < w->kp; c++)
            w->CT[j * w->kp + c] = c < w->k ? w->C[c * w->d + j] : HUGE_VAL;
}

/* Squared distances from x to all (padded) centres, features in order. */
static inline void dist_all(const double *x, const double *CT, size_t d, size_t kp, double *out)
{
    for (size_t c = 0; c < kp; c++)
        out[c] = 0;
    for (size_t j = 0; j < d; j++) {
        const double xj = x[j];
        const double *row = CT + j * kp;
        for (size_t c = 0; c < kp; c++) {
            double t = xj - row[c];
            out[c] += t * t;
        }
    }
}

/* The same sum for one centre, in the same order. */
static inline double dist_one(const double *x, const double *CT, size_t d, size_t kp, size_t c)
{
    double s = 0;
    for (size_t j = 0; j < d; j++) {
        double t = x[j] - CT[j * kp + c];
        s += t * t;
    }
    return s;
}

/* Nearest centre (lowest index on ties) and the two smallest distances. */
static inline size_t best_two(const double *dd, size_t k, double *b1, double *b2)
{
    size_t best = 0;
    double m1 = dd[0], m2 = HUGE_VAL;
    for (size_t c = 1; c < k; c++) {
        if (dd[c] < m1) {
            m2 = m1;
            m1 = dd[c];
            best = c;
        } else if (dd[c] < m2) {
            m2 = dd[c];
        }
    }
    *b1 = m1;
    *b2 = m2;
    return best;
}

static inline void add_to_block(work *w, size_t b, size_t i, int32_t a)
{
    const double *x = w->X + i * w->d;
    double wi = wt(w, i);
    double *s = w->bsum + (b * w->k + (size_t)a) * w->d;
    for (size_t j = 0; j < w->d; j++)
        s[j] += wi * x[j];
    w->bcnt[b * w->k + (size_t)a] += wi;
}

static void clear_block(work *w, size_t b)
{
    memset(w->bsum + b * w->k * w->d, 0, w->k * w->d * sizeof(double));
    memset(w->bcnt + b * w->k, 0, w->k * sizeof(double));
    w->bval[b] = 0;
    w->bchg[b] = 0;
    w->bskip[b] = 0;
}

/* Lloyd assignment of block b (also the full scan Hamerly starts with). */
CSEG_HOT static void lloyd_block(work *w, size_t b, int bounds, int accumulate)
{
    double dd[w->kp];
    size_t i0 = b * CSEG_KM_BLOCK, i1 = i0 + CSEG_KM_BLOCK < w->n ? i0 + CSEG_KM_BLOCK : w->n;
    clear_block(w, b);
    for (size_t i = i0; i < i1; i++) {
        dist_all(w->X + i * w->d, w->CT, w->d, w->kp, dd);
        double b1, b2;
        size_t best = best_two(dd, w->k, &b1, &b2);
        w->bchg[b] += w->lab[i] != (int32_t)best;
        w->lab[i] = (int32_t)best;
        w->dist[i] = b1;
        w->bval[b] += wt(w, i) * b1;
        if (bounds) {
            w->upper[i] = sqrt(b1) * (1 + CSEG_KM_MARGIN);
            w->lower[i] = sqrt(b2) * (1 - CSEG_KM_MARGIN);
        }
        if (accumulate)
            add_to_block(w, b, i, (int32_t)best);
    }
}

CSEG_HOT static void hamerly_block(work *w, size_t b)
{
    double dd[w->kp];
    size_t i0 = b * CSEG_KM_BLOCK, i1 = i0 + CSEG_KM_BLOCK < w->n ? i0 + CSEG_KM_BLOCK : w->n;
    clear_block(w, b);
    for (size_t i = i0; i < i1; i++) {
        const double *x = w->X + i * w->d;
        int32_t a = w->lab[i];
        double m = w->half[a] > w->lower[i] ? w->half[a] : w->lower[i];
        if (w->upper[i] > m) {
            double da = dist_one(x, w->CT, w->d, w->kp, (size_t)a);
            w->upper[i] = sqrt(da) * (1 + CSEG_KM_MARGIN);
            if (w->upper[i] > m) {
                dist_all(x, w->CT, w->d, w->kp, dd);
                double b1, b2;
                size_t best = best_two(dd, w->k, &b1, &b2);
                w->bchg[b] += a != (int32_t)best;
                a = (int32_t)best;
                w->lab[i] = a;
                w->upper[i] = sqrt(b1) * (1 + CSEG_KM_MARGIN);
                w->lower[i] = sqrt(b2) * (1 - CSEG_KM_MARGIN);
            } else {
                w->bskip[b]++;
            }
        } else {
            w->bskip[b]++;
        }
        add_to_block(w, b, i, a);
    }
}

/* Sum block partials in block order into new centres; returns the number of
 * empty clusters (their centres are left as they were). */
static size_t reduce_centres(work *w, double *Cnew, double *cnt)
{
    size_t k = w->k, d = w->d, empty = 0;
    memset(Cnew, 0, k * d * sizeof *Cnew);
    memset(cnt, 0, k * sizeof *cnt);
    for (size_t b = 0; b < w->nb; b++) {
        for (size_t c = 0; c < k; c++) {
            cnt[c] += w->bcnt[b * k + c];
            const double *s = w->bsum + (b * k + c) * d;
            for (size_t j = 0; j < d; j++)
                Cnew[c * d + j] += s[j];
        }
    }
    for (size_t c = 0; c < k; c++) {
        if (cnt[c] > 0) {
            for (size_t j = 0; j < d; j++)
                Cnew[c * d + j] /= cnt[c];
        } else {
            empty++;
        }
    }
    return empty;
}

typedef struct far {
    double d2;
    size_t i;
} far;

static int cmp_far(const void *pa, const void *pb)
{
    const far *a = pa, *b = pb;
    if (a->d2 != b->d2)
        return a->d2 > b->d2 ? -1 : 1;
    return a->i < b->i ? -1 : a->i > b->i;
}

/* Give each empty cluster one of the samples farthest from their centres
 * (w->dist must hold those squared distances). */
static int relocate_empty(work *w, double *Cnew, double *cnt, size_t n_empty)
{
    far *f = malloc(w->n * sizeof *f);
    if (!f)
        return CSEG_ENOMEM;
    for (size_t i = 0; i < w->n; i++)
        f[i] = (far){w->dist[i], i};
    qsort(f, w->n, sizeof *f, cmp_far);
    size_t used = 0;
    for (size_t c = 0; c < w->k && used < n_empty; c++) {
        if (cnt[c] > 0)
            continue;
        size_t i = f[used++].i;
        const double *x = w->X + i * w->d;
        int32_t old = w->lab[i];
        double wi = wt(w, i);
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
    free(f);
    return 0;
}

static double d2_rows(const double *a, const double *b, size_t d)
{
    double s = 0;
    for (size_t j = 0; j < d; j++) {
        double t = a[j] - b[j];
        s += t * t;
    }
    return s;
}

/* Greedy k-means++ (scikit-learn's variant) into w->C; uses w->dist. */
static void seed_plusplus(work *w, cseg_rng *rng, double *cumsum)
{
    size_t n = w->n, d = w->d, k = w->k;
    size_t trials = 2 + (size_t)log((double)k);
    double total_w = 0;
    for (size_t i = 0; i < n; i++)
        total_w += wt(w, i);
    /* First centre: a sample drawn with probability proportional to its weight. */
    size_t first = 0;
    if (w->w) {
        double r = cseg__rng_uniform(rng) * total_w, acc = 0;
        for (first = 0; first + 1 < n; first++) {
            acc += w->w[first];
            if (acc > r)
                break;
        }
    } else {
        first = cseg__rng_below(rng, n);
    }
    memcpy(w->C, w->X + first * d, d * sizeof(double));
    const double *X = w->X;
    double *dist = w->dist;
    int nt = w->nt;
    size_t nb = w->nb;
    double *bval = w->bval;
#pragma omp parallel for num_threads(nt) schedule(static) default(none) shared(w, X, dist, d, n, nb) \
    if (n >= CSEG_KM_PAR_MIN)
    for (size_t b = 0; b < nb; b++) {
        size_t i1 = (b + 1) * CSEG_KM_BLOCK < n ? (b + 1) * CSEG_KM_BLOCK : n;
        for (size_t i = b * CSEG_KM_BLOCK; i < i1; i++)
            dist[i] = d2_rows(X + i * d, w->C, d);
    }
    double pot = 0;
    for (size_t i = 0; i < n; i++)
        pot += wt(w, i) * dist[i];
    size_t cand[64];
    double cand_pot[64];
    if (trials > 64)
        trials = 64;
    for (size_t c = 1; c < k; c++) {
        double acc = 0;
        for (size_t i = 0; i < n; i++) {
            acc += wt(w, i) * dist[i];
            cumsum[i] = acc;
        }
        for (size_t t = 0; t < trials; t++) {
            double r = cseg__rng_uniform(rng) * pot;
            size_t lo = 0, hi = n; /* first index with cumsum >= r */
            while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (cumsum[mid] < r)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            cand[t] = lo < n ? lo : n - 1;
        }
        for (size_t t = 0; t < trials; t++) {
            const double *y = X + cand[t] * d;
#pragma omp parallel for num_threads(nt) schedule(static) default(none)                    \
    shared(w, X, dist, y, d, n, nb, bval) if (n >= CSEG_KM_PAR_MIN)
            for (size_t b = 0; b < nb; b++) {
                size_t i1 = (b + 1) * CSEG_KM_BLOCK < n ? (b + 1) * CSEG_KM_BLOCK : n;
                double s = 0;
                for (size_t i = b * CSEG_KM_BLOCK; i < i1; i++) {
                    double e = d2_rows(X + i * d, y, d);
                    s += wt(w, i) * (e < dist[i] ? e : dist[i]);
                }
                bval[b] = s;
            }
            double s = 0;
            for (size_t b = 0; b < nb; b++)
                s += bval[b];
            cand_pot[t] = s;
        }
        size_t best = 0;
        for (size_t t = 1; t < trials; t++)
            if (cand_pot[t] < cand_pot[best])
                best = t;
        const double *y = X + cand[best] * d;
        memcpy(w->C + c * d, y, d * sizeof(double));
        pot = cand_pot[best];
#pragma omp parallel for num_threads(nt) schedule(static) default(none) shared(X, dist, y, d, n, nb) \
    if (n >= CSEG_KM_PAR_MIN)
        for (size_t b = 0; b < nb; b++) {
            size_t i1 = (b + 1) * CSEG_KM_BLOCK < n ? (b + 1) * CSEG_KM_BLOCK : n;
            for (size_t i = b * CSEG_KM_BLOCK; i < i1; i++) {
                double e = d2_rows(X + i * d, y, d);
                if (e < dist[i])
                    dist[i] = e;
            }
        }
    }
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
    size_t nb = w->nb;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1) default(none) shared(w, nb, mode) \
    if (w->n >= CSEG_KM_PAR_MIN)
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
                     double *cnt, double *shift, size_t *iters, int *converged, double *skipped,
                     double *checked)
{
    size_t k = w->k, d = w->d;
    int hamerly = p->algorithm == CSEG_KMEANS_HAMERLY && k > 1;
    int strict = 0;
    size_t it;
    for (size_t i = 0; i < w->n; i++)
        w->lab[i] = -1;
    *converged = 0;
    for (it = 0; it < p->max_iter; it++) {
        transpose_centres(w);
        if (hamerly && it > 0) {
            update_half(w);
            run_blocks(w, 2);
        } else {
            run_blocks(w, hamerly ? 1 : 0);
        }
        size_t changed = 0;
        for (size_t b = 0; b < w->nb; b++) {
            changed += w->bchg[b];
            *skipped += (double)w->bskip[b];
        }
        *checked += (double)w->n;
        size_t n_empty = reduce_centres(w, Cnew, cnt);
        if (n_empty) {
            /* Relocation needs exact distances to the current centres. */
            if (hamerly && it > 0)
                for (size_t i = 0; i < w->n; i++)
                    w->dist[i] = dist_one(w->X + i * d, w->CT, d, w->kp, (size_t)w->lab[i]);
            if (relocate_empty(w, Cnew, cnt, n_empty) < 0)
                return CSEG_ENOMEM;
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
        if (hamerly) {
            for (size_t i = 0; i < w->n; i++) {
                size_t a = (size_t)w->lab[i];
                w->upper[i] += shift[a];
                w->lower[i] -= a == arg1 ? max2 : max1;
            }
        }
    }
    *iters = it < p->max_iter ? it + 1 : p->max_iter;
    *converged = it < p->max_iter;
    (void)strict;
    /* Final E-step: labels and inertia against the final centres. */
    transpose_centres(w);
    run_blocks(w, 3);
    return 0;
}

int cseg_kmeans_fit(cseg_kmeans *km, const double *X, size_t n, size_t d, const double *weights,
                    cseg_diag *diag)
{
    const cseg_kmeans_params *p = &km->p;
    size_t k = p->k;
    int rc = 0;
    work w;
    double *Cnew = NULL, *cnt = NULL, *shift = NULL, *bestC = NULL, *cumsum = NULL;
    int32_t *bestL = NULL;
    memset(&w, 0, sizeof w);
    if (d == 0)
        return cseg__diag(diag, CSEG_EINVAL, NULL, 0, 0, "no features to cluster on");
    if (n < k)
        return cseg__diag(diag, CSEG_EINVAL, NULL, 0, 0,
                          "k = %zu is larger than the number of samples (%zu)", k, n);
    if (p->init)
        for (size_t i = 0; i < k * d; i++)
            if (!isfinite(p->init[i]))
                return cseg__diag(diag, CSEG_EINVAL, NULL, 0, 0,
                                  "initial centres must be finite numbers");
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < d; j++)
            if (!isfinite(X[i * d + j]))
                return cseg__diag(diag, CSEG_EINVAL, NULL, 0, 0,
                                  "row %zu, feature %zu is not a finite number", i + 1, j + 1);
        if (weights && !(weights[i] > 0 && isfinite(weights[i])))
            return cseg__diag(diag, CSEG_EINVAL, NULL, 0, 0,
                              "row %zu has a weight that is not a positive number", i + 1);
    }
    w.X = X;
    w.w = weights;
    w.n = n;
    w.d = d;
    w.k = k;
    w.kp = (k + 7) / 8 * 8;
    w.nb = (n + CSEG_KM_BLOCK - 1) / CSEG_KM_BLOCK;
    w.nt = cseg__threads(p->n_threads);
    size_t kd;
    if (cseg__mul(k, d, &kd))
        return CSEG_ETOOBIG;
    w.CT = cseg__alloc_aligned(w.kp * d, sizeof(double));
    w.C = malloc(kd * sizeof(double));
    w.lab = malloc(n * sizeof(int32_t));
    w.upper = malloc(n * sizeof(double));
    w.lower = malloc(n * sizeof(double));
    w.half = malloc(k * sizeof(double));
    w.bsum = cseg__alloc_aligned(w.nb * kd, sizeof(double));
    w.bcnt = malloc(w.nb * k * sizeof(double));
    w.bval = malloc(w.nb * sizeof(double));
    w.bchg = malloc(w.nb * sizeof(size_t));
    w.bskip = malloc(w.nb * sizeof(size_t));
    w.dist = malloc(n * sizeof(double));
    Cnew = malloc(kd * sizeof(double));
    cnt = malloc(k * sizeof(double));
    shift = malloc(k * sizeof(double));
    bestC = malloc(kd * sizeof(double));
    bestL = malloc(n * sizeof(int32_t));
    cumsum = malloc(n * sizeof(double));
    if (!w.CT || !w.C || !w.lab || !w.upper || !w.lower || !w.half || !w.bsum || !w.bcnt ||
        !w.bval || !w.bchg || !w.bskip || !w.dist || !Cnew || !cnt || !shift || !bestC ||
        !bestL || !cumsum) {
        rc = cseg__diag(diag, CSEG_ENOMEM, NULL, 0, 0, "out of memory for k-means");
        goto out;
    }
    /* Tolerance relative to the data's mean per-feature variance. */
    double var_mean = 0;
    for (size_t j = 0; j < d; j++) {
        double mu = 0, v = 0;
        for (size_t i = 0; i < n; i++)
            mu += X[i * d + j];
        mu /= (double)n;
        for (size_t i = 0; i < n; i++)
            v += (X[i * d + j] - mu) * (X[i * d + j] - mu);
        var_mean += v / (double)n;
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
            seed_plusplus(&w, &rng, cumsum);
        }
        size_t iters;
        int conv;
        if ((rc = lloyd_run(&w, p, tol_abs, Cnew, cnt, shift, &iters, &conv, &km->n_skipped,
                            &km->n_checked)) < 0)
            goto out;
        double inertia = 0;
        for (size_t b = 0; b < w.nb; b++)
            inertia += w.bval[b];
        if (inertia < best_inertia) {
            best_inertia = inertia;
            memcpy(bestC, w.C, kd * sizeof(double));
            memcpy(bestL, w.lab, n * sizeof(int32_t));
            km->n_iter = iters;
            km->converged = conv;
        }
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
    cseg__free_aligned(w.CT);
    free(w.C);
    free(w.lab);
    free(w.upper);
    free(w.lower);
    free(w.half);
    cseg__free_aligned(w.bsum);
    free(w.bcnt);
    free(w.bval);
    free(w.bchg);
    free(w.bskip);
    free(w.dist);
    free(Cnew);
    free(cnt);
    free(shift);
    free(bestC);
    free(bestL);
    free(cumsum);
    return rc;
}

int cseg_kmeans_predict(const cseg_kmeans *km, const double *X, size_t n, int32_t *labels,
                        double *dist2)
{
    if (!km->fitted)
        return CSEG_ENOTFIT;
    size_t k = km->k, d = km->d, kp = (k + 7) / 8 * 8;
    double *CT = cseg__alloc_aligned(kp * d, sizeof(double));
    if (!CT)
        return CSEG_ENOMEM;
    for (size_t j = 0; j < d; j++)
        for (size_t c = 0; c < kp; c++)
            CT[j * kp + c] = c < k ? km->C[c * d + j] : HUGE_VAL;
    int nt = cseg__threads(km->p.n_threads);
#pragma omp parallel for num_threads(nt) schedule(static) default(none)                        \
    shared(X, n, labels, dist2, CT, k, d, kp) if (n >= CSEG_KM_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        double dd[kp];
        dist_all(X + i * d, CT, d, kp, dd);
        size_t best = 0;
        for (size_t c = 1; c < k; c++)
            if (dd[c] < dd[best])
                best = c;
        labels[i] = (int32_t)best;
        if (dist2)
            dist2[i] = dd[best];
    }
    cseg__free_aligned(CT);
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

double cseg_kmeans_skipped_fraction(const cseg_kmeans *km)
{
    return km->n_checked > 0 ? km->n_skipped / km->n_checked : 0;
}

const cseg_kmeans_params *cseg_kmeans_get_params(const cseg_kmeans *km)
{
    return &km->p;
}
