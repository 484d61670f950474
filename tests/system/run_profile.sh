#!/usr/bin/env bash
# --profile N end to end: a compute guest (bench's qsort) runs with its
# three hottest blocks listed at exit; each must show its samples, its
# guest instructions and their translation (Capstone), the expansion ratio
# and its exits, and the samples add up (the hot blocks' within translated
# code's, within the total).
# Usage: run_profile.sh BTVM GUEST_ELF
set -u
btvm=$1
guest=$2
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$btvm" run --kernel "$guest" --display none --net none -m 64 --profile 3 </dev/null >"$out" 2>&1
status=$?
fail() { echo "FAIL: $*"; cat "$out"; exit 1; }
[ "$status" = 33 ] || fail "the guest exited $status, not 33"
grep -q '^btvm profile: the 3 hottest blocks$' "$out" || fail "no hot-block list"
for n in 1 2 3; do
	grep -Eq "^#$n: [0-9]+ samples \([0-9.]+%\), guest [0-9a-f]{8} mode [0-9a-f]+, [0-9]+ instructions, [0-9]+ guest bytes -> [0-9]+ host bytes \(expansion [0-9.]+x\)$" "$out" ||
		fail "block #$n is not listed with its samples and expansion"
done
[ "$(grep -c '^  host:$' "$out")" = 3 ] || fail "not three translations listed"
grep -Eq '^  exit [0-9]: branch to [0-9a-f]{8}, (chained|through the monitor)' "$out" || fail "no exits listed"
# Samples: the hot blocks' are translated code's, which the total holds.
# (How much of the time translated code takes is a figure for bench/, not
# a check: beside a CPU hog the guest's timer work, which follows the
# wall clock, takes a larger share of its CPU time; the share fell below
# half 1 run in 12 beside stress-ng.)
read -r total translated < <(sed -n 's/^btvm profile: \([0-9]*\) samples .*: \([0-9]*\) in translated code.*/\1 \2/p' "$out")
[ -n "${total:-}" ] && [ "$total" -ge 20 ] || fail "too few samples: ${total:-none}"
hot=$(sed -n 's/^#[123]: \([0-9]*\) samples .*/\1/p' "$out" | awk '{ s += $1 } END { print s + 0 }')
top=$(sed -n 's/^#1: \([0-9]*\) samples .*/\1/p' "$out")
[ "${top:-0}" -ge 1 ] || fail "the hottest block has no samples"
[ "$translated" -ge "$hot" ] && [ "$translated" -le "$total" ] ||
	fail "$translated samples in translated code, but the hot blocks have $hot of $total"
echo "profile: $total samples, $translated in translated code, $hot in the 3 hot blocks"
