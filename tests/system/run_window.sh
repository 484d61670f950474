#!/usr/bin/env bash
# End-to-end check of the window, as a person at a desktop uses it: an X
# server (Xvfb), btvm with --display sdl booting Debian's i386 kernel and
# the busybox initramfs (scripts/fetch-guest.sh) with its console on the
# VGA (console=tty0), and the test's hands through xdotool and
# tests/system/x11_probe:
#   1. the window appears, titled "btvm - vmlinuz - running";
#   2. the shell prompt shows on the guest's screen (read through
#      --screenshot's text dump, taken on SIGUSR2);
#   3. keys typed into the window reach the shell: `echo $((6*7))` prints
#      42, and the line the guest printed is in the window's own pixels
#      (captured from the X server) exactly as in btvm's PNG screenshot;
#   4. the mouse (--tablet off: the PS/2 mouse alone): a click grabs it
#      (title says how to release it), motion and a click reach the
#      guest's /dev/input/mice through psmouse;
#   5. the monitor's stop: the title says paused; savevm while paused,
#      and cont: running again;
#   6. closing the window presses the ACPI power button (the guest's
#      fixed-event counter goes to 1), closing it again ends btvm with 0;
#   7. that snapshot restored: the new window is titled "... - paused",
#      and the monitor's cont makes it "... - running".
#
# Usage: run_window.sh BTVM X11_PROBE [--log DIR]
# Exit status: 0 passed, 1 failed, 77 the guest could not be downloaded
# (no network and no cache; CTest counts that as skipped).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/system/lib.sh
. "$here/lib.sh"
btvm=$1
probe=$2
shift 2
window_test_begin run_window "$@"
linux_guest
xvfb_start 1280x1024x24

# --tablet off: the PS/2 mouse and its grab, as for a guest without the
# tablet's driver (run_window_tablet.sh tests the tablet).
"$btvm" run --display sdl --tablet off --kernel "$kernel" --initrd "$initrd" -m 256 \
	--append "console=ttyS0 console=tty0 quiet $quick" --monitor "unix:$work/mon.sock" \
	--screenshot "$work/screen.txt" --screenshot "$work/screen.png" \
	</dev/null >"$work/serial.log" 2>"$work/stderr.log" &
btvm_pid=$!

wait_window 60
title=$(xdotool getwindowname "$win")
[ "$title" = "btvm - $(basename "$kernel") - running" ] || fail "window title is '$title'"
echo "run_window: window $win '$title'"

# 2. The shell's prompt on the VGA.
wait_screen '^guest:~ #' 300
echo "run_window: shell prompt on the guest's screen"

# 3. Keys: typed through the X server into the focused window.
xdotool windowfocus --sync "$win"
xdotool type --delay 40 'echo $((6*7))'
xdotool key Return
wait_screen '^42$' 60
echo "run_window: typed 'echo \$((6*7))', the guest printed 42"

# The window shows what btvm renders: the "42" line's cells in the X
# server's copy of the window equal those of the PNG screenshot.
kill -USR2 "$btvm_pid"
sleep 1
"$probe" capture "$win" "$work/window.ppm" || fail "cannot capture the window"
pngtopnm "$work/screen.png" >"$work/screen.ppm" 2>/dev/null || fail "screen.png is not a PNG"
row=$(grep -n -E '^42$' "$work/screen.txt" | tail -1 | cut -d: -f1)
python3 - "$work/window.ppm" "$work/screen.ppm" "$row" <<'EOF' || fail "the window's pixels differ from the screenshot"
import sys
def ppm(path):
    data = open(path, 'rb').read()
    fields, pos = [], 0
    while len(fields) < 4:
        while data[pos:pos+1].isspace():
            pos += 1
        end = pos
        while not data[end:end+1].isspace():
            end += 1
        fields.append(data[pos:end]); pos = end
    pos += 1
    assert fields[0] == b'P6', path
    w, h = int(fields[1]), int(fields[2])
    return w, h, data[pos:pos + 3 * w * h]
