#!/usr/bin/env bash
# The first-touch benchmarks of issue 47 in one command: allocate-and-touch
# and the fresh-array sweeps (bench/touch/tbench.c), lbench's page-fault
# loop (bench/linux/lbench.c), all natively as 32-bit static host
# processes and inside Debian's i386 kernel (scripts/fetch-guest.sh) under
# btvm and under qemu-system-i386 -accel tcg; and the fault-heavy ring-3
# kernel faultk.elf (bench/touch/faultk.c) under btvm and QEMU (it has no
# native form). Prints one table of best-of-N figures with btvm/native,
# qemu/native and btvm/qemu, btvm again with a raised vm.max_map_count, and
# btvm's --stats-json figures of the page path for each job.
#
#	bench/touch/run.sh [--runs N] [--sizes S,S,...] [--quick] [--no-qemu]
#	                   [--max-map-count N] [--no-raise] [--faultk-iters N]
#	                   [--mem MIB] [--build DIR] [--no-build] [--timeout SEC]
#
# --sizes    sweep sizes in MiB (default 16,90,400,1024; --quick: 8,16)
# --quick    1 run, small sizes, faultk at 10 rounds, lbench --quick
# --max-map-count N   the raised value (default 1048576); the raised runs
#            need root (sysctl vm.max_map_count), and the old value is put
#            back at the end; without permission the column is skipped
#            with the reason printed
# --no-raise skip the raised runs (said so in the output)
# --mem MIB  the guests' -m for every Linux job (default: 256, and S+384
#            for a sweep of S >= 128 MiB), to find what a size needs
#
# Each guest job boots the kernel once with the job named on its command
# line (tjob=...): "at" runs tbench alloctouch and lbench pagefault,
# "sweep:S" runs tbench sweep S, "idle" runs nothing (the stats baseline).
# The guest's -m grows with S (mem_for below). The Linux figures are the
# guests' own clocks (clock_gettime in the guest), faultk's the host's wall
# time of the whole VMM run, as bench/run.sh times its guests.
# Exit status: 0 when every run finished and every checksum agreed across
# native, btvm and QEMU; 1 otherwise (FAILED cells, reasons after the
# table); 2 on bad usage.
set -u -o pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=$repo/build
runs=3
sizes=
use_qemu=1
do_build=1
quick=0
limit=900
raise_to=1048576
raise=auto
faultk_iters=
mem_forced=

usage() {
	echo usage: >&2
	sed -n '12,14p' "${BASH_SOURCE[0]}" | sed 's/^#//' >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case $1 in
	--runs) [ $# -ge 2 ] || usage; runs=$2; shift 2 ;;
	--sizes) [ $# -ge 2 ] || usage; sizes=$2; shift 2 ;;
	--quick) quick=1; shift ;;
	--no-qemu) use_qemu=0; shift ;;
	--max-map-count) [ $# -ge 2 ] || usage; raise_to=$2; raise=asked; shift 2 ;;
	--no-raise) raise=no; shift ;;
	--faultk-iters) [ $# -ge 2 ] || usage; faultk_iters=$2; shift 2 ;;
	--mem) [ $# -ge 2 ] || usage; mem_forced=$2; shift 2 ;;
	--build) [ $# -ge 2 ] || usage; build=$2; shift 2 ;;
	--no-build) do_build=0; shift ;;
	--timeout) [ $# -ge 2 ] || usage; limit=$2; shift 2 ;;
	-h|--help) sed -n '2,34p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//; s/^\t//'; exit 0 ;;
	*) echo "run.sh: unknown argument '$1'" >&2; usage ;;
	esac
done
if [ "$quick" = 1 ]; then
	runs=1
	: "${sizes:=8,16}"
	: "${faultk_iters:=10}"
