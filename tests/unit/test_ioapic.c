/* The I/O APIC through a real bus, first alone with a recording deliver
 * callback (ID, version and arbitration registers, redirection entries and
 * odd-width accesses, edge delivery once per edge, level delivery with
 * Remote IRR and EOI re-delivery, masking an asserted line, active-low
 * inputs, refused messages, delivery modes that go nowhere), then wired to
 * a local APIC end to end, with the local APIC's EOI broadcast clearing
 * Remote IRR. */
#include "check.h"
#include "devices/bus.h"
#include "devices/ioapic.h"
#include "devices/irq.h"
#include "devices/lapic.h"

#define BASE IOAPIC_DEFAULT_BASE
#define MAX_MESSAGES 16

struct message {
	uint8_t vector;
	bool level;
	uint8_t dest;
	bool logical;
};

struct harness {
	struct bus bus;
	struct ioapic io;
	bool refuse;
	unsigned count;
	struct message msg[MAX_MESSAGES];
};

static bool record_message(void *opaque, uint8_t vector, bool level, uint8_t dest, bool logical,
			   bool lowest)
{
	(void)lowest;
	struct harness *h = opaque;

	if (h->refuse)
		return false;
	if (h->count < MAX_MESSAGES)
		h->msg[h->count] = (struct message){ vector, level, dest, logical };
	h->count++;
	return true;
}

static void setup(struct harness *h)
{
	memset(h, 0, sizeof(*h));
	bus_init(&h->bus);
	ioapic_init(&h->io, record_message, h);
	CHECK_EQ(ioapic_attach(&h->io, &h->bus, BASE), 0);
}

static uint32_t reg_read(struct bus *bus, uint8_t index)
{
	bus_write(bus, BUS_SPACE_MMIO, BASE + IOAPIC_IOREGSEL, 4, index);
	return (uint32_t)bus_read(bus, BUS_SPACE_MMIO, BASE + IOAPIC_IOWIN, 4);
}

static void reg_write(struct bus *bus, uint8_t index, uint32_t value)
{
	bus_write(bus, BUS_SPACE_MMIO, BASE + IOAPIC_IOREGSEL, 4, index);
	bus_write(bus, BUS_SPACE_MMIO, BASE + IOAPIC_IOWIN, 4, value);
}

/* High half first, as Linux writes an entry. */
static void program(struct bus *bus, unsigned pin, uint64_t entry)
{
	reg_write(bus, (uint8_t)(IOAPIC_REG_REDIR + 2 * pin + 1), (uint32_t)(entry >> 32));
	reg_write(bus, (uint8_t)(IOAPIC_REG_REDIR + 2 * pin), (uint32_t)entry);
}

static uint64_t entry(struct bus *bus, unsigned pin)
{
	uint64_t lo = reg_read(bus, (uint8_t)(IOAPIC_REG_REDIR + 2 * pin));
	return lo | (uint64_t)reg_read(bus, (uint8_t)(IOAPIC_REG_REDIR + 2 * pin + 1)) << 32;
}

