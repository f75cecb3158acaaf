/* custseg — the segmentation pipeline (include/custseg/segment.h): input ->
 * features -> preprocessing and PCA -> candidates -> the chosen one ordered,
 * installed and named -> profiles. The outputs are built in output.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/internal.h"
#include "../drift/internal.h"
#include "../pca/internal.h"
#include "../prep/internal.h"
#include "../profile/internal.h"
#include "../table/internal.h"
#include "custseg/drift.h"
#include "internal.h"

void cseg_segment_params_init(cseg_segment_params *p)
{
    memset(p, 0, sizeof *p);
    cseg_kmeans_params kp;
    cseg_kmeans_params_init(&kp);
    p->algo = CSEG_ALGO_KMEANS;
    p->linkage = CSEG_LINKAGE_WARD;
    p->k_min = 2;
    p->k_max = 10;
    p->covariance = CSEG_GMM_FULL;
    p->tol = kp.tol;
    p->kmeans_algorithm = kp.algorithm;
    cseg_prep_params_init(&p->prep);
    p->silhouette_sample = CSEG_SAMPLE_AUTO;
    p->k_sample = CSEG_SAMPLE_AUTO;
    p->input_name = "";
}

const char *cseg_segment_params_check(const cseg_segment_params *p)
{
    if ((unsigned)p->algo > CSEG_ALGO_GMM)
        return "algo is not a known algorithm";
    if ((unsigned)p->linkage > CSEG_LINKAGE_SINGLE)
        return "linkage is not a known linkage";
    if (p->height < 0 || !isfinite(p->height))
        return "height must be >= 0";
    if (p->height > 0 && p->algo != CSEG_ALGO_HCLUST)
        return "height needs a hierarchical algorithm";
    if (p->height > 0 && p->k)
        return "give k or height, not both";
    if (p->algo == CSEG_ALGO_DBSCAN && p->k)
        return "dbscan finds the number of segments itself: k must be 0";
    if (!p->k && (p->k_min < 2 || p->k_min > p->k_max))
        return "k_min must be >= 2 and at most k_max";
    if (!(p->eps >= 0) || !isfinite(p->eps))
        return "eps must be >= 0";
    if (!(p->tol >= 0))
        return "tol must be >= 0";
    if (!(p->pca >= 0) || (p->pca >= 1 && p->pca != floor(p->pca)) || p->pca > 10000)
        return "pca must be 0, a whole number of components or a share in (0, 1)";
    if (cseg_gmm_cov_name(p->covariance) == NULL)
        return "covariance is not a known covariance type";
    if (p->k && p->names && p->n_names != p->k)
        return "names must give k names";
    if ((p->n_features && !p->features) || (p->n_names && !p->names) || (p->n_audit && !p->audit))
        return "features, names and audit need their arrays";
    return NULL;
}

static void free_list(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

/* ---- input: the customer table, its features and the model's source ---- */

void cseg__input_free(cseg__input *in)
{
    free(in->features);
    cseg_model_free(in->model);
    cseg_table_free(in->owned);
    memset(in, 0, sizeof *in);
}

/* Say where a failure came from when the step itself left diag empty. */
static int blame(cseg_diag *d, int rc, const char *step)
{
    if (d && !d->msg[0] && !d->file[0])
        snprintf(d->msg, sizeof d->msg, "%s: %s", step, cseg_strerror(rc));
    return rc;
}

static int input_rfm(cseg__input *in, const cseg_txn_roles *roles, const char *date_format,
                     const cseg_rfm_params *rfm, const cseg_segment_params *p,
                     const cseg__seg_split *split, cseg_diag *d);
static int input_customers(cseg__input *in, const cseg_table *t, const char *id_column,
                           const cseg_segment_params *p, size_t n_all, cseg_diag *d);

int cseg__input_transactions(cseg__input *in, const cseg_table *txn, const cseg_txn_roles *roles,
                             const char *date_format, const cseg_rfm_params *rfm,
                             const cseg_segment_params *p, cseg_diag *d)
{
    cseg_rfm_params rp;
    memset(in, 0, sizeof *in);
    if (p->n_audit)
        return cseg__diag(d, CSEG_EPARAM, NULL, 0, 0,
                          "audit columns are columns of a customer table (fit), not of a "
                          "transaction log");
    if (rfm)
        rp = *rfm;
    else
        cseg_rfm_params_init(&rp);
    int rc = cseg__progress(p, CSEG_STAGE_FEATURES, 0, 0, 1, cseg_table_n_rows(txn), 0);
    if (rc < 0)
        return rc;
    if ((rc = cseg_rfm_compute(&in->owned, txn, roles, &rp, &in->quality, d)) < 0) {
        if (d && !d->file[0])
            snprintf(d->file, sizeof d->file, "%s", p->input_name ? p->input_name : "");
        return rc;
    }
    /* Lifetime value: fitted on this population, then its columns. */
    if (rp.clv.enabled && !rp.clv.has_fit) {
        if (p->n_threads && !rp.clv.n_threads)
            rp.clv.n_threads = p->n_threads;
        if ((rc = cseg_clv_fit_table(&rp.clv, in->owned, d)) < 0 ||
            (rc = cseg_clv_add_columns(in->owned, &rp.clv, d)) < 0)
            return blame(d, rc, "clv");
        const cseg_clv_fit *fits[2] = {&rp.clv.bgnbd, &rp.clv.gamma_gamma};
        for (int j = 0; j < 2; j++)
            if (fits[j]->status != CSEG_CLV_CONVERGED)
                cseg__log(p, CSEG_LOG_NOTE, "clv: %s %s%s", j == 0 ? "BG/NBD" : "Gamma-Gamma",
                          fits[j]->message,
                          fits[j]->kind ? "" : " (no expected_order_value and no clv)");
        /* The model checked on the log's last quarter (at least 28 days):
         * fitted on the rest, its expected purchases against the actual. */
        int64_t last = in->quality.as_of_day - 1, first = in->quality.first_day;
        if (last - first >= 4 * 28) {
            cseg_diag d2;
            cseg_diag_clear(&d2);
            int64_t cal_end = first + (last - first) * 3 / 4;
            if (cseg_clv_check_holdout(&in->clv_check, txn, roles, &rp, cal_end, last, &d2) == 0)
                in->has_clv_check = 1;
            else
                cseg__log(p, CSEG_LOG_NOTE, "clv: no holdout check: %s", d2.msg);
        }
    }
    return input_rfm(in, roles, date_format, &rp, p, NULL, d);
}

/* cseg_rfm_score_edges of the customers of every piece: each piece's
 * extremes gathered, the greatest (least) of them taken. */
static int score_edges(const cseg_table *t, cseg_rfm_edges *e, const cseg__seg_split *split)
{
    int rc = cseg_rfm_score_edges(t, e); /* the columns are every piece's alike */
    if (!split || rc < 0)
        return rc;
    double *all = NULL, *mine[3] = {e->recency_hi, e->frequency_lo, e->monetary_lo};
    size_t len = 0;
    double v[12];
    for (int k = 0; k < 3; k++)
        memcpy(v + 4 * k, mine[k], 4 * sizeof *v);
    if ((rc = split->allgather(split->ctx, v, sizeof v, (char **)&all, &len)) < 0)
        return rc;
    for (size_t q = 0; q < len / sizeof v; q++)
        for (int k = 0; k < 3; k++)
            for (int j = 0; j < 4; j++)
                mine[k][j] = k == 0 ? fmax(mine[k][j], all[q * 12 + 4 * k + j])
                                    : fmin(mine[k][j], all[q * 12 + 4 * k + j]);
    free(all);
    return 0;
}

/* The rest of a log's input, once in->owned (or, over pieces, in->customers:
 * this piece's block) has its customers and in->quality its cleaning
 * counts: the features to cluster and the model that scores new customers
 * the same way. */
