#!/bin/sh
# Load on the real-time service (issue 10, part 5), side by side in one run with what a user
# would build instead: a Flask app under gunicorn (2 workers) calling scikit-learn's
# KMeans.predict for /v1/score and inserting into SQLite for /v1/events
# (bench/service/flask_app.py). wrk drives both (bench/service/*.lua), keep-alive:
#   (1) POST /v1/score, one customer's features, 64 connections:
#       target custseg >= 20,000 requests/s, p99 < 5 ms, >= 10x Flask. custseg runs with
#       its default HTTP threads (the cores less one: 1 here; the events sections use this
#       one) and, as a second variant, --threads 2: wrk's two threads share the two cores,
#       so more server threads trade a longer tail for some throughput.
#   (2) POST /v1/events, one event per request, 64 connections, durable (a reply means the
#       event is on disk, both sides): target custseg >= 5,000 events/s.
#   (3) POST /v1/events, batches of 1,000 events, 8 connections (custseg only): target
#       >= 100,000 events/s.
#   (4) soak: BENCH_SOAK seconds (default 600) of single events on custseg, its resident
#       memory at the start and at the end (target: flat).
# Every run must have zero errors (non-2xx replies, socket errors). Each of (1)-(3) runs
# BENCH_REPS times (default 5), the two services alternating (A B, B A, ...), BENCH_SECS
# seconds each (default 10); the tables show medians and the spread. wrk and the services
# share the machine's cores, as they would on a one-box deployment.
#
# Usage: sh bench/service.sh                    # ~20 minutes with the soak
#        BENCH_SOAK=0 BENCH_REPS=3 sh bench/service.sh
# Needs: a build, wrk, curl, /usr/bin/python3 with flask, gunicorn, pandas, scikit-learn
# (sh scripts/setup.sh --bench).
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
B=${BUILD_DIR:-$ROOT/build}
REPS=${BENCH_REPS:-5}
SECS=${BENCH_SECS:-10}
SOAK=${BENCH_SOAK:-600}
PY=/usr/bin/python3
RETAIL=$ROOT/data/online_retail.csv.gz

[ -x "$B/custseg" ] || { echo "service.sh: no $B/custseg; build first" >&2; exit 2; }
command -v wrk >/dev/null || { echo "service.sh: wrk is missing: sh scripts/setup.sh --bench" >&2; exit 2; }
$PY -c 'import flask, gunicorn, sklearn, pandas' 2>/dev/null ||
    { echo "service.sh: /usr/bin/python3 lacks flask, gunicorn, scikit-learn or pandas: sh scripts/setup.sh --bench" >&2; exit 2; }

