#!/usr/bin/env bash
# End-to-end check of a real Debian system on a virtio disk: the image of
# scripts/make-debian-image.sh (built once and cached in the user's cache
# directory; Debian's own kernel and initramfs-tools initramfs inside),
# copied, booted from the disk with no --kernel (btvm finds /vmlinuz in its
# ext4) twice:
#   1. systemd reaches multi-user, root is logged in on ttyS0, a command
#      runs, the network comes up by DHCP (virtio-net on libslirp) and the
#      host logs in with ssh through a hostfwd, with the key
#      make-debian-image.sh keeps in the cache (no password); apt-get
#      update fetches the lists of a tiny apt repository (one package,
#      made here) from an HTTP server on the host's loopback through
#      10.0.2.2, as it would a mirror's through the NAT, and apt-get
#      install installs its package; a file is written, and poweroff
#      (systemd's, clean) ends btvm with status 0;
#   2. the same disk as an IDE disk (--disk FILE,if=ide) and two vCPUs
#      (--smp 2): Debian's own initramfs loads ata_piix and mounts its
#      root from /dev/sda, and the file the first boot wrote is there; the
#      kernel brought the second CPU up from the MADT, nproc,
#      /proc/cpuinfo and /sys/devices/system/cpu/online count two, and
#      two processes computing at once (a shell loop each, pinned one to
#      each CPU with taskset) both finish with the right sum, each on the
#      CPU it was pinned to (/proc/self/stat's field 39, read inside the
#      loop's process); poweroff again. With --clone-check: every copy
#      of a block (a shared library's code at another address) is
#      translated anew and compared, with the cache concurrent (with two
#      vCPUs an exit is padded by where its block lies in its line).
# then e2fsck -fn finds the image clean. (Each boot checks all it can:
# the boots are most of the test's time.)
#
# Usage: run_debian.sh BTVM CONSOLE_EXPECT [--log DIR]
# Exit status: 0 passed, 1 failed, 77 the image could not be built for
# want of the network (nothing cached).
set -euo pipefail
# shellcheck source=tests/system/lib.sh
. "$(dirname "$0")/lib.sh"
btvm=$1 expect_bin=$2
test_begin run_debian "${@:3}"

debian_image --copy "$work/debian.img"

ssh_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
key=${BTVM_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/btvm/image}/id_ed25519
[ -s "$key" ] || fail "no ssh key at $key"

# The apt repository: a flat one ("deb [trusted=yes] URL ./": no
# signature, its Release file's hashes still checked) holding one package
# of a single file, served by Python's http.server on the host's loopback.
repo=$work/repo
mkdir -p "$repo" "$work/pkg/DEBIAN" "$work/pkg/usr/share/btvm-net-check"
echo installed-through-the-nat >"$work/pkg/usr/share/btvm-net-check/hello"
printf '%s\n' "Package: btvm-net-check" "Version: 1.0" "Architecture: all" \
	"Maintainer: btvm tests <root@localhost>" \
	"Description: btvm's network test: a package fetched from the host through the NAT" \
	>"$work/pkg/DEBIAN/control"
dpkg-deb --root-owner-group -Zgzip -b "$work/pkg" "$repo/btvm-net-check_1.0_all.deb" >/dev/null ||
	fail "dpkg-deb cannot build the test package"
(cd "$repo" && dpkg-scanpackages . /dev/null 2>/dev/null >Packages) || fail "dpkg-scanpackages failed"
gzip -9nk "$repo/Packages"
{
	echo "Origin: btvm-test"
	echo "Label: btvm-test"
	# A day ago: a guest clock a little behind must not find it "not valid yet".
	echo "Date: $(date -u -R -d '1 day ago')"
	for sum in MD5Sum:md5sum SHA256:sha256sum; do
		echo "${sum%%:*}:"
		for f in Packages Packages.gz; do
			echo " $(${sum#*:} <"$repo/$f" | cut -d' ' -f1) $(stat -c %s "$repo/$f") $f"
		done
	done
} >"$repo/Release"
apt_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m http.server --bind 127.0.0.1 --directory "$repo" "$apt_port" >"$work/http.log" 2>&1 &
http_pid=$!
trap 'kill $http_pid 2>/dev/null; cleanup' EXIT
# Only this repository: the image's sources.list names deb.debian.org,
# which the test must not reach.
apt_opts="-o Dir::Etc::SourceList=/root/btvm-test.list -o Dir::Etc::SourceParts=/nonexistent"

