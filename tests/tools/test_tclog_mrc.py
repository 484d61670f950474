#!/usr/bin/python3
"""tclog-mrc against a brute-force simulation (docs/TCLOG.md).

    test_tclog_mrc.py BTVM TCLOG_MRC GUEST_DIR

Records --tcache-log logs of guest test kernels in small caches (arith
under flush, smc, whose rewritten code invalidates blocks, under units:2,
paging under fifo, whose address-space switches flush, smp_xmc at two
vCPUs under flush, whose log must name both), reads each log here
with its own parser, and simulates every policy at several sizes the
plain way (sets, lists and a stack searched from the top, none of
tclog-mrc's epochs, stamps or Fenwick tree): tclog-mrc's misses,
translated bytes and evictions must agree exactly. At the size and policy
the run had (flush, units:N, and fifo as btvm's 8 KiB units), the
simulation that also makes room at the run's room events, each of which
its rule must call for, must have the run's translations as its misses
and the run's rooms: the simulator makes room where btvm does, at the
next miss but when the miss btvm made room for is logged later (another
vCPU's records first) or never (its block faulted). The bytes a block's
alignment skipped are logged with it (its pad), since the run made room
by them too, and some log must have such a block (smc's and smp_xmc's
loops are). Then a log cut short, one with a byte changed inside and a
file that is no log must each end tclog-mrc with status 1 and one line
naming the file and the problem."""
import collections
import csv
import io
import os
import subprocess
import sys
import tempfile

SIZES_KIB = [32, 48, 64, 96, 128, 1024]
UNITS = [2, 4]


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def varint(buf, pos):
    v, shift = 0, 0
    while True:
        b = buf[pos]
        pos += 1
        v |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return v, pos


def parse(path):
    """(header dict, [(kind, key, bytes)], translations with a pad) with
    kind 'ref', 'tr', 'inv', 'flush', 'room' or 'vcpu'; bytes are a
    translation's size and pad."""
    raw = subprocess.run(["zstd", "-dc", path], capture_output=True, check=True).stdout
    if raw[:8] != b"BTVMTCLG":
        fail("%s: no magic" % path)
    le = lambda o, n: int.from_bytes(raw[o:o + n], "little")
    hdr = {"version": le(8, 4), "code_size": le(16, 8), "policy": le(24, 4), "nunits": le(28, 4),
           "reserve": le(32, 4), "min_room": le(36, 4), "fifo_unit": le(40, 4)}
    pos = 16 + le(12, 4)
    recs, nkeys, ended, padded = [], 0, False, 0
    while pos < len(raw):
        v, pos = varint(raw, pos)
        kind, arg = v & 3, v >> 2
        if kind == 0:
            recs.append(("ref", arg, None))
        elif kind == 1:
            size, pos = varint(raw, pos)
            pad, pos = varint(raw, pos)
            padded += pad > 0
            if arg == nkeys:
                for _ in range(4):
                    _, pos = varint(raw, pos)
                nkeys += 1
            recs.append(("tr", arg, size + pad))
        elif kind == 2:
            recs.append(("inv", arg, None))
        elif arg == 0:
            ended = True
            break
        elif arg == 1:
            recs.append(("flush", None, None))
        elif arg == 2:
            recs.append(("room", None, None))
        elif arg == 3:
            vcpu, pos = varint(raw, pos)
            recs.append(("vcpu", vcpu, None))
    if not ended:
        fail("%s: no end record" % path)
    return hdr, recs, padded


def refs(recs, rooms=False):
    """Each reference with the key's bytes then; invalidations and flushes;
    with rooms, the run's rooms too, each with the bytes of the next
    reference when that is a translation (else None)."""
    size = {}
    for i, (kind, key, b) in enumerate(recs):
        if kind == "tr":
            size[key] = b
            yield "ref", key, b
        elif kind == "ref":
            yield "ref", key, size[key]
        elif kind in ("inv", "flush"):
            yield kind, key, None
        elif kind == "room" and rooms:
            j = i + 1
            while j < len(recs) and recs[j][0] not in ("tr", "ref"):
                j += 1
            yield "room", None, recs[j][2] if j < len(recs) and recs[j][0] == "tr" else None


