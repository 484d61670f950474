/* The generic PCI function: configuration register semantics (masks,
 * write-1-to-clear), BAR declaration, sizing and effective mapping, the
 * capability list, INTx with its disable and status bits, and the helper
 * that keeps a bus region on a BAR. See pci.h for what is modelled. */
#include "devices/pci.h"
#include "host/snapfile.h"

#include <errno.h>
#include <string.h>

#define COMMAND_WRITABLE                                                                    \
	(PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_PARITY |   \
	 PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE)

#define BAR_MEM_MIN	16u
#define BAR_MEM_MAX	0x80000000u
#define BAR_IO_MIN	4u
#define IO_SPACE_SIZE	0x10000u
#define MEM_SPACE_TOP	0xffffffffu

static bool valid_access(unsigned reg, unsigned width)
{
	return (width == 1 || width == 2 || width == 4) && reg < PCI_CONFIG_SPACE_SIZE &&
	       width <= PCI_CONFIG_SPACE_SIZE - reg;
}

static void put_bytes(uint8_t *bytes, unsigned reg, unsigned width, uint32_t value)
{
	for (unsigned b = 0; b < width; b++)
		bytes[reg + b] = (uint8_t)(value >> (b * 8));
}

static uint32_t get_bytes(const uint8_t *bytes, unsigned reg, unsigned width)
{
	uint32_t value = 0;
	for (unsigned b = 0; b < width; b++)
		value |= (uint32_t)bytes[reg + b] << (b * 8);
	return value;
}

void pci_function_set(struct pci_function *fn, unsigned reg, unsigned width, uint32_t value)
{
	if (valid_access(reg, width))
		put_bytes(fn->config, reg, width, value);
}

uint32_t pci_function_get(const struct pci_function *fn, unsigned reg, unsigned width)
{
	return valid_access(reg, width) ? get_bytes(fn->config, reg, width) : 0;
}

void pci_function_init(struct pci_function *fn, uint8_t devfn, const struct pci_id *id)
{
	memset(fn, 0, sizeof(*fn));
	fn->devfn = devfn;
	put_bytes(fn->config, PCI_REG_VENDOR, 2, id->vendor);
	put_bytes(fn->config, PCI_REG_DEVICE, 2, id->device);
	fn->config[PCI_REG_REVISION] = id->revision;
	put_bytes(fn->config, PCI_REG_CLASS, 3, id->class_code);
	fn->config[PCI_REG_HEADER_TYPE] = id->header_type;
	put_bytes(fn->config, PCI_REG_SUBSYSTEM_VENDOR, 2, id->subsystem_vendor);
	put_bytes(fn->config, PCI_REG_SUBSYSTEM, 2, id->subsystem);

	put_bytes(fn->wmask, PCI_REG_COMMAND, 2, COMMAND_WRITABLE);
	put_bytes(fn->w1cmask, PCI_REG_STATUS, 2, PCI_STATUS_ERRORS);
	fn->wmask[PCI_REG_CACHE_LINE] = 0xff;
	fn->wmask[PCI_REG_INTERRUPT_LINE] = 0xff;

	for (unsigned i = 0; i < PCI_NUM_BARS; i++)
		fn->bar[i].mapped = PCI_BAR_UNMAPPED;
	fn->cap_next = PCI_REG_DEVICE_SPECIFIC;
}

static bool power_of_two(uint32_t x)
{
	return x && !(x & (x - 1));
}

static unsigned bar_reg(unsigned bar)
{
	return PCI_REG_BAR0 + 4 * bar;
}

int pci_function_add_bar(struct pci_function *fn, unsigned bar, enum pci_bar_kind kind,
			 uint32_t size)
{
	uint32_t type_bits;

	if (bar >= PCI_NUM_BARS || fn->bar[bar].kind != PCI_BAR_NONE || !power_of_two(size))
		return -EINVAL;
	switch (kind) {
	case PCI_BAR_MEM32:
	case PCI_BAR_MEM32_PREFETCH:
		if (size < BAR_MEM_MIN || size > BAR_MEM_MAX)
			return -EINVAL;
		type_bits = kind == PCI_BAR_MEM32_PREFETCH ? PCI_BAR_PREFETCH : 0;
		break;
	case PCI_BAR_IO:
		if (size < BAR_IO_MIN || size > IO_SPACE_SIZE)
			return -EINVAL;
		type_bits = PCI_BAR_IO_SPACE;
		break;
	default:
		return -EINVAL;
	}
	fn->bar[bar].kind = kind;
	fn->bar[bar].size = size;
	put_bytes(fn->config, bar_reg(bar), 4, type_bits);
	/* Every address bit at or above the size: what sizing reads back. */
	put_bytes(fn->wmask, bar_reg(bar), 4, ~(size - 1));
	return 0;
}

