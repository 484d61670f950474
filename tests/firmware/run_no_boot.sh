#!/usr/bin/env bash
# Firmware with nothing to boot: SeaBIOS's own message on the serial
# console (its sercon), then its restart, which ends btvm under
# --no-reboot with status 0 and btvm's line saying so; never a hang.
# Usage: run_no_boot.sh BTVM
set -u
btvm=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "run_no_boot: FAIL: $*"; exit 1; }
timeout 120 "$btvm" run --firmware bios --net none --display none -m 64 --no-reboot \
	</dev/null >"$work/serial.txt" 2>"$work/err.txt"
status=$?
cat -v "$work/serial.txt" "$work/err.txt"
[ "$status" = 0 ] || fail "btvm exited with status $status, want 0"
grep -q "No bootable device" "$work/serial.txt" || fail "SeaBIOS's message is not on the serial console"
grep -q "the guest rebooted; --no-reboot ends here" "$work/err.txt" || fail "btvm did not say why it ended"
echo "run_no_boot: SeaBIOS said there was nothing to boot, and btvm ended"
