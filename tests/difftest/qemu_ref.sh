#!/usr/bin/env bash
# A stand-in for dt-native that takes QEMU's system emulator (TCG) as the
# reference instead of the host CPU: it runs the batch in the guest runner
# under qemu-system-i386 and prints its results, so that difftest compares
# btvm with QEMU on the same sequences (run.sh --vs-qemu). QEMU is no exact
# CPU either (see run.sh), but this needs no i386-capable host.
#	DT_GUEST_ELF=dt-guest.elf [DT_QEMU=qemu-system-i386] qemu_ref.sh BATCH [START]
set -eu
: "${DT_GUEST_ELF:?set DT_GUEST_ELF to the guest runner}"
exec "${DT_QEMU:-qemu-system-i386}" -display none -serial stdio -monitor none \
	-device isa-debug-exit,iobase=0xf4,iosize=4 -m 64 -cpu max -no-reboot \
	-kernel "$DT_GUEST_ELF" -initrd "$1" -append "start=${2:-0}"
