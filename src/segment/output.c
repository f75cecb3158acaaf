/* custseg — the outputs of a segmentation: segments.json (profiles, names,
 * metrics, the k table, data quality), the model's training metadata,
 * customers.csv and the dendrogram. jansson does the JSON (Debian
 * libjansson), as in model.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../clv/internal.h"
#include "../core/internal.h"
#include "../explain/internal.h"
#include "../table/internal.h"
#include "custseg/explain.h"
#include "custseg/report.h"
#include "internal.h"

json_t *cseg__jnum(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

char *cseg__json_text(const json_t *j)
{
    return json_dumps(j, JSON_INDENT(2) | JSON_REAL_PRECISION(17) | JSON_PRESERVE_ORDER);
}

int cseg__write_text(const char *text, const char *path, cseg_diag *d)
{
    cseg_atomic_file af;
    int rc = cseg__atomic_open(&af, path, d);
    if (rc < 0)
        return rc;
    fputs(text, af.f);
    fputc('\n', af.f);
    return cseg__atomic_commit(&af, d);
}

static json_t *day_json(int64_t day)
{
    char buf[32];
    cseg_format_date(day, buf, sizeof buf);
    return cseg__jstr(buf);
}

static json_t *quality_json(const cseg_quality *q)
{
    json_t *o = json_object();
    json_object_set_new(o, "rows_read", json_integer((json_int_t)q->n_rows));
    json_object_set_new(o, "dropped_no_customer", json_integer((json_int_t)q->n_no_customer));
    json_object_set_new(o, "dropped_duplicates", json_integer((json_int_t)q->n_duplicates));
    json_object_set_new(o, "dropped_incomplete", json_integer((json_int_t)q->n_incomplete));
    json_object_set_new(o, "dropped_non_positive_price", json_integer((json_int_t)q->n_bad_price));
    json_object_set_new(o, "left_out_after_as_of", json_integer((json_int_t)q->n_after_as_of));
    json_object_set_new(o, "purchase_rows", json_integer((json_int_t)q->n_purchase_rows));
    json_object_set_new(o, "return_rows", json_integer((json_int_t)q->n_return_rows));
    json_object_set_new(o, "cancellation_rows", json_integer((json_int_t)q->n_cancellations));
    json_object_set_new(o, "customers", json_integer((json_int_t)q->n_customers));
    json_object_set_new(o, "customers_with_only_returns", json_integer((json_int_t)q->n_return_only));
    json_object_set_new(o, "gross_revenue", json_real(q->gross_revenue));
    json_object_set_new(o, "returned_value", json_real(q->returned_value));
    json_object_set_new(o, "first_day", day_json(q->first_day));
    json_object_set_new(o, "last_day", day_json(q->last_day));
    json_object_set_new(o, "as_of", day_json(q->as_of_day));
    return o;
}

static const char *k_mode(const cseg_segment_params *p)
{
    return p->height > 0 ? "height" : p->k || p->algo == CSEG_ALGO_DBSCAN ? "fixed" : "auto";
}

static json_t *k_selection_json(const cseg_segmentation *r)
{
    const cseg_segment_params *p = &r->p;
    json_t *ks = json_object(), *tab = json_array();
    json_object_set_new(ks, "mode", cseg__jstr(k_mode(p)));
    json_object_set_new(ks, "rule", cseg__jstr(r->fit.rule));
    json_object_set_new(ks, "chosen_k", json_integer((json_int_t)r->k));
    if (r->fit.k_sample) /* the table's scores are a sample's */
        json_object_set_new(ks, "sample", json_integer((json_int_t)r->fit.k_sample));
    for (size_t t = 0; t < r->fit.n; t++) {
        const cseg_candidate *c = &r->cands[t];
        json_t *o = json_object();
        json_object_set_new(o, "k", json_integer((json_int_t)c->k));
        json_object_set_new(o, "inertia", cseg__jnum(c->inertia));
        json_object_set_new(o, "silhouette", cseg__jnum(c->silhouette));
        json_object_set_new(o, "davies_bouldin", cseg__jnum(c->davies_bouldin));
        json_object_set_new(o, "calinski_harabasz", cseg__jnum(c->calinski_harabasz));
        if (p->algo == CSEG_ALGO_GMM) {
            json_object_set_new(o, "bic", cseg__jnum(c->bic));
            json_object_set_new(o, "aic", cseg__jnum(c->aic));
        }
        if (p->algo == CSEG_ALGO_DBSCAN)
            json_object_set_new(o, "outliers", json_integer((json_int_t)c->n_noise));
        json_object_set_new(o, "elbow", json_boolean(c->elbow));
        json_array_append_new(tab, o);
    }
    json_object_set_new(ks, "table", tab);
    return ks;
}

