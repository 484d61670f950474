/* Configuration mechanism #1 (the 0xcf8 address latch and the 0xcfc data
 * window), the table of functions on bus 0 and the dispatch of
 * configuration cycles to them, the default contents of the 440FX host
 * bridge and the PIIX3 ISA bridge, and PCI interrupt routing through the
 * PIIX3's PIRQ registers. See pci_host.h for what is modelled. */
#include "devices/pci_host.h"
#include "host/snapfile.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

/* The chipset functions' command bits: those of a PCI 2.1 function, which
 * has no INTx disable (that came with PCI 2.3). */
#define CHIPSET_COMMAND_WRITABLE                                                   \
	(PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_PARITY | \
	 PCI_COMMAND_SERR)

#define STS_FAST_B2B		0x0080
#define STS_DEVSEL_MEDIUM	0x0200

#define ADDR_RESERVED_CLEAR	0x80fffffcu	/* bits 30-24 and 1-0 read 0 */

#define PIRQ_WRITABLE		0x8f	/* bits 6-4 are reserved */
#define PIRQ_IRQ_MASK		0x0f

/* The chipset functions' reset state beyond their identification. */
struct chipset_function {
	uint8_t devfn;
	struct pci_id id;
	uint16_t command, status;
};

static const struct chipset_function host_bridge = {
	.devfn = PCI_HOST_BRIDGE_DEVFN,
	/* The subsystem IDs are QEMU's (Red Hat, "QEMU virtual machine"):
	 * SeaBIOS recognizes the platform by them and only then reads
	 * fw_cfg. */
	.id = { .vendor = 0x8086, .device = 0x1237, .revision = 0x02,
		.class_code = 0x060000, .header_type = 0x00,
		.subsystem_vendor = 0x1af4, .subsystem = 0x1100 },
	/* The host bridge decodes memory and masters the bus from reset. */
	.command = PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER,
	.status = STS_FAST_B2B | STS_DEVSEL_MEDIUM,
};

static const struct chipset_function isa_bridge = {
	.devfn = PCI_ISA_BRIDGE_DEVFN,
	/* Bit 7 of the header type: the PIIX3 has IDE and USB functions
	 * behind function 0. The board plugs the IDE function in at 00:01.1
	 * (devices/ide.h); USB is absent. */
	.id = { .vendor = 0x8086, .device = 0x7000, .revision = 0x00,
		.class_code = 0x060100, .header_type = PCI_HEADER_MULTIFUNCTION },
	/* Positive decode of ISA ranges and DMA mastering from reset. */
	.command = PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER,
	.status = STS_DEVSEL_MEDIUM,
};

static void chipset_function_init(struct pci_function *f, const struct chipset_function *c)
{
	pci_function_init(f, c->devfn, &c->id);
	pci_function_set(f, PCI_REG_COMMAND, 2, c->command);
	pci_function_set(f, PCI_REG_STATUS, 2, c->status);
	f->wmask[PCI_REG_COMMAND] = (uint8_t)CHIPSET_COMMAND_WRITABLE;
	f->wmask[PCI_REG_COMMAND + 1] = (uint8_t)(CHIPSET_COMMAND_WRITABLE >> 8);
	/* No cache line size register on these two. */
	f->wmask[PCI_REG_CACHE_LINE] = 0;
}

/* Recomputes which ISA IRQs the PCI interrupts drive and reports the
 * changes. Cheap enough to run on every INTx edge: a scan of the table. */
static void route_update(struct pci_host *pci)
{
	bool pirq[PCI_PIRQS] = { false };
	for (unsigned devfn = 0; devfn < PCI_DEVFNS; devfn++) {
		const struct pci_function *f = pci->slot[devfn];
		unsigned pin = f ? f->config[PCI_REG_INTERRUPT_PIN] : 0;
		if (f && f->intx_level && pin >= PCI_PIN_INTA && pin <= PCI_PIN_INTD)
			pirq[pci_host_pirq(devfn >> 3, (enum pci_pin)pin)] = true;
	}

	const uint8_t *route = &pci->fn[1].config[PCI_PIIX_PIRQ_ROUTE];
	uint16_t levels = 0;
	for (unsigned p = 0; p < PCI_PIRQS; p++) {
		unsigned irq = route[p] & PIRQ_IRQ_MASK;
		bool routed = !(route[p] & PCI_PIIX_PIRQ_DISABLED) &&
			      (PCI_PIIX_PIRQ_VALID_IRQS >> irq & 1);
		if (pirq[p] && routed)
			levels |= (uint16_t)(1u << irq);
	}

	uint16_t changed = levels ^ pci->isa_levels;
	pci->isa_levels = levels;
	for (unsigned irq = 0; irq < 16; irq++) {
		if ((changed >> irq & 1) && pci->set_isa_irq)
			pci->set_isa_irq(pci->irq_opaque, irq, levels >> irq & 1);
	}
}

