/* custseg — internal validity indices of a labelling.
 *
 * All functions take X (n x d, row-major) and labels (n values); labels < 0
 * (noise) are left out, the remaining label values need not be contiguous
 * (they are compacted as scikit-learn's LabelEncoder does). Each agrees with
 * scikit-learn's function of the same name to 1e-9 relative (tests/reference).
 * Errors: CSEG_EINVAL when there are fewer than 2 clusters, or (silhouette)
 * not fewer clusters than samples; CSEG_ENOMEM; CSEG_ETOOBIG.
 */
#ifndef CUSTSEG_METRICS_H
#define CUSTSEG_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include "custseg/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Sum of squared distances of samples to their cluster means. */
CSEG_API int cseg_metrics_inertia(const double *X, size_t n, size_t d, const int32_t *labels,
                                  double *out);
/* Davies-Bouldin index (lower is better). O(n d + k^2 d). */
CSEG_API int cseg_metrics_davies_bouldin(const double *X, size_t n, size_t d,
                                         const int32_t *labels, double *out);
/* Calinski-Harabasz index (higher is better). O(n d). */
CSEG_API int cseg_metrics_calinski_harabasz(const double *X, size_t n, size_t d,
                                            const int32_t *labels, double *out);

typedef struct cseg_silhouette_params {
    size_t sample_size; /* 0 (default): exact over all samples; else a uniform sample of
                           this many samples without replacement (an estimate) */
    uint64_t seed;      /* for the sample; default 0 */
    int n_threads;      /* 0 (default): all cores */
} cseg_silhouette_params;

CSEG_API void cseg_silhouette_params_init(cseg_silhouette_params *p);

/* Mean silhouette coefficient (Euclidean), in [-1, 1]. A sample alone in its
 * cluster scores 0, as in scikit-learn. per_sample (optional, n values, NaN
 * for noise or unsampled rows) receives each sample's coefficient. Exact
 * computation is O(n^2 d) time and O(n + k) memory per thread: samples are
 * sorted by cluster and the distance sums are formed tile by tile, never as an
 * n x n matrix. Same result for any thread count. */
CSEG_API int cseg_metrics_silhouette(const double *X, size_t n, size_t d, const int32_t *labels,
                                     const cseg_silhouette_params *p, double *score,
                                     double *per_sample);

#ifdef __cplusplus
}
#endif
#endif
