/* Tests for k-means: known answers, Lloyd = Hamerly, thread independence,
 * agreement with scikit-learn from the same initial centres, edge cases. */
#include <math.h>

#include "util.h"
#include "reference/fixtures_metrics.h"

static double *blobs(size_t n, size_t d, size_t k, unsigned seed, int32_t *truth)
{
    double *X = malloc(n * d * sizeof *X);
    srand(seed);
    for (size_t i = 0; i < n; i++) {
        size_t c = i % k;
        if (truth)
            truth[i] = (int32_t)c;
        for (size_t j = 0; j < d; j++) {
            double u1 = (rand() + 1.0) / (RAND_MAX + 2.0), u2 = (rand() + 1.0) / (RAND_MAX + 2.0);
            double g = sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2);
            X[i * d + j] = 3.0 * (double)((c * 7 + j * 3) % 5) + (0.5 + 0.3 * (double)c) * g;
        }
    }
    return X;
}

static cseg_kmeans *fit(const double *X, size_t n, size_t d, size_t k, cseg_kmeans_algo a,
                        int threads, uint64_t seed)
{
    cseg_kmeans_params p;
    cseg_kmeans_params_init(&p);
    p.k = k;
    p.algorithm = a;
    p.n_threads = threads;
    p.seed = seed;
    p.n_init = 3;
    cseg_kmeans *km;
    assert_int_equal(cseg_kmeans_create(&km, &p), 0);
    cseg_diag diag;
    assert_int_equal(cseg_kmeans_fit(km, X, n, d, NULL, &diag), 0);
    return km;
}

static void assert_same_model(const cseg_kmeans *a, const cseg_kmeans *b, size_t n)
{
    size_t k = cseg_kmeans_k(a), d = cseg_kmeans_dim(a);
    assert_int_equal(k, cseg_kmeans_k(b));
    assert_memory_equal(cseg_kmeans_centroids(a), cseg_kmeans_centroids(b), k * d * sizeof(double));
    assert_memory_equal(cseg_kmeans_labels(a), cseg_kmeans_labels(b), n * sizeof(int32_t));
    double ia = cseg_kmeans_inertia(a), ib = cseg_kmeans_inertia(b);
    assert_memory_equal(&ia, &ib, sizeof ia);
    assert_int_equal(cseg_kmeans_n_iter(a), cseg_kmeans_n_iter(b));
}

static void test_known_answer(void **state)
{
    (void)state;
    double X[] = {0, 0, 0, 1, 1, 0, 10, 10, 10, 11, 11, 10};
    cseg_kmeans *km = fit(X, 6, 2, 2, CSEG_KMEANS_HAMERLY, 1, 0);
    const int32_t *l = cseg_kmeans_labels(km);
    assert_true(l[0] == l[1] && l[1] == l[2] && l[3] == l[4] && l[4] == l[5] && l[0] != l[3]);
    const double *C = cseg_kmeans_centroids(km);
    size_t a = (size_t)l[0];
    assert_rel(C[a * 2], 1.0 / 3, 1e-15);
    assert_rel(cseg_kmeans_inertia(km), 4 * 2.0 / 3, 1e-15);
    assert_true(cseg_kmeans_converged(km));
    /* predict on new points */
    double Y[] = {0.2, 0.1, 9, 9};
    int32_t ly[2];
    double d2[2];
    assert_int_equal(cseg_kmeans_predict(km, Y, 2, ly, d2), 0);
    assert_int_equal(ly[0], l[0]);
    assert_int_equal(ly[1], l[3]);
    cseg_kmeans_free(km);
}

static void test_lloyd_equals_hamerly(void **state)
{
    (void)state;
    /* d = 8 has its own compiled loop; d = 11 transposes a full and a partial
     * block of 8 features per tile. */
    size_t n = 20000, dims[] = {6, 8, 11};
    for (size_t q = 0; q < 3; q++) {
        size_t d = dims[q];
        double *X = blobs(n, d, 8, 11, NULL);
        int32_t *pl = malloc(n * sizeof *pl);
        double *pd = malloc(n * sizeof *pd);
        for (size_t k = 2; k <= 12; k += 5) {
            cseg_kmeans *a = fit(X, n, d, k, CSEG_KMEANS_LLOYD, 1, 42);
            cseg_kmeans *b = fit(X, n, d, k, CSEG_KMEANS_HAMERLY, 1, 42);
            assert_same_model(a, b, n);
            if (k > 2)
                assert_true(cseg_kmeans_skipped_fraction(b) > 0.3);
            /* predict on the training data repeats the final assignment, and
             * its distances add up to the inertia */
            assert_int_equal(cseg_kmeans_predict(a, X, n, pl, pd), 0);
            assert_memory_equal(pl, cseg_kmeans_labels(a), n * sizeof *pl);
            double s = 0;
            for (size_t i = 0; i < n; i++)
                s += pd[i];
            assert_rel(s, cseg_kmeans_inertia(a), 1e-12);
            cseg_kmeans_free(a);
            cseg_kmeans_free(b);
        }
        free(pl);
        free(pd);
        free(X);
    }
}

