/* custseg — PCA by eigen-decomposition of the covariance matrix.
 *
 * Method. Two passes over X. The first sums each fixed block of
 * CSEG_PCA_BLOCK rows per feature (which also finds NaN/Inf for free: a
 * block whose sums are not finite is then scanned for the culprit); the
 * block sums, added in block order, give the means. The second centres the
 * rows panel by panel into a zero-padded scratch and adds each panel's
 * products to its block's d x d partial with a register-blocked kernel
 * (4 rows x 8 columns of the upper triangle per tile, eight columns as one
 * vector); block partials are added in block order. Centring before the
 * product keeps the accuracy of the two-pass formula. The covariance (n - 1)
 * then goes to cseg__sym_eig (src/core/linalg.c: Jacobi for d <= 128, whose
 * bits do not depend on OpenBLAS's threads as dsyevd's do; dsyevd above).
 *
 * Why not BLAS dsyrk for the product: OpenBLAS 0.3.21 (pthreads build, the
 * one here) gives different bits for d = 100 with OPENBLAS_NUM_THREADS 1 and
 * 2, even on 4096-row calls, and has no per-call thread setting, so a fit
 * with it would depend on the environment. The own kernel runs the same
 * operations in the same order for any thread count; the build disables FP
 * contraction, so the AVX-512, AVX2 and baseline clones round alike. On
 * 1,000,000 x 32 it is within a small factor of dsyrk and far from being the
 * bottleneck (reading X is).
 *
 * Blocks are processed in rounds of at most CSEG_PCA_ROUND (fewer for large
 * d, fixed by d alone), so the partials need O(d^2) memory, not O(n d^2).
 *
 * transform: rows in groups of four, centred once, against the components
 * stored transposed (d x k, padded to 8 columns): for each output the sum
 * over features in order, as the plain scalar loop would, so the result does
 * not depend on threads either.
 *
 * Complexity: fit O(n d^2 + d^3) time, memory O(d^2 + n d / CSEG_PCA_BLOCK);
 * transform O(n d k).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/internal.h"
#include "../core/simd.h"
#include "custseg/pca.h"
#include "internal.h"

#define CSEG_PCA_BLOCK 4096
#define CSEG_PCA_PANEL 128
#define CSEG_PCA_ROUND 16
/* Partials held at once are capped at this many bytes (large d). */
#define CSEG_PCA_ROUND_BYTES ((size_t)32 << 20)
/* Beyond this d the d x d workspace of dsyevd overflows LAPACK's 32-bit sizes. */
#define CSEG_PCA_MAX_D 16384
#define CSEG_PCA_PAR_MIN 32768
#define CSEG_PCA_TRANSFORM_CHUNK 1024

struct cseg_pca {
    size_t d, nc, ncp; /* ncp: nc rounded up to 8 */
    int n_threads;
    double *mean, *comp, *var, *ratio;
    double *compt; /* d x ncp, transposed components, zero padded (aligned) */
};

static size_t round8(size_t x)
{
    return (x + 7) / 8 * 8;
}

void cseg_pca_params_init(cseg_pca_params *p)
{
    p->n_components = 0;
    p->variance_share = 1.0;
    p->n_threads = 0;
}

const char *cseg_pca_params_check(const cseg_pca_params *p)
{
    if (p->n_components == 0 && !(p->variance_share > 0 && p->variance_share <= 1))
        return "variance_share must be > 0 and <= 1";
    if (p->n_threads < 0)
        return "n_threads must be >= 0";
    return NULL;
}

void cseg_pca_free(cseg_pca *p)
{
    if (!p)
        return;
    free(p->mean);
    free(p->comp);
    free(p->var);
    free(p->ratio);
    cseg__free_aligned(p->compt);
    free(p);
}

