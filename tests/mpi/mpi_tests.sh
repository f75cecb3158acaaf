#!/bin/sh
# custseg under mpirun (a build with -DCSEG_MPI=ON): `run` on 1, 2, 3 and 4
# processes writes the same files, byte for byte, as one process without
# mpirun, on the bundled Online Retail log (.gz and plain, with options) and
# on a generated log and on a log too small to reach every process; so does
# `fit` (its table read by every process) on a generated customer table,
# with personal data, with a column turned text late in the file, and on
# the mall customers; a bad row (of a log or of a table), a quoted field
# across lines, a file missing on one rank and a killed rank stop every
# process with one message and no outputs, never a hang.
# usage: mpi_tests.sh CUSTSEG SOURCE_DIR [quick]
# quick (the sanitizer build, several times slower): fewer process counts
# and options on the bundled log; every other check the same.
set -eu
B=$1
SRC=$2
QUICK=${3:-}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
# The ranks after 0 print nothing (their stderr is /dev/null): sanitizer
# reports go to files, checked at the end.
if [ "$QUICK" = quick ]; then
    export ASAN_OPTIONS="${ASAN_OPTIONS:-}:log_path=$T/sanitizer"
    export UBSAN_OPTIONS="${UBSAN_OPTIONS:-}:log_path=$T/sanitizer"
fi
# The machine may be one user's root account and have fewer cores than ranks.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
# A rank's process must not spin for messages on a shared core.
export OMPI_MCA_mpi_yield_when_idle=1
OUTS="customers.csv segments.json model.json report.html"
fails=0
fail() {
    echo "FAIL: $*"
    fails=$((fails + 1))
}
ok() {
    echo "ok: $*"
}
# mpirun with a guard against a hang: TERM after 300 s, KILL 10 s later (once, after a rank
# was killed, mpirun itself hung with every custseg process gone, and ignored the TERM).
mrun() {
    timeout -k 10 300 mpirun "$@"
}
# kill_mid_job WHAT RANK DELAY PATTERN OUT MPIRUN-ARGS...: mpirun in the background; rank
# RANK's process (its command line matching PATTERN) killed with SIGKILL DELAY seconds after
# it appears; the job must end with a non-zero status, before the hang guard, writing no OUT.
kill_mid_job() {
    what=$1 rank=$2 delay=$3 pattern=$4 out=$5
    shift 5
    mrun "$@" > /dev/null 2>&1 &
    job=$!
    victim=""
    for _ in $(seq 1 100); do
        for p in $(pgrep -f "$pattern" || true); do
            if tr '\0' '\n' < "/proc/$p/environ" 2> /dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$rank"; then
                victim=$p
            fi
        done
        [ -n "$victim" ] && break
        sleep 0.05
    done
    st=0
    if [ -z "$victim" ]; then
        wait $job || true
        fail "$what: could not find rank $rank's process"
        return
    fi
    sleep "$delay"
    kill -9 "$victim" 2> /dev/null || true
    t0=$(date +%s)
    wait $job || st=$?
    [ $(($(date +%s) - t0)) -lt 290 ] || st=124 # mpirun hung until the guard
    if [ $st -ne 0 ] && [ $st -ne 124 ] && [ ! -e "$out" ]; then
        ok "$what: the job ended (exit $st), no outputs"
    else
        fail "$what: exit $st (124: hung), outputs: $(ls "$out" 2> /dev/null | tr '\n' ' ')"
    fi
}
same_outputs() { # DIR_A DIR_B WHAT
    for f in $OUTS; do
        if ! cmp -s "$1/$f" "$2/$f"; then
            fail "$3: $f differs from the one-process run"
            return
        fi
    done
    ok "$3: the same files as one process"
}

# 1. The bundled log, compressed and plain, with and without options.
gunzip -c "$SRC/data/online_retail.csv.gz" > "$T/retail.csv"
counts="1 2 3 4"
options="(defaults) --attributes,Country,--as-of,2011-09-01,--keep-duplicates,--spend-window,30"
if [ "$QUICK" = quick ]; then
    counts="1 3"
    options="--attributes,Country,--as-of,2011-09-01,--keep-duplicates,--spend-window,30"
