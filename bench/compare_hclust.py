#!/usr/bin/python3
"""Side-by-side benchmark of custseg's hierarchical clustering.

usage: /usr/bin/python3 bench/compare_hclust.py [--reps N] [--build-dir DIR]
                                                 [--data-dir DIR] [--only NAME]
                                                 [--with-sklearn] [--threads T]

Data: Gaussian blobs of unequal size and spread plus 1% uniform noise, d = 8
(bench/make_blobs.py, 8 blobs, seed 42), written once to the data directory
(default /tmp/custseg-bench-hclust).

Benchmarks (NAME for --only), each --reps times (default 5), tools alternating
(A B, B A, ...), medians reported:

  exact   Ward on 20,000 x 8, exact: cseg_hclust_fit (bench/cseg_bench_hclust)
          against fastcluster.linkage_vector(X, method='ward') (Debian
          python3-fastcluster). Target: faster, with at most 1.5x its peak
          memory. Checks: heights equal to fastcluster's to 1e-9 relative,
          same merges, same 8-cluster cut. --with-sklearn also times
          scikit-learn's AgglomerativeClustering(8, linkage='ward') once, for
          information (about 24 s and 3 GB).
  micro   Ward on 1,000,000 x 8 with the default parameters (micro-clusters).
          Target: under 60 s; peak memory reported. Checks: approximate tree,
          at most 2000 leaves, the root holds every row.

Times are those each tool measures around the call itself (cseg_bench_hclust's
JSON; for the Python peers a worker child of this script times the call after
its imports and data loading). Peak memory is the maximum resident set of
each child process (/usr/bin/time), which for custseg includes the CSV table it
reads the data from. The load average is printed at the start and the end:
the machine this was written on has two busy cores, so timings are noisy.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PY = "/usr/bin/python3"
EXACT_N, MICRO_N, D, K, SEED, NOISE = 20_000, 1_000_000, 8, 8, 42, 0.01
HEIGHT_TOL = 1e-9
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


# --------------------------------------------------------------------------
# Worker: runs in a child /usr/bin/python3 so imports and loading are not timed.
# --------------------------------------------------------------------------

def worker(argv):
    import numpy as np
    op, npy = argv[0], argv[1]
    X = np.load(npy)
    if op == "fastcluster":
        import fastcluster
        t0 = time.perf_counter()
        Z = fastcluster.linkage_vector(X, method="ward")
        el = time.perf_counter() - t0
        np.save(argv[2], Z)
        print(json.dumps({"op": "fastcluster", "seconds": el, "version": fastcluster.__version__}))
    elif op == "sklearn":
        import sklearn
        from sklearn.cluster import AgglomerativeClustering
        t0 = time.perf_counter()
        lab = AgglomerativeClustering(n_clusters=K, linkage="ward").fit(X).labels_
        el = time.perf_counter() - t0
        np.save(argv[2], lab.astype(np.int32))
        print(json.dumps({"op": "sklearn", "seconds": el, "version": sklearn.__version__}))
    else:
        raise SystemExit("unknown worker op " + op)


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------

def log(msg):
    print(msg, flush=True)


def spawn(cmd, threads=None):
    """Run cmd; return (the JSON object on its last stdout line, its peak RSS in MB).

    The peak comes from /usr/bin/time, which forks cmd from its own small
    process: a child forked straight from this Python process would count
    the pages it inherits before exec in its maximum resident set."""
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARS}
    if threads:
        for k in THREAD_VARS:
            env[k] = str(threads)
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as tf:
        p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", tf.name, *cmd], env=env,
                           capture_output=True, text=True)
        if p.returncode != 0:
            sys.stderr.write(p.stdout + p.stderr)
            raise SystemExit("command failed: " + " ".join(cmd))
        rss_kb = float(tf.read().strip().splitlines()[-1])
    return json.loads(p.stdout.strip().splitlines()[-1]), rss_kb / 1024.0


def py_worker(*args):
    return spawn([PY, os.path.abspath(__file__), "--worker", *map(str, args)])


def make_data(ddir, n):
    csv = os.path.join(ddir, "blobs_%d_%d.csv" % (n, D))
    if not os.path.exists(csv):
        log("  generating %s" % csv)
        subprocess.run([PY, os.path.join(HERE, "make_blobs.py"), csv + ".tmp", str(n), str(D),
                        str(K), "--noise", str(NOISE), "--seed", str(SEED)], check=True)
        os.rename(csv + ".tmp", csv)
    npy = csv[:-4] + ".npy"
    if n <= EXACT_N and not os.path.exists(npy):
        import numpy as np
        X = np.loadtxt(csv, delimiter=",", skiprows=1)  # correctly rounded, as the C reader
        np.save(npy, np.ascontiguousarray(X))
    return csv, npy


def same_partition(a, b):
    pairs = set(zip(a.tolist(), b.tolist()))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


def med(xs):
    return statistics.median(xs)


# --------------------------------------------------------------------------
# Benchmarks
# --------------------------------------------------------------------------

def bench_exact(a, drv, ddir):
    import numpy as np
    from scipy.cluster.hierarchy import fcluster
    csv, npy = make_data(ddir, EXACT_N)
    zc, zf = os.path.join(ddir, "z_custseg.bin"), os.path.join(ddir, "z_fastcluster.npy")
    t_c, t_f, m_c, m_f = [], [], [], []
    for r in range(a.reps):
        order = ("c", "f") if r % 2 == 0 else ("f", "c")
        for tool in order:
            if tool == "c":
                res, rss = spawn([drv, csv, "ward", str(a.threads), "1", str(K), zc])
                t_c.append(res["seconds"])
                m_c.append(rss)
            else:
                res, rss = py_worker("fastcluster", npy, zf)
                t_f.append(res["seconds"])
                m_f.append(rss)
        log("  rep %d: custseg %.3f s (%.1f MB), fastcluster %.3f s (%.1f MB)"
            % (r + 1, t_c[-1], m_c[-1], t_f[-1], m_f[-1]))
    Zc = np.fromfile(zc).reshape(-1, 4)
    Zf = np.load(zf)
    lab_c = np.fromfile(zc + ".labels", dtype=np.int32)
    rel = float(np.max(np.abs(Zc[:, 2] - Zf[:, 2]) / np.maximum(np.abs(Zf[:, 2]), 1e-300)))
    checks = [
        ("heights equal to fastcluster's to 1e-9 relative (max %.2g)" % rel, rel <= HEIGHT_TOL),
        ("same merges (ids) as fastcluster", bool(np.array_equal(Zc[:, :2], Zf[:, :2]))),
        ("same sizes as fastcluster", bool(np.array_equal(Zc[:, 3], Zf[:, 3]))),
        ("8-cluster cut = fcluster(fastcluster Z, 8, 'maxclust')",
         same_partition(lab_c, fcluster(Zf, K, "maxclust"))),
    ]
    speed = med(t_f) / med(t_c)
    mem = med(m_c) / med(m_f)
    log("exact Ward %d x %d: custseg %.3f s, fastcluster %.3f s: %.2fx faster -> %s"
        % (EXACT_N, D, med(t_c), med(t_f), speed, "PASS" if speed > 1 else "FAIL"))
    log("  peak memory: custseg %.1f MB, fastcluster %.1f MB: ratio %.2f (target <= 1.5) -> %s"
        % (med(m_c), med(m_f), mem, "PASS" if mem <= 1.5 else "FAIL"))
    if a.with_sklearn:
        ls = os.path.join(ddir, "labels_sklearn.npy")
        res, rss = py_worker("sklearn", npy, ls)
        log("  info: scikit-learn %s AgglomerativeClustering(ward): %.2f s, %.0f MB; same "
            "8-cluster cut as custseg: %s" % (res["version"], res["seconds"], rss,
                                              same_partition(lab_c, np.load(ls))))
    ok = speed > 1 and mem <= 1.5
    return {"custseg_s": med(t_c), "fastcluster_s": med(t_f), "speedup": speed,
            "custseg_mb": med(m_c), "fastcluster_mb": med(m_f), "memory_ratio": mem,
            "checks": checks, "pass": ok}


def bench_micro(a, drv, ddir):
    csv, _ = make_data(ddir, MICRO_N)
    ts, ms, last = [], [], None
    for r in range(a.reps):
        res, rss = spawn([drv, csv, "ward", str(a.threads), "0", str(K)])
        ts.append(res["seconds"])
        ms.append(rss)
        last = res
        log("  rep %d: %.2f s, %.1f MB, %d leaves" % (r + 1, ts[-1], ms[-1], res["n_leaves"]))
    checks = [
        ("approximate tree (micro-clusters)", last["approximate"] == 1),
        ("at most 2000 leaves", last["n_leaves"] <= 2000),
        ("8-cluster cut covers every row", sum(last["sizes"]) == MICRO_N),
        ("estimate within 4x of the time (estimate %.1f s)" % last["estimate_seconds"],
         med(ts) / 4 <= last["estimate_seconds"] <= med(ts) * 4),
    ]
    ok = med(ts) < 60
    log("micro-cluster Ward %d x %d: %.2f s (target < 60 s) -> %s; peak memory %.0f MB "
        "(library estimate %.0f MB; the driver also holds the CSV table and a copy of X, "
        "2 x %.0f MB)" % (MICRO_N, D, med(ts), "PASS" if ok else "FAIL", med(ms),
                          last["estimate_bytes"] / 2**20, MICRO_N * D * 8 / 2**20))
    log("  cluster sizes at k = 8: %s" % last["sizes"])
    return {"seconds": med(ts), "peak_mb": med(ms), "checks": checks, "pass": ok}


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2:])
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    ap.add_argument("--data-dir", default="/tmp/custseg-bench-hclust")
    ap.add_argument("--only", choices=("exact", "micro"))
    ap.add_argument("--threads", type=int, default=0, help="custseg threads (0 = all cores)")
    ap.add_argument("--with-sklearn", action="store_true")
    a = ap.parse_args()
    drv = os.path.join(a.build_dir, "bench", "cseg_bench_hclust")
    if not os.access(drv, os.X_OK):
        raise SystemExit("%s not found: build with cmake first" % drv)
    os.makedirs(a.data_dir, exist_ok=True)
    log("load average at start: %.2f %.2f %.2f; %d CPUs" % (*os.getloadavg(), os.cpu_count()))
    results, ok = {}, True
    for name, fn in (("exact", bench_exact), ("micro", bench_micro)):
        if a.only and a.only != name:
            continue
        log("== %s ==" % name)
        res = fn(a, drv, a.data_dir)
        for text, good in res["checks"]:
            log("  check: %s: %s" % (text, "ok" if good else "FAILED"))
            ok = ok and good
        ok = ok and res["pass"]
        results[name] = res
    log("load average at end: %.2f %.2f %.2f" % os.getloadavg())
    log("overall: %s" % ("PASS" if ok else "FAIL"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
