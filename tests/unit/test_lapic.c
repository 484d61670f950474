/* The local APIC driven through a real bus with a fake nanosecond clock:
 * the power-up state, register masks and odd-width accesses, TPR/PPR
 * gating, IRR to ISR to EOI with nested vectors, the spurious vector, the
 * timer in one-shot and periodic mode at every divisor with lost ticks and
 * masking, the board's holdoff and backlog, self-IPIs, software disable, errors and the error LVT, the
 * EOI broadcast for level vectors, the 8259 pass-through predicate,
 * IA32_APIC_BASE, and NMIs (IPIs, LINT edges and masks, messages). */
#include "check.h"
#include "devices/bus.h"
#include "devices/lapic.h"

#define BASE LAPIC_DEFAULT_BASE
#define NS_PER_TICK (1000000000u / LAPIC_BUS_HZ)
#define START_NS 1000000000ull

struct harness {
	struct bus bus;
	struct lapic lapic;
	uint64_t now;
	int output;
	unsigned output_changes, deadline_changes;
	unsigned eois;
	uint8_t last_eoi;
	unsigned nmis;
};

static uint64_t fake_clock(void *opaque)
{
	struct harness *h = opaque;
	return h->now;
}

static void record_output(void *opaque, int level)
{
	struct harness *h = opaque;

	h->output = level;
	h->output_changes++;
}

static void record_deadline(void *opaque)
{
	struct harness *h = opaque;
	h->deadline_changes++;
}

static void record_eoi(void *opaque, uint8_t vector)
{
	struct harness *h = opaque;

	h->eois++;
	h->last_eoi = vector;
}

static void record_nmi(void *opaque)
{
	struct harness *h = opaque;
	h->nmis++;
}

static void setup(struct harness *h)
{
	memset(h, 0, sizeof(*h));
	bus_init(&h->bus);
	h->now = START_NS;
	lapic_init(&h->lapic, fake_clock, h);
	h->lapic.output_changed = record_output;
	h->lapic.deadline_changed = record_deadline;
	h->lapic.eoi_broadcast = record_eoi;
	h->lapic.eoi_opaque = h;
	h->lapic.nmi = record_nmi;
	CHECK_EQ(lapic_attach(&h->lapic, &h->bus, BASE), 0);
}

static uint32_t rd(struct harness *h, uint32_t reg)
{
	return (uint32_t)bus_read(&h->bus, BUS_SPACE_MMIO, BASE + reg, 4);
}

static void wr(struct harness *h, uint32_t reg, uint32_t value)
{
	bus_write(&h->bus, BUS_SPACE_MMIO, BASE + reg, 4, value);
}

/* Software-enabled with spurious vector 0xff, as Linux leaves it. */
static void enable(struct harness *h)
{
	wr(h, LAPIC_SVR, LAPIC_SVR_ENABLE | 0xff);
}

static bool vec_set(struct harness *h, uint32_t reg, unsigned v)
{
	return rd(h, reg + v / 32 * 0x10) >> (v % 32) & 1;
}

/* Write, then read, as the SDM asks. */
static uint32_t esr(struct harness *h)
{
	wr(h, LAPIC_ESR, 0);
	return rd(h, LAPIC_ESR);
}

static void test_reset_state(void)
{
	struct harness h;
	setup(&h);

	CHECK_EQ(rd(&h, LAPIC_ID), 0);
	CHECK_EQ(rd(&h, LAPIC_VER), 0x00050014);
	CHECK_EQ(rd(&h, LAPIC_TPR), 0);
	CHECK_EQ(rd(&h, LAPIC_APR), 0);
	CHECK_EQ(rd(&h, LAPIC_PPR), 0);
	CHECK_EQ(rd(&h, LAPIC_LDR), 0);
	CHECK_EQ(rd(&h, LAPIC_DFR), 0xffffffff);
	CHECK_EQ(rd(&h, LAPIC_SVR), 0xff);
	for (uint32_t i = 0; i < 8; i++) {
		CHECK_EQ(rd(&h, LAPIC_ISR + i * 0x10), 0);
		CHECK_EQ(rd(&h, LAPIC_TMR + i * 0x10), 0);
		CHECK_EQ(rd(&h, LAPIC_IRR + i * 0x10), 0);
	}
	for (uint32_t reg = LAPIC_LVT_TIMER; reg <= LAPIC_LVT_ERROR; reg += 0x10)
		CHECK_EQ(rd(&h, reg), 0x10000);
	CHECK_EQ(rd(&h, LAPIC_ICR_LO), 0);
	CHECK_EQ(rd(&h, LAPIC_ICR_HI), 0);
	CHECK_EQ(rd(&h, LAPIC_TIMER_INITIAL), 0);
	CHECK_EQ(rd(&h, LAPIC_TIMER_CURRENT), 0);
	CHECK_EQ(rd(&h, LAPIC_TIMER_DIVIDE), 0);
	CHECK_EQ(esr(&h), 0);
	CHECK_EQ(lapic_get_base_msr(&h.lapic), 0xfee00900);
	CHECK(lapic_hw_enabled(&h.lapic));
	CHECK(!lapic_has_interrupt(&h.lapic));
	CHECK(!lapic_accepts_pic(&h.lapic));
	CHECK_EQ(lapic_next_event_ns(&h.lapic, h.now), UINT64_MAX);
	CHECK_EQ(h.output_changes, 0);
	/* Software-disabled: a fixed interrupt is not accepted. */
	lapic_set_irq(&h.lapic, 0x40, false);
	CHECK_EQ(rd(&h, LAPIC_IRR + 0x20), 0);
}

