#!/usr/bin/env bash
# Builds a Debian 12 (bookworm) i386 system disk for btvm's guests: a
# sparse raw file holding one ext4 file system over the whole disk (no
# partition table), the guest's /dev/vda. debootstrap (variant minbase, no
# recommends) installs Debian's own linux-image-686 and linux-image-686-pae
# (PAE paging with NX; each kernel with its modules and an initramfs),
# systemd, udev, initramfs-tools, openssh-server and a few small tools;
# the script then configures it by writing files into the tree (and
# running systemctl, passwd, update-initramfs and linux-update-symlinks in
# a chroot, none of which needs /proc mounted), and mke2fs -d turns the
# tree into the image (no loop device, no mount).
#
# The system: hostname debian-btvm; root (no password) logged in
# automatically on tty1 and ttyS0; DHCP on any en*/eth* interface through
# systemd-networkd and systemd-resolved; sshd for root with the key pair
# <cache>/id_ed25519 only (made here with ssh-keygen when missing; a new
# key rebuilds the image); Debian's initramfs with virtio_pci, virtio_blk,
# virtio_net and ext4. Boot it with the kernel and initramfs extracted
# next to the image and the command line "root=/dev/vda console=ttyS0"
# (add console=tty0 first for the window); the 686 kernel is the default
# (/vmlinuz, /initrd.img), the 686-pae one is beside it (/vmlinuz-pae,
# /initrd.img-pae, and its own pair in the cache: --pae).
#
# Usage: make-debian-image.sh [--bios] [--pae] [--print] [--refresh] [--size SIZE] [--copy DEST]
#   (no option)   build the image if it is missing or its recipe changed,
#                 then say where things are
#   --bios        the disk for booting through firmware (btvm run
#                 --firmware bios --disk DISK): an MBR partition table,
#                 the same file system in one partition from 1 MiB to the
#                 end (its /dev/vda1, found by UUID), and GRUB 2 from
#                 Debian's grub-pc-bin in the MBR and the gap after it,
#                 which loads /vmlinuz and /initrd.img from the partition
#                 (see "The BIOS disk" below); made from the pristine image
#                 without root, loop devices or mounts, and cached too
#   --pae         the kernel and initramfs said (and printed) are the
#                 686-pae ones (the same disk)
#   --print       print just three lines: the disk image's path (DEST with
#                 --copy), the kernel's and the initramfs's (progress, if
#                 any, goes to stderr); with --bios, the BIOS disk's path
#                 (the kernel and initramfs are the same files)
#   --refresh     download the newest packages and rebuild even when cached
#   --size SIZE   the image's size (default 2G; K, M, G, T suffixes, powers
#                 of 1024); a new size rebuilds the image
#   --copy DEST   make DEST the guest's own disk: a sparse copy of the
#                 image when DEST does not exist; an existing DEST is
#                 never touched (it holds what the guest wrote), only a
#                 line says when the image has been rebuilt since
#
# The image in the cache is the pristine build, rebuilt only when the
# recipe changes: a guest boots not it but a copy made with --copy, which
# keeps the guest's changes across boots. For a run script:
# --copy ~/.cache/btvm/debian.img (the cache's parent directory); deleting
# that file starts again from the pristine image. To grow a copy:
# truncate -s 8G DEST && e2fsck -f DEST && resize2fs DEST.
#
# Cache: ${BTVM_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/btvm/image}:
#   debian-12-i386.img      the pristine image (sparse; about 720 MB used)
#   debian-12-i386.vmlinuz  its kernel (/boot/vmlinuz-*), for btvm --kernel
#   debian-12-i386.initrd   its initramfs (/boot/initrd.img-*), --initrd
#   debian-12-i386-pae.vmlinuz, debian-12-i386-pae.initrd  the same for
#                           the 686-pae kernel (--pae)
#   debian-12-i386.stamp    the recipe id, size, key and .debs it was built from
#   debian-12-i386-bios.img    the BIOS disk (--bios; about 730 MB used)
#   debian-12-i386-bios.stamp  its recipe id, the GRUB files', the file
#                           system's UUID and the pristine image's stamp
#   build-bios.log          the last BIOS disk's log
#   debootstrap-*.tgz       the downloaded .debs (debootstrap --make-tarball,
#                           about 165 MB), keyed by the package list, and
#                           *.tgz.mirror, the archive they came from
#   id_ed25519{,.pub}       the key pair for ssh root@guest
#   build.log               the last build's log
# A warm cache returns at once and needs no network. A recipe change (the
# configuration below, the size, RECIPE_VERSION) rebuilds the image from the
# cached .debs without network; a changed package list downloads again. A
# build runs in a temporary directory in the cache and only its last step
# moves the results into place, so an interrupted build leaves the old
# image (or none), never half of one. Building needs root (debootstrap,
# chroot): run through sudo when not root. A cold build took about two
# minutes on two idle cores before the 686-pae kernel joined (its
# modules and second initramfs add to that); where the host runs i386
# programs only through qemu-user (binfmt_misc), the chroot's steps take
# tens of minutes, most of it in update-initramfs. The cache then holds
# about 950 MB.
# The archive can be changed with BTVM_DEBIAN_MIRROR (the guest's own
# sources.list always names deb.debian.org).
#
# The BIOS disk (--bios): the pristine image's file system, shrunk by
# resize2fs to leave the first MiB to the partition table and GRUB, is
# written into partition 1 (sfdisk on the file; dd); debugfs writes into it
# /boot/grub (grub.cfg and the i386-pc modules) and an /etc/fstab naming
# the root by UUID. grub-mkimage makes core.img (diskboot.img, then the
# kernel with biosdisk, part_msdos and ext2; prefix (,msdos1)/boot/grub:
# the first partition of whatever BIOS drive it was loaded from), written
# from sector 1: diskboot's block list, as grub-mkimage fills it, loads the
# rest from sector 2 on, and boot.img, whose first 440 bytes are the MBR's
# code (the disk signature and partition table stay), loads sector 1 as
# built. That is what grub-install does for such a disk, without a device
# to look at. GRUB shows its menu (1 s) on the BIOS's text screen only:
# SeaBIOS's sercon copies it to the serial port (btvm with --serial stdio,
# QEMU with -nographic). The kernel's command line: root=UUID=...
# console=tty0 console=ttyS0 ro. A change of the pristine image (a rebuild
# gives a new UUID), of Debian's GRUB files or of the recipe below remakes it.
# Exit status: 0 done, 1 failed, 2 bad usage, 3 cannot download (no network
# and nothing cached), with one line on stderr saying so.
set -euo pipefail

