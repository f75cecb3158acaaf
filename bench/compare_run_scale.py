#!/usr/bin/python3
"""Transaction logs too large to read whole: `custseg run` against pandas read in chunks.

usage: /usr/bin/python3 bench/compare_run_scale.py [--reps N] [--pandas-timeout SECS]
                                                   [--data-dir DIR] [--build-dir DIR]
                                                   [--skip-100m]

Issue 13's targets for `custseg run`, on logs in the Online Retail layout written by
bench/cseg_bench_makelog.c (seeded; generated once into DATA_DIR):

  10M   10,000,000 rows, 500,000 customers (seed 3): custseg run against
        bench/pandas_run_chunked.py (read_csv in chunks + groupby, the same steps after),
        --reps runs each alternating (default 3): at least 5x faster.
  100M  100,000,000 rows, 5,000,000 customers (seed 7), plain and .gz: custseg run
        (throughput at least 50 MB/s of CSV end to end on 2 threads; peak memory and bytes
        per customer); pandas once, stopped after --pandas-timeout seconds (default 1800):
        where it stops, or its time.

Wall time of the whole process and its own peak resident memory (wait4). Prints the
CPU model and the load average before and after.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

from compare_clv import cpu_model  # the one reading of the CPU model for bench/

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PY = "/usr/bin/python3"
LOGS = {"10m": ("10000000", "500000", "3"), "100m": ("100000000", "5000000", "7")}


def timed(cmd, timeout=None):
    """Wall seconds, peak RSS (MiB) and exit status of one child; status None when
    it was stopped at the timeout."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = None if timeout is None else t0 + timeout
    while True:
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        if deadline and time.perf_counter() > deadline:
            p.kill()
            _, status, ru = os.wait4(p.pid, 0)
            return time.perf_counter() - t0, ru.ru_maxrss / 1024.0, None
        time.sleep(0.05)
    el = time.perf_counter() - t0
    err = p.stderr.read().decode(errors="replace")
    p.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.stderr.write(err[-2000:])
    return el, ru.ru_maxrss / 1024.0, code


def customers(out_dir):
    with open(os.path.join(out_dir, "customers.csv")) as f:
        return sum(1 for _ in f) - 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--pandas-timeout", type=float, default=1800)
    ap.add_argument("--data-dir", default="/tmp/custseg-bench")
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    ap.add_argument("--skip-100m", action="store_true")
    a = ap.parse_args()
    cs = os.path.join(a.build_dir, "custseg")
    gen = os.path.join(a.build_dir, "bench", "cseg_bench_makelog")
    for exe in (cs, gen):
        if not os.access(exe, os.X_OK):
            raise SystemExit(f"compare_run_scale.py: no {exe}; build first (CSEG_BENCH=ON)")
    os.makedirs(a.data_dir, exist_ok=True)
    paths = {}
    for name, (rows, cust, seed) in LOGS.items():
        if name == "100m" and a.skip_100m:
            continue
        for ext in ([".csv"] if name == "10m" else [".csv", ".csv.gz"]):
            path = os.path.join(a.data_dir, f"gen_{name}_seed{seed}{ext}")
            if not os.path.exists(path):
                print(f"writing {path} ...", flush=True)
                tmp = path + (".tmp.gz" if ext.endswith(".gz") else ".tmp")
                if subprocess.call([gen, tmp, rows, cust, seed]) != 0:
                    raise SystemExit("generator failed")
                os.rename(tmp, path)
            paths[name + ext] = path
    out = os.path.join(a.data_dir, "run_scale_out")
    print(f"custseg run on generated logs (issue 13), {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC")
    print(f"  CPU: {cpu_model()}, {os.cpu_count()} cores; load average before: "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    pd_cmd = [PY, os.path.join(HERE, "pandas_run_chunked.py")]

    # 10M: side by side, alternating.
    p10 = paths["10m.csv"]
    mb10 = os.path.getsize(p10) / 1e6
    runs = {"custseg": [], "pandas": []}
    for r in range(a.reps):
        order = ["custseg", "pandas"] if r % 2 == 0 else ["pandas", "custseg"]
        for tool in order:
            cmd = ([cs, "run", p10, "--out", out + "_cs", "--quiet"] if tool == "custseg"
                   else pd_cmd + [p10, "--out", out + "_pd"])
            el, mem, code = timed(cmd)
            if code != 0:
                raise SystemExit(f"{tool} failed on the 10M log")
            runs[tool].append((el, mem))
            print(f"  10M {tool:8s} run {r + 1}: {el:8.2f} s  peak {mem:8.0f} MiB", flush=True)
    med = {t: statistics.median(x[0] for x in v) for t, v in runs.items()}
    mem = {t: statistics.median(x[1] for x in v) for t, v in runs.items()}
    n10 = customers(out + "_cs")
    ratio = med["pandas"] / med["custseg"]
    print(f"\n10M rows ({mb10:.0f} MB, {n10} customers kept), median of {a.reps}:")
    for t in runs:
        print(f"  {t:8s} {med[t]:8.2f} s ({min(x[0] for x in runs[t]):.2f}-"
              f"{max(x[0] for x in runs[t]):.2f})  peak {mem[t]:7.0f} MiB  "
              f"{mb10 / med[t]:7.1f} MB/s")
    print(f"  ratio {ratio:.1f}x (target >= 5x: {'PASS' if ratio >= 5 else 'FAIL'}); custseg "
          f"{mem['custseg'] * 1048576 / n10:.0f} bytes of peak memory per customer")

    if a.skip_100m:
        return
    for key in ("100m.csv", "100m.csv.gz"):
        p = paths[key]
        el, m, code = timed([cs, "run", p, "--out", out + "_cs", "--quiet"])
        if code != 0:
            raise SystemExit(f"custseg failed on {p}")
        n = customers(out + "_cs")
        data_mb = os.path.getsize(paths["100m.csv"]) / 1e6
        print(f"\n100M rows, {os.path.basename(p)} ({os.path.getsize(p) / 1e6:.0f} MB; "
              f"{data_mb:.0f} MB of CSV), {n} customers kept:")
        print(f"  custseg  {el:8.2f} s  peak {m:7.0f} MiB  {data_mb / el:6.1f} MB/s of CSV "
              f"(target >= 50: {'PASS' if data_mb / el >= 50 else 'FAIL'}); "
              f"{m * 1048576 / n:.0f} bytes per customer", flush=True)
    el, m, code = timed(pd_cmd + [paths["100m.csv"], "--out", out + "_pd"], a.pandas_timeout)
    if code is None:
        print(f"  pandas   stopped after {el:.0f} s (--pandas-timeout), peak {m:.0f} MiB")
    elif code != 0:
        print(f"  pandas   failed (exit {code}) after {el:.0f} s, peak {m:.0f} MiB")
    else:
        print(f"  pandas   {el:8.2f} s  peak {m:7.0f} MiB")
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
