/* Tests for Gaussian mixtures: agreement with scikit-learn step by step from
 * the same start (tests/reference/fixtures_gmm.h), invariants, thread
 * independence, restarts, installed models, edge cases and bad input.
 *
 * Tolerances: lower bounds, log densities, BIC and AIC 1e-9 relative;
 * weights, means, covariances and probabilities 1e-6 (absolute, relative
 * above 1), the brief's targets. The two sides differ only in summation order
 * and in the formula for diagonal variances (scikit-learn expands
 * E[x^2] - 2 E[x] mu + mu^2), so the agreement found is ~1e-12. */
#include <math.h>

#include "reference/fixtures_gmm.h"
#include "util.h"
#include <custseg/gmm.h> /* until custseg.h includes it */

#define assert_close(a, b, tol)                                                                    \
    do {                                                                                           \
        double _x = (a), _y = (b), _s = fabs(_y) > 1 ? fabs(_y) : 1;                               \
        if (!(fabs(_x - _y) <= (tol)*_s))                                                          \
            fail_msg("%s = %.17g, expected %.17g (diff %.3g)", #a, _x, _y, fabs(_x - _y));         \
    } while (0)

static double *blobs(size_t n, size_t d, size_t k, unsigned seed)
{
    double *X = malloc(n * d * sizeof *X);
    srand(seed);
    for (size_t i = 0; i < n; i++) {
        size_t c = (i * 7) % (k * (k + 1) / 2), a = 0; /* unequal sizes: 1, 2, ..., k */
        while (c >= a + 1) {
            c -= a + 1;
            a++;
        }
        for (size_t j = 0; j < d; j++) {
            double u1 = (rand() + 1.0) / (RAND_MAX + 2.0), u2 = (rand() + 1.0) / (RAND_MAX + 2.0);
            double g = sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2);
            X[i * d + j] = 2.0 * (double)((a * 7 + j * 3) % 5) + (0.5 + 0.3 * (double)a) * g;
        }
    }
    return X;
}

static cseg_gmm *make(size_t k, cseg_gmm_cov cov, size_t max_iter, double tol, int threads)
{
    cseg_gmm_params p;
    cseg_gmm_params_init(&p);
    p.k = k;
    p.cov = cov;
    p.max_iter = max_iter;
    p.tol = tol;
    p.n_threads = threads;
    cseg_gmm *g;
    assert_int_equal(cseg_gmm_create(&g, &p), 0);
    return g;
}

typedef struct ref_case {
    const char *name;
    cseg_gmm_cov cov;
    const double *X;
    size_t n, d, k;
    const double *init_w, *init_mu, *init_prec, *bounds, *w, *mu, *cov_v, *proba, *logp;
    const int32_t *labels, *predict;
    double bic, aic, tol_bound;
    size_t tol_n_iter;
    int tol_converged;
} ref_case;

#define REF_CASE(nm, type, x, n, d, k)                                                             \
    {                                                                                              \
#nm, type, x, n, d, k, gmm_##nm##_init_w, gmm_##nm##_init_mu, gmm_##nm##_init_prec,        \
            gmm_##nm##_bounds, gmm_##nm##_w, gmm_##nm##_mu, gmm_##nm##_cov, gmm_##nm##_proba,      \
            gmm_##nm##_logp, gmm_##nm##_labels, gmm_##nm##_predict, gmm_##nm##_bic,                \
            gmm_##nm##_aic, gmm_##nm##_tol_bound, gmm_##nm##_tol_n_iter, gmm_##nm##_tol_converged  \
    }

static double X1[GMM_N];

