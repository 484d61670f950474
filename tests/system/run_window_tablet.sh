#!/usr/bin/env bash
# End-to-end check of the tablet (virtio-input) under an X server (Xvfb):
# btvm with --display sdl (the tablet on by default) boots Debian's i386
# kernel and the busybox initramfs (scripts/fetch-guest.sh), which loads
# virtio_input and evdev; then, with xdotool as the user's hand:
#   1. once the guest's driver runs, the title says "tablet";
#   2. the guest records its tablet's /dev/input/eventN (dd, one 16-byte
#      struct input_event a read) while the host pointer moves over two
#      points of the window with no click: the positions the guest saw
#      (its ABS_X and ABS_Y at each SYN_REPORT) include both, in order,
#      each the window's pixel mapped to 0..32767 (the picture is the
#      window's size here: 720x400, VGA text) within a pixel;
#   3. a click at the second point does not grab (the title keeps
#      "tablet", never the grab's "Ctrl+Alt releases the mouse"), and
#      reaches the guest as BTN_LEFT 1 then 0;
#   4. the window resized to 1080x700: the picture scaled by 1.5 and
#      letterboxed (50 pixels of border above and below); the pointer on
#      the border sends nothing, on the picture the picture's pixel;
#   5. the machine saved (the monitor's savevm) and restored in a new
#      btvm: the title says "tablet" again at once (the driver's state is
#      in the snapshot), and a third point reaches the restored guest;
#   6. a drag made while btvm is stopped (press, motion and release then
#      read at once): the press reaches the guest at its own point, the
#      release at the other.
# The decoded events go to the serial port (serial.log), the screen only
# says when they are there.
#
# Usage: run_window_tablet.sh BTVM [--log DIR]
# Exit status: 0 passed, 1 failed, 77 the guest could not be downloaded.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/system/lib.sh
. "$here/lib.sh"
btvm=$1
shift
window_test_begin run_window_tablet "$@"
linux_guest
xvfb_start 1280x1024x24

"$btvm" run --display sdl --kernel "$kernel" --initrd "$initrd" -m 256 \
	--append "console=ttyS0 console=tty0 quiet $quick" --monitor "unix:$work/mon.sock" \
	--screenshot "$work/screen.txt" \
	</dev/null >"$work/serial.log" 2>"$work/stderr.log" &
btvm_pid=$!

wait_window 60
name="btvm - $(basename "$kernel") - running"

# 1. The driver: the title says the tablet is in use.
wait_screen '^guest:~ #' 300
wait_title "$name - tablet" 60
echo "run_window_tablet: the guest's virtio_input runs; title '$name - tablet'"

# The guest records its tablet's events (dd: one 16-byte event a read,
# written as it comes).
start_recording() {
	xdotool windowfocus --sync "$win"
	xdotool type --delay 40 "for e in /sys/class/input/event*; do grep -q Tablet \$e/device/name && d=/dev/input/\${e##*/}; done; dd if=\$d of=/tmp/ev bs=16 2>/dev/null & echo READY-\$(($1*$1))-\$d"
	xdotool key Return
	wait_screen "^READY-$(($1 * $1))-/dev/input/event[0-9]+\$" 60
	echo "run_window_tablet: recording $(grep -E -o '/dev/input/event[0-9]+$' "$work/screen.txt" | tail -1)"
	sleep 1
}

# The events, decoded in the guest (i386: the time is two 32-bit words,
# then type, code, value): one line a report with the state after it, and
# each button event, to the serial port. od prints 8 signed 16-bit words
# a 16-byte event.
stop_recording() {
	xdotool type --delay 20 "kill \$!; od -An -w16 -td2 -v /tmp/ev | awk 'BEGIN{x=-1;y=-1} \$5==3&&\$6==0{x=\$7+65536*\$8} \$5==3&&\$6==1{y=\$7+65536*\$8} \$5==1{print \"KEY\",\$6,\$7} \$5==0{print \"POS\",x,y}' >/dev/ttyS0; echo DONE-\$(($1*$1))"
	xdotool key Return
	wait_screen "^DONE-$(($1 * $1))\$" 60
	sleep 1
}

