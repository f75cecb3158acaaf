/* custseg — Gaussian mixture models by EM (scikit-learn's GaussianMixture).
 *
 * Method. Each component c has a weight w_c, a mean mu_c and a precision
 * factor W_c with W_c^T W_c = Sigma_c^-1, stored lower triangular so that the
 * squared Mahalanobis distance is |W_c (x - mu_c)|^2 (W_c = L^-1 for the
 * Cholesky factor L of Sigma_c; a caller's precision P is factored "from the
 * bottom up" as P = W^T W). log N = -(d ln 2pi + q) / 2 + sum_j ln W_c,jj,
 * responsibilities by log-sum-exp, lower bound = mean of the log-sum-exp.
 * The bound of iteration t is computed in its E-step, before its M-step, which
 * is scikit-learn's convention: lower_bounds[t-1] equals sklearn's
 * lower_bound_ with max_iter = t from the same start.
 *
 * M-step in one pass. Each block accumulates, per component, R = sum r,
 * A = sum r (x - m) and S = sum r (x - m)(x - m)^T around the current mean
 * m (the E-step has x - m at hand). The new mean is (A + R m) / nk and the
 * scatter about it is S - A delta^T - delta A^T + R delta delta^T with
 * delta = mu - m: scikit-learn's two-pass values without a second pass, and
 * no cancellation since the mean moves little between iterations. As in
 * scikit-learn nk = R + 10 eps and the weights are nk / sum nk.
 *
 * Layout and determinism. Samples are taken eight at a time, one per lane of
 * a vector of eight doubles (GCC vector extensions; AVX-512, AVX2 or SSE2
 * clones chosen at load time, src/core/simd.h). exp is a vectorised
 * Cody-Waite reduction plus a degree-13 polynomial (about 1 ulp), so no libm
 * call in the inner loop.
 * Blocks of samples have a size that depends only on n; each block's lane
 * sums are added in lane order, blocks in block order: the same bits for any
 * thread count. The build disables FP contraction, so every clone rounds
 * alike.
 *
 * Linear algebra. Cholesky and triangular inverses are written here: for the
 * d <= ~32 of customer features they cost nothing next to the E-step, calls
 * per component into LAPACK would cost more than the work, and BLAS/LAPACK
 * calls are kept to src/core/linalg.c.
 *
 * Complexity per iteration: O(n k d^2) (FULL, TIED) or O(n k d) (DIAG,
 * SPHERICAL) plus O(k d^3); memory O(n) labels + O(blocks x k d^2).
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "../core/internal.h"
#include "../core/simd.h"
#include "custseg/gmm.h"
#include "custseg/kmeans.h"

/* Blocks of at least this many samples (a multiple of 8), at most
 * CSEG_GMM_MAX_BLOCKS of them, so block partial sums stay small for any n. */
#define CSEG_GMM_BLOCK 1024
#define CSEG_GMM_MAX_BLOCKS 256
/* Below this many samples a parallel region costs more than it saves. */
#define CSEG_GMM_PAR_MIN 4096

typedef struct comp {
    double *w;      /* k */
    double *logw;   /* k */
    double *mu;     /* k x d */
    double *cov;    /* layout of the type */
    double *fac;    /* FULL k x d x d lower W, TIED d x d, DIAG k x d precisions,
                       SPHERICAL k precisions */
    double *logdet; /* k: sum_j ln W_jj (half the log determinant of the precision) */
} comp;

struct cseg_gmm {
    cseg_gmm_params p;
    size_t k, d;
    cseg_gmm_cov cov;
    int fitted;
    comp m;
    int32_t *labels;
    double *bounds;
    size_t n_iter;
    int converged;
    double lower_bound;
};

size_t cseg_gmm_cov_size(cseg_gmm_cov cov, size_t k, size_t d)
{
    size_t s = 0;
    switch (cov) {
    case CSEG_GMM_FULL:
        if (cseg__mul3(k, d, d, &s))
            return 0;
        return s;
    case CSEG_GMM_TIED:
        return cseg__mul(d, d, &s) ? 0 : s;
    case CSEG_GMM_DIAG:
        return cseg__mul(k, d, &s) ? 0 : s;
    case CSEG_GMM_SPHERICAL:
        return k;
    }
    return 0;
}

static void comp_free(comp *c)
{
    free(c->w);
    free(c->logw);
    free(c->mu);
    free(c->cov);
    free(c->fac);
    free(c->logdet);
    memset(c, 0, sizeof *c);
}

static int comp_alloc(comp *c, cseg_gmm_cov cov, size_t k, size_t d)
{
    size_t cs = cseg_gmm_cov_size(cov, k, d), kd;
    memset(c, 0, sizeof *c);
    if (!cs || cseg__mul(k, d, &kd))
        return CSEG_ETOOBIG;
    c->w = malloc(k * sizeof(double));
    c->logw = malloc(k * sizeof(double));
    c->mu = malloc(kd * sizeof(double));
    c->cov = malloc(cs * sizeof(double));
    c->fac = malloc(cs * sizeof(double));
    c->logdet = malloc(k * sizeof(double));
    if (!c->w || !c->logw || !c->mu || !c->cov || !c->fac || !c->logdet) {
        comp_free(c);
        return CSEG_ENOMEM;
    }
    return 0;
}

static void comp_copy(comp *dst, const comp *src, cseg_gmm_cov cov, size_t k, size_t d)
{
    size_t cs = cseg_gmm_cov_size(cov, k, d);
    memcpy(dst->w, src->w, k * sizeof(double));
    memcpy(dst->logw, src->logw, k * sizeof(double));
    memcpy(dst->mu, src->mu, k * d * sizeof(double));
    memcpy(dst->cov, src->cov, cs * sizeof(double));
    memcpy(dst->fac, src->fac, cs * sizeof(double));
    memcpy(dst->logdet, src->logdet, k * sizeof(double));
}

static const char *const cov_names[] = {"full", "tied", "diag", "spherical"};

