#!/usr/bin/env bash
# The network benchmark (issue 14): TCP through user-mode networking
# (libslirp on both sides: btvm's --net user, QEMU's -netdev user with a
# virtio-net-pci card), under btvm and under qemu-system-i386's TCG side
# by side, in one run, with the host's own loopback as the ceiling. The
# guest is Debian's i386 kernel with the busybox test initramfs
# (scripts/fetch-guest.sh) plus a second archive holding
# build/bench/net/netbench and a /init that runs the guest's side of the
# tests and powers off; the host runs the other side with the same
# program. Each boot, in order:
#
#  1. guest -> host throughput: the guest sends MIB MiB to a sink on the
#     host's loopback (10.0.2.2); the host's sink times first byte to EOF;
#  2. host -> guest throughput: the host sends MIB MiB through a hostfwd
#     (tcp:127.0.0.1:PORT-:8000) to a sink in the guest; the host times
#     connect to the guest's byte count;
#  3. round trips host -> guest: COUNT messages of SIZE bytes, one at a
#     time, through a second hostfwd (:8001) to an echo server in the
#     guest; the host times each (the median counts);
#  4. round trips guest -> host: the guest pings an echo server on the
#     host's loopback; the host's echo server times its first message in
#     to its last out, over COUNT - 1 (the guest's own median beside it).
#
#	bench/net/run.sh [--runs N] [--mib N] [--count N] [--size N] [--no-qemu]
#	                 [--build DIR] [--no-build] [--timeout SEC]
#
# --runs boots per VMM (default 3, btvm and QEMU alternating; the best
# figure of each test counts); --mib the bytes each way (default 64);
# --count and --size the round trips (default 2000 of 64 bytes).
# Figures, not thresholds. Console logs, btvm's --stats and the host's
# result lines of the last run stay in BUILD/bench/net/logs/.
# Exit status: 0 when every run finished, 1 when any failed (the reasons
# follow the table), 2 on bad usage.
set -u -o pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/../lib.sh"
repo=$(cd "$here/../.." && pwd)
build=$repo/build
runs=3
mib=64
count=2000
size=64
use_qemu=1
do_build=1
limit=300
mem=256

usage() {
	echo "usage: bench/net/run.sh [--runs N] [--mib N] [--count N] [--size N] [--no-qemu]" >&2
	echo "                        [--build DIR] [--no-build] [--timeout SEC]" >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case $1 in
	--runs) [ $# -ge 2 ] || usage; runs=$2; shift 2 ;;
	--mib) [ $# -ge 2 ] || usage; mib=$2; shift 2 ;;
	--count) [ $# -ge 2 ] || usage; count=$2; shift 2 ;;
	--size) [ $# -ge 2 ] || usage; size=$2; shift 2 ;;
	--no-qemu) use_qemu=0; shift ;;
	--build) [ $# -ge 2 ] || usage; build=$2; shift 2 ;;
	--no-build) do_build=0; shift ;;
	--timeout) [ $# -ge 2 ] || usage; limit=$2; shift 2 ;;
	-h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//; s/^\t//'; exit 0 ;;
	*) echo "run.sh: unknown argument '$1'" >&2; usage ;;
	esac
