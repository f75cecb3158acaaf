#!/bin/sh
# Build and run the libFuzzer targets of tests/fuzz/ (docs/testing.md#fuzzing).
#
#   sh scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# TARGET: csv, date, model, report (default: all four; "fuzz_csv" works too).
# SECONDS_PER_TARGET defaults to 60. Each target is built with Debian's clang
# (-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined,
# library without OpenMP), its regression inputs (tests/fuzz/regress/TARGET/)
# are replayed, then it is fuzzed for the given time from its seed corpus
# (tests/fuzz/corpus/TARGET/) with its dictionary (tests/fuzz/TARGET.dict).
# Targets run one after the other, one fuzzer process at a time.
#
# Environment:
#   FUZZ_BUILD   build folder (default build-fuzz)
#   FUZZ_RUNS    stop a target after this many executions (default: time only)
#   FUZZ_FRESH=1 start from the seed corpus (default: the scratch corpus of
#                earlier runs, FUZZ_BUILD/corpus/TARGET, is kept and grown)
#   FUZZ_ARGS    extra libFuzzer options, e.g. "-max_len=4096"
#   CC           compiler (default clang)
#
# Output, under FUZZ_BUILD: fuzz_TARGET (binaries), corpus/TARGET/ (the
# scratch corpus: seeds plus what libFuzzer found; the repository is never
# written), crashes/TARGET/ (crash-*, leak-*, timeout-*, oom-* inputs),
# logs/TARGET.N.log (libFuzzer's output per session), summary.tsv. After a
# crash the target is restarted on its scratch corpus until its time or run
# budget is spent, so one finding does not end the campaign (five sessions in
# a row that fail within 3 s, or an interrupted one, end it); a summary per
# target gives executions, exec/s, coverage (cov: edges, ft: features, from
# libFuzzer's last status line) and the findings (distinct first lines of
# the sanitizer's or the target's report, with the first frame in project
# code). Exit status: 0 when nothing was found, 1 with findings, 2 on a build
# or usage error.
set -eu
cd "$(dirname "$0")/.."

secs=60
case "${1:-}" in
    '' | *[!0-9]*) ;;
    *) secs=$1; shift ;;
esac
all="csv date model report"
targets=""
for t in "$@"; do
    t=${t#fuzz_}
    case " $all " in
        *" $t "*) targets="$targets $t" ;;
        *) echo "fuzz.sh: unknown target '$t' (targets: $all)" >&2; exit 2 ;;
    esac
done
[ -n "$targets" ] || targets=$all
build=${FUZZ_BUILD:-build-fuzz}
runs=${FUZZ_RUNS:-0}
cc=${CC:-clang}

# ---- tools: Debian's clang with the libFuzzer runtime, llvm-symbolizer for stacks
need=""
command -v "$cc" >/dev/null 2>&1 || need="clang libclang-rt-dev llvm"
if [ -z "$need" ]; then
    probe=$(mktemp -d)
    printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n)\n{ (void)d; (void)n; return 0; }\n' >"$probe/p.c"
    "$cc" -fsanitize=fuzzer,address,undefined "$probe/p.c" -o "$probe/p" 2>/dev/null ||
        need="clang libclang-rt-dev llvm"
    rm -rf "$probe"
fi
if [ -n "$need" ]; then
    if [ "$(id -u)" -eq 0 ]; then
        echo "== installing $need (libFuzzer needs clang and its runtime) =="
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends $need
    else
        echo "fuzz.sh: $cc with the libFuzzer runtime is missing" >&2
        echo "run: sudo apt-get install -y $need" >&2
        exit 2
    fi
fi
sh scripts/setup.sh >/dev/null || { echo "fuzz.sh: run sh scripts/setup.sh first" >&2; exit 2; }
if ! command -v llvm-symbolizer >/dev/null 2>&1; then
    for s in /usr/lib/llvm-*/bin/llvm-symbolizer; do
        [ -x "$s" ] && export ASAN_SYMBOLIZER_PATH="$s"
    done
fi