# Bump when the image changes in a way the package list, the files and
# configure_image's code below do not show (they are hashed by themselves).
RECIPE_VERSION=1

SUITE=bookworm
ARCH=i386
# debootstrap --variant=minbase --include: what the minimal base lacks.
# dbus and systemd-resolved complete systemd-networkd (networkctl, DNS),
# zstd is initramfs-tools' compressor, netbase and iputils-ping are small.
PACKAGES="linux-image-686 linux-image-686-pae systemd systemd-sysv systemd-resolved dbus udev
initramfs-tools zstd kmod iproute2 netbase iputils-ping openssh-server
e2fsprogs procps less"
# Modules listed in /etc/initramfs-tools/modules: the initramfs loads them
# (besides MODULES=most, Debian's default, putting most drivers in it).
INITRAMFS_MODULES="virtio_pci virtio_blk virtio_net ext4"

# --bios: GRUB's files (Debian's grub-pc-bin), the modules core.img holds
# (enough to read its prefix: the rest load from /boot/grub/i386-pc), and
# the partition's first sector: 1 MiB, as fdisk aligns it, leaves the gap
# core.img is written into.
GRUB_DIR=/usr/lib/grub/i386-pc
GRUB_CORE_MODULES="biosdisk part_msdos ext2"
PART_START_SECTOR=2048
# The disk's grub.cfg; @UUID@ becomes the root file system's UUID. No
# "terminal_output serial": SeaBIOS's sercon already copies GRUB's screen
# to the serial port, and GRUB's own serial output beside it would print
# every line twice there.
IFS= read -r -d '' GRUB_CFG <<'EOF' || true
# btvm's test image (scripts/make-debian-image.sh --bios).
set timeout=1
set default=0
menuentry 'Debian GNU/Linux 12 (bookworm) i386, btvm test image' {
	linux /vmlinuz root=UUID=@UUID@ console=tty0 console=ttyS0 ro
	initrd /initrd.img
}
menuentry 'Debian GNU/Linux 12 (bookworm) i386, 686-pae kernel (key p)' --hotkey=p {
	linux /vmlinuz-pae root=UUID=@UUID@ console=tty0 console=ttyS0 ro
	initrd /initrd.img-pae
}
EOF

# Files written into the image: "=== PATH MODE" then the file's lines.
IFS= read -r -d '' IMAGE_FILES <<'EOF' || true
=== /etc/hostname 0644
debian-btvm
=== /etc/hosts 0644
127.0.0.1	localhost
127.0.1.1	debian-btvm
::1		localhost ip6-localhost ip6-loopback
ff02::1		ip6-allnodes
ff02::2		ip6-allrouters
=== /etc/fstab 0644
# btvm's test image: the whole virtio disk is the root file system.
/dev/vda / ext4 errors=remount-ro 0 1
=== /etc/apt/sources.list 0644
deb http://deb.debian.org/debian bookworm main
deb http://deb.debian.org/debian bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
=== /etc/systemd/network/20-wired.network 0644
# DHCP on the ethernet interfaces (btvm's test image).
[Match]
Name=en* eth*

[Network]
DHCP=yes
=== /etc/systemd/system/getty@tty1.service.d/autologin.conf 0644
# root logs in without a password on the first virtual terminal.
[Service]
ExecStart=
ExecStart=-/sbin/agetty -o '-p -f -- \\u' --noclear --autologin root - $TERM
=== /etc/systemd/system/serial-getty@ttyS0.service.d/autologin.conf 0644
# root logs in without a password on the first serial port.
[Service]
ExecStart=
ExecStart=-/sbin/agetty -o '-p -f -- \\u' --keep-baud 115200,57600,38400,9600 --autologin root - $TERM
=== /etc/ssh/sshd_config.d/btvm.conf 0644
# btvm's test image: root logs in with the key pair made by
# scripts/make-debian-image.sh (id_ed25519 in its cache) and nothing else.
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
=== /etc/initramfs-tools/conf.d/btvm.conf 0644
# btvm's test image. No swap, so nothing to resume from: the initramfs
# does not wait for one. The root file system's type, for the fsck the
# initramfs runs (the image is made in a chroot, where the hook cannot
# look at /dev/vda).
RESUME=none
FSTYPE=ext4
EOF

