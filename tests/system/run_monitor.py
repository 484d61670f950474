#!/usr/bin/env python3
"""The monitor socket's clients, each against tests/guests/counter.asm (a
guest that prints "count N" ten times a second of guest time):

 clients  Replies go to the client that sent the command. Two clients
          queue at once and each reads only its own answers. A client
          stops the guest, queues big memory dumps and disconnects without
          reading, five times: a client connecting next (into the freed
          slot) gets its own answers only, never the dumps, and the guest
          counts on after its cont. A client over the queue's bound gets
          one error answer for each line refused, with the JSON command's
          id, and one answer for every line.
 flood    A client that floods query-status and never reads (reconnecting
          whenever btvm disconnects it) does not stop the guest: its
          count goes on during the flood, another client's command is
          answered meanwhile, and btvm's memory grows by less than
          RSS_GROWTH_MAX.
 nul      Every line gets exactly one answer, NUL bytes and all: lines
          that start with, hold or are a NUL byte, human or JSON.

No wall-clock threshold: each step has only a generous timeout, and what
is checked is an order or an amount, so it holds on a loaded host. Each
part ends btvm with the monitor's quit and wants status 0.

Usage: run_monitor.py clients|flood|nul BTVM COUNTER_ELF
Exit status: 0 passed, 1 failed.
"""
import json
import os
import select
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vmtools import Fail, check  # noqa: E402

TIMEOUT = 120
RSS_GROWTH_MAX = 64 << 20
QUEUE_MAX = 64        # src/frontend/monitor.h, MONITOR_QUEUE_MAX
DUMP = b"x /65536xb 0x100000\n"   # some 360 KB of text each


class Guest:
    """btvm running the counting guest, its serial output read as it comes."""

    def __init__(self, btvm, elf, work):
        self.sock_path = os.path.join(work, "m.sock")
        env = dict(os.environ)
        # ASan's quarantine keeps freed memory (256 MB by default): the
        # flood's RSS would measure it, not btvm.
        env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS"),
                                                     "quarantine_size_mb=4"]))
        self.proc = subprocess.Popen([btvm, "run", "--kernel", elf, "-m", "16",
                                      "--display", "none", "--serial", "stdio",
                                      "--monitor", "unix:" + self.sock_path],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, env=env)
        self.out = b""
        self.last_count = 0

    def poll_output(self, wait):
        """Reads what the guest printed within wait seconds; returns the
        last count it printed."""
        r = select.select([self.proc.stdout], [], [], wait)[0]
        if r:
            data = os.read(self.proc.stdout.fileno(), 65536)
            if not data:
                raise Fail("btvm ended (status %s)" % self.proc.wait())
            self.out = (self.out + data)[-4096:]
            lines = self.out.split(b"\n")
            for line in reversed(lines[:-1]):
                if line.startswith(b"count "):
                    self.last_count = int(line[6:])
                    break
        return self.last_count

    def wait_count(self, at_least, timeout=TIMEOUT, each=None):
        end = time.time() + timeout
        while self.poll_output(0.1) < at_least:
            if each:
                each()
            if time.time() > end:
                raise Fail("the guest's count stayed at %d (waiting for %d)"
                           % (self.last_count, at_least))
        return self.last_count

    def rss(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise Fail("no VmRSS for btvm")

    def quit(self):
        """quit through the monitor: btvm must end with status 0 (under
        ASan, no leak at exit either)."""
        c = Client(self.sock_path)
        c.send(b"quit\n")
        try:
            status = self.proc.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            raise Fail("btvm did not end on quit")
        c.close()
        check(status == 0, "btvm ends with status 0 on quit (got %d)" % status)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


class Client:
    def __init__(self, path):
        end = time.time() + TIMEOUT
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX)
                self.sock.settimeout(TIMEOUT)
                self.sock.connect(path)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                self.sock.close()
                if time.time() > end:
                    raise Fail("the monitor socket never answered")
                time.sleep(0.05)
        self.buf = b""
        greeting = self.line()
        check(greeting.startswith(b'{"QMP"'), "a client is greeted")

    def send(self, data):
        self.sock.sendall(data)

    def line(self, events=False):
        """The next line, events skipped unless asked for."""
        while True:
            while b"\n" not in self.buf:
                data = self.sock.recv(65536)
                if not data:
                    raise Fail("the monitor socket closed")
                self.buf += data
            line, self.buf = self.buf.split(b"\n", 1)
            if events or not line.startswith(b'{"event"'):
                return line

    def json(self):
        return json.loads(self.line())

    def close(self):
        self.sock.close()


