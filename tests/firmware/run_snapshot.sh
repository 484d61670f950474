#!/usr/bin/env bash
# savevm and --restore of a machine booted through firmware: GRUB 2 (the
# rescue floppy image as a disk) is saved at its prompt through the
# monitor, the run ends; the snapshot, restored, is at the same prompt
# and takes commands (the machine's ROM alias and fw_cfg come back with
# it), and a reset there boots SeaBIOS again from its ROM.
# Usage: run_snapshot.sh BTVM CONSOLE_EXPECT
set -u
btvm=$1
expect_bin=$2
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "run_snapshot: FAIL: $*"; exit 1; }
cp /usr/lib/grub-rescue/grub-rescue-floppy.img "$work/floppy.img" || fail "no grub-rescue-pc"

# Monitor commands go through monitor_command.py, its connection open
# until the answer, which must be a success. The vCPU thread answers, so
# an answer also says that the run loop has put the terminal in raw mode
# (the pseudo-terminal echoes keys typed before).
cat >"$work/save.expect" <<EOS
timeout 120
expect_text will be executed automatically in
sendraw c
expect_text grub>
type set saved=before-savevm
expect_text grub>
run python3 $here/monitor_command.py $work/mon.sock savevm '{"file": "$work/grub.snap"}' && test -s $work/grub.snap
type outb 0xf4 0x10
expect_exit 33
EOS
cat >"$work/restore.expect" <<EOS
timeout 120
run python3 $here/monitor_command.py $work/mon2.sock query-status
type echo \${saved}-restored
expect_text before-savevm-restored
expect_text grub>
type reboot
expect_text SeaBIOS (version
expect_text will be executed automatically in
sendraw c
expect_text grub>
type outb 0xf4 0x10
expect_exit 33
EOS
"$expect_bin" -t 120 "$work/save.expect" "$btvm" run --firmware bios --disk "$work/floppy.img" \
	--net none --display none -m 128 --monitor unix:"$work/mon.sock" ||
	fail "the run that saves at GRUB's prompt"
"$expect_bin" -t 120 "$work/restore.expect" "$btvm" run --restore "$work/grub.snap" \
	--display none --monitor unix:"$work/mon2.sock" || fail "the restored run"
echo "run_snapshot: GRUB's prompt saved and restored; a reset booted the firmware again"
