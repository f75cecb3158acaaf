/* custseg — DBSCAN density-based clustering.
 *
 * Method (Ester, Kriegel, Sander & Xu 1996). A row is a core point when at
 * least min_samples rows, itself included, lie within distance eps of it
 * (Euclidean, "within" meaning squared distance <= eps * eps, as
 * scikit-learn's kd-tree decides it). Core points within eps of each other
 * are in the same cluster; a non-core row within eps of a core point is a
 * border point of that cluster; every other row is noise (label -1), which
 * custseg reports as the "Outliers" segment.
 *
 * Same answers as scikit-learn. sklearn.cluster.DBSCAN numbers clusters in
 * the order in which their first core point appears among the rows, and
 * labels clusters one after another, so a border point within eps of core
 * points of several clusters gets the lowest of their numbers. custseg
 * implements exactly these rules, so core_sample_indices_ and labels_ are
 * identical, border points included, with algorithm='kd_tree' or
 * 'ball_tree' (which compare exactly computed distances; 'brute' and 'auto'
 * on large inputs use a |x|^2 + |y|^2 - 2 x.y formula whose rounding can move
 * a pair lying at almost exactly eps across the boundary).
 *
 * Computation. A kd-tree (median splits, bounded leaves, tight boxes) over
 * the rows counts neighbours for core detection; a second kd-tree over the
 * core points joins core points within eps in a union-find and finds the
 * cluster of border points. Neighbour lists are never stored, so memory is
 * O(n d) whatever eps is. Results are exact set decisions and do not depend
 * on the number of threads.
 *
 * Complexity. Building the trees O(n log(n) d). Core detection costs one
 * range count per row, stopped at min_samples (boxes wholly inside the ball
 * count whole). Joining core points costs one range search per core point
 * that skips boxes already in the point's cluster, so dense clusters are
 * cheap; border rows cost one search each. About O(n log n) for low d and
 * moderate eps; the worst case (high d, where boxes prune little, and large
 * eps) approaches O(n^2 d) time, still O(n d) memory.
 */
#ifndef CUSTSEG_DBSCAN_H
#define CUSTSEG_DBSCAN_H

#include "custseg/error.h"
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cseg_dbscan_params {
    double eps;         /* neighbourhood radius (Euclidean), > 0; default 0.5 (as scikit-learn) */
    size_t min_samples; /* neighbours, counting the point itself, for a core point; default 5
                           (as scikit-learn) */
    int n_threads;      /* 0 (default): all cores (OpenMP); ignored without OpenMP */
} cseg_dbscan_params;

typedef struct cseg_dbscan cseg_dbscan;

/* Set the defaults: eps 0.5, min_samples 5, n_threads 0. */
CSEG_API void cseg_dbscan_params_init(cseg_dbscan_params *p);
/* NULL when p is usable, otherwise a message naming the bad field
 * (eps must be a finite number > 0, min_samples >= 1, n_threads >= 0). */
CSEG_API const char *cseg_dbscan_params_check(const cseg_dbscan_params *p);

/* Create an unfitted model with a copy of p (NULL: the defaults). *out is
 * owned by the caller, to be released with cseg_dbscan_free. Errors:
 * CSEG_EINVAL (params_check failed), CSEG_ENOMEM. */
CSEG_API int cseg_dbscan_create(cseg_dbscan **out, const cseg_dbscan_params *p);
/* Release a model and everything it owns. Accepts NULL. */
CSEG_API void cseg_dbscan_free(cseg_dbscan *db);

/* Cluster X (n x d, row-major, borrowed for the call). On success the model
 * owns the training labels, core flags and a copy of the core rows, and any
 * previous fit or set_core is replaced; on error the model is unchanged.
 * Errors: CSEG_EINVAL (n == 0, d == 0, or a NaN/Inf value: diag names the
 * 1-based row and feature), CSEG_ETOOBIG (n >= 2^31 or sizes overflow),
 * CSEG_ENOMEM (diag says how much memory the fit needed). Time: see the
 * overview; memory at most about n (24 d + 30) bytes during the fit (all
 * rows core), and the model keeps 5 n + n_core (24 d + 18) bytes at most. Threads: n_threads workers, same result for any number; do not fit
 * one model from two threads at once. */
CSEG_API int cseg_dbscan_fit(cseg_dbscan *db, const double *X, size_t n, size_t d, cseg_diag *diag);

/* Whether fit or set_core has succeeded. */
CSEG_API int cseg_dbscan_is_fitted(const cseg_dbscan *db);
/* Number of clusters (noise not counted); 0 before a fit. */
CSEG_API size_t cseg_dbscan_n_clusters(const cseg_dbscan *db);
/* n training labels: -1 noise, otherwise 0..n_clusters-1 numbered as
 * scikit-learn numbers them (by the first core row of each cluster). Borrowed,
 * valid until the next fit, set_core or free; NULL before a fit or after
 * set_core. */
CSEG_API const int32_t *cseg_dbscan_labels(const cseg_dbscan *db);
/* n flags, 1 for the training rows that are core points (scikit-learn's
 * core_sample_indices_ are the rows with a 1). Borrowed as labels. */
