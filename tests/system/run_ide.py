#!/usr/bin/env python3
"""End-to-end check of the PIIX3 IDE controller with Debian's i386 kernel
and the busybox initramfs (ata_piix, sd_mod, sr_mod and isofs loaded by
its /init with btvm.ide), btvm's console on a pseudo-terminal, the
monitor socket beside it:

 1. --disk IMG,if=ide and --cdrom ISO (ISO 9660 images made by xorriso):
    the guest finds /dev/sda on the primary master and /dev/sr0 on the
    secondary master of 00:01.1, takes IRQ 14 and 15 through the I/O
    APIC, reads a payload from each (sha256 compared); while the disc is
    mounted the guest has locked the tray, so eject is refused; then
    change, eject and change again through the monitor (JSON and human)
    while the guest runs, the guest reading each new disc and finding
    none after the eject; a change to a missing file is refused and the
    disc stays; the guest writes a file on the ext4 disk, syncs and
    powers off; e2fsck -fn is clean, debugfs reads the file with the
    checksum the guest computed, and --stats-json shows DMA transfers,
    FLUSH CACHE and the three media changes.
 2. savevm and --restore with --snapshot: the guest writes the disk (the
    overlay) and reads a disc changed in by the monitor; the snapshot,
    restored in a new btvm, has both (the file, the new disc in the
    drive, its tray still locked); the image is unchanged afterwards;
    --restore with --cdrom is a usage error.
 3. The 8259 (noapic): two disks on the primary channel and the CD-ROM:
    two sd disks (the slave's bytes checked) and /dev/sr0, IRQ
    14 and 15 counted on the XT-PIC.
 4. Without ACPI (the MP table's I/O APIC entries): only the CD-ROM, the
    primary channel empty: no /dev/sda, the disc read, IRQ 15 counted;
    a reboot ends the run (--no-reboot), as nothing powers off.
 5. The monitor without Linux (tests/guests/counter.elf): three if=ide
    disks push the CD-ROM to the secondary slave; meanwhile a second btvm
    is refused the IDE disk (read-write, read-only, as a CD) and shares
    the CD image (hello.elf); a machine without a CD-ROM drive refuses
    change and eject.
 6. No --kernel: an IDE disk with /vmlinuz and /initrd.img boots, root=
    naming its filesystem, which the guest finds on /dev/sda; saved and
    restored, the guest reboots and the kernel comes from the disk again,
    and the controller, reset and set up by the firmware again, has it.

Usage: run_ide.py BTVM COUNTER_ELF
Exit status: 0 passed, 1 failed, 77 the guest could not be downloaded.
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vmtools import Fail, GuestVm, Monitor, check, fetch_guest, quick_boot_args  # noqa: E402

APPEND = "console=ttyS0 quiet btvm.ide " + quick_boot_args()


class Vm(GuestVm):
    """One btvm on a pseudo-terminal, with its monitor socket."""

    def __init__(self, args, sock, log):
        super().__init__(log, args + ["--display", "none", "--monitor", "unix:" + sock], sock)

    def drive(self, name):
        for d in self.cmd("query-block")["return"]:
            if d["device"] == name:
                return d
        raise Fail("no drive %s in query-block" % name)

    def wait(self):
        _, status = os.waitpid(self.pid, 0)
        os.close(self.fd)
        self.fd = -1
        return os.waitstatus_to_exitcode(status)


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def make_iso(work, name, files):
    """An ISO 9660 image (with Rock Ridge) holding files {name: bytes}."""
    tree = os.path.join(work, name + ".d")
    os.makedirs(tree)
    for f, data in files.items():
        with open(os.path.join(tree, f), "wb") as g:
            g.write(data)
    iso = os.path.join(work, name + ".iso")
    subprocess.run(["xorriso", "-as", "mkisofs", "-quiet", "-R", "-V", name.upper(), "-o", iso,
                    tree], check=True, capture_output=True)
    return iso


def make_ext4(work, name, files, size="64M"):
    tree = os.path.join(work, name + ".d")
    os.makedirs(tree)
    for f, data in files.items():
        with open(os.path.join(tree, f), "wb") as g:
            g.write(data)
    img = os.path.join(work, name + ".img")
    subprocess.run(["mke2fs", "-q", "-F", "-t", "ext4", "-d", tree, img, size], check=True,
                   capture_output=True)
    return img


def guest_sum(vm, path):
    out = vm.run("sha256sum %s" % path)
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1] == path and len(parts[0]) == 64:
            return parts[0]
    raise Fail("no checksum of %s in %r" % (path, out))


def interrupts(vm, irq):
    """The /proc/interrupts line of irq: (count, controller text)."""
    for line in vm.run("cat /proc/interrupts").splitlines():
        parts = line.split()
        if parts and parts[0] == "%d:" % irq:
            return int(parts[1]), line
    return 0, ""


def boot(btvm, kernel, initrd, args, sock, log, append=APPEND):
    vm = Vm([btvm, "run", "--kernel", kernel, "--initrd", initrd, "--append", append, "-m", "256",
             "--no-reboot"] + args, sock, log)
    vm.expect(r"guest:~ #")
    return vm


def part1(btvm, kernel, initrd, work, log, vms):
    payload = os.urandom(300000)
    one, two = os.urandom(200000), os.urandom(150000)
    disk = make_ext4(work, "disk1", {"payload.bin": payload})
    iso1 = make_iso(work, "one", {"one.bin": one})
    iso2 = make_iso(work, "two", {"two.bin": two})
    stats = os.path.join(work, "part1.json")
    vm = boot(btvm, kernel, initrd, ["--disk", disk + ",if=ide", "--cdrom", iso1,
                                     "--stats-json", stats], os.path.join(work, "m1.sock"), log)
    vms.append(vm)
    # Where the drives are: ata1 is the primary channel, ata2 the
    # secondary; SCSI target 0 the master.
    sda = vm.run("readlink -f /sys/block/sda/device")
    sr0 = vm.run("readlink -f /sys/block/sr0/device")
    check("0000:00:01.1/ata1/" in sda and sda.strip().endswith("/0:0:0:0"),
          "/dev/sda is the primary master of 00:01.1 (%s)" % sda.strip())
    check("0000:00:01.1/ata2/" in sr0 and sr0.strip().endswith("/1:0:0:0"),
          "/dev/sr0 is the secondary master (%s)" % sr0.strip())
    check("BTVM HARDDISK" in vm.run("cat /sys/block/sda/device/model"), "sda's model")
    vm.run("mkdir -p /mnt /cd; mount -t ext4 /dev/sda /mnt; mount -t iso9660 /dev/sr0 /cd")
    check(guest_sum(vm, "/mnt/payload.bin") == hashlib.sha256(payload).hexdigest(),
          "the guest reads the payload from the IDE disk")
    check(guest_sum(vm, "/cd/one.bin") == hashlib.sha256(one).hexdigest(),
          "the guest reads a file from the ISO")
    for irq in (14, 15):
        n, line = interrupts(vm, irq)
        check(n > 0 and "IO-APIC" in line and "ata_piix" in line,
              "IRQ %d reached ata_piix through the I/O APIC (%s)" % (irq, line.strip()))

    # The disc is mounted: Linux locked the tray.
    check(vm.drive("ide1-cd0")["locked"], "query-block: the guest locked the tray")
    r = vm.cmd("eject", device="cdrom")
    check("error" in r and "locked" in r["error"]["desc"], "eject of a locked tray is refused (%s)" % r)
    r = vm.cmd("blockdev-change-medium", device="cdrom", filename=iso2)
    check("error" in r and "locked" in r["error"]["desc"], "change of a locked tray is refused")
    vm.run("umount /cd")
    check(not vm.drive("ide1-cd0")["locked"], "unmounted, the tray is unlocked")

    r = vm.cmd("blockdev-change-medium", device="cdrom", filename=iso2)
    check(r == {"return": {}}, "blockdev-change-medium to the second ISO (%s)" % r)
    vm.run("mount -t iso9660 /dev/sr0 /cd")
    check(guest_sum(vm, "/cd/two.bin") == hashlib.sha256(two).hexdigest(),
          "after the change the guest reads the second disc")
    check("one.bin" not in vm.run("ls /cd"), "the first disc's file is gone")
    vm.run("umount /cd")

    r = vm.cmd("eject", device="ide1-cd0")
    check(r == {"return": {}}, "eject (by QEMU's drive name)")
    d = vm.drive("ide1-cd0")
    check(d["tray_open"] and "inserted" not in d, "query-block: the tray open, no disc")
    out = vm.run("mount -t iso9660 /dev/sr0 /cd || echo NOMEDIUM-$((3*5))")
    check("NOMEDIUM-15" in out, "after the eject the guest finds no medium (%s)" % out.strip())

    check(vm.human("change cdrom " + iso1) == "", "the human change puts the first disc back")
    vm.run("mount -t iso9660 /dev/sr0 /cd")
    check(guest_sum(vm, "/cd/one.bin") == hashlib.sha256(one).hexdigest(),
          "the guest reads the first disc again")
    vm.run("umount /cd")
    out = vm.human("change cdrom " + os.path.join(work, "missing.iso"))
    check(out.startswith("error: ") and "No such file" in out, "a change to a missing file is refused")
    d = vm.drive("ide1-cd0")
    check(d["inserted"]["file"] == iso1 and not d["tray_open"], "and the disc stays in")
    check("one.iso (read-only), tray closed" in vm.human("info block"), "info block shows it")

    # A file on the ext4 disk, synced, and the machine off.
    out = vm.run("dd if=/dev/urandom of=/mnt/new.bin bs=64k count=32 2>/dev/null; sync")
    new = guest_sum(vm, "/mnt/new.bin")
    vm.run("umount /mnt")
    vm.send("poweroff -f")
    check(vm.wait() == 0, "the guest powers off, btvm's status 0")
    vms.remove(vm)
    fsck = subprocess.run(["e2fsck", "-fn", disk], capture_output=True, text=True)
    check(fsck.returncode == 0, "e2fsck -fn finds the disk clean")
    got = subprocess.run(["debugfs", "-R", "cat /new.bin", disk], capture_output=True).stdout
    check(hashlib.sha256(got).hexdigest() == new, "debugfs reads new.bin as the guest wrote it")
    c = json.load(open(stats))["counters"]
    check(c["ide.dma_transfers"] > 0 and c["ide.dma_errors"] == 0,
          "the guest's driver moved data by DMA (%d transfers)" % c["ide.dma_transfers"])
    check(c["ide.sectors_written"] >= 4096, "at least the 2 MiB written (%d sectors)"
          % c["ide.sectors_written"])
    check(c["ide.flushes"] > 0, "sync sent FLUSH CACHE (%d)" % c["ide.flushes"])
    check(c["ide.media_changes"] == 3, "three media changes: change, eject, change (%d)"
          % c["ide.media_changes"])
    check(c["ide.host_errors"] == 0, "no host I/O errors")


def part2(btvm, kernel, initrd, work, log, vms):
    disk = make_ext4(work, "disk2", {"keep.txt": b"kept\n"})
    before = sha256(disk)
    one, two = os.urandom(100000), os.urandom(120000)
    iso1 = make_iso(work, "s1", {"one.bin": one})
    iso2 = make_iso(work, "s2", {"two.bin": two})
    snap = os.path.join(work, "ide.snap")
    token = os.urandom(8).hex()
    vm = boot(btvm, kernel, initrd, ["--snapshot", "--disk", disk + ",if=ide", "--cdrom", iso1],
              os.path.join(work, "m2.sock"), log)
    vms.append(vm)
    vm.run("mkdir -p /mnt /cd; mount -t ext4 /dev/sda /mnt && echo %s > /mnt/token.txt && sync"
           % token)
    r = vm.cmd("blockdev-change-medium", device="cdrom", filename=iso2)
    check(r == {"return": {}}, "the second disc changed in before the save")
    vm.run("mount -t iso9660 /dev/sr0 /cd")
    check(guest_sum(vm, "/cd/two.bin") == hashlib.sha256(two).hexdigest(), "the guest reads it")
    r = vm.cmd("savevm", file=snap)
    check(r == {"return": {}}, "savevm with IDE drives (%s)" % r)
    vm.kill()
    vms.remove(vm)

    p = subprocess.run([btvm, "run", "--restore", snap, "--cdrom", iso1, "--display", "none"],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    check(p.returncode == 2 and "no --cdrom" in p.stderr,
          "--restore with --cdrom is a usage error")
    vm = Vm([btvm, "run", "--restore", snap], os.path.join(work, "m3.sock"), log)
    vms.append(vm)
    vm.connect()
    check(token in vm.run("cat /mnt/token.txt"), "restored: the file written to the overlay")
    check(guest_sum(vm, "/cd/two.bin") == hashlib.sha256(two).hexdigest(),
          "restored: the disc changed in before the save")
    d = vm.drive("ide1-cd0")
    check(d["inserted"]["file"] == iso2 and d["locked"],
          "restored: query-block shows the second disc, its tray locked (%s)" % d)
    vm.run("umount /cd; umount /mnt")
    vm.send("poweroff -f")
    check(vm.wait() == 0, "the restored guest powers off")
    vms.remove(vm)
    check(sha256(disk) == before, "--snapshot: the image is unchanged")


def part3(btvm, kernel, initrd, work, log, vms):
    slave = os.urandom(1 << 20)
    img_a = make_ext4(work, "disk3", {"a.txt": b"a\n"}, "8M")
    img_b = os.path.join(work, "raw3.img")
    with open(img_b, "wb") as f:
        f.write(slave)
    cd = os.urandom(50000)
    iso = make_iso(work, "pic", {"cd.bin": cd})
    vm = boot(btvm, kernel, initrd, ["--disk", img_a + ",if=ide", "--disk", img_b + ",if=ide,ro",
                                     "--cdrom", iso], os.path.join(work, "m4.sock"), log,
              append=APPEND + " noapic")
    vms.append(vm)
    # The primary slave is SCSI 0:0:1:0 (ata1, target 1); which sdX it
    # became depends on the order sd's asynchronous probes ran in.
    out = vm.run("ls /sys/bus/scsi/devices/0:0:1:0/block")
    names = [w for w in out.split() if w.startswith("sd")]
    check(len(names) == 1, "the primary slave is a disk (%s)" % names)
    check(guest_sum(vm, "/dev/" + names[0]) == hashlib.sha256(slave).hexdigest(),
          "the guest reads the slave's bytes from /dev/%s" % names[0])
    vm.run("mkdir -p /cd; mount -t iso9660 /dev/sr0 /cd")
    check(guest_sum(vm, "/cd/cd.bin") == hashlib.sha256(cd).hexdigest(), "and the disc")
    for irq in (14, 15):
        n, line = interrupts(vm, irq)
        check(n > 0 and "XT-PIC" in line and "ata_piix" in line,
              "IRQ %d reached ata_piix through the 8259 (%s)" % (irq, line.strip()))
    vm.run("umount /cd")
    vm.send("poweroff -f")
    check(vm.wait() == 0, "powered off")
    vms.remove(vm)


def part4(btvm, kernel, initrd, work, log, vms):
    cd = os.urandom(70000)
    iso = make_iso(work, "mp", {"mp.bin": cd})
    vm = boot(btvm, kernel, initrd, ["--cdrom", iso], os.path.join(work, "m5.sock"), log,
              append=APPEND + " acpi=off")
    vms.append(vm)
    check("NOACPI-12" in vm.run("[ -d /sys/firmware/acpi ] || echo NOACPI-$((3*4))"),
          "booted without ACPI")
    out = vm.run("ls /dev/sda 2>&1 || echo NOSDA-$((2*9))")
    check("NOSDA-18" in out, "the empty primary channel gives no disk")
    vm.run("mkdir -p /cd; mount -t iso9660 /dev/sr0 /cd")
    check(guest_sum(vm, "/cd/mp.bin") == hashlib.sha256(cd).hexdigest(), "the disc is read")
    n, line = interrupts(vm, 15)
    check(n > 0 and "IO-APIC" in line and "ata_piix" in line,
          "IRQ 15 through the I/O APIC as the MP table routes it (%s)" % line.strip())
    vm.run("umount /cd")
    # No ACPI, no power-off: a reboot ends btvm under --no-reboot.
    vm.send("reboot -f")
    check(vm.wait() == 0, "rebooted: btvm's status 0 under --no-reboot")
    vms.remove(vm)


def locks(btvm, counter, work, iso):
    """While a btvm holds small0.img as an IDE disk and iso as its CD: a
    second one is refused the disk, as a disk and as a CD (one line,
    status 1), and shares the read-only CD image."""
    hello = os.path.join(os.path.dirname(counter), "hello.elf")
    disk = os.path.join(work, "small0.img")
    for args in (["--disk", disk + ",if=ide"], ["--disk", disk + ",if=ide,readonly"],
                 ["--cdrom", disk]):
        p = subprocess.run([btvm, "run", "--kernel", hello, "--display", "none", "--serial", "none"]
                           + args, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=300)
        lines = p.stderr.splitlines()
        check(p.returncode == 1 and len(lines) == 1 and "in use" in lines[0],
              "a second btvm is refused the IDE disk in use (%s: %s)" % (args[0], p.stderr.strip()))
    p = subprocess.run([btvm, "run", "--kernel", hello, "--display", "none", "--serial", "none",
                        "--cdrom", iso], stdin=subprocess.DEVNULL, capture_output=True, timeout=300)
    check(p.returncode == 33, "a second btvm shares the CD image (hello.elf's status %d)"
          % p.returncode)


def part5(btvm, counter, work):
    imgs = []
    for i in range(3):
        imgs += ["--disk", os.path.join(work, "small%d.img,if=ide" % i)]
        with open(os.path.join(work, "small%d.img" % i), "wb") as f:
            f.write(bytes(65536))
    iso = make_iso(work, "slot", {"x.bin": b"x"})
    for args, cd_slot in ((imgs + ["--cdrom", iso], 3), (["--cdrom", iso] + imgs, 3),
                          ([], None)):
        first = args[:1] == ["--disk"]   # the locks are looked at once
        sock = os.path.join(work, "m6.sock")
        p = subprocess.Popen([btvm, "run", "--kernel", counter, "--display", "none", "--serial",
                              "none", "--monitor", "unix:" + sock] + args,
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        try:
            end = time.time() + 300
            while True:
                try:
                    mon = Monitor(sock)
                    break
                except OSError:
                    if time.time() > end or p.poll() is not None:
                        raise Fail("cannot connect to the monitor socket")
                    time.sleep(0.05)
            mon.line()
            drives = mon.cmd("query-block")["return"]
            if cd_slot is None:
                check(drives == [], "no IDE drives: query-block is empty")
                for req in ({"execute": "eject", "arguments": {"device": "cdrom"}},
                            {"execute": "blockdev-change-medium",
                             "arguments": {"device": "cdrom", "filename": iso}}):
                    mon.send(json.dumps(req))
                    r = mon.reply()
                    check("error" in r and "no CD-ROM drive" in r["error"]["desc"],
                          "%s without a CD-ROM drive is an error" % req["execute"])
                r = mon.cmd("human-monitor-command", **{"command-line": "change cdrom " + iso})
                check(r["return"].startswith("error: this machine has no CD-ROM drive"),
                      "the human change too")
            else:
                slots = {d["device"]: d["slot"] for d in drives}
                check(slots == {"ide0-hd0": 0, "ide0-hd1": 1, "ide1-hd0": 2, "ide1-cd1": 3},
                      "three if=ide disks take slots 0-2, the CD-ROM the secondary slave "
                      "whatever the order of the options (%s)" % slots)
                if first:
                    locks(btvm, counter, work, iso)
            mon.send(json.dumps({"execute": "quit"}))
            check(p.wait(timeout=300) == 0, "quit ends btvm with status 0")
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()


def part6(btvm, kernel, initrd, work, log, vms):
    tree = os.path.join(work, "boot.d")
    os.makedirs(os.path.join(tree, "boot"))
    shutil.copy(kernel, os.path.join(tree, "boot", "vmlinuz-6.1-test"))
    shutil.copy(initrd, os.path.join(tree, "boot", "initrd.img-6.1-test"))
    os.symlink("boot/vmlinuz-6.1-test", os.path.join(tree, "vmlinuz"))
    os.symlink("boot/initrd.img-6.1-test", os.path.join(tree, "initrd.img"))
    img = os.path.join(work, "boot.img")
    subprocess.run(["mke2fs", "-q", "-F", "-t", "ext4", "-d", tree, img, "64M"], check=True,
                   capture_output=True)
    uuid = subprocess.run(["blkid", "-o", "value", "-s", "UUID", img], check=True,
                          capture_output=True, text=True).stdout.strip()
    snap = os.path.join(work, "boot.snap")
    vm = Vm([btvm, "run", "--disk", img + ",if=ide", "--append", "btvm.ide", "-m", "256",
             "--snapshot"], os.path.join(work, "m7.sock"), log)
    vms.append(vm)
    vm.expect(r"guest:~ #")
    check("root=UUID=%s" % uuid in vm.run("cat /proc/cmdline"),
          "no --kernel: the kernel came from the IDE disk, root= names its filesystem")
    # The superblock's UUID (bytes 1128-1143 of the filesystem).
    out = vm.run("dd if=/dev/sda bs=8 skip=141 count=2 2>/dev/null | od -An -tx1")
    check(uuid.replace("-", "") in "".join(out.split()),
          "and the guest finds that filesystem on /dev/sda")
    r = vm.cmd("savevm", file=snap)
    check(r == {"return": {}}, "savevm of a machine booted from an IDE disk")
    vm.kill()
    vms.remove(vm)
    # Restored without --no-reboot: the reboot loads the kernel again
    # from the IDE disk the snapshot names.
    vm = Vm([btvm, "run", "--restore", snap], os.path.join(work, "m8.sock"), log)
    vms.append(vm)
    vm.connect()
    check("RESTORED-77" in vm.run("echo RESTORED-$((7*11))"), "the restored guest runs")
    vm.send("reboot -f")
    vm.expect(r"=== btvm test guest: Linux")
    vm.expect(r"guest:~ #")
    check("root=UUID=%s" % uuid in vm.run("cat /proc/cmdline"),
          "after the restored guest's reboot, the kernel came from the IDE disk again")
    # The reset took the controller back to power-on, and the firmware
    # set its decode bits again: ata_piix finds the disk.
    out = vm.run("dd if=/dev/sda bs=8 skip=141 count=2 2>/dev/null | od -An -tx1")
    check(uuid.replace("-", "") in "".join(out.split()), "after the reset /dev/sda is there again")
    vm.send("poweroff -f")
    check(vm.wait() == 0, "powered off")
    vms.remove(vm)


def main():
    btvm = os.path.abspath(sys.argv[1])
    counter = os.path.abspath(sys.argv[2])
    if not shutil.which("xorriso"):
        print("run_ide: FAIL: no xorriso (scripts/setup.sh installs it)")
        return 1
    kernel, initrd = fetch_guest()
    work = tempfile.mkdtemp(prefix="btvm-ide-")
    log = open(os.path.join(work, "console.log"), "wb")
    vms = []
    try:
        part5(btvm, counter, work)
        part1(btvm, kernel, initrd, work, log, vms)
        part2(btvm, kernel, initrd, work, log, vms)
        part3(btvm, kernel, initrd, work, log, vms)
        part4(btvm, kernel, initrd, work, log, vms)
        part6(btvm, kernel, initrd, work, log, vms)
    except (Fail, subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        print("run_ide: FAIL:", e)
        print("run_ide: console log in", os.path.join(work, "console.log"))
        return 1
    finally:
        for v in vms:
            v.kill()
    shutil.rmtree(work, ignore_errors=True)
    print("run_ide: passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
