#!/usr/bin/env python3
"""Sends human monitor commands to btvm's monitor socket, one after the
other, each through human-monitor-command, and prints their answers;
status 1 when a command's answer is an error. For the shell tests
(run_window.sh).

Usage: monitor_cmd.py SOCKET COMMAND...
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vmtools import Fail, Monitor  # noqa: E402


def main():
    try:
        mon = Monitor(sys.argv[1])
        mon.line()   # the greeting
        for command in sys.argv[2:]:
            text = mon.human(command)
            if text.startswith("error"):
                raise Fail("%s: %s" % (command, text.strip()))
            print("%s: %s" % (command, text.strip()))
    except (Fail, OSError) as e:
        print("monitor_cmd:", e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