static void test_register_masks(void)
{
	struct harness h;
	setup(&h);
	enable(&h);

	wr(&h, LAPIC_ID, 0xffffffff);
	CHECK_EQ(rd(&h, LAPIC_ID), 0xff000000);
	wr(&h, LAPIC_ID, 0);
	wr(&h, LAPIC_TPR, 0xffffffff);
	CHECK_EQ(rd(&h, LAPIC_TPR), 0xff);
	wr(&h, LAPIC_TPR, 0);
	wr(&h, LAPIC_LDR, 0xffffffff);
	CHECK_EQ(rd(&h, LAPIC_LDR), 0xff000000);
	wr(&h, LAPIC_DFR, 0);
	CHECK_EQ(rd(&h, LAPIC_DFR), 0x0fffffff);
	wr(&h, LAPIC_SVR, 0xffffffff);
	CHECK_EQ(rd(&h, LAPIC_SVR), 0x3ff);
	wr(&h, LAPIC_ICR_HI, 0xffffffff);
	CHECK_EQ(rd(&h, LAPIC_ICR_HI), 0xff000000);
	wr(&h, LAPIC_TIMER_DIVIDE, 0xffffffff);
	CHECK_EQ(rd(&h, LAPIC_TIMER_DIVIDE), 0xb);
	wr(&h, LAPIC_TIMER_DIVIDE, 0);

	/* Each LVT keeps only its own fields; bit 18 (TSC-deadline) is not
	 * there, so mode 10 reads back as one-shot. */
	wr(&h, LAPIC_LVT_TIMER, 0xfffeffff);
	CHECK_EQ(rd(&h, LAPIC_LVT_TIMER), 0x000200ff);
	wr(&h, LAPIC_LVT_TIMER, 0x00040000 | 0x10000);
	CHECK_EQ(rd(&h, LAPIC_LVT_TIMER), 0x10000);
	wr(&h, LAPIC_LVT_THERMAL, 0xffffffff);
	CHECK_EQ(rd(&h, LAPIC_LVT_THERMAL), 0x000107ff);
	wr(&h, LAPIC_LVT_PERF, 0xffffffff);
	CHECK_EQ(rd(&h, LAPIC_LVT_PERF), 0x000107ff);
	wr(&h, LAPIC_LVT_LINT0, 0xffffffff);
	CHECK_EQ(rd(&h, LAPIC_LVT_LINT0), 0x0001a7ff);
	wr(&h, LAPIC_LVT_LINT1, 0xffffffff);
	CHECK_EQ(rd(&h, LAPIC_LVT_LINT1), 0x0001a7ff);
	wr(&h, LAPIC_LVT_ERROR, 0xffffffff);
	CHECK_EQ(rd(&h, LAPIC_LVT_ERROR), 0x000100ff);

	/* Read-only registers ignore writes. */
	wr(&h, LAPIC_VER, 0);
	CHECK_EQ(rd(&h, LAPIC_VER), LAPIC_VERSION);
	wr(&h, LAPIC_PPR, 0xff);
	CHECK_EQ(rd(&h, LAPIC_PPR), 0);
	wr(&h, LAPIC_IRR + 0x70, 0xffffffff);
	CHECK_EQ(rd(&h, LAPIC_IRR + 0x70), 0);
	CHECK_EQ(esr(&h), 0);

	/* Narrow reads see the containing dword's bytes; the rest of a
	 * register's 16-byte slot reads 0. */
	CHECK_EQ(bus_read(&h.bus, BUS_SPACE_MMIO, BASE + LAPIC_VER + 2, 1), 0x05);
	CHECK_EQ(bus_read(&h.bus, BUS_SPACE_MMIO, BASE + LAPIC_VER, 2), 0x0014);
	CHECK_EQ(bus_read(&h.bus, BUS_SPACE_MMIO, BASE + LAPIC_VER + 4, 4), 0);
	CHECK_EQ(bus_read(&h.bus, BUS_SPACE_MMIO, BASE + LAPIC_VER + 2, 4), 0x0005);
	/* An 8-byte read is split by the bus. */
	CHECK_EQ(bus_read(&h.bus, BUS_SPACE_MMIO, BASE + LAPIC_VER, 8), 0x00050014);
	/* Narrow or misaligned writes do nothing. */
	bus_write(&h.bus, BUS_SPACE_MMIO, BASE + LAPIC_TPR, 1, 0x55);
	bus_write(&h.bus, BUS_SPACE_MMIO, BASE + LAPIC_TPR + 4, 4, 0x55);
	CHECK_EQ(rd(&h, LAPIC_TPR), 0);
	CHECK_EQ(esr(&h), 0);
}

static void test_priority(void)
{
	struct harness h;
	setup(&h);
	enable(&h);

	lapic_set_irq(&h.lapic, 0x41, false);
	CHECK(vec_set(&h, LAPIC_IRR, 0x41));
	CHECK(lapic_has_interrupt(&h.lapic));
	CHECK_EQ(h.output, 1);
	/* The same class as the TPR is held back, a lower TPR lets it go. */
	wr(&h, LAPIC_TPR, 0x40);
	CHECK(!lapic_has_interrupt(&h.lapic));
	CHECK_EQ(h.output, 0);
	CHECK_EQ(rd(&h, LAPIC_PPR), 0x40);
	CHECK_EQ(rd(&h, LAPIC_APR), 0x40);
	wr(&h, LAPIC_TPR, 0x3f);
	CHECK(lapic_has_interrupt(&h.lapic));
	CHECK_EQ(h.output, 1);
	CHECK_EQ(rd(&h, LAPIC_PPR), 0x3f);
	CHECK_EQ(rd(&h, LAPIC_APR), 0x40);

	CHECK_EQ(lapic_acknowledge(&h.lapic), 0x41);
	CHECK(!vec_set(&h, LAPIC_IRR, 0x41));
	CHECK(vec_set(&h, LAPIC_ISR, 0x41));
	/* PPR follows the ISR class when it is above the TPR's. */
	CHECK_EQ(rd(&h, LAPIC_PPR), 0x40);
	lapic_set_irq(&h.lapic, 0x4f, false);
	CHECK(!lapic_has_interrupt(&h.lapic));
	lapic_set_irq(&h.lapic, 0x50, false);
	CHECK(lapic_has_interrupt(&h.lapic));
	/* A TPR raised after INTR was seen: the INTA cycle gets the
	 * spurious vector and nothing moves. */
	wr(&h, LAPIC_TPR, 0x50);
	CHECK_EQ(lapic_acknowledge(&h.lapic), 0xff);
	CHECK(vec_set(&h, LAPIC_IRR, 0x50));
	CHECK(!vec_set(&h, LAPIC_ISR, 0x50));
	CHECK_EQ(rd(&h, LAPIC_PPR), 0x50);
	wr(&h, LAPIC_TPR, 0);
	CHECK_EQ(lapic_acknowledge(&h.lapic), 0x50);
	CHECK_EQ(rd(&h, LAPIC_PPR), 0x50);
}

