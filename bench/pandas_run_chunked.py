#!/usr/bin/python3
"""pandas + scikit-learn equivalent of `custseg run FILE` for logs too large to read
whole: the baseline of bench/compare_run_scale.py (issue 13).

usage: pandas_run_chunked.py FILE [--chunk ROWS] [the options of pandas_run.py]

As bench/pandas_run.py, but the log is read with read_csv(chunksize=...) and each
chunk is cleaned and reduced to partial aggregates, as a pandas user does when the
whole log does not fit:

  per customer     first and last purchase day, gross, net and returned sums
  per (customer, day)   net sums (the spend window needs the last day, known at the end)
  (customer, invoice) and (customer, product) pairs of purchases, deduplicated per
  chunk and again at the end (frequency and n_products count distinct ones); products
  as 64-bit hashes of the code (pd.util.hash_array), so pairs are two integers

The partials are combined once every chunk is read; then the same steps as
pandas_run.py (preprocess, k-means for k = 2..10 with the metrics, names, outputs).
One rule differs and is documented here: exact duplicate rows are dropped within a
chunk, so a duplicate split from its original by a chunk boundary is kept (custseg
finds it). Memory grows with the pairs, not the rows.
"""
import time

T0 = time.perf_counter()

import argparse  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import pandas_run as pr  # noqa: E402


def reduce_chunk(df, q, parts):
    q["rows_read"] += len(df)
    has_cust = df["CustomerID"].notna()
    q["dropped_no_customer"] += int((~has_cust).sum())
    df = df[has_cust]
    dup = df.duplicated()
    q["dropped_duplicates"] += int(dup.sum())
    df = df[~dup]
    incomplete = df[["InvoiceDate", "Quantity", "UnitPrice"]].isna().any(axis=1)
    q["dropped_incomplete"] += int(incomplete.sum())
    df = df[~incomplete]
    bad = df["UnitPrice"] <= 0
    q["dropped_non_positive_price"] += int(bad.sum())
    df = df[~bad]
    value = df["Quantity"] * df["UnitPrice"]
    cancel = df["InvoiceNo"].str[:1].str.upper() == "C"
    ret = (cancel | (value < 0) | (df["Quantity"] < 0)).to_numpy()
    v = np.where(ret, -value.abs(), value.abs())
    cust = df["CustomerID"].astype("int64").to_numpy()
    day = (pd.to_datetime(df["InvoiceDate"], format="%Y-%m-%d %H:%M:%S")
           .to_numpy().astype("datetime64[D]").astype("int64"))
    q["purchase_rows"] += int((~ret).sum())
    q["return_rows"] += int(ret.sum())
    q["cancellation_rows"] += int((ret & cancel.to_numpy()).sum())
    q["gross"] += float(v[~ret].sum())
    q["returned"] += float(-v[ret].sum())
    q["first"] = min(q["first"], int(day.min())) if len(day) else q["first"]
    q["last"] = max(q["last"], int(day.max())) if len(day) else q["last"]
    x = pd.DataFrame({"c": cust, "day": day, "v": v, "ret": ret})
    p = x[~x["ret"]]
    parts["cust"].append(pd.DataFrame({
        "first": p.groupby("c")["day"].min(), "last": p.groupby("c")["day"].max(),
        "gross": p.groupby("c")["v"].sum()}).join(
        x.groupby("c")["v"].sum().rename("net"), how="outer").join(
        (-x[x["ret"]].groupby("c")["v"].sum()).rename("returned"), how="outer"))
    parts["days"].append(x.groupby(["c", "day"])["v"].sum())
    keep = ~ret
    inv = df["InvoiceNo"].to_numpy()[keep]
    prod = pd.util.hash_array(df["StockCode"].to_numpy(dtype=str)[keep])
    parts["inv"].append(pd.DataFrame({"c": cust[keep], "i": inv}).drop_duplicates())
    parts["prod"].append(pd.DataFrame({"c": cust[keep], "p": prod}).drop_duplicates())


def features(parts, q, spend_window):
    agg = pd.concat(parts["cust"]).groupby(level=0).agg(
        {"first": "min", "last": "max", "gross": "sum", "net": "sum", "returned": "sum"})
    bought = agg[agg["first"].notna()]
    as_of = q["last"] + 1
    freq = pd.concat(parts["inv"]).drop_duplicates().groupby("c").size()
    nprod = pd.concat(parts["prod"]).drop_duplicates().groupby("c").size()
    days = pd.concat(parts["days"]).reset_index()
    spend = days[days["day"] >= as_of - spend_window].groupby("c")["v"].sum()
    out = pd.DataFrame(index=bought.index)
    out["recency_days"] = (as_of - bought["last"]).astype(float)
    out["frequency"] = freq.reindex(out.index).astype(float)
    out["monetary"] = bought["net"].round(2)
    out["tenure_days"] = (as_of - bought["first"]).astype(float)
    out["avg_order_value"] = (bought["gross"] / out["frequency"]).round(2)
    out["spend_90d"] = spend.reindex(out.index, fill_value=0.0).round(2)
    out["n_products"] = nprod.reindex(out.index).astype(float)
    ret = bought["returned"].fillna(0.0)
    out["return_rate"] = (ret / bought["gross"]).where(bought["gross"] > 0, 0.0)
    n = len(out)
    out["r_score"] = pr.quintile(n - out["recency_days"].rank(method="max"), n)
    out["f_score"] = pr.quintile(out["frequency"].rank(method="min") - 1, n)
    out["m_score"] = pr.quintile(out["monetary"].rank(method="min") - 1, n)
    out["rfm_code"] = (out["r_score"].astype(int).astype(str)
                       + out["f_score"].astype(int).astype(str)
                       + out["m_score"].astype(int).astype(str))
    out.index.name = "customer_id"
    quality = {k: q[k] for k in ("rows_read", "dropped_no_customer", "dropped_duplicates",
                                 "dropped_incomplete", "dropped_non_positive_price",
                                 "purchase_rows", "return_rows", "cancellation_rows")}
    quality.update({"gross_revenue": round(q["gross"], 2),
                    "returned_value": round(q["returned"], 2), "customers": n,
                    "customers_with_only_returns": int(len(agg) - n)})
    return out, quality


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    pr.add_arguments(ap)
    ap.add_argument("--chunk", type=int, default=2_000_000)
    a = ap.parse_args()
    tm = {"imports": time.perf_counter() - T0}
    lap = pr.stopwatch(tm)

    q = {k: 0 for k in ("rows_read", "dropped_no_customer", "dropped_duplicates",
                        "dropped_incomplete", "dropped_non_positive_price", "purchase_rows",
                        "return_rows", "cancellation_rows")}
    q.update({"gross": 0.0, "returned": 0.0, "first": 1 << 62, "last": -(1 << 62)})
    parts = {"cust": [], "days": [], "inv": [], "prod": []}
    for df in pd.read_csv(a.file, chunksize=a.chunk,
                          dtype={"InvoiceNo": str, "StockCode": str, "Description": str,
                                 "Country": str}):
        reduce_chunk(df, q, parts)
    lap("read_clean_reduce")
    cust, quality = features(parts, q, a.spend_window)
    del parts
    lap("features")
    pr.segment_and_write(a, cust, quality, tm, lap)


if __name__ == "__main__":
    main()
