#!/usr/bin/python3
"""pandas + scikit-learn equivalent of `custseg run FILE --out DIR`, used as the
baseline of benchmark (a) in bench/compare.py.

usage: pandas_run.py FILE [--out DIR] [--seed N] [--n-init N] [--max-iter N]
                          [--tol X] [--k-min N] [--k-max N] [--spend-window DAYS]
                          [--timings]

Same steps and rules as custseg (tools/custseg/seg.c, src/features/rfm.c,
src/prep/prep.c):

  ingest    pandas.read_csv on the (gzipped) transaction log
  clean     drop rows without CustomerID; drop exact duplicate rows; drop rows with
            a missing date/quantity/price; drop UnitPrice <= 0; a row is a return
            when InvoiceNo starts with 'C' or Quantity < 0 and is valued -|q*p|
  features  as_of = the day after the last date; per customer (customers with at
            least one purchase): recency_days, frequency (distinct purchase
            invoices), monetary (net of returns), tenure_days, avg_order_value,
            spend_90d (net, last 90 days), n_products, return_rate, quintile
            scores r/f/m (1 + floor(5 * worse / n), ties share a score)
  prep      log1p on features with skewness > 1 (Fisher-Pearson g1; negatives
            shifted by -min first), then StandardScaler, on recency_days,
            frequency, monetary
  k-means   KMeans(k, n_init=10, random_state=seed, algorithm="lloyd") for
            k = 2..10, each with silhouette_score (exact up to 20,000 customers,
            else a 20,000 sample), davies_bouldin_score, calinski_harabasz_score
  choose k  elbow: argmax of 1 - x_norm - y_norm on normalised inertia (if > 0),
            else the highest silhouette
  output    segments ordered by revenue, named from RFM prototypes; writes
            customers.csv, segments.json and model.json to --out

Everything is vectorised (groupby / numpy); no Python loop touches rows.
--timings prints a JSON line of per-stage seconds to stderr.
"""
import time

T0 = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy.stats import skew  # noqa: E402
from sklearn.cluster import KMeans  # noqa: E402
from sklearn.metrics import (calinski_harabasz_score, davies_bouldin_score,  # noqa: E402
                             silhouette_score)
from sklearn.preprocessing import StandardScaler  # noqa: E402

FEATURES = ["recency_days", "frequency", "monetary"]
SIL_EXACT_MAX = 20000
RFM_PROTOS = [  # (name, r, mean of f and m) as in src/profile/profile.c
    ("Champions", 5.0, 5.0), ("Loyal Customers", 3.7, 4.2), ("Potential Loyalists", 4.2, 2.8),
    ("New Customers", 4.8, 1.2), ("Promising", 3.8, 1.4), ("Need Attention", 3.0, 3.0),
    ("About to Sleep", 2.6, 1.8), ("At Risk", 1.8, 3.6), ("Can't Lose Them", 1.3, 4.6),
    ("Hibernating", 1.8, 1.8), ("Lost", 1.0, 1.0),
]


def read_log(path):
    df = pd.read_csv(path, dtype={"InvoiceNo": str, "StockCode": str, "Description": str,
                                  "Country": str})
    df["InvoiceDate"] = pd.to_datetime(df["InvoiceDate"], format="%Y-%m-%d %H:%M:%S")
    return df


