#!/usr/bin/env python3
"""End-to-end check of --share (virtio-9p, served by a confined diod) with
Debian's i386 kernel and the busybox initramfs (9p modules loaded by its
/init with btvm.share), btvm's console on a pseudo-terminal:

 1. Direct boot with a read-write share (tag hostshare) and a read-only
    one (tag roshare): the guest mounts both with
    `mount -t 9p -o trans=virtio,version=9p2000.L TAG DIR`; reads a file
    the host wrote (content checked); writes 4 MiB of random bytes the
    host then reads (sha256 compared: large writes travel as many
    requests in flight); lists a directory the host made; renames and
    deletes (the host sees both); on the read-only share a write fails
    with EROFS and the host's folder is unchanged; symlinks in the folder
    to /etc/passwd, to .. and to a file outside it read nothing of the
    host's (the guest resolves them in its own tree), /mnt/../.. stays
    the guest's, and mknod of a device fails. savevm is refused with one
    line naming the share. Then diod is killed: the guest's next access
    to the share fails with an error instead of hanging, the guest and
    the read-only share go on working, and poweroff ends btvm with status
    0. migrate is refused before it connects anywhere.
 2. Through the firmware (--firmware bios, SeaBIOS): the share's device
    is found and mounted, the file read.

(tests/unit/test_share_server.c walks the server directly, as a
malicious guest could: `..`, symlinks and device nodes in raw 9P.)

Usage: run_share.py BTVM
Exit status: 0 passed, 1 failed, 77 the guest could not be downloaded.
"""
import hashlib
import os
import shutil
import signal
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vmtools import Fail, GuestVm, check, fetch_guest, quick_boot_args, wait_exit  # noqa: E402

APPEND = "console=ttyS0 quiet btvm.share " + quick_boot_args()
MOUNT = "mount -t 9p -o trans=virtio,version=9p2000.L"


def boot(btvm, kernel, initrd, args, sock, log):
    vm = GuestVm(log, [btvm, "run", "--kernel", kernel, "--initrd", initrd, "--append", APPEND,
                       "-m", "256", "--no-reboot", "--display", "none", "--monitor",
                       "unix:" + sock] + args, sock)
    vm.expect(r"guest:~ #")
    return vm


