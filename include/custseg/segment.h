/* custseg — the whole segmentation, from a table to named segments.
 *
 * One call runs the pipeline that `custseg run` and `custseg fit` run:
 *
 *   transactions: cleaning -> RFM features (cseg_rfm_compute) -+
 *   customers:    (the table as given) ------------------------+-> preprocessing (impute, log,
 *   scale, one-hot) -> optional PCA -> every candidate k of one algorithm fitted and scored ->
 *   one chosen by the algorithm's rule -> segments ordered by revenue (or size) -> the saved
 *   model's rule applied to every customer (distances, probabilities) -> profiles -> names.
 *
 * and returns one result (cseg_segmentation): labels, distances, membership
 * probabilities, the k table, profiles, the data-quality counts, the fitted
 * cseg_model holding the whole pipeline, and the outputs customers.csv,
 * segments.json and (hierarchical) the dendrogram, written by library calls
 * (docs/library.md, docs/cli.md). `custseg compare` is cseg_compare_run.
 *
 * Rules for choosing k (candidates k_min..k_max, or k):
 *   kmeans, hclust  the elbow of the within-cluster sum of squares (kneedle), else the highest
 *                   silhouette;
 *   gmm             the lowest BIC;
 *   dbscan          one fit (eps given, or the knee of the k-distance curve); Outliers last.
 * Segments are numbered by revenue (the "monetary" column for transaction
 * logs), else by size, largest first.
 *
 * Threads and determinism: the same seed gives the same result for any
 * n_threads. Errors: the CSEG_E* code of the step that failed, with diag
 * saying which step and why; CSEG_EPARAM when a parameter does not fit the
 * data (diag.msg starts with the parameter's name, e.g. `pca: 5 is more
 * components than the 3 model features`); CSEG_ECANCELED when the progress
 * callback asked to stop.
 */
#ifndef CUSTSEG_SEGMENT_H
#define CUSTSEG_SEGMENT_H

#include <stddef.h>
#include <stdint.h>
#include "custseg/features.h"
#include "custseg/model.h"
#include "custseg/profile.h"
#include "custseg/table.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Pipeline stages reported to the progress callback. */
typedef enum cseg_stage {
    CSEG_STAGE_FEATURES = 0, /* cleaning and features (transactions) */
    CSEG_STAGE_PREPARE,      /* preprocessing and PCA */
    CSEG_STAGE_TREE,         /* building the merge tree (hclust) */
    CSEG_STAGE_FIT,          /* one candidate k: done of total */
    CSEG_STAGE_STABILITY,    /* compare: bootstrap resamples of one algorithm */
    CSEG_STAGE_PROFILE,      /* ordering, profiles, names, rules: done of total steps */
    CSEG_STAGE_DONE,         /* the stage's work is over (clear a progress line) */
    CSEG_STAGE_WRITE         /* cseg_segment_write_all (cseg_segment_set_progress): file;
                                customers.csv: rows written, done of total; others 0 of 1 */
} cseg_stage;

typedef struct cseg_progress {
    cseg_stage stage;
    const char *algorithm; /* label: "kmeans", "ward", ..., "dbscan", "gmm" */
    size_t k;              /* CSEG_STAGE_FIT: the candidate k (0: found by the algorithm) */
    size_t done, total;    /* steps done of total within the stage (CSEG_STAGE_PREPARE:
                              fitting the steps, transforming, PCA) */
    size_t n, d;           /* customers, model-space dimension (0 until known) */
    const char *file;      /* CSEG_STAGE_WRITE: the file's name ("customers.csv"); else NULL */
} cseg_progress;

/* Called at the start of each stage and step, on the calling thread. Return
 * nonzero to stop: the call then fails with CSEG_ECANCELED as soon as the
 * running step ends. */
typedef int (*cseg_progress_fn)(const cseg_progress *p, void *user);

/* Silhouette sample size default: exact up to 20,000 customers, else a
 * sample of 20,000. */
#define CSEG_SAMPLE_AUTO ((size_t)-1)
/* k_sample's default: choosing k among 9 candidates x 10 restarts on every
 * one of 10,000,000 customers would take an hour; on 100,000 the choice is
 * as sure. */
