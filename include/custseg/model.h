/* custseg — the saved segmentation pipeline (model.json).
 *
 * A model holds every step from raw input to segment: where the data came
 * from (a transaction log with its column roles, date format and RFM settings,
 * or a customer table with its id column), the fitted preprocessing, an
 * optional PCA step, the clustering model, the segment names, and free-form
 * training metadata. A new customer or event therefore goes through exactly
 * the training steps. The file format is versioned JSON
 * (docs/model-format.md); doubles are written with 17 significant digits and
 * read back exactly.
 *
 * How each algorithm assigns a new customer (in model space, i.e. after prep
 * and PCA):
 *   kmeans  the nearest centroid;
 *   hclust  the nearest segment centroid (the mean of the training customers
 *           of each segment after the cut): a dendrogram has no rule of its
 *           own for new points, and this one matches the cut on compact
 *           segments;
 *   dbscan  the segment of the nearest core point when it lies within eps,
 *           else the Outliers segment (always the last one);
 *   gmm     the component with the highest posterior probability.
 */
#ifndef CUSTSEG_MODEL_H
#define CUSTSEG_MODEL_H

#include <stddef.h>
#include <stdint.h>
#include "custseg/dbscan.h"
#include "custseg/features.h"
#include "custseg/gmm.h"
#include "custseg/hclust.h"
#include "custseg/kmeans.h"
#include "custseg/pca.h"
#include "custseg/prep.h"
#include "custseg/tree.h"
#include "custseg/linear.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The version written; files of versions 1 (k-means only, no PCA) and 2 are read. */
#define CSEG_MODEL_FORMAT_VERSION 2

typedef enum cseg_source { CSEG_SOURCE_TRANSACTIONS = 0, CSEG_SOURCE_CUSTOMERS } cseg_source;

typedef enum cseg_algo {
    CSEG_ALGO_KMEANS = 0,
    CSEG_ALGO_HCLUST,
    CSEG_ALGO_DBSCAN,
    CSEG_ALGO_GMM
} cseg_algo;

/* "kmeans", "hclust", "dbscan", "gmm". */
CSEG_API const char *cseg_algo_name(cseg_algo a);
/* The label users know an algorithm by: "kmeans", "ward", "complete",
 * "average", "single", "dbscan", "gmm" (the linkage names hclust). */
CSEG_API const char *cseg_algo_label(cseg_algo algo, cseg_linkage linkage);
/* The inverse, also accepting "hclust" (Ward). Returns 0 or CSEG_EINVAL. */
CSEG_API int cseg_algo_parse(const char *name, cseg_algo *algo, cseg_linkage *linkage);

typedef struct cseg_model cseg_model;

CSEG_API int cseg_model_create(cseg_model **out);
CSEG_API void cseg_model_free(cseg_model *m);

/* Describe the input. Strings are copied; date_format may be NULL. */
CSEG_API int cseg_model_set_transactions(cseg_model *m, const cseg_txn_roles *roles,
                                         const char *date_format, const cseg_rfm_params *rfm);
CSEG_API int cseg_model_set_customers(cseg_model *m, const char *id_column);
/* Hand over a fitted prep and k-means model (the model owns and frees them).
 * Same as cseg_model_set_prep followed by cseg_model_set_kmeans. */
CSEG_API int cseg_model_set_pipeline(cseg_model *m, cseg_prep *prep, cseg_kmeans *km);

/* The steps one by one; each hands over ownership on success (on failure the
 * caller keeps it). Set prep first, then the optional PCA (its input
 * dimension must be the prep's output count), then exactly one clustering
 * model, whose dimension must be the model-space dimension. Setting prep or
 * PCA again drops the clustering model. A model may also hold a clustering
 * model alone, without prep: it then predicts model-space rows
 * (cseg_model_predict) but cannot transform, assign or be saved
 * (CSEG_ENOTFIT). Errors: CSEG_EINVAL (not fitted, dimensions disagree, out
 * of order). */
CSEG_API int cseg_model_set_prep(cseg_model *m, cseg_prep *prep);
CSEG_API int cseg_model_set_pca(cseg_model *m, cseg_pca *pca);
CSEG_API int cseg_model_set_kmeans(cseg_model *m, cseg_kmeans *km);
/* Hierarchical segments: the k x d segment centroids in model space (copied)
 * and the linkage that made them; approximate says the tree was built on
 * micro-clusters. */
CSEG_API int cseg_model_set_hclust(cseg_model *m, cseg_linkage linkage, int approximate,
                                   const double *centroids, size_t k, size_t d);