static void test_nested_eoi(void)
{
	struct harness h;
	setup(&h);
	enable(&h);

	lapic_set_irq(&h.lapic, 0x30, false);
	CHECK_EQ(lapic_acknowledge(&h.lapic), 0x30);
	/* A higher class interrupts the handler of 0x30. */
	lapic_set_irq(&h.lapic, 0x50, false);
	CHECK(lapic_has_interrupt(&h.lapic));
	CHECK_EQ(lapic_acknowledge(&h.lapic), 0x50);
	/* A class between the two waits for 0x50's EOI. */
	lapic_set_irq(&h.lapic, 0x40, false);
	CHECK(!lapic_has_interrupt(&h.lapic));
	CHECK(vec_set(&h, LAPIC_ISR, 0x30));
	CHECK(vec_set(&h, LAPIC_ISR, 0x50));
	wr(&h, LAPIC_EOI, 0);
	CHECK(!vec_set(&h, LAPIC_ISR, 0x50));
	CHECK(vec_set(&h, LAPIC_ISR, 0x30));
	CHECK_EQ(rd(&h, LAPIC_PPR), 0x30);
	CHECK(lapic_has_interrupt(&h.lapic));
	CHECK_EQ(lapic_acknowledge(&h.lapic), 0x40);
	/* EOIs retire the highest in-service vector first. */
	wr(&h, LAPIC_EOI, 0);
	CHECK(!vec_set(&h, LAPIC_ISR, 0x40));
	CHECK(vec_set(&h, LAPIC_ISR, 0x30));
	wr(&h, LAPIC_EOI, 0);
	CHECK_EQ(rd(&h, LAPIC_ISR + 0x10), 0);
	CHECK_EQ(rd(&h, LAPIC_PPR), 0);
	/* An EOI with nothing in service is harmless. */
	wr(&h, LAPIC_EOI, 0);
	CHECK_EQ(h.eois, 0);
	CHECK(!lapic_has_interrupt(&h.lapic));
	/* The same vector twice before the ack is one request. */
	lapic_set_irq(&h.lapic, 0x60, false);
	lapic_set_irq(&h.lapic, 0x60, false);
	CHECK_EQ(lapic_acknowledge(&h.lapic), 0x60);
	CHECK(!lapic_has_interrupt(&h.lapic));
}

static void test_spurious(void)
{
	struct harness h;
	setup(&h);
	wr(&h, LAPIC_SVR, LAPIC_SVR_ENABLE | 0xef);

	CHECK(!lapic_has_interrupt(&h.lapic));
	CHECK_EQ(lapic_acknowledge(&h.lapic), 0xef);
	CHECK_EQ(rd(&h, LAPIC_ISR + 0x70), 0);
	CHECK_EQ(rd(&h, LAPIC_PPR), 0);
}

static void test_level_eoi_broadcast(void)
{
	struct harness h;
	setup(&h);
	enable(&h);

	lapic_set_irq(&h.lapic, 0x61, true);
	CHECK(vec_set(&h, LAPIC_TMR, 0x61));
	lapic_set_irq(&h.lapic, 0x52, false);
	CHECK(!vec_set(&h, LAPIC_TMR, 0x52));
	CHECK_EQ(lapic_acknowledge(&h.lapic), 0x61);
	wr(&h, LAPIC_EOI, 0);
	CHECK_EQ(h.eois, 1);
	CHECK_EQ(h.last_eoi, 0x61);
	CHECK_EQ(lapic_acknowledge(&h.lapic), 0x52);
	wr(&h, LAPIC_EOI, 0);
	CHECK_EQ(h.eois, 1);
}

static const struct {
	uint32_t dcr;
	unsigned divisor;
} divides[] = {
	{ 0x0, 2 }, { 0x1, 4 }, { 0x2, 8 }, { 0x3, 16 },
	{ 0x8, 32 }, { 0x9, 64 }, { 0xa, 128 }, { 0xb, 1 },
};

/* ns for n counts at a divisor. */
static uint64_t counts_ns(uint64_t n, unsigned divisor)
{
	return n * divisor * NS_PER_TICK;
}

static void test_timer_oneshot(void)
{
	for (unsigned i = 0; i < sizeof(divides) / sizeof(divides[0]); i++) {
		struct harness h;
		unsigned d = divides[i].divisor;
		setup(&h);
		enable(&h);

		wr(&h, LAPIC_TIMER_DIVIDE, divides[i].dcr);
		wr(&h, LAPIC_LVT_TIMER, 0xec);
		CHECK_EQ(lapic_next_event_ns(&h.lapic, h.now), UINT64_MAX);
		unsigned changes = h.deadline_changes;
		wr(&h, LAPIC_TIMER_INITIAL, 1000);
		CHECK_EQ(h.deadline_changes, changes + 1);
		uint64_t start = h.now, deadline = start + counts_ns(1000, d);
		CHECK_EQ(lapic_next_event_ns(&h.lapic, h.now), deadline);
		CHECK_EQ(rd(&h, LAPIC_TIMER_CURRENT), 1000);
		CHECK_EQ(rd(&h, LAPIC_TIMER_INITIAL), 1000);

		h.now = start + counts_ns(1, d);
		CHECK_EQ(rd(&h, LAPIC_TIMER_CURRENT), 999);
		h.now = start + counts_ns(250, d) + (d > 1 ? NS_PER_TICK : 0);
		CHECK_EQ(rd(&h, LAPIC_TIMER_CURRENT), 750);
		h.now = deadline - 1;
		CHECK_EQ(rd(&h, LAPIC_TIMER_CURRENT), 1);
		lapic_update(&h.lapic, h.now);
		CHECK_EQ(h.lapic.timer_irqs, 0);
		CHECK(!vec_set(&h, LAPIC_IRR, 0xec));

		h.now = deadline;
		CHECK_EQ(lapic_next_event_ns(&h.lapic, h.now), h.now);
		lapic_update(&h.lapic, h.now);
		CHECK_EQ(h.lapic.timer_irqs, 1);
		CHECK(vec_set(&h, LAPIC_IRR, 0xec));
		CHECK(!vec_set(&h, LAPIC_TMR, 0xec));
		CHECK_EQ(rd(&h, LAPIC_TIMER_CURRENT), 0);
		CHECK_EQ(lapic_next_event_ns(&h.lapic, h.now), UINT64_MAX);
		h.now += counts_ns(5000, d);
		lapic_update(&h.lapic, h.now);
		CHECK_EQ(h.lapic.timer_irqs, 1);
		CHECK_EQ(h.lapic.timer_lost_irqs, 0);
		/* Switching to periodic does not restart a finished count. */
		wr(&h, LAPIC_LVT_TIMER, 0xec | LAPIC_TIMER_PERIODIC);
		CHECK_EQ(lapic_next_event_ns(&h.lapic, h.now), UINT64_MAX);
		/* Writing 0 stops a running count. */
		wr(&h, LAPIC_TIMER_INITIAL, 10);
		CHECK(lapic_next_event_ns(&h.lapic, h.now) != UINT64_MAX);
		wr(&h, LAPIC_TIMER_INITIAL, 0);
		CHECK_EQ(lapic_next_event_ns(&h.lapic, h.now), UINT64_MAX);
		CHECK_EQ(rd(&h, LAPIC_TIMER_CURRENT), 0);
	}
}

