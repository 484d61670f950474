#!/usr/bin/env bash
# Runs a test guest through tests/guests/run_guest.sh while the host is loaded:
# two busy shell loops compete with the vCPU for the whole run. Each loop
# ends by itself after LOAD_SECONDS (so that a killed test cannot leave
# them behind) and is killed when the guest is done.
# Usage: run_guest_loaded.sh BTVM GUEST [BTVM-ARG...]
set -u
here=$(cd "$(dirname "$0")" && pwd)
LOAD_SECONDS=120
hogs=()
trap 'kill "${hogs[@]}" 2>/dev/null' EXIT
for _ in 1 2; do
	(
		end=$((SECONDS + LOAD_SECONDS))
		while [ "$SECONDS" -lt "$end" ]; do :; done
	) &
	hogs+=($!)
done
bash "$here/run_guest.sh" "$@"