def clean(df):
    q = {"rows_read": len(df)}
    has_cust = df["CustomerID"].notna()
    q["dropped_no_customer"] = int((~has_cust).sum())
    df = df[has_cust]
    dup = df.duplicated()
    q["dropped_duplicates"] = int(dup.sum())
    df = df[~dup]
    incomplete = df[["InvoiceDate", "Quantity", "UnitPrice"]].isna().any(axis=1)
    q["dropped_incomplete"] = int(incomplete.sum())
    df = df[~incomplete]
    bad = df["UnitPrice"] <= 0
    q["dropped_non_positive_price"] = int(bad.sum())
    df = df[~bad]
    value = df["Quantity"] * df["UnitPrice"]
    cancel = df["InvoiceNo"].str[:1].str.upper() == "C"
    ret = cancel | (value < 0) | (df["Quantity"] < 0)
    df = df.assign(
        customer_id=df["CustomerID"].astype("int64"),
        day=df["InvoiceDate"].dt.floor("D"),
        value=value.abs().where(~ret, -value.abs()),
        ret=ret,
        cancel=cancel,
    )
    as_of = df["day"].max() + pd.Timedelta(days=1)
    after = df["day"] >= as_of
    q["left_out_after_as_of"] = int(after.sum())
    df = df[~after]
    q["purchase_rows"] = int((~df["ret"]).sum())
    q["return_rows"] = int(df["ret"].sum())
    q["cancellation_rows"] = int((df["ret"] & df["cancel"]).sum())
    q["gross_revenue"] = float(df.loc[~df["ret"], "value"].sum())
    q["returned_value"] = float(-df.loc[df["ret"], "value"].sum())
    q["first_day"] = df["day"].min().strftime("%Y-%m-%d")
    q["last_day"] = df["day"].max().strftime("%Y-%m-%d")
    q["as_of"] = as_of.strftime("%Y-%m-%d")
    return df, as_of, q


def quintile(worse, n):
    return np.minimum(1.0 + np.floor(5.0 * worse / n), 5.0)


def customer_features(df, as_of, spend_window, q):
    purch = df[~df["ret"]]
    c = purch.groupby("customer_id").agg(
        first=("day", "min"), last=("day", "max"), frequency=("InvoiceNo", "nunique"),
        gross=("value", "sum"), n_products=("StockCode", "nunique"))
    by_cust = df.groupby("customer_id")["value"]
    net = by_cust.sum()
    q["customers"] = len(c)
    q["customers_with_only_returns"] = int(len(net) - len(c))
    window = df.loc[df["day"] >= as_of - pd.Timedelta(days=spend_window)]
    spend = window.groupby("customer_id")["value"].sum()
    returned = -df.loc[df["ret"]].groupby("customer_id")["value"].sum()

    out = pd.DataFrame(index=c.index)
    out["recency_days"] = (as_of - c["last"]).dt.days.astype(float)
    out["frequency"] = c["frequency"].astype(float)
    out["monetary"] = net.reindex(c.index)
    out["tenure_days"] = (as_of - c["first"]).dt.days.astype(float)
    out["avg_order_value"] = c["gross"] / c["frequency"]
    out["spend_90d"] = spend.reindex(c.index, fill_value=0.0)
    out["n_products"] = c["n_products"].astype(float)
    ret = returned.reindex(c.index, fill_value=0.0)
    out["return_rate"] = (ret / c["gross"]).where(c["gross"] > 0, 0.0)
    n = len(out)
    # worse = customers strictly worse: larger recency, smaller frequency/monetary.
    out["r_score"] = quintile(n - out["recency_days"].rank(method="max"), n)
    out["f_score"] = quintile(out["frequency"].rank(method="min") - 1, n)
    out["m_score"] = quintile(out["monetary"].rank(method="min") - 1, n)
    out["rfm_code"] = (out["r_score"].astype(int).astype(str) + out["f_score"].astype(int).astype(str)
                       + out["m_score"].astype(int).astype(str))
    out.index.name = "customer_id"
    return out


def preprocess(cust):
    X = cust[FEATURES].to_numpy(dtype=float)
    g1 = skew(X, axis=0, bias=True)
    logged = g1 > 1.0
    shift = np.where(X.min(axis=0) < 0, -X.min(axis=0), 0.0)
    Xl = np.where(logged, np.log1p(np.clip(X + shift, 0, None)), X)
    scaler = StandardScaler().fit(Xl)
    prep = {"features": FEATURES, "skewness": g1.tolist(), "log1p": logged.tolist(),
            "shift": shift.tolist(), "center": scaler.mean_.tolist(),
            "scale": scaler.scale_.tolist()}
    return scaler.transform(Xl), prep


