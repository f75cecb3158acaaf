#!/usr/bin/python3
"""Regenerate the drift fixtures used by tests/test_drift.c.

Run from the repository root:

    /usr/bin/python3 tests/reference/make_drift_fixtures.py

It writes two pairs of customer tables (training and new customers) under
tests/data/ and tests/reference/fixtures_drift.h with, for each numeric
column, the population stability index and the Kolmogorov-Smirnov statistic
as docs/drift.md defines them, computed here independently of custseg:

  PSI: bins with the training deciles as edges (numpy.quantile, linear; an
  edge given twice kept once; a value at most an edge falls in its bin) and a
  bin for missing values; shares of all customers, below 1e-4 taken as 1e-4;
  sum of (a - e) ln(a / e).
  KS: scipy.stats.ks_2samp(...).statistic on the values present, when the
  training column has at most 1,000 values (custseg keeps them all); above
  that, custseg keeps 1,001 quantiles and measures against their
  piecewise-linear distribution: the fixture gives that number (computed
  here with numpy.interp on a fine grid plus every new value) and scipy's
  exact statistic, which custseg must be within 2e-3 of.

and for the text column the PSI over the training levels and one bin for a
missing or unseen level. "small": 600 training and 500 new customers;
"large": 3,000 and 2,000. The new customers are shifted: older, richer,
more from one region, with more missing ages.
"""

import os
import sys

import numpy as np
import scipy
from scipy.stats import ks_2samp

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data")
sys.path.insert(0, HERE)
from make_gmm_fixtures import c_array, c_define, c_scalar, write_fixture  # noqa: E402

REGIONS = ["North", "South", "East", "West"]
FLOOR = 1e-4


def table(n, seed, shift):
    rng = np.random.default_rng(seed)
    age = np.round(rng.normal(40 + 6 * shift, 12, n), 1)
    age[rng.uniform(0, 1, n) < 0.05 + 0.1 * shift] = np.nan
    income = np.round(rng.lognormal(3.5 + 0.3 * shift, 0.6, n), 2)
    visits = rng.poisson(5 + 2 * shift, n).astype(float)  # many ties
    p = np.array([0.4, 0.3, 0.2, 0.1]) if not shift else np.array([0.2, 0.2, 0.2, 0.3])
    region = rng.choice(REGIONS + (["Central"] if shift else []),
                        n, p=np.append(p, 0.1) if shift else p)
    return age, income, visits, region


def write(path, cols):
    age, income, visits, region = cols
    with open(path, "w") as f:
        f.write("customer,age,income,visits,region\n")
        for i in range(len(age)):
            a = "" if np.isnan(age[i]) else repr(float(age[i]))
            f.write("c%d,%s,%r,%r,%s\n" % (i + 1, a, float(income[i]), float(visits[i]), region[i]))


def psi(a, e):
    a, e = np.maximum(a, FLOOR), np.maximum(e, FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def psi_number(tr, nw):
    n, m = len(tr), len(nw)
    pt, pn = tr[~np.isnan(tr)], nw[~np.isnan(nw)]
    edges = []
    for q in np.quantile(pt, np.arange(1, 10) / 10.0):
        if not edges or q > edges[-1]:
            edges.append(q)
    edges = np.array(edges)
    bt = np.bincount(np.searchsorted(edges, pt, side="left"), minlength=len(edges) + 1) / n
    bn = np.bincount(np.searchsorted(edges, pn, side="left"), minlength=len(edges) + 1) / m
    return psi(np.append(bn, (m - len(pn)) / m), np.append(bt, (n - len(pt)) / n))


def psi_text(tr, nw):
    levels = sorted(set(tr), key=list(tr).index)  # any order: the sum does not depend on it
    e = [np.mean(tr == lv) for lv in levels] + [0.0]
    a = [np.mean(nw == lv) for lv in levels] + [np.mean(~np.isin(nw, levels))]
    return psi(np.array(a), np.array(e))


def ks_quantiles(tr, nw):
    """sup |F_new - F_ref|, F_ref piecewise linear through 1,001 quantiles."""
    pt, pn = np.sort(tr[~np.isnan(tr)]), np.sort(nw[~np.isnan(nw)])
    q = np.quantile(pt, np.arange(1001) / 1000.0)
    best = 0.0
    for i, x in enumerate(pn):
        lo = np.searchsorted(pn, x, side="left") / len(pn)
        hi = np.searchsorted(pn, x, side="right") / len(pn)
        # right and left limits of the reference at x
        if x < q[0]:
            fr = 0.0
        elif x >= q[-1]:
            fr = 1.0
        else:
            j = np.searchsorted(q, x, side="right") - 1
            fr = (j + (x - q[j]) / (q[j + 1] - q[j])) / 1000.0
        if x <= q[0]:
            fl = 0.0
        elif x > q[-1]:
            fl = 1.0
        else:
            j = np.searchsorted(q, x, side="left")
            fl = (j - 1 + (x - q[j - 1]) / (q[j] - q[j - 1])) / 1000.0
        best = max(best, abs(hi - fr), abs(lo - fl))
    return best


def main():
    out = []
    for name, ntr, nnw, seed in (("small", 600, 500, 1), ("large", 3000, 2000, 2)):
        tr, nw = table(ntr, seed, 0), table(nnw, seed + 100, 1)
        write(os.path.join(DATA, "drift_%s_train.csv" % name), tr)
        write(os.path.join(DATA, "drift_%s_new.csv" % name), nw)
        p = "drift_%s_" % name
        out.append("\n/* %s: %d training, %d new customers */\n" % (name, ntr, nnw))
        out.append(c_array("double", p + "psi", [psi_number(tr[j], nw[j]) for j in range(3)]))
        exact = [ks_2samp(tr[j][~np.isnan(tr[j])], nw[j][~np.isnan(nw[j])]).statistic
                 for j in range(3)]
        out.append(c_array("double", p + "ks_exact", exact))
        if ntr > 1000:
            out.append(c_array("double", p + "ks_quantiles", [ks_quantiles(tr[j], nw[j]) for j in range(3)]))
        out.append(c_scalar("double", p + "psi_region", psi_text(tr[3], nw[3])))
        out.append(c_array("double", p + "mean_new", [float(np.nanmean(nw[j])) for j in range(3)]))
        out.append(c_array("double", p + "missing_new", [float(np.mean(np.isnan(nw[j]))) for j in range(3)]))
    out.insert(0, c_define("DRIFT_N_NUMBERS", 3))
    write_fixture(os.path.join(HERE, "fixtures_drift.h"), "make_drift_fixtures.py", __doc__, "numpy %s, scipy %s" % (np.__version__, scipy.__version__), "".join(out))


if __name__ == "__main__":
    main()
