#!/usr/bin/env bash
# Memtest86+ as a user boots it: Debian's memtest86+ package's ISO
# (/usr/lib/memtest86+/memtest86+ia32.iso: El Torito with a 1.44 MB
# floppy-emulation image holding memtest's own boot sector and its 32-bit
# program) in the IDE DVD-ROM drive, booted by SeaBIOS. Memtest writes its
# screen straight into VGA text memory (nothing on the serial port without
# console=ttyS0, which a CD boot gives no way to pass), so the test reads
# the screen through --screenshot's text dump, asked for with SIGUSR2 and
# polled until what it waits for shows or the time runs out.
#
# It checks what memtest found and did:
#   - its header, and the CPU it names: btvm's CPUID brand string;
#   - the caches it read from CPUID leaf 4 (isa/cpuid.c: the Core i7 920's
#     32 KiB L1 data cache, 256 KiB L2 and 8 MiB L3; "N/A" while leaf 4 was zeros);
#   - the memory it counted from SeaBIOS's E820 map (INT 15h, from its
#     real-mode setup code): with -m 128, 639 KiB below 1 MiB and 1 MiB to
#     128 MiB - 4 KiB (SeaBIOS reserves the last page), which it shows
#     as 128MB (QEMU's SeaBIOS reserves 128 KiB there: 127MB);
#   - its tests running through one pass up to the last one, test #10 (bit
#     fade, which waits minutes by design and is not waited for), with
#     "Errors: 0" on every screen: memtest's patterns, moving inversions
#     and block moves over the guest's RAM from 4 MiB up (the range its
#     screen shows in pass 1), run as btvm's translated code,
#     must read back what they wrote.
#
# Usage: run_memtest.sh BTVM [BTVM OPTION...]
# Exit status: 0 passed, 1 failed (a missing memtest86+ package too:
# scripts/setup.sh installs it, so its absence is a broken setup).
set -euo pipefail
btvm=$1
shift
iso=/usr/lib/memtest86+/memtest86+ia32.iso
if [ ! -r "$iso" ]; then
	echo "run_memtest: FAIL: no $iso (scripts/setup.sh installs memtest86+)"
	exit 1
fi

work=$(mktemp -d)
btvm_pid=
cleanup() {
	[ -n "$btvm_pid" ] && kill -9 "$btvm_pid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
fail() {
	echo "run_memtest: FAIL: $*" >&2
	echo "--- btvm's output:" >&2
	cat "$work/out.log" >&2 || true
	echo "--- memtest's screen:" >&2
	cat "$work/screen.txt" >&2 || true
	exit 1
}

"$btvm" run --firmware bios --cdrom "$iso" --net none --display none -m 128 --no-reboot \
	--screenshot "$work/screen.txt" "$@" </dev/null >"$work/out.log" 2>&1 &
btvm_pid=$!

# SIGUSR2 kills a btvm that has not yet set its handler up, which it does
# before the guest runs: the first signal waits for SeaBIOS's banner on
# the serial console (its sercon).
start=$SECONDS
until grep -q 'SeaBIOS' "$work/out.log" 2>/dev/null; do
	kill -0 "$btvm_pid" 2>/dev/null || fail "btvm ended before SeaBIOS started"
	[ $((SECONDS - start)) -lt 120 ] || fail "no SeaBIOS banner in 120s"
	sleep 0.2
done

# Waits until the screen matches an extended regex, failing at once when
# memtest counts an error or btvm ends.
wait_screen() {
	local pattern=$1 timeout=$2 start=$SECONDS
	while [ $((SECONDS - start)) -lt "$timeout" ]; do
		kill -0 "$btvm_pid" 2>/dev/null || fail "btvm ended while waiting for /$pattern/"
		kill -USR2 "$btvm_pid"
		sleep 1
		[ -f "$work/screen.txt" ] || continue
		if grep -Eq 'Errors: *[1-9]' "$work/screen.txt"; then
			fail "memtest found errors in the guest's memory"
		fi
		grep -Eq "$pattern" "$work/screen.txt" && return 0
	done
	fail "the screen never showed /$pattern/ in ${timeout}s"
}

wait_screen 'Memtest86\+ v[0-9]+\.[0-9]+' 120
echo "run_memtest: $(grep -Eo 'Memtest86\+ v[0-9.]+' "$work/screen.txt") on the screen"
wait_screen 'Status: Testing' 120
grep -q 'btvm virtual CPU' "$work/screen.txt" || fail "memtest does not name btvm's CPU"
grep -Eq 'Memory *: *128MB' "$work/screen.txt" || fail "memtest did not count 128MB of RAM"
grep -Eq 'L1 Cache: *32KB' "$work/screen.txt" || fail "memtest did not find the 32KB L1 data cache"
grep -Eq 'L2 Cache: *256KB' "$work/screen.txt" || fail "memtest did not find the 256KB L2 cache"
grep -Eq 'L3 Cache: *8MB' "$work/screen.txt" || fail "memtest did not find the 8MB L3 cache"
grep -Eq 'Test #[0-9]+ ' "$work/screen.txt" || fail "no test in progress"
echo "run_memtest: CPU '$(grep -Eo 'btvm virtual CPU[^│]*' "$work/screen.txt" | sed 's/ *$//')'," \
	"$(grep -Eo 'Memory *: *[0-9]+MB' "$work/screen.txt"), L1, L2 and L3 32KB, 256KB and 8MB," \
	"$(grep -Eo 'Test #[0-9]+ *\[[^]]*\]' "$work/screen.txt")"
# Under load the first pass's tests before bit fade take a few minutes
# at worst (about 25 s on an idle host).
wait_screen 'Test #10 ' 480
echo "run_memtest: tests #0-#9 of pass 1 ran with no errors, test #10 started:"
grep -E 'Pass|Test|Time' "$work/screen.txt" | sed 's/^/  /'
kill "$btvm_pid"
wait "$btvm_pid" || true
btvm_pid=
