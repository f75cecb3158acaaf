/* custseg — feature preprocessing pipeline (impute, log, scale, one-hot).
 *
 * Fitting sorts each number column once (medians, quartiles, minimum);
 * transforming is one pass per column. Skewness is the Fisher-Pearson
 * coefficient g1 = m3 / m2^1.5 over non-missing values.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "custseg/drift.h"
#include "../core/internal.h"
#include "../table/internal.h"

void cseg_prep_params_init(cseg_prep_params *p)
{
    p->scale = CSEG_SCALE_STANDARD;
    p->log = CSEG_LOG_AUTO;
    p->skew_threshold = 1.0;
    p->max_levels = 50;
}

const char *cseg_prep_params_check(const cseg_prep_params *p)
{
    if (p->scale < CSEG_SCALE_STANDARD || p->scale > CSEG_SCALE_NONE)
        return "scale must be standard, robust or none";
    if (p->log < CSEG_LOG_AUTO || p->log > CSEG_LOG_ALL)
        return "log must be auto, none or all";
    if (!(p->skew_threshold >= 0) || !isfinite(p->skew_threshold))
        return "skew_threshold must be a finite number >= 0";
    if (p->max_levels < 1)
        return "max_levels must be >= 1";
    return NULL;
}

int cseg_prep_create(cseg_prep **out, const cseg_prep_params *p)
{
    cseg_prep_params defaults;
    *out = NULL;
    if (!p) {
        cseg_prep_params_init(&defaults);
        p = &defaults;
    }
    if (cseg_prep_params_check(p))
        return CSEG_EINVAL;
    cseg_prep *pp = calloc(1, sizeof *pp);
    if (!pp)
        return CSEG_ENOMEM;
    pp->params = *p;
    *out = pp;
    return 0;
}

static void clear(cseg_prep *pp)
{
    for (size_t j = 0; j < pp->n_cols; j++) {
        free(pp->cols[j].name);
        for (size_t k = 0; k < pp->cols[j].n_levels; k++)
            free(pp->cols[j].levels[k]);
        free(pp->cols[j].levels);
        free(pp->cols[j].q_points);
    }
    free(pp->cols);
    for (size_t j = 0; j < pp->n_out; j++)
        free(pp->out_names[j]);
    free(pp->out_names);
    pp->cols = NULL;
    pp->out_names = NULL;
    pp->n_cols = pp->n_out = 0;
    pp->fitted = 0;
}

void cseg_prep_free(cseg_prep *pp)
{
    if (!pp)
        return;
    clear(pp);
    free(pp);
}

static double log_value(const cseg_prep_col *c, double x)
{
    double y = x + c->shift;
    return log1p(y > 0 ? y : 0);
}

/* x added count times, exactly: x count is hi + lo with lo = fma(x, count,
 * -hi) (count < 2^53). */
static void add_times(cseg__xsum *a, double x, size_t count)
{
    double hi = x * (double)count;
    cseg__xsum_add(a, hi);
    cseg__xsum_add(a, fma(x, (double)count, -hi));
}

/* The accumulators of acc (na of them), flushed, and counts (nc) made those
 * of every piece; alone, nothing to do. */
static int combine(const cseg__split_comm *comm, uint64_t *counts, size_t nc, cseg__xsum_buf *acc,
                   size_t na)
{
    cseg__xsum a[3];
    for (size_t i = 0; i < na; i++)
        cseg__xsum_buf_flush_all(&acc[i]);
    if (!comm)
        return 0;
    for (size_t i = 0; i < na; i++)
        a[i] = acc[i].acc;
    int rc = comm->sum(comm->ctx, counts, nc, a, na);
    for (size_t i = 0; i < na; i++)
        acc[i].acc = a[i];
    return rc;
}

/* Order statistics ranks[0..nr) of the values of every piece (v, nv here):
 * alone, v is sorted first (then read); else the pieces' selection. */