boot() { # boot NAME [BTVM OPTION]...: one boot driven by $work/NAME.expect
	local start=$SECONDS
	"$expect_bin" -t 300 -l "$work/$1.log" "$work/$1.expect" "$btvm" run --display none \
		-m 512 --no-reboot --disk "$disk${disk_if:-}" --net "user,hostfwd=tcp:127.0.0.1:$ssh_port-:22" \
		"${@:2}" >/dev/null 2>&1 &
	local run=$!
	if [ "$1" = first ]; then
		# The guest waits for the host's ssh login: log in when it says.
		for _ in $(seq 3000); do
			grep -aq "SSH-READY-3" "$work/$1.log" 2>/dev/null && break
			kill -0 "$run" 2>/dev/null || break
			sleep 0.1
		done
		ssh_out=$(ssh -i "$key" -p "$ssh_port" -o StrictHostKeyChecking=no \
			-o UserKnownHostsFile=/dev/null -o BatchMode=yes -o ConnectTimeout=60 \
			root@127.0.0.1 'touch /root/ssh-was-here; echo "SSH-LOGIN $(uname -m) $(hostname)"' 2>"$work/ssh.log") ||
			fail "ssh into the guest through the hostfwd failed: $(tail -2 "$work/ssh.log")"
		[ "$ssh_out" = "SSH-LOGIN i686 debian-btvm" ] || fail "ssh said '$ssh_out'"
		echo "run_debian: ssh -p $ssh_port root@127.0.0.1 with the image's key: $ssh_out"
	fi
	wait "$run" || fail "boot '$1' failed (console log: $1.log): $(tail -c 600 "$work/$1.log" | tr -d '\r')"
	echo "run_debian: boot '$1' passed in $((SECONDS - start)) s"
}

cat >"$work/first.expect" <<EOF
$debian_login
send uname -m; echo FIRST-\$((6*7))
expect i686
expect FIRST-42
expect root@debian-btvm:~#
send for i in \$(seq 120); do ip -4 addr show | grep -q 'inet 10.0.2.15/' && break; sleep 1; done; ip -4 addr show | grep -o 'inet 10.0.2.15/24'; echo SSH-READY-\$((1+2))
expect inet 10.0.2.15/24
expect SSH-READY-3
expect root@debian-btvm:~#
send for i in \$(seq 120); do [ -e /root/ssh-was-here ] && break; sleep 1; done; ls /root/ssh-was-here && echo SSH-SEEN-\$((2*2))
expect SSH-SEEN-4
expect root@debian-btvm:~#
send echo 'deb [trusted=yes] http://10.0.2.2:$apt_port/ ./' >/root/btvm-test.list && apt-get $apt_opts update; echo APT-UPDATE=\$?-\$((5*5))
expect APT-UPDATE=0-25
expect root@debian-btvm:~#
send echo APT-LISTS-\$((3*3)) \$(grep -h '^Package:' /var/lib/apt/lists/10.0.2.2*_Packages)
expect APT-LISTS-9 Package: btvm-net-check
expect root@debian-btvm:~#
send apt-get $apt_opts install -y -q btvm-net-check >/root/apt-install.log 2>&1; echo APT-INSTALL=\$?-\$((6*6)) \$(cat /usr/share/btvm-net-check/hello)
expect APT-INSTALL=0-36 installed-through-the-nat
expect root@debian-btvm:~#
send echo written-in-the-first-boot >/root/persist.txt && sync && echo SAVED-\$((2*4))
expect SAVED-8
expect root@debian-btvm:~#
send poweroff
expect_exit 0
EOF
boot first

# The same disk on the IDE controller: Debian's initramfs loads ata_piix
# (udev, by the PCI ID) and finds its root on /dev/sda. Each loop adds
# 0..29999 (449985000) and prints the CPU its own process ran on last
# (field 39 of /proc/self/stat, read by the subshell itself: $BASHPID's
# stat, not the parent shell's).
loop='s=0; i=0; while [ $i -lt 30000 ]; do s=$((s+i)); i=$((i+1)); done; echo $s-$(cut -d" " -f39 /proc/$BASHPID/stat)'
cat >"$work/second.expect" <<EOF
$debian_login
send echo ROOT=\$(findmnt -n -o SOURCE /)-\$(lsmod | grep -c '^ata_piix ')-\$(cat /root/persist.txt)
expect ROOT=/dev/sda-1-written-in-the-first-boot
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
disk_if=,if=ide boot second --smp 2 --clone-check

# The guest's requests reached the host's server (slirp connects from the
# host's loopback): the lists, then the package.
grep -q '"GET /\(\./\)\?Packages' "$work/http.log" ||
	fail "the HTTP server saw no request for the package lists: $(tail -3 "$work/http.log")"
grep -q '"GET /\(\./\)\?btvm-net-check_1.0_all.deb HTTP/1.1" 200' "$work/http.log" ||
	fail "the HTTP server did not serve the package: $(tail -3 "$work/http.log")"
echo "run_debian: apt-get update and install from http://10.0.2.2:$apt_port/ (the host's loopback through the NAT)"

e2fsck -fn "$disk" >"$work/e2fsck.log" 2>&1 || fail "e2fsck -fn: $(tail -3 "$work/e2fsck.log")"
echo "run_debian: PASS (systemd to multi-user twice, the second from an IDE disk with two vCPUs and --clone-check, two pinned loops right on CPUs 0 and 1, DHCP and ssh by key through a hostfwd, apt-get update and install from the host through the NAT, the file persisted, e2fsck clean)"
