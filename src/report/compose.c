/* custseg — the report of a finished segmentation: what the page shows,
 * composed from the outputs (segments.json, the model, the customer table
 * and its labels, the merge tree), so that a report rebuilt from the files
 * is the page written with them. Hierarchical models add the dendrogram,
 * mixtures the membership chart from the p_segment_* columns, DBSCAN its
 * grey Outliers. */
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/internal.h"
#include "custseg/metrics.h"
#include "custseg/report.h"
#include "internal.h"

#define REPORT_POINTS 2000
#define REPORT_SIL 2000
#define REPORT_TREE_LEAVES 30

static void note(const cseg_report_input *in, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void note(const cseg_report_input *in, const char *fmt, ...)
{
    if (!in->log)
        return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    in->log(CSEG_LOG_NOTE, buf, in->log_user);
}

static const char *jstr(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : NULL;
}

static double jnum(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* segments.json's "rules": each segment's surrogate rules on its card. */
static int add_rules(cseg_report *r, json_t *rules, size_t k)
{
    json_t *segs = json_object_get(rules, "segments");
    double fid = jnum(rules, "fidelity");
    int rc = 0;
    for (size_t s = 0; s < json_array_size(segs) && s < k && rc == 0; s++) {
        json_t *list = json_object_get(json_array_get(segs, s), "rules");
        for (size_t i = 0; i < json_array_size(list) && rc == 0; i++) {
            json_t *ru = json_array_get(list, i);
            if (jstr(ru, "rule"))
                rc = cseg_report_add_rule(r, s, jstr(ru, "rule"), jnum(ru, "precision"),
                                          jnum(ru, "recall"), fid);
        }
    }
    return rc;
}

/* segments.json's "clv": CLV by segment and the P(alive) map. */
static int add_clv(cseg_report *r, json_t *clv, size_t k)
{
    json_t *segs = json_object_get(clv, "segments"),
           *bg = json_object_get(json_object_get(clv, "bgnbd"), "params");
    json_t *hm = json_object_get(clv, "heatmap");
    if (!clv || !bg || json_array_size(segs) != k || k == 0)
        return 0;
    double par[4] = {jnum(bg, "r"), jnum(bg, "alpha"), jnum(bg, "a"), jnum(bg, "b")};
    for (int j = 0; j < 4; j++)
        if (!(par[j] > 0))
            return 0;
    double *v = malloc(4 * k * sizeof *v);
    if (!v)
        return CSEG_ENOMEM;
    for (size_t s = 0; s < k; s++) {
        json_t *o = json_array_get(segs, s);
        v[s] = jnum(o, "clv_mean");
        v[k + s] = jnum(o, "clv_total");
        v[2 * k + s] = jnum(o, "p_alive_mean");
        v[3 * k + s] = jnum(o, "expected_purchases_total");
    }
    int rc = cseg_report_set_clv(r, par, jnum(clv, "unit_days"), jnum(clv, "horizon_months"),
                                 jnum(hm, "max_T"), jnum(hm, "max_frequency"), v, v + k, v + 2 * k,
                                 v + 3 * k, k);
    free(v);
    json_t *ho = json_object_get(clv, "holdout"), *g = json_object_get(ho, "by_frequency");
    size_t ng = json_array_size(g);
    if (rc == 0 && ng > 0 && ng <= 8) {
        const char *lab[8];
        size_t cust[8];
        double act[8], pred[8];
        for (size_t i = 0; i < ng; i++) {
            json_t *o = json_array_get(g, i);
            lab[i] = jstr(o, "frequency") ? jstr(o, "frequency") : "";
            cust[i] = (size_t)json_integer_value(json_object_get(o, "customers"));
            act[i] = jnum(o, "actual");
            pred[i] = jnum(o, "predicted");
        }
        rc = cseg_report_set_clv_holdout(r, jstr(ho, "calibration_end"), jstr(ho, "holdout_end"),
                                         ng, lab, cust, act, pred);
    }
    return rc;
}

/* rules.csv of custseg rules: the first rules of each group, in file order
 * (highest lift first). */
static int add_basket_rules(cseg_report *r, const cseg_table *t, size_t k)
{
    static const char *const num[] = {"group", "support",         "confidence",
                                      "lift",  "lift_population", "p_value"};
    const double *v[6];
    for (int j = 0; j < 6; j++) {
        long c = cseg_table_find(t, num[j]);
        v[j] = c >= 0 ? cseg_table_numbers(t, (size_t)c) : NULL;
        if (!v[j])
            return 0;
    }
    long ja = cseg_table_find(t, "antecedent"), jb = cseg_table_find(t, "consequent");
    const int32_t *a = ja >= 0 ? cseg_table_codes(t, (size_t)ja) : NULL;
    const int32_t *b = jb >= 0 ? cseg_table_codes(t, (size_t)jb) : NULL;
    if (!a || !b)
        return 0;
    size_t *shown = calloc(k + 1, sizeof *shown);
    if (!shown)
        return CSEG_ENOMEM;
    int rc = 0;
    for (size_t i = 0; i < cseg_table_n_rows(t) && rc == 0; i++) {
        double g = v[0][i];
        if (!(g >= 0 && g <= (double)k) || a[i] < 0 || b[i] < 0 || shown[(size_t)g] >= 5)
            continue;
        shown[(size_t)g]++;
        rc = cseg_report_add_basket_rule(r, (size_t)g, cseg_table_level(t, (size_t)ja, a[i]),
                                         cseg_table_level(t, (size_t)jb, b[i]), v[1][i], v[2][i],
                                         v[3][i], v[4][i], v[5][i]);
    }
    free(shown);
    return rc;
}

/* segments.json's "previous": the migration matrix (src/segment/output.c). */
static int add_migration(cseg_report *r, json_t *pv, size_t k)
{
    json_t *rows = json_object_get(pv, "migration");
    size_t kp = json_array_size(rows);
    if (!pv || kp == 0)
        return 0;
    const char **names = calloc(kp, sizeof *names);
    size_t *cnt = calloc(kp * k, sizeof *cnt);
    int rc = names && cnt ? 0 : CSEG_ENOMEM;
    for (size_t i = 0; rc == 0 && i < kp; i++) {
        json_t *row = json_array_get(rows, i), *c = json_object_get(row, "counts");
        names[i] = jstr(row, "name") ? jstr(row, "name") : "";
        for (size_t j = 0; j < k; j++)
            cnt[i * k + j] = (size_t)json_integer_value(json_array_get(c, j));
    }
    if (rc == 0)
        rc = cseg_report_set_migration(
            r, kp, names, cnt, (size_t)json_integer_value(json_object_get(pv, "shared_customers")),
            jnum(pv, "adjusted_rand"));
    free(names);
    free(cnt);
    return rc;
}

/* segments.json's "audit", as written by the segmentation (src/segment/audit.c). */
static int add_audits(cseg_report *r, json_t *audit, size_t k)
{
    int rc = 0;
    for (size_t a = 0; a < json_array_size(audit) && rc == 0; a++) {
        json_t *o = json_array_get(audit, a), *groups = json_object_get(o, "groups"),
               *segs = json_object_get(o, "segments");
        size_t g = json_array_size(groups);
        if (!jstr(o, "column") || g == 0 || json_array_size(segs) != k)
            continue; /* not one of ours: left out of the page */
        const char **gn = calloc(g, sizeof *gn);
        size_t *cnt = calloc(k * g, sizeof *cnt);
        if (!gn || !cnt)
            rc = CSEG_ENOMEM;
        for (size_t j = 0; rc == 0 && j < g; j++)
            gn[j] = json_string_value(json_array_get(groups, j))
                        ? json_string_value(json_array_get(groups, j))
                        : "";
        for (size_t s = 0; rc == 0 && s < k; s++) {
            json_t *c = json_object_get(json_array_get(segs, s), "counts");
            for (size_t j = 0; j < g; j++)
                cnt[s * g + j] = (size_t)json_integer_value(json_array_get(c, j));
        }
        cseg_audit_result res = {(size_t)json_integer_value(json_object_get(o, "n")),
                                 (size_t)json_integer_value(json_object_get(o, "missing")),
                                 jnum(o, "chi2"),
                                 (size_t)json_integer_value(json_object_get(o, "dof")),
                                 jnum(o, "p_value"),
                                 jnum(o, "cramers_v")};
        if (rc == 0)
            rc = cseg_report_add_audit(r, jstr(o, "column"), gn, g, cnt, &res);
        free(gn);
        free(cnt);
    }
    return rc;
}

/* The segment of every leaf of the merge tree, or NULL when it cannot be
 * told. Exact trees: leaf i is customer row i. Trees on micro-clusters: the
 * customers of a micro-cluster are not in the outputs, but every customer got
 * the segment of its micro-cluster's branch at the cut, so a branch is matched
 * to the segment with the same number of customers when that number is unique;
 * branches of tied sizes stay uncoloured. */
static int32_t *leaf_segments(const double *Z, size_t nl, const int32_t *labels, size_t n, size_t k,
                              int approximate)
{
    if (!approximate) {
        if (nl != n)
            return NULL;
        int32_t *ls = malloc(n * sizeof *ls);
        if (ls)
            memcpy(ls, labels, n * sizeof *ls);
        return ls;
    }
    size_t m = nl - 1, nn = nl + m;
    if (k < 2 || k > nl)
        return NULL;
    double *sz = malloc(nn * sizeof *sz), *cnt = calloc(k, sizeof *cnt);
    int32_t *cl = malloc(nn * sizeof *cl), *ls = NULL;
    size_t *cut = malloc(2 * k * sizeof *cut), nc = 0;
    if (!sz || !cnt || !cl || !cut)
        goto out;
    for (size_t i = 0; i < n; i++)
        if (labels[i] >= 0 && (size_t)labels[i] < k)
            cnt[labels[i]]++;
    for (size_t v = 0; v < nn; v++) {
        sz[v] = NAN;
        cl[v] = -1;
    }
    for (size_t i = 0; i < m; i++) {
        double a = Z[i * 4], b = Z[i * 4 + 1], s = Z[i * 4 + 3];
        if (!(a >= 0 && b >= 0 && a < (double)(nl + i) && b < (double)(nl + i)))
            goto out;
        size_t ia = (size_t)a, ib = (size_t)b;
        sz[nl + i] = s;
        if (ia < nl && ib < nl)
            sz[ia] = sz[ib] = s == 2 ? 1 : NAN;
        else if (ia < nl)
            sz[ia] = s - sz[ib];
        else if (ib < nl)
            sz[ib] = s - sz[ia];
    }
    /* The k branches below the cut: children of the last k - 1 merges. */
    for (size_t i = m - (k - 1); i < m; i++)
        for (int c = 0; c < 2; c++) {
            size_t v = (size_t)Z[i * 4 + (size_t)c];
            if (v < nl || v - nl < m - (k - 1))
                cut[nc++] = v;
        }
    for (size_t c = 0; c < nc; c++) {
        long match = -1;
        int ties = 0;
        for (size_t s = 0; s < k; s++)
            if (cnt[s] == sz[cut[c]]) {
                ties |= match >= 0;
                match = (long)s;
            }
        for (size_t e = 0; e < nc; e++)
            ties |= e != c && sz[cut[e]] == sz[cut[c]];
        if (match >= 0 && !ties)
            cl[cut[c]] = (int32_t)match;
    }
    for (size_t i = m; i-- > 0;)
        if (cl[nl + i] >= 0)
            cl[(size_t)Z[i * 4]] = cl[(size_t)Z[i * 4 + 1]] = cl[nl + i];
    if ((ls = malloc(nl * sizeof *ls)))
        memcpy(ls, cl, nl * sizeof *ls);
out:
    free(cut);
    free(sz);
    free(cnt);
    free(cl);
    return ls;
}

/* The dendrogram chart from the merge tree. A tree the chart refuses leaves
 * it out with a note: the rest of the page is still worth writing. */
static void add_dendrogram(cseg_report *r, const cseg_report_input *in, size_t n)
{
    const cseg_model *m = in->model;
    int approx = cseg_model_is_approximate(m);
    int32_t *ls = leaf_segments(in->linkage, in->n_leaves, in->labels, n, cseg_model_k(m), approx);
    int rc = cseg_report_set_dendrogram(r, in->linkage, in->n_leaves, ls, REPORT_TREE_LEAVES,
                                        cseg_model_linkage(m), approx);
    if (rc < 0)
        note(in, "dendrogram: %s; the report has no dendrogram", cseg_strerror(rc));
    free(ls);
}

/* The membership chart from the p_segment_1..k columns of the customer table. */
static int add_membership(cseg_report *r, const cseg_report_input *in, size_t n, size_t k)
{
    double *P = malloc((n ? n : 1) * k * sizeof *P);
    if (!P)
        return CSEG_ENOMEM;
    int rc = 0;
    for (size_t s = 0; s < k && rc == 0; s++) {
        char name[48];
        snprintf(name, sizeof name, "p_segment_%zu", s + 1);
        long j = cseg_table_find(in->customers, name);
        const double *x = j >= 0 ? cseg_table_numbers(in->customers, (size_t)j) : NULL;
        if (!x) {
            rc = 1; /* no probabilities in this table: no chart */
            break;
        }
        for (size_t i = 0; i < n; i++)
            P[i * k + s] = x[i];
    }
    if (rc == 0 && (rc = cseg_report_set_membership(r, P, n, k, in->labels)) < 0)
        note(in, "p_segment_* columns: %s; the report has no membership chart", cseg_strerror(rc));
    free(P);
    return rc == CSEG_ENOMEM ? rc : 0;
}

static int compose(cseg_report *r, const cseg_report_input *in, const cseg__report_split *split,
                   cseg_diag *diag)
{
    const cseg_model *m = in->model;
    const cseg_table *customers = in->customers;
    const int32_t *labels = in->labels;
    const char *id_column = in->id_column;
    int threads = in->n_threads;
    uint64_t seed = in->seed;
    json_error_t jerr;
    json_t *seg = NULL;
    cseg_profile *prof = NULL;
    double *X = NULL, *sil = NULL;
    size_t *ks = NULL;
    double *kin = NULL, *ksil = NULL, *kdb = NULL, *kch = NULL;
    int rc = 0;
    size_t n = cseg_table_n_rows(customers), k = cseg_model_k(m);
    if (split && (cseg_model_algo(m) != CSEG_ALGO_KMEANS || !in->profile))
        return cseg__diag(diag, CSEG_EINVAL, NULL, 0, 0,
                          "a report over processes is composed for k-means with its profiles");
    if (!(seg = json_loads(in->segments_json, 0, &jerr))) {
        rc = cseg__diag(diag, CSEG_EFORMAT, NULL, jerr.line, jerr.column, "segments.json: %s",
                        jerr.text);
        goto early;
    }

    /* Header. */
    const char *input = jstr(seg, "input");
    const char *base = input ? strrchr(input, '/') : NULL;
    char title[512];
    snprintf(title, sizeof title, "Customer segments: %s",
             base    ? base + 1
             : input ? input
                     : "data");
    cseg_report_set_text(r, CSEG_REPORT_TITLE, title);
    if (input)
        cseg_report_set_text(r, CSEG_REPORT_DATASET, input);
    json_t *warn = json_object_get(seg, "warnings");
    for (size_t w = 0; w < json_array_size(warn); w++) {
        const char *msg = jstr(json_array_get(warn, w), "message");
        if (msg && (rc = cseg_report_add_warning(r, msg)) < 0)
            goto early;
    }
    json_t *q = json_object_get(seg, "data_quality");
    if (json_is_object(q)) {
        char period[64];
        if (jstr(q, "first_day") && jstr(q, "last_day")) {
            snprintf(period, sizeof period, "%s to %s", jstr(q, "first_day"), jstr(q, "last_day"));
            cseg_report_set_text(r, CSEG_REPORT_PERIOD, period);
        }
        if (jstr(q, "as_of"))
            cseg_report_set_text(r, CSEG_REPORT_AS_OF, jstr(q, "as_of"));
        static const struct {
            const char *key, *label;
        } ql[] = {{"rows_read", "transaction rows read"},
                  {"dropped_no_customer", "rows dropped: no customer id"},
                  {"dropped_duplicates", "rows dropped: exact duplicates"},
                  {"dropped_incomplete", "rows dropped: missing date, quantity or price"},
                  {"dropped_non_positive_price", "rows dropped: price <= 0"},
                  {"left_out_after_as_of", "rows left out: after the analysis day"},
                  {"return_rows", "return rows kept (they reduce net spend)"},
                  {"customers", "customers with at least one purchase"},
                  {"customers_with_only_returns", "customers left out: only returns"}};
        for (size_t i = 0; i < sizeof ql / sizeof ql[0]; i++) {
            double v = jnum(q, ql[i].key);
            if (isfinite(v))
                cseg_report_add_quality(r, ql[i].label, v);
        }
    }
    json_t *mj = json_object_get(seg, "model");
    char algo[256];
    switch (cseg_model_algo(m)) {
    case CSEG_ALGO_HCLUST:
        snprintf(algo, sizeof algo, "hierarchical clustering, %s linkage%s, k = %zu",
                 cseg_linkage_display_name(cseg_model_linkage(m)),
                 cseg_model_is_approximate(m) ? " on micro-clusters" : "", k);
        break;
    case CSEG_ALGO_DBSCAN:
        snprintf(algo, sizeof algo,
                 "DBSCAN, eps = %.4g, min_samples = %.0f: %zu segments + "
                 "Outliers (%.0f customers)",
                 jnum(mj, "eps"), jnum(mj, "min_samples"), k - 1, jnum(mj, "outliers"));
        break;
    case CSEG_ALGO_GMM:
        snprintf(algo, sizeof algo, "Gaussian mixture, %s covariance, k = %zu (BIC %.1f)",
                 jstr(mj, "covariance_type") ? jstr(mj, "covariance_type") : "full", k,
                 jnum(mj, "bic"));
        break;
    default:
        snprintf(algo, sizeof algo,
                 "k-means, k = %zu (k-means++ seeding, %.0f restarts, seed %.0f)", k,
                 jnum(mj, "n_init"), jnum(mj, "seed"));
    }
    if (cseg_model_pca(m)) {
        size_t len = strlen(algo);
        snprintf(algo + len, sizeof algo - len, ", after PCA to %zu components",
                 cseg_pca_n_components(cseg_model_pca(m)));
    }
    cseg_report_set_text(r, CSEG_REPORT_ALGORITHM, algo);
    json_t *ksel = json_object_get(seg, "k_selection");
    if (jstr(ksel, "rule"))
        cseg_report_set_text(r, CSEG_REPORT_K_RULE, jstr(ksel, "rule"));
    json_t *tab = json_object_get(ksel, "table");
    size_t nk = json_array_size(tab);
    if (nk) {
        ks = calloc(nk, sizeof *ks);
        kin = calloc(nk, sizeof *kin);
        ksil = calloc(nk, sizeof *ksil);
        kdb = calloc(nk, sizeof *kdb);
        kch = calloc(nk, sizeof *kch);
        if (!ks || !kin || !ksil || !kdb || !kch) {
            rc = CSEG_ENOMEM;
            goto early;
        }
        size_t chosen = 0;
        long elbow = -1;
        for (size_t i = 0; i < nk; i++) {
            json_t *row = json_array_get(tab, i);
            double kv = jnum(row, "k");
            if (!(kv >= 0 && kv <= 1e9 && kv == floor(kv))) {
                rc =
                    cseg__diag(diag, CSEG_EFORMAT, NULL, 0, 0,
                               "segments.json: k_selection.table[%zu].k must be a whole number", i);
                goto early;
            }
            ks[i] = (size_t)kv;
            kin[i] = jnum(row, "inertia");
            ksil[i] = jnum(row, "silhouette");
            kdb[i] = jnum(row, "davies_bouldin");
            kch[i] = jnum(row, "calinski_harabasz");
            if ((double)ks[i] == jnum(ksel, "chosen_k"))
                chosen = i;
            if (json_is_true(json_object_get(row, "elbow")))
                elbow = (long)i;
        }
        cseg_report_set_k_table(r, nk, ks, kin, ksil, kdb, kch, chosen, elbow);
    }

    /* Segments, from the customer table. */
    if (!in->profile) {
        if ((rc = cseg_profile_compute(&prof, customers, labels, k, in->revenue_column)) < 0)
            goto early;
        for (size_t s = 0; s < k; s++)
            cseg_profile_set_name(prof, s, cseg_model_name(m, s));
    }
    const cseg_profile *pf = in->profile ? in->profile : prof;
    /* The membership probabilities are no profile feature: they have their own chart. */
    const char **skip = calloc(5 + k, sizeof *skip);
    char *pnames = calloc(k ? k : 1, 48);
    if (!skip || !pnames) {
        free(skip);
        free(pnames);
        rc = CSEG_ENOMEM;
        goto early;
    }
    size_t n_skip = 0;
    static const char *const fixed[4] = {"segment", "distance", CSEG_RFM_COL_CUSTOMER_ID,
                                         CSEG_RFM_COL_CODE};
    for (size_t i = 0; i < 4; i++)
        skip[n_skip++] = fixed[i];
    skip[n_skip++] = id_column ? id_column : "";
    for (size_t s = 0; cseg_model_algo(m) == CSEG_ALGO_GMM && s < k; s++) {
        snprintf(pnames + s * 48, 48, "p_segment_%zu", s + 1);
        skip[n_skip++] = pnames + s * 48;
    }
    int rfm = cseg_profile_find(pf, CSEG_RFM_COL_R_SCORE) >= 0;
    rc = cseg_report_set_profile(r, pf, rfm, skip, n_skip);
    free(skip);
    free(pnames);
    if (rc < 0)
        goto early;
    /* What only some kinds of model have. */
    long noise = cseg_model_outlier_segment(m);
    if (noise >= 0 && (rc = cseg_report_set_outliers(r, noise)) < 0)
        goto early;
    if (cseg_model_algo(m) == CSEG_ALGO_HCLUST && in->linkage)
        add_dendrogram(r, in, n);
    if (cseg_model_algo(m) == CSEG_ALGO_GMM && (rc = add_membership(r, in, n, k)) < 0)
        goto early;
    if ((rc = add_audits(r, json_object_get(seg, "audit"), k)) < 0 ||
        (rc = add_migration(r, json_object_get(seg, "previous"), k)) < 0 ||
        (rc = add_rules(r, json_object_get(seg, "rules"), k)) < 0 ||
        (rc = add_clv(r, json_object_get(seg, "clv"), k)) < 0 ||
        (in->rules && (rc = add_basket_rules(r, in->rules, k)) < 0))
        goto early;

    /* Model-space points: the projection and the silhouette. */
    const cseg_prep *pp = cseg_model_prep(m);
    size_t d = cseg_model_dim(m);
    X = in->points ? NULL : malloc((n ? n : 1) * d * sizeof *X);
    sil = split ? NULL : malloc((n ? n : 1) * sizeof *sil);
    if ((!in->points && !X) || (!split && !sil))
        rc = CSEG_ENOMEM;
    if ((rc = cseg__report_agreed(split, rc, 0, diag)) < 0)
        goto out;
    if (!in->points && (rc = cseg_model_transform(m, customers, X, diag)) < 0 && !split)
        goto out;
    /* A value so far outside the model's training range that its square
     * overflows (a customers.csv edited by hand) cannot be drawn: named by
     * its line, as the reader names a value that does not parse. */
    for (size_t i = 0; rc == 0 && !in->points && i < n * d; i++)
        if (!(fabs(X[i]) < 1e150)) {
            const char *name = pp ? cseg_prep_output_name(pp, i % d) : NULL;
            rc = cseg__diag(diag, CSEG_ERANGE, NULL, cseg_table_row_line(customers, i / d), 0,
                            "column \"%s\": the value is too far outside the model's training "
                            "range to draw",
                            name ? name : "?");
        }
    if ((rc = cseg__report_agreed(split, rc, rc < 0 && diag ? diag->line : 0, diag)) < 0)
        goto out;
    const double *P = in->points ? in->points : X;
    if ((rc = cseg__report_points(r, P, n, d, labels, REPORT_POINTS, seed, split)) < 0)
        goto out;
    size_t n_all = split ? split->n_all : n;
    cseg_silhouette_params sp;
    cseg_silhouette_params_init(&sp);
    sp.sample_size = n_all > REPORT_SIL ? REPORT_SIL : 0;
    sp.seed = seed;
    sp.n_threads = threads;
    double mean_sil;
    /* Outliers are no cluster: the silhouette leaves them out, as the k table does. */
    int32_t *sl = noise >= 0 ? malloc((n ? n : 1) * sizeof *sl) : NULL;
    for (size_t i = 0; sl && i < n; i++)
        sl[i] = labels[i] == noise ? -1 : labels[i];
    const int32_t *slab = sl ? sl : labels;
    if (split) { /* the sampled customers' values, from every piece */
        double *v = NULL;
        int32_t *vl = NULL;
        size_t nv = 0;
        if (split->silhouette(split->ctx, P, n, d, slab, &sp, &mean_sil, &v, &vl, &nv) == 0)
            rc = cseg_report_set_silhouette(r, v, vl, nv, REPORT_SIL, seed);
        free(v), free(vl);
    } else if (cseg_metrics_silhouette(P, n, d, slab, &sp, &mean_sil, sil) == 0) {
        cseg_report_set_silhouette(r, sil, slab, n, REPORT_SIL, seed);
    }
    free(sl);
    if ((rc = cseg__report_agreed(split, rc, 0, diag)) < 0)
        goto out;

    /* Distributions: R, F, M for transaction logs, else the first features. */
    static const char *const rfm_feats[] = {CSEG_RFM_COL_RECENCY, CSEG_RFM_COL_FREQUENCY,
                                            CSEG_RFM_COL_MONETARY};
    size_t nd = 0;
    for (size_t j = 0; j < (rfm ? 3 : cseg_prep_n_inputs(pp)) && nd < 3; j++) {
        const char *name = rfm ? rfm_feats[j] : cseg_prep_input_name(pp, j);
        long jc = cseg_table_find(customers, name);
        const double *x = jc >= 0 ? cseg_table_numbers(customers, (size_t)jc) : NULL;
        if (x && cseg__report_distribution(r, name, x, labels, n, split) == 0)
            nd++;
    }
    goto out;
early: /* a failure before the first step over pieces: agreed there with the others */
    rc = cseg__report_agreed(split, rc, 0, diag);
out:
    free(ks);
    free(kin);
    free(ksil);
    free(kdb);
    free(kch);
    free(X);
    free(sil);
    cseg_profile_free(prof);
    json_decref(seg);
    return rc;
}

int cseg_report_compose(cseg_report *r, const cseg_report_input *in, cseg_diag *diag)
{
    return compose(r, in, NULL, diag);
}

int cseg__report_compose_split(cseg_report *r, const cseg_report_input *in,
                               const cseg__report_split *split, cseg_diag *diag)
{
    return compose(r, in, split, diag);
}
