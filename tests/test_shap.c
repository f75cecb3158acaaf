/* Tests for cseg_tree_shap and cseg_forest_shap: the TreeSHAP values equal
 * Shapley values computed from their definition, every coalition of
 * features enumerated (2^d of them), with the same path-dependent value of
 * a coalition: a feature outside it follows both branches of a split in
 * proportion to their training weight. Also: base + sum of the values is
 * the prediction. */
#include <math.h>

#include "reference/fixtures_tree.h"
#include "util.h"

/* The shares the tree gives x when only the features in mask are known. */
static void value(const cseg_tree *t, size_t node, const double *x, unsigned mask, double *out)
{
    const cseg_tree_node *nd = cseg_tree_nodes(t);
    size_t k = cseg_tree_k(t);
    if (nd[node].left < 0) {
        const double *v = cseg_tree_values(t) + node * k;
        double s = 0;
        for (size_t c = 0; c < k; c++)
            s += v[c];
        for (size_t c = 0; c < k; c++)
            out[c] = s > 0 ? v[c] / s : 1.0 / (double)k;
        return;
    }
    size_t f = (size_t)nd[node].feature;
    if (mask & (1u << f)) {
        value(t, (float)x[f] <= nd[node].threshold ? (size_t)nd[node].left : (size_t)nd[node].right,
              x, mask, out);
        return;
    }
    double l[8], r[8], wl = nd[nd[node].left].weighted_n_samples,
                       wr = nd[nd[node].right].weighted_n_samples;
    value(t, (size_t)nd[node].left, x, mask, l);
    value(t, (size_t)nd[node].right, x, mask, r);
    for (size_t c = 0; c < k; c++)
        out[c] = (wl * l[c] + wr * r[c]) / (wl + wr);
}

/* Shapley values of row x from the definition: d x k. */
static void brute(const cseg_tree *const *trees, size_t nt, const double *x, double *phi)
{
    size_t d = cseg_tree_dim(trees[0]), k = cseg_tree_k(trees[0]);
    double fact[16] = {1};
    for (size_t i = 1; i < 16; i++)
        fact[i] = fact[i - 1] * (double)i;
    memset(phi, 0, d * k * sizeof *phi);
    for (size_t t = 0; t < nt; t++)
        for (size_t j = 0; j < d; j++)
            for (unsigned S = 0; S < (1u << d); S++) {
                if (S & (1u << j))
                    continue;
                size_t s = (size_t)__builtin_popcount(S);
                double w = fact[s] * fact[d - s - 1] / fact[d], with[8], without[8];
                value(trees[t], 0, x, S | (1u << j), with);
                value(trees[t], 0, x, S, without);
                for (size_t c = 0; c < k; c++)
                    phi[j * k + c] += w * (with[c] - without[c]) / (double)nt;
            }
}

static void check_rows(const cseg_tree *const *trees, size_t nt, const double *phi,
                       const double *base, size_t rows)
{
    size_t d = TREE_D, k = TREE_K;
    double bf[TREE_D * TREE_K], pred[TREE_K];
    for (size_t i = 0; i < rows; i++) {
        const double *x = tree_Xt + i * d;
        brute(trees, nt, x, bf);
        for (size_t j = 0; j < d * k; j++)
            if (fabs(phi[i * d * k + j] - bf[j]) > 1e-12)
                fail_msg("row %zu, value %zu: TreeSHAP %.17g, by definition %.17g", i, j,
                         phi[i * d * k + j], bf[j]);
        /* local accuracy: base + sum = the prediction */
        for (size_t c = 0; c < k; c++) {
            double s = base[c], p = 0, v[TREE_K];
            for (size_t j = 0; j < d; j++)
                s += phi[i * d * k + j * k + c];
            for (size_t t = 0; t < nt; t++) {
                value(trees[t], 0, x, (1u << d) - 1, v);
                p += v[c] / (double)nt;
            }
            pred[c] = p;
            assert_true(fabs(s - pred[c]) < 1e-12);
        }
    }
}

static void test_tree(void **state)
{
    (void)state;
    for (size_t depth = 2; depth <= 8; depth += 3) {
        cseg_tree_params p;
        cseg_tree_params_init(&p);
        p.max_depth = depth;
        p.min_samples_leaf = 3;
        cseg_tree *t = NULL;
        cseg_diag d;
        assert_int_equal(
            cseg_tree_fit(&t, tree_X, TREE_N, TREE_D, tree_y, TREE_K, NULL, NULL, &p, &d), 0);
        enum { ROWS = 40 };
        double *phi = malloc(ROWS * TREE_D * TREE_K * sizeof *phi), base[TREE_K];
        assert_int_equal(cseg_tree_shap(t, tree_Xt, ROWS, phi, base), 0);
        const cseg_tree *ts[1] = {t};
        check_rows(ts, 1, phi, base, ROWS);
        free(phi);
        cseg_tree_free(t);
    }
}

/* A forest of bootstrap trees (weighted covers, features met twice on a path). */
static void test_forest(void **state)
{
    (void)state;
    cseg_forest_params fp;
    cseg_forest_params_init(&fp);
    fp.n_estimators = 6;
    fp.tree.max_depth = 6;
    fp.seed = 5;
    fp.n_threads = 1;
    cseg_forest *f = NULL;
    cseg_diag d;
    assert_int_equal(
        cseg_forest_fit(&f, tree_X, TREE_N, TREE_D, tree_y, TREE_K, NULL, NULL, &fp, &d), 0);
    enum { ROWS = 25 };
    double *phi = malloc(ROWS * TREE_D * TREE_K * sizeof *phi), base[TREE_K];
    assert_int_equal(cseg_forest_shap(f, tree_Xt, ROWS, phi, base), 0);
    const cseg_tree *ts[6];
    for (size_t t = 0; t < 6; t++)
        ts[t] = cseg_forest_tree(f, t);
    check_rows(ts, 6, phi, base, ROWS);
    /* and the prediction is the forest's own */
    double proba[ROWS * TREE_K];
    assert_int_equal(cseg_forest_predict(f, tree_Xt, ROWS, NULL, proba), 0);
    for (size_t i = 0; i < ROWS; i++)
        for (size_t c = 0; c < TREE_K; c++) {
            double s = base[c];
            for (size_t j = 0; j < TREE_D; j++)
                s += phi[i * TREE_D * TREE_K + j * TREE_K + c];
            assert_true(fabs(s - proba[i * TREE_K + c]) < 1e-12);
        }
    free(phi);
    cseg_forest_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tree),
        cmocka_unit_test(test_forest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
