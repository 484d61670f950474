#!/usr/bin/env bash
# The disk benchmark (issue 13): a real Debian system on a virtio disk,
# under btvm and under qemu-system-i386's TCG side by side, plus the
# host's own dd on the same image files, in one run. Two parts:
#
#  1. Debian boot: the image of scripts/make-debian-image.sh (a private
#     copy, booted with --snapshot / snapshot=on, so every boot is the
#     same first boot), -m 512, from start to the autologin shell prompt on
#     ttyS0 and from `poweroff` to the VMM's exit, N runs each (btvm and
#     QEMU alternating), with the phases (kernel, initramfs, systemd, login)
#     taken from the console as it arrives.
#  2. Disk throughput: one more boot each, with a fresh copy (no snapshot)
#     and a scratch image as /dev/vdb: sequential direct-I/O reads and
#     writes with dd (bs=1M) and random 4 KiB direct reads (rread.c, the
#     same static i386 program on both sides), each --reps times (the
#     best counts); right after each of the guest's tests, while it waits
#     at its prompt, the host does the same on other regions of the same
#     scratch file, with O_DIRECT and buffered (console_expect's `run`),
#     so that host and guest are measured in the same minute.
#  3. --ide, instead of 1 and 2 (issue 43): IDE and ATAPI against virtio,
#     btvm and QEMU side by side: one boot each (a fresh copy, no
#     snapshot) with three more drives, a scratch image on virtio
#     (/dev/vdb), another on the IDE controller's primary master
#     (/dev/sda: btvm --disk FILE,if=ide, QEMU -drive if=ide) and an ISO
#     9660 image in the CD-ROM drive, the secondary master (/dev/sr0:
#     --cdrom / -cdrom); sequential direct-I/O dd reads and writes of
#     both disks and reads of the CD, --reps times (the best counts);
#     btvm's counters (--stats-json, dumped by SIGUSR1 around each test)
#     give callouts, exits and IDE commands per MiB of each test. --runs
#     sets the number of sessions per VMM (btvm and QEMU alternate).
#
#	bench/disk/run.sh [--runs N] [--no-qemu] [--no-boot] [--no-disk]
#	                  [--ide] [--mib N] [--reads N] [--reps N] [--build DIR]
#	                  [--no-build] [--timeout SEC]
#
# Figures, not thresholds: the summary line states the issue's targets
# (boot: btvm at most a third of QEMU's time; sequential I/O: at least 80%
# of the host's) next to the figures. Console logs, btvm's --stats and
# the raw timings of the last run stay in BUILD/bench/disk/logs/.
# Exit status: 0 when every run finished, 1 when any failed (the reasons
# follow the tables), 2 on bad usage.
set -u -o pipefail
export LC_ALL=C     # '.' decimals in EPOCHREALTIME, printf and awk

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/../lib.sh"
repo=$(cd "$here/../.." && pwd)
build=$repo/build
runs=3
use_qemu=1
do_build=1
do_boot=1
do_disk=1
do_ide=0
mib=256
reads=8192
reps=3
limit=300
mem=512
prompt='root@debian-btvm:~#'

usage() {
	echo "usage: bench/disk/run.sh [--runs N] [--no-qemu] [--no-boot] [--no-disk] [--ide]" >&2
	echo "                         [--mib N] [--reads N] [--reps N] [--build DIR] [--no-build] [--timeout SEC]" >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case $1 in
	--runs) [ $# -ge 2 ] || usage; runs=$2; shift 2 ;;
	--no-qemu) use_qemu=0; shift ;;
	--no-boot) do_boot=0; shift ;;
	--no-disk) do_disk=0; shift ;;
	--ide) do_ide=1; shift ;;
	--mib) [ $# -ge 2 ] || usage; mib=$2; shift 2 ;;
	--reads) [ $# -ge 2 ] || usage; reads=$2; shift 2 ;;
	--reps) [ $# -ge 2 ] || usage; reps=$2; shift 2 ;;
	--build) [ $# -ge 2 ] || usage; build=$2; shift 2 ;;
	--no-build) do_build=0; shift ;;
	--timeout) [ $# -ge 2 ] || usage; limit=$2; shift 2 ;;
	-h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//; s/^\t//'; exit 0 ;;
	*) echo "run.sh: unknown argument '$1'" >&2; usage ;;
	esac
