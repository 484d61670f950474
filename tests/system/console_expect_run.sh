#!/usr/bin/env bash
# console_expect's `run` step: a host command between two steps of the
# program's console (bench/disk/run.sh measures the host there), which
# runs at that point of the script, and a command that fails fails the
# step with its status.
#
# Usage: console_expect_run.sh CONSOLE_EXPECT
set -euo pipefail
expect_bin=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "console_expect_run: FAIL: $*" >&2; exit 1; }

# The program answers each line it reads; the host command runs after the
# first answer and before the second line is typed, so the file it writes
# exists when the program reads that line.
prog=(sh -c 'read a; echo "got-$a"; read b; if [ -e "$0" ]; then echo "seen-$b"; else echo "missing-$b"; fi' "$work/ran")
cat >"$work/ok.expect" <<EOF2
send one
expect got-one
run echo host-side > '$work/ran'
send two
expect seen-two
expect_exit 0
EOF2
"$expect_bin" -p -t 20 "$work/ok.expect" "${prog[@]}" >"$work/ok.out" 2>&1 ||
	fail "the script with a run step failed: $(tail -3 "$work/ok.out")"
[ "$(cat "$work/ran")" = host-side ] || fail "the host command did not write its file"
echo "console_expect_run: the host command ran between the two steps"

rm -f "$work/ran"
cat >"$work/bad.expect" <<EOF2
send one
expect got-one
run exit 3
send two
expect_exit 0
EOF2
status=0
"$expect_bin" -p -t 20 "$work/bad.expect" "${prog[@]}" >"$work/bad.out" 2>&1 || status=$?
[ "$status" = 1 ] || fail "a failing host command: exit status $status, not 1"
grep -q 'the host command exited with status 3' "$work/bad.out" ||
	fail "no 'exited with status 3' for a failing host command: $(tail -3 "$work/bad.out")"
echo "console_expect_run: a host command that exits 3 fails its step"

# A program that says why it stops and exits while a host command runs:
# nothing reads its output meanwhile, and the failure still shows what it
# wrote and how it ended (the log was empty, as if it had hung silently).
# The command finds it by CONSOLE_EXPECT_PID, a zombie until the command
# is done.
cat >"$work/gone.expect" <<'EOF2'
run [ -n "$CONSOLE_EXPECT_PID" ] || exit 2; until grep -q '^State:.*Z' /proc/$CONSOLE_EXPECT_PID/status; do sleep 0.05; done; exit 1
expect never-printed
EOF2
status=0
"$expect_bin" -t 20 "$work/gone.expect" sh -c 'echo why-it-stopped >&2; exit 5' >"$work/gone.out" 2>&1 ||
	status=$?
[ "$status" = 1 ] || fail "a program gone during a run step: exit status $status, not 1"
grep -q 'why-it-stopped' "$work/gone.out" ||
	fail "the failure does not show what the program wrote during the run step: $(cat "$work/gone.out")"
grep -q 'the program exited with status 5 when the step failed' "$work/gone.out" ||
	fail "the failure does not say how the program ended: $(cat "$work/gone.out")"
echo "console_expect_run: a program that ended during a run step: its output and exit status shown"
