#!/usr/bin/env bash
# The difftest soak (not in CI): many seeds of 20,000 sequences each under
# btvm, stopping at the first seed with a mismatch (its report is kept).
#
#   soak.sh --btvm PATH [--seeds FIRST:LAST] [--build DIR]
#
# 50 seeds (the default, 1:50) are 10^6 sequences: about ten minutes on
# two cores.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
btvm= first=1 last=50 build=
while [ $# -gt 0 ]; do
	case $1 in
	--btvm) btvm=$2; shift 2 ;;
	--seeds) first=${2%%:*}; last=${2##*:}; shift 2 ;;
	--build) build=$2; shift 2 ;;
	*) echo "soak.sh: unknown option '$1'" >&2; exit 2 ;;
	esac
done
[ -n "$btvm" ] || { echo "soak.sh: --btvm PATH is required" >&2; exit 2; }
total=0
for seed in $(seq "$first" "$last"); do
	log=$(mktemp)
	if ! bash "$here/run.sh" --btvm "$btvm" ${build:+--build "$build"} --seed "$seed" --count 20000 >"$log" 2>&1; then
		cat "$log"
		echo "soak: seed $seed differs (after $total sequences matched)"
		rm -f "$log"
		exit 1
	fi
	rm -f "$log"
	total=$((total + 20000))
	echo "soak: seed $seed: 20000 matched ($total in all)"
done
echo "soak: $total sequences over seeds $first..$last, no mismatch"
