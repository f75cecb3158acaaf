#!/usr/bin/python3
"""Side-by-side benchmarks of custseg against pandas + scikit-learn.

usage: /usr/bin/python3 bench/compare.py [--reps N] [--only NAME] [--data-dir DIR]
                                          [--build-dir DIR] [--sklearn-sil-reps N]
                                          [--sil-threads N] [--results FILE]

Benchmarks (NAME for --only), each run --reps times (default 5), the two tools
alternating (A B, B A, ...), medians reported:

  pipeline    (a) `custseg run data/online_retail.csv.gz` vs bench/pandas_run.py,
              wall time of the whole process, default threads; target >= 10x
  kmeans      (b) k-means on 1,000,000 x 8 blobs, k = 8, n_init = 1, 1 thread:
              fit seconds / n_iter for custseg (plain vectorised Lloyd, the default,
              and Hamerly) and sklearn KMeans(algorithm="lloyd"); target >= 3x; Hamerly
              and Lloyd inertia from the same seed must be equal
  silhouette  (c) exact silhouette on the first 50,000 rows, same labels in both
              tools; target >= 10x and |difference| <= 1e-9
  read        (d) reading the 76 MB 1,000,000 x 8 CSV: cseg_table_read_csv vs
              pandas.read_csv; target >= 5x

For (b)-(d) the times are the ones each tool measures around the operation
itself (cseg_bench's JSON; for scikit-learn/pandas a worker process of this
script, started with /usr/bin/python3, times the call after its imports and
data loading). Results go to bench/results.json.
"""
import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PY = "/usr/bin/python3"
RETAIL = os.path.join(ROOT, "data", "online_retail.csv.gz")

# Benchmark dataset: 8 unequal Gaussian blobs; centres uniform in [-1.5, 1.5]^8
# so the blobs overlap and k-means needs ~50 iterations (with the default box of
# 10 both tools converge in 2 iterations and "time per iteration" is meaningless).
BLOBS_N, BLOBS_D, BLOBS_K, BLOBS_BOX, BLOBS_SEED = 1_000_000, 8, 8, 1.5, 42
SIL_N = 50_000
KM_K, KM_N_INIT, KM_MAX_ITER, KM_SEED = 8, 1, 300, 0

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
               "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


# --------------------------------------------------------------------------
# Worker: runs inside a child /usr/bin/python3 so that imports and data
# loading are not timed.
# --------------------------------------------------------------------------

def worker(argv):
    op = argv[0]
    import numpy as np
    import pandas as pd
    if op == "info":
        import scipy
        import sklearn
        from threadpoolctl import threadpool_info
        print(json.dumps({
            "python": platform.python_version(), "numpy": np.__version__,
            "pandas": pd.__version__, "scikit-learn": sklearn.__version__,
            "scipy": scipy.__version__, "threadpools": threadpool_info()}))
    elif op == "npy":  # CSV -> .npy once, correctly rounded parsing
        X = pd.read_csv(argv[1], float_precision="round_trip").to_numpy(np.float64)
        np.save(argv[2], np.ascontiguousarray(X))
    elif op == "read":
        path = argv[1]
        t0 = time.perf_counter()
        df = pd.read_csv(path)
        el = time.perf_counter() - t0
        print(json.dumps({"op": "read", "rows": df.shape[0], "cols": df.shape[1],
                          "seconds": el}))
    elif op == "kmeans":
        from sklearn.cluster import KMeans
        from threadpoolctl import threadpool_info
        X = np.load(argv[1])
        k, n_init, max_iter, seed = (int(v) for v in argv[2:6])
        km = KMeans(n_clusters=k, n_init=n_init, max_iter=max_iter, tol=1e-4,
                    algorithm="lloyd", random_state=seed)
        t0 = time.perf_counter()
        km.fit(X)
        el = time.perf_counter() - t0
        print(json.dumps({"op": "kmeans", "algo": "sklearn-lloyd", "seconds": el,
                          "n_iter": int(km.n_iter_), "inertia": float(km.inertia_),
                          "threads": {p["internal_api"]: p["num_threads"]
                                      for p in threadpool_info()}}))
    elif op == "silhouette":
        from sklearn.metrics import silhouette_score
        X = pd.read_csv(argv[1], float_precision="round_trip").to_numpy(np.float64)
        lab = pd.read_csv(argv[2], usecols=["segment"])["segment"].to_numpy()
        if len(lab) != len(X):
            raise SystemExit("label file and data differ in length")
        t0 = time.perf_counter()
        s = silhouette_score(X, lab)
        el = time.perf_counter() - t0
        print(json.dumps({"op": "silhouette", "n": len(X), "seconds": el, "value": float(s)}))
    else:
        raise SystemExit(f"unknown worker op {op}")


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------

