/* Configuration mechanism #1 (the 0xcf8 address latch and the 0xcfc data
 * window), the per-function register semantics (read-only, writable and
 * write-1-to-clear bits) and the default contents of the 440FX host bridge
 * and the PIIX3 ISA bridge. See pci_host.h for what is modelled. */
#include "devices/pci_host.h"

#include <stdbool.h>
#include <string.h>

/* Standard type 0 header offsets. */
enum {
	REG_VENDOR = 0x00,
	REG_DEVICE = 0x02,
	REG_COMMAND = 0x04,
	REG_STATUS = 0x06,
	REG_REVISION = 0x08,
	REG_CLASS = 0x09,	/* programming interface, subclass, class */
	REG_LATENCY = 0x0d,
	REG_HEADER_TYPE = 0x0e,
	REG_INTERRUPT_LINE = 0x3c,
	REG_PIIX_PIRQ = 0x60,	/* PIRQA-D route control, one byte each */
};

#define CMD_IO		0x0001
#define CMD_MEMORY	0x0002
#define CMD_MASTER	0x0004
#define CMD_PARITY	0x0040
#define CMD_SERR	0x0100
#define CMD_WRITABLE	(CMD_IO | CMD_MEMORY | CMD_MASTER | CMD_PARITY | CMD_SERR)

#define STS_FAST_B2B		0x0080
#define STS_DEVSEL_MEDIUM	0x0200
/* Master data parity error, signaled/received target abort, received
 * master abort, signaled system error, detected parity error: the bits
 * hardware sets on an error and software acknowledges by writing 1. */
#define STS_ERRORS		0xf900

#define ADDR_RESERVED_CLEAR	0x80fffffcu	/* bits 30-24 and 1-0 read 0 */

#define PIRQ_DISABLED		0x80
#define PIRQ_WRITABLE		0x8f	/* bits 6-4 are reserved */

/* What tells the two functions apart; everything else in the header is
 * common to both. */
struct pci_identity {
	uint8_t devfn;
	uint16_t vendor, device;
	uint8_t revision;
	uint32_t class_code;	/* class, subclass, programming interface */
	uint8_t header_type;
	uint16_t command, status;	/* reset values */
};

static const struct pci_identity host_bridge = {
	.devfn = PCI_HOST_BRIDGE_DEVFN,
	.vendor = 0x8086, .device = 0x1237, .revision = 0x02,
	.class_code = 0x060000, .header_type = 0x00,
	/* The host bridge decodes memory and masters the bus from reset. */
	.command = CMD_MEMORY | CMD_MASTER,
	.status = STS_FAST_B2B | STS_DEVSEL_MEDIUM,
};

static const struct pci_identity isa_bridge = {
	.devfn = PCI_ISA_BRIDGE_DEVFN,
	.vendor = 0x8086, .device = 0x7000, .revision = 0x00,
	/* Bit 7 of the header type: the PIIX3 has IDE and USB functions
	 * behind function 0; here they are absent, but the bit stays so the
	 * layout is the familiar one. */
	.class_code = 0x060100, .header_type = 0x80,
	/* Positive decode of ISA ranges and DMA mastering from reset. */
	.command = CMD_IO | CMD_MEMORY | CMD_MASTER,
	.status = STS_DEVSEL_MEDIUM,
};

static void put16(uint8_t *bytes, unsigned reg, uint16_t value)
{
	bytes[reg] = (uint8_t)value;
	bytes[reg + 1] = (uint8_t)(value >> 8);
}

static void function_init(struct pci_function *f, const struct pci_identity *id)
{
	memset(f, 0, sizeof(*f));
	f->devfn = id->devfn;
	put16(f->config, REG_VENDOR, id->vendor);
	put16(f->config, REG_DEVICE, id->device);
	put16(f->config, REG_COMMAND, id->command);
	put16(f->config, REG_STATUS, id->status);
	f->config[REG_REVISION] = id->revision;
	f->config[REG_CLASS] = (uint8_t)id->class_code;
	f->config[REG_CLASS + 1] = (uint8_t)(id->class_code >> 8);
	f->config[REG_CLASS + 2] = (uint8_t)(id->class_code >> 16);
	f->config[REG_HEADER_TYPE] = id->header_type;

	put16(f->wmask, REG_COMMAND, CMD_WRITABLE);
	put16(f->w1cmask, REG_STATUS, STS_ERRORS);
	f->wmask[REG_INTERRUPT_LINE] = 0xff;
}

void pci_host_init(struct pci_host *pci)
{
	memset(pci, 0, sizeof(*pci));

	struct pci_function *host = &pci->fn[0];
	function_init(host, &host_bridge);
	/* The 82441FX's master latency timer: the count in bits 7-3. */
	host->wmask[REG_LATENCY] = 0xf8;

	struct pci_function *isa = &pci->fn[1];
	function_init(isa, &isa_bridge);
	for (unsigned i = 0; i < 4; i++) {
		isa->config[REG_PIIX_PIRQ + i] = PIRQ_DISABLED;
		isa->wmask[REG_PIIX_PIRQ + i] = PIRQ_WRITABLE;
	}
}

/* Index into pci->fn of the function at bus/devfn, or -1 if none answers. */
static int find_function(const struct pci_host *pci, unsigned bus, unsigned devfn)
{
	if (bus != 0)
		return -1;
	for (unsigned i = 0; i < PCI_HOST_FUNCTIONS; i++) {
		if (pci->fn[i].devfn == devfn)
			return (int)i;
	}
	return -1;
}

static bool valid_access(unsigned reg, unsigned width)
{
	return (width == 1 || width == 2 || width == 4) && reg < PCI_CONFIG_SPACE_SIZE &&
	       width <= PCI_CONFIG_SPACE_SIZE - reg;
}

uint32_t pci_host_config_read(const struct pci_host *pci, unsigned bus, unsigned devfn,
			      unsigned reg, unsigned width)
{
	uint32_t ones = width >= 4 ? 0xffffffffu : (1u << (width * 8)) - 1;
	int i = find_function(pci, bus, devfn);

	if (i < 0 || !valid_access(reg, width))
		return ones;
	const struct pci_function *f = &pci->fn[i];
	uint32_t value = 0;
	for (unsigned b = 0; b < width; b++)
		value |= (uint32_t)f->config[reg + b] << (b * 8);
	return value;
}

static void write_byte(struct pci_function *f, unsigned reg, uint8_t value)
{
	uint8_t next = (uint8_t)((f->config[reg] & ~f->wmask[reg]) | (value & f->wmask[reg]));
	f->config[reg] = (uint8_t)(next & ~(value & f->w1cmask[reg]));
}

void pci_host_config_write(struct pci_host *pci, unsigned bus, unsigned devfn, unsigned reg,
			   unsigned width, uint32_t value)
{
	int i = find_function(pci, bus, devfn);

	if (i < 0 || !valid_access(reg, width))
		return;
	for (unsigned b = 0; b < width; b++)
		write_byte(&pci->fn[i], reg + b, (uint8_t)(value >> (b * 8)));
}

static uint64_t address_read(void *opaque, uint64_t offset, unsigned width)
{
	const struct pci_host *pci = opaque;

	/* Only a dword access at 0xcf8 is a CONFIG_ADDRESS cycle; anything
	 * narrower goes out as ordinary I/O and nobody answers. */
	if (offset != 0 || width != 4)
		return ~0ull;
	return pci->address;
}

static void address_write(void *opaque, uint64_t offset, unsigned width, uint64_t value)
{
	struct pci_host *pci = opaque;

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
