/* custseg — model container and its JSON file format (docs/model-format.md).
 *
 * jansson does the JSON (Debian libjansson): it writes reals with a chosen
 * precision (17 digits, so every double reads back to the same bits) and
 * handles the locale's decimal point itself. Loading validates every field and
 * reports the first problem by its JSON path.
 */
#include <errno.h>
#include <jansson.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include <sys/stat.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "custseg/model.h"
#include "../core/internal.h"
#include "internal.h"
#include "../prep/internal.h"
#include "../table/internal.h"
#include "../clv/internal.h"
#include "../drift/internal.h"

struct cseg_model {
    cseg_source source;
    cseg_txn_roles roles;
    char *date_format;
    cseg_rfm_params rfm;
    char *id_column;
    cseg_prep *prep;
    cseg_pca *pca;       /* optional step after prep */
    cseg_algo algo;
    cseg_kmeans *km;     /* kmeans, and the nearest-centroid assigner of hclust */
    cseg_linkage linkage;
    int approximate;
    cseg_dbscan *db;
    cseg_gmm *gmm;
    char **names;
    size_t k;            /* names */
    size_t dim;          /* model space without prep: the clustering model's dimension */
    char *meta;
    /* Training customers the rule for new customers puts elsewhere: id,
     * training segment and a fingerprint of the model-space row; found by id
     * through an open-addressing index of known_cap slots. */
    size_t n_known, known_cap;
    char **known_id;
    int32_t *known_label;
    uint64_t *known_fp;
    int32_t *known_idx;
    /* A classifier of model-space rows into segments (custseg train): a
     * tree is kept as a forest of one; a linear SVM instead of either. */
    cseg_forest *classifier;
    cseg_linear *svm;
    char classifier_kind[16];
    /* The training customers as drift compares new ones with them (drift.h). */
    cseg__ref *ref;
};

const char *cseg_algo_name(cseg_algo a)
{
    switch (a) {
    case CSEG_ALGO_HCLUST: return "hclust";
    case CSEG_ALGO_DBSCAN: return "dbscan";
    case CSEG_ALGO_GMM: return "gmm";
    default: return "kmeans";
    }
}

const char *cseg_algo_label(cseg_algo algo, cseg_linkage linkage)
{
    return algo == CSEG_ALGO_HCLUST ? cseg_linkage_name(linkage) : cseg_algo_name(algo);
}

int cseg_algo_parse(const char *name, cseg_algo *algo, cseg_linkage *linkage)
{
    static const struct {
        const char *name;
        cseg_algo algo;
        cseg_linkage linkage;
    } algos[] = {{"kmeans", CSEG_ALGO_KMEANS, CSEG_LINKAGE_WARD},
                 {"hclust", CSEG_ALGO_HCLUST, CSEG_LINKAGE_WARD},
                 {"dbscan", CSEG_ALGO_DBSCAN, CSEG_LINKAGE_WARD},
                 {"gmm", CSEG_ALGO_GMM, CSEG_LINKAGE_WARD}};
    for (size_t i = 0; name && i < sizeof algos / sizeof algos[0]; i++)
        if (strcmp(name, algos[i].name) == 0) {
            *algo = algos[i].algo;
            *linkage = algos[i].linkage;
            return 0;
        }
    /* "ward", "complete", "average", "single": hierarchical with that linkage. */
    if (cseg_linkage_parse(name, linkage) < 0)
        return CSEG_EINVAL;
    *algo = CSEG_ALGO_HCLUST;
    return 0;
}

int cseg_model_create(cseg_model **out)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return CSEG_ENOMEM;
    cseg_rfm_params_init(&(*out)->rfm);
    return 0;
}

static void free_names(cseg_model *m)
{
    for (size_t s = 0; s < m->k && m->names; s++)
        free(m->names[s]);
    free(m->names);
    m->names = NULL;
}

static void free_known(cseg_model *m)
{
    for (size_t i = 0; i < m->n_known; i++)
        free(m->known_id[i]);
    free(m->known_id);
    free(m->known_label);
    free(m->known_fp);
    free(m->known_idx);
    m->known_id = NULL;
    m->known_label = NULL;
    m->known_fp = NULL;
    m->known_idx = NULL;
    m->n_known = m->known_cap = 0;
}

static void drop_clusterer(cseg_model *m)
{
    free_known(m); /* their segments were the old clusterer's */
    cseg_forest_free(m->classifier); /* and so were the classifier's */
    m->classifier = NULL;
    cseg_linear_free(m->svm);
    m->svm = NULL;
    cseg__ref_free(m->ref); /* the segments it counted were the old clusterer's */
    m->ref = NULL;
    cseg_kmeans_free(m->km);
    cseg_dbscan_free(m->db);
    cseg_gmm_free(m->gmm);
    m->km = NULL;
    m->db = NULL;
    m->gmm = NULL;
    m->algo = CSEG_ALGO_KMEANS;
    m->approximate = 0;
}

void cseg_model_free(cseg_model *m)
{
    if (!m)
        return;
    drop_clusterer(m); /* and the known customers */
    free(m->date_format);
    free(m->id_column);
    cseg_prep_free(m->prep);
    cseg_pca_free(m->pca);
    free_names(m);
    free(m->meta);
    free(m);
}


int cseg_model_set_transactions(cseg_model *m, const cseg_txn_roles *roles,
                                const char *date_format, const cseg_rfm_params *rfm)
{
    char *df = date_format ? cseg__strdup(date_format) : NULL;
    if (date_format && !df)
        return CSEG_ENOMEM;
    free(m->date_format);
    m->date_format = df;
    m->source = CSEG_SOURCE_TRANSACTIONS;
    m->roles = *roles;
    if (rfm)
        m->rfm = *rfm;
    return 0;
}

int cseg_model_set_customers(cseg_model *m, const char *id_column)
{
    char *id = id_column ? cseg__strdup(id_column) : NULL;
    if (id_column && !id)
        return CSEG_ENOMEM;
    free(m->id_column);
    m->id_column = id;
    m->source = CSEG_SOURCE_CUSTOMERS;
    return 0;
}

int cseg_model_set_pipeline(cseg_model *m, cseg_prep *prep, cseg_kmeans *km)
{
    if (!prep || !cseg_prep_is_fitted(prep) || !km || !cseg_kmeans_is_fitted(km) ||
        cseg_prep_n_outputs(prep) != cseg_kmeans_dim(km))
        return CSEG_EINVAL;
    cseg_model_set_prep(m, prep);
    return cseg_model_set_kmeans(m, km);
}

int cseg_model_set_prep(cseg_model *m, cseg_prep *prep)
{
    if (!prep || !cseg_prep_is_fitted(prep))
        return CSEG_EINVAL;
    drop_clusterer(m);
    cseg_pca_free(m->pca);
    m->pca = NULL;
    cseg_prep_free(m->prep);
    m->prep = prep;
    return 0;
}

int cseg_model_set_pca(cseg_model *m, cseg_pca *pca)
{
    if (!m->prep || !pca || cseg_pca_dim(pca) != cseg_prep_n_outputs(m->prep))
        return CSEG_EINVAL;
    drop_clusterer(m);
    cseg_pca_free(m->pca);
    m->pca = pca;
    return 0;
}

size_t cseg_model_dim(const cseg_model *m)
{
    if (m->pca)
        return cseg_pca_n_components(m->pca);
    return m->prep ? cseg_prep_n_outputs(m->prep) : m->dim;
}

/* A clustering model of dimension d fits when it matches the pipeline, or
 * when there is no pipeline (a model of model-space rows only). */
static int fits_dim(cseg_model *m, size_t d)
{
    if (m->prep)
        return d == cseg_model_dim(m);
    m->dim = d;
    return 1;
}

int cseg_model_set_kmeans(cseg_model *m, cseg_kmeans *km)
{
    if (!km || !cseg_kmeans_is_fitted(km) || !fits_dim(m, cseg_kmeans_dim(km)))
        return CSEG_EINVAL;
    drop_clusterer(m);
    m->km = km;
    return 0;
}

int cseg_model_set_hclust(cseg_model *m, cseg_linkage linkage, int approximate,
                          const double *centroids, size_t k, size_t d)
{
    if ((unsigned)linkage > CSEG_LINKAGE_SINGLE || k == 0 || !fits_dim(m, d))
        return CSEG_EINVAL;
    cseg_kmeans_params kp;
    cseg_kmeans_params_init(&kp);
    kp.k = k;
    cseg_kmeans *km;
    int rc = cseg_kmeans_create(&km, &kp);
    if (rc < 0)
        return rc;
    if ((rc = cseg_kmeans_set_centroids(km, centroids, k, d)) < 0) {
        cseg_kmeans_free(km);
        return rc;
    }
    drop_clusterer(m);
    m->km = km;
    m->algo = CSEG_ALGO_HCLUST;
    m->linkage = linkage;
    m->approximate = approximate != 0;
    return 0;
}

int cseg_model_set_dbscan(cseg_model *m, cseg_dbscan *db)
{
    if (!db || !fits_dim(m, cseg_dbscan_dim(db)))
        return CSEG_EINVAL;
    drop_clusterer(m);
    m->db = db;
    m->algo = CSEG_ALGO_DBSCAN;
    return 0;
}

int cseg_model_set_gmm(cseg_model *m, cseg_gmm *gmm)
{
    if (!gmm || cseg_gmm_k(gmm) == 0 || !fits_dim(m, cseg_gmm_dim(gmm)))
        return CSEG_EINVAL;
    drop_clusterer(m);
    m->gmm = gmm;
    m->algo = CSEG_ALGO_GMM;
    return 0;
}

static int has_clusterer(const cseg_model *m)
{
    return m->km || m->db || m->gmm;
}

int cseg_model_set_names(cseg_model *m, const char *const *names, size_t k)
{
    char **nn = cseg__calloc(k, sizeof *nn);
    if (!nn)
        return CSEG_ENOMEM;
    for (size_t s = 0; s < k; s++)
        if (!(nn[s] = cseg__strdup(names[s]))) {
            for (size_t q = 0; q < s; q++)
                free(nn[q]);
            free(nn);
            return CSEG_ENOMEM;
        }
    free_names(m);
    m->names = nn;
    m->k = k;
    return 0;
}

