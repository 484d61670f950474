#!/usr/bin/env bash
# The Linux-guest benchmark: runs lbench (bench/linux/lbench.c, a static
# i386 program: the compute workloads plus system call, fork, page-fault
# and pipe loops) natively as a 32-bit process, and inside Debian's i386
# kernel (scripts/fetch-guest.sh) under btvm and under qemu-system-i386
# -accel tcg, and prints one table of the best-of-N figures with the ratios
# btvm/native, qemu/native and btvm/qemu, plus the boot-to-shell time of
# both VMMs, the host's own costs under a page fault (bench/host/floor.c),
# then a summary line of the issue's targets.
#
#	bench/linux/run.sh [--runs N] [--no-qemu] [--build DIR] [--no-build]
#	                   [--quick] [--timeout SEC]
#
# The guest runs from the cached test initramfs with a second newc archive
# appended (built in a temporary directory under the build directory): a
# replacement /init that mounts what the test /init mounts, prints
# LBENCH-READY where the test /init would start its shell, runs
# /bin/lbench and powers off. Boot to shell is the host's time from
# starting the VMM to that marker's arrival on its stdout.
# Exit status: 0 when every run finished and every checksum agreed with the
# native one, 1 otherwise (the cell says FAILED; the reasons follow the
# table), 2 on bad usage.
set -u -o pipefail
export LC_ALL=C     # '.' decimals in EPOCHREALTIME, printf and awk

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=$repo/build
runs=1
use_qemu=1
do_build=1
quick=0
limit=600
mem=256
append="console=ttyS0 quiet"

usage() {
	echo "usage: bench/linux/run.sh [--runs N] [--no-qemu] [--build DIR] [--no-build]" >&2
	echo "                          [--quick] [--timeout SEC]" >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case $1 in
	--runs) [ $# -ge 2 ] || usage; runs=$2; shift 2 ;;
	--no-qemu) use_qemu=0; shift ;;
	--build) [ $# -ge 2 ] || usage; build=$2; shift 2 ;;
	--no-build) do_build=0; shift ;;
	--quick) quick=1; shift ;;
	--timeout) [ $# -ge 2 ] || usage; limit=$2; shift 2 ;;
	-h|--help) sed -n '2,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//; s/^\t//'; exit 0 ;;
	*) echo "run.sh: unknown argument '$1'" >&2; usage ;;
	esac
