#!/bin/sh
# Speed of the segment store (issue 9, part 7), side by side in one run:
#   (1) custseg run data/online_retail.csv.gz --out DIR: no store, --db FILE.db
#       (SQLite, a new file each run), --db postgresql://... (a new database
#       each run). Target: the store adds at most 20%.
#   (2) custseg fit on 1,000,000 x 8 blobs (bench/make_blobs.py, the file of
#       compare.py and report_scale.sh), --k 8 --n-init 1, the same three ways.
#       Target: SQLite adds at most 3 s.
#   (3) custseg export --db STORE --run 1 --min-segment-size 0 --out FILE of both
#       runs, from SQLite and from PostgreSQL (the stores of the last runs of
#       (1) and (2)).
#   (4) reading the 1,000,000-row table from PostgreSQL (loaded with psql
#       \copy): custseg fit URI --table customers (reads and clusters), custseg
#       reading alone, against pandas.read_sql with SQLAlchemy + psycopg2
#       (bench/store_read_sql.py). Target: custseg at least 3x faster.
# Every command runs BENCH_REPS times (default 5), the variants of a section in
# turn, the order rotating each repetition (A B C, B C A, C A B, ...), so that a
# drift in the machine's load hits all; the tables show medians (and the
# overheads also paired by repetition), the spread, CPU seconds and peak memory
# (the child's max RSS). Nothing of a run is timed but the custseg (or Python)
# process: fresh stores and output folders are made before, `sync` and a
# PostgreSQL CHECKPOINT run after each timed run (so one run's pending writes
# do not land in the next one's time).
#
# Usage: sh bench/store.sh                 # ~11 minutes on 2 cores (3 runs: ~7)
#        BENCH_REPS=3 sh bench/store.sh    # fewer repetitions
# Environment: BENCH_REPS (5), BUILD_DIR (build), DATA_DIR (/tmp/custseg-bench:
# the blobs, made once, ~5 s), RESULTS (DATA_DIR/results-store.tsv: every run,
# machine-specific, not to be committed), BENCH_ONLY (a subset of "run fit
# export read"; export needs run and fit).
# Needs: a build (cmake ... && cmake --build build), PostgreSQL's server
# (Debian postgresql; tests/store/pg_server.sh starts a throwaway one in a
# temporary folder and stops it at the end), /usr/bin/python3 with pandas,
# SQLAlchemy and psycopg2 (sh scripts/setup.sh --bench).
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
B=${BUILD_DIR:-$ROOT/build}
D=${DATA_DIR:-/tmp/custseg-bench}
REPS=${BENCH_REPS:-5}
ONLY=${BENCH_ONLY:-run fit export read}
RESULTS=${RESULTS:-$D/results-store.tsv}
PY=/usr/bin/python3
UTIL="$PY $HERE/store_util.py"
RETAIL=$ROOT/data/online_retail.csv.gz
BLOBS=$D/blobs_1000k_8d_8k_box1.5_seed42.csv

