#!/usr/bin/env bash
# The Debian system of scripts/make-debian-image.sh (cached in the user's
# cache directory) booted from its virtio disk with --smp 2 (issue 45:
# "the Debian system boots with 2 vCPUs"): Debian's own kernel brings the
# second CPU up from the MADT, systemd reaches multi-user, root is logged
# in on ttyS0, and
#   - nproc, /proc/cpuinfo and /sys/devices/system/cpu/online count two;
#   - two processes computing at once (a shell loop each, pinned one to
#     each CPU with taskset, util-linux being in the image) both finish
#     with the right sum, and each ran on the CPU it was pinned to
#     (/proc/self/stat's field 39, read inside the loop's process);
#   - poweroff (systemd's, clean) ends btvm with status 0.
# A private sparse copy of the image, booted with --snapshot: the cached
# image is never written.
#
# Usage: run_debian_smp.sh BTVM CONSOLE_EXPECT [--log DIR]
# Exit status: 0 passed, 1 failed, 77 the image could not be built for
# want of the network (nothing cached).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
btvm=$1 expect_bin=$2
shift 2
logdir=
[ "${1:-}" = --log ] && logdir=$2

work=$(mktemp -d)
cleanup() {
	if [ -n "$logdir" ]; then
		mkdir -p "$logdir"
		cp -f "$work"/*.log "$logdir"/ 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
fail() {
	echo "run_debian_smp: FAIL: $*" >&2
	exit 1
}

set +e
paths=$(bash "$root/scripts/make-debian-image.sh" --print --copy "$work/debian.img")
status=$?
set -e
[ "$status" = 3 ] && exit 77
[ "$status" = 0 ] || fail "scripts/make-debian-image.sh failed (status $status)"
disk=$(sed -n 1p <<<"$paths")
[ -s "$disk" ] || fail "no disk image at '$disk'"

# Each loop adds 0..29999 (449985000) and prints the CPU its own process
# ran on last (field 39 of /proc/self/stat, read by the subshell itself:
# $BASHPID's stat, not the parent shell's).
loop='s=0; i=0; while [ $i -lt 30000 ]; do s=$((s+i)); i=$((i+1)); done; echo $s-$(cut -d" " -f39 /proc/$BASHPID/stat)'
cat >"$work/smp.expect" <<EOF
fail_on Kernel panic
fail_on BUG:\s
fail_on Oops:\s
fail_on EXT4-fs error
fail_on I/O error, dev
expect debian-btvm login: root (automatic login)
expect root@debian-btvm:~#
send for i in \$(seq 120); do systemctl is-active -q multi-user.target && break; sleep 1; done; echo MU=\$(systemctl is-active multi-user.target)-\$((9*9))
expect MU=active-81
expect root@debian-btvm:~#
send echo NPROC-\$(nproc)-CPUS-\$(grep -c ^processor /proc/cpuinfo)-ONLINE-\$(cat /sys/devices/system/cpu/online)
expect NPROC-2-CPUS-2-ONLINE-0-1
expect root@debian-btvm:~#
send echo SMP-\$(dmesg | grep -c -e 'smp: Brought up 1 node, 2 CPUs')
expect SMP-1
expect root@debian-btvm:~#
send for c in 0 1; do taskset -c \$c bash -c '$loop' >/tmp/sum\$c & done; wait; echo SUMS-\$(cat /tmp/sum0)-\$(cat /tmp/sum1)
expect SUMS-449985000-0-449985000-1
expect root@debian-btvm:~#
send poweroff
expect_exit 0
EOF

start=$SECONDS
"$expect_bin" -t 600 -l "$work/smp.log" "$work/smp.expect" "$btvm" run --display none \
	-m 512 --smp 2 --no-reboot --net none --disk "$disk" --snapshot >/dev/null 2>&1 ||
	fail "the boot failed (console log: smp.log): $(tail -c 600 "$work/smp.log" | tr -d '\r')"
echo "run_debian_smp: PASS (Debian with --smp 2: two CPUs up, multi-user, nproc 2, two pinned loops right on CPUs 0 and 1, poweroff) in $((SECONDS - start)) s"