static void test_timer_periodic(void)
{
	for (unsigned i = 0; i < sizeof(divides) / sizeof(divides[0]); i++) {
		struct harness h;
		unsigned d = divides[i].divisor;
		setup(&h);
		enable(&h);

		wr(&h, LAPIC_TIMER_DIVIDE, divides[i].dcr);
		wr(&h, LAPIC_LVT_TIMER, 0xed | LAPIC_TIMER_PERIODIC);
		wr(&h, LAPIC_TIMER_INITIAL, 100);
		uint64_t start = h.now, period = counts_ns(100, d);
		for (unsigned k = 1; k <= 5; k++) {
			uint64_t next = lapic_next_event_ns(&h.lapic, h.now);
			CHECK_EQ(next, start + k * period);
			h.now = next - 1;
			lapic_update(&h.lapic, h.now);
			CHECK_EQ(h.lapic.timer_irqs, k - 1);
			CHECK_EQ(rd(&h, LAPIC_TIMER_CURRENT), 1);
			h.now = next;
			lapic_update(&h.lapic, h.now);
			CHECK_EQ(h.lapic.timer_irqs, k);
			/* Reloaded at once. */
			CHECK_EQ(rd(&h, LAPIC_TIMER_CURRENT), 100);
			CHECK_EQ(lapic_acknowledge(&h.lapic), 0xed);
			wr(&h, LAPIC_EOI, 0);
			h.now += counts_ns(40, d);
			CHECK_EQ(rd(&h, LAPIC_TIMER_CURRENT), 60);
		}
		CHECK_EQ(h.lapic.timer_lost_irqs, 0);

		/* Looked at three and a half periods late: of the four
		 * expiries due, one interrupt and three lost, and the next
		 * expiry still on the original grid. */
		h.now = start + 9 * period + period / 2;
		CHECK_EQ(lapic_next_event_ns(&h.lapic, h.now), h.now);
		lapic_update(&h.lapic, h.now);
		CHECK_EQ(h.lapic.timer_irqs, 6);
		CHECK_EQ(h.lapic.timer_lost_irqs, 3);
		CHECK_EQ(lapic_next_event_ns(&h.lapic, h.now), start + 10 * period);
		CHECK_EQ(rd(&h, LAPIC_TIMER_CURRENT), 50);

		/* Back to one-shot: this period still ends, nothing after. */
		wr(&h, LAPIC_LVT_TIMER, 0xed);
		h.now = start + 10 * period;
		lapic_update(&h.lapic, h.now);
		CHECK_EQ(h.lapic.timer_irqs, 7);
		CHECK_EQ(lapic_next_event_ns(&h.lapic, h.now), UINT64_MAX);
	}
}

/* The board's settings: a 100 us holdoff and a backlog of late expiries.
 * Count 1 at divide-by-1 (a 100 MHz storm) gives one interrupt per
 * holdoff; expiries the caller was late for come one at a time, each once
 * the last has left IRR. */
static void test_timer_holdoff_backlog(void)
{
	struct harness h;
	setup(&h);
	enable(&h);
	h.lapic.irq_min_interval_ns = 100000;
	h.lapic.irq_backlog_max_ns = 1000000000;

	wr(&h, LAPIC_TIMER_DIVIDE, 0xb);
	wr(&h, LAPIC_LVT_TIMER, 0xed | LAPIC_TIMER_PERIODIC);
	wr(&h, LAPIC_TIMER_INITIAL, 1);
	uint64_t start = h.now;
	for (unsigned k = 1; k <= 100; k++) {
		h.now = start + k * 10000;       /* every 10 us for 1 ms */
		lapic_update(&h.lapic, h.now);
		if (lapic_has_interrupt(&h.lapic)) {
			CHECK_EQ(lapic_acknowledge(&h.lapic), 0xed);
			wr(&h, LAPIC_EOI, 0);
		}
		CHECK(lapic_next_event_ns(&h.lapic, h.now) > h.now);
		CHECK(rd(&h, LAPIC_TIMER_CURRENT) <= 1);
	}
	CHECK(h.lapic.timer_irqs >= 9 && h.lapic.timer_irqs <= 11);

	/* 1 kHz, and a 5.5 ms stall: one now, four queued behind IRR. */
	wr(&h, LAPIC_TIMER_INITIAL, 100000);
	start = h.now;
	unsigned irqs = (unsigned)h.lapic.timer_irqs;
	uint64_t lost = h.lapic.timer_lost_irqs;
	h.now = start + 5500000;
	lapic_update(&h.lapic, h.now);
	CHECK_EQ(h.lapic.timer_irqs, irqs + 1);
	CHECK_EQ(h.lapic.timer_backlog, 4);
	/* Still in IRR: held back, and the next look is later, not now. */
	uint64_t next = lapic_next_event_ns(&h.lapic, h.now);
	CHECK(next > h.now);
	h.now = next;
	lapic_update(&h.lapic, h.now);
	CHECK_EQ(h.lapic.timer_irqs, irqs + 1);
	for (unsigned i = 0; i < 4; i++) {
		CHECK_EQ(lapic_acknowledge(&h.lapic), 0xed);
		wr(&h, LAPIC_EOI, 0);
		h.now = lapic_next_event_ns(&h.lapic, h.now);
		lapic_update(&h.lapic, h.now);
	}
	CHECK_EQ(h.lapic.timer_irqs, irqs + 5);
	/* The expiry at 6 ms came during the wait; none was lost. */
	CHECK_EQ(h.lapic.timer_backlog, 1);
	CHECK_EQ(h.lapic.timer_lost_irqs, lost);
}

static void test_timer_divide_change(void)
{
	struct harness h;
	setup(&h);
	enable(&h);

	wr(&h, LAPIC_TIMER_DIVIDE, 0xb);
	wr(&h, LAPIC_LVT_TIMER, 0xee);
	wr(&h, LAPIC_TIMER_INITIAL, 1000);
	h.now += counts_ns(400, 1);
	CHECK_EQ(rd(&h, LAPIC_TIMER_CURRENT), 600);
	unsigned changes = h.deadline_changes;
	wr(&h, LAPIC_TIMER_DIVIDE, 0x3);
	CHECK_EQ(h.deadline_changes, changes + 1);
	CHECK_EQ(rd(&h, LAPIC_TIMER_CURRENT), 600);
	CHECK_EQ(lapic_next_event_ns(&h.lapic, h.now), h.now + counts_ns(600, 16));
	/* A register read delivers what is due, without lapic_update(). */
	h.now += counts_ns(600, 16);
	changes = h.deadline_changes;
	CHECK(vec_set(&h, LAPIC_IRR, 0xee));
	CHECK_EQ(h.lapic.timer_irqs, 1);
	CHECK_EQ(h.output, 1);
	CHECK_EQ(h.deadline_changes, changes + 1);
	CHECK_EQ(lapic_next_event_ns(&h.lapic, h.now), UINT64_MAX);
}

