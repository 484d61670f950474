"""What the end-to-end tests written in Python share: a program on a
pseudo-terminal searched as it prints, the monitor socket's JSON client,
btvm on a terminal with its monitor (GuestVm), the test guest's paths,
and small helpers. Imported by run_control.py, run_snapshot.py,
run_smp_snapshot.py, run_migrate.py, run_migrate_disk.py, run_ide.py,
run_nmi_button.py, run_monitor_highram.py and bench/migrate/migbench.py."""
import json
import os
import pty
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import termios
import time

STEP_TIMEOUT = 300
SEARCH_BACK = 65536   # bytes before new output that a match may start at


class Fail(Exception):
    pass


class Pty:
    """A program (default: an interactive bash) on a pseudo-terminal; what
    it prints is searched as it comes."""

    def __init__(self, log, argv=None):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            env = dict(os.environ, PS1="bash$ ", TERM="dumb")
            argv = argv or ["bash", "--norc", "--noprofile", "-i"]
            os.execvpe(argv[0], argv, env)
        self.buf = bytearray()
        self.log = log

    def send(self, data):
        os.write(self.fd, data.encode() if isinstance(data, str) else data)

    def expect(self, pattern, timeout=STEP_TIMEOUT):
        """Waits for a regular expression; returns its match and drops
        what came before it (kept in last_before until the next call)."""
        rx = re.compile(pattern.encode())
        end = time.time() + timeout
        start = 0
        while True:
            m = rx.search(self.buf, start)
            if m:
                self.last_before = bytes(self.buf[:m.start()])
                self.buf = self.buf[m.end():]
                return m
            # A later match ends in bytes yet to come, so it starts at most
            # SEARCH_BACK bytes before them (the patterns are short). The
            # whole buffer searched after every read made a long output
            # quadratic: an ASan guest's 700 KB kallsyms listing arrives a
            # few bytes a read, and the teaching test waited 300 s for the
            # prompt after it, one run in four beside two busy loops.
            start = max(0, len(self.buf) - SEARCH_BACK)
            left = end - time.time()
            r = select.select([self.fd], [], [], max(0, left))[0] if left > 0 else []
            if not r:
                raise Fail("timed out waiting for %r; last output: %r" % (pattern, bytes(self.buf[-400:])))
            try:
                data = os.read(self.fd, 65536)
            except OSError:
                data = b""
            if not data:
                raise Fail("the terminal closed waiting for %r" % pattern)
            self.log.write(data)
            self.log.flush()
            self.buf += data

    def lflag(self):
        return termios.tcgetattr(self.fd)[3]


class Monitor:
    def __init__(self, path, sock=None):
        if sock is None:
            sock = socket.socket(socket.AF_UNIX)
            sock.settimeout(STEP_TIMEOUT)
            sock.connect(path)
        self.sock = sock
        self.file = self.sock.makefile("rw")
        self.events = []

    @classmethod
    def when_up(cls, path, proc, timeout=STEP_TIMEOUT):
        """Connects once btvm (proc) has opened its monitor socket and
        checks the greeting; gives up at once if btvm ends first."""
        deadline = time.time() + timeout
        while True:
            if proc.poll() is not None:
                raise Fail("btvm ended (status %d) before its monitor answered" % proc.returncode)
            sock = socket.socket(socket.AF_UNIX)
            sock.settimeout(timeout)
            try:
                sock.connect(path)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                sock.close()
                if time.time() > deadline:
                    raise Fail("the monitor socket never answered")
                time.sleep(0.05)
        mon = cls(path, sock)
        check("QMP" in mon.line(), "the monitor greets")
        return mon

    def line(self):
        text = self.file.readline()
        if not text:
            raise Fail("the monitor socket closed")
        return json.loads(text)

    def send(self, text):
        self.file.write(text + "\n")
        self.file.flush()

    def cmd(self, execute, **arguments):
        req = {"execute": execute}
        if arguments:
            req["arguments"] = arguments
        self.send(json.dumps(req))
        return self.reply()

    def reply(self):
        while True:
            msg = self.line()
            if "event" in msg:
                self.events.append(msg["event"])
                continue
            return msg

    def human(self, text):
        """A human command through JSON; its text, or Fail on an error."""
        reply = self.cmd("human-monitor-command", **{"command-line": text})
        if "return" not in reply:
            raise Fail("%s: %s" % (text, reply))
        return reply["return"]

    def human_line(self, text):
        """A human command as a line of its own (the socket takes both)."""
        self.send(text)


