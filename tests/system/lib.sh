# shellcheck shell=bash
# Sourced by the tests that boot a Linux guest and drive its console with
# console_expect (run_debian.sh, run_debian_pae.sh,
# run_disk.sh, run_net.sh, tests/firmware/run_debian_bios.sh) and by the
# window tests (run_window.sh, run_window_tablet.sh, run_window_scale.sh,
# run_framebuffer.sh, tests/firmware/run_boot_menu_window.sh): their work
# directory and its logs, their failure, the guests they boot, and the
# window tests' X server. Sets root, the source tree.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# test_begin NAME [--log DIR]: NAME names the test in its messages; sets
# logdir and work, a new directory that cleanup, run at exit, removes
# after copying its *.log and *.expect files to DIR (with --log), or all
# its files if keep_all is set (window_test_begin sets it). A test with
# more to end at exit sets its own EXIT trap and calls cleanup last.
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
		if [ -n "${keep_all:-}" ]; then
			cp -f "$work"/* "$logdir"/ 2>/dev/null || true
		else
			cp -f "$work"/*.log "$work"/*.expect "$logdir"/ 2>/dev/null || true
		fi
	fi
	rm -rf "$work"
}

# fail MESSAGE: the test fails with MESSAGE, followed by the last lines of
# the file fail_log names, if set (the console log the failure shows in),
# and the whole of each file fail_show lists, if any (a window test's
# btvm stderr and guest screen: window_test_begin sets it).
fail() {
	echo "$test_name: FAIL: $*" >&2
	[ -z "${fail_log:-}" ] || tail -n 20 "$fail_log" >&2 2>/dev/null || true
	local f
	for f in ${fail_show[@]+"${fail_show[@]}"}; do
		echo "--- $(basename "$f"):" >&2
		cat "$f" >&2 2>/dev/null || true
	done
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
# initrd, and quick, the arguments of linux/quick_boot.args that every
# test's command line adds. Exits 77 when they cannot be downloaded.
# shellcheck disable=SC2034 # kernel, initrd and quick are for the caller
linux_guest() {
	local paths
	paths=$(bash "$root/scripts/fetch-guest.sh" --print) || exit 77
	kernel=$(sed -n 1p <<<"$paths")
	initrd=$(sed -n 2p <<<"$paths")
	quick=$(quick_boot_args)
}

# quick_boot_args: prints linux/quick_boot.args without its comments.
quick_boot_args() {
	sed '/^#/d' "$root/tests/system/linux/quick_boot.args"
}

# window_test_begin NAME [--log DIR]: test_begin for a test of btvm's window
# (its pictures and captures are what a failure is read from: --log keeps
# every file of work, and fail shows btvm's stderr.log and the guest's
# screen.txt). At exit, window_cleanup ends btvm (btvm_pid), the window
# manager (wm_pid) and the X server (xvfb_pid), whichever are set, before
# cleanup: an X server left behind would outlive the test. A test with
# more to end sets its own EXIT trap and calls window_cleanup last.
window_test_begin() {
	test_begin "$@"
	keep_all=1
	fail_show=("$work/stderr.log" "$work/screen.txt")
	btvm_pid=
	wm_pid=
	xvfb_pid=
	trap window_cleanup EXIT
}

window_cleanup() {
	if [ -n "$btvm_pid" ]; then
		kill -9 "$btvm_pid" 2>/dev/null || true
		wait "$btvm_pid" 2>/dev/null || true
	fi
	if [ -n "$wm_pid" ]; then kill "$wm_pid" 2>/dev/null || true; fi
	if [ -n "$xvfb_pid" ]; then kill "$xvfb_pid" 2>/dev/null || true; fi
	cleanup
}

# xvfb_start WxHxD: starts an X server of the test's own (its log and
# display number in work); sets xvfb_pid and DISPLAY (a number the server
# picks itself, so parallel tests never collide) and unsets
# WAYLAND_DISPLAY. The test fails if the server is not up within 60 s
# (a loaded host starts it slowly).
xvfb_start() {
	local screen=$1
	exec 3>"$work/display"
	Xvfb -displayfd 3 -screen 0 "$screen" -nolisten tcp -noreset >"$work/xvfb.log" 2>&1 &
	xvfb_pid=$!
	exec 3>&-
	for _ in $(seq 600); do
		[ -s "$work/display" ] && break
		sleep 0.1
	done
	[ -s "$work/display" ] || fail "Xvfb did not start"
	DISPLAY=":$(head -1 "$work/display")"
	export DISPLAY
	unset WAYLAND_DISPLAY
}

# wm_start: starts a window manager (openbox, bare) on the X server and
# waits until it has announced itself (EWMH's _NET_SUPPORTING_WM_CHECK);
# sets wm_pid. Full screen is the window manager's to grant, as on a
# desktop: SDL asks for it through _NET_WM_STATE_FULLSCREEN.
wm_start() {
	openbox --sm-disable >"$work/openbox.log" 2>&1 &
	wm_pid=$!
	for _ in $(seq 600); do	# 60 s
		xprop -root _NET_SUPPORTING_WM_CHECK 2>/dev/null | grep -q 'window id' && break
		sleep 0.1
	done
	xprop -root _NET_SUPPORTING_WM_CHECK | grep -q 'window id' || fail "openbox did not start"
}

# wait_window SECONDS: sets win to btvm's window (titled "btvm - ...")
# once it is mapped; the test fails otherwise, or when btvm (btvm_pid)
# ends first.
wait_window() {
	local timeout=$1 start=$SECONDS
	win=
	while [ $((SECONDS - start)) -lt "$timeout" ]; do
		win=$(xdotool search --name '^btvm - ' 2>/dev/null | head -1) || true
		[ -n "$win" ] && return 0
		kill -0 "$btvm_pid" 2>/dev/null || fail "btvm ended before its window appeared"
		sleep 0.1
	done
	fail "no window titled 'btvm - ...' in ${timeout}s"
}

# wait_title TITLE SECONDS [--glob]: waits until btvm's window (win) is
# titled TITLE exactly (with --glob: a title the shell pattern TITLE
# matches); the test fails otherwise, or when btvm (btvm_pid) ends first.
wait_title() {
	local want=$1 timeout=$2 glob=${3:-} start=$SECONDS title
	while [ $((SECONDS - start)) -lt "$timeout" ]; do
		title=$(xdotool getwindowname "$win")
		if [ "$glob" = --glob ]; then
			# shellcheck disable=SC2053 # a pattern, on purpose
			[[ $title == $want ]] && return 0
		else
			[ "$title" = "$want" ] && return 0
		fi
		kill -0 "$btvm_pid" 2>/dev/null || fail "btvm ended while waiting for the title '$want'"
		sleep 0.1
	done
	fail "the window is titled '$(xdotool getwindowname "$win")', not '$want'"
}

# wait_screen PATTERN SECONDS: waits until the guest's screen text (btvm's
# --screenshot "$work/screen.txt", asked for with SIGUSR2) matches an
# extended regex; the test fails otherwise, or when btvm (btvm_pid) ends
# first.
wait_screen() {
	local pattern=$1 timeout=$2 start=$SECONDS
	while [ $((SECONDS - start)) -lt "$timeout" ]; do
		kill -0 "$btvm_pid" 2>/dev/null || fail "btvm ended while waiting for /$pattern/"
		kill -USR2 "$btvm_pid"
		sleep 0.5
		grep -Eq "$pattern" "$work/screen.txt" 2>/dev/null && return 0
	done
	fail "the guest's screen never showed /$pattern/ in ${timeout}s"
}
