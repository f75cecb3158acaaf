/* custseg — CART decision trees for classifying customers into segments.
 *
 * The tree of scikit-learn's DecisionTreeClassifier (version 1.2): best
 * splits by Gini impurity or entropy (in bits), grown depth first, the same
 * stopping rules (max_depth, min_samples_split, min_samples_leaf, a pure
 * node), the same candidate thresholds (midpoints of consecutive distinct
 * values, values closer than 1e-7 taken as equal) and, like scikit-learn,
 * features held as single-precision floats: with every feature tried at
 * every split the tree has the same nodes, features and thresholds as
 * scikit-learn's and predicts the same. One difference: where two features
 * give exactly the same improvement scikit-learn keeps the one its random
 * feature order met first, custseg the lowest-numbered (so a fixture must
 * avoid exact ties, which small nodes make likely: the tests limit depth and
 * leaf size).
 *
 * With max_features < d (a random forest's trees) each split tries a random
 * subset of the features, drawn from seed.
 */
#ifndef CUSTSEG_TREE_H
#define CUSTSEG_TREE_H

#include <stddef.h>
#include <stdint.h>
#include "custseg/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cseg_tree_criterion {
    CSEG_TREE_GINI = 0, /* 1 - sum p_c^2 */
    CSEG_TREE_ENTROPY   /* -sum p_c log2 p_c */
} cseg_tree_criterion;

typedef struct cseg_tree_params {
    cseg_tree_criterion criterion; /* default CSEG_TREE_GINI */
    size_t max_depth;              /* 0 (default): no limit */
    size_t min_samples_split;      /* a node with fewer samples is a leaf; default 2 */
    size_t min_samples_leaf;       /* samples on each side of a split; default 1 */
    size_t max_features;           /* features tried per split; 0 (default): all */
    uint64_t seed;                 /* the features tried when max_features < d; default 0 */
} cseg_tree_params;

/* A node, as scikit-learn's tree_ arrays hold it; nodes are numbered in the
 * order they are made (depth first, left before right). A leaf has
 * left = right = -1, feature = -2, threshold = -2. A sample goes left when
 * (float)x[feature] <= threshold. */
typedef struct cseg_tree_node {
    int32_t left, right;
    int32_t feature;
    double threshold;
    double impurity;
    size_t n_samples;
    double weighted_n_samples;
} cseg_tree_node;

typedef struct cseg_tree cseg_tree;

CSEG_API void cseg_tree_params_init(cseg_tree_params *p);
/* NULL when p is usable, else what is wrong with it. */
CSEG_API const char *cseg_tree_params_check(const cseg_tree_params *p);

/* Fit on X (n x d, row-major) against labels y (0..k-1). class_weight (k
 * values, NULL: all 1) and sample_weight (n values, NULL: all 1) multiply:
 * a sample counts class_weight[y] x sample_weight. Errors: CSEG_EINVAL (n or
 * d or k is 0, a label out of range, a NaN or infinite value, a weight < 0;
 * diag names the row), CSEG_ENOMEM. Time O(d n log n) per level. */
CSEG_API int cseg_tree_fit(cseg_tree **out, const double *X, size_t n, size_t d, const int32_t *y,
                           size_t k, const double *class_weight, const double *sample_weight,
                           const cseg_tree_params *p, cseg_diag *diag);
CSEG_API void cseg_tree_free(cseg_tree *t);

/* Each row's class (the largest weighted count of its leaf, the lowest class
 * on a tie) and, when proba is not NULL, its leaf's class shares (n x k). */
CSEG_API int cseg_tree_predict(const cseg_tree *t, const double *X, size_t n, int32_t *labels,
                               double *proba);
/* Each row's leaf: its node number (scikit-learn's apply). */
CSEG_API int cseg_tree_apply(const cseg_tree *t, const double *X, size_t n, int32_t *leaves);

/* A tree from its nodes and values (as cseg_tree_nodes and cseg_tree_values
 * give them; a saved model's). CSEG_EINVAL unless every child comes after
 * its parent and is in range, every split's feature is below d and its
 * threshold finite, and every value finite and >= 0. */
CSEG_API int cseg_tree_create(cseg_tree **out, const cseg_tree_node *nodes, const double *values,
                              size_t n_nodes, size_t d, size_t k);
