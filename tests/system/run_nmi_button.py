#!/usr/bin/env python3
"""The front-panel NMI button through the monitor socket, against
tests/guests/nmi_button.asm: each time the guest prints "WAIT <n>" it
waits for the button (the guest's groups say what it checks then), and
this script presses it with the JSON inject-nmi (the human `nmi` at
"WAIT 1", whose answer is empty), then at "WAIT 5" also presses the ACPI
power button (system_powerdown), the guest's sign that the NMI button's
press, which it cannot see there, is done. Passes when btvm ends with the
guest's pass status (33), every marker came once and in order, and the
console has no FAIL line. Extra btvm options (--one-insn-blocks) follow
the guest.

Usage: run_nmi_button.py BTVM NMI_BUTTON_ELF [btvm options]
Exit status: 0 passed, 1 failed.
"""
import os
import select
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vmtools import Fail, Monitor, check  # noqa: E402

TIMEOUT = 240
MARKERS = 7
GUEST_PASS_STATUS = 33




def run(btvm, elf, extra, work):
    sock_path = os.path.join(work, "m.sock")
    proc = subprocess.Popen([btvm, "run", "--kernel", elf, "-m", "16", "--display", "none",
                             "--serial", "stdio", "--monitor", "unix:" + sock_path] + extra,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    deadline = time.time() + TIMEOUT
    try:
        client = Monitor.when_up(sock_path, proc, deadline - time.time())
        out = pending = b""
        seen = 0
        while True:
            left = deadline - time.time()
            if left <= 0:
                raise Fail("timed out; console so far: %r" % out[-600:])
            if not select.select([proc.stdout], [], [], left)[0]:
                continue
            data = os.read(proc.stdout.fileno(), 65536)
            if not data:
                break
            sys.stdout.write(data.decode(errors="replace"))
            out += data
            pending += data
            # Whole lines only: a marker split over two reads is taken once.
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                if not line.startswith(b"WAIT "):
                    continue
                n = int(line[5:])
                check(n == seen + 1, "marker WAIT %d comes after WAIT %d" % (n, seen))
                seen = n
                if n == 1:
                    client.human_line("nmi")
                else:
                    check(client.cmd("inject-nmi") == {"return": {}}, "inject-nmi answered")
                if n == 5:
                    check(client.cmd("system_powerdown") == {"return": {}},
                          "system_powerdown answered")
        status = proc.wait(TIMEOUT)
        text = out.decode(errors="replace")
        check(seen == MARKERS, "all %d markers came (got %d)" % (MARKERS, seen))
        check("\nFAIL" not in "\n" + text, "no FAIL line")
        check("PASS nmi_button (" in text, "the guest's summary says PASS")
        check(status == GUEST_PASS_STATUS, "btvm ends with the guest's pass status (got %d)" % status)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    btvm, elf = sys.argv[1:3]
    with tempfile.TemporaryDirectory() as work:
        try:
            run(btvm, elf, sys.argv[3:], work)
        except (Fail, OSError, ValueError) as e:
            print("FAIL:", e)
            sys.exit(1)
    print("PASS")


main()
