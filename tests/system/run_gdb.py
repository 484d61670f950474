#!/usr/bin/env python3
"""The gdb stub (--gdb, -S) against tests/guests/gdb_target.asm.

run_gdb.py gdb BTVM GUEST [btvm options]
    Debian's gdb in batch mode: a breakpoint at a symbol, registers and
    memory, three stepi, a register and memory changed (the guest's exit
    status shows both), a breakpoint hit four times in a loop, a breakpoint
    at a linear address that only the guest's page tables map (not hit
    where the same code runs at its physical address), memory read there
    and an unmapped address refused, then the run to the end, which gdb
    hears as the program's exit. The guest checksums its own code at the
    end: a breakpoint written into its memory would fail it.

run_gdb.py smp BTVM GUEST [btvm options]
    Several vCPUs (--smp 4) against tests/guests/smp_park.asm: the
    monitor's info cpus before the start (the APs wait for a start-up
    IPI), then Debian's gdb: a breakpoint on the BSP once the APs are
    parked, info threads listing four, each thread's registers its vCPU's
    (the values each AP set), a stepi of thread 2 that steps that vCPU and
    stays on it; after gdb detached, the monitor's info cpus (states, EIPs,
    modes) and cpu N selecting the vCPU that info registers and x use.

run_gdb.py protocol BTVM GUEST
    The protocol by hand on a socket: acks, garbage between packets, a bad
    checksum ('-'), malformed and overlong packets, an unmapped read (an E
    reply, not a guest fault), the target description, Ctrl-C stopping a
    running guest, the monitor's view of gdb's stop (info status, a refused
    cont), a disconnect that leaves the guest running with its breakpoints
    gone, a port in use (status 1, one line) and malformed --gdb options
    (status 2).
"""
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vmtools import Fail, Monitor, check, free_port  # noqa: E402

TIMEOUT = 60


def symbols(guest):
    out = subprocess.run(["nm", guest], capture_output=True, text=True, check=True).stdout
    syms = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3:
            syms[parts[2]] = int(parts[0], 16)
    return syms


def start_btvm(btvm, guest, port, extra=(), monitor=None):
    cmd = [btvm, "run", "--kernel", guest, "-m", "16", "--display", "none", "--serial", "none",
           "--gdb", "tcp::%d" % port, "-S"] + list(extra)
    if monitor:
        cmd += ["--monitor", "unix:" + monitor]
    # No probe of the port: a connection that comes and goes is a gdb
    # that detached, which lets the guest go. gdb itself retries a
    # refused connection (set tcp auto-retry), and so does Rsp.
    return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish(proc, want_status):
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise Fail("btvm did not end")
    check(proc.returncode == want_status,
          "btvm exited with %d, want %d; stderr: %s" % (proc.returncode, want_status, err))