done
for n in "$runs" "$mib" "$reads" "$reps" "$limit"; do
	[[ $n =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: '$n' is not a positive number" >&2; exit 2; }
done
[ "$reads" -le $((mib * 256)) ] || { echo "run.sh: --reads is at most --mib * 256" >&2; exit 2; }
build=$(realpath -m "$build")
# --ide is its own benchmark: the boots and the virtio-against-host tests
# would only lengthen the run (run the script again without it for them).
[ "$do_ide" = 1 ] && do_boot=0 do_disk=0

if [ "$do_build" = 1 ]; then
	if [ ! -f "$build/CMakeCache.txt" ]; then
		cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null ||
			{ echo "run.sh: cmake configure failed" >&2; exit 1; }
	fi
	cmake --build "$build" -j "$(nproc)" --target btvm console_expect rread >/dev/null ||
		{ echo "run.sh: build failed (run: cmake --build $build --target btvm console_expect rread)" >&2; exit 1; }
fi

btvm=$build/btvm
expect_bin=$build/tests/system/console_expect
rread=$build/bench/disk/rread
for f in "$btvm" "$expect_bin" "$rread"; do
	[ -x "$f" ] || { echo "run.sh: $f not found (build first, or drop --no-build)" >&2; exit 1; }
done
[ "$do_disk" = 0 ] || command -v debugfs >/dev/null || { echo "run.sh: debugfs (e2fsprogs) is needed to put rread on the guest's disk" >&2; exit 1; }
[ "$do_ide" = 0 ] || command -v xorriso >/dev/null || { echo "run.sh: xorriso is needed to make the CD's ISO 9660 image for --ide" >&2; exit 1; }
[ "$do_ide" = 0 ] || command -v jq >/dev/null || { echo "run.sh: jq is needed to read btvm's --stats-json for --ide" >&2; exit 1; }

qemu=
if [ "$use_qemu" = 1 ]; then
	qemu=$(command -v qemu-system-i386 || true)
	[ -n "$qemu" ] || echo "run.sh: qemu-system-i386 not installed: skipping QEMU"
else
	echo "run.sh: --no-qemu: skipping QEMU"
fi
kinds=(btvm)
[ -n "$qemu" ] && kinds+=(qemu)

mkdir -p "$build/bench/disk"
logs=$build/bench/disk/logs
rm -rf "$logs"
mkdir -p "$logs"
tmp=$(mktemp -d "$build/bench/disk/run.XXXXXX")
# The VMMs' snapshot overlays (btvm's and QEMU's) go here too.
export TMPDIR=$tmp
: > "$tmp/failures"

# The session running now (console_expect and the stamper), ended by the
# traps: console_expect ends its VMM when it gets SIGTERM.
session_pids=()
cleanup() {
	local p
	for p in "${session_pids[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${session_pids[@]}"; do
		wait "$p" 2>/dev/null
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'echo "run.sh: interrupted" >&2; exit 130' INT
trap 'exit 143' TERM HUP

# The image (built once and cached by the script), its kernel and
# initramfs, and this run's copy for the boots.
paths=$(bash "$repo/scripts/make-debian-image.sh" --print --copy "$tmp/boot.img")
status=$?
case $status in
0) ;;
3) echo "run.sh: the Debian image cannot be built: no network and nothing cached" >&2; exit 1 ;;
*) echo "run.sh: scripts/make-debian-image.sh failed (status $status)" >&2; exit 1 ;;
esac
{ read -r boot_img; read -r kernel; read -r initrd; } <<< "$paths"
[ -s "$boot_img" ] && [ -s "$kernel" ] && [ -s "$initrd" ] ||
	{ echo "run.sh: make-debian-image.sh --print gave no image, kernel or initramfs" >&2; exit 1; }

# first_stamp LOG KIND TEXT: the time of the first record of KIND (L, or
# PL for either) containing TEXT (fixed string), or nothing.
first_stamp() {
	awk -v kinds="$2" -v text="$3" 'index(kinds, $2) && index(substr($0, length($1) + 4), text) { print $1; exit }' "$1"
}

# line_stamp LOG TEXT: the time of the first whole line that is TEXT,
# or starts with TEXT and a space.
line_stamp() {
	awk -v text="$2" '$2 == "L" { s = substr($0, length($1) + 4); gsub(/\033\[[0-9;?]*[A-Za-z]/, "", s); if (s == text || index(s, text " ") == 1) { print $1; exit } }' "$1"
}


# session NAME SCRIPT CMD...: one VMM run driven by console_expect from
# SCRIPT, its console stamped into $logs/NAME.log; sets t0 (the start),
# t_end (the end of the VMM) and returns console_expect's status.
session() {
	local name=$1 script=$2 fifo=$tmp/$1.fifo
	shift 2
	rm -f "$fifo"
	mkfifo "$fifo"
	stamp_console < "$fifo" > "$logs/$name.log" &
	local stamper=$!
	t0=$EPOCHREALTIME
	"$expect_bin" -t "$limit" -v "$script" "$@" > "$fifo" 2> "$logs/$name.err" &
	local ce=$!
	session_pids=("$ce" "$stamper")
	wait "$ce"
	local status=$?
	t_end=$EPOCHREALTIME
	wait "$stamper"
	session_pids=()
	rm -f "$fifo"
	if [ "$status" != 0 ]; then
		{
			echo "--- $name: console_expect exit status $status"
			echo "    command:$(printf ' %q' "$@")"
			grep -a 'console_expect:' "$logs/$name.err" | tail -n 3 | sed 's/^/    /'
			sed 's/^[0-9.]* [LP] //; s/\x1b\[[0-9;?]*[A-Za-z]//g' "$logs/$name.log" |
				grep -av '^\s*$' | tail -n 6 | sed 's/^/    out: /'
		} >> "$tmp/failures"
	fi
	return "$status"
}

vmm_cmd() { # vmm_cmd KIND SNAPSHOT DISK...: sets cmd
	local k=$1 snap=$2 d
	shift 2
	case $k in
	btvm)
		cmd=("$btvm" run --display none -m "$mem" --stats --net none)
		for d; do cmd+=(--disk "$d"); done
		[ "$snap" = 1 ] && cmd+=(--snapshot) ;;
	qemu)
		cmd=("$qemu" -m "$mem" -kernel "$kernel" -initrd "$initrd"
		     -append "console=ttyS0 root=/dev/vda ro" -nic none -nographic -no-reboot)
		for d; do
			cmd+=(-drive "file=$d,if=virtio,format=raw$([ "$snap" = 1 ] && echo ,snapshot=on)")
		done ;;
	esac
}

