/* custseg — random forests of CART trees (tree.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "custseg/tree.h"
#include "internal.h"
#include "../core/internal.h"

struct cseg_forest {
    size_t k, d, n_trees;
    cseg_tree **trees;
};

void cseg_forest_params_init(cseg_forest_params *p)
{
    memset(p, 0, sizeof *p);
    p->n_estimators = 100;
    cseg_tree_params_init(&p->tree);
    p->bootstrap = 1;
}

/* Tree i's seed: seed and i mixed, so that no tree depends on another. */
static uint64_t tree_seed(uint64_t seed, size_t i)
{
    uint64_t s = seed ^ (0x9e3779b97f4a7c15ULL * ((uint64_t)i + 1));
    return cseg__splitmix64(&s);
}

/* Tree i of the forest on the shared prepared data: its bootstrap counts
 * times the weights, its own feature draws. */
static int fit_one(cseg_forest *f, size_t i, const float *Xf, size_t n, const int32_t *y,
                   const double *w, const cseg_forest_params *p, size_t max_features)
{
    cseg_tree_params tp = p->tree;
    tp.max_features = max_features;
    uint64_t s = tree_seed(p->seed, i);
    cseg_rng rng;
    cseg__rng_seed(&rng, s);
    tp.seed = cseg__rng_next(&rng);
    double *wi = malloc(n * sizeof *wi);
    if (!wi)
        return CSEG_ENOMEM;
    if (p->bootstrap) {
        memset(wi, 0, n * sizeof *wi);
        for (size_t j = 0; j < n; j++)
            wi[cseg__rng_below(&rng, n)] += 1;
        for (size_t j = 0; j < n; j++)
            wi[j] *= w[j];
    } else {
        memcpy(wi, w, n * sizeof *wi);
    }
    int rc = cseg__tree_fit_f32(&f->trees[i], Xf, n, f->d, y, f->k, wi, &tp);
    free(wi);
    return rc;
}

int cseg_forest_fit(cseg_forest **out, const double *X, size_t n, size_t d, const int32_t *y,
                    size_t k, const double *class_weight, const double *sample_weight,
                    const cseg_forest_params *p, cseg_diag *diag)
{
    *out = NULL;
    const char *bad = cseg_tree_params_check(&p->tree);
    if (bad)
        return cseg__diag(diag, CSEG_EINVAL, NULL, 0, 0, "%s", bad);
    if (p->n_estimators == 0)
        return cseg__diag(diag, CSEG_EINVAL, NULL, 0, 0, "a forest needs at least one tree");
    if (n == 0 || d == 0 || k == 0)
        return cseg__diag(diag, CSEG_EINVAL, NULL, 0, 0, "a forest needs rows, features and classes");
    if (n > UINT32_MAX)
        return cseg__diag(diag, CSEG_ETOOBIG, NULL, 0, 0, "a forest takes at most 2^32 - 1 rows");
    size_t nd;
    if (cseg__mul(n, d, &nd))
        return cseg__diag(diag, CSEG_ENOMEM, NULL, 0, 0, "out of memory");
    float *Xf = malloc(nd * sizeof *Xf);
    double *w = malloc(n * sizeof *w);
    cseg_forest *f = calloc(1, sizeof *f);
    if (f)
        f->trees = calloc(p->n_estimators, sizeof *f->trees);
    int rc = Xf && w && f && f->trees ? 0 : cseg__diag(diag, CSEG_ENOMEM, NULL, 0, 0, "out of memory");
    if (rc == 0)
        rc = cseg__tree_prepare(X, n, d, y, k, class_weight, sample_weight, Xf, w, diag);
    if (rc == 0) {
        f->k = k;
        f->d = d;
        f->n_trees = p->n_estimators;
        size_t mf = p->tree.max_features ? p->tree.max_features : (size_t)floor(sqrt((double)d));
        mf = mf < 1 ? 1 : mf > d ? d : mf;
        int nt = cseg__threads(p->n_threads), failed = 0;
        (void)nt; /* unused without OpenMP */
        long nest = (long)p->n_estimators;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1) default(none)                     \
    shared(f, Xf, n, y, w, p, mf, nest) reduction(| : failed)
        for (long i = 0; i < nest; i++)
            failed |= fit_one(f, (size_t)i, Xf, n, y, w, p, mf) < 0;
        if (failed)
            rc = cseg__diag(diag, CSEG_ENOMEM, NULL, 0, 0, "out of memory");
    }
    free(Xf);
    free(w);
    if (rc < 0) {
        cseg_forest_free(f);
        return rc;
    }
    *out = f;
    return 0;
}

