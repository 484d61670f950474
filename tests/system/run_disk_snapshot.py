#!/usr/bin/env python3
"""Named snapshots that keep the disk (docs/OVERLAY.md): Debian's i386
kernel and the busybox initramfs, an ext4 image on a virtio or an IDE
disk, the guest re-reading the disk (its page cache dropped) after each
restore.

 1. (a read-only disk beside the disk, which is not frozen) the guest
    writes /mnt/a (A1) and syncs, savevm s1; writes /mnt/b and
    syncs, savevm s2; overwrites /mnt/a (A2), writes /mnt/c, syncs;
 2. loadvm s1: after dropping its caches the guest reads A1 and no b;
    loadvm s2: A1 and b, no c; info snapshots lists both;
 3. delvm s1: info snapshots lists s2 alone; loadvm s2 still works;
 4. the machine migrates live to a second btvm on the same disk (shared
    storage): the guest there reads b and writes /mnt/d; a third btvm on
    the disk is refused (the top's lock went along); then block migration
    (migrate -b) into a fresh raw image: it holds the chain's content;
 5. the guest powers off; a fresh start from the disk (no restore) sees
    d: the chain is opened by default; under --snapshot, savevm NAME is
    refused (nothing to freeze);
 6. btvm run --loadvm s2 (the disk given) resumes s2: no d, b there;
 7. a damaged overlay (a flipped map byte, then truncated) is refused
    at start with one line and a status other than 0, as is btvm img
    info; the intact one works again;
 8. btvm img commit is refused while s2 depends on the image; once s2 is
    deleted, it folds the overlays in: debugfs on the image alone reads
    the latest data, and the snapshot directory is gone.

 9. (kernel) a disk with its kernel: after savevm k1 the guest deletes
    /vmlinuz; a fresh start reads the chain and finds no kernel; --loadvm
    k1 resumes, and the guest's reboot finds k1's kernel.

Usage: run_disk_snapshot.py BTVM virtio|ide|kernel
Exit status: 0 passed, 1 failed, 77 the guest could not be downloaded.
"""
import json
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmtools  # noqa: E402
from vmtools import GuestVm, check, quick_boot_args, wait_exit  # noqa: E402

MACHINE = ["-m", "256", "--net", "none", "--display", "none"]


class Vm(GuestVm):
    run_timeout = 120

    def __init__(self, args, sock, log):
        super().__init__(log, args + MACHINE + ["--monitor", "unix:" + sock], sock)


def human_ok(vm, line):
    out = vm.human(line)
    check(not out.startswith("error"), "%s answers without an error (%r)" % (line, out))
    return out


def reread(vm, path):
    """The file's content as the disk has it: the guest's caches dropped."""
    out = vm.run("sync; echo 3 > /proc/sys/vm/drop_caches; cat %s 2>/dev/null || echo NONE"
                 % path)
    return out.strip().splitlines()[-1] if out.strip() else ""


def mount(vm, dev):
    """Mounts dev at /mnt once the guest's driver has attached it (two IDE
    disks may still be probed when the shell first answers)."""
    out = vm.run("mkdir -p /mnt; for i in 1 2 3 4 5 6 7 8 9 10; do "
                 "mount -t ext4 %s /mnt 2>/dev/null && break; sleep 1; done; "
                 "grep -q ' /mnt ' /proc/mounts && echo MOUNTED-$((6*7))" % dev)
    check("MOUNTED-42" in out, "the guest mounts %s (%r)" % (dev, out))


def shell(vm):
    vm.send("")
    vm.expect(r"guest:~ #")