static json_t *model_json(const cseg_segmentation *r)
{
    const cseg_segment_params *p = &r->p;
    /* The chosen fit's scores on every customer (with --k-sample the k
     * table's row holds the sample's). */
    const cseg_candidate *F = r->fit.has_final ? &r->fit.final : &r->cands[r->fit.chosen];
    const cseg_model *m = r->in.model;
    size_t n = r->n_all, sil_n = cseg__sil_sample(p, n);
    json_t *mj = json_object();
    json_object_set_new(mj, "algorithm", cseg__jstr(cseg_algo_name(p->algo)));
    json_object_set_new(mj, "k", json_integer((json_int_t)r->k));
    json_object_set_new(mj, "seed", json_integer((json_int_t)p->seed));
    if (p->algo == CSEG_ALGO_KMEANS) {
        json_object_set_new(mj, "kmeans_variant",
                            cseg__jstr(p->kmeans_algorithm == CSEG_KMEANS_LLOYD ? "lloyd"
                                                                                 : "hamerly"));
        json_object_set_new(mj, "n_init", json_integer((json_int_t)p->n_init));
        json_object_set_new(mj, "max_iter", json_integer((json_int_t)p->max_iter));
        json_object_set_new(mj, "tol", json_real(p->tol));
    } else if (p->algo == CSEG_ALGO_HCLUST) {
        json_object_set_new(mj, "linkage", cseg__jstr(cseg_linkage_name(p->linkage)));
        json_object_set_new(mj, "approximate", json_boolean(cseg_hclust_is_approximate(r->fit.tree)));
        json_object_set_new(mj, "n_leaves", json_integer((json_int_t)cseg_hclust_n_leaves(r->fit.tree)));
        if (p->height > 0)
            json_object_set_new(mj, "height", json_real(p->height));
    } else if (p->algo == CSEG_ALGO_DBSCAN) {
        json_object_set_new(mj, "eps", json_real(r->fit.eps));
        json_object_set_new(mj, "eps_from_k_distance", json_boolean(r->fit.eps_suggested));
        json_object_set_new(mj, "min_samples", json_integer((json_int_t)r->fit.min_samples));
        json_object_set_new(mj, "outliers", json_integer((json_int_t)F->n_noise));
        json_object_set_new(mj, "core_points",
                            json_integer((json_int_t)cseg_dbscan_n_core(cseg_model_dbscan(m))));
    } else {
        json_object_set_new(mj, "covariance_type", cseg__jstr(cseg_gmm_cov_name(p->covariance)));
        json_object_set_new(mj, "n_init", json_integer((json_int_t)p->n_init));
        json_object_set_new(mj, "bic", cseg__jnum(F->bic));
        json_object_set_new(mj, "aic", cseg__jnum(F->aic));
    }
    if (p->algo == CSEG_ALGO_KMEANS || p->algo == CSEG_ALGO_GMM) {
        json_object_set_new(mj, "n_iter", json_integer((json_int_t)F->n_iter));
        json_object_set_new(mj, "converged", json_boolean(F->converged));
    }
    if (cseg_model_pca(m)) {
        const cseg_pca *pc = cseg_model_pca(m);
        double tot = 0;
        for (size_t c = 0; c < cseg_pca_n_components(pc); c++)
            tot += cseg_pca_explained_variance_ratio(pc)[c];
        json_object_set_new(mj, "pca_components", json_integer((json_int_t)cseg_pca_n_components(pc)));
        json_object_set_new(mj, "pca_explained_variance_ratio", cseg__jnum(tot));
    }
    json_object_set_new(mj, "inertia", cseg__jnum(F->inertia));
    json_object_set_new(mj, "silhouette", cseg__jnum(F->silhouette));
    json_object_set_new(mj, "silhouette_sample",
                        sil_n && sil_n < n ? json_integer((json_int_t)sil_n) : json_null());
    json_object_set_new(mj, "davies_bouldin", cseg__jnum(F->davies_bouldin));
    json_object_set_new(mj, "calinski_harabasz", cseg__jnum(F->calinski_harabasz));
    json_object_set_new(mj, "assign_agreement",
                        cseg__jnum(n ? 1.0 - (double)r->mismatch / (double)n : NAN));
    return mj;
}