static int order_stats(const cseg__split_comm *comm, double *v, size_t nv, const uint64_t *ranks,
                       size_t nr, double *out, cseg_diag *d)
{
    if (comm)
        return comm->select(comm->ctx, v, nv, ranks, nr, out, d);
    cseg__sort_doubles(v, nv);
    for (size_t i = 0; i < nr; i++)
        out[i] = v[ranks[i]];
    return 0;
}

/* A number column fitted from x (n rows here; with comm, the rows of every
 * piece: each step's sums and order statistics are combined before the
 * next, in the same order on every piece). Every figure is a function of
 * the column's values alone: exactly rounded sums, order statistics. */
static int fit_number(cseg_prep *pp, cseg_prep_col *c, const double *x, size_t n,
                      const cseg__split_comm *comm, cseg_diag *d)
{
    double *v = malloc((n ? n : 1) * sizeof *v), *stat = NULL;
    uint64_t *rk = NULL;
    cseg__xsum_buf *acc = malloc(3 * sizeof *acc);
    int rc = 0;
    uint64_t cnt[4] = {0, 0, n, !v || !acc}; /* finite values, infinities, rows, failures */
    for (size_t i = 0; v && i < n; i++) {
        if (isfinite(x[i]))
            v[cnt[0]++] = x[i];
        cnt[1] += isinf(x[i]) != 0;
    }
    size_t m = cnt[0]; /* this piece's finite values */
    if ((rc = combine(comm, cnt, 4, NULL, 0)) < 0)
        goto out;
    if (cnt[3]) {
        rc = CSEG_ENOMEM;
        goto out;
    }
    uint64_t M = cnt[0], N = cnt[2];
    int has_inf = cnt[1] > 0;
    if (M == 0) {
        rc = cseg__diag(d, CSEG_EINVAL, NULL, 0, 0, "column \"%s\" has no numeric values",
                        c->name);
        goto out;
    }
    /* The order statistics: the median's two, the minimum, then the drift
     * reference's quantiles (drift.c, ref_numbers): all values when there
     * are at most CSEG_DRIFT_EXACT, else the quantiles i / 1000. */
    size_t np = has_inf ? 0 : cseg__quantile_points_n((size_t)M, CSEG_DRIFT_EXACT);
    int all = np == M;
    size_t nr = 3 + (all ? np : 2 * np);
    rk = malloc(nr * sizeof *rk);
    stat = malloc(nr * sizeof *stat);
    if (np && !(c->q_points = malloc(np * sizeof *c->q_points)))
        rc = CSEG_ENOMEM;
    if (!rk || !stat)
        rc = CSEG_ENOMEM;
    if (rc < 0) /* no piece can go on alone: the job ends (as an MPI job does) */
        goto out;
    cseg__quantile_ranks(0.5, M, rk);
    rk[2] = 0;
    for (size_t i = 0; i < np; i++) {
        if (all)
            rk[3 + i] = i;
        else
            cseg__quantile_ranks((double)i / (double)CSEG_DRIFT_EXACT, M, rk + 3 + 2 * i);
    }
    if ((rc = order_stats(comm, v, m, rk, nr, stat, d)) < 0)
        goto out;
    c->median = cseg__quantile_between(stat[0], stat[1], 0.5, M);
    for (size_t i = 0; i < np; i++)
        c->q_points[i] = all ? stat[3 + i]
                             : cseg__quantile_between(stat[3 + 2 * i], stat[4 + 2 * i],
                                                      (double)i / (double)CSEG_DRIFT_EXACT, M);
    c->q_npoints = np;
    c->q_n = np ? (size_t)M : 0;
    /* Imputed rows take the median, so every statistic below sees N values.
     * Every sum is exactly rounded (cseg__xsum). */
    cseg__xsum_buf_init(&acc[0]);
    cseg__xsum_buf_add_n(&acc[0], v, m);
    if ((rc = combine(comm, NULL, 0, acc, 1)) < 0)
        goto out;
    add_times(&acc[0].acc, c->median, (size_t)(N - M));
    double mean = cseg__xsum_value(&acc[0].acc) / (double)N;
    cseg__xsum_buf_init(&acc[1]);
    cseg__xsum_buf_init(&acc[2]);
    for (size_t i = 0; i < n; i++) {
        double e = (isfinite(x[i]) ? x[i] : c->median) - mean;
        cseg__xsum_buf_add(&acc[1], e * e);
        cseg__xsum_buf_add(&acc[2], e * e * e);
    }
    if ((rc = combine(comm, NULL, 0, acc + 1, 2)) < 0)
        goto out;
    double m2 = cseg__xsum_value(&acc[1].acc) / (double)N,
           m3 = cseg__xsum_value(&acc[2].acc) / (double)N;
    double skew = m2 > 0 ? m3 / pow(m2, 1.5) : 0;
    c->log = pp->params.log == CSEG_LOG_ALL ||
             (pp->params.log == CSEG_LOG_AUTO && skew > pp->params.skew_threshold);
    c->shift = stat[2] < 0 ? -stat[2] : 0;
    /* Statistics of the column as it reaches the scaler. */
    for (size_t i = 0; i < n; i++) {
        double z = isfinite(x[i]) ? x[i] : c->median;
        v[i] = c->log ? log_value(c, z) : z;
    }
    c->center = 0;
    c->scale = 1;
    if (pp->params.scale == CSEG_SCALE_STANDARD) {
        cseg__xsum_buf_init(&acc[0]);
        cseg__xsum_buf_add_n(&acc[0], v, n);
        if ((rc = combine(comm, NULL, 0, acc, 1)) < 0)
            goto out;
        double s = cseg__xsum_value(&acc[0].acc) / (double)N;
        cseg__xsum_buf_init(&acc[1]);
        for (size_t i = 0; i < n; i++)
            cseg__xsum_buf_add(&acc[1], (v[i] - s) * (v[i] - s));
        if ((rc = combine(comm, NULL, 0, acc + 1, 1)) < 0)
            goto out;
        double ss = sqrt(cseg__xsum_value(&acc[1].acc) / (double)N);
        c->center = s;
        /* A constant column's deviation is rounding noise: scale 1, as
         * scikit-learn's StandardScaler does below 10 eps of the mean. */
        c->scale = ss > 10 * DBL_EPSILON * fabs(s) && ss > 0 ? ss : 1;
    } else if (pp->params.scale == CSEG_SCALE_ROBUST) {
        uint64_t qr[6];
        double q[6];
        cseg__quantile_ranks(0.25, N, qr);
        cseg__quantile_ranks(0.5, N, qr + 2);
        cseg__quantile_ranks(0.75, N, qr + 4);
        if ((rc = order_stats(comm, v, n, qr, 6, q, d)) < 0)
            goto out;
        double q1 = cseg__quantile_between(q[0], q[1], 0.25, N),
               q3 = cseg__quantile_between(q[4], q[5], 0.75, N);
        double iqr = q3 - q1;
        c->center = cseg__quantile_between(q[2], q[3], 0.5, N);
        c->scale = iqr > 0 ? iqr : 1;
    }
    if (!isfinite(c->center) || !isfinite(c->scale) || !isfinite(c->median))
        rc = cseg__diag(d, CSEG_ERANGE, NULL, 0, 0,
                        "column \"%s\": its values are too large to scale (sums beyond the "
                        "range of numbers); use a log transform or smaller units", c->name);
out:
    free(v);
    free(acc);
    free(rk);
    free(stat);
    return rc;
}

