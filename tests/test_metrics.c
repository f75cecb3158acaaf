/* Tests for the validity indices, against scikit-learn (tests/reference). */
#include <math.h>

#include <sys/resource.h>

#include "util.h"
#include "reference/fixtures_metrics.h"
#include "../src/core/internal.h"    /* internals: the static library exports them */

static void test_against_sklearn(void **state)
{
    (void)state;
    for (size_t f = 0; f < N_FIXTURES_METRICS; f++) {
        const fixture_metrics *F = &FIXTURES_METRICS[f];
        double v, *per = malloc(F->n * sizeof *per);
        print_message("%s: n=%zu d=%zu\n", F->name, F->n, F->d);
        assert_int_equal(cseg_metrics_silhouette(F->X, F->n, F->d, F->labels, NULL, &v, per), 0);
        assert_rel(v, F->silhouette, 1e-9);
        size_t t = 0;
        for (size_t i = 0; i < F->n; i++) {
            if (F->labels[i] < 0) {
                assert_true(isnan(per[i]));
                continue;
            }
            assert_true(per[i] >= -1 && per[i] <= 1);
            assert_true(fabs(per[i] - F->sil_samples[t]) <= 1e-9 * fmax(1, fabs(F->sil_samples[t])));
            t++;
        }
        assert_int_equal(t, F->n_sil);
        assert_int_equal(cseg_metrics_davies_bouldin(F->X, F->n, F->d, F->labels, &v), 0);
        assert_rel(v, F->davies_bouldin, 1e-9);
        assert_int_equal(cseg_metrics_calinski_harabasz(F->X, F->n, F->d, F->labels, &v), 0);
        assert_rel(v, F->calinski_harabasz, 1e-9);
        assert_int_equal(cseg_metrics_inertia(F->X, F->n, F->d, F->labels, &v), 0);
        assert_rel(v, F->inertia, 1e-9);
        free(per);
    }
}

static void test_threads_identical(void **state)
{
    (void)state;
    /* Larger random data so every thread gets work; bitwise equal results. */
    size_t n = 3000, d = 4;
    double *X = malloc(n * d * sizeof *X);
    int32_t *lab = malloc(n * sizeof *lab);
    srand(3);
    for (size_t i = 0; i < n; i++) {
        lab[i] = (int32_t)(i % 7);
        for (size_t j = 0; j < d; j++)
            X[i * d + j] = lab[i] + (double)rand() / RAND_MAX;
    }
    double ref = 0;
    int threads[] = {1, 2, 8};
    for (int t = 0; t < 3; t++) {
        cseg_silhouette_params p;
        cseg_silhouette_params_init(&p);
        p.n_threads = threads[t];
        double v;
        assert_int_equal(cseg_metrics_silhouette(X, n, d, lab, &p, &v, NULL), 0);
        if (t == 0)
            ref = v;
        assert_memory_equal(&v, &ref, sizeof v);
    }
    /* A sample as large as the data is the exact value. */
    cseg_silhouette_params p;
    cseg_silhouette_params_init(&p);
    p.sample_size = n;
    double v;
    assert_int_equal(cseg_metrics_silhouette(X, n, d, lab, &p, &v, NULL), 0);
    assert_memory_equal(&v, &ref, sizeof v);
    /* A real sample is an estimate close to it, and reproducible. */
    p.sample_size = 1000;
    p.seed = 5;
    double s1, s2;
    assert_int_equal(cseg_metrics_silhouette(X, n, d, lab, &p, &s1, NULL), 0);
    assert_int_equal(cseg_metrics_silhouette(X, n, d, lab, &p, &s2, NULL), 0);
    assert_true(s1 == s2);
    assert_true(fabs(s1 - ref) < 0.05);
    free(X);
    free(lab);
}