class GuestVm(Pty):
    """btvm on a pseudo-terminal (the guest's serial console, a shell on
    it) with its monitor socket at sock, connected on first use: what
    run_ide.py, run_snapshot.py, run_smp_snapshot.py and
    run_migrate_disk.py drive."""

    run_timeout = STEP_TIMEOUT   # run()'s bound, unless the caller gives one

    def __init__(self, log, argv, sock):
        super().__init__(log, argv)
        self.sock_path = sock
        self.mon = None
        self.n = 0

    def send(self, text):
        super().send(text + "\r")

    def run(self, command, timeout=None):
        """Runs a shell command in the guest; returns what it printed. The
        marker is computed, so the echo of the command line never matches."""
        self.n += 1
        self.send("%s; echo DONE-%d-$((%d*7))" % (command, self.n, self.n))
        self.expect(r"DONE-%d-%d" % (self.n, self.n * 7), timeout=timeout or self.run_timeout)
        out = self.last_before.decode(errors="replace")
        # What came after the echoed command line.
        return out.split("\n", 1)[1] if "\n" in out else ""

    def connect(self):
        """Connects to the monitor once btvm has opened its socket (a
        loaded host may take long to start it) and reads the greeting."""
        end = time.time() + 300
        while True:
            try:
                self.mon = Monitor(self.sock_path)
                break
            except OSError:
                if time.time() > end:
                    raise Fail("cannot connect to the monitor socket")
                time.sleep(0.05)
        self.mon.line()   # the greeting

    def cmd(self, execute, **arguments):
        if not self.mon:
            self.connect()
        return self.mon.cmd(execute, **arguments)

    def human(self, line):
        return self.cmd("human-monitor-command", **{"command-line": line})["return"]

    def kill(self):
        """Ends btvm at once (SIGKILL) and closes its terminal; again is a
        no-op."""
        if self.fd < 0:
            return
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except OSError:
            pass
        os.close(self.fd)
        self.fd = -1


def check(cond, what):
    if not cond:
        raise Fail(what)
    print("ok:", what)


def loop_checksum(steps, start):
    """What a checksum loop of loops_start() holds after that many steps."""
    s = start
    for i in range(steps):
        s = (s * 31 + i) % 1000000007
    return s


def loops_start(tag, starts):
    """A shell command that starts one checksum loop per start value in the
    background, each running until loops_stop() tells it to. A loop of a
    fixed length had to outlast the slowest save/restore cycles on the
    fastest host, and the tests then waited for it: a loop that ends when
    told costs only the time the test needs."""
    one = ("(i=0; s=%d; while [ ! -e /tmp/stop-{tag} ]; do s=$(( (s*31 + i) %% 1000000007 )); "
           "i=$((i+1)); done; echo LOOP-{tag}-%d-$i-$s >/tmp/loop-{tag}-%d) &").format(tag=tag)
    # (":" ends the list, so that more may follow after "; ".)
    return " ".join([one % (c, c, c) for c in starts] + [":"])


def loops_stop(vm, tag, starts, what):
    """Stops the loops loops_start(tag, starts) started in vm's shell and
    checks that each holds the checksum of the steps it says it ran, and
    that it ran some."""
    out = vm.run("touch /tmp/stop-%s; wait; cat /tmp/loop-%s-*" % (tag, tag))
    got = {int(c): (int(i), int(s))
           for c, i, s in re.findall(r"LOOP-%s-(\d+)-(\d+)-(\d+)" % re.escape(tag), out)}
    check(sorted(got) == sorted(starts), "%s: every loop reports (%s)" % (what, got))
    for c, (steps, s) in sorted(got.items()):
        check(steps > 0 and s == loop_checksum(steps, c),
              "%s: the loop from %d holds the checksum of its %d steps (%d)" % (what, c, steps, s))



def quick_boot_args():
    """linux/quick_boot.args without its comments: what every test's
    kernel command line adds (the probes and self-tests linux_boot keeps)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "linux", "quick_boot.args")
    with open(path) as f:
        return " ".join(line.strip() for line in f if line.strip() and not line.startswith("#"))


def fetch_guest():
    """The test kernel and initramfs (scripts/fetch-guest.sh); exits 77
    when they cannot be had (no network and no cache)."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    try:
        paths = subprocess.run(["bash", os.path.join(root, "scripts/fetch-guest.sh"), "--print"],
                               check=True, capture_output=True, text=True).stdout.split("\n")
    except subprocess.CalledProcessError:
        sys.exit(77)
    return paths[0], paths[1]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_exit(pid, timeout):
    end = time.time() + timeout
    while time.time() < end:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.1)
    raise Fail("pid %d did not end within %d s" % (pid, timeout))


def run_case(name, body):
    """Runs body(kernel, initrd, work, log, procs) with the test guest, a
    fresh work directory, its console.log open and a list for the
    processes the case starts, which are killed at the end whatever
    happens. A Fail is reported (with where the logs are, which are then
    kept) and gives 1; success removes the work directory and gives 0."""
    kernel, initrd = fetch_guest()
    work = tempfile.mkdtemp(prefix="btvm-%s-" % name.replace("_", "-"))
    procs = []
    try:
        with open(os.path.join(work, "console.log"), "wb") as log:
            body(kernel, initrd, work, log, procs)
    except Fail as e:
        print("%s: FAIL:" % name, e, file=sys.stderr)
        print("%s: logs in" % name, work, file=sys.stderr)
        return 1
    finally:
        for p in procs:
            try:
                os.kill(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    shutil.rmtree(work, ignore_errors=True)
    return 0
