/* custseg — the training reference of a model and drift against it (drift.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/internal.h"
#include "../model/internal.h"
#include "../prep/internal.h"
#include "../table/internal.h"
#include "custseg/table.h"
#include "internal.h"

#define PSI_FLOOR 1e-4
#define N_DECILE_EDGES 9

void cseg_drift_params_init(cseg_drift_params *p)
{
    p->psi_warn = 0.1;
    p->psi_alert = 0.25;
}

const char *cseg_drift_params_check(const cseg_drift_params *p)
{
    if (!(p->psi_warn > 0) || !isfinite(p->psi_warn))
        return "the warning threshold must be a positive number";
    if (!(p->psi_alert >= p->psi_warn) || !isfinite(p->psi_alert))
        return "the alert threshold must be a number at least the warning threshold";
    return NULL;
}

/* First index with v[i] > x (right) or v[i] >= x (left), v sorted. */
static size_t bound(const double *v, size_t n, double x, int right)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (right ? v[mid] <= x : v[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The reference's cumulative distribution at x: its right limit, or its
 * left limit (the limit from below). */
static double ref_cdf(const cseg__ref_feature *f, double x, int right)
{
    size_t n = f->n_points;
    const double *q = f->points;
    if (f->exact)
        return (double)bound(q, n, x, right) / (double)n;
    double Q = (double)(n - 1);
    if (right) {
        if (x < q[0])
            return 0;
        if (x >= q[n - 1])
            return 1;
        size_t i = bound(q, n, x, 1) - 1; /* q[i] <= x < q[i + 1] */
        return ((double)i + (x - q[i]) / (q[i + 1] - q[i])) / Q;
    }
    if (x <= q[0])
        return 0;
    if (x > q[n - 1])
        return 1;
    size_t j = bound(q, n, x, 0); /* q[j - 1] < x <= q[j] */
    return ((double)(j - 1) + (x - q[j - 1]) / (q[j] - q[j - 1])) / Q;
}

/* sup |F_new - F_ref| over the line; v: the m new values, sorted. Between
 * two new values F_new is constant and F_ref grows, so the largest gap is
 * at a new value, from the right or from below. */
static double ks_stat(const cseg__ref_feature *f, const double *v, size_t m)
{
    double D = 0;
    for (size_t i = 0; i < m;) {
        size_t j = i;
        while (j < m && v[j] == v[i])
            j++;
        double below = fabs((double)i / (double)m - ref_cdf(f, v[i], 0));
        double at = fabs((double)j / (double)m - ref_cdf(f, v[i], 1));
        D = fmax(D, fmax(below, at));
        i = j;
    }
    return D;
}

/* The bin of x among edges: (-inf, e0] is 0 ... (e_last, inf) is n_edges. */
static size_t bin_of(const double *edges, size_t n_edges, double x)
{
    return bound(edges, n_edges, x, 0);
}

static double psi_term(double a, double e)
{
    a = a < PSI_FLOOR ? PSI_FLOOR : a;
    e = e < PSI_FLOOR ? PSI_FLOOR : e;
    return (a - e) * log(a / e);
}

static cseg_drift_level level_of(double psi, const cseg_drift_params *p)
{
    return psi >= p->psi_alert  ? CSEG_DRIFT_ALERT
           : psi >= p->psi_warn ? CSEG_DRIFT_WARN
                                : CSEG_DRIFT_OK;
}

void cseg__ref_free(cseg__ref *r)
{
    if (!r)
        return;
    for (size_t j = 0; r->f && j < r->n_features; j++) {
        cseg__ref_feature *f = &r->f[j];
        free(f->name);
        free(f->edges);
        free(f->shares);
        free(f->points);
        for (size_t l = 0; f->levels && l < f->n_levels; l++)
            free(f->levels[l]);
        free(f->levels);
        free(f->level_shares);
    }
    free(r->f);
    free(r->seg_share);
    free(r->dist_q99);
    free(r);
}

/* The values of x that are not missing into v, their count returned and
 * their sum in *sum, exactly rounded (as the reference's mean is). */
static size_t present(const double *x, size_t n, double *v, double *sum)
{
    size_t m = 0;
    cseg__xsum acc;
    cseg__xsum_init(&acc);
    for (size_t i = 0; i < n; i++)
        if (!isnan(x[i])) {
            v[m++] = x[i];
            cseg__xsum_add(&acc, x[i]);
        }
    *sum = cseg__xsum_value(&acc);
    return m;
}

/* Counts and exactly rounded sums over every piece (comm NULL: this one). */
static int sum_all(const cseg__split_comm *comm, uint64_t *c, size_t nc, cseg__xsum *a, size_t na)
{
    return comm ? comm->sum(comm->ctx, c, nc, a, na) : 0;
}

/* A number column's reference: sorted present values, bins, the KS points.
 * n_all: the customers of every piece (comm; NULL: n). qp (optional): the
 * column's quantiles kept by the preprocessing fitted on the same values
 * (cseg__prep_quantiles: q_np points of q_n values); used when the present
 * values are those q_n, instead of finding them again. */
static int ref_numbers(cseg__ref_feature *f, const double *x, size_t n, size_t n_all,
                       const double *qp, size_t q_np, size_t q_n, const cseg__split_comm *comm,
                       cseg_diag *d)
{
    double *v = malloc((n ? n : 1) * sizeof *v);
    uint64_t c[2] = {!v, 0}; /* a failure anywhere; the present values */
    cseg__xsum sum;
    cseg__xsum_init(&sum);
    size_t m = 0;
    for (size_t i = 0; v && i < n; i++)
        if (!isnan(x[i])) {
            v[m++] = x[i];
            cseg__xsum_add(&sum, x[i]);
        }
    c[1] = m;
    int rc = sum_all(comm, c, 2, &sum, 1);
    if (rc == 0 && c[0])
        rc = CSEG_ENOMEM;
    if (rc < 0) {
        free(v);
        return rc;
    }
    size_t m_all = (size_t)c[1];
    f->missing = (double)(n_all - m_all) / (double)n_all;
    f->mean = m_all ? cseg__xsum_value(&sum) / (double)m_all : NAN;
    if (m_all == 0) {
        f->n_edges = 0;
        f->exact = 1; /* no values */
        f->shares = calloc(1, sizeof *f->shares);
        f->edges = malloc(sizeof *f->edges);
        rc = f->shares && f->edges ? 0 : CSEG_ENOMEM;
        free(v);
        return rc;
    }
    f->edges = malloc(N_DECILE_EDGES * sizeof *f->edges);
    f->shares = calloc(N_DECILE_EDGES + 1, sizeof *f->shares);
    f->exact = m_all <= CSEG_DRIFT_EXACT;
    f->n_points = cseg__quantile_points_n(m_all, CSEG_DRIFT_EXACT);
    f->points = malloc(f->n_points * sizeof *f->points);
    uint64_t *rk = comm ? malloc(2 * f->n_points * sizeof *rk) : NULL;
    double *got = comm ? malloc(2 * f->n_points * sizeof *got) : NULL;
    c[0] = !f->edges || !f->shares || !f->points || (comm && (!rk || !got));
    if ((rc = sum_all(comm, c, 1, NULL, 0)) == 0 && c[0])
        rc = CSEG_ENOMEM;
    /* The points: every sorted value, or the quantiles i / 1000; either
     * kept from the preprocessing (the same values, the same rule), or
     * found here: sorted (one process), selected (pieces). The deciles are
     * then quantiles of those. */
    int kept = qp && q_n == m_all && q_np == f->n_points;
    if (rc == 0 && kept) {
        memcpy(f->points, qp, f->n_points * sizeof *qp);
    } else if (rc == 0 && !comm) {
        cseg__sort_doubles(v, m);
        cseg__quantile_points(v, m, CSEG_DRIFT_EXACT, f->points);
    } else if (rc == 0) {
        size_t nr = 0;
        if (f->exact)
            for (size_t i = 0; i < m_all; i++)
                rk[nr++] = i;
        else
            for (size_t i = 0; i <= CSEG_DRIFT_EXACT; i++, nr += 2)
                cseg__quantile_ranks((double)i / (double)CSEG_DRIFT_EXACT, m_all, rk + nr);
        double *w = malloc((m ? m : 1) * sizeof *w); /* the hook may reorder its values */
        c[0] = !w;
        if ((rc = sum_all(comm, c, 1, NULL, 0)) == 0 && c[0])
            rc = CSEG_ENOMEM;
        if (rc == 0) {
            memcpy(w, v, m * sizeof *w);
            rc = comm->select(comm->ctx, w, m, rk, nr, got, d);
        }
        free(w);
        for (size_t i = 0; rc == 0 && i < f->n_points; i++)
            f->points[i] =
                f->exact ? got[i]
                         : cseg__quantile_between(got[2 * i], got[2 * i + 1],
                                                  (double)i / (double)CSEG_DRIFT_EXACT, m_all);
    }
    free(rk);
    free(got);
    size_t ne = 0;
    for (size_t e = 1; rc == 0 && e <= N_DECILE_EDGES; e++) { /* the deciles, each edge once */
        /* i / 1000 with i = 100 e is e / 10 to the last bit (both quotients
         * correctly rounded of the same number) */
        double q = f->exact ? cseg__quantile_sorted(f->points, m_all, (double)e / 10.0)
                            : f->points[e * CSEG_DRIFT_EXACT / 10];
        if (ne == 0 || q > f->edges[ne - 1])
            f->edges[ne++] = q;
    }
    f->n_edges = ne;
    /* counts, then one division each: a sum of n terms 1/n can end above 1
     * (n = 50: 1.0000000000000007), which no share is */
    uint64_t cnt[N_DECILE_EDGES + 1] = {0};
    for (size_t i = 0; rc == 0 && i < m; i++)
        cnt[bin_of(f->edges, ne, v[i])]++;
    if (rc == 0)
        rc = sum_all(comm, cnt, ne + 1, NULL, 0);
    for (size_t b = 0; rc == 0 && b <= ne; b++)
        f->shares[b] = (double)cnt[b] / (double)n_all;
    free(v);
    return rc;
}

/* A text column's reference: its levels (every piece's, in their order of
 * first appearance: comm's levels hook) and their shares. */
static int ref_text(cseg__ref_feature *f, const cseg_table *t, size_t j, size_t n, size_t n_all,
                    const cseg__split_comm *comm, cseg_diag *d)
{
    const int32_t *code = cseg_table_codes(t, j);
    int32_t *to = NULL; /* this piece's code of each level -> its place among all */
    f->is_text = 1;
    int rc = cseg__table_split_levels(t, j, comm, &f->levels, &f->n_levels, &to, d);
    if (rc < 0)
        return rc;
    size_t ng = f->n_levels;
    uint64_t *cnt = calloc(ng + 1, sizeof *cnt); /* per level, then the missing */
    f->level_shares = calloc(ng ? ng : 1, sizeof *f->level_shares);
    uint64_t bad = !cnt || !f->level_shares;
    if ((rc = sum_all(comm, &bad, 1, NULL, 0)) == 0 && bad)
        rc = CSEG_ENOMEM;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (code[i] < 0)
            cnt[ng]++;
        else
            cnt[to[code[i]]]++;
    }
    if (rc == 0)
        rc = sum_all(comm, cnt, ng + 1, NULL, 0);
    for (size_t l = 0; rc == 0 && l < ng; l++)
        f->level_shares[l] = (double)cnt[l] / (double)n_all;
    if (rc == 0) {
        f->missing = (double)cnt[ng] / (double)n_all;
        f->mean = NAN;
    }
    free(cnt);
    free(to);
    return rc;
}

/* 0 when m and customers can make a reference, else the error. */
static int reference_check(const cseg_model *m, const cseg_table *customers, cseg_diag *d)
{
    if (!cseg_model_prep(m) || cseg_model_k(m) == 0)
        return cseg__diag(d, CSEG_ENOTFIT, NULL, 0, 0, "the model has no pipeline or segments");
    if (cseg_table_n_rows(customers) == 0)
        return cseg__diag(d, CSEG_EINVAL, NULL, 0, 0, "no training customers");
    return 0;
}

int cseg_model_set_reference(cseg_model *m, const cseg_table *customers, cseg_diag *d)
{
    size_t n = cseg_table_n_rows(customers);
    int rc = reference_check(m, customers, d);
    if (rc < 0)
        return rc;
    double *distance = malloc(n * sizeof *distance);
    int32_t *labels = malloc(n * sizeof *labels);
    rc = distance && labels ? 0 : cseg__diag(d, CSEG_ENOMEM, NULL, 0, 0, "out of memory");
    /* The segments as the rule for new customers gives them: what drift compares with. */
    if (rc == 0)
        rc = cseg_model_assign(m, customers, labels, distance, d);
    if (rc == 0)
        rc = cseg__model_set_reference_from(m, customers, labels, distance, 0, d);
    free(distance), free(labels);
    return rc;
}

int cseg__model_set_reference_from(cseg_model *m, const cseg_table *customers,
                                   const int32_t *labels, const double *distance, int fitted_on,
                                   cseg_diag *d)
{
    return cseg__model_set_reference_split(m, customers, labels, distance, fitted_on, NULL, d);
}

int cseg__model_set_reference_split(cseg_model *m, const cseg_table *customers,
                                    const int32_t *labels, const double *distance, int fitted_on,
                                    const cseg__split_comm *comm, cseg_diag *d)
{
    const cseg_prep *pp = cseg_model_prep(m);
    size_t n = cseg_table_n_rows(customers), k = cseg_model_k(m);
    uint64_t c[2] = {0, n}; /* a failure anywhere; the customers */
    int rc;
    if (!pp || k == 0)
        return cseg__diag(d, CSEG_ENOTFIT, NULL, 0, 0, "the model has no pipeline or segments");
    if ((rc = sum_all(comm, c + 1, 1, NULL, 0)) < 0)
        return rc;
    size_t n_all = (size_t)c[1], nf = cseg_prep_n_inputs(pp);
    if (n_all == 0)
        return cseg__diag(d, CSEG_EINVAL, NULL, 0, 0, "no training customers");
    cseg__ref *r = calloc(1, sizeof *r);
    double *dv = malloc((n ? n : 1) * sizeof *dv);
    rc = r && dv ? 0 : CSEG_ENOMEM;
    if (cseg_model_algo(m) == CSEG_ALGO_DBSCAN) /* no centres, no distances to compare */
        distance = NULL;
    if (rc == 0) {
        r->n = n_all;
        r->k = k;
        r->n_features = nf;
        r->f = calloc(nf ? nf : 1, sizeof *r->f);
        r->seg_share = calloc(k, sizeof *r->seg_share);
        r->dist_q99 = malloc(k * sizeof *r->dist_q99);
        rc = r->f && r->seg_share && r->dist_q99 ? 0 : CSEG_ENOMEM;
    }
    /* Number columns side by side (each on its own), after the checks. */
    const double **num = calloc(nf ? nf : 1, sizeof *num);
    int *nrc = calloc(nf ? nf : 1, sizeof *nrc);
    if (rc == 0 && (!num || !nrc))
        rc = CSEG_ENOMEM;
    c[0] = rc < 0;
    if ((rc = sum_all(comm, c, 1, NULL, 0)) == 0 && c[0])
        rc = CSEG_ENOMEM;
    /* The pieces have the same columns (the preprocessing was fitted on
     * them): each takes the same steps below. */
    for (size_t j = 0; j < nf && rc == 0; j++) {
        cseg__ref_feature *f = &r->f[j];
        const char *name = cseg_prep_input_name(pp, j);
        long col = cseg_table_find(customers, name);
        c[0] = !(f->name = strdup(name)); /* a failure here, every piece's */
        if ((rc = sum_all(comm, c, 1, NULL, 0)) == 0 && c[0])
            rc = CSEG_ENOMEM;
        if (rc < 0)
            break;
        if (col < 0)
            rc = cseg__diag(d, CSEG_ENOCOL, NULL, 0, 0, "no column \"%s\"", name);
        else if (cseg_table_col_type(customers, (size_t)col) == CSEG_COL_TEXT)
            rc = ref_text(f, customers, (size_t)col, n, n_all, comm, d);
        else if (cseg_table_col_type(customers, (size_t)col) == CSEG_COL_NUMBER)
            num[j] = cseg_table_numbers(customers, (size_t)col);
        else
            rc = cseg__diag(d, CSEG_EINVAL, NULL, 0, 0, "column \"%s\" is neither numbers nor text",
                            name);
    }
    if (rc == 0) {
        /* In threads for one process; the pieces' hooks are taken one
         * column after another, in order. */
#pragma omp parallel for num_threads(cseg__threads(0)) schedule(dynamic, 1) default(none)          \
    shared(r, num, nrc, n, n_all, nf, pp, fitted_on, comm) if (!comm && nf > 1 && n >= 100000)
        for (size_t j = 0; j < nf; j++) {
            size_t q_np = 0, q_n = 0;
            const double *qp = fitted_on ? cseg__prep_quantiles(pp, j, &q_np, &q_n) : NULL;
            if (num[j])
                nrc[j] = ref_numbers(&r->f[j], num[j], n, n_all, qp, q_np, q_n, comm, NULL);
        }
        for (size_t j = 0; j < nf && rc == 0; j++)
            rc = nrc[j];
        /* A column's failure on one piece (an allocation), every piece's. */
        c[0] = rc < 0;
        int src = sum_all(comm, c, 1, NULL, 0);
        if (src < 0 || (c[0] && rc == 0))
            rc = src < 0 ? src : CSEG_ENOMEM;
    }
    free(num), free(nrc);
    /* Per segment: customers; the distances' count and exactly rounded sum. */
    uint64_t *cnt = rc == 0 ? calloc(k + 1, sizeof *cnt) : NULL;
    cseg__xsum dsum;
    cseg__xsum_init(&dsum);
    c[0] = rc == 0 && !cnt;
    if (rc == 0 && (rc = sum_all(comm, c, 1, NULL, 0)) == 0 && c[0])
        rc = CSEG_ENOMEM;
    if (rc == 0) {
        for (size_t i = 0; i < n; i++)
            cnt[labels[i]]++;
        for (size_t i = 0; distance && i < n; i++)
            if (isfinite(distance[i])) {
                cseg__xsum_add(&dsum, distance[i]);
                cnt[k]++;
            }
        if ((rc = sum_all(comm, cnt, k + 1, &dsum, 1)) == 0) {
            for (size_t s = 0; s < k; s++)
                r->seg_share[s] = (double)cnt[s] / (double)n_all;
            r->mean_distance = cnt[k] ? cseg__xsum_value(&dsum) / (double)cnt[k] : NAN;
        }
        static const double q99 = 0.99;
        for (size_t s = 0; rc == 0 && s < k; s++) {
            size_t ms = 0;
            for (size_t i = 0; distance && i < n; i++)
                if (labels[i] == (int32_t)s && isfinite(distance[i]))
                    dv[ms++] = distance[i];
            r->dist_q99[s] = NAN;
            if (!comm) {
                if (ms) /* by selection, not sorting */
                    rc = cseg__quantiles(dv, ms, &q99, 1, &r->dist_q99[s]);
                continue;
            }
            uint64_t all = ms, rk[2];
            double v[2];
            if ((rc = sum_all(comm, &all, 1, NULL, 0)) < 0 || all == 0)
                continue;
            cseg__quantile_ranks(q99, all, rk);
            if ((rc = comm->select(comm->ctx, dv, ms, rk, 2, v, d)) == 0)
                r->dist_q99[s] = cseg__quantile_between(v[0], v[1], q99, all);
        }
    }
    free(cnt);
    free(dv);
    if (rc < 0) {
        cseg__ref_free(r);
        return rc == CSEG_ENOMEM ? cseg__diag(d, rc, NULL, 0, 0, "out of memory") : rc;
    }
    cseg__model_put_reference(m, r);
    return 0;
}

int cseg_model_has_reference(const cseg_model *m)
{
    return cseg__model_reference(m) != NULL;
}

size_t cseg_drift_n_features(const cseg_model *m)
{
    const cseg__ref *r = cseg__model_reference(m);
    return r ? r->n_features : 0;
}

static int drift_numbers(const cseg__ref_feature *f, const double *x, size_t n,
                         cseg_drift_feature *out)
{
    double *v = malloc(n * sizeof *v), *share = calloc(f->n_edges + 1, sizeof *share);
    if (!v || !share) {
        free(v);
        free(share);
        return CSEG_ENOMEM;
    }
    double sum;
    size_t m = present(x, n, v, &sum);
    for (size_t i = 0; i < m; i++) /* counts, then shares (as the reference's) */
        share[bin_of(f->edges, f->n_edges, v[i])] += 1.0;
    for (size_t b = 0; b <= f->n_edges; b++)
        share[b] /= (double)n;
    out->new_missing = (double)(n - m) / (double)n;
    out->new_mean = m ? sum / (double)m : NAN;
    out->psi = psi_term(out->new_missing, f->missing);
    for (size_t b = 0; b <= f->n_edges; b++)
        out->psi += psi_term(share[b], f->shares[b]);
    cseg__sort_doubles(v, m);
    out->ks = m && f->n_points ? ks_stat(f, v, m) : NAN;
    free(v);
    free(share);
    return 0;
}

/* code NULL: a column without a single value (read as numbers), every row
 * missing. */
static int drift_text(const cseg__ref_feature *f, const cseg_table *t, size_t j, size_t n,
                      cseg_drift_feature *out)
{
    const int32_t *code = cseg_table_codes(t, j);
    size_t nl = code ? cseg_table_n_levels(t, j) : 0;
    long *map = malloc((nl ? nl : 1) * sizeof *map); /* new level -> reference level, -1: unseen */
    double *share = calloc(f->n_levels + 1, sizeof *share);
    if (!map || !share) {
        free(map);
        free(share);
        return CSEG_ENOMEM;
    }
    for (size_t l = 0; l < nl; l++) {
        map[l] = -1;
        for (size_t r = 0; r < f->n_levels; r++)
            if (strcmp(cseg_table_level(t, j, (int32_t)l), f->levels[r]) == 0)
                map[l] = (long)r;
    }
    size_t missing = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t ci = code ? code[i] : -1;
        long r = ci < 0 ? -1 : map[ci];
        missing += ci < 0;
        share[r < 0 ? f->n_levels : (size_t)r] += 1.0; /* a count, divided below */
    }
    for (size_t r = 0; r <= f->n_levels; r++)
        share[r] /= (double)n;
    /* The last bin: missing or a level training did not have. */
    double ref_other = f->missing;
    out->psi = psi_term(share[f->n_levels], ref_other);
    for (size_t r = 0; r < f->n_levels; r++)
        out->psi += psi_term(share[r], f->level_shares[r]);
    out->new_missing = (double)missing / (double)n;
    out->new_mean = NAN;
    out->ks = NAN;
    free(map);
    free(share);
    return 0;
}