static void check_case(const ref_case *rc, int threads)
{
    size_t n = rc->n, d = rc->d, k = rc->k;
    cseg_gmm_params p;
    cseg_gmm_params_init(&p);
    p.k = k;
    p.cov = rc->cov;
    p.max_iter = GMM_STEPS;
    p.tol = 0;
    p.n_threads = threads;
    p.init_weights = rc->init_w;
    p.init_means = rc->init_mu;
    p.init_precisions = rc->init_prec;
    cseg_gmm *g;
    cseg_diag diag;
    assert_int_equal(cseg_gmm_create(&g, &p), 0);
    assert_int_equal(cseg_gmm_fit(g, rc->X, n, d, &diag), 0);
    assert_int_equal(cseg_gmm_n_iter(g), GMM_STEPS);
    assert_false(cseg_gmm_converged(g));
    size_t nb;
    const double *b = cseg_gmm_lower_bounds(g, &nb);
    assert_int_equal(nb, GMM_STEPS);
    for (size_t t = 0; t < GMM_STEPS; t++) {
        assert_rel(b[t], rc->bounds[t], 1e-9);
        if (t) /* EM never lowers the bound (up to rounding) */
            assert_true(b[t] >= b[t - 1] - 1e-12 * fabs(b[t - 1]));
    }
    assert_rel(cseg_gmm_lower_bound(g), rc->bounds[GMM_STEPS - 1], 1e-9);
    for (size_t c = 0; c < k; c++)
        assert_close(cseg_gmm_weights(g)[c], rc->w[c], 1e-6);
    for (size_t i = 0; i < k * d; i++)
        assert_close(cseg_gmm_means(g)[i], rc->mu[i], 1e-6);
    size_t cs = cseg_gmm_cov_size(rc->cov, k, d);
    for (size_t i = 0; i < cs; i++)
        assert_close(cseg_gmm_covariances(g)[i], rc->cov_v[i], 1e-6);
    const int32_t *lab = cseg_gmm_labels(g);
    assert_non_null(lab);
    double *proba = malloc(n * k * sizeof *proba), *logp = malloc(n * sizeof *logp);
    int32_t *pl = malloc(n * sizeof *pl);
    assert_int_equal(cseg_gmm_predict(g, rc->X, n, pl, proba), 0);
    assert_int_equal(cseg_gmm_score_samples(g, rc->X, n, logp), 0);
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (size_t c = 0; c < k; c++) {
            assert_close(proba[i * k + c], rc->proba[i * k + c], 1e-6);
            assert_true(proba[i * k + c] >= 0 && proba[i * k + c] <= 1);
            s += proba[i * k + c];
        }
        assert_true(fabs(s - 1) < 1e-12);
        assert_rel(logp[i], rc->logp[i], 1e-9);
        assert_int_equal(pl[i], rc->predict[i]);
        assert_int_equal(lab[i], rc->labels[i]);
    }
    double bic, aic;
    assert_int_equal(cseg_gmm_bic(g, rc->X, n, &bic), 0);
    assert_int_equal(cseg_gmm_aic(g, rc->X, n, &aic), 0);
    assert_rel(bic, rc->bic, 1e-9);
    assert_rel(aic, rc->aic, 1e-9);
    /* bic - aic = n_parameters (ln n - 2) */
    assert_rel((rc->bic - rc->aic) / (log((double)n) - 2), (double)cseg_gmm_n_parameters(g), 1e-9);
    cseg_gmm_free(g);

    /* Default tol: the same stopping iteration and bound as scikit-learn. */
    p.max_iter = 100;
    p.tol = 1e-3;
    assert_int_equal(cseg_gmm_create(&g, &p), 0);
    assert_int_equal(cseg_gmm_fit(g, rc->X, n, d, &diag), 0);
    assert_int_equal(cseg_gmm_n_iter(g), rc->tol_n_iter);
    assert_int_equal(cseg_gmm_converged(g), rc->tol_converged);
    assert_rel(cseg_gmm_lower_bound(g), rc->tol_bound, 1e-9);
    cseg_gmm_free(g);
    free(proba);
    free(logp);
    free(pl);
}

static void test_against_sklearn(void **state)
{
    (void)state;
    for (size_t i = 0; i < GMM_N; i++)
        X1[i] = gmm_X[i * GMM_D];
    const ref_case cases[] = {
        REF_CASE(full, CSEG_GMM_FULL, gmm_X, GMM_N, GMM_D, GMM_K),
        REF_CASE(tied, CSEG_GMM_TIED, gmm_X, GMM_N, GMM_D, GMM_K),
        REF_CASE(diag, CSEG_GMM_DIAG, gmm_X, GMM_N, GMM_D, GMM_K),
        REF_CASE(spherical, CSEG_GMM_SPHERICAL, gmm_X, GMM_N, GMM_D, GMM_K),
        REF_CASE(d1, CSEG_GMM_FULL, X1, GMM_N, 1, 2),
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        check_case(&cases[c], 1);
        check_case(&cases[c], 2);
    }
}