static void test_registers(void)
{
	struct harness h;
	setup(&h);

	CHECK_EQ(reg_read(&h.bus, IOAPIC_REG_VERSION), 0x00170011);
	CHECK_EQ(reg_read(&h.bus, IOAPIC_REG_ID), 0);
	CHECK_EQ(reg_read(&h.bus, IOAPIC_REG_ARBITRATION), 0);
	reg_write(&h.bus, IOAPIC_REG_ID, 0xffffffff);
	CHECK_EQ(reg_read(&h.bus, IOAPIC_REG_ID), 0x0f000000);
	CHECK_EQ(reg_read(&h.bus, IOAPIC_REG_ARBITRATION), 0x0f000000);
	reg_write(&h.bus, IOAPIC_REG_VERSION, 0);
	reg_write(&h.bus, IOAPIC_REG_ARBITRATION, 0);
	CHECK_EQ(reg_read(&h.bus, IOAPIC_REG_VERSION), 0x00170011);
	CHECK_EQ(reg_read(&h.bus, IOAPIC_REG_ARBITRATION), 0x0f000000);
	CHECK_EQ(bus_read(&h.bus, BUS_SPACE_MMIO, BASE + IOAPIC_IOREGSEL, 4),
		 IOAPIC_REG_ARBITRATION);

	for (unsigned pin = 0; pin < IOAPIC_PINS; pin++)
		CHECK_EQ(entry(&h.bus, pin), 0x10000);
	/* Round trip: all writable bits, none of the read-only ones. */
	program(&h.bus, 5, ~0ull);
	CHECK_EQ(entry(&h.bus, 5), 0xff0000000001afffull);
	program(&h.bus, 5, 0x4200000000008951ull);
	CHECK_EQ(entry(&h.bus, 5), 0x4200000000008951ull);
	program(&h.bus, 23, 0x0100000000010a33ull);
	CHECK_EQ(entry(&h.bus, 23), 0x0100000000010a33ull);
	CHECK_EQ(h.count, 0);
	/* Past the table. */
	reg_write(&h.bus, 0x40, 0x1234);
	CHECK_EQ(reg_read(&h.bus, 0x40), 0);
	CHECK_EQ(reg_read(&h.bus, 0xff), 0);

	/* A byte write selects; narrow reads see the dword's bytes. */
	bus_write(&h.bus, BUS_SPACE_MMIO, BASE + IOAPIC_IOREGSEL, 1, IOAPIC_REG_VERSION);
	CHECK_EQ(bus_read(&h.bus, BUS_SPACE_MMIO, BASE + IOAPIC_IOWIN + 2, 1), 0x17);
	CHECK_EQ(bus_read(&h.bus, BUS_SPACE_MMIO, BASE + IOAPIC_IOWIN, 2), 0x0011);
	CHECK_EQ(bus_read(&h.bus, BUS_SPACE_MMIO, BASE + 0x20, 4), 0);
	CHECK_EQ(bus_read(&h.bus, BUS_SPACE_MMIO, BASE + 0x40, 4), 0);
	/* A narrow IOWIN write is dropped. */
	bus_write(&h.bus, BUS_SPACE_MMIO, BASE + IOAPIC_IOREGSEL, 4, IOAPIC_REG_REDIR + 10);
	bus_write(&h.bus, BUS_SPACE_MMIO, BASE + IOAPIC_IOWIN, 1, 0x40);
	CHECK_EQ(entry(&h.bus, 5), 0x4200000000008951ull);
}

static void test_edge(void)
{
	struct harness h;
	setup(&h);

	program(&h.bus, 2, 0x0000000000000830ull);	/* logical, dest 0 */
	program(&h.bus, 2, 0x0100000000000030ull);
	CHECK_EQ(h.count, 0);
	ioapic_set_irq(&h.io, 2, 1);
	CHECK_EQ(h.count, 1);
	CHECK_EQ(h.msg[0].vector, 0x30);
	CHECK(!h.msg[0].level);
	CHECK_EQ(h.msg[0].dest, 1);
	CHECK(!h.msg[0].logical);
	/* Staying high is not another edge, nor is falling. */
	ioapic_set_irq(&h.io, 2, 1);
	ioapic_set_irq(&h.io, 2, 0);
	CHECK_EQ(h.count, 1);
	/* No Remote IRR for edges: the next edge goes out without an EOI. */
	CHECK_EQ(entry(&h.bus, 2) & IOAPIC_REMOTE_IRR, 0);
	ioapic_set_irq(&h.io, 2, 1);
	ioapic_set_irq(&h.io, 2, 0);
	CHECK_EQ(h.count, 2);
	/* A pulse through struct irq_line, as the PIT drives its output. */
	struct irq_line line = { .set_level = ioapic_irq_line_set, .opaque = &h.io, .line = 2 };
	irq_line_set(&line, 1);
	irq_line_set(&line, 0);
	CHECK_EQ(h.count, 3);
	/* Edges on a masked pin are lost, and unmasking later sends none. */
	program(&h.bus, 2, 0x0100000000010030ull);
	ioapic_set_irq(&h.io, 2, 1);
	program(&h.bus, 2, 0x0100000000000030ull);
	CHECK_EQ(h.count, 3);
	ioapic_set_irq(&h.io, 2, 0);
	ioapic_set_irq(&h.io, 2, 1);
	CHECK_EQ(h.count, 4);
	/* Active low: the falling edge counts. */
	ioapic_set_irq(&h.io, 2, 1);
	program(&h.bus, 2, 0x0100000000002030ull);
	CHECK_EQ(h.count, 4);
	ioapic_set_irq(&h.io, 2, 0);
	CHECK_EQ(h.count, 5);
	ioapic_set_irq(&h.io, 2, 1);
	CHECK_EQ(h.count, 5);
	/* An EOI for an edge vector changes nothing. */
	ioapic_eoi(&h.io, 0x30);
	CHECK_EQ(h.count, 5);
}

