#!/usr/bin/env bash
# Fetches the Linux guest that btvm's end-to-end test boots: Debian 12's own
# i386 kernel (linux-image-686, resolved to the linux-image-6.1.0-*-686
# package it depends on) and busybox-static (i386), downloaded with
# `apt-get download` through an apt state of its own (the host's apt
# configuration, lists and dpkg architectures are not touched). It extracts
# the kernel to <cache>/vmlinuz and builds <cache>/initramfs-N.cpio.gz: the
# static busybox, the few kernel modules a desktop VM needs that Debian
# builds as modules (the PS/2 mouse, the ACPI power button, virtio disks
# and network, the virtio tablet with evdev's /dev/input/eventN, ext4; with btvm.ide on the kernel command line IDE disks
# and CD-ROMs with ISO 9660 too; with btvm.share the virtio-9p shared
# folder's filesystem; with btvm.sound the AC'97 sound card's driver and
# OSS's /dev/dsp), and an /init
# that mounts proc, sys and devtmpfs, loads those modules, and starts an
# interactive shell on the console (prompt "guest:~ # ") and, when the
# kernel has a VGA console, another on tty1 (the window's screen).
#
# Usage: fetch-guest.sh [--print] [--refresh] [--pae]
#   (no option)  fetch or build what is missing, then say where things are
#   --print      print just two lines, the kernel's path and the initramfs's
#                path (progress, if any, goes to stderr)
#   --refresh    ask the archive for the newest packages even when cached
#   --pae        instead: fetch Debian's 686-pae kernel (linux-image-686-pae,
#                for a CPU with PAE; tests/firmware boots it on btvm's CPU,
#                which has none, for its setup code's refusal) and print
#                just its path, <cache>/vmlinuz-pae
#
# Cache: ${BTVM_GUEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/btvm/guest}.
# A warm cache needs no network: apt is not run at all when vmlinuz and an
# initramfs built by this script's current recipe are there, and a changed
# recipe (/init) rebuilds the initramfs from the cached .debs. The archive
# can be changed with BTVM_DEBIAN_MIRROR and BTVM_DEBIAN_SECURITY_MIRROR.
# Exit status: 0 done, 1 failed, 2 bad usage, 3 cannot download (no network
# and nothing cached), with one line on stderr saying so.
set -euo pipefail

# Bump when the initramfs's layout changes in a way the /init text below
# does not show (the /init text is hashed into the stamp by itself).
RECIPE_VERSION=8

