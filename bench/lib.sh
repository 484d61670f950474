# Sourced by the boot-driven benchmarks (bench/disk/run.sh,
# bench/net/run.sh, bench/firmware/debian.sh): the console time stamps
# and the figures' formatting they share.

# stamp_console: each line of stdin with the host time of its arrival in
# front and an L; a line still incomplete after 50 ms (a shell prompt, or
# SeaBIOS's sercon drawing GRUB's menu with cursor moves and no newline)
# also as a P record of what has come so far. CRs are dropped.
stamp_console() {
	local part line=
	while :; do
		IFS= read -r -t 0.05 part
		case $? in
		0)
			line+=$part
			printf '%s L %s\n' "$EPOCHREALTIME" "${line//$'\r'/}"
			line= ;;
		1)
			line+=$part
			[ -z "$line" ] || printf '%s L %s\n' "$EPOCHREALTIME" "${line//$'\r'/}"
			return ;;
		*)
			[ -z "$part" ] && continue
			line+=$part
			printf '%s P %s\n' "$EPOCHREALTIME" "${line//$'\r'/}" ;;
		esac
	done
}

# diff_s A B: B - A in seconds, to the millisecond.
diff_s() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# fmt V [DIGITS]: a number with DIGITS decimals (2 by default), '-' for
# anything else.
fmt() { [[ ${1-} =~ ^[0-9.]+$ ]] && printf "%.${2:-2}f" "$1" || echo "${1:--}"; }

# ratio A B: A/B of two figures, '-' unless both are numbers.
ratio() {
	[[ $1 =~ ^[0-9.]+$ && $2 =~ ^[0-9.]+$ ]] || { echo -; return; }
	awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'
}