int cseg_drift_measure(const cseg_model *m, const cseg_table *customers, const cseg_drift_params *p,
                       cseg_drift_feature *features, double *ref_share, double *new_share,
                       cseg_drift_result *res, cseg_diag *d)
{
    const cseg__ref *r = cseg__model_reference(m);
    if (!r)
        return cseg__diag(d, CSEG_ENOTFIT, NULL, 0, 0,
                          "the model keeps no training reference (it was written before drift "
                          "was measured: run or fit again)");
    const char *bad = cseg_drift_params_check(p);
    if (bad)
        return cseg__diag(d, CSEG_EINVAL, NULL, 0, 0, "%s", bad);
    size_t n = cseg_table_n_rows(customers), k = r->k;
    if (n == 0)
        return cseg__diag(d, CSEG_EINVAL, NULL, 0, 0, "no customers to compare");
    memset(res, 0, sizeof *res);
    res->n_ref = r->n;
    res->n_new = n;
    int rc = 0;
    for (size_t j = 0; j < r->n_features && rc == 0; j++) {
        const cseg__ref_feature *f = &r->f[j];
        cseg_drift_feature *o = &features[j];
        memset(o, 0, sizeof *o);
        o->name = f->name;
        o->is_text = f->is_text;
        o->ref_mean = f->mean;
        o->ref_missing = f->missing;
        long c = cseg_table_find(customers, f->name);
        cseg_coltype want = f->is_text ? CSEG_COL_TEXT : CSEG_COL_NUMBER;
        if (c < 0)
            return cseg__diag(d, CSEG_ENOCOL, NULL, 0, 0, "no column \"%s\"", f->name);
        /* A text feature whose column has no value at all reads as numbers,
         * all missing: it is all missing text (as prep's plan takes it). */
        int no_value = f->is_text && cseg__table_no_values(customers, (size_t)c);
        if (cseg_table_col_type(customers, (size_t)c) != want && !no_value)
            return cseg__diag(d, CSEG_EINVAL, NULL, 0, 0,
                              "column \"%s\" must hold %s, as in training", f->name,
                              f->is_text ? "text" : "numbers");
        rc = f->is_text ? drift_text(f, customers, (size_t)c, n, o)
                        : drift_numbers(f, cseg_table_numbers(customers, (size_t)c), n, o);
        o->level = level_of(o->psi, p);
        res->level = o->level > res->level ? o->level : res->level;
    }
    int32_t *lab = malloc(n * sizeof *lab);
    double *dist = malloc(n * sizeof *dist), *share = calloc(k, sizeof *share);
    if (rc == 0 && (!lab || !dist || !share))
        rc = CSEG_ENOMEM;
    if (rc < 0) {
        free(lab), free(dist), free(share);
        return cseg__diag(d, rc, NULL, 0, 0, "out of memory");
    }
    /* A customer whose distance is beyond the range of numbers (a value far
     * out of the training range: assign refuses it) has no segment to speak
     * of: unfit, and out of the segment shares (DBSCAN's infinite distance,
     * no core point at all, is its rule's answer and counts as it is). */
    if ((rc = cseg__model_assign_any(m, customers, lab, dist, d)) == 0) {
        cseg__xsum dsum; /* exactly rounded, as the reference's */
        cseg__xsum_init(&dsum);
        size_t nd = 0, unfit = 0, placed = 0;
        int db = cseg_model_algo(m) == CSEG_ALGO_DBSCAN;
        for (size_t i = 0; i < n; i++) {
            if (!db && !isfinite(dist[i])) {
                unfit++;
                continue;
            }
            share[lab[i]] += 1.0; /* a count, divided below */
            placed++;
            if (isfinite(dist[i])) {
                cseg__xsum_add(&dsum, dist[i]);
                nd++;
                unfit += dist[i] > r->dist_q99[lab[i]]; /* false for a NaN edge */
            }
        }
        /* No customer placed at all: every segment's share of them is 0 (the
         * PSI then says how far that is from training), not an unknown that
         * read as "PSI nan (ok)". */
        res->segment_psi = 0;
        for (size_t s = 0; s < k; s++) {
            share[s] = placed ? share[s] / (double)placed : 0;
            res->segment_psi += psi_term(share[s], r->seg_share[s]);
        }
        res->segment_level = level_of(res->segment_psi, p);
        res->level = res->segment_level > res->level ? res->segment_level : res->level;
        res->ref_mean_distance = r->mean_distance;
        res->new_mean_distance =
            nd && !isnan(r->mean_distance) ? cseg__xsum_value(&dsum) / (double)nd : NAN;
        /* Unfit: beyond the 99th percentile, or beyond every number (then
         * not placed, and maybe no customer with a distance at all). */
        res->unfit_share =
            (nd || unfit) && !isnan(r->mean_distance) ? (double)unfit / (double)n : NAN;
        for (size_t s = 0; s < k; s++) {
            if (ref_share)
                ref_share[s] = r->seg_share[s];
            if (new_share)
                new_share[s] = share[s];
        }
    }
    free(lab), free(dist), free(share);
    return rc;
}

