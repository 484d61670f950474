#!/usr/bin/env python3
"""Snapshots and live migration of a machine of two vCPUs (--smp 2), with
Debian's i386 kernel and the busybox initramfs:

 1. two shell loops at once (one a CPU, as Linux spreads them) compute
    checksums in the background; savevm through the monitor socket while
    they run, that btvm killed, `btvm run --restore` in a new one (a
    conflicting --smp 1 is refused first with one line, a matching
    --smp 2 taken): the loops, stopped, hold the checksums Python
    computes for the steps each ran; nproc and
    /sys/devices/system/cpu/online still say two CPUs, and both CPUs'
    busy time in /proc/stat grows across another pair of loops;
 2. three more save/restore cycles across another pair of loops, which
    then hold the right checksums;
 3. that guest migrates live over loopback TCP (a sealed stream) to a
    btvm started with --incoming; on the destination the pair of loops
    running at the migration holds the right checksums, both CPUs still
    count and work, and poweroff ends it with status 0.

Usage: run_smp_snapshot.py BTVM
Exit status: 0 passed, 1 failed, 77 the guest could not be downloaded.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vmtools import (  # noqa: E402
    Fail, GuestVm, check, fetch_guest, free_port, loops_start, loops_stop,
    quick_boot_args, wait_exit)

PROMPT = r"guest:~ #"


class Vm(GuestVm):
    """One btvm on a pseudo-terminal, with its monitor socket."""

    def __init__(self, args, sock, log):
        super().__init__(log, args + ["--display", "none", "--net", "none",
                                      "--monitor", "unix:" + sock], sock)


def busy(vm):
    """Each CPU's user + nice + system jiffies."""
    vm.send("grep '^cpu[01] ' /proc/stat")
    # Each number ends with the space before the next field, so that a
    # line still arriving is not read short.
    m = vm.expect(r"\ncpu0 (\d+) (\d+) (\d+) [^\n]*\ncpu1 (\d+) (\d+) (\d+) ")
    vm.expect(PROMPT)
    g = [int(x) for x in m.groups()]
    return sum(g[0:3]), sum(g[3:6])


def two_cpus(vm, what):
    vm.send("echo CPUS-$(nproc)-$(cat /sys/devices/system/cpu/online)")
    m = vm.expect(r"CPUS-(\d+)-([0-9-]+)\r")
    check(m.group(1) == b"2" and m.group(2) == b"0-1",
          "%s: nproc 2 and CPUs 0-1 online (%s, %s)" % (what, m.group(1), m.group(2)))
    vm.expect(PROMPT)
    # Two loops until both CPUs' busy time has grown (Linux spreads
    # them), a minute at most.
    before = busy(vm)
    tag = "busy-" + re.sub(r"\W", "", what)
    vm.run(loops_start(tag, [0, 1]))
    for _ in range(300):
        after = busy(vm)
        if after[0] > before[0] and after[1] > before[1]:
            break
        time.sleep(0.2)
    loops_stop(vm, tag, [0, 1], what)
    check(after[0] > before[0] and after[1] > before[1],
          "%s: both CPUs ran work (busy jiffies %s -> %s)" % (what, before, after))


def save(vm, path):
    r = vm.cmd("savevm", file=path)
    check(r == {"return": {}}, "savevm answers {} (%s)" % r)


def main():
    btvm = os.path.abspath(sys.argv[1])
    kernel, initrd = fetch_guest()
    work = tempfile.mkdtemp(prefix="btvm-smp-snapshot-")
    log = open(os.path.join(work, "console.log"), "wb")
    snap = os.path.join(work, "vm.snap")
    key = os.path.join(work, "key")
    with open(key, "wb") as f:
        f.write(os.urandom(32))
    os.chmod(key, 0o600)
    vms = []
    try:
        vm = Vm([btvm, "run", "--smp", "2", "-m", "256", "--kernel", kernel, "--initrd", initrd,
                 "--append", "console=ttyS0 quiet " + quick_boot_args(), "--no-reboot"],
                os.path.join(work, "m0.sock"), log)
        vms.append(vm)
        vm.expect(PROMPT)
        two_cpus(vm, "booted")

        # 1. Saved in the middle of two loops, restored in a new btvm.
        vm.run(loops_start("a", [0, 1]))
        time.sleep(1.5)
        save(vm, snap)
        vm.kill()
        p = subprocess.run([btvm, "run", "--restore", snap, "--smp", "1", "--display", "none"],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
        lines = p.stderr.splitlines()
        check(p.returncode == 2 and len(lines) >= 1 and
              "--smp 1 conflicts with the snapshot's 2 vCPUs" in lines[0],
              "--restore with --smp 1 is refused (%d, %r)" % (p.returncode, p.stderr))
        vm = Vm([btvm, "run", "--restore", snap, "--smp", "2"], os.path.join(work, "m1.sock"), log)
        vms.append(vm)
        loops_stop(vm, "a", [0, 1], "restored")
        two_cpus(vm, "restored")

        # 2. Three more cycles across another pair.
        vm.run(loops_start("b", [0, 1]))
        for k in range(3):
            time.sleep(0.5)
            save(vm, snap)
            vm.kill()
            vm = Vm([btvm, "run", "--restore", snap], os.path.join(work, "c%d.sock" % k), log)
            vms.append(vm)
            vm.cmd("query-status")
        loops_stop(vm, "b", [0, 1], "after 3 cycles")

        # 3. Live migration over loopback.
        port = free_port()
        dst = Vm([btvm, "run", "--incoming", "tcp:127.0.0.1:%d,key=%s" % (port, key)],
                 os.path.join(work, "dst.sock"), log)
        vms.append(dst)
        dst.expect(r"waiting for a migration")
        vm.run(loops_start("c", [0, 1]))
        time.sleep(1)
        check(vm.cmd("migrate", uri="tcp:127.0.0.1:%d,key=%s" % (port, key)) == {"return": {}},
              "migrate starts")
        code = wait_exit(vm.pid, 300)
        check(code == 0, "the source ends with status 0 (%d)" % code)
        os.close(vm.fd)
        vm.fd = -1
        loops_stop(dst, "c", [0, 1], "migrated")
        two_cpus(dst, "migrated")
        dst.send("poweroff -f")
        check(wait_exit(dst.pid, 120) == 0, "the migrated guest powers off with status 0")
        os.close(dst.fd)
        dst.fd = -1
    except Fail as e:
        print("run_smp_snapshot: FAIL:", e)
        print("run_smp_snapshot: console log in", os.path.join(work, "console.log"))
        return 1
    finally:
        for v in vms:
            v.kill()
    shutil.rmtree(work, ignore_errors=True)
    print("run_smp_snapshot: passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