static void test_threads_identical(void **state)
{
    (void)state;
    size_t n = 70000, d = 5; /* above the size where k-means goes parallel */
    double *X = blobs(n, d, 6, 5, NULL);
    cseg_kmeans *ref = fit(X, n, d, 6, CSEG_KMEANS_HAMERLY, 1, 9);
    int threads[] = {2, 8};
    for (int t = 0; t < 2; t++) {
        cseg_kmeans *km = fit(X, n, d, 6, CSEG_KMEANS_HAMERLY, threads[t], 9);
        assert_same_model(ref, km, n);
        cseg_kmeans_free(km);
    }
    /* Another seed gives a valid (maybe different) result; same seed repeats. */
    cseg_kmeans *again = fit(X, n, d, 6, CSEG_KMEANS_HAMERLY, 2, 9);
    assert_same_model(ref, again, n);
    cseg_kmeans_free(again);
    cseg_kmeans_free(ref);
    free(X);
    /* Plain Lloyd (the default) with d = 8, its own compiled loop. */
    d = 8;
    X = blobs(n, d, 6, 5, NULL);
    ref = fit(X, n, d, 6, CSEG_KMEANS_LLOYD, 1, 9);
    for (int t = 0; t < 2; t++) {
        cseg_kmeans *km = fit(X, n, d, 6, CSEG_KMEANS_LLOYD, threads[t], 9);
        assert_same_model(ref, km, n);
        cseg_kmeans_free(km);
    }
    cseg_kmeans_free(ref);
    free(X);
}

static int cmp_rows(const void *a, const void *b)
{
    const double *x = a, *y = b;
    for (int j = 0; j < 5; j++)
        if (x[j] != y[j])
            return x[j] < y[j] ? -1 : 1;
    return 0;
}

static void test_sklearn_same_init(void **state)
{
    (void)state;
    const size_t n = 200, d = 5, k = 5;
    for (int a = 0; a < 2; a++) {
        cseg_kmeans_params p;
        cseg_kmeans_params_init(&p);
        p.k = k;
        p.init = blobs5d_X; /* the first k rows, as the reference used */
        p.algorithm = a ? CSEG_KMEANS_HAMERLY : CSEG_KMEANS_LLOYD;
        cseg_kmeans *km;
        assert_int_equal(cseg_kmeans_create(&km, &p), 0);
        assert_int_equal(cseg_kmeans_fit(km, blobs5d_X, n, d, NULL, NULL), 0);
        double C[25];
        memcpy(C, cseg_kmeans_centroids(km), sizeof C);
        qsort(C, k, d * sizeof(double), cmp_rows);
        for (size_t i = 0; i < k * d; i++)
            assert_true(fabs(C[i] - blobs5d_lloyd_centres[i]) <= 1e-9 * fmax(1, fabs(C[i])));
        assert_rel(cseg_kmeans_inertia(km), blobs5d_lloyd_inertia, 1e-9);
        assert_int_equal(cseg_kmeans_n_iter(km), blobs5d_lloyd_n_iter);
        cseg_kmeans_free(km);
    }
}

static void test_edge_cases(void **state)
{
    (void)state;
    cseg_kmeans_params p;
    cseg_kmeans_params_init(&p);
    cseg_kmeans *km;
    cseg_diag d;
    double X[] = {1, 2, 3};
    /* n < k */
    p.k = 4;
    assert_int_equal(cseg_kmeans_create(&km, &p), 0);
    assert_int_equal(cseg_kmeans_fit(km, X, 3, 1, NULL, &d), CSEG_EINVAL);
    assert_string_equal(d.msg, "k = 4 is larger than the number of samples (3)");
    cseg_kmeans_free(km);
    /* NaN */
    double Xn[] = {1, NAN, 3, 4};
    p.k = 2;
    assert_int_equal(cseg_kmeans_create(&km, &p), 0);
    assert_int_equal(cseg_kmeans_fit(km, Xn, 4, 1, NULL, &d), CSEG_EINVAL);
    assert_string_equal(d.msg, "row 2, feature 1 is not a finite number");
    /* duplicates: fewer distinct points than k still gives k centres and valid labels */
    double Xd[] = {5, 5, 5, 5, 7, 7};
    p.k = 3;
    cseg_kmeans_free(km);
    assert_int_equal(cseg_kmeans_create(&km, &p), 0);
    assert_int_equal(cseg_kmeans_fit(km, Xd, 6, 1, NULL, &d), 0);
    for (int i = 0; i < 6; i++)
        assert_true(cseg_kmeans_labels(km)[i] >= 0 && cseg_kmeans_labels(km)[i] < 3);
    assert_true(cseg_kmeans_inertia(km) == 0);
    cseg_kmeans_free(km);
    /* constant feature, d = 1, k = 1 */
    double Xc[] = {2, 2, 2, 2};
    p.k = 1;
    assert_int_equal(cseg_kmeans_create(&km, &p), 0);
    assert_int_equal(cseg_kmeans_fit(km, Xc, 4, 1, NULL, &d), 0);
    assert_true(cseg_kmeans_centroids(km)[0] == 2);
    cseg_kmeans_free(km);
    /* bad params */
    p.k = 0;
    assert_int_equal(cseg_kmeans_create(&km, &p), CSEG_EINVAL);
    assert_non_null(cseg_kmeans_params_check(&p));
    cseg_kmeans_params_init(&p);
    p.tol = -1;
    assert_non_null(cseg_kmeans_params_check(&p));
    /* predict before fit */
    cseg_kmeans_params_init(&p);
    assert_int_equal(cseg_kmeans_create(&km, &p), 0);
    int32_t l;
    assert_int_equal(cseg_kmeans_predict(km, X, 1, &l, NULL), CSEG_ENOTFIT);
    cseg_kmeans_free(km);
    cseg_kmeans_free(NULL);
}