/* ---- model.json "reference" ---- */

static json_t *num(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

static json_t *nums(const double *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, num(v[i]));
    return a;
}

json_t *cseg__ref_json(const cseg__ref *r)
{
    json_t *o = json_object(), *fs = json_array();
    json_object_set_new(o, "n", json_integer((json_int_t)r->n));
    for (size_t j = 0; j < r->n_features; j++) {
        const cseg__ref_feature *f = &r->f[j];
        json_t *jf = json_object();
        json_object_set_new(jf, "name", json_string(f->name));
        json_object_set_new(jf, "kind", json_string(f->is_text ? "text" : "number"));
        json_object_set_new(jf, "missing", num(f->missing));
        if (f->is_text) {
            json_t *lv = json_array();
            for (size_t l = 0; l < f->n_levels; l++)
                json_array_append_new(lv, json_string(f->levels[l]));
            json_object_set_new(jf, "levels", lv);
            json_object_set_new(jf, "shares", nums(f->level_shares, f->n_levels));
        } else {
            json_object_set_new(jf, "mean", num(f->mean));
            json_object_set_new(jf, "edges", nums(f->edges, f->n_edges));
            json_object_set_new(jf, "shares", nums(f->shares, f->n_edges + 1));
            json_object_set_new(jf, f->exact ? "values" : "quantiles",
                                nums(f->points, f->n_points));
        }
        json_array_append_new(fs, jf);
    }
    json_object_set_new(o, "features", fs);
    json_object_set_new(o, "segment_shares", nums(r->seg_share, r->k));
    json_object_set_new(o, "mean_distance", num(r->mean_distance));
    json_object_set_new(o, "distance_q99", nums(r->dist_q99, r->k));
    return o;
}

