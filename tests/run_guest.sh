#!/usr/bin/env bash
# Runs one test guest under btvm and checks that it passed: exit status 33
# (GUEST_PASS through isa-debug-exit), no FAIL line on its console, and at
# least one PASS line (or, for guests that print none, the status alone).
# Each --want LINE before the arguments must also be a whole line of the
# console (a guest that may end early on its own states how far it got),
# and each --match REGEX (extended) must match some line of the console or
# of what btvm printed (a --stats counter the test is about).
# Usage: run_guest.sh [--want LINE | --match REGEX]... BTVM GUEST [btvm options]
# The timeout only catches a hang: a guest under ASan, with one instruction
# per block, on a loaded host takes many times its usual second or two.
# (--foreground: btvm stays in the test's process group, which whatever
# stops a test, as tests/soak_load.sh does, ends at once.)
set -u
wants=()
matches=()
while [ "${1:-}" = --want ] || [ "${1:-}" = --match ]; do
	if [ "$1" = --want ]; then
		wants+=("$2")
	else
		matches+=("$2")
	fi
	shift 2
done
btvm=$1
guest=$2
shift 2
log=$(mktemp)
trap 'rm -f "$log"' EXIT
timeout --foreground 600 "$btvm" run --kernel "$guest" -m 64 "$@" </dev/null >"$log" 2>&1
status=$?
cat "$log"
if [ "$status" != 33 ]; then
	echo "run_guest: $(basename "$guest") exited with status $status, want 33"
	exit 1
fi
if grep -q '^FAIL' "$log"; then
	echo "run_guest: $(basename "$guest") reported failures"
	exit 1
fi
for want in ${wants[@]+"${wants[@]}"}; do
	if ! grep -qxF -- "$want" "$log"; then
		echo "run_guest: $(basename "$guest") printed no line \"$want\""
		exit 1
	fi
done
for match in ${matches[@]+"${matches[@]}"}; do
	if ! grep -qE -- "$match" "$log"; then
		echo "run_guest: $(basename "$guest") printed no line matching \"$match\""
		exit 1
	fi
done
exit 0