fi
: "${sizes:=16,90,400,1024}"
: "${faultk_iters:=100}"
IFS=, read -r -a size_list <<< "$sizes"
for n in "$runs" "$limit" "$raise_to" "$faultk_iters" ${mem_forced:+"$mem_forced"} "${size_list[@]}"; do
	[[ $n =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: '$n' is not a positive number" >&2; exit 2; }
done
for s in "${size_list[@]}"; do
	[ "$s" -le 2048 ] || { echo "run.sh: sweep size $s MiB: at most 2048 (a 32-bit guest)" >&2; exit 2; }
done
build=$(realpath -m "$build")

if [ "$do_build" = 1 ]; then
	if [ ! -f "$build/CMakeCache.txt" ]; then
		cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null ||
			{ echo "run.sh: cmake configure failed" >&2; exit 1; }
	fi
	cmake --build "$build" -j "$(nproc)" --target btvm lbench touchbench >/dev/null ||
		{ echo "run.sh: build failed (run: cmake --build $build --target btvm lbench touchbench)" >&2; exit 1; }
fi

btvm=$build/btvm
lbench=$build/bench/linux/lbench
tbench=$build/bench/touch/tbench
faultk=$build/bench/touch/faultk.elf
for f in "$btvm" "$lbench" "$tbench" "$faultk"; do
	[ -f "$f" ] || { echo "run.sh: $f not found (build first, or drop --no-build)" >&2; exit 1; }
done
command -v cpio >/dev/null || { echo "run.sh: cpio is needed to build the initramfs" >&2; exit 1; }
command -v python3 >/dev/null || { echo "run.sh: python3 is needed to read --stats-json" >&2; exit 1; }

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

mkdir -p "$build/bench/touch"
tmp=$(mktemp -d "$build/bench/touch/run.XXXXXX")
map_count_file=/proc/sys/vm/max_map_count
map_count_old=$(cat "$map_count_file" 2>/dev/null || echo '?')
map_count_set=0
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	if [ "$map_count_set" = 1 ]; then
		echo "$map_count_old" > "$map_count_file" ||
			echo "run.sh: could not put vm.max_map_count back to $map_count_old" >&2
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

lb_quick=
[ "$quick" = 1 ] && lb_quick=--quick

# The guest's RAM for a job: room for the array beside the kernel, the
# initramfs and the page tables (a 1 GiB array needs -m 1408: see
# bench/README.md).
mem_for() { # mem_for JOB
	local s
	if [ "$1" = faultk ]; then
		echo 64
	elif [ -n "$mem_forced" ]; then
		echo "$mem_forced"
	elif [[ $1 == sweep:* ]] && s=${1#sweep:} && [ "$s" -ge 128 ]; then
		echo $((s + 384))
	else
		echo 256
	fi
}

# The benchmark initramfs: the test one, then a second archive with the
# programs and a /init that runs the job named by tjob= on the kernel's
# command line (the kernel unpacks concatenated archives in order; later
# files win).
mkdir -p "$tmp/root/bin"
cp "$lbench" "$tmp/root/bin/lbench"
cp "$tbench" "$tmp/root/bin/tbench"
cat > "$tmp/root/init" <<EOF
#!/bin/busybox sh
# /init of bench/touch/run.sh's initramfs: the test /init's set-up, the job
# named by tjob= on the command line, then power off.
/bin/busybox mkdir -p /proc /sys /dev /tmp
/bin/busybox --install -s
export PATH=/sbin:/usr/sbin:/bin:/usr/bin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev || mdev -s
[ -t 1 ] || exec </dev/console >/dev/console 2>&1
job=
for w in \$(cat /proc/cmdline); do
	case \$w in tjob=*) job=\${w#tjob=} ;; esac
done
echo "TBENCH-MEM \$(awk '/^(MemTotal|HighTotal|LowTotal):/ { printf "%s %s ", \$1, \$2 }' /proc/meminfo)"
echo TBENCH-READY
status=0
case \$job in
at) /bin/tbench alloctouch || status=1
    /bin/lbench $lb_quick pagefault || status=1 ;;
sweep:*) /bin/tbench sweep \${job#sweep:} || status=1 ;;
idle) ;;
*) echo "TBENCH-FAILED init no such job '\$job'"; status=1 ;;
esac
echo "TBENCH-EXIT \$status"
poweroff -f
EOF
chmod 755 "$tmp/root/init" "$tmp/root/bin/lbench" "$tmp/root/bin/tbench"
initrd=$tmp/initramfs.cpio.gz
cp "$base_initrd" "$initrd"
(cd "$tmp/root" && find . -mindepth 1 | sort | cpio -o -H newc -R 0:0 --quiet) | gzip -n >> "$initrd" ||
	{ echo "run.sh: cannot build the benchmark initramfs" >&2; exit 1; }