case $REPS in '' | *[!0-9]* | 0) echo "store.sh: BENCH_REPS must be a positive integer" >&2; exit 2 ;; esac
want() { case " $ONLY " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
if want export && ! { want run && want fit; }; then
    echo "store.sh: export needs run and fit in BENCH_ONLY (it exports their stores)" >&2
    exit 2
fi
[ -x "$B/custseg" ] || { echo "store.sh: no $B/custseg; build first" >&2; exit 2; }
[ -f "$RETAIL" ] || { echo "store.sh: no $RETAIL" >&2; exit 2; }
$PY -c 'import pandas, sqlalchemy, psycopg2' 2>/dev/null ||
    { echo "store.sh: /usr/bin/python3 lacks pandas, sqlalchemy or psycopg2: run sh scripts/setup.sh --bench (as root)" >&2; exit 2; }

# ---- scratch folder, PostgreSQL server, cleanup ----
W=$(mktemp -d /tmp/custseg-bench-store.XXXXXX)
PGDIR=
PGURI=
cleanup() {
    if [ -n "$PGDIR" ]; then
        sh "$ROOT/tests/store/pg_server.sh" stop "$PGDIR" || echo "store.sh: could not stop the server in $PGDIR" >&2
    fi
    rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The binary is copied first: a rebuild during the run cannot mix two builds.
mkdir -p "$W/bin" "$D"
cp "$B/custseg" "$W/bin/custseg"
CS=$W/bin/custseg

PSQL=$(ls -d /usr/lib/postgresql/*/bin/psql 2>/dev/null | sort -t/ -k5,5n | tail -n 1)
[ -n "$PSQL" ] || PSQL=$(command -v psql) || PSQL=
if want run || want fit || want read; then
    PGDIR=$(mktemp -d /tmp/custseg-bench-pg.XXXXXX)
    PGURI=$(sh "$ROOT/tests/store/pg_server.sh" start "$PGDIR") || {
        echo "store.sh: cannot start the PostgreSQL server (tests/store/pg_server.sh)" >&2
        exit 1
    }
fi
psql_q() { # SQL...: statements on the server's database custseg_test
    for sql in "$@"; do
        "$PSQL" -X -q -v ON_ERROR_STOP=1 "$PGURI" -c "SET client_min_messages = warning" \
            -c "$sql" >/dev/null
    done
}
pg_db_uri() { # NAME: the URI of database NAME on the server
    printf '%s\n' "$PGURI" | sed "s|^postgresql:///custseg_test?|postgresql:///$1?|"
}
pg_fresh_db() { # NAME: drop and create it
    psql_q "DROP DATABASE IF EXISTS $1 WITH (FORCE)" "CREATE DATABASE $1"
}
settle() { # after a timed run: its writes out of the next run's time
    sync
    [ -z "$PGURI" ] || psql_q "CHECKPOINT"
}

# rotate I WORD...: the words rotated left by I (mod their count)
rotate() {
    i=$1
    shift
    k=$((i % $#))
    head=
    tail=
    j=0
    for w in "$@"; do
        if [ "$j" -lt "$k" ]; then tail="$tail $w"; else head="$head $w"; fi
        j=$((j + 1))
    done
    echo $head $tail
}

timeit() { # SECTION VARIANT REP EXPECTED_EXIT -- COMMAND...
    sec=$1 var=$2 rep=$3 exp=$4
    shift 4
    $UTIL time "$RESULTS" "$sec" "$var" "$rep" "$exp" "$W/log.$sec.$var.$rep" "$@" || exit 1
}

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
cpu_model() {
    m=$(LC_ALL=C lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1)
    [ -n "$m" ] || m=$(sed -n 's/^model name[[:space:]]*: *//p' /proc/cpuinfo | head -n 1)
    echo "${m:-unknown}"
}

# ---- header ----
START=$(date +%s)
: >"$RESULTS"
git_rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo "?")
[ -z "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ] || git_rev="$git_rev (dirty tree)"
echo "custseg store benchmark (issue 9 part 7), $(date -u '+%Y-%m-%d %H:%M UTC'), $REPS runs each"
echo "  $($CS --version), git $git_rev, build $(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$B/CMakeCache.txt" 2>/dev/null), binary of $(date -u -r "$B/custseg" '+%Y-%m-%d %H:%M:%S UTC')"
echo "  CPU: $(cpu_model), $(nproc) cores; $(free -g | awk '/^Mem:/ { print $2 " GiB" }'); $(uname -sr)"
echo "  scratch: $W on $(df -T "$W" | awk 'NR == 2 { print $2 }')"
echo "  SQLite $(sqlite3 --version 2>/dev/null | cut -d' ' -f1 || echo '?') (sqlite3 CLI; custseg links the system libsqlite3), $("$PSQL" --version 2>/dev/null | sed 's/^psql (PostgreSQL) /PostgreSQL /') (throwaway server: Unix socket, fsync off)"
echo "  $($UTIL versions)"
echo "  load average at start: $(loadavg)"
echo

# ---- data ----
if want fit || want read; then
    if [ ! -s "$BLOBS" ]; then
        echo "generating $BLOBS ..."
        $PY "$HERE/make_blobs.py" "$BLOBS.tmp" 1000000 8 8 --box 1.5 --seed 42
        mv "$BLOBS.tmp" "$BLOBS"
    fi
    cat "$BLOBS" >/dev/null
fi
cat "$RETAIL" "$CS" >/dev/null

# with_stores SECTION NAME CUSTOMERS -- COMMAND...: COMMAND --out DIR --quiet timed
# BENCH_REPS times with no store, --db NAME.db (SQLite, a new file each run) and --db on
# the database cseg_NAME (PostgreSQL, new each run), in rotating order; then both stores
# must hold the run's CUSTOMERS customers.
with_stores() {
    section=$1
    name=$2
    customers=$3
    shift 4
    rep=1
    while [ "$rep" -le "$REPS" ]; do
        for v in $(rotate $((rep - 1)) none sqlite pg); do
            out=$W/out-$section-$v
            rm -rf "$out"
            case $v in
            none) db= ;;
            sqlite) rm -f "$W/$name.db" "$W/$name.db-wal" "$W/$name.db-shm"; db=$W/$name.db ;;
            pg) pg_fresh_db "cseg_$name"; db=$(pg_db_uri "cseg_$name") ;;
            esac
            if [ -n "$db" ]; then
                timeit "$section" "$v" "$rep" 0 -- "$@" --out "$out" --quiet --db "$db"
            else
                timeit "$section" "$v" "$rep" 0 -- "$@" --out "$out" --quiet
            fi
            settle
        done
        rep=$((rep + 1))
    done
    grep -q "^Stored run 1 in .* ($customers customers)" "$W/log.$section.sqlite.$REPS.out" &&
        grep -q "^Stored run 1 in .* ($customers customers)" "$W/log.$section.pg.$REPS.out" ||
        { echo "store.sh: the $section of $customers customers was not stored as expected" >&2; exit 1; }
}