void cseg_forest_free(cseg_forest *f)
{
    if (!f)
        return;
    for (size_t i = 0; f->trees && i < f->n_trees; i++)
        cseg_tree_free(f->trees[i]);
    free(f->trees);
    free(f);
}

/* Rows go in blocks, each block through one tree after another, so that a
 * tree is read once for all of the block's rows (cseg__tree_accumulate).
 * The larger the block, the deeper rows stay together before they thin
 * out below SPLIT_MIN a node and walk alone: 10 trees of 1,000,000 x 8
 * rows predicted in 0.19 s with blocks of 131,072 rows, 0.21 s with 65,536,
 * 0.33 s with 16,384 (medians of 3, 2 threads); the block's features and
 * sums are 12 MB at 8 features and 8 classes. */
#define PREDICT_BLOCK 131072

int cseg_forest_predict(const cseg_forest *f, const double *X, size_t n, int32_t *labels,
                        double *proba)
{
    if (!f || f->n_trees == 0)
        return CSEG_ENOTFIT;
    size_t k = f->k;
    long nbl = (long)((n + PREDICT_BLOCK - 1) / PREDICT_BLOCK);
    int nt = cseg__threads(0), failed = 0;
    (void)nt;
#pragma omp parallel num_threads(nt) default(none) shared(f, X, n, k, labels, proba, nbl)       \
    reduction(| : failed) if (n >= 4096)
    {
        double *acc = malloc(PREDICT_BLOCK * k * sizeof *acc);
        float *xf = malloc(PREDICT_BLOCK * f->d * sizeof *xf);
        uint32_t *scratch = malloc(6 * PREDICT_BLOCK * sizeof *scratch);
        if (!acc || !xf || !scratch) {
            failed = 1;
            free(acc);
            acc = NULL;
        }
#pragma omp for schedule(dynamic, 1)
        for (long b = 0; b < nbl; b++) {
            if (!acc)
                continue;
            size_t r0 = (size_t)b * PREDICT_BLOCK;
            size_t m = n - r0 < PREDICT_BLOCK ? n - r0 : PREDICT_BLOCK;
            memset(acc, 0, m * k * sizeof *acc);
            for (size_t i = 0; i < m; i++) /* as the trees compare them */
                for (size_t j = 0; j < f->d; j++)
                    xf[j * m + i] = (float)X[(r0 + i) * f->d + j];
            /* The mean of the trees' shares; each row's summed in tree order. */
            for (size_t t = 0; t < f->n_trees && !failed; t++)
                failed = cseg__tree_accumulate(f->trees[t], xf, m, acc, scratch, 1) < 0;
            for (size_t i = 0; i < m; i++) {
                double *a = acc + i * k;
                size_t best = 0;
                for (size_t c = 0; c < k; c++) {
                    a[c] /= (double)f->n_trees;
                    if (a[c] > a[best])
                        best = c;
                }
                if (labels)
                    labels[r0 + i] = (int32_t)best;
                if (proba)
                    memcpy(proba + (r0 + i) * k, a, k * sizeof *a);
            }
        }
        free(acc);
        free(xf);
        free(scratch);
    }
    return failed ? CSEG_ENOMEM : 0;
}

int cseg_forest_create(cseg_forest **out, cseg_tree **trees, size_t n)
{
    *out = NULL;
    int rc = n ? 0 : CSEG_EINVAL;
    for (size_t i = 1; i < n && rc == 0; i++)
        if (cseg_tree_k(trees[i]) != cseg_tree_k(trees[0]) ||
            cseg_tree_dim(trees[i]) != cseg_tree_dim(trees[0]))
            rc = CSEG_EINVAL;
    cseg_forest *f = rc == 0 ? calloc(1, sizeof *f) : NULL;
    if (f)
        f->trees = malloc(n * sizeof *f->trees);
    if (rc == 0 && (!f || !f->trees))
        rc = CSEG_ENOMEM;
    if (rc < 0) {
        if (f)
            free(f->trees);
        free(f);
        for (size_t i = 0; i < n; i++)
            cseg_tree_free(trees[i]);
        return rc;
    }
    memcpy(f->trees, trees, n * sizeof *trees);
    f->n_trees = n;
    f->k = cseg_tree_k(trees[0]);
    f->d = cseg_tree_dim(trees[0]);
    *out = f;
    return 0;
}

size_t cseg_forest_k(const cseg_forest *f)
{
    return f->k;
}

size_t cseg_forest_dim(const cseg_forest *f)
{
    return f->d;
}

size_t cseg_forest_n_trees(const cseg_forest *f)
{
    return f->n_trees;
}

const cseg_tree *cseg_forest_tree(const cseg_forest *f, size_t i)
{
    return i < f->n_trees ? f->trees[i] : NULL;
}
