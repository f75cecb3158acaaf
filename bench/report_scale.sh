#!/bin/sh
# Report size and opening time for 1,000,000 customers (issue: under 5 MB and
# under 2 s in Chromium). Not a test: it times things. Usage:
#   bench/report_scale.sh [BUILD_DIR] [DATA_DIR]
# Uses the 1,000,000 x 8 blobs of bench/make_blobs.py (made if absent).
set -eu
B=${1:-build}
D=${2:-/tmp/custseg-bench}
CSV=$D/blobs_1000k_8d_8k_box1.5_seed42.csv
mkdir -p "$D"
[ -s "$CSV" ] || /usr/bin/python3 "$(dirname "$0")/make_blobs.py" "$CSV" 1000000 8 8 --box 1.5 --seed 42
OUT=$D/report-1m
rm -rf "$OUT"
start=$(date +%s.%N)
"$B/custseg" fit "$CSV" --k 8 --n-init 1 --out "$OUT" --quiet >/dev/null
end=$(date +%s.%N)
echo "custseg fit (1,000,000 customers, k = 8, with the report): $(echo "$end - $start" | bc) s"
size=$(stat -c %s "$OUT/report.html")
echo "report.html: $size bytes ($(echo "scale=2; $size / 1048576" | bc) MiB; target < 5 MiB)"
CHROME=$(command -v chromium)
for i in 1 2 3 4 5; do
    prof=$(mktemp -d)
    t0=$(date +%s.%N)
    timeout 120 "$CHROME" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$prof" --dump-dom "file://$OUT/report.html?selftest" 2>/dev/null |
        grep -o 'load_ms [0-9][0-9]*'
    t1=$(date +%s.%N)
    echo "  run $i: chromium process $(echo "$t1 - $t0" | bc) s (including browser start-up)"
    rm -rf "$prof"
done
echo "load_ms is the page's own time from navigation start to the load event (target < 2000)."