static int fit_text(cseg_prep *pp, cseg_prep_col *c, const cseg_table *t, size_t j,
                    const cseg__split_comm *comm, cseg_diag *d)
{
    size_t nl = cseg_table_n_levels(t, j), n = cseg_table_n_rows(t);
    const int32_t *code = cseg_table_codes(t, j);
    unsigned char *used = calloc(nl ? nl : 1, 1);
    size_t nu = 0;
    for (size_t i = 0; used && i < n; i++)
        if (code[i] >= 0 && !used[code[i]]) {
            used[code[i]] = 1;
            nu++;
        }
    /* Levels in order of first appearance in the table's dictionary (with
     * pieces: each piece's, then the next piece's new ones). */
    char **lv = used ? cseg__calloc(nu, sizeof *lv) : NULL;
    int rc = used && lv ? 0 : CSEG_ENOMEM;
    size_t got = 0;
    for (size_t k = 0; k < nl && rc == 0; k++)
        if (used[k] && !(lv[got++] = cseg__strdup(cseg_table_level(t, j, (int32_t)k))))
            rc = CSEG_ENOMEM;
    free(used);
    if (comm) {
        int rc2 = comm->levels(comm->ctx, rc, &lv, &got, d);
        rc = rc2 < 0 ? rc2 : rc;
    }
    if (rc == 0 && got > pp->params.max_levels)
        rc = cseg__diag(d, CSEG_EINVAL, NULL, 0, 0,
                        "column \"%s\" has %zu distinct values, more than the %zu a category "
                        "may have (an id or free text? leave it out with --features)",
                        c->name, got, pp->params.max_levels);
    c->categorical = 1;
    c->levels = lv; /* freed with the column, also on failure */
    c->n_levels = got;
    return rc;
}