static void test_timer_masked(void)
{
	struct harness h;
	setup(&h);
	enable(&h);

	wr(&h, LAPIC_TIMER_DIVIDE, 0xb);
	wr(&h, LAPIC_LVT_TIMER, LAPIC_LVT_MASKED | LAPIC_TIMER_PERIODIC | 0xef);
	wr(&h, LAPIC_TIMER_INITIAL, 100);
	uint64_t start = h.now, period = counts_ns(100, 1);
	CHECK_EQ(lapic_next_event_ns(&h.lapic, h.now), UINT64_MAX);
	/* It counts, but nothing is delivered nor counted lost. */
	h.now = start + 3 * period + period / 4;
	lapic_update(&h.lapic, h.now);
	CHECK_EQ(rd(&h, LAPIC_TIMER_CURRENT), 75);
	CHECK_EQ(h.lapic.timer_irqs, 0);
	CHECK_EQ(h.lapic.timer_lost_irqs, 0);
	CHECK(!vec_set(&h, LAPIC_IRR, 0xef));
	/* Unmasking moves the deadline onto the original grid. */
	unsigned changes = h.deadline_changes;
	wr(&h, LAPIC_LVT_TIMER, LAPIC_TIMER_PERIODIC | 0xef);
	CHECK_EQ(h.deadline_changes, changes + 1);
	CHECK_EQ(lapic_next_event_ns(&h.lapic, h.now), start + 4 * period);
	h.now = start + 4 * period;
	lapic_update(&h.lapic, h.now);
	CHECK_EQ(h.lapic.timer_irqs, 1);
	CHECK(vec_set(&h, LAPIC_IRR, 0xef));
	/* Masking again: no deadline to wait for. */
	wr(&h, LAPIC_LVT_TIMER, LAPIC_LVT_MASKED | LAPIC_TIMER_PERIODIC | 0xef);
	CHECK_EQ(lapic_next_event_ns(&h.lapic, h.now), UINT64_MAX);
}

static void test_self_ipi(void)
{
	struct harness h;
	setup(&h);
	enable(&h);

	/* Shorthand self. */
	wr(&h, LAPIC_ICR_LO, LAPIC_ICR_SELF | 0x55);
	CHECK(vec_set(&h, LAPIC_IRR, 0x55));
	CHECK_EQ(rd(&h, LAPIC_ICR_LO), LAPIC_ICR_SELF | 0x55);
	CHECK_EQ(lapic_acknowledge(&h.lapic), 0x55);
	/* All including self. */
	wr(&h, LAPIC_ICR_LO, LAPIC_ICR_ALL_INCL_SELF | 0x56);
	CHECK(vec_set(&h, LAPIC_IRR, 0x56));
	/* All excluding self: there is nobody else. */
	wr(&h, LAPIC_ICR_LO, LAPIC_ICR_ALL_BUT_SELF | 0x57);
	CHECK(!vec_set(&h, LAPIC_IRR, 0x57));
	/* Physical destination: this APIC's ID, another one, broadcast. */
	wr(&h, LAPIC_ICR_HI, 0);
	wr(&h, LAPIC_ICR_LO, 0x58);
	CHECK(vec_set(&h, LAPIC_IRR, 0x58));
	wr(&h, LAPIC_ICR_HI, 0x01000000);
	wr(&h, LAPIC_ICR_LO, 0x59);
	CHECK(!vec_set(&h, LAPIC_IRR, 0x59));
	wr(&h, LAPIC_ICR_HI, 0xff000000);
	wr(&h, LAPIC_ICR_LO, 0x5a);
	CHECK(vec_set(&h, LAPIC_IRR, 0x5a));
	/* Logical destination in the flat model. */
	wr(&h, LAPIC_LDR, 0x04000000);
	wr(&h, LAPIC_ICR_HI, 0x04000000);
	wr(&h, LAPIC_ICR_LO, LAPIC_DEST_LOGICAL | 0x5b);
	CHECK(vec_set(&h, LAPIC_IRR, 0x5b));
	wr(&h, LAPIC_ICR_HI, 0x03000000);
	wr(&h, LAPIC_ICR_LO, LAPIC_DEST_LOGICAL | 0x5c);
	CHECK(!vec_set(&h, LAPIC_IRR, 0x5c));
	/* Cluster model: cluster 2, member bit 1. */
	wr(&h, LAPIC_DFR, 0x0fffffff);
	wr(&h, LAPIC_LDR, 0x21000000);
	CHECK(lapic_matches_destination(&h.lapic, 0x21, true));
	CHECK(lapic_matches_destination(&h.lapic, 0x23, true));
	CHECK(lapic_matches_destination(&h.lapic, 0xf1, true));
	CHECK(!lapic_matches_destination(&h.lapic, 0x31, true));
	CHECK(!lapic_matches_destination(&h.lapic, 0x22, true));
	/* A level-trigger bit does not make an IPI level-triggered. */
	wr(&h, LAPIC_ICR_LO, LAPIC_ICR_SELF | LAPIC_LEVEL_TRIGGER | LAPIC_ICR_LEVEL_ASSERT | 0x5d);
	CHECK(vec_set(&h, LAPIC_IRR, 0x5d));
	CHECK(!vec_set(&h, LAPIC_TMR, 0x5d));
	/* NMI goes to the CPU, not IRR; INIT and start-up have nowhere to go. */
	wr(&h, LAPIC_ICR_LO, LAPIC_ICR_SELF | LAPIC_DM_NMI | 0x5e);
	CHECK_EQ(h.nmis, 1);
	wr(&h, LAPIC_ICR_LO, LAPIC_ICR_ALL_BUT_SELF | LAPIC_DM_INIT);
	wr(&h, LAPIC_ICR_LO, LAPIC_ICR_ALL_BUT_SELF | LAPIC_DM_STARTUP | 0x9f);
	CHECK(!vec_set(&h, LAPIC_IRR, 0x5e));
	CHECK(!vec_set(&h, LAPIC_IRR, 0x9f));
	/* Delivery status never reads as pending. */
	CHECK_EQ(rd(&h, LAPIC_ICR_LO) & LAPIC_DELIVERY_STATUS, 0);
	CHECK_EQ(esr(&h), 0);
	/* An illegal vector is an error, not an interrupt. */
	wr(&h, LAPIC_ICR_LO, LAPIC_ICR_SELF | 0x05);
	CHECK_EQ(rd(&h, LAPIC_IRR), 0);
	CHECK_EQ(esr(&h), LAPIC_ESR_SEND_ILLEGAL_VECTOR);
	CHECK_EQ(esr(&h), 0);
}