/* {"Country": {"France": 0.12, ...}, ...}: level shares of segment s (k: all). */
static json_t *categories_json(const cseg_profile *prof, size_t s, const char *id)
{
    json_t *cats = json_object();
    for (size_t c = 0; c < cseg_profile_n_categories(prof); c++) {
        const char *cn = cseg_profile_category(prof, c);
        if (id && strcmp(cn, id) == 0)
            continue;
        json_t *lv = json_object();
        for (size_t l = 0; l < cseg_profile_n_levels(prof, c); l++)
            json_object_set_new(lv, cseg_profile_level(prof, c, l),
                                cseg__jnum(cseg_profile_level_share(prof, c, s, l)));
        json_object_set_new(cats, cn, lv);
    }
    return cats;
}

static json_t *segments_json(const cseg_segmentation *r)
{
    const cseg_profile *prof = r->prof;
    const char *id = r->in.id_column;
    json_t *segs = json_array();
    size_t nf = cseg_profile_n_features(prof);
    for (size_t s = 0; s < r->k; s++) {
        json_t *so = json_object(), *mean = json_object(), *med = json_object();
        json_object_set_new(so, "segment", json_integer((json_int_t)(s + 1)));
        json_object_set_new(so, "name", cseg__jstr(cseg_profile_name(prof, s)));
        const char *act = cseg_profile_action_for(cseg_profile_name(prof, s));
        if (r->in.rfm)
            json_object_set_new(so, "action", act ? cseg__jstr(act) : json_null());
        json_object_set_new(so, "size", json_integer((json_int_t)cseg_profile_size(prof, s)));
        json_object_set_new(so, "share", cseg__jnum(cseg_profile_share(prof, s)));
        json_object_set_new(so, "revenue_share", cseg__jnum(cseg_profile_revenue_share(prof, s)));
        const double *mu = cseg_profile_means(prof, s), *md = cseg_profile_medians(prof, s);
        for (size_t j = 0; j < nf; j++) {
            const char *fn = cseg_profile_feature(prof, j);
            if (strcmp(fn, "segment") == 0 || strcmp(fn, "distance") == 0 ||
                (id && strcmp(fn, id) == 0))
                continue;
            json_object_set_new(mean, fn, cseg__jnum(mu[j]));
            json_object_set_new(med, fn, cseg__jnum(md[j]));
        }
        json_object_set_new(so, "mean", mean);
        json_object_set_new(so, "median", med);
        if (cseg_profile_n_categories(prof) > 0)
            json_object_set_new(so, "categories", categories_json(prof, s, id));
        json_array_append_new(segs, so);
    }
    return segs;
}

static json_t *population_json(const cseg_segmentation *r)
{
    const cseg_profile *prof = r->prof;
    json_t *pop = json_object(), *pm = json_object(), *psd = json_object();
    for (size_t j = 0; j < cseg_profile_n_features(prof); j++) {
        const char *fn = cseg_profile_feature(prof, j);
        if (r->in.id_column && strcmp(fn, r->in.id_column) == 0)
            continue;
        json_object_set_new(pm, fn, cseg__jnum(cseg_profile_pop_means(prof)[j]));
        json_object_set_new(psd, fn, cseg__jnum(cseg_profile_pop_sds(prof)[j]));
    }
    json_object_set_new(pop, "mean", pm);
    json_object_set_new(pop, "sd", psd);
    if (cseg_profile_n_categories(prof) > 0)
        json_object_set_new(pop, "categories", categories_json(prof, r->k, r->in.id_column));
    return pop;
}

