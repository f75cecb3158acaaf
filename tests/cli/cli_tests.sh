#!/bin/sh
# End-to-end tests of the custseg binary: outputs, exit codes and the exact
# one-line error messages (docs/cli.md). Usage: cli_tests.sh CUSTSEG SOURCE_DIR
set -u
BIN=$1
SRC=$2
T=$(mktemp -d /tmp/custseg-cli.XXXXXX)
trap 'rm -rf "$T"' EXIT
pass=0
fail=0

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# expect CODE NAME -- command...   (stdout > $T/out, stderr > $T/err)
expect() {
    code=$1; name=$2; shift 3
    "$@" >"$T/out" 2>"$T/err"
    got=$?
    if [ "$got" -eq "$code" ]; then ok; else bad "$name: exit $got, expected $code; stderr: $(head -c 400 "$T/err")"; fi
}
# stderr_is NAME TEXT: the whole stderr is exactly TEXT (one line)
stderr_is() {
    if [ "$(cat "$T/err")" = "$2" ]; then ok; else bad "$1: stderr was '$(cat "$T/err")', expected '$2'"; fi
}
contains() { # NAME FILE TEXT
    if grep -qF -- "$3" "$2"; then ok; else bad "$1: '$3' not in $2: $(head -c 300 "$2")"; fi
}
lacks() { # NAME FILE TEXT
    if grep -qF -- "$3" "$2"; then bad "$1: '$3' in $2"; else ok; fi
}
no_tmp_left() { # NAME DIR
    if ls "$2" 2>/dev/null | grep -q '\.tmp\.'; then bad "$1: temporary file left in $2"; else ok; fi
}
same() { # NAME A B
    if cmp -s "$2" "$3"; then ok; else bad "$1: $2 and $3 differ"; fi
}

SMALL=$SRC/tests/data/txn_small.csv
MALL=$SRC/data/mall_customers.csv
RETAIL=$SRC/data/online_retail.csv.gz

# ---- help, version, usage ----
expect 0 help -- "$BIN" --help
contains help "$T/out" "usage: custseg <command>"
expect 0 version -- "$BIN" --version
contains version "$T/out" "custseg 0.1.0"
for c in run fit assign score report compare; do
    expect 0 "$c --help" -- "$BIN" $c --help
    contains "$c --help" "$T/out" "usage: custseg $c"
done
expect 2 no-args -- "$BIN"
expect 2 unknown-command -- "$BIN" frobnicate
stderr_is unknown-command "custseg: unknown command 'frobnicate'
Try 'custseg --help'."
expect 2 unknown-option -- "$BIN" run --bogus "$SMALL"
expect 2 missing-file-arg -- "$BIN" run
expect 2 bad-k -- "$BIN" run --k zero "$SMALL"
expect 2 bad-scale -- "$BIN" fit --scale sideways "$MALL"

# ---- run on a small log ----
expect 0 run-small -- "$BIN" run "$SMALL" --out "$T/o1" --threads 1
for f in customers.csv segments.json model.json; do
    [ -s "$T/o1/$f" ] && ok || bad "run-small: $f missing"
done
no_tmp_left run-small "$T/o1"
contains run-small "$T/out" "Data quality: 394 rows read"
contains run-small "$T/out" "1 exact duplicate, "
contains run-small "$T/out" "<- chosen"
contains run-small-json "$T/o1/segments.json" '"chosen_k"'
contains run-small-json "$T/o1/segments.json" '"dropped_duplicates": 1'
contains run-small-model "$T/o1/model.json" '"format": "custseg-model"'
head -1 "$T/o1/customers.csv" > "$T/hdr"
contains run-small-header "$T/hdr" "customer_id,recency_days,frequency,monetary,tenure_days,avg_order_value,spend_90d,n_products,return_rate,r_score,f_score,m_score,rfm_code,segment,segment_name,distance"

# same seed, other thread count: identical outputs
expect 0 run-threads -- "$BIN" run "$SMALL" --out "$T/o2" --threads 2
same threads-customers "$T/o1/customers.csv" "$T/o2/customers.csv"
same threads-segments "$T/o1/segments.json" "$T/o2/segments.json"
same threads-model "$T/o1/model.json" "$T/o2/model.json"
# Hamerly's bounds give the same result as the default (plain Lloyd)
expect 0 run-hamerly -- "$BIN" run "$SMALL" --out "$T/o3" --kmeans-algo hamerly
cut -d, -f1,14,15 "$T/o1/customers.csv" > "$T/a"
cut -d, -f1,14,15 "$T/o3/customers.csv" > "$T/b"
same hamerly-labels "$T/a" "$T/b"

# assign: on the customer table and on the raw log, the same segments
expect 0 assign-table -- "$BIN" assign "$T/o1/model.json" "$T/o1/customers.csv" --out "$T/as1.csv"
cut -d, -f1,14,15 "$T/o1/customers.csv" > "$T/a"
cut -d, -f1,2,3 "$T/as1.csv" > "$T/b"
same assign-table-labels "$T/a" "$T/b"
expect 0 assign-log -- "$BIN" assign "$T/o1/model.json" "$SMALL"
cut -d, -f1,2,3 "$T/out" > "$T/c"
same assign-log-labels "$T/a" "$T/c"
# --out FILE streams the table a chunk at a time (cseg_model_assign_csv); to
# stdout the whole table is read: the same bytes, also over several chunks
# (the table 48 times, about 20 MB: chunks are 16 MB of text)
expect 0 assign-table-stdout -- "$BIN" assign "$T/o1/model.json" "$T/o1/customers.csv"
same assign-stream-same "$T/as1.csv" "$T/out"
awk 'NR == 1 || FNR > 1' "$T/o1/customers.csv" "$T/o1/customers.csv" "$T/o1/customers.csv" \
    "$T/o1/customers.csv" "$T/o1/customers.csv" "$T/o1/customers.csv" > "$T/big4.csv"
awk 'NR == 1 || FNR > 1' "$T/big4.csv" "$T/big4.csv" "$T/big4.csv" "$T/big4.csv" \
    "$T/big4.csv" "$T/big4.csv" "$T/big4.csv" "$T/big4.csv" > "$T/big.csv"
expect 0 assign-big-stream -- "$BIN" assign "$T/o1/model.json" "$T/big.csv" --out "$T/big_as.csv"
expect 0 assign-big-stdout -- "$BIN" assign "$T/o1/model.json" "$T/big.csv"
same assign-big-same "$T/big_as.csv" "$T/out"
# a bad number in the last chunk: its line and column, exit 1, nothing written
n_big=$(wc -l < "$T/big.csv")
awk -F, -v OFS=, -v L=$((n_big - 5)) 'NR == L { $2 = "abc" } 1' "$T/big.csv" > "$T/big_bad.csv"
expect 1 assign-big-bad -- "$BIN" assign "$T/o1/model.json" "$T/big_bad.csv" --out "$T/big_bad_as.csv"
stderr_is assign-big-bad "custseg: $T/big_bad.csv:$((n_big - 5)):7: expected a number in column \"recency_days\", got \"abc\""
[ ! -e "$T/big_bad_as.csv" ] && ok || bad "assign-big-bad: an output was left"
no_tmp_left assign-big-bad "$T"
# --out to a device or a pipe writes through it: renaming a file over /dev/null
# (as root) would replace the device with a file
expect 0 assign-devnull -- "$BIN" assign "$T/o1/model.json" "$T/o1/customers.csv" --out /dev/null
[ -c /dev/null ] && ok || bad "assign-devnull: /dev/null is no longer a device"
mkfifo "$T/fifo"
(cat "$T/fifo" >"$T/from_fifo" &)
expect 0 assign-fifo -- "$BIN" assign "$T/o1/model.json" "$T/o1/customers.csv" --out "$T/fifo"
sleep 0.3
[ -p "$T/fifo" ] && ok || bad "assign-fifo: the FIFO was replaced"
contains assign-fifo "$T/from_fifo" "customer_id,segment"
expect 0 assign-json -- "$BIN" assign "$T/o1/model.json" "$T/o1/customers.csv" --format json
# a DBSCAN model's outliers have no distance: null, not a missing key
expect 0 assign-json-dbscan -- "$BIN" fit "$MALL" --algo dbscan --out "$T/adb" --quiet
expect 0 assign-json-dbscan -- "$BIN" assign "$T/adb/model.json" "$MALL" --format json
if [ "$(grep -c '"distance"' "$T/out")" -eq 200 ]; then ok; else bad "assign-json-dbscan: $(grep -c '"distance"' "$T/out") of 200 objects have a distance key"; fi
contains assign-json "$T/out" '"segment_name":'
expect 0 assign-as-of-auto -- "$BIN" assign "$T/o1/model.json" "$SMALL" --as-of auto

# score any labelling
expect 0 score -- "$BIN" score "$T/o1/customers.csv" --labels segment --features recency_days,frequency,monetary --format json
contains score "$T/out" '"silhouette":'
contains score "$T/out" '"calinski_harabasz":'
expect 1 score-missing-col -- "$BIN" score "$T/o1/customers.csv" --labels nope
stderr_is score-missing-col "custseg: $T/o1/customers.csv: no column \"nope\" for --labels"
expect 2 score-no-labels -- "$BIN" score "$T/o1/customers.csv"

# ---- fit on a customer table ----
expect 0 fit-mall -- "$BIN" fit "$MALL" --out "$T/m1" --k 5
contains fit-mall "$T/out" "200 customers in 5 segments"
contains fit-mall-names "$T/o1/../m1/segments.json" '"name": "'
expect 0 fit-mall-assign -- "$BIN" assign "$T/m1/model.json" "$MALL"
cut -d, -f1,6,7 "$T/m1/customers.csv" > "$T/a"
cut -d, -f1,2,3 "$T/out" > "$T/b"
same fit-assign-labels "$T/a" "$T/b"

# train: a classifier of the segments, kept in model.json, used by assign --with
expect 2 train-no-dir -- "$BIN" train
expect 2 train-bad-classifier -- "$BIN" train "$T/m1" --classifier knn
contains train-bad-classifier "$T/err" "--classifier must be tree, forest or svm"
expect 2 train-bad-c -- "$BIN" train "$T/m1" --classifier svm --C 0
expect 2 train-bad-cv -- "$BIN" train "$T/m1" --cv 1
expect 2 train-bad-cv-large -- "$BIN" train "$T/m1" --cv 101
contains train-bad-cv-large "$T/err" "--cv must be from 2 to 100"
# a category level of 100 two-byte characters: the report's segment cards show 120 bytes of it,
# cut before a character, not inside one (the page was not valid UTF-8)
awk -F, -v OFS=, 'BEGIN { l = "a"; for (i = 0; i < 100; i++) l = l "\303\251" }
    { sub(/\r$/, ""); print $0, (NR == 1 ? "Note" : (NR % 2 ? l : "b")) }' "$MALL" >"$T/mall_long.csv"
expect 0 fit-long-level -- "$BIN" fit "$T/mall_long.csv" --k 3 --out "$T/ml" --quiet
if iconv -f UTF-8 -t UTF-8 "$T/ml/report.html" >/dev/null 2>&1; then ok; else bad "fit-long-level: report.html is not UTF-8"; fi
# a column named with 150 two-byte characters: the segment names made from it are cut between
# characters (cut inside one, JSON dropped them: a model assign and report refused, and the
# report's box-plot titles were not UTF-8)
awk -v OFS=, 'BEGIN { l = ""; for (i = 0; i < 150; i++) l = l "\303\251"; print "id", l, "b"
    for (i = 0; i < 60; i++) print "C" i, 10 + (i % 3) * 30 + (i * 7 % 5), 5 + (i % 3) * 20 + (i * 3 % 5) }' >"$T/long_col.csv"
expect 0 fit-long-column -- "$BIN" fit "$T/long_col.csv" --k 3 --out "$T/lcol" --quiet
for f in customers.csv segments.json model.json report.html; do
    if iconv -f UTF-8 -t UTF-8 "$T/lcol/$f" >/dev/null 2>&1; then ok; else bad "fit-long-column: $f is not UTF-8"; fi
done
contains fit-long-column "$T/lcol/segments.json" "\"name\": \"High $(printf '\303\251')"
expect 0 fit-long-column-assign -- "$BIN" assign "$T/lcol/model.json" "$T/long_col.csv" --out "$T/lcol_a.csv"
expect 0 fit-long-column-report -- "$BIN" report "$T/lcol"
# a column name with a line end in it: the error is one line (the line end written \n)
printf 'CustomerID,"A\nB","A\nB"\n1,2,3\n' >"$T/nl_header.csv"
expect 1 header-line-end -- "$BIN" fit "$T/nl_header.csv" --out "$T/nlh"
stderr_is header-line-end "custseg: $T/nl_header.csv:1:4: column name \"A\\nB\" appears twice in the header (columns 2 and 3)"
# no customer in both runs: the migration's Rand index is a dash, not "nan"; a noncharacter
# (U+FFFE) in a name is written as U+FFFD (XML allows neither)
head -c 32 /dev/urandom >"$T/mig.key"
expect 0 mig-none-shared -- "$BIN" fit "$MALL" --pseudonymize "$T/mig.key" --k 3 --out "$T/mga" --quiet
expect 0 mig-none-shared -- "$BIN" fit "$MALL" --k 3 --previous "$T/mga" --out "$T/mgb" --quiet --names "A,B,C$(printf '\357\277\276')"
lacks mig-none-shared "$T/mgb/report.html" "between the runs nan"
contains mig-none-shared "$T/mgb/report.html" "between the runs - (1: the same segments)"
lacks report-nonchar "$T/mgb/report.html" "$(printf '\357\277\276')"
# a segment none of whose customers is in the scatter's sample: its centre inside the chart
# (the axes followed the sample only, and the centre was drawn at x -69)
expect 0 scatter-centres -- "$BIN" run "$RETAIL" --algo single --k 4 --out "$T/scs" --quiet
grep -o '<circle cx="[-0-9.]*" cy="[-0-9.]*" r="8"' "$T/scs/report.html" | tr '"' ' ' |
    awk '{ n++; if ($3 < 0 || $3 > 760 || $5 < 0 || $5 > 460) bad++ } END { exit !(n == 4 && !bad) }' &&
    ok || bad "scatter-centres: a centre outside the chart"
