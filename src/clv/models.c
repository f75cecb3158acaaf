/* custseg — BG/NBD and Gamma-Gamma: likelihoods, gradients, predictions.
 *
 * The terms that depend on a customer only through x (log-gamma and digamma
 * differences) are computed once per distinct x value; per customer there
 * remain two logarithms and one exponential (BG/NBD) or one logarithm
 * (Gamma-Gamma). Sums run over fixed blocks of rows, added in block order,
 * so that the value does not depend on the thread count. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/internal.h"
#include "custseg/clv.h"
#include "internal.h"

#define BLOCK 8192

void cseg_clv_params_init(cseg_clv_params *p)
{
    memset(p, 0, sizeof *p);
    p->unit_days = 1;
    p->horizon_months = 12;
    p->discount = 0.01;
    p->max_iter = 500;
}

const char *cseg_clv_params_check(const cseg_clv_params *p)
{
    if (!(p->unit_days > 0) || !isfinite(p->unit_days))
        return "unit: the time unit must be a positive number of days";
    if (!(p->horizon_months >= 0) || p->horizon_months > 1200 ||
        p->horizon_months != floor(p->horizon_months))
        return "horizon: months must be a whole number 0..1200";
    if (!(p->discount >= 0) || !(p->discount < 10))
        return "discount: the monthly rate must be in [0, 10)";
    if (p->max_iter == 0)
        return "max_iter: at least 1 iteration";
    return NULL;
}

long cseg_clv_check_summary(const double *x, const double *tx, const double *T, const double *m,
                            size_t n, int *field, char *why, size_t why_size)
{
    for (size_t i = 0; i < n; i++) {
        const char *bad = NULL;
        char buf[160];
        int f = 0;
        if (!isfinite(x[i]) || x[i] < 0 || x[i] != floor(x[i]) || x[i] > 1e9) {
            snprintf(buf, sizeof buf,
                     x[i] > 1e9 && isfinite(x[i])
                         ? "frequency %g is more repeat purchases than a summary may hold (1e9)"
                         : "frequency %g is not a whole number of repeat purchases",
                     x[i]);
            bad = buf;
        } else if (!isfinite(tx[i]) || tx[i] < 0) {
            snprintf(buf, sizeof buf, "recency %g is not a time >= 0", tx[i]);
            bad = buf;
            f = 1;
        } else if (!isfinite(T[i]) || T[i] < 0) {
            snprintf(buf, sizeof buf, "T %g is not a time >= 0", T[i]);
            bad = buf;
            f = 2;
        } else if (T[i] < tx[i]) {
            snprintf(buf, sizeof buf, "recency %g is larger than T %g", tx[i], T[i]);
            bad = buf;
            f = 2;
        } else if (x[i] == 0 && tx[i] > 0) {
            snprintf(buf, sizeof buf, "recency %g with no repeat purchase (it must be 0)", tx[i]);
            bad = buf;
            f = 1;
        } else if (m && (!isfinite(m[i]) || m[i] < 0 || (x[i] > 0 && m[i] == 0))) {
            f = 3;
            snprintf(buf, sizeof buf, "monetary_value %g is not a spend > 0%s", m[i],
                     x[i] > 0 ? "" : " (or 0 without repeat purchases)");
            bad = buf;
        }
        if (bad) {
            if (field)
                *field = f;
            if (why && why_size)
                snprintf(why, why_size, "%s", bad);
            return (long)i;
        }
    }
    return -1;
}

/* ---- the distinct x values ---- */

