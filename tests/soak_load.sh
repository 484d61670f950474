#!/usr/bin/env bash
# The soak under load: the whole of ctest, on build/ and build-asan/ (with
# the environment scripts/test.sh gives the sanitized build), RUNS times
# over, beside stress-ng's CPU hog on every core, which this script starts
# and stops (on every way out, Ctrl-C included). A test that fails here
# assumes something of the host's timing that a loaded machine breaks, or
# hides a race in btvm. Prints each run's failed tests and at the end how
# many runs failed; the exit status is 1 if any did (2 for a usage error,
# 130/143 when interrupted). Each run's whole ctest output is kept in the
# log directory (soak-logs/ by default). Not part of CI: ten runs of both
# builds take two hours or more on two cores.
# Usage: tests/soak_load.sh [--runs N] [--builds "build build-asan"]
#                           [--log-dir DIR] [-- CTEST-ARG...]
set -u
cd "$(dirname "$0")/.."
root=$PWD

runs=10
builds="build build-asan"
logdir=$root/soak-logs
ctest_args=()
while [ $# -gt 0 ]; do
	case $1 in
	--runs) runs=$2; shift 2 ;;
	--builds) builds=$2; shift 2 ;;
	--log-dir) logdir=$2; shift 2 ;;
	--) shift; ctest_args=("$@"); break ;;
	*) echo "usage: $0 [--runs N] [--builds \"build build-asan\"] [--log-dir DIR] [-- CTEST-ARG...]" >&2
	   exit 2 ;;
	esac
done
case $runs in
''|*[!0-9]*|0) echo "soak_load: --runs wants a positive number, not \"$runs\"" >&2; exit 2 ;;
esac
command -v stress-ng >/dev/null || { echo "soak_load: needs stress-ng (scripts/setup.sh installs it)" >&2; exit 2; }
for b in $builds; do
	[ -f "$b/CTestTestfile.cmake" ] || { echo "soak_load: $b is not a configured build (scripts/setup.sh --asan)" >&2; exit 2; }
done
mkdir -p "$logdir"

jobs=$(nproc 2>/dev/null || echo 2)
# The hog and each ctest run in process groups of their own (setsid), so
# that one kill ends what is left of a group (tests under timeout(1) have
# groups of their own, which ctest itself ends on SIGTERM); ctest runs in the
# background and is waited for, so that a signal to this script is acted
# on at once (bash runs traps only once a foreground child is done).
hog=
run=
stop_group() {
	kill -TERM "$1" 2>/dev/null	# ctest ends the tests it runs
	wait "$1" 2>/dev/null
	kill -TERM -- "-$1" 2>/dev/null	# and whatever is left of the group
}
stop_all() {
	[ -z "$run" ] || stop_group "$run"
	[ -z "$hog" ] || stop_group "$hog"
	run= hog=
}
trap stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP
setsid stress-ng --cpu "$jobs" --quiet >/dev/null 2>&1 &
hog=$!
echo "soak_load: stress-ng --cpu $jobs (pid $hog), $runs run(s) of: $builds"

failed_runs=0
total_runs=0
for ((i = 1; i <= runs; i++)); do
	for b in $builds; do
		kill -0 "$hog" 2>/dev/null || { echo "soak_load: stress-ng is gone" >&2; exit 2; }
		log=$logdir/run$i-$b.log
		start=$SECONDS
		env=()
		if [ "$b" = build-asan ]; then
			# As scripts/test.sh runs the sanitized build.
			env=(ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
			     UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
			     LSAN_OPTIONS=suppressions=$root/tests/system/lsan_display.supp:print_suppressions=0)
		fi
		setsid env ${env[@]+"${env[@]}"} ctest --test-dir "$b" --output-on-failure -j"$jobs" \
			${ctest_args[@]+"${ctest_args[@]}"} >"$log" 2>&1 </dev/null &
		run=$!
		wait "$run"
		status=$?
		run=
		total_runs=$((total_runs + 1))
		# ctest's closing list: "  12 - guest_clocks_one_insn (Failed)"
		failed=$(sed -n '/^The following tests FAILED:/,$p' "$log" |
			sed -n 's/^[[:space:]]*[0-9]* - \(.*\)$/\1/p' | tr '\n' ' ')
		line="run $i $b: $((SECONDS - start)) s,"
		if [ "$status" = 0 ]; then
			line="$line passed"
		else
			failed_runs=$((failed_runs + 1))
			line="$line FAILED (ctest status $status): ${failed:-see $log}"
		fi
		echo "$line"
	done
done
echo "soak_load: $failed_runs of $total_runs runs failed ($runs x $builds, beside stress-ng --cpu $jobs); logs in $logdir"
[ "$failed_runs" = 0 ]