# The jobs and the figures each prints, in table order.
jobs=(at)
for s in "${size_list[@]}"; do jobs+=("sweep:$s"); done
names=(alloctouch pagefault)
declare -A unit=([alloctouch]=s [pagefault]=ns/page [faultk]=s) job_of=([alloctouch]=at [pagefault]=at [faultk]=faultk)
for s in "${size_list[@]}"; do
	names+=("sweep-$s-first" "sweep-$s")
	unit[sweep-$s-first]=s unit[sweep-$s]=s
	job_of[sweep-$s-first]=sweep:$s job_of[sweep-$s]=sweep:$s
done
names+=(faultk)

# The kinds of run: native, btvm, qemu, and btvm again under the raised
# vm.max_map_count (braised).
kinds=(native btvm)
[ -n "$qemu" ] && kinds+=(qemu)
raise_note=
if [ "$raise" = no ]; then
	raise_note="raised vm.max_map_count: skipped (--no-raise)"
elif [ "$map_count_old" = '?' ]; then
	raise_note="raised vm.max_map_count: skipped ($map_count_file cannot be read)"
elif [ "$map_count_old" -ge "$raise_to" ]; then
	raise_note="raised vm.max_map_count: skipped (it is already $map_count_old, not below $raise_to)"
elif [ "$raise" = auto ] && [ "$(id -u)" != 0 ]; then
	raise_note="raised vm.max_map_count: skipped (not root; run as root or with --max-map-count N and permission)"
elif ! { echo "$raise_to" > "$map_count_file"; } 2>/dev/null; then
	raise_note="raised vm.max_map_count: skipped (writing $raise_to to $map_count_file was refused)"
else
	# Back to the old value until the raised runs.
	echo "$map_count_old" > "$map_count_file"
	kinds+=(braised)
fi

set_map_count() { # set_map_count VALUE
	echo "$1" > "$map_count_file" || { echo "run.sh: cannot set vm.max_map_count to $1" >&2; exit 1; }
	map_count_set=1
	[ "$1" = "$map_count_old" ] && map_count_set=0
}

declare -A val sum memline
: > "$tmp/failures"

# shellcheck source=bench/best.sh
. "$repo/bench/best.sh"

# The names a job prints.
names_of() { # names_of JOB
	local n
	for n in "${names[@]}"; do [ "${job_of[$n]}" = "$1" ] && echo "$n"; done
}

