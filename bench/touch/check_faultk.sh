#!/usr/bin/env bash
# CTest check of the churned-page path (docs/DESIGN.md, "Shadow paging"):
# runs faultk.elf (ITERS rounds of 1,000 ring-3 page faults on pages its
# system call unmaps again after each touch) under btvm with the options
# given, and checks
# - its checksum line against the model of the kernel below, which folds
#   in every value the pages held when read (the frame each page gets
#   depends on every fault before it) and every system call's result: a
#   lost or doubled fault, a stale translation or a lost store changes it;
# - from --stats: exactly ITERS * 1,000 page faults given to the guest, the
#   ring-3 load made adaptive in the first round for pages not present and
#   the store for churned pages (its pages were mapped then), and fewer
#   host mmap calls than a tenth of the faults (each fault took one, and a
#   host signal, before such pages were left unmapped).
# Usage: check_faultk.sh BTVM FAULTK_ELF ITERS [BTVM-OPTION...]
set -u -o pipefail
[ $# -ge 3 ] || { echo "usage: check_faultk.sh BTVM FAULTK_ELF ITERS [BTVM-OPTION...]" >&2; exit 2; }
btvm=$1 faultk=$2 iters=$3
shift 3

# faultk.c and faultk_start.S in Python: FRAMES frames handed out in turn by
# the #PF handler, each starting with word w = f * 0x9e3779b9 + w every 64
# words; every touch of page i in round r faults (its entry was cleared),
# reads word i, stores v * 31 + i + r there and mixes v ^ the SYS_COUNT
# result in.
want=$(python3 - "$iters" <<'PY'
import sys
MASK = 0xffffffff
def mix(h, v):
    h ^= v
    h = (h * 0x01000193) & MASK
    return h ^ (h >> 15)
rounds, frames_n, pages = int(sys.argv[1]), 1021, 1000
frames = [{w: (f * 0x9e3779b9 + w) & MASK for w in range(0, 1024, 64)} for f in range(frames_n)]
h, calls, faults, next_frame = 2166136261, 0, 0, 0
for r in range(rounds):
    for i in range(pages):
        calls += 1
        count = calls
        f, next_frame = next_frame, (next_frame + 1) % frames_n
        faults += 1
        v = frames[f].get(i, 0)
        frames[f][i] = (v * 31 + i + r) & MASK
        h = mix(h, v ^ count)
        calls += 1
print("0x%08x" % mix(mix(h, faults), calls))
PY
) || { echo "check_faultk: the model failed" >&2; exit 1; }

out=$(timeout 300 "$btvm" run --kernel "$faultk" --append "iters=$iters" --serial stdio --display none \
	-m 64 --net none --stats "$@" 2>&1)
status=$?
printf '%s\n' "$out"
fail() { echo "check_faultk: FAIL: $*" >&2; exit 1; }
[ "$status" = 33 ] || fail "btvm exited with $status, want 33 (the kernel's pass)"
line="bench faultk iters $iters checksum $want"
grep -qx "$line" <<<"$out" || fail "no line '$line' (the model's checksum)"
stat() { awk -v name="$1" 'index($0, "  " name " ") == 1 { print $NF }' <<<"$out"; }
faults=$(stat "true faults (#PF)") churn=$(stat "adaptive for a churned page")
fresh=$(stat "adaptive for fresh pages") maps=$(stat "host mmap calls")
if [ -z "$faults" ] || [ -z "$churn" ] || [ -z "$fresh" ] || [ -z "$maps" ]; then
	fail "--stats lacks a line it should have (true faults, adaptive for a churned page and for fresh pages, host mmap calls)"
fi
adaptive=$((churn + fresh))
[ "$fresh" -ge 1 ] || fail "no instruction made adaptive for fresh pages (the load's first-round faults)"
[ "$churn" -ge 1 ] || fail "no instruction made adaptive for churned pages (the store)"
[ "$faults" = $((iters * 1000)) ] || fail "$faults page faults given to the guest, want $((iters * 1000))"
[ "$maps" -lt $((iters * 100)) ] || fail "$maps host mmap calls for $((iters * 1000)) faults"
echo "check_faultk: PASS ($faults page faults, checksum $want, $adaptive adaptive, $maps mmap calls)"