/* DBSCAN: the model keeps the core points. k segments = clusters + Outliers. */
CSEG_API int cseg_model_set_dbscan(cseg_model *m, cseg_dbscan *db);
CSEG_API int cseg_model_set_gmm(cseg_model *m, cseg_gmm *gmm);
/* Segment names, one per cluster (copied). */
CSEG_API int cseg_model_set_names(cseg_model *m, const char *const *names, size_t k);
/* Training metadata: a JSON object as text (copied; validated). */
CSEG_API int cseg_model_set_meta(cseg_model *m, const char *json_object);

CSEG_API cseg_source cseg_model_source(const cseg_model *m);
CSEG_API const cseg_txn_roles *cseg_model_roles(const cseg_model *m);
CSEG_API const char *cseg_model_date_format(const cseg_model *m);
CSEG_API const cseg_rfm_params *cseg_model_rfm(const cseg_model *m);
CSEG_API const char *cseg_model_id_column(const cseg_model *m);
CSEG_API const cseg_prep *cseg_model_prep(const cseg_model *m);
/* The PCA step, or NULL when there is none. */
CSEG_API const cseg_pca *cseg_model_pca(const cseg_model *m);
CSEG_API cseg_algo cseg_model_algo(const cseg_model *m);
/* The clustering model of each kind, or NULL when the model is of another
 * kind. For hclust, cseg_model_kmeans returns the nearest-centroid assigner
 * holding the segment centroids. */
CSEG_API const cseg_kmeans *cseg_model_kmeans(const cseg_model *m);
CSEG_API const cseg_dbscan *cseg_model_dbscan(const cseg_model *m);
CSEG_API const cseg_gmm *cseg_model_gmm(const cseg_model *m);
CSEG_API cseg_linkage cseg_model_linkage(const cseg_model *m);
CSEG_API int cseg_model_is_approximate(const cseg_model *m);
/* Number of segments (for dbscan: clusters + the Outliers segment). */
CSEG_API size_t cseg_model_k(const cseg_model *m);
/* Index of the Outliers segment (dbscan: k - 1), or -1. */
CSEG_API long cseg_model_outlier_segment(const cseg_model *m);
/* Dimension of model space (after prep and PCA). */
CSEG_API size_t cseg_model_dim(const cseg_model *m);
CSEG_API const char *cseg_model_name(const cseg_model *m, size_t s);
/* Metadata as compact JSON text (borrowed), "{}" when unset. */
CSEG_API const char *cseg_model_meta(const cseg_model *m);

/* Put the rows of a customer table through prep and PCA: Z receives
 * n_rows x cseg_model_dim(m) doubles (caller-allocated). Read-only on m.
 * Errors: CSEG_ENOTFIT, CSEG_ENOCOL, CSEG_EINVAL with diag. */
CSEG_API int cseg_model_transform(const cseg_model *m, const cseg_table *customers, double *Z,
                                  cseg_diag *d);
/* Segments of n model-space rows (as the rule above): labels in 0..k-1;
 * distance (optional) the Euclidean distance in model space to the segment
 * centre (kmeans, hclust, gmm: the centroid or component mean) or to the
 * nearest core point (dbscan, for Outliers too; INFINITY when there is no
 * core point at all); proba (optional, n x k) the membership probabilities:
 * the posteriors for gmm, 0/1 for the other kinds. Read-only on m. */
CSEG_API int cseg_model_predict(const cseg_model *m, const double *Z, size_t n, int32_t *labels,
                                double *distance, double *proba);
/* Euclidean distance in model space from each of n rows of Z to the centre
 * of the segment labels[i] gives it (centroid or component mean), whatever
 * segment the rule above would pick: for labels that come from elsewhere,
 * such as a tree cut. Errors: CSEG_ENOTFIT, CSEG_EINVAL (a dbscan model,
 * which has no segment centres, or a label outside 0..k-1). */
CSEG_API int cseg_model_segment_distance(const cseg_model *m, const double *Z, size_t n,
                                         const int32_t *labels, double *distance);
/* Transform and predict: the rows of a customer table (it must hold the
 * model's feature columns). */
CSEG_API int cseg_model_assign(const cseg_model *m, const cseg_table *customers,
                               int32_t *labels, double *distance, cseg_diag *d);

