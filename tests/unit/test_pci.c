/* PCI configuration mechanism #1 through the bus the way Linux uses it:
 * the type 1 detection and the failing type 2 probe, the sanity check, a
 * bus 0 scan, reads at every width and offset, absent functions, the
 * enable bit, and the register semantics (read-only identification,
 * writable command, write-1-to-clear status, absent BARs, interrupt line,
 * PIIX3 PIRQ routing). Then functions plugged in beside the chipset:
 * Linux's pci_scan_slot walk over them, INTx through the PIRQ lines to
 * ISA IRQs, reset, and the firmware's BAR placement (boot/pci_firmware.c).
 * Last the PIIX3's reset control register at 0xcf9, also through a
 * snapshot. */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "boot/pci_firmware.h"
#include "check.h"
#include "devices/bus.h"
#include "devices/pci_host.h"
#include "host/snapfile.h"

static struct bus bus;
static struct pci_host pci;

static void setup(void)
{
	bus_init(&bus);
	pci_host_init(&pci);
	CHECK_EQ(pci_host_attach(&pci, &bus), 0);
}

static uint32_t in(uint16_t port, unsigned width)
{
	return (uint32_t)bus_read(&bus, BUS_SPACE_PIO, port, width);
}

static void out(uint16_t port, unsigned width, uint32_t value)
{
	bus_write(&bus, BUS_SPACE_PIO, port, width, value);
}

static uint32_t address(unsigned busno, unsigned devfn, unsigned reg)
{
	return PCI_CONFIG_ENABLE | busno << 16 | devfn << 8 | (reg & 0xfc);
}

/* Linux's pci_conf1_read/write: the address, then the data window at the
 * register's offset inside the dword. */
static uint32_t cfg_read(unsigned busno, unsigned devfn, unsigned reg, unsigned width)
{
	out(PCI_CONFIG_ADDRESS_PORT, 4, address(busno, devfn, reg));
	return in((uint16_t)(PCI_CONFIG_DATA_PORT + (reg & 3)), width);
}

static void cfg_write(unsigned busno, unsigned devfn, unsigned reg, unsigned width,
		      uint32_t value)
{
	out(PCI_CONFIG_ADDRESS_PORT, 4, address(busno, devfn, reg));
	out((uint16_t)(PCI_CONFIG_DATA_PORT + (reg & 3)), width, value);
}

static void test_detection(void)
{
	setup();

	/* pci_check_type1 */
	out(0xcfb, 1, 0x01);
	uint32_t saved = in(0xcf8, 4);
	CHECK_EQ(saved, 0);
	out(0xcf8, 4, 0x80000000);
	CHECK_EQ(in(0xcf8, 4), 0x80000000);
	/* pci_sanity_check: the class of 00:00.0 is a host bridge. */
	CHECK_EQ(cfg_read(0, 0, 0x0a, 2), 0x0600);
	CHECK_EQ(cfg_read(0, 0, 0x00, 2), 0x8086);
	out(0xcf8, 4, saved);
	CHECK_EQ(in(0xcf8, 4), 0);

	/* pci_check_type2 would need its byte writes read back. */
	out(0xcfb, 1, 0x00);
	out(0xcf8, 1, 0x00);
	out(0xcfa, 1, 0x00);
	CHECK_EQ(in(0xcf8, 1), 0xff);
	CHECK_EQ(in(0xcfa, 1), 0xff);
	/* Nor did the byte and word accesses reach the address latch. */
	out(0xcf8, 2, 0x1234);
	CHECK_EQ(in(0xcf8, 2), 0xffff);
	CHECK_EQ(in(0xcf8, 4), 0);

	/* Reserved bits 30-24 and 1-0 read back 0. */
	out(0xcf8, 4, 0xff00ff03);
	CHECK_EQ(in(0xcf8, 4), 0x8000ff00);
	CHECK_EQ(bus.unclaimed_reads[BUS_SPACE_PIO], 0);
}

static void test_identification(void)
{
	setup();

	/* Host bridge 00:00.0: 8086:1237 rev 02, class 060000, header 00. */
	CHECK_EQ(cfg_read(0, 0x00, 0x00, 4), 0x12378086);
	CHECK_EQ(cfg_read(0, 0x00, 0x00, 2), 0x8086);
	CHECK_EQ(cfg_read(0, 0x00, 0x02, 2), 0x1237);
	CHECK_EQ(cfg_read(0, 0x00, 0x00, 1), 0x86);
	CHECK_EQ(cfg_read(0, 0x00, 0x01, 1), 0x80);
	CHECK_EQ(cfg_read(0, 0x00, 0x02, 1), 0x37);
	CHECK_EQ(cfg_read(0, 0x00, 0x03, 1), 0x12);
	CHECK_EQ(cfg_read(0, 0x00, 0x08, 4), 0x06000002);
	CHECK_EQ(cfg_read(0, 0x00, 0x08, 1), 0x02);
	CHECK_EQ(cfg_read(0, 0x00, 0x09, 1), 0x00);
	CHECK_EQ(cfg_read(0, 0x00, 0x0a, 2), 0x0600);
	CHECK_EQ(cfg_read(0, 0x00, 0x0b, 1), 0x06);
	CHECK_EQ(cfg_read(0, 0x00, 0x0e, 1), 0x00);
	/* A word that does not start at an even offset, as the bus allows. */
	CHECK_EQ(cfg_read(0, 0x00, 0x01, 2), 0x3780);
	CHECK_EQ(cfg_read(0, 0x00, 0x04, 2), 0x0006);
	CHECK_EQ(cfg_read(0, 0x00, 0x06, 2), 0x0280);

	/* PCI-to-ISA bridge 00:01.0: 8086:7000, class 060100, header 80. */
	CHECK_EQ(cfg_read(0, 0x08, 0x00, 4), 0x70008086);
	CHECK_EQ(cfg_read(0, 0x08, 0x02, 2), 0x7000);
	CHECK_EQ(cfg_read(0, 0x08, 0x08, 4), 0x06010000);
	CHECK_EQ(cfg_read(0, 0x08, 0x0a, 2), 0x0601);
	CHECK_EQ(cfg_read(0, 0x08, 0x0c, 4), 0x00800000);
	CHECK_EQ(cfg_read(0, 0x08, 0x0e, 1), 0x80);
	CHECK_EQ(cfg_read(0, 0x08, 0x3d, 1), 0x00);
	CHECK_EQ(cfg_read(0, 0x08, 0x60, 4), 0x80808080);

	/* No BARs, no ROM, no capabilities; the host bridge carries QEMU's
	 * subsystem IDs, which SeaBIOS checks to know its platform. */
	for (unsigned reg = 0x10; reg <= 0x34; reg += 4) {
		CHECK_EQ(cfg_read(0, 0x00, reg, 4), reg == 0x2c ? 0x11001af4u : 0);
		CHECK_EQ(cfg_read(0, 0x08, reg, 4), 0);
	}
	cfg_write(0, 0x00, 0x2c, 4, 0x12345678);
	CHECK_EQ(cfg_read(0, 0x00, 0x2c, 4), 0x11001af4);
	/* The same through the direct interface. */
	CHECK_EQ(pci_host_config_read(&pci, 0, pci_host_devfn(1, 0), 0x00, 4), 0x70008086);
	CHECK_EQ(pci_host_config_read(&pci, 0, pci_host_devfn(0, 0), 0xfe, 2), 0);
	CHECK_EQ(pci_host_config_read(&pci, 0, pci_host_devfn(0, 0), 0xfe, 4), 0xffffffff);
}

