#!/usr/bin/env python3
"""9p throughput in the Linux test guest: dd of a 64 MiB file to and from
a shared folder (mount -t 9p -o trans=virtio,version=9p2000.L, Linux's
default msize and cache=none), under btvm (--share, diod) and under QEMU's
TCG with its own virtio-9p (-virtfs local,security_model=none), the same
kernel and initramfs; and the host's own dd into the same folder for
scale, and btvm's virtio-blk disk (dd to and from /dev/vda, a raw image
in the same directory) as the guest's other way to the host's storage.
Each figure is the median of RUNS runs, timed by the guest's
`time` (10 ms resolution: 64 MiB takes a few hundred ms).

Usage: bench/share/run.py BTVM [QEMU]   (QEMU default qemu-system-i386)
Not a test: nothing is compared against a limit."""
import os
import re
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../tests/system"))
from vmtools import GuestVm, fetch_guest  # noqa: E402

RUNS = 5
MIB = 64
APPEND = "console=ttyS0 quiet btvm.share"


def seconds(out):
    m = re.search(r"real\s+(\d+)m\s*([\d.]+)s", out)
    if not m:
        raise SystemExit("no time in %r" % out[-300:])
    return int(m.group(1)) * 60 + float(m.group(2))


def guest_runs(argv, log, target="/mnt/f"):
    """dd to and from target in the guest: the shared folder's file, or
    (target /dev/vda) the virtio-blk disk itself."""
    vm = GuestVm(log, argv, "/nonexistent")
    vm.expect(r"guest:~ #", timeout=300)
    if target.startswith("/mnt/"):
        vm.run("mkdir -p /mnt; mount -t 9p -o trans=virtio,version=9p2000.L hostshare /mnt")
    write, read = [], []
    for _ in range(RUNS):
        if target.startswith("/mnt/"):
            vm.run("rm -f %s" % target)
        write.append(seconds(vm.run("time dd if=/dev/zero of=%s bs=1M count=%d conv=fsync 2>&1"
                                    % (target, MIB), timeout=600)))
        vm.run("echo 3 > /proc/sys/vm/drop_caches")
        read.append(seconds(vm.run("time dd if=%s of=/dev/null bs=1M count=%d 2>&1"
                                   % (target, MIB), timeout=600)))
    if target.startswith("/mnt/"):
        vm.run("rm -f %s" % target)
    vm.kill()
    return MIB / statistics.median(write), MIB / statistics.median(read)


def host_runs(share):
    write, read = [], []
    path = os.path.join(share, "h")
    block = b"\0" * (1 << 20)
    for _ in range(RUNS):
        t = time.perf_counter()
        with open(path, "wb") as f:
            for _ in range(MIB):
                f.write(block)
            f.flush()
            os.fsync(f.fileno())
        write.append(time.perf_counter() - t)
        t = time.perf_counter()
        with open(path, "rb") as f:
            while f.read(1 << 20):
                pass
        read.append(time.perf_counter() - t)
    os.unlink(path)
    return MIB / statistics.median(write), MIB / statistics.median(read)


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    btvm = sys.argv[1]
    qemu = sys.argv[2] if len(sys.argv) > 2 else "qemu-system-i386"
    kernel, initrd = fetch_guest()
    work = tempfile.mkdtemp(prefix="btvm-share-bench-")
    share = os.path.join(work, "share")
    os.makedirs(share)
    try:
        with open(os.path.join(work, "console.log"), "wb") as log:
            rows = [("host (page cache, fsync)", host_runs(share))]
            rows.append(("btvm --share (diod)", guest_runs(
                [btvm, "run", "--kernel", kernel, "--initrd", initrd, "--append", APPEND,
                 "-m", "256", "--display", "none", "--no-reboot",
                 "--share", share + ",tag=hostshare"], log)))
            disk = os.path.join(work, "disk.raw")
            with open(disk, "wb") as f:
                f.truncate(2 * MIB << 20)
            rows.append(("btvm virtio-blk (raw image)", guest_runs(
                [btvm, "run", "--kernel", kernel, "--initrd", initrd, "--append", APPEND,
                 "-m", "256", "--display", "none", "--no-reboot", "--disk", disk], log,
                "/dev/vda")))
            if shutil.which(qemu):
                rows.append(("QEMU TCG -virtfs", guest_runs(
                    [qemu, "-m", "256", "-kernel", kernel, "-initrd", initrd, "-append", APPEND,
                     "-nographic", "-no-reboot", "-virtfs",
                     "local,path=%s,mount_tag=hostshare,security_model=none" % share], log)))
        print("%-28s %12s %12s" % ("64 MiB dd, MB/s (median of %d)" % RUNS, "write", "read"))
        for name, (w, r) in rows:
            print("%-28s %12.0f %12.0f" % (name, w, r))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