def child_env(threads=None):
    """Environment for a child: thread limits removed (tool defaults) or all set
    to `threads`."""
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARS}
    if threads:
        for k in THREAD_VARS:
            env[k] = str(threads)
    return env


def run(cmd, env=None, check=True):
    p = subprocess.run(cmd, env=env or child_env(), capture_output=True, text=True)
    if check and p.returncode != 0:
        sys.stderr.write(p.stdout + p.stderr)
        raise SystemExit(f"command failed ({p.returncode}): {' '.join(cmd)}")
    return p


def run_json(cmd, env=None):
    out = run(cmd, env).stdout.strip()
    try:
        return json.loads(out)
    except json.JSONDecodeError:  # one JSON object on the last line
        return json.loads(out.splitlines()[-1])


def py_worker(args, threads=None):
    return run_json([PY, os.path.abspath(__file__), "--worker", *map(str, args)],
                    child_env(threads))


def timed(cmd, env=None):
    t0 = time.perf_counter()
    p = run(cmd, env)
    return time.perf_counter() - t0, p


def med(xs):
    return statistics.median(xs)


def log(msg):
    print(msg, flush=True)


def alternate(reps, a, b):
    """Call a(i) and b(i) reps times, alternating which goes first."""
    ra, rb = [], []
    for i in range(reps):
        if i % 2 == 0:
            ra.append(a(i))
            rb.append(b(i))
        else:
            rb.append(b(i))
            ra.append(a(i))
    return ra, rb


# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------

def prepare_data(ddir):
    os.makedirs(ddir, exist_ok=True)
    tag = f"{BLOBS_N // 1000}k_{BLOBS_D}d_{BLOBS_K}k_box{BLOBS_BOX:g}_seed{BLOBS_SEED}"
    csv = os.path.join(ddir, f"blobs_{tag}.csv")
    npy = csv[:-4] + ".npy"
    sub = os.path.join(ddir, f"blobs_{tag}_first{SIL_N // 1000}k.csv")
    if not os.path.exists(csv):
        log(f"generating {csv} ...")
        tmp = csv + ".tmp"
        run([PY, os.path.join(HERE, "make_blobs.py"), tmp, str(BLOBS_N), str(BLOBS_D),
             str(BLOBS_K), "--box", str(BLOBS_BOX), "--seed", str(BLOBS_SEED)])
        os.replace(tmp, csv)
    if not os.path.exists(npy) or os.path.getmtime(npy) < os.path.getmtime(csv):
        log(f"writing {npy} ...")
        run([PY, os.path.abspath(__file__), "--worker", "npy", csv, npy + ".tmp.npy"])
        os.replace(npy + ".tmp.npy", npy)
    if not os.path.exists(sub) or os.path.getmtime(sub) < os.path.getmtime(csv):
        with open(csv) as f, open(sub + ".tmp", "w") as g:
            for i, line in enumerate(f):
                if i > SIL_N:
                    break
                g.write(line)
        os.replace(sub + ".tmp", sub)
    return {"csv": csv, "npy": npy, "sub": sub}


def cat(path):
    with open(path, "rb") as f:
        while f.read(1 << 22):
            pass


# --------------------------------------------------------------------------
# Benchmarks
# --------------------------------------------------------------------------

