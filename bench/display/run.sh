#!/usr/bin/env bash
# The display benchmark: what the window costs. Boots Debian's i386 kernel
# with the busybox initramfs (scripts/fetch-guest.sh) four times under an
# X server of its own (Xvfb), with the window (--display sdl) and without
# (--display none), in VGA text mode and on a boot-time framebuffer
# (--vga WxH, vesafb), and in each boot measures from inside the guest
# (bench/display/guest.sh, driven from the serial console by
# tests/system/console_expect and display.expect):
#   idle    btvm's host CPU (utime+stime of all its threads, from
#           /proc/PID/stat) while the guest sleeps, as % of one core;
#   print   `yes | head -n N >/dev/tty1`: text at full speed on the VGA
#           console, the guest's elapsed time and btvm's CPU time;
#   fill    whole frames written to /dev/fb0 and to a file in /tmp by
#           bench/display/fbfill.c (write() and mmap), in MB/s;
# and prints one table, window against no window.
#
#	bench/display/run.sh [--build DIR] [--no-build] [--idle SEC] [--lines N]
#	                     [--fb-lines N] [--reps N] [--fill-secs SEC]
#	                     [--vga WxH] [--only text|fb] [--timeout SEC]
#	                     [--keep DIR]
#
# Figures, not pass/fail: nothing here is compared with a target except in
# the summary's words. Exit status 0 when every boot finished, 1 otherwise
# (the reasons follow the table), 2 on bad usage.
set -u -o pipefail
export LC_ALL=C # '.' decimals in EPOCHREALTIME, printf and awk

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=$repo/build
do_build=1
idle=10
lines=200000
fb_lines=20000
reps=2
fill_secs=1.5
vga=1024x768
limit=240
keep=
only=
mem=256
append="console=tty0 console=ttyS0 quiet"

usage() {
	echo "usage: bench/display/run.sh [--build DIR] [--no-build] [--idle SEC] [--lines N]" >&2
	echo "                            [--fb-lines N] [--reps N] [--fill-secs SEC]" >&2
	echo "                            [--vga WxH] [--only text|fb] [--timeout SEC] [--keep DIR]" >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case $1 in
	--build) [ $# -ge 2 ] || usage; build=$2; shift 2 ;;
	--no-build) do_build=0; shift ;;
	--idle) [ $# -ge 2 ] || usage; idle=$2; shift 2 ;;
	--lines) [ $# -ge 2 ] || usage; lines=$2; shift 2 ;;
	--fb-lines) [ $# -ge 2 ] || usage; fb_lines=$2; shift 2 ;;
	--reps) [ $# -ge 2 ] || usage; reps=$2; shift 2 ;;
	--fill-secs) [ $# -ge 2 ] || usage; fill_secs=$2; shift 2 ;;
	--vga) [ $# -ge 2 ] || usage; vga=$2; shift 2 ;;
	--timeout) [ $# -ge 2 ] || usage; limit=$2; shift 2 ;;
	--keep) [ $# -ge 2 ] || usage; keep=$2; shift 2 ;;
	--only) [ $# -ge 2 ] || usage; only=$2; shift 2 ;;
	-h|--help) sed -n '2,24p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//; s/^\t//'; exit 0 ;;
	*) echo "run.sh: unknown argument '$1'" >&2; usage ;;
	esac
