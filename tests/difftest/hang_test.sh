#!/usr/bin/env bash
# difftest's hang detector (difftest_hang): a VM run that spins without a
# result is killed once it has used --stall of CPU time, one that sits
# blocked once it has waited four times that while running under 1% of
# it; each sequence it held is reported as the guest dying of a hang, and
# difftest fails, never waiting on it for ever. The detector reads the
# child's CPU clock, so a run that only waits for a CPU on a loaded host
# is not taken for hung (the old wall-clock deadline was).
#	hang_test.sh DIFFTEST DT-NATIVE DT-GUEST.elf
set -u
difftest=$1 native=$2 guest=$3
here=$(cd "$(dirname "$0")" && pwd)
fail() { echo "difftest_hang: FAIL: $*"; exit 1; }
for mode in spin sleep; do
	out=$(DT_FAKE_VM=$mode "$difftest" run --seed 1 --count 2 --jobs 2 --chunk 1 --shrink 0 --stall 1 \
		--native "$native" --guest-elf "$guest" --btvm "$here/fake_vm.sh" 2>&1)
	rc=$?
	[ "$rc" = 1 ] || fail "$mode: difftest exited $rc, not 1: $out"
	grep -Eq '^ +2 +guest died: btvm hung \(no result in 1 s of its CPU time\)$' <<<"$out" ||
		fail "$mode: the two sequences are not reported as a hang: $out"
	echo "ok $mode: both sequences reported as the VM hanging"
done