# Modules from the kernel's package put into the initramfs (paths under
# lib/modules/RELEASE/kernel/), loaded by /init in this order.
GUEST_MODULES="drivers/input/mouse/psmouse.ko drivers/acpi/button.ko
drivers/virtio/virtio.ko drivers/virtio/virtio_ring.ko
drivers/virtio/virtio_pci_modern_dev.ko drivers/virtio/virtio_pci_legacy_dev.ko
drivers/virtio/virtio_pci.ko drivers/block/virtio_blk.ko
drivers/input/evdev.ko drivers/virtio/virtio_input.ko
net/core/failover.ko drivers/net/net_failover.ko drivers/net/virtio_net.ko
lib/crc16.ko crypto/crc32c_generic.ko fs/mbcache.ko fs/jbd2/jbd2.ko fs/ext4/ext4.ko"
# IDE and what it needs, in load order, under lib/modules/ide/: the PIIX's
# libata driver, SCSI disks and CD-ROMs (sd_mod's T10 protection
# information wants the CRCs, whose crypto drivers come first so that
# crc-t10dif and crc64-rocksoft find them without a modprobe), ISO 9660.
# Loaded only with btvm.ide on the kernel command line, so that the
# other tests' boots stay as they were (the controller is always there;
# without the driver Linux leaves it alone).
GUEST_IDE_MODULES="drivers/scsi/scsi_common.ko drivers/scsi/scsi_mod.ko drivers/ata/libata.ko
drivers/ata/ata_piix.ko lib/crc64.ko crypto/crc64_rocksoft_generic.ko lib/crc64-rocksoft.ko
crypto/crct10dif_common.ko crypto/crct10dif_generic.ko lib/crc-t10dif.ko block/t10-pi.ko
drivers/scsi/sd_mod.ko drivers/cdrom/cdrom.ko drivers/scsi/sr_mod.ko fs/isofs/isofs.ko"
# The 9P filesystem over virtio (btvm's --share), in load order, under
# lib/modules/share/: 9p.ko needs netfs and fscache (modinfo's depends).
# Loaded only with btvm.share on the kernel command line.
GUEST_SHARE_MODULES="fs/netfs/netfs.ko fs/fscache/fscache.ko net/9p/9pnet.ko
net/9p/9pnet_virtio.ko fs/9p/9p.ko"
# Sound: ALSA with the ICH AC'97 driver and its codec, and the OSS
# emulation (/dev/dsp, /dev/mixer, which a static program drives without
# alsa-lib), in load order, under lib/modules/sound/: loaded only with
# btvm.sound on the kernel command line, as IDE's are.
GUEST_SOUND_MODULES="sound/soundcore.ko sound/core/snd.ko sound/core/snd-timer.ko
sound/core/snd-pcm.ko sound/ac97_bus.ko sound/pci/ac97/snd-ac97-codec.ko
sound/pci/snd-intel8x0.ko sound/core/oss/snd-mixer-oss.ko sound/core/oss/snd-pcm-oss.ko"
# The bochs DRM driver and what it needs, in load order, under
# lib/modules/drm/: loaded only with btvm.drm on the kernel command line,
# since it moves the console from the VGA's text mode to a framebuffer.
GUEST_DRM_MODULES="drivers/gpu/drm/drm.ko drivers/video/fbdev/core/fb_sys_fops.ko
drivers/video/fbdev/core/syscopyarea.ko drivers/video/fbdev/core/sysfillrect.ko
drivers/video/fbdev/core/sysimgblt.ko drivers/gpu/drm/drm_kms_helper.ko
drivers/gpu/drm/ttm/ttm.ko drivers/gpu/drm/drm_ttm_helper.ko
drivers/gpu/drm/drm_vram_helper.ko drivers/gpu/drm/tiny/bochs.ko"

print_only=0
pae=0
refresh=0
for arg in "$@"; do
	case "$arg" in
	--print) print_only=1 ;;
	--pae) pae=1 ;;
	--refresh) refresh=1 ;;
	-h | --help)
		sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
		exit 0
		;;
	*)
		echo "fetch-guest: unknown argument '$arg' (try --help)" >&2
		exit 2
		;;
	esac
done