# run_job KIND JOB STATS [nocount]: one run; records the job's figures
# (with nocount only its failure). STATS is the --stats-json file for
# btvm, or empty.
run_job() {
	local k=$1 job=$2 stats=$3 count=${4:-count} mem log=$tmp/log err=$tmp/err why='' status n v s t0 t1
	local -a cmd
	mem=$(mem_for "$job")
	local append="console=ttyS0 quiet tjob=$job"
	# shellcheck disable=SC2016,SC2054 # sh -c expands its own; QEMU's commas
	case $k:$job in
	native:at) cmd=(sh -c '"$1" alloctouch && "$2" $3 pagefault' sh "$tbench" "$lbench" "$lb_quick") ;;
	native:sweep:*) cmd=("$tbench" sweep "${job#sweep:}") ;;
	btvm:faultk|braised:faultk)
		cmd=("$btvm" run --kernel "$faultk" --append "iters=$faultk_iters" --serial stdio
		     --display none -m "$mem" --net none ${stats:+--stats-json "$stats" --stats-interval 100}) ;;
	qemu:faultk)
		cmd=("$qemu" -accel tcg -kernel "$faultk" -append "iters=$faultk_iters" -nographic
		     -no-reboot -net none -device isa-debug-exit,iobase=0xf4,iosize=4 -m "$mem") ;;
	btvm:*|braised:*)
		cmd=("$btvm" run --kernel "$kernel" --initrd "$initrd" --append "$append" -m "$mem"
		     --no-reboot --serial stdio --display none --net none
		     ${stats:+--stats-json "$stats" --stats-interval 100}) ;;
	qemu:*)
		cmd=("$qemu" -accel tcg -m "$mem" -kernel "$kernel" -initrd "$initrd" -append "$append"
		     -nographic -no-reboot -net none) ;;
	esac
	t0=$EPOCHREALTIME
	timeout --kill-after=5 "$limit" "${cmd[@]}" < /dev/null > "$log" 2> "$err"
	status=$?
	t1=$EPOCHREALTIME
	tr -d '\r' < "$log" > "$log.clean" && mv "$log.clean" "$log"
	if [ "$status" = 124 ] || [ "$status" = 137 ]; then
		why="timed out after ${limit}s"
	elif [ "$job" = faultk ]; then
		[ "$status" = 33 ] || why="exit status $status, expected 33"
	elif [ "$status" != 0 ]; then
		why="exit status $status"
	elif [ "$k" != native ] && ! grep -aq 'TBENCH-EXIT 0$' "$log"; then
		why="the job did not finish with status 0 in the guest"
	fi
	if [ -n "$why" ]; then
		{
			echo "--- $job under $k: $why"
			echo "    command:$(printf ' %q' "${cmd[@]}")"
			sed 's/\x1b\[[0-9;?]*[A-Za-z]//g; s/\x1bc//g' "$log" | grep -av '^\s*$' | tail -n 8 | sed 's/^/    out: /'
			[ -s "$err" ] && tail -n 5 "$err" | sed 's/^/    err: /'
		} >> "$tmp/failures"
	fi
	[ "$k" != native ] && [ "$job" != faultk ] &&
		memline[$k,$job]=$(grep -aoE 'TBENCH-MEM .*' "$log" | head -n 1 | sed 's/^TBENCH-MEM //; s/ *$//')

	[ "$count" = count ] || return 0
	declare -A got_v=() got_s=()
	if [ "$job" = faultk ]; then
		line=$(grep -aoE "bench faultk iters $faultk_iters checksum 0x[0-9a-f]{8}" "$log" | tail -n 1)
		if [ -n "$line" ] && [ -z "$why" ]; then
			got_v[faultk]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
			got_s[faultk]=${line##* }
		fi
	else
		while read -r n v s; do
			got_v[$n]=$v got_s[$n]=$s
		done < <(grep -aoE '[LT]BENCH [a-z0-9-]+ [0-9]+\.[0-9]+ [a-z/]+ 0x[0-9a-f]{8}' "$log" |
			 awk '{ print $2, $3, $5 }')
	fi
	while read -r n; do
		if [ -n "${got_v[$n]-}" ]; then
			record "$k" "$n" "${got_v[$n]}" "${got_s[$n]}"
		else
			fail "$k" "$n" "no result${why:+ ($why)}"
		fi
	done < <(names_of "$job")
}

load=$(cut -d' ' -f1-3 /proc/loadavg)
echo "btvm first-touch benchmark (issue 47): best of $runs run(s)$([ "$quick" = 1 ] && echo ', --quick (scaled down)')"
echo "guest: $(basename "$kernel") ($(cat "$(dirname "$kernel")/vmlinuz.release" 2>/dev/null || echo '?')), sweeps of ${sizes//,/, } MiB, faultk $faultk_iters rounds"
echo "host: $(nproc) CPUs, load average $load at start (other work running adds noise); vm.max_map_count $map_count_old"

# map_count_for KIND: vm.max_map_count as KIND's runs want it (raised for
# braised, the old value for the others).
map_count_for() {
	if [ "$1" = braised ]; then
		[ "$map_count_set" = 1 ] || set_map_count "$raise_to"
	elif [ "$map_count_set" = 1 ]; then
		set_map_count "$map_count_old"
	fi
}

jobs_of() { # jobs_of KIND: the jobs a kind runs (faultk has no native form)
	printf '%s\n' "${jobs[@]}"
	[ "$1" = native ] || echo faultk
}

