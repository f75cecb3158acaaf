#!/usr/bin/python3
"""Side-by-side benchmark of custseg PCA against scikit-learn.

usage: /usr/bin/python3 bench/compare_pca.py [--reps N] [--threads N] [--data-dir DIR]
                                              [--build-dir DIR] [--results FILE]

PCA fit on 1,000,000 x 32 correlated Gaussian data (variances geometric from
100 down to 0.1 along a random rotation, plus an offset): custseg
(bench/cseg_bench_pca, all 32 components) against
sklearn.decomposition.PCA(svd_solver='full').fit(X), run --reps times
(default 5), the two alternating (A B, B A, ...), medians compared with the
target: custseg at least 5x faster. Each tool times only the fit (the data
are loaded before the clock starts); transform(X) of all components is timed
too and reported (no target). Threads: the defaults of both tools unless
--threads is given (custseg all cores; scikit-learn's threaded OpenBLAS).

Checks: the 32 explained variances agree to 1e-10 relative; the mean |y| of
each projected component agrees to 1e-9 relative (signs may differ); custseg
gives the same bits in every run and for 1 and 2 threads. Peak memory: max
RSS of each child (resource.getrusage(RUSAGE_CHILDREN) in a fresh wrapper
process per run). The load average is recorded with the timings, as the
machine may be busy. The data are written once to /tmp/custseg-bench-pca
(.npy for numpy, .bin raw doubles for custseg). Results go to
DATA_DIR/results_pca.json (not in the tree).
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PY = "/usr/bin/python3"
N, D, SEED = 1_000_000, 32, 7
TARGET = 5.0
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
               "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def worker(argv):
    op = argv[0]
    import numpy as np
    if op == "gen":
        rng = np.random.default_rng(SEED)
        q, _ = np.linalg.qr(rng.normal(size=(D, D)))
        sd = np.sqrt(np.geomspace(100.0, 0.1, D))
        X = (rng.normal(size=(N, D)) * sd) @ q.T + rng.normal(size=D) * 5
        X = np.ascontiguousarray(X)
        np.save(argv[1] + ".npy.tmp.npy", X)
        X.tofile(argv[1] + ".bin.tmp")
        os.replace(argv[1] + ".npy.tmp.npy", argv[1] + ".npy")
        os.replace(argv[1] + ".bin.tmp", argv[1] + ".bin")
    elif op == "sklearn":
        from sklearn.decomposition import PCA
        from threadpoolctl import threadpool_info
        X = np.load(argv[1])
        pca = PCA(svd_solver="full")
        t0 = time.perf_counter()
        pca.fit(X)
        fit_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        Y = pca.transform(X)
        tr_s = time.perf_counter() - t0
        print(json.dumps({"op": "pca", "tool": "sklearn", "fit_seconds": fit_s,
                          "transform_seconds": tr_s,
                          "explained_variance": [float(v) for v in pca.explained_variance_],
                          "mean_abs_y": [float(v) for v in np.abs(Y).mean(axis=0)],
                          "threads": {p["internal_api"]: p["num_threads"]
                                      for p in threadpool_info()}}))
    elif op == "rss":  # run argv[1:] and report its max RSS, so each run is measured alone
        import resource
        p = subprocess.run(argv[1:], capture_output=True, text=True, env=os.environ)
        sys.stderr.write(p.stderr)
        if p.returncode != 0:
            sys.stdout.write(p.stdout)
            raise SystemExit(p.returncode)
        rss_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        out = json.loads(p.stdout.strip().splitlines()[-1])
        out["max_rss_mb"] = rss_kb / 1024
        print(json.dumps(out))
    else:
        raise SystemExit("unknown worker op " + op)


def child_env(threads=None):
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARS}
    if threads:
        for k in THREAD_VARS:
            env[k] = str(threads)
    return env


def run_json(cmd, env):
    p = subprocess.run([PY, os.path.abspath(__file__), "--worker", "rss", *cmd],
                       env=env, capture_output=True, text=True)
    if p.returncode != 0:
        sys.stderr.write(p.stdout + p.stderr)
        raise SystemExit("command failed: " + " ".join(cmd))
    return json.loads(p.stdout.strip().splitlines()[-1])


def rel(a, b):
    return abs(a - b) / max(abs(a), abs(b), 1e-300)


def log(msg):
    print(msg, flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0, help="0: each tool's default")
    ap.add_argument("--data-dir", default="/tmp/custseg-bench-pca")
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    ap.add_argument("--results", default=None, help="default DATA_DIR/results_pca.json")
    ap.add_argument("--worker", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    if a.worker:
        return worker(a.worker)
    exe = os.path.join(a.build_dir, "bench", "cseg_bench_pca")
    if not os.path.exists(exe):
        raise SystemExit(f"{exe} not found: build first (cmake --build {a.build_dir})")
    os.makedirs(a.data_dir, exist_ok=True)
    base = os.path.join(a.data_dir, f"pca_{N // 1000}k_{D}d_seed{SEED}")
    if not (os.path.exists(base + ".npy") and os.path.exists(base + ".bin")):
        log(f"generating {base}.npy/.bin ...")
        subprocess.run([PY, os.path.abspath(__file__), "--worker", "gen", base], check=True)
    env = child_env(a.threads or None)
    cmd_c = [exe, base + ".bin", str(N), str(D), str(a.threads)]
    cmd_s = [PY, os.path.abspath(__file__), "--worker", "sklearn", base + ".npy"]
    with open(base + ".bin", "rb") as f:  # page cache warm for both
        while f.read(1 << 22):
            pass
    rc, rs, loads = [], [], []
    for i in range(a.reps):
        loads.append(os.getloadavg()[0])
        order = [(rc, cmd_c), (rs, cmd_s)]
        if i % 2:
            order.reverse()
        for dst, cmd in order:
            dst.append(run_json(cmd, env))
        log(f"  rep {i + 1}/{a.reps}: custseg fit {rc[-1]['fit_seconds']:.3f} s, sklearn fit "
            f"{rs[-1]['fit_seconds']:.3f} s (load {loads[-1]:.2f})")
    # Thread independence of custseg's bits: 1 and 2 threads.
    t1 = run_json([exe, base + ".bin", str(N), str(D), "1"], child_env(1))
    t2 = run_json([exe, base + ".bin", str(N), str(D), "2"], child_env(2))
    med = statistics.median
    fc, fs = med([r["fit_seconds"] for r in rc]), med([r["fit_seconds"] for r in rs])
    tc, ts = med([r["transform_seconds"] for r in rc]), med([r["transform_seconds"] for r in rs])
    ratio = fs / fc
    vc, vs = rc[0]["explained_variance"], rs[0]["explained_variance"]
    maxrel = max(rel(x, y) for x, y in zip(vc, vs))
    yrel = max(rel(x, y) for x, y in zip(rc[0]["mean_abs_y"], rs[0]["mean_abs_y"]))
    same = all(r["explained_variance"] == vc and r["mean_abs_y"] == rc[0]["mean_abs_y"]
               for r in rc + [t1, t2])
    checks = [
        ("explained variances equal to 1e-10 relative", maxrel <= 1e-10,
         f"max rel diff {maxrel:.2e} (smallest: custseg {vc[-1]!r}, sklearn {vs[-1]!r})"),
        ("mean |y| per component equal to 1e-9 relative", yrel <= 1e-9,
         f"max rel diff {yrel:.2e}"),
        ("custseg: same bits in every run and for 1 and 2 threads", same, ""),
    ]
    log("")
    log(f"PCA fit, {N} x {D}, medians of {a.reps} runs; threads: "
        + (str(a.threads) if a.threads else "defaults (custseg all cores, sklearn OpenBLAS "
           f"{rs[0]['threads']})"))
    log(f"  load average during the runs: {', '.join(f'{x:.2f}' for x in loads)} "
        f"({os.cpu_count()} cores)")
    log(f"  {'':<22}{'custseg':>10}{'sklearn':>10}")
    log(f"  {'fit (s)':<22}{fc:>10.3f}{fs:>10.3f}   ratio {ratio:.1f}x, target >= {TARGET:g}x: "
        + ("PASS" if ratio >= TARGET else "FAIL"))
    log(f"  {'transform (s)':<22}{tc:>10.3f}{ts:>10.3f}   ratio {ts / tc:.1f}x (info)")
    log(f"  {'peak RSS (MB)':<22}{max(r['max_rss_mb'] for r in rc):>10.0f}"
        f"{max(r['max_rss_mb'] for r in rs):>10.0f}   (info; data alone {N * D * 8 / 2**20:.0f} MB)")
    log(f"  single-thread custseg fit {t1['fit_seconds']:.3f} s, 2 threads {t2['fit_seconds']:.3f} s")
    for name, ok, detail in checks:
        log(f"  [{'ok' if ok else 'FAIL'}] {name}" + (f": {detail}" if detail else ""))
    res = {"n": N, "d": D, "reps": a.reps, "threads": a.threads, "load_average": loads,
           "custseg_runs": rc, "sklearn_runs": rs, "custseg_1_thread": t1,
           "custseg_2_threads": t2, "fit_custseg": fc, "fit_sklearn": fs, "ratio": ratio,
           "target": TARGET, "pass": ratio >= TARGET, "transform_custseg": tc,
           "transform_sklearn": ts, "platform": platform.platform(),
           "checks": [{"check": c, "ok": bool(o), "detail": d} for c, o, d in checks]}
    a.results = a.results or os.path.join(a.data_dir, "results_pca.json")
    with open(a.results, "w") as f:
        json.dump(res, f, indent=1)
    log(f"results in {a.results}")
    return 0 if ratio >= TARGET and all(c[1] for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