/* An installed model predicts as scikit-learn's fitted one. */
static void test_set(void **state)
{
    (void)state;
    cseg_gmm *g = make(1, CSEG_GMM_FULL, 100, 1e-3, 1);
    assert_false(cseg_gmm_is_fitted(g));
    int32_t lab[GMM_N];
    assert_int_equal(cseg_gmm_predict(g, gmm_X, GMM_N, lab, NULL), CSEG_ENOTFIT);
    assert_int_equal(
        cseg_gmm_set(g, GMM_K, GMM_D, CSEG_GMM_FULL, gmm_full_w, gmm_full_mu, gmm_full_cov), 0);
    assert_true(cseg_gmm_is_fitted(g));
    assert_int_equal(cseg_gmm_k(g), GMM_K);
    assert_int_equal(cseg_gmm_dim(g), GMM_D);
    assert_null(cseg_gmm_labels(g));
    assert_int_equal(cseg_gmm_n_parameters(g), 3 * 6 + 9 + 2);
    double *proba = malloc(GMM_N * GMM_K * sizeof *proba);
    assert_int_equal(cseg_gmm_predict(g, gmm_X, GMM_N, lab, proba), 0);
    for (size_t i = 0; i < GMM_N * GMM_K; i++)
        assert_close(proba[i], gmm_full_proba[i], 1e-9);
    for (size_t i = 0; i < GMM_N; i++)
        assert_int_equal(lab[i], gmm_full_predict[i]);
    double bic;
    assert_int_equal(cseg_gmm_bic(g, gmm_X, GMM_N, &bic), 0);
    assert_rel(bic, gmm_full_bic, 1e-9);
    /* NaN rows are refused. */
    double bad_row[GMM_D] = {1, NAN, 2};
    assert_int_equal(cseg_gmm_predict(g, bad_row, 1, lab, NULL), CSEG_EINVAL);

    /* Validation: weights must sum to 1, covariances symmetric positive definite. */
    double w2[] = {0.5, 0.4, 0.1 + 1e-8};
    assert_int_equal(cseg_gmm_set(g, 3, 3, CSEG_GMM_FULL, w2, gmm_full_mu, gmm_full_cov),
                     CSEG_EINVAL);
    double w0[] = {1.0, 0.0, 0.0};
    assert_int_equal(cseg_gmm_set(g, 3, 3, CSEG_GMM_FULL, w0, gmm_full_mu, gmm_full_cov),
                     CSEG_EINVAL);
    double C[27];
    memcpy(C, gmm_full_cov, sizeof C);
    C[1] += 0.01; /* asymmetric */
    assert_int_equal(cseg_gmm_set(g, 3, 3, CSEG_GMM_FULL, gmm_full_w, gmm_full_mu, C), CSEG_EINVAL);
    memcpy(C, gmm_full_cov, sizeof C);
    C[9 + 4] = -1; /* component 2 not positive definite */
    assert_int_equal(cseg_gmm_set(g, 3, 3, CSEG_GMM_FULL, gmm_full_w, gmm_full_mu, C), CSEG_ERANGE);
    double sph[] = {1, 0, 2};
    assert_int_equal(cseg_gmm_set(g, 3, 3, CSEG_GMM_SPHERICAL, gmm_full_w, gmm_full_mu, sph),
                     CSEG_ERANGE);
    /* Failed calls left the model as it was. */
    assert_int_equal(cseg_gmm_cov_type(g), CSEG_GMM_FULL);
    assert_int_equal(cseg_gmm_predict(g, gmm_X, GMM_N, lab, NULL), 0);
    for (size_t i = 0; i < GMM_N; i++)
        assert_int_equal(lab[i], gmm_full_predict[i]);
    /* Other layouts install too. */
    assert_int_equal(
        cseg_gmm_set(g, GMM_K, GMM_D, CSEG_GMM_DIAG, gmm_diag_w, gmm_diag_mu, gmm_diag_cov), 0);
    assert_int_equal(cseg_gmm_predict(g, gmm_X, GMM_N, lab, proba), 0);
    for (size_t i = 0; i < GMM_N * GMM_K; i++)
        assert_close(proba[i], gmm_diag_proba[i], 1e-9);
    assert_int_equal(cseg_gmm_n_parameters(g), 9 + 9 + 2);
    free(proba);
    cseg_gmm_free(g);
}

