#!/usr/bin/env python3
"""End-to-end check of the control plane on the serial console and the
monitor socket, with Debian's i386 kernel and the busybox initramfs, btvm
started by a real interactive bash on a pseudo-terminal (job control on):

 1. Ctrl-A h lists the keys; Ctrl-A c opens the monitor, whose commands
    answer (info registers/mmu/devices/tcache, x, xp, translation), a bad
    command gets an error line and the guest goes on; Ctrl-A c returns.
 2. The socket speaks JSON lines: the greeting, query-status, stop and
    cont with their events, query-registers, read-memory, errors for bad
    requests; a second btvm on the same socket path is refused.
 3. Pause: three seconds paused add less than half a second to the guest's
    /proc/uptime, and input typed while paused reaches the guest after.
 4. kill -STOP, kill -CONT (bash has the terminal back), then bash's fg:
    the terminal is raw again and guest input works; the same after a
    kill -TSTP and fg.
 5. Ctrl-A x ends btvm with status 0.

Usage: run_control.py BTVM
Exit status: 0 passed, 1 failed, 77 the guest could not be downloaded.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import termios
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vmtools import Fail, Monitor, Pty, check, fetch_guest, quick_boot_args  # noqa: E402

def uptime(term):
    term.send("cat /proc/uptime\r")
    return float(term.expect(r"\n(\d+\.\d+) \d+\.\d+").group(1))


def raw(term):
    """btvm's raw mode: no line editing, echo or signals (bash's readline
    turns the first two off too, but keeps ISIG)."""
    lflag = term.lflag()
    return not (lflag & (termios.ICANON | termios.ECHO | termios.ISIG))


def guest_echo(term, word):
    """The guest's shell answers a command typed now."""
    term.send('echo "%s""%s"\r' % (word[:2], word[2:]))
    term.expect(word + r"\r")
    term.expect(r"# ")