def run_gdb_batch(btvm, guest, extra):
    sym = symbols(guest)
    port = free_port()
    proc = start_btvm(btvm, guest, port, extra)
    cmds = [
        "set confirm off",
        "file " + guest,
        "target remote :%d" % port,
        "break *bp_main", "continue",
        'printf "AT %x\\n", $pc',
        "info registers eip",
        'printf "EAX %x\\n", $eax',
        "x/4xw &data_words",
        "stepi", 'printf "STEP %x\\n", $pc',
        "stepi", 'printf "STEP %x\\n", $pc',
        "stepi", 'printf "STEP %x ECX %x\\n", $pc, $ecx',
        "set $ebx = 0x20",
        "set {int}&data_words = 5",
        'printf "EBX %x\\n", $ebx',
        "x/1xw &data_words",
        "delete",
        "break *bump",
    ]
    for _ in range(4):
        cmds += ["continue", 'printf "BUMP esi=%d pc=%x\\n", $esi, $pc']
    cmds += [
        "delete",
        "set {int}&go = 1",
        "break *0x80000000", "continue",
        'printf "ALIAS %x\\n", $pc',
        "x/2xw 0x80001000",
        'printf "CALLS %d\\n", *(int *)&alias_calls',
        "x/xw 0x90000000",
        "delete",
        "continue",
    ]
    args = ["gdb", "-batch", "-nx"]
    for c in cmds:
        args += ["-ex", c]
    try:
        res = subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT,
                             stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise Fail("gdb did not end")
    out = res.stdout + res.stderr
    print(out)

    def want(pattern, what):
        check(re.search(pattern, out, re.M), "%s: no /%s/ in gdb's output" % (what, pattern))

    want(r"^AT %x$" % sym["bp_main"], "stopped at bp_main")
    want(r"^eip\s+0x%x\s+0x%x <bp_main>" % (sym["bp_main"], sym["bp_main"]), "info registers eip")
    want(r"^EAX 12345678$", "EAX at bp_main")
    want(r"^0x%x(?: <data_words>)?:\s+0x11111111\s+0x22222222\s+0x33333333\s+0x44444444$"
         % sym["data_words"], "x/4xw data_words")
    steps = [int(v, 16) for v in re.findall(r"^STEP ([0-9a-f]+)", out, re.M)]
    check(steps == [sym["step1"], sym["step2"], sym["step3"]],
          "stepi went to %s" % [hex(s) for s in steps])
    want(r"^STEP %x ECX 4$" % sym["step3"], "ECX after the steps")
    want(r"^EBX 20$", "EBX set")
    want(r"^0x%x(?: <data_words>)?:\s+0x00000005$" % sym["data_words"], "data_words set")
    bumps = re.findall(r"^BUMP esi=(\d+) pc=([0-9a-f]+)$", out, re.M)
    check(bumps == [(str(i), "%x" % sym["bump"]) for i in range(4)],
          "the breakpoint in the loop: %s" % bumps)
    want(r"^ALIAS 80000000$", "breakpoint at a paged linear address")
    want(r"^0x80001000:\s+0xfeedface\s+0x0badf00d$", "memory through the page tables")
    want(r"^CALLS 1$", "the same code at its physical address did not stop")
    want(r"Cannot access memory at address 0x90000000", "unmapped linear address")
    # 0x2b: EBX 0x20 + data_words 5 + ESI 4 + alias_calls 2; gdb prints octal.
    want(r"\[Inferior 1 \(.*\) exited with code 0127\]", "gdb saw the exit")
    finish(proc, 87)


# --- the protocol by hand ---

class Rsp:
    def __init__(self, port):
        deadline = time.time() + 10
        while True:
            try:
                self.s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
                break
            except ConnectionRefusedError:
                if time.time() > deadline:
                    raise Fail("btvm's gdb port %d never answered" % port)
                time.sleep(0.05)
        self.buf = b""

    def raw(self, data):
        self.s.sendall(data)

    def byte(self):
        if not self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise Fail("the stub closed the connection")
            self.buf = chunk
        b, self.buf = self.buf[:1], self.buf[1:]
        return b

    def send(self, payload):
        if isinstance(payload, str):
            payload = payload.encode()
        self.raw(b"$%s#%02x" % (payload, sum(payload) & 0xff))
        ack = self.byte()
        check(ack == b"+", "packet %r: ack %r" % (payload[:40], ack))

    def recv(self):
        while self.byte() != b"$":
            pass
        data = b""
        while True:
            c = self.byte()
            if c == b"#":
                break
            data += c
        cs = self.byte() + self.byte()
        check(int(cs, 16) == sum(data) & 0xff, "reply checksum")
        self.raw(b"+")
        return data.decode("latin-1")

    def ask(self, payload):
        self.send(payload)
        return self.recv()


def le32(hexstr):
    return int.from_bytes(bytes.fromhex(hexstr), "little")


