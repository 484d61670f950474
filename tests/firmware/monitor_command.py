#!/usr/bin/env python3
"""One command to btvm's JSON monitor, for the firmware snapshot tests
(run_snapshot.sh, run_kernel_snapshot.sh, as a console_expect `run` step).

Usage: monitor_command.py [--stderr FILE] [--timeout SECONDS] SOCKET EXECUTE
                          [ARGUMENTS-JSON]
Exit status 0 when the monitor returns, 1 on an error reply or none, and
a message when the socket never answers (within SECONDS, default 300).

Run by console_expect, whose CONSOLE_EXPECT_PID names btvm: when btvm
ends before it answers, this says so at once, with its exit status and
FILE (where the test sent btvm's stderr), instead of waiting out the
timeout for a socket that will never come (a btvm that exits after its
monitor opened removes the socket again). When btvm is still running at
the timeout, its threads' backtraces say where it is stuck.
"""
import json, os, socket, subprocess, sys, time

TIMEOUT = 300


def btvm_pid():
    text = os.environ.get("CONSOLE_EXPECT_PID")
    return int(text) if text else None


def btvm_ended(pid):
    """None while btvm runs; else how it ended. console_expect reaps it
    only after this command, so an ended btvm is a zombie whose exit
    status is /proc/PID/stat's 52nd field (waitpid's encoding)."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return "ended (already reaped)"
    if fields[0] != "Z":
        return None
    status = int(fields[49]) if len(fields) > 49 else None
    if status is None:
        return "ended (exit status unknown)"
    if status & 0x7F:
        return f"was killed by signal {status & 0x7F}"
    return f"exited with status {(status >> 8) & 0xFF}"


def stderr_text(path):
    if not path:
        return ""
    try:
        with open(path, errors="replace") as f:
            text = f.read()
    except OSError as e:
        return f"\n(its stderr {path} cannot be read: {e})"
    return f"\n---- btvm's stderr ({path}) ----\n{text}---- end of btvm's stderr ----"


def backtraces(pid):
    """Where a btvm that does not answer waits: each thread's state and
    kernel wait channel, and gdb's backtraces where gdb may attach."""
    if pid is None:
        return ""
    out = [f"\n---- btvm (pid {pid}) threads ----"]
    try:
        for tid in sorted(os.listdir(f"/proc/{pid}/task"), key=int):
            base = f"/proc/{pid}/task/{tid}"
            with open(f"{base}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
            with open(f"{base}/comm") as f:
                comm = f.read().strip()
            with open(f"{base}/wchan") as f:
                wchan = f.read().strip()
            out.append(f"thread {tid} ({comm}): state {state}, wchan {wchan or '-'}")
    except OSError as e:
        out.append(f"(cannot read /proc/{pid}: {e})")
    try:
        gdb = subprocess.run(["gdb", "-p", str(pid), "-batch", "-nx", "-ex", "thread apply all bt"],
                             capture_output=True, text=True, timeout=120)
        out.append(gdb.stdout.strip() or gdb.stderr.strip())
    except (OSError, subprocess.TimeoutExpired) as e:
        out.append(f"(no backtraces: {e})")
    return "\n".join(out)


def give_up(what, pid, stderr_path):
    how = btvm_ended(pid)
    if how:
        sys.exit(f"monitor_command.py: {what}: btvm {how}{stderr_text(stderr_path)}")
    sys.exit(f"monitor_command.py: {what}{stderr_text(stderr_path)}{backtraces(pid)}")


args = sys.argv[1:]
stderr_path = None
while args[:1] in (["--stderr"], ["--timeout"]):
    if args[0] == "--stderr":
        stderr_path = args[1]
    else:
        TIMEOUT = float(args[1])
    args = args[2:]
path, execute = args[0], args[1]
pid = btvm_pid()

s = socket.socket(socket.AF_UNIX)
# btvm makes the socket once its machine is built (a restore reads the
# snapshot's configuration first): wait for it as long as a loaded host
# may need, but no longer than btvm runs.
deadline = time.monotonic() + TIMEOUT
while True:
    try:
        s.connect(path)
        break
    except OSError as e:
        if btvm_ended(pid) or time.monotonic() > deadline:
            give_up(f"cannot connect to {path}: {e}", pid, stderr_path)
        time.sleep(0.1)
s.settimeout(TIMEOUT)
try:
    f = s.makefile("rw")
    f.readline()   # the greeting
    cmd = {"execute": execute}
    if len(args) > 2:
        cmd["arguments"] = json.loads(args[2])
    f.write(json.dumps(cmd) + "\n")
    f.flush()
    for line in f:
        r = json.loads(line)
        if "return" in r or "error" in r:
            if "error" in r:
                print(f"monitor_command.py: {execute}: {r['error']}", file=sys.stderr)
            sys.exit(0 if "return" in r else 1)
except OSError as e:   # socket.timeout included
    give_up(f"{execute} on {path}: {e}", pid, stderr_path)
give_up(f"{execute} on {path}: the monitor closed without a reply", pid, stderr_path)
