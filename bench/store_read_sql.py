#!/usr/bin/python3
"""The pandas side of bench/store.sh (4): read a whole PostgreSQL table into a
DataFrame the usual way, pandas.read_sql through an SQLAlchemy engine with
psycopg2 (Debian python3-pandas, python3-sqlalchemy, python3-psycopg2).

usage: store_read_sql.py URL [TABLE]
  URL    postgresql+psycopg2:///DB?host=SOCKET_DIR&port=PORT&user=USER
  TABLE  default customers

Prints `read_sql_seconds S` (time.perf_counter around the read_sql call alone:
connecting, the query, building the frame; imports and engine creation are
outside), `import_seconds S`, the frame's shape and dtypes, and the column sums
(a check that the whole table arrived).
"""
import sys
import time

t0 = time.perf_counter()
import pandas as pd  # noqa: E402
import sqlalchemy  # noqa: E402

t1 = time.perf_counter()


def main():
    url = sys.argv[1]
    table = sys.argv[2] if len(sys.argv) > 2 else "customers"
    engine = sqlalchemy.create_engine(url)
    t2 = time.perf_counter()
    df = pd.read_sql(f"SELECT * FROM {table}", engine)
    t3 = time.perf_counter()
    engine.dispose()
    print(f"read_sql_seconds {t3 - t2:.6f}")
    print(f"import_seconds {t1 - t0:.6f}")
    print(f"shape {df.shape[0]} {df.shape[1]}")
    print("dtypes " + " ".join(f"{c}:{t}" for c, t in df.dtypes.items()))
    print("sums " + " ".join(f"{v:.6f}" for v in df.sum(numeric_only=True)))


if __name__ == "__main__":
    main()
