#!/usr/bin/python3
"""Helpers of bench/store.sh (issue 9, part 7: the segment store's speed).

  store_util.py time TSV SECTION VARIANT REP EXPECT PREFIX -- CMD ...
      Runs CMD once (stdout to PREFIX.out, stderr to PREFIX.err, stdin empty),
      appends one line to TSV: section, variant, rep, wall seconds (perf_counter
      around the child), user and system CPU seconds and peak resident memory
      (KiB) of the child (wait4's rusage: the process itself, which for custseg
      is the only one), and its exit status. Exits 1, with the end of its
      stderr, when the status is not EXPECT.
  store_util.py add TSV SECTION VARIANT REP SECONDS
      Appends a figure measured inside a process (pandas.read_sql's own timer).
  store_util.py versions
      Python, pandas, SQLAlchemy and psycopg2 versions (one line).
  store_util.py report TSV
      The tables: medians, spread, peak memory, overheads and ratios against
      the targets of issue 9 part 7, then every run.
"""
import os
import statistics
import subprocess
import sys
import time

FIELDS = ("section", "variant", "rep", "wall", "user", "sys", "maxrss_kb", "rc")


def cmd_time(argv):
    tsv, section, variant, rep, expect, prefix = argv[:6]
    if argv[6] != "--":
        sys.exit("store_util.py time: expected -- before the command")
    cmd = argv[7:]
    with open(prefix + ".out", "wb") as out, open(prefix + ".err", "wb") as err, \
            open(os.devnull, "rb") as devnull:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdin=devnull, stdout=out, stderr=err)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    row = (section, variant, rep, f"{wall:.6f}", f"{ru.ru_utime:.3f}", f"{ru.ru_stime:.3f}",
           str(ru.ru_maxrss), str(p.returncode))
    with open(tsv, "a") as f:
        f.write("\t".join(row) + "\n")
    if p.returncode != int(expect):
        with open(prefix + ".err", errors="replace") as f:
            tail = f.read()[-1500:]
        sys.stderr.write(f"store.sh: {section}/{variant} run {rep} exited {p.returncode}, "
                         f"expected {expect}: {' '.join(cmd)}\n{tail}\n")
        sys.exit(1)


def cmd_add(argv):
    tsv, section, variant, rep, seconds = argv[:5]
    with open(tsv, "a") as f:
        f.write("\t".join((section, variant, rep, f"{float(seconds):.6f}", "", "", "", "0"))
                + "\n")


def cmd_versions(_argv):
    parts = [f"Python {sys.version.split()[0]}"]
    for mod, name in (("pandas", "pandas"), ("sqlalchemy", "SQLAlchemy"),
                      ("psycopg2", "psycopg2"), ("numpy", "numpy")):
        try:
            m = __import__(mod)
            parts.append(f"{name} {m.__version__.split()[0]}")
        except ImportError:
            parts.append(f"{name} MISSING")
    print(", ".join(parts))


# ---------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------

def load(tsv):
    runs = {}
    with open(tsv) as f:
        for line in f:
            v = line.rstrip("\n").split("\t")
            if len(v) != len(FIELDS):
                continue
            r = dict(zip(FIELDS, v))
            r["rep"] = int(r["rep"])
            r["wall"] = float(r["wall"])
            for k in ("user", "sys"):
                r[k] = float(r[k]) if r[k] else None
            r["maxrss_kb"] = int(r["maxrss_kb"]) if r["maxrss_kb"] else None
            runs.setdefault((r["section"], r["variant"]), []).append(r)
    return runs


def med(runs, key, field="wall"):
    v = [r[field] for r in runs.get(key, []) if r[field] is not None]
    return statistics.median(v) if v else None


def paired(runs, a, b, fn):
    """fn(a_run, b_run) for each repetition both have, its median: the pair
    shares the machine's state of that moment."""
    ra = {r["rep"]: r for r in runs.get(a, [])}
    rb = {r["rep"]: r for r in runs.get(b, [])}
    v = [fn(ra[i], rb[i]) for i in sorted(ra) if i in rb]
    return statistics.median(v) if v else None


def s(v, fmt="{:.3f}"):
    return "-" if v is None else fmt.format(v)


def row(runs, key, label, extra=""):
    rs = runs.get(key, [])
    if not rs:
        return f"  {label:<34} {'(not run)':>9}"
    w = [r["wall"] for r in rs]
    cpu = [r["user"] + r["sys"] for r in rs if r["user"] is not None]
    peak = [r["maxrss_kb"] for r in rs if r["maxrss_kb"]]
    return (f"  {label:<34} {statistics.median(w):9.3f} {min(w):8.3f} {max(w):8.3f} "
            f"{s(statistics.median(cpu) if cpu else None, '{:8.2f}'):>8} "
            f"{s(max(peak) / 1024 if peak else None, '{:8.0f}'):>8} {len(w):4d}  {extra}")


HEAD = (f"  {'':<34} {'median s':>9} {'min':>8} {'max':>8} {'cpu s':>8} {'peak MiB':>8} "
        f"{'runs':>4}")


def verdict(ok):
    return "PASS" if ok else "FAIL"