def bench_pipeline(a, ctx):
    out_c = os.path.join(a.data_dir, "out-pipeline-custseg")
    out_p = os.path.join(a.data_dir, "out-pipeline-pandas")
    cmd_c = [ctx["custseg"], "run", RETAIL, "--out", out_c, "--quiet"]
    cmd_p = [PY, os.path.join(HERE, "pandas_run.py"), RETAIL, "--out", out_p, "--timings"]
    inproc = []

    def one_c(i):
        shutil.rmtree(out_c, ignore_errors=True)
        t, _ = timed(cmd_c)
        return t

    def one_p(i):
        shutil.rmtree(out_p, ignore_errors=True)
        t, p = timed(cmd_p)
        for line in p.stderr.splitlines():
            if line.startswith('{"timings"'):
                inproc.append(json.loads(line)["timings"])
        return t

    cat(RETAIL)
    log("  warm-up run of each (not counted)")
    one_c(-1)
    one_p(-1)
    inproc.clear()
    tc, tp = alternate(a.reps, one_c, one_p)
    res = {"unit": "s", "custseg_runs": tc, "baseline_runs": tp,
           "custseg": med(tc), "baseline": med(tp),
           "custseg_cmd": " ".join(cmd_c), "baseline_cmd": " ".join(cmd_p),
           "threads": "default (all cores) for both"}
    if inproc:
        keys = inproc[0].keys()
        res["baseline_in_process_median"] = {k: med([t[k] for t in inproc]) for k in keys}
    # Output checks on the last runs.
    checks = []
    files_ok = all(os.path.exists(os.path.join(d, f)) for d in (out_c, out_p)
                   for f in ("customers.csv", "segments.json"))
    checks.append(("both wrote customers.csv and segments.json", files_ok, ""))
    if files_ok:
        cmp_ = pipeline_output_check(out_c, out_p)
        checks.extend(cmp_["checks"])
        res["output_comparison"] = cmp_["detail"]
    res["checks"] = [{"check": c, "ok": bool(ok), "detail": d} for c, ok, d in checks]
    return res


def pipeline_output_check(out_c, out_p):
    """Compare custseg's and the pandas script's outputs (not timed)."""
    code = r"""
import json, sys
import numpy as np, pandas as pd
oc, op = sys.argv[1], sys.argv[2]
sc = json.load(open(oc + '/segments.json')); sp = json.load(open(op + '/segments.json'))
cc = pd.read_csv(oc + '/customers.csv', dtype={'customer_id': str})
cp = pd.read_csv(op + '/customers.csv', dtype={'customer_id': str})
feats = ['recency_days','frequency','monetary','tenure_days','avg_order_value','spend_90d',
         'n_products','return_rate','r_score','f_score','m_score']
same_ids = len(cc) == len(cp) and bool((cc.customer_id.values == cp.customer_id.values).all())
rel = {}
if same_ids:
    for f in feats:
        x = cp[f].to_numpy(float); y = cc[f].to_numpy(float)
        rel[f] = float((np.abs(x - y) / np.maximum(1.0, np.abs(y))).max())
qkeys = [k for k in sc['data_quality'] if k in sp['data_quality'] and
         isinstance(sc['data_quality'][k], int)]
qdiff = {k: (sc['data_quality'][k], sp['data_quality'][k]) for k in qkeys
         if sc['data_quality'][k] != sp['data_quality'][k]}
tc = {r['k']: r for r in sc['k_selection']['table']}
tp = {r['k']: r for r in sp['k_selection']['table']}
per_k = {k: {'inertia_custseg': tc[k]['inertia'], 'inertia_sklearn': tp[k]['inertia'],
             'silhouette_custseg': tc[k]['silhouette'], 'silhouette_sklearn': tp[k]['silhouette']}
         for k in sorted(tc) if k in tp}
print(json.dumps({
  'n_customers': [len(cc), len(cp)], 'same_customer_ids': same_ids,
  'feature_max_rel_diff': rel, 'data_quality_diffs': qdiff,
  'chosen_k': [sc['k_selection']['chosen_k'], sp['k_selection']['chosen_k']],
  'segment_sizes': [[s['size'] for s in sc['segments']], [s['size'] for s in sp['segments']]],
  'per_k': per_k}))
"""
    d = run_json([PY, "-c", code, out_c, out_p])
    maxrel = max(d["feature_max_rel_diff"].values()) if d["feature_max_rel_diff"] else None
    checks = [
        ("same customers (ids, order)", d["same_customer_ids"],
         f"{d['n_customers'][0]} vs {d['n_customers'][1]}"),
        ("same data-quality counts", not d["data_quality_diffs"],
         json.dumps(d["data_quality_diffs"]) if d["data_quality_diffs"] else "all equal"),
        ("same customer features (rel diff <= 1e-9)", maxrel is not None and maxrel <= 1e-9,
         f"max rel diff {maxrel:.2e}" if maxrel is not None else "n/a"),
        ("same chosen k", d["chosen_k"][0] == d["chosen_k"][1],
         f"custseg k={d['chosen_k'][0]}, pandas/sklearn k={d['chosen_k'][1]}"),
    ]
    return {"checks": checks, "detail": d}


