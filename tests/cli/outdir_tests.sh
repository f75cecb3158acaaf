#!/bin/sh
# The output folder changes as one set (issue 16.11): runs killed with
# SIGKILL at many points, and runs racing on one folder, always leave it
# holding one whole run's files (the earlier set or the new one), never a mix
# and never a temporary folder once a later run has finished.
# Usage: outdir_tests.sh CUSTSEG SOURCE_DIR [KILLS]
set -u
BIN=$1
SRC=$2
KILLS=${3:-40}
T=$(mktemp -d /tmp/custseg-outdir.XXXXXX)
trap 'rm -rf "$T"' EXIT
MALL=$SRC/data/mall_customers.csv
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# Two complete runs to compare with: A is k-means (no dendrogram), B is Ward
# (two more files); both read the same input, so only the outputs differ.
"$BIN" fit "$MALL" --k 3 --out "$T/refA" --quiet >/dev/null || bad "reference A"
"$BIN" fit "$MALL" --algo ward --k 4 --out "$T/refB" --quiet >/dev/null || bad "reference B"

# The folder is exactly A's or B's files (names and bytes).
whole() { # NAME DIR
    for ref in "$T/refA" "$T/refB"; do
        if [ "$(ls -A "$2")" = "$(ls -A "$ref")" ]; then
            same=1
            for f in $(ls -A "$ref"); do
                cmp -s "$ref/$f" "$2/$f" || same=0
            done
            if [ $same -eq 1 ]; then ok; return; fi
        fi
    done
    bad "$1: $2 holds neither whole set: $(ls -A "$2" | tr '\n' ' ')"
}
no_temps() { # NAME
    if ls -A "$T" | grep -q '^\.out\.tmp\.'; then bad "$1: temporary folder left: $(ls -A "$T" | tr '\n' ' ')"; else ok; fi
}

cp -r "$T/refA" "$T/out"
i=0
while [ $i -lt "$KILLS" ]; do
    # Alternate the two runs so that each kill interrupts a change of set.
    if [ $((i % 2)) -eq 0 ]; then args="--algo ward --k 4"; else args="--k 3"; fi
    # shellcheck disable=SC2086
    "$BIN" fit "$MALL" $args --out "$T/out" --quiet >/dev/null 2>&1 &
    pid=$!
    # From 0 to about 60 ms: before, while and after the files are written.
    sleep "$(awk -v i=$i 'BEGIN { srand(i + 17); printf "0.%03d", int(rand() * 60) }')"
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null
    whole "kill-$i" "$T/out"
    i=$((i + 1))
done
# A finished run removes what the killed ones left beside the folder.
"$BIN" fit "$MALL" --k 3 --out "$T/out" --quiet >/dev/null || bad "run after kills"
whole "after-kills" "$T/out"
no_temps "after-kills"

# Runs racing on one folder take turns: the folder ends as one whole set.
for round in 1 2 3; do
    "$BIN" fit "$MALL" --k 3 --out "$T/out" --quiet >/dev/null 2>&1 &
    p1=$!
    "$BIN" fit "$MALL" --algo ward --k 4 --out "$T/out" --quiet >/dev/null 2>&1 &
    p2=$!
    "$BIN" fit "$MALL" --k 3 --out "$T/out" --quiet >/dev/null 2>&1 &
    p3=$!
    wait $p1 && wait $p2 && wait $p3 || bad "race-$round: a run failed"
    whole "race-$round" "$T/out"
    no_temps "race-$round"
done

# A folder with other files of the user's: they stay, the outputs are replaced
# (and a dendrogram of an earlier Ward run goes).
mkdir -p "$T/mine"
echo keep > "$T/mine/notes.txt"
"$BIN" fit "$MALL" --algo ward --k 4 --out "$T/mine" --quiet >/dev/null || bad "mine ward"
"$BIN" fit "$MALL" --k 3 --out "$T/mine" --quiet >/dev/null || bad "mine kmeans"
[ "$(cat "$T/mine/notes.txt")" = keep ] && ok || bad "mine: notes.txt changed"
[ -e "$T/mine/dendrogram.csv" ] && bad "mine: stale dendrogram.csv" || ok
rm "$T/mine/notes.txt"
whole "mine" "$T/mine"

# --out a link to a folder: the outputs go into that folder, the link stays, and
# nothing of the user's there is removed (the link was once swapped for a folder,
# and the old set's removal followed it).
mkdir -p "$T/target"
ln -s target "$T/link"
"$BIN" fit "$MALL" --k 3 --out "$T/link" --quiet >/dev/null || bad "link first"
"$BIN" fit "$MALL" --algo ward --k 4 --out "$T/link" --quiet >/dev/null || bad "link second"
[ -L "$T/link" ] && ok || bad "link: --out is no longer a link"
whole "link" "$T/target"
echo keep > "$T/target/notes.txt"
"$BIN" fit "$MALL" --k 3 --out "$T/link" --quiet >/dev/null || bad "link third"
[ "$(cat "$T/target/notes.txt" 2>/dev/null)" = keep ] && ok || bad "link: notes.txt removed"
if ls -A "$T" | grep -q '^\.link\.tmp\.\|^\.target\.tmp\.'; then bad "link: temporary left"; else ok; fi
ln -s nowhere "$T/dangling"
"$BIN" fit "$MALL" --k 3 --out "$T/dangling" --quiet >/dev/null 2>"$T/err"
[ $? -eq 3 ] && grep -q "a link" "$T/err" && ok || bad "dangling link: $(cat "$T/err")"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
