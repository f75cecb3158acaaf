#!/usr/bin/python3
"""Side-by-side benchmark of custseg's random forest against scikit-learn.

usage: /usr/bin/python3 bench/compare_forest.py [--n N] [--trees T] [--reps R]
                                                [--predict-reps P] [--build-dir DIR]
                                                [--data-dir DIR]

Issue 11's targets (100 trees on 1,000,000 x 8): fitting at least 3x faster
than sklearn.ensemble.RandomForestClassifier with n_jobs=2, predicting at
least 5x faster. Data: Gaussian blobs (8 centres uniform in [-3, 3]^8, unit
spread, unequal sizes), the blob as the class. Both tools use 2 threads and
scikit-learn's defaults otherwise (sqrt features, bootstrap, leaves of 1);
each fits, then predicts the training rows --predict-reps times (a run's
prediction figure is their median), in a process of its own; the tools
alternate (A B, B A, ...) for --reps runs; medians over the runs are
reported with the spread, the CPU model and the load average. Results go to
DIR/results_forest.json.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

from compare_clv import cpu_model  # the one reading of the CPU model for bench/

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
D, K = 8, 8

SKLEARN = r"""
import json, statistics, sys, time
import numpy as np
from sklearn.ensemble import RandomForestClassifier
n, d, trees, reps = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
X = np.fromfile(sys.argv[1], dtype='<f8').reshape(n, d)
y = np.fromfile(sys.argv[2], dtype='<i4')
rf = RandomForestClassifier(n_estimators=trees, n_jobs=2, random_state=0)
t0 = time.perf_counter(); rf.fit(X, y); t1 = time.perf_counter()
pt = []
for r in range(reps):
    p0 = time.perf_counter(); p = rf.predict(X); pt.append(time.perf_counter() - p0)
print(json.dumps({"fit_s": t1 - t0, "predict_s": statistics.median(pt), "predict_all": pt,
                  "train_accuracy": float((p == y).mean())}))
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--trees", type=int, default=100)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--predict-reps", type=int, default=3,
                    help="predictions after each fit; a run's figure is their median")
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    ap.add_argument("--data-dir", default="/tmp/custseg-bench-forest")
    a = ap.parse_args()
    exe = os.path.join(a.build_dir, "bench", "cseg_bench_forest")
    if not os.access(exe, os.X_OK):
        sys.exit("compare_forest.py: no %s; build first" % exe)
    os.makedirs(a.data_dir, exist_ok=True)
    rng = np.random.default_rng(42)
    centres = rng.uniform(-3, 3, size=(K, D))
    w = np.arange(1, K + 1, dtype=float)
    y = rng.choice(K, size=a.n, p=w / w.sum()).astype("<i4")
    X = (centres[y] + rng.normal(size=(a.n, D))).astype("<f8")
    xf, yf = os.path.join(a.data_dir, "X.f64"), os.path.join(a.data_dir, "y.i32")
    X.tofile(xf)
    y.tofile(yf)
    args = [xf, yf, str(a.n), str(D)]
    runs = {"custseg": [], "sklearn": []}
    load0 = os.getloadavg()
    for r in range(a.reps):
        order = ("custseg", "sklearn") if r % 2 == 0 else ("sklearn", "custseg")
        for tool in order:
            if tool == "custseg":
                cmd = [exe] + args + [str(K), str(a.trees), "2", str(a.predict_reps)]
            else:
                cmd = ["/usr/bin/python3", "-c", SKLEARN] + args + [str(a.trees),
                                                                    str(a.predict_reps)]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            runs[tool].append(json.loads(out.strip().splitlines()[-1]))
            print(tool, runs[tool][-1], flush=True)
    res = {"n": a.n, "d": D, "k": K, "trees": a.trees, "reps": a.reps,
           "predict_reps": a.predict_reps, "cpu": cpu_model(),
           "cores": os.cpu_count(), "load_start": load0, "load_end": os.getloadavg(),
           "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "runs": runs}
    for what, target in (("fit_s", 3.0), ("predict_s", 5.0)):
        c = [x[what] for x in runs["custseg"]]
        s = [x[what] for x in runs["sklearn"]]
        ratio = statistics.median(s) / statistics.median(c)
        res[what] = {"custseg": statistics.median(c), "sklearn": statistics.median(s),
                     "ratio": ratio, "target": target}
        print("%-9s custseg %.3f s (%.3f-%.3f), scikit-learn %.3f s (%.3f-%.3f): %.2fx, target %.0fx: %s"
              % (what, statistics.median(c), min(c), max(c), statistics.median(s), min(s), max(s),
                 ratio, target, "PASS" if ratio >= target else "FAIL"))
    print("train accuracy: custseg %.4f, scikit-learn %.4f" % (
        statistics.median(x["train_accuracy"] for x in runs["custseg"]),
        statistics.median(x["train_accuracy"] for x in runs["sklearn"])))
    print("CPU: %s, %d cores; load %s at the start, %s at the end" % (
        res["cpu"], res["cores"], load0, res["load_end"]))
    with open(os.path.join(a.data_dir, "results_forest.json"), "w") as f:
        json.dump(res, f, indent=2)


if __name__ == "__main__":
    main()