#define CSEG_K_SAMPLE_AUTO 100000

typedef struct cseg_segment_params {
    cseg_algo algo;           /* default CSEG_ALGO_KMEANS */
    cseg_linkage linkage;     /* hclust linkage; default CSEG_LINKAGE_WARD */
    size_t k;                 /* segments; 0 (default) = choose among k_min..k_max */
    size_t k_min, k_max;      /* candidates when k = 0; default 2..10 */
    double height;            /* hclust: cut the tree at this height instead (0: unset) */
    int exact;                /* hclust: exact tree even on many customers; default 0 */
    double eps;               /* dbscan radius; 0 (default) = the knee of the k-distance curve */
    size_t min_samples;       /* dbscan; 0 (default) = 2 x model dimension, at least 4 */
    cseg_gmm_cov covariance;  /* gmm; default CSEG_GMM_FULL */
    size_t n_init;            /* restarts; 0 (default) = kmeans 10, gmm 1 */
    size_t max_iter;          /* iterations; 0 (default) = kmeans 300, gmm 100 */
    double tol;               /* k-means relative tolerance; default 1e-4 */
    cseg_kmeans_algo kmeans_algorithm; /* default CSEG_KMEANS_LLOYD */
    double pca;               /* 0 (default): no PCA; >= 1: components; (0, 1): variance share */
    cseg_prep_params prep;    /* preprocessing; cseg_prep_params_init defaults */
    size_t silhouette_sample; /* while choosing k; CSEG_SAMPLE_AUTO (default); 0 = exact */
    size_t max_memory;        /* bytes a step whose memory grows faster than the customers may
                                 take (today: complete and average linkage, whose distance
                                 matrix is n (n - 1) / 2 doubles); the step is refused before it
                                 starts, CSEG_ETOOBIG with the estimate; 0 (default) = 80% of
                                 physical memory */
    size_t k_sample;          /* k-means choosing k (k = 0) on more customers than this: the
                                 candidates fitted and scored on a seeded uniform sample of
                                 this many, then the chosen k fitted on every customer from
                                 the sample's centres; CSEG_SAMPLE_AUTO (default) =
                                 CSEG_K_SAMPLE_AUTO; 0 = every customer */
    const char *const *features; /* columns to cluster on (borrowed); NULL (default): transactions
                                    recency_days, frequency, monetary; customer tables every
                                    column but the id, dates left out */
    size_t n_features;
    const char *const *audit; /* customer tables: columns kept out of the clustering whose
                                 spread over the segments is audited (audit.h; segments.json
                                 "audit", the report); text, or numbers with at most 50
                                 distinct values; NULL (default) */
    size_t n_audit;
    const cseg_table *previous; /* the customers.csv of a previous run or fit (id, segment,
                                   segment_name, and its feature columns), borrowed for the
                                   call: this run's segments are matched to its segments
                                   (docs/resegment.md), take over their order and names, and
                                   segments.json gains "previous" (the migration matrix, the
                                   adjusted Rand index); NULL (default) */
    const char *previous_id_column; /* its id column; NULL (default): this run's */
    const char *const *names; /* segment names in segment order, replacing the automatic ones;
                                 NULL (default) */
    size_t n_names;
    const char *revenue_column; /* customer tables: the money column whose sum per segment is
                                   its revenue share, and that orders the segments; NULL
                                   (default): a number column named monetary, revenue, spend,
                                   sales or total_spend (any case, '_' and ' ' ignored), else
                                   none (shares are then unknown and segments go by size).
                                   Transaction logs: always the net spend, "monetary" */
    const char *input_name;   /* shown as "input" in segments.json and the model; default "" */
    uint64_t seed;            /* default 0 */
    int n_threads;            /* 0 (default): all cores */
    cseg_progress_fn progress; /* optional, with progress_user */
    void *progress_user;
    cseg_log_fn log;          /* optional, with log_user */
    void *log_user;
    /* Every k-means fit of the segmentation (each candidate's, the final one) is made by
     * kmeans_fit(kmeans_fit_user, km, X, n, d, same_rows, diag) instead of
     * cseg_kmeans_fit(km, X, n, d, NULL, diag), which it must equal: a driver that fits on
     * many processes (cseg_mpi_kmeans_fit_root, mpi.h). same_rows: X holds the same n x d
     * values as at the previous call (the candidates of one k table), so rows the driver sent
     * then may serve again. Called on the calling thread, one fit at a time.
     * NULL (default): cseg_kmeans_fit. */
    int (*kmeans_fit)(void *user, cseg_kmeans *km, const double *X, size_t n, size_t d,
                      int same_rows, cseg_diag *diag);
    void *kmeans_fit_user;
} cseg_segment_params;

