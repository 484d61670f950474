#!/usr/bin/env python3
"""Live migration of a machine with its disks: two btvm processes on this
host over a Unix socket, the destination opening the same image paths
(shared storage) or, with migrate -b, images of its own. Debian's i386 kernel and the busybox initramfs; the
disk an ext4 image made by mke2fs.

virtio (a read-write virtio disk, a read-only IDE disk beside it):
 1. the guest appends numbered lines to /mnt/log on /dev/vda, syncing
    after each, all through the migration;
 2. a destination whose --disk disagrees with the source's is refused (a
    usage error naming it); the source's migration fails, its guest goes
    on writing, the image still locked;
 3. a destination given the same --disk options (as with --restore)
    takes the machine; while the migration runs, and after it, a third
    btvm cannot open the image (locked), nor can this script lock it;
 4. the source ends with 0; on the destination the lines go on; once the
    writer is stopped every line is there, in order, in the guest and, after
    the guest unmounts, reboots with the kernel from its disk (the machine
    booted from it) and powers off, on the host (debugfs);
ide (a read-write IDE disk):
 5. a machine under --snapshot with a disk is refused;
 6. a destination that cannot take the write lock (the test-only
    LD_PRELOAD shim deny_write_lock.c) answers 'E': it ends with a line
    naming the image, the source takes its lock back and its guest writes
    on (the image locked: a third btvm cannot open it);
 7. a second migration, to a destination that can, goes through as in 4;
 8. that destination, migrating on while it cannot take its lock back
    (the shim again, on both ends), stops with one line rather than run
    unlocked, and the lines up to then are on the host, in order;
block (migrate -b: a read-write virtio disk written as in 1, a read-write
IDE disk of random bytes and zeros, copied into the destination's own
images):
 9. a destination whose image is smaller ends with a line naming it; the
    source's migration fails and its guest writes on;
10. through the human monitor's `migrate -b`, into a pre-created sparse
    image and one full of 0xff: the source ends with 0 having sent every
    chunk, the destination holds its images, the IDE copy is the source's
    byte for byte, and the lines are checked as in 4 (the source's image
    gone, the reboot's kernel comes from the copy).

Usage: run_migrate_disk.py BTVM virtio|ide|block SHIM
Exit status: 0 passed, 1 failed, 77 the guest could not be downloaded.
"""
import errno
import fcntl
import os
import re
import shutil
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmtools  # noqa: E402
from vmtools import Fail, GuestVm, check, quick_boot_args, wait_exit  # noqa: E402

APPEND = "console=ttyS0 quiet btvm.ide " + quick_boot_args()
MACHINE = ["-m", "256", "--net", "none", "--display", "none"]


class Vm(GuestVm):
    """One btvm on a pseudo-terminal, with its monitor socket; env, if
    given, added to its environment."""

    run_timeout = 120

    def __init__(self, args, sock, log, env=None):
        old = dict(os.environ)
        try:
            if env:
                os.environ.update(env)
            super().__init__(log, args + MACHINE + ["--monitor", "unix:" + sock], sock)
        finally:
            os.environ.clear()
            os.environ.update(old)


def lines_written(vm):
    out = vm.run("wc -l < /mnt/log")
    nums = [int(w) for w in out.split() if w.isdigit()]
    if not nums:
        raise Fail("no line count in %r" % out)
    return nums[-1]


def write_lock_taken(path):
    """Whether another process holds a lock on path that keeps a writer
    out, tried as btvm locks (an OFD lock, not waiting)."""
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.fcntl(fd, fcntl.F_OFD_SETLK, struct.pack("hhqqi4x", fcntl.F_WRLCK, 0, 0, 0, 0))
        return False
    except OSError as e:
        if e.errno in (errno.EAGAIN, errno.EACCES):
            return True
        raise
    finally:
        os.close(fd)


