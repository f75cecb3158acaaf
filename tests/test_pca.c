/* Tests for PCA: against scikit-learn (tests/reference/fixtures_pca.h from
 * make_fixtures.py; fixtures_pca2.h from make_suite_fixtures.py: the share
 * rule, variances, means and transform output), against a naive two-pass
 * covariance, identical bits for 1, 2 and 8 threads, rebuilding a model with
 * cseg_pca_set, and edge cases. */
#include <math.h>

#include "util.h"
#include "reference/fixtures_pca.h"
#include "reference/fixtures_pca2.h"

static void test_against_sklearn(void **state)
{
    (void)state;
    cseg_pca *p;
    assert_int_equal(cseg_pca_fit(&p, pca_X, PCA_N, PCA_D, PCA_D), 0);
    const double *var = cseg_pca_explained_variance(p), *ratio =
                                                           cseg_pca_explained_variance_ratio(p);
    const double *C = cseg_pca_components(p);
    for (size_t c = 0; c < PCA_D; c++) {
        assert_rel(var[c], pca_var[c], 1e-10);
        assert_rel(ratio[c], pca_ratio[c], 1e-10);
        /* Equal up to sign. */
        double dot = 0;
        for (size_t j = 0; j < PCA_D; j++)
            dot += C[c * PCA_D + j] * pca_components[c * PCA_D + j];
        double sign = dot < 0 ? -1 : 1;
        for (size_t j = 0; j < PCA_D; j++)
            assert_true(fabs(C[c * PCA_D + j] - sign * pca_components[c * PCA_D + j]) < 1e-8);
        /* Orthonormal, and the deterministic sign: largest entry positive. */
        double nn = 0, big = 0;
        for (size_t j = 0; j < PCA_D; j++) {
            nn += C[c * PCA_D + j] * C[c * PCA_D + j];
            if (fabs(C[c * PCA_D + j]) > fabs(big))
                big = C[c * PCA_D + j];
        }
        assert_true(fabs(nn - 1) < 1e-12);
        assert_true(big > 0);
        for (size_t c2 = 0; c2 < c; c2++) {
            double o = 0;
            for (size_t j = 0; j < PCA_D; j++)
                o += C[c * PCA_D + j] * C[c2 * PCA_D + j];
            assert_true(fabs(o) < 1e-12);
        }
    }
    /* Projections are centred and their variance is the explained variance. */
    double *Y = malloc(PCA_N * PCA_D * sizeof *Y);
    assert_int_equal(cseg_pca_transform(p, pca_X, PCA_N, Y), 0);
    for (size_t c = 0; c < PCA_D; c++) {
        double mu = 0, v = 0;
        for (size_t i = 0; i < PCA_N; i++)
            mu += Y[i * PCA_D + c];
        mu /= PCA_N;
        for (size_t i = 0; i < PCA_N; i++)
            v += (Y[i * PCA_D + c] - mu) * (Y[i * PCA_D + c] - mu);
        assert_true(fabs(mu) < 1e-9);
        assert_rel(v / (PCA_N - 1), pca_var[c], 1e-9);
    }
    free(Y);
    cseg_pca_free(p);
}

static void test_invalid(void **state)
{
    (void)state;
    cseg_pca *p;
    double X[] = {1, 2, 3, 4};
    assert_int_equal(cseg_pca_fit(&p, X, 1, 4, 1), CSEG_EINVAL);
    assert_int_equal(cseg_pca_fit(&p, X, 2, 2, 3), CSEG_EINVAL);
    double Xn[] = {1, NAN, 3, 4};
    assert_int_equal(cseg_pca_fit(&p, Xn, 2, 2, 1), CSEG_EINVAL);
    /* constant data: zero variance, no NaN */
    double Xc[] = {5, 5, 5, 5, 5, 5};
    assert_int_equal(cseg_pca_fit(&p, Xc, 3, 2, 2), 0);
    assert_true(cseg_pca_explained_variance(p)[0] == 0);
    assert_true(cseg_pca_explained_variance_ratio(p)[0] == 0);
    cseg_pca_free(p);
}

