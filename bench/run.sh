#!/usr/bin/env bash
# Run the compute benchmarks natively, under btvm and under QEMU (TCG), and
# print the best-of-N wall times, the slowdowns against native and their
# geometric means. Every run's checksum must match the native one.
#
#	bench/run.sh [--runs N] [--only a,b,...] [--iters N] [--no-qemu]
#	             [--build DIR] [--no-build] [--timeout SEC]
#
# Exit status: 0 when every workload ran and all checksums agreed, 1 when
# any run failed or disagreed (its row says FAILED), 2 on bad usage.
set -u -o pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
build=$repo/build
runs=6         # rounds; each side's best counts
only=
iters=
use_qemu=1
do_build=1
limit=600
long_run=30     # seconds: a run longer than this is not repeated

usage() {
	echo "usage: bench/run.sh [--runs N] [--only a,b,...] [--iters N] [--no-qemu]" >&2
	echo "                    [--build DIR] [--no-build] [--timeout SEC]" >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case $1 in
	--runs) [ $# -ge 2 ] || usage; runs=$2; shift 2 ;;
	--only) [ $# -ge 2 ] || usage; only=$2; shift 2 ;;
	--iters) [ $# -ge 2 ] || usage; iters=$2; shift 2 ;;
	--no-qemu) use_qemu=0; shift ;;
	--build) [ $# -ge 2 ] || usage; build=$2; shift 2 ;;
	--no-build) do_build=0; shift ;;
	--timeout) [ $# -ge 2 ] || usage; limit=$2; shift 2 ;;
	-h|--help) sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//; s/^\t//'; exit 0 ;;
	*) echo "run.sh: unknown argument '$1'" >&2; usage ;;
	esac
done
for n in "$runs" "$limit" ${iters:+"$iters"}; do
	[[ $n =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: '$n' is not a positive number" >&2; exit 2; }
done
build=$(realpath -m "$build")

if [ "$do_build" = 1 ]; then
	if [ ! -f "$build/CMakeCache.txt" ]; then
		cmake -S "$repo" -B "$build" >/dev/null || { echo "run.sh: cmake configure failed" >&2; exit 1; }
	fi
	cmake --build "$build" -j "$(nproc)" --target btvm bench segload >/dev/null ||
		{ echo "run.sh: build failed (run: cmake --build $build --target btvm bench segload)" >&2; exit 1; }
fi

btvm=$build/btvm
dir=$build/bench
[ -x "$btvm" ] || { echo "run.sh: $btvm not found (build first, or drop --no-build)" >&2; exit 1; }
[ -f "$dir/workloads.txt" ] || { echo "run.sh: $dir/workloads.txt not found: benchmarks not built" >&2; exit 1; }

mapfile -t workloads < "$dir/workloads.txt"
if [ -n "$only" ]; then
	IFS=, read -r -a wanted <<< "$only"
	for w in "${wanted[@]}"; do
		printf '%s\n' "${workloads[@]}" | grep -qxF -- "$w" ||
			{ echo "run.sh: no workload '$w' (have: ${workloads[*]})" >&2; exit 2; }
	done
	workloads=("${wanted[@]}")
fi

qemu=
if [ "$use_qemu" = 1 ]; then
	qemu=$(command -v qemu-system-i386 || true)
	[ -n "$qemu" ] || echo "run.sh: qemu-system-i386 not installed: skipping QEMU"
else
	echo "run.sh: --no-qemu: skipping QEMU"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# time_cmd OUT ERR CMD...: run CMD (stdin /dev/null, stdout to OUT, stderr
# to ERR) under the time limit; sets $elapsed (seconds) and $status.
time_cmd() {
	local out=$1 err=$2 t0 t1
	shift 2
	t0=$(date +%s%N)
	timeout --kill-after=5 "$limit" "$@" < /dev/null > "$out" 2> "$err"
	status=$?
	t1=$(date +%s%N)
	elapsed=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
}

# run_one KIND WORKLOAD I: run I of WORKLOAD under KIND, with the stack
# moved down by I * 4096 / $runs bytes (bench_run_padded in rt/bench.h).
# Sets $elapsed, and $s (the checksum) or $why.
run_one() {
	local kind=$1 w=$2 i=$3 want_status cmd line pad args
	pad=$(( (i * 4096 / runs) & ~15 ))
	args="${iters:+iters=$iters }pad=$pad"
	case $kind in
	native)
		want_status=0
		cmd=("$dir/$w-native" ${iters:+"$iters"} "pad=$pad") ;;
	btvm)
		want_status=33
		cmd=("$btvm" run --kernel "$dir/$w.elf" --serial stdio --display none -m 64 --net none
		     --append "$args") ;;
	qemu)
		want_status=33
		cmd=("$qemu" -accel tcg -kernel "$dir/$w.elf" -nographic -no-reboot -net none
		     -device isa-debug-exit,iobase=0xf4,iosize=4 -m 64 -append "$args") ;;
	esac
	s="" why=""
	time_cmd "$tmp/out" "$tmp/err" "${cmd[@]}"
	line=$(tr -d '\r' < "$tmp/out" | grep -aoE "bench $w iters [0-9]+ checksum 0x[0-9a-f]{8}" | tail -n 1)
	if [ "$status" = 124 ] || [ "$status" = 137 ]; then
		why="timed out after ${limit}s"
	elif [ "$status" != "$want_status" ]; then
		why="exit status $status, expected $want_status"
	elif [ -z "$line" ]; then
		why="no result line"
	fi
	if [ -n "$why" ]; then
		{
			echo "--- $w under $kind: $why"
			echo "    command: ${cmd[*]}"
			tr -d '\r' < "$tmp/out" | sed 's/\x1b\[[0-9;?]*[A-Za-z]//g; s/\x1bc//g' |
				grep -av '^\s*$' | tail -n 5 | sed 's/^/    out: /'
			tail -n 5 "$tmp/err" | sed 's/^/    err: /'
		} >> "$tmp/failures"
		return
	fi
	s=${line##* checksum }
}