CSEG_API const uint8_t *cseg_dbscan_is_core(const cseg_dbscan *db);
/* Number of training rows (0 after set_core). */
CSEG_API size_t cseg_dbscan_n_samples(const cseg_dbscan *db);
CSEG_API size_t cseg_dbscan_n_core(const cseg_dbscan *db);
CSEG_API size_t cseg_dbscan_dim(const cseg_dbscan *db);
CSEG_API double cseg_dbscan_eps(const cseg_dbscan *db);
CSEG_API size_t cseg_dbscan_min_samples(const cseg_dbscan *db);
/* n_core x d copies of the core rows, in row order (scikit-learn's
 * components_): what a saved model keeps. Borrowed as labels; NULL when there
 * are no core points. */
CSEG_API const double *cseg_dbscan_core_points(const cseg_dbscan *db);
/* The cluster label of each core point, in the same order. */
CSEG_API const int32_t *cseg_dbscan_core_labels(const cseg_dbscan *db);

/* Install core points P (n_core x d, copied) with their cluster labels (each
 * in 0..n_clusters-1, and every cluster with at least one core point), e.g.
 * from a saved model; eps is the one the model was created with. Afterwards
 * predict works and labels/is_core are NULL. n_core may be 0 (with
 * n_clusters 0): every row is then noise. Errors: CSEG_EINVAL (d == 0, a
 * NaN/Inf coordinate, a bad label or an empty cluster), CSEG_ETOOBIG,
 * CSEG_ENOMEM; on error the model is unchanged. O(n_core log n_core d). */
CSEG_API int cseg_dbscan_set_core(cseg_dbscan *db, const double *P, const int32_t *labels,
                                  size_t n_core, size_t d, size_t n_clusters);

/* Assign new rows X (n x d, d the model's): each row joins the cluster of its
 * nearest core point when that is within eps (squared distance <= eps^2; ties
 * go to the core point that comes first), otherwise gets -1. labels (n) is
 * required; dist (optional, n) receives the distance to that core point, or
 * INFINITY for a row that got -1 (the search stops at eps, so the distance to
 * a farther core point is not known). A training core point gets its own
 * cluster at distance 0. A training border point gets the cluster of its
 * nearest core point, which can differ from its training label when it
 * touches two clusters (fit gives it the lowest cluster number, as
 * scikit-learn). A NaN row gets -1 and NaN. Errors: CSEG_ENOTFIT.
 * O(n log n_core d) typically. Read-only on db: threads may share a fitted
 * model; uses the model's n_threads. */
CSEG_API int cseg_dbscan_predict(const cseg_dbscan *db, const double *X, size_t n, int32_t *labels,
                                 double *dist);

/* Suggest eps for X (n x d) and min_samples: the knee of the sorted k-distance
 * curve, where a row's k-distance is the distance to its min_samples-th
 * nearest row counting itself (0 for min_samples = 1, as in the usual
 * k-distance plot). Knee rule (Kneedle without smoothing): with the sorted
 * values y_0 <= ... <= y_{n-1} and both axes scaled to [0, 1]
 * (x_i = i / (n - 1), u_i = (y_i - y_0) / (y_{n-1} - y_0)), the knee is the i
 * maximising x_i - u_i, the point farthest below the chord from the first to
 * the last value (first such i on ties); *eps = y_i. A flat curve gives
 * y_0; a knee at 0 (duplicate rows) gives the smallest positive k-distance.
 * kdist (optional, n) receives the sorted k-distances, for a plot.
 * Errors: CSEG_EINVAL (n < min_samples, n < 2, d == 0, min_samples == 0, a
 * NaN/Inf value), CSEG_ERANGE (every k-distance is 0: no eps can be derived;
 * kdist is still filled), CSEG_ETOOBIG, CSEG_ENOMEM. Time O(n log n d) plus
 * the k-nearest-neighbour searches (about O(n k log n) for low d); memory
 * O(n d). Same result for any n_threads (0 = all cores). Thread-safe. */
CSEG_API int cseg_dbscan_suggest_eps(const double *X, size_t n, size_t d, size_t min_samples,
                                     int n_threads, double *eps, double *kdist);
/* As cseg_dbscan_suggest_eps, on the k-distances of n_queries rows only (0 or
 * >= n: all rows): every (n / n_queries)-th row in the order of a kd-tree
 * over X, a sample stratified over space, each measured against all n rows,
 * so the sorted values are a sample of the full k-distance curve and its
 * knee estimates the full curve's. kdist (optional) receives the n_queries
 * sorted values. Deterministic (no random numbers), the same for any
 * n_threads. Time O(n log(n) d) for the tree plus n_queries searches: on
 * large data (a million rows) this turns minutes into seconds. */
CSEG_API int cseg_dbscan_suggest_eps_sampled(const double *X, size_t n, size_t d,
                                             size_t min_samples, size_t n_queries, int n_threads,
                                             double *eps, double *kdist);

#ifdef __cplusplus
}
#endif
#endif