/* A plugged function's INTx output; line is its devfn. */
static void intx_changed(void *opaque, unsigned line, int level)
{
	(void)line;
	(void)level;
	route_update(opaque);
}

static void isa_bridge_written(void *opaque, unsigned reg, unsigned width)
{
	if (reg < PCI_PIIX_PIRQ_ROUTE + PCI_PIRQS && PCI_PIIX_PIRQ_ROUTE < reg + width)
		route_update(opaque);
}

/* PAM attribute bits of a nibble (82441FX datasheet, 3.2.18). */
#define PAM_WE 0x2

static void host_bridge_written(void *opaque, unsigned reg, unsigned width)
{
	struct pci_host *pci = opaque;
	if (reg < PCI_I440FX_PAM0 + PCI_I440FX_PAMS && PCI_I440FX_PAM0 < reg + width &&
	    pci->pam_changed)
		pci->pam_changed(pci->irq_opaque);
}

uint64_t pci_host_pam_write_locked(const struct pci_host *pci)
{
	const uint8_t *pam = &pci->fn[0].config[PCI_I440FX_PAM0];
	uint64_t locked = 0;
	/* 0xC0000-0xEFFFF: twelve 16 KiB segments of 4 pages each. */
	for (unsigned seg = 0; seg < 12; seg++) {
		unsigned nibble = pam[1 + seg / 2] >> (seg % 2 * 4);
		if (!(nibble & PAM_WE))
			locked |= 0xfull << (seg * 4);
	}
	/* 0xF0000-0xFFFFF: PAM0's high nibble, the last 16 pages. */
	if (!(pam[0] >> 4 & PAM_WE))
		locked |= 0xffffull << 48;
	return locked;
}

static void chipset_init(struct pci_host *pci)
{
	struct pci_function *host = &pci->fn[0];
	chipset_function_init(host, &host_bridge);
	/* The 82441FX's master latency timer: the count in bits 7-3. */
	host->wmask[PCI_REG_LATENCY] = 0xf8;
	/* The PAM registers: read and write enables of the BIOS area's
	 * shadow RAM, 0xF0000 in PAM0's high nibble, then two 16 KiB pieces
	 * of 0xC0000-0xEFFFF a register (pci_host.h). */
	host->wmask[PCI_I440FX_PAM0] = 0x30;
	for (unsigned i = 1; i < PCI_I440FX_PAMS; i++)
		host->wmask[PCI_I440FX_PAM0 + i] = 0x33;
	host->config_written = host_bridge_written;
	host->opaque = pci;

	struct pci_function *isa = &pci->fn[1];
	chipset_function_init(isa, &isa_bridge);
	for (unsigned i = 0; i < PCI_PIRQS; i++) {
		isa->config[PCI_PIIX_PIRQ_ROUTE + i] = PCI_PIIX_PIRQ_DISABLED;
		isa->wmask[PCI_PIIX_PIRQ_ROUTE + i] = PIRQ_WRITABLE;
	}
	isa->config_written = isa_bridge_written;
	isa->opaque = pci;
}

void pci_host_init(struct pci_host *pci)
{
	memset(pci, 0, sizeof(*pci));
	chipset_init(pci);
	pci->slot[PCI_HOST_BRIDGE_DEVFN] = &pci->fn[0];
	pci->slot[PCI_ISA_BRIDGE_DEVFN] = &pci->fn[1];
}

void pci_host_reset(struct pci_host *pci)
{
	pci->address = 0;
	pci->reset_control = 0;
	chipset_init(pci);
	for (unsigned devfn = 0; devfn < PCI_DEVFNS; devfn++) {
		struct pci_function *f = pci->slot[devfn];
		if (f && f != &pci->fn[0] && f != &pci->fn[1])
			pci_function_reset(f);
	}
	/* The routes are disabled again: whatever PCI drove is released. */
	route_update(pci);
}

int pci_host_add(struct pci_host *pci, struct pci_function *fn)
{
	if (pci->slot[fn->devfn])
		return -EEXIST;
	pci->slot[fn->devfn] = fn;
	fn->intx = (struct irq_line){ .set_level = intx_changed, .opaque = pci, .line = fn->devfn };
	/* A function plugged in with its interrupt already up. */
	route_update(pci);
	return 0;
}

/* The function at bus/devfn, or NULL if none answers. */
static struct pci_function *find_function(const struct pci_host *pci, unsigned bus,
					  unsigned devfn)
{
	return bus == 0 && devfn < PCI_DEVFNS ? pci->slot[devfn] : NULL;
}

uint32_t pci_host_config_read(const struct pci_host *pci, unsigned bus, unsigned devfn,
			      unsigned reg, unsigned width)
{
	struct pci_function *f = find_function(pci, bus, devfn);

	if (!f)
		return width >= 4 ? 0xffffffffu : (1u << (width * 8)) - 1;
	return pci_function_read(f, reg, width);
}