def choose_k(a, X):
    n = len(X)
    fits = []
    for k in range(a.k_min, min(a.k_max, n - 1) + 1):
        km = KMeans(n_clusters=k, n_init=a.n_init, max_iter=a.max_iter, tol=a.tol,
                    random_state=a.seed, algorithm="lloyd").fit(X)
        lab = km.labels_
        sample = SIL_EXACT_MAX if n > SIL_EXACT_MAX else None
        fits.append({
            "k": k, "km": km, "inertia": float(km.inertia_),
            "silhouette": float(silhouette_score(X, lab, sample_size=sample,
                                                 random_state=a.seed)),
            "davies_bouldin": float(davies_bouldin_score(X, lab)),
            "calinski_harabasz": float(calinski_harabasz_score(X, lab)),
            "elbow": False,
        })
    inertia = np.array([f["inertia"] for f in fits])
    m = len(fits)
    chosen, rule = None, None
    if m >= 3 and inertia[0] > inertia[-1]:
        x = np.arange(m) / (m - 1)
        y = (inertia - inertia[-1]) / (inertia[0] - inertia[-1])
        diff = 1 - x - y
        if diff.max() > 1e-12:
            chosen = int(np.argmax(diff))
            fits[chosen]["elbow"] = True
            rule = "elbow of the inertia curve (kneedle)"
    if chosen is None:
        chosen = int(np.argmax([f["silhouette"] for f in fits]))
        rule = "highest silhouette (no elbow found)"
    return fits, chosen, rule


def name_segments(means):
    """Greedy nearest RFM prototype per segment (as cseg_profile_name_rfm)."""
    k = len(means)
    r = means["r_score"].to_numpy()
    fm = 0.5 * (means["f_score"].to_numpy() + means["m_score"].to_numpy())
    pr = np.array([p[1] for p in RFM_PROTOS])
    pf = np.array([p[2] for p in RFM_PROTOS])
    d = (r[:, None] - pr[None, :]) ** 2 + (fm[:, None] - pf[None, :]) ** 2
    s_idx, q_idx = np.unravel_index(np.argsort(d, axis=None, kind="stable"), d.shape)
    names = [f"Segment {s + 1}" for s in range(k)]
    seg_done, used = set(), set()
    for s, p in zip(s_idx, q_idx):  # k x 11 candidate pairs, not rows
        if s in seg_done or p in used:
            continue
        seg_done.add(s)
        used.add(p)
        names[s] = RFM_PROTOS[p][0]
    return names


def jnum(v):
    v = float(v)
    return v if np.isfinite(v) else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_arguments(ap)
    a = ap.parse_args()
    tm = {"imports": time.perf_counter() - T0}
    lap = stopwatch(tm)
    raw = read_log(a.file)
    lap("read")
    df, as_of, quality = clean(raw)
    lap("clean")
    cust = customer_features(df, as_of, a.spend_window, quality)
    lap("features")
    segment_and_write(a, cust, quality, tm, lap)


def stopwatch(tm):
    """lap(name): the seconds since the last lap (or now) into tm[name]."""
    t = [time.perf_counter()]

    def lap(name):
        now = time.perf_counter()
        tm[name] = now - t[0]
        t[0] = now
    return lap


def add_arguments(ap):
    """The options of the steps after the customer features (shared with
    bench/pandas_run_chunked.py)."""
    ap.add_argument("file")
    ap.add_argument("--out", default="out")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-init", type=int, default=10)
    ap.add_argument("--max-iter", type=int, default=300)
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--k-min", type=int, default=2)
    ap.add_argument("--k-max", type=int, default=10)
    ap.add_argument("--spend-window", type=int, default=90)
    ap.add_argument("--timings", action="store_true")