# measure WORKLOAD KIND...: $runs rounds, each running every KIND once in
# turn at that round's stack offset, so that the sides of a pair see the
# same moment of a noisy host and each side's best is over the same set of
# layouts: where the stack falls modulo 4 KiB against the workload's arrays
# changes its time by up to a third (README, "Stack offsets"). Sets
# best[KIND] (seconds, or FAILED) and sum[KIND].
declare -A best sum finished
measure() {
	local w=$1 kind i
	shift
	for kind in "$@"; do
		best[$kind]="" sum[$kind]="" finished[$kind]=""
	done
	for ((i = 0; i < runs; i++)); do
		for kind in "$@"; do
			[ -z "${finished[$kind]}" ] || continue
			run_one "$kind" "$w" "$i"
			if [ -n "$why" ]; then
				best[$kind]=FAILED finished[$kind]=1
				continue
			fi
			if [ -n "${sum[$kind]}" ] && [ "$s" != "${sum[$kind]}" ]; then
				echo "--- $w under $kind: checksum changed between runs (${sum[$kind]}, then $s)" >> "$tmp/failures"
				best[$kind]=FAILED finished[$kind]=1
				continue
			fi
			sum[$kind]=$s
			if [ -z "${best[$kind]}" ] || awk -v a="$elapsed" -v b="${best[$kind]}" 'BEGIN { exit !(a < b) }'; then
				best[$kind]=$elapsed
			fi
			# Minutes-long runs (x87 code under QEMU) vary by far less
			# than they last: one is enough.
			awk -v a="$elapsed" -v m="$long_run" 'BEGIN { exit !(a > m) }' && finished[$kind]=1
		done
	done
}

ratio() {
	case "$1$2" in
	*FAILED*|*-*) echo - ;;
	*) awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }' ;;
	esac
}

fmt='%-10s %9s %9s %9s %9s %9s\n'
echo "btvm benchmarks: best of $runs run(s) of wall time in seconds${iters:+, iters=$iters}"
echo
printf "$fmt" workload native btvm btvm/nat qemu qemu/nat
printf "$fmt" -------- ------ ---- -------- ---- --------

