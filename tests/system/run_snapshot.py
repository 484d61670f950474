#!/usr/bin/env python3
"""End-to-end check of snapshots with Debian's i386 kernel and the busybox
initramfs, btvm's console on a pseudo-terminal, savevm through the monitor
socket:

 0. savevm without a file, or to a directory that does not exist: an
    error answer, and the guest goes on.
 1. A shell loop computes a checksum in the background; savevm (JSON)
    while it runs, that btvm killed, three seconds later `btvm run
    --restore` in a new one: the loop, stopped, holds the checksum Python
    computes for the steps it ran, and the guest's uptime did not count
    the time the snapshot sat on disk.
 2. Twenty save/restore cycles in a row (savevm by JSON and by the human
    command in turn, each btvm killed after its save) across a second
    loop, which then holds the right checksum.
 3. The last snapshot cut in half, and with one bit flipped, is refused:
    status 1 and one line.

Usage: run_snapshot.py BTVM
Exit status: 0 passed, 1 failed, 77 the guest could not be downloaded.
"""
import glob
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time

CYCLES = 20
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vmtools import (  # noqa: E402
    Fail, GuestVm, check, fetch_guest, loops_start, loops_stop, quick_boot_args)


class Vm(GuestVm):
    """One btvm on a pseudo-terminal, with its monitor socket."""

    def __init__(self, args, sock, log):
        super().__init__(log, args + ["--display", "none", "--monitor", "unix:" + sock], sock)


def uptime(vm):
    vm.send("cat /proc/uptime")
    return float(vm.expect(r"\n(\d+\.\d+) \d+\.\d+").group(1))


def save(vm, path, human):
    if human:
        r = vm.cmd("human-monitor-command", **{"command-line": "savevm " + path})
        check(r.get("return") == "", "human savevm answers nothing but success")
    else:
        r = vm.cmd("savevm", file=path)
        check(r == {"return": {}}, "savevm answers {}")
    left = [f for f in glob.glob(glob.escape(path) + ".*") if not os.path.islink(f)]
    check(os.path.getsize(path) > 1 << 20 and not left,
          "the snapshot is there, and no temporary file beside it (%s)" % left)