# a message quoting a long name is cut between characters (it was cut inside one)
long_e=$(awk 'BEGIN { for (i = 0; i < 3000; i++) printf "\303\251" }')
expect 2 long-name-message -- "$BIN" fit "$MALL" --features "$long_e" --out "$T/lnm"
if iconv -f UTF-8 -t UTF-8 "$T/err" >/dev/null 2>&1; then ok; else bad "long-name-message: stderr is not UTF-8"; fi
# an SVM cross-validated when a segment is too small for its folds: said so, naming the
# segment from 1 (it failed with "class 3 has no rows")
expect 0 fit-gmm-small-segments -- "$BIN" fit "$MALL" --algo gmm --out "$T/tg" --quiet
expect 1 train-svm-cv-small -- "$BIN" train "$T/tg" --classifier svm --cv 5
contains train-svm-cv-small "$T/err" "too few for an SVM in 5 folds"
expect 0 train-forest-cv-small -- "$BIN" train "$T/tg" --classifier forest --cv 5
# a bad segment is named by its line in the file (a quoted line end before it: the row number
# plus 2 was three lines short)
mkdir -p "$T/trl" && cp "$T/m1/model.json" "$T/trl/"
awk -F, -v OFS=, -v c="$(head -1 "$T/m1/customers.csv" | tr , '\n' | grep -nx segment | cut -d: -f1)" \
    'NR == 2 { $1 = "\"a\nb\"" } NR == 5 { $c = 99 } { print }' "$T/m1/customers.csv" >"$T/trl/customers.csv"
expect 1 train-bad-segment-line -- "$BIN" train "$T/trl"
contains train-bad-segment-line "$T/err" "customers.csv:6: segment is not 1.."
expect 2 train-bad-test-size -- "$BIN" train "$T/m1" --test-size 1.5
expect 1 assign-with-none -- "$BIN" assign "$T/m1/model.json" "$MALL" --with tree
contains assign-with-none "$T/err" "has no tree classifier"
expect 2 assign-with-bad -- "$BIN" assign "$T/m1/model.json" "$MALL" --with knn
cp -r "$T/m1" "$T/m1t2"
expect 0 train-forest -- "$BIN" train "$T/m1" --seed 3 --threads 1
contains train-forest "$T/out" "A forest of 100 trees trained on 160 customers, scored on 40 held out"
contains train-forest-kept "$T/m1/model.json" '"kind": "forest"'
expect 0 train-forest-threads -- "$BIN" train "$T/m1t2" --seed 3 --threads 2
same train-forest-same-any-threads "$T/m1/model.json" "$T/m1t2/model.json"
cp -r "$T/m1t2" "$T/m1t8"
expect 0 train-forest-threads8 -- "$BIN" train "$T/m1t8" --seed 3 --threads 8
same train-forest-same-8-threads "$T/m1/model.json" "$T/m1t8/model.json"
expect 0 assign-with-forest -- "$BIN" assign "$T/m1/model.json" "$MALL" --with forest
# on its own training table the forest agrees with the segments almost everywhere
tail -n +2 "$T/m1/customers.csv" | cut -d, -f6 >"$T/a"
tail -n +2 "$T/out" | cut -d, -f2 >"$T/b"
agree=$(paste -d, "$T/a" "$T/b" | awk -F, '$1 == $2 { n++ } END { print n + 0 }')
[ "$agree" -ge 190 ] && ok || bad "assign-with-forest: $agree of 200 agree with the segments"
expect 0 train-tree-json -- "$BIN" train "$T/m1" --classifier tree --max-depth 4 --format json
contains train-tree-json "$T/out" '"accuracy":'
contains train-tree-json-confusion "$T/out" '"confusion":'
contains train-tree-kept "$T/m1/model.json" '"kind": "tree"'
expect 0 assign-with-tree -- "$BIN" assign "$T/m1/model.json" "$MALL" --with tree
contains assign-with-tree "$T/out" "CustomerID,segment,segment_name,distance"
expect 1 assign-with-forest-gone -- "$BIN" assign "$T/m1/model.json" "$MALL" --with forest
# a linear SVM (LIBLINEAR) with a 5-fold cross-validation on the training customers
expect 0 train-svm-cv -- "$BIN" train "$T/m1" --classifier svm --C 2 --cv 5 --seed 1
contains train-svm-cv "$T/out" "A linear SVM (C = 2) trained on 160 customers, scored on 40 held out"
contains train-svm-cv-folds "$T/out" "5-fold cross-validation on the training customers: accuracy"
contains train-svm-kept "$T/m1/model.json" '"kind": "svm"'
expect 0 train-svm-json -- "$BIN" train "$T/m1" --classifier svm --cv 4 --format json
contains train-svm-json "$T/out" '"folds": 4'
contains train-svm-json-mean "$T/out" '"accuracy_mean":'
expect 0 assign-with-svm -- "$BIN" assign "$T/m1/model.json" "$MALL" --with svm
tail -n +2 "$T/m1/customers.csv" | cut -d, -f6 >"$T/a"
tail -n +2 "$T/out" | cut -d, -f2 >"$T/b"
agree=$(paste -d, "$T/a" "$T/b" | awk -F, '$1 == $2 { n++ } END { print n + 0 }')
[ "$agree" -ge 180 ] && ok || bad "assign-with-svm: $agree of 200 agree with the segments"
expect 1 assign-with-tree-gone -- "$BIN" assign "$T/m1/model.json" "$MALL" --with tree

# drift: new customers against the model's training reference
expect 2 drift-no-args -- "$BIN" drift "$T/m1/model.json"
expect 2 drift-bad-warn -- "$BIN" drift "$T/m1/model.json" "$MALL" --warn -1
expect 2 drift-alert-below-warn -- "$BIN" drift "$T/m1/model.json" "$MALL" --warn 0.3 --alert 0.2
contains drift-alert-below-warn "$T/err" "must be at least --warn"
expect 0 drift-same -- "$BIN" drift "$T/m1/model.json" "$MALL"
contains drift-same "$T/out" "Verdict: no drift"
# no new customer can be placed (an age of 1e300): every one unfit, every segment's share 0,
# the segments' PSI an alert; no "nan" anywhere (it read "PSI nan (ok)")
printf 'CustomerID,Genre,Age,Annual_Income(k$),Spending_Score(1-100)\n1,Male,1e300,15,39\n' >"$T/far.csv"
expect 4 drift-none-placed -- "$BIN" drift "$T/m1/model.json" "$T/far.csv" --html "$T/far.html"
contains drift-none-placed "$T/out" "No segment fits 100.0% of the customers"
lacks drift-none-placed-nan "$T/out" "nan"
lacks drift-none-placed-html "$T/far.html" "nan"
expect 4 drift-none-placed-json -- "$BIN" drift "$T/m1/model.json" "$T/far.csv" --format json
contains drift-none-placed-json "$T/out" '"unfit_share": 1'
contains drift-none-placed-level "$T/out" '"segment_level": "ALERT"'
# an alert whose report is lost (standard output full): exit 3 and said, not exit 4 alone
if [ -w /dev/full ]; then
    expect 3 drift-alert-full -- sh -c "exec \"$BIN\" drift \"$T/m1/model.json\" \"$T/far.csv\" > /dev/full"
    contains drift-alert-full "$T/err" "custseg: cannot write to standard output"
fi
# compare writes nothing into out/: an input there under an output's name is no clash
mkdir -p "$T/cmpdir/out" && cp "$MALL" "$T/cmpdir/out/customers.csv"
expect 0 compare-input-in-out -- sh -c "cd \"$T/cmpdir\" && exec \"$BIN\" compare out/customers.csv --k 3 --bootstrap 0"
# an output that is one of the inputs (under another name) is refused: the model stays
cp "$T/m1/model.json" "$T/keep.json"
expect 2 drift-html-is-model -- "$BIN" drift "$T/m1/model.json" "$MALL" --html "$T/m1/../m1/model.json"
contains drift-html-is-model "$T/err" "custseg: --html $T/m1/../m1/model.json is the model ($T/m1/model.json): it would be replaced; write to another file"
same drift-html-is-model-kept "$T/m1/model.json" "$T/keep.json"
# an input in the --out folder under the name of an output (fit or run on their own
# customers.csv): refused, the input kept (it was replaced)
mkdir -p "$T/own"
cp "$MALL" "$T/own/customers.csv"
expect 2 fit-out-holds-input -- "$BIN" fit "$T/own/customers.csv" --k 3 --out "$T/own"
stderr_is fit-out-holds-input "custseg: --out $T/own would replace the input ($T/own/customers.csv) with its customers.csv; write to another folder
Try 'custseg fit --help'."
same fit-out-holds-input-kept "$MALL" "$T/own/customers.csv"
cp "$SMALL" "$T/own/model.json"
expect 2 run-out-holds-input -- "$BIN" run "$T/own/model.json" --k 3 --out "$T/own/"
same run-out-holds-input-kept "$SMALL" "$T/own/model.json"
cp "$MALL" "$T/mall_copy.csv"
expect 2 assign-out-is-input -- "$BIN" assign "$T/m1/model.json" "$T/mall_copy.csv" --out "$T/mall_copy.csv"
contains assign-out-is-input "$T/err" "is the input ($T/mall_copy.csv)"
same assign-out-is-input-kept "$MALL" "$T/mall_copy.csv"
expect 2 assign-out-is-model -- "$BIN" assign "$T/m1/model.json" "$MALL" --out "$T/m1/model.json"
same assign-out-is-model-kept "$T/m1/model.json" "$T/keep.json"
cp "$SMALL" "$T/small_copy.csv"
expect 2 clv-html-is-input -- "$BIN" clv "$T/small_copy.csv" --html "$T/small_copy.csv" --out "$T/clv_same"
same clv-html-is-input-kept "$SMALL" "$T/small_copy.csv"
# the same customers twice as rich: income drifts, the segments move
awk -F, 'BEGIN { OFS = "," } NR > 1 { $4 = $4 * 2 } { print }' "$MALL" >"$T/mall_rich.csv"
expect 4 drift-rich -- "$BIN" drift "$T/m1/model.json" "$T/mall_rich.csv" --html "$T/drift.html"
contains drift-rich "$T/out" "Verdict: drift above the alert threshold"
contains drift-rich-income "$T/out" "Annual_Income(k\$)"
contains drift-rich-html "$T/drift.html" "<h2>Input columns</h2>"
expect 4 drift-rich-json -- "$BIN" drift "$T/m1/model.json" "$T/mall_rich.csv" --format json
contains drift-rich-json "$T/out" '"level": "ALERT"'
# with a high enough alert threshold the same drift is a warning, exit 0
expect 0 drift-rich-warn -- "$BIN" drift "$T/m1/model.json" "$T/mall_rich.csv" --warn 0.1 --alert 1000
contains drift-rich-warn "$T/out" "some drift (warning)"
# a number column's value that is not a number is named by line and column, as assign names it
awk -F, -v OFS=, '{ sub(/\r$/, "") } NR == 2 { $4 = "inf" } { print }' "$MALL" >"$T/mall_inf.csv"
expect 1 drift-inf -- "$BIN" drift "$T/m1/model.json" "$T/mall_inf.csv"
stderr_is drift-inf "custseg: $T/mall_inf.csv:2:11: expected a number in column \"Annual_Income(k\$)\", got \"inf\""
# one customer's income 1e200: the drift report is made (it stopped at "the distance to the
# segment is beyond the range of numbers"), that customer unfit and out of the segment shares
awk -F, -v OFS=, '{ sub(/\r$/, "") } NR == 6 { $4 = "1e200" } { print }' "$MALL" >"$T/mall_huge.csv"
expect 0 drift-huge-value -- "$BIN" drift "$T/m1/model.json" "$T/mall_huge.csv"
contains drift-huge-value "$T/out" "Annual_Income(k\$)"
contains drift-huge-value-unfit "$T/out" "No segment fits"
# A column with one value (a share of 1 for its level) in a table of 200: the reference's
# shares were sums of 1/n, 1.0000000000000007 for some n, and the model could not be read
# back by assign, drift or explain. A model written so before still loads.
awk -F, -v OFS=, '{ sub(/\r$/, ""); print $0, (NR == 1 ? "Country" : "UK") }' "$MALL" > "$T/mall_uk.csv"
expect 0 fit-constant-column -- "$BIN" fit "$T/mall_uk.csv" --out "$T/muk" --quiet
expect 0 assign-constant-column -- "$BIN" assign "$T/muk/model.json" "$T/mall_uk.csv" --out "$T/muk.csv"
expect 0 drift-constant-column -- "$BIN" drift "$T/muk/model.json" "$T/mall_uk.csv"
awk '/"UK"/ { u = 1 } u && /"shares": \[/ { s = 1 } s && /^ *1\.0$/ { sub(/1\.0/, "1.0000000000000007"); s = u = 0 } { print }' \
    "$T/muk/model.json" > "$T/muk_old.json"
contains drift-old-share "$T/muk_old.json" "1.0000000000000007"
expect 0 drift-old-share -- "$BIN" drift "$T/muk_old.json" "$T/mall_uk.csv"
# bias audit: columns kept out of the clustering, their spread over the segments tested
awk -F, 'BEGIN { OFS = "," } { sub(/\r$/, "") } NR == 1 { print $0, "AgeBand"; next } { print $0, int($3 / 10) * 10 }' "$MALL" >"$T/mall_band.csv"
expect 0 fit-audit -- "$BIN" fit "$T/mall_band.csv" --out "$T/au" --k 4 --features "Annual_Income(k\$),Spending_Score(1-100)" --audit Genre,AgeBand
contains fit-audit-json "$T/au/segments.json" '"audit": ['
contains fit-audit-v "$T/au/segments.json" '"cramers_v":'
contains fit-audit-band "$T/au/segments.json" '"groups": [
        "10",'
