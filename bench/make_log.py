#!/usr/bin/python3
"""Write a synthetic transaction log in the Online Retail layout, seeded, for the
scale benchmarks of `custseg run` (issue 13).

usage: make_log.py OUT ROWS CUSTOMERS [--seed S] [--gzip] [--chunk N]

Columns: InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country,
as data/online_retail.csv.gz. Invoices of 1 to 40 lines (mean about 20) for a customer drawn
with a heavy tail (a few customers buy often); 4,000 products with fixed descriptions and
prices; dates over two years; about 2% of invoices are cancellations ("C" prefix, negative
quantities); about 20% of lines have no customer id (as in Online Retail); about 1% of lines
repeat the line before (exact duplicates). Written in chunks (--chunk rows, default
1,000,000), so memory stays flat whatever ROWS is; OUT ending in .gz (or --gzip) is
gzip-compressed. The same seed gives the same file.
"""
import argparse
import gzip

import numpy as np

COUNTRIES = ["United Kingdom"] * 18 + ["Germany", "France", "EIRE", "Spain", "Netherlands",
                                       "Belgium", "Switzerland", "Portugal", "Australia",
                                       "Norway"]
WORDS = ["WHITE", "RED", "HANGING", "HEART", "LANTERN", "METAL", "GLASS", "CANDLE", "HOLDER",
         "BAG", "JUMBO", "VINTAGE", "SET", "OF", "3", "6", "CAKE", "TINS", "PAPER", "CHAIN",
         "KIT", "LUNCH", "BOX", "DOORMAT", "CERAMIC", "MUG", "PINK", "BLUE", "STAR", "SIGN"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("rows", type=int)
    ap.add_argument("customers", type=int)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--gzip", action="store_true")
    ap.add_argument("--chunk", type=int, default=1_000_000)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    n_prod = 4000
    codes = np.array([f"{20000 + i}" + ("" if i % 7 else "A") for i in range(n_prod)])
    desc = np.array([" ".join(rng.choice(WORDS, 3)) + f" {i}" for i in range(n_prod)])
    price = np.round(rng.lognormal(1.0, 0.8, n_prod), 2)
    # customers: ids from 12346 up, each with a country and a weight (heavy tail)
    cust_country = rng.integers(0, len(COUNTRIES), a.customers)
    weight = rng.pareto(1.5, a.customers) + 1
    weight /= weight.sum()
    t0 = np.datetime64("2010-12-01T08:00")
    span_min = 2 * 365 * 24 * 60
    opener = gzip.open if a.gzip or a.out.endswith(".gz") else open
    written, invoice = 0, 536365
    with opener(a.out, "wt", newline="") as f:
        f.write("InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,"
                "Country\n")
        while written < a.rows:
            rows = min(a.chunk, a.rows - written)
            # invoices of 1..40 lines until the chunk is full
            sizes = rng.integers(1, 41, rows // 10 + 2)
            sizes = sizes[np.cumsum(sizes) <= rows]
            if sizes.sum() < rows:
                sizes = np.append(sizes, rows - sizes.sum())
            ninv = len(sizes)
            inv_cust = rng.choice(a.customers, ninv, p=weight)
            inv_time = t0 + rng.integers(0, span_min, ninv).astype("timedelta64[m]")
            cancel = rng.random(ninv) < 0.02
            no_id = rng.random(ninv) < 0.2
            inv_no = np.arange(invoice, invoice + ninv)
            invoice += ninv
            rep = np.repeat(np.arange(ninv), sizes)
            prod = rng.integers(0, n_prod, rows)
            qty = rng.integers(1, 25, rows) * np.where(cancel[rep], -1, 1)
            dup = rng.random(rows) < 0.01
            dup[0] = False
            idx = np.arange(rows)
            idx[dup] = idx[dup] - 1  # repeat the line before
            r, p = rep[idx], prod[idx]
            ids = np.where(no_id[r], "", np.char.add((12346 + inv_cust[r]).astype(str), ".0"))
            inv_txt = np.char.add(np.where(cancel[r], "C", ""), inv_no[r].astype(str))
            when = np.datetime_as_string(inv_time[r], unit="m")
            when = np.char.add(np.char.replace(when, "T", " "), ":00")
            cols = [inv_txt, codes[p], desc[p], qty[idx].astype(str), when,
                    np.char.mod("%.2f", price[p]), ids,
                    np.array(COUNTRIES)[cust_country[inv_cust[r]]]]
            lines = cols[0]
            for c in cols[1:]:
                lines = np.char.add(np.char.add(lines, ","), c)
            f.write("\n".join(lines.tolist()))
            f.write("\n")
            written += rows


if __name__ == "__main__":
    main()