/* Correlated data with a large offset (centring matters) and d = 13, which
 * is not a multiple of the kernel's 4 x 8 tiles. */
static double *make_data(size_t n, size_t d, uint64_t seed)
{
    double *X = malloc(n * d * sizeof *X);
    uint64_t s = seed;
    assert_true(d <= 256);
    for (size_t i = 0; i < n; i++) {
        double z[256];
        for (size_t j = 0; j < d; j++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            z[j] = ((double)(s >> 11) * 0x1p-53 - 0.5) * (double)(j + 1);
        }
        for (size_t j = 0; j < d; j++)
            X[i * d + j] = 1e4 * (double)(j + 1) + z[j] + 0.5 * z[(j + 1) % d];
    }
    return X;
}

static void test_pca2_sklearn(void **state)
{
    (void)state;
    for (size_t f = 0; f < N_FIXTURES_PCA2; f++) {
        const fixture_pca2 *fx = &FIXTURES_PCA2[f];
        size_t n = fx->n, d = fx->d, k = fx->k;
        cseg_pca *p;
        assert_int_equal(cseg_pca_fit_variance(&p, fx->X, n, d, fx->share), 0);
        print_message("%s: %zu components (sklearn %zu)\n", fx->name, cseg_pca_n_components(p), k);
        assert_int_equal(cseg_pca_n_components(p), k);
        assert_int_equal(cseg_pca_dim(p), d);
        const double *mean = cseg_pca_mean(p), *var = cseg_pca_explained_variance(p);
        const double *ratio = cseg_pca_explained_variance_ratio(p), *C = cseg_pca_components(p);
        for (size_t j = 0; j < d; j++)
            assert_rel(mean[j], fx->mean[j], 1e-13);
        for (size_t c = 0; c < k; c++) {
            assert_rel(var[c], fx->var[c], 1e-10);
            assert_rel(ratio[c], fx->ratio[c], 1e-10);
        }
        /* The sign of each component relative to sklearn's. */
        double sign[16];
        for (size_t c = 0; c < k; c++) {
            double dot = 0;
            for (size_t j = 0; j < d; j++)
                dot += C[c * d + j] * fx->components[c * d + j];
            sign[c] = dot < 0 ? -1 : 1;
            for (size_t j = 0; j < d; j++)
                assert_true(fabs(C[c * d + j] - sign[c] * fx->components[c * d + j]) < 1e-9);
        }
        double *Y = malloc(n * k * sizeof *Y);
        assert_int_equal(cseg_pca_transform(p, fx->X, n, Y), 0);
        for (size_t i = 0; i < n * k; i++) {
            double want = sign[i % k] * fx->Y[i];
            if (!(fabs(Y[i] - want) <= 1e-9 * (fabs(want) > 1 ? fabs(want) : 1)))
                fail_msg("%s: Y[%zu] = %.17g, sklearn %.17g", fx->name, i, Y[i], want);
        }
        free(Y);
        cseg_pca_free(p);
        /* All d components: tiny and zero variances stay tiny, never NaN. */
        assert_int_equal(cseg_pca_fit(&p, fx->X, n, d, d), 0);
        var = cseg_pca_explained_variance(p);
        ratio = cseg_pca_explained_variance_ratio(p);
        for (size_t c = 0; c < d; c++) {
            assert_true(var[c] >= 0 && ratio[c] >= 0 && ratio[c] <= 1);
            if (fx->ratio[c] > 1e-6)
                assert_rel(var[c], fx->var[c], 1e-10);
            else
                assert_true(fabs(var[c] - fx->var[c]) <= 1e-13 * fx->var[0]);
        }
        cseg_pca_free(p);
    }
}

/* Explained variances against a naive two-pass covariance in long double:
 * their sum is the trace; projections have exactly those variances. */
