/* custseg — bias audit: the chi-square test of segments against a column
 * kept out of the clustering (audit.h). */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/internal.h"
#include "custseg/audit.h"

/* The regularised incomplete gamma functions, written here because none of
 * custseg's dependencies has them (GSL and Cephes do, but neither is worth a
 * dependency for one function): the power series for P(a, x) when
 * x < a + 1, else the continued fraction for Q(a, x) by the modified Lentz
 * method (Numerical Recipes, 2nd ed., 6.2; Press et al.). Both converge to
 * double precision within a few hundred terms for the degrees of freedom
 * an audit meets. */
static double gamma_p_series(double a, double x)
{
    double sum = 1.0 / a, term = sum, ap = a;
    for (int i = 0; i < 10000; i++) {
        ap += 1;
        term *= x / ap;
        sum += term;
        if (fabs(term) < fabs(sum) * 1e-17)
            break;
    }
    return sum * exp(-x + a * log(x) - lgamma(a));
}

static double gamma_q_fraction(double a, double x)
{
    const double tiny = DBL_MIN / DBL_EPSILON;
    double b = x + 1 - a, c = 1 / tiny, dd = 1 / b, h = dd;
    for (int i = 1; i < 10000; i++) {
        double an = -i * (i - a);
        b += 2;
        dd = an * dd + b;
        if (fabs(dd) < tiny)
            dd = tiny;
        c = b + an / c;
        if (fabs(c) < tiny)
            c = tiny;
        dd = 1 / dd;
        double del = dd * c;
        h *= del;
        if (fabs(del - 1) < 1e-17)
            break;
    }
    return exp(-x + a * log(x) - lgamma(a)) * h;
}

double cseg_chi2_sf(double x, double dof)
{
    if (!(dof > 0) || isnan(x) || !isfinite(dof))
        return NAN;
    if (x <= 0)
        return 1;
    if (isinf(x))
        return 0;
    double a = dof / 2, h = x / 2;
    return h < a + 1 ? 1 - gamma_p_series(a, h) : gamma_q_fraction(a, h);
}

int cseg_audit_test(const int32_t *labels, const int32_t *groups, size_t n, size_t k, size_t g,
                    size_t *counts, cseg_audit_result *res)
{
    memset(res, 0, sizeof *res);
    res->p_value = NAN;
    res->cramers_v = NAN;
    if (k == 0 || g == 0)
        return CSEG_EINVAL;
    size_t *c = counts ? counts : calloc(k * g, sizeof *c), n_missing = 0;
    int rc = c ? 0 : CSEG_ENOMEM;
    if (rc == 0 && counts)
        memset(c, 0, k * g * sizeof *c);
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (labels[i] < 0 || (size_t)labels[i] >= k || (groups[i] >= 0 && (size_t)groups[i] >= g)) {
            rc = CSEG_EINVAL;
        } else if (groups[i] < 0) {
            n_missing++;
        } else {
            c[(size_t)labels[i] * g + (size_t)groups[i]]++;
        }
    }
    if (rc == 0)
        rc = cseg__audit_stats(c, k, g, n_missing, res);
    if (!counts)
        free(c);
    return rc;
}

int cseg__audit_stats(const size_t *c, size_t k, size_t g, size_t n_missing, cseg_audit_result *res)
{
    memset(res, 0, sizeof *res);
    res->p_value = NAN;
    res->cramers_v = NAN;
    res->n_missing = n_missing;
    size_t *row = calloc(k ? k : 1, sizeof *row), *col = calloc(g ? g : 1, sizeof *col);
    int rc = row && col ? 0 : CSEG_ENOMEM;
    for (size_t s = 0; rc == 0 && s < k; s++)
        for (size_t j = 0; j < g; j++) {
            row[s] += c[s * g + j];
            col[j] += c[s * g + j];
            res->n += c[s * g + j];
        }
    if (rc == 0) {
        /* Pearson's statistic over the rows and columns that have customers. */
        size_t nr = 0, nc = 0;
        for (size_t s = 0; s < k; s++)
            nr += row[s] > 0;
        for (size_t j = 0; j < g; j++)
            nc += col[j] > 0;
        double N = (double)res->n, chi2 = 0;
        for (size_t s = 0; s < k; s++)
            for (size_t j = 0; j < g; j++) {
                if (!row[s] || !col[j])
                    continue;
                double e = (double)row[s] * (double)col[j] / N, o = (double)c[s * g + j];
                chi2 += (o - e) * (o - e) / e;
            }
        if (nr >= 2 && nc >= 2) {
            res->chi2 = chi2;
            res->dof = (nr - 1) * (nc - 1);
            res->p_value = cseg_chi2_sf(chi2, (double)res->dof);
            res->cramers_v = sqrt(chi2 / (N * (double)((nr < nc ? nr : nc) - 1)));
        }
    }
    free(row);
    free(col);
    return rc;
}
