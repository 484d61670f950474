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
# shellcheck source=tests/system/lib.sh
. "$(dirname "$0")/lib.sh"
btvm=$1 expect_bin=$2
test_begin run_debian_smp "${@:3}"

debian_image --copy "$work/debian.img"

# Each loop adds 0..29999 (449985000) and prints the CPU its own process
# ran on last (field 39 of /proc/self/stat, read by the subshell itself:
# $BASHPID's stat, not the parent shell's).
loop='s=0; i=0; while [ $i -lt 30000 ]; do s=$((s+i)); i=$((i+1)); done; echo $s-$(cut -d" " -f39 /proc/$BASHPID/stat)'
cat >"$work/smp.expect" <<EOF
$debian_login
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
