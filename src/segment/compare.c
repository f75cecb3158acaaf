/* custseg — compare: several algorithms over a range of k on the same
 * prepared customers, with stability over bootstrap resamples and a
 * recommendation (the rule is in include/custseg/segment.h and
 * docs/algorithms.md#compare). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "custseg/metrics.h"
#include "internal.h"
#include "../core/internal.h"

#define STABLE_MIN 0.75
#define MIN_SHARE 0.02
#define MAX_OUTLIERS 0.20

struct cseg_comparison {
    char *input_name;
    cseg_compare_row *rows;
    size_t n_rows, best, n_all, n, d, bootstrap;
    const char *rule;
    const cseg__input *in; /* while comparing: the customers, and */
    const size_t *kept;    /* the rows compared (NULL: all) */
};

void cseg_compare_params_init(cseg_compare_params *p)
{
    memset(p, 0, sizeof *p);
    cseg_segment_params_init(&p->segment);
    p->bootstrap = 10;
    p->subsample = 20000;
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

static void sizes_stats(const cseg__cand *c, size_t n, cseg_compare_row *r)
{
    size_t kc = c->c.n_clusters;
    size_t *cnt = calloc(kc ? kc : 1, sizeof *cnt);
    r->balance = r->min_share = NAN;
    r->outlier_share = n ? (double)c->c.n_noise / (double)n : 0;
    if (!cnt)
        return;
    for (size_t i = 0; i < n; i++)
        if (c->labels[i] >= 0)
            cnt[c->labels[i]]++;
    size_t inl = n - c->c.n_noise, mn = inl;
    double h = 0;
    for (size_t s = 0; s < kc; s++) {
        mn = cnt[s] < mn ? cnt[s] : mn;
        double q = inl ? (double)cnt[s] / (double)inl : 0;
        if (q > 0)
            h -= q * log(q);
    }
    r->min_share = n ? (double)mn / (double)n : NAN;
    r->balance = kc > 1 ? h / log((double)kc) : 1.0;
    free(cnt);
}

/* Stability of every candidate of one algorithm: B resamples, each fitted
 * once over the whole k range. */
static int stability(const cseg_segment_params *p, size_t B, const cseg__fit *f, const double *Z,
                     size_t n, size_t d, cseg_compare_row *rows, cseg_diag *diag)
{
    size_t m = f->n;
    for (size_t t = 0; t < m; t++)
        rows[t].stability = B ? 0 : NAN;
    if (!B)
        return 0;
    double *Zb = malloc((n ? n : 1) * d * sizeof *Zb);
    int32_t *lab = malloc((n ? n : 1) * m * sizeof *lab);
    char *fit = malloc(m ? m : 1);
    int rc = 0;
    if (!Zb || !lab || !fit) {
        rc = CSEG_ENOMEM;
        goto out;
    }
    cseg_segment_params pb = *p;
    /* The resamples keep the full data's eps so that stability measures the
     * clustering, not a different radius. */
    pb.eps = f->eps;
    uint64_t st = p->seed ^ 0x5EEDB0075ULL;
    for (size_t b = 0; b < B; b++) {
        if ((rc = cseg__progress(p, CSEG_STAGE_STABILITY, 0, b, B, n, d)) < 0)
            goto out;
        for (size_t i = 0; i < n; i++)
            memcpy(Zb + i * d, Z + (cseg__splitmix64(&st) % n) * d, d * sizeof *Zb);
        pb.seed = p->seed + b + 1;
        size_t got = 0;
        if (cseg__fit_predict(&pb, Zb, n, Z, n, d, m, &got, lab, diag) < 0) {
            cseg_diag_clear(diag);
            got = 0;
        }
        memset(fit, 0, m);
        memset(fit, 1, got);
        /* A resample's table ends at the first k that gives fewer clusters
         * (which depends on its rows): the candidates past it are fitted one
         * k at a time, so that a candidate's stability does not depend on
         * the range of k asked for. A resample on which the algorithm cannot
         * run (at that k) counts as 0. */
        for (size_t t = got; t < m && p->algo != CSEG_ALGO_DBSCAN; t++) {
            cseg_segment_params p1 = pb;
            size_t one = 0;
            p1.k = f->c[t].c.k;
            if (cseg__fit_predict(&p1, Zb, n, Z, n, d, 1, &one, lab + t * n, diag) < 0)
                cseg_diag_clear(diag);
            else
                fit[t] = one == 1;
        }
        for (size_t t = 0; t < m; t++) {
            double ari;
            if (fit[t] && cseg_metrics_adjusted_rand(f->c[t].labels, lab + t * n, n, &ari) == 0)
                rows[t].stability += ari;
        }
    }
    for (size_t t = 0; t < m; t++)
        rows[t].stability /= (double)B;
    rc = cseg__progress(p, CSEG_STAGE_DONE, 0, B, B, n, d);
out:
    free(Zb);
    free(lab);
    free(fit);
    return rc;
}

/* Keep a uniform sample of size rows of Z (a partial Fisher-Yates shuffle,
 * kept in row order): choosing needs the shape of the data, not every
 * customer. */
static int subsample(double **Z, size_t n, size_t d, size_t size, uint64_t seed, size_t **kept)
{
    size_t *idx = malloc(n * sizeof *idx);
    double *Zs = cseg__alloc_aligned(size * d, sizeof *Zs);
    if (!idx || !Zs) {
        free(idx);
        cseg__free_aligned(Zs);
        return CSEG_ENOMEM;
    }
    uint64_t st = seed ^ 0x5A3B1E5ULL;
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    for (size_t i = 0; i < size; i++) {
        size_t j = i + (size_t)(cseg__splitmix64(&st) % (n - i)), t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
    qsort(idx, size, sizeof *idx, cmp_size);
    for (size_t i = 0; i < size; i++)
        memcpy(Zs + i * d, *Z + idx[i] * d, d * sizeof *Zs);
    *kept = idx; /* its first size entries: the rows compared */
    cseg__free_aligned(*Z); /* cseg__prepare's */
    *Z = Zs;
    return 0;
}

/* Fit, score and resample one algorithm; its rows are appended. */
static int compare_algo(cseg_comparison *c, const cseg_segment_params *t, size_t B,
                        const double *Z, size_t *cap, cseg_diag *diag)
{
    size_t n = c->n, d = c->d;
    const char *label = cseg_algo_label(t->algo, t->linkage);
    cseg__fit f;
    int rc = cseg__fit_run(t, Z, n, d, &f, 1, 1, diag);
    if (rc < 0) {
        cseg__fit_free(&f);
        if (rc == CSEG_ECANCELED)
            return rc;
        /* One algorithm that cannot run (memory, no eps) is reported, not fatal. */
        char buf[1200];
        cseg__log(t, CSEG_LOG_NOTE, "%s skipped: %s", label,
                  diag && (diag->msg[0] || diag->file[0]) ? cseg_diag_format(diag, buf, sizeof buf)
                                                          : cseg_strerror(rc));
        cseg_diag_clear(diag);
        return 0;
    }
    if (c->n_rows + f.n > *cap) {
        size_t ncap = (c->n_rows + f.n) * 2;
        cseg_compare_row *nr = cseg__reallocarray(c->rows, ncap, sizeof *nr);
        if (!nr) {
            cseg__fit_free(&f);
            return CSEG_ENOMEM;
        }
        c->rows = nr;
        *cap = ncap;
    }
    cseg_compare_row *R = c->rows + c->n_rows;
    memset(R, 0, f.n * sizeof *R);
    rc = stability(t, B, &f, Z, n, d, R, diag);
    if (rc == 0) {
        for (size_t i = 0; i < f.n; i++) {
            snprintf(R[i].algorithm, sizeof R[i].algorithm, "%s", label);
            R[i].c = f.c[i].c;
            sizes_stats(&f.c[i], n, &R[i]);
            int dg = cseg__degenerate(f.c[i].labels, n, f.c[i].c.n_clusters,
                                      t->algo == CSEG_ALGO_DBSCAN ? -2 : -1, c->in->customers,
                                      c->kept, c->in->id_column, c->in->revenue_column, NULL, NULL);
            if (dg == CSEG_ENOMEM) {
                rc = dg;
                break;
            }
            R[i].degenerate = dg > 0;
        }
        if (rc == 0)
            c->n_rows += f.n;
    }
    if (rc < 0 && diag && !diag->msg[0] && !diag->file[0])
        snprintf(diag->msg, sizeof diag->msg, "%s: %s", label, cseg_strerror(rc));
    cseg__fit_free(&f);
    return rc;
}

/* The recommendation (rule in segment.h). */
static void recommend(cseg_comparison *c)
{
    size_t best = (size_t)-1, any = 0;
    int n_stable = 0, n_balanced = 0;
    for (size_t i = 0; i < c->n_rows; i++) {
        cseg_compare_row *r = &c->rows[i];
        int stable = !c->bootstrap || r->stability >= STABLE_MIN;
        int balanced = r->min_share >= MIN_SHARE;
        n_stable += stable;
        n_balanced += balanced;
        r->qualifies = stable && balanced && !r->degenerate && r->outlier_share <= MAX_OUTLIERS &&
                       isfinite(r->c.silhouette);
        /* The fallback: the highest silhouette, a degenerate candidate only when
         * every candidate is one. */
        const cseg_compare_row *a = &c->rows[any];
        if (isfinite(r->c.silhouette) &&
            (!isfinite(a->c.silhouette) || (a->degenerate && !r->degenerate) ||
             (a->degenerate == r->degenerate && r->c.silhouette > a->c.silhouette)))
            any = i;
        if (r->qualifies &&
            (best == (size_t)-1 || r->c.silhouette > c->rows[best].c.silhouette ||
             (r->c.silhouette == c->rows[best].c.silhouette && r->c.k < c->rows[best].c.k)))
            best = i;
    }
    c->rule = "highest silhouette among stable (>= 0.75), balanced (smallest segment >= 2%), "
              "not degenerate candidates with at most 20% outliers";
    if (best == (size_t)-1) {
        best = any;
        c->rule = !n_stable     ? "highest silhouette (no candidate is stable: stability < 0.75)"
                  : !n_balanced ? "highest silhouette (no candidate is balanced: a segment < 2%)"
                                : "highest silhouette (no candidate meets every condition)";
    }
    c->best = best;
}

static int compare(cseg_comparison **out, cseg__input *in, const cseg_compare_params *p,
                   int rc, cseg_diag *d)
{
    static const char *const dflt[] = {"kmeans", "ward", "gmm", "dbscan"};
    const char *const *algos = p->algorithms ? p->algorithms : dflt;
    size_t na = p->algorithms ? p->n_algorithms : 4, cap = 0;
    double *Z = NULL;
    size_t *kept = NULL;
    cseg_comparison *c = NULL;
    *out = NULL;
    if (rc < 0)
        goto out;
    if (!(c = calloc(1, sizeof *c)) ||
        !(c->input_name = cseg__strdup(p->segment.input_name ? p->segment.input_name : ""))) {
        rc = CSEG_ENOMEM;
        goto out;
    }
    c->n_all = c->n = cseg_table_n_rows(in->customers);
    c->bootstrap = p->bootstrap;
    if (c->n < 4) {
        rc = cseg__diag(d, CSEG_ERANGE, NULL, 0, 0, "only %zu customer%s: compare needs at least 4",
                        c->n, c->n == 1 ? "" : "s");
        goto out;
    }
    for (size_t a = 0; a < na; a++) {
        cseg_algo al;
        cseg_linkage lk;
        if (cseg_algo_parse(algos[a], &al, &lk) < 0) {
            rc = cseg__diag(d, CSEG_EPARAM, NULL, 0, 0,
                            "algos: unknown algorithm '%s' (kmeans, ward, complete, average, "
                            "single, dbscan, gmm)", algos[a]);
            goto out;
        }
    }
    if (na == 0) {
        rc = cseg__diag(d, CSEG_EPARAM, NULL, 0, 0, "algos needs at least one algorithm");
        goto out;
    }
    if ((rc = cseg__prepare(&p->segment, in, NULL, &Z, &c->d, d)) < 0)
        goto out;
    c->in = in;
    if (p->subsample && c->n > p->subsample) {
        if ((rc = subsample(&Z, c->n, c->d, p->subsample, p->segment.seed, &kept)) < 0)
            goto out;
        c->kept = kept;
        c->n = p->subsample;
    }
    if ((rc = cseg__k_range_check(&p->segment, c->n, d)) < 0) /* as fit says it */
        goto out;
    if (!p->segment.k && p->segment.k_max > c->n - 1)
        cseg__k_range_note(&p->segment, c->n);
    for (size_t a = 0; a < na; a++) {
        cseg_segment_params t = p->segment;
        cseg_algo_parse(algos[a], &t.algo, &t.linkage);
        if (!t.k && t.k_max > c->n - 1)
            t.k_max = c->n - 1;
        if ((rc = compare_algo(c, &t, p->bootstrap, Z, &cap, d)) < 0)
            goto out;
    }
    if (c->n_rows == 0) {
        rc = cseg__diag(d, CSEG_EEMPTY, NULL, 0, 0, "no algorithm could be fitted");
        goto out;
    }
    recommend(c);
    c->in = NULL; /* freed below: the result keeps no pointer into the input */
    c->kept = NULL;
    *out = c;
    c = NULL;
out:
    cseg__free_aligned(Z);
    free(kept);
    cseg_compare_free(c);
    cseg__input_free(in);
    return rc;
}

int cseg_compare_transactions(cseg_comparison **out, const cseg_table *txn,
                              const cseg_txn_roles *roles, const cseg_rfm_params *rfm,
                              const cseg_compare_params *p, cseg_diag *d)
{
    cseg__input in;
    int rc = cseg__input_transactions(&in, txn, roles, NULL, rfm, &p->segment, d);
    return compare(out, &in, p, rc, d);
}

int cseg_compare_customers(cseg_comparison **out, const cseg_table *customers,
                           const char *id_column, const cseg_compare_params *p, cseg_diag *d)
{
    cseg__input in;
    int rc = cseg__input_customers(&in, customers, id_column, &p->segment, d);
    return compare(out, &in, p, rc, d);
}

void cseg_compare_free(cseg_comparison *c)
{
    if (!c)
        return;
    free(c->input_name);
    free(c->rows);
    free(c);
}

size_t cseg_compare_n_rows(const cseg_comparison *c) { return c->n_rows; }
const cseg_compare_row *cseg_compare_rows(const cseg_comparison *c) { return c->rows; }
size_t cseg_compare_recommended(const cseg_comparison *c) { return c->best; }
const char *cseg_compare_rule(const cseg_comparison *c) { return c->rule; }
size_t cseg_compare_n_customers(const cseg_comparison *c) { return c->n_all; }
size_t cseg_compare_n_compared(const cseg_comparison *c) { return c->n; }
size_t cseg_compare_dim(const cseg_comparison *c) { return c->d; }

char *cseg_compare_json(const cseg_comparison *c)
{
    json_t *root = json_object(), *arr = json_array();
    json_object_set_new(root, "input", json_string(c->input_name));
    json_object_set_new(root, "n_customers", json_integer((json_int_t)c->n_all));
    json_object_set_new(root, "n_compared", json_integer((json_int_t)c->n));
    json_object_set_new(root, "model_features", json_integer((json_int_t)c->d));
    json_object_set_new(root, "bootstrap", json_integer((json_int_t)c->bootstrap));
    for (size_t i = 0; i < c->n_rows; i++) {
        const cseg_compare_row *r = &c->rows[i];
        json_t *j = json_object();
        json_object_set_new(j, "algorithm", json_string(r->algorithm));
        json_object_set_new(j, "k", json_integer((json_int_t)r->c.k));
        json_object_set_new(j, "silhouette", cseg__jnum(r->c.silhouette));
        json_object_set_new(j, "davies_bouldin", cseg__jnum(r->c.davies_bouldin));
        json_object_set_new(j, "calinski_harabasz", cseg__jnum(r->c.calinski_harabasz));
        json_object_set_new(j, "bic", cseg__jnum(r->c.bic));
        json_object_set_new(j, "balance", cseg__jnum(r->balance));
        json_object_set_new(j, "min_share", cseg__jnum(r->min_share));
        json_object_set_new(j, "outliers", json_integer((json_int_t)r->c.n_noise));
        json_object_set_new(j, "stability", cseg__jnum(r->stability));
        json_object_set_new(j, "degenerate", json_boolean(r->degenerate));
        json_object_set_new(j, "qualifies", json_boolean(r->qualifies));
        json_array_append_new(arr, j);
    }
    json_object_set_new(root, "candidates", arr);
    json_t *rec = json_object();
    json_object_set_new(rec, "algorithm", json_string(c->rows[c->best].algorithm));
    json_object_set_new(rec, "k", json_integer((json_int_t)c->rows[c->best].c.k));
    json_object_set_new(rec, "rule", json_string(c->rule));
    json_object_set_new(root, "recommended", rec);
    char *text = cseg__json_text(root);
    json_decref(root);
    return text;
}
