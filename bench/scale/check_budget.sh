#!/usr/bin/env bash
# CTest shadow_map_budget: the scale sweep's guest (sweep.c) touching 16,384
# scattered 4 KiB pages (64 MiB, random order, two passes), which needs
# about 16,400 host mappings:
#  - under --map-budget 4096 the shadow must replace regions (budget
#    reached, regions replaced, never more mappings than the budget), the
#    guest must read back what it wrote (its checksum), and btvm must say
#    once, in one line on stderr, what limits it;
#  - under the host's own budget (vm.max_map_count less 4096) the same run
#    replaces nothing and says nothing, or, on a host whose limit is too
#    low for it, says that vm.max_map_count is what limits it;
#  - a --map-budget out of range is refused with status 2 and one line.
#
#	check_budget.sh BTVM SWEEP_ELF
set -u -o pipefail
btvm=$1 elf=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0
fail() { echo "FAIL: $*" >&2; failed=1; }

pages=16384 passes=2
# Each pass adds one to every page's word, which starts as its index:
# sum over passes p = 1..P and pages i of i + p.
want=$(printf '0x%08x' $(( (passes * pages * (pages - 1) / 2 + pages * passes * (passes + 1) / 2) & 0xffffffff )))
args=(run --kernel "$elf" --serial stdio --display none --net none -m 192 --stats
      --append "mib=64 passes=$passes order=rand pages=4k layout=scatter")

figure() { # figure FILE LABEL: the figure of one --stats line
	sed -n "s/^  $2  *\([0-9][0-9]*\)\$/\1/p" "$1"
}

# run NAME [ARGS...]: one sweep; checks its status and checksum.
run() {
	local name=$1
	shift
	"$btvm" "${args[@]}" "$@" >"$work/$name.out" 2>"$work/$name.err" </dev/null
	local status=$?
	[ "$status" = 33 ] || fail "$name: status $status (33 is the guest's pass)"
	grep -qx "sweep done pages $pages checksum $want" "$work/$name.out" ||
		fail "$name: no 'sweep done pages $pages checksum $want' line: $(tail -1 "$work/$name.out")"
}

run small --map-budget 4096
for label in 'budget reached' 'regions replaced'; do
	n=$(figure "$work/small.err" "$label")
	[ "${n:-0}" -ge 1 ] || fail "small: '$label' is ${n:-missing}, not at least 1"
done
[ "$(figure "$work/small.err" 'host mapping budget')" = 4096 ] ||
	fail "small: the budget is $(figure "$work/small.err" 'host mapping budget'), not 4096"
now=$(figure "$work/small.err" 'host mappings now')
[ "${now:-99999}" -le 4096 ] || fail "small: ${now:-no} host mappings at the end, above the budget"
hints=$(grep -c "^btvm: the guest's memory needs more than --map-budget's 4096 host mappings" "$work/small.err")
[ "$hints" = 1 ] || fail "small: the budget's hint was printed $hints times, not once"

run host
host_budget=$(figure "$work/host.err" 'host mapping budget')
if [ "${host_budget:-0}" -ge $((pages + 1024)) ]; then
	[ "$(figure "$work/host.err" 'budget reached')" = 0 ] ||
		fail "host: replacement under a budget of $host_budget mappings"
	! grep -q "^btvm: the guest's memory needs more" "$work/host.err" ||
		fail "host: a hint without replacement: $(grep '^btvm: the guest' "$work/host.err")"
else
	grep -q "host mappings vm.max_map_count ([0-9]*) leaves btvm" "$work/host.err" ||
		fail "host: a budget of ${host_budget:-?} is too small for the sweep, and no hint names vm.max_map_count"
fi

for bad in 100 12x -5 ''; do
	out=$("$btvm" run --kernel "$elf" --map-budget "$bad" 2>&1 </dev/null)
	status=$?
	[ "$status" = 2 ] && grep -q "^btvm: invalid --map-budget '$bad' (4096 to " <<<"$out" ||
		fail "--map-budget '$bad': status $status, '$out'"
done

[ "$failed" = 0 ] && echo "shadow_map_budget: passed"
exit "$failed"