static void test_absent(void)
{
	setup();

	/* Linux's scan of bus 0: exactly the two functions answer. */
	unsigned found = 0;
	for (unsigned devfn = 0; devfn < 256; devfn++) {
		uint32_t id = cfg_read(0, devfn, 0, 4);
		if (id != 0xffffffff) {
			found++;
			CHECK(devfn == 0x00 || devfn == 0x08);
		}
	}
	CHECK_EQ(found, 2);

	/* Functions 1-7 of both devices, device 2, and another bus. */
	CHECK_EQ(cfg_read(0, pci_host_devfn(0, 1), 0x00, 4), 0xffffffff);
	CHECK_EQ(cfg_read(0, pci_host_devfn(1, 1), 0x00, 4), 0xffffffff);
	CHECK_EQ(cfg_read(0, pci_host_devfn(2, 0), 0x00, 2), 0xffff);
	CHECK_EQ(cfg_read(0, pci_host_devfn(31, 7), 0x0e, 1), 0xff);
	CHECK_EQ(cfg_read(1, 0x00, 0x00, 4), 0xffffffff);
	CHECK_EQ(cfg_read(1, 0x00, 0x0a, 2), 0xffff);
	/* Writes there go nowhere and disturb nothing. */
	cfg_write(1, 0x00, 0x04, 2, 0x0000);
	cfg_write(0, pci_host_devfn(2, 0), 0x3c, 1, 0x0b);
	CHECK_EQ(cfg_read(0, 0x00, 0x04, 2), 0x0006);

	/* With bit 31 clear nothing answers and writes are dropped. */
	out(PCI_CONFIG_ADDRESS_PORT, 4, 0x00000000);
	CHECK_EQ(in(PCI_CONFIG_DATA_PORT, 4), 0xffffffff);
	CHECK_EQ(in(PCI_CONFIG_DATA_PORT + 2, 2), 0xffff);
	CHECK_EQ(in(PCI_CONFIG_DATA_PORT + 3, 1), 0xff);
	out(PCI_CONFIG_ADDRESS_PORT, 4, 0x0000003c);
	out(PCI_CONFIG_DATA_PORT, 1, 0x0b);
	CHECK_EQ(cfg_read(0, 0x00, 0x3c, 1), 0x00);
}

