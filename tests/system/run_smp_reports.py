#!/usr/bin/python3
"""--explain and --profile per vCPU: tests/guests/smp_init.asm with --smp 2
and "long" (both vCPUs work a while in translated code) under --explain,
--profile 3 and --stats-json:

 1. --explain: every row of the JSON's "sensitive" array has a "vcpus"
    array of two entries whose cpl0 and cpl3 sum to the row's; LGDT ran
    on both vCPUs (the BSP's library, the AP's trampoline); the text
    table's per-vCPU section has a column each.
 2. --profile: a summary line per vCPU and one for the machine, whose
    samples are the vCPUs' sums; each vCPU has samples in translated code
    (its own loop: a sample goes to the vCPU that ran); each hot block's
    samples by vCPU sum to its samples.
 3. --stats-json: each vCPU's time.translated_ms is its own (both > 0).
 4. One vCPU (hello.elf, beside GUEST): the reports as before (no
    per-vCPU lines), and the JSON rows' "vcpus" the row itself.

Usage: run_smp_reports.py BTVM GUEST
"""
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vmtools import Fail, check  # noqa: E402

TIMEOUT = 300
SPLIT = re.compile(r"^btvm profile: (\d+) samples of (.*): (\d+) in translated code, (\d+) in the "
                   r"monitor \(callouts, translation, faults\), (\d+) in blocks flushed since, "
                   r"(\d+) lost$", re.M)


def run(btvm, guest, smp, path, append=None):
    cmd = [btvm, "run", "--kernel", guest, "-m", "64", "--display", "none", "--net", "none",
           "--smp", str(smp), "--explain", "--profile", "3", "--stats-json", path]
    if append:
        cmd += ["--append", append]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT,
                         stdin=subprocess.DEVNULL)
    check(res.returncode == 33, "--smp %d: %s passed (status %d; %s)"
          % (smp, os.path.basename(guest), res.returncode, res.stderr[-400:]))
    with open(path) as f:
        return json.load(f), res.stderr


def check_explain(doc, text, n):
    rows = doc["sensitive"]
    check(rows, "the sensitive array has rows")
    for r in rows:
        per = r["vcpus"]
        if len(per) != n:
            raise Fail("%s: %d per-vCPU entries, not %d" % (r["mnemonic"], len(per), n))
        for key in ("cpl0", "cpl3"):
            if sum(p[key] for p in per) != r[key]:
                raise Fail("%s: the vCPUs' %s %s do not sum to %d"
                           % (r["mnemonic"], key, [p[key] for p in per], r[key]))
    check(True, "every row's per-vCPU counts sum to its own (%d rows)" % len(rows))
    if n > 1:
        lgdt = {r["mnemonic"]: r for r in rows}.get("LGDT")
        check(lgdt and all(p["cpl0"] >= 1 for p in lgdt["vcpus"]), "LGDT ran on every vCPU: %r"
              % (lgdt and lgdt["vcpus"]))
        head = re.search(r"^btvm explain: per vCPU, executions at CPL 0 / at CPL 3\n  instruction"
                         r" +vCPU 0 +vCPU 1\n", text, re.M)
        check(head is not None, "the text has the per-vCPU table")
    else:
        check("per vCPU" not in text, "one vCPU: no per-vCPU table")


def check_profile(doc, text, n):
    lines = SPLIT.findall(text)
    check(len(lines) == (n + 1 if n > 1 else 1), "%d profile summary lines" % len(lines))
    total = lines[-1]
    if n == 1:
        check(total[1] == "the vCPU thread's CPU time (1000 a second)",
              "one vCPU: the summary as before")
        return
    check(total[1] == "the %d vCPUs' CPU time (1000 a second)" % n, "the machine's summary")
    per = lines[:-1]
    check([p[1] for p in per] == ["vCPU %d's CPU time" % i for i in range(n)],
          "a summary per vCPU, in order")
    for col in (0, 2, 3, 4, 5):
        vals = [int(p[col]) for p in per]
        if sum(vals) != int(total[col]):
            raise Fail("profile column %d: the vCPUs' %s do not sum to %s" % (col, vals, total[col]))
    check(True, "the vCPUs' samples sum to the machine's")
    for i, p in enumerate(per):
        check(int(p[2]) > 0, "vCPU %d has samples in translated code (%s of %s)" % (i, p[2], p[0]))
    blocks = re.findall(r"^#\d+: (\d+) samples .*\n  samples by vCPU:((?: \d+)+)$", text, re.M)
    check(blocks, "the hot blocks list their samples by vCPU")
    for samples, by in blocks:
        by = [int(x) for x in by.split()]
        if len(by) != n or sum(by) != int(samples):
            raise Fail("a block's %s samples by vCPU: %s" % (samples, by))
    check(True, "each hot block's samples by vCPU sum to its own")
    ms = [v["counters"]["time.translated_ms"] for v in doc["vcpus"]]
    check(all(m > 0 for m in ms), "each vCPU's time.translated_ms is its own: %s" % ms)


def main():
    btvm, guest = sys.argv[1:3]
    work = tempfile.mkdtemp(prefix="btvm-smp-reports-")
    path = os.path.join(work, "stats.json")
    try:
        doc, text = run(btvm, guest, 2, path, "long")
        check_explain(doc, text, 2)
        check_profile(doc, text, 2)
        os.unlink(path)
        hello = os.path.join(os.path.dirname(guest), "hello.elf")
        doc, text = run(btvm, hello, 1, path)
        check_explain(doc, text, 1)
        check_profile(doc, text, 1)
        os.unlink(path)
    except Fail as e:
        print("run_smp_reports: FAIL:", e, file=sys.stderr)
        return 1
    finally:
        for name in os.listdir(work):
            os.unlink(os.path.join(work, name))
        os.rmdir(work)
    print("run_smp_reports: PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