done
for n in "$idle" "$lines" "$fb_lines" "$reps" "$limit"; do
	[[ $n =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: '$n' is not a positive number" >&2; exit 2; }
done
[[ $fill_secs =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "run.sh: '$fill_secs' is not a number of seconds" >&2; exit 2; }
[[ $vga =~ ^[1-9][0-9]*x[1-9][0-9]*$ ]] || { echo "run.sh: '$vga' is not WxH" >&2; exit 2; }
case $only in
''|text|fb) ;;
*) echo "run.sh: --only takes text or fb" >&2; exit 2 ;;
esac
build=$(realpath -m "$build")

if [ "$do_build" = 1 ]; then
	if [ ! -f "$build/CMakeCache.txt" ]; then
		cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null ||
			{ echo "run.sh: cmake configure failed" >&2; exit 1; }
	fi
	cmake --build "$build" -j "$(nproc)" --target btvm console_expect fbfill >/dev/null ||
		{ echo "run.sh: build failed (run: cmake --build $build --target btvm console_expect fbfill)" >&2; exit 1; }
fi

btvm=$build/btvm
expect_bin=$build/tests/system/console_expect
fbfill=$build/bench/display/fbfill
for f in "$btvm" "$expect_bin"; do
	[ -x "$f" ] || { echo "run.sh: $f not found (build first, or drop --no-build)" >&2; exit 1; }
done
[ -x "$fbfill" ] || { echo "run.sh: $fbfill not found (gcc -m32 -static cannot link? see cmake's warnings)" >&2; exit 1; }
for tool in Xvfb cpio gzip; do
	command -v "$tool" >/dev/null || { echo "run.sh: $tool is needed" >&2; exit 1; }
done

paths=$(bash "$repo/scripts/fetch-guest.sh" --print) ||
	{ echo "run.sh: scripts/fetch-guest.sh failed: no guest kernel and initramfs" >&2; exit 1; }
{ read -r kernel; read -r base_initrd; } <<< "$paths"

mkdir -p "$build/bench/display"
tmp=$(mktemp -d "$build/bench/display/run.XXXXXX")
xvfb_pid=
ce_pid=
btvm_pid=
cleanup() {
	# console_expect ends btvm (TERM, then KILL) when it is told to stop.
	if [ -n "$ce_pid" ]; then
		kill "$ce_pid" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$ce_pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$ce_pid" 2>/dev/null
	fi
	[ -n "$btvm_pid" ] && kill -9 "$btvm_pid" 2>/dev/null
	[ -n "$xvfb_pid" ] && kill "$xvfb_pid" 2>/dev/null
	if [ -n "$keep" ]; then
		mkdir -p "$keep" && cp -f "$tmp"/*.log "$tmp"/*.err "$tmp"/xvfb.out "$keep"/ 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The benchmark initramfs: the test one, then a second archive adding
# /bin/dbench, /bin/fbfill and their settings (the test /init stays: the
# shells on the serial console and on tty1).
mkdir -p "$tmp/root/bin" "$tmp/root/etc"
cp "$here/guest.sh" "$tmp/root/bin/dbench"
cp "$fbfill" "$tmp/root/bin/fbfill"
echo "IDLE=$idle SETTLE=2 LINES=$lines FBLINES=$fb_lines REPS=$reps FILL_SECS=$fill_secs" \
	> "$tmp/root/etc/dbench.conf"
chmod 755 "$tmp/root/bin/dbench" "$tmp/root/bin/fbfill"
initrd=$tmp/initramfs.cpio.gz
cp "$base_initrd" "$initrd"
(cd "$tmp/root" && find . -mindepth 1 | sort | cpio -o -H newc -R 0:0 --quiet) | gzip -n >> "$initrd" ||
	{ echo "run.sh: cannot build the benchmark initramfs" >&2; exit 1; }

# The X server: the display number it picks itself.
exec 3> "$tmp/display"
Xvfb -displayfd 3 -screen 0 1280x1024x24 -nolisten tcp -noreset > "$tmp/xvfb.out" 2>&1 &
xvfb_pid=$!
exec 3>&-
for _ in $(seq 100); do
	[ -s "$tmp/display" ] && break
	sleep 0.1
done
[ -s "$tmp/display" ] || { echo "run.sh: Xvfb did not start:" >&2; cat "$tmp/xvfb.out" >&2; exit 1; }
DISPLAY=":$(head -n 1 "$tmp/display")"
export DISPLAY
unset WAYLAND_DISPLAY

tck=$(getconf CLK_TCK)

# cpu_ticks PID: utime + stime of the whole process (all its threads, the
# ended ones too), in clock ticks; -1 when it is gone.
cpu_ticks() {
	local s f
	read -r s 2>/dev/null < "/proc/$1/stat" || { echo -1; return; }
	s=${s##*) }
	read -r -a f <<< "$s"
	echo $((f[11] + f[12]))
}

# Per boot and phase: host time, btvm's and Xvfb's CPU ticks and the
# guest's uptime at each marker (b, e); the fbfill rate of a fill phase.
declare -A host cpu xcpu up rate
: > "$tmp/failures"

# run_boot NAME DISPLAY VGA: one boot; reads its console as it arrives.
run_boot() {
	local name=$1 disp=$2 screen=$3 log=$tmp/$1.log err=$tmp/$1.err
	local fifo=$tmp/$1.fifo line part='' rs phase='' status deadline be ph
	local args=(run --kernel "$kernel" --initrd "$initrd" --append "$append" -m "$mem"
		    --no-reboot --display "$disp")
	[ "$screen" = text ] || args+=(--vga "$screen")
	mkfifo "$fifo"
	"$expect_bin" -v -t 120 -l "$log" "$here/display.expect" "$btvm" "${args[@]}" \
		> "$fifo" 2> "$err" < /dev/null &
	ce_pid=$!
	btvm_pid=
	exec 4< "$fifo"
	deadline=$((SECONDS + limit))
	while :; do
		IFS= read -r -t 2 line <&4
		rs=$?
		if [ $rs != 0 ]; then
			[ $rs -gt 128 ] || break # the end of the console
			part+=$line # a timed-out read keeps what it read
			if [ $SECONDS -ge $deadline ]; then
				echo "--- $name: no end after ${limit}s" >> "$tmp/failures"
				kill "$ce_pid" 2>/dev/null
				deadline=$((SECONDS + 30))
			fi
			continue
		fi
		line=$part$line part=
		if [[ $line =~ MK:([be]):([a-z0-9-]+):([0-9.]+) ]]; then
			local t=$EPOCHREALTIME
			be=${BASH_REMATCH[1]} ph=${BASH_REMATCH[2]}
			[ -n "$btvm_pid" ] || btvm_pid=$(pgrep -P "$ce_pid" | head -n 1)
			host[$name,$ph,$be]=$t
			cpu[$name,$ph,$be]=$(cpu_ticks "${btvm_pid:-0}")
			xcpu[$name,$ph,$be]=$(cpu_ticks "$xvfb_pid")
			up[$name,$ph,$be]=${BASH_REMATCH[3]}
			[ "$be" = b ] && phase=$ph
		elif [[ $line =~ FBFILL\ [a-z]+\ [^\ ]+\ frame\ [0-9]+\ rounds\ [0-9]+\ seconds\ [0-9.]+\ MBps\ ([0-9.]+) ]]; then
			rate[$name,$phase]=${BASH_REMATCH[1]}
		elif [[ $line =~ DBENCH\ console:\ (.*) ]]; then
			echo "  $name: ${BASH_REMATCH[1]//$'\r'/}" >&2
		fi
	done
	exec 4<&-
	wait "$ce_pid"
	status=$?
	ce_pid=
	btvm_pid=
	rm -f "$fifo"
	if [ "$status" != 0 ]; then
		{
			echo "--- $name: console_expect status $status"
			echo "    command: btvm$(printf ' %q' "${args[@]}")"
			tail -n 4 "$err" | sed 's/^/    err: /'
			sed 's/\x1b\[[0-9;?]*[A-Za-z]//g; s/\r//g' "$log" | grep -av '^\s*$' | tail -n 8 |
				sed 's/^/    out: /'
		} >> "$tmp/failures"
	fi
}

# phase_cpu BOOT PHASE btvm|x: % of one core over the phase, or '-'.
phase_cpu() {
	local b=$1 p=$2 c0 c1
	if [ "$3" = x ]; then
		c0=${xcpu[$b,$p,b]-} c1=${xcpu[$b,$p,e]-}
	else
		c0=${cpu[$b,$p,b]-} c1=${cpu[$b,$p,e]-}
	fi
	local t0=${host[$b,$p,b]-} t1=${host[$b,$p,e]-}
	if [ -z "$c0" ] || [ -z "$c1" ] || [ "$c0" -lt 0 ] || [ "$c1" -lt 0 ] || [ -z "$t0" ] || [ -z "$t1" ]; then
		echo -
		return
	fi
	awk -v c="$((c1 - c0))" -v k="$tck" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", 100 * c / k / (b - a) }'
}

# phase_cpus BOOT PHASE: btvm's CPU seconds over the phase, or '-'.
phase_cpus() {
	local c0=${cpu[$1,$2,b]-} c1=${cpu[$1,$2,e]-}
	[ -n "$c0" ] && [ -n "$c1" ] && [ "$c0" -ge 0 ] && [ "$c1" -ge 0 ] || { echo -; return; }
	awk -v c="$((c1 - c0))" -v k="$tck" 'BEGIN { printf "%.2f", c / k }'
}

# guest_secs BOOT PHASE: the phase's length by the guest's clock, or '-'.
guest_secs() {
	local u0=${up[$1,$2,b]-} u1=${up[$1,$2,e]-}
	[ -n "$u0" ] && [ -n "$u1" ] || { echo -; return; }
	awk -v a="$u0" -v b="$u1" 'BEGIN { printf "%.2f", b - a }'
}

# best_rep BOOT PREFIX min|max: the repetition whose figure (guest seconds
# for print, fbfill's rate for fill) is best; empty when none finished.
best_rep() {
	local b=$1 pre=$2 how=$3 r v best='' bestv=''
	for ((r = 1; r <= reps; r++)); do
		if [ "$how" = min ]; then v=$(guest_secs "$b" "$pre-$r"); else v=${rate[$b,$pre-$r]:--}; fi
		[ "$v" = - ] && continue
		if [ -z "$best" ] || awk -v a="$v" -v b="$bestv" -v h="$how" \
			'BEGIN { exit !(h == "min" ? a < b : a > b) }'; then
			best=$pre-$r bestv=$v
		fi
	done
	echo "$best"
}

ratio() { # ratio A B: A/B of two figures, '-' unless both are numbers
	[[ $1 =~ ^[0-9.]+$ && $2 =~ ^[0-9.]+$ ]] || { echo -; return; }
	awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "-" }'
}

load=$(cut -d' ' -f1-3 /proc/loadavg)
echo "btvm display benchmark: window (--display sdl, Xvfb $DISPLAY 1280x1024x24) against --display none"
echo "guest: $(basename "$kernel") ($(cat "$(dirname "$kernel")/vmlinuz.release" 2>/dev/null || echo '?')), -m $mem, '$append'"
echo "host: $(nproc) CPUs, load average $load at start (other work running adds noise)"
echo "settings: idle ${idle}s, $lines lines on the text console, $fb_lines on fbcon, best of $reps, fills ${fill_secs}s, --vga $vga"
t_start=$SECONDS
boots=()
[ "$only" = fb ] || boots+=(text-sdl text-none)
[ "$only" = text ] || boots+=(fb-sdl fb-none)
for b in "${boots[@]}"; do
	echo "boot $b ..." >&2
	case $b in
	text-*) run_boot "$b" "${b#text-}" text ;;
	fb-*) run_boot "$b" "${b#fb-}" "$vga" ;;
	esac
done
t_total=$((SECONDS - t_start))

# The table: one row a measure, the window's columns, the no-window's,
# then the ratios.
out() { printf '%-34s %9s %9s %6s  %9s %9s  %7s %7s\n' "$@"; }
echo
printf '%-34s %-27s  %-19s  %-15s\n' "" "------ window (sdl) -------" "--- no window -----" "-- sdl/none ---"
out measure value "btvm cpu" "X cpu" value "btvm cpu" value cpu
out ------- ----- -------- ----- ----- -------- ----- ---

# idle_row LABEL SCREEN
idle_row() {
	local s=$2
	local cs cn
	cs=$(phase_cpu "$s-sdl" idle btvm) cn=$(phase_cpu "$s-none" idle btvm)
	out "$1" - "$cs%" "$(phase_cpu "$s-sdl" idle x)%" - "$cn%" - "$(ratio "$cs" "$cn")"
}

# print_row LABEL SCREEN: guest seconds and btvm's CPU seconds of the
# best repetition.
print_row() {
	local s=$2 rs rn gs gn cs cn
	rs=$(best_rep "$s-sdl" print min) rn=$(best_rep "$s-none" print min)
	gs=$(guest_secs "$s-sdl" "${rs:-x}") gn=$(guest_secs "$s-none" "${rn:-x}")
	cs=$(phase_cpus "$s-sdl" "${rs:-x}") cn=$(phase_cpus "$s-none" "${rn:-x}")
	out "$1" "$gs s" "$cs s" "$(phase_cpu "$s-sdl" "${rs:-x}" x)%" "$gn s" "$cn s" \
		"$(ratio "$gs" "$gn")" "$(ratio "$cs" "$cn")"
	print_ratio[$s]="$(ratio "$gs" "$gn") $(ratio "$cs" "$cn")"
}

# fill_row LABEL PHASE-PREFIX: fbfill's best rate and btvm's CPU then.
fill_row() {
	local rs rn vs vn
	rs=$(best_rep fb-sdl "$2" max) rn=$(best_rep fb-none "$2" max)
	vs=${rate[fb-sdl,${rs:-x}]:--} vn=${rate[fb-none,${rn:-x}]:--}
	out "$1" "$vs" "$(phase_cpu fb-sdl "${rs:-x}" btvm)%" "$(phase_cpu fb-sdl "${rs:-x}" x)%" \
		"$vn" "$(phase_cpu fb-none "${rn:-x}" btvm)%" "$(ratio "$vs" "$vn")" -
}

declare -A print_ratio
idle_row "idle ${idle}s, VGA text" text
idle_row "idle ${idle}s, vesafb $vga" fb
print_row "print $lines lines, VGA text" text
print_row "print $fb_lines lines, fbcon $vga" fb
fill_row "fill write() /dev/fb0, MB/s" fill-write-fb
fill_row "fill write() /tmp file, MB/s" fill-write-tmp
fill_row "fill mmap /dev/fb0, MB/s" fill-mmap-fb
fill_row "fill mmap /tmp file, MB/s" fill-mmap-tmp
echo
echo "value: print, the guest's elapsed seconds (its clock); fill, MB/s (10^6 B/s) by fbfill's clock."
echo "btvm cpu: idle and fill, % of one core over the phase (host clock); print, CPU seconds."
echo "X cpu: Xvfb's share, % of one core (drawing the window is partly the X server's work)."
echo "sdl/none: window / no window (value; cpu: btvm CPU). Print and fill: the best of $reps repetitions."

# The guest's clock against the host's over the print phases.
clock=
for b in text-sdl text-none; do
	for ((r = 1; r <= reps; r++)); do
		g=$(guest_secs "$b" "print-$r")
		[ "$g" = - ] || [ -z "${host[$b,print-$r,e]-}" ] && continue
		clock+=" $(awk -v g="$g" -v a="${host[$b,print-$r,b]}" -v c="${host[$b,print-$r,e]}" \
			'BEGIN { printf "%.3f", g / (c - a) }')"
	done
done
[ -n "$clock" ] && echo "guest/host clock over the text print phases:$clock (near 1: the guest's seconds are real)"

# write() into a /tmp file copies as fast as memcpy into a mapping of it,
# unless the guest kernel's copy_from_user runs element by element in the
# monitor (an adaptive string instruction: see bench/README.md); then the
# write() rows say that, not what the display costs.
for b in fb-sdl fb-none; do
	w=${rate[$b,$(best_rep "$b" fill-write-tmp max)]:-} m=${rate[$b,$(best_rep "$b" fill-mmap-tmp max)]:-}
	[ -n "$w" ] && [ -n "$m" ] && awk -v w="$w" -v m="$m" 'BEGIN { exit !(w * 10 < m) }' &&
		echo "note: $b: write() to /tmp ran at $w MB/s against mmap's $m: the guest's" \
			"copy_from_user went through the monitor (adaptive REP MOVS); its write() rows measure that"
done

read -r te tc <<< "${print_ratio[text]:-- -}"
pct() { [[ $1 =~ ^[0-9.]+$ ]] && awk -v r="$1" 'BEGIN { printf "%+.1f%%", 100 * (r - 1) }' || echo -; }
echo "summary: the window's cost printing text at full speed (VGA text): guest time $(pct "$te")," \
	"btvm CPU time $(pct "$tc") (target < 5%); whole run ${t_total}s"

if [ -s "$tmp/failures" ]; then
	echo
	echo "FAILURES:"
	cat "$tmp/failures"
	[ -n "$keep" ] || echo "(--keep DIR keeps the console logs)"
	exit 1
fi
exit 0
