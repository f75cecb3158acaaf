#!/bin/sh
# custseg serve over HTTP (docs/service.md), with curl as the client: tokens,
# errors, events, idempotency, moves, score, metrics, 10,000 bad tokens, a
# slow client, kill -9 in the middle of a stream of events, and the bundled
# Online Retail log replayed through the API against custseg run.
#   service_cli.sh CUSTSEG REPLAY SOURCE_DIR HOOK_SINK
set -u
BIN=$1
REPLAY=$2
SRC=$3
SINK=$4
. "$SRC/tests/store/lib.sh"
command -v curl >/dev/null 2>&1 || { echo "service_cli.sh: curl is needed (sh scripts/setup.sh)"; exit 1; }
command -v sqlite3 >/dev/null 2>&1 || { echo "service_cli.sh: sqlite3 is needed (sh scripts/setup.sh)"; exit 1; }

SMALL=$SRC/tests/data/txn_small.csv
RETAIL=$SRC/data/online_retail.csv.gz
PID=
SINK_PID=
stop_server() {
    if [ -n "$PID" ]; then
        kill "$PID" 2>/dev/null
        wait "$PID" 2>/dev/null
    fi
    PID=
}
trap 'stop_server; [ -z "$SINK_PID" ] || kill "$SINK_PID"; rm -rf "$T"' EXIT

start_server() { # MODEL DB [options...]: sets PID and URL
    model=$1
    db=$2
    shift 2
    : >"$T/serve.out"
    "$BIN" serve --model "$model" --db "$db" --tokens "$T/tokens" --listen 127.0.0.1:0 "$@" \
        >"$T/serve.out" 2>"$T/serve.err" &
    PID=$!
    i=0
    while [ $i -lt 200 ] && ! grep -q "listening on" "$T/serve.out"; do
        sleep 0.05
        i=$((i + 1))
    done
    URL=$(sed -n 's|.*\(https\{0,1\}://127.0.0.1:[0-9]*\).*|\1|p' "$T/serve.out")
    if [ -z "$URL" ]; then
        bad "the server did not start: $(cat "$T/serve.err")"
        exit 1
    fi
}

# req NAME STATUS TOKEN METHOD PATH [BODY-FILE]: the reply in $T/body
req() {
    name=$1
    want=$2
    tok=$3
    set -- -s -o "$T/body" -w '%{http_code}' -X "$4" "$URL$5" ${6:+--data-binary} ${6:+"@$6"}
    if [ -n "$tok" ]; then
        code=$(curl -H "Authorization: Bearer $tok" "$@")
    else
        code=$(curl "$@")
    fi
    if [ "$code" = "$want" ]; then ok; else bad "$name: HTTP $code, expected $want: $(head -c 300 "$T/body")"; fi
}
body() { printf '%s' "$1" >"$T/req.json"; } # the next request's body
# customers CUSTOMERS.CSV REPLIES: GET /v1/customers/ID of each customer of a run's
# customers.csv, one reply a line
customers() {
    tail -n +2 "$1" | cut -d, -f1 | while read -r id; do
        echo "url = \"$URL/v1/customers/$id\""
    done >"$T/get.cfg"
    curl -s -H "Authorization: Bearer $R" -w '\n' -K "$T/get.cfg" >"$2"
}

# ---- a model and tokens ----
expect 0 run -- "$BIN" run "$SMALL" --k 3 --out "$T/o" --quiet
expect 0 token-write -- "$BIN" token add "$T/tokens" --scope write
W=$(cat "$T/out")
# the file's last line without its end (edited by hand): the new token goes on a line of its own
printf '%s' "$(cat "$T/tokens")" >"$T/tokens.cut" && mv "$T/tokens.cut" "$T/tokens" && chmod 600 "$T/tokens"
expect 0 token-read -- "$BIN" token add "$T/tokens" --scope read --name dashboard
R=$(cat "$T/out")
case $W in cst_????????????????????????????????????????????????????????????????) ok ;; *) bad "token: '$W'" ;; esac
lines tokens "$T/tokens" 2
lacks token-not-kept "$T/tokens" "$W"
contains token-scope "$T/tokens" " read dashboard"
[ "$(stat -c %a "$T/tokens")" = 600 ] && ok || bad "token file mode $(stat -c %a "$T/tokens"), expected 600"
expect 2 token-bad-scope -- "$BIN" token add "$T/tokens" --scope admin
# twenty token adds at once: every token kept (each rewrote the file it had read: some were lost)
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
    "$BIN" token add "$T/par_tokens" --scope read --name "n$i" >/dev/null &
done
wait
lines token-parallel "$T/par_tokens" 20
# a name longer than a kilobyte: the file still loads (its line was read as two)
long_name=$(awk 'BEGIN { for (i = 0; i < 1100; i++) printf "a" }')
expect 0 token-long-name -- "$BIN" token add "$T/par_tokens" --scope write --name "$long_name"
start_server "$T/o/model.json" "$T/long_name.db" --tokens "$T/par_tokens"
stop_server
echo "not a token line" >"$T/badtokens"
expect 1 serve-bad-tokens -- "$BIN" serve --model "$T/o/model.json" --db "$T/x.db" --tokens "$T/badtokens"
contains serve-bad-tokens "$T/err" "badtokens:1:1: not a token line"
expect 2 serve-no-model -- "$BIN" serve --db "$T/x.db" --tokens "$T/tokens"
expect 2 serve-threads-range -- "$BIN" serve --model "$T/o/model.json" --db "$T/x.db" --tokens "$T/tokens" --threads 257
contains serve-threads-range "$T/err" "--threads must be from 0 to 256"

