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
    source's guest goes on; a destination fed a stream that is not a
    migration ends with one line and status 1.

Usage: run_migrate.py BTVM
Exit status: 0 passed, 1 failed, 77 the guest could not be downloaded.
"""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vmtools import Fail, Monitor, Pty, check, fetch_guest, free_port, wait_exit  # noqa: E402

LOOP = 400000


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
    port = free_port()
    common = ["--display", "none", "--net", "none", "-m", "256"]
    src = dst = None
    try:
        # 5b. Not a migration: one line, status 1.
        bad_port = free_port()
        bad = subprocess.Popen([btvm, "run", "--incoming", "tcp:127.0.0.1:%d" % bad_port]
                               + common, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
        for _ in range(100):
            try:
                c = socket.create_connection(("127.0.0.1", bad_port))
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise Fail("the --incoming btvm does not listen")
        c.sendall(b"GET / HTTP/1.0\r\n\r\n" + bytes(64))
        c.close()
        out, err = bad.communicate(timeout=60)
        lines = [l for l in err.splitlines() if not l.startswith("btvm: waiting for")]
        check(bad.returncode == 1 and len(lines) == 1 and "not a btvm migration" in lines[0],
              "a destination fed garbage: one line, status 1 (%r)" % lines)

        src = Pty(open(os.path.join(work, "source.log"), "wb"),
                  [btvm, "run", "--kernel", kernel, "--initrd", initrd, "--append",
                   "console=ttyS0 quiet", "--monitor", "unix:" + sock] + common)
        dst = Pty(open(os.path.join(work, "destination.log"), "wb"),
                  [btvm, "run", "--incoming", "tcp:127.0.0.1:%d" % port] + common)
        dst.expect(r"waiting for a migration")
        src.expect(r"# ")
        src.send("dd if=/dev/urandom of=/tmp/blob bs=1M count=32 2>/dev/null; md5sum /tmp/blob\r")
        md5 = src.expect(r"([0-9a-f]{32})  /tmp/blob").group(1)
        src.expect(r"# ")
        mon = Monitor(sock)
        mon.line()

        # 5a. Nothing listens there: an error, and the guest goes on.
        r = mon.cmd("migrate", uri="tcp:127.0.0.1:%d" % free_port())
        check("error" in r and "cannot connect" in r["error"]["desc"],
              "a migrate to a closed port is an error")
        src.send('echo "still""-here"\r')
        src.expect(r"still-here\r")
        src.expect(r"# ")

        src.send("(while :; do dd if=/dev/urandom of=/tmp/churn bs=1M count=8 2>/dev/null; "
                 "done) &\r")
        src.expect(r"# ")
        src.send("i=0; s=0; while [ $i -lt %d ]; do s=$(( (s * 31 + i) %% 1000003 )); "
                 "i=$((i + 1)); done; echo SUM=$s\r" % LOOP)
        time.sleep(1)
        check(mon.cmd("migrate", uri="tcp:127.0.0.1:%d" % port) == {"return": {}},
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
        dst.send("poweroff -f\r")
        check(wait_exit(dst.pid, 60) == 0, "the destination powers off with status 0")
    except Fail as e:
        print("run_migrate: FAIL:", e, file=sys.stderr)
        print("run_migrate: logs in", work, file=sys.stderr)
        return 1
    finally:
        for t in (src, dst):
            if t:
                try:
                    os.kill(t.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
