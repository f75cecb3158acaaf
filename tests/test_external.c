/* Tests for the external indices (adjusted Rand, NMI) against scikit-learn
 * (tests/reference/fixtures_external.h, made by make_suite_fixtures.py), to
 * 1e-12 relative (1e-15 absolute around 0), plus symmetry, invariance under
 * renaming of labels and under reordering of samples, and edge cases. */
#include <math.h>

#include "util.h"
#include "reference/fixtures_external.h"

static void assert_close(double got, double want)
{
    if (!(fabs(got - want) <= 1e-12 * fabs(want) || fabs(got - want) <= 1e-15))
        fail_msg("got %.17g, expected %.17g", got, want);
}

static void test_against_sklearn(void **state)
{
    (void)state;
    for (size_t f = 0; f < N_FIXTURES_EXTERNAL; f++) {
        const fixture_external *fx = &FIXTURES_EXTERNAL[f];
        const int32_t *a = EXT_A + fx->off, *b = EXT_B + fx->off;
        double ari = NAN, nmi = NAN;
        assert_int_equal(cseg_metrics_adjusted_rand(a, b, fx->n, &ari), 0);
        assert_int_equal(cseg_metrics_nmi(a, b, fx->n, &nmi), 0);
        print_message("%-45s ARI %.17g (sklearn %.17g) NMI %.17g (sklearn %.17g)\n", fx->what,
                      ari, fx->ari, nmi, fx->nmi);
        assert_close(ari, fx->ari);
        assert_close(nmi, fx->nmi);
        /* Symmetric in the two labellings. */
        double ari2, nmi2;
        assert_int_equal(cseg_metrics_adjusted_rand(b, a, fx->n, &ari2), 0);
        assert_int_equal(cseg_metrics_nmi(b, a, fx->n, &nmi2), 0);
        assert_close(ari2, ari);
        assert_close(nmi2, nmi);
        assert_true(ari <= 1.0 && ari >= -0.5 && nmi >= 0 && nmi <= 1.0 + 1e-15);
    }
}

/* Renaming the labels (any injective map) and reordering the samples
 * together leave both indices unchanged. */
static void test_invariance(void **state)
{
    (void)state;
    const fixture_external *fx = NULL;
    for (size_t f = 0; f < N_FIXTURES_EXTERNAL; f++)
        if (FIXTURES_EXTERNAL[f].n >= 2000 && FIXTURES_EXTERNAL[f].ari > 0.5)
            fx = &FIXTURES_EXTERNAL[f];
    assert_non_null(fx);
    size_t n = fx->n;
    const int32_t *a = EXT_A + fx->off, *b = EXT_B + fx->off;
    int32_t *ra = malloc(n * sizeof *ra), *rb = malloc(n * sizeof *rb);
    size_t *perm = malloc(n * sizeof *perm);
    for (size_t i = 0; i < n; i++)
        perm[i] = i;
    uint64_t s = 12345;
    for (size_t i = n - 1; i > 0; i--) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        size_t j = (size_t)(s >> 33) % (i + 1), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    for (size_t i = 0; i < n; i++) {
        /* a: spread far apart and negated (order of values reversed); b: sparse
         * values, which take the sorting path of the label compaction. */
        ra[i] = -a[perm[i]] * 1000 - 7;
        rb[i] = b[perm[i]] * 40000000 + 3;
    }
    double ari, nmi;
    assert_int_equal(cseg_metrics_adjusted_rand(ra, rb, n, &ari), 0);
    assert_int_equal(cseg_metrics_nmi(ra, rb, n, &nmi), 0);
    assert_close(ari, fx->ari);
    assert_close(nmi, fx->nmi);
    free(ra);
    free(rb);
    free(perm);
}

