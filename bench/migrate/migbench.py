#!/usr/bin/env python3
"""Live migration's cost (issue 16): total time and the time the guest
stood still, for a Linux guest (scripts/fetch-guest.sh's kernel and
busybox initramfs) of 256 MiB and 1 GiB moved between two btvm processes
over loopback, idle and while a job rewrites 8 MiB of its memory as fast
as it can, with and without half its RAM filled with random bytes first.

Usage: bench/migrate/migbench.py BTVM [--runs N]
Figures, not pass/fail; exit status 0 when every migration completed.
"""
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../tests/system"))
from vmtools import Fail, Monitor, Pty, fetch_guest, free_port, wait_exit  # noqa: E402


def one(btvm, kernel, initrd, mib, filled, churn, work):
    sock = os.path.join(work, "src.sock")
    port = free_port()
    key = os.path.join(work, "mig.key")
    with open(key, "wb") as f:
        f.write(os.urandom(32))
    os.chmod(key, 0o600)
    common = ["--display", "none", "--net", "none", "-m", str(mib)]
    src = Pty(open(os.path.join(work, "src.log"), "wb"),
              [btvm, "run", "--kernel", kernel, "--initrd", initrd, "--append",
               "console=ttyS0 quiet", "--monitor", "unix:" + sock] + common)
    dst = Pty(open(os.path.join(work, "dst.log"), "wb"),
              [btvm, "run", "--incoming", "tcp:127.0.0.1:%d,key=%s" % (port, key)] + common)
    try:
        dst.expect(r"waiting for a migration")
        src.expect(r"# ")
        if filled:
            src.send("mount -o remount,size=90%% /tmp 2>/dev/null; dd if=/dev/urandom "
                     "of=/tmp/fill bs=1M count=%d 2>/dev/null; echo FILLED\r" % (mib // 2))
            src.expect(r"FILLED\r", timeout=600)
            src.expect(r"# ")
        if churn:
            src.send("(while :; do dd if=/dev/urandom of=/tmp/churn bs=1M count=8 "
                     "2>/dev/null; done) &\r")
            src.expect(r"# ")
            time.sleep(1)
        mon = Monitor(sock)
        mon.line()
        if mon.cmd("migrate", uri="tcp:127.0.0.1:%d,key=%s" % (port, key)) != {"return": {}}:
            raise Fail("migrate refused")
        m = src.expect(r"migrated in (\d+) ms \((\d+) rounds, (\d+) pages, the guest stopped "
                       r"for (\d+) ms\)", timeout=600)
        wait_exit(src.pid, 60)
        dst.send("\r")
        dst.expect(r"# ")
        dst.send("poweroff -f\r")
        wait_exit(dst.pid, 60)
        return [int(x) for x in m.groups()]
    finally:
        for t in (src, dst):
            try:
                os.kill(t.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def main():
    btvm = sys.argv[1]
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 3
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    paths = fetch_guest()
    work = os.path.join(root, "build/bench/migrate")
    os.makedirs(work, exist_ok=True)
    print("%-8s %-8s %-6s %10s %10s %7s %9s" % ("RAM", "filled", "churn", "total ms",
                                                 "stopped ms", "rounds", "pages"))
    ok = True
    for mib in (256, 1024):
        for filled in (False, True):
            for churn in (False, True):
                best = None
                for _ in range(runs):
                    try:
                        r = one(btvm, paths[0], paths[1], mib, filled, churn, work)
                    except Fail as e:
                        print("  failed: %s (logs in %s)" % (e, work))
                        ok = False
                        continue
                    if best is None or r[0] < best[0]:
                        best = r
                if best:
                    print("%-8s %-8s %-6s %10d %10d %7d %9d" % (
                        "%d MiB" % mib, "half" if filled else "no", "yes" if churn else "no",
                        best[0], best[3], best[1], best[2]))
    print("best of %d runs each (by total time); stopped: from the guest's stop to the "
          "destination's acknowledgement" % runs)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
