#!/bin/sh
# The segment store from the command line (docs/store.md): run/fit --db, runs,
# show, export, forget, errors, and kill -9 during a store write.
#   store_cli.sh CUSTSEG SOURCE_DIR DB
# DB is a store URI (an SQLite path or postgresql://...); it must be empty or
# absent: the runs stored here are numbered from 1.
set -u
BIN=$1
SRC=$2
DB=$3
. "$SRC/tests/store/lib.sh"

SMALL=$SRC/tests/data/txn_small.csv
MALL=$SRC/data/mall_customers.csv
RETAIL=$SRC/data/online_retail.csv.gz

expect 0 run-db -- "$BIN" run "$SMALL" --k 3 --out "$T/o1" --db "$DB" --quiet
contains run-db "$T/out" "Stored run 1 in "
contains run-db "$T/out" "(24 customers)."
expect 0 fit-db -- "$BIN" fit "$MALL" --k 4 --out "$T/o2" --db "$DB" --quiet
contains fit-db "$T/out" "Stored run 2 in "
# a store nobody has open is one file: a copy of it alone has the runs
case $DB in
postgresql:* | postgres:*) ;;
*)
    if [ -e "$DB-wal" ]; then bad "one-file: $DB-wal left after the last command closed the store"; else ok; fi
    cp "$DB" "$T/copy.db"
    expect 0 one-file-copy -- "$BIN" runs --db "$T/copy.db"
    lines one-file-copy "$T/out" 3
    # a store another account owns, in a folder it owns: read (runs, show, export), not changed
    if [ "$(id -u)" = 0 ] && command -v runuser >/dev/null &&
        runuser -u nobody -- "$BIN" --version >/dev/null 2>&1; then
        ro=$(mktemp -d)
        cp "$DB" "$ro/s.db"
        chmod 755 "$ro"
        chmod 644 "$ro/s.db"
        expect 0 readonly-runs -- runuser -u nobody -- "$BIN" runs --db "$ro/s.db"
        lines readonly-runs "$T/out" 3
        expect 0 readonly-show -- runuser -u nobody -- "$BIN" show --db "$ro/s.db" --run 1
        contains readonly-show "$T/out" "Run 1: transaction log of"
        expect 0 readonly-export -- runuser -u nobody -- "$BIN" export --db "$ro/s.db" --run 1 --min-segment-size 0
        lines readonly-export "$T/out" 25
        expect 3 readonly-forget -- runuser -u nobody -- "$BIN" forget --db "$ro/s.db" 12346
        if [ "$(ls "$ro")" = s.db ]; then ok; else bad "readonly: files made beside the store: $(ls "$ro")"; fi
        # a path written with two leading slashes (the file URI took "tmp" for a host)
        expect 0 readonly-double-slash -- runuser -u nobody -- "$BIN" runs --db "/$ro/s.db"
        # a file that is no database: said as for its owner (not "read-only here")
        echo hello >"$ro/t.db"
        chmod 644 "$ro/t.db"
        expect 1 readonly-not-db -- runuser -u nobody -- "$BIN" runs --db "$ro/t.db"
        contains readonly-not-db "$T/err" "not a custseg store"
        rm -f "$ro/t.db"
        # a log beside it (a writer has it open): said, not read without it
        : >"$ro/s.db-wal"
        expect 3 readonly-wal -- runuser -u nobody -- "$BIN" runs --db "$ro/s.db"
        contains readonly-wal "$T/err" "(it is read-only here, and a writer has it open or its folder cannot be written)"
        rm -rf "$ro"
    else
        echo "skip: read-only store (needs root, runuser and a custseg the user nobody can run)"
    fi
    ;;
