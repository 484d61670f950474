#!/usr/bin/env bash
# Firmware to Debian login (issue 43): the Debian 12 disk of
# scripts/make-debian-image.sh --bios (an MBR partition table, GRUB 2 in
# the MBR gap, the root file system on partition 1) booted as a PC boots
# it, from the reset vector through SeaBIOS and GRUB to the autologin
# shell on the serial console, then `poweroff`; under btvm
# (--firmware bios) and under qemu-system-i386's TCG with the same
# SeaBIOS (/usr/share/seabios/bios-256k.bin), the same image (booted in
# snapshot mode by both, so every boot is the same first boot), the same
# -m, the disk as virtio on both, no network card; alternated, RUNS
# times each. The phases come from the console as it arrives (each line
# stamped with its arrival time):
#
#   firmware  start -> "GRUB loading."       SeaBIOS's POST, the MBR
#   loader    -> GRUB's menu ("GNU GRUB")    core.img, modules, grub.cfg
#   menu      -> "Booting `...'"             grub.cfg's timeout=1
#   load      -> "Linux version"             GRUB reads vmlinuz and the
#                                            initrd through INT 13h, the
#                                            kernel runs to its serial
#                                            console (the kernel's first
#                                            line arrives then)
#   kernel    -> "login: root (automatic login)"  kernel, initramfs,
#                                            systemd to the serial getty
#   login     -> the shell prompt
#   poweroff  `poweroff` echoed -> the VMM's exit
#
# and the issue's three: SeaBIOS to GRUB's menu (firmware + loader),
# GRUB to the kernel's first line (menu + load), kernel to the login
# prompt (kernel); for each phase the median of the runs and btvm/QEMU.
# The whole boot is start to the login prompt (the autologin line, which
# the lastlog race of bench/README.md's disk section does not delay).
#
#	bench/firmware/debian.sh [--runs N] [--no-qemu] [--mem MIB]
#	                         [--build DIR] [--no-build] [--timeout SEC]
#
# Not a test: the summary states issue 43's target (btvm at most half of
# QEMU's time for the whole boot) next to the figure. Stamped console
# logs stay in BUILD/bench/firmware/logs/ until the next run.
# Exit status: 0 when every boot reached the prompt and powered off, 1
# when any failed (the reasons follow the table), 2 on bad usage.
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
limit=300
mem=512
bios=/usr/share/seabios/bios-256k.bin
prompt='root@debian-btvm:~#'

usage() {
	echo "usage: bench/firmware/debian.sh [--runs N] [--no-qemu] [--mem MIB]" >&2
	echo "                                [--build DIR] [--no-build] [--timeout SEC]" >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case $1 in
	--runs) [ $# -ge 2 ] || usage; runs=$2; shift 2 ;;
	--no-qemu) use_qemu=0; shift ;;
	--mem) [ $# -ge 2 ] || usage; mem=$2; shift 2 ;;
	--build) [ $# -ge 2 ] || usage; build=$2; shift 2 ;;
	--no-build) do_build=0; shift ;;
	--timeout) [ $# -ge 2 ] || usage; limit=$2; shift 2 ;;
	-h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//; s/^\t//'; exit 0 ;;
	*) echo "debian.sh: unknown argument '$1'" >&2; usage ;;
	esac
done
for n in "$runs" "$mem" "$limit"; do
	[[ $n =~ ^[1-9][0-9]*$ ]] || { echo "debian.sh: '$n' is not a positive number" >&2; exit 2; }
done
build=$(realpath -m "$build")

if [ "$do_build" = 1 ]; then
	if [ ! -f "$build/CMakeCache.txt" ]; then
		cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null ||
			{ echo "debian.sh: cmake configure failed" >&2; exit 1; }
	fi
	cmake --build "$build" -j "$(nproc)" --target btvm console_expect >/dev/null ||
		{ echo "debian.sh: build failed (run: cmake --build $build --target btvm console_expect)" >&2; exit 1; }
fi
btvm=$build/btvm
expect_bin=$build/tests/system/console_expect
for f in "$btvm" "$expect_bin"; do
	[ -x "$f" ] || { echo "debian.sh: $f not found (build first, or drop --no-build)" >&2; exit 1; }
