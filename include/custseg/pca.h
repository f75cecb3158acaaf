/* custseg — principal component analysis, a pipeline step before clustering.
 *
 * Method. Centred PCA by the eigen-decomposition of the d x d covariance
 * matrix (formed from mean-centred rows, divided by n - 1 as scikit-learn;
 * decomposed by cyclic Jacobi rotations for d <= 128, LAPACK dsyevd above). Components come in order of explained variance,
 * each with a deterministic sign: its largest-magnitude entry is positive.
 * (scikit-learn 1.2 decides the sign from the scores instead, so compare
 * components and projections with it up to the sign of each component.)
 *
 * Variants. The number of components is either fixed (cseg_pca_fit) or the
 * fewest whose cumulative explained-variance ratio exceeds a share of the
 * total (cseg_pca_fit_variance, scikit-learn's PCA(n_components=0.95)).
 * cseg_pca_set rebuilds a fitted model from saved arrays.
 *
 * Why not an SVD of the data: for customer features d is small (tens) and n
 * large, so one pass forming the covariance, O(n d^2), and an O(d^3)
 * decomposition are several times cheaper than an SVD of the n x d matrix and
 * need O(d^2) memory instead of O(n d). The price is accuracy on tiny
 * components: an eigenvalue carries an absolute error of about
 * 1e-16 x the largest one, so a component explaining a 1e-10 share of the
 * variance has few correct digits, where the SVD would keep about half of
 * them. Such components are noise for segmentation and are the ones a share
 * below 1 drops.
 *
 * Determinism. The covariance is summed over fixed blocks of rows, in a fixed
 * order, by this library's own kernel, and for d <= 128 decomposed in plain
 * C: a fit gives the same bits for any n_threads and any
 * OPENBLAS_NUM_THREADS (OpenBLAS 0.3's dsyrk and dsyevd do not: their bits
 * change with its thread count). Above 128 features dsyevd is used and the
 * bits may depend on OPENBLAS_NUM_THREADS, still not on n_threads. A
 * transform is computed row by row, the same for any thread count.
 *
 * Complexity: fit O(n d^2 + d^3) time, O(d^2) memory beyond the model;
 * transform O(n d k) for k components. References: Jolliffe (2002)
 * "Principal Component Analysis"; scikit-learn's PCA for the conventions
 * (ddof 1, ratio over the total variance, the share rule).
 */
#ifndef CUSTSEG_PCA_H
#define CUSTSEG_PCA_H

#include <stddef.h>
#include "custseg/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cseg_pca cseg_pca;

typedef struct cseg_pca_params {
    size_t n_components;   /* 1..d components; 0 (default): chosen by variance_share */
    double variance_share; /* with n_components = 0: keep the fewest components whose
                              cumulative explained-variance ratio is > share (strictly, as
                              scikit-learn), 0 < share <= 1; 1 keeps all d; default 1 */
    int n_threads;         /* 0 (default): all cores (OpenMP); ignored without OpenMP.
                              Also used by cseg_pca_transform on the fitted model. */
} cseg_pca_params;

/* Set the defaults documented above. */
CSEG_API void cseg_pca_params_init(cseg_pca_params *p);
/* NULL when p is valid, else a message naming the bad field. */
CSEG_API const char *cseg_pca_params_check(const cseg_pca_params *p);

/* Fit PCA on X (n x d, row-major, n >= 2), as p says (NULL: defaults), and
 * return the new model in *out (owned by the caller; free with
 * cseg_pca_free; *out is NULL on error). X is borrowed for the call.
 * Errors (diag, optional, says why): CSEG_EINVAL for bad sizes or params, a
 * NaN/Inf value (diag names the row and column, 1-based), values so large
 * their sum overflows, or, when the count is chosen by share, data with no
 * variance at all (every feature constant); CSEG_ETOOBIG when d is beyond
 * LAPACK's 32-bit workspace (d > 16384; diag gives the memory it would need);
 * CSEG_ENOMEM; CSEG_ERANGE when LAPACK fails to converge. With a fixed count,
 * constant data is not an error: variances and ratios are 0, never NaN.
 * Time O(n d^2 + d^3), two passes over X; thread-safe on distinct outputs. */
CSEG_API int cseg_pca_fit_params(cseg_pca **out, const double *X, size_t n, size_t d,
                                 const cseg_pca_params *p, cseg_diag *diag);

/* cseg_pca_fit_params with n_components (1..d) fixed, default threads, no
 * diag. Errors as there. */
CSEG_API int cseg_pca_fit(cseg_pca **out, const double *X, size_t n, size_t d,
                          size_t n_components);

/* cseg_pca_fit_params with the count chosen by share (0 < share <= 1), as
 * scikit-learn's PCA(n_components=share) for share < 1: the fewest components
 * whose cumulative explained-variance ratio exceeds share. Errors as there;
 * CSEG_EINVAL also for all-constant data, whose ratios are undefined. */
CSEG_API int cseg_pca_fit_variance(cseg_pca **out, const double *X, size_t n, size_t d,
                                   double share);

/* Rebuild a fitted model from saved arrays (all borrowed, copied): mean (d),
 * components (n_components x d, row-major), explained_variance and
 * explained_variance_ratio (n_components each). Validates 1 <= n_components
 * <= d, every value finite, variances >= 0 and ratios in [0, 1]; otherwise
 * CSEG_EINVAL. CSEG_ENOMEM, CSEG_ETOOBIG. The result uses all cores in
 * cseg_pca_transform. O(n_components d). */
CSEG_API int cseg_pca_set(cseg_pca **out, size_t d, size_t n_components, const double *mean,
                          const double *components, const double *explained_variance,
                          const double *explained_variance_ratio);

/* Free a model; accepts NULL. */
CSEG_API void cseg_pca_free(cseg_pca *p);

/* Project X (n x d, d = cseg_pca_dim) onto the components: Y (caller-allocated,
 * n x n_components, row-major) gets (x - mean) . component for each. A NaN or
 * Inf in a row of X gives NaN/Inf in that row of Y (callers validate input).
 * Returns 0, CSEG_EINVAL for NULL arguments or CSEG_ENOMEM (4 d doubles of
 * scratch per thread). O(n d k); parallel over rows,
 * the same bits for any thread count; read-only on p, so threads may share a
 * model. */
CSEG_API int cseg_pca_transform(const cseg_pca *p, const double *X, size_t n, double *Y);

/* Number of components kept. */
CSEG_API size_t cseg_pca_n_components(const cseg_pca *p);
/* Input dimension d. */
CSEG_API size_t cseg_pca_dim(const cseg_pca *p);
/* Per-feature mean subtracted before projecting (d values, borrowed). */
CSEG_API const double *cseg_pca_mean(const cseg_pca *p);
/* Explained variance (ddof 1, as scikit-learn) per component (borrowed). */
CSEG_API const double *cseg_pca_explained_variance(const cseg_pca *p);
/* Each component's share of the total variance of all d directions
 * (borrowed); 0 for every component when the data have no variance. */
CSEG_API const double *cseg_pca_explained_variance_ratio(const cseg_pca *p);
/* Components, n_components x d, row-major, orthonormal (borrowed). The
 * borrowed pointers stay valid until cseg_pca_free. */
CSEG_API const double *cseg_pca_components(const cseg_pca *p);

#ifdef __cplusplus
}
#endif
#endif