print_only=0
bios=0
pae=0
refresh=0
size=2G
copy_dest=
usage_error() {
	echo "make-debian-image: $* (try --help)" >&2
	exit 2
}
while [ $# -gt 0 ]; do
	case "$1" in
	--print) print_only=1 ;;
	--bios) bios=1 ;;
	--pae) pae=1 ;;
	--refresh) refresh=1 ;;
	--size | --copy)
		if [ $# -lt 2 ] || [ -z "$2" ]; then usage_error "$1 needs an argument"; fi
		if [ "$1" = --size ]; then size=$2; else copy_dest=$2; fi
		shift
		;;
	--size= | --copy=) usage_error "${1%=} needs an argument" ;;
	--size=*) size=${1#--size=} ;;
	--copy=*) copy_dest=${1#--copy=} ;;
	-h | --help)
		sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
		exit 0
		;;
	*) usage_error "unknown argument '$1'" ;;
	esac
	shift
done
# The size in bytes: digits and an optional K, M, G or T (powers of 1024).
if [[ ! "$size" =~ ^([0-9]{1,7})([KkMmGgTt]?)(i?B)?$ ]]; then
	usage_error "bad --size '$size' (say 2G, 4096M, ...)"
fi
size_bytes=${BASH_REMATCH[1]}
case "${BASH_REMATCH[2]}" in
K | k) size_bytes=$((size_bytes << 10)) ;;
M | m) size_bytes=$((size_bytes << 20)) ;;
G | g) size_bytes=$((size_bytes << 30)) ;;
T | t) size_bytes=$((size_bytes << 40)) ;;
esac
if [ "$size_bytes" -lt $((1 << 30)) ] || [ "$size_bytes" -gt $((16 << 40)) ] ||
	[ $((size_bytes % 4096)) != 0 ]; then
	usage_error "bad --size '$size' (1G to 16T, a multiple of 4K)"
fi

