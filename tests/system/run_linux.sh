#!/usr/bin/env bash
# End-to-end check: boots Debian 12's i386 kernel with the busybox initramfs
# (both from scripts/fetch-guest.sh) under btvm or qemu-system-i386 on a
# pseudo-terminal, and drives the serial console with
# tests/system/console_expect through tests/system/linux/boot.expect: shell
# prompt, the PS/2 mouse, uname, /proc, 300 forks, dd, then poweroff, which
# must end the VMM with status 0.
#
# Usage: run_linux.sh [options] btvm BTVM-BINARY [EXTRA-ARG...]
#        run_linux.sh [options] qemu [QEMU-BINARY [EXTRA-ARG...]]
# The kernel, initrd, command line and memory size are filled in:
#   btvm: BTVM run --kernel K --initrd I --append A -m MIB --no-reboot EXTRA...
#   qemu: QEMU -m MIB -kernel K -initrd I -append A -nographic -no-reboot EXTRA...
# Options:
#   --append STRING    kernel command line (default: console=ttyS0), to
#                      which the arguments of linux/quick_boot.args are added
#   --full-boot        add none of them: the kernel probes for ISA PnP cards
#                      and runs its crypto self-tests as a user's boot does
#   -m MIB             guest RAM (default 256)
#   --timeout SECONDS  per-step timeout (default 300)
#   --script FILE      console script (default tests/system/linux/boot.expect)
#   --log FILE         keep the console log there (default: a temporary
#                      file, kept and named only when the run fails)
#   --expect-bin PATH  console_expect binary (default build/tests/console_expect,
#                      else compiled from tests/system/console_expect.c)
#   --pae              boot Debian's 686-pae kernel (fetch-guest.sh --pae)
#                      with the same initramfs instead of the 686 one
#   --reboot           let a guest reboot restart the VMM's machine (no
#                      --no-reboot / -no-reboot)
#   -v, --verbose      show the console as it runs
# Exit status: 0 passed, 1 failed, 2 bad usage, 77 the guest could not be
# downloaded (no network and no cache; CTest counts that as skipped).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

help_text() { sed -n '8,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }
usage() {
	help_text >&2
	exit 2
}

append=console=ttyS0
mem=256
timeout=300
script=$here/linux/boot.expect
log=
expect_bin=
verbose=()
no_reboot=1
pae=0
quick=1
while [ $# -gt 0 ]; do
	case "$1" in
	--append) append=${2?}; shift 2 ;;
	-m) mem=${2?}; shift 2 ;;
	--timeout) timeout=${2?}; shift 2 ;;
	--script) script=${2?}; shift 2 ;;
	--log) log=${2?}; shift 2 ;;
	--expect-bin) expect_bin=${2?}; shift 2 ;;
	--reboot) no_reboot=0; shift ;;
	--pae) pae=1; shift ;;
	--full-boot) quick=0; shift ;;
	-v | --verbose) verbose=(-v); shift ;;
	-h | --help) help_text; exit 0 ;;
	-*) echo "run_linux: unknown option '$1'" >&2; usage ;;
	*) break ;;
	esac
done
[ $# -ge 1 ] || usage
mode=$1
shift
case "$mode" in
btvm) [ $# -ge 1 ] || usage ;;
qemu) ;;
*)
	echo "run_linux: unknown VMM '$mode' (btvm or qemu)" >&2
	exit 2
	;;
esac

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [ -z "$expect_bin" ]; then
	expect_bin=$root/build/tests/system/console_expect
	if [ ! -x "$expect_bin" ] || [ "$here/console_expect.c" -nt "$expect_bin" ]; then
		expect_bin=$tmp/console_expect
		cc -std=gnu17 -O2 -Wall -Wextra -o "$expect_bin" "$here/console_expect.c"
	fi
fi

set +e
paths=$(bash "$root/scripts/fetch-guest.sh" --print)
status=$?
set -e
if [ "$status" = 3 ]; then
	echo "run_linux: SKIP: the guest cannot be downloaded and is not cached"
	exit 77
elif [ "$status" != 0 ]; then
	echo "run_linux: FAIL: scripts/fetch-guest.sh failed (status $status)"
	exit 1
fi
{
	read -r kernel
	read -r initrd
} <<<"$paths"
if [ "$pae" = 1 ]; then
	if ! kernel=$(bash "$root/scripts/fetch-guest.sh" --pae); then
		echo "run_linux: FAIL: scripts/fetch-guest.sh --pae failed"
		exit 1
	fi
fi

[ "$quick" = 0 ] || append="$append $(sed '/^#/d' "$here/linux/quick_boot.args")"
case "$mode" in
btvm)
	btvm=$1
	shift
	cmd=("$btvm" run --kernel "$kernel" --initrd "$initrd" --append "$append" -m "$mem")
	[ "$no_reboot" = 0 ] || cmd+=(--no-reboot)
	cmd+=("$@")
	;;
qemu)
	qemu="qemu-system-i386"
	if [ $# -ge 1 ]; then
		qemu=$1
		shift
	fi
	cmd=("$qemu" -m "$mem" -kernel "$kernel" -initrd "$initrd" -append "$append" -nographic)
	[ "$no_reboot" = 0 ] || cmd+=(-no-reboot)
	cmd+=("$@")
	;;
esac

keep_log=1
if [ -z "$log" ]; then
	log=$(mktemp "${TMPDIR:-/tmp}/btvm-linux-$mode.XXXXXX.log")
	keep_log=0
fi
echo "run_linux:$(printf " %q" "${cmd[@]}")"
start=$(date +%s)
set +e
"$expect_bin" -t "$timeout" -l "$log" "${verbose[@]}" "$script" "${cmd[@]}"
status=$?
set -e
elapsed=$(($(date +%s) - start))
if [ "$status" = 0 ]; then
	echo "run_linux: PASS: Linux booted to a shell and powered off under $mode in ${elapsed} s"
	[ "$keep_log" = 1 ] || rm -f "$log"
	exit 0
fi
echo "run_linux: FAIL under $mode after ${elapsed} s (console log: $log)"
exit 1
