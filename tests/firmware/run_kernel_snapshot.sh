#!/usr/bin/env bash
# savevm and --restore of a machine whose kernel the firmware booted
# (--firmware bios --kernel): saved at the shell of Debian's kernel, the
# snapshot names the kernel, initrd and command line with the firmware;
# restored, the shell takes commands, and a reboot there runs SeaBIOS
# again, which boots the same kernel through fw_cfg (rebuilt from those
# files on restore) with the same command line. With --pae, Debian's
# 686-pae kernel: the saved vCPU has PAE paging on, EFER.NXE set and its
# PDPTEs cached.
# Usage: run_kernel_snapshot.sh [--pae] BTVM CONSOLE_EXPECT
set -u
pae=0
if [ "${1:-}" = --pae ]; then
	pae=1
	shift
fi
btvm=$1
expect_bin=$2
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "run_kernel_snapshot: FAIL: $*"; exit 1; }
mapfile -t guest < <(bash "$here/../../scripts/fetch-guest.sh" --print) || fail "no Linux guest"
if [ "$pae" = 1 ]; then
	guest[0]=$(bash "$here/../../scripts/fetch-guest.sh" --pae) || fail "no 686-pae kernel"
fi

cat >"$work/save.expect" <<EOS
timeout 180
fail_on Kernel panic
expect_text Booting from ROM...
expect guest:~ #
send echo saved > /tmp/mark; echo MARK-\$((6*7))
expect MARK-42
expect guest:~ #
run python3 $here/monitor_command.py --stderr $work/save.stderr $work/mon.sock savevm '{"file": "$work/k.snap"}' && test -s $work/k.snap
send poweroff -f
expect_exit 0
EOS
cat >"$work/restore.expect" <<EOS
timeout 180
fail_on Kernel panic
run python3 $here/monitor_command.py --stderr $work/restore.stderr $work/mon2.sock query-status
send echo \$(cat /tmp/mark)-restored-\$(grep -c btvm-snap-marker /proc/cmdline)
expect saved-restored-1
expect guest:~ #
send i=0; while [ \$i -lt 100 ]; do /bin/true; i=\$((i+1)); done; echo forks=\$i
expect forks=100
expect guest:~ #
send reboot -f
expect_text SeaBIOS (version
expect_text Booting from ROM...
expect_text Probing EDD
expect guest:~ #
send echo REBOOTED-\$(grep -c btvm-snap-marker /proc/cmdline)-\$(cat /tmp/mark 2>/dev/null || echo fresh)
expect REBOOTED-1-fresh
expect guest:~ #
send poweroff -f
expect_exit 0
EOS
# console_expect on `btvm run ARGS`, btvm's stderr in FILE, printed on a
# failure: on the terminal it was read only by the step after the monitor
# command, and a btvm that exited while that command waited for its socket
# left an empty log, as if it had hung. console_expect tells its exit
# status, and the monitor command gives up at once with both (its pid
# stays btvm's through the exec).
# Usage: run_btvm SCRIPT FILE WHAT ARGS...
run_btvm() {
	local script=$1 file=$2 what=$3
	shift 3
	"$expect_bin" -t 180 "$script" sh -c 'exec "$@" 2>"$0"' "$file" "$btvm" run "$@" && return 0
	echo "---- btvm's stderr in $what ----"
	cat "$file"
	echo "---- end of btvm's stderr ----"
	fail "$what"
}
run_btvm "$work/save.expect" "$work/save.stderr" "the run that saves at the shell" \
	--firmware bios --kernel "${guest[0]}" --initrd "${guest[1]}" \
	--append "console=ttyS0 panic=-1 btvm-snap-marker $(sed "/^#/d" "$here/../system/linux/quick_boot.args")" --net none --display none -m 256 \
	--monitor unix:"$work/mon.sock"
run_btvm "$work/restore.expect" "$work/restore.stderr" "the restored run" \
	--restore "$work/k.snap" --display none --monitor unix:"$work/mon2.sock"
echo "run_kernel_snapshot: the shell saved and restored; a reboot booted the kernel through the firmware again"
