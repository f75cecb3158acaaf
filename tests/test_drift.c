/* Tests for drift.h: the PSI and KS statistics of new customers against a
 * model's training reference, checked against numpy and scipy
 * (tests/reference/make_drift_fixtures.py), the reference kept through
 * model.json, and the errors. */
#include <jansson.h>
#include <math.h>

#include "reference/fixtures_drift.h"
#include "util.h"

#define DATA CSEG_SOURCE_DIR "/tests/data/"

static const char *const numbers[DRIFT_N_NUMBERS] = {"age", "income", "visits"};

static cseg_table *read_table(const char *path)
{
    return read_csv_text_id(path, "customer");
}

/* A model of 3 segments fitted on a training table, with its reference. */
static cseg_model *fit(const cseg_table *train, cseg_segmentation **r)
{
    static const char *const feats[] = {"age", "income", "visits", "region"};
    cseg_segment_params sp;
    cseg_segment_params_init(&sp);
    sp.k = 3;
    sp.features = feats;
    sp.n_features = 4;
    sp.n_threads = 1;
    cseg_diag d;
    if (cseg_segment_customers(r, train, "customer", &sp, &d) < 0)
        fail_msg("fit: %s", d.msg);
    cseg_model *m = NULL;
    char *text = cseg_model_to_json(cseg_segment_model(*r));
    assert_non_null(text);
    assert_int_equal(cseg_model_from_json(&m, text, "model.json", &d), 0); /* as saved */
    free(text);
    assert_true(cseg_model_has_reference(m));
    assert_int_equal(cseg_drift_n_features(m), 4);
    return m;
}

static void measure(const cseg_model *m, const cseg_table *t, cseg_drift_feature *f, double *rs,
                    double *ns, cseg_drift_result *res)
{
    cseg_drift_params p;
    cseg_drift_params_init(&p);
    cseg_diag d;
    if (cseg_drift_measure(m, t, &p, f, rs, ns, res, &d) < 0)
        fail_msg("drift: %s", d.msg);
}

static void check_case(const char *name, const double *psi, const double *ks_exact,
                       const double *ks_quantiles, double psi_region, const double *mean_new,
                       const double *missing_new)
{
    char tp[512], np[512];
    snprintf(tp, sizeof tp, DATA "drift_%s_train.csv", name);
    snprintf(np, sizeof np, DATA "drift_%s_new.csv", name);
    cseg_table *train = read_table(tp), *nw = read_table(np);
    cseg_segmentation *r = NULL;
    cseg_model *m = fit(train, &r);
    /* The pipeline's reference (the preprocessing's kept quantiles, its own
     * assignment) equals the one cseg_model_set_reference builds from scratch
     * (assigning, sorting), byte for byte in model.json. */
    char *text = cseg_model_to_json(m), *again = NULL;
    cseg_model *m2 = NULL;
    cseg_diag d2;
    assert_int_equal(cseg_model_from_json(&m2, text, "model.json", &d2), 0);
    assert_int_equal(cseg_model_set_reference(m2, train, &d2), 0);
    assert_non_null(again = cseg_model_to_json(m2));
    assert_string_equal(text, again);
    free(text), free(again);
    cseg_model_free(m2);
    cseg_drift_feature f[4];
    double rs[3], ns[3];
    cseg_drift_result res;
    measure(m, nw, f, rs, ns, &res);
    assert_int_equal(res.n_ref, cseg_table_n_rows(train));
    assert_int_equal(res.n_new, cseg_table_n_rows(nw));
    for (size_t j = 0; j < DRIFT_N_NUMBERS; j++) {
        assert_string_equal(f[j].name, numbers[j]);
        assert_false(f[j].is_text);
        assert_rel(f[j].psi, psi[j], 1e-12);
        if (ks_quantiles) { /* more than CSEG_DRIFT_EXACT training values */
            assert_rel(f[j].ks, ks_quantiles[j], 1e-12);
            assert_true(fabs(f[j].ks - ks_exact[j]) <= 2e-3);
        } else {
            assert_rel(f[j].ks, ks_exact[j], 1e-12);
        }
        assert_rel(f[j].new_mean, mean_new[j], 1e-12);
        assert_rel(f[j].new_missing, missing_new[j], 1e-12);
        assert_int_equal(f[j].level, f[j].psi >= 0.25  ? CSEG_DRIFT_ALERT
                                     : f[j].psi >= 0.1 ? CSEG_DRIFT_WARN
                                                       : CSEG_DRIFT_OK);
    }
    assert_string_equal(f[3].name, "region");
    assert_true(f[3].is_text);
    assert_true(isnan(f[3].ks));
    assert_rel(f[3].psi, psi_region, 1e-12);
    assert_int_equal(res.level, CSEG_DRIFT_ALERT);
    double sr = 0, sn = 0;
    for (size_t s = 0; s < 3; s++) {
        sr += rs[s];
        sn += ns[s];
    }
    assert_rel(sr, 1, 1e-12);
    assert_rel(sn, 1, 1e-12);

    /* The training customers against themselves: no drift. */
    measure(m, train, f, rs, ns, &res);
    for (size_t j = 0; j < 4; j++) {
        assert_true(fabs(f[j].psi) < 1e-12);
        assert_int_equal(f[j].level, CSEG_DRIFT_OK);
        if (!ks_quantiles && j < DRIFT_N_NUMBERS)
            assert_true(f[j].ks == 0);
        if (ks_quantiles && j < DRIFT_N_NUMBERS)
            assert_true(f[j].ks <= 2e-3);
    }
    assert_true(fabs(res.segment_psi) < 1e-12);
    assert_memory_equal(rs, ns, sizeof rs);
    assert_rel(res.new_mean_distance, res.ref_mean_distance, 1e-12);
    assert_true(res.unfit_share > 0 && res.unfit_share <= 0.02);
    assert_int_equal(res.level, CSEG_DRIFT_OK);
    cseg_model_free(m);
    cseg_segment_free(r);
    cseg_table_free(train);
    cseg_table_free(nw);
}