/* Training metadata kept in model.json. */
static int set_meta(cseg_segmentation *r)
{
    const cseg_candidate *F = r->fit.has_final ? &r->fit.final : &r->cands[r->fit.chosen];
    json_t *meta = json_object();
    json_object_set_new(meta, "input", cseg__jstr(r->input_name));
    json_object_set_new(meta, "n_customers", json_integer((json_int_t)r->n_all));
    json_object_set_new(meta, "k_mode", cseg__jstr(k_mode(&r->p)));
    json_object_set_new(meta, "rule", cseg__jstr(r->fit.rule));
    json_object_set_new(meta, "inertia", cseg__jnum(F->inertia));
    if (r->p.algo == CSEG_ALGO_KMEANS || r->p.algo == CSEG_ALGO_GMM)
        json_object_set_new(meta, "n_iter", json_integer((json_int_t)F->n_iter));
    if (r->in.has_quality)
        json_object_set_new(meta, "as_of", day_json(r->in.quality.as_of_day));
    char *mt = json_dumps(meta, JSON_COMPACT | JSON_REAL_PRECISION(17) | JSON_PRESERVE_ORDER);
    json_decref(meta);
    int rc = mt ? cseg_model_set_meta(r->in.model, mt) : CSEG_ENOMEM;
    free(mt);
    return rc;
}

/* The segments' surrogate rules (explain.h, docs/explain.md). */
static int rules_json(const cseg_segmentation *r, json_t **out, cseg_diag *d)
{
    cseg_rules rules;
    const cseg__split_comm *sc = r->split ? r->split->sc : NULL;
    const cseg__km_comm *km = r->split ? r->split->km : NULL;
    int rc =
        cseg__explain_rules_split(r->in.model, r->in.customers, r->labels, 3, sc, km, &rules, d);
    if (rc < 0)
        return rc;
    json_t *o = json_object(), *segs = json_array();
    json_object_set_new(o, "fidelity", cseg__jnum(rules.fidelity));
    json_object_set_new(o, "depth", json_integer((json_int_t)rules.depth));
    for (size_t s = 0; s < r->k; s++) {
        json_t *js = json_object(), *list = json_array();
        json_object_set_new(js, "segment", json_integer((json_int_t)s + 1));
        for (size_t i = 0; i < rules.n; i++) {
            const cseg_rule *ru = &rules.rule[i];
            if (ru->segment != (int32_t)s)
                continue;
            json_array_append_new(list, json_pack("{s:s,s:o,s:o,s:I}", "rule", ru->text,
                                                  "precision", cseg__jnum(ru->precision), "recall",
                                                  cseg__jnum(ru->recall), "support",
                                                  (json_int_t)ru->support));
        }
        json_object_set_new(js, "rules", list);
        json_array_append_new(segs, js);
    }
    json_object_set_new(o, "segments", segs);
    cseg_rules_free(&rules);
    /* Permutation importance of each input column, on at most 20,000 customers. */
    const cseg_prep *pp = cseg_model_prep(r->in.model);
    size_t nf = cseg_prep_n_inputs(pp);
    double *imp = malloc((nf ? nf : 1) * sizeof *imp), *sd = malloc((nf ? nf : 1) * sizeof *sd);
    uint64_t bad = !imp || !sd;
    rc = sc ? sc->sum(sc->ctx, &bad, 1, NULL, 0) : 0;
    if (rc == 0)
        rc = !bad ? cseg__explain_importance_split(r->in.model, r->in.customers, 5, 20000,
                                                   r->p.seed, imp, sd, sc, km, d)
                  : cseg__diag(d, CSEG_ENOMEM, NULL, 0, 0, "out of memory");
    json_t *ji = json_array();
    for (size_t j = 0; rc == 0 && j < nf; j++)
        json_array_append_new(ji, json_pack("{s:s,s:o,s:o}", "feature", cseg_prep_input_name(pp, j),
                                            "importance", cseg__jnum(imp[j]), "sd",
                                            cseg__jnum(sd[j])));
    free(imp);
    free(sd);
    if (rc < 0) {
        json_decref(ji);
        json_decref(o);
        return rc;
    }
    json_object_set_new(o, "importance", ji);
    *out = o;
    return 0;
}

