#!/usr/bin/env bash
# Builds a bootable Debian 12 i386 installer CD image (El Torito, BIOS) the
# way Debian's own tools do it, around debian-installer-12-netboot-i386's
# text-frontend kernel and initrd: that package ships the netboot files
# (kernel, initrd, pxelinux) but no ISO, so grub-mkrescue (grub-common,
# with grub-pc-bin's i386-pc modules, xorriso and mtools) makes one whose
# GRUB shows a menu: its default entry boots the installer with
# console=ttyS0, so the installer talks on the serial console (the newt
# frontend on a terminal); a second entry boots it on the VGA screen.
# GRUB itself uses the BIOS console, which SeaBIOS mirrors on the serial
# port when that is a terminal (btvm's sercon), so the menu shows there too.
#
# With --preseed FILE the image is a variant for unattended installs: FILE
# is appended to the initrd as /preseed.cfg (a second gzip'd cpio member,
# which the kernel unpacks over the first), where the installer reads it
# before its first question (no /cdrom: the netboot initrd never mounts
# the disc), and the default entry adds auto=true priority=critical.
# Everything after "---" on the command line (console=ttyS0) is copied by
# the installer into the installed system's boot loader configuration.
#
# Usage: make-installer-iso.sh [--print] [--preseed FILE]
#   (no option)     build the image unless cached, then say where it is
#   --print         print just the image's path (progress goes to stderr)
#   --preseed FILE  the unattended variant (a different image)
#
# Cache: ${XDG_CACHE_HOME:-$HOME/.cache}/btvm/installer/, one image per
# key: debian-12-i386-installer-VERSION-HASH.iso where VERSION is the
# installed debian-installer-12-netboot-i386's version and HASH covers the
# grub.cfg, the preseed file and RECIPE_VERSION, so a new package or a
# changed menu makes a new image (older images of the same variant are
# removed). An image is built under a temporary name and renamed into
# place, so an interrupted build leaves none. Building takes a few seconds
# and needs no network.
#
# The same image under QEMU (the cross-check): qemu-system-i386 -accel tcg
#   -m 512 -cdrom ISO -drive file=blank.img,format=raw,if=virtio
#   -nic user,model=virtio-net-pci -display none -serial stdio
# shows GRUB's menu on the VGA screen only (QEMU's SeaBIOS has no serial
# console by default), then, after the menu's 5 s, the installer's
# "Select a language" dialog on the serial port as under btvm.
# Exit status: 0 done, 1 failed, 2 bad usage.
set -euo pipefail

# Bump when the image changes in a way grub.cfg and the preseed do not show.
RECIPE_VERSION=1
PACKAGE=debian-installer-12-netboot-i386
DI=/usr/lib/debian-installer/images/12/i386/text/debian-installer/i386

print=0
preseed=
while [ $# -gt 0 ]; do
	case $1 in
	--print) print=1 ;;
	--preseed)
		[ $# -ge 2 ] || { echo "make-installer-iso: --preseed needs a FILE" >&2; exit 2; }
		preseed=$2
		shift ;;
	*) echo "usage: make-installer-iso.sh [--print] [--preseed FILE]" >&2; exit 2 ;;
	esac
	shift
done

die() { echo "make-installer-iso: $*" >&2; exit 1; }
log() { echo "make-installer-iso: $*" >&2; }

version=$(dpkg-query -W -f='${Version}' "$PACKAGE" 2>/dev/null) ||
	die "$PACKAGE is not installed (scripts/setup.sh installs it)"
[ -r "$DI/linux" ] && [ -r "$DI/initrd.gz" ] || die "no kernel and initrd in $DI ($PACKAGE damaged?)"
for tool in grub-mkrescue xorriso mformat cpio gzip; do
	command -v "$tool" >/dev/null || die "$tool is missing (scripts/setup.sh installs grub-common, xorriso, mtools, cpio)"
done
[ -d /usr/lib/grub/i386-pc ] || die "no /usr/lib/grub/i386-pc (grub-pc-bin is missing)"
if [ -n "$preseed" ]; then
	[ -r "$preseed" ] || die "cannot read the preseed file $preseed"
fi

# The menu. The serial entry is the default; GRUB's own timeout boots it
# when nobody answers (a test may press Enter to go at once).
if [ -n "$preseed" ]; then
	variant=preseed
	auto="auto=true priority=critical "
	title="Automated install (serial console)"
else
	variant=interactive
	auto=
	title="Install (serial console)"
fi
grubcfg=$(cat <<EOF
set default=0
set timeout=5
menuentry "$title" {
	linux /install/vmlinuz ${auto}--- console=ttyS0,115200n8
	initrd /install/initrd.gz
}
menuentry "Install (VGA screen)" {
	linux /install/vmlinuz vga=normal ${auto}---
	initrd /install/initrd.gz
}
EOF
)

key=$( { echo "recipe $RECIPE_VERSION"; echo "$grubcfg"; [ -z "$preseed" ] || cat "$preseed"; } |
	sha256sum | cut -c1-12)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/btvm/installer
prefix=debian-12-i386-installer-$variant
iso=$cache/$prefix-$version-$key.iso
if [ ! -s "$iso" ]; then
	mkdir -p "$cache"
	tmp=$(mktemp -d "$cache/build.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	log "building $iso"
	mkdir -p "$tmp/tree/install" "$tmp/tree/boot/grub"
	cp "$DI/linux" "$tmp/tree/install/vmlinuz"
	cp "$DI/initrd.gz" "$tmp/tree/install/initrd.gz"
	if [ -n "$preseed" ]; then
		mkdir "$tmp/pre"
		cp "$preseed" "$tmp/pre/preseed.cfg"
		(cd "$tmp/pre" && echo preseed.cfg | cpio -o -H newc --quiet | gzip -9) \
			>>"$tmp/tree/install/initrd.gz"
	fi
	printf '%s\n' "$grubcfg" >"$tmp/tree/boot/grub/grub.cfg"
	# BIOS only: the i386-pc platform (an EFI one would need grub-efi-*-bin).
	grub-mkrescue --directory=/usr/lib/grub/i386-pc -o "$tmp/image.iso" "$tmp/tree" \
		-- -volid BTVM_DI12 >"$tmp/mkrescue.log" 2>&1 ||
		die "grub-mkrescue failed: $(tail -3 "$tmp/mkrescue.log")"
	mv "$tmp/image.iso" "$iso"
	# Older images of this variant (another package version or menu).
	for old in "$cache/$prefix"-*.iso; do
		[ "$old" = "$iso" ] || rm -f "$old"
	done
fi
if [ "$print" = 1 ]; then
	echo "$iso"
else
	echo "installer image ($variant, $PACKAGE $version): $iso"
fi