int cseg__clv_data_init(cseg__clv_data *dd, const double *x, const double *tx, const double *T,
                        const double *m, size_t n)
{
    memset(dd, 0, sizeof *dd);
    dd->x = x;
    dd->tx = tx;
    dd->T = T;
    dd->m = m;
    dd->n = n;
    double xmax = 0;
    for (size_t i = 0; i < n; i++)
        xmax = x[i] > xmax ? x[i] : xmax;
    /* x are whole numbers (cseg_clv_check_summary); a direct table of them
     * when it is not much larger than the data, else sorted distinct values. */
    dd->xi = malloc((n ? n : 1) * sizeof *dd->xi);
    if (!dd->xi)
        return CSEG_ENOMEM;
    if (xmax <= 4.0 * (double)n + 1024) {
        size_t top = (size_t)xmax + 1;
        uint32_t *slot = malloc(top * sizeof *slot);
        if (!slot)
            return CSEG_ENOMEM;
        for (size_t v = 0; v < top; v++)
            slot[v] = UINT32_MAX;
        for (size_t i = 0; i < n; i++)
            slot[(size_t)x[i]] = 0;
        for (size_t v = 0; v < top; v++)
            if (slot[v] == 0)
                dd->nx++;
        if (!(dd->xv = malloc((dd->nx ? dd->nx : 1) * sizeof *dd->xv))) {
            free(slot);
            return CSEG_ENOMEM;
        }
        dd->nx = 0;
        for (size_t v = 0; v < top; v++)
            if (slot[v] == 0) {
                slot[v] = (uint32_t)dd->nx;
                dd->xv[dd->nx++] = (double)v;
            }
        for (size_t i = 0; i < n; i++)
            dd->xi[i] = slot[(size_t)x[i]];
        free(slot);
    } else {
        double *s = malloc((n ? n : 1) * sizeof *s);
        if (!s)
            return CSEG_ENOMEM;
        memcpy(s, x, n * sizeof *s);
        cseg__sort_doubles(s, n);
        size_t u = 0;
        for (size_t i = 0; i < n; i++)
            if (u == 0 || s[u - 1] != s[i])
                s[u++] = s[i];
        dd->xv = s;
        dd->nx = u;
        for (size_t i = 0; i < n; i++) {
            size_t lo = 0, hi = u;
            while (hi - lo > 1) {
                size_t mid = (lo + hi) / 2;
                if (s[mid] <= x[i])
                    lo = mid;
                else
                    hi = mid;
            }
            dd->xi[i] = (uint32_t)lo;
        }
    }
    dd->per_x = malloc((dd->nx ? dd->nx : 1) * 6 * sizeof *dd->per_x);
    if (!dd->per_x)
        return CSEG_ENOMEM;
    if (m) {
        dd->logm = malloc((n ? n : 1) * sizeof *dd->logm);
        if (!dd->logm)
            return CSEG_ENOMEM;
        for (size_t i = 0; i < n; i++)
            dd->logm[i] = x[i] > 0 ? log(m[i]) : 0;
    }
    return 0;
}

void cseg__clv_data_free(cseg__clv_data *dd)
{
    free(dd->xi);
    free(dd->xv);
    free(dd->per_x);
    free(dd->logm);
    memset(dd, 0, sizeof *dd);
}

/* Sum of per-block partial vectors (ll + gradient), in block order. */
typedef void (*block_fn)(const cseg__clv_data *dd, const double *param, size_t lo, size_t hi,
                         double *acc);

static double sum_blocks(const cseg__clv_data *dd, const double *param, block_fn fn, int dim,
                         double *grad, int n_threads)
{
    size_t nb = (dd->n + BLOCK - 1) / BLOCK;
    double stack[5 * 64], *part = nb <= 64 ? stack : malloc(nb * 5 * sizeof *part);
    if (!part)
        return NAN;
    int nt = cseg__threads(n_threads);
    (void)nt;
#ifdef _OPENMP
#pragma omp parallel for num_threads(nt) schedule(static) if (nb > 1)
#endif
    for (size_t b = 0; b < nb; b++) {
        double *acc = part + b * 5;
        memset(acc, 0, 5 * sizeof *acc);
        size_t lo = b * BLOCK, hi = lo + BLOCK < dd->n ? lo + BLOCK : dd->n;
        fn(dd, param, lo, hi, acc);
    }
    double tot[5] = {0, 0, 0, 0, 0};
    for (size_t b = 0; b < nb; b++)
        for (int j = 0; j <= dim; j++)
            tot[j] += part[b * 5 + j];
    if (part != stack)
        free(part);
    if (grad)
        for (int j = 0; j < dim; j++)
            grad[j] = tot[1 + j];
    return tot[0];
}

/* ---- BG/NBD ---- */

/* per_x[6 v + .]: C(x) (the log-gamma part of the likelihood), ln(b + x - 1),
 * and the digamma parts of d/dr, d/da, d/db; 1 / (b + x - 1). */
static void bg_per_x(cseg__clv_data *dd, const double *p)
{
    double r = p[0], a = p[2], b = p[3];
    double lg_r = lgamma(r), lg_ab = lgamma(a + b), lg_b = lgamma(b);
    double ps_r = cseg__digamma(r), ps_ab = cseg__digamma(a + b), ps_b = cseg__digamma(b);
    for (size_t v = 0; v < dd->nx; v++) {
        double x = dd->xv[v], *q = dd->per_x + 6 * v;
        if (x == 0) {
            q[0] = q[1] = q[2] = q[3] = q[4] = q[5] = 0;
            continue;
        }
        q[0] = lgamma(r + x) - lg_r + lg_ab + lgamma(b + x) - lg_b - lgamma(a + b + x);
        q[1] = log(b + x - 1);
        q[2] = cseg__digamma(r + x) - ps_r;
        double ps_abx = cseg__digamma(a + b + x);
        q[3] = ps_ab - ps_abx;
        q[4] = ps_ab + cseg__digamma(b + x) - ps_b - ps_abx;
        q[5] = 1 / (b + x - 1);
    }
}