def bench_kmeans(a, ctx):
    data = ctx["data"]
    env1 = child_env(1)
    args = [data["csv"], KM_K, KM_N_INIT, KM_MAX_ITER, 1]

    def cseg(algo):
        return run_json([ctx["cseg_bench"], "kmeans", *map(str, args), algo, str(KM_SEED)], env1)

    def sk(i):
        return py_worker(["kmeans", data["npy"], KM_K, KM_N_INIT, KM_MAX_ITER, KM_SEED],
                         threads=1)

    cat(data["csv"])
    ham, lloyd, skl = [], [], []
    for i in range(a.reps):
        order = [("h", lambda: ham.append(cseg("hamerly"))),
                 ("l", lambda: lloyd.append(cseg("lloyd"))),
                 ("s", lambda: skl.append(sk(i)))]
        if i % 2:
            order.reverse()
        for _, f in order:
            f()
    per = lambda rs: [r["seconds"] / max(r["n_iter"], 1) * 1000 for r in rs]  # noqa: E731
    res = {"unit": "ms/iter", "threads": "1 (OMP/OPENBLAS_NUM_THREADS=1, cseg THREADS=1)",
           "k": KM_K, "n_init": KM_N_INIT, "max_iter": KM_MAX_ITER, "seed": KM_SEED,
           "hamerly_runs": ham, "lloyd_runs": lloyd, "sklearn_runs": skl,
           # the default algorithm (plain vectorised Lloyd) is the one held to the target
           "custseg": med(per(lloyd)), "custseg_hamerly": med(per(ham)), "baseline": med(per(skl)),
           # issue 13: an iteration against reading the same matrix once
           "floor_ms": med([r["floor_seconds"] * 1000 for r in lloyd]),
           # an iteration after the first, seeding left out (cseg_bench's iteration_seconds)
           "lloyd_iteration_ms": med([r["iteration_seconds"] * 1000 for r in lloyd]),
           "lloyd_over_floor": med([r["iteration_seconds"] * 1000 for r in lloyd])
           / med([r["floor_seconds"] * 1000 for r in lloyd]),
           "fit_seconds_median": {"hamerly": med([r["seconds"] for r in ham]),
                                  "lloyd": med([r["seconds"] for r in lloyd]),
                                  "sklearn": med([r["seconds"] for r in skl])}}
    ih = {r["inertia"] for r in ham}
    il = {r["inertia"] for r in lloyd}
    nh = {r["n_iter"] for r in ham}
    nl = {r["n_iter"] for r in lloyd}
    h0, l0 = ham[0]["inertia"], lloyd[0]["inertia"]
    reld = abs(h0 - l0) / abs(l0)
    res["checks"] = [
        {"check": "Hamerly inertia == Lloyd inertia (same seed)", "ok": h0 == l0 and
         len(ih) == 1 and len(il) == 1,
         "detail": f"hamerly {h0!r}, lloyd {l0!r}, rel diff {reld:.3e}"
                   + ("" if len(ih) == 1 and len(il) == 1 else " (varies between runs!)")},
        {"check": "Hamerly n_iter == Lloyd n_iter", "ok": nh == nl,
         "detail": f"hamerly {sorted(nh)}, lloyd {sorted(nl)}, sklearn "
                   f"{sorted({r['n_iter'] for r in skl})}"},
        {"check": "Lloyd iteration within 2x of the memory floor (issue 13)",
         "ok": res["lloyd_over_floor"] <= 2.0,
         "detail": f"iteration {res['lloyd_iteration_ms']:.2f} ms (seeding left out), "
                   f"reading X once {res['floor_ms']:.2f} ms, {res['lloyd_over_floor']:.2f}x"},
        {"check": "inertia custseg vs sklearn (info: different k-means++ draws)", "ok": None,
         "detail": f"custseg {h0:.10g}, sklearn {skl[0]['inertia']:.10g}, rel diff "
                   f"{(h0 - skl[0]['inertia']) / skl[0]['inertia']:+.3e}"},
    ]
    return res


