#!/bin/sh
# Installs the Debian packages custseg needs to build, test and benchmark.
# Idempotent: packages already present are skipped. As root it installs them;
# otherwise it prints the command to run.
#   scripts/setup.sh          build + test dependencies
#   scripts/setup.sh --bench  also the Python peers used by bench/ and tests/reference/
set -eu
# chromium, libxml2-utils: the report test renders and checks report.html;
# valgrind: the CLI test checks a small run is leak- and error-free; strace: it counts the
# restart on huge pages (docs/cli.md).
# libsqlite3-dev, libpq-dev, libssl-dev: the segment store (SQLite, PostgreSQL, SHA-256);
# postgresql: the server the store tests start for themselves; sqlite3: the tests
# build SQLite sources with it. libmicrohttpd-dev: custseg serve; libcurl4-openssl-dev: its webhooks; liblinear-dev: linear SVMs (train --classifier svm); curl, openssl: its tests (HTTPS with a self-signed certificate).
pkgs="build-essential cmake pkg-config zlib1g-dev libdeflate-dev libopenblas-dev liblapacke-dev libjansson-dev libcmocka-dev libsqlite3-dev libpq-dev libssl-dev libmicrohttpd-dev libcurl4-openssl-dev liblinear-dev curl openssl postgresql sqlite3 chromium libxml2-utils valgrind strace openmpi-bin libopenmpi-dev"
if [ "${1:-}" = "--bench" ]; then
    # The peers of bench/: pandas + scikit-learn + SciPy, fastcluster (Ward), R's dbscan,
    # and the threaded OpenBLAS they need to be fair; wrk, Flask and gunicorn for bench/service.sh.
    pkgs="$pkgs python3 python3-numpy python3-pandas python3-sklearn python3-scipy python3-fastcluster python3-threadpoolctl r-cran-dbscan libopenblas0-pthread python3-psycopg2 python3-sqlalchemy wrk python3-flask python3-gunicorn gunicorn"
fi
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends $missing
else
    echo "custseg setup: missing packages:$missing" >&2
    echo "run: sudo apt-get install -y$missing" >&2
    exit 1
fi
