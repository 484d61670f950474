#!/usr/bin/python3
"""--explain's JSON: the deprivilege guest under --explain --stats-json
writes a file that docs/stats.schema.json accepts, whose "sensitive" array
holds the rows the guest ran (POPF at both levels, SGDT, the privileged
LGDT), with counts, symbols and both explanations.
Usage: run_explain_json.py BTVM GUEST_ELF SCHEMA WORKDIR"""
import json
import os
import subprocess
import sys

import jsonschema


def main():
    btvm, guest, schema, work = sys.argv[1:5]
    os.makedirs(work, exist_ok=True)
    path = os.path.join(work, "explain.json")
    r = subprocess.run([btvm, "run", "--kernel", guest, "--display", "none", "--explain",
                        "--stats-json", path], capture_output=True, text=True, timeout=120)
    if r.returncode != 33:
        sys.exit("FAIL: the guest exited %d: %s" % (r.returncode, r.stderr[-500:]))
    doc = json.load(open(path))
    jsonschema.validate(doc, json.load(open(schema)))
    rows = {s["mnemonic"]: s for s in doc["sensitive"]}
    popf = rows.get("POPF")
    if not popf or popf["cpl0"] < 1 or popf["cpl3"] != 1 or popf["class"] != "sensitive-unprivileged":
        sys.exit("FAIL: POPF's row: %r" % popf)
    if not popf["symbol"] or "IF and IOPL left unchanged" not in popf["native"]:
        sys.exit("FAIL: POPF's symbol or explanation: %r" % popf)
    sgdt = rows.get("SGDT")
    if not sgdt or sgdt["cpl0"] != 1 or sgdt["symbol"] is None:
        sys.exit("FAIL: SGDT's row: %r" % sgdt)
    lgdt = rows.get("LGDT")
    if not lgdt or lgdt["class"] != "privileged" or lgdt["cpl3"] != 0:
        sys.exit("FAIL: LGDT's row: %r" % lgdt)
    if "monitor" in {s["class"] for s in doc["sensitive"]}:
        sys.exit("FAIL: a monitor-only row in the table")
    print("explain json: %d rows, schema valid" % len(rows))


if __name__ == "__main__":
    main()
