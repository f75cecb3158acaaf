#!/usr/bin/python3
"""Side-by-side benchmark of custseg's Gaussian mixture against scikit-learn.

usage: /usr/bin/python3 bench/compare_gmm.py [--reps N] [--data-dir DIR] [--build-dir DIR]
                                             [--max-iter M] [--skip-1m] [--results FILE]

Target (full covariance, 200,000 x 8, k = 8, Gaussian blobs of unequal size
and spread plus 1% uniform noise): time per EM iteration at least 3x lower
than sklearn.mixture.GaussianMixture.

Same start for both: one scikit-learn KMeans run (n_init=1, random_state=0)
gives hard labels, hence weights, means and precisions (inverse of each
cluster's covariance + 1e-6 I), passed as weights_init / means_init /
precisions_init to both tools. tol = 0 and max_iter = M (default 20), so both
run exactly M iterations. Each tool fits twice in one process, with
max_iter = M and max_iter = 1, and

    time per iteration = (t(M) - t(1)) / (M - 1)

so what is compared is EM iterations only: start-up (scikit-learn still runs
its init_params step, here the cheap 'random_from_data', before replacing it
with the given start), input checks and the final E-step cancel. The plain
t(M) / M is reported too.

Two thread settings, each run --reps times (default 5), the tools
alternating (A B, B A, ...), medians reported:
  default  custseg n_threads = 0 (all cores), scikit-learn with its default
           OpenMP/OpenBLAS threads (threaded OpenBLAS);
  1        custseg n_threads = 1, OMP_NUM_THREADS = OPENBLAS_NUM_THREADS = 1.

Checks: both ran M iterations; lower bounds after 1 and after M iterations
equal to 1e-9 relative; weights and means after M iterations equal to 1e-6;
custseg gives the same bits with 1 thread and all threads.

Informational: custseg on 1,000,000 x 8 (same generator), default k-means
start, max_iter = 100, tol = 1e-3: fit time, iterations and peak memory
(max RSS of the child, from os.wait4; the 61 MiB input array is included).

The data is generated once into DIR (default /tmp/custseg-bench-gmm) by
bench/make_blobs.py and kept as raw little-endian doubles. Load averages are
printed with the results because the timings are only as quiet as the
machine. Results go to DIR/results_gmm.json.
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
N, D, K, NOISE, BOX, SEED = 200_000, 8, 8, 0.01, 3.0, 42
N_BIG = 1_000_000
TARGET = 3.0
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
               "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


# --------------------------------------------------------------------------
# Worker: runs inside a child /usr/bin/python3 so that imports and data
# loading are not timed.
# --------------------------------------------------------------------------

def worker(argv):
    import warnings

    import numpy as np
    op = argv[0]
    if op == "convert":  # CSV -> raw doubles, correctly rounded parsing
        import pandas as pd
        X = pd.read_csv(argv[1], float_precision="round_trip").to_numpy(np.float64)
        np.ascontiguousarray(X).tofile(argv[2])
        print(json.dumps({"rows": X.shape[0], "cols": X.shape[1]}))
    elif op == "start":  # one k-means run -> weights, means, precisions
        from sklearn.cluster import KMeans
        X = np.fromfile(argv[1]).reshape(-1, D)
        lab = KMeans(n_clusters=K, n_init=1, random_state=0).fit(X).labels_
        w = np.bincount(lab, minlength=K) / len(X)
        mu = np.array([X[lab == c].mean(axis=0) for c in range(K)])
        prec = np.array([np.linalg.inv(np.cov(X[lab == c].T, bias=True) + 1e-6 * np.eye(D))
                         for c in range(K)])
        prefix = argv[2]
        w.tofile(prefix + ".w.f64")
        mu.tofile(prefix + ".mu.f64")
        prec.tofile(prefix + ".prec.f64")
        print(json.dumps({"sizes": np.bincount(lab, minlength=K).tolist()}))
    elif op == "gmm":
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.mixture import GaussianMixture
        from threadpoolctl import threadpool_info
        X = np.fromfile(argv[1]).reshape(-1, D)
        prefix, max_iter = argv[2], int(argv[3])
        w = np.fromfile(prefix + ".w.f64")
        mu = np.fromfile(prefix + ".mu.f64").reshape(K, D)
        prec = np.fromfile(prefix + ".prec.f64").reshape(K, D, D)
        out = {"op": "gmm", "tool": "sklearn"}
        for it, key in ((max_iter, ""), (1, "_1iter")):
            gm = GaussianMixture(n_components=K, covariance_type="full", max_iter=it, tol=0,
                                 reg_covar=1e-6, weights_init=w, means_init=mu,
                                 precisions_init=prec, init_params="random_from_data",
                                 random_state=0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                t0 = time.perf_counter()
                gm.fit(X)
                el = time.perf_counter() - t0
            out["seconds" + key] = el
            out["lower_bound" + key] = float(gm.lower_bound_)
            if not key:
                out["n_iter"] = int(gm.n_iter_)
                out["weights"] = gm.weights_.tolist()
                out["means"] = gm.means_.ravel().tolist()
        out["threads"] = {p["internal_api"]: p["num_threads"] for p in threadpool_info()}
        print(json.dumps(out))
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


def run_json_rss(cmd, env):
    """As run_json, with the child's own peak RSS (os.wait4)."""
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    out, err = p.stdout.read(), p.stderr.read()
    p.stdout.close()
    p.stderr.close()
    if p.returncode != 0:
        sys.stderr.write(out + err)
        raise SystemExit(f"command failed ({p.returncode}): {' '.join(cmd)}")
    return json.loads(out.strip().splitlines()[-1]), ru.ru_maxrss / 1024.0