int pci_function_add_capability(struct pci_function *fn, uint8_t cap_id, unsigned len)
{
	if (len < 2)
		return -EINVAL;
	if (len > PCI_CONFIG_SPACE_SIZE - (unsigned)fn->cap_next)
		return -ENOSPC;
	unsigned off = fn->cap_next;

	fn->config[off] = cap_id;
	fn->config[off + 1] = 0;
	if (fn->cap_last)
		fn->config[fn->cap_last + 1] = (uint8_t)off;
	else
		fn->config[PCI_REG_CAPABILITIES] = (uint8_t)off;
	fn->cap_last = (uint8_t)off;
	/* Capability pointers are dword aligned: their low two bits are
	 * reserved, and Linux masks them off while walking. */
	fn->cap_next = (uint16_t)((off + len + 3) & ~3u);
	fn->config[PCI_REG_STATUS] |= PCI_STATUS_CAP_LIST;
	return (int)off;
}

void pci_function_set_pin(struct pci_function *fn, enum pci_pin pin)
{
	fn->config[PCI_REG_INTERRUPT_PIN] = (uint8_t)pin;
}

uint64_t pci_function_bar_address(const struct pci_function *fn, unsigned bar)
{
	if (bar >= PCI_NUM_BARS)
		return PCI_BAR_UNMAPPED;
	const struct pci_bar *b = &fn->bar[bar];
	uint16_t command = (uint16_t)get_bytes(fn->config, PCI_REG_COMMAND, 2);
	uint32_t value = get_bytes(fn->config, bar_reg(bar), 4);
	uint64_t addr = value & ~(uint64_t)(b->size - 1);

	switch (b->kind) {
	case PCI_BAR_MEM32:
	case PCI_BAR_MEM32_PREFETCH:
		if (!(command & PCI_COMMAND_MEMORY) || addr == 0 ||
		    addr + b->size - 1 >= MEM_SPACE_TOP)
			return PCI_BAR_UNMAPPED;
		return addr;
	case PCI_BAR_IO:
		if (!(command & PCI_COMMAND_IO) || addr == 0 || addr + b->size > IO_SPACE_SIZE)
			return PCI_BAR_UNMAPPED;
		return addr;
	default:
		return PCI_BAR_UNMAPPED;
	}
}

/* Tells the device about every BAR whose effective mapping moved. */
static void update_mappings(struct pci_function *fn)
{
	for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
		uint64_t addr = pci_function_bar_address(fn, i);
		if (addr == fn->bar[i].mapped)
			continue;
		fn->bar[i].mapped = addr;
		if (fn->bar_mapped)
			fn->bar_mapped(fn->opaque, i, addr);
	}
}

/* The status bit shows the request; the line carries it unless disabled. */
static void update_intx(struct pci_function *fn)
{
	uint16_t command = (uint16_t)get_bytes(fn->config, PCI_REG_COMMAND, 2);
	bool level = fn->irq_request && !(command & PCI_COMMAND_INTX_DISABLE);

	if (fn->irq_request)
		fn->config[PCI_REG_STATUS] |= PCI_STATUS_INTERRUPT;
	else
		fn->config[PCI_REG_STATUS] &= (uint8_t)~PCI_STATUS_INTERRUPT;
	if (level == fn->intx_level)
		return;
	fn->intx_level = level;
	irq_line_set(&fn->intx, level);
}

void pci_function_set_irq(struct pci_function *fn, bool request)
{
	fn->irq_request = request;
	update_intx(fn);
}

void pci_function_reset(struct pci_function *fn)
{
	put_bytes(fn->config, PCI_REG_COMMAND, 2, 0);
	put_bytes(fn->config, PCI_REG_STATUS, 2,
		  get_bytes(fn->config, PCI_REG_STATUS, 2) & ~(uint32_t)PCI_STATUS_ERRORS);
	fn->config[PCI_REG_CACHE_LINE] = 0;
	fn->config[PCI_REG_INTERRUPT_LINE] = 0;
	for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
		/* The address bits go, the read-only type bits stay. */
		uint32_t value = get_bytes(fn->config, bar_reg(i), 4);
		uint32_t wmask = get_bytes(fn->wmask, bar_reg(i), 4);
		put_bytes(fn->config, bar_reg(i), 4, value & ~wmask);
	}
	update_mappings(fn);
	fn->irq_request = false;
	update_intx(fn);
}

