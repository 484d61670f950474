#!/usr/bin/python3
"""The translation-cache study (issue 48) in one command: each workload at
each cache size under each capacity policy `btvm run --help` lists, with
--stats-json (run time, the vCPU's time translating, blocks translated,
re-translations of evicted code, bytes translated, lookups), plus one
logged run per workload (--tcache-log) whose miss-ratio curves over sizes
and policies bench/cache/mrc.py computes, plotted beside the measured
runs. docs/TCACHE_STUDY.md is its page.

    bench/cache/study.py [--build DIR] [--quick] [--workloads linux,compute,...]
                         [--sizes 1,2,4,16,128] [--policies P,...]
                         [--log-mode entries|lookups|none] [--out DIR] [--replot]

Workloads: linux (Debian's kernel booting to its initramfs's first
program, which powers off: bench/cache/run.py's), debian (the image of
scripts/make-debian-image.sh booted from its disk to root's automatic
login, then powered off; a private copy, its writes thrown away), compute
(bench/workloads' sha256) and forkloop (the initramfs guest running
`busybox true` in a loop from its shell: fork, exec, exit and the page
faults between, a build's kernel-heavy shape). The logged run is at the
largest size with flush and, in the default log mode "entries", with
--no-chain --no-ibl, so that every block entry is a run-loop lookup and the
log holds them all (docs/TCLOG.md says why that matters), but for debian,
whose every block entry is billions of records (its run-loop lookups
then, unless --log-mode says); "lookups" logs the ordinary run. debian
runs at 4 MiB and up unless --sizes says otherwise. --quick: sizes 1 and
16 MiB, the linux, compute and forkloop workloads, a short loop,
lookups-mode logs: about 2 minutes.
Writes study.csv, mrc-WORKLOAD.csv and the plots under DIR (default
BUILD/bench/cache/study). Figures, not thresholds: exit status 0 when
every run ended as its workload should, 1 otherwise."""
import argparse
import csv
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mrc  # noqa: E402
from run import REPO  # noqa: E402

APPEND = "console=ttyS0 panic=-1"
DEB_PROMPT = "root@debian-btvm:~#"
# Below this the Debian boot translates gigabytes (11 times its code at 4
# MiB) and a run takes minutes: the default sizes start here for it.
DEB_MIN_MIB = 4
DEB_SCRIPT = """fail_on Kernel panic
fail_on BUG:\\s
fail_on Oops:\\s
expect debian-btvm login: root (automatic login)
expect {prompt}
send poweroff
expect_exit 0
"""
FORK_INIT = """#!/bin/busybox sh
# bench/cache/study.py's forkloop: fork and exec busybox N times, then
# power off.
/bin/busybox mkdir -p /proc /dev /tmp
/bin/busybox mount -t proc proc /proc
i=0
while [ $i -lt {n} ]; do /bin/busybox true; i=$((i+1)); done
echo FORKLOOP-DONE $i
/bin/busybox poweroff -f
"""


def newc(files):
    """A cpio archive (newc) of {path: (mode, bytes)}."""
    out = bytearray()
    for ino, (name, (mode, data)) in enumerate(sorted(files.items()) + [("TRAILER!!!", (0, b""))]):
        nb = name.encode() + b"\0"
        fields = [ino + 1, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(nb), 0]
        out += b"070701" + b"".join(b"%08X" % f for f in fields) + nb
        out += b"\0" * (-len(out) % 4) + data
        out += b"\0" * (-len(out) % 4)
    return bytes(out)