def log(msg):
    print(msg, flush=True)


def loadavg():
    return "%.2f %.2f %.2f" % os.getloadavg()


def prepare(ddir):
    os.makedirs(ddir, exist_ok=True)
    files = {}
    for n in (N, N_BIG):
        tag = f"blobs_{n // 1000}k_{D}d_{K}k_noise{NOISE:g}_box{BOX:g}_seed{SEED}"
        csv = os.path.join(ddir, tag + ".csv")
        raw = os.path.join(ddir, tag + ".f64")
        if not os.path.exists(raw):
            log(f"generating {csv} ...")
            subprocess.run([PY, os.path.join(HERE, "make_blobs.py"), csv + ".tmp", str(n), str(D),
                            str(K), "--noise", str(NOISE), "--box", str(BOX), "--seed",
                            str(SEED)], check=True)
            os.replace(csv + ".tmp", csv)
            run_json_rss([PY, os.path.abspath(__file__), "--worker", "convert", csv,
                          raw + ".tmp"], child_env())
            os.replace(raw + ".tmp", raw)
            os.remove(csv)
        files[n] = raw
    prefix = files[N][:-4] + "_start"
    if not os.path.exists(prefix + ".prec.f64"):
        log("k-means start (scikit-learn KMeans, n_init=1, random_state=0) ...")
        run_json_rss([PY, os.path.abspath(__file__), "--worker", "start", files[N], prefix],
                     child_env())
    return files, prefix


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2:])
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[1])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--data-dir", default="/tmp/custseg-bench-gmm")
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    ap.add_argument("--max-iter", type=int, default=20)
    ap.add_argument("--skip-1m", action="store_true", help="skip the 1,000,000-row run")
    ap.add_argument("--results", default=None)
    a = ap.parse_args()
    bench = os.path.join(a.build_dir, "bench", "cseg_bench_gmm")
    if not os.path.exists(bench):
        raise SystemExit(f"{bench} not found: build first (cmake --build {a.build_dir})")
    M = a.max_iter
    if M < 2:
        raise SystemExit("--max-iter must be >= 2")
    files, prefix = prepare(a.data_dir)
    res = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                       "loadavg_start": loadavg()},
           "n": N, "d": D, "k": K, "cov": "full", "max_iter": M, "tol": 0, "target": TARGET}
    log(f"load average at start: {loadavg()}")

    def cs(threads):
        return run_json_rss([bench, "fit", files[N], str(N), str(D), str(K), "full", str(M), "0",
                             str(threads), prefix], child_env())

    def sk(threads):
        return run_json_rss([PY, os.path.abspath(__file__), "--worker", "gmm", files[N], prefix,
                             str(M)], child_env(threads))

    per_iter = lambda r: (r["seconds"] - r["seconds_1iter"]) / (M - 1) * 1000  # noqa: E731
    naive = lambda r: r["seconds"] / M * 1000  # noqa: E731
    ok_all = True
    summary = []
    for label, threads in (("default", 0), ("1", 1)):
        log(f"== threads: {label} ({a.reps} reps, alternating) ==")
        rc, rs = [], []
        for i in range(a.reps):
            order = [(rc, lambda: cs(threads)), (rs, lambda: sk(threads if threads else None))]
            if i % 2:
                order.reverse()
            for dst, f in order:
                dst.append(f())
        c_runs, s_runs = [r for r, _ in rc], [r for r, _ in rs]
        c_ms, s_ms = statistics.median(map(per_iter, c_runs)), statistics.median(
            map(per_iter, s_runs))
        ratio = s_ms / c_ms
        entry = {"threads": label, "custseg_ms_per_iter": c_ms, "sklearn_ms_per_iter": s_ms,
                 "ratio": ratio, "pass": ratio >= TARGET,
                 "custseg_naive_ms_per_iter": statistics.median(map(naive, c_runs)),
                 "sklearn_naive_ms_per_iter": statistics.median(map(naive, s_runs)),
                 "custseg_fit_seconds": [r["seconds"] for r in c_runs],
                 "sklearn_fit_seconds": [r["seconds"] for r in s_runs],
                 "custseg_max_rss_mib": max(m for _, m in rc),
                 "sklearn_max_rss_mib": max(m for _, m in rs),
                 "sklearn_threadpools": s_runs[0]["threads"], "loadavg_after": loadavg()}
        c0, s0 = c_runs[0], s_runs[0]
        rel = lambda x, y: abs(x - y) / abs(y)  # noqa: E731
        maxabs = lambda u, v: max(abs(x - y) for x, y in zip(u, v))  # noqa: E731
        checks = [
            ("both ran max_iter iterations", c0["n_iter"] == M and s0["n_iter"] == M,
             f"custseg {c0['n_iter']}, sklearn {s0['n_iter']}"),
            ("lower bound after 1 iteration, rel diff <= 1e-9",
             rel(c0["lower_bound_1iter"], s0["lower_bound_1iter"]) <= 1e-9,
             f"{c0['lower_bound_1iter']!r} vs {s0['lower_bound_1iter']!r}, "
             f"{rel(c0['lower_bound_1iter'], s0['lower_bound_1iter']):.2e}"),
            (f"lower bound after {M} iterations, rel diff <= 1e-9",
             rel(c0["lower_bound"], s0["lower_bound"]) <= 1e-9,
             f"{c0['lower_bound']!r} vs {s0['lower_bound']!r}, "
             f"{rel(c0['lower_bound'], s0['lower_bound']):.2e}"),
            ("weights, max abs diff <= 1e-6", maxabs(c0["weights"], s0["weights"]) <= 1e-6,
             f"{maxabs(c0['weights'], s0['weights']):.2e}"),
            ("means, max abs diff <= 1e-6", maxabs(c0["means"], s0["means"]) <= 1e-6,
             f"{maxabs(c0['means'], s0['means']):.2e}"),
            ("custseg repeats itself bit for bit",
             len({r["lower_bound"] for r in c_runs}) == 1 and
             len({tuple(r["means"]) for r in c_runs}) == 1, ""),
        ]
        entry["checks"] = [{"check": c, "ok": bool(ok), "detail": dt} for c, ok, dt in checks]
        entry["custseg_lower_bound"] = c0["lower_bound"]
        entry["custseg_means"] = c0["means"]
        res["threads_" + label] = entry
        ok_all = ok_all and entry["pass"] and all(ok for _, ok, _ in checks)
        log(f"  custseg {c_ms:8.2f} ms/iter (naive t/M {entry['custseg_naive_ms_per_iter']:.2f}), "
            f"peak {entry['custseg_max_rss_mib']:.0f} MiB")
        log(f"  sklearn {s_ms:8.2f} ms/iter (naive t/M {entry['sklearn_naive_ms_per_iter']:.2f}), "
            f"peak {entry['sklearn_max_rss_mib']:.0f} MiB, threads {entry['sklearn_threadpools']}")
        log(f"  ratio {ratio:.2f}x (target >= {TARGET:g}x): {'PASS' if entry['pass'] else 'FAIL'}"
            f"   [load average {entry['loadavg_after']}]")
        for c, ok, dt in checks:
            log(f"  [{'ok' if ok else 'FAIL'}] {c} {dt}")
        summary.append(f"threads {label}: {ratio:.2f}x {'PASS' if entry['pass'] else 'FAIL'}")
    a1, a0 = res["threads_1"], res["threads_default"]
    same = a1["custseg_lower_bound"] == a0["custseg_lower_bound"] and \
        a1["custseg_means"] == a0["custseg_means"]
    res["same_bits_1_vs_all_threads"] = same
    ok_all = ok_all and same
    log(f"  [{'ok' if same else 'FAIL'}] custseg: same bits with 1 thread and all threads")

    if not a.skip_1m:
        log(f"== informational: custseg on {N_BIG:,} x {D}, k-means start, max_iter 100, "
            "tol 1e-3, all threads ==")
        r, rss = run_json_rss([bench, "fit", files[N_BIG], str(N_BIG), str(D), str(K), "full",
                               "100", "1e-3", "0"], child_env())
        res["big"] = {"n": N_BIG, "fit_seconds": r["seconds"], "n_iter": r["n_iter"],
                      "converged": r["converged"], "max_rss_mib": rss,
                      "input_mib": N_BIG * D * 8 / 2**20, "loadavg_after": loadavg()}
        log(f"  fit {r['seconds']:.2f} s (k-means start included), {r['n_iter']} iterations, "
            f"converged {r['converged']}, peak RSS {rss:.0f} MiB (input array "
            f"{res['big']['input_mib']:.0f} MiB)   [load average {loadavg()}]")
    res["machine"]["loadavg_end"] = loadavg()
    path = a.results or os.path.join(a.data_dir, "results_gmm.json")
    with open(path, "w") as f:
        json.dump(res, f, indent=1)
    log(f"results: {path}")
    log("SUMMARY: " + "; ".join(summary) + ("  => PASS" if ok_all else "  => FAIL"))
    sys.exit(0 if ok_all else 1)


if __name__ == "__main__":
    main()