def cmd_report(argv):
    runs = load(argv[0])
    lines = []
    out = lines.append
    out("Wall seconds of the whole process (median of the runs, min, max); cpu s: that process's")
    out("user + system CPU (median; the PostgreSQL server's own work is not in it); peak MiB: its")
    out("largest max RSS over the runs. Targets from issue 9 part 7; PASS/FAIL on the medians.")
    out("")

    # (1) Online Retail run
    if any(k[0] == "run" for k in runs):
        out("(1) custseg run data/online_retail.csv.gz --out DIR: no store, --db FILE.db (SQLite,")
        out("    a new file each run), --db postgresql://... (a new database each run)")
        out(HEAD + "  store overhead (target <= +20%)")
        base = med(runs, ("run", "none"))
        out(row(runs, ("run", "none"), "no store"))
        for v, label in (("sqlite", "--db SQLite"), ("pg", "--db PostgreSQL")):
            m = med(runs, ("run", v))
            extra = ""
            if m is not None and base:
                ov = 100 * (m - base) / base
                pov = paired(runs, ("run", v), ("run", "none"),
                             lambda a, b: 100 * (a["wall"] - b["wall"]) / b["wall"])
                extra = f"{ov:+6.1f}% (paired {s(pov, '{:+.1f}')}%)  {verdict(ov <= 20)}"
            out(row(runs, ("run", v), label, extra))
        out("")

    # (2) 1M fit
    if any(k[0] == "fit" for k in runs):
        out("(2) custseg fit BLOBS_1M.csv --k 8 --n-init 1 --out DIR (1,000,000 x 8): no store,")
        out("    --db SQLite, --db PostgreSQL")
        out(HEAD + "  seconds the store adds (target SQLite <= 3 s)")
        base = med(runs, ("fit", "none"))
        out(row(runs, ("fit", "none"), "no store"))
        for v, label in (("sqlite", "--db SQLite"), ("pg", "--db PostgreSQL")):
            m = med(runs, ("fit", v))
            extra = ""
            if m is not None and base:
                add = m - base
                padd = paired(runs, ("fit", v), ("fit", "none"), lambda a, b: a["wall"] - b["wall"])
                extra = f"{add:+7.2f} s (paired {s(padd, '{:+.2f}')} s)"
                extra += f"  {verdict(add <= 3)}" if v == "sqlite" else "  (no target)"
            out(row(runs, ("fit", v), label, extra))
        out("")

    # (3) exports
    if any(k[0] == "export" for k in runs):
        out("(3) custseg export --db STORE --run 1 --min-segment-size 0 --out FILE (CSV, every field)")
        out(HEAD)
        for v, label in (("sqlite-retail", "Online Retail (4,338), SQLite"),
                         ("pg-retail", "Online Retail (4,338), PostgreSQL"),
                         ("sqlite-1m", "1M fit (1,000,000), SQLite"),
                         ("pg-1m", "1M fit (1,000,000), PostgreSQL")):
            out(row(runs, ("export", v), label))
        out("")

    # (4) reading from PostgreSQL
    if any(k[0] == "read" for k in runs):
        out("(4) reading the 1,000,000 x 8 table customers from PostgreSQL")
        out(HEAD)
        labels = (("load", "psql \\copy into the table (once)"),
                  ("custseg-fit", "custseg fit URI --table (k = 8)"),
                  ("custseg-read", "custseg read alone (see below)"),
                  ("custseg-read-csv", "  same from the CSV file"),
                  ("pandas-read_sql", "pandas.read_sql (in-process)"),
                  ("pandas-process", "pandas script, whole process"))
        for v, label in labels:
            if ("read", v) in runs:
                out(row(runs, ("read", v), label))
        rs = med(runs, ("read", "pandas-read_sql"))
        for v, label in (("custseg-fit", "read_sql / custseg fit from PostgreSQL (reads + clusters)"),
                         ("custseg-read", "read_sql / custseg read alone")):
            c = med(runs, ("read", v))
            if rs and c:
                pr = paired(runs, ("read", "pandas-read_sql"), ("read", v),
                            lambda a, b: a["wall"] / b["wall"])
                out(f"  {label}: {rs / c:.2f}x (paired {s(pr, '{:.2f}')}x; target >= 3x) "
                    f"{verdict(rs / c >= 3)}")
        pp, c = med(runs, ("read", "pandas-process")), med(runs, ("read", "custseg-read"))
        if pp and c:
            out(f"  pandas whole process / custseg read alone: {pp / c:.2f}x (informational)")
        fit_pg, fit_csv = med(runs, ("read", "custseg-fit")), med(runs, ("fit", "none"))
        if fit_pg and fit_csv:
            out(f"  custseg fit from PostgreSQL - from the CSV file ((2), no store): "
                f"{fit_pg - fit_csv:+.2f} s (informational)")
        out("")

    # details
    out("Details: every run (wall s / cpu s / peak MiB / exit), in the order of repetition")
    for (sec, var), rs in runs.items():
        cells = []
        for r in sorted(rs, key=lambda r: r["rep"]):
            c = f"{r['wall']:.3f}"
            if r["user"] is not None:
                c += f"/{r['user'] + r['sys']:.2f}/{r['maxrss_kb'] / 1024:.0f}"
            if r["rc"] != "0":
                c += f"/rc={r['rc']}"
            cells.append(c)
        out(f"  {sec + '/' + var:<26} " + "  ".join(cells))
    print("\n".join(lines))


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd, argv = sys.argv[1], sys.argv[2:]
    {"time": cmd_time, "add": cmd_add, "versions": cmd_versions,
     "report": cmd_report}.get(cmd, lambda _a: sys.exit(__doc__))(argv)


if __name__ == "__main__":
    main()