contains fit-audit-report "$T/au/report.html" "<h2>Bias audit</h2>"
# without --features every column but the id and the audited ones is clustered
expect 0 fit-audit-default -- "$BIN" fit "$MALL" --out "$T/au2" --k 3 --audit Genre
if grep -q '"Genre"' "$T/au2/model.json"; then bad "fit-audit-default: Genre is in the model"; else ok; fi
expect 2 fit-audit-feature -- "$BIN" fit "$MALL" --out "$T/au3" --k 3 --audit Genre --features Genre,Age
contains fit-audit-feature "$T/err" 'is audited, so it is kept out of the clustering'
# the id column is no group: refused (every id reached segments.json and the report)
expect 2 fit-audit-id -- "$BIN" fit "$MALL" --out "$T/au4" --k 3 --audit CustomerID
contains fit-audit-id "$T/err" 'custseg: --audit: "CustomerID" is the customers'"'"' id column'
expect 2 fit-audit-missing -- "$BIN" fit "$MALL" --out "$T/au3" --k 3 --audit Nope
expect 2 fit-audit-many -- "$BIN" fit "$MALL" --out "$T/au3" --k 3 --audit Age
contains fit-audit-many "$T/err" 'band them first'
[ ! -e "$T/au3" ] && ok || bad "fit-audit-many: left $T/au3 behind"
expect 2 run-audit -- "$BIN" run "$SRC/data/online_retail.csv.gz" --out "$T/au3" --audit Country
# --previous: segments keep the previous run's numbers and names, migration matrix
expect 0 fit-prev-a -- "$BIN" fit "$MALL" --out "$T/pa" --k 5
expect 0 fit-prev-b -- "$BIN" fit "$MALL" --out "$T/pb" --k 6 --seed 7 --previous "$T/pa"
contains fit-prev-b "$T/out" "Since the previous run: 200 customers in both, adjusted Rand index"
contains fit-prev-b-new "$T/out" " new"
contains fit-prev-json "$T/pb/segments.json" '"migration": ['
contains fit-prev-report "$T/pb/report.html" 'id="chart-migration"'
# k grew from 5 to 6: every previous segment continues with its number and name
seg_pairs() { tail -n +2 "$1" | awk -F, '{ print $(NF-2) "," $(NF-1) }' | sort -u; }
seg_pairs "$T/pa/customers.csv" >"$T/a"
seg_pairs "$T/pb/customers.csv" | head -5 >"$T/b"
[ "$(wc -l <"$T/a")" -eq 5 ] && ok || bad "fit-prev: $(wc -l <"$T/a") previous segments"
same fit-prev-names "$T/a" "$T/b"
# with a store, runs chain by themselves: the newest stored fit is the previous run
expect 0 fit-store-1 -- "$BIN" fit "$MALL" --out "$T/ps1" --k 5 --db "$T/chain.db"
if grep -q '"previous"' "$T/ps1/segments.json"; then bad "fit-store-1: a previous run in an empty store"; else ok; fi
expect 0 fit-store-2 -- "$BIN" fit "$MALL" --out "$T/ps2" --k 6 --seed 4 --db "$T/chain.db"
contains fit-store-2 "$T/err" "following run 1 of the store"
contains fit-store-2-json "$T/ps2/segments.json" '"migration": ['
seg_pairs "$T/ps1/customers.csv" >"$T/a"
seg_pairs "$T/ps2/customers.csv" | head -5 >"$T/b"
same fit-store-names "$T/a" "$T/b"
# a tampered previous customers.csv is a data error naming the file and line (it was a usage
# error, exit 2, naming neither)
mkdir -p "$T/ptamp" && cp "$T/pa/model.json" "$T/pa/segments.json" "$T/ptamp/"
awk -F, -v OFS=, -v c="$(head -1 "$T/pa/customers.csv" | tr , '\n' | grep -nx segment | cut -d: -f1)" \
    'NR == 3 { $c = 2.5 } { print }' "$T/pa/customers.csv" >"$T/ptamp/customers.csv"
expect 1 fit-prev-tampered -- "$BIN" fit "$MALL" --out "$T/pt2" --previous "$T/ptamp"
stderr_is fit-prev-tampered "custseg: $T/ptamp/customers.csv:3: segment is not a whole number from 1 to 256"
# nothing to go on (no customer in both, no feature in common): every segment is new, none
# "continues previous segment j (overlap 0.00)"; the index is "-", not 0.0000
expect 0 run-prev-unrelated -- "$BIN" run "$SMALL" --k 3 --previous "$T/pa" --out "$T/pu"
contains run-prev-unrelated "$T/out" "0 customers in both, adjusted Rand index -"
if grep -q "continues previous segment" "$T/out"; then bad "run-prev-unrelated: a segment continues"; else ok; fi
# a previous segment number without customers (its customers forgotten, or skipped) is no
# match for a new segment and did not vanish (it took a segment, named "Segment 3")
awk -F, -v OFS=, -v c="$(head -1 "$T/pa/customers.csv" | tr , '\n' | grep -nx segment | cut -d: -f1)" \
    'NR > 1 && $c == 3 { next } { print }' "$T/pa/customers.csv" >"$T/pgap.csv"
mkdir -p "$T/pgap" && cp "$T/pa/model.json" "$T/pa/segments.json" "$T/pgap/" && mv "$T/pgap.csv" "$T/pgap/customers.csv"
expect 0 fit-prev-gap -- "$BIN" fit "$MALL" --out "$T/pg2" --k 5 --previous "$T/pgap"
if grep -q "continues previous segment 3 \|(Segment 3)" "$T/out"; then bad "fit-prev-gap: $(grep "Segment 3\|segment 3 " "$T/out")"; else ok; fi
# DBSCAN's Outliers continue as Outliers, never as a cluster
expect 0 fit-prev-db1 -- "$BIN" fit "$MALL" --out "$T/pd1" --algo dbscan
expect 0 fit-prev-db2 -- "$BIN" fit "$MALL" --out "$T/pd2" --algo dbscan --eps 0.9 --previous "$T/pd1"
if grep -E "^ +[0-9]+ +Outliers +continues previous segment" "$T/out" >/dev/null; then ok; else bad "fit-prev-db2: Outliers do not continue: $(cat "$T/out")"; fi
expect 2 compare-prev -- "$BIN" compare "$MALL" --previous "$T/pa"
contains compare-prev "$T/err" "--previous is for run and fit"
expect 3 fit-prev-missing -- "$BIN" fit "$MALL" --out "$T/pc" --previous "$T/nowhere"
[ ! -e "$T/pc" ] && ok || bad "fit-prev-missing: left $T/pc behind"
# explain: reasons per customer (exact decomposition) and the segment's rules
contains fit-rules "$T/pa/segments.json" '"rules": {'
contains fit-rules-card "$T/pa/report.html" "<strong>Rules</strong>"
expect 0 explain -- "$BIN" explain "$T/pa/model.json" --customer 1 --customer 2
contains explain "$T/out" "Customer 1 is in segment"
contains explain-share "$T/out" "What puts them there (share of the decision):"
contains explain-rules "$T/out" "rules (a depth-3 tree on the features"
expect 0 explain-json -- "$BIN" explain "$T/pa/model.json" --customer 3 --format json
contains explain-json "$T/out" '"runner_up":'
# the id read as the file's ids are: " 3" and "3.0" are customer 3
expect 0 explain-id-as-read -- "$BIN" explain "$T/pa/model.json" --customer " 3.0"
contains explain-id-as-read "$T/out" "is in segment"
expect 1 explain-unknown -- "$BIN" explain "$T/pa/model.json" --customer nobody
contains explain-unknown "$T/err" 'no customer "nobody"'
expect 2 explain-no-customer -- "$BIN" explain "$T/pa/model.json"
# A hierarchical model: each customer is explained in the segment the tree cut gave them (their
# customers.csv segment), not the nearest centre's (single linkage on the mall customers puts
# 40 of 200 elsewhere than their nearest centre; explain named that segment, with its reasons)
expect 0 fit-single -- "$BIN" fit "$MALL" --algo single --k 4 --out "$T/sl" --quiet
ids=$(cut -d, -f1 "$T/sl/customers.csv" | tail -n +2 | tr '\n' ' ')
# shellcheck disable=SC2086
expect 0 explain-single -- "$BIN" explain "$T/sl/model.json" --format json $(printf -- '--customer %s ' $ids)
tr -d ' \n' <"$T/out" | grep -o '"customer_id":"[^"]*"[^}]*"segment":[0-9]*' |
    sed 's/"customer_id":"\([^"]*\)".*"segment":\([0-9]*\)$/\1,\2/' >"$T/sl_explained"
awk -F, -v c="$(head -1 "$T/sl/customers.csv" | tr , '\n' | grep -nx segment | cut -d: -f1)" \
    'NR > 1 { print $1 "," $c }' "$T/sl/customers.csv" >"$T/sl_segments"
if [ "$(wc -l <"$T/sl_explained")" -eq 200 ] && cmp -s "$T/sl_explained" "$T/sl_segments"; then ok; else
    bad "explain-single: segments differ from customers.csv: $(diff "$T/sl_explained" "$T/sl_segments" | head -3)"; fi
contains explain-single-nearest "$T/out" '"nearest_centre":'
expect 0 assign-explain -- "$BIN" assign "$T/pa/model.json" "$MALL" --explain
contains assign-explain "$T/out" "distance,reason_1,reason_2,reason_3"
expect 2 assign-explain-with -- "$BIN" assign "$T/m1/model.json" "$MALL" --explain --with svm
contains assign-explain-with "$T/err" "an SVM has no reasons here"
# reasons from a forest: TreeSHAP (the library checks them against Shapley values by definition)
expect 0 train-pa-forest -- "$BIN" train "$T/pa" --classifier forest --trees 10 --threads 1
expect 0 explain-forest -- "$BIN" explain "$T/pa/model.json" --customer 1 --with forest
contains explain-forest "$T/out" "(TreeSHAP, share of the rise)"
expect 1 explain-tree-none -- "$BIN" explain "$T/pa/model.json" --customer 1 --with tree
expect 0 assign-explain-forest -- "$BIN" assign "$T/pa/model.json" "$MALL" --explain --with forest
contains assign-explain-forest "$T/out" "reason_1,reason_2,reason_3"
expect 0 fit-dbscan-explain -- "$BIN" fit "$MALL" --out "$T/db" --algo dbscan
expect 1 assign-explain-dbscan -- "$BIN" assign "$T/db/model.json" "$MALL" --explain
contains assign-explain-dbscan "$T/err" "centres"
# a model as written before the reference was kept: the key taken out
awk 'BEGIN { skip = 0 } /^  "reference": \{/ { skip = 1 } skip && /^  \}/ { skip = 0; next } !skip { print }' "$T/m1/model.json" | sed -e ':a' -e 'N' -e '$!ba' -e 's/,\n}/\n}/' >"$T/old_model.json"
expect 1 drift-no-reference -- "$BIN" drift "$T/old_model.json" "$MALL"
contains drift-no-reference "$T/err" "keeps no training reference"
expect 0 fit-names -- "$BIN" fit "$MALL" --out "$T/m2" --k 2 --names "Big,Small" --features "Annual_Income(k\$),Spending_Score(1-100)"
contains fit-names "$T/m2/segments.json" '"name": "Big"'
expect 2 fit-names-count -- "$BIN" fit "$MALL" --out "$T/m3" --k 2 --names "One"
expect 0 fit-auto -- "$BIN" fit "$MALL" --out "$T/m4" --scale robust --log none --n-init 3
expect 2 k-range -- "$BIN" fit "$MALL" --k-min 6 --k-max 3 --out "$T/m5"
stderr_is k-range "custseg: --k-min (6) is larger than --k-max (3)
Try 'custseg fit --help'."
expect 2 fit-bad-feature -- "$BIN" fit "$MALL" --features Age,Nope --out "$T/m5"
# fitting an earlier output is refused before any work, and says why
expect 1 fit-own-output -- "$BIN" fit "$T/m1/customers.csv" --out "$T/m6"
contains fit-own-output "$T/err" "already has a column named segment"

# ---- bad input: one line, file:line:col, documented exit code, no output ----
expect 3 missing-file -- "$BIN" run /nonexistent/data.csv --out "$T/e1"
stderr_is missing-file "custseg: /nonexistent/data.csv: cannot open file: No such file or directory"
[ -e "$T/e1" ] && bad "missing-file: output folder created" || ok

: > "$T/empty.csv"
expect 1 empty-file -- "$BIN" run "$T/empty.csv" --out "$T/e2"
stderr_is empty-file "custseg: $T/empty.csv: file is empty"

printf 'InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID\n' > "$T/hdr.csv"
expect 1 header-only -- "$BIN" run "$T/hdr.csv" --out "$T/e3"
stderr_is header-only "custseg: $T/hdr.csv: no customer has a purchase left after cleaning (0 rows read)"

printf 'InvoiceNo,Quantity,InvoiceDate,UnitPrice\n1,2,2021-01-01,3\n' > "$T/nocust.csv"
expect 1 missing-column -- "$BIN" run "$T/nocust.csv" --out "$T/e4"
stderr_is missing-column "custseg: $T/nocust.csv:1: no customer id column in the header (such as CustomerID; name it with --customer)"
expect 1 missing-named-column -- "$BIN" run "$SMALL" --customer Client --out "$T/e4"
stderr_is missing-named-column "custseg: $SMALL:1: the customer column \"Client\" is not in the header"

printf 'InvoiceNo,Quantity,InvoiceDate,UnitPrice,CustomerID\n1,2,2021-01-01,3,7\n2,abc,2021-01-02,3,7\n' > "$T/qty.csv"
expect 1 bad-quantity -- "$BIN" run "$T/qty.csv" --out "$T/e5"
stderr_is bad-quantity "custseg: $T/qty.csv:3:3: expected a number in column \"Quantity\", got \"abc\""

