/* custseg — fitting the BTYD models and the per-customer predictions. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/internal.h"
#include "custseg/clv.h"
#include "custseg/features.h"
#include "internal.h"

#define LOG_BOUND 35.0   /* |log parameter| the line search does not go beyond */
#define RUNAWAY 15.0     /* |log(parameter / its natural size)| that means it ran off */
#define GTOL_FIT 1e-8    /* BFGS target on the mean log-likelihood's gradient */
#define GTOL_REPORT 1e-6 /* converged when the final gradient is below this */

typedef struct fit_ctx {
    cseg__clv_data dd;
    int kind, dim, n_threads;
    double n;        /* rows the likelihood counts */
    double scale[4]; /* each parameter's natural size (alpha: the mean T; v: the mean spend) */
} fit_ctx;

/* -loglik / n over the log-parameters, and its gradient. */
static double objective(void *ctx, const double *th, double *grad)
{
    fit_ctx *c = ctx;
    double p[4], g[4];
    for (int j = 0; j < c->dim; j++)
        p[j] = exp(th[j]);
    double ll = c->kind == CSEG_CLV_BGNBD ? cseg__bgnbd_eval(&c->dd, p, g, c->n_threads)
                                          : cseg__gammagamma_eval(&c->dd, p, g, c->n_threads);
    if (!isfinite(ll))
        return INFINITY;
    for (int j = 0; j < c->dim; j++)
        grad[j] = -g[j] * p[j] / c->n;
    return -ll / c->n;
}

static const char *param_name(int kind, int j)
{
    static const char *const bg[] = {"r", "alpha", "a", "b"}, *const gg[] = {"p", "q", "v"};
    return kind == CSEG_CLV_BGNBD ? bg[j] : gg[j];
}

static int run_fit(cseg_clv_fit *out, fit_ctx *c, double *start, const cseg_clv_params *p,
                   cseg_diag *d)
{
    double th[4];
    cseg__min_result res;
    for (int j = 0; j < c->dim; j++)
        th[j] = log(start[j]);
    int rc = cseg__minimize(objective, c, c->dim, th, p->max_iter, GTOL_FIT, LOG_BOUND, &res);
    if (rc < 0)
        return cseg__diag(d, CSEG_ERANGE, NULL, 0, 0,
                          "%s: the likelihood is not finite at the starting point",
                          c->kind == CSEG_CLV_BGNBD ? "BG/NBD" : "Gamma-Gamma");
    out->kind = c->kind;
    out->n_iter = res.n_iter;
    out->loglik = -res.f * c->n;
    for (int j = 0; j < 4; j++) {
        out->param[j] = j < c->dim ? exp(th[j]) : 0;
        /* Cov(log p) = (n H)^-1; se(p) = p sqrt(Cov_jj) (delta method). */
        out->se[j] = j < c->dim && res.hessian_ok
                         ? out->param[j] * sqrt(res.Hinv[j * c->dim + j] / c->n)
                         : (j < c->dim ? NAN : 0);
    }
    /* A parameter e^RUNAWAY times its natural size, or as many times below,
     * has run off: the likelihood goes on rising towards 0 or infinity. */
    int at_bound = -1;
    for (int j = 0; j < c->dim; j++)
        if (fabs(th[j] - log(c->scale[j])) >= RUNAWAY)
            at_bound = j;
    if (at_bound >= 0) {
        out->status = CSEG_CLV_BOUNDARY;
        snprintf(out->message, sizeof out->message,
                 "not converged: %s ran to %.3g, which the data do not pin down (too few repeat "
                 "purchases, or spends all alike?)",
                 param_name(c->kind, at_bound), out->param[at_bound]);
    } else if (res.gmax <= GTOL_REPORT) {
        out->status = CSEG_CLV_CONVERGED;
        snprintf(out->message, sizeof out->message,
                 "converged after %zu iterations (largest gradient %.1e)", res.n_iter, res.gmax);
    } else if (res.max_iter) {
        out->status = CSEG_CLV_MAX_ITER;
        snprintf(out->message, sizeof out->message,
                 "not converged: stopped at the limit of %zu iterations (largest gradient %.1e)",
                 p->max_iter, res.gmax);
    } else {
        out->status = CSEG_CLV_STALLED;
        snprintf(out->message, sizeof out->message,
                 "not converged: no step improved the likelihood after %zu iterations (largest "
                 "gradient %.1e)",
                 res.n_iter, res.gmax);
    }
    if (out->status == CSEG_CLV_CONVERGED && !res.hessian_ok)
        snprintf(out->message + strlen(out->message), sizeof out->message - strlen(out->message),
                 "; the Hessian is not positive definite: no standard errors");
    if (c->kind == CSEG_CLV_GAMMA_GAMMA && out->param[1] <= 1)
        snprintf(out->message + strlen(out->message), sizeof out->message - strlen(out->message),
                 "; q <= 1: the expected order value is unbounded");
    return 0;
}

