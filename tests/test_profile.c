/* Tests for segment profiles and naming rules. */
#include <math.h>

#include "util.h"

static void test_profile_and_rfm_names(void **state)
{
    (void)state;
    /* Four segments at the corners of the RFM grid. */
    double r[] = {5, 5, 1, 1, 5, 5, 1, 1}, f[] = {5, 5, 5, 5, 1, 1, 1, 1};
    double money[] = {100, 300, 50, 50, 10, 10, 1, 1};
    int32_t lab[] = {0, 0, 1, 1, 2, 2, 3, 3};
    cseg_table *t;
    cseg_table_create(&t, 8);
    cseg_table_add_numbers(t, "r_score", r);
    cseg_table_add_numbers(t, "f_score", f);
    cseg_table_add_numbers(t, "m_score", f);
    cseg_table_add_numbers(t, "monetary", money);
    cseg_profile *p;
    assert_int_equal(cseg_profile_compute(&p, t, lab, 4, "monetary"), 0);
    assert_int_equal(cseg_profile_size(p, 0), 2);
    assert_rel(cseg_profile_share(p, 0), 0.25, 1e-15);
    assert_rel(cseg_profile_revenue_share(p, 0), 400.0 / 522, 1e-15);
    long jm = cseg_profile_find(p, "monetary");
    assert_rel(cseg_profile_means(p, 0)[jm], 200, 1e-15);
    assert_rel(cseg_profile_medians(p, 0)[jm], 200, 1e-15);
    assert_string_equal(cseg_profile_name(p, 0), "Segment 1");
    assert_int_equal(cseg_profile_name_rfm(p), 0);
    assert_string_equal(cseg_profile_name(p, 0), "Champions");
    assert_string_equal(cseg_profile_name(p, 1), "Can't Lose Them");
    assert_string_equal(cseg_profile_name(p, 2), "New Customers");
    assert_string_equal(cseg_profile_name(p, 3), "Lost");
    assert_int_equal(cseg_profile_set_name(p, 1, "Champions"), CSEG_EINVAL); /* unique */
    assert_int_equal(cseg_profile_set_name(p, 1, "VIP"), 0);
    assert_string_equal(cseg_profile_name(p, 1), "VIP");
    cseg_profile_free(p);
    cseg_table_free(t);
}

static void test_unique_rfm_names(void **state)
{
    (void)state;
    /* Eleven identical segments still get eleven different names. */
    size_t k = 11;
    double r[11], f[11];
    int32_t lab[11];
    for (size_t i = 0; i < k; i++) {
        r[i] = f[i] = 3;
        lab[i] = (int32_t)i;
    }
    cseg_table *t;
    cseg_table_create(&t, k);
    cseg_table_add_numbers(t, "r_score", r);
    cseg_table_add_numbers(t, "f_score", f);
    cseg_table_add_numbers(t, "m_score", f);
    cseg_profile *p;
    assert_int_equal(cseg_profile_compute(&p, t, lab, k, NULL), 0);
    assert_int_equal(cseg_profile_name_rfm(p), 0);
    assert_string_equal(cseg_profile_name(p, 0), "Need Attention");
    for (size_t a = 0; a < k; a++)
        for (size_t b = a + 1; b < k; b++)
            assert_string_not_equal(cseg_profile_name(p, a), cseg_profile_name(p, b));
    assert_true(isnan(cseg_profile_revenue_share(p, 0)));
    cseg_profile_free(p);
    cseg_table_free(t);
}

static void test_feature_names(void **state)
{
    (void)state;
    double inc[] = {100, 110, 20, 25, 60, 62}, spend[] = {10, 12, 90, 85, 50, 51};
    int32_t lab[] = {0, 0, 1, 1, 2, 2};
    cseg_table *t;
    cseg_table_create(&t, 6);
    cseg_table_add_numbers(t, "Annual_Income(k$)", inc);
    cseg_table_add_numbers(t, "Spending_Score(1-100)", spend);
    cseg_profile *p;
    assert_int_equal(cseg_profile_compute(&p, t, lab, 3, NULL), 0);
    assert_int_equal(cseg_profile_name_rfm(p), CSEG_ENOCOL);
    assert_int_equal(cseg_profile_name_features(p, NULL, 0), 0);
    assert_string_equal(cseg_profile_name(p, 0), "High Annual Income \xC2\xB7 Low Spending Score");
    assert_string_equal(cseg_profile_name(p, 1), "High Spending Score \xC2\xB7 Low Annual Income");
    assert_string_equal(cseg_profile_name(p, 2), "Typical");
    cseg_profile_free(p);
    cseg_table_free(t);
}

/* Issue 16.2: a wide table (2,000 features): found by name, and named by the
 * two largest |z| as with few features (ties in feature order). */
static void test_wide_names(void **state)
{
    (void)state;
    size_t n = 8, nf = 2000;
    int32_t lab[] = {0, 0, 0, 0, 1, 1, 1, 1};
    double x[8];
    cseg_table *t;
    cseg_table_create(&t, n);
    for (size_t j = 0; j < nf; j++) {
        char name[32];
        snprintf(name, sizeof name, "f%zu", j);
        for (size_t i = 0; i < n; i++) /* a small segment difference, a large one for f1234, f77 */
            x[i] = (double)((i * 7 + j) % 5) + (lab[i] ? (j == 1234 ? 40 : j == 77 ? -30 : 0.1) : 0);
        assert_int_equal(cseg_table_add_numbers(t, name, x), 0);
    }
    cseg_profile *p;
    assert_int_equal(cseg_profile_compute(&p, t, lab, 2, NULL), 0);
    assert_int_equal(cseg_profile_n_features(p), nf);
    for (size_t j = 0; j < nf; j += 97) {
        char name[32];
        snprintf(name, sizeof name, "f%zu", j);
        assert_int_equal(cseg_profile_find(p, name), (long)j);
    }
    assert_int_equal(cseg_profile_find(p, "f2000"), -1);
    assert_int_equal(cseg_profile_name_features(p, NULL, 0), 0);
    const char *a = cseg_profile_name(p, 0), *b = cseg_profile_name(p, 1);
    assert_non_null(strstr(a, "1234"));
    assert_non_null(strstr(a, "77"));
    assert_true(strstr(a, "1234") < strstr(a, "77")); /* the larger |z| first */
    assert_non_null(strstr(b, "1234"));
    assert_true(strcmp(a, b) != 0);
    cseg_profile_free(p);
    cseg_table_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_profile_and_rfm_names),
        cmocka_unit_test(test_unique_rfm_names),
        cmocka_unit_test(test_feature_names),
        cmocka_unit_test(test_wide_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
