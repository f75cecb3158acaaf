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
    /* Equal on every axis: numbered. */
    assert_string_equal(cseg_profile_name(p, 0), "Need Attention (1)");
    assert_string_equal(cseg_profile_name(p, 10), "Need Attention (11)");
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

/* Issue 15.1: a name only where the scores are in its region; descriptive
 * names otherwise; segments in one region qualified by what differs most. */
static void test_rfm_regions(void **state)
{
    (void)state;
    /* 0: R 3.96 F 4.1 M 5.0 with the most money: Loyal Customers, not Champions.
     * 1, 2: both Champions, 1 spends more. 3: F 5 but M 1: descriptive.
     * 4: R 1, F 2, M 4: F and M 2 apart: descriptive. */
    double r[] = {3.96, 3.96, 5, 5, 4.6, 4.6, 4.8, 4.8, 1, 1};
    double f[] = {4.1, 4.1, 4.6, 4.6, 4.7, 4.7, 5, 5, 2, 2};
    double m[] = {5, 5, 4.9, 4.9, 4.8, 4.8, 1, 1, 4, 4};
    double money[] = {90000, 90000, 5000, 5000, 3000, 3000, 100, 100, 900, 900};
    int32_t lab[] = {0, 0, 1, 1, 2, 2, 3, 3, 4, 4};
    cseg_table *t;
    cseg_table_create(&t, 10);
    cseg_table_add_numbers(t, "r_score", r);
    cseg_table_add_numbers(t, "f_score", f);
    cseg_table_add_numbers(t, "m_score", m);
    cseg_table_add_numbers(t, "monetary", money);
    cseg_profile *p;
    assert_int_equal(cseg_profile_compute(&p, t, lab, 5, "monetary"), 0);
    assert_int_equal(cseg_profile_name_rfm(p), 0);
    assert_string_equal(cseg_profile_name(p, 0), "Loyal Customers");
    /* Of R (5 vs 4.6), F (0.1) and M (0.1), R spreads most. */
    assert_string_equal(cseg_profile_name(p, 1), "Champions (most recent)");
    assert_string_equal(cseg_profile_name(p, 2), "Champions (less recent)");
    assert_string_equal(cseg_profile_name(p, 3), "Recent \xC2\xB7 Frequent \xC2\xB7 Low spend");
    assert_string_equal(cseg_profile_name(p, 4), "Lapsed \xC2\xB7 Rare \xC2\xB7 High spend");
    /* Actions follow the names, qualified or descriptive. */
    assert_string_equal(cseg_profile_action_for(cseg_profile_name(p, 1)),
                        cseg_profile_action_for("Champions"));
    assert_non_null(strstr(cseg_profile_action_for(cseg_profile_name(p, 3)), "Raise order value"));
    assert_non_null(strstr(cseg_profile_action_for(cseg_profile_name(p, 4)), "Win them back"));
    assert_null(cseg_profile_action_for("VIP"));
    assert_null(cseg_profile_action_for("Champions of the world"));
    assert_null(cseg_profile_action_for("Recent \xC2\xB7 Frequent"));
    assert_null(cseg_profile_action_for(NULL));
    cseg_profile_free(p);
    cseg_table_free(t);
}

/* Two segments in one region, ranked by the amount (monetary), not its score. */
static void test_rfm_qualifier_by_amount(void **state)
{
    (void)state;
    double r[] = {5, 5, 5, 5}, f[] = {5, 5, 5, 5}, m[] = {4.2, 4.2, 4.9, 4.9};
    double money[] = {9000, 9000, 3000, 3000};
    int32_t lab[] = {0, 0, 1, 1};
    cseg_table *t;
    cseg_table_create(&t, 4);
    cseg_table_add_numbers(t, "r_score", r);
    cseg_table_add_numbers(t, "f_score", f);
    cseg_table_add_numbers(t, "m_score", m);
    cseg_table_add_numbers(t, "monetary", money);
    cseg_profile *p;
    assert_int_equal(cseg_profile_compute(&p, t, lab, 2, "monetary"), 0);
    assert_int_equal(cseg_profile_name_rfm(p), 0);
    assert_string_equal(cseg_profile_name(p, 0), "Champions (top spend)");
    assert_string_equal(cseg_profile_name(p, 1), "Champions (lower spend)");
    cseg_profile_free(p);
    cseg_table_free(t);
}