fi
for input in "$SRC/data/online_retail.csv.gz" "$T/retail.csv"; do
    for o in $options; do
        opts=$(echo "$o" | sed 's/^(defaults)$//; s/,/ /g')
        rm -rf "$T/one" "$T/mpi"
        # shellcheck disable=SC2086
        "$B" run "$input" --out "$T/one" --quiet $opts > /dev/null
        for n in $counts; do
            # shellcheck disable=SC2086
            if mrun -n $n "$B" run "$input" --out "$T/mpi$n" --quiet $opts > /dev/null; then
                same_outputs "$T/one" "$T/mpi$n" "$(basename "$input") ${opts:-(defaults)}, $n processes"
            else
                fail "$(basename "$input") $opts: mpirun -n $n exited $?"
            fi
            rm -rf "$T/mpi$n"
        done
    done
done

# 2. A generated log: many customers, orders split by other orders' lines,
# invoices shared between customers, exact duplicates far apart, returns,
# rows without a customer, ids written "123.0" and quoted descriptions with
# commas; and customers with one row at each end of the log, at the same
# time but from two countries, whose attribute only the rows' order decides
# (a log put back together in the wrong order gives them the other one).
# awk's generator is seeded: the same file for every run below.
awk -v seed=11 'BEGIN {
    srand(seed);
    print "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country";
    split("United Kingdom,France,Germany,EIRE,Spain", ctry, ",");
    for (t = 0; t < 10; t++)
        printf "490%03d,1,TIE,1,2011-06-15 10:00:00,1.00,%d,Norway\n", t, 9000 + t;
    for (i = 0; i < 120000; i++) {
        c = 10000 + int(rand() * 6000);
        inv = 500000 + int(i / 3);
        if (rand() < 0.02) inv = 500000 + int(rand() * (i / 3 + 1)); # shared, earlier invoice
        q = 1 + int(rand() * 12);
        pre = "";
        if (rand() < 0.03) { pre = "C"; q = -q; }
        d = 1 + int(rand() * 28); m = 1 + int(rand() * 12);
        id = c;
        r = rand();
        if (r < 0.05) id = "";
        else if (r < 0.10) id = c ".0";
        line = sprintf("%s%d,%d,\"ITEM %d, \"\"BOXED\"\"\",%d,2011-%02d-%02d %02d:%02d:00,%.2f,%s,%s",
                       pre, inv, 20000 + int(rand() * 900), int(rand() * 900), q, m, d,
                       8 + int(rand() * 10), int(rand() * 60), 0.5 + int(rand() * 2000) / 100,
                       id, ctry[1 + int(rand() * 5)]);
        print line;
        if (rand() < 0.01) dup[ndup++] = line;
        if (i % 5000 == 4999) for (k = 0; k < ndup; k++) print dup[k]; # duplicates, later
        if (i % 5000 == 4999) ndup = 0;
    }
    for (t = 0; t < 10; t++)
        printf "490%03d,2,TIE,1,2011-06-15 10:00:00,1.00,%d,Sweden\n", t, 9000 + t;
}' > "$T/gen.csv"
rm -rf "$T/one"
"$B" run "$T/gen.csv" --out "$T/one" --quiet --attributes Country > /dev/null
for n in 2 3 4; do
    if mrun -n $n "$B" run "$T/gen.csv" --out "$T/mpi$n" --quiet --attributes Country > /dev/null; then
        same_outputs "$T/one" "$T/mpi$n" "generated log, $n processes"
    else
        fail "generated log: mpirun -n $n exited $?"
    fi
done