static void test_level(void)
{
	struct harness h;
	setup(&h);

	program(&h.bus, 9, 0x0300000000008939ull);	/* level, logical, dest 3 */
	ioapic_set_irq(&h.io, 9, 1);
	CHECK_EQ(h.count, 1);
	CHECK(h.msg[0].level);
	CHECK(h.msg[0].logical);
	CHECK_EQ(h.msg[0].dest, 3);
	CHECK(entry(&h.bus, 9) & IOAPIC_REMOTE_IRR);
	/* Re-asserting or rewriting the entry sends nothing while in service. */
	ioapic_set_irq(&h.io, 9, 1);
	program(&h.bus, 9, 0x0300000000008939ull);
	CHECK(entry(&h.bus, 9) & IOAPIC_REMOTE_IRR);
	CHECK_EQ(h.count, 1);
	/* Another vector's EOI is not ours. */
	ioapic_eoi(&h.io, 0x38);
	CHECK_EQ(h.count, 1);
	/* Still asserted at the EOI: delivered again. */
	ioapic_eoi(&h.io, 0x39);
	CHECK_EQ(h.count, 2);
	CHECK(entry(&h.bus, 9) & IOAPIC_REMOTE_IRR);
	/* Dropped before the EOI: Remote IRR clears and nothing follows. */
	ioapic_set_irq(&h.io, 9, 0);
	ioapic_eoi(&h.io, 0x39);
	CHECK_EQ(h.count, 2);
	CHECK_EQ(entry(&h.bus, 9) & IOAPIC_REMOTE_IRR, 0);

	/* Mask, assert, unmask: the unmask delivers. */
	program(&h.bus, 9, 0x0300000000018939ull);
	ioapic_set_irq(&h.io, 9, 1);
	CHECK_EQ(h.count, 2);
	CHECK_EQ(entry(&h.bus, 9) & IOAPIC_REMOTE_IRR, 0);
	program(&h.bus, 9, 0x0300000000008939ull);
	CHECK_EQ(h.count, 3);
	CHECK(entry(&h.bus, 9) & IOAPIC_REMOTE_IRR);
	/* Masked while in service: the EOI clears Remote IRR but the line
	 * waits for the unmask. */
	program(&h.bus, 9, 0x0300000000018939ull);
	ioapic_eoi(&h.io, 0x39);
	CHECK_EQ(entry(&h.bus, 9) & IOAPIC_REMOTE_IRR, 0);
	CHECK_EQ(h.count, 3);
	program(&h.bus, 9, 0x0300000000008939ull);
	CHECK_EQ(h.count, 4);
	/* Switching to edge clears Remote IRR. */
	program(&h.bus, 9, 0x0300000000000939ull);
	CHECK_EQ(entry(&h.bus, 9) & IOAPIC_REMOTE_IRR, 0);
	CHECK_EQ(h.count, 4);
}

static void test_level_active_low(void)
{
	struct harness h;
	setup(&h);

	/* A pulled-up PCI line at rest. */
	ioapic_set_irq(&h.io, 16, 1);
	program(&h.bus, 16, 0x010000000000a041ull);	/* level, active low */
	CHECK_EQ(h.count, 0);
	ioapic_set_irq(&h.io, 16, 0);
	CHECK_EQ(h.count, 1);
	CHECK(h.msg[0].level);
	ioapic_eoi(&h.io, 0x41);
	CHECK_EQ(h.count, 2);
	ioapic_set_irq(&h.io, 16, 1);
	ioapic_eoi(&h.io, 0x41);
	CHECK_EQ(h.count, 2);
	CHECK_EQ(entry(&h.bus, 16) & IOAPIC_REMOTE_IRR, 0);
	/* Flipping the polarity of an idle-high line asserts it. */
	program(&h.bus, 16, 0x0100000000008041ull);
	CHECK_EQ(h.count, 3);
}

