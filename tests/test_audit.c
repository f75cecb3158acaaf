/* Tests for audit.h: the chi-square test, its p-value and Cramer's V as
 * SciPy computes them (tests/reference/make_audit_fixtures.py), and the
 * survival function of the chi-square distribution from its body to its far
 * tail. */
#include <math.h>

#include "reference/fixtures_audit.h"
#include "util.h"

static void test_tables(void **state)
{
    (void)state;
    size_t off = 0;
    for (size_t t = 0; t < AUDIT_N_TABLES; t++) {
        size_t k = audit_k[t], g = audit_g[t], n = 0;
        for (size_t c = 0; c < k * g; c++)
            n += audit_counts[off + c];
        /* customers from the counts, and some without a group */
        int32_t *lab = malloc((n + 3) * sizeof *lab), *grp = malloc((n + 3) * sizeof *grp);
        size_t i = 0;
        for (size_t s = 0; s < k; s++)
            for (size_t j = 0; j < g; j++)
                for (size_t c = 0; c < audit_counts[off + s * g + j]; c++, i++) {
                    lab[i] = (int32_t)s;
                    grp[i] = (int32_t)j;
                }
        for (; i < n + 3; i++) {
            lab[i] = 0;
            grp[i] = -1;
        }
        size_t *counts = malloc(k * g * sizeof *counts);
        cseg_audit_result res;
        assert_int_equal(cseg_audit_test(lab, grp, n + 3, k, g, counts, &res), 0);
        assert_memory_equal(counts, audit_counts + off, k * g * sizeof *counts);
        assert_int_equal(res.n, n);
        assert_int_equal(res.n_missing, 3);
        assert_int_equal(res.dof, audit_dof[t]);
        assert_rel(res.chi2, audit_chi2[t], 1e-12);
        assert_rel(res.p_value, audit_p[t], 1e-10);
        assert_rel(res.cramers_v, audit_v[t], 1e-12);
        /* an empty segment and an empty group change nothing */
        assert_int_equal(cseg_audit_test(lab, grp, n + 3, k + 1, g + 1, NULL, &res), 0);
        assert_int_equal(res.dof, audit_dof[t]);
        assert_rel(res.chi2, audit_chi2[t], 1e-12);
        free(lab);
        free(grp);
        free(counts);
        off += k * g;
    }
}

static void test_sf(void **state)
{
    (void)state;
    for (size_t i = 0; i < AUDIT_N_SF; i++) {
        double p = cseg_chi2_sf(audit_sf_x[i], audit_sf_dof[i]);
        if (!(rel_diff(p, audit_sf[i]) <= 1e-11))
            fail_msg("chi2.sf(%g, %g) = %.17g, scipy %.17g", audit_sf_x[i], audit_sf_dof[i], p,
                     audit_sf[i]);
    }
    assert_true(cseg_chi2_sf(0, 3) == 1);
    assert_true(cseg_chi2_sf(-1, 3) == 1);
    assert_true(cseg_chi2_sf(INFINITY, 3) == 0);
    assert_true(isnan(cseg_chi2_sf(1, 0)));
    assert_true(isnan(cseg_chi2_sf(NAN, 2)));
}

static void test_errors(void **state)
{
    (void)state;
    int32_t lab[3] = {0, 1, 2}, grp[3] = {0, 1, 0};
    cseg_audit_result res;
    assert_int_equal(cseg_audit_test(lab, grp, 3, 2, 2, NULL, &res), CSEG_EINVAL); /* label 2 */
    assert_int_equal(cseg_audit_test(lab, grp, 3, 3, 1, NULL, &res), CSEG_EINVAL); /* group 1 */
    assert_int_equal(cseg_audit_test(lab, grp, 3, 0, 2, NULL, &res), CSEG_EINVAL);
    /* one group only: nothing to test */
    int32_t one[3] = {0, 0, 0};
    assert_int_equal(cseg_audit_test(lab, one, 3, 3, 1, NULL, &res), 0);
    assert_int_equal(res.dof, 0);
    assert_true(isnan(res.p_value) && isnan(res.cramers_v));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tables),
        cmocka_unit_test(test_sf),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
