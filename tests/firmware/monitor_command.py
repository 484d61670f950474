#!/usr/bin/env python3
"""One command to btvm's JSON monitor, for the firmware snapshot tests
(run_snapshot.sh, run_kernel_snapshot.sh, as a console_expect `run` step).

Usage: monitor_command.py SOCKET EXECUTE [ARGUMENTS-JSON]
Exit status 0 when the monitor returns, 1 on an error reply or none, and
a one-line message when the socket never answers.
"""
import json, socket, sys, time
s = socket.socket(socket.AF_UNIX)
# btvm makes the socket once its machine is built (a restore reads the
# whole snapshot first): wait for it as long as a loaded host may need.
deadline = time.monotonic() + 300
while True:
    try:
        s.connect(sys.argv[1])
        break
    except OSError as e:
        if time.monotonic() > deadline:
            sys.exit(f"monitor_command.py: cannot connect to {sys.argv[1]}: {e}")
        time.sleep(0.1)
f = s.makefile("rw")
f.readline()   # the greeting
cmd = {"execute": sys.argv[2]}
if len(sys.argv) > 3:
    cmd["arguments"] = json.loads(sys.argv[3])
f.write(json.dumps(cmd) + "\n")
f.flush()
for line in f:
    r = json.loads(line)
    if "return" in r or "error" in r:
        sys.exit(0 if "return" in r else 1)
sys.exit(1)