# ---- the API on an empty store ----
start_server "$T/o/model.json" "$T/s.db" --max-body 4096 --timeout 3 --access-log
# the default HTTP threads: the cores less one, at least one
cores=$(getconf _NPROCESSORS_ONLN)
want=$((cores > 2 ? cores - 1 : 1))
contains serve-threads-default "$T/serve.out" "store $T/s.db, $want HTTP thread"
req healthz 200 "" GET /healthz
contains healthz "$T/body" '"status":"ok"'
# a second server on the same address fails (the kernel would share the port between them)
PORT=$(sed -n 's|.*http://127.0.0.1:\([0-9]*\).*|\1|p' "$T/serve.out" | head -1)
expect 3 serve-port-taken -- timeout 20 "$BIN" serve --model "$T/o/model.json" --db "$T/x2.db" --tokens "$T/tokens" --listen "127.0.0.1:$PORT"
contains serve-port-taken "$T/err" "custseg: cannot listen on 127.0.0.1:$PORT: Address already in use"
# a server started with the usual soft file limit (1,024) raises it: 1,100 idle
# connections (above libmicrohttpd's default of 1,020) do not shut others out
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt 2048 ]; then
    echo "skipped: the flood of idle connections needs a hard file limit of 2,048 (ulimit -Hn: $hard)"
else
(ulimit -Sn 1024 && exec "$BIN" serve --model "$T/o/model.json" --db "$T/flood.db" --tokens "$T/tokens" \
    --listen 127.0.0.1:0 >"$T/flood.out" 2>"$T/flood.err") &
FPID=$!
i=0
while [ $i -lt 200 ] && ! grep -q "listening on" "$T/flood.out"; do sleep 0.05; i=$((i + 1)); done
FPORT=$(sed -n 's|.*http://127.0.0.1:\([0-9]*\).*|\1|p' "$T/flood.out" | head -1)
expect 0 flood-idle-connections -- "$REPLAY" flood "$FPORT" 1100
kill "$FPID" 2>/dev/null
wait "$FPID" 2>/dev/null
fi
req no-token 401 "" GET /v1/segments
req bad-token 401 "cst_0000" GET /v1/segments
req segments 200 "$R" GET /v1/segments
contains segments "$T/body" '"segments":[{"segment":1,"name":'
req unknown-path 404 "$R" GET /v1/nothing
req wrong-method 405 "$R" GET /v1/events
curl -s -o /dev/null -D "$T/headers" -H "Authorization: Bearer $R" "$URL/v1/events"
contains wrong-method-allow "$T/headers" "Allow: POST"
curl -s -o /dev/null -D "$T/headers" -X DELETE -H "Authorization: Bearer $R" "$URL/v1/segments"
contains wrong-method-allow-get "$T/headers" "Allow: GET, HEAD"
code=$(curl -s -o /dev/null -w '%{http_code}' -I "$URL/healthz")
[ "$code" = 200 ] && ok || bad "head-healthz: HTTP $code, expected 200"
C=$(sed -n 2p "$T/o/customers.csv" | cut -d, -f1)
body "{\"customer_id\":\"$C\",\"time\":\"2011-12-10T10:00:00\",\"invoice\":\"X1\",\"quantity\":2,\"price\":3.5,\"event_id\":\"e1\"}"
req read-token-cannot-write 403 "$R" POST /v1/events "$T/req.json"
req event 200 "$W" POST /v1/events "$T/req.json"
contains event "$T/body" "\"customer_id\":\"$C\""
contains event "$T/body" '"applied":true'
contains event "$T/body" '"frequency":1,'
contains event "$T/body" '"monetary":7,'
req event-again 200 "$W" POST /v1/events "$T/req.json"
contains event-again-applied-once "$T/body" '"applied":false'
contains event-again-applied-once "$T/body" '"frequency":1,'
req customer 200 "$R" GET "/v1/customers/$C"
contains customer "$T/body" '"monetary":7,'
contains customer "$T/body" '"moves":[]'
req customer-unknown 404 "$R" GET /v1/customers/no-such-one
# an id cut at an escaped NUL is no customer's (it read the customer before it)
req customer-nul 404 "$R" GET "/v1/customers/$C%00x"
contains access-log "$T/serve.err" "GET /v1/customers/- 404 "
lacks access-log-no-ids "$T/serve.err" "$C"
# a path that is no endpoint may hold an id (or a line end decoded from %0A that forges a line)
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/x%0AGET%20/v1/customers/12345%20200%200.100%20ms")
[ "$code" = 404 ] && ok || bad "access-log-forged: HTTP $code"
lacks access-log-forged "$T/serve.err" "GET /v1/customers/12345 200"
contains access-log-other "$T/serve.err" "GET - 404 "
# the scheme in any case, one or more spaces after it (RFC 7235)
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: bearer  $R" "$URL/v1/segments")
[ "$code" = 200 ] && ok || bad "bearer-case: HTTP $code, expected 200"