# ---- build: the library sources once (no OpenMP), then one binary per target
mkdir -p "$build/obj"
base="-std=c11 -g -O1 -fno-omit-frame-pointer -ffp-contract=off -fno-math-errno"
base="$base -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Iinclude -Wall -Wno-unknown-pragmas"
# src/kmeans/kmeans.c uses GCC's __builtin_shuffle: a clang definition of it (no effect on GCC).
compat="-include tests/fuzz/clang_compat.h"
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
libs="$(pkg-config --libs jansson sqlite3 libpq libcrypto) -lz"
libflags="$(pkg-config --cflags jansson sqlite3 libpq libcrypto)"
if pkg-config --exists libdeflate; then
    libflags="$libflags -DCSEG_HAVE_LIBDEFLATE"
    libs="$libs -ldeflate"
fi
libs="$libs -llapacke -lopenblas -lm -lpthread"
stamp="$build/obj/flags"
flags="$cc $base $compat $san $libflags"
[ -f "$stamp" ] && [ "$(cat "$stamp")" = "$flags" ] || { rm -f "$build"/obj/*.o; echo "$flags" >"$stamp"; }
# Any header newer than an object rebuilds that object.
newest_h=$(ls -t include/custseg/*.h src/*/*.h | head -n 1)
objs=""
built=0
for src in src/*/*.c; do
    obj="$build/obj/$(echo "${src#src/}" | tr / _ | sed 's/\.c$/.o/')"
    objs="$objs $obj"
    if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ "$newest_h" -nt "$obj" ] || [ tests/fuzz/clang_compat.h -nt "$obj" ]; then
        $cc $base $compat $san -fsanitize=fuzzer-no-link $libflags -c "$src" -o "$obj"
        built=$((built + 1))
    fi
done
lib="$build/libcustseg_fuzz.a"
if [ "$built" -gt 0 ] || [ ! -f "$lib" ]; then
    rm -f "$lib"
    ar rcs "$lib" $objs
fi
echo "== library: $built of $(echo $objs | wc -w) objects rebuilt ($build) =="
for t in $targets; do
    bin="$build/fuzz_$t"
    if [ ! -f "$bin" ] || [ "$lib" -nt "$bin" ] || [ "tests/fuzz/fuzz_$t.c" -nt "$bin" ] ||
        [ tests/fuzz/fuzz_common.h -nt "$bin" ]; then
        $cc $base $san -fsanitize=fuzzer "tests/fuzz/fuzz_$t.c" "$lib" $libs -o "$bin"
    fi
done

# ---- run
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
mkdir -p "$build/logs"
summary="$build/summary.tsv"
printf 'target\tseconds\texecutions\texec_per_s\tcov\tft\tcorpus\tfindings\n' >"$summary"
status=0

# The first line of a report that tells this problem from another, and the
# first stack frame in project code (src/ or tests/fuzz/).
signature() {
    what=$(grep -m1 -E 'runtime error:|^SUMMARY: |fuzz invariant failed|ALARM: working on|out-of-memory|==ERROR: LeakSanitizer' "$1" |
        sed -E 's/^==[0-9]+==//; s/ \(pid [0-9]+\)//; s/for [0-9]+ seconds/for N seconds/; s#[^ ]*/(src|tests)/#\1/#g' | cut -c1-160)
    where=$(grep -m1 -E '^ *#[0-9]+ .* in [^ ]+ [^ ]*/(src|tests/fuzz)/' "$1" |
        sed -E 's/^ *#[0-9]+ 0x[0-9a-f]+ in //; s#[^ ]*/(src|tests)/#\1/#')
    echo "${what:-unknown failure} @ ${where:-?}"
}