done
[ -r "$bios" ] || { echo "debian.sh: $bios not found (Debian's seabios package)" >&2; exit 1; }

qemu=
if [ "$use_qemu" = 1 ]; then
	qemu=$(command -v qemu-system-i386 || true)
	[ -n "$qemu" ] || echo "debian.sh: qemu-system-i386 not installed: skipping QEMU"
fi
kinds=(btvm)
[ -n "$qemu" ] && kinds+=(qemu)

logs=$build/bench/firmware/logs
rm -rf "$logs"
mkdir -p "$logs"
tmp=$(mktemp -d "$build/bench/firmware/run.XXXXXX")
# The snapshot overlays of both VMMs go here, not into a small /tmp.
export TMPDIR=$tmp
: > "$tmp/failures"

# The session running now (console_expect and the stamper), ended by the
# traps: console_expect ends its VMM when it gets SIGTERM.
session_pids=()
cleanup() {
	local p
	for p in "${session_pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${session_pids[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'echo "debian.sh: interrupted" >&2; exit 130' INT
trap 'exit 143' TERM HUP

paths=$(bash "$repo/scripts/make-debian-image.sh" --bios --print)
status=$?
case $status in
0) ;;
3) echo "debian.sh: the Debian image cannot be built: no network and nothing cached" >&2; exit 1 ;;
*) echo "debian.sh: scripts/make-debian-image.sh --bios failed (status $status)" >&2; exit 1 ;;
esac
disk=$(sed -n 1p <<< "$paths")
[ -s "$disk" ] || { echo "debian.sh: make-debian-image.sh --bios --print gave no image" >&2; exit 1; }

# first_stamp LOG TEXT: the arrival time of the first record (whole or
# partial line) that holds TEXT once the terminal's escape sequences are
# taken out (sercon moves the cursor between GRUB's words), or nothing.
first_stamp() {
	awk -v text="$2" '{ s = substr($0, length($1) + 4); gsub(/\033(\[[0-9;?]*[A-Za-z]|[^[])/, "", s)
		if (index(s, text)) { print $1; exit } }' "$1"
}

# console_enabled LOG: the kernel's own clock (printk time) at its line
# "printk: console [ttyS0] enabled", the first it can print on the
# serial port: that much of the load phase is the kernel's, not GRUB's.
console_enabled() {
	awk '$2 == "L" && /printk: console \[ttyS0\] enabled/ { if (match($0, /\[ *[0-9]+\.[0-9]+\]/)) {
		s = substr($0, RSTART + 1, RLENGTH - 2); gsub(/ /, "", s); print s; exit } }' "$1"
}

median() { # median V...: of the numbers among the arguments, '-' if none
	printf '%s\n' "$@" | grep -E '^[0-9.]+$' | sort -g |
		awk '{ a[NR] = $1 } END { if (NR == 0) { print "-"; exit }
			printf "%.3f", NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

script=$tmp/boot.expect
cat > "$script" <<EOF
fail_on Kernel panic
fail_on BUG:\\s
fail_on Oops:\\s
fail_on EXT4-fs error
fail_on I/O error, dev
fail_on error: file
expect $prompt
send poweroff
expect_exit 0
EOF

# The command lines: run_debian_bios.sh's (tests/firmware), QEMU's
# -nographic putting the serial port on stdio and telling SeaBIOS to copy
# its screen there (sercon), as btvm's --display none does.
vmm_cmd() { # vmm_cmd KIND: sets cmd
	case $1 in
	btvm) cmd=("$btvm" run --firmware bios --bios "$bios" --disk "$disk" --snapshot -m "$mem"
		--net none --display none --no-reboot --stats) ;;
	qemu) cmd=("$qemu" -accel tcg -m "$mem" -bios "$bios"
		-drive "file=$disk,format=raw,if=virtio,snapshot=on" -nic none -nographic -no-reboot) ;;
	esac
}

declare -A ph   # ph[KIND,RUN,PHASE] seconds
phases=(firmware loader menu load kernel login prompt_login prompt off
	bios_menu grub_kernel kernel_login)

