#!/usr/bin/env bash
# Sets everything up and runs the whole test suite twice: on the normal
# build and on the AddressSanitizer + UBSan build.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --asan
jobs=$(nproc 2>/dev/null || echo 2)
echo "== tests: build/"
ctest --test-dir build --output-on-failure -j"$jobs"
echo "== tests: build-asan/ (AddressSanitizer + UBSan)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	ctest --test-dir build-asan --output-on-failure -j"$jobs"