def bench_silhouette(a, ctx):
    data = ctx["data"]
    t = a.sil_threads
    env = child_env(t or None)
    # Labels: custseg's k-means (k = 8, n_init = 1, seed 0, default algorithm: what
    # cseg_bench silhouette fits internally) on the first 50,000 rows, written
    # by `custseg fit`; the scikit-learn side scores exactly these labels.
    fit_dir = os.path.join(a.data_dir, "silhouette-labels")
    shutil.rmtree(fit_dir, ignore_errors=True)
    feats = ",".join(f"x{j}" for j in range(BLOBS_D))
    run([ctx["custseg"], "fit", data["sub"], "--k", "8", "--n-init", "1", "--seed", "0",
         "--scale", "none", "--log", "none", "--features", feats, "--out", fit_dir, "--quiet"])
    labels = os.path.join(fit_dir, "customers.csv")
    score = run_json([ctx["custseg"], "score", labels, "--labels", "segment", "--features", feats,
                      "--sample", "0", "--format", "json"])

    def cs(i):
        return run_json([ctx["cseg_bench"], "silhouette", data["csv"], str(SIL_N), str(t)], env)

    def sk(i):
        if i >= a.sklearn_sil_reps:
            return None
        return py_worker(["silhouette", data["sub"], labels], threads=t or None)

    cat(data["csv"])
    rc, rs = alternate(a.reps, cs, sk)
    rs = [r for r in rs if r is not None]
    vc, vs = rc[0]["value"], rs[0]["value"]
    res = {"unit": "s", "n": SIL_N,
           "threads": (f"{t} for both" if t else
                       "default for both (cseg_bench THREADS=0 = all cores; sklearn: "
                       "default OpenMP/BLAS threads)"),
           "custseg_runs": rc, "baseline_runs": rs,
           "custseg": med([r["seconds"] for r in rc]), "baseline": med([r["seconds"] for r in rs]),
           "baseline_reps": len(rs),
           "value_custseg": vc, "value_sklearn": vs, "value_custseg_score_same_labels":
           score["silhouette"]}
    diff = abs(vc - vs)
    res["checks"] = [
        {"check": "silhouette value equal to 1e-9", "ok": diff <= 1e-9,
         "detail": f"custseg {vc!r}, sklearn {vs!r}, abs diff {diff:.3e}, rel diff "
                   f"{diff / abs(vs):.3e}"},
        {"check": "labels used by sklearn = cseg_bench's labels (custseg score on them gives "
                  "cseg_bench's value)", "ok": abs(score["silhouette"] - vc) <= 1e-12,
         "detail": f"custseg score {score['silhouette']!r}"},
    ]
    if len({r["value"] for r in rc}) != 1:
        res["checks"].append({"check": "cseg_bench value stable across runs", "ok": False,
                              "detail": str(sorted({r["value"] for r in rc}))})
    return res