const char *cseg_gmm_cov_name(cseg_gmm_cov cov)
{
    return (unsigned)cov <= CSEG_GMM_SPHERICAL ? cov_names[cov] : NULL;
}

int cseg_gmm_cov_parse(const char *s, cseg_gmm_cov *out)
{
    for (unsigned q = 0; s && q <= CSEG_GMM_SPHERICAL; q++)
        if (strcmp(s, cov_names[q]) == 0) {
            *out = (cseg_gmm_cov)q;
            return 0;
        }
    return CSEG_EINVAL;
}

void cseg_gmm_params_init(cseg_gmm_params *p)
{
    memset(p, 0, sizeof *p);
    p->k = 1;
    p->cov = CSEG_GMM_FULL;
    p->n_init = 1;
    p->max_iter = 100;
    p->tol = 1e-3;
    p->reg_covar = 1e-6;
    p->seed = 0;
    p->n_threads = 0;
}

const char *cseg_gmm_params_check(const cseg_gmm_params *p)
{
    if (p->k < 1)
        return "k must be >= 1";
    if (p->k > (1u << 20))
        return "k is too large";
    if (p->cov != CSEG_GMM_FULL && p->cov != CSEG_GMM_TIED && p->cov != CSEG_GMM_DIAG &&
        p->cov != CSEG_GMM_SPHERICAL)
        return "covariance type must be full, tied, diag or spherical";
    if (p->n_init < 1)
        return "n_init must be >= 1";
    if (p->max_iter < 1)
        return "max_iter must be >= 1";
    if (!(p->tol >= 0) || !isfinite(p->tol))
        return "tol must be a finite number >= 0";
    if (!(p->reg_covar >= 0) || !isfinite(p->reg_covar))
        return "reg_covar must be a finite number >= 0";
    if (p->n_threads < 0)
        return "n_threads must be >= 0";
    return NULL;
}

int cseg_gmm_create(cseg_gmm **out, const cseg_gmm_params *p)
{
    cseg_gmm_params defaults;
    *out = NULL;
    if (!p) {
        cseg_gmm_params_init(&defaults);
        p = &defaults;
    }
    if (cseg_gmm_params_check(p))
        return CSEG_EINVAL;
    cseg_gmm *g = calloc(1, sizeof *g);
    if (!g)
        return CSEG_ENOMEM;
    g->p = *p;
    g->k = p->k;
    g->cov = p->cov;
    *out = g;
    return 0;
}

void cseg_gmm_free(cseg_gmm *g)
{
    if (!g)
        return;
    comp_free(&g->m);
    free(g->labels);
    free(g->bounds);
    free(g);
}

/* ---------------------------------------------------------------------- */
/* Small dense linear algebra (row-major d x d).                           */

/* Lower Cholesky factor L of the symmetric A (lower triangle read), A = L L^T.
 * Returns -1 when A is not positive definite (to working precision). */
static int chol(size_t d, const double *A, double *L)
{
    for (size_t i = 0; i < d; i++) {
        for (size_t j = 0; j <= i; j++) {
            double s = A[i * d + j];
            for (size_t q = 0; q < j; q++)
                s -= L[i * d + q] * L[j * d + q];
            if (i == j) {
                if (!(s > 0) || !isfinite(s))
                    return -1;
                L[i * d + i] = sqrt(s);
            } else {
                L[i * d + j] = s / L[j * d + j];
            }
        }
        for (size_t j = i + 1; j < d; j++)
            L[i * d + j] = 0;
    }
    return 0;
}

/* W = L^-1 for lower triangular L (forward substitution on the identity). */
static void tri_inv(size_t d, const double *L, double *W)
{
    for (size_t c = 0; c < d; c++) {
        for (size_t i = 0; i < d; i++) {
            if (i < c) {
                W[i * d + c] = 0;
                continue;
            }
            double s = i == c ? 1.0 : 0.0;
            for (size_t q = c; q < i; q++)
                s -= L[i * d + q] * W[q * d + c];
            W[i * d + c] = s / L[i * d + i];
        }
    }
}

/* Factor of a covariance: W = L^-1 (lower), so W^T W = Sigma^-1; logdet gets
 * sum ln W_jj. scr holds d x d. */
static int fac_from_cov_mat(size_t d, const double *S, double *W, double *logdet, double *scr)
{
    if (chol(d, S, scr) < 0)
        return -1;
    tri_inv(d, scr, W);
    double ld = 0;
    for (size_t j = 0; j < d; j++)
        ld += log(W[j * d + j]);
    *logdet = ld;
    return 0;
}

/* Factor of a precision P = W^T W with W lower: the Cholesky factor of P with
 * rows and columns reversed (J P J = L L^T gives W = J L^T J). scr: 2 d x d. */
static int fac_from_prec_mat(size_t d, const double *P, double *W, double *logdet, double *scr)
{
    double *R = scr, *L = scr + d * d;
    for (size_t i = 0; i < d; i++)
        for (size_t j = 0; j < d; j++)
            R[i * d + j] = P[(d - 1 - i) * d + (d - 1 - j)];
    if (chol(d, R, L) < 0)
        return -1;
    double ld = 0;
    for (size_t i = 0; i < d; i++)
        for (size_t j = 0; j < d; j++)
            W[i * d + j] = L[(d - 1 - j) * d + (d - 1 - i)];
    for (size_t j = 0; j < d; j++)
        ld += log(W[j * d + j]);
    *logdet = ld;
    return 0;
}

/* Factors of all components from m->cov. Returns 0, or 1 + the index of the
 * first component whose covariance is not positive definite. */
