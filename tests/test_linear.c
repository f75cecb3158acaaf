/* Tests for linear.h: the weights and predictions of scikit-learn's
 * LinearSVC(dual=False) (fixtures from tests/reference/make_linear_fixtures.py),
 * errors, a saved model's SVM, and the stratified folds of cseg_split_kfold. */
#include <math.h>

#include "reference/fixtures_linear.h"
#include "util.h"

typedef struct lin_case {
    const char *name;
    double C;
    size_t k;
    const double *class_weight;
    int weighted;
    const double *W;
    const int32_t *pred;
    double accuracy;
} lin_case;

#define CASE(nm, NM)                                                                               \
    {                                                                                              \
#nm, lin_##nm##_C, LIN_##NM##_K, lin_##nm##_class_weight, lin_##nm##_weighted,             \
            lin_##nm##_W, lin_##nm##_pred, lin_##nm##_accuracy                                     \
    }

static const lin_case cases[LIN_N_CASES] = {CASE(c1, C1), CASE(c01, C01),
                                            CASE(c10_weighted, C10_WEIGHTED), CASE(binary, BINARY)};

/* The labels of a case: the four classes, or two (classes 2 and 3 against 0 and 1). */
static void labels(const lin_case *c, const int32_t *y, size_t n, int32_t *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = c->k == 2 ? y[i] >= 2 : y[i];
}

static void test_same_as_sklearn(void **state)
{
    (void)state;
    int32_t y[LIN_N_TRAIN], yt[LIN_N_TEST], pred[LIN_N_TEST];
    double dec[LIN_N_TEST * 4];
    for (size_t ci = 0; ci < LIN_N_CASES; ci++) {
        const lin_case *c = &cases[ci];
        labels(c, lin_y, LIN_N_TRAIN, y);
        labels(c, lin_yt, LIN_N_TEST, yt);
        cseg_linear_params p;
        cseg_linear_params_init(&p);
        p.C = c->C;
        p.eps = LIN_TOL;
        cseg_linear *l = NULL;
        cseg_diag d;
        assert_int_equal(cseg_linear_fit(&l, lin_X, LIN_N_TRAIN, LIN_D, y, c->k,
                                         c->weighted ? c->class_weight : NULL, &p, &d),
                         0);
        assert_int_equal(cseg_linear_k(l), c->k);
        assert_int_equal(cseg_linear_dim(l), LIN_D);
        const double *W = cseg_linear_weights(l);
        double worst = 0;
        for (size_t i = 0; i < c->k * (LIN_D + 1); i++)
            worst = fmax(worst, fabs(W[i] - c->W[i]));
        if (worst > 1e-6)
            fail_msg("%s: a weight differs from scikit-learn's by %g", c->name, worst);
        assert_int_equal(cseg_linear_predict(l, lin_Xt, LIN_N_TEST, pred, dec), 0);
        size_t right = 0;
        for (size_t i = 0; i < LIN_N_TEST; i++) {
            if (pred[i] != c->pred[i])
                fail_msg("%s: test row %zu predicted %d, scikit-learn %d", c->name, i, (int)pred[i],
                         (int)c->pred[i]);
            right += pred[i] == yt[i];
            for (size_t a = 0; a < c->k; a++) /* the decision values give the label */
                assert_true(dec[i * c->k + a] <= dec[i * c->k + (size_t)pred[i]]);
        }
        assert_rel((double)right / LIN_N_TEST, c->accuracy, 1e-12);
        /* The same classifier from its weights. */
        cseg_linear *l2 = NULL;
        int32_t pred2[LIN_N_TEST];
        assert_int_equal(cseg_linear_create(&l2, W, c->k, LIN_D), 0);
        assert_int_equal(cseg_linear_predict(l2, lin_Xt, LIN_N_TEST, pred2, NULL), 0);
        assert_memory_equal(pred, pred2, sizeof pred);
        cseg_linear_free(l2);
        cseg_linear_free(l);
    }
}