int cseg__prep_finish(cseg_prep *pp)
{
    size_t n = 0;
    for (size_t j = 0; j < pp->n_cols; j++)
        n += pp->cols[j].categorical ? pp->cols[j].n_levels : 1;
    pp->out_names = cseg__calloc(n, sizeof *pp->out_names);
    if (!pp->out_names)
        return CSEG_ENOMEM;
    for (size_t j = 0; j < pp->n_cols; j++) {
        const cseg_prep_col *c = &pp->cols[j];
        if (!c->categorical) {
            if (!(pp->out_names[pp->n_out++] = cseg__strdup(c->name)))
                return CSEG_ENOMEM;
            continue;
        }
        for (size_t k = 0; k < c->n_levels; k++) {
            size_t len = strlen(c->name) + strlen(c->levels[k]) + 2;
            char *s = malloc(len);
            if (!s)
                return CSEG_ENOMEM;
            snprintf(s, len, "%s=%s", c->name, c->levels[k]);
            pp->out_names[pp->n_out++] = s;
        }
    }
    pp->fitted = 1;
    return 0;
}

int cseg_prep_fit(cseg_prep *pp, const cseg_table *t, const char *const *columns,
                  size_t n_columns, cseg_diag *d)
{
    return cseg__prep_fit_split(pp, t, columns, n_columns, NULL, d);
}

