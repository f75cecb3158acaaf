#!/usr/bin/python3
"""Regenerate the linear-SVM reference fixtures used by tests/test_linear.c.

Run from the repository root:

    /usr/bin/python3 tests/reference/make_linear_fixtures.py

It writes tests/reference/fixtures_linear.h (committed, so the test suite never
needs Python): the standardised training and test sets of make_tree_fixtures.py
(4 classes, 5 features) and, for each case (C, class weights, two classes or
four), scikit-learn's LinearSVC(dual=False): the squared-hinge SVM solved in the
primal by LIBLINEAR's trust-region Newton method, one class against the rest,
with a bias feature of 1 (intercept_scaling=1) that is regularised. custseg
calls Debian's LIBLINEAR with the same solver; the optimum is unique, so with
a tight tolerance on both sides the weights agree to about 1e-6.

Weights are written in custseg's layout: k rows of d weights then the bias;
for two classes scikit-learn keeps one vector (positive: class 1), which is
row 1 here and its negation row 0.
"""

import os
import sys

import numpy as np
import sklearn
from sklearn.svm import LinearSVC

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_gmm_fixtures import c_array, c_define, c_scalar, write_fixture  # noqa: E402
from make_tree_fixtures import data  # noqa: E402

N_TRAIN, N_TEST = 800, 300
TOL = 1e-10

CASES = [
    # name, C, class_weight, binary
    ("c1", 1.0, None, False),
    ("c01", 0.1, None, False),
    ("c10_weighted", 10.0, {0: 1.0, 1: 2.5, 2: 0.5, 3: 1.0}, False),
    ("binary", 1.0, None, True),
]


def weights(clf, k, d):
    W = np.zeros((k, d + 1))
    if k == 2:
        W[1, :d] = clf.coef_[0]
        W[1, d] = clf.intercept_[0]
        W[0] = -W[1]
    else:
        W[:, :d] = clf.coef_
        W[:, d] = clf.intercept_
    return W


def main():
    X, y = data(N_TRAIN, 11)
    Xt, yt = data(N_TEST, 12)
    mu, sd = X.mean(axis=0), X.std(axis=0)
    X, Xt = (X - mu) / sd, (Xt - mu) / sd
    d = X.shape[1]
    out = []
    out.append(c_define("LIN_N_TRAIN", N_TRAIN))
    out.append(c_define("LIN_N_TEST", N_TEST))
    out.append(c_define("LIN_D", d))
    out.append(c_define("LIN_TOL", repr(TOL)))
    out.append(c_array("double", "lin_X", X))
    out.append(c_array("int32_t", "lin_y", y, per_line=16, fmt=str))
    out.append(c_array("double", "lin_Xt", Xt))
    out.append(c_array("int32_t", "lin_yt", yt, per_line=16, fmt=str))
    out.append(c_define("LIN_N_CASES", len(CASES)))
    for name, C, cw, binary in CASES:
        yy, yyt = (y >= 2).astype(np.int32), (yt >= 2).astype(np.int32)
        if not binary:
            yy, yyt = y, yt
        k = 2 if binary else 4
        clf = LinearSVC(C=C, dual=False, tol=TOL, max_iter=100000, class_weight=cw).fit(X, yy)
        W = weights(clf, k, d)
        pred = clf.predict(Xt)
        dec = Xt @ W[:, :d].T + W[:, d]
        if not np.array_equal(np.argmax(dec, axis=1), pred):
            raise SystemExit("%s: the decision values do not give scikit-learn's predictions" % name)
        out.append(c_scalar("double", "lin_%s_C" % name, C))
        out.append(c_define("LIN_%s_K" % name.upper(), k))
        cwv = [cw[c] for c in range(k)] if cw else [1.0] * k
        out.append(c_array("double", "lin_%s_class_weight" % name, cwv))
        out.append(c_scalar("int", "lin_%s_weighted" % name, 1 if cw else 0, fmt=str))
        out.append(c_array("double", "lin_%s_W" % name, W))
        out.append(c_array("int32_t", "lin_%s_pred" % name, pred, per_line=16, fmt=str))
        out.append(c_scalar("double", "lin_%s_accuracy" % name, float(np.mean(pred == yyt))))
    write_fixture(os.path.join(HERE, "fixtures_linear.h"), "make_linear_fixtures.py", __doc__, "numpy %s, scikit-learn %s" % (np.__version__, sklearn.__version__), "".join(out))


if __name__ == "__main__":
    main()