# 2a. More customers than a span (65,536; here 71,237): the customers stay in parts, each process its
# block of them in id order (numeric ids, then the others), and are segmented there; the
# one-process files at 2, 3 and 4 processes. The same log with another algorithm (its
# customers gathered on the first process) gives the one-process files too.
awk -v seed=3 'BEGIN {
    srand(seed);
    print "InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID,Country";
    split("France,Spain,Germany,,Norway,Italy", ctry, ",");
    for (i = 0; i < 75000; i++) {
        id = rand() < 0.01 ? sprintf("X%d", int(rand() * 50000)) : 10000 + int(rand() * 900000);
        n = 1 + int(rand() * 3); g = int(rand() * 4); c = ctry[1 + int(rand() * 6)];
        for (v = 0; v < n; v++) {
            d = 1 + int(rand() * (g == 0 ? 60 : 360)); r = rand() < 0.03; q = 1 + int(rand() * 12);
            printf "%s%d%d,P%d,%d,2011-%02d-%02d 10:%02d,%.2f,%s,%s\n", r ? "C" : "", i, v,
                   int(rand() * 40), r ? -q : q, 1 + int((d - 1) / 30), 1 + (d - 1) % 28, v,
                   1 + rand() * (g == 3 ? 90 : 15), id, c;
        }
    }
}' > "$T/many.csv"
rm -rf "$T/one"
"$B" run "$T/many.csv" --out "$T/one" --quiet --attributes Country > /dev/null
for n in 2 3 4; do
    [ "$QUICK" = quick ] && [ $n != 3 ] && continue
    if mrun -n $n "$B" run "$T/many.csv" --out "$T/mpi$n" --quiet --verbose --attributes Country \
        > /dev/null 2> "$T/many.err"; then
        if grep -q "^custseg: $n processes segment the customers in parts" "$T/many.err"; then
            same_outputs "$T/one" "$T/mpi$n" "a log of more than 65,536 customers, in parts, $n processes"
        else
            fail "a log of more than 65,536 customers, $n processes: not in parts; $(head -2 "$T/many.err")"
        fi
    else
        fail "a log of more than 65,536 customers: mpirun -n $n exited $?"
    fi
    rm -rf "$T/mpi$n"
done
if [ "$QUICK" != quick ]; then # a mixture of 70,000 customers under the sanitizers: minutes
    rm -rf "$T/one"
    "$B" run "$T/many.csv" --out "$T/one" --quiet --algo gmm --k 3 > /dev/null
    if mrun -n 3 "$B" run "$T/many.csv" --out "$T/mpi3" --quiet --algo gmm --k 3 > /dev/null 2>&1; then
        same_outputs "$T/one" "$T/mpi3" "a log of more than 65,536 customers, gathered (gmm), 3 processes"
    else
        fail "a log of more than 65,536 customers, gmm: mpirun -n 3 exited $?"
    fi
fi
rm -rf "$T/mpi3" "$T/many.csv"

# 2b. Exact duplicates too far apart for the duplicate window (a million
# rows of a process's lines): the process that meets them reads its lines
# a second time with every row kept, the others take part in the rounds
# again; the result is still the one-process result.
if [ "$QUICK" != quick ]; then
    (cat "$T/retail.csv"
     for k in 2 3 4 5 6 7 8; do
         awk -F, -v OFS=, -v k=$k 'NR > 1 { $1 = "X" k $1; print }' "$T/retail.csv"
     done
     awk 'NR > 1 && NR <= 3001' "$T/retail.csv") > "$T/far.csv"
    rm -rf "$T/one"
    "$B" run "$T/far.csv" --out "$T/one" --quiet > /dev/null
    if mrun -n 2 "$B" run "$T/far.csv" --out "$T/far2" --quiet --verbose > /dev/null 2> "$T/far.err"; then
        grep -q 'read twice' "$T/far.err" || fail "far duplicates: no process read its lines twice"
        same_outputs "$T/one" "$T/far2" "duplicates a window apart, 2 processes (read twice)"
    else
        fail "far duplicates: mpirun -n 2 exited $?"
    fi
    rm -rf "$T/far.csv" "$T/far2"
fi

# 3. A bad row in the middle of the last rank's range: every process stops
# with the one-process message (file, line, column) and exit status 1, and
# nothing is written.
awk 'NR == 480000 { $0 = "577230,23301,PAD,abc,2011-11-18 12:08:00,1.65,18034.0,United Kingdom" } { print }' \
    "$T/retail.csv" > "$T/bad.csv"