static int check(const double *x, const double *tx, const double *T, const double *m, size_t n,
                 cseg_diag *d)
{
    char why[160];
    long bad = cseg_clv_check_summary(x, tx, T, m, n, NULL, why, sizeof why);
    if (bad >= 0)
        return cseg__diag(d, CSEG_EINVAL, NULL, 0, 0, "row %ld: %s", bad + 1, why);
    return 0;
}

int cseg_bgnbd_fit(cseg_clv_fit *out, const double *x, const double *tx, const double *T, size_t n,
                   const cseg_clv_params *p, cseg_diag *d)
{
    memset(out, 0, sizeof *out);
    const char *why = cseg_clv_params_check(p);
    if (why)
        return cseg__diag(d, CSEG_EINVAL, NULL, 0, 0, "%s", why);
    int rc = check(x, tx, T, NULL, n, d);
    if (rc < 0)
        return rc;
    double sx = 0, sT = 0;
    size_t repeat = 0;
    for (size_t i = 0; i < n; i++) {
        sx += x[i];
        sT += T[i];
        repeat += x[i] > 0;
    }
    if (repeat == 0)
        return cseg__diag(d, CSEG_EEMPTY, NULL, 0, 0,
                          "BG/NBD: none of the %zu customers has a repeat purchase; the model "
                          "needs repeat buyers",
                          n);
    if (!(sT > 0))
        return cseg__diag(d, CSEG_EEMPTY, NULL, 0, 0,
                          "BG/NBD: every customer's T is 0 (observed for no time at all)");
    fit_ctx c = {.kind = CSEG_CLV_BGNBD,
                 .dim = 4,
                 .n_threads = p->n_threads,
                 .n = (double)n,
                 .scale = {1, sT / (double)n, 1, 1}};
    if ((rc = cseg__clv_data_init(&c.dd, x, tx, T, NULL, n)) < 0) {
        cseg__clv_data_free(&c.dd);
        return cseg__diag(d, rc, NULL, 0, 0, "out of memory fitting BG/NBD");
    }
    /* r / alpha is the mean purchase rate: start from the observed one. */
    double start[4] = {1, sT / (sx + 1), 1, 1};
    rc = run_fit(out, &c, start, p, d);
    out->n = n;
    cseg__clv_data_free(&c.dd);
    return rc;
}

int cseg_gammagamma_fit(cseg_clv_fit *out, const double *x, const double *m, size_t n,
                        const cseg_clv_params *p, cseg_diag *d)
{
    memset(out, 0, sizeof *out);
    const char *why = cseg_clv_params_check(p);
    if (why)
        return cseg__diag(d, CSEG_EINVAL, NULL, 0, 0, "%s", why);
    char reason[160];
    for (size_t i = 0; i < n; i++) {
        double zero = 0;
        if (cseg_clv_check_summary(x + i, &zero, &zero, m + i, 1, NULL, reason, sizeof reason) >= 0)
            return cseg__diag(d, CSEG_EINVAL, NULL, 0, 0, "row %zu: %s", i + 1, reason);
    }
    double sm = 0;
    size_t repeat = 0;
    for (size_t i = 0; i < n; i++)
        if (x[i] > 0) {
            sm += m[i];
            repeat++;
        }
    if (repeat < 2)
        return cseg__diag(d, CSEG_EEMPTY, NULL, 0, 0,
                          "Gamma-Gamma: %zu customer%s with repeat purchases; the spend model "
                          "needs at least 2",
                          repeat, repeat == 1 ? "" : "s");
    fit_ctx c = {.kind = CSEG_CLV_GAMMA_GAMMA,
                 .dim = 3,
                 .n_threads = p->n_threads,
                 .n = (double)repeat,
                 .scale = {1, 1, sm > 0 ? sm / (double)repeat : 1, 1}};
    int rc = cseg__clv_data_init(&c.dd, x, NULL, NULL, m, n);
    if (rc < 0) {
        cseg__clv_data_free(&c.dd);
        return cseg__diag(d, rc, NULL, 0, 0, "out of memory fitting Gamma-Gamma");
    }
    /* p v / (q - 1) is the mean order value: start there with p = 1, q = 2. */
    double start[3] = {1, 2, sm / (double)repeat};
    rc = run_fit(out, &c, start, p, d);
    out->n = repeat;
    cseg__clv_data_free(&c.dd);
    return rc;
}

