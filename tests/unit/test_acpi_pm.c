/* The ACPI fixed hardware driven through a real bus with a fake clock: PM
 * timer rate, 24-bit wrap and exactness over long uptimes, the access
 * widths an OS uses, PM1 status write-1-to-clear, the enable register,
 * SCI_EN stuck at 1, soft off and other sleep types, the power button
 * and the timer overflow SCI with its deadline. */
#include "check.h"
#include "device_probe.h"
#include "devices/acpi_pm.h"
#include "devices/bus.h"

#define NS_PER_SEC 1000000000ull
#define STS ACPI_PM1A_EVT_PORT
#define EN (ACPI_PM1A_EVT_PORT + 2)
#define CNT ACPI_PM1A_CNT_PORT
#define TMR ACPI_PM_TMR_PORT

struct harness {
	struct device_probe p;   /* first: the device's opaque is the harness */
	struct bus bus;
	struct acpi_pm pm;
	unsigned power_offs, sleeps;
	unsigned last_sleep_typ;
};

static void record_power_off(void *opaque)
{
	struct harness *h = opaque;
	h->power_offs++;
}

static void record_sleep(void *opaque, unsigned typ)
{
	struct harness *h = opaque;
	h->sleeps++;
	h->last_sleep_typ = typ;
}

static void setup_at(struct harness *h, uint64_t now)
{
	memset(h, 0, sizeof(*h));
	h->p.line = ACPI_PM_SCI_IRQ;
	struct irq_line sci = { .set_level = probe_irq, .opaque = h, .line = ACPI_PM_SCI_IRQ };
	bus_init(&h->bus);
	h->p.now = now;
	acpi_pm_init(&h->pm, &sci, probe_clock, h);
	h->pm.power_off = record_power_off;
	h->pm.sleep_request = record_sleep;
	h->pm.deadline_changed = probe_deadline;
	CHECK_EQ(acpi_pm_attach(&h->pm, &h->bus, ACPI_PM_BASE_PORT), 0);
}

static void setup(struct harness *h)
{
	setup_at(h, 0);
}

static uint32_t in(struct harness *h, uint16_t port, unsigned width)
{
	return (uint32_t)bus_read(&h->bus, BUS_SPACE_PIO, port, width);
}

static void out(struct harness *h, uint16_t port, unsigned width, uint32_t value)
{
	bus_write(&h->bus, BUS_SPACE_PIO, port, width, value);
}

/* The exact tick count at ns, computed the slow way. */
static uint64_t ticks_at(uint64_t ns)
{
	return (uint64_t)((unsigned __int128)ns * ACPI_PM_TIMER_HZ / NS_PER_SEC);
}

/* The first nanosecond of tick k. */
static uint64_t ns_at(uint64_t k)
{
	return (uint64_t)(((unsigned __int128)k * NS_PER_SEC + ACPI_PM_TIMER_HZ - 1) /
			  ACPI_PM_TIMER_HZ);
}

static void test_timer_rate(void)
{
	struct harness h;
	setup(&h);

	CHECK_EQ(in(&h, TMR, 4), 0);
	h.p.now = NS_PER_SEC;
	CHECK_EQ(in(&h, TMR, 4), 3579545);
	h.p.now = 5 * NS_PER_SEC;
	CHECK_EQ(in(&h, TMR, 4), (5ull * 3579545) % (1u << 24));
	/* One tick is about 279.4 ns: tick k starts exactly at ns_at(k). */
	h.p.now = ns_at(1000) - 1;
	CHECK_EQ(in(&h, TMR, 4), 999);
	h.p.now = ns_at(1000);
	CHECK_EQ(in(&h, TMR, 4), 1000);
	/* 24-bit wrap, and bits 24-31 read 0. */
	h.p.now = ns_at(1u << 24) - 1;
	CHECK_EQ(in(&h, TMR, 4), 0xffffff);
	h.p.now = ns_at(1u << 24);
	CHECK_EQ(in(&h, TMR, 4), 0);
	h.p.now = ns_at((1u << 24) + 5);
	CHECK_EQ(in(&h, TMR, 4), 5);
	/* Exact after 1000 days and at the end of 64-bit nanoseconds. */
	uint64_t long_uptimes[] = { 1000ull * 86400 * NS_PER_SEC, 123456789123456789ull,
				    UINT64_MAX - 12345, UINT64_MAX };
	for (unsigned i = 0; i < sizeof(long_uptimes) / sizeof(long_uptimes[0]); i++) {
		h.p.now = long_uptimes[i];
		CHECK_EQ(in(&h, TMR, 4), ticks_at(h.p.now) & 0xffffff);
		CHECK_EQ(acpi_pm_timer_value(h.p.now), ticks_at(h.p.now) & 0xffffff);
	}
}

