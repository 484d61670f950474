#!/usr/bin/python3
"""The translation cache's capacity policies (--tcache-policy) compared:
one workload (as bench/cache/run.py takes them: linux, or a compute
workload of bench/workloads) at each cache size under each policy, one
run each, with --stats-json: host time, evictions for room, blocks
evicted, chains undone by eviction, re-translations of evicted code and
host code bytes translated. Figures, not thresholds: exit status 0 when
every run ended as the workload should, 1 otherwise.

    bench/cache/policies.py [--workload linux|NAME] [--sizes 1,2,64]
                            [--policies flush,fifo,units:8] [--build DIR]
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import REPO, run_one, workload_cmd  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workload", default="linux")
    ap.add_argument("--build", default=os.path.join(REPO, "build"))
    ap.add_argument("--sizes", default="1,2,64")
    ap.add_argument("--policies", default="flush,fifo,units:8")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--timeout", type=int, default=900)
    args = ap.parse_args()
    btvm = os.path.join(args.build, "btvm")
    out = os.path.join(args.build, "bench", "cache", "policies")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    cmd, status = workload_cmd(args, btvm)
    print("policies: %s" % args.workload)
    print("%-6s %-9s %8s %9s %10s %10s %10s %10s" % ("MiB", "policy", "time s", "evictions",
                                                   "evicted", "unchained", "retransl.",
                                                   "MiB trans."))
    failed = False
    for size in args.sizes.split(","):
        for policy in args.policies.split(","):
            got, err = run_one(cmd, status, ["--tcache", size, "--tcache-policy", policy],
                               out + ".json", args.timeout)
            if err:
                print("%-6s %-9s FAILED: %s" % (size, policy, err))
                failed = True
                continue
            t, c = got
            print("%-6s %-9s %8.2f %9d %10d %10d %10d %10.1f" % (
                size, policy, t, c["tcache.evictions"], c["tcache.evicted_blocks"],
                c["tcache.evict_unchains"], c["tcache.retranslations"],
                c["tcache.translated_bytes"] / 2**20), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