printf 'InvoiceNo,Quantity,InvoiceDate,UnitPrice,CustomerID\n1,2,2021-01-01,3,7\n2,1,31/02/2021,3,7\n' > "$T/date.csv"
expect 1 bad-date -- "$BIN" run "$T/date.csv" --out "$T/e6"
stderr_is bad-date "custseg: $T/date.csv:3:5: expected a date in column \"InvoiceDate\", got \"31/02/2021\""
expect 1 bad-date-format -- "$BIN" run "$T/date.csv" --date-format "%d.%m.%Y" --out "$T/e6"
stderr_is bad-date-format "custseg: $T/date.csv:2:5: expected a date in the given --date-format in column \"InvoiceDate\", got \"2021-01-01\""

head -c 60000 "$RETAIL" > "$T/trunc.csv.gz"
expect 3 truncated-gz -- "$BIN" run "$T/trunc.csv.gz" --out "$T/e7"
stderr_is truncated-gz "custseg: $T/trunc.csv.gz: read error: compressed data is truncated"

printf '\177ELF\002\001\001\000\000\000\000\000\000\000\000\000\003\000>\000' > "$T/garbage.bin"
expect 1 binary -- "$BIN" run "$T/garbage.bin" --out "$T/e8"
stderr_is binary "custseg: $T/garbage.bin:1:8: binary data (NUL byte) in a text file"

head -c 52428800 /dev/zero | tr '\0' 'x' > "$T/longline.csv"
expect 1 long-line -- "$BIN" run "$T/longline.csv" --out "$T/e9"
stderr_is long-line "custseg: $T/longline.csv:1: record longer than 16777216 bytes (line too long, or an unclosed quote)"
rm -f "$T/longline.csv"

printf 'InvoiceNo,Quantity,InvoiceDate,UnitPrice,CustomerID\n1,2,2021-01-01,3,7\n2,1,2021-01-05,3,7\n' > "$T/one.csv"
expect 1 one-customer -- "$BIN" run "$T/one.csv" --out "$T/e10"
stderr_is one-customer "custseg: only 1 customer: choosing k needs at least 3 (give --k)"
expect 0 one-customer-k1 -- "$BIN" run "$T/one.csv" --k 1 --out "$T/e10"
expect 1 k-too-large -- "$BIN" run "$SMALL" --k 50 --out "$T/e11"
stderr_is k-too-large "custseg: k = 50 is larger than the number of customers (24)"
[ -e "$T/e11/customers.csv" ] && bad "k-too-large: output written" || ok

printf '{"format": "custseg-model", "version": 1, "source": ' > "$T/corrupt.json"
expect 1 corrupt-model -- "$BIN" assign "$T/corrupt.json" "$SMALL"
contains corrupt-model "$T/err" "custseg: $T/corrupt.json:1:"
sed 's/"version": 2/"version": 7/' "$T/o1/model.json" > "$T/v7.json"
expect 1 model-version -- "$BIN" assign "$T/v7.json" "$SMALL"
stderr_is model-version "custseg: $T/v7.json: model format version 7 is not supported (this custseg 0.1.0 reads versions 1..2)"
expect 1 assign-wrong-table -- "$BIN" assign "$T/m1/model.json" "$T/qty.csv"

# an output folder that cannot be made: I/O error, and nothing half-written
: > "$T/afile"
expect 3 unwritable-out -- "$BIN" run "$SMALL" --out "$T/afile/sub"
contains unwritable-out "$T/err" "cannot create output folder"


# ---- the other algorithms: fit, the saved model, assign, compare ----
MF='Age,Annual_Income(k$),Spending_Score(1-100)'
for a in ward complete average single gmm dbscan; do
    expect 0 "algo-$a" -- "$BIN" fit "$MALL" --features "$MF" --algo $a --out "$T/a_$a" --threads 1
    contains "algo-$a" "$T/a_$a/model.json" '"version": 2'
    expect 0 "algo-$a-assign" -- "$BIN" assign "$T/a_$a/model.json" "$MALL"
    # On the training table assign reproduces every segment and distance written: by the
    # model's rule, and for the training customers that rule puts elsewhere (hierarchical
    # models) by the training segments the model keeps (--keep-known, the default).
    cut -d, -f1,6-8 "$T/a_$a/customers.csv" > "$T/a"
    same "algo-$a-assign-labels" "$T/a" "$T/out"
    no_tmp_left "algo-$a" "$T/a_$a"
done
contains algo-ward "$T/a_ward/model.json" '"known_customers"'
expect 0 no-keep-known -- "$BIN" assign "$T/a_ward/model.json" "$MALL" --no-keep-known
cut -d, -f1,6-8 "$T/a_ward/customers.csv" > "$T/a"
if cmp -s "$T/a" "$T/out"; then bad "no-keep-known: the rule alone reproduced every ward label"; else ok; fi
contains algo-ward "$T/a_ward/model.json" '"algorithm": "hclust"'
contains algo-ward "$T/a_ward/dendrogram.csv" "id_a,id_b,height,size"
lines=$(($(wc -l < "$T/a_ward/dendrogram.csv") - 1))
[ "$lines" -eq 199 ] && ok || bad "dendrogram: $lines merges, expected 199"
contains algo-dbscan "$T/a_dbscan/customers.csv" ",Outliers,"
contains algo-gmm "$T/a_gmm/customers.csv" "p_segment_1"
expect 0 ward-height -- "$BIN" fit "$MALL" --features "$MF" --algo ward --height 8 --out "$T/a_h"
contains ward-height "$T/a_h/segments.json" '"rule": "tree cut at --height"'
expect 0 pca-step -- "$BIN" fit "$MALL" --features "$MF" --pca 2 --k 4 --out "$T/a_p"
contains pca-step "$T/a_p/model.json" '"n_components": 2'
expect 0 pca-assign -- "$BIN" assign "$T/a_p/model.json" "$MALL"
expect 0 pca-share -- "$BIN" fit "$MALL" --features "$MF" --pca 0.9 --k 4 --out "$T/a_p2"
expect 2 bad-algo -- "$BIN" fit "$MALL" --algo kmedoids
stderr_is bad-algo "custseg: --algo must be kmeans, ward, complete, average, single, dbscan or gmm, got 'kmedoids'
Try 'custseg fit --help'."
expect 2 height-needs-tree -- "$BIN" fit "$MALL" --height 3
stderr_is height-needs-tree "custseg: --height needs a hierarchical --algo (ward, complete, average or single)
Try 'custseg fit --help'."
expect 2 dbscan-no-k -- "$BIN" fit "$MALL" --algo dbscan --k 3
stderr_is dbscan-no-k "custseg: --algo dbscan finds the number of segments itself: drop --k (tune --eps and --min-samples)
Try 'custseg fit --help'."
expect 2 eps-needs-dbscan -- "$BIN" fit "$MALL" --eps 0.3
stderr_is eps-needs-dbscan "custseg: --eps and --min-samples are for --algo dbscan
Try 'custseg fit --help'."
expect 2 bad-pca -- "$BIN" fit "$MALL" --pca 1.5
stderr_is bad-pca "custseg: --pca must be a whole number of components >= 1 or a variance share between 0 and 1, got '1.5'
Try 'custseg fit --help'."
expect 2 bad-k-range -- "$BIN" fit "$MALL" --k 5..3
stderr_is bad-k-range "custseg: --k A..B needs whole numbers 2 <= A <= B <= 1000, got '5..3'
Try 'custseg fit --help'."
expect 2 algos-not-for-fit -- "$BIN" fit "$MALL" --algos kmeans
expect 1 dbscan-all-noise -- "$BIN" fit "$MALL" --features "$MF" --algo dbscan --eps 0.001 --out "$T/a_n"
contains dbscan-all-noise "$T/err" "every customer is an outlier"
[ -e "$T/a_n/model.json" ] && bad "dbscan-all-noise: wrote a model" || ok
expect 0 compare -- "$BIN" compare "$MALL" --features "$MF" --k 2..5 --bootstrap 3
contains compare "$T/out" "Recommended: "
contains compare "$T/out" "stability"
expect 0 compare-json -- "$BIN" compare "$MALL" --features "$MF" --algos kmeans,ward --k 3 --format json
contains compare-json "$T/out" '"recommended"'
expect 0 compare-log -- "$BIN" compare "$SMALL" --algos kmeans,gmm --k 2..3 --bootstrap 2
contains compare-log "$T/out" "kmeans"
expect 2 compare-bad-algos -- "$BIN" compare "$MALL" --algos kmeans,nope
stderr_is compare-bad-algos "custseg: --algos: unknown algorithm 'nope' (kmeans, ward, complete, average, single, dbscan, gmm)
Try 'custseg compare --help'."
expect 0 compare-subsample -- "$BIN" compare "$MALL" --features "$MF" --algos kmeans --k 2..3 --subsample 50
contains compare-subsample "$T/out" "50 of 200 customers (a uniform sample"
expect 2 subsample-not-for-fit -- "$BIN" fit "$MALL" --subsample 50
stderr_is subsample-not-for-fit "custseg: --algos, --bootstrap, --subsample and --format are options of custseg compare
Try 'custseg fit --help'."
# same seed, any thread count: the same segments
for a in ward gmm dbscan; do
    expect 0 "threads-$a" -- "$BIN" fit "$MALL" --features "$MF" --algo $a --threads 2 --out "$T/t_$a"
    cut -d, -f1,6,8 "$T/a_$a/customers.csv" > "$T/a"
    cut -d, -f1,6,8 "$T/t_$a/customers.csv" > "$T/b"
    same "threads-$a" "$T/a" "$T/b"
done

# ---- the bundled Online Retail data, end to end ----
if [ -r "$RETAIL" ]; then
    expect 0 retail -- "$BIN" run "$RETAIL" --out "$T/r1"
    lines=$(($(wc -l < "$T/r1/customers.csv") - 1))
    [ "$lines" -eq 4338 ] && ok || bad "retail: $lines customers, expected 4338"
    contains retail "$T/out" "135080 without customer id, 5225 exact duplicates"
    # money in cents: no binary tails, no -0 (issue 15.3)
    tails=$(awk -F, 'NR > 1 { for (j = 4; j <= 7; j += 1) if (j != 5 && ($j ~ /\.[0-9][0-9][0-9]/ || $j ~ /e/ || $j == "-0")) n++ } END { print n + 0 }' "$T/r1/customers.csv")
    [ "$tails" -eq 0 ] && ok || bad "retail: $tails money values with more than 2 decimals or -0"
    grep -q -- '>-0\.0<' "$T/r1/report.html" && bad "retail: -0.0 in the report" || ok
    expect 0 retail-assign -- "$BIN" assign "$T/r1/model.json" "$T/r1/customers.csv"
    # the same segments and the same distances, bit for bit (issue 16.12)
    cut -d, -f1,14,15,16 "$T/r1/customers.csv" > "$T/a"
    cut -d, -f1,2,3,4 "$T/out" > "$T/b"
    same retail-assign-labels "$T/a" "$T/b"
else
    echo "skipped: $RETAIL is absent"
fi

# ---- hostile input (issue 16) ----
printf 'id,X, X ,Y\n1,2,3,4\n5,6,7,8\n9,1,2,3\n' > "$T/dup.csv"
expect 1 duplicate-header -- "$BIN" fit "$T/dup.csv" --out "$T/h1"
stderr_is duplicate-header "custseg: $T/dup.csv:1:6: column name \"X\" appears twice in the header (columns 2 and 3)"
printf 'id,Country,n\n1,France,2\n2,Cura\347ao,3\n3,UK,4\n' > "$T/latin1.csv"
expect 1 not-utf8 -- "$BIN" fit "$T/latin1.csv" --out "$T/h2"
stderr_is not-utf8 "custseg: $T/latin1.csv:3:3: text in column \"Country\" is not valid UTF-8 (byte 0xE7); convert the file, e.g. iconv -f WINDOWS-1252 -t UTF-8"
[ -e "$T/h2" ] && bad "not-utf8: output folder created" || ok
expect 2 names-not-utf8 -- "$BIN" fit "$MALL" --k 2 --names "$(printf 'A\377,B')" --out "$T/h3"

printf 'InvoiceNo,Quantity,InvoiceDate,UnitPrice,CustomerID\n1,2,2021-01-01,3,7\n2,1e308,2021-01-02,10,8\n3,1,2021-01-03,3,9\n' > "$T/ovf.csv"
expect 1 overflow-product -- "$BIN" run "$T/ovf.csv" --out "$T/h4"
stderr_is overflow-product "custseg: $T/ovf.csv:3: quantity x price is beyond the range of numbers (1e+308 x 10)"
printf 'InvoiceNo,Quantity,InvoiceDate,UnitPrice,CustomerID\n1,2,2021-01-01,3,7\n2,1e309,2021-01-02,10,8\n' > "$T/inf.csv"
expect 1 overflow-number -- "$BIN" run "$T/inf.csv" --out "$T/h4"
stderr_is overflow-number "custseg: $T/inf.csv:3:3: number in column \"Quantity\" is beyond the range of numbers (about 1.8e308), got \"1e309\""
printf 'id,a,b\n1,1e308,1\n2,1.5e308,2\n3,1.7e308,5\n4,3,4\n' > "$T/big.csv"
expect 1 overflow-scale -- "$BIN" fit "$T/big.csv" --log none --k 2 --out "$T/h5"
contains overflow-scale "$T/err" "custseg: $T/big.csv: column \"a\": its values are too large to scale"
[ -e "$T/h5" ] && bad "overflow-scale: output folder created" || ok

# a summary that cannot be written is an I/O error (issue 16.9)
if [ -w /dev/full ]; then
    expect 3 stdout-full -- sh -c "exec \"$BIN\" run \"$SMALL\" --out \"$T/h6\" > /dev/full"
    contains stdout-full "$T/err" "custseg: cannot write to standard output"