# bad requests change nothing
body '{"customer_id":"A",'
req malformed 400 "$W" POST /v1/events "$T/req.json"
contains malformed "$T/body" '"error":"malformed JSON'
body "{\"customer_id\":\"$C\",\"time\":\"2011-12-11\",\"quantity\":\"six\",\"price\":1}"
req wrong-type 400 "$W" POST /v1/events "$T/req.json"
contains wrong-type "$T/body" '"field":"quantity"'
body "{\"customer_id\":\"$C\",\"time\":\"2011-12-11\",\"amount\":5,\"shoe_size\":44}"
req unknown-field 400 "$W" POST /v1/events "$T/req.json"
contains unknown-field "$T/body" '"field":"shoe_size"'
body "{\"customer_id\":\"$C\",\"amount\":5}"
req no-time 400 "$W" POST /v1/events "$T/req.json"
contains no-time "$T/body" '"field":"time"'
body "[{\"customer_id\":\"$C\",\"time\":\"2011-12-11\",\"amount\":5},{\"customer_id\":\"$C\",\"time\":\"2011-12-11\",\"quantity\":1}]"
req batch-one-bad 400 "$W" POST /v1/events "$T/req.json"
contains batch-one-bad "$T/body" '"field":"[1].amount"'
head -c 10000 /dev/zero | tr '\0' ' ' >"$T/big.json"
req too-big 413 "$W" POST /v1/events "$T/big.json"
req customer-unchanged 200 "$R" GET "/v1/customers/$C"
contains customer-unchanged "$T/body" '"monetary":7,'

# a batch; a customer who moves: one small order, then twenty large ones
D=$(sed -n 3p "$T/o/customers.csv" | cut -d, -f1)
body "{\"customer_id\":\"$D\",\"time\":\"2011-12-01\",\"invoice\":\"Y0\",\"amount\":1}"
req small-order 200 "$W" POST /v1/events "$T/req.json"
contains small-order "$T/body" '"changed":false'
i=1
printf '[' >"$T/req.json"
while [ $i -le 20 ]; do
    [ $i -gt 1 ] && printf ',' >>"$T/req.json"
    printf '{"customer_id":"%s","time":"2011-12-%02d","invoice":"Y%d","amount":5000}' "$D" $((i + 1)) $i >>"$T/req.json"
    i=$((i + 1))
done
printf ']' >>"$T/req.json"
req batch 200 "$W" POST /v1/events "$T/req.json"
contains batch "$T/body" '"count":20,"applied":20,"moves":[{'
contains batch "$T/body" "\"customer_id\":\"$D\""
req changes 200 "$R" GET "/v1/changes?since=0"
contains changes "$T/body" "{\"seq\":1,\"customer_id\":\"$D\","
next=$(sed -n 's/.*"next":\([0-9]*\).*/\1/p' "$T/body")
[ "${next:-0}" -ge 1 ] && ok || bad "changes: next is '$next'"
req customer-moves 200 "$R" GET "/v1/customers/$D"
contains customer-moves "$T/body" '"moves":[{"seq":1,'
req changes-after 200 "$R" GET "/v1/changes?since=$next"
contains changes-after "$T/body" '"changes":[]'
req changes-bad 400 "$R" GET "/v1/changes?since=-1"
contains changes-bad "$T/body" '"field":"since"'

# score: a customer's features from customers.csv give its segment
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) h[i] = $i; next }
         NR <= 6 { s = "{"; n = 0
                   for (i = 2; i <= NF; i++) {
                       if (h[i] == "segment") seg = $i
                       if (h[i] == "segment" || h[i] == "segment_name" || h[i] == "distance") continue
                       v = (h[i] == "rfm_code" || $i !~ /^-?[0-9.e+-]+$/) ? "\"" $i "\"" : $i
                       s = s (n++ ? "," : "") "\"" h[i] "\":" v
                   }
                   print seg "\t" s "}" }' "$T/o/customers.csv" >"$T/score_cases"
while IFS='	' read -r seg json; do
    printf '%s' "$json" >"$T/req.json"
    req score 200 "$R" POST /v1/score "$T/req.json"
    contains score "$T/body" "{\"segment\":$seg,"
done <"$T/score_cases"
body '{"recency_days":"soon"}'
req score-bad 400 "$R" POST /v1/score "$T/req.json"
contains score-bad "$T/body" '"field":"recency_days"}'
body '{"recency_days":10}'
req score-missing 400 "$R" POST /v1/score "$T/req.json"
contains score-missing "$T/body" '{"error":"feature \"frequency\" is missing: the model uses it (null for a missing number)","field":"frequency"}'

req metrics 200 "$R" GET /metrics
contains metrics "$T/body" 'custseg_requests_total{endpoint="events",status="200"} 4'
contains metrics "$T/body" 'custseg_requests_total{endpoint="events",status="400"} 5'
contains metrics "$T/body" 'custseg_store_commit_seconds_count 4'
contains metrics "$T/body" 'custseg_events_applied_total 22'
contains metrics "$T/body" 'custseg_moves_total 1'

