#!/usr/bin/python3
"""Regenerate the decision-tree reference fixtures used by tests/test_tree.c.

Run from the repository root:

    /usr/bin/python3 tests/reference/make_tree_fixtures.py

It writes tests/reference/fixtures_tree.h (committed, so the test suite never
needs Python) with one 4-class, 5-feature training set and a test set, and for
each case (criterion, max_depth, min_samples_leaf, min_samples_split,
class_weight) scikit-learn's DecisionTreeClassifier: every node (children,
feature, threshold, impurity, samples, weighted samples, class values) and the
predictions and probabilities on the test set.

scikit-learn visits the features in a random order and keeps the first of
equally good splits; custseg visits them in order. So that the trees can be
compared, each case is fitted with five random_state values and must give the
same tree every time (no tie decided the tree); the script stops otherwise.
Features are continuous; the labels come from a rule with noise.

For the random forest: scikit-learn's RandomForestClassifier (100 trees,
max_features "sqrt", bootstrap) test accuracy for random_state 0, 1 and 2 on a
second set whose rows are made by a generator simple enough to run the same
in C (splitmix64, uniforms, sums and products only: the same bits in both
languages), so that only the accuracies and the class cuts are kept here.

For the classification scores (cseg_metrics_classification): a truth and a
prediction over 6 classes, one class never true, one never predicted, one in
neither, with accuracy_score, confusion_matrix, precision_recall_fscore_support
and the macro and weighted averages.
"""

import os
import sys

import numpy as np
import sklearn
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import (accuracy_score, confusion_matrix, f1_score,
                             precision_recall_fscore_support, precision_score, recall_score)
from sklearn.tree import DecisionTreeClassifier

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_gmm_fixtures import c_array, c_define, c_scalar  # noqa: E402

N_TRAIN, N_TEST, D, K = 800, 300, 5, 4

CASES = [
    # name, criterion, max_depth, min_samples_leaf, min_samples_split, class_weight
    ("gini_d4", "gini", 4, 5, 2, None),
    ("entropy_d5", "entropy", 5, 8, 2, None),
    ("gini_weighted", "gini", 4, 10, 30, {0: 1.0, 1: 2.5, 2: 0.5, 3: 1.0}),
    ("gini_leaf25", "gini", None, 25, 2, None),
]


def data(n, seed):
    rng = np.random.default_rng(seed)
    X = np.column_stack([
        rng.gamma(2.0, 30.0, n),           # recency-like, skewed
        rng.poisson(4.0, n) + rng.uniform(0, 1, n),  # frequency-like
        rng.lognormal(6.0, 1.0, n),        # monetary-like
        rng.normal(0.0, 1.0, n),
        rng.uniform(-3.0, 3.0, n),
    ])
    score = -0.02 * X[:, 0] + 0.4 * X[:, 1] + 0.6 * np.log(X[:, 2]) + 0.5 * X[:, 3]
    score += rng.normal(0.0, 0.8, n)
    y = np.digitize(score, np.quantile(score, [0.25, 0.5, 0.75]))
    return X, y.astype(np.int32)


def fit(X, y, crit, depth, leaf, split, cw, seed):
    return DecisionTreeClassifier(criterion=crit, max_depth=depth, min_samples_leaf=leaf,
                                  min_samples_split=split, class_weight=cw,
                                  random_state=seed).fit(X, y)


def same_tree(a, b):
    ta, tb = a.tree_, b.tree_
    return (ta.node_count == tb.node_count
            and np.array_equal(ta.feature, tb.feature)
            and np.array_equal(ta.threshold, tb.threshold)
            and np.array_equal(ta.children_left, tb.children_left))


MASK = (1 << 64) - 1
FOREST_N, FOREST_D, FOREST_SEEDS = 3000, 5, 3


class SplitMix:
    """splitmix64, as src/core's cseg__splitmix64; uniforms with 53 bits."""

    def __init__(self, seed):
        self.s = seed & MASK

    def next(self):
        self.s = (self.s + 0x9E3779B97F4A7C15) & MASK
        z = self.s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def u(self):
        return (self.next() >> 11) * (1.0 / 9007199254740992.0)


def forest_rows(n, seed):
    """The rows and scores of tests/test_tree.c's forest_rows: the same arithmetic."""
    g = SplitMix(seed)
    X, score = [], []
    for _ in range(n):
        a, b, c, e, f = g.u(), g.u(), g.u(), g.u(), g.u()
        h, i, j, k, m = g.u(), g.u(), g.u(), g.u(), g.u()
        x = [100.0 * a * a, 3.0 * (b + c + e + f), 1000.0 * h * h * h, i + j + k - 1.5,
             6.0 * m - 3.0]
        noise = g.u() + g.u() - 1.0
        X.append(x)
        score.append(-0.02 * x[0] + 0.4 * x[1] + 0.002 * x[2] + 0.5 * x[3] + 0.3 * x[4]
                     + 1.5 * noise)
    return np.array(X), np.array(score)


