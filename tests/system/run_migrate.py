#!/usr/bin/env python3
"""End-to-end check of live migration between two btvm processes on this
machine, over loopback, with Debian's i386 kernel and the busybox
initramfs:

 1. the source guest writes 32 MiB of random bytes to a file in RAM (tmpfs)
    and notes its md5; a job keeps rewriting another 8 MiB file (memory
    written during the pre-copy) and a shell loop computes a checksum;
 2. the source's monitor socket starts the migration (JSON migrate) to a
    btvm started with --incoming; query-migrate follows it;
 3. the source ends with status 0 and says how long the guest stopped;
 4. on the destination the loop finishes with the checksum Python
    computes, the file's md5 is unchanged, and poweroff ends it with 0;
 5. bad input: a migrate to a port where nothing listens fails and the
    source's guest goes on; a TCP endpoint without a key is refused on
    both sides; connections to the destination that are not a migration,
    that bring no key or the wrong one are each refused with one line and
    the destination waits on for the real source;
 6. nothing is written through the names in /tmp that btvm 0.x used for
    the stream (symbolic links planted there to a file stay untouched);
 7. the destination migrates on, over a Unix socket (mode 0600, gone once
    the source is in), to a third btvm, where the guest powers off.

The TCP hop carries the stream sealed (XChaCha20-Poly1305) with a key file
both ends name.

Usage: run_migrate.py BTVM
Exit status: 0 passed, 1 failed, 77 the guest could not be downloaded.
"""
import os
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vmtools import (  # noqa: E402
    Fail, Monitor, Pty, check, fetch_guest, free_port,
    quick_boot_args, wait_exit)

LOOP = 400000
MAGIC = b"BTVMMIG2"


def intruder(port, keyed, tag=bytes(16)):
    """Connects as a source would, greets with a key flag, and sends a
    CONFIG record of 16 bytes with the given Poly1305 tag (without a key:
    none)."""
    c = socket.create_connection(("127.0.0.1", port))
    c.settimeout(30)
    hello = b""
    while len(hello) < 41:
        hello += c.recv(41 - len(hello))
    check(hello[:8] == MAGIC, "the destination greets with its magic")
    c.sendall(MAGIC + bytes([1 if keyed else 0]) + os.urandom(32))
    c.sendall(struct.pack("<IQ", 1, 16) + bytes(16) + (tag if keyed else b""))
    try:
        c.recv(1)   # the destination closes: refused
    except OSError:
        pass
    c.close()


def expected_sum():
    s = 0
    for i in range(LOOP):
        s = (s * 31 + i) % 1000003
    return s


