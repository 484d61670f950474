#!/usr/bin/env bash
# Boots Debian's i386 kernel (686, or 686-pae with --pae) under btvm and
# under qemu-system-i386 -cpu Nehalem (TCG, the nearest model QEMU has),
# with the same memory, initramfs and command line, to the shell and off
# again, and diffs the two kernel logs with the parts that differ on every
# boot taken out (timestamps, addresses, rates, BogoMIPS). The lines only
# btvm's log has are what to look at (docs/DESIGN.md, "The CPUID model",
# says which remain and why). Not a CTest test: linux_bootlog checks
# btvm's log alone for the warnings once found here.
#
# Usage: bootlog_compare.sh [--pae] [--out DIR] BTVM [QEMU]
# Leaves DIR/btvm.log, DIR/qemu.log (the raw consoles), DIR/btvm.norm,
# DIR/qemu.norm and DIR/diff (default DIR: a new temporary directory,
# named at the end).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
pae=()
out=
while [ $# -gt 0 ]; do
	case "$1" in
	--pae) pae=(--pae); shift ;;
	--out) out=${2?}; shift 2 ;;
	*) break ;;
	esac
done
[ $# -ge 1 ] || { sed -n '2,14s/^# \{0,1\}//p' "$0" >&2; exit 2; }
btvm=$1
qemu=${2:-qemu-system-i386}
[ -n "$out" ] || out=$(mktemp -d "${TMPDIR:-/tmp}/btvm-bootlog.XXXXXX")
mkdir -p "$out"
script=$(mktemp)
trap 'rm -f "$script"' EXIT
# To the shell and off: the kernel's whole log is on the console first.
printf '%s\n' 'fail_on Kernel panic' 'expect guest:~ #' 'send poweroff -f' \
	'expect Power down' 'expect_exit 0' >"$script"

bash "$here/run_linux.sh" "${pae[@]}" --timeout 300 --script "$script" \
	--log "$out/btvm.log" btvm "$btvm"
bash "$here/run_linux.sh" "${pae[@]}" --timeout 300 --script "$script" \
	--log "$out/qemu.log" qemu "$qemu" -cpu Nehalem

# The kernel's lines alone, without what changes from boot to boot or
# between any two machines' clocks and memory layouts.
normalize() {
	tr -d '\r' <"$1" | grep -a '^\[ *[0-9]*\.[0-9]*\]' |
		sed -E 's/^\[ *[0-9]+\.[0-9]+\] //;
			s/0x[0-9a-f]+/0xX/g; s/\b[0-9a-f]{8,16}\b/H/g;
			s/[0-9]+(\.[0-9]+)? (MHz|BogoMIPS|ms|us|ns|kB|KB|K|MB|MiB)\b/N \2/g;
			s/[0-9]+K\/[0-9]+K/NK\/NK/g'
}
normalize "$out/btvm.log" >"$out/btvm.norm"
normalize "$out/qemu.log" >"$out/qemu.norm"
diff "$out/qemu.norm" "$out/btvm.norm" >"$out/diff" || true
echo "bootlog_compare: logs and diff (< QEMU only, > btvm only) in $out"
grep -aiE '^> .*(warn|error|unsupported|unknown|firmware bug|failed|broken|not supported|disabled)' \
	"$out/diff" || echo "bootlog_compare: btvm has no warning line QEMU does not"
