#!/bin/sh
# Self-test of pg_server.sh: start, query, stop, and nothing left behind.
# Exit 0 on success, 77 when PostgreSQL is absent (see pg_server.sh).
set -u
PG="sh $(dirname "$0")/pg_server.sh"
D=$(mktemp -d) || exit 1
URI=$($PG start "$D")
rc=$?
if [ $rc -ne 0 ]; then
    $PG stop "$D"
    exit $rc
fi
# Debian's psql on PATH is a wrapper; elsewhere take the server's own.
PSQL=$(command -v psql || ls -d /usr/lib/postgresql/*/bin/psql | sort -t/ -k5,5n | tail -n 1)
failed=0
v=$("$PSQL" -X "$URI" -Atc 'select version()') && [ "${v#PostgreSQL}" != "$v" ] ||
    { echo "FAIL: select version() as $(id -un): $v"; failed=1; }
# Root's connection may ride on CAP_DAC_OVERRIDE; the server's user must get in
# by the ordinary permissions.
owner=$(ls -ld "$D" | awk '{ print $3 }')
if [ "$(id -u)" -eq 0 ] && [ "$owner" != root ]; then
    (cd / && setpriv --reuid="$owner" --regid="$(id -g "$owner")" --init-groups \
        "$PSQL" -X "$URI" -Atc 'select 1') >/dev/null ||
        { echo "FAIL: select 1 as $owner"; failed=1; }
fi
$PG stop "$D" || { echo "FAIL: stop"; failed=1; }
[ ! -e "$D" ] || { echo "FAIL: $D still exists"; failed=1; }
[ $failed -eq 0 ] && echo "ok: $v"
exit $failed