def main():
    btvm = sys.argv[1]
    kernel, initrd = fetch_guest()
    work = tempfile.mkdtemp(prefix="btvm-migrate-")
    sock = os.path.join(work, "src.sock")
    dst_sock = os.path.join(work, "dst.sock")
    hop = os.path.join(work, "hop.sock")
    key = os.path.join(work, "key")
    with open(key, "wb") as f:
        f.write(os.urandom(32))
    os.chmod(key, 0o600)
    victim = os.path.join(work, "victim")
    with open(victim, "w") as f:
        f.write("untouched\n")
    port = free_port()
    common = ["--display", "none", "--net", "none", "-m", "256"]
    src = dst = third = None
    try:
        # 5. A TCP endpoint without a key: a usage error, before listening.
        r = subprocess.run([btvm, "run", "--incoming", "tcp:127.0.0.1:%d" % port] + common,
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
        check(r.returncode == 2 and "needs key=FILE" in r.stderr,
              "--incoming tcp: without a key is refused (%d, %r)" % (r.returncode, r.stderr))
        loose = os.path.join(work, "loose-key")
        with open(loose, "wb") as f:
            f.write(os.urandom(32))
        os.chmod(loose, 0o644)
        r = subprocess.run([btvm, "run", "--incoming", "tcp:127.0.0.1:%d,key=%s" % (port, loose)]
                           + common, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=60)
        check(r.returncode == 1 and "other users may read" in r.stderr,
              "a key file others may read is refused (%d, %r)" % (r.returncode, r.stderr))

        src = Pty(open(os.path.join(work, "source.log"), "wb"),
                  [btvm, "run", "--kernel", kernel, "--initrd", initrd, "--append",
                   "console=ttyS0 quiet " + quick_boot_args(), "--monitor", "unix:" + sock] + common)
        dst = Pty(open(os.path.join(work, "destination.log"), "wb"),
                  [btvm, "run", "--incoming", "tcp:127.0.0.1:%d,key=%s" % (port, key),
                   "--monitor", "unix:" + dst_sock] + common)
        dst.expect(r"waiting for a migration")
        # 6. The names btvm once used for the stream, planted as links.
        planted = ["/tmp/btvm-incoming-%d.conf" % dst.pid, "/tmp/btvm-incoming-%d.state" % dst.pid,
                   "/tmp/btvm-migrate-%d.snap" % src.pid]
        for name in planted:
            if os.path.lexists(name):
                os.unlink(name)
            os.symlink(victim, name)

        # 5. Intruders: each refused with one line, and the wait goes on.
        c = socket.create_connection(("127.0.0.1", port))
        c.sendall(b"GET / HTTP/1.0\r\n\r\n" + bytes(64))
        dst.expect(r"refused a connection from 127\.0\.0\.1 port \d+: the peer does not "
                   r"speak this btvm's migration protocol")
        c.close()
        intruder(port, keyed=False)
        dst.expect(r"refused a connection from [^:]+: the peer has no key, this end has one")
        intruder(port, keyed=True)
        dst.expect(r"refused a connection from [^:]+: the stream does not carry the key")
        intruder(port, keyed=True, tag=os.urandom(16))
        dst.expect(r"refused a connection from [^:]+: the stream does not carry the key")
        src.expect(r"# ")
        src.send("dd if=/dev/urandom of=/tmp/blob bs=1M count=32 2>/dev/null; md5sum /tmp/blob\r")
        md5 = src.expect(r"([0-9a-f]{32})  /tmp/blob").group(1)
        src.expect(r"# ")
        mon = Monitor(sock)
        mon.line()

        # 5a. Nothing listens there: an error, and the guest goes on.
        r = mon.cmd("migrate", uri="tcp:127.0.0.1:%d,key=%s" % (free_port(), key))
        check("error" in r and "cannot connect" in r["error"]["desc"],
              "a migrate to a closed port is an error")
        r = mon.cmd("migrate", uri="tcp:127.0.0.1:%d" % port)
        check("error" in r and "needs key=FILE" in r["error"]["desc"],
              "a migrate over TCP without a key is an error (%r)" % r)
        src.send('echo "still""-here"\r')
        src.expect(r"still-here\r")
        src.expect(r"# ")

        src.send("(while :; do dd if=/dev/urandom of=/tmp/churn bs=1M count=8 2>/dev/null; "
                 "done) &\r")
        src.expect(r"# ")
        src.send("i=0; s=0; while [ $i -lt %d ]; do s=$(( (s * 31 + i) %% 1000003 )); "
                 "i=$((i + 1)); done; echo SUM=$s\r" % LOOP)
        time.sleep(1)
        check(mon.cmd("migrate", uri="tcp:127.0.0.1:%d,key=%s" % (port, key)) == {"return": {}},
              "migrate starts")
        status = None
        while True:
            try:
                status = mon.cmd("query-migrate")["return"]
            except (Fail, OSError, ValueError):
                break   # the source has gone: it ended after the migration
            if status["status"] in ("completed", "failed"):
                break
            time.sleep(0.2)
        check(status is None or status["status"] != "failed",
              "the migration did not fail (%s)" % status)
        code = wait_exit(src.pid, 120)
        check(code == 0, "the source ends with status 0 (%d)" % code)
        m = src.expect(r"migrated in (\d+) ms \((\d+) rounds, (\d+) pages, the guest stopped "
                       r"for (\d+) ms\)")
        print("migration: %s ms in all, %s rounds, %s pages, downtime %s ms"
              % (m.group(1), m.group(2), m.group(3), m.group(4)))

        want = expected_sum()
        got = int(dst.expect(r"SUM=(\d+)\r", timeout=180).group(1))
        check(got == want, "the loop finishes on the destination with the right sum (%d)" % got)
        dst.expect(r"# ")
        dst.send("kill %1; md5sum /tmp/blob\r")
        check(dst.expect(r"([0-9a-f]{32})  /tmp/blob").group(1) == md5,
              "the file written before the migration is intact")
        dst.expect(r"# ")
        with open(victim) as f:
            check(f.read() == "untouched\n", "nothing was written through the planted links")
        for name in planted:
            check(os.path.islink(name), "%s is still the link planted there" % name)
            os.unlink(name)

        # 7. On over a Unix socket: only this user may connect to it.
        third = Pty(open(os.path.join(work, "third.log"), "wb"),
                    [btvm, "run", "--incoming", "unix:" + hop] + common)
        third.expect(r"waiting for a migration on " + hop)
        mode = stat.S_IMODE(os.lstat(hop).st_mode)
        check(mode == 0o600, "the migration socket is 0600 (%o)" % mode)
        dmon = Monitor(dst_sock)
        dmon.line()
        check(dmon.cmd("migrate", uri="unix:" + hop) == {"return": {}},
              "migrate over the Unix socket starts")
        check(wait_exit(dst.pid, 120) == 0, "the second source ends with status 0")
        third.send("\r")
        third.expect(r"# ")
        check(not os.path.lexists(hop), "the socket file is gone once the source is in")
        third.send("md5sum /tmp/blob\r")
        check(third.expect(r"([0-9a-f]{32})  /tmp/blob").group(1) == md5,
              "the file is intact after the second hop")
        third.expect(r"# ")
        third.send("poweroff -f\r")
        check(wait_exit(third.pid, 60) == 0, "the third btvm powers off with status 0")
    except Fail as e:
        print("run_migrate: FAIL:", e, file=sys.stderr)
        print("run_migrate: logs in", work, file=sys.stderr)
        return 1
    finally:
        for t in (src, dst, third):
            if t:
                try:
                    os.kill(t.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
    shutil.rmtree(work)     # kept, with the logs, when a check fails
    return 0


if __name__ == "__main__":
    sys.exit(main())