/* A model with room for nc components of dimension d (values unset). */
static cseg_pca *pca_alloc(size_t d, size_t nc)
{
    cseg_pca *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->d = d;
    p->nc = nc;
    p->ncp = round8(nc);
    p->mean = malloc(d * sizeof *p->mean);
    p->comp = malloc(nc * d * sizeof *p->comp);
    p->var = malloc(nc * sizeof *p->var);
    p->ratio = malloc(nc * sizeof *p->ratio);
    p->compt = cseg__alloc_aligned(d * p->ncp, sizeof(double));
    if (!p->mean || !p->comp || !p->var || !p->ratio || !p->compt) {
        cseg_pca_free(p);
        return NULL;
    }
    return p;
}

static void pca_transpose(cseg_pca *p)
{
    memset(p->compt, 0, p->d * p->ncp * sizeof(double));
    for (size_t c = 0; c < p->nc; c++)
        for (size_t a = 0; a < p->d; a++)
            p->compt[a * p->ncp + c] = p->comp[c * p->d + a];
}

/* Per-feature sums of rows i0..i1, in row order. */
static void sum_block(const double *X, size_t d, size_t i0, size_t i1, double *s)
{
    for (size_t j = 0; j < d; j++)
        s[j] = 0;
    for (size_t i = i0; i < i1; i++) {
        const double *x = X + i * d;
        for (size_t j = 0; j < d; j++)
            s[j] += x[j];
    }
}

/* G (dp x dp, upper tiles) += Z' Z for the m centred rows of Z (m x dp, zero
 * padded). Each tile keeps 4 x 8 sums in registers over the panel's rows, in
 * row order, then adds them to G. */
CSEG_HOT static void syrk_panel(const double *Z, size_t m, size_t d, size_t dp, double *G)
{
    for (size_t a0 = 0; a0 < d; a0 += 4) {
        for (size_t b0 = a0 / 8 * 8; b0 < d; b0 += 8) {
            v8d s0 = CSEG_V8Z, s1 = s0, s2 = s0, s3 = s0;
            for (size_t i = 0; i < m; i++) {
                const double *z = Z + i * dp;
                v8d zb;
                memcpy(&zb, z + b0, sizeof zb);
                s0 += z[a0] * zb;
                s1 += z[a0 + 1] * zb;
                s2 += z[a0 + 2] * zb;
                s3 += z[a0 + 3] * zb;
            }
            const v8d *acc[4] = {&s0, &s1, &s2, &s3};
            for (size_t r = 0; r < 4; r++) {
                v8d g;
                memcpy(&g, G + (a0 + r) * dp + b0, sizeof g);
                g += *acc[r];
                memcpy(G + (a0 + r) * dp + b0, &g, sizeof g);
            }
        }
    }
}

/* Block partial G (dp x dp) of the centred products of rows i0..i1. Z is
 * the block's own panel scratch (CSEG_PCA_PANEL x dp, pads zero). */
static void cov_block(const double *X, size_t d, size_t dp, const double *mean, size_t i0,
                      size_t i1, double *Z, double *G)
{
    memset(G, 0, dp * dp * sizeof *G);
    for (size_t p0 = i0; p0 < i1; p0 += CSEG_PCA_PANEL) {
        size_t m = i1 - p0 < CSEG_PCA_PANEL ? i1 - p0 : CSEG_PCA_PANEL;
        for (size_t r = 0; r < m; r++) {
            const double *x = X + (p0 + r) * d;
            double *z = Z + r * dp;
            for (size_t j = 0; j < d; j++)
                z[j] = x[j] - mean[j];
        }
        syrk_panel(Z, m, d, dp, G);
    }
}

/* First row and column (0-based) of a non-finite value in rows i0..i1, or 0
 * when there is none (the sums overflowed instead). */
static int find_nonfinite(const double *X, size_t d, size_t i0, size_t i1, size_t *row,
                          size_t *col)
{
    for (size_t i = i0; i < i1; i++)
        for (size_t j = 0; j < d; j++)
            if (!isfinite(X[i * d + j])) {
                *row = i;
                *col = j;
                return 1;
            }
    return 0;
}