static int input_rfm(cseg__input *in, const cseg_txn_roles *roles, const char *date_format,
                     const cseg_rfm_params *rfm, const cseg_segment_params *p,
                     const cseg__seg_split *split, cseg_diag *d)
{
    static const char *const dflt[] = {CSEG_RFM_COL_RECENCY, CSEG_RFM_COL_FREQUENCY,
                                       CSEG_RFM_COL_MONETARY};
    cseg_rfm_params rp = *rfm;
    int rc = 0;
    if (in->owned)
        in->customers = in->owned;
    in->has_quality = 1;
    /* A century of transactions is more likely a placeholder date (9999-12-31,
     * 1900-01-01) than a history: recency and tenure would be meaningless. */
    if (in->quality.last_day - in->quality.first_day > 36525) {
        char a[32], b[32];
        cseg_format_date(in->quality.first_day, a, sizeof a);
        cseg_format_date(in->quality.last_day, b, sizeof b);
        cseg__log(p, CSEG_LOG_NOTE, "%s: the purchases span %lld years (%s .. %s): check the date "
                                    "column for placeholder dates, or give --as-of",
                  p->input_name ? p->input_name : "",
                  (long long)((double)(in->quality.last_day - in->quality.first_day) / 365.2425),
                  a, b);
    }
    in->id_column = CSEG_RFM_COL_CUSTOMER_ID;
    in->revenue_column = CSEG_RFM_COL_MONETARY;
    in->rfm = 1;
    size_t nf = p->features ? p->n_features : 3;
    const char *const *f = p->features ? p->features : dflt;
    in->features = cseg__calloc(nf, sizeof *in->features);
    /* over pieces the score edges below are gathered: a failure here is
     * every piece's first */
    if (split && (rc = split->agree(split->ctx, in->features ? 0 : CSEG_ENOMEM, 0, d)) < 0)
        return rc;
    if (!in->features)
        return CSEG_ENOMEM;
    for (size_t j = 0; j < nf; j++) {
        if (cseg_table_find(in->customers, f[j]) < 0 || strcmp(f[j], CSEG_RFM_COL_CUSTOMER_ID) == 0)
            return cseg__diag(d, CSEG_EPARAM, NULL, 0, 0,
                              "features: \"%s\" is not a customer feature (see docs/cli.md for "
                              "the list)", f[j]);
        in->features[j] = f[j];
    }
    in->n_features = nf;
    /* The model scores new customers against this population's score classes. */
    if (!rp.has_edges) {
        if ((rc = score_edges(in->customers, &rp.edges, split)) == 0)
            rp.has_edges = 1;
        else if (split && rc != CSEG_ENOCOL) /* a gathering failed: every piece's */
            return rc;
    }
    if ((rc = cseg_model_create(&in->model)) < 0 ||
        (rc = cseg_model_set_transactions(in->model, roles, date_format, &rp)) < 0)
        return rc;
    return 0;
}

/* monetary, revenue, spend, sales, total_spend ... in any case, '_', '-' and
 * ' ' ignored (not Spending_Score: a score is no money). */
static int is_revenue_name(const char *name)
{
    static const char *const names[] = {"monetary", "revenue", "spend", "sales", "totalspend",
                                        "totalrevenue", "totalsales", NULL};
    char sq[64];
    size_t k = 0;
    for (const char *c = name; *c && k + 1 < sizeof sq; c++)
        if (*c != '_' && *c != '-' && *c != ' ')
            sq[k++] = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
    sq[k] = 0;
    for (const char *const *q = names; *q; q++)
        if (strcmp(sq, *q) == 0)
            return 1;
    return 0;
}

/* Is name one of the audited columns (kept out of the clustering)? */
static int is_audited(const cseg_segment_params *p, const char *name)
{
    for (size_t a = 0; a < p->n_audit; a++)
        if (strcmp(p->audit[a], name) == 0)
            return 1;
    return 0;
}

int cseg__input_customers(cseg__input *in, const cseg_table *t, const char *id_column,
                          const cseg_segment_params *p, cseg_diag *d)
{
    return input_customers(in, t, id_column, p, cseg_table_n_rows(t), d);
}

/* n_all: the customers of every piece (t holds some of them). */
static int input_customers(cseg__input *in, const cseg_table *t, const char *id_column,
                           const cseg_segment_params *p, size_t n_all, cseg_diag *d)
{
    size_t nc = cseg_table_n_cols(t), nf = 0;
    const char *input = p->input_name ? p->input_name : "";
    memset(in, 0, sizeof *in);
    in->customers = t;
    in->id_column = id_column;
    if (n_all == 0)
        return cseg__diag(d, CSEG_EEMPTY, input, 0, 0, "no data rows after the header");
    if (id_column && cseg_table_find(t, id_column) < 0)
        return cseg__diag(d, CSEG_ENOCOL, input, 0, 0, "the id column \"%s\" is not in the table",
                          id_column);
    if (!(in->features = cseg__calloc(p->features ? p->n_features : nc, sizeof *in->features)))
        return CSEG_ENOMEM;
    for (size_t a = 0; a < p->n_audit; a++) {
        if (cseg_table_find(t, p->audit[a]) < 0)
            return cseg__diag(d, CSEG_EPARAM, NULL, 0, 0, "audit: %s has no column \"%s\"", input,
                              p->audit[a]);
        /* Each customer a group of one, every id written into segments.json
         * and the report (which hold no customer's id). */
        if (id_column && strcmp(p->audit[a], id_column) == 0)
            return cseg__diag(d, CSEG_EPARAM, NULL, 0, 0,
                              "audit: \"%s\" is the customers' id column: each customer would "
                              "be a group of one, and the files would list every id",
                              p->audit[a]);
    }
    if (p->features) {
        for (size_t j = 0; j < p->n_features; j++) {
            if (cseg_table_find(t, p->features[j]) < 0)
                return cseg__diag(d, CSEG_EPARAM, NULL, 0, 0, "features: %s has no column \"%s\"",
                                  input, p->features[j]);
            if (is_audited(p, p->features[j]))
                return cseg__diag(d, CSEG_EPARAM, NULL, 0, 0,
                                  "features: \"%s\" is audited, so it is kept out of the "
                                  "clustering",
                                  p->features[j]);
            /* The id is read as text, never a feature: a model on it could
             * not read its own training data back. */
            if (id_column && strcmp(p->features[j], id_column) == 0)
                return cseg__diag(d, CSEG_EPARAM, NULL, 0, 0,
                                  "features: \"%s\" is the customer id column, which is never "
                                  "a feature",
                                  p->features[j]);
            for (size_t k = 0; k < j; k++)
                if (strcmp(p->features[k], p->features[j]) == 0)
                    return cseg__diag(d, CSEG_EPARAM, NULL, 0, 0,
                                      "features: \"%s\" is named twice", p->features[j]);
            in->features[nf++] = p->features[j];
        }
    } else {
        /* Every column but the id and the audited ones; dates are no features. */
        for (size_t j = 0; j < nc; j++) {
            const char *name = cseg_table_col_name(t, j);
            if ((id_column && strcmp(name, id_column) == 0) || is_audited(p, name))
                continue;
            if (cseg_table_col_type(t, j) == CSEG_COL_DATETIME) {
                cseg__log(p, CSEG_LOG_NOTE, "date column \"%s\" is not used as a feature", name);
                continue;
            }
            in->features[nf++] = name;
        }
        if (nf == 0)
            return cseg__diag(d, CSEG_EEMPTY, input, 0, 0, "no feature columns besides the id");
    }
    in->n_features = nf;
    /* One rule for revenue, decided here: the console, segments.json and the
     * report all use it. */
    if (p->revenue_column) {
        long jr = cseg_table_find(t, p->revenue_column);
        if (jr < 0 || !cseg_table_numbers(t, (size_t)jr))
            return cseg__diag(d, CSEG_EPARAM, NULL, 0, 0, "revenue: %s has no number column \"%s\"",
                              input, p->revenue_column);
        in->revenue_column = p->revenue_column;
    } else {
        for (size_t j = 0; j < nc && !in->revenue_column; j++)
            if (cseg_table_col_type(t, j) == CSEG_COL_NUMBER &&
                is_revenue_name(cseg_table_col_name(t, j)))
                in->revenue_column = cseg_table_col_name(t, j);
    }
    /* A feature read as categories because of a few values that were not
     * numbers (or dates) is worth a word: it may be one bad value. */
    for (size_t f = 0; f < nf; f++) {
        long line = 0;
        cseg_coltype was = CSEG_COL_NUMBER;
        long j = cseg_table_find(t, in->features[f]);
        const char *why = j >= 0 ? cseg_table_text_because(t, (size_t)j, &line, &was) : NULL;
        if (why)
            cseg__log(p, CSEG_LOG_NOTE, "%s: column \"%s\" is used as categories: its values were "
                                        "%s until \"%s\" on line %ld",
                      input, in->features[f], was == CSEG_COL_DATETIME ? "dates" : "numbers",
                      why, line);
    }
    int rc;
    if ((rc = cseg_model_create(&in->model)) < 0 ||
        (rc = cseg_model_set_customers(in->model, id_column)) < 0)
        return rc;
    return 0;
}