static void test_registers(void)
{
	setup();

	/* Command: the implemented bits take writes, the others stay 0. */
	cfg_write(0, 0x00, 0x04, 2, 0xffff);
	CHECK_EQ(cfg_read(0, 0x00, 0x04, 2), 0x0147);
	cfg_write(0, 0x00, 0x04, 2, 0x0000);
	CHECK_EQ(cfg_read(0, 0x00, 0x04, 2), 0x0000);
	cfg_write(0, 0x08, 0x04, 1, 0x05);
	CHECK_EQ(cfg_read(0, 0x08, 0x04, 2), 0x0005);
	/* A dword write at 0x04 reaches status too, which ignores 0s... */
	cfg_write(0, 0x00, 0x04, 4, 0x00000006);
	CHECK_EQ(cfg_read(0, 0x00, 0x04, 4), 0x02800006);

	/* ...and clears error bits written as 1, but sets nothing. */
	pci.fn[0].config[0x07] |= 0xf9;	/* every error bit latched */
	CHECK_EQ(cfg_read(0, 0x00, 0x06, 2), 0xfb80);
	cfg_write(0, 0x00, 0x06, 2, 0x2000);	/* received master abort */
	CHECK_EQ(cfg_read(0, 0x00, 0x06, 2), 0xdb80);
	cfg_write(0, 0x00, 0x04, 4, 0x81000006);	/* detected parity, master parity */
	CHECK_EQ(cfg_read(0, 0x00, 0x06, 2), 0x5a80);
	cfg_write(0, 0x00, 0x06, 2, 0xffff);
	CHECK_EQ(cfg_read(0, 0x00, 0x06, 2), 0x0280);
	cfg_write(0, 0x00, 0x06, 2, 0x0000);
	CHECK_EQ(cfg_read(0, 0x00, 0x06, 2), 0x0280);

	/* Identification does not move, whatever the width. */
	cfg_write(0, 0x00, 0x00, 4, 0xffffffff);
	cfg_write(0, 0x00, 0x02, 2, 0x0000);
	cfg_write(0, 0x00, 0x08, 4, 0x00000000);
	cfg_write(0, 0x00, 0x0e, 1, 0x80);
	cfg_write(0, 0x08, 0x0b, 1, 0xff);
	CHECK_EQ(cfg_read(0, 0x00, 0x00, 4), 0x12378086);
	CHECK_EQ(cfg_read(0, 0x00, 0x08, 4), 0x06000002);
	CHECK_EQ(cfg_read(0, 0x00, 0x0e, 1), 0x00);
	CHECK_EQ(cfg_read(0, 0x08, 0x08, 4), 0x06010000);

	/* BAR sizing finds nothing: ones written, 0 read back. */
	cfg_write(0, 0x00, 0x10, 4, 0xffffffff);
	CHECK_EQ(cfg_read(0, 0x00, 0x10, 4), 0);
	cfg_write(0, 0x08, 0x30, 4, 0xfffff800);
	CHECK_EQ(cfg_read(0, 0x08, 0x30, 4), 0);

	/* Interrupt line is writable; the pin beside it is not. */
	cfg_write(0, 0x00, 0x3c, 2, 0xff0b);
	CHECK_EQ(cfg_read(0, 0x00, 0x3c, 4), 0x0000000b);
	cfg_write(0, 0x08, 0x3c, 1, 0x0a);
	CHECK_EQ(cfg_read(0, 0x08, 0x3c, 1), 0x0a);

	/* Host bridge latency timer: bits 7-3. */
	cfg_write(0, 0x00, 0x0d, 1, 0xff);
	CHECK_EQ(cfg_read(0, 0x00, 0x0d, 1), 0xf8);

	/* PIIX3 PIRQ routing: bit 7 and the IRQ number, bits 6-4 reserved. */
	cfg_write(0, 0x08, 0x60, 4, 0x0b0a0905);
	CHECK_EQ(cfg_read(0, 0x08, 0x60, 4), 0x0b0a0905);
	cfg_write(0, 0x08, 0x62, 1, 0xff);
	CHECK_EQ(cfg_read(0, 0x08, 0x62, 1), 0x8f);
	CHECK_EQ(cfg_read(0, 0x08, 0x61, 2), 0x8f09);
	/* Other chipset registers read 0 and keep it. */
	cfg_write(0, 0x08, 0x82, 1, 0x02);
	CHECK_EQ(cfg_read(0, 0x08, 0x82, 1), 0);
	/* The host bridge's PAM registers (0x59-0x5f) store what the
	 * firmware writes (two 2-bit fields a byte); 0x58 and 0x60 do not. */
	cfg_write(0, 0x00, 0x59, 1, 0x30);
	CHECK_EQ(cfg_read(0, 0x00, 0x59, 1), 0x30);
	cfg_write(0, 0x00, 0x5c, 4, 0xffffffff);
	CHECK_EQ(cfg_read(0, 0x00, 0x5c, 4), 0x33333333);
	cfg_write(0, 0x00, 0x58, 1, 0xff);
	CHECK_EQ(cfg_read(0, 0x00, 0x58, 1), 0);
	/* The host bridge has no PIRQ registers. */
	cfg_write(0, 0x00, 0x60, 1, 0x05);
	CHECK_EQ(cfg_read(0, 0x00, 0x60, 1), 0);

	/* Power-on again. */
	pci_host_init(&pci);
	CHECK_EQ(cfg_read(0, 0x08, 0x60, 4), 0x80808080);
	CHECK_EQ(cfg_read(0, 0x00, 0x04, 2), 0x0006);
	CHECK_EQ(bus.unclaimed_reads[BUS_SPACE_PIO], 0);
	CHECK_EQ(bus.unclaimed_writes[BUS_SPACE_PIO], 0);
}

/* A function plugged in beside the chipset, and what it was told. */
struct dev {
	struct pci_function fn;
	uint64_t mapped[PCI_NUM_BARS];	/* last bar_mapped address per BAR */
	unsigned mapped_calls;
};

static void dev_bar_mapped(void *opaque, unsigned bar, uint64_t addr)
{
	struct dev *d = opaque;
	d->mapped[bar] = addr;
	d->mapped_calls++;
}

static void dev_init(struct dev *d, unsigned devfn, const struct pci_id *id)
{
	pci_function_init(&d->fn, (uint8_t)devfn, id);
	d->fn.bar_mapped = dev_bar_mapped;
	d->fn.opaque = d;
	for (unsigned i = 0; i < PCI_NUM_BARS; i++)
		d->mapped[i] = PCI_BAR_UNMAPPED;
	d->mapped_calls = 0;
}

/* The bochs/QEMU standard VGA: 16 MiB framebuffer, 4 KiB registers. */
static void make_vga(struct dev *d, unsigned devfn)
{
	static const struct pci_id id = {
		.vendor = 0x1234, .device = 0x1111, .revision = 0x02, .class_code = 0x030000,
		.subsystem_vendor = 0x1af4, .subsystem = 0x1100,
	};
	dev_init(d, devfn, &id);
	CHECK_EQ(pci_function_add_bar(&d->fn, 0, PCI_BAR_MEM32_PREFETCH, 16u << 20), 0);
	CHECK_EQ(pci_function_add_bar(&d->fn, 2, PCI_BAR_MEM32, 4096), 0);
}

/* A virtio 1.x block device: memory BARs, four vendor capabilities
 * (common, notify, ISR, device configuration), INTA. */
static void make_virtio(struct dev *d, unsigned devfn)
{
	static const struct pci_id id = {
		.vendor = 0x1af4, .device = 0x1042, .revision = 0x01, .class_code = 0x018000,
		.subsystem_vendor = 0x1af4, .subsystem = 0x1100,
	};
	dev_init(d, devfn, &id);
	CHECK_EQ(pci_function_add_bar(&d->fn, 1, PCI_BAR_MEM32, 4096), 0);
	CHECK_EQ(pci_function_add_bar(&d->fn, 4, PCI_BAR_MEM32, 16384), 0);
	static const unsigned lens[4] = { 16, 20, 16, 16 };
	for (unsigned i = 0; i < 4; i++) {
		int at = pci_function_add_capability(&d->fn, PCI_CAP_ID_VENDOR, lens[i]);
		CHECK(at >= 0x40);
		pci_function_set(&d->fn, (unsigned)at + 2, 1, lens[i]);
		pci_function_set(&d->fn, (unsigned)at + 3, 1, i + 1);	/* cfg_type */
		pci_function_set(&d->fn, (unsigned)at + 4, 1, 4);	/* BAR 4 */
		pci_function_set(&d->fn, (unsigned)at + 8, 4, i * 0x1000);
	}
	pci_function_set_pin(&d->fn, PCI_PIN_INTA);
}

/* Something with I/O BARs, one memory BAR and INTB; multifunction when
 * asked, as function 0 of a device with more. */
