#!/usr/bin/env bash
# Run the nanobenchmarks (after Adams & Agesen, ASPLOS 2006) natively
# (nano-native), under btvm and under QEMU's TCG (nano.elf), and print one
# table: operation x platform, in ns/op and in host cycles/op (ns times the
# host TSC rate that nano-native measures).
#
#	bench/nano/run.sh [--no-qemu] [--build DIR] [--no-build] [--timeout SEC]
#	                  [--verbose]
#
# A guest run that fails (error from btvm or QEMU, a failed self-check, a
# timeout) costs only the operation it was running: the runner starts the
# kernel again with the operations after it. Missing entries print as "-"
# plus a letter whose reason is listed under the table.
#
# Exit status: 0 when every run finished, 1 when any failed (its entries
# say "failed: ..."), 2 on bad usage.
set -u -o pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$(dirname "$here")")
build=$repo/build
use_qemu=1
do_build=1
limit=60
verbose=0

usage() {
	echo "usage: bench/nano/run.sh [--no-qemu] [--build DIR] [--no-build] [--timeout SEC] [--verbose]" >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case $1 in
	--no-qemu) use_qemu=0; shift ;;
	--build) [ $# -ge 2 ] || usage; build=$2; shift 2 ;;
	--no-build) do_build=0; shift ;;
	--timeout) [ $# -ge 2 ] || usage; limit=$2; shift 2 ;;
	--verbose) verbose=1; shift ;;
	-h|--help) sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//; s/^\t//'; exit 0 ;;
	*) echo "run.sh: unknown argument '$1'" >&2; usage ;;
	esac
