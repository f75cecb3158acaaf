/* custseg — k-means clustering.
 *
 * Greedy k-means++ seeding (as scikit-learn: 2 + floor(ln k) candidates per
 * step, the one that lowers the potential most is kept), then Lloyd
 * iterations. Hamerly's bounds are available as an exact acceleration: they
 * skip only distance computations that cannot change an assignment and the
 * centres are recomputed from scratch in the same order, so they give the same
 * labels, centres and inertia as plain Lloyd from the same seeding, bit for
 * bit. Plain Lloyd is the default because its vectorised pass (eight samples
 * per vector, no branches) measured faster than Hamerly's per-sample
 * bookkeeping on customer-feature data here (d = 8, k = 8..256; see
 * bench/README.md); Hamerly pays off when distances are costly (large d). n_init restarts keep the lowest inertia. Work is split into fixed
 * blocks of samples whose partial sums are combined in block order: the result
 * is the same for any thread count. Sums over the samples are taken per span
 * of CSEG_KMEANS_SPAN samples, the spans' sums added in span order: a fit
 * split between processes that each hold whole spans (cseg_mpi_kmeans_fit,
 * custseg/mpi.h) gives the same bits as one process.
 *
 * Convergence (as scikit-learn): stop when no label changes, or when the sum
 * of squared centre shifts is <= tol x mean per-feature variance of X, or
 * after max_iter iterations; then labels are recomputed once against the
 * final centres. An empty cluster takes the sample farthest from its centre.
 */
#ifndef CUSTSEG_KMEANS_H
#define CUSTSEG_KMEANS_H

#include <stddef.h>
#include <stdint.h>
#include "custseg/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Samples per span (see above); up to this many, every sum is the plain
 * loop over the samples in order. */
#define CSEG_KMEANS_SPAN 65536

typedef enum cseg_kmeans_algo {
    CSEG_KMEANS_HAMERLY = 0, /* exact bounds; skips most distance work after a few iterations */
    CSEG_KMEANS_LLOYD        /* default: every distance, eight samples per vector */
} cseg_kmeans_algo;

typedef struct cseg_kmeans_params {
    size_t k;                   /* clusters; default 8 */
    size_t n_init;              /* restarts; default 10 */
    size_t max_iter;            /* per restart; default 300 */
    double tol;                 /* relative tolerance; default 1e-4 */
    uint64_t seed;              /* default 0 */
    cseg_kmeans_algo algorithm; /* default CSEG_KMEANS_LLOYD (see below) */
    int n_threads;              /* 0 (default): all cores (OpenMP); ignored without OpenMP */
    const double *init;         /* k x d starting centres instead of k-means++ (borrowed for
                                   the fit; then one run, n_init ignored); default NULL */
} cseg_kmeans_params;

typedef struct cseg_kmeans cseg_kmeans;

CSEG_API void cseg_kmeans_params_init(cseg_kmeans_params *p);
CSEG_API const char *cseg_kmeans_params_check(const cseg_kmeans_params *p);

CSEG_API int cseg_kmeans_create(cseg_kmeans **out, const cseg_kmeans_params *p);
CSEG_API void cseg_kmeans_free(cseg_kmeans *km);

/* Fit on X (n x d, row-major), with optional positive sample weights.
 * Errors: CSEG_EINVAL (n < k, d == 0, a NaN/Inf value or a bad weight, diag
 * names the row), CSEG_ENOMEM. Time O(n_init x iterations x n x k x d) at
 * worst, far less once Hamerly's bounds settle; memory O(n + k x d). */
CSEG_API int cseg_kmeans_fit(cseg_kmeans *km, const double *X, size_t n, size_t d,
                             const double *weights, cseg_diag *diag);

/* Nearest centre of each row of X (n x d); dist2 (optional) receives the
 * squared distance. Read-only on km: threads may share a fitted model. */
CSEG_API int cseg_kmeans_predict(const cseg_kmeans *km, const double *X, size_t n,
                                 int32_t *labels, double *dist2);

/* Install centres (k x d), e.g. from a saved model; the model is then fitted. */
CSEG_API int cseg_kmeans_set_centroids(cseg_kmeans *km, const double *C, size_t k, size_t d);

CSEG_API int cseg_kmeans_is_fitted(const cseg_kmeans *km);
CSEG_API size_t cseg_kmeans_k(const cseg_kmeans *km);
CSEG_API size_t cseg_kmeans_dim(const cseg_kmeans *km);
/* k x d centres (borrowed, valid until the next fit or set). */
CSEG_API const double *cseg_kmeans_centroids(const cseg_kmeans *km);
/* Training labels (n), or NULL when centres were set rather than fitted. */
CSEG_API const int32_t *cseg_kmeans_labels(const cseg_kmeans *km);
/* Weighted sum of squared distances to the assigned centres (training data). */
CSEG_API double cseg_kmeans_inertia(const cseg_kmeans *km);
/* Iterations of the best restart, and whether it converged before max_iter. */
CSEG_API size_t cseg_kmeans_n_iter(const cseg_kmeans *km);
CSEG_API int cseg_kmeans_converged(const cseg_kmeans *km);
/* Distance computations skipped by the bounds, over all restarts (0 for Lloyd). */
CSEG_API double cseg_kmeans_skipped_fraction(const cseg_kmeans *km);
CSEG_API const cseg_kmeans_params *cseg_kmeans_get_params(const cseg_kmeans *km);

#ifdef __cplusplus
}
#endif
#endif