static void make_io_dev(struct dev *d, unsigned devfn, uint8_t header, enum pci_pin pin)
{
	const struct pci_id id = {
		.vendor = 0x8086, .device = 0x100e, .class_code = 0x020000, .header_type = header,
	};
	dev_init(d, devfn, &id);
	CHECK_EQ(pci_function_add_bar(&d->fn, 0, PCI_BAR_IO, 256), 0);
	CHECK_EQ(pci_function_add_bar(&d->fn, 1, PCI_BAR_IO, 32), 0);
	CHECK_EQ(pci_function_add_bar(&d->fn, 2, PCI_BAR_MEM32, 1u << 20), 0);
	pci_function_set_pin(&d->fn, pin);
}

/* What Linux's pci_scan_slot and pci_setup_device learn of a function. */
struct scanned {
	unsigned devfn;
	uint32_t id, class_rev, subsystem;
	uint8_t header, pin, line;
	uint32_t bar_value[PCI_NUM_BARS];	/* as read before sizing */
	uint32_t bar_size[PCI_NUM_BARS];
	uint32_t rom_size;
	unsigned caps[8], cap_ids[8], ncaps;
};

/* __pci_read_base: decoding off around the sizing (unless it was off
 * already), the value, ones (or the ROM mask) written, the size mask
 * read, the value restored, decoding restored. */
static void linux_read_base(unsigned devfn, unsigned reg, uint32_t mask, uint32_t *value,
			    uint32_t *size)
{
	uint32_t cmd = cfg_read(0, devfn, 0x04, 2);
	if (cmd & 3)
		cfg_write(0, devfn, 0x04, 2, cmd & ~3u);
	uint32_t l = cfg_read(0, devfn, reg, 4);
	cfg_write(0, devfn, reg, 4, l | mask);
	uint32_t sz = cfg_read(0, devfn, reg, 4);
	cfg_write(0, devfn, reg, 4, l);
	if (cmd & 3)
		cfg_write(0, devfn, 0x04, 2, cmd);

	/* pci_size() for an I/O BAR (16-bit ports) or a 32-bit memory one. */
	if (sz == 0xffffffff)
		sz = 0;
	uint32_t addr_mask = reg == 0x30 ? 0xfffff800u : (l & 1) ? 0xfffcu : 0xfffffff0u;
	uint32_t s = sz & addr_mask;
	*value = l;
	*size = s & ~(s - 1);
}

static unsigned linux_scan_bus(struct scanned *out, unsigned max)
{
	unsigned n = 0;
	for (unsigned slot = 0; slot < 32; slot++) {
		for (unsigned f = 0; f < 8; f++) {
			unsigned devfn = pci_host_devfn(slot, f);
			uint32_t id = cfg_read(0, devfn, 0x00, 4);
			if (id == 0xffffffff || id == 0 || id == 0x0000ffff || id == 0xffff0000) {
				if (f == 0)
					break;	/* no function 0, no device */
				continue;
			}
			CHECK(n < max);
			if (n >= max)
				return n;
			struct scanned *d = &out[n++];
			*d = (struct scanned){ .devfn = devfn, .id = id };
			d->header = (uint8_t)cfg_read(0, devfn, 0x0e, 1);
			d->class_rev = cfg_read(0, devfn, 0x08, 4);
			d->pin = (uint8_t)cfg_read(0, devfn, 0x3d, 1);
			if (d->pin)
				d->line = (uint8_t)cfg_read(0, devfn, 0x3c, 1);
			for (unsigned b = 0; b < PCI_NUM_BARS; b++)
				linux_read_base(devfn, 0x10 + 4 * b, 0xffffffff, &d->bar_value[b],
						&d->bar_size[b]);
			uint32_t rom;
			linux_read_base(devfn, 0x30, 0xfffff800, &rom, &d->rom_size);
			d->subsystem = cfg_read(0, devfn, 0x2c, 4);
			/* pci_find_capability, collecting the whole chain. */
			if (cfg_read(0, devfn, 0x06, 2) & 0x10) {
				unsigned pos = cfg_read(0, devfn, 0x34, 1);
				for (unsigned ttl = 48; ttl && pos >= 0x40 && d->ncaps < 8; ttl--) {
					pos &= ~3u;
					uint32_t ent = cfg_read(0, devfn, pos, 2);
					if ((ent & 0xff) == 0xff)
						break;
					d->caps[d->ncaps] = pos;
					d->cap_ids[d->ncaps++] = ent & 0xff;
					pos = ent >> 8;
				}
			}
			if (f == 0 && !(d->header & 0x80))
				break;	/* single-function device */
		}
	}
	return n;
}

/* The machine the scan and firmware tests use: display in slot 2, virtio
 * in slot 3, a two-function device in slot 4 and a function 1 without
 * function 0 in slot 5. */
struct machine {
	struct dev vga, virtio, multi0, multi1, lonely;
};

static void plug_machine(struct machine *m)
{
	setup();
	make_vga(&m->vga, pci_host_devfn(2, 0));
	make_virtio(&m->virtio, pci_host_devfn(3, 0));
	make_io_dev(&m->multi0, pci_host_devfn(4, 0), PCI_HEADER_MULTIFUNCTION, PCI_PIN_INTB);
	make_io_dev(&m->multi1, pci_host_devfn(4, 1), 0, PCI_PIN_INTA);
	make_io_dev(&m->lonely, pci_host_devfn(5, 1), 0, PCI_PIN_INTA);
	CHECK_EQ(pci_host_add(&pci, &m->vga.fn), 0);
	CHECK_EQ(pci_host_add(&pci, &m->virtio.fn), 0);
	CHECK_EQ(pci_host_add(&pci, &m->multi0.fn), 0);
	CHECK_EQ(pci_host_add(&pci, &m->multi1.fn), 0);
	CHECK_EQ(pci_host_add(&pci, &m->lonely.fn), 0);
}