static void test_small(void **state)
{
    (void)state;
    check_case("small", drift_small_psi, drift_small_ks_exact, NULL, drift_small_psi_region,
               drift_small_mean_new, drift_small_missing_new);
}

static void test_large(void **state)
{
    (void)state;
    check_case("large", drift_large_psi, drift_large_ks_exact, drift_large_ks_quantiles,
               drift_large_psi_region, drift_large_mean_new, drift_large_missing_new);
}

/* No reference, a missing column, a column of the wrong type, bad thresholds. */
static void test_errors(void **state)
{
    (void)state;
    cseg_drift_params p;
    cseg_drift_params_init(&p);
    assert_null(cseg_drift_params_check(&p));
    p.psi_alert = 0.05;
    assert_non_null(cseg_drift_params_check(&p));
    p.psi_warn = 0;
    assert_non_null(cseg_drift_params_check(&p));
    cseg_drift_params_init(&p);
    cseg_table *train = read_table(DATA "drift_small_train.csv");
    cseg_segmentation *r = NULL;
    cseg_model *m = fit(train, &r);
    cseg_drift_feature f[4];
    cseg_drift_result res;
    cseg_diag d;
    /* a table without visits, and one with region as numbers */
    size_t n = cseg_table_n_rows(train);
    cseg_table *t = NULL;
    assert_int_equal(cseg_table_create(&t, n), 0);
    for (size_t j = 0; j < 2; j++)
        assert_int_equal(cseg_table_add_numbers(
                             t, numbers[j],
                             cseg_table_numbers(train, (size_t)cseg_table_find(train, numbers[j]))),
                         0);
    long jr = cseg_table_find(train, "region");
    const char *lv[8];
    for (size_t l = 0; l < cseg_table_n_levels(train, (size_t)jr); l++)
        lv[l] = cseg_table_level(train, (size_t)jr, (int32_t)l);
    assert_int_equal(cseg_table_add_text(t, "region", lv, cseg_table_n_levels(train, (size_t)jr),
                                         cseg_table_codes(train, (size_t)jr)),
                     0);
    assert_int_equal(cseg_drift_measure(m, t, &p, f, NULL, NULL, &res, &d), CSEG_ENOCOL);
    assert_non_null(strstr(d.msg, "visits"));
    cseg_table_free(t);
    assert_int_equal(cseg_table_create(&t, n), 0);
    for (size_t j = 0; j < 3; j++)
        assert_int_equal(cseg_table_add_numbers(
                             t, numbers[j],
                             cseg_table_numbers(train, (size_t)cseg_table_find(train, numbers[j]))),
                         0);
    assert_int_equal(cseg_table_add_numbers(t, "region", cseg_table_numbers(train, 1)), 0);
    assert_int_equal(cseg_drift_measure(m, t, &p, f, NULL, NULL, &res, &d), CSEG_EINVAL);
    assert_non_null(strstr(d.msg, "region"));
    p.psi_alert = 0;
    assert_int_equal(cseg_drift_measure(m, train, &p, f, NULL, NULL, &res, &d), CSEG_EINVAL);
    cseg_table_free(t);
    /* A model saved without the reference (as older versions wrote it). */
    char *text = cseg_model_to_json(m);
    char *at = strstr(text, ",\n  \"reference\"");
    assert_non_null(at);
    strcpy(at, "\n}\n");
    cseg_model *old = NULL;
    assert_int_equal(cseg_model_from_json(&old, text, "old.json", &d), 0);
    assert_false(cseg_model_has_reference(old));
    cseg_drift_params_init(&p);
    assert_int_equal(cseg_drift_measure(old, train, &p, f, NULL, NULL, &res, &d), CSEG_ENOTFIT);
    cseg_model_free(old);
    free(text);
    /* A reference whose shares are not shares is refused. */
    text = cseg_model_to_json(m);
    at = strstr(text, "\"segment_shares\": [");
    assert_non_null(at);
    at += strlen("\"segment_shares\": [");
    at += strspn(at, " \n");
    assert_true(at[0] == '0' && at[1] == '.');
    at[0] = '7'; /* a share of 7.x */
    assert_true(cseg_model_from_json(&old, text, "bad.json", &d) < 0);
    assert_non_null(strstr(d.msg, "\"reference\" must describe"));
    free(text);
    /* A column of another kind than the pipeline's is refused too: region as numbers. */
    text = cseg_model_to_json(m);
    json_t *root = json_loads(text, 0, NULL),
           *fs = json_object_get(json_object_get(root, "reference"), "features");
    json_t *reg = json_array_get(fs, 3);
    assert_string_equal(json_string_value(json_object_get(reg, "name")), "region");
    json_object_set_new(reg, "kind", json_string("number"));
    json_object_del(reg, "levels");
    json_object_set_new(reg, "shares", json_pack("[f]", 1.0));
    json_object_set_new(reg, "edges", json_array());
    json_object_set_new(reg, "values", json_array());
    json_object_set_new(reg, "mean", json_null());
    char *swapped = json_dumps(root, JSON_INDENT(2));
    assert_true(cseg_model_from_json(&old, swapped, "bad.json", &d) < 0);
    assert_non_null(strstr(d.msg, "\"reference\" must describe"));
    free(swapped);
    json_decref(root);
    free(text);
    cseg_model_free(m);
    cseg_segment_free(r);
    cseg_table_free(train);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small),
        cmocka_unit_test(test_large),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