static void test_refused_and_modes(void)
{
	struct harness h;
	setup(&h);

	/* Nobody takes it: no Remote IRR, so the next EOI tries again. */
	h.refuse = true;
	program(&h.bus, 10, 0x0000000000008050ull);
	ioapic_set_irq(&h.io, 10, 1);
	CHECK_EQ(h.io.refused, 1);
	CHECK_EQ(entry(&h.bus, 10) & IOAPIC_REMOTE_IRR, 0);
	h.refuse = false;
	program(&h.bus, 10, 0x0000000000008050ull);
	CHECK_EQ(h.count, 1);
	CHECK_EQ(h.io.delivered, 1);
	CHECK(entry(&h.bus, 10) & IOAPIC_REMOTE_IRR);

	/* Lowest priority goes to the one CPU like fixed. */
	program(&h.bus, 11, 0x0000000000000151ull);
	ioapic_set_irq(&h.io, 11, 1);
	CHECK_EQ(h.count, 2);
	CHECK_EQ(h.msg[1].vector, 0x51);
	/* ExtINT, NMI, SMI and INIT entries send nothing. */
	program(&h.bus, 0, 0x0000000000000700ull);
	ioapic_set_irq(&h.io, 0, 1);
	program(&h.bus, 12, 0x0000000000000400ull);
	ioapic_set_irq(&h.io, 12, 1);
	program(&h.bus, 13, 0x0000000000008200ull);
	ioapic_set_irq(&h.io, 13, 1);
	program(&h.bus, 14, 0x0000000000000500ull);
	ioapic_set_irq(&h.io, 14, 1);
	CHECK_EQ(h.count, 2);
	CHECK_EQ(h.io.ignored, 4);
	CHECK_EQ(entry(&h.bus, 13) & IOAPIC_REMOTE_IRR, 0);
}

static bool record_nmi(void *opaque, uint8_t dest, bool logical)
{
	unsigned *count = opaque;
	(void)logical;
	if (dest != 0)
		return false;
	(*count)++;
	return true;
}

/* NMI entries go to deliver_nmi, edge-triggered even when programmed
 * level (no Remote IRR), once per edge; a destination nobody takes is
 * refused. */
static void test_nmi(void)
{
	struct bus bus;
	struct ioapic io;
	unsigned nmis = 0;
	bus_init(&bus);
	ioapic_init(&io, NULL, &nmis);
	io.deliver_nmi = record_nmi;
	CHECK_EQ(ioapic_attach(&io, &bus, IOAPIC_DEFAULT_BASE), 0);
	program(&bus, 2, 0x0000000000000433ull);
	ioapic_set_irq(&io, 2, 1);
	ioapic_set_irq(&io, 2, 1);
	CHECK_EQ(nmis, 1);
	ioapic_set_irq(&io, 2, 0);
	ioapic_set_irq(&io, 2, 1);
	CHECK_EQ(nmis, 2);
	ioapic_set_irq(&io, 2, 0);
	program(&bus, 3, 0x0000000000008400ull);
	ioapic_set_irq(&io, 3, 1);
	CHECK_EQ(nmis, 3);
	CHECK_EQ(entry(&bus, 3) & IOAPIC_REMOTE_IRR, 0);
	program(&bus, 4, 0x0100000000000400ull);
	ioapic_set_irq(&io, 4, 1);
	CHECK_EQ(nmis, 3);
	CHECK_EQ(io.refused, 1);
	CHECK_EQ(io.delivered, 3);
}

/* An I/O APIC and a local APIC wired as the board wires them. */
struct machine {
	struct bus bus;
	struct ioapic io;
	struct lapic lapic;
	uint64_t now;
};

static uint64_t machine_clock(void *opaque)
{
	struct machine *m = opaque;
	return m->now;
}

static void lapic_wr(struct machine *m, uint32_t reg, uint32_t value)
{
	bus_write(&m->bus, BUS_SPACE_MMIO, LAPIC_DEFAULT_BASE + reg, 4, value);
}

static bool lapic_vec(struct machine *m, uint32_t reg, unsigned v)
{
	uint32_t word = (uint32_t)bus_read(&m->bus, BUS_SPACE_MMIO,
					   LAPIC_DEFAULT_BASE + reg + v / 32 * 0x10, 4);
	return word >> (v % 32) & 1;
}

