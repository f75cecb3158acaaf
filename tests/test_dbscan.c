/* Tests for DBSCAN: identity with scikit-learn (labels and core samples,
 * border points included), a naive O(n^2) reference with scikit-learn's
 * labelling loop, predict and set_core, the eps helper, identical results
 * for 1, 2 and 8 threads, edge cases. */
#include <math.h>

#include "reference/fixtures_dbscan.h"
#include "util.h"
#include <custseg/dbscan.h>

static double gauss(void)
{
    double u1 = (rand() + 1.0) / (RAND_MAX + 2.0), u2 = (rand() + 1.0) / (RAND_MAX + 2.0);
    return sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2);
}

/* k blobs of unequal size and spread in [-10, 10]^d plus 1% uniform noise. */
static double *blobs_noise(size_t n, size_t d, size_t k, unsigned seed)
{
    double *X = malloc(n * d * sizeof *X), *C = malloc(k * d * sizeof *C);
    srand(seed);
    for (size_t c = 0; c < k * d; c++)
        C[c] = 20.0 * rand() / RAND_MAX - 10;
    for (size_t i = 0; i < n; i++) {
        size_t c = (i * i + 3 * i) % (k * (k + 1) / 2), b = 0;
        while (c > b) /* blob b gets b + 1 shares */
            c -= ++b;
        b = b < k ? b : k - 1;
        int noise = i % 100 == 17;
        for (size_t j = 0; j < d; j++)
            X[i * d + j] = noise ? 20.0 * rand() / RAND_MAX - 10
                                 : C[b * d + j] + (0.3 + 0.15 * (double)b) * gauss();
    }
    free(C);
    return X;
}

static cseg_dbscan *fit(const double *X, size_t n, size_t d, double eps, size_t ms, int threads)
{
    cseg_dbscan_params p;
    cseg_dbscan_params_init(&p);
    p.eps = eps;
    p.min_samples = ms;
    p.n_threads = threads;
    cseg_dbscan *db;
    assert_int_equal(cseg_dbscan_create(&db, &p), 0);
    cseg_diag diag;
    cseg_diag_clear(&diag);
    assert_int_equal(cseg_dbscan_fit(db, X, n, d, &diag), 0);
    return db;
}

/* scikit-learn's algorithm, literally: all neighbourhoods by brute force,
 * then _dbscan_inner's depth-first labelling in row order. */
static void naive_dbscan(const double *X, size_t n, size_t d, double eps, size_t ms, int32_t *lab,
                         uint8_t *core)
{
    double e2 = eps * eps;
    for (size_t i = 0; i < n; i++) {
        size_t c = 0;
        for (size_t j = 0; j < n; j++) {
            double s = 0;
            for (size_t q = 0; q < d; q++) {
                double t = X[i * d + q] - X[j * d + q];
                s += t * t;
            }
            c += s <= e2;
        }
        core[i] = c >= ms;
        lab[i] = -1;
    }
    size_t *stack = malloc(n * n * sizeof *stack + sizeof *stack), top = 0;
    int32_t next = 0;
    for (size_t i0 = 0; i0 < n; i0++) {
        if (lab[i0] != -1 || !core[i0])
            continue;
        size_t i = i0;
        for (;;) {
            if (lab[i] == -1) {
                lab[i] = next;
                if (core[i])
                    for (size_t j = 0; j < n; j++) {
                        double s = 0;
                        for (size_t q = 0; q < d; q++) {
                            double t = X[i * d + q] - X[j * d + q];
                            s += t * t;
                        }
                        if (s <= e2 && lab[j] == -1)
                            stack[top++] = j;
                    }
            }
            if (top == 0)
                break;
            i = stack[--top];
        }
        next++;
    }
    free(stack);
}

