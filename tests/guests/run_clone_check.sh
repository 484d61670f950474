#!/usr/bin/env bash
# Copies of blocks (translator/translate_clone.c) under a guest that runs
# one code page at several linear addresses: the guest passes with
# --clone-check (every copy translated anew as well and compared, a
# difference ends the run), and copies were made, at least MIN of them.
# Usage: run_clone_check.sh BTVM GUEST MIN [btvm options]
set -u
btvm=$1 guest=$2 min=$3
shift 3
json=$(mktemp)
trap 'rm -f "$json"' EXIT
bash "$(dirname "$0")/run_guest.sh" "$btvm" "$guest" --clone-check --stats-json "$json" "$@" || exit 1
clones=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["counters"]["tcache.clones"])' "$json") ||
	{ echo "run_clone_check: no tcache.clones in --stats-json"; exit 1; }
echo "run_clone_check: $clones blocks copied (at least $min wanted)"
[ "$clones" -ge "$min" ] || { echo "run_clone_check: too few copies: the copy path was not taken"; exit 1; }