/* n numbers (null: NaN when nan_ok) into a new array; NULL on anything else. */
static double *get_nums(json_t *a, size_t n, int nan_ok)
{
    if (!json_is_array(a) || json_array_size(a) != n)
        return NULL;
    double *v = malloc((n ? n : 1) * sizeof *v);
    for (size_t i = 0; v && i < n; i++) {
        json_t *x = json_array_get(a, i);
        if (json_is_number(x) && isfinite(json_number_value(x))) {
            v[i] = json_number_value(x);
        } else if (nan_ok && json_is_null(x)) {
            v[i] = NAN;
        } else {
            free(v);
            return NULL;
        }
    }
    return v;
}

static int sorted(const double *v, size_t n, int strict)
{
    for (size_t i = 1; i < n; i++)
        if (strict ? !(v[i] > v[i - 1]) : !(v[i] >= v[i - 1]))
            return 0;
    return 1;
}

/* A share read back; models written before shares were counts then one
 * division hold sums of n terms 1/n, which end a little above 1 for some n
 * (1.0000000000000007 for 50; the error grows with n, below 1e-9 for ten
 * million): taken as 1. */
static int share_ok(double *s)
{
    if (*s > 1 && *s <= 1 + 1e-6)
        *s = 1;
    return *s >= 0 && *s <= 1;
}