def segment_and_write(a, cust, quality, tm, lap):
    """Preprocess, choose k, order and name the segments, write the outputs."""
    X, prep = preprocess(cust)
    lap("prep")
    fits, chosen, rule = choose_k(a, X)
    lap("kmeans_and_metrics")

    F = fits[chosen]
    km, k = F["km"], F["k"]
    # Order segments by revenue, largest first; labels/distances as `assign` does.
    rev = cust["monetary"].groupby(km.labels_).sum().reindex(range(k), fill_value=0.0)
    order = sorted(range(k), key=lambda s: (-rev[s], s))
    centres = km.cluster_centers_[order]
    D = np.sqrt(((X[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2))
    labels = D.argmin(axis=1)
    dist = D[np.arange(len(X)), labels]
    out = cust.copy()
    out["segment"] = labels + 1
    groups = out.drop(columns=["rfm_code"]).groupby("segment")
    means = groups.mean().reindex(range(1, k + 1))
    medians = groups.median().reindex(range(1, k + 1))
    sizes = groups.size().reindex(range(1, k + 1), fill_value=0)
    seg_rev = groups["monetary"].sum().reindex(range(1, k + 1), fill_value=0.0)
    names = name_segments(means)
    out["segment_name"] = np.array(names, dtype=object)[labels]
    out["distance"] = dist
    lap("segments")

    os.makedirs(a.out, exist_ok=True)
    out.to_csv(os.path.join(a.out, "customers.csv"))
    numeric = out.select_dtypes("number")
    prof_cols = [c for c in means.columns if c not in ("segment", "distance")]
    n = len(out)
    segs = []
    for s in range(k):  # one entry per segment
        segs.append({
            "segment": s + 1, "name": names[s], "size": int(sizes.iloc[s]),
            "share": sizes.iloc[s] / n, "revenue_share": jnum(seg_rev.iloc[s] / seg_rev.sum()),
            "mean": {c: jnum(means.iloc[s][c]) for c in prof_cols},
            "median": {c: jnum(medians.iloc[s][c]) for c in prof_cols},
        })
    seg_json = {
        "tool": "pandas " + pd.__version__ + " + scikit-learn " + __import__("sklearn").__version__,
        "input": a.file, "input_kind": "transactions", "n_customers": n,
        "data_quality": quality, "features": FEATURES, "model_features": FEATURES,
        "k_selection": {
            "mode": "auto", "rule": rule, "chosen_k": k,
            "table": [{kk: f[kk] for kk in ("k", "inertia", "silhouette", "davies_bouldin",
                                            "calinski_harabasz", "elbow")} for f in fits],
        },
        "model": {
            "algorithm": "kmeans", "kmeans_variant": "lloyd (scikit-learn)", "k": k,
            "seed": a.seed, "n_init": a.n_init, "max_iter": a.max_iter, "tol": a.tol,
            "n_iter": int(km.n_iter_), "converged": bool(km.n_iter_ < a.max_iter),
            "inertia": F["inertia"], "silhouette": F["silhouette"],
            "silhouette_sample": SIL_EXACT_MAX if n > SIL_EXACT_MAX else None,
            "davies_bouldin": F["davies_bouldin"], "calinski_harabasz": F["calinski_harabasz"],
        },
        "segments": segs,
        "population": {"mean": {c: jnum(v) for c, v in numeric.mean().items()},
                       "sd": {c: jnum(v) for c, v in numeric.std(ddof=0).items()}},
    }
    with open(os.path.join(a.out, "segments.json"), "w") as f:
        json.dump(seg_json, f, indent=2)
        f.write("\n")
    with open(os.path.join(a.out, "model.json"), "w") as f:
        json.dump({"prep": prep, "k": k, "centroids": centres.tolist(), "names": names}, f,
                  indent=2)
        f.write("\n")
    lap("write")
    tm["total_in_process"] = time.perf_counter() - T0
    if a.timings:
        print(json.dumps({"timings": tm}), file=sys.stderr)
    print(f"{n} customers in {k} segments ({rule}); wrote {a.out}/customers.csv, "
          f"segments.json, model.json")


if __name__ == "__main__":
    main()
