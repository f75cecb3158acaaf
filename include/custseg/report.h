/* custseg — the segmentation report: one self-contained HTML page.
 *
 * A builder collects what the page shows, then cseg_report_write renders it
 * as a single HTML file with inline CSS, inline SVG charts and a small inline
 * script (table sorting): no external resource, readable offline, in print
 * and on a phone. All text taken from the data is escaped. Charts: segments
 * in 2-D (PCA), the k-selection curves, silhouette per segment, sizes and
 * revenue shares, a profile heatmap and snake plot, and distributions of
 * chosen features per segment, and for the model kinds that have them the
 * top of the merge tree (hierarchical) and the membership certainty
 * (mixtures); each with a title, axis labels, a legend, a
 * colour-blind-safe palette (Okabe-Ito), a text alternative (<title>/<desc>)
 * and values on hover (<title> on every mark). Large inputs are sampled, and
 * the page says so.
 */
#ifndef CUSTSEG_REPORT_H
#define CUSTSEG_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include "custseg/hclust.h"
#include "custseg/model.h"
#include "custseg/profile.h"
#include "custseg/drift.h"
#include "custseg/audit.h"
#include "custseg/table.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Segments of fewer customers are drawn without per-customer points (privacy:
 * docs/privacy.md). */
#define CSEG_REPORT_MIN_POINTS 10

typedef struct cseg_report cseg_report;

typedef enum cseg_report_field {
    CSEG_REPORT_TITLE = 0, /* page title */
    CSEG_REPORT_DATASET,   /* input file or name */
    CSEG_REPORT_PERIOD,    /* date range of the data */
    CSEG_REPORT_AS_OF,     /* analysis day */
    CSEG_REPORT_ALGORITHM, /* e.g. "k-means (k-means++, 10 restarts)" */
    CSEG_REPORT_K_RULE,    /* why this k */
    CSEG_REPORT_N_FIELDS
} cseg_report_field;

CSEG_API int cseg_report_create(cseg_report **out);
CSEG_API void cseg_report_free(cseg_report *r);

/* Header text (copied). */
CSEG_API int cseg_report_set_text(cseg_report *r, cseg_report_field f, const char *value);
/* One line of the data-quality summary, e.g. ("rows without customer id", 135080). */
CSEG_API int cseg_report_add_quality(cseg_report *r, const char *label, double count);
/* A warning shown at the top of the page, before anything else ("Read this
 * first"): a result that may mislead, such as a degenerate segmentation. */
CSEG_API int cseg_report_add_warning(cseg_report *r, const char *text);
/* A bias audit of a column kept out of the clustering (audit.h): its g
 * group names, the k x g counts (segment x group; k the profile's segments)
 * and the test. Shown as a section: the test, and per segment the group
 * shares and representation ratios, a segment failing the four-fifths rule
 * marked. Call after cseg_report_set_profile. Errors: CSEG_EINVAL (no
 * profile, g 0), CSEG_ENOMEM. */
/* Where the customers of a previous run went (cseg_segment_params.previous):
 * its kp segment names and the kp x k counts of customers of both runs
 * (previous segment x this run's), shared of them, and the adjusted Rand
 * index between the runs. Drawn as a migration matrix with each row's
 * shares. Call after cseg_report_set_profile. Errors: CSEG_EINVAL (no
 * profile, kp 0), CSEG_ENOMEM. */
/* A rule of the segment's surrogate tree (explain.h) for its card, with
 * its precision and recall and the tree's fidelity; a card shows the first
 * three. Call after cseg_report_set_profile. CSEG_EINVAL for a segment out
 * of range. */
CSEG_API int cseg_report_add_rule(cseg_report *r, size_t segment, const char *text,
                                  double precision, double recall, double fidelity);
CSEG_API int cseg_report_set_migration(cseg_report *r, size_t kp, const char *const *prev_names,
                                       const size_t *counts, size_t shared, double ari);
CSEG_API int cseg_report_add_audit(cseg_report *r, const char *column, const char *const *groups,
                                   size_t g, const size_t *counts, const cseg_audit_result *res);
/* Lifetime value (run --clv; clv.h): the BG/NBD parameters (r, alpha, a,
 * b, in units of unit_days) for the P(alive) map over frequency 0..
 * max_frequency and recency 0..max_T at age max_T, and per segment (k, in
 * the profile's order) the mean and total CLV, mean P(alive) and the
 * expected purchases over horizon_months. */