W=$(mktemp -d /tmp/custseg-bench-service.XXXXXX)
CS_PID=
CS2_PID=
FL_PID=
cleanup() {
    [ -z "$CS_PID" ] || kill "$CS_PID" 2>/dev/null || true
    [ -z "$CS2_PID" ] || kill "$CS2_PID" 2>/dev/null || true
    [ -z "$FL_PID" ] || kill "$FL_PID" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cp "$B/custseg" "$W/custseg"
CS=$W/custseg

# ---- the model, the store, a token; the two services ----
"$CS" run "$RETAIL" --out "$W/out" --db "$W/cs.db" --quiet >/dev/null
K=$($PY -c "import json,sys; print(len(json.load(open(sys.argv[1]))['segments']))" "$W/out/segments.json")
TOKEN=$("$CS" token add "$W/tokens" --scope write)
export CSEG_TOKEN=$TOKEN
# the first customer's features (customers.csv columns but id, segment, name, distance)
CSEG_SCORE_BODY=$($PY - "$W/out/customers.csv" <<'EOF'
import csv, json, sys
with open(sys.argv[1]) as f:
    row = next(csv.DictReader(f))
out = {}
for k, v in row.items():
    if k in ("customer_id", "segment", "segment_name", "distance"):
        continue
    try:
        out[k] = float(v) if k != "rfm_code" else v
    except ValueError:
        out[k] = v
print(json.dumps(out, separators=(",", ":")))
EOF
)
export CSEG_SCORE_BODY

# start_cs NAME [THREADS]: custseg serve on a store of its own name; its PID and URL in
# NAME_PID, NAME_URL (cs: the default threads, the events sections; cs2: --threads 2,
# score only)
start_cs() {
    "$CS" serve --model "$W/out/model.json" --db "$W/$1.db" --tokens "$W/tokens" \
        --listen 127.0.0.1:0 ${2:+--threads "$2"} --quiet >"$W/$1.out" 2>"$W/$1.err" &
    eval "$(echo "$1" | tr a-z A-Z)_PID=$!"
    i=0
    while [ $i -lt 100 ] && ! grep -q "listening on" "$W/$1.out"; do sleep 0.1; i=$((i + 1)); done
    url=$(sed -n 's|.*\(http://127.0.0.1:[0-9]*\).*|\1|p' "$W/$1.out")
    [ -n "$url" ] || { echo "service.sh: custseg serve did not start: $(cat "$W/$1.err")" >&2; exit 1; }
    eval "$(echo "$1" | tr a-z A-Z)_URL=$url"
}
start_cs cs
start_cs cs2 2
CS_THREADS=$(sed -n 's/.*, \([0-9]*\) HTTP thread.*/\1/p' "$W/cs.out")

FL_PORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
(cd "$HERE/service" && CSEG_BENCH_CUSTOMERS=$W/out/customers.csv CSEG_BENCH_K=$K \
    CSEG_BENCH_FLASK_DB=$W/flask.db exec $PY -m gunicorn -w 2 -b "127.0.0.1:$FL_PORT" \
    --preload --log-level warning flask_app:app) >"$W/fl.out" 2>"$W/fl.err" &
FL_PID=$!
FL_URL=http://127.0.0.1:$FL_PORT
i=0
while [ $i -lt 300 ] && ! curl -s -o /dev/null -X POST -H 'Content-Type: application/json' \
    -d "$CSEG_SCORE_BODY" "$FL_URL/v1/score"; do sleep 0.1; i=$((i + 1)); done
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -d "$CSEG_SCORE_BODY" "$FL_URL/v1/score")
[ "$code" = 200 ] || { echo "service.sh: the Flask service does not answer: $(tail -5 "$W/fl.err")" >&2; exit 1; }
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/json' -d "$CSEG_SCORE_BODY" "$CS_URL/v1/score")
[ "$code" = 200 ] || { echo "service.sh: custseg /v1/score answered $code" >&2; exit 1; }

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
echo "custseg service benchmark (issue 10 part 5), $(date -u '+%Y-%m-%d %H:%M') UTC, $REPS runs of ${SECS} s each"
echo "  custseg $("$CS" --version | cut -d' ' -f2), git $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "  CPU: $cpu, $(nproc) cores; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "  wrk $(wrk -v 2>&1 | head -1 | cut -d' ' -f2), Flask $($PY -c 'import flask; print(flask.__version__)'), gunicorn $($PY -c 'import gunicorn; print(gunicorn.__version__)') (2 workers), scikit-learn $($PY -c 'import sklearn; print(sklearn.__version__)')"
echo "  custseg serve (default: $CS_THREADS HTTP thread(s) here) on SQLite (durable commits); Flask: SQLite WAL, synchronous=FULL"
echo

RESULTS=$W/results.tsv
: >"$RESULTS"
# wrk_run SECTION VARIANT REP URL CONNS SCRIPT [BATCH]: one wrk run, a line in RESULTS
wrk_run() {
    # --timeout 10s: wrk's default (2 s) would count a slow batch of 1,000 as a socket error
    CSEG_BATCH=${7:-1} CSEG_RUN="$1$3$2" wrk -t2 -c"$5" -d"${SECS}s" --timeout 10s --latency -s "$HERE/service/$6" \
        "$4" >"$W/wrk.txt" 2>&1 || true
    awk -v s="$1" -v v="$2" -v r="$3" -v batch="${7:-1}" '
        function ms(x) { if (x ~ /us$/) return x / 1000; if (x ~ /ms$/) return x + 0; if (x ~ /s$/) return x * 1000; return x }
        /^ *99%/ { p99 = ms($2) }
        /Requests\/sec:/ { rps = $2 }
        /Non-2xx or 3xx responses:/ { bad += $NF }
        /Socket errors:/ { gsub(/,/, ""); bad += $4 + $6 + $8 + $10 }
        END { printf "%s\t%s\t%s\t%.1f\t%.3f\t%d\t%.0f\n", s, v, r, rps, p99, bad, rps * batch }' \
        "$W/wrk.txt" >>"$RESULTS"
}

echo "(1) score, (2) single events, (3) batches of 1,000 ..."
rep=1
while [ "$rep" -le "$REPS" ]; do
    if [ $((rep % 2)) -eq 1 ]; then order="custseg flask"; else order="flask custseg"; fi
    if [ $((rep % 2)) -eq 1 ]; then sorder="custseg custseg2 flask"; else sorder="flask custseg2 custseg"; fi
    for v in $sorder; do
        url=$CS_URL
        [ "$v" = flask ] && url=$FL_URL
        [ "$v" = custseg2 ] && url=$CS2_URL
        wrk_run score "$v" "$rep" "$url" 64 score.lua
    done
    for v in $order; do
        url=$CS_URL
        [ "$v" = flask ] && url=$FL_URL
        wrk_run events "$v" "$rep" "$url" 64 events.lua 1
    done
    wrk_run batch custseg "$rep" "$CS_URL" 8 events.lua 1000
    rep=$((rep + 1))
