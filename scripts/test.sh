#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: the normal build, then the
# same suite under AddressSanitizer + UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
# Tests pick free ports and temp dirs at run time: they run in parallel, one per core.
JOBS="$(nproc)"
(cd build && ctest --output-on-failure --timeout 300 -j"$JOBS")
# The normalizers' libFuzzer targets, briefly and repeatably (clang; crashes fail the run).
scripts/fuzz.sh "${OMNIROUTE_FUZZ_RUNS:-50000}"
if [ "${OMNIROUTE_SKIP_SANITIZE:-0}" != "1" ]; then
  BUILD_DIR=build-asan BUILD_TYPE=Debug SANITIZE=1 scripts/build.sh
  # The sanitized build is several times slower: the routing property test runs 200 of
  # its 1,000 generated sequences there (all 1,000 run in the normal build above).
  (cd build-asan && OMNIROUTE_PROPERTY_SEQUENCES=200 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure --timeout 600 -j"$JOBS")
fi
