#!/usr/bin/env bash
# CTest check of a bench/host program (floor, segload or shootdown): run it with
# --quick and check that it prints each of its lines once, with a positive
# figure, and nothing else; that a bad argument is refused with status 2.
# No time is compared.
#
#	check.sh PATH/TO/floor|PATH/TO/segload|PATH/TO/shootdown
set -u -o pipefail
prog=$1
name=$(basename "$prog")
case $name in
floor) tag=FLOOR names="syscall signal mmap touch mprotect pagefault" unit='[0-9]+' ;;
segload) tag=SEGLOAD names="chase_plain chase_gs" unit='[0-9]+\.[0-9][0-9]' ;;
shootdown) tag=SHOOTDOWN names="alone spinning sleeping" unit='[0-9]+' ;;
*) echo "check: no check for $name" >&2; exit 2 ;;
esac
out=$("$prog" --quick) || { echo "check: $prog --quick failed" >&2; printf '%s\n' "$out"; exit 1; }
printf '%s\n' "$out"
"$prog" --bogus 2>/dev/null
[ $? = 2 ] || { echo "check: a bad argument to $name was not refused with status 2" >&2; exit 1; }
awk -v tag="$tag" -v names="$names" -v unit="$unit" '
	BEGIN { want = split(names, list, " "); for (i in list) known[list[i]] = 1 }
	$0 ~ ("^" tag " [a-z_]+ " unit " ns$") && ($2 in known) {
		if (!($3 > 0)) { print "not positive: " $0; bad = 1 }
		else if (seen[$2]++) { print "twice: " $0; bad = 1 }
		else { got++; v[$2] = $3 }
		next
	}
	{ print "unexpected line: " $0; bad = 1 }
	END {
		if (got != want) { print "got " got + 0 " of " want " lines"; bad = 1 }
		else if (tag == "FLOOR" && v["pagefault"] < v["signal"] + v["mmap"] + v["touch"] - 2) {
			print "pagefault is not signal + mmap + touch"; bad = 1
		}
		exit bad
	}' <<<"$out" >&2
