# Shared by the store's shell tests: a scratch folder $T and the checks.
T=$(mktemp -d /tmp/custseg-store.XXXXXX)
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
expect() { # CODE NAME -- command...   (stdout > $T/out, stderr > $T/err)
    code=$1; name=$2; shift 3
    "$@" >"$T/out" 2>"$T/err"
    got=$?
    if [ "$got" -eq "$code" ]; then ok; else bad "$name: exit $got, expected $code; stderr: $(head -c 400 "$T/err")"; fi
}
stderr_is() { # NAME TEXT: the whole stderr
    if [ "$(cat "$T/err")" = "$2" ]; then ok; else bad "$1: stderr was '$(cat "$T/err")', expected '$2'"; fi
}
contains() { # NAME FILE TEXT
    if grep -qF -- "$3" "$2"; then ok; else bad "$1: '$3' not in $2: $(head -c 300 "$2")"; fi
}
lacks() { # NAME FILE TEXT
    if grep -qF -- "$3" "$2"; then bad "$1: '$3' found in $2"; else ok; fi
}
lines() { # NAME FILE N
    n=$(wc -l <"$2")
    if [ "$n" -eq "$3" ]; then ok; else bad "$1: $n lines in $2, expected $3"; fi
}
same() { # NAME A B
    if cmp -s "$2" "$3"; then ok; else bad "$1: $2 and $3 differ"; fi
}
