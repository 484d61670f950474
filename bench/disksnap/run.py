#!/usr/bin/env python3
"""The overlay's cost (docs/OVERLAY.md): a guest's dd of 256 MiB of
direct writes to its virtio disk (then a sync), on the raw image, on a
fresh overlay after savevm (every cluster allocated: copied up and named)
and again on that overlay (rewrites in place); and savevm NAME's time with
a 64 MiB and a 1 GiB disk (which should not differ: a flush and a new
overlay's header and sparse map per disk). Times on the host around the
guest's command (the monitor's answer for savevm), best of ROUNDS.

Usage: run.py BTVM [ROUNDS]
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "../../tests/system"))
from vmtools import GuestVm, fetch_guest  # noqa: E402

DD = "dd if=/dev/zero of=/dev/vda bs=1M count=256 oflag=direct 2>/dev/null; sync"


def timed(f):
    t = time.monotonic()
    f()
    return time.monotonic() - t


def one_round(btvm, kernel, initrd, work, log, disk_mib):
    img = os.path.join(work, "d.img")
    shutil.rmtree(img + ".btvm-snapshots", ignore_errors=True)
    with open(img, "wb") as f:
        f.truncate(disk_mib << 20)
    vm = GuestVm(log, [btvm, "run", "--kernel", kernel, "--initrd", initrd, "--append",
                       "console=ttyS0 quiet", "-m", "256", "--net", "none", "--display",
                       "none", "--disk", img, "--monitor", "unix:" + work + "/m.sock"],
                 work + "/m.sock")
    try:
        vm.expect(r"guest:~ #")
        res = {}
        if disk_mib >= 512:
            res["raw"] = timed(lambda: vm.run(DD))
        res["savevm"] = timed(lambda: vm.human("savevm s1"))
        if disk_mib >= 512:
            res["first"] = timed(lambda: vm.run(DD))
            res["rewrite"] = timed(lambda: vm.run(DD))
        vm.cmd("quit")
        return res
    finally:
        vm.kill()


def main():
    btvm = os.path.abspath(sys.argv[1])
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    kernel, initrd = fetch_guest()
    work = tempfile.mkdtemp(prefix="btvm-bench-disksnap-")
    log = open(os.path.join(work, "console.log"), "wb")
    best = {}
    for _ in range(rounds):
        for mib in (64, 1024):
            for k, v in one_round(btvm, kernel, initrd, work, log, mib).items():
                key = (k, mib)
                best[key] = min(best.get(key, v), v)
    for (k, mib), v in sorted(best.items()):
        if k == "savevm":
            print("savevm NAME, %4d MiB disk: %.3f s" % (mib, v))
        else:
            print("dd 256 MiB direct + sync, %-8s: %.2f s, %.0f MB/s" % (k, v, 256 * 1.048576 / v))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