"$B" run "$T/bad.csv" --out "$T/bad_one" > /dev/null 2> "$T/one.err" && fail "bad row: one process succeeded"
for n in 2 4; do
    st=0
    mrun -n $n "$B" run "$T/bad.csv" --out "$T/bad_mpi" > /dev/null 2> "$T/mpi.err" || st=$?
    msg=$(grep '^custseg:' "$T/mpi.err" || true)
    if [ $st -eq 1 ] && [ "$msg" = "$(cat "$T/one.err")" ] && [ ! -e "$T/bad_mpi" ]; then
        ok "bad row at line 480000, $n processes: exit 1, the same message, no outputs"
    else
        fail "bad row, $n processes: exit $st, message '$msg', expected '$(cat "$T/one.err")'"
    fi
done
grep -q ':480000:' "$T/one.err" || fail "bad row: the message does not name line 480000"

# 3b. The first failure of the log wins, as for one process: a bad row before a line the
# processes cannot take (an odd quote; the lines before it were not sent), and a bad row
# before the point where a truncated .gz stops (its read error came first).
awk 'NR == 100 { $0 = "536380,22961,JAM JAR,abc,2010-12-01 09:41:00,1.45,17809.0,United Kingdom" }
     NR == 200 { $0 = "536390,22941,\"ODD QUOTE,6,2010-12-01 10:19:00,8.50,17511.0,United Kingdom" }
     { print }' "$T/retail.csv" > "$T/first.csv"
awk 'NR == 100 { $0 = "536380,22961,JAM JAR,abc,2010-12-01 09:41:00,1.45,17809.0,United Kingdom" }
     { print }' "$T/retail.csv" | gzip -1 | head -c 4000000 > "$T/first_trunc.csv.gz"
for f in first.csv first_trunc.csv.gz; do
    "$B" run "$T/$f" --out "$T/first_one" > /dev/null 2> "$T/one.err" && fail "$f: one process succeeded"
    st=0
    mrun -n 2 "$B" run "$T/$f" --out "$T/first_mpi" > /dev/null 2> "$T/mpi.err" || st=$?
    msg=$(grep '^custseg:' "$T/mpi.err" | head -1 || true)
    if [ $st -eq 1 ] && [ "$msg" = "$(cat "$T/one.err")" ] && grep -q ':100:22:' "$T/one.err"; then
        ok "$f: the bad row at line 100 reported by 2 processes as by one"
    else
        fail "$f, 2 processes: exit $st, '$msg', expected '$(cat "$T/one.err")'"
    fi
done

# 4. The file missing on one rank (each rank given its own path): every
# process stops, exit 3, the message names the file, no outputs.
st=0
mrun -n 1 "$B" run "$T/retail.csv" --out "$T/miss" : -n 1 "$B" run "$T/absent.csv" \
    --out "$T/miss" > /dev/null 2> "$T/miss.err" || st=$?
if [ $st -eq 3 ] && grep -q '^custseg: .*absent.csv: cannot open' "$T/miss.err" && [ ! -e "$T/miss" ]; then
    ok "file missing on rank 1: exit 3, named, no outputs"
else
    fail "file missing on rank 1: exit $st; $(head -1 "$T/miss.err")"
fi

# 5. A rank killed mid-run: mpirun ends the job, no hang, no outputs.
for k in 1 2 3 4 5 6; do cat "$T/retail.csv"; done | awk 'NR == 1 || !/^InvoiceNo/' > "$T/big.csv"
kill_mid_job "rank 2 killed" 2 0.3 "custseg run $T/big.csv" "$T/killed" \
    -n 3 "$B" run "$T/big.csv" --out "$T/killed"

