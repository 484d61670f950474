#!/usr/bin/env bash
# Robustness of --restore: a real snapshot (test_snapshot's) cut short at
# many lengths and with single bits flipped at many offsets (every header,
# the start and end of every section, and a spread through the payloads);
# every run must end with status 1 and exactly one line on stderr, with no
# sanitizer report. Also a missing file, an empty one, a directory, and
# the untouched snapshot itself, which must resume where it was taken.
# Usage: snapshot_corrupt.sh BTVM SNAPSHOT
set -u
btvm=$1
snap=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0
runs=0

# One restore of $1: status 1, one line "btvm: ...", nothing from ASan/UBSan.
refused() {
	local file=$1 what=$2 status
	runs=$((runs + 1))
	timeout 300 "$btvm" run --restore "$file" --display none --serial none \
		</dev/null >"$work/out" 2>"$work/err"
	status=$?
	local lines
	lines=$(wc -l <"$work/err")
	if [ "$status" != 1 ] || [ "$lines" != 1 ] || ! grep -q '^btvm: ' "$work/err" ||
	   grep -qE 'Sanitizer|runtime error' "$work/err"; then
		echo "snapshot_corrupt: $what: status $status, $lines lines:"
		head -20 "$work/err"
		fails=$((fails + 1))
	fi
}

size=$(stat -c %s "$snap")
[ "$size" -gt 1000 ] || { echo "snapshot_corrupt: $snap is too small ($size bytes)"; exit 1; }

# The intact snapshot restores: it was taken after the guest wrote its
# pass status to isa-debug-exit, and the guest resumes at the very next
# instruction, its "not reached" jump to the fail exit (status 35).
timeout 300 "$btvm" run --restore "$snap" --display none --serial none </dev/null 2>"$work/err"
status=$?
if [ "$status" != 35 ] || [ -s "$work/err" ]; then
	echo "snapshot_corrupt: the intact snapshot: status $status (want 35):"
	head -5 "$work/err"
	fails=$((fails + 1))
fi
# Options that would change the machine: usage errors (status 2); those
# that agree with it are fine.
usage() {
	runs=$((runs + 1))
	timeout 300 "$btvm" run --restore "$snap" --display none --serial none "$@" \
		</dev/null >/dev/null 2>"$work/err"
	local status=$?
	if [ "$status" != 2 ] || ! grep -q -- "$want" "$work/err"; then
		echo "snapshot_corrupt: --restore $*: status $status (want 2, '$want'):"
		head -5 "$work/err"
		fails=$((fails + 1))
	fi
}
want="no --kernel" usage --kernel "$snap"
# The snapshot has no disk: a --disk is one too many, naming it.
want="one virtio disk more than the snapshot's 0" usage --disk "$snap"
want="no --cdrom" usage --cdrom "$snap"
want="invalid --start 'later'" usage --start later
want="-S conflicts with --start running" usage --start running -S
want="conflicts with the snapshot's 64 MiB" usage -m 128
want="--net user conflicts" usage --net user
want="--snapshot conflicts" usage --snapshot
timeout 300 "$btvm" run --restore "$snap" --display none --serial none -m 64 --net none --start running \
	</dev/null 2>/dev/null
status=$?
if [ "$status" != 35 ]; then
	echo "snapshot_corrupt: --restore with agreeing -m 64 --net none, --start running: status $status (want 35)"
	fails=$((fails + 1))
fi

refused "$work/none" "a missing file"
: >"$work/empty"
refused "$work/empty" "an empty file"
refused "$work" "a directory"

# Offsets: the file header; of every section (found by walking the
# framing: 40-byte headers, the payload length at +16) its tag, its length
# and its payload's first byte; every field of a header (tag, version,
# flags, payload CRC, lengths, header CRC) and a payload's last byte in
# the first section, the CPU's, the compressed RAM's and END (the header
# is checked by one CRC-guarded reader for all sections alike); and 40
# more spread over the file.
offsets=(0 7 8 12 15)
off=16
while [ $((off + 40)) -le "$size" ]; do
	len=$(od -An -tu8 -j $((off + 16)) -N8 "$snap" | tr -d ' ')
	tag=$(od -An -c -j "$off" -N4 "$snap" | tr -d ' ')
	offsets+=("$off" $((off + 16)))
	[ "$len" -gt 0 ] && offsets+=($((off + 40)))
	if [ "$off" = 16 ] || [ "$tag" = CPU ] || [ "$tag" = MEM ] || [ "$tag" = END ]; then
		offsets+=($((off + 4)) $((off + 8)) $((off + 12)) $((off + 24)) $((off + 32)))
		[ "$len" -gt 0 ] && offsets+=($((off + 40 + len - 1)))
	fi
	off=$((off + 40 + len))
done
for i in $(seq 1 40); do
	offsets+=($((size * i / 41)))
done

for o in "${offsets[@]}"; do
	[ "$o" -lt "$size" ] || continue
	head -c "$o" "$snap" >"$work/cut"
	refused "$work/cut" "cut at $o of $size bytes"
	cp "$snap" "$work/flip"
	byte=$(od -An -tu1 -j "$o" -N1 "$snap" | tr -d ' ')
	bit=$(( 1 << (o % 8) ))
	printf "$(printf '\\%03o' $(( byte ^ bit )))" |
		dd of="$work/flip" bs=1 seek="$o" conv=notrunc status=none
	refused "$work/flip" "bit $((o % 8)) of byte $o flipped"
done
# Bytes appended after END.
cp "$snap" "$work/long"
printf 'x' >>"$work/long"
refused "$work/long" "a byte after the end"

echo "snapshot_corrupt: $runs corrupt snapshots, $fails not refused cleanly"
[ "$fails" = 0 ]
