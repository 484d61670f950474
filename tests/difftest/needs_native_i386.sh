#!/usr/bin/env bash
# Runs a test whose reference is the host CPU running i386 code (the
# differential test's native runner), or skips it, visibly, where the host
# runs i386 programs only through an emulator or not at all
# (scripts/host-i386.sh): an emulator is no reference for the CPU, and
# QEMU 7.2's user mode aborts on a POPF that changes IOPL.
#	tests/difftest/needs_native_i386.sh NAME CMD...
#	exits 77 (CTest's skip) or CMD's
set -u
here=$(cd "$(dirname "$0")" && pwd)
name=$1
shift
how=$(bash "$here/../../scripts/host-i386.sh" --check 2>&1)
if [ "$how" != native ]; then
	echo "$name: SKIPPED: this host runs i386 code $([ "$how" = emulated ] && echo 'only through an emulator (binfmt_misc)' || echo 'not at all'), so there is no host CPU to compare btvm with (scripts/host-i386.sh --check: $how)"
	exit 77
fi
exec "$@"