static int feature_from_json(json_t *jf, cseg__ref_feature *f)
{
    const char *name = json_string_value(json_object_get(jf, "name"));
    const char *kind = json_string_value(json_object_get(jf, "kind"));
    json_t *miss = json_object_get(jf, "missing");
    f->missing = json_number_value(miss);
    if (!name || !kind || !json_is_number(miss) || !share_ok(&f->missing) ||
        !(f->name = strdup(name)))
        return CSEG_EFORMAT;
    if (strcmp(kind, "text") == 0) {
        json_t *lv = json_object_get(jf, "levels");
        size_t nl = json_array_size(lv);
        f->is_text = 1;
        f->mean = NAN;
        f->n_levels = nl;
        f->levels = calloc(nl ? nl : 1, sizeof *f->levels);
        if (!json_is_array(lv) || !f->levels ||
            !(f->level_shares = get_nums(json_object_get(jf, "shares"), nl, 0)))
            return CSEG_EFORMAT;
        for (size_t l = 0; l < nl; l++) {
            const char *s = json_string_value(json_array_get(lv, l));
            if (!s || !(f->levels[l] = strdup(s)) || !share_ok(&f->level_shares[l]))
                return CSEG_EFORMAT;
        }
        return 0;
    }
    if (strcmp(kind, "number") != 0)
        return CSEG_EFORMAT;
    json_t *edges = json_object_get(jf, "edges"), *vals = json_object_get(jf, "values"),
           *qs = json_object_get(jf, "quantiles"), *mean = json_object_get(jf, "mean");
    f->n_edges = json_array_size(edges);
    f->exact = vals != NULL;
    f->n_points = json_array_size(f->exact ? vals : qs);
    f->mean = json_is_number(mean) ? json_number_value(mean) : NAN;
    if (f->n_edges > N_DECILE_EDGES || (vals && qs) ||
        (!f->exact && f->n_points != CSEG_DRIFT_EXACT + 1) ||
        (f->exact && f->n_points > CSEG_DRIFT_EXACT) ||
        (!json_is_number(mean) && !json_is_null(mean)) ||
        !(f->edges = get_nums(edges, f->n_edges, 0)) ||
        !(f->shares = get_nums(json_object_get(jf, "shares"), f->n_edges + 1, 0)) ||
        !(f->points = get_nums(f->exact ? vals : qs, f->n_points, 0)) ||
        !sorted(f->edges, f->n_edges, 1) || !sorted(f->points, f->n_points, 0))
        return CSEG_EFORMAT;
    for (size_t b = 0; b <= f->n_edges; b++)
        if (!share_ok(&f->shares[b]))
            return CSEG_EFORMAT;
    return 0;
}