def main():
    btvm = sys.argv[1]
    kernel, initrd = fetch_guest()
    work = tempfile.mkdtemp(prefix="btvm-control-")
    sock = os.path.join(work, "mon.sock")
    log = open(os.path.join(work, "console.log"), "wb")
    term = Pty(log)
    try:
        term.expect(r"bash\$ ")
        term.send("%s run --kernel %s --initrd %s --append 'console=ttyS0 quiet %s' "
                  "--display none --monitor unix:%s\r"
                  % (btvm, kernel, initrd, quick_boot_args(), sock))
        term.expect(r"# ")
        pid = int(subprocess.run(["pgrep", "-n", "-f", "unix:" + sock], capture_output=True,
                                 text=True).stdout.split()[0])

        # 1. Escape keys and the terminal's monitor.
        term.send("\x01h")
        term.expect(r"C-a x +exit btvm")
        term.send("\x01c")
        term.expect(r"\(btvm\) ")
        term.send("info registers\r")
        m = term.expect(r"EIP=([0-9a-f]{8}) EFL=[0-9a-f]{8} \[[^]]*\] CPL=(\d)")
        term.expect(r"CR0=[0-9a-f]{8} CR2=[0-9a-f]{8} CR3=([0-9a-f]{8})")
        term.expect(r"\(btvm\) ")
        # Kernel code at CPL 0, or a user process below the kernel's 3 GiB
        # at CPL 3: the shell at its prompt is mostly in the kernel, but a
        # slow host (ASan) may stop it between its prompt and its read.
        eip, cpl = int(m.group(1), 16), int(m.group(2))
        check((eip >= 0xc0000000) == (cpl == 0),
              "info registers shows the kernel's EIP at CPL 0 or a user EIP at CPL 3 "
              "(EIP %08x, CPL %d)" % (eip, cpl))
        term.send("x /2i $eip\r")
        term.expect(r"[0-9a-f]{8}:  \w+")
        term.expect(r"\(btvm\) ")
        term.send("xp /4xw 0x100000\r")
        term.expect(r"00100000: 0x[0-9a-f]{8} 0x[0-9a-f]{8}")
        term.expect(r"\(btvm\) ")
        term.send("x /xw 0xfffff000\r")
        term.expect(r"error: linear address fffff000 is not in memory")
        term.send("translation $eip\r")
        term.expect(r"(block [0-9a-f]{8} mode|no translation of)")
        term.expect(r"\(btvm\) ")
        term.send("info devices\r")
        term.expect(r"00:01\.0  8086:7000")
        term.send("info mmu\r")
        term.expect(r"windows")
        term.send("info tcache\r")
        term.expect(r"blocks translated +\d+")
        term.send("frobnicate 1 2\r")
        term.expect(r"error: unknown command")
        term.send("x /zz 12\r")
        term.expect(r"error: usage: x /FMT ADDR")
        term.expect(r"\(btvm\) ")
        print("ok: the terminal's monitor answers, bad commands get an error line")
        term.send("\x01c")
        guest_echo(term, "back-in-guest")
        print("ok: Ctrl-A c returns to the guest")

        # 2. The socket's JSON protocol.
        mon = Monitor(sock)
        check("QMP" in mon.line(), "the socket greets in the manner of QMP")
        check(mon.cmd("qmp_capabilities") == {"return": {}}, "qmp_capabilities")
        check(mon.cmd("query-status")["return"]["status"] == "running", "query-status: running")
        regs = mon.cmd("query-registers")["return"]
        # Paging on, and kernel code at CPL 0 (the guest may be in a user
        # process at that moment: then CPL 3 below the kernel's 3 GiB).
        check(regs["cr0"] & 0x80000000 and
              (regs["eip"] >= 0xc0000000) == (regs["cpl"] == 0),
              "query-registers (cr0 %#x, cpl %d, eip %#x)" % (regs["cr0"], regs["cpl"], regs["eip"]))
        data = mon.cmd("read-memory", address=0x100000, size=16, physical=True)["return"]["data"]
        check(len(data) == 32, "read-memory reads guest RAM")
        check("error" in mon.cmd("read-memory", address=0xfffff000, size=16, physical=True),
              "read-memory outside RAM is an error")
        check("error" in mon.cmd("no-such-command"), "an unknown command is an error")
        mon.send("{this is not json")
        check("error" in mon.reply(), "a line that is not JSON is an error")
        mon.send("info status")
        check(mon.file.readline().startswith("VM status: running"),
              "a line not starting with '{' is a human command, answered in text")
        mon.send('{"execute": 5}')
        check("error" in mon.reply(), "a malformed command is an error")
        text = mon.cmd("human-monitor-command", **{"command-line": "info status"})["return"]
        check("running" in text, "human-monitor-command")
        second = subprocess.run([btvm, "run", "--kernel", kernel, "--display", "none",
                                 "--serial", "none", "--monitor", "unix:" + sock],
                                capture_output=True, text=True, timeout=60)
        check(second.returncode == 1 and "in use" in second.stderr
              and len(second.stderr.strip().splitlines()) == 1,
              "a second btvm on the same socket: one line, status 1")

        # 3. Pause: guest time stands still, input waits. Guest time runs
        # no faster than the host's and not while paused, so from before
        # the first uptime read to after the last it passes at most the
        # wall time less the 3 s paused (0.5 s for rounding and the guest
        # kernel's calibration of its clock);
        # how much of it the guest spends on the commands around the pause
        # is the host's business (seconds on a loaded one).
        wall_start = time.time()
        before = uptime(term)
        term.expect(r"# ")
        check(mon.cmd("stop") == {"return": {}}, "stop")
        check(mon.cmd("query-status")["return"]["status"] == "paused", "query-status: paused")
        paused_at = time.time()
        term.send('echo "typed""-while-paused"\r')
        time.sleep(3)
        check(b"typed-while-paused" not in term.buf, "a paused guest does not answer")
        check(mon.cmd("cont") == {"return": {}}, "cont")
        paused_for = time.time() - paused_at
        term.expect(r"typed-while-paused\r")
        term.expect(r"# ")
        after = uptime(term)
        wall = time.time() - wall_start
        term.expect(r"# ")
        check("STOP" in mon.events and "RESUME" in mon.events, "STOP and RESUME events")
        check(paused_for >= 3 and after - before < wall - 3 + 0.5,
              "guest time stood still while paused (uptime %.2f -> %.2f over %.1f s, %.1f s paused)"
              % (before, after, wall, paused_for))

        # 4. Job control.
        check(raw(term), "the terminal is raw while btvm runs")
        os.kill(pid, signal.SIGSTOP)
        term.expect(r"Stopped")
        term.expect(r"bash\$ ")
        os.kill(pid, signal.SIGCONT)   # runs on, in the background
        time.sleep(0.5)
        term.send("\r")
        term.expect(r"bash\$ ")
        term.send("fg\r")
        time.sleep(0.5)
        check(raw(term), "after kill -STOP, kill -CONT and fg the terminal is raw again")
        term.send("\r")
        term.expect(r"# ")
        guest_echo(term, "after-stop")
        print("ok: guest input works after a stop and fg")
        os.kill(pid, signal.SIGTSTP)
        term.expect(r"Stopped")
        term.expect(r"bash\$ ")
        check(not raw(term), "kill -TSTP hands the terminal back as it was")
        term.send("fg\r")
        time.sleep(0.5)
        check(raw(term), "after fg the terminal is raw again")
        term.send("\r")
        term.expect(r"# ")
        guest_echo(term, "after-tstp")
        print("ok: guest input works after a terminal stop and fg")

        # 5. The way out.
        # (bash's fg left the job's status in $?, a stopped list's
        # later commands are dropped.)
        term.send("\x01x")
        term.expect(r"bash\$ ")
        term.send('echo "btvm-status=$?"\r')
        m = term.expect(r"btvm-status=(\d+)")
        check(m.group(1) == b"0", "Ctrl-A x ends btvm with status 0")
        check(not os.path.exists(sock), "the socket file is gone at exit")
    except Fail as e:
        print("run_control: FAIL:", e, file=sys.stderr)
        print("run_control: console log in", log.name, file=sys.stderr)
        return 1
    finally:
        subprocess.run(["pkill", "-KILL", "-f", "unix:" + sock])
        try:
            os.kill(term.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    log.close()
    shutil.rmtree(work)     # kept, with the console log, when a check fails
    return 0


if __name__ == "__main__":
    sys.exit(main())