static void bg_block(const cseg__clv_data *dd, const double *p, size_t lo, size_t hi, double *acc)
{
    double r = p[0], alpha = p[1], a = p[2];
    double lalpha = log(alpha), la = log(a);
    double ll = 0, gr = 0, gal = 0, ga = 0, gb = 0;
    for (size_t i = lo; i < hi; i++) {
        double x = dd->x[i];
        double lT = log(alpha + dd->T[i]);
        if (x == 0) {
            ll += r * (lalpha - lT);
            gr += lalpha - lT;
            gal += r / alpha - r / (alpha + dd->T[i]);
            continue;
        }
        const double *q = dd->per_x + 6 * dd->xi[i];
        double ltx = log(alpha + dd->tx[i]);
        double l1 = -(r + x) * lT, l2 = la - q[1] - (r + x) * ltx;
        double hi_l = l1 > l2 ? l1 : l2, e = exp(-fabs(l1 - l2));
        ll += q[0] + r * lalpha + hi_l + log1p(e);
        /* w2: the weight of "dropped out after the last purchase" */
        double w2 = l2 >= l1 ? 1 / (1 + e) : e / (1 + e), w1 = 1 - w2;
        gr += q[2] + lalpha - w1 * lT - w2 * ltx;
        gal += r / alpha - (r + x) * (w1 / (alpha + dd->T[i]) + w2 / (alpha + dd->tx[i]));
        ga += q[3] + w2 / a;
        gb += q[4] - w2 * q[5];
    }
    acc[0] += ll;
    acc[1] += gr;
    acc[2] += gal;
    acc[3] += ga;
    acc[4] += gb;
}

double cseg__bgnbd_eval(cseg__clv_data *dd, const double *p, double *grad, int n_threads)
{
    for (int j = 0; j < 4; j++)
        if (!(p[j] > 0) || !isfinite(p[j]))
            return -INFINITY;
    bg_per_x(dd, p);
    return sum_blocks(dd, p, bg_block, 4, grad, n_threads);
}

double cseg_bgnbd_loglik(const double param[4], const double *x, const double *tx, const double *T,
                         size_t n, double grad[4])
{
    cseg__clv_data dd;
    double ll = NAN;
    if (cseg__clv_data_init(&dd, x, tx, T, NULL, n) == 0)
        ll = cseg__bgnbd_eval(&dd, param, grad, 1);
    cseg__clv_data_free(&dd);
    return ll;
}

/* ---- Gamma-Gamma ---- */

static void gg_per_x(cseg__clv_data *dd, const double *p)
{
    double pp = p[0], q = p[1];
    double lg_q = lgamma(q), ps_q = cseg__digamma(q);
    for (size_t v = 0; v < dd->nx; v++) {
        double x = dd->xv[v], *s = dd->per_x + 6 * v;
        if (x == 0) {
            s[0] = s[1] = s[2] = s[3] = s[4] = s[5] = 0;
            continue;
        }
        double px = pp * x;
        s[0] = lgamma(px + q) - lgamma(px) - lg_q + px * log(x);
        double ps_pxq = cseg__digamma(px + q);
        s[1] = x * (ps_pxq - cseg__digamma(px) + log(x));
        s[2] = ps_pxq - ps_q;
    }
}

static void gg_block(const cseg__clv_data *dd, const double *p, size_t lo, size_t hi, double *acc)
{
    double pp = p[0], q = p[1], v = p[2], lv = log(v);
    double ll = 0, gp = 0, gq = 0, gv = 0;
    for (size_t i = lo; i < hi; i++) {
        double x = dd->x[i];
        if (x == 0)
            continue;
        const double *s = dd->per_x + 6 * dd->xi[i];
        double lm = dd->logm[i], vm = v + x * dd->m[i], lvm = log(vm), px = pp * x;
        ll += s[0] + q * lv + (px - 1) * lm - (px + q) * lvm;
        gp += s[1] + x * lm - x * lvm;
        gq += s[2] + lv - lvm;
        gv += q / v - (px + q) / vm;
    }
    acc[0] += ll;
    acc[1] += gp;
    acc[2] += gq;
    acc[3] += gv;
}