static void test_software_disable(void)
{
	struct harness h;
	setup(&h);
	enable(&h);

	wr(&h, LAPIC_LVT_TIMER, 0xe0);
	wr(&h, LAPIC_LVT_LINT0, LAPIC_DM_EXTINT);
	wr(&h, LAPIC_LVT_ERROR, 0xe1);
	wr(&h, LAPIC_TIMER_INITIAL, 1000);
	CHECK(lapic_next_event_ns(&h.lapic, h.now) != UINT64_MAX);
	lapic_set_irq(&h.lapic, 0x70, false);
	CHECK_EQ(h.output, 1);

	unsigned changes = h.deadline_changes;
	wr(&h, LAPIC_SVR, 0xff);
	CHECK_EQ(h.deadline_changes, changes + 1);
	for (uint32_t reg = LAPIC_LVT_TIMER; reg <= LAPIC_LVT_ERROR; reg += 0x10)
		CHECK(rd(&h, reg) & LAPIC_LVT_MASKED);
	CHECK_EQ(rd(&h, LAPIC_LVT_TIMER), 0x100e0);
	CHECK_EQ(lapic_next_event_ns(&h.lapic, h.now), UINT64_MAX);
	CHECK(!lapic_accepts_pic(&h.lapic));
	/* Pending requests are held but not offered. */
	CHECK(vec_set(&h, LAPIC_IRR, 0x70));
	CHECK(!lapic_has_interrupt(&h.lapic));
	CHECK_EQ(h.output, 0);
	CHECK_EQ(lapic_acknowledge(&h.lapic), 0xff);
	lapic_set_irq(&h.lapic, 0x71, false);
	CHECK(!vec_set(&h, LAPIC_IRR, 0x71));
	/* Unmasking does not take. */
	wr(&h, LAPIC_LVT_TIMER, 0xe2);
	CHECK_EQ(rd(&h, LAPIC_LVT_TIMER), 0x100e2);
	/* Re-enabled: still masked until software unmasks. */
	enable(&h);
	CHECK_EQ(h.output, 1);
	CHECK_EQ(rd(&h, LAPIC_LVT_TIMER), 0x100e2);
	wr(&h, LAPIC_LVT_TIMER, 0xe2);
	CHECK_EQ(rd(&h, LAPIC_LVT_TIMER), 0xe2);
	CHECK(lapic_next_event_ns(&h.lapic, h.now) != UINT64_MAX);
}

static void test_errors(void)
{
	struct harness h;
	setup(&h);
	enable(&h);
	wr(&h, LAPIC_LVT_ERROR, 0xfe);

	/* A reserved register: 0x40 and the absent LVT CMCI. */
	CHECK_EQ(rd(&h, 0x40), 0);
	CHECK(vec_set(&h, LAPIC_IRR, 0xfe));
	CHECK_EQ(lapic_acknowledge(&h.lapic), 0xfe);
	wr(&h, LAPIC_EOI, 0);
	wr(&h, 0x2f0, 0x10000);
	/* Already reported since the last ESR write: no second interrupt. */
	CHECK(!vec_set(&h, LAPIC_IRR, 0xfe));
	/* ESR reads what the last write latched. */
	CHECK_EQ(rd(&h, LAPIC_ESR), 0);
	CHECK_EQ(esr(&h), LAPIC_ESR_ILLEGAL_REGISTER);
	CHECK_EQ(rd(&h, LAPIC_ESR), LAPIC_ESR_ILLEGAL_REGISTER);
	CHECK_EQ(esr(&h), 0);
	/* Past the register space the page is just empty. */
	CHECK_EQ(rd(&h, 0x800), 0);
	CHECK_EQ(esr(&h), 0);

	/* An illegal vector from an LVT. */
	wr(&h, LAPIC_LVT_TIMER, 0x08);
	wr(&h, LAPIC_TIMER_INITIAL, 1);
	h.now += 1000;
	lapic_update(&h.lapic, h.now);
	CHECK_EQ(rd(&h, LAPIC_IRR), 0);
	CHECK(vec_set(&h, LAPIC_IRR, 0xfe));
	CHECK_EQ(esr(&h), LAPIC_ESR_RECV_ILLEGAL_VECTOR);
	/* An error LVT with an illegal vector ends after one round. */
	wr(&h, LAPIC_LVT_ERROR, 0x03);
	lapic_set_irq(&h.lapic, 0x02, false);
	CHECK_EQ(rd(&h, LAPIC_IRR), 0);
	CHECK_EQ(esr(&h), LAPIC_ESR_RECV_ILLEGAL_VECTOR);
}

static void test_extint(void)
{
	struct harness h;
	setup(&h);

	/* Power-up: LINT0 masked, so the 8259 is cut off. */
	CHECK(!lapic_accepts_pic(&h.lapic));
	lapic_virtual_wire(&h.lapic);
	CHECK(lapic_accepts_pic(&h.lapic));
	CHECK_EQ(rd(&h, LAPIC_SVR), 0x1ff);
	CHECK_EQ(rd(&h, LAPIC_LVT_LINT0), 0x700);
	CHECK_EQ(rd(&h, LAPIC_LVT_LINT1), 0x400);
	/* What Linux does once the I/O APIC carries the timer. */
	wr(&h, LAPIC_LVT_LINT0, LAPIC_LVT_MASKED | LAPIC_DM_EXTINT);
	CHECK(!lapic_accepts_pic(&h.lapic));
	wr(&h, LAPIC_LVT_LINT0, LAPIC_DM_FIXED | 0x30);
	CHECK(!lapic_accepts_pic(&h.lapic));
	wr(&h, LAPIC_LVT_LINT0, LAPIC_DM_EXTINT);
	CHECK(lapic_accepts_pic(&h.lapic));
	/* Software disable masks LINT0. */
	wr(&h, LAPIC_SVR, 0xff);
	CHECK(!lapic_accepts_pic(&h.lapic));
	/* Hardware disable hands INTR to the 8259. */
	CHECK_EQ(lapic_set_base_msr(&h.lapic, 0xfee00100), 0);
	CHECK(lapic_accepts_pic(&h.lapic));
}