cache=${BTVM_GUEST_CACHE:-${XDG_CACHE_HOME:-${HOME:-$(cd ~ && pwd)}/.cache}/btvm/guest}
mirror=${BTVM_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security_mirror=${BTVM_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg

say() { echo "fetch-guest: $*" >&2; }
die() {
	echo "fetch-guest: $*" >&2
	exit 1
}
cannot_download() { # one line, and the status that says "no network"
	echo "fetch-guest: $*" >&2
	exit 3
}

# The guest's /init, run by busybox's shell as process 1.
IFS= read -r -d '' init_script <<'EOF' || true
#!/bin/busybox sh
# /init of btvm's test initramfs (built by scripts/fetch-guest.sh): mounts
# the kernel's filesystems, installs busybox's applets and runs a shell on
# the console; when that shell ends, the machine powers off.
/bin/busybox mkdir -p /proc /sys /dev /tmp /root /etc /bin /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
export PATH=/sbin:/usr/sbin:/bin:/usr/bin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev || mdev -s
# Without a /dev/console in the initramfs the kernel started us with no
# standard streams: take the console now that devtmpfs has it.
[ -t 1 ] || exec </dev/console >/dev/console 2>&1
# Debian builds these as modules: the PS/2 mouse, the ACPI power button
# (which the window's close button presses), virtio disks and ext4, the
# virtio network card, and the virtio tablet with evdev.
for m in /lib/modules/*.ko; do
	[ -e "$m" ] && insmod "$m"
done
# btvm.drm: the display's DRM driver (bochs), for a graphical console.
if grep -qw btvm.drm /proc/cmdline; then
	for m in /lib/modules/drm/*.ko; do
		insmod "$m"
	done
fi
# btvm.ide: IDE disks (/dev/sdX) and CD-ROMs (/dev/srN) on the PIIX.
if grep -qw btvm.ide /proc/cmdline; then
	for m in /lib/modules/ide/*.ko; do
		insmod "$m"
	done
fi
# btvm.share: 9P over virtio, to mount a --share folder:
#   mount -t 9p -o trans=virtio,version=9p2000.L TAG /mnt
if grep -qw btvm.share /proc/cmdline; then
	for m in /lib/modules/share/*.ko; do
		insmod "$m"
	done
fi
# btvm.sound: the AC'97 card's driver with OSS's /dev/dsp and /dev/mixer.
if grep -qw btvm.sound /proc/cmdline; then
	for m in /lib/modules/sound/*.ko; do
		insmod "$m"
	done
fi
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
chmod 1777 /tmp
# A user database, so that the prompt shows ~ and whoami knows root.
[ -e /etc/passwd ] || echo 'root:x:0:0:root:/root:/bin/sh' >/etc/passwd
[ -e /etc/group ] || echo 'root:x:0:' >/etc/group
hostname guest
cd /root
export PS1='guest:\w # '
echo
echo "=== btvm test guest: Linux $(uname -r) $(uname -m), busybox shell on the console ==="
echo "=== 'exit' or 'poweroff -f' powers the machine off ==="
# A second shell on the VGA's first virtual terminal, as a distribution
# runs a getty there: the window has a shell whichever console= is last.
# It is started again when it ends; only the console's shell powers off.
# (/proc/consoles marks the console /dev/console is with C.)
if ! grep -Eq '^tty[0-9]+ .*\([^)]*C' /proc/consoles &&
	grep -qs 'VGA\|frame buffer' /sys/class/vtconsole/vtcon*/name; then
	(while :; do setsid sh -c 'exec sh -i </dev/tty1 >/dev/tty1 2>&1'; sleep 1; done) &
fi
# setsid + cttyhack make the console the shell's controlling terminal, so
# the shell has job control and Ctrl-C works.
if setsid cttyhack true 2>/dev/null; then
	setsid cttyhack sh
else
	sh
fi
echo "init: the shell ended; powering off"
sync
poweroff -f
EOF

recipe_id="recipe-$RECIPE_VERSION-$(printf '%s\n' "$init_script" "$GUEST_MODULES" "$GUEST_DRM_MODULES" "$GUEST_IDE_MODULES" "$GUEST_SHARE_MODULES" "$GUEST_SOUND_MODULES" | sha256sum | cut -c1-16)"

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9

kernel_out=$cache/vmlinuz
# One file per recipe version, so checkouts of different versions sharing
# the cache do not rebuild it over each other.
initrd_out=$cache/initramfs-$RECIPE_VERSION.cpio.gz
initrd_stamp=$cache/initramfs-$RECIPE_VERSION.stamp

report() {
	if [ "$print_only" = 1 ]; then
		printf '%s\n%s\n' "$kernel_out" "$initrd_out"
	else
		echo "kernel: $kernel_out (Linux $(cat "$cache/vmlinuz.release" 2>/dev/null || echo '?'))"
		echo "initrd: $initrd_out"
	fi
}

# The warm-cache path: no apt, no network.
if [ "$pae" = 0 ] && [ "$refresh" = 0 ] && [ -s "$kernel_out" ] && [ -s "$initrd_out" ] &&
	[ "$(cut -d' ' -f1 "$initrd_stamp" 2>/dev/null)" = "$recipe_id" ]; then
	report
	exit 0
fi

# Installs the host tools missing for building (cpio; the rest come with
# Debian), the way scripts/setup.sh installs its packages.
need_tools() {
	local missing=() tool
	for tool in "$@"; do
		command -v "$tool" >/dev/null || missing+=("$tool")
	done
	[ ${#missing[@]} = 0 ] && return 0
	local sudo=()
	[ "$(id -u)" = 0 ] || sudo=(sudo)
	say "installing ${missing[*]}"
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 || true
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		"${missing[@]}" >&2 || die "cannot install ${missing[*]}"
}

rm -rf "$cache"/tmp.* # left by a run that was killed (the lock is ours)
tmp=$(mktemp -d "$cache/tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

debs=$cache/debs
mkdir -p "$debs"
find_deb() { # find_deb GLOB: the one cached .deb matching GLOB, if any
	local f
	for f in "$debs"/$1; do
		[ -f "$f" ] && echo "$f" && return 0
	done
	return 1
}

# The private apt state's options (opts) and its log (log), emptied:
# nothing counts as installed.
# shellcheck source=scripts/apt-private.sh
. "$(dirname "${BASH_SOURCE[0]}")/apt-private.sh"
apt_setup() {
	mkdir -p "$cache/apt"
	: >"$cache/apt/status"
	apt_private_setup "$cache/apt" "$cache/apt/status" "$cache/apt.log"
}

download() {
	apt_setup
	# update may fail on one briefly out-of-sync index (security, say) while
	# the packages are reachable: the download below is the real test.
	apt-get "${opts[@]}" update -q >>"$log" 2>&1 || true
	local kpkg
	kpkg=$(apt-cache "${opts[@]}" depends linux-image-686 2>>"$log" |
		sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-686\)$/\1/p' | head -n1) || true
	if [ -z "$kpkg" ]; then
		cannot_download "cannot download the guest: no linux-image-686 for i386 from $mirror (no network? apt's log: $log)"
	fi
	# The newest packages may be cached already (--refresh).
	local uris name size sum current=1
	uris=$(apt-get "${opts[@]}" --print-uris download "$kpkg" busybox-static 2>>"$log") || current=0
	[ -n "$uris" ] || current=0
	while read -r _ name size sum; do
		[ -n "$name" ] || continue
		if [ ! -f "$debs/$name" ] || [ "$(stat -c %s "$debs/$name")" != "$size" ] ||
			[ "${sum#SHA256:}" != "$(sha256sum <"$debs/$name" | cut -d' ' -f1)" ]; then
			current=0
		fi
	done <<<"$uris"
	if [ "$current" = 1 ]; then
		say "the newest $kpkg and busybox-static are cached already"
		return 0
	fi
	say "downloading $kpkg and busybox-static (i386) from $mirror"
	mkdir -p "$tmp/dl"
	if ! (cd "$tmp/dl" && apt-get "${opts[@]}" download "$kpkg" busybox-static >>"$log" 2>&1); then
		cannot_download "cannot download $kpkg and busybox-static from $mirror (no network? apt's log: $log)"
	fi
	local f
	for f in "$tmp/dl"/*.deb; do
		dpkg-deb --info "$f" >/dev/null 2>&1 || die "downloaded $f is not a valid .deb"
	done
	# The new set replaces the old one only once all of it is here.
	local keep=" "
	for f in "$tmp/dl"/*.deb; do
		keep+="$(basename "$f") "
		mv -f "$f" "$debs/"
	done
	for f in "$debs"/*.deb; do
		case "$keep" in
		*" $(basename "$f") "*) ;;
		*) rm -f "$f" ;;
		esac
	done
	say "downloaded $kpkg and busybox-static"
}

# --pae: the 686-pae kernel alone, cached as vmlinuz-pae.
if [ "$pae" = 1 ]; then
	pae_out=$cache/vmlinuz-pae
	if [ "$refresh" = 1 ] || [ ! -s "$pae_out" ]; then
		apt_setup
		apt-get "${opts[@]}" update -q >>"$log" 2>&1 || true
		ppkg=$(apt-cache "${opts[@]}" depends linux-image-686-pae 2>>"$log" |
			sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-686-pae\)$/\1/p' | head -n1) || true
		[ -n "$ppkg" ] || cannot_download "no linux-image-686-pae for i386 from $mirror (no network? apt's log: $log)"
		say "downloading $ppkg (i386) from $mirror"
		mkdir -p "$tmp/pae"
		(cd "$tmp/pae" && apt-get "${opts[@]}" download "$ppkg" >>"$log" 2>&1) ||
			cannot_download "cannot download $ppkg from $mirror (apt's log: $log)"
		dpkg-deb --fsys-tarfile "$tmp/pae"/*.deb | tar -x -C "$tmp/pae" --wildcards './boot/vmlinuz-*' ||
			die "$ppkg has no boot/vmlinuz-*"
		cp "$tmp/pae"/boot/vmlinuz-* "$pae_out.tmp"
		mv -f "$pae_out.tmp" "$pae_out"
	fi
	echo "$pae_out"
	exit 0
fi

kdeb=$(find_deb 'linux-image-*-686_*_i386.deb') || kdeb=
bdeb=$(find_deb 'busybox-static_*_i386.deb') || bdeb=
if [ "$refresh" = 1 ] || [ -z "$kdeb" ] || [ -z "$bdeb" ]; then
	download
	kdeb=$(find_deb 'linux-image-*-686_*_i386.deb') || die "no kernel .deb after downloading"
	bdeb=$(find_deb 'busybox-static_*_i386.deb') || die "no busybox-static .deb after downloading"
fi

# The kernel: boot/vmlinuz-* from its package.
if [ ! -s "$kernel_out" ] || [ "$(cat "$cache/vmlinuz.deb" 2>/dev/null)" != "$(basename "$kdeb")" ]; then
	say "extracting the kernel from $(basename "$kdeb")"
	dpkg-deb -x "$kdeb" "$tmp/kernel"
	vmlinuz=$(find "$tmp/kernel/boot" -maxdepth 1 -name 'vmlinuz-*' | head -n1)
	[ -n "$vmlinuz" ] || die "$(basename "$kdeb") has no boot/vmlinuz-*"
	cp "$vmlinuz" "$kernel_out.tmp"
	mv -f "$kernel_out.tmp" "$kernel_out"
	basename "$vmlinuz" | sed 's/^vmlinuz-//' >"$cache/vmlinuz.release"
	basename "$kdeb" >"$cache/vmlinuz.deb"
fi

# The initramfs: busybox, /init, the mount points and /dev/console.
stamp="$recipe_id $(basename "$bdeb") $(basename "$kdeb")"
if [ ! -s "$initrd_out" ] || [ "$(cat "$initrd_stamp" 2>/dev/null)" != "$stamp" ]; then
	need_tools cpio gzip
	say "building the initramfs ($recipe_id, $(basename "$bdeb"))"
	dpkg-deb -x "$bdeb" "$tmp/busybox"
	[ -x "$tmp/busybox/bin/busybox" ] || die "$(basename "$bdeb") has no bin/busybox"
	root=$tmp/root
	mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,root,etc,lib}
	cp "$tmp/busybox/bin/busybox" "$root/bin/busybox"
	# The modules, numbered so that /init loads them in the list's order.
	dpkg-deb -x "$kdeb" "$tmp/modules"
	mkdir -p "$root/lib/modules/drm" "$root/lib/modules/ide" "$root/lib/modules/share" "$root/lib/modules/sound"
	copy_modules() { # copy_modules DIR MODULE...: numbered, in order
		local dir=$1 m f n=10
		shift
		for m in "$@"; do
			f=$(find "$tmp/modules/lib/modules" -path "*/kernel/$m" | head -n1)
			[ -n "$f" ] || die "$(basename "$kdeb") has no $m"
			n=$((n + 1))
			cp "$f" "$dir/$n-$(basename "$m")"
		done
	}
	# shellcheck disable=SC2086 # the lists are words
	copy_modules "$root/lib/modules" $GUEST_MODULES
	# shellcheck disable=SC2086
	copy_modules "$root/lib/modules/drm" $GUEST_DRM_MODULES
	# shellcheck disable=SC2086
	copy_modules "$root/lib/modules/ide" $GUEST_IDE_MODULES
	# shellcheck disable=SC2086
	copy_modules "$root/lib/modules/share" $GUEST_SHARE_MODULES
	# shellcheck disable=SC2086
	copy_modules "$root/lib/modules/sound" $GUEST_SOUND_MODULES
	printf '%s\n' "$init_script" >"$root/init"
	chmod 755 "$root/init" "$root/bin/busybox"
	chmod 1777 "$root/tmp"
	chmod 700 "$root/root"
	# The kernel opens /dev/console before running /init. Debian's kernel
	# has one in its built-in initramfs too; making the node needs root,
	# and /init takes the console from devtmpfs itself when it has none.
	if [ "$(id -u)" = 0 ]; then
		mknod -m 600 "$root/dev/console" c 5 1
	fi
	# One date for every file (busybox's own), so the archive is the
	# same byte for byte whenever and wherever it is built.
	find "$root" -exec touch -h -r "$tmp/busybox/bin/busybox" {} +
	(cd "$root" && find . -mindepth 1 | LC_ALL=C sort |
		cpio -o -H newc -R 0:0 --reproducible --quiet) | gzip -9 -n >"$initrd_out.tmp"
	mv -f "$initrd_out.tmp" "$initrd_out"
	echo "$stamp" >"$initrd_stamp"
fi

report