# 6. fit: the table read by every process (each its byte range); a k-means segmentation
# keeps it there, in parts, and every process segments its own (the files written by the
# first); other segmentations gather it on the first process, the others taking part in
# its k-means fits.
# A generated table of 100,000 customers (two spans of rows, so that the
# fits are split between processes), with a category and missing values:
# k given, and k chosen on a sample then fitted on all; the bundled mall
# customers (one span: the other processes get no rows); a mixture model
# (not distributed: rank 0 alone). Then a failure and a command not
# distributed yet.
awk -v seed=5 'BEGIN {
    srand(seed);
    print "customer_id,spend,visits,basket,tenure,channel";
    split("web,store,app", ch, ",");
    for (i = 0; i < 100000; i++) {
        c = int(rand() * 4);
        printf "C%06d,%.2f,%d,", i, 50 + 400 * c + 120 * rand(), 1 + int(10 * c * rand());
        if (rand() < 0.01) printf ","; else printf "%.3f,", 10 * rand() + 5 * c;
        printf "%d,%s\n", int(365 * rand()), ch[1 + int(3 * rand())];
    }
}' > "$T/cust.csv"
fcounts="1 2 3 4"
[ "$QUICK" = quick ] && fcounts="3"
# --verbose: the first process says the table is segmented in parts, and how it was read,
# only when there are other processes.
for o in "--k,4" "--k-sample,10000,--k-max,5" "--pca,2,--k,3,--audit,channel"; do
    opts=$(echo "$o" | sed 's/,/ /g')
    rm -rf "$T/fone"
    # shellcheck disable=SC2086
    "$B" fit "$T/cust.csv" --out "$T/fone" --quiet $opts > /dev/null
    for n in $fcounts; do
        st=0
        # shellcheck disable=SC2086
        mrun -n $n "$B" fit "$T/cust.csv" --out "$T/fmpi" --quiet --verbose $opts > /dev/null 2> "$T/fit.err" || st=$?
        if [ $st -eq 0 ]; then
            same_outputs "$T/fone" "$T/fmpi" "fit, 100,000 customers, $opts, $n processes"
            line=$(grep -c "^custseg: $n processes segment the table in parts, each its own rows\|^custseg: $n processes read the table and keep their parts, 100000 rows" "$T/fit.err" || true)
            if [ "$line" = "$([ "$n" -gt 1 ] && echo 2 || echo 0)" ]; then
                ok "fit $opts --verbose, $n processes: segmented in parts ($line lines)"
            else
                fail "fit $opts --verbose, $n processes: $line lines on the parts; $(grep processes "$T/fit.err")"
            fi
        else
            fail "fit $opts, $n processes: exit $st; $(head -1 "$T/fit.err")"
        fi
        rm -rf "$T/fmpi"
    done
done
# Following a previous run (not segmented in parts: the table is gathered on the first
# process, the others take part in its k-means fits), the candidates of one k table share their rows:
# k in 2..3 chosen on all 100,000 customers (two fits) sends the rows once, as one fit with
# k given does; the files are the one-process ones.
rows_sent() {
    sed -n 's/.* rows sent \([0-9.]*\) MB.*/\1/p' "$1"
}
rm -rf "$T/fone"
"$B" fit "$T/cust.csv" --out "$T/fprev" --quiet --k 3 > /dev/null
"$B" fit "$T/cust.csv" --out "$T/fone" --quiet --previous "$T/fprev" --k 4 > /dev/null
mrun -n 2 "$B" fit "$T/cust.csv" --out "$T/fmpi" --quiet --verbose --previous "$T/fprev" --k 4 > /dev/null 2> "$T/fit1.err" || true
same_outputs "$T/fone" "$T/fmpi" "fit --previous --k 4, 2 processes (gathered)"
mrun -n 2 "$B" fit "$T/cust.csv" --out "$T/fmpi" --quiet --verbose --previous "$T/fprev" --k-sample 0 --k-max 3 > /dev/null 2> "$T/fit2.err" || true
one=$(rows_sent "$T/fit1.err")
two=$(rows_sent "$T/fit2.err")
if [ -n "$one" ] && [ "$one" = "$two" ] && grep -q ": 2 fits," "$T/fit2.err"; then
    ok "fit, k in 2..3 on all customers, 2 processes: two fits, the rows sent once ($two MB)"
else
    fail "fit, k in 2..3 on all customers: rows sent ${two:-?} MB, one fit sends ${one:-?} MB; $(grep k-means "$T/fit2.err")"