double cseg__gammagamma_eval(cseg__clv_data *dd, const double *p, double *grad, int n_threads)
{
    for (int j = 0; j < 3; j++)
        if (!(p[j] > 0) || !isfinite(p[j]))
            return -INFINITY;
    gg_per_x(dd, p);
    return sum_blocks(dd, p, gg_block, 3, grad, n_threads);
}

double cseg_gammagamma_loglik(const double param[3], const double *x, const double *m, size_t n,
                              double grad[3])
{
    cseg__clv_data dd;
    double ll = NAN;
    if (cseg__clv_data_init(&dd, x, NULL, NULL, m, n) == 0)
        ll = cseg__gammagamma_eval(&dd, param, grad, 1);
    cseg__clv_data_free(&dd);
    return ll;
}

/* ---- predictions ---- */

void cseg_bgnbd_p_alive(const double param[4], const double *x, const double *tx, const double *T,
                        size_t n, double *out)
{
    double r = param[0], alpha = param[1], a = param[2], b = param[3];
    for (size_t i = 0; i < n; i++) {
        if (x[i] == 0) {
            out[i] = 1;
            continue;
        }
        /* a / (b + x - 1) ((alpha + T) / (alpha + t_x))^(r + x), in logs */
        double l =
            log(a) - log(b + x[i] - 1) + (r + x[i]) * (log(alpha + T[i]) - log(alpha + tx[i]));
        out[i] = 1 / (1 + exp(l));
    }
}

/* E[Y(t) | x, t_x, T] without the P(alive) denominator:
 *   (a+b+x-1)/(a-1) [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z)]
 * with z = t / (alpha+T+t). Euler's transformation turns the second term
 * into (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z), whose first two
 * parameters do not grow with x: the direct series overflows for frequent
 * buyers over long horizons, and is negative (no logarithm) when
 * a + b < 1. At a = 1 the expression is 0/0 with a finite limit: within
 * 5e-7 of it, the mean of a = 1 -+ 1e-6. */
static double expected_core(double r, double alpha, double a, double b, double x, double T,
                            double t)
{
    if (fabs(a - 1) < 5e-7) /* the two points below are 1e-6 away: no recursion */
        return 0.5 * (expected_core(r, alpha, 1 - 1e-6, b, x, T, t) +
                      expected_core(r, alpha, 1 + 1e-6, b, x, T, t));
    double z = t / (alpha + T + t);
    int ok;
    double ls;
    double f = cseg__hyp2f1(a + b - 1 - r, a - 1, a + b + x - 1, z, &ok, &ls);
    if (!ok)
        return NAN;
    /* With large a the series is beyond doubles (kept scaled by e^ls) and
     * (1 - z)^(a - 1) below them: their product, in logs. */
    double p = ls == 0 ? pow(1 - z, a - 1) : exp((a - 1) * log1p(-z) + ls);
    return (a + b + x - 1) / (a - 1) * (1 - p * f);
}

void cseg_bgnbd_expected(const double param[4], double t, const double *x, const double *tx,
                         const double *T, size_t n, double *out)
{
    double r = param[0], alpha = param[1], a = param[2], b = param[3];
    for (size_t i = 0; i < n; i++) {
        if (t <= 0) {
            out[i] = 0;
            continue;
        }
        double xi = x[i], den = 1;
        if (xi > 0)
            den +=
                exp(log(a) - log(b + xi - 1) + (r + xi) * (log(alpha + T[i]) - log(alpha + tx[i])));
        out[i] = expected_core(r, alpha, a, b, xi, T[i], t) / den;
    }
}

double cseg_bgnbd_expected_new(const double param[4], double t)
{
    /* a new customer: x = 0, T = 0 */
    if (t <= 0)
        return 0;
    return expected_core(param[0], param[1], param[2], param[3], 0, 0, t);
}

void cseg_gammagamma_expected(const double param[3], const double *x, const double *m, size_t n,
                              double *out)
{
    double p = param[0], q = param[1], v = param[2];
    for (size_t i = 0; i < n; i++) {
        double den = x[i] > 0 ? p * x[i] + q - 1 : q - 1;
        /* q <= 1 (one-time buyers) leaves the mean order value infinite: NaN */
        out[i] = den > 0 ? p * (v + (x[i] > 0 ? x[i] * m[i] : 0)) / den : NAN;
    }
}
