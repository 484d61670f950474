#!/usr/bin/env bash
# CTest check of lbench (bench/linux/lbench.c) on the host: run it with
# --quick and check that it prints one well-formed line for every workload
# that `lbench --list` names, with a positive figure, then its end line.
# No time is compared with anything.
#
#	check_native.sh PATH/TO/lbench
set -u -o pipefail
prog=$1
list=$("$prog" --list) || { echo "check_native: $prog --list failed" >&2; exit 1; }
out=$("$prog" --quick) || { echo "check_native: $prog --quick failed" >&2; printf '%s\n' "$out"; exit 1; }
printf '%s\n' "$out"
awk -v list="$list" '
	BEGIN {
		n = split(list, rows, "\n")
		for (i = 1; i <= n; i++) { split(rows[i], f, " "); unit[f[1]] = f[2]; want++ }
	}
	/^LBENCH [a-z0-9-]+ [0-9]+\.[0-9]+ [a-z\/]+ 0x[0-9a-f]+$/ && length($5) == 10 {
		if (!($2 in unit)) { print "unknown workload: " $0; bad = 1 }
		else if ($4 != unit[$2]) { print "wrong unit: " $0; bad = 1 }
		else if (!($3 > 0)) { print "not positive: " $0; bad = 1 }
		else if (seen[$2]++) { print "twice: " $0; bad = 1 }
		else got++
		next
	}
	/^LBENCH-END [0-9]+\.[0-9]+$/ { end = 1; next }
	{ print "unexpected line: " $0; bad = 1 }
	END {
		if (got != want) { print "got " got + 0 " of " want " workloads"; bad = 1 }
		if (!end) { print "no LBENCH-END line"; bad = 1 }
		exit bad
	}' <<<"$out" >&2
