#!/bin/sh
# Privacy from the command line (docs/privacy.md): pseudonymised ids in every
# output and the store, personal-data columns left out or refused, dropped
# columns, key files. privacy_cli.sh CUSTSEG SOURCE_DIR
set -u
BIN=$1
SRC=$2
. "$SRC/tests/store/lib.sh"

# A log whose ids cannot appear by chance: cust-NN-x for 100NN.
sed 's/,100\([0-9][0-9]\)\.0,/,cust-\1-x,/' "$SRC/tests/data/txn_small.csv" >"$T/log.csv"
head -c 32 /dev/urandom >"$T/key"
expect 0 pseudonymize -- "$BIN" run "$T/log.csv" --k 3 --algo ward --pseudonymize "$T/key" \
    --out "$T/o" --db "$T/s.db" --quiet
if grep -rq "cust-" "$T/o" "$T/s.db"*; then bad "pseudonymize: a raw id in the outputs or the store"; else ok; fi
if command -v sqlite3 >/dev/null; then
    sqlite3 "$T/s.db" .dump >"$T/dump.sql"
    lacks pseudonymize-dump "$T/dump.sql" "cust-"
    contains pseudonymize-dump "$T/dump.sql" "INSERT INTO cseg_memberships"
fi
# the same key maps the same id the same way: a second run joins
expect 0 pseudonymize-again -- "$BIN" run "$T/log.csv" --k 3 --pseudonymize "$T/key" --out "$T/o2" --quiet
cut -d, -f1 "$T/o/customers.csv" >"$T/a"
cut -d, -f1 "$T/o2/customers.csv" >"$T/b"
same pseudonymize-stable "$T/a" "$T/b"
# export can pseudonymise a store that holds raw ids
expect 0 raw-run -- "$BIN" run "$T/log.csv" --k 3 --out "$T/o3" --db "$T/raw.db" --quiet
expect 0 export-pseudonymize -- "$BIN" export --db "$T/raw.db" --pseudonymize "$T/key" --min-segment-size 0
lacks export-pseudonymize "$T/out" "cust-"
cut -d, -f1 "$T/out" | tail -n +2 | sort >"$T/c"
tail -n +2 "$T/a" | sort >"$T/d"
same export-pseudonymize-joins "$T/c" "$T/d"
printf 'short' >"$T/badkey"
expect 1 key-short -- "$BIN" run "$T/log.csv" --pseudonymize "$T/badkey" --out "$T/x"
contains key-short "$T/err" "a key file holds 16 to 1024 bytes"

# personal data in a customer table: left out with a note, refused as a feature
cat >"$T/people.csv" <<'CSV'
id,email,phone,spend,visits
1,ann@example.com,+44 20 7946 0958,120,3
2,bob@example.org,+44 20 7946 0959,80,2
3,cy@example.net,+44 20 7946 0960,300,9
4,dee@example.com,+44 20 7946 0961,50,1
5,eve@example.org,+44 20 7946 0962,210,6
6,fay@example.net,+44 20 7946 0963,95,2
CSV
expect 0 pii-left-out -- "$BIN" fit "$T/people.csv" --k 2 --out "$T/p"
contains pii-left-out "$T/err" 'custseg: note: column "email" looks like e-mail addresses: left out of every output and the store (--allow-pii keeps it)'
contains pii-left-out "$T/err" 'column "phone" looks like phone numbers'
lacks pii-left-out "$T/p/customers.csv" "example"
if grep -rq "example.com" "$T/p"; then bad "pii-left-out: an address in the outputs"; else ok; fi
expect 2 pii-feature -- "$BIN" fit "$T/people.csv" --features spend,email --k 2 --out "$T/x"
stderr_is pii-feature "custseg: column \"email\" looks like e-mail addresses: personal data is not a feature (--allow-pii to use it)
Try 'custseg fit --help'."
expect 0 pii-allowed -- "$BIN" fit "$T/people.csv" --features spend,visits --allow-pii --k 2 --out "$T/q" --quiet
contains pii-allowed "$T/q/customers.csv" "ann@example.com"
expect 0 drop-columns -- "$BIN" fit "$T/people.csv" --drop-columns email,phone --k 2 --out "$T/r" --quiet
lacks drop-columns "$T/r/customers.csv" "email"
[ -s "$T/err" ] && bad "drop-columns: $(cat "$T/err")" || ok
expect 1 drop-unknown -- "$BIN" fit "$T/people.csv" --drop-columns shoe_size --k 2 --out "$T/x"
contains drop-unknown "$T/err" "shoe_size"
sed 's/,Item,/,buyer@example.com,/' "$SRC/tests/data/txn_small.csv" >"$T/mail.csv"
expect 2 pii-attribute -- "$BIN" run "$T/mail.csv" --attributes Description --k 2 --out "$T/x"
contains pii-attribute "$T/err" 'attribute column "Description" looks like e-mail addresses'
# an address on each of a customer's rows, through every route that keeps the log's rows
# (--pseudonymize, --clv): judged on the customers' values, as streamed (it was carried)
awk -F, -v OFS=, 'NR == 1 { print $0, "Note"; next } { print $0, "lives at " NR " Baker Street London" }' \
    "$SRC/tests/data/txn_small.csv" | awk -F, -v OFS=, 'NR == 1 { print; next } { sub(/lives at [0-9]+/, "lives at " $7); print }' >"$T/addr.csv"
head -c 32 /dev/urandom >"$T/addr.key"
for opt in "" "--pseudonymize $T/addr.key" "--clv"; do
    expect 2 "pii-address${opt:+ $opt}" -- "$BIN" run "$T/addr.csv" --attributes Note --k 2 --out "$T/x" $opt
    contains "pii-address${opt:+ $opt}" "$T/err" 'attribute column "Note" looks like free text'
done
echo "privacy tests: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
