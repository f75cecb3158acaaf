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
/* Davies-Bouldin index (lower is better). O(n d + k^2 d) time, O(k d) memory. */
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
 * computation is O(n^2 d) time: samples are sorted by cluster and each pair
 * of 8-sample tiles is computed once (row sums to one tile, column sums to
 * the other), never as an n x n matrix. Memory: about (1 + c) x n x k
 * doubles for c <= 16 fixed row chunks of per-cluster sums (c shrinks to
 * keep the chunk buffers within 128 MB). The chunks depend on n and k only,
 * so the result is the same for any thread count. With many small clusters
 * (when those sums would pass 256 MB: they grow with k^2, since every
 * cluster starts a tile) each sample's distances are summed row by row
 * instead: the same time, O(k) memory a thread. */
CSEG_API int cseg_metrics_silhouette(const double *X, size_t n, size_t d, const int32_t *labels,
                                     const cseg_silhouette_params *p, double *score,
                                     double *per_sample);

/* External indices: agreement between two labellings a and b of the same n
 * samples (e.g. segments against known classes, or two runs). Label values
 * are arbitrary int32 numbers, negative ones included: unlike the internal
 * indices above, -1 is just another label, as in scikit-learn. Both
 * functions agree with scikit-learn 1.2 to 1e-12 relative
 * (tests/reference/make_suite_fixtures.py). They build the contingency table
 * of the two labellings, as a dense table when it has at most 4 n + 4096
 * cells, else by radix-sorting the pairs: O(n) time and memory.
 * Thread-safe (no shared state). Errors: CSEG_EINVAL when a or b is NULL with
 * n > 0, CSEG_ETOOBIG for n >= 2^31, CSEG_ENOMEM. */

/* Adjusted Rand index (Hubert & Arabie 1985) in [-0.5, 1]: 1 for the same
 * partition up to renaming, about 0 for independent labellings. Computed from
 * pair counts in exact 128-bit integer arithmetic, rounded once at the end.
 * Special cases, as scikit-learn: when no pair is split by one labelling and
 * joined by the other (identical partitions, both a single cluster, both all
 * singletons, n = 0 or n = 1) the index is 1.0. Symmetric in a and b. */
CSEG_API int cseg_metrics_adjusted_rand(const int32_t *a, const int32_t *b, size_t n,
                                        double *out);

/* Normalized mutual information with arithmetic normalisation,
 * MI(a, b) / ((H(a) + H(b)) / 2), natural logarithms, in [0, 1]: scikit-learn's
 * default normalized_mutual_info_score. Special cases, as scikit-learn: both
 * labellings a single cluster, or n = 0 -> 1.0; exactly one of them a single
 * cluster -> 0.0 (MI is 0); MI terms below machine epsilon count as 0 and MI
 * is clipped at 0. Symmetric in a and b. */
CSEG_API int cseg_metrics_nmi(const int32_t *a, const int32_t *b, size_t n, double *out);

/* ---- a classifier against the truth (classes 0..k-1) ----
 * As scikit-learn 1.2's accuracy_score, confusion_matrix and
 * precision_recall_fscore_support: precision of a class never predicted and
 * recall of a class never true are 0 (scikit-learn's zero_division
 * default, which also warns), F1 is 0 where precision and recall are; the
 * macro means run over the classes that occur in truth or in pred (as
 * scikit-learn's labels = unique_labels(truth, pred)), the weighted F1 weighs
 * each class by its support. */
typedef struct cseg_class_scores {
    double accuracy;
    double macro_precision, macro_recall, macro_f1, weighted_f1;
} cseg_class_scores;

/* truth and pred: n labels in 0..k-1 (CSEG_EINVAL otherwise). Caller-
 * allocated outputs, each optional (NULL): confusion k x k (row: the true
 * class, column: the predicted one), precision, recall, f1 and support (k
 * each). */
CSEG_API int cseg_metrics_classification(const int32_t *truth, const int32_t *pred, size_t n,
                                         size_t k, cseg_class_scores *out, size_t *confusion,
                                         double *precision, double *recall, double *f1,
                                         size_t *support);

#ifdef __cplusplus
}
#endif
#endif