/* split: every piece's rc made every piece's (the lowest key first); a
 * no-op for one process. */
static int agree(const cseg__seg_split *split, int rc, int64_t key, cseg_diag *d)
{
    return split ? split->agree(split->ctx, rc, key, d) : rc;
}

int cseg__prepare(const cseg_segment_params *p, cseg__input *in, const cseg__seg_split *split,
                  double **Zout, size_t *dout, cseg_diag *diag)
{
    cseg_prep *prep = NULL;
    cseg_pca *pca = NULL;
    double *X = NULL, *Z = NULL;
    size_t n = cseg_table_n_rows(in->customers), n_all = split ? split->km->n_all : n;
    *Zout = NULL;
    /* Steps: fitting the preprocessing, transforming, PCA. */
    size_t steps = p->pca > 0 ? 3 : 2;
    int rc = cseg__progress(p, CSEG_STAGE_PREPARE, 0, 0, steps, n_all, 0);
    if (rc < 0)
        return rc;
    if ((rc = agree(split, cseg_prep_create(&prep, &p->prep), 0, diag)) < 0 ||
        (rc = cseg__prep_fit_split(prep, in->customers, in->features, in->n_features,
                                   split ? split->sc : NULL, diag)) < 0) {
        /* The data's fault (a column without numbers, values too large): name the input. */
        if (diag && diag->msg[0] && !diag->file[0])
            snprintf(diag->file, sizeof diag->file, "%s", p->input_name ? p->input_name : "");
        blame(diag, rc, "preprocessing");
        goto out;
    }
    size_t q = cseg_prep_n_outputs(prep), d = q;
    /* Rows on 64-byte lines (and huge pages when large): with glibc's
     * 16-byte offset of a large block, each row of 8 features straddled
     * two cache lines, and a k-means iteration over 1,000,000 x 8 took
     * about 9% longer. */
    if (!(X = cseg__alloc_aligned((n ? n : 1) * q, sizeof *X)))
        rc = cseg__diag(diag, CSEG_ENOMEM, NULL, 0, 0, "out of memory (%zu x %zu features)", n, q);
    if ((rc = agree(split, rc, 0, diag)) < 0)
        goto out;
    if ((rc = cseg__progress(p, CSEG_STAGE_PREPARE, 0, 1, steps, n_all, q)) < 0)
        goto out;
    if ((rc = cseg_prep_transform(prep, in->customers, X, diag)) < 0)
        blame(diag, rc, "preprocessing");
    if ((rc = agree(split, rc, 0, diag)) < 0)
        goto out;
    /* Squared distances between values beyond 1e150 overflow (every
     * algorithm measures them): said here, naming the value, rather than
     * fits whose every distance is infinite. */
    long bad_line = 0;
    for (size_t i = 0; i < n * q; i++)
        if (!(fabs(X[i]) <= 1e150)) {
            long line = cseg_table_row_line(in->customers, i / q);
            bad_line = line > 0 ? line : 0;
            rc = cseg__diag(diag, CSEG_ERANGE, p->input_name, bad_line, 0,
                            "feature \"%s\" is too large to cluster (%g after the "
                            "preprocessing; at most 1e150, beyond which squared distances "
                            "overflow): use a log transform (--log all) or standard scaling",
                            cseg_prep_output_name(prep, i % q), X[i]);
            break;
        }
    if ((rc = agree(split, rc, bad_line, diag)) < 0)
        goto out;
    if (p->pca > 0) {
        if (p->pca >= 1 && p->pca > (double)q) {
            rc = cseg__diag(diag, CSEG_EPARAM, NULL, 0, 0,
                            "pca %g is more components than the %zu model features", p->pca, q);
            goto out;
        }
        if ((rc = cseg__progress(p, CSEG_STAGE_PREPARE, 0, 2, steps, n_all, q)) < 0)
            goto out;
        cseg_pca_params pp;
        cseg_pca_params_init(&pp);
        pp.n_components = p->pca >= 1 ? (size_t)p->pca : 0;
        pp.variance_share = p->pca >= 1 ? 1.0 : p->pca;
        pp.n_threads = p->n_threads;
        /* Over pieces: each block's sums and products added in block order
         * along them (cseg__pca_fit_split), the one-process bits. */
        if (split && n_all < q) { /* fewer customers than features: all of them, on each */
            char *all = NULL;
            size_t len = 0;
            if ((rc = split->allgather(split->ctx, X, n * q * sizeof *X, &all, &len)) == 0)
                rc = cseg_pca_fit_params(&pca, (const double *)(void *)all, n_all, q, &pp, diag);
            free(all);
        } else {
            rc = split ? cseg__pca_fit_split(&pca, X, n, q, &pp, split->sc, n_all, diag)
                       : cseg_pca_fit_params(&pca, X, n, q, &pp, diag);
        }
        if (rc < 0) {
            blame(diag, rc, "PCA step");
            goto out;
        }
        d = cseg_pca_n_components(pca);
        Z = cseg__alloc_aligned((n ? n : 1) * d, sizeof *Z);
        if (!Z || cseg_pca_transform(pca, X, n, Z) < 0)
            rc = cseg__diag(diag, CSEG_ENOMEM, NULL, 0, 0, "out of memory");
        if ((rc = agree(split, rc, 0, diag)) < 0)
            goto out;
        cseg__free_aligned(X);
        X = Z;
        Z = NULL;
    }
    if (cseg_model_set_prep(in->model, prep) < 0 ||
        (pca && cseg_model_set_pca(in->model, pca) < 0)) {
        rc = cseg__diag(diag, CSEG_EINVAL, NULL, 0, 0,
                        "internal error: pipeline steps do not fit together");
        goto out;
    }
    prep = NULL;
    pca = NULL;
    *Zout = X;
    *dout = d;
    X = NULL;
out:
    cseg__free_aligned(X);
    cseg__free_aligned(Z);
    cseg_pca_free(pca);
    cseg_prep_free(prep);
    return rc;
}

/* ---- the pipeline ---- */

static char **copy_list(const char *const *v, size_t n)
{
    char **c = cseg__calloc(n + 1, sizeof *c);
    for (size_t i = 0; c && i < n; i++)
        if (!(c[i] = cseg__strdup(v[i]))) {
            free_list(c);
            return NULL;
        }
    return c;
}

typedef struct order_key {
    double key;
    size_t s;
} order_key;

static int cmp_order(const void *a, const void *b)
{
    const order_key *x = a, *y = b;
    if (x->key != y->key)
        return x->key > y->key ? -1 : 1;
    return x->s < y->s ? -1 : x->s > y->s;
}

/* The parameters as the result keeps them: copies of the caller's strings,
 * defaults resolved. The callbacks stay until the call returns. */
static int keep_params(cseg_segmentation *r, const cseg_segment_params *p)
{
    r->p = *p;
    if (!(r->input_name = cseg__strdup(p->input_name ? p->input_name : "")))
        return CSEG_ENOMEM;
    r->p.input_name = r->input_name;
    if (p->names && !(r->names = copy_list(p->names, p->n_names)))
        return CSEG_ENOMEM;
    r->p.names = (const char *const *)r->names;
    if (p->features && !(r->feats = copy_list(p->features, p->n_features)))
        return CSEG_ENOMEM;
    r->p.features = (const char *const *)r->feats;
    if (p->audit && !(r->audits = copy_list(p->audit, p->n_audit)))
        return CSEG_ENOMEM;
    r->p.audit = (const char *const *)r->audits;
    if (!r->p.n_init || !r->p.max_iter) {
        cseg_kmeans_params kp;
        cseg_gmm_params gp;
        cseg_kmeans_params_init(&kp);
        cseg_gmm_params_init(&gp);
        if (!r->p.n_init)
            r->p.n_init = p->algo == CSEG_ALGO_GMM ? gp.n_init : kp.n_init;
        if (!r->p.max_iter)
            r->p.max_iter = p->algo == CSEG_ALGO_GMM ? gp.max_iter : kp.max_iter;
    }
    return 0;
}