# ---- (1) Online Retail: run without and with a store ----
if want run; then
    echo "(1) custseg run, Online Retail ..."
    # warm-up (not counted): page cache, the server's catalogue
    $CS run "$RETAIL" --out "$W/out-warm" --quiet >/dev/null
    pg_fresh_db cseg_warm
    $CS run "$RETAIL" --out "$W/out-warm" --quiet --db "$(pg_db_uri cseg_warm)" >/dev/null
    psql_q "DROP DATABASE cseg_warm WITH (FORCE)"
    with_stores run retail 4338 -- "$CS" run "$RETAIL"
fi

# ---- (2) 1,000,000 customers: fit without and with a store ----
if want fit; then
    echo "(2) custseg fit, 1,000,000 customers ..."
    with_stores fit fit 1000000 -- "$CS" fit "$BLOBS" --k 8 --n-init 1
fi

# ---- (3) exports of both runs from both stores ----
if want export; then
    echo "(3) custseg export ..."
    rep=1
    while [ "$rep" -le "$REPS" ]; do
        for v in $(rotate $((rep - 1)) sqlite-retail pg-retail sqlite-1m pg-1m); do
            case $v in
            sqlite-retail) db=$W/retail.db ;;
            pg-retail) db=$(pg_db_uri cseg_retail) ;;
            sqlite-1m) db=$W/fit.db ;;
            pg-1m) db=$(pg_db_uri cseg_fit) ;;
            esac
            rm -f "$W/export-$v.csv"
            timeit export "$v" "$rep" 0 -- "$CS" export --db "$db" --run 1 --min-segment-size 0 --out "$W/export-$v.csv"
            settle
        done
        rep=$((rep + 1))
    done
fi

# ---- (4) reading 1,000,000 rows from PostgreSQL ----
if want read; then
    echo "(4) reading a 1,000,000-row table from PostgreSQL ..."
    cols="x0 double precision"
    for j in 1 2 3 4 5 6 7; do cols="$cols, x$j double precision"; done
    psql_q "DROP TABLE IF EXISTS customers" "CREATE TABLE customers ($cols)"
    timeit read load 1 0 -- "$PSQL" -X -q -v ON_ERROR_STOP=1 "$PGURI" \
        -c "\\copy customers FROM '$BLOBS' WITH (FORMAT csv, HEADER true)"
    psql_q "VACUUM ANALYZE customers"
    settle
    rows=$("$PSQL" -X -Atq "$PGURI" -c "SELECT count(*) FROM customers")
    [ "$rows" = 1000000 ] || { echo "store.sh: customers holds $rows rows, not 1000000" >&2; exit 1; }
    # SQLAlchemy's URL: the same socket folder, port and user as custseg's URI.
    SAURL=$(printf '%s\n' "$PGURI" | sed 's|^postgresql://|postgresql+psycopg2://|')
    # custseg reading alone: fit stops with exit 2 at a --features column the
    # table lacks, a check made after the whole table is read and parsed
    # (stderr checked below) and before anything else: the cheapest way the
    # CLI has. The same on the CSV file shows the file reader for comparison.
    NOCOL=no_such_column_store_bench
    $CS fit "$PGURI" --table customers --features $NOCOL --out "$W/out-read" >/dev/null 2>&1 || true # warm-up
    rep=1
    while [ "$rep" -le "$REPS" ]; do
        for v in $(rotate $((rep - 1)) custseg-fit pandas custseg-read custseg-read-csv); do
            rm -rf "$W/out-read"
            case $v in
            custseg-fit)
                rm -rf "$W/out-read-fit"
                timeit read "$v" "$rep" 0 -- "$CS" fit "$PGURI" --table customers --k 8 --n-init 1 --out "$W/out-read-fit" --quiet
                ;;
            custseg-read)
                timeit read "$v" "$rep" 2 -- "$CS" fit "$PGURI" --table customers --features $NOCOL --out "$W/out-read"
                ;;
            custseg-read-csv)
                timeit read "$v" "$rep" 2 -- "$CS" fit "$BLOBS" --features $NOCOL --out "$W/out-read"
                ;;
            pandas)
                timeit read pandas-process "$rep" 0 -- $PY "$HERE/store_read_sql.py" "$SAURL" customers
                t=$(sed -n 's/^read_sql_seconds //p' "$W/log.read.pandas-process.$rep.out")
                $UTIL add "$RESULTS" read pandas-read_sql "$rep" "$t"
                ;;
            esac
            settle
        done
        rep=$((rep + 1))
    done
    for f in "$W"/log.read.custseg-read.*.err "$W"/log.read.custseg-read-csv.*.err; do
        grep -q "has no column \"$NOCOL\"" "$f" ||
            { echo "store.sh: custseg's read-alone run did not stop where expected: $(head -c 300 "$f")" >&2; exit 1; }
    done
