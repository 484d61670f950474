/* PCI configuration mechanism #1 and the two functions of a minimal PC
 * chipset behind it, so that a guest enumerating PCI finds a sane bus 0:
 *
 *   00:00.0  host bridge modelled on the Intel 82441FX (440FX PMC):
 *            8086:1237, revision 02, class 060000, header type 00
 *   00:01.0  PCI-to-ISA bridge modelled on the Intel 82371SB (PIIX3):
 *            8086:7000, class 060100, header type 80 (multifunction; its
 *            functions 1-7 are absent)
 *
 * Every other device and function on bus 0, and everything on other
 * buses, reads all ones (no device answers the configuration cycle).
 *
 * Ports: 0xcf8 is CONFIG_ADDRESS and only takes dword accesses (bit 31
 * enable, bits 23-16 bus, 15-11 device, 10-8 function, 7-2 register; the
 * reserved bits read back 0). Narrower accesses to 0xcf8-0xcfb are not the
 * address register: they read all ones and writes go nowhere, which is also
 * how btvm says that mechanism #2 is not there. 0xcfc-0xcff is
 * CONFIG_DATA, a window on the dword CONFIG_ADDRESS selects, taking byte,
 * word and dword accesses at any offset that stays inside it. With bit 31
 * clear the data window reads all ones and ignores writes.
 *
 * How Linux (arch/x86/pci/direct.c) finds it: pci_check_type1 writes byte
 * 0x01 to 0xcfb, saves the dword at 0xcf8, writes 0x80000000 there and
 * wants it back unchanged; then pci_sanity_check (run because btvm has no
 * DMI table dating the BIOS after 2000) walks bus 0 reading each
 * function's 16-bit class at 0x0a and stops at a host bridge (0x0600) or
 * VGA, or at vendor Intel or Compaq: 00:00.0 satisfies it at once. The
 * type 2 probe that would follow a failure wants byte reads of 0xcf8 and
 * 0xcfa to return what it wrote, which they never do here. The bus scan
 * then reads vendor/device, header type, class, sizes the BARs (none:
 * they read 0 and ignore writes), the expansion ROM BAR (none) and the
 * interrupt pin (none). Linux applies its quirks for these two IDs, as on
 * any 440FX machine.
 *
 * Config space is 256 bytes per function. Vendor, device, revision,
 * class, header type and the other identification fields are read-only;
 * the command register keeps the bits a PCI 2.1 function of this kind
 * implements (I/O, memory, bus master, parity response, SERR#), though
 * nothing in btvm gates on them; the status register's error bits are
 * write-1-to-clear and the rest read-only; the interrupt line register is
 * writable; BARs, the ROM BAR and the capability pointer read 0. Of the
 * chipset-specific registers only the PIIX3's PIRQ route control
 * (0x60-0x63: bit 7 disables the route, bits 3-0 the ISA IRQ; default
 * 0x80) is modelled, so that an OS routing PCI interrupts itself sees the
 * registers take its writes; the others (PAM, SMRAM, the 0xcf9 reset
 * control...) read 0 and ignore writes, because btvm has no shadow ROM,
 * SMM or chipset reset to control.
 *
 * There is no locking: the caller serializes register accesses. */
#ifndef BTVM_DEVICES_PCI_HOST_H
#define BTVM_DEVICES_PCI_HOST_H

#include <stdint.h>

#include "devices/bus.h"

#define PCI_CONFIG_ADDRESS_PORT 0xcf8
#define PCI_CONFIG_DATA_PORT 0xcfc
#define PCI_CONFIG_SPACE_SIZE 256
#define PCI_CONFIG_ENABLE 0x80000000u

#define PCI_HOST_BRIDGE_DEVFN 0x00	/* 00:00.0 */
#define PCI_ISA_BRIDGE_DEVFN 0x08	/* 00:01.0 */
#define PCI_HOST_FUNCTIONS 2

/* One function's configuration space. Each write changes only the bits
 * set in wmask, and clears the bits set in w1cmask that it writes as 1. */
struct pci_function {
	uint8_t devfn;
	uint8_t config[PCI_CONFIG_SPACE_SIZE];
	uint8_t wmask[PCI_CONFIG_SPACE_SIZE];
	uint8_t w1cmask[PCI_CONFIG_SPACE_SIZE];
};

struct pci_host {
	uint32_t address;	/* CONFIG_ADDRESS, reserved bits clear */
	struct pci_function fn[PCI_HOST_FUNCTIONS];
};

static inline unsigned pci_devfn(unsigned device, unsigned function)
{
	return (device & 0x1f) << 3 | (function & 7);
}

/* Power-on state: CONFIG_ADDRESS 0, both functions at their defaults. */
void pci_host_init(struct pci_host *pci);
/* Claims 0xcf8-0xcfb and 0xcfc-0xcff. */
int pci_host_attach(struct pci_host *pci, struct bus *bus);
/* Configuration cycles without the ports, for the board and for later
 * mechanisms: width 1, 2 or 4 bytes starting at reg, which must not cross
 * the end of the 256 bytes. Reads of absent functions give all ones and
 * writes to them are dropped. */
uint32_t pci_host_config_read(const struct pci_host *pci, unsigned bus, unsigned devfn,
			      unsigned reg, unsigned width);
void pci_host_config_write(struct pci_host *pci, unsigned bus, unsigned devfn, unsigned reg,
			   unsigned width, uint32_t value);

#endif