def query(ident):
    return b'{"execute": "query-status", "id": "%s"}\n' % ident.encode()


def run_clients(guest):
    guest.wait_count(1)
    a = Client(guest.sock_path)
    b = Client(guest.sock_path)
    # Both queue at once, each its own kind of answer.
    a.send(b"".join(b"x /256xw 0x100000\n" for _ in range(40)) + query("a-end"))
    b.send(b"".join(query("b%d" % i) for i in range(40)))
    for i in range(40):
        reply = b.json()
        if reply.get("id") != "b%d" % i:
            raise Fail("client b's answer %d is %r" % (i, reply))
    check(True, "client b gets its 40 answers, its own, in order")
    while True:
        line = a.line()
        if line.startswith(b"{"):
            check(json.loads(line).get("id") == "a-end", "client a gets its own last answer")
            break
        if not line.startswith(b"00100"):
            raise Fail("client a got a line not its own: %r" % line[:200])
    a.close()

    # A stops the guest, queues dumps it never reads and goes. What it
    # queued is dropped or answered to it alone: the client after it gets
    # its own answers first and only.
    for round_no in range(5):
        a = Client(guest.sock_path)
        a.send(b"stop\n" + DUMP * (QUEUE_MAX - 2))
        a.close()
        # Not a threshold: time for btvm to see a go (and free its slot)
        # while the dumps would still be running, as when the bug was seen.
        time.sleep(0.1)
        c = Client(guest.sock_path)
        c.send(query("c-first") + b"info status\n" + query("c-second"))
        first = c.line()
        check(first.startswith(b"{") and json.loads(first).get("id") == "c-first",
              "round %d: the next client's first line is its own answer (got %r)"
              % (round_no, first[:80]))
        status = c.line()
        check(status.startswith(b"VM status: "), "round %d: then its human answer" % round_no)
        check(c.json().get("id") == "c-second", "round %d: then its second answer" % round_no)
        c.send(b'{"execute": "cont", "id": "c-cont"}\n')
        check(c.json() == {"return": {}, "id": "c-cont"}, "round %d: cont" % round_no)
        c.close()
    count = guest.last_count
    guest.wait_count(count + 3)
    print("ok: the guest counts on after the clients' cont")

    # Over the bound. The dumps' answers fill the client's socket (Linux
    # gives a Unix socket some 200 KB, a dump is 360 KB), so that its
    # commands wait for it to read: the lines past the bound get
    # an error each at once, in their own language, the JSON ones with
    # their ids; every line gets one answer.
    d = Client(guest.sock_path)
    queries = QUEUE_MAX + 8
    d.send(DUMP * 16 + b"".join(query("d%d" % i) for i in range(queries)) + b"info status\n")
    answers = {}
    human = []
    refused = 0
    while len(answers) < queries or not human:
        line = d.line()
        if line.startswith(b"{"):
            reply = json.loads(line)
            ident = reply.get("id")
            if ident in answers or not str(ident).startswith("d"):
                raise Fail("an answer twice, or not asked for: %r" % reply)
            answers[ident] = reply
            if "error" in reply:
                if "dropped" not in reply["error"]["desc"]:
                    raise Fail("an error not a refusal: %r" % reply)
                refused += 1
        elif line.startswith(b"VM status: ") or line.startswith(b"error: "):
            human.append(line)
        elif not line.startswith(b"00"):
            raise Fail("client d got a line not its own: %r" % line[:200])
    check(refused > 0, "%d JSON lines over the bound refused, each with its id" % refused)
    check(len(human) == 1, "the human line gets one answer: %r" % human)
    d.send(query("d-after"))
    check(d.json().get("id") == "d-after", "a line after is answered")
    d.close()


