/* The BIOS's PCI set-up: BAR placement in the memory and I/O windows,
 * decode enables, PIIX3 PIRQ steering and interrupt line registers. See
 * pci_firmware.h. */
#include "boot/pci_firmware.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "boot/acpi.h"

/* SeaBIOS's choice on a 440FX (pci_irqs in src/fw/pciinit.c). */
static const uint8_t default_pirq_irq[PCI_PIRQS] = { 10, 10, 11, 11 };

/* The PIIX3's IDE timing registers (IDETIM, primary at 0x40, secondary
 * at 0x42) and their decode enable bit: a channel's legacy ports answer
 * on the PIIX only with it set, and Linux's ata_piix leaves a channel
 * whose bit is clear alone ("port disabled"). */
#define PIIX_IDETIM_PRIMARY 0x40u
#define PIIX_IDETIM_SECONDARY 0x42u
#define PIIX_IDETIM_DECODE 0x8000u

/* SeaBIOS's piix_ide_setup: both channels' decode enabled, nothing else
 * timed (the drives are not real ones). */
static void piix_ide_setup(struct pci_function *f)
{
	pci_function_write(f, PIIX_IDETIM_PRIMARY, 2, PIIX_IDETIM_DECODE);
	pci_function_write(f, PIIX_IDETIM_SECONDARY, 2, PIIX_IDETIM_DECODE);
}

/* What SeaBIOS's pci_device_tbl does to particular functions besides
 * their BARs, by vendor and device ID. */
static const struct {
	uint16_t vendor, device;
	void (*setup)(struct pci_function *f);
} device_setups[] = {
	{ 0x8086, 0x7010, piix_ide_setup },	/* 82371SB PIIX3 IDE */
	{ 0x8086, 0x7111, piix_ide_setup },	/* 82371AB PIIX4 IDE */
};

static void device_setup(struct pci_function *f)
{
	uint32_t vendor = pci_function_read(f, PCI_REG_VENDOR, 2);
	uint32_t device = pci_function_read(f, PCI_REG_DEVICE, 2);
	for (size_t i = 0; i < sizeof(device_setups) / sizeof(device_setups[0]); i++)
		if (device_setups[i].vendor == vendor && device_setups[i].device == device)
			device_setups[i].setup(f);
}

void pci_firmware_config_default(struct pci_firmware_config *cfg)
{
	*cfg = (struct pci_firmware_config){
		.mem_start = PCI_FIRMWARE_MEM_START,
		.mem_end = ACPI_PCI_MEM_DEFAULT_END,
		.io_start = PCI_FIRMWARE_IO_START,
		.io_end = PCI_FIRMWARE_IO_END,
	};
	for (unsigned i = 0; i < PCI_PIRQS; i++)
		cfg->pirq_irq[i] = default_pirq_irq[i];
}

struct bar_ref {
	struct pci_function *fn;
	unsigned bar;
	uint32_t size;
	uint32_t addr;
};

/* Largest first; then devfn, then BAR number, for a stable layout. */
static int bar_order(const void *a, const void *b)
{
	const struct bar_ref *x = a, *y = b;
	if (x->size != y->size)
		return x->size > y->size ? -1 : 1;
	if (x->fn->devfn != y->fn->devfn)
		return x->fn->devfn < y->fn->devfn ? -1 : 1;
	return x->bar < y->bar ? -1 : x->bar > y->bar;
}

static bool is_chipset(const struct pci_host *pci, const struct pci_function *f)
{
	for (unsigned i = 0; i < PCI_HOST_FUNCTIONS; i++) {
		if (f == &pci->fn[i])
			return true;
	}
	return false;
}

static bool is_io(const struct pci_bar *b)
{
	return b->kind == PCI_BAR_IO;
}

/* Gives every BAR of one space (I/O or memory) in refs[0..n) an address
 * in [start, end]. The first (largest) sets the alignment of the start;
 * each one after that is no larger, so a cursor that advances by sizes
 * stays aligned for all of them. */
static int place(struct bar_ref *refs, size_t n, uint64_t start, uint64_t end)
{
	if (n == 0)
		return 0;
	qsort(refs, n, sizeof(*refs), bar_order);
	uint64_t cursor = (start + refs[0].size - 1) & ~(uint64_t)(refs[0].size - 1);
	for (size_t i = 0; i < n; i++) {
		if (cursor + refs[i].size - 1 > end)
			return -ENOSPC;
		refs[i].addr = (uint32_t)cursor;
		cursor += refs[i].size;
	}
	return 0;
}