# an id written as a whole number with a fraction is that number (17850.0 is 17850)
body '{"customer_id":90001.0,"time":"2011-12-01","amount":5}'
req id-whole-real 200 "$W" POST /v1/events "$T/req.json"
contains id-whole-real "$T/body" '"customer_id":"90001"'
req id-whole-real-get 200 "$R" GET /v1/customers/90001
body '{"customer_id":90001.5,"time":"2011-12-01","amount":5}'
req id-fraction 400 "$W" POST /v1/events "$T/req.json"
contains id-fraction "$T/body" '"field":"customer_id"'

# more bad requests (after the counts above): each answered 400 naming its field, nothing kept
body '[1]'
req not-an-object 400 "$W" POST /v1/events "$T/req.json"
contains not-an-object "$T/body" '"field":"[0]"}'
body '{"customer_id":"T1","time":1000000000000000000,"amount":5}'
req time-too-late 400 "$W" POST /v1/events "$T/req.json"
contains time-too-late "$T/body" '"field":"time"'
body '{"customer_id":"T2","time":-9223372036854775807,"amount":5}'
req time-too-early 400 "$W" POST /v1/events "$T/req.json"
req time-not-kept 404 "$R" GET /v1/customers/T1
body '{"recency_days":[1]}'
req score-nested 400 "$R" POST /v1/score "$T/req.json"
contains score-nested "$T/body" '"field":"recency_days"'
# a spend too large to place, or whose sum is beyond the range of numbers: 400 naming
# the amount, not the store's 503, as often as it is sent; nothing kept
body '{"customer_id":"M","time":"2011-12-01","amount":1.7e308}'
req huge-first 400 "$W" POST /v1/events "$T/req.json"
contains huge-first "$T/body" '"field":"amount"'
contains huge-first "$T/body" "too large to place"
req huge-again 400 "$W" POST /v1/events "$T/req.json"
body '[{"customer_id":"N","time":"2011-12-02","amount":1},{"customer_id":"M","time":"2011-12-03","amount":1.7e308},{"customer_id":"M","time":"2011-12-04","amount":1.7e308}]'
req huge-sum-batch 400 "$W" POST /v1/events "$T/req.json"
contains huge-sum-batch "$T/body" '"field":"[2].amount"'
req huge-sum-batch-not-kept 404 "$R" GET /v1/customers/N
req huge-not-kept 404 "$R" GET /v1/customers/M

# 10,000 requests with bad tokens, one connection; then a slow client
i=0
while [ $i -lt 10000 ]; do
    echo "url = \"$URL/v1/segments\""
    echo "output = \"/dev/null\""
    i=$((i + 1))
done >"$T/many.cfg"
curl -s -H "Authorization: Bearer cst_bad" -w '%{http_code}\n' -K "$T/many.cfg" >"$T/codes"
n401=$(grep -c '^401$' "$T/codes")
[ "$n401" -eq 10000 ] && ok || bad "bad tokens: $n401 of 10000 replies were 401"
head -c 3000 /dev/zero | tr '\0' ' ' >"$T/slow.json"
curl -s -o /dev/null --limit-rate 100 -H "Authorization: Bearer $W" --data-binary "@$T/slow.json" \
    "$URL/v1/events" &
slow=$!
sleep 0.5
req while-slow 200 "" GET /healthz
kill "$slow" 2>/dev/null
wait "$slow" 2>/dev/null
stop_server

# a mixture model's score gives the membership probabilities
expect 0 run-gmm -- "$BIN" run "$SMALL" --algo gmm --k 3 --out "$T/g" --quiet
start_server "$T/g/model.json" "$T/g.db"
sed -n 1p "$T/score_cases" | cut -f2 >"$T/req.json"
req score-gmm 200 "$R" POST /v1/score "$T/req.json"
contains score-gmm "$T/body" '"probabilities":['
awk -F'"probabilities":\\[' '{ split($2, a, "]"); n = split(a[1], p, ","); s = 0
    for (i = 1; i <= n; i++) s += p[i]
    exit !(n == 3 && s > 0.999999 && s < 1.000001) }' "$T/body" && ok ||
    bad "score-gmm: probabilities do not sum to 1 over 3 segments: $(cat "$T/body")"
# ... and so do an event's reply and the customer's state, the same numbers
body '{"customer_id":"gmm-1","time":"2011-12-01T10:00:00","invoice":"G1","quantity":3,"price":9.5}'
req event-gmm 200 "$W" POST /v1/events "$T/req.json"
sed -n 's/.*"probabilities":\(\[[^]]*\]\).*/\1/p' "$T/body" >"$T/proba.event"
req customer-gmm 200 "$R" GET /v1/customers/gmm-1
sed -n 's/.*"probabilities":\(\[[^]]*\]\).*/\1/p' "$T/body" >"$T/proba.customer"
awk -F, 'NR == 1 { s = 0; for (i = 1; i <= NF; i++) { gsub(/[][]/, "", $i); s += $i }
    good = NF == 3 && s > 0.999999 && s < 1.000001 } END { exit !good }' "$T/proba.event" && ok ||
    bad "event-gmm: probabilities '$(cat "$T/proba.event")'"