done
for n in "$runs" "$limit"; do
	[[ $n =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: '$n' is not a positive number" >&2; exit 2; }
done
build=$(realpath -m "$build")

if [ "$do_build" = 1 ]; then
	if [ ! -f "$build/CMakeCache.txt" ]; then
		cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null ||
			{ echo "run.sh: cmake configure failed" >&2; exit 1; }
	fi
	cmake --build "$build" -j "$(nproc)" --target btvm lbench floor >/dev/null ||
		{ echo "run.sh: build failed (run: cmake --build $build --target btvm lbench floor)" >&2; exit 1; }
fi

btvm=$build/btvm
lbench=$build/bench/linux/lbench
[ -x "$btvm" ] || { echo "run.sh: $btvm not found (build first, or drop --no-build)" >&2; exit 1; }
[ -x "$lbench" ] || { echo "run.sh: $lbench not found (gcc -m32 -static cannot link? see cmake's warnings)" >&2; exit 1; }
command -v cpio >/dev/null || { echo "run.sh: cpio is needed to build the initramfs" >&2; exit 1; }

# The workloads and their units, in table order.
names=()
declare -A unit
while read -r n u; do
	names+=("$n")
	unit[$n]=$u
done < <("$lbench" --list)
[ ${#names[@]} -gt 0 ] || { echo "run.sh: $lbench --list printed nothing" >&2; exit 1; }

qemu=
if [ "$use_qemu" = 1 ]; then
	qemu=$(command -v qemu-system-i386 || true)
	[ -n "$qemu" ] || echo "run.sh: qemu-system-i386 not installed: skipping QEMU"
else
	echo "run.sh: --no-qemu: skipping QEMU"
fi

paths=$(bash "$repo/scripts/fetch-guest.sh" --print) ||
	{ echo "run.sh: scripts/fetch-guest.sh failed: no guest kernel and initramfs" >&2; exit 1; }
{ read -r kernel; read -r base_initrd; } <<< "$paths"

mkdir -p "$build/bench/linux"
tmp=$(mktemp -d "$build/bench/linux/run.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

lbench_args=()
[ "$quick" = 1 ] && lbench_args=(--quick)

# The benchmark initramfs: the test one, then a second archive with
# /bin/lbench and a /init that replaces the test one (the kernel unpacks
# concatenated archives in order; later files win).
mkdir -p "$tmp/root/bin"
cp "$lbench" "$tmp/root/bin/lbench"
cat > "$tmp/root/init" <<EOF
#!/bin/busybox sh
# /init of bench/linux/run.sh's initramfs: the test /init's set-up, then
# the benchmark instead of a shell, then power off.
/bin/busybox mkdir -p /proc /sys /dev /tmp
/bin/busybox --install -s
export PATH=/sbin:/usr/sbin:/bin:/usr/bin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev || mdev -s
[ -t 1 ] || exec </dev/console >/dev/console 2>&1
echo LBENCH-READY
/bin/lbench ${lbench_args[*]}
echo "LBENCH-EXIT \$?"
poweroff -f
EOF
chmod 755 "$tmp/root/init" "$tmp/root/bin/lbench"
initrd=$tmp/initramfs.cpio.gz
cp "$base_initrd" "$initrd"
(cd "$tmp/root" && find . -mindepth 1 | sort | cpio -o -H newc -R 0:0 --quiet) | gzip -n >> "$initrd" ||
	{ echo "run.sh: cannot build the benchmark initramfs" >&2; exit 1; }

# Results: val[kind,name] is the best figure so far (or FAILED),
# sum[kind,name] its checksum; boot[kind] likewise. failures collects the
# reasons, clock[kind] the guest-clock check of the last run.
declare -A val sum clock
: > "$tmp/failures"

# shellcheck source=bench/best.sh
. "$repo/bench/best.sh"

# Prints each line of stdin with the host time of its arrival in front.
stamp_lines() {
	local line
	while IFS= read -r line || [ -n "$line" ]; do
		printf '%s %s\n' "$EPOCHREALTIME" "${line//$'\r'/}"
	done
}

# show_log KIND LOG ERR: the end of a failed run's output, for the report.
show_log() {
	sed 's/^[0-9.]* //; s/\x1b\[[0-9;?]*[A-Za-z]//g; s/\x1bc//g' "$2" | grep -av '^\s*$' |
		tail -n 8 | sed 's/^/    out: /'
	[ -s "$3" ] && tail -n 5 "$3" | sed 's/^/    err: /'
}

# run_once KIND: one run of lbench natively or in a guest; records every
# workload line and, for a guest, the boot time and the clock check.
run_once() {
	local k=$1 cmd t0 status log=$tmp/$1.log err=$tmp/$1.err why='' n v s line
	case $k in
	native) cmd=("$lbench" "${lbench_args[@]}") ;;
	btvm) cmd=("$btvm" run --kernel "$kernel" --initrd "$initrd" --append "$append" -m "$mem"
		   --no-reboot --serial stdio) ;;
	qemu) cmd=("$qemu" -accel tcg -m "$mem" -kernel "$kernel" -initrd "$initrd" -append "$append"
		   -nographic -no-reboot) ;;
	esac
	t0=$EPOCHREALTIME
	timeout --kill-after=5 "$limit" "${cmd[@]}" < /dev/null 2> "$err" | stamp_lines > "$log"
	status=${PIPESTATUS[0]}
	if [ "$status" = 124 ] || [ "$status" = 137 ]; then
		why="timed out after ${limit}s"
	elif [ "$status" != 0 ]; then
		why="exit status $status"
	elif [ "$k" != native ] && ! grep -aq 'LBENCH-EXIT 0$' "$log"; then
		why="lbench did not finish with status 0 in the guest"
	fi

	if [ -n "$why" ]; then
		{
			echo "--- run under $k: $why"
			echo "    command:$(printf ' %q' "${cmd[@]}")"
			show_log "$k" "$log" "$err"
		} >> "$tmp/failures"
	fi

	# The workload lines (a guest's may carry console noise in front).
	declare -A got_v=() got_s=()
	while read -r n v s; do
		got_v[$n]=$v got_s[$n]=$s
	done < <(grep -aoE 'LBENCH [a-z0-9-]+ [0-9]+\.[0-9]+ [a-z/]+ 0x[0-9a-f]{8}' "$log" |
		 awk '{ print $2, $3, $5 }')
	for n in "${names[@]}"; do
		if [ -n "${got_v[$n]-}" ]; then
			record "$k" "$n" "${got_v[$n]}" "${got_s[$n]}"
		else
			fail "$k" "$n" "no result${why:+ ($why)}"
		fi
	done

	if [ "$k" != native ]; then
		local ready end guest_s
		ready=$(awk '/LBENCH-READY/ { print $1; exit }' "$log")
		if [ -n "$ready" ]; then
			record "$k" boot "$(awk -v a="$t0" -v b="$ready" 'BEGIN { printf "%.3f", b - a }')" -
		else
			fail "$k" boot "no LBENCH-READY line${why:+ ($why)}"
		fi
		line=$(grep -aoE 'LBENCH-END [0-9.]+' "$log" | tail -n 1)
		end=$(awk '/LBENCH-END/ { print $1; exit }' "$log")
		if [ -n "$ready" ] && [ -n "$line" ] && [ -n "$end" ]; then
			guest_s=${line#LBENCH-END }
			clock[$k]=$(awk -v g="$guest_s" -v a="$ready" -v b="$end" \
				'BEGIN { printf "%.2f s by its clock, %.2f s by the host'"'"'s (ratio %.3f)", g, b - a, g / (b - a) }')
		fi
	fi
}

kinds=(native btvm)
[ -n "$qemu" ] && kinds+=(qemu)

load=$(cut -d' ' -f1-3 /proc/loadavg)
echo "btvm Linux-guest benchmark: best of $runs run(s)$([ "$quick" = 1 ] && echo ', --quick (scaled down)')"
echo "guest: $(basename "$kernel") ($(cat "$(dirname "$kernel")/vmlinuz.release" 2>/dev/null || echo '?')), -m $mem, '$append'"
echo "host: $(nproc) CPUs, load average $load at start (other work running adds noise)"
for ((i = 1; i <= runs; i++)); do
	for k in "${kinds[@]}"; do
		echo "run $i/$runs: $k ..." >&2
		run_once "$k"
	done
done

# A checksum that differs from the native one (or, without it, from btvm's)
# fails that cell.
for n in "${names[@]}"; do
	ref=
	for k in "${kinds[@]}"; do
		[ "${val[$k,$n]-}" != FAILED ] && ref=${sum[$k,$n]} && refk=$k && break
	done
	for k in "${kinds[@]}"; do
		[ "${val[$k,$n]-}" = FAILED ] && continue
		[ "${sum[$k,$n]}" = "$ref" ] ||
			fail "$k" "$n" "CHECKSUM MISMATCH: $refk ${ref}, $k ${sum[$k,$n]}"
	done
done

cell() { # cell KIND NAME: the figure as shown
	local v=${val[$1,$2]-}
	case $v in
	'') echo - ;;
	FAILED) echo FAILED ;;
	*) case ${unit[$2]-s} in
	   s) printf '%.3f' "$v" ;;
	   *) printf '%.0f' "$v" ;;
	   esac ;;
	esac
}