# check_events LOG CLICKED ONLY X Y [X Y ...]: the reports in LOG include
# each point's position (a pixel of the 720x400 picture) in order, with
# CLICKED 1 a BTN_LEFT press and release at the last one, with ONLY 1 no
# report elsewhere.
check_events() {
	python3 - "$@" <<'PYEOF'
import sys
# btvm keeps writing at its offset into a log the test truncated: the
# bytes before are a hole of zeros.
log = open(sys.argv[1], errors="replace").read().replace("\0", "").splitlines()
clicked = sys.argv[2] == "1"
only = sys.argv[3] == "1"
pts = list(map(int, sys.argv[4:]))
W, H = 720, 400          # the picture: VGA text mode, 80x25 of 9x16
def tablet(px, size):
    return px * 32767 // (size - 1)
want = [(tablet(pts[i], W), tablet(pts[i + 1], H)) for i in range(0, len(pts), 2)]
pos, keys = [], []
for line in log:
    f = line.split()
    if len(f) == 3 and f[0] == "POS":
        pos.append((int(f[1]), int(f[2])))
    elif len(f) == 3 and f[0] == "KEY":
        keys.append((int(f[1]), int(f[2])))
print(f"run_window_tablet: the guest saw {len(pos)} reports, buttons {keys}")
# Within one pixel of the expected pixel each way.
tol = (32767 // (W - 1) + 1, 32767 // (H - 1) + 1)
def near(p, w):
    return abs(p[0] - w[0]) <= tol[0] and abs(p[1] - w[1]) <= tol[1]
at = 0
for i, w in enumerate(want):
    while at < len(pos) and not near(pos[at], w):
        at += 1
    assert at < len(pos), f"no report near {w} (point {i + 1}) in order; reports: {pos}"
    print(f"run_window_tablet: point {i + 1}: the picture's pixel as {w}, guest read {pos[at]}")
    at += 1
if only:
    stray = [p for p in pos if not any(near(p, w) for w in want)]
    assert not stray, f"reports at no point of the test: {stray}"
if clicked:
    # BTN_LEFT (272) pressed then released, at the last point.
    assert (272, 1) in keys and (272, 0) in keys and \
        keys.index((272, 1)) < keys.index((272, 0)), f"BTN_LEFT press and release not seen: {keys}"
    assert near(pos[-1], want[-1]), f"the click's report is at {pos[-1]}, not {want[-1]}"
PYEOF
}

# 2. Two points, neither on the other's row or column, nor where the
# pointer was; no click.
start_recording 3
x1=123 y1=77 x2=611 y2=333
xdotool mousemove --window "$win" $x1 $y1
sleep 1
xdotool mousemove --window "$win" $x2 $y2
sleep 1

# 3. A click: no grab.
xdotool click 1
for _ in $(seq 10); do
	case "$(xdotool getwindowname "$win")" in
	*"Ctrl+Alt releases the mouse"*) fail "a click grabbed the mouse with the tablet in use" ;;
	esac
	sleep 0.1
done
[ "$(xdotool getwindowname "$win")" = "$name - tablet" ] ||
	fail "after the click the title is '$(xdotool getwindowname "$win")'"
echo "run_window_tablet: the click did not grab; the title still says tablet"
sleep 1
stop_recording 4
check_events "$work/serial.log" 1 0 $x1 $y1 $x2 $y2 || fail "the guest's events do not match the pointer"

# 4. Scaled and letterboxed: 1080x700 holds the 720x400 picture 1.5
# times (1080x600), 50 pixels of black above and below.
xdotool windowsize "$win" 1080 700
for _ in $(seq 600); do	# 60 s
	eval "$(xdotool getwindowgeometry --shell "$win")"
	[ "${WIDTH}x${HEIGHT}" = 1080x700 ] && break
	sleep 0.1