common_head="fail_on Kernel panic
fail_on BUG:\\s
fail_on Oops:\\s
fail_on EXT4-fs error
fail_on I/O error, dev
expect $prompt"

# ---- Part 1: boots ----------------------------------------------------------

declare -A boot         # boot[KIND,RUN,PHASE] seconds
boot_script=$tmp/boot.expect
printf '%s\nsend poweroff\nexpect_exit 0\n' "$common_head" > "$boot_script"

boot_once() { # boot_once KIND RUN
	local k=$1 i=$2 name=boot-$1-$2 log t_init t_sys t_login t_prompt t_off
	vmm_cmd "$k" 1 "$boot_img"
	session "$name" "$boot_script" "${cmd[@]}" || return
	log=$logs/$name.log
	t_init=$(first_stamp "$log" L 'Run /init as init process')
	t_sys=$(first_stamp "$log" L 'running in system mode')
	t_login=$(first_stamp "$log" L 'login: root (automatic login)')
	t_prompt=$(first_stamp "$log" PL "$prompt")
	t_off=$(first_stamp "$log" L "$prompt poweroff")
	if [ -z "$t_prompt" ]; then
		echo "--- $name: no shell prompt in the stamped console log" >> "$tmp/failures"
		return 1
	fi
	[ -n "$t_off" ] || t_off=$t_prompt
	boot[$k,$i,prompt]=$(diff_s "$t0" "$t_prompt")
	boot[$k,$i,off]=$(diff_s "$t_off" "$t_end")
	boot[$k,$i,total]=$(diff_s "$t0" "$t_end")
	if [ -n "$t_init" ] && [ -n "$t_sys" ]; then
		boot[$k,$i,kernel]=$(diff_s "$t0" "$t_init")
		boot[$k,$i,initramfs]=$(diff_s "$t_init" "$t_sys")
	fi
	if [ -n "$t_sys" ] && [ -n "$t_login" ]; then
		boot[$k,$i,systemd]=$(diff_s "$t_sys" "$t_login")
		boot[$k,$i,login]=$(diff_s "$t_login" "$t_prompt")
	fi
	if [ "$k" = btvm ]; then
		sed -n '/^[0-9.]* P /d; s/^[0-9.]* L //; /^btvm stats:/,$p' "$log" | grep -v '^console_expect:' > "$logs/$name.stats"
	fi
	echo "  $name: shell prompt after ${boot[$k,$i,prompt]} s, off ${boot[$k,$i,off]} s after poweroff" >&2
}

# ---- Part 2: disk throughput ------------------------------------------------

scratch=$tmp/scratch.img
declare -A io           # io[KIND,TEST] the best MB/s or reads/s; KIND btvm, qemu,
                        # host-direct-VMM, host-buffered-VMM (the host's, in VMM's session)
declare -A whole        # whole[KIND,TEST] "program's seconds (whole command's)" of each repetition
declare -A secs         # secs[KIND,TEST,REP] the program's seconds, for the paired ratios
seq_bytes=$((mib * 1048576))

# The scratch image: 4 * REPS regions of MIB MiB of random data, on disk
# and out of the host's page cache. Repetition j (0-based) of the guest
# reads region j sequentially (then writes it) and reads its random
# blocks from region 2 * REPS + j; the host's repetition j, run right
# after the guest's test, uses regions REPS + j and 3 * REPS + j: no read
# finds its data in a cache that an earlier test filled.
fresh_scratch() {
	dd if=/dev/urandom of="$scratch" bs=1M count=$((4 * reps * mib)) conv=fsync status=none &&
		evict
}
evict() { dd if="$scratch" iflag=nocache count=0 status=none; }

mbps() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.1f", b / s / 1e6 }'; }
iops() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }

# seconds_of TEST FILE: the time the program itself reports in FILE (one
# run's output): dd's "copied, S s", rread's "RREAD N reads S s". Whole
# lines (L records) only: a P record is a line cut where the console's
# output paused, and "RREAD" alone once made a run of the random test fail.
seconds_of() {
	case $1 in
	rand) awk '/^[0-9.]* P / { next } { sub(/^[0-9.]* L /, "") } $1 == "RREAD" { print $4; exit }' "$2" ;;
	*) awk '/^[0-9.]* P / { next } / copied, / { sub(/.* copied, /, ""); print $1; exit }' "$2" ;;
	esac
}

# record KIND TEST SECONDS: keeps the best figure (MB/s or reads/s) of
# the repetitions; no time (a failure) makes it FAILED.
record() {
	local k=$1 t=$2 v
	[[ $3 =~ ^[0-9.]+$ ]] || { io[$k,$t]=FAILED; return 1; }
	case $t in
	rand) v=$(iops "$reads" "$3") ;;
	*) v=$(mbps "$seq_bytes" "$3") ;;
	esac
	[ "${io[$k,$t]-}" = FAILED ] && return 0
	if [ -z "${io[$k,$t]-}" ] || awk -v a="$v" -v b="${io[$k,$t]}" 'BEGIN { exit !(a > b) }'; then
		io[$k,$t]=$v
	fi
}

