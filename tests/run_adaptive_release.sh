#!/usr/bin/env bash
# The adaptive_release guest (tests/guests/adaptive_release.asm) under
# btvm with --stats-json: it must pass, and its one store instruction must
# have been marked adaptive, released to its plain translation, and marked
# again (shadow.adaptive_insns >= 2, shadow.adaptive_released >= 2).
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
print("adaptive marks %d, releases %d" % (marked, released))
if marked < 2 or released < 2:
    sys.exit("run_adaptive_release: want the store marked, released and marked again "
             "(>= 2 marks and >= 2 releases)")
PY
