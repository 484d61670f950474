/* PCI configuration mechanism #1 through the bus the way Linux uses it:
 * the type 1 detection and the failing type 2 probe, the sanity check, a
 * bus 0 scan, reads at every width and offset, absent functions, the
 * enable bit, and the register semantics (read-only identification,
 * writable command, write-1-to-clear status, absent BARs, interrupt line,
 * PIIX3 PIRQ routing). */
#include "check.h"
#include "devices/bus.h"
#include "devices/pci_host.h"

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

	/* No BARs, no ROM, no capabilities. */
	for (unsigned reg = 0x10; reg <= 0x34; reg += 4) {
		CHECK_EQ(cfg_read(0, 0x00, reg, 4), 0);
		CHECK_EQ(cfg_read(0, 0x08, reg, 4), 0);
	}
	/* The same through the direct interface. */
	CHECK_EQ(pci_host_config_read(&pci, 0, pci_devfn(1, 0), 0x00, 4), 0x70008086);
	CHECK_EQ(pci_host_config_read(&pci, 0, pci_devfn(0, 0), 0xfe, 2), 0);
	CHECK_EQ(pci_host_config_read(&pci, 0, pci_devfn(0, 0), 0xfe, 4), 0xffffffff);
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
	CHECK_EQ(cfg_read(0, pci_devfn(0, 1), 0x00, 4), 0xffffffff);
	CHECK_EQ(cfg_read(0, pci_devfn(1, 1), 0x00, 4), 0xffffffff);
	CHECK_EQ(cfg_read(0, pci_devfn(2, 0), 0x00, 2), 0xffff);
	CHECK_EQ(cfg_read(0, pci_devfn(31, 7), 0x0e, 1), 0xff);
	CHECK_EQ(cfg_read(1, 0x00, 0x00, 4), 0xffffffff);
	CHECK_EQ(cfg_read(1, 0x00, 0x0a, 2), 0xffff);
	/* Writes there go nowhere and disturb nothing. */
	cfg_write(1, 0x00, 0x04, 2, 0x0000);
	cfg_write(0, pci_devfn(2, 0), 0x3c, 1, 0x0b);
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
	cfg_write(0, 0x00, 0x59, 1, 0x30);
	CHECK_EQ(cfg_read(0, 0x00, 0x59, 1), 0);
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

int main(void)
{
	test_detection();
	test_identification();
	test_absent();
	test_registers();
	return check_report("test_pci");
}