fi
expect 2 out-empty -- "$BIN" run "$SMALL" --out ""
stderr_is out-empty "custseg: --out needs a folder name
Try 'custseg run --help'."
expect 3 model-is-folder -- "$BIN" assign "$T/o1" "$SMALL"
stderr_is model-is-folder "custseg: $T/o1: cannot read the model: it is a folder (give its model.json)"
printf 'a,b,seg\n1,2,4294967296\n3,4,1\n5,6,1\n' > "$T/lab.csv"
expect 1 label-too-large -- "$BIN" score "$T/lab.csv" --labels seg
stderr_is label-too-large "custseg: $T/lab.csv:2: label 4294967296 in column \"seg\" is too large (labels go up to 2147483647)"
# a denormal scale in a tampered model is refused (issue 16.6)
sed 's/"scale": [0-9][0-9.e+-]*/"scale": 1e-320/' "$T/o1/model.json" > "$T/denormal.json"
expect 1 model-denormal -- "$BIN" assign "$T/denormal.json" "$T/o1/customers.csv"
contains model-denormal "$T/err" "a scale that is a normal non-zero number"
# report on a folder whose customers.csv was cut short (issue 16.10)
mkdir -p "$T/cut" && cp "$T/m1/segments.json" "$T/m1/model.json" "$T/cut/"
head -44 "$T/m1/customers.csv" > "$T/cut/customers.csv"
expect 1 report-cut-short -- "$BIN" report "$T/cut"
stderr_is report-cut-short "custseg: $T/cut/customers.csv holds 43 customers but $T/cut/segments.json says 200: the folder does not hold one run's outputs (run again)"
# a value of a model's column that does not fit is named in customers.csv, line and column (the
# message named report.html, without a line)
mkdir -p "$T/badage" && cp "$T/m1/segments.json" "$T/m1/model.json" "$T/badage/"
awk -F, -v OFS=, -v c="$(head -1 "$T/m1/customers.csv" | tr , '\n' | grep -nx Age | cut -d: -f1)" \
    'NR == 3 { $c = "abc" } { print }' "$T/m1/customers.csv" >"$T/badage/customers.csv"
expect 1 report-bad-value -- "$BIN" report "$T/badage"
contains report-bad-value "$T/err" "badage/customers.csv:3:"
contains report-bad-value-what "$T/err" 'expected a number in column "Age", got "abc"'

# three distinct customers, 30 rows: compare's stability resamples may give a longer k table
# than the fit on all (they wrote past their labels: heap overflow, abort), and the k table
# ends at k = 3 without repeating it
printf 'id,a\n' >"$T/n3.csv"
for i in $(seq 1 30); do echo "$i,$((i % 3))" >>"$T/n3.csv"; done
expect 0 compare-stability-short -- "$BIN" compare "$T/n3.csv" --bootstrap 2 --algos kmeans,ward
# a candidate's stability does not depend on the k range asked for (a resample's table that
# ended early left the larger k unfitted: 0.071 for k = 17 with --k 2..18, 0.372 with 17..18)
for r in 17..18 2..18; do
    expect 0 "compare-stability-range-$r" -- "$BIN" compare "$SMALL" --algos kmeans --k "$r" --bootstrap 3
    grep '^  kmeans     17 ' "$T/out" | awk '{ print $10 }' >"$T/stab_$r"
done
same compare-stability-range "$T/stab_17..18" "$T/stab_2..18"
[ -s "$T/stab_17..18" ] && ok || bad "compare-stability-range: no k = 17 row"
expect 0 fit-three-distinct -- "$BIN" fit "$T/n3.csv" --out "$T/n3"
[ "$(grep -c '^   3 ' "$T/out")" -eq 1 ] && ok || bad "fit-three-distinct: the k = 3 row $(grep -c '^   3 ' "$T/out") times"
# the id column found by its name (no --id) is read as text ids from the start: "00001" stays
# (read as numbers it became 1), and --pseudonymize takes it (it refused: "only a text column")
printf 'customer_id,a,b\n00001,1,2\n00002,3,4\n00003,5,1\n00004,2,2\n00005,9,9\n00006,1,1\n' >"$T/zero_ids.csv"
expect 0 fit-zero-ids -- "$BIN" fit "$T/zero_ids.csv" --k 2 --out "$T/zi" --quiet
contains fit-zero-ids "$T/zi/customers.csv" "00001,1,2,"
head -c 32 /dev/urandom >"$T/key32"
expect 0 fit-pseudonymize-detected-id -- "$BIN" fit "$MALL" --pseudonymize "$T/key32" --out "$T/psd" --quiet
# a k range above the customers: said so, as for one k (k = 7 was chosen, outside the range)
printf 'id,a,b\n1,1,2\n2,3,4\n3,5,1\n4,2,2\n5,9,9\n6,1,1\n7,4,4\n8,8,1\n' >"$T/c8.csv"
expect 1 fit-k-range-above-n -- "$BIN" fit "$T/c8.csv" --k 10..12 --out "$T/c8o"
stderr_is fit-k-range-above-n "custseg: k from 10 to 12: 8 customers make at most 7 segments to choose among"
expect 1 compare-k-range-above-n -- "$BIN" compare "$T/c8.csv" --k 10..12
contains compare-k-range-above-n "$T/err" "k from 10 to 12: 8 customers make at most 7 segments"
# identical customers: one segment, said so once (issue 16.12)
printf 'id,a,b\n1,1,2\n2,1,2\n3,1,2\n4,1,2\n5,1,2\n' > "$T/same.csv"
expect 0 identical-rows -- "$BIN" fit "$T/same.csv" --out "$T/h7"
contains identical-rows "$T/out" "5 customers in 1 segment:"
[ "$(grep -c '^   1 ' "$T/out")" -eq 1 ] && ok || bad "identical-rows: k table repeats k = 1"

# a date column turned into categories by one impossible date is named
printf 'id,joined,spend\n1,2011-01-02,10\n2,2011-02-30,20\n3,2011-03-01,30\n4,2011-03-05,5\n' > "$T/baddate.csv"
expect 0 text-because -- "$BIN" fit "$T/baddate.csv" --k 2 --out "$T/h8"
stderr_is text-because "custseg: note: $T/baddate.csv: column \"joined\" is used as categories: its values were dates until \"2011-02-30\" on line 3"

printf 'InvoiceNo,Quantity,InvoiceDate,UnitPrice,CustomerID\n1,2,2011-01-01,3,7\n2,1,9999-12-31,3,8\n3,1,2011-01-03,3,9\n4,2,2011-01-05,1,10\n' > "$T/y9999.csv"
expect 0 date-span -- "$BIN" run "$T/y9999.csv" --k 2 --out "$T/h9"
contains date-span "$T/err" "the purchases span 7988 years (2011-01-01 .. 9999-12-31): check the date column"

printf 'a,b,seg\n1e308,2,1\n3,4,1\n5,6,2\n7,8,2\n' > "$T/s1.csv"
expect 1 score-huge -- "$BIN" score "$T/s1.csv" --labels seg
stderr_is score-huge "custseg: $T/s1.csv:2: feature \"a\" is too large to measure distances on (1e+308; at most 1e150 after scaling)"

# one revenue rule: the console, segments.json and the report agree (issue 15.4)
printf 'id,age,monetary\n1,20,100\n2,22,120\n3,60,5000\n4,65,4000\n5,21,90\n6,63,4500\n' > "$T/mon.csv"
expect 0 revenue-rule -- "$BIN" fit "$T/mon.csv" --k 2 --out "$T/h10"
contains revenue-rule "$T/out" "   97.8%"
contains revenue-rule "$T/h10/segments.json" '"revenue_share": 0.97755249818971757'
contains revenue-rule "$T/h10/report.html" "97.8% of revenue"
expect 2 revenue-missing -- "$BIN" fit "$T/mon.csv" --k 2 --revenue nope --out "$T/h11"

# the spend column names its window (issue 15.6), and assign of the log finds it again
expect 0 spend-window -- "$BIN" run "$SMALL" --spend-window 30 --features recency_days,spend_30d --k 2 --out "$T/h12"
head -1 "$T/h12/customers.csv" > "$T/hdr"
contains spend-window "$T/hdr" ",spend_30d,"
expect 0 spend-window-assign -- "$BIN" assign "$T/h12/model.json" "$SMALL"

# degenerate results are said, not hidden (issue 15.2)
expect 0 warn-split -- "$BIN" fit "$MALL" --algo gmm --out "$T/h13"
contains warn-split "$T/err" 'custseg: warning: the segments split exactly on the column "Genre"'
contains warn-split "$T/h13/segments.json" '"code": "categorical_split"'
contains warn-split "$T/h13/report.html" "Read this first"
if [ -r "$RETAIL" ]; then
    expect 0 warn-dbscan -- "$BIN" run "$RETAIL" --algo dbscan --out "$T/h14"
    contains warn-dbscan "$T/err" "holds 98.8% of the customers"
    contains warn-dbscan "$T/err" "the Outliers hold 29.1% of the revenue"
fi

# a hierarchical model says how often assign agrees with the tree cut (issue 15.5)
expect 0 agreement -- "$BIN" fit "$MALL" --features "$MF" --algo average --k 4 --out "$T/h15"
contains agreement "$T/err" "(it agrees on 95.0% of the training customers; see docs/algorithms.md); the model keeps their segments for assign while they are unchanged"

# customer attributes from the log (issue 15.6): a text column, profiled, usable as a feature
expect 0 attributes -- "$BIN" run "$SMALL" --attributes Country --features recency_days,frequency,monetary,Country --k 2 --out "$T/at"
contains attributes "$T/at/customers.csv" "rfm_code,Country,segment"
contains attributes "$T/at/model.json" '"attributes": ['
contains attributes "$T/at/segments.json" '"categories": {'
expect 0 attributes-assign -- "$BIN" assign "$T/at/model.json" "$SMALL"
cut -d, -f1,15-17 "$T/at/customers.csv" > "$T/a"
same attributes-assign "$T/a" "$T/out"
cut -d, -f1-7 "$SMALL" > "$T/nocountry.csv"
expect 1 attributes-missing -- "$BIN" assign "$T/at/model.json" "$T/nocountry.csv"
stderr_is attributes-missing "custseg: $T/nocountry.csv:1: the attribute column \"Country\" is not in the header"
expect 2 attributes-empty -- "$BIN" run "$SMALL" --attributes "Country,,X"
stderr_is attributes-empty "custseg: --attributes needs column names of 1..255 bytes, separated by commas
Try 'custseg run --help'."
expect 1 attributes-role -- "$BIN" run "$SMALL" --attributes Quantity
stderr_is attributes-role "custseg: $SMALL:1: column \"Quantity\" is the quantity column; it cannot be an attribute"

# score OUTDIR measures in the model's space: the silhouette the run wrote (issue 15.4)
expect 0 score-outdir -- "$BIN" score "$T/a_gmm" --format json
grep '"silhouette"' "$T/out" | tr -d ' ,' > "$T/a"
grep '"silhouette"' "$T/a_gmm/segments.json" | tail -1 | tr -d ' ,' > "$T/b"
same score-outdir-silhouette "$T/a" "$T/b"
contains score-outdir "$T/out" '"space": "model"'
expect 0 score-columns -- "$BIN" score "$T/a_gmm/customers.csv" --labels segment
contains score-columns "$T/out" "space              the columns as read (scaling: none)"

# --timings: where the time goes, stage by stage
expect 0 fit-timings -- "$BIN" fit "$MALL" --k 3 --out "$T/tm" --timings
contains fit-timings "$T/out" "fit and choose k"
contains fit-timings-write "$T/out" "write outputs and report"
# a log read in one pass: the features row says where its time is (it was a bare "-")
expect 0 run-timings -- "$BIN" run "$SMALL" --k 3 --out "$T/tmr" --timings --quiet
contains run-timings "$T/out" "(made as the log is read: in the line above)"
# score samples the silhouette above 20,000 rows and says so
awk 'BEGIN { srand(3); print "x,y,label"; for (i = 0; i < 20500; i++) printf "%.4f,%.4f,%d\n", rand() + i % 2, rand(), i % 2 }' > "$T/big.csv"
expect 0 score-sampled -- "$BIN" score "$T/big.csv" --labels label
contains score-sampled "$T/err" "silhouette on a sample of 20000 of the 20500 rows"
contains score-sampled-line "$T/out" "(sampled)"
expect 0 score-exact -- "$BIN" score "$T/big.csv" --labels label --sample 0
if grep -q "sampled" "$T/out"; then bad "score --sample 0 sampled"; else ok; fi

