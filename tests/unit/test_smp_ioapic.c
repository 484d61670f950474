/* The I/O APIC's messages on a board of four vCPUs (machine/smp.c): a
 * fixed message reaches every LAPIC its destination names (a logical
 * destination of two bits, a physical broadcast, a logical broadcast),
 * a lowest-priority one exactly one (the lowest TPR, the lowest APIC ID
 * among equals, a software-disabled LAPIC passed over), and a message
 * naming only disabled LAPICs is refused. The board is built from a
 * guest kernel (argv[1]) that never runs: the LAPICs are set up as a
 * guest would, through their registers, and the pin is driven as a
 * device would drive it. */
#include "check.h"
#include "board_harness.h"

#define PIN 13   /* the FPU's old IRQ: nothing on the board drives it */

static void set_up_lapics(struct board *b)
{
	for (unsigned i = 0; i < b->nvcpus; i++) {
		struct lapic *l = &b->vcpus[i].lapic;
		lapic_mmio_write(l, LAPIC_DFR, 4, 0xffffffffu);   /* flat model */
		lapic_mmio_write(l, LAPIC_LDR, 4, (1u << i) << 24);
		lapic_mmio_write(l, LAPIC_SVR, 4, LAPIC_SVR_ENABLE | 0xff);
		lapic_mmio_write(l, LAPIC_TPR, 4, 0);
	}
}

/* One edge on the pin with its entry so programmed; which LAPICs then
 * hold the vector pending (a bit each), each cleared again by an EOI. */
static unsigned edge(struct board *b, uint64_t entry, uint8_t vector)
{
	uint64_t refused = b->ioapic.refused;
	b->ioapic.redir[PIN] = entry | vector;
	ioapic_set_irq(&b->ioapic, PIN, 1);
	ioapic_set_irq(&b->ioapic, PIN, 0);
	unsigned got = 0;
	for (unsigned i = 0; i < b->nvcpus; i++) {
		struct lapic *l = &b->vcpus[i].lapic;
		if (!lapic_vector_pending(l, vector))
			continue;
		got |= 1u << i;
		/* Into service and out again, for the next edge. */
		CHECK_EQ(lapic_acknowledge(l), vector);
		lapic_mmio_write(l, LAPIC_EOI, 4, 0);
	}
	CHECK_EQ(b->ioapic.refused - refused, got ? 0u : 1u);
	return got;
}

static uint64_t logical(uint8_t dest)
{
	return IOAPIC_DEST_LOGICAL | (uint64_t)dest << IOAPIC_DEST_SHIFT;
}

static uint64_t physical(uint8_t dest)
{
	return (uint64_t)dest << IOAPIC_DEST_SHIFT;
}

int main(int argc, char **argv)
{
	struct board_config cfg = { .ram_mib = 16, .serial = SERIAL_NONE,
				    .tcache_mib = 4, .smp = 4 };
	int status = 1;
	struct board *b = harness_board("test_smp_ioapic", argc, argv, cfg, &status);
	if (!b)
		return status;
	CHECK_EQ(b->nvcpus, 4u);
	set_up_lapics(b);

	/* Fixed: every CPU named. */
	CHECK_EQ(edge(b, IOAPIC_DM_FIXED | logical(0x06), 0x41), 0x6u);
	CHECK_EQ(edge(b, IOAPIC_DM_FIXED | logical(0x0f), 0x42), 0xfu);
	CHECK_EQ(edge(b, IOAPIC_DM_FIXED | physical(0xff), 0x43), 0xfu);
	CHECK_EQ(edge(b, IOAPIC_DM_FIXED | physical(2), 0x44), 0x4u);
	CHECK_EQ(edge(b, IOAPIC_DM_FIXED | logical(0x10), 0x45), 0u);   /* no such CPU */

	/* Lowest priority: one of them. All at TPR 0: the lowest ID named. */
	CHECK_EQ(edge(b, IOAPIC_DM_LOWEST | logical(0x0e), 0x51), 0x2u);
	CHECK_EQ(edge(b, IOAPIC_DM_LOWEST | physical(0xff), 0x52), 0x1u);
	/* The lowest task priority wins. */
	lapic_mmio_write(&b->vcpus[0].lapic, LAPIC_TPR, 4, 0x20);
	lapic_mmio_write(&b->vcpus[1].lapic, LAPIC_TPR, 4, 0x20);
	lapic_mmio_write(&b->vcpus[2].lapic, LAPIC_TPR, 4, 0x10);
	lapic_mmio_write(&b->vcpus[3].lapic, LAPIC_TPR, 4, 0x30);
	CHECK_EQ(edge(b, IOAPIC_DM_LOWEST | logical(0x0f), 0x53), 0x4u);
	CHECK_EQ(edge(b, IOAPIC_DM_LOWEST | logical(0x0b), 0x54), 0x1u);
	/* A software-disabled LAPIC is passed over, for fixed and lowest
	 * alike; one naming only disabled LAPICs is refused. */
	lapic_mmio_write(&b->vcpus[2].lapic, LAPIC_SVR, 4, 0xff);
	CHECK_EQ(edge(b, IOAPIC_DM_LOWEST | logical(0x0f), 0x55), 0x1u);
	CHECK_EQ(edge(b, IOAPIC_DM_FIXED | logical(0x0f), 0x56), 0xbu);
	CHECK_EQ(edge(b, IOAPIC_DM_LOWEST | logical(0x04), 0x57), 0u);

	board_destroy(b);
	printf("test_smp_ioapic: %d checks, %d failed\n", check_count, check_failures);
	return check_failures ? 1 : 0;
}