def run_flood(guest):
    guest.wait_count(2)
    probe = Client(guest.sock_path)
    rss0 = guest.rss()
    stop = threading.Event()
    sent = [0, 0]   # bytes, connections

    def flood():
        chunk = b'{"execute": "query-status"}\n' * 2048
        while not stop.is_set():
            try:
                s = socket.socket(socket.AF_UNIX)
                s.settimeout(10)
                s.connect(guest.sock_path)
                sent[1] += 1
                while not stop.is_set():
                    s.sendall(chunk)
                    sent[0] += len(chunk)
            except OSError:
                time.sleep(0.01)
            finally:
                s.close()

    worst = [0]

    def watch_rss():
        growth = guest.rss() - rss0
        worst[0] = max(worst[0], growth)
        if growth > RSS_GROWTH_MAX:
            raise Fail("btvm's memory grew by %d MB during the flood" % (growth >> 20))

    flooder = threading.Thread(target=flood, daemon=True)
    flooder.start()
    try:
        end = time.time() + TIMEOUT
        while sent[0] < (4 << 20):
            guest.poll_output(0.1)
            watch_rss()
            if time.time() > end:
                raise Fail("the flood could not send 4 MB")
        start = guest.last_count
        guest.wait_count(start + 20, each=watch_rss)
        check(True, "the guest counted from %d to %d while %d MB were flooded in"
              % (start, guest.last_count, sent[0] >> 20))
        probe.send(query("probe"))
        reply = probe.json()
        check(reply.get("id") == "probe" and reply["return"]["running"],
              "another client is answered during the flood")
        before = sent[0]
        guest.wait_count(guest.last_count + 5, each=watch_rss)
        check(sent[0] > before, "the flood was still going on")
    finally:
        stop.set()
        flooder.join(30)
    watch_rss()
    check(True, "btvm's memory grew by at most %d MB (%d connections flooded)"
          % (worst[0] >> 20, sent[1]))
    probe.send(query("after"))
    check(probe.json().get("id") == "after", "the monitor answers after the flood")


def run_nul(guest):
    guest.wait_count(1)
    # Whoever connects controls the machine: the socket is its owner's.
    mode = stat.S_IMODE(os.lstat(guest.sock_path).st_mode)
    check(mode == 0o600, "the monitor socket is 0600 (%o)" % mode)
    c = Client(guest.sock_path)
    lines = [b"\0", b"\0info status", b"info\0 status", b"  {\0",
             b'{"execute": "query-status", "id": 1}\0',
             b'{"execute": "query-status"\0, "id": 2}']
    c.send(b"".join(line + b"\n" for line in lines) + query("end"))
    answers = []
    while True:
        line = c.line()
        if line.startswith(b'{"return"') and json.loads(line).get("id") == "end":
            break
        answers.append(line)
    check(len(answers) == len(lines), "%d lines with NUL bytes, %d answers: %r"
          % (len(lines), len(answers), answers))
    for line, answer in zip(lines, answers):
        if line.lstrip().startswith(b"{"):
            check(json.loads(answer)["error"]["desc"] == "the line has a NUL byte",
                  "%r: a JSON error" % line)
        else:
            check(answer == b"error: the line has a NUL byte", "%r: an error line" % line)


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("clients", "flood", "nul"):
        sys.exit(__doc__)
    what, btvm, elf = sys.argv[1:]
    with tempfile.TemporaryDirectory() as work:
        guest = Guest(btvm, elf, work)
        try:
            {"clients": run_clients, "flood": run_flood, "nul": run_nul}[what](guest)
            if guest.proc.poll() is not None:
                raise Fail("btvm ended (status %d)" % guest.proc.returncode)
            guest.quit()
        except (Fail, OSError, ValueError, KeyError) as e:
            print("FAIL:", e)
            sys.exit(1)
        finally:
            guest.close()
    print("PASS")


main()
