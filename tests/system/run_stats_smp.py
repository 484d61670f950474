#!/usr/bin/python3
"""Per-vCPU statistics (--stats, --stats-json) against
tests/guests/smp_park.asm, which ends by itself (status 33):

 1. --smp 2: the file validates against docs/stats.schema.json and has a
    "vcpus" array of two entries (vcpu 0 and 1); each per-vCPU counter's
    values sum to the total of the same name in "counters", every name is
    in docs/STATS.md, and both vCPUs ran (exits of their own: the AP's
    start-up is its own). The text report has a "per vCPU:" table with a
    column each. And tests/guests/smp_snap.asm at --smp 4: AP 2's HLT is
    counted in its own entry.
 2. One vCPU (tests/guests/hello.asm, beside GUEST): one entry, equal to
    the totals; the text report as before (no per-vCPU table).
 3. HLT's spin for an IPI (bench/smp/ipibench.asm, 2 vCPUs, AP 1 halting
    between rounds): with the process allowed two CPUs, AP 1's HLTs spin
    before they sleep (its first does, whatever the host's load), and the
    counts are consistent (woken <= spun <= HLTs); allowed one CPU (the
    affinity of the run set to a single CPU), no HLT spins, since the
    spin would keep the sender from the CPU.

Usage: run_stats_smp.py BTVM GUEST IPIBENCH
(Debian's python3: python3-jsonschema is its.)
"""
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_stats import documented_names, run_guest_json  # noqa: E402
from vmtools import Fail, check  # noqa: E402

TIMEOUT = 120


def run(btvm, guest, smp, path, extra=(), cpus=None):
    cmd = [btvm, "run", "--kernel", guest, "-m", "16", "--display", "none", "--serial", "stdio",
           "--smp", str(smp), "--stats", "--stats-json", path] + list(extra)
    if cpus is not None:
        cmd = ["taskset", "-c", ",".join(str(c) for c in sorted(cpus))] + cmd
    doc, res = run_guest_json(cmd, "--smp %d" % smp, path, TIMEOUT)
    return doc, res.stderr


def check_halt_polls(btvm, ipibench, path):
    """Part 3: AP 1's HLTs spin for the IPI with two CPUs, never with one."""
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        raise Fail("the halt-poll check needs two host CPUs; this process may use %s" % allowed)
    for cpus, spins in ((allowed[:2], True), (allowed[:1], False)):
        doc, _ = run(btvm, ipibench, 2, path, ["--append", "rounds=200"], cpus)
        check_sums(doc, 2)
        c = doc["vcpus"][1]["counters"]
        polls, wakes, halts = c["cpu.halt_polls"], c["cpu.halt_poll_wakes"], c["cpu.halts"]
        check(halts >= 200 and wakes <= polls <= halts,
              "AP 1 halted between rounds (%d HLTs, %d spun, %d ended while spinning)"
              % (halts, polls, wakes))
        if spins:
            check(polls >= 1, "on CPUs %s AP 1's HLTs spin for the IPI (%d of %d)"
                  % (cpus, polls, halts))
        else:
            check(doc["counters"]["cpu.halt_polls"] == 0,
                  "on one CPU (%s) no HLT spins (%d)" % (cpus, doc["counters"]["cpu.halt_polls"]))
        os.unlink(path)


def check_sums(doc, n):
    vcpus = doc["vcpus"]
    check([v["vcpu"] for v in vcpus] == list(range(n)), "%d per-vCPU entries, in order" % n)
    names = set(vcpus[0]["counters"])
    check(all(set(v["counters"]) == names for v in vcpus), "every vCPU has the same counters")
    check({"exits.branch", "callouts.total", "cpu.halts", "time.idle_ms"} <= names,
          "the per-vCPU counters include exits, callouts, halts and time")
    documented = documented_names()
    check(names <= documented, "every per-vCPU name is in docs/STATS.md: %s" % (names - documented))
    for name in sorted(names):
        total = sum(v["counters"][name] for v in vcpus)
        if total != doc["counters"][name]:
            raise Fail("%s: the vCPUs' %s sum to %d, the total is %d"
                       % (name, [v["counters"][name] for v in vcpus], total,
                          doc["counters"][name]))
    check(True, "each per-vCPU counter sums to its total (%d names)" % len(names))


