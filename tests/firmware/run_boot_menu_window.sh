#!/usr/bin/env bash
# SeaBIOS's boot menu in the window, as a person at a desktop uses it: an
# X server (Xvfb), btvm with --display sdl and no serial console (so the
# firmware's screen and keyboard are the VGA and the PS/2 keyboard alone),
# and the test's hands through xdotool. The screen is read through
# --screenshot's text dump (taken on SIGUSR2):
#   0. the window is titled after the drive booted first, the CD;
#   1. "Press ESC for boot menu." on the screen; ESC pressed in the window
#      (Debian's SeaBIOS 1.16 takes only the key it names: F12 does
#      nothing there, under QEMU too);
#   2. the menu lists the CD-ROM and the disk; 2 picks the disk;
#   3. the disk's boot sector (tests/firmware/mbr.asm) passes and exits
#      with status 33, although the CD (GRUB's rescue CD) came first in
#      the boot order.
# The waits are long and only bound a hang: SeaBIOS waits 60 s for the
# key (--boot splash-time), and sends a second ESC nowhere (in the menu
# it would leave it), so nothing here depends on how fast the host is.
# Usage: run_boot_menu_window.sh BTVM MBR.BIN
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/system/lib.sh
. "$here/../system/lib.sh"
btvm=$1
mbr=$2
window_test_begin run_boot_menu_window
cp "$mbr" "$work/disk.img"
truncate -s 1M "$work/disk.img"
xvfb_start 1024x768x24

"$btvm" run --display sdl --serial none --net none -m 64 --no-reboot \
	--cdrom /usr/lib/grub-rescue/grub-rescue-cdrom.iso --disk "$work/disk.img" \
	--boot menu=on,splash-time=60000 --debugcon "$work/debugcon.log" \
	--screenshot "$work/screen.txt" </dev/null >/dev/null 2>"$work/stderr.log" &
btvm_pid=$!

wait_window 60
title=$(xdotool getwindowname "$win")
[ "$title" = "btvm - grub-rescue-cdrom.iso - running" ] || fail "window title is '$title'"

# 1. The prompt, then ESC typed into the window.
wait_screen 'Press ESC for boot menu' 300
xdotool windowfocus --sync "$win"
xdotool key Escape
echo "run_boot_menu_window: pressed ESC at SeaBIOS's prompt"

# 2. The menu, with both drives; the disk is the second entry.
wait_screen 'Select boot device' 300
wait_screen '^2\. .*(Virtio disk|Hard)' 300
grep -Eq '^1\. .*(DVD|CD)' "$work/screen.txt" || fail "the menu does not list the CD-ROM first"
xdotool key 2
echo "run_boot_menu_window: the menu listed the CD-ROM and the disk; pressed 2"

# 3. The disk's boot sector runs and ends btvm with its status.
status=0
for _ in $(seq 3000); do
	kill -0 "$btvm_pid" 2>/dev/null || break
	sleep 0.1
done
kill -0 "$btvm_pid" 2>/dev/null && fail "btvm still runs 300 s after the disk was picked"
wait "$btvm_pid" || status=$?
btvm_pid=
[ "$status" = 33 ] || fail "btvm exited with $status, want 33 (the boot sector's PASS)"
grep -q "^Booting from Hard Disk" "$work/debugcon.log" || fail "SeaBIOS's log does not boot the hard disk"
echo "run_boot_menu_window: the boot sector picked from the menu passed"