esac
expect 0 runs -- "$BIN" runs --db "$DB"
lines runs "$T/out" 3
head -2 "$T/out" | tail -1 >"$T/first"
contains runs-newest-first "$T/first" "    2  "
contains runs "$T/out" "transactions  kmeans"
expect 0 show -- "$BIN" show --db "$DB" --run 1
contains show "$T/out" "Run 1: transaction log of $SMALL, kmeans, k = 3, 24 customers"
# a --run that is not a run id: a usage error, and nothing shown or exported
expect 2 show-bad-run -- "$BIN" show --db "$DB" --run abc
stderr_is show-bad-run "custseg: --run must be a run id (a whole number >= 1), got 'abc'
Try 'custseg show --help'."
if [ -s "$T/out" ]; then bad "show-bad-run: printed $(head -c 100 "$T/out")"; else ok; fi
expect 2 export-bad-run -- "$BIN" export --db "$DB" --run 0 --min-segment-size 0
if [ -s "$T/out" ]; then bad "export-bad-run: exported $(head -c 100 "$T/out")"; else ok; fi
expect 0 show-newest -- "$BIN" show --db "$DB"
contains show-newest "$T/out" "Run 2: customer table"
# a long name is cut between characters (a name of 47 a's and an é was cut inside the é)
long="$(printf 'a%.0s' $(seq 47))$(printf '\303\251')bbbbb"
expect 0 show-utf8-store -- "$BIN" fit "$SRC/data/mall_customers.csv" --k 2 --names "$long,B" --db "$T/utf8.db" --out "$T/utf8" --quiet
expect 0 show-utf8 -- "$BIN" show --db "$T/utf8.db"
if command -v iconv >/dev/null 2>&1; then
    iconv -f UTF-8 -t UTF-8 "$T/out" >/dev/null 2>&1 && ok || bad "show-utf8: not valid UTF-8"
fi
contains show-utf8-cut "$T/out" "$(printf 'a%.0s' $(seq 47))$(printf '\303\251')  "

# export: the run's customers.csv, field for field, in its order
expect 0 export -- "$BIN" export --db "$DB" --run 1 --min-segment-size 0 --out "$T/e.csv"
# ... never over the store itself (an SQLite store is a file)
if [ -f "$DB" ]; then
    cp "$DB" "$T/db_before"
    expect 2 export-over-store -- "$BIN" export --db "$DB" --run 1 --min-segment-size 0 --out "$DB"
    contains export-over-store "$T/err" "is the store ($DB): it would be replaced; write to another file"
    same export-over-store-kept "$DB" "$T/db_before"
fi
# the columns by name: customer_id, segment, segment_name, distance
col() { head -1 "$1" | tr , '\n' | grep -nx "$2" | cut -d: -f1; }
cut -d, -f1,"$(col "$T/o1/customers.csv" segment)"-"$(col "$T/o1/customers.csv" distance)" \
    "$T/o1/customers.csv" >"$T/want"
cut -d, -f1-4 "$T/e.csv" >"$T/got"
if cmp -s "$T/want" "$T/got"; then ok; else bad "export: ids, segments, names, distances differ from customers.csv"; fi
expect 0 export-jsonl -- "$BIN" export --db "$DB" --run 2 --format jsonl --fields customer_id,segment_name --min-segment-size 0
[ -s "$T/err" ] && bad "export-jsonl: $(cat "$T/err")" || ok # no notice
[ "$(wc -l <"$T/out")" -eq 0 ] && bad "export-jsonl: nothing written" || ok
# number ids (the mall table's CustomerID) are stored as customers.csv writes them
expect 0 export-number-ids -- "$BIN" export --db "$DB" --run 2 --fields customer_id --min-segment-size 0
tail -n +2 "$T/out" >"$T/ids_got"
cut -d, -f1 "$T/o2/customers.csv" | tail -n +2 >"$T/ids_want"
same export-number-ids "$T/ids_want" "$T/ids_got"
# standard output on a full disk: one line naming it, exit 3
if [ -w /dev/full ]; then
    expect 3 export-full -- sh -c "exec \"$BIN\" export --db \"$DB\" --run 1 --min-segment-size 0 > /dev/full"
    stderr_is export-full "custseg: standard output: cannot write the export: No space left on device"