def run_case(btvm, kernel, initrd, iface, work, log, procs):
    img = os.path.join(work, "disk.img")
    subprocess.run(["mke2fs", "-q", "-F", "-t", "ext4", img, "64M"], check=True,
                   capture_output=True)
    append = "console=ttyS0 quiet " + quick_boot_args() + (" btvm.ide" if iface == "ide" else "")
    dev = "/dev/sda" if iface == "ide" else "/dev/vda"
    # A read-only disk beside it, which nothing freezes: on virtio (two
    # IDE disks on one channel may take their sd names in either order).
    ro = os.path.join(work, "ro.img")
    with open(ro, "wb") as f:
        f.truncate(1 << 20)
    disk = ["--disk", img + (",if=ide" if iface == "ide" else ""), "--disk", ro + ",readonly"]
    base = [btvm, "run", "--kernel", kernel, "--initrd", initrd, "--append", append] + disk
    n = [0]

    def start(extra=(), argv=None):
        n[0] += 1
        vm = Vm((argv or base) + list(extra), os.path.join(work, "m%d.sock" % n[0]), log)
        procs.append(vm)
        return vm

    # 1.
    vm = start()
    vm.expect(r"guest:~ #")
    mount(vm, dev)
    vm.run("echo A1 > /mnt/a; sync")
    human_ok(vm, "savevm s1")
    vm.run("echo B > /mnt/b; sync")
    human_ok(vm, "savevm s2")
    vm.run("echo A2 > /mnt/a; echo C > /mnt/c; sync")
    check(reread(vm, "/mnt/a") == "A2", "the guest reads its last write")
    # 2.
    human_ok(vm, "loadvm s1")
    shell(vm)
    check(reread(vm, "/mnt/a") == "A1", "after loadvm s1 the disk has A1")
    check(reread(vm, "/mnt/b") == "NONE", "after loadvm s1 the disk has no b")
    human_ok(vm, "loadvm s2")
    shell(vm)
    check(reread(vm, "/mnt/a") == "A1" and reread(vm, "/mnt/b") == "B",
          "after loadvm s2 the disk has A1 and b")
    check(reread(vm, "/mnt/c") == "NONE", "after loadvm s2 the disk has no c")
    listing = human_ok(vm, "info snapshots")
    check(re.search(r"^s1 ", listing, re.M) and re.search(r"^s2 ", listing, re.M),
          "info snapshots lists s1 and s2 (%r)" % listing)
    check(not os.path.exists(ro + ".btvm-snapshots"), "the read-only disk is not frozen")
    r = vm.cmd("query-snapshots")
    check([x["name"] for x in r.get("return", [])] == ["s1", "s2"]
          and all(x["disks"] == 1 and x["vm-state-size"] > 0 for x in r["return"]),
          "query-snapshots lists them in JSON (%r)" % r)
    # 3.
    human_ok(vm, "delvm s1")
    listing = human_ok(vm, "info snapshots")
    check(not re.search(r"^s1 ", listing, re.M) and re.search(r"^s2 ", listing, re.M),
          "after delvm s1 only s2 is listed (%r)" % listing)
    check(vm.human("loadvm s1").startswith("error"), "loadvm s1 is refused once deleted")
    human_ok(vm, "loadvm s2")
    shell(vm)
    check(reread(vm, "/mnt/b") == "B", "loadvm s2 still works after delvm s1")
    # 4. Live migration on shared storage, the disk a chain: the
    # destination opens the same chain and takes the top's lock.
    hop = os.path.join(work, "hop")
    dst = start(["--incoming", "unix:" + hop], [btvm, "run"] + disk)
    dst.expect(r"waiting for a migration")
    check(vm.cmd("migrate", uri="unix:" + hop) == {"return": {}}, "migrate starts")
    check(wait_exit(vm.pid, 120) == 0, "the source ends with status 0 once migrated")
    vm = dst
    shell(vm)
    vm.run("echo D > /mnt/d; sync")
    check(reread(vm, "/mnt/b") == "B" and reread(vm, "/mnt/d") == "D",
          "the destination reads and writes the chain")
    r = subprocess.run(base + MACHINE, stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=120)
    check(r.returncode == 1 and "in use by another process" in r.stderr,
          "a second btvm on the disk is refused (%r)" % r.stderr)
    # Block migration of the chained disk: the destination's own raw
    # image gets what the guest sees (the chain's content).
    copy = os.path.join(work, "copy.img")
    with open(copy, "wb") as f:
        f.truncate(64 << 20)
    hop = os.path.join(work, "hop2")
    # (The read-only disk stays shared: block migration copies the
    # read-write ones.)
    cdisk = ["--disk", copy + (",if=ide" if iface == "ide" else "")] + disk[2:]
    dst = start(["--incoming", "unix:" + hop], [btvm, "run"] + cdisk)
    dst.expect(r"waiting for a migration")
    check(vm.cmd("migrate", uri="unix:" + hop, blk=True) == {"return": {}},
          "block migration starts")
    check(wait_exit(vm.pid, 120) == 0, "the source ends with status 0 once migrated")
    vm = dst
    shell(vm)
    check(reread(vm, "/mnt/b") == "B" and reread(vm, "/mnt/d") == "D"
          and reread(vm, "/mnt/a") == "A1", "the block-migrated raw copy has the chain's content")
    vm.run("umount /mnt")
    r = subprocess.run(["debugfs", "-R", "cat /d", copy], capture_output=True, text=True)
    check(r.stdout.strip() == "D", "debugfs reads d in the copy (%r)" % r.stdout)
    mount(vm, dev)
    # 5.
    vm.run("umount /mnt")
    vm.send("poweroff -f")
    check(wait_exit(vm.pid, 60) == 0, "the guest powers off with status 0")
    vm = start()
    vm.expect(r"guest:~ #")
    mount(vm, dev)
    check(reread(vm, "/mnt/d") == "D" and reread(vm, "/mnt/b") == "B",
          "a fresh start from the disk sees the latest writes")
    vm.run("umount /mnt")
    vm.send("poweroff -f")
    check(wait_exit(vm.pid, 60) == 0, "it powers off")
    # Under --snapshot nothing is frozen, and a named snapshot has
    # nowhere to live.
    vm = start(["--snapshot"])
    vm.expect(r"guest:~ #")
    out = vm.human("savevm x")
    check(out.startswith("error") and "savevm FILE" in out,
          "savevm NAME under --snapshot is refused (%r)" % out)
    vm.cmd("quit")
    check(wait_exit(vm.pid, 60) == 0, "quit ends it with status 0")
    # 6.
    # The machine is the snapshot's: --disk may be given, as with --restore.
    vm = start(["--loadvm", "s2"], [btvm, "run"] + disk)
    shell(vm)
    check(reread(vm, "/mnt/d") == "NONE" and reread(vm, "/mnt/b") == "B",
          "btvm run --loadvm s2 resumes s2, memory and disk")
    vm.cmd("quit")
    check(wait_exit(vm.pid, 60) == 0, "quit ends it with status 0")
    # 7.
    snapdir = img + ".btvm-snapshots"
    # The file frozen at s2 (below the active one): it holds b.
    with open(os.path.join(snapdir, "index.json")) as f:
        active = os.path.join(snapdir, json.load(f)["snapshots"][0]["frozen"])
    saved = active + ".saved"
    shutil.copy(active, saved)
    with open(active, "r+b") as f:
        f.seek(65536)
        entries = f.read(65536)
        at = next((i for i in range(0, len(entries), 8) if entries[i:i + 8] != bytes(8)), None)
        check(at is not None, "the overlay has a cluster")
        f.seek(65536 + at + 1)
        f.write(bytes([entries[at + 1] ^ 0x40]))
    for damage in ("flipped", "truncated"):
        if damage == "truncated":
            shutil.copy(saved, active)
            os.truncate(active, 1000)
        r = subprocess.run(base + MACHINE, stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=120)
        lines = r.stderr.strip().splitlines()
        check(r.returncode != 0 and len(lines) == 1 and ".btov" in lines[0],
              "a %s overlay is refused with one line (%d, %r)" % (damage, r.returncode, r.stderr))
        r = subprocess.run([btvm, "img", "info", img], capture_output=True, text=True)
        check(r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1,
              "btvm img info refuses it too (%d, %r)" % (r.returncode, r.stderr))
    shutil.copy(saved, active)
    os.unlink(saved)
    r = subprocess.run([btvm, "img", "info", img], capture_output=True, text=True)
    check(r.returncode == 0 and "snapshot s2" in r.stdout, "the intact chain checks (%r)"
          % r.stdout)
    # 8.
    r = subprocess.run([btvm, "img", "commit", img], capture_output=True, text=True)
    check(r.returncode == 1 and "delvm" in r.stderr, "commit is refused while s2 depends "
          "on the image (%r)" % r.stderr)
    vm = start()
    vm.expect(r"guest:~ #")
    human_ok(vm, "delvm s2")
    mount(vm, dev)
    vm.run("echo E > /mnt/e; umount /mnt; sync")
    vm.send("poweroff -f")
    check(wait_exit(vm.pid, 60) == 0, "it powers off")
    r = subprocess.run([btvm, "img", "commit", img], capture_output=True, text=True)
    check(r.returncode == 0, "commit folds the overlays in (%r)" % (r.stdout + r.stderr))
    check(not os.path.exists(snapdir), "the snapshot directory is gone")
    r = subprocess.run(["debugfs", "-R", "cat /e", img], capture_output=True, text=True)
    check(r.returncode == 0 and r.stdout.strip() == "E", "debugfs reads the last write "
          "from the image alone (%r)" % r.stdout)
    r = subprocess.run(["debugfs", "-R", "cat /a", img], capture_output=True, text=True)
    check(r.stdout.strip() == "A1", "and the state s2 had (%r)" % r.stdout)