static void test_errors(void **state)
{
    (void)state;
    cseg_linear_params p;
    cseg_linear_params_init(&p);
    assert_rel(p.C, 1, 1e-12);
    assert_rel(p.eps, 1e-4, 1e-12);
    assert_null(cseg_linear_params_check(&p));
    p.C = 0;
    assert_non_null(cseg_linear_params_check(&p));
    p.C = 1;
    p.eps = NAN;
    assert_non_null(cseg_linear_params_check(&p));
    cseg_linear_params_init(&p);
    double X[8] = {0, 1, 1, 0, 2, 2, 3, 1};
    int32_t y[4] = {0, 1, 0, 1}, bad[4] = {0, 1, 2, 1};
    cseg_linear *l = (cseg_linear *)1;
    cseg_diag d;
    assert_int_equal(cseg_linear_fit(&l, X, 4, 2, bad, 2, NULL, &p, &d), CSEG_EINVAL);
    assert_null(l);
    assert_int_equal(cseg_linear_fit(&l, X, 4, 2, y, 3, NULL, &p, &d), CSEG_EINVAL); /* class 2 */
    assert_non_null(strstr(d.msg, "segment 3 has no customers to learn from")); /* from 1 */
    X[5] = NAN;
    assert_int_equal(cseg_linear_fit(&l, X, 4, 2, y, 2, NULL, &p, &d), CSEG_EINVAL);
    assert_int_equal(d.line, 3);
    X[5] = 2;
    double cw[2] = {1, 0};
    assert_int_equal(cseg_linear_fit(&l, X, 4, 2, y, 2, cw, &p, &d), CSEG_EINVAL);
    assert_int_equal(cseg_linear_fit(&l, X, 0, 2, y, 2, NULL, &p, &d), CSEG_EINVAL);
    p.C = -1;
    assert_int_equal(cseg_linear_fit(&l, X, 4, 2, y, 2, NULL, &p, &d), CSEG_EINVAL);
    double W[3] = {1, INFINITY, 0};
    assert_int_equal(cseg_linear_create(&l, W, 1, 2), CSEG_EINVAL);
    assert_int_equal(cseg_linear_create(&l, W, 0, 2), CSEG_EINVAL);
    cseg_linear_free(NULL);
}

/* Folds: each row in one, sizes within one of n / folds, each class spread
 * as evenly, and the same folds from the same seed. */
static void test_kfold(void **state)
{
    (void)state;
    enum { N = 103, K = 3, F = 5 };
    int32_t y[N];
    for (size_t i = 0; i < N; i++)
        y[i] = i % 7 == 0 ? 2 : (int32_t)(i % 2); /* classes of 15, 44 and 44 rows */
    uint32_t a[N], b[N];
    assert_int_equal(cseg_split_kfold(y, N, K, F, 42, a), 0);
    assert_int_equal(cseg_split_kfold(y, N, K, F, 42, b), 0);
    assert_memory_equal(a, b, sizeof a);
    size_t size[F] = {0}, per[K][F];
    memset(per, 0, sizeof per);
    for (size_t i = 0; i < N; i++) {
        assert_true(a[i] < F);
        size[a[i]]++;
        per[y[i]][a[i]]++;
    }
    for (size_t f = 0; f < F; f++)
        assert_true(size[f] == N / F || size[f] == N / F + 1);
    for (size_t c = 0; c < K; c++) {
        size_t lo = N, hi = 0;
        for (size_t f = 0; f < F; f++) {
            lo = per[c][f] < lo ? per[c][f] : lo;
            hi = per[c][f] > hi ? per[c][f] : hi;
        }
        assert_true(hi - lo <= 1);
    }
    assert_int_equal(cseg_split_kfold(y, N, K, F, 43, b), 0);
    assert_true(memcmp(a, b, sizeof a) != 0); /* another seed, other folds */
    assert_int_equal(cseg_split_kfold(y, N, K, 1, 0, b), CSEG_EINVAL);
    assert_int_equal(cseg_split_kfold(y, 4, K, 5, 0, b), CSEG_EINVAL);
    y[3] = 3;
    assert_int_equal(cseg_split_kfold(y, N, K, F, 0, b), CSEG_EINVAL);
}