static void test_base_msr(void)
{
	struct harness h;
	setup(&h);
	enable(&h);

	CHECK_EQ(lapic_get_base_msr(&h.lapic), 0xfee00900);
	CHECK_EQ(lapic_set_base_msr(&h.lapic, 0xfee00900), 0);
	/* Reserved bits, x2APIC, past 32 physical bits, relocation. */
	CHECK_EQ(lapic_set_base_msr(&h.lapic, 0xfee00901), -1);
	CHECK_EQ(lapic_set_base_msr(&h.lapic, 0xfee00b00), -1);
	CHECK_EQ(lapic_set_base_msr(&h.lapic, 0xfee00d00), -1);
	CHECK_EQ(lapic_set_base_msr(&h.lapic, 0x1fee00900ull), -1);
	CHECK_EQ(lapic_set_base_msr(&h.lapic, 0xfed00900), -1);
	CHECK_EQ(lapic_get_base_msr(&h.lapic), 0xfee00900);
	/* BSP is read-only. */
	CHECK_EQ(lapic_set_base_msr(&h.lapic, 0xfee00800), 0);
	CHECK_EQ(lapic_get_base_msr(&h.lapic), 0xfee00900);

	wr(&h, LAPIC_TPR, 0x20);
	wr(&h, LAPIC_LVT_TIMER, 0xe0 | LAPIC_TIMER_PERIODIC);
	wr(&h, LAPIC_TIMER_INITIAL, 1000);
	lapic_set_irq(&h.lapic, 0x80, false);
	CHECK_EQ(h.output, 1);
	unsigned changes = h.deadline_changes;

	/* Hardware disable: the page is gone, nothing is accepted, the
	 * timer stops. */
	CHECK_EQ(lapic_set_base_msr(&h.lapic, 0xfee00100), 0);
	CHECK_EQ(lapic_get_base_msr(&h.lapic), 0xfee00100);
	CHECK(!lapic_hw_enabled(&h.lapic));
	CHECK_EQ(h.output, 0);
	CHECK_EQ(h.deadline_changes, changes + 1);
	CHECK_EQ(lapic_next_event_ns(&h.lapic, h.now), UINT64_MAX);
	CHECK_EQ(rd(&h, LAPIC_VER), 0xffffffff);
	wr(&h, LAPIC_SVR, 0x1ff);
	lapic_set_irq(&h.lapic, 0x81, false);
	CHECK(!lapic_has_interrupt(&h.lapic));

	/* Enabled again, in the power-up state. */
	CHECK_EQ(lapic_set_base_msr(&h.lapic, 0xfee00800), 0);
	CHECK_EQ(lapic_get_base_msr(&h.lapic), 0xfee00900);
	CHECK_EQ(rd(&h, LAPIC_SVR), 0xff);
	CHECK_EQ(rd(&h, LAPIC_TPR), 0);
	CHECK_EQ(rd(&h, LAPIC_LVT_TIMER), 0x10000);
	CHECK_EQ(rd(&h, LAPIC_TIMER_INITIAL), 0);
	CHECK_EQ(rd(&h, LAPIC_IRR + 0x40), 0);
}

static void test_nmi(void)
{
	struct harness h;
	setup(&h);
	lapic_virtual_wire(&h.lapic);

	/* IPIs: this ID, another, the shorthands; the vector field ignored
	 * (no illegal-vector error). */
	wr(&h, LAPIC_ICR_HI, 0);
	wr(&h, LAPIC_ICR_LO, LAPIC_DM_NMI | 0x02);
	CHECK_EQ(h.nmis, 1);
	CHECK_EQ(esr(&h), 0);
	CHECK_EQ(rd(&h, LAPIC_IRR), 0);
	wr(&h, LAPIC_ICR_HI, 0x01000000);
	wr(&h, LAPIC_ICR_LO, LAPIC_DM_NMI);
	CHECK_EQ(h.nmis, 1);
	wr(&h, LAPIC_ICR_LO, LAPIC_ICR_ALL_INCL_SELF | LAPIC_DM_NMI);
	CHECK_EQ(h.nmis, 2);
	wr(&h, LAPIC_ICR_LO, LAPIC_ICR_ALL_BUT_SELF | LAPIC_DM_NMI);
	CHECK_EQ(h.nmis, 2);
	/* Software-disabled, an NMI IPI still arrives. */
	wr(&h, LAPIC_SVR, 0xff);
	wr(&h, LAPIC_ICR_LO, LAPIC_ICR_SELF | LAPIC_DM_NMI);
	CHECK_EQ(h.nmis, 3);
	lapic_virtual_wire(&h.lapic);

	/* LINT1 in NMI mode (virtual wire): rising edges only. */
	CHECK(lapic_nmi_routed(&h.lapic, 1));
	lapic_set_lint(&h.lapic, 1, true);
	CHECK_EQ(h.nmis, 4);
	lapic_set_lint(&h.lapic, 1, true);
	lapic_set_lint(&h.lapic, 1, false);
	CHECK_EQ(h.nmis, 4);
	/* Level-triggered in the LVT: still an edge. */
	wr(&h, LAPIC_LVT_LINT1, LAPIC_DM_NMI | LAPIC_LEVEL_TRIGGER);
	lapic_set_lint(&h.lapic, 1, true);
	lapic_set_lint(&h.lapic, 1, true);
	CHECK_EQ(h.nmis, 5);
	lapic_set_lint(&h.lapic, 1, false);
	/* Masked: the edge is lost, unmasking does not bring it back. */
	wr(&h, LAPIC_LVT_LINT1, LAPIC_DM_NMI | LAPIC_LVT_MASKED);
	CHECK(!lapic_nmi_routed(&h.lapic, 1));
	lapic_set_lint(&h.lapic, 1, true);
	wr(&h, LAPIC_LVT_LINT1, LAPIC_DM_NMI);
	CHECK_EQ(h.nmis, 5);
	lapic_set_lint(&h.lapic, 1, false);
	/* LINT0 (ExtINT) is no NMI until programmed so. */
	CHECK(!lapic_nmi_routed(&h.lapic, 0));
	lapic_set_lint(&h.lapic, 0, true);
	lapic_set_lint(&h.lapic, 0, false);
	CHECK_EQ(h.nmis, 5);
	wr(&h, LAPIC_LVT_LINT0, LAPIC_DM_NMI);
	CHECK(lapic_nmi_routed(&h.lapic, 0));
	CHECK(!lapic_accepts_pic(&h.lapic));
	lapic_set_lint(&h.lapic, 0, true);
	CHECK_EQ(h.nmis, 6);
	lapic_set_lint(&h.lapic, 0, false);
	/* LINT1 in fixed mode: its vector on a rising edge, no NMI. */
	wr(&h, LAPIC_LVT_LINT1, 0x61);
	CHECK(!lapic_nmi_routed(&h.lapic, 1));
	lapic_set_lint(&h.lapic, 1, true);
	lapic_set_lint(&h.lapic, 1, true);
	CHECK_EQ(h.nmis, 6);
	CHECK(lapic_vector_pending(&h.lapic, 0x61));
	CHECK_EQ(lapic_acknowledge(&h.lapic), 0x61);
	wr(&h, LAPIC_EOI, 0);
	CHECK(!lapic_vector_pending(&h.lapic, 0x61));
	lapic_set_lint(&h.lapic, 1, false);
	/* A restored level is no edge; the next edge comes after a fall. */
	wr(&h, LAPIC_LVT_LINT1, LAPIC_DM_NMI);
	lapic_restore_lint(&h.lapic, 1, true);
	lapic_set_lint(&h.lapic, 1, true);
	CHECK_EQ(h.nmis, 6);
	lapic_set_lint(&h.lapic, 1, false);

	/* I/O APIC messages: by destination. */
	CHECK(lapic_deliver_nmi_message(&h.lapic, 0, false));
	CHECK(!lapic_deliver_nmi_message(&h.lapic, 3, false));
	CHECK_EQ(h.nmis, 7);

	/* Hardware-disabled: LINT1 is the CPU's NMI pin itself, LINT0 is not,
	 * and messages are not taken. */
	CHECK_EQ(lapic_set_base_msr(&h.lapic, 0xfee00100), 0);
	CHECK(lapic_nmi_routed(&h.lapic, 1));
	CHECK(!lapic_nmi_routed(&h.lapic, 0));
	lapic_set_lint(&h.lapic, 1, true);
	lapic_set_lint(&h.lapic, 0, true);
	CHECK_EQ(h.nmis, 8);
	CHECK(!lapic_deliver_nmi_message(&h.lapic, 0, false));
	CHECK_EQ(h.nmis, 8);
	CHECK_EQ(h.lapic.nmis, 8);
}