/* How this run's segments continue the previous run's (docs/resegment.md). */
static json_t *previous_json(const cseg_segmentation *r)
{
    const cseg__prev *pv = r->prev;
    size_t k = r->k, kp = pv->kp;
    json_t *o = json_object(), *segs = json_array(), *vanished = json_array(), *rows = json_array();
    json_object_set_new(o, "segments_before", json_integer((json_int_t)kp));
    json_object_set_new(o, "shared_customers", json_integer((json_int_t)pv->shared));
    json_object_set_new(o, "adjusted_rand", cseg__jnum(pv->ari));
    for (size_t s = 0; s < k; s++) {
        json_t *js = json_object();
        long i = pv->of_new[s];
        json_object_set_new(js, "segment", json_integer((json_int_t)s + 1));
        json_object_set_new(js, "name", cseg__jstr(cseg_model_name(r->in.model, s)));
        json_object_set_new(js, "previous_segment", i >= 0 ? json_integer(i + 1) : json_null());
        json_object_set_new(js, "status", cseg__jstr(i >= 0 ? "continued" : "new"));
        json_object_set_new(js, "jaccard", cseg__jnum(pv->jaccard[s]));
        json_object_set_new(js, "centre_distance", cseg__jnum(pv->dist[s]));
        json_array_append_new(segs, js);
    }
    for (size_t i = 0; i < kp; i++) {
        /* a number the previous customers.csv skips had no customers: it
         * did not vanish, it never was */
        if (pv->of_prev[i] < 0 && pv->prev_size[i] > 0)
            json_array_append_new(vanished, json_pack("{s:I,s:s,s:I}", "segment", (json_int_t)i + 1,
                                                      "name", pv->names[i], "size",
                                                      (json_int_t)pv->prev_size[i]));
        json_t *row = json_object(), *cnt = json_array(), *sh = json_array();
        size_t tot = 0;
        for (size_t s = 0; s < k; s++)
            tot += pv->migration[i * k + s];
        for (size_t s = 0; s < k; s++) {
            json_array_append_new(cnt, json_integer((json_int_t)pv->migration[i * k + s]));
            json_array_append_new(sh, cseg__jnum(tot ? (double)pv->migration[i * k + s] / (double)tot
                                                     : NAN));
        }
        json_object_set_new(row, "previous_segment", json_integer((json_int_t)i + 1));
        json_object_set_new(row, "name", cseg__jstr(pv->names[i]));
        json_object_set_new(row, "counts", cnt);
        json_object_set_new(row, "shares", sh);
        json_array_append_new(rows, row);
    }
    json_object_set_new(o, "segments", segs);
    json_object_set_new(o, "vanished", vanished);
    json_object_set_new(o, "migration", rows);
    return o;
}

/* segments.json's "clv": the models, and per segment the customers' total
 * and mean lifetime value, mean P(alive) and expected purchases. */
