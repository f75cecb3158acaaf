#!/bin/sh
# Set up, build and run the whole test suite: a normal optimised build
# (build/, the default options), an AddressSanitizer + UBSan build
# (build-asan/), and a build without OpenMP (build-noomp/, every test but the
# browser one, which renders the same report as the normal build). The last
# two also build the MPI driver (-DCSEG_MPI=ON) and run custseg under mpirun
# (tests/mpi/mpi_tests.sh; the sanitizer build a shorter version).
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
      -DCSEG_MPI=ON -DCSEG_WERROR=$werror >/dev/null
cmake --build build-asan -j"$jobs"
# valgrind cannot run ASan binaries; the normal build ran it.
(cd build-asan && CSEG_NO_VALGRIND=1 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j"$jobs")
echo "== build without OpenMP (one thread) =="
cmake -S . -B build-noomp -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCSEG_OPENMP=OFF -DCSEG_BENCH=OFF \
      -DCSEG_MPI=ON -DCSEG_WERROR=$werror >/dev/null
cmake --build build-noomp -j"$jobs"
(cd build-noomp && CSEG_NO_VALGRIND=1 ctest --output-on-failure -j"$jobs" -E report_browser)
echo "== all tests passed in the three builds =="
