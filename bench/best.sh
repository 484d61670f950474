# shellcheck shell=bash disable=SC2154,SC2004 # (val, sum and tmp are the caller's arrays and directory)
# Sourced by bench/linux/run.sh and bench/touch/run.sh: the best-of-N
# bookkeeping of their tables. The caller declares the associative arrays
# val and sum (`declare -A val sum`) and sets tmp (a directory holding
# the file failures, which it empties first).

# fail KIND NAME REASON: the cell says FAILED and the reason is kept.
fail() {
	val[$1,$2]=FAILED
	echo "--- $2 under $1: $3" >> "$tmp/failures"
}

# record KIND NAME VALUE CHECKSUM: keep the smaller figure; a checksum must
# not change between runs.
record() {
	local k=$1 n=$2 v=$3 s=$4
	[ "${val[$k,$n]-}" = FAILED ] && return
	if [ -n "${sum[$k,$n]-}" ] && [ "${sum[$k,$n]}" != "$s" ]; then
		fail "$k" "$n" "checksum changed between runs (${sum[$k,$n]}, then $s)"
		return
	fi
	sum[$k,$n]=$s
	if [ -z "${val[$k,$n]-}" ] || awk -v a="$v" -v b="${val[$k,$n]}" 'BEGIN { exit !(a < b) }'; then
		val[$k,$n]=$v
	fi
}