int cseg_clv_value(const cseg_clv_params *p, const double *x, const double *tx, const double *T,
                   const double *m, size_t n, double *out)
{
    if (!p->has_fit || p->gamma_gamma.kind != CSEG_CLV_GAMMA_GAMMA || cseg_clv_params_check(p))
        return CSEG_EINVAL;
    const double *bg = p->bgnbd.param, *gg = p->gamma_gamma.param;
    double step = CSEG_CLV_MONTH_DAYS / p->unit_days;
    int months = (int)p->horizon_months, nt = cseg__threads(p->n_threads);
    (void)nt;
#ifdef _OPENMP
#pragma omp parallel for num_threads(nt) schedule(static, 1024) if (n > 4096)
#endif
    for (size_t i = 0; i < n; i++) {
        double value, prev = 0, total = 0, disc = 1;
        cseg_gammagamma_expected(gg, x + i, m + i, 1, &value);
        for (int k = 1; k <= months; k++) {
            double cur;
            cseg_bgnbd_expected(bg, k * step, x + i, tx + i, T + i, 1, &cur);
            disc *= 1 + p->discount;
            total += value * (cur - prev) / disc;
            prev = cur;
        }
        out[i] = total;
    }
    return 0;
}

/* The summary columns of a customer table (the spend, col[3], may be
 * missing: NULL), or an error naming the first missing. */
static int summary_columns(const cseg_table *t, const double **col, cseg_diag *d)
{
    static const char *const names[4] = {CSEG_CLV_COL_FREQUENCY, CSEG_CLV_COL_RECENCY,
                                         CSEG_CLV_COL_T, CSEG_CLV_COL_MONETARY};
    for (int j = 0; j < 4; j++) {
        long c = cseg_table_find(t, names[j]);
        col[j] = c >= 0 ? cseg_table_numbers(t, (size_t)c) : NULL;
        if (!col[j] && j < 3)
            return cseg__diag(d, CSEG_ENOCOL, NULL, 0, 0,
                              "the customer table has no number column \"%s\"", names[j]);
    }
    return 0;
}

int cseg_clv_fit_table(cseg_clv_params *p, const cseg_table *t, cseg_diag *d)
{
    const double *col[4];
    int rc = summary_columns(t, col, d);
    if (rc < 0)
        return rc;
    size_t n = cseg_table_n_rows(t);
    char why[160];
    int field;
    long bad = cseg_clv_check_summary(col[0], col[1], col[2], col[3], n, &field, why, sizeof why);
    if (bad >= 0) {
        long line = cseg_table_row_line(t, (size_t)bad);
        if (line > 0)
            return cseg__diag(d, CSEG_EINVAL, NULL, line, 0, "%s", why);
        long jid = cseg_table_find(t, CSEG_RFM_COL_CUSTOMER_ID);
        const int32_t *ids = jid >= 0 ? cseg_table_codes(t, (size_t)jid) : NULL;
        if (ids && ids[bad] >= 0)
            return cseg__diag(d, CSEG_EINVAL, NULL, 0, 0, "customer %s: %s",
                              cseg_table_level(t, (size_t)jid, ids[bad]), why);
        return cseg__diag(d, CSEG_EINVAL, NULL, 0, 0, "customer %ld: %s", bad + 1, why);
    }
    /* Fitted into copies: p changes only when the fit as a whole succeeds. */
    cseg_clv_fit bg, gg;
    memset(&gg, 0, sizeof gg);
    if ((rc = cseg_bgnbd_fit(&bg, col[0], col[1], col[2], n, p, d)) < 0)
        return rc;
    if (col[3]) {
        cseg_diag dg;
        cseg_diag_clear(&dg);
        rc = cseg_gammagamma_fit(&gg, col[0], col[3], n, p, &dg);
        if (rc == CSEG_EEMPTY) { /* too few repeat buyers for the spend model: BG/NBD alone */
            memset(&gg, 0, sizeof gg);
            snprintf(gg.message, sizeof gg.message, "not fitted: %.160s", dg.msg);
        } else if (rc < 0) {
            if (d)
                *d = dg;
            return rc;
        }
    }
    p->bgnbd = bg;
    p->gamma_gamma = gg;
    p->has_fit = 1;
    return 0;
}