/* The chain's adds (cseg__split_comm.chain): this piece's block sums (nb
 * of m values each) added to acc in block order, as one process adds all. */
typedef struct block_sums {
    const double *v;
    size_t nb, m;
} block_sums;

static void add_blocks(void *u, double *acc)
{
    const block_sums *b = u;
    for (size_t i = 0; i < b->nb; i++)
        for (size_t j = 0; j < b->m; j++)
            acc[j] += b->v[i * b->m + j];
}

/* Over pieces, an allocation that failed on one (rc) fails on all: the
 * failures counted through sc->sum. */
static int all_allocated(const cseg__split_comm *sc, int rc, size_t d, cseg_diag *diag)
{
    uint64_t failed = rc < 0;
    if (sc && sc->sum(sc->ctx, &failed, 1, NULL, 0) < 0)
        failed = 1;
    return failed ? cseg__diag(diag, CSEG_ENOMEM, NULL, 0, 0, "out of memory for PCA (d = %zu)", d)
                  : 0;
}

/* Means (d) and covariance (d x d, full, ddof 1) of X. sc: X is this
 * piece's rows of n_all (its first row a multiple of CSEG_PCA_BLOCK): the
 * blocks' sums and partials are kept and added in block order along the
 * pieces (sc->chain), the bits of one process. */