/* An SVM kept in a model: classify, save, load, the same segments; a model
 * with a forest loses it to the SVM. */
static void test_model_round_trip(void **state)
{
    (void)state;
    cseg_table *txn = NULL;
    cseg_segmentation *r = NULL;
    cseg_model *m = NULL;
    double *Z = NULL;
    small_model(&txn, &r, &m, &Z);
    cseg_diag d;
    char *text;
    const cseg_table *ct = cseg_segment_table(r);
    size_t n = cseg_segment_n(r), dim = cseg_model_dim(m);
    int32_t *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b), *c = malloc(n * sizeof *c);
    cseg_linear_params lp;
    cseg_linear_params_init(&lp);
    cseg_linear *l = NULL, *wrong = NULL;
    assert_int_equal(cseg_linear_fit(&l, Z, n, dim, cseg_segment_labels(r), 3, NULL, &lp, &d), 0);
    assert_int_equal(cseg_linear_predict(l, Z, n, c, NULL), 0);
    double W[4 * 2] = {0};
    assert_int_equal(cseg_linear_create(&wrong, W, 4, 1), 0);
    assert_int_equal(cseg_model_set_svm(m, wrong), CSEG_EINVAL); /* 4 classes, 1 feature */
    cseg_forest_params fp;
    cseg_forest_params_init(&fp);
    fp.n_estimators = 3;
    cseg_forest *f = NULL;
    assert_int_equal(cseg_forest_fit(&f, Z, n, dim, cseg_segment_labels(r), 3, NULL, NULL, &fp, &d),
                     0);
    assert_int_equal(cseg_model_set_classifier(m, "forest", f), 0);
    assert_int_equal(cseg_model_set_svm(m, l), 0);
    assert_null(cseg_model_classifier(m));
    assert_string_equal(cseg_model_classifier_kind(m), "svm");
    assert_int_equal(cseg_model_classify(m, ct, a, NULL, &d), 0);
    assert_memory_equal(a, c, n * sizeof *a); /* the SVM's own predictions */
    text = cseg_model_to_json(m);
    cseg_model *m2 = NULL;
    assert_int_equal(cseg_model_from_json(&m2, text, "model.json", &d), 0);
    assert_string_equal(cseg_model_classifier_kind(m2), "svm");
    assert_memory_equal(cseg_linear_weights(cseg_model_svm(m2)), cseg_linear_weights(l),
                        3 * (dim + 1) * sizeof(double));
    assert_int_equal(cseg_model_classify(m2, ct, b, NULL, &d), 0);
    assert_memory_equal(a, b, n * sizeof *a);
    /* A weight that is not a number is refused with the key named. */
    char *at = strstr(text, "\"weights\"");
    assert_non_null(at);
    at = strchr(strchr(at, '[') + 1, '[') + 1; /* the first row's first value */
    size_t len = strlen(text), pre = (size_t)(at - text);
    char *bad = malloc(len + 8);
    memcpy(bad, text, pre);
    memcpy(bad + pre, "\"x\", ", 5);
    memcpy(bad + pre + 5, at, len - pre + 1);
    cseg_model *m3 = NULL;
    assert_true(cseg_model_from_json(&m3, bad, "model.json", &d) < 0);
    assert_non_null(strstr(d.msg, "classifier.weights"));
    free(bad);
    free(text);
    free(Z);
    free(a);
    free(b);
    free(c);
    cseg_model_free(m);
    cseg_model_free(m2);
    cseg_segment_free(r);
    cseg_table_free(txn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_as_sklearn),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_kfold),
        cmocka_unit_test(test_model_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
