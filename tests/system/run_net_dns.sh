#!/usr/bin/env bash
# End-to-end check of DNS through user-mode networking: the guest (Debian's
# i386 kernel, the busybox initramfs) asks slirp's DNS proxy at 10.0.2.3,
# which forwards the query to the first nameserver of the host's
# /etc/resolv.conf (libslirp reads that file itself; no field of its
# SlirpConfig names another server, and with no nameserver in the file
# the guest's queries go unanswered).
#
# So that only this machine answers, whatever resolver the host has, btvm
# runs in a network and mount namespace of this test's own (unshare): a
# loopback of its own, /etc/resolv.conf bind-mounted to "nameserver
# 127.0.0.1", and a DNS responder (Python, below) on 127.0.0.1:53 that
# knows one name. Checked:
#   1. DHCP's lease names 10.0.2.3 as the DNS server;
#   2. the guest resolves the responder's name to its address through
#      10.0.2.3, and the responder saw the query come from slirp;
#   3. an unknown name comes back NXDOMAIN (the answer is the responder's,
#      not made up on the way).
# Needs unshare(1) with root, or unprivileged user namespaces (Debian's
# default): without them the test fails saying so, it is not skipped.
#
# Usage: run_net_dns.sh BTVM CONSOLE_EXPECT [--log DIR]
# Exit status: 0 passed, 1 failed, 77 the guest could not be downloaded.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

fail() {
	echo "run_net_dns: FAIL: $*" >&2
	[ -n "${work:-}" ] && tail -n 20 "$work/dns.log" >&2 2>/dev/null
	exit 1
}

if [ "${BTVM_DNS_NETNS:-}" != inside ]; then
	# Outside: fetch the guest (the namespace has no network), then run
	# this script again inside a fresh namespace.
	paths=$(bash "$root/scripts/fetch-guest.sh" --print) || exit 77
	ns=(--net --mount)
	[ "$(id -u)" = 0 ] || ns=(--user --map-root-user "${ns[@]}")
	unshare "${ns[@]}" true 2>/dev/null ||
		fail "cannot make a network and mount namespace ($(unshare "${ns[@]}" true 2>&1 | head -1)); this test needs unshare(1) as root or unprivileged user namespaces"
	BTVM_DNS_NETNS=inside BTVM_DNS_GUEST=$paths exec unshare "${ns[@]}" bash "$0" "$@"
fi

btvm=$1 expect_bin=$2
shift 2
logdir=
[ "${1:-}" = --log ] && logdir=$2
kernel=$(sed -n 1p <<<"$BTVM_DNS_GUEST")
initrd=$(sed -n 2p <<<"$BTVM_DNS_GUEST")

