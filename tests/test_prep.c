/* Tests for the preprocessing pipeline, against numpy/scipy (tests/reference). */
#include <math.h>

#include "util.h"
#include "reference/fixtures_metrics.h"

static cseg_table *column_table(const double *x, size_t n)
{
    cseg_table *t;
    assert_int_equal(cseg_table_create(&t, n), 0);
    assert_int_equal(cseg_table_add_numbers(t, "x", x), 0);
    return t;
}

static void test_log_standard(void **state)
{
    (void)state;
    cseg_table *t = column_table(prep_x, PREP_N);
    cseg_prep *p;
    assert_int_equal(cseg_prep_create(&p, NULL), 0); /* defaults: auto log, standard */
    const char *cols[] = {"x"};
    cseg_diag d;
    assert_int_equal(cseg_prep_fit(p, t, cols, 1, &d), 0);
    assert_true(cseg_prep_input_is_logged(p, 0)); /* skewness 2.42 > 1 */
    double X[PREP_N];
    assert_int_equal(cseg_prep_transform(p, t, X, &d), 0);
    for (size_t i = 0; i < PREP_N; i++) {
        double raw = isnan(prep_x[i]) ? prep_median : prep_x[i];
        assert_rel(X[i], (log1p(raw) - prep_log_mean) / prep_log_std, 1e-12);
    }
    cseg_prep_free(p);
    /* Robust scaling and no log. */
    cseg_prep_params pp;
    cseg_prep_params_init(&pp);
    pp.scale = CSEG_SCALE_ROBUST;
    assert_int_equal(cseg_prep_create(&p, &pp), 0);
    assert_int_equal(cseg_prep_fit(p, t, cols, 1, &d), 0);
    assert_int_equal(cseg_prep_transform(p, t, X, &d), 0);
    assert_rel(X[0], (log1p(1.0) - prep_log_median) / prep_log_iqr, 1e-12);
    cseg_prep_free(p);
    pp.scale = CSEG_SCALE_NONE;
    pp.log = CSEG_LOG_NONE;
    assert_int_equal(cseg_prep_create(&p, &pp), 0);
    assert_int_equal(cseg_prep_fit(p, t, cols, 1, &d), 0);
    assert_int_equal(cseg_prep_transform(p, t, X, &d), 0);
    assert_true(X[7] == prep_median && X[5] == 50);
    cseg_prep_free(p);
    cseg_table_free(t);
}

static void test_negative_shift_and_constant(void **state)
{
    (void)state;
    double x[] = {-100, 0, 1, 2, 3, 5, 8, 1000, 20000, 4};
    double c[] = {7, 7, 7, 7, 7, 7, 7, 7, 7, 7};
    cseg_table *t = column_table(x, 10);
    assert_int_equal(cseg_table_add_numbers(t, "c", c), 0);
    cseg_prep *p;
    cseg_prep_params pp;
    cseg_prep_params_init(&pp);
    pp.log = CSEG_LOG_ALL;
    assert_int_equal(cseg_prep_create(&p, &pp), 0);
    const char *cols[] = {"x", "c"};
    assert_int_equal(cseg_prep_fit(p, t, cols, 2, NULL), 0);
    double X[20];
    assert_int_equal(cseg_prep_transform(p, t, X, NULL), 0);
    for (int i = 0; i < 20; i++)
        assert_true(isfinite(X[i]));
    assert_true(fabs(X[1]) < 1e-12); /* constant column: scale 1, centred to 0 */
    /* A new value below the training minimum is clamped, never NaN. */
    double y[] = {-1e9};
    double cy[] = {7};
    cseg_table *u = column_table(y, 1);
    cseg_table_add_numbers(u, "c", cy);
    assert_int_equal(cseg_prep_transform(p, u, X, NULL), 0);
    assert_true(isfinite(X[0]));
    cseg_table_free(u);
    cseg_prep_free(p);
    cseg_table_free(t);
}

static void test_one_hot(void **state)
{
    (void)state;
    const char *path = tmp_text(0, "g,v\nMale,1\nFemale,2\nMale,3\n,4\n");
    cseg_table *t;
    assert_int_equal(cseg_table_read_csv(&t, path, NULL, NULL), 0);
    cseg_prep *p;
    assert_int_equal(cseg_prep_create(&p, NULL), 0);
    const char *cols[] = {"g", "v"};
    assert_int_equal(cseg_prep_fit(p, t, cols, 2, NULL), 0);
    assert_int_equal(cseg_prep_n_outputs(p), 3);
    assert_string_equal(cseg_prep_output_name(p, 0), "g=Male");
    assert_string_equal(cseg_prep_output_name(p, 1), "g=Female");
    assert_string_equal(cseg_prep_output_name(p, 2), "v");
    double X[12];
    assert_int_equal(cseg_prep_transform(p, t, X, NULL), 0);
    assert_true(X[0] == 1 && X[1] == 0 && X[3] == 0 && X[4] == 1 && X[9] == 0 && X[10] == 0);
    /* New data: unseen level -> zeros; a missing column -> ENOCOL; wrong type -> EINVAL. */
    const char *p2 = tmp_text(1, "g,v\nOther,1\n");
    cseg_table *u;
    assert_int_equal(cseg_table_read_csv(&u, p2, NULL, NULL), 0);
    assert_int_equal(cseg_prep_transform(p, u, X, NULL), 0);
    assert_true(X[0] == 0 && X[1] == 0);
    cseg_table_free(u);
    const char *p3 = tmp_text(2, "v\n1\n");
    assert_int_equal(cseg_table_read_csv(&u, p3, NULL, NULL), 0);
    cseg_diag d;
    assert_int_equal(cseg_prep_transform(p, u, X, &d), CSEG_ENOCOL);
    assert_string_equal(d.msg, "column \"g\" (used by the model) not found");
    cseg_table_free(u);
    const char *p4 = tmp_text(3, "g,v\nMale,abc\n");
    assert_int_equal(cseg_table_read_csv(&u, p4, NULL, NULL), 0);
    assert_int_equal(cseg_prep_transform(p, u, X, &d), CSEG_EINVAL);
    cseg_table_free(u);
    cseg_prep_free(p);
    /* Too many levels: an id column by mistake. */
    cseg_prep_params pp;
    cseg_prep_params_init(&pp);
    pp.max_levels = 1;
    assert_int_equal(cseg_prep_create(&p, &pp), 0);
    assert_int_equal(cseg_prep_fit(p, t, cols, 2, &d), CSEG_EINVAL);
    assert_non_null(strstr(d.msg, "distinct values"));
    cseg_prep_free(p);
    cseg_table_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_standard),
        cmocka_unit_test(test_negative_shift_and_constant),
        cmocka_unit_test(test_one_hot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