done
[ "${WIDTH}x${HEIGHT}" = 1080x700 ] || fail "the window is ${WIDTH}x${HEIGHT}, not 1080x700"
sleep 1
truncate -s 0 "$work/serial.log"
start_recording 7
xdotool mousemove --window "$win" 540 20     # the border above the picture
sleep 1
xdotool mousemove --window "$win" 540 350    # the picture's pixel (360, 200)
sleep 1
xdotool mousemove --window "$win" 900 680    # the border below
sleep 1
stop_recording 8
check_events "$work/serial.log" 0 1 360 200 || fail "the scaled window's events do not match the pointer"
echo "run_window_tablet: scaled 1.5 and letterboxed: the border sent nothing, the picture its pixel"

# 5. Saved and restored: the tablet goes on in the new btvm.
python3 "$here/monitor_cmd.py" "$work/mon.sock" "savevm $work/tablet.snap" >>"$work/monitor.log" ||
	fail "savevm through the monitor"
kill -9 "$btvm_pid"
wait "$btvm_pid" 2>/dev/null || true
"$btvm" run --display sdl --restore "$work/tablet.snap" --screenshot "$work/screen.txt" \
	</dev/null >"$work/serial2.log" 2>>"$work/stderr.log" &
btvm_pid=$!
wait_window 60
wait_title "$name - tablet" 60
echo "run_window_tablet: restored; title '$name - tablet'"
start_recording 5
x3=400 y3=250
xdotool mousemove --window "$win" $x3 $y3
sleep 1
stop_recording 6
check_events "$work/serial2.log" 0 0 $x3 $y3 || fail "the restored guest's events do not match the pointer"

# 6. A drag read all at once: with btvm stopped, the button pressed at one
# point and released at another; SDL then reads the press, the motion and
# the release together, as when the host is too busy to run the window's
# thread between them. The press must reach the guest where it was made,
# the release where it ended (each report's position, not the pointer's
# after every event read).
truncate -s 0 "$work/serial2.log"
start_recording 9
x4=200 y4=100 x5=520 y5=310
kill -STOP "$btvm_pid"
# The pauses let the X server take each step before the next (it may
# otherwise move the pointer before it presses the button).
xdotool mousemove --window "$win" $x4 $y4 sleep 0.3 mousedown 1 sleep 0.3 \
	mousemove --window "$win" $x5 $y5 sleep 0.3 mouseup 1
sleep 0.5
kill -CONT "$btvm_pid"
sleep 1
stop_recording 10
python3 - "$work/serial2.log" $x4 $y4 $x5 $y5 <<'PYEOF' || fail "the drag's press or release reached the guest elsewhere"
import sys
log = open(sys.argv[1], errors="replace").read().replace("\0", "").split("\n")
x4, y4, x5, y5 = map(int, sys.argv[2:])
W, H = 720, 400
tol = (32767 // (W - 1) + 1, 32767 // (H - 1) + 1)
def near(p, x, y):
    return abs(p[0] - x * 32767 // (W - 1)) <= tol[0] and abs(p[1] - y * 32767 // (H - 1)) <= tol[1]
# The report a button event is in: the first POS line after its KEY line.
at = {}
for i, line in enumerate(log):
    f = line.split()
    if len(f) == 3 and f[0] == "KEY" and f[1] == "272":
        rest = [l.split() for l in log[i + 1:]]
        at[int(f[2])] = next((int(g[1]), int(g[2])) for g in rest if len(g) == 3 and g[0] == "POS")
assert 1 in at and 0 in at, f"BTN_LEFT press and release not both seen: {at}"
print(f"run_window_tablet: the drag's press at {at[1]}, release at {at[0]}")
assert near(at[1], x4, y4), f"the press is at {at[1]}, not at the pixel ({x4}, {y4})"
assert near(at[0], x5, y5), f"the release is at {at[0]}, not at the pixel ({x5}, {y5})"
PYEOF
echo "run_window_tablet: a drag read at once: pressed at ($x4, $y4), released at ($x5, $y5)"
echo "run_window_tablet: PASS (tablet title, absolute positions without a click, click without a grab, scaled and letterboxed, restored, a drag read at once)"