/* Text columns are profiled and name segments that split on them; segments
 * that would share a name are qualified, never numbered ("Typical (2)"). */
static void test_category_names(void **state)
{
    (void)state;
    double age[] = {30, 31, 30, 31, 30, 31, 52, 50, 40, 40};
    const char *lv[] = {"Female", "Male"};
    int32_t sex[] = {0, 0, 0, 0, 1, 1, 1, 0, 0, 1};
    const char *ids[] = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"};
    int32_t idc[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    int32_t lab[] = {0, 0, 0, 0, 1, 1, 2, 2, 3, 3};
    cseg_table *t;
    cseg_table_create(&t, 10);
    cseg_table_add_text(t, "id", ids, 10, idc);
    cseg_table_add_numbers(t, "Age", age);
    cseg_table_add_text(t, "Genre", lv, 2, sex);
    cseg_profile *p;
    assert_int_equal(cseg_profile_compute(&p, t, lab, 4, NULL), 0);
    assert_int_equal(cseg_profile_n_categories(p), 1); /* the id is left out */
    assert_string_equal(cseg_profile_category(p, 0), "Genre");
    assert_int_equal(cseg_profile_n_levels(p, 0), 2);
    assert_string_equal(cseg_profile_level(p, 0, 1), "Male");
    assert_rel(cseg_profile_level_share(p, 0, 0, 0), 1.0, 0);
    assert_rel(cseg_profile_level_share(p, 0, 3, 1), 0.5, 0);
    assert_rel(cseg_profile_level_share(p, 0, 4, 0), 0.6, 1e-15); /* all customers */
    assert_true(isnan(cseg_profile_level_share(p, 0, 5, 0)));
    assert_int_equal(cseg_profile_name_features(p, NULL, 0), 0);
    /* Female z = (1 - 0.6) / sqrt(0.24) = 0.82 above Age's -0.79. */
    assert_string_equal(cseg_profile_name(p, 0), "Female \xC2\xB7 Low Age");
    assert_string_equal(cseg_profile_name(p, 1), "Male \xC2\xB7 Low Age");
    /* Both older, half and half: qualified by Age, where they differ. */
    assert_string_equal(cseg_profile_name(p, 2), "High Age (higher Age)");
    assert_string_equal(cseg_profile_name(p, 3), "High Age (lower Age)");
    cseg_profile_free(p);
    /* Two segments whose parts all stay under 0.25: Typical, qualified. */
    double x[] = {10, 10.1, 10.2, 10.3, 10, 10.3, 9.9, 10.4, 10.1, 10.2};
    int32_t lab2[] = {0, 0, 0, 0, 0, 1, 1, 1, 1, 1};
    cseg_table *u;
    double agez[] = {35, 35, 35, 35, 35, 36, 34, 35, 35, 35};
    cseg_table_create(&u, 10);
    cseg_table_add_numbers(u, "Age", agez);
    cseg_table_add_numbers(u, "x", x);
    assert_int_equal(cseg_profile_compute(&p, u, lab2, 2, NULL), 0);
    assert_int_equal(cseg_profile_name_features(p, NULL, 0), 0);
    assert_string_equal(cseg_profile_name(p, 0), "Typical (lower X)");
    assert_string_equal(cseg_profile_name(p, 1), "Typical (higher X)");
    cseg_profile_free(p);
    cseg_table_free(u);
    cseg_table_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_profile_and_rfm_names),
        cmocka_unit_test(test_unique_rfm_names),
        cmocka_unit_test(test_feature_names),
        cmocka_unit_test(test_wide_names),
        cmocka_unit_test(test_rfm_regions),
        cmocka_unit_test(test_rfm_qualifier_by_amount),
        cmocka_unit_test(test_category_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
