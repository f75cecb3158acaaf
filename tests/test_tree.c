/* Tests for tree.h: the same trees as scikit-learn's DecisionTreeClassifier
 * (fixtures from tests/reference/make_tree_fixtures.py), errors, subsets of
 * features from a seed. */
#include <math.h>

#include "util.h"
#include "reference/fixtures_tree.h"

/* Internal (src/tree/internal.h); the static library exports it. */
int cseg__tree_accumulate(const cseg_tree *t, const float *Xc, size_t m, double *acc,
                          uint32_t *scratch, int vector);

typedef struct tree_case {
    const char *name;
    cseg_tree_criterion criterion;
    size_t max_depth, min_samples_leaf, min_samples_split;
    const double *class_weight;
    size_t n_nodes, depth;
    const int32_t *left, *right, *feature;
    const double *threshold, *impurity;
    const size_t *samples;
    const double *weighted, *value;
    const int32_t *predict;
    const double *proba;
} tree_case;

static const double weighted_cw[TREE_K] = {1.0, 2.5, 0.5, 1.0};

#define CASE(nm, crit, depth, leaf, split, cw)                                                    \
    {#nm,                                                                                          \
     crit,                                                                                         \
     depth,                                                                                        \
     leaf,                                                                                         \
     split,                                                                                        \
     cw,                                                                                           \
     tree_##nm##_n_nodes,                                                                          \
     tree_##nm##_depth,                                                                            \
     tree_##nm##_left,                                                                             \
     tree_##nm##_right,                                                                            \
     tree_##nm##_feature,                                                                          \
     tree_##nm##_threshold,                                                                        \
     tree_##nm##_impurity,                                                                         \
     tree_##nm##_samples,                                                                          \
     tree_##nm##_weighted,                                                                         \
     tree_##nm##_value,                                                                            \
     tree_##nm##_predict,                                                                          \
     tree_##nm##_proba}

/* Every node as scikit-learn has it: structure, features and thresholds
 * exactly; impurities and weighted counts to rounding. */
static void check_case(const tree_case *c)
{
    cseg_tree_params p;
    cseg_tree_params_init(&p);
    p.criterion = c->criterion;
    p.max_depth = c->max_depth;
    p.min_samples_leaf = c->min_samples_leaf;
    p.min_samples_split = c->min_samples_split;
    cseg_tree *t = NULL;
    cseg_diag d;
    if (cseg_tree_fit(&t, tree_X, TREE_N, TREE_D, tree_y, TREE_K, c->class_weight, NULL, &p, &d) < 0)
        fail_msg("%s: %s", c->name, d.msg);
    if (cseg_tree_n_nodes(t) != c->n_nodes)
        fail_msg("%s: %zu nodes, scikit-learn %zu", c->name, cseg_tree_n_nodes(t), c->n_nodes);
    assert_int_equal(cseg_tree_depth(t), c->depth);
    const cseg_tree_node *nd = cseg_tree_nodes(t);
    const double *val = cseg_tree_values(t);
    for (size_t i = 0; i < c->n_nodes; i++) {
        if (nd[i].left != c->left[i] || nd[i].right != c->right[i] ||
            nd[i].feature != c->feature[i] || nd[i].threshold != c->threshold[i])
            fail_msg("%s node %zu: (%d, %d, feature %d, threshold %.17g), scikit-learn (%d, %d, "
                     "feature %d, threshold %.17g)",
                     c->name, i, nd[i].left, nd[i].right, nd[i].feature, nd[i].threshold,
                     c->left[i], c->right[i], c->feature[i], c->threshold[i]);
        assert_int_equal(nd[i].n_samples, c->samples[i]);
        assert_true(fabs(nd[i].impurity - c->impurity[i]) <= 1e-12);
        assert_true(fabs(nd[i].weighted_n_samples - c->weighted[i]) <= 1e-9 * c->weighted[i]);
        for (size_t k = 0; k < TREE_K; k++)
            assert_true(fabs(val[i * TREE_K + k] - c->value[i * TREE_K + k]) <= 1e-9);
    }
    int32_t labels[TREE_NT];
    double proba[TREE_NT * TREE_K];
    assert_int_equal(cseg_tree_predict(t, tree_Xt, TREE_NT, labels, proba), 0);
    for (size_t i = 0; i < TREE_NT; i++) {
        if (labels[i] != c->predict[i])
            fail_msg("%s: test row %zu predicted %d, scikit-learn %d", c->name, i, labels[i],
                     c->predict[i]);
        for (size_t k = 0; k < TREE_K; k++)
            assert_true(fabs(proba[i * TREE_K + k] - c->proba[i * TREE_K + k]) <= 1e-12);
    }
    cseg_tree_free(t);
}

static void test_same_as_sklearn(void **state)
{
    (void)state;
    const tree_case cases[] = {
        CASE(gini_d4, CSEG_TREE_GINI, 4, 5, 2, NULL),
        CASE(entropy_d5, CSEG_TREE_ENTROPY, 5, 8, 2, NULL),
        CASE(gini_weighted, CSEG_TREE_GINI, 4, 10, 30, weighted_cw),
        CASE(gini_leaf25, CSEG_TREE_GINI, 0, 25, 2, NULL),
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_case(&cases[i]);
}

/* Bad input is refused, naming the row. */
static void test_errors(void **state)
{
    (void)state;
    cseg_tree_params p;
    cseg_tree_params_init(&p);
    cseg_tree *t = NULL;
    cseg_diag d;
    double X[6] = {1, 2, 3, NAN, 5, 6};
    int32_t y[3] = {0, 1, 0}, ybad[3] = {0, 2, 0};
    assert_int_equal(cseg_tree_fit(&t, X, 3, 2, y, 2, NULL, NULL, &p, &d), CSEG_EINVAL);
    assert_int_equal(d.line, 2);
    X[3] = 4;
    assert_int_equal(cseg_tree_fit(&t, X, 3, 2, ybad, 2, NULL, NULL, &p, &d), CSEG_EINVAL);
    assert_int_equal(d.line, 2);
    double w[3] = {1, -1, 1};
    assert_int_equal(cseg_tree_fit(&t, X, 3, 2, y, 2, NULL, w, &p, &d), CSEG_EINVAL);
    p.min_samples_leaf = 0;
    assert_int_equal(cseg_tree_fit(&t, X, 3, 2, y, 2, NULL, NULL, &p, &d), CSEG_EINVAL);
    assert_null(t);
    /* one class: a single leaf */
    cseg_tree_params_init(&p);
    int32_t y0[3] = {1, 1, 1};
    assert_int_equal(cseg_tree_fit(&t, X, 3, 2, y0, 2, NULL, NULL, &p, &d), 0);
    assert_int_equal(cseg_tree_n_nodes(t), 1);
    int32_t lab;
    assert_int_equal(cseg_tree_predict(t, X, 1, &lab, NULL), 0);
    assert_int_equal(lab, 1);
    cseg_tree_free(t);
}

/* The same nodes: children, features, thresholds. */
static int same_splits(const cseg_tree *a, const cseg_tree *b)
{
    if (cseg_tree_n_nodes(a) != cseg_tree_n_nodes(b))
        return 0;
    const cseg_tree_node *x = cseg_tree_nodes(a), *y = cseg_tree_nodes(b);
    for (size_t i = 0; i < cseg_tree_n_nodes(a); i++)
        if (x[i].left != y[i].left || x[i].feature != y[i].feature ||
            x[i].threshold != y[i].threshold)
            return 0;
    return 1;
}

/* A subset of features per split: the seed decides it; the same seed gives
 * the same tree, and the tree still learns. */
static void test_feature_subsets(void **state)
{
    (void)state;
    cseg_tree_params p;
    cseg_tree_params_init(&p);
    p.max_features = 2;
    p.min_samples_leaf = 5;
    cseg_tree *a = NULL, *b = NULL, *c = NULL;
    cseg_diag d;
    p.seed = 1;
    assert_int_equal(cseg_tree_fit(&a, tree_X, TREE_N, TREE_D, tree_y, TREE_K, NULL, NULL, &p, &d), 0);
    assert_int_equal(cseg_tree_fit(&b, tree_X, TREE_N, TREE_D, tree_y, TREE_K, NULL, NULL, &p, &d), 0);
    p.seed = 2;
    assert_int_equal(cseg_tree_fit(&c, tree_X, TREE_N, TREE_D, tree_y, TREE_K, NULL, NULL, &p, &d), 0);
    assert_true(same_splits(a, b));
    assert_false(same_splits(a, c));
    /* grown out to leaves of 5, it fits its training set as scikit-learn's
     * does (max_features=2, min_samples_leaf=5: 73-75% for random_state 0..2) */
    int32_t *lab = malloc(TREE_N * sizeof *lab);
    assert_int_equal(cseg_tree_predict(a, tree_X, TREE_N, lab, NULL), 0);
    size_t right = 0;
    for (size_t i = 0; i < TREE_N; i++)
        right += lab[i] == tree_y[i];
    assert_true(right > TREE_N * 7 / 10);
    free(lab);
    cseg_tree_free(a);
    cseg_tree_free(b);
    cseg_tree_free(c);
}

/* ---- random forests ---- */

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double unif(uint64_t *s)
{
    return (double)(splitmix(s) >> 11) * (1.0 / 9007199254740992.0);
}

/* The rows of make_tree_fixtures.py's forest_rows (the same arithmetic, in
 * the same order) and their classes by the fixture's cuts. */
static void forest_rows(size_t n, uint64_t seed, double *X, int32_t *y)
{
    for (size_t r = 0; r < n; r++) {
        double a = unif(&seed), b = unif(&seed), c = unif(&seed), e = unif(&seed), f = unif(&seed);
        double h = unif(&seed), i = unif(&seed), j = unif(&seed), k = unif(&seed), m = unif(&seed);
        double *x = X + r * FOREST_D;
        x[0] = 100.0 * a * a;
        x[1] = 3.0 * (b + c + e + f);
        x[2] = 1000.0 * h * h * h;
        x[3] = i + j + k - 1.5;
        x[4] = 6.0 * m - 3.0;
        double u1 = unif(&seed), u2 = unif(&seed);
        double noise = u1 + u2 - 1.0;
        double score = -0.02 * x[0] + 0.4 * x[1] + 0.002 * x[2] + 0.5 * x[3] + 0.3 * x[4] +
                       1.5 * noise;
        y[r] = (score > forest_cuts[0]) + (score > forest_cuts[1]) + (score > forest_cuts[2]);
    }
}

/* Test accuracy within a point of scikit-learn's RandomForestClassifier
 * (100 trees, sqrt features, bootstrap), each the mean over three seeds; the
 * same forest on 1 and 2 threads. */
static void test_forest_accuracy(void **state)
{
    (void)state;
    double *X = malloc(FOREST_N * FOREST_D * sizeof *X), *Xt = malloc(FOREST_N * FOREST_D * sizeof *Xt);
    int32_t *y = malloc(FOREST_N * sizeof *y), *yt = malloc(FOREST_N * sizeof *yt),
            *pred = malloc(FOREST_N * sizeof *pred), *pred2 = malloc(FOREST_N * sizeof *pred2);
    assert_non_null(X && Xt && y && yt && pred && pred2);
    forest_rows(FOREST_N, 21, X, y);
    forest_rows(FOREST_N, 22, Xt, yt);
    assert_memory_equal(X, forest_X_head, sizeof forest_X_head); /* the generator agrees */
    assert_memory_equal(y, forest_y_head, sizeof forest_y_head);
    double ours = 0, theirs = 0;
    for (size_t s = 0; s < FOREST_SEEDS; s++) {
        cseg_forest_params p;
        cseg_forest_params_init(&p);
        p.seed = s;
        p.n_threads = 2;
        cseg_forest *f = NULL;
        cseg_diag d;
        assert_int_equal(cseg_forest_fit(&f, X, FOREST_N, FOREST_D, y, 4, NULL, NULL, &p, &d), 0);
        assert_int_equal(cseg_forest_predict(f, Xt, FOREST_N, pred, NULL), 0);
        size_t right = 0;
        for (size_t i = 0; i < FOREST_N; i++)
            right += pred[i] == yt[i];
        ours += (double)right / FOREST_N / FOREST_SEEDS;
        theirs += forest_sklearn_accuracy[s] / FOREST_SEEDS;
        for (int nt = 1; s == 0 && nt <= 8; nt *= 8) { /* 1 and 8 threads: the same trees */
            cseg_forest *g = NULL;
            p.n_threads = nt;
            assert_int_equal(cseg_forest_fit(&g, X, FOREST_N, FOREST_D, y, 4, NULL, NULL, &p, &d), 0);
            for (size_t t = 0; t < cseg_forest_n_trees(f); t++)
                assert_true(same_splits(cseg_forest_tree(f, t), cseg_forest_tree(g, t)));
            assert_int_equal(cseg_forest_predict(g, Xt, FOREST_N, pred2, NULL), 0);
            assert_memory_equal(pred, pred2, FOREST_N * sizeof *pred);
            cseg_forest_free(g);
        }
        cseg_forest_free(f);
    }
    print_message("forest test accuracy %.4f, scikit-learn %.4f\n", ours, theirs);
    assert_true(fabs(ours - theirs) <= 0.01);
    free(X);
    free(Xt);
    free(y);
    free(yt);
    free(pred);
    free(pred2);
}

/* The mean of the forest's trees' class shares for X's n rows, summed in
 * tree order, from each tree's own walk (cseg_tree_predict). */
static void trees_mean(const cseg_forest *f, const double *X, size_t n, size_t k, double *mean)
{
    int32_t *lab = malloc(n * sizeof *lab);
    double *tp = malloc(n * k * sizeof *tp);
    assert_non_null(lab && tp);
    memset(mean, 0, n * k * sizeof *mean);
    for (size_t t = 0; t < cseg_forest_n_trees(f); t++) {
        assert_int_equal(cseg_tree_predict(cseg_forest_tree(f, t), X, n, lab, tp), 0);
        for (size_t i = 0; i < n * k; i++)
            mean[i] += tp[i];
    }
    for (size_t i = 0; i < n * k; i++)
        mean[i] /= (double)cseg_forest_n_trees(f);
    free(lab);
    free(tp);
}

/* The forest's prediction moves rows down a tree by splitting them node by
 * node (with AVX-512 where there is one, else scalar); it must give every
 * row the leaf cseg_tree_predict's walk gives it, bit for bit: the
 * forest's shares equal the mean of its trees' in tree order, and both
 * splitters give the same sums. Rows with NaN features go right, as in
 * the walk. */
static void test_forest_split_walk(void **state)
{
    (void)state;
    enum { N = 20000, D = FOREST_D, K = 4, TREES = 5 };
    double *X = malloc(N * D * sizeof *X), *proba = malloc(N * K * sizeof *proba),
           *mean = malloc(N * K * sizeof *mean),
           *acc[2] = {calloc(N * K, sizeof(double)), calloc(N * K, sizeof(double))};
    int32_t *y = malloc(N * sizeof *y), *lab = malloc(N * sizeof *lab);
    float *Xc = malloc(N * D * sizeof *Xc);
    uint32_t *scratch = malloc(6 * N * sizeof *scratch);
    assert_non_null(X && proba && mean && acc[0] && acc[1] && y && lab && Xc && scratch);
    forest_rows(N, 5, X, y);
    cseg_forest_params p;
    cseg_forest_params_init(&p);
    p.n_estimators = TREES;
    p.n_threads = 2;
    cseg_forest *f = NULL;
    cseg_diag d;
    assert_int_equal(cseg_forest_fit(&f, X, N, D, y, K, NULL, NULL, &p, &d), 0);
    /* After the fit: a few NaNs, and values equal to thresholds (as a tree
     * compares them: the largest float at most the node's threshold), which
     * go left. */
    const cseg_tree_node *nd = cseg_tree_nodes(cseg_forest_tree(f, 0));
    size_t nn = cseg_tree_n_nodes(cseg_forest_tree(f, 0)), n_tie = 0;
    for (size_t i = 0; i < N; i++) {
        const cseg_tree_node *q = &nd[i * 31 % nn];
        if (i % 97 == 0) {
            X[i * D + i % D] = NAN;
        } else if (i % 3 == 0 && q->left >= 0) {
            float th = (float)q->threshold;
            if ((double)th > q->threshold)
                th = nextafterf(th, -INFINITY);
            X[i * D + (size_t)q->feature] = (double)th;
            n_tie++;
        }
    }
    assert_true(n_tie > 1000);
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < D; j++)
            Xc[j * N + i] = (float)X[i * D + j];
    for (size_t t = 0; t < TREES; t++) {
        const cseg_tree *tr = cseg_forest_tree(f, t);
        assert_true(cseg_tree_depth(tr) > 8); /* deep enough to split, then walk */
        for (int v = 0; v < 2; v++)
            assert_int_equal(cseg__tree_accumulate(tr, Xc, N, acc[v], scratch, v), 0);
        assert_memory_equal(acc[0], acc[1], N * K * sizeof(double));
    }
    assert_int_equal(cseg_forest_predict(f, X, N, lab, proba), 0);
    trees_mean(f, X, N, K, mean);
    assert_memory_equal(proba, mean, N * K * sizeof *proba);
    cseg_forest_free(f);
    free(X);
    free(proba);
    free(mean);
    free(acc[0]);
    free(acc[1]);
    free(y);
    free(lab);
    free(Xc);
    free(scratch);
}

/* More rows than a prediction block (131,072): the blocks' rows and sums
 * meet the right rows (shallow trees, to keep the test short). */
static void test_forest_blocks(void **state)
{
    (void)state;
    enum { N = 140000, D = FOREST_D, K = 4, TREES = 3 };
    double *X = malloc(N * D * sizeof *X), *proba = malloc(N * K * sizeof *proba),
           *mean = malloc(N * K * sizeof *mean);
    int32_t *y = malloc(N * sizeof *y), *lab = malloc(N * sizeof *lab);
    assert_non_null(X && proba && mean && y && lab);
    forest_rows(N, 9, X, y);
    cseg_forest_params p;
    cseg_forest_params_init(&p);
    p.n_estimators = TREES;
    p.tree.max_depth = 8;
    cseg_forest *f = NULL;
    cseg_diag d;
    assert_int_equal(cseg_forest_fit(&f, X, N, D, y, K, NULL, NULL, &p, &d), 0);
    assert_int_equal(cseg_forest_predict(f, X, N, lab, proba), 0);
    trees_mean(f, X, N, K, mean);
    assert_memory_equal(proba, mean, N * K * sizeof *proba);
    cseg_forest_free(f);
    free(X);
    free(proba);
    free(mean);
    free(y);
    free(lab);
}

/* A classifier's scores: scikit-learn's, with classes never true, never
 * predicted, or neither. */
static void test_classification_scores(void **state)
{
    (void)state;
    cseg_class_scores sc;
    size_t cm[SCORES_K * SCORES_K], sup[SCORES_K];
    double pr[SCORES_K], rc[SCORES_K], f1[SCORES_K];
    assert_int_equal(cseg_metrics_classification(scores_truth, scores_pred, SCORES_N, SCORES_K, &sc,
                                                 cm, pr, rc, f1, sup),
                     0);
    assert_true(fabs(sc.accuracy - scores_accuracy) <= 1e-12);
    assert_true(fabs(sc.macro_precision - scores_macro_precision) <= 1e-12);
    assert_true(fabs(sc.macro_recall - scores_macro_recall) <= 1e-12);
    assert_true(fabs(sc.macro_f1 - scores_macro_f1) <= 1e-12);
    assert_true(fabs(sc.weighted_f1 - scores_weighted_f1) <= 1e-12);
    assert_memory_equal(cm, scores_confusion, sizeof cm);
    assert_memory_equal(sup, scores_support, sizeof sup);
    for (size_t c = 0; c < SCORES_K; c++) {
        assert_true(fabs(pr[c] - scores_precision[c]) <= 1e-12);
        assert_true(fabs(rc[c] - scores_recall[c]) <= 1e-12);
        assert_true(fabs(f1[c] - scores_f1[c]) <= 1e-12);
    }
    int32_t bad[2] = {0, SCORES_K};
    assert_int_equal(cseg_metrics_classification(bad, bad, 2, SCORES_K, &sc, NULL, NULL, NULL, NULL,
                                                 NULL),
                     CSEG_EINVAL);
}

/* A model keeps its classifier through model.json: the same segments after
 * a round trip; a classifier of other classes or dimension is refused. */
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
    int32_t *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    cseg_forest_params fp;
    cseg_forest_params_init(&fp);
    fp.n_estimators = 7;
    cseg_forest *f = NULL, *wrong = NULL;
    assert_int_equal(cseg_forest_fit(&f, Z, n, dim, cseg_segment_labels(r), 3, NULL, NULL, &fp, &d),
                     0);
    assert_int_equal(cseg_forest_fit(&wrong, Z, n, dim, cseg_segment_labels(r), 4, NULL, NULL, &fp,
                                     &d),
                     0);
    assert_int_equal(cseg_model_set_classifier(m, "forest", wrong), CSEG_EINVAL); /* 4 classes */
    assert_int_equal(cseg_model_set_classifier(m, "forest", f), 0);
    assert_int_equal(cseg_model_classify(m, ct, a, NULL, &d), 0);
    text = cseg_model_to_json(m);
    cseg_model *m2 = NULL;
    assert_int_equal(cseg_model_from_json(&m2, text, "model.json", &d), 0);
    free(text);
    assert_string_equal(cseg_model_classifier_kind(m2), "forest");
    assert_int_equal(cseg_forest_n_trees(cseg_model_classifier(m2)), 7);
    assert_int_equal(cseg_model_classify(m2, ct, b, NULL, &d), 0);
    assert_memory_equal(a, b, n * sizeof *a);
    free(Z);
    free(a);
    free(b);
    cseg_model_free(m);
    cseg_model_free(m2);
    cseg_segment_free(r);
    cseg_table_free(txn);
}