# The host's side of each test, run by console_expect (its `run` step)
# right after the guest's, while the guest waits at its prompt: the host
# and the guest measured in the same minute, as the host's own disk speed
# drifts (its direct writes moved 1.1-4.0 GB/s between runs). Each
# writes "== TEST REP MODE" and the program's output to the session's
# host log, then drops the scratch image from the page cache.
# host_test.sh SCRATCH RREAD MIB READS REPS LOG TEST REP (REP 1-based)
host_script=$tmp/host_test.sh
cat > "$host_script" <<'HOST'
set -u
scratch=$1 rread=$2 mib=$3 reads=$4 reps=$5 log=$6 t=$7 n=$8
j=$((n - 1)) bytes=$((mib * 1048576))
for mode in direct buffered; do
	flag=
	case $t in
	seqr)
		[ "$mode" = direct ] && flag=iflag=direct
		cmd=(dd if="$scratch" of=/dev/null bs=1M count="$mib" skip=$(((reps + j) * mib)) $flag) ;;
	seqw)
		[ "$mode" = direct ] && flag=oflag=direct
		cmd=(dd if=/dev/zero of="$scratch" bs=1M count="$mib" seek=$(((reps + j) * mib)) conv=notrunc,fsync $flag) ;;
	rand)
		[ "$mode" = buffered ] && flag=--buffered
		cmd=("$rread" $flag "$scratch" $(((3 * reps + j) * bytes)) "$bytes" "$reads") ;;
	esac
	{ echo "== $t $n $mode:$(printf ' %q' "${cmd[@]}")"; "${cmd[@]}" 2>&1; echo "== status $?"; } >> "$log"
	dd if="$scratch" iflag=nocache count=0 status=none
done
HOST

# The guest's side: each test between two marker lines whose arrival the
# stamper times ($((N)) keeps the typed command from matching), and the
# host's beside it (disk_script KIND: the script for KIND's session). The
# order alternates, the guest first in odd repetitions and the host in
# even ones: a disk that slows down or speeds up over the session (this
# host's, just after the scratch file was written) favours neither side.
disk_script() {
	local k=$1 j n t guest host
	echo "$common_head"
	for ((j = 0; j < reps; j++)); do
		n=$((j + 1))
		for t in seqr rand seqw; do
			case $t in
			seqr) guest="dd if=/dev/vdb of=/dev/null bs=1M count=$mib skip=$((j * mib)) iflag=direct" ;;
			rand) guest="/usr/local/bin/rread /dev/vdb $(((2 * reps + j) * seq_bytes)) $seq_bytes $reads" ;;
			seqw) guest="dd if=/dev/zero of=/dev/vdb bs=1M count=$mib seek=$((j * mib)) oflag=direct conv=fsync" ;;
			esac
			host="run bash $host_script $scratch $rread $mib $reads $reps $logs/host-$k.log $t $n"
			[ $((n % 2)) = 0 ] && echo "$host"
			echo "send echo ${t^^}-\$(($n))BEGIN; $guest; echo ${t^^}-\$(($n))END \$?"
			echo "expect ${t^^}-${n}END 0"
			echo "expect $prompt"
			[ $((n % 2)) = 1 ] && echo "$host"
		done
	done
	echo "send poweroff"
	echo "expect_exit 0"
}

# host_results KIND: the host's figures of KIND's session, from its log.
host_results() {
	local k=$1 log=$logs/host-$1.log t n mode
	for ((n = 1; n <= reps; n++)); do
		for t in seqr rand seqw; do
			for mode in direct buffered; do
				awk -v head="== $t $n $mode:" 'index($0, head) == 1 { on = 1; next } on && /^== status / { exit } on' \
					"$log" > "$tmp/host.out" 2>/dev/null
				secs[host-$mode-$k,$t,$n]=$(seconds_of "$t" "$tmp/host.out")
				record "host-$mode-$k" "$t" "${secs[host-$mode-$k,$t,$n]}" ||
					echo "--- host $t $n ($mode, in the $k session): no time in its output (see $log)" >> "$tmp/failures"
			done
		done
	done
}

guest_disk() { # guest_disk KIND
	local k=$1 name=disk-$1 img=$tmp/disk-$1.img log t a b s n
	rm -f "$img"
	bash "$repo/scripts/make-debian-image.sh" --print --copy "$img" > /dev/null &&
		debugfs -w -R "write $rread /usr/local/bin/rread" "$img" > "$logs/$name.debugfs" 2>&1 &&
		debugfs -R "stat /usr/local/bin/rread" "$img" 2>/dev/null | grep -q 'Mode: *0755' ||
		{ echo "--- $name: cannot make the disk with rread on it" >> "$tmp/failures"; return 1; }
	fresh_scratch || { echo "--- $name: cannot write the scratch image" >> "$tmp/failures"; return 1; }
	: > "$logs/host-$k.log"
	disk_script "$k" > "$tmp/disk-$k.expect"
	vmm_cmd "$k" 0 "$img" "$scratch"
	session "$name" "$tmp/disk-$k.expect" "${cmd[@]}"
	rm -f "$img"
	host_results "$k"
	log=$logs/$name.log
	# Each test's output is what the log holds between its markers; the
	# figure is by the program's own clock (the guest's), the markers'
	# arrival gives the whole command by the host's (start-up included).
	for ((n = 1; n <= reps; n++)); do
		for t in seqr rand seqw; do
			a=$(line_stamp "$log" "${t^^}-${n}BEGIN")
			b=$(line_stamp "$log" "${t^^}-${n}END 0")
			if [ -z "$a" ] || [ -z "$b" ]; then
				io[$k,$t]=FAILED
				continue
			fi
			awk -v a="$a" -v b="$b" '$1 > a && $1 <= b' "$log" > "$tmp/$t.out"
			s=$(seconds_of "$t" "$tmp/$t.out")
			secs[$k,$t,$n]=$s
			record "$k" "$t" "$s" ||
				echo "--- $name: no time in the output of the $t test $n (see $log)" >> "$tmp/failures"
			whole[$k,$t]+="${whole[$k,$t]:+, }$(fmt "$s" 3) ($(diff_s "$a" "$b"))"
		done
	done
}