/* Training customers that the rule above puts in another segment than the
 * one they were given in training (a tree cut, DBSCAN's expansion, k-means
 * stopped at max_iter): n ids, their training segments (0..k-1) and their
 * model-space rows (n x dim, from cseg_model_transform), kept in the model
 * (saved as known_customers, docs/model-format.md). Replaces any earlier set.
 * CSEG_EINVAL for an id given twice or a segment out of range. */
CSEG_API int cseg_model_set_known(cseg_model *m, const char *const *ids, const int32_t *labels,
                                  const double *Z, size_t n);
CSEG_API size_t cseg_model_n_known(const cseg_model *m);

/* A classifier of model-space rows (from cseg_model_transform) into the
 * segments, trained on the model's own segments (custseg train,
 * docs/classify.md); kind "tree" (a forest of one tree) or "forest". Taken
 * over (freed here on an error); saved in model.json. CSEG_EINVAL when its
 * classes or dimension differ from the model's. A new clusterer drops it. */
CSEG_API int cseg_model_set_classifier(cseg_model *m, const char *kind, cseg_forest *f);
CSEG_API const cseg_forest *cseg_model_classifier(const cseg_model *m);
/* A linear SVM (linear.h) as the classifier, kind "svm", instead of a tree
 * or forest; as cseg_model_set_classifier otherwise. cseg_model_classifier
 * is then NULL and cseg_model_svm the SVM. */
CSEG_API int cseg_model_set_svm(cseg_model *m, cseg_linear *l);
CSEG_API const cseg_linear *cseg_model_svm(const cseg_model *m);
/* "tree", "forest", "svm", or NULL without a classifier. */
CSEG_API const char *cseg_model_classifier_kind(const cseg_model *m);
/* Transform, then the classifier's segments (labels 0..k-1) and the distance
 * in model space to the centre of each (NaN for DBSCAN, which has none).
 * CSEG_ENOTFIT without a classifier. */
CSEG_API int cseg_model_classify(const cseg_model *m, const cseg_table *customers,
                                 int32_t *labels, double *distance, cseg_diag *d);
/* As cseg_model_assign, but a row whose id (text column id_column) is a known
 * customer and whose model-space row is bit for bit the one of training (the
 * customer scored again, unchanged) keeps its training segment, with the
 * distance to that segment's centre (DBSCAN: still the nearest core point).
 * A customer whose features changed is assigned by the rule. n_kept
 * (optional) receives how many rows kept their training segment. Without
 * id_column, or a model without known customers: cseg_model_assign. */
CSEG_API int cseg_model_assign_known(const cseg_model *m, const cseg_table *customers,
                                     const char *id_column, int32_t *labels, double *distance,
                                     size_t *n_kept, cseg_diag *d);

/* Assign the customers of a CSV file (plain or gzip; a customer table
 * holding the model's feature columns, other columns ignored) and write
 * out_path as cseg_table_write_csv writes the table of id_column (when
 * given and in the header), segment (1..k), segment_name and distance:
 * cseg_model_assign_known's results (keep_known) or cseg_model_assign's.
 * The file is read, assigned and written a chunk of rows at a time, so
 * memory does not grow with it; the output is written atomically (nothing
 * on an error). The model's columns are read with the model's types: a
 * value that does not fit fails with CSEG_EPARSE naming file, line and
 * column. n_rows (optional): the rows assigned. */
CSEG_API int cseg_model_assign_csv(const cseg_model *m, const char *in_path,
                                   const cseg_csv_params *csv, const char *id_column,
                                   int keep_known, const char *out_path, size_t *n_rows,
                                   cseg_diag *d);

/* The model as the text of model.json (malloc'd; free it), or NULL when the
 * model has no pipeline or memory runs out. */
CSEG_API char *cseg_model_to_json(const cseg_model *m);
/* Read and validate a model from model.json text, as cseg_model_load (name
 * stands for the file in messages). */
CSEG_API int cseg_model_from_json(cseg_model **out, const char *text, const char *name,
                                  cseg_diag *d);

/* Write atomically (temp file + rename). CSEG_ENOTFIT without a pipeline. */
CSEG_API int cseg_model_save(const cseg_model *m, const char *path, cseg_diag *d);
/* Read and validate a model file (format version 1 or 2). CSEG_EIO (cannot
 * read), CSEG_EFORMAT (not JSON, not a custseg model, another format version,
 * or an inconsistent field; diag says which, with line and column for JSON
 * syntax errors). */
CSEG_API int cseg_model_load(cseg_model **out, const char *path, cseg_diag *d);

#ifdef __cplusplus
}
#endif
#endif