void pci_host_config_write(struct pci_host *pci, unsigned bus, unsigned devfn, unsigned reg,
			   unsigned width, uint32_t value)
{
	struct pci_function *f = find_function(pci, bus, devfn);

	if (f)
		pci_function_write(f, reg, width, value);
}

#define RESET_CONTROL_OFFSET 1	/* 0xcf9 */
#define RC_SYS_RST		0x02
#define RC_RST_CPU		0x04
#define RC_FULL_RESET		0x08	/* PIIX4's; stored */

static uint64_t address_read(void *opaque, uint64_t offset, unsigned width)
{
	const struct pci_host *pci = opaque;

	if (offset == RESET_CONTROL_OFFSET && width == 1)
		return pci->reset_control;
	/* Only a dword access at 0xcf8 is a CONFIG_ADDRESS cycle; anything
	 * narrower goes out as ordinary I/O and nobody answers. */
	if (offset != 0 || width != 4)
		return ~0ull;
	return pci->address;
}

static void address_write(void *opaque, uint64_t offset, unsigned width, uint64_t value)
{
	struct pci_host *pci = opaque;

	if (offset == RESET_CONTROL_OFFSET && width == 1) {
		pci->reset_control = (uint8_t)(value & (RC_SYS_RST | RC_FULL_RESET));
		if ((value & RC_RST_CPU) && pci->reset_request)
			pci->reset_request(pci->irq_opaque);
		return;
	}
	if (offset != 0 || width != 4)
		return;
	pci->address = (uint32_t)value & ADDR_RESERVED_CLEAR;
}

/* The configuration register the data window points at, or false when
 * CONFIG_ADDRESS does not enable a cycle. */
static bool data_target(const struct pci_host *pci, uint64_t offset, unsigned *bus,
			unsigned *devfn, unsigned *reg)
{
	if (!(pci->address & PCI_CONFIG_ENABLE))
		return false;
	*bus = (pci->address >> 16) & 0xff;
	*devfn = (pci->address >> 8) & 0xff;
	*reg = (pci->address & 0xfc) + (unsigned)offset;
	return true;
}

static uint64_t data_read(void *opaque, uint64_t offset, unsigned width)
{
	const struct pci_host *pci = opaque;
	unsigned bus, devfn, reg;

	if (!data_target(pci, offset, &bus, &devfn, &reg))
		return ~0ull;
	return pci_host_config_read(pci, bus, devfn, reg, width);
}

static void data_write(void *opaque, uint64_t offset, unsigned width, uint64_t value)
{
	struct pci_host *pci = opaque;
	unsigned bus, devfn, reg;

	if (data_target(pci, offset, &bus, &devfn, &reg))
		pci_host_config_write(pci, bus, devfn, reg, width, (uint32_t)value);
}

static const struct bus_ops address_ops = {
	.read = address_read,
	.write = address_write,
	.max_width = 4,
};

static const struct bus_ops data_ops = {
	.read = data_read,
	.write = data_write,
	.max_width = 4,
};

int pci_host_attach(struct pci_host *pci, struct bus *bus)
{
	int err = bus_register(bus, BUS_SPACE_PIO, "pci-config-address", PCI_CONFIG_ADDRESS_PORT,
			       4, &address_ops, pci);
	if (err)
		return err;
	return bus_register(bus, BUS_SPACE_PIO, "pci-config-data", PCI_CONFIG_DATA_PORT, 4,
			    &data_ops, pci);
}

/* ---- Snapshots ---------------------------------------------------------- */

/* Version 2 added the reset control register. */
#define PCI_HOST_SNAP_VERSION 2u

void pci_host_save(const struct pci_host *pci, struct snap_writer *w)
{
	snapw_begin(w, "PCI ", PCI_HOST_SNAP_VERSION, false);
	snapw_u32(w, pci->address);
	for (unsigned i = 0; i < PCI_HOST_FUNCTIONS; i++)
		pci_function_save(&pci->fn[i], w);
	snapw_u16(w, pci->isa_levels);
	snapw_u8(w, pci->reset_control);
	snapw_end(w);
}

int pci_host_load(struct pci_host *pci, struct snap_reader *r)
{
	if (r->version != PCI_HOST_SNAP_VERSION && r->version != 1)
		return snapr_fail(r, "version %u, this btvm reads 1 and %u", r->version,
				  PCI_HOST_SNAP_VERSION);
	pci->address = snapr_u32(r);
	for (unsigned i = 0; i < PCI_HOST_FUNCTIONS; i++)
		pci_function_load(&pci->fn[i], r);
	/* Loaded as the interrupt controllers saw it: no edges now. */
	pci->isa_levels = snapr_u16(r);
	pci->reset_control = r->version >= 2 ? snapr_u8(r) & (RC_SYS_RST | RC_FULL_RESET) : 0;
	return snapr_end(r);
}