static int covariance(const double *X, size_t n, size_t d, int nt, const cseg__split_comm *sc,
                      size_t n_all, double *mean, double *cov, cseg_diag *diag)
{
    (void)nt; /* unused without OpenMP */
    size_t nb = (n + CSEG_PCA_BLOCK - 1) / CSEG_PCA_BLOCK, dp = round8(d);
    size_t R = CSEG_PCA_ROUND, tri = d * (d + 1) / 2;
    while (R > 1 && R * dp * dp * sizeof(double) > CSEG_PCA_ROUND_BYTES)
        R--;
    int rc = 0;
    double *bsum = malloc((nb ? nb : 1) * d * sizeof *bsum);
    double *G = cseg__alloc_aligned(R * dp * dp, sizeof(double));
    double *Z = cseg__alloc_aligned(R * CSEG_PCA_PANEL * dp, sizeof(double));
    double *tot = calloc(dp * dp, sizeof *tot);
    /* over pieces: every block's partial, its upper triangle packed */
    double *part = sc ? malloc((nb ? nb : 1) * tri * sizeof *part) : NULL;
    if ((rc = all_allocated(sc, !bsum || !G || !Z || !tot || (sc && !part) ? -1 : 0, d, diag)) < 0)
        goto out;
#pragma omp parallel for num_threads(nt) schedule(static) default(none)                        \
    shared(X, n, d, nb, bsum) if (n >= CSEG_PCA_PAR_MIN)
    for (size_t b = 0; b < nb; b++) {
        size_t i1 = (b + 1) * CSEG_PCA_BLOCK;
        sum_block(X, d, b * CSEG_PCA_BLOCK, i1 < n ? i1 : n, bsum + b * d);
    }
    for (size_t j = 0; j < d; j++)
        mean[j] = 0;
    for (size_t b = 0; !sc && b < nb; b++) {
        for (size_t j = 0; j < d; j++) {
            if (isfinite(bsum[b * d + j]))
                continue;
            size_t i1 = (b + 1) * CSEG_PCA_BLOCK, row, col;
            if (find_nonfinite(X, d, b * CSEG_PCA_BLOCK, i1 < n ? i1 : n, &row, &col))
                rc = cseg__diag(diag, CSEG_EINVAL, NULL, (long)(row + 1), (long)(col + 1),
                                "row %zu, feature %zu is not a finite number", row + 1,
                                col + 1);
            else
                rc = cseg__diag(diag, CSEG_EINVAL, NULL, 0, (long)(j + 1),
                                "the values of feature %zu are too large to add up", j + 1);
            goto out;
        }
        for (size_t j = 0; j < d; j++)
            mean[j] += bsum[b * d + j];
    }
    if (sc) {
        /* A value that is not finite makes its sums so; it is named by no
         * row here (a caller over pieces checks its rows first). */
        block_sums bs = {bsum, nb, d};
        if ((rc = sc->chain(sc->ctx, mean, d, add_blocks, &bs)) < 0) {
            rc = cseg__diag(diag, rc, NULL, 0, 0, "PCA: %s", cseg_strerror(rc));
            goto out;
        }
        for (size_t j = 0; j < d; j++)
            if (!isfinite(mean[j])) {
                rc = cseg__diag(diag, CSEG_EINVAL, NULL, 0, (long)(j + 1),
                                "the values of feature %zu are not finite or too large to add "
                                "up",
                                j + 1);
                goto out;
            }
    }
    size_t n_rows = sc ? n_all : n;
    for (size_t j = 0; j < d; j++)
        mean[j] /= (double)n_rows;
    /* The padding columns of each panel scratch stay zero from here on. */
    memset(Z, 0, R * CSEG_PCA_PANEL * dp * sizeof *Z);
    for (size_t r0 = 0; r0 < nb; r0 += R) {
        size_t r1 = r0 + R < nb ? r0 + R : nb;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1) default(none)                    \
    shared(X, n, d, dp, mean, r0, r1, Z, G) if (n >= CSEG_PCA_PAR_MIN)
        for (size_t b = r0; b < r1; b++) {
            size_t i1 = (b + 1) * CSEG_PCA_BLOCK;
            cov_block(X, d, dp, mean, b * CSEG_PCA_BLOCK, i1 < n ? i1 : n,
                      Z + (b - r0) * CSEG_PCA_PANEL * dp, G + (b - r0) * dp * dp);
        }
        for (size_t b = r0; b < r1; b++) {
            const double *g = G + (b - r0) * dp * dp;
            double *pk = sc ? part + b * tri : NULL;
            for (size_t a = 0; a < d; a++)
                for (size_t c = a; c < d; c++) {
                    if (pk)
                        *pk++ = g[a * dp + c];
                    else
                        tot[a * dp + c] += g[a * dp + c];
                }
        }
    }
    if (sc) { /* every block's partial added in block order, entry by entry */
        block_sums bs = {part, nb, tri};
        double *acc = calloc(tri ? tri : 1, sizeof *acc);
        rc = all_allocated(sc, acc ? 0 : -1, d, diag);
        if (rc == 0 && (rc = sc->chain(sc->ctx, acc, tri, add_blocks, &bs)) < 0)
            cseg__diag(diag, rc, NULL, 0, 0, "PCA: %s", cseg_strerror(rc));
        for (size_t a = 0, t = 0; rc == 0 && a < d; a++)
            for (size_t c = a; c < d; c++)
                tot[a * dp + c] = acc[t++];
        free(acc);
        if (rc < 0)
            goto out;
    }
    for (size_t a = 0; a < d; a++)
        for (size_t c = a; c < d; c++) {
            double v = tot[a * dp + c] / (double)(n_rows - 1);
            if (!isfinite(v)) {
                rc = cseg__diag(diag, CSEG_EINVAL, NULL, 0, (long)(a + 1),
                                "the values of feature %zu are too large: their variance "
                                "overflows",
                                a + 1);
                goto out;
            }
            cov[a * d + c] = cov[c * d + a] = v;
        }
out:
    free(bsum);
    free(part);
    cseg__free_aligned(G);
    cseg__free_aligned(Z);
    free(tot);
    return rc;
}

/* The number of components (p->n_components, or the fewest whose explained
 * variance reaches p->variance_share) from the m eigenvalues w (descending),
 * and their total. */
