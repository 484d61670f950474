#!/usr/bin/env bash
# monitor_command.py under console_expect when btvm does not answer: a
# btvm that exits before its monitor socket exists (a --restore of a file
# that is no snapshot) makes it give up at once, with btvm's exit status
# and stderr, rather than wait out its timeout for a socket that will not
# come; a program still running at the timeout has its threads' states
# listed, to say where it waits.
# Usage: run_monitor_gone.sh BTVM CONSOLE_EXPECT
set -u
btvm=$1
expect_bin=$2
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "run_monitor_gone: FAIL: $*"; exit 1; }

echo "not a snapshot" >"$work/k.snap"
cat >"$work/gone.expect" <<EOS
run python3 $here/monitor_command.py --stderr $work/stderr $work/mon.sock query-status
EOS
status=0
"$expect_bin" -t 600 "$work/gone.expect" sh -c 'exec "$@" 2>"$0"' "$work/stderr" "$btvm" run \
	--restore "$work/k.snap" --display none --monitor unix:"$work/mon.sock" >"$work/gone.out" 2>&1 ||
	status=$?
[ "$status" = 1 ] || fail "console_expect's status $status, not 1: $(cat "$work/gone.out")"
grep -q 'monitor_command.py: cannot connect to .*: btvm exited with status 1' "$work/gone.out" ||
	fail "no exit status from monitor_command.py: $(cat "$work/gone.out")"
grep -q '^btvm: .*k.snap: not a btvm snapshot' "$work/gone.out" ||
	fail "no btvm stderr in monitor_command.py's message: $(cat "$work/gone.out")"
echo "run_monitor_gone: a btvm that exited: its status and stderr, at once"

# A program that never makes the socket and keeps running: at the end of
# the (short) timeout its threads are listed. Whether it answers in time is
# not the question: it never answers.
cat >"$work/stuck.expect" <<EOS
run python3 $here/monitor_command.py --timeout 1 $work/none.sock query-status
EOS
status=0
"$expect_bin" -t 600 "$work/stuck.expect" sleep 600 >"$work/stuck.out" 2>&1 || status=$?
[ "$status" = 1 ] || fail "console_expect's status $status, not 1: $(cat "$work/stuck.out")"
grep -q '^thread [0-9]* (sleep): state S' "$work/stuck.out" ||
	fail "no thread list for a program that did not answer: $(cat "$work/stuck.out")"
echo "run_monitor_gone: a program that did not answer: its threads listed"
