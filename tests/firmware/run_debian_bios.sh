#!/usr/bin/env bash
# The Debian 12 system booted as a PC boots it: scripts/make-debian-image.sh
# --bios makes (and caches) the partitioned disk with GRUB 2 in its MBR;
# SeaBIOS boots GRUB from it, GRUB's menu (on the text screen, copied to
# the serial port by SeaBIOS's sercon) boots Debian's kernel and
# initramfs from partition 1 with root=UUID=..., and debian_bios.expect
# drives the system on the serial console: root logged in, systemd at
# multi-user, the command line GRUB gave (BOOT_IMAGE=), the root mounted
# from /dev/vda1, poweroff ending the VMM with status 0. The disk is booted
# with --snapshot (QEMU: snapshot=on), so the cached image stays as built:
# its modification time is the same after, and e2fsck finds its
# partition's file system clean. With --pae, debian_bios_pae.expect picks
# GRUB's second entry (Debian's 686-pae kernel) instead.
# Usage: run_debian_bios.sh [--pae] btvm BTVM CONSOLE_EXPECT [--log DIR]
#        run_debian_bios.sh [--pae] qemu QEMU CONSOLE_EXPECT [--log DIR]
#          (the cross-check: QEMU TCG with the same SeaBIOS and disk)
# Exit status: 0 passed, 1 failed, 77 the image could not be built for
# want of the network (nothing cached).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/system/lib.sh
. "$here/../system/lib.sh"
script=$here/debian_bios.expect
qemu_cpu=()
if [ "${1:-}" = --pae ]; then
	script=$here/debian_bios_pae.expect
	# QEMU's default 32-bit CPU (qemu32) has no NX, which the script checks.
	qemu_cpu=(-cpu "qemu32,+nx")
	shift
fi
if [ $# -lt 3 ] || { [ "$1" != btvm ] && [ "$1" != qemu ]; }; then
	echo "usage: run_debian_bios.sh [--pae] btvm|qemu PROGRAM CONSOLE_EXPECT [--log DIR]" >&2
	exit 2
fi
kind=$1 bin=$2 expect_bin=$3
shift 3
test_begin run_debian_bios "$@"

debian_image --bios
mtime=$(stat -c %Y.%y "$disk")

start=$SECONDS
if [ "$kind" = qemu ]; then
	# -nographic: the serial port on stdio, and SeaBIOS's sercon on it
	# (QEMU tells SeaBIOS so when there is no display).
	cmd=("$bin" -accel tcg "${qemu_cpu[@]}" -m 512 -bios /usr/share/seabios/bios-256k.bin
		-drive "file=$disk,format=raw,if=virtio,snapshot=on" -nic none -nographic -no-reboot)
else
	cmd=("$bin" run --firmware bios --disk "$disk" --snapshot -m 512 --net none
		--display none --no-reboot)
fi
"$expect_bin" -t 300 -l "$work/$kind.log" "$script" "${cmd[@]}" ||
	fail "the boot through SeaBIOS and GRUB failed (console log: $kind.log): $(tail -c 600 "$work/$kind.log" | tr -d '\r')"
echo "run_debian_bios: $kind: SeaBIOS, GRUB, Debian to its shell and poweroff in $((SECONDS - start)) s"

[ "$(stat -c %Y.%y "$disk")" = "$mtime" ] || fail "the cached disk $disk changed under --snapshot"
e2fsck -fn "$disk?offset=1048576" >"$work/e2fsck.log" 2>&1 ||
	fail "e2fsck -fn on partition 1: $(tail -3 "$work/e2fsck.log")"
echo "run_debian_bios: PASS (the cached disk unchanged, its file system clean)"
