#!/usr/bin/env bash
# Sets everything up and boots the default guest on this terminal: Debian
# 12's own i386 Linux kernel with a busybox initramfs (fetched once by
# scripts/fetch-guest.sh into the user's cache), to a shell on the serial
# console. poweroff -f in the guest ends btvm. Extra arguments go to
# 'btvm run' (e.g. --stats, -m 512).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
paths=$(bash scripts/fetch-guest.sh --print)
kernel=$(sed -n 1p <<<"$paths")
initrd=$(sed -n 2p <<<"$paths")
exec build/btvm run --kernel "$kernel" --initrd "$initrd" --append "console=ttyS0" "$@"
