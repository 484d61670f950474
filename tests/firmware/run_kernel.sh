#!/usr/bin/env bash
# --firmware bios --kernel: Debian's kernel and the test initramfs
# (scripts/fetch-guest.sh) booted by the firmware through the kernel's
# real-mode setup code, to the shell (kernel_linux.expect).
# Usage: run_kernel.sh BTVM CONSOLE_EXPECT [BTVM OPTIONS...]
set -u
btvm=$1
expect_bin=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
fail() { echo "run_kernel: FAIL: $*"; exit 1; }
mapfile -t guest < <(bash "$here/../../scripts/fetch-guest.sh" --print) || fail "no Linux guest"
"$expect_bin" -t 180 "$here/kernel_linux.expect" "$btvm" run --firmware bios \
	--kernel "${guest[0]}" --initrd "${guest[1]}" \
	--append "console=ttyS0 panic=-1 btvm-fw-kernel-marker $(sed "/^#/d" "$here/../system/linux/quick_boot.args")" \
	--net none --display none -m 256 "$@" || fail "the firmware did not boot Linux to its shell"
echo "run_kernel: SeaBIOS, linuxboot_dma.bin, Linux's real-mode setup, the shell"