def children(pid):
    """The pids whose parent is pid (from /proc)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(d))
    return out


def listing(path):
    return sorted(os.listdir(path))


def part1(btvm, kernel, initrd, work, log):
    share = os.path.join(work, "share")
    ro = os.path.join(work, "ro")
    os.makedirs(os.path.join(share, "dir"))
    os.makedirs(ro)
    hello = "host-wrote-%s" % os.urandom(6).hex()
    with open(os.path.join(share, "hello.txt"), "w") as f:
        f.write(hello + "\n")
    for name in ("a", "b", "c"):
        with open(os.path.join(share, "dir", name), "w") as f:
            f.write(name)
    with open(os.path.join(ro, "keep.txt"), "w") as f:
        f.write("read-only\n")
    secret = "SECRET-%s" % os.urandom(6).hex()
    with open(os.path.join(work, "outside.txt"), "w") as f:
        f.write(secret + "\n")
    os.symlink("/etc/passwd", os.path.join(share, "passwd_link"))
    os.symlink("..", os.path.join(share, "up_link"))
    os.symlink("../outside.txt", os.path.join(share, "rel_out"))
    os.symlink(os.path.join(work, "outside.txt"), os.path.join(share, "abs_out"))
    ro_before = listing(ro)

    sock = os.path.join(work, "mon1.sock")
    vm = boot(btvm, kernel, initrd, ["--share", share + ",tag=hostshare",
                                     "--share", ro + ",tag=roshare,readonly"], sock, log)
    out = vm.run("mkdir -p /mnt /ro; %s hostshare /mnt && %s roshare /ro && echo MOUNTED"
                 % (MOUNT, MOUNT))
    check("MOUNTED" in out, "the guest mounts both shares (%r)" % out[-200:])
    out = vm.run("grep 9p /proc/mounts")
    check("hostshare /mnt 9p" in out and "roshare /ro 9p" in out, "both are 9p mounts")
    check(hello in vm.run("cat /mnt/hello.txt"), "the guest reads the host's file")

    out = vm.run("dd if=/dev/urandom of=/mnt/guest.bin bs=1M count=4 2>&1; sync; "
                 "sha256sum /mnt/guest.bin")
    sums = [w for w in out.split() if len(w) == 64]
    check(len(sums) == 1, "the guest wrote 4 MiB and summed it (%r)" % out[-200:])
    with open(os.path.join(share, "guest.bin"), "rb") as f:
        data = f.read()
    check(len(data) == 4 << 20 and hashlib.sha256(data).hexdigest() == sums[0],
          "the host reads the guest's 4 MiB, checksum equal")

    out = vm.run("ls /mnt/dir")
    check(out.strip().splitlines()[-1].split() == ["a", "b", "c"], "the guest lists the host's directory (%r)" % out)
    vm.run("mv /mnt/guest.bin /mnt/moved.bin; rm /mnt/dir/b")
    check(os.path.exists(os.path.join(share, "moved.bin"))
          and not os.path.exists(os.path.join(share, "guest.bin")), "the host sees the rename")
    check(listing(os.path.join(share, "dir")) == ["a", "c"], "the host sees the delete")

    out = vm.run("echo x > /ro/new.txt; echo RC=$?")
    check("Read-only file system" in out and "RC=1" in out,
          "a write to the read-only share fails with EROFS (%r)" % out[-200:])
    check("read-only" in vm.run("cat /ro/keep.txt"), "the read-only share reads")
    check(listing(ro) == ro_before, "the read-only folder is unchanged on the host")

    with open("/etc/passwd") as f:
        host_passwd = f.read()
    out = vm.run("cat /mnt/passwd_link")
    check(out.strip() != host_passwd.strip(), "a symlink to /etc/passwd is not the host's")
    out = vm.run("cat /mnt/rel_out /mnt/abs_out /mnt/up_link/outside.txt 2>&1; "
                 "ls /mnt/../.. /mnt/up_link/up_link 2>&1")
    check(secret not in out, "no symlink or .. reads the file beside the folder")
    out = vm.run("mknod /mnt/nul c 1 3; echo RC=$?")
    check("RC=1" in out and not os.path.exists(os.path.join(share, "nul")),
          "mknod of a device in the share fails")

    reply = vm.cmd("human-monitor-command", **{"command-line":
                                               "savevm " + os.path.join(work, "snap")})
    text = str(reply)
    check("shared folder" in text and not os.path.exists(os.path.join(work, "snap")),
          "savevm is refused with the share's reason (%r)" % text[:200])

    reply = vm.cmd("human-monitor-command", **{"command-line": "migrate unix:" +
                                               os.path.join(work, "nowhere.sock")})
    check("shared folder" in str(reply), "migrate is refused before it starts (%r)"
          % str(reply)[:200])

    # diod of the first share: the keeper is btvm's child, diod its child.
    diods = []
    for keeper in children(vm.pid):
        diods += children(keeper)
    check(len(diods) == 2, "each share has its diod (%r)" % diods)
    # The first share's keeper was started first: the lower pid, unless
    # pids wrapped; find it by its open file instead: its cwd is its root.
    victim = None
    for d in diods:
        try:
            if open("/proc/%d/mountinfo" % d).read().split(" /share ")[1].startswith("rw,"):
                victim = d
        except (OSError, IndexError):
            continue
    check(victim is not None, "the read-write share's diod is found")
    os.kill(victim, signal.SIGKILL)
    out = vm.run("cat /mnt/hello.txt; echo RC=$?", timeout=60)
    check("RC=1" in out, "after diod's death the share answers with an error (%r)" % out[-200:])
    check("read-only" in vm.run("cat /ro/keep.txt"), "the other share still works")
    check("alive" in vm.run("echo alive"), "the guest goes on")
    vm.send("poweroff -f")
    status = wait_exit(vm.pid, 120)
    os.close(vm.fd)
    vm.fd = -1
    check(status == 0, "poweroff ends btvm with status 0 (%d)" % status)


def part2(btvm, kernel, initrd, work, log):
    share = os.path.join(work, "fw")
    os.makedirs(share)
    with open(os.path.join(share, "fw.txt"), "w") as f:
        f.write("through-seabios\n")
    sock = os.path.join(work, "mon2.sock")
    vm = boot(btvm, kernel, initrd, ["--firmware", "bios", "--share", share], sock, log)
    out = vm.run("mkdir -p /mnt; %s fw /mnt && cat /mnt/fw.txt" % MOUNT)
    check("through-seabios" in out, "through SeaBIOS the share (default tag fw) mounts")
    vm.send("poweroff -f")
    status = wait_exit(vm.pid, 120)
    os.close(vm.fd)
    vm.fd = -1
    check(status == 0, "poweroff ends btvm with status 0")


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    btvm = sys.argv[1]
    kernel, initrd = fetch_guest()
    work = tempfile.mkdtemp(prefix="btvm-share-")
    log_path = os.path.join(work, "console.log")
    ok = False
    try:
        with open(log_path, "wb") as log:
            part1(btvm, kernel, initrd, work, log)
            part2(btvm, kernel, initrd, work, log)
        ok = True
    except Fail as e:
        print("FAIL:", e)
        print("console log:", log_path)
    finally:
        if ok:
            shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