same customer-gmm-probabilities "$T/proba.event" "$T/proba.customer"
stop_server


# ---- kill -9 in the middle of a stream; restart; every acknowledged event once ----
# The moves also go to a webhook (hook_sink: it fails its first 3 POSTs, then keeps
# what it receives), signed; it must receive every move, in order, through the kill.
mkdir -p "$T/ev1"
expect 0 replay-events -- "$REPLAY" events "$SMALL" "$T/ev1" 1
nfiles=$(cat "$T/out")
# a secret longer than a kilobyte (its first 1,023 bytes were taken: every signature wrong)
HOOK_SECRET="hook-secret-$(awk 'BEGIN { for (i = 0; i < 1500; i++) printf "k" }')"
printf '%s\n' "$HOOK_SECRET" >"$T/hook.secret"
"$SINK" "$T/hooks" 3 "$HOOK_SECRET" >"$T/sink.out" &
SINK_PID=$!
i=0
while [ $i -lt 100 ] && ! grep -q "^port " "$T/sink.out"; do sleep 0.05; i=$((i + 1)); done
# with a user and password, which no output and not the store may show
HOOK="http://alice:S3cr3t@127.0.0.1:$(sed -n 's/^port //p' "$T/sink.out")/moves"
expect 2 webhook-needs-url -- "$BIN" serve --model "$T/o/model.json" --db "$T/x.db" --tokens "$T/tokens" --webhook-secret "$T/hook.secret"
expect 2 webhook-bad-url -- "$BIN" serve --model "$T/o/model.json" --db "$T/x.db" --tokens "$T/tokens" --webhook ftp://x/
start_server "$T/o/model.json" "$T/k.db" --webhook "$HOOK" --webhook-secret "$T/hook.secret" --webhook-batch 7
: >"$T/acked"
(
    for f in "$T"/ev1/b*.json; do
        code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $W" \
            --data-binary "@$f" "$URL/v1/events")
        echo "$code" >>"$T/stream_codes"
        [ "$code" = 200 ] && sed -n 's/.*"event_id":"\([^"]*\)".*/\1/p' "$f" >>"$T/acked"
    done
) &
streamer=$!
while [ "$(wc -l <"$T/acked")" -lt $((nfiles / 3)) ] && kill -0 "$streamer" 2>/dev/null; do
    sleep 0.02
done
kill -9 "$PID"
wait "$PID" 2>/dev/null
PID=
wait "$streamer" 2>/dev/null
nacked=$(wc -l <"$T/acked")
echo "kill -9 after $nacked of $nfiles events acknowledged"
[ "$nacked" -lt "$nfiles" ] && ok || bad "kill-9: the server was not killed in the middle"
sqlite3 "$T/k.db" "SELECT event_key FROM cseg_events" | sort >"$T/kept"
sort "$T/acked" >"$T/acked.sorted"
missing=$(comm -23 "$T/acked.sorted" "$T/kept" | wc -l)
[ "$missing" -eq 0 ] && ok || bad "kill-9: $missing acknowledged events are not in the store"
dups=$(sqlite3 "$T/k.db" "SELECT count(*) FROM (SELECT event_key FROM cseg_events GROUP BY event_key HAVING count(*) > 1)")
[ "$dups" -eq 0 ] && ok || bad "kill-9: $dups events kept twice"
# restart; send everything again (the kept ones are repeats); the state is run's
start_server "$T/o/model.json" "$T/k.db" --as-of "$(sed -n 's/.*"as_of": *"\([0-9-]*\)".*/\1/p' "$T/o/segments.json" | head -1)" \
    --webhook "$HOOK" --webhook-secret "$T/hook.secret" --webhook-batch 7
for f in "$T"/ev1/b*.json; do
    curl -s -o /dev/null -H "Authorization: Bearer $W" --data-binary "@$f" "$URL/v1/events"
done
customers "$T/o/customers.csv" "$T/replies"
expect 0 kill-9-state-equals-run -- "$REPLAY" check "$T/o/customers.csv" "$T/replies"
# the webhook: every move of the store received (at least once), in order, signed
sqlite3 -separator , "$T/k.db" "SELECT change_id, customer_id, from_segment, to_segment FROM cseg_segment_changes ORDER BY change_id" >"$T/moves.db"
nmoves=$(wc -l <"$T/moves.db")
[ "$nmoves" -ge 5 ] && ok || bad "webhook: only $nmoves moves in the stream"
i=0
while [ $i -lt 300 ] && [ "$(grep -o '"next":[0-9]*' "$T/hooks" 2>/dev/null | tail -1)" != "\"next\":$nmoves" ]; do
    sleep 0.1
    i=$((i + 1))
done
grep -o '"seq":[0-9]*,"customer_id":"[^"]*","from":[0-9]*,"from_name":"[^"]*","to":[0-9]*' "$T/hooks" |
    sed 's/"seq":\([0-9]*\),"customer_id":"\([^"]*\)","from":\([0-9]*\),"from_name":"[^"]*","to":\([0-9]*\)/\1,\2,\3,\4/' >"$T/moves.hook"