fi

# ---- report and checks ----
echo
$UTIL report "$RESULTS"
echo
echo "Checks"
if want run && want fit; then
    for v in sqlite pg; do
        [ "$v" = sqlite ] && db=$W/fit.db || db=$(pg_db_uri cseg_fit)
        [ "$v" = sqlite ] && db2=$W/retail.db || db2=$(pg_db_uri cseg_retail)
        n=$($CS runs --db "$db" | awk '$1 == 1 { print $7 }')
        n2=$($CS runs --db "$db2" | awk '$1 == 1 { print $7 }')
        echo "  $v stores: Online Retail run 1 holds $n2 customers (expected 4338), 1M fit run 1 holds $n (expected 1000000)"
    done
fi
if want export; then
    for r in retail 1m; do
        if cmp -s "$W/export-sqlite-$r.csv" "$W/export-pg-$r.csv"; then same="identical"; else same="DIFFERENT (MISMATCH)"; fi
        echo "  export $r: $(($(wc -l <"$W/export-sqlite-$r.csv") - 1)) rows, $(wc -c <"$W/export-sqlite-$r.csv") bytes; SQLite and PostgreSQL exports $same"
    done
fi
if want read; then
    f=$W/log.read.pandas-process.$REPS.out
    echo "  pandas: $(sed -n 's/^shape //p' "$f" | awk '{ print $1 " rows x " $2 " columns" }'), $(sed -n 's/^dtypes //p' "$f"); interpreter start + imports $(sed -n 's/^import_seconds //p' "$f" | awk '{ printf "%.2f", $1 }') s"
    if want fit; then
        # The same rows from the file and from the table: the same customers.csv.
        if cmp -s "$W/out-fit-none/customers.csv" "$W/out-read-fit/customers.csv"; then
            echo "  fit from PostgreSQL and from the CSV file: identical customers.csv"
        else
            echo "  fit from PostgreSQL and from the CSV file: customers.csv DIFFERENT (MISMATCH)"
        fi
    fi
fi
echo
echo "Commands (custseg is a copy of $B/custseg taken at the start; DIR, FILE: fresh each run)"
PGSHOW=$(printf '%s\n' "${PGURI:-postgresql:///custseg_test?...}" | sed 's|^postgresql:///custseg_test?|postgresql:///DB?|')
echo "  (1) custseg run $RETAIL --out DIR --quiet [--db FILE.db | --db $PGSHOW]"
echo "  (2) custseg fit $BLOBS --k 8 --n-init 1 --out DIR --quiet [--db FILE.db | --db $PGSHOW]"
echo "  (3) custseg export --db (FILE.db | $PGSHOW) --run 1 --min-segment-size 0 --out FILE"
echo "  (4) custseg fit ${PGURI:-URI} --table customers --k 8 --n-init 1 --out DIR --quiet"
echo "      read alone: custseg fit ${PGURI:-URI} --table customers --features no_such_column_store_bench --out DIR (exit 2)"
echo "      $PY bench/store_read_sql.py postgresql+psycopg2:///custseg_test?host=...&port=...&user=... customers"
cmp -s "$B/custseg" "$CS" || echo "NOTE: $B/custseg was rebuilt during the run (the copy taken at the start was used; the build competed for the CPU)"
echo "load average at end: $(loadavg)"
echo "elapsed: $(($(date +%s) - START)) s; every run: $RESULTS"