class Workloads:
    def __init__(self, args, tmp):
        self.args, self.tmp = args, tmp
        self.btvm = os.path.join(args.build, "btvm")
        self._guest = None
        self._deb = None

    def guest(self):
        if not self._guest:
            out = subprocess.run(["bash", os.path.join(REPO, "scripts/fetch-guest.sh"), "--print"],
                                 capture_output=True, text=True, check=True).stdout.split()
            self._guest = out[0], out[1]
        return self._guest

    def debian(self):
        if not self._deb:
            r = subprocess.run(["bash", os.path.join(REPO, "scripts", "make-debian-image.sh"), "--print",
                                "--copy", os.path.join(self.tmp, "debian.img")],
                               stdout=subprocess.PIPE, text=True)
            lines = r.stdout.split("\n")
            if r.returncode or not lines[0]:
                raise RuntimeError("scripts/make-debian-image.sh failed (status %d)" % r.returncode)
            script = os.path.join(self.tmp, "debian.expect")
            with open(script, "w") as f:
                f.write(DEB_SCRIPT.format(prompt=DEB_PROMPT))
            self._deb = lines[0], script
        return self._deb

    def command(self, name):
        """(argv, exit status wanted, console_expect script or None)."""
        b = self.btvm
        if name == "linux":
            k, i = self.guest()
            return [b, "run", "--kernel", k, "--initrd", i, "--display", "none", "--net", "none",
                    "--no-reboot", "-m", "256", "--append",
                    APPEND + " rdinit=/bin/busybox -- poweroff -f"], 0, None
        if name == "forkloop":
            k, i = self.guest()
            initrd = os.path.join(self.tmp, "forkloop.cpio.gz")
            if not os.path.exists(initrd):
                n = 100 if self.args.quick else 200
                with open(i, "rb") as f:
                    base = f.read()
                extra = gzip.compress(newc({"init": (0o100755, FORK_INIT.format(n=n).encode())}), mtime=0)
                with open(initrd, "wb") as f:
                    f.write(base + extra)
            return [b, "run", "--kernel", k, "--initrd", initrd, "--display", "none", "--net", "none",
                    "--no-reboot", "-m", "256", "--append", APPEND + " rdinit=/init"], 0, None
        if name == "compute":
            elf = os.path.join(self.args.build, "bench", "sha256.elf")
            if not os.path.exists(elf):
                raise RuntimeError("no %s (cmake --build %s)" % (elf, self.args.build))
            return [b, "run", "--kernel", elf, "--display", "none", "--net", "none", "-m", "64"], 33, None
        if name == "debian":
            disk, script = self.debian()
            return [b, "run", "--display", "none", "-m", "512", "--net", "none", "--no-reboot", "--disk", disk,
                    "--snapshot"], 0, script
        raise RuntimeError("unknown workload " + name)


def run_one(wl, name, extra, json_path, timeout):
    """({time_s, counters}, None) or (None, why)."""
    cmd, status, script = wl.command(name)
    cmd = cmd + extra + ["--stats-json", json_path]
    if script:
        expect = os.path.join(wl.args.build, "tests", "system", "console_expect")
        cmd = [expect, "-t", str(timeout), "-l", json_path + ".console", script] + cmd
    start = time.monotonic()
    try:
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           timeout=timeout + 30)
    except subprocess.TimeoutExpired:
        return None, "timed out"
    elapsed = time.monotonic() - start
    if r.returncode != status:
        return None, "exit status %d: %s" % (r.returncode, r.stderr.decode(errors="replace")[-300:])
    try:
        with open(json_path) as f:
            counters = json.load(f)["counters"]
    except (OSError, ValueError, KeyError) as e:
        return None, "no statistics: %s" % e
    return {"time_s": elapsed, "counters": counters}, None