static int pick_components(const double *w, size_t m, size_t d, const cseg_pca_params *p,
                           size_t *nc_out, double *total_out, cseg_diag *diag)
{
    double total = 0;
    for (size_t a = 0; a < m; a++)
        total += w[a] > 0 ? w[a] : 0;
    size_t nc = p->n_components;
    if (nc == 0) {
        if (!(total > 0))
            return cseg__diag(diag, CSEG_EINVAL, NULL, 0, 0,
                              "every feature is constant: there is no variance to explain");
        /* scikit-learn: searchsorted(cumsum(ratio), share, side="right") + 1 */
        double cum = 0;
        nc = 1;
        for (size_t a = 0; a < m; a++) {
            cum += (w[a] > 0 ? w[a] : 0) / total;
            if (cum <= p->variance_share)
                nc = a + 2;
        }
        if (nc > d)
            nc = d;
    }
    *nc_out = nc;
    *total_out = total;
    return 0;
}

/* Fewer samples than features: the n x n Gram matrix of the centred rows has
 * the same non-zero eigenvalues as the d x d covariance, and each component
 * is the centred rows' combination Xc^T u / sqrt((n - 1) w). O(n^2 d) time
 * and O(n d + n^2) memory instead of O(d^3) and O(d^2): 6 rows of 10,000
 * features take milliseconds, not minutes and gigabytes. Components beyond
 * the rank (zero variance) are left as zero vectors. */
static int fit_gram(cseg_pca **out, const double *X, size_t n, size_t d, const cseg_pca_params *p,
                    cseg_diag *diag)
{
    int rc = 0;
    cseg_pca *m = NULL;
    size_t nn, nd;
    if (cseg__mul(n, n, &nn) || cseg__mul(n, d, &nd) || n > CSEG_PCA_MAX_D)
        return cseg__diag(diag, CSEG_ETOOBIG, NULL, 0, 0, "PCA of %zu x %zu is too large", n, d);
    double *mean = calloc(d, sizeof *mean), *Xc = malloc(nd * sizeof *Xc);
    double *G = malloc(nn * sizeof *G), *w = malloc(n * sizeof *w), *U = malloc(nn * sizeof *U);
    if (!mean || !Xc || !G || !w || !U) {
        rc = cseg__diag(diag, CSEG_ENOMEM, NULL, 0, 0, "out of memory for PCA (n = %zu)", n);
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++)
            mean[j] += X[i * d + j];
    for (size_t j = 0; j < d; j++) {
        mean[j] /= (double)n;
        if (!isfinite(mean[j])) {
            rc = cseg__diag(diag, CSEG_EINVAL, NULL, 0, (long)(j + 1),
                            "the values of feature %zu are not finite or too large to add up",
                            j + 1);
            goto out;
        }
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++)
            Xc[i * d + j] = X[i * d + j] - mean[j];
    for (size_t a = 0; a < n; a++)
        for (size_t b = a; b < n; b++) {
            double s = 0;
            for (size_t j = 0; j < d; j++)
                s += Xc[a * d + j] * Xc[b * d + j];
            s /= (double)(n - 1);
            if (!isfinite(s)) {
                rc = cseg__diag(diag, CSEG_EINVAL, NULL, 0, 0,
                                "the values are too large: their variance overflows");
                goto out;
            }
            G[a * n + b] = G[b * n + a] = s;
        }
    if ((rc = cseg__sym_eig(n, G, w, U)) < 0) {
        rc = cseg__diag(diag, rc, NULL, 0, 0, "the eigen-decomposition did not converge");
        goto out;
    }
    double total = 0;
    size_t nc = 0;
    if ((rc = pick_components(w, n, d, p, &nc, &total, diag)) < 0)
        goto out;
    if (!(m = pca_alloc(d, nc))) {
        rc = cseg__diag(diag, CSEG_ENOMEM, NULL, 0, 0, "out of memory for PCA (d = %zu)", d);
        goto out;
    }
    m->n_threads = p->n_threads;
    memcpy(m->mean, mean, d * sizeof *mean);
    for (size_t c = 0; c < nc; c++) {
        double wc = c < n && w[c] > 0 ? w[c] : 0, *v = m->comp + c * d;
        if (!(wc > 1e-12 * (w[0] > 0 ? w[0] : 0)) || wc == 0) {
            memset(v, 0, d * sizeof *v);
            m->var[c] = m->ratio[c] = 0;
            continue;
        }
        double f = 1 / sqrt((double)(n - 1) * wc);
        for (size_t j = 0; j < d; j++) {
            double s = 0;
            for (size_t i = 0; i < n; i++)
                s += Xc[i * d + j] * U[i * n + c];
            v[j] = s * f;
        }
        size_t big = 0;
        for (size_t j = 1; j < d; j++)
            if (fabs(v[j]) > fabs(v[big]))
                big = j;
        if (v[big] < 0)
            for (size_t j = 0; j < d; j++)
                v[j] = -v[j];
        m->var[c] = wc;
        m->ratio[c] = total > 0 ? wc / total : 0;
    }
    pca_transpose(m);
    *out = m;
    m = NULL;
out:
    cseg_pca_free(m);
    free(mean);
    free(Xc);
    free(G);
    free(w);
    free(U);
    return rc;
}

