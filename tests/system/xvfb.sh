# Sourced by the window tests (run_window.sh, run_framebuffer.sh): starts
# an X server of their own. xvfb_start WORKDIR WxHxD sets xvfb_pid and
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
