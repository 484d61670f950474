#!/usr/bin/env bash
# CTest check of bench/host/segload: run it with --quick and check that it
# prints each of its two lines once, with a positive figure, and nothing
# else; that a bad argument is refused with status 2. No time is compared.
#
#	check_segload.sh PATH/TO/segload
set -u -o pipefail
prog=$1
out=$("$prog" --quick) || { echo "check_segload: $prog --quick failed" >&2; printf '%s\n' "$out"; exit 1; }
printf '%s\n' "$out"
"$prog" --bogus 2>/dev/null
[ $? = 2 ] || { echo "check_segload: a bad argument was not refused with status 2" >&2; exit 1; }
awk '
	/^SEGLOAD chase_(plain|gs) [0-9]+\.[0-9][0-9] ns$/ {
		if (!($3 > 0)) { print "not positive: " $0; bad = 1 }
		else if (seen[$2]++) { print "twice: " $0; bad = 1 }
		else got++
		next
	}
	{ print "unexpected line: " $0; bad = 1 }
	END {
		if (got != 2) { print "got " got + 0 " of 2 lines"; bad = 1 }
		exit bad
	}' <<<"$out" >&2