is_btvm() { [ "$1" = btvm ] || [ "$1" = braised ]; }

# The kinds take turns within each round, so that a change in the host's
# load falls on all of them alike.
for ((i = 1; i <= runs; i++)); do
	for k in "${kinds[@]}"; do
		map_count_for "$k"
		while read -r job; do
			echo "run $i/$runs: $k $job (-m $(mem_for "$job"))$([ "$k" = braised ] && echo ", vm.max_map_count $raise_to") ..." >&2
			stats=
			is_btvm "$k" && [ "$quick" = 1 ] && stats=$tmp/stats-$k-${job/:/-}.json
			run_job "$k" "$job" "$stats"
		done < <(jobs_of "$k")
	done
done
for k in "${kinds[@]}"; do
	is_btvm "$k" || continue
	map_count_for "$k"
	# --stats-json starts btvm's sampling profiler (a SIGPROF timer),
	# so the stats come from one more run of each job whose times are
	# not counted; with --quick, from the one run.
	if [ "$quick" = 0 ]; then
		while read -r job; do
			echo "stats run: $k $job ..." >&2
			run_job "$k" "$job" "$tmp/stats-$k-${job/:/-}.json" nocount
		done < <(jobs_of "$k")
	fi
	# An idle boot at each -m the jobs used: the boot's own share.
	for m in $(for job in "${jobs[@]}"; do mem_for "$job"; done | sort -un); do
		echo "idle boot: $k at -m $m ..." >&2
		timeout --kill-after=5 "$limit" "$btvm" run --kernel "$kernel" --initrd "$initrd" \
			--append "console=ttyS0 quiet tjob=idle" -m "$m" --no-reboot --serial stdio \
			--display none --net none --stats-json "$tmp/stats-$k-idle-$m.json" \
			--stats-interval 100 < /dev/null > /dev/null 2>&1 ||
			echo "--- idle boot under $k at -m $m failed (exit status $?): no idle row" >> "$tmp/failures"
	done
done
map_count_for native

# A checksum that differs from the first kind's that has one fails the cell.
for n in "${names[@]}"; do
	ref='' refk=''
	for k in "${kinds[@]}"; do
		[ -n "${val[$k,$n]-}" ] && [ "${val[$k,$n]}" != FAILED ] && ref=${sum[$k,$n]} && refk=$k && break
	done
	for k in "${kinds[@]}"; do
		if [ -z "${val[$k,$n]-}" ] || [ "${val[$k,$n]}" = FAILED ]; then continue; fi
		[ "${sum[$k,$n]}" = "$ref" ] || fail "$k" "$n" "CHECKSUM MISMATCH: $refk ${ref}, $k ${sum[$k,$n]}"
	done
done

cell() { # cell KIND NAME
	local v=${val[$1,$2]-}
	case $v in
	'') echo - ;;
	FAILED) echo FAILED ;;
	*) case ${unit[$2]} in s) printf '%.3f' "$v" ;; *) printf '%.0f' "$v" ;; esac ;;
	esac
}

ratio() { # ratio A B
	[[ $1 =~ ^[0-9.]+$ && $2 =~ ^[0-9.]+$ ]] || { echo -; return; }
	awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'
}

has_raised=0
for k in "${kinds[@]}"; do [ "$k" = braised ] && has_raised=1; done
echo
printf '%-16s %-8s %9s %9s %9s %8s %8s %9s' workload unit native btvm qemu btvm/nat qemu/nat btvm/qemu
[ "$has_raised" = 1 ] && printf ' %11s %9s' "btvm@raised" "raised/qemu"
echo
for n in "${names[@]}"; do
	nv=${val[native,$n]-} bv=${val[btvm,$n]-} qv=${val[qemu,$n]-} rv=${val[braised,$n]-}
	printf '%-16s %-8s %9s %9s %9s %8s %8s %9s' "$n" "${unit[$n]}" "$(cell native "$n")" \
		"$(cell btvm "$n")" "$(cell qemu "$n")" "$(ratio "$bv" "$nv")" "$(ratio "$qv" "$nv")" \
		"$(ratio "$bv" "$qv")"
	[ "$has_raised" = 1 ] && printf ' %11s %9s' "$(cell braised "$n")" "$(ratio "$rv" "$qv")"
	echo
