#!/usr/bin/env python3
"""Snapshots and the pause, end to end, with Debian's i386 kernel and the
busybox initramfs (btvm's console on a pseudo-terminal, the monitor on
its socket), started as the README's run command is (-m, --net user, a
virtio disk) with an IDE disk, read-only, as well:

 1. savevm while paused (stop first), then cont and savevm while
    running; that btvm killed, and 10 s left to pass, so that a guest
    clock that stood still since the save is 10 s behind the host's.
 2. --restore of the paused snapshot with the same --disk options (the
    virtio one through a symbolic link: compared by realpath): it comes
    up paused (query-status, the human info status) and its guest does
    not answer on the serial console; cont runs it, and it answers.
    Then in the guest `hwclock -u -s; date +%s` (busybox's hwclock reads
    the CMOS clock) is the host's time within 5 s: the RTC caught up.
 3. --restore of the running snapshot: it comes up running, and the
    guest's clock read from the RTC again is the host's within 5 s.
 4. --start overrides both ways: the running snapshot with --start
    paused comes up paused, the paused one with --start running, running.
 5. --disk options that disagree with the snapshot's (another image, one
    missing, one more, read-only flipped, the other interface), and a bad
    --start: status 2, one line naming the difference (then the usage
    hint).
 6. Live migration (over a Unix socket, a machine without disks) carries
    the pause too: a paused source arrives paused, and cont runs it; with
    --start paused a running source arrives paused.

Usage: run_snapshot_pause.py BTVM
Exit status: 0 passed, 1 failed, 77 the guest could not be downloaded.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_snapshot import Vm  # noqa: E402
from vmtools import Fail, check, fetch_guest, quick_boot_args, wait_exit  # noqa: E402

# How far the guest's clock may be from the host's after a restore: a
# statement of where the clock comes from (the host's wall clock), not a
# timing threshold; the old clock, the saved one run on, was behind by
# the SETTLE seconds between the save and the restore.
TOLERANCE = 5
SETTLE = 10
HINT = "Try 'btvm --help' for more information."


def echo(vm, word, timeout=300):
    """The guest's shell answers a command typed now; the marker is
    computed, so the echo of the command line never matches."""
    vm.send("echo %s-$((6*7))" % word)
    vm.expect(r"%s-42" % word, timeout=timeout)


def status(vm):
    r = vm.cmd("query-status")
    check("return" in r, "query-status answers (%s)" % r)
    return r["return"]["status"]


def guest_clock(vm, what):
    """The guest's system clock set from the RTC, against the host's time
    taken around the read."""
    t0 = time.time()
    vm.send("hwclock -u -s; echo CLOCK-$(date +%s)-$((6*7))")
    got = int(vm.expect(r"CLOCK-(\d+)-42").group(1))
    t1 = time.time()
    check(t0 - TOLERANCE <= got <= t1 + TOLERANCE,
          "%s: the guest's RTC reads the host's time (guest %d, host %.0f to %.0f)"
          % (what, got, t0, t1))


def usage_refused(btvm, args, want, what):
    p = subprocess.run([btvm, "run"] + args + ["--display", "none", "--serial", "none"],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    lines = p.stderr.splitlines()
    check(p.returncode == 2 and len(lines) == 2 and lines[0].startswith("btvm: ")
          and want in lines[0] and lines[1] == HINT,
          "%s: status 2 and one line naming it (status %d, %r)" % (what, p.returncode, p.stderr))


def main():
    btvm = os.path.abspath(sys.argv[1])
    kernel, initrd = fetch_guest()
    work = tempfile.mkdtemp(prefix="btvm-snapshot-pause-")
    log = open(os.path.join(work, "console.log"), "wb")
    vms = []
    disk, ide, other = (os.path.join(work, n) for n in ("vda.img", "ide.img", "other.img"))
    for path in (disk, ide, other):
        with open(path, "wb") as f:
            f.truncate(16 << 20)
    link = os.path.join(work, "link.img")
    os.symlink(disk, link)
    machine = ["-m", "256", "--net", "user"]
    disks = ["--disk", disk, "--disk", ide + ",if=ide,readonly"]
    paused_snap = os.path.join(work, "paused.snap")
    running_snap = os.path.join(work, "running.snap")

    def start(args, name):
        vm = Vm([btvm, "run"] + args, os.path.join(work, name + ".sock"), log)
        vms.append(vm)
        vm.connect()
        return vm

    try:
        # 1. Saved paused, then saved running.
        vm = start(["--kernel", kernel, "--initrd", initrd, "--append", "console=ttyS0 quiet " + quick_boot_args(),
                    "--no-reboot"] + machine + disks, "boot")
        vm.expect(r"guest:~ #")
        echo(vm, "BOOTED")
        guest_clock(vm, "at boot")
        check(vm.cmd("stop") == {"return": {}}, "stop answers {}")
        check(status(vm) == "paused", "stopped, the machine is paused")
        time.sleep(1)
        check(vm.cmd("savevm", file=paused_snap) == {"return": {}}, "savevm while paused")
        check(status(vm) == "paused", "still paused after the save")
        check(vm.cmd("cont") == {"return": {}}, "cont answers {}")
        echo(vm, "RUNNING")
        check(vm.cmd("savevm", file=running_snap) == {"return": {}}, "savevm while running")
        vm.kill()
        time.sleep(SETTLE)

        # 2. The paused one restores paused, with the README's options
        # and the same disks (the virtio one by another name).
        vm = start(["--restore", paused_snap] + machine +
                   ["--disk", link, "--disk", ide + ",if=ide,readonly"], "paused")
        check(status(vm) == "paused", "saved paused, restored paused")
        check(vm.mon.human("info status").startswith("VM status: paused"),
              "info status says paused")
        vm.send("echo WHILE-PAUSED-$((6*7))")
        try:
            vm.expect(r"WHILE-PAUSED-42", timeout=2)
            answered = True
        except Fail:
            answered = False
        check(not answered, "the paused guest does not answer")
        check(vm.cmd("cont") == {"return": {}}, "cont answers {}")
        vm.expect(r"WHILE-PAUSED-42")
        check(status(vm) == "running", "running after cont")
        echo(vm, "AFTER-CONT")
        guest_clock(vm, "the paused snapshot restored, then cont")
        vm.kill()

        # 3. The running one restores running.
        vm = start(["--restore", running_snap] + machine + disks, "running")
        echo(vm, "RESTORED")
        check(status(vm) == "running", "saved running, restored running")
        guest_clock(vm, "the running snapshot restored")
        vm.kill()

        # 4. --start says otherwise.
        vm = start(["--restore", running_snap, "--start", "paused"], "start-paused")
        check(status(vm) == "paused", "--start paused: the running snapshot restores paused")
        check(vm.cmd("cont") == {"return": {}}, "cont answers {}")
        echo(vm, "STARTED")
        vm.kill()
        vm = start(["--restore", paused_snap, "--start", "running"], "start-running")
        echo(vm, "RUNS-AT-ONCE")
        check(status(vm) == "running", "--start running: the paused snapshot restores running")
        vm.kill()

        # 5. Disks that disagree, and a bad --start.
        r = ["--restore", running_snap]
        usage_refused(btvm, r + ["--disk", other, "--disk", ide + ",if=ide,readonly"],
                      "--disk %s is not the snapshot's virtio disk 1" % other, "another image")
        usage_refused(btvm, r + ["--disk", disk], "the snapshot's IDE disk 1", "a disk missing")
        usage_refused(btvm, r + disks + ["--disk", other], "one virtio disk more",
                      "a disk more")
        usage_refused(btvm, r + ["--disk", disk + ",readonly", "--disk", ide + ",if=ide,readonly"],
                      "which is read-write", "read-only flipped")
        usage_refused(btvm, r + ["--disk", disk, "--disk", ide + ",if=ide"],
                      "which is read-only", "read-write flipped")
        usage_refused(btvm, r + ["--disk", disk + ",if=ide", "--disk", ide + ",if=ide,readonly"],
                      "the snapshot has it on virtio", "another interface")
        usage_refused(btvm, r + ["--start", "later"], "invalid --start 'later'", "a bad --start")
        usage_refused(btvm, ["--kernel", kernel, "--start", "paused"],
                      "--start goes with --restore or --incoming", "--start without a snapshot")

        # 6. Migrated: paused as the source was, or as --start says.
        vm = start(["--kernel", kernel, "--initrd", initrd, "--append", "console=ttyS0 quiet " + quick_boot_args(),
                    "--no-reboot", "-m", "256", "--net", "none"], "source")
        vm.expect(r"guest:~ #")
        echo(vm, "SOURCE")
        check(vm.cmd("stop") == {"return": {}}, "stop answers {}")
        for name, start_args, want in (("hop1", [], "paused"),
                                       ("hop2", ["--start", "paused"], "paused")):
            hop = os.path.join(work, name)
            dst = Vm([btvm, "run", "--incoming", "unix:" + hop] + start_args,
                     os.path.join(work, name + ".sock"), log)
            vms.append(dst)
            dst.expect(r"waiting for a migration on " + hop)
            check(vm.cmd("migrate", uri="unix:" + hop) == {"return": {}}, "migrate starts")
            check(wait_exit(vm.pid, 120) == 0, "the source ends with status 0")
            os.close(vm.fd)
            vm.fd = -1
            vms.remove(vm)
            vm = dst
            vm.connect()
            check(status(vm) == want, "migrated %s: arrives %s" % (
                "with " + " ".join(start_args) if start_args else "from a paused source", want))
            check(vm.cmd("cont") == {"return": {}}, "cont answers {}")
            echo(vm, "ARRIVED-" + name.upper())
    except Fail as e:
        print("run_snapshot_pause: FAIL:", e)
        print("run_snapshot_pause: console log in", os.path.join(work, "console.log"))
        return 1
    finally:
        for v in vms:
            v.kill()
    shutil.rmtree(work, ignore_errors=True)
    print("run_snapshot_pause: passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
