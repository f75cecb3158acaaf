/* custseg — principal component analysis.
 *
 * Centred PCA by the eigen-decomposition of the covariance matrix (LAPACK
 * dsyevd): components in order of explained variance, each with a
 * deterministic sign (its largest-magnitude entry is positive). Used to draw
 * segments in two dimensions; O(n d^2 + d^3).
 */
#ifndef CUSTSEG_PCA_H
#define CUSTSEG_PCA_H

#include <stddef.h>
#include "custseg/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cseg_pca cseg_pca;

/* Fit n_components (1..d) components on X (n x d, n >= 2). Errors:
 * CSEG_EINVAL (bad sizes, NaN), CSEG_ENOMEM, CSEG_ERANGE (LAPACK failed). */
CSEG_API int cseg_pca_fit(cseg_pca **out, const double *X, size_t n, size_t d,
                          size_t n_components);
CSEG_API void cseg_pca_free(cseg_pca *p);
/* Project X (n x d) onto the components: Y is n x n_components. */
CSEG_API int cseg_pca_transform(const cseg_pca *p, const double *X, size_t n, double *Y);
CSEG_API size_t cseg_pca_n_components(const cseg_pca *p);
/* Explained variance (ddof 1, as scikit-learn) and its ratio, per component. */
CSEG_API const double *cseg_pca_explained_variance(const cseg_pca *p);
CSEG_API const double *cseg_pca_explained_variance_ratio(const cseg_pca *p);
/* Components, n_components x d, row-major (borrowed). */
CSEG_API const double *cseg_pca_components(const cseg_pca *p);

#ifdef __cplusplus
}
#endif
#endif
