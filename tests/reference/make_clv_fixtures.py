#!/usr/bin/python3
"""Regenerate the lifetime-value fixtures used by tests/test_clv.c.

Run from the repository root:

    /usr/bin/python3 tests/reference/make_clv_fixtures.py

It writes tests/reference/fixtures_clv.h (committed, so the test suite never
needs Python). An implementation independent of the C code, in NumPy/SciPy:
the BG/NBD log-likelihood (Fader, Hardie & Lee 2005, eq. 6, written with
scipy.special.betaln) and the Gamma-Gamma log-likelihood (Fader & Hardie
2013), their gradients by complex-step differentiation of the same
likelihoods (scipy.special.loggamma accepts complex arguments), at a few
parameter points on a small summary; P(alive), the conditional expected
purchases (with scipy.special.hyp2f1), the expected order value and the CLV
(monthly steps of 365.25 / 12 days, discounted at the end of each month) for
those customers; and, from the bundled data/cdnow_master.csv.gz, the
BTYD summary of the CDNOW log (calibration to 1997-09-30 in weeks, the
cleaning custseg applies: exact duplicate rows and rows of 0 dollars dropped)
and both models fitted to it by maximum likelihood with scipy.optimize
(Nelder-Mead, then BFGS to a gradient of 1e-9), with the holdout counts and
the mean predicted holdout purchases.
"""

import csv
import gzip
import datetime
import math
import os
import sys

import numpy as np
import scipy
from scipy import optimize
from scipy.special import betaln, gammaln, hyp2f1, loggamma

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_gmm_fixtures import c_array, c_define, write_fixture  # noqa: E402

CDNOW = os.path.join(HERE, "..", "..", "data", "cdnow_master.csv.gz")
MONTH_DAYS = 365.25 / 12

# A small summary: repeat purchases x, recency t_x, age T (any time unit).
X = [0, 0, 1, 2, 5, 3, 0, 10, 1, 7]
TX = [0.0, 0.0, 4.5, 10.0, 30.25, 12.0, 0.0, 38.0, 0.5, 20.0]
T = [3.0, 39.0, 20.0, 35.0, 38.5, 13.0, 1.0, 39.0, 30.0, 33.0]
M = [0.0, 0.0, 25.0, 14.5, 40.0, 8.25, 0.0, 19.9, 120.0, 33.3]
BG_POINTS = [(0.243, 4.414, 0.793, 2.426), (1.5, 0.7, 2.2, 0.4), (0.05, 30.0, 0.3, 9.0)]
GG_POINTS = [(6.25, 3.74, 15.44), (1.2, 2.5, 0.8), (20.0, 1.3, 100.0)]


def bgnbd_ll(params, x, tx, t):
    """Total BG/NBD log-likelihood; works on complex params (complex step)."""
    r, alpha, a, b = params
    x = np.asarray(x, dtype=float)
    tx = np.asarray(tx, dtype=float)
    t = np.asarray(t, dtype=float)
    # betaln has no complex form: B(a, b) through loggamma.
    lb = lambda p, q: loggamma(p) + loggamma(q) - loggamma(p + q)  # noqa: E731
    a1 = loggamma(r + x) - loggamma(r) + r * np.log(alpha)
    a2 = lb(a, b + x) - lb(a, b)
    a3 = -(r + x) * np.log(alpha + t)
    a4 = np.where(x > 0, np.log(a) - np.log(b + np.maximum(x, 1) - 1) - (r + x) * np.log(alpha + tx), 0)
    total = a1 + a2 + np.log(np.exp(a3) + np.where(x > 0, np.exp(a4), 0))
    return np.sum(total)


def gg_ll(params, x, m):
    p, q, v = params
    x = np.asarray(x, dtype=float)
    m = np.asarray(m, dtype=float)
    keep = x > 0
    x, m = x[keep], m[keep]
    ll = (loggamma(p * x + q) - loggamma(p * x) - loggamma(q) + q * np.log(v) + (p * x - 1) * np.log(m)
          + p * x * np.log(x) - (p * x + q) * np.log(x * m + v))
    return np.sum(ll)


def complex_grad(f, params, h=1e-30):
    g = []
    for i in range(len(params)):
        z = np.array(params, dtype=complex)
        z[i] += 1j * h
        g.append(np.imag(f(z)) / h)
    return g


