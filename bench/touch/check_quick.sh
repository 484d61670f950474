#!/usr/bin/env bash
# CTest check of bench/touch/run.sh (bench_touch_quick): runs it with
# --quick --no-qemu --no-raise --sizes 8,64 --mem 1024 on the built tree
# (one run: a guest boot per job is most of the test's time) and checks
# the form of its output, never its times: it must exit 0 (which it does only when every
# run finished and every checksum agreed between native and btvm); the table
# must have a row for every workload with positive native and btvm figures
# (faultk: btvm only); the skipped raised column must be said; btvm's
# page-path rows must be there for every job, and faultk's must count
# exactly the 10,000 page faults its 10 rounds take, with one hidden fault
# (the write after the retried read) each, not two; and the sweep through
# high memory must take few hidden faults (below).
#
#	check_quick.sh PATH/TO/run.sh BUILD_DIR
set -u -o pipefail
run=$1 build=$2
out=$(bash "$run" --quick --no-qemu --no-raise --no-build --build "$build" --sizes 8,64 --mem 1024 2>/dev/null)
status=$?
printf '%s\n' "$out"
[ "$status" = 0 ] || { echo "check_quick: run.sh exited with $status" >&2; exit 1; }
awk '
	BEGIN {
		want["alloctouch"] = "s"; want["pagefault"] = "ns/page"; want["faultk"] = "s"
		want["sweep-8-first"] = "s"; want["sweep-8"] = "s"
		want["sweep-64-first"] = "s"; want["sweep-64"] = "s"
		for (n in want) nwant++
		split("at sweep:8 sweep:64 faultk idle-1024", j, " ")
		for (i in j) jobs[j[i]] = 1
	}
	$1 in want && NF == 8 {
		if ($2 != want[$1]) { print "wrong unit: " $0; bad = 1 }
		native_ok = $1 == "faultk" ? $3 == "-" : $3 ~ /^[0-9.]+$/ && $3 > 0
		if (!native_ok || !($4 ~ /^[0-9.]+$/ && $4 > 0) || $5 != "-") {
			print "bad figures: " $0; bad = 1
		}
		rows[$1]++
		next
	}
	/^raised vm.max_map_count: skipped \(--no-raise\)$/ { said_raise = 1 }
	$1 == "btvm" && ($2 in jobs) && NF == 12 {
		for (i = 3; i <= 12; i++)
			if ($i !~ /^[0-9]+$/) { print "not a count: " $0; bad = 1 }
		if ($2 == "faultk" && $7 != 10000) { print "faultk: " $7 " true page faults, not 10000"; bad = 1 }
		# The handler leaves A clear: the eager map sets it (refresh_entry),
		# so a retry takes no hidden fault, only the write after it does.
		if ($2 == "faultk" && $4 > $7 + 100) { print "faultk: " $4 " hidden faults for " $7 " page faults"; bad = 1 }
		if ($2 != "faultk" && $3 != 1024) { print "-m is not 1024: " $0; bad = 1 }
		seen[$2]++
	}
	END {
		for (n in want) if (rows[n] != 1) { print "table row " n ": " rows[n] + 0 " times"; bad = 1 }
		for (n in jobs) if (seen[n] != 1) { print "page-path row " n ": " seen[n] + 0 " times"; bad = 1 }
		if (!said_raise) { print "no line saying the raised column was skipped"; bad = 1 }
		exit bad
	}' <<<"$out" >&2

# High memory: the 64 MiB sweep in a guest of 1 GiB (its user pages come
# from HIGHMEM, each cleared through a temporary kernel mapping,
# kmap_local): the slot's entry, written again after its INVLPG, is mapped
# then (shadow_invlpg's reused slots), so the sweep's 16,384 pages add few
# hidden faults to the boot's (before: about three a page).
awk '
	$1 == "btvm" && $2 == "sweep:64" && NF == 12 { sweep = $4 }
	$1 == "btvm" && $2 == "idle-1024" && NF == 12 { idle = $4 }
	/^guest memory under btvm at -m 1024: .* HighTotal: [1-9]/ { high = 1 }
	END {
		if (!high) { print "no high memory in the 1 GiB guest"; exit 1 }
		if (sweep == "" || idle == "") { print "no sweep:64 or idle-1024 page-path row"; exit 1 }
		if (sweep - idle > 4096) { print "sweep:64 took " sweep - idle " hidden faults more than the boot"; exit 1 }
	}' <<<"$out" >&2