fi
expect 2 export-unknown-field -- "$BIN" export --db "$DB" --run 1 --fields customer_id,shoe_size
contains export-unknown-field "$T/err" 'custseg: --fields: "shoe_size" is not a column of run 1'
# p_segment_N only for a mixture's runs, N in 1..k (any p_segment_* gave an empty column)
for f in p_segment_1 p_segment_abc p_segment_0; do
    expect 2 "export-$f" -- "$BIN" export --db "$DB" --run 1 --fields "customer_id,$f"
    contains "export-$f" "$T/err" "\"$f\" is not a column of run 1"
done
expect 1 export-no-run -- "$BIN" export --db "$DB" --run 99
contains export-no-run "$T/err" "no run 99 in the store"
# a segment below the suppression size: a notice, and nothing of it written
small=$(cut -d, -f"$(col "$T/o1/customers.csv" segment)" "$T/o1/customers.csv" | tail -n +2 | sort | uniq -c | sort -n | head -1 | awk '{print $2}')
expect 0 export-suppressed -- "$BIN" export --db "$DB" --run 1 --segment "$small" --min-segment-size 1000 --out "$T/s.csv"
contains export-suppressed "$T/err" "custseg: note: segment $small "
lines export-suppressed "$T/s.csv" 1

# forget: gone from memberships and state; the profile stays
expect 0 forget -- "$BIN" forget --db "$DB" 10001 no-such-customer
contains forget "$T/out" "Erased 1 customer (of 2 ids given): 1 memberships, 1 customer states, 0 events, 0 segment changes removed."
expect 0 export-after-forget -- "$BIN" export --db "$DB" --run 1 --min-segment-size 0
lacks export-after-forget "$T/out" "10001,"
contains export-after-forget "$T/out" "10002,"
# an id as a spreadsheet writes it is the stored id ("10003.0" is 10003); none found: said so
# (a store of its own: the runs above are counted after the kills below)
expect 0 forget-store -- "$BIN" run "$SMALL" --k 3 --out "$T/of" --db "$T/forget.db" --quiet
expect 0 forget-number-form -- "$BIN" forget --db "$T/forget.db" "10003.0"
contains forget-number-form "$T/out" "Erased 1 customer (of 1 id given): 1 memberships"
# one customer given three ways is one customer erased (an erasure's record)
expect 0 forget-same-thrice -- "$BIN" forget --db "$T/forget.db" 10005 " 10005 " "10005.0" 10006
contains forget-same-thrice "$T/out" "Erased 2 customers (of 4 ids given): 2 memberships"
expect 0 forget-none -- "$BIN" forget --db "$T/forget.db" no-such-customer
contains forget-none "$T/out" "None of the 1 customer id is in the store: nothing removed"
# the minimum segment size counts the members left: 10001's segment, one short of its size at
# the run, is held back at that size (the size stored with the run let it through)
seg1=$(awk -F, -v c="$(col "$T/o1/customers.csv" segment)" '$1 == "10001" { print $c }' "$T/o1/customers.csv")
size1=$(cut -d, -f"$(col "$T/o1/customers.csv" segment)" "$T/o1/customers.csv" | grep -cx "$seg1")
expect 0 export-forget-min-size -- "$BIN" export --db "$DB" --run 1 --segment "$seg1" --min-segment-size "$size1" --out "$T/f.csv"
contains export-forget-min-size "$T/err" "segment $seg1 "
contains export-forget-min-size "$T/err" ": $((size1 - 1)) customers, fewer than the minimum segment size $size1"
lines export-forget-min-size "$T/f.csv" 1

# a store path mistyped: runs, show, export, forget say so (exit 3) and make no store there
# (forget said it erased, and left an empty store behind)
for c in runs show export "forget 10001"; do
    # shellcheck disable=SC2086
    expect 3 "no-store-$c" -- "$BIN" $c --db "$T/typo.db"
    contains "no-store-$c" "$T/err" "typo.db: no store there"
