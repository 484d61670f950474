#!/usr/bin/env bash
# End-to-end check of the network: Debian's i386 kernel with the busybox
# initramfs (virtio_net loaded by its /init) on btvm's virtio-net card
# behind user-mode NAT (libslirp), with only addresses on this machine:
#   1. DHCP gives the guest 10.0.2.15 (udhcpc's lease);
#   2. the guest fetches a file from an HTTP server on the host's loopback
#      through 10.0.2.2, and its md5 matches;
#   3. a hostfwd (tcp:127.0.0.1:PORT-:8080): the host reads a line a
#      server in the guest sends;
#   4. UDP from the guest (a TFTP request, busybox's only UDP client)
#      reaches a UDP socket on the host's loopback.
#
# Usage: run_net.sh BTVM CONSOLE_EXPECT [--log DIR]
# Exit status: 0 passed, 1 failed, 77 the guest could not be downloaded.
set -euo pipefail
# shellcheck source=tests/system/lib.sh
. "$(dirname "$0")/lib.sh"
btvm=$1 expect_bin=$2
test_begin run_net "${@:3}"
fail_log=$work/net.log
pids=()
end_servers() { # at exit: the servers and the run, then cleanup
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	cleanup
}
trap end_servers EXIT

linux_guest

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
http_port=$(free_port)
fwd_port=$(free_port)
udp_port=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

mkdir -p "$work/www"
head -c 1000000 /dev/urandom >"$work/www/blob"
blob_md5=$(md5sum <"$work/www/blob" | cut -d' ' -f1)
python3 -m http.server --bind 127.0.0.1 --directory "$work/www" "$http_port" >"$work/http.log" 2>&1 &
pids+=($!)
python3 - "$udp_port" >"$work/udp.log" 2>&1 <<'PY' &
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.settimeout(300)
data, addr = s.recvfrom(2048)
# A TFTP read request (busybox has no UDP nc): opcode, the name, mode.
print("UDP-RECEIVED", data.replace(b"\0", b" ").decode(errors="replace").strip(), flush=True)
PY
pids+=($!)

cat >"$work/net.expect" <<EOF
fail_on Kernel panic
fail_on BUG:\\s
fail_on Oops:\\s
expect === btvm test guest: Linux 6.1.
expect guest:~ #
send ip link set eth0 up && udhcpc -i eth0 -n -q -s /bin/true 2>&1 | tail -3; echo DHCP-\$((6*7))
expect lease of 10.0.2.15 obtained
expect DHCP-42
expect guest:~ #
send ip addr add 10.0.2.15/24 dev eth0 && ip route add default via 10.0.2.2 && echo ADDR-\$((6*7))
expect ADDR-42
expect guest:~ #
send wget -q -O /tmp/blob http://10.0.2.2:$http_port/blob && md5sum /tmp/blob; echo WGET-\$((6*7))
expect $blob_md5
expect WGET-42
expect guest:~ #
send (tftp -g -l /dev/null -r UDP-FROM-GUEST-\$((5*5)) 10.0.2.2 $udp_port >/dev/null 2>&1 &); echo UDP-\$((3*3))
expect UDP-9
expect guest:~ #
send (echo HELLO-FROM-GUEST-\$((6*7)) | nc -l -p 8080) & echo LISTEN-\$((1+1))
expect LISTEN-2
expect guest:~ #
timeout 60
send wait; echo SERVED-\$((4*4))
expect SERVED-16
expect guest:~ #
send poweroff -f
expect_exit 0
EOF
"$expect_bin" -t 300 -l "$work/net.log" "$work/net.expect" "$btvm" run --display none \
	--kernel "$kernel" --initrd "$initrd" --append "console=ttyS0 $quick" -m 256 --no-reboot \
	--net "user,hostfwd=tcp:127.0.0.1:$fwd_port-:8080" --stats >"$work/expect.log" 2>&1 &
run=$!
pids+=($run)
for _ in $(seq 3000); do
	grep -aq "LISTEN-2" "$work/net.log" 2>/dev/null && break
	kill -0 "$run" 2>/dev/null || fail "the guest ended early (log: net.log)"
	sleep 0.1
done
grep -aq "LISTEN-2" "$work/net.log" || fail "the guest never listened"
sleep 1
got=$(python3 - "$fwd_port" <<'PY'
import socket, sys, time
for _ in range(50):
    try:
        c = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
        break
    except OSError:
        time.sleep(0.2)
data = b""
while True:
    chunk = c.recv(1024)
    if not chunk:
        break
    data += chunk
print(data.decode(errors="replace").strip())
PY
)
[ "$got" = "HELLO-FROM-GUEST-42" ] || fail "through the hostfwd the host read '$got'"
wait "$run" || fail "the guest's script failed (log: net.log)"
grep -q "UDP-RECEIVED.*UDP-FROM-GUEST-25" "$work/udp.log" || fail "the guest's UDP datagram did not reach the host: $(cat "$work/udp.log")"
grep -a "lease of" "$work/net.log" | head -1
echo "run_net: DHCP lease, HTTP from the host (md5 $blob_md5), hostfwd read '$got', UDP to the host"
echo "run_net: PASS"