static void test_against_sklearn(void **state)
{
    (void)state;
    size_t total_amb = 0;
    for (size_t c = 0; c < DBSCAN_N_CASES; c++) {
        const dbscan_case *k = &dbscan_cases[c];
        cseg_dbscan *db = fit(k->X, k->n, k->d, k->eps, k->min_samples, 1);
        const int32_t *lab = cseg_dbscan_labels(db);
        const uint8_t *core = cseg_dbscan_is_core(db);
        for (size_t i = 0; i < k->n; i++) {
            if (core[i] != k->core[i])
                fail_msg("%s: row %zu core %d, sklearn %d", k->name, i, core[i], k->core[i]);
            if (lab[i] != k->labels[i])
                fail_msg("%s: row %zu label %d, sklearn %d", k->name, i, lab[i], k->labels[i]);
        }
        assert_int_equal(cseg_dbscan_n_clusters(db), k->n_clusters);
        assert_int_equal(cseg_dbscan_n_core(db), k->n_core);
        assert_int_equal(cseg_dbscan_n_samples(db), k->n);
        assert_int_equal(cseg_dbscan_dim(db), k->d);
        /* Core points are copies of the core rows in row order, with their labels. */
        const double *P = cseg_dbscan_core_points(db);
        const int32_t *pl = cseg_dbscan_core_labels(db);
        for (size_t i = 0, j = 0; i < k->n; i++)
            if (k->core[i]) {
                assert_memory_equal(P + j * k->d, k->X + i * k->d, k->d * sizeof(double));
                assert_int_equal(pl[j], k->labels[i]);
                j++;
            }
        total_amb += k->n_ambiguous;
        cseg_dbscan_free(db);
    }
    /* The cases do exercise the border rule (lowest cluster number wins). */
    assert_true(total_amb >= 50);
}

/* A border point within eps of two clusters gets the lower number, and the
 * numbers follow the first core row of each cluster. */
static void test_known_answer(void **state)
{
    (void)state;
    double X[] = {0.75, 1.2, 1.3, 1.4, 1.5, 0.0, 0.1, 0.2, 0.3, 3.0};
    int32_t want[] = {0, 0, 0, 0, 0, 1, 1, 1, 1, -1};
    uint8_t want_core[] = {0, 1, 1, 1, 1, 1, 1, 1, 1, 0};
    cseg_dbscan *db = fit(X, 10, 1, 0.5, 4, 1);
    assert_memory_equal(cseg_dbscan_labels(db), want, sizeof want);
    assert_memory_equal(cseg_dbscan_is_core(db), want_core, sizeof want_core);
    assert_int_equal(cseg_dbscan_n_clusters(db), 2);
    assert_int_equal(cseg_dbscan_n_core(db), 8);
    /* predict: nearest core decides (0.75 is 0.45 from 0.3 and from 1.2: the
     * tie goes to the first core point, row 1 = 1.2, cluster 0); far -> -1. */
    double Q[] = {0.75, 0.05, 1.45, 2.2, 1.3, -0.45};
    int32_t ql[6];
    double qd[6];
    assert_int_equal(cseg_dbscan_predict(db, Q, 6, ql, qd), 0);
    assert_int_equal(ql[1], 1);
    assert_int_equal(ql[2], 0);
    assert_int_equal(ql[3], -1);
    assert_true(isinf(qd[3]));
    assert_int_equal(ql[4], 0);
    assert_true(qd[4] == 0);
    assert_int_equal(ql[5], 1);
    assert_rel(qd[5], 0.45, 1e-15);
    assert_int_equal(ql[0], 0);
    cseg_dbscan_free(db);
}

static void test_naive_reference(void **state)
{
    (void)state;
    size_t n = 2500;
    struct {
        size_t d, k;
        double eps;
        size_t ms;
    } cfg[] = {{2, 5, 0.25, 5}, {3, 6, 0.6, 10}, {5, 4, 1.2, 8},
               {8, 4, 2.0, 6},  {3, 3, 40, 5},   {3, 6, 1e-9, 1}};
    for (size_t c = 0; c < sizeof cfg / sizeof cfg[0]; c++) {
        size_t d = cfg[c].d;
        double *X = blobs_noise(n, d, cfg[c].k, 100 + (unsigned)c);
        int32_t *lab = malloc(n * sizeof *lab);
        uint8_t *core = malloc(n);
        naive_dbscan(X, n, d, cfg[c].eps, cfg[c].ms, lab, core);
        cseg_dbscan *db = fit(X, n, d, cfg[c].eps, cfg[c].ms, 2);
        assert_memory_equal(cseg_dbscan_is_core(db), core, n);
        assert_memory_equal(cseg_dbscan_labels(db), lab, n * sizeof *lab);
        cseg_dbscan_free(db);
        free(lab);
        free(core);
        free(X);
    }
}

