#!/usr/bin/env bash
# Sets everything up and boots the default guest on this terminal: Debian
# 12's own i386 Linux kernel with a busybox initramfs (fetched once by
# scripts/fetch-guest.sh into the user's cache), to a shell on the serial
# console and, on a desktop, in a window (the VGA: kernel messages and a
# shell on tty1). poweroff -f in the guest ends btvm. Extra arguments go to
# 'btvm run' (e.g. --stats, -m 512, --display none).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
paths=$(bash scripts/fetch-guest.sh --print)
kernel=$(sed -n 1p <<<"$paths")
initrd=$(sed -n 2p <<<"$paths")
exec build/btvm run --kernel "$kernel" --initrd "$initrd" --append "console=tty0 console=ttyS0" "$@"
