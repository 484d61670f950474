#!/usr/bin/env bash
# How btvm boots when the command line does not say (no --kernel, no
# --firmware), and --boot order: the console line saying which way it
# went, and the guest that runs.
#   1. a blank disk: through the firmware, with the reason (no boot loader,
#      no kernel), SeaBIOS's "No bootable device", and an end;
#   2. GRUB's rescue floppy image as the disk: through the firmware
#      (it has a boot loader), to GRUB's prompt;
#   3. GRUB's rescue CD and a disk with tests/firmware/mbr.asm's boot
#      sector: the CD boots first (GRUB's prompt) unless --boot order=cd
#      puts the disk first (the boot sector's PASS and exit status 33);
#   4. --firmware direct on a disk with no kernel: btvm's one-line error.
# (A disk with a kernel and no boot loader booted directly is
# tests/system/run_disk.sh's part 4.)
# Usage: run_boot_choice.sh BTVM CONSOLE_EXPECT MBR.BIN
set -u
btvm=$1
expect_bin=$2
mbr=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "run_boot_choice: FAIL: $*"; exit 1; }
common=(--net none --display none -m 64 --no-reboot)
cdrom=/usr/lib/grub-rescue/grub-rescue-cdrom.iso
floppy=/usr/lib/grub-rescue/grub-rescue-floppy.img
[ -r "$cdrom" ] && [ -r "$floppy" ] || fail "grub-rescue-pc's images are missing (scripts/setup.sh installs them)"

# 1. Nothing bootable.
head -c 1048576 /dev/zero >"$work/blank.img"
timeout 120 "$btvm" run --disk "$work/blank.img" "${common[@]}" </dev/null \
	>"$work/serial.txt" 2>"$work/err.txt"
status=$?
cat -v "$work/err.txt"
[ "$status" = 0 ] || fail "blank disk: btvm exited with status $status, want 0"
grep -q "^btvm: booting through the firmware (SeaBIOS): no boot loader on the disk, and no kernel to load directly (.*no ext2/3/4 filesystem" \
	"$work/err.txt" || fail "blank disk: btvm did not say it boots through the firmware, and why"
grep -q "No bootable device" "$work/serial.txt" || fail "blank disk: no SeaBIOS message on the serial console"
echo "run_boot_choice: a blank disk went to the firmware, which found nothing to boot"

# 2. A disk with a boot loader (GRUB in its boot sector).
cp "$floppy" "$work/floppy.img"
{ echo "expect_text btvm: booting through the firmware (SeaBIOS): the disk has a boot loader"
  cat "$(dirname "$0")/grub_prompt.expect"; } >"$work/floppy.expect"
"$expect_bin" -t 120 -l "$work/floppy.log" "$work/floppy.expect" "$btvm" run \
	--disk "$work/floppy.img" "${common[@]}" >/dev/null 2>&1 ||
	fail "GRUB's floppy image did not boot to its prompt on its own: $(tail -c 600 "$work/floppy.log" | cat -v)"
echo "run_boot_choice: a disk with a boot loader booted through the firmware to GRUB's prompt"

# 3. A CD and a bootable disk: the CD first, unless the order says the disk.
cp "$mbr" "$work/mbr.img" && truncate -s 1M "$work/mbr.img" || fail "cannot make the disk image"
{ echo "expect_text btvm: booting through the firmware (SeaBIOS): a CD-ROM in the drive boots first"
  cat "$(dirname "$0")/grub_prompt.expect"; } >"$work/cd.expect"
"$expect_bin" -t 120 -l "$work/cd.log" "$work/cd.expect" "$btvm" run --cdrom "$cdrom" \
	--disk "$work/mbr.img" "${common[@]}" >/dev/null 2>&1 ||
	fail "CD and disk: GRUB from the CD did not come first: $(tail -c 600 "$work/cd.log" | cat -v)"
echo "run_boot_choice: with a CD and a bootable disk, the CD booted"
timeout 120 "$btvm" run --cdrom "$cdrom" --disk "$work/mbr.img" --boot order=cd \
	"${common[@]}" </dev/null >"$work/serial.txt" 2>"$work/err.txt"
status=$?
[ "$status" = 33 ] || fail "--boot order=cd: exit status $status, want 33 (the disk's boot sector): $(cat "$work/err.txt")"
grep -q "PASS mbr" "$work/serial.txt" || fail "--boot order=cd: no PASS from the disk's boot sector"
echo "run_boot_choice: --boot order=cd booted the disk before the CD"
# The same order on the IDE controller, the disk given after the CD.
timeout 120 "$btvm" run --cdrom "$cdrom" --disk "$work/mbr.img,if=ide" --boot order=cd \
	"${common[@]}" </dev/null >"$work/serial.txt" 2>"$work/err.txt"
status=$?
[ "$status" = 33 ] || fail "--boot order=cd, IDE disk: exit status $status, want 33: $(cat "$work/err.txt")"
echo "run_boot_choice: --boot order=cd booted the IDE disk before the CD"

# 4. Direct boot asked for, and nothing to load.
timeout 60 "$btvm" run --firmware direct --disk "$work/blank.img" "${common[@]}" </dev/null \
	>/dev/null 2>"$work/err.txt"
status=$?
[ "$status" = 1 ] || fail "--firmware direct on a blank disk: status $status, want 1"
[ "$(wc -l <"$work/err.txt")" = 1 ] && grep -q "blank.img: no ext2/3/4 filesystem" "$work/err.txt" ||
	fail "--firmware direct on a blank disk: not one line naming the problem: $(cat "$work/err.txt")"
echo "run_boot_choice: --firmware direct with no kernel: $(cat "$work/err.txt")"
