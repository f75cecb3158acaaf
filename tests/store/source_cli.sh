#!/bin/sh
# Database sources (docs/store.md#database-sources): run and fit read a table or
# a query of SQLite or PostgreSQL as they read a CSV file.
#   source_cli.sh CUSTSEG SOURCE_DIR sqlite
#   source_cli.sh CUSTSEG SOURCE_DIR postgresql URI   (psql on PATH)
set -u
BIN=$1
SRC=$2
KIND=$3
. "$SRC/tests/store/lib.sh"

SMALL=$SRC/tests/data/txn_small.csv
MALL=$SRC/data/mall_customers.csv
ORDERS="CREATE TABLE orders (InvoiceNo TEXT, StockCode TEXT, Description TEXT, Quantity INTEGER,
  InvoiceDate TIMESTAMP, UnitPrice DOUBLE PRECISION, CustomerID TEXT, Country TEXT);"
MALLT='CREATE TABLE mall ("CustomerID" INTEGER, "Genre" TEXT, "Age" INTEGER,
  "Annual_Income(k$)" INTEGER, "Spending_Score(1-100)" INTEGER);'
if [ "$KIND" = sqlite ]; then
    command -v sqlite3 >/dev/null || { echo "skipped: no sqlite3 command"; exit 77; }
    DB=sqlite:$T/shop.db
    sqlite3 "$T/shop.db" "$ORDERS" "$MALLT" ".mode csv" ".import --skip 1 $SMALL orders" \
        ".import --skip 1 $MALL mall" "UPDATE orders SET CustomerID = NULL WHERE CustomerID = ''" ||
        bad "sqlite3 import"
    SQLERR='custseg: '"$T"'/shop.db: query: near "SELEC": syntax error'
else
    DB=$4
    psql -X -q -v ON_ERROR_STOP=1 "$DB" -c "DROP TABLE IF EXISTS orders, mall" -c "$ORDERS" \
        -c "$MALLT" -c "\\copy orders FROM '$SMALL' WITH (FORMAT csv, HEADER true)" \
        -c "\\copy mall FROM '$MALL' WITH (FORMAT csv, HEADER true)" || bad "psql import"
    SQLERR="custseg: $(echo "$DB" | sed 's#postgresql://[^:@/]*:[^@]*@#postgresql://#'): query: syntax error at or near \"SELEC\" (at character 1)"
fi

# the same customers from the table as from the file
expect 0 run-file -- "$BIN" run "$SMALL" --k 3 --out "$T/f" --quiet
expect 0 run-table -- "$BIN" run "$DB" --table orders --k 3 --out "$T/t" --quiet
same run-table "$T/f/customers.csv" "$T/t/customers.csv"
grep -q "\"input\": \"${DB#sqlite:}" "$T/t/segments.json" 2>/dev/null || grep -q '(table orders)' "$T/t/segments.json" && ok || bad "run-table: input name"
expect 0 run-query -- "$BIN" run "$DB" --query "SELECT * FROM orders WHERE CustomerID NOT LIKE '10001%'" --k 2 --out "$T/q" --quiet
[ "$(wc -l <"$T/q/customers.csv")" -eq 24 ] && ok || bad "run-query: the WHERE was not applied"
expect 0 fit-table -- "$BIN" fit "$DB" --table mall --k 4 --out "$T/m" --quiet
expect 0 fit-file -- "$BIN" fit "$MALL" --k 4 --out "$T/mf" --quiet
same fit-table "$T/mf/customers.csv" "$T/m/customers.csv"

# a final ';' or comment, a long TMPDIR; no temporary file left
long="$T/a-temporary-folder-with-a-name-long-enough-to-pass-forty-bytes"
mkdir -p "$long"
expect 0 query-semicolon -- env TMPDIR="$long" "$BIN" run "$DB" --query "SELECT * FROM orders; -- all" --k 3 --out "$T/sc" --quiet
same query-semicolon "$T/f/customers.csv" "$T/sc/customers.csv"
[ -z "$(ls "$long")" ] && ok || bad "query-semicolon: left in TMPDIR: $(ls "$long")"
# errors name the database, the table or query, and the row
expect 1 query-syntax -- "$BIN" run "$DB" --query "SELEC * FROM orders" --out "$T/x"
stderr_is query-syntax "$SQLERR"
expect 2 no-table -- "$BIN" run "$DB" --out "$T/x"
expect 2 table-and-file -- "$BIN" run "$SMALL" --table orders --out "$T/x"
if [ "$KIND" = sqlite ]; then
    # rows before it whose text spans lines do not shift the row named (they did, a row each)
    sqlite3 "$T/shop.db" "UPDATE orders SET Description = 'two' || char(10) || 'lines' WHERE rowid < 4"
    sqlite3 "$T/shop.db" "UPDATE orders SET Quantity = 'abc' WHERE rowid = 5"
    expect 1 bad-value -- "$BIN" run "$DB" --table orders --out "$T/x"
    stderr_is bad-value 'custseg: orders: row 5: expected a number in column "Quantity", got "abc"'
    # a row that fails after the reading is counted the same way (it said the CSV line, one more)
    sqlite3 "$T/shop.db" "UPDATE orders SET Quantity = 10, UnitPrice = 1e308 WHERE rowid = 5"
    expect 1 bad-value-later -- "$BIN" run "$DB" --table orders --out "$T/x"
    stderr_is bad-value-later 'custseg: orders: row 5: quantity x price is beyond the range of numbers (10 x 1e+308)'
    expect 3 no-db -- "$BIN" run "sqlite:$T/none.db" --table orders --out "$T/x"
    [ -e "$T/none.db" ] && bad "no-db: a database file was created" || ok
fi
echo "source tests ($KIND): $pass passed, $fail failed"
[ "$fail" -eq 0 ]
