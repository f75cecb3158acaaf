/* Tests for explain.h: the per-feature parts of a customer's decision add
 * up to the difference of squared distances and name the true runner-up;
 * the surrogate rules recover segments that are rules; models without
 * centres are refused. */
#include <math.h>

#include "util.h"

#define MALL CSEG_SOURCE_DIR "/data/mall_customers.csv"

static cseg_segmentation *fit(const cseg_table *t, const char *id, size_t k, cseg_algo algo)
{
    cseg_segment_params sp;
    cseg_segment_params_init(&sp);
    sp.k = algo == CSEG_ALGO_DBSCAN ? 0 : k;
    sp.algo = algo;
    sp.n_threads = 1;
    cseg_segmentation *r = NULL;
    cseg_diag d;
    if (cseg_segment_customers(&r, t, id, &sp, &d) < 0)
        fail_msg("fit: %s", d.msg);
    return r;
}

static void test_decomposition(void **state)
{
    (void)state;
    cseg_table *t = read_csv_text_id(MALL, "CustomerID");
    for (int h = 0; h < 2; h++) {
        cseg_segmentation *r = fit(t, "CustomerID", 5, h ? CSEG_ALGO_HCLUST : CSEG_ALGO_KMEANS);
        const cseg_model *m = cseg_segment_model(r);
        size_t n = cseg_table_n_rows(t), k = 5, dim = cseg_model_dim(m),
               nf = cseg_explain_n_features(m);
        assert_int_equal(nf, 4); /* Genre's two one-hot features are one column */
        assert_string_equal(cseg_explain_feature_name(m, 0), "Genre");
        int32_t *seg = malloc(n * sizeof *seg), *run = malloc(n * sizeof *run),
                *lab = malloc(n * sizeof *lab);
        double *c = malloc(n * nf * sizeof *c), *Z = malloc(n * dim * sizeof *Z);
        cseg_diag d;
        assert_int_equal(cseg_explain_customers(m, t, seg, run, c, &d), 0);
        assert_int_equal(cseg_model_transform(m, t, Z, &d), 0);
        assert_int_equal(cseg_model_predict(m, Z, n, lab, NULL, NULL), 0);
        const double *C = cseg_kmeans_centroids(cseg_model_kmeans(m));
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(seg[i], lab[i]);
            double d2[5];
            for (size_t s = 0; s < k; s++) {
                d2[s] = 0;
                for (size_t j = 0; j < dim; j++)
                    d2[s] += (Z[i * dim + j] - C[s * dim + j]) * (Z[i * dim + j] - C[s * dim + j]);
            }
            assert_true(run[i] >= 0 && run[i] != seg[i]);
            for (size_t s = 0; s < k; s++) /* the runner-up is the next nearest */
                if ((int32_t)s != seg[i])
                    assert_true(d2[run[i]] <= d2[s]);
            double sum = 0;
            for (size_t f = 0; f < nf; f++)
                sum += c[i * nf + f];
            assert_true(fabs(sum - (d2[run[i]] - d2[seg[i]])) <= 1e-9 * (1 + fabs(sum)));
            assert_true(sum >= 0); /* the segment is the nearer */
        }
        free(seg), free(run), free(lab), free(c), free(Z);
        cseg_segment_free(r);
    }
    cseg_table_free(t);
}

/* Above CSEG_RULES_MAX_ROWS customers the tree grows on every m-th one (here
 * every 3rd: rows 0, 3, 6, ...) and the figures count every customer. The
 * rows the sample skips at i % 3 == 1 with x < 300 are in segment 1, not 0:
 * the grown tree cannot see them, the counts must. */
static void test_rules_sampled(void **state)
{
    (void)state;
    size_t n = 2 * CSEG_RULES_MAX_ROWS + 3;
    double *x = malloc(n * sizeof *x);
    int32_t *lab = malloc(n * sizeof *lab);
    assert_non_null(x);
    assert_non_null(lab);
    size_t low = 0, moved = 0, mid = 0;
    for (size_t i = 0; i < n; i++) {
        x[i] = (double)(i % 1000);
        lab[i] = x[i] < 300 ? 0 : x[i] < 700 ? 1 : 2;
        if (x[i] < 300 && i % 3 == 1) {
            lab[i] = 1;
            moved++;
        }
        low += x[i] < 300;
        mid += x[i] >= 300 && x[i] < 700;
    }
    cseg_table *t = NULL;
    assert_int_equal(cseg_table_create(&t, n), 0);
    assert_int_equal(cseg_table_add_numbers(t, "x", x), 0);
    cseg_segmentation *r = fit(t, NULL, 3, CSEG_ALGO_KMEANS);
    cseg_rules rules;
    cseg_diag d;
    assert_int_equal(cseg_explain_rules(cseg_segment_model(r), t, lab, 3, &rules, &d), 0);
    assert_int_equal(rules.n, 3);
    assert_string_equal(rules.rule[0].text, "x <= 299.5");
    assert_int_equal(rules.rule[0].support, low);
    assert_rel(rules.rule[0].precision, (double)(low - moved) / (double)low, 1e-15);
    assert_rel(rules.rule[0].recall, 1, 0);
    assert_string_equal(rules.rule[1].text, "x > 299.5 and x <= 699.5");
    assert_int_equal(rules.rule[1].support, mid);
    assert_rel(rules.rule[1].precision, 1, 0);
    assert_rel(rules.rule[1].recall, (double)mid / (double)(mid + moved), 1e-15);
    assert_rel(rules.fidelity, (double)(n - moved) / (double)n, 1e-15);
    cseg_rules_free(&rules);
    cseg_segment_free(r);
    cseg_table_free(t);
    free(x), free(lab);
}