int cseg_model_set_meta(cseg_model *m, const char *json_object)
{
    json_error_t err;
    json_t *j = json_loads(json_object, 0, &err);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        return CSEG_EINVAL;
    }
    json_decref(j);
    char *c = cseg__strdup(json_object);
    if (!c)
        return CSEG_ENOMEM;
    free(m->meta);
    m->meta = c;
    return 0;
}

cseg_source cseg_model_source(const cseg_model *m)
{
    return m->source;
}

const cseg_txn_roles *cseg_model_roles(const cseg_model *m)
{
    return &m->roles;
}

const char *cseg_model_date_format(const cseg_model *m)
{
    return m->date_format;
}

const cseg_rfm_params *cseg_model_rfm(const cseg_model *m)
{
    return &m->rfm;
}

const char *cseg_model_id_column(const cseg_model *m)
{
    return m->id_column;
}

const cseg_prep *cseg_model_prep(const cseg_model *m)
{
    return m->prep;
}

const cseg_pca *cseg_model_pca(const cseg_model *m)
{
    return m->pca;
}

cseg_algo cseg_model_algo(const cseg_model *m)
{
    return m->algo;
}

const cseg_kmeans *cseg_model_kmeans(const cseg_model *m)
{
    return m->km;
}

const cseg_dbscan *cseg_model_dbscan(const cseg_model *m)
{
    return m->db;
}

const cseg_gmm *cseg_model_gmm(const cseg_model *m)
{
    return m->gmm;
}

cseg_linkage cseg_model_linkage(const cseg_model *m)
{
    return m->linkage;
}

int cseg_model_is_approximate(const cseg_model *m)
{
    return m->approximate;
}

size_t cseg_model_k(const cseg_model *m)
{
    if (m->km)
        return cseg_kmeans_k(m->km);
    if (m->db)
        return cseg_dbscan_n_clusters(m->db) + 1;
    if (m->gmm)
        return cseg_gmm_k(m->gmm);
    return 0;
}

long cseg_model_outlier_segment(const cseg_model *m)
{
    return m->db ? (long)cseg_dbscan_n_clusters(m->db) : -1;
}

const char *cseg_model_name(const cseg_model *m, size_t s)
{
    return s < m->k && m->names ? m->names[s] : NULL;
}

const char *cseg_model_meta(const cseg_model *m)
{
    return m->meta ? m->meta : "{}";
}

int cseg_model_transform(const cseg_model *m, const cseg_table *t, double *Z, cseg_diag *d)
{
    if (!m->prep)
        return CSEG_ENOTFIT;
    if (!m->pca)
        return cseg_prep_transform(m->prep, t, Z, d);
    size_t n = cseg_table_n_rows(t), p = cseg_prep_n_outputs(m->prep);
    double *X = cseg__alloc_aligned(n ? n : 1, p * sizeof(double));
    if (!X)
        return cseg__diag(d, CSEG_ENOMEM, NULL, 0, 0, "out of memory");
    int rc = cseg_prep_transform(m->prep, t, X, d);
    if (rc == 0)
        rc = cseg_pca_transform(m->pca, X, n, Z);
    cseg__free_aligned(X);
    return rc;
}

int cseg_model_segment_distance(const cseg_model *m, const double *Z, size_t n,
                                const int32_t *labels, double *distance)
{
    if (!has_clusterer(m))
        return CSEG_ENOTFIT;
    if (m->db)
        return CSEG_EINVAL;
    size_t k = cseg_model_k(m), dim = cseg_model_dim(m);
    const double *C = m->gmm ? cseg_gmm_means(m->gmm) : cseg_kmeans_centroids(m->km);
    for (size_t i = 0; i < n; i++)
        if (labels[i] < 0 || (size_t)labels[i] >= k)
            return CSEG_EINVAL;
    for (size_t i = 0; i < n; i++) {
        const double *z = Z + i * dim, *c = C + (size_t)labels[i] * dim;
        double s = 0;
        for (size_t j = 0; j < dim; j++)
            s += (z[j] - c[j]) * (z[j] - c[j]);
        distance[i] = sqrt(s);
    }
    return 0;
}

int cseg_model_predict(const cseg_model *m, const double *Z, size_t n, int32_t *labels,
                       double *distance, double *proba)
{
    if (!has_clusterer(m))
        return CSEG_ENOTFIT;
    size_t k = cseg_model_k(m);
    int rc;
    if (m->km) {
        if ((rc = cseg_kmeans_predict(m->km, Z, n, labels, NULL)) < 0)
            return rc;
        /* The distance as cseg_model_segment_distance computes it, so that
         * assigning the training customers gives their distances bit for bit. */
        if (distance && (rc = cseg_model_segment_distance(m, Z, n, labels, distance)) < 0)
            return rc;
    } else if (m->db) {
        if ((rc = cseg_dbscan_predict(m->db, Z, n, labels, distance)) < 0)
            return rc;
        for (size_t i = 0; i < n; i++)
            if (labels[i] < 0)
                labels[i] = (int32_t)(k - 1);
    } else {
        if ((rc = cseg_gmm_predict(m->gmm, Z, n, labels, proba)) < 0)
            return rc;
        return distance ? cseg_model_segment_distance(m, Z, n, labels, distance) : 0;
    }
    if (proba)
        for (size_t i = 0; i < n; i++)
            for (size_t s = 0; s < k; s++)
                proba[i * k + s] = labels[i] == (int32_t)s;
    return 0;
}

/* ---- known customers ---- */

static uint64_t row_fingerprint(const double *z, size_t dim)
{
    return cseg__hash(z, dim * sizeof *z, 0x6b6e6f776e); /* "known" */
}

static long find_known(const cseg_model *m, const char *id)
{
    if (!m->known_cap)
        return -1;
    size_t i = (size_t)cseg__hash(id, strlen(id), 0) & (m->known_cap - 1);
    for (; m->known_idx[i] >= 0; i = (i + 1) & (m->known_cap - 1))
        if (strcmp(m->known_id[m->known_idx[i]], id) == 0)
            return m->known_idx[i];
    return -1;
}

/* Replace the known customers; CSEG_EINVAL for an id given twice. */
static int set_known(cseg_model *m, const char *const *ids, const int32_t *labels,
                     const uint64_t *fps, size_t n)
{
    free_known(m);
    if (n == 0)
        return 0;
    if (n > (size_t)INT32_MAX)
        return CSEG_EINVAL;
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    m->known_id = cseg__calloc(n, sizeof *m->known_id);
    m->known_label = cseg__calloc(n, sizeof *m->known_label);
    m->known_fp = cseg__calloc(n, sizeof *m->known_fp);
    m->known_idx = cseg__calloc(cap, sizeof *m->known_idx);
    if (!m->known_id || !m->known_label || !m->known_fp || !m->known_idx) {
        free_known(m);
        return CSEG_ENOMEM;
    }
    memset(m->known_idx, 0xff, cap * sizeof *m->known_idx);
    m->known_cap = cap;
    for (size_t i = 0; i < n; i++) {
        if (find_known(m, ids[i]) >= 0) {
            free_known(m);
            return CSEG_EINVAL;
        }
        if (!(m->known_id[i] = cseg__strdup(ids[i]))) {
            free_known(m);
            return CSEG_ENOMEM;
        }
        m->n_known = i + 1;
        m->known_label[i] = labels[i];
        m->known_fp[i] = fps[i];
        size_t h = (size_t)cseg__hash(ids[i], strlen(ids[i]), 0) & (cap - 1);
        while (m->known_idx[h] >= 0)
            h = (h + 1) & (cap - 1);
        m->known_idx[h] = (int32_t)i;
    }
    return 0;
}

/* The model-space rows of t (n x dim, aligned; free with
 * cseg__free_aligned), or NULL with *rc and the diag set. */
static double *transformed(const cseg_model *m, const cseg_table *t, int *rc, cseg_diag *d)
{
    size_t n = cseg_table_n_rows(t);
    double *Z = cseg__alloc_aligned(n ? n : 1, cseg_model_dim(m) * sizeof(double));
    if (!Z) {
        *rc = cseg__diag(d, CSEG_ENOMEM, NULL, 0, 0, "out of memory");
        return NULL;
    }
    if ((*rc = cseg_model_transform(m, t, Z, d)) < 0) {
        cseg__free_aligned(Z);
        return NULL;
    }
    return Z;
}

/* A distance is written out: never a non-finite one (DBSCAN without any
 * core point has none to give, and says so with INFINITY). */
static int finite_distances(const cseg_model *m, const cseg_table *t, const double *distance,
                            cseg_diag *d)
{
    for (size_t i = 0; distance && !m->db && i < cseg_table_n_rows(t); i++)
        if (!isfinite(distance[i]))
            return cseg__diag(d, CSEG_ERANGE, NULL, cseg_table_row_line(t, i), 0,
                              "the distance to the segment is beyond the range of numbers");
    return 0;
}

int cseg_model_set_classifier(cseg_model *m, const char *kind, cseg_forest *f)
{
    if (!f || !kind || (strcmp(kind, "tree") != 0 && strcmp(kind, "forest") != 0) ||
        cseg_forest_k(f) != m->k || cseg_forest_dim(f) != cseg_model_dim(m) ||
        (strcmp(kind, "tree") == 0 && cseg_forest_n_trees(f) != 1)) {
        cseg_forest_free(f);
        return CSEG_EINVAL;
    }
    cseg_forest_free(m->classifier);
    cseg_linear_free(m->svm);
    m->svm = NULL;
    m->classifier = f;
    snprintf(m->classifier_kind, sizeof m->classifier_kind, "%s", kind);
    return 0;
}

int cseg_model_set_svm(cseg_model *m, cseg_linear *l)
{
    if (!l || cseg_linear_k(l) != m->k || cseg_linear_dim(l) != cseg_model_dim(m)) {
        cseg_linear_free(l);
        return CSEG_EINVAL;
    }
    cseg_forest_free(m->classifier);
    m->classifier = NULL;
    cseg_linear_free(m->svm);
    m->svm = l;
    snprintf(m->classifier_kind, sizeof m->classifier_kind, "svm");
    return 0;
}