static void test_plugged_scan(void)
{
	struct machine m;
	plug_machine(&m);

	/* A devfn answers once: the chipset's and the plugged ones. */
	struct dev dup;
	make_vga(&dup, PCI_HOST_BRIDGE_DEVFN);
	CHECK_EQ(pci_host_add(&pci, &dup.fn), -EEXIST);
	make_vga(&dup, pci_host_devfn(3, 0));
	CHECK_EQ(pci_host_add(&pci, &dup.fn), -EEXIST);

	struct scanned found[16];
	unsigned n = linux_scan_bus(found, 16);
	CHECK_EQ(n, 6);
	static const unsigned devfns[6] = { 0x00, 0x08, 0x10, 0x18, 0x20, 0x21 };
	for (unsigned i = 0; i < 6 && i < n; i++)
		CHECK_EQ(found[i].devfn, devfns[i]);
	if (n != 6)
		return;

	/* The chipset as before: no BARs, no ROM, no pin, no capabilities. */
	CHECK_EQ(found[0].id, 0x12378086);
	CHECK_EQ(found[1].header, 0x80);
	for (unsigned b = 0; b < PCI_NUM_BARS; b++)
		CHECK_EQ(found[0].bar_size[b] | found[1].bar_size[b], 0);
	CHECK_EQ(found[1].ncaps, 0);

	/* The display: sizes and prefetchability as bochs-drm wants them. */
	const struct scanned *vga = &found[2];
	CHECK_EQ(vga->id, 0x11111234);
	CHECK_EQ(vga->class_rev >> 8, 0x030000);
	CHECK_EQ(vga->subsystem, 0x11001af4);
	CHECK_EQ(vga->bar_size[0], 16u << 20);
	CHECK_EQ(vga->bar_value[0], 0x00000008);
	CHECK_EQ(vga->bar_size[1], 0);
	CHECK_EQ(vga->bar_size[2], 4096);
	CHECK_EQ(vga->bar_value[2], 0);
	CHECK_EQ(vga->rom_size, 0);
	CHECK_EQ(vga->pin, 0);
	CHECK_EQ(vga->ncaps, 0);

	/* Virtio: the capability chain the driver walks for its BAR ranges. */
	const struct scanned *vio = &found[3];
	CHECK_EQ(vio->id, 0x10421af4);
	CHECK_EQ(vio->bar_size[1], 4096);
	CHECK_EQ(vio->bar_size[4], 16384);
	CHECK_EQ(vio->pin, 1);
	CHECK_EQ(vio->line, 0);
	CHECK_EQ(vio->ncaps, 4);
	static const unsigned cap_at[4] = { 0x40, 0x50, 0x64, 0x74 };
	for (unsigned i = 0; i < 4; i++) {
		CHECK_EQ(vio->caps[i], cap_at[i]);
		CHECK_EQ(vio->cap_ids[i], PCI_CAP_ID_VENDOR);
		CHECK_EQ(cfg_read(0, 0x18, cap_at[i] + 3, 1), i + 1);
		CHECK_EQ(cfg_read(0, 0x18, cap_at[i] + 8, 4), i * 0x1000);
	}

	/* The two functions of slot 4; slot 5's function 1 stays unseen. */
	CHECK_EQ(found[4].header, 0x80);
	CHECK_EQ(found[4].bar_size[0], 256);
	CHECK_EQ(found[4].bar_value[0], 0x00000001);
	CHECK_EQ(found[4].bar_size[1], 32);
	CHECK_EQ(found[4].bar_size[2], 1u << 20);
	CHECK_EQ(found[4].pin, 2);
	CHECK_EQ(found[5].header, 0x00);
	CHECK_EQ(found[5].pin, 1);
	CHECK_EQ(cfg_read(0, pci_host_devfn(5, 1), 0x00, 4), 0x100e8086);

	/* Decoding was never on, so no BAR was ever mapped. */
	CHECK_EQ(m.vga.mapped_calls + m.virtio.mapped_calls + m.multi0.mapped_calls, 0);
	CHECK_EQ(bus.unclaimed_reads[BUS_SPACE_PIO] + bus.unclaimed_writes[BUS_SPACE_PIO], 0);
	/* The direct interface reaches the plugged functions too. */
	CHECK_EQ(pci_host_config_read(&pci, 0, 0x10, 0x00, 4), 0x11111234);
	pci_host_config_write(&pci, 0, 0x10, 0x3c, 1, 5);
	CHECK_EQ(cfg_read(0, 0x10, 0x3c, 1), 5);
	CHECK_EQ(pci_host_config_read(&pci, 1, 0x10, 0x00, 4), 0xffffffff);
}

/* The ISA IRQ levels the host reports, checked to change on each call. */
struct isa_irqs {
	uint16_t level;
	unsigned calls;
};

static void isa_irq_set(void *opaque, unsigned irq, int level)
{
	struct isa_irqs *r = opaque;
	CHECK(irq < 16);
	CHECK_EQ((r->level >> irq) & 1, !level);
	r->calls++;
	r->level = (uint16_t)(level ? r->level | 1u << irq : r->level & ~(1u << irq));
}