static void assert_same_fit(const cseg_gmm *a, const cseg_gmm *b, size_t n)
{
    size_t k = cseg_gmm_k(a), d = cseg_gmm_dim(a), na, nb;
    assert_int_equal(k, cseg_gmm_k(b));
    assert_int_equal(cseg_gmm_n_iter(a), cseg_gmm_n_iter(b));
    assert_memory_equal(cseg_gmm_weights(a), cseg_gmm_weights(b), k * sizeof(double));
    assert_memory_equal(cseg_gmm_means(a), cseg_gmm_means(b), k * d * sizeof(double));
    assert_memory_equal(cseg_gmm_covariances(a), cseg_gmm_covariances(b),
                        cseg_gmm_cov_size(cseg_gmm_cov_type(a), k, d) * sizeof(double));
    const double *ba = cseg_gmm_lower_bounds(a, &na), *bb = cseg_gmm_lower_bounds(b, &nb);
    assert_int_equal(na, nb);
    assert_memory_equal(ba, bb, na * sizeof(double));
    assert_memory_equal(cseg_gmm_labels(a), cseg_gmm_labels(b), n * sizeof(int32_t));
}

static void test_threads_identical(void **state)
{
    (void)state;
    size_t n = 30011, d = 4, k = 5; /* several blocks, a ragged last tile */
    double *X = blobs(n, d, k, 3);
    cseg_gmm_cov types[] = {CSEG_GMM_FULL, CSEG_GMM_TIED, CSEG_GMM_DIAG, CSEG_GMM_SPHERICAL};
    for (size_t t = 0; t < 4; t++) {
        cseg_gmm *ref = make(k, types[t], 30, 0, 1), *g;
        cseg_diag diag;
        assert_int_equal(cseg_gmm_fit(ref, X, n, d, &diag), 0);
        assert_int_equal(cseg_gmm_n_iter(ref), 30);
        int threads[] = {2, 8};
        for (int q = 0; q < 2; q++) {
            g = make(k, types[t], 30, 0, threads[q]);
            assert_int_equal(cseg_gmm_fit(g, X, n, d, &diag), 0);
            assert_same_fit(ref, g, n);
            /* predict and score_samples too */
            double *pa = malloc(n * k * sizeof *pa), *pb = malloc(n * k * sizeof *pb);
            assert_int_equal(cseg_gmm_predict(ref, X, n, NULL, pa), 0);
            assert_int_equal(cseg_gmm_predict(g, X, n, NULL, pb), 0);
            assert_memory_equal(pa, pb, n * k * sizeof *pa);
            assert_int_equal(cseg_gmm_score_samples(ref, X, n, pa), 0);
            assert_int_equal(cseg_gmm_score_samples(g, X, n, pb), 0);
            assert_memory_equal(pa, pb, n * sizeof *pa);
            free(pa);
            free(pb);
            cseg_gmm_free(g);
        }
        cseg_gmm_free(ref);
    }
    /* d = 8 takes its own compiled path. */
    free(X);
    n = 9000;
    d = 8;
    X = blobs(n, d, 4, 5);
    cseg_gmm *a = make(4, CSEG_GMM_FULL, 10, 0, 1), *b = make(4, CSEG_GMM_FULL, 10, 0, 8);
    assert_int_equal(cseg_gmm_fit(a, X, n, d, NULL), 0);
    assert_int_equal(cseg_gmm_fit(b, X, n, d, NULL), 0);
    assert_same_fit(a, b, n);
    cseg_gmm_free(a);
    cseg_gmm_free(b);
    free(X);
}

