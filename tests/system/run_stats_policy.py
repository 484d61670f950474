#!/usr/bin/python3
"""The capacity policies' counters (--tcache-policy) in --stats-json,
against tests/guests/user_paging.asm (ends by itself, status 33) in a
32 KiB cache, so that it makes room many times:

 1. Under each of flush, fifo, units:4 and adaptive the file validates
    against docs/stats.schema.json and the eviction counters are in
    docs/STATS.md.
 2. Each evicted (tcache.evictions > 0) and dropped blocks for it; bytes
    translated is more than the cache holds at the end; re-translations
    are at most the blocks translated, and some happened (the guest runs
    its code again after it was evicted).
 3. Under flush every eviction is a flush and undoes no chain (the flush
    drops everything at once); under fifo, units:4 and adaptive no flush
    happens for room and an eviction undoes some chains into the evicted
    units.
 4. Under adaptive (four 8 KiB units, from one) the cache grew, its
    capacity at the end is whole units within the 32 KiB, and the
    --stats-interval series (1 ms) samples the occupancy: live bytes at
    most the bytes used, at most the capacity, in every sample, and the
    capacity never past 32 KiB and larger at the end than at the start.

Usage: run_stats_policy.py BTVM GUEST
(Debian's python3: python3-jsonschema is its.)
"""
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_stats import documented_names, run_guest_json  # noqa: E402
from vmtools import check  # noqa: E402

NAMES = ["tcache.evictions", "tcache.evicted_blocks", "tcache.evict_unchains",
         "tcache.translated_bytes", "tcache.retranslations", "tcache.grows", "tcache.shrinks",
         "tcache.live_bytes", "tcache.code_capacity"]


def run(btvm, guest, policy, path, extra=()):
    cmd = [btvm, "run", "--kernel", guest, "-m", "16", "--display", "none", "--serial", "stdio",
           "--tcache", "32K", "--tcache-policy", policy, "--stats-json", path, *extra]
    return run_guest_json(cmd, policy, path, 300)[0]


def main():
    btvm, guest = sys.argv[1:3]
    check(set(NAMES) <= documented_names(), "the eviction counters are in docs/STATS.md")
    work = tempfile.mkdtemp(prefix="btvm-stats-policy-")
    for policy in ["flush", "fifo", "units:4", "adaptive"]:
        extra = ["--stats-interval", "1"] if policy == "adaptive" else []
        doc = run(btvm, guest, policy, os.path.join(work, policy.replace(":", "") + ".json"), extra)
        c = doc["counters"]
        check(c["tcache.evictions"] > 0 and c["tcache.evicted_blocks"] > 0,
              "%s: %d evictions dropped %d blocks"
              % (policy, c["tcache.evictions"], c["tcache.evicted_blocks"]))
        check(c["tcache.translated_bytes"] > c["tcache.code_bytes"],
              "%s: %d bytes translated, more than the %d held at the end"
              % (policy, c["tcache.translated_bytes"], c["tcache.code_bytes"]))
        check(0 < c["tcache.retranslations"] <= c["tcache.blocks"],
              "%s: %d of %d blocks were evicted code translated again"
              % (policy, c["tcache.retranslations"], c["tcache.blocks"]))
        if policy == "flush":
            check(c["tcache.flushes"] >= c["tcache.evictions"] and c["tcache.evict_unchains"] == 0,
                  "flush: each eviction a flush, no chain undone one by one")
        else:
            check(c["tcache.evict_unchains"] > 0 and c["tcache.evict_unchains"] <= c["tcache.unchains"],
                  "%s: %d chains into evicted code undone" % (policy, c["tcache.evict_unchains"]))
        if policy == "adaptive":
            check_adaptive(doc)
        else:
            check(c["tcache.grows"] == 0 and c["tcache.shrinks"] == 0
                  and c["tcache.code_capacity"] == 32768,
                  "%s: the capacity is the whole 32 KiB, never resized" % policy)
    shutil.rmtree(work)     # kept for a look when a check fails
    print("PASS stats_policy")


def check_adaptive(doc):
    c = doc["counters"]
    unit = 8192
    check(c["tcache.grows"] > 0, "adaptive: grew %d times" % c["tcache.grows"])
    cap = c["tcache.code_capacity"]
    check(cap % unit == 0 and unit <= cap <= 32768, "adaptive: capacity %d at the end" % cap)
    series = doc.get("series", [])
    check(len(series) >= 2, "adaptive: %d samples in the series" % len(series))
    for s in series:
        sc = s["counters"]
        check(sc["tcache.live_bytes"] <= sc["tcache.code_bytes"] <= sc["tcache.code_capacity"] <= 32768,
              "adaptive: at %d ms live %d <= used %d <= capacity %d <= 32768"
              % (s["t_ms"], sc["tcache.live_bytes"], sc["tcache.code_bytes"], sc["tcache.code_capacity"]))
    first, last = series[0]["counters"], series[-1]["counters"]
    check(first["tcache.code_capacity"] < last["tcache.code_capacity"],
          "adaptive: capacity %d at the first sample, %d at the last"
          % (first["tcache.code_capacity"], last["tcache.code_capacity"]))


if __name__ == "__main__":
    main()
