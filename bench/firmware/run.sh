#!/usr/bin/env bash
# Firmware to boot loader: the wall time from start to the end of a run
# that boots tests/firmware/mbr.asm's boot sector through SeaBIOS (its
# POST, the VGA BIOS, the disk's boot sector, which checks INT 13h, E820,
# INT 10h and the BIOS ticks and exits through isa-debug-exit), under
# btvm (--firmware bios) and under QEMU TCG with the same SeaBIOS and the
# same image, alternated, RUNS times each; prints each run and the
# medians, and btvm's over QEMU's. Not a test: nothing is checked against
# a threshold.
# Usage: bench/firmware/run.sh [--runs N] [--no-qemu]
set -eu
cd "$(dirname "$0")/../.."
runs=7
qemu=qemu-system-i386
while [ $# -gt 0 ]; do
	case $1 in
	--runs) runs=$2; shift 2 ;;
	--no-qemu) qemu=; shift ;;
	*) echo "usage: $0 [--runs N] [--no-qemu]" >&2; exit 2 ;;
	esac
done
[ -x build/btvm ] || { cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null && cmake --build build -j"$(nproc)" >/dev/null; }
cmake --build build --target firmware_mbr_bin >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp build/tests/firmware/mbr.bin "$work/disk.img"
truncate -s 1M "$work/disk.img"

# One timed boot; prints the seconds, fails unless the guest passed.
boot() {
	local start end status
	start=$(date +%s.%N)
	if [ "$1" = btvm ]; then
		build/btvm run --firmware bios --disk "$work/disk.img" --net none --display none \
			-m 64 --no-reboot --serial none </dev/null >/dev/null 2>&1 && status=0 || status=$?
	else
		"$qemu" -accel tcg -m 64 -bios /usr/share/seabios/bios-256k.bin \
			-drive file="$work/disk.img",format=raw,if=virtio -net none -display none \
			-serial none -device isa-debug-exit,iobase=0xf4,iosize=4 -no-reboot \
			</dev/null >/dev/null 2>&1 && status=0 || status=$?
	fi
	end=$(date +%s.%N)
	[ "$status" = 33 ] || { echo "bench/firmware: $1 exited with $status, want 33" >&2; exit 1; }
	awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f\n", b - a }'
}

median() { sort -n | awk '{a[NR]=$1} END {printf "%.3f", (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

: >"$work/btvm.txt"
: >"$work/qemu.txt"
for i in $(seq "$runs"); do
	b=$(boot btvm)
	echo "$b" >>"$work/btvm.txt"
	line="run $i: btvm $(printf '%.3f' "$b") s"
	if [ -n "$qemu" ]; then
		q=$(boot qemu)
		echo "$q" >>"$work/qemu.txt"
		line="$line, QEMU TCG $(printf '%.3f' "$q") s"
	fi
	echo "$line"
done
bm=$(median <"$work/btvm.txt")
echo "firmware to boot loader, median of $runs: btvm $bm s"
if [ -n "$qemu" ]; then
	qm=$(median <"$work/qemu.txt")
	echo "firmware to boot loader, median of $runs: QEMU TCG $qm s; btvm/QEMU $(awk -v a="$bm" -v b="$qm" 'BEGIN { printf "%.2f", a / b }')"
fi
