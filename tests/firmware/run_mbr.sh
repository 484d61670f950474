#!/usr/bin/env bash
# Boots tests/firmware/mbr.asm's boot sector through SeaBIOS, from a disk
# image made here: under btvm (--firmware bios) or under QEMU with the
# same SeaBIOS and image (the cross-check that keeps the guest right).
# Passes when the guest exits with status 33 after "PASS NAME" on COM1
# (NAME the image's, mbr for mbr.bin); under btvm also when SeaBIOS's log
# (--debugcon) shows its banner and the boot from the hard disk, and for
# mbr the text screen its banner and the guest's INT 10h B.
# Usage: run_mbr.sh btvm BTVM MBR.BIN [BTVM-ARG...]
#        run_mbr.sh btvm-ide BTVM MBR.BIN [BTVM-ARG...]  (the disk on IDE)
#        run_mbr.sh qemu QEMU MBR.BIN
set -u
kind=$1
bin=$2
mbr=$3
shift 3
name=$(basename "$mbr" .bin)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "run_mbr: FAIL: $*"; exit 1; }

cp "$mbr" "$work/disk.img" && truncate -s 1M "$work/disk.img" || fail "cannot make the disk image"
if [ "$kind" = qemu ]; then
	timeout 120 "$bin" -accel tcg -m 64 -bios /usr/share/seabios/bios-256k.bin \
		-drive file="$work/disk.img",format=raw,if=virtio -net none -display none \
		-serial file:"$work/serial.txt" -device isa-debug-exit,iobase=0xf4,iosize=4 \
		-no-reboot </dev/null >"$work/out.txt" 2>&1
	status=$?
else
	disk="$work/disk.img"
	[ "$kind" = btvm-ide ] && disk="$disk,if=ide"
	timeout 120 "$bin" run --firmware bios --disk "$disk" --net none --display none \
		-m 64 --no-reboot --debugcon "$work/debugcon.txt" --screenshot "$work/screen.txt" \
		"$@" </dev/null >"$work/serial.txt" 2>"$work/out.txt"
	status=$?
fi
cat "$work/serial.txt" "$work/out.txt"
[ "$status" = 33 ] || fail "the guest exited with status $status, want 33"
grep -q "PASS $name" "$work/serial.txt" || fail "no PASS line on COM1"
[ "$kind" = qemu ] && exit 0

grep -q "^SeaBIOS (version " "$work/debugcon.txt" || fail "no SeaBIOS banner in its log"
grep -q "^Booting from Hard Disk" "$work/debugcon.txt" || fail "SeaBIOS's log does not boot the hard disk"
[ "$name" = mbr ] || exit 0
grep -q "^SeaBIOS (version " "$work/screen.txt" || fail "no SeaBIOS banner on the screen: $(head -3 "$work/screen.txt")"
grep -q "^B" "$work/screen.txt" || fail "the guest's INT 10h B is not on the screen"
echo "run_mbr: SeaBIOS booted the boot sector; its log and the screen say so"