/* Read after read with time moving forward by uneven steps, the counter
 * never goes back (modulo the wrap) and never drifts from the exact
 * count. */
static void test_timer_monotonic(void)
{
	struct harness h;
	setup(&h);
	uint32_t prev = in(&h, TMR, 4);
	uint64_t seen = 0;

	for (unsigned i = 0; i < 100000; i++) {
		h.p.now += 1 + (i * 7919u) % 100003u;
		uint32_t v = in(&h, TMR, 4);
		seen += (v - prev) & 0xffffff;
		prev = v;
	}
	CHECK_EQ(seen, ticks_at(h.p.now));
}

static void test_widths(void)
{
	struct harness h;
	setup(&h);

	h.p.now = ns_at(0x123456);
	CHECK_EQ(in(&h, TMR, 4), 0x123456);
	CHECK_EQ(in(&h, TMR, 2), 0x3456);
	CHECK_EQ(in(&h, TMR, 1), 0x56);
	CHECK_EQ(in(&h, TMR + 2, 1), 0x12);
	CHECK_EQ(in(&h, TMR + 3, 1), 0);
	/* The timer is read-only. */
	out(&h, TMR, 4, 0);
	CHECK_EQ(in(&h, TMR, 4), 0x123456);

	/* Status and enable together in one 32-bit access, then apart. */
	out(&h, EN, 2, ACPI_PM1_PWRBTN);
	acpi_pm_power_button(&h.pm);
	CHECK_EQ(in(&h, STS, 4), ACPI_PM1_PWRBTN | (uint32_t)ACPI_PM1_PWRBTN << 16);
	CHECK_EQ(in(&h, STS, 2), ACPI_PM1_PWRBTN);
	CHECK_EQ(in(&h, EN, 2), ACPI_PM1_PWRBTN);
	CHECK_EQ(in(&h, STS + 1, 1), ACPI_PM1_PWRBTN >> 8);
	out(&h, STS, 4, (uint32_t)ACPI_PM1_TMR << 16);	/* clear nothing, enable TMR only */
	CHECK_EQ(in(&h, EN, 2), ACPI_PM1_TMR);
	CHECK_EQ(in(&h, STS, 2), ACPI_PM1_PWRBTN);
	/* A byte write to the high byte of enable leaves the low byte. */
	out(&h, EN + 1, 1, ACPI_PM1_PWRBTN >> 8);
	CHECK_EQ(in(&h, EN, 2), ACPI_PM1_TMR | ACPI_PM1_PWRBTN);

	/* Control reads as 16 bits; the reserved bytes after it float. */
	CHECK_EQ(in(&h, CNT, 2), ACPI_PM1_CNT_SCI_EN);
	CHECK_EQ(in(&h, CNT + 2, 2), 0xffff);
	CHECK_EQ(in(&h, CNT, 4), 0xffff0000u | ACPI_PM1_CNT_SCI_EN);
}

static void test_enable_register(void)
{
	struct harness h;
	setup(&h);

	CHECK_EQ(in(&h, EN, 2), 0);
	out(&h, EN, 2, 0xffff);
	CHECK_EQ(in(&h, EN, 2), ACPI_PM1_TMR | ACPI_PM1_GBL | ACPI_PM1_PWRBTN | ACPI_PM1_SLPBTN |
				      ACPI_PM1_RTC | ACPI_PM1_PCIEXP_WAKE);
	out(&h, EN, 2, 0);
	CHECK_EQ(in(&h, EN, 2), 0);
}