def monitor_cmd(path, line):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(TIMEOUT)
    deadline = time.time() + 10
    while True:
        try:
            s.connect(path)
            break
        except (FileNotFoundError, ConnectionRefusedError):
            if time.time() > deadline:
                raise Fail("the monitor socket never answered")
            time.sleep(0.05)
    f = s.makefile("rw")
    f.readline()   # greeting
    f.write(line + "\n")
    f.flush()
    # Events go to every client: the STOP of -S comes first when the
    # client connected before the board paused (a loaded host).
    reply = f.readline()
    while reply.startswith('{"event":'):
        reply = f.readline()
    s.close()
    return reply


def run_protocol(btvm, guest):
    sym = symbols(guest)
    work = tempfile.mkdtemp(prefix="btvm-gdb-")
    mon = os.path.join(work, "mon.sock")
    port = free_port()
    proc = start_btvm(btvm, guest, port, monitor=mon)
    try:
        protocol_checks(btvm, guest, sym, port, proc, mon)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    os.rmdir(work)


def protocol_checks(btvm, guest, sym, port, proc, mon):
    check(monitor_cmd(mon, "info status").startswith("VM status: paused (by gdb)"),
          "-S holds the guest stopped before gdb connects")
    r = Rsp(port)
    r.raw(b"garbage between packets\x7f")
    check(r.ask("?").startswith("T05"), "stop reply to '?'")
    # A bad checksum: '-' and nothing else; then the stub still answers.
    r.raw(b"$g#00")
    check(r.byte() == b"-", "a bad checksum is refused with '-'")
    # Overlong: dropped with '-'.
    r.raw(b"$" + b"m" * 20000 + b"#00")
    check(r.byte() == b"-", "an overlong packet is refused with '-'")
    for bad in ["mzz", "m1000", "m1000,", "Mzz:00", "M1000,2:0", "P8=12", "Z0,zz,1",
                "c zz", "vCont;x", "p123456789", "G123"]:
        reply = r.ask(bad)
        check(reply.startswith("E"), "malformed %r: reply %r, want an E reply" % (bad, reply))
    check(r.ask("") == "", "an empty packet gets an empty reply")
    check(r.ask("qUnknownThing") == "", "an unknown query gets an empty reply")
    check(r.ask("Z2,1000,4") == "", "watchpoints are not offered")
    sup = r.ask("qSupported:multiprocess+;swbreak+;hwbreak+;xmlRegisters=i386")
    check("PacketSize=" in sup and "qXfer:features:read+" in sup, "qSupported: %r" % sup)
    xml = r.ask("qXfer:features:read:target.xml:0,ffff")
    check(xml.startswith("l<?xml") and 'org.gnu.gdb.i386.core' in xml and
          'name="gs"' in xml and 'name="fop"' in xml, "target description")
    part = r.ask("qXfer:features:read:target.xml:0,10")
    check(part == "m" + xml[1:17], "target description in pieces: %r" % part)
    check(r.ask("qAttached") == "1", "qAttached")
    check(r.ask("qC") == "QC01", "qC")
    check(r.ask("qfThreadInfo") == "m01" and r.ask("qsThreadInfo") == "l", "thread list")
    check(r.ask("Hg0") == "OK" and r.ask("Hc-1") == "OK", "H packets")
    check(r.ask("vCont?").startswith("vCont;c;C;s;S"), "vCont?")
    regs = r.ask("g")
    check(len(regs) == 2 * (16 * 4 + 8 * 10 + 8 * 4), "g: %d hex digits" % len(regs))
    check(le32(regs[64:72]) == sym["_start"], "EIP at the entry under -S")
    check(le32(regs[0:8]) == 0x2BADB002, "EAX: the Multiboot magic")
    check(le32(r.ask("p8")) == sym["_start"], "p8 is EIP")
    # Unmapped (paging is off: no RAM there): an E reply, the guest unharmed.
    check(r.ask("mf0000000,4").startswith("E"), "a read of unmapped memory is an E reply")
    check(r.ask("Mf0000000,1:00").startswith("E"), "a write to unmapped memory is an E reply")
    check(r.ask("m%x,10" % sym["data_words"]) == "11111111222222223333333344444444",
          "memory read")

    # The monitor sees gdb's stop, and its cont does not end it.
    check(monitor_cmd(mon, "info status").startswith("VM status: paused (by gdb)"),
          "monitor: paused by gdb")
    check(monitor_cmd(mon, "cont").startswith("error:"), "monitor: cont refused while gdb holds")

    # A breakpoint, continue, hit; then through it to a running guest
    # that Ctrl-C stops.
    # Continuing with the breakpoint left in place (gdb itself takes it
    # out to step over it) runs its instruction once: the next stop is
    # the next call, which comes through the indirect-branch table
    # straight into the breakpoint's block.
    check(r.ask("Z0,%x,1" % sym["bump"]) == "OK", "Z0")
    for esi in range(3):
        stop = r.ask("c")
        check(stop.startswith("T05") and "swbreak" in stop, "breakpoint stop reply %r" % stop)
        check(le32(r.ask("p8")) == sym["bump"], "stopped at bump")
        check(le32(r.ask("p6")) == esi, "ESI at the breakpoint's hit %d" % esi)
    check(r.ask("z0,%x,1" % sym["bump"]) == "OK", "z0")
    r.send("vCont;c")
    time.sleep(0.5)
    check(monitor_cmd(mon, "info status").startswith("VM status: running"), "running after c")
    r.raw(b"\x03")
    stop = r.recv()
    check(stop.startswith("T02"), "Ctrl-C stop reply %r" % stop)
    eip = le32(r.ask("p8"))
    check(sym["spin"] <= eip < sym["spin"] + 9, "Ctrl-C stopped it in its loop: %x" % eip)
    # Single steps around the loop (cmp, je).
    seen = set()
    for _ in range(4):
        check(r.ask("s").startswith("T05"), "step")
        seen.add(le32(r.ask("p8")))
    check(seen == {sym["spin"], sym["spin"] + 7}, "steps: %s" % sorted(map(hex, seen)))
    # Let it go on, with a breakpoint at the alias address, then drop the
    # connection without a word: the breakpoint goes, the guest runs to
    # its end untouched (0x18: status 49).
    check(r.ask("M%x,4:01000000" % sym["go"]) == "OK", "M")
    check(r.ask("m%x,4" % sym["go"]) == "01000000", "memory written")
    check(r.ask("Z0,80000000,1") == "OK", "Z0 at the alias")
    r.s.close()
    finish(proc, 49)

    # A port in use: one line, status 1.
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    busy = holder.getsockname()[1]
    res = subprocess.run([btvm, "run", "--kernel", guest, "--display", "none", "--serial", "none",
                          "--gdb", "tcp:127.0.0.1:%d" % busy], capture_output=True, text=True,
                         timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    holder.close()
    lines = res.stderr.strip().splitlines()
    check(res.returncode == 1 and len(lines) == 1 and "in use" in lines[0],
          "port in use: status %d, stderr %r" % (res.returncode, res.stderr))
    # Malformed options: usage errors.
    for opt in ["1234", "tcp:1234", "tcp::", "tcp::0", "tcp::65536", "tcp::12x", "udp::1234",
                "tcp::-5"]:
        res = subprocess.run([btvm, "run", "--kernel", guest, "--gdb", opt], capture_output=True,
                             text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
        check(res.returncode == 2 and "--gdb" in res.stderr,
              "--gdb %s: status %d, %r" % (opt, res.returncode, res.stderr))


def info_cpus(mon):
    """The monitor's info cpus as {index: (star, fields)}."""
    cpus = {}
    for line in mon.human("info cpus").splitlines():
        m = re.match(r"^([* ]) CPU #(\d+): (.*)$", line)
        if not m:
            raise Fail("info cpus line %r" % line)
        fields = dict(kv.split("=", 1) for kv in
                      re.findall(r"(\w+=(?:waiting for SIPI|[^ ]+))", m.group(3)))
        cpus[int(m.group(2))] = (m.group(1) == "*", fields)
    return cpus


def run_smp(btvm, guest, extra):
    sym = symbols(guest)
    work = tempfile.mkdtemp(prefix="btvm-gdb-smp-")
    mon_path = os.path.join(work, "mon.sock")
    port = free_port()
    proc = start_btvm(btvm, guest, port, ["--smp", "4", "--append", "wait"] + list(extra),
                      monitor=mon_path)
    try:
        smp_checks(guest, sym, port, proc, mon_path)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    for name in os.listdir(work):
        os.unlink(os.path.join(work, name))
    os.rmdir(work)


def smp_checks(guest, sym, port, proc, mon_path):
    mon = Monitor.when_up(mon_path, proc)
    cpus = info_cpus(mon)
    check(sorted(cpus) == [0, 1, 2, 3], "info cpus: four vCPUs (%s)" % sorted(cpus))
    check(cpus[0][0] and not any(cpus[i][0] for i in (1, 2, 3)), "vCPU 0 selected at first")
    check(cpus[0][1]["state"] == "running" and cpus[0][1]["apic_id"] == "0",
          "the BSP runs: %s" % cpus[0][1])
    for i in (1, 2, 3):
        check(cpus[i][1]["state"] == "waiting for SIPI" and cpus[i][1]["apic_id"] == str(i),
              "AP %d waits for a start-up IPI: %s" % (i, cpus[i][1]))
    spin = {sym["ap_spin"], sym["ap_spin"] + 2}   # PAUSE (2 bytes), then JMP
    cmds = [
        "set confirm off",
        "file " + guest,
        "target remote :%d" % port,
        "break *bsp_parked", "continue",
        "info threads",
        'printf "T1 thread=%d pc=%x\\n", $_thread, $pc',
    ]
    for t in (2, 3, 4):
        cmds += ["thread %d" % t,
                 'printf "T%d thread=%%d eax=%%x ebx=%%x esi=%%x pc=%%x\\n", $_thread, $eax, $ebx, '
                 '$esi, $pc' % t]
    cmds += [
        "thread 2",
        'printf "BEFORE pc=%x\\n", $pc',
        "stepi",
        'printf "STEP thread=%d pc=%x\\n", $_thread, $pc',
        "thread 1",
        'printf "BSP eax=%x pc=%x\\n", $eax, $pc',
        "delete",
        "detach",
    ]
    args = ["gdb", "-batch", "-nx"]
    for c in cmds:
        args += ["-ex", c]
    try:
        res = subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT,
                             stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise Fail("gdb did not end")
    out = res.stdout + res.stderr
    print(out)
    threads = re.findall(r"^\*?\s+(\d+)\s+Thread (\d+) \(vCPU (\d+), APIC ID (\d+), ([a-z ]+)\)",
                         out, re.M)
    check([t[:4] for t in threads] == [(str(i), str(i), str(i - 1), str(i - 1)) for i in (1, 2, 3, 4)],
          "info threads lists the four vCPUs: %s" % threads)
    check(re.search(r"^T1 thread=1 pc=%x$" % sym["bsp_parked"], out, re.M),
          "thread 1 stopped at the breakpoint")
    for t in (2, 3, 4):
        m = re.search(r"^T%d thread=(\d+) eax=([0-9a-f]+) ebx=([0-9a-f]+) esi=([0-9a-f]+) pc=([0-9a-f]+)$"
                      % t, out, re.M)
        check(m, "thread %d's registers printed" % t)
        apic = t - 1
        check(int(m.group(1)) == t and int(m.group(2), 16) == 0xa9000000 + apic and
              int(m.group(3), 16) == 0x11111111 * apic and int(m.group(4), 16) == 0x5a5a0000 + apic,
              "thread %d's registers are vCPU %d's: %s" % (t, apic, m.groups()))
        pc = int(m.group(5), 16)
        # Counted in, an AP may not have reached its loop yet.
        if t == 4:
            check(sym["ap_main"] < pc <= sym["ap_halt"] + 1, "the last AP halts: pc %x" % pc)
        else:
            check(sym["ap_main"] < pc <= sym["ap_spin"] + 2, "AP %d spins: pc %x" % (apic, pc))
    before = re.search(r"^BEFORE pc=([0-9a-f]+)$", out, re.M)
    step = re.search(r"^STEP thread=(\d+) pc=([0-9a-f]+)$", out, re.M)
    check(before and step, "the step printed")
    check(step.group(1) == "2" and int(step.group(2), 16) != int(before.group(1), 16) and
          sym["ap_main"] < int(step.group(2), 16) <= sym["ap_spin"] + 2,
          "stepi stepped thread 2 (vCPU 1) one instruction: %s -> %s" % (before.group(1),
                                                                         step.groups()))
    check(re.search(r"^BSP eax=([0-9a-f]+) pc=", out, re.M), "thread 1 again")
    # The thread packets by hand, bad thread ids among them (a stopped
    # guest again: a new connection stops it).
    # The stub turns a newcomer away while it has not yet seen gdb's
    # connection close: again until it is let in.
    for _ in range(100):
        r = Rsp(port)
        try:
            threads = r.ask("qfThreadInfo")
            break
        except (ConnectionResetError, BrokenPipeError, Fail):
            r.s.close()
            time.sleep(0.05)
    else:
        raise Fail("the stub never took a new connection")
    check(threads == "m01,02,03,04" and r.ask("qsThreadInfo") == "l",
          "qfThreadInfo lists four threads")
    # Thread 4 halts right after it counted itself in: halted by now, or
    # about to be.
    extra = bytes.fromhex(r.ask("qThreadExtraInfo,4")).decode()
    check(extra in ("vCPU 3, APIC ID 3, halted", "vCPU 3, APIC ID 3, running"),
          "qThreadExtraInfo of thread 4: %r" % extra)
    check(r.ask("T4") == "OK" and r.ask("T5") == "E01" and r.ask("T0") == "E01" and
          r.ask("Tzz") == "E01", "T: threads 1-4 alive, no others")
    check(r.ask("Hg5") == "E16" and r.ask("Hc0") == "OK" and r.ask("Hgx") == "E16" and
          r.ask("qThreadExtraInfo,9") == "E16", "bad thread ids refused")
    check(r.ask("Hg3") == "OK" and r.ask("qC") == "QC03", "Hg3 selects thread 3")
    regs = r.ask("g")
    check(le32(regs[0:8]) == 0xa9000002 and le32(regs[24:32]) == 0x22222222,
          "g after Hg3: vCPU 2's EAX and EBX")
    check(le32(r.ask("p0")) == 0xa9000002, "p after Hg3: vCPU 2's EAX")
    check(r.ask("Hg1") == "OK" and le32(r.ask("p0")) != 0xa9000002, "Hg1: vCPU 0's again")
    # P writes the selected vCPU's register alone (ECX: the spinning AP
    # does not use it).
    check(r.ask("Hg2") == "OK" and r.ask("P1=efbeadde") == "OK" and le32(r.ask("p1")) == 0xdeadbeef,
          "P after Hg2 writes vCPU 1's ECX")
    check(r.ask("Hg3") == "OK" and le32(r.ask("p1")) != 0xdeadbeef and r.ask("Hg1") == "OK" and
          le32(r.ask("p1")) != 0xdeadbeef, "the other vCPUs' ECX untouched")
    # Ctrl-C stops the whole machine on the vCPU whose turn it was: the
    # reply names it, and g then reads its registers.
    for _ in range(4):
        r.send("c")
        time.sleep(0.02)
        r.raw(b"\x03")
        stop = r.recv()
        m = re.match(r"^T02thread:0([1-4]);$", stop)
        check(m, "Ctrl-C: a stop reply naming a thread: %r" % stop)
        vcpu = int(m.group(1)) - 1
        eax = le32(r.ask("g")[0:8])
        check(vcpu == 0 or eax == 0xa9000000 + vcpu,
              "after the stop on thread %d, g reads its registers (EAX %x)" % (vcpu + 1, eax))
    check(r.ask("D") == "OK", "detach")
    r.s.close()
    # Detached: the BSP waits at bsp_wait, the APs spin or halt. Their
    # turns go on until the last AP reaches its HLT.
    for _ in range(200):
        cpus = info_cpus(mon)
        if cpus[3][1]["state"] == "halted" and int(cpus[0][1]["eip"], 16) in \
                {sym["bsp_wait"], sym["bsp_wait"] + 2} and \
                all(int(cpus[i][1]["eip"], 16) in spin for i in (1, 2)):
            break
        time.sleep(0.05)
    check(cpus[3][1]["state"] == "halted" and int(cpus[3][1]["eip"], 16) in
          {sym["ap_halt"], sym["ap_halt"] + 1}, "info cpus: the last AP halted: %s" % cpus[3][1])
    check(int(cpus[0][1]["eip"], 16) in {sym["bsp_wait"], sym["bsp_wait"] + 2},
          "info cpus: the BSP waits: %s" % cpus[0][1])
    for i in (0, 1, 2, 3):
        f = cpus[i][1]
        check(f["apic_id"] == str(i) and f["cpl"] == "0" and f["mode"] == "protected32",
              "info cpus: vCPU %d in protected mode at CPL 0: %s" % (i, f))
    for i in (1, 2):
        check(cpus[i][1]["state"] == "running" and int(cpus[i][1]["eip"], 16) in spin,
              "info cpus: AP %d spins: %s" % (i, cpus[i][1]))
    check("EAX=a9000000" not in mon.human("info registers"), "info registers: vCPU 0's at first")
    check(mon.human("cpu 2") == "", "cpu 2")
    check("EAX=a9000002 EBX=22222222" in mon.human("info registers"),
          "info registers after cpu 2: vCPU 2's")
    cpus = info_cpus(mon)
    check(cpus[2][0] and not cpus[0][0], "info cpus stars the selected vCPU")
    x = mon.human("x /1i $eip")
    check(int(x.split(":")[0], 16) in spin, "x /1i $eip at vCPU 2's EIP: %r" % x)
    reply = mon.cmd("human-monitor-command", **{"command-line": "cpu 4"})
    check("error" in reply or "error" in reply.get("return", ""), "cpu 4 refused: %s" % reply)
    check(mon.human("cpu 0") == "" and "EAX=a9000002" not in mon.human("info registers"),
          "cpu 0 again")
    cpus = mon.cmd("query-cpus-fast")["return"]
    check([(c["cpu-index"], c["apic-id"], c["selected"]) for c in cpus] ==
          [(0, 0, True), (1, 1, False), (2, 2, False), (3, 3, False)] and
          cpus[3]["state"] == "halted" and cpus[1]["eip"] in spin and
          all(c["mode"] == "protected32" and c["cpl"] == 0 for c in cpus),
          "query-cpus-fast: %s" % cpus)
    mon.send(json.dumps({"execute": "quit"}))
    finish(proc, 0)


def main():
    if len(sys.argv) < 4 or sys.argv[1] not in ("gdb", "protocol", "smp"):
        print(__doc__, file=sys.stderr)
        return 2
    mode, btvm, guest = sys.argv[1:4]
    try:
        if mode == "gdb":
            run_gdb_batch(btvm, guest, sys.argv[4:])
        elif mode == "smp":
            run_smp(btvm, guest, sys.argv[4:])
        else:
            run_protocol(btvm, guest)
    except Fail as e:
        print("run_gdb: FAIL:", e, file=sys.stderr)
        return 1
    print("run_gdb: %s: PASS" % mode)
    return 0


if __name__ == "__main__":
    sys.exit(main())
