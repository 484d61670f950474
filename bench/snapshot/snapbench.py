#!/usr/bin/env python3
"""Snapshot size and save/restore time for a Linux guest (Debian's i386
kernel and the busybox initramfs) of a given RAM size, in three states:
idle at the shell, with half its RAM holding a file of zeros-and-text
(compressible), and with half its RAM holding random bytes (the worst
case for zstd). Save time is the monitor's savevm round trip (the guest
is stopped for it); restore time is from starting `btvm run --restore`
to the restored guest's shell answering a command.

Usage: snapbench.py BTVM MIB [MIB...]
"""
import json
import os
import pty
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time


class Vm:
    def __init__(self, args, sock):
        self.sock = sock
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execv(args[0], args + ["--display", "none", "--monitor", "unix:" + sock])
        self.buf = b""
        self.mon = None

    def expect(self, pattern, timeout=900):
        rx = re.compile(pattern.encode())
        end = time.time() + timeout
        while True:
            m = rx.search(self.buf)
            if m:
                self.buf = self.buf[m.end():]
                return m
            r = select.select([self.fd], [], [], max(0, end - time.time()))[0]
            if not r:
                sys.exit("snapbench: timed out waiting for %r" % pattern)
            self.buf += os.read(self.fd, 65536)

    def send(self, text):
        os.write(self.fd, (text + "\r").encode())

    def savevm(self, path):
        if not self.mon:
            s = socket.socket(socket.AF_UNIX)
            s.connect(self.sock)
            self.mon = s.makefile("rw")
            self.mon.readline()
        t = time.time()
        self.mon.write(json.dumps({"execute": "savevm", "arguments": {"file": path}}) + "\n")
        self.mon.flush()
        while True:
            msg = json.loads(self.mon.readline())
            if "event" not in msg:
                break
        if msg != {"return": {}}:
            sys.exit("snapbench: savevm failed: %s" % msg)
        return time.time() - t

    def kill(self):
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        os.close(self.fd)


def main():
    btvm = os.path.abspath(sys.argv[1])
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    kernel, initrd = subprocess.run(["bash", os.path.join(root, "scripts/fetch-guest.sh"),
                                     "--print"], check=True, capture_output=True,
                                    text=True).stdout.split("\n")[:2]
    work = tempfile.mkdtemp(prefix="btvm-snapbench-")
    snap = os.path.join(work, "vm.snap")
    fills = [("idle", None),
             ("half text", "yes 'btvm snapshot benchmark line' | head -c %d > /fill"),
             ("half random", "head -c %d /dev/urandom > /fill")]
    print("%-8s %-12s %12s %10s %12s" % ("RAM", "state", "file (MiB)", "save (s)", "restore (s)"))
    for mib in sys.argv[2:]:
        for name, fill in fills:
            vm = Vm([btvm, "run", "--kernel", kernel, "--initrd", initrd, "--append",
                     "console=ttyS0 quiet", "-m", mib, "--no-reboot"], os.path.join(work, "m.sock"))
            vm.expect(r"guest:~ #")
            if fill:
                vm.send(fill % (int(mib) << 19) + "; echo FILLED-$((2*3))")
                vm.expect(r"FILLED-6", 1800)
            save = vm.savevm(snap)
            vm.kill()
            size = os.path.getsize(snap) / 1048576
            t = time.time()
            vm = Vm([btvm, "run", "--restore", snap], os.path.join(work, "r.sock"))
            vm.send("echo UP-$((4*5))")
            vm.expect(r"UP-20")
            restore = time.time() - t
            vm.kill()
            print("%-8s %-12s %12.1f %10.2f %12.2f" % (mib + " MiB", name, size, save, restore),
                  flush=True)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