sort -t, -k1,1n -u "$T/moves.hook" >"$T/moves.hook.u"
same webhook-every-move "$T/moves.db" "$T/moves.hook.u"
lacks webhook-signed "$T/hooks" BAD-SIGNATURE
[ "$(grep -c '^REFUSED$' "$T/hooks")" -eq 3 ] && ok || bad "webhook: the sink refused $(grep -c '^REFUSED$' "$T/hooks") POSTs, expected 3"
# in order: each POST's moves follow one another and start at most one past the
# furthest already received (a POST whose reply was lost is sent again: at least once)
awk -F'"seq":' 'NF > 1 { for (i = 2; i <= NF; i++) { s = $i + 0;
        if (i == 2 && s > max + 1) { print "gap before " s; exit 1 }
        if (i > 2 && s != prev + 1) { print "out of order at " s; exit 1 }
        prev = s; if (s > max) max = s } }' "$T/hooks" >"$T/order" && ok || bad "webhook order: $(cat "$T/order")"
curl -s -H "Authorization: Bearer $R" "$URL/metrics" >"$T/metrics"
contains webhook-nothing-pending "$T/metrics" "custseg_webhook_pending 0"
stop_server
# the writer keeps the delivery cursor (at most a second behind; at the stop, all of it)
kept=$(sqlite3 "$T/k.db" "SELECT value FROM cseg_meta WHERE key LIKE 'cursor:webhook %'")
[ "$kept" = "$nmoves" ] && ok || bad "webhook: the cursor was kept at ${kept:-nothing}, not $nmoves"
lacks webhook-password-out "$T/serve.out" S3cr3t
lacks webhook-password-err "$T/serve.err" S3cr3t
contains webhook-url-shown "$T/serve.err" "custseg serve: webhook http://alice@127.0.0.1:"
sqlite3 "$T/k.db" "SELECT key FROM cseg_meta" >"$T/meta_keys"
lacks webhook-password-store "$T/meta_keys" S3cr3t
# a store from before: its cursor named with the password; delivery goes on from it
sqlite3 "$T/k.db" "DELETE FROM cseg_meta WHERE key LIKE 'cursor:webhook %'; INSERT INTO cseg_meta (key, value) VALUES ('cursor:webhook $HOOK', '3')"
start_server "$T/o/model.json" "$T/k.db" --webhook "$HOOK" --webhook-secret "$T/hook.secret"
stop_server
contains webhook-old-cursor "$T/serve.err" "moves after 3 are sent"
# ... and the old row, which named the password, is gone
sqlite3 "$T/k.db" "SELECT key FROM cseg_meta" >"$T/meta_keys"
lacks webhook-old-cursor-dropped "$T/meta_keys" S3cr3t
kill "$SINK_PID"
wait "$SINK_PID" 2>/dev/null
SINK_PID=

# ---- kill -9, then the same customer's product again: not a new product ----
start_server "$T/o/model.json" "$T/p.db"
body '{"customer_id":"crash-1","time":"2011-12-09T10:00:00","invoice":"P1","product":"A","quantity":1,"price":2,"event_id":"p1"}'
req crash-products-first 200 "$W" POST /v1/events "$T/req.json"
contains crash-products-first "$T/body" '"n_products":1,'
kill -9 "$PID"
wait "$PID" 2>/dev/null
PID=
start_server "$T/o/model.json" "$T/p.db"
body '{"customer_id":"crash-1","time":"2011-12-10T10:00:00","invoice":"P2","product":"A","quantity":1,"price":2,"event_id":"p2"}'
req crash-products-again 200 "$W" POST /v1/events "$T/req.json"
contains crash-products-again "$T/body" '"frequency":2,'
contains crash-products-again "$T/body" '"n_products":1,'
body '{"customer_id":"crash-1","time":"2011-12-10T11:00:00","invoice":"P3","product":"B","quantity":1,"price":2,"event_id":"p3"}'
req crash-products-new 200 "$W" POST /v1/events "$T/req.json"
contains crash-products-new "$T/body" '"n_products":2,'
stop_server
[ "$(sqlite3 "$T/p.db" "SELECT group_concat(product) FROM (SELECT product FROM cseg_customer_products ORDER BY product)")" = "A,B" ] && ok ||
    bad "crash-products: the store's products are not A and B"

# ---- SIGTERM while a large batch is being applied: answered 200 with every event kept,
# or refused with nothing kept; never kept without a reply ----
awk 'BEGIN { printf "["; for (i = 0; i < 20000; i++)
    printf "%s{\"customer_id\":\"S%d\",\"time\":\"2011-11-%02d\",\"invoice\":\"S%d\",\"amount\":%d}",
        i ? "," : "", i % 500, i % 28 + 1, i, i % 50 + 1; printf "]" }' >"$T/term.json"
start_server "$T/o/model.json" "$T/t.db" --max-body 10000000
code=$(curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $W" --data-binary "@$T/term.json" \
    "$URL/v1/events" &
    sleep 0.3
    kill -TERM "$PID"
    wait)