/* cseg_pca_fit_params; sc: of the rows of every piece (n_all of them, this
 * piece's X first at a multiple of CSEG_PCA_BLOCK), the same on every piece
 * and the bits of one process fitting them all (n_all >= d). */
static int fit(cseg_pca **out, const double *X, size_t n, size_t d, const cseg_pca_params *p,
               const cseg__split_comm *sc, size_t n_all, cseg_diag *diag)
{
    cseg_pca_params defaults;
    const char *bad;
    *out = NULL;
    if (!p) {
        cseg_pca_params_init(&defaults);
        p = &defaults;
    }
    if ((bad = cseg_pca_params_check(p)))
        return cseg__diag(diag, CSEG_EINVAL, NULL, 0, 0, "%s", bad);
    if (d == 0)
        return cseg__diag(diag, CSEG_EINVAL, NULL, 0, 0, "no features for PCA");
    size_t n_rows = sc ? n_all : n;
    if (n_rows < 2)
        return cseg__diag(diag, CSEG_EINVAL, NULL, 0, 0, "PCA needs at least 2 samples, got %zu",
                          n_rows);
    if (p->n_components > d)
        return cseg__diag(diag, CSEG_EINVAL, NULL, 0, 0,
                          "%zu components asked for, but there are only %zu features",
                          p->n_components, d);
    if (!X && (n > 0 || !sc))
        return cseg__diag(diag, CSEG_EINVAL, NULL, 0, 0, "no data");
    size_t nd;
    if (cseg__mul(n, d, &nd))
        return cseg__diag(diag, CSEG_ETOOBIG, NULL, 0, 0, "%zu x %zu values overflow", n, d);
    if (n_rows < d && sc)
        return cseg__diag(diag, CSEG_EINVAL, NULL, 0, 0,
                          "PCA over pieces needs at least as many rows (%zu) as features (%zu)",
                          n_rows, d);
    if (!sc && n < d)
        return fit_gram(out, X, n, d, p, diag);
    if (d > CSEG_PCA_MAX_D) {
        /* cov, eigenvectors, one block partial and dsyevd's 2 d^2 workspace */
        double need = 5.0 * (double)d * (double)d * sizeof(double);
        return cseg__diag(diag, CSEG_ETOOBIG, NULL, 0, 0,
                          "PCA on %zu features would need %.1f GB for d x d matrices; at most "
                          "%d features are supported",
                          d, need / 1e9, CSEG_PCA_MAX_D);
    }
    int nt = cseg__threads(p->n_threads), rc;
    double *mean = malloc(d * sizeof *mean), *cov = malloc(d * d * sizeof *cov);
    double *w = malloc(d * sizeof *w), *V = malloc(d * d * sizeof *V);
    cseg_pca *m = NULL;
    if ((rc = all_allocated(sc, !mean || !cov || !w || !V ? -1 : 0, d, diag)) < 0)
        goto out;
    if ((rc = covariance(X, n, d, nt, sc, n_all, mean, cov, diag)) < 0)
        goto out;
    if ((rc = cseg__sym_eig(d, cov, w, V)) < 0) {
        rc = cseg__diag(diag, rc, NULL, 0, 0, "the eigen-decomposition did not converge");
        goto out;
    }
    double total = 0;
    size_t nc = 0;
    if ((rc = pick_components(w, d, d, p, &nc, &total, diag)) < 0)
        goto out;
    m = pca_alloc(d, nc);
    if ((rc = all_allocated(sc, m ? 0 : -1, d, diag)) < 0)
        goto out;
    m->n_threads = p->n_threads;
    memcpy(m->mean, mean, d * sizeof *mean);
    for (size_t c = 0; c < nc; c++) {
        size_t big = 0;
        for (size_t a = 1; a < d; a++)
            if (fabs(V[a * d + c]) > fabs(V[big * d + c]))
                big = a;
        double sign = V[big * d + c] < 0 ? -1 : 1;
        for (size_t a = 0; a < d; a++)
            m->comp[c * d + a] = sign * V[a * d + c];
        m->var[c] = w[c] > 0 ? w[c] : 0;
        m->ratio[c] = total > 0 ? m->var[c] / total : 0;
    }
    pca_transpose(m);
    *out = m;
    m = NULL;
    rc = 0;
out:
    cseg_pca_free(m);
    free(mean);
    free(cov);
    free(w);
    free(V);
    return rc;
}