static void assert_same_fit(const cseg_dbscan *a, const cseg_dbscan *b, size_t n, size_t d)
{
    assert_int_equal(cseg_dbscan_n_clusters(a), cseg_dbscan_n_clusters(b));
    assert_int_equal(cseg_dbscan_n_core(a), cseg_dbscan_n_core(b));
    assert_memory_equal(cseg_dbscan_labels(a), cseg_dbscan_labels(b), n * sizeof(int32_t));
    assert_memory_equal(cseg_dbscan_is_core(a), cseg_dbscan_is_core(b), n);
    size_t nc = cseg_dbscan_n_core(a);
    assert_memory_equal(cseg_dbscan_core_points(a), cseg_dbscan_core_points(b),
                        nc * d * sizeof(double));
    assert_memory_equal(cseg_dbscan_core_labels(a), cseg_dbscan_core_labels(b),
                        nc * sizeof(int32_t));
}

static void test_threads_identical(void **state)
{
    (void)state;
    size_t n = 60000, d = 3; /* above the size where every stage goes parallel */
    double *X = blobs_noise(n, d, 7, 5);
    cseg_dbscan *ref = fit(X, n, d, 0.3, 10, 1);
    assert_true(cseg_dbscan_n_clusters(ref) >= 5);
    size_t noise = 0;
    for (size_t i = 0; i < n; i++)
        noise += cseg_dbscan_labels(ref)[i] < 0;
    assert_true(noise >= n / 200 && noise < n / 10);
    int32_t *l1 = malloc(n * sizeof *l1), *l2 = malloc(n * sizeof *l2);
    double *d1 = malloc(n * sizeof *d1), *d2 = malloc(n * sizeof *d2);
    double *Q = blobs_noise(n, d, 7, 6);
    assert_int_equal(cseg_dbscan_predict(ref, Q, n, l1, d1), 0);
    double e1, e2, *k1 = malloc(n * sizeof *k1), *k2 = malloc(n * sizeof *k2);
    assert_int_equal(cseg_dbscan_suggest_eps(X, n, d, 10, 1, &e1, k1), 0);
    int threads[] = {2, 8};
    for (int t = 0; t < 2; t++) {
        cseg_dbscan *db = fit(X, n, d, 0.3, 10, threads[t]);
        assert_same_fit(ref, db, n, d);
        assert_int_equal(cseg_dbscan_predict(db, Q, n, l2, d2), 0);
        assert_memory_equal(l1, l2, n * sizeof *l1);
        assert_memory_equal(d1, d2, n * sizeof *d1);
        assert_int_equal(cseg_dbscan_suggest_eps(X, n, d, 10, threads[t], &e2, k2), 0);
        assert_memory_equal(&e1, &e2, sizeof e1);
        assert_memory_equal(k1, k2, n * sizeof *k1);
        cseg_dbscan_free(db);
    }
    /* Training core points predict to their own cluster at distance 0. */
    size_t nc = cseg_dbscan_n_core(ref);
    assert_int_equal(cseg_dbscan_predict(ref, cseg_dbscan_core_points(ref), nc, l1, d1), 0);
    for (size_t i = 0; i < nc; i++) {
        assert_int_equal(l1[i], cseg_dbscan_core_labels(ref)[i]);
        assert_true(d1[i] == 0);
    }
    free(k1);
    free(k2);
    free(Q);
    free(l1);
    free(l2);
    free(d1);
    free(d2);
    cseg_dbscan_free(ref);
    free(X);
}