done
[ ! -e "$T/typo.db" ] && ok || bad "no-store: $T/typo.db was made"
# an empty file, and a database of something else: said so, and left as they were (no
# schema made in them, not even switched to a write-ahead log)
if command -v sqlite3 >/dev/null 2>&1; then
    : >"$T/empty.db"
    sqlite3 "$T/other.db" "CREATE TABLE t (x)"
    cp "$T/other.db" "$T/other_before.db"
    for c in runs show export "forget 10001"; do
        # shellcheck disable=SC2086
        expect 3 "empty-db-$c" -- "$BIN" $c --db "$T/empty.db"
        stderr_is "empty-db-$c" "custseg: $T/empty.db: no store there (an empty database)"
        # shellcheck disable=SC2086
        expect 1 "other-db-$c" -- "$BIN" $c --db "$T/other.db"
        stderr_is "other-db-$c" "custseg: $T/other.db: not a custseg store: it has no cseg_meta"
    done
    [ ! -s "$T/empty.db" ] && ok || bad "empty-db: $T/empty.db was written"
    same other-db-unchanged "$T/other.db" "$T/other_before.db"
fi
# SQLite's temporary and in-memory databases would lose the run: refused, nothing written
for m in "sqlite:" ":memory:"; do
    expect 1 "store-not-a-file-$m" -- "$BIN" run "$SMALL" --k 3 --out "$T/mem" --db "$m" --quiet
    contains "store-not-a-file-$m" "$T/err" "the store needs a file"
    [ ! -e "$T/mem" ] && ok || bad "store-not-a-file-$m: $T/mem written"
done
# a reader is not held up by a writer's open transaction (every open took the writers' lock
# to look at the schema: 30 s, then "database is locked")
case "$DB" in
postgres*) ;;
*)
    if command -v sqlite3 >/dev/null; then
        (printf "BEGIN IMMEDIATE;\nINSERT INTO cseg_meta VALUES ('lock', '1');\n"; sleep 8; printf 'ROLLBACK;\n') |
            sqlite3 "$DB" &
        sleep 1
        t0=$(date +%s)
        expect 0 runs-while-writing -- "$BIN" runs --db "$DB"
        expect 0 export-while-writing -- "$BIN" export --db "$DB" --run 1 --min-segment-size 0 --out "$T/w.csv"
        t1=$(date +%s)
        [ $((t1 - t0)) -le 4 ] && ok || bad "readers while a writer holds the store: $((t1 - t0)) s"
        wait
    fi
    ;;
esac

# a mixture's run: its probabilities export, p_segment_N past k does not; show says "-" for a
# silhouette there is none of (DBSCAN with one group; it printed 0.0000)
expect 0 fit-gmm-db -- "$BIN" fit "$MALL" --algo gmm --k 3 --out "$T/og" --db "$DB" --quiet
gid=$(sed -n 's/^Stored run \([0-9]*\) in .*/\1/p' "$T/out")
expect 0 export-p-segment -- "$BIN" export --db "$DB" --run "$gid" --fields customer_id,p_segment_3 --min-segment-size 0
contains export-p-segment "$T/out" "customer_id,p_segment_3"
expect 2 export-p-segment-past-k -- "$BIN" export --db "$DB" --run "$gid" --fields customer_id,p_segment_4
expect 0 fit-dbscan-db -- "$BIN" fit "$MALL" --algo dbscan --eps 1000 --out "$T/od" --db "$DB" --quiet
did=$(sed -n 's/^Stored run \([0-9]*\) in .*/\1/p' "$T/out")
expect 0 show-no-silhouette -- "$BIN" show --db "$DB" --run "$did"
contains show-no-silhouette "$T/out" "silhouette -"

# a customer id longer than a store keeps (2,000 bytes): refused on either back end, naming the
# customer (PostgreSQL's index refused it halfway, naming none; SQLite took it)
awk -F, -v OFS=, 'BEGIN { for (i = 0; i < 2001; i++) l = l "x" } { sub(/\r$/, "") } NR == 4 { $1 = l } { print }' "$MALL" >"$T/longid.csv"
expect 3 store-long-id -- "$BIN" fit "$T/longid.csv" --k 3 --out "$T/li" --db "$DB" --quiet
contains store-long-id "$T/err" "the id of customer 3 is 2001 bytes, more than the 2000 a store indexes"

