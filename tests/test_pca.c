/* Tests for PCA against scikit-learn (tests/reference/fixtures_pca.h). */
#include <math.h>

#include "util.h"
#include "reference/fixtures_pca.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_sklearn),
        cmocka_unit_test(test_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