static void test_predict_reference(void **state)
{
    (void)state;
    const dbscan_case *k = &dbscan_cases[dbscan_pred_case];
    cseg_dbscan *db = fit(k->X, k->n, k->d, k->eps, k->min_samples, 1);
    int32_t lab[dbscan_pred_n];
    double dist[dbscan_pred_n];
    assert_int_equal(cseg_dbscan_predict(db, dbscan_pred_Q, dbscan_pred_n, lab, NULL), 0);
    assert_memory_equal(lab, dbscan_pred_lab, sizeof lab);
    assert_int_equal(cseg_dbscan_predict(db, dbscan_pred_Q, dbscan_pred_n, lab, dist), 0);
    size_t assigned = 0;
    for (size_t i = 0; i < dbscan_pred_n; i++) {
        assert_int_equal(lab[i], dbscan_pred_lab[i]);
        if (lab[i] < 0) {
            assert_true(isinf(dist[i]));
        } else {
            assert_true(dist[i] <= k->eps);
            assert_rel(dist[i], dbscan_pred_dist[i], 1e-15);
            assigned++;
        }
    }
    assert_true(assigned > 50 && assigned < dbscan_pred_n - 50);
    /* A row with a NaN belongs nowhere. */
    double nanrow[3] = {0, NAN, 0};
    assert_int_equal(cseg_dbscan_predict(db, nanrow, 1, lab, dist), 0);
    assert_int_equal(lab[0], -1);
    assert_true(isnan(dist[0]));

    /* set_core from the saved core points gives the same predictions. */
    cseg_dbscan_params p;
    cseg_dbscan_params_init(&p);
    p.eps = k->eps;
    cseg_dbscan *m;
    assert_int_equal(cseg_dbscan_create(&m, &p), 0);
    int32_t l2[dbscan_pred_n];
    assert_int_equal(cseg_dbscan_predict(m, dbscan_pred_Q, dbscan_pred_n, l2, NULL), CSEG_ENOTFIT);
    assert_false(cseg_dbscan_is_fitted(m));
    size_t nc = cseg_dbscan_n_core(db), kk = cseg_dbscan_n_clusters(db);
    const double *P = cseg_dbscan_core_points(db);
    const int32_t *PL = cseg_dbscan_core_labels(db);
    assert_int_equal(cseg_dbscan_set_core(m, P, PL, nc, k->d, kk), 0);
    assert_true(cseg_dbscan_is_fitted(m));
    assert_null(cseg_dbscan_labels(m));
    assert_null(cseg_dbscan_is_core(m));
    assert_int_equal(cseg_dbscan_n_core(m), nc);
    assert_int_equal(cseg_dbscan_n_clusters(m), kk);
    assert_memory_equal(cseg_dbscan_core_points(m), P, nc * k->d * sizeof(double));
    double d2[dbscan_pred_n];
    assert_int_equal(cseg_dbscan_predict(m, dbscan_pred_Q, dbscan_pred_n, l2, d2), 0);
    assert_memory_equal(l2, dbscan_pred_lab, sizeof l2);
    assert_int_equal(cseg_dbscan_predict(db, dbscan_pred_Q, dbscan_pred_n, lab, dist), 0);
    assert_memory_equal(d2, dist, sizeof d2);
    /* Bad installs leave the model as it was. */
    int32_t *bad = malloc(nc * sizeof *bad);
    memcpy(bad, PL, nc * sizeof *bad);
    bad[3] = (int32_t)kk;
    assert_int_equal(cseg_dbscan_set_core(m, P, bad, nc, k->d, kk), CSEG_EINVAL);
    bad[3] = -1;
    assert_int_equal(cseg_dbscan_set_core(m, P, bad, nc, k->d, kk), CSEG_EINVAL);
    assert_int_equal(cseg_dbscan_set_core(m, P, PL, nc, k->d, kk + 1), CSEG_EINVAL); /* empty */
    assert_int_equal(cseg_dbscan_set_core(m, P, PL, nc, 0, kk), CSEG_EINVAL);
    double *Pn = malloc(nc * k->d * sizeof *Pn);
    memcpy(Pn, P, nc * k->d * sizeof *Pn);
    Pn[5] = INFINITY;
    assert_int_equal(cseg_dbscan_set_core(m, Pn, PL, nc, k->d, kk), CSEG_EINVAL);
    assert_int_equal(cseg_dbscan_n_core(m), nc);
    assert_int_equal(cseg_dbscan_predict(m, dbscan_pred_Q, dbscan_pred_n, l2, NULL), 0);
    assert_memory_equal(l2, dbscan_pred_lab, sizeof l2);
    /* An empty model: everything is noise. */
    assert_int_equal(cseg_dbscan_set_core(m, NULL, NULL, 0, 3, 0), 0);
    assert_int_equal(cseg_dbscan_predict(m, dbscan_pred_Q, 4, l2, d2), 0);
    for (int i = 0; i < 4; i++)
        assert_true(l2[i] == -1 && isinf(d2[i]));
    free(Pn);
    free(bad);
    cseg_dbscan_free(m);
    cseg_dbscan_free(db);
}