int cseg_pca_fit_params(cseg_pca **out, const double *X, size_t n, size_t d,
                        const cseg_pca_params *p, cseg_diag *diag)
{
    return fit(out, X, n, d, p, NULL, n, diag);
}

int cseg__pca_fit_split(cseg_pca **out, const double *X, size_t n, size_t d,
                        const cseg_pca_params *p, const cseg__split_comm *sc, size_t n_all,
                        cseg_diag *diag)
{
    return fit(out, X, n, d, p, sc, n_all, diag);
}

int cseg_pca_fit(cseg_pca **out, const double *X, size_t n, size_t d, size_t n_components)
{
    cseg_pca_params p;
    cseg_pca_params_init(&p);
    if (n_components == 0) {
        *out = NULL;
        return CSEG_EINVAL;
    }
    p.n_components = n_components;
    return cseg_pca_fit_params(out, X, n, d, &p, NULL);
}

int cseg_pca_fit_variance(cseg_pca **out, const double *X, size_t n, size_t d, double share)
{
    cseg_pca_params p;
    cseg_pca_params_init(&p);
    p.variance_share = share;
    return cseg_pca_fit_params(out, X, n, d, &p, NULL);
}

int cseg_pca_set(cseg_pca **out, size_t d, size_t n_components, const double *mean,
                 const double *components, const double *explained_variance,
                 const double *explained_variance_ratio)
{
    size_t kd;
    *out = NULL;
    if (d == 0 || n_components == 0 || n_components > d || !mean || !components ||
        !explained_variance || !explained_variance_ratio)
        return CSEG_EINVAL;
    if (cseg__mul(n_components, d, &kd) || d > CSEG_PCA_MAX_D)
        return CSEG_ETOOBIG;
    for (size_t j = 0; j < d; j++)
        if (!isfinite(mean[j]))
            return CSEG_EINVAL;
    for (size_t i = 0; i < kd; i++)
        if (!isfinite(components[i]))
            return CSEG_EINVAL;
    for (size_t c = 0; c < n_components; c++)
        if (!(explained_variance[c] >= 0 && isfinite(explained_variance[c])) ||
            !(explained_variance_ratio[c] >= 0 && explained_variance_ratio[c] <= 1))
            return CSEG_EINVAL;
    cseg_pca *p = pca_alloc(d, n_components);
    if (!p)
        return CSEG_ENOMEM;
    memcpy(p->mean, mean, d * sizeof *mean);
    memcpy(p->comp, components, kd * sizeof *components);
    memcpy(p->var, explained_variance, n_components * sizeof *explained_variance);
    memcpy(p->ratio, explained_variance_ratio, n_components * sizeof *explained_variance_ratio);
    pca_transpose(p);
    *out = p;
    return 0;
}