static void test_status_w1c(void)
{
	struct harness h;
	setup(&h);

	CHECK_EQ(in(&h, STS, 2), 0);
	/* Bit 23 of the counter first toggles at tick 2^23. */
	h.p.now = ns_at(1u << 23) - 1;
	CHECK_EQ(in(&h, STS, 2), 0);
	h.p.now = ns_at(1u << 23);
	CHECK_EQ(in(&h, STS, 2), ACPI_PM1_TMR);
	acpi_pm_power_button(&h.pm);
	CHECK_EQ(in(&h, STS, 2), ACPI_PM1_TMR | ACPI_PM1_PWRBTN);
	/* Writing 0s changes nothing; each 1 clears its own bit only. */
	out(&h, STS, 2, 0);
	CHECK_EQ(in(&h, STS, 2), ACPI_PM1_TMR | ACPI_PM1_PWRBTN);
	out(&h, STS, 2, ACPI_PM1_TMR);
	CHECK_EQ(in(&h, STS, 2), ACPI_PM1_PWRBTN);
	/* The next toggle is at 2^24, not before. */
	h.p.now = ns_at(1u << 24) - 1;
	CHECK_EQ(in(&h, STS, 2), ACPI_PM1_PWRBTN);
	h.p.now = ns_at(1u << 24);
	CHECK_EQ(in(&h, STS, 2), ACPI_PM1_TMR | ACPI_PM1_PWRBTN);
	out(&h, STS, 2, 0xffff);
	CHECK_EQ(in(&h, STS, 2), 0);
	/* Nobody enabled anything: no SCI throughout. */
	CHECK_EQ(h.p.rises, 0);
	CHECK_EQ(h.p.level, 0);
}

static void test_sci_en_and_soft_off(void)
{
	struct harness h;
	setup(&h);

	CHECK_EQ(in(&h, CNT, 2) & ACPI_PM1_CNT_SCI_EN, ACPI_PM1_CNT_SCI_EN);
	out(&h, CNT, 2, 0);
	CHECK_EQ(in(&h, CNT, 2), ACPI_PM1_CNT_SCI_EN);

	/* As ACPICA does it: SLP_TYP first, then SLP_TYP with SLP_EN. */
	uint16_t typ = ACPI_PM_SLP_TYP_S5 << ACPI_PM1_CNT_SLP_TYP_SHIFT;
	out(&h, CNT, 2, ACPI_PM1_CNT_SCI_EN | typ);
	CHECK_EQ(h.power_offs, 0);
	CHECK_EQ(in(&h, CNT, 2), ACPI_PM1_CNT_SCI_EN | typ);
	out(&h, CNT, 2, ACPI_PM1_CNT_SCI_EN | typ | ACPI_PM1_CNT_SLP_EN);
	CHECK_EQ(h.power_offs, 1);
	CHECK_EQ(h.sleeps, 0);
	/* SLP_EN is write-only; the machine is off, so a retry does nothing. */
	CHECK_EQ(in(&h, CNT, 2), ACPI_PM1_CNT_SCI_EN | typ);
	out(&h, CNT, 2, ACPI_PM1_CNT_SCI_EN | typ | ACPI_PM1_CNT_SLP_EN);
	CHECK_EQ(h.power_offs, 1);
	CHECK_EQ(in(&h, STS, 2) & ACPI_PM1_WAK_STS, 0);

	/* A byte write of the high byte alone does it too. */
	setup(&h);
	out(&h, CNT + 1, 1, (typ | ACPI_PM1_CNT_SLP_EN) >> 8);
	CHECK_EQ(h.power_offs, 1);
}

static void test_other_sleep_types(void)
{
	struct harness h;
	setup(&h);

	for (unsigned typ = 0; typ < 8; typ++) {
		if (typ == ACPI_PM_SLP_TYP_S5)
			continue;
		out(&h, STS, 2, ACPI_PM1_WAK_STS);
		CHECK_EQ(in(&h, STS, 2), 0);
		out(&h, CNT, 2, typ << ACPI_PM1_CNT_SLP_TYP_SHIFT | ACPI_PM1_CNT_SLP_EN);
		CHECK_EQ(h.last_sleep_typ, typ);
		CHECK_EQ(in(&h, STS, 2), ACPI_PM1_WAK_STS);
	}
	CHECK_EQ(h.sleeps, 7);
	CHECK_EQ(h.power_offs, 0);
	/* WAK_STS raises no SCI. */
	CHECK_EQ(h.p.rises, 0);

	/* Without a power_off callback S5 is a sleep like the others. */
	setup(&h);
	h.pm.power_off = NULL;
	out(&h, CNT, 2, ACPI_PM_SLP_TYP_S5 << ACPI_PM1_CNT_SLP_TYP_SHIFT | ACPI_PM1_CNT_SLP_EN);
	CHECK_EQ(h.sleeps, 1);
	CHECK_EQ(h.last_sleep_typ, ACPI_PM_SLP_TYP_S5);
	CHECK_EQ(in(&h, STS, 2), ACPI_PM1_WAK_STS);
	/* Nor does a missing sleep_request hang anything. */
	h.pm.sleep_request = NULL;
	out(&h, STS, 2, ACPI_PM1_WAK_STS);
	out(&h, CNT, 2, 1u << ACPI_PM1_CNT_SLP_TYP_SHIFT | ACPI_PM1_CNT_SLP_EN);
	CHECK_EQ(in(&h, STS, 2), ACPI_PM1_WAK_STS);
}

