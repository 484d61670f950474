#!/usr/bin/env bash
# Runs one test guest under qemu-system-i386 (TCG) as a reference that
# keeps the guest itself right (it runs under btvm too). Passes when the
# guest exits with status
# 33 and reports no failure, or when every failure it reports is in one of
# the groups named after the kernel: groups whose checks follow the SDM
# where QEMU does not, or that need btvm's test device (the guest's source
# says why at each such group).
# Usage: run_qemu_guest.sh [--append TEXT] [--cpu MODEL] [--mem MIB] [--smp N] QEMU KERNEL [GUEST.GROUP...]
set -u
append=()
cpu=()
mem=128
smp=1
while [ "${1:-}" = --append ] || [ "${1:-}" = --cpu ] || [ "${1:-}" = --mem ] || [ "${1:-}" = --smp ]; do
	case "$1" in
	--smp) smp=$2 ;;
	--append) append=(-append "$2") ;;
	--cpu) cpu=(-cpu "$2") ;;
	--mem) mem=$2 ;;
	esac
	shift 2
done
qemu=$1
guest=$2
shift 2
log=$(mktemp)
trap 'rm -f "$log"' EXIT
timeout 120 "$qemu" -accel tcg "${cpu[@]}" -m "$mem" -smp "$smp" -kernel "$guest" "${append[@]}" -serial stdio -display none \
	-device isa-debug-exit,iobase=0xf4,iosize=4 -no-reboot </dev/null >"$log" 2>&1
status=$?
cat "$log"
name=$(basename "$guest" .elf)
name=${name%_qemu}   # a -DQEMU_TCG build reports under its guest's name
if [ "$status" = 33 ] && ! grep -q '^FAIL' "$log"; then
	exit 0
fi
if [ "$status" != 35 ] && [ "$status" != 33 ]; then
	echo "run_qemu_guest: $name exited with status $status, want 33"
	exit 1
fi
# The summary line must be there: the guest ran to its end.
if ! grep -Eq "^(PASS|FAIL) $name \(" "$log"; then
	echo "run_qemu_guest: $name did not finish"
	exit 1
fi
unexpected=0
while IFS= read -r line; do
	case "$line" in
	"FAIL $name ("*) continue ;;    # the summary
	esac
	known=0
	for group in "$@"; do
		case "$line" in
		"FAIL $group "*) known=1 ;;
		esac
	done
	if [ "$known" = 0 ]; then
		echo "run_qemu_guest: unexpected: $line"
		unexpected=1
	fi
done < <(grep '^FAIL' "$log")
if [ "$unexpected" != 0 ]; then
	exit 1
fi
echo "run_qemu_guest: $name: only the known SDM-vs-QEMU differences failed ($*)"
exit 0
