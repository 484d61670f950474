#!/usr/bin/env bash
# Sets everything up and boots the default guest on this terminal.
# Extra arguments go to 'btvm run' (e.g. --stats).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec build/btvm run --kernel build/tests/guests/hello.elf "$@"
