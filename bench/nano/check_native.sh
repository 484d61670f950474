#!/usr/bin/env bash
# CTest check of nano-native (bench/nano/native.c): run it with --quick and
# check the form of its output and that every figure is a positive number.
# No time is compared with anything.
#
#	check_native.sh PATH/TO/nano-native
set -u -o pipefail
prog=$1
out=$("$prog" --quick) || { echo "check_native: $prog --quick failed" >&2; exit 1; }
printf '%s\n' "$out"
printf '%s\n' "$out" | awk '
	/^nano host-tsc-khz [0-9]+$/ { if ($3 > 0) khz = 1; next }
	/^nano hypervisor (yes|no)$/ { next }
	/^nano op [a-z0-9-]+ iters [0-9]+ ns\/op [0-9]+\.[0-9][0-9]$/ {
		if ($5 > 0 && $7 > 0) ops++; else { print "not positive: " $0; bad = 1 }
		next
	}
	/^nano skip [a-z0-9-]+ ./ { next }
	{ print "unexpected line: " $0; bad = 1 }
	END {
		if (!khz) { print "no positive host-tsc-khz line"; bad = 1 }
		if (ops < 3) { print "fewer than 3 measured operations"; bad = 1 }
		exit bad
	}' >&2
