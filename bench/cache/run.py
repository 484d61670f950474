#!/usr/bin/python3
"""The translation-cache study (issue 15): runs one workload under btvm
across translation cache sizes and the cache knobs (--no-chain, --no-ibl,
--max-block-insns), with --stats-json, and tabulates and plots host time,
the lookup hit rate, chains, indirect-branch table fills and flushes.

    bench/cache/run.py [--workload linux|NAME] [--runs N] [--build DIR]
                       [--sizes 1,2,4,64] [--quick] [--out PREFIX]

Workloads: linux (Debian's kernel from scripts/fetch-guest.sh booting to
its initramfs's first program, which powers off: the kernel's whole boot)
or a compute workload of bench/workloads (qsort, sha256, ...; built in
BUILD/bench/NAME.elf). Each configuration runs N times; the best host time
counts, the counters are the last run's. Writes PREFIX.csv and PREFIX.png
(default BUILD/bench/cache/study). Figures, not thresholds: exit status 0
when every run ended as the workload should, 1 otherwise, 2 on bad usage."""
import argparse
import csv
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

KNOBS = [
    ("default", []),
    ("--no-chain", ["--no-chain"]),
    ("--no-ibl", ["--no-ibl"]),
    ("--max-block-insns 8", ["--max-block-insns", "8"]),
    ("--max-block-insns 1", ["--max-block-insns", "1"]),
]


def workload_cmd(args, btvm):
    if args.workload == "linux":
        out = subprocess.run(["bash", os.path.join(REPO, "scripts/fetch-guest.sh"), "--print"],
                             capture_output=True, text=True, check=True).stdout.split()
        kernel, initrd = out[0], out[1]
        return [btvm, "run", "--kernel", kernel, "--initrd", initrd, "--display", "none",
                "--net", "none", "--no-reboot", "-m", "256", "--append",
                "console=ttyS0 panic=-1 rdinit=/bin/busybox -- poweroff -f"], 0
    elf = os.path.join(args.build, "bench", args.workload + ".elf")
    if not os.path.exists(elf):
        sys.exit("run.py: no %s (build the benchmarks: cmake --build %s)" % (elf, args.build))
    return [btvm, "run", "--kernel", elf, "--display", "none", "--net", "none", "-m", "64"] + \
        (["--append", "iters=1"] if args.quick else []), 33


def run_one(cmd, status, extra, json_path, timeout):
    best, counters = None, None
    start = time.monotonic()
    r = subprocess.run(cmd + extra + ["--stats-json", json_path], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout)
    elapsed = time.monotonic() - start
    if r.returncode != status:
        return None, "exit status %d: %s" % (r.returncode, r.stderr.decode(errors="replace")[-300:])
    counters = json.load(open(json_path))["counters"]
    best = elapsed
    return (best, counters), None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workload", default="linux")
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--build", default=os.path.join(REPO, "build"))
    ap.add_argument("--sizes", default="1,2,4,64")
    ap.add_argument("--quick", action="store_true", help="one run, sizes 1 and 64, two knobs")
    ap.add_argument("--out")
    ap.add_argument("--timeout", type=int, default=600)
    args = ap.parse_args()
    try:
        sizes = [int(s) for s in args.sizes.split(",")]
    except ValueError:
        ap.error("--sizes takes MiB numbers, e.g. 1,2,4,64")
    knobs = KNOBS
    if args.quick:
        args.runs, sizes, knobs = 1, [1, 64], KNOBS[:1] + KNOBS[2:3]
    btvm = os.path.join(args.build, "btvm")
    out = args.out or os.path.join(args.build, "bench", "cache", "study")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    cmd, status = workload_cmd(args, btvm)
    configs = [("--tcache %d" % s, ["--tcache", str(s)]) for s in sizes] + \
              [(name, ["--tcache", "64"] + extra) for name, extra in knobs if extra]
    rows, failures = [], []
    print("cache study: %s, best of %d" % (args.workload, args.runs))
    print("%-22s %8s %8s %10s %10s %8s %8s" % ("configuration", "time s", "hit %", "chains",
                                                 "ibl fills", "flushes", "blocks"))
    for name, extra in configs:
        best, counters = None, None
        for _ in range(args.runs):
            got, err = run_one(cmd, status, extra, out + ".json", args.timeout)
            if err:
                failures.append("%s: %s" % (name, err))
                break
            if best is None or got[0] < best:
                best = got[0]
            counters = got[1]
        if best is None:
            print("%-22s FAILED" % name)
            continue
        c = counters
        hit = 100.0 * c["tcache.hits"] / c["tcache.lookups"] if c["tcache.lookups"] else 0.0
        row = {"configuration": name, "time_s": round(best, 3), "hit_rate": round(hit, 2),
               "lookups": c["tcache.lookups"], "chains": c["tcache.chains"],
               "ibl_fills": c["tcache.ibl_fills"], "flushes": c["tcache.flushes"],
               "blocks": c["tcache.blocks"], "exits_branch": c["exits.branch"],
               "exits_indirect": c["exits.indirect"]}
        rows.append(row)
        print("%-22s %8.3f %8.2f %10d %10d %8d %8d" % (name, best, hit, row["chains"],
                                                       row["ibl_fills"], row["flushes"],
                                                       row["blocks"]))
    if rows:
        with open(out + ".csv", "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
        plot(rows, out + ".png", args.workload)
        print("wrote %s.csv and %s.png" % (out, out))
    for f in failures:
        print("failed: " + f)
    return 1 if failures else 0


def plot(rows, path, workload):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    names = [r["configuration"] for r in rows]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    panels = [("time_s", "host time (s)"), ("hit_rate", "lookup hit rate (%)"),
              ("flushes", "cache flushes")]
    for ax, (key, title) in zip(axes, panels):
        ax.barh(names, [r[key] for r in rows], color="#4477aa")
        ax.set_title(title)
        ax.invert_yaxis()
    fig.suptitle("btvm translation cache study: %s" % workload)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


if __name__ == "__main__":
    sys.exit(main())
