#!/bin/sh
# Render the report of the bundled Online Retail run in headless Chromium and
# check what a person would see: every chart drawn with a non-zero size, no
# script error or console error, no network request, well-formed markup; a
# full-page screenshot is kept. Skips (exit 0, says so) without Chromium.
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
R=$T/out/report.html
[ -s "$R" ] && ok || bad "report.html missing"

# Well-formed markup: the page is also valid XML (checked with xmllint when present).
if command -v xmllint >/dev/null 2>&1; then
    xmllint --noout "$R" 2>"$T/xml.err" && ok || bad "not well-formed: $(head -3 "$T/xml.err")"
fi

flags="--headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
--disable-background-networking --disable-component-update --disable-sync \
--disable-default-apps --hide-scrollbars --user-data-dir=$T/profile"
# The page's own ?selftest hook records chart sizes, resource loads and script
# errors into the DOM; console messages go to the log.
# shellcheck disable=SC2086
timeout 120 "$CHROME" $flags --enable-logging=stderr --v=0 --virtual-time-budget=5000 \
    --dump-dom "file://$R?selftest" >"$T/dom.html" 2>"$T/chrome.log"
grep -q '<pre id="selftest">' "$T/dom.html" && ok || bad "selftest output missing (page did not run)"
st=$(sed -n '/<pre id="selftest">/,/<\/pre>/p' "$T/dom.html")
echo "$st" | sed 's/<[^>]*>//g' | sed 's/^/  /'
for c in chart-sizes chart-pca chart-heatmap chart-snake chart-dist-1 chart-dist-2 chart-dist-3 \
         chart-k chart-silhouette; do
    size=$(echo "$st" | tr ' ' '\n' | grep "^$c:" | head -1 | cut -d: -f2)
    w=${size%x*}
    h=${size#*x}
    if [ -n "$size" ] && [ "${w:-0}" -gt 0 ] && [ "${h:-0}" -gt 0 ]; then ok; else bad "chart $c not drawn (size '$size')"; fi
done
echo "$st" | grep -q "resources 0" && ok || bad "the page loaded resources"
echo "$st" | grep -q "errors 0" && ok || bad "script errors on the page"
if grep -E "CONSOLE|Uncaught" "$T/chrome.log" >/dev/null; then
    bad "console messages: $(grep -E 'CONSOLE|Uncaught' "$T/chrome.log" | head -3)"
else
    ok
fi
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
