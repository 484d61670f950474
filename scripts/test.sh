#!/usr/bin/env bash
# Sets everything up and runs the whole test suite twice: on the normal
# build and on the AddressSanitizer + UBSan build; then the tests where
# several host threads run at once (label tsan: the SMP guests and Linux,
# the console, disk, monitor and gdb threads) on the ThreadSanitizer
# build; then short libFuzzer runs of the loaders, the devices and the
# translator (tests/fuzz).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --asan
jobs=$(nproc 2>/dev/null || echo 2)
# One test more than the host has CPUs: many wait on a guest's timers, a
# window's events or a pause between steps, and the tests hold under load
# (on 2 cores: build/ 675 s with 2 at once, 593 s with 3; build-asan/
# 645 s and 549 s).
echo "== tests: build/"
ctest --test-dir build --output-on-failure -j"$((jobs + 1))"
echo "== tests: build-asan/ (AddressSanitizer + UBSan)"
# (The suppressions name only SDL2's and libdbus's own allocations.)
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	LSAN_OPTIONS=suppressions=$PWD/tests/system/lsan_display.supp:print_suppressions=0 \
	ctest --test-dir build-asan --output-on-failure -j"$((jobs + 1))"
echo "== tests: build-tsan/ (ThreadSanitizer: the tests labelled tsan)"
# (TSAN_OPTIONS come with each test: a report fails it; tsan.supp.)
ctest --test-dir build-tsan --output-on-failure -j"$jobs" -L tsan
echo "== tests: build-fuzz/ (libFuzzer: the regression inputs, then 20 s a target)"
ctest --test-dir build-fuzz --output-on-failure -j"$jobs" -L 'fuzz-replay|libfuzzer'
