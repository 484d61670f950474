#!/usr/bin/env bash
# Runs one test guest under btvm and checks that it passed: exit status 33
# (GUEST_PASS through isa-debug-exit), no FAIL line on its console, and at
# least one PASS line (or, for guests that print none, the status alone).
# Each --want LINE before the arguments must also be a whole line of the
# console (a guest that may end early on its own states how far it got),
# and each --match REGEX (extended) must match some line of the console or
# of what btvm printed (a --stats counter the test is about).
# With --stall SEED, the host stalls the vCPU as a loaded one does, only
# more often: btvm is stopped (SIGSTOP) for 0-89 ms every 0-49 ms until it
# ends, at random from SEED; a guest that checks time must allow what such
# stalls do (every clock moves on meanwhile, ticks come late in a burst).
# Usage: run_guest.sh [--want LINE | --match REGEX | --stall SEED]... BTVM GUEST [btvm options]
# The timeout only catches a hang: a guest under ASan, with one instruction
# per block, on a loaded host takes many times its usual second or two.
# (--foreground: btvm stays in the test's process group, which whatever
# stops a test, as tests/soak_load.sh does, ends at once.)
set -u
wants=()
matches=()
stall=
while [ "${1:-}" = --want ] || [ "${1:-}" = --match ] || [ "${1:-}" = --stall ]; do
	case $1 in
	--want) wants+=("$2") ;;
	--match) matches+=("$2") ;;
	--stall) stall=$2 ;;
	esac
	shift 2
done
btvm=$1
guest=$2
shift 2
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if [ -z "$stall" ]; then
	timeout --foreground 600 "$btvm" run --kernel "$guest" -m 64 "$@" </dev/null >"$log" 2>&1
	status=$?
else
	timeout --foreground 600 "$btvm" run --kernel "$guest" -m 64 "$@" </dev/null >"$log" 2>&1 &
	vm=$!
	RANDOM=$stall
	stopped=0
	while kill -0 "$vm" 2>/dev/null; do
		sleep "0.0$((RANDOM % 5))$((RANDOM % 10))"
		# timeout's child: btvm itself (timeout passes SIGCONT on, not SIGSTOP)
		pid=$(pgrep -P "$vm" -x "$(basename "$btvm")" || true)
		[ -n "$pid" ] || continue
		kill -STOP "$pid" 2>/dev/null || break
		sleep "0.0$((RANDOM % 9))$((RANDOM % 10))"
		kill -CONT "$pid" 2>/dev/null
		stopped=$((stopped + 1))
	done
	wait "$vm"
	status=$?
	echo "run_guest: stalled $stopped times (seed $stall)" >>"$log"
fi
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
