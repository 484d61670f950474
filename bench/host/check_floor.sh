#!/usr/bin/env bash
# CTest check of bench/host/floor: run it with --quick and check that it
# prints each of its six lines once, with a positive figure, and nothing
# else; that a bad argument is refused with status 2. No time is compared.
#
#	check_floor.sh PATH/TO/floor
set -u -o pipefail
prog=$1
out=$("$prog" --quick) || { echo "check_floor: $prog --quick failed" >&2; printf '%s\n' "$out"; exit 1; }
printf '%s\n' "$out"
"$prog" --bogus 2>/dev/null
[ $? = 2 ] || { echo "check_floor: a bad argument was not refused with status 2" >&2; exit 1; }
awk '
	/^FLOOR (syscall|signal|mmap|touch|mprotect|pagefault) [0-9]+ ns$/ {
		if (!($3 > 0)) { print "not positive: " $0; bad = 1 }
		else if (seen[$2]++) { print "twice: " $0; bad = 1 }
		else { got++; v[$2] = $3 }
		next
	}
	{ print "unexpected line: " $0; bad = 1 }
	END {
		if (got != 6) { print "got " got + 0 " of 6 lines"; bad = 1 }
		else if (v["pagefault"] < v["signal"] + v["mmap"] + v["touch"] - 2) {
			print "pagefault is not signal + mmap + touch"; bad = 1
		}
		exit bad
	}' <<<"$out" >&2