static size_t factor_cov(comp *m, cseg_gmm_cov cov, size_t k, size_t d, double *scr)
{
    switch (cov) {
    case CSEG_GMM_FULL:
        for (size_t c = 0; c < k; c++)
            if (fac_from_cov_mat(d, m->cov + c * d * d, m->fac + c * d * d, &m->logdet[c], scr))
                return c + 1;
        break;
    case CSEG_GMM_TIED:
        if (fac_from_cov_mat(d, m->cov, m->fac, &m->logdet[0], scr))
            return 1;
        for (size_t c = 1; c < k; c++)
            m->logdet[c] = m->logdet[0];
        break;
    case CSEG_GMM_DIAG:
        for (size_t c = 0; c < k; c++) {
            double ld = 0;
            for (size_t j = 0; j < d; j++) {
                double v = m->cov[c * d + j];
                if (!(v > 0) || !isfinite(v))
                    return c + 1;
                double pc = 1 / sqrt(v);
                m->fac[c * d + j] = pc * pc;
                ld += log(pc);
            }
            m->logdet[c] = ld;
        }
        break;
    case CSEG_GMM_SPHERICAL:
        for (size_t c = 0; c < k; c++) {
            double v = m->cov[c];
            if (!(v > 0) || !isfinite(v))
                return c + 1;
            double pc = 1 / sqrt(v);
            m->fac[c] = pc * pc;
            m->logdet[c] = (double)d * log(pc);
        }
        break;
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* E-step kernel.                                                          */

/* e^x for x <= 0, lanewise: x = n ln2 + r (Cody-Waite split of ln 2, so n
 * ln2_hi is exact), e^r by a degree-13 Taylor polynomial (|r| <= ln2/2, error
 * below 1e-17), times 2^n built in the exponent bits. x <= -708 (and -inf,
 * NaN) give 0: such terms cannot move a sum that holds e^0 = 1. */
CSEG_INLINE void vexp(v8d *xp)
{
    v8d x = *xp;
    const double shifter = 0x1.8p52, l2e = 1.4426950408889634;
    const double ln2_hi = 6.93145751953125e-1, ln2_lo = 1.42860682030941723212e-6;
    v8d t = x * l2e + shifter;
    v8d nf = t - shifter;
    v8d sh = {shifter, shifter, shifter, shifter, shifter, shifter, shifter, shifter};
    v8l ni = (v8l)t - (v8l)sh;
    v8d r = (x - nf * ln2_hi) - nf * ln2_lo;
    v8d p = r * (1.0 / 6227020800.0) + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    v8l bits = (ni + 1023) << 52;
    v8d y = p * (v8d)bits;
    v8d zero = CSEG_V8Z;
    v8l ok = x > -708.0;
    *xp = CSEG_SEL(ok, y, zero);
}

enum { MODE_FIT = 0, MODE_PREDICT = 1 };

typedef struct ework {
    const double *X;
    size_t n, d, k, P, bs, nb;
    cseg_gmm_cov cov;
    const comp *m;
    int mode;
    double ld2pi;    /* d ln 2pi */
    double *lane;    /* per thread: k x P x 8 lane sums (FIT) */
    double *lp;      /* per thread: k x 8 */
    double *bpart;   /* nb x k x P (FIT) */
    double *blb;     /* nb: sum of log-likelihoods (FIT) */
    int32_t *labels; /* PREDICT outputs, each optional */
    double *proba, *logp;
} ework;

static inline int thread_id(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* p[0..8) += v. A macro: GCC warns (-Wpsabi) that 64-byte vectors passed by
 * value are passed differently depending on the ISA. */
#define VADD(p, v)                                                                                 \
    do {                                                                                           \
        v8d vadd_s_;                                                                               \
        memcpy(&vadd_s_, (p), sizeof vadd_s_);                                                     \
        vadd_s_ += (v);                                                                            \
        memcpy((p), &vadd_s_, sizeof vadd_s_);                                                     \
    } while (0)

/* Squared Mahalanobis distances of the eight lanes for one component. */
CSEG_INLINE void quad(v8d *out, const v8d *diff, const double *F, size_t d, cseg_gmm_cov cov)
{
    v8d q = CSEG_V8Z;
    if (cov == CSEG_GMM_FULL || cov == CSEG_GMM_TIED) {
        for (size_t j = 0; j < d; j++) {
            const double *wj = F + j * d;
            v8d y = CSEG_V8Z;
            for (size_t i = 0; i <= j; i++)
                y += wj[i] * diff[i];
            q += y * y;
        }
    } else if (cov == CSEG_GMM_DIAG) {
        for (size_t j = 0; j < d; j++)
            q += diff[j] * diff[j] * F[j];
    } else {
        for (size_t j = 0; j < d; j++)
            q += diff[j] * diff[j];
        q = q * F[0];
    }
    *out = q;
}

/* One block of samples: log-likelihoods and responsibilities for each tile
 * of eight, then (FIT) the lane sums for the M-step or (PREDICT) the outputs.
 * d is passed separately so the d = 8 call below is compiled with a
 * constant trip count. */
CSEG_INLINE void eblock_d(const ework *w, size_t b, int tid, size_t d)
{
    size_t k = w->k, P = w->P, n = w->n;
    size_t i0 = b * w->bs, i1 = i0 + w->bs < n ? i0 + w->bs : n;
    const comp *m = w->m;
    cseg_gmm_cov cov = w->cov;
    size_t fstride = cov == CSEG_GMM_FULL        ? d * d
                     : cov == CSEG_GMM_DIAG      ? d
                     : cov == CSEG_GMM_SPHERICAL ? 1
                                                 : 0;
    double *lane = w->lane ? w->lane + (size_t)tid * k * P * 8 : NULL;
    double *lpbuf = w->lp + (size_t)tid * k * 8;
    int fit = w->mode == MODE_FIT;
    double lb = 0;
    v8d xs[d], diff[d], t[d];
    if (fit)
        memset(lane, 0, k * P * 8 * sizeof(double));
    for (size_t g = i0; g < i1; g += 8) {
        size_t cnt = i1 - g < 8 ? i1 - g : 8;
        for (size_t l = 0; l < 8; l++) {
            const double *x = w->X + (g + (l < cnt ? l : cnt - 1)) * d;
            for (size_t j = 0; j < d; j++)
                xs[j][l] = x[j];
        }
        v8d mx = {-HUGE_VAL, -HUGE_VAL, -HUGE_VAL, -HUGE_VAL,
                  -HUGE_VAL, -HUGE_VAL, -HUGE_VAL, -HUGE_VAL};
        v8l best = CSEG_V8Z;
        for (size_t c = 0; c < k; c++) {
            const double *mu = m->mu + c * d;
            for (size_t j = 0; j < d; j++)
                diff[j] = xs[j] - mu[j];
            v8d q;
            quad(&q, diff, m->fac + c * fstride, d, cov);
            v8d lp = (-0.5 * (w->ld2pi + q) + m->logdet[c]) + m->logw[c];
            v8l gt = lp > mx;
            mx = CSEG_SEL(gt, lp, mx);
            best = (best & ~gt) | ((long long)c & gt);
            memcpy(lpbuf + c * 8, &lp, sizeof lp);
        }
        v8d s = CSEG_V8Z;
        for (size_t c = 0; c < k; c++) {
            v8d lp;
            memcpy(&lp, lpbuf + c * 8, sizeof lp);
            v8d e = lp - mx;
            vexp(&e);
            s += e;
            memcpy(lpbuf + c * 8, &e, sizeof e);
        }
        double lpn[8];
        for (size_t l = 0; l < 8; l++)
            lpn[l] = mx[l] + log(s[l]);
        v8d inv = 1.0 / s;
        if (fit) {
            for (size_t l = cnt; l < 8; l++)
                inv[l] = 0; /* padding lanes get no responsibility */
            for (size_t l = 0; l < cnt; l++)
                lb += lpn[l];
            for (size_t c = 0; c < k; c++) {
                const double *mu = m->mu + c * d;
                double *L = lane + c * P * 8;
                v8d e;
                memcpy(&e, lpbuf + c * 8, sizeof e);
                v8d r = e * inv;
                VADD(L, r);
                for (size_t j = 0; j < d; j++) {
                    diff[j] = xs[j] - mu[j];
                    t[j] = r * diff[j];
                    VADD(L + 8 * (1 + j), t[j]);
                }
                double *S = L + 8 * (1 + d);
                if (cov == CSEG_GMM_FULL || cov == CSEG_GMM_TIED) {
                    for (size_t i = 0; i < d; i++)
                        for (size_t j = i; j < d; j++, S += 8)
                            VADD(S, t[i] * diff[j]);
                } else {
                    for (size_t j = 0; j < d; j++)
                        VADD(S + 8 * j, t[j] * diff[j]);
                }
            }
        } else {
            for (size_t l = 0; l < cnt; l++) {
                size_t i = g + l;
                if (w->logp)
                    w->logp[i] = lpn[l];
                if (w->labels)
                    w->labels[i] = (int32_t)best[l];
                if (w->proba)
                    for (size_t c = 0; c < k; c++)
                        w->proba[i * k + c] = lpbuf[c * 8 + l] * inv[l];
            }
        }
    }
    if (fit) {
        double *bp = w->bpart + b * k * P;
        for (size_t q = 0; q < k * P; q++) {
            double acc = 0;
            for (size_t l = 0; l < 8; l++)
                acc += lane[q * 8 + l];
            bp[q] = acc;
        }
        w->blb[b] = lb;
    }
}

CSEG_HOT static void eblock(const ework *w, size_t b, int tid)
{
    if (w->d == 8)
        eblock_d(w, b, tid, 8);
    else
        eblock_d(w, b, tid, w->d);
}

static void run_estep(const ework *w, int nt)
{
    size_t nb = w->nb;
    (void)nt; /* unused without OpenMP */
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1) default(none)                        \
    shared(w, nb) if (w->n >= CSEG_GMM_PAR_MIN)
    for (size_t b = 0; b < nb; b++)
        eblock(w, b, thread_id());
}

static size_t pick_block(size_t n)
{
    size_t bs = (n + CSEG_GMM_MAX_BLOCKS - 1) / CSEG_GMM_MAX_BLOCKS;
    bs = (bs + 7) / 8 * 8;
    return bs < CSEG_GMM_BLOCK ? CSEG_GMM_BLOCK : bs;
}

static size_t partial_size(cseg_gmm_cov cov, size_t d)
{
    return 1 + d + (cov == CSEG_GMM_FULL || cov == CSEG_GMM_TIED ? d * (d + 1) / 2 : d);
}

/* ---------------------------------------------------------------------- */
/* M-step.                                                                 */

/* New weights, means and covariances from the per-component totals tot
 * (k x P: R, A, S around the old means m->mu), in place; then the factors.
 * wdiv: divide the weights by sum nk (EM) or by n (the k-means start, as
 * scikit-learn's _initialize). Returns 0 or 1 + a failing component. */
static size_t mstep(comp *m, const double *tot, cseg_gmm_cov cov, size_t k, size_t d, double reg,
                    double wdiv, double *scr)
{
    size_t P = partial_size(cov, d);
    double *delta = scr, *fscr = scr + d;
    double nk_sum = 0;
    int full = cov == CSEG_GMM_FULL || cov == CSEG_GMM_TIED;
    if (cov == CSEG_GMM_TIED)
        memset(m->cov, 0, d * d * sizeof(double));
    for (size_t c = 0; c < k; c++) {
        const double *T = tot + c * P, *A = T + 1, *S = T + 1 + d;
        double R = T[0], nk = R + 10 * DBL_EPSILON;
        double *mu = m->mu + c * d;
        nk_sum += nk;
        m->w[c] = nk;
        for (size_t j = 0; j < d; j++) {
            double mj = (A[j] + R * mu[j]) / nk;
            delta[j] = mj - mu[j];
            mu[j] = mj;
        }
        if (full) {
            double *C = cov == CSEG_GMM_FULL ? m->cov + c * d * d : m->cov;
            size_t q = 0;
            for (size_t i = 0; i < d; i++)
                for (size_t j = i; j < d; j++, q++) {
                    double v = S[q] - A[i] * delta[j] - delta[i] * A[j] + R * delta[i] * delta[j];
                    if (cov == CSEG_GMM_FULL) {
                        v = v / nk;
                        if (i == j)
                            v += reg;
                        C[i * d + j] = C[j * d + i] = v;
                    } else {
                        C[i * d + j] += v;
                    }
                }
        } else {
            double sum = 0;
            for (size_t j = 0; j < d; j++) {
                double v = (S[j] - 2 * A[j] * delta[j] + R * delta[j] * delta[j]) / nk + reg;
                if (cov == CSEG_GMM_DIAG)
                    m->cov[c * d + j] = v;
                sum += v;
            }
            if (cov == CSEG_GMM_SPHERICAL)
                m->cov[c] = sum / (double)d;
        }
    }
    if (cov == CSEG_GMM_TIED)
        for (size_t i = 0; i < d; i++)
            for (size_t j = i; j < d; j++) {
                double v = m->cov[i * d + j] / nk_sum;
                if (i == j)
                    v += reg;
                m->cov[i * d + j] = m->cov[j * d + i] = v;
            }
    double div = wdiv > 0 ? wdiv : nk_sum;
    for (size_t c = 0; c < k; c++) {
        m->w[c] /= div;
        m->logw[c] = log(m->w[c]);
    }
    return factor_cov(m, cov, k, d, fscr);
}

/* ---------------------------------------------------------------------- */
/* Fit.                                                                    */

static int check_init(const cseg_gmm_params *p, size_t d, double *scr, cseg_diag *diag)
{
    size_t k = p->k;
    if (p->init_weights) {
        double s = 0;
        for (size_t c = 0; c < k; c++) {
            double v = p->init_weights[c];
            if (!(v >= 0 && v <= 1))
                return cseg__diag(diag, CSEG_EINVAL, NULL, 0, 0,
                                  "initial weight %zu is not a number in [0, 1]", c + 1);
            s += v;
        }
        if (!(fabs(s - 1) <= 1e-8))
            return cseg__diag(diag, CSEG_EINVAL, NULL, 0, 0, "initial weights sum to %.17g, not 1",
                              s);
    }
    if (p->init_means)
        for (size_t i = 0; i < k * d; i++)
            if (!isfinite(p->init_means[i]))
                return cseg__diag(diag, CSEG_EINVAL, NULL, 0, 0,
                                  "initial mean %zu, feature %zu is not a finite number", i / d + 1,
                                  i % d + 1);
    if (p->init_precisions) {
        const double *P0 = p->init_precisions;
        size_t nm = p->cov == CSEG_GMM_FULL ? k : p->cov == CSEG_GMM_TIED ? 1 : 0;
        for (size_t c = 0; c < nm; c++) {
            const double *Pc = P0 + c * d * d;
            double ld;
            for (size_t i = 0; i < d; i++)
                for (size_t j = 0; j < i; j++) {
                    double a = Pc[i * d + j], b = Pc[j * d + i];
                    /* numpy.allclose, as scikit-learn's own check */
                    if (!(fabs(a - b) <= 1e-8 + 1e-5 * fabs(b)))
                        return cseg__diag(diag, CSEG_EINVAL, NULL, 0, 0,
                                          "initial precision %zu is not symmetric", c + 1);
                }
            if (fac_from_prec_mat(d, Pc, scr, &ld, scr + d * d) < 0)
                return cseg__diag(diag, CSEG_EINVAL, NULL, 0, 0,
                                  "initial precision %zu is not positive definite", c + 1);
        }
        size_t np = p->cov == CSEG_GMM_DIAG ? k * d : p->cov == CSEG_GMM_SPHERICAL ? k : 0;
        for (size_t i = 0; i < np; i++)
            if (!(P0[i] > 0) || !isfinite(P0[i]))
                return cseg__diag(diag, CSEG_EINVAL, NULL, 0, 0,
                                  "initial precisions must be positive numbers");
    }
    return 0;
}

/* Factors from the caller's precisions (already checked). */
static void factor_prec(comp *m, const double *P0, cseg_gmm_cov cov, size_t k, size_t d,
                        double *scr)
{
    switch (cov) {
    case CSEG_GMM_FULL:
        for (size_t c = 0; c < k; c++)
            fac_from_prec_mat(d, P0 + c * d * d, m->fac + c * d * d, &m->logdet[c], scr);
        break;
    case CSEG_GMM_TIED:
        fac_from_prec_mat(d, P0, m->fac, &m->logdet[0], scr);
        for (size_t c = 1; c < k; c++)
            m->logdet[c] = m->logdet[0];
        break;
    case CSEG_GMM_DIAG:
        for (size_t c = 0; c < k; c++) {
            double ld = 0;
            for (size_t j = 0; j < d; j++) {
                double pc = sqrt(P0[c * d + j]);
                m->fac[c * d + j] = pc * pc;
                ld += log(pc);
            }
            m->logdet[c] = ld;
        }
        break;
    case CSEG_GMM_SPHERICAL:
        for (size_t c = 0; c < k; c++) {
            double pc = sqrt(P0[c]);
            m->fac[c] = pc * pc;
            m->logdet[c] = (double)d * log(pc);
        }
        break;
    }
}

static int fail_pd(cseg_diag *diag, size_t c, size_t it, double reg)
{
    char when[48] = " at the start";
    if (it)
        snprintf(when, sizeof when, " after EM iteration %zu", it);
    return cseg__diag(diag, CSEG_ERANGE, NULL, 0, 0,
                      "the covariance of component %zu is not positive definite%s (a singleton "
                      "or collapsed component, reg_covar %g); use fewer components (--k), or "
                      "another covariance type (--covariance diag or spherical)",
                      c, when, reg);
}

/* Start of restart r: k-means labels as hard responsibilities and one M-step
 * (weights / n as scikit-learn), then whatever the caller supplied. */
static int start(const cseg_gmm_params *p, const double *X, size_t n, size_t d, size_t r, comp *cur,
                 double *tot, double *scr, cseg_diag *diag)
{
    size_t k = p->k, P = partial_size(p->cov, d);
    int need_km = !p->init_weights || !p->init_means || !p->init_precisions;
    int rc = 0;
    if (need_km) {
        cseg_kmeans_params kp;
        cseg_kmeans *km = NULL;
        cseg_kmeans_params_init(&kp);
        kp.k = k;
        kp.n_init = 1;
        kp.seed = p->seed ^ (0xd1b54a32d192ed03ULL * (r + 1));
        kp.n_threads = p->n_threads;
        if ((rc = cseg_kmeans_create(&km, &kp)) < 0)
            return rc;
        if ((rc = cseg_kmeans_fit(km, X, n, d, NULL, diag)) < 0) {
            cseg_kmeans_free(km);
            return rc;
        }
        const int32_t *lab = cseg_kmeans_labels(km);
        memcpy(cur->mu, cseg_kmeans_centroids(km), k * d * sizeof(double));
        memset(tot, 0, k * P * sizeof(double));
        int full = p->cov == CSEG_GMM_FULL || p->cov == CSEG_GMM_TIED;
        for (size_t i = 0; i < n; i++) {
            size_t c = (size_t)lab[i];
            const double *x = X + i * d, *mu = cur->mu + c * d;
            double *T = tot + c * P, *A = T + 1, *S = T + 1 + d;
            T[0] += 1;
            for (size_t j = 0; j < d; j++)
                A[j] += x[j] - mu[j];
            if (full) {
                for (size_t a = 0; a < d; a++)
                    for (size_t b = a; b < d; b++)
                        *S++ += (x[a] - mu[a]) * (x[b] - mu[b]);
            } else {
                for (size_t j = 0; j < d; j++)
                    S[j] += (x[j] - mu[j]) * (x[j] - mu[j]);
            }
        }
        cseg_kmeans_free(km);
        size_t bad = mstep(cur, tot, p->cov, k, d, p->reg_covar, (double)n, scr);
        if (bad && !p->init_precisions)
            return fail_pd(diag, bad, 0, p->reg_covar);
    }
    if (p->init_weights)
        for (size_t c = 0; c < k; c++) {
            cur->w[c] = p->init_weights[c];
            cur->logw[c] = log(cur->w[c]);
        }
    if (p->init_means)
        memcpy(cur->mu, p->init_means, k * d * sizeof(double));
    if (p->init_precisions)
        factor_prec(cur, p->init_precisions, p->cov, k, d, scr);
    return 0;
}

static size_t phys_bytes(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || psz <= 0)
        return SIZE_MAX;
    return (size_t)pages > SIZE_MAX / (size_t)psz ? SIZE_MAX : (size_t)pages * (size_t)psz;
}

int cseg_gmm_fit(cseg_gmm *g, const double *X, size_t n, size_t d, cseg_diag *diag)
{
    const cseg_gmm_params *p = &g->p;
    size_t k = p->k;
    cseg_gmm_cov cov = p->cov;
    int rc = 0;
    comp cur, best;
    ework w;
    double *tot = NULL, *scr = NULL, *bounds = NULL, *best_bounds = NULL;
    int32_t *labels = NULL;
    memset(&cur, 0, sizeof cur);
    memset(&best, 0, sizeof best);
    memset(&w, 0, sizeof w);
    if (d == 0)
        return cseg__diag(diag, CSEG_EINVAL, NULL, 0, 0, "no features to model");
    if (n < k)
        return cseg__diag(diag, CSEG_EINVAL, NULL, 0, 0,
                          "k = %zu components need at least as many samples, got %zu", k, n);
    if (!X)
        return cseg__diag(diag, CSEG_EINVAL, NULL, 0, 0, "no data");
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++)
            if (!isfinite(X[i * d + j]))
                return cseg__diag(diag, CSEG_EINVAL, NULL, 0, 0,
                                  "row %zu, feature %zu is not a finite number", i + 1, j + 1);
    size_t P = partial_size(cov, d), kP, dd, cs = cseg_gmm_cov_size(cov, k, d);
    if (cseg__mul(k, P, &kP) || cseg__mul(d, d, &dd) || !cs || dd > SIZE_MAX / 64)
        return cseg__diag(diag, CSEG_ETOOBIG, NULL, 0, 0, "k = %zu and d = %zu are too large", k,
                          d);
    int nt = cseg__threads(p->n_threads);
    size_t bs = pick_block(n), nb = (n + bs - 1) / bs;
    int need_km = !p->init_weights || !p->init_means || !p->init_precisions;
    /* Predict the workspace, with the k-means start's (a tile copy of X, six
     * per-sample arrays, block sums), before allocating anything. */
    double dn = (double)n;
    double doubles = (double)(nb + 1 + (size_t)nt * 8) * (double)kP /* block and lane sums */
                     + (double)nb + (double)nt * 8 * (double)k      /* bounds, log-likelihoods */
                     + 2.0 * (double)p->max_iter + 6.0 * (double)cs /* bounds, 2 parameter sets */
                     + 3.0 * (double)(k * d + 3 * k) + 4.0 * (double)dd;
    double need = 8.0 * doubles + 4.0 * dn; /* + labels */
    if (need_km)
        need += 8.0 * (dn + 8) * (double)d + 40.0 * dn +
                64.0 * (double)(n / 4096 + 1) * (double)k * (double)d;
    if (need > (double)phys_bytes())
        return cseg__diag(diag, CSEG_ETOOBIG, NULL, 0, 0,
                          "a Gaussian mixture with k = %zu on %zu x %zu data needs about %.0f MiB, "
                          "more than this machine's %.0f MiB",
                          k, n, d, need / 1048576.0, (double)phys_bytes() / 1048576.0);
    scr = malloc((4 * dd + 2 * d + 8) * sizeof(double));
    if (!scr)
        return cseg__diag(diag, CSEG_ENOMEM, NULL, 0, 0, "out of memory for the Gaussian mixture");
    if ((rc = check_init(p, d, scr, diag)) < 0) {
        free(scr);
        return rc;
    }
    if ((rc = comp_alloc(&cur, cov, k, d)) < 0 || (rc = comp_alloc(&best, cov, k, d)) < 0)
        goto nomem;
    tot = malloc(kP * sizeof(double));
    bounds = malloc(p->max_iter * sizeof(double));
    best_bounds = malloc(p->max_iter * sizeof(double));
    labels = malloc(n * sizeof(int32_t));
    w.lane = cseg__alloc_aligned((size_t)nt * kP * 8, sizeof(double));
    w.lp = cseg__alloc_aligned((size_t)nt * k * 8, sizeof(double));
    w.bpart = malloc(nb * kP * sizeof(double));
    w.blb = malloc(nb * sizeof(double));
    if (!tot || !scr || !bounds || !best_bounds || !labels || !w.lane || !w.lp || !w.bpart ||
        !w.blb)
        goto nomem;
    w.X = X;
    w.n = n;
    w.d = d;
    w.k = k;
    w.P = P;
    w.bs = bs;
    w.nb = nb;
    w.cov = cov;
    w.ld2pi = (double)d * log(2 * M_PI);
    double best_lb = -HUGE_VAL;
    size_t best_iter = 0;
    int best_conv = 0;
    /* All three given: every restart would start, and end, alike. */
    size_t runs = need_km ? p->n_init : 1;
    for (size_t r = 0; r < runs; r++) {
        if ((rc = start(p, X, n, d, r, &cur, tot, scr, diag)) < 0)
            goto out;
        double lb = -HUGE_VAL;
        size_t it;
        int conv = 0;
        for (it = 1; it <= p->max_iter; it++) {
            double prev = lb;
            w.m = &cur;
            w.mode = MODE_FIT;
            run_estep(&w, nt);
            double s = 0;
            for (size_t b = 0; b < nb; b++)
                s += w.blb[b];
            lb = s / (double)n;
            bounds[it - 1] = lb;
            memset(tot, 0, kP * sizeof(double));
            for (size_t b = 0; b < nb; b++) {
                const double *bp = w.bpart + b * kP;
                for (size_t q = 0; q < kP; q++)
                    tot[q] += bp[q];
            }
            size_t bad = mstep(&cur, tot, cov, k, d, p->reg_covar, 0, scr);
            if (bad) {
                rc = fail_pd(diag, bad, it, p->reg_covar);
                goto out;
            }
            if (fabs(lb - prev) < p->tol) {
                conv = 1;
                break;
            }
        }
        if (it > p->max_iter)
            it = p->max_iter;
        if (r == 0 || lb > best_lb) {
            best_lb = lb;
            best_iter = it;
            best_conv = conv;
            comp_copy(&best, &cur, cov, k, d);
            memcpy(best_bounds, bounds, it * sizeof(double));
        }
    }
    /* Final E-step with the kept parameters: the training labels. */
    w.m = &best;
    w.mode = MODE_PREDICT;
    w.labels = labels;
    run_estep(&w, nt);
    comp_free(&g->m);
    g->m = best;
    memset(&best, 0, sizeof best);
    free(g->labels);
    free(g->bounds);
    g->labels = labels;
    g->bounds = best_bounds;
    labels = NULL;
    best_bounds = NULL;
    g->k = k;
    g->d = d;
    g->cov = cov;
    g->n_iter = best_iter;
    g->converged = best_conv;
    g->lower_bound = best_lb;
    g->fitted = 1;
    /* The init arrays were borrowed for this fit only. */
    g->p.init_weights = g->p.init_means = g->p.init_precisions = NULL;
    rc = 0;
    goto out;
nomem:
    rc = cseg__diag(diag, CSEG_ENOMEM, NULL, 0, 0, "out of memory for the Gaussian mixture");
out:
    comp_free(&cur);
    comp_free(&best);
    free(tot);
    free(scr);
    free(bounds);
    free(best_bounds);
    free(labels);
    cseg__free_aligned(w.lane);
    cseg__free_aligned(w.lp);
    free(w.bpart);
    free(w.blb);
    return rc;
}