/* The training customers the model's rule puts elsewhere go into the model,
 * so that assign gives them their own segment back (--keep-known). */
/* The ids of text column jid of t held by more than one row: (*dup)[code]
 * set for each (malloc'ed; NULL when the column is not text or has none);
 * returns their number, or CSEG_ENOMEM. */
static long duplicate_ids(const cseg_table *t, long jid, unsigned char **dup)
{
    *dup = NULL;
    const int32_t *code = jid >= 0 ? cseg_table_codes(t, (size_t)jid) : NULL;
    if (!code)
        return 0;
    size_t nl = cseg_table_n_levels(t, (size_t)jid), n = cseg_table_n_rows(t);
    unsigned char *seen = calloc(nl ? nl : 1, 1);
    if (!seen)
        return CSEG_ENOMEM;
    long count = 0;
    for (size_t i = 0; i < n; i++) /* 0, 1, then 2 for every later row: no wrap */
        if (code[i] >= 0 && seen[code[i]] < 2 && ++seen[code[i]] == 2)
            count++;
    if (count == 0) {
        free(seen);
        return 0;
    }
    for (size_t l = 0; l < nl; l++)
        seen[l] = seen[l] > 1;
    *dup = seen;
    return count;
}

/* FNV-1a of s: the piece that counts an id's rows. */
static uint64_t id_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

typedef struct id_slot {
    const char *id; /* NULL: empty */
    uint64_t rows, first;
    int64_t line; /* of the first */
} id_slot;

/* duplicate_ids over every piece's rows (split): each id's rows are counted
 * by the piece a hash of it names (its text, its row among all and the
 * row's line sent there); returns their number and in *first_line the line
 * of the first row among all holding such an id (0 when the table has no
 * lines), the same on every piece; or a negative code. */
static long duplicate_ids_split(const cseg_table *t, long jid, const cseg__seg_split *split,
                                long *first_line)
{
    const int32_t *code = jid >= 0 ? cseg_table_codes(t, (size_t)jid) : NULL;
    size_t n = cseg_table_n_rows(t), np = (size_t)split->km->size, row0 = split->km->row0;
    uint64_t flags[2] = {code != NULL, 0}; /* a text column (the same everywhere); a failure */
    *first_line = 0;
    int rc = split->sc->sum(split->sc->ctx, flags, 1, NULL, 0);
    if (rc < 0 || !flags[0])
        return rc < 0 ? rc : 0;
    /* The records, piece by piece: row, line, the id and its NUL. */
    size_t *count = calloc(np, sizeof *count), *at = calloc(np, sizeof *at), total = 0;
    size_t nl = cseg_table_n_levels(t, (size_t)jid);
    size_t *len = calloc(nl ? nl : 1, sizeof *len);
    char *send = NULL, *recv = NULL;
    size_t *got = calloc(np, sizeof *got);
    flags[1] = !count || !at || !len || !got;
    for (size_t l = 0; !flags[1] && l < nl; l++)
        len[l] = strlen(cseg_table_level(t, (size_t)jid, (int32_t)l)) + 1;
    for (size_t i = 0; !flags[1] && i < n; i++)
        if (code[i] >= 0) {
            count[id_hash(cseg_table_level(t, (size_t)jid, code[i])) % np] += 16 + len[code[i]];
            total += 16 + len[code[i]];
        }
    if (!flags[1] && !(send = malloc(total ? total : 1)))
        flags[1] = 1;
    if ((rc = split->sc->sum(split->sc->ctx, flags + 1, 1, NULL, 0)) == 0 && flags[1])
        rc = CSEG_ENOMEM;
    for (size_t q = 1; rc == 0 && q < np; q++)
        at[q] = at[q - 1] + count[q - 1];
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (code[i] < 0)
            continue;
        const char *id = cseg_table_level(t, (size_t)jid, code[i]);
        size_t q = id_hash(id) % np;
        uint64_t row = row0 + i;
        int64_t line = cseg_table_row_line(t, i);
        memcpy(send + at[q], &row, 8);
        memcpy(send + at[q] + 8, &line, 8);
        memcpy(send + at[q] + 16, id, len[code[i]]);
        at[q] += 16 + len[code[i]];
    }
    if (rc == 0)
        rc = split->exchange(split->ctx, send, count, &recv, got);
    free(send);
    /* This piece's ids: a hash set of them, their rows and their first. */
    size_t nrec = 0, bytes = 0, cap = 16;
    for (size_t q = 0; rc == 0 && q < np; q++)
        bytes += got[q];
    for (size_t o = 0; rc == 0 && o < bytes; o += 16 + strlen(recv + o + 16) + 1)
        nrec++;
    while (cap < 2 * nrec)
        cap *= 2;
    id_slot *set = rc == 0 ? calloc(cap, sizeof *set) : NULL;
    flags[1] = rc == 0 && !set;
    if (rc == 0 && (rc = split->sc->sum(split->sc->ctx, flags + 1, 1, NULL, 0)) == 0 && flags[1])
        rc = CSEG_ENOMEM;
    uint64_t dups = 0, best = UINT64_MAX;
    int64_t best_line = 0;
    for (size_t o = 0; rc == 0 && o < bytes; o += 16 + strlen(recv + o + 16) + 1) {
        uint64_t row;
        int64_t line;
        memcpy(&row, recv + o, 8);
        memcpy(&line, recv + o + 8, 8);
        const char *id = recv + o + 16;
        size_t slot = (size_t)id_hash(id) & (cap - 1);
        while (set[slot].id && strcmp(set[slot].id, id) != 0)
            slot = (slot + 1) & (cap - 1);
        id_slot *e = &set[slot];
        if (!e->id) {
            *e = (id_slot){id, 0, row, line};
        } else if (row < e->first) {
            e->first = row;
            e->line = line;
        }
        e->rows++;
    }
    for (size_t sl = 0; rc == 0 && sl < cap; sl++)
        if (set[sl].id && set[sl].rows > 1) {
            dups++;
            if (set[sl].first < best) {
                best = set[sl].first;
                best_line = set[sl].line;
            }
        }
    /* Their number; the first row of all (the lowest of the pieces'
     * firsts) and its line, from the piece that holds it. */
    uint64_t v[2] = {dups, best != UINT64_MAX};
    double mine = (double)best, first = 0; /* rows are below 2^53 */
    if (rc == 0)
        rc = split->sc->sum(split->sc->ctx, v, 2, NULL, 0);
    static const uint64_t lowest = 0;
    if (rc == 0 && v[1])
        rc = split->sc->select(split->sc->ctx, &mine, best != UINT64_MAX, &lowest, 1, &first, NULL);
    uint64_t ln = rc == 0 && v[1] && best != UINT64_MAX && (double)best == first && best_line > 0
                      ? (uint64_t)best_line
                      : 0;
    if (rc == 0 && v[1])
        rc = split->sc->sum(split->sc->ctx, &ln, 1, NULL, 0);
    free(set), free(recv), free(count), free(at), free(len), free(got);
    if (rc < 0)
        return rc;
    *first_line = (long)ln;
    return (long)v[0];
}