static void test_known_answers(void **state)
{
    (void)state;
    double v;
    /* Identical partitions up to renaming. */
    int32_t a[] = {0, 0, 1, 1, 2, 2}, b[] = {5, 5, -1, -1, 9, 9};
    assert_int_equal(cseg_metrics_adjusted_rand(a, b, 6, &v), 0);
    assert_true(v == 1.0);
    assert_int_equal(cseg_metrics_nmi(a, b, 6, &v), 0);
    assert_true(v == 1.0);
    /* Hand computation: a = {0,0,1,1}, b = {0,1,0,1}: every pair joined by
     * one is split by the other: ARI = -0.5, MI = 0 -> NMI = 0. */
    int32_t c[] = {0, 0, 1, 1}, e[] = {0, 1, 0, 1};
    assert_int_equal(cseg_metrics_adjusted_rand(c, e, 4, &v), 0);
    assert_true(v == -0.5);
    assert_int_equal(cseg_metrics_nmi(c, e, 4, &v), 0);
    assert_true(v == 0.0);
    /* One class split in two halves: MI = ln 2, H(a) = ln 2, H(b) = 2 ln 2,
     * NMI = ln 2 / (1.5 ln 2) = 2/3. */
    int32_t f[] = {0, 0, 0, 0}, g[] = {0, 0, 1, 1};
    int32_t f2[] = {0, 0, 0, 0, 1, 1, 1, 1}, g2[] = {0, 0, 1, 1, 2, 2, 3, 3};
    assert_int_equal(cseg_metrics_nmi(f2, g2, 8, &v), 0);
    assert_rel(v, 2.0 / 3.0, 1e-15);
    /* A single cluster against two: NMI 0 (MI = 0), ARI 0. */
    assert_int_equal(cseg_metrics_nmi(f, g, 4, &v), 0);
    assert_true(v == 0.0);
    assert_int_equal(cseg_metrics_adjusted_rand(f, g, 4, &v), 0);
    assert_true(v == 0.0);
}

static void test_edge_cases(void **state)
{
    (void)state;
    double v = 0;
    /* n = 0: 1.0 for both, as scikit-learn. */
    assert_int_equal(cseg_metrics_adjusted_rand(NULL, NULL, 0, &v), 0);
    assert_true(v == 1.0);
    v = 0;
    assert_int_equal(cseg_metrics_nmi(NULL, NULL, 0, &v), 0);
    assert_true(v == 1.0);
    /* n = 1: a single cluster each. */
    int32_t one = -1, other = INT32_MAX;
    v = 0;
    assert_int_equal(cseg_metrics_adjusted_rand(&one, &other, 1, &v), 0);
    assert_true(v == 1.0);
    v = 0;
    assert_int_equal(cseg_metrics_nmi(&one, &other, 1, &v), 0);
    assert_true(v == 1.0);
    /* Extreme label values: the compaction must not overflow. */
    int32_t a[] = {INT32_MIN, INT32_MAX, INT32_MIN, INT32_MAX};
    int32_t b[] = {INT32_MAX, INT32_MIN, INT32_MAX, INT32_MIN};
    assert_int_equal(cseg_metrics_adjusted_rand(a, b, 4, &v), 0);
    assert_true(v == 1.0);
    assert_int_equal(cseg_metrics_nmi(a, b, 4, &v), 0);
    assert_true(v == 1.0);
    /* Bad arguments. */
    assert_int_equal(cseg_metrics_adjusted_rand(NULL, b, 4, &v), CSEG_EINVAL);
    assert_int_equal(cseg_metrics_nmi(a, NULL, 4, &v), CSEG_EINVAL);
    assert_int_equal(cseg_metrics_nmi(a, b, 4, NULL), CSEG_EINVAL);
}

/* Large n: independent labellings give ARI ~ 0 and NMI ~ 0; a labelling
 * against itself gives exactly 1; dense and sorted contingency paths agree. */
static void test_large(void **state)
{
    (void)state;
    size_t n = 200000;
    int32_t *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b), *c = malloc(n * sizeof *c);
    uint64_t s = 99;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        a[i] = (int32_t)((s >> 33) % 10);
        b[i] = (int32_t)((s >> 45) % 7);
        c[i] = (int32_t)(i % 150000); /* 150000 x 10 table: the sorting path */
    }
    double v;
    assert_int_equal(cseg_metrics_adjusted_rand(a, b, n, &v), 0);
    assert_true(fabs(v) < 1e-3);
    assert_int_equal(cseg_metrics_nmi(a, b, n, &v), 0);
    assert_true(v >= 0 && v < 1e-3);
    assert_int_equal(cseg_metrics_adjusted_rand(a, a, n, &v), 0);
    assert_true(v == 1.0);
    assert_int_equal(cseg_metrics_nmi(c, c, n, &v), 0);
    assert_rel(v, 1.0, 1e-12);
    double v1, v2;
    assert_int_equal(cseg_metrics_adjusted_rand(a, c, n, &v1), 0);
    assert_int_equal(cseg_metrics_adjusted_rand(c, a, n, &v2), 0);
    assert_true(v1 == v2 && v1 > -1e-3 && v1 < 1e-2);
    free(a);
    free(b);
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_sklearn), cmocka_unit_test(test_invariance),
        cmocka_unit_test(test_known_answers), cmocka_unit_test(test_edge_cases),
        cmocka_unit_test(test_large),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