CSEG_API int cseg_report_set_clv(cseg_report *r, const double bgnbd[4], double unit_days,
                                 double horizon_months, double max_T, double max_frequency,
                                 const double *clv_mean, const double *clv_total,
                                 const double *p_alive_mean, const double *expected_total,
                                 size_t k);
/* The holdout check of the lifetime-value section (after
 * cseg_report_set_clv): n (at most 8) groups of customers by calibration
 * frequency with their label, customers and mean actual and predicted
 * holdout purchases; the period's ends as shown ("YYYY-MM-DD"). */
CSEG_API int cseg_report_set_clv_holdout(cseg_report *r, const char *calibration_end,
                                         const char *holdout_end, size_t n,
                                         const char *const *labels, const size_t *customers,
                                         const double *actual, const double *predicted);
/* One rule of "What each segment buys together" (assoc.h; group 0 all
 * customers, 1..k the segments), in the order to show them; the section
 * shows the first 5 of each group. */
CSEG_API int cseg_report_add_basket_rule(cseg_report *r, size_t group, const char *antecedent,
                                         const char *consequent, double support,
                                         double confidence, double lift, double lift_population,
                                         double p_value);
/* The k-selection table: n candidates; chosen and elbow are row indices
 * (elbow < 0: none). NaN marks a value that is not defined. */
CSEG_API int cseg_report_set_k_table(cseg_report *r, size_t n, const size_t *k,
                                     const double *inertia, const double *silhouette,
                                     const double *davies_bouldin,
                                     const double *calinski_harabasz, size_t chosen, long elbow);
/* Segments: names, sizes, shares and per-feature means and medians from a
 * profile (copied). With rfm set, cards show R/F/M and a suggested action.
 * Features named in skip (may be NULL) are left out. */
CSEG_API int cseg_report_set_profile(cseg_report *r, const cseg_profile *p, int rfm,
                                     const char *const *skip, size_t n_skip);
/* Points in model space (n x d) with their segments: projected on the first
 * two principal components; at most max_points drawn (a uniform sample,
 * seeded), centroids from all points. */
CSEG_API int cseg_report_set_points(cseg_report *r, const double *X, size_t n, size_t d,
                                    const int32_t *labels, size_t max_points, uint64_t seed);
/* Per-sample silhouette values (NaN = not computed) with their segments. */
CSEG_API int cseg_report_set_silhouette(cseg_report *r, const double *values,
                                        const int32_t *labels, size_t n, size_t max_points,
                                        uint64_t seed);
/* A feature whose distribution per segment is drawn as box plots (5th, 25th,
 * 50th, 75th, 95th percentiles). Up to 4 features. */
CSEG_API int cseg_report_add_distribution(cseg_report *r, const char *feature, const double *x,
                                          const int32_t *labels, size_t n);

/* Mark segment s as the "Outliers" segment of a density clustering (DBSCAN),
 * or none with s = -1 (the default). Its customers are drawn in grey, and the
 * scatter shows no centre for it, since outliers have no common centre. Call
 * after cseg_report_set_profile, which resets it. Errors: CSEG_EINVAL (no
 * profile yet, or s >= the number of segments). */
CSEG_API int cseg_report_set_outliers(cseg_report *r, long s);

/* The merge tree of a hierarchical clustering, drawn as a dendrogram of its
 * top levels: the last p - 1 merges, where p = max_leaves (0: 30) but at
 * least the number of segments and at most n_leaves, as SciPy's
 * dendrogram(truncate_mode="lastp", p). linkage is the (n_leaves - 1) x 4
 * matrix in SciPy's layout (include/custseg/hclust.h; copied as needed, not
 * kept); the tree is cut into as many segments as the profile has, and the
 * cut is drawn between the k-th and (k-1)-th merges from the top.
 * leaf_segment (optional, n_leaves entries, each 0..k-1 or -1 for unknown)
 * gives the segment of every leaf: a branch whose leaves all share one
 * segment is drawn in its colour, the rest in grey; NULL colours nothing.
 * linkage_kind names the height's unit on the axis; approximate says the
 * leaves are micro-clusters rather than customers (the caption says so).
 * Leaf sizes come from the merge sizes; a leaf merged with another leaf into
 * a group of more than 2 has an unknown size, shown as "?". Call after
 * cseg_report_set_profile. Errors: CSEG_EINVAL (no profile, n_leaves < 2,
 * fewer leaves than segments, a malformed linkage row: ids not integral,
 * out of range, used twice or equal, height negative or not finite, size not
 * positive; a leaf segment out of range), CSEG_ENOMEM. O(n_leaves) time and
 * memory. */
