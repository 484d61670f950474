#!/usr/bin/python3
"""Miss-ratio curves from a --tcache-log (docs/TCLOG.md): every policy
(flush, an ideal fifo, units:N, btvm's fifo of 8 KiB units, and LRU by
bytes as the reference) at every cache
size, computed in one pass over the log by tclog-mrc (a C tool built with
btvm: BUILD/tclog-mrc; a Linux boot's full log of block entries is 382
million records, too many for Python), written as CSV and plotted.

    bench/cache/mrc.py LOG [--build DIR] [--sizes KIB,...] [--units N,...]
                           [--out PREFIX] [--title TEXT]

Sizes in KiB, default 64 KiB to 128 MiB by powers of two. Writes
PREFIX.csv and PREFIX.png (default: LOG without its extension). Exit
status 1 when the log cannot be read (tclog-mrc's one line says why)."""
import argparse
import csv
import io
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DEFAULT_SIZES = [64 << i for i in range(12)]   # KiB: 64 KiB .. 128 MiB


def compute(log, build, sizes=None, units=(8,)):
    """Rows of tclog-mrc's CSV (numbers as numbers), or raises
    RuntimeError with its message."""
    exe = os.path.join(build, "tclog-mrc")
    if not os.path.exists(exe):
        raise RuntimeError("no %s (build btvm: cmake --build %s)" % (exe, build))
    cmd = [exe, "--sizes", ",".join(str(s) for s in (sizes or DEFAULT_SIZES)),
           "--units", ",".join(str(u) for u in units), log]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError(r.stderr.strip() or "tclog-mrc: status %d" % r.returncode)
    rows = []
    for row in csv.DictReader(io.StringIO(r.stdout)):
        for k in ("size_bytes", "references", "misses", "translated_bytes", "evictions"):
            row[k] = int(row[k])
        row["miss_ratio"] = float(row["miss_ratio"])
        rows.append(row)
    return rows


def write_csv(rows, path, extra=None):
    with open(path, "w", newline="") as f:
        fields = list(extra or {}) + list(rows[0])
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        for r in rows:
            w.writerow(dict(extra or {}, **r))


STYLE = {"flush": ("#cc3311", "o"), "fifo": ("#0077bb", "s"), "lru": ("#333333", "^"),
         "btvm-fifo": ("#ee7733", "v")}
# A measured run under btvm's --tcache-policy fifo is drawn beside the
# btvm-fifo curve (8 KiB units), not the ideal fifo's.
MEASURED_AS = {"fifo": "btvm-fifo"}


def plot_axes(ax, rows, title, measured=None, key="miss_ratio"):
    """key (miss_ratio, or misses) against size, one line per policy;
    measured: {policy: [(size_bytes, value)]} from real runs, drawn as
    crosses."""
    policies = [p for p in dict.fromkeys(r["policy"] for r in rows) if not p.startswith("log:")]
    for p in policies:
        pts = sorted((r["size_bytes"], r[key]) for r in rows if r["policy"] == p)
        color, marker = STYLE.get(p, ("#009988", "D"))
        ax.plot([s / 2**20 for s, _ in pts], [m for _, m in pts], marker=marker, color=color,
                label=p + (" (reference)" if p == "lru" else ""), linestyle="--" if p == "lru" else "-",
                markersize=4)
    for p, pts in (measured or {}).items():
        color, _ = STYLE.get(MEASURED_AS.get(p, p), ("#009988", "D"))
        ax.scatter([s / 2**20 for s, _ in pts], [m for _, m in pts], marker="x", s=60, color=color,
                   label=p + " measured", zorder=5)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("cache size (MiB)")
    ax.set_ylabel("miss ratio (misses / references)" if key == "miss_ratio" else "misses (blocks translated)")
    ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)


def plot(rows, path, title, measured=None):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.5))
    plot_axes(ax, rows, title, measured)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("log")
    ap.add_argument("--build", default=os.path.join(REPO, "build"))
    ap.add_argument("--sizes", help="KiB, comma-separated")
    ap.add_argument("--units", default="8")
    ap.add_argument("--out")
    ap.add_argument("--title")
    args = ap.parse_args()
    try:
        sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else None
        units = [int(u) for u in args.units.split(",")]
    except ValueError:
        ap.error("--sizes and --units take numbers, comma-separated")
    try:
        rows = compute(args.log, args.build, sizes, units)
    except RuntimeError as e:
        print(e, file=sys.stderr)
        return 1
    out = args.out or os.path.splitext(args.log)[0]
    write_csv(rows, out + ".csv")
    plot(rows, out + ".png", args.title or "miss-ratio curves: " + os.path.basename(args.log))
    own = rows[0]
    print("%s: %d references; the run (%s, %.0f KiB) translated %d blocks" % (
        args.log, own["references"], own["policy"][4:], own["size_bytes"] / 1024, own["misses"]))
    print("%-9s %10s %10s %12s" % ("policy", "KiB", "misses", "miss ratio"))
    for r in rows[1:]:
        print("%-9s %10d %10d %12.6f" % (r["policy"], r["size_bytes"] >> 10, r["misses"], r["miss_ratio"]))
    print("wrote %s.csv and %s.png" % (out, out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
