#!/usr/bin/python3
"""The translation cache's capacity policies (--tcache-policy) compared:
one workload (as bench/cache/run.py takes them: linux, or a compute
workload of bench/workloads) at each cache size under each policy,
--rounds runs each (the best time; the counters of the last), with
--stats-json: host time and btvm's CPU time (user and system: on a
loaded host the steadier of the two), evictions for room, blocks evicted, chains
undone by eviction, re-translations of evicted code, host code bytes
translated, and the capacity at the end with adaptive's grows and
shrinks. Figures, not thresholds: exit status 0 when every run ended as
the workload should, 1 otherwise.

    bench/cache/policies.py [--workload linux|NAME] [--sizes 1,2,64]
                            [--policies flush,fifo,units:8,adaptive]
                            [--rounds N] [--build DIR]
"""
import argparse
import os
import resource
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import REPO, run_one, workload_cmd  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workload", default="linux")
    ap.add_argument("--build", default=os.path.join(REPO, "build"))
    ap.add_argument("--sizes", default="1,2,64")
    ap.add_argument("--policies", default="flush,fifo,units:8,adaptive")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--timeout", type=int, default=900)
    args = ap.parse_args()
    btvm = os.path.join(args.build, "btvm")
    out = os.path.join(args.build, "bench", "cache", "policies")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    cmd, status = workload_cmd(args, btvm)
    print("policies: %s" % args.workload)
    print("%-6s %-9s %8s %7s %9s %10s %10s %10s %10s %8s %6s %6s" % (
        "MiB", "policy", "time s", "CPU s", "evictions", "evicted", "unchained", "retransl.", "MiB trans.",
        "cap MiB", "grows", "shrink"))
    failed = False
    for size in args.sizes.split(","):
        for policy in args.policies.split(","):
            best, cpu, c, err = None, None, None, None
            for _ in range(args.rounds):
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                got, err = run_one(cmd, status, ["--tcache", size, "--tcache-policy", policy],
                                   out + ".json", args.timeout)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                if err:
                    break
                used = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
                best = got[0] if best is None else min(best, got[0])
                cpu = used if cpu is None else min(cpu, used)
                c = got[1]
            if err:
                print("%-6s %-9s FAILED: %s" % (size, policy, err))
                failed = True
                continue
            print("%-6s %-9s %8.2f %7.2f %9d %10d %10d %10d %10.1f %8.2f %6d %6d" % (
                size, policy, best, cpu, c["tcache.evictions"], c["tcache.evicted_blocks"],
                c["tcache.evict_unchains"], c["tcache.retranslations"],
                c["tcache.translated_bytes"] / 2**20, c["tcache.code_capacity"] / 2**20,
                c["tcache.grows"], c["tcache.shrinks"]), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