/* E-step with the model's parameters, writing any of the three outputs. */
static int predict_any(const cseg_gmm *g, const double *X, size_t n, int32_t *labels, double *proba,
                       double *logp)
{
    if (!g || !g->fitted)
        return CSEG_ENOTFIT;
    if (n == 0)
        return 0;
    if (!X)
        return CSEG_EINVAL;
    size_t nd;
    if (cseg__mul(n, g->d, &nd))
        return CSEG_ETOOBIG;
    for (size_t i = 0; i < nd; i++)
        if (!isfinite(X[i]))
            return CSEG_EINVAL;
    int nt = cseg__threads(g->p.n_threads);
    ework w;
    memset(&w, 0, sizeof w);
    w.X = X;
    w.n = n;
    w.d = g->d;
    w.k = g->k;
    w.P = partial_size(g->cov, g->d);
    w.bs = pick_block(n);
    w.nb = (n + w.bs - 1) / w.bs;
    w.cov = g->cov;
    w.m = &g->m;
    w.mode = MODE_PREDICT;
    w.ld2pi = (double)g->d * log(2 * M_PI);
    w.labels = labels;
    w.proba = proba;
    w.logp = logp;
    w.lp = cseg__alloc_aligned((size_t)nt * g->k * 8, sizeof(double));
    if (!w.lp)
        return CSEG_ENOMEM;
    run_estep(&w, nt);
    cseg__free_aligned(w.lp);
    return 0;
}