def third_refused(btvm, kernel, initrd, disk_args):
    """A third btvm with the image cannot start: status 1, the image named
    as in use."""
    r = subprocess.run([btvm, "run", "--kernel", kernel, "--initrd", initrd] + MACHINE + disk_args,
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    return r.returncode == 1 and "in use by another process" in r.stderr, r


def migrate(src, uri):
    """Starts a migration on src's monitor and follows it: its last
    status, or None once the source has gone."""
    check(src.cmd("migrate", uri=uri) == {"return": {}}, "migrate starts")
    status = None
    while True:
        try:
            status = src.cmd("query-migrate")["return"]
        except (Fail, OSError, ValueError):
            return None
        if status["status"] in ("completed", "failed"):
            return status
        time.sleep(0.1)


def start_writer(vm, dev):
    out = vm.run("mkdir -p /mnt; mount -t ext4 %s /mnt && echo MOUNTED-$((6*7))" % dev)
    check("MOUNTED-42" in out, "the guest mounts %s (%r)" % (dev, out))
    vm.send("(i=0; while :; do i=$((i+1)); echo line-$i >> /mnt/log; sync; done) "
            ">/dev/null 2>&1 &")
    vm.expect(r"guest:~ #")
    time.sleep(1)
    n = lines_written(vm)
    check(n > 0, "the guest writes lines (%d)" % n)
    return n


def check_lines(text, at_least, where):
    got = text.split("\n")
    if got and got[-1] == "":
        got.pop()
    bad = [i for i, line in enumerate(got) if line != "line-%d" % (i + 1)]
    check(not bad, "%s: every line in order (first wrong: %s)"
          % (where, bad and "%d %r" % (bad[0], got[bad[0]])))
    check(len(got) >= at_least, "%s: %d lines, at least the %d written before"
          % (where, len(got), at_least))
    return len(got)


def host_lines(img, at_least, where, repair=False):
    if repair:
        # The guest stopped without unmounting: the journal replayed.
        r = subprocess.run(["e2fsck", "-fy", img], capture_output=True, text=True)
        check(r.returncode in (0, 1), "e2fsck replays the journal (%d: %s)"
              % (r.returncode, r.stdout[-300:]))
    r = subprocess.run(["debugfs", "-R", "cat /log", img], capture_output=True, text=True)
    check(r.returncode == 0, "debugfs reads /log (%s)" % r.stderr)
    return check_lines(r.stdout, at_least, where)


def boot_disk(work, name, kernel, initrd):
    """An ext4 image with the test kernel and initramfs, which btvm boots
    directly when no --kernel is given (the kernel comes from the disk
    again at a reboot)."""
    tree = os.path.join(work, name + ".d")
    os.makedirs(os.path.join(tree, "boot"))
    shutil.copy(kernel, os.path.join(tree, "boot", "vmlinuz-6.1-test"))
    shutil.copy(initrd, os.path.join(tree, "boot", "initrd.img-6.1-test"))
    os.symlink("boot/vmlinuz-6.1-test", os.path.join(tree, "vmlinuz"))
    os.symlink("boot/initrd.img-6.1-test", os.path.join(tree, "initrd.img"))
    img = os.path.join(work, name + ".img")
    subprocess.run(["mke2fs", "-q", "-F", "-t", "ext4", "-d", tree, img, "64M"], check=True,
                   capture_output=True)
    return img


def writes_go_on(vm, at_least, pause):
    """At vm (a destination), once its shell answers, the guest's log has
    at least at_least lines and grows within pause seconds; returns the
    count it grew to."""
    vm.send("")
    vm.expect(r"guest:~ #")
    n1 = lines_written(vm)
    time.sleep(pause)
    n2 = lines_written(vm)
    check(n2 > n1 >= at_least, "the guest's writes go on at the destination (%d, %d, %d)"
          % (at_least, n1, n2))
    return n2


def finish_on(vm, at_least, img, reboot=False):
    """The writer goes on at vm, then is stopped; every line checked in the
    guest; with reboot, the guest reboots with the kernel from its disk
    (the destination found it there once the disk was its own); the guest
    powered off, the lines checked on the host."""
    n2 = writes_go_on(vm, at_least, 1)
    vm.run("kill %1; sleep 1; sync")
    out = vm.run("awk '$0 != \"line-\" NR { b++ } END { print \"BAD=\" b+0 \" N=\" NR }' "
                 "/mnt/log")
    m = re.search(r"BAD=(\d+) N=(\d+)", out)
    check(m and m.group(1) == "0", "in the guest: every line in order (%r)" % out)
    n = int(m.group(2))
    check(n >= n2, "in the guest: %d lines, at least the %d seen" % (n, n2))
    vm.run("umount /mnt")
    if reboot:
        vm.send("reboot -f")
        vm.expect(r"=== btvm test guest: Linux")
        vm.expect(r"guest:~ #")
        out = vm.run("cat /proc/cmdline")
        check("root=UUID=" in out, "after a reboot the kernel came from the disk again (%r)" % out)
    vm.send("poweroff -f")
    check(wait_exit(vm.pid, 60) == 0, "the destination powers off with status 0")
    check(host_lines(img, n, "on the host") == n, "the host reads the guest's %d lines" % n)


def case_virtio(btvm, kernel, initrd, work, log, procs):
    img = boot_disk(work, "vda", kernel, initrd)
    ro = os.path.join(work, "ro.img")
    other = os.path.join(work, "other.img")
    for path in (ro, other):
        with open(path, "wb") as f:
            f.truncate(4 << 20)
    disks = ["--disk", img, "--disk", ro + ",if=ide,readonly"]
    # Booted from the disk: the destination reads its kernel there too.
    src = Vm([btvm, "run", "--append", "btvm.ide"] + disks, os.path.join(work, "src.sock"), log)
    procs.append(src)
    src.expect(r"guest:~ #")
    n0 = start_writer(src, "/dev/vda")

    # 2. Disks that disagree with the snapshot's: refused there, the
    # source runs on with its lock.
    hop = os.path.join(work, "bad.hop")
    bad = subprocess.Popen([btvm, "run", "--incoming", "unix:" + hop, "--disk", other] + MACHINE,
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)
    procs.append(bad)
    for _ in range(600):
        if os.path.exists(hop):
            break
        time.sleep(0.05)
    status = migrate(src, "unix:" + hop)
    check(status is not None and status["status"] == "failed",
          "the migration to disagreeing disks fails (%s)" % status)
    err = bad.communicate(timeout=60)[1]
    check(bad.returncode == 2
          and "--incoming: --disk %s is not the snapshot's virtio disk 1" % other in err,
          "a destination whose --disk disagrees is refused (%d, %r)" % (bad.returncode, err))
    check(lines_written(src) > n0, "the source's guest writes on")
    check(write_lock_taken(img), "the source holds its lock")

    # 3. The same disks: taken, the image locked throughout.
    hop = os.path.join(work, "good.hop")
    dst = Vm([btvm, "run", "--incoming", "unix:" + hop] + disks, os.path.join(work, "dst.sock"),
             log)
    procs.append(dst)
    dst.expect(r"waiting for a migration")
    n0 = lines_written(src)
    check(src.cmd("migrate", uri="unix:" + hop) == {"return": {}}, "migrate starts")
    refused, r = third_refused(btvm, kernel, initrd, ["--disk", img])
    check(refused, "while the migration runs a third btvm cannot open the image (%d, %r)"
          % (r.returncode, r.stderr))
    check(wait_exit(src.pid, 120) == 0, "the source ends with status 0")
    m = src.expect(r"migrated in (\d+) ms \((\d+) rounds, (\d+) pages, the guest stopped "
                   r"for (\d+) ms\)")
    print("migration: %s ms in all, %s rounds, %s pages, downtime %s ms"
          % tuple(g.decode() for g in m.groups()))
    check(write_lock_taken(img), "after the switch-over the destination holds the lock")
    refused, r = third_refused(btvm, kernel, initrd, ["--disk", img])
    check(refused, "after it a third btvm cannot open the image (%d, %r)"
          % (r.returncode, r.stderr))
    finish_on(dst, n0, img, reboot=True)


def case_ide(btvm, kernel, initrd, shim, work, log, procs):
    img = os.path.join(work, "sda.img")
    subprocess.run(["mke2fs", "-q", "-F", "-t", "ext4", img, "32M"], check=True,
                   capture_output=True)
    # 5. --snapshot's overlay cannot go along.
    scratch = os.path.join(work, "scratch.img")
    with open(scratch, "wb") as f:
        f.truncate(4 << 20)
    snap = Vm([btvm, "run", "--kernel", kernel, "--initrd", initrd, "--append", APPEND,
               "--snapshot", "--disk", scratch + ",if=ide"], os.path.join(work, "snap.sock"), log)
    procs.append(snap)
    r = snap.cmd("migrate", uri="unix:" + os.path.join(work, "nowhere"))
    check("error" in r and "--snapshot" in r["error"]["desc"],
          "a machine under --snapshot with a disk is refused (%r)" % r)
    snap.cmd("quit")
    wait_exit(snap.pid, 60)

    src = Vm([btvm, "run", "--kernel", kernel, "--initrd", initrd, "--append", APPEND,
              "--disk", img + ",if=ide"], os.path.join(work, "src.sock"), log)
    procs.append(src)
    src.expect(r"guest:~ #")
    start_writer(src, "/dev/sda")

    # 6. The destination cannot take the lock: 'E', the source's lock back.
    preload = {"LD_PRELOAD": shim, "BTVM_TEST_DENY_WRITE_LOCK": "always",
               "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"}
    hop = os.path.join(work, "denied.hop")
    denied = Vm([btvm, "run", "--incoming", "unix:" + hop], os.path.join(work, "denied.sock"),
                log, preload)
    procs.append(denied)
    denied.expect(r"waiting for a migration")
    status = migrate(src, "unix:" + hop)
    check(status is not None and status["status"] == "failed"
          and "could not take the machine" in status["error"],
          "the migration fails when the destination cannot lock (%s)" % status)
    check(wait_exit(denied.pid, 60) == 1, "that destination ends with status 1")
    denied.expect(r"image %s is in use by another process" % re.escape(img))
    n0 = lines_written(src)
    time.sleep(0.5)
    check(lines_written(src) > n0, "the source's guest writes on")
    check(write_lock_taken(img), "the source has its lock back")
    refused, r = third_refused(btvm, kernel, initrd, ["--disk", img + ",if=ide"])
    check(refused, "a third btvm cannot open the image (%d, %r)" % (r.returncode, r.stderr))

    # 7. Then to one that can (and that, later, cannot take it back).
    hop = os.path.join(work, "good.hop")
    dst = Vm([btvm, "run", "--incoming", "unix:" + hop], os.path.join(work, "dst.sock"), log,
             dict(preload, BTVM_TEST_DENY_WRITE_LOCK="after-unlock"))
    procs.append(dst)
    dst.expect(r"waiting for a migration")
    n0 = lines_written(src)
    status = migrate(src, "unix:" + hop)
    check(status is None or status["status"] == "completed", "the migration completes (%s)"
          % status)
    check(wait_exit(src.pid, 120) == 0, "the source ends with status 0")
    n2 = writes_go_on(dst, n0, 0.5)
    check(write_lock_taken(img), "the destination holds the lock")

    # 8. On to one that refuses, and this end cannot take its lock back.
    hop = os.path.join(work, "last.hop")
    last = Vm([btvm, "run", "--incoming", "unix:" + hop], os.path.join(work, "last.sock"), log,
              preload)
    procs.append(last)
    last.expect(r"waiting for a migration")
    migrate(dst, "unix:" + hop)
    check(wait_exit(dst.pid, 60) == 1, "a source that cannot take its lock back ends with 1")
    dst.expect(r"btvm: migration: cannot take the disks back \(image %s is in use by another "
               r"process\): the guest stops here" % re.escape(img))
    check(wait_exit(last.pid, 60) == 1, "the refusing destination ends with status 1")
    host_lines(img, n2, "on the host after the stop", repair=True)


def case_block(btvm, kernel, initrd, work, log, procs):
    a, a2, small = (os.path.join(work, n) for n in ("a.img", "a2.img", "small.img"))
    b, b2 = os.path.join(work, "b.img"), os.path.join(work, "b2.img")
    a = boot_disk(work, "a", kernel, initrd)
    # b: random, then zeros, then random; b2 full of 0xff (the zeros
    # must be copied too).
    with open(b, "wb") as f:
        f.write(os.urandom(1 << 20) + bytes(2 << 20) + os.urandom((1 << 20) - 4096))
    with open(b2, "wb") as f:
        f.write(b"\xff" * ((4 << 20) - 4096))
    for path, size in ((a2, 64 << 20), (small, 32 << 20)):
        with open(path, "wb") as f:
            f.truncate(size)
    src = Vm([btvm, "run", "--append", "btvm.ide", "--disk", a, "--disk", b + ",if=ide"],
             os.path.join(work, "src.sock"), log)
    procs.append(src)
    src.expect(r"guest:~ #")
    start_writer(src, "/dev/vda")

    # 9. A destination image of another size: refused there, the source
    # runs on.
    hop = os.path.join(work, "small.hop")
    bad = Vm([btvm, "run", "--incoming", "unix:" + hop, "--disk", small, "--disk", b2 + ",if=ide"],
             os.path.join(work, "small.sock"), log)
    procs.append(bad)
    bad.expect(r"waiting for a migration")
    check(src.cmd("migrate", uri="unix:" + hop, blk=True) == {"return": {}}, "migrate -b starts")
    check(wait_exit(bad.pid, 60) == 1, "a destination with a smaller image ends with status 1")
    bad.expect(r"disk %s has 65536 sectors, the source's copy 131072" % re.escape(small))
    while src.cmd("query-migrate")["return"]["status"] == "active":
        time.sleep(0.1)
    check(src.cmd("query-migrate")["return"]["status"] == "failed", "that migration failed")
    n0 = lines_written(src)
    time.sleep(0.5)
    check(lines_written(src) > n0, "the source's guest writes on")

    # 10. Into images of its own, by the human monitor's migrate -b.
    hop = os.path.join(work, "block.hop")
    dst = Vm([btvm, "run", "--incoming", "unix:" + hop, "--disk", a2, "--disk", b2 + ",if=ide"],
             os.path.join(work, "dst.sock"), log)
    procs.append(dst)
    dst.expect(r"waiting for a migration")
    check(write_lock_taken(a2) is False, "nothing holds the destination's image yet")
    n0 = lines_written(src)
    out = src.human("migrate -b unix:" + hop)
    check("migration started" in out, "migrate -b starts (%r)" % out)
    check(wait_exit(src.pid, 120) == 0, "the source ends with status 0")
    m = src.expect(r"migrated in (\d+) ms \((\d+) rounds, (\d+) pages, (\d+) disk chunks, the "
                   r"guest stopped for (\d+) ms\)")
    print("block migration: %s ms in all, %s rounds, %s pages, %s chunks, downtime %s ms"
          % tuple(g.decode() for g in m.groups()))
    check(int(m.group(4)) >= 64 * 16 + 64, "every chunk of both disks went (%s)"
          % m.group(4).decode())
    check(write_lock_taken(a2) and write_lock_taken(b2), "the destination holds its images")
    with open(b, "rb") as f, open(b2, "rb") as g:
        check(f.read() == g.read(), "the IDE disk's copy is the source's, zeros and all")
    # The reboot's kernel must come from the destination's copy.
    os.unlink(a)
    finish_on(dst, n0, a2, reboot=True)


def main():
    btvm, part, shim = os.path.abspath(sys.argv[1]), sys.argv[2], os.path.abspath(sys.argv[3])

    def body(kernel, initrd, work, log, procs):
        if part == "virtio":
            case_virtio(btvm, kernel, initrd, work, log, procs)
        elif part == "block":
            case_block(btvm, kernel, initrd, work, log, procs)
        else:
            case_ide(btvm, kernel, initrd, shim, work, log, procs)
    return vmtools.run_case("run_migrate_disk", body)


if __name__ == "__main__":
    sys.exit(main())