uint32_t pci_function_read(struct pci_function *fn, unsigned reg, unsigned width)
{
	if (!valid_access(reg, width))
		return width >= 4 ? 0xffffffffu : (1u << (width * 8)) - 1;
	if (fn->config_read)
		fn->config_read(fn->opaque, reg, width);
	return get_bytes(fn->config, reg, width);
}

static void write_byte(struct pci_function *fn, unsigned reg, uint8_t value)
{
	uint8_t next = (uint8_t)((fn->config[reg] & ~fn->wmask[reg]) | (value & fn->wmask[reg]));
	fn->config[reg] = (uint8_t)(next & ~(value & fn->w1cmask[reg]));
}

static bool touches(unsigned reg, unsigned width, unsigned first, unsigned len)
{
	return reg < first + len && first < reg + width;
}

void pci_function_write(struct pci_function *fn, unsigned reg, unsigned width, uint32_t value)
{
	if (!valid_access(reg, width))
		return;
	for (unsigned b = 0; b < width; b++)
		write_byte(fn, reg + b, (uint8_t)(value >> (b * 8)));
	/* The effects come after the whole access, so that a dword BAR or
	 * command write is seen as one change. */
	if (touches(reg, width, PCI_REG_COMMAND, 2) ||
	    touches(reg, width, PCI_REG_BAR0, 4 * PCI_NUM_BARS))
		update_mappings(fn);
	if (touches(reg, width, PCI_REG_COMMAND, 2))
		update_intx(fn);
	if (fn->config_written)
		fn->config_written(fn->opaque, reg, width);
}

void pci_region_init(struct pci_region *r, struct bus *bus, enum bus_space space,
		     const char *name, uint64_t length, const struct bus_ops *ops,
		     void *ops_opaque)
{
	*r = (struct pci_region){
		.bus = bus, .space = space, .name = name, .length = length,
		.ops = ops, .ops_opaque = ops_opaque, .base = PCI_BAR_UNMAPPED,
	};
}

int pci_region_place(struct pci_region *r, uint64_t addr)
{
	int err = 0;

	if (addr == r->base)
		return 0;
	if (r->base == PCI_BAR_UNMAPPED) {
		err = bus_register(r->bus, r->space, r->name, addr, r->length, r->ops,
				   r->ops_opaque);
	} else if (addr == PCI_BAR_UNMAPPED) {
		err = bus_unregister(r->bus, r->space, r->base);
	} else {
		err = bus_move(r->bus, r->space, r->base, addr);
		/* Where it cannot go, it does not stay behind either: the BAR
		 * no longer decodes its old address. */
		if (err)
			bus_unregister(r->bus, r->space, r->base);
	}
	r->base = err ? PCI_BAR_UNMAPPED : addr;
	return err;
}

/* ---- Snapshots ---------------------------------------------------------- */

void pci_function_save(const struct pci_function *fn, struct snap_writer *w)
{
	snapw_u8(w, fn->devfn);
	snapw_bytes(w, fn->config, sizeof(fn->config));
	snapw_bool(w, fn->irq_request);
	snapw_bool(w, fn->intx_level);
}

void pci_function_load(struct pci_function *fn, struct snap_reader *r)
{
	uint8_t config[PCI_CONFIG_SPACE_SIZE];
	uint8_t devfn = snapr_u8(r);
	snapr_bytes(r, config, sizeof(config));
	bool irq_request = snapr_bool(r);
	bool intx_level = snapr_bool(r);
	if (r->err)
		return;
	if (devfn != fn->devfn) {
		snapr_fail(r, "PCI function %02x.%u where this machine has %02x.%u", devfn >> 3,
			   devfn & 7, fn->devfn >> 3, fn->devfn & 7);
		return;
	}
	for (unsigned i = 0; i < PCI_CONFIG_SPACE_SIZE; i++) {
		uint8_t writable = fn->wmask[i] | fn->w1cmask[i];
		fn->config[i] = (uint8_t)((fn->config[i] & ~writable) | (config[i] & writable));
	}
	fn->irq_request = irq_request;
	/* The line's level as the other end (the PIC, the I/O APIC) saved
	 * it: no edge now. */
	fn->intx_level = intx_level;
	if (irq_request)
		fn->config[PCI_REG_STATUS] |= PCI_STATUS_INTERRUPT;
	else
		fn->config[PCI_REG_STATUS] &= (uint8_t)~PCI_STATUS_INTERRUPT;
	update_mappings(fn);
}

void pci_function_unmap(struct pci_function *fn)
{
	fn->config[PCI_REG_COMMAND] &= (uint8_t)~(PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
	update_mappings(fn);
}
