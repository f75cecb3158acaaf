/* custseg — PCA by eigen-decomposition of the covariance matrix.
 *
 * For customer features d is small (tens), so forming the d x d covariance
 * (one pass, O(n d^2)) and decomposing it (O(d^3)) is far cheaper than an
 * SVD of the n x d data, and as accurate for well-conditioned features.
 * Explained variances use n - 1, as scikit-learn. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "custseg/pca.h"
#include "../core/internal.h"

struct cseg_pca {
    size_t d, nc;
    double *mean, *comp, *var, *ratio;
};

void cseg_pca_free(cseg_pca *p)
{
    if (!p)
        return;
    free(p->mean);
    free(p->comp);
    free(p->var);
    free(p->ratio);
    free(p);
}

int cseg_pca_fit(cseg_pca **out, const double *X, size_t n, size_t d, size_t nc)
{
    *out = NULL;
    if (n < 2 || d == 0 || nc == 0 || nc > d)
        return CSEG_EINVAL;
    for (size_t i = 0; i < n * d; i++)
        if (!isfinite(X[i]))
            return CSEG_EINVAL;
    cseg_pca *p = calloc(1, sizeof *p);
    double *cov = NULL, *w = NULL, *V = NULL;
    int rc = CSEG_ENOMEM;
    if (!p)
        return CSEG_ENOMEM;
    p->d = d;
    p->nc = nc;
    p->mean = calloc(d, sizeof *p->mean);
    p->comp = malloc(nc * d * sizeof *p->comp);
    p->var = malloc(nc * sizeof *p->var);
    p->ratio = malloc(nc * sizeof *p->ratio);
    cov = calloc(d * d, sizeof *cov);
    w = malloc(d * sizeof *w);
    V = malloc(d * d * sizeof *V);
    if (!p->mean || !p->comp || !p->var || !p->ratio || !cov || !w || !V)
        goto out;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++)
            p->mean[j] += X[i * d + j];
    for (size_t j = 0; j < d; j++)
        p->mean[j] /= (double)n;
    for (size_t i = 0; i < n; i++) {
        const double *x = X + i * d;
        for (size_t a = 0; a < d; a++) {
            double xa = x[a] - p->mean[a];
            for (size_t b = a; b < d; b++)
                cov[a * d + b] += xa * (x[b] - p->mean[b]);
        }
    }
    for (size_t a = 0; a < d; a++)
        for (size_t b = a; b < d; b++) {
            cov[a * d + b] /= (double)(n - 1);
            cov[b * d + a] = cov[a * d + b];
        }
    if ((rc = cseg__sym_eig(d, cov, w, V)) < 0)
        goto out;
    double total = 0;
    for (size_t a = 0; a < d; a++)
        total += w[a] > 0 ? w[a] : 0;
    for (size_t c = 0; c < nc; c++) {
        size_t big = 0;
        for (size_t a = 1; a < d; a++)
            if (fabs(V[a * d + c]) > fabs(V[big * d + c]))
                big = a;
        double sign = V[big * d + c] < 0 ? -1 : 1;
        for (size_t a = 0; a < d; a++)
            p->comp[c * d + a] = sign * V[a * d + c];
        p->var[c] = w[c] > 0 ? w[c] : 0;
        p->ratio[c] = total > 0 ? p->var[c] / total : 0;
    }
    rc = 0;
out:
    free(cov);
    free(w);
    free(V);
    if (rc < 0)
        cseg_pca_free(p);
    else
        *out = p;
    return rc;
}

int cseg_pca_transform(const cseg_pca *p, const double *X, size_t n, double *Y)
{
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < p->nc; c++) {
            double s = 0;
            for (size_t a = 0; a < p->d; a++)
                s += (X[i * p->d + a] - p->mean[a]) * p->comp[c * p->d + a];
            Y[i * p->nc + c] = s;
        }
    return 0;
}

size_t cseg_pca_n_components(const cseg_pca *p)
{
    return p->nc;
}

const double *cseg_pca_explained_variance(const cseg_pca *p)
{
    return p->var;
}

const double *cseg_pca_explained_variance_ratio(const cseg_pca *p)
{
    return p->ratio;
}

const double *cseg_pca_components(const cseg_pca *p)
{
    return p->comp;
}