static void check_naive(size_t n, size_t d)
{
    double *X = make_data(n, d, 3);
    long double mu[256] = {0}, tr = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++)
            mu[j] += X[i * d + j];
    for (size_t j = 0; j < d; j++)
        mu[j] /= (long double)n;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++)
            tr += (X[i * d + j] - mu[j]) * (X[i * d + j] - mu[j]);
    tr /= (long double)(n - 1);
    cseg_pca *p;
    assert_int_equal(cseg_pca_fit(&p, X, n, d, d), 0);
    const double *var = cseg_pca_explained_variance(p), *mean = cseg_pca_mean(p);
    double sum = 0, rsum = 0;
    for (size_t c = 0; c < d; c++) {
        sum += var[c];
        rsum += cseg_pca_explained_variance_ratio(p)[c];
        if (c)
            assert_true(var[c] <= var[c - 1]);
    }
    for (size_t j = 0; j < d; j++)
        assert_rel(mean[j], (double)mu[j], 1e-14);
    assert_rel(sum, (double)tr, 1e-12);
    assert_rel(rsum, 1.0, 1e-14);
    double *Y = malloc(n * d * sizeof *Y);
    assert_int_equal(cseg_pca_transform(p, X, n, Y), 0);
    for (size_t c = 0; c < d; c++) {
        long double s = 0, s2 = 0;
        for (size_t i = 0; i < n; i++)
            s += Y[i * d + c];
        for (size_t i = 0; i < n; i++)
            s2 += (Y[i * d + c] - s / n) * (Y[i * d + c] - s / n);
        assert_rel((double)(s2 / (n - 1)), var[c], 1e-9);
    }
    /* transform against the plain loop (same operations, same order). */
    const double *C = cseg_pca_components(p);
    for (size_t i = 0; i < n; i += 97)
        for (size_t c = 0; c < d; c++) {
            double s = 0;
            for (size_t a = 0; a < d; a++)
                s += (X[i * d + a] - mean[a]) * C[c * d + a];
            assert_true(s == Y[i * d + c]);
        }
    free(Y);
    free(X);
    cseg_pca_free(p);
}

/* d = 13: Jacobi; d = 130: LAPACK dsyevd. */
static void test_against_naive(void **state)
{
    (void)state;
    check_naive(5000, 13);
    check_naive(1500, 130);
}

static cseg_pca *fit_threads(const double *X, size_t n, size_t d, size_t k, int threads)
{
    cseg_pca_params pp;
    cseg_pca_params_init(&pp);
    pp.n_components = k;
    pp.n_threads = threads;
    cseg_pca *p;
    cseg_diag diag;
    assert_int_equal(cseg_pca_fit_params(&p, X, n, d, &pp, &diag), 0);
    return p;
}

/* Above the parallel threshold: the same bits for 1, 2 and 8 threads. */
static void test_threads_identical(void **state)
{
    (void)state;
    size_t n = 100003, d = 13, k = 5;
    double *X = make_data(n, d, 17);
    cseg_pca *p1 = fit_threads(X, n, d, k, 1);
    double *Y1 = malloc(n * k * sizeof *Y1), *Y = malloc(n * k * sizeof *Y);
    assert_int_equal(cseg_pca_transform(p1, X, n, Y1), 0);
    int threads[] = {2, 8};
    for (size_t t = 0; t < 2; t++) {
        cseg_pca *p = fit_threads(X, n, d, k, threads[t]);
        assert_memory_equal(cseg_pca_mean(p), cseg_pca_mean(p1), d * sizeof(double));
        assert_memory_equal(cseg_pca_components(p), cseg_pca_components(p1),
                            k * d * sizeof(double));
        assert_memory_equal(cseg_pca_explained_variance(p), cseg_pca_explained_variance(p1),
                            k * sizeof(double));
        assert_memory_equal(cseg_pca_explained_variance_ratio(p),
                            cseg_pca_explained_variance_ratio(p1), k * sizeof(double));
        memset(Y, 0, n * k * sizeof *Y);
        assert_int_equal(cseg_pca_transform(p, X, n, Y), 0);
        assert_memory_equal(Y, Y1, n * k * sizeof *Y);
        cseg_pca_free(p);
    }
    free(Y);
    free(Y1);
    free(X);
    cseg_pca_free(p1);
}