def sim_flush(recs, cap, reserve, odd=None):
    """With odd, a list, room is made where the run made it too when the
    rule calls for it there (the free bytes where it does not are put in
    odd), not only at the next miss."""
    present, used, misses, nbytes, ev = set(), 0, 0, 0, 0
    for kind, key, b in refs(recs, odd is not None):
        if kind == "inv":
            present.discard(key)
        elif kind == "flush":
            present, used = set(), 0
        elif kind == "room" or key not in present:
            if cap - used < reserve:
                present, used = set(), 0
                ev += 1
            elif kind == "room":
                odd.append(cap - used)
            if kind == "ref":
                used += b
                present.add(key)
                misses, nbytes = misses + 1, nbytes + b
    return misses, nbytes, ev


def sim_fifo(recs, cap):
    """The last cap bytes of a log of translated blocks."""
    log, total, present, misses, nbytes = collections.deque(), 0, {}, 0, 0
    serial = 0
    for kind, key, b in refs(recs):
        if kind == "inv":
            present.pop(key, None)
        elif kind == "flush":
            log, total, present = collections.deque(), 0, {}
        elif key not in present:
            serial += 1
            log.append((key, b, serial))
            present[key] = serial
            total += b
            while total > cap:
                k, ob, s = log.popleft()
                total -= ob
                if present.get(k) == s:
                    del present[k]
            misses, nbytes = misses + 1, nbytes + b
    return misses, nbytes, 0