const cseg_linear *cseg_model_svm(const cseg_model *m)
{
    return m->svm;
}

void cseg__model_put_reference(cseg_model *m, cseg__ref *r)
{
    cseg__ref_free(m->ref);
    m->ref = r;
}

const cseg__ref *cseg__model_reference(const cseg_model *m)
{
    return m->ref;
}

const cseg_forest *cseg_model_classifier(const cseg_model *m)
{
    return m->classifier;
}

const char *cseg_model_classifier_kind(const cseg_model *m)
{
    return m->classifier || m->svm ? m->classifier_kind : NULL;
}

int cseg_model_classify(const cseg_model *m, const cseg_table *customers, int32_t *labels,
                        double *distance, cseg_diag *d)
{
    if (!m->classifier && !m->svm)
        return cseg__diag(d, CSEG_ENOTFIT, NULL, 0, 0,
                          "the model has no classifier (custseg train adds one)");
    size_t n = cseg_table_n_rows(customers);
    int rc;
    double *Z = transformed(m, customers, &rc, d);
    if (!Z)
        return rc;
    if ((rc = m->svm ? cseg_linear_predict(m->svm, Z, n, labels, NULL)
                     : cseg_forest_predict(m->classifier, Z, n, labels, NULL)) < 0)
        cseg__diag(d, rc, NULL, 0, 0, "%s", cseg_strerror(rc));
    if (rc == 0 && distance) {
        if (m->algo == CSEG_ALGO_DBSCAN)
            for (size_t i = 0; i < n; i++)
                distance[i] = NAN; /* no segment centres */
        else if ((rc = cseg_model_segment_distance(m, Z, n, labels, distance)) < 0)
            cseg__diag(d, rc, NULL, 0, 0, "%s", cseg_strerror(rc));
    }
    cseg__free_aligned(Z);
    return rc < 0 ? rc : finite_distances(m, customers, distance, d);
}

int cseg_model_set_known(cseg_model *m, const char *const *ids, const int32_t *labels,
                         const double *Z, size_t n)
{
    size_t dim = cseg_model_dim(m);
    if (!has_clusterer(m))
        return CSEG_ENOTFIT;
    for (size_t i = 0; i < n; i++)
        if (!ids[i] || labels[i] < 0 || (size_t)labels[i] >= cseg_model_k(m))
            return CSEG_EINVAL;
    uint64_t *fps = malloc((n ? n : 1) * sizeof *fps);
    if (!fps)
        return CSEG_ENOMEM;
    for (size_t i = 0; i < n; i++)
        fps[i] = row_fingerprint(Z + i * dim, dim);
    int rc = set_known(m, ids, labels, fps, n);
    free(fps);
    return rc;
}

size_t cseg_model_n_known(const cseg_model *m)
{
    return m->n_known;
}

/* Assigning goes a block of rows at a time: each block transformed and
 * placed while it is in the cache, blocks side by side for k-means (each
 * row's result is its own: the same for any thread count), instead of
 * transforming every row into an n x d matrix first (a million customers:
 * 64 MB written, faulted in and read back). An error in any block is found
 * again by the whole-table path, so that it names the same value as ever. */
#define ASSIGN_BLOCK 8192

static int assign_block(const cseg_model *m, const cseg_table *t, const cseg__prep_plan *pl,
                        long jid, size_t r0, size_t r1, double *Xb, double *Zb, int32_t *labels,
                        double *distance, size_t *kept)
{
    size_t nb = r1 - r0, dim = cseg_model_dim(m);
    int rc = cseg__prep_plan_rows(pl, r0, r1, m->pca ? Xb : Zb, NULL);
    if (rc == 0 && m->pca)
        rc = cseg_pca_transform(m->pca, Xb, nb, Zb);
    if (rc == 0)
        rc = cseg_model_predict(m, Zb, nb, labels + r0, distance ? distance + r0 : NULL, NULL);
    for (size_t i = 0; rc == 0 && jid >= 0 && i < nb; i++) {
        char buf[40];
        const char *id = cseg__table_cell_text(t, (size_t)jid, r0 + i, buf, sizeof buf);
        long q = id ? find_known(m, id) : -1;
        if (q < 0 || m->known_fp[q] != row_fingerprint(Zb + i * dim, dim))
            continue;
        labels[r0 + i] = m->known_label[q];
        (*kept)++;
        /* The distance to that segment's centre (DBSCAN keeps its nearest core point). */
        if (distance && !m->db)
            rc = cseg_model_segment_distance(m, Zb + i * dim, 1, &labels[r0 + i],
                                             &distance[r0 + i]);
    }
    return rc;
}

/* Doubles a thread's buffers take for blocks of nb rows: the transformed
 * rows (before PCA, when there is one) and the model's inputs, each a
 * whole number of 64-byte lines. */
static size_t block_doubles(const cseg_model *m, size_t nb, size_t *zoff)
{
    size_t dim = cseg_model_dim(m), p = cseg_prep_n_outputs(m->prep);
    size_t x = m->pca ? (nb * p + 7) / 8 * 8 : 0;
    *zoff = x;
    return x + (nb * (dim ? dim : 1) + 7) / 8 * 8;
}

/* Blocks first, first + step ... of t's n rows, with buffers for the rows
 * there are (buf: block_doubles of them): one row (a streamed event) must
 * not cost a block's allocation. (Not a worksharing loop: called outside a
 * team of its own, that would bind to a caller's parallel region and leave
 * blocks to its threads.) */
static int assign_blocks(const cseg_model *m, const cseg_table *t, const cseg__prep_plan *pl,
                         long jid, int32_t *labels, double *distance, size_t n, size_t nblk,
                         size_t first, size_t step, double *buf, size_t zoff, size_t *kept)
{
    double *Xb = m->pca ? buf : NULL, *Zb = buf + zoff;
    int mine = 0;
    for (size_t b = first; b < nblk && mine == 0; b += step) {
        size_t r0 = b * ASSIGN_BLOCK, r1 = r0 + ASSIGN_BLOCK < n ? r0 + ASSIGN_BLOCK : n;
        mine = assign_block(m, t, pl, jid, r0, r1, Xb, Zb, labels, distance, kept);
    }
    return mine;
}

void cseg__assign_scratch_free(cseg__assign_scratch *s)
{
    cseg__free_aligned(s->buf);
    s->buf = NULL;
    s->cap = 0;
}

/* The rows of t assigned; given (NULL: made here) where its columns are;
 * the threads' buffers in sc (NULL: made and freed here). */
static int assign_rows(const cseg_model *m, const cseg_table *t, const cseg__prep_plan *given,
                       long jid, int32_t *labels, double *distance, size_t *n_kept,
                       cseg__assign_scratch *sc, int any_distance, cseg_diag *d)
{
    if (!m->prep)
        return CSEG_ENOTFIT;
    size_t n = cseg_table_n_rows(t), nblk = (n + ASSIGN_BLOCK - 1) / ASSIGN_BLOCK, kept = 0;
    /* k-means blocks in parallel (its predict then runs on one thread);
     * mixtures and DBSCAN lean on threaded libraries: their blocks in turn. */
    int nt = m->km && nblk > 1 ? cseg__threads(0) : 1, failed = 0;
    size_t zoff, per = block_doubles(m, n < ASSIGN_BLOCK ? (n ? n : 1) : ASSIGN_BLOCK, &zoff);
    cseg__assign_scratch local = {NULL, 0};
    if (!sc)
        sc = &local;
    if (sc->cap < per * (size_t)nt) {
        cseg__assign_scratch_free(sc);
        if (!(sc->buf = cseg__alloc_aligned((size_t)nt, per * sizeof(double))))
            return cseg__diag(d, CSEG_ENOMEM, NULL, 0, 0, "out of memory");
        sc->cap = per * (size_t)nt;
    }
    double *buf = sc->buf;
    cseg__prep_plan *made = NULL; /* the table's columns found once, for every block */
    int rc = given ? 0 : cseg__prep_plan_make(m->prep, t, &made, d);
    if (rc < 0) {
        cseg__assign_scratch_free(&local);
        return rc;
    }
    const cseg__prep_plan *pl = given ? given : made;
    /* One thread: no team. A team of one would make the parallel regions
     * inside (transform, predict) nested ones, each with a team of its own
     * allocated, for every streamed event. */
    if (nt > 1) {
#pragma omp parallel num_threads(nt) default(none)                                             \
    shared(m, t, pl, jid, labels, distance, n, nblk, failed, buf, per, zoff) reduction(+ : kept)
        {
#ifdef _OPENMP
            size_t me = (size_t)omp_get_thread_num(), all = (size_t)omp_get_num_threads();
#else
            size_t me = 0, all = 1;
#endif
            int mine = assign_blocks(m, t, pl, jid, labels, distance, n, nblk, me, all,
                                     buf + me * per, zoff, &kept);
            if (mine < 0) {
#pragma omp critical(cseg_assign_failed)
                if (failed == 0 || mine == CSEG_ENOMEM)
                    failed = mine;
            }
        }
    } else {
        failed = assign_blocks(m, t, pl, jid, labels, distance, n, nblk, 0, 1, buf, zoff, &kept);
    }
    cseg__prep_plan_free(made);
    cseg__assign_scratch_free(&local);
    if (failed < 0) { /* a bad value is named by the whole-table path, as ever */
        double *Z = transformed(m, t, &rc, d);
        if (!Z)
            return rc;
        cseg__free_aligned(Z);
        return cseg__diag(d, failed, NULL, 0, 0, "%s", cseg_strerror(failed));
    }
    if (n_kept)
        *n_kept = kept;
    return any_distance ? 0 : finite_distances(m, t, distance, d);
}

int cseg_model_assign_known(const cseg_model *m, const cseg_table *t, const char *id_column,
                            int32_t *labels, double *distance, size_t *n_kept, cseg_diag *d)
{
    if (n_kept)
        *n_kept = 0;
    if (!has_clusterer(m))
        return CSEG_ENOTFIT;
    long jid = id_column ? cseg_table_find(t, id_column) : -1;
    return assign_rows(m, t, NULL, m->n_known ? jid : -1, labels, distance, n_kept, NULL, 0, d);
}