CSEG_API void cseg_segment_params_init(cseg_segment_params *p);
/* NULL when p is usable, else a message naming the parameter, e.g.
 * "k_min (6) is larger than k_max (3)". Checks what needs no data. */
CSEG_API const char *cseg_segment_params_check(const cseg_segment_params *p);

/* One row of the k table. Indices are NaN where undefined. */
typedef struct cseg_candidate {
    size_t k;          /* segments (dbscan: clusters + Outliers) */
    size_t n_clusters; /* clusters, without Outliers */
    size_t n_noise;    /* dbscan: customers in no cluster */
    double inertia, silhouette, davies_bouldin, calinski_harabasz, bic, aic; /* bic, aic: gmm */
    size_t n_iter;     /* kmeans, gmm */
    int converged;     /* kmeans, gmm */
    int elbow;         /* marked as the elbow of the inertia curve */
} cseg_candidate;

typedef struct cseg_segmentation cseg_segmentation;

/* Segment the customers of a transaction log (as cseg_txn_read returns it;
 * roles resolved). rfm NULL: defaults; date_format may be NULL. The inputs are
 * borrowed for the call. */
CSEG_API int cseg_segment_transactions(cseg_segmentation **out, const cseg_table *txn,
                                       const cseg_txn_roles *roles, const char *date_format,
                                       const cseg_rfm_params *rfm, const cseg_segment_params *p,
                                       cseg_diag *d);
/* Segment the customers that cseg_rfm_compute_csv (or cseg_rfm_compute)
 * computed from a log, q its cleaning counts: the same segmentation as
 * cseg_segment_transactions on that log, without the log's rows in memory.
 * *customers is taken over (set to NULL), also on failure. rfm NULL:
 * defaults; lifetime value (rfm->clv.enabled) needs the rows: CSEG_EINVAL. */
CSEG_API int cseg_segment_rfm(cseg_segmentation **out, cseg_table **customers,
                              const cseg_quality *q, const cseg_txn_roles *roles,
                              const char *date_format, const cseg_rfm_params *rfm,
                              const cseg_segment_params *p, cseg_diag *d);
/* Segment a customer table (one row per customer); id_column may be NULL.
 * The result shares the table's columns instead of copying them: keep the
 * table alive and unchanged until cseg_segment_free. */
CSEG_API int cseg_segment_customers(cseg_segmentation **out, const cseg_table *customers,
                                    const char *id_column, const cseg_segment_params *p,
                                    cseg_diag *d);
CSEG_API void cseg_segment_free(cseg_segmentation *s);

/* Getters: borrowed, valid until cseg_segment_free. */
CSEG_API size_t cseg_segment_n(const cseg_segmentation *s);
/* Every customer segmented: cseg_segment_n, but for a segmentation over
 * MPI ranks (cseg_mpi_segment_customers), whose rows here are one rank's. */
CSEG_API size_t cseg_segment_n_all(const cseg_segmentation *s);
CSEG_API size_t cseg_segment_k(const cseg_segmentation *s);
/* Segment of every customer, 0..k-1 (dbscan: Outliers = k - 1). */
CSEG_API const int32_t *cseg_segment_labels(const cseg_segmentation *s);
/* Distance in model space to the customer's segment centre (dbscan: to the
 * nearest core point). */
