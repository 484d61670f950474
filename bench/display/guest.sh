#!/bin/busybox sh
# shellcheck shell=dash
# The guest's side of bench/display/run.sh (put into the initramfs as
# /bin/dbench, run from the serial console's shell by display.expect):
# the phases of one boot, each between two markers the runner reads off
# the serial console,
#
#	MK:b:<phase>:<guest uptime>    before
#	MK:e:<phase>:<guest uptime>    after
#
# at which it samples btvm's (and the X server's) CPU time. Phases:
#   idle             sleep IDLE seconds (after SETTLE seconds of quiet)
#   print-R          `yes | head -n LINES >/dev/tty1`: text at full speed
#                    on the VGA console (FBLINES lines instead when the
#                    console is a framebuffer's), repetition R
#   fill-M-T-R       fbfill M (write, mmap) into T (fb: /dev/fb0, tmp: a
#                    file in /tmp), repetition R; fbfill prints its rate
#                    (FBFILL ...); only with a framebuffer
# then DBENCH-DONE. Settings come from /etc/dbench.conf (written by
# run.sh): IDLE SETTLE LINES FBLINES REPS FILL_SECS.
IDLE=10 SETTLE=2 LINES=200000 FBLINES=20000 REPS=2 FILL_SECS=1.5
[ -r /etc/dbench.conf ] && . /etc/dbench.conf

m() { echo "MK:$1:$2:$(cut -d' ' -f1 /proc/uptime)"; }

if [ -e /dev/fb0 ]; then
	echo "DBENCH console: framebuffer $(head -n 1 /proc/fb)," \
		"$(cat /sys/class/graphics/fb0/virtual_size) x $(cat /sys/class/graphics/fb0/bits_per_pixel) bpp"
	lines=$FBLINES
else
	echo "DBENCH console: VGA text mode"
	lines=$LINES
fi

# Idle: only the kernel's timers and the console's cursor.
sleep "$SETTLE"
m b idle
sleep "$IDLE"
m e idle

# Text at full speed on the screen (tty1, the VGA's first console).
r=1
while [ $r -le "$REPS" ]; do
	m b print-$r
	yes | head -n "$lines" >/dev/tty1
	m e print-$r
	r=$((r + 1))
done

# Whole frames into the framebuffer and into RAM.
if [ -e /dev/fb0 ]; then
	for mode in write mmap; do
		for target in fb tmp; do
			case $target in
			fb) file=/dev/fb0 ;;
			tmp) file=/tmp/fbfill.out ;;
			esac
			r=1
			while [ $r -le "$REPS" ]; do
				m b fill-$mode-$target-$r
				fbfill "$mode" "$file" "$FILL_SECS" || echo "DBENCH-FAIL fbfill $mode $file"
				m e fill-$mode-$target-$r
				r=$((r + 1))
			done
		done
	done
	rm -f /tmp/fbfill.out
fi
echo "DBENCH-DONE $((6 * 7))"
