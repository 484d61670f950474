/* The SMBIOS 2.8 tables a PC BIOS leaves for the OS (DMTF DSP0134): a
 * 32-bit entry point ("_SM_", with its "_DMI_" intermediate part) and the
 * structure table after it, describing the board as btvm's CPUID and RAM
 * make it: BIOS (type 0), system (1), chassis (3), processor (4), the
 * memory array, its one device and the ranges it maps (16, 17, 19), boot
 * status (32) and the end (127), the set SeaBIOS makes for QEMU.
 * SeaBIOS writes its own on a firmware boot; these are for the boots that
 * skip firmware, where Linux would otherwise say "DMI not present or
 * invalid." and leave /sys/class/dmi/id empty.
 *
 * Linux finds the entry point by scanning 0xF0000-0xFFFFF on 16-byte steps
 * (dmi_scan_machine): the block goes at the start of that segment.
 * Layout, from phys_base (16-byte aligned):
 *   +0x00 entry point (31 bytes)
 *   +0x20 structure table */
#ifndef BTVM_BOOT_SMBIOS_H
#define BTVM_BOOT_SMBIOS_H

#include <stddef.h>
#include <stdint.h>

#define SMBIOS_BASE 0xf0000u
#define SMBIOS_MAX_LEN 1024u
#define SMBIOS_ENTRY_LEN 0x1fu
#define SMBIOS_TABLE_OFFSET 0x20u

struct smbios_config {
	uint32_t cpu_signature;   /* CPUID leaf 1 EAX */
	uint32_t cpu_features;    /* CPUID leaf 1 EDX */
	const char *cpu_vendor;   /* CPUID leaf 0's vendor string */
	const char *cpu_brand;    /* CPUID leaves 0x80000002-4 */
	uint32_t cpu_mhz;         /* the TSC's rate, 0 if unknown */
	uint64_t ram_low;         /* bytes of RAM from address 0 */
	uint64_t ram_high;        /* bytes of RAM from 4 GiB */
};

/* Builds the block for guest physical address phys_base into buf. Returns
 * its length, or a negative errno: -EINVAL for a misaligned base or no
 * RAM, -ENOSPC if buf is too small. */
int smbios_build(uint8_t *buf, size_t cap, uint32_t phys_base, const struct smbios_config *cfg);

#endif
