/* PCI configuration mechanism #1 and the two functions of a minimal PC
 * chipset behind it, so that a guest enumerating PCI finds a sane bus 0:
 *
 *   00:00.0  host bridge modelled on the Intel 82441FX (440FX PMC):
 *            8086:1237, revision 02, class 060000, header type 00
 *   00:01.0  PCI-to-ISA bridge modelled on the Intel 82371SB (PIIX3):
 *            8086:7000, class 060100, header type 80 (multifunction: the
 *            board plugs the PIIX3's IDE function, devices/ide.h, in at
 *            00:01.1; the others are absent)
 *
 * Further functions (the display, virtio devices) are plugged into bus 0
 * with pci_host_add, each a struct pci_function (devices/pci.h) at the
 * devfn it carries; every other device and function on bus 0, and
 * everything on other buses, reads all ones (no device answers the
 * configuration cycle). As on hardware, Linux looks at functions 1-7 of a
 * device only when function 0 is there with the multifunction bit.
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
 * then reads vendor/device, header type, class, sizes the BARs (the
 * chipset's read 0 and ignore writes; a plugged function's answer as
 * devices/pci.h says), the expansion ROM BAR (none), the capability list
 * and the interrupt pin. Linux applies its quirks for the two chipset IDs,
 * as on any 440FX machine.
 *
 * Config space is 256 bytes per function, with the register semantics of
 * devices/pci.h. For the two chipset functions: vendor, device, revision,
 * class, header type and the other identification fields are read-only;
 * the command register keeps the bits a PCI 2.1 function of this kind
 * implements (I/O, memory, bus master, parity response, SERR#), though
 * nothing in btvm gates on them; the status register's error bits are
 * write-1-to-clear and the rest read-only; the interrupt line register is
 * writable; BARs, the ROM BAR and the capability pointer read 0. Of the
 * chipset-specific registers the PIIX3's PIRQ route control (0x60-0x63:
 * bit 7 disables the route, bits 3-0 the ISA IRQ; default 0x80), the
 * 82441FX's PAM registers (below) and the PIIX3's reset control at 0xcf9
 * are modelled; the others (SMRAM...) read 0 and ignore writes, because
 * btvm has no SMM to control.
 *
 * PAM (Programmable Attribute Map, 0x59-0x5f, 0 at reset): PAM0's high
 * nibble is 0xF0000-0xFFFFF, then each nibble of PAM1-PAM6 a 16 KiB
 * segment of 0xC0000-0xEFFFF, the low nibble the lower one; in a nibble
 * bit 0 is RE (reads from DRAM) and bit 1 WE (writes to DRAM), the others
 * reserved (read 0). With WE clear the 82441FX forwards writes to PCI,
 * where the ROM ignores them: pci_host_pam_write_locked says which pages
 * that is, and pam_changed tells the board each time a PAM register is
 * written. RE is stored only: the BIOS area's RAM holds the ROM's image
 * (docs/DESIGN.md, "Firmware"), so a read from DRAM and one from the ROM
 * give the same bytes until the area is written.
 *
 * PCI interrupts: pin INTx of device slot S drives PIRQ line
 * pci_host_pirq(S, pin) (the 440FX board wiring QEMU and SeaBIOS use: slot 1
 * INTA on PIRQA, slot 2 INTA on PIRQB, ...); a PIRQ line is asserted while
 * any function on it drives its INTx (wired-OR), and the PIIX3 steers it
 * to the ISA IRQ its route control register names, when enabled and a
 * valid IRQ (3-7, 9-12, 14, 15; 0, 1, 2, 8 and 13 are reserved). The
 * result leaves through set_isa_irq, once per change of an ISA IRQ's
 * level: 1 while some routed PIRQ is asserted. That is logical, not
 * electrical; the board knows which controller input is active low.
 *
 * There is no locking: the caller serializes register accesses. */
#ifndef BTVM_DEVICES_PCI_HOST_H
#define BTVM_DEVICES_PCI_HOST_H

#include <stdint.h>

#include "devices/bus.h"
#include "devices/pci.h"

#define PCI_CONFIG_ADDRESS_PORT 0xcf8
#define PCI_CONFIG_DATA_PORT 0xcfc
#define PCI_CONFIG_ENABLE 0x80000000u