done
# The issue's targets as figures: the first touch (alloctouch, every
# sweep's first pass), lbench's page fault and faultk at most QEMU's time,
# under the host's vm.max_map_count.
if [ -n "$qemu" ]; then
	targets='' missed=0
	for n in "${names[@]}"; do
		case $n in alloctouch|pagefault|faultk|sweep-*-first) ;; *) continue ;; esac
		r=$(ratio "${val[btvm,$n]-}" "${val[qemu,$n]-}")
		targets+="$n $r, "
		[[ $r =~ ^[0-9.]+$ ]] && awk -v r="$r" 'BEGIN { exit !(r <= 1.0) }' || missed=$((missed + 1))
	done
	echo
	echo "summary: btvm/qemu ${targets%, } (target <= 1.00 each: $missed missed)"
fi
echo
echo "vm.max_map_count: btvm column $map_count_old$([ "$has_raised" = 1 ] && echo ", btvm@raised $raise_to")"
[ -n "$raise_note" ] && echo "$raise_note"
[ -n "$qemu" ] || echo "qemu: skipped (not installed or --no-qemu)"
echo "faultk: host wall time of the whole VMM run (boot included); the Linux rows: the guest's clock"
declare -A mem_said=()
for job in "${jobs[@]}"; do
	for k in btvm qemu; do
		m=$(mem_for "$job")
		if [ -z "${memline[$k,$job]-}" ] || [ -n "${mem_said[$k,$m]-}" ]; then continue; fi
		mem_said[$k,$m]=1
		echo "guest memory under $k at -m $m: ${memline[$k,$job]} (kB)"
	done
done

# The page path under btvm, from --stats-json: each job's whole run (boot
# included) and, for comparison, an idle boot at each -m; the peak of host
# mappings over the run's samples.
echo
echo "btvm's page path per run (--stats-json$([ "$quick" = 0 ] && echo ' of one more run'), boot included; idle: the boot alone):"
printf '%-8s %-12s %5s %9s %9s %9s %9s %9s %9s %9s %9s %8s\n' kind job -m hidden "host mmap" beside \
	"true #PF" "traced" mappings peak budget replaced
for k in btvm braised; do
	for job in "${jobs[@]}" faultk $(for j in "${jobs[@]}"; do mem_for "$j"; done | sort -nu | sed 's/^/idle-/'); do
		f=$tmp/stats-$k-${job/:/-}.json
		[ -f "$f" ] || continue
		m=$(mem_for "$job")
		case $job in idle-*) m=${job#idle-} ;; esac
		python3 - "$f" "$k" "$job" "$m" <<'PY' || echo "$k $job: $f cannot be read"
import json, sys
path, kind, job, mem = sys.argv[1:5]
with open(path) as fh:
    d = json.load(fh)
c = d["counters"]
peak = max([s["counters"].get("shadow.host_mappings", 0) for s in d.get("series", [])] +
           [c["shadow.host_mappings"]])
print("%-8s %-12s %5s %9d %9d %9d %9d %9d %9d %9d %9d %8d" % (
    kind, job, mem, c["shadow.hidden_faults"], c["shadow.map_calls"], c["shadow.prefetched"],
    c["shadow.true_faults"], c["shadow.trace_faults"], c["shadow.host_mappings"], peak,
    c["shadow.host_mapping_budget"], c["shadow.replacements"]))
PY
	done
done
echo "(docs/STATS.md: hidden = shadow.hidden_faults, host mmap = shadow.map_calls, beside ="
echo " shadow.prefetched (pages mapped beside them), true #PF = shadow.true_faults, traced ="
echo " shadow.trace_faults, mappings = shadow.host_mappings at the end (host mappings now),"
echo " peak = its highest 100 ms sample, budget = shadow.host_mapping_budget, replaced ="
echo " shadow.replacements)"

failed=0
if [ -s "$tmp/failures" ]; then
	failed=1
	echo
	echo "FAILURES:"
	cat "$tmp/failures"
fi
exit "$failed"