def forest_case():
    X, score = forest_rows(FOREST_N, 21)
    Xt, score_t = forest_rows(FOREST_N, 22)
    cuts = np.quantile(score, [0.25, 0.5, 0.75])
    y = (score > cuts[0]).astype(int) + (score > cuts[1]) + (score > cuts[2])
    yt = (score_t > cuts[0]).astype(int) + (score_t > cuts[1]) + (score_t > cuts[2])
    acc = []
    for s in range(FOREST_SEEDS):
        rf = RandomForestClassifier(n_estimators=100, max_features="sqrt", bootstrap=True,
                                    random_state=s, n_jobs=1).fit(X, y)
        acc.append(float((rf.predict(Xt) == yt).mean()))
    out = ["\n/* random forest: 100 trees, max_features sqrt, bootstrap; rows from forest_rows */\n",
           c_define("FOREST_N", FOREST_N), c_define("FOREST_D", FOREST_D),
           c_define("FOREST_SEEDS", FOREST_SEEDS),
           c_array("double", "forest_cuts", cuts),
           c_array("double", "forest_sklearn_accuracy", acc),
           c_array("double", "forest_X_head", X[:4]),
           c_array("int32_t", "forest_y_head", y[:20], per_line=20, fmt=str)]
    return "".join(out)


def scores_case():
    rng = np.random.default_rng(5)
    n, k = 300, 6
    truth = rng.choice([0, 1, 2, 3], size=n, p=[0.4, 0.3, 0.2, 0.1])  # 4 never true, 5 never
    pred = truth.copy()
    flip = rng.random(n) < 0.35
    pred[flip] = rng.choice([0, 1, 2, 4], size=flip.sum())            # 3 never predicted
    labels = list(range(k))
    p, r, f, sup = precision_recall_fscore_support(truth, pred, labels=labels, zero_division=0)
    out = ["\n/* classification scores: 6 classes; 4 never true, 3 never predicted, 5 neither */\n",
           c_define("SCORES_N", n), c_define("SCORES_K", k),
           c_array("int32_t", "scores_truth", truth, per_line=20, fmt=str),
           c_array("int32_t", "scores_pred", pred, per_line=20, fmt=str),
           c_scalar("double", "scores_accuracy", accuracy_score(truth, pred)),
           c_scalar("double", "scores_macro_precision",
                    precision_score(truth, pred, average="macro", zero_division=0)),
           c_scalar("double", "scores_macro_recall",
                    recall_score(truth, pred, average="macro", zero_division=0)),
           c_scalar("double", "scores_macro_f1", f1_score(truth, pred, average="macro", zero_division=0)),
           c_scalar("double", "scores_weighted_f1",
                    f1_score(truth, pred, average="weighted", zero_division=0)),
           c_array("size_t", "scores_confusion", confusion_matrix(truth, pred, labels=labels),
                   per_line=6, fmt=str),
           c_array("double", "scores_precision", p), c_array("double", "scores_recall", r),
           c_array("double", "scores_f1", f), c_array("size_t", "scores_support", sup, fmt=str)]
    return "".join(out)


def main():
    X, y = data(N_TRAIN, 11)
    Xt, _ = data(N_TEST, 12)
    out = [c_define("TREE_N", N_TRAIN), c_define("TREE_NT", N_TEST), c_define("TREE_D", D),
           c_define("TREE_K", K), "\n",
           c_array("double", "tree_X", X), c_array("int32_t", "tree_y", y, per_line=20, fmt=str),
           c_array("double", "tree_Xt", Xt)]
    for name, crit, depth, leaf, split, cw in CASES:
        trees = [fit(X, y, crit, depth, leaf, split, cw, s) for s in range(5)]
        if not all(same_tree(trees[0], t) for t in trees[1:]):
            sys.exit("case %s: a tie between features decides the tree; change the case" % name)
        t = trees[0].tree_
        p = "tree_" + name
        out.append("\n/* %s: criterion=%s, max_depth=%s, min_samples_leaf=%d, min_samples_split=%d,"
                   " class_weight=%s */\n" % (name, crit, depth, leaf, split, cw))
        out.append(c_scalar("size_t", p + "_n_nodes", t.node_count, fmt=str))
        out.append(c_scalar("size_t", p + "_depth", t.max_depth, fmt=str))
        out.append(c_array("int32_t", p + "_left", t.children_left, per_line=16, fmt=str))
        out.append(c_array("int32_t", p + "_right", t.children_right, per_line=16, fmt=str))
        out.append(c_array("int32_t", p + "_feature", t.feature, per_line=16, fmt=str))
        out.append(c_array("double", p + "_threshold", t.threshold))
        out.append(c_array("double", p + "_impurity", t.impurity))
        out.append(c_array("size_t", p + "_samples", t.n_node_samples, per_line=16, fmt=str))
        out.append(c_array("double", p + "_weighted", t.weighted_n_node_samples))
        out.append(c_array("double", p + "_value", t.value[:, 0, :]))
        out.append(c_array("int32_t", p + "_predict", trees[0].predict(Xt), per_line=20, fmt=str))
        out.append(c_array("double", p + "_proba", trees[0].predict_proba(Xt)))
    out.append(forest_case())
    out.append(scores_case())
    desc = __doc__.split("\n\n", 2)[2].strip()
    path = os.path.join(HERE, "fixtures_tree.h")
    with open(path, "w") as f:
        f.write("/* fixtures_tree.h - GENERATED by tests/reference/make_tree_fixtures.py; do not edit.\n"
                " * Regenerate with: /usr/bin/python3 tests/reference/make_tree_fixtures.py\n"
                " * (numpy %s, scikit-learn %s)\n *\n" % (np.__version__, sklearn.__version__))
        f.write("".join(" * " + l + "\n" if l else " *\n" for l in desc.splitlines()))
        f.write(" */\n#ifndef CSEG_FIXTURES_TREE_H\n#define CSEG_FIXTURES_TREE_H\n\n"
                "#include <math.h>\n#include <stddef.h>\n#include <stdint.h>\n\n")
        f.write("".join(out))
        f.write("\n#endif /* CSEG_FIXTURES_TREE_H */\n")
    print("wrote", path)


if __name__ == "__main__":
    main()