# ---- clv: lifetime value (docs/clv.md) ----
CDNOW=$SRC/data/cdnow_master.csv.gz
# a calibration frequency no customer has: "-" in the holdout table, null in JSON (0.0000)
expect 0 clv-empty-group -- "$BIN" clv "$SMALL" --calibration-end 2021-04-01 --out "$T/clvg"
contains clv-empty-group "$T/out" "  3                                 0          -          -"
expect 0 clv-empty-group-json -- "$BIN" clv "$SMALL" --calibration-end 2021-04-01 --out "$T/clvg" --format json
tr -d ' \n' <"$T/out" >"$T/clvg.json"
contains clv-empty-group-json "$T/clvg.json" '{"frequency":"3","customers":0,"actual":null,"predicted":null}'
# a calibration end after the last purchase, no holdout end given: said so (it blamed a
# holdout end the user never gave, as a usage error)
expect 1 clv-cal-after-data -- "$BIN" clv "$SMALL" --calibration-end 2030-01-01 --out "$T/clvx"
stderr_is clv-cal-after-data "custseg: $SMALL: --calibration-end is after the last purchase (2021-06-27): nothing is left to check the fit against"
expect 2 clv-cal-after-holdout -- "$BIN" clv "$SMALL" --calibration-end 2021-06-01 --holdout-end 2021-05-01 --out "$T/clvx"
# clv and rules: an input in --out under their output's name is refused and kept; a page
# that cannot be written leaves no clv.csv either
mkdir -p "$T/clvown"
printf 'customer_id,frequency,recency,T\n1,2,10,100\n2,0,0,50\n3,4,30,60\n' >"$T/clvown/clv.csv"
cp "$T/clvown/clv.csv" "$T/clvown_keep.csv"
expect 2 clv-out-holds-input -- "$BIN" clv "$T/clvown/clv.csv" --summary --out "$T/clvown"
contains clv-out-holds-input "$T/err" "would replace the input ($T/clvown/clv.csv) with its clv.csv"
same clv-out-holds-input-kept "$T/clvown_keep.csv" "$T/clvown/clv.csv"
expect 3 clv-page-fails -- "$BIN" clv "$T/clvown_keep.csv" --summary --out "$T/clvnew" --html "$T/no/such/folder/p.html"
if [ -z "$(ls -A "$T/clvnew" 2>/dev/null)" ]; then ok; else bad "clv-page-fails: left $(ls -A "$T/clvnew")"; fi
mkdir -p "$T/rulesown"
printf 'a,b\nb,c\na,b,c\n' >"$T/rulesown/rules.csv"
expect 2 rules-out-holds-input -- "$BIN" rules "$T/rulesown/rules.csv" --baskets --min-support 0.3 --out "$T/rulesown"
contains rules-out-holds-input "$T/err" "would replace the input ($T/rulesown/rules.csv) with its rules.csv"
if [ "$(cat "$T/rulesown/rules.csv")" = "$(printf 'a,b\nb,c\na,b,c')" ]; then ok; else bad "rules-out-holds-input: input changed"; fi
expect 0 clv-cdnow -- "$BIN" clv "$CDNOW" --calibration-end 1997-09-30 --unit weeks --out "$T/clv"
contains clv-cdnow "$T/out" "BG/NBD on 23500 customers: converged"
contains clv-cdnow-r "$T/out" "r          0.252737"
contains clv-cdnow-holdout "$T/out" "Holdout to 1998-06-30 (39 weeks)"
contains clv-cdnow-csv "$T/clv/clv.csv" "customer_id,frequency,recency,T,monetary_value,frequency_holdout,p_alive,expected_purchases,expected_order_value,clv"
no_tmp_left clv-cdnow "$T/clv"
# the written summary read back gives the same fit
expect 0 clv-html -- "$BIN" clv "$CDNOW" --calibration-end 1997-09-30 --unit weeks --out "$T/clv" --html "$T/clv/clv.html" --quiet
contains clv-html "$T/clv/clv.html" "Calibration and holdout"
expect 0 clv-summary -- "$BIN" clv "$T/clv/clv.csv" --summary --unit weeks --out "$T/clv2" --format json
contains clv-summary "$T/out" '"r": 0.2527'
contains clv-summary-status "$T/out" '"status": "converged"'
# the ids of a summary whose ids are numbers stay its ids (they were row numbers 1, 2, ...)
printf 'customer_id,frequency,recency,T\n101,2,5,10\n205,0,0,10\n17850.0,1,3,10\n' > "$T/s_ids.csv"
expect 0 clv-summary-ids -- "$BIN" clv "$T/s_ids.csv" --summary --out "$T/clv4" --quiet
cut -d, -f1 "$T/clv4/clv.csv" | tr '\n' ' ' >"$T/ids_seen"
contains clv-summary-ids "$T/ids_seen" "customer_id 101 205 17850 "
printf 'id,frequency,recency,T,monetary_value\n1,2,5,10,20\n2,1,12,10,5\n' > "$T/s_bad.csv"
expect 1 clv-recency-above-T -- "$BIN" clv "$T/s_bad.csv" --summary --out "$T/clv3"
stderr_is clv-recency-above-T "custseg: $T/s_bad.csv:3:4: recency 12 is larger than T 10"
printf 'id,frequency,recency,T\n1,2,-1,10\n' > "$T/s_neg.csv"
expect 1 clv-negative-recency -- "$BIN" clv "$T/s_neg.csv" --summary --out "$T/clv3"
stderr_is clv-negative-recency "custseg: $T/s_neg.csv:2:3: recency -1 is not a time >= 0"
printf 'id,frequency,recency,T,monetary_value\n1,1,2,10,abc\n' > "$T/s_text.csv"
expect 1 clv-text-column -- "$BIN" clv "$T/s_text.csv" --summary --out "$T/clv3"
stderr_is clv-text-column "custseg: $T/s_text.csv:2:10: expected a number in column \"monetary_value\", got \"abc\""
# a summary the fit refuses: the message names the file (it once named a stack leftover)
printf 'customer_id,frequency,recency,T\n1,0,0,10\n2,0,0,10\n' >"$T/s_zero.csv"
expect 1 clv-fit-fails -- "$BIN" clv "$T/s_zero.csv" --summary --out "$T/clv3"
contains clv-fit-fails "$T/err" "custseg: $T/s_zero.csv: "
# a negative or missing T is said as such (it was "recency 0 is larger than T -5", "... T nan")
printf 'id,frequency,recency,T\n1,2,10,100\n2,0,0,-5\n3,1,5,\n' >"$T/s_T.csv"
expect 1 clv-negative-T -- "$BIN" clv "$T/s_T.csv" --summary --out "$T/clv3"
stderr_is clv-negative-T "custseg: $T/s_T.csv:3:4: T -5 is not a time >= 0"
printf 'id,frequency,recency,T\n1,2,10,100\n3,1,5,\n' >"$T/s_T2.csv"
expect 1 clv-missing-T -- "$BIN" clv "$T/s_T2.csv" --summary --out "$T/clv3"
stderr_is clv-missing-T "custseg: $T/s_T2.csv:3:4: missing T"
printf 'id,frequency,recency,T,monetary_value\n1,0,0,10,0\n2,0,0,4,0\n' > "$T/s_zero.csv"
expect 1 clv-all-zero -- "$BIN" clv "$T/s_zero.csv" --summary --out "$T/clv3"
contains clv-all-zero "$T/err" "none of the 2 customers has a repeat purchase"
if [ -e "$T/clv3/clv.csv" ]; then bad "clv: a failed fit wrote clv.csv"; else ok; fi
expect 2 clv-as-of -- "$BIN" clv "$CDNOW" --as-of 1998-01-01
expect 2 clv-bad-unit -- "$BIN" clv "$CDNOW" --unit months
expect 2 run-unit-without-clv -- "$BIN" run "$SMALL" --unit weeks --out "$T/x"
# run --clv: the columns in customers.csv, the models in segments.json and model.json
expect 0 run-clv -- "$BIN" run "$RETAIL" --clv --k 4 --out "$T/rclv"
contains run-clv "$T/rclv/customers.csv" "btyd_frequency,btyd_recency,btyd_T,btyd_monetary_value,p_alive,expected_purchases,expected_order_value,clv"
contains run-clv-json "$T/rclv/segments.json" '"clv_mean"'
contains run-clv-model "$T/rclv/model.json" '"gamma_gamma"'
contains run-clv-holdout "$T/rclv/segments.json" '"calibration_end": "2011-09-06"'
# CLV as a clustering feature, and assign computes it with the saved fit
expect 0 run-clv-feature -- "$BIN" run "$RETAIL" --clv --features recency_days,frequency,clv --k 3 --out "$T/rclv2"
expect 0 assign-clv -- "$BIN" assign "$T/rclv2/model.json" "$RETAIL" --out "$T/rclv2_assign.csv"
# the same customers in the same segments (k-means: the saved rule is the fit's)
col_of() { head -1 "$1" | tr ',' '\n' | grep -nx "$2" | cut -d: -f1; }
cut -d, -f1,"$(col_of "$T/rclv2/customers.csv" segment)" "$T/rclv2/customers.csv" > "$T/a"
cut -d, -f1,"$(col_of "$T/rclv2_assign.csv" segment)" "$T/rclv2_assign.csv" > "$T/b"
same assign-clv-segments "$T/a" "$T/b"