/* Well-separated clusters from the k-means start: known answer. */
static void test_known_answer(void **state)
{
    (void)state;
    size_t n = 600, d = 2;
    double *X = malloc(n * d * sizeof *X);
    const double cx[3] = {0, 20, -20}, cy[3] = {0, 10, 15};
    srand(11);
    for (size_t i = 0; i < n; i++) {
        size_t c = i < 300 ? 0 : i < 500 ? 1 : 2; /* sizes 300, 200, 100 */
        for (size_t j = 0; j < d; j++) {
            double u1 = (rand() + 1.0) / (RAND_MAX + 2.0), u2 = (rand() + 1.0) / (RAND_MAX + 2.0);
            double z = sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2);
            X[i * d + j] = (j ? cy[c] : cx[c]) + z;
        }
    }
    cseg_gmm_cov types[] = {CSEG_GMM_FULL, CSEG_GMM_TIED, CSEG_GMM_DIAG, CSEG_GMM_SPHERICAL};
    for (size_t t = 0; t < 4; t++) {
        cseg_gmm *g = make(3, types[t], 100, 1e-3, 0);
        cseg_diag diag;
        assert_int_equal(cseg_gmm_fit(g, X, n, d, &diag), 0);
        assert_true(cseg_gmm_converged(g));
        const double *w = cseg_gmm_weights(g), *mu = cseg_gmm_means(g);
        const int32_t *lab = cseg_gmm_labels(g);
        for (size_t c = 0; c < 3; c++) {
            /* the component holding cluster c's first sample */
            size_t first = c == 0 ? 0 : c == 1 ? 300 : 500, a = (size_t)lab[first];
            double want = c == 0 ? 0.5 : c == 1 ? 1.0 / 3 : 1.0 / 6;
            assert_true(fabs(w[a] - want) < 1e-6);
            assert_true(fabs(mu[a * d] - cx[c]) < 0.3 && fabs(mu[a * d + 1] - cy[c]) < 0.3);
            for (size_t i = first; i < first + (c == 0 ? 300 : c == 1 ? 200 : 100); i++)
                assert_int_equal(lab[i], lab[first]);
        }
        /* Unit-variance clusters: variances near 1. */
        const double *cv = cseg_gmm_covariances(g);
        assert_true(cv[0] > 0.7 && cv[0] < 1.3);
        cseg_gmm_free(g);
    }
    /* Restarts keep the best bound; restart 0 is the single run's start. */
    cseg_gmm_params p;
    cseg_gmm_params_init(&p);
    p.k = 5;
    p.seed = 4;
    cseg_gmm *one, *many;
    assert_int_equal(cseg_gmm_create(&one, &p), 0);
    p.n_init = 4;
    assert_int_equal(cseg_gmm_create(&many, &p), 0);
    assert_int_equal(cseg_gmm_fit(one, X, n, d, NULL), 0);
    assert_int_equal(cseg_gmm_fit(many, X, n, d, NULL), 0);
    assert_true(cseg_gmm_lower_bound(many) >= cseg_gmm_lower_bound(one));
    /* The same seed repeats exactly. */
    cseg_gmm *again;
    assert_int_equal(cseg_gmm_create(&again, &p), 0);
    assert_int_equal(cseg_gmm_fit(again, X, n, d, NULL), 0);
    assert_same_fit(many, again, n);
    cseg_gmm_free(one);
    cseg_gmm_free(many);
    cseg_gmm_free(again);
    free(X);
}