ww, wh, win = ppm(sys.argv[1])
sw, sh, shot = ppm(sys.argv[2])
row = int(sys.argv[3]) - 1
assert (sw, sh) == (720, 400), f"screenshot is {sw}x{sh}, expected 720x400 (80x25 of 9x16)"
assert (ww, wh) == (sw, sh), f"window is {ww}x{wh}, screenshot {sw}x{sh}"
lit = 0
for y in range(row * 16, row * 16 + 16):
    for x in range(0, 2 * 9):
        a = win[3 * (y * ww + x):3 * (y * ww + x) + 3]
        b = shot[3 * (y * sw + x):3 * (y * sw + x) + 3]
        assert a == b, f"pixel {x},{y}: window {a.hex()} screenshot {b.hex()}"
        lit += a != b'\0\0\0'
assert 20 < lit < 18 * 16 - 20, f"{lit} lit pixels in the cells of '42'"
print(f"run_window: the window's cells of '42' equal the screenshot's ({lit} lit pixels)")
EOF

# 4. The mouse: a reader of /dev/input/mice (psmouse behind it) waits for
# two packets; a click grabs the pointer, and motion plus a click reach it.
xdotool type --delay 40 'od -An -tx1 -N 6 /dev/input/mice; echo MOUSE-$((5*5))'
xdotool key Return
sleep 1
xdotool mousemove --window "$win" 200 150 click 1
wait_title "*Ctrl+Alt releases the mouse*" 60 --glob
xdotool mousemove_relative -- 40 30
sleep 0.3
xdotool click 1
wait_screen '^MOUSE-25$' 60
echo "run_window: the click grabbed the mouse; motion and a click reached /dev/input/mice"
xdotool key ctrl+alt
wait_title "btvm - $(basename "$kernel") - running" 60
echo "run_window: Ctrl+Alt released the mouse"

# 5. Paused by the monitor: the title says so; saved so.
python3 "$here/monitor_cmd.py" "$work/mon.sock" stop "savevm $work/paused.snap" >>"$work/monitor.log" ||
	fail "stop and savevm through the monitor"
wait_title "btvm - $(basename "$kernel") - paused" 60
python3 "$here/monitor_cmd.py" "$work/mon.sock" cont >>"$work/monitor.log" || fail "cont through the monitor"
wait_title "btvm - $(basename "$kernel") - running" 60
echo "run_window: the monitor's stop titled the window paused, cont running"

# 6. Closing the window is the ACPI power button (the busybox guest has
# no daemon to act on it, so it runs on and counts the event); closing it
# again ends btvm with status 0.
"$probe" close "$win" || fail "cannot ask the window to close"
sleep 1
xdotool type --delay 40 'read n state </sys/firmware/acpi/interrupts/ff_pwr_btn; echo PWR-$n-'
xdotool key Return
wait_screen '^PWR-1-$' 60
echo "run_window: the first close pressed the power button (ff_pwr_btn counted 1)"
"$probe" close "$win" || fail "cannot ask the window to close again"
status=0
for _ in $(seq 600); do	# 60 s: the second close ends btvm without the guest
	kill -0 "$btvm_pid" 2>/dev/null || break
	sleep 0.1
done
kill -0 "$btvm_pid" 2>/dev/null && fail "btvm still runs 60 s after the second close"
wait "$btvm_pid" || status=$?
btvm_pid=
[ "$status" = 0 ] || fail "btvm ended with status $status after the second close"
grep -q "closed twice" "$work/stderr.log" || fail "btvm did not say why it stopped"
echo "run_window: the second close ended btvm with status 0"

# 7. The snapshot saved paused comes back paused, in a window saying so.
"$btvm" run --display sdl --restore "$work/paused.snap" --monitor "unix:$work/mon2.sock" \
	</dev/null >>"$work/serial.log" 2>>"$work/stderr.log" &
btvm_pid=$!
wait_window 60
wait_title "btvm - $(basename "$kernel") - paused" 60
python3 "$here/monitor_cmd.py" "$work/mon2.sock" cont >>"$work/monitor.log" || fail "cont through the monitor"
wait_title "btvm - $(basename "$kernel") - running" 60
echo "run_window: restored paused, titled so; cont titled it running"
echo "run_window: PASS (window, keyboard, screen, mouse, pause, close, restore)"