fi
rm -rf "$T/fmpi"
for o in "(defaults)" "--algo,gmm,--k,4"; do
    opts=$(echo "$o" | sed 's/^(defaults)$//; s/,/ /g')
    rm -rf "$T/fone" "$T/fmpi"
    # shellcheck disable=SC2086
    "$B" fit "$SRC/data/mall_customers.csv" --out "$T/fone" --quiet $opts > /dev/null
    st=0
    # shellcheck disable=SC2086
    mrun -n 3 "$B" fit "$SRC/data/mall_customers.csv" --out "$T/fmpi" $opts > /dev/null 2> "$T/fit.err" || st=$?
    if [ $st -eq 0 ]; then
        same_outputs "$T/fone" "$T/fmpi" "fit mall_customers.csv ${opts:-(defaults)}, 3 processes"
        # an algorithm that is not spread says so (k-means, the default, does not)
        said=$(grep -c "^custseg: note: gmm is not spread over the processes: it runs on the first process alone" "$T/fit.err" || true)
        if [ "$said" = "$([ -n "$opts" ] && echo 1 || echo 0)" ]; then
            ok "fit mall_customers.csv ${opts:-(defaults)}, 3 processes: $said note that the algorithm runs on the first process alone"
        else
            fail "fit mall_customers.csv ${opts:-(defaults)}, 3 processes: $said notes; $(head -3 "$T/fit.err")"
        fi
    else
        fail "fit mall_customers.csv $opts, 3 processes: exit $st; $(head -1 "$T/fit.err")"
    fi
done
st=0
mrun -n 2 "$B" fit "$T/absent.csv" --out "$T/fbad" > /dev/null 2> "$T/fit.err" || st=$?
st1=0
"$B" fit "$T/absent.csv" --out "$T/fbad" > /dev/null 2> "$T/fit1.err" || st1=$?
if [ $st -ne 0 ] && [ $st -eq $st1 ] && [ "$(head -1 "$T/fit.err")" = "$(head -1 "$T/fit1.err")" ] &&
    [ ! -e "$T/fbad" ]; then
    ok "fit of a missing file under mpirun -n 2: exit $st and the one-process message"
else
    fail "fit of a missing file under mpirun -n 2: exit $st (one process: $st1); $(head -1 "$T/fit.err")"
fi

# The table read by every process: with an e-mail column (left out, the file read again
# without it), with "visits" turned text by a value on line 80,000 (the last process's part
# at -n 4: every process reads again), and with a short row on line 90,001 (the last
# process's part): the one-process files, notes and message, exit status. (`tab`: the
# loop of same_outputs is over `f`.)
awk 'NR == 1 { print $0 ",email"; next } { print $0 ",u" NR "@example.com" }' "$T/cust.csv" > "$T/pii.csv"
awk -F, -v OFS=, 'NR == 80000 { $3 = "many" } { print }' "$T/cust.csv" > "$T/late.csv"
awk 'NR == 90001 { print "C999999,1,2"; next } { print }' "$T/cust.csv" > "$T/short.csv"
for tab in pii late short; do
    for n in $fcounts; do
        [ "$n" = 1 ] && continue
        rm -rf "$T/fone" "$T/fmpi"
        st1=0
        "$B" fit "$T/$tab.csv" --k 3 --features spend,visits,tenure,channel --out "$T/fone" \
            > /dev/null 2> "$T/fit1.err" || st1=$?
        st=0
        mrun -n $n "$B" fit "$T/$tab.csv" --k 3 --features spend,visits,tenure,channel \
            --out "$T/fmpi" --verbose > /dev/null 2> "$T/fit.err" || st=$?
        # the one-process lines, in order, before mpirun's own words on a failure
        grep '^custseg: ' "$T/fit.err" | grep -v '^custseg: k-means on\|processes read the table\|segment the table in parts' > "$T/fit.mine" || true
        read=$(grep -c "^custseg: $n processes read the table and keep their parts, 100000 rows" "$T/fit.err" || true)
        if [ $st -ne $st1 ] || ! cmp -s "$T/fit1.err" "$T/fit.mine"; then
            fail "fit $tab.csv, $n processes: exit $st (one process $st1); $(diff "$T/fit1.err" "$T/fit.mine" | head -3)"
        elif [ $st -ne 0 ]; then
            if [ ! -e "$T/fmpi" ] && grep -q "short.csv:90001: expected 6 fields as in the header, found 3" "$T/fit1.err"; then
                ok "fit $tab.csv, $n processes: exit $st, the one-process message, no outputs"
            else
                fail "fit $tab.csv, $n processes: exit $st; $(head -1 "$T/fit1.err")"
            fi
        elif [ "$read" -ge 1 ] && { [ $tab != pii ] || grep -q 'column "email" looks like e-mail' "$T/fit1.err"; } &&
            { [ $tab != late ] || grep -q 'numbers until "many" on line 80000' "$T/fit1.err"; }; then
            same_outputs "$T/fone" "$T/fmpi" "fit $tab.csv, read by $n processes"
        else
            fail "fit $tab.csv, $n processes: $read account lines of the reading; $(head -2 "$T/fit.err")"
        fi
    done