int cseg_model_assign(const cseg_model *m, const cseg_table *t, int32_t *labels,
                      double *distance, cseg_diag *d)
{
    if (!has_clusterer(m))
        return CSEG_ENOTFIT;
    return assign_rows(m, t, NULL, -1, labels, distance, NULL, NULL, 0, d);
}

int cseg__model_assign_any(const cseg_model *m, const cseg_table *t, int32_t *labels,
                           double *distance, cseg_diag *d)
{
    if (!has_clusterer(m))
        return CSEG_ENOTFIT;
    return assign_rows(m, t, NULL, -1, labels, distance, NULL, NULL, 1, d);
}

int cseg__model_assign_chunk(const cseg_model *m, const cseg_table *t, const char *id_column,
                             int32_t *labels, double *distance, cseg__assign_scratch *sc,
                             cseg_diag *d)
{
    if (!has_clusterer(m))
        return CSEG_ENOTFIT;
    long jid = id_column && m->n_known ? cseg_table_find(t, id_column) : -1;
    return assign_rows(m, t, NULL, jid, labels, distance, NULL, sc, 0, d);
}

int cseg__model_assign_planned(const cseg_model *m, const cseg_table *t,
                               const cseg__prep_plan *pl, int32_t *labels, double *distance,
                               cseg_diag *d)
{
    if (!has_clusterer(m))
        return CSEG_ENOTFIT;
    return assign_rows(m, t, pl, -1, labels, distance, NULL, NULL, 0, d);
}

static const char *scale_name(cseg_scale s)
{
    return s == CSEG_SCALE_ROBUST ? "robust" : s == CSEG_SCALE_NONE ? "none" : "standard";
}

static const char *log_name(cseg_logmode l)
{
    return l == CSEG_LOG_NONE ? "none" : l == CSEG_LOG_ALL ? "all" : "auto";
}

static json_t *str_or_null(const char *s)
{
    return s && *s ? cseg__jstr(s) : json_null();
}

static json_t *day_json(int64_t day)
{
    if (day == CSEG_DAY_AUTO)
        return cseg__jstr("auto");
    int y;
    unsigned mo, dd;
    char buf[32];
    cseg__civil_from_days(day, &y, &mo, &dd);
    snprintf(buf, sizeof buf, "%04d-%02u-%02u", y, mo, dd);
    return cseg__jstr(buf);
}

/* n doubles as a flat array. */
static json_t *vector_json(const double *v, size_t n)
{
    json_t *out = json_array();
    for (size_t j = 0; j < n; j++)
        json_array_append_new(out, json_real(v[j]));
    return out;
}

/* rows x cols doubles as an array of rows arrays. */
static json_t *matrix_json(const double *A, size_t rows, size_t cols)
{
    json_t *out = json_array();
    for (size_t r = 0; r < rows; r++)
        json_array_append_new(out, vector_json(A + r * cols, cols));
    return out;
}

static json_t *pca_json(const cseg_pca *p)
{
    json_t *o = json_object();
    size_t nc = cseg_pca_n_components(p), d = cseg_pca_dim(p);
    json_object_set_new(o, "n_components", json_integer((json_int_t)nc));
    json_object_set_new(o, "mean", vector_json(cseg_pca_mean(p), d));
    json_object_set_new(o, "components", matrix_json(cseg_pca_components(p), nc, d));
    json_object_set_new(o, "explained_variance", vector_json(cseg_pca_explained_variance(p), nc));
    json_object_set_new(o, "explained_variance_ratio",
                        vector_json(cseg_pca_explained_variance_ratio(p), nc));
    return o;
}

/* The classifier: its kind and every tree's nodes (docs/model-format.md). */
static json_t *classifier_json(const cseg_model *m)
{
    json_t *o = json_object();
    json_object_set_new(o, "kind", cseg__jstr(m->classifier_kind));
    json_object_set_new(o, "k", json_integer((json_int_t)m->k));
    json_object_set_new(o, "dim", json_integer((json_int_t)cseg_model_dim(m)));
    if (m->svm) {
        json_object_set_new(o, "weights", matrix_json(cseg_linear_weights(m->svm), m->k,
                                                      cseg_model_dim(m) + 1));
        return o;
    }
    const cseg_forest *f = m->classifier;
    size_t k = cseg_forest_k(f);
    json_t *trees = json_array();
    for (size_t t = 0; t < cseg_forest_n_trees(f); t++) {
        const cseg_tree *tr = cseg_forest_tree(f, t);
        const cseg_tree_node *nd = cseg_tree_nodes(tr);
        size_t nn = cseg_tree_n_nodes(tr);
        json_t *jt = json_object(), *left = json_array(), *right = json_array(),
               *feat = json_array(), *th = json_array(), *cover = json_array();
        for (size_t i = 0; i < nn; i++) {
            json_array_append_new(left, json_integer(nd[i].left));
            json_array_append_new(right, json_integer(nd[i].right));
            json_array_append_new(feat, json_integer(nd[i].feature));
            json_array_append_new(th, json_real(nd[i].threshold));
            json_array_append_new(cover, json_real(nd[i].weighted_n_samples));
        }
        json_object_set_new(jt, "left", left);
        json_object_set_new(jt, "right", right);
        json_object_set_new(jt, "feature", feat);
        json_object_set_new(jt, "threshold", th);
        json_object_set_new(jt, "weighted_n_samples", cover);
        json_object_set_new(jt, "value", vector_json(cseg_tree_values(tr), nn * k));
        json_array_append_new(trees, jt);
    }
    json_object_set_new(o, "trees", trees);
    return o;
}

static json_t *to_json(const cseg_model *m)
{
    json_t *root = json_object(), *src = json_object(), *prep = json_object(), *cols = json_array();
    json_t *model = json_object(), *segs = json_array(), *feats = json_array();
    json_error_t err;
    json_t *meta = json_loads(cseg_model_meta(m), 0, &err);
    json_object_set_new(root, "format", cseg__jstr("custseg-model"));
    json_object_set_new(root, "version", json_integer(CSEG_MODEL_FORMAT_VERSION));
    json_object_set_new(root, "custseg_version", cseg__jstr(CSEG_VERSION_STRING));
    if (m->source == CSEG_SOURCE_TRANSACTIONS) {
        json_t *roles = json_object();
        json_object_set_new(src, "kind", cseg__jstr("transactions"));
        json_object_set_new(roles, "customer", str_or_null(m->roles.customer));
        json_object_set_new(roles, "date", str_or_null(m->roles.date));
        json_object_set_new(roles, "invoice", str_or_null(m->roles.invoice));
        json_object_set_new(roles, "quantity", str_or_null(m->roles.quantity));
        json_object_set_new(roles, "price", str_or_null(m->roles.price));
        json_object_set_new(roles, "amount", str_or_null(m->roles.amount));
        json_object_set_new(roles, "product", str_or_null(m->roles.product));
        json_object_set_new(src, "roles", roles);
        if (m->rfm.has_edges) {
            /* An edge no customer reached is infinite: null. */
            const double *e[3] = {m->rfm.edges.recency_hi, m->rfm.edges.frequency_lo,
                                  m->rfm.edges.monetary_lo};
            static const char *const nm[3] = {"recency_days", "frequency", "monetary"};
            json_t *edges = json_object();
            for (int k = 0; k < 3; k++) {
                json_t *a = json_array();
                for (int q = 0; q < 4; q++)
                    json_array_append_new(a, isfinite(e[k][q]) ? json_real(e[k][q]) : json_null());
                json_object_set_new(edges, nm[k], a);
            }
            json_object_set_new(src, "score_edges", edges);
        }
        if (m->roles.n_attributes > 0) {
            json_t *at = json_array();
            for (size_t a = 0; a < m->roles.n_attributes; a++)
                json_array_append_new(at, cseg__jstr(m->roles.attributes[a]));
            json_object_set_new(src, "attributes", at);
        }
        json_object_set_new(src, "date_format", str_or_null(m->date_format));
        json_object_set_new(src, "as_of", day_json(m->rfm.as_of_day));
        json_object_set_new(src, "spend_window_days", json_integer(m->rfm.spend_window_days));
        json_object_set_new(src, "drop_duplicates", json_boolean(m->rfm.drop_duplicates));
        json_object_set_new(src, "money_decimals", json_integer(m->rfm.money_decimals));
        if (m->rfm.clv.enabled)
            json_object_set_new(src, "clv", cseg__clv_json(&m->rfm.clv));
    } else {
        json_object_set_new(src, "kind", cseg__jstr("customers"));
        json_object_set_new(src, "id_column", str_or_null(m->id_column));
    }
    json_object_set_new(root, "source", src);
    for (size_t j = 0; j < cseg_prep_n_inputs(m->prep); j++)
        json_array_append_new(feats, cseg__jstr(cseg_prep_input_name(m->prep, j)));
    json_object_set_new(root, "features", feats);
    json_object_set_new(prep, "scale", cseg__jstr(scale_name(m->prep->params.scale)));
    json_object_set_new(prep, "log", cseg__jstr(log_name(m->prep->params.log)));
    json_object_set_new(prep, "skew_threshold", json_real(m->prep->params.skew_threshold));
    json_object_set_new(prep, "max_levels", json_integer((json_int_t)m->prep->params.max_levels));
    for (size_t j = 0; j < m->prep->n_cols; j++) {
        const cseg_prep_col *c = &m->prep->cols[j];
        json_t *o = json_object();
        json_object_set_new(o, "name", cseg__jstr(c->name));
        if (c->categorical) {
            json_t *lv = json_array();
            json_object_set_new(o, "type", cseg__jstr("category"));
            for (size_t q = 0; q < c->n_levels; q++)
                json_array_append_new(lv, cseg__jstr(c->levels[q]));
            json_object_set_new(o, "levels", lv);
        } else {
            json_object_set_new(o, "type", cseg__jstr("number"));
            json_object_set_new(o, "median", json_real(c->median));
            json_object_set_new(o, "log", json_boolean(c->log));
            json_object_set_new(o, "shift", json_real(c->shift));
            json_object_set_new(o, "center", json_real(c->center));
            json_object_set_new(o, "scale", json_real(c->scale));
        }
        json_array_append_new(cols, o);
    }
    json_object_set_new(prep, "columns", cols);
    json_object_set_new(root, "prep", prep);
    if (m->pca)
        json_object_set_new(root, "pca", pca_json(m->pca));
    size_t k = cseg_model_k(m), d = cseg_model_dim(m);
    json_object_set_new(model, "algorithm", cseg__jstr(cseg_algo_name(m->algo)));
    json_object_set_new(model, "k", json_integer((json_int_t)k));
    json_object_set_new(model, "dim", json_integer((json_int_t)d));
    if (m->algo == CSEG_ALGO_KMEANS || m->algo == CSEG_ALGO_HCLUST) {
        if (m->algo == CSEG_ALGO_HCLUST) {
            json_object_set_new(model, "linkage", cseg__jstr(cseg_linkage_name(m->linkage)));
            json_object_set_new(model, "approximate", json_boolean(m->approximate));
        }
        json_object_set_new(model, "centroids", matrix_json(cseg_kmeans_centroids(m->km), k, d));
        if (m->algo == CSEG_ALGO_KMEANS) {
            const cseg_kmeans_params *kp = cseg_kmeans_get_params(m->km);
            json_object_set_new(model, "seed", json_integer((json_int_t)kp->seed));
            json_object_set_new(model, "n_init", json_integer((json_int_t)kp->n_init));
            json_object_set_new(model, "max_iter", json_integer((json_int_t)kp->max_iter));
            json_object_set_new(model, "tol", json_real(kp->tol));
        }
    } else if (m->algo == CSEG_ALGO_DBSCAN) {
        size_t nc = cseg_dbscan_n_core(m->db);
        const int32_t *cl = cseg_dbscan_core_labels(m->db);
        json_t *lab = json_array();
        for (size_t i = 0; i < nc; i++)
            json_array_append_new(lab, json_integer(cl[i]));
        json_object_set_new(model, "eps", json_real(cseg_dbscan_eps(m->db)));
        json_object_set_new(model, "min_samples", json_integer((json_int_t)cseg_dbscan_min_samples(m->db)));
        json_object_set_new(model, "n_clusters", json_integer((json_int_t)(k - 1)));
        json_object_set_new(model, "core_points",
                            matrix_json(cseg_dbscan_core_points(m->db), nc, d));
        json_object_set_new(model, "core_labels", lab);
    } else {
        cseg_gmm_cov ct = cseg_gmm_cov_type(m->gmm);
        size_t nv = cseg_gmm_cov_size(ct, k, d);
        json_object_set_new(model, "covariance_type", cseg__jstr(cseg_gmm_cov_name(ct)));
        json_object_set_new(model, "weights", vector_json(cseg_gmm_weights(m->gmm), k));
        json_object_set_new(model, "means", matrix_json(cseg_gmm_means(m->gmm), k, d));
        json_object_set_new(model, "covariances", vector_json(cseg_gmm_covariances(m->gmm), nv));
    }
    json_object_set_new(root, "model", model);
    for (size_t s = 0; s < k; s++) {
        json_t *o = json_object();
        json_object_set_new(o, "id", json_integer((json_int_t)s));
        json_object_set_new(o, "name", str_or_null(cseg_model_name(m, s)));
        json_array_append_new(segs, o);
    }
    json_object_set_new(root, "segments", segs);
    if (m->n_known > 0) {
        json_t *kn = json_object(), *ids = json_array(), *lab = json_array(), *fp = json_array();
        for (size_t i = 0; i < m->n_known; i++) {
            char hex[17];
            snprintf(hex, sizeof hex, "%016" PRIx64, m->known_fp[i]);
            json_array_append_new(ids, cseg__jstr(m->known_id[i]));
            json_array_append_new(lab, json_integer(m->known_label[i]));
            json_array_append_new(fp, cseg__jstr(hex));
        }
        json_object_set_new(kn, "ids", ids);
        json_object_set_new(kn, "segments", lab);
        json_object_set_new(kn, "fingerprints", fp);
        json_object_set_new(root, "known_customers", kn);
    }
    if (m->classifier || m->svm)
        json_object_set_new(root, "classifier", classifier_json(m));
    if (m->ref)
        json_object_set_new(root, "reference", cseg__ref_json(m->ref));
    json_object_set_new(root, "training", meta ? meta : json_object());
    return root;
}