static void test_set_roundtrip(void **state)
{
    (void)state;
    size_t n = 700, d = 9, k = 4;
    double *X = make_data(n, d, 5);
    cseg_pca *p, *q;
    assert_int_equal(cseg_pca_fit(&p, X, n, d, k), 0);
    assert_int_equal(cseg_pca_set(&q, d, k, cseg_pca_mean(p), cseg_pca_components(p),
                                  cseg_pca_explained_variance(p),
                                  cseg_pca_explained_variance_ratio(p)),
                     0);
    assert_int_equal(cseg_pca_dim(q), d);
    assert_int_equal(cseg_pca_n_components(q), k);
    assert_memory_equal(cseg_pca_mean(q), cseg_pca_mean(p), d * sizeof(double));
    assert_memory_equal(cseg_pca_explained_variance_ratio(q),
                        cseg_pca_explained_variance_ratio(p), k * sizeof(double));
    double *Y1 = malloc(n * k * sizeof *Y1), *Y2 = malloc(n * k * sizeof *Y2);
    assert_int_equal(cseg_pca_transform(p, X, n, Y1), 0);
    assert_int_equal(cseg_pca_transform(q, X, n, Y2), 0);
    assert_memory_equal(Y1, Y2, n * k * sizeof *Y1);
    cseg_pca_free(q);
    /* Invalid saved models. */
    double mean[9], comp[36], var[4], ratio[4];
    memcpy(mean, cseg_pca_mean(p), sizeof mean);
    memcpy(comp, cseg_pca_components(p), sizeof comp);
    memcpy(var, cseg_pca_explained_variance(p), sizeof var);
    memcpy(ratio, cseg_pca_explained_variance_ratio(p), sizeof ratio);
    assert_int_equal(cseg_pca_set(&q, d, 0, mean, comp, var, ratio), CSEG_EINVAL);
    assert_int_equal(cseg_pca_set(&q, 3, k, mean, comp, var, ratio), CSEG_EINVAL);
    assert_int_equal(cseg_pca_set(&q, 0, k, mean, comp, var, ratio), CSEG_EINVAL);
    assert_int_equal(cseg_pca_set(&q, d, k, NULL, comp, var, ratio), CSEG_EINVAL);
    mean[3] = NAN;
    assert_int_equal(cseg_pca_set(&q, d, k, mean, comp, var, ratio), CSEG_EINVAL);
    assert_null(q);
    mean[3] = 0;
    comp[35] = INFINITY;
    assert_int_equal(cseg_pca_set(&q, d, k, mean, comp, var, ratio), CSEG_EINVAL);
    comp[35] = 0;
    var[1] = -1;
    assert_int_equal(cseg_pca_set(&q, d, k, mean, comp, var, ratio), CSEG_EINVAL);
    var[1] = 1;
    ratio[2] = 1.5;
    assert_int_equal(cseg_pca_set(&q, d, k, mean, comp, var, ratio), CSEG_EINVAL);
    free(Y1);
    free(Y2);
    free(X);
    cseg_pca_free(p);
    cseg_pca_free(NULL);
}

static void test_share_rule(void **state)
{
    (void)state;
    size_t n = 2000, d = 13;
    double *X = make_data(n, d, 23);
    cseg_pca *p;
    assert_int_equal(cseg_pca_fit_variance(&p, X, n, d, 1.0), 0);
    assert_int_equal(cseg_pca_n_components(p), d);
    cseg_pca_free(p);
    assert_int_equal(cseg_pca_fit_variance(&p, X, n, d, 1e-9), 0);
    assert_int_equal(cseg_pca_n_components(p), 1);
    cseg_pca_free(p);
    double shares[] = {0.3, 0.5, 0.9, 0.99};
    for (size_t s = 0; s < 4; s++) {
        assert_int_equal(cseg_pca_fit_variance(&p, X, n, d, shares[s]), 0);
        size_t k = cseg_pca_n_components(p);
        const double *r = cseg_pca_explained_variance_ratio(p);
        double cum = 0;
        for (size_t c = 0; c + 1 < k; c++)
            cum += r[c];
        assert_true(cum <= shares[s]);     /* one fewer is not enough */
        assert_true(cum + r[k - 1] > shares[s]);
        cseg_pca_free(p);
    }
    free(X);
}