/* cseg_tree_create takes trees only: a node with two parents (a chain that
 * meets a shallower branch) or a negative weight is refused. */
static void test_create_checks(void **state)
{
    (void)state;
    cseg_tree_node nd[5] = {{1, 2, 0, 0.5, 0, 10, 10}, {3, 4, 1, 0.5, 0, 5, 5},
                            {3, 4, 0, 1.5, 0, 5, 5},  {-1, -1, -2, -2, 0, 2, 2},
                            {-1, -1, -2, -2, 0, 3, 3}};
    double v[10] = {1, 1, 1, 1, 1, 1, 2, 0, 0, 3};
    cseg_tree *t = NULL;
    assert_int_equal(cseg_tree_create(&t, nd, v, 5, 2, 2), CSEG_EINVAL); /* 3, 4: two parents */
    nd[2] = (cseg_tree_node){-1, -1, -2, -2, 0, 5, 5};
    assert_int_equal(cseg_tree_create(&t, nd, v, 5, 2, 2), 0);
    assert_int_equal(cseg_tree_depth(t), 2);
    cseg_tree_free(t);
    nd[4].weighted_n_samples = -1;
    assert_int_equal(cseg_tree_create(&t, nd, v, 5, 2, 2), CSEG_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_as_sklearn),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_feature_subsets),
        cmocka_unit_test(test_forest_accuracy),
        cmocka_unit_test(test_forest_split_walk),
        cmocka_unit_test(test_forest_blocks),
        cmocka_unit_test(test_classification_scores),
        cmocka_unit_test(test_model_round_trip),
        cmocka_unit_test(test_create_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
