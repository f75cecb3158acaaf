#!/usr/bin/env python3
"""custseg run or fit under mpirun: strong scaling (issue 14).

run: the distributed reading of a log; fit (--command fit): a customer table read by every
process (each its byte range, the rows gathered on the first) and prepared by the first, its
k-means fits on every process.
One input, the same command, side by side in alternating order (A B C D A B C D ...):
one process without mpirun, then mpirun -n 1, 2, 4 (and any --ranks given). For each: the
wall time (median of --runs), each rank's peak RSS (GNU time, per rank), and the
distributed steps' own account (custseg --verbose: lines, rounds, bytes moved between
processes, seconds per phase; the k-means fits' iterations, rows sent, bytes of the
collectives, labels gathered; --timings: the first process's stages), the data for the cost
model of docs/scale-out.md. Every run's customers.csv and segments.json must equal the
one-process run's, byte for byte.

Needs a build with MPI:
  cmake -S . -B build-mpi -DCSEG_MPI=ON -DCSEG_BENCH=OFF && cmake --build build-mpi -j2
  /usr/bin/python3 bench/mpi_scale.py LOG.csv [--runs 3] [--ranks 1,2,4]
  /usr/bin/python3 bench/mpi_scale.py TABLE.csv --command fit --args "--k 8 --n-init 1"
A machine with fewer cores than ranks runs them oversubscribed (this one has 2): the figure
then says what the protocol costs, not what more machines would gain.
"""
import argparse
import filecmp
import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
STATS = re.compile(
    r"(\d+) processes read (\d+) lines in (\d+) rounds, moved ([\d.]+) MB between them; "
    r"route ([\d.]+) s, parse ([\d.]+) s, features ([\d.]+) s, gather ([\d.]+) s "
    r"\(([\d.]+) MB\), assemble ([\d.]+) s")
# --timings: the stages after the customers are built, run by the first process alone
TAIL = re.compile(r"^  (preprocess \(and PCA\)|fit and choose k|order, profiles, names, rules|"
                  r"write outputs and report) +([\d.]+) s", re.M)
# --verbose under mpirun: the k-means fits (cli_mpi_kmeans_report)
KMEANS = re.compile(
    r"k-means on (\d+) processes: (\d+) fits, (\d+) iterations; rows sent ([\d.]+) MB "
    r"\(([\d.]+) s\), collectives ([\d.]+) KB \(([\d.]+) KB an iteration\), labels gathered "
    r"([\d.]+) MB \(([\d.]+) s\); fitting ([\d.]+) s")
# --timings: the first process's fit stage, and its reading of the input
FIT = re.compile(r"^  fit and choose k +([\d.]+) s", re.M)
READ = re.compile(r"^  read the input +([\d.]+) s", re.M)
# --verbose under mpirun: fit's table read by every process (cli_mpi_table)
TABLE = re.compile(
    r"(\d+) processes read the table, (\d+) rows, in (\d+) pass(?:es)?: parse ([\d.]+) s, "
    r"rows to the first ([\d.]+) s \(([\d.]+) MB\)")

# --verbose under mpirun: run's customers kept in parts (cli_mpi_rfm_part)
RUN_PARTS = re.compile(
    r"(\d+) processes read (\d+) lines in (\d+) rounds, moved ([\d.]+) MB between them; route "
    r"([\d.]+) s, parse ([\d.]+) s, features ([\d.]+) s; the customers kept in parts \(([\d.]+) "
    r"MB of parts cut into blocks in ([\d.]+) s\)")
# --verbose under mpirun: fit's table kept in parts (cli_mpi_table_part)
PARTS = re.compile(
    r"(\d+) processes read the table and keep their parts, (\d+) rows: parse ([\d.]+) s, "
    r"([\d.]+) MB sent between them")


def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown"


