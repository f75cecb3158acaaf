/* custseg — a small unconstrained minimiser for maximum-likelihood fits.
 *
 * Written here rather than taken from a library: the fits have at most four
 * parameters, need an exact-gradient BFGS, a Hessian at the end for the
 * standard errors and full control over what "did not converge" means; the
 * Debian candidates (GSL's multimin, NLopt) would add a dependency (and GSL's
 * GPL) for about 150 lines. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "../core/internal.h"
#include "custseg/error.h"
#include "internal.h"

static double dot(const double *a, const double *b, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

static double amax(const double *a, int n)
{
    double m = 0;
    for (int i = 0; i < n; i++)
        m = fabs(a[i]) > m ? fabs(a[i]) : m;
    return m;
}

/* Hessian by central differences of the gradient; symmetrised. Then its
 * eigen-decomposition (through the linalg module) for the inverse. */
static int hessian(cseg__objective f, void *ctx, int dim, const double *x, cseg__min_result *out)
{
    double xp[4], gp[4], gm[4], H[16];
    const double h = 1e-4;
    for (int j = 0; j < dim; j++) {
        memcpy(xp, x, (size_t)dim * sizeof *xp);
        xp[j] = x[j] + h;
        double fp = f(ctx, xp, gp);
        xp[j] = x[j] - h;
        double fm = f(ctx, xp, gm);
        if (!isfinite(fp) || !isfinite(fm))
            return CSEG_ERANGE;
        for (int i = 0; i < dim; i++)
            H[i * dim + j] = (gp[i] - gm[i]) / (2 * h);
    }
    for (int i = 0; i < dim; i++)
        for (int j = 0; j < i; j++)
            H[i * dim + j] = H[j * dim + i] = 0.5 * (H[i * dim + j] + H[j * dim + i]);
    memcpy(out->H, H, (size_t)(dim * dim) * sizeof *H);
    double w[4], V[16];
    out->hessian_ok = 0;
    if (cseg__sym_eig((size_t)dim, H, w, V) < 0)
        return 0;
    for (int i = 0; i < dim; i++)
        if (!(w[i] > 0) || !isfinite(w[i]))
            return 0;
    for (int i = 0; i < dim; i++)
        for (int j = 0; j < dim; j++) {
            double s = 0;
            for (int k = 0; k < dim; k++)
                s += V[i * dim + k] * V[j * dim + k] / w[k];
            out->Hinv[i * dim + j] = s;
        }
    out->hessian_ok = 1;
    return 0;
}

int cseg__minimize(cseg__objective f, void *ctx, int dim, double *x, size_t max_iter, double gtol,
                   double max_abs_x, cseg__min_result *out)
{
    double g[4], xn[4], gn[4], Hi[16], d[4], s[4], y[4];
    memset(out, 0, sizeof *out);
    double fx = f(ctx, x, g);
    if (!isfinite(fx))
        return CSEG_ERANGE;
    memset(Hi, 0, sizeof Hi);
    for (int i = 0; i < dim; i++)
        Hi[i * dim + i] = 1;
    int first = 1, flat = 0;
    size_t it = 0;
    for (; it < max_iter && amax(g, dim) > gtol; it++) {
        for (int i = 0; i < dim; i++)
            d[i] = -dot(Hi + i * dim, g, dim);
        if (dot(d, g, dim) >= 0) { /* not a descent direction: start over */
            memset(Hi, 0, sizeof Hi);
            for (int i = 0; i < dim; i++)
                Hi[i * dim + i] = 1, d[i] = -g[i];
        }
        double big = amax(d, dim), step = big > 2 ? 2 / big : 1, slope = dot(d, g, dim), fn = 0;
        int found = 0;
        for (int ls = 0; ls < 60 && !found; ls++, step *= 0.5) {
            int inside = 1;
            for (int i = 0; i < dim; i++) {
                xn[i] = x[i] + step * d[i];
                inside &= fabs(xn[i]) <= max_abs_x;
            }
            if (!inside)
                continue;
            fn = f(ctx, xn, gn);
            found = isfinite(fn) && fn <= fx + 1e-4 * step * slope;
        }
        if (!found) {
            out->stalled = 1;
            break;
        }
        for (int i = 0; i < dim; i++)
            s[i] = xn[i] - x[i], y[i] = gn[i] - g[i];
        double sy = dot(s, y, dim);
        if (sy > 1e-12 * sqrt(dot(s, s, dim) * dot(y, y, dim))) {
            if (first) { /* scale the first guess of the inverse Hessian */
                double sc = sy / dot(y, y, dim);
                for (int i = 0; i < dim * dim; i++)
                    Hi[i] *= sc;
                first = 0;
            }
            /* Hi <- (I - rho s y') Hi (I - rho y s') + rho s s' */
            double rho = 1 / sy, Hy[4], yHy;
            for (int i = 0; i < dim; i++)
                Hy[i] = dot(Hi + i * dim, y, dim);
            yHy = dot(y, Hy, dim);
            for (int i = 0; i < dim; i++)
                for (int j = 0; j < dim; j++)
                    Hi[i * dim + j] +=
                        rho * ((1 + rho * yHy) * s[i] * s[j] - Hy[i] * s[j] - s[i] * Hy[j]);
        }
        /* Gains at the rounding level of f: the gradient left is noise of
         * the sums (a flat likelihood); the Newton steps below finish. */
        flat = fx - fn <= 8 * DBL_EPSILON * fabs(fx) ? flat + 1 : 0;
        memcpy(x, xn, (size_t)dim * sizeof *x);
        memcpy(g, gn, (size_t)dim * sizeof *g);
        fx = fn;
        if (flat >= 3) {
            out->stalled = 1;
            it++;
            break;
        }
    }
    out->max_iter = it >= max_iter && amax(g, dim) > gtol;
    out->n_iter = it;
    /* Newton steps on the difference Hessian take the last digits that BFGS's
     * line search cannot resolve in the flat bottom of a likelihood. */
    for (int k = 0; k < 4; k++) {
        int rc = hessian(f, ctx, dim, x, out);
        if (rc < 0 || !out->hessian_ok || amax(g, dim) <= 1e-14 || out->n_iter >= max_iter)
            break;
        for (int i = 0; i < dim; i++)
            xn[i] = x[i] - dot(out->Hinv + i * dim, g, dim);
        if (amax(xn, dim) > max_abs_x)
            break;
        double fn = f(ctx, xn, gn);
        if (!isfinite(fn) || amax(gn, dim) >= amax(g, dim))
            break;
        memcpy(x, xn, (size_t)dim * sizeof *x);
        memcpy(g, gn, (size_t)dim * sizeof *g);
        fx = fn;
        out->n_iter++;
    }
    if (amax(g, dim) <= gtol)
        out->stalled = out->max_iter = 0;
    out->f = fx;
    out->gmax = amax(g, dim);
    return 0;
}
