"""What a user would build instead of `custseg serve` (issue 10, part 5): a Flask app under
gunicorn calling scikit-learn's KMeans.predict for /v1/score and inserting into SQLite for
/v1/events. The pipeline is fitted once at start (gunicorn --preload) on the customers.csv
of `custseg run`: log1p of the RFM features, StandardScaler, KMeans (k as in that run). Events
are inserted in a transaction per request with SQLite in WAL mode and synchronous=FULL (a
reply means the event is on disk, as with custseg serve).
Environment: CSEG_BENCH_CUSTOMERS (customers.csv), CSEG_BENCH_K, CSEG_BENCH_FLASK_DB."""
import os
import sqlite3

import numpy as np
import pandas as pd
from flask import Flask, jsonify, request
from sklearn.cluster import KMeans
from sklearn.preprocessing import StandardScaler

FEATURES = ["recency_days", "frequency", "monetary", "tenure_days", "avg_order_value",
            "spend_90d", "n_products", "return_rate"]
_df = pd.read_csv(os.environ["CSEG_BENCH_CUSTOMERS"])
_X = np.log1p(_df[FEATURES].clip(lower=0).to_numpy(dtype=float))
SCALER = StandardScaler().fit(_X)
KM = KMeans(n_clusters=int(os.environ.get("CSEG_BENCH_K", "5")), n_init=1,
            random_state=0).fit(SCALER.transform(_X))
DB = os.environ["CSEG_BENCH_FLASK_DB"]
_conn = None

app = Flask(__name__)


def conn():
    global _conn
    if _conn is None:
        _conn = sqlite3.connect(DB, timeout=30, isolation_level=None)
        _conn.execute("PRAGMA journal_mode=WAL")
        _conn.execute("PRAGMA synchronous=FULL")
        _conn.execute("CREATE TABLE IF NOT EXISTS events (customer_id TEXT, time TEXT, "
                      "invoice TEXT, product TEXT, quantity REAL, price REAL, event_id TEXT)")
    return _conn


@app.post("/v1/score")
def score():
    f = request.get_json()
    x = np.log1p(np.clip(np.array([[float(f[c]) for c in FEATURES]]), 0, None))
    seg = int(KM.predict(SCALER.transform(x))[0])
    return jsonify(segment=seg + 1)


@app.post("/v1/events")
def events():
    body = request.get_json()
    evs = body if isinstance(body, list) else [body]
    c = conn()
    c.execute("BEGIN IMMEDIATE")
    c.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?)",
                  [(e.get("customer_id"), e.get("time"), e.get("invoice"), e.get("product"),
                    e.get("quantity"), e.get("price"), e.get("event_id")) for e in evs])
    c.execute("COMMIT")
    return jsonify(count=len(evs))