wait "$PID" 2>/dev/null
PID=
kept=$(sqlite3 "$T/t.db" "SELECT count(*) FROM cseg_events" 2>/dev/null || echo 0)
if [ "$code" = 200 ] && [ "$kept" = 20000 ]; then
    ok
elif [ "$code" != 200 ] && [ "${kept:-0}" = 0 ]; then
    ok
else
    bad "sigterm: HTTP $code with $kept of 20000 events kept"
fi
echo "SIGTERM during a batch of 20,000: HTTP $code, $kept events kept"

# ---- a store seeded by run --db holds summaries: serve says so; replay loads the log as
# events, and an event on top then gives what run gives on the log with that event ----
expect 0 seed-run -- "$BIN" run "$SMALL" --k 3 --out "$T/sd" --db "$T/sd.db" --quiet
start_server "$T/sd/model.json" "$T/sd.db"
stop_server
contains seed-note "$T/serve.err" "is a run's summary (run --db)"
expect 0 replay -- "$BIN" replay "$SMALL" --model "$T/sd/model.json" --db "$T/sd.db"
contains replay "$T/out" "391 events applied"
contains replay-rebuilt "$T/out" "24 customers' state from a run (run --db) was rebuilt"
expect 0 replay-again -- "$BIN" replay "$SMALL" --model "$T/sd/model.json" --db "$T/sd.db"
contains replay-again-nothing-twice "$T/out" " 0 events applied"
# an event served on top of a run's summary, then the log replayed: refused, nothing changed
# (the summary stayed and the whole log was added to it: orders and spend counted twice)
expect 0 mixed-run -- "$BIN" run "$SMALL" --k 3 --out "$T/mx" --db "$T/mx.db" --quiet
start_server "$T/mx/model.json" "$T/mx.db"
body '{"customer_id":"10001","time":"2021-01-05T10:00:00","invoice":"MX1","amount":10}'
req mixed-event 200 "$W" POST /v1/events "$T/req.json"
stop_server
expect 1 mixed-replay -- "$BIN" replay "$SMALL" --model "$T/mx/model.json" --db "$T/mx.db"
contains mixed-replay "$T/err" 'customer "10001" holds a run'"'"'s summary with events applied on top'
# run --db, replay, then a run of a longer log and its replay (the daily flow): every
# customer's orders and spend are the longer run's (the second run had overwritten the
# event-built states with its summaries, and the second replay counted the new rows twice)
awk -F, 'NR == 1 || $5 < "2021-04-01"' "$SMALL" >"$T/early.csv"
expect 0 flow-run1 -- "$BIN" run "$T/early.csv" --k 3 --out "$T/fl1" --db "$T/fl.db" --quiet
expect 0 flow-replay1 -- "$BIN" replay "$T/early.csv" --model "$T/fl1/model.json" --db "$T/fl.db" --quiet
expect 0 flow-run2 -- "$BIN" run "$SMALL" --k 3 --out "$T/fl2" --db "$T/fl.db" --quiet
expect 0 flow-replay2 -- "$BIN" replay "$SMALL" --model "$T/fl1/model.json" --db "$T/fl.db" --quiet
if command -v sqlite3 >/dev/null 2>&1; then
    sqlite3 -csv "$T/fl.db" "SELECT customer_id, n_orders, net_spend FROM cseg_customer_state" | sort >"$T/fl_state"
    tail -n +2 "$T/fl2/customers.csv" | cut -d, -f1,3,4 | sort >"$T/fl_run"
    same flow-state-equals-run "$T/fl_state" "$T/fl_run"
fi
# a row run refuses (quantity x price beyond the range of numbers) is refused by replay too,
# named by its line (it was counted among rows without an amount, exit 0)
awk -F, -v OFS=, 'NR == 6 { $4 = 100; $6 = "1e308" } { print }' "$SMALL" >"$T/ovf.csv"
expect 1 replay-refused-row -- "$BIN" replay "$T/ovf.csv" --model "$T/sd/model.json" --db "$T/ovf.db"
contains replay-refused-row "$T/err" "custseg: $T/ovf.csv:6: quantity x price is beyond the range of numbers (amount)"
expect 2 replay-no-db -- "$BIN" replay "$SMALL" --model "$T/sd/model.json"
expect 3 replay-no-log -- "$BIN" replay "$T/nothing.csv" --model "$T/sd/model.json" --db "$T/sd.db"
start_server "$T/sd/model.json" "$T/sd.db"
lacks replay-no-note "$T/serve.err" "run's summary"
body '{"customer_id":"10002","time":"2021-06-28T10:00:00","invoice":"9001","product":"P5","quantity":1,"price":1}'
req replay-event 200 "$W" POST /v1/events "$T/req.json"
stop_server
cp "$SMALL" "$T/plus.csv"
echo '9001,P5,Item,1,2021-06-28 10:00:00,1,10002.0,UK' >>"$T/plus.csv"
expect 0 replay-run-plus -- "$BIN" run "$T/plus.csv" --k 3 --out "$T/sp" --quiet
want=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) h[$i] = i; next }
    $1 == "10002" { printf "\"spend_window\":%s,\"n_products\":%s,", $h["spend_90d"], $h["n_products"] }' \
    "$T/sp/customers.csv")