failed=0
btvm_ratios=() qemu_ratios=() excluded_btvm=() excluded_qemu=()
for w in "${workloads[@]}"; do
	if [ ! -x "$dir/$w-native" ] || [ ! -f "$dir/$w.elf" ]; then
		echo "--- $w: not built ($dir/$w-native, $dir/$w.elf)" >> "$tmp/failures"
		printf "$fmt" "$w" FAILED - - - -
		failed=1
		excluded_btvm+=("$w")
		excluded_qemu+=("$w")
		continue
	fi
	measure "$w" native btvm ${qemu:+qemu}
	nt=${best[native]} nsum=${sum[native]}
	bt=${best[btvm]} qt=-
	[ -z "$qemu" ] || qt=${best[qemu]}
	if [ "$nt" = FAILED ]; then
		bt=- qt=-
	else
		if [ "$bt" != FAILED ] && [ "${sum[btvm]}" != "$nsum" ]; then
			echo "--- $w under btvm: CHECKSUM MISMATCH: native $nsum, btvm ${sum[btvm]}" >> "$tmp/failures"
			bt=FAILED
		fi
		if [ -n "$qemu" ] && [ "$qt" != FAILED ] && [ "${sum[qemu]}" != "$nsum" ]; then
			echo "--- $w under qemu: CHECKSUM MISMATCH: native $nsum, qemu ${sum[qemu]}" >> "$tmp/failures"
			qt=FAILED
		fi
	fi
	br=$(ratio "$bt" "$nt")
	qr=$(ratio "$qt" "$nt")
	[ "$bt" = FAILED ] || [ "$nt" = FAILED ] || [ "$qt" = FAILED ] && failed=1
	if [ "$br" = - ]; then excluded_btvm+=("$w"); else btvm_ratios+=("$br"); fi
	if [ -n "$qemu" ]; then
		if [ "$qr" = - ]; then excluded_qemu+=("$w"); else qemu_ratios+=("$qr"); fi
	fi
	printf "$fmt" "$w" "$nt" "$bt" "$br" "$qt" "$qr"
done

geomean() {
	[ $# -gt 0 ] || { echo -; return; }
	printf '%s\n' "$@" | awk '{ s += log($1); n++ } END { printf "%.2f", exp(s / n) }'
}
printf "$fmt" -------- ------ ---- -------- ---- --------
printf "$fmt" geomean "" "" "$(geomean "${btvm_ratios[@]}")" "" \
	"$([ -n "$qemu" ] && geomean "${qemu_ratios[@]}" || echo -)"
echo
[ ${#excluded_btvm[@]} -eq 0 ] || echo "btvm geomean excludes failed: ${excluded_btvm[*]}"
[ -z "$qemu" ] || [ ${#excluded_qemu[@]} -eq 0 ] || echo "qemu geomean excludes failed: ${excluded_qemu[*]}"
[ -n "$qemu" ] || echo "qemu: skipped (not installed or --no-qemu)"
echo "target (issue 47): geomean btvm/native <= 1.05, none above 1.15"

# What the window's segment costs this host's CPU (bench/host/segload.c):
# every guest load is gs:[r32 + disp], and a chain of loads pays the
# difference on every link, whatever the translator does.
seg_prog=$build/bench/host/segload
if [ -x "$seg_prog" ] && seg_out=$("$seg_prog"); then
	declare -A seg
	while read -r _ sname sns _; do seg[$sname]=$sns; done <<< "$seg_out"
	echo "host (bench/host/segload, no guest): a load through GS with a nonzero base" \
		"has ${seg[chase_gs]} ns from load to use, a plain one ${seg[chase_plain]} ns"
else
	echo "host: $seg_prog did not run (build target segload)"
fi

if [ -s "$tmp/failures" ]; then
	echo
	echo "FAILURES:"
	cat "$tmp/failures"
fi
exit "$failed"
