#!/usr/bin/env bash
# Sets everything up and boots the default guest: a Debian 12 i386 system
# (systemd, Debian's own kernel and initramfs) from its own disk, on the
# serial console (this terminal) and, on a desktop, in a window, root
# logged in on both, with a network (user-mode NAT). The disk is ~/.cache/btvm/debian.img: made once from
# the image scripts/make-debian-image.sh builds and caches (debootstrap;
# the first run downloads about 165 MB and takes a few minutes), then
# kept, so what the guest writes is there at the next boot (delete the
# file to start again). `poweroff` in the guest, or closing the window
# twice, ends btvm. Extra arguments go to 'btvm run' (e.g. --stats,
# -m 1024, --display none, --snapshot).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cache=${XDG_CACHE_HOME:-${HOME:-$(cd ~ && pwd)}/.cache}/btvm
paths=$(bash scripts/make-debian-image.sh --print --copy "$cache/debian.img")
disk=$(sed -n 1p <<<"$paths")
# The kernel's messages on the window's console too; /dev/console (the
# last) stays the serial port.
exec build/btvm run --disk "$disk" -m 1024 --net user --append "console=tty0 console=ttyS0" "$@"