static json_t *clv_json(const cseg_segmentation *r)
{
    json_t *o = cseg__clv_json(&cseg_model_rfm(r->in.model)->clv), *segs = json_array();
    long jc = cseg_table_find(r->table, CSEG_CLV_COL_CLV);
    long ja = cseg_table_find(r->table, CSEG_CLV_COL_P_ALIVE);
    long je = cseg_table_find(r->table, CSEG_CLV_COL_EXPECTED);
    if (jc < 0 || ja < 0 || je < 0)
        return o;
    const double *cl = cseg_table_numbers(r->table, (size_t)jc);
    const double *pa = cseg_table_numbers(r->table, (size_t)ja);
    const double *ep = cseg_table_numbers(r->table, (size_t)je);
    for (size_t s = 0; s < r->k; s++) {
        double sc = 0, sa = 0, se = 0;
        size_t cnt = 0;
        for (size_t i = 0; i < r->n; i++)
            if ((size_t)r->labels[i] == s) {
                sc += cl[i];
                sa += pa[i];
                se += ep[i];
                cnt++;
            }
        json_t *row = json_object();
        json_object_set_new(row, "segment", json_integer((json_int_t)s + 1));
        json_object_set_new(row, "customers", json_integer((json_int_t)cnt));
        json_object_set_new(row, "clv_total", cseg__jnum(sc));
        json_object_set_new(row, "clv_mean", cseg__jnum(cnt ? sc / (double)cnt : NAN));
        json_object_set_new(row, "p_alive_mean", cseg__jnum(cnt ? sa / (double)cnt : NAN));
        json_object_set_new(row, "expected_purchases_total", cseg__jnum(se));
        json_array_append_new(segs, row);
    }
    json_object_set_new(o, "segments", segs);
    if (r->in.has_clv_check) {
        const cseg_clv_check *c = &r->in.clv_check;
        char a[16], b[16];
        cseg_format_date(c->calibration_end, a, sizeof a);
        cseg_format_date(c->holdout_end, b, sizeof b);
        json_t *h = json_object(), *g = json_array();
        json_object_set_new(h, "calibration_end", cseg__jstr(a));
        json_object_set_new(h, "holdout_end", cseg__jstr(b));
        json_object_set_new(h, "duration", cseg__jnum(c->duration));
        json_object_set_new(h, "bgnbd", json_pack("{s:f,s:f,s:f,s:f}", "r", c->bgnbd.param[0],
                                                  "alpha", c->bgnbd.param[1], "a",
                                                  c->bgnbd.param[2], "b", c->bgnbd.param[3]));
        for (size_t k = 0; k < CSEG_CLV_CHECK_GROUPS; k++) {
            char lab[8];
            snprintf(lab, sizeof lab, k + 1 == CSEG_CLV_CHECK_GROUPS ? "%zu+" : "%zu", k);
            json_array_append_new(g, json_pack("{s:s,s:I,s:o,s:o}", "frequency", lab, "customers",
                                               (json_int_t)c->customers[k], "actual",
                                               cseg__jnum(c->actual[k]), "predicted",
                                               cseg__jnum(c->predicted[k])));
        }
        json_object_set_new(h, "by_frequency", g);
        json_object_set_new(h, "actual", cseg__jnum(c->actual_all));
        json_object_set_new(h, "predicted", cseg__jnum(c->predicted_all));
        json_object_set_new(o, "holdout", h);
    }
    /* what the report's P(alive) map spans: the oldest customer, and the
     * repeat purchases of all but the 1% most frequent */
    long jT = cseg_table_find(r->table, CSEG_CLV_COL_T);
    long jF = cseg_table_find(r->table, CSEG_CLV_COL_FREQUENCY);
    const double *T = jT >= 0 ? cseg_table_numbers(r->table, (size_t)jT) : NULL;
    const double *F = jF >= 0 ? cseg_table_numbers(r->table, (size_t)jF) : NULL;
    double *sorted = F ? malloc((r->n ? r->n : 1) * sizeof *sorted) : NULL;
    if (T && sorted) {
        double mT = 0;
        for (size_t i = 0; i < r->n; i++)
            mT = T[i] > mT ? T[i] : mT;
        memcpy(sorted, F, r->n * sizeof *sorted);
        cseg__sort_doubles(sorted, r->n);
        json_object_set_new(o, "heatmap",
                            json_pack("{s:f,s:f}", "max_T", mT, "max_frequency",
                                      ceil(cseg__quantile_sorted(sorted, r->n, 0.99))));
    }
    free(sorted);
    return o;
}

int cseg__segment_outputs(cseg_segmentation *r, cseg_diag *d)
{
    json_t *root = json_object(), *feat = json_array(), *mfeat = json_array();
    const cseg_prep *pp = cseg_model_prep(r->in.model);
    json_object_set_new(root, "custseg_version", cseg__jstr(cseg_version()));
    json_object_set_new(root, "input", cseg__jstr(r->input_name));
    json_object_set_new(root, "input_kind", cseg__jstr(r->in.has_quality ? "transactions"
                                                                          : "customers"));
    json_object_set_new(root, "n_customers", json_integer((json_int_t)r->n_all));
    json_t *warn = json_array();
    for (size_t w = 0; w < r->warn.n; w++)
        json_array_append_new(warn, json_pack("{s:s,s:s}", "code", r->warn.code[w], "message",
                                              r->warn.msg[w]));
    json_object_set_new(root, "warnings", warn);
    if (r->in.has_quality)
        json_object_set_new(root, "data_quality", quality_json(&r->in.quality));
    if (r->in.has_quality && cseg_model_rfm(r->in.model)->clv.has_fit)
        json_object_set_new(root, "clv", clv_json(r));
    for (size_t j = 0; j < r->in.n_features; j++)
        json_array_append_new(feat, cseg__jstr(r->in.features[j]));
    for (size_t j = 0; j < cseg_prep_n_outputs(pp); j++)
        json_array_append_new(mfeat, cseg__jstr(cseg_prep_output_name(pp, j)));
    json_object_set_new(root, "features", feat);
    json_object_set_new(root, "model_features", mfeat);
    json_object_set_new(root, "revenue_column", r->in.revenue_column
                                                    ? cseg__jstr(r->in.revenue_column)
                                                    : json_null());
    json_object_set_new(root, "k_selection", k_selection_json(r));
    json_object_set_new(root, "model", model_json(r));
    json_object_set_new(root, "segments", segments_json(r));
    json_object_set_new(root, "population", population_json(r));
    if (r->prev)
        json_object_set_new(root, "previous", previous_json(r));
    json_t *audit = NULL, *rules = NULL;
    int rc = cseg__audit_json(r, &audit, d);
    if (rc == 0)
        rc = rules_json(r, &rules, d);
    if (rc < 0) {
        json_decref(audit);
        json_decref(root);
        return rc;
    }
    json_object_set_new(root, "rules", rules);
    if (audit)
        json_object_set_new(root, "audit", audit);
    r->json = cseg__json_text(root);
    json_decref(root);
    if (!r->json || set_meta(r) < 0)
        return cseg__diag(d, CSEG_ENOMEM, NULL, 0, 0, "out of memory");
    return 0;
}

