#!/bin/sh
# Golden outputs: a fixed set of runs (every algorithm, run and fit, k auto
# and fixed, PCA, names, compare) whose every output file, stdout and stderr
# must stay byte for byte what tests/golden/manifest.sha256 records. It guards
# refactorings that must not change any result; a change meant to alter
# outputs regenerates the manifest (--update) and says why in its commit.
#
# Usage: golden.sh CUSTSEG SOURCE_DIR [--update]
# Outputs are kept in ./golden-out (the build folder under ctest) to compare
# by hand when a hash differs. Paths are given relative to SOURCE_DIR so the
# files do not depend on where the checkout lives; the output folder's path is
# replaced by OUT in stdout and stderr.
set -u
BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
SRC=$(cd "$2" && pwd)
UPDATE=${3:-}
W=$(pwd)/golden-out
MANIFEST=$SRC/tests/golden/manifest.sha256
rm -rf "$W"
mkdir -p "$W"
cd "$SRC" || exit 1

RETAIL=data/online_retail.csv.gz
MALL=data/mall_customers.csv
SMALL=tests/data/txn_small.csv
MF='Age,Annual_Income(k$),Spending_Score(1-100)'
if [ ! -r "$RETAIL" ] || [ ! -r "$MALL" ]; then
    echo "skipped: the bundled data (data/) is absent"
    exit 0
fi
failed=0

# case NAME -- custseg arguments... (--out is added for run and fit)
case_() {
    name=$1
    shift 2
    out=$W/$name
    mkdir -p "$out"
    case $1 in
    run | fit) "$BIN" "$@" --out "$out/files" >"$out/stdout.raw" 2>"$out/stderr.raw" ;;
    *) "$BIN" "$@" >"$out/stdout.raw" 2>"$out/stderr.raw" ;;
    esac
    echo "$?" >"$out/exit"
    for s in stdout stderr; do
        sed "s|$out/files|OUT|g" "$out/$s.raw" >"$out/$s"
        rm -f "$out/$s.raw"
    done
}

case_ run-kmeans-auto -- run "$RETAIL" --threads 2
case_ run-kmeans-k4-hamerly -- run "$RETAIL" --k 4 --kmeans-algo hamerly --seed 3
case_ run-gmm-auto -- run "$RETAIL" --algo gmm --k 2..6 --covariance diag
case_ run-ward-k5 -- run "$RETAIL" --algo ward --k 5
case_ run-dbscan -- run "$RETAIL" --algo dbscan
case_ run-pca-names -- run "$RETAIL" --pca 2 --k 4 --names "North,East,South,West"
case_ run-small-features -- run "$SMALL" --features recency_days,frequency,monetary,tenure_days --k 3 --spend-window 30
case_ run-attributes -- run "$RETAIL" --attributes Country --features recency_days,frequency,monetary,Country --k 4
case_ fit-kmeans-auto -- fit "$MALL"
case_ fit-kmeans-k5 -- fit "$MALL" --k 5 --scale robust --log none --n-init 3
case_ fit-complete -- fit "$MALL" --features "$MF" --algo complete
case_ fit-average-k4 -- fit "$MALL" --features "$MF" --algo average --k 4
case_ fit-single -- fit "$MALL" --features "$MF" --algo single --k 2..5
case_ fit-ward-height -- fit "$MALL" --features "$MF" --algo ward --height 8
case_ fit-gmm-full -- fit "$MALL" --features "$MF" --algo gmm
case_ fit-gmm-tied-k3 -- fit "$MALL" --features "$MF" --algo gmm --covariance tied --k 3 --n-init 2
case_ fit-dbscan -- fit "$MALL" --features "$MF" --algo dbscan
case_ fit-dbscan-eps -- fit "$MALL" --features "$MF" --algo dbscan --eps 0.5 --min-samples 5
case_ fit-pca-share -- fit "$MALL" --features "$MF" --pca 0.9 --k 4
case_ compare-mall-json -- compare "$MALL" --features "$MF" --k 2..5 --bootstrap 3 --format json
case_ compare-mall-text -- compare "$MALL" --features "$MF" --k 2..4 --bootstrap 2
case_ compare-log-json -- compare "$SMALL" --algos kmeans,gmm,ward --k 2..3 --bootstrap 2 --format json
case_ compare-retail-subsample -- compare "$RETAIL" --algos kmeans,dbscan --k 3..4 --bootstrap 1 --subsample 1000
case_ assign-small -- assign "$W/run-small-features/files/model.json" "$SMALL"
case_ assign-mall-gmm -- assign "$W/fit-gmm-full/files/model.json" "$MALL" --format json

# `custseg report OUTDIR` rebuilds, from the files, the very page run and fit wrote.
for d in "$W"/*/files; do
    [ -f "$d/report.html" ] || continue
    "$BIN" report "$d" --out "$W/rebuilt.html" >/dev/null 2>"$W/rebuilt.err"
    if ! cmp -s "$d/report.html" "$W/rebuilt.html" || [ -s "$W/rebuilt.err" ]; then
        echo "FAIL: custseg report $d differs from the report written with it"
        failed=1
    fi
    rm -f "$W/rebuilt.html" "$W/rebuilt.err"
done

cd "$W" || exit 1
# The list is made before the manifest file exists, so it never lists itself.
list=$(find . -type f | LC_ALL=C sort | sed 's|^\./||')
echo "$list" | while read -r f; do sha256sum "$f"; done >"$W/manifest.sha256"
if [ "$UPDATE" = "--update" ]; then
    cp "$W/manifest.sha256" "$MANIFEST"
    echo "wrote $MANIFEST ($(wc -l <"$MANIFEST") files)"
    exit 0
fi
if ! diff -u "$MANIFEST" "$W/manifest.sha256" >"$W/manifest.diff"; then
    echo "FAIL: outputs differ from tests/golden/manifest.sha256 (kept in $W):"
    grep '^[-+][0-9a-f]' "$W/manifest.diff" | head -40
    failed=1
fi
[ "$failed" -eq 0 ] && echo "all $(wc -l <"$W/manifest.sha256") golden outputs identical"
exit "$failed"