def one_run(custseg, command, extra, log, ranks, out, tmp):
    """ranks 0: no mpirun. Returns seconds, per-rank peak RSS (KiB), stats dict or None."""
    rss_dir = tempfile.mkdtemp(dir=tmp)
    timed = ["/usr/bin/time", "-f", "%M", "-o"]
    cmd_tail = [custseg, command, log, "--out", out, "--quiet", "--verbose", "--timings"] + extra
    if ranks == 0:
        cmd = timed + [os.path.join(rss_dir, "rss.0")] + cmd_tail
    else:
        # each rank writes its own peak RSS
        inner = ("exec /usr/bin/time -f %M -o " + rss_dir + "/rss.$OMPI_COMM_WORLD_RANK "
                 + " ".join(cmd_tail))
        # --bind-to none: mpirun would pin each process to one core, and its
        # threads (the first process segments with all of them) with it.
        cmd = ["mpirun", "--oversubscribe", "--bind-to", "none", "-n", str(ranks), "sh", "-c",
               inner]
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_mpi_yield_when_idle="1")
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    secs = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"{cmd}: exit {p.returncode}\n{p.stderr[-2000:]}")
    rss = []
    for name in sorted(os.listdir(rss_dir)):
        with open(os.path.join(rss_dir, name)) as f:
            rss.append(int(f.read().split()[-1]))
    shutil.rmtree(rss_dir)
    m = STATS.search(p.stderr)
    st = None
    if m:
        keys = ["processes", "lines", "rounds", "moved_mb", "route_s", "parse_s", "features_s",
                "gather_s", "parts_mb", "assemble_s"]
        st = {k: float(v) for k, v in zip(keys, m.groups())}
    tail = [float(v) for _, v in TAIL.findall(p.stdout)]
    if len(tail) == 4:
        st = dict(st or {}, segment_write_s=sum(tail))
    m = KMEANS.search(p.stderr)
    if m:
        keys = ["km_processes", "km_fits", "km_iterations", "km_rows_mb", "km_send_s",
                "km_collectives_kb", "km_kb_per_iteration", "km_labels_mb", "km_gather_s",
                "km_fit_s"]
        st = dict(st or {}, **{k: float(v) for k, v in zip(keys, m.groups())})
    m = FIT.search(p.stdout)
    if m:
        st = dict(st or {}, fit_stage_s=float(m.group(1)))
    m = READ.search(p.stdout)
    if m:
        st = dict(st or {}, read_stage_s=float(m.group(1)))
    m = TABLE.search(p.stderr)
    if m:
        keys = ["table_processes", "table_rows", "table_passes", "table_parse_s",
                "table_gather_s", "table_gather_mb"]
        st = dict(st or {}, **{k: float(v) for k, v in zip(keys, m.groups())})
    m = RUN_PARTS.search(p.stderr)
    if m:
        keys = ["processes", "lines", "rounds", "moved_mb", "route_s", "parse_s", "features_s",
                "parts_mb", "spread_s"]
        st = dict(st or {}, **{k: float(v) for k, v in zip(keys, m.groups())})
    m = PARTS.search(p.stderr)
    if m:
        keys = ["parts_processes", "parts_rows", "parts_parse_s", "parts_sent_mb"]
        st = dict(st or {}, **{k: float(v) for k, v in zip(keys, m.groups())})
    return secs, rss, st


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("log", help="the log (run) or the customer table (fit)")
    ap.add_argument("--command", choices=["run", "fit"], default="run")
    ap.add_argument("--args", default="", help="more options of the command, one string")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--ranks", default="1,2,4")
    ap.add_argument("--custseg", default=os.path.join(HERE, "..", "build-mpi", "custseg"))
    a = ap.parse_args()
    configs = [0] + [int(x) for x in a.ranks.split(",")]
    tmp = tempfile.mkdtemp(prefix="custseg-mpi-")
    res = {c: {"seconds": [], "rss_kib": [], "stats": []} for c in configs}
    load0 = os.getloadavg()[0]
    try:
        for r in range(a.runs):
            for c in configs:
                out = os.path.join(tmp, f"out{c}")
                shutil.rmtree(out, ignore_errors=True)
                secs, rss, st = one_run(a.custseg, a.command, a.args.split(), a.log, c, out, tmp)
                res[c]["seconds"].append(secs)
                res[c]["rss_kib"].append(rss)
                if st:
                    res[c]["stats"].append(st)
                if c != 0:
                    for f in ("customers.csv", "segments.json"):
                        if not filecmp.cmp(os.path.join(tmp, "out0", f), os.path.join(out, f),
                                           shallow=False):
                            raise SystemExit(f"{f} of {c} processes differs from one process")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    summary = {"command": a.command, "args": a.args, "input": a.log,
               "input_bytes": os.path.getsize(a.log), "runs": a.runs,
               "cpu": cpu_model(), "cores": os.cpu_count(),
               "load_before": load0, "load_after": os.getloadavg()[0], "configs": {}}
    for c in configs:
        s = res[c]["seconds"]
        row = {"seconds_median": statistics.median(s), "seconds_min": min(s), "seconds_max": max(s),
               "peak_rss_mib_max_rank": max(max(x) for x in res[c]["rss_kib"]) / 1024,
               "peak_rss_mib_sum_ranks": statistics.median(sum(x) for x in res[c]["rss_kib"]) / 1024}
        if res[c]["stats"]:
            row["phases_median"] = {k: statistics.median(st[k] for st in res[c]["stats"])
                                    for k in res[c]["stats"][0]}
        summary["configs"]["one process" if c == 0 else f"mpirun -n {c}"] = row
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
