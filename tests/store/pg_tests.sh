#!/bin/sh
# The store tests against a real PostgreSQL server: this script starts a
# throwaway one (pg_server.sh: initdb + pg_ctl on a Unix socket in a temporary
# folder), runs the library tests (test_store, which then also checks that a
# run reads back from PostgreSQL exactly as from SQLite; test_stream, which
# streams a log into PostgreSQL event by event and compares with run) and the
# command-line tests on it (a log replayed in batches too), and stops it.
#   pg_tests.sh TEST_STORE CUSTSEG SOURCE_DIR TEST_STREAM
# Exit 77 (skipped) when PostgreSQL is not installed, unless CI or
# CSEG_REQUIRE_PG=1 is set: then that is a failure.
set -u
TEST_STORE=$1
BIN=$2
SRC=$3
TEST_STREAM=$4
[ -n "${CI:-}" ] && export CSEG_REQUIRE_PG=1
D=$(mktemp -d /tmp/custseg-pg.XXXXXX)
URI=$(sh "$SRC/tests/store/pg_server.sh" start "$D")
rc=$?
if [ "$rc" -ne 0 ]; then
    rm -rf "$D"
    [ "$rc" -eq 77 ] && echo "skipped: no PostgreSQL server binaries (Debian package postgresql)"
    exit "$rc"
fi
trap 'sh "$SRC/tests/store/pg_server.sh" stop "$D"' EXIT
status=0
CSEG_TEST_PG_URI=$URI "$TEST_STORE" || status=1
# The command-line tests, on a database of their own.
psql_bin=$(dirname "$(ls -d /usr/lib/postgresql/*/bin/psql 2>/dev/null | sort -V | tail -n 1)")
PATH="$psql_bin:$PATH" psql -X -q "$URI" -c "CREATE DATABASE custseg_cli" || status=1
CLI_URI=$(echo "$URI" | sed 's#:///custseg_test?#:///custseg_cli?#')
sh "$SRC/tests/store/store_cli.sh" "$BIN" "$SRC" "$CLI_URI" || status=1
# A database without a store: reading it says so and leaves it as it was (exit 3 when
# empty, 1 with other tables), as for SQLite (store_cli.sh).
PATH="$psql_bin:$PATH" psql -X -q "$URI" -c "CREATE DATABASE custseg_none" || status=1
NONE_URI=$(echo "$URI" | sed 's#:///custseg_test?#:///custseg_none?#')
"$BIN" show --db "$NONE_URI" >/dev/null 2>"$D/none.err"
st=$?
if [ "$st" -eq 3 ] && grep -q "no store there (an empty database)" "$D/none.err"; then
    echo "ok: an empty PostgreSQL database: no store there, exit 3"
else
    echo "FAIL: an empty PostgreSQL database: exit $st, $(cat "$D/none.err")"
    status=1
fi
PATH="$psql_bin:$PATH" psql -X -q "$NONE_URI" -c "CREATE TABLE t (x int)" || status=1
"$BIN" runs --db "$NONE_URI" >/dev/null 2>"$D/none.err"
st=$?
tables=$(PATH="$psql_bin:$PATH" psql -X -q -t -A "$NONE_URI" -c "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()")
if [ "$st" -eq 1 ] && grep -q "not a custseg store: it has no cseg_meta" "$D/none.err" &&
    [ "$tables" = 1 ]; then
    echo "ok: a PostgreSQL database of something else: not a custseg store, exit 1, unchanged"
else
    echo "FAIL: a PostgreSQL database of something else: exit $st, $tables tables, $(cat "$D/none.err")"
    status=1
fi
# Events streamed into PostgreSQL (test_stream), on a database of their own.
PATH="$psql_bin:$PATH" psql -X -q "$URI" -c "CREATE DATABASE custseg_stream" || status=1
STREAM_URI=$(echo "$URI" | sed 's#:///custseg_test?#:///custseg_stream?#')
CSEG_TEST_PG_URI=$STREAM_URI "$TEST_STREAM" || status=1
# A log replayed into PostgreSQL with the default batch (5,000 events a transaction, statements
# of up to 64 rows: hundreds of parameters; once refused as "too many parameters"): the same
# account as into SQLite.
RP_URI=$(echo "$URI" | sed 's#:///custseg_test?#:///custseg_replay?#')
PATH="$psql_bin:$PATH" psql -X -q "$URI" -c "CREATE DATABASE custseg_replay" || status=1
R=$(mktemp -d /tmp/custseg-pgreplay.XXXXXX)
for db in "$R/s.db" "$RP_URI"; do
    "$BIN" run "$SRC/tests/data/txn_small.csv" --k 3 --out "$R/o" --db "$db" --quiet >/dev/null &&
        "$BIN" replay "$SRC/tests/data/txn_small.csv" --model "$R/o/model.json" --db "$db" |
        sed 's/ into .*: / into DB: /' >>"$R/said" || { echo "FAIL: replay into $db"; status=1; }