static void test_edge_cases(void **state)
{
    (void)state;
    cseg_diag diag;
    cseg_gmm *g = make(3, CSEG_GMM_FULL, 100, 1e-3, 1);
    double X2[] = {1, 2, 3, 4};
    /* k > n */
    assert_int_equal(cseg_gmm_fit(g, X2, 2, 2, &diag), CSEG_EINVAL);
    assert_non_null(strstr(diag.msg, "samples"));
    assert_false(cseg_gmm_is_fitted(g));
    assert_int_equal(cseg_gmm_fit(g, X2, 2, 0, &diag), CSEG_EINVAL);
    cseg_gmm_free(g);

    /* Clusters on a line, 1e10 long, 1e-6 thick (reg_covar): their
     * covariances are not positive definite in doubles from the start, and
     * the message says so (it read "at the start0"). */
    g = make(2, CSEG_GMM_FULL, 100, 1e-3, 1);
    double Xl[] = {0, 0, 1e10, 1e10, 2e10, 2e10, 1e13, 0, 1e13 + 1e10, 1e10, 1e13 + 2e10, 2e10};
    assert_int_equal(cseg_gmm_fit(g, Xl, 6, 2, &diag), CSEG_ERANGE);
    assert_non_null(strstr(diag.msg, "is not positive definite at the start (a singleton"));
    assert_non_null(strstr(diag.msg, "--covariance diag or spherical"));
    cseg_gmm_free(g);

    /* NaN / Inf: the diag names row and feature (1-based). */
    g = make(1, CSEG_GMM_FULL, 100, 1e-3, 1);
    double Xn[] = {1, 2, 3, NAN, 5, 6};
    assert_int_equal(cseg_gmm_fit(g, Xn, 3, 2, &diag), CSEG_EINVAL);
    assert_non_null(strstr(diag.msg, "row 2, feature 2"));
    double Xi[] = {1, 2, INFINITY, 4};
    assert_int_equal(cseg_gmm_fit(g, Xi, 2, 2, &diag), CSEG_EINVAL);
    assert_non_null(strstr(diag.msg, "row 2, feature 1"));

    /* n = 1, k = 1: the sample is the mean, the covariance is the floor. */
    double x1[] = {3, -1};
    assert_int_equal(cseg_gmm_fit(g, x1, 1, 2, &diag), 0);
    /* (as scikit-learn, the mass is 1 + 10 eps) */
    assert_close(cseg_gmm_means(g)[0], 3, 1e-14);
    assert_close(cseg_gmm_means(g)[1], -1, 1e-14);
    assert_true(fabs(cseg_gmm_covariances(g)[0] - 1e-6) < 1e-15);
    assert_true(fabs(cseg_gmm_covariances(g)[1]) < 1e-15);
    assert_true(cseg_gmm_weights(g)[0] == 1);
    double lp;
    assert_int_equal(cseg_gmm_score_samples(g, x1, 1, &lp), 0);
    assert_true(isfinite(lp));

    /* k = 1, d = 1 has the closed form: sample mean and (biased) variance. */
    double y[] = {1, 2, 4, 7, 11};
    assert_int_equal(cseg_gmm_fit(g, y, 5, 1, &diag), 0);
    assert_close(cseg_gmm_means(g)[0], 5.0, 1e-12);
    assert_close(cseg_gmm_covariances(g)[0], 13.2 + 1e-6, 1e-12);
    assert_true(cseg_gmm_converged(g));
    double bic;
    assert_int_equal(cseg_gmm_bic(g, y, 5, &bic), 0);
    double ll = -2.5 * (log(2 * M_PI * (13.2 + 1e-6)) + 13.2 / (13.2 + 1e-6));
    assert_rel(bic, -2 * ll + 2 * log(5.0), 1e-12);
    cseg_gmm_free(g);

    /* Duplicates: all rows equal, k = 2. The floor keeps it finite. */
    double dup[20];
    for (int i = 0; i < 20; i++)
        dup[i] = i % 2 ? 7 : -3;
    cseg_gmm_cov types[] = {CSEG_GMM_FULL, CSEG_GMM_TIED, CSEG_GMM_DIAG, CSEG_GMM_SPHERICAL};
    for (size_t t = 0; t < 4; t++) {
        g = make(2, types[t], 100, 1e-3, 1);
        assert_int_equal(cseg_gmm_fit(g, dup, 10, 2, &diag), 0);
        double pr[20];
        int32_t lab[10];
        assert_int_equal(cseg_gmm_predict(g, dup, 10, lab, pr), 0);
        for (size_t i = 0; i < 10; i++) {
            assert_true(fabs(pr[2 * i] + pr[2 * i + 1] - 1) < 1e-12);
            assert_int_equal(lab[i], lab[0]);
        }
        assert_true(isfinite(cseg_gmm_lower_bound(g)));
        cseg_gmm_free(g);
    }
    /* ... and with no floor the covariance is singular: CSEG_ERANGE. */
    cseg_gmm_params p;
    cseg_gmm_params_init(&p);
    p.k = 2;
    p.reg_covar = 0;
    assert_int_equal(cseg_gmm_create(&g, &p), 0);
    assert_int_equal(cseg_gmm_fit(g, dup, 10, 2, &diag), CSEG_ERANGE);
    assert_non_null(strstr(diag.msg, "reg_covar"));
    assert_false(cseg_gmm_is_fitted(g));
    cseg_gmm_free(g);

    /* A constant feature gets the floor as its variance, and no NaN. */
    size_t n = 200;
    double *Xc = blobs(n, 3, 2, 9);
    for (size_t i = 0; i < n; i++)
        Xc[i * 3 + 1] = 42;
    for (size_t t = 0; t < 4; t++) {
        g = make(2, types[t], 100, 1e-3, 1);
        assert_int_equal(cseg_gmm_fit(g, Xc, n, 3, &diag), 0);
        const double *cv = cseg_gmm_covariances(g);
        if (types[t] == CSEG_GMM_FULL || types[t] == CSEG_GMM_TIED)
            assert_true(fabs(cv[4] - 1e-6) < 1e-12);
        else if (types[t] == CSEG_GMM_DIAG)
            assert_true(fabs(cv[1] - 1e-6) < 1e-12);
        assert_true(isfinite(cseg_gmm_lower_bound(g)));
        assert_true(fabs(cseg_gmm_means(g)[1] - 42) < 1e-9);
        cseg_gmm_free(g);
    }
    free(Xc);
}

