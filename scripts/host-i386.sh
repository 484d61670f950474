#!/usr/bin/env bash
# Whether this host runs 32-bit x86 (i386) programs, and how. btvm itself
# never needs to (translated code is 64-bit), but its tooling does: the
# Debian image's debootstrap runs the guest's i386 programs in a chroot,
# and a few tests run i386 programs on the host (the differential test's
# native runner, the lesson's POPF program, the benchmarks' native side).
# Some hosts cannot: a kernel without IA32 emulation, or one running where
# 32-bit code segments are refused (some paravirtualized sandboxes).
#
#	scripts/host-i386.sh --check   prints native, emulated or none
#	                               (exit 0, 1 or 2)
#	scripts/host-i386.sh --setup   as --check, but where i386 programs do
#	                               not run, installs qemu-user-static and
#	                               registers it with binfmt_misc for them
#	                               (root, or sudo); exit 0 once they run
#
# "emulated" means i386 programs run, but through an i386 entry of
# binfmt_misc (QEMU's user-mode emulator), not on the host CPU: fine for
# debootstrap, not a reference for the differential test.
set -euo pipefail

mode=${1:-}
case $mode in
--check|--setup) ;;
*) echo "usage: scripts/host-i386.sh --check|--setup" >&2; exit 2 ;;
esac

binfmt=/proc/sys/fs/binfmt_misc
# The name this script registers its entry under.
entry=btvm-i386

# An enabled binfmt_misc entry that takes i386 ELF executables (its magic
# starts with ELF, 32-bit, little-endian, and it names an i386 emulator).
i386_binfmt() {
	local f
	for f in "$binfmt"/*; do
		case ${f##*/} in register|status) continue ;; esac
		[ -f "$f" ] || continue
		grep -qx enabled "$f" 2>/dev/null || continue
		grep -q '^magic 7f454c460101' "$f" 2>/dev/null || continue
		grep -Eq '^interpreter .*(i386|i486|i686)' "$f" 2>/dev/null && return 0
	done
	return 1
}

# Whether a static i386 program runs here at all.
probe_dir=
cleanup() { [ -z "$probe_dir" ] || rm -rf "$probe_dir"; }
trap cleanup EXIT
runs_i386() {
	if [ -z "$probe_dir" ]; then
		probe_dir=$(mktemp -d)
		printf 'int main(void) { return 0; }\n' > "$probe_dir/p.c"
		gcc -m32 -static -o "$probe_dir/p" "$probe_dir/p.c" 2>/dev/null || {
			echo "host-i386: cannot build an i386 program (gcc-multilib missing?)" >&2
			exit 2
		}
	fi
	"$probe_dir/p" 2>/dev/null
}

check() {
	if runs_i386; then
		if i386_binfmt; then
			echo emulated
			return 1
		fi
		echo native
		return 0
	fi
	echo none
	return 2
}

if [ "$mode" = --check ]; then
	check
	exit $?
fi

status=0
check > /dev/null || status=$?
[ "$status" = 2 ] || exit 0

sudo=()
[ "$(id -u)" = 0 ] || sudo=(sudo)
echo "host-i386: this host does not run 32-bit x86 programs; registering QEMU's i386 user-mode emulator with binfmt_misc for them (debootstrap of the i386 guest image, tests' i386 helpers)"
if ! dpkg-query -W -f='${Status}' qemu-user-static 2>/dev/null | grep -q 'install ok installed'; then
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends qemu-user-static ||
		{ "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q || true
		  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends qemu-user-static; }
fi
if [ ! -e "$binfmt/register" ]; then
	"${sudo[@]}" mount -t binfmt_misc binfmt_misc "$binfmt" ||
		{ echo "host-i386: cannot mount binfmt_misc at $binfmt" >&2; exit 1; }
fi
if [ ! -e "$binfmt/$entry" ]; then
	# QEMU's own i386 entry (qemu-binfmt-conf.sh): ELF, 32-bit, LSB,
	# executable or shared object, machine 3. F: the interpreter is
	# opened now, so it also serves programs inside a chroot.
	magic='\x7fELF\x01\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x03\x00'
	mask='\xff\xff\xff\xff\xff\xfe\xfe\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff'
	printf '%s' ":$entry:M::$magic:$mask:/usr/bin/qemu-i386-static:F" |
		"${sudo[@]}" tee "$binfmt/register" > /dev/null ||
		{ echo "host-i386: cannot register qemu-i386-static with binfmt_misc" >&2; exit 1; }
fi
if ! runs_i386; then
	echo "host-i386: i386 programs still do not run after registering qemu-i386-static" >&2
	exit 1
fi
exit 0
