/* What a PC BIOS does to PCI before the OS runs (SeaBIOS's pciinit), for
 * guests that btvm starts without one: every BAR of every plugged function
 * gets an address, I/O and memory decoding are enabled, the PIIX3 steers
 * PIRQA-D to ISA IRQs, and each function with an interrupt pin has its
 * interrupt line register set to the ISA IRQ that pin reaches, and the
 * few functions SeaBIOS sets up by ID get the same (the PIIX3/PIIX4 IDE:
 * both channels' decode enable bits in the timing registers 0x40 and
 * 0x42, 0x8000 each). The board runs it after every reset, as the BIOS
 * would run again.
 *
 * Why the guest needs it: Linux keeps a BAR assignment it can claim (one
 * inside a window of the root bridge's _CRS that overlaps nothing) and
 * only assigns BARs itself when that fails; and with ACPI but no _PRT
 * entry for a device, it takes the interrupt line register as the ISA IRQ
 * (drivers/acpi/pci_irq.c, "no GSI - using ISA IRQ n").
 *
 * Placement: memory BARs (prefetchable or not) from mem_start, I/O BARs
 * from io_start, each naturally aligned (to its size), largest first so
 * that no space is lost to alignment, ties by devfn then BAR number, so the
 * layout depends only on what is plugged in. The chipset's own functions
 * (pci_host.fn) are left as they are. */
#ifndef BTVM_BOOT_PCI_FIRMWARE_H
#define BTVM_BOOT_PCI_FIRMWARE_H

#include <stdint.h>

#include "devices/pci_host.h"

/* Below the ACPI _CRS memory window's end (boot/acpi.h), inside it for
 * every RAM size btvm takes (the window starts at most at 3 GiB). */
#define PCI_FIRMWARE_MEM_START 0xe0000000u
/* I/O BARs where SeaBIOS puts them, clear of every ISA port. */
#define PCI_FIRMWARE_IO_START 0xc000u
#define PCI_FIRMWARE_IO_END 0xffffu

struct pci_firmware_config {
	uint32_t mem_start, mem_end;	/* inclusive bounds for memory BARs */
	uint32_t io_start, io_end;	/* inclusive bounds for I/O BARs, below 64 KiB */
	/* The ISA IRQ each PIRQ line is steered to (3-7, 9-12, 14, 15). */
	uint8_t pirq_irq[PCI_PIRQS];
};

/* Memory PCI_FIRMWARE_MEM_START to ACPI_PCI_MEM_DEFAULT_END, I/O
 * PCI_FIRMWARE_IO_START to _END, and SeaBIOS's PIRQ routing on a 440FX:
 * PIRQA and B to IRQ 10, C and D to IRQ 11. */
void pci_firmware_config_default(struct pci_firmware_config *cfg);

/* Assigns and enables as above. Returns 0, -EINVAL for a bad
 * configuration (bounds, PIRQ IRQs), or -ENOSPC when the BARs do not fit
 * the windows; on an error nothing is written. */
int pci_firmware_setup(struct pci_host *pci, const struct pci_firmware_config *cfg);

#endif
