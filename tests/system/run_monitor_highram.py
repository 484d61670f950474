#!/usr/bin/env python3
"""The monitor's physical reads above 4 GiB, against tests/guests/highram.asm
run with -m 5120 and "wait": the guest leaves its patterns at the top of
RAM (TOP, 4 GiB + 2 GiB - 4 KiB, past 4 GiB of btvm's memfd), paging on,
prints "INFO highram: waiting, TOP at ..." and spins. Then, over the
monitor socket: xp at TOP reads the guest's pattern, as x does through
TOP's linear alias; read-memory with "physical" the same bytes; xp of the
code the guest wrote at TOP - 8 KiB disassembles it, and translation of
its linear address shows the block btvm made from it; xp of the frame
after RAM's end, and of an address past the 36 physical bits, are errors.
The gdb stub in QEMU's physical mode (Qqemu.PhyMemMode:1) reads TOP by
its physical address and writes there (the monitor's xp and the stub's
linear read through the alias see the write); past RAM and past 36 bits
are errors; back in linear mode its addresses are linear again. Then the
machine migrates live (over a Unix socket) to a btvm started
with --incoming, whose monitor reads the same bytes at TOP and at TOP -
8 KiB: the migration carries RAM past 4 GiB of memfd. Extra btvm options
(--one-insn-blocks) follow the guest.

Usage: run_monitor_highram.py BTVM HIGHRAM_ELF [btvm options]
Exit status: 0 passed, 1 failed.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vmtools import Fail, Monitor, check, free_port  # noqa: E402
from run_gdb import Rsp  # noqa: E402

TIMEOUT = 120
TOP = 0x17FFFF000




def main():
    btvm, elf, extra = sys.argv[1], sys.argv[2], sys.argv[3:]
    work = tempfile.mkdtemp(prefix="btvm-xp-high-")
    sock_path = os.path.join(work, "m.sock")
    port = free_port()
    proc = subprocess.Popen([btvm, "run", "--kernel", elf, "-m", "5120", "--append", "wait",
                             "--display", "none", "--serial", "stdio",
                             "--monitor", "unix:" + sock_path,
                             "--gdb", "tcp:127.0.0.1:%d" % port] + extra,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    try:
        client = Monitor.when_up(sock_path, proc, TIMEOUT)
        console = b""
        deadline = time.time() + TIMEOUT
        while b"INFO highram: waiting" not in console:
            data = proc.stdout.readline()
            if not data or time.time() > deadline:
                raise Fail("the guest never waited: %r" % console)
            console += data
        check(b"FAIL" not in console, "the guest's groups passed before the wait")
        top = re.search(rb"TOP at ([0-9a-f]{16})", console)
        check(top and int(top.group(1), 16) == TOP, "TOP is 4 GiB + 2 GiB - 4 KiB")
        check(client.cmd("stop").get("return") == {}, "stop")

        out = client.human("xp /2xw 0x%x" % (TOP + 0x10))
        check(out.strip() == "%x: 0x7e7e0010 0x00000000" % (TOP + 0x10),
              "xp above 4 GiB reads the guest's pattern: " + out.strip())
        out = client.human("x /2xw 0x40002010")
        check(out.strip() == "40002010: 0x7e7e0010 0x00000000",
              "x through the linear alias reads the same: " + out.strip())
        data = client.cmd("read-memory", address=TOP + 0xff8, size=8, physical=True)
        check(data.get("return", {}).get("data") == "f80f7e7e00000000",
              "read-memory's physical address above 4 GiB: %s" % data)
        out = client.human("xp /2i 0x%x" % (TOP - 0x2000))
        check(re.search(r"^%x:\s+mov\s+eax, 0xbadc0de$" % (TOP - 0x2000), out, re.M) and
              re.search(r"^%x:\s+ret\b" % (TOP - 0x2000 + 5), out, re.M),
              "xp /2i disassembles the code at TOP - 8 KiB:\n" + out)
        out = client.human("translation 0x40007000")
        check(re.search(r"^block 40007000 mode ", out, re.M) and
              re.search(r"^  40007000:  mov eax, 0xbadc0de$", out, re.M),
              "translation shows the block made from code past 4 GiB of memfd:\n" + out)
        out = client.human("xp /1xw 0x%x" % (TOP + 0x1000))
        check(out.strip() == "error: physical address %x is not in memory" % (TOP + 0x1000),
              "xp past the end of RAM: " + out.strip())
        out = client.human("xp /1xw 0x1000000000")
        check(out.startswith("error: usage: xp"), "xp past 36 bits: " + out.strip())
        data = client.cmd("read-memory", address=1 << 36, size=4, physical=True)
        check("error" in data, "read-memory past 36 bits is an error")

        gdb = Rsp(port)   # attaching stops the guest for gdb too
        check(gdb.ask("qqemu.PhyMemMode") == "0", "the gdb stub starts in linear mode")
        check(gdb.ask("m40002010,4") == "10007e7e", "gdb reads TOP through its linear alias")
        check(gdb.ask("Qqemu.PhyMemMode:1") == "OK", "gdb's physical mode on")
        check(gdb.ask("qqemu.PhyMemMode") == "1", "the stub says it is in physical mode")
        check(gdb.ask("m%x,8" % (TOP + 0x10)) == "10007e7e00000000",
              "gdb reads TOP by its physical address")
        check(gdb.ask("M%x,4:11223344" % (TOP + 0x100)) == "OK", "gdb writes at TOP + 0x100")
        out = client.human("xp /1xw 0x%x" % (TOP + 0x100))
        check(out.strip() == "%x: 0x44332211" % (TOP + 0x100),
              "the monitor sees gdb's physical write: " + out.strip())
        check(gdb.ask("m%x,4" % (TOP + 0x1000)).startswith("E"), "gdb: past RAM's end, an error")
        check(gdb.ask("m1000000000,4").startswith("E"), "gdb: past 36 bits, an error")
        check(gdb.ask("Qqemu.PhyMemMode:0") == "OK", "gdb's physical mode off")
        check(gdb.ask("m40002100,4") == "11223344", "linear again: the write through the alias")
        check(gdb.ask("D") == "OK", "gdb detaches")
        check(client.cmd("cont").get("return") == {}, "cont")

        mig_path = os.path.join(work, "mig.sock")
        dst_sock = os.path.join(work, "dst.sock")
        dst = subprocess.Popen([btvm, "run", "--incoming", "unix:" + mig_path, "--display", "none",
                                "--serial", "stdio", "--monitor", "unix:" + dst_sock] + extra,
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        deadline = time.time() + TIMEOUT
        while not os.path.exists(mig_path):
            if time.time() > deadline or dst.poll() is not None:
                raise Fail("the destination never listened")
            time.sleep(0.05)
        check(client.cmd("migrate", uri="unix:" + mig_path) == {"return": {}}, "migrate starts")
        status = proc.wait(timeout=TIMEOUT)
        check(status == 0, "the source ends with status 0 after the migration")
        dst_client = Monitor.when_up(dst_sock, dst, TIMEOUT)   # its monitor opens once the machine is in
        out = dst_client.human("xp /2xw 0x%x" % (TOP + 0x10))
        check(out.strip() == "%x: 0x7e7e0010 0x00000000" % (TOP + 0x10),
              "the destination holds the pattern at TOP: " + out.strip())
        out = dst_client.human("xp /6xb 0x%x" % (TOP - 0x2000))
        check(out.strip() == "%x: 0xb8 0xde 0xc0 0xad 0x0b 0xc3" % (TOP - 0x2000),
              "the destination holds the code at TOP - 8 KiB: " + out.strip())
        dst_client.cmd("quit")
        check(dst.wait(timeout=TIMEOUT) == 0, "quit ends the destination with status 0")
    finally:
        for p in (proc, locals().get("dst")):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
    shutil.rmtree(work)     # only reached when every check passed
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Fail as e:
        print("FAIL:", e)
        sys.exit(1)