# mke2fs, debugfs and friends live in sbin, which a user's PATH may lack.
PATH=$PATH:/usr/sbin:/sbin
cache=${BTVM_IMAGE_CACHE:-${XDG_CACHE_HOME:-${HOME:-$(cd ~ && pwd)}/.cache}/btvm/image}
mirror=${BTVM_DEBIAN_MIRROR:-http://deb.debian.org/debian}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg

say() { echo "make-debian-image: $*" >&2; }
die() {
	echo "make-debian-image: $*" >&2
	exit 1
}
cannot_download() { # one line, and the status that says "no network"
	echo "make-debian-image: $*" >&2
	exit 3
}
# Any other command that fails ends the script with one line and status 1.
set -E
trap 'die "failed (status $?, line $LINENO): $BASH_COMMAND"' ERR

# Writes IMAGE_FILES, the key and the rest of the configuration into the
# tree $1, whose kernel releases are $2 (686) and $3 (686-pae). Its text
# is part of the recipe id.
configure_image() {
	local root=$1 release=$2 pae_release=$3 path mode line file=
	while IFS= read -r line; do
		if [[ "$line" =~ ^===\ (/[^ ]+)\ ([0-7]{4})$ ]]; then
			path=${BASH_REMATCH[1]} mode=${BASH_REMATCH[2]}
			file=$root$path
			mkdir -p "$(dirname "$file")"
			rm -f "$file"
			: >"$file"
			chmod "$mode" "$file"
		else
			printf '%s\n' "$line" >>"$file"
		fi
	done <<<"${IMAGE_FILES%$'\n'}"

	# The message of the day says what this is.
	{
		echo "btvm's test image: Debian 12 (bookworm) i386, made by btvm's scripts/make-debian-image.sh."
		cat "$root/etc/motd"
	} >"$root/etc/motd.new"
	mv "$root/etc/motd.new" "$root/etc/motd"

	# root: no password (autologin on the consoles), ssh with the key only.
	chroot "$root" passwd -q -d root >>"$log" 2>&1
	install -d -m 700 "$root/root/.ssh"
	install -m 600 "$cache/id_ed25519.pub" "$root/root/.ssh/authorized_keys"

	# systemd-networkd (the .network file above), a getty on the serial
	# port whatever the console; ssh and resolved are enabled already.
	chroot "$root" systemctl enable systemd-networkd.service serial-getty@ttyS0.service >>"$log" 2>&1

	# The initramfs: Debian's, with the virtio disk and network drivers,
	# made once here for each kernel (debootstrap ran with INITRD=No, which
	# tells the kernel's hooks not to make one); then the kernel's own
	# script points /vmlinuz and /initrd.img at the 686 one, the default.
	# Neither needs /proc. The 686-pae pair gets links of its own that no
	# kernel script moves (GRUB's second entry, --pae): the releases share
	# a version, so .old would name whichever was installed first.
	tr ' ' '\n' <<<"$INITRAMFS_MODULES" >>"$root/etc/initramfs-tools/modules"
	chroot "$root" update-initramfs -c -k "$release" >>"$log" 2>&1
	chroot "$root" update-initramfs -c -k "$pae_release" >>"$log" 2>&1
	chroot "$root" linux-update-symlinks install "$release" "/boot/vmlinuz-$release" >>"$log" 2>&1
	ln -sfn "boot/vmlinuz-$pae_release" "$root/vmlinuz-pae"
	ln -sfn "boot/initrd.img-$pae_release" "$root/initrd.img-pae"

	# What was built, for --copy's note and for anyone looking at a disk.
	printf 'recipe %s\nbuilt %s\nlinux %s\nlinux-pae %s\n' "$recipe_id" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
		"$release" "$pae_release" >"$root/etc/btvm-image"

	# No downloaded .debs or package lists (apt update in the guest makes
	# its own). The machine-id and the ssh host keys made by the packages'
	# scripts stay: each build has its own, its copies share them.
	rm -f "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin
	# debootstrap copied the host's resolv.conf in, and systemd-resolved
	# kept it when it made /etc/resolv.conf its own.
	rm -f "$root/etc/.resolv.conf.systemd-resolved.bak"
	rm -rf "$root"/var/lib/apt/lists/*
	mkdir -p "$root/var/lib/apt/lists/partial"
}

read -r -d '' -a package_array <<<"$PACKAGES" || true
package_list="${package_array[*]}"
recipe_id="recipe-$RECIPE_VERSION-$(printf '%s\n' "$package_list" "$INITRAMFS_MODULES" "$IMAGE_FILES" \
	"$(declare -f configure_image)" | sha256sum | cut -c1-16)"
debs_key=$(printf '%s\n' "$SUITE" "$ARCH" minbase "$package_list" | sha256sum | cut -c1-16)
tarball=$cache/debootstrap-$SUITE-$ARCH-$debs_key.tgz

image=$cache/debian-12-i386.img
kernel=$cache/debian-12-i386.vmlinuz
initrd=$cache/debian-12-i386.initrd
pae_kernel=$cache/debian-12-i386-pae.vmlinuz
pae_initrd=$cache/debian-12-i386-pae.initrd
stamp_file=$cache/debian-12-i386.stamp
log=$cache/build.log

# Installs the missing host tools, given as TOOL:PACKAGE (TOOL a command
# or a file's absolute path), the way scripts/setup.sh installs its packages.
need_tools() {
	local missing=() pair tool
	for pair in "$@"; do
		tool=${pair%%:*}
		case "$tool" in
		/*) [ -e "$tool" ] && continue ;;
		*) command -v "$tool" >/dev/null && continue ;;
		esac
		missing+=("${pair#*:}")
	done
	[ ${#missing[@]} = 0 ] && return 0
	local sudo=()
	[ "$(id -u)" = 0 ] || sudo=(sudo)
	say "installing ${missing[*]}"
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 || true
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		"${missing[@]}" >&2 || die "cannot install ${missing[*]}"
}

mkdir -p "$cache"
exec 9>>"$cache/.lock"
flock 9

# The key pair the image's authorized_keys holds; a new one rebuilds.
if [ ! -s "$cache/id_ed25519" ] || [ ! -s "$cache/id_ed25519.pub" ]; then
	need_tools ssh-keygen:openssh-client
	rm -f "$cache/id_ed25519" "$cache/id_ed25519.pub"
	ssh-keygen -q -t ed25519 -N '' -C "btvm test image (root@debian-btvm)" -f "$cache/id_ed25519" </dev/null >&2 ||
		die "ssh-keygen failed"
	say "made the ssh key pair $cache/id_ed25519"
fi
key_id=$(cut -d' ' -f2 "$cache/id_ed25519.pub" | sha256sum | cut -c1-16)
want_stamp="$recipe_id size=$size_bytes key=$key_id"

cached() { # the image, kernels and initramfses of this recipe are all there
	[ -s "$image" ] && [ -s "$kernel" ] && [ -s "$initrd" ] && [ -s "$pae_kernel" ] && [ -s "$pae_initrd" ] &&
		[ "$(cut -d' ' -f1-3 "$stamp_file" 2>/dev/null)" = "$want_stamp" ]
}

# --bios: the BIOS disk's files (its id, bios_recipe_id, is computed
# below, once the functions that make it are defined).
bios_image=$cache/debian-12-i386-bios.img
bios_stamp_file=$cache/debian-12-i386-bios.stamp
part_offset=$((PART_START_SECTOR * 512))

copy_out() { # --copy: DEST once, from the pristine image or the BIOS disk
	[ -n "$copy_dest" ] || return 0
	local source=$image fs=$copy_dest want=$recipe_id
	if [ "$bios" = 1 ]; then
		source=$bios_image fs="$copy_dest?offset=$part_offset" want="$recipe_id $bios_recipe_id"
	fi
	if [ -e "$copy_dest" ]; then
		local made
		made=$(debugfs -R 'cat /etc/btvm-image' "$fs" 2>/dev/null |
			sed -n 's/^recipe //p; s/^bios //p' | paste -sd' ') || true
		if [ -n "$made" ] && [ "$made" != "$want" ]; then
			say "note: $copy_dest was copied from an older build of the image ($made, now $want); delete it to start again from the new one"
		fi
		return 0
	fi
	say "copying the image to $copy_dest (the guest's own disk from now on)"
	mkdir -p "$(dirname "$copy_dest")" 2>/dev/null || die "cannot make the directory $(dirname "$copy_dest")"
	local part
	part="$(dirname "$copy_dest")/.$(basename "$copy_dest").part"
	local err
	err=$(cp --sparse=always "$source" "$part" 2>&1) || {
		rm -f "$part"
		die "cannot copy the image to $copy_dest: ${err##*: }"
	}
	mv -f "$part" "$copy_dest"
	if [ -n "${BTVM_IMAGE_OWNER:-}" ]; then chown "$BTVM_IMAGE_OWNER" "$copy_dest"; fi
}

report() {
	local disk=$image said_kernel=$kernel said_initrd=$initrd
	[ "$bios" = 0 ] || disk=$bios_image
	[ -n "$copy_dest" ] && disk=$copy_dest
	[ "$pae" = 0 ] || said_kernel=$pae_kernel said_initrd=$pae_initrd
	if [ "$print_only" = 1 ]; then
		printf '%s\n%s\n%s\n' "$disk" "$said_kernel" "$said_initrd"
	else
		echo "image:  $disk ($(du -h --apparent-size "$disk" | cut -f1) sparse, $(du -h "$disk" | cut -f1) used; Debian 12 i386, Linux $(cut -d' ' -f5- "$stamp_file" | sed 's/^linux=//; s/ linux-pae=/ and /'))"
		if [ "$bios" = 1 ]; then
			[ -z "$copy_dest" ] || echo "        (a copy of the pristine $bios_image)"
			echo "        (MBR and GRUB 2; the file system in partition 1 from 1 MiB, root=UUID=$(fs_uuid "$image"))"
			if [ -n "$copy_dest" ]; then
				echo "boot:   btvm run --firmware bios --disk $disk"
			else # the pristine disk: boot it unchanged, or a copy
				echo "boot:   btvm run --firmware bios --disk $disk --snapshot (or make the guest's own disk with --copy DEST)"
			fi
		else
			[ -z "$copy_dest" ] || echo "        (a copy of the pristine $image)"
			echo "kernel: $said_kernel"
			echo "initrd: $said_initrd"
			echo "append: root=/dev/vda console=ttyS0"
		fi
		echo "ssh:    ssh -i $cache/id_ed25519 root@GUEST"
	fi
}

fs_uuid() { # the UUID of the ext4 file system in the file $1
	dumpe2fs -h "$1" 2>/dev/null | sed -n 's/^Filesystem UUID: *//p'
}

bios_want_stamp() { # what the BIOS disk made from the pristine image now is made of
	local grub_id
	grub_id=$(cat "$GRUB_DIR"/* | sha256sum | cut -c1-16)
	echo "$bios_recipe_id grub=$grub_id fs=$(fs_uuid "$image") $(cat "$stamp_file")"
}

bios_cached() {
	[ -s "$bios_image" ] && [ "$(cat "$bios_stamp_file" 2>/dev/null)" = "$(bios_want_stamp)" ]
}

# Writes into the file system $1 (a file) what the BIOS disk's needs:
# GRUB's modules and grub.cfg in /boot/grub, an fstab naming the root by
# its UUID $2 (/dev/vda1 under virtio, /dev/sda1 on IDE), and the recipe
# line in /etc/btvm-image. Files go in with debugfs as root's (it gives a
# written file the host file's mode and owner 0).
bios_fs() {
	local fs=$1 uuid=$2 dir=$3 f name
	sed "s/@UUID@/$uuid/" <<<"${GRUB_CFG%$'\n'}" >"$dir/grub.cfg"
	printf '%s\n' "# btvm's test image (--bios): the root file system, partition 1 of the disk." \
		"UUID=$uuid / ext4 errors=remount-ro 0 1" >"$dir/fstab"
	debugfs -R 'cat /etc/btvm-image' "$fs" >"$dir/btvm-image" 2>/dev/null
	grep -q '^recipe ' "$dir/btvm-image" || die "the pristine image has no /etc/btvm-image"
	echo "bios $bios_recipe_id" >>"$dir/btvm-image"
	chmod 0644 "$dir/grub.cfg" "$dir/fstab" "$dir/btvm-image"
	{
		for name in etc/fstab etc/btvm-image; do
			echo "rm /$name"
		done
		echo "write $dir/fstab /etc/fstab"
		echo "write $dir/btvm-image /etc/btvm-image"
		echo "mkdir /boot/grub"
		echo "mkdir /boot/grub/i386-pc"
		for f in "$GRUB_DIR"/*.mod "$GRUB_DIR"/*.lst; do
			echo "write $f /boot/grub/i386-pc/${f##*/}"
		done
		echo "write $dir/grub.cfg /boot/grub/grub.cfg"
	} >"$dir/debugfs.cmd"
	debugfs -w -f "$dir/debugfs.cmd" "$fs" >>"$log" 2>&1 || die "debugfs cannot write into the file system (see $log)"
	# debugfs goes on past a command that fails: check what it wrote.
	[ "$(debugfs -R 'cat /boot/grub/grub.cfg' "$fs" 2>/dev/null)" = "$(cat "$dir/grub.cfg")" ] ||
		die "debugfs did not write /boot/grub/grub.cfg (see $log)"
	[ "$(debugfs -R 'cat /etc/fstab' "$fs" 2>/dev/null)" = "$(cat "$dir/fstab")" ] ||
		die "debugfs did not write /etc/fstab (see $log)"
	local want have
	want=$(cd "$GRUB_DIR" && ls -- *.mod *.lst | sort)
	have=$(debugfs -R 'ls -p /boot/grub/i386-pc' "$fs" 2>/dev/null | awk -F/ 'NF > 5 && $6 != "." && $6 != ".." { print $6 }' | sort)
	[ "$want" = "$have" ] || die "debugfs did not write all of GRUB's modules into /boot/grub/i386-pc (see $log)"
}