int cseg_gmm_predict(const cseg_gmm *g, const double *X, size_t n, int32_t *labels, double *proba)
{
    return predict_any(g, X, n, labels, proba, NULL);
}

int cseg_gmm_score_samples(const cseg_gmm *g, const double *X, size_t n, double *logp)
{
    if (!logp && n)
        return CSEG_EINVAL;
    return predict_any(g, X, n, NULL, NULL, logp);
}

/* Total log-likelihood of X, summed in row order. */
static int total_loglik(const cseg_gmm *g, const double *X, size_t n, double *out)
{
    if (!g || !g->fitted)
        return CSEG_ENOTFIT;
    if (n == 0 || !out)
        return CSEG_EINVAL;
    double *lp = malloc(n * sizeof *lp);
    if (!lp)
        return CSEG_ENOMEM;
    int rc = predict_any(g, X, n, NULL, NULL, lp);
    double s = 0;
    for (size_t i = 0; rc == 0 && i < n; i++)
        s += lp[i];
    free(lp);
    *out = s;
    return rc;
}

int cseg_gmm_bic(const cseg_gmm *g, const double *X, size_t n, double *out)
{
    double ll;
    int rc = total_loglik(g, X, n, &ll);
    if (rc < 0)
        return rc;
    *out = -2 * ll + (double)cseg_gmm_n_parameters(g) * log((double)n);
    return 0;
}