#define PCI_HOST_BRIDGE_DEVFN 0x00	/* 00:00.0 */
#define PCI_ISA_BRIDGE_DEVFN 0x08	/* 00:01.0 */
#define PCI_HOST_FUNCTIONS 2
#define PCI_DEVFNS 256
#define PCI_PIRQS 4			/* PIRQA-D */
#define PCI_PIIX_PIRQ_ROUTE 0x60	/* the ISA bridge's route control, one byte per PIRQ */
#define PCI_I440FX_PAM0 0x59		/* the host bridge's first of 7 PAM registers */
#define PCI_I440FX_PAMS 7
#define PCI_PIIX_PIRQ_DISABLED 0x80
/* The ISA IRQs a PIRQ may be steered to, one bit each: not 0, 1, 2, 8, 13. */
#define PCI_PIIX_PIRQ_VALID_IRQS 0xdef8u

struct pci_host {
	uint32_t address;	/* CONFIG_ADDRESS, reserved bits clear */
	struct pci_function fn[PCI_HOST_FUNCTIONS];	/* host bridge, ISA bridge */
	struct pci_function *slot[PCI_DEVFNS];	/* what answers at each devfn of bus 0 */
	uint16_t isa_levels;	/* ISA IRQs driven by PCI, as last reported */
	/* Where routed PCI interrupts come out (see above); set by the board
	 * after pci_host_init, may stay NULL. */
	void (*set_isa_irq)(void *opaque, unsigned irq, int level);
	void *irq_opaque;
	/* The PIIX3's reset control register at 0xcf9: a write with RST_CPU
	 * (bit 2) resets the PC (SYS_RST, bit 1, hard or soft: both the
	 * same here); the other bits read back as written. */
	void (*reset_request)(void *opaque);
	uint8_t reset_control;
	/* A PAM register was written (irq_opaque): the board applies
	 * pci_host_pam_write_locked. May stay NULL. */
	void (*pam_changed)(void *opaque);
};

static inline unsigned pci_host_devfn(unsigned device, unsigned function)
{
	return (device & 0x1f) << 3 | (function & 7);
}

/* The PIRQ line (0-3 for PIRQA-D) that pin (PCI_PIN_INTA to _INTD) of
 * device slot drives. */
static inline unsigned pci_host_pirq(unsigned slot, enum pci_pin pin)
{
	return (slot + (unsigned)pin - 2) & 3;
}

/* Power-on state: CONFIG_ADDRESS 0, both chipset functions at their
 * defaults (every PIRQ route disabled), nothing else plugged in, no ISA
 * IRQ driven, set_isa_irq NULL. */
void pci_host_init(struct pci_host *pci);
/* A machine reset: CONFIG_ADDRESS 0, the chipset functions at their
 * defaults, and pci_function_reset on every plugged function (BARs
 * reported unmapped, INTx requests withdrawn); the functions stay plugged
 * and set_isa_irq stays. ISA IRQs PCI was driving are released. */
void pci_host_reset(struct pci_host *pci);
/* Plugs fn into bus 0 at fn->devfn and wires its INTx to the PIRQ lines
 * (fn->intx is overwritten). fn must stay valid while plugged and be set
 * up (pci_function_init) first. Returns 0, or -EEXIST when the devfn
 * already answers. */
int pci_host_add(struct pci_host *pci, struct pci_function *fn);
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

/* The pages of 0xC0000-0xFFFFF whose writes the PAM registers drop (WE
 * clear): bit n for the 4 KiB page at 0xC0000 + n * 4 KiB. */
uint64_t pci_host_pam_write_locked(const struct pci_host *pci);

struct snap_writer;
struct snap_reader;
/* Snapshots (host/snapfile.h): section "PCI ", CONFIG_ADDRESS, the
 * chipset's two functions, the routed levels and (version 2; a version 1
 * section loads it as 0) the reset control register (plugged functions are
 * saved by their devices). */
void pci_host_save(const struct pci_host *pci, struct snap_writer *w);
int pci_host_load(struct pci_host *pci, struct snap_reader *r);

#endif