# ---- Part 3 (--ide): IDE and ATAPI against virtio ---------------------------

# The drives of the session: two scratch disks of REPS regions of MIB MiB
# of random data (repetition j reads region j, then writes it) and an ISO
# 9660 image holding one file of as much random data (the CD's sectors
# are read raw, from /dev/sr0, region j as for the disks). All three are
# written anew before each session and dropped from the host's page cache,
# so every read comes from the host's disk (QEMU reads through the page
# cache, btvm with O_DIRECT: a cached region would favour QEMU).
ide_virtio=$tmp/ide-virtio.img
ide_disk=$tmp/ide-disk.img
ide_iso=$tmp/ide-cd.iso
ide_devs=(vdb sda sr0)
ide_tests=(vdb:seqr sda:seqr sr0:seqr vdb:seqw sda:seqw)
declare -A ide_label=([vdb]="virtio disk (/dev/vdb)" [sda]="IDE disk (/dev/sda)" [sr0]="ATAPI CD (/dev/sr0)")
declare -A ide_cost     # ide_cost[TEST] btvm's counters per MiB over that test's best repetition

fresh_ide_media() {
	local f d=$tmp/iso-root
	for f in "$ide_virtio" "$ide_disk"; do
		dd if=/dev/urandom of="$f" bs=1M count=$((reps * mib)) conv=fsync status=none || return 1
	done
	rm -rf "$d" "$ide_iso"
	mkdir -p "$d" &&
		dd if=/dev/urandom of="$d/data.bin" bs=1M count=$((reps * mib)) status=none &&
		xorriso -as mkisofs -quiet -R -V BTVMBENCH -o "$ide_iso" "$d" > "$logs/xorriso.log" 2>&1 &&
		rm -rf "$d" && sync "$ide_iso" || return 1
	for f in "$ide_virtio" "$ide_disk" "$ide_iso"; do
		dd if="$f" iflag=nocache count=0 status=none || return 1
	done
}

# stats_snap.sh JSON DEST: btvm writes its counters to JSON (--stats-json)
# on SIGUSR1, through JSON.tmp and a rename; copy the new file to DEST.
# Run by console_expect between two of the guest's steps (`run`), with
# the guest idle at its prompt. btvm is found by its own --stats-json
# path, which names this run's temporary directory and nothing else.
snap_script=$tmp/stats_snap.sh
cat > "$snap_script" <<'SNAP'
set -u
json=$1 dest=$2
# (console_expect's own command line holds the path too: keep btvm's.)
pid=
for p in $(pgrep -f -- "--stats-json $json"); do
	[ "$(cat /proc/$p/comm 2>/dev/null)" = btvm ] && pid=$p
done
[ -n "$pid" ] || { echo "stats_snap: no btvm with --stats-json $json" >&2; exit 1; }
old=$(stat -c %i "$json" 2>/dev/null || echo none)
kill -USR1 $pid || exit 1
for i in $(seq 200); do
	new=$(stat -c %i "$json" 2>/dev/null || echo none)
	[ "$new" != "$old" ] && [ "$new" != none ] && { cp "$json" "$dest"; exit; }
	sleep 0.05
done
echo "stats_snap: btvm did not write $json in 10 s" >&2
exit 1
SNAP

# ide_script KIND: the session's console_expect script: wait for the
# three devices (udev loads ata_piix and sr_mod after the root mount),
# check their sizes, then each test between marker lines as in
# disk_script, with btvm's counters dumped before and after each.
ide_script() { # ide_script KIND RUN
	local k=$1 r=$2 j n t dev op guest tag
	echo "$common_head"
	echo "send for i in \$(seq 120); do [ -b /dev/sda ] && [ -b /dev/sr0 ] && [ -b /dev/vdb ] && break; sleep 1; done; echo DEVS=\$(blockdev --getsize64 /dev/vdb)-\$(blockdev --getsize64 /dev/sda)-\$((6*7))"
	echo "expect DEVS=$((reps * seq_bytes))-$((reps * seq_bytes))-42"
	echo "expect $prompt"
	for ((j = 0; j < reps; j++)); do
		n=$((j + 1))
		for t in "${ide_tests[@]}"; do
			dev=${t%%:*} op=${t#*:}
			case $op in
			seqr) guest="dd if=/dev/$dev of=/dev/null bs=1M count=$mib skip=$((j * mib)) iflag=direct" ;;
			seqw) guest="dd if=/dev/zero of=/dev/$dev bs=1M count=$mib seek=$((j * mib)) oflag=direct conv=fsync" ;;
			esac
			tag=${dev^^}-${op^^}-$n
			[ "$k" = btvm ] && echo "run bash $snap_script $tmp/ide-btvm.json $logs/ide-btvm-$r-$tag-a.json"
			echo "send echo $tag-\$((0))BEGIN; $guest; echo $tag-\$((0))END \$?"
			echo "expect $tag-0END 0"
			echo "expect $prompt"
			[ "$k" = btvm ] && echo "run bash $snap_script $tmp/ide-btvm.json $logs/ide-btvm-$r-$tag-b.json"
		done
	done
	echo "send poweroff"
	echo "expect_exit 0"
}

