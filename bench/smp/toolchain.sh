#!/usr/bin/env bash
# The C toolchain and the small C project of bench/smp's build in the
# Debian guest (run.py's debcc). The image of scripts/make-debian-image.sh
# has no compiler; this makes a second disk that brings one: an ext2
# filesystem holding Debian 12's i386 gcc, make and libc6-dev with every
# package they need that the image lacks (apt resolves them against the
# image's own dpkg status, read from IMAGE with debugfs, so nothing the
# image has is replaced), unpacked as dpkg would put them, and under
# /opt/cproj/lua the source of Lua 5.4 as Debian ships it (its upstream
# tarball, verified by apt against the signed source index). The guest
# mounts it and links its files into its own tree (cp -as), which gives it
# the compiler without writing 150 MB to its disk.
#
#	bench/smp/toolchain.sh IMAGE
#
# prints the disk's path. Cached in ${XDG_CACHE_HOME:-~/.cache}/btvm/toolchain,
# keyed by the image's package set and this recipe; a warm cache needs no
# network. Exit status: 0 done, 1 failed, 2 bad usage, 3 cannot download
# (no network and nothing cached), with one line on stderr saying why.
set -euo pipefail

# Bump when the disk's layout changes in a way PACKAGES and SOURCE do not show.
RECIPE_VERSION=2
PACKAGES="gcc make libc6-dev"
SOURCE=lua5.4

say() { echo "toolchain: $*" >&2; }
die() {
	echo "toolchain: $*" >&2
	exit 1
}
cannot_download() {
	echo "toolchain: $*" >&2
	exit 3
}

if [ $# != 1 ] || [ "${1#-}" != "$1" ]; then
	echo "usage: bench/smp/toolchain.sh IMAGE (the Debian image, an ext4 filesystem)" >&2
	exit 2
fi
image=$1
[ -r "$image" ] || die "cannot read the image $image"
for tool in debugfs mke2fs dpkg-deb apt-get; do
	command -v "$tool" >/dev/null || die "$tool is needed (e2fsprogs, dpkg, apt)"
done

cache=${XDG_CACHE_HOME:-${HOME:-$(cd ~ && pwd)}/.cache}/btvm/toolchain
mirror=${BTVM_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security_mirror=${BTVM_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[ -r "$keyring" ] || die "no $keyring (debian-archive-keyring)"
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
rm -rf "$cache"/tmp.* # left by a run that was killed (the lock is ours)
tmp=$(mktemp -d "$cache/tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

debugfs -R "cat /var/lib/dpkg/status" "$image" >"$tmp/status" 2>/dev/null ||
	die "cannot read /var/lib/dpkg/status from $image (debugfs)"
grep -q '^Package: libc6$' "$tmp/status" || die "$image has no dpkg status with libc6 in it"
key=$(printf '%s\n' "$RECIPE_VERSION" "$PACKAGES" "$SOURCE" "$(grep -E '^(Package|Version):' "$tmp/status")" |
	sha256sum | cut -c1-16)
disk=$cache/toolchain-$key.img
if [ -s "$disk" ]; then
	echo "$disk"
	exit 0
fi

# shellcheck source=scripts/apt-private.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/apt-private.sh"
apt_private_setup "$cache/apt" "$tmp/status" "$cache/apt.log" --src
say "resolving $PACKAGES against the image's packages ($mirror)"
# update may fail on one briefly out-of-sync index while the packages are
# reachable: the download below is the real test.
apt-get "${opts[@]}" update -q >>"$log" 2>&1 || true
# shellcheck disable=SC2086 # the list is words
plan=$(apt-get "${opts[@]}" -s install --no-install-recommends $PACKAGES 2>>"$log") ||
	cannot_download "apt cannot resolve $PACKAGES for i386 from $mirror (no network? its log: $log)"
mapfile -t want < <(sed -n 's/^Inst \([^ ]*\) .*/\1/p' <<<"$plan")
[ ${#want[@]} -gt 0 ] || die "apt installs nothing for $PACKAGES (its log: $log)"
# The archive holds only this plan's .debs (a killed run's are dropped),
# one a package: package names have no "_".
apt-get "${opts[@]}" clean >>"$log" 2>&1 || true
# shellcheck disable=SC2086
apt-get "${opts[@]}" install -y -q --download-only --no-install-recommends $PACKAGES >>"$log" 2>&1 ||
	cannot_download "cannot download $PACKAGES from $mirror (its log: $log)"
root=$tmp/root
mkdir -p "$root"
for name in "${want[@]}"; do
	debs=("$cache/apt/archives/${name}"_*.deb)
	[ -f "${debs[0]}" ] || die "apt planned $name but left no .deb of it in $cache/apt/archives"
	dpkg-deb -x "${debs[0]}" "$root" || die "cannot unpack ${debs[0]}"
done
# The image's /bin, /sbin and /lib are links into /usr (merged /usr), as
# dpkg's own unpacking would follow: move what the packages put there.
for d in bin sbin lib; do
	[ -d "$root/$d" ] || continue
	mkdir -p "$root/usr/$d"
	cp -a "$root/$d/." "$root/usr/$d/"
	rm -rf "${root:?}/$d"
done
# Unpacked, not installed: no maintainer script runs, so there is no
# /usr/bin/cc (an alternative gcc's postinst would make); Lua's Makefile
# calls gcc, whose link to gcc-12 the package gcc holds.

say "downloading the source of $SOURCE"
mkdir -p "$tmp/src"
(cd "$tmp/src" && apt-get "${opts[@]}" source --download-only "$SOURCE" >>"$log" 2>&1) ||
	cannot_download "cannot download the source of $SOURCE from $mirror (its log: $log)"
orig=$(find "$tmp/src" -maxdepth 1 -name "${SOURCE}_*.orig.tar.*" | head -n1)
[ -n "$orig" ] || die "the source of $SOURCE has no upstream tarball"
mkdir -p "$root/opt/cproj/lua"
tar -x -f "$orig" -C "$root/opt/cproj/lua" --strip-components=1 || die "cannot unpack $orig"
[ -f "$root/opt/cproj/lua/src/Makefile" ] || die "$orig has no src/Makefile"

size_kib=$(du -sk "$root" | cut -f1)
size_kib=$((size_kib + size_kib / 4 + 16384))
mke2fs -q -t ext2 -L btvm-cc -d "$root" "$disk.tmp" "${size_kib}k" >&2 ||
	die "mke2fs could not make the disk"
mv -f "$disk.tmp" "$disk"
find "$cache" -maxdepth 1 -name "toolchain-*.img" ! -name "$(basename "$disk")" -delete   # an older recipe or image
apt-get "${opts[@]}" clean >>"$log" 2>&1 || true   # the disk holds what the .debs did
say "made $disk: ${#want[@]} packages and $(basename "$orig")"
echo "$disk"