int cseg_segment_write_json(const cseg_segmentation *r, const char *path, cseg_diag *d)
{
    return cseg__write_text(r->json, path, d);
}

/* The files of every customer need them all: not from one rank of a
 * segmentation over processes (segments.json and the model are whole). */
static int whole(const cseg_segmentation *r, cseg_diag *d)
{
    return r->spread ? cseg__diag(d, CSEG_EINVAL, NULL, 0, 0,
                                  "a segmentation over processes holds this process's customers "
                                  "only: its customers.csv, report and store rows are not "
                                  "written from one process")
                     : 0;
}

int cseg_segment_write_customers(const cseg_segmentation *r, const char *path, cseg_diag *d)
{
    int rc = whole(r, d);
    return rc < 0 ? rc : cseg_table_write_csv(r->table, path, d);
}

void cseg_segment_set_progress(cseg_segmentation *s, cseg_progress_fn fn, void *user)
{
    s->write_progress = fn;
    s->write_progress_user = user;
}

int cseg__segment_tell_write(const cseg_segmentation *r, const char *file, size_t done,
                             size_t total)
{
    if (!r->write_progress)
        return 0;
    cseg_progress pr = {CSEG_STAGE_WRITE,
                        cseg_algo_label(r->p.algo, r->p.linkage),
                        r->k,
                        done,
                        total,
                        r->n_all,
                        0,
                        file};
    return r->write_progress(&pr, r->write_progress_user);
}

static int tell_rows(size_t done, size_t total, void *user)
{
    return cseg__segment_tell_write(user, "customers.csv", done, total);
}

/* One output file's CSEG_STAGE_WRITE step; CSEG_ECANCELED to stop. */
static int tell_file(const cseg_segmentation *r, const char *file, cseg_diag *d)
{
    return cseg__segment_tell_write(r, file, 0, 1)
               ? cseg__diag(d, CSEG_ECANCELED, NULL, 0, 0, "writing canceled")
               : 0;
}