def boot_disk(work, kernel, initrd):
    """An ext4 image with the test kernel and initramfs, which btvm boots
    directly when no --kernel is given."""
    tree = os.path.join(work, "boot.d")
    os.makedirs(os.path.join(tree, "boot"))
    shutil.copy(kernel, os.path.join(tree, "boot", "vmlinuz-6.1-test"))
    shutil.copy(initrd, os.path.join(tree, "boot", "initrd.img-6.1-test"))
    os.symlink("boot/vmlinuz-6.1-test", os.path.join(tree, "vmlinuz"))
    os.symlink("boot/initrd.img-6.1-test", os.path.join(tree, "initrd.img"))
    img = os.path.join(work, "boot.img")
    subprocess.run(["mke2fs", "-q", "-F", "-t", "ext4", "-d", tree, img, "64M"], check=True,
                   capture_output=True)
    return img


def run_kernel_case(btvm, kernel, initrd, work, log, procs):
    """The kernel read off a disk with snapshots is the chain's, as the
    guest last wrote it: the guest deletes /vmlinuz after savevm k1, and a
    fresh start finds no kernel; --loadvm k1 resumes, and its reboot
    finds the kernel on k1's disk."""
    img = boot_disk(work, kernel, initrd)
    argv = [btvm, "run", "--disk", img]
    vm = Vm(argv, os.path.join(work, "k1.sock"), log)
    procs.append(vm)
    vm.expect(r"guest:~ #")
    human_ok(vm, "savevm k1")
    out = vm.run("mkdir -p /mnt; mount -t ext4 /dev/vda /mnt && rm /mnt/vmlinuz /mnt/boot/vmlinuz-* && "
                 "umount /mnt && echo GONE-$((6*7))")
    check("GONE-42" in out, "the guest deletes its kernels (%r)" % out)
    vm.send("poweroff -f")
    check(wait_exit(vm.pid, 60) == 0, "it powers off")
    # (--firmware direct: else btvm would hand the disk to SeaBIOS.)
    r = subprocess.run(argv + ["--firmware", "direct"] + MACHINE, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=120)
    check(r.returncode != 0 and "nothing to boot" in r.stderr,
          "a fresh start reads the chain and finds no /vmlinuz (%d, %r)"
          % (r.returncode, r.stderr))
    vm = Vm(argv + ["--loadvm", "k1"], os.path.join(work, "k2.sock"), log)
    procs.append(vm)
    shell(vm)
    vm.send("reboot -f")
    vm.expect(r"guest:~ #")
    out = vm.run("echo UP-$((6*7))")
    check("UP-42" in out, "after --loadvm k1 the guest reboots with k1's kernel")
    vm.cmd("quit")
    check(wait_exit(vm.pid, 60) == 0, "quit ends it with status 0")


def main():
    btvm, iface = os.path.abspath(sys.argv[1]), sys.argv[2]

    def body(kernel, initrd, work, log, procs):
        if iface == "kernel":
            run_kernel_case(btvm, kernel, initrd, work, log, procs)
        else:
            run_case(btvm, kernel, initrd, iface, work, log, procs)
    return vmtools.run_case("run_disk_snapshot", body)


if __name__ == "__main__":
    sys.exit(main())