def policies_from_help(btvm):
    """The policies --help lists for --tcache-policy (units:N as units:8)."""
    text = subprocess.run([btvm, "run", "--help"], capture_output=True, text=True).stdout
    m = re.search(r"--tcache-policy P(.*?)\n  -", text, re.S)
    if not m:
        return ["flush"]
    found = []
    for word in re.findall(r"\b(flush|fifo|units:N|adaptive(?::[0-9][0-9KMkm-]*)?)\b", m.group(1)):
        word = "units:8" if word == "units:N" else word
        if word not in found:
            found.append(word)
    return found or ["flush"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(REPO, "build"))
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--workloads")
    ap.add_argument("--sizes", help="MiB, comma-separated (default 1,2,4,16,128)")
    ap.add_argument("--policies", help="default: what btvm run --help lists")
    ap.add_argument("--log-mode", choices=("entries", "lookups", "none"))
    ap.add_argument("--out")
    ap.add_argument("--timeout", type=int, default=600)
    ap.add_argument("--replot", action="store_true", help="only plot again what DIR's CSV files hold")
    args = ap.parse_args()
    if args.replot:
        return replot(args.out or os.path.join(args.build, "bench", "cache", "study"))
    btvm = os.path.join(args.build, "btvm")
    if not os.path.exists(btvm):
        ap.error("no %s: build first, or say --build" % btvm)
    workloads = (args.workloads or ("linux,compute,forkloop" if args.quick else
                                    "linux,compute,forkloop,debian")).split(",")
    sizes = [int(s) for s in (args.sizes or ("1,16" if args.quick else "1,2,4,16,128")).split(",")]
    policies = args.policies.split(",") if args.policies else policies_from_help(btvm)
    log_mode = args.log_mode or ("lookups" if args.quick else "entries")
    out = args.out or os.path.join(args.build, "bench", "cache", "study")
    os.makedirs(out, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="btvm-study-")
    wl = Workloads(args, tmp)
    rows, failures, started = [], [], time.monotonic()
    print("cache study: %s; sizes %s MiB; policies %s; logs: %s" % (",".join(workloads), sizes,
                                                                   ",".join(policies), log_mode))
    print("%-9s %5s %-9s %7s %7s %8s %8s %8s %9s" % ("workload", "MiB", "policy", "time s", "xlate s",
                                                       "blocks", "retrans", "MiB tr.", "miss rat."))
    mrcs, modes = {}, {}
    try:
        for name in workloads:
            for size in sizes:
                if name == "debian" and size < DEB_MIN_MIB and not args.sizes:
                    continue   # gigabytes of code translated, minutes a run
                for pol in policies:
                    got, err = run_one(wl, name, ["--tcache", str(size), "--tcache-policy", pol],
                                       os.path.join(tmp, "stats.json"), args.timeout)
                    if err:
                        failures.append("%s %d MiB %s: %s" % (name, size, pol, err))
                        print("%-9s %5d %-9s FAILED: %s" % (name, size, pol, err), flush=True)
                        continue
                    c = got["counters"]
                    row = {"workload": name, "size_mib": size, "policy": pol, "time_s": round(got["time_s"], 3),
                           "translate_s": c.get("time.translating_ms", 0) / 1000.0,
                           "blocks": c["tcache.blocks"], "retranslations": c.get("tcache.retranslations", 0),
                           "translated_bytes": c.get("tcache.translated_bytes", 0),
                           "lookups": c["tcache.lookups"], "evictions": c.get("tcache.evictions", 0),
                           "miss_ratio": round(c["tcache.blocks"] / c["tcache.lookups"], 6)
                           if c["tcache.lookups"] else 0.0}
                    rows.append(row)
                    # As it goes: a study cut short keeps what it measured.
                    with open(os.path.join(out, "study.csv"), "w", newline="") as f:
                        w = csv.DictWriter(f, fieldnames=list(rows[0]))
                        w.writeheader()
                        w.writerows(rows)
                    print("%-9s %5d %-9s %7.2f %7.2f %8d %8d %8.1f %9.4f" % (
                        name, size, pol, row["time_s"], row["translate_s"], row["blocks"],
                        row["retranslations"], row["translated_bytes"] / 2**20, row["miss_ratio"]), flush=True)
            if log_mode == "none":
                continue
            log = os.path.join(tmp, name + ".tcl")
            extra = ["--tcache", str(max(sizes)), "--tcache-log", log]
            mode = log_mode
            if mode == "entries" and name == "debian" and not args.log_mode:
                # A Debian boot's every block entry is billions of
                # records, past the study's budget: its run-loop lookups.
                mode = "lookups"
            if mode == "entries":
                extra += ["--no-chain", "--no-ibl"]
            got, err = run_one(wl, name, extra, os.path.join(tmp, "stats.json"), args.timeout * 3)
            if err:
                failures.append("%s logged run: %s" % (name, err))
                print("%-9s logged run FAILED: %s" % (name, err), flush=True)
                continue
            try:
                t0 = time.monotonic()
                curves = mrc.compute(log, args.build, [256, 512] +
                                     [s << 10 for s in sorted(set(sizes + [8, 32]))])
            except RuntimeError as e:
                failures.append("%s mrc: %s" % (name, e))
                continue
            mrcs[name] = curves
            mrc.write_csv(curves, os.path.join(out, "mrc-%s.csv" % name),
                          {"workload": name, "log_mode": mode})
            modes[name] = mode
            print("%-9s logged run %.1f s (log %.1f MB, %d references), curves %.1f s" % (
                name, got["time_s"], os.path.getsize(log) / 1e6, curves[0]["references"],
                time.monotonic() - t0), flush=True)
            os.unlink(log)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if rows:
        plot(rows, mrcs, out, modes)
        print("wrote %s/study.csv, mrc-*.csv and *.png (%.0f s)" % (out, time.monotonic() - started))
    for f in failures:
        print("failed: " + f)
    return 1 if failures else 0