CSEG_API const double *cseg_segment_distances(const cseg_segmentation *s);
/* n x k membership probabilities (gmm), else NULL. */
CSEG_API const double *cseg_segment_proba(const cseg_segmentation *s);
/* The customer table with segment (1..k), segment_name, distance and, for
 * mixtures, p_segment_1..k appended: the rows of customers.csv. */
CSEG_API const cseg_table *cseg_segment_table(const cseg_segmentation *s);
CSEG_API const char *cseg_segment_id_column(const cseg_segmentation *s);
CSEG_API const cseg_profile *cseg_segment_profile(const cseg_segmentation *s);
/* Data-quality counts of the cleaning (transactions), else NULL. */
CSEG_API const cseg_quality *cseg_segment_quality(const cseg_segmentation *s);
/* The fitted pipeline, ready for cseg_model_save and cseg_model_assign. */
CSEG_API const cseg_model *cseg_segment_model(const cseg_segmentation *s);
CSEG_API size_t cseg_segment_n_candidates(const cseg_segmentation *s);
CSEG_API const cseg_candidate *cseg_segment_candidates(const cseg_segmentation *s);
CSEG_API size_t cseg_segment_chosen(const cseg_segmentation *s);
/* How k was chosen, e.g. "elbow of the inertia curve (kneedle)". */
CSEG_API const char *cseg_segment_rule(const cseg_segmentation *s);
/* The parameters as run (defaults resolved: n_init, max_iter, eps,
 * min_samples; features filled in). */
CSEG_API const cseg_segment_params *cseg_segment_params_used(const cseg_segmentation *s);
/* dbscan: 1 when eps came from the k-distance curve. */
CSEG_API int cseg_segment_eps_suggested(const cseg_segmentation *s);
/* Training customers that the saved model's rule for new customers puts in
 * another segment than the fit did (0 for gmm and dbscan). */
CSEG_API size_t cseg_segment_n_mismatch(const cseg_segmentation *s);
/* hclust: the merge tree (SciPy linkage layout, (n_leaves - 1) x 4), else
 * NULL; n_leaves and approximate (built on micro-clusters) optional. */
CSEG_API const double *cseg_segment_linkage(const cseg_segmentation *s, size_t *n_leaves,
                                            int *approximate);
/* Warnings about a segmentation that is no real one (each also reaches the log
 * callback as a CSEG_LOG_NOTE, segments.json "warnings" and the top of the
 * report): "dominant" (one segment holds more than 90% of the customers),
 * "outliers_revenue" (DBSCAN's Outliers hold more than 10% of the revenue),
 * "categorical_split" (each segment is one value of a text column). code
 * (optional) receives the code; NULL past the last. */
CSEG_API size_t cseg_segment_n_warnings(const cseg_segmentation *s);
CSEG_API const char *cseg_segment_warning(const cseg_segmentation *s, size_t i, const char **code);
/* segments.json as compact JSON text (docs/cli.md#segmentsjson). */
CSEG_API const char *cseg_segment_json(const cseg_segmentation *s);

/* Outputs, each written atomically (temporary file, then rename). */
CSEG_API int cseg_segment_write_customers(const cseg_segmentation *s, const char *path,
                                          cseg_diag *d);
CSEG_API int cseg_segment_write_json(const cseg_segmentation *s, const char *path, cseg_diag *d);
/* hclust only (CSEG_EINVAL otherwise): dendrogram.csv and dendrogram.json. */
CSEG_API int cseg_segment_write_dendrogram(const cseg_segmentation *s, const char *csv_path,
                                           const char *json_path, cseg_diag *d);
/* report.html (cseg_report_compose on this result); log (optional) hears of
 * a chart left out. */
CSEG_API int cseg_segment_write_report(const cseg_segmentation *s, const char *path,
                                       cseg_log_fn log, void *log_user, cseg_diag *d);
/* The callback cseg_segment_write_all reports to (CSEG_STAGE_WRITE: each
 * file, and customers.csv's rows as they are written; nonzero stops the
 * writing with CSEG_ECANCELED, nothing written); NULL (the default): none. */