int cseg_gmm_aic(const cseg_gmm *g, const double *X, size_t n, double *out)
{
    double ll;
    int rc = total_loglik(g, X, n, &ll);
    if (rc < 0)
        return rc;
    *out = -2 * ll + 2 * (double)cseg_gmm_n_parameters(g);
    return 0;
}

size_t cseg_gmm_n_parameters(const cseg_gmm *g)
{
    if (!g || !g->fitted)
        return 0;
    size_t k = g->k, d = g->d, cp = 0;
    switch (g->cov) {
    case CSEG_GMM_FULL:
        cp = k * d * (d + 1) / 2;
        break;
    case CSEG_GMM_TIED:
        cp = d * (d + 1) / 2;
        break;
    case CSEG_GMM_DIAG:
        cp = k * d;
        break;
    case CSEG_GMM_SPHERICAL:
        cp = k;
        break;
    }
    return cp + k * d + k - 1;
}

int cseg_gmm_set(cseg_gmm *g, size_t k, size_t d, cseg_gmm_cov cov, const double *weights,
                 const double *means, const double *covariances)
{
    if (!g || k == 0 || d == 0 || !weights || !means || !covariances)
        return CSEG_EINVAL;
    if (cov != CSEG_GMM_FULL && cov != CSEG_GMM_TIED && cov != CSEG_GMM_DIAG &&
        cov != CSEG_GMM_SPHERICAL)
        return CSEG_EINVAL;
    size_t cs = cseg_gmm_cov_size(cov, k, d), kd, dd;
    if (!cs || cseg__mul(k, d, &kd) || cseg__mul(d, d, &dd) || dd > SIZE_MAX / 64)
        return CSEG_EINVAL;
    double s = 0;
    for (size_t c = 0; c < k; c++) {
        if (!(weights[c] > 0) || !isfinite(weights[c]))
            return CSEG_EINVAL;
        s += weights[c];
    }
    if (!(fabs(s - 1) <= 1e-9))
        return CSEG_EINVAL;
    for (size_t i = 0; i < kd; i++)
        if (!isfinite(means[i]))
            return CSEG_EINVAL;
    for (size_t i = 0; i < cs; i++)
        if (!isfinite(covariances[i]))
            return CSEG_EINVAL;
    if (cov == CSEG_GMM_FULL || cov == CSEG_GMM_TIED) {
        size_t nm = cov == CSEG_GMM_FULL ? k : 1;
        for (size_t c = 0; c < nm; c++)
            for (size_t i = 0; i < d; i++)
                for (size_t j = 0; j < i; j++) {
                    double a = covariances[c * dd + i * d + j], b = covariances[c * dd + j * d + i];
                    if (!(fabs(a - b) <= 1e-12 * (fabs(a) + fabs(b))))
                        return CSEG_EINVAL;
                }
    }
    comp m;
    int rc = comp_alloc(&m, cov, k, d);
    if (rc < 0)
        return rc;
    double *scr = malloc((dd + 1) * sizeof *scr);
    if (!scr) {
        comp_free(&m);
        return CSEG_ENOMEM;
    }
    for (size_t c = 0; c < k; c++) {
        m.w[c] = weights[c];
        m.logw[c] = log(weights[c]);
    }
    memcpy(m.mu, means, kd * sizeof(double));
    memcpy(m.cov, covariances, cs * sizeof(double));
    size_t bad = factor_cov(&m, cov, k, d, scr);
    free(scr);
    if (bad) {
        comp_free(&m);
        return CSEG_ERANGE;
    }
    comp_free(&g->m);
    g->m = m;
    free(g->labels);
    free(g->bounds);
    g->labels = NULL;
    g->bounds = NULL;
    g->k = k;
    g->p.k = k;
    g->d = d;
    g->cov = cov;
    g->p.cov = cov;
    g->n_iter = 0;
    g->converged = 0;
    g->lower_bound = 0;
    g->fitted = 1;
    return 0;
}