work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	if [ -n "$logdir" ]; then
		mkdir -p "$logdir"
		cp -f "$work"/*.log "$work"/*.expect "$logdir"/ 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

ip link set lo up || fail "cannot bring up the namespace's loopback"
# Our resolv.conf over the host's (over the file a symlink names), only
# in this namespace. With none there (or a dangling symlink) there is no
# file to mount over: a copy of /etc with ours in it goes over /etc.
echo "nameserver 127.0.0.1" >"$work/resolv.conf"
if [ -e /etc/resolv.conf ]; then
	mount --bind "$work/resolv.conf" /etc/resolv.conf || fail "cannot bind-mount /etc/resolv.conf"
else
	mkdir "$work/etc"
	cp -a /etc/. "$work/etc/" 2>/dev/null || true # unreadable files are not needed
	rm -f "$work/etc/resolv.conf"
	cp "$work/resolv.conf" "$work/etc/resolv.conf"
	mount --bind "$work/etc" /etc || fail "cannot bind-mount a copy of /etc"
fi
grep -qx "nameserver 127.0.0.1" /etc/resolv.conf || fail "/etc/resolv.conf is not ours in the namespace"

# The responder: an A record for one name, no AAAA (an empty answer),
# NXDOMAIN for anything else; each query is logged with its source.
python3 - >"$work/dnsd.log" 2>&1 <<'PY' &
import socket, struct
NAME, ADDR = "btvm-dns-check.test", bytes([192, 0, 2, 77])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 53))
print("READY", flush=True)
while True:
    q, src = s.recvfrom(2048)
    if len(q) < 12:
        continue
    ident, flags = struct.unpack(">HH", q[:4])
    i, labels = 12, []
    while i < len(q) and q[i]:
        labels.append(q[i + 1:i + 1 + q[i]].decode(errors="replace"))
        i += 1 + q[i]
    qend = i + 5                        # the root label, QTYPE, QCLASS
    if qend > len(q):
        continue
    name, qtype = ".".join(labels).lower(), struct.unpack(">H", q[i + 1:i + 3])[0]
    print("QUERY", name, qtype, "from", src[0], flush=True)
    known = name == NAME
    answer = b""
    if known and qtype == 1:
        answer = struct.pack(">HHHIH", 0xC00C, 1, 1, 60, 4) + ADDR
    rcode = 0 if known else 3
    head = struct.pack(">HHHHHH", ident, 0x8180 | (flags & 0x0100) | rcode, 1,
                       1 if answer else 0, 0, 0)
    s.sendto(head + q[12:qend] + answer, src)
PY
pids+=($!)
for _ in $(seq 600); do	# 60 s: a loaded host starts python3 slowly
	grep -q READY "$work/dnsd.log" 2>/dev/null && break
	sleep 0.1
done
grep -q READY "$work/dnsd.log" || fail "the DNS responder did not start: $(cat "$work/dnsd.log")"

cat >"$work/dns.expect" <<'EOF'
fail_on Kernel panic
fail_on BUG:\s
fail_on Oops:\s
expect === btvm test guest: Linux 6.1.
expect guest:~ #
send printf '#!/bin/sh\\necho "LEASE $ip DNS $dns"\\n' >/tmp/lease && chmod +x /tmp/lease && echo SCRIPT-$((6*7))
expect SCRIPT-42
expect guest:~ #
send ip link set eth0 up && udhcpc -i eth0 -n -q -s /tmp/lease 2>&1 | grep LEASE | tail -1; echo DHCP-$((6*7))
expect LEASE 10.0.2.15 DNS 10.0.2.3
expect DHCP-42
expect guest:~ #
send ip addr add 10.0.2.15/24 dev eth0 && echo ADDR-$((6*7))
expect ADDR-42
expect guest:~ #
send nslookup btvm-dns-check.test 10.0.2.3; echo LOOKUP-$((6*7))
expect Address: 192.0.2.77
expect LOOKUP-42
expect guest:~ #
send nslookup no-such-name.test 10.0.2.3; echo NX-$((6*7))
expect NXDOMAIN
expect NX-42
expect guest:~ #
send poweroff -f
expect_exit 0
EOF
"$expect_bin" -t 300 -l "$work/dns.log" "$work/dns.expect" "$btvm" run --display none \
	--kernel "$kernel" --initrd "$initrd" --append "console=ttyS0 $(sed "/^#/d" "$root/tests/system/linux/quick_boot.args")" -m 256 --no-reboot \
	--stats >"$work/expect.log" 2>&1 || fail "the guest's script failed (log: dns.log)"
# The queries reached the responder through slirp's socket on the host
# side (from 127.0.0.1), for both names.
grep -q "QUERY btvm-dns-check.test 1 from 127.0.0.1" "$work/dnsd.log" ||
	fail "the responder never saw the guest's query: $(cat "$work/dnsd.log")"
grep -q "QUERY no-such-name.test" "$work/dnsd.log" ||
	fail "the responder never saw the unknown name: $(cat "$work/dnsd.log")"
grep -a "LEASE 10.0.2.15" "$work/dns.log" | tail -1
echo "run_net_dns: the lease names 10.0.2.3; btvm-dns-check.test resolved to 192.0.2.77 through it; an unknown name NXDOMAIN"
echo "run_net_dns: PASS"