static int keep_known(cseg_segmentation *r, const double *X, const int32_t *plabels)
{
    long jid = r->in.id_column ? cseg_table_find(r->in.customers, r->in.id_column) : -1;
    if (jid < 0)
        return 0; /* no ids to know them by */
    /* An id on several rows cannot tell its customers apart: those are not
     * kept (the others are; a warning says so, see run). */
    unsigned char *dup;
    long nd = duplicate_ids(r->in.customers, jid, &dup);
    if (nd < 0)
        return (int)nd;
    const int32_t *code = dup ? cseg_table_codes(r->in.customers, (size_t)jid) : NULL;
    size_t n = r->n, d = cseg_model_dim(r->in.model), m = 0;
    enum { IDLEN = 40 }; /* a number id as text */
    const char **ids = malloc(r->mismatch * sizeof *ids);
    char *buf = malloc(r->mismatch * IDLEN);
    int32_t *lab = malloc(r->mismatch * sizeof *lab);
    double *Z = malloc(r->mismatch * d * sizeof *Z);
    int rc = CSEG_ENOMEM;
    if (ids && buf && lab && Z) {
        for (size_t i = 0; i < n; i++) {
            if (r->labels[i] == plabels[i] || (code && code[i] >= 0 && dup[code[i]]) ||
                !(ids[m] = cseg__table_cell_text(r->in.customers, (size_t)jid, i, buf + m * IDLEN,
                                                 IDLEN)))
                continue;
            lab[m] = r->labels[i];
            memcpy(Z + m * d, X + i * d, d * sizeof *Z);
            m++;
        }
        rc = cseg_model_set_known(r->in.model, ids, lab, Z, m);
    }
    free(dup);
    free(ids);
    free(buf);
    free(lab);
    free(Z);
    return rc;
}

/* Order clusters by revenue (or size), Outliers last; install the chosen
 * candidate in the model and apply the model's rule to every customer. */