int pci_firmware_setup(struct pci_host *pci, const struct pci_firmware_config *cfg)
{
	/* Every BAR there can be on bus 0, in two lists. */
	static const size_t max_bars = PCI_DEVFNS * PCI_NUM_BARS;
	struct bar_ref *mem = NULL, *io = NULL;
	size_t n_mem = 0, n_io = 0;
	int err = -EINVAL;

	if (cfg->mem_start == 0 || cfg->mem_start > cfg->mem_end || cfg->io_start == 0 ||
	    cfg->io_start > cfg->io_end || cfg->io_end > 0xffff)
		return -EINVAL;
	for (unsigned i = 0; i < PCI_PIRQS; i++) {
		if (cfg->pirq_irq[i] > 15 || !(PCI_PIIX_PIRQ_VALID_IRQS >> cfg->pirq_irq[i] & 1))
			return -EINVAL;
	}

	mem = calloc(max_bars, sizeof(*mem));
	io = calloc(max_bars, sizeof(*io));
	if (!mem || !io) {
		err = -ENOMEM;
		goto out;
	}
	for (unsigned devfn = 0; devfn < PCI_DEVFNS; devfn++) {
		struct pci_function *f = pci->slot[devfn];
		if (!f || is_chipset(pci, f))
			continue;
		for (unsigned b = 0; b < PCI_NUM_BARS; b++) {
			const struct pci_bar *bar = &f->bar[b];
			if (bar->kind == PCI_BAR_NONE)
				continue;
			struct bar_ref ref = { .fn = f, .bar = b, .size = bar->size };
			if (is_io(bar))
				io[n_io++] = ref;
			else
				mem[n_mem++] = ref;
		}
	}
	err = place(mem, n_mem, cfg->mem_start, cfg->mem_end);
	if (!err)
		err = place(io, n_io, cfg->io_start, cfg->io_end);
	if (err)
		goto out;

	/* Through configuration writes, as the BIOS's own would go, so that
	 * every device hears of its BARs by bar_mapped. Decoding is off while
	 * the addresses go in, so no half-placed BAR is ever mapped. */
	for (unsigned devfn = 0; devfn < PCI_DEVFNS; devfn++) {
		struct pci_function *f = pci->slot[devfn];
		if (!f || is_chipset(pci, f))
			continue;
		uint32_t command = pci_function_read(f, PCI_REG_COMMAND, 2);
		pci_function_write(f, PCI_REG_COMMAND, 2,
				   command & ~(uint32_t)(PCI_COMMAND_IO | PCI_COMMAND_MEMORY));
	}
	for (size_t i = 0; i < n_mem; i++)
		pci_function_write(mem[i].fn, PCI_REG_BAR0 + 4 * mem[i].bar, 4, mem[i].addr);
	for (size_t i = 0; i < n_io; i++)
		pci_function_write(io[i].fn, PCI_REG_BAR0 + 4 * io[i].bar, 4, io[i].addr);

	for (unsigned p = 0; p < PCI_PIRQS; p++)
		pci_function_write(&pci->fn[1], PCI_PIIX_PIRQ_ROUTE + p, 1, cfg->pirq_irq[p]);

	for (unsigned devfn = 0; devfn < PCI_DEVFNS; devfn++) {
		struct pci_function *f = pci->slot[devfn];
		if (!f || is_chipset(pci, f))
			continue;
		unsigned pin = pci_function_read(f, PCI_REG_INTERRUPT_PIN, 1);
		if (pin >= PCI_PIN_INTA && pin <= PCI_PIN_INTD) {
			unsigned pirq = pci_host_pirq(devfn >> 3, (enum pci_pin)pin);
			pci_function_write(f, PCI_REG_INTERRUPT_LINE, 1, cfg->pirq_irq[pirq]);
		}
		/* Both decoders on, as SeaBIOS leaves every device: a VGA
		 * function's legacy ports and window hang on them too. */
		uint32_t command = pci_function_read(f, PCI_REG_COMMAND, 2);
		pci_function_write(f, PCI_REG_COMMAND, 2,
				   command | PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
		device_setup(f);
	}
	err = 0;
out:
	free(mem);
	free(io);
	return err;
}