# errors: a store that is not there, usage
expect 3 db-nowhere -- "$BIN" run "$SMALL" --k 2 --out "$T/o3" --db "postgresql://nobody@127.0.0.1:1/none?connect_timeout=3" --quiet
[ "$(wc -l <"$T/err")" -eq 1 ] && ok || bad "db-nowhere: $(cat "$T/err")"
contains db-nowhere "$T/err" "cannot connect to the store"
expect 2 runs-no-db -- "$BIN" runs
expect 2 compare-db -- "$BIN" compare "$SMALL" --db "$DB"

# kill -9 while a run is being stored: the store keeps its earlier runs, whole
if [ -r "$RETAIL" ]; then
    for delay in 0.3 0.6 0.9 1.2 1.5; do
        "$BIN" run "$RETAIL" --k 3 --n-init 1 --out "$T/k" --db "$DB" --quiet >/dev/null 2>&1 &
        pid=$!
        sleep "$delay"
        kill -9 "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    # and right inside the store write: once the files are written ("Wrote ..." on a
    # line-buffered stdout) a 100,000-customer run spends a good fraction of a second storing
    awk 'BEGIN { srand(7); print "id,a,b"; for (i = 1; i <= 100000; i++)
                 printf "%d,%.3f,%.3f\n", i, rand() * 10, rand() * 10 }' >"$T/big.csv"
    in_store=0
    for i in 1 2 3; do
        stdbuf -oL "$BIN" fit "$T/big.csv" --k 3 --n-init 1 --out "$T/b" --db "$DB" --quiet \
            >"$T/b.out" 2>/dev/null &
        pid=$!
        while kill -0 "$pid" 2>/dev/null && ! grep -q "^Wrote" "$T/b.out"; do sleep 0.01; done
        kill -9 "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        grep -q "^Stored" "$T/b.out" || in_store=$((in_store + 1))
    done
    echo "kill -9 inside the store write: $in_store of 3 runs"
    [ "$in_store" -ge 1 ] && ok || bad "kill-in-store: no kill landed inside the store write"
    expect 0 runs-after-kill -- "$BIN" runs --db "$DB"
    contains runs-after-kill "$T/out" "    1  "
    expect 0 export-after-kill -- "$BIN" export --db "$DB" --run 1 --min-segment-size 0
    lines export-after-kill "$T/out" 24 # 23 customers and the header
    # every run listed is whole: its export has as many rows as it has customers
    "$BIN" runs --db "$DB" | tail -n +2 | awk '{print $1, $7}' >"$T/runs"
    while read -r id n; do
        "$BIN" export --db "$DB" --run "$id" --min-segment-size 0 --fields customer_id >"$T/x" 2>/dev/null
        got=$(($(wc -l <"$T/x") - 1))
        [ "$id" -eq 1 ] && n=$((n - 1)) # one customer forgotten above
        [ "$got" -eq "$n" ] && ok || bad "run $id after kill -9: $got rows, $n customers"
    done <"$T/runs"
    expect 0 store-after-kill -- "$BIN" run "$SMALL" --k 2 --out "$T/o4" --db "$DB" --quiet
fi

# the run is stored while its files are written, and kept only if they were
"$BIN" runs --db "$DB" >"$T/runs_before" 2>&1
: >"$T/not_a_dir"
expect 3 out-fails-no-store -- "$BIN" run "$SMALL" --k 2 --out "$T/not_a_dir/o" --db "$DB" --quiet
lacks out-fails-no-store "$T/out" "Stored run"
"$BIN" runs --db "$DB" >"$T/runs_after" 2>&1
same out-fails-no-store "$T/runs_before" "$T/runs_after"

echo "store cli tests ($DB): $pass passed, $fail failed"
[ "$fail" -eq 0 ]