done

median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
col() { # SECTION VARIANT COLUMN: the values
    awk -F'\t' -v s="$1" -v v="$2" -v c="$3" '$1 == s && $2 == v { print $c }' "$RESULTS"
}
summary() { # SECTION VARIANT LABEL
    m=$(col "$1" "$2" 7 | median)
    lo=$(col "$1" "$2" 7 | sort -g | head -1)
    hi=$(col "$1" "$2" 7 | sort -g | tail -1)
    p=$(col "$1" "$2" 5 | median)
    e=$(col "$1" "$2" 6 | awk '{ s += $1 } END { print s + 0 }')
    printf '  %-34s %12.0f %12.0f %12.0f %10.2f %8d\n' "$3" "$m" "$lo" "$hi" "$p" "$e"
}
echo
echo "Per second (requests for score, events for events; median over the runs, min, max), p99"
echo "latency (median of the runs' p99, ms), errors (non-2xx replies and socket errors, summed):"
printf '  %-34s %12s %12s %12s %10s %8s\n' "" "median/s" "min" "max" "p99 ms" "errors"
summary score custseg "(1) score, custseg serve"
summary score custseg2 "(1) score, custseg serve --threads 2"
summary score flask "(1) score, Flask + scikit-learn"
summary events custseg "(2) events x1, custseg serve"
summary events flask "(2) events x1, Flask + SQLite"
summary batch custseg "(3) events x1000, custseg serve"
cs=$(col score custseg 7 | median)
fl=$(col score flask 7 | median)
csp=$(col score custseg 5 | median)
ev=$(col events custseg 7 | median)
evf=$(col events flask 7 | median)
bt=$(col batch custseg 7 | median)
errs=$(awk -F'\t' '{ s += $6 } END { print s + 0 }' "$RESULTS")
verdict() { if [ "$1" = 1 ]; then echo PASS; else echo FAIL; fi; }
echo
echo "Targets"
for v in custseg custseg2; do
    cs=$(col score $v 7 | median)
    csp=$(col score $v 5 | median)
    label="default, $CS_THREADS thread(s)"
    [ "$v" = custseg2 ] && label="--threads 2"
    echo "  score ($label) >= 20,000/s: $(printf %.0f "$cs")/s $(verdict "$(awk -v a="$cs" 'BEGIN { print (a >= 20000) }')"); p99 < 5 ms: $csp ms $(verdict "$(awk -v a="$csp" 'BEGIN { print (a < 5) }')"); >= 10x Flask: $(awk -v a="$cs" -v b="$fl" 'BEGIN { printf "%.1fx", a / b }') $(verdict "$(awk -v a="$cs" -v b="$fl" 'BEGIN { print (a >= 10 * b) }')")"
done
echo "  single events >= 5,000/s: $(printf %.0f "$ev")/s $(verdict "$(awk -v a="$ev" 'BEGIN { print (a >= 5000) }')") (Flask: $(printf %.0f "$evf")/s)"
echo "  batches >= 100,000 events/s: $(printf %.0f "$bt")/s $(verdict "$(awk -v a="$bt" 'BEGIN { print (a >= 100000) }')")"
echo "  zero errors: $errs $(verdict "$([ "$errs" -eq 0 ] && echo 1 || echo 0)")"

if [ "$SOAK" -gt 0 ]; then
    rss0=$(ps -o rss= -p "$CS_PID" | tr -d ' ')
    # the resident memory every 30 s of the soak, to tell a level from a leak
    (i=0; while [ $i -lt $((SOAK / 30)) ]; do sleep 30; ps -o rss= -p "$CS_PID" | tr -d ' '; i=$((i + 1)); done) >"$W/rss.txt" &
    rss_pid=$!
    SECS=$SOAK wrk_run soak custseg 1 "$CS_URL" 64 events.lua 1
    wait "$rss_pid" 2>/dev/null || true
    rss1=$(ps -o rss= -p "$CS_PID" | tr -d ' ')
    echo "  soak, ${SOAK} s of single events: $(col soak custseg 7 | head -1) events/s, errors $(col soak custseg 6 | head -1); RSS $rss0 KiB at the start, $rss1 KiB at the end"
    echo "    RSS every 30 s (KiB): $(tr '\n' ' ' <"$W/rss.txt")"
fi
events_in_store=$(sqlite3 "$W/cs.db" "SELECT count(*) FROM cseg_events" 2>/dev/null || echo '?')
echo
echo "Checks: $events_in_store events in custseg's store; load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "Every run (section, service, repetition, requests/s, p99 ms, errors, per second):"
sed 's/^/  /' "$RESULTS"
