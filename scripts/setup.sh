#!/usr/bin/env bash
# Installs the Debian 12 packages btvm builds and tests with, then
# configures and builds btvm into build/ (and, with --asan, the sanitizer
# builds scripts/test.sh runs: build-asan/, build-fuzz/ and build-tsan/).
# Safe to run again: apt-get skips what is there, cmake rebuilds what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(build-essential cmake pkg-config nasm gcc-multilib
	libzydis-dev libzycore-dev libcapstone-dev libelf-dev libsdl2-dev
	cpio # scripts/fetch-guest.sh builds the Linux guest's initramfs
	console-data zlib1g-dev # the VGA's default font (default8x16.psf.gz) and its generator
	libslirp-dev # --net user: libslirp's user-mode network
	libjansson-dev socat # the monitor's JSON protocol; a client for it in tests
	gdb # the gdb stub's tests (tests/system/run_gdb.py) drive Debian's gdb
	python3-matplotlib python3-jsonschema chromium # scripts/btvm-plot; tests/system/run_stats.py checks its report
	libzstd-dev # snapshots: guest RAM compressed with zstd; --tcache-log
	zstd # tests/tools/test_tclog_mrc.py reads the log with zstd -dc
	libsodium-dev # live migration: the stream sealed with XChaCha20-Poly1305
	libext2fs-dev e2fsprogs fdisk # --disk: the kernel from an ext4 image; tests build images (mke2fs, sfdisk)
	xorriso # tests/system/run_ide.py: the ISO 9660 images for --cdrom
	libpng-dev libx11-dev xvfb xauth xdotool netpbm # screenshots; the window's test (tests/system/run_window.sh)
	tesseract-ocr openbox x11-utils # run_window_scale.sh: OCR of the scaled window, a window manager for full screen, xwininfo and xprop
	python3 procps openssh-client # the end-to-end tests' HTTP/UDP peers, pgrep, ssh into the guest
	iproute2 util-linux # run_net_dns.sh: a network namespace's loopback (ip), unshare and mount
	stress-ng # tests/soak_load.sh: the CPU hog the suite is soaked beside
	qemu-system-x86 # the cross-checks: test guests and the Linux guest under QEMU TCG (guest_*_qemu, linux_boot_qemu)
	qemu-system-gui # bench/pointer: QEMU's SDL window beside btvm's
	seabios # --firmware bios: the PC's firmware (bios-256k.bin) and the std VGA's BIOS (vgabios-stdvga.bin)
	grub-rescue-pc # tests/firmware: GRUB 2's rescue floppy and CD images booted through SeaBIOS
	grub-pc-bin # make-debian-image.sh --bios: GRUB 2's i386-pc images and modules, grub-mkimage (grub-common)
	memtest86+ # tests/firmware/run_memtest.sh: its ISO booted from the DVD-ROM drive
	qemu-system-data # --firmware bios --kernel: QEMU's option ROM linuxboot_dma.bin
	diod # --share: the 9P2000.L server btvm spawns per shared folder
	ipxe # tests/firmware: iPXE's ipxe.lkrn and ipxe.iso booted through SeaBIOS
	debian-installer-12-netboot-i386 grub-common mtools # tests/firmware/run_installer.sh, bench/install.sh: scripts/make-installer-iso.sh's installer CD (grub-mkrescue, with xorriso)
	clang libclang-rt-14-dev llvm # libFuzzer (tests/fuzz), llvm-symbolizer
	ccache) # the four builds' objects, kept across checkouts (below)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	sudo=()
	[ "$(id -u)" = 0 ] || sudo=(sudo)
	echo "setup: installing ${missing[*]}"
	# update may fail on one briefly out-of-sync mirror index while the
	# packages are reachable; the install below is the real test.
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q || true
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# i386 programs on the host (debootstrap's chroot, tests' i386 helpers):
# QEMU's user-mode emulator through binfmt_misc where the host runs none.
bash scripts/host-i386.sh --setup

# Compiled objects are kept in the user's cache (ccache: keyed by the
# preprocessed source, the compiler and its flags), so that a fresh
# checkout, as CI's, compiles only what changed since one was last built.
# Paths are taken relative to the checkout and the working directory is
# left out of the key, so a checkout elsewhere hits too (its objects'
# debug information then names the directory they were first built in).
# The four builds of a fresh clone on two cores: 219 s without it, 237 s
# with an empty cache, 71 s with a warm one.
export CCACHE_DIR=${XDG_CACHE_HOME:-${HOME:-$(cd ~ && pwd)}/.cache}/btvm/ccache CCACHE_BASEDIR=$PWD CCACHE_NOHASHDIR=1
export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-2G}
launcher=-DCMAKE_C_COMPILER_LAUNCHER=ccache
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo "$launcher" >/dev/null
cmake --build build -j"$jobs"
if [ "${1:-}" = --asan ]; then
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DBTVM_SANITIZE=ON "$launcher" >/dev/null
	cmake --build build-asan -j"$jobs"
	# libFuzzer harnesses (clang): only the fuzz targets are built there.
	cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DBTVM_FUZZ=ON "$launcher" >/dev/null
	cmake --build build-fuzz -j"$jobs" --target fuzz_bzimage fuzz_multiboot fuzz_devices fuzz_translator \
		fuzz_virtio fuzz_storage
	# ThreadSanitizer: only what the tests labelled tsan run (tsan_tests,
	# tests/CMakeLists.txt), not the whole tree.
	cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBTVM_TSAN=ON "$launcher" >/dev/null
	cmake --build build-tsan -j"$jobs" --target tsan_tests
fi
