#!/bin/sh
# Render the report of the bundled Online Retail run in headless Chromium and
# check what a person would see: every chart drawn with a non-zero size, no
# script error or console error, no network request, well-formed markup; a
# full-page screenshot is kept. The same checks on the mall data fitted with
# Ward (the dendrogram) and a Gaussian mixture (the membership chart), and on
# `custseg report` rebuilding the Ward page into another folder. Skips (exit
# 0, says so) without Chromium.
# Usage: browser_test.sh CUSTSEG SOURCE_DIR
set -u
BIN=$1
SRC=$2
CHROME=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROME" ]; then
    echo "skipped: chromium is not installed (scripts/setup.sh installs it)"
    echo "0 passed, 0 failed, 1 skipped"
    exit 0
fi
if [ ! -r "$SRC/data/online_retail.csv.gz" ]; then
    echo "skipped: $SRC/data/online_retail.csv.gz is absent"
    exit 0
fi
T=$(mktemp -d /tmp/custseg-report.XXXXXX)
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

"$BIN" run "$SRC/data/online_retail.csv.gz" --out "$T/out" --quiet >/dev/null 2>"$T/run.err" && ok || bad "run: $(cat "$T/run.err")"
# check_page NAME REPORT CHART...: well-formed, rendered, the charts drawn.
check_page() {
    name=$1
    R=$2
    shift 2
    [ -s "$R" ] && ok || bad "$name: report.html missing"
    # Well-formed markup: the page is also valid XML (checked with xmllint when present).
    if command -v xmllint >/dev/null 2>&1; then
        xmllint --noout "$R" 2>"$T/xml.err" && ok || bad "$name: not well-formed: $(head -3 "$T/xml.err")"
    fi
    # The page's own ?selftest hook records chart sizes, resource loads and script
    # errors into the DOM; console messages go to the log.
    # shellcheck disable=SC2086
    timeout 120 "$CHROME" $flags --enable-logging=stderr --v=0 --virtual-time-budget=5000 \
        --dump-dom "file://$R?selftest" >"$T/dom.html" 2>"$T/chrome.log"
    grep -q '<pre id="selftest">' "$T/dom.html" && ok || bad "$name: selftest output missing (page did not run)"
    st=$(sed -n '/<pre id="selftest">/,/<\/pre>/p' "$T/dom.html")
    echo "$name:"
    echo "$st" | sed 's/<[^>]*>//g' | sed 's/^/  /'
    for c in "$@"; do
        size=$(echo "$st" | tr ' ' '\n' | grep "^$c:" | head -1 | cut -d: -f2)
        w=${size%x*}
        h=${size#*x}
        if [ -n "$size" ] && [ "${w:-0}" -gt 0 ] && [ "${h:-0}" -gt 0 ]; then ok; else bad "$name: chart $c not drawn (size '$size')"; fi
    done
    echo "$st" | grep -q "resources 0" && ok || bad "$name: the page loaded resources"
    echo "$st" | grep -q "errors 0" && ok || bad "$name: script errors on the page"
    if grep -E "CONSOLE|Uncaught" "$T/chrome.log" >/dev/null; then
        bad "$name: console messages: $(grep -E 'CONSOLE|Uncaught' "$T/chrome.log" | head -3)"
    else
        ok
    fi
}

flags="--headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
--disable-background-networking --disable-component-update --disable-sync \
--disable-default-apps --hide-scrollbars --user-data-dir=$T/profile"
common="chart-sizes chart-pca chart-heatmap chart-snake chart-dist-1 chart-dist-2 chart-dist-3 \
chart-k chart-silhouette"
# shellcheck disable=SC2086
check_page online_retail "$T/out/report.html" $common

# The model kinds with charts of their own, on the mall data.
MALL=$SRC/data/mall_customers.csv
FEAT='Age,Annual_Income(k$),Spending_Score(1-100)'
for algo in ward gmm; do
    "$BIN" fit "$MALL" --features "$FEAT" --algo $algo --out "$T/$algo" --quiet >/dev/null \
        2>"$T/$algo.err" && ok || bad "fit --algo $algo: $(cat "$T/$algo.err")"
done
# shellcheck disable=SC2086
check_page ward "$T/ward/report.html" $common chart-dendrogram
grep -q 'id="chart-membership"' "$T/ward/report.html" && bad "ward: a membership chart" || ok
# shellcheck disable=SC2086
check_page gmm "$T/gmm/report.html" $common chart-membership
grep -q 'id="chart-dendrogram"' "$T/gmm/report.html" && bad "gmm: a dendrogram" || ok
# Lifetime value and the basket rules (run --clv, then custseg rules into the same folder),
# and the page of custseg clv --html.
"$BIN" run "$SRC/data/online_retail.csv.gz" --clv --k 4 --out "$T/clv" >/dev/null 2>"$T/clv.err" \
    && ok || bad "run --clv: $(cat "$T/clv.err")"
"$BIN" rules "$SRC/data/online_retail.csv.gz" --by "$T/clv/customers.csv" --min-support 0.02 \
    --min-confidence 0.3 --out "$T/clv" >/dev/null 2>"$T/rules.err" && ok || bad "rules: $(cat "$T/rules.err")"
grep -q 'What each segment buys together' "$T/clv/report.html" && ok || bad "no basket section"
# shellcheck disable=SC2086
check_page clv "$T/clv/report.html" $common chart-clv chart-palive chart-holdout
"$BIN" clv "$SRC/data/cdnow_master.csv.gz" --calibration-end 1997-09-30 --unit weeks \
    --out "$T/cd" --html "$T/cd/clv.html" --quiet >/dev/null 2>"$T/cd.err" && ok || bad "clv --html: $(cat "$T/cd.err")"
# (a page without the report's script: well-formed, both charts there)
if command -v xmllint >/dev/null 2>&1; then
    xmllint --noout "$T/cd/clv.html" 2>"$T/xml.err" && ok || bad "clv page: not well-formed: $(head -3 "$T/xml.err")"
fi
grep -q 'id="chart-holdout"' "$T/cd/clv.html" && grep -q 'id="chart-palive"' "$T/cd/clv.html" \
    && ok || bad "clv page: a chart is missing"
# `custseg report OUTDIR --out FILE` reads OUTDIR/dendrogram.csv, not FILE's folder.
mkdir -p "$T/elsewhere"
"$BIN" report "$T/ward" --out "$T/elsewhere/report.html" >/dev/null 2>"$T/rep.err" && ok || bad "report: $(cat "$T/rep.err")"
cmp -s "$T/ward/report.html" "$T/elsewhere/report.html" && ok || bad "report rebuilt the ward page differently"
R=$T/out/report.html

# Screenshot of the full page (kept next to the test binary for inspection).
# shellcheck disable=SC2086
timeout 120 "$CHROME" $flags --window-size=1200,6400 --screenshot="$T/report.png" "file://$R" \
    >/dev/null 2>&1
if [ -s "$T/report.png" ]; then
    ok
    cp "$T/report.png" "${CSEG_REPORT_PNG:-./report.png}" 2>/dev/null || true
else
    bad "no screenshot"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