int cseg_segment_write_dendrogram(const cseg_segmentation *r, const char *csv_path,
                                  const char *json_path, cseg_diag *d)
{
    const cseg_hclust *tree = r->fit.tree;
    if (!tree)
        return CSEG_EINVAL;
    size_t m = cseg_hclust_n_leaves(tree) - 1;
    const double *Zl = cseg_hclust_linkage(tree);
    static const char *const cols[] = {"id_a", "id_b", "height", "size"};
    cseg_table *t = NULL;
    double *col = malloc((m ? m : 1) * sizeof *col);
    char *text = NULL;
    int rc = CSEG_ENOMEM;
    if (!col || cseg_table_create(&t, m) < 0)
        goto out;
    for (size_t c = 0; c < 4; c++) {
        for (size_t i = 0; i < m; i++)
            col[i] = Zl[i * 4 + c];
        if ((rc = cseg_table_add_numbers(t, cols[c], col)) < 0)
            goto out;
    }
    if ((rc = cseg_table_write_csv(t, csv_path, d)) < 0)
        goto out;
    json_t *j = json_object(), *merges = json_array();
    json_object_set_new(j, "linkage", cseg__jstr(cseg_linkage_name(r->p.linkage)));
    json_object_set_new(j, "n_leaves", json_integer((json_int_t)(m + 1)));
    json_object_set_new(j, "approximate", json_boolean(cseg_hclust_is_approximate(tree)));
    json_object_set_new(j, "columns", json_pack("[ssss]", "id_a", "id_b", "height", "size"));
    for (size_t i = 0; i < m; i++)
        json_array_append_new(merges, json_pack("[IIfI]", (json_int_t)Zl[i * 4],
                                                (json_int_t)Zl[i * 4 + 1], Zl[i * 4 + 2],
                                                (json_int_t)Zl[i * 4 + 3]));
    json_object_set_new(j, "merges", merges);
    text = cseg__json_text(j);
    json_decref(j);
    rc = text ? cseg__write_text(text, json_path, d) : CSEG_ENOMEM;
out:
    free(col);
    free(text);
    cseg_table_free(t);
    return rc;
}

void cseg__segment_report_input(const cseg_segmentation *r, cseg_log_fn log, void *log_user,
                                cseg_report_input *in)
{
    size_t nl = 0;
    const double *Z = cseg_segment_linkage(r, &nl, NULL);
    *in = (cseg_report_input){r->json,
                              r->in.model,
                              r->table,
                              r->labels,
                              r->in.id_column,
                              r->in.revenue_column,
                              Z,
                              nl,
                              r->p.n_threads,
                              r->p.seed,
                              log,
                              log_user,
                              NULL,
                              r->X_dim == cseg_model_dim(r->in.model) ? r->X : NULL,
                              r->prof};
}

int cseg_segment_write_report(const cseg_segmentation *r, const char *path, cseg_log_fn log,
                              void *log_user, cseg_diag *d)
{
    if (whole(r, d) < 0)
        return CSEG_EINVAL;
    cseg_report_input in;
    cseg__segment_report_input(r, log, log_user, &in);
    cseg_report *rep = NULL;
    int rc = cseg_report_create(&rep);
    if (rc == 0 && (rc = cseg_report_compose(rep, &in, d)) == 0)
        rc = cseg_report_write(rep, path, d);
    cseg_report_free(rep);
    if (rc < 0 && d && !d->msg[0] && !d->file[0])
        cseg__diag(d, rc, path, 0, 0, "%s", cseg_strerror(rc));
    return rc;
}

const char *const cseg__segment_outputs_names[6] = {"customers.csv",  "segments.json",
                                                    "model.json",     "report.html",
                                                    "dendrogram.csv", "dendrogram.json"};

int cseg_segment_write_all(const cseg_segmentation *r, const char *dir, cseg_log_fn log,
                           void *log_user, cseg_diag *d)
{
    const char *const *names = cseg__segment_outputs_names;
    char path[6][4096];
    cseg_outdir o;
    int rc = whole(r, d);
    if (rc < 0)
        return rc;
    rc = cseg__outdir_begin(&o, dir, names, 6, d);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < 6 && rc == 0; i++)
        rc = cseg__outdir_file(&o, names[i], path[i], sizeof path[i]);
    if (rc == 0)
        rc = cseg__table_write_csv_fn(r->table, path[0], r->write_progress ? tell_rows : NULL,
                                      (void *)r, d);
    if (rc == 0 && (rc = tell_file(r, names[1], d)) == 0)
        rc = cseg_segment_write_json(r, path[1], d);
    if (rc == 0 && (rc = tell_file(r, names[2], d)) == 0)
        rc = cseg_model_save(r->in.model, path[2], d);
    if (rc == 0 && r->fit.tree && (rc = tell_file(r, names[4], d)) == 0)
        rc = cseg_segment_write_dendrogram(r, path[4], path[5], d);
    if (rc == 0 && (rc = tell_file(r, names[3], d)) == 0)
        rc = cseg_segment_write_report(r, path[3], log, log_user, d);
    if (rc < 0) {
        cseg__outdir_untemp(&o, d);
        cseg__outdir_abort(&o);
        return rc;
    }
    return cseg__outdir_commit(&o, d);
}
