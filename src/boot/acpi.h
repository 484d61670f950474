/* The ACPI tables a BIOS would leave for the OS: built into a buffer that
 * the board copies into guest memory, for a kernel booted directly (no
 * firmware) to find the interrupt controllers in the MADT and the fixed
 * power-management hardware of devices/acpi_pm.h in the FADT, and to power
 * off through \_S5 in the DSDT.
 *
 * The tables follow ACPI 3.0: an RSDP of revision 2 that points at both an
 * RSDT and an XSDT (holding the same two tables), a FADT of revision 4
 * whose 32-bit and extended (X_) fields agree, a FACS, a MADT and a DSDT
 * holding \_S5 and the PCI root bridge \_SB.PCI0 (bus 0, whose devices
 * Linux enumerates only because the DSDT declares the bus). Linux 6.1 takes the XSDT and the X_ fields;
 * an OS of the ACPI 1.0 era reads the RSDT and the 32-bit fields and sees
 * the same machine.
 *
 * Layout of the block, from phys_base (which must be 64-byte aligned),
 * every table starting on a 16-byte boundary:
 *   +0x000 RSDP (36 bytes) - first, so a scan of 0xE0000-0xFFFFF on
 *          16-byte boundaries finds it when the block sits at 0xE0000
 *   +0x040 FACS (64 bytes, 64-byte aligned as the FACS must be)
 *   +0x080 RSDT, then XSDT, FADT, MADT and DSDT, each rounded up to 16
 *          bytes; the whole block is under 1 KiB for one CPU and never
 *          more than ACPI_TABLES_MAX_LEN.
 * The memory it lands in must be reserved in the e820 map (0xE0000 to
 * 0xFFFFF is, on a PC) so the OS does not reuse it before it has parsed
 * the tables. */
#ifndef BTVM_BOOT_ACPI_H
#define BTVM_BOOT_ACPI_H

#include <stddef.h>
#include <stdint.h>

/* Where a PC BIOS keeps its tables, and where the board copies the block. */
#define ACPI_TABLES_BASE 0xe0000u
#define ACPI_TABLES_MAX_LEN 4096u
#define ACPI_MAX_CPUS 64u

#define ACPI_LAPIC_DEFAULT_ADDR 0xfee00000u
#define ACPI_IOAPIC_DEFAULT_ADDR 0xfec00000u
#define ACPI_HPET_DEFAULT_ADDR 0xfed00000u
#define ACPI_CMOS_CENTURY_INDEX 0x32u
/* The PCI memory window when RAM ends at 3 GiB or below; it stops short of
 * btvm's test device at 0xFEBF0000 and the APICs above it. */
#define ACPI_PCI_MEM_DEFAULT_START 0xc0000000u
#define ACPI_PCI_MEM_DEFAULT_END 0xfebeffffu

/* FADT IAPC_BOOT_ARCH bits. */
#define ACPI_BOOT_ARCH_LEGACY_DEVICES 0x0001u	/* ISA devices the OS cannot enumerate */
#define ACPI_BOOT_ARCH_8042 0x0002u		/* keyboard controller at 0x60/0x64 */
#define ACPI_BOOT_ARCH_NO_VGA 0x0004u		/* do not probe VGA */

struct acpi_config {
	unsigned cpus;			/* 1..ACPI_MAX_CPUS; ACPI id = APIC id = 0..cpus-1 */
	uint32_t lapic_addr;
	uint8_t ioapic_id;
	uint32_t ioapic_addr;
	uint32_t ioapic_gsi_base;	/* ISA IRQ n is GSI base + n (IRQ 0: base + 2) */
	uint16_t pm1a_evt_port;		/* 4 bytes: status, then enable */
	uint16_t pm1a_cnt_port;		/* 2 bytes */
	uint16_t pm_tmr_port;		/* 4 bytes, 24-bit counter */
	uint8_t sci_irq;		/* ISA IRQ; overridden to level, active high */
	/* Reset register in I/O space, written with reset_value by an OS that
	 * reboots through ACPI; 0 leaves it out (RESET_REG_SUP clear). */
	uint16_t reset_port;
	uint8_t reset_value;
	uint8_t century_index;		/* CMOS index of the century byte; 0 for none */
	uint16_t boot_arch;		/* ACPI_BOOT_ARCH_* */
	/* Memory the PCI root bridge forwards to the bus besides the VGA
	 * window, inclusive: from the top of RAM up to the first fixed MMIO
	 * that is not PCI's. At or above 1 MiB, and not covering the APICs. */
	uint32_t pci_mem_start;
	uint32_t pci_mem_end;
	/* The HPET's registers (devices/hpet.h), described by an HPET table
	 * with the event timer block ID it reads there; 0: no HPET, no
	 * table. */
	uint32_t hpet_addr;
	uint32_t hpet_block_id;
	uint16_t hpet_min_tick;		/* least periodic interval, in counter ticks */
};

/* The PC defaults: one CPU, the local APIC and I/O APIC (id 0, GSI base
 * 0) at their usual addresses, the ports of devices/acpi_pm.h with SCI on
 * IRQ 9, no reset register, century at CMOS 0x32, IAPC_BOOT_ARCH
 * saying legacy devices and an 8042 are present, and the PCI memory
 * window ACPI_PCI_MEM_DEFAULT_START to ACPI_PCI_MEM_DEFAULT_END. */
void acpi_config_default(struct acpi_config *cfg);

/* Builds the tables into buf as they must appear at guest physical
 * address phys_base. Returns the bytes used (the rest of buf is
 * untouched) and stores the RSDP's physical address in *rsdp_phys, or
 * returns -EINVAL for a bad configuration or a phys_base that is not
 * 64-byte aligned or leaves no room below 4 GiB, -ENOSPC if buf is too
 * small. */
int acpi_build(uint8_t *buf, size_t buf_len, uint32_t phys_base, const struct acpi_config *cfg,
	       uint32_t *rsdp_phys);

#endif