static void test_suggest_eps(void **state)
{
    (void)state;
    const dbscan_case *k = &dbscan_cases[dbscan_pred_case];
    double eps, *kd = malloc(k->n * sizeof *kd);
    assert_int_equal(
        cseg_dbscan_suggest_eps(k->X, k->n, k->d, dbscan_kdist_min_samples, 1, &eps, kd), 0);
    for (size_t i = 0; i < k->n; i++)
        assert_rel(kd[i], dbscan_kdist[i], 1e-15);
    assert_rel(eps, dbscan_suggest_eps, 1e-15);
    double eps2;
    assert_int_equal(
        cseg_dbscan_suggest_eps(k->X, k->n, k->d, dbscan_kdist_min_samples, 2, &eps2, NULL), 0);
    assert_memory_equal(&eps, &eps2, sizeof eps);
    free(kd);

    /* Sanity on well-separated blobs: the suggested eps finds them, with
     * little noise. */
    size_t n = 20000, d = 3;
    double *X = malloc(n * d * sizeof *X);
    srand(21);
    for (size_t i = 0; i < n; i++) {
        size_t b = i % 21 < 1    ? 0
                   : i % 21 < 3  ? 1
                   : i % 21 < 6  ? 2
                   : i % 21 < 10 ? 3
                   : i % 21 < 15 ? 4
                                 : 5;
        double sd = 0.3 + 0.1 * (double)b,
               c[3] = {8.0 * (double)b, 4.0 * (double)(b % 2), -3.0 * (double)b};
        for (size_t j = 0; j < d; j++)
            X[i * d + j] = i % 100 == 7 ? 60.0 * rand() / RAND_MAX - 20 : c[j] + sd * gauss();
    }
    assert_int_equal(cseg_dbscan_suggest_eps(X, n, d, 10, 0, &eps, NULL), 0);
    assert_true(eps > 0.05 && eps < 2);
    cseg_dbscan *db = fit(X, n, d, eps, 10, 0);
    size_t kk = cseg_dbscan_n_clusters(db), noise = 0;
    for (size_t i = 0; i < n; i++)
        noise += cseg_dbscan_labels(db)[i] < 0;
    print_message("suggested eps %g: %zu clusters, %zu noise\n", eps, kk, noise);
    assert_int_equal(kk, 6);
    assert_true(noise >= n / 200 && noise <= n / 10);
    cseg_dbscan_free(db);

    /* The sampled curve: with every row it is the full curve, bit for bit; with
     * a tenth of the rows as queries its knee is close to the full one, the
     * same for any thread count, and the eps still finds the six blobs. */
    double es, es2, *ks = malloc(n * sizeof *ks), *kf = malloc(n * sizeof *kf);
    assert_int_equal(cseg_dbscan_suggest_eps(X, n, d, 10, 1, &eps, kf), 0);
    assert_int_equal(cseg_dbscan_suggest_eps_sampled(X, n, d, 10, n, 2, &es, ks), 0);
    assert_memory_equal(&eps, &es, sizeof eps);
    assert_memory_equal(kf, ks, n * sizeof *ks);
    assert_int_equal(cseg_dbscan_suggest_eps_sampled(X, n, d, 10, n / 10, 1, &es, ks), 0);
    assert_int_equal(cseg_dbscan_suggest_eps_sampled(X, n, d, 10, n / 10, 8, &es2, NULL), 0);
    assert_memory_equal(&es, &es2, sizeof es);
    print_message("eps: full %g, sampled (n/10 queries) %g\n", eps, es);
    assert_true(fabs(es - eps) <= 0.15 * eps);
    for (size_t i = 1; i < n / 10; i++)
        assert_true(ks[i - 1] <= ks[i]);
    db = fit(X, n, d, es, 10, 0);
    assert_int_equal(cseg_dbscan_n_clusters(db), 6);
    cseg_dbscan_free(db);
    free(ks);
    free(kf);
    free(X);

    /* min_samples 1: every k-distance is 0, no eps can be derived. */
    double Y[] = {1, 2, 3, 4, 5, 6};
    double yk[3];
    assert_int_equal(cseg_dbscan_suggest_eps(Y, 3, 2, 1, 1, &eps, yk), CSEG_ERANGE);
    assert_true(yk[0] == 0 && yk[2] == 0);
    /* Duplicates: the knee is at 0, the smallest positive value is used. */
    double Z[] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 3};
    assert_int_equal(cseg_dbscan_suggest_eps(Z, 10, 1, 2, 1, &eps, NULL), 0);
    assert_true(eps == 1);
    assert_int_equal(cseg_dbscan_suggest_eps(Y, 3, 2, 4, 1, &eps, NULL), CSEG_EINVAL);
    assert_int_equal(cseg_dbscan_suggest_eps(Y, 1, 2, 1, 1, &eps, NULL), CSEG_EINVAL);
    assert_int_equal(cseg_dbscan_suggest_eps(Y, 3, 2, 0, 1, &eps, NULL), CSEG_EINVAL);
    Y[3] = NAN;
    assert_int_equal(cseg_dbscan_suggest_eps(Y, 3, 2, 2, 1, &eps, NULL), CSEG_EINVAL);
}