# ---- rules: what each segment buys together (docs/rules.md) ----
printf 'milk,bread\nmilk,bread,eggs\nbread,eggs\nmilk,bread\nbeer,chips\nbeer,chips,milk\n' > "$T/b.csv"
expect 0 rules-baskets -- "$BIN" rules "$T/b.csv" --baskets --min-support 0.3 --min-confidence 0.6 --out "$T/rb"
contains rules-baskets "$T/out" "All customers: 6 baskets"
contains rules-baskets-rule "$T/out" "{beer} -> {chips}  support 0.3333  confidence 1.000  lift 3.00"
# an item with a comma is one item, in quotes ({a,b,c} read as three items)
printf '"a,b",c\n"a,b",c\n"a,b",c\nd\n' >"$T/b_comma.csv"
expect 0 rules-comma-item -- "$BIN" rules "$T/b_comma.csv" --baskets --min-support 0.5 --min-confidence 0.5 --out "$T/rbc"
contains rules-comma-item "$T/out" '{"a,b"} -> {c}'
contains rules-comma-item-csv "$T/rbc/rules.csv" '"{""a,b""}",{c}'
contains rules-baskets-csv "$T/rb/rules.csv" "group,group_name,antecedent,consequent,n_items,count,support,confidence,lift,leverage,conviction,lift_population,p_value"
contains rules-baskets-csv-row "$T/rb/rules.csv" '0,All customers,{beer},{chips},2,2,'
no_tmp_left rules-baskets "$T/rb"
# A -> B and B -> A have the same lift to the bit, so confidence decides between them
# ({a} -> {c} had come before {c} -> {a}, its lift one bit above)
printf 'a,b\na,b,c\na,c\nb,c\na,b\n' >"$T/b_tie.csv"
expect 0 rules-lift-tie -- "$BIN" rules "$T/b_tie.csv" --baskets --min-support 0.2 --min-confidence 0.1 --out "$T/rbt" --quiet
cut -d, -f3,4,9 "$T/rbt/rules.csv" | grep -n '^{[ac]},{[ac]},' >"$T/tie"
contains rules-lift-tie-order "$T/tie" "4:{c},{a},0.8333333333333334"
contains rules-lift-tie-same "$T/tie" "6:{a},{c},0.8333333333333334"
printf 'tea\ncaf\351,tea\n' >"$T/b_latin1.csv"
expect 1 rules-baskets-not-utf8 -- "$BIN" rules "$T/b_latin1.csv" --baskets --min-support 0.5 --out "$T/rbl"
stderr_is rules-baskets-not-utf8 "custseg: $T/b_latin1.csv:2: item 1 is not valid UTF-8 (byte 0xE9); convert the file, e.g. iconv -f WINDOWS-1252 -t UTF-8"
printf 'milk,bread\n , \nbread\n' > "$T/b_empty.csv"
expect 1 rules-empty-basket -- "$BIN" rules "$T/b_empty.csv" --baskets --out "$T/rb2"
stderr_is rules-empty-basket "custseg: $T/b_empty.csv:2:1: an empty basket (a line of blank items)"
if [ -e "$T/rb2/rules.csv" ]; then bad "rules: a failed run wrote rules.csv"; else ok; fi
expect 2 rules-bad-support -- "$BIN" rules "$T/b.csv" --baskets --min-support 0
expect 2 rules-by-baskets -- "$BIN" rules "$T/b.csv" --baskets --by "$T/a_gmm/customers.csv"
# an explosion is refused with an estimate, not an out-of-memory kill
awk 'BEGIN { for (l = 0; l < 4; l++) { s = "i0"; for (i = 1; i < 24; i++) s = s ",i" i; print s } }' > "$T/b_all.csv"
expect 1 rules-explosion -- "$BIN" rules "$T/b_all.csv" --baskets --max-itemsets 50000 --out "$T/rb3"
contains rules-explosion "$T/err" "more than 50000 frequent itemsets"
contains rules-explosion-hint "$T/err" "raise the minimum support or set a maximum length"
# per segment, from the invoices of the log and a run's customers.csv
expect 0 rules-by -- "$BIN" rules "$RETAIL" --by "$T/rclv/customers.csv" --min-support 0.02 --min-confidence 0.3 --top 5 --out "$T/rclv"
contains rules-by "$T/out" "All customers: 18532 baskets"
contains rules-by-names "$T/out" "{GREEN REGENCY TEACUP AND SAUCER, ROSES REGENCY TEACUP AND SAUCER} -> {PINK REGENCY TEACUP AND SAUCER}"
contains rules-by-lift-all "$T/out" "against all"
contains rules-by-report "$T/out" "Updated $T/rclv/report.html"
contains rules-by-report-section "$T/rclv/report.html" "What each segment buys together"
contains run-clv-report "$T/rclv/report.html" 'id="chart-palive"'
# custseg report OUTDIR keeps the section (it reads rules.csv beside the outputs)
expect 0 report-with-rules -- "$BIN" report "$T/rclv" --out "$T/rclv_report.html"
contains report-with-rules "$T/rclv_report.html" "What each segment buys together"
# rules of another run (rules.csv stays when run writes the folder again): a group named other
# than this run's segment is left out with a warning, not shown under the wrong segment
mkdir -p "$T/rstale" && cp "$T/rclv"/* "$T/rstale/"
awk -F, -v OFS=, 'NR > 1 && $1 == 1 { $2 = "Somebody Else" } { print }' "$T/rclv/rules.csv" >"$T/rstale/rules.csv"
expect 0 report-stale-rules -- "$BIN" report "$T/rstale" --out "$T/rstale_report.html"
contains report-stale-rules "$T/err" 'group 1 is "Somebody Else", but segment 1 is'
lacks report-stale-rules "$T/rstale_report.html" "What each segment buys together"
# a segment renamed in model.json, the report made again: the rules are still this run's
mkdir -p "$T/rrenamed" && cp "$T/rclv"/* "$T/rrenamed/"
awk '/"segments": \[/ { seg = 1 } seg && !done && /"name": "/ { sub(/"name": "[^"]*"/, "\"name\": \"VIP\""); done = 1 } { print }' \
    "$T/rclv/model.json" >"$T/rrenamed/model.json"
grep -q '"name": "VIP"' "$T/rrenamed/model.json" && ok || bad "report-renamed: no segment renamed"
expect 0 report-renamed -- "$BIN" report "$T/rrenamed" --out "$T/rrenamed_report.html"
lacks report-renamed "$T/err" "the rules are another run's"
contains report-renamed "$T/rrenamed_report.html" "What each segment buys together"
# --by of another log's run: said so (it ran silently, every segment without baskets)
expect 0 rules-by-other-log -- "$BIN" run "$SMALL" --k 3 --out "$T/rsm" --quiet
expect 0 rules-by-other-log -- "$BIN" rules "$RETAIL" --by "$T/rsm/customers.csv" --min-support 0.05 --out "$T/rsm2" --quiet
contains rules-by-other-log "$T/err" "none of the customers of $RETAIL is in $T/rsm/customers.csv"
# a customer in two segments of --by: refused naming both lines (the last row won, silently)
{ cat "$T/rsm/customers.csv"; sed -n 2p "$T/rsm/customers.csv" | awk -F, -v OFS=, '{ $(NF-2) = $(NF-2) % 3 + 1; print }'; } >"$T/by_twice.csv"
expect 1 rules-by-twice -- "$BIN" rules "$SMALL" --by "$T/by_twice.csv" --min-support 0.05 --out "$T/rsm3" --quiet
contains rules-by-twice "$T/err" "$T/by_twice.csv:26:1: customer \"$(sed -n 2p "$T/rsm/customers.csv" | cut -d, -f1)\" is in segment"
contains rules-by-twice "$T/err" "on line 2: one segment a customer"
expect 0 rules-codes -- "$BIN" rules "$RETAIL" --codes --min-support 0.02 --min-confidence 0.5 --out "$T/rc"
contains rules-codes "$T/out" "{22697, 22699} -> {22698}"

# ---- --max-memory: a step whose memory grows faster than n is refused before it runs ----
expect 1 max-memory-refused -- "$BIN" fit "$MALL" --algo average --max-memory 64K --out "$T/mm"
stderr_is max-memory-message "custseg: average linkage on 200 customers needs about 178 KiB, more than --max-memory (64 KiB); ward (micro-clusters above 20,000 customers unless --exact) and single linkage need O(n d) memory, or raise --max-memory"
if [ -e "$T/mm" ]; then bad "max-memory: output folder written"; else ok; fi
expect 0 max-memory-enough -- "$BIN" fit "$MALL" --algo average --max-memory 1M --out "$T/mm" --quiet
# Ward and single need O(n d): not refused, as the message itself says (they were)
expect 0 max-memory-ward -- "$BIN" fit "$MALL" --algo ward --k 3 --max-memory 1K --out "$T/mmw" --quiet
expect 0 max-memory-single -- "$BIN" fit "$MALL" --algo single --k 3 --max-memory 1K --out "$T/mms" --quiet
expect 0 max-memory-ward -- "$BIN" fit "$MALL" --algo ward --max-memory 64K --out "$T/mmw" --quiet
expect 2 max-memory-bad -- "$BIN" fit "$MALL" --max-memory 12X
contains max-memory-bad-message "$T/err" "custseg: --max-memory must be a size such as 8G, 512M or a number of bytes"
expect 2 max-memory-zero -- "$BIN" fit "$MALL" --max-memory 0
# --k-sample: k chosen on a sample of the customers, said on stderr and in segments.json
expect 0 k-sample -- "$BIN" fit "$MALL" --k-sample 100 --out "$T/ks"
contains k-sample-note "$T/err" "k chosen on a uniform sample of 100 of the 200 customers"
contains k-sample-json "$T/ks/segments.json" '"sample": 100'
expect 0 k-sample-off -- "$BIN" fit "$MALL" --k-sample 0 --out "$T/ks0" --quiet
# --progress: the progress line although stderr is a file here; --quiet silences it.
expect 0 progress-forced -- "$BIN" run "$SMALL" --out "$T/pg" --progress
contains progress-forced-line "$T/err" "custseg: kmeans, k = 2 (1 of 9)..."
contains progress-forced-prep "$T/err" "custseg: preprocessing 24 customers (step 2 of 2: transforming)..."
contains progress-forced-write "$T/err" "custseg: writing report.html..."
expect 0 progress-default -- "$BIN" run "$SMALL" --out "$T/pg"
if grep -q "kmeans, k = " "$T/err"; then bad "progress-default: a progress line in a file"; else ok; fi
expect 0 progress-quiet -- "$BIN" run "$SMALL" --out "$T/pg" --progress --quiet
if [ -s "$T/err" ]; then bad "progress-quiet: stderr was '$(head -c 200 "$T/err")'"; else ok; fi
if grep -q '"sample"' "$T/ks0/segments.json"; then bad "k-sample 0 sampled"; else ok; fi

# ---- the restart with huge pages and sleeping OpenMP threads (docs/cli.md, "Memory on huge
# pages", "Threads on a busy machine") ----
# Same outputs with and without; a variable that names a setting leaves it to the user; where
# it applies (THP available, not an AddressSanitizer build), at most one restart, with
# glibc.malloc.hugetlb=1 added to what was there and OMP_WAIT_POLICY=passive.
expect 0 thp-off -- env GLIBC_TUNABLES=glibc.malloc.hugetlb=0 OMP_WAIT_POLICY=active "$BIN" run "$SMALL" --out "$T/thp0"
expect 0 thp-default -- "$BIN" run "$SMALL" --out "$T/thp1"
same thp-same-customers "$T/thp0/customers.csv" "$T/thp1/customers.csv"
same thp-same-model "$T/thp0/model.json" "$T/thp1/model.json"
if command -v strace >/dev/null 2>&1 && ! ldd "$BIN" 2>/dev/null | grep -q libasan &&
    grep -qE '\[(always|madvise)\]' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null; then
    execs() { # NAME STRACE-FILE COUNT
        if [ "$(grep -c 'execve(' "$2")" = "$3" ]; then ok; else bad "$1: $(grep -c 'execve(' "$2") execs, not $3"; fi
    }
    GLIBC_TUNABLES=glibc.malloc.hugetlb=0 OMP_WAIT_POLICY=active strace -f -e trace=execve -o "$T/st0" "$BIN" run "$SMALL" --out "$T/thp0" >/dev/null 2>&1
    execs thp-both-given "$T/st0" 1
    GLIBC_TUNABLES=glibc.malloc.hugetlb=0 GOMP_SPINCOUNT=1000 strace -f -e trace=execve -o "$T/st3" "$BIN" run "$SMALL" --out "$T/thp0" >/dev/null 2>&1
    execs thp-spincount-given "$T/st3" 1
    GLIBC_TUNABLES=glibc.mem.tagging=0 strace -f -v -s 300 -e trace=execve -o "$T/st1" "$BIN" run "$SMALL" --out "$T/thp1" >/dev/null 2>&1
    execs thp-restart "$T/st1" 2
    contains thp-restart-env "$T/st1" '"GLIBC_TUNABLES=glibc.mem.tagging=0:glibc.malloc.hugetlb=1"'
    contains thp-restart-omp "$T/st1" '"OMP_WAIT_POLICY=passive"'
    GLIBC_TUNABLES=glibc.malloc.hugetlb=0 strace -f -v -s 300 -e trace=execve -o "$T/st4" "$BIN" run "$SMALL" --out "$T/thp1" >/dev/null 2>&1
    execs omp-restart "$T/st4" 2
    contains omp-restart-env "$T/st4" '"OMP_WAIT_POLICY=passive"'
    if grep -q 'glibc.malloc.hugetlb=1' "$T/st4"; then bad "omp-restart: hugetlb=0 overridden"; else ok; fi
    strace -f -e trace=execve -o "$T/st2" "$BIN" --version >/dev/null 2>&1
    execs thp-version "$T/st2" 1
else
    echo "skipped: the restart's exec count (no strace, an AddressSanitizer build or no huge pages)"
fi

# ---- '.' or '-' as the delimiter past the first 1,024 rows (the parallel parser's number
# scan read "5.4" as one number, and "--5" as -5: a valid file was refused) ----
awk 'BEGIN { print "id.x.y"; for (i = 0; i < 3000; i++) printf "c%d.%d.%d\n", i, i % 7, i % 11 }' >"$T/dot.csv"
expect 0 delimiter-dot -- "$BIN" fit "$T/dot.csv" --delimiter . --k 2 --out "$T/dot" --quiet
awk 'BEGIN { print "id-x-y"; for (i = 0; i < 3000; i++) printf "c%d-%s-%d\n", i, i == 2000 ? "" : i % 7, i % 11 }' >"$T/dash.csv"
expect 0 delimiter-dash -- "$BIN" fit "$T/dash.csv" --delimiter - --k 2 --out "$T/dash" --quiet

# ---- --features naming the id column or a column twice: refused (the id is read as text, so
# such a model could not read its own training data back; twice was a bare "invalid argument") ----
expect 2 features-id -- "$BIN" fit "$MALL" --features CustomerID --out "$T/fid"
stderr_is features-id "custseg: --features: \"CustomerID\" is the customer id column, which is never a feature
Try 'custseg fit --help'."
expect 2 features-twice -- "$BIN" fit "$MALL" --features Age,Age --out "$T/ftw"
contains features-twice "$T/err" '"Age" is named twice'
expect 2 compare-features-twice -- "$BIN" compare "$MALL" --features Age,Age

# ---- values a check cannot refuse up front get a reason, not a bare "invalid argument" ----
expect 1 dbscan-eps-huge -- "$BIN" fit "$MALL" --algo dbscan --eps 1e300 --out "$T/epsh"
stderr_is dbscan-eps-huge "custseg: dbscan: eps is too large (eps 1e+300)"
expect 0 compare-k-large -- "$BIN" compare "$MALL" --k 300 --bootstrap 0
contains compare-k-large "$T/err" "ward skipped: k = 300: the tree of 200 customers cannot be cut"

# ---- a category column without a single value in new data: every indicator 0, on both
# assign routes alike (the whole-table route refused it) and in drift ----
expect 0 genre-fit -- "$BIN" fit "$MALL" --k 3 --out "$T/gm" --quiet
printf 'CustomerID,Genre,Age,Annual_Income(k$),Spending_Score(1-100)\n901,,23,80,90\n902,,,40,10\n' >"$T/nogenre.csv"
expect 0 genre-empty-stdout -- "$BIN" assign "$T/gm/model.json" "$T/nogenre.csv"
cp "$T/out" "$T/nogenre_stdout.csv"
expect 0 genre-empty-out -- "$BIN" assign "$T/gm/model.json" "$T/nogenre.csv" --out "$T/nogenre_out.csv"
same genre-empty-routes "$T/nogenre_stdout.csv" "$T/nogenre_out.csv"
"$BIN" drift "$T/gm/model.json" "$T/nogenre.csv" >"$T/out" 2>"$T/err"
rc=$?
{ [ $rc -eq 0 ] || [ $rc -eq 4 ]; } && grep -q "^  Genre " "$T/out" && ok ||
    bad "genre-empty-drift: exit $rc: $(cat "$T/err")"

# A category column whose new values all look like numbers ("1", "2") is still categories:
# assign to stdout, drift and explain read it as the streamed assign does (they refused it:
# 'column "Genre" must hold text categories'); unseen levels, so drift alerts
printf 'CustomerID,Genre,Age,Annual_Income(k$),Spending_Score(1-100)\n901,1,23,80,90\n902,2,40,40,10\n' >"$T/numgenre.csv"
expect 0 genre-numbers-stdout -- "$BIN" assign "$T/gm/model.json" "$T/numgenre.csv"
cp "$T/out" "$T/numgenre_stdout.csv"
expect 0 genre-numbers-out -- "$BIN" assign "$T/gm/model.json" "$T/numgenre.csv" --out "$T/numgenre_out.csv"
same genre-numbers-routes "$T/numgenre_stdout.csv" "$T/numgenre_out.csv"
expect 4 genre-numbers-drift -- "$BIN" drift "$T/gm/model.json" "$T/numgenre.csv"
expect 0 genre-numbers-explain -- "$BIN" explain "$T/gm/model.json" --customer 901 --file "$T/numgenre.csv"

# ---- a lone CR inside a quoted field ends a line as it does outside one (the line count
# was one short after it) ----
printf 'InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID\r1,a,1,2011-01-01,5,1\r2,"a\rbc",2,2011-01-01,5,1\r3,a,x,2011-01-01,5,1\r' >"$T/lonecr.csv"
expect 1 lone-cr-line -- "$BIN" run "$T/lonecr.csv" --k 1 --out "$T/lonecr"
contains lone-cr-line "$T/err" "lonecr.csv:5:5: expected a number"

# ---- a pipe or a FIFO as the input: refused at once (the readers open their input more
# than once; a FIFO's second open waited for ever), a redirected file read ----
cat "$SMALL" | "$BIN" run /dev/stdin --out "$T/pipe" >"$T/out" 2>"$T/err"
[ $? -eq 3 ] && ok || bad "pipe: exit not 3"
stderr_is pipe "custseg: /dev/stdin: not a file but a pipe or a device, which custseg cannot read more than once: save it to a file first"
[ -e "$T/pipe" ] && bad "pipe: outputs written" || ok
if mkfifo "$T/fifo" 2>/dev/null; then
    expect 3 fifo -- timeout 20 "$BIN" fit "$T/fifo" --out "$T/fifo_out"
    contains fifo "$T/err" "not a file but a pipe or a device"
    rm -f "$T/fifo"
fi
expect 0 stdin-file -- "$BIN" run /dev/stdin --out "$T/stdin_file" --quiet <"$SMALL"

# ---- money rounded by its decimal value; huge money an error, not a missing value ----
printf 'InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID\n1,A,1,2024-01-01,313.255,1\n2,A,1,2024-01-01,1.005,2\n3,A,1,2024-01-01,1.015,3\n4,A,3,2024-01-01,0.335,4\n5,A,1,2024-01-01,0.0049999,5\n6,A,1,2024-01-01,1000000.005,6\n7,A,1,2024-01-01,276557090.525,7\n' >"$T/halves.csv"
expect 0 money-halves -- "$BIN" run "$T/halves.csv" --k 1 --out "$T/halves" --quiet
if [ "$(cut -d, -f1,4,6 "$T/halves/customers.csv" | tr '\n' ' ')" = "customer_id,monetary,avg_order_value 1,313.26,313.26 2,1.01,1.01 3,1.02,1.02 4,1.01,1.01 5,0,0 6,1000000.01,1000000.01 7,276557090.53,276557090.53 " ]; then ok; else bad "money-halves: $(cut -d, -f1,4,6 "$T/halves/customers.csv" | tr '\n' ' ')"; fi
printf 'InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID\n1,A,1,2024-01-01,1e307,1\n2,A,1,2024-01-02,5,2\n3,A,1,2024-01-03,6,3\n4,A,1,2024-01-03,7,4\n' >"$T/huge.csv"
expect 1 money-huge -- "$BIN" run "$T/huge.csv" --k 2 --out "$T/huge"
stderr_is money-huge "custseg: $T/huge.csv: column \"monetary\": its values are too large to scale (sums beyond the range of numbers); use a log transform or smaller units"
[ -e "$T/huge" ] && bad "money-huge: outputs written" || ok
expect 1 money-huge-assign -- "$BIN" assign "$T/o1/model.json" "$T/huge.csv" --out "$T/huge_as.csv"
contains money-huge-assign "$T/err" "beyond the range of numbers"
# ---- a fixed k the customers cannot fill: a warning, also in segments.json ----
printf 'InvoiceNo,Quantity,InvoiceDate,UnitPrice,CustomerID\n1,1,2024-01-01,5,1\n2,1,2024-01-01,5,2\n3,1,2024-01-01,5,3\n4,1,2024-01-01,5,4\n5,2,2024-01-01,5,5\n' >"$T/two_kinds.csv"
expect 0 fewer-segments -- "$BIN" run "$T/two_kinds.csv" --k 3 --out "$T/fewer"
contains fewer-segments "$T/err" "custseg: warning: k = 3 was asked for, but the customers form only 2 segments (fewer distinct customers than k)"
contains fewer-segments-json "$T/fewer/segments.json" '"code": "fewer_segments"'
expect 0 fewer-segments-quiet -- "$BIN" run "$T/two_kinds.csv" --k 3 --out "$T/fewer_q" --quiet
contains fewer-segments-quiet "$T/err" "custseg: warning: k = 3 was asked for"
# names for the k asked for, when the customers form fewer segments: a data error (exit 1),
# not a usage one, and nothing written
expect 1 fewer-segments-names -- "$BIN" run "$T/two_kinds.csv" --k 3 --names A,B,C --out "$T/fewer_n"
stderr_is fewer-segments-names "custseg: k = 3 was asked for, but the customers form only 2 segments (fewer distinct customers than k), so the 3 names of --names cannot be given to them; leave out --names or ask for k = 2"
if [ -e "$T/fewer_n" ]; then bad "fewer-segments-names: $T/fewer_n written"; else ok; fi
# ---- values whose squared distances overflow: a clear error for every algorithm, no garbage labels ----
printf 'CustomerID,h\n1,1e300\n2,2e300\n3,5e300\n4,9e300\n5,3e300\n6,7e300\n' >"$T/huge6.csv"
for a in kmeans gmm ward; do
    expect 1 "too-large-$a" -- "$BIN" fit "$T/huge6.csv" --scale none --algo $a --k 2 --out "$T/huge6_$a"
    stderr_is "too-large-$a" "custseg: $T/huge6.csv:2: feature \"h\" is too large to cluster (1e+300 after the preprocessing; at most 1e150, beyond which squared distances overflow): use a log transform (--log all) or standard scaling"
done
# ---- a revenue column with a missing value: segments still ordered by revenue, shares given ----
printf 'CustomerID,x,revenue\n1,0,10\n2,0.1,\n3,0.2,12\n4,10,100\n5,10.1,90\n6,10.2,110\n' >"$T/rev_missing.csv"
expect 0 revenue-missing -- "$BIN" fit "$T/rev_missing.csv" --k 2 --out "$T/rev_missing"
lacks revenue-missing-shares "$T/rev_missing/segments.json" '"revenue_share": null'
if [ "$(sed -n 2p "$T/rev_missing/customers.csv" | cut -d, -f1,4)" = "1,2" ] && [ "$(sed -n 5p "$T/rev_missing/customers.csv" | cut -d, -f1,4)" = "4,1" ]; then ok; else bad "revenue-missing: order $(cut -d, -f1,4 "$T/rev_missing/customers.csv" | tr '\n' ' ')"; fi
# ---- an id on two rows: a warning; the others' kept segments still reproduced by assign ----
sed 's/^19,/1,/' "$MALL" >"$T/dup_ids.csv"
expect 0 duplicate-ids -- "$BIN" fit "$T/dup_ids.csv" --algo ward --k 5 --out "$T/dup_ids"
contains duplicate-ids "$T/err" 'custseg: warning: 1 customer id of column "CustomerID" is on more than one row (the first on line 2)'
# the warning in segments.json names a line, not the id (the files hold no customer's id)
lacks duplicate-ids-no-id "$T/dup_ids/segments.json" '("1", for one)'
contains duplicate-ids-json "$T/dup_ids/segments.json" 'more than one row (the first on line 2)'
expect 0 duplicate-ids-assign -- "$BIN" assign "$T/dup_ids/model.json" "$T/dup_ids/customers.csv" --out "$T/dup_ids_as.csv"
cut -d, -f1 "$T/dup_ids/customers.csv" >"$T/dup_ids.id"
n_seg=$(head -1 "$T/dup_ids/customers.csv" | tr ',' '\n' | grep -n '^segment$' | cut -d: -f1)
cut -d, -f"$n_seg" "$T/dup_ids/customers.csv" >"$T/dup_ids.fit"
a_seg=$(head -1 "$T/dup_ids_as.csv" | tr ',' '\n' | grep -n '^segment$' | cut -d: -f1)
cut -d, -f"$a_seg" "$T/dup_ids_as.csv" >"$T/dup_ids.as"
differ=$(paste -d, "$T/dup_ids.id" "$T/dup_ids.fit" "$T/dup_ids.as" | awk -F, 'NR > 1 && $1 != 1 && $2 != $3' | wc -l)
[ "$differ" -eq 0 ] && ok || bad "duplicate-ids: $differ customers with their own id assigned another segment"
# ---- k chosen on a sample: segments.json's model scores are the final fit's on every customer ----
awk 'BEGIN { srand(3); print "CustomerID,a,b"; for (i = 0; i < 3000; i++) { c = i % 3; printf "%d,%.4f,%.4f\n", i, c * 3 + rand(), c * 2 + rand() } }' >"$T/ksample.csv"
expect 0 k-sample-scores -- "$BIN" fit "$T/ksample.csv" --k-sample 500 --k 2..5 --out "$T/ksample"
json_ch=$(awk '/"model"/ { m = 1 } m && /"calinski_harabasz"/ { gsub(/[^0-9.]/, "", $2); print $2; exit }' "$T/ksample/segments.json")
expect 0 k-sample-score -- "$BIN" score "$T/ksample"
score_ch=$(awk '$1 == "calinski_harabasz" { print $2 }' "$T/out")
awk -v a="$json_ch" -v b="$score_ch" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a > 0 && d <= 1e-6 * b) }' && ok || bad "k-sample-scores: segments.json calinski_harabasz $json_ch, score $score_ch"
# ---- DBSCAN with min-samples above the customers: says so, not "cannot suggest eps" ----
printf 'id,a,b\n1,1,2\n2,3,4\n3,5,1\n' >"$T/three.csv"
expect 2 dbscan-min-samples -- "$BIN" fit "$T/three.csv" --algo dbscan --out "$T/three"
contains dbscan-min-samples "$T/err" "custseg: --min-samples 4 is more than the 3 customers: no group can be dense"
# ---- a column that a whole segment misses: "-" in the report's heatmap, not "nan" ----
awk 'BEGIN { srand(5); print "CustomerID,x,q"; for (i = 0; i < 40; i++) printf "%d,%.4f,%s\n", i, (i < 20 ? 0 : 10) + rand(), (i < 20 ? "" : i) }' >"$T/segmiss.csv"
expect 0 report-missing-column -- "$BIN" fit "$T/segmiss.csv" --k 2 --features x --out "$T/segmiss"
lacks report-missing-column "$T/segmiss/report.html" '>nan<'
lacks report-missing-column-title "$T/segmiss/report.html" 'mean nan'
contains report-missing-column-says "$T/segmiss/report.html" 'no values in this segment'
# ---- report: segments.json that is not one (1-based places, or none); a customer's value
# too far outside the model's range named by its line in customers.csv ----
cp -r "$T/m1" "$T/rep_bad"
expect 2 report-out-is-input -- "$BIN" report "$T/rep_bad" --out "$T/rep_bad/customers.csv"
contains report-out-is-input "$T/err" "is the customers ($T/rep_bad/customers.csv): it would be replaced"
same report-out-is-input-kept "$T/m1/customers.csv" "$T/rep_bad/customers.csv"
: >"$T/rep_bad/segments.json"
expect 1 report-empty-segments -- "$BIN" report "$T/rep_bad"
stderr_is report-empty-segments "custseg: $T/rep_bad/segments.json:1: '[' or '{' expected near end of file"
echo '[]' >"$T/rep_bad/segments.json"
expect 1 report-array-segments -- "$BIN" report "$T/rep_bad"
stderr_is report-array-segments "custseg: $T/rep_bad/segments.json:1: not the segments.json of run or fit (an object was expected)"
cp "$T/m1/segments.json" "$T/rep_bad/segments.json"
awk -F, 'BEGIN { OFS = "," } NR == 2 { $3 = "1e200" } { print }' "$T/m1/customers.csv" >"$T/rep_bad/customers.csv"
expect 1 report-huge-value -- "$BIN" report "$T/rep_bad"
stderr_is report-huge-value "custseg: $T/rep_bad/customers.csv:2: column \"Age\": the value is too far outside the model's training range to draw"

# ---- a rule's threshold is the split's, not rounded to 4 digits (it read "x > 1.235e+05"
# for a split at 123469.5, false for the customer it explained) ----
awk 'BEGIN { print "id,x,y"; for (i = 0; i < 100; i++) print i + 1 "," 123400 + (i < 50 ? i : i + 40) "," (i * 37) % 11 }' >"$T/bigx.csv"
expect 0 rule-threshold-fit -- "$BIN" fit "$T/bigx.csv" --k 2 --out "$T/bigx" --quiet
expect 0 rule-threshold -- "$BIN" explain "$T/bigx/model.json" --customer 51
contains rule-threshold "$T/out" "x > 123469.5 (precision 100%, recall 100%)"
lacks rule-threshold-rounded "$T/out" "e+05"

# ---- the console summary stays valid UTF-8: long names and headings cut between characters ----
printf 'CustomerID,\346\224\266\345\205\245\346\224\266\345\205\245\346\224\266\345\205\245\346\224\266\345\205\245\346\224\266\345\205\245,b\n1,1,2\n2,3,4\n3,5,1\n4,2,2\n' >"$T/wide.csv"
expect 0 utf8-summary -- "$BIN" fit "$T/wide.csv" --k 2 --out "$T/wide" --quiet
if iconv -f UTF-8 -t UTF-8 "$T/out" >/dev/null 2>&1; then ok; else bad "utf8-summary: stdout is not valid UTF-8"; fi
long=$(printf 'A%.0s' 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47)
expect 0 utf8-names -- "$BIN" fit "$MALL" --k 2 --names "$long$(printf '\303\202%.0s' 1 2 3 4 5 6 7 8 9 10),B" --out "$T/wide_names" --quiet
if iconv -f UTF-8 -t UTF-8 "$T/out" >/dev/null 2>&1; then ok; else bad "utf8-names: stdout is not valid UTF-8"; fi
# ---- an id on 256 and 258 rows (a count that once wrapped at 256): one id, named ----
for reps in 256 258; do
    awk -v r=$reps 'BEGIN { srand(3); print "CustomerID,x,y"; for (i = 0; i < r; i++) printf "7,%.3f,%.3f\n", rand(), rand(); for (i = 0; i < 20; i++) printf "%d,%.3f,%.3f\n", 100 + i, rand() + 5, rand() }' >"$T/dup$reps.csv"
    expect 0 "duplicate-ids-$reps" -- "$BIN" fit "$T/dup$reps.csv" --k 2 --out "$T/dup$reps"
    contains "duplicate-ids-$reps" "$T/err" 'custseg: warning: 1 customer id of column "CustomerID" is on more than one row (the first on line 2)'
done
# ---- a database's infinite number: an error, as in a file (not an incomplete row) ----
if command -v sqlite3 >/dev/null 2>&1; then
    sqlite3 "$T/inf.db" "create table t (InvoiceNo TEXT, Quantity INTEGER, InvoiceDate TEXT, UnitPrice REAL, CustomerID TEXT); insert into t values ('1',1,'2024-01-01',5,'1'),('2',1,'2024-01-02',9e999,'2'),('3',1,'2024-01-03',6,'3');"
    expect 1 sqlite-inf -- "$BIN" run "sqlite:$T/inf.db" --table t --k 1 --out "$T/inf_out"
    stderr_is sqlite-inf "custseg: t: row 2: column \"UnitPrice\" holds an infinity, not a number custseg reads"
fi

# ---- valgrind-clean on a small run ----
if command -v valgrind >/dev/null 2>&1 && [ -z "${CSEG_NO_VALGRIND:-}" ]; then
    expect 0 valgrind -- valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
        "$BIN" run "$SMALL" --out "$T/v1" --threads 1 --k 3 --n-init 2
else
    echo "skipped: valgrind not installed (or CSEG_NO_VALGRIND set)"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