int cseg__prep_fit_split(cseg_prep *pp, const cseg_table *t, const char *const *columns,
                         size_t n_columns, const cseg__split_comm *comm, cseg_diag *d)
{
    int rc;
    clear(pp);
    if (n_columns == 0)
        return cseg__diag(d, CSEG_EINVAL, NULL, 0, 0, "no feature columns selected");
    uint64_t rows = cseg_table_n_rows(t);
    if (comm && (rc = comm->sum(comm->ctx, &rows, 1, NULL, 0)) < 0)
        return rc;
    if (rows == 0)
        return cseg__diag(d, CSEG_EEMPTY, NULL, 0, 0, "no rows to fit on");
    pp->cols = cseg__calloc(n_columns, sizeof *pp->cols);
    long *col = cseg__calloc(n_columns, sizeof *col);
    int *crc = cseg__calloc(n_columns, sizeof *crc);
    cseg_diag *cd = cseg__calloc(n_columns, sizeof *cd);
    if (!pp->cols || !col || !crc || !cd) {
        free(col), free(crc), free(cd);
        return CSEG_ENOMEM;
    }
    for (size_t k = 0; k < n_columns; k++) {
        cseg_prep_col *c = &pp->cols[pp->n_cols];
        if (!(c->name = cseg__strdup(columns[k]))) {
            rc = CSEG_ENOMEM;
            goto fail;
        }
        pp->n_cols++;
        col[k] = cseg_table_find(t, columns[k]);
        if (col[k] < 0)
            crc[k] = cseg__diag(&cd[k], CSEG_ENOCOL, NULL, 0, 0,
                                "feature column \"%s\" not found", columns[k]);
        else if (cseg_table_col_type(t, (size_t)col[k]) == CSEG_COL_DATETIME)
            crc[k] = cseg__diag(&cd[k], CSEG_EINVAL, NULL, 0, 0,
                                "column \"%s\" holds dates, which are not features (derive "
                                "recency or tenure instead)",
                                columns[k]);
    }
    /* The number columns side by side (each on its own: the same figures
     * for any thread count), then the text ones; the error is the first
     * failing column's, as when they were done in turn. */
    size_t n = cseg_table_n_rows(t);
    if (comm) { /* column by column, each step in the same order on every piece */
        for (size_t k = 0; k < n_columns; k++) {
            if (crc[k] == 0 && cseg_table_col_type(t, (size_t)col[k]) == CSEG_COL_NUMBER)
                crc[k] = fit_number(pp, &pp->cols[k], cseg_table_numbers(t, (size_t)col[k]), n,
                                    comm, &cd[k]);
            else if (crc[k] == 0 && cseg_table_col_type(t, (size_t)col[k]) == CSEG_COL_TEXT)
                crc[k] = fit_text(pp, &pp->cols[k], t, (size_t)col[k], comm, &cd[k]);
            if (crc[k] < 0)
                break;
        }
    } else {
#pragma omp parallel for num_threads(cseg__threads(0)) schedule(dynamic, 1) default(none)      \
    shared(pp, t, col, crc, cd, n, n_columns) if (n_columns > 1 && n >= 100000)
        for (size_t k = 0; k < n_columns; k++)
            if (crc[k] == 0 && cseg_table_col_type(t, (size_t)col[k]) == CSEG_COL_NUMBER)
                crc[k] = fit_number(pp, &pp->cols[k], cseg_table_numbers(t, (size_t)col[k]), n,
                                    NULL, &cd[k]);
        for (size_t k = 0; k < n_columns; k++)
            if (crc[k] == 0 && cseg_table_col_type(t, (size_t)col[k]) == CSEG_COL_TEXT)
                crc[k] = fit_text(pp, &pp->cols[k], t, (size_t)col[k], NULL, &cd[k]);
    }
    for (size_t k = 0; k < n_columns; k++)
        if (crc[k] < 0) {
            if (d)
                *d = cd[k];
            rc = crc[k];
            goto fail;
        }
    free(col), free(crc), free(cd);
    if ((rc = cseg__prep_finish(pp)) < 0)
        goto fail_finish;
    return 0;
fail:
    free(col), free(crc), free(cd);
fail_finish:
    clear(pp);
    return rc;
}

const double *cseg__prep_quantiles(const cseg_prep *pp, size_t j, size_t *n_points, size_t *n)
{
    if (j >= pp->n_cols || !pp->cols[j].q_points)
        return NULL;
    *n_points = pp->cols[j].q_npoints;
    *n = pp->cols[j].q_n;
    return pp->cols[j].q_points;
}

int cseg_prep_is_fitted(const cseg_prep *pp)
{
    return pp && pp->fitted;
}

size_t cseg_prep_n_outputs(const cseg_prep *pp)
{
    return pp->n_out;
}

const char *cseg_prep_output_name(const cseg_prep *pp, size_t j)
{
    return j < pp->n_out ? pp->out_names[j] : NULL;
}

size_t cseg_prep_n_inputs(const cseg_prep *pp)
{
    return pp->n_cols;
}

const char *cseg_prep_input_name(const cseg_prep *pp, size_t j)
{
    return j < pp->n_cols ? pp->cols[j].name : NULL;
}

int cseg_prep_input_is_logged(const cseg_prep *pp, size_t j)
{
    return j < pp->n_cols && pp->cols[j].log;
}

int cseg_prep_input_is_category(const cseg_prep *pp, size_t j)
{
    return j < pp->n_cols && pp->cols[j].categorical;
}

