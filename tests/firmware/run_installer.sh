#!/usr/bin/env bash
# Boots Debian 12's installer as a user would: the installer CD made by
# scripts/make-installer-iso.sh (cached; built from the installed
# debian-installer-12-netboot-i386) in the DVD-ROM drive, a blank 4 GiB
# virtio disk and the user-mode NAT network (the default --net user),
# through SeaBIOS and the disc's GRUB menu to the installer's language
# dialog on the serial console (installer.expect drives it).
# Usage: run_installer.sh BTVM CONSOLE_EXPECT
set -euo pipefail
btvm=$1
expect_bin=$2
here=$(cd "$(dirname "$0")" && pwd)
fail() { echo "run_installer: FAIL: $*"; exit 1; }
iso=$(bash "$here/../../scripts/make-installer-iso.sh" --print) || fail "no installer image (see the line above)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
truncate -s 4G "$work/blank.img"
start=$(date +%s)
"$expect_bin" -t 900 -l "$work/console.log" "$here/installer.expect" "$btvm" run --firmware bios \
	--cdrom "$iso" --disk "$work/blank.img" -m 512 --display none --no-reboot ||
	fail "the installer's language dialog did not appear"
echo "run_installer: GRUB's menu, the installer's language and location dialogs ($(($(date +%s) - start)) s)"