def refused(btvm, path, what):
    p = subprocess.run([btvm, "run", "--restore", path, "--display", "none", "--serial", "none"],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    lines = p.stderr.splitlines()
    check(p.returncode == 1 and len(lines) == 1 and lines[0].startswith("btvm: "),
          "%s refused with one line (%s)" % (what, p.stderr.strip()))


def main():
    btvm = os.path.abspath(sys.argv[1])
    kernel, initrd = fetch_guest()
    work = tempfile.mkdtemp(prefix="btvm-snapshot-")
    log = open(os.path.join(work, "console.log"), "wb")
    snap = os.path.join(work, "vm.snap")
    vms = []
    try:
        vm = Vm([btvm, "run", "--kernel", kernel, "--initrd", initrd, "--append",
                 "console=ttyS0 quiet " + quick_boot_args(), "--no-reboot"], os.path.join(work, "m0.sock"), log)
        vms.append(vm)
        vm.expect(r"guest:~ #")
        # Bad savevm requests: an error answer, and the guest goes on.
        r = vm.cmd("savevm")
        check("error" in r, "savevm without a file is an error (%s)" % r)
        bad = os.path.join(work, "no", "such", "dir.snap")
        r = vm.cmd("savevm", file=bad)
        check("error" in r and "cannot create" in r["error"]["desc"],
              "savevm to a directory that does not exist is an error")
        r = vm.cmd("human-monitor-command", **{"command-line": "savevm"})
        check(r.get("return", "").startswith("error: usage: savevm FILE"),
              "the human savevm without a file is an error")
        check(not glob.glob(glob.escape(bad) + "*"), "a failed save leaves no file")
        # Only a new or a regular file is written, never through a link.
        victim = os.path.join(work, "victim")
        with open(victim, "w") as f:
            f.write("untouched\n")
        link = os.path.join(work, "link.snap")
        os.symlink(victim, link)
        for target, why in (("/dev/full", "is a device"), ("/dev/null", "is a device"),
                            (work, "is a directory"), (link, "is a symbolic link")):
            r = vm.cmd("savevm", file=target)
            check("error" in r and why in r["error"]["desc"],
                  "savevm %s is refused: %s (%s)" % (target, why, r))
        check(os.path.islink(link) and open(victim).read() == "untouched\n",
              "the link and the file it names are untouched")
        check(stat.S_ISCHR(os.stat("/dev/full").st_mode) and stat.S_ISCHR(os.stat("/dev/null").st_mode),
              "/dev/full and /dev/null are still devices")
        # The temporary name the save once used, planted as a link.
        os.symlink(victim, snap + ".tmp")
        up0, t_up0 = uptime(vm), time.time()

        # 1. Save in the middle of a workload, restore in a new btvm.
        vm.run(loops_start("a", [0]))
        time.sleep(1.5)
        wall0 = time.time()
        save(vm, snap, human=False)
        check(open(victim).read() == "untouched\n" and os.path.islink(snap + ".tmp"),
              "the save did not write through the link planted at its old temporary name")
        st = os.lstat(snap)
        check(stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600,
              "the snapshot is a regular file only its owner may read (%o)" % st.st_mode)
        vm.kill()
        time.sleep(3)   # the snapshot sits on disk: the guest must not see it
        wall1 = time.time()
        vm = Vm([btvm, "run", "--restore", snap], os.path.join(work, "m1.sock"), log)
        vms.append(vm)
        up1, t_up1 = uptime(vm), time.time()
        loops_stop(vm, "a", [0], "restored")
        # The guest ran from up0 to the save and from the restore on;
        # the three seconds between (and the kill) are not its time. It
        # ran at least from up0 to wall0; after the restore, at most
        # until t_up1 (how long the new btvm took to start and load the
        # snapshot is the host's business, seconds on a loaded one).
        ran = (wall0 - t_up0) + (t_up1 - wall1)
        check(wall0 - t_up0 - 0.5 < up1 - up0 < ran + 1.0,
              "guest uptime moved %.1f s across %.1f s of running, not counting the %.0f s "
              "on disk" % (up1 - up0, ran, wall1 - wall0))

        # 2. Twenty cycles across a longer workload.
        vm.run(loops_start("b", [0]))
        for k in range(CYCLES):
            time.sleep(0.2)
            save(vm, snap, human=bool(k % 2))
            vm.kill()
            vm = Vm([btvm, "run", "--restore", snap], os.path.join(work, "c%d.sock" % k), log)
            vms.append(vm)
            vm.connect()
        loops_stop(vm, "b", [0], "after %d save/restore cycles" % CYCLES)
        vm.send("poweroff -f")
        _, status = os.waitpid(vm.pid, 0)
        check(os.waitstatus_to_exitcode(status) == 0, "the restored guest powers off with status 0")
        vms.remove(vm)
        os.close(vm.fd)
        vm.fd = -1

        # 3. Damaged snapshots.
        cut = os.path.join(work, "cut.snap")
        with open(snap, "rb") as f, open(cut, "wb") as g:
            g.write(f.read(os.path.getsize(snap) // 2))
        refused(btvm, cut, "a snapshot cut in half")
        flip = os.path.join(work, "flip.snap")
        shutil.copy(snap, flip)
        with open(flip, "r+b") as f:
            f.seek(os.path.getsize(snap) // 3)
            b = f.read(1)
            f.seek(-1, 1)
            f.write(bytes([b[0] ^ 0x10]))
        refused(btvm, flip, "a snapshot with one bit flipped")
    except Fail as e:
        print("run_snapshot: FAIL:", e)
        print("run_snapshot: console log in", os.path.join(work, "console.log"))
        return 1
    finally:
        for v in vms:
            v.kill()
    shutil.rmtree(work, ignore_errors=True)
    print("run_snapshot: passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