boot_once() { # boot_once KIND RUN
	local k=$1 i=$2 name=boot-$1-$2 fifo=$tmp/fifo status log t0 t_end
	local t_loader t_menu t_booting t_linux t_login t_prompt t_off kclock
	vmm_cmd "$k"
	rm -f "$fifo"
	mkfifo "$fifo"
	stamp_console < "$fifo" > "$logs/$name.log" &
	local stamper=$!
	t0=$EPOCHREALTIME
	"$expect_bin" -t "$limit" -v "$script" "${cmd[@]}" > "$fifo" 2> "$logs/$name.err" &
	local ce=$!
	session_pids=("$ce" "$stamper")
	wait "$ce"
	status=$?
	t_end=$EPOCHREALTIME
	wait "$stamper"
	session_pids=()
	log=$logs/$name.log
	if [ "$status" != 0 ]; then
		{
			echo "--- $name: console_expect exit status $status"
			echo "    command:$(printf ' %q' "${cmd[@]}")"
			grep -a 'console_expect:' "$logs/$name.err" | tail -n 3 | sed 's/^/    /'
			sed 's/^[0-9.]* [LP] //; s/\x1b\[[0-9;?]*[A-Za-z]//g' "$log" |
				grep -av '^\s*$' | tail -n 6 | cut -c1-160 | sed 's/^/    out: /'
		} >> "$tmp/failures"
		return 1
	fi
	t_loader=$(first_stamp "$log" 'GRUB loading.')
	t_menu=$(first_stamp "$log" 'GNU GRUB')
	t_booting=$(first_stamp "$log" 'Booting `')
	t_linux=$(first_stamp "$log" 'Linux version')
	t_login=$(first_stamp "$log" 'login: root (automatic login)')
	t_prompt=$(first_stamp "$log" "$prompt")
	t_off=$(first_stamp "$log" "$prompt poweroff")
	kclock=$(console_enabled "$log")
	local m
	for m in t_loader t_menu t_booting t_linux t_login t_prompt; do
		[ -n "${!m}" ] || echo "--- $name: no ${m#t_} mark in the stamped console log ($log)" >> "$tmp/failures"
	done
	[ -n "$t_loader" ] && ph[$k,$i,firmware]=$(diff_s "$t0" "$t_loader")
	[ -n "$t_loader" ] && [ -n "$t_menu" ] && ph[$k,$i,loader]=$(diff_s "$t_loader" "$t_menu")
	[ -n "$t_menu" ] && [ -n "$t_booting" ] && ph[$k,$i,menu]=$(diff_s "$t_menu" "$t_booting")
	[ -n "$t_booting" ] && [ -n "$t_linux" ] && ph[$k,$i,load]=$(diff_s "$t_booting" "$t_linux")
	[ -n "$t_linux" ] && [ -n "$t_login" ] && ph[$k,$i,kernel]=$(diff_s "$t_linux" "$t_login")
	[ -n "$t_login" ] && [ -n "$t_prompt" ] && ph[$k,$i,login]=$(diff_s "$t_login" "$t_prompt")
	[ -n "$t_login" ] && ph[$k,$i,prompt_login]=$(diff_s "$t0" "$t_login")
	[ -n "$t_prompt" ] && ph[$k,$i,prompt]=$(diff_s "$t0" "$t_prompt")
	[ -n "$t_off" ] && ph[$k,$i,off]=$(diff_s "$t_off" "$t_end")
	[ -n "$t_menu" ] && ph[$k,$i,bios_menu]=$(diff_s "$t0" "$t_menu")
	[ -n "$t_menu" ] && [ -n "$t_linux" ] && ph[$k,$i,grub_kernel]=$(diff_s "$t_menu" "$t_linux")
	[ -n "$t_linux" ] && [ -n "$t_login" ] && ph[$k,$i,kernel_login]=$(diff_s "$t_linux" "$t_login")
	ph[$k,$i,kclock]=$kclock
	if [ "$k" = btvm ]; then
		sed -n '/^[0-9.]* P /d; s/^[0-9.]* L //; /^btvm stats:/,$p' "$log" | grep -v '^console_expect:' > "$logs/$name.stats"
	fi
	printf '  run %d %-4s: firmware %s, loader %s, menu %s, load %s (kernel clock %s at its console), kernel %s, login %s; login prompt %s, shell %s; poweroff %s\n' \
		"$i" "$k" "$(fmt "${ph[$k,$i,firmware]-}")" "$(fmt "${ph[$k,$i,loader]-}")" "$(fmt "${ph[$k,$i,menu]-}")" \
		"$(fmt "${ph[$k,$i,load]-}")" "$(fmt "$kclock")" "$(fmt "${ph[$k,$i,kernel]-}")" \
		"$(fmt "${ph[$k,$i,login]-}")" "$(fmt "${ph[$k,$i,prompt_login]-}")" "$(fmt "${ph[$k,$i,prompt]-}")" \
		"$(fmt "${ph[$k,$i,off]-}")"
	[ -n "$t_prompt" ] && [ -n "$t_login" ]
}