def p_alive(params, x, tx, t):
    r, alpha, a, b = params
    out = []
    for xi, txi, ti in zip(x, tx, t):
        if xi == 0:
            out.append(1.0)
        else:
            out.append(1.0 / (1.0 + a / (b + xi - 1) * ((alpha + ti) / (alpha + txi)) ** (r + xi)))
    return out


def expected(params, horizon, x, tx, t):
    """Conditional expected purchases in (T, T + horizon]."""
    r, alpha, a, b = params
    out = []
    for xi, txi, ti in zip(x, tx, t):
        z = horizon / (alpha + ti + horizon)
        num = 1.0 - ((alpha + ti) / (alpha + ti + horizon)) ** (r + xi) * hyp2f1(r + xi, b + xi, a + b + xi - 1, z)
        den = 1.0 + (a / (b + xi - 1) * ((alpha + ti) / (alpha + txi)) ** (r + xi) if xi > 0 else 0.0)
        out.append((a + b + xi - 1) / (a - 1) * num / den)
    return out


def order_value(params, x, m):
    p, q, v = params
    return [p * (v + xi * mi) / (p * xi + q - 1) for xi, mi in zip(x, m)]


def clv(bg, gg, months, discount, unit_days, x, tx, t, m):
    value = order_value(gg, x, m)
    step = MONTH_DAYS / unit_days
    total = np.zeros(len(x))
    prev = np.zeros(len(x))
    for i in range(1, months + 1):
        cur = np.array(expected(bg, i * step, x, tx, t))
        total += np.array(value) * (cur - prev) / (1.0 + discount) ** i
        prev = cur
    return list(total)


def day_number(s):
    return datetime.date(int(s[:4]), int(s[4:6]), int(s[6:8])).toordinal()


def cdnow_summary(path, cal_end, unit_days):
    seen = set()
    days = {}  # customer -> {day: value}
    with gzip.open(path, "rt", newline="") as f:
        rd = csv.reader(f)
        next(rd)
        for row in rd:
            key = tuple(row)
            if key in seen:
                continue
            seen.add(key)
            value = float(row[3])
            if value == 0:
                continue
            d = day_number(row[1])
            days.setdefault(row[0], {})
            days[row[0]][d] = days[row[0]].get(d, 0.0) + value
    x, tx, t, m, xh, ids = [], [], [], [], [], []
    for cid in sorted(days, key=lambda s: int(s)):
        per = days[cid]
        cal = sorted(d for d in per if d <= cal_end)
        if not cal:
            continue
        first, last = cal[0], cal[-1]
        ids.append(cid)
        x.append(len(cal) - 1)
        tx.append((last - first) / unit_days)
        t.append((cal_end - first) / unit_days)
        m.append(sum(per[d] for d in cal[1:]) / (len(cal) - 1) if len(cal) > 1 else 0.0)
        xh.append(sum(1 for d in per if d > cal_end))
    return ids, np.array(x), np.array(tx), np.array(t), np.array(m), np.array(xh)


def fit(f, start):
    """Maximise f over log-parameters: Nelder-Mead, then BFGS to a tight gradient."""
    neg = lambda th: -f(np.exp(th))  # noqa: E731
    res = optimize.minimize(neg, np.log(start), method="Nelder-Mead",
                            options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20000, "maxfev": 40000})

    def grad(th):
        p = np.exp(th)
        return -np.array(complex_grad(f, p)) * p

    res = optimize.minimize(neg, res.x, jac=grad, method="BFGS", options={"gtol": 1e-9, "maxiter": 10000})
    return np.exp(res.x), -res.fun, np.max(np.abs(grad(res.x)))