static void test_intx_routing(void)
{
	struct isa_irqs irqs = { 0 };
	struct dev virtio, other, multi;
	setup();
	pci.set_isa_irq = isa_irq_set;
	pci.irq_opaque = &irqs;
	make_virtio(&virtio, pci_host_devfn(3, 0));			/* INTA: PIRQC */
	make_virtio(&other, pci_host_devfn(7, 0));			/* INTA: PIRQC too */
	make_io_dev(&multi, pci_host_devfn(4, 0), 0, PCI_PIN_INTB);	/* INTB: PIRQA */
	CHECK_EQ(pci_host_add(&pci, &virtio.fn), 0);
	CHECK_EQ(pci_host_add(&pci, &other.fn), 0);
	CHECK_EQ(pci_host_add(&pci, &multi.fn), 0);
	CHECK_EQ(pci_host_pirq(1, PCI_PIN_INTA), 0);
	CHECK_EQ(pci_host_pirq(2, PCI_PIN_INTA), 1);
	CHECK_EQ(pci_host_pirq(3, PCI_PIN_INTA), 2);
	CHECK_EQ(pci_host_pirq(0, PCI_PIN_INTA), 3);
	CHECK_EQ(pci_host_pirq(3, PCI_PIN_INTD), 1);

	/* Routes disabled from reset: a request goes nowhere... */
	pci_function_set_irq(&virtio.fn, true);
	CHECK_EQ(irqs.calls, 0);
	/* ...until the OS or firmware steers PIRQC, and then at once. */
	cfg_write(0, 0x08, 0x62, 1, 11);
	CHECK_EQ(irqs.calls, 1);
	CHECK_EQ(irqs.level, 1u << 11);

	/* Wired-OR: the line falls when the last function lets go. */
	pci_function_set_irq(&other.fn, true);
	CHECK_EQ(irqs.calls, 1);
	pci_function_set_irq(&virtio.fn, false);
	CHECK_EQ(irqs.calls, 1);
	pci_function_set_irq(&other.fn, false);
	CHECK_EQ(irqs.calls, 2);
	CHECK_EQ(irqs.level, 0);

	/* Two PIRQs on one IRQ, then one of them moved while asserted. */
	cfg_write(0, 0x08, 0x60, 1, 11);
	pci_function_set_irq(&multi.fn, true);
	pci_function_set_irq(&virtio.fn, true);
	CHECK_EQ(irqs.level, 1u << 11);
	CHECK_EQ(irqs.calls, 3);
	cfg_write(0, 0x08, 0x62, 1, 10);
	CHECK_EQ(irqs.level, 1u << 11 | 1u << 10);
	/* Bit 7 disables a route; the reserved IRQs go nowhere either. */
	cfg_write(0, 0x08, 0x60, 1, 0x8b);
	CHECK_EQ(irqs.level, 1u << 10);
	static const uint8_t reserved[] = { 0, 1, 2, 8, 13 };
	for (unsigned i = 0; i < sizeof(reserved); i++) {
		cfg_write(0, 0x08, 0x60, 1, reserved[i]);
		CHECK_EQ(irqs.level, 1u << 10);
	}
	cfg_write(0, 0x08, 0x60, 4, 0x0b0a0b0a);	/* A, C on 10; B, D on 11 */
	CHECK_EQ(irqs.level, 1u << 10);

	/* INTx disable in the function takes it off the PIRQ line. */
	cfg_write(0, 0x18, 0x04, 2, PCI_COMMAND_INTX_DISABLE);
	CHECK_EQ(irqs.level, 1u << 10);	/* multi still holds PIRQA */
	pci_function_set_irq(&multi.fn, false);
	CHECK_EQ(irqs.level, 0);
	cfg_write(0, 0x18, 0x04, 2, 0);
	CHECK_EQ(irqs.level, 1u << 10);
	CHECK_EQ(cfg_read(0, 0x18, 0x06, 2) & PCI_STATUS_INTERRUPT, PCI_STATUS_INTERRUPT);

	/* A reset lets go of every line and disables the routes; the
	 * functions stay plugged, at their power-on state. */
	cfg_write(0, 0x18, 0x14, 4, 0xe0001000);
	cfg_write(0, 0x18, 0x20, 4, 0xe0004000);
	cfg_write(0, 0x18, 0x04, 2, PCI_COMMAND_MEMORY);
	CHECK_EQ(virtio.mapped[1], 0xe0001000);
	CHECK_EQ(virtio.mapped[4], 0xe0004000);
	out(PCI_CONFIG_ADDRESS_PORT, 4, 0x80001800);
	unsigned calls = irqs.calls;
	pci_host_reset(&pci);
	CHECK_EQ(irqs.level, 0);
	CHECK_EQ(irqs.calls, calls + 1);
	CHECK_EQ(in(PCI_CONFIG_ADDRESS_PORT, 4), 0);
	CHECK_EQ(virtio.mapped[1], PCI_BAR_UNMAPPED);
	CHECK_EQ(virtio.mapped[4], PCI_BAR_UNMAPPED);
	CHECK_EQ(cfg_read(0, 0x08, 0x60, 4), 0x80808080);
	CHECK_EQ(cfg_read(0, 0x18, 0x00, 4), 0x10421af4);
	CHECK_EQ(cfg_read(0, 0x18, 0x04, 4), PCI_STATUS_CAP_LIST << 16);
	CHECK_EQ(cfg_read(0, 0x18, 0x14, 4), 0);
	CHECK_EQ(cfg_read(0, 0x00, 0x04, 2), 0x0006);
	/* The wiring survives the reset. */
	pci_function_set_irq(&other.fn, true);
	cfg_write(0, 0x08, 0x62, 1, 5);
	CHECK_EQ(irqs.level, 1u << 5);
	pci_function_set_irq(&other.fn, false);
	CHECK_EQ(irqs.level, 0);
}

struct placed {
	uint64_t addr, size;
	bool io;
};

/* Every BAR of the plugged functions: placed in its window, aligned,
 * decoding, told to its device, and overlapping no other. */
static void check_placement(struct dev *const *devs, unsigned ndevs,
			    const struct pci_firmware_config *cfg)
{
	struct placed all[32];
	unsigned n = 0;
	for (unsigned i = 0; i < ndevs; i++) {
		struct dev *d = devs[i];
		CHECK_EQ(cfg_read(0, d->fn.devfn, 0x04, 2) & 3, 3);
		for (unsigned b = 0; b < PCI_NUM_BARS; b++) {
			const struct pci_bar *bar = &d->fn.bar[b];
			if (bar->kind == PCI_BAR_NONE)
				continue;
			bool io = bar->kind == PCI_BAR_IO;
			uint32_t v = cfg_read(0, d->fn.devfn, 0x10 + 4 * b, 4);
			uint64_t addr = v & (io ? ~3u : ~15u);
			CHECK_EQ(addr % bar->size, 0);
			CHECK(addr >= (io ? cfg->io_start : cfg->mem_start));
			CHECK(addr + bar->size - 1 <= (io ? cfg->io_end : cfg->mem_end));
			CHECK_EQ(d->mapped[b], addr);
			CHECK_EQ(bar->mapped, addr);
			all[n++] = (struct placed){ .addr = addr, .size = bar->size, .io = io };
		}
	}
	for (unsigned i = 0; i < n; i++) {
		for (unsigned j = i + 1; j < n; j++) {
			if (all[i].io == all[j].io)
				CHECK(all[i].addr + all[i].size <= all[j].addr ||
				      all[j].addr + all[j].size <= all[i].addr);
		}
	}
}