echo "btvm firmware-to-Debian-login benchmark: $(basename "$disk") through $(basename "$bios") and GRUB, -m $mem, virtio disk, snapshot mode"
echo "host: $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) at start"
echo "btvm: $btvm run --firmware bios --bios $bios --disk IMAGE --snapshot -m $mem --net none --display none --no-reboot"
[ -n "$qemu" ] && echo "qemu: $($qemu --version | head -n 1): -accel tcg -m $mem -bios $bios -drive file=IMAGE,format=raw,if=virtio,snapshot=on -nic none -nographic -no-reboot"
started=$SECONDS
failed_runs=0
for ((i = 1; i <= runs; i++)); do
	for k in "${kinds[@]}"; do
		boot_once "$k" "$i" || failed_runs=$((failed_runs + 1))
	done
done

echo
echo "Firmware to Debian login, seconds, the median of $runs runs each (btvm and QEMU alternated)"
out() { printf '%-44s %9s %9s %10s\n' "$@"; }
out phase btvm qemu btvm/qemu
out ----- ---- ---- ---------
declare -A med
for key in "${phases[@]}"; do
	for k in "${kinds[@]}"; do
		vals=()
		for ((i = 1; i <= runs; i++)); do vals+=("${ph[$k,$i,$key]-}"); done
		med[$k,$key]=$(median "${vals[@]}")
	done
done
row() { out "$2" "$(fmt "${med[btvm,$1]}")" "$(fmt "${med[qemu,$1]-}")" "$(ratio "${med[btvm,$1]}" "${med[qemu,$1]-}")"; }
row firmware "firmware (start to 'GRUB loading.')"
row loader "loader (to GRUB's menu)"
row menu "menu (grub.cfg's timeout=1)"
row load "load (vmlinuz, initrd; kernel to its console)"
row kernel "kernel (to the autologin line)"
row login "login (to the shell prompt)"
out ----- ---- ---- ---------
row bios_menu "SeaBIOS to GRUB's menu"
row grub_kernel "GRUB to the kernel's first line"
row kernel_login "kernel to the login prompt"
row prompt_login "= firmware to the login prompt"
row prompt "  (to the shell prompt)"
row off "poweroff (command to exit)"
whole=$(ratio "${med[btvm,prompt_login]}" "${med[qemu,prompt_login]-}")
verdict=
if [[ $whole =~ ^[0-9.]+$ ]]; then
	awk -v r="$whole" 'BEGIN { exit !(r <= 0.5) }' && verdict=" (met)" || verdict=" (not met)"
fi
[ "${ph[btvm,1,firmware]+x}" ] && echo "btvm --stats of each boot: $logs/boot-btvm-N.stats"
echo
echo "summary: firmware to Debian login btvm/QEMU $whole$verdict (issue 43's target: <= 0.50);" \
	"firmware to boot loader btvm/QEMU $(ratio "${med[btvm,firmware]}" "${med[qemu,firmware]-}");" \
	"$((SECONDS - started)) s in all, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end; logs in $logs"

if [ -s "$tmp/failures" ] || [ "$failed_runs" != 0 ]; then
	echo
	echo "FAILURES:"
	cat "$tmp/failures"
	exit 1
fi
exit 0