char *cseg_model_to_json(const cseg_model *m)
{
    if (!m->prep || !has_clusterer(m))
        return NULL;
    json_t *root = to_json(m);
    char *text = root ? json_dumps(root, JSON_INDENT(2) | JSON_REAL_PRECISION(17) |
                                             JSON_PRESERVE_ORDER)
                      : NULL;
    json_decref(root);
    if (!text)
        return NULL;
    size_t len = strlen(text);
    char *out = realloc(text, len + 2); /* the file's final newline */
    if (!out) {
        free(text);
        return NULL;
    }
    out[len] = '\n';
    out[len + 1] = 0;
    return out;
}

int cseg_model_save(const cseg_model *m, const char *path, cseg_diag *d)
{
    if (!m->prep || !has_clusterer(m))
        return cseg__diag(d, CSEG_ENOTFIT, path, 0, 0, "model is not fitted");
    json_t *root = to_json(m);
    if (!root)
        return cseg__diag(d, CSEG_ENOMEM, path, 0, 0, "out of memory");
    cseg_atomic_file af;
    int rc = cseg__atomic_open(&af, path, d);
    if (rc == 0) {
        if (json_dumpf(root, af.f, JSON_INDENT(2) | JSON_REAL_PRECISION(17) | JSON_PRESERVE_ORDER) <
            0) {
            cseg__atomic_abort(&af);
            rc = cseg__diag(d, CSEG_EIO, path, 0, 0, "cannot write model");
        } else {
            fputc('\n', af.f);
            rc = cseg__atomic_commit(&af, d);
        }
    }
    json_decref(root);
    return rc;
}

/* ---- loading ---- */

typedef struct loader {
    const char *path;
    cseg_diag *d;
} loader;

static int bad(loader *L, const char *what)
{
    return cseg__diag(L->d, CSEG_EFORMAT, L->path, 0, 0, "invalid model file: %s", what);
}

static int get_num(json_t *o, const char *key, double *out)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_number(v))
        return -1;
    *out = json_number_value(v);
    return isfinite(*out) ? 0 : -1;
}

static int get_str(json_t *o, const char *key, char *dst, size_t size, int required)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        if (size)
            dst[0] = 0;
        return required ? -1 : 0;
    }
    if (!json_is_string(v) || strlen(json_string_value(v)) >= size)
        return -1;
    strcpy(dst, json_string_value(v));
    return 0;
}

static int parse_day(const char *s, int64_t *out)
{
    long long t;
    if (strcmp(s, "auto") == 0) {
        *out = CSEG_DAY_AUTO;
        return 0;
    }
    if (cseg_parse_datetime(s, strlen(s), NULL, &t) < 0)
        return -1;
    *out = cseg__day_of(t);
    return 0;
}

static int load_source(loader *L, cseg_model *m, json_t *src)
{
    const char *kind = json_string_value(json_object_get(src, "kind"));
    if (!kind)
        return bad(L, "\"source.kind\" is missing");
    if (strcmp(kind, "customers") == 0) {
        char id[CSEG_ROLE_NAME_MAX];
        if (get_str(src, "id_column", id, sizeof id, 0) < 0)
            return bad(L, "\"source.id_column\" must be a string or null");
        return cseg_model_set_customers(m, id[0] ? id : NULL);
    }
    if (strcmp(kind, "transactions") != 0)
        return bad(L, "\"source.kind\" must be \"transactions\" or \"customers\"");
    json_t *r = json_object_get(src, "roles");
    cseg_txn_roles roles;
    cseg_rfm_params rfm;
    char df[256], asof[64];
    memset(&roles, 0, sizeof roles);
    cseg_rfm_params_init(&rfm);
    if (!json_is_object(r) || get_str(r, "customer", roles.customer, CSEG_ROLE_NAME_MAX, 1) ||
        get_str(r, "date", roles.date, CSEG_ROLE_NAME_MAX, 1) ||
        get_str(r, "invoice", roles.invoice, CSEG_ROLE_NAME_MAX, 0) ||
        get_str(r, "quantity", roles.quantity, CSEG_ROLE_NAME_MAX, 0) ||
        get_str(r, "price", roles.price, CSEG_ROLE_NAME_MAX, 0) ||
        get_str(r, "amount", roles.amount, CSEG_ROLE_NAME_MAX, 0) ||
        get_str(r, "product", roles.product, CSEG_ROLE_NAME_MAX, 0))
        return bad(L, "\"source.roles\" must name the customer and date columns");
    json_t *se = json_object_get(src, "score_edges");
    if (se) {
        double *e[3] = {rfm.edges.recency_hi, rfm.edges.frequency_lo, rfm.edges.monetary_lo};
        static const char *const nm[3] = {"recency_days", "frequency", "monetary"};
        for (int k = 0; k < 3; k++) {
            json_t *a = json_object_get(se, nm[k]);
            if (!json_is_array(a) || json_array_size(a) != 4)
                return bad(L, "\"source.score_edges\" needs recency_days, frequency and monetary, "
                              "4 edges each");
            for (size_t q = 0; q < 4; q++) {
                json_t *v = json_array_get(a, q);
                if (json_is_null(v))
                    e[k][q] = k == 0 ? -INFINITY : INFINITY;
                else if (json_is_number(v) && isfinite(json_number_value(v)))
                    e[k][q] = json_number_value(v);
                else
                    return bad(L, "\"source.score_edges\" holds numbers or null");
                /* Edges move one way: a higher score needs a better value. */
                if (q > 0 && (k == 0 ? e[k][q] > e[k][q - 1] : e[k][q] < e[k][q - 1]))
                    return bad(L, "\"source.score_edges\" must be ordered by score");
            }
        }
        rfm.has_edges = 1;
    }
    json_t *at = json_object_get(src, "attributes");
    if (at && (!json_is_array(at) || json_array_size(at) > CSEG_ATTRIBUTES_MAX))
        return bad(L, "\"source.attributes\" must be a list of at most 16 column names");
    for (size_t a = 0; a < json_array_size(at); a++) {
        const char *nm = json_string_value(json_array_get(at, a));
        if (!nm || !*nm || strlen(nm) >= CSEG_ROLE_NAME_MAX)
            return bad(L, "\"source.attributes\" must be a list of at most 16 column names");
        strcpy(roles.attributes[roles.n_attributes++], nm);
    }
    if (get_str(src, "date_format", df, sizeof df, 0) < 0)
        return bad(L, "\"source.date_format\" must be a string or null");
    if (get_str(src, "as_of", asof, sizeof asof, 1) < 0 || parse_day(asof, &rfm.as_of_day) < 0)
        return bad(L, "\"source.as_of\" must be \"auto\" or a date");
    double w;
    if (get_num(src, "spend_window_days", &w) < 0 || w < 0 || w > 1e6 || w != floor(w))
        return bad(L, "\"source.spend_window_days\" must be a whole number of days");
    rfm.spend_window_days = (int)w;
    json_t *dd = json_object_get(src, "drop_duplicates");
    if (!json_is_boolean(dd))
        return bad(L, "\"source.drop_duplicates\" must be true or false");
    rfm.drop_duplicates = json_is_true(dd);
    /* Models written before money was rounded have no "money_decimals": they
     * keep computing amounts as they did. */
    json_t *md = json_object_get(src, "money_decimals");
    if (!md)
        rfm.money_decimals = -1;
    else if (!json_is_integer(md) || json_integer_value(md) < -1 || json_integer_value(md) > 9)
        return bad(L, "\"source.money_decimals\" must be a whole number -1..9");
    else
        rfm.money_decimals = (int)json_integer_value(md);
    json_t *clv = json_object_get(src, "clv");
    const char *why = NULL;
    if (clv && (!json_is_object(clv) || cseg__clv_from_json(clv, &rfm.clv, &why) < 0))
        return bad(L, why ? why : "\"source.clv\" must be an object");
    return cseg_model_set_transactions(m, &roles, df[0] ? df : NULL, &rfm);
}