done
for n in "$runs" "$mib" "$count" "$size" "$limit"; do
	[[ $n =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: '$n' is not a positive number" >&2; exit 2; }
done
[ "$count" -ge 2 ] || { echo "run.sh: --count is at least 2" >&2; exit 2; }
[ "$size" -le 65536 ] || { echo "run.sh: --size is at most 65536" >&2; exit 2; }
build=$(realpath -m "$build")

if [ "$do_build" = 1 ]; then
	if [ ! -f "$build/CMakeCache.txt" ]; then
		cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null ||
			{ echo "run.sh: cmake configure failed" >&2; exit 1; }
	fi
	cmake --build "$build" -j "$(nproc)" --target btvm netbench >/dev/null ||
		{ echo "run.sh: build failed (run: cmake --build $build --target btvm netbench)" >&2; exit 1; }
fi
btvm=$build/btvm
netbench=$build/bench/net/netbench
for f in "$btvm" "$netbench"; do
	[ -x "$f" ] || { echo "run.sh: $f not found (build first, or drop --no-build)" >&2; exit 1; }
done
command -v cpio >/dev/null || { echo "run.sh: cpio is needed to build the guest's initramfs" >&2; exit 1; }

qemu=
if [ "$use_qemu" = 1 ]; then
	qemu=$(command -v qemu-system-i386 || true)
	[ -n "$qemu" ] || echo "run.sh: qemu-system-i386 not installed: skipping QEMU"
else
	echo "run.sh: --no-qemu: skipping QEMU"
fi
kinds=(btvm)
[ -n "$qemu" ] && kinds+=(qemu)

paths=$(bash "$repo/scripts/fetch-guest.sh" --print) ||
	{ echo "run.sh: scripts/fetch-guest.sh failed: no guest kernel and initramfs" >&2; exit 1; }
{ read -r kernel; read -r base_initrd; } <<< "$paths"

mkdir -p "$build/bench/net"
logs=$build/bench/net/logs
rm -rf "$logs"
mkdir -p "$logs"
tmp=$(mktemp -d "$build/bench/net/run.XXXXXX")
: > "$tmp/failures"

# Background processes of the run going on (the VMM, the host's servers),
# ended by the traps.
bg_pids=()
cleanup() {
	local p
	for p in "${bg_pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${bg_pids[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'echo "run.sh: interrupted" >&2; exit 130' INT
trap 'exit 143' TERM HUP

# The benchmark initramfs: the test one, then a second archive with
# /bin/netbench and a /init that replaces the test one (the kernel unpacks
# concatenated archives in order; later files win). Its parameters come on
# the kernel command line: netbench=SINKPORT,ECHOPORT,MIB,COUNT,SIZE.
mkdir -p "$tmp/root/bin"
cp "$netbench" "$tmp/root/bin/netbench"
cat > "$tmp/root/init" <<'EOF'
#!/bin/busybox sh
# /init of bench/net/run.sh's initramfs: the test /init's set-up and
# network card, the guest's side of the four tests, then power off.
/bin/busybox mkdir -p /proc /sys /dev /tmp
/bin/busybox --install -s
export PATH=/sbin:/usr/sbin:/bin:/usr/bin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev || mdev -s
[ -t 1 ] || exec </dev/console >/dev/console 2>&1
for m in /lib/modules/*.ko; do
	[ -e "$m" ] && insmod "$m" 2>/dev/null
done
args=$(sed -n 's/.*netbench=\([0-9,]*\).*/\1/p' /proc/cmdline)
IFS=, read -r sink echo mib count size <<ARGS
$args
ARGS
ip link set lo up
ip link set eth0 up
udhcpc -i eth0 -n -q -s /bin/true >/dev/null 2>&1
ip addr add 10.0.2.15/24 dev eth0
ip route add default via 10.0.2.2
echo NETBENCH-READY
netbench send 10.0.2.2:$sink $mib && echo "NETBENCH-STEP g2h"
netbench sink 0.0.0.0:8000 && echo "NETBENCH-STEP h2g"
netbench echo 0.0.0.0:8001 $count $size && echo "NETBENCH-STEP rt-h2g"
netbench ping 10.0.2.2:$echo $count $size && echo "NETBENCH-STEP rt-g2h"
echo NETBENCH-DONE
poweroff -f
EOF
chmod 755 "$tmp/root/init" "$tmp/root/bin/netbench"
initrd=$tmp/initramfs.cpio.gz
cp "$base_initrd" "$initrd"
(cd "$tmp/root" && find . -mindepth 1 | sort | cpio -o -H newc -R 0:0 --quiet) | gzip -n >> "$initrd" ||
	{ echo "run.sh: cannot build the benchmark initramfs" >&2; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_for FILE TEXT PID: until FILE has a line containing TEXT; false when
# PID ends first or the run's time is up.
wait_for() {
	local deadline=$((SECONDS + limit))
	while ! grep -aq -- "$2" "$1" 2>/dev/null; do
		kill -0 "$3" 2>/dev/null || { grep -aq -- "$2" "$1" 2>/dev/null; return; }
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 0.05
	done
}

# field FILE WORD N: the Nth field (WORD the first) of the first line
# holding WORD as a field (a guest's line may have console noise in front).
field() {
	awk -v w="$2" -v n="$3" '{ sub(/\r$/, ""); for (j = 1; j <= NF; j++) if ($j == w) { print $(j + n - 1); exit } }' "$1" 2>/dev/null
}

declare -A val          # val[KIND,TEST] the best figure; KIND host, btvm, qemu
declare -A all          # all[KIND,TEST] every run's figure
# record KIND TEST VALUE better: keeps the best (higher for "hi", lower for "lo").
record() {
	local k=$1 t=$2 v=$3 better=$4
	[[ $v =~ ^[0-9.]+$ ]] || { val[$k,$t]=FAILED; all[$k,$t]+="${all[$k,$t]:+, }FAILED"; return 1; }
	all[$k,$t]+="${all[$k,$t]:+, }$v"
	[ "${val[$k,$t]-}" = FAILED ] && return 0
	if [ -z "${val[$k,$t]-}" ] || awk -v a="$v" -v b="${val[$k,$t]}" -v hi="$better" \
		'BEGIN { exit !(hi == "hi" ? a > b : a < b) }'; then
		val[$k,$t]=$v
	fi
}

# start_server NAME ARGS...: the host's netbench server in the background;
# sets port (the one it listens on) and server (its pid).
start_server() {
	local name=$1
	shift
	port=
	"$netbench" --timeout "$limit" "$@" > "$tmp/$name.out" 2>&1 &
	server=$!
	bg_pids+=("$server")
	wait_for "$tmp/$name.out" NETBENCH-LISTEN "$server" || return 1
	port=$(field "$tmp/$name.out" NETBENCH-LISTEN 2)
}

# The host's own loopback, the same program both ends: the ceiling.
host_once() {
	local p
	start_server host-sink sink 127.0.0.1:0 || return 1
	"$netbench" --timeout "$limit" send "127.0.0.1:$port" "$mib" > "$tmp/host-send.out" 2>&1
	wait "$server"
	record host g2h "$(field "$tmp/host-sink.out" SINK 6)" hi
	record host h2g "$(field "$tmp/host-send.out" SEND 6)" hi
	start_server host-echo echo 127.0.0.1:0 "$count" "$size" || return 1
	"$netbench" --timeout "$limit" ping "127.0.0.1:$port" "$count" "$size" > "$tmp/host-ping.out" 2>&1
	wait "$server"
	record host rt_h2g "$(field "$tmp/host-ping.out" PING 4)" lo
	record host rt_g2h "$(field "$tmp/host-echo.out" ECHO 6)" lo
	record host rt_g2h_guest "$(field "$tmp/host-ping.out" PING 4)" lo
	cat "$tmp"/host-*.out >> "$logs/host.log"
}

# guest_once KIND RUN: one boot; the host's side of each test as the
# guest's console says it is ready for it.
guest_once() {
	local k=$1 i=$2 name=$1-$2 log=$logs/$1-$2.log err=$logs/$1-$2.err sink_port echo_port fwd1 fwd2 vmm why=
	start_server "$name-sink" sink 127.0.0.1:0 || { why="the host's sink did not start"; }
	local sink_srv=$server
	sink_port=${port-}
	start_server "$name-echo" echo 127.0.0.1:0 "$count" "$size" || { why="the host's echo server did not start"; }
	local echo_srv=$server
	echo_port=${port-}
	fwd1=$(free_port) fwd2=$(free_port)
	local append="console=ttyS0 netbench=$sink_port,$echo_port,$mib,$count,$size"
	local fwd="hostfwd=tcp:127.0.0.1:$fwd1-:8000,hostfwd=tcp:127.0.0.1:$fwd2-:8001"
	# shellcheck disable=SC2054 # the commas belong to -device
	case $k in
	btvm) cmd=("$btvm" run --display none --kernel "$kernel" --initrd "$initrd" --append "$append"
		   -m "$mem" --no-reboot --serial stdio --stats --net "user,$fwd") ;;
	qemu) cmd=("$qemu" -accel tcg -m "$mem" -kernel "$kernel" -initrd "$initrd" -append "$append"
		   -nographic -no-reboot -netdev "user,id=n0,$fwd" -device virtio-net-pci,netdev=n0) ;;
	esac
	if [ -z "$why" ]; then
		timeout --kill-after=5 "$limit" "${cmd[@]}" < /dev/null > "$log" 2> "$err" &
		vmm=$!
		bg_pids+=("$vmm")
		if ! wait_for "$log" "NETBENCH-LISTEN 8000" "$vmm"; then
			why="the guest's sink never listened"
		else
			"$netbench" --timeout "$limit" send "127.0.0.1:$fwd1" "$mib" > "$tmp/$name-send.out" 2>&1 ||
				why="host -> guest send failed: $(tail -1 "$tmp/$name-send.out")"
			if ! wait_for "$log" "NETBENCH-LISTEN 8001" "$vmm"; then
				why="${why:-no echo server listened in the guest}"
			else
				"$netbench" --timeout "$limit" ping "127.0.0.1:$fwd2" "$count" "$size" > "$tmp/$name-ping.out" 2>&1 ||
					why="${why:-host -> guest ping failed: $(tail -1 "$tmp/$name-ping.out")}"
			fi
		fi
		wait "$vmm"
		local status=$?
		[ "$status" = 0 ] || why="${why:-exit status $status}"
		grep -aq NETBENCH-DONE "$log" || why="${why:-the guest did not finish its side}"
	fi
	wait "$sink_srv" 2>/dev/null
	wait "$echo_srv" 2>/dev/null
	record "$k" g2h "$(field "$tmp/$name-sink.out" SINK 6)" hi
	record "$k" h2g "$(field "$tmp/$name-send.out" SEND 6)" hi
	record "$k" rt_h2g "$(field "$tmp/$name-ping.out" PING 4)" lo
	record "$k" rt_g2h "$(field "$tmp/$name-echo.out" ECHO 6)" lo
	record "$k" rt_g2h_guest "$(field "$log" PING 4)" lo
	cat "$tmp/$name"-*.out > "$logs/$name.host" 2>/dev/null
	if [ "$k" = btvm ]; then
		sed -n '/^btvm stats:/,$p' "$err" > "$logs/$name.stats"
	fi
	if [ -n "$why" ]; then
		{
			echo "--- $name: $why"
			echo "    command:$(printf ' %q' "${cmd[@]}")"
			tr -d '\r' < "$log" | grep -av '^\s*$' | tail -n 6 | sed 's/^/    out: /'
			[ -s "$err" ] && grep -v '^ ' "$err" | tail -n 3 | sed 's/^/    err: /'
		} >> "$tmp/failures"
		return 1
	fi
	echo "  $name: g2h ${val[$k,g2h]-} Mbit/s best so far; this run: $(field "$tmp/$name-sink.out" SINK 6) / $(field "$tmp/$name-send.out" SEND 6) Mbit/s, rt $(field "$tmp/$name-ping.out" PING 4) / $(field "$tmp/$name-echo.out" ECHO 6) us" >&2
}

echo "btvm network benchmark: Debian's i386 kernel ($(basename "$kernel")) with the busybox initramfs, -m $mem"
echo "host: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) at start (other work running adds noise)"
echo "btvm: --net user,hostfwd=tcp:127.0.0.1:P1-:8000,hostfwd=tcp:127.0.0.1:P2-:8001 (virtio-net on libslirp $(dpkg-query -W -f='${Version}' libslirp0 2>/dev/null))"
[ -n "$qemu" ] && echo "qemu: $($qemu --version | head -n 1), TCG, -netdev user (the same hostfwd) -device virtio-net-pci"
echo "each way $mib MiB; round trips: $count messages of $size bytes, one at a time, TCP_NODELAY"
started=$SECONDS

: > "$logs/host.log"
for ((i = 1; i <= runs; i++)); do
	host_once || echo "--- host loopback run $i failed" >> "$tmp/failures"
	for k in "${kinds[@]}"; do
		echo "run $i/$runs: $k ..." >&2
		guest_once "$k" "$i"
	done
done


echo
echo "TCP through user-mode networking, the best of $runs boots each (throughput: highest; round trips: lowest)"
out() { printf '%-44s %-7s %9s %9s %9s %9s\n' "$@"; }
out test unit btvm qemu btvm/qemu host-lo
out ---- ---- ---- ---- --------- -------
for t in g2h:"guest -> host throughput":Mbit/s h2g:"host -> guest throughput (hostfwd)":Mbit/s \
	 rt_h2g:"round trip host -> guest (hostfwd), median":us \
	 rt_g2h:"round trip guest -> host, mean (host clock)":us \
	 rt_g2h_guest:"round trip guest -> host, median (guest)":us; do
	IFS=: read -r key label unit <<< "$t"
	bv=${val[btvm,$key]-} qv=${val[qemu,$key]-} hv=${val[host,$key]-}
	out "$label" "$unit" "$(fmt "$bv" 1)" "$(fmt "$qv" 1)" "$(ratio "$bv" "$qv")" "$(fmt "$hv" 1)"
done
echo "every run (btvm; qemu):"
for t in g2h h2g rt_h2g rt_g2h; do
	echo "  $t: ${all[btvm,$t]-}; ${all[qemu,$t]-}"
done
echo "host-lo: the same program at both ends on the host's loopback (no VMM, no NAT): the ceiling"
echo "btvm --stats of each run: $logs/btvm-*.stats; $((SECONDS - started)) s in all," \
	"load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"

failed=0
if [ -s "$tmp/failures" ]; then
	failed=1
	echo
	echo "FAILURES:"
	cat "$tmp/failures"
fi
exit "$failed"
