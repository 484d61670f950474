# shellcheck shell=bash
# Sourced by the tests that boot a Linux guest and drive its console with
# console_expect (run_debian.sh, run_debian_pae.sh, run_debian_smp.sh,
# run_disk.sh, run_net.sh, tests/firmware/run_debian_bios.sh): their work
# directory and its logs, their failure, and the guests they boot. Sets
# root, the source tree.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# test_begin NAME [--log DIR]: NAME names the test in its messages; sets
# logdir and work, a new directory that cleanup, run at exit, removes
# after copying its *.log and *.expect files to DIR (with --log). A test
# with more to end at exit sets its own EXIT trap and calls cleanup last.
test_begin() {
	test_name=$1
	logdir=
	[ "${2:-}" = --log ] && logdir=$3
	work=$(mktemp -d)
	trap cleanup EXIT
}

cleanup() {
	if [ -n "$logdir" ]; then
		mkdir -p "$logdir"
		cp -f "$work"/*.log "$work"/*.expect "$logdir"/ 2>/dev/null || true
	fi
	rm -rf "$work"
}

# fail MESSAGE: the test fails with MESSAGE, followed by the last lines of
# the file fail_log names, if set (the console log the failure shows in).
fail() {
	echo "$test_name: FAIL: $*" >&2
	[ -z "${fail_log:-}" ] || tail -n 20 "$fail_log" >&2 2>/dev/null || true
	exit 1
}

# debian_image [OPTION]...: the Debian system of scripts/make-debian-image.sh
# --print with those options (built once and cached); sets paths to the
# lines it printed and disk to the first, the disk image. Exits 77 when
# the image cannot be built for want of the network (nothing cached).
debian_image() {
	local status=0
	paths=$(bash "$root/scripts/make-debian-image.sh" --print "$@") || status=$?
	[ "$status" = 3 ] && exit 77
	[ "$status" = 0 ] || fail "scripts/make-debian-image.sh $* failed (status $status)"
	disk=$(sed -n 1p <<<"$paths")
	[ -s "$disk" ] || fail "no disk image at '$disk'"
}

# The start of a console_expect script for the Debian system: the kernel
# and the file system must not complain, root is logged in on the serial
# console (the image's autologin), and systemd reaches multi-user.
# shellcheck disable=SC2016,SC2034 # the guest's shell expands it; for the tests
debian_login='fail_on Kernel panic
fail_on BUG:\s
fail_on Oops:\s
fail_on EXT4-fs error
fail_on I/O error, dev
expect debian-btvm login: root (automatic login)
expect root@debian-btvm:~#
send for i in $(seq 120); do systemctl is-active -q multi-user.target && break; sleep 1; done; echo MU=$(systemctl is-active multi-user.target)-$((9*9))
expect MU=active-81
expect root@debian-btvm:~#'

# linux_guest: Debian's i386 kernel and the busybox initramfs of
# scripts/fetch-guest.sh (downloaded once and cached); sets kernel and
# initrd. Exits 77 when they cannot be downloaded.
# shellcheck disable=SC2034 # kernel and initrd are for the caller
linux_guest() {
	local paths
	paths=$(bash "$root/scripts/fetch-guest.sh" --print) || exit 77
	kernel=$(sed -n 1p <<<"$paths")
	initrd=$(sed -n 2p <<<"$paths")
}