/* Issue 16.2: fewer samples than features goes through the n x n Gram
 * matrix. Each component must be a unit eigenvector of the d x d sample
 * covariance with its explained variance as eigenvalue, the components
 * orthogonal, and the transform the projection of the centred rows. */
static void test_wide(void **state)
{
    (void)state;
    size_t n = 7, d = 3000, nc = 4;
    double *X = malloc(n * d * sizeof *X), *mu = calloc(d, sizeof *mu);
    srand(3);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++)
            X[i * d + j] = (double)rand() / RAND_MAX + (j % 5 == 0 ? (double)i : 0);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++)
            mu[j] += X[i * d + j] / (double)n;
    cseg_pca *p;
    assert_int_equal(cseg_pca_fit(&p, X, n, d, nc), 0);
    const double *C = cseg_pca_components(p), *w = cseg_pca_explained_variance(p);
    double *t = malloc(n * sizeof *t);
    for (size_t c = 0; c < nc; c++) {
        const double *v = C + c * d;
        /* cov v = (1 / (n - 1)) Xc^T (Xc v) */
        for (size_t i = 0; i < n; i++) {
            t[i] = 0;
            for (size_t j = 0; j < d; j++)
                t[i] += (X[i * d + j] - mu[j]) * v[j];
        }
        double err = 0, nv = 0;
        for (size_t j = 0; j < d; j++) {
            double cv = 0;
            for (size_t i = 0; i < n; i++)
                cv += (X[i * d + j] - mu[j]) * t[i];
            cv /= (double)(n - 1);
            err = fmax(err, fabs(cv - w[c] * v[j]));
            nv += v[j] * v[j];
        }
        assert_true(err <= 1e-9 * w[0]);
        assert_rel(nv, 1.0, 1e-12);
        for (size_t e = 0; e < c; e++) {
            double dot = 0;
            for (size_t j = 0; j < d; j++)
                dot += v[j] * C[e * d + j];
            assert_true(fabs(dot) <= 1e-10);
        }
        if (c)
            assert_true(w[c] <= w[c - 1]);
    }
    double *Y = malloc(n * nc * sizeof *Y);
    assert_int_equal(cseg_pca_transform(p, X, n, Y), 0);
    for (size_t i = 0; i < n; i++) {
        double y = 0;
        for (size_t j = 0; j < d; j++)
            y += (X[i * d + j] - mu[j]) * C[j];
        assert_true(fabs(Y[i * nc] - y) <= 1e-9 * (1 + fabs(y)));
    }
    cseg_pca_free(p);
    free(X);
    free(mu);
    free(t);
    free(Y);
}