def sim_units(recs, cap, n, min_room, odd=None):
    """N lists of blocks; the one after the current is emptied for room. A
    key translated again after an invalidation is in a later unit: the
    earlier unit's emptying must not take it. odd as sim_flush's; the
    block the run made room for is the next translation (one vCPU)."""
    unit = (cap // n) & ~4095
    units = [[] for _ in range(n)]
    cur, used, present, misses, nbytes, ev = 0, 0, {}, 0, 0, 0
    fill = 0   # which filling of a unit: present[key] says where it went
    for kind, key, b in refs(recs, odd is not None):
        if kind == "inv":
            present.pop(key, None)
        elif kind == "flush":
            units, used, present = [[] for _ in range(n)], 0, {}
            fill += 1
        elif kind == "room" or key not in present:
            if unit - used < min_room or (b is not None and b > unit - used):
                cur = (cur + 1) % n
                for k, f in units[cur]:
                    if present.get(k) == f:
                        del present[k]
                units[cur], used = [], 0
                fill += 1
                ev += 1
            elif kind == "room":
                odd.append(unit - used)
            if kind == "ref":
                units[cur].append((key, fill))
                present[key] = fill
                used += b
                misses, nbytes = misses + 1, nbytes + b
    return misses, nbytes, ev


def sim_lru(recs, cap):
    """LRU by bytes as a stack searched from the top: a reference hits when
    the bytes of the blocks above it, and its own, fit."""
    stack, misses, nbytes = [], 0, 0   # [key, bytes], most recent first
    for kind, key, b in refs(recs):
        if kind == "inv":
            stack = [e for e in stack if e[0] != key]
        elif kind == "flush":
            stack = []
        else:
            depth = None
            for i, (k, _) in enumerate(stack):
                if k == key:
                    depth = sum(e[1] for e in stack[:i]) + b
                    del stack[i]
                    break
            if depth is None or depth > cap:
                misses, nbytes = misses + 1, nbytes + b
            stack.insert(0, [key, b])
    return misses, nbytes, 0


def tool(mrc, path, sizes, units):
    r = subprocess.run([mrc, "--sizes", ",".join(map(str, sizes)), "--units", ",".join(map(str, units)),
                        path], capture_output=True, text=True)
    if r.returncode:
        fail("tclog-mrc %s: status %d: %s" % (path, r.returncode, r.stderr.strip()))
    return list(csv.DictReader(io.StringIO(r.stdout)))


def check_log(mrc, path, own_kib, own_policy):
    hdr, recs, padded = parse(path)
    nref = sum(1 for k, _, _ in recs if k in ("ref", "tr"))
    ntr = sum(1 for k, _, _ in recs if k == "tr")
    ninv = sum(1 for k, _, _ in recs if k == "inv")
    nflush = sum(1 for k, _, _ in recs if k == "flush")
    nroom = sum(1 for k, _, _ in recs if k == "room")
    if hdr["code_size"] != own_kib << 10:
        fail("%s: header's size %d, the run's %d KiB" % (path, hdr["code_size"], own_kib))
    rows = tool(mrc, path, SIZES_KIB, UNITS)
    got = {(r["policy"], int(r["size_bytes"])): r for r in rows}
    checked = 0
    for kib in SIZES_KIB:
        cap = kib << 10
        want = {"flush": sim_flush(recs, cap, hdr["reserve"]), "fifo": sim_fifo(recs, cap),
                "lru": sim_lru(recs, cap)}
        for n in UNITS:
            want["units:%d" % n] = sim_units(recs, cap, n, hdr["min_room"])
        # btvm's own fifo: as many units as its 8 KiB unit makes
        want["btvm-fifo"] = sim_units(recs, cap, cap // hdr["fifo_unit"], hdr["min_room"])
        for pol, (misses, nbytes, ev) in want.items():
            r = got.get((pol, cap))
            if r is None:
                fail("%s: no row for %s at %d KiB" % (path, pol, kib))
            if int(r["references"]) != nref:
                fail("%s: %s %d KiB: %s references, the log has %d" % (path, pol, kib, r["references"], nref))
            have = (int(r["misses"]), int(r["translated_bytes"]), int(r["evictions"]))
            if have != (misses, nbytes, ev):
                fail("%s: %s at %d KiB: tclog-mrc says misses, bytes, evictions %s; brute force %s"
                     % (path, pol, kib, have, (misses, nbytes, ev)))
            checked += 1
    # At the run's own size and policy the simulator makes room where btvm
    # did, for a miss, which is mostly the next in the log: not when another
    # vCPU's records come before the retry of the one that found no room,
    # nor when the block then faults (its first instruction runs onto a
    # page not mapped: paging's), which the log never shows. So tclog-mrc
    # is checked against the plain simulation, and the run against one
    # that also makes room at the run's rooms, where the rule must call
    # for it: that one's misses and rooms are exactly the run's.
    cap = own_kib << 10
    if own_policy == "flush":
        sim = lambda odd: sim_flush(recs, cap, hdr["reserve"], odd)
    else:
        n = hdr["nunits"] if own_policy.startswith("units") else cap // hdr["fifo_unit"]
        sim = lambda odd: sim_units(recs, cap, n, hdr["min_room"], odd)
    own = tool(mrc, path, [own_kib], [hdr["nunits"]] if own_policy.startswith("units") else [2])
    row = next(r for r in own if r["policy"] == own_policy)
    plain = sim(None)
    have = (int(row["misses"]), int(row["translated_bytes"]), int(row["evictions"]))
    if have != plain:
        fail("%s: %s at its own %d KiB: tclog-mrc says misses, bytes, evictions %s; brute force %s"
             % (path, own_policy, own_kib, have, plain))
    odd = []
    misses, _, ev = sim(odd)
    if odd or (misses, ev) != (ntr, nroom):
        fail("%s: at the run's own %d KiB, %s simulated %d misses and %d evictions making room where the run "
             "did (%d and %d at the next miss); the run translated %d blocks and made room %d times%s"
             % (path, own_kib, own_policy, misses, ev, plain[0], plain[2], ntr, nroom,
                "; it made room with %s bytes left, where the rule does not" % odd if odd else ""))
    late = "" if (plain[0], plain[2]) == (ntr, nroom) else \
        " (%d at the next miss: a room made for a miss logged later, or never)" % plain[0]
    if nroom == 0 or ntr <= 0:
        fail("%s: the run never made room: the cache was not small enough to test" % path)
    print("ok %s: %d references, %d translations (%d after an alignment skip), %d invalidations, %d flushes, "
          "%d room events; %d (policy, size) pairs agree; at its own %d KiB %s: %d misses = its translations%s"
          % (os.path.basename(path), nref, ntr, padded, ninv, nflush, nroom, checked, own_kib, own_policy, ntr,
             late))
    return ninv, nflush, padded


def check_bad(mrc, path, what, want):
    r = subprocess.run([mrc, path], capture_output=True, text=True)
    line = r.stderr.strip()
    if r.returncode != 1 or "\n" in line or not line.startswith("tclog-mrc: %s: " % path) or want not in line:
        fail("%s: want status 1 and one line with '%s'; got status %d: %r" % (what, want, r.returncode, line))
    print("ok %s: %s" % (what, line))


def main():
    btvm, mrc, guests = sys.argv[1:4]
    with tempfile.TemporaryDirectory() as tmp:
        runs = [("arith", 16, "flush", "flush", []), ("smc", 32, "units:2", "units:2", []),
                ("paging", 32, "fifo", "btvm-fifo", []), ("smp_xmc", 32, "flush", "flush", ["--smp", "2"])]
        invalidations = flushes = padded = 0
        for guest, kib, policy, own, extra in runs:
            path = os.path.join(tmp, guest + ".tcl")
            r = subprocess.run([btvm, "run", "--kernel", os.path.join(guests, guest + ".elf"), "-m", "64",
                                "--display", "none", "--tcache", "%dK" % kib, "--tcache-policy", policy,
                                "--tcache-log", path] + extra, stdin=subprocess.DEVNULL, capture_output=True)
            if r.returncode != 33:
                fail("%s: status %d: %s" % (guest, r.returncode, r.stderr.decode(errors="replace")[-300:]))
            if extra:
                # Both vCPUs' records, in the one buffer, the switches said.
                vcpus = {k for kind, k, _ in parse(path)[1] if kind == "vcpu"}
                if 1 not in vcpus:
                    fail("%s at 2 vCPUs: the log names vCPUs %s" % (guest, sorted(vcpus)))
            ninv, nflush, npad = check_log(mrc, path, kib, own)
            invalidations += ninv
            flushes += nflush
            padded += npad
        if not invalidations or not flushes:
            fail("no log had an invalidation (smc should) or a flush (paging should)")
        if not padded:
            # A pad logged as 0 hid bytes the run had used, and it made
            # room before the simulator did, now and then.
            fail("no log had a block placed after an alignment skip (smc's loops are)")
        good = os.path.join(tmp, "arith.tcl")
        data = open(good, "rb").read()
        cut = os.path.join(tmp, "cut.tcl")
        open(cut, "wb").write(data[:len(data) * 2 // 3])
        check_bad(mrc, cut, "a log cut short", "truncated")
        flipped = bytearray(data)
        flipped[len(data) // 2] ^= 0x5A
        bad = os.path.join(tmp, "flipped.tcl")
        open(bad, "wb").write(bytes(flipped))
        check_bad(mrc, bad, "a corrupt log", "corrupt")
        notlog = os.path.join(tmp, "notlog.tcl")
        open(notlog, "wb").write(subprocess.run(["zstd", "-c"], input=b"hello, not a log\n" * 4,
                                                capture_output=True, check=True).stdout)
        check_bad(mrc, notlog, "a zstd file that is no log", "not a btvm translation-cache log")
    print("PASS")


if __name__ == "__main__":
    main()
