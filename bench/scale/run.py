#!/usr/bin/python3
"""The scale sweep (issue 18): how the cost of one page grows with the
working set, under btvm and under QEMU TCG in the same run. The guest
(bench/scale/sweep.c) maps N MiB with 4 KiB pages on scattered frames and
touches one word a page, pass after pass, in sequential or random page
order; the time between its "sweep go" and "sweep done" lines, divided by
passes x pages, is the cost per page. Beyond what btvm keeps mapped on
the host (its mapping budget, from vm.max_map_count) every touch is a
hidden fault; QEMU's soft TLB misses instead.

    bench/scale/run.py [--sizes 16,64,...] [--orders seq,rand] [--pages 4k|4m]
                       [--layout scatter|contig] [--runs N] [--no-qemu]
                       [--build DIR] [--out PREFIX] [--quick]

Writes PREFIX.csv and PREFIX.png (default BUILD/bench/scale/sweep): time
per page against working-set size, btvm and QEMU. From btvm's --stats-json
the CSV also has its hidden faults per page touched and the 4 MiB regions
its replacement dropped per thousand touches.
Figures, not thresholds: exit status 0 when every run ended as the guest
should with the checksum its passes must give, 1 otherwise, 2 on bad
usage."""
import argparse
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
RAM_MIB = 3072
DONE = re.compile(rb"sweep done pages (\d+) checksum (0x[0-9a-f]{8})")


