#!/bin/sh
# Set up, build and run the whole test suite twice: a normal optimised build
# (build/) and an AddressSanitizer + UBSan build (build-asan/).
# Usage: scripts/test.sh    (warnings are errors when CI is set)
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
werror=OFF
[ -n "${CI:-}" ] && werror=ON
jobs=$(nproc 2>/dev/null || echo 2)

echo "== normal build =="
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCSEG_WERROR=$werror >/dev/null
cmake --build build -j"$jobs"
(cd build && ctest --output-on-failure -j"$jobs")

echo "== ASan + UBSan build =="
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCSEG_SANITIZE=ON -DCSEG_BENCH=OFF \
      -DCSEG_WERROR=$werror >/dev/null
cmake --build build-asan -j"$jobs"
# valgrind cannot run ASan binaries; the normal build ran it.
(cd build-asan && CSEG_NO_VALGRIND=1 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j"$jobs")
echo "== all tests passed in both builds =="