/* The first value of column c (from x) that is not finite once scaled:
 * the error of cseg_prep_transform, found again in row order. */
static int transform_error(const cseg_prep_col *c, const cseg_table *t, const double *x, size_t r0,
                           size_t r1, cseg_diag *d)
{
    for (size_t i = r0; i < r1; i++) {
        double z = isfinite(x[i]) ? x[i] : c->median;
        if (c->log)
            z = log_value(c, z);
        if (!isfinite((z - c->center) / c->scale))
            return cseg__diag(d, CSEG_ERANGE, NULL, cseg_table_row_line(t, i), 0,
                              "column \"%s\": the value %g is beyond the range of "
                              "numbers once scaled", c->name, x[i]);
    }
    return 0;
}

/* Rows are done a block at a time, every column of the block in turn: a
 * column at a time over all rows wrote each row's cache line once per
 * column (X is row-major), a pass over all of X per column. */
#define TRANSFORM_BLOCK 256

/* Where each model column's values are in a table: found once, then
 * applied to any rows of it (assign goes a block at a time). */
struct cseg__prep_plan {
    const cseg_prep *pp;
    const cseg_table *t;
    const double **num;   /* number columns' values */
    const int32_t **code; /* text columns' codes */
    long **map;           /* text: the table's level -> the model's, -1 unseen */
    int32_t *miss;        /* codes of a text column without any value: all -1 */
};

void cseg__prep_plan_free(cseg__prep_plan *pl)
{
    if (!pl)
        return;
    for (size_t k = 0; pl->map && k < pl->pp->n_cols; k++)
        free(pl->map[k]);
    free(pl->num), free(pl->code), free(pl->map), free(pl->miss);
    free(pl);
}

int cseg__prep_plan_make(const cseg_prep *pp, const cseg_table *t, cseg__prep_plan **out,
                         cseg_diag *d)
{
    *out = NULL;
    if (!pp->fitted)
        return CSEG_ENOTFIT;
    cseg__prep_plan *pl = calloc(1, sizeof *pl);
    if (!pl)
        return CSEG_ENOMEM;
    pl->pp = pp;
    pl->t = t;
    pl->num = calloc(pp->n_cols ? pp->n_cols : 1, sizeof *pl->num);
    pl->code = calloc(pp->n_cols ? pp->n_cols : 1, sizeof *pl->code);
    pl->map = calloc(pp->n_cols ? pp->n_cols : 1, sizeof *pl->map);
    int rc = pl->num && pl->code && pl->map ? 0 : CSEG_ENOMEM;
    for (size_t k = 0; rc == 0 && k < pp->n_cols; k++) {
        const cseg_prep_col *c = &pp->cols[k];
        long j = cseg_table_find(t, c->name);
        if (j < 0) {
            rc = cseg__diag(d, CSEG_ENOCOL, NULL, 0, 0, "column \"%s\" (used by the model) "
                            "not found", c->name);
        } else if (!c->categorical) {
            if (!(pl->num[k] = cseg_table_numbers(t, (size_t)j)))
                rc = cseg__diag(d, CSEG_EINVAL, NULL, 0, 0,
                                "column \"%s\" must hold numbers, as in training", c->name);
        } else if (!(pl->code[k] = cseg_table_codes(t, (size_t)j))) {
            /* A column without a single value reads as numbers, all missing:
             * as categories, all missing too (every indicator 0), as when
             * the streamed path meets empty texts. */
            size_t n = cseg_table_n_rows(t);
            if (!cseg__table_no_values(t, (size_t)j)) {
                rc = cseg__diag(d, CSEG_EINVAL, NULL, 0, 0,
                                "column \"%s\" must hold text categories, as in training",
                                c->name);
            } else if (!pl->miss && !(pl->miss = malloc((n ? n : 1) * sizeof *pl->miss))) {
                rc = CSEG_ENOMEM;
            } else {
                for (size_t i = 0; i < n; i++)
                    pl->miss[i] = -1;
                pl->code[k] = pl->miss;
            }
        } else {
            size_t nl = cseg_table_n_levels(t, (size_t)j);
            long *map = malloc((nl ? nl : 1) * sizeof *map);
            if (!(pl->map[k] = map)) {
                rc = CSEG_ENOMEM;
                break;
            }
            for (size_t l = 0; l < nl; l++) {
                map[l] = -1;
                const char *s = cseg_table_level(t, (size_t)j, (int32_t)l);
                for (size_t k2 = 0; k2 < c->n_levels; k2++)
                    if (strcmp(s, c->levels[k2]) == 0) {
                        map[l] = (long)k2;
                        break;
                    }
            }
        }
    }
    if (rc < 0) {
        cseg__prep_plan_free(pl);
        return rc;
    }
    *out = pl;
    return 0;
}

