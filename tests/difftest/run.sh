#!/usr/bin/env bash
# Runs the differential test by hand: random instruction sequences on the
# host CPU and in the difftest guest kernel under btvm (or QEMU), compared,
# with mismatches shrunk to their smallest sequence and reported.
#
#   run.sh --btvm PATH [--seed N] [--count N] [--qemu [PATH]] [--vs-qemu]
#          [--build DIR] [-- more difftest options, e.g. --isa sse2,x87
#          --jobs 4 --fpu-ptr --code16]
#
# --qemu runs the guest under qemu-system-i386 instead of btvm, to check the
# harness itself. --vs-qemu keeps btvm but takes the guest runner under
# qemu-system-i386 as the reference instead of the host CPU (qemu_ref.sh):
# the two VMs on the same sequences, on a host that runs no i386 code. QEMU's x87, MMX and SSE are not bit-exact with a real CPU
# (reciprocal estimates, x87 special operands, MMX exponent bits, missing
# SSE alignment and segment-type checks), so under QEMU only the integer
# instructions are generated unless an --isa option follows "--".
# The tools come from the CMake build that holds btvm (or --build DIR);
# build it first: cmake -S . -B build && cmake --build build
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
btvm='' seed=1 count=20000 qemu='' use_qemu=0 vs_qemu=0 build=''
extra=()
while [ $# -gt 0 ]; do
	case $1 in
	--btvm) btvm=$2; shift 2 ;;
	--seed) seed=$2; shift 2 ;;
	--count) count=$2; shift 2 ;;
	--build) build=$2; shift 2 ;;
	--qemu)
		use_qemu=1
		if [ $# -gt 1 ] && [ "${2#-}" = "$2" ]; then qemu=$2; shift; fi
		shift ;;
	--vs-qemu) vs_qemu=1; shift ;;
	--) shift; extra=("$@"); break ;;
	-h|--help) sed -n '2,20p' "$0"; exit 0 ;;
	*) echo "run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
done

if [ -z "$build" ]; then
	if [ -n "$btvm" ]; then
		build=$(cd "$(dirname "$btvm")" && pwd)
	else
		build=$(cd "$here/../.." && pwd)/build
	fi
fi
tools=$build/tests/difftest
for f in difftest dt-native dt-guest.elf; do
	if [ ! -e "$tools/$f" ]; then
		echo "run.sh: $tools/$f is missing: build first (cmake --build $build)" >&2
		exit 2
	fi
done

vm=()
if [ "$use_qemu" = 1 ]; then
	qemu=${qemu:-$(command -v qemu-system-i386 || true)}
	if [ -z "$qemu" ]; then
		echo "run.sh: qemu-system-i386 not found" >&2
		exit 2
	fi
	vm=(--qemu "$qemu")
	has_isa=0
	for a in "${extra[@]+"${extra[@]}"}"; do
		case $a in --isa|--isa=*) has_isa=1 ;; esac
	done
	if [ "$has_isa" = 0 ]; then
		vm+=(--isa=-x87,-mmx,-fxsr,-sse,-sse2,-sse3,-ssse3,-sse41,-sse42,-aes,-pclmul,-sha,-gfni,-movdiri,-cldemote,-clwb)
	fi
else
	if [ -z "$btvm" ]; then
		echo "run.sh: --btvm PATH is required (or --qemu)" >&2
		exit 2
	fi
	vm=(--btvm "$btvm")
fi

native=$tools/dt-native
if [ "$vs_qemu" = 1 ]; then
	native=$here/qemu_ref.sh
	export DT_GUEST_ELF=$tools/dt-guest.elf
fi
exec "$tools/difftest" run --seed "$seed" --count "$count" --native "$native" \
	--guest-elf "$tools/dt-guest.elf" "${vm[@]}" "${extra[@]+"${extra[@]}"}"
