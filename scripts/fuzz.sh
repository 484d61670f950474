#!/usr/bin/env bash
# Fuzzes one target of tests/fuzz/ with libFuzzer for a given time:
#
#   scripts/fuzz.sh TARGET SECONDS [JOBS]
#
# TARGET is bzimage, multiboot, devices, translator, virtio or storage
# (tests/fuzz/README.md).
# Builds build-fuzz/ (clang, -DBTVM_FUZZ=ON) when needed, then runs the target:
# with one job (the default) in-process, which is fastest and stops at the
# first crash; with more, in libFuzzer's fork mode with JOBS worker
# processes, which goes on after a crash and collects them all. The corpus
# grows in build-fuzz/tests/fuzz/work/TARGET/corpus (seeded from the
# generated seeds and tests/fuzz/regress/TARGET/); crashing inputs land in
# .../artifacts/.
# Prints at the end: executions, coverage (cov, ft), corpus size, and the
# crashes, timeouts and out-of-memory inputs found, with how to replay and
# keep each one. Exits 1 when something was found, 0 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

targets=(bzimage multiboot devices translator virtio storage)
usage() {
	echo "usage: scripts/fuzz.sh TARGET SECONDS [JOBS]   (TARGET: ${targets[*]})" >&2
	exit 2
}
if [ $# -lt 2 ] || [ $# -gt 3 ]; then usage; fi
target=$1 seconds=$2 jobs=${3:-1}
case " ${targets[*]} " in *" $target "*) ;; *) usage ;; esac
[[ $seconds =~ ^[1-9][0-9]*$ ]] || usage
[[ $jobs =~ ^[1-9][0-9]*$ ]] || usage

build="build-fuzz"
if ! command -v clang >/dev/null; then
	echo "fuzz.sh: clang is not installed (Debian 12: apt-get install clang libclang-rt-14-dev)" >&2
	exit 1
fi
if ! grep -qs '^BTVM_FUZZ:BOOL=ON' "$build/CMakeCache.txt"; then
	cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DBTVM_FUZZ=ON \
		-DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$build" -j"$(nproc 2>/dev/null || echo 2)" --target "fuzz_$target" >/dev/null

dir=$build/tests/fuzz
work=$dir/work/$target
mkdir -p "$work/corpus" "$work/artifacts"
log=$work/fuzz.log
before=$(ls "$work/artifacts")

echo "fuzz.sh: $target for $seconds s with $jobs job(s); log in $log"
# One job fuzzes in-process (the fastest; it stops at the first crash);
# more use fork mode, which goes on after a crash and collects them all.
mode=()
[ "$jobs" -gt 1 ] && mode=(-fork="$jobs" -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
status=0
"$dir/fuzz_$target" "${mode[@]}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
	-print_final_stats=1 -artifact_prefix="$work/artifacts/" \
	"$work/corpus" "$dir/seeds/$target" "tests/fuzz/regress/$target" >"$log" 2>&1 || status=$?

# The last status line, in-process ("#EXECS<tab>pulse  cov: C ft: F corp:
# N/SIZE ...") or in fork mode ("#EXECS: cov: C ft: F corp: N ...").
last=$(grep -E '^#[0-9]+:?[[:space:]]+([a-zA-Z]+[[:space:]]+)?cov:' "$log" | tail -n 1 || true)
if [ -z "$last" ]; then
	echo "fuzz.sh: libFuzzer reported no progress (exit status $status); the end of $log:" >&2
	tail -n 20 "$log" >&2
	exit 1
fi
field() { sed -E "s|.*[ #]$1: ([0-9]+).*|\\1|" <<<"$last"; }
execs=$(sed -E 's/^#([0-9]+).*/\1/' <<<"$last")
new=$(comm -13 <(echo "$before") <(ls "$work/artifacts") | sed '/^$/d' || true)
count() { grep -cE "^($1)-" <<<"$new" || true; }
crashes=$(count 'crash|leak')
timeouts=$(count timeout)
ooms=$(count oom)
echo "target:     $target"
echo "seconds:    $seconds"
echo "jobs:       $jobs"
echo "executions: $execs"
echo "cov:        $(field cov)"
echo "ft:         $(field ft)"
echo "corpus:     $(field corp) inputs"
echo "crashes:    $crashes (timeouts $timeouts, out of memory $ooms)"
if [ -n "$new" ]; then
	echo "new inputs in $work/artifacts/:"
	while read -r f; do
		echo "  $f"
	done <<<"$new"
	echo "replay one:  $dir/fuzz_$target $work/artifacts/FILE"
	echo "keep it:     cp $work/artifacts/FILE tests/fuzz/regress/$target/NAME"
	exit 1
fi
if [ "$status" -ne 0 ]; then
	echo "fuzz.sh: libFuzzer ended with status $status; the end of $log:" >&2
	tail -n 20 "$log" >&2
	exit 1
fi
exit 0