CSEG_API size_t cseg_tree_n_nodes(const cseg_tree *t);
CSEG_API const cseg_tree_node *cseg_tree_nodes(const cseg_tree *t);
/* n_nodes x k weighted class counts of each node's training samples. */
CSEG_API const double *cseg_tree_values(const cseg_tree *t);
CSEG_API size_t cseg_tree_k(const cseg_tree *t);
CSEG_API size_t cseg_tree_dim(const cseg_tree *t);
/* The longest path from the root to a leaf (a lone leaf: 0). */
CSEG_API size_t cseg_tree_depth(const cseg_tree *t);

/* ---- random forests ----
 *
 * scikit-learn's RandomForestClassifier: n_estimators trees, each on a
 * bootstrap sample of the rows (n draws with replacement, a row drawn twice
 * counting twice) and trying max_features random features per split
 * (default: the square root of d, as scikit-learn's "sqrt"); the forest's
 * class shares are the mean of its trees' leaf shares. Tree i draws from a
 * seed of its own made from seed and i, and the trees are fitted in
 * parallel (OpenMP): the same forest for any thread count. */
typedef struct cseg_forest_params {
    size_t n_estimators;   /* default 100 */
    cseg_tree_params tree; /* per tree; tree.max_features 0: floor(sqrt(d)); tree.seed unused */
    int bootstrap;         /* default 1; 0: every tree sees every row */
    uint64_t seed;         /* default 0 */
    int n_threads;         /* 0 (default): all cores; ignored without OpenMP */
} cseg_forest_params;

typedef struct cseg_forest cseg_forest;

CSEG_API void cseg_forest_params_init(cseg_forest_params *p);
/* As cseg_tree_fit. Time: n_estimators trees, each O(max_features n log n)
 * per level. */
CSEG_API int cseg_forest_fit(cseg_forest **out, const double *X, size_t n, size_t d,
                             const int32_t *y, size_t k, const double *class_weight,
                             const double *sample_weight, const cseg_forest_params *p,
                             cseg_diag *diag);
CSEG_API void cseg_forest_free(cseg_forest *f);
/* As cseg_tree_predict, from the mean of the trees' class shares. Read-only
 * on f: threads may share a fitted forest. */
CSEG_API int cseg_forest_predict(const cseg_forest *f, const double *X, size_t n, int32_t *labels,
                                 double *proba);
/* A forest of n trees (taken over: freed with the forest, or here on an
 * error), all of one d and k (CSEG_EINVAL otherwise). */
CSEG_API int cseg_forest_create(cseg_forest **out, cseg_tree **trees, size_t n);
CSEG_API size_t cseg_forest_n_trees(const cseg_forest *f);
CSEG_API size_t cseg_forest_k(const cseg_forest *f);
CSEG_API size_t cseg_forest_dim(const cseg_forest *f);

/* ---- explanations ---- */

/* Exact TreeSHAP values (Lundberg, Erion & Lee 2018, Algorithm 2) of the
 * class shares the tree predicts: phi (n x d x k, caller-allocated):
 * feature j's part of class c's share for row i; base (k): the shares
 * expected over the training cover. A feature left out of a coalition
 * follows both branches of a split in proportion to their training weight
 * (the path-dependent expectation). For every row, base + sum over j of
 * phi = the predicted shares. O(n leaves depth^2). */
CSEG_API int cseg_tree_shap(const cseg_tree *t, const double *X, size_t n, double *phi,
                            double *base);
/* As cseg_tree_shap, the mean of the forest's trees' (the forest predicts
 * the mean of their shares). */
CSEG_API int cseg_forest_shap(const cseg_forest *f, const double *X, size_t n, double *phi,
                              double *base);

/* ---- training helpers ---- */

/* A stratified split: of each class's rows, round(test_size x count) go to
 * the test side (at least one when the class has two or more rows, never
 * all of them), chosen at random from seed. is_test: n flags (caller-
 * allocated). CSEG_EINVAL for test_size outside (0, 1) or a label outside
 * 0..k-1. */
CSEG_API int cseg_split_stratified(const int32_t *y, size_t n, size_t k, double test_size,
                                   uint64_t seed, unsigned char *is_test);
CSEG_API const cseg_tree *cseg_forest_tree(const cseg_forest *f, size_t i);
/* Stratified k-fold: fold[i] (caller-allocated, n values) in 0..folds-1;
 * each class's rows are shuffled from seed and dealt to the folds in turn,
 * the turn carried from one class to the next, so every fold holds about
 * n / folds rows and each class's share. CSEG_EINVAL for folds < 2 or
 * folds > n or a label outside 0..k-1. */
CSEG_API int cseg_split_kfold(const int32_t *y, size_t n, size_t k, size_t folds, uint64_t seed,
                              uint32_t *fold);

#ifdef __cplusplus
}
#endif
#endif