done

# Segmented in parts: --pseudonymize with a key only the first process can read (its standard
# input) gives the one-process files (the key is read there and shared; a process that
# could not read it waited for ever before); --timings keeps its stages; --progress its steps.
head -c 32 /dev/urandom > "$T/key"
rm -rf "$T/fone" "$T/fmpi"
"$B" fit "$T/cust.csv" --k 3 --pseudonymize /dev/stdin --out "$T/fone" --quiet < "$T/key" > /dev/null
st=0
timeout -k 5 120 mpirun --oversubscribe --bind-to none -n 2 "$B" fit "$T/cust.csv" --k 3 \
    --pseudonymize /dev/stdin --out "$T/fmpi" --quiet < "$T/key" > /dev/null 2> "$T/fit.err" || st=$?
if [ $st -eq 0 ]; then
    same_outputs "$T/fone" "$T/fmpi" "fit --pseudonymize with the key on standard input, 2 processes"
else
    fail "fit --pseudonymize /dev/stdin, 2 processes: exit $st; $(head -1 "$T/fit.err")"
fi
rm -rf "$T/fmpi"
mrun -n 2 "$B" fit "$T/cust.csv" --k 3 --timings --progress --out "$T/fmpi" > "$T/fit.out" 2> "$T/fit.err" || true
if grep -q '^  fit and choose k  *[0-9.]* s' "$T/fit.out" && grep -q '^  preprocess (and PCA)  *[0-9.]* s' "$T/fit.out" &&
    grep -q 'writing report.html' "$T/fit.err"; then
    ok "fit --timings --progress in parts, 2 processes: the stages and the steps"
else
    fail "fit --timings --progress in parts: $(grep -c . "$T/fit.err") progress lines; $(grep 'fit and choose' "$T/fit.out")"
fi
rm -rf "$T/fmpi"

# A rank killed in the middle of a fit (k chosen on all 100,000 customers: several seconds
# of fits): mpirun ends the job, no hang, no outputs.
kill_mid_job "fit, rank 1 killed" 1 1 "custseg fit $T/cust.csv" "$T/fkilled" \
    -n 2 "$B" fit "$T/cust.csv" --k-sample 0 --out "$T/fkilled"

# Commands not distributed yet say so, on one line, exit 2; an unknown one is unknown.
st=0
mrun -n 2 "$B" bogus > /dev/null 2> "$T/bogus.err" || st=$?
if [ $st -eq 2 ] && grep -q "^custseg: unknown command 'bogus'" "$T/bogus.err"; then
    ok "an unknown command under mpirun -n 2: unknown, exit 2"
else
    fail "unknown command under mpirun: exit $st; $(head -1 "$T/bogus.err")"
fi
st=0
mrun -n 2 "$B" score "$SRC/data/mall_customers.csv" > /dev/null 2> "$T/score.err" || st=$?
if [ $st -eq 2 ] && grep -q '^custseg: score: only run and fit are distributed' "$T/score.err"; then
    ok "score under mpirun -n 2: refused, exit 2"
else
    fail "score under mpirun -n 2: exit $st; $(head -1 "$T/score.err")"
fi
st=0
mrun -n 2 "$B" run "$SRC/data/online_retail.csv.gz" --clv --out "$T/clv" > /dev/null 2> "$T/clv.err" || st=$?
if [ $st -eq 2 ] && [ "$(head -1 "$T/clv.err")" = "custseg: under mpirun the log must be a file, without --clv or --pseudonymize (docs/scale-out.md)" ]; then
    ok "run --clv under mpirun -n 2: refused, exit 2"
else
    fail "run --clv under mpirun: exit $st; $(head -1 "$T/clv.err")"
fi