/* Segments that are rules: x <= 10; x > 10 and g is b; x > 10 and g is not b. */
static void test_rules(void **state)
{
    (void)state;
    enum { N = 300 };
    double x[N], y[N];
    int32_t g[N], lab[N];
    const char *lv[3] = {"a", "b", "c"};
    for (size_t i = 0; i < N; i++) {
        x[i] = (double)(i % 21);
        y[i] = (double)((i * 7) % 13);
        g[i] = (int32_t)((i / 21) % 3);
        lab[i] = x[i] <= 10 ? 0 : g[i] == 1 ? 1 : 2;
    }
    cseg_table *t = NULL;
    assert_int_equal(cseg_table_create(&t, N), 0);
    assert_int_equal(cseg_table_add_numbers(t, "x", x), 0);
    assert_int_equal(cseg_table_add_numbers(t, "y", y), 0);
    assert_int_equal(cseg_table_add_text(t, "g", lv, 3, g), 0);
    cseg_segmentation *r = fit(t, NULL, 3, CSEG_ALGO_KMEANS);
    cseg_rules rules;
    cseg_diag d;
    assert_int_equal(cseg_explain_rules(cseg_segment_model(r), t, lab, 3, &rules, &d), 0);
    assert_rel(rules.fidelity, 1, 1e-12);
    assert_int_equal(rules.n, 3);
    static const char *const want[3] = {"x <= 10.5", "x > 10.5 and g is b",
                                        "x > 10.5 and g is not b"};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(rules.rule[i].segment, (int32_t)i);
        assert_string_equal(rules.rule[i].text, want[i]);
        assert_rel(rules.rule[i].precision, 1, 0);
        assert_rel(rules.rule[i].recall, 1, 0);
    }
    assert_int_equal(rules.rule[0].support, 160); /* i % 21 <= 10 for 14 x 11 + 6 rows */
    cseg_rules_free(&rules);
    lab[0] = 3;
    assert_int_equal(cseg_explain_rules(cseg_segment_model(r), t, lab, 3, &rules, &d), CSEG_EINVAL);
    cseg_segment_free(r);
    cseg_table_free(t);
}

/* Shuffling a column the segments rest on moves many customers, a constant
 * column none; the same seed gives the same figures. */
static void test_importance(void **state)
{
    (void)state;
    enum { N = 400 };
    double x[N], c[N];
    for (size_t i = 0; i < N; i++) {
        x[i] = (double)(i % 4) * 10 + (double)(i % 7) * 0.1;
        c[i] = 3;
    }
    cseg_table *t = NULL;
    assert_int_equal(cseg_table_create(&t, N), 0);
    assert_int_equal(cseg_table_add_numbers(t, "x", x), 0);
    assert_int_equal(cseg_table_add_numbers(t, "c", c), 0);
    cseg_segmentation *r = fit(t, NULL, 4, CSEG_ALGO_KMEANS);
    double imp[2], sd[2], imp2[2];
    cseg_diag d;
    assert_int_equal(cseg_explain_importance(cseg_segment_model(r), t, 5, 0, 9, imp, sd, &d), 0);
    assert_true(imp[0] > 0.5 && imp[0] <= 1);
    assert_true(imp[1] == 0 && sd[1] == 0);
    assert_int_equal(cseg_explain_importance(cseg_segment_model(r), t, 5, 0, 9, imp2, NULL, &d), 0);
    assert_memory_equal(imp, imp2, sizeof imp);
    /* on every 3rd customer only: still the same picture */
    assert_int_equal(cseg_explain_importance(cseg_segment_model(r), t, 5, 150, 9, imp2, NULL, &d),
                     0);
    assert_true(imp2[0] > 0.5 && imp2[1] == 0);
    cseg_segment_free(r);
    cseg_table_free(t);
}

static void test_refused(void **state)
{
    (void)state;
    cseg_table *t = read_csv_text_id(MALL, "CustomerID");
    cseg_segmentation *r = fit(t, "CustomerID", 0, CSEG_ALGO_DBSCAN);
    size_t n = cseg_table_n_rows(t);
    int32_t *seg = malloc(n * sizeof *seg), *run = malloc(n * sizeof *run);
    cseg_diag d;
    assert_int_equal(cseg_explain_customers(cseg_segment_model(r), t, seg, run, NULL, &d),
                     CSEG_EPARAM);
    assert_non_null(strstr(d.msg, "centres"));
    free(seg), free(run);
    cseg_segment_free(r);
    cseg_table_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decomposition),
        cmocka_unit_test(test_rules), cmocka_unit_test(test_rules_sampled),
        cmocka_unit_test(test_importance),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