int cseg__ref_from_json(json_t *j, size_t k, cseg__ref **out)
{
    *out = NULL;
    json_t *fs = json_object_get(j, "features"), *n = json_object_get(j, "n"),
           *md = json_object_get(j, "mean_distance");
    if (!json_is_object(j) || !json_is_array(fs) || !json_is_integer(n) ||
        json_integer_value(n) < 1 || (!json_is_number(md) && !json_is_null(md)))
        return CSEG_EFORMAT;
    cseg__ref *r = calloc(1, sizeof *r);
    if (!r)
        return CSEG_ENOMEM;
    r->n = (size_t)json_integer_value(n);
    r->k = k;
    r->n_features = json_array_size(fs);
    r->mean_distance = json_is_number(md) ? json_number_value(md) : NAN;
    r->f = calloc(r->n_features ? r->n_features : 1, sizeof *r->f);
    int rc = r->f ? 0 : CSEG_ENOMEM;
    for (size_t i = 0; i < r->n_features && rc == 0; i++)
        rc = feature_from_json(json_array_get(fs, i), &r->f[i]);
    if (rc == 0 && (!(r->seg_share = get_nums(json_object_get(j, "segment_shares"), k, 0)) ||
                    !(r->dist_q99 = get_nums(json_object_get(j, "distance_q99"), k, 1))))
        rc = CSEG_EFORMAT;
    for (size_t s = 0; rc == 0 && s < k; s++)
        if (!share_ok(&r->seg_share[s]))
            rc = CSEG_EFORMAT;
    if (rc < 0) {
        cseg__ref_free(r);
        return rc;
    }
    *out = r;
    return 0;
}