int cseg_clv_add_columns(cseg_table *t, const cseg_clv_params *p, cseg_diag *d)
{
    const double *col[4];
    int rc = summary_columns(t, col, d);
    if (rc < 0)
        return rc;
    if (!p->has_fit)
        return cseg__diag(d, CSEG_ENOTFIT, NULL, 0, 0, "the lifetime-value models are not fitted");
    size_t n = cseg_table_n_rows(t);
    double *v = malloc((n ? n : 1) * 4 * sizeof *v);
    if (!v)
        return cseg__diag(d, CSEG_ENOMEM, NULL, 0, 0, "out of memory");
    double *pa = v, *ep = v + n, *ov = v + 2 * n, *cl = v + 3 * n;
    cseg_bgnbd_p_alive(p->bgnbd.param, col[0], col[1], col[2], n, pa);
    cseg_bgnbd_expected(p->bgnbd.param, p->horizon_months * CSEG_CLV_MONTH_DAYS / p->unit_days,
                        col[0], col[1], col[2], n, ep);
    /* The spend model is there when the spends were. */
    int spend = col[3] && p->gamma_gamma.kind == CSEG_CLV_GAMMA_GAMMA;
    if (spend) {
        cseg_gammagamma_expected(p->gamma_gamma.param, col[0], col[3], n, ov);
        if ((rc = cseg_clv_value(p, col[0], col[1], col[2], col[3], n, cl)) < 0) {
            free(v);
            return cseg__diag(d, rc, NULL, 0, 0, "clv: the parameters are not usable");
        }
    }
    if (rc == 0 && ((rc = cseg_table_add_numbers(t, CSEG_CLV_COL_P_ALIVE, pa)) < 0 ||
                    (rc = cseg_table_add_numbers(t, CSEG_CLV_COL_EXPECTED, ep)) < 0 ||
                    (spend && (rc = cseg_table_add_numbers(t, CSEG_CLV_COL_ORDER_VALUE, ov)) < 0) ||
                    (spend && (rc = cseg_table_add_numbers(t, CSEG_CLV_COL_CLV, cl)) < 0)))
        rc = cseg__diag(d, rc, NULL, 0, 0, "adding the lifetime-value columns: %s",
                        cseg_strerror(rc));
    free(v);
    return rc;
}

int cseg_clv_holdout(const cseg_table *cal, const cseg_table *full, double *x_holdout, cseg_diag *d)
{
    long ic = cseg_table_find(cal, CSEG_RFM_COL_CUSTOMER_ID),
         jf = cseg_table_find(full, CSEG_RFM_COL_CUSTOMER_ID);
    long xc = cseg_table_find(cal, CSEG_CLV_COL_FREQUENCY);
    long xf = cseg_table_find(full, CSEG_CLV_COL_FREQUENCY);
    if (ic < 0 || jf < 0 || xc < 0 || xf < 0 || !cseg_table_codes(cal, (size_t)ic) ||
        !cseg_table_codes(full, (size_t)jf))
        return cseg__diag(d, CSEG_ENOCOL, NULL, 0, 0,
                          "holdout: both tables need customer_id and %s", CSEG_CLV_COL_FREQUENCY);
    const int32_t *cc = cseg_table_codes(cal, (size_t)ic), *cf = cseg_table_codes(full, (size_t)jf);
    const double *vc = cseg_table_numbers(cal, (size_t)xc),
                 *vf = cseg_table_numbers(full, (size_t)xf);
    size_t n = cseg_table_n_rows(cal), nf = cseg_table_n_rows(full);
    /* Both list customers in the order cseg_rfm_compute gives them, and every
     * customer of cal is in full: one merge. */
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        const char *id = cseg_table_level(cal, (size_t)ic, cc[i]);
        while (j < nf && strcmp(cseg_table_level(full, (size_t)jf, cf[j]), id) != 0)
            j++;
        if (j == nf || vf[j] < vc[i])
            return cseg__diag(d, CSEG_EINVAL, NULL, 0, 0,
                              "holdout: customer %s of the calibration period is %s", id,
                              j == nf ? "missing from the whole period"
                                      : "fewer purchase days in the whole period");
        x_holdout[i] = vf[j] - vc[i];
        j++;
    }
    return 0;
}