# 7. A log smaller than one round: processes that receive no line at all
# (here three customers for four processes) take part all the same.
# With an attribute (a process without lines wrote its part without the attribute's
# section, which the assembly refused as damaged), and with PCA on fewer customers than model
# features (taken on every process from all of them).
head -30 "$SRC/tests/data/txn_small.csv" > "$T/tiny.csv"
for o in "--k,2" "--k,2,--attributes,Country" "--k,2,--pca,2"; do
    opts=$(echo "$o" | sed 's/,/ /g')
    rm -rf "$T/tiny1"
    # shellcheck disable=SC2086
    "$B" run "$T/tiny.csv" $opts --out "$T/tiny1" > /dev/null 2>&1 || fail "tiny log $opts, one process"
    for n in 2 3 4; do
        st=0
        rm -rf "$T/tiny$n"
        # shellcheck disable=SC2086
        mrun -n $n "$B" run "$T/tiny.csv" $opts --out "$T/tiny$n" > /dev/null 2> "$T/tiny.err" || st=$?
        if [ $st -eq 0 ]; then
            same_outputs "$T/tiny1" "$T/tiny$n" "tiny log $opts, $n processes"
        else
            fail "tiny log $opts, $n processes: exit $st; $(head -1 "$T/tiny.err")"
        fi
    done
done

# 8. A quoted field across lines: one process reads it, several refuse it
# with the line and column, exit 1, no outputs.
printf 'InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n536365,85123A,WHITE HANGING,6,2010-12-01 08:26,2.55,17850,United Kingdom\n536366,22633,"HAND WARMER\nUNION JACK",6,2010-12-01 08:28,1.85,17850,United Kingdom\n536367,84879,BIRD,32,2010-12-01 08:34,1.69,13047,United Kingdom\n' > "$T/quoted.csv"
st=0
mrun -n 2 "$B" run "$T/quoted.csv" --k 2 --out "$T/quoted" > /dev/null 2> "$T/quoted.err" || st=$?
if [ $st -eq 1 ] && [ ! -e "$T/quoted" ] &&
    [ "$(grep '^custseg:' "$T/quoted.err")" = "custseg: $T/quoted.csv:3:14: a quoted field spans lines: not supported when several processes read the log (read it as one process)" ]; then
    ok "quoted field across lines, 2 processes: exit 1, line and column, no outputs"
else
    fail "quoted field across lines: exit $st; $(grep '^custseg:' "$T/quoted.err")"
fi

# 9. A carriage return that does not end a line (an old Mac log; a doubled \r\r\n;
# one inside a quoted field): the ranks split the log at \n alone, so several refuse
# it with the line and column (it had counted every row once per process, exit 0).
SMALL=$SRC/tests/data/txn_small.csv
tr '\n' '\r' < "$SMALL" > "$T/lonecr.csv"
(head -50 "$SMALL"; sed -n '51,60p' "$SMALL" | sed 's/$/\r\r/'; tail -n +61 "$SMALL") > "$T/crcr.csv"
(head -70 "$SMALL"; printf '536367,84879,"BIRD\rDECORATION",32,2021-03-08 09:04:00,1.69,10007,UK\n'
 tail -n +71 "$SMALL") > "$T/crq.csv"
for c in "lonecr 1" "crcr 51" "crq 71"; do
    set -- $c
    st=0
    mrun -n 3 "$B" run "$T/$1.csv" --k 3 --out "$T/$1" > /dev/null 2> "$T/$1.err" || st=$?
    line=$(grep '^custseg:' "$T/$1.err")
    case "$line" in
    "custseg: $T/$1.csv:$2:"*"a carriage return that does not end a line with a line feed: not supported when several processes read the log"*) good=1 ;;
    *) good=0 ;;
    esac
    if [ $st -eq 1 ] && [ ! -e "$T/$1" ] && [ $good -eq 1 ]; then
        ok "bare carriage return ($1), 3 processes: exit 1, line $2, no outputs"
    else
        fail "bare carriage return ($1): exit $st; $line"
    fi
done

for f in "$T"/sanitizer.*; do
    [ -e "$f" ] || continue
    fail "a sanitizer report ($f):"
    head -20 "$f"
done

if [ $fails -gt 0 ]; then
    echo "$fails MPI test(s) failed"
    exit 1
fi
echo "all MPI tests passed"