done
[[ $limit =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: '$limit' is not a positive number" >&2; exit 2; }
build=$(realpath -m "$build")

if [ "$do_build" = 1 ]; then
	if [ ! -f "$build/CMakeCache.txt" ]; then
		cmake -S "$repo" -B "$build" >/dev/null || { echo "run.sh: cmake configure failed" >&2; exit 1; }
	fi
	cmake --build "$build" -j "$(nproc)" --target btvm nano >/dev/null ||
		{ echo "run.sh: build failed (run: cmake --build $build --target btvm nano)" >&2; exit 1; }
fi

btvm=$build/btvm
kernel=$build/bench/nano/nano.elf
native=$build/bench/nano/nano-native
for f in "$btvm" "$kernel" "$native"; do
	[ -f "$f" ] || { echo "run.sh: $f not found (build first, or drop --no-build)" >&2; exit 1; }
done

# The operations, in table order, with their labels. The names are the
# kernel's (nano.c) and nano-native's.
ops=(cli-sti in-61 int80 sysenter rdtsc-user pf-ring0 pf-ring3 hidden touch-warm pte-invlpg pte-invlpg-read cr3 cr3-reload cr0-wp cr4-pge)
declare -A label=(
	[cli-sti]="CLI + STI"
	[in-61]="IN from port 0x61"
	[int80]="syscall: INT 0x80 + IRET"
	[sysenter]="syscall: SYSENTER + SYSEXIT"
	[rdtsc-user]="RDTSC in ring 3"
	[pf-ring0]="page fault, ring 0"
	[pf-ring3]="page fault, ring 3"
	[hidden]="hidden fault (1st touch)"
	[touch-warm]="touch of a mapped page"
	[pte-invlpg]="PTE write + INVLPG"
	[pte-invlpg-read]="PTE write + INVLPG + read"
	[cr3]="CR3 switch + read"
	[cr3-reload]="CR3 reload + 8 touches"
	[cr0-wp]="CR0.WP toggle + 8 touches"
	[cr4-pge]="CR4.PGE toggle + 8 touches"
)

qemu=
if [ "$use_qemu" = 1 ]; then
	qemu=$(command -v qemu-system-i386 || true)
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

declare -A ns=()        # [platform/op] ns per operation
declare -A why=()       # [platform/op] reason the entry is missing
declare -A tsc=()       # [platform] TSC rate in kHz
any_failed=0

# run OUT ERR CMD...: run CMD under the time limit; sets $status.
run() {
	local out=$1 err=$2
	shift 2
	timeout --kill-after=5 "$limit" "$@" < /dev/null > "$out" 2> "$err"
	status=$?
	tr -d '\r' < "$out" > "$out.clean"
	mv "$out.clean" "$out"
}

show_output() {
	local what=$1 out=$2 err=$3
	[ "$verbose" = 1 ] || return 0
	echo "--- $what (status $status)"
	sed 's/^/    out: /' "$out"
	sed 's/^/    err: /' "$err"
}

# parse PLATFORM OUT: record "nano op" and "nano skip" lines.
parse() {
	local p=$1 out=$2 line name
	local -a f
	while IFS= read -r line; do
		read -r -a f <<< "$line"
		case $line in
		"nano op "*)
			# nano op NAME iters N [ticks/op T] ns/op X
			name=${f[2]}
			ns[$p/$name]=${f[${#f[@]}-1]}
			unset "why[$p/$name]" ;;
		"nano skip "*)
			name=${f[2]}
			why[$p/$name]=${line#nano skip "$name" } ;;
		"nano tsc-khz "*|"nano host-tsc-khz "*)
			tsc[$p]=${f[2]} ;;
		"nano warn "*)
			echo "warning: $p: ${line#nano warn }" >> "$tmp/warnings" ;;
		esac
	done < <(grep -a '^nano ' "$out")
}

# --- native
run "$tmp/out" "$tmp/err" "$native"
show_output native "$tmp/out" "$tmp/err"
parse native "$tmp/out"
hypervisor=$(grep -a '^nano hypervisor ' "$tmp/out" | awk '{ print $3 }')
if [ "$status" != 0 ]; then
	any_failed=1
	reason=$(grep -av '^\s*$' "$tmp/err" | head -n 1)
	for o in "${ops[@]}"; do
		[ -n "${ns[native/$o]:-}" ] || [ -n "${why[native/$o]:-}" ] ||
			why[native/$o]="failed: ${reason:-exit status $status}"
	done
fi

# guest PLATFORM: run nano.elf with ops=<remaining>, and again with the
# operations after the one a failed run was in, until all have had a turn.
guest() {
	local p=$1 list last fail_line reason o
	local -a remaining=("${ops[@]}") cmd rest
	while [ ${#remaining[@]} -gt 0 ]; do
		list=$(IFS=,; echo "${remaining[*]}")
		# shellcheck disable=SC2054 # the commas belong to -device
		case $p in
		btvm) cmd=("$btvm" run --kernel "$kernel" --display none --serial stdio -m 64 --net none
			   --append "ops=$list") ;;
		qemu) cmd=("$qemu" -accel tcg -kernel "$kernel" -serial stdio -display none
			   -device isa-debug-exit,iobase=0xf4,iosize=4 -no-reboot -net none -m 64
			   -append "ops=$list") ;;
		esac
		run "$tmp/out" "$tmp/err" "${cmd[@]}"
		show_output "$p ops=$list" "$tmp/out" "$tmp/err"
		parse "$p" "$tmp/out"
		if [ "$status" = 33 ] && grep -aqx 'nano done' "$tmp/out"; then
			for o in "${remaining[@]}"; do
				[ -n "${ns[$p/$o]:-}" ] || [ -n "${why[$p/$o]:-}" ] ||
					why[$p/$o]="not reported by the kernel"
			done
			return
		fi
		any_failed=1
		fail_line=$(grep -a '^nano FAIL ' "$tmp/out" | head -n 1)
		if [ "$status" = 124 ] || [ "$status" = 137 ]; then
			reason="timed out after ${limit}s"
		elif [ -n "$fail_line" ]; then
			reason="kernel: ${fail_line#nano FAIL * }"
		else
			reason=$(grep -av '^\s*$' "$tmp/err" | head -n 1)
			[ -n "$reason" ] || reason="exit status $status"
		fi
		reason="failed: $reason"
		last=$(grep -a '^nano begin ' "$tmp/out" | tail -n 1 | awk '{ print $3 }')
		rest=()
		if [ -z "$last" ]; then
			# Nothing began: the same would happen again.
			for o in "${remaining[@]}"; do
				[ -n "${ns[$p/$o]:-}" ] || why[$p/$o]=$reason
			done
			return
		fi
		why[$p/$last]=$reason
		local seen=0
		for o in "${remaining[@]}"; do
			[ "$seen" = 1 ] && rest+=("$o")
			[ "$o" = "$last" ] && seen=1
		done
		remaining=("${rest[@]}")
	done
}

guest btvm
if [ -n "$qemu" ]; then
	guest qemu
else
	if [ "$use_qemu" = 1 ]; then r="qemu-system-i386 not installed"; else r="--no-qemu"; fi
	for o in "${ops[@]}"; do why[qemu/$o]=$r; done
fi

# --- the table
letters=abcdefghijklmnopqrstuvwxyz

# cell PLATFORM OP KIND: the figure (ns or cycles) or "-x" with a note.
cell() {
	local p=$1 o=$2 kind=$3 v=${ns[$1/$2]:-} r
	if [ -n "$v" ]; then
		if [ "$kind" = ns ]; then
			printf '%.1f' "$v"
		elif [ -n "${tsc[native]:-}" ]; then
			awk -v n="$v" -v k="${tsc[native]}" 'BEGIN { printf "%.0f", n * k / 1e6 }'
		else
			printf -- '-%s' "$(note "no host TSC rate (nano-native failed)")"
		fi
		return
	fi
	r=${why[$p/$o]:-not run}
	printf -- '-%s' "$(note "$p: $r")"
}

# note TEXT: its letter (the notes are gathered in a file, since cell runs
# in a subshell).
note() {
	local t=$1 n
	n=$(grep -nxF -- "$t" "$tmp/notes" 2>/dev/null | head -n 1 | cut -d: -f1)
	if [ -z "$n" ]; then
		echo "$t" >> "$tmp/notes"
		n=$(wc -l < "$tmp/notes")
	fi
	echo "${letters:n-1:1}"
}
: > "$tmp/notes"
touch "$tmp/warnings"

rate() {
	[ -n "${tsc[$1]:-}" ] && awk -v k="${tsc[$1]}" 'BEGIN { printf "%.3f GHz", k / 1e6 }' || echo "-"
}

row() {
	printf '%-28s %9s %9s %9s   %9s %9s %9s\n' "$@"
}
echo "btvm nanobenchmarks: fastest repetition, per operation"
echo "host TSC $(rate native) (nano-native, against CLOCK_MONOTONIC)${hypervisor:+; host under a hypervisor: $hypervisor}"
echo "guest TSC (calibrated against PIT channel 2): btvm $(rate btvm), qemu $(rate qemu)"
echo
printf '%-28s %29s   %29s\n' "" "------------ ns/op ------------" "------- host cycles/op -------"
row operation native btvm qemu native btvm qemu
row --------- ------ ---- ---- ------ ---- ----
for o in "${ops[@]}"; do
	row "${label[$o]}" \
		"$(cell native "$o" ns)" "$(cell btvm "$o" ns)" "$(cell qemu "$o" ns)" \
		"$(cell native "$o" cyc)" "$(cell btvm "$o" cyc)" "$(cell qemu "$o" cyc)"
done
echo
n=0
while IFS= read -r t; do
	echo "  -${letters:n:1}  $t"
	n=$((n + 1))
done < "$tmp/notes"
[ "$n" = 0 ] || echo
if [ -s "$tmp/warnings" ]; then
	cat "$tmp/warnings"
	echo
fi
cat <<'EOF'
native: int80 = getppid through INT 0x80, sysenter = getppid through the
vDSO's __kernel_vsyscall, page fault = first read of each page of fresh
anonymous memory (maps the zero page), touch = read of a page written before.
EOF
exit "$any_failed"