char *cseg_clv_json(const cseg_clv_params *p)
{
    json_t *j = cseg__clv_json(p);
    char *s =
        j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17)) : NULL;
    json_decref(j);
    return s;
}

int cseg_clv_check_holdout(cseg_clv_check *out, const cseg_table *txn,
                           const struct cseg_txn_roles *roles, const struct cseg_rfm_params *rfm,
                           int64_t calibration_end, int64_t holdout_end, cseg_diag *d)
{
    memset(out, 0, sizeof *out);
    cseg_rfm_params whole = *rfm, cal = *rfm;
    whole.clv.enabled = cal.clv.enabled = 1;
    whole.clv.has_fit = cal.clv.has_fit = 0;
    whole.has_edges = cal.has_edges = 0;
    if (holdout_end != CSEG_DAY_AUTO)
        whole.as_of_day = holdout_end + 1;
    cseg_table *full = NULL, *part = NULL;
    double *xh = NULL;
    cseg_quality q;
    int rc = cseg_rfm_compute(&full, txn, roles, &whole, &q, d);
    if (rc < 0)
        return rc;
    if (holdout_end == CSEG_DAY_AUTO)
        holdout_end = q.as_of_day - 1;
    if (calibration_end >= holdout_end || calibration_end < q.first_day) {
        cseg_table_free(full);
        return cseg__diag(d, CSEG_EINVAL, NULL, 0, 0,
                          "the calibration period must end between the first purchase and the "
                          "end of the holdout");
    }
    cal.as_of_day = calibration_end + 1;
    if ((rc = cseg_rfm_compute(&part, txn, roles, &cal, NULL, d)) < 0)
        goto out;
    size_t n = cseg_table_n_rows(part);
    const double *col[4];
    if ((rc = summary_columns(part, col, d)) < 0)
        goto out;
    if (!(xh = malloc((n ? n : 1) * sizeof *xh))) {
        rc = cseg__diag(d, CSEG_ENOMEM, NULL, 0, 0, "out of memory");
        goto out;
    }
    if ((rc = cseg_clv_holdout(part, full, xh, d)) < 0 ||
        (rc = cseg_bgnbd_fit(&out->bgnbd, col[0], col[1], col[2], n, &cal.clv, d)) < 0)
        goto out;
    out->calibration_end = calibration_end;
    out->holdout_end = holdout_end;
    out->duration = (double)(holdout_end - calibration_end) / cal.clv.unit_days;
    out->n = n;
    for (size_t i = 0; i < n; i++) {
        double e;
        cseg_bgnbd_expected(out->bgnbd.param, out->duration, col[0] + i, col[1] + i, col[2] + i, 1,
                            &e);
        size_t g =
            col[0][i] >= CSEG_CLV_CHECK_GROUPS - 1 ? CSEG_CLV_CHECK_GROUPS - 1 : (size_t)col[0][i];
        out->customers[g]++;
        out->actual[g] += xh[i];
        out->predicted[g] += e;
        out->actual_all += xh[i];
        out->predicted_all += e;
    }
    for (size_t g = 0; g < CSEG_CLV_CHECK_GROUPS; g++)
        if (out->customers[g]) {
            out->actual[g] /= (double)out->customers[g];
            out->predicted[g] /= (double)out->customers[g];
        }
    if (n) {
        out->actual_all /= (double)n;
        out->predicted_all /= (double)n;
    }
out:
    free(xh);
    cseg_table_free(part);
    cseg_table_free(full);
    return rc;
}
