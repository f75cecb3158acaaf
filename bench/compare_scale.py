#!/usr/bin/python3
"""A million customers end to end: custseg fit and assign against pandas + scikit-learn.

usage: /usr/bin/python3 bench/compare_scale.py [--reps N] [--only fit|assign]
                                               [--data-dir DIR] [--build-dir DIR]
                                               [--results FILE]

Issue 13's targets, measured side by side in one run on the 1,000,000 x 8 blobs of
bench/compare.py (generated once by bench/make_blobs.py, seed 42):

  fit     `custseg fit FILE --k 8 --n-init 1 --out DIR` (customers.csv, segments.json,
          model.json and report.html written) against `bench/pandas_fit.py fit` (the same
          steps: read, impute, log, scale, k-means, sampled silhouette, Davies-Bouldin,
          Calinski-Harabasz, per-segment means and medians, customers.csv):
          at least 5x faster, peak memory at most half.
  assign  `custseg assign MODEL FILE --out FILE` against `bench/pandas_fit.py assign`
          (read, the saved imputation/log/scaling, KMeans.predict, the distance, the same
          three output columns): at least 10x faster.

Each is the wall time of the whole process (start-up and imports included, as a user
waits for them) and its peak resident memory (the child's own, from wait4), --reps
runs each (default 5), the two tools alternating (A B, B A, ...); medians, min and
max are printed, with the CPU model and the load average before and after. Results
as JSON: --results (default DATA_DIR/results_scale.json, machine-specific: not
committed).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from compare_clv import cpu_model  # the one reading of the CPU model for bench/

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PY = "/usr/bin/python3"
BLOBS = ("1000000", "8", "8", "--box", "1.5", "--seed", "42")
TARGETS = {"fit": 5.0, "assign": 10.0}


def timed(cmd):
    """Wall seconds and peak RSS (MiB) of one child process."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    el = time.perf_counter() - t0
    err = p.stderr.read().decode(errors="replace")
    p.stderr.close()
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        sys.stderr.write(err)
        raise SystemExit(f"command failed ({p.returncode}): {' '.join(cmd)}")
    return el, ru.ru_maxrss / 1024.0


def alternate(reps, a, b):
    ra, rb = [], []
    for i in range(reps):
        first, second = (a, ra), (b, rb)
        if i % 2:
            first, second = second, first
        first[1].append(first[0]())
        second[1].append(second[0]())
    return ra, rb


def summary(runs):
    t = [r[0] for r in runs]
    m = [r[1] for r in runs]
    return {"median_s": statistics.median(t), "min_s": min(t), "max_s": max(t),
            "runs_s": t, "peak_mib": statistics.median(m)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--only", action="append", choices=sorted(TARGETS))
    ap.add_argument("--data-dir", default="/tmp/custseg-bench")
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    ap.add_argument("--results")
    a = ap.parse_args()
    os.makedirs(a.data_dir, exist_ok=True)
    csv = os.path.join(a.data_dir, "blobs_1000k_8d_8k_box1.5_seed42.csv")
    if not os.path.exists(csv):
        print(f"generating {csv} ...", flush=True)
        subprocess.run([PY, os.path.join(HERE, "make_blobs.py"), csv + ".tmp", *BLOBS],
                       check=True)
        os.replace(csv + ".tmp", csv)
    cs = os.path.join(a.build_dir, "custseg")
    pf = os.path.join(HERE, "pandas_fit.py")
    d = lambda name: os.path.join(a.data_dir, name)  # noqa: E731
    load0 = os.getloadavg()
    env = {"cpu": cpu_model(), "cores": os.cpu_count(), "load_before": load0,
           "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}
    print(f"{env['cpu']}, {env['cores']} cores, load {load0[0]:.2f} {load0[1]:.2f} "
          f"{load0[2]:.2f}, {env['date']}", flush=True)
    results = {}
    for name in a.only or sorted(TARGETS):
        if name == "fit":
            ca = [cs, "fit", csv, "--k", "8", "--n-init", "1", "--out", d("scale-fit-custseg"),
                  "--quiet"]
            cb = [PY, pf, "fit", csv, "--out", d("scale-fit-pandas")]
        else:
            # the models to assign with, made once
            subprocess.run([cs, "fit", csv, "--k", "8", "--n-init", "1", "--out",
                            d("scale-model-custseg"), "--quiet"], check=True,
                           stdout=subprocess.DEVNULL)
            subprocess.run([PY, pf, "fit", csv, "--out", d("scale-model-pandas")], check=True)
            ca = [cs, "assign", os.path.join(d("scale-model-custseg"), "model.json"), csv,
                  "--out", d("scale-assign-custseg.csv")]
            cb = [PY, pf, "assign", os.path.join(d("scale-model-pandas"), "model.pkl"), csv,
                  "--out", d("scale-assign-pandas")]
        print(f"{name}: {a.reps} runs each, alternating ...", flush=True)
        ra, rb = alternate(a.reps, lambda: timed(ca), lambda: timed(cb))
        sa, sb = summary(ra), summary(rb)
        ratio = sb["median_s"] / sa["median_s"]
        ok = ratio >= TARGETS[name] and (name != "fit" or sa["peak_mib"] <= sb["peak_mib"] / 2)
        results[name] = {"custseg": sa, "pandas": sb, "ratio": ratio,
                         "target": TARGETS[name], "pass": ok, "custseg_cmd": ca,
                         "pandas_cmd": cb}
    env["load_after"] = os.getloadavg()
    print()
    print(f"{'':8} {'custseg s (min-max)':>24} {'pandas s (min-max)':>24} {'ratio':>7} "
          f"{'target':>7} {'peak MiB c/p':>14}")
    for name, r in results.items():
        c, p = r["custseg"], r["pandas"]
        print(f"{name:8} {c['median_s']:8.3f} ({c['min_s']:.3f}-{c['max_s']:.3f}) "
              f"{p['median_s']:8.3f} ({p['min_s']:.3f}-{p['max_s']:.3f}) {r['ratio']:6.1f}x "
              f"{'>= %gx' % r['target']:>7} {c['peak_mib']:6.0f}/{p['peak_mib']:<6.0f} "
              f"{'PASS' if r['pass'] else 'FAIL'}")
    la = env["load_after"]
    print(f"load after: {la[0]:.2f} {la[1]:.2f} {la[2]:.2f}")
    out = a.results or d("results_scale.json")
    with open(out, "w") as f:
        json.dump({"env": env, "results": results}, f, indent=1)
    print(f"results: {out}")


if __name__ == "__main__":
    main()