int cseg_prep_transform(const cseg_prep *pp, const cseg_table *t, double *X, cseg_diag *d)
{
    cseg__prep_plan *pl;
    int rc = cseg__prep_plan_make(pp, t, &pl, d);
    if (rc == 0)
        rc = cseg__prep_plan_rows(pl, 0, cseg_table_n_rows(t), X, d);
    cseg__prep_plan_free(pl);
    return rc;
}

/* Rows [r0 + i0, r0 + i1) into X (row i at X + i p); nonzero if a value is
 * not finite. */
static int transform_rows(const cseg__prep_plan *pl, size_t r0, size_t i0, size_t i1, double *X)
{
    const cseg_prep *pp = pl->pp;
    size_t p = pp->n_out, o = 0;
    int bad = 0;
    for (size_t k = 0; k < pp->n_cols; k++) {
        const cseg_prep_col *c = &pp->cols[k];
        if (!c->categorical) {
            const double *x = pl->num[k] + r0;
            for (size_t i = i0; i < i1; i++) {
                double z = isfinite(x[i]) ? x[i] : c->median;
                if (c->log)
                    z = log_value(c, z);
                X[i * p + o] = (z - c->center) / c->scale;
                bad |= !isfinite(X[i * p + o]);
            }
            o++;
            continue;
        }
        const int32_t *cd = pl->code[k] + r0;
        const long *map = pl->map[k];
        for (size_t i = i0; i < i1; i++) {
            for (size_t k2 = 0; k2 < c->n_levels; k2++)
                X[i * p + o + k2] = 0;
            if (cd[i] >= 0 && map[cd[i]] >= 0)
                X[i * p + o + (size_t)map[cd[i]]] = 1;
        }
        o += c->n_levels;
    }
    return bad;
}

int cseg__prep_plan_rows(const cseg__prep_plan *pl, size_t r0, size_t r1, double *X,
                         cseg_diag *d)
{
    const cseg_prep *pp = pl->pp;
    const double *const *num = pl->num;
    size_t n = r1 - r0;
    /* Blocks side by side on many rows (each row its own: the same bits
     * for any thread count). Few rows (inside assign's parallel blocks, a
     * service's one customer) go on the calling thread without a parallel
     * region: one whose if clause is false still sets up a team and wakes
     * it at its end. */
    size_t nblk = (n + TRANSFORM_BLOCK - 1) / TRANSFORM_BLOCK;
    int bad = 0, rc = 0;
    if (n < 65536) {
        bad = transform_rows(pl, r0, 0, n, X);
    } else {
#pragma omp parallel for num_threads(cseg__threads(0)) schedule(static) default(none)          \
    shared(pl, X, n, r0, nblk) reduction(| : bad)
        for (size_t b = 0; b < nblk; b++) {
            size_t i0 = b * TRANSFORM_BLOCK;
            bad |= transform_rows(pl, r0, i0, i0 + TRANSFORM_BLOCK < n ? i0 + TRANSFORM_BLOCK : n, X);
        }
    }
    /* The error names the first bad value column by column, as before. */
    for (size_t k = 0; bad && rc == 0 && k < pp->n_cols; k++)
        if (!pp->cols[k].categorical)
            rc = transform_error(&pp->cols[k], pl->t, num[k], r0, r1, d);
    return rc;
}