static int load_prep(loader *L, json_t *jp, cseg_prep **out)
{
    cseg_prep_params pp;
    cseg_prep_params_init(&pp);
    const char *scale = json_string_value(json_object_get(jp, "scale"));
    const char *logm = json_string_value(json_object_get(jp, "log"));
    if (!scale || !logm)
        return bad(L, "\"prep.scale\" and \"prep.log\" are required");
    pp.scale = strcmp(scale, "robust") == 0 ? CSEG_SCALE_ROBUST
               : strcmp(scale, "none") == 0 ? CSEG_SCALE_NONE
                                            : CSEG_SCALE_STANDARD;
    if (strcmp(scale, "standard") && strcmp(scale, "robust") && strcmp(scale, "none"))
        return bad(L, "\"prep.scale\" must be standard, robust or none");
    pp.log = strcmp(logm, "none") == 0 ? CSEG_LOG_NONE
             : strcmp(logm, "all") == 0 ? CSEG_LOG_ALL
                                        : CSEG_LOG_AUTO;
    if (strcmp(logm, "auto") && strcmp(logm, "none") && strcmp(logm, "all"))
        return bad(L, "\"prep.log\" must be auto, none or all");
    double v;
    if (get_num(jp, "skew_threshold", &v) == 0)
        pp.skew_threshold = v;
    if (get_num(jp, "max_levels", &v) == 0 && v >= 1 && v < 1e9)
        pp.max_levels = (size_t)v;
    json_t *cols = json_object_get(jp, "columns");
    if (!json_is_array(cols) || json_array_size(cols) == 0)
        return bad(L, "\"prep.columns\" must be a non-empty array");
    cseg_prep *p;
    if (cseg_prep_create(&p, &pp) < 0)
        return bad(L, "bad \"prep\" parameters");
    size_t nc = json_array_size(cols);
    p->cols = cseg__calloc(nc, sizeof *p->cols);
    if (!p->cols) {
        cseg_prep_free(p);
        return cseg__diag(L->d, CSEG_ENOMEM, L->path, 0, 0, "out of memory");
    }
    int rc = 0;
    for (size_t j = 0; j < nc && rc == 0; j++) {
        json_t *o = json_array_get(cols, j);
        cseg_prep_col *c = &p->cols[p->n_cols++];
        const char *name = json_string_value(json_object_get(o, "name"));
        const char *type = json_string_value(json_object_get(o, "type"));
        if (!name || !type || !(c->name = cseg__strdup(name))) {
            rc = bad(L, "each \"prep.columns\" entry needs a name and a type");
            break;
        }
        if (strcmp(type, "category") == 0) {
            json_t *lv = json_object_get(o, "levels");
            if (!json_is_array(lv)) {
                rc = bad(L, "a category column needs \"levels\"");
                break;
            }
            c->categorical = 1;
            c->levels = cseg__calloc(json_array_size(lv), sizeof *c->levels);
            if (!c->levels) {
                rc = CSEG_ENOMEM;
                break;
            }
            for (size_t q = 0; q < json_array_size(lv); q++) {
                const char *s = json_string_value(json_array_get(lv, q));
                if (!s || !(c->levels[c->n_levels] = cseg__strdup(s))) {
                    rc = bad(L, "category levels must be strings");
                    break;
                }
                c->n_levels++;
            }
        } else if (strcmp(type, "number") == 0) {
            json_t *lg = json_object_get(o, "log");
            if (get_num(o, "median", &c->median) || get_num(o, "shift", &c->shift) ||
                get_num(o, "center", &c->center) || get_num(o, "scale", &c->scale) ||
                !json_is_boolean(lg) || !isnormal(c->scale) || c->shift < 0) {
                /* A denormal scale would blow every value up to infinity. */
                rc = bad(L, "a number column needs finite median, center, a shift >= 0, a "
                            "scale that is a normal non-zero number, and a boolean log");
                break;
            }
            c->log = json_is_true(lg);
        } else {
            rc = bad(L, "a column type must be \"number\" or \"category\"");
        }
    }
    if (rc == 0 && cseg__prep_finish(p) < 0)
        rc = CSEG_ENOMEM;
    if (rc < 0) {
        cseg_prep_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

/* Read a flat array of exactly n finite numbers into dst. */
static int get_vector(json_t *v, size_t n, double *dst)
{
    if (!json_is_array(v) || json_array_size(v) != n)
        return -1;
    for (size_t j = 0; j < n; j++) {
        json_t *x = json_array_get(v, j);
        dst[j] = json_is_number(x) ? json_number_value(x) : NAN;
        if (!isfinite(dst[j]))
            return -1;
    }
    return 0;
}

/* Read rows arrays of cols finite numbers each into a new rows x cols
 * buffer (NULL when the shape or a value is wrong, or out of memory). */
static double *get_matrix(json_t *v, size_t rows, size_t cols)
{
    size_t sz;
    if (!json_is_array(v) || json_array_size(v) != rows || cseg__mul(rows, cols, &sz) < 0)
        return NULL;
    double *A = cseg__calloc(sz ? sz : 1, sizeof *A);
    for (size_t r = 0; A && r < rows; r++)
        if (get_vector(json_array_get(v, r), cols, A + r * cols) < 0) {
            free(A);
            A = NULL;
        }
    return A;
}

static int load_pca(loader *L, json_t *jp, size_t d, cseg_pca **out)
{
    double nc;
    if (get_num(jp, "n_components", &nc) < 0 || nc < 1 || nc > (double)d || nc != floor(nc))
        return bad(L, "\"pca.n_components\" must be a whole number 1..the prep outputs");
    size_t c = (size_t)nc;
    double *mean = cseg__calloc(d, sizeof *mean), *var = cseg__calloc(c, sizeof *var),
           *ratio = cseg__calloc(c, sizeof *ratio);
    double *comp = get_matrix(json_object_get(jp, "components"), c, d);
    int rc = 0;
    if (!mean || !var || !ratio)
        rc = cseg__diag(L->d, CSEG_ENOMEM, L->path, 0, 0, "out of memory");
    else if (!comp || get_vector(json_object_get(jp, "mean"), d, mean) < 0 ||
             get_vector(json_object_get(jp, "explained_variance"), c, var) < 0 ||
             get_vector(json_object_get(jp, "explained_variance_ratio"), c, ratio) < 0)
        rc = bad(L, "\"pca\" needs mean, components, explained_variance and "
                    "explained_variance_ratio of matching sizes");
    else if (cseg_pca_set(out, d, c, mean, comp, var, ratio) < 0)
        rc = bad(L, "\"pca\" values are not a valid PCA");
    free(mean);
    free(var);
    free(ratio);
    free(comp);
    return rc;
}

static int get_count(json_t *o, const char *key, size_t lo, size_t hi, size_t *out)
{
    double v;
    if (get_num(o, key, &v) < 0 || v < (double)lo || v > (double)hi || v != floor(v))
        return -1;
    *out = (size_t)v;
    return 0;
}

static int load_hclust(loader *L, json_t *jm, cseg_model *m, size_t k, size_t dim)
{
    const char *lk = json_string_value(json_object_get(jm, "linkage"));
    json_t *ap = json_object_get(jm, "approximate");
    cseg_linkage q;
    if (cseg_linkage_parse(lk, &q) < 0)
        return bad(L, "\"model.linkage\" must be ward, complete, average or single");
    if (!json_is_boolean(ap))
        return bad(L, "\"model.approximate\" must be true or false");
    double *C = get_matrix(json_object_get(jm, "centroids"), k, dim);
    if (!C)
        return bad(L, "\"model.centroids\" must be k rows of one finite value per model feature");
    int rc = cseg_model_set_hclust(m, q, json_is_true(ap), C, k, dim);
    free(C);
    return rc < 0 ? bad(L, "bad hierarchical model") : 0;
}

static int load_dbscan(loader *L, json_t *jm, cseg_model *m, size_t k, size_t dim)
{
    double eps;
    size_t ms, ncl;
    json_t *jl = json_object_get(jm, "core_labels");
    if (get_num(jm, "eps", &eps) < 0 || !(eps > 0) ||
        get_count(jm, "min_samples", 1, (size_t)1 << 40, &ms) < 0 ||
        get_count(jm, "n_clusters", 0, (size_t)1 << 30, &ncl) < 0 || ncl + 1 != k ||
        !json_is_array(jl))
        return bad(L, "a dbscan model needs eps > 0, min_samples, n_clusters = k - 1 and "
                      "core_labels");
    size_t nc = json_array_size(jl);
    double *P = nc ? get_matrix(json_object_get(jm, "core_points"), nc, dim) : NULL;
    int32_t *lab = cseg__calloc(nc ? nc : 1, sizeof *lab);
    cseg_dbscan *db = NULL;
    cseg_dbscan_params dp;
    cseg_dbscan_params_init(&dp);
    dp.eps = eps;
    dp.min_samples = ms;
    int rc = 0;
    if (!lab || (nc && !P)) {
        rc = bad(L, "\"model.core_points\" must hold one row of finite values per core label");
        goto out;
    }
    for (size_t i = 0; i < nc; i++) {
        json_t *x = json_array_get(jl, i);
        if (!json_is_integer(x) || json_integer_value(x) < 0 ||
            json_integer_value(x) >= (json_int_t)ncl) {
            rc = bad(L, "\"model.core_labels\" must be whole numbers 0..n_clusters-1");
            goto out;
        }
        lab[i] = (int32_t)json_integer_value(x);
    }
    if (cseg_dbscan_create(&db, &dp) < 0 || cseg_dbscan_set_core(db, P, lab, nc, dim, ncl) < 0 ||
        cseg_model_set_dbscan(m, db) < 0) {
        rc = bad(L, "bad dbscan model");
        goto out;
    }
    db = NULL;
out:
    cseg_dbscan_free(db);
    free(P);
    free(lab);
    return rc;
}

static int load_gmm(loader *L, json_t *jm, cseg_model *m, size_t k, size_t d)
{
    cseg_gmm_cov q;
    if (cseg_gmm_cov_parse(json_string_value(json_object_get(jm, "covariance_type")), &q) < 0)
        return bad(L, "\"model.covariance_type\" must be full, tied, diag or spherical");
    size_t nv = cseg_gmm_cov_size(q, k, d);
    double *w = cseg__calloc(k, sizeof *w), *cov = cseg__calloc(nv, sizeof *cov);
    double *mu = get_matrix(json_object_get(jm, "means"), k, d);
    cseg_gmm *g = NULL;
    cseg_gmm_params gp;
    cseg_gmm_params_init(&gp);
    gp.k = k;
    int rc = 0;
    if (!w || !cov || !mu || get_vector(json_object_get(jm, "weights"), k, w) < 0 ||
        get_vector(json_object_get(jm, "covariances"), nv, cov) < 0)
        rc = bad(L, "a gmm model needs weights (k), means (k x dim) and covariances of the "
                    "covariance type's size");
    else if (cseg_gmm_create(&g, &gp) < 0 ||
             cseg_gmm_set(g, k, d, q, w, mu, cov) < 0 ||
             cseg_model_set_gmm(m, g) < 0)
        rc = bad(L, "the gmm weights must be positive and sum to 1, and the covariances "
                    "positive definite");
    else
        g = NULL;
    cseg_gmm_free(g);
    free(w);
    free(cov);
    free(mu);
    return rc;
}

static int load_kmeans(loader *L, json_t *jm, size_t dim, cseg_kmeans **out)
{
    json_t *cent = json_object_get(jm, "centroids");
    if (!json_is_array(cent) || json_array_size(cent) == 0)
        return bad(L, "\"model.centroids\" must be a non-empty array");
    size_t k = json_array_size(cent);
    double kd, dd;
    if (get_num(jm, "k", &kd) || get_num(jm, "dim", &dd) || kd != (double)k || dd != (double)dim)
        return bad(L, "\"model.k\" and \"model.dim\" must match the centroids and the features");
    double *C = malloc(k * dim * sizeof *C);
    if (!C)
        return cseg__diag(L->d, CSEG_ENOMEM, L->path, 0, 0, "out of memory");
    for (size_t s = 0; s < k; s++) {
        json_t *row = json_array_get(cent, s);
        if (!json_is_array(row) || json_array_size(row) != dim) {
            free(C);
            return bad(L, "each centroid must have one value per model feature");
        }
        for (size_t j = 0; j < dim; j++) {
            json_t *v = json_array_get(row, j);
            C[s * dim + j] = json_is_number(v) ? json_number_value(v) : NAN;
            if (!isfinite(C[s * dim + j])) {
                free(C);
                return bad(L, "centroid values must be finite numbers");
            }
        }
    }
    cseg_kmeans_params kp;
    cseg_kmeans_params_init(&kp);
    kp.k = k;
    double v;
    if (get_num(jm, "seed", &v) == 0 && v >= 0)
        kp.seed = (uint64_t)v;
    if (get_num(jm, "n_init", &v) == 0 && v >= 1 && v < 1e9)
        kp.n_init = (size_t)v;
    if (get_num(jm, "max_iter", &v) == 0 && v >= 1 && v < 1e12)
        kp.max_iter = (size_t)v;
    if (get_num(jm, "tol", &v) == 0 && v >= 0)
        kp.tol = v;
    cseg_kmeans *km;
    int rc = cseg_kmeans_create(&km, &kp);
    if (rc == 0 && (rc = cseg_kmeans_set_centroids(km, C, k, dim)) < 0)
        cseg_kmeans_free(km);
    free(C);
    if (rc < 0)
        return bad(L, "bad k-means parameters");
    *out = km;
    return 0;
}

/* known_customers (optional): {"ids": [...], "segments": [...], "fingerprints": [...]}. */
static int load_known(loader *L, json_t *kn, cseg_model *m)
{
    if (!kn)
        return 0;
    json_t *ids = json_object_get(kn, "ids"), *lab = json_object_get(kn, "segments"),
           *fp = json_object_get(kn, "fingerprints");
    size_t n = json_array_size(ids);
    if (!json_is_object(kn) || !json_is_array(ids) || !json_is_array(lab) || !json_is_array(fp) ||
        json_array_size(lab) != n || json_array_size(fp) != n)
        return bad(L, "\"known_customers\" must hold arrays \"ids\", \"segments\" and "
                      "\"fingerprints\" of one length");
    const char **id = cseg__calloc(n ? n : 1, sizeof *id);
    int32_t *label = cseg__calloc(n ? n : 1, sizeof *label);
    uint64_t *fps = cseg__calloc(n ? n : 1, sizeof *fps);
    int rc = 0;
    if (!id || !label || !fps)
        rc = CSEG_ENOMEM;
    for (size_t i = 0; i < n && rc == 0; i++) {
        json_t *s = json_array_get(lab, i);
        const char *h = json_string_value(json_array_get(fp, i));
        char *end = NULL;
        id[i] = json_string_value(json_array_get(ids, i));
        if (!id[i])
            rc = bad(L, "\"known_customers.ids\" must be strings");
        else if (!json_is_integer(s) || json_integer_value(s) < 0 ||
                 (size_t)json_integer_value(s) >= cseg_model_k(m))
            rc = bad(L, "\"known_customers.segments\" must be segment ids 0..k-1");
        else if (!h || strlen(h) != 16 || strspn(h, "0123456789abcdef") != 16)
            rc = bad(L, "\"known_customers.fingerprints\" must be 16 hex digits each");
        else {
            label[i] = (int32_t)json_integer_value(s);
            fps[i] = (uint64_t)strtoull(h, &end, 16);
        }
    }
    if (rc == 0 && (rc = set_known(m, id, label, fps, n)) == CSEG_EINVAL)
        rc = bad(L, "\"known_customers.ids\" lists an id twice");
    free(id);
    free(label);
    free(fps);
    return rc;
}

static int load_root(cseg_model **out, json_t *root, const char *path, const json_error_t *err,
                     cseg_diag *d);

int cseg_model_load(cseg_model **out, const char *path, cseg_diag *d)
{
    json_error_t err;
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return cseg__diag(d, CSEG_EIO, path, 0, 0, "cannot open model file: %s", strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && !S_ISREG(st.st_mode)) {
        fclose(f);
        return cseg__diag(d, CSEG_EIO, path, 0, 0, "cannot read the model: %s",
                          S_ISDIR(st.st_mode) ? "it is a folder (give its model.json)"
                                              : "not a regular file");
    }
    json_t *root = json_loadf(f, JSON_REJECT_DUPLICATES, &err);
    int read_error = ferror(f);
    fclose(f);
    if (read_error) {
        json_decref(root);
        return cseg__diag(d, CSEG_EIO, path, 0, 0, "cannot read the model: read error");
    }
    return load_root(out, root, path, &err, d);
}

int cseg_model_from_json(cseg_model **out, const char *text, const char *name, cseg_diag *d)
{
    json_error_t err;
    *out = NULL;
    return load_root(out, json_loads(text, JSON_REJECT_DUPLICATES, &err), name, &err, d);
}

/* Validate a parsed model file (NULL: the JSON did not parse, err says why);
 * takes root. */
/* One tree of "classifier.trees". */
static int load_tree(json_t *jt, size_t d, size_t k, cseg_tree **out)
{
    json_t *left = json_object_get(jt, "left"), *right = json_object_get(jt, "right"),
           *feat = json_object_get(jt, "feature"), *th = json_object_get(jt, "threshold"),
           *cover = json_object_get(jt, "weighted_n_samples");
    size_t nn = json_array_size(left), nk;
    if (nn == 0 || json_array_size(right) != nn || json_array_size(feat) != nn ||
        json_array_size(th) != nn || json_array_size(cover) != nn || cseg__mul(nn, k, &nk) < 0)
        return CSEG_EFORMAT;
    cseg_tree_node *nodes = cseg__calloc(nn, sizeof *nodes);
    double *values = cseg__calloc(nk, sizeof *values);
    int rc = nodes && values ? 0 : CSEG_ENOMEM;
    for (size_t i = 0; i < nn && rc == 0; i++) {
        json_t *l = json_array_get(left, i), *r = json_array_get(right, i),
               *f = json_array_get(feat, i), *t = json_array_get(th, i),
               *c = json_array_get(cover, i);
        if (!json_is_integer(l) || !json_is_integer(r) || !json_is_integer(f) ||
            !json_is_number(t) || !json_is_number(c) ||
            llabs((long long)json_integer_value(l)) > INT32_MAX ||
            llabs((long long)json_integer_value(r)) > INT32_MAX ||
            llabs((long long)json_integer_value(f)) > INT32_MAX) {
            rc = CSEG_EFORMAT;
            break;
        }
        nodes[i] = (cseg_tree_node){(int32_t)json_integer_value(l), (int32_t)json_integer_value(r),
                                    (int32_t)json_integer_value(f), json_number_value(t), NAN, 0,
                                    json_number_value(c)};
    }
    if (rc == 0 && get_vector(json_object_get(jt, "value"), nk, values) < 0)
        rc = CSEG_EFORMAT;
    if (rc == 0 && cseg_tree_create(out, nodes, values, nn, d, k) < 0)
        rc = CSEG_EFORMAT;
    free(nodes);
    free(values);
    return rc;
}

static int load_classifier(loader *L, json_t *jc, cseg_model *m)
{
    if (!jc)
        return 0;
    const char *kind = json_string_value(json_object_get(jc, "kind"));
    json_t *trees = json_object_get(jc, "trees");
    size_t k, d, nt = json_array_size(trees);
    if (!json_is_object(jc) || !kind ||
        (strcmp(kind, "tree") != 0 && strcmp(kind, "forest") != 0 && strcmp(kind, "svm") != 0))
        return bad(L, "\"classifier.kind\" must be tree, forest or svm");
    if (get_count(jc, "k", m->k, m->k, &k) < 0 ||
        get_count(jc, "dim", cseg_model_dim(m), cseg_model_dim(m), &d) < 0)
        return bad(L, "\"classifier.k\" and \"classifier.dim\" must match the model");
    if (strcmp(kind, "svm") == 0) {
        double *W = get_matrix(json_object_get(jc, "weights"), k, d + 1);
        cseg_linear *l = NULL;
        int rc = W ? cseg_linear_create(&l, W, k, d) : CSEG_EFORMAT;
        free(W);
        if (rc == 0)
            rc = cseg_model_set_svm(m, l);
        if (rc == CSEG_ENOMEM)
            return cseg__diag(L->d, rc, L->path, 0, 0, "out of memory");
        return rc < 0 ? bad(L, "\"classifier.weights\" must be k rows of dim + 1 finite numbers")
                      : 0;
    }
    if (nt == 0 || (strcmp(kind, "tree") == 0 && nt != 1))
        return bad(L, "\"classifier.trees\" must hold the classifier's trees");
    cseg_tree **ts = cseg__calloc(nt, sizeof *ts);
    if (!ts)
        return cseg__diag(L->d, CSEG_ENOMEM, L->path, 0, 0, "out of memory");
    int rc = 0;
    for (size_t t = 0; t < nt && rc == 0; t++)
        rc = load_tree(json_array_get(trees, t), d, k, &ts[t]);
    cseg_forest *f = NULL;
    if (rc == 0)
        rc = cseg_forest_create(&f, ts, nt);
    else
        for (size_t t = 0; t < nt; t++)
            cseg_tree_free(ts[t]);
    free(ts);
    if (rc == 0)
        rc = cseg_model_set_classifier(m, kind, f);
    if (rc == CSEG_ENOMEM)
        return cseg__diag(L->d, rc, L->path, 0, 0, "out of memory");
    return rc < 0 ? bad(L, "a tree of \"classifier.trees\" is inconsistent") : 0;
}

static int load_root(cseg_model **out, json_t *root, const char *path, const json_error_t *err,
                     cseg_diag *d)
{
    loader L = {path, d};
    cseg_model *m = NULL;
    cseg_prep *prep = NULL;
    cseg_kmeans *km = NULL;
    int rc;
    *out = NULL;
    if (!root)
        return cseg__diag(d, CSEG_EFORMAT, path, err->line > 0 ? err->line : 0,
                          err->column > 0 ? err->column : 0, "not a valid JSON model file: %s",
                          err->text);
    const char *fmt = json_string_value(json_object_get(root, "format"));
    json_t *ver = json_object_get(root, "version");
    if (!json_is_object(root) || !fmt || strcmp(fmt, "custseg-model") != 0) {
        rc = bad(&L, "not a custseg model (\"format\" is not \"custseg-model\")");
        goto out;
    }
    if (!json_is_integer(ver)) {
        rc = bad(&L, "\"version\" must be a whole number");
        goto out;
    }
    json_int_t version = json_integer_value(ver);
    if (version < 1 || version > CSEG_MODEL_FORMAT_VERSION) {
        rc = cseg__diag(d, CSEG_EFORMAT, path, 0, 0,
                        "model format version %lld is not supported (this custseg %s reads "
                        "versions 1..%d)",
                        (long long)version, CSEG_VERSION_STRING, CSEG_MODEL_FORMAT_VERSION);
        goto out;
    }
    if ((rc = cseg_model_create(&m)) < 0)
        goto out;
    json_t *src = json_object_get(root, "source");
    if (!json_is_object(src)) {
        rc = bad(&L, "\"source\" is missing");
        goto out;
    }
    if ((rc = load_source(&L, m, src)) < 0)
        goto out;
    json_t *jp = json_object_get(root, "prep");
    if (!json_is_object(jp)) {
        rc = bad(&L, "\"prep\" is missing");
        goto out;
    }
    if ((rc = load_prep(&L, jp, &prep)) < 0)
        goto out;
    cseg_model_set_prep(m, prep);
    prep = NULL;
    json_t *jpca = json_object_get(root, "pca");
    if (jpca && (version < 2 || !json_is_object(jpca))) {
        rc = bad(&L, "\"pca\" must be an object (format version 2)");
        goto out;
    }
    if (jpca) {
        cseg_pca *pca = NULL;
        if ((rc = load_pca(&L, jpca, cseg_prep_n_outputs(cseg_model_prep(m)), &pca)) < 0)
            goto out;
        cseg_model_set_pca(m, pca);
    }
    json_t *jm = json_object_get(root, "model");
    if (!json_is_object(jm)) {
        rc = bad(&L, "\"model\" is missing");
        goto out;
    }
    const char *algo = json_string_value(json_object_get(jm, "algorithm"));
    size_t dim = cseg_model_dim(m), mk, md;
    if (!algo || (version < 2 && strcmp(algo, "kmeans") != 0)) {
        rc = bad(&L, version < 2 ? "\"model.algorithm\" must be \"kmeans\""
                                 : "\"model.algorithm\" must be kmeans, hclust, dbscan or gmm");
        goto out;
    }
    if (get_count(jm, "k", 1, (size_t)1 << 30, &mk) < 0 ||
        get_count(jm, "dim", dim, dim, &md) < 0) {
        rc = bad(&L, "\"model.k\" and \"model.dim\" must match the model and the features");
        goto out;
    }
    if (strcmp(algo, "kmeans") == 0) {
        if ((rc = load_kmeans(&L, jm, dim, &km)) < 0)
            goto out;
        if (cseg_kmeans_k(km) != mk || cseg_model_set_kmeans(m, km) < 0) {
            rc = bad(&L, "\"model.k\" and \"model.dim\" must match the centroids and the "
                         "features");
            goto out;
        }
        km = NULL;
    } else if (strcmp(algo, "hclust") == 0) {
        rc = load_hclust(&L, jm, m, mk, dim);
    } else if (strcmp(algo, "dbscan") == 0) {
        rc = load_dbscan(&L, jm, m, mk, dim);
    } else if (strcmp(algo, "gmm") == 0) {
        rc = load_gmm(&L, jm, m, mk, dim);
    } else {
        rc = bad(&L, "\"model.algorithm\" must be kmeans, hclust, dbscan or gmm");
    }
    if (rc < 0)
        goto out;
    json_t *segs = json_object_get(root, "segments");
    size_t k = cseg_model_k(m);
    if (!json_is_array(segs) || json_array_size(segs) != k) {
        rc = bad(&L, "\"segments\" must list one entry per cluster");
        goto out;
    }
    {
        const char **names = cseg__calloc(k, sizeof *names);
        if (!names) {
            rc = CSEG_ENOMEM;
            goto out;
        }
        for (size_t s = 0; s < k; s++) {
            json_t *o = json_array_get(segs, s);
            names[s] = json_string_value(json_object_get(o, "name"));
            if (!names[s]) {
                free(names);
                rc = bad(&L, "every segment needs a \"name\"");
                goto out;
            }
        }
        rc = cseg_model_set_names(m, names, k);
        free(names);
        if (rc < 0)
            goto out;
    }
    if ((rc = load_known(&L, json_object_get(root, "known_customers"), m)) < 0)
        goto out;
    if ((rc = load_classifier(&L, json_object_get(root, "classifier"), m)) < 0)
        goto out;
    json_t *jref = json_object_get(root, "reference");
    if (jref) {
        cseg__ref *ref = NULL;
        if ((rc = cseg__ref_from_json(jref, m->k, &ref)) == CSEG_ENOMEM) {
            rc = cseg__diag(L.d, rc, L.path, 0, 0, "out of memory");
            goto out;
        }
        int same = rc == 0 && ref->n_features == cseg_prep_n_inputs(m->prep);
        for (size_t j = 0; same && j < ref->n_features; j++) /* the same columns, of the same kind */
            same = strcmp(ref->f[j].name, cseg_prep_input_name(m->prep, j)) == 0 &&
                   !ref->f[j].is_text == !m->prep->cols[j].categorical;
        if (!same) {
            cseg__ref_free(ref);
            rc = bad(&L, "\"reference\" must describe the training customers' input columns and "
                         "segments");
            goto out;
        }
        cseg__model_put_reference(m, ref);
    }
    json_t *meta = json_object_get(root, "training");
    if (json_is_object(meta)) {
        char *txt = json_dumps(meta, JSON_COMPACT | JSON_REAL_PRECISION(17) | JSON_PRESERVE_ORDER);
        if (txt) {
            rc = cseg_model_set_meta(m, txt);
            free(txt);
            if (rc < 0)
                goto out;
        }
    }
    rc = 0;
out:
    json_decref(root);
    cseg_prep_free(prep);
    cseg_kmeans_free(km);
    if (rc < 0) {
        cseg_model_free(m);
        m = NULL;
    }
    *out = m;
    return rc;
}