ratio() { # ratio A B: A/B of two figures, '-' unless both are numbers
	[[ $1 =~ ^[0-9.]+$ && $2 =~ ^[0-9.]+$ ]] || { echo -; return; }
	awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'
}

geomean() {
	[ $# -gt 0 ] || { echo -; return; }
	printf '%s\n' "$@" | awk '{ s += log($1); n++ } END { printf "%.2f", exp(s / n) }'
}

out() { printf '%-10s %-8s %10s %10s %10s %9s %9s %9s\n' "$@"; }
rule() { out -------- ---- ------ ---- ---- -------- -------- ---------; }
echo
out workload unit native btvm qemu btvm/nat qemu/nat btvm/qemu
rule

# row NAME UNIT: one table row; appends its ratios to the current group's
# lists (bn, qn, bq).
row() {
	local n=$1 u=$2 nv bv qv r1 r2 r3
	nv=${val[native,$n]-} bv=${val[btvm,$n]-} qv=${val[qemu,$n]-}
	[ "$n" = boot ] && nv=
	r1=$(ratio "$bv" "$nv") r2=$(ratio "$qv" "$nv") r3=$(ratio "$bv" "$qv")
	[ "$r1" = - ] || bn+=("$r1")
	[ "$r2" = - ] || qn+=("$r2")
	[ "$r3" = - ] || bq+=("$r3")
	local c1 c2 c3
	c1=- c3=-
	[ "$n" = boot ] || c1=$(cell native "$n")
	c2=$(cell btvm "$n")
	[ -z "$qemu" ] || c3=$(cell qemu "$n")
	out "$n" "$u" "$c1" "$c2" "$c3" "$r1" "$r2" "$r3"
}

bn=() qn=() bq=()
for n in "${names[@]}"; do
	[ "${unit[$n]}" = s ] && row "$n" s
done
compute_bn=$(geomean "${bn[@]}") compute_qn=$(geomean "${qn[@]}") compute_bq=$(geomean "${bq[@]}")
out geomean "" "" "" "" "$compute_bn" "$compute_qn" "$compute_bq"
rule
bn=() qn=() bq=() kernel_bq=()
for n in "${names[@]}"; do
	if [ "${unit[$n]}" != s ]; then
		row "$n" "${unit[$n]}"
		kernel_bq+=("$n $(ratio "${val[btvm,$n]-}" "${val[qemu,$n]-}")")
	fi
done
kern_bn=$(geomean "${bn[@]}") kern_qn=$(geomean "${qn[@]}") kern_bq=$(geomean "${bq[@]}")
out geomean "" "" "" "" "$kern_bn" "$kern_qn" "$kern_bq"
rule
bn=() qn=() bq=()
unit[boot]=s
row boot s
boot_bq=${bq[0]:--}
echo

for k in btvm qemu; do
	[ -n "${clock[$k]-}" ] && echo "guest clock check, $k: the workloads took ${clock[$k]}"
done
[ -n "$qemu" ] || echo "qemu: skipped (not installed or --no-qemu)"

# The host's own costs under a guest page fault (bench/host/floor.c): a
# fault that installs a page takes btvm at least one signal, one mmap and
# the host's minor fault on its first touch, whatever the translator does.
floor_prog=$build/bench/host/floor
if [ -x "$floor_prog" ] && floor_out=$("$floor_prog"); then
	declare -A floor
	while read -r _ fname fns _; do floor[$fname]=$fns; done <<< "$floor_out"
	echo "host floor (bench/host/floor, no guest): system call ${floor[syscall]} ns, signal" \
		"${floor[signal]} ns, mmap of a page ${floor[mmap]} ns, its first touch ${floor[touch]} ns," \
		"mprotect ${floor[mprotect]} ns"
	pf_line="a guest page fault that maps a page costs btvm at least ${floor[pagefault]} ns here"
	if [[ ${val[qemu,pagefault]-} =~ ^[0-9.]+$ ]]; then
		pf_line+=" ($(ratio "${floor[pagefault]}" "${val[qemu,pagefault]}") of QEMU's whole fault)"
	fi
	echo "$pf_line"
else
	echo "host floor: $floor_prog did not run (build target floor)"
fi
kernel_list=$(printf '%s, ' "${kernel_bq[@]/ /: }")
if [ -n "$qemu" ]; then
	boot_text="btvm $(cell btvm boot) s vs qemu $(cell qemu boot) s (btvm/qemu $boot_bq, target <= 0.33)"
	kernel_text="${kernel_list%, } (geomean $kern_bq, target <= 0.5)"
else
	boot_text="btvm $(cell btvm boot) s (no QEMU to compare)"
	kernel_text="- (no QEMU; target <= 0.5)"
fi
echo "summary: boot to shell $boot_text; compute geomean btvm/native $compute_bn" \
	"(target <= 1.10, none above 1.3); kernel-heavy btvm/qemu $kernel_text"

failed=0
if [ -s "$tmp/failures" ]; then
	failed=1
	echo
	echo "FAILURES:"
	cat "$tmp/failures"
fi
exit "$failed"