def main():
    out = [c_define("CLV_N", len(X))]
    out.append(c_array("double", "clv_x", X))
    out.append(c_array("double", "clv_tx", TX))
    out.append(c_array("double", "clv_T", T))
    out.append(c_array("double", "clv_m", M))
    out.append(c_define("CLV_N_BG_POINTS", len(BG_POINTS)))
    out.append(c_array("double", "clv_bg_points", [v for p in BG_POINTS for v in p]))
    out.append(c_array("double", "clv_bg_ll", [float(np.real(bgnbd_ll(p, X, TX, T))) for p in BG_POINTS]))
    out.append(c_array("double", "clv_bg_grad", [g for p in BG_POINTS for g in complex_grad(lambda z: bgnbd_ll(z, X, TX, T), p)]))
    out.append(c_define("CLV_N_GG_POINTS", len(GG_POINTS)))
    out.append(c_array("double", "clv_gg_points", [v for p in GG_POINTS for v in p]))
    out.append(c_array("double", "clv_gg_ll", [float(np.real(gg_ll(p, X, M))) for p in GG_POINTS]))
    out.append(c_array("double", "clv_gg_grad", [g for p in GG_POINTS for g in complex_grad(lambda z: gg_ll(z, X, M), p)]))
    # Predictions at the first parameter points (a > 1 for the second BG point).
    bg, gg = BG_POINTS[1], GG_POINTS[0]
    out.append(c_array("double", "clv_p_alive", p_alive(bg, X, TX, T)))
    out.append(c_array("double", "clv_expected_10", expected(bg, 10.0, X, TX, T)))
    out.append(c_array("double", "clv_expected_52", expected(bg, 52.0, X, TX, T)))
    out.append(c_array("double", "clv_order_value", order_value(gg, X, M)))
    out.append(c_array("double", "clv_value_12", clv(bg, gg, 12, 0.01, 7.0, X, TX, T, M)))
    # The unconditional expected purchases of a new customer, E[X(t)].
    r, alpha, a, b = bg
    ex = [(a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, t / (alpha + t)))
          for t in (1.0, 10.0, 52.0)]
    out.append(c_array("double", "clv_expected_new", ex))

    if os.path.exists(CDNOW):
        cal_end = datetime.date(1997, 9, 30).toordinal()
        ids, x, tx, t, m, xh = cdnow_summary(CDNOW, cal_end, 7.0)
        bgp, bgll, bgg = fit(lambda p: bgnbd_ll(p, x, tx, t), [0.5, 5.0, 0.8, 2.5])
        rep = x > 0
        ggp, ggll, ggg = fit(lambda p: gg_ll(p, x, m), [5.0, 3.0, 15.0])
        print("CDNOW: %d customers, %d repeat; BG/NBD %s ll %.6f |g| %.1e; Gamma-Gamma %s ll %.6f |g| %.1e"
              % (len(ids), rep.sum(), bgp, bgll, bgg, ggp, ggll, ggg))
        out.append("#define CLV_HAVE_CDNOW 1\n")
        out.append(c_define("CDNOW_N", len(ids)))
        out.append(c_define("CDNOW_N_REPEAT", int(rep.sum())))
        out.append(c_define("CDNOW_SUM_X", int(x.sum())))
        out.append(c_define("CDNOW_SUM_XH", int(xh.sum())))
        out.append(c_array("double", "cdnow_sums", [tx.sum(), t.sum(), m.sum()]))
        out.append(c_array("double", "cdnow_bgnbd", bgp))
        out.append(c_array("double", "cdnow_bgnbd_ll", [bgll]))
        out.append(c_array("double", "cdnow_gg", ggp))
        out.append(c_array("double", "cdnow_gg_ll", [ggll]))
        # The holdout check: mean actual and predicted purchase days in the 39 weeks after.
        hold = datetime.date(1998, 6, 30).toordinal()
        out.append(c_array("double", "cdnow_holdout", [xh.mean(), np.mean(expected(bgp, (hold - cal_end) / 7.0, x, tx, t))]))
        # The first customer with two repeat purchases or more: predictions over
        # 39 weeks and the CLV of the next 12 months.
        i = int(np.argmax(x >= 2))
        one = ([x[i]], [tx[i]], [t[i]], [m[i] if x[i] > 0 else 0.0])
        out.append(c_array("double", "cdnow_customer", [x[i], tx[i], t[i], one[3][0]]))
        out.append(c_array("double", "cdnow_predictions", [
            p_alive(bgp, *one[:3])[0], expected(bgp, 39.0, *one[:3])[0],
            order_value(ggp, [x[i]], one[3])[0], clv(bgp, ggp, 12, 0.01, 7.0, *one)[0]]))
    else:
        print("note: %s is absent; the CDNOW fixtures are left out" % CDNOW)
    write_fixture(os.path.join(HERE, "fixtures_clv.h"), "make_clv_fixtures.py", __doc__,
                  "numpy %s, scipy %s" % (np.__version__, scipy.__version__), "".join(out))


if __name__ == "__main__":
    main()
