#!/bin/sh
# Association-rule mining times (issue 12): Groceries at support 0.001 (target < 0.1 s) and
# every segment of Online Retail at support 0.01 (target < 1 s), mining only (the baskets are
# read before the clock starts), 7 runs each; prints the driver's JSON, the median, the CPU and
# the load. Needs a build (build/bench/cseg_bench_assoc) and ../shared/data/groceries.csv.
# usage: sh bench/assoc.sh [BUILD_DIR]
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=${1:-$ROOT/build}
DRV=$B/bench/cseg_bench_assoc
GROC=$ROOT/../shared/data/groceries.csv
T=$(mktemp -d /tmp/custseg-bench-assoc.XXXXXX)
trap 'rm -rf "$T"' EXIT
median() { python3 -c 'import json,sys,statistics; d=json.loads(sys.stdin.read()); print("median %.4f s (min %.4f, max %.4f)" % (statistics.median(d["mine_s"]), min(d["mine_s"]), max(d["mine_s"])))'; }
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'); cores: $(nproc); load: $(cut -d' ' -f1-3 /proc/loadavg); revision: $(git -C "$ROOT" rev-parse --short HEAD)"
if [ -r "$GROC" ]; then
    "$DRV" baskets "$GROC" 0.001 0.5 7 > "$T/g.json"
    cat "$T/g.json"
    echo "groceries support 0.001: $(median < "$T/g.json") (target < 0.1 s)"
else
    echo "skipped Groceries: $GROC is absent"
fi
"$B/custseg" run "$ROOT/data/online_retail.csv.gz" --out "$T/or" > /dev/null
"$DRV" log "$ROOT/data/online_retail.csv.gz" "$T/or/customers.csv" 0.01 0.3 7 > "$T/o.json"
cat "$T/o.json"
echo "online retail, all segments, support 0.01: $(median < "$T/o.json") (target < 1 s)"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