static void test_power_button(void)
{
	struct harness h;
	setup(&h);

	acpi_pm_power_button(&h.pm);
	CHECK_EQ(h.p.rises, 0);
	/* Enabling a pending status raises the SCI at once. */
	out(&h, EN, 2, ACPI_PM1_PWRBTN);
	CHECK_EQ(h.p.rises, 1);
	CHECK_EQ(h.p.level, 1);
	out(&h, STS, 2, ACPI_PM1_PWRBTN);
	CHECK_EQ(h.p.level, 0);
	acpi_pm_power_button(&h.pm);
	CHECK_EQ(h.p.rises, 2);
	CHECK_EQ(h.p.level, 1);
	out(&h, EN, 2, 0);
	CHECK_EQ(h.p.level, 0);
	CHECK_EQ(h.pm.scis, 2);
	CHECK_EQ(h.p.bad_line, 0);
}

static void test_timer_overflow_sci(void)
{
	struct harness h;
	uint64_t start = 3 * NS_PER_SEC;	/* tick 10738635, past the first toggle */
	setup_at(&h, start);

	uint64_t first = ((ticks_at(start) >> 23) + 1) << 23;
	CHECK_EQ(acpi_pm_next_event_ns(&h.pm, h.p.now), UINT64_MAX);
	out(&h, EN, 2, ACPI_PM1_TMR);
	CHECK_EQ(h.p.deadline_changes, 1);
	CHECK_EQ(acpi_pm_next_event_ns(&h.pm, h.p.now), ns_at(first));
	/* Writing the same enable again moves nothing. */
	out(&h, EN, 2, ACPI_PM1_TMR);
	CHECK_EQ(h.p.deadline_changes, 1);

	acpi_pm_update(&h.pm, ns_at(first) - 1);
	CHECK_EQ(h.p.level, 0);
	h.p.now = ns_at(first);
	CHECK_EQ(acpi_pm_next_event_ns(&h.pm, h.p.now), h.p.now);
	acpi_pm_update(&h.pm, h.p.now);
	CHECK_EQ(h.p.level, 1);
	CHECK_EQ(h.p.rises, 1);
	CHECK_EQ(acpi_pm_next_event_ns(&h.pm, h.p.now), UINT64_MAX);

	/* The handler clears TMR_STS a little later; the next overflow is
	 * 2^23 ticks after the last one. */
	h.p.now += 5000;
	out(&h, STS, 2, ACPI_PM1_TMR);
	CHECK_EQ(h.p.level, 0);
	CHECK_EQ(h.p.deadline_changes, 2);
	CHECK_EQ(acpi_pm_next_event_ns(&h.pm, h.p.now), ns_at(first + (1u << 23)));

	/* Disabling TMR_EN drops the deadline. */
	out(&h, EN, 2, 0);
	CHECK_EQ(h.p.deadline_changes, 3);
	CHECK_EQ(acpi_pm_next_event_ns(&h.pm, h.p.now), UINT64_MAX);
	/* A status read alone latches an overdue overflow. */
	h.p.now = ns_at(first + (1u << 23));
	CHECK_EQ(in(&h, STS, 2), ACPI_PM1_TMR);
	CHECK_EQ(h.p.level, 0);
	CHECK_EQ(h.p.bad_line, 0);
}

int main(void)
{
	test_timer_rate();
	test_timer_monotonic();
	test_widths();
	test_enable_register();
	test_status_w1c();
	test_sci_en_and_soft_off();
	test_other_sleep_types();
	test_power_button();
	test_timer_overflow_sci();
	return check_report("test_acpi_pm");
}