int cseg_gmm_is_fitted(const cseg_gmm *g)
{
    return g && g->fitted;
}

size_t cseg_gmm_k(const cseg_gmm *g)
{
    return g->fitted ? g->k : g->p.k;
}

size_t cseg_gmm_dim(const cseg_gmm *g)
{
    return g->fitted ? g->d : 0;
}

cseg_gmm_cov cseg_gmm_cov_type(const cseg_gmm *g)
{
    return g->fitted ? g->cov : g->p.cov;
}

const double *cseg_gmm_weights(const cseg_gmm *g)
{
    return g->fitted ? g->m.w : NULL;
}

const double *cseg_gmm_means(const cseg_gmm *g)
{
    return g->fitted ? g->m.mu : NULL;
}

const double *cseg_gmm_covariances(const cseg_gmm *g)
{
    return g->fitted ? g->m.cov : NULL;
}

size_t cseg_gmm_n_iter(const cseg_gmm *g)
{
    return g->n_iter;
}

int cseg_gmm_converged(const cseg_gmm *g)
{
    return g->converged;
}

double cseg_gmm_lower_bound(const cseg_gmm *g)
{
    return g->lower_bound;
}

const double *cseg_gmm_lower_bounds(const cseg_gmm *g, size_t *n_out)
{
    if (n_out)
        *n_out = g->bounds ? g->n_iter : 0;
    return g->bounds;
}

const int32_t *cseg_gmm_labels(const cseg_gmm *g)
{
    return g->labels;
}

const cseg_gmm_params *cseg_gmm_get_params(const cseg_gmm *g)
{
    return &g->p;
}