CSEG_API int cseg_report_set_dendrogram(cseg_report *r, const double *linkage, size_t n_leaves,
                                        const int32_t *leaf_segment, size_t max_leaves,
                                        cseg_linkage linkage_kind, int approximate);

/* The membership probabilities of a mixture model: proba is n x k row-major
 * (k must be the number of segments of the profile), labels the segment of
 * each customer (rows with a label outside 0..k-1 are left out). Drawn per
 * segment: the shares of customers whose highest probability is below 0.7,
 * 0.7 to 0.9, 0.9 to 0.99, and 0.99 or more, and the share of borderline
 * customers (highest probability below 0.9). Only the counts are kept.
 * Errors: CSEG_EINVAL (no profile, k differs, a probability not finite or
 * outside [0, 1] by more than 1e-9). O(n k). */
CSEG_API int cseg_report_set_membership(cseg_report *r, const double *proba, size_t n, size_t k,
                                        const int32_t *labels);

/* Everything the page of a finished segmentation is composed from: the
 * outputs of cseg_segment_* (or the files they were written to). */
typedef struct cseg_report_input {
    const char *segments_json;   /* segments.json text */
    const cseg_model *model;     /* the fitted pipeline */
    const cseg_table *customers; /* one row per customer: features, p_segment_* (mixtures) */
    const int32_t *labels;       /* segment of each row, 0..k-1 */
    const char *id_column;       /* left out of the profile; may be NULL */
    const char *revenue_column;  /* the segments' revenue shares; NULL: none */
    const double *linkage;       /* hclust: the merge tree ((n_leaves - 1) x 4), or NULL */
    size_t n_leaves;
    int n_threads;               /* 0: all cores */
    uint64_t seed;               /* the samples of the scatter plot and silhouette */
    cseg_log_fn log;             /* optional: a chart left out, and why */
    void *log_user;
    const cseg_table *rules;     /* rules.csv of custseg rules (--by these customers), or NULL */
    const double *points;        /* the customers in model space (n x cseg_model_dim), as the
                                    model transforms them; NULL: transformed here */
    const cseg_profile *profile; /* the segments' profiles of customers and labels, named as
                                    the model names them; NULL: computed here */
} cseg_report_input;

/* Fill r with the whole page: header and data quality, the algorithm and its
 * k table, segment cards and profile charts, the 2-D map and silhouette (in
 * the model's space), distributions of R, F, M (or the first features), and
 * the dendrogram or membership chart where the model has one. A chart that
 * the data cannot give is left out with a note. Errors: CSEG_EFORMAT
 * (segments.json unreadable), CSEG_ENOMEM, the model's transform errors. */
CSEG_API int cseg_report_compose(cseg_report *r, const cseg_report_input *in, cseg_diag *d);

/* Render to path atomically (temp file + rename). CSEG_EINVAL when no
 * profile was set; CSEG_EIO with diag on a write error. */
CSEG_API int cseg_report_write(const cseg_report *r, const char *path, cseg_diag *d);

/* A page of its own, in the report's style, for a drift measurement
 * (custseg drift --html; drift.h): the verdict, every input column's PSI,
 * KS statistic, means and missing shares with its level, the segment shares
 * of training and new customers side by side (a bar chart), the
 * mean distances and the share of customers no segment fits. model_name and
 * data_name are shown as given; seg_names has k names. Written to a
 * temporary file and renamed. */
CSEG_API int cseg_report_write_drift(const char *path, const char *model_name,
                                     const char *data_name, const cseg_drift_feature *features,
                                     size_t n_features, const char *const *seg_names,
                                     const double *ref_share, const double *new_share, size_t k,
                                     const cseg_drift_result *res, const cseg_drift_params *p,
                                     cseg_diag *d);

/* A page of its own for custseg clv --html: the fitted models (clv.h) with
 * their standard errors, the calibration/holdout check (n_groups groups of
 * customers by calibration frequency: label, customers, mean actual and
 * predicted holdout purchases; n_groups 0: no holdout) and the P(alive) map
 * up to max_frequency and max_T. Written to a temporary file and renamed. */
CSEG_API int cseg_report_write_clv(const char *path, const char *data_name,
                                   const cseg_clv_params *p, double max_T, double max_frequency,
                                   size_t n_groups, const char *const *labels,
                                   const size_t *customers, const double *actual,
                                   const double *predicted, cseg_diag *d);

#ifdef __cplusplus
}
#endif
#endif