static void test_weights(void **state)
{
    (void)state;
    /* Weight 2 on a row equals listing it twice (same centres). */
    double X[] = {0, 1, 2, 10, 11, 12, 30};
    double X2[] = {0, 1, 2, 10, 11, 12, 30, 30};
    double w[] = {1, 1, 1, 1, 1, 1, 2};
    cseg_kmeans_params p;
    cseg_kmeans_params_init(&p);
    p.k = 2;
    double init[] = {0, 30};
    p.init = init;
    cseg_kmeans *a, *b;
    assert_int_equal(cseg_kmeans_create(&a, &p), 0);
    assert_int_equal(cseg_kmeans_create(&b, &p), 0);
    assert_int_equal(cseg_kmeans_fit(a, X, 7, 1, w, NULL), 0);
    assert_int_equal(cseg_kmeans_fit(b, X2, 8, 1, NULL, NULL), 0);
    for (int c = 0; c < 2; c++)
        assert_rel(cseg_kmeans_centroids(a)[c], cseg_kmeans_centroids(b)[c], 1e-15);
    assert_rel(cseg_kmeans_inertia(a), cseg_kmeans_inertia(b), 1e-12);
    double bad[] = {1, 1, 1, 1, 1, 1, -1};
    assert_int_equal(cseg_kmeans_fit(a, X, 7, 1, bad, NULL), CSEG_EINVAL);
    cseg_kmeans_free(a);
    cseg_kmeans_free(b);
}

/* Values whose squared distances overflow: every restart's inertia is
 * infinite, and the fit says so (its labels came from memory never written). */
static void test_overflow(void **state)
{
    (void)state;
    const double X[6] = {1e300, 2e300, 5e300, 9e300, 3e300, 7e300};
    cseg_kmeans_params p;
    cseg_kmeans_params_init(&p);
    p.k = 2;
    p.n_init = 3;
    cseg_kmeans *km;
    cseg_diag d;
    assert_int_equal(cseg_kmeans_create(&km, &p), 0);
    assert_int_equal(cseg_kmeans_fit(km, X, 6, 1, NULL, &d), CSEG_ERANGE);
    assert_non_null(strstr(d.msg, "beyond the range of numbers"));
    assert_false(cseg_kmeans_is_fitted(km));
    cseg_kmeans_free(km);
}

static void test_restarts_improve(void **state)
{
    (void)state;
    /* More restarts never give a higher inertia (the best is kept). */
    size_t n = 5000, d = 3;
    double *X = blobs(n, d, 10, 2, NULL);
    cseg_kmeans_params p;
    cseg_kmeans_params_init(&p);
    p.k = 10;
    p.n_init = 1;
    cseg_kmeans *one, *many;
    cseg_kmeans_create(&one, &p);
    p.n_init = 8;
    cseg_kmeans_create(&many, &p);
    assert_int_equal(cseg_kmeans_fit(one, X, n, d, NULL, NULL), 0);
    assert_int_equal(cseg_kmeans_fit(many, X, n, d, NULL, NULL), 0);
    assert_true(cseg_kmeans_inertia(many) <= cseg_kmeans_inertia(one));
    /* The reported inertia is that of the labels against the final centres, and the
     * labels' own means can only do as well or better. */
    int32_t *l = malloc(n * sizeof *l);
    double *d2 = malloc(n * sizeof *d2), sum = 0, v;
    assert_int_equal(cseg_kmeans_predict(many, X, n, l, d2), 0);
    assert_memory_equal(l, cseg_kmeans_labels(many), n * sizeof *l);
    for (size_t i = 0; i < n; i++)
        sum += d2[i];
    assert_rel(sum, cseg_kmeans_inertia(many), 1e-12);
    assert_int_equal(cseg_metrics_inertia(X, n, d, l, &v), 0);
    assert_true(v <= cseg_kmeans_inertia(many) * (1 + 1e-12));
    free(l);
    free(d2);
    cseg_kmeans_free(one);
    cseg_kmeans_free(many);
    free(X);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_answer),      cmocka_unit_test(test_lloyd_equals_hamerly),
        cmocka_unit_test(test_threads_identical), cmocka_unit_test(test_sklearn_same_init),
        cmocka_unit_test(test_edge_cases),        cmocka_unit_test(test_weights),
        cmocka_unit_test(test_restarts_improve), cmocka_unit_test(test_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
