#!/usr/bin/env bash
# The window at sizes other than the picture's, and its full-screen key, as
# a person at a desktop meets them: an X server (Xvfb), btvm with
# --display sdl booting Debian's i386 kernel and the busybox initramfs
# with its console on the VGA (720x400 text mode), a window manager
# (openbox), and the test's hands through xdotool:
#   1. the guest prints a marker line ("lost+found 6.1.3 kernel 8191",
#      computed by the shell so that the typed command differs from it);
#   2. the window is resized (xdotool windowsize) to 0.7 and 1.6 times the
#      picture; at each size the window as the X server shows it is
#      captured (tests/system/x11_probe) and read by OCR (tesseract): the
#      marker line must be found exactly. A scaler that drops whole pixel
#      rows when shrinking reads "lust+found" or "5.1.0" there;
#   3. Ctrl+Alt+F makes the window full screen (its geometry becomes the
#      screen's), Ctrl+Alt+F again (its presses and releases all read at
#      once) restores the size it had, and neither key reached the guest: a shell `read` waiting meanwhile gets only
#      the two letters typed after them;
#   4. the window sized to 1000x700, Linux's bochs DRM driver loaded: its
#      preferred mode, from the std VGA's EDID, and the framebuffer
#      console's size are the window's.
#
# Usage: run_window_scale.sh BTVM X11_PROBE [--log DIR]
# Exit status: 0 passed, 1 failed, 77 the guest could not be downloaded
# (no network and no cache; CTest counts that as skipped).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/system/lib.sh
. "$here/lib.sh"
btvm=$1
probe=$2
shift 2
window_test_begin run_window_scale "$@"
linux_guest
xvfb_start 1280x1024x24
read -r screen_w screen_h < <(xdotool getdisplaygeometry)
# Full screen is the window manager's to grant: openbox, started bare,
# stands in for the desktop's.
wm_start

"$btvm" run --display sdl --kernel "$kernel" --initrd "$initrd" -m 256 \
	--append "console=ttyS0 console=tty0 quiet $quick" --screenshot "$work/screen.txt" \
	</dev/null >"$work/serial.log" 2>"$work/stderr.log" &
btvm_pid=$!

wait_window 60
wait_screen '^guest:~ #' 300
xdotool windowfocus --sync "$win"

# geometry: the window's inner size as "WxH".
geometry() {
	xwininfo -id "$win" | awk '/^  Width:/ { w = $2 } /^  Height:/ { h = $2 } END { print w "x" h }'
}
# wait_geometry WxH SECONDS
wait_geometry() {
	local want=$1 timeout=$2 start=$SECONDS
	while [ $((SECONDS - start)) -lt "$timeout" ]; do
		[ "$(geometry)" = "$want" ] && return 0
		sleep 0.1
	done
	fail "the window is $(geometry), not $want, after ${timeout}s"
}
wait_geometry 720x400 60
# X copies only what is on the screen: the enlarged window must fit.
xdotool windowmove --sync "$win" 0 0

# 1. The marker: a screen cleared but for it and the prompts.
marker='lost+found 6.1.3 kernel 8191'
xdotool type --delay 40 'clear; echo lost+found $((3+3)).1.$((1+2)) kernel $((8192-1))'
xdotool key Return
wait_screen '^lost\+found 6\.1\.3 kernel 8191$' 60

# ocr NAME: captures the window and reads its text into $work/NAME.txt.
# The capture is enlarged to 2160 pixels wide (3 times the picture's 720;
# tesseract reads glyphs some 30 pixels tall best) by sinc interpolation,
# which adds no detail the window did not show, and inverted to dark text
# on white. tesseract is told the characters this screen can hold (lower
# case, digits, "+.:~#" and the space), or it reads a blurred '+' as "+¢".
ocr() {
	local name=$1
	"$probe" capture "$win" "$work/$name.ppm" || fail "cannot capture the window"
	pamscale -xsize 2160 -filter=sinc "$work/$name.ppm" | pnminvert >"$work/$name-ocr.ppm"
	tesseract "$work/$name-ocr.ppm" "$work/$name" --psm 6 \
		-c tessedit_char_whitelist='abcdefghijklmnopqrstuvwxyz0123456789+.:~# ' >/dev/null 2>&1 ||
		fail "tesseract failed on the $name capture"
}