# cost RUN-TAG MIB: btvm's counters over one test (the dumps around it), per
# MiB moved: callouts, exits to the monitor, vCPU ms in callouts, IDE
# commands and DMA transfers, interrupts.
cost() {
	local a=$logs/ide-btvm-$1-a.json b=$logs/ide-btvm-$1-b.json
	[ -s "$a" ] && [ -s "$b" ] || { echo -; return; }
	jq -r -n --slurpfile a "$a" --slurpfile b "$b" --argjson mib "$2" '
		def d(k): ($b[0].counters[k] // 0) - ($a[0].counters[k] // 0);
		def ex: [$b[0].counters | to_entries[] | select(.key | startswith("exits.")) | .key] | map(d(.)) | add;
		"callouts \(d("callouts.total") / $mib | floor), exits \(ex / $mib | floor), ms in callouts \(d("time.callouts_ms") / $mib * 100 | round / 100), " +
		"IDE commands \(d("ide.commands") / $mib * 10 | round / 10), DMA transfers \(d("ide.dma_transfers") / $mib * 10 | round / 10), " +
		"interrupts \(d("cpu.interrupts") / $mib | floor), host ms between the dumps \(($b[0].elapsed_ms - $a[0].elapsed_ms) / $mib * 100 | round / 100) (vCPU idle \(d("time.idle_ms") / $mib * 100 | round / 100))"'
}

guest_ide() { # guest_ide KIND RUN
	local k=$1 r=$2 name=ide-$1-$2 img=$tmp/ide-boot-$1.img log t n a b s tag best dev op
	rm -f "$img"
	bash "$repo/scripts/make-debian-image.sh" --print --copy "$img" > /dev/null ||
		{ echo "--- $name: cannot copy the boot disk" >> "$tmp/failures"; return 1; }
	fresh_ide_media || { echo "--- $name: cannot write the scratch images and the ISO" >> "$tmp/failures"; return 1; }
	ide_script "$k" "$r" > "$tmp/$name.expect"
	rm -f "$tmp/ide-btvm.json"
	case $k in
	btvm)
		# --firmware direct: with a --cdrom btvm would boot through the
		# firmware (the CD first); the disk's own kernel, as part 1.
		cmd=("$btvm" run --display none -m "$mem" --net none --firmware direct
		     --stats --stats-json "$tmp/ide-btvm.json"
		     --disk "$img" --disk "$ide_virtio" --disk "$ide_disk,if=ide" --cdrom "$ide_iso") ;;
	qemu)
		cmd=("$qemu" -m "$mem" -kernel "$kernel" -initrd "$initrd"
		     -append "console=ttyS0 root=/dev/vda ro" -nic none -nographic -no-reboot
		     -drive "file=$img,if=virtio,format=raw" -drive "file=$ide_virtio,if=virtio,format=raw"
		     -drive "file=$ide_disk,if=ide,format=raw" -cdrom "$ide_iso") ;;
	esac
	session "$name" "$tmp/$name.expect" "${cmd[@]}"
	rm -f "$img"
	[ "$k" = btvm ] && sed -n '/^[0-9.]* P /d; s/^[0-9.]* L //; /^btvm stats:/,$p' "$logs/$name.log" |
		grep -v '^console_expect:' > "$logs/$name.stats"
	log=$logs/$name.log
	for ((n = 1; n <= reps; n++)); do
		for t in "${ide_tests[@]}"; do
			dev=${t%%:*} op=${t#*:}
			tag=${dev^^}-${op^^}-$n
			a=$(line_stamp "$log" "$tag-0BEGIN")
			b=$(line_stamp "$log" "$tag-0END 0")
			if [ -z "$a" ] || [ -z "$b" ]; then
				io[$k,$t]=FAILED
				continue
			fi
			awk -v a="$a" -v b="$b" '$1 > a && $1 <= b' "$log" > "$tmp/ide.out"
			s=$(seconds_of seq "$tmp/ide.out")
			best=${io[$k,$t]-}
			record "$k" "$t" "$s" ||
				echo "--- $name: no time in the output of $t, repetition $n (see $log)" >> "$tmp/failures"
			[[ $s =~ ^[0-9.]+$ ]] || continue
			whole[$k,$t]+="${whole[$k,$t]:+, }$(mbps "$seq_bytes" "$s")"
			# btvm's counters of the best repetition so far
			[ "$k" = btvm ] && [ "${io[$k,$t]}" != "$best" ] && ide_cost[$t]=$(cost "$r-$tag" "$mib")
		done
	done
}

# ---- The run ----------------------------------------------------------------

echo "btvm disk benchmark: Debian 12 i386 ($(basename "$kernel" .vmlinuz), $(du -h --apparent-size "$boot_img" | cut -f1) disk), -m $mem"
echo "host: $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) at start (other work running adds noise)"
if [ "$do_ide" = 1 ]; then
	echo "btvm: $btvm run --display none -m $mem --net none --firmware direct --disk COPY --disk VIRTIO --disk IDE,if=ide --cdrom ISO (the disk's own kernel)"
	[ -n "$qemu" ] && echo "qemu: $($qemu --version | head -n 1), TCG, -kernel/-initrd of the image, -drive COPY,if=virtio -drive VIRTIO,if=virtio -drive IDE,if=ide -cdrom ISO, -nic none"