def main():
    btvm, guest, ipibench = sys.argv[1:4]
    work = tempfile.mkdtemp(prefix="btvm-stats-smp-")
    path = os.path.join(work, "stats.json")
    try:
        doc, text = run(btvm, guest, 2, path)
        check_sums(doc, 2)
        for v in doc["vcpus"]:
            c = v["counters"]
            check(sum(c[k] for k in c if k.startswith("exits.")) > 0,
                  "vCPU %d has exits of its own" % v["vcpu"])
            # Callouts take the machine lock; a wait is an acquisition
            # that found it held, a hand-off one that followed the other vCPU.
            check(c["cpu.lock_acquires"] > 0 and
                  c["cpu.lock_acquires"] >= c["cpu.lock_waits"] and
                  c["cpu.lock_acquires"] >= c["cpu.lock_handoffs"] >= 1,
                  "vCPU %d's machine lock counts (%d taken, %d waits, %d hand-offs)"
                  % (v["vcpu"], c["cpu.lock_acquires"], c["cpu.lock_waits"],
                     c["cpu.lock_handoffs"]))
        check("per vCPU:" in text and "vCPU 0" in text and "vCPU 1" in text,
              "the text report has the per-vCPU table")
        os.unlink(path)
        # An AP's HLT is its own: smp_park's BSP may end the machine before
        # its last AP reaches its HLT (the vCPUs run at once), smp_snap's
        # AP 2 halts and is woken while the BSP waits (--smp 4).
        snap = os.path.join(os.path.dirname(guest), "smp_snap.elf")
        doc, text = run(btvm, snap, 4, path)
        check_sums(doc, 4)
        check(doc["vcpus"][2]["counters"]["cpu.halts"] >= 1, "the AP's HLT is its own")
        os.unlink(path)
        # A spin-wait gives its host CPU up every CPU_PAUSE_BUDGET PAUSEs:
        # smp_pause's CPUs each run more than three budgets' worth.
        pause = os.path.join(os.path.dirname(guest), "smp_pause.elf")
        doc, text = run(btvm, pause, 2, path)
        check_sums(doc, 2)
        check(all(v["counters"]["cpu.pause_yields"] >= 3 for v in doc["vcpus"]),
              "each vCPU's PAUSE loop yielded at least 3 times (%s)"
              % [v["counters"]["cpu.pause_yields"] for v in doc["vcpus"]])
        os.unlink(path)
        check_halt_polls(btvm, ipibench, path)
        # One vCPU: smp_park needs APs, so hello (beside it) stands in.
        hello = os.path.join(os.path.dirname(guest), "hello.elf")
        doc, text = run(btvm, hello, 1, path)
        check_sums(doc, 1)
        check(all(doc["vcpus"][0]["counters"][k] == doc["counters"][k]
                  for k in doc["vcpus"][0]["counters"]), "one vCPU: its counters are the totals")
        check("per vCPU:" not in text and "callouts by class:" in text,
              "one vCPU: the text report as before, no per-vCPU table")
        check(all(doc["counters"][k] == 0 for k in ("cpu.lock_acquires", "cpu.lock_waits",
                                                    "cpu.lock_handoffs", "cpu.exclusive_sections",
                                                    "cpu.pause_yields")),
              "one vCPU: no machine lock")
        os.unlink(path)
    except Fail as e:
        print("run_stats_smp: FAIL:", e, file=sys.stderr)
        return 1
    finally:
        for name in os.listdir(work):
            os.unlink(os.path.join(work, name))
        os.rmdir(work)
    print("run_stats_smp: PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
