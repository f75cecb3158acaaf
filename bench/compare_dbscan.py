#!/usr/bin/python3
"""Side-by-side benchmark of custseg's DBSCAN against scikit-learn.

usage: /usr/bin/python3 bench/compare_dbscan.py [--reps N] [--data-dir DIR]
                                                 [--build-dir DIR] [--threads N]
                                                 [--large] [--results FILE]

main (always): Gaussian blobs of unequal size and spread (bench/make_blobs.py,
    8 blobs, centres in [-10, 10]^3, spreads 0.5..2) plus 1% uniform noise,
    100,000 x 3, eps = 0.6, min_samples = 10 (8 clusters and ~3% noise).
    custseg (bench/cseg_bench_dbscan, default threads) and
    sklearn.cluster.DBSCAN(algorithm="kd_tree") run --reps times (default 5),
    alternating, each in its own child process; medians are reported.
    Targets: custseg >= 10x faster (fit seconds as each tool measures them
    around the call, after loading) and custseg peak memory < 150 MB (max RSS
    of the child, from os.wait4). Checks: identical core samples and labels.

large (--large, informational, custseg only, one run each): 1,000,000 x 3
    (eps 0.6) and 1,000,000 x 8 (eps 2.6, about the k-distance knee),
    min_samples 10: fit seconds and peak memory.

The data is generated once into --data-dir (default /tmp/custseg-bench-dbscan)
as CSV (for custseg) and .npy (for scikit-learn, parsed from the same CSV).
The load average is recorded with the timings: on a busy machine they are
noisy. Results go to --results (default DATA_DIR/results.json).
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PY = "/usr/bin/python3"
SEED = 7
MAIN = {"n": 100_000, "d": 3, "eps": 0.6, "min_samples": 10}
LARGE = [{"n": 1_000_000, "d": 3, "eps": 0.6, "min_samples": 10},
         {"n": 1_000_000, "d": 8, "eps": 2.6, "min_samples": 10}]
TARGET_SPEEDUP = 10.0
TARGET_MB = 150.0
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
               "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


# --------------------------------------------------------------------------
# Worker: runs in a child /usr/bin/python3 so imports and loading are not timed.
# --------------------------------------------------------------------------

def worker(argv):
    import numpy as np
    op = argv[0]
    if op == "npy":
        X = np.loadtxt(argv[1], delimiter=",", skiprows=1, dtype=np.float64)
        np.save(argv[2], np.ascontiguousarray(X))
    elif op == "dbscan":
        import sklearn
        from sklearn.cluster import DBSCAN
        X = np.load(argv[1])
        eps, ms, out = float(argv[2]), int(argv[3]), argv[4]
        t0 = time.perf_counter()
        db = DBSCAN(eps=eps, min_samples=ms, algorithm="kd_tree").fit(X)
        el = time.perf_counter() - t0
        core = np.zeros(len(X), dtype=np.uint8)
        core[db.core_sample_indices_] = 1
        with open(out, "wb") as f:
            f.write(db.labels_.astype("<i4").tobytes())
            f.write(core.tobytes())
        print(json.dumps({"op": "dbscan", "tool": "sklearn", "sklearn": sklearn.__version__,
                          "seconds": el, "n_clusters": int(db.labels_.max()) + 1,
                          "n_core": int(core.sum()), "n_noise": int((db.labels_ < 0).sum())}))
    else:
        raise SystemExit(f"unknown worker op {op}")


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------

def child_env(threads=None):
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARS}
    if threads:
        for k in THREAD_VARS:
            env[k] = str(threads)
    return env


def run_measured(cmd, env=None):
    """Run cmd as a child and reap it with os.wait4 so its own max RSS is known."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as ef:
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=ef, env=env or child_env())
        out = p.stdout.read().decode()  # small JSON lines; read before reaping
        _, status, ru = os.wait4(p.pid, 0)
        ef.seek(0)
        err = ef.read().decode(errors="replace")
    p.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        sys.stderr.write(out + err)
        raise SystemExit(f"command failed ({p.returncode}): {' '.join(cmd)}")
    line = [ln for ln in out.strip().splitlines() if ln.startswith("{")][-1]
    return json.loads(line), ru.ru_maxrss / 1024.0, wall


def log(msg):
    print(msg, flush=True)


def loadavg():
    return list(os.getloadavg())


def prepare(ddir, n, d):
    os.makedirs(ddir, exist_ok=True)
    csv = os.path.join(ddir, f"blobs_{n}_{d}d.csv")
    npy = csv[:-4] + ".npy"
    if not os.path.exists(csv):
        log(f"generating {csv} ...")
        subprocess.run([PY, os.path.join(HERE, "make_blobs.py"), csv + ".tmp", str(n), str(d),
                        "8", "--noise", "0.01", "--seed", str(SEED)], check=True)
        os.replace(csv + ".tmp", csv)
    return csv, npy


def ensure_npy(csv, npy):
    if not os.path.exists(npy) or os.path.getmtime(npy) < os.path.getmtime(csv):
        log(f"writing {npy} ...")
        subprocess.run([PY, os.path.abspath(__file__), "--worker", "npy", csv, npy + ".tmp.npy"],
                       check=True)
        os.replace(npy + ".tmp.npy", npy)