static void test_firmware(void)
{
	struct machine m;
	struct pci_firmware_config cfg;
	struct isa_irqs irqs = { 0 };
	plug_machine(&m);
	pci.set_isa_irq = isa_irq_set;
	pci.irq_opaque = &irqs;
	pci_firmware_config_default(&cfg);
	CHECK_EQ(cfg.mem_start, 0xe0000000);
	CHECK_EQ(cfg.mem_end, 0xfebeffff);
	CHECK_EQ(cfg.io_start, 0xc000);
	CHECK_EQ(cfg.io_end, 0xffff);

	CHECK_EQ(pci_firmware_setup(&pci, &cfg), 0);
	struct dev *const devs[] = { &m.vga, &m.virtio, &m.multi0, &m.multi1, &m.lonely };
	check_placement(devs, 5, &cfg);

	/* Largest first, ties in devfn then BAR order. */
	CHECK_EQ(cfg_read(0, 0x10, 0x10, 4), 0xe0000008);
	CHECK_EQ(cfg_read(0, 0x20, 0x18, 4), 0xe1000000);
	CHECK_EQ(cfg_read(0, 0x21, 0x18, 4), 0xe1100000);
	CHECK_EQ(cfg_read(0, 0x29, 0x18, 4), 0xe1200000);
	CHECK_EQ(cfg_read(0, 0x18, 0x20, 4), 0xe1300000);
	CHECK_EQ(cfg_read(0, 0x10, 0x18, 4), 0xe1304000);
	CHECK_EQ(cfg_read(0, 0x18, 0x14, 4), 0xe1305000);
	CHECK_EQ(cfg_read(0, 0x20, 0x10, 4), 0xc001);
	CHECK_EQ(cfg_read(0, 0x21, 0x10, 4), 0xc101);
	CHECK_EQ(cfg_read(0, 0x29, 0x10, 4), 0xc201);
	CHECK_EQ(cfg_read(0, 0x20, 0x14, 4), 0xc301);
	CHECK_EQ(cfg_read(0, 0x21, 0x14, 4), 0xc321);
	CHECK_EQ(cfg_read(0, 0x29, 0x14, 4), 0xc341);

	/* PIRQA-D to 10, 10, 11, 11, and each pin's IRQ in its line. */
	CHECK_EQ(cfg_read(0, 0x08, 0x60, 4), 0x0b0b0a0a);
	CHECK_EQ(cfg_read(0, 0x10, 0x3c, 1), 0);	/* no pin */
	CHECK_EQ(cfg_read(0, 0x18, 0x3c, 1), 11);	/* slot 3 INTA: PIRQC */
	CHECK_EQ(cfg_read(0, 0x20, 0x3c, 1), 10);	/* slot 4 INTB: PIRQA */
	CHECK_EQ(cfg_read(0, 0x21, 0x3c, 1), 11);	/* slot 4 INTA: PIRQD */
	CHECK_EQ(cfg_read(0, 0x29, 0x3c, 1), 10);	/* slot 5 INTA: PIRQA */
	pci_function_set_irq(&m.virtio.fn, true);
	CHECK_EQ(irqs.level, 1u << 11);
	pci_function_set_irq(&m.multi0.fn, true);
	CHECK_EQ(irqs.level, 1u << 11 | 1u << 10);
	pci_function_set_irq(&m.virtio.fn, false);
	pci_function_set_irq(&m.multi0.fn, false);
	CHECK_EQ(irqs.level, 0);
	/* The chipset is left alone. */
	CHECK_EQ(cfg_read(0, 0x00, 0x04, 2), 0x0006);
	CHECK_EQ(cfg_read(0, 0x08, 0x04, 2), 0x0007);

	/* Linux's scan finds the assignment, and sizing with its decode
	 * dance leaves every BAR mapped where the firmware put it. */
	struct scanned found[16];
	unsigned n = linux_scan_bus(found, 16);
	CHECK_EQ(n, 6);
	CHECK_EQ(found[2].bar_value[0], 0xe0000008);
	CHECK_EQ(found[2].bar_size[0], 16u << 20);
	CHECK_EQ(found[3].line, 11);
	check_placement(devs, 5, &cfg);

	/* After a reset, the same again. */
	pci_host_reset(&pci);
	CHECK_EQ(m.vga.mapped[0], PCI_BAR_UNMAPPED);
	CHECK_EQ(cfg_read(0, 0x18, 0x3c, 1), 0);
	CHECK_EQ(pci_firmware_setup(&pci, &cfg), 0);
	check_placement(devs, 5, &cfg);
	CHECK_EQ(cfg_read(0, 0x10, 0x10, 4), 0xe0000008);
}

static void test_firmware_limits(void)
{
	struct machine m;
	struct pci_firmware_config cfg;
	plug_machine(&m);

	/* A start that is not aligned for the largest BAR moves up to it. */
	pci_firmware_config_default(&cfg);
	cfg.mem_start = 0xe0001000;
	cfg.io_start = 0xc010;
	CHECK_EQ(pci_firmware_setup(&pci, &cfg), 0);
	CHECK_EQ(cfg_read(0, 0x10, 0x10, 4), 0xe1000008);
	CHECK_EQ(cfg_read(0, 0x20, 0x10, 4), 0xc101);
	struct dev *const devs[] = { &m.vga, &m.virtio, &m.multi0, &m.multi1, &m.lonely };
	check_placement(devs, 5, &cfg);

	/* Windows too small: nothing at all is written. */
	plug_machine(&m);
	pci_firmware_config_default(&cfg);
	cfg.mem_end = cfg.mem_start + (16u << 20) + (3u << 20) - 1;	/* 16 MiB + 3 MiB */
	CHECK_EQ(pci_firmware_setup(&pci, &cfg), -ENOSPC);
	pci_firmware_config_default(&cfg);
	cfg.io_end = 0xc35e;	/* one byte short */
	CHECK_EQ(pci_firmware_setup(&pci, &cfg), -ENOSPC);
	CHECK_EQ(cfg_read(0, 0x10, 0x10, 4), 0x00000008);
	CHECK_EQ(cfg_read(0, 0x20, 0x10, 4), 0x00000001);
	CHECK_EQ(cfg_read(0, 0x10, 0x04, 2), 0);
	CHECK_EQ(cfg_read(0, 0x18, 0x3c, 1), 0);
	CHECK_EQ(cfg_read(0, 0x08, 0x60, 4), 0x80808080);
	CHECK_EQ(m.vga.mapped_calls, 0);
	/* Exactly big enough is enough. */
	cfg.io_end = 0xc35f;
	CHECK_EQ(pci_firmware_setup(&pci, &cfg), 0);
	check_placement(devs, 5, &cfg);

	/* Configurations that make no sense. */
	pci_firmware_config_default(&cfg);
	cfg.mem_start = cfg.mem_end + 1;
	CHECK_EQ(pci_firmware_setup(&pci, &cfg), -EINVAL);
	pci_firmware_config_default(&cfg);
	cfg.io_end = 0x10000;
	CHECK_EQ(pci_firmware_setup(&pci, &cfg), -EINVAL);
	pci_firmware_config_default(&cfg);
	cfg.io_start = 0;
	CHECK_EQ(pci_firmware_setup(&pci, &cfg), -EINVAL);
	static const uint8_t bad_irqs[] = { 0, 1, 2, 8, 13, 16, 0x80 };
	for (unsigned i = 0; i < sizeof(bad_irqs); i++) {
		pci_firmware_config_default(&cfg);
		cfg.pirq_irq[2] = bad_irqs[i];
		CHECK_EQ(pci_firmware_setup(&pci, &cfg), -EINVAL);
	}

	/* Nothing plugged in: only the PIRQ routes. */
	setup();
	pci_firmware_config_default(&cfg);
	CHECK_EQ(pci_firmware_setup(&pci, &cfg), 0);
	CHECK_EQ(cfg_read(0, 0x08, 0x60, 4), 0x0b0b0a0a);
	CHECK_EQ(cfg_read(0, 0x00, 0x04, 4), 0x02800006);
}