done
if [ "$(sed -n 1p "$R/said")" != "$(sed -n 3p "$R/said")" ] || ! grep -q "391 events applied" "$R/said"; then
    echo "FAIL: replay into PostgreSQL and SQLite differ: $(cat "$R/said")"
    status=1
fi
# A password in a URI (the store's, --db; sslpassword= before it) is in no stored argument and
# no file (the run's arguments kept it, and a password= after sslpassword= was kept everywhere).
"$BIN" run "$SRC/tests/data/txn_small.csv" --k 3 --out "$R/pw" --quiet \
    --db "$RP_URI&sslpassword=k3y&password=s3cretpw" >"$R/pw.out" 2>&1 || { echo "FAIL: run with a password"; status=1; }
PATH="$psql_bin:$PATH" psql -X -q -At "$RP_URI" -c "SELECT params FROM cseg_runs" >"$R/params" || status=1
if grep -q "s3cretpw\|k3y" "$R/params" "$R/pw.out" "$R/pw"/* || ! grep -q "password=" "$R/params"; then
    echo "FAIL: a password was kept: $(grep -l "s3cretpw\|k3y" "$R/params" "$R/pw.out" "$R/pw"/*)"
    status=1
fi
# forget takes the event writer's lock on each customer: while another transaction holds
# customer 10001's, forget waits for it (without the lock, a batch that had read the
# customer before forget committed wrote its state back after it)
( printf "BEGIN; SELECT pg_advisory_xact_lock(hashtext('10001'));\nSELECT pg_sleep(2);\nCOMMIT;\n" |
    PATH="$psql_bin:$PATH" psql -X -q "$RP_URI" >/dev/null ) &
holder=$!
sleep 0.5
t0=$(date +%s%N)
"$BIN" forget --db "$RP_URI" 10001 >/dev/null 2>&1 || { echo "FAIL: forget 10001"; status=1; }
waited=$((($(date +%s%N) - t0) / 1000000))
wait "$holder"
if [ "$waited" -ge 1000 ]; then
    echo "ok: forget waited ${waited} ms for the customer's lock"
else
    echo "FAIL: forget did not wait for the customer's lock (${waited} ms)"
    status=1
fi
rm -rf "$R"
# Pseudonymised ids: nothing in a dump of the PostgreSQL store holds a raw id.
PRIV_URI=$(echo "$URI" | sed 's#:///custseg_test?#:///custseg_priv?#')
PATH="$psql_bin:$PATH" psql -X -q "$URI" -c "CREATE DATABASE custseg_priv" || status=1
P=$(mktemp -d /tmp/custseg-pgpriv.XXXXXX)
sed 's/,100\([0-9][0-9]\)\.0,/,cust-\1-x,/' "$SRC/tests/data/txn_small.csv" >"$P/log.csv"
head -c 32 /dev/urandom >"$P/key"
"$BIN" run "$P/log.csv" --k 3 --pseudonymize "$P/key" --out "$P/o" --db "$PRIV_URI" --quiet >/dev/null ||
    { echo "FAIL: pseudonymised run into PostgreSQL"; status=1; }
PATH="$psql_bin:$PATH" pg_dump "$PRIV_URI" >"$P/dump.sql" || status=1
if ! grep -q "cseg_memberships" "$P/dump.sql" || grep -q "cust-" "$P/dump.sql"; then
    echo "FAIL: the PostgreSQL dump holds a raw id (or no memberships)"
    status=1
fi
rm -rf "$P"
# a timestamptz column is a date-time (COPY writes it "2020-01-01 10:00:00+00": refused before)
PATH="$psql_bin:$PATH" psql -X -q "$URI" -c "CREATE TABLE tz_src AS SELECT g AS id, (g % 7) * 1.5 AS x, timestamptz '2020-01-01 10:00+00' + g * interval '1 day' AS ts FROM generate_series(1, 30) g" || status=1
if "$BIN" fit "$URI" --table tz_src --k 2 --out "$D/tz" --quiet >/dev/null 2>"$D/tz.err"; then
    echo "ok: a timestamptz column read as a date-time"
else
    echo "FAIL: a timestamptz column: $(cat "$D/tz.err")"
    status=1
fi
# a database that is not there: libpq's reason (it was cut to "connect to the database: ")
NO_URI=$(echo "$URI" | sed 's#:///custseg_test?#:///custseg_nosuch?#')
"$BIN" run "$NO_URI" --table t --out "$D/x" 2>"$D/no.err"
if grep -q 'database "custseg_nosuch" does not exist' "$D/no.err"; then
    echo "ok: a missing database says so"
else
    echo "FAIL: a missing database: $(cat "$D/no.err")"
    status=1
fi
# Database sources: a table and queries of this server.
PATH="$psql_bin:$PATH" sh "$SRC/tests/store/source_cli.sh" "$BIN" "$SRC" postgresql "$URI" || status=1
exit $status
