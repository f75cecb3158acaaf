#!/usr/bin/env python3
"""cseg_mpi_kmeans_fit's strong scaling (issue 14): Lloyd iterations on N x D generated rows.

Side by side in alternating order (A B C D A B C D ...): one process without MPI
(cseg_kmeans_fit, threads on every core), then mpirun -n 1, 2, 4 (and any --ranks given;
each rank's threads: the cores divided by the ranks on the machine). For each: seconds of the
fit (the slowest rank's), milliseconds per pass over the data (the iterations and the final
assignment), and the bytes a rank sent and received per iteration, counted at the MPI calls
(bench/mpi_kmeans.c). Every run's inertia must be the one-process inertia, to the last digit.

Needs a build with MPI:
  cmake -S . -B build-mpi -DCSEG_MPI=ON && cmake --build build-mpi -j2
  /usr/bin/python3 bench/mpi_kmeans.py [--n 10000000] [--d 16] [--k 8] [--iters 20] [--runs 3]
A machine with fewer cores than ranks runs them oversubscribed (this one has 2).
"""
import argparse
import os
import statistics
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))


def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "?"


def run(cmd, env):
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    f = out.split()
    v = dict(zip(f[1::2], f[2::2]))
    return float(v["seconds"]), float(v["ms_per_iter"]), int(v["iterations"]), \
        float(v["sent_per_iter"]), float(v["received_per_iter"]), v["inertia"], v["threads"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(HERE, "..", "build-mpi", "bench",
                                                  "bench_mpi_kmeans"))
    ap.add_argument("--n", type=int, default=10000000)
    ap.add_argument("--d", type=int, default=16)
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--ranks", default="1,2,4")
    a = ap.parse_args()
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_mpi_yield_when_idle="1")
    args = [str(a.n), str(a.d), str(a.k), str(a.iters)]
    modes = [("one process", [a.bin] + args + ["one"])]
    for r in a.ranks.split(","):
        modes.append((f"mpirun -n {r}", ["mpirun", "-n", r, "--oversubscribe", "--bind-to",
                                         "none", a.bin] + args))
    with open("/proc/loadavg") as f:
        load0 = f.read().split()[0]
    res = {m: [] for m, _ in modes}
    for _ in range(a.runs):
        for m, cmd in modes:
            res[m].append(run(cmd, env))
    with open("/proc/loadavg") as f:
        load1 = f.read().split()[0]
    print(f"# {a.n} x {a.d}, k = {a.k}, {a.iters} iterations from fixed centres, "
          f"median of {a.runs}; {cpu_model()}, {os.cpu_count()} cores, "
          f"load {load0} -> {load1}")
    print("| | threads a process | fit s (spread) | ms a pass | sent / received a rank "
          "and iteration | same inertia |")
    print("| --- | --- | --- | --- | --- | --- |")
    ref = res[modes[0][0]][0][5]
    for m, _ in modes:
        r = res[m]
        secs = [x[0] for x in r]
        same = all(x[5] == ref for x in r)
        print(f"| {m} | {r[0][6]} | {statistics.median(secs):.3f} ({min(secs):.3f}-"
              f"{max(secs):.3f}) | {statistics.median(x[1] for x in r):.1f} | "
              f"{r[0][3]:,.0f} / {r[0][4]:,.0f} B | {'yes' if same else 'NO'} |")
        if not same:
            raise SystemExit(f"{m}: inertia differs from one process's")


if __name__ == "__main__":
    main()