# Makes the BIOS disk from the pristine image (see "The BIOS disk" above),
# in a temporary directory of the cache; its last step moves it into place.
make_bios_image() {
	need_tools grub-mkimage:grub-common "$GRUB_DIR/boot.img:grub-pc-bin" sfdisk:fdisk \
		resize2fs:e2fsprogs debugfs:e2fsprogs
	local want uuid part_bytes core_sectors
	want=$(bios_want_stamp)
	uuid=$(fs_uuid "$image")
	[ -n "$uuid" ] || die "cannot read the file system's UUID in $image"
	bios_tmp=$(mktemp -d "$cache/tmp-bios.XXXXXX")
	trap 'rm -rf -- "$bios_tmp"' EXIT
	local t=$bios_tmp
	# Its own log: the pristine build's stays.
	local log=$cache/build-bios.log
	: >"$log"
	say "making the BIOS disk (MBR, GRUB 2, the file system in partition 1)"

	# The file system, 1 MiB smaller: the partition from 1 MiB to the end.
	part_bytes=$((size_bytes - part_offset))
	cp --sparse=always "$image" "$t/fs"
	resize2fs "$t/fs" "$((part_bytes >> 10))K" >>"$log" 2>&1 || die "resize2fs cannot shrink the file system (see $log)"
	bios_fs "$t/fs" "$uuid" "$t"
	e2fsck -fn "$t/fs" >>"$log" 2>&1 || die "e2fsck finds the BIOS disk's file system broken (see $log)"
	[ "$(stat -c %s "$t/fs")" = "$part_bytes" ] || die "resize2fs left the file system $(stat -c %s "$t/fs") bytes, not $part_bytes"

	# The partition table: one Linux partition, bootable (some BIOSes want
	# an active partition), a fixed disk signature ("btvm").
	truncate -s "$size_bytes" "$t/disk"
	printf '%s
' 'label: dos' 'label-id: 0x6274766d' 'unit: sectors' '' \
		"start=$PART_START_SECTOR, size=$((part_bytes / 512)), type=83, bootable" |
		sfdisk -q "$t/disk" >>"$log" 2>&1 || die "sfdisk cannot write the partition table (see $log)"
	dd if="$t/fs" of="$t/disk" bs=1M seek=$((part_offset >> 20)) conv=sparse,notrunc status=none
	rm -f "$t/fs"

	# GRUB: core.img into the gap, boot.img's code into the MBR. Like
	# grub-bios-setup, NOP boot.img's jump at 0x66 so that a drive number
	# in DL that looks like a floppy's is taken for the first hard disk
	# (buggy BIOSes).
	grub-mkimage -O i386-pc -d "$GRUB_DIR" -o "$t/core.img" -p '(,msdos1)/boot/grub' \
		$GRUB_CORE_MODULES >>"$log" 2>&1 || die "grub-mkimage failed (see $log)"
	core_sectors=$((($(stat -c %s "$t/core.img") + 511) / 512))
	[ "$core_sectors" -lt "$PART_START_SECTOR" ] ||
		die "GRUB's core.img ($core_sectors sectors) does not fit before the partition"
	dd if="$t/core.img" of="$t/disk" bs=512 seek=1 conv=notrunc status=none
	dd if="$GRUB_DIR/boot.img" of="$t/disk" bs=440 count=1 conv=notrunc status=none
	printf '\x90\x90' | dd of="$t/disk" bs=1 seek=$((0x66)) conv=notrunc status=none

	# The checks a boot depends on: the table as written, the boot
	# signature, the file system at the partition's offset.
	sfdisk --dump "$t/disk" 2>>"$log" | grep -q "^$t/disk1 : start= *$PART_START_SECTOR, size= *$((part_bytes / 512)), type=83, bootable" ||
		die "the BIOS disk's partition table is not as written"
	[ "$(od -An -tx1 -j510 -N2 "$t/disk" | tr -d ' ')" = 55aa ] || die "the BIOS disk's MBR has no boot signature"
	[ "$(fs_uuid "$t/disk?offset=$part_offset")" = "$uuid" ] || die "no file system at partition 1's offset"

	rm -f "$bios_stamp_file"
	mv -f "$t/disk" "$bios_image"
	echo "$want" >"$bios_stamp_file"
	if [ -n "${BTVM_IMAGE_OWNER:-}" ]; then chown "$BTVM_IMAGE_OWNER" "$bios_image" "$bios_stamp_file" "$log"; fi
	rm -rf -- "$bios_tmp"
	trap - EXIT
	say "made $bios_image in $SECONDS s"
}