static void test_bad_params(void **state)
{
    (void)state;
    cseg_gmm_params p;
    cseg_gmm *g = NULL;
    cseg_gmm_params_init(&p);
    assert_int_equal(p.k, 1);
    assert_int_equal(p.cov, CSEG_GMM_FULL);
    assert_int_equal(p.n_init, 1);
    assert_int_equal(p.max_iter, 100);
    assert_true(p.tol == 1e-3 && p.reg_covar == 1e-6);
    assert_null(cseg_gmm_params_check(&p));
    cseg_gmm_params q;
    q = p;
    q.k = 0;
    assert_non_null(cseg_gmm_params_check(&q));
    assert_int_equal(cseg_gmm_create(&g, &q), CSEG_EINVAL);
    assert_null(g);
    q = p;
    q.n_init = 0;
    assert_non_null(cseg_gmm_params_check(&q));
    q = p;
    q.max_iter = 0;
    assert_non_null(cseg_gmm_params_check(&q));
    q = p;
    q.tol = -1;
    assert_non_null(cseg_gmm_params_check(&q));
    q = p;
    q.tol = NAN;
    assert_non_null(cseg_gmm_params_check(&q));
    q = p;
    q.reg_covar = -1e-6;
    assert_non_null(cseg_gmm_params_check(&q));
    q = p;
    q.cov = (cseg_gmm_cov)7;
    assert_non_null(cseg_gmm_params_check(&q));
    q = p;
    q.n_threads = -2;
    assert_non_null(cseg_gmm_params_check(&q));
    cseg_gmm_free(NULL);
    assert_int_equal(cseg_gmm_create(&g, NULL), 0);
    assert_int_equal(cseg_gmm_k(g), 1);
    cseg_gmm_free(g);

    /* Bad starting points. */
    cseg_diag diag;
    q = p;
    q.k = 3;
    double w[] = {0.5, 0.3, 0.1};
    q.init_weights = w;
    assert_int_equal(cseg_gmm_create(&g, &q), 0);
    assert_int_equal(cseg_gmm_fit(g, gmm_X, GMM_N, GMM_D, &diag), CSEG_EINVAL);
    assert_non_null(strstr(diag.msg, "sum"));
    cseg_gmm_free(g);
    q.init_weights = gmm_full_init_w;
    double prec[27];
    memcpy(prec, gmm_full_init_prec, sizeof prec);
    prec[9] = prec[10] = prec[11] = 0; /* component 2: singular */
    prec[12] = prec[15] = 0;
    q.init_precisions = prec;
    assert_int_equal(cseg_gmm_create(&g, &q), 0);
    assert_int_equal(cseg_gmm_fit(g, gmm_X, GMM_N, GMM_D, &diag), CSEG_EINVAL);
    assert_non_null(strstr(diag.msg, "precision 2"));
    cseg_gmm_free(g);
    double mu[9];
    memcpy(mu, gmm_full_init_mu, sizeof mu);
    mu[4] = NAN;
    q.init_precisions = NULL;
    q.init_means = mu;
    assert_int_equal(cseg_gmm_create(&g, &q), 0);
    assert_int_equal(cseg_gmm_fit(g, gmm_X, GMM_N, GMM_D, &diag), CSEG_EINVAL);
    cseg_gmm_free(g);
    /* A partial start (means only) works: the rest comes from k-means. */
    q.init_weights = NULL;
    q.init_means = gmm_full_init_mu;
    assert_int_equal(cseg_gmm_create(&g, &q), 0);
    assert_int_equal(cseg_gmm_fit(g, gmm_X, GMM_N, GMM_D, &diag), 0);
    assert_true(isfinite(cseg_gmm_lower_bound(g)));
    cseg_gmm_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_sklearn),   cmocka_unit_test(test_set),
        cmocka_unit_test(test_threads_identical), cmocka_unit_test(test_known_answer),
        cmocka_unit_test(test_edge_cases),        cmocka_unit_test(test_bad_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