else
	echo "btvm: $btvm run --display none -m $mem --stats --net none --disk COPY --snapshot (the disk's own kernel)"
	echo "compared: the guest's direct I/O with the host's (same scratch file, dd bs=1M, rread 4 KiB); btvm reads and writes the image with O_DIRECT and fdatasyncs at the guest's fsync"
	[ -n "$qemu" ] && echo "qemu: $($qemu --version | head -n 1), TCG, -kernel/-initrd of the image, -append 'console=ttyS0 root=/dev/vda ro', -nic none"
fi
started=$SECONDS

if [ "$do_boot" = 1 ]; then
	for ((i = 1; i <= runs; i++)); do
		for k in "${kinds[@]}"; do
			echo "boot run $i/$runs: $k ..." >&2
			boot_once "$k" "$i"
		done
	done
fi
if [ "$do_disk" = 1 ]; then
	for k in "${kinds[@]}"; do
		echo "disk: $k, and the host beside it ..." >&2
		guest_disk "$k"
	done
fi
if [ "$do_ide" = 1 ]; then
	# Sessions alternate, btvm then QEMU, RUNS times: the host's disk
	# speed drifts by 2x over minutes here, and that favours neither.
	for ((i = 1; i <= runs; i++)); do
		for k in "${kinds[@]}"; do
			echo "ide session $i/$runs: $k, virtio, IDE disk and ATAPI CD ..." >&2
			guest_ide "$k" "$i"
		done
	done
fi

# ---- The report -------------------------------------------------------------

# paired KIND TEST: the median over the repetitions of KIND's figure
# over the host's direct one measured beside it (host seconds / guest
# seconds), '-' when any is missing.
paired() {
	local k=$1 t=$2 n list=
	for ((n = 1; n <= reps; n++)); do
		[[ ${secs[$k,$t,$n]-} =~ ^[0-9.]+$ && ${secs[host-direct-$k,$t,$n]-} =~ ^[0-9.]+$ ]] || { echo -; return; }
		list+="${secs[host-direct-$k,$t,$n]} ${secs[$k,$t,$n]}"$'\n'
	done
	printf '%s' "$list" | awk '$2 > 0 { printf "%.6f\n", $1 / $2 }' | sort -g |
		awk '{ r[NR] = $1 } END { if (NR == 0) { print "-"; exit }
			printf "%.2f", NR % 2 ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2 }'
}


best_run() { # best_run KIND: the run with the shortest boot to the prompt
	local k=$1 i best=
	for ((i = 1; i <= runs; i++)); do
		[ -n "${boot[$k,$i,prompt]-}" ] || continue
		if [ -z "$best" ] || awk -v a="${boot[$k,$i,prompt]}" -v b="${boot[$k,$best,prompt]}" 'BEGIN { exit !(a < b) }'; then
			best=$i
		fi
	done
	echo "$best"
}

