#!/usr/bin/env bash
# The Debian 12 system of scripts/make-debian-image.sh booted from its
# virtio disk with Debian's 686-pae kernel and its initramfs (the image
# carries both kernels; --pae gives the 686-pae pair extracted beside it),
# as `btvm run --kernel K --initrd I --disk D --append "root=/dev/vda ..."`
# boots it on a copy of the image, with --clone-check (code shared between
# processes translated anew at each linear address, a copy that differs
# ends the run) in an 8 MiB cache of eight units, so that copies often end
# at a unit's end (where the fresh translation once went past the unit:
# tcache_place_like; some 900 units made room, 2.3 million blocks were
# translated again; in 4 MiB the boot took twice as long): systemd reaches multi-user, root is logged in on ttyS0;
# uname -r says -686-pae, /proc/cpuinfo has pae and nx, the kernel says
# "NX (Execute Disable) protection: active", udev loaded virtio_blk and the
# root is ext4 from /dev/vda mounted read-write with the modules of this
# kernel; a file is written and synced, and poweroff (systemd's, clean)
# ends btvm with status 0. Then e2fsck -fn finds the image clean and
# debugfs reads the file from it. (run_debian.sh boots the 686 kernel's
# system a second time to read back what the first wrote; one boot here
# keeps the suite's time.)
#
# Usage: run_debian_pae.sh BTVM CONSOLE_EXPECT [--log DIR]
# Exit status: 0 passed, 1 failed, 77 the image could not be built for
# want of the network (nothing cached).
set -euo pipefail
# shellcheck source=tests/system/lib.sh
. "$(dirname "$0")/lib.sh"
btvm=$1 expect_bin=$2
test_begin run_debian_pae "${@:3}"

debian_image --pae --copy "$work/debian.img"
kernel=$(sed -n 2p <<<"$paths")
initrd=$(sed -n 3p <<<"$paths")
[ -s "$kernel" ] && [ -s "$initrd" ] || fail "no 686-pae kernel and initramfs at '$kernel' and '$initrd'"

boot() { # boot NAME [BTVM OPTION]...: one boot driven by $work/NAME.expect
	local start=$SECONDS
	"$expect_bin" -t 300 -l "$work/$1.log" "$work/$1.expect" "$btvm" run --display none \
		-m 512 --no-reboot --net none --kernel "$kernel" --initrd "$initrd" \
		--disk "$disk" --append "root=/dev/vda console=ttyS0 $(quick_boot_args)" "${@:2}" >/dev/null 2>&1 ||
		fail "boot '$1' failed (console log: $1.log): $(tail -c 600 "$work/$1.log" | tr -d '\r')"
	echo "run_debian_pae: boot '$1' passed in $((SECONDS - start)) s"
}

common_head="$debian_login"'
send echo KERNEL=$(uname -r | sed "s/^[0-9.]*-[0-9]*-//")-$((4*4))
expect KERNEL=686-pae-16
expect root@debian-btvm:~#'

# The flags: grep -w in the first CPU's line; dmesg's line as the kernel
# prints it when EFER.NXE took; the root's source, type and first option;
# the modules udev and the initramfs loaded, from this kernel's tree.
cat >"$work/first.expect" <<'EOF'
send echo FLAGS=$(grep -m1 '^flags' /proc/cpuinfo | grep -ow -e pae -e nx | sort | paste -sd,)-$((5*5))
expect FLAGS=nx,pae-25
expect root@debian-btvm:~#
send echo NX=$(dmesg | grep -c 'NX (Execute Disable) protection: active')-$((6*6))
expect NX=1-36
expect root@debian-btvm:~#
send echo ROOT=$(findmnt -n -o SOURCE,FSTYPE / | tr -s ' ' ,)-$(findmnt -n -o OPTIONS / | cut -d, -f1)-$((7*7))
expect ROOT=/dev/vda,ext4-rw-49
expect root@debian-btvm:~#
send echo MODS=$(lsmod | grep -c -e '^virtio_blk ' -e '^ext4 ' -e '^virtio_pci ')-$(ls -d /lib/modules/$(uname -r)/kernel >/dev/null && echo tree)-UDEV=$(systemctl is-active systemd-udevd)-$((8*8))
expect MODS=3-tree-UDEV=active-64
expect root@debian-btvm:~#
send echo written-under-686-pae >/root/persist-pae.txt && sync && echo SAVED-$((2*4))
expect SAVED-8
expect root@debian-btvm:~#
send poweroff
expect_exit 0
EOF
printf '%s\n' "$common_head" | cat - "$work/first.expect" >"$work/first.expect.new"
mv "$work/first.expect.new" "$work/first.expect"
boot first --clone-check --tcache 8 --tcache-policy units:8

e2fsck -fn "$disk" >"$work/e2fsck.log" 2>&1 || fail "e2fsck -fn: $(tail -3 "$work/e2fsck.log")"
written=$(debugfs -R "cat /root/persist-pae.txt" "$disk" 2>/dev/null)
[ "$written" = written-under-686-pae ] || fail "the file the guest wrote reads '$written' from the image"
echo "run_debian_pae: PASS (Debian's 686-pae kernel: systemd to multi-user from the virtio disk, pae and nx, NX active, the file on the disk, e2fsck clean)"