def bench_read(a, ctx):
    data = ctx["data"]
    env = child_env()

    def cs(i):
        return run_json([ctx["cseg_bench"], "read", data["csv"]], env)

    def pd_(i):
        return py_worker(["read", data["csv"]])

    cat(data["csv"])
    log("  warm-up run of each (not counted)")
    cs(-1)
    pd_(-1)
    rc, rp = alternate(a.reps, cs, pd_)
    shape_ok = all((r["rows"], r["cols"]) == (BLOBS_N, BLOBS_D) for r in rc + rp)
    return {"unit": "s", "bytes": os.path.getsize(data["csv"]),
            "threads": "default for both (pandas read_csv is single-threaded)",
            "custseg_runs": rc, "baseline_runs": rp,
            "custseg": med([r["seconds"] for r in rc]), "baseline": med([r["seconds"] for r in rp]),
            "checks": [{"check": "both read 1,000,000 x 8", "ok": shape_ok,
                        "detail": f"custseg {rc[0]['rows']}x{rc[0]['cols']}, pandas "
                                  f"{rp[0]['rows']}x{rp[0]['cols']}"}]}


BENCHES = {
    "pipeline": ("(a) custseg run vs pandas_run.py (wall, whole process)", 10, bench_pipeline),
    "kmeans": ("(b) k-means 1M x 8, k=8, 1 thread, per iteration", 3, bench_kmeans),
    "silhouette": ("(c) exact silhouette 50,000 x 8", 10, bench_silhouette),
    "read": ("(d) read 1M x 8 numeric CSV", 5, bench_read),
}


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------

def environment(ctx):
    info = py_worker(["info"])
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    ver = run([ctx["custseg"], "--version"], check=False).stdout.strip()
    git = run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], check=False).stdout.strip()
    dirty = run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                check=False).stdout.strip()
    cache = {}
    try:
        with open(os.path.join(ctx["build_dir"], "CMakeCache.txt")) as f:
            for line in f:
                for key in ("CMAKE_BUILD_TYPE", "CMAKE_C_COMPILER", "BLAS_LIBRARIES",
                            "OpenMP_C_FLAGS"):
                    if line.startswith(key + ":"):
                        cache[key] = line.split("=", 1)[1].strip()
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform(),
            "custseg": ver, "git": git + (" (dirty tree)" if dirty else ""), "build": cache,
            **info}


def fmt(v, unit):
    if v is None:
        return "-"
    return f"{v:.1f} ms" if unit == "ms/iter" else f"{v:.3f} s"


def print_env(env):
    log("Environment")
    log(f"  CPU: {env['cpu']} ({env['cores']} cores), {env['platform']}")
    log(f"  {env['custseg']} (git {env['git']}), build: "
        + ", ".join(f"{k}={v}" for k, v in env["build"].items()))
    log(f"  Python {env['python']}, numpy {env['numpy']}, pandas {env['pandas']}, "
        f"scikit-learn {env['scikit-learn']}, scipy {env['scipy']}")
    for p in env["threadpools"]:
        log(f"  threadpool: {p.get('internal_api')} {p.get('version') or ''} "
            f"({p.get('threading_layer', '-')}) {p.get('num_threads')} threads, "
            f"{os.path.basename(p.get('filepath', ''))}")


def print_table(results, a):
    rows = []
    for name, r in results.items():
        title, target, _ = BENCHES[name]
        unit = r["unit"]
        ratio = r["baseline"] / r["custseg"] if r["custseg"] > 0 else float("inf")
        r["ratio"] = ratio
        r["target"] = target
        r["pass"] = ratio >= target
        label = title
        if name == "kmeans":
            label = "(b) k-means per iteration, custseg Lloyd (default)"
        rows.append((label, fmt(r["custseg"], unit), fmt(r["baseline"], unit),
                     f"{ratio:.2f}x", f">= {target}x", "PASS" if r["pass"] else "FAIL"))
        if name == "kmeans":
            rl = r["baseline"] / r["custseg_hamerly"]
            r["ratio_hamerly"] = rl
            rows.append(("(b') k-means per iteration, custseg Hamerly", fmt(r["custseg_hamerly"],
                         unit), fmt(r["baseline"], unit), f"{rl:.2f}x", f">= {target}x",
                         ("PASS" if rl >= target else "FAIL") + " (info)"))
    head = ("benchmark", "custseg", "pandas/sklearn", "ratio", "target", "result")
    w = [max(len(str(x[i])) for x in rows + [head]) for i in range(len(head))]
    line = "  ".join("{:<%d}" % w[0] if i == 0 else "{:>%d}" % w[i] for i in range(len(head)))
    log("")
    log(f"Medians of {a.reps} runs each (ratio = pandas/sklearn time / custseg time)")
    log(line.format(*head))
    log("  ".join("-" * x for x in w))
    for row in rows:
        log(line.format(*row))


