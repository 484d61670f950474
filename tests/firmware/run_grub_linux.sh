#!/usr/bin/env bash
# SeaBIOS, then GRUB 2 from grub-rescue-pc's floppy image (the first
# disk), loading Debian's kernel and the test initramfs (scripts/
# fetch-guest.sh) from an ext2 file system on the second disk, made here
# with mke2fs -d: grub_linux.expect drives it on the serial console.
# Usage: run_grub_linux.sh BTVM CONSOLE_EXPECT
set -u
btvm=$1
expect_bin=$2
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "run_grub_linux: FAIL: $*"; exit 1; }
mapfile -t guest < <(bash "$here/../../scripts/fetch-guest.sh" --print) || fail "no Linux guest"
mkdir "$work/root"
cp "${guest[0]}" "$work/root/vmlinuz" && cp "${guest[1]}" "$work/root/initrd" || fail "cannot copy the guest"
mke2fs -q -t ext2 -d "$work/root" "$work/kernel.img" 64M || fail "mke2fs"
cp /usr/lib/grub-rescue/grub-rescue-floppy.img "$work/floppy.img" || fail "no grub-rescue-pc"
shift 2
"$expect_bin" -t 180 "$here/grub_linux.expect" "$btvm" run --firmware bios \
	--disk "$work/floppy.img" --disk "$work/kernel.img" --net none --display none -m 256 "$@" ||
	fail "GRUB did not boot Linux to its shell"
echo "run_grub_linux: SeaBIOS, GRUB, Linux's 16-bit entry, the shell"