static void test_edge_cases(void **state)
{
    (void)state;
    cseg_pca *p;
    cseg_diag diag;
    cseg_pca_params pp;
    /* n = 2: one direction carries all the variance. */
    double X2[] = {0, 5, 1, 2, 5, 1};
    assert_int_equal(cseg_pca_fit(&p, X2, 2, 3, 3), 0);
    assert_rel(cseg_pca_explained_variance(p)[0], 2.0, 1e-15);
    assert_true(cseg_pca_explained_variance(p)[1] < 1e-15);
    assert_rel(cseg_pca_explained_variance_ratio(p)[0], 1.0, 1e-15);
    assert_rel(cseg_pca_components(p)[0], 1.0, 1e-15);
    double Y[6];
    assert_int_equal(cseg_pca_transform(p, X2, 2, Y), 0);
    assert_rel(Y[0], -1.0, 1e-15);
    assert_rel(Y[3], 1.0, 1e-15);
    cseg_pca_free(p);
    /* d = 1: the sample variance, component +1. */
    double X1[] = {1, 2, 3, 4, 10};
    assert_int_equal(cseg_pca_fit_variance(&p, X1, 5, 1, 0.95), 0);
    assert_int_equal(cseg_pca_n_components(p), 1);
    assert_rel(cseg_pca_explained_variance(p)[0], 12.5, 1e-15);
    assert_true(cseg_pca_components(p)[0] == 1.0);
    cseg_pca_free(p);
    /* Duplicated rows and a constant column: ratio exactly 0, no NaN. */
    double Xc[] = {1, 7, 2, 1, 7, 2, 3, 7, 0, 3, 7, 0};
    assert_int_equal(cseg_pca_fit(&p, Xc, 4, 3, 3), 0);
    for (size_t c = 0; c < 3; c++)
        assert_false(isnan(cseg_pca_explained_variance_ratio(p)[c]));
    assert_true(cseg_pca_explained_variance(p)[1] == 0);
    assert_true(cseg_pca_explained_variance_ratio(p)[2] == 0);
    cseg_pca_free(p);
    /* All-constant data: a fixed count fits with zeros; a share cannot. */
    double X0[] = {5, 5, 5, 5, 5, 5};
    assert_int_equal(cseg_pca_fit_variance(&p, X0, 3, 2, 0.9), CSEG_EINVAL);
    assert_null(p);
    cseg_pca_params_init(&pp);
    cseg_diag_clear(&diag);
    assert_int_equal(cseg_pca_fit_params(&p, X0, 3, 2, &pp, &diag), CSEG_EINVAL);
    assert_non_null(strstr(diag.msg, "constant"));
    /* NaN and Inf: EINVAL, the diag names row and column (1-based). */
    size_t n = 50000, d = 3;
    double *Xn = make_data(n, d, 1);
    Xn[41000 * d + 2] = NAN;
    Xn[41001 * d + 0] = INFINITY;
    cseg_diag_clear(&diag);
    assert_int_equal(cseg_pca_fit_params(&p, Xn, n, d, &pp, &diag), CSEG_EINVAL);
    assert_int_equal(diag.line, 41001);
    assert_int_equal(diag.col, 3);
    assert_non_null(strstr(diag.msg, "row 41001, feature 3"));
    Xn[41000 * d + 2] = 0;
    cseg_diag_clear(&diag);
    assert_int_equal(cseg_pca_fit_params(&p, Xn, n, d, &pp, &diag), CSEG_EINVAL);
    assert_int_equal(diag.line, 41002);
    /* Overflowing sums of finite values. */
    Xn[41001 * d + 0] = 1e308;
    Xn[41002 * d + 0] = 1e308;
    cseg_diag_clear(&diag);
    assert_int_equal(cseg_pca_fit_params(&p, Xn, n, d, &pp, &diag), CSEG_EINVAL);
    assert_non_null(strstr(diag.msg, "too large"));
    free(Xn);
    /* Bad sizes and parameters. */
    assert_int_equal(cseg_pca_fit(&p, X1, 1, 1, 1), CSEG_EINVAL);
    assert_int_equal(cseg_pca_fit(&p, X1, 5, 0, 1), CSEG_EINVAL);
    assert_int_equal(cseg_pca_fit(&p, X1, 5, 1, 0), CSEG_EINVAL);
    assert_int_equal(cseg_pca_fit(&p, X1, 5, 1, 2), CSEG_EINVAL);
    assert_int_equal(cseg_pca_fit_variance(&p, X1, 5, 1, 0), CSEG_EINVAL);
    assert_int_equal(cseg_pca_fit_variance(&p, X1, 5, 1, 1.01), CSEG_EINVAL);
    assert_int_equal(cseg_pca_fit_variance(&p, X1, 5, 1, NAN), CSEG_EINVAL);
    cseg_pca_params_init(&pp);
    assert_null(cseg_pca_params_check(&pp));
    pp.n_threads = -1;
    assert_non_null(cseg_pca_params_check(&pp));
    pp.n_threads = 0;
    pp.variance_share = 0;
    assert_non_null(cseg_pca_params_check(&pp));
    pp.n_components = 1; /* the share is unused then */
    assert_null(cseg_pca_params_check(&pp));
    assert_int_equal(cseg_pca_transform(NULL, X1, 5, Y), CSEG_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_sklearn),  cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_pca2_sklearn),     cmocka_unit_test(test_against_naive),
        cmocka_unit_test(test_threads_identical), cmocka_unit_test(test_set_roundtrip),
        cmocka_unit_test(test_share_rule),       cmocka_unit_test(test_edge_cases),
        cmocka_unit_test(test_wide),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