/* Several CPUs: the board's ipi callback gets every IPI the ICR sends
 * (INIT and start-up too, which alone this APIC ignores), none with an
 * illegal vector; an APIC ID given by the board survives resets, INIT and
 * the MSR's disable, and an AP's MSR has no BSP bit. */
static struct {
	unsigned calls;
	uint32_t icr;
	uint8_t dest;
} ipis;

static void record_ipi(void *opaque, uint32_t icr_lo, uint8_t dest)
{
	(void)opaque;
	ipis.calls++;
	ipis.icr = icr_lo;
	ipis.dest = dest;
}

static void test_ipi_callback(void)
{
	struct harness h;
	setup(&h);
	enable(&h);
	memset(&ipis, 0, sizeof(ipis));
	h.lapic.ipi = record_ipi;
	wr(&h, LAPIC_ICR_HI, 2u << 24);
	wr(&h, LAPIC_ICR_LO, LAPIC_ICR_LEVEL_ASSERT | LAPIC_DM_INIT);
	CHECK_EQ(ipis.calls, 1);
	CHECK_EQ(ipis.icr & LAPIC_DM_MASK, LAPIC_DM_INIT);
	CHECK_EQ(ipis.dest, 2);
	wr(&h, LAPIC_ICR_LO, LAPIC_ICR_ALL_BUT_SELF | LAPIC_DM_STARTUP | 0x70);
	CHECK_EQ(ipis.calls, 2);
	CHECK_EQ(ipis.icr & (3u << LAPIC_ICR_SHORTHAND_SHIFT), LAPIC_ICR_ALL_BUT_SELF);
	CHECK_EQ(ipis.icr & LAPIC_VECTOR_MASK, 0x70);
	/* Delivery is the board's, at once: the status bit reads idle. */
	CHECK_EQ(rd(&h, LAPIC_ICR_LO) & LAPIC_DELIVERY_STATUS, 0);
	/* A fixed IPI with vector 15 never leaves: ESR's send error. */
	wr(&h, LAPIC_ICR_LO, LAPIC_ICR_SELF | 15);
	CHECK_EQ(ipis.calls, 2);
	CHECK_EQ(esr(&h), LAPIC_ESR_SEND_ILLEGAL_VECTOR);
	/* A fixed IPI to self goes to the board too, not into IRR here. */
	wr(&h, LAPIC_ICR_LO, LAPIC_ICR_SELF | 0x40);
	CHECK_EQ(ipis.calls, 3);
	CHECK(!vec_set(&h, LAPIC_IRR, 0x40));

	lapic_set_apic_id(&h.lapic, 3);
	CHECK_EQ(rd(&h, LAPIC_ID), 3u << 24);
	CHECK_EQ(lapic_get_base_msr(&h.lapic) & LAPIC_BASE_BSP, 0);
	wr(&h, LAPIC_TPR, 0x20);
	lapic_init_signal(&h.lapic);
	CHECK_EQ(rd(&h, LAPIC_ID), 3u << 24);
	CHECK_EQ(rd(&h, LAPIC_TPR), 0);
	CHECK_EQ(rd(&h, LAPIC_SVR), 0xff);   /* software-disabled */
	CHECK(lapic_hw_enabled(&h.lapic));
	CHECK_EQ(lapic_set_base_msr(&h.lapic, LAPIC_DEFAULT_BASE), 0);
	CHECK_EQ(lapic_set_base_msr(&h.lapic, LAPIC_DEFAULT_BASE | LAPIC_BASE_ENABLE), 0);
	CHECK_EQ(rd(&h, LAPIC_ID), 3u << 24);
}

int main(void)
{
	test_reset_state();
	test_register_masks();
	test_priority();
	test_nested_eoi();
	test_spurious();
	test_level_eoi_broadcast();
	test_timer_oneshot();
	test_timer_periodic();
	test_timer_holdoff_backlog();
	test_timer_divide_change();
	test_timer_masked();
	test_self_ipi();
	test_software_disable();
	test_errors();
	test_extint();
	test_base_msr();
	test_nmi();
	test_ipi_callback();
	return check_report("test_lapic");
}
