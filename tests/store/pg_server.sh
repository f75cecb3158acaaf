#!/bin/sh
# A throwaway PostgreSQL server for the store tests: everything (data, log,
# socket) lives in one folder the caller made, the server listens on a Unix
# socket in that folder only, and stop deletes the folder.
#
# Usage: pg_server.sh start DIR   # prints the libpq URI of database custseg_test
#        pg_server.sh uri DIR     # prints it again
#        pg_server.sh stop DIR    # stops the server (if any) and removes DIR
# Exit 77 (skip) when the PostgreSQL server binaries are absent, or 1 when
# CSEG_REQUIRE_PG=1 (CI must not skip silently).
set -u

# The socket sits in DIR, so no two servers can clash on a fixed port.
PORT=54329
DB=custseg_test

usage() {
    echo "usage: pg_server.sh start|stop|uri DIR" >&2
    exit 2
}
die() {
    echo "pg_server.sh: $*" >&2
    exit 1
}
[ $# -eq 2 ] || usage
CMD=$1
DIR=$2
[ -n "$DIR" ] || usage
# libpq reads a host starting with / as a socket folder, and pg_ctl runs from /.
case $DIR in
/*) ;;
*) DIR=$(pwd)/$DIR ;;
esac

# A caller's PGHOST, PGOPTIONS... must not redirect or alter our connections.
unset PGHOST PGHOSTADDR PGPORT PGUSER PGDATABASE PGDATA PGOPTIONS PGSERVICE \
    PGSERVICEFILE PGPASSWORD PGPASSFILE PGSSLMODE PGREQUIRESSL 2>/dev/null

# Debian keeps each major version apart; take the newest one (9.6 < 15, so
# sort numerically), else whatever initdb is on PATH (other distributions).
find_bindir() {
    f=$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -t/ -k5,5n | tail -n 1)
    [ -n "$f" ] || f=$(command -v initdb 2>/dev/null) || f=
    [ -n "$f" ] || return 1
    BIN=$(dirname "$f")
    for p in initdb pg_ctl postgres psql; do
        [ -x "$BIN/$p" ] || return 1
    done
}

# The server refuses to run as root, so root hands it to an unprivileged user:
# Debian's postgres if the package made it, else our own system user.
pick_user() {
    if [ "$(id -u)" -ne 0 ]; then
        PGOS=$(id -un)
        RUN=
        return
    fi
    if id -u postgres >/dev/null 2>&1; then
        PGOS=postgres
    else
        PGOS=custseg-pg
        # A parallel start may have created it between the test and useradd.
        id -u "$PGOS" >/dev/null 2>&1 ||
            useradd --system --no-create-home --user-group \
                --shell /usr/sbin/nologin "$PGOS" >/dev/null 2>&1 ||
            id -u "$PGOS" >/dev/null 2>&1 || die "cannot create user $PGOS"
    fi
    run_as "$PGOS"
}

# Sets RUN, the prefix running a command as user $1 (no PAM session needed).
run_as() {
    if command -v setpriv >/dev/null 2>&1; then
        RUN="setpriv --reuid=$1 --regid=$(id -g "$1") --init-groups"
    else
        RUN="runuser -u $1 --"
    fi
}

# libpq decodes %XX in URI values, so anything but unreserved bytes is encoded.
uri() {
    user=$(ls -ld "$DIR/data" 2>/dev/null | awk '{ print $3 }')
    [ -n "$user" ] || die "no server data in $DIR"
    host=$(S=$DIR LC_ALL=C awk 'BEGIN {
        s = ENVIRON["S"]
        for (i = 1; i < 256; i++) ord[sprintf("%c", i)] = i
        for (i = 1; i <= length(s); i++) {
            c = substr(s, i, 1)
            o = o (c ~ /[A-Za-z0-9._~\/-]/ ? c : sprintf("%%%02X", ord[c]))
        }
        print o
    }')
    echo "postgresql:///$DB?host=$host&port=$PORT&user=$user"
}

start() {
    # pg_ctl passes paths through sh in double quotes, and libpq splits host
    # lists on commas: these characters cannot be made to work.
    case $DIR in
    *[,\"\\\$\`]* | *'
'*) die "DIR must not contain , \" \\ \$ \` or a newline: $DIR" ;;
    esac
    # sun_path holds 107 bytes plus the NUL.
    sock="$DIR/.s.PGSQL.$PORT"
    [ ${#sock} -le 107 ] || die "socket path too long (${#sock} > 107 bytes): $sock"
    mkdir -p "$DIR" || die "cannot create $DIR"
    [ ! -e "$DIR/data" ] || die "$DIR already holds a server"
    pick_user
    log=$DIR/log
    : >"$log" || die "cannot write $log"
    if [ -n "$RUN" ]; then
        # The caller's group keeps reaching the socket and the log.
        chown "$PGOS:$(id -g)" "$DIR" "$log" && chmod 0750 "$DIR" ||
            die "cannot hand $DIR to $PGOS"
        $RUN test -w "$DIR" ||
            die "user $PGOS cannot write $DIR (is a parent folder private?)"
    fi

    # cd /: the server user may not be allowed into the caller's folder.
    # No sync and C locale: fast, and no dependence on installed locales.
    (cd / && $RUN "$BIN/initdb" -D "$DIR/data" -U "$PGOS" --auth=trust \
        --no-locale -E UTF8 --no-sync) >>"$log" 2>&1 || fail "initdb failed"
    # Quotes doubled for the config syntax; the double quotes keep a space
    # from splitting the directory list. The mmap DSM keeps shared memory
    # files inside DIR instead of /dev/shm.
    qdir=$(printf '%s' "$DIR" | sed "s/'/''/g")
    cat <<EOF | $RUN sh -c 'cat >>"$1"' sh "$DIR/data/postgresql.conf" || fail "cannot configure"
listen_addresses = ''
unix_socket_directories = '"$qdir"'
port = $PORT
fsync = off
synchronous_commit = off
full_page_writes = off
dynamic_shared_memory_type = mmap
EOF
    (cd / && $RUN "$BIN/pg_ctl" start -D "$DIR/data" -l "$log" -w -t 30) \
        >/dev/null 2>>"$log" || fail "server did not start"
    "$BIN/psql" -X -q -h "$DIR" -p "$PORT" -U "$PGOS" -d postgres \
        -c "CREATE DATABASE $DB" >>"$log" 2>&1 || fail "cannot create database $DB"
    u=$(uri)
    "$BIN/psql" -X -Atq "$u" -c 'select 1' >/dev/null 2>>"$log" || fail "cannot connect to $u"
    echo "$u"
}

# Keep DIR (with its log) for a post-mortem, but no server running.
fail() {
    echo "pg_server.sh: $1; end of $DIR/log:" >&2
    tail -n 20 "$DIR/log" >&2
    stop_server
    exit 1
}

# Already stopped, stale pid file, half-made DIR: all are fine here.
stop_server() {
    [ -f "$DIR/data/PG_VERSION" ] || return 0
    owner=$(ls -ld "$DIR/data" | awk '{ print $3 }')
    RUN=
    [ "$(id -u)" -ne 0 ] || [ "$owner" = root ] || run_as "$owner"
    (cd / && $RUN "$BIN/pg_ctl" stop -D "$DIR/data" -m immediate -w -t 30) >/dev/null 2>&1
    # A pid file left means the server died uncleanly and nobody removed its
    # System V segment (line 7: key, id), the one thing it keeps outside DIR.
    key=$(sed -n '7s/^ *\([0-9]*\).*/\1/p' "$DIR/data/postmaster.pid" 2>/dev/null)
    [ -z "$key" ] || [ "$key" = 0 ] || ipcrm -M "$key" >/dev/null 2>&1
    return 0
}

case $CMD in
start)
    if ! find_bindir; then
        msg="PostgreSQL server binaries (initdb, pg_ctl, postgres, psql) not found"
        if [ "${CSEG_REQUIRE_PG:-}" = 1 ]; then die "$msg"; fi
        echo "pg_server.sh: $msg; skipping" >&2
        exit 77
    fi
    start
    ;;
stop)
    # Without binaries there can be no server, only a folder to remove.
    if [ -d "$DIR" ]; then
        ! find_bindir || stop_server
        rm -rf "$DIR" || die "cannot remove $DIR"
    fi
    ;;
uri) uri ;;
*) usage ;;
esac
