#!/usr/bin/python3
"""The capacity policies' counters (--tcache-policy) in --stats-json,
against tests/guests/user_paging.asm (ends by itself, status 33) in a
32 KiB cache, so that it makes room many times:

 1. Under each of flush, fifo and units:4 the file validates against
    docs/stats.schema.json and the eviction counters are in docs/STATS.md.
 2. Each evicted (tcache.evictions > 0) and dropped blocks for it; bytes
    translated is more than the cache holds at the end; re-translations
    are at most the blocks translated, and some happened (the guest runs
    its code again after it was evicted).
 3. Under flush every eviction is a flush and undoes no chain (the flush
    drops everything at once); under fifo and units:4 no flush happens
    for room and an eviction undoes some chains into the evicted units.

Usage: run_stats_policy.py BTVM GUEST
(Debian's python3: python3-jsonschema is its.)
"""
import json
import os
import subprocess
import sys
import tempfile

import jsonschema

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_stats import ROOT, documented_names  # noqa: E402
from vmtools import check  # noqa: E402

NAMES = ["tcache.evictions", "tcache.evicted_blocks", "tcache.evict_unchains",
         "tcache.translated_bytes", "tcache.retranslations"]


def run(btvm, guest, policy, path):
    cmd = [btvm, "run", "--kernel", guest, "-m", "16", "--display", "none", "--serial", "stdio",
           "--tcache", "32K", "--tcache-policy", policy, "--stats-json", path]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                         stdin=subprocess.DEVNULL)
    check(res.returncode == 33, "%s: %s passed (status %d; %s)"
          % (policy, os.path.basename(guest), res.returncode, res.stdout[-300:]))
    with open(path) as f:
        doc = json.load(f)
    schema = json.load(open(os.path.join(ROOT, "docs/stats.schema.json")))
    jsonschema.validate(doc, schema, cls=jsonschema.Draft202012Validator)
    check(True, "%s: the file validates against the schema" % policy)
    return doc["counters"]


def main():
    btvm, guest = sys.argv[1:3]
    check(set(NAMES) <= documented_names(), "the eviction counters are in docs/STATS.md")
    work = tempfile.mkdtemp(prefix="btvm-stats-policy-")
    for policy in ["flush", "fifo", "units:4"]:
        c = run(btvm, guest, policy, os.path.join(work, policy.replace(":", "") + ".json"))
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
    print("PASS stats_policy")


if __name__ == "__main__":
    main()
