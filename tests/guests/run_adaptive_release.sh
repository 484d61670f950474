#!/usr/bin/env bash
# The adaptive_release guest (tests/guests/adaptive_release.asm) under
# btvm with --stats-json: it must pass, and each of its three store
# instructions (MOV, PUSH, STOSD) must have been marked adaptive, released
# to its plain translation and marked again, twice (3 marks and 2 releases
# each: shadow.adaptive_insns >= 9, shadow.adaptive_released >= 6), and
# the table its 'flood' group writes unseen must have been unshadowed;
# and its 'dead_dir' group's 20000 PUSHes into the directory of an
# address space no longer in use must not keep trapping: an adaptive PUSH
# leaves translated code each time (one callout exit a PUSH), so fewer
# than 5000 callout exits in all (a few hundred when the monitor stops
# tracing the dead window's directory; more than 20000 when it kept on).
# Usage: run_adaptive_release.sh BTVM GUEST_ELF [btvm options]
set -u
here=$(cd "$(dirname "$0")" && pwd)
btvm=$1 guest=$2
shift 2
json=$(mktemp)
trap 'rm -f "$json"' EXIT
bash "$here/run_guest.sh" "$btvm" "$guest" --stats-json "$json" "$@" || exit 1
/usr/bin/python3 - "$json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))["counters"]
marked, released = c["shadow.adaptive_insns"], c["shadow.adaptive_released"]
flooded = c["shadow.tables_unshadowed"]
stops = c["exits.callout"]
print("adaptive marks %d, releases %d; tables unshadowed %d; callout exits %d"
      % (marked, released, flooded, stops))
if marked < 9 or released < 6:
    sys.exit("run_adaptive_release: want each store marked, released and marked again "
             "(>= 9 marks and >= 6 releases)")
if flooded < 1:
    sys.exit("run_adaptive_release: want the flooded table's shadows dropped")
if stops >= 5000:
    sys.exit("run_adaptive_release: the dead directory kept trapping its writes "
             "(%d callout exits, want < 5000)" % stops)
PY