def replot(out):
    def load(path):
        with open(path) as f:
            rows = list(csv.DictReader(f))
        for r in rows:
            for k, v in r.items():
                try:
                    r[k] = int(v)
                except ValueError:
                    try:
                        r[k] = float(v)
                    except ValueError:
                        pass
        return rows
    rows = load(os.path.join(out, "study.csv"))
    mrcs, modes = {}, {}
    for name in dict.fromkeys(r["workload"] for r in rows):
        path = os.path.join(out, "mrc-%s.csv" % name)
        if os.path.exists(path):
            mrcs[name] = load(path)
            modes[name] = mrcs[name][0]["log_mode"]
    plot(rows, mrcs, out, modes)
    print("wrote %s/study-time.png and study-mrc.png" % out)
    return 0


def plot(rows, mrcs, out, modes):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    names = list(dict.fromkeys(r["workload"] for r in rows))
    policies = list(dict.fromkeys(r["policy"] for r in rows))
    # Run time and translation time against size, per workload.
    fig, axes = plt.subplots(2, len(names), figsize=(4.2 * len(names), 7), squeeze=False)
    for j, name in enumerate(names):
        for pol in policies:
            pts = sorted((r["size_mib"], r["time_s"], r["translate_s"]) for r in rows
                         if r["workload"] == name and r["policy"] == pol)
            color, marker = mrc.STYLE.get(pol, ("#009988", "D"))
            axes[0][j].plot([p[0] for p in pts], [p[1] for p in pts], marker=marker, color=color, label=pol)
            axes[1][j].plot([p[0] for p in pts], [p[2] for p in pts], marker=marker, color=color, label=pol)
        axes[0][j].set_title(name, fontsize=10)
        for i, ylabel in enumerate(("run time (s)", "vCPU time translating (s)")):
            axes[i][j].set_xscale("log", base=2)
            axes[i][j].set_xlabel("cache size (MiB)")
            axes[i][j].set_ylabel(ylabel)
            axes[i][j].grid(True, alpha=0.3)
            axes[i][j].set_ylim(bottom=0)
        axes[0][j].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "study-time.png"), dpi=70)
    plt.close(fig)
    # The curves as misses (blocks translated), beside the blocks the
    # measured runs translated at each size.
    if mrcs:
        fig, axes = plt.subplots(1, len(mrcs), figsize=(4.6 * len(mrcs), 4), squeeze=False)
        for j, (name, curves) in enumerate(mrcs.items()):
            measured = {}
            for r in rows:
                if r["workload"] == name:
                    measured.setdefault(r["policy"], []).append((r["size_mib"] << 20, r["blocks"]))
            mrc.plot_axes(axes[0][j], curves, "%s (%s log)" % (name, modes[name]), measured, "misses")
            axes[0][j].set_yscale("log")
        fig.tight_layout()
        fig.savefig(os.path.join(out, "study-mrc.png"), dpi=70)
        plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