static int cmp_sz(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

/* The silhouette's sample kept as a map of swaps draws what a partial
 * Fisher-Yates shuffle of an array of all m positions draws (the draw it
 * replaced), for samples from one position to all but one, and a sampled
 * silhouette is the exact silhouette of the sampled rows (what the MPI
 * version computes from gathered rows). */
static void test_sample_draws(void **state)
{
    (void)state;
    const size_t ms[] = {2, 3, 17, 1000, 65537};
    for (size_t a = 0; a < sizeof ms / sizeof ms[0]; a++) {
        size_t m = ms[a];
        size_t *arr = malloc(m * sizeof *arr), *got = malloc(m * sizeof *got);
        const size_t ss[] = {1, m / 2 ? m / 2 : 1, m - 1};
        for (size_t b = 0; b < 3; b++)
            for (uint64_t seed = 0; seed < 3; seed++) {
                size_t smp = ss[b];
                cseg_rng rng;
                cseg__rng_seed(&rng, seed);
                for (size_t i = 0; i < m; i++)
                    arr[i] = i;
                for (size_t t = 0; t < smp; t++) {
                    size_t r = t + cseg__rng_below(&rng, m - t), tmp = arr[t];
                    arr[t] = arr[r];
                    arr[r] = tmp;
                }
                qsort(arr, smp, sizeof *arr, cmp_sz);
                assert_int_equal(cseg__sample_sorted(m, smp, seed, got), 0);
                assert_memory_equal(got, arr, smp * sizeof *arr);
            }
        free(arr);
        free(got);
    }
    /* 2,000 rows with noise; a 500 sample against the silhouette of those rows. */
    size_t n = 2000, d = 3, smp = 500;
    double *X = malloc(n * d * sizeof *X), *Xs = malloc(smp * d * sizeof *Xs);
    int32_t *lab = malloc(n * sizeof *lab), *ls = malloc(smp * sizeof *ls);
    size_t *idx = malloc(n * sizeof *idx), *at = malloc(smp * sizeof *at), m = 0;
    srand(11);
    for (size_t i = 0; i < n; i++) {
        lab[i] = i % 13 == 0 ? -1 : (int32_t)(i % 4);
        for (size_t j = 0; j < d; j++)
            X[i * d + j] = 2.0 * (lab[i] < 0 ? 0 : lab[i]) + (double)rand() / RAND_MAX;
        if (lab[i] >= 0)
            idx[m++] = i;
    }
    assert_int_equal(cseg__sample_sorted(m, smp, 9, at), 0);
    for (size_t t = 0; t < smp; t++) {
        memcpy(Xs + t * d, X + idx[at[t]] * d, d * sizeof *Xs);
        ls[t] = lab[idx[at[t]]];
    }
    cseg_silhouette_params p;
    cseg_silhouette_params_init(&p);
    double v_all, v_rows;
    assert_int_equal(cseg_metrics_silhouette(Xs, smp, d, ls, &p, &v_rows, NULL), 0);
    p.sample_size = smp;
    p.seed = 9;
    assert_int_equal(cseg_metrics_silhouette(X, n, d, lab, &p, &v_all, NULL), 0);
    assert_memory_equal(&v_all, &v_rows, sizeof v_all);
    free(X);
    free(Xs);
    free(lab);
    free(ls);
    free(idx);
    free(at);
}

/* Naive O(n^2) silhouette per sample, for comparison. */
static void naive_silhouette(const double *X, size_t n, size_t d, const int32_t *lab, int32_t k,
                             double *out)
{
    double *S = malloc((size_t)k * sizeof *S), *cnt = malloc((size_t)k * sizeof *cnt);
    for (int32_t a = 0; a < k; a++)
        cnt[a] = 0;
    for (size_t i = 0; i < n; i++)
        if (lab[i] >= 0)
            cnt[lab[i]]++;
    for (size_t i = 0; i < n; i++) {
        if (lab[i] < 0)
            continue;
        for (int32_t a = 0; a < k; a++)
            S[a] = 0;
        for (size_t j = 0; j < n; j++) {
            if (lab[j] < 0)
                continue;
            double s = 0;
            for (size_t f = 0; f < d; f++)
                s += (X[i * d + f] - X[j * d + f]) * (X[i * d + f] - X[j * d + f]);
            S[lab[j]] += sqrt(s);
        }
        double ai = cnt[lab[i]] > 1 ? S[lab[i]] / (cnt[lab[i]] - 1) : 0, bi = HUGE_VAL;
        for (int32_t a = 0; a < k; a++)
            if (a != lab[i] && cnt[a] > 0 && S[a] / cnt[a] < bi)
                bi = S[a] / cnt[a];
        out[i] = cnt[lab[i]] > 1 ? (bi - ai) / fmax(ai, bi) : 0;
    }
    free(S);
    free(cnt);
}

static void test_against_naive(void **state)
{
    (void)state;
    /* Cluster sizes that are not multiples of 8 (padding lanes), a singleton,
     * noise, d = 1, 3 and 11 (more than one block of 8 features), and enough
     * tiles for all 16 row chunks. */
    size_t dims[] = {1, 3, 11};
    for (size_t q = 0; q < 3; q++) {
        size_t n = 1237, d = dims[q];
        double *X = malloc(n * d * sizeof *X), *per = malloc(n * sizeof *per);
        double *ref = malloc(n * sizeof *ref);
        int32_t *lab = malloc(n * sizeof *lab);
        srand(11 + (unsigned)q);
        for (size_t i = 0; i < n; i++) {
            lab[i] = i == 5 ? 4 : i % 13 == 0 ? -1 : (int32_t)(rand() % 4);
            for (size_t j = 0; j < d; j++)
                X[i * d + j] = 0.7 * lab[i] + (double)rand() / RAND_MAX;
        }
        naive_silhouette(X, n, d, lab, 5, ref);
        double v, mean = 0;
        size_t m = 0;
        assert_int_equal(cseg_metrics_silhouette(X, n, d, lab, NULL, &v, per), 0);
        for (size_t i = 0; i < n; i++) {
            if (lab[i] < 0) {
                assert_true(isnan(per[i]));
                continue;
            }
            assert_true(fabs(per[i] - ref[i]) <= 1e-12);
            mean += ref[i];
            m++;
        }
        assert_true(per[5] == 0); /* alone in its cluster */
        assert_true(fabs(v - mean / (double)m) <= 1e-12);
        free(X);
        free(per);
        free(ref);
        free(lab);
    }
}

/* Issue 16.7: many labels (half as many clusters as samples): memory must not
 * grow with labels^2 (the tile sums would need 8 k^2 doubles, 256 MB here);
 * the row-by-row path gives the naive values, the same for any thread count,
 * and Davies-Bouldin needs no k x k matrix. */
static void test_many_labels(void **state)
{
    (void)state;
    size_t n = 4000, d = 3;
    int32_t k = 2000;
    double *X = malloc(n * d * sizeof *X), *per = malloc(n * sizeof *per);
    double *ref = malloc(n * sizeof *ref);
    int32_t *lab = malloc(n * sizeof *lab);
    srand(5);
    for (size_t i = 0; i < n; i++) {
        lab[i] = (int32_t)(i % (size_t)k);
        for (size_t j = 0; j < d; j++)
            X[i * d + j] = 0.01 * lab[i] + (double)rand() / RAND_MAX;
    }
    naive_silhouette(X, n, d, lab, k, ref);
    double v[2], mean = 0;
    for (int t = 0; t < 2; t++) {
        cseg_silhouette_params sp;
        cseg_silhouette_params_init(&sp);
        sp.n_threads = t + 1;
        assert_int_equal(cseg_metrics_silhouette(X, n, d, lab, &sp, &v[t], per), 0);
    }
    assert_true(v[0] == v[1]);
    for (size_t i = 0; i < n; i++) {
        assert_true(fabs(per[i] - ref[i]) <= 1e-12);
        mean += ref[i];
    }
    assert_true(fabs(v[0] - mean / (double)n) <= 1e-12);
    double db;
    assert_int_equal(cseg_metrics_davies_bouldin(X, n, d, lab, &db), 0);
    assert_true(isfinite(db) && db > 0);
    /* The whole process stayed small (the old tile sums alone were 512 MB). */
    struct rusage ru;
    assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
    if (ru.ru_maxrss > 200L * 1024)
        fail_msg("peak memory %ld kB", ru.ru_maxrss);
    free(X);
    free(per);
    free(ref);
    free(lab);
}

static void test_invalid(void **state)
{
    (void)state;
    double X[] = {0, 1, 2, 3};
    int32_t one[] = {0, 0, 0, 0}, all[] = {0, 1, 2, 3}, noise[] = {-1, -1, 0, 1};
    double v;
    assert_int_equal(cseg_metrics_silhouette(X, 4, 1, one, NULL, &v, NULL), CSEG_EINVAL);
    assert_int_equal(cseg_metrics_silhouette(X, 4, 1, all, NULL, &v, NULL), CSEG_EINVAL);
    assert_int_equal(cseg_metrics_davies_bouldin(X, 4, 1, one, &v), CSEG_EINVAL);
    assert_int_equal(cseg_metrics_calinski_harabasz(X, 4, 1, one, &v), CSEG_EINVAL);
    /* Two clusters of one sample each, after noise is left out: silhouette needs k < n. */
    assert_int_equal(cseg_metrics_silhouette(X, 4, 1, noise, NULL, &v, NULL), CSEG_EINVAL);
    assert_int_equal(cseg_metrics_inertia(X, 4, 1, one, &v), 0);
    assert_true(v == 5.0);
    /* Labels need not be contiguous. */
    int32_t sparse[] = {7, 7, 100, 100};
    assert_int_equal(cseg_metrics_calinski_harabasz(X, 4, 1, sparse, &v), 0);
    assert_rel(v, 8.0, 1e-15); /* between 4, within 1, (n-k)/(k-1) = 2 */
    /* Labels far above n take the sorting path: the same figures. */
    int32_t far[] = {2000000000, 2000000000, 7, 7}, near[] = {1, 1, 0, 0};
    double db_far, db_near;
    assert_int_equal(cseg_metrics_calinski_harabasz(X, 4, 1, far, &v), 0);
    assert_rel(v, 8.0, 1e-15);
    assert_int_equal(cseg_metrics_davies_bouldin(X, 4, 1, far, &db_far), 0);
    assert_int_equal(cseg_metrics_davies_bouldin(X, 4, 1, near, &db_near), 0);
    assert_true(db_far == db_near);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_sklearn),
        cmocka_unit_test(test_threads_identical),
        cmocka_unit_test(test_sample_draws),
        cmocka_unit_test(test_against_naive),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_many_labels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