# Scratch files the targets leave when a run is cut short (crash, timeout):
# /dev/shm/cseg_fuzz_PID_* (or in TMPDIR, /tmp) of processes that have ended.
clean_scratch() {
    for f in /dev/shm/cseg_fuzz_* "${TMPDIR:-/tmp}"/cseg_fuzz_*; do
        [ -e "$f" ] || continue
        pid=${f##*/cseg_fuzz_}
        pid=${pid%%_*}
        kill -0 "$pid" 2>/dev/null || rm -f "$f"
    done
}

for t in $targets; do
    bin="$build/fuzz_$t"
    corpus="$build/corpus/$t"
    crashes="$build/crashes/$t"
    [ "${FUZZ_FRESH:-0}" = 1 ] && rm -rf "$corpus"
    mkdir -p "$corpus" "$crashes"
    cp tests/fuzz/corpus/"$t"/* "$corpus"/
    case $t in
        date) maxlen=512 ;;
        model) maxlen=20000 ;;
        *) maxlen=16384 ;;
    esac
    findings="$build/logs/$t.findings"
    rm -f "$build/logs/$t".*.log # the logs of an earlier run of this target
    : >"$findings"

    # Regression inputs first: each must now pass.
    if [ -d "tests/fuzz/regress/$t" ] && [ -n "$(ls "tests/fuzz/regress/$t")" ]; then
        for f in tests/fuzz/regress/"$t"/*; do
            if ! "$bin" -runs=1 -timeout=10 "$f" >"$build/logs/$t.regress.log" 2>&1; then
                echo "$(signature "$build/logs/$t.regress.log") [regression input $f]" >>"$findings"
            fi
            clean_scratch
        done
    fi

    echo "== fuzz_$t: ${secs}s${FUZZ_RUNS:+ or $runs runs}, corpus $corpus =="
    start=$(date +%s)
    execs=0
    session=0
    quick=0
    cov=0 ft=0
    while :; do
        now=$(date +%s)
        left=$((secs - (now - start)))
        [ "$left" -gt 0 ] || break
        session=$((session + 1))
        log="$build/logs/$t.$session.log"
        runopt=""
        if [ "$runs" -gt 0 ]; then
            [ "$execs" -lt "$runs" ] || break
            runopt="-runs=$((runs - execs))"
        fi
        rc=0
        t0=$(date +%s)
        # shellcheck disable=SC2086
        "$bin" "$corpus" -dict="tests/fuzz/$t.dict" -max_len=$maxlen -timeout=10 \
            -rss_limit_mb=2048 -max_total_time="$left" $runopt -print_final_stats=1 \
            -artifact_prefix="$crashes/" ${FUZZ_ARGS:-} >"$log" 2>&1 || rc=$?
        clean_scratch
        n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
        if [ -z "$n" ]; then # no final stats (e.g. a deadly signal): the last status line
            n=$(grep -E '^#[0-9]+' "$log" | tail -n 1 | sed -E 's/^#([0-9]+).*/\1/')
        fi
        execs=$((execs + ${n:-0}))
        last=$(grep -E '^#[0-9]+.* cov: ' "$log" | tail -n 1)
        if [ -n "$last" ]; then
            cov=$(echo "$last" | sed -E 's/.* cov: ([0-9]+).*/\1/')
            ft=$(echo "$last" | sed -E 's/.* ft: ([0-9]+).*/\1/')
        fi
        if grep -q 'libFuzzer: run interrupted' "$log"; then
            echo "fuzz_$t: interrupted by a signal (session $session); stopping this target"
            break
        fi
        if [ "$rc" -ne 0 ]; then
            art=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
            echo "$(signature "$log") [${art:-no input saved}]" >>"$findings"
            # Restart on the corpus, unless sessions keep failing at once (a seed or the
            # target's set-up itself fails): then five in a row end the target.
            if [ $(($(date +%s) - t0)) -lt 3 ]; then quick=$((quick + 1)); else quick=0; fi
            if [ "$quick" -ge 5 ]; then
                echo "fuzz_$t: 5 sessions in a row failed within 3 s; stopping this target"
                break
            fi
            continue
        fi
        break
    done
    elapsed=$(($(date +%s) - start))
    rate=$((execs / (elapsed > 0 ? elapsed : 1)))
    size=$(ls "$corpus" | wc -l)
    nfind=$(sed 's/ \[.*//' "$findings" | sort -u | grep -c . || true)
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$elapsed" "$execs" "$rate" "$cov" "$ft" \
        "$size" "$nfind" >>"$summary"
    echo "fuzz_$t: ${elapsed}s, $execs executions ($rate/s), cov $cov, ft $ft, corpus $size files," \
        "$nfind distinct finding(s), $session session(s)"
    if [ "$nfind" -gt 0 ]; then
        status=1
        sed 's/ \[.*//' "$findings" | sort | uniq -c | sed 's/^ */  /'
        echo "  inputs: $crashes/ (logs: $build/logs/$t.*.log)"
    fi
done
echo "== summary ($summary) =="
column -t -s "$(printf '\t')" "$summary" 2>/dev/null || cat "$summary"
exit $status
