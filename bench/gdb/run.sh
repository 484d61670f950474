#!/usr/bin/env bash
# The cost of a gdb attached with no breakpoint (issue 16's target: none):
# each compute workload (bench/workloads) under btvm alone, then under
# btvm --gdb with Debian's gdb started beside it, which attaches to the
# running guest (the stub stops it for gdb's handshake, a few ms), then
# continues it to its exit; best of N of the btvm process's CPU time (user
# + system: on a shared host wall time mostly measures the neighbours)
# and of its wall time, the CPU-time ratio per workload and its geometric
# mean. Checksums must agree.
# (Not -S: btvm would then sit paused through gdb's own start-up, some
# 0.3 s, which is gdb's cost, not the attachment's.)
#
#	bench/gdb/run.sh [--runs N] [--only a,b,...] [--build DIR]
#
# Exit status: 0 when every run succeeded and agreed, 1 otherwise, 2 on
# bad usage.
set -u -o pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$(dirname "$here")")
build=$repo/build
runs=3
only=

usage() {
	echo "usage: bench/gdb/run.sh [--runs N] [--only a,b,...] [--build DIR]" >&2
	exit 2
}
while [ $# -gt 0 ]; do
	case $1 in
	--runs) [ $# -ge 2 ] || usage; runs=$2; shift 2 ;;
	--only) [ $# -ge 2 ] || usage; only=$2; shift 2 ;;
	--build) [ $# -ge 2 ] || usage; build=$2; shift 2 ;;
	*) usage ;;
	esac
done
[[ $runs =~ ^[1-9][0-9]*$ ]] || usage
command -v gdb > /dev/null || { echo "run.sh: gdb is not installed" >&2; exit 1; }
cmake --build "$build" -j "$(nproc)" --target btvm bench > /dev/null ||
	{ echo "run.sh: build failed" >&2; exit 1; }
btvm=$build/btvm
dir=$build/bench
mapfile -t workloads < "$dir/workloads.txt"
[ -z "$only" ] || IFS=, read -r -a workloads <<< "$only"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# run_one MODE WORKLOAD: sets $elapsed and $sum, or returns 1.
run_one() {
	local mode=$1 w=$2 t0 t1 status port gdb_pid
	local cmd=("$btvm" run --kernel "$dir/$w.elf" --serial stdio --display none -m 64)
	if [ "$mode" = gdb ]; then
		port=$(free_port)
		cmd+=(--gdb "tcp::$port")
	fi
	/usr/bin/time -o "$tmp/time" -f "%e %U %S" "${cmd[@]}" < /dev/null > "$tmp/out" 2> "$tmp/err" &
	local pid=$!
	if [ "$mode" = gdb ]; then
		gdb -batch -nx -ex "target remote :$port" -ex continue > "$tmp/gdb" 2>&1 &
		gdb_pid=$!
	fi
	wait "$pid"
	status=$?
	if [ "$mode" = gdb ]; then
		wait "$gdb_pid"
		grep -q "exited with code 041" "$tmp/gdb" ||
			{ echo "--- $w: gdb did not see the exit:" >&2; cat "$tmp/gdb" >&2; return 1; }
	fi
	[ "$status" = 33 ] || { echo "--- $w under $mode: status $status" >&2; cat "$tmp/err" >&2; return 1; }
	sum=$(tr -d '\r' < "$tmp/out" | grep -aoE "checksum 0x[0-9a-f]{8}" | tail -n 1)
	[ -n "$sum" ] || { echo "--- $w under $mode: no result line" >&2; return 1; }
	read -r wall user sys < <(tail -n 1 "$tmp/time")
	cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
}

# better A B: whether A is a smaller number than B (or B is unset).
better() {
	[ -z "$2" ] || awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'
}

fmt='%-10s %9s %9s %9s %9s %9s\n'
echo "btvm with gdb attached (no breakpoints): best of $runs run(s), seconds"
echo
printf "$fmt" workload cpu "cpu+gdb" ratio wall "wall+gdb"
failed=0
ratios=()
for w in "${workloads[@]}"; do
	declare -A bcpu=() bwall=()
	want=
	for mode in plain gdb; do
		bcpu[$mode]= bwall[$mode]=
		for ((i = 0; i < runs; i++)); do
			if ! run_one "$mode" "$w"; then
				failed=1
				bcpu[$mode]=FAILED bwall[$mode]=FAILED
				break
			fi
			[ -z "$want" ] && want=$sum
			[ "$sum" = "$want" ] || { echo "--- $w: checksum $sum, want $want" >&2; failed=1; }
			better "$cpu" "${bcpu[$mode]}" && bcpu[$mode]=$cpu
			better "$wall" "${bwall[$mode]}" && bwall[$mode]=$wall
		done
	done
	r=-
	if [ "${bcpu[plain]}" != FAILED ] && [ "${bcpu[gdb]}" != FAILED ]; then
		r=$(awk -v a="${bcpu[gdb]}" -v b="${bcpu[plain]}" 'BEGIN { printf "%.3f", a / b }')
		ratios+=("$r")
	fi
	printf "$fmt" "$w" "${bcpu[plain]}" "${bcpu[gdb]}" "$r" "${bwall[plain]}" "${bwall[gdb]}"
	unset bcpu bwall
done
geo=$(printf '%s\n' "${ratios[@]}" | awk '{ s += log($1); n++ } END { if (n) printf "%.3f", exp(s / n); else print "-" }')
printf "$fmt" geomean "" "" "$geo" "" ""
exit $failed