# The BIOS disk's recipe id: the grub.cfg, the core modules and the code
# of the functions that make it, hashed like recipe_id.
bios_recipe_id="bios-1-$(printf '%s\n' "$GRUB_CFG" "$GRUB_CORE_MODULES" "$PART_START_SECTOR" \
	"$(declare -f make_bios_image bios_fs)" | sha256sum | cut -c1-16)"

# The end of every path: the BIOS disk when asked for, the copy, the report.
finish() {
	if [ "$bios" = 1 ] && ! bios_cached; then make_bios_image; fi
	copy_out
	report
	exit 0
}

# Takes away what debootstrap may have left mounted under $1 (a killed
# second stage leaves /proc and /sys), deepest first, then removes $1
# without crossing into another file system whatever happens.
mounts_under() { # the mount points at or under directory $1
	local dir mnt
	dir=$(cd "$1" && pwd -P)
	while read -r _ mnt _; do
		mnt=$(printf '%b' "$mnt") # /proc/mounts escapes spaces as \040
		case "$mnt" in "$dir" | "$dir"/*) echo "$mnt" ;; esac
	done </proc/mounts
}
remove_tree() {
	[ -e "$1" ] || return 0
	mounts_under "$1" | sort -r | while read -r mnt; do
		umount "$mnt" 2>/dev/null || umount -l "$mnt" || true
	done
	rm -rf --one-file-system "$1" || say "cannot remove all of $1"
}

# What a killed build left (the lock is ours): with root, whatever a build
# may have left mounted goes too. A BIOS disk's build mounts nothing.
for old in "$cache"/tmp-bios.*; do
	[ -d "$old" ] && { rm -rf --one-file-system -- "$old" || say "cannot remove $old"; }
done
if [ "$(id -u)" = 0 ]; then
	for old in "$cache"/tmp.*; do
		[ -d "$old" ] && remove_tree "$old"
	done
fi

# The warm-cache path: no debootstrap, no network.
if [ "$refresh" = 0 ] && cached; then
	finish
fi

# Building needs root: the rest runs again through sudo, and the results
# are given to this user; then this run copies and reports.
if [ "$(id -u)" != 0 ]; then
	command -v sudo >/dev/null || die "building the image needs root (debootstrap, chroot): run it as root or install sudo"
	say "building the image needs root: running the build through sudo"
	args=(--size "$size")
	[ "$refresh" = 0 ] || args+=(--refresh)
	exec 9>&- # the build takes the lock itself
	sudo env BTVM_IMAGE_CACHE="$cache" BTVM_IMAGE_OWNER="$(id -u):$(id -g)" \
		BTVM_DEBIAN_MIRROR="$mirror" bash "$0" "${args[@]}" >&2 || exit $?
	exec 9>>"$cache/.lock"
	flock 9
	cached || die "the build through sudo made no image"
	finish
fi

need_tools debootstrap:debootstrap mke2fs:e2fsprogs "$keyring:debian-archive-keyring"

tmp=$(mktemp -d "$cache/tmp.XXXXXX")
logmark() { echo "== $* (at $SECONDS s)" >>"$log"; }
trap 'logmark "removing $tmp"; remove_tree "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP
: >"$log"

debootstrap_args=(--arch="$ARCH" --variant=minbase --include="${package_list// /,}" --keyring="$keyring")

# The packages: debootstrap --make-tarball downloads them (about 165 MB).
if [ "$refresh" = 1 ] || [ ! -s "$tarball" ]; then
	say "downloading Debian $SUITE's $ARCH packages from $mirror (about 165 MB)"
	logmark "debootstrap --make-tarball"
	if ! debootstrap "${debootstrap_args[@]}" --make-tarball="$tmp/debs.tgz" \
		"$SUITE" "$tmp/download" "$mirror" >>"$log" 2>&1; then
		if grep -q "Couldn't find these debs" "$log"; then
			die "debootstrap cannot find a package of the list ($(grep -m1 "Couldn't find these debs" "$log")); see $log"
		fi
		cannot_download "cannot download Debian $SUITE's $ARCH packages from $mirror (no network? debootstrap's log: $log)"
	fi
	gzip -t "$tmp/debs.tgz" || die "debootstrap made a broken $tmp/debs.tgz"
	# --unpack-tarball finds the package lists by the mirror's name.
	echo "$mirror" >"$tarball.mirror"
	mv -f "$tmp/debs.tgz" "$tarball"
	for old in "$cache"/debootstrap-*.tgz; do
		[ "$old" = "$tarball" ] || rm -f "$old" "$old.mirror"
	done
fi
tarball_mirror=$(cat "$tarball.mirror" 2>/dev/null) || tarball_mirror=$mirror

# The system: debootstrap from the cached packages (no network).
say "installing the system with debootstrap (about a minute)"
root=$tmp/root
logmark "debootstrap --unpack-tarball"
# INITRD=No: the kernel's postinst makes no initramfs (configure_image
# makes it, configured).
INITRD=No debootstrap "${debootstrap_args[@]}" --unpack-tarball="$tarball" \
	"$SUITE" "$root" "$tarball_mirror" >>"$log" 2>&1 ||
	die "debootstrap failed (see $log; --refresh downloads the packages again)"
[ -z "$(mounts_under "$root")" ] || die "debootstrap left file systems mounted under $root"

release='' pae_release=''
for f in "$root"/boot/vmlinuz-*-686 "$root"/boot/vmlinuz-*-686-pae; do
	[ -f "$f" ] || continue
	case "$f" in
	*-686-pae) pae_release=${f##*/vmlinuz-} ;;
	*) release=${f##*/vmlinuz-} ;;
	esac
done
[ -n "$release" ] || die "debootstrap installed no 686 kernel (no $root/boot/vmlinuz-*-686)"
[ -n "$pae_release" ] || die "debootstrap installed no 686-pae kernel (no $root/boot/vmlinuz-*-686-pae)"

say "configuring the system (Linux $release and $pae_release) and making its initramfses"
logmark "configure_image"
configure_image "$root" "$release" "$pae_release"

# The checks a boot depends on.
[ "$(readlink "$root/vmlinuz")" = "boot/vmlinuz-$release" ] || die "/vmlinuz does not point to boot/vmlinuz-$release"
[ "$(readlink "$root/initrd.img")" = "boot/initrd.img-$release" ] || die "/initrd.img does not point to boot/initrd.img-$release"
[ "$(readlink "$root/vmlinuz-pae")" = "boot/vmlinuz-$pae_release" ] || die "/vmlinuz-pae does not point to boot/vmlinuz-$pae_release"
[ "$(readlink "$root/initrd.img-pae")" = "boot/initrd.img-$pae_release" ] || die "/initrd.img-pae does not point to boot/initrd.img-$pae_release"
for r in "$release" "$pae_release"; do
	[ -s "$root/boot/initrd.img-$r" ] || die "no initramfs for $r in /boot"
	modules_in_initrd=$(chroot "$root" lsinitramfs "/boot/initrd.img-$r" | sed -n 's,^.*/\([^/]*\.ko\)$,\1,p') ||
		die "lsinitramfs cannot read the new initramfs of $r"
	for m in $INITRAMFS_MODULES; do
		grep -qx "$m.ko" <<<"$modules_in_initrd" || die "the initramfs of $r has no $m.ko"
	done
done
for m in $INITRAMFS_MODULES; do
	grep -qx "$m" "$root/etc/initramfs-tools/modules" || die "/etc/initramfs-tools/modules lacks $m"
done
[ -L "$root/etc/systemd/system/multi-user.target.wants/ssh.service" ] || die "sshd is not enabled"
[ -L "$root/etc/systemd/system/multi-user.target.wants/systemd-networkd.service" ] || die "systemd-networkd is not enabled"

cp "$root/boot/vmlinuz-$release" "$tmp/vmlinuz"
cp "$root/boot/initrd.img-$release" "$tmp/initrd"
cp "$root/boot/vmlinuz-$pae_release" "$tmp/pae-vmlinuz"
cp "$root/boot/initrd.img-$pae_release" "$tmp/pae-initrd"

# The image: mke2fs copies the tree with its owners, modes, device nodes
# and extended attributes.
say "making the ext4 image ($size)"
logmark "mke2fs"
mke2fs -q -F -t ext4 -L debian-root -E root_owner=0:0 -d "$root" "$tmp/image" "$((size_bytes >> 10))k" >>"$log" 2>&1 ||
	die "mke2fs failed (see $log; a larger --size?)"
e2fsck -fn "$tmp/image" >>"$log" 2>&1 || die "e2fsck finds the new image broken (see $log)"

# Into place: the stamp goes last, so a run stopped in between builds again.
rm -f "$stamp_file"
mv -f "$tmp/image" "$image"
mv -f "$tmp/vmlinuz" "$kernel"
mv -f "$tmp/initrd" "$initrd"
mv -f "$tmp/pae-vmlinuz" "$pae_kernel"
mv -f "$tmp/pae-initrd" "$pae_initrd"
echo "$want_stamp $(basename "$tarball") linux=$release linux-pae=$pae_release" >"$stamp_file"
if [ -n "${BTVM_IMAGE_OWNER:-}" ]; then
	chown "$BTVM_IMAGE_OWNER" "$image" "$kernel" "$initrd" "$pae_kernel" "$pae_initrd" "$stamp_file" "$tarball" "$tarball.mirror" "$log" "$cache/.lock"
fi
logmark "done"
say "built $image (Linux $release and $pae_release) in $SECONDS s"
remove_tree "$tmp"
trap - EXIT
finish