def read_result(path, n):
    import numpy as np
    raw = open(path, "rb").read()
    return (np.frombuffer(raw[:4 * n], dtype="<i4"), np.frombuffer(raw[4 * n:], dtype=np.uint8))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--data-dir", default="/tmp/custseg-bench-dbscan")
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    ap.add_argument("--threads", type=int, default=0, help="custseg threads (0 = all cores)")
    ap.add_argument("--large", action="store_true", help="also the 1M-row custseg-only runs")
    ap.add_argument("--results", default=None, help="default DATA_DIR/results.json")
    a = ap.parse_args()
    a.results = a.results or os.path.join(a.data_dir, "results.json")
    exe = os.path.join(a.build_dir, "bench", "cseg_bench_dbscan")
    if not os.path.exists(exe):
        raise SystemExit(f"{exe} not found: build first (cmake --build {a.build_dir})")
    res = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                       "platform": platform.platform()},
           "load_before": loadavg()}
    n, d, eps, ms = MAIN["n"], MAIN["d"], MAIN["eps"], MAIN["min_samples"]
    csv, npy = prepare(a.data_dir, n, d)
    ensure_npy(csv, npy)
    out_c = os.path.join(a.data_dir, "labels_custseg.bin")
    out_s = os.path.join(a.data_dir, "labels_sklearn.bin")
    cmd_c = [exe, "fit", csv, repr(eps), str(ms), str(a.threads), out_c]
    cmd_s = [PY, os.path.abspath(__file__), "--worker", "dbscan", npy, repr(eps), str(ms), out_s]
    log(f"main: {n} x {d}, eps = {eps}, min_samples = {ms}, {a.reps} reps, alternating")
    log(f"  custseg: {' '.join(cmd_c)}")
    log(f"  sklearn: {' '.join(cmd_s)}")
    runs = {"custseg": [], "sklearn": []}
    for i in range(a.reps):
        order = [("custseg", cmd_c), ("sklearn", cmd_s)]
        if i % 2:
            order.reverse()
        for name, cmd in order:
            j, rss, wall = run_measured(cmd)
            runs[name].append({"seconds": j["seconds"], "max_rss_mb": rss, "wall": wall,
                               "load1": loadavg()[0], "result": j})
            log(f"  rep {i + 1} {name:8s} fit {j['seconds']:8.4f} s  max RSS {rss:7.1f} MB  "
                f"(process {wall:6.2f} s, load {loadavg()[0]:.2f})")
    med = {k: statistics.median(r["seconds"] for r in v) for k, v in runs.items()}
    rss = {k: max(r["max_rss_mb"] for r in v) for k, v in runs.items()}
    speedup = med["sklearn"] / med["custseg"]
    lc, cc = read_result(out_c, n)
    ls, cs = read_result(out_s, n)
    same_core = bool((lc.size == ls.size) and (cc == cs).all())
    same_lab = bool((lc == ls).all())
    rc, rs = runs["custseg"][-1]["result"], runs["sklearn"][-1]["result"]
    checks = [
        ("identical core samples", same_core, f"{rc['n_core']} vs {rs['n_core']} core"),
        ("identical labels (same numbering)", same_lab,
         f"{int((lc != ls).sum())} rows differ; {rc['n_clusters']} clusters, "
         f"{rc['n_noise']} noise"),
        ("same number of clusters", rc["n_clusters"] == rs["n_clusters"],
         f"{rc['n_clusters']} vs {rs['n_clusters']}"),
    ]
    ok_speed = speedup >= TARGET_SPEEDUP
    ok_mem = rss["custseg"] < TARGET_MB
    log("")
    log(f"main: custseg {med['custseg']:.4f} s (median), sklearn {med['sklearn']:.4f} s: "
        f"{speedup:.1f}x (target >= {TARGET_SPEEDUP:g}x) {'PASS' if ok_speed else 'FAIL'}")
    log(f"      peak memory custseg {rss['custseg']:.1f} MB, sklearn {rss['sklearn']:.1f} MB "
        f"(target custseg < {TARGET_MB:g} MB) {'PASS' if ok_mem else 'FAIL'}")
    for name, ok, info in checks:
        log(f"      check: {name}: {'PASS' if ok else 'FAIL'} ({info})")
    res["main"] = {"params": MAIN, "runs": runs, "median_seconds": med, "max_rss_mb": rss,
                   "speedup": speedup, "target_speedup": TARGET_SPEEDUP,
                   "pass_speed": ok_speed, "pass_memory": ok_mem,
                   "checks": [{"name": c[0], "ok": c[1], "info": c[2]} for c in checks],
                   "custseg_cmd": " ".join(cmd_c), "sklearn_cmd": " ".join(cmd_s)}
    if a.large:
        res["large"] = []
        for cfg in LARGE:
            csv_l, _ = prepare(a.data_dir, cfg["n"], cfg["d"])
            cmd = [exe, "fit", csv_l, repr(cfg["eps"]), str(cfg["min_samples"]), str(a.threads)]
            j, r, wall = run_measured(cmd)
            log(f"large: {cfg['n']} x {cfg['d']}, eps {cfg['eps']}, min_samples "
                f"{cfg['min_samples']}: fit {j['seconds']:.2f} s, max RSS {r:.0f} MB, "
                f"{j['n_clusters']} clusters, {j['n_core']} core, {j['n_noise']} noise "
                f"(load {loadavg()[0]:.2f})")
            res["large"].append({"params": cfg, "result": j, "max_rss_mb": r, "wall": wall,
                                 "load1": loadavg()[0]})
    res["load_after"] = loadavg()
    log(f"load average before {res['load_before']}, after {res['load_after']}")
    with open(a.results, "w") as f:
        json.dump(res, f, indent=1)
    log(f"wrote {os.path.relpath(a.results)}")
    return 0 if ok_speed and ok_mem and all(c[1] for c in checks) else 1


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2:])
    else:
        sys.exit(main())