echo
boot_ratio=-
if [ "$do_boot" = 1 ]; then
	bb=$(best_run btvm) qb=
	[ -n "$qemu" ] && qb=$(best_run qemu)
	echo "Debian boot, seconds (the best of $runs runs: the one soonest at the prompt, with its phases)"
	out() { printf '%-30s %9s %9s %10s\n' "$@"; }
	out phase btvm qemu btvm/qemu
	out ----- ---- ---- ---------
	for p in kernel:"kernel (start to /init)" initramfs:"initramfs (/init to systemd)" \
		 systemd:"systemd (to the autologin)" login:"login (to the shell prompt)" \
		 prompt:"= boot to the shell prompt" \
		 off:"poweroff (command to exit)" total:"start to exit"; do
		key=${p%%:*} label=${p#*:}
		bv=${boot[btvm,$bb,$key]-} qv=
		[ -n "$qb" ] && qv=${boot[qemu,$qb,$key]-}
		out "$label" "$(fmt "$bv")" "$(fmt "$qv")" "$(ratio "$bv" "$qv")"
	done
	[ -n "$qb" ] && boot_ratio=$(ratio "${boot[btvm,$bb,prompt]-}" "${boot[qemu,$qb,prompt]-}")
	for k in "${kinds[@]}"; do
		line=
		for ((i = 1; i <= runs; i++)); do
			line+="$(fmt "${boot[$k,$i,prompt]-FAILED}") + $(fmt "${boot[$k,$i,off]-}") (login $(fmt "${boot[$k,$i,login]-}")), "
		done
		echo "runs, $k (to the prompt + poweroff, the login phase in brackets): ${line%, }"
	done
	[ -n "$bb" ] && echo "btvm --stats at power-off (best run): $logs/boot-btvm-$bb.stats"
	echo
fi

seq_ratio=- seqw_ratio=-
if [ "$do_disk" = 1 ]; then
	echo "Disk throughput, the best of $reps: a $((4 * reps * mib)) MiB scratch image of random data, /dev/vdb in"
	echo "the guest, out of the host's page cache before each session; the host runs each test on"
	echo "other regions of the same file right after the guest's, in the same session (evicted after each);"
	echo "sequential $mib MiB with dd bs=1M, direct I/O (oflag=direct conv=fsync for writes);"
	echo "$reads random 4 KiB reads (rread, O_DIRECT) at queue depth 1"
	out() { printf '%-18s %-5s %9s %9s %9s %9s %9s %9s %9s %9s\n' "$@"; }
	out test unit host host btvm qemu btvm/host qemu/host btvm/host qemu/host
	out "" "" direct buffered "" "" "(direct)" "(direct)" "(paired)" "(paired)"
	out ---- ---- ------ -------- ---- ---- --------- --------- --------- ---------
	for t in seqr:"seq read":MB/s seqw:"seq write":MB/s rand:"random 4K read":IOPS; do
		IFS=: read -r key label unit <<< "$t"
		hd=${io[host-direct-btvm,$key]-} hb=${io[host-buffered-btvm,$key]-} bv=${io[btvm,$key]-} qv=${io[qemu,$key]-}
		qp=-
		[ -n "$qemu" ] && qp=$(paired qemu "$key")
		out "$label" "$unit" "$(fmt "$hd" 0)" "$(fmt "$hb" 0)" "$(fmt "$bv" 0)" "$(fmt "$qv" 0)" \
			"$(ratio "$bv" "$hd")" "$(ratio "$qv" "${io[host-direct-qemu,$key]-}")" "$(paired btvm "$key")" "$qp"
	done
	echo "(direct): the best figure of each side; (paired): the median, over the repetitions, of each"
	echo "repetition's figure against the host's direct one measured beside it"
	echo "host: the figures of btvm's session"
	[ -n "$qemu" ] && echo "qemu/host: against the host's in QEMU's session, direct" \
		"$(fmt "${io[host-direct-qemu,seqr]-}" 0) / $(fmt "${io[host-direct-qemu,seqw]-}" 0) MB/s read / write," \
		"$(fmt "${io[host-direct-qemu,rand]-}" 0) IOPS"
	seq_ratio="$(ratio "${io[btvm,seqr]-}" "${io[host-direct-btvm,seqr]-}") (paired $(paired btvm seqr))"
	seqw_ratio="$(ratio "${io[btvm,seqw]-}" "${io[host-direct-btvm,seqw]-}") (paired $(paired btvm seqw))"
	echo "seconds by the guest's clock (the whole command by the host's):"
	for k in "${kinds[@]}"; do
		echo "  $k: seq read ${whole[$k,seqr]-}; random ${whole[$k,rand]-}; seq write ${whole[$k,seqw]-}"
	done
	echo
fi

if [ "$do_ide" = 1 ]; then
	echo "IDE and ATAPI against virtio, MB/s, the best of $runs sessions x $reps: sequential $mib MiB with dd bs=1M, direct I/O"
	echo "(oflag=direct conv=fsync for writes); scratch images of random data and an ISO 9660 image, written anew"
	echo "and out of the host's page cache before each session; the CD read raw from /dev/sr0"
	out() { printf '%-24s %-6s %9s %9s %10s\n' "$@"; }
	out drive test btvm qemu btvm/qemu
	out ----- ---- ---- ---- ---------
	for t in "${ide_tests[@]}"; do
		dev=${t%%:*} op=${t#*:}
		[ "$op" = seqr ] && op=read || op=write
		out "${ide_label[$dev]}" "$op" "$(fmt "${io[btvm,$t]-}" 0)" "$(fmt "${io[qemu,$t]-}" 0)" "$(ratio "${io[btvm,$t]-}" "${io[qemu,$t]-}")"
	done
	for t in "${ide_tests[@]}"; do
		echo "  ratio to virtio's, ${t/:/ }: btvm $(ratio "${io[btvm,$t]-}" "${io[btvm,vdb:${t#*:}]-}"), qemu $(ratio "${io[qemu,$t]-}" "${io[qemu,vdb:${t#*:}]-}")"
	done
	echo "each repetition's MB/s (sessions in order):"
	for k in "${kinds[@]}"; do
		line=
		for t in "${ide_tests[@]}"; do line+="${t/:/ } ${whole[$k,$t]-}; "; done
		echo "  $k: ${line%; }"
	done
	echo "btvm's counters per MiB in each test's best repetition (SIGUSR1 dumps of --stats-json around it):"
	for t in "${ide_tests[@]}"; do echo "  ${t/:/ }: ${ide_cost[$t]:--}"; done
	echo "btvm --stats at power-off: $logs/ide-btvm-N.stats"
	echo
	echo "summary (--ide): MB/s btvm/qemu: virtio read $(fmt "${io[btvm,vdb:seqr]-}" 0)/$(fmt "${io[qemu,vdb:seqr]-}" 0)," \
		"write $(fmt "${io[btvm,vdb:seqw]-}" 0)/$(fmt "${io[qemu,vdb:seqw]-}" 0); IDE read" \
		"$(fmt "${io[btvm,sda:seqr]-}" 0)/$(fmt "${io[qemu,sda:seqr]-}" 0), write $(fmt "${io[btvm,sda:seqw]-}" 0)/$(fmt "${io[qemu,sda:seqw]-}" 0);" \
		"ATAPI read $(fmt "${io[btvm,sr0:seqr]-}" 0)/$(fmt "${io[qemu,sr0:seqr]-}" 0); $((SECONDS - started)) s in all," \
		"load average $(cut -d' ' -f1-3 /proc/loadavg) at the end; logs in $logs"
else
echo "summary: boot to shell btvm/qemu $boot_ratio (target <= 0.33); sequential btvm/host read" \
	"$seq_ratio, write $seqw_ratio (target >= 0.80); $((SECONDS - started)) s in all," \
	"load average $(cut -d' ' -f1-3 /proc/loadavg) at the end; logs in $logs"
fi

failed=0
if [ -s "$tmp/failures" ]; then
	failed=1
	echo
	echo "FAILURES:"
	cat "$tmp/failures"
fi
exit "$failed"
