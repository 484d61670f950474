/* The MultiProcessor Specification 1.4 tables a PC BIOS leaves beside
 * ACPI's: a floating pointer structure and the configuration table it
 * points at, describing the same machine as the MADT (acpi.h): the
 * processors with their local APICs, the ISA bus, the I/O APIC, where
 * each ISA IRQ enters it, and the local APIC's ExtINT and NMI inputs.
 *
 * A kernel looks for the floating pointer before it reads ACPI: Linux
 * scans the first KiB of RAM, the last KiB below 640 KiB, then the BIOS
 * segment 0xF0000-0xFFFFF on 16-byte steps, mapping each step through its
 * early fixmap. Without the structure the scan runs to the end: some
 * 4,000 map and unmap cycles of up to 16 pages each, 0.2 s of a btvm boot
 * (each cycle's page-table writes and INVLPGs cost host mmap calls). With
 * it at 0x9FC00, the start of the EBDA, the scan stops in its second
 * step. With ACPI's MADT present Linux ignores the rest (it has both
 * APICs from the MADT); with acpi=off it sets the machine up from this.
 *
 * Layout of the block, from phys_base (16-byte aligned):
 *   +0x00 floating pointer structure (16 bytes)
 *   +0x10 configuration table: 44-byte header, then the entries
 * The whole block stays within 1 KiB, the EBDA (reserved in the e820 map
 * by both loaders): up to MPTABLE_MAX_CPUS processors. */
#ifndef BTVM_BOOT_MPTABLE_H
#define BTVM_BOOT_MPTABLE_H

#include <stddef.h>
#include <stdint.h>

#include "boot/acpi.h"

/* Where the board puts the block: the start of the EBDA, the second
 * place a kernel looks. */
#define MPTABLE_BASE 0x9fc00u
#define MPTABLE_MAX_LEN 1024u
#define MPTABLE_MAX_CPUS 40u

/* Builds the block for guest physical address phys_base into buf, from the
 * same configuration the ACPI tables are built from; cpu_signature and
 * cpu_features are CPUID leaf 1's EAX and EDX. Returns the length, or a
 * negative errno: -EINVAL for more than MPTABLE_MAX_CPUS processors, an
 * SCI on the timer's or the cascade's line, or a misaligned base; -ENOSPC
 * if buf is too small. */
int mptable_build(uint8_t *buf, size_t cap, uint32_t phys_base, const struct acpi_config *cfg,
		  uint32_t cpu_signature, uint32_t cpu_features);

#endif