static void test_end_to_end(void)
{
	struct machine m;
	memset(&m, 0, sizeof(m));
	bus_init(&m.bus);
	lapic_init(&m.lapic, machine_clock, &m);
	m.lapic.eoi_broadcast = ioapic_eoi_broadcast;
	m.lapic.eoi_opaque = &m.io;
	ioapic_init(&m.io, lapic_deliver_message, &m.lapic);
	CHECK_EQ(lapic_attach(&m.lapic, &m.bus, LAPIC_DEFAULT_BASE), 0);
	CHECK_EQ(ioapic_attach(&m.io, &m.bus, IOAPIC_DEFAULT_BASE), 0);

	/* As Linux sets it up: flat logical, LDR bit 0, enabled. */
	lapic_wr(&m, LAPIC_DFR, 0xffffffff);
	lapic_wr(&m, LAPIC_LDR, 0x01000000);
	lapic_wr(&m, LAPIC_SVR, LAPIC_SVR_ENABLE | 0xff);

	/* ISA IRQ 0 on GSI 2: edge, physical destination 0. */
	program(&m.bus, 2, 0x0000000000000030ull);
	ioapic_set_irq(&m.io, 2, 1);
	ioapic_set_irq(&m.io, 2, 0);
	CHECK(lapic_has_interrupt(&m.lapic));
	CHECK(!lapic_vec(&m, LAPIC_TMR, 0x30));
	CHECK_EQ(lapic_acknowledge(&m.lapic), 0x30);
	lapic_wr(&m, LAPIC_EOI, 0);
	CHECK(!lapic_has_interrupt(&m.lapic));

	/* A level line, logical destination 1. */
	program(&m.bus, 9, 0x0100000000008849ull);
	ioapic_set_irq(&m.io, 9, 1);
	CHECK(lapic_vec(&m, LAPIC_IRR, 0x49));
	CHECK(lapic_vec(&m, LAPIC_TMR, 0x49));
	CHECK(entry(&m.bus, 9) & IOAPIC_REMOTE_IRR);
	CHECK_EQ(lapic_acknowledge(&m.lapic), 0x49);
	/* The handler's EOI comes while the line is still up: the broadcast
	 * clears Remote IRR and the line is delivered again at once. */
	lapic_wr(&m, LAPIC_EOI, 0);
	CHECK(lapic_vec(&m, LAPIC_IRR, 0x49));
	CHECK(entry(&m.bus, 9) & IOAPIC_REMOTE_IRR);
	CHECK_EQ(lapic_acknowledge(&m.lapic), 0x49);
	ioapic_set_irq(&m.io, 9, 0);
	lapic_wr(&m, LAPIC_EOI, 0);
	CHECK_EQ(entry(&m.bus, 9) & IOAPIC_REMOTE_IRR, 0);
	CHECK(!lapic_has_interrupt(&m.lapic));
	CHECK_EQ(m.io.delivered, 3);

	/* A destination this APIC is not: refused, nothing in service. */
	program(&m.bus, 10, 0x0300000000008050ull);
	ioapic_set_irq(&m.io, 10, 1);
	CHECK(!lapic_vec(&m, LAPIC_IRR, 0x50));
	CHECK_EQ(entry(&m.bus, 10) & IOAPIC_REMOTE_IRR, 0);
	CHECK_EQ(m.io.refused, 1);
	/* Rerouted to physical 0: the rewrite delivers the asserted line. */
	program(&m.bus, 10, 0x0000000000008050ull);
	CHECK(lapic_vec(&m, LAPIC_IRR, 0x50));
	CHECK(entry(&m.bus, 10) & IOAPIC_REMOTE_IRR);

	/* A software-disabled local APIC refuses, so Remote IRR stays clear. */
	CHECK_EQ(lapic_acknowledge(&m.lapic), 0x50);
	ioapic_set_irq(&m.io, 10, 0);
	lapic_wr(&m, LAPIC_EOI, 0);
	CHECK_EQ(entry(&m.bus, 10) & IOAPIC_REMOTE_IRR, 0);
	lapic_wr(&m, LAPIC_SVR, 0xff);
	ioapic_set_irq(&m.io, 10, 1);
	CHECK_EQ(entry(&m.bus, 10) & IOAPIC_REMOTE_IRR, 0);
	CHECK(!lapic_vec(&m, LAPIC_IRR, 0x50));
}

int main(void)
{
	test_registers();
	test_edge();
	test_level();
	test_level_active_low();
	test_refused_and_modes();
	test_nmi();
	test_end_to_end();
	return check_report("test_ioapic");
}
