# shellcheck shell=bash
# A private apt state for downloading Debian 12's i386 packages without
# touching the host's apt configuration, lists or dpkg architectures.
# Sourced by scripts/fetch-guest.sh and bench/smp/toolchain.sh, which set
# mirror, security_mirror and keyring first.
#
#	apt_private_setup DIR STATUS LOG [--src]
#
# makes the state under DIR (its lists, its cache of .debs under
# DIR/archives), with STATUS as dpkg's status file (an empty one: nothing
# installed; another system's: what that system lacks is downloaded) and
# LOG emptied; sources for bookworm, bookworm-updates and
# bookworm-security main, and with --src their deb-src lines as well.
# Sets opts (apt-get's options) and log (LOG).
apt_private_setup() {
	local apt=$1 status=$2 src=0
	log=$3
	[ "${4:-}" = --src ] && src=1
	mkdir -p "$apt/lists/partial" "$apt/archives/partial" "$apt/sources.list.d" "$apt/preferences.d"
	local suite kind
	# The sourcing script's settings.
	: "${mirror:?}" "${security_mirror:?}" "${keyring:?}"
	: >"$apt/sources.list"
	for kind in deb deb-src; do
		[ "$kind" = deb-src ] && [ "$src" = 0 ] && continue
		for suite in "$mirror bookworm" "$mirror bookworm-updates" "$security_mirror bookworm-security"; do
			echo "$kind [arch=i386 signed-by=$keyring] $suite main" >>"$apt/sources.list"
		done
	done
	opts=(
		-o Dir::State="$apt" -o Dir::State::Lists="$apt/lists"
		-o Dir::State::status="$status" -o Dir::State::extended_states="$apt/extended_states"
		-o Dir::Cache="$apt" -o Dir::Cache::archives="$apt/archives"
		-o Dir::Etc::SourceList="$apt/sources.list" -o Dir::Etc::SourceParts="$apt/sources.list.d"
		-o Dir::Etc::Preferences="$apt/preferences" -o Dir::Etc::PreferencesParts="$apt/preferences.d"
		-o APT::Architecture=i386 -o APT::Architectures::=i386
		-o Acquire::Languages=none -o Debug::NoLocking=true
	)
	# apt drops to the _apt user to download, which cannot write into a
	# cache under root's home.
	[ "$(id -u)" = 0 ] && opts+=(-o APT::Sandbox::User=root)
	: >"$log"
}