CSEG_API void cseg_segment_set_progress(cseg_segmentation *s, cseg_progress_fn fn, void *user);
/* All of them into the folder dir (made with its parents when missing), as
 * one set: written into a temporary folder beside dir and swapped in with one
 * rename, so that after a crash, a kill or a full disk dir holds the previous
 * set or this one, whole, never a mix (a folder holding other files than
 * custseg outputs gets the new files one rename each instead). Writers of the
 * same parent folder take turns (a lock on it, held while writing); temporary
 * folders that killed runs left beside dir are removed. */
CSEG_API int cseg_segment_write_all(const cseg_segmentation *s, const char *dir, cseg_log_fn log,
                                    void *log_user, cseg_diag *d);

/* ---- compare: several algorithms over a range of k on the same customers ----
 *
 * Each candidate (algorithm, k) gets the internal indices of the k table, BIC
 * for mixtures, the size balance of its segments, and a stability score: the
 * mean adjusted Rand index between its labels and the labels that the same
 * algorithm, fitted on a bootstrap resample (n rows drawn with replacement),
 * gives every customer through the saved model's rule for new customers
 * (cseg_model_predict).
 *
 * Recommendation: among the candidates that are stable (stability >= 0.75),
 * balanced (the smallest segment holds at least 2% of customers), not
 * degenerate (see cseg_segment_warning) and, for DBSCAN, leave at most 20% of
 * customers as outliers, the highest silhouette;
 * ties go to fewer segments. When none qualifies, the highest silhouette
 * overall, with a rule text saying which condition failed everywhere.
 * An algorithm that cannot run on the data is skipped with a CSEG_LOG_NOTE. */
typedef struct cseg_compare_params {
    cseg_segment_params segment; /* features, prep, PCA, k range, seed, threads, callbacks ...;
                                    algo and linkage are taken from algorithms */
    const char *const *algorithms; /* labels as cseg_algo_parse reads them; NULL (default):
                                      kmeans, ward, gmm, dbscan */
    size_t n_algorithms;
    size_t bootstrap;  /* resamples for stability; default 10; 0 = skip */
    size_t subsample;  /* compare a uniform sample of this many customers when there are
                          more; default 20000; 0 = all */
} cseg_compare_params;

typedef struct cseg_compare_row {
    char algorithm[16]; /* label */
    cseg_candidate c;
    double balance;       /* normalised entropy of the segment sizes (1 = equal) */
    double min_share;     /* smallest segment / customers */
    double outlier_share; /* dbscan outliers / customers */
    double stability;     /* mean adjusted Rand index; NaN when bootstrap = 0 */
    int degenerate;       /* as cseg_segment_warning tells (never recommended) */
    int qualifies;
} cseg_compare_row;

typedef struct cseg_comparison cseg_comparison;

CSEG_API void cseg_compare_params_init(cseg_compare_params *p);
CSEG_API int cseg_compare_transactions(cseg_comparison **out, const cseg_table *txn,
                                       const cseg_txn_roles *roles, const cseg_rfm_params *rfm,
                                       const cseg_compare_params *p, cseg_diag *d);
CSEG_API int cseg_compare_customers(cseg_comparison **out, const cseg_table *customers,
                                    const char *id_column, const cseg_compare_params *p,
                                    cseg_diag *d);
CSEG_API void cseg_compare_free(cseg_comparison *c);
CSEG_API size_t cseg_compare_n_rows(const cseg_comparison *c);
CSEG_API const cseg_compare_row *cseg_compare_rows(const cseg_comparison *c);
CSEG_API size_t cseg_compare_recommended(const cseg_comparison *c);
CSEG_API const char *cseg_compare_rule(const cseg_comparison *c);
/* Customers in the input, customers compared (fewer with subsample), model
 * dimension. */
CSEG_API size_t cseg_compare_n_customers(const cseg_comparison *c);
CSEG_API size_t cseg_compare_n_compared(const cseg_comparison *c);
CSEG_API size_t cseg_compare_dim(const cseg_comparison *c);
/* The comparison as JSON text (indented, as `custseg compare --format json`);
 * malloc'd, free with free(). NULL when out of memory. */
CSEG_API char *cseg_compare_json(const cseg_comparison *c);

#ifdef __cplusplus
}
#endif
#endif