static int order_and_install(cseg_segmentation *r, const cseg_segment_params *p, const double *X,
                             size_t d, cseg_diag *diag)
{
    cseg__fit *f = &r->fit;
    cseg__cand *F = &f->c[f->chosen];
    const cseg__seg_split *split = r->split;
    size_t n = r->n, kc = F->c.n_clusters, k = r->k;
    long jr = r->in.revenue_column ? cseg_table_find(r->in.customers, r->in.revenue_column) : -1;
    const double *rev = jr >= 0 ? cseg_table_numbers(r->in.customers, (size_t)jr) : NULL;
    order_key *ok = calloc(kc, sizeof *ok);
    size_t *newid = calloc(kc, sizeof *newid);
    int32_t *plabels = malloc((n ? n : 1) * sizeof *plabels);
    /* Per cluster the customers, or their revenue exactly rounded (the
     * same bits for any split of the customers). */
    uint64_t *cnt = calloc(kc ? kc : 1, sizeof *cnt);
    cseg__xsum *acc = rev ? calloc(kc, sizeof *acc) : NULL;
    int rc = CSEG_ENOMEM;
    r->labels = malloc((n ? n : 1) * sizeof *r->labels);
    r->dist = malloc((n ? n : 1) * sizeof *r->dist);
    if (p->algo == CSEG_ALGO_GMM)
        r->proba = malloc((n ? n : 1) * k * sizeof *r->proba);
    int bad = !ok || !newid || !plabels || !cnt || (rev && !acc) || !r->labels || !r->dist ||
              (p->algo == CSEG_ALGO_GMM && !r->proba);
    if (split) { /* every piece takes part in the sums below, or none */
        uint64_t b = bad;
        if ((rc = split->sc->sum(split->sc->ctx, &b, 1, NULL, 0)) < 0)
            goto out;
        bad = b != 0;
        rc = CSEG_ENOMEM;
    }
    if (bad)
        goto out;
    for (size_t s = 0; s < kc; s++) {
        ok[s].s = s;
        if (acc)
            cseg__xsum_init(&acc[s]);
    }
    for (size_t i = 0; i < n; i++) /* a missing revenue counts for nothing */
        if (F->labels[i] >= 0 && (!rev || isfinite(rev[i]))) {
            if (rev)
                cseg__xsum_add(&acc[F->labels[i]], rev[i]);
            else
                cnt[F->labels[i]]++;
        }
    if (split && (rc = split->sc->sum(split->sc->ctx, cnt, kc, acc, acc ? kc : 0)) < 0)
        goto out;
    rc = CSEG_ENOMEM;
    for (size_t s = 0; s < kc; s++)
        ok[s].key = rev ? cseg__xsum_value(&acc[s]) : (double)cnt[s];
    qsort(ok, kc, sizeof *ok, cmp_order);
    for (size_t s = 0; s < kc; s++)
        newid[ok[s].s] = s;
    for (size_t i = 0; i < n; i++)
        r->labels[i] = F->labels[i] >= 0 ? (int32_t)newid[F->labels[i]] : (int32_t)kc;
    if (p->previous) {
        /* The previous run's segments keep their place; the new ones follow. */
        size_t *perm = malloc(k * sizeof *perm);
        if (!perm)
            goto out;
        rc = cseg__prev_match(p, r->in.customers, r->in.id_column, r->in.model, X, n, d,
                              r->labels, k, kc, perm, &r->prev, diag);
        for (size_t s = 0; rc == 0 && s < kc; s++)
            newid[s] = perm[newid[s]];
        for (size_t i = 0; rc == 0 && i < n; i++)
            r->labels[i] = (int32_t)perm[r->labels[i]];
        free(perm);
        if (rc < 0)
            goto out;
        rc = CSEG_ENOMEM;
    }
    if ((rc = agree(split, cseg__fit_install(f, f->chosen, newid, X, n, d, r->in.model), 0, diag)) <
        0) {
        blame(diag, rc, "model");
        goto out;
    }
    /* The saved model's rule on the training customers: distances, probabilities, and how
     * often the rule for new customers agrees with the training labels. */
    if ((rc = agree(split, cseg_model_predict(r->in.model, X, n, plabels, r->dist, r->proba), 0,
                    diag)) < 0) {
        blame(diag, rc, "assign");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        r->mismatch += r->labels[i] != plabels[i];
    if (split) {
        uint64_t mm = r->mismatch;
        if ((rc = split->sc->sum(split->sc->ctx, &mm, 1, NULL, 0)) < 0)
            goto out;
        r->mismatch = (size_t)mm;
        /* Keeping them would need the ids of every piece (duplicates among
         * all). k-means ends with its labels the nearest centres, which is
         * the rule (even when max_iter stops it: tests/mpi/test_mpi_segment.c
         * could not make one disagree), so this is not met in practice. */
        if (r->mismatch) {
            rc = cseg__diag(diag, CSEG_EINVAL, NULL, 0, 0,
                            "%zu customers would be put in another segment by the rule for new "
                            "customers: not supported over several processes",
                            r->mismatch);
            goto out;
        }
    }
    if (r->mismatch && (rc = keep_known(r, X, plabels)) < 0) {
        blame(diag, rc, "model");
        goto out;
    }
    /* The distance to the customer's own segment (DBSCAN keeps its nearest core point's). */
    if (p->algo != CSEG_ALGO_DBSCAN &&
        (rc = agree(split, cseg_model_segment_distance(r->in.model, X, n, r->labels, r->dist), 0,
                    diag)) < 0) {
        blame(diag, rc, "distances");
        goto out;
    }
    /* Hierarchical and DBSCAN models assign new customers by another rule
     * than the fit's: how often the two agree is said, not only when verbose. */
    if (r->mismatch)
        cseg__log(p, p->algo == CSEG_ALGO_KMEANS ? CSEG_LOG_DETAIL : CSEG_LOG_NOTE,
                  "%zu customers would be put in another segment by the rule for new customers "
                  "(it agrees on %.1f%% of the training customers; %s); %s",
                  r->mismatch, 100.0 * (1.0 - (double)r->mismatch / (double)r->n_all),
                  p->algo == CSEG_ALGO_KMEANS ? "max-iter reached" : "see docs/algorithms.md",
                  cseg_model_n_known(r->in.model)
                      ? "the model keeps their segments for assign while they are unchanged"
                      : "without customer ids the model cannot keep their segments");
out:
    free(ok);
    free(newid);
    free(plabels);
    free(cnt);
    free(acc);
    return rc;
}

/* A segment continuing a previous one takes its name; a new segment keeps
 * its own, marked " (new)" should it be one of the names taken over. */
static int previous_names(cseg_segmentation *r)
{
    size_t k = r->k;
    char **own = calloc(k, sizeof *own);
    int rc = own ? 0 : CSEG_ENOMEM;
    for (size_t s = 0; s < k && rc == 0; s++)
        if (!(own[s] = cseg__strdup(cseg_profile_name(r->prof, s))))
            rc = CSEG_ENOMEM;
    for (size_t s = 0; s < k && rc == 0; s++) { /* clear first: names may swap */
        char tmp[32];
        snprintf(tmp, sizeof tmp, "\x01%zu", s);
        rc = cseg_profile_set_name(r->prof, s, tmp);
    }
    for (size_t s = 0; s < k && rc == 0; s++)
        if (r->prev->of_new[s] >= 0)
            rc = cseg_profile_set_name(r->prof, s, r->prev->names[r->prev->of_new[s]]);
    for (size_t s = 0; s < k && rc == 0; s++) {
        if (r->prev->of_new[s] >= 0)
            continue;
        char buf[300];
        snprintf(buf, sizeof buf, "%s", own[s]);
        for (int tries = 1; rc == 0; tries++) { /* " (new)", " (new 2)" ... until free */
            int taken = 0;
            for (size_t c = 0; c < k; c++)
                taken |= c != s && strcmp(cseg_profile_name(r->prof, c), buf) == 0;
            if (!taken)
                break;
            if (tries == 1)
                snprintf(buf, sizeof buf, "%s (new)", own[s]);
            else
                snprintf(buf, sizeof buf, "%s (new %d)", own[s], tries);
        }
        rc = cseg_profile_set_name(r->prof, s, buf);
    }
    for (size_t s = 0; own && s < k; s++)
        free(own[s]);
    free(own);
    return rc;
}

/* Profiles and names: RFM names for transaction logs, else from the
 * features; DBSCAN's last segment is Outliers; the caller's names last. */
static int name_segments(cseg_segmentation *r, const cseg_segment_params *p, cseg_diag *diag)
{
    size_t k = r->k;
    int rc = cseg__profile_compute_split(&r->prof, r->table, r->labels, k, r->in.revenue_column,
                                         r->split ? r->split->sc : NULL, diag);
    if (rc < 0)
        return blame(diag, rc, "profiles");
    if (r->in.rfm)
        rc = cseg_profile_name_rfm(r->prof);
    else
        rc = cseg_profile_name_features(r->prof, r->in.features, r->in.n_features);
    if (rc == 0 && p->algo == CSEG_ALGO_DBSCAN)
        rc = cseg_profile_set_name(r->prof, k - 1, "Outliers");
    if (rc == 0 && r->prev)
        rc = previous_names(r);
    if ((rc = agree(r->split, rc, 0, diag)) < 0)
        return blame(diag, rc, "naming segments");
    if (p->names) {
        /* A fixed k the customers could not fill is the data's doing, not
         * the command line's: which of the names would go is not known. */
        if (p->n_names != k && p->k && k < p->k)
            return cseg__diag(
                diag, CSEG_EINVAL, NULL, 0, 0,
                "k = %zu was asked for, but the customers form only %zu "
                "segment%s (fewer distinct customers than k), so the %zu names of "
                "--names cannot be given to them; leave out --names or ask for k = %zu",
                p->k, k, k == 1 ? "" : "s", p->n_names, k);
        if (p->n_names != k)
            return cseg__diag(diag, CSEG_EPARAM, NULL, 0, 0,
                              "names gives %zu names but there %s %zu segment%s", p->n_names,
                              k == 1 ? "is" : "are", k, k == 1 ? "" : "s");
        /* Clear first so a rename that swaps two names is not a clash. */
        for (size_t s = 0; s < k; s++) {
            char tmp[32];
            snprintf(tmp, sizeof tmp, "\x01%zu", s);
            cseg_profile_set_name(r->prof, s, tmp);
        }
        for (size_t s = 0; s < k; s++) {
            size_t len = strlen(p->names[s]);
            if (cseg__utf8_invalid_at(p->names[s], len) < len)
                return cseg__diag(diag, CSEG_EPARAM, NULL, 0, 0,
                                  "names: segment name %zu is not valid UTF-8", s + 1);
        }
        for (size_t s = 0; s < k; s++)
            if (cseg_profile_set_name(r->prof, s, p->names[s]) < 0)
                return cseg__diag(diag, CSEG_EPARAM, NULL, 0, 0,
                                  "names: \"%s\" is empty or given twice", p->names[s]);
    }
    return 0;
}

/* The output columns: segment (1..k), segment_name, distance, p_segment_*. */
static int add_columns(cseg_segmentation *r)
{
    size_t n = r->n, k = r->k;
    const char **nm = calloc(k, sizeof *nm);
    double *seg_num = malloc((n ? n : 1) * sizeof *seg_num), *pcol = NULL;
    int rc = CSEG_ENOMEM;
    if (!nm || !seg_num)
        goto out;
    for (size_t s = 0; s < k; s++)
        nm[s] = cseg_profile_name(r->prof, s);
    if ((rc = cseg_model_set_names(r->in.model, nm, k)) < 0)
        goto out;
    for (size_t i = 0; i < n; i++)
        seg_num[i] = r->labels[i] + 1;
    rc = cseg_table_add_numbers(r->table, "segment", seg_num);
    if (rc == 0)
        rc = cseg_table_add_text(r->table, "segment_name", nm, k, r->labels);
    if (rc == 0)
        rc = cseg_table_add_numbers(r->table, "distance", r->dist);
    /* Mixtures: the membership probability of every segment. */
    if (r->proba && rc == 0 && !(pcol = malloc((n ? n : 1) * sizeof *pcol)))
        rc = CSEG_ENOMEM;
    for (size_t s = 0; r->proba && rc == 0 && s < k; s++) {
        char cname[48];
        snprintf(cname, sizeof cname, "p_segment_%zu", s + 1);
        for (size_t i = 0; i < n; i++)
            pcol[i] = r->proba[i * k + s];
        rc = cseg_table_add_numbers(r->table, cname, pcol);
    }
out:
    free(nm);
    free(seg_num);
    free(pcol);
    return rc;
}

void cseg__k_range_note(const cseg_segment_params *p, size_t n)
{
    cseg__log(p, CSEG_LOG_NOTE,
              "k from %zu to %zu only, of %zu..%zu: %zu customers make at most %zu segments",
              p->k_min, n - 1, p->k_min, p->k_max, n, n - 1);
}

int cseg__k_range_check(const cseg_segment_params *p, size_t n, cseg_diag *d)
{
    /* A range whose every k is beyond the customers (k up to n - 1 are
     * tried): said so, as for one k, not a k outside the range chosen. */
    if (!p->k && n > 0 && p->k_min > n - 1)
        return cseg__diag(d, CSEG_ERANGE, NULL, 0, 0,
                          "k from %zu to %zu: %zu customers make at most %zu segments to "
                          "choose among",
                          p->k_min, p->k_max, n, n - 1);
    return 0;
}

/* Keep the k table; the candidates' labels and fitted objects go. */
static int keep_k_table(cseg_segmentation *r)
{
    if (!(r->cands = cseg__calloc(r->fit.n, sizeof *r->cands)))
        return CSEG_ENOMEM;
    for (size_t t = 0; t < r->fit.n; t++) {
        r->cands[t] = r->fit.c[t].c;
        cseg__fit_release(&r->fit, t);
    }
    return 0;
}

static int run(cseg_segmentation *r, const cseg_segment_params *p, cseg_diag *diag)
{
    double *X = NULL;
    const cseg__seg_split *split = r->split;
    size_t d = 0, n = cseg_table_n_rows(r->in.customers), n_all = split ? split->km->n_all : n;
    int rc;
    r->n = n;
    r->n_all = n_all;
    if (split && (p->previous || p->kmeans_fit))
        return cseg__diag(diag, CSEG_EINVAL, NULL, 0, 0, "%s: not spread over processes yet",
                          p->previous ? "previous" : "kmeans_fit");
    if (cseg_table_find(r->in.customers, "segment") >= 0 ||
        cseg_table_find(r->in.customers, "segment_name") >= 0 ||
        cseg_table_find(r->in.customers, "distance") >= 0)
        return cseg__diag(diag, CSEG_EINVAL, r->input_name, 0, 0,
                          "the input already has a column named segment, segment_name or "
                          "distance (an earlier output?); rename or remove it");
    if (p->k && p->k > n_all)
        return cseg__diag(diag, CSEG_ERANGE, NULL, 0, 0,
                          "k = %zu is larger than the number of customers (%zu)", p->k, n_all);
    if (!p->k && p->algo != CSEG_ALGO_DBSCAN && p->height <= 0 && n_all < 3)
        return cseg__diag(diag, CSEG_ERANGE, NULL, 0, 0,
                          "only %zu customer%s: choosing k needs at least 3 (give --k)", n_all,
                          n_all == 1 ? "" : "s");
    if (p->algo != CSEG_ALGO_DBSCAN && p->height <= 0 &&
        (rc = cseg__k_range_check(p, n_all, diag)) < 0)
        return rc;
    if ((rc = cseg__prepare(p, &r->in, split, &X, &d, diag)) < 0)
        goto out;
    const char *label = cseg_algo_label(p->algo, p->linkage);
    if (p->algo == CSEG_ALGO_HCLUST && p->exact) {
        size_t bytes;
        double secs;
        if (cseg_hclust_estimate(p->linkage, n, d, 1, &bytes, &secs) == 0)
            cseg__log(p, CSEG_LOG_NOTE, "exact %s tree of %zu customers: about %.3g MB and "
                                        "%.3g s (estimate)", label, n, (double)bytes / 1e6, secs);
    }
    if ((rc = cseg__fit_run_split(p, X, n, d, &r->fit, split, diag)) < 0) {
        blame(diag, rc, label);
        goto out;
    }
    cseg__cand *F = &r->fit.c[r->fit.chosen];
    r->k = F->c.k;
    if (F->c.n_clusters == 0) {
        rc = cseg__diag(diag, CSEG_EEMPTY, NULL, 0, 0,
                        "%s found no segment: every customer is an outlier (eps %.6g, "
                        "min-samples %zu); raise --eps or lower --min-samples",
                        label, r->fit.eps, r->fit.min_samples);
        goto out;
    }
    if (p->algo == CSEG_ALGO_HCLUST && cseg_hclust_is_approximate(r->fit.tree))
        cseg__log(p, CSEG_LOG_NOTE, "%zu customers: the %s tree was built on %zu micro-clusters "
                                    "(a k-means pass first); --exact builds it on every customer",
                  n, label, cseg_hclust_n_leaves(r->fit.tree));
    if (p->algo == CSEG_ALGO_DBSCAN) {
        r->p.eps = r->fit.eps;
        r->p.min_samples = r->fit.min_samples;
    }
    if ((rc = cseg__progress(p, CSEG_STAGE_PROFILE, r->k, 0, 1, n_all, d)) < 0 ||
        (rc = order_and_install(r, p, X, d, diag)) < 0)
        goto out;
    /* The drift reference wants the rule's segments and distances: when the
     * rule agrees with the fit everywhere, those are at hand (the same
     * function computed the distances); otherwise they are assigned anew. */
    rc = r->mismatch == 0 && p->algo != CSEG_ALGO_DBSCAN
             ? cseg__model_set_reference_split(r->in.model, r->in.customers, r->labels, r->dist, 1,
                                               split ? split->sc : NULL, diag)
             : cseg_model_set_reference(r->in.model, r->in.customers, diag);
    if (rc < 0)
        goto out;
    if ((rc = agree(split, cseg__table_view(&r->table, r->in.customers), 0, diag)) < 0 ||
        (rc = name_segments(r, p, diag)) < 0)
        goto out;
    if ((rc = agree(split, add_columns(r), 0, diag)) < 0) {
        blame(diag, rc, "output table");
        goto out;
    }
    {
        const char **nm = calloc(r->k, sizeof *nm);
        if (!nm) {
            rc = CSEG_ENOMEM;
            goto out;
        }
        for (size_t s = 0; s < r->k; s++)
            nm[s] = cseg_profile_name(r->prof, s);
        /* Ids on several rows: said, not hidden. */
        long jid = r->in.id_column ? cseg_table_find(r->in.customers, r->in.id_column) : -1;
        long nd, line = 0;
        if (split) {
            nd = duplicate_ids_split(r->in.customers, jid, split, &line);
        } else {
            unsigned char *dup;
            nd = duplicate_ids(r->in.customers, jid, &dup);
            if (nd > 0) {
                const int32_t *code = cseg_table_codes(r->in.customers, (size_t)jid);
                size_t i = 0;
                while (!(code[i] >= 0 && dup[code[i]]))
                    i++;
                line = cseg_table_row_line(r->in.customers, i);
            }
            free(dup);
        }
        if (nd < 0) {
            free(nm);
            rc = (int)nd;
            goto out;
        }
        if (nd > 0) {
            /* Where, not which: the warning goes into segments.json and the
             * report, which hold no customer's id (docs/privacy.md). */
            char at[64] = "";
            if (line > 0)
                snprintf(at, sizeof at, " (the first on line %ld)", line);
            cseg__warn(&r->warn, "duplicate_ids",
                       "%ld customer id%s of column \"%s\" %s on more than one row%s: such "
                       "customers cannot be told apart by their id (assign --keep-known, "
                       "explain)",
                       nd, nd == 1 ? "" : "s", r->in.id_column, nd == 1 ? "is" : "are", at);
        }
        /* A fixed k that the customers cannot fill: said, not hidden. */
        if (p->k && p->algo != CSEG_ALGO_DBSCAN && r->k < p->k)
            cseg__warn(&r->warn, "fewer_segments",
                       "k = %zu was asked for, but the customers form only %zu segment%s "
                       "(fewer distinct customers than k)",
                       p->k, r->k, r->k == 1 ? "" : "s");
        rc = cseg__degenerate_split(r->labels, n, r->k, cseg_model_outlier_segment(r->in.model),
                                    r->table, NULL, r->in.id_column, r->in.revenue_column, nm,
                                    &r->warn, split);
        free(nm);
        if (rc < 0)
            goto out;
        for (size_t w = 0; w < r->warn.n; w++)
            cseg__log(p, CSEG_LOG_WARNING, "%s", r->warn.msg[w]);
    }
    if ((rc = agree(split, keep_k_table(r), 0, diag)) < 0)
        goto out;
    if ((rc = agree(split, cseg__segment_outputs(r, diag), 0, diag)) == 0) {
        r->X = X; /* kept for the report, which would otherwise transform again */
        r->X_dim = d;
        X = NULL;
    }
out:
    cseg__free_aligned(X);
    return rc;
}

static int segment(cseg_segmentation **out, cseg_segmentation *r, int rc, cseg_diag *d)
{
    *out = NULL;
    if (rc == 0) {
        r->p.features = r->in.features;
        r->p.n_features = r->in.n_features;
        r->p.revenue_column = r->in.revenue_column;
        rc = run(r, &r->p, d);
    }
    if (rc < 0) {
        cseg_segment_free(r);
        return rc;
    }
    r->p.progress = NULL;
    r->p.progress_user = NULL;
    r->p.log = NULL;
    r->p.log_user = NULL;
    *out = r;
    return 0;
}

int cseg_segment_transactions(cseg_segmentation **out, const cseg_table *txn,
                              const cseg_txn_roles *roles, const char *date_format,
                              const cseg_rfm_params *rfm, const cseg_segment_params *p,
                              cseg_diag *d)
{
    const char *bad = cseg_segment_params_check(p);
    if (bad)
        return cseg__diag(d, CSEG_EINVAL, NULL, 0, 0, "%s", bad);
    cseg_segmentation *r = calloc(1, sizeof *r);
    if (!r)
        return CSEG_ENOMEM;
    int rc = keep_params(r, p);
    if (rc == 0)
        rc = cseg__input_transactions(&r->in, txn, roles, date_format, rfm, &r->p, d);
    return segment(out, r, rc, d);
}

int cseg_segment_rfm(cseg_segmentation **out, cseg_table **customers, const cseg_quality *q,
                     const cseg_txn_roles *roles, const char *date_format,
                     const cseg_rfm_params *rfm, const cseg_segment_params *p, cseg_diag *d)
{
    cseg_rfm_params dflt;
    const char *bad = cseg_segment_params_check(p);
    if (!bad && p->n_audit)
        bad = "audit columns are columns of a customer table (fit), not of a transaction log";
    if (!bad && rfm && rfm->clv.enabled)
        bad = "lifetime value needs the log's rows (cseg_segment_transactions)";
    if (bad) {
        cseg_table_free(*customers);
        *customers = NULL;
        return cseg__diag(d, p && p->n_audit ? CSEG_EPARAM : CSEG_EINVAL, NULL, 0, 0, "%s", bad);
    }
    if (!rfm) {
        cseg_rfm_params_init(&dflt);
        rfm = &dflt;
    }
    cseg_segmentation *r = calloc(1, sizeof *r);
    if (!r) {
        cseg_table_free(*customers);
        *customers = NULL;
        return CSEG_ENOMEM;
    }
    int rc = keep_params(r, p);
    r->in.owned = *customers;
    *customers = NULL;
    r->in.quality = *q;
    if (rc == 0)
        rc = input_rfm(&r->in, roles, date_format, rfm, &r->p, NULL, d);
    return segment(out, r, rc, d);
}

/* The segmentation over pieces of r (its input made, rc its outcome on
 * this piece): the outcome agreed on, then the pipeline; a result holds
 * this piece's customers only. */
static int segment_split(cseg_segmentation **out, cseg_segmentation *r, int rc,
                         const cseg__seg_split *split, cseg_diag *d)
{
    if ((rc = split->agree(split->ctx, rc, 0, d)) < 0) {
        cseg_segment_free(r);
        return rc;
    }
    rc = segment(out, r, 0, d);
    if (*out) {
        (*out)->split = NULL;
        (*out)->spread = 1;
    }
    return rc;
}

/* What a segmentation over pieces refuses of p (k-means only), or NULL. */
static const char *split_refuses(const cseg_segment_params *p, char *buf, size_t size)
{
    const char *bad = cseg_segment_params_check(p);
    if (!bad && p->algo != CSEG_ALGO_KMEANS) {
        snprintf(buf, size, "%s: not spread over processes (k-means only)",
                 cseg_algo_label(p->algo, p->linkage));
        bad = buf;
    }
    return bad;
}

int cseg__segment_rfm_split(cseg_segmentation **out, const cseg_table *part, const cseg_quality *q,
                            const cseg_txn_roles *roles, const char *date_format,
                            const cseg_rfm_params *rfm, const cseg_segment_params *p,
                            const cseg__seg_split *split, cseg_diag *d)
{
    cseg_rfm_params dflt;
    char buf[96];
    const char *bad = split_refuses(p, buf, sizeof buf);
    *out = NULL;
    if (!bad && p->n_audit)
        bad = "audit columns are columns of a customer table (fit), not of a transaction log";
    if (!bad && rfm && rfm->clv.enabled)
        bad = "lifetime value needs the log's rows (cseg_segment_transactions)";
    if (bad)
        return cseg__diag(d, p && p->n_audit ? CSEG_EPARAM : CSEG_EINVAL, NULL, 0, 0, "%s", bad);
    if (!rfm) {
        cseg_rfm_params_init(&dflt);
        rfm = &dflt;
    }
    cseg_segmentation *r = calloc(1, sizeof *r);
    int rc = r ? keep_params(r, p) : CSEG_ENOMEM;
    if (r) {
        r->split = split;
        r->in.quality = *q;
        r->in.customers = part;
    }
    if (r && rc == 0)
        rc = input_rfm(&r->in, roles, date_format, rfm, &r->p, split, d);
    return segment_split(out, r, rc, split, d);
}

int cseg_segment_customers(cseg_segmentation **out, const cseg_table *customers,
                           const char *id_column, const cseg_segment_params *p, cseg_diag *d)
{
    const char *bad = cseg_segment_params_check(p);
    if (bad)
        return cseg__diag(d, CSEG_EINVAL, NULL, 0, 0, "%s", bad);
    cseg_segmentation *r = calloc(1, sizeof *r);
    if (!r)
        return CSEG_ENOMEM;
    int rc = keep_params(r, p);
    if (rc == 0 && id_column && !(r->id_column = cseg__strdup(id_column)))
        rc = CSEG_ENOMEM;
    if (rc == 0)
        rc = cseg__input_customers(&r->in, customers, r->id_column, &r->p, d);
    return segment(out, r, rc, d);
}

int cseg__segment_customers_split(cseg_segmentation **out, const cseg_table *part,
                                  const char *id_column, const cseg_segment_params *p,
                                  const cseg__seg_split *split, cseg_diag *d)
{
    char buf[96];
    const char *bad = split_refuses(p, buf, sizeof buf);
    *out = NULL;
    if (bad)
        return cseg__diag(d, CSEG_EINVAL, NULL, 0, 0, "%s", bad);
    cseg_segmentation *r = calloc(1, sizeof *r);
    int rc = r ? keep_params(r, p) : CSEG_ENOMEM;
    if (rc == 0 && id_column && !(r->id_column = cseg__strdup(id_column)))
        rc = CSEG_ENOMEM;
    if (r)
        r->split = split;
    /* The checks of the input are every piece's alike (the same columns),
     * but an allocation may fail on one. */
    if (r && rc == 0)
        rc = input_customers(&r->in, part, r->id_column, &r->p, split->km->n_all, d);
    return segment_split(out, r, rc, split, d);
}

void cseg_segment_free(cseg_segmentation *r)
{
    if (!r)
        return;
    free_list(r->names);
    free_list(r->feats);
    free_list(r->audits);
    free(r->input_name);
    free(r->id_column);
    cseg_table_free(r->table);
    cseg__input_free(&r->in);
    free(r->labels);
    free(r->dist);
    free(r->proba);
    cseg__free_aligned(r->X);
    cseg__fit_free(&r->fit);
    free(r->cands);
    cseg_profile_free(r->prof);
    free(r->json);
    cseg__prev_free(r->prev);
    free(r);
}

size_t cseg_segment_n(const cseg_segmentation *r) { return r->n; }
size_t cseg_segment_n_all(const cseg_segmentation *r)
{
    return r->n_all;
}
size_t cseg_segment_k(const cseg_segmentation *r) { return r->k; }
const int32_t *cseg_segment_labels(const cseg_segmentation *r) { return r->labels; }
const double *cseg_segment_distances(const cseg_segmentation *r) { return r->dist; }
const double *cseg_segment_proba(const cseg_segmentation *r) { return r->proba; }
const cseg_table *cseg_segment_table(const cseg_segmentation *r) { return r->table; }
const char *cseg_segment_id_column(const cseg_segmentation *r) { return r->in.id_column; }
const cseg_profile *cseg_segment_profile(const cseg_segmentation *r) { return r->prof; }
const cseg_model *cseg_segment_model(const cseg_segmentation *r) { return r->in.model; }
size_t cseg_segment_n_candidates(const cseg_segmentation *r) { return r->fit.n; }
const cseg_candidate *cseg_segment_candidates(const cseg_segmentation *r) { return r->cands; }
size_t cseg_segment_chosen(const cseg_segmentation *r) { return r->fit.chosen; }
const char *cseg_segment_rule(const cseg_segmentation *r) { return r->fit.rule; }
const cseg_segment_params *cseg_segment_params_used(const cseg_segmentation *r) { return &r->p; }
int cseg_segment_eps_suggested(const cseg_segmentation *r) { return r->fit.eps_suggested; }
size_t cseg_segment_n_mismatch(const cseg_segmentation *r) { return r->mismatch; }
const char *cseg_segment_json(const cseg_segmentation *r) { return r->json; }
size_t cseg_segment_n_warnings(const cseg_segmentation *r) { return r->warn.n; }

const char *cseg_segment_warning(const cseg_segmentation *r, size_t i, const char **code)
{
    if (i >= r->warn.n)
        return NULL;
    if (code)
        *code = r->warn.code[i];
    return r->warn.msg[i];
}

const cseg_quality *cseg_segment_quality(const cseg_segmentation *r)
{
    return r->in.has_quality ? &r->in.quality : NULL;
}

const double *cseg_segment_linkage(const cseg_segmentation *r, size_t *n_leaves, int *approximate)
{
    if (!r->fit.tree)
        return NULL;
    if (n_leaves)
        *n_leaves = cseg_hclust_n_leaves(r->fit.tree);
    if (approximate)
        *approximate = cseg_hclust_is_approximate(r->fit.tree);
    return cseg_hclust_linkage(r->fit.tree);
}
