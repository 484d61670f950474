# Sourced by the window tests (run_window.sh, run_framebuffer.sh,
# tests/firmware/run_boot_menu_window.sh): starts an X server of their own,
# finds btvm's window and reads the guest's screen. xvfb_start WORKDIR WxHxD sets xvfb_pid and
# DISPLAY (a number the server picks itself, so parallel tests never
# collide) and unsets WAYLAND_DISPLAY; it returns 1 if the server did not
# come up within 10 s. The caller kills xvfb_pid when done.
xvfb_start() {
	local dir=$1 screen=$2
	exec 3>"$dir/display"
	Xvfb -displayfd 3 -screen 0 "$screen" -nolisten tcp -noreset >"$dir/xvfb.log" 2>&1 &
	xvfb_pid=$!
	exec 3>&-
	for _ in $(seq 100); do
		[ -s "$dir/display" ] && break
		sleep 0.1
	done
	[ -s "$dir/display" ] || return 1
	export DISPLAY=":$(head -1 "$dir/display")"
	unset WAYLAND_DISPLAY
}

# wait_window SECONDS: sets win to btvm's window (titled "btvm - ...")
# once it is mapped; the caller's fail() ends the test otherwise, or when
# btvm (btvm_pid) ends first.
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

# wait_screen PATTERN SECONDS: waits until the guest's screen text (btvm's
# --screenshot "$work/screen.txt", asked for with SIGUSR2) matches an
# extended regex; the caller's fail() ends the test otherwise, or when
# btvm (btvm_pid) ends first.
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
