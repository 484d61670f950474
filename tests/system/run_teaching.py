#!/usr/bin/env python3
"""Runs every command of docs/TEACHING.md, as a student would, and checks
what it shows. In the lesson's ```console blocks:
  $ CMD            runs CMD in one bash session (variables carry over), from
                   the repository's root; a trailing "# exit status N" says
                   the status it must end with (else 0)
  guest:~ # CMD    typed into the guest's shell at its prompt, while the
                   command before runs a guest
  ...              output left out
  anything else    a line the command must print (white space folded; a
                   line may stand anywhere in the command's output; "..."
                   inside it stands for anything, as an address that
                   another build of the kernel would move)
Usage: run_teaching.py BUILD_DIR TEACHING.md"""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vmtools import Fail, Pty  # noqa: E402

GUEST_PROMPT = "guest:~ # "
TIMEOUT = 300


def steps(doc):
    """The lesson's commands: (command, [guest lines], [expected lines], status)."""
    out, block = [], False
    for line in open(doc, encoding="utf-8").read().splitlines():
        if line.startswith("```"):
            block = line.strip() == "```console"
            continue
        if not block:
            continue
        if line.startswith("$ "):
            cmd = line[2:]
            m = re.search(r"#\s*exit status (\d+)\s*$", cmd)
            out.append([cmd, [], [], int(m.group(1)) if m else 0])
        elif line.startswith(GUEST_PROMPT):
            out[-1][1].append(line[len(GUEST_PROMPT):])
        elif line.strip() and line.strip() != "...":
            out[-1][2].append(line)
    return out


def fold(text):
    return re.sub(r"\s+", " ", text).strip()


def main():
    build, doc = sys.argv[1], sys.argv[2]
    repo = os.path.dirname(os.path.dirname(os.path.abspath(doc)))
    os.environ["BTVM_BUILD"] = os.path.abspath(build)
    work = os.path.join(os.path.abspath(build), "teaching")
    os.makedirs(work, exist_ok=True)
    log = open(os.path.join(work, "transcript.log"), "wb")
    sh = Pty(log)
    sh.expect(r"bash\$ ", 30)
    sh.send("cd %s && stty -echo cols 250\n" % repo)
    sh.expect(r"bash\$ ", 30)
    done = 0
    for n, (cmd, typed, expected, status) in enumerate(steps(doc)):
        print("step %d: $ %s" % (n, cmd), flush=True)
        # One line: a guest reads the terminal, so a second line would be
        # its input.
        run = re.sub(r"\s*#\s*exit status \d+\s*$", "", cmd)
        sh.send("%s ; echo __step_%d_rc=$?__\n" % (run, n))
        output = b""
        for g in typed:
            m = sh.expect(re.escape(GUEST_PROMPT), TIMEOUT)
            output += sh.last_before
            time.sleep(0.2)
            sh.send(g + "\n")
        m = sh.expect(r"__step_%d_rc=(\d+)__" % n, TIMEOUT)
        output += sh.last_before
        got = int(m.group(1))
        text = fold(output.decode("utf-8", "replace").replace("\r", ""))
        if got != status:
            raise Fail("step %d: '%s' exited %d, the lesson says %d; output: ...%s" %
                       (n, cmd, got, status, text[-600:]))
        for e in expected:
            want = ".*?".join(re.escape(part.strip()) for part in fold(e).split("..."))
            if not re.search(want, text):
                raise Fail("step %d: '%s' did not print the lesson's line %r; output: ...%s" %
                           (n, cmd, e.strip(), text[-1500:]))
        done += 1
    print("teaching: all %d commands of %s ran as the lesson shows" % (done, doc))


if __name__ == "__main__":
    try:
        main()
    except Fail as e:
        print("FAIL:", e)
        sys.exit(1)
