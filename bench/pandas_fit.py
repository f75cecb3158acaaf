#!/usr/bin/python3
"""pandas + scikit-learn equivalents of `custseg fit` and `custseg assign` on a
customer table, the baselines of bench/compare_scale.py.

usage: pandas_fit.py fit FILE --out DIR [--k 8] [--n-init 1] [--seed 0] [--timings]
       pandas_fit.py assign MODEL.pkl FILE --out DIR [--timings]

The same steps and rules as custseg (src/prep/prep.c, src/segment/, docs/):

  fit     pandas.read_csv; every column numeric; missing values imputed with the
          column's median; log1p (after shifting negatives by -min) on columns with
          skewness > 1 (Fisher-Pearson g1 on the imputed column); StandardScaler;
          KMeans(k, n_init, max_iter=300, tol=1e-4, algorithm="lloyd");
          silhouette on a sample of 20,000 customers (above 20,000), Davies-Bouldin
          and Calinski-Harabasz on all; segments numbered by size, largest first;
          per segment: size, share, mean and median of every column; writes
          customers.csv (the columns, segment, segment_name, distance to the
          centre in model space), segments.json and model.pkl (the pipeline).
  assign  reads model.pkl and a table with the same columns; the same imputation,
          log and scaling with the training figures; KMeans.predict and the
          distance; writes customers.csv with what custseg assign writes for a
          table without an id column: segment, segment_name, distance.

Everything is vectorised; no Python loop touches rows. --timings prints a JSON
line of per-stage seconds to stderr.
"""
import time

T0 = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import pickle  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy.stats import skew  # noqa: E402
from sklearn.cluster import KMeans  # noqa: E402
from sklearn.metrics import (calinski_harabasz_score, davies_bouldin_score,  # noqa: E402
                             silhouette_score)
from sklearn.preprocessing import StandardScaler  # noqa: E402

SIL_SAMPLE = 20000
T_IMPORT = time.perf_counter() - T0


def transform(df, cols, median, log_cols, shift, scaler):
    X = df[cols].fillna(pd.Series(median)).to_numpy(dtype=float)
    for j, c in enumerate(cols):
        if c in log_cols:
            X[:, j] = np.log1p(X[:, j] + shift[c])
    return scaler.transform(X)


def write_atomic(path, writer):
    tmp = path + ".tmp"
    writer(tmp)
    os.replace(tmp, path)


def write_customers(df, labels, names, dist, out):
    res = df.copy() if df is not None else pd.DataFrame(index=range(len(labels)))
    res["segment"] = labels + 1
    res["segment_name"] = np.asarray(names, dtype=object)[labels]
    res["distance"] = dist
    write_atomic(os.path.join(out, "customers.csv"),
                 lambda p: res.to_csv(p, index=False))


def cmd_fit(a):
    t = {"import": T_IMPORT}
    t0 = time.perf_counter()
    df = pd.read_csv(a.file)
    cols = list(df.columns)
    t["read"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    median = df[cols].median().to_dict()
    Xi = df[cols].fillna(pd.Series(median)).to_numpy(dtype=float)
    g1 = skew(Xi, axis=0)
    log_cols, shift = set(), {}
    for j, c in enumerate(cols):
        shift[c] = max(0.0, -Xi[:, j].min())
        if g1[j] > 1:
            log_cols.add(c)
            Xi[:, j] = np.log1p(Xi[:, j] + shift[c])
    scaler = StandardScaler().fit(Xi)
    Z = scaler.transform(Xi)
    t["preprocess"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    km = KMeans(a.k, n_init=a.n_init, max_iter=300, tol=1e-4, algorithm="lloyd",
                random_state=a.seed).fit(Z)
    raw = km.labels_
    t["kmeans"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    n = len(Z)
    sil = silhouette_score(Z, raw, sample_size=SIL_SAMPLE if n > SIL_SAMPLE else None,
                           random_state=a.seed)
    db = davies_bouldin_score(Z, raw)
    ch = calinski_harabasz_score(Z, raw)
    t["metrics"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    sizes = np.bincount(raw, minlength=a.k)
    order = np.argsort(-sizes, kind="stable")      # segment 1 = the largest
    rank = np.empty(a.k, dtype=int)
    rank[order] = np.arange(a.k)
    labels = rank[raw]
    dist = np.sqrt(((Z - km.cluster_centers_[raw]) ** 2).sum(axis=1))
    g = df.groupby(labels)
    means, medians = g.mean(), g.median()
    names = [f"Segment {s + 1}" for s in range(a.k)]
    segs = [{"segment": s + 1, "name": names[s], "customers": int(sizes[order[s]]),
             "share": float(sizes[order[s]] / n),
             "mean": {c: float(means.loc[s, c]) for c in cols},
             "median": {c: float(medians.loc[s, c]) for c in cols}} for s in range(a.k)]
    t["profiles"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    os.makedirs(a.out, exist_ok=True)
    write_customers(df, labels, names, dist, a.out)

    def write_json(p):
        with open(p, "w") as f:
            json.dump({"k": a.k, "inertia": float(km.inertia_), "silhouette": float(sil),
                       "davies_bouldin": float(db), "calinski_harabasz": float(ch),
                       "segments": segs}, f, indent=1)
    write_atomic(os.path.join(a.out, "segments.json"), write_json)

    def write_model(p):
        with open(p, "wb") as f:
            pickle.dump({"cols": cols, "median": median, "log_cols": log_cols, "shift": shift,
                         "scaler": scaler, "km": km, "rank": rank, "names": names}, f)
    write_atomic(os.path.join(a.out, "model.pkl"), write_model)
    t["write"] = time.perf_counter() - t0
    return t


def cmd_assign(a):
    t = {"import": T_IMPORT}
    t0 = time.perf_counter()
    with open(a.model, "rb") as f:
        m = pickle.load(f)
    df = pd.read_csv(a.file)
    t["read"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    Z = transform(df, m["cols"], m["median"], m["log_cols"], m["shift"], m["scaler"])
    raw = m["km"].predict(Z)
    dist = np.sqrt(((Z - m["km"].cluster_centers_[raw]) ** 2).sum(axis=1))
    t["predict"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    os.makedirs(a.out, exist_ok=True)
    # as custseg assign: the segment columns only (the table has no id column)
    write_customers(None, m["rank"][raw], m["names"], dist, a.out)
    t["write"] = time.perf_counter() - t0
    return t


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fit")
    f.add_argument("file")
    f.add_argument("--out", required=True)
    f.add_argument("--k", type=int, default=8)
    f.add_argument("--n-init", type=int, default=1)
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--timings", action="store_true")
    s = sub.add_parser("assign")
    s.add_argument("model")
    s.add_argument("file")
    s.add_argument("--out", required=True)
    s.add_argument("--timings", action="store_true")
    a = ap.parse_args()
    t = cmd_fit(a) if a.cmd == "fit" else cmd_assign(a)
    if a.timings:
        t["total"] = time.perf_counter() - T0
        sys.stderr.write(json.dumps(t) + "\n")


if __name__ == "__main__":
    main()