def passes_for(mib):
    # About 64k page touches a run at least, 2 passes at least.
    return max(2, min(16, (64 * 1024) // (mib * 256)))


# A timed phase shorter than this is run again with more passes: the two
# console lines may arrive in one read, and the pipe's latency would be
# all that is measured.
MIN_PHASE_S = 0.2
MAX_TOUCHES = 1 << 26


def expected_checksum(pages, passes):
    # The first pass writes each page's index; timed pass p (from 1)
    # writes index + p and adds what it wrote.
    return "0x%08x" % ((passes * pages * (pages - 1) // 2 + pages * passes * (passes + 1) // 2)
                       & 0xffffffff)


def run_one(cmd, timeout):
    """Runs cmd; returns (seconds between the two lines, checksum) or
    raises RuntimeError with the reason."""
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    start = time.monotonic()
    t_go = t_done = None
    checksum = None
    out = b""
    try:
        for line in p.stdout:
            now = time.monotonic()
            out += line
            if b"sweep go" in line:
                t_go = now
            m = DONE.search(line)
            if m:
                t_done, checksum = now, m.group(2).decode()
            if now - start > timeout:
                raise RuntimeError("timed out after %d s" % timeout)
        p.wait(timeout=max(1, timeout - (time.monotonic() - start)))
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        p.kill()
        p.wait()
        raise RuntimeError(str(e) or "timed out")
    err = p.stderr.read().decode(errors="replace")
    if p.returncode != 33 or t_go is None or t_done is None:
        tail = (out.decode(errors="replace") + err)[-400:].strip()
        raise RuntimeError("exit status %d: %s" % (p.returncode, tail))
    return t_done - t_go, checksum


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="16,64,96,128,256,512,1024,2048")
    ap.add_argument("--orders", default="seq,rand")
    ap.add_argument("--pages", default="4k", choices=["4k", "4m"])
    ap.add_argument("--layout", default="scatter", choices=["scatter", "contig"])
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--no-qemu", action="store_true")
    ap.add_argument("--build", default=os.path.join(REPO, "build"))
    ap.add_argument("--out")
    ap.add_argument("--timeout", type=int, default=300)
    ap.add_argument("--quick", action="store_true", help="sizes 16 and 128, one order")
    args = ap.parse_args()
    try:
        sizes = [int(s) for s in args.sizes.split(",")]
    except ValueError:
        ap.error("--sizes takes MiB numbers, e.g. 16,128")
    orders = args.orders.split(",")
    if args.quick:
        sizes, orders = [16, 128], ["rand"]
    if any(o not in ("seq", "rand") for o in orders):
        ap.error("--orders takes seq and/or rand")
    if any(s < 4 or s % 4 or s > 2048 or (args.pages == "4m" and s % 4) for s in sizes):
        ap.error("--sizes: multiples of 4 from 4 to 2048")
    if args.runs < 1:
        ap.error("--runs takes a positive count")
    btvm = os.path.join(args.build, "btvm")
    elf = os.path.join(args.build, "bench", "scale", "sweep.elf")
    for f in (btvm, elf):
        if not os.path.exists(f):
            sys.exit("run.py: no %s (build: cmake --build %s --target btvm sweep)" % (f, args.build))
    qemu = None if args.no_qemu else shutil.which("qemu-system-i386")
    if not args.no_qemu and not qemu:
        print("run.py: qemu-system-i386 not installed: btvm only")
    out = args.out or os.path.join(args.build, "bench", "scale", "sweep")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    stats_path = out + ".stats.json"

    rows, failures = [], []
    print("scale sweep: %s pages, %s frames, -m %d; ns per page touch (best of %d)" %
          (args.pages, args.layout, RAM_MIB, args.runs))
    print("%-5s %6s %6s %10s %10s %8s %10s %10s" %
          ("order", "MiB", "passes", "btvm ns", "qemu ns", "btvm/q", "faults/pg", "rgn/1k pg"))
    for order in orders:
        for mib in sizes:
            passes = passes_for(mib)
            append = "mib=%d passes=%d order=%s pages=%s layout=%s" % (
                mib, passes, order, args.pages, args.layout)
            row = {"order": order, "mib": mib, "passes": passes}
            sums = {}
            for vmm in ["btvm"] + (["qemu"] if qemu else []):
                if vmm == "btvm":
                    cmd = [btvm, "run", "--kernel", elf, "--serial", "stdio", "--display", "none",
                           "--net", "none", "-m", str(RAM_MIB), "--append", append,
                           "--stats-json", stats_path]
                else:
                    cmd = [qemu, "-accel", "tcg", "-kernel", elf, "-nographic", "-no-reboot",
                           "-net", "none", "-device", "isa-debug-exit,iobase=0xf4,iosize=4",
                           "-m", str(RAM_MIB), "-append", append]
                best = None
                vmm_passes = passes
                for _ in range(args.runs):
                    try:
                        secs, csum = run_one(cmd, args.timeout)
                        sums[vmm] = csum   # the VMMs compare at the same pass count
                        while secs < MIN_PHASE_S and vmm_passes * mib * 256 * 4 <= MAX_TOUCHES:
                            vmm_passes *= 4
                            more = append.replace("passes=%d" % passes, "passes=%d" % vmm_passes)
                            i = cmd.index(append)
                            secs, csum = run_one(cmd[:i] + [more] + cmd[i + 1:], args.timeout)
                        if csum != expected_checksum(mib * 256, vmm_passes):
                            raise RuntimeError("checksum %s, expected %s" % (
                                csum, expected_checksum(mib * 256, vmm_passes)))
                    except RuntimeError as e:
                        failures.append("%s %s %d MiB: %s" % (vmm, order, mib, e))
                        best = None
                        break
                    best = secs / vmm_passes if best is None else min(best, secs / vmm_passes)
                row[vmm + "_ns"] = best * 1e9 / (mib * 256) if best is not None else None
                if vmm == "btvm" and best is not None:
                    c = json.load(open(stats_path))["counters"]
                    # Per touch of the last run, its untimed first pass counted as one.
                    all_touches = (vmm_passes + 1) * mib * 256
                    row["faults_per_page"] = c.get("shadow.hidden_faults", 0) / all_touches
                    row["regions_per_1k"] = \
                        c.get("shadow.replaced_regions", 0) * 1000 / all_touches
            if len(set(sums.values())) > 1:
                failures.append("%s %d MiB: checksums differ: %s" % (order, mib, sums))
            rows.append(row)

            def fmt(v, f):
                return f % v if v is not None else "-"
            ratio = (row["btvm_ns"] / row["qemu_ns"]
                     if row.get("btvm_ns") and row.get("qemu_ns") else None)
            print("%-5s %6d %6d %10s %10s %8s %10s %10s" % (
                order, mib, passes, fmt(row.get("btvm_ns"), "%.1f"), fmt(row.get("qemu_ns"), "%.1f"),
                fmt(ratio, "%.2f"), fmt(row.get("faults_per_page"), "%.3f"),
                fmt(row.get("regions_per_1k"), "%.3f")), flush=True)

    with open(out + ".csv", "w", newline="") as f:
        cols = ["order", "mib", "passes", "btvm_ns", "qemu_ns", "faults_per_page",
                "regions_per_1k"]
        w = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow(r)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(8, 5))
        for order in orders:
            for vmm, style in (("btvm", "-o"), ("qemu", "--s")):
                pts = [(r["mib"], r[vmm + "_ns"]) for r in rows
                       if r["order"] == order and r.get(vmm + "_ns")]
                if pts:
                    ax.plot([p[0] for p in pts], [p[1] for p in pts], style,
                            label="%s, %s order" % (vmm, order))
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("working set (MiB, %s pages, %s frames)" % (args.pages, args.layout))
        ax.set_ylabel("ns per page touch")
        ax.set_title("Scale sweep: cost per page against working-set size")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
        fig.savefig(out + ".png", dpi=100, bbox_inches="tight")
    except ImportError:
        failures.append("matplotlib missing (apt-get install python3-matplotlib): no plot")
    print("wrote %s.csv and %s.png" % (out, out))
    for f in failures:
        print("FAILED: " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