contains replay-event-equals-run "$T/body" "$want"

# ---- HTTPS: --tls-cert and --tls-key (a self-signed certificate made here) ----
if command -v openssl >/dev/null 2>&1 &&
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key.pem" -out "$T/cert.pem" -days 1 \
        -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1; then
    start_server "$T/o/model.json" "$T/s.db" --tls-cert "$T/cert.pem" --tls-key "$T/key.pem"
    contains tls-banner "$T/serve.out" "listening on https://127.0.0.1:"
    code=$(curl -s -o "$T/body" -w '%{http_code}' --cacert "$T/cert.pem" -H "Authorization: Bearer $R" "$URL/v1/segments")
    [ "$code" = 200 ] && ok || bad "tls: HTTP $code over HTTPS"
    plain=$(echo "$URL" | sed 's|^https:|http:|')
    code=$(curl -s -o /dev/null -w '%{http_code}' -m 5 "$plain/healthz")
    [ "$code" != 200 ] && ok || bad "tls: plain HTTP answered on the HTTPS port"
    stop_server
    expect 2 tls-half -- "$BIN" serve --model "$T/o/model.json" --db "$T/s.db" --tokens "$T/tokens" --tls-cert "$T/cert.pem"
    expect 1 tls-not-pem -- "$BIN" serve --model "$T/o/model.json" --db "$T/s.db" --tokens "$T/tokens" --tls-cert "$T/tokens" --tls-key "$T/key.pem"
    contains tls-not-pem "$T/err" "not a PEM file"
    # a key of another certificate, and the two swapped: said (it was "cannot listen on ...",
    # exit 3, with an errno of nothing to do with it)
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key2.pem" -out "$T/cert2.pem" -days 1 \
        -subj /CN=127.0.0.1 >/dev/null 2>&1
    expect 1 tls-mismatch -- "$BIN" serve --model "$T/o/model.json" --db "$T/s.db" --tokens "$T/tokens" --tls-cert "$T/cert.pem" --tls-key "$T/key2.pem"
    stderr_is tls-mismatch "custseg: $T/key2.pem: the key does not match the certificate $T/cert.pem"
    expect 1 tls-swapped -- "$BIN" serve --model "$T/o/model.json" --db "$T/s.db" --tokens "$T/tokens" --tls-cert "$T/key.pem" --tls-key "$T/cert.pem"
    stderr_is tls-swapped "custseg: $T/key.pem: not a PEM certificate (--tls-cert)"
else
    echo "service_cli.sh: no openssl command: the HTTPS test is skipped"
fi

# ---- the bundled Online Retail log through the API, in batches of 1,000 ----
if [ -f "$RETAIL" ]; then
    expect 0 retail-run -- "$BIN" run "$RETAIL" --out "$T/r" --quiet
    mkdir -p "$T/ev2"
    expect 0 retail-events -- "$REPLAY" events "$RETAIL" "$T/ev2" 1000
    asof=$(sed -n 's/.*"as_of": *"\([0-9-]*\)".*/\1/p' "$T/r/segments.json" | head -1)
    start_server "$T/r/model.json" "$T/r.db" --as-of "$asof"
    t0=$(date +%s)
    # one group of options per request (curl's "next": a body is not carried over)
    sep=
    for f in "$T"/ev2/b*.json; do
        [ -n "$sep" ] && echo "$sep"
        sep=next
        echo "url = \"$URL/v1/events\""
        echo "header = \"Authorization: Bearer $W\""
        echo "data-binary = \"@$f\""
        echo "output = \"/dev/null\""
        echo "write-out = \"%{http_code}\\n\""
    done >"$T/post.cfg"
    curl -s -K "$T/post.cfg" >"$T/codes"
    n200=$(grep -c '^200$' "$T/codes")
    nb=$(ls "$T"/ev2 | wc -l)
    [ "$n200" -eq "$nb" ] && ok || bad "retail replay: $n200 of $nb batches got 200"
    t1=$(date +%s)
    echo "Online Retail replayed through the API in $((t1 - t0)) s"
    customers "$T/r/customers.csv" "$T/replies"
    expect 0 retail-state-equals-run -- "$REPLAY" check "$T/r/customers.csv" "$T/replies"
    cat "$T/out"
    stop_server
    # the same log into a store that run --db seeded, by custseg replay: every customer as run
    expect 0 retail-run-db -- "$BIN" run "$RETAIL" --out "$T/r2" --db "$T/r2.db" --quiet
    expect 0 retail-replay -- "$BIN" replay "$RETAIL" --model "$T/r2/model.json" --db "$T/r2.db"
    cat "$T/out"
    start_server "$T/r2/model.json" "$T/r2.db" --as-of "$asof"
    customers "$T/r2/customers.csv" "$T/replies2"
    expect 0 retail-replayed-equals-run -- "$REPLAY" check "$T/r2/customers.csv" "$T/replies2"
    cat "$T/out"
    stop_server
else
    echo "service_cli.sh: $RETAIL absent: the Online Retail replay is skipped"
fi

echo "service tests: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