/* Y rows i0..i1 (k columns) from X rows; z is scratch for 4 centred rows. */
CSEG_HOT static void project_rows(const cseg_pca *p, const double *X, size_t i0, size_t i1,
                                  double *Y, double *z)
{
    size_t d = p->d, k = p->nc, kp = p->ncp;
    const double *mean = p->mean, *Ct = p->compt;
    for (size_t i = i0; i < i1; i += 4) {
        size_t m = i1 - i < 4 ? i1 - i : 4;
        for (size_t r = 0; r < 4; r++)
            for (size_t a = 0; a < d; a++)
                z[r * d + a] = r < m ? X[(i + r) * d + a] - mean[a] : 0;
        for (size_t c0 = 0; c0 < k; c0 += 8) {
            v8d s0 = CSEG_V8Z, s1 = s0, s2 = s0, s3 = s0;
            for (size_t a = 0; a < d; a++) {
                v8d ct;
                memcpy(&ct, Ct + a * kp + c0, sizeof ct);
                s0 += z[a] * ct;
                s1 += z[d + a] * ct;
                s2 += z[2 * d + a] * ct;
                s3 += z[3 * d + a] * ct;
            }
            const v8d *acc[4] = {&s0, &s1, &s2, &s3};
            size_t nc8 = k - c0 < 8 ? k - c0 : 8;
            for (size_t r = 0; r < m; r++)
                for (size_t c = 0; c < nc8; c++)
                    Y[(i + r) * k + c0 + c] = (*acc[r])[c];
        }
    }
}

int cseg_pca_transform(const cseg_pca *p, const double *X, size_t n, double *Y)
{
    if (!p || (n && (!X || !Y)))
        return CSEG_EINVAL;
    size_t nch = (n + CSEG_PCA_TRANSFORM_CHUNK - 1) / CSEG_PCA_TRANSFORM_CHUNK;
    int nt = cseg__threads(p->n_threads);
    (void)nt; /* unused without OpenMP */
    int rc = 0;
#pragma omp parallel num_threads(nt) default(none) shared(p, X, n, Y, nch, rc)               \
    if (n >= CSEG_PCA_PAR_MIN)
    {
        double *z = malloc(4 * p->d * sizeof *z);
        if (!z) {
#pragma omp atomic write
            rc = CSEG_ENOMEM;
        }
#pragma omp for schedule(static)
        for (size_t ch = 0; ch < nch; ch++) {
            size_t i1 = (ch + 1) * CSEG_PCA_TRANSFORM_CHUNK;
            if (z)
                project_rows(p, X, ch * CSEG_PCA_TRANSFORM_CHUNK, i1 < n ? i1 : n, Y, z);
        }
        free(z);
    }
    return rc;
}

size_t cseg_pca_n_components(const cseg_pca *p)
{
    return p->nc;
}

size_t cseg_pca_dim(const cseg_pca *p)
{
    return p->d;
}

const double *cseg_pca_mean(const cseg_pca *p)
{
    return p->mean;
}

const double *cseg_pca_explained_variance(const cseg_pca *p)
{
    return p->var;
}

const double *cseg_pca_explained_variance_ratio(const cseg_pca *p)
{
    return p->ratio;
}

const double *cseg_pca_components(const cseg_pca *p)
{
    return p->comp;
}