static unsigned pam_calls;

static void count_pam(void *opaque)
{
	(void)opaque;
	pam_calls++;
}

/* The PAM registers' decoding (82441FX datasheet: PAM0's high nibble is
 * 0xF0000-0xFFFFF, PAM1-6 two 16 KiB segments each from 0xC0000, the
 * low nibble first; WE is bit 1 of a nibble) into the pages whose writes
 * are dropped, and the board's callback on each PAM write, through the
 * ports as SeaBIOS writes them. */
static void test_pam(void)
{
	setup();
	pci.pam_changed = count_pam;
	/* Reset: every nibble 0, every page of 0xC0000-0xFFFFF locked. */
	CHECK_EQ(pci_host_pam_write_locked(&pci), UINT64_MAX);
	/* SeaBIOS's make_bios_writable: dwords at 0x58 and 0x5c. */
	cfg_write(0, 0x00, 0x58, 4, 0x33333000);
	cfg_write(0, 0x00, 0x5c, 4, 0x33333333);
	CHECK_EQ(pam_calls, 2);
	CHECK_EQ(pci_host_pam_write_locked(&pci), 0);
	/* make_bios_readonly with the VGA BIOS in 0xC0000-0xC7FFF and more
	 * ROMs up to 0xCC000: PAM1 0x11, PAM2 0x31 (0xCC000-0xCFFFF open),
	 * the rest open, PAM0 RE only. */
	cfg_write(0, 0x00, 0x58, 4, 0x31111000);
	CHECK_EQ(cfg_read(0, 0x00, 0x59, 1), 0x10);
	CHECK_EQ(pci_host_pam_write_locked(&pci), 0xffffull << 48 | 0xfffull);
	/* Write-only (WE without RE) writes RAM; RE without WE does not. */
	cfg_write(0, 0x00, 0x5f, 1, 0x21);
	CHECK_EQ(pci_host_pam_write_locked(&pci),
		 0xffffull << 48 | 0xfull << 40 | 0xfffull);
	CHECK_EQ(pam_calls, 4);
	/* Neither nibble of PAM0's low half exists; registers beside PAM do
	 * not call back. */
	cfg_write(0, 0x00, 0x59, 1, 0x2f);
	CHECK_EQ(cfg_read(0, 0x00, 0x59, 1), 0x20);
	CHECK_EQ(pci_host_pam_write_locked(&pci), 0xfull << 40 | 0xfffull);
	cfg_write(0, 0x00, 0x60, 1, 0x05);
	cfg_write(0, 0x00, 0x56, 2, 0xffff);
	CHECK_EQ(pam_calls, 5);
	/* A reset locks it all again. */
	pci_host_reset(&pci);
	CHECK_EQ(pci_host_pam_write_locked(&pci), UINT64_MAX);
	pci.pam_changed = NULL;
}

static unsigned resets;

static void count_reset(void *opaque)
{
	(void)opaque;
	resets++;
}

/* 0xcf9: SYS_RST and FULL_RESET are stored and read back, RST_CPU asks
 * for the reset and reads 0; the bits survive a snapshot (version 2) and
 * a machine reset clears them. */
static void test_reset_control(void)
{
	setup();
	pci.reset_request = count_reset;
	resets = 0;
	CHECK_EQ(in(0xcf9, 1), 0);
	out(0xcf9, 1, 0x02);
	CHECK_EQ(resets, 0);
	CHECK_EQ(in(0xcf9, 1), 0x02);
	out(0xcf9, 1, 0x0a);
	CHECK_EQ(in(0xcf9, 1), 0x0a);
	/* CONFIG_ADDRESS is only the dword at 0xcf8: not touched. */
	CHECK_EQ(in(PCI_CONFIG_ADDRESS_PORT, 4), 0);

	int fd = memfd_create("pci.snap", 0);
	CHECK(fd >= 0);
	struct snap_writer w;
	CHECK_EQ(snapw_open_fd(&w, fd, "pci.snap", 1), 0);
	pci_host_save(&pci, &w);
	CHECK_EQ(snapw_close(&w), 0);
	pci_host_reset(&pci);
	CHECK_EQ(in(0xcf9, 1), 0);
	struct snap_reader r;
	CHECK_EQ(snapr_open_fd(&r, fd, "pci.snap"), 0);
	CHECK_EQ(snapr_next(&r), 1);
	CHECK(strcmp(r.tag, "PCI ") == 0);
	CHECK_EQ(pci_host_load(&pci, &r), 0);
	snapr_close(&r);
	close(fd);
	CHECK_EQ(in(0xcf9, 1), 0x0a);

	out(0xcf9, 1, 0x06);
	CHECK_EQ(resets, 1);
	CHECK_EQ(in(0xcf9, 1) & 0x04, 0);
}

int main(void)
{
	test_detection();
	test_identification();
	test_absent();
	test_registers();
	test_plugged_scan();
	test_intx_routing();
	test_firmware();
	test_firmware_limits();
	test_pam();
	test_reset_control();
	return check_report("test_pci");
}
