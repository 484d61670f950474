#!/usr/bin/env bash
# Snapshot benchmark (not a test): file size and save/restore time of a
# 256 MiB and a 1 GiB Linux guest, idle and with half its RAM filled with
# compressible and with random data (bench/snapshot/snapbench.py).
# Usage: bench/snapshot/run.sh [BTVM] [MIB...]   (default build/btvm 256 1024)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$(dirname "$here")")
btvm=${1:-$root/build/btvm}
shift || true
[ $# -gt 0 ] || set -- 256 1024
exec python3 "$here/snapbench.py" "$btvm" "$@"