def print_details(results):
    log("")
    log("Details and checks")
    for name, r in results.items():
        log(f"  [{name}] threads: {r.get('threads', '-')}")
        if name == "pipeline":
            log(f"    custseg runs (s): {', '.join(f'{x:.3f}' for x in r['custseg_runs'])}")
            log(f"    pandas runs (s):  {', '.join(f'{x:.3f}' for x in r['baseline_runs'])}")
            ip = r.get("baseline_in_process_median")
            if ip:
                log("    pandas_run.py in-process medians (s): "
                    + ", ".join(f"{k} {v:.3f}" for k, v in ip.items()))
            oc = r.get("output_comparison")
            if oc:
                log(f"    chosen k: custseg {oc['chosen_k'][0]}, pandas/sklearn {oc['chosen_k'][1]};"
                    f" segment sizes custseg {oc['segment_sizes'][0]}, pandas/sklearn "
                    f"{oc['segment_sizes'][1]}")
                log("    per-k inertia custseg / sklearn: " + ", ".join(
                    f"k={k}: {v['inertia_custseg']:.2f}/{v['inertia_sklearn']:.2f}"
                    for k, v in oc["per_k"].items()))
        elif name == "kmeans":
            fs = r["fit_seconds_median"]
            h, l, s = r["hamerly_runs"][0], r["lloyd_runs"][0], r["sklearn_runs"][0]
            log(f"    fit seconds (median): hamerly {fs['hamerly']:.3f}, lloyd {fs['lloyd']:.3f}, "
                f"sklearn {fs['sklearn']:.3f}")
            log(f"    n_iter: hamerly {h['n_iter']}, lloyd {l['n_iter']}, sklearn {s['n_iter']}; "
                f"Hamerly skipped fraction {h['skipped']}; sklearn threads {s.get('threads')}")
            log(f"    inertia: hamerly {h['inertia']!r}, lloyd {l['inertia']!r}, "
                f"sklearn {s['inertia']!r}")
        elif name == "silhouette":
            log("    runs (s): custseg " + ", ".join(f"{x['seconds']:.3f}" for x in r["custseg_runs"])
                + "; sklearn " + ", ".join(f"{x['seconds']:.3f}" for x in r["baseline_runs"]))
            if r["baseline_reps"] != len(r["custseg_runs"]):
                log(f"    NOTE: sklearn silhouette run {r['baseline_reps']} times "
                    f"(--sklearn-sil-reps), custseg {len(r['custseg_runs'])} times")
            log(f"    values: custseg {r['value_custseg']!r}, sklearn {r['value_sklearn']!r}, "
                f"custseg score on the same labels {r['value_custseg_score_same_labels']!r}")
        elif name == "read":
            log(f"    file {r['bytes'] / 1e6:.1f} MB; runs (s): custseg "
                + ", ".join(f"{x['seconds']:.3f}" for x in r["custseg_runs"]) + "; pandas "
                + ", ".join(f"{x['seconds']:.3f}" for x in r["baseline_runs"]))
        for c in r.get("checks", []):
            tag = "info" if c["ok"] is None else ("OK" if c["ok"] else "MISMATCH")
            log(f"    [{tag}] {c['check']}: {c['detail']}")


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        return worker(sys.argv[2:])
    ap = argparse.ArgumentParser(description="custseg vs pandas + scikit-learn benchmarks")
    ap.add_argument("--reps", type=int, default=5, help="repetitions per tool (default 5)")
    ap.add_argument("--only", choices=list(BENCHES), action="append",
                    help="run only this benchmark (may be repeated)")
    ap.add_argument("--data-dir", default="/tmp/custseg-bench",
                    help="generated data and outputs (default /tmp/custseg-bench)")
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    ap.add_argument("--sklearn-sil-reps", type=int, default=None,
                    help="repetitions of sklearn's silhouette (~20 s each; default --reps)")
    ap.add_argument("--sil-threads", type=int, default=0,
                    help="threads for (c) in both tools; 0 = each tool's default (default)")
    ap.add_argument("--results", default=os.path.join(HERE, "results.json"))
    a = ap.parse_args()
    if a.reps < 1:
        ap.error("--reps must be >= 1")
    if a.sklearn_sil_reps is None:
        a.sklearn_sil_reps = a.reps
    a.sklearn_sil_reps = max(1, min(a.sklearn_sil_reps, a.reps))
    a.data_dir = os.path.abspath(a.data_dir)
    ctx = {"build_dir": a.build_dir, "custseg": os.path.join(a.build_dir, "custseg"),
           "cseg_bench": os.path.join(a.build_dir, "bench", "cseg_bench")}
    for k in ("custseg", "cseg_bench"):
        if not os.access(ctx[k], os.X_OK):
            raise SystemExit(f"{ctx[k]} not found; build first: cmake -S . -B build "
                             "-DCMAKE_BUILD_TYPE=RelWithDebInfo && cmake --build build -j2")
    names = a.only or list(BENCHES)
    built = dict(ctx)

    def stamp():
        return {k: (os.stat(built[k]).st_mtime, os.stat(built[k]).st_size)
                for k in ("custseg", "cseg_bench")}

    # Run private copies (both are linked statically against libcustseg), so a
    # rebuild of build/ during the run cannot mix two builds.
    bin_stamp = stamp()
    snap = os.path.join(a.data_dir, "bin")
    os.makedirs(snap, exist_ok=True)
    for k in ("custseg", "cseg_bench"):
        dst = os.path.join(snap, k)
        shutil.copy2(built[k], dst + ".tmp")
        os.replace(dst + ".tmp", dst)
        ctx[k] = dst
    if stamp() != bin_stamp:
        raise SystemExit("build/ changed while copying the binaries; run again")
    env = environment(ctx)
    env["loadavg_start"] = os.getloadavg()
    print_env(env)
    log(f"  load average at start: {' '.join(f'{x:.2f}' for x in env['loadavg_start'])}")
    if any(n != "pipeline" for n in names):
        ctx["data"] = prepare_data(a.data_dir)
    results = {}
    t_all = time.perf_counter()
    for n in names:
        log(f"\nrunning {BENCHES[n][0]} ({a.reps} reps) ...")
        t0 = time.perf_counter()
        results[n] = BENCHES[n][2](a, ctx)
        log(f"  done in {time.perf_counter() - t0:.0f} s")
    print_table(results, a)
    print_details(results)
    log(f"\ntotal benchmark time {time.perf_counter() - t_all:.0f} s")
    env["loadavg_end"] = os.getloadavg()
    log(f"load average at end: {' '.join(f'{x:.2f}' for x in env['loadavg_end'])}")
    if stamp() != bin_stamp:
        env["build_changed_during_run"] = True
        log("NOTE: build/custseg or cseg_bench was rebuilt during the run; this run used "
            "copies taken at the start (" + snap + "), but a concurrent build also "
            "competes for the CPU: check the load averages")
    doc = {"date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "reps": a.reps,
           "environment": env, "data_dir": a.data_dir,
           "blobs": {"n": BLOBS_N, "d": BLOBS_D, "k": BLOBS_K, "box": BLOBS_BOX,
                     "seed": BLOBS_SEED, "files": ctx.get("data")},
           "benchmarks": results}
    with open(a.results + ".tmp", "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    os.replace(a.results + ".tmp", a.results)
    log(f"wrote {a.results}")


if __name__ == "__main__":
    main()