# 2. The picture's own size (a check of the OCR itself), then smaller and
# larger than the picture. Each size is waited for, then a
# frame drawn at it: the capture is retried (a few frames) until the
# marker reads or 20 s pass, since the window redraws on the resize event
# after the X server has already shown the new size.
for size in 720x400 504x280 1152x640; do
	xdotool windowsize "$win" "${size%x*}" "${size#*x}"
	wait_geometry "$size" 30
	start=$SECONDS
	found=
	while [ $((SECONDS - start)) -lt 20 ]; do
		sleep 0.5
		ocr "window-$size"
		if grep -Fxq "$marker" "$work/window-$size.txt"; then
			found=1
			break
		fi
	done
	[ -n "$found" ] || fail "OCR of the ${size} window did not read '$marker': $(tr '\n' '|' <"$work/window-$size.txt")"
	echo "run_window_scale: ${size}: OCR read '$marker'"
done

# 3. Full screen and back, while a `read` in the guest waits for a line:
# Ctrl+Alt+F would reach it as ESC ^F (the console's Meta_Control_f).
xdotool type --delay 40 'read -r v; echo "GOT-${#v}-$v-END"'
xdotool key Return
sleep 1
xdotool key ctrl+alt+f
wait_geometry "${screen_w}x${screen_h}" 30
echo "run_window_scale: Ctrl+Alt+F: the window is ${screen_w}x${screen_h}, the screen's size"
ocr fullscreen
grep -Fxq "$marker" "$work/fullscreen.txt" ||
	fail "OCR of the full-screen window did not read '$marker': $(tr '\n' '|' <"$work/fullscreen.txt")"
# The second press while btvm is stopped: the six key events wait in the
# X queue and SDL reads them all at once, as it does when the host is too
# busy to run the window's thread between them. The modifiers must be
# those at the F, not those after the releases read with it.
kill -STOP "$btvm_pid"
xdotool key ctrl+alt+f
sleep 0.5
kill -CONT "$btvm_pid"
wait_geometry 1152x640 30
echo "run_window_scale: Ctrl+Alt+F again: the window is 1152x640 again"
xdotool type --delay 40 'ab'
xdotool key Return
wait_screen '^GOT-[0-9]+-.*-END$' 60
got=$(grep -E '^GOT-[0-9]+-.*-END$' "$work/screen.txt" | tail -1)
[ "$got" = "GOT-2-ab-END" ] || fail "the guest's read got '$got', not only 'ab': the full-screen key reached it"
echo "run_window_scale: the guest read only 'ab' ($got)"

# 4. The std VGA's EDID: with the window sized by the user, bochs-drm
# loaded now (as btvm.drm would at boot) prefers the window's size, and
# its console takes that mode. Its answer goes to the serial console: the
# framebuffer has no text for --screenshot to dump.
xdotool windowsize "$win" 1000 700
wait_geometry 1000x700 30
xdotool type --delay 40 'for m in /lib/modules/drm/*.ko; do insmod $m; done; echo EDID-$(head -1 /sys/class/drm/card0-Virtual-1/modes)-$(cat /sys/class/graphics/fb0/virtual_size)-END >/dev/ttyS0'
xdotool key Return
start=$SECONDS
while [ $((SECONDS - start)) -lt 120 ]; do
	grep -aq 'EDID-.*-END' "$work/serial.log" && break
	kill -0 "$btvm_pid" 2>/dev/null || fail "btvm ended while bochs-drm loaded"
	sleep 0.5
done
edid=$(grep -a -o 'EDID-.*-END' "$work/serial.log" | tail -1)
[ "$edid" = "EDID-1000x700-1000,700-END" ] ||
	fail "bochs-drm did not take the window's 1000x700 from the EDID: '$edid'"
echo "run_window_scale: bochs-drm preferred the window's size from the EDID ($edid)"
wait_geometry 1000x700 30
echo "run_window_scale: PASS (shrunk, enlarged, full screen, EDID)"