static void test_edge_cases(void **state)
{
    (void)state;
    /* n = 1 */
    double one[] = {4, 2};
    cseg_dbscan *db = fit(one, 1, 2, 0.5, 1, 1);
    assert_int_equal(cseg_dbscan_labels(db)[0], 0);
    assert_int_equal(cseg_dbscan_n_clusters(db), 1);
    cseg_dbscan_free(db);
    db = fit(one, 1, 2, 0.5, 5, 1);
    assert_int_equal(cseg_dbscan_labels(db)[0], -1);
    assert_int_equal(cseg_dbscan_n_clusters(db), 0);
    assert_int_equal(cseg_dbscan_n_core(db), 0);
    assert_null(cseg_dbscan_core_points(db));
    int32_t l;
    double dd;
    assert_int_equal(cseg_dbscan_predict(db, one, 1, &l, &dd), 0);
    assert_true(l == -1 && isinf(dd));
    cseg_dbscan_free(db);

    /* All rows identical (a constant feature too): one cluster of cores, or
     * all noise when there are fewer rows than min_samples. */
    size_t n = 5000;
    double *X = malloc(n * 3 * sizeof *X);
    for (size_t i = 0; i < n * 3; i++)
        X[i] = i % 3 == 1 ? 7.5 : -1.25;
    db = fit(X, n, 3, 1e-6, 10, 2);
    assert_int_equal(cseg_dbscan_n_clusters(db), 1);
    assert_int_equal(cseg_dbscan_n_core(db), n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(cseg_dbscan_labels(db)[i], 0);
    cseg_dbscan_free(db);
    db = fit(X, 4, 3, 1, 5, 1);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(cseg_dbscan_labels(db)[i], -1);
    cseg_dbscan_free(db);
    /* More equal rows than a leaf holds, but fewer than min_samples. */
    db = fit(X, 40, 3, 1, 41, 1);
    assert_int_equal(cseg_dbscan_n_core(db), 0);
    cseg_dbscan_free(db);
    db = fit(X, 40, 3, 1, 40, 1);
    assert_int_equal(cseg_dbscan_n_core(db), 40);
    cseg_dbscan_free(db);
    /* Two groups of equal rows (leaves that stop early) plus a lone row. */
    double G[41 * 2];
    for (size_t i = 0; i < 41; i++) {
        G[2 * i] = i < 20 ? 0.0 : i < 40 ? 1.0 : 0.5;
        G[2 * i + 1] = 2.0;
    }
    db = fit(G, 41, 2, 0.5, 22, 1); /* only the lone row (41 neighbours) is core */
    assert_int_equal(cseg_dbscan_n_core(db), 1);
    assert_true(cseg_dbscan_is_core(db)[40]);
    assert_int_equal(cseg_dbscan_n_clusters(db), 1);
    for (size_t i = 0; i < 41; i++)
        assert_int_equal(cseg_dbscan_labels(db)[i], 0);
    cseg_dbscan_free(db);
    db = fit(G, 41, 2, 0.5, 21, 1); /* the lone row links both groups */
    assert_int_equal(cseg_dbscan_n_core(db), 41);
    assert_int_equal(cseg_dbscan_n_clusters(db), 1);
    cseg_dbscan_free(db);
    db = fit(G, 41, 2, 0.4, 20, 1); /* two clusters, the lone row is noise */
    assert_int_equal(cseg_dbscan_n_clusters(db), 2);
    assert_int_equal(cseg_dbscan_labels(db)[0], 0);
    assert_int_equal(cseg_dbscan_labels(db)[20], 1);
    assert_int_equal(cseg_dbscan_labels(db)[40], -1);
    cseg_dbscan_free(db);
    free(X);

    /* eps tiny: all noise; eps huge: one cluster, all core; d = 1. */
    n = 3000;
    X = blobs_noise(n, 1, 3, 9);
    db = fit(X, n, 1, 1e-12, 2, 1);
    assert_int_equal(cseg_dbscan_n_clusters(db), 0);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(cseg_dbscan_labels(db)[i], -1);
    cseg_dbscan_free(db);
    db = fit(X, n, 1, 1e6, 5, 1);
    assert_int_equal(cseg_dbscan_n_clusters(db), 1);
    assert_int_equal(cseg_dbscan_n_core(db), n);
    cseg_dbscan_free(db);
    free(X);

    /* min_samples larger than n: no core points at all. */
    X = blobs_noise(100, 2, 2, 3);
    db = fit(X, 100, 2, 1, 101, 1);
    assert_int_equal(cseg_dbscan_n_core(db), 0);
    cseg_dbscan_free(db);

    /* NaN / Inf: EINVAL naming the row and feature; the model keeps its fit. */
    db = fit(X, 100, 2, 1, 3, 1);
    size_t k0 = cseg_dbscan_n_clusters(db);
    X[2 * 41 + 1] = NAN;
    cseg_diag diag;
    cseg_diag_clear(&diag);
    assert_int_equal(cseg_dbscan_fit(db, X, 100, 2, &diag), CSEG_EINVAL);
    assert_non_null(strstr(diag.msg, "row 42, feature 2"));
    X[2 * 41 + 1] = -INFINITY;
    assert_int_equal(cseg_dbscan_fit(db, X, 100, 2, NULL), CSEG_EINVAL);
    assert_int_equal(cseg_dbscan_n_clusters(db), k0);
    assert_int_equal(cseg_dbscan_n_samples(db), 100);
    assert_int_equal(cseg_dbscan_fit(db, X, 0, 2, &diag), CSEG_EINVAL);
    assert_int_equal(cseg_dbscan_fit(db, X, 10, 0, &diag), CSEG_EINVAL);
    cseg_dbscan_free(db);
    free(X);
}

static void test_params(void **state)
{
    (void)state;
    cseg_dbscan_params p;
    cseg_dbscan_params_init(&p);
    assert_true(p.eps == 0.5);
    assert_int_equal(p.min_samples, 5);
    assert_int_equal(p.n_threads, 0);
    assert_null(cseg_dbscan_params_check(&p));
    cseg_dbscan *db;
    assert_int_equal(cseg_dbscan_create(&db, NULL), 0);
    assert_true(cseg_dbscan_eps(db) == 0.5);
    assert_int_equal(cseg_dbscan_min_samples(db), 5);
    assert_int_equal(cseg_dbscan_n_clusters(db), 0);
    assert_null(cseg_dbscan_labels(db));
    cseg_dbscan_free(db);
    cseg_dbscan_free(NULL);
    double bad_eps[] = {0, -1, NAN, INFINITY, 1e200};
    for (int i = 0; i < 5; i++) {
        cseg_dbscan_params_init(&p);
        p.eps = bad_eps[i];
        assert_non_null(cseg_dbscan_params_check(&p));
        assert_int_equal(cseg_dbscan_create(&db, &p), CSEG_EINVAL);
        assert_null(db);
    }
    cseg_dbscan_params_init(&p);
    p.min_samples = 0;
    assert_non_null(strstr(cseg_dbscan_params_check(&p), "min_samples"));
    cseg_dbscan_params_init(&p);
    p.n_threads = -1;
    assert_non_null(strstr(cseg_dbscan_params_check(&p), "n_threads"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_sklearn),   cmocka_unit_test(test_known_answer),
        cmocka_unit_test(test_naive_reference),   cmocka_unit_test(test_threads_identical),
        cmocka_unit_test(test_predict_reference), cmocka_unit_test(test_suggest_eps),
        cmocka_unit_test(test_edge_cases),        cmocka_unit_test(test_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
